//! A domain's disks as libvirt's QEMU driver reports and changes them:
//! statistics (virDomainBlockStats, virDomainBlockStatsFlags), sizes
//! (virDomainGetBlockInfo), virDomainBlockResize and virDomainBlockPeek.
//!
//! Running domains are asked through QMP (`query-blockstats` for the
//! counters and the highest written offset of the storage node,
//! `query-block` for the image's virtual and allocated size and the
//! format node to resize); inactive ones are read from their files as
//! qemuStorageLimitsRefresh reads them.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::sync::Arc;

use oxvirt_core::error::code;
use oxvirt_core::types::{BlockInfo, BlockStats, DomainRef, TypedParam, TypedValue};
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::devices::Disk;
use oxvirt_xml::domain::Domain;
use serde_json::{json, Value};

use crate::driver::{check_flags, Driver, Running};
use crate::monitor::qmp_err;
use crate::FROM;

/// VIR_DOMAIN_BLOCK_RESIZE_BYTES
const RESIZE_BYTES: u32 = 1;
/// VIR_TYPED_PARAM_STRING_OKAY
const STRING_OKAY: u32 = 1 << 2;

/// virDomainDiskIndexByName: a target name, or (with a leading slash)
/// the source path, which must then be unambiguous unless allowed.
fn disk_index(def: &Domain, name: &str, allow_ambiguous: bool) -> Option<usize> {
    let mut candidate = None;
    for (i, d) in def.devices.disks.iter().enumerate() {
        if !name.starts_with('/') {
            if d.target_dev.as_deref() == Some(name) {
                return Some(i);
            }
        } else if d.source.as_deref() == Some(name) {
            if allow_ambiguous {
                return Some(i);
            }
            if candidate.is_some() {
                return None;
            }
            candidate = Some(i);
        }
    }
    candidate
}

fn driver_attr<'a>(d: &'a Disk, attr: &str) -> Option<&'a str> {
    d.extra
        .children
        .iter()
        .find(|c| c.name == "driver")
        .and_then(|c| c.attr(attr))
}

/// The image format (libvirt makes an unset one raw at define time).
fn format_of(d: &Disk) -> &str {
    driver_attr(d, "type").unwrap_or("raw")
}

fn is_readonly(d: &Disk) -> bool {
    d.extra.children.iter().any(|c| c.name == "readonly")
}

fn is_vhostuser(d: &Disk) -> bool {
    d.disk_type.as_deref() == Some("vhostuser")
}

fn is_file_type(d: &Disk) -> bool {
    matches!(d.disk_type.as_deref(), None | Some("file"))
}

fn local_source(d: &Disk) -> Option<&str> {
    match d.disk_type.as_deref() {
        None | Some("file") | Some("block") => d.source.as_deref(),
        _ => None,
    }
}

/// One disk's counters and sizes (libvirt's qemuBlockStats).
#[derive(Debug, Default, Clone, Copy)]
struct Gathered {
    rd_req: u64,
    rd_bytes: u64,
    wr_req: u64,
    wr_bytes: u64,
    rd_total_times: u64,
    wr_total_times: u64,
    flush_req: u64,
    flush_total_times: u64,
    capacity: u64,
    physical: u64,
    wr_highest_offset: Option<u64>,
}

impl Gathered {
    fn add(&mut self, o: &Gathered) {
        self.rd_req += o.rd_req;
        self.rd_bytes += o.rd_bytes;
        self.wr_req += o.wr_req;
        self.wr_bytes += o.wr_bytes;
        self.rd_total_times += o.rd_total_times;
        self.wr_total_times += o.wr_total_times;
        self.flush_req += o.flush_req;
        self.flush_total_times += o.flush_total_times;
    }
}

fn num(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// Whether QEMU's `qdev` names the device with this alias (QEMU gives
/// either the id or the device's QOM path, `/machine/peripheral/ID/...`).
fn qdev_is(qdev: &str, alias: &str) -> bool {
    qdev == alias
        || qdev
            .strip_prefix("/machine/peripheral/")
            .is_some_and(|rest| rest == alias || rest.starts_with(&format!("{}/", alias)))
}

fn find_entry<'a>(list: &'a Value, alias: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|e| {
        e.get("qdev")
            .and_then(Value::as_str)
            .is_some_and(|q| qdev_is(q, alias))
    })
}

/// The node the device of disk `i` reads (its top format node or a
/// filter above it), from `query-block`; the disk's alias when QEMU does
/// not list it.
pub(crate) fn inserted_node(
    run: &Running,
    def: &Domain,
    i: usize,
) -> std::result::Result<String, String> {
    let alias = crate::command::disk_aliases(def)
        .get(i)
        .cloned()
        .unwrap_or_default();
    let blocks = run
        .qmp
        .execute_value("query-block", None)
        .map_err(|_| alias.clone())?;
    find_entry(&blocks, &alias)
        .and_then(|b| b.get("inserted"))
        .and_then(|i| i.get("node-name"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or(alias)
}

fn stats_of(entry: &Value) -> Gathered {
    let s = entry.get("stats").cloned().unwrap_or(Value::Null);
    Gathered {
        rd_req: num(&s, "rd_operations"),
        rd_bytes: num(&s, "rd_bytes"),
        wr_req: num(&s, "wr_operations"),
        wr_bytes: num(&s, "wr_bytes"),
        rd_total_times: num(&s, "rd_total_time_ns"),
        wr_total_times: num(&s, "wr_total_time_ns"),
        flush_req: num(&s, "flush_operations"),
        flush_total_times: num(&s, "flush_total_time_ns"),
        capacity: 0,
        physical: 0,
        // The storage node's (the entry's parent) highest written offset.
        wr_highest_offset: entry
            .get("parent")
            .and_then(|p| p.get("stats"))
            .and_then(|s| s.get("wr_highest_offset"))
            .and_then(Value::as_u64),
    }
}

fn no_stats(alias: &str) -> Error {
    Error::internal(
        FROM,
        format!("cannot find statistics for device '{}'", alias),
    )
}

/// The size of a file or block device (virStorageSourceUpdatePhysicalSize).
fn physical_size(path: &str) -> std::io::Result<u64> {
    let md = std::fs::metadata(path)?;
    if md.file_type().is_block_device() {
        let mut f = std::fs::File::open(path)?;
        return f.seek(SeekFrom::End(0));
    }
    Ok(md.len())
}

/// An inactive disk's sizes from its file (qemuStorageLimitsRefresh):
/// capacity from the image header (the file's size for raw), allocation
/// from the blocks in use, physical the file's size.
fn offline_info(path: &str, format: &str) -> Result<BlockInfo> {
    let sys =
        |what: &str, e: &std::io::Error| Error::system(FROM, format!("{} '{}'", what, path), e);
    let mut f = std::fs::File::open(path).map_err(|e| sys("cannot open file", &e))?;
    let md = f.metadata().map_err(|e| sys("cannot stat file", &e))?;
    let block = md.file_type().is_block_device();
    let physical = if block {
        f.seek(SeekFrom::End(0))
            .map_err(|e| sys("failed to seek to end of", &e))?
    } else {
        md.len()
    };
    let allocation = if block { physical } else { md.blocks() * 512 };
    let mut capacity = physical;
    if format != "raw" {
        let mut head = [0u8; 64];
        f.seek(SeekFrom::Start(0))
            .map_err(|e| sys("cannot seek into", &e))?;
        let n = f
            .read(&mut head)
            .map_err(|e| sys("cannot read header", &e))?;
        let be = |o: usize| {
            head.get(o..o + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
        };
        let le = |o: usize| {
            head.get(o..o + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
        };
        if n >= 32 && head.starts_with(b"QFI\xfb") {
            capacity = be(24).unwrap_or(capacity);
        } else if n >= 56 && head.starts_with(b"QED\0") {
            capacity = le(48).unwrap_or(capacity);
        }
    }
    Ok(BlockInfo {
        capacity,
        allocation,
        physical,
    })
}

impl Driver {
    /// The running QEMU and live definition of an active domain.
    fn active_def(&self, dom: &DomainRef) -> Result<(Arc<Running>, Domain)> {
        let st = self.read(dom)?;
        let obj = st.dom(dom)?;
        obj.check_active()?;
        let run = obj.run.clone().ok_or_else(|| {
            Error::operation_invalid(oxvirt_core::error::from::DOMAIN, "domain is not running")
        })?;
        Ok((run, obj.def.clone()))
    }

    /// qemuDomainBlocksStatsGather: the disk `path` names (all disks
    /// summed when it is empty), with its sizes when `capacity`.
    fn gather(&self, run: &Running, def: &Domain, path: &str, capacity: bool) -> Result<Gathered> {
        let idx = if path.is_empty() {
            None
        } else {
            let i = disk_index(def, path, false)
                .ok_or_else(|| Error::invalid_arg(FROM, format!("invalid path: {}", path)))?;
            if is_vhostuser(&def.devices.disks[i]) {
                return Err(Error::new(
                    code::OPERATION_UNSUPPORTED,
                    FROM,
                    "block stats are not supported for vhostuser disk",
                ));
            }
            Some(i)
        };
        let aliases = crate::command::disk_aliases(def);
        let stats = run
            .qmp
            .execute_value("query-blockstats", None)
            .map_err(qmp_err)?;
        let Some(i) = idx else {
            let mut total = Gathered::default();
            for alias in &aliases {
                // libvirt skips disks QEMU has no statistics for
                // (empty drives).
                if let Some(e) = find_entry(&stats, alias) {
                    total.add(&stats_of(e));
                }
            }
            return Ok(total);
        };
        let alias = aliases.get(i).cloned().unwrap_or_default();
        let mut g = stats_of(find_entry(&stats, &alias).ok_or_else(|| no_stats(&alias))?);
        if capacity {
            let blocks = run
                .qmp
                .execute_value("query-block", None)
                .map_err(qmp_err)?;
            if let Some(img) = find_entry(&blocks, &alias)
                .and_then(|b| b.get("inserted"))
                .and_then(|i| i.get("image"))
            {
                g.capacity = num(img, "virtual-size");
                g.physical = num(img, "actual-size");
            }
        }
        Ok(g)
    }

    /// virDomainBlockStats (qemuDomainBlockStats).
    pub(crate) fn block_stats(&self, dom: &DomainRef, path: &str) -> Result<BlockStats> {
        let (run, def) = self.active_def(dom)?;
        let g = self.gather(&run, &def, path, false)?;
        let i = |v: u64| {
            i64::try_from(v)
                .map_err(|_| Error::new(code::OVERFLOW, FROM, "statistic value too large"))
        };
        Ok(BlockStats {
            rd_req: i(g.rd_req)?,
            rd_bytes: i(g.rd_bytes)?,
            wr_req: i(g.wr_req)?,
            wr_bytes: i(g.wr_bytes)?,
            // QEMU does not count errors.
            errs: -1,
        })
    }

    /// virDomainBlockStatsFlags (qemuDomainBlockStatsFlags): libvirt's
    /// eight fields in its order; `nparams` 0 asks for the count.
    pub(crate) fn block_stats_flags(
        &self,
        dom: &DomainRef,
        path: &str,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        check_flags(flags, STRING_OKAY, "qemuDomainBlockStatsFlags")?;
        let (run, def) = self.active_def(dom)?;
        let g = self.gather(&run, &def, path, false)?;
        let all = [
            ("wr_bytes", g.wr_bytes),
            ("wr_operations", g.wr_req),
            ("rd_bytes", g.rd_bytes),
            ("rd_operations", g.rd_req),
            ("flush_operations", g.flush_req),
            ("wr_total_times", g.wr_total_times),
            ("rd_total_times", g.rd_total_times),
            ("flush_total_times", g.flush_total_times),
        ];
        let mut out = Vec::new();
        for (field, v) in all {
            let v = i64::try_from(v).map_err(|_| {
                Error::new(
                    code::OVERFLOW,
                    FROM,
                    format!("value of '{}' is too large", field),
                )
            })?;
            out.push(TypedParam::new(field, TypedValue::LLong(v)));
        }
        if nparams == 0 {
            // The count travels as the length of the list.
            return Ok(out);
        }
        out.truncate(usize::try_from(nparams).unwrap_or(0));
        Ok(out)
    }

    /// virDomainGetBlockInfo (qemuDomainGetBlockInfo).
    pub(crate) fn block_info(&self, dom: &DomainRef, path: &str, flags: u32) -> Result<BlockInfo> {
        check_flags(flags, 0, "qemuDomainGetBlockInfo")?;
        let (active, def, run) = {
            let st = self.read(dom)?;
            let obj = st.dom(dom)?;
            (obj.is_active(), obj.def.clone(), obj.run.clone())
        };
        let disk = disk_index(&def, path, false)
            .map(|i| &def.devices.disks[i])
            .ok_or_else(|| {
                Error::invalid_arg(
                    FROM,
                    format!("invalid path {} not assigned to domain", path),
                )
            })?;
        if is_vhostuser(disk) {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                "block info is not supported for vhostuser disk",
            ));
        }
        if disk.source.as_deref().unwrap_or("").is_empty() {
            return Err(Error::invalid_arg(
                FROM,
                format!("disk '{}' does not currently have a source assigned", path),
            ));
        }
        let (Some(run), true) = (run, active) else {
            let src = local_source(disk).ok_or_else(|| {
                Error::new(
                    code::OPERATION_UNSUPPORTED,
                    FROM,
                    "block info of a network disk of an inactive domain is not supported",
                )
            })?;
            return offline_info(src, format_of(disk));
        };
        let e = self.gather(&run, &def, path, true)?;
        let mut allocation = match e.wr_highest_offset {
            None => e.physical,
            Some(_) if is_file_type(disk) && format_of(disk) == "qcow2" => e.physical,
            Some(off) => off,
        };
        let physical;
        if e.physical == 0 || allocation == 0 || allocation == e.physical {
            if allocation == 0 {
                allocation = e.physical;
            }
            physical = local_source(disk)
                .and_then(|p| physical_size(p).ok())
                .unwrap_or(e.physical);
        } else {
            physical = e.physical;
        }
        Ok(BlockInfo {
            capacity: e.capacity,
            allocation,
            physical,
        })
    }

    /// virDomainBlockResize (qemuDomainBlockResize): `size` in KiB unless
    /// VIR_DOMAIN_BLOCK_RESIZE_BYTES; QMP `block_resize` on the disk's
    /// format node.
    pub(crate) fn block_resize(
        &self,
        dom: &DomainRef,
        path: &str,
        size: u64,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, RESIZE_BYTES, "qemuDomainBlockResize")?;
        let mut size = size;
        if flags & RESIZE_BYTES == 0 {
            size = size.checked_mul(1024).ok_or_else(|| {
                Error::new(
                    code::OVERFLOW,
                    FROM,
                    format!("size must be less than {}", u64::MAX / 1024),
                )
            })?;
        }
        let _job = self.begin_job(dom)?;
        let (run, def) = self.active_def(dom)?;
        let i = disk_index(&def, path, false).ok_or_else(|| {
            Error::invalid_arg(
                FROM,
                format!("disk '{}' was not found in the domain config", path),
            )
        })?;
        let disk = &def.devices.disks[i];
        if is_vhostuser(disk) {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                "block resize is not supported for vhostuser disk",
            ));
        }
        if matches!(format_of(disk), "qcow2" | "qed") {
            size = size.div_ceil(512).saturating_mul(512);
        }
        if disk.source.as_deref().unwrap_or("").is_empty() || is_readonly(disk) {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                format!(
                    "can't resize empty or readonly disk '{}'",
                    disk.target_dev.as_deref().unwrap_or("")
                ),
            ));
        }
        let node = inserted_node(&run, &def, i).map_err(|alias| no_stats(&alias))?;
        run.qmp
            .execute_value(
                "block_resize",
                Some(json!({"node-name": node, "size": size})),
            )
            .map_err(qmp_err)?;
        Ok(())
    }

    /// virDomainBlockPeek (qemuDomainBlockPeek): `size` bytes of a raw
    /// disk's image from `offset`, active or not.
    pub(crate) fn block_peek(
        &self,
        dom: &DomainRef,
        path: &str,
        offset: u64,
        size: u64,
        flags: u32,
    ) -> Result<Vec<u8>> {
        check_flags(flags, 0, "qemuDomainBlockPeek")?;
        let def = {
            let st = self.read(dom)?;
            st.dom(dom)?.def.clone()
        };
        let disk = disk_index(&def, path, true)
            .map(|i| &def.devices.disks[i])
            .ok_or_else(|| {
                Error::invalid_arg(FROM, format!("disk '{}' not found in domain", path))
            })?;
        if is_vhostuser(disk) {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                "peeking is not supported for vhostuser disk",
            ));
        }
        let format = format_of(disk);
        if format != "raw" {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                format!(
                    "peeking is only supported for disk with 'raw' format not '{}'",
                    format
                ),
            ));
        }
        let src = local_source(disk).ok_or_else(|| {
            Error::internal(
                FROM,
                format!(
                    "storage file reading is not supported for storage type {}",
                    disk.disk_type.as_deref().unwrap_or("file")
                ),
            )
        })?;
        // virStorageFileBackendFileRead's errors (the storage file
        // backend's domain); a read of 0 bytes fails with EINVAL there.
        let sys = |what: &str, e: &std::io::Error| {
            Error::system(
                oxvirt_core::error::from::STORAGE,
                format!("{} '{}'", what, src),
                e,
            )
        };
        let mut f = std::fs::File::open(src).map_err(|e| sys("Failed to open file", &e))?;
        if offset > 0 {
            f.seek(SeekFrom::Start(offset))
                .map_err(|e| sys("cannot seek into", &e))?;
        }
        if size == 0 {
            return Err(sys(
                "cannot read header",
                &std::io::Error::from_raw_os_error(libc::EINVAL),
            ));
        }
        // Grown as read: never more than the file holds.
        let mut buf = Vec::new();
        (&mut f)
            .take(size)
            .read_to_end(&mut buf)
            .map_err(|e| sys("cannot read header", &e))?;
        if (buf.len() as u64) < size {
            return Err(Error::invalid_arg(
                FROM,
                format!(
                    "'{}' starting from {} has only {} bytes available",
                    path,
                    offset,
                    buf.len()
                ),
            ));
        }
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qdev_names_match_ids_and_qom_paths() {
        assert!(qdev_is("virtio-disk0", "virtio-disk0"));
        assert!(qdev_is(
            "/machine/peripheral/virtio-disk0/virtio-backend",
            "virtio-disk0"
        ));
        assert!(!qdev_is(
            "/machine/peripheral/virtio-disk10/virtio-backend",
            "virtio-disk1"
        ));
        assert!(!qdev_is("ide0-0-1", "ide0-0-0"));
    }

    #[test]
    fn offline_sizes_read_the_header() {
        let dir = std::env::temp_dir().join(format!("oxvirt-blockinfo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let raw = dir.join("raw.img");
        let f = std::fs::File::create(&raw).unwrap();
        f.set_len(50 << 20).unwrap();
        let i = offline_info(raw.to_str().unwrap(), "raw").unwrap();
        assert_eq!((i.capacity, i.physical), (50 << 20, 50 << 20));
        assert!(i.allocation < 1 << 20);
        // A qcow2 header claiming 1 GiB.
        let q = dir.join("q.qcow2");
        let mut h = vec![0u8; 512];
        h[..4].copy_from_slice(b"QFI\xfb");
        h[24..32].copy_from_slice(&(1u64 << 30).to_be_bytes());
        std::fs::write(&q, &h).unwrap();
        let i = offline_info(q.to_str().unwrap(), "qcow2").unwrap();
        assert_eq!((i.capacity, i.physical), (1 << 30, 512));
        let e = offline_info(dir.join("none").to_str().unwrap(), "raw").unwrap_err();
        assert_eq!(e.code, code::SYSTEM_ERROR);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
