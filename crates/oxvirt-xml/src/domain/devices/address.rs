//! Device addresses (`<address>`) in libvirt's canonical form.

use crate::dom::Element;
use crate::props;

/// Rewrites a device's `<address>` in libvirt's canonical form
/// (virDomainDeviceInfoFormat): fixed attribute order, hex widths.
pub fn normalize_address(el: &mut Element) {
    use crate::dom::Node;
    for n in el.children.iter_mut() {
        let Node::Element(a) = n else { continue };
        if a.name != "address" {
            continue;
        }
        let Some(kind) = a.attr("type").map(str::to_string) else {
            continue;
        };
        let num = |a: &Element, k: &str| a.attr(k).and_then(props::parse_u64_any_base);
        let fields: Vec<(&str, Option<String>)> = match kind.as_str() {
            "pci" => vec![
                ("domain", num(a, "domain").map(|v| format!("0x{:04x}", v))),
                ("bus", num(a, "bus").map(|v| format!("0x{:02x}", v))),
                ("slot", num(a, "slot").map(|v| format!("0x{:02x}", v))),
                ("function", num(a, "function").map(|v| format!("0x{:x}", v))),
                ("multifunction", a.attr("multifunction").map(str::to_string)),
            ],
            "drive" => ["controller", "bus", "target", "unit"]
                .iter()
                .map(|k| (*k, num(a, k).map(|v| v.to_string())))
                .collect(),
            "virtio-serial" => ["controller", "bus", "port"]
                .iter()
                .map(|k| (*k, num(a, k).map(|v| v.to_string())))
                .collect(),
            "ccid" => ["controller", "slot"]
                .iter()
                .map(|k| (*k, num(a, k).map(|v| v.to_string())))
                .collect(),
            _ => continue,
        };
        // Unparseable values stay as written; validation reports them.
        if fields
            .iter()
            .any(|(k, v)| v.is_none() && a.attr(k).is_some())
        {
            continue;
        }
        let mut fresh = Element::new("address");
        fresh.line = a.line;
        fresh.set_attr("type", kind.clone());
        for (k, v) in fields {
            if let Some(v) = v {
                // libvirt writes drive addresses in full, zeros included.
                fresh.set_attr(k, v);
            } else if kind == "pci" && k != "multifunction" {
                fresh.set_attr(
                    k,
                    if k == "domain" {
                        "0x0000"
                    } else if k == "function" {
                        "0x0"
                    } else {
                        "0x00"
                    },
                );
            } else if kind == "drive" {
                fresh.set_attr(k, "0");
            }
        }
        fresh.children = std::mem::take(&mut a.children);
        *a = fresh;
    }
}
