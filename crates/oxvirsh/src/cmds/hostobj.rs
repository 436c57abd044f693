//! Host interfaces, node devices, secrets and network filters.

use oxvirt_core::error::code;
use oxvirt_core::types::InterfaceRef;
use oxvirt_core::Error;

use crate::cmd::Cmd;
use crate::ctl::{Context, Ctl, Fail, R};
use crate::table::Table;

use super::{exclusive, read_file, Handler};

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "iface-list" => iface_list,
        "iface-dumpxml" => iface_dumpxml,
        "iface-name" => iface_name,
        "iface-mac" => iface_mac,
        "iface-define" => iface_define,
        "iface-undefine" => iface_undefine,
        "iface-start" => iface_start,
        "iface-destroy" => iface_destroy,
        "iface-begin" => iface_begin,
        "iface-commit" => iface_commit,
        "iface-rollback" => iface_rollback,
        "iface-bridge" => iface_bridge,
        "iface-unbridge" => iface_unbridge,
        "nodedev-info" => nodedev_info,
        "nodedev-create" => nodedev_create,
        "nodedev-destroy" => nodedev_destroy,
        "nodedev-detach" => nodedev_detach,
        "nodedev-reattach" => nodedev_reattach,
        "nodedev-reset" => nodedev_reset,
        "nodedev-define" => nodedev_define,
        "nodedev-undefine" => nodedev_undefine,
        "nodedev-start" => nodedev_start,
        "nodedev-autostart" => nodedev_autostart,
        "nodedev-list" => nodedev_list,
        "nodedev-dumpxml" => nodedev_dumpxml,
        "secret-list" => secret_list,
        "nwfilter-list" => nwfilter_list,
        _ => return None,
    })
}

/// virMacAddrParse: six hex octets of one or two digits, separated by ':'.
fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| (1..=2).contains(&p.len()) && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// virshCommandOptInterfaceBy: by MAC when the value is one, else by name.
fn iface_by(
    ctl: &mut Ctl,
    c: &Cmd,
    opt: &str,
    by_name: bool,
    by_mac: bool,
) -> Result<InterfaceRef, Fail> {
    let n = c.req(opt)?.to_string();
    let conn = ctl.conn()?;
    let mac = is_mac(&n);
    let r = if !mac && by_name {
        Some(conn.lookup_interface_by_name(&n))
    } else if mac && by_mac {
        Some(conn.lookup_interface_by_mac(&n))
    } else {
        None
    };
    let msg = format!("failed to get interface '{}'", n);
    match r {
        Some(Ok(i)) => Ok(i),
        Some(Err(e)) => Err(Fail::msg_lib(msg, e)),
        None => Err(Fail::Msg(msg)),
    }
}

fn iface(ctl: &mut Ctl, c: &Cmd, opt: &str) -> Result<InterfaceRef, Fail> {
    iface_by(ctl, c, opt, true, true)
}

fn iface_list(ctl: &mut Ctl, c: &Cmd) -> R {
    exclusive(c, "all", "inactive")?;
    let flags = if c.has("all") {
        3
    } else if c.has("inactive") {
        1
    } else {
        2
    };
    let conn = ctl.conn()?;
    let mut list = conn
        .list_all_interfaces(flags)
        .ctx(|| "Failed to list interfaces".into())?;
    list.sort_by(|a, b| a.name.cmp(&b.name));
    let mut t = Table::new(&["Name", "State", "MAC Address"]);
    for i in &list {
        let active = conn.interface_is_active(i).unwrap_or(false);
        t.row([
            i.name.clone(),
            if active { "active" } else { "inactive" }.to_string(),
            i.mac.clone(),
        ]);
    }
    ctl.print(&t.render(!ctl.quiet));
    Ok(())
}

fn iface_dumpxml(ctl: &mut Ctl, c: &Cmd) -> R {
    let i = iface(ctl, c, "interface")?;
    let flags = if c.has("inactive") { 1 } else { 0 };
    let xml = ctl.conn()?.interface_get_xml_desc(&i, flags)?;
    super::domain::dump_xml(ctl, c, &xml)
}

fn iface_name(ctl: &mut Ctl, c: &Cmd) -> R {
    let i = iface_by(ctl, c, "interface", false, true)?;
    ctl.print(&format!("{}\n", i.name));
    Ok(())
}

fn iface_mac(ctl: &mut Ctl, c: &Cmd) -> R {
    let i = iface_by(ctl, c, "interface", true, false)?;
    ctl.print(&format!("{}\n", i.mac));
    Ok(())
}

fn iface_define(ctl: &mut Ctl, c: &Cmd) -> R {
    let from = c.req("file")?.to_string();
    let xml = read_file(&from)?;
    let flags = if c.has("validate") { 1 } else { 0 };
    let i = ctl
        .conn()?
        .interface_define_xml(&xml, flags)
        .ctx(|| format!("Failed to define interface from {}", from))?;
    ctl.extra(&format!("Interface {} defined from {}\n", i.name, from));
    Ok(())
}

fn iface_undefine(ctl: &mut Ctl, c: &Cmd) -> R {
    let i = iface(ctl, c, "interface")?;
    let name = c.req("interface")?.to_string();
    ctl.conn()?
        .interface_undefine(&i)
        .ctx(|| format!("Failed to undefine interface {}", name))?;
    ctl.extra(&format!("Interface {} undefined\n", name));
    Ok(())
}

fn iface_start(ctl: &mut Ctl, c: &Cmd) -> R {
    let i = iface(ctl, c, "interface")?;
    let name = c.req("interface")?.to_string();
    ctl.conn()?
        .interface_create(&i, 0)
        .ctx(|| format!("Failed to start interface {}", name))?;
    ctl.extra(&format!("Interface {} started\n", name));
    Ok(())
}

fn iface_destroy(ctl: &mut Ctl, c: &Cmd) -> R {
    let i = iface(ctl, c, "interface")?;
    let name = c.req("interface")?.to_string();
    ctl.conn()?
        .interface_destroy(&i, 0)
        .ctx(|| format!("Failed to destroy interface {}", name))?;
    ctl.extra(&format!("Interface {} destroyed\n", name));
    // virsh 9.0 reports failure even when the interface went down
    Err(Fail::Silent)
}

/// vshTreePrint over (name, parent) pairs.
pub fn tree(
    out: &mut String,
    items: &[(String, Option<String>)],
    idx: usize,
    last: Option<usize>,
    root: bool,
    indent: &mut String,
) {
    let dev = &items[idx].0;
    out.push_str(&format!(
        "{}{}{}\n",
        indent,
        if root { "" } else { "+- " },
        dev
    ));
    if !root {
        indent.push(if Some(idx) == last { ' ' } else { '|' });
        indent.push(' ');
    }
    let next_last = items
        .iter()
        .rposition(|(_, p)| p.as_deref() == Some(dev.as_str()));
    if next_last.is_some() {
        out.push_str(&format!("{}  |\n", indent));
    }
    indent.push_str("  ");
    for (i, (_, p)) in items.iter().enumerate() {
        if p.as_deref() == Some(dev.as_str()) {
            tree(out, items, i, next_last, false, indent);
        }
    }
    indent.truncate(indent.len() - 2);
    if next_last.is_none() && Some(idx) == last {
        out.push_str(&format!("{}\n", indent));
    }
    if !root {
        indent.truncate(indent.len() - 2);
    }
}

fn nodedev_list(ctl: &mut Ctl, c: &Cmd) -> R {
    let (inactive, all, want_tree) = (c.has("inactive"), c.has("all"), c.has("tree"));
    let cap_str = c.string_quiet("cap").map(str::to_string);
    let mut flags: u32 = 0;
    if let Some(caps) = &cap_str {
        for cap in super::shell::split_commas(caps) {
            let i = oxvirt_core::types::NODE_DEVICE_CAPS
                .iter()
                .position(|n| *n == cap)
                .ok_or_else(|| Fail::Msg("Invalid capability type".into()))?;
            flags |= 1 << i;
        }
    }
    if inactive && all {
        return Err(Fail::Msg(
            "Option --all is incompatible with --inactive".into(),
        ));
    }
    if want_tree && (cap_str.is_some() || inactive) {
        return Err(Fail::Msg(
            "Option --tree is incompatible with --cap and --inactive".into(),
        ));
    }
    if inactive || all {
        flags |= 1 << 30;
    }
    if !inactive {
        flags |= 1 << 31;
    }
    let conn = ctl.conn()?;
    let mut list = conn
        .list_all_node_devices(flags)
        .ctx(|| "Failed to list node devices".into())?;
    list.sort_by(|a, b| a.name.cmp(&b.name));
    let mut s = String::new();
    if want_tree {
        let items: Vec<(String, Option<String>)> = list
            .iter()
            .map(|d| {
                let parent = if d.name == "computer" {
                    None
                } else {
                    conn.node_device_get_parent(d).ok().flatten()
                };
                (d.name.clone(), parent)
            })
            .collect();
        for i in 0..items.len() {
            if items[i].1.is_none() {
                tree(&mut s, &items, i, None, true, &mut String::new());
            }
        }
    } else {
        for d in &list {
            s += &format!("{}\n", d.name);
        }
    }
    ctl.print(&s);
    Ok(())
}

fn nodedev_dumpxml(ctl: &mut Ctl, c: &Cmd) -> R {
    let name = c.req("device")?.to_string();
    let conn = ctl.conn()?;
    let d = conn
        .lookup_node_device_by_name(&name)
        .map_err(|e| Fail::msg_lib(format!("Could not find matching device '{}'", name), e))?;
    let xml = conn.node_device_get_xml_desc(&d, 0)?;
    super::domain::dump_xml(ctl, c, &xml)
}

/// The fallback virsh takes when listing all objects is not supported:
/// counting them with the older API, which reports its own error.
fn count_fallback(e: Error, what: &str, api: &str) -> Fail {
    if e.code == code::NO_SUPPORT {
        Fail::msg_lib(format!("Failed to count {}", what), Error::no_support(api))
    } else {
        Fail::msg_lib(format!("Failed to list {}", what), e)
    }
}

fn secret_list(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = 0;
    for (o, f) in [
        ("ephemeral", 1),
        ("no-ephemeral", 2),
        ("private", 4),
        ("no-private", 8),
    ] {
        if c.has(o) {
            flags |= f;
        }
    }
    let conn = ctl.conn()?;
    let list = conn.list_all_secrets(flags).map_err(|e| {
        if flags != 0 && e.code == code::NO_SUPPORT {
            Fail::Msg("Filtering is not supported by this libvirt".into())
        } else {
            count_fallback(e, "secrets", "virConnectNumOfSecrets")
        }
    })?;
    let mut t = Table::new(&["UUID", "Usage"]);
    for s in list {
        let usage = match s.usage_type {
            0 => "Unused".to_string(),
            t => format!("{} {}", secret_usage_name(t), s.usage_id),
        };
        t.row([s.uuid.to_string(), usage]);
    }
    ctl.print(&t.render(!ctl.quiet));
    Ok(())
}

fn secret_usage_name(t: i32) -> &'static str {
    match t {
        1 => "volume",
        2 => "ceph",
        3 => "iscsi",
        4 => "tls",
        5 => "vtpm",
        _ => "none",
    }
}

fn nwfilter_list(ctl: &mut Ctl, _c: &Cmd) -> R {
    let conn = ctl.conn()?;
    let list = conn
        .list_all_nwfilters(0)
        .map_err(|e| count_fallback(e, "network filters", "virConnectNumOfNWFilters"))?;
    let mut t = Table::new(&["UUID", "Name"]);
    for f in list {
        t.row([f.uuid.to_string(), f.name]);
    }
    ctl.print(&t.render(!ctl.quiet));
    Ok(())
}

fn iface_begin(ctl: &mut Ctl, _c: &Cmd) -> R {
    ctl.conn()?
        .interface_change_begin(0)
        .ctx(|| "Failed to begin network config change transaction".into())?;
    ctl.extra("Network config change transaction started\n");
    Ok(())
}

fn iface_commit(ctl: &mut Ctl, _c: &Cmd) -> R {
    ctl.conn()?
        .interface_change_commit(0)
        .ctx(|| "Failed to commit network config change transaction".into())?;
    ctl.extra("Network config change transaction committed\n");
    Ok(())
}

fn iface_rollback(ctl: &mut Ctl, _c: &Cmd) -> R {
    ctl.conn()?
        .interface_change_rollback(0)
        .ctx(|| "Failed to rollback network config change transaction".into())?;
    ctl.extra("Network config change transaction rolled back\n");
    Ok(())
}

/// iface-bridge and iface-unbridge rewrite the inactive configuration;
/// drivers that cannot give it stop them there.
fn iface_bridge(ctl: &mut Ctl, c: &Cmd) -> R {
    let i = iface(ctl, c, "interface")?;
    let br = c.req("bridge")?.to_string();
    let conn = ctl.conn()?;
    let pending = match conn.lookup_interface_by_name(&br) {
        Ok(_) => return Err(Fail::Msg(format!("Network device {} already exists", br))),
        Err(e) => e,
    };
    // the failed lookup stays virsh's pending error until another replaces it
    if let Err(e) = c.uint("delay") {
        let f: Fail = e.into();
        return Err(match f {
            Fail::Msg(m) => Fail::msg_lib(m, pending),
            f => f,
        });
    }
    conn.interface_get_xml_desc(&i, 1)?;
    Err(Fail::lib(Error::no_support("virsh command 'iface-bridge'")))
}

fn iface_unbridge(ctl: &mut Ctl, c: &Cmd) -> R {
    let i = iface(ctl, c, "bridge")?;
    ctl.conn()?.interface_get_xml_desc(&i, 1)?;
    Err(Fail::lib(Error::no_support(
        "virsh command 'iface-unbridge'",
    )))
}

/// vshFindNodeDevice: by name, or a vHBA by "WWNN,WWPN".
fn find_nodedev(ctl: &mut Ctl, value: &str) -> Result<oxvirt_core::types::NodeDevRef, Fail> {
    let conn = ctl.conn()?;
    let r = if value.contains(',') {
        let arr = super::shell::split_commas(value);
        if arr.len() != 2 {
            return Err(Fail::Msg(format!("Malformed device value '{}'", value)));
        }
        for w in &arr {
            let hex = w.strip_prefix("0x").unwrap_or(w);
            if hex.len() != 16 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(Fail::lib(Error::internal(
                    oxvirt_core::error::from::NODEDEV,
                    format!("Malformed wwn: {}", w),
                )));
            }
        }
        conn.lookup_scsi_host_by_wwn(&arr[0], &arr[1], 0)
    } else {
        conn.lookup_node_device_by_name(value)
    };
    r.map_err(|e| Fail::msg_lib(format!("Could not find matching device '{}'", value), e))
}

fn nodedev_info(ctl: &mut Ctl, c: &Cmd) -> R {
    let name = c.req("device")?.to_string();
    let d = find_nodedev(ctl, &name)?;
    let conn = ctl.conn()?;
    let parent = conn
        .node_device_get_parent(&d)
        .ok()
        .flatten()
        .unwrap_or_default();
    let yes = |r: oxvirt_core::Result<bool>| if r.unwrap_or(true) { "yes" } else { "no" };
    let mut s = format!("{:<15} {}\n", "Name:", d.name);
    s += &format!("{:<15} {}\n", "Parent:", parent);
    s += &format!(
        "{:<15} {}\n",
        "Active:",
        yes(conn.node_device_is_active(&d))
    );
    s += &format!(
        "{:<15} {}\n",
        "Persistent:",
        yes(conn.node_device_is_persistent(&d))
    );
    s += &format!(
        "{:<15} {}\n",
        "Autostart:",
        match conn.node_device_get_autostart(&d) {
            Ok(true) => "yes",
            Ok(false) => "no",
            Err(_) => "no autostart",
        }
    );
    ctl.print(&s);
    Ok(())
}

fn nodedev_create(ctl: &mut Ctl, c: &Cmd) -> R {
    let from = c.req("file")?.to_string();
    let xml = read_file(&from)?;
    let flags = if c.has("validate") { 1 } else { 0 };
    let d = ctl
        .conn()?
        .node_device_create_xml(&xml, flags)
        .ctx(|| format!("Failed to create node device from {}", from))?;
    ctl.extra(&format!("Node device {} created from {}\n", d.name, from));
    Ok(())
}

fn nodedev_define(ctl: &mut Ctl, c: &Cmd) -> R {
    let from = c.req("file")?.to_string();
    let xml = read_file(&from)?;
    let flags = if c.has("validate") { 1 } else { 0 };
    let d = ctl
        .conn()?
        .node_device_define_xml(&xml, flags)
        .ctx(|| format!("Failed to define node device from '{}'", from))?;
    ctl.extra(&format!(
        "Node device '{}' defined from '{}'\n",
        d.name, from
    ));
    Ok(())
}

fn nodedev_destroy(ctl: &mut Ctl, c: &Cmd) -> R {
    let name = c.req("device")?.to_string();
    let d = find_nodedev(ctl, &name)?;
    ctl.conn()?
        .node_device_destroy(&d)
        .ctx(|| format!("Failed to destroy node device '{}'", name))?;
    ctl.extra(&format!("Destroyed node device '{}'\n", name));
    Ok(())
}

fn nodedev_undefine(ctl: &mut Ctl, c: &Cmd) -> R {
    let name = c.req("device")?.to_string();
    let d = find_nodedev(ctl, &name)?;
    ctl.conn()?
        .node_device_undefine(&d, 0)
        .ctx(|| format!("Failed to undefine node device '{}'", name))?;
    ctl.extra(&format!("Undefined node device '{}'\n", name));
    Ok(())
}

fn nodedev_autostart(ctl: &mut Ctl, c: &Cmd) -> R {
    let name = c.req("device")?.to_string();
    let d = find_nodedev(ctl, &name)?;
    let on = !c.has("disable");
    ctl.conn()?.node_device_set_autostart(&d, on).ctx(|| {
        if on {
            format!("failed to mark device {} as autostarted", name)
        } else {
            format!("failed to unmark device {} as autostarted", name)
        }
    })?;
    ctl.extra(&if on {
        format!("Device {} marked as autostarted\n", name)
    } else {
        format!("Device {} unmarked as autostarted\n", name)
    });
    Ok(())
}

/// virNodeDeviceLookupByName for the detach/reattach/reset/start family.
fn nodedev_plain(ctl: &mut Ctl, c: &Cmd) -> Result<(String, oxvirt_core::types::NodeDevRef), Fail> {
    let name = c.req("device")?.to_string();
    let d = ctl
        .conn()?
        .lookup_node_device_by_name(&name)
        .map_err(|e| Fail::msg_lib(format!("Could not find matching device '{}'", name), e))?;
    Ok((name, d))
}

fn nodedev_detach(ctl: &mut Ctl, c: &Cmd) -> R {
    let name = c.req("device")?.to_string();
    let driver = c.string_quiet("driver").map(str::to_string);
    let (_, d) = nodedev_plain(ctl, c)?;
    ctl.conn()?
        .node_device_detach(&d, driver.as_deref(), 0)
        .ctx(|| format!("Failed to detach device {}", name))?;
    ctl.extra(&format!("Device {} detached\n", name));
    Ok(())
}

fn nodedev_reattach(ctl: &mut Ctl, c: &Cmd) -> R {
    let (name, d) = nodedev_plain(ctl, c)?;
    ctl.conn()?
        .node_device_reattach(&d)
        .ctx(|| format!("Failed to re-attach device {}", name))?;
    ctl.extra(&format!("Device {} re-attached\n", name));
    Ok(())
}

fn nodedev_reset(ctl: &mut Ctl, c: &Cmd) -> R {
    let (name, d) = nodedev_plain(ctl, c)?;
    ctl.conn()?
        .node_device_reset(&d)
        .ctx(|| format!("Failed to reset device {}", name))?;
    ctl.extra(&format!("Device {} reset\n", name));
    Ok(())
}

fn nodedev_start(ctl: &mut Ctl, c: &Cmd) -> R {
    let (name, d) = nodedev_plain(ctl, c)?;
    ctl.conn()?
        .node_device_create(&d, 0)
        .ctx(|| format!("Failed to start device {}", name))?;
    ctl.extra(&format!("Device {} started\n", name));
    Ok(())
}
