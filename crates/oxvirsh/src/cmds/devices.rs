//! Device hotplug: attach-device, detach-device, update-device,
//! attach-disk, attach-interface, detach-device-alias.

use oxvirt_core::types::flags::affect;

use crate::cmd::Cmd;
use crate::ctl::{Context, Ctl, Fail, R};

use super::shell::escape_xml;
use super::{exclusive, read_file, requires, Handler};

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "attach-device" => attach_device,
        "detach-device" => detach_device,
        "update-device" => update_device,
        "detach-device-alias" => detach_device_alias,
        "attach-disk" => attach_disk,
        "attach-interface" => attach_interface,
        _ => return None,
    })
}

/// `--persistent`, `--config`, `--live`, `--current` as used by hotplug.
fn hotplug_flags(c: &Cmd) -> Result<u32, Fail> {
    exclusive(c, "persistent", "current")?;
    exclusive(c, "current", "live")?;
    exclusive(c, "current", "config")?;
    let mut flags = affect::CURRENT;
    if c.has("config") || c.has("persistent") {
        flags |= affect::CONFIG;
    }
    if c.has("live") {
        flags |= affect::LIVE;
    }
    Ok(flags)
}

fn persistent_live(ctl: &Ctl, c: &Cmd, dom: &oxvirt_core::types::DomainRef, flags: u32) -> u32 {
    if c.has("persistent")
        && ctl.conn().ok().and_then(|cn| cn.domain_is_active(dom).ok()) == Some(true)
    {
        flags | affect::LIVE
    } else {
        flags
    }
}

fn attach_device(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = hotplug_flags(c)?;
    let dom = ctl.domain(c)?;
    let from = c.req("file")?.to_string();
    let xml = read_file(&from)?;
    let flags = persistent_live(ctl, c, &dom, flags);
    ctl.conn()?
        .domain_attach_device(&dom, &xml, flags)
        .ctx(|| format!("Failed to attach device from {}", from))?;
    ctl.extra("Device attached successfully\n");
    Ok(())
}

fn detach_device(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = hotplug_flags(c)?;
    let dom = ctl.domain(c)?;
    let from = c.req("file")?.to_string();
    let xml = read_file(&from)?;
    let flags = persistent_live(ctl, c, &dom, flags);
    ctl.conn()?
        .domain_detach_device(&dom, &xml, flags)
        .ctx(|| format!("Failed to detach device from {}", from))?;
    ctl.extra("Device detached successfully\n");
    Ok(())
}

fn update_device(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = hotplug_flags(c)?;
    let dom = ctl.domain(c)?;
    let from = c.req("file")?.to_string();
    let xml = read_file(&from)?;
    flags = persistent_live(ctl, c, &dom, flags);
    if c.has("force") {
        flags |= 4;
    }
    ctl.conn()?
        .domain_update_device(&dom, &xml, flags)
        .ctx(|| format!("Failed to update device from {}", from))?;
    ctl.extra("Device updated successfully\n");
    Ok(())
}

fn detach_device_alias(ctl: &mut Ctl, c: &Cmd) -> R {
    exclusive(c, "current", "live")?;
    exclusive(c, "current", "config")?;
    let mut flags = affect::CURRENT;
    if c.has("config") {
        flags |= affect::CONFIG;
    }
    if c.has("live") {
        flags |= affect::LIVE;
    }
    let dom = ctl.domain(c)?;
    let alias = c.req("alias")?.to_string();
    ctl.conn()?
        .domain_detach_device_alias(&dom, &alias, flags)
        .ctx(|| format!("Failed to detach device with alias {}", alias))?;
    ctl.extra("Device detach request sent successfully\n");
    Ok(())
}

/// Escapes an attribute value the way virBufferEscapeString does.
fn attr(name: &str, v: Option<&str>) -> String {
    v.map(|v| format!(" {}='{}'", name, escape_xml(v)))
        .unwrap_or_default()
}

fn attach_disk(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = hotplug_flags(c)?;
    requires(c, "source-host-name", "source-protocol")?;
    requires(c, "source-host-transport", "source-protocol")?;
    requires(c, "source-host-socket", "source-protocol")?;
    requires(c, "source-host-socket", "source-host-transport")?;
    exclusive(c, "source-host-name", "source-host-socket")?;
    let get = |k: &str| c.string(k).map(|v| v.map(str::to_string));
    let source = get("source")?;
    let target = get("target")?.unwrap_or_default();
    let driver = get("driver")?;
    let subdriver = get("subdriver")?;
    let device = get("type")?;
    let mode = get("mode")?;
    let iothread = get("iothread")?;
    let cache = get("cache")?;
    let io = get("io")?;
    let serial = get("serial")?;
    let wwn = get("wwn")?;
    let address = get("address")?;
    let targetbus = get("targetbus")?;
    let alias = get("alias")?;
    let stype = get("sourcetype")?;
    let protocol = get("source-protocol")?;
    let host_name = get("source-host-name")?;
    let host_transport = get("source-host-transport")?;
    let host_socket = get("source-host-socket")?;
    let kind = match stype.as_deref() {
        Some(t @ ("file" | "block" | "network")) => t.to_string(),
        Some(t) => return Err(Fail::Msg(format!("Unknown source type: '{}'", t))),
        None if protocol.is_some() => "network".into(),
        None => {
            use std::os::unix::fs::FileTypeExt;
            let is_blk = !matches!(driver.as_deref(), Some("file") | Some("tap"))
                && source
                    .as_deref()
                    .and_then(|s| std::fs::metadata(s).ok())
                    .is_some_and(|m| m.file_type().is_block_device());
            if is_blk { "block" } else { "file" }.into()
        }
    };
    if (kind == "network") != protocol.is_some() {
        return Err(Fail::Msg(
            "--source-protocol option requires --sourcetype network".into(),
        ));
    }
    if let Some(m) = &mode {
        if m != "readonly" && m != "shareable" {
            return Err(Fail::Msg(format!(
                "No support for {} in command 'attach-disk'",
                m
            )));
        }
    }
    if address.is_some() {
        return Err(Fail::lib(oxvirt_core::Error::no_support(
            "attach-disk --address",
        )));
    }
    let mut x = format!("<disk type='{}'{}", kind, attr("device", device.as_deref()));
    if c.has("rawio") {
        x += " rawio='yes'";
    }
    x += ">\n";
    let drv = format!(
        "{}{}{}{}{}",
        attr("name", driver.as_deref()),
        attr("type", subdriver.as_deref()),
        attr("iothread", iothread.as_deref()),
        attr("cache", cache.as_deref()),
        attr("io", io.as_deref())
    );
    if !drv.is_empty() {
        x += &format!("  <driver{}/>\n", drv);
    }
    let (src_attrs, src_child) = match kind.as_str() {
        "file" => (attr("file", source.as_deref()), String::new()),
        "block" => (attr("dev", source.as_deref()), String::new()),
        _ => {
            let mut h = attr("transport", host_transport.as_deref())
                + &attr("socket", host_socket.as_deref());
            if let Some(hn) = &host_name {
                let (n, p) = match hn.split_once(':') {
                    Some((n, p)) => (n, Some(p)),
                    None => (hn.as_str(), None),
                };
                h += &attr("name", Some(n));
                h += &attr("port", p);
            }
            (
                attr("protocol", protocol.as_deref()) + &attr("name", source.as_deref()),
                if h.is_empty() {
                    String::new()
                } else {
                    format!("    <host{}/>\n", h)
                },
            )
        }
    };
    if !src_child.is_empty() {
        x += &format!("  <source{}>\n{}  </source>\n", src_attrs, src_child);
    } else if !src_attrs.is_empty() {
        x += &format!("  <source{}/>\n", src_attrs);
    }
    x += &format!("  <target dev='{}'", target);
    if let Some(b) = &targetbus {
        x += &format!(" bus='{}'", b);
    }
    x += "/>\n";
    if let Some(m) = &mode {
        x += &format!("  <{}/>\n", m);
    }
    if let Some(s) = &serial {
        x += &format!("  <serial>{}</serial>\n", s);
    }
    if let Some(a) = &alias {
        x += &format!("  <alias name='{}'/>\n", a);
    }
    if let Some(w) = &wwn {
        x += &format!("  <wwn>{}</wwn>\n", w);
    }
    x += "</disk>\n";
    if c.has("print-xml") {
        ctl.print(&x);
        return Ok(());
    }
    let dom = ctl.domain(c)?;
    flags = persistent_live(ctl, c, &dom, flags);
    ctl.conn()?
        .domain_attach_device(&dom, &x, flags)
        .ctx(|| "Failed to attach disk".into())?;
    ctl.extra("Disk attached successfully\n");
    Ok(())
}

fn attach_interface(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = hotplug_flags(c)?;
    let get = |k: &str| c.string(k).map(|v| v.map(str::to_string));
    let kind = get("type")?.unwrap_or_default();
    let source = get("source")?.unwrap_or_default();
    let target = get("target")?;
    let mac = get("mac")?;
    let script = get("script")?;
    let model = get("model")?;
    let alias = get("alias")?;
    if c.has("inbound") || c.has("outbound") || c.has("source-mode") {
        return Err(Fail::lib(oxvirt_core::Error::no_support(
            "attach-interface --inbound/--outbound/--source-mode",
        )));
    }
    let src = match kind.as_str() {
        "network" | "bridge" => format!("  <source {}='{}'/>\n", kind, source),
        "direct" => format!("  <source dev='{}'/>\n", source),
        _ => {
            return Err(Fail::Msg(format!(
                "No support for {} in command 'attach-interface'",
                kind
            )))
        }
    };
    let mut x = format!("<interface type='{}'", kind);
    x += if c.has("managed") {
        " managed='yes'>\n"
    } else {
        ">\n"
    };
    x += &src;
    if let Some(t) = &target {
        x += &format!("  <target dev='{}'/>\n", t);
    }
    if let Some(m) = &mac {
        x += &format!("  <mac address='{}'/>\n", m);
    }
    if let Some(s) = &script {
        x += &format!("  <script path='{}'/>\n", s);
    }
    if let Some(m) = &model {
        x += &format!("  <model type='{}'/>\n", m);
    }
    if let Some(a) = &alias {
        x += &format!("  <alias name='{}'/>\n", a);
    }
    x += "</interface>\n";
    if c.has("print-xml") {
        ctl.print(&x);
        return Ok(());
    }
    let dom = ctl.domain(c)?;
    flags = persistent_live(ctl, c, &dom, flags);
    ctl.conn()?
        .domain_attach_device(&dom, &x, flags)
        .ctx(|| "Failed to attach interface".into())?;
    ctl.extra("Interface attached successfully\n");
    Ok(())
}
