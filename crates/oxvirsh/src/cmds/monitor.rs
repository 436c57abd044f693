//! Domain monitoring: list, dominfo, domstate, ids and names.

use oxvirt_core::error::code;
use oxvirt_core::types::flags::list_domains as lf;
use oxvirt_core::types::flags::metadata;
use oxvirt_core::types::DomainRef;

use crate::cmd::Cmd;
use crate::ctl::{Ctl, Fail, BY_ID, BY_NAME, BY_UUID, R};
use crate::out::{Block, Cell, J};
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
    // The line modes (--uuid, --id, --name) as a table for JSON.
    let mut cols = Vec::new();
    if opt_uuid {
        cols.push("UUID");
    }
    if opt_id {
        cols.push("Id");
    }
    if opt_name {
        cols.push("Name");
    }
    let mut lines = Table::new(&cols);
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
                table.row([Cell::id(d.id), d.name.as_str().into(), st.into(), t.into()]);
            } else {
                table.row([Cell::id(d.id), d.name.as_str().into(), st.into()]);
            }
        } else {
            let mut sep = "";
            let mut row = Vec::new();
            if opt_uuid {
                out.push_str(&d.uuid.to_string());
                row.push(Cell::from(d.uuid.to_string()));
                sep = " ";
            }
            if opt_id {
                if d.id < 0 && !opt_uuid && !opt_name {
                    continue;
                }
                out.push_str(sep);
                out.push_str(&id);
                row.push(Cell::id(d.id));
                sep = " ";
            }
            if opt_name {
                out.push_str(sep);
                out.push_str(&d.name);
                row.push(Cell::from(&d.name));
            }
            out.push('\n');
            lines.row(row);
        }
    }
    if table_mode {
        ctl.emit_table(&table);
    } else {
        ctl.emit(&out, lines.to_json());
    }
    Ok(())
}

fn dominfo(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let conn = ctl.conn()?;
    let mut s = Block::new(15);
    let id = Cell::id(dom.id);
    s.kv("Id:", id.text, "id", id.json);
    s.kv("Name:", &dom.name, "name", &dom.name);
    s.kv("UUID:", dom.uuid, "uuid", dom.uuid.to_string());
    let mut ok = true;
    match conn.domain_get_os_type(&dom) {
        Ok(os) => s.kv("OS Type:", &os, "os_type", &os),
        Err(e) => ctl.last_error = Some(e),
    }
    match conn.domain_get_info(&dom) {
        Ok(info) => {
            let st = state_str(info.state as i32);
            s.kv("State:", st, "state", st);
            s.kv("CPU(s):", info.nr_virt_cpu, "cpus", info.nr_virt_cpu);
            if info.cpu_time != 0 {
                let t = format!("{:.1}s", info.cpu_time as f64 / 1e9);
                s.kv("CPU time:", t, "cpu_time_ns", info.cpu_time);
            }
            if info.max_mem != u32::MAX as u64 {
                let t = format!("{} KiB", info.max_mem);
                s.kv("Max memory:", t, "max_memory_kib", info.max_mem);
            } else {
                s.kv("Max memory:", "no limit", "max_memory_kib", J::Null);
            }
            let t = format!("{} KiB", info.memory);
            s.kv("Used memory:", t, "used_memory_kib", info.memory);
        }
        Err(e) => {
            ctl.last_error = Some(e);
            ok = false;
        }
    }
    let yes_no = |r: oxvirt_core::Result<bool>| match r {
        Ok(v) => Cell::yes_no(v),
        Err(_) => Cell::new("unknown", J::Null),
    };
    let p = yes_no(conn.domain_is_persistent(&dom));
    s.kv("Persistent:", p.text, "persistent", p.json);
    if let Ok(a) = conn.domain_get_autostart(&dom) {
        let t = if a { "enable" } else { "disable" };
        s.kv("Autostart:", t, "autostart", a);
    }
    let m = yes_no(conn.domain_has_managed_save(&dom, 0));
    s.kv("Managed save:", m.text, "managed_save", m.json);
    match conn.security_model() {
        Err(e) if e.code != code::NO_SUPPORT => {
            ctl.emit_block(&s);
            return Err(e.into());
        }
        Err(_) => {}
        Ok(m) => {
            if !m.model.is_empty() {
                s.kv("Security model:", &m.model, "security_model", &m.model);
                s.kv("Security DOI:", &m.doi, "security_doi", &m.doi);
                match conn.domain_get_security_label(&dom) {
                    Ok(l) => {
                        if !l.label.is_empty() {
                            let mode = if l.enforcing {
                                "enforcing"
                            } else {
                                "permissive"
                            };
                            let t = format!("{} ({})", l.label, mode);
                            s.kv("Security label:", t, "security_label", &l.label);
                            s.json("security_label_enforcing", l.enforcing);
                        }
                    }
                    Err(e) => {
                        ctl.emit_block(&s);
                        return Err(e.into());
                    }
                }
            }
        }
    }
    if let Ok(msgs) = conn.domain_get_messages(&dom, 0) {
        for (i, m) in msgs.iter().enumerate() {
            s.text(&format!(
                "{:<15} {}\n",
                if i == 0 { "Messages:" } else { "" },
                m
            ));
        }
        if !msgs.is_empty() {
            s.json("messages", J::Arr(msgs.iter().map(J::from).collect()));
        }
    }
    ctl.emit_block(&s);
    if ok {
        Ok(())
    } else {
        Err(Fail::Silent)
    }
}

fn domstate(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let (state, reason) = dom_state(ctl, &dom)?;
    let mut j = vec![("state".to_string(), J::from(state_str(state)))];
    if c.has("reason") {
        let r = reason_str(state, reason);
        j.push(("reason".into(), r.into()));
        ctl.emit(&format!("{} ({})\n", state_str(state), r), J::Obj(j));
    } else {
        ctl.emit(&format!("{}\n", state_str(state)), J::Obj(j));
    }
    Ok(())
}

fn domid(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain_opt_by(c, "domain", BY_NAME | BY_UUID)?;
    let id = Cell::id(dom.id);
    ctl.emit(
        &format!("{}\n", id.text),
        J::Obj(vec![("id".into(), id.json)]),
    );
    Ok(())
}

fn domname(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain_opt_by(c, "domain", BY_ID | BY_UUID)?;
    let j = J::Obj(vec![("name".into(), J::from(&dom.name))]);
    ctl.emit(&format!("{}\n", dom.name), j);
    Ok(())
}

fn domuuid(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain_opt_by(c, "domain", BY_ID | BY_NAME)?;
    let j = J::Obj(vec![("uuid".into(), J::from(dom.uuid.to_string()))]);
    ctl.emit(&format!("{}\n", dom.uuid), j);
    Ok(())
}
