//! libvirt's QEMU save image layout: a 92-byte header (magic, version,
//! XML length, was-running flag, compression, cookie offset, reserved
//! words), the domain XML (NUL-terminated, zero padded), then QEMU's
//! migration stream. The magic says "partial" until the stream is
//! complete.

use std::io::{Read, Seek, SeekFrom, Write};

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};

use crate::FROM;

pub const MAGIC: &[u8; 16] = b"LibvirtQemudSave";
pub const PARTIAL: &[u8; 16] = b"LibvirtQemudPart";
pub const VERSION: u32 = 2;
pub const HEADER_LEN: usize = 16 + 4 * 5 + 4 * 14;
/// libvirt refuses images whose XML claims more than this.
const MAX_XML: u32 = 10 * 1024 * 1024;

/// What a save image header records.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub xml: String,
    pub was_running: bool,
}

fn u32le(b: &[u8], i: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[i..i + 4]);
    u32::from_ne_bytes(w)
}

/// Writes the header (with the partial magic) and the XML; returns the
/// offset at which the migration stream starts.
pub fn write_header(f: &mut std::fs::File, xml: &str, was_running: bool) -> std::io::Result<u64> {
    let xml_len = xml.len() + 1;
    // Pad so that the stream starts on a page boundary and the XML can
    // grow a little (save-image-define).
    let total = (HEADER_LEN + xml_len + 1024).div_ceil(4096) * 4096;
    let data_len = (total - HEADER_LEN) as u32;
    let mut h = Vec::with_capacity(total);
    h.extend_from_slice(PARTIAL);
    for v in [VERSION, data_len, was_running as u32, 0, 0] {
        h.extend_from_slice(&v.to_ne_bytes());
    }
    h.resize(HEADER_LEN, 0);
    h.extend_from_slice(xml.as_bytes());
    h.resize(total, 0);
    f.write_all(&h)?;
    Ok(total as u64)
}

/// Replaces the partial magic once the stream is complete. The stream is
/// on disk before the magic says so.
pub fn mark_complete(f: &mut std::fs::File) -> std::io::Result<()> {
    f.sync_data()?;
    f.seek(SeekFrom::Start(0))?;
    f.write_all(MAGIC)?;
    f.sync_all()
}

/// Whether the image at `path` carries the complete magic.
pub fn is_complete(path: &std::path::Path) -> bool {
    let mut m = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut m))
        .is_ok()
        && &m == MAGIC
}

/// Reads the header of an image; the file is left at the stream.
pub fn read(f: &mut std::fs::File, path: &str) -> Result<Header> {
    let mut h = [0u8; HEADER_LEN];
    f.read_exact(&mut h)
        .map_err(|e| Error::system(FROM, "failed to read qemu header", &e))?;
    if &h[..16] != MAGIC {
        if &h[..16] == PARTIAL {
            return Err(Error::new(
                code::OPERATION_FAILED,
                FROM,
                "save image is incomplete",
            ));
        }
        return Err(Error::new(
            code::OPERATION_FAILED,
            FROM,
            "image magic is incorrect",
        ));
    }
    let version = u32le(&h, 16);
    if version > VERSION {
        return Err(Error::new(
            code::OPERATION_FAILED,
            FROM,
            format!("image version is not supported ({} > {})", version, VERSION),
        ));
    }
    let data_len = u32le(&h, 20);
    if data_len == 0 || data_len > MAX_XML {
        return Err(Error::new(
            code::OPERATION_FAILED,
            FROM,
            "invalid XML length",
        ));
    }
    let was_running = u32le(&h, 24) != 0;
    if u32le(&h, 28) != 0 {
        return Err(Error::new(
            code::OPERATION_FAILED,
            FROM,
            "compressed save images are not supported",
        ));
    }
    let mut data = vec![0u8; data_len as usize];
    f.read_exact(&mut data).map_err(|e| {
        Error::system(
            FROM,
            format!("failed to read domain XML from '{}'", path),
            &e,
        )
    })?;
    let end = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let xml = String::from_utf8(data[..end].to_vec())
        .map_err(|_| Error::new(code::OPERATION_FAILED, FROM, "invalid XML in save image"))?;
    Ok(Header { xml, was_running })
}

/// Replaces the XML (and the was-running flag) of a complete image in
/// place, within the room its header reserved (virQEMUSaveDataWrite on an
/// existing image).
pub fn rewrite_xml(f: &mut std::fs::File, path: &str, xml: &str, was_running: bool) -> Result<()> {
    let mut h = [0u8; HEADER_LEN];
    f.seek(SeekFrom::Start(0))
        .and_then(|_| f.read_exact(&mut h))
        .map_err(|e| Error::system(FROM, "failed to read qemu header", &e))?;
    let data_len = u32le(&h, 20) as usize;
    let xml_len = xml.len() + 1;
    if xml_len > data_len {
        return Err(Error::new(
            code::OPERATION_FAILED,
            FROM,
            "new xml too large to fit in file",
        ));
    }
    h[24..28].copy_from_slice(&(was_running as u32).to_ne_bytes());
    let mut out = Vec::with_capacity(HEADER_LEN + data_len);
    out.extend_from_slice(&h);
    out.extend_from_slice(xml.as_bytes());
    out.resize(HEADER_LEN + data_len, 0);
    f.seek(SeekFrom::Start(0))
        .map_err(|e| Error::system(FROM, format!("cannot seek in '{}'", path), &e))?;
    f.write_all(&out).and_then(|_| f.sync_all()).map_err(|e| {
        Error::system(
            FROM,
            format!("failed to write header to domain save file '{}'", path),
            &e,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let dir = std::env::temp_dir().join(format!("oxvirt-qsave-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.save");
        let mut f = std::fs::File::create(&p).unwrap();
        let off = write_header(&mut f, "<domain/>", true).unwrap();
        assert_eq!(off % 4096, 0);
        f.write_all(b"STREAM").unwrap();
        let ps = p.to_str().unwrap();
        let mut r = std::fs::File::open(&p).unwrap();
        assert_eq!(
            read(&mut r, ps).unwrap_err().message,
            "operation failed: save image is incomplete"
        );
        mark_complete(&mut f).unwrap();
        let mut r = std::fs::File::open(&p).unwrap();
        let h = read(&mut r, ps).unwrap();
        assert_eq!(
            h,
            Header {
                xml: "<domain/>".into(),
                was_running: true
            }
        );
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"STREAM");
        std::fs::write(&p, b"garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage").unwrap();
        let mut r = std::fs::File::open(&p).unwrap();
        assert_eq!(
            read(&mut r, ps).unwrap_err().message,
            "operation failed: image magic is incorrect"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
