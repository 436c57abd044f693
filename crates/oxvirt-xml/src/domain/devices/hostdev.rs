//! `<hostdev>`, kept as an element and written in libvirt's canonical
//! form: attribute order, `managed` for subsystem devices, source
//! addresses in libvirt's hex widths.

use crate::dom::{Element, Node};
use crate::props;

/// Attributes of `<hostdev>` in the order libvirt writes them.
const ATTR_ORDER: &[&str] = &[
    "mode", "type", "managed", "sgio", "rawio", "model", "display", "ramfb",
];

/// Rewrites a `<hostdev>` element in place.
pub fn canonicalize_hostdev(el: &mut Element) {
    let mode = el.attr("mode").unwrap_or("subsystem").to_string();
    el.set_attr("mode", mode.clone());
    if mode == "subsystem" {
        let managed = if el.attr("managed") == Some("yes") {
            "yes"
        } else {
            "no"
        };
        el.set_attr("managed", managed);
    }
    el.attrs.sort_by_key(|a| {
        ATTR_ORDER
            .iter()
            .position(|o| *o == a.name)
            .unwrap_or(ATTR_ORDER.len())
    });
    let pci = el.attr("type") == Some("pci");
    let scsi = el.attr("type") == Some("scsi");
    for n in el.children.iter_mut() {
        let Node::Element(src) = n else { continue };
        if src.name != "source" {
            continue;
        }
        // An iSCSI source without a LUN means LUN 0.
        if scsi && src.attr("protocol") == Some("iscsi") {
            if let Some(name) = src.attr("name").filter(|n| !n.contains('/')) {
                let name = format!("{}/0", name);
                src.set_attr("name", name);
            }
        }
        for m in src.children.iter_mut() {
            let Node::Element(a) = m else { continue };
            if a.name == "address" && pci && a.attr("type").is_none() {
                pci_source_address(a);
            }
        }
    }
}

/// `<source><address domain= bus= slot= function=/>` of a PCI host device.
fn pci_source_address(a: &mut Element) {
    let num = |k: &str| a.attr(k).and_then(props::parse_u64_any_base);
    let fields = [
        ("domain", num("domain"), 4),
        ("bus", num("bus"), 2),
        ("slot", num("slot"), 2),
        ("function", num("function"), 1),
    ];
    if fields
        .iter()
        .any(|(k, v, _)| v.is_none() && a.attr(k).is_some())
    {
        return;
    }
    let mut fresh = Element::new("address");
    fresh.line = a.line;
    for (k, v, w) in fields {
        fresh.set_attr(k, format!("0x{:0w$x}", v.unwrap_or(0), w = w));
    }
    for at in &a.attrs {
        if !["domain", "bus", "slot", "function"].contains(&at.name.as_str()) {
            fresh.set_attr(&at.name, at.value.clone());
        }
    }
    fresh.children = std::mem::take(&mut a.children);
    *a = fresh;
}
