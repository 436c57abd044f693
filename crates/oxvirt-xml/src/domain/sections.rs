//! Top-level sections other than identity, memory, vCPUs, `<os>` and
//! devices: tuning, CPU model, features, clock, power management,
//! security labels. Sections not typed yet are kept verbatim and written
//! in libvirt's place for them.

use crate::dom::Element;
use crate::error::{Error, Result};
use crate::props::XmlEnum;
use crate::writer::{Attrs, Writer};

use super::{Extra, FormatFlags, ParseFlags};

crate::xml_enum! {
    /// `<clock offset=...>`
    pub enum ClockOffset {
        Utc = "utc", Localtime = "localtime", Variable = "variable", Timezone = "timezone",
        Absolute = "absolute",
    }
}

/// `<clock>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    pub offset: ClockOffset,
    /// Attributes and `<timer>` children not typed yet.
    pub extra: Extra,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            offset: ClockOffset::Utc,
            extra: Extra::default(),
        }
    }
}

impl Clock {
    fn parse(el: Option<&Element>) -> Result<Clock> {
        let Some(el) = el else {
            return Ok(Clock::default());
        };
        let offset = match el.attr("offset") {
            None => ClockOffset::Utc,
            Some(o) => ClockOffset::from_xml(o)
                .ok_or_else(|| Error::unsupported(format!("unknown clock offset '{}'", o)))?,
        };
        Ok(Clock {
            offset,
            extra: Extra::collect(el, &["offset"], &[]),
        })
    }

    fn write(&self, w: &mut Writer) {
        let a = self
            .extra
            .add_attrs(Attrs::new().add("offset", self.offset));
        w.elem("clock", a, |w| {
            for c in &self.extra.children {
                w.element(c);
            }
        });
    }
}

/// Names of the top-level sections kept verbatim, by where libvirt writes them.
const BEFORE_VCPU: &[&str] = &["blkiotune", "memtune", "memoryBacking"];
const AFTER_VCPU: &[&str] = &[
    "vcpus",
    "iothreads",
    "iothreadids",
    "defaultiothread",
    "cputune",
    "numatune",
    "resource",
    "sysinfo",
];
const AFTER_OS: &[&str] = &["idmap", "features", "cpu"];
const AFTER_LIFECYCLE: &[&str] = &["pm", "perf"];
const AFTER_DEVICES: &[&str] = &["seclabel", "keywrap", "launchSecurity"];

/// The top-level sections.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sections {
    pub clock: Clock,
    /// Sections kept verbatim, in document order.
    pub raw: Vec<Element>,
}

/// A nodeset means nothing with automatic placement; libvirt drops it.
fn numatune_without_auto_nodeset(e: &Element) -> Element {
    let mut nt = e.clone();
    for n in nt.children.iter_mut() {
        if let crate::dom::Node::Element(m) = n {
            if m.name == "memory" && m.attr("placement") == Some("auto") {
                m.attrs.retain(|a| a.name != "nodeset");
            }
        }
    }
    nt
}

/// `<memoryBacking><hugepages><page>` as libvirt writes it: the size in
/// KiB (a bare number is KiB), the nodeset in canonical form.
fn canonical_memory_backing(e: &Element) -> Element {
    use crate::dom::Node;
    let mut mb = e.clone();
    // libvirt's child order (virDomainMemorybackingFormat).
    const ORDER: [&str; 7] = [
        "hugepages",
        "nosharepages",
        "locked",
        "source",
        "access",
        "allocation",
        "discard",
    ];
    let mut kids: Vec<Element> = mb.elements().cloned().collect();
    kids.sort_by_key(|c| {
        ORDER
            .iter()
            .position(|o| *o == c.name)
            .unwrap_or(ORDER.len())
    });
    mb.children = kids.into_iter().map(Node::Element).collect();
    for n in mb.children.iter_mut() {
        let Node::Element(h) = n else { continue };
        if h.name != "hugepages" {
            continue;
        }
        for p in h.children.iter_mut() {
            let Node::Element(p) = p else { continue };
            if p.name != "page" {
                continue;
            }
            let Some(kib) = p
                .attr("size")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .and_then(|v| crate::props::scale(v, p.attr("unit"), 1024, u64::MAX).ok())
                .map(|b| b.div_ceil(1024))
            else {
                continue;
            };
            let nodeset = match p.attr("nodeset") {
                None => None,
                Some(ns) => match super::postparse::parse_cpuset(ns) {
                    Ok(set) => Some(super::postparse::format_cpuset(&set)),
                    Err(_) => continue,
                },
            };
            let mut page = Element::new("page");
            page.line = p.line;
            page.set_attr("size", kib.to_string());
            page.set_attr("unit", "KiB");
            if let Some(ns) = nodeset {
                page.set_attr("nodeset", ns);
            }
            *p = page;
        }
    }
    mb
}

/// A domain `<seclabel>` in libvirt's attribute order; an inactive
/// definition has no image label (virSecurityLabelDefParseXML reads it
/// only from live XML).
fn canonical_seclabel(e: &Element, inactive: bool) -> Element {
    const ORDER: [&str; 3] = ["type", "model", "relabel"];
    let mut out = e.clone();
    out.attrs.sort_by_key(|a| {
        ORDER
            .iter()
            .position(|n| *n == a.name)
            .unwrap_or(ORDER.len())
    });
    if inactive {
        out.children
            .retain(|n| !matches!(n, crate::dom::Node::Element(c) if c.name == "imagelabel"));
    }
    out
}

impl Sections {
    pub fn parse(root: &Element, flags: ParseFlags) -> Result<Sections> {
        let clock = Clock::parse(root.child("clock"))?;
        let max_vcpus: u32 = root
            .child("vcpu")
            .and_then(|v| v.text().trim().parse().ok())
            .unwrap_or(1);
        let kept: Vec<&str> = BEFORE_VCPU
            .iter()
            .chain(AFTER_VCPU)
            .chain(AFTER_OS)
            .chain(AFTER_LIFECYCLE)
            .chain(AFTER_DEVICES)
            .copied()
            .collect();
        let raw = root
            .elements()
            .filter(|e| kept.contains(&e.name.as_str()))
            .map(|e| {
                if e.name == "cpu" {
                    super::cpu::canonical_cpu(e)
                } else if e.name == "cputune" {
                    super::tune::canonical_cputune(e, max_vcpus)
                } else if e.name == "seclabel" {
                    canonical_seclabel(e, flags.inactive)
                } else if e.name == "memoryBacking" {
                    canonical_memory_backing(e)
                } else if e.name == "features" {
                    super::features::canonical_features(e)
                } else if e.name == "numatune" {
                    numatune_without_auto_nodeset(e)
                } else {
                    e.clone()
                }
            })
            // libvirt writes no <cpu> when nothing in it is set.
            .filter(|e| e.name != "cpu" || !e.attrs.is_empty() || !e.children.is_empty())
            .collect();
        Ok(Sections { clock, raw })
    }

    /// The kept section named `name`, if any.
    pub fn raw(&self, name: &str) -> Option<&Element> {
        self.raw.iter().find(|e| e.name == name)
    }

    fn write_group(&self, w: &mut Writer, names: &[&str]) {
        for n in names {
            for e in self.raw.iter().filter(|e| e.name == *n) {
                if e.name == "features" {
                    super::features::write_features(w, e);
                } else {
                    w.element(e);
                }
            }
        }
    }

    pub fn write_before_vcpu(&self, w: &mut Writer, _flags: FormatFlags) {
        self.write_group(w, BEFORE_VCPU);
    }

    pub fn write_after_vcpu(&self, w: &mut Writer, flags: FormatFlags) {
        if !flags.inactive {
            self.write_group(w, AFTER_VCPU);
            return;
        }
        // Resource-control allocation ids are live data.
        let mut inactive = self.clone();
        for e in inactive.raw.iter_mut().filter(|e| e.name == "cputune") {
            for n in e.children.iter_mut() {
                if let crate::dom::Node::Element(c) = n {
                    if matches!(c.name.as_str(), "cachetune" | "memorytune") {
                        c.attrs.retain(|a| a.name != "id");
                    }
                }
            }
        }
        inactive.write_group(w, AFTER_VCPU);
    }

    pub fn write_after_os(&self, w: &mut Writer, _flags: FormatFlags) {
        self.write_group(w, AFTER_OS);
        self.clock.write(w);
    }

    pub fn write_after_lifecycle(&self, w: &mut Writer, _flags: FormatFlags) {
        self.write_group(w, AFTER_LIFECYCLE);
    }

    pub fn write_after_devices(&self, w: &mut Writer, _flags: FormatFlags) {
        self.write_group(w, AFTER_DEVICES);
    }
}
