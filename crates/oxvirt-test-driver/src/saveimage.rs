//! The test driver's save image: libvirt's layout, so images are
//! interchangeable with libvirt's test driver: the magic
//! "TestGuestMagic\0", the XML length as a native 32-bit integer, then the
//! domain XML.

use std::io::{Read, Write};

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};

use crate::state::FROM;

const MAGIC: &[u8; 15] = b"TestGuestMagic\0";
/// libvirt refuses metadata longer than this.
const MAX_XML: usize = 8192;

fn sys(detail: String, e: &std::io::Error) -> Error {
    Error::system(FROM, detail, e)
}

/// saferead into all of `buf`: a short file is reported with errno 0
/// ("Success"), as libvirt reports it.
fn read_all(f: &mut std::fs::File, buf: &mut [u8], detail: impl FnOnce() -> String) -> Result<()> {
    f.read_exact(buf).map_err(|e| {
        let e = if e.kind() == std::io::ErrorKind::UnexpectedEof {
            std::io::Error::from_raw_os_error(0)
        } else {
            e
        };
        sys(detail(), &e)
    })
}

/// Writes a save image; removes a partial file on failure.
pub(crate) fn write(path: &str, name: &str, xml: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)
        .map_err(|e| {
            sys(
                format!("saving domain '{}' to '{}': open failed", name, path),
                &e,
            )
        })?;
    let len = xml.len() as i32;
    let res = f
        .write_all(MAGIC)
        .and_then(|_| f.write_all(&len.to_ne_bytes()))
        .and_then(|_| f.write_all(xml.as_bytes()))
        .and_then(|_| f.sync_all());
    if let Err(e) = res {
        let _ = std::fs::remove_file(path);
        return Err(sys(
            format!("saving domain '{}' to '{}': write failed", name, path),
            &e,
        ));
    }
    Ok(())
}

/// Reads the definition stored in a save image.
pub(crate) fn read(path: &str) -> Result<String> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| sys(format!("cannot read domain image '{}'", path), &e))?;
    let mut magic = [0u8; 15];
    read_all(&mut f, &mut magic, || {
        format!("incomplete save header in '{}'", path)
    })?;
    if &magic != MAGIC {
        return Err(Error::new(
            code::INTERNAL_ERROR,
            FROM,
            "mismatched header magic",
        ));
    }
    let mut lenb = [0u8; 4];
    read_all(&mut f, &mut lenb, || {
        format!("failed to read metadata length in '{}'", path)
    })?;
    let len = i32::from_ne_bytes(lenb);
    if len < 1 || len as usize > MAX_XML {
        return Err(Error::new(
            code::INTERNAL_ERROR,
            FROM,
            "length of metadata out of range",
        ));
    }
    let mut xml = vec![0u8; len as usize];
    read_all(&mut f, &mut xml, || {
        format!("incomplete metadata in '{}'", path)
    })?;
    String::from_utf8(xml).map_err(|_| {
        Error::new(
            code::INTERNAL_ERROR,
            FROM,
            "length of metadata out of range",
        )
    })
}

/// A core dump of the fake hypervisor holds the magic only.
pub(crate) fn write_core_header(path: &str, name: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)
        .map_err(|e| {
            sys(
                format!("domain '{}' coredump: failed to open {}", name, path),
                &e,
            )
        })?;
    f.write_all(MAGIC).map_err(|e| {
        sys(
            format!(
                "domain '{}' coredump: failed to write header to {}",
                name, path
            ),
            &e,
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_rejects_garbage() {
        let dir = std::env::temp_dir().join(format!("oxvirt-save-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.save");
        let p = p.to_str().unwrap();
        super::write(p, "a", "<domain/>").unwrap();
        assert_eq!(super::read(p).unwrap(), "<domain/>");
        std::fs::write(p, b"not an image at all").unwrap();
        assert_eq!(
            super::read(p).unwrap_err().message,
            "internal error: mismatched header magic"
        );
        let e = super::read("/nonexistent/x").unwrap_err();
        assert_eq!(
            e.message,
            "cannot read domain image '/nonexistent/x': No such file or directory"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
