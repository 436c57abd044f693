//! `<controller>`: typed type, index and model; placement in libvirt's
//! order (grouped by type, sorted by index); the controllers libvirt adds
//! for devices that sit on a bus without one.

use crate::dom::Element;
use crate::error::{Error, Result};
use crate::props;
use crate::writer::{Attrs, Writer};

use super::super::{FormatFlags, ParseFlags};

/// Controller types in libvirt's enumeration order (the first is the
/// default when `type` is absent).
pub const CONTROLLER_TYPES: &[&str] = &[
    "ide",
    "fdc",
    "scsi",
    "sata",
    "virtio-serial",
    "ccid",
    "usb",
    "pci",
    "xenbus",
    "isa",
];

/// The models libvirt accepts for a controller type.
pub fn models_of(ctype: &str) -> &'static [&'static str] {
    match ctype {
        "pci" => &[
            "pci-root",
            "pcie-root",
            "pci-bridge",
            "dmi-to-pci-bridge",
            "pcie-to-pci-bridge",
            "pcie-root-port",
            "pcie-switch-upstream-port",
            "pcie-switch-downstream-port",
            "pci-expander-bus",
            "pcie-expander-bus",
        ],
        "scsi" => &[
            "auto",
            "buslogic",
            "lsilogic",
            "lsisas1068",
            "vmpvscsi",
            "ibmvscsi",
            "virtio-scsi",
            "lsisas1078",
            "virtio-transitional",
            "virtio-non-transitional",
            "ncr53c90",
            "dc390",
            "am53c974",
        ],
        "usb" => &[
            "piix3-uhci",
            "piix4-uhci",
            "ehci",
            "ich9-ehci1",
            "ich9-uhci1",
            "ich9-uhci2",
            "ich9-uhci3",
            "vt82c686b-uhci",
            "pci-ohci",
            "nec-xhci",
            "qusb1",
            "qusb2",
            "qemu-xhci",
            "none",
        ],
        "ide" => &["piix3", "piix4", "ich6"],
        "virtio-serial" => &["virtio", "virtio-transitional", "virtio-non-transitional"],
        _ => &[],
    }
}

/// Children of `<controller>` in the order libvirt writes them.
const CHILD_ORDER: &[&str] = &[
    "model",
    "target",
    "driver",
    "alias",
    "master",
    "address",
    "pcihole64",
];

/// Attributes after type/index/model, in libvirt's order.
const ATTR_ORDER: &[&str] = &["ports", "vectors", "maxGrantFrames", "maxEventChannels"];

/// A `<controller>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    /// `type` (ide, fdc, scsi, sata, virtio-serial, ccid, usb, pci, ...)
    pub ctype: String,
    /// `index`; `None` until post-parse assigns the lowest free one.
    pub index: Option<u32>,
    pub model: Option<String>,
    /// `<master startport=...>` of a USB companion controller.
    pub master: Option<u32>,
    /// The element as written, for what is not typed.
    pub el: Element,
}

impl Controller {
    /// A controller libvirt adds on its own.
    pub fn implicit(ctype: &str, index: u32) -> Controller {
        Controller {
            ctype: ctype.to_string(),
            index: Some(index),
            model: None,
            master: None,
            el: Element::new("controller"),
        }
    }

    pub fn parse(el: &Element, _flags: ParseFlags) -> Result<Controller> {
        let ctype = match el.attr("type") {
            None => "ide".to_string(),
            Some(t) if CONTROLLER_TYPES.contains(&t) => t.to_string(),
            Some(t) => {
                return Err(Error::xml(format!(
                    "Invalid value for attribute 'type' in element 'controller': '{}'.",
                    t
                )))
            }
        };
        let model = match el.attr("model") {
            None => None,
            Some(m) if models_of(&ctype).contains(&m) => Some(m.to_string()),
            Some(m) => {
                return Err(Error::unsupported(format!("Unknown model type '{}'", m)));
            }
        };
        let index = match el.attr("index") {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 0 && n <= i32::MAX as i64 => Some(n as u32),
                Ok(_) => {
                    return Err(Error::xml(format!(
                        "Invalid value for attribute 'index' in element 'controller': '{}'. Expected non-negative value",
                        v
                    )))
                }
                Err(_) => {
                    return Err(Error::xml(format!(
                        "Invalid value for attribute 'index' in element 'controller': '{}'. Expected integer value",
                        v
                    )))
                }
            },
        };
        if el.children_named("model").count() > 1 {
            return Err(Error::xml(
                "Multiple <model> elements in controller definition not allowed",
            ));
        }
        if el.children_named("target").count() > 1 {
            return Err(Error::xml(
                "Multiple <target> elements in controller definition not allowed",
            ));
        }
        if let Some(d) = el.child("driver") {
            for a in ["queues", "cmd_per_lun", "max_sectors", "iothread"] {
                props::opt_uint::<u32>(d, a)?;
            }
        }
        let mut el = el.clone();
        let mut master = el
            .child("master")
            .and_then(|m| m.attr("startport"))
            .and_then(|p| p.parse::<u32>().ok());
        if ctype == "usb" {
            if model.as_deref() == Some("none") {
                el.children
                    .retain(|n| !matches!(n, crate::dom::Node::Element(e) if e.name == "address"));
            }
            if master.is_none() {
                master = match model.as_deref() {
                    Some("ich9-uhci1") => Some(0),
                    Some("ich9-uhci2") => Some(2),
                    Some("ich9-uhci3") => Some(4),
                    _ => None,
                };
            }
        }
        if ctype == "pci" {
            for n in el.children.iter_mut() {
                if let crate::dom::Node::Element(h) = n {
                    if h.name == "pcihole64" {
                        if let Some(k) = super::misc::in_kib(h, 1024) {
                            *h = k;
                        }
                    }
                }
            }
            if let Some(t) = el.child("target") {
                let mut t = t.clone();
                for a in ["chassisNr", "chassis", "port", "busNr", "index"] {
                    if let Some(v) = t.attr(a) {
                        let n = props::parse_u64_any_base(v).ok_or_else(|| {
                            Error::xml(format!(
                                "Invalid value for attribute '{}' in element 'target': '{}'. Expected non-negative value",
                                a, v
                            ))
                        })?;
                        let s = if a == "port" {
                            format!("0x{:x}", n)
                        } else {
                            n.to_string()
                        };
                        t.set_attr(a, s);
                    }
                }
                order_pci_target(&mut t);
                replace_child(&mut el, t);
            }
        }
        Ok(Controller {
            ctype,
            index,
            model,
            master,
            el,
        })
    }

    fn is_usb2(&self) -> bool {
        self.ctype == "usb"
            && matches!(
                self.model.as_deref(),
                Some("ich9-ehci1" | "ich9-uhci1" | "ich9-uhci2" | "ich9-uhci3")
            )
    }

    /// True when this controller is a USB companion (has a master).
    pub fn is_companion(&self) -> bool {
        self.master.is_some()
    }

    fn has_address(&self) -> bool {
        self.el.child("address").is_some()
    }

    fn target_attr(&self, name: &str) -> Option<i64> {
        self.el
            .child("target")
            .and_then(|t| t.attr(name))
            .and_then(|v| v.parse::<i64>().ok())
    }

    /// libvirt's per-controller validation.
    pub fn validate(&self) -> Result<()> {
        if self.ctype != "pci" {
            return Ok(());
        }
        let idx = self.index.unwrap_or(0) as i64;
        if matches!(self.model.as_deref(), Some("pci-root" | "pcie-root")) && self.has_address() {
            return Err(Error::unsupported(
                "pci-root and pcie-root controllers should not have an address",
            ));
        }
        if idx > 255 {
            return Err(Error::unsupported(format!(
                "PCI controller index {} too high, maximum is 255",
                idx
            )));
        }
        if let Some(ti) = self.target_attr("index") {
            if !(0..=30).contains(&ti) {
                return Err(Error::unsupported(format!(
                    "PCI controller target index '{}' out of range - must be 0-30",
                    ti
                )));
            }
            if (idx == 0) != (ti == 0) {
                return Err(Error::unsupported(
                    "Only the PCI controller with index 0 can have target index 0, and vice versa",
                ));
            }
        }
        let ranges = [
            ("chassisNr", 1, 255, "1-255"),
            ("chassis", 0, 255, "0-255"),
            ("busNr", 1, 254, "1-254"),
        ];
        for (a, lo, hi, what) in ranges {
            if let Some(v) = self.target_attr(a) {
                if v < lo || v > hi {
                    return Err(Error::unsupported(format!(
                        "PCI controller {} '{}' out of range - must be {}",
                        a, v, what
                    )));
                }
            }
        }
        let has_node = self
            .el
            .child("target")
            .and_then(|t| t.child("node"))
            .is_some();
        if has_node && idx == 0 {
            return Err(Error::unsupported(
                "The PCI controller with index=0 can't be associated with a NUMA node",
            ));
        }
        Ok(())
    }

    pub fn write(&self, w: &mut Writer, _flags: FormatFlags) {
        let mut a = Attrs::new()
            .add("type", &self.ctype)
            .add("index", self.index.unwrap_or(0))
            .opt("model", self.model.as_deref());
        for name in ATTR_ORDER {
            if let Some(v) = self.el.attr(name) {
                a.push(name, v);
            }
        }
        w.elem("controller", a, |w| {
            for name in CHILD_ORDER {
                if *name == "master" {
                    if let Some(p) = self.master {
                        w.empty("master", Attrs::new().add("startport", p));
                    }
                    continue;
                }
                for c in self.el.children_named(name) {
                    w.element(c);
                }
            }
            for c in self.el.elements() {
                if !CHILD_ORDER.contains(&c.name.as_str())
                    && super::super::is_schema_element(&c.name)
                {
                    w.element(c);
                }
            }
        });
    }
}

/// Puts a PCI controller's `<target>` attributes in libvirt's order.
pub fn order_pci_target(t: &mut Element) {
    let order = ["chassisNr", "chassis", "port", "busNr", "index", "hotplug"];
    t.attrs.sort_by_key(|a| {
        order
            .iter()
            .position(|o| *o == a.name)
            .unwrap_or(order.len())
    });
}

fn replace_child(el: &mut Element, new: Element) {
    for n in el.children.iter_mut() {
        if let crate::dom::Node::Element(e) = n {
            if e.name == new.name {
                *e = new;
                return;
            }
        }
    }
}

/// Inserts a parsed controller where libvirt places it: after the last
/// controller of its type, before one of the same type with a higher
/// index (and a master before its companions at the same index).
pub fn insert_controller(list: &mut Vec<Controller>, c: Controller) {
    let mut at: Option<usize> = None;
    for i in (0..list.len()).rev() {
        let cur = &list[i];
        if cur.ctype != c.ctype {
            continue;
        }
        let Some(ci) = c.index else {
            at = Some(i + 1);
            break;
        };
        let cur_idx = cur.index.map(|v| v as i64).unwrap_or(-1);
        let master_first = !c.is_companion() && cur.is_companion() && cur_idx == ci as i64;
        if cur_idx > ci as i64 || master_first {
            at = Some(i);
        } else if at.is_none() {
            at = Some(i + 1);
        }
    }
    match at {
        Some(i) => list.insert(i, c),
        None => list.push(c),
    }
}

/// Checks libvirt makes while collecting controllers: "none" USB.
pub fn check_usb(list: &[Controller]) -> Result<()> {
    let mut none = false;
    let mut other = false;
    let mut master = false;
    for c in list.iter().filter(|c| c.ctype == "usb") {
        if c.model.as_deref() == Some("none") {
            if other || none {
                return Err(Error::Detail(
                    "Can't add another USB controller: USB is disabled for this domain".into(),
                ));
            }
            none = true;
        } else {
            if none {
                return Err(Error::Detail(
                    "Can't add another USB controller: USB is disabled for this domain".into(),
                ));
            }
            other = true;
        }
        if !c.is_companion() {
            master = true;
        }
    }
    if other && !master {
        return Err(Error::Detail("No master USB controller specified".into()));
    }
    Ok(())
}

/// True when USB is disabled (`model='none'`).
pub fn usb_disabled(list: &[Controller]) -> bool {
    list.iter()
        .any(|c| c.ctype == "usb" && c.model.as_deref() == Some("none"))
}

fn find(list: &[Controller], ctype: &str, idx: u32) -> bool {
    list.iter()
        .any(|c| c.ctype == ctype && c.index == Some(idx))
}

fn unused_index(list: &[Controller], ctype: &str) -> u32 {
    let mut i = 0;
    while find(list, ctype, i) {
        i += 1;
    }
    i
}

/// Gives every controller without an index one, as libvirt does right
/// after parsing (USB2 companions join the group before them).
pub fn assign_indexes(list: &mut [Controller]) {
    for outer in 0..list.len() {
        if list[outer].index.is_some() {
            continue;
        }
        let mut chosen = None;
        if outer > 0 && list[outer].is_usb2() {
            let prev = (0..outer).rev().find(|&p| list[p].ctype == "usb");
            if let Some(p) = prev.filter(|&p| list[p].is_usb2()) {
                let pidx = list[p].index;
                let clash = list
                    .iter()
                    .any(|c| c.ctype == "usb" && c.index == pidx && c.model == list[outer].model);
                if !clash {
                    chosen = pidx;
                }
            }
        }
        let idx = chosen.unwrap_or_else(|| unused_index(list, &list[outer].ctype));
        list[outer].index = Some(idx);
    }
}

/// Rejects two controllers of one type at one index (USB excepted).
pub fn reject_duplicates(list: &[Controller]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for c in list.iter().filter(|c| c.ctype != "usb") {
        let idx = c.index.unwrap_or(0);
        if !seen.insert((c.ctype.as_str(), idx)) {
            return Err(Error::xml(format!(
                "Multiple '{}' controllers with index '{}'",
                c.ctype, idx
            )));
        }
    }
    Ok(())
}

/// Adds a controller of `ctype` at `idx` unless one exists
/// (virDomainDefMaybeAddController); appended at the end, as libvirt does.
pub fn maybe_add(list: &mut Vec<Controller>, ctype: &str, idx: u32) {
    if !find(list, ctype, idx) {
        list.push(Controller::implicit(ctype, idx));
    }
}
