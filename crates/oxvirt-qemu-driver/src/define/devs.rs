//! One view over every device of a definition, typed or kept as an
//! element, in libvirt's device iteration order
//! (virDomainDeviceInfoIterate), with access to each device's
//! `<address>` and `<alias>`. Addresses of devices the model keeps as
//! elements are placed where libvirt writes its device info block.

use oxvirt_xml::dom::{Element, Node};
use oxvirt_xml::domain::Domain;
use oxvirt_xml::props;

/// Where a device lives in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    Disk(usize),
    Net(usize),
    Controller(usize),
    Video(usize),
    Serial(usize),
    Parallel(usize),
    Channel(usize),
    Console(usize),
    /// An element of `devices.raw`.
    Raw(usize),
}

/// The raw device kinds in libvirt's iteration order; kinds without a
/// device info (graphics, audio, lease, redirfilter) are not listed.
const RAW_ORDER_BEFORE_VIDEO: &[&str] = &["sound", "hostdev"];
const RAW_ORDER_AFTER_CONTROLLERS: &[&str] = &["smartcard"];
const RAW_ORDER_AFTER_CHARDEVS: &[&str] = &[
    "input",
    "filesystem",
    "watchdog",
    "memballoon",
    "rng",
    "hub",
    "shmem",
    "tpm",
    "panic",
    "memory",
    "redirdev",
    "iommu",
    "vsock",
];

fn raw_of<'a>(def: &'a Domain, kind: &'a str) -> impl Iterator<Item = Loc> + 'a {
    def.devices
        .raw
        .iter()
        .enumerate()
        .filter(move |(_, r)| r.0.name == kind)
        .map(|(i, _)| Loc::Raw(i))
}

/// Every device with a device info, in libvirt's iteration order.
pub fn iterate(def: &Domain) -> Vec<Loc> {
    let d = &def.devices;
    let mut out: Vec<Loc> = (0..d.disks.len()).map(Loc::Disk).collect();
    out.extend((0..d.interfaces.len()).map(Loc::Net));
    for k in RAW_ORDER_BEFORE_VIDEO {
        out.extend(raw_of(def, k));
    }
    out.extend((0..d.videos.len()).map(Loc::Video));
    out.extend((0..d.controllers.len()).map(Loc::Controller));
    for k in RAW_ORDER_AFTER_CONTROLLERS {
        out.extend(raw_of(def, k));
    }
    out.extend((0..d.chardevs.serials.len()).map(Loc::Serial));
    out.extend((0..d.chardevs.parallels.len()).map(Loc::Parallel));
    out.extend((0..d.chardevs.channels.len()).map(Loc::Channel));
    // The first console of an HVM guest aliasing its first serial port
    // is that port (virDomainSkipBackcompatConsole).
    let skip_first = d.chardevs.hvm
        && !d.chardevs.serials.is_empty()
        && d.chardevs
            .consoles
            .first()
            .is_some_and(|c| matches!(c.target_type.as_str(), "serial" | "none"));
    out.extend(
        (0..d.chardevs.consoles.len())
            .filter(|&i| !(skip_first && i == 0))
            .map(Loc::Console),
    );
    for k in RAW_ORDER_AFTER_CHARDEVS {
        out.extend(raw_of(def, k));
    }
    out
}

/// The device kind (element name).
pub fn kind(def: &Domain, loc: Loc) -> &str {
    match loc {
        Loc::Disk(_) => "disk",
        Loc::Net(_) => "interface",
        Loc::Controller(_) => "controller",
        Loc::Video(_) => "video",
        Loc::Serial(_) => "serial",
        Loc::Parallel(_) => "parallel",
        Loc::Channel(_) => "channel",
        Loc::Console(_) => "console",
        Loc::Raw(i) => def.devices.raw[i].0.name.as_str(),
    }
}

/// The children holding a device's info (`<address>`, `<alias>`...).
fn info_children(def: &Domain, loc: Loc) -> Vec<&Element> {
    let d = &def.devices;
    match loc {
        Loc::Disk(i) => d.disks[i].extra.children.iter().collect(),
        Loc::Net(i) => d.interfaces[i].extra.children.iter().collect(),
        Loc::Controller(i) => d.controllers[i].el.elements().collect(),
        Loc::Video(i) => d.videos[i].el.elements().collect(),
        Loc::Serial(i) => d.chardevs.serials[i].el.elements().collect(),
        Loc::Parallel(i) => d.chardevs.parallels[i].el.elements().collect(),
        Loc::Channel(i) => d.chardevs.channels[i].el.elements().collect(),
        Loc::Console(i) => d.chardevs.consoles[i].el.elements().collect(),
        Loc::Raw(i) => d.raw[i].0.elements().collect(),
    }
}

/// The device's `<address>`, if it has one.
pub fn address(def: &Domain, loc: Loc) -> Option<Element> {
    info_children(def, loc)
        .into_iter()
        .find(|c| c.name == "address")
        .cloned()
}

/// The device's address type (`None` without an address).
pub fn address_type(def: &Domain, loc: Loc) -> Option<String> {
    address(def, loc).and_then(|a| a.attr("type").map(str::to_string))
}

/// Children that libvirt writes before a device's `<address>`.
const INFO_BEFORE_ADDRESS: &[&str] = &["boot", "alias", "master", "rom", "acpi"];

/// Replaces the `<address>` child of `el`, or inserts one where libvirt
/// writes it: after the rest of the device info block, before anything
/// `after` names (children libvirt writes after the info block).
fn put_address(el: &mut Element, addr: Option<Element>, after: &[&str]) {
    let pos = el
        .children
        .iter()
        .position(|n| matches!(n, Node::Element(e) if e.name == "address"));
    match (pos, addr) {
        (Some(p), Some(a)) => el.children[p] = Node::Element(a),
        (Some(p), None) => {
            el.children.remove(p);
        }
        (None, None) => {}
        (None, Some(a)) => {
            let last_info = el.children.iter().rposition(
                |n| matches!(n, Node::Element(e) if INFO_BEFORE_ADDRESS.contains(&e.name.as_str())),
            );
            let first_after = el
                .children
                .iter()
                .position(|n| matches!(n, Node::Element(e) if after.contains(&e.name.as_str())));
            let at = match (last_info, first_after) {
                (Some(l), _) => l + 1,
                (None, Some(f)) => f,
                (None, None) => el.children.len(),
            };
            el.children.insert(at, Node::Element(a));
        }
    }
}

/// Sets (or with `None` removes) the device's `<address>`.
pub fn set_address(def: &mut Domain, loc: Loc, addr: Option<Element>) {
    let d = &mut def.devices;
    let set_extra = |children: &mut Vec<Element>, addr: Option<Element>| {
        children.retain(|c| c.name != "address");
        if let Some(a) = addr {
            children.push(a);
        }
    };
    match loc {
        Loc::Disk(i) => set_extra(&mut d.disks[i].extra.children, addr),
        Loc::Net(i) => set_extra(&mut d.interfaces[i].extra.children, addr),
        Loc::Controller(i) => put_address(&mut d.controllers[i].el, addr, &[]),
        Loc::Video(i) => put_address(&mut d.videos[i].el, addr, &[]),
        Loc::Serial(i) => put_address(&mut d.chardevs.serials[i].el, addr, &[]),
        Loc::Parallel(i) => put_address(&mut d.chardevs.parallels[i].el, addr, &[]),
        Loc::Channel(i) => put_address(&mut d.chardevs.channels[i].el, addr, &[]),
        Loc::Console(i) => put_address(&mut d.chardevs.consoles[i].el, addr, &[]),
        Loc::Raw(i) => {
            let el = &mut d.raw[i].0;
            let after: &[&str] = match el.name.as_str() {
                "memballoon" => &["driver"],
                _ => &[],
            };
            put_address(el, addr, after)
        }
    }
}

/// A PCI address (`<address type='pci'>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PciAddr {
    pub domain: u32,
    pub bus: u32,
    pub slot: u32,
    pub function: u32,
    /// `multifunction`: `None` absent, `Some(true)` on.
    pub multi: Option<bool>,
}

impl PciAddr {
    /// Reads a PCI address element; `None` for another type.
    pub fn of(a: &Element) -> Option<PciAddr> {
        if a.attr("type") != Some("pci") {
            return None;
        }
        let n = |k: &str| a.attr(k).and_then(props::parse_u64_any_base).unwrap_or(0) as u32;
        Some(PciAddr {
            domain: n("domain"),
            bus: n("bus"),
            slot: n("slot"),
            function: n("function"),
            multi: match a.attr("multifunction") {
                Some("on") => Some(true),
                Some("off") => Some(false),
                _ => None,
            },
        })
    }

    /// True when every field is zero (libvirt's "empty" PCI address,
    /// which asks for one to be assigned).
    pub fn is_empty(&self) -> bool {
        self.domain == 0 && self.bus == 0 && self.slot == 0 && self.function == 0
    }

    /// The element libvirt writes.
    pub fn element(&self, zpci: Option<&Element>) -> Element {
        let mut a = Element::new("address");
        a.set_attr("type", "pci");
        a.set_attr("domain", format!("0x{:04x}", self.domain));
        a.set_attr("bus", format!("0x{:02x}", self.bus));
        a.set_attr("slot", format!("0x{:02x}", self.slot));
        a.set_attr("function", format!("0x{:x}", self.function));
        match self.multi {
            Some(true) => a.set_attr("multifunction", "on"),
            Some(false) => a.set_attr("multifunction", "off"),
            None => {}
        }
        if let Some(z) = zpci {
            a.children.push(Node::Element(z.clone()));
        }
        a
    }

    /// `0000:00:01.0`, as libvirt's messages spell it.
    pub fn display(&self) -> String {
        format!(
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.slot, self.function
        )
    }
}

/// The device's PCI address, if it has a PCI address element.
pub fn pci_address(def: &Domain, loc: Loc) -> Option<PciAddr> {
    address(def, loc).and_then(|a| PciAddr::of(&a))
}

/// Sets a PCI address, keeping a `<zpci>` child the old one had.
pub fn set_pci_address(def: &mut Domain, loc: Loc, pci: PciAddr) {
    let old = address(def, loc);
    let zpci = old.as_ref().and_then(|a| a.child("zpci")).cloned();
    set_address(def, loc, Some(pci.element(zpci.as_ref())));
}

/// The raw element of a device kept as an element.
pub fn raw(def: &Domain, loc: Loc) -> Option<&Element> {
    match loc {
        Loc::Raw(i) => def.devices.raw.get(i).map(|r| &r.0),
        _ => None,
    }
}
