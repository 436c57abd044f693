//! The other devices, each as libvirt's qemu_command.c builds it: input,
//! audio, graphics, video, sound, watchdog, USB redirection, host
//! devices, balloon, RNG, panic, shared memory, vsock, IOMMU, memory
//! devices, filesystems, smartcards, hubs, TPM, generation id.

use oxvirt_core::Result;
use oxvirt_xml::dom::Element;
use oxvirt_xml::props;

use super::{esc, internal, num, unsupported, Args, Ctx, Props};

/// `-device vmgenid` for `<genid>`.
pub fn vmgenid(cx: &Ctx, a: &mut Args) {
    if let Some(g) = cx.root.child("genid") {
        let mut p = Props::new();
        p.s("driver", "vmgenid")
            .s("guid", g.text().trim())
            .s("id", "vmgenid0");
        a.device(&p);
    }
}

/// `-display none` for a guest without graphics.
pub fn display(cx: &Ctx, a: &mut Args) {
    if cx.devices("graphics").is_empty() {
        a.push("-display", "none");
    }
}

/// The IOMMU device (intel-iommu, virtio-iommu).
pub fn iommu(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, e) in cx.devices("iommu").iter().enumerate() {
        let alias = cx.aliases.get("iommu", i);
        let d = e.child("driver");
        let da = |k: &str| d.and_then(|d| d.attr(k));
        let mut p = Props::new();
        match e.attr("model") {
            Some("intel") => {
                p.s("driver", "intel-iommu").s("id", &alias);
                p.os("intremap", da("intremap"));
                p.t("caching-mode", da("caching_mode"));
                p.os("eim", da("eim"));
                p.t("device-iotlb", da("iotlb"));
                if let Some(w) = da("aw_bits").and_then(|v| v.parse::<u64>().ok()) {
                    p.u("aw-bits", w);
                }
            }
            Some("virtio") => {
                p.s("driver", "virtio-iommu").s("id", &alias);
                cx.address(&mut p, e)?;
                p.b("boot-bypass", false);
            }
            _ => continue,
        }
        a.device(&p);
    }
    Ok(())
}

/// USB hubs.
pub fn hubs(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, h) in cx.devices("hub").iter().enumerate() {
        if h.attr("type") != Some("usb") {
            continue;
        }
        let mut p = Props::new();
        p.s("driver", "usb-hub").s("id", &cx.aliases.get("hub", i));
        cx.address(&mut p, h)?;
        a.device(&p);
    }
    Ok(())
}

/// Filesystems: virtio-9p (with its -fsdev) or vhost-user-fs.
pub fn filesystems(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, f) in cx.devices("filesystem").iter().enumerate() {
        let alias = cx.aliases.get("filesystem", i);
        let dst = f.child("target").and_then(|t| t.attr("dir")).unwrap_or("");
        let driver = f.child("driver").and_then(|d| d.attr("type"));
        match driver {
            Some("virtiofs") => {
                let chr = format!("chr-vu-{}", alias);
                let sock = f
                    .child("source")
                    .and_then(|s| s.attr("socket"))
                    .map(str::to_string)
                    .unwrap_or_else(|| cx.private_path(&format!("{}-fs.sock", alias)));
                a.push("-chardev", format!("socket,id={},path={}", chr, esc(&sock)));
                let mut p = Props::new();
                p.s(
                    "driver",
                    &cx.virtio_model("vhost-user-fs", f.attr("model"), f),
                );
                cx.virtio_options(&mut p, f);
                p.s("id", &alias).s("chardev", &chr);
                if let Some(q) = f
                    .child("driver")
                    .and_then(|d| d.attr("queue"))
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    p.p("queue-size", q);
                }
                p.s("tag", dst);
                if let Some(b) = f
                    .child("boot")
                    .and_then(|b| b.attr("order"))
                    .and_then(|o| o.parse::<u64>().ok())
                {
                    p.u("bootindex", b);
                }
                cx.address(&mut p, f)?;
                a.device(&p);
            }
            None | Some("path" | "handle") => {
                let src = f.child("source").and_then(|s| s.attr("dir")).unwrap_or("");
                let mut fsdev = String::new();
                if driver == Some("handle") {
                    fsdev.push_str("handle");
                } else {
                    fsdev.push_str("local");
                    match f.attr("accessmode") {
                        Some("mapped") => fsdev.push_str(",security_model=mapped"),
                        Some("passthrough") => fsdev.push_str(",security_model=passthrough"),
                        Some("squash") => fsdev.push_str(",security_model=none"),
                        _ => {}
                    }
                    if let Some(m) = f.attr("multidevs").filter(|m| *m != "default") {
                        fsdev.push_str(&format!(",multidevs={}", m));
                    }
                    for k in ["fmode", "dmode"] {
                        if let Some(v) = f.attr(k).and_then(|v| u32::from_str_radix(v, 8).ok()) {
                            fsdev.push_str(&format!(",{}={:04o}", k, v));
                        }
                    }
                }
                if let Some(w) = f.child("driver").and_then(|d| d.attr("wrpolicy")) {
                    fsdev.push_str(&format!(",writeout={}", w));
                }
                fsdev.push_str(&format!(",id=fsdev-{},path={}", alias, esc(src)));
                if f.child("readonly").is_some() {
                    fsdev.push_str(",readonly");
                }
                a.push("-fsdev", fsdev);
                let mut p = Props::new();
                p.s("driver", &cx.virtio_model("virtio-9p", f.attr("model"), f));
                cx.virtio_options(&mut p, f);
                p.s("id", &alias)
                    .s("fsdev", &format!("fsdev-{}", alias))
                    .s("mount_tag", dst);
                cx.address(&mut p, f)?;
                a.device(&p);
            }
            Some(other) => {
                return Err(unsupported(format!(
                    "filesystem driver '{}' is not supported",
                    other
                )))
            }
        }
    }
    Ok(())
}

/// Smartcards on a CCID controller.
pub fn smartcards(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, s) in cx.devices("smartcard").iter().enumerate() {
        let alias = cx.aliases.get("smartcard", i);
        let ccid = s
            .child("address")
            .map(|x| num(x, "controller"))
            .unwrap_or(0);
        let bus = format!(
            "{}.0",
            cx.controller_alias("ccid", ccid)
                .unwrap_or_else(|| format!("ccid{}", ccid))
        );
        let mut p = Props::new();
        match s.attr("mode").unwrap_or("host") {
            "passthrough" => {
                let chr = format!("char{}", alias);
                super::chr::chardev(cx, a, s, &chr)?;
                p.s("driver", "ccid-card-passthru").s("chardev", &chr);
            }
            "host-certificates" => {
                p.s("driver", "ccid-card-emulated")
                    .s("backend", "certificates");
                for (n, c) in s.children_named("certificate").enumerate() {
                    p.s(&format!("cert{}", n + 1), &c.text());
                }
                if let Some(db) = s.child("database") {
                    p.s("db", &db.text());
                } else {
                    p.s("db", "/etc/pki/nssdb");
                }
            }
            _ => {
                p.s("driver", "ccid-card-emulated")
                    .s("backend", "nss-emulated");
            }
        }
        p.s("id", &alias).s("bus", &bus);
        a.device(&p);
    }
    Ok(())
}

/// TPM devices with a passthrough backend (an emulator needs swtpm,
/// which validation already required).
pub fn tpms(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, t) in cx.devices("tpm").iter().enumerate() {
        let alias = cx.aliases.get("tpm", i);
        let backend = t.child("backend");
        match backend
            .and_then(|b| b.attr("type"))
            .unwrap_or("passthrough")
        {
            "passthrough" => {
                let path = backend
                    .and_then(|b| b.child("device"))
                    .and_then(|d| d.attr("path"))
                    .unwrap_or("/dev/tpm0");
                // libvirt hands QEMU the opened device.
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .map_err(|e| {
                        oxvirt_core::Error::system(
                            crate::FROM,
                            format!("Could not open TPM device {}", path),
                            &e,
                        )
                    })?;
                a.push(
                    "-tpmdev",
                    format!("passthrough,id=tpm-{},path={}", alias, esc(path)),
                );
            }
            other => {
                a.push("-tpmdev", format!("{},id=tpm-{}", other, alias));
            }
        }
        let mut p = Props::new();
        p.s("driver", t.attr("model").unwrap_or("tpm-tis"))
            .s("tpmdev", &format!("tpm-{}", alias))
            .s("id", &alias);
        cx.address(&mut p, t)?;
        a.device(&p);
    }
    Ok(())
}

/// Input devices: USB and virtio ones are devices, PS/2 is built in.
pub fn inputs(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, e) in cx.devices("input").iter().enumerate() {
        let alias = cx.aliases.get("input", i);
        let t = e.attr("type").unwrap_or("mouse");
        if t == "evdev" {
            let mut p = Props::new();
            p.s("qom-type", "input-linux").s("id", &alias);
            p.os("evdev", e.child("source").and_then(|s| s.attr("dev")));
            p.t("repeat", e.child("source").and_then(|s| s.attr("repeat")));
            if e.child("source").and_then(|s| s.attr("grab")) == Some("all") {
                p.b("grab_all", true);
            }
            a.object(&p);
            continue;
        }
        let mut p = Props::new();
        match e.attr("bus").unwrap_or("ps2") {
            "usb" => {
                let drv = match t {
                    "tablet" => "usb-tablet",
                    "keyboard" => "usb-kbd",
                    _ => "usb-mouse",
                };
                p.s("driver", drv).s("id", &alias);
            }
            "virtio" => {
                let base = match t {
                    "tablet" => "virtio-tablet",
                    "keyboard" => "virtio-keyboard",
                    "passthrough" => "virtio-input-host",
                    _ => "virtio-mouse",
                };
                p.s("driver", &cx.virtio_model(base, e.attr("model"), e));
                cx.virtio_options(&mut p, e);
                p.s("id", &alias);
                if t == "passthrough" {
                    p.os("evdev", e.child("source").and_then(|s| s.attr("evdev")));
                }
            }
            _ => continue,
        }
        cx.address(&mut p, e)?;
        a.device(&p);
    }
    Ok(())
}

/// `-audiodev` for each audio backend.
pub fn audio(cx: &Ctx, a: &mut Args) -> Result<()> {
    for e in cx.devices("audio") {
        let id = e.attr("id").unwrap_or("1");
        let t = e.attr("type").unwrap_or("none");
        let driver = match t {
            "pulseaudio" => "pa",
            "file" => "wav",
            other => other,
        };
        let mut p = Props::new();
        p.s("id", &format!("audio{}", id)).s("driver", driver);
        p.p("timer-period", unum(e.attr("timerPeriod")));
        let dir = |name: &str| {
            let mut d = Props::new();
            let Some(io) = e.child(name) else {
                return d;
            };
            let yes = |k: &str| match io.attr(k) {
                Some("yes") => Some("on"),
                Some("no") => Some("off"),
                _ => None,
            };
            d.t("mixing-engine", yes("mixingEngine"));
            d.t("fixed-settings", yes("fixedSettings"));
            d.p("voices", unum(io.attr("voices")));
            d.p("buffer-length", unum(io.attr("bufferLength")));
            if io.attr("fixedSettings") == Some("yes") {
                let st = io.child("settings");
                let sa = |k: &str| st.and_then(|s| s.attr(k));
                d.p("frequency", unum(sa("frequency")));
                d.p("channels", unum(sa("channels")));
                d.os("format", sa("format"));
            }
            match t {
                "alsa" => {
                    d.os("dev", io.attr("dev"));
                }
                "coreaudio" | "sdl" => {
                    d.p("buffer-count", unum(io.attr("bufferCount")));
                }
                "jack" => {
                    d.os("server-name", io.attr("serverName"))
                        .os("client-name", io.attr("clientName"))
                        .os("connect-ports", io.attr("connectPorts"))
                        .t("exact-name", yes("exactName"));
                }
                "oss" => {
                    d.os("dev", io.attr("dev"))
                        .p("buffer-count", unum(io.attr("bufferCount")))
                        .t("try-poll", yes("tryPoll"));
                }
                "pulseaudio" => {
                    d.os("name", io.attr("name"))
                        .os("stream-name", io.attr("streamName"))
                        .p("latency", unum(io.attr("latency")));
                }
                _ => {}
            }
            d
        };
        let (input, output) = (dir("input"), dir("output"));
        let yes = |k: &str| match e.attr(k) {
            Some("yes") => Some("on"),
            Some("no") => Some("off"),
            _ => None,
        };
        match t {
            "oss" => {
                p.t("try-mmap", yes("tryMMap"))
                    .t("exclusive", yes("exclusive"));
                if let Some(v) = e.attr("dspPolicy").and_then(|v| v.parse::<i64>().ok()) {
                    p.set("dsp-policy", v);
                }
            }
            "pulseaudio" => {
                p.os("server", e.attr("serverName"));
            }
            "file" => {
                p.os("path", e.attr("path"));
            }
            _ => {}
        }
        if !input.is_empty() {
            p.obj("in", input);
        }
        if !output.is_empty() {
            p.obj("out", output);
        }
        a.push("-audiodev", p.to_json());
    }
    Ok(())
}

fn unum(v: Option<&str>) -> u64 {
    v.and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The `audioN` id a display or sound device plays through: its own
/// `<audio id>` or the first backend (qemuGetAudioIDString).
fn audio_id(cx: &Ctx, el: &Element) -> Option<String> {
    let want = el
        .child("audio")
        .and_then(|x| x.attr("id"))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let audios = cx.devices("audio");
    let found = if want == 0 {
        audios.first().copied()
    } else {
        audios
            .iter()
            .find(|x| x.attr("id").and_then(|v| v.parse::<u64>().ok()) == Some(want))
            .copied()
    };
    found.map(|x| format!("audio{}", x.attr("id").unwrap_or("1")))
}

/// The first `<listen>` of a display: (type, address or socket).
fn listen(g: &Element) -> (&str, Option<&str>) {
    match g.child("listen") {
        Some(l) => {
            let t = l.attr("type").unwrap_or("address");
            let v = if t == "socket" {
                l.attr("socket")
            } else {
                l.attr("address")
            };
            (t, v)
        }
        None => ("address", g.attr("listen")),
    }
}

/// A free TCP port for a display started with `autoport`, other than
/// `taken` (the VNC display's).
fn free_port(listen: &str, from: u16, taken: Option<u16>) -> u16 {
    (from..6900)
        .filter(|p| Some(*p) != taken)
        .find(|p| std::net::TcpListener::bind((listen, *p)).is_ok())
        .unwrap_or(from)
}

/// Graphics: `-vnc`, `-spice`, `-display`
/// (qemuBuildGraphicsCommandLine).
pub fn graphics(cx: &Ctx, a: &mut Args) -> Result<()> {
    for g in cx.devices("graphics") {
        let attr = |k: &str| g.attr(k);
        match attr("type") {
            Some("vnc") => {
                let (lt, lv) = listen(g);
                let mut s = String::new();
                match lt {
                    "socket" => {
                        let sock = lv
                            .map(str::to_string)
                            .unwrap_or_else(|| cx.private_path("vnc.sock"));
                        s.push_str(&format!("vnc=unix:{}", esc(&sock)));
                    }
                    "none" => s.push_str("none"),
                    _ => {
                        let addr = lv.unwrap_or("127.0.0.1");
                        let port = match attr("port").and_then(|p| p.parse::<i64>().ok()) {
                            Some(p) if attr("autoport") != Some("yes") && p >= 0 => {
                                if !(5900..=65535).contains(&p) {
                                    return Err(unsupported(
                                        "vnc port must be in range [5900,65535]",
                                    ));
                                }
                                p
                            }
                            _ => cx.start.vnc_port.unwrap_or(5900) as i64,
                        };
                        if addr.contains(':') {
                            s.push_str(&format!("[{}]", addr));
                        } else {
                            s.push_str(addr);
                        }
                        s.push_str(&format!(":{}", port - 5900));
                        if let Some(w) = attr("websocket").filter(|w| *w != "0") {
                            s.push_str(&format!(",websocket={}", w));
                        }
                    }
                }
                if let Some(sp) = attr("sharePolicy") {
                    s.push_str(&format!(",share={}", sp));
                }
                if attr("passwd").is_some() {
                    s.push_str(",password=on");
                }
                if let Some(pc) = attr("powerControl") {
                    s.push_str(&format!(
                        ",power-control={}",
                        if pc == "yes" { "on" } else { "off" }
                    ));
                }
                let audio = audio_id(cx, g)
                    .ok_or_else(|| internal("unable to find audio backend for sound device"))?;
                s.push_str(&format!(",audiodev={}", audio));
                a.push("-vnc", s);
                if let Some(k) = attr("keymap") {
                    a.push("-k", k);
                }
            }
            Some("spice") => spice(cx, g, a)?,
            Some("egl-headless") => {
                let mut s = "egl-headless".to_string();
                if let Some(r) = g.child("gl").and_then(|x| x.attr("rendernode")) {
                    s.push_str(&format!(",rendernode={}", esc(r)));
                }
                a.push("-display", s);
            }
            Some("sdl") => {
                if attr("fullscreen") == Some("yes") {
                    a.flag("-full-screen");
                }
                let mut s = "sdl".to_string();
                if let Some(gl) = g.child("gl").and_then(|x| x.attr("enable")) {
                    s.push_str(&format!(",gl={}", if gl == "yes" { "on" } else { "off" }));
                }
                a.push("-display", s);
            }
            Some("dbus") => {
                let mut s = "dbus".to_string();
                if attr("p2p") == Some("yes") {
                    s.push_str(",p2p=on");
                } else {
                    s.push_str(&format!(",addr={}", esc(attr("address").unwrap_or(""))));
                }
                let gl = g.child("gl");
                if let Some(e) = gl.and_then(|x| x.attr("enable")) {
                    s.push_str(&format!(",gl={}", if e == "yes" { "on" } else { "off" }));
                }
                if let Some(r) = gl.and_then(|x| x.attr("rendernode")) {
                    s.push_str(&format!(",rendernode={}", esc(r)));
                }
                if g.child("audio").is_some() {
                    if let Some(id) = audio_id(cx, g) {
                        s.push_str(&format!(",audiodev={}", id));
                    }
                }
                a.push("-display", s);
            }
            Some(other) => {
                return Err(unsupported(format!(
                    "unsupported graphics type '{}'",
                    other
                )))
            }
            None => {}
        }
    }
    Ok(())
}

/// `-spice` (qemuBuildGraphicsSPICECommandLine with qemu.conf's
/// defaults: no TLS, no SASL, no default password).
fn spice(cx: &Ctx, g: &Element, a: &mut Args) -> Result<()> {
    let attr = |k: &str| g.attr(k);
    let (lt, lv) = listen(g);
    let mut s = String::new();
    let (mut secure, mut insecure) = (false, false);
    let channels: Vec<(&str, &str)> = g
        .children_named("channel")
        .filter_map(|c| Some((c.attr("name")?, c.attr("mode")?)))
        .collect();
    let default_mode = attr("defaultMode").unwrap_or("any");
    match lt {
        "socket" => {
            let sock = lv
                .map(str::to_string)
                .unwrap_or_else(|| cx.private_path("spice.sock"));
            s.push_str(&format!("unix,addr={},", esc(&sock)));
            insecure = true;
        }
        "none" => {
            s.push_str("port=0,");
            insecure = true;
        }
        _ => {
            let num = |k: &str| attr(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
            let (mut port, mut tls_port) = (num("port"), num("tlsPort"));
            // A start has chosen the port already (process.rs).
            if attr("autoport") == Some("yes") && port <= 0 {
                let need_tls =
                    default_mode == "secure" || channels.iter().any(|(_, m)| *m == "secure");
                let need_port = matches!(default_mode, "insecure" | "any")
                    || channels.iter().any(|(_, m)| *m == "insecure");
                let addr = lv.unwrap_or("127.0.0.1");
                if need_port || port == -1 {
                    port = if cx.start.pretend {
                        5901
                    } else {
                        free_port(addr, 5900, cx.start.vnc_port) as i64
                    };
                }
                if need_tls || tls_port == -1 {
                    tls_port = if cx.start.pretend {
                        5902
                    } else {
                        return Err(unsupported(
                            "Auto allocation of spice TLS port requested but spice TLS is disabled in qemu.conf",
                        ));
                    };
                }
            }
            if port > 0 {
                s.push_str(&format!("port={},", port));
                insecure = true;
            }
            if tls_port > 0 {
                s.push_str(&format!("tls-port={},", tls_port));
                secure = true;
            }
            if port > 0 || tls_port > 0 {
                s.push_str(&format!("addr={},", lv.unwrap_or("127.0.0.1")));
            }
        }
    }
    match g.child("mouse").and_then(|m| m.attr("mode")) {
        Some("server") => s.push_str("agent-mouse=off,"),
        Some("client") => s.push_str("agent-mouse=on,"),
        _ => {}
    }
    if attr("passwd").is_none() {
        s.push_str("disable-ticketing=on,");
    }
    if secure {
        s.push_str(&format!("x509-dir={},", super::chr::TLS_DIR));
    }
    match default_mode {
        "secure" => {
            if !secure {
                return Err(unsupported("spice defaultMode secure requested in XML configuration, but TLS connection is not available"));
            }
            s.push_str("tls-channel=default,");
        }
        "insecure" => {
            if !insecure {
                return Err(unsupported("spice defaultMode insecure requested in XML configuration, but plaintext connection is not available"));
            }
            s.push_str("plaintext-channel=default,");
        }
        _ => {}
    }
    // Channels in libvirt's order of names.
    for &name in oxvirt_xml::domain::devices::graphics::SPICE_CHANNELS {
        match channels.iter().find(|(n, _)| *n == name).map(|(_, m)| *m) {
            Some("secure") => {
                if !secure {
                    return Err(unsupported("spice secure channels set in XML configuration, but TLS connection is not available"));
                }
                s.push_str(&format!("tls-channel={},", name));
            }
            Some("insecure") => {
                if !insecure {
                    return Err(unsupported("spice insecure channels set in XML configuration, but plaintext connection is not available"));
                }
                s.push_str(&format!("plaintext-channel={},", name));
            }
            _ => {}
        }
    }
    let ca = |el: &str, k: &str| g.child(el).and_then(|x| x.attr(k));
    if let Some(v) = ca("image", "compression") {
        s.push_str(&format!("image-compression={},", v));
    }
    if let Some(v) = ca("jpeg", "compression") {
        s.push_str(&format!("jpeg-wan-compression={},", v));
    }
    if let Some(v) = ca("zlib", "compression") {
        s.push_str(&format!("zlib-glz-wan-compression={},", v));
    }
    if let Some(v) = ca("playback", "compression") {
        s.push_str(&format!("playback-compression={},", v));
    }
    if let Some(v) = ca("streaming", "mode") {
        s.push_str(&format!("streaming-video={},", v));
    }
    if ca("clipboard", "copypaste") == Some("no") {
        s.push_str("disable-copy-paste=on,");
    }
    if ca("filetransfer", "enable") == Some("no") {
        s.push_str("disable-agent-file-xfer=on,");
    }
    if ca("gl", "enable") == Some("yes") {
        s.push_str("gl=on,");
        if let Some(r) = ca("gl", "rendernode") {
            s.push_str(&format!("rendernode={},", esc(r)));
        }
    }
    s.push_str("seamless-migration=on");
    a.push("-spice", s);
    if let Some(k) = attr("keymap") {
        a.push("-k", k);
    }
    Ok(())
}

/// Video devices (qemuDeviceVideoGetModel and qemuBuildDeviceVideoCmd).
pub fn videos(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, v) in cx.devices("video").iter().enumerate() {
        let m = v.child("model");
        let model = m.and_then(|m| m.attr("type")).unwrap_or("vga");
        if model == "none" {
            continue;
        }
        let primary = i == 0;
        let accel3d = m
            .and_then(|m| m.child("acceleration"))
            .and_then(|x| x.attr("accel3d"))
            == Some("yes");
        let vhostuser = v.child("driver").and_then(|d| d.attr("name")) == Some("vhostuser");
        let alias = cx.aliases.get("video", i);
        let drv = if vhostuser {
            if primary {
                "vhost-user-vga".to_string()
            } else {
                cx.virtio_model("vhost-user-gpu", None, v)
            }
        } else {
            match (model, primary) {
                ("vga", true) => "VGA".into(),
                ("cirrus", true) => "cirrus-vga".into(),
                ("vmvga", true) => "vmware-svga".into(),
                ("qxl", true) => "qxl-vga".into(),
                ("qxl", false) => "qxl".into(),
                ("virtio", true) if accel3d && cx.has("virtio-vga-gl") => "virtio-vga-gl".into(),
                ("virtio", true) => "virtio-vga".into(),
                ("virtio", false) if accel3d && cx.has("virtio-gpu-gl-pci") => {
                    cx.virtio_model("virtio-gpu-gl", None, v)
                }
                ("virtio", false) => cx.virtio_model("virtio-gpu", None, v),
                ("bochs", true) => "bochs-display".into(),
                ("ramfb", true) => "ramfb".into(),
                (m, _) => return Err(unsupported(format!("invalid model for video type '{}'", m))),
            }
        };
        if vhostuser {
            a.push(
                "-chardev",
                format!(
                    "socket,id=chr-vu-{},path=/var/lib/libvirt/qemu/{}-vhost-user-gpu.sock",
                    alias, alias
                ),
            );
        }
        let mut p = Props::new();
        p.s("driver", &drv);
        if model == "virtio" {
            cx.virtio_options(&mut p, v);
        }
        p.s("id", &alias);
        let num_attr = |k: &str| {
            m.and_then(|m| m.attr(k))
                .and_then(|x| x.parse::<u64>().ok())
        };
        if matches!(model, "qxl" | "virtio") {
            p.p("max_outputs", num_attr("heads").unwrap_or(0));
        }
        if model == "qxl" {
            p.p("ram_size", num_attr("ram").unwrap_or(0) * 1024);
            p.p("vram_size", num_attr("vram").unwrap_or(0) * 1024);
            p.u("vram64_size_mb", num_attr("vram64").unwrap_or(0) / 1024);
            p.u("vgamem_mb", num_attr("vgamem").unwrap_or(0) / 1024);
        } else if matches!(model, "vga" | "vmvga") {
            p.p("vgamem_mb", num_attr("vram").unwrap_or(0) / 1024);
        } else if model == "bochs" {
            p.p("vgamem", num_attr("vram").unwrap_or(0) * 1024);
        }
        if vhostuser {
            p.s("chardev", &format!("chr-vu-{}", alias));
        }
        cx.address(&mut p, v)?;
        a.device(&p);
    }
    Ok(())
}

/// Sound devices and the codecs of the HDA ones.
pub fn sounds(cx: &Ctx, a: &mut Args) -> Result<()> {
    let audio_id = |s: &Element| -> String {
        let id = s
            .child("audio")
            .and_then(|x| x.attr("id"))
            .or_else(|| cx.devices("audio").first().and_then(|x| x.attr("id")))
            .unwrap_or("1");
        format!("audio{}", id)
    };
    for (i, s) in cx.devices("sound").iter().enumerate() {
        let alias = cx.aliases.get("sound", i);
        let model = s.attr("model").unwrap_or("ich6");
        let drv = match model {
            "es1370" => "ES1370",
            "ac97" => "AC97",
            "ich6" => "intel-hda",
            "ich9" => "ich9-intel-hda",
            "usb" => "usb-audio",
            "sb16" => "sb16",
            "pcspk" => {
                a.push("-soundhw", "pcspk");
                continue;
            }
            other => {
                return Err(unsupported(format!(
                    "sound card model '{}' is not supported by qemu",
                    other
                )))
            }
        };
        let hda = matches!(model, "ich6" | "ich9");
        let mut p = Props::new();
        p.s("driver", drv).s("id", &alias);
        if !hda {
            p.s("audiodev", &audio_id(s));
        }
        cx.address(&mut p, s)?;
        a.device(&p);
        if hda {
            let codecs: Vec<&Element> = s.children_named("codec").collect();
            let mut list: Vec<(String, u64)> = codecs
                .iter()
                .enumerate()
                .map(|(n, c)| {
                    (
                        format!("hda-{}", c.attr("type").unwrap_or("duplex")),
                        n as u64,
                    )
                })
                .collect();
            if list.is_empty() {
                list.push(("hda-duplex".into(), 0));
            }
            for (drv, cad) in list {
                let mut c = Props::new();
                c.s("driver", &drv)
                    .s("id", &format!("{}-codec{}", alias, cad))
                    .s("bus", &format!("{}.0", alias))
                    .u("cad", cad)
                    .s("audiodev", &audio_id(s));
                a.device(&c);
            }
        }
    }
    Ok(())
}

/// The watchdog device and its action.
pub fn watchdog(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, w) in cx.devices("watchdog").iter().enumerate() {
        let model = w.attr("model").unwrap_or("i6300esb");
        let mut p = Props::new();
        p.s("driver", model).s("id", &cx.aliases.get("watchdog", i));
        cx.address(&mut p, w)?;
        a.device(&p);
        let action = match w.attr("action").unwrap_or("reset") {
            "dump" => "pause",
            other => other,
        };
        a.push("-watchdog-action", action.to_string());
    }
    Ok(())
}

/// USB redirection (usb-redir on a chardev).
pub fn redirdevs(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, r) in cx.devices("redirdev").iter().enumerate() {
        let alias = cx.aliases.get("redirdev", i);
        let chr = format!("char{}", alias);
        super::chr::chardev(cx, a, r, &chr)?;
        let mut p = Props::new();
        p.s("driver", "usb-redir")
            .s("chardev", &chr)
            .s("id", &alias);
        if let Some(b) = r
            .child("boot")
            .and_then(|b| b.attr("order"))
            .and_then(|o| o.parse().ok())
        {
            p.u("bootindex", b);
        }
        cx.address(&mut p, r)?;
        a.device(&p);
    }
    Ok(())
}

/// The SCSI generic device (`/dev/sgN`) of a host SCSI address
/// (virSCSIDeviceGetSgName).
fn scsi_generic_path(src: Option<&Element>) -> Result<String> {
    let adapter = src
        .and_then(|s| s.child("adapter"))
        .and_then(|a| a.attr("name"))
        .unwrap_or("");
    let a = src.and_then(|s| s.child("address"));
    let n = |k: &str| a.map(|a| num(a, k)).unwrap_or(0);
    let host = adapter.strip_prefix("scsi_host").unwrap_or(adapter);
    let dir = format!(
        "/sys/bus/scsi/devices/{}:{}:{}:{}/scsi_generic",
        host,
        n("bus"),
        n("target"),
        n("unit")
    );
    std::fs::read_dir(&dir)
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| format!("/dev/{}", e.file_name().to_string_lossy()))
        .ok_or_else(|| {
            oxvirt_core::Error::system(
                crate::FROM,
                format!("Failed to open {}", dir),
                &std::io::Error::from_raw_os_error(libc::ENOENT),
            )
        })
}

/// An IOMMU and /dev/vfio/vfio (qemuHostdevHostSupportsPassthroughVFIO).
fn host_supports_vfio() -> bool {
    let iommu = std::fs::read_dir("/sys/kernel/iommu_groups").is_ok_and(|mut d| d.next().is_some());
    iommu && std::path::Path::new("/dev/vfio/vfio").exists()
}

/// Host devices: vfio-pci, usb-host, scsi-generic, vhost-scsi, mdev.
pub fn hostdevs(cx: &Ctx, a: &mut Args) -> Result<()> {
    let mut scsi_nodes = super::disk::disk_node_count(cx);
    for (i, h) in cx.devices("hostdev").iter().enumerate() {
        if h.attr("mode").unwrap_or("subsystem") != "subsystem" {
            continue;
        }
        let alias = cx.aliases.get("hostdev", i);
        let src = h.child("source");
        let boot = h
            .child("boot")
            .and_then(|b| b.attr("order"))
            .and_then(|o| o.parse::<u64>().ok());
        let mut p = Props::new();
        match h.attr("type") {
            Some("pci") => {
                let backend = h.child("driver").and_then(|d| d.attr("name"));
                if backend.is_none_or(|b| b == "default") && !host_supports_vfio() {
                    // libvirt picks VFIO when the host has it; a printed
                    // command line keeps the unresolved default.
                    return Err(if cx.start.pretend {
                        internal("invalid PCI passthrough type 'default'")
                    } else {
                        unsupported("host doesn't support passthrough of host PCI devices")
                    });
                }
                let sa = src.and_then(|s| s.child("address"));
                let host = sa
                    .map(|x| {
                        format!(
                            "{:04x}:{:02x}:{:02x}.{:x}",
                            num(x, "domain"),
                            num(x, "bus"),
                            num(x, "slot"),
                            num(x, "function")
                        )
                    })
                    .unwrap_or_default();
                p.s("driver", "vfio-pci").s("host", &host).s("id", &alias);
                if let Some(b) = boot {
                    p.u("bootindex", b);
                }
                cx.address(&mut p, h)?;
                cx.rom(&mut p, h)?;
                a.device(&p);
                continue;
            }
            Some("usb") => {
                p.s("driver", "usb-host");
                if let Some(x) = src.and_then(|s| s.child("address")) {
                    p.s(
                        "hostdevice",
                        &format!("/dev/bus/usb/{:03}/{:03}", num(x, "bus"), num(x, "device")),
                    );
                }
                p.s("id", &alias);
                if let Some(b) = boot {
                    p.u("bootindex", b);
                }
                match src.and_then(|s| s.attr("guestReset")) {
                    Some("off") => {
                        p.b("guest-reset", false);
                    }
                    Some("uninitialized") => {
                        p.b("guest-reset", true).b("guest-resets-all", false);
                    }
                    Some("on") => {
                        p.b("guest-reset", true).b("guest-resets-all", true);
                    }
                    _ => {}
                }
            }
            Some("scsi") => {
                scsi_nodes += 1;
                let node = format!("libvirt-{}-backend", scsi_nodes);
                let mut b = Props::new();
                match src.and_then(|s| s.attr("protocol")) {
                    Some("iscsi") => {
                        if let Some(s) = src {
                            super::disk::iscsi(&mut b, s);
                        }
                    }
                    _ => {
                        b.s("driver", "host_device")
                            .s("filename", &scsi_generic_path(src)?);
                    }
                }
                b.s("node-name", &node)
                    .b("read-only", h.child("readonly").is_some());
                a.blockdev(&b);
                p.s("driver", "scsi-generic")
                    .s("drive", &node)
                    .s("id", &alias);
                if let Some(b) = boot {
                    p.u("bootindex", b);
                }
                super::disk::drive_address(cx, &mut p, h, "scsi")?;
                a.device(&p);
                continue;
            }
            Some("scsi_host") => {
                if !std::path::Path::new("/dev/vhost-scsi").exists() {
                    return Err(unsupported(
                        "vhost-scsi device file '/dev/vhost-scsi' cannot be found",
                    ));
                }
                p.s("driver", &cx.virtio_model("vhost-scsi", h.attr("model"), h))
                    .s("wwpn", src.and_then(|s| s.attr("wwpn")).unwrap_or(""))
                    .s("id", &alias);
            }
            Some("mdev") => {
                let uuid = src
                    .and_then(|s| s.child("address"))
                    .and_then(|x| x.attr("uuid"))
                    .unwrap_or("");
                let drv = match h.attr("model") {
                    Some("vfio-ccw") => "vfio-ccw",
                    Some("vfio-ap") => "vfio-ap",
                    // A ramfb display cannot be unplugged.
                    _ if h.attr("ramfb") == Some("on") => "vfio-pci-nohotplug",
                    _ => "vfio-pci",
                };
                p.s("driver", drv)
                    .s("id", &alias)
                    .s("sysfsdev", &format!("/sys/bus/mdev/devices/{}", uuid));
                p.os("display", h.attr("display"));
                if h.attr("ramfb") == Some("on") {
                    p.b("ramfb", true);
                }
                if let Some(b) = boot {
                    p.u("bootindex", b);
                }
            }
            _ => continue,
        }
        cx.address(&mut p, h)?;
        a.device(&p);
    }
    Ok(())
}

/// The memory balloon.
pub fn memballoon(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, b) in cx.devices("memballoon").iter().enumerate() {
        let model = b.attr("model").unwrap_or("virtio");
        if model == "none" || model == "xen" {
            continue;
        }
        let mut p = Props::new();
        p.s("driver", &cx.virtio_model("virtio-balloon", Some(model), b));
        cx.virtio_options(&mut p, b);
        p.s("id", &cx.aliases.get("memballoon", i));
        p.t("deflate-on-oom", b.attr("autodeflate"));
        p.t("free-page-reporting", b.attr("freePageReporting"));
        cx.address(&mut p, b)?;
        a.device(&p);
    }
    Ok(())
}

/// RNG devices and their backend objects.
pub fn rngs(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, r) in cx.devices("rng").iter().enumerate() {
        let alias = cx.aliases.get("rng", i);
        let obj = format!("obj{}", alias);
        let backend = r.child("backend");
        let mut o = Props::new();
        match backend.and_then(|b| b.attr("model")).unwrap_or("random") {
            "random" => {
                let file = backend
                    .map(|b| b.text())
                    .filter(|t| !t.trim().is_empty())
                    .unwrap_or_else(|| "/dev/random".into());
                o.s("qom-type", "rng-random")
                    .s("id", &obj)
                    .s("filename", file.trim());
            }
            "egd" => {
                let chr = format!("char{}", alias);
                if let Some(b) = backend {
                    super::chr::chardev(cx, a, b, &chr)?;
                }
                o.s("qom-type", "rng-egd").s("id", &obj).s("chardev", &chr);
            }
            "builtin" => {
                o.s("qom-type", "rng-builtin").s("id", &obj);
            }
            other => {
                return Err(unsupported(format!(
                    "rng backend model '{}' is not supported by this driver",
                    other
                )))
            }
        }
        a.object(&o);
        let mut p = Props::new();
        p.s("driver", &cx.virtio_model("virtio-rng", r.attr("model"), r));
        cx.virtio_options(&mut p, r);
        p.s("rng", &obj).s("id", &alias);
        if let Some(rate) = r.child("rate") {
            let bytes = rate
                .attr("bytes")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            p.p("max-bytes", bytes);
            if bytes > 0 {
                p.u(
                    "period",
                    rate.attr("period")
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(1000),
                );
            }
        }
        cx.address(&mut p, r)?;
        a.device(&p);
    }
    Ok(())
}

/// The vmcoreinfo device for `<features><vmcoreinfo/>`.
pub fn vmcoreinfo(cx: &Ctx, a: &mut Args) {
    if cx
        .feature("vmcoreinfo")
        .is_some_and(|f| f.attr("state") != Some("off"))
    {
        a.push("-device", "{\"driver\":\"vmcoreinfo\"}");
    }
}

/// Panic notifiers (pvpanic on its ISA port).
pub fn panics(cx: &Ctx, a: &mut Args) -> Result<()> {
    for p in cx.devices("panic") {
        if p.attr("model").unwrap_or("isa") != "isa" {
            continue;
        }
        let mut d = Props::new();
        d.s("driver", "pvpanic");
        if let Some(x) = p.child("address").filter(|x| x.attr("type") == Some("isa")) {
            d.u("ioport", num(x, "iobase"));
        }
        a.device(&d);
    }
    Ok(())
}

/// Shared memory (ivshmem-plain and ivshmem-doorbell).
pub fn shmems(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, s) in cx.devices("shmem").iter().enumerate() {
        let alias = cx.aliases.get("shmem", i);
        let model = s
            .child("model")
            .and_then(|m| m.attr("type"))
            .unwrap_or("ivshmem");
        let server = s.child("server");
        let mut p = Props::new();
        if server.is_some() {
            let path = server
                .and_then(|x| x.attr("path"))
                .map(str::to_string)
                .unwrap_or_else(|| {
                    format!(
                        "/var/lib/libvirt/shmem-{}-sock",
                        s.attr("name").unwrap_or("")
                    )
                });
            a.push(
                "-chardev",
                format!("socket,id=char{},path={}", alias, esc(&path)),
            );
            p.s("driver", model)
                .s("id", &alias)
                .s("chardev", &format!("char{}", alias));
        } else {
            let size = s
                .child("size")
                .map(|z| {
                    z.text()
                        .trim()
                        .parse::<u64>()
                        .ok()
                        .and_then(|v| props::scale(v, z.attr("unit"), 1 << 20, u64::MAX).ok())
                        .unwrap_or(4 << 20)
                })
                .unwrap_or(4 << 20);
            let mut o = Props::new();
            o.s("qom-type", "memory-backend-file")
                .s("id", &format!("shmmem-{}", alias))
                .s(
                    "mem-path",
                    &format!("/dev/shm/{}", s.attr("name").unwrap_or("")),
                )
                .u("size", size)
                .b("share", true);
            a.object(&o);
            p.s("driver", model)
                .s("id", &alias)
                .s("memdev", &format!("shmmem-{}", alias));
            match s.attr("role") {
                Some("master") => {
                    p.s("master", "on");
                }
                Some("peer") => {
                    p.s("master", "off");
                }
                _ => {}
            }
        }
        cx.address(&mut p, s)?;
        a.device(&p);
    }
    Ok(())
}

/// The vsock device.
pub fn vsock(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, v) in cx.devices("vsock").iter().enumerate() {
        let mut p = Props::new();
        p.s(
            "driver",
            &cx.virtio_model("vhost-vsock", v.attr("model"), v),
        );
        cx.virtio_options(&mut p, v);
        p.s("id", &cx.aliases.get("vsock", i));
        if let Some(cid) = v
            .child("cid")
            .and_then(|c| c.attr("address"))
            .and_then(|x| x.parse::<u64>().ok())
        {
            p.u("guest-cid", cid);
        }
        p.s("vhostfd", "-1");
        cx.address(&mut p, v)?;
        a.device(&p);
    }
    Ok(())
}
