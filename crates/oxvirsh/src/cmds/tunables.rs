//! Tunables kept in the definition: memtune, numatune, domiftune,
//! blkdeviotune, perf and set-lifecycle-action.

use oxvirt_core::types::{TypedParam, TypedValue};
use oxvirt_xml::domain::{LIFECYCLE_ACTIONS, LIFECYCLE_EVENTS, MEMORY_UNLIMITED, NUMATUNE_MODES};

use crate::cmd::{Cmd, OptError};
use crate::ctl::{Context, Ctl, Fail, R};

use super::domain::impact;
use super::tune::{param_lines, param_str, show_or_set};
use super::Handler;

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "memtune" => memtune,
        "numatune" => numatune,
        "domiftune" => domiftune,
        "blkdeviotune" => blkdeviotune,
        "perf" => perf,
        "set-lifecycle-action" => set_lifecycle_action,
        _ => return None,
    })
}

fn ull(field: &str, v: u64) -> TypedParam {
    TypedParam::new(field, TypedValue::ULLong(v))
}

/// virshMemtuneGetSize: KiB by default, a negative number for unlimited.
fn memtune_size(c: &Cmd, opt: &str) -> Result<Option<u64>, Fail> {
    let fail = |e: Option<oxvirt_core::Error>| {
        let msg = format!("Unable to parse integer parameter {}", opt);
        match e {
            Some(e) => Fail::msg_lib(msg, e),
            None => Fail::Msg(msg),
        }
    };
    if !c.has(opt) {
        return Ok(None);
    }
    // virStrToLong_ll, then the unit suffix.
    let t = c.string_quiet(opt).ok_or_else(|| fail(None))?.trim_start();
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let digits = body.len() - body.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let value: i64 = body[..digits].parse().map_err(|_| fail(None))?;
    if t.starts_with('-') && value != 0 {
        return Ok(Some(MEMORY_UNLIMITED));
    }
    let bytes = crate::cmd::scaled_int(body, 1024, i64::MAX as u64).map_err(fail)?;
    Ok(Some(bytes.div_ceil(1024)))
}

fn memtune(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let dom = ctl.domain(c)?;
    let mut params = Vec::new();
    for opt in [
        "hard-limit",
        "soft-limit",
        "swap-hard-limit",
        "min-guarantee",
    ] {
        if let Some(v) = memtune_size(c, opt)? {
            params.push(ull(&opt.replace('-', "_"), v));
        }
    }
    let conn = ctl.conn()?;
    show_or_set(
        ctl,
        &params,
        [
            "Unable to get number of memory parameters",
            "Unable to get memory parameters",
            "Unable to change memory parameters",
        ],
        |n| conn.domain_get_memory_parameters(&dom, n, flags),
        |p| match p.value {
            TypedValue::ULLong(MEMORY_UNLIMITED) => "unlimited".into(),
            ref v => param_str(v),
        },
        |ps| conn.domain_set_memory_parameters(&dom, ps, flags),
    )
}

fn numatune(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let dom = ctl.domain(c)?;
    let mut params = Vec::new();
    if let Some(set) = c.string("nodeset")? {
        params.push(TypedParam::new(
            "numa_nodeset",
            TypedValue::String(set.to_string()),
        ));
    }
    if let Some(mode) = c.string("mode")? {
        let m = NUMATUNE_MODES
            .iter()
            .position(|m| m.to_string() == mode)
            .map(|i| i as i32)
            .or_else(|| crate::cmd::parse_c_int(mode))
            .ok_or_else(|| Fail::Msg(format!("Invalid mode: {}", mode)))?;
        params.push(TypedParam::new("numa_mode", TypedValue::Int(m)));
    }
    let conn = ctl.conn()?;
    show_or_set(
        ctl,
        &params,
        [
            "Unable to get number of memory parameters",
            "Unable to get numa parameters",
            "Unable to change numa parameters",
        ],
        |n| conn.domain_get_numa_parameters(&dom, n, flags),
        |p| match (&p.value, p.field.as_str()) {
            (TypedValue::Int(m), "numa_mode") => usize::try_from(*m)
                .ok()
                .and_then(|i| NUMATUNE_MODES.get(i))
                .map_or("(null)".into(), |m| m.to_string()),
            (v, _) => param_str(v),
        },
        |ps| conn.domain_set_numa_parameters(&dom, ps, flags),
    )
}

/// virshParseRateStr: "average,peak,burst,floor", any of them empty.
fn parse_rate(s: &str) -> Result<[u64; 4], Fail> {
    let fields: Vec<&str> = s.split(',').collect();
    if fields.len() > 4 {
        return Err(Fail::Msg(format!(
            "Rate string '{}' has too many fields",
            s
        )));
    }
    let mut rate = [0u64; 4];
    for (i, name) in ["average", "peak", "burst", "floor"].iter().enumerate() {
        match fields.get(i) {
            Some(f) if !f.is_empty() => {
                rate[i] = crate::cmd::strtoul_p(f)
                    .ok_or_else(|| Fail::Msg(format!("field '{}' is malformed", name)))?;
            }
            _ => {}
        }
    }
    Ok(rate)
}

/// The bandwidth parameters of one direction of `domiftune`.
fn rate_params(dir: &str, s: &str) -> Result<Vec<TypedParam>, Fail> {
    let [average, peak, burst, floor] = parse_rate(s)?;
    if [average, peak, burst].iter().any(|v| *v > u32::MAX as u64) {
        return Err(Fail::Msg(format!(
            "{} rate larger than maximum {}",
            dir,
            u32::MAX
        )));
    }
    let inbound = dir == "inbound";
    if inbound && average == 0 && (burst != 0 || peak != 0) && floor == 0 {
        return Err(Fail::Msg(
            "either inbound average or floor is mandatory".into(),
        ));
    }
    if !inbound && average == 0 && (burst != 0 || peak != 0) {
        return Err(Fail::Msg("outbound average is mandatory".into()));
    }
    if !inbound && floor != 0 {
        return Err(Fail::Msg("outbound floor is unsupported yet".into()));
    }
    let uint =
        |f: &str, v: u64| TypedParam::new(format!("{}.{}", dir, f), TypedValue::UInt(v as u32));
    let mut v = vec![uint("average", average)];
    for (f, x) in [("peak", peak), ("burst", burst), ("floor", floor)] {
        if x != 0 {
            v.push(uint(f, x));
        }
    }
    Ok(v)
}

fn domiftune(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let dom = ctl.domain(c)?;
    let device = c.req("interface")?.to_string();
    let inbound = c.string("inbound")?;
    let outbound = c.string("outbound")?;
    let mut params = Vec::new();
    for (dir, s) in [("inbound", inbound), ("outbound", outbound)] {
        if let Some(s) = s {
            params.extend(rate_params(dir, s)?);
        }
    }
    let conn = ctl.conn()?;
    show_or_set(
        ctl,
        &params,
        [
            "Unable to get number of interface parameters",
            "Unable to get interface parameters",
            "Unable to set interface parameters",
        ],
        |n| conn.domain_get_interface_parameters(&dom, &device, n, flags),
        |p| param_str(&p.value),
        |ps| conn.domain_set_interface_parameters(&dom, &device, ps, flags),
    )
}

/// blkdeviotune's numeric options, in virsh's order; the scaled ones take
/// a unit suffix.
const IOTUNE_OPTS: [(&str, bool); 19] = [
    ("total-bytes-sec", true),
    ("read-bytes-sec", true),
    ("write-bytes-sec", true),
    ("total-bytes-sec-max", true),
    ("read-bytes-sec-max", true),
    ("write-bytes-sec-max", true),
    ("total-iops-sec", false),
    ("read-iops-sec", false),
    ("write-iops-sec", false),
    ("total-iops-sec-max", false),
    ("read-iops-sec-max", false),
    ("write-iops-sec-max", false),
    ("size-iops-sec", false),
    ("total-bytes-sec-max-length", false),
    ("read-bytes-sec-max-length", false),
    ("write-bytes-sec-max-length", false),
    ("total-iops-sec-max-length", false),
    ("read-iops-sec-max-length", false),
    ("write-iops-sec-max-length", false),
];

/// An option error printed at once, then virsh's own message (and the
/// libvirt error behind the option's, last).
fn then(ctl: &Ctl, e: OptError, msg: &str) -> Fail {
    ctl.error(&e.0);
    match e.1 {
        Some(lib) => Fail::MsgLib(msg.into(), lib),
        None => Fail::Msg(msg.into()),
    }
}

fn blkdeviotune(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let dom = ctl.domain(c)?;
    let disk = c.req("device")?.to_string();
    let mut params = Vec::new();
    for (opt, scaled) in IOTUNE_OPTS {
        let v = if scaled {
            c.scaled(opt, 1, u64::MAX)
        } else {
            c.ull(opt)
        };
        match v {
            Ok(Some(v)) => params.push(ull(&opt.replace('-', "_"), v)),
            Ok(None) => {}
            Err(e) => return Err(then(ctl, e, "Unable to parse integer parameter")),
        }
    }
    match c.string("group-name") {
        Ok(Some(g)) => params.push(TypedParam::new(
            "group_name",
            TypedValue::String(g.to_string()),
        )),
        Ok(None) => {}
        Err(e) => return Err(then(ctl, e, "Unable to parse group-name parameter")),
    }
    let conn = ctl.conn()?;
    show_or_set(
        ctl,
        &params,
        [
            "Unable to get number of block I/O throttle parameters",
            "Unable to get block I/O throttle parameters",
            "Unable to change block I/O throttle",
        ],
        // virsh counts without naming the disk.
        |n| conn.domain_get_block_io_tune(&dom, (n > 0).then_some(disk.as_str()), n, flags),
        |p| param_str(&p.value),
        |ps| conn.domain_set_block_io_tune(&dom, &disk, ps, flags),
    )
}

/// virshPrintPerfStatus
fn perf_status(ctl: &Ctl, params: &[TypedParam]) {
    ctl.extra(&param_lines(params, |p| {
        match p.value {
            TypedValue::Boolean(true) => "enabled",
            _ => "disabled",
        }
        .into()
    }));
}

fn perf(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let enable = c.string("enable")?.map(str::to_string);
    let disable = c.string("disable")?.map(str::to_string);
    let dom = ctl.domain(c)?;
    let mut params = Vec::new();
    for (list, on) in [(enable, true), (disable, false)] {
        for name in list.iter().flat_map(|l| l.split(',')) {
            if !name.is_empty() {
                params.push(TypedParam::new(name, TypedValue::Boolean(on)));
            }
        }
    }
    let conn = ctl.conn()?;
    if params.is_empty() {
        let got = conn
            .domain_get_perf_events(&dom, flags)
            .ctx(|| "Unable to get perf events".into())?;
        perf_status(ctl, &got);
        return Ok(());
    }
    conn.domain_set_perf_events(&dom, &params, flags)
        .ctx(|| "Unable to enable/disable perf events".into())?;
    perf_status(ctl, &params);
    Ok(())
}

fn set_lifecycle_action(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let kind = c.req("type")?;
    let action = c.req("action")?;
    let Some(k) = LIFECYCLE_EVENTS.iter().position(|t| *t == kind) else {
        return Err(Fail::Msg(format!("Invalid lifecycle type '{}'.", kind)));
    };
    let Some(a) = LIFECYCLE_ACTIONS
        .iter()
        .position(|t| t.to_string() == action)
    else {
        return Err(Fail::Msg(format!("Invalid lifecycle action '{}'.", action)));
    };
    let dom = ctl.domain(c)?;
    ctl.conn()?
        .domain_set_lifecycle_action(&dom, k as u32, a as u32, flags)
        .ctx(|| "Unable to change lifecycle action.".into())?;
    Ok(())
}
