//! Virtual networks: net-list, net-info, net-dumpxml, lifecycle.

use oxvirt_core::types::flags::list_objects as lo;
use oxvirt_core::types::{NetworkRef, Uuid};

use crate::cmd::Cmd;
use crate::ctl::{Context, Ctl, Fail, R};
use crate::table::Table;

use super::{read_file, Handler};

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "net-list" => list,
        "net-info" => info,
        "net-dumpxml" => dumpxml,
        "net-define" => define,
        "net-create" => create,
        "net-start" => start,
        "net-destroy" => destroy,
        "net-undefine" => undefine,
        "net-autostart" => autostart,
        "net-name" => name_cmd,
        "net-uuid" => uuid_cmd,
        _ => return None,
    })
}

/// virshCommandOptNetworkBy: by UUID (36 characters), then by name.
fn lookup(ctl: &Ctl, c: &Cmd, by_uuid: bool, by_name: bool) -> Result<NetworkRef, Fail> {
    let n = c.req("network")?.to_string();
    let conn = ctl.conn()?;
    let mut last = None;
    if by_uuid && n.len() == 36 {
        match Uuid::parse(&n) {
            Some(u) => match conn.lookup_network_by_uuid(&u) {
                Ok(r) => return Ok(r),
                Err(e) => last = Some(e),
            },
            None => {
                last = Some(oxvirt_core::Error::raw(
                    oxvirt_core::error::code::INVALID_ARG,
                    oxvirt_core::error::from::NETWORK,
                    "uuidstr in virNetworkLookupByUUIDString must be a valid UUID",
                ))
            }
        }
    }
    if by_name {
        match conn.lookup_network_by_name(&n) {
            Ok(r) => return Ok(r),
            Err(e) => last = Some(e),
        }
    }
    let msg = format!("failed to get network '{}'", n);
    Err(match last {
        Some(e) => Fail::msg_lib(msg, e),
        None => Fail::Msg(msg),
    })
}

pub fn net(ctl: &Ctl, c: &Cmd) -> Result<NetworkRef, Fail> {
    lookup(ctl, c, true, true)
}

fn list(ctl: &mut Ctl, c: &Cmd) -> R {
    let opt_name = c.has("name");
    let opt_uuid = c.has("uuid");
    let mut opt_table = c.has("table");
    let mut flags = lo::ACTIVE;
    if c.has("inactive") {
        flags = lo::INACTIVE;
    }
    if c.has("all") {
        flags = lo::ACTIVE | lo::INACTIVE;
    }
    for (o, f) in [
        ("persistent", lo::PERSISTENT),
        ("transient", lo::TRANSIENT),
        ("autostart", lo::AUTOSTART),
        ("no-autostart", lo::NO_AUTOSTART),
    ] {
        if c.has(o) {
            flags |= f;
        }
    }
    if opt_table as u8 + opt_name as u8 + opt_uuid as u8 > 1 {
        return Err(Fail::Msg(
            "Only one argument from --table, --name and --uuid may be specified.".into(),
        ));
    }
    if !opt_uuid && !opt_name {
        opt_table = true;
    }
    let conn = ctl.conn()?;
    let mut nets = conn
        .list_all_networks(flags)
        .map_err(|e| Fail::msg_lib("Failed to list networks", e))?;
    nets.sort_by_key(|n| n.name.to_ascii_lowercase());
    let mut table = Table::new(&["Name", "State", "Autostart", "Persistent"]);
    let mut out = String::new();
    for n in &nets {
        if opt_table {
            let autostart = match conn.network_get_autostart(n) {
                Ok(true) => "yes",
                Ok(false) => "no",
                Err(_) => "no autostart",
            };
            let active = conn.network_is_active(n).unwrap_or(false);
            let persistent = conn.network_is_persistent(n).unwrap_or(false);
            table.row([
                n.name.as_str(),
                if active { "active" } else { "inactive" },
                autostart,
                if persistent { "yes" } else { "no" },
            ]);
        } else if opt_uuid {
            out.push_str(&format!("{}\n", n.uuid));
        } else {
            out.push_str(&format!("{}\n", n.name));
        }
    }
    if opt_table {
        out = table.render(!ctl.quiet);
    }
    ctl.print(&out);
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn info(ctl: &mut Ctl, c: &Cmd) -> R {
    let n = net(ctl, c)?;
    let conn = ctl.conn()?;
    let mut out = format!("{:<15} {}\n{:<15} {}\n", "Name:", n.name, "UUID:", n.uuid);
    if let Ok(a) = conn.network_is_active(&n) {
        out.push_str(&format!("{:<15} {}\n", "Active:", yes_no(a)));
    }
    let p = match conn.network_is_persistent(&n) {
        Ok(p) => yes_no(p),
        Err(_) => "unknown",
    };
    out.push_str(&format!("{:<15} {}\n", "Persistent:", p));
    let a = match conn.network_get_autostart(&n) {
        Ok(a) => yes_no(a),
        Err(_) => "no autostart",
    };
    out.push_str(&format!("{:<15} {}\n", "Autostart:", a));
    if let Ok(b) = conn.network_get_bridge_name(&n) {
        out.push_str(&format!("{:<15} {}\n", "Bridge:", b));
    }
    ctl.print(&out);
    Ok(())
}

fn dumpxml(ctl: &mut Ctl, c: &Cmd) -> R {
    let n = net(ctl, c)?;
    let flags = if c.has("inactive") { 1 } else { 0 };
    let xml = ctl.conn()?.network_get_xml_desc(&n, flags)?;
    super::domain::dump_xml(ctl, c, &xml)
}

fn define(ctl: &mut Ctl, c: &Cmd) -> R {
    let from = c.req("file")?;
    let flags = if c.has("validate") { 1 } else { 0 };
    let xml = read_file(from)?;
    let n = ctl
        .conn()?
        .network_define_xml(&xml, flags)
        .ctx(|| format!("Failed to define network from {}", from))?;
    ctl.extra(&format!("Network {} defined from {}\n", n.name, from));
    Ok(())
}

fn create(ctl: &mut Ctl, c: &Cmd) -> R {
    let from = c.req("file")?;
    let flags = if c.has("validate") { 1 } else { 0 };
    let xml = read_file(from)?;
    let n = ctl
        .conn()?
        .network_create_xml(&xml, flags)
        .ctx(|| format!("Failed to create network from {}", from))?;
    ctl.extra(&format!("Network {} created from {}\n", n.name, from));
    Ok(())
}

fn start(ctl: &mut Ctl, c: &Cmd) -> R {
    let name = c.req("network")?.to_string();
    let n = net(ctl, c)?;
    ctl.conn()?
        .network_create(&n)
        .ctx(|| format!("Failed to start network {}", name))?;
    ctl.extra(&format!("Network {} started\n", name));
    Ok(())
}

fn destroy(ctl: &mut Ctl, c: &Cmd) -> R {
    let name = c.req("network")?.to_string();
    let n = net(ctl, c)?;
    ctl.conn()?
        .network_destroy(&n)
        .ctx(|| format!("Failed to destroy network {}", name))?;
    ctl.extra(&format!("Network {} destroyed\n", name));
    Ok(())
}

fn undefine(ctl: &mut Ctl, c: &Cmd) -> R {
    let name = c.req("network")?.to_string();
    let n = net(ctl, c)?;
    ctl.conn()?
        .network_undefine(&n)
        .ctx(|| format!("Failed to undefine network {}", name))?;
    ctl.extra(&format!("Network {} has been undefined\n", name));
    Ok(())
}

fn autostart(ctl: &mut Ctl, c: &Cmd) -> R {
    let name = c.req("network")?.to_string();
    let n = net(ctl, c)?;
    let on = !c.has("disable");
    ctl.conn()?.network_set_autostart(&n, on).ctx(|| {
        if on {
            format!("failed to mark network {} as autostarted", name)
        } else {
            format!("failed to unmark network {} as autostarted", name)
        }
    })?;
    if on {
        ctl.extra(&format!("Network {} marked as autostarted\n", name));
    } else {
        ctl.extra(&format!("Network {} unmarked as autostarted\n", name));
    }
    Ok(())
}

fn name_cmd(ctl: &mut Ctl, c: &Cmd) -> R {
    let n = lookup(ctl, c, true, false)?;
    ctl.print(&format!("{}\n", n.name));
    Ok(())
}

fn uuid_cmd(ctl: &mut Ctl, c: &Cmd) -> R {
    let n = lookup(ctl, c, false, true)?;
    ctl.print(&format!("{}\n", n.uuid));
    Ok(())
}
