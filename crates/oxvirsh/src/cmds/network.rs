//! Virtual networks: net-list, net-info, net-dumpxml, lifecycle.

use oxvirt_core::types::flags::list_objects as lo;
use oxvirt_core::types::{NetworkRef, Uuid};

use crate::cmd::Cmd;
use crate::ctl::{Context, Ctl, Fail, R};
use crate::out::{Block, Cell, J};
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
        "net-dhcp-leases" => dhcp_leases,
        "net-update" => update,
        "net-port-list" => port_list,
        "net-port-create" => port_create,
        "net-port-dumpxml" => port_dumpxml,
        "net-port-delete" => port_delete,
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
    let mut lines = Table::new(&[if opt_uuid { "UUID" } else { "Name" }]);
    for n in &nets {
        if opt_table {
            let autostart = match conn.network_get_autostart(n) {
                Ok(v) => Cell::yes_no(v),
                Err(_) => Cell::new("no autostart", J::Null),
            };
            let active = conn.network_is_active(n).unwrap_or(false);
            let persistent = conn.network_is_persistent(n).unwrap_or(false);
            table.row([
                Cell::from(&n.name),
                if active { "active" } else { "inactive" }.into(),
                autostart,
                Cell::yes_no(persistent),
            ]);
        } else if opt_uuid {
            out.push_str(&format!("{}\n", n.uuid));
            lines.row([n.uuid.to_string()]);
        } else {
            out.push_str(&format!("{}\n", n.name));
            lines.row([&n.name]);
        }
    }
    if opt_table {
        ctl.emit_table(&table);
    } else {
        ctl.emit(&out, lines.to_json());
    }
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
    let mut out = Block::new(15);
    out.kv("Name:", &n.name, "name", &n.name);
    out.kv("UUID:", n.uuid, "uuid", n.uuid.to_string());
    if let Ok(a) = conn.network_is_active(&n) {
        out.kv("Active:", yes_no(a), "active", a);
    }
    let p = match conn.network_is_persistent(&n) {
        Ok(p) => Cell::yes_no(p),
        Err(_) => Cell::new("unknown", J::Null),
    };
    out.kv("Persistent:", p.text, "persistent", p.json);
    let a = match conn.network_get_autostart(&n) {
        Ok(a) => Cell::yes_no(a),
        Err(_) => Cell::new("no autostart", J::Null),
    };
    out.kv("Autostart:", a.text, "autostart", a.json);
    if let Ok(b) = conn.network_get_bridge_name(&n) {
        out.kv("Bridge:", &b, "bridge", &b);
    }
    ctl.emit_block(&out);
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

/// g_date_time_format(local, "%Y-%m-%d %H:%M:%S").
fn local_time(t: i64) -> String {
    let secs = t as libc::time_t;
    // SAFETY: localtime_r only writes the tm we hand it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&secs, &mut tm) };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

fn dhcp_leases(ctl: &mut Ctl, c: &Cmd) -> R {
    let mac = c.string("mac")?.map(str::to_string);
    let n = net(ctl, c)?;
    let name = c.req("network")?.to_string();
    let mut leases = ctl
        .conn()?
        .network_get_dhcp_leases(&n, mac.as_deref(), 0)
        .ctx(|| format!("Failed to get leases info for {}", name))?;
    leases.sort_by(|a, b| {
        let ka = a.mac.clone().or_else(|| a.iaid.clone()).unwrap_or_default();
        let kb = b.mac.clone().or_else(|| b.iaid.clone()).unwrap_or_default();
        ka.cmp(&kb)
    });
    let mut t = Table::new(&[
        "Expiry Time",
        "MAC address",
        "Protocol",
        "IP address",
        "Hostname",
        "Client ID or DUID",
    ]);
    let dash = |v: &Option<String>| Cell::opt(v.clone());
    for l in &leases {
        t.row([
            local_time(l.expirytime).into(),
            dash(&l.mac),
            match l.kind {
                0 => "ipv4".into(),
                1 => "ipv6".into(),
                _ => Cell::new("-", J::Null),
            },
            format!("{}/{}", l.ipaddr, l.prefix).into(),
            dash(&l.hostname),
            dash(&l.clientid),
        ]);
    }
    ctl.emit_table(&t);
    Ok(())
}

const UPDATE_COMMANDS: &[&str] = &["none", "modify", "delete", "add-last", "add-first"];
use oxvirt_core::netconf::SECTIONS as UPDATE_SECTIONS;

fn update(ctl: &mut Ctl, c: &Cmd) -> R {
    super::exclusive(c, "current", "live")?;
    super::exclusive(c, "current", "config")?;
    let (config, live) = (c.has("config"), c.has("live"));
    let n = net(ctl, c)?;
    let cmd_s = c.req("command")?.to_string();
    let command = if cmd_s == "add" {
        3
    } else {
        match UPDATE_COMMANDS.iter().position(|x| *x == cmd_s) {
            Some(i) if i > 0 => i as u32,
            _ => return Err(Fail::Msg(format!("unrecognized command name '{}'", cmd_s))),
        }
    };
    let sec_s = c.req("section")?.to_string();
    let section = match UPDATE_SECTIONS.iter().position(|x| *x == sec_s) {
        Some(i) if i > 0 => i as u32,
        _ => return Err(Fail::Msg(format!("unrecognized section name '{}'", sec_s))),
    };
    let parent = c.int("parent-index")?.unwrap_or(-1);
    let xml_arg = c.req("xml")?.to_string();
    let xml = if xml_arg.starts_with('<') {
        xml_arg
    } else {
        read_file(&xml_arg)?
    };
    let mut flags = 0;
    if config {
        flags |= 2;
    }
    if live {
        flags |= 1;
    }
    let conn = ctl.conn()?;
    conn.network_update(&n, command, section, parent, &xml, flags)
        .ctx(|| format!("Failed to update network {}", n.name))?;
    let what = if config {
        if live {
            "persistent config and live state"
        } else {
            "persistent config"
        }
    } else if live || conn.network_is_active(&n).unwrap_or(true) {
        "live state"
    } else {
        "persistent config"
    };
    ctl.extra(&format!("Updated network {} {}", n.name, what));
    Ok(())
}

fn port_list(ctl: &mut Ctl, c: &Cmd) -> R {
    let n = net(ctl, c)?;
    let mut ports = ctl.conn()?.list_all_network_ports(&n, 0)?;
    ports.sort_by_key(|p| p.uuid.to_string());
    let mut t = Table::new(&["UUID"]);
    for p in &ports {
        t.row([p.uuid.to_string()]);
    }
    if c.has("uuid") {
        let mut s = String::new();
        for p in &ports {
            s += &format!("{}\n", p.uuid);
        }
        ctl.emit(&s, t.to_json());
        return Ok(());
    }
    ctl.emit_table(&t);
    Ok(())
}

fn port_create(ctl: &mut Ctl, c: &Cmd) -> R {
    let n = net(ctl, c)?;
    let from = c.req("file")?.to_string();
    let xml = read_file(&from)?;
    let mut flags = 0;
    if c.has("validate") {
        flags |= 2;
    }
    let p = ctl
        .conn()?
        .network_port_create_xml(&n, &xml, flags)
        .ctx(|| format!("Failed to create network from {}", from))?;
    ctl.extra(&format!("Network port {} created from {}\n", p.uuid, from));
    Ok(())
}

/// virshCommandOptNetworkPort. Like virsh, net-port-dumpxml and
/// net-port-delete report a failed lookup but still succeed.
fn port(ctl: &Ctl, c: &Cmd) -> Option<oxvirt_core::types::NetworkPortRef> {
    let n = match net(ctl, c) {
        Ok(n) => n,
        Err(Fail::MsgLib(m, _)) | Err(Fail::Msg(m)) => {
            ctl.error(&m);
            return None;
        }
        Err(_) => return None,
    };
    let id = c.string_quiet("port").unwrap_or_default().to_string();
    let r = match Uuid::parse(&id) {
        Some(u) => ctl
            .conn()
            .ok()
            .and_then(|conn| conn.lookup_network_port_by_uuid(&n, &u).ok()),
        None => None,
    };
    if r.is_none() {
        ctl.error(&format!("failed to get network port '{}'", id));
    }
    r
}

fn port_dumpxml(ctl: &mut Ctl, c: &Cmd) -> R {
    let Some(p) = port(ctl, c) else {
        return Ok(());
    };
    let xml = ctl.conn()?.network_port_get_xml_desc(&p, 0)?;
    super::domain::dump_xml(ctl, c, &xml)
}

fn port_delete(ctl: &mut Ctl, c: &Cmd) -> R {
    let Some(p) = port(ctl, c) else {
        return Ok(());
    };
    ctl.conn()?
        .network_port_delete(&p, 0)
        .ctx(|| format!("Failed to delete network port {}", p.uuid))?;
    ctl.extra(&format!("Network port {} deleted\n", p.uuid));
    Ok(())
}
