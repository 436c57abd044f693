//! Character devices: `<serial>`, `<parallel>`, `<console>`, `<channel>`,
//! and the character device source shared with other devices.

use crate::dom::Element;
use crate::error::{Error, Result};
use crate::writer::{Attrs, Writer};

use super::super::{FormatFlags, ParseFlags};

/// Host-side types (`type=`) of a character device.
pub const CHR_TYPES: &[&str] = &[
    "null",
    "vc",
    "pty",
    "dev",
    "file",
    "pipe",
    "stdio",
    "udp",
    "tcp",
    "unix",
    "spicevmc",
    "spiceport",
    "nmdm",
    "qemu-vdagent",
    "dbus",
];

const SERIAL_TARGETS: &[&str] = &[
    "none",
    "isa-serial",
    "usb-serial",
    "pci-serial",
    "spapr-vio-serial",
    "system-serial",
    "sclp-serial",
    "isa-debug",
];
const CHANNEL_TARGETS: &[&str] = &["none", "guestfwd", "virtio", "xen"];
const CONSOLE_TARGETS: &[&str] = &[
    "none", "serial", "xen", "uml", "virtio", "lxc", "openvz", "sclp", "sclplm",
];
const SERIAL_MODELS: &[&str] = &[
    "none",
    "isa-serial",
    "usb-serial",
    "pci-serial",
    "spapr-vty",
    "pl011",
    "sclpconsole",
    "sclplmconsole",
    "16550a",
    "isa-debugcon",
];
const TCP_PROTOCOLS: &[&str] = &["raw", "telnet", "telnets", "tls"];

/// The host side of a character device (virDomainChrSourceDef).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChrSource {
    pub stype: String,
    pub path: Option<String>,
    pub append: Option<String>,
    pub bind: bool,
    pub host: Option<String>,
    pub service: Option<String>,
    pub tls: Option<String>,
    /// `<reconnect enabled=... timeout=...>`
    pub reconnect: Option<(String, Option<String>)>,
    pub bind_host: Option<String>,
    pub bind_service: Option<String>,
    pub connect_host: Option<String>,
    pub connect_service: Option<String>,
    pub channel: Option<String>,
    pub master: Option<String>,
    pub slave: Option<String>,
    pub clipboard: Option<String>,
    pub mouse: Option<String>,
    pub protocol: Option<String>,
    /// `<log file=... append=...>`
    pub log: Option<(String, Option<String>)>,
    /// `<seclabel>` children of `<source>`.
    pub seclabels: Vec<Element>,
}

fn a(el: &Element, n: &str) -> Option<String> {
    el.attr(n).map(str::to_string)
}

fn tristate(el: &Element, n: &str, values: &[&str]) -> Result<Option<String>> {
    match el.attr(n) {
        None => Ok(None),
        Some(v) if values.contains(&v) => Ok(Some(v.to_string())),
        Some(v) => Err(Error::xml(format!(
            "Invalid value for attribute '{}' in element '{}': '{}'.",
            n, el.name, v
        ))),
    }
}

fn mode_bind(src: &Element) -> Result<bool> {
    match src.attr("mode") {
        None | Some("connect") => Ok(false),
        Some("bind") => Ok(true),
        Some(v) => Err(Error::xml(format!(
            "Invalid value for attribute 'mode' in element 'source': '{}'.",
            v
        ))),
    }
}

fn reconnect(src: &Element) -> Result<Option<(String, Option<String>)>> {
    let Some(r) = src.child("reconnect") else {
        return Ok(None);
    };
    let Some(en) = tristate(r, "enabled", &["yes", "no"])? else {
        return Ok(None);
    };
    let timeout = if en == "yes" {
        crate::props::req(r, "timeout")?;
        Some(
            crate::props::opt_uint::<u32>(r, "timeout")?
                .unwrap_or(0)
                .to_string(),
        )
    } else {
        None
    };
    Ok(Some((en, timeout)))
}

impl ChrSource {
    /// Parses the source of the device element `el` (type attribute,
    /// `<source>`, `<log>`, `<protocol>`).
    pub fn parse(el: &Element, flags: ParseFlags) -> Result<ChrSource> {
        let stype = match el.attr("type") {
            None => "pty".to_string(),
            Some(t) if CHR_TYPES.contains(&t) => t.to_string(),
            Some(t) => {
                return Err(Error::unsupported(format!(
                    "unknown type presented to host for character device: {}",
                    t
                )))
            }
        };
        let mut s = ChrSource {
            stype,
            ..Default::default()
        };
        let sources: Vec<&Element> = el.children_named("source").collect();
        if sources.len() > 1 && s.stype != "udp" {
            return Err(Error::xml(
                "only one source element is allowed for character device",
            ));
        }
        if sources.len() > 2 {
            return Err(Error::xml(
                "only two source elements are allowed for character device",
            ));
        }
        if let Some(src) = sources.first() {
            match s.stype.as_str() {
                "file" => {
                    s.path = a(src, "path");
                    s.append = tristate(src, "append", &["on", "off"])?;
                }
                "pty" if !flags.inactive => s.path = a(src, "path"),
                "dev" | "pipe" => s.path = a(src, "path"),
                "unix" => {
                    s.bind = mode_bind(src)?;
                    s.path = a(src, "path");
                    s.reconnect = reconnect(src)?;
                }
                "udp" => {
                    for src in &sources {
                        let bind = mode_bind(src)?;
                        if !bind && s.connect_host.is_none() && s.connect_service.is_none() {
                            s.connect_host = a(src, "host");
                            s.connect_service = a(src, "service");
                        } else if bind && s.bind_host.is_none() && s.bind_service.is_none() {
                            s.bind_host = a(src, "host");
                            s.bind_service = a(src, "service");
                        }
                    }
                }
                "tcp" => {
                    s.bind = mode_bind(src)?;
                    s.host = a(src, "host");
                    s.service = a(src, "service");
                    s.tls = tristate(src, "tls", &["yes", "no"])?;
                    s.reconnect = reconnect(src)?;
                }
                "spiceport" | "dbus" => s.channel = a(src, "channel"),
                "nmdm" => {
                    s.master = a(src, "master");
                    s.slave = a(src, "slave");
                }
                "qemu-vdagent" => {
                    if let Some(c) = src.child("clipboard") {
                        crate::props::req(c, "copypaste")?;
                        s.clipboard = tristate(c, "copypaste", &["yes", "no"])?;
                    }
                    if let Some(m) = src.child("mouse") {
                        crate::props::req(m, "mode")?;
                        s.mouse = tristate(m, "mode", &["server", "client"])?;
                    }
                }
                _ => {}
            }
            s.seclabels = src.children_named("seclabel").cloned().collect();
        }
        let logs: Vec<&Element> = el.children_named("log").collect();
        if logs.len() > 1 {
            return Err(Error::xml(
                "only one log element is allowed for character device",
            ));
        }
        if let Some(l) = logs.first() {
            if let Some(f) = l.attr("file") {
                s.log = Some((f.to_string(), tristate(l, "append", &["on", "off"])?));
            }
        }
        let protos: Vec<&Element> = el.children_named("protocol").collect();
        if protos.len() > 1 {
            return Err(Error::xml(
                "only one protocol element is allowed for character device",
            ));
        }
        if s.stype == "tcp" {
            if let Some(p) = protos.first().and_then(|p| p.attr("type")) {
                if !TCP_PROTOCOLS.contains(&p) {
                    return Err(Error::unsupported(format!("Unknown protocol '{}'", p)));
                }
                s.protocol = Some(p.to_string());
            }
        }
        Ok(s)
    }

    /// libvirt's source validation (virDomainChrSourceDefValidate).
    pub fn validate(&self, virtio_or_xen_channel: bool) -> Result<()> {
        let missing = |what: &str| {
            Error::internal(format!("Missing source {} attribute for char device", what))
        };
        match self.stype.as_str() {
            "file" | "dev" | "pipe" if self.path.is_none() => return Err(missing("path")),
            "nmdm" if self.master.is_some() != self.slave.is_some() => {
                return Err(Error::internal(
                    "Should define both master and slave path attributes for nmdm device",
                ))
            }
            "tcp" => {
                if self.host.is_none() {
                    return Err(missing("host"));
                }
                if self.service.is_none() {
                    return Err(missing("service"));
                }
                if self.bind && self.reconnect.is_some() {
                    return Err(Error::internal(
                        "chardev reconnect is possible only for connect mode",
                    ));
                }
            }
            "udp" if self.connect_service.is_none() => return Err(missing("service")),
            "unix" => {
                if self.path.is_none() && !virtio_or_xen_channel {
                    return Err(missing("path"));
                }
                if self.bind && self.reconnect.is_some() {
                    return Err(Error::internal(
                        "chardev reconnect is possible only for connect mode",
                    ));
                }
            }
            "spiceport" | "dbus" => match &self.channel {
                None => {
                    return Err(Error::unsupported(
                        "Missing source channel attribute for char device",
                    ))
                }
                Some(c) => {
                    if !c
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '.' || ch == '_' || ch == '-')
                    {
                        return Err(Error::invalid_arg(
                            "Invalid character in source channel for char device",
                        ));
                    }
                }
            },
            _ => {}
        }
        Ok(())
    }

    fn write_reconnect(&self, w: &mut Writer) {
        if let Some((en, t)) = &self.reconnect {
            w.empty(
                "reconnect",
                Attrs::new().add("enabled", en).opt("timeout", t.as_deref()),
            );
        }
    }

    /// Writes `<source>`, `<protocol>` and `<log>` (libvirt's order).
    pub fn write(&self, w: &mut Writer, flags: FormatFlags) {
        match self.stype.as_str() {
            "qemu-vdagent" if self.clipboard.is_some() || self.mouse.is_some() => {
                w.elem("source", Attrs::new(), |w| {
                    if let Some(c) = &self.clipboard {
                        w.empty("clipboard", Attrs::new().add("copypaste", c));
                    }
                    if let Some(m) = &self.mouse {
                        w.empty("mouse", Attrs::new().add("mode", m));
                    }
                });
            }
            "pty" | "dev" | "file" | "pipe"
                if self.stype != "pty" || (self.path.is_some() && !flags.inactive) =>
            {
                let mut at = Attrs::new().opt("path", self.path.as_deref());
                if self.stype == "file" {
                    at = at.opt("append", self.append.as_deref());
                }
                w.elem("source", at, |w| {
                    self.seclabels.iter().for_each(|s| w.element(s));
                });
            }
            "nmdm" => w.empty(
                "source",
                Attrs::new()
                    .opt("master", self.master.as_deref())
                    .opt("slave", self.slave.as_deref()),
            ),
            "udp" => {
                if self.bind_host.is_some() || self.bind_service.is_some() {
                    w.empty(
                        "source",
                        Attrs::new()
                            .add("mode", "bind")
                            .opt("host", self.bind_host.as_deref())
                            .opt("service", self.bind_service.as_deref()),
                    );
                }
                if self.connect_host.is_some() || self.connect_service.is_some() {
                    w.empty(
                        "source",
                        Attrs::new()
                            .add("mode", "connect")
                            .opt("host", self.connect_host.as_deref())
                            .opt("service", self.connect_service.as_deref()),
                    );
                }
            }
            "tcp" => {
                let at = Attrs::new()
                    .add("mode", if self.bind { "bind" } else { "connect" })
                    .opt("host", self.host.as_deref())
                    .opt("service", self.service.as_deref())
                    .opt("tls", self.tls.as_deref());
                w.elem("source", at, |w| self.write_reconnect(w));
                w.empty(
                    "protocol",
                    Attrs::new().add("type", self.protocol.as_deref().unwrap_or("raw")),
                );
            }
            "unix" => {
                if let Some(p) = &self.path {
                    let at = Attrs::new()
                        .add("mode", if self.bind { "bind" } else { "connect" })
                        .add("path", p);
                    w.elem("source", at, |w| {
                        self.seclabels.iter().for_each(|s| w.element(s));
                        self.write_reconnect(w);
                    });
                }
            }
            "spiceport" | "dbus" => {
                if let Some(c) = &self.channel {
                    w.empty("source", Attrs::new().add("channel", c));
                }
            }
            _ => {}
        }
        if let Some((f, ap)) = &self.log {
            w.empty(
                "log",
                Attrs::new().add("file", f).opt("append", ap.as_deref()),
            );
        }
    }

    /// virDomainChrSourceDefIsEqual
    pub fn same_as(&self, o: &ChrSource) -> bool {
        if self.stype != o.stype {
            return false;
        }
        match self.stype.as_str() {
            "file" => self.append == o.append && self.path == o.path,
            "pty" | "dev" | "pipe" => self.path == o.path,
            "nmdm" => self.master == o.master && self.slave == o.slave,
            "udp" => {
                self.bind_host == o.bind_host
                    && self.bind_service == o.bind_service
                    && self.connect_host == o.connect_host
                    && self.connect_service == o.connect_service
            }
            "tcp" => {
                self.bind == o.bind
                    && self.protocol.as_deref().unwrap_or("raw")
                        == o.protocol.as_deref().unwrap_or("raw")
                    && self.host == o.host
                    && self.service == o.service
                    && self.reconnect == o.reconnect
            }
            "unix" => self.bind == o.bind && self.path == o.path && self.reconnect == o.reconnect,
            "spiceport" | "dbus" => self.channel == o.channel,
            "qemu-vdagent" => self.clipboard == o.clipboard && self.mouse == o.mouse,
            "spicevmc" => true,
            _ => false,
        }
    }
}

/// A serial, parallel, console or channel device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chardev {
    /// serial, parallel, console or channel
    pub kind: String,
    pub source: ChrSource,
    /// Target type; "none" when not given (serial, console).
    pub target_type: String,
    /// `-1` until assigned.
    pub port: i64,
    pub target_model: Option<String>,
    /// virtio/xen channel name
    pub name: Option<String>,
    /// guestfwd address
    pub address: Option<String>,
    pub el: Element,
}

impl Chardev {
    /// A console stub aliasing serial port `port`.
    pub fn console_stub() -> Chardev {
        Chardev {
            kind: "console".into(),
            source: ChrSource {
                stype: "pty".into(),
                ..Default::default()
            },
            target_type: "serial".into(),
            port: -1,
            target_model: None,
            name: None,
            address: None,
            el: Element::new("console"),
        }
    }

    pub fn parse(el: &Element, flags: ParseFlags) -> Result<Chardev> {
        let kind = el.name.clone();
        let mut c = Chardev {
            kind: kind.clone(),
            source: ChrSource::default(),
            target_type: "none".into(),
            port: -1,
            target_model: None,
            name: None,
            address: None,
            el: el.clone(),
        };
        let types: &[&str] = match kind.as_str() {
            "serial" => SERIAL_TARGETS,
            "channel" => CHANNEL_TARGETS,
            "console" => CONSOLE_TARGETS,
            _ => &[],
        };
        match el.child("target") {
            Some(t) => {
                if let Some(tt) = t.attr("type") {
                    if kind != "parallel" {
                        if !types.contains(&tt) {
                            return Err(Error::unsupported(format!(
                                "unknown target type '{}' specified for character device",
                                tt
                            )));
                        }
                        c.target_type = tt.to_string();
                    }
                } else if kind == "channel" {
                    return Err(Error::unsupported(
                        "unknown target type '(null)' specified for character device",
                    ));
                }
                if let Some(m) = t.child("model").and_then(|m| m.attr("name")) {
                    if kind == "serial" {
                        if !SERIAL_MODELS.contains(&m) {
                            return Err(Error::unsupported(format!(
                                "unknown target model '{}' specified for character device",
                                m
                            )));
                        }
                        c.target_model = Some(m.to_string());
                    }
                }
                if kind == "channel" {
                    match c.target_type.as_str() {
                        "guestfwd" => {
                            let Some(addr) = t.attr("address") else {
                                return Err(Error::xml(
                                    "guestfwd channel does not define a target address",
                                ));
                            };
                            c.address = Some(addr.to_string());
                            crate::props::req(t, "port")?;
                            c.port = crate::props::opt_uint::<u32>(t, "port")?.unwrap_or(0) as i64;
                        }
                        "virtio" | "xen" => c.name = a(t, "name"),
                        _ => {}
                    }
                } else if let Some(p) = t.attr("port") {
                    c.port = p
                        .parse::<u32>()
                        .map_err(|_| Error::xml(format!("Invalid port number: {}", p)))?
                        as i64;
                }
            }
            None if kind == "channel" => {
                return Err(Error::xml(
                    "target type must be specified for channel device",
                ))
            }
            None => {}
        }
        c.source = ChrSource::parse(el, flags)?;
        if c.source.stype == "spicevmc" && c.target_type != "virtio" {
            return Err(Error::unsupported(
                "spicevmc device type only supports virtio",
            ));
        }
        if kind == "serial"
            && c.target_type == "usb-serial"
            && el
                .child("address")
                .and_then(|a| a.attr("type"))
                .is_some_and(|t| t != "usb")
        {
            return Err(Error::unsupported(
                "usb-serial requires address of usb type",
            ));
        }
        Ok(c)
    }

    pub fn validate(&self) -> Result<()> {
        let vx = self.kind == "channel" && matches!(self.target_type.as_str(), "virtio" | "xen");
        self.source.validate(vx)
    }

    /// Live consoles on a pty also show the legacy `tty` attribute.
    fn tty(&self, flags: FormatFlags) -> Option<&str> {
        let pty = self.kind == "console" && self.source.stype == "pty";
        (pty && !flags.inactive).then_some(self.source.path.as_deref()?)
    }

    pub fn write(&self, w: &mut Writer, flags: FormatFlags) {
        w.block(
            &self.kind,
            Attrs::new()
                .add("type", &self.source.stype)
                .opt("tty", self.tty(flags)),
            |w| {
                self.source.write(w, flags);
                match self.kind.as_str() {
                    "channel" => {
                        let mut at = Attrs::new().add("type", &self.target_type);
                        match self.target_type.as_str() {
                            "guestfwd" => {
                                at.push("address", self.address.as_deref().unwrap_or(""));
                                at.push("port", self.port);
                            }
                            "virtio" | "xen" => at = at.opt("name", self.name.as_deref()),
                            _ => {}
                        }
                        // A virtio port's state (connected or not), live only.
                        if self.target_type == "virtio" && !flags.inactive {
                            at = at.opt(
                                "state",
                                self.el.child("target").and_then(|t| t.attr("state")),
                            );
                        }
                        w.empty("target", at);
                    }
                    "console" => w.empty(
                        "target",
                        Attrs::new()
                            .add("type", &self.target_type)
                            .add("port", self.port),
                    ),
                    "serial" => {
                        let mut at = Attrs::new();
                        if self.target_type != "none" {
                            at.push("type", &self.target_type);
                        }
                        at.push("port", self.port);
                        w.elem("target", at, |w| {
                            if let Some(m) = &self.target_model {
                                w.empty("model", Attrs::new().add("name", m));
                            }
                        });
                    }
                    _ => w.empty("target", Attrs::new().add("port", self.port)),
                }
                for n in ["alias", "acpi", "address"] {
                    for c in self.el.children_named(n) {
                        w.element(c);
                    }
                }
            },
        );
    }
}

/// The character devices of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chardevs {
    pub serials: Vec<Chardev>,
    pub parallels: Vec<Chardev>,
    pub consoles: Vec<Chardev>,
    pub channels: Vec<Chardev>,
    /// The domain is HVM (consoles alias serial ports).
    pub hvm: bool,
}

impl Chardevs {
    pub fn push(&mut self, c: Chardev) {
        match c.kind.as_str() {
            "serial" => self.serials.push(c),
            "parallel" => {
                let mut c = c;
                if c.port < 0 {
                    c.port = self.parallels.iter().map(|p| p.port).max().unwrap_or(-1) + 1;
                }
                self.parallels.push(c)
            }
            "console" => {
                let mut c = c;
                c.port = self.consoles.len() as i64;
                self.consoles.push(c)
            }
            _ => self.channels.push(c),
        }
    }

    /// ISA serial port checks and assignment, then per-device defaults.
    pub fn post_parse(&mut self) -> Result<()> {
        let mut used = [false; 4];
        let mut count = 0;
        for s in self
            .serials
            .iter()
            .filter(|s| s.target_type == "isa-serial")
        {
            count += 1;
            if count > 4 || s.port >= 4 {
                return Err(Error::internal(
                    "Maximum supported number of ISA serial ports is '4'",
                ));
            }
            if s.port >= 0 {
                if used[s.port as usize] {
                    return Err(Error::internal(format!(
                        "target port '{}' already allocated",
                        s.port
                    )));
                }
                used[s.port as usize] = true;
            }
        }
        for s in self.serials.iter_mut() {
            if s.target_type != "isa-serial" || s.port != -1 {
                continue;
            }
            if let Some(j) = (0..4).find(|&j| !used[j]) {
                s.port = j as i64;
                used[j] = true;
            }
        }
        for c in self.consoles.iter_mut() {
            if c.target_type == "none" {
                c.target_type = "serial".into();
            }
        }
        fill_ports(&mut self.serials);
        fill_ports(&mut self.consoles);
        Ok(())
    }

    /// virDomainDefAddConsoleCompat
    pub fn console_compat(&mut self) -> Result<()> {
        let hvm = self.hvm;
        if self
            .consoles
            .iter()
            .skip(1)
            .any(|c| c.target_type == "serial")
        {
            return Err(Error::unsupported(
                "Only the first console can be a serial port",
            ));
        }
        let first_serial = self
            .consoles
            .first()
            .is_some_and(|c| matches!(c.target_type.as_str(), "serial" | "none"));
        if hvm && first_serial {
            if self.serials.is_empty() {
                let mut s = self.consoles[0].clone();
                s.kind = "serial".into();
                s.target_type = "none".into();
                s.port = 0;
                s.el.name = "serial".into();
                self.serials.push(s);
                self.consoles[0] = Chardev::console_stub();
            } else if !self.serials[0].source.same_as(&self.consoles[0].source) {
                self.consoles[0] = Chardev::console_stub();
            }
        } else if hvm
            && !self.serials.is_empty()
            && matches!(
                self.serials[0].target_type.as_str(),
                "isa-serial" | "spapr-vio-serial" | "system-serial" | "sclp-serial" | "none"
            )
        {
            self.consoles.insert(0, Chardev::console_stub());
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<()> {
        for c in self
            .serials
            .iter()
            .chain(&self.parallels)
            .chain(&self.consoles)
            .chain(&self.channels)
        {
            c.validate()?;
        }
        Ok(())
    }

    pub fn write_serials(&self, w: &mut Writer, flags: FormatFlags) {
        self.serials.iter().for_each(|c| c.write(w, flags));
    }

    pub fn write_parallels(&self, w: &mut Writer, flags: FormatFlags) {
        self.parallels.iter().for_each(|c| c.write(w, flags));
    }

    /// Consoles; for HVM a serial-type console is written as its serial.
    pub fn write_consoles(&self, w: &mut Writer, flags: FormatFlags) {
        let hvm = self.hvm;
        for (n, c) in self.consoles.iter().enumerate() {
            if hvm && matches!(c.target_type.as_str(), "serial" | "none") && n < self.serials.len()
            {
                let mut s = self.serials[n].clone();
                s.kind = "console".into();
                s.target_type = "serial".into();
                s.write(w, flags);
            } else {
                c.write(w, flags);
            }
        }
    }

    pub fn write_channels(&self, w: &mut Writer, flags: FormatFlags) {
        self.channels.iter().for_each(|c| c.write(w, flags));
    }
}

fn fill_ports(list: &mut [Chardev]) {
    for i in 0..list.len() {
        if list[i].port == -1 {
            let max = list.iter().map(|c| c.port).max().unwrap_or(-1);
            list[i].port = max + 1;
        }
    }
}
