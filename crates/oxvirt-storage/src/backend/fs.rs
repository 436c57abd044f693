//! Directory, file system and network file system pools (libvirt's
//! storage_backend_fs.c): volumes are the files of the target directory;
//! fs pools mount a block device or image there, netfs pools an NFS,
//! CIFS or GlusterFS export.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use oxvirt_core::error::code;
use oxvirt_core::types::flags::{pool_build, vol_create, vol_resize};
use oxvirt_core::{Error, Result};
use oxvirt_host::Command;
use oxvirt_xml::storage::{Pool, PoolType, VolType, Volume};

use super::{no_support, Backend, Vols};
use crate::objects::FROM;
use crate::volume::{self, DEFAULT_POOL_MODE, DEFAULT_VOL_MODE, PARTIAL_PREFIX};
use crate::{qemuimg, wipe, Ctx};

pub struct FsBackend {
    kind: PoolType,
}

pub static DIR: FsBackend = FsBackend {
    kind: PoolType::Dir,
};
pub static FS: FsBackend = FsBackend { kind: PoolType::Fs };
pub static NETFS: FsBackend = FsBackend {
    kind: PoolType::Netfs,
};

fn sys(msg: String, e: &std::io::Error) -> Error {
    Error::system(FROM, msg, e)
}

fn target(def: &Pool) -> String {
    def.target_path.clone().unwrap_or_default()
}

/// virStorageBackendFileSystemIsValid
fn is_valid(def: &Pool) -> Result<()> {
    if def.kind == PoolType::Netfs {
        if def.source.hosts.len() != 1 {
            return Err(Error::new(
                code::CONFIG_UNSUPPORTED,
                FROM,
                "expected exactly 1 host for the storage pool",
            ));
        }
        if def.source.dir.is_none() {
            return Err(Error::internal(FROM, "missing source path"));
        }
    } else if def.source.devices.len() != 1 {
        if def.source.devices.is_empty() {
            return Err(Error::internal(FROM, "missing source device"));
        }
        return Err(Error::new(
            code::CONFIG_UNSUPPORTED,
            FROM,
            "expected exactly 1 device for the storage pool",
        ));
    }
    Ok(())
}

/// virStorageBackendFileSystemGetPoolSource
fn pool_source(def: &Pool) -> String {
    if def.kind == PoolType::Netfs {
        let host = def.source.hosts.first().map(|h| h.0.as_str()).unwrap_or("");
        let dir = def.source.dir.as_deref().unwrap_or("");
        if def.source.format.as_deref() == Some("cifs") {
            format!("//{}/{}", host, dir)
        } else {
            format!("{}:{}", host, dir)
        }
    } else {
        def.source
            .devices
            .first()
            .map(|d| d.path.clone())
            .unwrap_or_default()
    }
}

/// Decodes the octal escapes (`\040`) of /proc/mounts fields.
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() + 1 {
            let oct = &b[i + 1..(i + 4).min(b.len())];
            if oct.len() == 3 && oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = (oct[0] - b'0') as u32 * 64
                    + (oct[1] - b'0') as u32 * 8
                    + (oct[2] - b'0') as u32;
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// virFileComparePaths: the same file after resolving links.
fn same_path(a: &str, b: &str) -> bool {
    let ra = std::fs::canonicalize(a).map(|p| p.to_string_lossy().into_owned());
    let rb = std::fs::canonicalize(b).map(|p| p.to_string_lossy().into_owned());
    match (ra, rb) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// virStorageBackendFileSystemIsMounted
fn is_mounted(def: &Pool) -> Result<bool> {
    let mtab = "/proc/mounts";
    let text = std::fs::read_to_string(mtab)
        .map_err(|e| sys(format!("cannot read mount list '{}'", mtab), &e))?;
    let src = pool_source(def);
    let tgt = target(def);
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(fsname), Some(dir)) = (f.next(), f.next()) else {
            continue;
        };
        if same_path(&unescape_mount(dir), &tgt) && same_path(&unescape_mount(fsname), &src) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// virStorageBackendFileSystemMountCmd
pub fn mount_command(def: &Pool) -> Command {
    let src = pool_source(def);
    let tgt = target(def);
    let fmt = def.source.format.clone().unwrap_or_else(|| "auto".into());
    let netauto = def.kind == PoolType::Netfs && fmt == "auto";
    let gluster = def.kind == PoolType::Netfs && fmt == "glusterfs";
    let cifs = def.kind == PoolType::Netfs && fmt == "cifs";
    let nfs_vers = if def.kind == PoolType::Netfs {
        def.source
            .protocol_ver
            .as_ref()
            .map(|v| format!("nfsvers={}", v))
    } else {
        None
    };
    let mut cmd = Command::new(crate::tool("mount"), FROM);
    let mut opts = vec!["nodev".to_string(), "nosuid".into(), "noexec".into()];
    let provided = if gluster {
        Some("direct-io-mode=1".to_string())
    } else if cifs {
        Some("guest".to_string())
    } else {
        nfs_vers
    };
    if let Some(p) = provided {
        opts.push(p);
    }
    if let Some((_, els)) = &def.ns {
        for mo in els {
            for o in mo.elements() {
                if let Some(n) = o.attr("name") {
                    opts.push(n.to_string());
                }
            }
        }
    }
    cmd.args(["-o".to_string(), opts.join(",")]);
    if netauto {
        cmd.args([src, tgt]);
    } else {
        cmd.args(["-t".to_string(), fmt, src, tgt]);
    }
    cmd
}

/// virStorageBackendBuildLocal
fn build_pool_dir(def: &Pool) -> Result<()> {
    let path = target(def);
    let Some(slash) = path.rfind('/') else {
        return Err(Error::invalid_arg(
            FROM,
            format!("path '{}' is not absolute", path),
        ));
    };
    if slash > 0 {
        let parent = &path[..slash];
        std::fs::create_dir_all(parent)
            .map_err(|e| sys(format!("cannot create path '{}'", parent), &e))?;
    }
    let mut mode = def.perms.mode;
    if mode.is_none() && (def.kind == PoolType::Netfs || !Path::new(&path).exists()) {
        mode = Some(DEFAULT_POOL_MODE);
    }
    volume::dir_create(&path, mode, def.perms.owner, def.perms.group, true)?;
    if let Some(cow) = def.cow {
        set_cow(&path, cow)?;
    }
    Ok(())
}

/// virFileSetCOW: chattr +C/-C where the file system has the flag.
fn set_cow(path: &str, on: bool) -> Result<()> {
    const FS_NOCOW_FL: libc::c_long = 0x0080_0000;
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) => return Err(sys(format!("cannot open '{}'", path), &e)),
    };
    let fd = std::os::unix::io::AsRawFd::as_raw_fd(&f);
    let mut attr: libc::c_long = 0;
    // FS_IOC_GETFLAGS / FS_IOC_SETFLAGS
    if unsafe { libc::ioctl(fd, 0x8008_6601, &mut attr) } < 0 {
        // Not a file system with attributes (tmpfs): libvirt ignores it
        // unless the user asked to turn COW off on btrfs.
        return Ok(());
    }
    let new = if on {
        attr & !FS_NOCOW_FL
    } else {
        attr | FS_NOCOW_FL
    };
    if new != attr && unsafe { libc::ioctl(fd, 0x4008_6602, &new) } < 0 {
        return Ok(());
    }
    Ok(())
}

/// virStorageBackendMakeFileSystem (mkfs on the source device).
fn make_fs(def: &Pool, flags: u32) -> Result<()> {
    let Some(dev) = def.source.devices.first() else {
        return Err(Error::operation_invalid(
            FROM,
            format!(
                "No source device specified when formatting pool '{}'",
                def.name
            ),
        ));
    };
    let format = def.source.format.clone().unwrap_or_else(|| "auto".into());
    if !Path::new(&dev.path).exists() {
        return Err(Error::operation_invalid(
            FROM,
            format!(
                "Source device does not exist when formatting pool '{}'",
                def.name
            ),
        ));
    }
    let ok = if flags & pool_build::OVERWRITE != 0 {
        true
    } else {
        if flags & pool_build::NO_OVERWRITE != 0 {
            crate::probefs::device_is_empty(&dev.path, &format, true)?;
            true
        } else {
            false
        }
    };
    if !ok {
        return Ok(());
    }
    let mut cmd = Command::new(crate::tool("mkfs"), FROM);
    cmd.args(["-t", &format]);
    match format.as_str() {
        "xfs" => {
            cmd.arg("-f");
        }
        "ext2" | "ext3" | "ext4" => {
            cmd.arg("-F");
        }
        "vfat" => {
            cmd.arg("-I");
        }
        _ => {}
    }
    cmd.arg(dev.path.clone());
    cmd.run()?;
    Ok(())
}

/// The pool's capacity, allocation and available from statvfs, and its
/// target's permissions.
pub fn fill_pool_sizes(def: &mut Pool) -> Result<()> {
    let path = target(def);
    let f = File::open(&path).map_err(|e| sys(format!("cannot open path '{}'", path), &e))?;
    let md = f
        .metadata()
        .map_err(|e| sys(format!("cannot stat path '{}'", path), &e))?;
    let c = std::ffi::CString::new(path.clone()).unwrap_or_default();
    let mut sv: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut sv) } < 0 {
        let e = std::io::Error::last_os_error();
        return Err(sys(format!("cannot statvfs path '{}'", path), &e));
    }
    let frsize = sv.f_frsize as u64;
    def.capacity = frsize.wrapping_mul(sv.f_blocks as u64);
    def.available = (sv.f_bfree as u64).wrapping_mul(frsize);
    def.allocation = def.capacity.wrapping_sub(def.available);
    def.perms.mode = Some(md.permissions().mode() & 0o777);
    def.perms.owner = Some(md.uid() as i64);
    def.perms.group = Some(md.gid() as i64);
    def.perms.label = None;
    Ok(())
}

/// Lists the directory's volumes (virStorageBackendRefreshLocal),
/// reading each file's header: no process per volume. Large pools are
/// probed on several threads.
pub fn refresh_local(def: &mut Pool) -> Result<Vols> {
    let path = target(def);
    let rd = std::fs::read_dir(&path)
        .map_err(|e| sys(format!("cannot open directory '{}'", path), &e))?;
    let mut names = Vec::new();
    for e in rd {
        let e = e.map_err(|e| sys(format!("Unable to read directory '{}'", path), &e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.chars().any(|c| c.is_control()) || name.starts_with(PARTIAL_PREFIX) {
            continue;
        }
        let regular = e.file_type().ok().map(|t| t.is_file());
        names.push((name, regular));
    }
    let probe = |(n, r): &(String, Option<bool>)| volume::probe_entry(&path, n, *r);
    let results: Vec<Result<Option<Volume>>> = if names.len() >= 64 {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8);
        let chunk = names.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = names
                .chunks(chunk)
                .map(|c| s.spawn(move || c.iter().map(probe).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    } else {
        names.iter().map(probe).collect()
    };
    let mut vols = Vec::with_capacity(results.len());
    for r in results {
        if let Some(v) = r? {
            vols.push(v);
        }
    }
    fill_pool_sizes(def)?;
    Ok(vols)
}

/// The path a volume is built at before it is renamed into place.
pub fn build_path(final_path: &str) -> String {
    match final_path.rfind('/') {
        Some(i) => format!(
            "{}/{}{}",
            &final_path[..i],
            PARTIAL_PREFIX,
            &final_path[i + 1..]
        ),
        None => format!("{}{}", PARTIAL_PREFIX, final_path),
    }
}

/// Removes what an interrupted build left in a pool directory.
pub fn remove_partials(def: &Pool) {
    let Ok(rd) = std::fs::read_dir(target(def)) else {
        return;
    };
    for e in rd.flatten() {
        if e.file_name().to_string_lossy().starts_with(PARTIAL_PREFIX) {
            let p = e.path();
            if p.is_dir() {
                let _ = std::fs::remove_dir_all(&p);
            } else {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
}

/// Creates a raw file volume (storageBackendCreateRaw + createRawFile)
/// at `path`, from `input` when cloning.
fn create_raw(vol: &Volume, path: &str, input: Option<&Volume>, flags: u32) -> Result<()> {
    if flags & vol_create::PREALLOC_METADATA != 0 {
        return Err(Error::new(
            code::CONFIG_UNSUPPORTED,
            FROM,
            "metadata preallocation is not supported for raw volumes",
        ));
    }
    if vol.backing.is_some() {
        return Err(no_support("backing storage not supported for raw volumes"));
    }
    if vol.target.encryption.is_some() {
        return Err(Error::new(
            code::CONFIG_UNSUPPORTED,
            FROM,
            "storage pool does not support encrypted volumes",
        ));
    }
    let mode = vol.target.perms.mode.unwrap_or(DEFAULT_VOL_MODE);
    let final_path = vol.target.path.clone().unwrap_or_default();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| sys(format!("Failed to create file '{}'", final_path), &e))?;
    let res = (|| -> Result<()> {
        volume::apply_perms(&f, &final_path, &vol.target.perms, DEFAULT_VOL_MODE)?;
        let mut need_alloc = true;
        if let Some(i) = input {
            if vol.allocation < i.capacity {
                need_alloc = false;
            }
        }
        f.set_len(vol.capacity)
            .map_err(|e| sys(format!("cannot extend file '{}'", final_path), &e))?;
        if vol.allocation > 0 && need_alloc {
            match volume::fallocate(&f, vol.allocation) {
                Ok(true) => need_alloc = false,
                Ok(false) => {}
                Err(e) => {
                    return Err(sys(
                        format!(
                            "cannot allocate {} bytes in file '{}'",
                            vol.allocation, final_path
                        ),
                        &e,
                    ))
                }
            }
        }
        let mut pos = 0;
        if let Some(i) = input {
            let ipath = i.target.path.clone().unwrap_or_default();
            pos = volume::copy_to(&mut f, &final_path, &ipath, i.capacity, !need_alloc)?;
        }
        if need_alloc && vol.allocation > pos {
            volume::write_zeros(&mut f, pos, vol.allocation - pos)
                .map_err(|e| sys(format!("cannot fill file '{}'", final_path), &e))?;
        }
        f.sync_all()
            .map_err(|e| sys(format!("cannot sync data to file '{}'", final_path), &e))?;
        Ok(())
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(path);
    }
    res
}

/// Creates a directory volume (createFileDir).
fn create_dir_vol(vol: &Volume, path: &str, input: Option<&Volume>) -> Result<()> {
    if input.is_some() {
        return Err(Error::internal(
            FROM,
            "cannot copy from volume to a directory volume",
        ));
    }
    if vol.backing.is_some() {
        return Err(no_support(
            "backing storage not supported for directories volumes",
        ));
    }
    volume::dir_create(
        path,
        Some(vol.target.perms.mode.unwrap_or(DEFAULT_VOL_MODE)),
        vol.target.perms.owner,
        vol.target.perms.group,
        false,
    )
}

/// Runs qemu-img as libvirt does (storageBackendCreateQemuImg),
/// including the two steps of an encrypted conversion.
pub fn create_qemu_img(
    ctx: &Ctx,
    pool: &Pool,
    vol: &Volume,
    path: &str,
    input: Option<&Volume>,
    flags: u32,
) -> Result<()> {
    if crate::qemuimg_path().is_none() {
        return Err(Error::internal(
            FROM,
            "creation of non-raw file images is not supported without qemu-img.",
        ));
    }
    oxvirt_core::error::check_flags(
        flags,
        vol_create::PREALLOC_METADATA,
        "storageBackendCreateQemuImg",
        FROM,
    )?;
    let secret = match &vol.target.encryption {
        Some(_) => Some(qemuimg::secret_file(ctx, &pool.name, vol)?),
        None => None,
    };
    let input_secret = match input.and_then(|i| i.target.encryption.as_ref()) {
        Some(_) => Some(qemuimg::secret_file(ctx, &pool.name, input.unwrap_or(vol))?),
        None => None,
    };
    let steps: &[qemuimg::Step] = if (secret.is_some() || input_secret.is_some()) && input.is_some()
    {
        &[qemuimg::Step::Create, qemuimg::Step::Convert]
    } else {
        &[qemuimg::Step::None]
    };
    let pool_target = target(pool);
    let final_path = vol.target.path.clone().unwrap_or_default();
    for step in steps {
        let cmd = qemuimg::command(
            &pool_target,
            vol,
            path,
            input,
            flags & vol_create::PREALLOC_METADATA != 0,
            secret.as_ref().map(|s| s.0.as_path()),
            input_secret.as_ref().map(|s| s.0.as_path()),
            *step,
        )?;
        let native = if *step == qemuimg::Step::None && input.is_none() {
            native_qcow2(pool, vol, flags)
        } else {
            None
        };
        let res = match native {
            Some(p) => {
                crate::qcow2::create(path, &p, vol.target.perms.mode.unwrap_or(DEFAULT_VOL_MODE))
                    .map_err(|e| sys(format!("Failed to create file '{}'", final_path), &e))
            }
            None => run_qemu_img(&cmd).map(|_| ()),
        };
        if let Err(e) = res {
            remove_if_file(path);
            return Err(e);
        }
        if !Path::new(path).exists() {
            let e = std::io::Error::from_raw_os_error(libc::ENOENT);
            return Err(sys(format!("failed to create {}", final_path), &e));
        }
        if let Err(e) = volume::apply_perms_path(path, &vol.target.perms, DEFAULT_VOL_MODE) {
            remove_if_file(path);
            return Err(e);
        }
    }
    Ok(())
}

/// Runs a qemu-img command. QEMU times its LUKS key derivation with the
/// thread's CPU clock; where the kernel accounts CPU time per tick that
/// clock can read zero and qemu-img gives up ("Unable to get accurate
/// CPU usage"), more often the busier the host. That failure says
/// nothing about the request, so it is retried a few times.
pub fn run_qemu_img(cmd: &Command) -> Result<oxvirt_host::command::Output> {
    let mut tries = 0;
    loop {
        let out = cmd.output()?;
        if out.status == 0 {
            return Ok(out);
        }
        tries += 1;
        if tries >= 20 || !out.stderr.contains("Unable to get accurate CPU usage") {
            return Err(cmd.failure(&out));
        }
    }
}

/// The parameters of an empty qcow2 image this crate writes itself,
/// byte for byte as qemu-img would (`qcow2.rs`), or None when qemu-img
/// must run. Called after `qemuimg::command` accepted the request, so
/// libvirt's checks (and its errors) came first.
fn native_qcow2(pool: &Pool, vol: &Volume, flags: u32) -> Option<crate::qcow2::Params> {
    let t = &vol.target;
    if t.format.as_deref() != Some("qcow2")
        || t.encryption.is_some()
        || flags & vol_create::PREALLOC_METADATA != 0
        || t.nocow
        || (t.cluster_size != 0 && t.cluster_size != 65536)
    {
        return None;
    }
    let v3 = match t.compat.as_deref() {
        None | Some("0.10") => false,
        Some("1.1") => true,
        Some(_) => return None,
    };
    let lazy = match &t.features {
        None => false,
        Some(f) if f.iter().all(|x| x == "lazy_refcounts") => !f.is_empty(),
        Some(_) => return None,
    };
    let size = vol.capacity.div_ceil(1024) * 1024;
    let backing = match &vol.backing {
        None => None,
        Some(b) => {
            let name = b.path.clone()?;
            let fmt = b.format.clone().unwrap_or_else(|| "raw".into());
            if size == 0 {
                return None;
            }
            // qemu-img opens the backing file: leave anything it might
            // refuse (a format that does not match) to it.
            let abs = if name.starts_with('/') {
                name.clone()
            } else {
                format!("{}/{}", target(pool), name)
            };
            let probed = crate::probe::probe_file_format(&abs).ok()?;
            if crate::probe::FORMATS.get(probed) != Some(&fmt.as_str()) {
                return None;
            }
            Some((name, fmt))
        }
    };
    let p = crate::qcow2::Params {
        size,
        v3,
        lazy_refcounts: lazy,
        backing,
    };
    crate::qcow2::supported(&p).then_some(p)
}

/// Removes a regular file a failed build left (never a device node).
fn remove_if_file(path: &str) {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
        let _ = std::fs::remove_file(path);
    }
}

/// Fills a block volume (a partition or logical volume) from `input`:
/// qemu-img when either side is a non-raw or encrypted file, else a plain
/// copy (storageBackendCreateBlockFrom).
pub fn copy_into_block(
    ctx: &Ctx,
    pool: &Pool,
    vol: &Volume,
    input: &Volume,
    flags: u32,
) -> Result<()> {
    let path = vol.target.path.clone().unwrap_or_default();
    let input_tool = input.kind == VolType::File
        && (input.target.format.as_deref().unwrap_or("raw") != "raw"
            || input.target.encryption.is_some());
    if input_tool || vol.target.encryption.is_some() {
        let mut v = vol.clone();
        if v.target.format.as_deref().is_none_or(|f| f == "none") {
            v.target.format = Some("raw".into());
        }
        return create_qemu_img(ctx, pool, &v, &path, Some(input), flags);
    }
    let allowed = vol_create::PREALLOC_METADATA | vol_create::REFLINK;
    oxvirt_core::error::check_flags(flags, allowed, "storageBackendCreateBlockFrom", FROM)?;
    if flags & vol_create::PREALLOC_METADATA != 0 {
        return Err(Error::new(
            code::CONFIG_UNSUPPORTED,
            FROM,
            "metadata preallocation is not supported for block volumes",
        ));
    }
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| sys(format!("cannot create path '{}'", path), &e))?;
    let ipath = input.target.path.clone().unwrap_or_default();
    volume::copy_to(&mut f, &path, &ipath, vol.capacity, false)?;
    volume::apply_perms(&f, &path, &vol.target.perms, DEFAULT_VOL_MODE)
}

/// virStorageBackendVolBuildLocal / BuildFromLocal: builds into a hidden
/// name and renames into place, so only finished volumes ever appear.
pub fn build_local(
    ctx: &Ctx,
    pool: &Pool,
    vol: &Volume,
    input: Option<&Volume>,
    flags: u32,
) -> Result<()> {
    let final_path = vol.target.path.clone().unwrap_or_default();
    let tmp = build_path(&final_path);
    let format = vol.target.format.clone().unwrap_or_else(|| "raw".into());
    let is_file = |v: &Volume| v.kind == VolType::File;
    let needs_tool = |v: &Volume| {
        is_file(v)
            && (v.target.format.as_deref().unwrap_or("raw") != "raw"
                || v.target.encryption.is_some())
    };
    let res = if let Some(i) = input {
        if needs_tool(vol) || needs_tool(i) {
            create_qemu_img(ctx, pool, vol, &tmp, input, flags)
        } else if vol.kind == VolType::Ploop {
            Err(Error::internal(
                FROM,
                "unable to find ploop, please install ploop tools",
            ))
        } else {
            create_raw(vol, &tmp, input, flags & !vol_create::REFLINK)
        }
    } else if format == "raw" && vol.target.encryption.is_none() {
        create_raw(vol, &tmp, None, flags & !vol_create::REFLINK)
    } else if format == "dir" {
        oxvirt_core::error::check_flags(flags, 0, "createFileDir", FROM)?;
        create_dir_vol(vol, &tmp, None)
    } else if format == "ploop" {
        Err(Error::internal(
            FROM,
            "unable to find ploop, please install ploop tools",
        ))
    } else {
        create_qemu_img(ctx, pool, vol, &tmp, None, flags)
    };
    res?;
    if let Err(e) = volume::rename_noreplace(Path::new(&tmp), Path::new(&final_path)) {
        if Path::new(&tmp).is_dir() {
            let _ = std::fs::remove_dir_all(&tmp);
        } else {
            let _ = std::fs::remove_file(&tmp);
        }
        return Err(sys(format!("Failed to create file '{}'", final_path), &e));
    }
    Ok(())
}

/// virStorageBackendVolDeleteLocal
pub fn delete_local(vol: &Volume, flags: u32) -> Result<()> {
    oxvirt_core::error::check_flags(flags, 0, "virStorageBackendVolDeleteLocal", FROM)?;
    let path = vol.target.path.clone().unwrap_or_default();
    match vol.kind {
        VolType::File | VolType::Dir => {
            let r = if vol.kind == VolType::File {
                std::fs::remove_file(&path)
            } else {
                std::fs::remove_dir(&path)
            };
            match r {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) if vol.kind == VolType::File => {
                    Err(sys(format!("cannot unlink file '{}'", path), &e))
                }
                Err(e) => Err(sys(format!("cannot remove directory '{}'", path), &e)),
            }
        }
        VolType::Ploop => std::fs::remove_dir_all(&path)
            .map_err(|e| sys(format!("Failed to delete '{}'", path), &e)),
        _ => Err(no_support(&format!(
            "removing block or network volumes is not supported: {}",
            path
        ))),
    }
}

/// virStorageBackendVolResizeLocal
pub fn resize_local(ctx: &Ctx, pool: &Pool, vol: &Volume, capacity: u64, flags: u32) -> Result<()> {
    let prealloc = flags & vol_resize::ALLOCATE != 0;
    let format = vol.target.format.as_deref().unwrap_or("raw");
    let path = vol.target.path.clone().unwrap_or_default();
    if format == "raw" && vol.target.encryption.is_none() {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| sys(format!("Unable to open '{}'", path), &e))?;
        if prealloc {
            // virFileResize: virFileAllocate over the whole new size.
            let fd = std::os::unix::io::AsRawFd::as_raw_fd(&f);
            let r = unsafe { libc::fallocate(fd, 0, 0, capacity as libc::off_t) };
            if r < 0 {
                let e = std::io::Error::last_os_error();
                return Err(sys(
                    format!("Failed to pre-allocate space for file '{}'", path),
                    &e,
                ));
            }
        }
        f.set_len(capacity)
            .map_err(|e| sys(format!("Failed to truncate file '{}'", path), &e))?;
        return Ok(());
    }
    if prealloc {
        let msg = if format == "raw" {
            "preallocate is only supported for an unencrypted raw volume"
        } else {
            "preallocate is only supported for raw type volume"
        };
        return Err(Error::new(code::OPERATION_UNSUPPORTED, FROM, msg));
    }
    if format == "ploop" {
        return Err(Error::internal(
            FROM,
            "unable to find ploop, please install ploop tools",
        ));
    }
    if let Some(e) = &vol.target.encryption {
        if (e.format == "qcow" || e.format == "default") && (format == "qcow" || format == "qcow2")
        {
            return Err(Error::new(
                code::CONFIG_UNSUPPORTED,
                FROM,
                "resize of qcow2 encrypted image is not supported",
            ));
        }
    }
    if crate::qemuimg_path().is_none() {
        return Err(Error::internal(FROM, "unable to find qemu-img"));
    }
    let secret = match &vol.target.encryption {
        Some(_) => {
            qemuimg::check_resize_encryption(vol)?;
            Some(qemuimg::secret_file(ctx, &pool.name, vol)?)
        }
        None => None,
    };
    run_qemu_img(&qemuimg::resize_command(
        vol,
        capacity,
        secret.as_ref().map(|s| s.0.as_path()),
    ))?;
    Ok(())
}

impl Backend for FsBackend {
    fn has_build_pool(&self) -> bool {
        true
    }

    fn has_build_vol(&self) -> bool {
        true
    }

    fn has_refresh_vol(&self) -> bool {
        true
    }

    fn check_pool(&self, def: &mut Pool) -> Result<bool> {
        if def.kind == PoolType::Dir {
            return Ok(Path::new(&target(def)).exists());
        }
        is_valid(def)?;
        is_mounted(def)
    }

    fn start_pool(&self, def: &mut Pool) -> Result<()> {
        if def.kind == PoolType::Dir {
            return Ok(());
        }
        is_valid(def)?;
        if is_mounted(def)? {
            return Ok(());
        }
        mount_command(def).run()?;
        Ok(())
    }

    fn stop_pool(&self, def: &Pool) -> Result<()> {
        if def.kind == PoolType::Dir {
            return Ok(());
        }
        is_valid(def)?;
        if !is_mounted(def)? {
            return Ok(());
        }
        let mut cmd = Command::new(crate::tool("umount"), FROM);
        cmd.arg(target(def));
        cmd.run()?;
        Ok(())
    }

    fn build_pool(&self, def: &mut Pool, flags: u32) -> Result<()> {
        let allowed = pool_build::OVERWRITE | pool_build::NO_OVERWRITE;
        oxvirt_core::error::check_flags(flags, allowed, "virStorageBackendFileSystemBuild", FROM)?;
        if flags & allowed == allowed {
            return Err(Error::invalid_arg(
                FROM,
                "Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and 'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive",
            ));
        }
        build_pool_dir(def)?;
        if flags != 0 {
            make_fs(def, flags)?;
        }
        Ok(())
    }

    fn delete_pool(&self, def: &Pool, flags: u32) -> Result<()> {
        oxvirt_core::error::check_flags(flags, 0, "virStorageBackendDeleteLocal", FROM)?;
        let p = target(def);
        std::fs::remove_dir(&p).map_err(|e| sys(format!("failed to remove pool '{}'", p), &e))
    }

    fn refresh_pool(&self, _ctx: &Ctx, def: &mut Pool) -> Result<Vols> {
        refresh_local(def)
    }

    fn create_vol(
        &self,
        _ctx: &Ctx,
        def: &mut Pool,
        vol: &mut Volume,
        _vols: &[Volume],
    ) -> Result<()> {
        vol.kind = match vol.target.format.as_deref() {
            Some("dir") => VolType::Dir,
            Some("ploop") => VolType::Ploop,
            _ => VolType::File,
        };
        if vol.name.contains('/') {
            return Err(Error::operation_invalid(
                FROM,
                format!("volume name '{}' cannot contain '/'", vol.name),
            ));
        }
        let path = format!("{}/{}", target(def), vol.name);
        if std::fs::symlink_metadata(&path).is_ok() || Path::new(&path).exists() {
            return Err(Error::operation_invalid(
                FROM,
                format!("volume target path '{}' already exists", path),
            ));
        }
        vol.target.path = Some(path.clone());
        vol.key = Some(path);
        Ok(())
    }

    fn build_vol(&self, ctx: &Ctx, def: &Pool, vol: &Volume, flags: u32) -> Result<()> {
        build_local(ctx, def, vol, None, flags)
    }

    fn build_vol_from(
        &self,
        ctx: &Ctx,
        def: &Pool,
        vol: &Volume,
        input: &Volume,
        flags: u32,
    ) -> Result<()> {
        build_local(ctx, def, vol, Some(input), flags)
    }

    fn refresh_vol(&self, ctx: &Ctx, _def: &Pool, vol: &mut Volume) -> Result<()> {
        volume::update_vol_info(vol, volume::FS_OPEN, None)?;
        ctx.load_default_secret(vol);
        Ok(())
    }

    fn delete_vol(
        &self,
        _ctx: &Ctx,
        _def: &mut Pool,
        vol: &Volume,
        flags: u32,
    ) -> Result<Option<Vols>> {
        delete_local(vol, flags)?;
        Ok(None)
    }

    fn resize_vol(
        &self,
        ctx: &Ctx,
        def: &Pool,
        vol: &Volume,
        capacity: u64,
        flags: u32,
    ) -> Result<()> {
        resize_local(ctx, def, vol, capacity, flags)
    }

    fn wipe_vol(&self, _def: &Pool, vol: &Volume, algorithm: u32, flags: u32) -> Result<()> {
        oxvirt_core::error::check_flags(flags, 0, "virStorageBackendVolWipeLocal", FROM)?;
        let path = vol.target.path.clone().unwrap_or_default();
        if vol.target.format.as_deref() == Some("ploop") {
            return Err(Error::internal(
                FROM,
                "unable to find ploop tools, please install them",
            ));
        }
        wipe::wipe_file(&path, algorithm, vol.allocation, false)
    }

    fn can_transfer(&self) -> bool {
        true
    }

    fn has_find_sources(&self) -> bool {
        self.kind == PoolType::Netfs
    }

    fn find_sources(&self, spec: Option<&str>, flags: u32) -> Result<String> {
        if self.kind != PoolType::Netfs {
            return Err(no_support("source discovery"));
        }
        crate::sources::find_netfs(spec, flags)
    }
}

/// Reads a header of `path` at `offset` (used by tests and the disk pool).
pub fn read_at(path: &str, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; len];
    let n = std::io::Read::read(&mut f, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_lines_decode_and_commands() {
        assert_eq!(unescape_mount("/a\\040b"), "/a b");
        assert_eq!(unescape_mount("/plain"), "/plain");
        let p = Pool::parse(
            "<pool type='netfs'><name>n</name><source><host name='h'/><dir path='/e'/><format type='nfs'/><protocol ver='4'/></source><target><path>/mnt/n</path></target></pool>",
        )
        .unwrap();
        assert_eq!(
            mount_command(&p).to_cmdline(),
            "/bin/mount -o nodev,nosuid,noexec,nfsvers=4 -t nfs h:/e /mnt/n"
        );
        let p = Pool::parse(
            "<pool type='netfs'><name>n</name><source><host name='h'/><dir path='/e'/></source><target><path>/mnt/n</path></target></pool>",
        )
        .unwrap();
        assert_eq!(
            mount_command(&p).to_cmdline(),
            "/bin/mount -o nodev,nosuid,noexec h:/e /mnt/n"
        );
        let p = Pool::parse(
            "<pool type='fs'><name>f</name><source><device path='/dev/loop9'/><format type='ext4'/></source><target><path>/mnt/f</path></target></pool>",
        )
        .unwrap();
        assert_eq!(
            mount_command(&p).to_cmdline(),
            "/bin/mount -o nodev,nosuid,noexec -t ext4 /dev/loop9 /mnt/f"
        );
        assert_eq!(build_path("/p/v.img"), "/p/.oxvirt-partial-v.img");
    }
}
