//! Domain definition → QEMU command line, laid out as libvirt 9.0's
//! qemu_command.c lays it out for QEMU 7.2: the same options in the same
//! order, `-device` and `-object` as JSON with libvirt's device models,
//! ids (aliases) and bus addresses, the memory backends libvirt creates
//! and libvirt's `-blockdev` node graph. A guest sees the same machine
//! as under libvirtd, and a migration between the two daemons finds the
//! same devices.
//!
//! A pure function of the definition (read as libvirt's XML element
//! tree, so it follows the typed model as it grows), the binary's probe
//! and a few facts of the start (QMP socket, VNC port, incoming stream).
//! Each family of devices is a module: `machine` (machine, CPU, memory,
//! NUMA), `controller`, `disk` (blockdev graph and disk devices), `chr`
//! (character devices), `net` (NICs), `devices` (the rest).

mod alias;
mod chr;
mod controller;
mod devices;
mod disk;
mod machine;
mod memory;
pub mod native;
mod net;
mod prepare;
mod props;

use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::Element;
use oxvirt_xml::domain::{Domain, FormatFlags};

use crate::caps::Caps;
use crate::FROM;

pub(crate) use disk::disk_index;
pub use props::Props;

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
    /// The probe of the domain's emulator (default RAM ids, device
    /// availability); without it the values of QEMU 7.2 on x86 apply.
    pub caps: Option<Caps>,
    /// The command line is only printed (domxml-to-native): the host is
    /// not looked at (host CD-ROM drives).
    pub pretend: bool,
    /// The tap descriptors of each `<interface>` (nic.rs), by index.
    pub nics: Vec<Option<crate::nic::NicFds>>,
    /// Where unix channels without a path get their socket
    /// (`.../channel/target/domain-ID-NAME`); by default beside the
    /// monitor socket.
    pub channel_dir: Option<String>,
    /// `<disk type='volume'>` sources as the storage driver resolved
    /// them at start, by (pool, volume).
    pub volumes: Vec<((String, String), oxvirt_core::host::ResolvedVolume)>,
}

pub(crate) fn unsupported(msg: impl Into<String>) -> Error {
    Error::unsupported_config(FROM, msg)
}

pub(crate) fn internal(msg: impl Into<String>) -> Error {
    Error::internal(FROM, msg)
}

/// QEMU's option syntax escapes commas by doubling them.
pub(crate) fn esc(s: &str) -> String {
    s.replace(',', ",,")
}

/// What every part of the builder reads.
pub(crate) struct Ctx<'a> {
    pub def: &'a Domain,
    /// The definition as libvirt writes it (live form).
    pub root: Element,
    pub caps: Option<&'a Caps>,
    pub start: &'a CommandContext,
    pub aliases: alias::Aliases,
    /// The guest's initial memory in KiB, aligned (prepare.rs).
    pub mem_initial: u64,
    /// `-mem-prealloc` is on the command line: backends leave
    /// preallocation to it.
    pub mem_prealloc: std::cell::Cell<bool>,
}

impl Ctx<'_> {
    pub fn devices<'s>(&'s self, name: &str) -> Vec<&'s Element> {
        self.root
            .child("devices")
            .map(|d| d.elements().filter(|c| c.name == name).collect())
            .unwrap_or_default()
    }

    pub fn machine(&self) -> &str {
        self.def.os.machine.as_deref().unwrap_or("pc")
    }

    pub fn is_q35(&self) -> bool {
        let m = self.machine();
        m == "q35" || m.starts_with("pc-q35-")
    }

    pub fn is_i440fx(&self) -> bool {
        let m = self.machine();
        m == "pc"
            || m.starts_with("pc-0.")
            || m.starts_with("pc-1.")
            || m.starts_with("pc-i440fx-")
            || m.starts_with("rhel")
    }

    /// The binary offers QOM type `t` (true without a probe).
    pub fn has(&self, t: &str) -> bool {
        self.caps.is_none_or(|c| c.has_type(t))
    }

    /// A file in the domain's private directory (sockets libvirt puts
    /// in `domain-ID-NAME/`): beside the monitor socket, named after the
    /// domain when that directory is shared.
    pub fn private_path(&self, file: &str) -> String {
        let dir = self
            .start
            .qmp_path
            .rsplit_once('/')
            .map(|(d, _)| d)
            .unwrap_or(".");
        if self.start.pretend {
            format!("{}/{}", dir, file)
        } else {
            format!("{}/{}-{}", dir, self.def.name, file)
        }
    }

    pub fn feature(&self, name: &str) -> Option<&Element> {
        self.root.child("features").and_then(|f| f.child(name))
    }
}

/// A device alias and the frontend properties `<qemu:override>` sets
/// (`None`: removes).
pub(crate) type Override = (String, Vec<(String, Option<serde_json::Value>)>);

/// The arguments built so far, and the `<qemu:override>` device
/// properties `-device` applies.
#[derive(Default)]
pub(crate) struct Args(pub Vec<String>, Vec<Override>);

impl Args {
    pub fn push(&mut self, opt: &str, val: impl Into<String>) {
        self.0.push(opt.to_string());
        self.0.push(val.into());
    }

    pub fn flag(&mut self, opt: &str) {
        self.0.push(opt.to_string());
    }

    pub fn device(&mut self, p: &Props) {
        let alias = p.get("id").and_then(|v| v.as_str()).map(str::to_string);
        let over = alias.and_then(|a| self.1.iter().find(|(x, _)| *x == a));
        match over {
            Some((_, props)) => {
                // qemuBuildDeviceCommandlineHandleOverrides
                let mut p = p.clone();
                for (name, value) in props {
                    p.remove(name);
                    if let Some(v) = value {
                        p.set(name, v.clone());
                    }
                }
                let j = p.to_json();
                self.push("-device", j);
            }
            None => self.push("-device", p.to_json()),
        }
    }

    pub fn object(&mut self, p: &Props) {
        self.push("-object", p.to_json());
    }

    pub fn blockdev(&mut self, p: &Props) {
        self.push("-blockdev", p.to_json());
    }
}

/// The device alias (QEMU id) of each `<disk>` of `def`, in document
/// order, as the command line names them (qemuAssignDeviceDiskAlias).
pub fn disk_aliases(def: &Domain) -> Vec<String> {
    let xml = def.format(FormatFlags {
        secure: true,
        ..Default::default()
    });
    let Ok(root) = oxvirt_xml::dom::parse(&xml, "domain") else {
        return Vec::new();
    };
    let aliases = alias::Aliases::assign(&root, def);
    // A live definition keeps the aliases its QEMU was given (libvirt's,
    // for a guest adopted from libvirtd): those name the devices.
    let live: Vec<Option<String>> = root
        .child("devices")
        .map(|d| {
            d.children_named("disk")
                .map(|el| {
                    el.child("alias")
                        .and_then(|a| a.attr("name"))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    (0..def.devices.disks.len())
        .map(|i| {
            live.get(i)
                .cloned()
                .flatten()
                .unwrap_or_else(|| aliases.get("disk", i))
        })
        .collect()
}

/// Builds QEMU's argv (program first) for `def`.
pub fn build(def: &Domain, start: &CommandContext) -> Result<Vec<String>> {
    let xml = def.format(FormatFlags {
        secure: true,
        ..Default::default()
    });
    let mut root = oxvirt_xml::dom::parse(&xml, "domain")
        .map_err(|e| internal(format!("cannot re-read definition: {}", e)))?;
    let arch = def.os.arch.as_deref().unwrap_or("x86_64");
    let mem_initial = prepare::align_memory(&mut root, def.memory, arch);
    prepare::disk_volumes(&mut root, &start.volumes)?;
    prepare::disk_cache_modes(&mut root);
    prepare::render_nodes(&mut root)?;
    prepare::firmware(&root)?;
    prepare::vhost_user_gpus(&root)?;
    let aliases = alias::Aliases::assign(&root, def);
    let cx = Ctx {
        def,
        root,
        caps: start.caps.as_ref(),
        start,
        aliases,
        mem_initial,
        mem_prealloc: std::cell::Cell::new(false),
    };
    let mut a = Args(Vec::new(), overrides(&cx.root));
    let emulator = def
        .devices
        .emulator
        .clone()
        .unwrap_or_else(|| crate::caps::DEFAULT_EMULATOR.to_string());
    a.flag(&emulator);
    a.push(
        "-name",
        format!("guest={},debug-threads=on", esc(&def.name)),
    );
    compat(&cx, &mut a);
    a.flag("-S");
    if let Some(home) = start
        .pretend
        .then(|| start.qmp_path.rsplit_once('/'))
        .flatten()
    {
        // libvirt's master key for secrets handed to QEMU; the driver
        // hands none, so only the printed command line names it.
        let mut p = Props::new();
        p.s("qom-type", "secret")
            .s("id", "masterKey0")
            .s("format", "raw")
            .s("file", &format!("{}/master-key.aes", home.0));
        a.object(&p);
    }
    disk::managed_pr(&cx, &mut a);
    disk::pflash(&cx, &mut a)?;
    machine::machine(&cx, &mut a)?;
    machine::accel(&cx, &mut a)?;
    machine::tseg(&cx, &mut a);
    machine::cpu(&cx, &mut a)?;
    memory::memory(&cx, &mut a)?;
    machine::smp(&cx, &mut a)?;
    machine::iothreads(&cx, &mut a);
    memory::numa(&cx, &mut a)?;
    machine::uuid(&cx, &mut a);
    devices::vmgenid(&cx, &mut a);
    devices::display(&cx, &mut a);
    a.flag("-no-user-config");
    a.flag("-nodefaults");
    chr::monitor(&cx, &mut a);
    machine::clock(&cx, &mut a);
    a.flag("-no-shutdown");
    machine::pm(&cx, &mut a);
    machine::boot(&cx, &mut a);
    devices::iommu(&cx, &mut a)?;
    controller::global(&cx, &mut a);
    controller::controllers(&cx, &mut a)?;
    memory::memory_devices(&cx, &mut a)?;
    devices::hubs(&cx, &mut a)?;
    controller::ccid(&cx, &mut a)?;
    disk::disks(&cx, &mut a)?;
    devices::filesystems(&cx, &mut a)?;
    net::nets(&cx, &mut a)?;
    devices::smartcards(&cx, &mut a)?;
    chr::serials(&cx, &mut a)?;
    chr::parallels(&cx, &mut a)?;
    chr::channels(&cx, &mut a)?;
    chr::consoles(&cx, &mut a)?;
    devices::tpms(&cx, &mut a)?;
    devices::inputs(&cx, &mut a)?;
    devices::audio(&cx, &mut a)?;
    devices::graphics(&cx, &mut a)?;
    devices::videos(&cx, &mut a)?;
    devices::sounds(&cx, &mut a)?;
    devices::watchdog(&cx, &mut a)?;
    devices::redirdevs(&cx, &mut a)?;
    devices::hostdevs(&cx, &mut a)?;
    if let Some(inc) = &start.incoming {
        a.push("-incoming", inc.clone());
    }
    devices::memballoon(&cx, &mut a)?;
    devices::rngs(&cx, &mut a)?;
    devices::vmcoreinfo(&cx, &mut a);
    passthrough(&cx, &mut a);
    // The seccomp filter libvirt enables by default (seccomp_sandbox).
    a.push(
        "-sandbox",
        "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
    );
    devices::panics(&cx, &mut a)?;
    devices::shmems(&cx, &mut a)?;
    devices::vsock(&cx, &mut a)?;
    a.push("-msg", "timestamp=on");
    Ok(a.0)
}

/// The `qemu:` namespace element `name`.
fn qemu_ns<'a>(root: &'a Element, name: &str) -> Option<&'a Element> {
    root.elements()
        .find(|e| e.local_name() == name && e.name.contains(':'))
}

/// `<qemu:override>`'s frontend properties per device alias.
fn overrides(root: &Element) -> Vec<Override> {
    let Some(o) = qemu_ns(root, "override") else {
        return Vec::new();
    };
    o.elements()
        .filter(|d| d.local_name() == "device")
        .filter_map(|d| {
            let alias = d.attr("alias")?.to_string();
            let props = d
                .elements()
                .filter(|f| f.local_name() == "frontend")
                .flat_map(|f| f.elements().filter(|p| p.local_name() == "property"))
                .filter_map(|p| {
                    let name = p.attr("name")?.to_string();
                    let v = p.attr("value").unwrap_or("");
                    let value = match p.attr("type").unwrap_or("string") {
                        "remove" => None,
                        "signed" => Some(serde_json::Value::from(v.parse::<i64>().ok()?)),
                        "unsigned" => Some(serde_json::Value::from(v.parse::<u64>().ok()?)),
                        "bool" => Some(serde_json::Value::Bool(v == "true")),
                        _ => Some(serde_json::Value::String(v.to_string())),
                    };
                    Some((name, value))
                })
                .collect();
            Some((alias, props))
        })
        .collect()
}

/// `-compat` for `<qemu:deprecation behavior>` (qemu.conf's default is
/// none).
fn compat(cx: &Ctx, a: &mut Args) {
    let Some(b) = qemu_ns(&cx.root, "deprecation").and_then(|d| d.attr("behavior")) else {
        return;
    };
    let input = match b {
        "none" => return,
        "reject" => Some("reject"),
        "crash" => Some("crash"),
        _ => None,
    };
    let mut p = Props::new();
    p.s("deprecated-output", "hide")
        .os("deprecated-input", input);
    a.push("-compat", p.to_json());
}

/// `<qemu:commandline>`: arguments and environment passed through as
/// written (the environment is the caller's business).
fn passthrough(cx: &Ctx, a: &mut Args) {
    let Some(cl) = qemu_ns(&cx.root, "commandline") else {
        return;
    };
    for arg in cl.elements().filter(|e| e.local_name() == "arg") {
        if let Some(v) = arg.attr("value") {
            a.flag(v);
        }
    }
}

fn num(a: &Element, k: &str) -> u64 {
    a.attr(k)
        .and_then(oxvirt_xml::props::parse_u64_any_base)
        .unwrap_or(0)
}

impl Ctx<'_> {
    /// The alias of the controller of `ctype` at `index`.
    pub fn controller_alias(&self, ctype: &str, index: u64) -> Option<String> {
        self.devices("controller")
            .iter()
            .enumerate()
            .find(|(_, c)| c.attr("type").unwrap_or("ide") == ctype && num(c, "index") == index)
            .map(|(i, _)| self.aliases.get("controller", i))
    }

    /// The controller element of `ctype` at `index`.
    pub fn controller(&self, ctype: &str, index: u64) -> Option<&Element> {
        self.devices("controller")
            .into_iter()
            .find(|c| c.attr("type").unwrap_or("ide") == ctype && num(c, "index") == index)
    }

    /// A device's bus address as QEMU properties
    /// (qemuBuildDeviceAddressProps): PCI bus and slot, USB port,
    /// virtio-serial port, ISA port, DIMM slot.
    pub fn address(&self, p: &mut Props, el: &Element) -> Result<()> {
        let Some(a) = el.child("address") else {
            return Ok(());
        };
        match a.attr("type") {
            Some("pci") => {
                let bus = num(a, "bus");
                let Some(alias) = self.controller("pci", bus).map(|c| {
                    if c.attr("model") == Some("pcie-root") {
                        format!("pcie.{}", bus)
                    } else if c.attr("model") == Some("pci-root") {
                        format!("pci.{}", bus)
                    } else {
                        self.controller_alias("pci", bus)
                            .unwrap_or_else(|| format!("pci.{}", bus))
                    }
                }) else {
                    return Err(internal(format!(
                        "Could not find PCI controller with index '{}' required for device at address '{:04x}:{:02x}:{:02x}.{:x}'",
                        bus,
                        num(a, "domain"),
                        bus,
                        num(a, "slot"),
                        num(a, "function")
                    )));
                };
                let (slot, func) = (num(a, "slot"), num(a, "function"));
                let addr = if func != 0 {
                    format!("0x{:x}.0x{:x}", slot, func)
                } else {
                    format!("0x{:x}", slot)
                };
                p.s("bus", &alias);
                p.t("multifunction", a.attr("multifunction"));
                p.s("addr", &addr);
                if let Some(i) = el.child("acpi").and_then(|x| x.attr("index")) {
                    if let Ok(v) = i.parse::<u64>() {
                        p.p("acpi-index", v);
                    }
                }
            }
            Some("usb") => {
                let bus = num(a, "bus");
                let alias = self
                    .controller_alias("usb", bus)
                    .ok_or_else(|| internal(format!("missing USB controller {}", bus)))?;
                p.s("bus", &format!("{}.0", alias));
                if let Some(port) = a.attr("port").filter(|p| !p.is_empty()) {
                    p.s("port", port);
                }
            }
            Some("virtio-serial") => {
                let c = num(a, "controller");
                let alias = self
                    .controller_alias("virtio-serial", c)
                    .unwrap_or_else(|| format!("virtio-serial{}", c));
                p.s("bus", &format!("{}.{}", alias, num(a, "bus")));
                p.u("nr", num(a, "port"));
            }
            Some("isa") => {
                p.u("iobase", num(a, "iobase"));
                p.p("irq", num(a, "irq"));
            }
            Some("dimm") => {
                p.u("slot", num(a, "slot"));
                p.p("addr", num(a, "base"));
            }
            Some("spapr-vio") => {
                p.p("reg", num(a, "reg"));
            }
            _ => {}
        }
        Ok(())
    }

    /// A PCI device's option ROM (qemuBuildRomProps).
    pub fn rom(&self, p: &mut Props, el: &Element) -> Result<()> {
        let Some(rom) = el.child("rom") else {
            return Ok(());
        };
        let on_pci = el.child("address").and_then(|a| a.attr("type")) == Some("pci");
        if !on_pci {
            return Err(unsupported("ROM tuning is only supported for PCI devices"));
        }
        if rom.attr("enabled") == Some("no") {
            p.s("romfile", "");
            return Ok(());
        }
        match rom.attr("bar") {
            Some("on") => {
                p.u("rombar", 1);
            }
            Some("off") => {
                p.u("rombar", 0);
            }
            _ => {}
        }
        p.os("romfile", rom.attr("file"));
        Ok(())
    }

    /// A device's `<driver>` virtio options (iommu_platform, ats, packed,
    /// page-per-vq).
    pub fn virtio_options(&self, p: &mut Props, el: &Element) {
        let d = el.child("driver");
        let a = |k: &str| d.and_then(|d| d.attr(k));
        p.t("iommu_platform", a("iommu"));
        p.t("ats", a("ats"));
        p.t("packed", a("packed"));
        p.t("page-per-vq", a("page_per_vq"));
    }

    /// The QEMU device of a virtio model on PCI: `base-pci`,
    /// `-transitional`, `-non-transitional` (qemuBuildVirtioDevGetConfig).
    pub fn virtio_model(&self, base: &str, model: Option<&str>, el: &Element) -> String {
        let on_pci = el
            .child("address")
            .and_then(|a| a.attr("type"))
            .is_none_or(|t| t == "pci");
        let mut s = base.to_string();
        if on_pci {
            s.push_str("-pci");
        }
        match model {
            Some("virtio-transitional") => s.push_str("-transitional"),
            Some("virtio-non-transitional") => s.push_str("-non-transitional"),
            _ => {}
        }
        s
    }
}
