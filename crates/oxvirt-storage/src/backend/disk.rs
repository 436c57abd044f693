//! Partitioned disk pools (libvirt's storage_backend_disk.c): the pool is
//! a block device with a partition table, each partition a volume.
//! Partitions are read and written with parted (libvirt reads them with
//! its own libparted helper; parted prints the same libparted view).

use std::path::Path;

use oxvirt_core::error::code;
use oxvirt_core::types::flags::pool_build;
use oxvirt_core::{Error, Result};
use oxvirt_host::Command;
use oxvirt_xml::storage::{Extent, Pool, VolTarget, VolType, Volume};

use super::{Backend, Vols};
use crate::backend::logical::zero_partition_table;
use crate::objects::FROM;
use crate::volume;
use crate::{wipe, Ctx};

pub struct DiskBackend;
pub static DISK: DiskBackend = DiskBackend;

const SECTOR: u64 = 512;

fn device(def: &Pool) -> String {
    def.source
        .devices
        .first()
        .map(|d| d.path.clone())
        .unwrap_or_default()
}

/// The on-disk label name of a pool format ("dos" is "msdos" to parted).
fn format_name(def: &Pool) -> String {
    match def.source.format.as_deref() {
        None | Some("unknown") => "dos".into(),
        Some(f) => f.to_string(),
    }
}

/// One row of parted's table, as libvirt's helper classifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Device path, or None for free space.
    pub path: Option<String>,
    pub number: u32,
    /// "normal", "logical" or "extended".
    pub kind: &'static str,
    /// "data", "metadata" or "free".
    pub content: &'static str,
    pub start: u64,
    /// Exclusive end.
    pub end: u64,
}

fn parse_bytes(s: &str) -> Option<u64> {
    s.strip_suffix('B')?.parse().ok()
}

/// The partition device for number `n` of `dev` (parthelper's naming).
pub fn part_path(dev: &str, n: u32, separator: bool) -> String {
    let canonical = std::fs::canonicalize(dev)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| dev.to_string());
    let sep = if separator || canonical.ends_with(|c: char| c.is_ascii_digit()) {
        "p"
    } else {
        ""
    };
    format!("{}{}{}", canonical, sep, n)
}

/// Parses `parted -s DEV unit B print free` (text form, which names the
/// partition types of msdos labels).
pub fn parse_print(dev: &str, text: &str, separator: bool) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut in_table = false;
    let mut extended: Option<(u64, u64)> = None;
    let mut rows: Vec<Vec<String>> = Vec::new();
    for line in text.lines() {
        if line.starts_with("Number") {
            in_table = true;
            continue;
        }
        if !in_table || line.trim().is_empty() {
            continue;
        }
        rows.push(line.split_whitespace().map(str::to_string).collect());
    }
    for r in &rows {
        if r.first().and_then(|n| n.parse::<u32>().ok()).is_some()
            && r.iter().any(|c| c == "extended")
        {
            if let (Some(s), Some(e)) = (parse_bytes(&r[1]), parse_bytes(&r[2])) {
                extended = Some((s, e + 1));
            }
        }
    }
    for r in rows {
        if r.len() >= 3 && r.ends_with(&["Free".to_string(), "Space".to_string()]) {
            let (Some(s), Some(e)) = (parse_bytes(&r[0]), parse_bytes(&r[1])) else {
                continue;
            };
            let logical = extended.is_some_and(|(a, b)| s >= a && e < b);
            parts.push(Part {
                path: None,
                number: 0,
                kind: if logical { "logical" } else { "normal" },
                content: "free",
                start: s,
                end: e + 1,
            });
            continue;
        }
        let Some(n) = r.first().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if r.len() < 3 {
            continue;
        }
        let (Some(s), Some(e)) = (parse_bytes(&r[1]), parse_bytes(&r[2])) else {
            continue;
        };
        let (kind, content) = if r.iter().skip(4).take(1).any(|c| c == "extended") {
            ("extended", "metadata")
        } else if r.iter().skip(4).take(1).any(|c| c == "logical") {
            ("logical", "data")
        } else {
            ("normal", "data")
        };
        parts.push(Part {
            path: Some(part_path(dev, n, separator)),
            number: n,
            kind,
            content,
            start: s,
            end: e + 1,
        });
    }
    parts
}

/// Reads the device's geometry (heads, sectors) from parted.
fn geometry(dev: &str) -> Result<(u64, u64)> {
    let mut cmd = Command::new(crate::tool("parted"), FROM);
    cmd.args(["-s", "-m", dev, "unit", "chs", "print"])
        .env("LC_ALL", "C");
    let out = cmd.run()?;
    // "CYL:HEADS:SECTORS:CYLSIZE;" is the second line.
    for line in out.stdout.lines().skip(2).take(1) {
        let f: Vec<&str> = line.trim_end_matches(';').split(':').collect();
        if f.len() >= 3 {
            if let (Ok(h), Ok(s)) = (f[1].parse::<u64>(), f[2].parse::<u64>()) {
                return Ok((h, s));
            }
        }
    }
    Err(Error::internal(FROM, "Failed to create disk pool geometry"))
}

fn read_parts(def: &Pool) -> Result<Vec<Part>> {
    let dev = device(def);
    let sep = def
        .source
        .devices
        .first()
        .and_then(|d| d.part_separator)
        .unwrap_or(false);
    let mut cmd = Command::new(crate::tool("parted"), FROM);
    cmd.args(["-s", &dev, "unit", "B", "print", "free"])
        .env("LC_ALL", "C");
    let out = cmd.run()?;
    Ok(parse_print(&dev, &out.stdout, sep))
}

/// The device size parted reports ("Disk /dev/x: NB").
fn disk_size(dev: &str) -> Result<u64> {
    let mut cmd = Command::new(crate::tool("parted"), FROM);
    cmd.args(["-s", "-m", dev, "unit", "B", "print"])
        .env("LC_ALL", "C");
    let out = cmd.run()?;
    out.stdout
        .lines()
        .nth(1)
        .and_then(|l| l.split(':').nth(1))
        .and_then(parse_bytes)
        .ok_or_else(|| Error::internal(FROM, "cannot read the disk size"))
}

/// libparted keeps the last partial cylinder of an msdos disk as
/// metadata; parted's listing shows it as free space. Clip it off.
fn clip_to_cylinders(parts: &mut Vec<Part>, size: u64, heads: u64, sectors: u64) {
    let cyl = heads * sectors * SECTOR;
    if cyl == 0 {
        return;
    }
    let limit = size / cyl * cyl;
    parts.retain_mut(|p| {
        if p.content == "free" && p.end > limit {
            p.end = limit;
        }
        p.content != "free" || p.start < p.end
    });
}

/// The partitions and free space as libparted sees them.
fn layout(def: &Pool) -> Result<Vec<Part>> {
    let mut parts = read_parts(def)?;
    if format_name(def) == "dos" {
        let dev = device(def);
        let (h, s) = geometry(&dev)?;
        clip_to_cylinders(&mut parts, disk_size(&dev)?, h, s);
    }
    Ok(parts)
}

/// virStorageBackendDiskReadPartitions: volumes, free extents and sizes.
fn read_partitions(def: &mut Pool) -> Result<Vols> {
    let parts = layout(def)?;
    def.allocation = 0;
    def.capacity = 0;
    def.available = 0;
    let mut vols: Vec<Volume> = Vec::new();
    let mut free = Vec::new();
    let dev = device(def);
    for p in &parts {
        if p.content == "free" {
            let start = if p.start == 0 { SECTOR } else { p.start };
            def.available = def.available.wrapping_add(p.end.wrapping_sub(start));
            def.capacity = def.capacity.max(p.end);
            free.push((start, p.end, p.kind == "logical"));
            continue;
        }
        let Some(path) = &p.path else { continue };
        let name = Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut vol = Volume {
            kind: VolType::Block,
            name,
            key: Some(path.clone()),
            capacity: 0,
            allocation: 0,
            physical: 0,
            has_allocation: false,
            has_capacity: false,
            extents: vec![Extent {
                path: dev.clone(),
                start: p.start,
                end: p.end,
            }],
            target: VolTarget {
                path: Some(path.clone()),
                format: Some("none".into()),
                ..Default::default()
            },
            backing: None,
        };
        if p.kind == "extended" {
            volume::update_vol_info(
                &mut vol,
                volume::OpenFlags {
                    noerror: true,
                    ..volume::OPEN_DEFAULT
                },
                None,
            )?;
            vol.allocation = 0;
            vol.capacity = p.end - p.start;
        } else {
            volume::update_vol_info(&mut vol, volume::OPEN_DEFAULT, None)?;
        }
        if p.kind == "logical" {
            if let Some(ext) = vols
                .iter_mut()
                .find(|v| v.target.format.as_deref() == Some("extended") || is_extended(&parts, v))
            {
                ext.allocation = ext.allocation.wrapping_add(vol.allocation);
            }
        }
        if p.content != "metadata" {
            def.allocation = def.allocation.wrapping_add(vol.allocation);
        }
        def.capacity = def.capacity.max(p.end);
        vols.push(vol);
    }
    if let Some(d) = def.source.devices.first_mut() {
        d.free_extents = free.iter().map(|(s, e, _)| (*s, *e)).collect();
    }
    Ok(vols)
}

fn is_extended(parts: &[Part], v: &Volume) -> bool {
    parts
        .iter()
        .any(|p| p.kind == "extended" && p.path.as_deref() == v.target.path.as_deref())
}

/// The free extents with their kind, for placing a new partition.
fn free_extents(parts: &[Part]) -> Vec<(u64, u64, bool)> {
    parts
        .iter()
        .filter(|p| p.content == "free")
        .map(|p| {
            (
                if p.start == 0 { SECTOR } else { p.start },
                p.end,
                p.kind == "logical",
            )
        })
        .collect()
}

/// virStorageBackendDiskPartBoundaries
fn boundaries(
    dos: bool,
    logical: bool,
    free: &[(u64, u64, bool)],
    allocation: u64,
    heads: u64,
    sectors: u64,
) -> Result<(u64, u64)> {
    let cyl = (heads * sectors * SECTOR).max(1);
    let extra = cyl - (allocation % cyl);
    let mut best: Option<(usize, u64, u64)> = None;
    for (i, (start, end, is_logical)) in free.iter().enumerate() {
        let mut size = end.wrapping_sub(*start);
        let mut needed = allocation;
        if dos {
            needed += extra;
            if start % cyl > extra {
                needed += cyl;
            }
            if logical {
                size = size.wrapping_sub(SECTOR);
            }
        }
        if size > needed && best.is_none_or(|(_, s, _)| size < s) {
            if logical && !is_logical {
                continue;
            }
            if !logical && *is_logical {
                continue;
            }
            best = Some((i, size, needed));
        }
    }
    let Some((i, _, aligned)) = best else {
        return Err(Error::internal(FROM, "no large enough free extent"));
    };
    let mut start = free[i].0;
    if logical {
        start += SECTOR;
    }
    let mut end = start + aligned;
    if dos {
        end -= start % cyl;
    }
    Ok((start, end - 1))
}

impl DiskBackend {
    fn check_label(def: &Pool, path: &str) -> Result<()> {
        crate::probefs::device_is_empty(path, &format_name(def), false)
    }
}

impl Backend for DiskBackend {
    fn has_build_pool(&self) -> bool {
        true
    }

    fn check_pool(&self, def: &mut Pool) -> Result<bool> {
        let path = device(def);
        if !Path::new(&path).exists() {
            return Ok(false);
        }
        if def.source.format.as_deref().is_none_or(|f| f == "unknown") {
            def.source.format = Some("dos".into());
        }
        Self::check_label(def, &path)?;
        Ok(true)
    }

    fn start_pool(&self, def: &mut Pool) -> Result<()> {
        let path = device(def);
        if !Path::new(&path).exists() {
            return Err(Error::invalid_arg(
                FROM,
                format!("device path '{}' doesn't exist", path),
            ));
        }
        if def.source.format.as_deref().is_none_or(|f| f == "unknown") {
            def.source.format = Some("dos".into());
        }
        Self::check_label(def, &path)
    }

    fn build_pool(&self, def: &mut Pool, flags: u32) -> Result<()> {
        let allowed = pool_build::OVERWRITE | pool_build::NO_OVERWRITE;
        oxvirt_core::error::check_flags(flags, allowed, "virStorageBackendDiskBuildPool", FROM)?;
        if flags & allowed == allowed {
            return Err(Error::invalid_arg(
                FROM,
                "Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and 'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive",
            ));
        }
        let path = device(def);
        let fmt = format_name(def);
        if flags & pool_build::OVERWRITE == 0 {
            crate::probefs::device_is_empty(&path, &fmt, true)?;
        }
        zero_partition_table(&path, 1024 * 1024)?;
        if def.source.format.as_deref().is_none_or(|f| f == "unknown") {
            def.source.format = Some("dos".into());
        }
        let label = match format_name(def).as_str() {
            "dos" => "msdos".to_string(),
            f => f.to_string(),
        };
        let mut cmd = Command::new(crate::tool("parted"), FROM);
        cmd.args([path.as_str(), "mklabel", "--script", &label]);
        cmd.run()?;
        Ok(())
    }

    fn delete_pool(&self, def: &Pool, flags: u32) -> Result<()> {
        oxvirt_core::error::check_flags(flags, 0, "virStorageBackendDiskDeletePool", FROM)?;
        zero_partition_table(&device(def), 1024 * 1024)
    }

    fn refresh_pool(&self, _ctx: &Ctx, def: &mut Pool) -> Result<Vols> {
        if let Some(d) = def.source.devices.first_mut() {
            d.free_extents.clear();
        }
        let path = device(def);
        if !Path::new(&path).exists() {
            return Err(Error::invalid_arg(
                FROM,
                format!("device path '{}' doesn't exist", path),
            ));
        }
        geometry(&path)?;
        read_partitions(def)
    }

    fn create_vol(
        &self,
        ctx: &Ctx,
        def: &mut Pool,
        vol: &mut Volume,
        vols: &[Volume],
    ) -> Result<()> {
        let dev = device(def);
        if let Some(e) = &vol.target.encryption {
            if e.format != "luks" {
                return Err(Error::new(
                    code::CONFIG_UNSUPPORTED,
                    FROM,
                    "storage pool only supports LUKS encrypted volumes",
                ));
            }
        }
        let dos = format_name(def) == "dos";
        let parts = layout(def)?;
        let has_extended = parts.iter().any(|p| p.kind == "extended");
        let primaries = parts
            .iter()
            .filter(|p| p.path.is_some() && (p.kind == "normal" || p.kind == "extended"))
            .count();
        let vol_format = vol.target.format.clone().unwrap_or_else(|| "none".into());
        let parted_fs = match vol_format.as_str() {
            "fat16" => "fat16",
            "fat32" => "fat32",
            "linux-swap" => "linux-swap",
            "extended" => "extended",
            _ => "ext2",
        };
        let mut logical = false;
        let part_format = if dos {
            if vol_format == "extended" {
                if has_extended {
                    return Err(Error::internal(FROM, "extended partition already exists"));
                }
                parted_fs.to_string()
            } else if primaries >= 4 {
                if !has_extended {
                    return Err(Error::internal(
                        FROM,
                        "no extended partition found and no primary partition available",
                    ));
                }
                logical = true;
                format!("logical {}", parted_fs)
            } else {
                format!("primary {}", parted_fs)
            }
        } else {
            "primary".to_string()
        };
        let _ = vols;
        let (heads, sectors) = geometry(&dev)?;
        let mut capacity = vol.capacity;
        if vol.target.encryption.is_some() {
            capacity += 2 * 1024 * 1024;
        }
        let (start, end) = boundaries(
            dos,
            logical,
            &free_extents(&parts),
            capacity,
            heads,
            sectors,
        )?;
        let mut cmd = Command::new(crate::tool("parted"), FROM);
        cmd.args([dev.as_str(), "mkpart", "--script", &part_format]);
        cmd.args([format!("{}B", start), format!("{}B", end)]);
        cmd.run()?;
        // The new partition is the one that starts where we asked.
        let after = read_parts(def)?;
        let Some(p) = after
            .iter()
            .find(|p| p.path.is_some() && !parts.iter().any(|q| q.path == p.path))
        else {
            return Err(Error::internal(FROM, "cannot find the new partition"));
        };
        let path = p.path.clone().unwrap_or_default();
        let partname = Path::new(&path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if partname != vol.name {
            let _ = rm_partition(&dev, &path);
            return Err(Error::invalid_arg(
                FROM,
                format!(
                    "invalid partition name '{}', expected '{}'",
                    vol.name, partname
                ),
            ));
        }
        vol.kind = VolType::Block;
        vol.target.path = Some(path.clone());
        vol.key = Some(path.clone());
        vol.extents = vec![Extent {
            path: dev.clone(),
            start: p.start,
            end: p.end,
        }];
        volume::update_vol_info(vol, volume::OPEN_DEFAULT, None)?;
        if vol.target.encryption.is_some() {
            vol.capacity = vol.capacity.saturating_sub(2 * 1024 * 1024);
            vol.allocation = vol.allocation.saturating_sub(2 * 1024 * 1024);
            let mut v = vol.clone();
            if v.target.format.as_deref() == Some("none") {
                v.target.format = Some("raw".into());
            }
            if let Err(e) = crate::backend::fs::create_qemu_img(ctx, def, &v, &path, None, 0) {
                let _ = rm_partition(&dev, &path);
                return Err(e);
            }
        }
        Ok(())
    }

    fn build_vol_from(
        &self,
        ctx: &Ctx,
        def: &Pool,
        vol: &Volume,
        input: &Volume,
        flags: u32,
    ) -> Result<()> {
        crate::backend::fs::copy_into_block(ctx, def, vol, input, flags)
    }

    fn delete_vol(
        &self,
        ctx: &Ctx,
        def: &mut Pool,
        vol: &Volume,
        flags: u32,
    ) -> Result<Option<Vols>> {
        oxvirt_core::error::check_flags(flags, 0, "virStorageBackendDiskDeleteVol", FROM)?;
        let dev = device(def);
        let Some(path) = vol.target.path.clone() else {
            return Err(Error::invalid_arg(
                FROM,
                format!("volume target path empty for source path '{}'", dev),
            ));
        };
        rm_partition(&dev, &path)?;
        self.refresh_pool(ctx, def).map(Some)
    }

    fn wipe_vol(&self, def: &Pool, vol: &Volume, algorithm: u32, flags: u32) -> Result<()> {
        let extended = vol.target.format.as_deref() == Some("extended")
            || read_parts(def)?
                .iter()
                .any(|p| p.kind == "extended" && p.path.as_deref() == vol.target.path.as_deref());
        if extended {
            return Err(Error::new(
                code::NO_SUPPORT,
                FROM,
                format!(
                    "cannot wipe extended partition '{}'",
                    vol.target.path.as_deref().unwrap_or("")
                ),
            ));
        }
        oxvirt_core::error::check_flags(flags, 0, "virStorageBackendVolWipeLocal", FROM)?;
        wipe::wipe_file(
            vol.target.path.as_deref().unwrap_or(""),
            algorithm,
            vol.allocation,
            false,
        )
    }

    fn can_transfer(&self) -> bool {
        true
    }
}

/// `parted DEV rm --script N` for the partition at `path`.
fn rm_partition(dev: &str, path: &str) -> Result<()> {
    let resolved = std::fs::canonicalize(path)
        .map_err(|e| {
            Error::system(
                FROM,
                format!("Couldn't read volume target path '{}'", path),
                &e,
            )
        })?
        .to_string_lossy()
        .into_owned();
    let dev_name = Path::new(&resolved)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let src_name = Path::new(dev)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(mut num) = dev_name.strip_prefix(&src_name) else {
        return Err(Error::internal(
            FROM,
            format!(
                "Volume path '{}' did not start with parent pool source device name.",
                dev_name
            ),
        ));
    };
    // loop0p1, nvme0n1p1: the separator is not part of the number.
    if let Some(n) = num.strip_prefix('p') {
        if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) {
            num = n;
        }
    }
    if num.is_empty() {
        return Err(Error::internal(
            FROM,
            format!("cannot parse partition number from target '{}'", dev_name),
        ));
    }
    let mut cmd = Command::new(crate::tool("parted"), FROM);
    cmd.args([dev, "rm", "--script", num]);
    cmd.run()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRINT: &str = "Model: Loopback device (loopback)
Disk /dev/loopX: 104857600B
Sector size (logical/physical): 512B/512B
Partition Table: msdos
Disk Flags: 

Number  Start      End         Size       Type      File system  Flags
        1024B      1048575B    1047552B             Free Space
 1      1048576B   20971519B   19922944B  primary
 2      20971520B  83886079B   62914560B  extended               lba
        20972544B  21934079B   961536B              Free Space
 5      22020096B  41943039B   19922944B  logical
        41943040B  83886079B   41943040B            Free Space
        83886080B  104857599B  20971520B            Free Space
";

    #[test]
    fn parses_parted_tables() {
        let p = parse_print("/dev/loopX", PRINT, false);
        let kinds: Vec<(&str, &str, u64, u64)> = p
            .iter()
            .map(|p| (p.kind, p.content, p.start, p.end))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("normal", "free", 1024, 1048576),
                ("normal", "data", 1048576, 20971520),
                ("extended", "metadata", 20971520, 83886080),
                ("logical", "free", 20972544, 21934080),
                ("logical", "data", 22020096, 41943040),
                ("logical", "free", 41943040, 83886080),
                ("normal", "free", 83886080, 104857600),
            ]
        );
        assert_eq!(p[1].path.as_deref(), Some("/dev/loopX1"));
        let (s, e) = boundaries(true, false, &free_extents(&p), 10 << 20, 255, 2).unwrap();
        assert!(s >= 83886080 && e < 104857600, "{} {}", s, e);
    }
}
