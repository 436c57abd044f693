//! `<graphics>`: ports and autoport, `<listen>` children (with the legacy
//! `listen`/`socket` attributes), and libvirt's order of the rest.

use crate::dom::Element;
use crate::error::{Error, Result};
use crate::writer::{Attrs, Writer};

use super::super::{FormatFlags, ParseFlags};

pub const GRAPHICS_TYPES: &[&str] = &[
    "sdl",
    "vnc",
    "rdp",
    "desktop",
    "spice",
    "egl-headless",
    "dbus",
];

const LISTEN_TYPES: &[&str] = &["none", "address", "network", "socket"];

/// SPICE channel names in libvirt's order.
pub const SPICE_CHANNELS: &[&str] = &[
    "main",
    "display",
    "inputs",
    "cursor",
    "playback",
    "record",
    "smartcard",
    "usbredir",
];

/// One `<listen>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listen {
    pub ltype: String,
    pub address: Option<String>,
    pub network: Option<String>,
    pub socket: Option<String>,
}

/// Marks on `Graphics::el` (never written) of what a start generated:
/// the listen address from the configuration, the websocket port.
pub const AUTO_LISTEN: &str = "oxvirt-auto-listen";
pub const WEBSOCKET_GENERATED: &str = "oxvirt-websocket-generated";

/// A `<graphics>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graphics {
    pub gtype: String,
    pub listens: Vec<Listen>,
    pub port: i64,
    pub tls_port: i64,
    pub autoport: bool,
    /// The element as written, for attributes and children not typed.
    pub el: Element,
}

fn nonempty(v: Option<&str>) -> Option<String> {
    v.filter(|s| !s.is_empty()).map(str::to_string)
}

fn parse_int(el: &Element, name: &str, what: &str) -> Result<Option<i64>> {
    match el.attr(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<i32>()
            .map(|n| Some(n as i64))
            .map_err(|_| Error::internal(format!("cannot parse {} {}", what, v))),
    }
}

fn parse_listens(el: &Element, gtype: &str, flags: ParseFlags) -> Result<Vec<Listen>> {
    let mut out = Vec::new();
    for (i, l) in el.children_named("listen").enumerate() {
        let ltype = crate::props::req(l, "type")?;
        if !LISTEN_TYPES.contains(&ltype) {
            return Err(Error::xml(format!(
                "Invalid value for attribute 'type' in element 'listen': '{}'.",
                ltype
            )));
        }
        if (ltype == "socket" || ltype == "none") && gtype != "vnc" && gtype != "spice" {
            return Err(Error::unsupported(format!(
                "listen type '{}' is not available for graphics type '{}'",
                ltype, gtype
            )));
        }
        let (addr_compat, sock_compat) = if i == 0 {
            (el.attr("listen"), el.attr("socket"))
        } else {
            (None, None)
        };
        let mut address = l.attr("address");
        let mut socket = l.attr("socket");
        if ltype == "address" {
            if let (Some(a), Some(c)) = (address, addr_compat) {
                if a != c {
                    return Err(Error::unsupported(format!(
                        "graphics 'listen' attribute '{}' must match 'address' attribute of first listen element (found '{}')",
                        c, a
                    )));
                }
            }
            address = address.or(addr_compat);
        }
        if ltype == "socket" {
            if let (Some(s), Some(c)) = (socket, sock_compat) {
                if s != c {
                    return Err(Error::unsupported(format!(
                        "graphics 'socket' attribute '{}' must match 'socket' attribute of first listen element (found '{}')",
                        c, s
                    )));
                }
            }
            socket = socket.or(sock_compat);
        }
        let mut li = Listen {
            ltype: ltype.to_string(),
            ..Default::default()
        };
        if ltype == "address" || (ltype == "network" && !flags.inactive) {
            li.address = nonempty(address);
        }
        if let Some(n) = nonempty(l.attr("network")) {
            if ltype != "network" {
                return Err(Error::xml(
                    "'network' attribute is valid only for listen type 'network'",
                ));
            }
            li.network = Some(n);
        }
        if let Some(s) = nonempty(socket) {
            if ltype != "socket" {
                return Err(Error::xml(
                    "'socket' attribute is valid only for listen type 'socket'",
                ));
            }
            li.socket = Some(s);
        }
        out.push(li);
    }
    let compat = match el.attr("socket").filter(|_| gtype == "vnc") {
        Some(s) => Listen {
            ltype: "socket".into(),
            socket: Some(s.to_string()),
            ..Default::default()
        },
        None => Listen {
            ltype: "address".into(),
            address: nonempty(el.attr("listen")),
            ..Default::default()
        },
    };
    if out.is_empty() {
        out.push(compat);
    } else if matches!(out[0].ltype.as_str(), "address" | "network") && compat.ltype == "socket" {
        out[0] = compat;
    }
    Ok(out)
}

fn yes_no(el: &Element, name: &str) -> Result<Option<bool>> {
    crate::props::opt_yes_no(el, name)
}

impl Graphics {
    pub fn parse(el: &Element, flags: ParseFlags) -> Result<Graphics> {
        let gtype = match el.attr("type") {
            Some(t) if GRAPHICS_TYPES.contains(&t) => t.to_string(),
            Some(t) => {
                return Err(Error::xml(format!(
                    "Invalid value for attribute 'type' in element 'graphics': '{}'.",
                    t
                )))
            }
            None => return Err(crate::props::missing_attr(el, "type")),
        };
        let mut g = Graphics {
            gtype: gtype.clone(),
            listens: Vec::new(),
            port: 0,
            tls_port: 0,
            autoport: false,
            el: el.clone(),
        };
        match gtype.as_str() {
            "vnc" => {
                g.listens = parse_listens(el, &gtype, flags)?;
                match parse_int(el, "port", "vnc port")? {
                    Some(-1) => {
                        g.port = if flags.inactive { 0 } else { -1 };
                        g.autoport = true;
                    }
                    Some(p) => g.port = p,
                    None => g.autoport = true,
                }
                if let Some(v) = el.attr("autoport") {
                    match v {
                        "yes" => g.autoport = true,
                        "no" => g.autoport = false,
                        _ => {}
                    }
                    if g.autoport && flags.inactive {
                        g.port = 0;
                    }
                }
                crate::props::opt_int::<i32>(el, "websocket")?;
            }
            "spice" => {
                g.listens = parse_listens(el, &gtype, flags)?;
                g.port = crate::props::opt_int::<i32>(el, "port")?.unwrap_or(0) as i64;
                g.tls_port = crate::props::opt_int::<i32>(el, "tlsPort")?.unwrap_or(0) as i64;
                g.autoport = yes_no(el, "autoport")?.unwrap_or(false);
                if g.port == -1 && g.tls_port == -1 {
                    g.autoport = true;
                }
                if g.autoport && flags.inactive {
                    g.port = 0;
                    g.tls_port = 0;
                }
            }
            "rdp" => {
                g.listens = parse_listens(el, &gtype, flags)?;
                g.port = parse_int(el, "port", "rdp port")?.unwrap_or(0);
                if g.port == 0 || el.attr("autoport") == Some("yes") {
                    g.autoport = true;
                }
                if g.autoport && flags.inactive {
                    g.port = 0;
                }
            }
            _ => {}
        }
        if let Some(a) = el.child("audio") {
            crate::props::req(a, "id")?;
        }
        Ok(g)
    }

    /// Spice without ports and autoport listens nowhere.
    pub fn post_parse(&mut self) {
        if self.gtype == "spice"
            && self.listens.first().is_some_and(|l| l.ltype == "address")
            && self.port == 0
            && self.tls_port == 0
            && !self.autoport
        {
            self.listens[0] = Listen {
                ltype: "none".into(),
                ..Default::default()
            };
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self
            .listens
            .iter()
            .any(|l| l.ltype == "network" && l.network.is_none())
        {
            return Err(Error::xml(
                "'network' attribute is required for listen type 'network'",
            ));
        }
        Ok(())
    }

    /// An address a start filled in from the daemon's configuration
    /// (libvirt's autoGenerated listen), left out of migratable XML.
    fn hides_address(&self, l: &Listen, flags: FormatFlags) -> bool {
        flags.migratable && l.ltype == "address" && self.el.attr(AUTO_LISTEN) == Some("yes")
    }

    fn listen_attr(&self, a: &mut Attrs, flags: FormatFlags) {
        if let Some(l) = self.listens.first() {
            if (l.ltype == "network" && flags.inactive) || self.hides_address(l, flags) {
                return;
            }
            if let Some(ad) = &l.address {
                a.push("listen", ad);
            }
        }
    }

    fn auth_attrs(&self, a: &mut Attrs, flags: FormatFlags) {
        if self.el.attr("passwd").is_none() {
            return;
        }
        if flags.secure {
            a.push("passwd", self.el.attr("passwd").unwrap_or(""));
        }
        for n in ["passwdValidTo", "connected"] {
            if let Some(v) = self.el.attr(n) {
                a.push(n, v);
            }
        }
    }

    fn copy_attrs(&self, a: &mut Attrs, names: &[&str]) {
        for n in names {
            if let Some(v) = self.el.attr(n) {
                a.push(n, v);
            }
        }
    }

    pub fn write(&self, w: &mut Writer, flags: FormatFlags) {
        let mut a = Attrs::new().add("type", &self.gtype);
        let first = self.listens.first().map(|l| l.ltype.as_str());
        match self.gtype.as_str() {
            "vnc" => {
                match first {
                    Some("socket") => {
                        if let Some(s) = self.listens[0].socket.as_deref() {
                            a.push("socket", s);
                        }
                    }
                    Some("address" | "network") => {
                        let hide = flags.inactive || flags.migratable;
                        if self.port != 0 && (!self.autoport || !hide) {
                            a.push("port", self.port);
                        } else if self.autoport {
                            a.push("port", "-1");
                        }
                        a.push("autoport", if self.autoport { "yes" } else { "no" });
                        if flags.migratable && self.el.attr(WEBSOCKET_GENERATED) == Some("yes") {
                            a.push("websocket", "-1");
                        } else if let Some(ws) = self.el.attr("websocket").filter(|v| *v != "0") {
                            a.push("websocket", ws);
                        }
                        self.listen_attr(&mut a, flags);
                    }
                    _ => {}
                }
                self.copy_attrs(&mut a, &["keymap", "sharePolicy", "powerControl"]);
                self.auth_attrs(&mut a, flags);
            }
            "spice" => {
                if matches!(first, Some("address" | "network")) {
                    if self.port != 0 {
                        a.push("port", self.port);
                    }
                    if self.tls_port != 0 {
                        a.push("tlsPort", self.tls_port);
                    }
                    a.push("autoport", if self.autoport { "yes" } else { "no" });
                    self.listen_attr(&mut a, flags);
                }
                self.copy_attrs(&mut a, &["keymap"]);
                if let Some(m) = self.el.attr("defaultMode").filter(|m| *m != "any") {
                    a.push("defaultMode", m);
                }
                self.auth_attrs(&mut a, flags);
            }
            "sdl" => {
                self.copy_attrs(&mut a, &["display", "xauth"]);
                if self.el.attr("fullscreen") == Some("yes") {
                    a.push("fullscreen", "yes");
                }
            }
            "rdp" => {
                if self.port != 0 {
                    a.push("port", self.port);
                } else if self.autoport {
                    a.push("port", "0");
                }
                if self.autoport {
                    a.push("autoport", "yes");
                }
                for n in ["replaceUser", "multiUser"] {
                    if self.el.attr(n) == Some("yes") {
                        a.push(n, "yes");
                    }
                }
                self.listen_attr(&mut a, flags);
            }
            "desktop" => {
                self.copy_attrs(&mut a, &["display"]);
                if self.el.attr("fullscreen") == Some("yes") {
                    a.push("fullscreen", "yes");
                }
            }
            "dbus" => {
                if self.el.attr("p2p") == Some("yes") {
                    a.push("p2p", "yes");
                }
                self.copy_attrs(&mut a, &["address"]);
            }
            _ => {}
        }
        let body = |w: &mut Writer| {
            let kept = |w: &mut Writer, name: &str| {
                for c in self.el.children_named(name) {
                    w.element(c);
                }
            };
            match self.gtype.as_str() {
                "sdl" | "egl-headless" => kept(w, "gl"),
                "dbus" => {
                    kept(w, "gl");
                    kept(w, "audio");
                }
                _ => {}
            }
            for l in &self.listens {
                let mut la = Attrs::new().add("type", &l.ltype);
                if let Some(ad) = l.address.as_ref().filter(|_| !self.hides_address(l, flags)) {
                    if l.ltype == "address" || (l.ltype == "network" && !flags.inactive) {
                        la.push("address", ad);
                    }
                }
                if l.ltype == "network" {
                    la = la.opt("network", l.network.as_deref());
                }
                if l.ltype == "socket" {
                    la = la.opt("socket", l.socket.as_deref());
                }
                w.empty("listen", la);
            }
            if self.gtype == "spice" {
                for name in SPICE_CHANNELS {
                    for c in self
                        .el
                        .children_named("channel")
                        .filter(|c| c.attr("name") == Some(name))
                    {
                        if c.attr("mode") != Some("any") {
                            w.element(c);
                        }
                    }
                }
                for n in [
                    "image",
                    "jpeg",
                    "zlib",
                    "playback",
                    "streaming",
                    "mouse",
                    "clipboard",
                    "filetransfer",
                    "gl",
                ] {
                    kept(w, n);
                }
            }
            if self.gtype == "vnc" {
                kept(w, "audio");
            }
        };
        if self.gtype == "vnc" {
            w.block("graphics", a, body);
        } else {
            w.elem("graphics", a, body);
        }
    }
}
