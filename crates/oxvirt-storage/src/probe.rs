//! Image headers read directly (libvirt's `storage_file_probe.c`): the
//! format of a file from its magic, its virtual size, cluster size,
//! backing file and backing format, qcow2 features and encryption.
//!
//! Everything here works on at most [`MAX_HEADER`] bytes already read,
//! never allocates by a size the header claims, and never panics: a
//! header that lies gives what libvirt gives for it (the fields it could
//! read), not a crash. [`chain`] walks a backing chain with libvirt's
//! depth limit, so a chain that loops ends in libvirt's error.

use std::io::Read;
use std::path::Path;

use oxvirt_core::error::from;
use oxvirt_core::{Error, Result};

/// How much of a file libvirt reads to probe it (VIR_STORAGE_MAX_HEADER).
pub const MAX_HEADER: usize = 0x8200;

/// `virStorageFileFormat`, in libvirt's order (index = enum value).
pub const FORMATS: &[&str] = oxvirt_xml::storage::FILE_FORMATS;

pub const NONE: usize = 0;
pub const RAW: usize = 1;
pub const DIR: usize = 2;
pub const ISO: usize = 6;
pub const PLOOP: usize = 11;
pub const COW: usize = 12;
pub const QCOW: usize = 13;
pub const QCOW2: usize = 14;
pub const QED: usize = 15;
pub const VMDK: usize = 16;

/// The index of a format name.
pub fn format_index(name: &str) -> Option<usize> {
    FORMATS.iter().position(|f| *f == name)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

struct TypeInfo {
    magic_offset: usize,
    magic: Option<&'static [u8]>,
    endian: Endian,
    /// None: the version test fails; Some(None): it always passes.
    version: Option<Option<(usize, usize, &'static [u32])>>,
    /// (offset, multiplier) of the virtual size.
    size: Option<(usize, u64)>,
}

const fn ti(
    magic_offset: usize,
    magic: Option<&'static [u8]>,
    endian: Endian,
    version: Option<Option<(usize, usize, &'static [u32])>>,
    size: Option<(usize, u64)>,
) -> TypeInfo {
    TypeInfo {
        magic_offset,
        magic,
        endian,
        version,
        size,
    }
}

use Endian::{Big, Little};

const QCOWX_HDR_VERSION: usize = 4;
const QCOWX_HDR_BACKING_FILE_OFFSET: usize = QCOWX_HDR_VERSION + 4;
const QCOWX_HDR_BACKING_FILE_SIZE: usize = QCOWX_HDR_BACKING_FILE_OFFSET + 8;
const QCOWX_HDR_CLUSTER_BITS_OFFSET: usize = QCOWX_HDR_BACKING_FILE_SIZE + 4;
const QCOWX_HDR_IMAGE_SIZE: usize = QCOWX_HDR_CLUSTER_BITS_OFFSET + 4;
const QCOW1_HDR_CRYPT: usize = QCOWX_HDR_IMAGE_SIZE + 8 + 1 + 1 + 2;
const QCOW2_HDR_CRYPT: usize = QCOWX_HDR_IMAGE_SIZE + 8;
const QCOW2_HDR_TOTAL_SIZE: usize = QCOW2_HDR_CRYPT + 4 + 4 + 8 + 8 + 4 + 4 + 8;
const QCOW2_HDR_EXTENSION_END: u32 = 0;
const QCOW2_HDR_EXTENSION_BACKING_FORMAT: u32 = 0xE279_2ACA;
const QCOW2V3_HDR_FEATURES_INCOMPATIBLE: usize = QCOW2_HDR_TOTAL_SIZE;
const QCOW2V3_HDR_FEATURES_COMPATIBLE: usize = QCOW2V3_HDR_FEATURES_INCOMPATIBLE + 8;
const QCOW2V3_HDR_SIZE: usize = QCOW2_HDR_TOTAL_SIZE + 8 + 8 + 8 + 4;
const QED_HDR_FEATURES_OFFSET: usize = 4 + 4 + 4 + 4;
const QED_HDR_IMAGE_SIZE: usize = QED_HDR_FEATURES_OFFSET + 8 + 8 + 8 + 8;
const QED_HDR_BACKING_FILE_OFFSET: usize = QED_HDR_IMAGE_SIZE + 8;
const QED_HDR_BACKING_FILE_SIZE: usize = QED_HDR_BACKING_FILE_OFFSET + 4;
const QED_F_BACKING_FILE: u64 = 0x01;
const QED_F_BACKING_FORMAT_NO_PROBE: u64 = 0x04;
const LUKS_MAGIC: &[u8] = b"LUKS\xba\xbe";
const LUKS_HDR_PAYLOAD_OFFSET: usize = 6 + 2 + 32 + 32 + 32;

/// libvirt's fileTypeInfo, by format index.
static TYPES: [TypeInfo; 17] = [
    ti(0, None, Little, None, None), // none
    ti(0, None, Little, None, None), // raw
    ti(0, None, Little, None, None), // dir
    ti(
        0,
        None,
        Little,
        Some(Some((64, 4, &[0x20000]))),
        Some((84, 1)),
    ), // bochs
    ti(0, None, Little, None, None), // cloop
    ti(0, None, Little, None, None), // dmg
    ti(32769, Some(b"CD001"), Little, Some(None), None), // iso
    ti(
        0,
        Some(b"conectix"),
        Big,
        Some(Some((12, 4, &[0x10000]))),
        Some((40, 1)),
    ), // vpc
    ti(
        64,
        Some(b"\x7f\x10\xda\xbe"),
        Little,
        Some(Some((68, 4, &[0x0001_0001]))),
        Some((368, 1)),
    ), // vdi
    ti(0, None, Little, None, None), // fat
    ti(0, None, Little, None, None), // vhd
    ti(
        0,
        Some(b"WithouFreSpacExt"),
        Little,
        Some(None),
        Some((36, 512)),
    ), // ploop
    ti(
        0,
        Some(b"OOOM"),
        Big,
        Some(Some((4, 4, &[2]))),
        Some((1036, 1)),
    ), // cow
    ti(
        0,
        Some(b"QFI"),
        Big,
        Some(Some((4, 4, &[1]))),
        Some((QCOWX_HDR_IMAGE_SIZE, 1)),
    ), // qcow
    ti(
        0,
        Some(b"QFI"),
        Big,
        Some(Some((4, 4, &[2, 3]))),
        Some((QCOWX_HDR_IMAGE_SIZE, 1)),
    ), // qcow2
    ti(
        0,
        Some(b"QED"),
        Little,
        Some(None),
        Some((QED_HDR_IMAGE_SIZE, 1)),
    ), // qed
    ti(
        0,
        Some(b"KDMV"),
        Little,
        Some(Some((4, 4, &[1, 2, 3]))),
        Some((12, 512)),
    ), // vmdk
];

fn be32(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off.checked_add(4)?)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn le32(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off.checked_add(4)?)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn be16(b: &[u8], off: usize) -> Option<u16> {
    b.get(off..off.checked_add(2)?)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
}

fn le16(b: &[u8], off: usize) -> Option<u16> {
    b.get(off..off.checked_add(2)?)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn be64(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_be_bytes(a))
}

fn le64(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

fn matches_magic(t: &TypeInfo, buf: &[u8]) -> bool {
    let Some(m) = t.magic else {
        return false;
    };
    buf.get(t.magic_offset..t.magic_offset + m.len()) == Some(m)
}

fn matches_version(
    version: Option<Option<(usize, usize, &[u32])>>,
    endian: Endian,
    buf: &[u8],
) -> bool {
    match version {
        None => false,
        Some(None) => true,
        Some(Some((off, size, wanted))) => {
            let v = match (endian, size) {
                (Little, 4) => le32(buf, off),
                (Big, 4) => be32(buf, off),
                (Little, 2) => le16(buf, off).map(u32::from),
                (Big, 2) => be16(buf, off).map(u32::from),
                _ => None,
            };
            v.is_some_and(|v| wanted.contains(&v))
        }
    }
}

/// The format a header says (virStorageFileProbeFormatFromBuf): raw when
/// no magic matches.
pub fn probe_format(buf: &[u8]) -> usize {
    for (i, t) in TYPES.iter().enumerate() {
        if matches_magic(t, buf) && matches_version(t.version, t.endian, buf) {
            return i;
        }
    }
    RAW
}

/// Where the format of a backing file comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackingFormat {
    /// Not recorded in the image: probe it.
    Auto,
    /// Probing is safe (QED without the no-probe flag).
    AutoSafe,
    /// Recorded (a format index).
    Known(usize),
}

/// Encryption found in a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbedEncryption {
    /// "qcow" or "luks".
    pub format: &'static str,
    /// Start of the payload in 512-byte sectors (LUKS on raw).
    pub payload_offset: Option<u32>,
}

/// What a header says about an image (virStorageSource metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub format: usize,
    /// Virtual size; 0 when the header has none.
    pub capacity: u64,
    pub cluster_size: u64,
    pub backing: Option<String>,
    pub backing_format: BackingFormat,
    pub features: Option<Vec<&'static str>>,
    pub compat: Option<String>,
    pub encryption: Option<ProbedEncryption>,
}

enum BackingResult {
    Ok(Option<String>, BackingFormat),
    Invalid(Option<String>),
}

fn qcow2_backing_format_ext(buf: &[u8]) -> std::result::Result<Option<usize>, ()> {
    let version = be32(buf, QCOWX_HDR_VERSION).unwrap_or(0);
    if version < 2 {
        return Ok(None);
    }
    let start = if version == 2 {
        QCOW2_HDR_TOTAL_SIZE as u64
    } else {
        be32(buf, QCOW2V3_HDR_SIZE).ok_or(())? as u64
    };
    let end = be64(buf, QCOWX_HDR_BACKING_FILE_OFFSET).ok_or(())?;
    if end > buf.len() as u64 {
        return Err(());
    }
    let mut off = start;
    let len = buf.len() as u64;
    let mut found = None;
    while off < len.saturating_sub(8) && off < end.saturating_sub(8) {
        let o = off as usize;
        let magic = be32(buf, o).ok_or(())?;
        let l = be32(buf, o + 4).ok_or(())? as u64;
        off += 8;
        if off + l > len {
            break;
        }
        match magic {
            QCOW2_HDR_EXTENSION_BACKING_FORMAT => {
                let name = &buf[off as usize..(off + l) as usize];
                let name = String::from_utf8_lossy(name);
                let name = name.split('\0').next().unwrap_or("");
                match format_index(name).filter(|i| *i > NONE) {
                    Some(i) => found = Some(i),
                    None => return Err(()),
                }
            }
            QCOW2_HDR_EXTENSION_END => return Ok(found),
            _ => {}
        }
        off += l;
    }
    Ok(found)
}

fn qcowx_backing(buf: &[u8]) -> BackingResult {
    if buf.len() < QCOWX_HDR_BACKING_FILE_OFFSET + 8 + 4 {
        return BackingResult::Invalid(None);
    }
    let off = be64(buf, QCOWX_HDR_BACKING_FILE_OFFSET).unwrap_or(0);
    if off > buf.len() as u64 {
        return BackingResult::Invalid(None);
    }
    if off == 0 {
        return BackingResult::Ok(None, BackingFormat::Known(NONE));
    }
    let size = be32(buf, QCOWX_HDR_BACKING_FILE_SIZE).unwrap_or(0) as u64;
    if size == 0 {
        return BackingResult::Ok(None, BackingFormat::Known(NONE));
    }
    if size > 1023 || off + size > buf.len() as u64 {
        return BackingResult::Invalid(None);
    }
    let raw = &buf[off as usize..(off + size) as usize];
    let name = c_string(raw);
    match qcow2_backing_format_ext(buf) {
        Ok(Some(f)) => BackingResult::Ok(Some(name), BackingFormat::Known(f)),
        Ok(None) => BackingResult::Ok(Some(name), BackingFormat::Auto),
        Err(()) => BackingResult::Invalid(Some(name)),
    }
}

/// Bytes up to the first NUL, as text.
fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn cow_backing(buf: &[u8]) -> BackingResult {
    const MAXLEN: usize = 1024;
    if buf.len() < 8 + MAXLEN {
        return BackingResult::Invalid(None);
    }
    if buf[8] == 0 {
        return BackingResult::Ok(None, BackingFormat::Known(NONE));
    }
    BackingResult::Ok(Some(c_string(&buf[8..8 + MAXLEN])), BackingFormat::Auto)
}

fn qed_backing(buf: &[u8]) -> BackingResult {
    let Some(flags) = le64(buf, QED_HDR_FEATURES_OFFSET) else {
        return BackingResult::Invalid(None);
    };
    if flags & QED_F_BACKING_FILE == 0 {
        return BackingResult::Ok(None, BackingFormat::Known(NONE));
    }
    if buf.len() < QED_HDR_BACKING_FILE_OFFSET + 8 {
        return BackingResult::Invalid(None);
    }
    let off = le32(buf, QED_HDR_BACKING_FILE_OFFSET).unwrap_or(0) as u64;
    if off > buf.len() as u64 {
        return BackingResult::Invalid(None);
    }
    let size = le32(buf, QED_HDR_BACKING_FILE_SIZE).unwrap_or(0) as u64;
    if size == 0 {
        return BackingResult::Ok(None, BackingFormat::Auto);
    }
    if off + size > buf.len() as u64 {
        return BackingResult::Invalid(None);
    }
    let name = c_string(&buf[off as usize..(off + size) as usize]);
    let fmt = if flags & QED_F_BACKING_FORMAT_NO_PROBE != 0 {
        BackingFormat::Known(RAW)
    } else {
        BackingFormat::AutoSafe
    };
    BackingResult::Ok(Some(name), fmt)
}

fn vmdk_backing(buf: &[u8]) -> BackingResult {
    const PREFIX: &[u8] = b"parentFileNameHint=\"";
    if buf.len() <= 0x200 {
        return BackingResult::Invalid(None);
    }
    let mut desc = &buf[0x200..];
    if desc.len() > MAX_HEADER {
        desc = &desc[..MAX_HEADER];
    }
    // The descriptor is a C string: it ends at the first NUL.
    let desc = &desc[..desc.iter().position(|c| *c == 0).unwrap_or(desc.len())];
    let Some(i) = desc.windows(PREFIX.len()).position(|w| w == PREFIX) else {
        return BackingResult::Ok(None, BackingFormat::Known(NONE));
    };
    let rest = &desc[i + PREFIX.len()..];
    let Some(end) = rest.iter().position(|c| *c == b'"') else {
        return BackingResult::Invalid(None);
    };
    if end == 0 {
        return BackingResult::Ok(None, BackingFormat::Known(NONE));
    }
    BackingResult::Ok(
        Some(String::from_utf8_lossy(&rest[..end]).into_owned()),
        BackingFormat::Auto,
    )
}

fn qcow2_features(buf: &[u8]) -> Option<Option<Vec<&'static str>>> {
    let version = be32(buf, QCOWX_HDR_VERSION)?;
    if version == 2 {
        return Some(None);
    }
    if buf.len() < QCOW2V3_HDR_SIZE {
        return None;
    }
    let mut f = Vec::new();
    let compat = be64(buf, QCOW2V3_HDR_FEATURES_COMPATIBLE)?;
    let incompat = be64(buf, QCOW2V3_HDR_FEATURES_INCOMPATIBLE)?;
    if compat & 1 != 0 {
        f.push("lazy_refcounts");
    }
    if incompat & (1 << 4) != 0 {
        f.push("extended_l2");
    }
    Some(Some(f))
}

fn encryption(format: usize, buf: &[u8]) -> Option<ProbedEncryption> {
    match format {
        RAW => {
            if buf.get(..LUKS_MAGIC.len()) == Some(LUKS_MAGIC) && be16(buf, 6) == Some(1) {
                return Some(ProbedEncryption {
                    format: "luks",
                    payload_offset: be32(buf, LUKS_HDR_PAYLOAD_OFFSET),
                });
            }
            None
        }
        QCOW => (be32(buf, QCOW1_HDR_CRYPT) == Some(1)).then_some(ProbedEncryption {
            format: "qcow",
            payload_offset: None,
        }),
        QCOW2 => match be32(buf, QCOW2_HDR_CRYPT) {
            Some(1) => Some(ProbedEncryption {
                format: "qcow",
                payload_offset: None,
            }),
            Some(2) => Some(ProbedEncryption {
                format: "luks",
                payload_offset: None,
            }),
            _ => None,
        },
        _ => None,
    }
}

/// What `buf` (the start of an image of `format`, or of a probed format
/// when None) says (virStorageFileProbeGetMetadata).
pub fn metadata(buf: &[u8], format: Option<usize>) -> Meta {
    let format = format.unwrap_or_else(|| probe_format(buf));
    let mut m = Meta {
        format,
        capacity: 0,
        cluster_size: 0,
        backing: None,
        backing_format: BackingFormat::Known(NONE),
        features: None,
        compat: None,
        encryption: encryption(format, buf),
    };
    let Some(t) = TYPES.get(format) else {
        return m;
    };
    if t.magic.is_none() {
        return m;
    }
    if let Some((off, mult)) = t.size {
        let v = match t.endian {
            Little => le64(buf, off),
            Big => be64(buf, off),
        };
        let Some(v) = v else {
            return m;
        };
        m.capacity = v;
        match v.checked_mul(mult) {
            Some(c) => m.capacity = c,
            None => return m,
        }
    }
    if format == QCOW2 {
        m.cluster_size = match be32(buf, QCOWX_HDR_CLUSTER_BITS_OFFSET) {
            Some(bits) if bits > 0 && bits < 64 => 1u64 << bits,
            _ => 0,
        };
    }
    let backing = match format {
        COW => Some(cow_backing(buf)),
        QCOW | QCOW2 => Some(qcowx_backing(buf)),
        QED => Some(qed_backing(buf)),
        VMDK => Some(vmdk_backing(buf)),
        _ => None,
    };
    match backing {
        Some(BackingResult::Invalid(name)) => {
            m.backing = name;
            m.backing_format = BackingFormat::Auto;
            return m;
        }
        Some(BackingResult::Ok(name, fmt)) => {
            m.backing = name;
            m.backing_format = fmt;
        }
        None => {}
    }
    if format == QCOW2 {
        match qcow2_features(buf) {
            Some(f) => m.features = f,
            None => return m,
        }
        if m.features.is_some() {
            m.compat = Some("1.1".into());
        }
    }
    m
}

/// Reads up to [`MAX_HEADER`] bytes from the start of `r`.
pub fn read_header(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(MAX_HEADER);
    r.take(MAX_HEADER as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// How much of an image's start a short read must hold for [`metadata`]
/// to give what the whole [`MAX_HEADER`] would: None when the format
/// needs the whole header (raw files are checked for an ISO signature at
/// 32 KiB, vmdk has a text descriptor).
fn enough(buf: &[u8]) -> Option<usize> {
    let fmt = probe_format(buf);
    match fmt {
        QCOW | QCOW2 => {
            let off = be64(buf, QCOWX_HDR_BACKING_FILE_OFFSET)?;
            let size = be32(buf, QCOWX_HDR_BACKING_FILE_SIZE)? as u64;
            let need = if off == 0 || size == 0 {
                QCOW2V3_HDR_SIZE as u64 + 4
            } else {
                off.checked_add(size)?
            };
            (need <= buf.len() as u64).then_some(buf.len())
        }
        QED => {
            let off = le32(buf, QED_HDR_BACKING_FILE_OFFSET)? as u64;
            let size = le32(buf, QED_HDR_BACKING_FILE_SIZE)? as u64;
            (off + size <= buf.len() as u64).then_some(buf.len())
        }
        COW | 3 | 7 | 8 | PLOOP => Some(buf.len()),
        _ => None,
    }
}

/// Reads an image's start with positioned reads: 4 KiB, which holds
/// what every qcow2/qed/vpc/vdi header says, and the whole
/// [`MAX_HEADER`] only when the format needs it.
pub fn read_header_at(f: &std::fs::File) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    let n = read_full_at(f, &mut buf, 0)?;
    buf.truncate(n);
    if n < 4096 || enough(&buf).is_some() {
        return Ok(buf);
    }
    buf.resize(MAX_HEADER, 0);
    let m = read_full_at(f, &mut buf[n..], n as u64)?;
    buf.truncate(n + m);
    Ok(buf)
}

fn read_full_at(f: &std::fs::File, buf: &mut [u8], mut off: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut got = 0;
    while got < buf.len() {
        match f.read_at(&mut buf[got..], off) {
            Ok(0) => break,
            Ok(k) => {
                got += k;
                off += k as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// True when a backing name is a local file (not `proto:...`).
pub fn backing_is_file(name: &str) -> bool {
    match (name.find(':'), name.find('/')) {
        (Some(c), Some(s)) => c > s,
        (Some(_), None) => false,
        _ => true,
    }
}

/// The path a backing name means, relative to the image `parent`
/// (virStorageSourceNewFromBackingRelative).
pub fn backing_path(parent: &str, name: &str) -> String {
    if name.starts_with('/') || !backing_is_file(name) {
        return name.to_string();
    }
    let dir = Path::new(parent)
        .parent()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into());
    let dir = if dir.is_empty() { ".".to_string() } else { dir };
    if dir == "/" {
        format!("/{}", name)
    } else {
        format!("{}/{}", dir, name)
    }
}

/// Probes the format of the file at `path` (virStorageFileProbeFormat).
pub fn probe_file_format(path: &str) -> Result<usize> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::system(from::STORAGE, format!("Failed to open file '{}'", path), &e))?;
    let md = f
        .metadata()
        .map_err(|e| Error::system(from::STORAGE, format!("cannot stat file '{}'", path), &e))?;
    if md.is_dir() {
        return Ok(DIR);
    }
    let buf = read_header(&mut f)
        .map_err(|e| Error::system(from::STORAGE, format!("cannot read header '{}'", path), &e))?;
    Ok(probe_format(&buf))
}

/// One image of a backing chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub path: String,
    pub format: usize,
    pub meta: Meta,
}

/// libvirt's limit on backing chain depth.
pub const MAX_CHAIN_DEPTH: usize = 200;

/// Walks the backing chain of `path` (format `format`; None probes the
/// top image only, as libvirt's AUTO does) up to `max_depth` layers
/// (virStorageSourceGetMetadataRecurse): a chain that loops or is
/// deeper fails with "backing store for X is self-referential or too
/// deeply nested"; a backing file whose format the image does not record
/// fails with libvirt's "format of backing image ... was not specified"
/// unless `allow_probe`.
pub fn chain(
    path: &str,
    format: Option<usize>,
    max_depth: usize,
    allow_probe: bool,
) -> Result<Vec<Layer>> {
    let mut out = Vec::new();
    let mut cur = path.to_string();
    let mut fmt = format;
    let mut probed_top = format.is_none();
    let mut depth = 1;
    loop {
        if depth > max_depth {
            return Err(Error::internal(
                from::STORAGE,
                format!(
                    "backing store for {} is self-referential or too deeply nested",
                    cur
                ),
            ));
        }
        let mut f = std::fs::File::open(&cur).map_err(|e| {
            let parent = out.last().map(|l: &Layer| l.path.clone());
            match parent {
                Some(p) => Error::system(
                    from::STORAGE,
                    format!(
                        "Cannot access backing file '{}' of storage file '{}'",
                        cur, p
                    ),
                    &e,
                ),
                None => Error::system(
                    from::STORAGE,
                    format!("Cannot access storage file '{}'", cur),
                    &e,
                ),
            }
        })?;
        if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            out.push(Layer {
                path: cur.clone(),
                format: DIR,
                meta: metadata(&[], Some(DIR)),
            });
            return Ok(out);
        }
        let buf = read_header(&mut f).map_err(|e| {
            Error::system(from::STORAGE, format!("cannot read header '{}'", cur), &e)
        })?;
        let meta = metadata(&buf, fmt);
        let format = meta.format;
        let backing = meta.backing.clone();
        let bfmt = meta.backing_format;
        let probed = probed_top;
        out.push(Layer {
            path: cur.clone(),
            format,
            meta,
        });
        // A probed image is never followed further (libvirt's rule).
        let Some(b) = backing.filter(|_| !probed) else {
            return Ok(out);
        };
        if !backing_is_file(&b) {
            return Ok(out);
        }
        let next = backing_path(&cur, &b);
        fmt = match bfmt {
            BackingFormat::Known(f) if f > NONE => Some(f),
            _ if allow_probe => None,
            _ => {
                return Err(Error::operation_invalid(
                    from::STORAGE,
                    format!(
                        "format of backing image '{}' of image '{}' was not specified in the image metadata (See https://libvirt.org/kbase/backing_chains.html for troubleshooting)",
                        b, cur
                    ),
                ))
            }
        };
        probed_top = fmt.is_none();
        cur = next;
        depth += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qcow2_header(version: u32, size: u64, backing: Option<(&str, Option<&str>)>) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[0..4].copy_from_slice(b"QFI\xfb");
        b[4..8].copy_from_slice(&version.to_be_bytes());
        b[20..24].copy_from_slice(&16u32.to_be_bytes());
        b[24..32].copy_from_slice(&size.to_be_bytes());
        let hdr_len = if version == 3 { 112u32 } else { 72 };
        if version == 3 {
            b[100..104].copy_from_slice(&hdr_len.to_be_bytes());
            // lazy refcounts
            b[80..88].copy_from_slice(&1u64.to_be_bytes());
        }
        if let Some((name, fmt)) = backing {
            let mut off = hdr_len as usize;
            if let Some(f) = fmt {
                b[off..off + 4].copy_from_slice(&QCOW2_HDR_EXTENSION_BACKING_FORMAT.to_be_bytes());
                b[off + 4..off + 8].copy_from_slice(&(f.len() as u32).to_be_bytes());
                b[off + 8..off + 8 + f.len()].copy_from_slice(f.as_bytes());
                off += 8 + f.len().div_ceil(8) * 8;
            }
            off += 8; // end extension
            b[8..16].copy_from_slice(&(off as u64).to_be_bytes());
            b[16..20].copy_from_slice(&(name.len() as u32).to_be_bytes());
            b[off..off + name.len()].copy_from_slice(name.as_bytes());
        }
        b
    }

    #[test]
    fn qcow2_headers() {
        let m = metadata(&qcow2_header(2, 1 << 30, None), None);
        assert_eq!(m.format, QCOW2);
        assert_eq!(m.capacity, 1 << 30);
        assert_eq!(m.cluster_size, 65536);
        assert_eq!(m.backing, None);
        assert_eq!(m.features, None);
        let m = metadata(&qcow2_header(3, 5, Some(("base.img", Some("raw")))), None);
        assert_eq!(m.backing.as_deref(), Some("base.img"));
        assert_eq!(m.backing_format, BackingFormat::Known(RAW));
        assert_eq!(m.features, Some(vec!["lazy_refcounts"]));
        assert_eq!(m.compat.as_deref(), Some("1.1"));
        let m = metadata(&qcow2_header(2, 5, Some(("/b", None))), None);
        assert_eq!(m.backing_format, BackingFormat::Auto);
        // A backing format the image names but libvirt does not know.
        let m = metadata(&qcow2_header(2, 5, Some(("/b", Some("nope")))), None);
        assert_eq!(m.backing.as_deref(), Some("/b"));
        assert_eq!(m.backing_format, BackingFormat::Auto);
    }

    #[test]
    fn lying_headers_never_panic() {
        let mut h = qcow2_header(2, u64::MAX, None);
        h[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        h[16..20].copy_from_slice(&u32::MAX.to_be_bytes());
        h[20..24].copy_from_slice(&200u32.to_be_bytes());
        let m = metadata(&h, None);
        assert_eq!(m.capacity, u64::MAX);
        assert_eq!(m.cluster_size, 0);
        assert_eq!(m.backing, None);
        for n in 0..h.len().min(600) {
            let _ = metadata(&h[..n], None);
            let _ = metadata(&h[..n], Some(VMDK));
            let _ = metadata(&h[..n], Some(QED));
            let _ = metadata(&h[..n], Some(COW));
        }
        let mut vmdk = vec![0u8; 0x400];
        vmdk[0..4].copy_from_slice(b"KDMV");
        vmdk[4..8].copy_from_slice(&1u32.to_le_bytes());
        vmdk[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
        let d = b"parentFileNameHint=\"base.vmdk\"";
        vmdk[0x200..0x200 + d.len()].copy_from_slice(d);
        let m = metadata(&vmdk, None);
        assert_eq!(m.format, VMDK);
        // Size times 512 overflows: libvirt keeps the raw number and stops.
        assert_eq!(m.capacity, u64::MAX);
        assert_eq!(m.backing, None);
    }

    #[test]
    fn raw_luks_and_magics() {
        let mut l = vec![0u8; 1024];
        l[..6].copy_from_slice(LUKS_MAGIC);
        l[6..8].copy_from_slice(&1u16.to_be_bytes());
        l[LUKS_HDR_PAYLOAD_OFFSET..LUKS_HDR_PAYLOAD_OFFSET + 4]
            .copy_from_slice(&4096u32.to_be_bytes());
        let m = metadata(&l, None);
        assert_eq!(m.format, RAW);
        assert_eq!(
            m.encryption,
            Some(ProbedEncryption {
                format: "luks",
                payload_offset: Some(4096)
            })
        );
        assert_eq!(probe_format(b"conectix\0\0\0\0\0\x01\0\0"), 7);
        assert_eq!(probe_format(b"QFI\xfb\0\0\0\x01"), QCOW);
        assert_eq!(probe_format(b"QFI\xfb\0\0\0\x09"), RAW);
        assert_eq!(probe_format(&[]), RAW);
    }

    #[test]
    fn short_reads_see_what_whole_headers_say() {
        let dir = std::env::temp_dir().join(format!("oxvirt-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut far = qcow2_header(3, 1 << 20, Some(("b", Some("raw"))));
        // A backing name far past the first 4 KiB.
        far.resize(12000, 0);
        far[8..16].copy_from_slice(&10000u64.to_be_bytes());
        far[10000] = b'z';
        let mut iso = vec![0u8; 40000];
        iso[32769..32774].copy_from_slice(b"CD001");
        let mut vmdk = vec![0u8; 9000];
        vmdk[0..4].copy_from_slice(b"KDMV");
        vmdk[4..8].copy_from_slice(&1u32.to_le_bytes());
        let d = b"parentFileNameHint=\"p.vmdk\"";
        vmdk[5000..5000 + d.len()].copy_from_slice(d);
        for (i, img) in [
            qcow2_header(2, 5, None),
            qcow2_header(3, 5, Some(("base.img", Some("qcow2")))),
            far,
            iso,
            vmdk,
            vec![7u8; 100],
        ]
        .into_iter()
        .enumerate()
        {
            let p = dir.join(format!("i{}", i));
            std::fs::write(&p, &img).unwrap();
            let f = std::fs::File::open(&p).unwrap();
            let short = read_header_at(&f).unwrap();
            let whole = read_header(&mut std::fs::File::open(&p).unwrap()).unwrap();
            assert_eq!(
                metadata(&short, None),
                metadata(&whole, None),
                "image {}",
                i
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn backing_paths_resolve_like_libvirt() {
        assert_eq!(backing_path("/a/b/top.qcow2", "base.img"), "/a/b/base.img");
        assert_eq!(backing_path("/top.qcow2", "base.img"), "/base.img");
        assert_eq!(backing_path("/a/top.qcow2", "/abs/x"), "/abs/x");
        assert_eq!(backing_path("/a/top.qcow2", "nbd:host:1"), "nbd:host:1");
        assert!(backing_is_file("./a:b"));
        assert!(!backing_is_file("rbd:pool/img"));
    }
}
