//! Device hotplug: attach-device, detach-device, update-device,
//! attach-disk, attach-interface, detach-device-alias, and the commands
//! that cut a device out of the domain XML first: detach-disk,
//! detach-interface, change-media, update-memory-device.

use oxvirt_core::types::flags::{affect, domain_xml};
use oxvirt_core::types::DomainRef;
use oxvirt_core::{Connection, Result as Res};
use oxvirt_xml::dom::{Element, Node};

use crate::cmd::Cmd;
use crate::ctl::{Context, Ctl, Fail, R};

use super::domain::impact;
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
        "detach-disk" => detach_disk,
        "detach-interface" => detach_interface,
        "change-media" => change_media,
        "update-memory-device" => update_memory_device,
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

/// virsh's choice of API: the flag-less one unless a flag, even
/// `--current`, was given.
fn attach(conn: &Connection, c: &Cmd, dom: &DomainRef, xml: &str, flags: u32) -> Res<()> {
    if flags != 0 || c.has("current") {
        conn.domain_attach_device(dom, xml, flags)
    } else {
        conn.domain_attach_device_plain(dom, xml)
    }
}

/// [`attach`]'s counterpart.
fn detach(conn: &Connection, c: &Cmd, dom: &DomainRef, xml: &str, flags: u32) -> Res<()> {
    if flags != 0 || c.has("current") {
        conn.domain_detach_device(dom, xml, flags)
    } else {
        conn.domain_detach_device_plain(dom, xml)
    }
}

fn attach_device(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = hotplug_flags(c)?;
    let dom = ctl.domain(c)?;
    let from = c.req("file")?.to_string();
    let xml = read_file(&from)?;
    let flags = persistent_live(ctl, c, &dom, flags);
    attach(&*ctl.conn()?, c, &dom, &xml, flags)
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
    detach(&*ctl.conn()?, c, &dom, &xml, flags)
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
    let flags = impact(c)?;
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
    attach(&*ctl.conn()?, c, &dom, &x, flags).ctx(|| "Failed to attach disk".into())?;
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
    let inbound_s = get("inbound")?;
    let outbound_s = get("outbound")?;
    let source_mode = get("source-mode")?;
    // virDomainNetTypeFromString
    const NET_TYPES: [&str; 15] = [
        "user",
        "ethernet",
        "vhostuser",
        "server",
        "client",
        "mcast",
        "network",
        "bridge",
        "internal",
        "direct",
        "hostdev",
        "udp",
        "vdpa",
        "null",
        "vds",
    ];
    let unsupported = || {
        Fail::Msg(format!(
            "No support for {} in command 'attach-interface'",
            kind
        ))
    };
    if !NET_TYPES.contains(&kind.as_str()) {
        return Err(unsupported());
    }
    if let Some(m) = &source_mode {
        if m != "server" && m != "client" {
            return Err(Fail::Msg(format!("Invalid source mode: {}", m)));
        }
    }
    let inbound = match &inbound_s {
        Some(s) => {
            let r = parse_rate(s)?;
            if r[0] == 0 && r[3] == 0 {
                return Err(Fail::Msg(
                    "either inbound average or floor is mandatory".into(),
                ));
            }
            Some(r)
        }
        None => None,
    };
    let outbound = match &outbound_s {
        Some(s) => {
            let r = parse_rate(s)?;
            if r[0] == 0 {
                return Err(Fail::Msg("outbound average is mandatory".into()));
            }
            if r[3] != 0 {
                return Err(Fail::Msg("outbound floor is unsupported yet".into()));
            }
            Some(r)
        }
        None => None,
    };
    let src = match kind.as_str() {
        "network" | "bridge" => format!("  <source {}='{}'/>\n", kind, source),
        "direct" => format!("  <source dev='{}'/>\n", source),
        "hostdev" => {
            let a = pci_address(&source).ok_or_else(|| {
                Fail::Msg(format!(
                    "cannot parse pci address '{}' for network interface",
                    source
                ))
            })?;
            format!(
                "  <source>\n    <address type='pci' domain='0x{:04x}' bus='0x{:02x}' slot='0x{:02x}' function='0x{:x}'/>\n  </source>\n",
                a[0], a[1], a[2], a[3]
            )
        }
        "vhostuser" => {
            let m = source_mode
                .as_deref()
                .ok_or_else(|| Fail::Msg("source-mode is mandatory".into()))?;
            format!("  <source type='unix' path='{}' mode='{}'/>\n", source, m)
        }
        _ => return Err(unsupported()),
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
    if inbound.is_some() || outbound.is_some() {
        x += "  <bandwidth>\n";
        if let Some(r) = inbound.filter(|r| r[0] != 0 || r[3] != 0) {
            x += "    <inbound";
            for (i, k) in ["average", "peak", "burst", "floor"].iter().enumerate() {
                if r[i] > 0 {
                    x += &format!(" {}='{}'", k, r[i]);
                }
            }
            x += "/>\n";
        }
        if let Some(r) = outbound.filter(|r| r[0] > 0) {
            x += &format!("    <outbound average='{}'", r[0]);
            for (i, k) in [(1, "peak"), (2, "burst")] {
                if r[i] > 0 {
                    x += &format!(" {}='{}'", k, r[i]);
                }
            }
            x += "/>\n";
        }
        x += "  </bandwidth>\n";
    }
    x += "</interface>\n";
    if c.has("print-xml") {
        ctl.print(&x);
        return Ok(());
    }
    let dom = ctl.domain(c)?;
    flags = persistent_live(ctl, c, &dom, flags);
    attach(&*ctl.conn()?, c, &dom, &x, flags).ctx(|| "Failed to attach interface".into())?;
    ctl.extra("Interface attached successfully\n");
    Ok(())
}

/// virshParseRateStr: `average,peak,burst,floor`, empty fields 0.
fn parse_rate(s: &str) -> Result<[u64; 4], Fail> {
    let tok: Vec<&str> = s.split(',').collect();
    if tok.len() > 4 {
        return Err(Fail::Msg(format!(
            "Rate string '{}' has too many fields",
            s
        )));
    }
    let mut r = [0u64; 4];
    for (i, name) in ["average", "peak", "burst", "floor"].iter().enumerate() {
        if let Some(t) = tok.get(i).filter(|t| !t.is_empty()) {
            r[i] = crate::cmd::strtoul_p(t)
                .ok_or_else(|| Fail::Msg(format!("field '{}' is malformed", name)))?;
        }
    }
    Ok(r)
}

/// virshAddressParse of `pci:SOURCE`: four hexadecimal numbers, each
/// separator skipped whatever it is, anything after the last ignored.
fn pci_address(source: &str) -> Option<[u32; 4]> {
    let mut rest = source;
    let mut out = [0u32; 4];
    for (i, slot) in out.iter_mut().enumerate() {
        if i > 0 {
            let mut ch = rest.chars();
            ch.next()?;
            rest = ch.as_str();
        }
        let t = rest.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
        let t = t.strip_prefix('+').unwrap_or(t);
        let t = t
            .strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))
            .filter(|r| r.starts_with(|c: char| c.is_ascii_hexdigit()))
            .unwrap_or(t);
        let n = t.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(t.len());
        if n == 0 {
            return None;
        }
        *slot = u32::from_str_radix(&t[..n], 16).ok()?;
        rest = &t[n..];
    }
    Some(out)
}

/// The domain XML as virsh parses it, blanks kept.
fn domain_doc(ctl: &Ctl, dom: &DomainRef, config: bool) -> Result<Element, Fail> {
    let flags = if config { domain_xml::INACTIVE } else { 0 };
    let xml = ctl.conn()?.domain_get_xml_desc(dom, flags)?;
    oxvirt_xml::dom::parse(&xml, "(domain_definition)").map_err(|e| Fail::Msg(e.to_string()))
}

/// `/domain/devices/NAME` elements, mutable.
fn devices_named<'a>(doc: &'a mut Element, name: &'a str) -> impl Iterator<Item = &'a mut Element> {
    doc.children
        .iter_mut()
        .filter_map(|n| match n {
            Node::Element(e) if e.name == "devices" => Some(e),
            _ => None,
        })
        .flat_map(|d| d.children.iter_mut())
        .filter_map(move |n| match n {
            Node::Element(e) if e.name == name => Some(e),
            _ => None,
        })
}

/// virshFindDisk: the disk whose target or source is `path` (for
/// change-media, cdroms and floppies only), without its backing store.
fn find_disk(doc: &mut Element, path: &str, changeable: bool) -> Result<Element, Fail> {
    let mut any = false;
    for d in devices_named(doc, "disk") {
        any = true;
        if changeable
            && d.attr("device")
                .is_some_and(|t| t != "cdrom" && t != "floppy")
        {
            continue;
        }
        let source = d.child("source");
        let names = ["file", "dev", "dir", "name"]
            .iter()
            .filter_map(|a| source.and_then(|s| s.attr(a)));
        let target = d.child("target").and_then(|t| t.attr("dev"));
        if target.into_iter().chain(names).any(|n| n == path) {
            let mut disk = d.clone();
            if let Some(i) = disk
                .children
                .iter()
                .position(|n| matches!(n, Node::Element(e) if e.name == "backingStore"))
            {
                disk.children.remove(i);
            }
            return Ok(disk);
        }
    }
    Err(Fail::Msg(if any {
        format!("No disk found whose source path or target is {}", path)
    } else {
        "Failed to get disk information".into()
    }))
}

fn detach_disk(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = hotplug_flags(c)?;
    let dom = ctl.domain(c)?;
    let target = c.req("target")?.to_string();
    let mut doc = domain_doc(ctl, &dom, flags == affect::CONFIG)?;
    let flags = persistent_live(ctl, c, &dom, flags);
    let disk = super::xpath::node_string(&find_disk(&mut doc, &target, false)?);
    if c.has("print-xml") {
        ctl.print(&disk);
        return Ok(());
    }
    detach(&*ctl.conn()?, c, &dom, &disk, flags).ctx(|| "Failed to detach disk".into())?;
    ctl.extra("Disk detached successfully\n");
    Ok(())
}

/// virMacAddrCompare == 0: case-insensitive, a zero before a hex digit
/// skipped.
fn mac_cmp(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let at = |s: &[u8], k: usize| s.get(k).copied().unwrap_or(0);
    loop {
        while at(a, i) == b'0' && at(a, i + 1).is_ascii_hexdigit() {
            i += 1;
        }
        while at(b, j) == b'0' && at(b, j + 1).is_ascii_hexdigit() {
            j += 1;
        }
        let (c, d) = (at(a, i).to_ascii_lowercase(), at(b, j).to_ascii_lowercase());
        if c == 0 || d == 0 || c != d {
            return c == d;
        }
        i += 1;
        j += 1;
    }
}

/// virshDomainDetachInterface on one definition; a message of its own is
/// printed at once.
fn detach_iface(
    ctl: &Ctl,
    c: &Cmd,
    dom: &DomainRef,
    (config, flags): (bool, u32),
    (kind, mac): (&str, Option<&str>),
) -> Result<(), Fail> {
    let mut doc = domain_doc(ctl, dom, config).map_err(|f| match f {
        Fail::Lib(e) => Fail::MsgLib("Failed to detach interface".into(), e),
        f => f,
    })?;
    let own = |msg: String| {
        ctl.error(&msg);
        Fail::Msg("Failed to detach interface".into())
    };
    let nodes: Vec<&mut Element> = devices_named(&mut doc, "interface")
        .filter(|e| e.attr("type") == Some(kind))
        .collect();
    if nodes.is_empty() {
        return Err(own(format!("No interface found whose type is {}", kind)));
    }
    let found = match mac {
        Some(mac) => {
            let mut hits = nodes.into_iter().filter(|e| {
                e.child("mac")
                    .and_then(|m| m.attr("address"))
                    .is_some_and(|a| mac_cmp(a, mac))
            });
            let first = hits.next();
            if hits.next().is_some() {
                return Err(own(format!(
                    "Domain has multiple interfaces matching MAC address {}. You must use detach-device and specify the device pci address to remove it.",
                    mac
                )));
            }
            first.ok_or_else(|| own(format!("No interface with MAC address {} was found", mac)))?
        }
        None if nodes.len() > 1 => {
            return Err(own(format!(
                "Domain has {} interfaces. Please specify which one to detach using --mac",
                nodes.len()
            )))
        }
        None => nodes.into_iter().next().ok_or(Fail::Silent)?,
    };
    let xml = super::xpath::node_string(found);
    if c.has("print-xml") {
        ctl.print(&xml);
        return Ok(());
    }
    detach(&*ctl.conn()?, c, dom, &xml, flags)
        .map_err(|e| Fail::MsgLib("Failed to detach interface".into(), Box::new(e)))
}

fn detach_interface(ctl: &mut Ctl, c: &Cmd) -> R {
    exclusive(c, "persistent", "current")?;
    exclusive(c, "current", "live")?;
    exclusive(c, "current", "config")?;
    let dom = ctl.domain(c)?;
    let failed = |f: Fail| match f {
        Fail::Lib(e) => Fail::MsgLib("Failed to detach interface".into(), e),
        Fail::Msg(m) => {
            ctl.error(&m);
            Fail::Msg("Failed to detach interface".into())
        }
        f => f,
    };
    let kind = c.req("type").map_err(|e| failed(e.into()))?.to_string();
    let mac = c
        .string("mac")
        .map_err(|e| failed(e.into()))?
        .map(str::to_string);
    let what = (kind.as_str(), mac.as_deref());
    let affect_config = c.has("config") || c.has("persistent");
    if affect_config {
        detach_iface(ctl, c, &dom, (true, affect::CONFIG), what)?;
    }
    let affect_live = c.has("live")
        || (c.has("persistent") && ctl.conn()?.domain_is_active(&dom).unwrap_or(false));
    if affect_live || !affect_config {
        let flags = if affect_live { affect::LIVE } else { 0 };
        match detach_iface(ctl, c, &dom, (false, flags), what) {
            // virsh says nothing more about a failure with --print-xml.
            Err(Fail::MsgLib(_, e)) if c.has("print-xml") => return Err(Fail::Lib(e)),
            Err(Fail::Msg(_)) if c.has("print-xml") => return Err(Fail::Silent),
            r => r?,
        }
    }
    if !c.has("print-xml") {
        ctl.extra("Interface detached successfully\n");
    }
    Ok(())
}

/// virshUpdateDiskXML: the disk with its media ejected (`source` None) or
/// replaced; `path` is how the user named the disk.
fn update_disk(
    mut disk: Element,
    source: Option<&str>,
    block: bool,
    path: &str,
    action: &str,
) -> Result<Element, Fail> {
    if !matches!(disk.attr("device"), Some("cdrom" | "floppy")) {
        return Err(Fail::Msg(format!(
            "The disk device '{}' is not removable",
            path
        )));
    }
    let is = |n: &Node, name: &str| matches!(n, Node::Element(e) if e.name == name);
    let target_at = disk.children.iter().position(|n| is(n, "target"));
    // The last text node before <target/>, for the indentation.
    let indent = disk.children[..target_at.unwrap_or(disk.children.len())]
        .iter()
        .rev()
        .find_map(|n| match n {
            Node::Text(t) => Some(t.clone()),
            _ => None,
        });
    let old = disk.children.iter().position(|n| is(n, "source"));
    let (source, block) = match action {
        "eject" if old.is_none() => {
            return Err(Fail::Msg(format!(
                "The disk device '{}' doesn't have media",
                path
            )))
        }
        "eject" => (None, false),
        _ => match source {
            Some(s) => (Some(s), block),
            None => return Err(Fail::Msg("New disk media source was not specified".into())),
        },
    };
    let mut policy = None;
    if let Some(i) = old {
        if let Node::Element(s) = &disk.children[i] {
            let has_media = ["file", "dev", "dir", "pool", "name"]
                .iter()
                .any(|a| s.attr(a).is_some());
            if has_media && action == "insert" {
                return Err(Fail::Msg(format!(
                    "The disk device '{}' already has media",
                    path
                )));
            }
            policy = s.attr("startupPolicy").map(str::to_string);
        }
        disk.children.remove(i);
    }
    disk.set_attr("type", if block { "block" } else { "file" });
    if let Some(src) = source {
        let mut el = Element::new("source");
        el.set_attr(if block { "dev" } else { "file" }, src);
        if let Some(p) = policy {
            el.set_attr("startupPolicy", p);
        }
        let at = disk
            .children
            .iter()
            .position(|n| is(n, "target"))
            .unwrap_or(disk.children.len());
        disk.children.insert(at, Node::Element(el));
        if let Some(t) = indent {
            disk.children.insert(at + 1, Node::Text(t));
        }
    }
    Ok(disk)
}

fn change_media(ctl: &mut Ctl, c: &Cmd) -> R {
    exclusive(c, "eject", "insert")?;
    exclusive(c, "eject", "update")?;
    exclusive(c, "insert", "update")?;
    exclusive(c, "eject", "block")?;
    let source = c.string("source")?.map(str::to_string);
    let (action, done) = if c.has("eject") || (c.has("update") && source.is_none()) {
        ("eject", "Successfully ejected media.")
    } else if c.has("insert") {
        ("insert", "Successfully inserted media.")
    } else {
        ("update", "Successfully updated media.")
    };
    let mut flags = impact(c)?;
    if c.has("force") {
        flags |= 4;
    }
    let dom = ctl.domain(c)?;
    let path = c.req("path")?.to_string();
    let mut doc = domain_doc(ctl, &dom, flags & affect::CONFIG != 0)?;
    let disk = find_disk(&mut doc, &path, true)?;
    let disk = update_disk(disk, source.as_deref(), c.has("block"), &path, action)?;
    let xml = super::xpath::node_string(&disk);
    if c.has("print-xml") {
        ctl.print(&xml);
        return Ok(());
    }
    ctl.conn()?
        .domain_update_device(&dom, &xml, flags)
        .ctx(|| format!("Failed to complete action {} on media", action))?;
    ctl.print(done);
    Ok(())
}

fn update_memory_device(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    exclusive(c, "node", "alias")?;
    let dom = ctl.domain(c)?;
    let mut doc = domain_doc(ctl, &dom, flags & affect::CONFIG != 0)?;
    let alias = c.string("alias")?.map(str::to_string);
    let node = c.uint("node")?;
    let wanted = |m: &Element| match (node, &alias) {
        (Some(n), _) => m
            .child("target")
            .into_iter()
            .flat_map(|t| t.children_named("node"))
            .any(|x| x.text() == n.to_string()),
        (None, Some(a)) => m
            .children_named("alias")
            .any(|x| x.attr("name") == Some(a.as_str())),
        (None, None) => true,
    };
    let mut mems: Vec<&mut Element> = devices_named(&mut doc, "memory")
        .filter(|m| wanted(m))
        .collect();
    let mem = match mems.len() {
        0 => return Err(Fail::Msg("no memory device found".into())),
        1 => mems.remove(0),
        _ => {
            return Err(Fail::Msg(
                "multiple memory devices found, use --alias or --node to select one".into(),
            ))
        }
    };
    if c.has("requested-size") {
        let kib = c
            .scaled("requested-size", 1024, u64::MAX)?
            .unwrap_or(0)
            .div_ceil(1024);
        let requested = mem
            .children
            .iter_mut()
            .find_map(|n| match n {
                Node::Element(t) if t.name == "target" => Some(t),
                _ => None,
            })
            .and_then(|t| {
                t.children.iter_mut().find_map(|n| match n {
                    Node::Element(r) if r.name == "requested" => Some(r),
                    _ => None,
                })
            })
            .ok_or_else(|| Fail::Msg("virtio-mem device is missing <requested/>".into()))?;
        requested.children = vec![Node::Text(kib.to_string())];
    }
    let xml = super::xpath::node_string(mem);
    if c.has("print-xml") {
        ctl.print(&xml);
        return Ok(());
    }
    ctl.conn()?.domain_update_device(&dom, &xml, flags)?;
    Ok(())
}
