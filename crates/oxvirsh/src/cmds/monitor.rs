//! Domain monitoring: list, dominfo, domstate, ids and names.

use oxvirt_core::error::code;
use oxvirt_core::types::flags::list_domains as lf;
use oxvirt_core::types::flags::metadata;
use oxvirt_core::types::DomainRef;

use crate::cmd::Cmd;
use crate::ctl::{Ctl, Fail, BY_ID, BY_NAME, BY_UUID, R};
use crate::table::Table;

use super::{exclusive, state_str, Handler};

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "list" => list,
        "dominfo" => dominfo,
        "domstate" => domstate,
        "domid" => domid,
        "domname" => domname,
        "domuuid" => domuuid,
        _ => return None,
    })
}

/// virshDomainSorter: running domains by id, then the rest by name.
pub fn sort_domains(v: &mut [DomainRef]) {
    v.sort_by(|a, b| match (a.id >= 0, b.id >= 0) {
        (true, true) => a.id.cmp(&b.id),
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        (false, false) => a
            .name
            .to_ascii_lowercase()
            .cmp(&b.name.to_ascii_lowercase()),
    });
}

/// virshDomainStateReasonToString.
pub fn reason_str(state: i32, reason: i32) -> &'static str {
    let table: &[&str] = match state {
        1 => &[
            "unknown",
            "booted",
            "migrated",
            "restored",
            "from snapshot",
            "unpaused",
            "migration canceled",
            "save canceled",
            "event wakeup",
            "crashed",
            "post-copy",
            "post-copy failed",
        ],
        3 => &[
            "unknown",
            "user",
            "migrating",
            "saving",
            "dumping",
            "I/O error",
            "watchdog",
            "from snapshot",
            "shutting down",
            "creating snapshot",
            "crashed",
            "starting up",
            "post-copy",
            "post-copy failed",
        ],
        4 => &["unknown", "user"],
        5 => &[
            "unknown",
            "shutdown",
            "destroyed",
            "crashed",
            "migrated",
            "saved",
            "failed",
            "from snapshot",
            "daemon",
        ],
        6 => &["unknown", "panicked"],
        _ => &["unknown"],
    };
    usize::try_from(reason)
        .ok()
        .and_then(|r| table.get(r).copied())
        .unwrap_or("unknown")
}

/// virshDomainState: the state, and the reason when asked.
pub fn dom_state(ctl: &Ctl, dom: &DomainRef) -> Result<(i32, i32), Fail> {
    let conn = ctl.conn()?;
    match conn.domain_get_state(dom, 0) {
        Ok(s) => Ok(s),
        Err(e) if e.code == code::NO_SUPPORT => {
            let info = conn.domain_get_info(dom)?;
            Ok((info.state as i32, -1))
        }
        Err(e) => Err(e.into()),
    }
}

/// virshGetDomainDescription.
pub fn description(ctl: &Ctl, dom: &DomainRef, title: bool, flags: u32) -> Result<String, Fail> {
    let conn = ctl.conn()?;
    let kind = if title {
        metadata::TITLE
    } else {
        metadata::DESCRIPTION
    };
    match conn.domain_get_metadata(dom, kind, None, flags) {
        Ok(s) => Ok(s),
        Err(e) if e.code == code::NO_DOMAIN_METADATA => Ok(String::new()),
        Err(e) => Err(e.into()),
    }
}

fn list(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = lf::ACTIVE;
    if c.has("inactive") || c.has("state-shutoff") {
        flags = lf::INACTIVE;
    }
    if c.has("all") {
        flags = lf::INACTIVE | lf::ACTIVE;
    }
    for (opt, f) in [
        ("persistent", lf::PERSISTENT),
        ("transient", lf::TRANSIENT),
        ("with-managed-save", lf::MANAGEDSAVE),
        ("without-managed-save", lf::NO_MANAGEDSAVE),
        ("autostart", lf::AUTOSTART),
        ("no-autostart", lf::NO_AUTOSTART),
        ("with-snapshot", lf::HAS_SNAPSHOT),
        ("without-snapshot", lf::NO_SNAPSHOT),
        ("with-checkpoint", lf::HAS_CHECKPOINT),
        ("without-checkpoint", lf::NO_CHECKPOINT),
        ("state-running", lf::RUNNING),
        ("state-paused", lf::PAUSED),
        ("state-shutoff", lf::SHUTOFF),
        ("state-other", lf::OTHER),
    ] {
        if c.has(opt) {
            flags |= f;
        }
    }
    exclusive(c, "table", "name")?;
    exclusive(c, "table", "uuid")?;
    exclusive(c, "table", "id")?;
    let (opt_uuid, opt_name, opt_id) = (c.has("uuid"), c.has("name"), c.has("id"));
    let table_mode = c.has("table") || (!opt_uuid && !opt_name && !opt_id);
    let conn = ctl.conn()?;
    let mut doms = conn
        .list_all_domains(flags)
        .map_err(|e| Fail::msg_lib("Failed to list domains", e))?;
    sort_domains(&mut doms);
    let title = c.has("title");
    let mut table = Table::new(if title {
        &["Id", "Name", "State", "Title"]
    } else {
        &["Id", "Name", "State"]
    });
    let mut out = String::new();
    for d in &doms {
        let id = if d.id >= 0 {
            d.id.to_string()
        } else {
            "-".into()
        };
        if table_mode {
            let Ok((mut state, _)) = dom_state(ctl, d) else {
                continue;
            };
            if c.has("managed-save")
                && state == 5
                && conn.domain_has_managed_save(d, 0).unwrap_or(false)
            {
                state = -2;
            }
            let st = if state == -2 {
                "saved"
            } else {
                state_str(state)
            };
            if title {
                let t = description(ctl, d, true, 0)?;
                table.row([id, d.name.clone(), st.to_string(), t]);
            } else {
                table.row([id, d.name.clone(), st.to_string()]);
            }
        } else {
            let mut sep = "";
            if opt_uuid {
                out.push_str(&d.uuid.to_string());
                sep = " ";
            }
            if opt_id {
                if d.id < 0 && !opt_uuid && !opt_name {
                    continue;
                }
                out.push_str(sep);
                out.push_str(&id);
                sep = " ";
            }
            if opt_name {
                out.push_str(sep);
                out.push_str(&d.name);
            }
            out.push('\n');
        }
    }
    if table_mode {
        out = table.render(!ctl.quiet);
    }
    ctl.print(&out);
    Ok(())
}

fn dominfo(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let conn = ctl.conn()?;
    let line = |k: &str, v: &str| format!("{:<15} {}\n", k, v);
    let mut s = String::new();
    s += &line(
        "Id:",
        &if dom.id >= 0 {
            dom.id.to_string()
        } else {
            "-".into()
        },
    );
    s += &line("Name:", &dom.name);
    s += &line("UUID:", &dom.uuid.to_string());
    let mut ok = true;
    if let Ok(os) = conn.domain_get_os_type(&dom) {
        s += &line("OS Type:", &os);
    } else if let Err(e) = conn.domain_get_os_type(&dom) {
        ctl.last_error = Some(e);
    }
    match conn.domain_get_info(&dom) {
        Ok(info) => {
            s += &line("State:", state_str(info.state as i32));
            s += &line("CPU(s):", &info.nr_virt_cpu.to_string());
            if info.cpu_time != 0 {
                s += &line("CPU time:", &format!("{:.1}s", info.cpu_time as f64 / 1e9));
            }
            if info.max_mem != u32::MAX as u64 {
                s += &line("Max memory:", &format!("{} KiB", info.max_mem));
            } else {
                s += &line("Max memory:", "no limit");
            }
            s += &line("Used memory:", &format!("{} KiB", info.memory));
        }
        Err(e) => {
            ctl.last_error = Some(e);
            ok = false;
        }
    }
    match conn.domain_is_persistent(&dom) {
        Ok(p) => s += &line("Persistent:", if p { "yes" } else { "no" }),
        Err(_) => s += &line("Persistent:", "unknown"),
    }
    if let Ok(a) = conn.domain_get_autostart(&dom) {
        s += &line("Autostart:", if a { "enable" } else { "disable" });
    }
    match conn.domain_has_managed_save(&dom, 0) {
        Ok(m) => s += &line("Managed save:", if m { "yes" } else { "no" }),
        Err(_) => s += &line("Managed save:", "unknown"),
    }
    match conn.security_model() {
        Err(e) if e.code != code::NO_SUPPORT => {
            ctl.print(&s);
            return Err(e.into());
        }
        Err(_) => {}
        Ok(m) => {
            if !m.model.is_empty() {
                s += &line("Security model:", &m.model);
                s += &line("Security DOI:", &m.doi);
                match conn.domain_get_security_label(&dom) {
                    Ok(l) => {
                        if !l.label.is_empty() {
                            s += &format!(
                                "{:<15} {} ({})\n",
                                "Security label:",
                                l.label,
                                if l.enforcing {
                                    "enforcing"
                                } else {
                                    "permissive"
                                }
                            );
                        }
                    }
                    Err(e) => {
                        ctl.print(&s);
                        return Err(e.into());
                    }
                }
            }
        }
    }
    if let Ok(msgs) = conn.domain_get_messages(&dom, 0) {
        for (i, m) in msgs.iter().enumerate() {
            s += &line(if i == 0 { "Messages:" } else { "" }, m);
        }
    }
    ctl.print(&s);
    if ok {
        Ok(())
    } else {
        Err(Fail::Silent)
    }
}

fn domstate(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let (state, reason) = dom_state(ctl, &dom)?;
    if c.has("reason") {
        ctl.print(&format!(
            "{} ({})\n",
            state_str(state),
            reason_str(state, reason)
        ));
    } else {
        ctl.print(&format!("{}\n", state_str(state)));
    }
    Ok(())
}

fn domid(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain_opt_by(c, "domain", BY_NAME | BY_UUID)?;
    if dom.id < 0 {
        ctl.print("-\n");
    } else {
        ctl.print(&format!("{}\n", dom.id));
    }
    Ok(())
}

fn domname(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain_opt_by(c, "domain", BY_ID | BY_UUID)?;
    ctl.print(&format!("{}\n", dom.name));
    Ok(())
}

fn domuuid(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain_opt_by(c, "domain", BY_ID | BY_NAME)?;
    ctl.print(&format!("{}\n", dom.uuid));
    Ok(())
}
