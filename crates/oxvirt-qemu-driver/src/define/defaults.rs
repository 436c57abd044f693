//! The QEMU driver's domain-level post-parse (qemuDomainDefPostParseBasic
//! and qemuDomainDefPostParse): emulator, machine type, default devices,
//! machine canonicalisation, the default CPU and CPU checks.

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::{Element, Node};
use oxvirt_xml::domain::devices::{Controller, Devices};
use oxvirt_xml::domain::{Domain, Raw, VirtType};

use super::Env;
use crate::host::QemuHost;
use crate::FROM;

fn unsupported(msg: impl Into<String>) -> Error {
    Error::new(code::CONFIG_UNSUPPORTED, FROM, msg)
}

/// x86 guests (ARCH_IS_X86).
pub fn is_x86(def: &Domain) -> bool {
    matches!(def.os.arch.as_deref(), Some("x86_64" | "i686"))
}

fn machine(def: &Domain) -> &str {
    def.os.machine.as_deref().unwrap_or("")
}

/// qemuDomainIsQ35
pub fn is_q35(def: &Domain) -> bool {
    let m = machine(def);
    is_x86(def) && (m == "q35" || m.starts_with("pc-q35-"))
}

/// qemuDomainIsI440FX
pub fn is_i440fx(def: &Domain) -> bool {
    let m = machine(def);
    is_x86(def)
        && (m == "pc"
            || m.starts_with("pc-0.")
            || m.starts_with("pc-1.")
            || m.starts_with("pc-i440fx-")
            || m.starts_with("rhel"))
}

/// The model of the PCI controller at index 0, if any.
pub fn pci_root_model(def: &Domain) -> Option<&str> {
    def.devices
        .controllers
        .iter()
        .find(|c| c.ctype == "pci" && c.index == Some(0))
        .and_then(|c| c.model.as_deref())
}

/// qemuDomainHasPCIeRoot
pub fn has_pcie_root(def: &Domain) -> bool {
    pci_root_model(def) == Some("pcie-root")
}

/// qemuDomainHasPCIRoot
pub fn has_pci_root(def: &Domain) -> bool {
    pci_root_model(def) == Some("pci-root")
}

/// qemuDomainDefPostParseBasic: the emulator a definition without one
/// gets.
pub fn basic(def: &mut Domain, host: &QemuHost) -> Result<()> {
    if def.devices.emulator.is_none() {
        let arch = def
            .os
            .arch
            .clone()
            .unwrap_or_else(|| host.host_arch.clone());
        def.devices.emulator = Some(host.emulator_for(&arch)?);
    }
    Ok(())
}

/// A controller libvirt adds (virDomainDefAddController): appended.
pub fn add_controller(d: &mut Devices, ctype: &str, idx: u32, model: Option<&str>) {
    let mut c = Controller::implicit(ctype, idx);
    c.model = model.map(str::to_string);
    d.controllers.push(c);
}

/// virDomainDefMaybeAddController; true when one was added.
pub fn maybe_add_controller(d: &mut Devices, ctype: &str, idx: u32, model: Option<&str>) -> bool {
    if d.controllers
        .iter()
        .any(|c| c.ctype == ctype && c.index == Some(idx))
    {
        return false;
    }
    add_controller(d, ctype, idx, model);
    true
}

/// The bus of an `<input>` (libvirt's parse-time default when absent).
pub fn input_bus<'a>(def: &Domain, el: &'a Element) -> &'a str {
    if let Some(b) = el.attr("bus") {
        return b;
    }
    let t = el.attr("type").unwrap_or("");
    if def.os.os_type.to_string() == "hvm" {
        if matches!(t, "mouse" | "keyboard") && is_x86(def) {
            "ps2"
        } else if t == "passthrough" || def.os.arch.as_deref().unwrap_or("").starts_with("s390") {
            "virtio"
        } else if t == "evdev" {
            ""
        } else {
            "usb"
        }
    } else {
        ""
    }
}

/// virDomainDefMaybeAddInput
fn maybe_add_input(def: &mut Domain, itype: &str, bus: &str) {
    let exists = def
        .devices
        .raw
        .iter()
        .filter(|r| r.0.name == "input")
        .any(|r| r.0.attr("type") == Some(itype) && input_bus(def, &r.0) == bus);
    if exists {
        return;
    }
    let mut el = Element::new("input");
    el.set_attr("type", itype);
    el.set_attr("bus", bus);
    push_raw(&mut def.devices, el);
}

/// Appends a device kept as an element after the last one of its kind
/// (libvirt appends to the kind's array).
pub fn push_raw(d: &mut Devices, el: Element) {
    let at = d
        .raw
        .iter()
        .rposition(|r| r.0.name == el.name)
        .map(|p| p + 1)
        .unwrap_or(d.raw.len());
    d.raw.insert(at, Raw(el));
}

fn has_usb_controller0(d: &Devices) -> bool {
    d.controllers
        .iter()
        .any(|c| c.ctype == "usb" && c.index == Some(0))
}

/// virDomainDefAddUSBController at index 0.
fn add_usb_controller(d: &mut Devices, model: Option<&str>) {
    add_controller(d, "usb", 0, model);
    if model != Some("ich9-ehci1") {
        return;
    }
    for (m, port) in [("ich9-uhci1", 0), ("ich9-uhci2", 2), ("ich9-uhci3", 4)] {
        let mut c = Controller::implicit("usb", 0);
        c.model = Some(m.to_string());
        c.master = Some(port);
        d.controllers.push(c);
    }
}

/// The audio backend libvirt adds (qemuDomainDefCreateDefaultAudioBackend
/// with qemu.conf's defaults: no host audio for VNC or without
/// graphics, and no QEMU_AUDIO_DRV in the daemon's environment).
fn default_audio(def: &Domain) -> Option<&'static str> {
    let mut add = false;
    let mut backend = "none";
    let mut passthrough = false;
    for g in &def.devices.graphics {
        match g.gtype.as_str() {
            "vnc" => {
                passthrough = false;
                backend = "none";
                add = true;
            }
            "spice" => {
                passthrough = false;
                backend = "spice";
                add = true;
            }
            "sdl" => {
                passthrough = true;
                add = true;
            }
            _ => {}
        }
    }
    if def.devices.graphics.is_empty() {
        passthrough = false;
        backend = "none";
        add = true;
    }
    if add && passthrough {
        // QEMU_AUDIO_DRV is not set for the daemon: no default audio.
        add = false;
    }
    add.then_some(backend)
}

/// qemuDomainDefAddDefaultDevices
fn add_default_devices(def: &mut Domain, env: &Env) -> Result<()> {
    if is_x86(def) {
        maybe_add_input(def, "mouse", "ps2");
        maybe_add_input(def, "keyboard", "ps2");
    }
    let mut add_usb = true;
    let mut usb_model: Option<&str> = None;
    let mut add_sata = false;
    let mut add_pci_root = false;
    let mut add_pcie_root = false;
    let mut add_memballoon = true;
    if is_x86(def) {
        if machine(def) == "isapc" {
            add_usb = false;
        } else if is_q35(def) {
            add_pcie_root = true;
            add_sata = true;
            if env.caps.has_type("qemu-xhci") {
                usb_model = Some("qemu-xhci");
            } else if env.caps.has_type("nec-usb-xhci") {
                usb_model = Some("nec-xhci");
            } else if env.caps.has_type("ich9-usb-ehci1") {
                usb_model = Some("ich9-ehci1");
            } else {
                add_usb = false;
            }
        } else if is_i440fx(def) {
            add_pci_root = true;
        }
    } else {
        // Only x86 binaries are served on this host; other architectures
        // get no default USB or balloon rather than a wrong guess.
        add_usb = false;
        add_memballoon = false;
    }
    if add_usb && !has_usb_controller0(&def.devices) {
        add_usb_controller(&mut def.devices, usb_model);
    }
    if add_sata {
        maybe_add_controller(&mut def.devices, "sata", 0, None);
    }
    let root = pci_root_model(def).map(str::to_string);
    let has_root = def
        .devices
        .controllers
        .iter()
        .any(|c| c.ctype == "pci" && c.index == Some(0));
    for (wanted, model) in [(add_pci_root, "pci-root"), (add_pcie_root, "pcie-root")] {
        if !wanted {
            continue;
        }
        if has_root {
            if root.as_deref() != Some(model) {
                return Err(Error::new(
                    code::XML_ERROR,
                    FROM,
                    format!(
                        "The PCI controller with index='0' must be model='{}' for this machine type, but model='{}' was found instead",
                        model,
                        root.as_deref().unwrap_or("")
                    ),
                ));
            }
        } else {
            add_controller(&mut def.devices, "pci", 0, Some(model));
        }
    }
    if add_memballoon && !def.devices.raw.iter().any(|r| r.0.name == "memballoon") {
        let mut el = Element::new("memballoon");
        el.set_attr("model", "virtio");
        push_raw(&mut def.devices, el);
    }
    if !def.devices.raw.iter().any(|r| r.0.name == "audio") {
        if let Some(t) = default_audio(def) {
            let mut el = Element::new("audio");
            el.set_attr("id", "1");
            el.set_attr("type", t);
            push_raw(&mut def.devices, el);
        }
    }
    Ok(())
}

/// The CPU model QEMU gives `machine` by default, for the default CPU.
fn machine_default_cpu(env: &Env, machine: &str) -> Option<String> {
    let m = env
        .caps
        .machine_info
        .iter()
        .find(|m| m.name == machine || m.alias.as_deref() == Some(machine))?;
    let t = m.default_cpu_type.as_deref()?;
    let qarch = crate::host::qemu_arch(&env.caps.arch);
    let suffix = format!("-{}-cpu", qarch);
    Some(t.strip_suffix(&suffix).unwrap_or(t).to_string())
}

fn cpu_element(def: &Domain) -> Option<&Element> {
    def.sections.raw("cpu")
}

fn set_cpu_element(def: &mut Domain, el: Element) {
    let el = oxvirt_xml::domain::cpu::canonical_cpu(&el);
    match def.sections.raw.iter_mut().find(|e| e.name == "cpu") {
        Some(e) => *e = el,
        None => def.sections.raw.push(el),
    }
}

/// qemuDomainDefSetDefaultCPU
fn set_default_cpu(def: &mut Domain, env: &Env) -> Result<()> {
    if let Some(cpu) = cpu_element(def) {
        let mode = cpu.attr("mode").unwrap_or("custom");
        let has_model = cpu.child("model").is_some_and(|m| !m.text().is_empty());
        if mode != "custom" || has_model {
            return Ok(());
        }
    }
    if !is_x86(def) {
        return Ok(());
    }
    let Some(model) = machine_default_cpu(env, machine(def)) else {
        return Ok(());
    };
    let mut cpu = cpu_element(def)
        .cloned()
        .unwrap_or_else(|| Element::new("cpu"));
    if model == "host" {
        if def.virt_type != VirtType::Kvm {
            return Err(Error::new(
                code::INTERNAL_ERROR,
                FROM,
                "QEMU reports invalid default CPU model \"host\" for non-kvm domain virt type",
            ));
        }
        cpu.set_attr("mode", "host-passthrough");
    } else {
        cpu.set_attr("mode", "custom");
        cpu.set_attr("match", "exact");
        cpu.set_attr("check", "none");
        cpu.children
            .retain(|n| !matches!(n, Node::Element(e) if e.name == "model"));
        let mut m = Element::new("model");
        m.set_attr("fallback", "forbid");
        m.children.push(Node::Text(model));
        cpu.children.insert(0, Node::Element(m));
    }
    set_cpu_element(def, cpu);
    Ok(())
}

/// qemuDomainDefCPUPostParse: the default `check` and `migratable`.
fn cpu_post_parse(def: &mut Domain, _env: &Env) -> Result<()> {
    let Some(cpu) = cpu_element(def).cloned() else {
        return Ok(());
    };
    let mut cpu = cpu;
    let mode = cpu.attr("mode").unwrap_or("custom").to_string();
    let mut changed = false;
    if mode == "host-passthrough" && cpu.attr("migratable").is_none() {
        cpu.set_attr("migratable", "on");
        changed = true;
    }
    let has_model = cpu.child("model").is_some_and(|m| !m.text().is_empty());
    if (mode != "custom" || has_model) && cpu.attr("check").is_none() {
        let check = match mode.as_str() {
            "host-passthrough" | "maximum" => "none",
            "host-model" => "partial",
            _ if def.virt_type == VirtType::Qemu => "none",
            _ => "partial",
        };
        cpu.set_attr("check", check);
        changed = true;
    }
    if changed {
        set_cpu_element(def, cpu);
    }
    Ok(())
}

/// A read-only pflash loader without a variable store gets one under the
/// driver's nvram directory (virDomainDefHasOldStyleROUEFI).
fn default_nvram(def: &mut Domain, env: &Env) {
    let ro_uefi = def.os.extra.children.iter().any(|c| {
        c.name == "loader"
            && c.attr("readonly") == Some("yes")
            && c.attr("type") == Some("pflash")
            && c.attr("stateless") != Some("yes")
    });
    if !ro_uefi {
        return;
    }
    let path = format!("{}/{}_VARS.fd", env.paths.nvram_dir, def.name);
    match def.os.extra.children.iter_mut().find(|c| c.name == "nvram") {
        Some(n) if n.text().trim().is_empty() && n.child("source").is_none() => {
            n.children = vec![Node::Text(path)];
        }
        Some(_) => {}
        None => {
            let mut n = Element::new("nvram");
            n.children.push(Node::Text(path));
            def.os.extra.children.push(n);
        }
    }
}

/// A `<genid/>` without a value gets a random one.
fn genid(def: &mut Domain) {
    if let Some(None) = def.genid {
        def.genid = Some(Some(oxvirt_xml::props::Uuid(
            *uuid::Uuid::new_v4().as_bytes(),
        )));
    }
}

/// qemuDomainDefNumaCPUsRectify: vCPUs no NUMA cell names go to cell 0.
fn numa_cpus(def: &mut Domain) {
    use oxvirt_xml::domain::postparse::{format_cpuset, parse_cpuset};
    let max = def.vcpu.max;
    let Some(cpu) = def.sections.raw.iter_mut().find(|e| e.name == "cpu") else {
        return;
    };
    let Some(Node::Element(numa)) = cpu
        .children
        .iter_mut()
        .find(|n| matches!(n, Node::Element(e) if e.name == "numa"))
    else {
        return;
    };
    let mut cells: Vec<&mut Element> = numa
        .children
        .iter_mut()
        .filter_map(|n| match n {
            Node::Element(e) if e.name == "cell" => Some(e),
            _ => None,
        })
        .collect();
    if cells.is_empty() {
        return;
    }
    let sets: Vec<Vec<u32>> = cells
        .iter()
        .map(|c| {
            c.attr("cpus")
                .and_then(|s| parse_cpuset(s).ok())
                .unwrap_or_default()
        })
        .collect();
    let total: usize = sets.iter().map(|s| s.len()).sum();
    if total >= max as usize {
        return;
    }
    let Some(first) = cells
        .iter()
        .position(|c| c.attr("id").map(|i| i.trim() == "0").unwrap_or(true))
    else {
        return;
    };
    let others: std::collections::BTreeSet<u32> = sets
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != first)
        .flat_map(|(_, s)| s.iter().copied())
        .collect();
    let mut mine: std::collections::BTreeSet<u32> = sets[first].iter().copied().collect();
    for c in 0..max {
        if !others.contains(&c) {
            mine.insert(c);
        }
    }
    let v: Vec<u32> = mine.into_iter().collect();
    cells[first].set_attr("cpus", format_cpuset(&v));
}

/// qemuDomainDefPostParse
pub fn def_post_parse(def: &mut Domain, env: &Env) -> Result<()> {
    genid(def);
    if def.os.bootloader.is_some() || def.os.bootloader_args.is_some() {
        return Err(unsupported("bootloader is not supported by QEMU"));
    }
    if def.os.machine.is_none() {
        let m = env.caps.default_machine();
        if m.is_empty() {
            return Err(Error::new(
                code::INVALID_ARG,
                FROM,
                format!(
                    "could not get preferred machine for {} type={}",
                    env.caps.emulator, def.virt_type
                ),
            ));
        }
        def.os.machine = Some(m);
    }
    default_nvram(def, env);
    add_default_devices(def, env)?;
    let canon = env.caps.canonical_machine(machine(def));
    def.os.machine = Some(canon);
    set_default_cpu(def, env)?;
    cpu_post_parse(def, env)?;
    numa_cpus(def);
    Ok(())
}
