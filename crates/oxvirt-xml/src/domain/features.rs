//! `<features>` in libvirt's canonical form: features in libvirt's order
//! (virDomainFeature), defaults made explicit, Hyper-V enlightenments in
//! their order, sizes in libvirt's units. The section stays an element
//! so callers can read it as written.

use crate::dom::{Element, Node};
use crate::props;
use crate::writer::{Attrs, Writer};

/// Features in the order libvirt writes them (virDomainFeature).
const FEATURE_ORDER: &[&str] = &[
    "acpi",
    "apic",
    "pae",
    "hap",
    "viridian",
    "privnet",
    "hyperv",
    "kvm",
    "pvspinlock",
    "capabilities",
    "pmu",
    "vmport",
    "gic",
    "smm",
    "ioapic",
    "hpt",
    "vmcoreinfo",
    "htm",
    "nested-hv",
    "msrs",
    "ccf-assist",
    "xen",
    "cfpc",
    "sbbc",
    "ibs",
    "tcg",
];

/// Hyper-V enlightenments in the order libvirt writes them
/// (virDomainHyperv).
pub const HYPERV_ORDER: &[&str] = &[
    "relaxed",
    "vapic",
    "spinlocks",
    "vpindex",
    "runtime",
    "synic",
    "stimer",
    "reset",
    "vendor_id",
    "frequencies",
    "reenlightenment",
    "tlbflush",
    "ipi",
    "evmcs",
    "avic",
];

/// Features whose absent `state` means on.
const STATE_DEFAULT_ON: &[&str] = &["vmcoreinfo", "hap", "pmu", "pvspinlock", "vmport", "smm"];

fn rank(order: &[&str], name: &str) -> usize {
    order.iter().position(|n| *n == name).unwrap_or(order.len())
}

/// Sorts element children by `order`, keeping document order among equals
/// and text nodes dropped.
fn sort_children(el: &mut Element, order: &[&str]) {
    let mut kids: Vec<Element> = el.elements().cloned().collect();
    kids.sort_by_key(|c| rank(order, &c.name));
    el.children = kids.into_iter().map(Node::Element).collect();
}

fn canonical_hyperv(h: &Element) -> Element {
    let mut out = h.clone();
    if out.attr("mode").is_none() {
        out.set_attr("mode", "custom");
    }
    sort_children(&mut out, HYPERV_ORDER);
    for n in out.children.iter_mut() {
        let Node::Element(c) = n else { continue };
        let on = c.attr("state") == Some("on");
        let keep: &[&str] = match c.name.as_str() {
            "spinlocks" if on => &["state", "retries"],
            "vendor_id" if on => &["state", "value"],
            _ => &["state"],
        };
        c.attrs.retain(|a| keep.contains(&a.name.as_str()));
        if c.name == "stimer" {
            let direct_on = on
                && c.children_named("direct")
                    .last()
                    .is_some_and(|d| d.attr("state") == Some("on"));
            c.children.clear();
            if direct_on {
                let mut d = Element::new("direct");
                d.set_attr("state", "on");
                c.children.push(Node::Element(d));
            }
        } else {
            c.children.clear();
        }
    }
    out
}

/// `<smm>`: the state made explicit; `<tseg>` (MiB unless a unit is
/// given) written in the largest unit that divides it, only when on.
fn canonical_smm(s: &Element) -> Element {
    let mut out = s.clone();
    let on = out.attr("state") == Some("on");
    let tseg = s.child("tseg").and_then(|t| {
        let v: u64 = t.text().trim().parse().ok()?;
        props::scale(v, t.attr("unit"), 1024 * 1024, u64::MAX).ok()
    });
    if s.child("tseg").is_some() && tseg.is_none() {
        // Unparseable: left for validation to report.
        return out;
    }
    out.children.clear();
    if let (true, Some(bytes)) = (on, tseg) {
        let (v, unit) = pretty_bytes(bytes);
        let mut t = Element::new("tseg");
        t.set_attr("unit", unit);
        t.children.push(Node::Text(v.to_string()));
        out.children.push(Node::Element(t));
    }
    out
}

/// `<hpt>`: `<maxpagesize>` (KiB unless a unit is given) in KiB.
fn canonical_hpt(h: &Element) -> Element {
    let mut out = h.clone();
    let Some(m) = h.child("maxpagesize") else {
        return out;
    };
    let Some(bytes) = m
        .text()
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|v| props::scale(v, m.attr("unit"), 1024, u64::MAX).ok())
    else {
        return out;
    };
    out.children.clear();
    let kib = bytes.div_ceil(1024);
    if kib > 0 {
        let mut t = Element::new("maxpagesize");
        t.set_attr("unit", "KiB");
        t.children.push(Node::Text(kib.to_string()));
        out.children.push(Node::Element(t));
    }
    out
}

/// A size in bytes in the largest binary unit dividing it
/// (virFormatIntPretty).
pub fn pretty_bytes(bytes: u64) -> (u64, &'static str) {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes;
    let mut i = 0;
    while v != 0 && v.is_multiple_of(1024) && i + 1 < UNITS.len() {
        v /= 1024;
        i += 1;
    }
    (v, UNITS[i])
}

/// Rewrites `<features>` the way libvirt formats it.
pub fn canonical_features(el: &Element) -> Element {
    let mut out = el.clone();
    sort_children(&mut out, FEATURE_ORDER);
    for n in out.children.iter_mut() {
        let Node::Element(c) = n else { continue };
        if STATE_DEFAULT_ON.contains(&c.name.as_str()) && c.attr("state").is_none() {
            c.set_attr("state", "on");
        }
        match c.name.as_str() {
            "hyperv" => *c = canonical_hyperv(c),
            "smm" => *c = canonical_smm(c),
            "hpt" => *c = canonical_hpt(c),
            _ => {}
        }
    }
    out
}

/// Writes a canonical `<features>`: `<hyperv>` always as an open/close
/// pair, as libvirt writes it even without enlightenments.
pub fn write_features(w: &mut Writer, el: &Element) {
    let mut a = Attrs::new();
    for at in &el.attrs {
        a.push(&at.name, &at.value);
    }
    w.elem("features", a, |w| {
        for c in el.elements() {
            if c.name == "hyperv" {
                let mut ha = Attrs::new();
                for at in &c.attrs {
                    ha.push(&at.name, &at.value);
                }
                w.block("hyperv", ha, |w| {
                    for e in c.elements() {
                        w.element(e);
                    }
                });
            } else {
                w.element(c);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_units() {
        assert_eq!(pretty_bytes(48 * 1024 * 1024), (48, "MiB"));
        assert_eq!(pretty_bytes(1000), (1000, "B"));
        assert_eq!(pretty_bytes(0), (0, "B"));
    }
}
