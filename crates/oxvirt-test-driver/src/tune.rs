//! vCPU and emulator pinning, IOThreads, CPU statistics, control info and
//! block I/O tuning (testDomainGetVcpus, testDomainPin*, testDomain*IOThread*,
//! testDomainGetCPUStats, testDomainGetControlInfo, testDomain*BlkioParameters).

use oxvirt_core::error::code;
use oxvirt_core::types::flags::affect::{CONFIG, LIVE};
use oxvirt_core::types::{ControlInfo, DomainRef, IoThreadInfo, TypedParam, TypedValue, VcpuInfo};
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::{BlkioDevice, Domain};

use crate::domains::{check_flags, now_micros};
use crate::state::{Driver, IoThreadState, FROM};

/// TEST_TOTAL_CPUTIME
const TOTAL_CPUTIME: u64 = 48_772_617_035;

/// A cpumap of `maplen` bytes with `cpus` set.
pub(crate) fn to_map(cpus: &[u32], maplen: usize) -> Vec<u8> {
    let mut m = vec![0u8; maplen];
    for c in cpus {
        let (byte, bit) = ((*c / 8) as usize, c % 8);
        if byte < maplen {
            m[byte] |= 1 << bit;
        }
    }
    m
}

/// The CPUs set in a cpumap.
pub(crate) fn from_map(map: &[u8]) -> Vec<u32> {
    let mut v = Vec::new();
    for (i, b) in map.iter().enumerate() {
        for bit in 0..8 {
            if b & (1 << bit) != 0 {
                v.push(i as u32 * 8 + bit);
            }
        }
    }
    v
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::invalid_arg(FROM, msg)
}

impl Driver {
    fn host_cpus(&self) -> u32 {
        let st = self.lock();
        st.node.nodes * st.node.sockets * st.node.cores * st.node.threads
    }

    fn all_cpus(&self) -> Vec<u32> {
        (0..self.host_cpus()).collect()
    }

    pub fn get_vcpus(
        &self,
        dom: &DomainRef,
        maxinfo: i32,
        maplen: i32,
    ) -> Result<(Vec<VcpuInfo>, Vec<u8>)> {
        let all = self.all_cpus();
        let st = self.lock();
        let obj = st.dom(dom)?;
        if !obj.is_active() {
            return Err(Error::operation_invalid(
                FROM,
                "cannot list vcpus for an inactive domain",
            ));
        }
        let def = &obj.def;
        let n = (maxinfo.max(0) as u32).min(def.vcpu.current);
        let maplen = maplen.max(0) as usize;
        let base = now_micros() / 10;
        let mut infos = Vec::new();
        let mut maps = Vec::new();
        for i in 0..n {
            let cpus = def
                .vcpupin(i)
                .or_else(|| def.cpumask())
                .unwrap_or_else(|| all.clone());
            maps.extend(to_map(&cpus, maplen));
            infos.push(VcpuInfo {
                number: i,
                state: 1,
                cpu_time: base * 1000,
                cpu: cpus.last().map(|c| *c as i32).unwrap_or(-1),
            });
        }
        Ok((infos, maps))
    }

    pub fn pin_vcpu(&self, dom: &DomainRef, vcpu: u32, cpumap: &[u8], flags: u32) -> Result<()> {
        check_flags(flags, 0, "testDomainPinVcpuFlags")?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        if !obj.is_active() {
            return Err(Error::operation_invalid(
                FROM,
                "cannot pin vcpus on an inactive domain",
            ));
        }
        if vcpu >= obj.def.vcpu.current {
            return Err(invalid(format!(
                "requested vcpu '{}' is not present in the domain",
                vcpu
            )));
        }
        let cpus = from_map(cpumap);
        obj.def.set_vcpupin(vcpu, Some(&cpus));
        Ok(())
    }

    pub fn vcpu_pin_info(
        &self,
        dom: &DomainRef,
        ncpumaps: i32,
        maplen: i32,
        flags: u32,
    ) -> Result<(Vec<u8>, i32)> {
        let all = self.all_cpus();
        let st = self.lock();
        let def = st.dom(dom)?.one_def(flags)?;
        let n = (ncpumaps.max(0) as u32).min(def.vcpu.max);
        let mut maps = Vec::new();
        for i in 0..n {
            let cpus = def
                .vcpupin(i)
                .or_else(|| def.cpumask())
                .unwrap_or_else(|| all.clone());
            maps.extend(to_map(&cpus, maplen.max(0) as usize));
        }
        Ok((maps, n as i32))
    }

    pub fn pin_emulator(&self, dom: &DomainRef, cpumap: &[u8], flags: u32) -> Result<()> {
        check_flags(flags, LIVE | CONFIG, "testDomainPinEmulator")?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        let def = obj.one_def_mut(flags)?;
        let cpus = from_map(cpumap);
        if cpus.is_empty() {
            return Err(invalid("Empty cpu list for pinning"));
        }
        def.set_emulatorpin(Some(&cpus));
        Ok(())
    }

    pub fn emulator_pin_info(
        &self,
        dom: &DomainRef,
        maplen: i32,
        flags: u32,
    ) -> Result<(Vec<u8>, i32)> {
        check_flags(flags, LIVE | CONFIG, "testDomainGetEmulatorPinInfo")?;
        let all = self.all_cpus();
        let st = self.lock();
        let def = st.dom(dom)?.one_def(flags)?;
        let cpus = def.emulatorpin().or_else(|| def.cpumask()).unwrap_or(all);
        Ok((to_map(&cpus, maplen.max(0) as usize), 1))
    }

    /// Totals when `start_cpu` is -1; with `ncpus` 0, one empty entry per
    /// host CPU (the count query).
    pub fn cpu_stats(
        &self,
        dom: &DomainRef,
        start_cpu: i32,
        ncpus: u32,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<Vec<TypedParam>>> {
        check_flags(flags, 4, "testDomainGetCPUStats")?;
        let cores = self.lock().node.cores;
        let st = self.lock();
        st.dom(dom)?.check_active()?;
        let ull = |f: &str, v: u64| TypedParam::new(f, TypedValue::ULLong(v));
        if start_cpu == -1 {
            let all = vec![
                ull("cpu_time", TOTAL_CPUTIME),
                ull("user_time", 5_540_000_000),
                ull("system_time", 6_460_000_000),
            ];
            let n = if nparams <= 0 {
                3
            } else {
                (nparams as usize).min(3)
            };
            return Ok(vec![all.into_iter().take(n).collect()]);
        }
        let total = cores as i32;
        if ncpus == 0 {
            return Ok(vec![Vec::new(); total.max(0) as usize]);
        }
        if start_cpu >= total {
            return Err(invalid(format!(
                "start_cpu {} larger than maximum of {}",
                start_cpu,
                total - 1
            )));
        }
        let per = TOTAL_CPUTIME / cores.max(1) as u64;
        let end = total.min(start_cpu + ncpus as i32);
        let np = if nparams <= 0 { 2 } else { nparams.min(2) };
        Ok((start_cpu..end)
            .map(|i| {
                let mut v = vec![ull("cpu_time", per + i as u64)];
                if np > 1 {
                    v.push(ull(
                        "vcpu_time",
                        (per + i as u64).wrapping_sub(1_234_567_890),
                    ));
                }
                v
            })
            .collect())
    }

    pub fn control_info(&self, dom: &DomainRef, flags: u32) -> Result<ControlInfo> {
        check_flags(flags, 0, "testDomainGetControlInfo")?;
        let st = self.lock();
        let obj = st.dom(dom)?;
        obj.check_active()?;
        let s = obj.time.0;
        Ok(if s > 0 && s < 10000 {
            ControlInfo {
                state: 1,
                details: 0,
                state_time: s as u64,
            }
        } else if (10000..30000).contains(&s) {
            ControlInfo {
                state: 2,
                details: 0,
                state_time: (s - 10000) as u64,
            }
        } else if (30000..60000).contains(&s) {
            ControlInfo {
                state: 3,
                details: (s % 4) as u32,
                state_time: (s - 30000) as u64,
            }
        } else {
            ControlInfo::default()
        })
    }

    pub fn iothread_info(&self, dom: &DomainRef, flags: u32) -> Result<Vec<IoThreadInfo>> {
        check_flags(flags, LIVE | CONFIG, "testDomainGetIOThreadInfo")?;
        let st = self.lock();
        let def = st.dom(dom)?.one_def(flags)?;
        let n = def.vcpu.current;
        let all: Vec<u32> = (0..n).collect();
        Ok(def
            .iothread_ids()
            .into_iter()
            .map(|id| {
                let cpus = def
                    .iothreadpin(id)
                    .or_else(|| def.cpumask())
                    .unwrap_or_else(|| all.clone());
                let len = cpus.last().map(|c| *c as usize / 8 + 1).unwrap_or(1);
                IoThreadInfo {
                    iothread_id: id,
                    cpumap: to_map(&cpus, len),
                }
            })
            .collect())
    }

    pub fn add_iothread(&self, dom: &DomainRef, id: u32, flags: u32) -> Result<()> {
        check_flags(flags, LIVE | CONFIG, "testDomainAddIOThread")?;
        if id == 0 {
            return Err(invalid("invalid value of 0 for iothread_id"));
        }
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        let def = obj.one_def_mut(flags)?;
        if def.iothread_ids().contains(&id) {
            return Err(invalid(format!(
                "an IOThread is already using iothread_id '{}'",
                id
            )));
        }
        def.add_iothread(id);
        obj.iothreads.push(IoThreadState {
            id,
            poll_max_ns: 32768,
            poll_grow: 0,
            poll_shrink: 0,
        });
        Ok(())
    }

    pub fn del_iothread(&self, dom: &DomainRef, id: u32, flags: u32) -> Result<()> {
        check_flags(flags, LIVE | CONFIG, "testDomainDelIOThread")?;
        if id == 0 {
            return Err(invalid("invalid value of 0 for iothread_id"));
        }
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        let def = obj.one_def_mut(flags)?;
        if !def.iothread_ids().contains(&id) {
            return Err(invalid(format!(
                "cannot find IOThread '{}' in iothreadids list",
                id
            )));
        }
        match def.iothread_user(id) {
            Some(disk) if !disk.is_empty() => {
                return Err(invalid(format!(
                    "cannot remove IOThread {} since it is being used by disk '{}'",
                    id, disk
                )))
            }
            Some(_) => {
                return Err(invalid(format!(
                    "cannot remove IOThread '{}' since it is being used by controller",
                    id
                )))
            }
            None => {}
        }
        def.del_iothread(id);
        obj.iothreads.retain(|t| t.id != id);
        Ok(())
    }

    pub fn pin_iothread(&self, dom: &DomainRef, id: u32, cpumap: &[u8], flags: u32) -> Result<()> {
        check_flags(flags, LIVE | CONFIG, "testDomainPinIOThread")?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        let def = obj.one_def_mut(flags)?;
        let cpus = from_map(cpumap);
        if cpus.is_empty() {
            return Err(invalid("Empty iothread cpumap list for pinning"));
        }
        if !def.iothread_ids().contains(&id) {
            return Err(invalid(format!("iothreadid {} not found", id)));
        }
        def.set_iothreadpin(id, Some(&cpus));
        Ok(())
    }

    pub fn set_iothread_params(
        &self,
        dom: &DomainRef,
        id: u32,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, LIVE, "testDomainSetIOThreadParams")?;
        if id == 0 {
            return Err(invalid("invalid value of 0 for iothread_id"));
        }
        crate::stats::validate_params(
            params,
            &[
                ("poll_max_ns", 4),
                ("poll_grow", 2),
                ("poll_shrink", 2),
                ("thread_pool_min", 1),
                ("thread_pool_max", 1),
            ],
        )?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        if !obj.one_def(flags)?.iothread_ids().contains(&id) {
            return Err(invalid(format!(
                "cannot find IOThread '{}' in iothreadids",
                id
            )));
        }
        let Some(t) = obj.iothreads.iter_mut().find(|t| t.id == id) else {
            return Err(Error::new(
                code::INTERNAL_ERROR,
                FROM,
                "iothread state missing",
            ));
        };
        for p in params {
            match (p.field.as_str(), &p.value) {
                ("poll_max_ns", TypedValue::ULLong(v)) => t.poll_max_ns = *v,
                ("poll_grow", TypedValue::UInt(v)) => t.poll_grow = *v,
                ("poll_shrink", TypedValue::UInt(v)) => t.poll_shrink = *v,
                _ => {}
            }
        }
        Ok(())
    }

    pub fn get_blkio(&self, dom: &DomainRef, nparams: i32, flags: u32) -> Result<Vec<TypedParam>> {
        let what = ("testDomainGetBlkioParameters", 6);
        self.params_of(dom, nparams, flags, what, |def| Ok(blkio_params(def)))
    }

    pub fn set_blkio(&self, dom: &DomainRef, params: &[TypedParam], flags: u32) -> Result<()> {
        check_flags(flags, LIVE | CONFIG, "testDomainSetBlkioParameters")?;
        crate::stats::validate_params(
            params,
            &[
                ("weight", 2),
                ("device_weight", 7),
                ("device_read_iops_sec", 7),
                ("device_write_iops_sec", 7),
                ("device_read_bytes_sec", 7),
                ("device_write_bytes_sec", 7),
            ],
        )?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        let def = obj.one_def_mut(flags)?;
        let mut weight = def.blkio_weight();
        let mut devs = def.blkio_devices();
        let mut failed = None;
        for p in params {
            match (&p.value, p.field.as_str()) {
                (TypedValue::UInt(w), "weight") => weight = *w,
                (TypedValue::String(s), field) => match parse_devices(s, field) {
                    Ok(list) => merge_devices(&mut devs, list, field),
                    Err(e) => failed = Some(e),
                },
                _ => {}
            }
        }
        def.set_blkio(weight, &devs);
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The six blkio parameters of a definition.
fn blkio_params(def: &Domain) -> Vec<TypedParam> {
    let devs = def.blkio_devices();
    let list = |f: &dyn Fn(&BlkioDevice) -> u64| -> String {
        devs.iter()
            .filter(|d| f(d) != 0)
            .map(|d| format!("{},{}", d.path, f(d)))
            .collect::<Vec<_>>()
            .join(",")
    };
    vec![
        TypedParam::new("weight", TypedValue::UInt(def.blkio_weight())),
        TypedParam::new(
            "device_weight",
            TypedValue::String(list(&|d| d.weight as u64)),
        ),
        TypedParam::new(
            "device_read_iops_sec",
            TypedValue::String(list(&|d| d.read_iops as u64)),
        ),
        TypedParam::new(
            "device_write_iops_sec",
            TypedValue::String(list(&|d| d.write_iops as u64)),
        ),
        TypedParam::new(
            "device_read_bytes_sec",
            TypedValue::String(list(&|d| d.read_bps)),
        ),
        TypedParam::new(
            "device_write_bytes_sec",
            TypedValue::String(list(&|d| d.write_bps)),
        ),
    ]
}

/// virDomainDriverParseBlkioDeviceStr: "path,value[,path,value...]".
fn parse_devices(s: &str, field: &str) -> Result<Vec<(String, u64)>> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = s.split(',').collect();
    if !parts.len().is_multiple_of(2) {
        return Err(invalid(format!(
            "unable to parse blkio device '{}' '{}'",
            field, s
        )));
    }
    let mut out = Vec::new();
    for pair in parts.chunks(2) {
        let v: u64 = pair[1].parse().map_err(|_| {
            invalid(format!(
                "invalid value '{}' for parameter '{}' of device '{}'",
                pair[1], field, pair[0]
            ))
        })?;
        if !field.ends_with("bytes_sec") && v > u32::MAX as u64 {
            return Err(invalid(format!(
                "invalid value '{}' for parameter '{}' of device '{}'",
                pair[1], field, pair[0]
            )));
        }
        out.push((pair[0].to_string(), v));
    }
    Ok(out)
}

/// virDomainDriverMergeBlkioDevice: sets one field per path, adding
/// devices as needed and dropping those left with nothing set.
fn merge_devices(devs: &mut Vec<BlkioDevice>, list: Vec<(String, u64)>, field: &str) {
    for (path, v) in list {
        let i = match devs.iter().position(|d| d.path == path) {
            Some(i) => i,
            None => {
                devs.push(BlkioDevice {
                    path,
                    ..Default::default()
                });
                devs.len() - 1
            }
        };
        let d = &mut devs[i];
        match field {
            "device_weight" => d.weight = v as u32,
            "device_read_iops_sec" => d.read_iops = v as u32,
            "device_write_iops_sec" => d.write_iops = v as u32,
            "device_read_bytes_sec" => d.read_bps = v,
            "device_write_bytes_sec" => d.write_bps = v,
            _ => {}
        }
    }
    devs.retain(|d| {
        d.weight != 0
            || d.read_iops != 0
            || d.write_iops != 0
            || d.read_bps != 0
            || d.write_bps != 0
    });
}
