//! Small APIs on running guests, as libvirt 9.0's QEMU driver answers
//! them: vCPU threads (virDomainGetVcpus from query-cpus-fast and
//! /proc/PID/task/TID/stat), vCPU and emulator pinning (sched_setaffinity
//! on the threads, `<cputune>` in the definitions), memory statistics
//! (query-balloon, the balloon's guest-stats, the process's RSS) and
//! their polling period, NMI, keys, screenshots, and the graphics ports
//! a start allocates besides VNC's (websockets, listen addresses).

use oxvirt_core::event::{DomainEvent, DomainEventKind};
use oxvirt_core::types::flags::affect::{CONFIG, LIVE};
use oxvirt_core::types::memory_stat as tag;
use oxvirt_core::types::{DomainRef, MemoryStat, TypedParam, TypedValue, VcpuInfo};
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::{Element, Node};
use oxvirt_xml::domain::devices::graphics::{AUTO_LISTEN, WEBSOCKET_GENERATED};
use oxvirt_xml::domain::Domain;
use serde_json::{json, Value};

use crate::driver::{check_flags, Driver};
use crate::monitor::qmp_err;
use crate::FROM;

/// A cpumap of `maplen` bytes with `cpus` set (VIR_USE_CPU).
fn to_map(cpus: &[u32], maplen: usize) -> Vec<u8> {
    let mut m = vec![0u8; maplen];
    for c in cpus {
        if let Some(b) = m.get_mut((*c / 8) as usize) {
            *b |= 1 << (c % 8);
        }
    }
    m
}

/// The CPUs set in a cpumap.
fn from_map(map: &[u8]) -> Vec<u32> {
    (0..map.len() as u32 * 8)
        .filter(|c| map[(*c / 8) as usize] & (1 << (c % 8)) != 0)
        .collect()
}

/// The host's online CPUs (virHostCPUGetAvailableCPUsBitmap).
fn host_cpus() -> Result<Vec<u32>> {
    let (map, _, _) = oxvirt_host::Host::real().cpu_map()?;
    Ok(from_map(&map))
}

/// Fields of /proc/PID/task/TID/stat (or /proc/PID/stat) after the
/// command name: index 0 is the state (field 3 of proc(5)).
fn stat_fields(pid: i32, tid: Option<i32>) -> std::io::Result<Vec<String>> {
    let path = match tid {
        Some(t) => format!("/proc/{}/task/{}/stat", pid, t),
        None => format!("/proc/{}/stat", pid),
    };
    let s = std::fs::read_to_string(path)?;
    let i = s
        .rfind(')')
        .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    Ok(s[i + 1..].split_whitespace().map(str::to_string).collect())
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t <= 0 {
        100
    } else {
        t as u64
    }
}

/// `(cpu time in ns, processor)` of a thread (virProcessGetStatInfo).
fn thread_time_and_cpu(pid: i32, tid: i32) -> std::io::Result<(u64, i32)> {
    let f = stat_fields(pid, Some(tid))?;
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let ticks = num(11) + num(12);
    let cpu = f.get(36).and_then(|v| v.parse::<i32>().ok()).unwrap_or(0);
    Ok((ticks.saturating_mul(1_000_000_000) / clock_ticks(), cpu))
}

/// Resident set size of a process in KiB.
fn rss_kib(pid: i32) -> std::io::Result<u64> {
    let f = stat_fields(pid, None)?;
    let pages = f.get(21).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    Ok(pages * page / 1024)
}

/// virProcessGetAffinity
fn get_affinity(tid: i32) -> Result<Vec<u32>> {
    // SAFETY: cpu_set_t is plain data; zeroed is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is valid for its size.
    let rc =
        unsafe { libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(Error::system(
            FROM,
            format!("cannot get CPU affinity of process {}", tid),
            &std::io::Error::last_os_error(),
        ));
    }
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: i is below CPU_SETSIZE.
        .filter(|i| unsafe { libc::CPU_ISSET(*i, &set) })
        .map(|i| i as u32)
        .collect())
}

/// virProcessSetAffinity
fn set_affinity(tid: i32, cpus: &[u32]) -> Result<()> {
    // SAFETY: cpu_set_t is plain data; zeroed is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for c in cpus
        .iter()
        .filter(|c| (**c as usize) < libc::CPU_SETSIZE as usize)
    {
        // SAFETY: c is below CPU_SETSIZE.
        unsafe { libc::CPU_SET(*c as usize, &mut set) };
    }
    // SAFETY: set is valid for its size.
    let rc = unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(Error::system(
            FROM,
            format!("cannot set CPU affinity on process {}", tid),
            &std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// The vCPU threads of a running QEMU: `(vcpu index, thread id)` from
/// query-cpus-fast, in vCPU order.
fn vcpu_threads(qmp: &oxvirt_qmp::Qmp) -> Result<Vec<(u32, i32)>> {
    let v = qmp
        .execute_value("query-cpus-fast", None)
        .map_err(qmp_err)?;
    let mut out: Vec<(u32, i32)> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| {
                    Some((
                        c.get("cpu-index")?.as_u64()? as u32,
                        c.get("thread-id")?.as_i64()? as i32,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    Ok(out)
}

/// The `<memballoon>` of a definition when it is a real balloon
/// (virDomainDefHasMemballoon): its element.
fn memballoon(def: &Domain) -> Option<&Element> {
    def.devices
        .raw
        .iter()
        .map(|r| &r.0)
        .find(|e| e.name == "memballoon" && e.attr("model") != Some("none"))
}

fn memballoon_mut(def: &mut Domain) -> Option<&mut Element> {
    def.devices
        .raw
        .iter_mut()
        .map(|r| &mut r.0)
        .find(|e| e.name == "memballoon" && e.attr("model") != Some("none"))
}

/// The balloon's QOM path (its alias below /machine/peripheral).
fn balloon_path(el: &Element) -> String {
    let alias = el
        .child("alias")
        .and_then(|a| a.attr("name"))
        .unwrap_or("balloon0");
    format!("/machine/peripheral/{}", alias)
}

/// Sets `<stats period=.../>` of a memballoon (none for 0), in the place
/// libvirt writes it (first child).
fn set_period(el: &mut Element, period: i32) {
    el.children
        .retain(|n| !matches!(n, Node::Element(e) if e.name == "stats"));
    if period != 0 {
        let mut s = Element::new("stats");
        s.set_attr("period", period.to_string());
        el.children.insert(0, Node::Element(s));
    }
}

fn no_balloon() -> Error {
    Error::internal(
        FROM,
        "No memory balloon device configured, can not set the collection period",
    )
}

/// virBitmapFormat
fn format_cpus(cpus: &[u32]) -> String {
    oxvirt_xml::domain::postparse::format_cpuset(cpus)
}

impl Driver {
    /// The running process of an active domain, for calls that do not
    /// take the job (reads).
    fn running_now(
        &self,
        dom: &DomainRef,
    ) -> Result<(std::sync::Arc<crate::driver::Running>, Domain)> {
        let st = self.read(dom)?;
        let obj = st.dom(dom)?;
        obj.check_active()?;
        let run = obj
            .run
            .clone()
            .ok_or_else(|| Error::operation_invalid(FROM, "domain is not running"))?;
        Ok((run, obj.def.clone()))
    }

    /// virDomainGetVcpus (qemuDomainHelperGetVcpus).
    pub(crate) fn get_vcpus(
        &self,
        dom: &DomainRef,
        maxinfo: i32,
        maplen: i32,
    ) -> Result<(Vec<VcpuInfo>, Vec<u8>)> {
        let (run, _) = {
            let st = self.read(dom)?;
            let obj = st.dom(dom)?;
            if !obj.is_active() {
                return Err(Error::operation_invalid(
                    FROM,
                    "cannot retrieve vcpu information for inactive domain",
                ));
            }
            drop(st);
            self.running_now(dom)?
        };
        let threads = vcpu_threads(&run.qmp)?;
        let maplen = maplen.max(0) as usize;
        let mut infos = Vec::new();
        let mut maps = Vec::new();
        for (n, tid) in threads.into_iter().take(maxinfo.max(0) as usize) {
            let (cpu_time, cpu) = thread_time_and_cpu(run.pid, tid)
                .map_err(|e| Error::system(FROM, "cannot get vCPU placement & pCPU time", &e))?;
            infos.push(VcpuInfo {
                number: n,
                state: 1,
                cpu_time,
                cpu,
            });
            if maplen > 0 {
                maps.extend(to_map(&get_affinity(tid)?, maplen));
            }
        }
        Ok((infos, maps))
    }

    /// virDomainPinVcpuFlags
    pub(crate) fn pin_vcpu(
        &self,
        dom: &DomainRef,
        vcpu: u32,
        cpumap: &[u8],
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, LIVE | CONFIG, "qemuDomainPinVcpuFlags")?;
        let _g = self.begin_job(dom)?;
        let (live, config, run, maxv, pers) = {
            let st = self.lock();
            let obj = st.dom(dom)?;
            let (live, config) = obj.modification_impact(flags & (LIVE | CONFIG))?;
            let pers = config.then(|| obj.persistent_def().clone());
            (live, config, obj.run.clone(), obj.def.vcpu.max, pers)
        };
        if let Some(p) = &pers {
            if vcpu >= p.vcpu.max {
                return Err(Error::invalid_arg(
                    FROM,
                    format!(
                        "vcpu {} is out of range of persistent cpu count {}",
                        vcpu, p.vcpu.current
                    ),
                ));
            }
        }
        let cpus = from_map(cpumap);
        if cpus.is_empty() {
            return Err(Error::invalid_arg(FROM, "Empty cpu list for pinning"));
        }
        if live {
            let run = run.ok_or_else(|| Error::operation_invalid(FROM, "domain is not running"))?;
            if vcpu >= maxv {
                return Err(Error::invalid_arg(
                    FROM,
                    format!("vcpu {} is out of range of live cpu count {}", vcpu, maxv),
                ));
            }
            if let Some((_, tid)) = vcpu_threads(&run.qmp)?
                .into_iter()
                .find(|(n, _)| *n == vcpu)
            {
                set_affinity(tid, &cpus)?;
            }
            let h = {
                let mut st = self.lock();
                let mut obj = st.dom_mut(dom)?;
                obj.def.set_vcpupin(vcpu, Some(&cpus));
                self.save_status(&obj);
                obj.handle()
            };
            self.emit(vec![tunable(
                h,
                &format!("cputune.vcpupin{}", vcpu),
                &format_cpus(&cpus),
            )]);
        }
        if let Some(mut p) = pers {
            p.set_vcpupin(vcpu, Some(&cpus));
            self.store_persistent_def(dom, p)?;
        }
        let _ = config;
        Ok(())
    }

    /// virDomainGetVcpuPinInfo (virDomainDefGetVcpuPinInfoHelper).
    pub(crate) fn vcpu_pin_info(
        &self,
        dom: &DomainRef,
        ncpumaps: i32,
        maplen: i32,
        flags: u32,
    ) -> Result<(Vec<u8>, i32)> {
        check_flags(flags, LIVE | CONFIG, "qemuDomainGetVcpuPinInfo")?;
        let def = {
            let st = self.read(dom)?;
            st.dom(dom)?.one_def(flags)?.clone()
        };
        let host = host_cpus()?;
        let n = (ncpumaps.max(0) as u32).min(def.vcpu.max);
        let mut maps = Vec::new();
        for i in 0..n {
            let cpus = def
                .vcpupin(i)
                .or_else(|| def.cpumask())
                .unwrap_or_else(|| host.clone());
            maps.extend(to_map(&cpus, maplen.max(0) as usize));
        }
        Ok((maps, n as i32))
    }

    /// virDomainPinEmulator
    pub(crate) fn pin_emulator(&self, dom: &DomainRef, cpumap: &[u8], flags: u32) -> Result<()> {
        check_flags(flags, LIVE | CONFIG, "qemuDomainPinEmulator")?;
        let _g = self.begin_job(dom)?;
        let (live, run, pers) = {
            let st = self.lock();
            let obj = st.dom(dom)?;
            let (live, config) = obj.modification_impact(flags & (LIVE | CONFIG))?;
            let pers = config.then(|| obj.persistent_def().clone());
            (live, obj.run.clone(), pers)
        };
        let cpus = from_map(cpumap);
        if cpus.is_empty() {
            return Err(Error::invalid_arg(FROM, "Empty cpu list for pinning"));
        }
        if live {
            let run = run.ok_or_else(|| Error::operation_invalid(FROM, "domain is not running"))?;
            set_affinity(run.pid, &cpus)?;
            let h = {
                let mut st = self.lock();
                let mut obj = st.dom_mut(dom)?;
                obj.def.set_emulatorpin(Some(&cpus));
                self.save_status(&obj);
                obj.handle()
            };
            self.emit(vec![tunable(h, "cputune.emulatorpin", &format_cpus(&cpus))]);
        }
        if let Some(mut p) = pers {
            p.set_emulatorpin(Some(&cpus));
            self.store_persistent_def(dom, p)?;
        }
        Ok(())
    }

    /// virDomainGetEmulatorPinInfo
    pub(crate) fn emulator_pin_info(
        &self,
        dom: &DomainRef,
        maplen: i32,
        flags: u32,
    ) -> Result<(Vec<u8>, i32)> {
        check_flags(flags, LIVE | CONFIG, "qemuDomainGetEmulatorPinInfo")?;
        let def = {
            let st = self.read(dom)?;
            st.dom(dom)?.one_def(flags)?.clone()
        };
        let cpus = match def.emulatorpin().or_else(|| def.cpumask()) {
            Some(c) => c,
            None => host_cpus()?,
        };
        Ok((to_map(&cpus, maplen.max(0) as usize), 1))
    }

    /// The pinning of a definition applied to a QEMU that just started
    /// (qemuProcessSetupVcpus, qemuProcessSetupEmulator): vCPU threads
    /// with a `<vcpupin>` (or the `<vcpu cpuset>`), the process with an
    /// `<emulatorpin>` (or the cpuset).
    pub(crate) fn apply_pinning(&self, run: &crate::driver::Running, def: &Domain) -> Result<()> {
        let mask = def.cpumask();
        if let Some(cpus) = def.emulatorpin().or_else(|| mask.clone()) {
            set_affinity(run.pid, &cpus)?;
        }
        let any_pin = (0..def.vcpu.max).any(|i| def.vcpupin(i).is_some());
        if !any_pin && mask.is_none() {
            return Ok(());
        }
        for (n, tid) in vcpu_threads(&run.qmp)? {
            if let Some(cpus) = def.vcpupin(n).or_else(|| mask.clone()) {
                set_affinity(tid, &cpus)?;
            }
        }
        Ok(())
    }

    /// The balloon's statistics period set at start
    /// (qemuProcessSetupBalloon); errors are not fatal there either.
    pub(crate) fn apply_balloon_period(&self, run: &crate::driver::Running, def: &Domain) {
        let Some(el) = memballoon(def) else { return };
        let period = el
            .child("stats")
            .and_then(|s| s.attr("period"))
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(0);
        if period > 0 {
            let _ = run.qmp.execute_value(
                "qom-set",
                Some(json!({"path": balloon_path(el), "property": "guest-stats-polling-interval", "value": period})),
            );
        }
    }

    /// virDomainMemoryStats (qemuDomainMemoryStatsInternal).
    pub(crate) fn memory_stats(
        &self,
        dom: &DomainRef,
        nr_stats: u32,
        flags: u32,
    ) -> Result<Vec<MemoryStat>> {
        check_flags(flags, 0, "qemuDomainMemoryStats")?;
        let (run, def) = self.running_now(dom)?;
        let nr = nr_stats as usize;
        let mut out: Vec<MemoryStat> = Vec::new();
        if let Some(el) = memballoon(&def) {
            match run.qmp.execute_value("query-balloon", None) {
                Ok(v) => {
                    let actual = v.get("actual").and_then(Value::as_u64).ok_or_else(|| {
                        Error::internal(FROM, "info balloon reply was missing balloon data")
                    })?;
                    out.push(MemoryStat {
                        tag: tag::ACTUAL_BALLOON,
                        val: actual / 1024,
                    });
                }
                Err(oxvirt_qmp::QmpError::Qemu { class, .. })
                    if class == "DeviceNotActive" || class == "KVMMissingCap" => {}
                Err(e) => return Err(qmp_err(e)),
            }
            if let Ok(v) = run.qmp.execute_value(
                "qom-get",
                Some(json!({"path": balloon_path(el), "property": "guest-stats"})),
            ) {
                let stats = v.get("stats");
                let get = |obj: Option<&Value>, k: &str| -> Option<u64> {
                    let n = obj?.get(k)?;
                    // -1 (as QEMU's u64, or signed): not collected; no
                    // point in giving it.
                    match (n.as_i64(), n.as_u64()) {
                        (Some(-1), _) | (_, Some(u64::MAX)) => None,
                        (_, v) => v,
                    }
                };
                let fields: [(Option<&Value>, &str, i32, u64); 11] = [
                    (stats, "stat-swap-in", tag::SWAP_IN, 1024),
                    (stats, "stat-swap-out", tag::SWAP_OUT, 1024),
                    (stats, "stat-major-faults", tag::MAJOR_FAULT, 1),
                    (stats, "stat-minor-faults", tag::MINOR_FAULT, 1),
                    (stats, "stat-free-memory", tag::UNUSED, 1024),
                    (stats, "stat-total-memory", tag::AVAILABLE, 1024),
                    (stats, "stat-available-memory", tag::USABLE, 1024),
                    (Some(&v), "last-update", tag::LAST_UPDATE, 1),
                    (stats, "stat-disk-caches", tag::DISK_CACHES, 1024),
                    (stats, "stat-htlb-pgalloc", tag::HUGETLB_PGALLOC, 1),
                    (stats, "stat-htlb-pgfail", tag::HUGETLB_PGFAIL, 1),
                ];
                if stats.is_some() {
                    for (obj, k, t, div) in fields {
                        if let Some(val) = get(obj, k) {
                            out.push(MemoryStat {
                                tag: t,
                                val: val / div,
                            });
                        }
                    }
                }
            }
            if out.len() >= nr {
                out.truncate(nr);
                return Ok(out);
            }
        }
        if let Ok(rss) = rss_kib(run.pid) {
            out.push(MemoryStat {
                tag: tag::RSS,
                val: rss,
            });
        }
        out.truncate(nr);
        Ok(out)
    }

    /// virDomainSetMemoryStatsPeriod
    pub(crate) fn set_memory_stats_period(
        &self,
        dom: &DomainRef,
        period: i32,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, LIVE | CONFIG, "qemuDomainSetMemoryStatsPeriod")?;
        let _g = self.begin_job(dom)?;
        let (live, run, live_def, pers) = {
            let st = self.lock();
            let obj = st.dom(dom)?;
            let (live, config) = obj.modification_impact(flags & (LIVE | CONFIG))?;
            let active = obj.is_active();
            let pers = (config || !active).then(|| obj.persistent_def().clone());
            (live && active, obj.run.clone(), obj.def.clone(), pers)
        };
        if live {
            let el = memballoon(&live_def).ok_or_else(no_balloon)?;
            let run = run.ok_or_else(|| Error::operation_invalid(FROM, "domain is not running"))?;
            let ok = period >= 0
                && run
                    .qmp
                    .execute_value(
                        "qom-set",
                        Some(json!({"path": balloon_path(el), "property": "guest-stats-polling-interval", "value": period})),
                    )
                    .is_ok();
            if !ok {
                return Err(Error::operation_invalid(
                    FROM,
                    "unable to set balloon driver collection period",
                ));
            }
            let mut st = self.lock();
            let mut obj = st.dom_mut(dom)?;
            if let Some(el) = memballoon_mut(&mut obj.def) {
                set_period(el, period);
            }
            self.save_status(&obj);
        }
        if let Some(mut p) = pers {
            let el = memballoon_mut(&mut p).ok_or_else(no_balloon)?;
            set_period(el, period);
            self.store_persistent_def(dom, p)?;
        }
        Ok(())
    }

    /// The running QEMU of a domain under a job that modifies it.
    fn job_running(&self, dom: &DomainRef) -> Result<std::sync::Arc<crate::driver::Running>> {
        let st = self.lock();
        let obj = st.dom(dom)?;
        obj.check_active()?;
        obj.run
            .clone()
            .ok_or_else(|| Error::operation_invalid(FROM, "domain is not running"))
    }

    /// virDomainInjectNMI
    pub(crate) fn inject_nmi(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "qemuDomainInjectNMI")?;
        let _g = self.begin_job(dom)?;
        let run = self.job_running(dom)?;
        run.qmp.execute_value("inject-nmi", None).map_err(qmp_err)?;
        Ok(())
    }

    /// virDomainSendKey: keys translated to QEMU's numbers (QNUM).
    pub(crate) fn send_key(
        &self,
        dom: &DomainRef,
        codeset: u32,
        holdtime: u32,
        keys: &[u32],
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, 0, "qemuDomainSendKey")?;
        let mut qnum = Vec::with_capacity(keys.len());
        for k in keys {
            let q = crate::keycodes::to_qnum(codeset, *k).ok_or_else(|| {
                Error::internal(
                    FROM,
                    format!(
                        "cannot translate keycode {} of {} codeset to qnum keycode",
                        k,
                        crate::keycodes::codeset_name(codeset)
                    ),
                )
            })?;
            qnum.push(json!({"type": "number", "data": q}));
        }
        let _g = self.begin_job(dom)?;
        let run = self.job_running(dom)?;
        let mut args = json!({ "keys": qnum });
        if holdtime > 0 {
            args["hold-time"] = json!(holdtime);
        }
        run.qmp
            .execute_value("send-key", Some(args))
            .map_err(qmp_err)?;
        Ok(())
    }

    /// virDomainScreenshot: QEMU's screendump as PNG into a private file,
    /// handed out as a stream (the file is unlinked once open).
    pub(crate) fn screenshot(
        &self,
        dom: &DomainRef,
        screen: u32,
        flags: u32,
    ) -> Result<(String, Box<dyn oxvirt_core::Stream>)> {
        check_flags(flags, 0, "qemuDomainScreenshot")?;
        let _g = self.begin_job(dom)?;
        let run = self.job_running(dom)?;
        let def = self.lock().dom(dom)?.def.clone();
        if def.devices.videos.is_empty() {
            return Err(Error::operation_invalid(
                FROM,
                "no screens to take screenshot from",
            ));
        }
        let mut args = json!({"format": "png"});
        if screen > 0 {
            let mut left = screen;
            let mut found = None;
            for (i, v) in def.devices.videos.iter().enumerate() {
                if left < v.heads.max(1) {
                    let alias =
                        v.el.child("alias")
                            .and_then(|a| a.attr("name"))
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("video{}", i));
                    found = Some(alias);
                    break;
                }
                left -= v.heads.max(1);
            }
            let Some(alias) = found else {
                return Err(Error::operation_invalid(FROM, "no such screen ID"));
            };
            args["device"] = json!(alias);
            args["head"] = json!(left);
        }
        let path = unique_file(&self.layout.run_dir(), "qemu.screendump")?;
        args["filename"] = json!(path.to_string_lossy());
        let res = run
            .qmp
            .execute_value("screendump", Some(args))
            .map_err(qmp_err)
            .and_then(|_| {
                oxvirt_core::FileStream::open_read(&path.to_string_lossy(), 0, 0)
                    .map_err(|_| Error::operation_failed(FROM, "unable to open stream"))
            });
        let _ = std::fs::remove_file(&path);
        Ok(("image/png".into(), Box::new(res?)))
    }
}

/// A new empty file `DIR/PREFIX.XXXXXX`, mode 0600 (g_mkstemp).
fn unique_file(dir: &std::path::Path, prefix: &str) -> Result<std::path::PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut last = None;
    for _ in 0..100 {
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = dir.join(format!(
            "{}.{:06x}",
            prefix,
            (std::process::id() as u64) << 20 ^ n
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&p)
        {
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => {
                last = Some(e);
                break;
            }
        }
    }
    let e = last.unwrap_or_else(|| std::io::Error::from_raw_os_error(libc::EEXIST));
    Err(Error::system(
        FROM,
        format!("g_mkstemp(\"{}/{}.XXXXXX\") failed", dir.display(), prefix),
        &e,
    ))
}

/// VIR_DOMAIN_EVENT_ID_TUNABLE with one string parameter.
fn tunable(h: DomainRef, field: &str, value: &str) -> DomainEvent {
    DomainEvent {
        dom: h,
        kind: DomainEventKind::Tunable {
            params: vec![TypedParam::new(
                field,
                TypedValue::String(value.to_string()),
            )],
        },
    }
}

/// What a start adds to the graphics of the live definition besides the
/// VNC/SPICE ports (qemuProcessGraphicsSetup*): the listen address from
/// the configuration (127.0.0.1) where an address listen has none, and
/// a websocket port from 5700 up for `websocket='-1'`.
pub(crate) fn setup_graphics(live: &mut Domain) {
    let mut taken: Vec<u16> = Vec::new();
    for g in live.devices.graphics.iter_mut() {
        if g.gtype != "vnc" && g.gtype != "spice" {
            continue;
        }
        for l in g.listens.iter_mut() {
            if l.ltype == "address" && l.address.is_none() {
                l.address = Some("127.0.0.1".into());
                g.el.set_attr(AUTO_LISTEN, "yes");
            }
        }
        if g.gtype == "vnc" && g.el.attr("websocket") == Some("-1") {
            let addr = g
                .listens
                .first()
                .and_then(|l| l.address.clone())
                .unwrap_or_else(|| "127.0.0.1".into());
            if let Some(p) = (5700u16..=65535)
                .filter(|p| !taken.contains(p))
                .find(|p| std::net::TcpListener::bind((addr.as_str(), *p)).is_ok())
            {
                taken.push(p);
                g.el.set_attr("websocket", p.to_string());
                g.el.set_attr(WEBSOCKET_GENERATED, "yes");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_round_trip() {
        let m = to_map(&[0, 3, 9], 2);
        assert_eq!(m, vec![0b1001, 0b10]);
        assert_eq!(from_map(&m), vec![0, 3, 9]);
        assert_eq!(to_map(&[17], 2), vec![0, 0]);
    }

    #[test]
    fn period_is_the_first_child() {
        let mut el = Element::new("memballoon");
        el.children.push(Node::Element(Element::new("alias")));
        set_period(&mut el, 2);
        assert_eq!(el.elements().next().map(|e| e.name.as_str()), Some("stats"));
        set_period(&mut el, 0);
        assert!(el.child("stats").is_none());
    }
}
