//! Volume wiping (storageBackendVolWipeLocalFile): zero is done here
//! (a sparse file is truncated and re-extended, so it stays sparse; any
//! other file is overwritten with zeros), the pattern algorithms run
//! `scrub -f -p ALG` as libvirt does, and trim is refused as libvirt
//! refuses it.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;

use oxvirt_core::error::code;
use oxvirt_core::types::wipe_alg;
use oxvirt_core::{Error, Result};
use oxvirt_host::Command;

use crate::objects::FROM;

/// libvirt's names for the algorithms scrub runs.
pub fn algorithm_name(alg: u32) -> Option<&'static str> {
    Some(match alg {
        wipe_alg::ZERO => "zero",
        wipe_alg::NNSA => "nnsa",
        wipe_alg::DOD => "dod",
        wipe_alg::BSI => "bsi",
        wipe_alg::GUTMANN => "gutmann",
        wipe_alg::SCHNEIER => "schneier",
        wipe_alg::PFITZNER7 => "pfitzner7",
        wipe_alg::PFITZNER33 => "pfitzner33",
        wipe_alg::RANDOM => "random",
        _ => return None,
    })
}

fn sys(msg: String, e: &std::io::Error) -> Error {
    Error::system(FROM, msg, e)
}

/// Wipes the file or device at `path`: `len` bytes from the start (or,
/// with `zero_end`, the last `len` bytes) for zero.
pub fn wipe_file(path: &str, algorithm: u32, len: u64, zero_end: bool) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| {
            sys(
                format!("Failed to open storage volume with path '{}'", path),
                &e,
            )
        })?;
    let md = f.metadata().map_err(|e| {
        sys(
            format!("Failed to stat storage volume with path '{}'", path),
            &e,
        )
    })?;
    if algorithm == wipe_alg::TRIM {
        return Err(Error::new(
            code::ARGUMENT_UNSUPPORTED,
            FROM,
            "'trim' algorithm not supported",
        ));
    }
    let Some(name) = algorithm_name(algorithm) else {
        return Err(Error::invalid_arg(
            FROM,
            format!("unsupported algorithm {}", algorithm),
        ));
    };
    if algorithm != wipe_alg::ZERO {
        drop(f);
        let mut cmd = Command::new(crate::tool("scrub"), FROM);
        cmd.args(["-f", "-p", name, path]);
        cmd.run()?;
        return Ok(());
    }
    if md.is_file() && md.blocks() < md.len() / 512 {
        f.set_len(0).map_err(|e| {
            sys(
                format!("Failed to truncate volume with path '{}' to 0 bytes", path),
                &e,
            )
        })?;
        f.set_len(md.len()).map_err(|e| {
            sys(
                format!(
                    "Failed to truncate volume with path '{}' to {} bytes",
                    path,
                    md.len()
                ),
                &e,
            )
        })?;
        return Ok(());
    }
    wipe_zero(&mut f, path, len, md.blksize().max(512) as usize, zero_end)
}

/// storageBackendWipeLocal: writes zeros.
pub fn wipe_zero(f: &mut File, path: &str, len: u64, blksize: usize, zero_end: bool) -> Result<()> {
    if zero_end {
        f.seek(SeekFrom::End(-(len as i64))).map_err(|e| {
            sys(
                format!(
                    "Failed to seek to {} bytes to the end in volume with path '{}'",
                    len, path
                ),
                &e,
            )
        })?;
    } else {
        f.seek(SeekFrom::Start(0)).map_err(|e| {
            sys(
                format!("Failed to seek to the start in volume with path '{}'", path),
                &e,
            )
        })?;
    }
    // Whole megabytes at a time (a multiple of the block size).
    let chunk = (1 << 20) / blksize.max(1) * blksize.max(1);
    let buf = vec![0u8; chunk.max(blksize)];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n]).map_err(|e| {
            sys(
                format!(
                    "Failed to write {} bytes to storage volume with path '{}'",
                    n, path
                ),
                &e,
            )
        })?;
        left -= n as u64;
    }
    f.sync_data().map_err(|e| {
        sys(
            format!("cannot sync data to volume with path '{}'", path),
            &e,
        )
    })?;
    Ok(())
}
