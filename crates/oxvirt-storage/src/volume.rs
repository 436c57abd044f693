//! Volumes that are files, directories or block devices on this host
//! (libvirt's storage_util.c local volume functions): opening and
//! probing, sizes, permissions and timestamps, creating raw files and
//! directories, deleting, resizing.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_xml::storage::{Encryption, Perms, Timespec, Timestamps, VolTarget, VolType, Volume};

use crate::objects::FROM;
use crate::probe::{self, BackingFormat};

/// libvirt's default modes.
pub const DEFAULT_VOL_MODE: u32 = 0o600;
pub const DEFAULT_POOL_MODE: u32 = 0o711;

/// The prefix of files being built in a directory pool: hidden from
/// refreshes and removed at start, so a creation the daemon did not
/// finish never shows as a volume.
pub const PARTIAL_PREFIX: &str = ".oxvirt-partial-";

/// Which kinds of files a volume may be (VIR_STORAGE_VOL_OPEN_*).
#[derive(Clone, Copy)]
pub struct OpenFlags {
    pub reg: bool,
    pub block: bool,
    pub chr: bool,
    pub dir: bool,
    /// Missing, dangling or unreadable files are skipped (Ok(None)).
    pub noerror: bool,
}

pub const OPEN_DEFAULT: OpenFlags = OpenFlags {
    reg: true,
    block: true,
    chr: false,
    dir: false,
    noerror: false,
};
/// VIR_STORAGE_VOL_FS_OPEN_FLAGS
pub const FS_OPEN: OpenFlags = OpenFlags {
    dir: true,
    ..OPEN_DEFAULT
};
/// VIR_STORAGE_VOL_FS_PROBE_FLAGS
pub const FS_PROBE: OpenFlags = OpenFlags {
    dir: true,
    noerror: true,
    ..OPEN_DEFAULT
};

fn sys(msg: String, e: &std::io::Error) -> Error {
    Error::system(FROM, msg, e)
}

/// virStorageBackendVolOpen: the open file and its status; `None` when
/// `noerror` allows skipping it.
pub fn vol_open(path: &str, flags: OpenFlags) -> Result<Option<(File, std::fs::Metadata)>> {
    let lmd = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if flags.noerror {
                return Ok(None);
            }
            return Err(Error::new(
                code::NO_STORAGE_VOL,
                FROM,
                format!("no storage vol with matching path '{}'", path),
            ));
        }
        Err(e) => return Err(sys(format!("cannot stat file '{}'", path), &e)),
    };
    let ft = lmd.file_type();
    if ft.is_fifo() || ft.is_socket() {
        if flags.noerror {
            return Ok(None);
        }
        let what = if ft.is_fifo() { "FIFO" } else { "socket" };
        return Err(Error::internal(
            FROM,
            format!("Volume path '{}' is a {}", path, what),
        ));
    }
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) => {
            let errno = e.raw_os_error().unwrap_or(0);
            if flags.noerror
                && matches!(
                    errno,
                    libc::ENOENT | libc::ELOOP | libc::ENXIO | libc::EACCES | libc::EPERM
                )
            {
                return Ok(None);
            }
            return Err(sys(format!("cannot open volume '{}'", path), &e));
        }
    };
    let md = f
        .metadata()
        .map_err(|e| sys(format!("cannot stat file '{}'", path), &e))?;
    let ft = md.file_type();
    let base = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ok = if ft.is_file() {
        flags.reg
    } else if ft.is_block_device() {
        flags.block
    } else if ft.is_char_device() {
        flags.chr
    } else if ft.is_dir() {
        if base == "." || base == ".." {
            if flags.noerror {
                return Ok(None);
            }
            return Err(Error::internal(
                FROM,
                format!("Cannot use volume path '{}'", path),
            ));
        }
        flags.dir
    } else {
        if flags.noerror {
            return Ok(None);
        }
        return Err(Error::internal(
            FROM,
            format!("unexpected type for file '{}'", path),
        ));
    };
    // Back to blocking for the reads that follow.
    unsafe {
        let fd = std::os::unix::io::AsRawFd::as_raw_fd(&f);
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK);
        }
    }
    if !ok {
        if flags.noerror {
            return Ok(None);
        }
        return Err(Error::internal(
            FROM,
            format!("unexpected storage mode for '{}'", path),
        ));
    }
    Ok(Some((f, md)))
}

/// Sizes read from a file: (capacity, allocation, physical).
pub fn sizes(f: &mut File, md: &std::fs::Metadata, path: &str) -> Result<(u64, u64, u64)> {
    let ft = md.file_type();
    if ft.is_file() {
        Ok((md.len(), md.blocks() * 512, md.len()))
    } else if ft.is_dir() {
        Ok((0, 0, 0))
    } else {
        let end = f
            .seek(SeekFrom::End(0))
            .map_err(|e| sys(format!("failed to seek to end of {}", path), &e))?;
        Ok((end, end, end))
    }
}

fn ts(sec: i64, nsec: i64) -> Timespec {
    Timespec { sec, nsec }
}

/// Permissions and timestamps of a file (virStorageBackendUpdateVolTargetInfoFD).
pub fn perms_and_times(md: &std::fs::Metadata) -> (Perms, Timestamps) {
    (
        Perms {
            mode: Some(md.permissions().mode() & 0o777),
            owner: Some(md.uid() as i64),
            group: Some(md.gid() as i64),
            label: None,
        },
        Timestamps {
            atime: ts(md.atime(), md.atime_nsec()),
            mtime: ts(md.mtime(), md.mtime_nsec()),
            ctime: ts(md.ctime(), md.ctime_nsec()),
            btime: ts(0, 0),
        },
    )
}

/// What libvirt keeps of a backing store's target after a refresh.
fn update_backing_target(b: &mut VolTarget, flags: OpenFlags) -> Result<bool> {
    let Some(path) = b.path.clone() else {
        return Ok(false);
    };
    let Some((_f, md)) = vol_open(&path, flags)? else {
        return Ok(false);
    };
    let (p, t) = perms_and_times(&md);
    b.perms = p;
    b.timestamps = Some(t);
    Ok(true)
}

/// virStorageBackendUpdateVolInfo for a file volume: sizes, permissions
/// and timestamps, the capacity from the image header for non-raw
/// formats, and the backing store's permissions.
pub fn update_vol_info(
    vol: &mut Volume,
    flags: OpenFlags,
    path_override: Option<&str>,
) -> Result<()> {
    let path = match path_override {
        Some(p) => p.to_string(),
        None => vol.target.path.clone().unwrap_or_default(),
    };
    let Some((mut f, md)) = vol_open(&path, flags)? else {
        return Ok(());
    };
    let (cap, alloc, phys) = sizes(&mut f, &md, &path)?;
    vol.capacity = cap;
    vol.allocation = alloc;
    vol.physical = phys;
    let (p, t) = perms_and_times(&md);
    vol.target.perms = p;
    vol.target.timestamps = Some(t);
    let format = vol.target.format.clone();
    if matches!(vol.kind, VolType::File | VolType::Block)
        && format.as_deref().is_some_and(|f| f != "none")
    {
        if md.is_dir() {
            return Ok(());
        }
        f.seek(SeekFrom::Start(0))
            .map_err(|e| sys(format!("cannot seek to start of '{}'", path), &e))?;
        let buf = probe::read_header(&mut f)
            .map_err(|e| sys(format!("cannot read header '{}'", path), &e))?;
        let fmt = format
            .as_deref()
            .and_then(probe::format_index)
            .unwrap_or(probe::RAW);
        let encrypted = vol.target.encryption.is_some();
        if fmt == probe::RAW && !encrypted {
            vol.capacity = vol.physical;
        } else {
            let m = probe::metadata(&buf, Some(fmt));
            vol.capacity = if m.capacity != 0 {
                m.capacity
            } else {
                vol.physical
            };
            if encrypted {
                if let Some(off) = m.encryption.and_then(|e| e.payload_offset) {
                    vol.capacity = vol.capacity.wrapping_sub(off as u64 * 512);
                }
            }
        }
    }
    if let Some(b) = vol.backing.as_mut() {
        update_backing_target(
            b,
            OpenFlags {
                noerror: true,
                ..OPEN_DEFAULT
            },
        )?;
    }
    Ok(())
}

/// A volume found by scanning a directory (virStorageBackendRefreshVolTargetUpdate
/// with storageBackendProbeTarget): `None` for entries a pool skips.
pub fn probe_volume(dir: &str, name: &str) -> Result<Option<Volume>> {
    probe_entry(dir, name, None)
}

/// As [`probe_volume`]; `regular` says the directory entry is a regular
/// file (from readdir), which spares the checks for FIFOs and sockets.
pub fn probe_entry(dir: &str, name: &str, regular: Option<bool>) -> Result<Option<Volume>> {
    let path = format!("{}/{}", dir, name);
    let opened = if regular == Some(true) {
        match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&path)
        {
            Ok(f) => match f.metadata() {
                Ok(md) if md.is_file() => Some((f, md)),
                _ => vol_open(&path, FS_PROBE)?,
            },
            Err(_) => vol_open(&path, FS_PROBE)?,
        }
    } else {
        vol_open(&path, FS_PROBE)?
    };
    let Some((mut f, md)) = opened else {
        return Ok(None);
    };
    let mut vol = Volume {
        kind: VolType::File,
        name: name.to_string(),
        key: Some(path.clone()),
        capacity: 0,
        allocation: 0,
        physical: 0,
        has_allocation: false,
        has_capacity: false,
        extents: Vec::new(),
        target: VolTarget {
            path: Some(path.clone()),
            ..Default::default()
        },
        backing: None,
    };
    update_target(&mut vol, &mut f, &md, &path)?;
    Ok(Some(vol))
}

/// Re-reads a file volume after something rewrote it (a wipe):
/// virStorageBackendRefreshVolTargetUpdate on the existing definition,
/// which keeps what the new header does not say (cluster size, a backing
/// store, compat). Nothing is done for a file that cannot be opened as a
/// volume.
pub fn refresh_target(vol: &mut Volume) -> Result<()> {
    let path = vol.target.path.clone().unwrap_or_default();
    let Some((mut f, md)) = vol_open(&path, FS_PROBE)? else {
        return Ok(());
    };
    update_target(vol, &mut f, &md, &path)
}

/// storageBackendProbeTarget over an open file: sizes, permissions and
/// times, then what the header says (format, capacity, cluster size,
/// encryption, features, compat, backing store).
fn update_target(vol: &mut Volume, f: &mut File, md: &std::fs::Metadata, path: &str) -> Result<()> {
    let path = path.to_string();
    let (cap, alloc, phys) = sizes(f, md, &path)?;
    vol.capacity = cap;
    vol.allocation = alloc;
    vol.physical = phys;
    let (perms, times) = perms_and_times(md);
    vol.target.perms = perms;
    vol.target.timestamps = Some(times);
    vol.target.format = Some("raw".into());
    vol.target.encryption = None;
    if md.is_dir() {
        if Path::new(&path).join("root.hds").exists()
            && Path::new(&path).join("DiskDescriptor.xml").exists()
        {
            vol.target.format = Some("ploop".into());
            vol.kind = VolType::Ploop;
        } else {
            vol.target.format = Some("dir".into());
            vol.kind = VolType::Dir;
        }
        return Ok(());
    }
    let buf =
        probe::read_header_at(f).map_err(|e| sys(format!("cannot read header '{}'", path), &e))?;
    let meta = probe::metadata(&buf, None);
    if let Some(raw) = &meta.backing {
        let mut b = VolTarget {
            path: Some(probe::backing_path(&path, raw)),
            ..Default::default()
        };
        let local = probe::backing_is_file(raw);
        let fmt = if !local {
            b.path = Some(raw.clone());
            probe::RAW
        } else {
            match meta.backing_format {
                BackingFormat::Known(f) => f,
                BackingFormat::Auto | BackingFormat::AutoSafe => {
                    match probe::probe_file_format(b.path.as_deref().unwrap_or("")) {
                        Ok(f) => f,
                        Err(_) => probe::RAW,
                    }
                }
            }
        };
        b.format = probe::FORMATS.get(fmt).map(|s| s.to_string());
        if local {
            let _ = update_backing_target(&mut b, OPEN_DEFAULT);
        }
        vol.backing = Some(b);
    }
    vol.target.format = probe::FORMATS.get(meta.format).map(|s| s.to_string());
    if meta.capacity != 0 {
        vol.capacity = meta.capacity;
    }
    if meta.cluster_size > 0 {
        vol.target.cluster_size = meta.cluster_size;
    }
    if let Some(e) = &meta.encryption {
        if let Some(off) = e.payload_offset {
            vol.capacity = vol.capacity.wrapping_sub(off as u64 * 512);
        }
        vol.target.encryption = Some(Encryption::probed(e.format));
    }
    vol.target.features = meta
        .features
        .map(|f| f.into_iter().map(str::to_string).collect());
    if meta.compat.is_some() {
        vol.target.compat = meta.compat;
    }
    Ok(())
}

/// Applies owner and mode the way virFileOpenAs with FORCE_OWNER and
/// FORCE_MODE does.
pub fn apply_perms(f: &File, path: &str, perms: &Perms, default_mode: u32) -> Result<()> {
    let md = f
        .metadata()
        .map_err(|e| sys(format!("stat of '{}' failed", path), &e))?;
    let uid = perms
        .owner
        .filter(|u| *u as u32 != md.uid())
        .map(|u| u as u32);
    let gid = perms
        .group
        .filter(|g| *g as u32 != md.gid())
        .map(|g| g as u32);
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::fchown(f, uid, gid).map_err(|e| {
            sys(
                format!(
                    "cannot chown '{}' to ({}, {})",
                    path,
                    uid.map(|u| u as i64).unwrap_or(-1) as u32,
                    gid.map(|g| g as i64).unwrap_or(-1) as u32
                ),
                &e,
            )
        })?;
    }
    let mode = perms.mode.unwrap_or(default_mode);
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| sys(format!("cannot set mode of '{}' to {:04o}", path, mode), &e))?;
    Ok(())
}

/// Same for a path (after a tool created the file).
pub fn apply_perms_path(path: &str, perms: &Perms, default_mode: u32) -> Result<()> {
    let f = File::open(path).map_err(|e| sys(format!("failed to create {}", path), &e))?;
    apply_perms(&f, path, perms, default_mode)
}

/// fallocate(2) over `[0, len)`; Ok(false) when the file system cannot.
pub fn fallocate(f: &File, len: u64) -> std::io::Result<bool> {
    if len == 0 {
        return Ok(true);
    }
    let fd = std::os::unix::io::AsRawFd::as_raw_fd(f);
    let r = unsafe { libc::fallocate(fd, 0, 0, len as libc::off_t) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Ok(false),
        _ => Err(e),
    }
}

/// Writes zeros over `[pos, pos+len)` (safezero without fallocate).
pub fn write_zeros(f: &mut File, pos: u64, len: u64) -> std::io::Result<()> {
    f.seek(SeekFrom::Start(pos))?;
    let buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// Copies `input` into `out` (virStorageBackendCopyToFD): up to `total`
/// bytes, skipping zero blocks (seeking over them) when `sparse`.
/// Returns the number of bytes copied.
///
/// The result is libvirt's, block for block: with `sparse`, every
/// block-sized run of zeros becomes a hole. It gets there with fewer
/// calls: the input's holes are skipped without reading them
/// (SEEK_DATA), and consecutive data blocks go out in one write.
pub fn copy_to(
    out: &mut File,
    out_path: &str,
    input_path: &str,
    total: u64,
    sparse: bool,
) -> Result<u64> {
    let mut inp = File::open(input_path)
        .map_err(|e| sys(format!("could not open input path '{}'", input_path), &e))?;
    let wbytes = (out.metadata().map(|m| m.blksize()).unwrap_or(4096) as usize).max(4096);
    // Holes are looked for in regular files only (a block device's
    // length is not its metadata's, and SEEK_DATA tells nothing there).
    let in_len = match inp.metadata() {
        Ok(m) if m.is_file() => Some(m.len()),
        _ => None,
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut left = total;
    let mut done = 0u64;
    let mut pending_seek = 0u64;
    while left > 0 {
        if let (true, Some(in_len)) = (sparse, in_len) {
            // Skip the input's hole, if we are in one: it reads as zeros,
            // which would become a hole anyway.
            let next = match seek_data(&inp, done) {
                Ok(Some(at)) => at,
                // Nothing but a hole up to the end.
                Ok(None) => in_len,
                // No SEEK_DATA here: read everything.
                Err(_) => done,
            };
            let skip = next.saturating_sub(done).min(left);
            if skip > 0 {
                pending_seek += skip;
                done += skip;
                left -= skip;
                if left == 0 || done >= in_len {
                    break;
                }
            }
            inp.seek(SeekFrom::Start(done))
                .map_err(|e| sys(format!("failed reading from file '{}'", input_path), &e))?;
        }
        let want = left.min(buf.len() as u64) as usize;
        let n = loop {
            match inp.read(&mut buf[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(sys(
                        format!("failed reading from file '{}'", input_path),
                        &e,
                    ))
                }
            }
        };
        if n == 0 {
            break;
        }
        left -= n as u64;
        let mut off = 0;
        while off < n {
            // The run of data blocks (or of zero blocks) starting here.
            let zero = |o: usize| sparse && buf[o..(o + wbytes).min(n)].iter().all(|b| *b == 0);
            let is_zero = zero(off);
            let mut end = off;
            while end < n && zero(end) == is_zero {
                end = (end + wbytes).min(n);
            }
            if is_zero {
                pending_seek += (end - off) as u64;
            } else {
                if pending_seek > 0 {
                    out.seek(SeekFrom::Current(pending_seek as i64))
                        .map_err(|e| sys(format!("cannot extend file '{}'", out_path), &e))?;
                    pending_seek = 0;
                }
                out.write_all(&buf[off..end])
                    .map_err(|e| sys(format!("failed writing to file '{}'", out_path), &e))?;
            }
            off = end;
        }
        done += n as u64;
    }
    if pending_seek > 0 {
        out.seek(SeekFrom::Current(pending_seek as i64))
            .map_err(|e| sys(format!("cannot extend file '{}'", out_path), &e))?;
    }
    out.sync_data()
        .map_err(|e| sys(format!("cannot sync data to file '{}'", out_path), &e))?;
    Ok(done)
}

/// lseek(SEEK_DATA): the first offset at or after `from` holding data,
/// `None` when only a hole follows (ENXIO).
fn seek_data(f: &File, from: u64) -> std::io::Result<Option<u64>> {
    let from = libc::off_t::try_from(from)
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EOVERFLOW))?;
    // SAFETY: lseek on a descriptor this File owns; no memory is passed.
    let r = unsafe { libc::lseek(f.as_raw_fd(), from, libc::SEEK_DATA) };
    if r >= 0 {
        return Ok(Some(r as u64));
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENXIO) {
        Ok(None)
    } else {
        Err(e)
    }
}

/// Renames a finished build into place, refusing to replace a file that
/// appeared meanwhile.
pub fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(from.as_os_str().as_bytes())?;
    let b = CString::new(to.as_os_str().as_bytes())?;
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::ENOSYS) {
        // A file system without RENAME_NOREPLACE: link + unlink.
        std::fs::hard_link(from, to)?;
        let _ = std::fs::remove_file(from);
        return Ok(());
    }
    Err(e)
}

/// Creates a directory with libvirt's owner and mode handling
/// (virDirCreateNoFork).
pub fn dir_create(
    path: &str,
    mode: Option<u32>,
    owner: Option<i64>,
    group: Option<i64>,
    allow_exist: bool,
) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let mut created = false;
    if !(allow_exist && Path::new(path).exists()) {
        std::fs::DirBuilder::new()
            .mode(mode.unwrap_or(0o755))
            .create(path)
            .map_err(|e| sys(format!("failed to create directory '{}'", path), &e))?;
        created = true;
    }
    let res = (|| {
        let md =
            std::fs::metadata(path).map_err(|e| sys(format!("stat of '{}' failed", path), &e))?;
        let uid = owner.filter(|u| *u as u32 != md.uid()).map(|u| u as u32);
        let gid = group.filter(|g| *g as u32 != md.gid()).map(|g| g as u32);
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::chown(path, owner.map(|u| u as u32), group.map(|g| g as u32))
                .map_err(|e| {
                    sys(
                        format!(
                            "cannot chown '{}' to ({}, {})",
                            path,
                            owner.unwrap_or(-1) as u32,
                            group.unwrap_or(-1) as u32
                        ),
                        &e,
                    )
                })?;
        }
        if let Some(m) = mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(m))
                .map_err(|e| sys(format!("cannot set mode of '{}' to {:04o}", path, m), &e))?;
        }
        Ok(())
    })();
    if res.is_err() && created {
        let _ = std::fs::remove_dir(path);
    }
    res
}
