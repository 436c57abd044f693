//! USB port assignment (domain_addr.c's USB address set and
//! qemuDomainAssignUSBAddresses): every USB device gets a port on a
//! controller or hub, hubs are added when the controllers' ports run
//! out.

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::Element;
use oxvirt_xml::domain::devices::Controller;
use oxvirt_xml::domain::Domain;

use super::defaults::push_raw;
use super::devs::{self, Loc};
use crate::FROM;

/// Ports of a hub libvirt adds.
const HUB_PORTS: usize = 8;
/// Levels of a USB port path.
const MAX_DEPTH: usize = 4;

fn xml_err(msg: String) -> Error {
    Error::new(code::XML_ERROR, FROM, msg)
}

/// virDomainUSBAddressControllerModelToPorts
fn controller_ports(c: &Controller) -> usize {
    let ports = c.el.attr("ports").and_then(|p| p.parse::<usize>().ok());
    match c.model.as_deref() {
        None | Some("piix3-uhci" | "piix4-uhci" | "vt82c686b-uhci") => 2,
        Some("ehci" | "ich9-ehci1") => 6,
        Some("pci-ohci") => 3,
        Some("nec-xhci" | "qemu-xhci") => ports.unwrap_or(4),
        Some("qusb1" | "qusb2") => ports.unwrap_or(8),
        _ => 0,
    }
}

#[derive(Debug, Clone)]
struct Hub {
    used: Vec<bool>,
    ports: Vec<Option<Hub>>,
}

impl Hub {
    fn new(n: usize) -> Hub {
        Hub {
            used: vec![false; n],
            ports: vec![None; n],
        }
    }
}

/// A USB address: bus and port path (`1.2` is port 2 of the hub on
/// port 1).
#[derive(Debug, Clone, PartialEq, Eq)]
struct UsbAddr {
    bus: usize,
    port: Vec<u32>,
}

fn parse_usb(a: &Element) -> Option<UsbAddr> {
    if a.attr("type") != Some("usb") {
        return None;
    }
    let bus = a
        .attr("bus")
        .and_then(oxvirt_xml::props::parse_u64_any_base)
        .unwrap_or(0) as usize;
    let port = match a.attr("port") {
        None => Vec::new(),
        Some(p) => p
            .split('.')
            .filter_map(|x| x.trim().parse::<u32>().ok())
            .collect(),
    };
    Some(UsbAddr { bus, port })
}

fn format_port(p: &[u32]) -> String {
    p.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

fn usb_element(a: &UsbAddr) -> Element {
    let mut e = Element::new("address");
    e.set_attr("type", "usb");
    e.set_attr("bus", a.bus.to_string());
    e.set_attr("port", format_port(&a.port));
    e
}

struct Set {
    buses: Vec<Option<Hub>>,
}

impl Set {
    /// virDomainUSBAddressFindPort: the hub holding the addressed port.
    fn find_port(&mut self, a: &UsbAddr) -> Result<(&mut Hub, usize)> {
        let s = format_port(&a.port);
        let Some(Some(mut hub)) = self.buses.get_mut(a.bus).map(|h| h.as_mut()) else {
            return Err(xml_err(format!("Missing USB bus {}", a.bus)));
        };
        let last = a.port.len().saturating_sub(1);
        for p in &a.port[..last] {
            let idx = (*p as usize).wrapping_sub(1);
            if idx >= hub.used.len() {
                return Err(xml_err(format!(
                    "port {} out of range in USB address bus: {} port: {}",
                    p, a.bus, s
                )));
            }
            hub = match hub.ports[idx].as_mut() {
                Some(h) => h,
                None => {
                    return Err(xml_err(format!(
                        "there is no hub at port {} in USB address bus: {} port: {}",
                        p, a.bus, s
                    )))
                }
            };
        }
        let target = (a.port[last] as usize).wrapping_sub(1);
        if target >= hub.used.len() {
            return Err(xml_err(format!(
                "requested USB port {} not present on USB bus {}",
                s, a.bus
            )));
        }
        Ok((hub, target))
    }

    fn reserve(&mut self, a: &UsbAddr) -> Result<()> {
        if a.port.first().copied().unwrap_or(0) == 0 {
            return Ok(());
        }
        let s = format_port(&a.port);
        let bus = a.bus;
        let (hub, t) = self.find_port(a)?;
        if hub.used[t] {
            return Err(xml_err(format!(
                "Duplicate USB address bus {} port {}",
                bus, s
            )));
        }
        hub.used[t] = true;
        Ok(())
    }

    fn add_hub(&mut self, a: &UsbAddr) -> Result<()> {
        let s = format_port(&a.port);
        let bus = a.bus;
        let (hub, t) = self.find_port(a)?;
        if hub.ports[t].is_some() {
            return Err(xml_err(format!(
                "Duplicate USB hub on bus {} port {}",
                bus, s
            )));
        }
        hub.used[t] = true;
        hub.ports[t] = Some(Hub::new(HUB_PORTS));
        Ok(())
    }

    fn find_free(hub: &Hub, path: &mut Vec<u32>, level: usize) -> bool {
        if let Some(i) = hub.used.iter().position(|u| !u) {
            path.truncate(level);
            path.push(i as u32 + 1);
            return true;
        }
        if level >= MAX_DEPTH - 1 {
            return false;
        }
        for (i, h) in hub.ports.iter().enumerate() {
            let Some(h) = h else { continue };
            path.truncate(level);
            path.push(i as u32 + 1);
            if Self::find_free(h, path, level + 1) {
                return true;
            }
        }
        false
    }

    fn assign_from_bus(&mut self, bus: usize) -> Result<Option<UsbAddr>> {
        let Some(Some(hub)) = self.buses.get(bus) else {
            return Ok(None);
        };
        let mut path = Vec::new();
        if !Self::find_free(hub, &mut path, 0) {
            return Ok(None);
        }
        let a = UsbAddr { bus, port: path };
        self.reserve(&a)?;
        Ok(Some(a))
    }

    /// virDomainUSBAddressAssign
    fn assign(&mut self, requested_bus: Option<usize>) -> Result<UsbAddr> {
        match requested_bus {
            Some(b) => {
                if !matches!(self.buses.get(b), Some(Some(_))) {
                    return Err(xml_err(format!(
                        "USB bus {} requested but no controller with that index is present",
                        b
                    )));
                }
                if let Some(a) = self.assign_from_bus(b)? {
                    return Ok(a);
                }
            }
            None => {
                for b in 0..self.buses.len() {
                    if let Some(a) = self.assign_from_bus(b)? {
                        return Ok(a);
                    }
                }
            }
        }
        Err(Error::new(code::INTERNAL_ERROR, FROM, "No free USB ports"))
    }
}

/// The USB devices in virDomainUSBDeviceDefForeach's order.
fn usb_devices(def: &Domain, skip_hubs: bool) -> Vec<Loc> {
    let d = &def.devices;
    let raw = |kind: &str, pred: &dyn Fn(&Element) -> bool| -> Vec<Loc> {
        d.raw
            .iter()
            .enumerate()
            .filter(|(_, r)| r.0.name == kind && pred(&r.0))
            .map(|(i, _)| Loc::Raw(i))
            .collect()
    };
    let mut out = Vec::new();
    if !skip_hubs {
        out.extend(raw("hub", &|e| e.attr("type") == Some("usb")));
    }
    out.extend(raw("hostdev", &|e| e.attr("type") == Some("usb")));
    out.extend(
        (0..d.disks.len())
            .filter(|&i| d.disks[i].bus() == "usb")
            .map(Loc::Disk),
    );
    out.extend(
        (0..d.controllers.len())
            .filter(|&i| d.controllers[i].ctype == "ccid")
            .map(Loc::Controller),
    );
    out.extend(raw("input", &|e| e.attr("bus") == Some("usb")));
    out.extend(
        (0..d.chardevs.serials.len())
            .filter(|&i| d.chardevs.serials[i].target_type == "usb-serial")
            .map(Loc::Serial),
    );
    out.extend(raw("sound", &|e| e.attr("model") == Some("usb")));
    out.extend(raw("redirdev", &|e| {
        e.attr("bus").unwrap_or("usb") == "usb"
    }));
    out
}

fn usb_addr(def: &Domain, loc: Loc) -> Option<UsbAddr> {
    devs::address(def, loc).and_then(|a| parse_usb(&a))
}

fn complete(a: &Option<UsbAddr>) -> bool {
    a.as_ref()
        .is_some_and(|a| a.port.first().copied().unwrap_or(0) != 0)
}

/// qemuDomainAssignUSBAddresses
pub fn assign(def: &mut Domain, new_domain: bool) -> Result<()> {
    // Only new domains, or those with every address set, are assigned;
    // libvirt leaves the others alone.
    if !new_domain
        && usb_devices(def, false)
            .iter()
            .any(|l| !complete(&usb_addr(def, *l)))
    {
        return Ok(());
    }
    // qemuDomainUSBAddressAddHubs
    let available: usize = def
        .devices
        .controllers
        .iter()
        .filter(|c| c.ctype == "usb")
        .map(controller_ports)
        .sum::<usize>()
        + def
            .devices
            .raw
            .iter()
            .filter(|r| r.0.name == "hub" && r.0.attr("type") == Some("usb"))
            .count()
            * HUB_PORTS;
    let count = usb_devices(def, false).len();
    let has_usb = def
        .devices
        .controllers
        .iter()
        .any(|c| c.ctype == "usb" && c.model.as_deref() != Some("none"));
    if count > 0 && !has_usb {
        return Err(Error::new(
            code::CONFIG_UNSUPPORTED,
            FROM,
            "USB is disabled for this domain, but USB devices are present in the domain XML",
        ));
    }
    if count > available {
        let needed = (count - available + 1).div_ceil(HUB_PORTS - 1);
        for _ in 0..needed {
            let mut h = Element::new("hub");
            h.set_attr("type", "usb");
            push_raw(&mut def.devices, h);
        }
    }
    let mut set = Set { buses: Vec::new() };
    for c in def.devices.controllers.iter().filter(|c| c.ctype == "usb") {
        let n = controller_ports(c);
        if n == 0 {
            continue;
        }
        let idx = c.index.unwrap_or(0) as usize;
        if set.buses.len() <= idx {
            set.buses.resize(idx + 1, None);
        } else if set.buses[idx].is_some() {
            return Err(xml_err(format!(
                "Duplicate USB controllers with index {}",
                idx
            )));
        }
        set.buses[idx] = Some(Hub::new(n));
    }
    let hubs: Vec<Loc> = def
        .devices
        .raw
        .iter()
        .enumerate()
        .filter(|(_, r)| r.0.name == "hub" && r.0.attr("type") == Some("usb"))
        .map(|(i, _)| Loc::Raw(i))
        .collect();
    for h in &hubs {
        let a = usb_addr(def, *h);
        if complete(&a) {
            if let Some(a) = a {
                set.add_hub(&a)?;
            }
        }
    }
    for loc in usb_devices(def, true) {
        if let Some(a) = usb_addr(def, loc) {
            set.reserve(&a)?;
        }
    }
    // Hubs without an address, then every other device.
    for h in hubs {
        let a = usb_addr(def, h);
        if complete(&a) {
            continue;
        }
        let got = set.assign(a.map(|a| a.bus))?;
        devs::set_address(def, h, Some(usb_element(&got)));
        set.add_hub(&got)?;
    }
    for loc in usb_devices(def, true) {
        let t = devs::address_type(def, loc);
        if t.is_some() && t.as_deref() != Some("usb") {
            continue;
        }
        let a = usb_addr(def, loc);
        if complete(&a) {
            continue;
        }
        let got = set.assign(a.map(|a| a.bus))?;
        devs::set_address(def, loc, Some(usb_element(&got)));
    }
    Ok(())
}
