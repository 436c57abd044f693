//! vCPU and emulator pinning, IOThreads, CPU statistics, control state,
//! scheduler and block I/O tuning.

use oxvirt_core::error::{code, from};
use oxvirt_core::types::flags::affect;
use oxvirt_core::types::{DomainRef, TypedParam, TypedValue};
use oxvirt_core::Error;

use crate::cmd::Cmd;
use crate::ctl::{Context, Ctl, Fail, R};
use crate::table::Table;

use super::domain::impact;
use super::{exclusive, Handler};

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "vcpuinfo" => vcpuinfo,
        "vcpupin" => vcpupin,
        "emulatorpin" => emulatorpin,
        "iothreadinfo" => iothreadinfo,
        "iothreadadd" => iothreadadd,
        "iothreaddel" => iothreaddel,
        "iothreadpin" => iothreadpin,
        "iothreadset" => iothreadset,
        "cpu-stats" => cpu_stats,
        "domcontrol" => domcontrol,
        "blkiotune" => blkiotune,
        "schedinfo" => schedinfo,
        _ => return None,
    })
}

/// vshGetTypedParamValue.
pub fn param_str(v: &TypedValue) -> String {
    match v {
        TypedValue::Int(i) => i.to_string(),
        TypedValue::UInt(u) => u.to_string(),
        TypedValue::LLong(i) => i.to_string(),
        TypedValue::ULLong(u) => u.to_string(),
        TypedValue::Double(d) => format!("{:.6}", d),
        TypedValue::Boolean(b) => if *b { "yes" } else { "no" }.to_string(),
        TypedValue::String(s) => s.clone(),
    }
}

/// virsh's two calls to a typed-parameter getter: the count (`nparams`
/// 0), then the values, each failure under virsh's message for its step.
pub fn fetch_params(
    count_err: &str,
    get_err: &str,
    get: impl Fn(i32) -> oxvirt_core::Result<Vec<TypedParam>>,
) -> Result<Vec<TypedParam>, Fail> {
    let n = get(0).ctx(|| count_err.to_string())?.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    get(n as i32).ctx(|| get_err.to_string())
}

/// The shape of virsh's tuning commands: with nothing to set, the
/// parameters `get` reads (count, then values), each shown by `show`;
/// otherwise `set` applies them. `msgs`: virsh's messages for a failed
/// count, get and set.
pub fn show_or_set(
    ctl: &Ctl,
    params: &[TypedParam],
    msgs: [&str; 3],
    get: impl Fn(i32) -> oxvirt_core::Result<Vec<TypedParam>>,
    show: impl Fn(&TypedParam) -> String,
    set: impl FnOnce(&[TypedParam]) -> oxvirt_core::Result<()>,
) -> R {
    if params.is_empty() {
        let got = fetch_params(msgs[0], msgs[1], get)?;
        ctl.print(&param_lines(&got, show));
        return Ok(());
    }
    set(params).ctx(|| msgs[2].to_string())
}

/// virsh's `%-15s: %s` listing of typed parameters, each value shown by
/// `show`.
pub fn param_lines(params: &[TypedParam], show: impl Fn(&TypedParam) -> String) -> String {
    params
        .iter()
        .map(|p| format!("{:<15}: {}\n", p.field, show(p)))
        .collect()
}

/// virTypedParameterAssignFromStr: `value` read as `like`'s type.
pub fn param_from_str(field: &str, like: &TypedValue, value: &str) -> Result<TypedParam, Error> {
    let bad = |what: &str| {
        Error::new(
            code::INVALID_ARG,
            from::NONE,
            format!("Invalid value for field '{}': expected {}", field, what),
        )
    };
    let v = match like {
        TypedValue::Int(_) => TypedValue::Int(
            crate::cmd::strtol(value)
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| bad("int"))?,
        ),
        TypedValue::UInt(_) => TypedValue::UInt(
            crate::cmd::strtol(value)
                .filter(|v| (i32::MIN as i64..=u32::MAX as i64).contains(v))
                .map(|v| v as u32)
                .ok_or_else(|| bad("unsigned int"))?,
        ),
        TypedValue::LLong(_) => {
            TypedValue::LLong(crate::cmd::strtol(value).ok_or_else(|| bad("long long"))?)
        }
        TypedValue::ULLong(_) => TypedValue::ULLong(
            value
                .trim()
                .strip_prefix('-')
                .map(|r| crate::cmd::strtoul_p(r).map(|v| v.wrapping_neg()))
                .unwrap_or_else(|| crate::cmd::strtoul_p(value))
                .ok_or_else(|| bad("unsigned long long"))?,
        ),
        TypedValue::Double(_) => {
            TypedValue::Double(value.trim().parse().map_err(|_| bad("double"))?)
        }
        TypedValue::Boolean(_) => TypedValue::Boolean(match value {
            "1" | "yes" => true,
            "0" | "no" => false,
            _ => {
                return Err(Error::new(
                    code::INVALID_ARG,
                    from::NONE,
                    format!("Invalid boolean value for field '{}'", field),
                ))
            }
        }),
        TypedValue::String(_) => TypedValue::String(value.to_string()),
    };
    Ok(TypedParam::new(field, v))
}

/// virshNodeGetCPUCount.
fn host_cpus(ctl: &Ctl) -> Result<u32, Fail> {
    let conn = ctl.conn()?;
    match conn.node_cpu_map(0) {
        Ok((_, _, n)) if n >= 0 => Ok(n as u32),
        _ => {
            let i = conn.node_info()?;
            Ok(i.nodes * i.sockets * i.cores * i.threads)
        }
    }
}

fn maplen(maxcpu: u32) -> usize {
    (maxcpu as usize).div_ceil(8)
}

/// virBitmapDataFormat.
pub fn map_str(map: &[u8]) -> String {
    let mut cpus = Vec::new();
    for (i, b) in map.iter().enumerate() {
        for bit in 0..8 {
            if b & (1 << bit) != 0 {
                cpus.push(i as u32 * 8 + bit);
            }
        }
    }
    oxvirt_xml::domain::postparse::format_cpuset(&cpus)
}

/// virshParseCPUList: `r` for all CPUs, else a CPU list.
fn parse_cpulist(list: &str, maxcpu: u32) -> Result<Vec<u8>, Fail> {
    let cpus: Vec<u32> = if list.starts_with('r') {
        (0..maxcpu).collect()
    } else {
        // virBitmapParse(cpulist, 1024): a list it cannot parse leaves
        // its error behind, printed after virsh's own message.
        let invalid = || format!("Invalid cpulist '{}'", list);
        let cpus = match oxvirt_xml::domain::postparse::parse_bitmap(list, 1024) {
            Err(_) => {
                return Err(Fail::MsgLib(
                    invalid(),
                    Box::new(oxvirt_core::Error::invalid_arg(
                        oxvirt_core::error::from::NONE,
                        format!("Failed to parse bitmap '{}'", list),
                    )),
                ))
            }
            Ok(c) if c.is_empty() => return Err(Fail::Msg(invalid())),
            Ok(c) => c,
        };
        let last = cpus.last().copied().unwrap_or(0);
        if last >= maxcpu {
            return Err(Fail::Msg(format!(
                "CPU {} in cpulist '{}' exceed the maxcpu {}",
                last, list, maxcpu
            )));
        }
        cpus
    };
    let len = cpus.last().map(|c| *c as usize / 8 + 1).unwrap_or(1);
    let mut m = vec![0u8; len];
    for c in cpus {
        m[c as usize / 8] |= 1 << (c % 8);
    }
    Ok(m)
}

fn affinity_line(map: &[u8], maxcpu: u32, pretty: bool) -> String {
    let mut s = format!("{:<15} ", "CPU Affinity:");
    if pretty {
        s += &format!("{} (out of {})", map_str(map), maxcpu);
    } else {
        for i in 0..maxcpu as usize {
            let used = map.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0);
            s.push(if used { 'y' } else { '-' });
        }
    }
    s.push('\n');
    s
}

fn vcpuinfo(ctl: &mut Ctl, c: &Cmd) -> R {
    let pretty = c.has("pretty");
    let dom = ctl.domain(c)?;
    let maxcpu = host_cpus(ctl)?;
    let conn = ctl.conn()?;
    let info = conn.domain_get_info(&dom)?;
    let ml = maplen(maxcpu);
    let mut s = String::new();
    match conn.domain_get_vcpus(&dom, info.nr_virt_cpu as i32, ml as i32) {
        Ok((vcpus, maps)) => {
            for (n, v) in vcpus.iter().enumerate() {
                s += &format!("{:<15} {}\n", "VCPU:", v.number);
                s += &format!("{:<15} {}\n", "CPU:", v.cpu);
                s += &format!("{:<15} {}\n", "State:", vcpu_state(v.state));
                if v.cpu_time != 0 {
                    s += &format!("{:<15} {:.1}s\n", "CPU time:", v.cpu_time as f64 / 1e9);
                }
                let m = maps.get(n * ml..(n + 1) * ml).unwrap_or(&[]);
                s += &affinity_line(m, maxcpu, pretty);
                if n + 1 < vcpus.len() {
                    s.push('\n');
                }
            }
        }
        Err(e) => {
            if info.state as i32 != 5 {
                return Err(e.into());
            }
            let max = conn.domain_get_vcpus_flags(&dom, affect::CONFIG | 4)?;
            let (maps, n) = conn.domain_get_vcpu_pin_info(&dom, max, ml as i32, affect::CONFIG)?;
            for i in 0..n.max(0) as usize {
                if i > 0 {
                    s.push('\n');
                }
                s += &format!("{:<15} {}\n", "VCPU:", i);
                s += &format!("{:<15} {}\n", "CPU:", "N/A");
                s += &format!("{:<15} {}\n", "State:", "N/A");
                s += &format!("{:<15} {}\n", "CPU time", "N/A");
                let m = maps.get(i * ml..(i + 1) * ml).unwrap_or(&[]);
                s += &affinity_line(m, maxcpu, pretty);
            }
        }
    }
    ctl.print(&s);
    Ok(())
}

fn vcpu_state(s: i32) -> &'static str {
    match s {
        0 => "offline",
        1 => "running",
        2 => "blocked",
        _ => "no state",
    }
}

fn vcpupin(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let cpulist = c.string("cpulist")?.map(str::to_string);
    if cpulist.is_none() {
        exclusive(c, "live", "config")?;
    }
    let vcpu = c.uint("vcpu")?;
    if cpulist.is_some() && vcpu.is_none() {
        return Err(Fail::Msg(
            "vcpupin: Missing vCPU number in pin mode.".into(),
        ));
    }
    let maxcpu = host_cpus(ctl)?;
    let dom = ctl.domain(c)?;
    let conn = ctl.conn()?;
    let Some(list) = cpulist else {
        // Query mode.
        let live = flags & affect::LIVE != 0;
        let config = flags & affect::CONFIG != 0;
        let applies = (!live || conn.domain_is_active(&dom).unwrap_or(false))
            && (!config || conn.domain_is_persistent(&dom).unwrap_or(false));
        if !applies {
            return Err(Fail::Msg(if live {
                "cannot get vcpupin for offline domain".into()
            } else {
                "cannot get vcpupin for transient domain".into()
            }));
        }
        let ncpus = conn.domain_get_vcpus_flags(&dom, flags | 4)?;
        if let Some(v) = vcpu {
            if v >= ncpus as u32 {
                let running = live || (!config && conn.domain_is_active(&dom).unwrap_or(false));
                return Err(Fail::Msg(format!(
                    "vcpu {} is out of range of {} cpu count {}",
                    v,
                    if running { "live" } else { "persistent" },
                    ncpus
                )));
            }
        }
        let ml = maplen(maxcpu);
        let (maps, n) = conn.domain_get_vcpu_pin_info(&dom, ncpus, ml as i32, flags)?;
        let mut t = Table::new(&["VCPU", "CPU Affinity"]);
        for i in 0..n.max(0) as usize {
            if vcpu.is_some_and(|v| v as usize != i) {
                continue;
            }
            t.row([
                i.to_string(),
                map_str(maps.get(i * ml..(i + 1) * ml).unwrap_or(&[])),
            ]);
        }
        ctl.print(&t.render(!ctl.quiet));
        return Ok(());
    };
    let map = parse_cpulist(&list, maxcpu)?;
    conn.domain_pin_vcpu(&dom, vcpu.unwrap_or(0), &map, flags)?;
    Ok(())
}

fn emulatorpin(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let dom = ctl.domain(c)?;
    let cpulist = c.string("cpulist")?.map(str::to_string);
    let maxcpu = host_cpus(ctl)?;
    let conn = ctl.conn()?;
    let Some(list) = cpulist else {
        let (map, _) = conn.domain_get_emulator_pin_info(&dom, maplen(maxcpu) as i32, flags)?;
        ctl.extra("emulator: CPU Affinity\n");
        ctl.extra("----------------------------------\n");
        ctl.extra("       *: ");
        ctl.print(&format!("{}\n", map_str(&map)));
        return Ok(());
    };
    let map = parse_cpulist(&list, maxcpu)?;
    conn.domain_pin_emulator(&dom, &map, flags)?;
    Ok(())
}

fn iothreadinfo(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let dom = ctl.domain(c)?;
    let info = ctl
        .conn()?
        .domain_get_iothread_info(&dom, flags)
        .ctx(|| "Unable to get domain IOThreads information".into())?;
    if info.is_empty() {
        ctl.extra("No IOThreads found for the domain");
        return Ok(());
    }
    let mut t = Table::new(&["IOThread ID", "CPU Affinity"]);
    for i in &info {
        t.row([i.iothread_id.to_string(), map_str(&i.cpumap)]);
    }
    ctl.print(&t.render(!ctl.quiet));
    Ok(())
}

fn iothread_id(c: &Cmd) -> Result<u32, Fail> {
    let id = c.int("id")?.unwrap_or(0);
    if id <= 0 {
        return Err(Fail::Msg(format!("Invalid IOThread id value: '{}'", id)));
    }
    Ok(id as u32)
}

fn iothreadadd(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let dom = ctl.domain(c)?;
    let id = iothread_id(c)?;
    ctl.conn()?.domain_add_iothread(&dom, id, flags)?;
    Ok(())
}

fn iothreaddel(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let dom = ctl.domain(c)?;
    let id = iothread_id(c)?;
    ctl.conn()?.domain_del_iothread(&dom, id, flags)?;
    Ok(())
}

fn iothreadpin(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let dom = ctl.domain(c)?;
    let id = c.uint("iothread")?.unwrap_or(0);
    let list = c.req("cpulist")?.to_string();
    let maxcpu = host_cpus(ctl)?;
    let map = parse_cpulist(&list, maxcpu)?;
    ctl.conn()?.domain_pin_iothread(&dom, id, &map, flags)?;
    Ok(())
}

fn iothreadset(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let dom = ctl.domain(c)?;
    let id = iothread_id(c)?;
    let mut params = Vec::new();
    if let Some(v) = c.ull("poll-max-ns")? {
        params.push(TypedParam::new("poll_max_ns", TypedValue::ULLong(v)));
    }
    for (opt, field) in [("poll-grow", "poll_grow"), ("poll-shrink", "poll_shrink")] {
        if let Some(v) = c.uint(opt)? {
            params.push(TypedParam::new(field, TypedValue::UInt(v)));
        }
    }
    for (opt, field) in [
        ("thread-pool-min", "thread_pool_min"),
        ("thread-pool-max", "thread_pool_max"),
    ] {
        if let Some(v) = c.int(opt)? {
            params.push(TypedParam::new(field, TypedValue::Int(v)));
        }
    }
    if params.is_empty() {
        return Err(Fail::Msg(
            "Not enough arguments passed, nothing to set".into(),
        ));
    }
    ctl.conn()?
        .domain_set_iothread_params(&dom, id, &params, flags)?;
    Ok(())
}

fn stat_field(p: &TypedParam) -> String {
    let mut s = format!("\t{:<12} ", p.field);
    match (&p.value, p.field.as_str()) {
        (TypedValue::ULLong(v), "cpu_time" | "vcpu_time" | "user_time" | "system_time") => {
            s += &format!(
                "{:>9}.{:09} seconds\n",
                v / 1_000_000_000,
                v % 1_000_000_000
            );
        }
        (v, _) => s += &format!("{}\n", param_str(v)),
    }
    s
}

fn cpu_stats(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let mut show_total = c.has("total");
    let mut show_per_cpu = false;
    let mut cpu = 0i32;
    let mut count = -1i32;
    if let Some(v) = c.int("start")? {
        if v < 0 {
            return Err(Fail::Msg("Invalid value for start CPU".into()));
        }
        cpu = v;
        show_per_cpu = true;
    }
    if let Some(v) = c.int("count")? {
        if v < 0 {
            return Err(Fail::Msg("Invalid value for number of CPUs to show".into()));
        }
        count = v;
        show_per_cpu = true;
    }
    if !show_total && !show_per_cpu {
        show_total = true;
        show_per_cpu = true;
    }
    let conn = ctl.conn()?;
    let failed = |e: Error| {
        Fail::msg_lib(
            format!(
                "Failed to retrieve CPU statistics for domain '{}'",
                dom.name
            ),
            e,
        )
    };
    if show_per_cpu {
        let max_id = conn
            .domain_get_cpu_stats(&dom, 0, 0, 0, 0)
            .map_err(failed)?
            .len() as i32;
        if cpu >= max_id {
            return Err(Fail::Msg(format!(
                "Start CPU {} is out of range (min: 0, max: {})",
                cpu,
                max_id - 1
            )));
        }
        if count < 0 || count > max_id {
            if count > max_id {
                ctl.print(&format!("Only {} CPUs available to show\n", max_id));
            }
            count = max_id - cpu;
        }
        let mut s = String::new();
        while count > 0 {
            let n = count.min(128);
            let stats = conn
                .domain_get_cpu_stats(&dom, cpu, n as u32, 2, 0)
                .map_err(failed)?;
            for (i, st) in stats.iter().enumerate() {
                if st.is_empty() {
                    continue;
                }
                s += &format!("CPU{}:\n", cpu as usize + i);
                for p in st {
                    s += &stat_field(p);
                }
            }
            cpu += n;
            count -= n;
        }
        ctl.print(&s);
    }
    if show_total {
        let stats = conn
            .domain_get_cpu_stats(&dom, -1, 1, 0, 0)
            .map_err(failed)?;
        let mut s = String::from("Total:\n");
        for p in stats.first().map(|v| v.as_slice()).unwrap_or(&[]) {
            s += &stat_field(p);
        }
        ctl.print(&s);
    }
    Ok(())
}

fn domcontrol(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let info = ctl.conn()?.domain_get_control_info(&dom, 0)?;
    let state = match info.state {
        0 => "ok",
        1 => "background job",
        2 => "occupied",
        3 => "error",
        _ => "unknown",
    };
    if info.state != 0 && info.state != 3 {
        ctl.print(&format!(
            "{} ({:.3}s)\n",
            state,
            info.state_time as f64 / 1000.0
        ));
    } else if info.state == 3 && info.details > 0 {
        let why = match info.details {
            1 => "unknown",
            2 => "monitor failure",
            3 => "internal (locking) error",
            _ => "unknown",
        };
        ctl.print(&format!("{}: {}\n", state, why));
    } else {
        ctl.print(&format!("{}\n", state));
    }
    Ok(())
}

fn blkiotune(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let dom = ctl.domain(c)?;
    let mut params = Vec::new();
    if let Some(w) = c.int("weight")? {
        if w <= 0 {
            return Err(Fail::Msg(format!("Invalid value of {} for I/O weight", w)));
        }
        params.push(TypedParam::new("weight", TypedValue::UInt(w as u32)));
    }
    for (opt, field) in [
        ("device-weights", "device_weight"),
        ("device-read-iops-sec", "device_read_iops_sec"),
        ("device-write-iops-sec", "device_write_iops_sec"),
        ("device-read-bytes-sec", "device_read_bytes_sec"),
        ("device-write-bytes-sec", "device_write_bytes_sec"),
    ] {
        if c.has(opt) {
            let v = c
                .string_quiet(opt)
                .ok_or_else(|| Fail::Msg("Unable to parse string parameter".into()))?;
            params.push(TypedParam::new(field, TypedValue::String(v.to_string())));
        }
    }
    let conn = ctl.conn()?;
    show_or_set(
        ctl,
        &params,
        [
            "Unable to get number of blkio parameters",
            "Unable to get blkio parameters",
            "Unable to change blkio parameters",
        ],
        |n| conn.domain_get_blkio_parameters(&dom, n, flags),
        |p| param_str(&p.value),
        |ps| conn.domain_set_blkio_parameters(&dom, ps, flags),
    )
}

fn sched_update(c: &Cmd, current: &[TypedParam]) -> Result<Vec<TypedParam>, Fail> {
    let mut out = Vec::new();
    let mut one = |field: &str, value: &str| -> Result<(), Fail> {
        match current.iter().find(|p| p.field == field) {
            Some(p) => {
                out.push(param_from_str(field, &p.value, value)?);
                Ok(())
            }
            None => Err(Fail::Msg(format!("invalid scheduler option: {}", field))),
        }
    };
    for a in c.argv() {
        let Some((f, v)) = a.split_once('=') else {
            return Err(Fail::Msg(
                "Invalid syntax for --set, expecting name=value".into(),
            ));
        };
        one(f, v)?;
    }
    for k in ["cap", "weight"] {
        if let Some(v) = c.string(k)? {
            one(k, v)?;
        }
    }
    Ok(out)
}

fn schedinfo(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let (config, live) = (c.has("config"), c.has("live"));
    let qflags = if config && live {
        affect::CURRENT
    } else {
        flags
    };
    let dom: DomainRef = ctl.domain(c)?;
    let conn = ctl.conn()?;
    let (kind, n) = match conn.domain_get_scheduler_type(&dom) {
        Ok(v) => v,
        Err(e) => {
            ctl.print(&format!("{:<15}: {}\n", "Scheduler", "Unknown"));
            return Err(e.into());
        }
    };
    ctl.print(&format!("{:<15}: {}\n", "Scheduler", kind));
    if n == 0 {
        return Err(Fail::Silent);
    }
    let mut params = conn.domain_get_scheduler_parameters(&dom, n, qflags)?;
    let updates = sched_update(c, &params)?;
    if !updates.is_empty() {
        conn.domain_set_scheduler_parameters(&dom, &updates, flags)?;
        params = conn.domain_get_scheduler_parameters(&dom, n, qflags)?;
    } else if live && config {
        return Err(Fail::Msg(
            "cannot query both live and config at once".into(),
        ));
    }
    ctl.print(&param_lines(&params, |p| param_str(&p.value)));
    Ok(())
}
