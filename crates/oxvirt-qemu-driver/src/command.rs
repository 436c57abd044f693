//! Domain XML → QEMU command line.
//!
//! A pure function of the definition and a few facts decided by the
//! caller (QMP socket, accelerator, VNC port, incoming migration), so it
//! is tested against golden files (`tests/data/*.xml` → `*.args`). It
//! reads the canonical XML of the definition as an element tree, so it
//! keeps working while the typed model grows.

use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::Element;
use oxvirt_xml::domain::{Domain, FormatFlags, VirtType};
use oxvirt_xml::props::XmlEnum;
use serde_json::{json, Value};

use crate::FROM;

/// Facts the command line depends on beyond the definition.
#[derive(Debug, Clone, Default)]
pub struct CommandContext {
    /// The QMP listening socket: an inherited descriptor or a path.
    pub qmp_fd: Option<i32>,
    pub qmp_path: String,
    /// The VNC port chosen for `autoport='yes'` graphics.
    pub vnc_port: Option<u16>,
    /// `-incoming` argument (`defer`, `fd:N`).
    pub incoming: Option<String>,
    /// The tap descriptors of each `<interface>` (nic.rs), by index.
    pub nics: Vec<Option<crate::nic::NicFds>>,
}

fn unsupported(msg: impl Into<String>) -> Error {
    Error::unsupported_config(FROM, msg)
}

/// QEMU's option syntax escapes commas by doubling them.
fn esc(s: &str) -> String {
    s.replace(',', ",,")
}

fn attr<'a>(el: &'a Element, name: &str) -> Option<&'a str> {
    el.attr(name)
}

fn child_attr<'a>(el: &'a Element, child: &str, name: &str) -> Option<&'a str> {
    el.child(child).and_then(|c| c.attr(name))
}

/// One disk as the command line sees it.
struct DiskInfo<'a> {
    el: &'a Element,
    device: &'a str,
    bus: String,
    dev: String,
}

/// Index of a target like `vdb`/`hdc`/`sda` (`a`=0, `z`=25, `aa`=26).
pub(crate) fn disk_index(dev: &str) -> Option<u32> {
    let tail = ["xvd", "vd", "hd", "sd", "fd", "ubd"]
        .iter()
        .find_map(|p| dev.strip_prefix(p))?;
    if tail.is_empty() {
        return None;
    }
    let mut idx: u32 = 0;
    for c in tail.chars() {
        if !c.is_ascii_lowercase() {
            return None;
        }
        idx = idx
            .checked_mul(26)?
            .checked_add(c as u32 - 'a' as u32 + 1)?;
    }
    idx.checked_sub(1)
}

/// Builds QEMU's argv (program first) for `def`.
pub fn build(def: &Domain, ctx: &CommandContext) -> Result<Vec<String>> {
    let xml = def.format(FormatFlags::default());
    let root = oxvirt_xml::dom::parse(&xml, "domain")
        .map_err(|e| Error::internal(FROM, format!("cannot re-read definition: {}", e)))?;
    let devices = root.child("devices");
    let devs = |name: &'static str| -> Vec<&Element> {
        devices
            .map(|d| d.children_named(name).collect())
            .unwrap_or_default()
    };
    let mut a: Vec<String> = Vec::new();
    let push = |a: &mut Vec<String>, k: &str, v: String| {
        a.push(k.to_string());
        a.push(v);
    };

    let emulator = def
        .devices
        .emulator
        .clone()
        .unwrap_or_else(|| crate::caps::DEFAULT_EMULATOR.to_string());
    a.push(emulator);
    push(
        &mut a,
        "-name",
        format!("guest={},debug-threads=on", esc(&def.name)),
    );
    a.push("-S".into());

    // Machine and accelerator.
    let machine = def.os.machine.clone().unwrap_or_else(|| "pc".into());
    let q35 = machine.contains("q35");
    let mut m = format!("{},usb=off", esc(&machine));
    if def.dump_core != Some(true) {
        m.push_str(",dump-guest-core=off");
    }
    push(&mut a, "-machine", m);
    let accel = match def.virt_type {
        VirtType::Kvm => "kvm",
        VirtType::Qemu => "tcg",
        other => {
            return Err(unsupported(format!(
                "Emulator '{}' does not support virt type '{}'",
                a[0],
                other.to_xml()
            )))
        }
    };
    push(&mut a, "-accel", accel.into());

    // CPU model.
    if let Some(cpu) = root.child("cpu") {
        let mode = attr(cpu, "mode").unwrap_or("custom");
        let mut model = match mode {
            "host-passthrough" | "maximum" => Some(if accel == "kvm" && mode != "maximum" {
                "host".to_string()
            } else {
                "max".to_string()
            }),
            "host-model" => Some(if accel == "kvm" { "host" } else { "max" }.to_string()),
            _ => cpu.child("model").map(|m| m.text()),
        };
        let mut feats = Vec::new();
        for f in cpu.children_named("feature") {
            let Some(name) = attr(f, "name") else {
                continue;
            };
            match attr(f, "policy").unwrap_or("require") {
                "require" | "force" => feats.push(format!("{}=on", name)),
                "disable" | "forbid" => feats.push(format!("{}=off", name)),
                _ => {}
            }
        }
        if model.is_none() && !feats.is_empty() {
            model = Some("qemu64".to_string());
        }
        if let Some(mut model) = model {
            for f in feats {
                model.push(',');
                model.push_str(&f);
            }
            push(&mut a, "-cpu", model);
        }
    }

    // Memory and vCPUs.
    push(&mut a, "-m", format!("size={}k", def.memory));
    push(&mut a, "-overcommit", "mem-lock=off".into());
    let maxv = def.vcpu.max.max(1);
    let cur = def.vcpu.current.clamp(1, maxv);
    let topo = root.child("cpu").and_then(|c| c.child("topology"));
    let num = |n: &str, d: u32| -> Result<u32> {
        match topo.and_then(|t| t.attr(n)) {
            None => Ok(d),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| unsupported(format!("Invalid CPU topology {}='{}'", n, v))),
        }
    };
    let (sockets, dies, cores, threads) = if topo.is_some() {
        (
            num("sockets", 1)?,
            num("dies", 1)?,
            num("cores", 1)?,
            num("threads", 1)?,
        )
    } else {
        (maxv, 1, 1, 1)
    };
    if u64::from(sockets) * u64::from(dies) * u64::from(cores) * u64::from(threads)
        != u64::from(maxv)
    {
        return Err(unsupported("CPU topology doesn't match maximum vcpu count"));
    }
    let mut smp = format!("{}", cur);
    if cur != maxv {
        smp.push_str(&format!(",maxcpus={}", maxv));
    }
    smp.push_str(&format!(",sockets={}", sockets));
    if dies != 1 {
        smp.push_str(&format!(",dies={}", dies));
    }
    smp.push_str(&format!(",cores={},threads={}", cores, threads));
    push(&mut a, "-smp", smp);
    push(&mut a, "-uuid", def.uuid.to_string());

    // Graphics or none.
    let graphics = devs("graphics");
    if graphics.is_empty() {
        push(&mut a, "-display", "none".into());
    }
    a.push("-no-user-config".into());
    a.push("-nodefaults".into());

    // Monitor.
    let chardev = match ctx.qmp_fd {
        Some(fd) => format!("socket,id=charmonitor,fd={},server=on,wait=off", fd),
        None => format!(
            "socket,id=charmonitor,path={},server=on,wait=off",
            esc(&ctx.qmp_path)
        ),
    };
    push(&mut a, "-chardev", chardev);
    push(
        &mut a,
        "-mon",
        "chardev=charmonitor,id=monitor,mode=control".into(),
    );

    // Clock.
    let offset = root
        .child("clock")
        .and_then(|c| c.attr("offset"))
        .unwrap_or("utc");
    let rtc = match offset {
        "localtime" => "base=localtime",
        _ => "base=utc",
    };
    push(&mut a, "-rtc", rtc.into());

    a.push("-no-shutdown".into());
    let acpi = root
        .child("features")
        .is_some_and(|f| f.child("acpi").is_some());
    if !acpi {
        a.push("-no-acpi".into());
    }
    push(&mut a, "-boot", "strict=on".into());

    // Direct kernel boot.
    if let Some(k) = &def.os.kernel {
        push(&mut a, "-kernel", k.clone());
    }
    if let Some(i) = &def.os.initrd {
        push(&mut a, "-initrd", i.clone());
    }
    if let Some(c) = &def.os.cmdline {
        push(&mut a, "-append", c.clone());
    }
    if let Some(d) = &def.os.dtb {
        push(&mut a, "-dtb", d.clone());
    }

    // Boot order: per-device <boot order>, else <os><boot dev> converted
    // to per-device boot indexes.
    let disks_el = devs("disk");
    let nets_el = devs("interface");
    let per_device = disks_el
        .iter()
        .chain(nets_el.iter())
        .any(|d| d.child("boot").is_some());
    let mut disk_boot: Vec<Option<u32>> = disks_el
        .iter()
        .map(|d| child_attr(d, "boot", "order").and_then(|o| o.parse().ok()))
        .collect();
    let mut net_boot: Vec<Option<u32>> = nets_el
        .iter()
        .map(|d| child_attr(d, "boot", "order").and_then(|o| o.parse().ok()))
        .collect();
    if !per_device {
        let mut next = 1;
        for b in &def.os.boot {
            let want = b.to_xml();
            let slot = match want {
                "network" => net_boot.iter_mut().find(|s| s.is_none()),
                _ => disks_el
                    .iter()
                    .zip(disk_boot.iter_mut())
                    .find(|(d, s)| {
                        let dev = attr(d, "device").unwrap_or("disk");
                        s.is_none()
                            && match want {
                                "hd" => dev == "disk",
                                "cdrom" => dev == "cdrom",
                                "fd" => dev == "floppy",
                                _ => false,
                            }
                    })
                    .map(|(_, s)| s),
            };
            if let Some(s) = slot {
                *s = Some(next);
                next += 1;
            }
        }
    }

    // Controllers needed by devices.
    let mut disks: Vec<DiskInfo> = Vec::new();
    for d in &disks_el {
        let device = attr(d, "device").unwrap_or("disk");
        let dev = child_attr(d, "target", "dev").unwrap_or("").to_string();
        let bus = child_attr(d, "target", "bus")
            .map(str::to_string)
            .unwrap_or_else(|| {
                if dev.starts_with("vd") {
                    "virtio".into()
                } else if dev.starts_with("sd") {
                    "scsi".into()
                } else if dev.starts_with("fd") {
                    "fdc".into()
                } else {
                    "ide".into()
                }
            });
        disks.push(DiskInfo {
            el: d,
            device,
            bus,
            dev,
        });
    }
    let usb_inputs = devs("input").iter().any(|i| attr(i, "bus") == Some("usb"));
    let usb_none = devs("controller")
        .iter()
        .any(|c| attr(c, "type") == Some("usb") && attr(c, "model") == Some("none"));
    if usb_inputs && !usb_none {
        push(&mut a, "-device", "qemu-xhci,id=usb".into());
    }
    if disks.iter().any(|d| d.bus == "scsi") {
        push(&mut a, "-device", "virtio-scsi-pci,id=scsi0".into());
    }

    // Disks: numbered like libvirt, the last disk is libvirt-1.
    let n = disks.len();
    for (i, d) in disks.iter().enumerate() {
        let node = n - i;
        let src = d.el.child("source").and_then(|s| {
            ["file", "dev"]
                .iter()
                .find_map(|k| s.attr(k))
                .map(str::to_string)
        });
        let dtype = attr(d.el, "type").unwrap_or("file");
        let fmt = child_attr(d.el, "driver", "type").unwrap_or("raw");
        let readonly = d.el.child("readonly").is_some() || d.device == "cdrom";
        let cache = child_attr(d.el, "driver", "cache");
        let format_node = format!("libvirt-{}-format", node);
        let mut have_drive = false;
        if let Some(path) = &src {
            let driver = match (dtype, d.device) {
                ("file", _) => "file",
                ("block", "cdrom") => "host_cdrom",
                ("block", _) => "host_device",
                (t, _) => {
                    return Err(unsupported(format!(
                        "disk type '{}' is not supported by this driver",
                        t
                    )))
                }
            };
            if !matches!(fmt, "raw" | "qcow2") {
                return Err(unsupported(format!(
                    "unsupported disk format '{}' for disk '{}'",
                    fmt, d.dev
                )));
            }
            let mut storage = json!({
                "driver": driver,
                "filename": path,
                "node-name": format!("libvirt-{}-storage", node),
                "auto-read-only": true,
                "discard": "unmap",
            });
            if let Some(c) = cache {
                if let Value::Object(o) = &mut storage {
                    let (direct, no_flush) = match c {
                        "none" => (true, false),
                        "directsync" => (true, false),
                        "unsafe" => (false, true),
                        _ => (false, false),
                    };
                    o.insert(
                        "cache".into(),
                        json!({"direct": direct, "no-flush": no_flush}),
                    );
                }
            }
            push(&mut a, "-blockdev", storage.to_string());
            let format = json!({
                "node-name": format_node,
                "read-only": readonly,
                "driver": fmt,
                "file": format!("libvirt-{}-storage", node),
            });
            push(&mut a, "-blockdev", format.to_string());
            have_drive = true;
        }
        let idx = disk_index(&d.dev).unwrap_or(i as u32);
        let mut dev = match (d.bus.as_str(), d.device) {
            ("virtio", "disk") => format!("virtio-blk-pci,id=virtio-disk{}", idx),
            ("virtio", _) => {
                return Err(unsupported(format!(
                    "disk device '{}' is not supported on bus 'virtio'",
                    d.device
                )))
            }
            ("ide", dev) | ("sata", dev) => {
                if q35 && d.bus == "ide" {
                    return Err(unsupported(
                        "IDE controllers are unsupported for this QEMU binary or machine type",
                    ));
                }
                let model = if dev == "cdrom" { "ide-cd" } else { "ide-hd" };
                let (bus, unit) = if q35 || d.bus == "sata" {
                    (idx, None)
                } else {
                    (idx / 2, Some(idx % 2))
                };
                let mut s = format!("{},bus=ide.{}", model, bus);
                if let Some(u) = unit {
                    s.push_str(&format!(",unit={}", u));
                }
                match unit {
                    Some(u) => s.push_str(&format!(",id=ide0-{}-{}", bus, u)),
                    None => s.push_str(&format!(",id=sata0-0-{}", idx)),
                }
                s
            }
            ("scsi", dev) => {
                let model = if dev == "cdrom" { "scsi-cd" } else { "scsi-hd" };
                format!(
                    "{},bus=scsi0.0,channel=0,scsi-id=0,lun={},id=scsi0-0-0-{}",
                    model, idx, idx
                )
            }
            (b, _) => {
                return Err(unsupported(format!(
                    "disk bus '{}' is not supported by this driver",
                    b
                )))
            }
        };
        if have_drive {
            dev.push_str(&format!(",drive={}", format_node));
        }
        if let Some(b) = disk_boot[i] {
            dev.push_str(&format!(",bootindex={}", b));
        }
        push(&mut a, "-device", dev);
    }

    // Network interfaces (nic.rs).
    for (i, n) in nets_el.iter().enumerate() {
        let kind = attr(n, "type").unwrap_or("user");
        let fds = ctx.nics.get(i).and_then(|f| f.as_ref());
        push(&mut a, "-netdev", crate::nic::netdev(kind, i, fds)?);
        push(&mut a, "-device", crate::nic::device(n, i, net_boot[i]));
    }

    // Serial ports and consoles on pty (or file).
    let serials = devs("serial");
    let consoles = devs("console");
    let serial_chardev = |a: &mut Vec<String>, el: &Element, id: String| -> Result<()> {
        let kind = attr(el, "type").unwrap_or("pty");
        let backend = match kind {
            "pty" => format!("pty,id=char{}", id),
            "file" => {
                let p = child_attr(el, "source", "path")
                    .ok_or_else(|| unsupported("file serial without a source path"))?;
                format!("file,id=char{},path={}", id, esc(p))
            }
            "null" => format!("null,id=char{}", id),
            other => {
                return Err(unsupported(format!(
                    "Unsupported character device type '{}'",
                    other
                )))
            }
        };
        a.push("-chardev".into());
        a.push(backend);
        Ok(())
    };
    for (i, s) in serials.iter().enumerate() {
        serial_chardev(&mut a, s, format!("serial{}", i))?;
        push(
            &mut a,
            "-device",
            format!(
                "isa-serial,chardev=charserial{},id=serial{},index={}",
                i, i, i
            ),
        );
    }
    if serials.is_empty() {
        // A serial console with no <serial> gets one (libvirt adds it).
        if let Some(c) = consoles
            .iter()
            .find(|c| child_attr(c, "target", "type").unwrap_or("serial") == "serial")
        {
            serial_chardev(&mut a, c, "serial0".into())?;
            push(
                &mut a,
                "-device",
                "isa-serial,chardev=charserial0,id=serial0,index=0".into(),
            );
        }
    }

    // Inputs (ps2 ones are built into the machine).
    for (i, inp) in devs("input").iter().enumerate() {
        let t = attr(inp, "type").unwrap_or("mouse");
        let bus = attr(inp, "bus").unwrap_or("ps2");
        let dev = match (bus, t) {
            ("ps2", _) => continue,
            ("usb", "tablet") => "usb-tablet,bus=usb.0",
            ("usb", "mouse") => "usb-mouse,bus=usb.0",
            ("usb", "keyboard") => "usb-kbd,bus=usb.0",
            ("virtio", "tablet") => "virtio-tablet-pci",
            ("virtio", "mouse") => "virtio-mouse-pci",
            ("virtio", "keyboard") => "virtio-keyboard-pci",
            (b, t) => {
                return Err(unsupported(format!(
                    "input device '{}' on bus '{}' is not supported",
                    t, b
                )))
            }
        };
        push(&mut a, "-device", format!("{},id=input{}", dev, i));
    }

    // Graphics.
    for g in &graphics {
        match attr(g, "type") {
            Some("vnc") => {
                let listen = attr(g, "listen")
                    .or_else(|| child_attr(g, "listen", "address"))
                    .unwrap_or("127.0.0.1");
                let port = match attr(g, "port").and_then(|p| p.parse::<i32>().ok()) {
                    Some(p) if p >= 5900 && attr(g, "autoport") != Some("yes") => p as u16,
                    _ => ctx.vnc_port.unwrap_or(5900),
                };
                let host = if listen.contains(':') {
                    format!("[{}]", listen)
                } else {
                    listen.to_string()
                };
                push(&mut a, "-vnc", format!("{}:{}", host, port - 5900));
            }
            Some(other) => {
                return Err(unsupported(format!(
                    "graphics type '{}' is not supported by this driver",
                    other
                )))
            }
            None => {}
        }
    }

    // Video.
    let videos = devs("video");
    for (i, v) in videos.iter().enumerate() {
        let model = child_attr(v, "model", "type").unwrap_or("vga");
        let dev = match (model, i) {
            ("none", _) => continue,
            ("vga", 0) => "VGA",
            ("cirrus", 0) => "cirrus-vga",
            ("qxl", 0) => "qxl-vga",
            ("qxl", _) => "qxl",
            ("virtio", 0) => "virtio-vga",
            ("virtio", _) => "virtio-gpu-pci",
            ("bochs", _) => "bochs-display",
            ("ramfb", _) => "ramfb",
            (m, _) => {
                return Err(unsupported(format!(
                    "video type '{}' is not supported by this driver",
                    m
                )))
            }
        };
        push(&mut a, "-device", format!("{},id=video{}", dev, i));
    }
    if videos.is_empty() && !graphics.is_empty() {
        push(&mut a, "-device", "VGA,id=video0".into());
    }

    // Memory balloon.
    for b in devs("memballoon") {
        match attr(b, "model") {
            Some("virtio") => push(&mut a, "-device", "virtio-balloon-pci,id=balloon0".into()),
            Some("none") | None => {}
            Some(m) => {
                return Err(unsupported(format!(
                    "Memory balloon device type '{}' is not supported by this version of qemu",
                    m
                )))
            }
        }
    }

    // RNG.
    for (i, r) in devs("rng").iter().enumerate() {
        let backend = r.child("backend");
        let bmodel = backend.and_then(|b| b.attr("model")).unwrap_or("random");
        if bmodel != "random" {
            return Err(unsupported(format!(
                "rng backend model '{}' is not supported by this driver",
                bmodel
            )));
        }
        let file = backend
            .map(|b| b.text())
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| "/dev/urandom".into());
        let obj = json!({"qom-type": "rng-random", "id": format!("objrng{}", i), "filename": file.trim()});
        push(&mut a, "-object", obj.to_string());
        push(
            &mut a,
            "-device",
            format!("virtio-rng-pci,rng=objrng{},id=rng{}", i, i),
        );
    }

    // Watchdog.
    let mut actions = Vec::new();
    for (i, w) in devs("watchdog").iter().enumerate() {
        let model = attr(w, "model").unwrap_or("i6300esb");
        let dev = match model {
            "i6300esb" => "i6300esb",
            "ib700" => "ib700",
            "itco" => "",
            m => {
                return Err(unsupported(format!(
                    "watchdog model '{}' is not supported by this driver",
                    m
                )))
            }
        };
        if !dev.is_empty() {
            push(&mut a, "-device", format!("{},id=watchdog{}", dev, i));
        }
        let act = match attr(w, "action").unwrap_or("reset") {
            "reset" => "reset",
            "shutdown" => "shutdown",
            "poweroff" => "poweroff",
            "pause" => "pause",
            "none" => "none",
            "inject-nmi" => "inject-nmi",
            "dump" => "pause",
            other => {
                return Err(unsupported(format!("watchdog action '{}'", other)));
            }
        };
        if actions.is_empty() {
            actions.push(format!("watchdog={}", act));
        }
    }
    for a2 in actions {
        push(&mut a, "-action", a2);
    }

    // Panic notifiers.
    for p in devs("panic") {
        match attr(p, "model").unwrap_or("isa") {
            "isa" => {
                let mut s = "pvpanic".to_string();
                if let Some(port) = child_attr(p, "address", "iobase") {
                    s.push_str(&format!(",ioport={}", port));
                }
                push(&mut a, "-device", s);
            }
            "hyperv" => {}
            m => {
                return Err(unsupported(format!(
                    "panic model '{}' is not supported by this driver",
                    m
                )))
            }
        }
    }

    if let Some(inc) = &ctx.incoming {
        push(&mut a, "-incoming", inc.clone());
    }
    push(&mut a, "-msg", "timestamp=on".into());
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::disk_index;

    #[test]
    fn disk_indexes() {
        assert_eq!(disk_index("vda"), Some(0));
        assert_eq!(disk_index("hdc"), Some(2));
        assert_eq!(disk_index("sdaa"), Some(26));
        assert_eq!(disk_index("x"), None);
    }
}
