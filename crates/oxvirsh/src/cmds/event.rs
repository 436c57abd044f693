//! `event`: waits for domain events and prints them as virsh does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxvirt_core::event::{DomainEvent, DomainEventKind};
use oxvirt_core::types::{DomainRef, TypedValue};

use crate::cmd::Cmd;
use crate::ctl::{Ctl, Fail, R};

use super::{exclusive, Handler};

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "event" => event,
        _ => return None,
    })
}

/// virsh's event names, indexed by virDomainEventID.
pub const EVENT_NAMES: &[&str] = &[
    "lifecycle",
    "reboot",
    "rtc-change",
    "watchdog",
    "io-error",
    "graphics",
    "io-error-reason",
    "control-error",
    "block-job",
    "disk-change",
    "tray-change",
    "pm-wakeup",
    "pm-suspend",
    "balloon-change",
    "pm-suspend-disk",
    "device-removed",
    "block-job-2",
    "tunable",
    "agent-lifecycle",
    "device-added",
    "migration-iteration",
    "job-completed",
    "device-removal-failed",
    "metadata-change",
    "block-threshold",
    "memory-failure",
    "memory-device-size-change",
];

fn pick(table: &[&'static str], i: i32) -> &'static str {
    usize::try_from(i)
        .ok()
        .and_then(|i| table.get(i).copied())
        .unwrap_or("unknown")
}

/// virshDomainEventToString.
pub fn lifecycle_event_str(event: i32) -> &'static str {
    pick(
        &[
            "Defined",
            "Undefined",
            "Started",
            "Suspended",
            "Resumed",
            "Stopped",
            "Shutdown",
            "PMSuspended",
            "Crashed",
        ],
        event,
    )
}

/// virshDomainEventDetailToString.
pub fn lifecycle_detail_str(event: i32, detail: i32) -> &'static str {
    let t: &[&str] = match event {
        0 => &["Added", "Updated", "Renamed", "Snapshot"],
        1 => &["Removed", "Renamed"],
        2 => &["Booted", "Migrated", "Restored", "Snapshot", "Event wakeup"],
        3 => &[
            "Paused",
            "Migrated",
            "I/O Error",
            "Watchdog",
            "Restored",
            "Snapshot",
            "API error",
            "Post-copy",
            "Post-copy Error",
        ],
        4 => &[
            "Unpaused",
            "Migrated",
            "Snapshot",
            "Post-copy",
            "Post-copy Error",
        ],
        5 => &[
            "Shutdown",
            "Destroyed",
            "Crashed",
            "Migrated",
            "Saved",
            "Failed",
            "Snapshot",
        ],
        6 => &[
            "Finished",
            "Finished after guest request",
            "Finished after host request",
        ],
        7 => &["Memory", "Disk"],
        8 => &["Panicked", "Crashloaded"],
        _ => &[],
    };
    pick(t, detail)
}

fn param_value(v: &TypedValue) -> String {
    match v {
        TypedValue::Int(i) => i.to_string(),
        TypedValue::UInt(u) => u.to_string(),
        TypedValue::LLong(i) => i.to_string(),
        TypedValue::ULLong(u) => u.to_string(),
        TypedValue::Double(d) => format!("{:.6}", d),
        TypedValue::Boolean(b) => if *b { "1" } else { "0" }.to_string(),
        TypedValue::String(s) => s.clone(),
    }
}

/// The text virsh prints for one event.
pub fn describe(ev: &DomainEvent) -> String {
    use DomainEventKind::*;
    let name = &ev.dom.name;
    let generic = |k: &str| format!("event '{}' for domain '{}'\n", k, name);
    match &ev.kind {
        Lifecycle { event, detail } => format!(
            "event 'lifecycle' for domain '{}': {} {}\n",
            name,
            lifecycle_event_str(*event),
            lifecycle_detail_str(*event, *detail)
        ),
        Reboot => generic("reboot"),
        ControlError => generic("control-error"),
        RtcChange { offset } => format!("event 'rtc-change' for domain '{}': {}\n", name, offset),
        Watchdog { action } => format!(
            "event 'watchdog' for domain '{}': {}\n",
            name,
            pick(&["none", "pause", "reset", "poweroff", "shutdown", "debug", "inject-nmi"], *action)
        ),
        IoError { src_path, dev_alias, action } => format!(
            "event 'io-error' for domain '{}': {} ({}) {}\n",
            name,
            src_path,
            dev_alias,
            pick(&["none", "pause", "report"], *action)
        ),
        IoErrorReason { src_path, dev_alias, action, reason } => format!(
            "event 'io-error-reason' for domain '{}': {} ({}) {} due to {}\n",
            name,
            src_path,
            dev_alias,
            pick(&["none", "pause", "report"], *action),
            reason
        ),
        PmWakeup { .. } => format!("event 'pm-wakeup' for domain '{}': reason: unknown\n", name),
        PmSuspend { .. } => format!("event 'pm-suspend' for domain '{}': reason: unknown\n", name),
        PmSuspendDisk { .. } => {
            format!("event 'pm-suspend-disk' for domain '{}': reason: unknown\n", name)
        }
        BalloonChange { actual } => {
            format!("event 'balloon-change' for domain '{}': {}KiB\n", name, actual)
        }
        DeviceRemoved { dev_alias } => {
            format!("event 'device-removed' for domain '{}': {}\n", name, dev_alias)
        }
        DeviceAdded { dev_alias } => {
            format!("event 'device-added' for domain '{}': {}\n", name, dev_alias)
        }
        DeviceRemovalFailed { dev_alias } => format!(
            "event 'device-removal-failed' for domain '{}': {}\n",
            name, dev_alias
        ),
        Tunable { params } | JobCompleted { params } => {
            let k = if matches!(ev.kind, Tunable { .. }) { "tunable" } else { "job-completed" };
            let mut s = format!("event '{}' for domain '{}':\n", k, name);
            for p in params {
                s += &format!("\t{}: {}\n", p.field, param_value(&p.value));
            }
            s
        }
        MetadataChange { kind, nsuri } => format!(
            "event 'metadata-change' for domain '{}': type {}, uri {}\n",
            name,
            pick(&["description", "title", "element"], *kind),
            nsuri.as_deref().unwrap_or("(null)")
        ),
        BlockThreshold { dev, path, threshold, excess } => format!(
            "event 'block-threshold' for domain '{}': dev: {}({}) {} {}\n",
            name,
            dev,
            path.as_deref().unwrap_or("(null)"),
            threshold,
            excess
        ),
        MigrationIteration { iteration } => format!(
            "event 'migration-iteration' for domain '{}': iteration: '{}'\n",
            name, iteration
        ),
        AgentLifecycle { state, reason } => format!(
            "event 'agent-lifecycle' for domain '{}': state: '{}' reason: '{}'\n",
            name,
            pick(&["unknown", "connected", "disconnected"], *state),
            pick(&["unknown", "domain started", "channel event"], *reason)
        ),
        MemoryDeviceSizeChange { alias, size } => format!(
            "event 'memory-device-size-change' for domain '{}': alias: {} size: {}\n",
            name, alias, size
        ),
        BlockJob { path, job_type, status } | BlockJob2 { dst: path, job_type, status } => {
            let k = if matches!(ev.kind, BlockJob { .. }) { "block-job" } else { "block-job-2" };
            format!(
                "event '{}' for domain '{}': {} for {} {}\n",
                k,
                name,
                pick(&["unknown", "Block Pull", "Block Copy", "Block Commit", "Active Block Commit", "Backup"], *job_type),
                path,
                pick(&["completed", "failed", "canceled", "ready"], *status)
            )
        }
        DiskChange { old_src, new_src, dev_alias, reason } => format!(
            "event 'disk-change' for domain '{}' disk {}: {} -> {}: {}\n",
            name,
            dev_alias,
            old_src.as_deref().unwrap_or("(null)"),
            new_src.as_deref().unwrap_or("(null)"),
            pick(&["changed", "dropped"], *reason)
        ),
        TrayChange { dev_alias, reason } => format!(
            "event 'tray-change' for domain '{}' disk {}: {}\n",
            name,
            dev_alias,
            pick(&["opened", "closed"], *reason)
        ),
        Graphics { .. } => generic("graphics"),
        MemoryFailure { recipient, action, flags } => format!(
            "event 'memory-failure' for domain '{}':\nrecipient: {}\naction: {}\nflags:\n\taction required: {}\n\trecursive: {}\n",
            name,
            pick(&["hypervisor", "guest"], *recipient),
            pick(&["ignore", "inject", "fatal", "reset"], *action),
            if flags & 1 != 0 { "yes" } else { "no" },
            if flags & 2 != 0 { "yes" } else { "no" }
        ),
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// virTimeStringNowRaw: local time with milliseconds and offset.
/// vshCommandOptTimeoutToMs: `--timeout` seconds, more than 0.
pub fn timeout(c: &Cmd) -> Result<Option<Duration>, Fail> {
    match c.uint("timeout")? {
        None => Ok(None),
        Some(t) if t == 0 || t > i32::MAX as u32 / 1000 => Err(Fail::Msg(format!(
            "Numeric value '{}' for <timeout> option is malformed or out of range",
            t
        ))),
        Some(t) => Ok(Some(Duration::from_secs(t as u64))),
    }
}

/// The domain of an event command's `--domain`, if given.
pub fn domain_opt(ctl: &mut Ctl, c: &Cmd) -> Result<Option<DomainRef>, Fail> {
    if c.has("domain") {
        Ok(Some(ctl.domain(c)?))
    } else {
        Ok(None)
    }
}

pub fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r only writes the tm we hand it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&secs, &mut tm) };
    let off = tm.tm_gmtoff / 60;
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}{}{:02}{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_millis(),
        if off < 0 { '-' } else { '+' },
        off.abs() / 60,
        off.abs() % 60
    )
}

fn event(ctl: &mut Ctl, c: &Cmd) -> R {
    exclusive(c, "all", "event")?;
    exclusive(c, "list", "all")?;
    exclusive(c, "list", "event")?;
    if c.has("list") {
        let mut s = String::new();
        for n in EVENT_NAMES {
            s += n;
            s.push('\n');
        }
        ctl.print(&s);
        return Ok(());
    }
    let name = c.string("event")?.map(str::to_string);
    if name.is_none() && !c.has("all") {
        return Err(Fail::Msg(
            "one of --list, --all, or --event <type> is required".into(),
        ));
    }
    let ids: Vec<i32> = (0..EVENT_NAMES.len() as i32)
        .filter(|i| {
            name.as_deref()
                .is_none_or(|n| EVENT_NAMES[*i as usize] == n)
        })
        .collect();
    if ids.is_empty() {
        return Err(Fail::Msg(format!(
            "unknown event type {}",
            name.unwrap_or_default()
        )));
    }
    let timeout = timeout(c)?;
    let dom = domain_opt(ctl, c)?;
    let conn = ctl.conn()?;
    let (tx, rx) = mpsc::channel::<String>();
    let mut registered = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let tx = tx.clone();
        let cb = Arc::new(move |ev: &DomainEvent| {
            let _ = tx.send(describe(ev));
        });
        match conn.domain_event_register(dom.as_ref(), *id, cb) {
            Ok(cid) => registered.push(cid),
            Err(_) if n > 0 => {}
            Err(e) => return Err(e.into()),
        }
    }
    drop(tx);
    INTERRUPTED.store(false, Ordering::SeqCst);
    // SAFETY: the handler only stores to an atomic.
    let old = unsafe { libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t) };
    let (lp, stamp) = (c.has("loop"), c.has("timestamp"));
    let start = Instant::now();
    let mut count = 0;
    let outcome = loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            break "event loop interrupted\n";
        }
        if let Some(t) = timeout {
            if start.elapsed() >= t {
                break "event loop timed out\n";
            }
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(msg) => {
                if stamp {
                    ctl.print(&format!("{}: {}", timestamp(), msg));
                } else {
                    ctl.print(&msg);
                }
                count += 1;
                if !lp {
                    break "";
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break "",
        }
    };
    // SAFETY: restores the previous disposition.
    unsafe { libc::signal(libc::SIGINT, old) };
    ctl.print(outcome);
    ctl.print(&format!("events received: {}\n", count));
    let mut ok = count > 0;
    for id in registered {
        if conn.domain_event_deregister(id).is_err() {
            ok = false;
        }
    }
    if ok {
        Ok(())
    } else {
        Err(Fail::Silent)
    }
}
