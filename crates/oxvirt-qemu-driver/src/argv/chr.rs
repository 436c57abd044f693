//! Character devices: the monitor, and serial ports, parallel ports,
//! channels and consoles as a `-chardev` backend plus their device
//! (isa-serial, pci-serial, usb-serial, isa-parallel, virtserialport,
//! virtconsole...), ids as libvirt gives them.

use oxvirt_core::Result;
use oxvirt_xml::dom::Element;

use super::{esc, num, unsupported, Args, Ctx, Props};

/// The QMP monitor on the socket the driver listens on.
pub fn monitor(cx: &Ctx, a: &mut Args) {
    let chardev = match cx.start.qmp_fd {
        Some(fd) => format!("socket,id=charmonitor,fd={},server=on,wait=off", fd),
        None => format!(
            "socket,id=charmonitor,path={},server=on,wait=off",
            esc(&cx.start.qmp_path)
        ),
    };
    a.push("-chardev", chardev);
    a.push("-mon", "chardev=charmonitor,id=monitor,mode=control");
}

/// qemu.conf's certificate directory for a TLS client or server when
/// no `/etc/pki/libvirt-*` directory overrides it.
pub const TLS_DIR: &str = "/etc/pki/qemu";

/// `-object tls-creds-x509` (qemuBuildTLSx509BackendProps).
pub fn tls_creds(id: &str, listen: bool, verify: bool) -> Props {
    let mut p = Props::new();
    p.s("qom-type", "tls-creds-x509")
        .s("id", id)
        .s("dir", TLS_DIR)
        .s("endpoint", if listen { "server" } else { "client" })
        .b("verify-peer", if listen { verify } else { true });
    p
}

fn reconnect(s: &mut String, src: Option<&Element>) {
    let r = src.and_then(|s| s.child("reconnect"));
    match r.and_then(|r| r.attr("enabled")) {
        Some("yes") => s.push_str(&format!(
            ",reconnect={}",
            r.and_then(|r| r.attr("timeout")).unwrap_or("0")
        )),
        Some("no") => s.push_str(",reconnect=0"),
        _ => {}
    }
}

/// A `-chardev` for the source of `el` with its TLS credentials before
/// it (qemuBuildChardevCommand).
pub fn chardev(cx: &Ctx, a: &mut Args, el: &Element, id: &str) -> Result<()> {
    if el.attr("type") == Some("tcp") {
        let src = el.child("source");
        if src.and_then(|s| s.attr("tls")) == Some("yes") {
            let listen = src.and_then(|s| s.attr("mode")) == Some("bind");
            a.object(&tls_creds(&format!("obj{}_tls0", id), listen, true));
        }
    }
    a.push("-chardev", chardev_str(cx, el, id)?);
    Ok(())
}

/// The `-chardev` string (qemuBuildChardevStr).
pub fn chardev_str(cx: &Ctx, el: &Element, id: &str) -> Result<String> {
    let t = el.attr("type").unwrap_or("pty");
    let src = el.child("source");
    let sattr = |k: &str| src.and_then(|s| s.attr(k));
    let mut s = match t {
        "null" => format!("null,id={}", id),
        "vc" => format!("vc,id={}", id),
        "pty" => format!("pty,id={}", id),
        "dev" => {
            let backend = if id.starts_with("charparallel") {
                "parallel"
            } else {
                "serial"
            };
            format!(
                "{},id={},path={}",
                backend,
                id,
                esc(sattr("path").unwrap_or(""))
            )
        }
        "file" => {
            let mut s = format!("file,id={},path={}", id, esc(sattr("path").unwrap_or("")));
            if let Some(ap) = sattr("append") {
                s.push_str(&format!(",append={}", ap));
            }
            s
        }
        "pipe" => format!("pipe,id={},path={}", id, esc(sattr("path").unwrap_or(""))),
        "stdio" => format!("stdio,id={}", id),
        "udp" => {
            let connect = el
                .children_named("source")
                .find(|s| s.attr("mode").unwrap_or("connect") == "connect");
            let bind = el
                .children_named("source")
                .find(|s| s.attr("mode") == Some("bind"));
            format!(
                "udp,id={},host={},port={},localaddr={},localport={}",
                id,
                connect.and_then(|c| c.attr("host")).unwrap_or(""),
                connect.and_then(|c| c.attr("service")).unwrap_or(""),
                bind.and_then(|b| b.attr("host")).unwrap_or(""),
                bind.and_then(|b| b.attr("service")).unwrap_or("0")
            )
        }
        "tcp" => {
            let mut s = format!(
                "socket,id={},host={},port={}",
                id,
                sattr("host").unwrap_or(""),
                sattr("service").unwrap_or("")
            );
            if el.child("protocol").and_then(|p| p.attr("type")) == Some("telnet") {
                s.push_str(",telnet=on");
            }
            if sattr("mode") == Some("bind") {
                s.push_str(",server=on,wait=off");
            }
            reconnect(&mut s, src);
            if sattr("tls") == Some("yes") {
                s.push_str(&format!(",tls-creds=obj{}_tls0", id));
            }
            s
        }
        "unix" => {
            let path = match sattr("path") {
                Some(p) => p.to_string(),
                None => {
                    // A channel's socket libvirt names after its target.
                    let name = el
                        .child("target")
                        .and_then(|t| t.attr("name"))
                        .unwrap_or(id);
                    match &cx.start.channel_dir {
                        Some(d) => format!("{}/{}", d, name),
                        None => cx.private_path(name),
                    }
                }
            };
            let mut s = format!("socket,id={},path={}", id, esc(&path));
            if sattr("mode") == Some("bind") || sattr("path").is_none() {
                s.push_str(",server=on,wait=off");
            }
            reconnect(&mut s, src);
            s
        }
        "spicevmc" => {
            // The channel's name: the redirected USB, the smartcard or
            // the agent.
            let name = match el.name.as_str() {
                "redirdev" => "usbredir",
                "smartcard" => "smartcard",
                _ => "vdagent",
            };
            format!("spicevmc,id={},name={}", id, name)
        }
        "spiceport" => format!(
            "spiceport,id={},name={}",
            id,
            sattr("channel").unwrap_or("")
        ),
        "qemu-vdagent" => {
            let mut s = format!("qemu-vdagent,id={},name=vdagent", id);
            if let Some(c) = src
                .and_then(|s| s.child("clipboard"))
                .and_then(|c| c.attr("copypaste"))
            {
                s.push_str(&format!(
                    ",clipboard={}",
                    if c == "yes" { "on" } else { "off" }
                ));
            }
            match src
                .and_then(|s| s.child("mouse"))
                .and_then(|m| m.attr("mode"))
            {
                Some("client") => s.push_str(",mouse=on"),
                Some("server") => s.push_str(",mouse=off"),
                _ => {}
            }
            s
        }
        "dbus" => format!("dbus,id={},name={}", id, sattr("channel").unwrap_or("")),
        other => return Err(unsupported(format!("unsupported chardev '{}'", other))),
    };
    if let Some(l) = el.child("log").and_then(|l| l.attr("file")) {
        s.push_str(&format!(",logfile={}", esc(l)));
        if let Some(ap) = el.child("log").and_then(|l| l.attr("append")) {
            s.push_str(&format!(",logappend={}", ap));
        }
    }
    Ok(s)
}

/// Serial ports (qemuBuildSerialCommandLine).
pub fn serials(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, s) in cx.devices("serial").iter().enumerate() {
        let alias = cx.aliases.get("serial", i);
        let chr = format!("char{}", alias);
        chardev(cx, a, s, &chr)?;
        let target = s.child("target");
        let ttype = target.and_then(|t| t.attr("type")).unwrap_or("isa-serial");
        let model = target
            .and_then(|t| t.child("model"))
            .and_then(|m| m.attr("name"))
            .unwrap_or(match ttype {
                "usb-serial" => "usb-serial",
                "pci-serial" => "pci-serial",
                "isa-debug" => "isa-debugcon",
                _ => "isa-serial",
            });
        let mut p = Props::new();
        p.s("driver", model).s("chardev", &chr).s("id", &alias);
        match model {
            "isa-serial" => {
                p.u("index", target.map(|t| num(t, "port")).unwrap_or(0));
            }
            "isa-debugcon" => {
                p.u("iobase", 0x402);
            }
            _ => {}
        }
        cx.address(&mut p, s)?;
        a.device(&p);
    }
    Ok(())
}

/// Parallel ports.
pub fn parallels(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, s) in cx.devices("parallel").iter().enumerate() {
        let alias = cx.aliases.get("parallel", i);
        let chr = format!("char{}", alias);
        chardev(cx, a, s, &chr)?;
        let mut p = Props::new();
        p.s("driver", "isa-parallel")
            .s("chardev", &chr)
            .s("id", &alias);
        cx.address(&mut p, s)?;
        a.device(&p);
    }
    Ok(())
}

/// Channels: virtio ports, guest forwarding.
pub fn channels(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, c) in cx.devices("channel").iter().enumerate() {
        let alias = cx.aliases.get("channel", i);
        let chr = format!("char{}", alias);
        let target = c.child("target");
        match target.and_then(|t| t.attr("type")) {
            Some("virtio") => {
                chardev(cx, a, c, &chr)?;
                let mut p = Props::new();
                p.s("driver", "virtserialport");
                cx.address(&mut p, c)?;
                p.s("chardev", &chr).s("id", &alias);
                if let Some(n) = target.and_then(|t| t.attr("name")) {
                    p.s("name", n);
                }
                a.device(&p);
            }
            Some("guestfwd") => {
                chardev(cx, a, c, &chr)?;
                let t = target.unwrap_or(c);
                let mut fwd = Props::new();
                fwd.s(
                    "str",
                    &format!(
                        "tcp:{}:{}-chardev:{}",
                        t.attr("address").unwrap_or(""),
                        t.attr("port").unwrap_or(""),
                        chr
                    ),
                );
                let mut p = Props::new();
                p.s("type", "user")
                    .arr("guestfwd", vec![fwd])
                    .s("id", &alias);
                a.push("-netdev", p.to_json());
            }
            _ => {}
        }
    }
    Ok(())
}

/// Consoles that are devices of their own (virtio, sclp); a serial
/// console is its serial port.
pub fn consoles(cx: &Ctx, a: &mut Args) -> Result<()> {
    let serials = cx.devices("serial");
    for (i, c) in cx.devices("console").iter().enumerate() {
        let ttype = c
            .child("target")
            .and_then(|t| t.attr("type"))
            .unwrap_or("serial");
        if ttype == "serial" {
            if serials.is_empty() && i == 0 {
                // A console without a serial port still gets one (libvirt
                // adds the serial at define time; kept for old configs).
                let chr = "charserial0".to_string();
                chardev(cx, a, c, &chr)?;
                let mut p = Props::new();
                p.s("driver", "isa-serial")
                    .s("chardev", &chr)
                    .s("id", "serial0")
                    .u("index", 0);
                a.device(&p);
            }
            continue;
        }
        let alias = cx.aliases.get("console", i);
        let chr = format!("char{}", alias);
        let driver = match ttype {
            "virtio" => "virtconsole",
            "sclp" => "sclpconsole",
            "sclplm" => "sclplmconsole",
            _ => continue,
        };
        chardev(cx, a, c, &chr)?;
        let mut p = Props::new();
        // A virtio console has no address of its own: QEMU puts it on
        // the first virtio-serial bus's port 0.
        p.s("driver", driver).s("chardev", &chr).s("id", &alias);
        a.device(&p);
    }
    Ok(())
}
