//! Empty qcow2 images written directly, byte for byte what
//! `qemu-img create -f qcow2` (QEMU 7.2) writes for the options libvirt
//! passes in the common case: 64 KiB clusters, no encryption, no
//! preallocation, compat 0.10 or 1.1, lazy refcounts, a backing file with
//! its format. Creating a volume then costs a write instead of a
//! qemu-img process; every other case still goes to qemu-img.
//!
//! Layout: the header (and its extensions, then the backing file name)
//! in cluster 0, the refcount table in cluster 1, one refcount block in
//! cluster 2, the L1 table from cluster 3 (`ceil(size / 512 MiB)`
//! entries). All of it is written, as qemu-img writes it (so the file's
//! allocation is the same too). `tests` compare the bytes with qemu-img's.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

const CLUSTER_BITS: u32 = 16;
const CLUSTER: u64 = 1 << CLUSTER_BITS;
/// Bytes one L1 entry maps with 64 KiB clusters (an L2 table of 8192
/// entries of 64 KiB).
const L1_SPAN: u64 = CLUSTER * (CLUSTER / 8);
/// qemu's QCOW_MAX_L1_SIZE.
const MAX_L1_BYTES: u64 = 32 << 20;
const EXT_BACKING_FORMAT: u32 = 0xE279_2ACA;
const EXT_FEATURE_TABLE: u32 = 0x6803_F857;

/// What the image records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Virtual size in bytes (a multiple of 512).
    pub size: u64,
    /// qcow2 version 3 (compat 1.1) rather than 2 (compat 0.10).
    pub v3: bool,
    pub lazy_refcounts: bool,
    /// Backing file name as written in the image, and its format.
    pub backing: Option<(String, String)>,
}

/// The feature name table qemu 7.2 writes into version 3 images.
const FEATURES: &[(u8, u8, &str)] = &[
    (0, 0, "dirty bit"),
    (0, 1, "corrupt bit"),
    (0, 2, "external data file"),
    (0, 3, "compression type"),
    (0, 4, "extended L2 entries"),
    (1, 0, "lazy refcounts"),
    (2, 0, "bitmaps"),
    (2, 1, "raw external data"),
];

/// Whether these parameters can be written here (else qemu-img).
pub fn supported(p: &Params) -> bool {
    p.size.is_multiple_of(512)
        && p.size.div_ceil(L1_SPAN) * 8 <= MAX_L1_BYTES
        && (!p.lazy_refcounts || p.v3)
        && p.backing
            .as_ref()
            .is_none_or(|(n, f)| !n.is_empty() && n.len() <= 1023 && !f.is_empty() && f.len() < 64)
}

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_be_bytes());
}

/// The whole image, as bytes.
pub fn image(p: &Params) -> Vec<u8> {
    let l1_entries = p.size.div_ceil(L1_SPAN);
    let l1_bytes = l1_entries * 8;
    let l1_clusters = l1_bytes.div_ceil(CLUSTER);
    let len = 3 * CLUSTER + l1_bytes;
    let mut b = vec![0u8; len as usize];
    // Header.
    b[0..4].copy_from_slice(b"QFI\xfb");
    put32(&mut b, 4, if p.v3 { 3 } else { 2 });
    put32(&mut b, 20, CLUSTER_BITS);
    put64(&mut b, 24, p.size);
    put32(&mut b, 32, 0);
    put32(&mut b, 36, l1_entries as u32);
    if l1_entries > 0 {
        put64(&mut b, 40, 3 * CLUSTER);
    }
    put64(&mut b, 48, CLUSTER);
    put32(&mut b, 56, 1);
    let mut off = 72usize;
    if p.v3 {
        put64(&mut b, 80, u64::from(p.lazy_refcounts));
        put32(&mut b, 96, 4);
        put32(&mut b, 100, 112);
        off = 112;
    }
    // Extensions: backing format, feature table (v3), end.
    if let Some((_, fmt)) = &p.backing {
        put32(&mut b, off, EXT_BACKING_FORMAT);
        put32(&mut b, off + 4, fmt.len() as u32);
        b[off + 8..off + 8 + fmt.len()].copy_from_slice(fmt.as_bytes());
        off += 8 + fmt.len().div_ceil(8) * 8;
    }
    if p.v3 {
        put32(&mut b, off, EXT_FEATURE_TABLE);
        put32(&mut b, off + 4, (FEATURES.len() * 48) as u32);
        off += 8;
        for (kind, bit, name) in FEATURES {
            b[off] = *kind;
            b[off + 1] = *bit;
            b[off + 2..off + 2 + name.len()].copy_from_slice(name.as_bytes());
            off += 48;
        }
    }
    off += 8; // end of extensions
    if let Some((name, _)) = &p.backing {
        put64(&mut b, 8, off as u64);
        put32(&mut b, 16, name.len() as u32);
        b[off..off + name.len()].copy_from_slice(name.as_bytes());
    }
    // Refcount table: one block, in cluster 2.
    put64(&mut b, CLUSTER as usize, 2 * CLUSTER);
    // Refcount block: header, table, block and the L1 clusters in use.
    for c in 0..(3 + l1_clusters) as usize {
        b[2 * CLUSTER as usize + 2 * c + 1] = 1;
    }
    b
}

/// Writes a new image at `path` (refusing an existing file) with `mode`.
pub fn create(path: &str, p: &Params, mode: u32) -> std::io::Result<()> {
    let data = image(p);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    if let Err(e) = f.write_all(&data) {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qemu_img(args: &[&str]) -> bool {
        std::process::Command::new("qemu-img")
            .args(args)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// Byte for byte what qemu-img writes, over sizes, versions,
    /// lazy refcounts and backing files.
    #[test]
    fn same_bytes_as_qemu_img() {
        if crate::qemuimg_path().is_none() {
            eprintln!("SKIP: qemu-img is not installed");
            return;
        }
        let dir = std::env::temp_dir().join(format!("oxvirt-qcow2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.to_string_lossy().into_owned();
        let base = format!("{}/base.raw", d);
        assert!(qemu_img(&["create", "-q", "-f", "raw", &base, "1M"]));
        let q3 = format!("{}/base.qcow2", d);
        assert!(qemu_img(&["create", "-q", "-f", "qcow2", &q3, "1M"]));
        let sizes: &[u64] = &[
            0,
            1024,
            1 << 20,
            (1 << 30) + 1024,
            100 << 30,
            3000 << 30,
            10 << 40,
            64 << 40,
        ];
        let mut n = 0;
        for &size in sizes {
            for v3 in [false, true] {
                for lazy in [false, true] {
                    for backing in [
                        None,
                        Some(("base.raw", "raw")),
                        Some((q3.as_str(), "qcow2")),
                    ] {
                        if lazy && !v3 || backing.is_some() && size == 0 {
                            continue;
                        }
                        let p = Params {
                            size,
                            v3,
                            lazy_refcounts: lazy,
                            backing: backing.map(|(a, b)| (a.to_string(), b.to_string())),
                        };
                        assert!(supported(&p));
                        let mut opts = format!("compat={}", if v3 { "1.1" } else { "0.10" });
                        if let Some((_, f)) = &backing {
                            opts = format!("backing_fmt={},{}", f, opts);
                        }
                        if lazy {
                            opts.push_str(",lazy_refcounts");
                        }
                        let out = format!("{}/q{}.qcow2", d, n);
                        let mut args = vec!["create", "-q", "-f", "qcow2"];
                        if let Some((b, _)) = &backing {
                            args.extend(["-b", b]);
                        }
                        let sz = format!("{}K", size / 1024);
                        args.extend(["-o", &opts, &out, &sz]);
                        assert!(qemu_img(&args), "{:?}", args);
                        let theirs = std::fs::read(&out).unwrap();
                        let ours = image(&p);
                        assert!(theirs == ours, "differs from qemu-img for {:?}", p);
                        n += 1;
                    }
                }
            }
        }
        assert!(n > 30);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
