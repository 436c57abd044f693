//! LVM volume group pools (libvirt's storage_backend_logical.c), through
//! the lvm2 tools: pvcreate/vgcreate to build, vgchange to start and
//! stop, lvs/vgs to refresh, lvcreate/lvremove for volumes.
//!
//! Logical volumes need the kernel's device-mapper; without it lvcreate
//! fails and the pool holds no volumes, which is what the tests here
//! can check.

use oxvirt_core::error::code;
use oxvirt_core::types::flags::pool_build;
use oxvirt_core::{Error, Result};
use oxvirt_host::Command;
use oxvirt_xml::storage::{
    Extent, Pool, PoolSource, PoolType, SourceDevice, VolTarget, VolType, Volume,
};

use super::{Backend, Vols};
use crate::objects::FROM;
use crate::volume::{self, DEFAULT_VOL_MODE};
use crate::{wipe, Ctx};

pub struct LogicalBackend;
pub static LOGICAL: LogicalBackend = LogicalBackend;

fn vg(def: &Pool) -> String {
    def.source.name.clone().unwrap_or_default()
}

fn target(def: &Pool) -> String {
    def.target_path.clone().unwrap_or_default()
}

/// virStorageBackendLogicalGetPoolSources: `pvs` as (VG, PVs) groups.
pub fn pool_sources() -> Result<Vec<PoolSource>> {
    let _ = Command::new(crate::tool("vgscan"), FROM).output();
    let mut cmd = Command::new(crate::tool("pvs"), FROM);
    cmd.args(["--noheadings", "-o", "pv_name,vg_name"]);
    let out = cmd.run()?;
    let mut list: Vec<PoolSource> = Vec::new();
    for line in out.stdout.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 2 {
            continue;
        }
        let (pv, vgname) = (f[0], f[1]);
        let i = match list.iter().position(|s| s.name.as_deref() == Some(vgname)) {
            Some(i) => i,
            None => {
                list.push(PoolSource {
                    name: Some(vgname.to_string()),
                    ..Default::default()
                });
                list.len() - 1
            }
        };
        list[i].devices.push(SourceDevice {
            path: pv.to_string(),
            ..Default::default()
        });
        list[i].format = Some("lvm2".into());
    }
    Ok(list)
}

/// virStorageBackendLogicalMatchPoolSource
fn match_source(def: &Pool) -> Result<()> {
    let list = pool_sources()?;
    let name = vg(def);
    let Some(src) = list
        .iter()
        .find(|s| s.name.as_deref() == Some(name.as_str()))
    else {
        return Err(Error::new(
            code::CONFIG_UNSUPPORTED,
            FROM,
            format!("cannot find logical volume group name '{}'", name),
        ));
    };
    if def.source.devices.is_empty() {
        return Ok(());
    }
    let matched = def
        .source
        .devices
        .iter()
        .filter(|d| src.devices.iter().any(|s| s.path == d.path))
        .count();
    if matched == 0 {
        return Err(Error::new(
            code::CONFIG_UNSUPPORTED,
            FROM,
            format!(
                "cannot find any matching source devices for logical volume group '{}'",
                name
            ),
        ));
    }
    Ok(())
}

fn set_active(def: &Pool, on: bool) -> Result<()> {
    let mut cmd = Command::new(crate::tool("vgchange"), FROM);
    cmd.args([if on { "-aly" } else { "-aln" }.to_string(), vg(def)]);
    cmd.run()?;
    Ok(())
}

fn remove_device(path: &str) {
    let mut cmd = Command::new(crate::tool("pvremove"), FROM);
    cmd.arg(path.to_string());
    if cmd.run().is_err() {
        tracing::info!("Failed to pvremove logical device '{}'", path);
    }
}

/// virStorageBackendZeroPartitionTable: the first and last `len` bytes.
pub fn zero_partition_table(path: &str, len: u64) -> Result<()> {
    wipe::wipe_file(path, 0, len, false)?;
    wipe::wipe_file(path, 0, len, true)
}

/// Parses `lvs` output lines into volumes (virStorageBackendLogicalMakeVol).
pub fn parse_lvs(def: &Pool, out: &str) -> Result<Vec<Volume>> {
    let mut vols: Vec<Volume> = Vec::new();
    for line in out.lines() {
        let line = line.trim();
        let line = line.strip_suffix('#').unwrap_or(line);
        let g: Vec<&str> = line.split('#').collect();
        if g.len() != 10 {
            continue;
        }
        let attrs = g[9].as_bytes();
        if attrs.len() < 5 || attrs[4] != b'a' || attrs[0] == b't' {
            continue;
        }
        let path = format!("{}/{}", target(def), g[0]);
        let mut vol = Volume {
            kind: VolType::Block,
            name: g[0].to_string(),
            key: Some(g[2].to_string()),
            capacity: 0,
            allocation: 0,
            physical: 0,
            has_allocation: false,
            has_capacity: false,
            extents: Vec::new(),
            target: VolTarget {
                path: Some(path),
                ..Default::default()
            },
            backing: None,
        };
        if !g[1].is_empty() && !g[1].starts_with('[') {
            vol.backing = Some(VolTarget {
                path: Some(format!("{}/{}", target(def), g[1])),
                ..Default::default()
            });
        }
        volume::update_vol_info(&mut vol, volume::OPEN_DEFAULT, None)?;
        vol.allocation = g[8]
            .parse()
            .map_err(|_| Error::internal(FROM, "malformed volume allocation value"))?;
        let mut nextents = 1usize;
        if g[4] == "striped" || g[4] == "mirror" || g[4].starts_with("raid") {
            nextents = g[5]
                .parse()
                .map_err(|_| Error::internal(FROM, "malformed volume extent stripes value"))?;
        }
        let length: u64 = g[6]
            .parse()
            .map_err(|_| Error::internal(FROM, "malformed volume extent length value"))?;
        let size: u64 = g[7]
            .parse()
            .map_err(|_| Error::internal(FROM, "malformed volume extent size value"))?;
        let devs: Vec<&str> = g[3].split(',').collect();
        if devs.len() < nextents {
            return Err(Error::internal(
                FROM,
                "malformed volume extent devices value",
            ));
        }
        for d in devs.iter().take(nextents) {
            let (p, off) = d
                .strip_suffix(')')
                .and_then(|d| d.rsplit_once('('))
                .ok_or_else(|| Error::internal(FROM, "malformed volume extent devices value"))?;
            let off: u64 = off
                .parse()
                .map_err(|_| Error::internal(FROM, "malformed volume extent offset value"))?;
            vol.extents.push(Extent {
                path: p.to_string(),
                start: off.wrapping_mul(size),
                end: off.wrapping_mul(size).wrapping_add(length),
            });
        }
        vols.push(vol);
    }
    Ok(vols)
}

fn find_lvs(def: &Pool) -> Result<Vec<Volume>> {
    let mut cmd = Command::new(crate::tool("lvs"), FROM);
    cmd.args([
        "--separator",
        "#",
        "--noheadings",
        "--units",
        "b",
        "--unbuffered",
        "--nosuffix",
        "--options",
        "lv_name,origin,uuid,devices,segtype,stripes,seg_size,vg_extent_size,size,lv_attr",
    ]);
    cmd.arg(vg(def));
    let out = cmd.run()?;
    parse_lvs(def, &out.stdout)
}

impl Backend for LogicalBackend {
    fn has_build_pool(&self) -> bool {
        true
    }

    fn check_pool(&self, def: &mut Pool) -> Result<bool> {
        Ok(std::path::Path::new(&target(def)).exists() && match_source(def).is_ok())
    }

    fn start_pool(&self, def: &mut Pool) -> Result<()> {
        match_source(def)?;
        set_active(def, true)
    }

    fn stop_pool(&self, def: &Pool) -> Result<()> {
        set_active(def, false)
    }

    fn build_pool(&self, def: &mut Pool, flags: u32) -> Result<()> {
        let allowed = pool_build::OVERWRITE | pool_build::NO_OVERWRITE;
        oxvirt_core::error::check_flags(flags, allowed, "virStorageBackendLogicalBuildPool", FROM)?;
        if flags & allowed == allowed {
            return Err(Error::invalid_arg(
                FROM,
                "Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and 'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive",
            ));
        }
        let mut vgcmd = Command::new(crate::tool("vgcreate"), FROM);
        vgcmd.arg(vg(def));
        let mut done = 0;
        let res = (|| -> Result<()> {
            for d in &def.source.devices {
                if flags & pool_build::OVERWRITE == 0 {
                    crate::probefs::device_is_empty(&d.path, "LVM2_member", true)?;
                }
                zero_partition_table(&d.path, 1024 * 1024)?;
                let mut pv = Command::new(crate::tool("pvcreate"), FROM);
                pv.arg(d.path.clone());
                pv.run()?;
                done += 1;
                vgcmd.arg(d.path.clone());
            }
            vgcmd.run()?;
            Ok(())
        })();
        if res.is_err() {
            for d in def.source.devices.iter().take(done) {
                remove_device(&d.path);
            }
        }
        res
    }

    fn delete_pool(&self, def: &Pool, flags: u32) -> Result<()> {
        oxvirt_core::error::check_flags(flags, 0, "virStorageBackendLogicalDeletePool", FROM)?;
        let mut cmd = Command::new(crate::tool("vgremove"), FROM);
        cmd.args(["-f".to_string(), vg(def)]);
        cmd.run()?;
        for d in &def.source.devices {
            remove_device(&d.path);
        }
        Ok(())
    }

    fn refresh_pool(&self, _ctx: &Ctx, def: &mut Pool) -> Result<Vols> {
        let vols = find_lvs(def)?;
        let mut cmd = Command::new(crate::tool("vgs"), FROM);
        cmd.args([
            "--separator",
            ":",
            "--noheadings",
            "--units",
            "b",
            "--unbuffered",
            "--nosuffix",
            "--options",
            "vg_size,vg_free",
        ]);
        cmd.arg(vg(def));
        let out = cmd.run()?;
        for line in out.stdout.lines() {
            let l = line.trim().trim_end_matches(':');
            if let Some((size, free)) = l.split_once(':') {
                if let (Ok(s), Ok(f)) = (size.trim().parse::<u64>(), free.trim().parse::<u64>()) {
                    def.capacity = s;
                    def.available = f;
                    def.allocation = s.wrapping_sub(f);
                }
            }
        }
        Ok(vols)
    }

    fn create_vol(
        &self,
        _ctx: &Ctx,
        def: &mut Pool,
        vol: &mut Volume,
        _vols: &[Volume],
    ) -> Result<()> {
        vol.kind = VolType::Block;
        let path = format!("{}/{}", target(def), vol.name);
        vol.target.path = Some(path.clone());
        if let Some(e) = &vol.target.encryption {
            if e.format != "luks" {
                return Err(Error::new(
                    code::CONFIG_UNSUPPORTED,
                    FROM,
                    "storage pool only supports LUKS encrypted volumes",
                ));
            }
        }
        let mut cmd = Command::new(crate::tool("lvcreate"), FROM);
        cmd.args(["--name".to_string(), vol.name.clone(), "-L".to_string()]);
        let mut capacity = vol.capacity;
        if capacity != vol.allocation {
            cmd.arg(format!("{}K", vol.allocation.max(1).div_ceil(1024)));
            cmd.args(["--type", "snapshot", "--virtualsize"]);
        }
        if vol.target.encryption.is_some() {
            capacity += 2 * 1024 * 1024;
        }
        cmd.arg(format!("{}K", capacity.div_ceil(1024)));
        match &vol.backing {
            Some(b) => {
                cmd.args(["-s".to_string(), b.path.clone().unwrap_or_default()]);
            }
            None => {
                cmd.arg(vg(def));
            }
        }
        cmd.arg("--yes");
        cmd.run()?;
        let res = (|| -> Result<()> {
            let Some((f, _)) = volume::vol_open(&path, volume::OPEN_DEFAULT)? else {
                return Err(Error::internal(FROM, "volume vanished"));
            };
            volume::apply_perms(&f, &path, &vol.target.perms, DEFAULT_VOL_MODE)?;
            let found = find_lvs(def)?;
            let Some(v) = found.into_iter().find(|v| v.name == vol.name) else {
                let e = std::io::Error::from_raw_os_error(libc::ENOENT);
                return Err(Error::system(
                    FROM,
                    format!("cannot find newly created volume '{}'", path),
                    &e,
                ));
            };
            vol.key = v.key;
            vol.extents = v.extents;
            vol.allocation = v.allocation;
            Ok(())
        })();
        if res.is_err() {
            let _ = lv_remove(&path);
        }
        res
    }

    fn delete_vol(
        &self,
        _ctx: &Ctx,
        _def: &mut Pool,
        vol: &Volume,
        flags: u32,
    ) -> Result<Option<Vols>> {
        oxvirt_core::error::check_flags(flags, 0, "virStorageBackendLogicalDeleteVol", FROM)?;
        lv_remove(vol.target.path.as_deref().unwrap_or(""))?;
        Ok(None)
    }

    fn wipe_vol(&self, _def: &Pool, vol: &Volume, algorithm: u32, flags: u32) -> Result<()> {
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

    fn has_find_sources(&self) -> bool {
        true
    }

    fn find_sources(&self, _spec: Option<&str>, flags: u32) -> Result<String> {
        oxvirt_core::error::check_flags(flags, 0, "virStorageBackendLogicalFindPoolSources", FROM)?;
        Ok(oxvirt_xml::storage::format_sources(
            PoolType::Logical,
            &pool_sources()?,
        ))
    }
}

fn lv_remove(path: &str) -> Result<()> {
    let mut rm = Command::new(crate::tool("lvremove"), FROM);
    rm.args(["-f", path]);
    if rm.run().is_err() {
        let mut ch = Command::new(crate::tool("lvchange"), FROM);
        ch.args(["-aln", path]);
        ch.run()?;
        rm.run()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lvs_lines_like_libvirt() {
        let p = Pool::parse(
            "<pool type='logical'><name>vg0</name><source><device path='/dev/sdb'/></source></pool>",
        )
        .unwrap();
        // Inactive and thin lines are skipped without touching devices.
        let out = "  lv1##abc#/dev/sdb(0)#linear#1#4194304#4194304#4194304#-wi------\n  t1##u#/dev/sdb(5)#thin#1#1#1#1#twi-a-----\n";
        assert!(parse_lvs(&p, out).unwrap().is_empty());
    }
}
