//! net-event, pool-event, nodedev-event, secret-event and
//! qemu-monitor-event.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use oxvirt_core::event::{
    NetworkEvent, NetworkEventKind, PoolEvent, PoolEventKind, QemuMonitorEvent,
};

use crate::cmd::Cmd;
use crate::ctl::{Ctl, Fail, R};

use super::Handler;

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "net-event" => net_event,
        "pool-event" => pool_event,
        "nodedev-event" => nodedev_event,
        "secret-event" => secret_event,
        "qemu-monitor-event" => qemu_monitor_event,
        _ => return None,
    })
}

const LIFECYCLE: [&str; 6] = [
    "Defined",
    "Undefined",
    "Started",
    "Stopped",
    "Created",
    "Deleted",
];

fn lifecycle_str(i: i32, n: usize) -> &'static str {
    if i >= 0 && (i as usize) < n {
        LIFECYCLE[i as usize]
    } else {
        "unknown"
    }
}

/// virsh's *-event commands report a failed object lookup and go on
/// watching every object.
fn soft<T>(ctl: &mut Ctl, r: Result<T, Fail>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(Fail::MsgLib(m, e)) => {
            ctl.error(&m);
            ctl.last_error = Some(*e);
            None
        }
        Err(Fail::Msg(m)) => {
            ctl.error(&m);
            None
        }
        Err(Fail::Lib(e)) => {
            ctl.last_error = Some(*e);
            None
        }
        Err(Fail::Silent) => None,
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// The common front of the *-event commands: --list, the event's index,
/// the timeout.
fn prologue(ctl: &Ctl, c: &Cmd, names: &[&str]) -> Result<Option<(i32, Option<Duration>)>, Fail> {
    if c.has("list") {
        let mut s = String::new();
        for n in names {
            s += n;
            s.push('\n');
        }
        ctl.print(&s);
        return Ok(None);
    }
    let Some(name) = c.string("event")?.map(str::to_string) else {
        return Err(Fail::Msg(
            "either --list or --event <type> is required".into(),
        ));
    };
    let Some(id) = names.iter().position(|n| *n == name) else {
        return Err(Fail::Msg(format!("unknown event type {}", name)));
    };
    let timeout = super::event::timeout(c)?;
    Ok(Some((id as i32, timeout)))
}

/// Waits for events, printing each; then deregisters.
fn wait(
    ctl: &Ctl,
    c: &Cmd,
    rx: mpsc::Receiver<String>,
    timeout: Option<Duration>,
    deregister: impl FnOnce() -> oxvirt_core::Result<()>,
) -> R {
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
                    ctl.print(&format!("{}: {}", super::event::timestamp(), msg));
                } else {
                    ctl.print(&msg);
                }
                count += 1;
                if !lp {
                    break "";
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(100))
            }
        }
    };
    // SAFETY: restores the previous disposition.
    unsafe { libc::signal(libc::SIGINT, old) };
    ctl.print(outcome);
    ctl.print(&format!("events received: {}\n", count));
    let dereg = deregister();
    if count == 0 || dereg.is_err() {
        return Err(Fail::Silent);
    }
    Ok(())
}

fn net_event(ctl: &mut Ctl, c: &Cmd) -> R {
    let Some((id, timeout)) = prologue(ctl, c, &["lifecycle"])? else {
        return Ok(());
    };
    let net = if c.has("network") {
        let r = super::network::net(ctl, c);
        soft(ctl, r)
    } else {
        None
    };
    let conn = ctl.conn()?;
    let (tx, rx) = mpsc::channel::<String>();
    let cb = Arc::new(move |ev: &NetworkEvent| {
        if let NetworkEventKind::Lifecycle { event, .. } = ev.kind {
            let _ = tx.send(format!(
                "event 'lifecycle' for network {}: {}\n",
                ev.net.name,
                lifecycle_str(event, 4)
            ));
        }
    });
    let cid = conn
        .network_event_register(net.as_ref(), id, cb)
        .map_err(Fail::lib)?;
    wait(ctl, c, rx, timeout, || conn.network_event_deregister(cid))
}

fn pool_event(ctl: &mut Ctl, c: &Cmd) -> R {
    let names = ["lifecycle", "refresh"];
    let Some((id, timeout)) = prologue(ctl, c, &names)? else {
        return Ok(());
    };
    let pool = if c.has("pool") {
        let r = super::pool::pool(ctl, c);
        soft(ctl, r)
    } else {
        None
    };
    let conn = ctl.conn()?;
    let (tx, rx) = mpsc::channel::<String>();
    let cb = Arc::new(move |ev: &PoolEvent| {
        let msg = match ev.kind {
            PoolEventKind::Lifecycle { event, .. } => format!(
                "event 'lifecycle' for storage pool {}: {}\n",
                ev.pool.name,
                lifecycle_str(event, 6)
            ),
            PoolEventKind::Refresh => {
                format!("event 'refresh' for storage pool {}\n", ev.pool.name)
            }
        };
        let _ = tx.send(msg);
    });
    let cid = conn
        .pool_event_register(pool.as_ref(), id, cb)
        .map_err(Fail::lib)?;
    wait(ctl, c, rx, timeout, || conn.pool_event_deregister(cid))
}

fn nodedev_event(ctl: &mut Ctl, c: &Cmd) -> R {
    let Some((id, timeout)) = prologue(ctl, c, &["lifecycle", "update"])? else {
        return Ok(());
    };
    let dev = match c.string("device")? {
        Some(d) => {
            let r = ctl
                .conn()?
                .lookup_node_device_by_name(d)
                .map_err(|e| Fail::msg_lib(format!("Could not find matching device '{}'", d), e))?;
            Some(r)
        }
        None => None,
    };
    let conn = ctl.conn()?;
    let (tx, rx) = mpsc::channel::<String>();
    let cb = Arc::new(move |name: &str, event: i32, _detail: i32| {
        let msg = if id == 0 {
            let s = match event {
                0 => "Created",
                1 => "Deleted",
                2 => "Defined",
                3 => "Undefined",
                _ => "unknown",
            };
            format!("event 'lifecycle' for node device {}: {}\n", name, s)
        } else {
            format!("event 'update' for node device {}\n", name)
        };
        let _ = tx.send(msg);
    });
    let cid = conn
        .node_device_event_register(dev.as_ref(), id, cb)
        .map_err(Fail::lib)?;
    wait(ctl, c, rx, timeout, || {
        conn.node_device_event_deregister(cid)
    })
}

fn secret_event(ctl: &mut Ctl, c: &Cmd) -> R {
    let Some((id, timeout)) = prologue(ctl, c, &["lifecycle", "value-changed"])? else {
        return Ok(());
    };
    let secret = match c.string("secret")? {
        Some(s) => soft(ctl, super::secret::lookup(ctl, s)),
        None => None,
    };
    let conn = ctl.conn()?;
    let (tx, rx) = mpsc::channel::<String>();
    let cb = Arc::new(move |ev: &oxvirt_core::event::SecretEvent| {
        let uuid = ev.secret.uuid;
        let msg = match ev.kind {
            oxvirt_core::event::SecretEventKind::Lifecycle { event, .. } => {
                let s = match event {
                    0 => "Defined",
                    1 => "Undefined",
                    _ => "unknown",
                };
                format!("event 'lifecycle' for secret {}: {}\n", uuid, s)
            }
            oxvirt_core::event::SecretEventKind::ValueChanged => {
                format!("event 'value-changed' for secret {}\n", uuid)
            }
        };
        let _ = tx.send(msg);
    });
    let cid = conn
        .secret_event_register(secret.as_ref(), id, cb)
        .map_err(Fail::lib)?;
    wait(ctl, c, rx, timeout, || conn.secret_event_deregister(cid))
}

/// virshEventQemuPrint's line. The details are printed as the driver
/// delivers them: `--pretty`'s re-indentation of the JSON is not done (no
/// driver delivers QEMU monitor events yet).
fn qemu_event_line(ev: &QemuMonitorEvent, stamp: bool) -> String {
    let details = ev.details.as_deref().unwrap_or("<null>");
    if stamp {
        // wait() puts the time in front.
        format!(
            "event {} for domain '{}': {}\n",
            ev.event, ev.dom.name, details
        )
    } else {
        format!(
            "event {} at {}.{:06} for domain '{}': {}\n",
            ev.event, ev.seconds, ev.micros, ev.dom.name, details
        )
    }
}

fn qemu_monitor_event(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = 0;
    if c.has("regex") {
        flags |= 1;
    }
    if c.has("no-case") {
        flags |= 2;
    }
    let timeout = super::event::timeout(c)?;
    let event = c.string("event")?.map(str::to_string);
    let dom = super::event::domain_opt(ctl, c)?;
    let conn = ctl.conn()?;
    let (tx, rx) = mpsc::channel::<String>();
    let stamp = c.has("timestamp");
    let cb = Arc::new(move |ev: &QemuMonitorEvent| {
        let _ = tx.send(qemu_event_line(ev, stamp));
    });
    let id = conn.domain_qemu_monitor_event_register(dom.as_ref(), event.as_deref(), cb, flags)?;
    wait(ctl, c, rx, timeout, || {
        conn.domain_qemu_monitor_event_deregister(id)
    })
}
