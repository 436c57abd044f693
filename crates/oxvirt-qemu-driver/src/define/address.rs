//! qemuDomainAssignAddresses: virtio-serial ports, PCI slots, USB ports
//! and memory slots, in libvirt's order.

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::Element;
use oxvirt_xml::domain::Domain;
use oxvirt_xml::props;

use super::defaults::maybe_add_controller;
use super::devs::{self, Loc};
use super::Env;
use crate::FROM;

/// Ports of a virtio-serial controller without `ports`.
const VIRTIO_SERIAL_PORTS: usize = 31;

fn xml_err(msg: String) -> Error {
    Error::new(code::XML_ERROR, FROM, msg)
}

struct VsController {
    idx: u32,
    ports: Vec<bool>,
}

struct VsSet {
    /// Sorted by controller index.
    controllers: Vec<VsController>,
}

impl VsSet {
    fn add(&mut self, idx: u32, ports: usize) -> Result<()> {
        if self.controllers.iter().any(|c| c.idx == idx) {
            return Err(Error::new(
                code::INTERNAL_ERROR,
                FROM,
                format!(
                    "virtio serial controller with index {} already exists in the address set",
                    idx
                ),
            ));
        }
        let at = self
            .controllers
            .iter()
            .position(|c| c.idx > idx)
            .unwrap_or(self.controllers.len());
        self.controllers.insert(
            at,
            VsController {
                idx,
                ports: vec![false; ports],
            },
        );
        Ok(())
    }

    fn reserve(&mut self, controller: u32, port: u32) -> Result<()> {
        let Some(c) = self.controllers.iter_mut().find(|c| c.idx == controller) else {
            return Err(xml_err(format!(
                "virtio serial controller {} is missing",
                controller
            )));
        };
        let Some(slot) = c.ports.get_mut(port as usize) else {
            return Err(xml_err(format!(
                "virtio serial controller {} does not have port {}",
                controller, port
            )));
        };
        if *slot {
            return Err(xml_err(format!(
                "virtio serial port {} on controller {} is already occupied",
                port, controller
            )));
        }
        *slot = true;
        Ok(())
    }
}

fn vs_ports(def: &Domain, idx: u32) -> usize {
    def.devices
        .controllers
        .iter()
        .find(|c| c.ctype == "virtio-serial" && c.index == Some(idx))
        .and_then(|c| c.el.attr("ports"))
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(VIRTIO_SERIAL_PORTS)
}

/// `(controller, bus, port)` of a virtio-serial address element.
fn vs_addr(a: &Element) -> Option<(u32, u32, u32)> {
    if a.attr("type") != Some("virtio-serial") {
        return None;
    }
    let n = |k: &str| a.attr(k).and_then(props::parse_u64_any_base).unwrap_or(0) as u32;
    Some((n("controller"), n("bus"), n("port")))
}

fn vs_element(controller: u32, port: u32) -> Element {
    let mut e = Element::new("address");
    e.set_attr("type", "virtio-serial");
    e.set_attr("controller", controller.to_string());
    e.set_attr("bus", "0");
    e.set_attr("port", port.to_string());
    e
}

/// qemuDomainAssignVirtioSerialAddresses
fn virtio_serial(def: &mut Domain) -> Result<()> {
    let mut set = VsSet {
        controllers: Vec::new(),
    };
    let idxs: Vec<u32> = def
        .devices
        .controllers
        .iter()
        .filter(|c| c.ctype == "virtio-serial")
        .map(|c| c.index.unwrap_or(0))
        .collect();
    for i in idxs {
        set.add(i, vs_ports(def, i))?;
    }
    for loc in devs::iterate(def) {
        if let Some((c, _, p)) = devs::address(def, loc).as_ref().and_then(vs_addr) {
            if p != 0 {
                set.reserve(c, p)?;
            }
        }
    }
    let consoles: Vec<Loc> = (0..def.devices.chardevs.consoles.len())
        .filter(|&i| def.devices.chardevs.consoles[i].target_type == "virtio")
        .map(Loc::Console)
        .collect();
    let channels: Vec<Loc> = (0..def.devices.chardevs.channels.len())
        .filter(|&i| def.devices.chardevs.channels[i].target_type == "virtio")
        .map(Loc::Channel)
        .collect();
    for (loc, allow_zero) in consoles
        .into_iter()
        .map(|l| (l, true))
        .chain(channels.into_iter().map(|l| (l, false)))
    {
        let cur = devs::address(def, loc).as_ref().and_then(vs_addr);
        if cur.is_some_and(|(_, _, p)| p != 0) {
            continue;
        }
        let (controller, port) = match cur {
            Some((c, _, _)) => {
                // Only the port is missing.
                let Some(ctl) = set.controllers.iter().find(|x| x.idx == c) else {
                    return Err(Error::new(
                        code::INTERNAL_ERROR,
                        FROM,
                        format!("virtio-serial controller {} not available", c),
                    ));
                };
                match ctl.ports.iter().position(|u| !u).filter(|p| *p > 0) {
                    Some(p) => (c, p as u32),
                    None => {
                        return Err(xml_err(format!(
                            "Unable to find a free port on virtio-serial controller {}",
                            c
                        )))
                    }
                }
            }
            None => {
                let start = if allow_zero { 0 } else { 1 };
                let found = set.controllers.iter().find_map(|c| {
                    c.ports
                        .iter()
                        .enumerate()
                        .skip(start)
                        .find(|(_, u)| !**u)
                        .map(|(p, _)| (c.idx, p as u32))
                });
                match found {
                    Some(f) => f,
                    None => {
                        let mut i = 0;
                        while def
                            .devices
                            .controllers
                            .iter()
                            .any(|c| c.ctype == "virtio-serial" && c.index == Some(i))
                        {
                            i += 1;
                        }
                        maybe_add_controller(&mut def.devices, "virtio-serial", i, None);
                        set.add(i, vs_ports(def, i))?;
                        (i, start as u32)
                    }
                }
            }
        };
        set.reserve(controller, port)?;
        // A console's port 0 is only reserved: libvirt leaves its
        // address unset.
        if !allow_zero {
            devs::set_address(def, loc, Some(vs_element(controller, port)));
        }
    }
    Ok(())
}

/// qemuDomainAssignMemorySlots: DIMMs get the lowest free slot.
fn memory_slots(def: &mut Domain) -> Result<()> {
    let slots = def.max_memory.map(|m| m.slots).unwrap_or(0);
    if def.max_memory.is_none_or(|m| m.size == 0) {
        return Ok(());
    }
    let mems: Vec<Loc> = def
        .devices
        .raw
        .iter()
        .enumerate()
        .filter(|(_, r)| r.0.name == "memory")
        .map(|(i, _)| Loc::Raw(i))
        .collect();
    let mut used = vec![false; slots as usize];
    for loc in &mems {
        if let Some(a) = devs::address(def, *loc) {
            if a.attr("type") == Some("dimm") {
                let s = a
                    .attr("slot")
                    .and_then(props::parse_u64_any_base)
                    .unwrap_or(0) as usize;
                if let Some(u) = used.get_mut(s) {
                    *u = true;
                }
            }
        }
    }
    for loc in mems {
        let model = devs::raw(def, loc)
            .and_then(|e| e.attr("model"))
            .unwrap_or("");
        if !matches!(model, "dimm" | "nvdimm") {
            continue;
        }
        if devs::address_type(def, loc).as_deref() == Some("dimm") {
            continue;
        }
        let Some(s) = used.iter().position(|u| !u) else {
            return Err(Error::new(
                code::INTERNAL_ERROR,
                FROM,
                "failed to find an empty memory slot",
            ));
        };
        used[s] = true;
        let mut e = Element::new("address");
        e.set_attr("type", "dimm");
        e.set_attr("slot", s.to_string());
        devs::set_address(def, loc, Some(e));
    }
    Ok(())
}

fn spapr_reg(a: &Element) -> Option<Option<u64>> {
    (a.attr("type") == Some("spapr-vio")).then(|| a.attr("reg").and_then(props::parse_u64_any_base))
}

fn spapr_element(reg: u64) -> Element {
    let mut e = Element::new("address");
    e.set_attr("type", "spapr-vio");
    e.set_attr("reg", format!("0x{:08x}", reg));
    e
}

/// qemuDomainAssignSpaprVIOAddresses: devices with a spapr-vio address
/// (and the models that always have one) get a free `reg`.
fn spapr_vio(def: &mut Domain) -> Result<()> {
    let mut todo: Vec<(Loc, u64)> = Vec::new();
    for i in 0..def.devices.interfaces.len() {
        if def.devices.interfaces[i].model.as_deref() == Some("spapr-vlan") {
            let loc = Loc::Net(i);
            if devs::address_type(def, loc).as_deref() != Some("spapr-vio") {
                devs::set_address(def, loc, Some(spapr_stub()));
            }
        }
        todo.push((Loc::Net(i), 0x1000));
    }
    for i in 0..def.devices.controllers.len() {
        let c = &def.devices.controllers[i];
        if c.ctype == "scsi" && c.model.as_deref() == Some("ibmvscsi") {
            let loc = Loc::Controller(i);
            if devs::address_type(def, loc).as_deref() != Some("spapr-vio") {
                devs::set_address(def, loc, Some(spapr_stub()));
            }
        }
        todo.push((Loc::Controller(i), 0x2000));
    }
    for i in 0..def.devices.chardevs.serials.len() {
        if def.devices.chardevs.serials[i].target_type == "spapr-vio-serial" {
            let loc = Loc::Serial(i);
            if devs::address_type(def, loc).as_deref() != Some("spapr-vio") {
                devs::set_address(def, loc, Some(spapr_stub()));
            }
        }
        todo.push((Loc::Serial(i), 0x3000_0000));
    }
    for (loc, default) in todo {
        let Some(Some(user)) = devs::address(def, loc).map(|a| spapr_reg(&a)) else {
            continue;
        };
        let others = |def: &Domain, reg: u64| {
            devs::iterate(def).into_iter().any(|l| {
                l != loc && devs::address(def, l).and_then(|a| spapr_reg(&a)).flatten() == Some(reg)
            })
        };
        match user {
            Some(reg) => {
                if others(def, reg) {
                    return Err(xml_err(format!(
                        "spapr-vio address {:#x} already in use",
                        reg
                    )));
                }
            }
            None => {
                let mut reg = default;
                while others(def, reg) {
                    reg += 0x1000;
                }
                devs::set_address(def, loc, Some(spapr_element(reg)));
            }
        }
    }
    Ok(())
}

fn spapr_stub() -> Element {
    let mut e = Element::new("address");
    e.set_attr("type", "spapr-vio");
    e
}

/// qemuDomainAssignAddresses
pub fn assign(def: &mut Domain, env: &Env) -> Result<()> {
    virtio_serial(def)?;
    spapr_vio(def)?;
    super::pci::assign(def, env)?;
    super::usb::assign(def, env.abi_update)?;
    memory_slots(def)?;
    Ok(())
}
