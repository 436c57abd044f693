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
            "pci"
                if ["domain", "bus", "slot", "function"]
                    .iter()
                    .all(|k| a.attr(k).is_none_or(|_| num(a, k) == Some(0))) =>
            {
                vec![("multifunction", a.attr("multifunction").map(str::to_string))]
            }
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
                .map(|k| (*k, Some(num(a, k).unwrap_or(0).to_string())))
                .collect(),
            "ccid" => ["controller", "slot"]
                .iter()
                .map(|k| (*k, Some(num(a, k).unwrap_or(0).to_string())))
                .collect(),
            "ccw" => vec![
                (
                    "cssid",
                    Some(format!("0x{:x}", num(a, "cssid").unwrap_or(0))),
                ),
                ("ssid", Some(format!("0x{:x}", num(a, "ssid").unwrap_or(0)))),
                (
                    "devno",
                    Some(format!("0x{:04x}", num(a, "devno").unwrap_or(0))),
                ),
            ],
            "spapr-vio" => vec![("reg", num(a, "reg").map(|v| format!("0x{:08x}", v)))],
            "isa" => vec![
                (
                    "iobase",
                    num(a, "iobase")
                        .filter(|v| *v > 0)
                        .map(|v| format!("0x{:x}", v)),
                ),
                (
                    "irq",
                    num(a, "irq")
                        .filter(|v| *v > 0)
                        .map(|v| format!("0x{:x}", v)),
                ),
            ],
            _ => continue,
        };
        // Unparseable values stay as written; validation reports them.
        if fields
            .iter()
            .any(|(k, _)| a.attr(k).is_some() && num(a, k).is_none() && *k != "multifunction")
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
        if kind == "pci" {
            canonical_zpci(&mut fresh);
        }
        *a = fresh;
    }
}

/// A PCI address's `<zpci>` as libvirt writes it: both ids, fixed hex
/// widths, as soon as either is given; nothing when neither is
/// (virZPCIDeviceAddressIsPresent). Unparseable values stay for
/// validation to report.
fn canonical_zpci(address: &mut Element) {
    use crate::dom::Node;
    address.children.retain_mut(|n| {
        let Node::Element(z) = n else { return true };
        if z.name != "zpci" {
            return true;
        }
        let uid = z.attr("uid").map(props::parse_u64_any_base);
        let fid = z.attr("fid").map(props::parse_u64_any_base);
        if matches!(uid, Some(None)) || matches!(fid, Some(None)) {
            return true;
        }
        if uid.is_none() && fid.is_none() {
            return false;
        }
        let mut fresh = Element::new("zpci");
        fresh.line = z.line;
        fresh.set_attr("uid", format!("0x{:04x}", uid.flatten().unwrap_or(0)));
        fresh.set_attr("fid", format!("0x{:08x}", fid.flatten().unwrap_or(0)));
        *z = fresh;
        true
    });
}

/// libvirt's range checks of a device's PCI address.
pub fn check_address(el: &Element) -> crate::error::Result<()> {
    let Some(a) = el.child("address") else {
        return Ok(());
    };
    if a.attr("type") != Some("pci") {
        return Ok(());
    }
    let num = |k: &str| a.attr(k).and_then(props::parse_u64_any_base);
    let checks = [
        ("domain", 0xFFFF_u64, "0x%04x"),
        ("bus", 0xFF, "0x%02x"),
        ("slot", 0x1F, "0x%02x"),
        ("function", 7, "0x%x"),
    ];
    for (k, max, _) in checks {
        if let Some(v) = num(k) {
            if v > max {
                let msg = match k {
                    "domain" => format!(
                        "Invalid PCI address domain='0x{:04x}', must be <= 0x{:X}",
                        v, max
                    ),
                    "bus" => format!(
                        "Invalid PCI address bus='0x{:02x}', must be <= 0x{:X}",
                        v, max
                    ),
                    "slot" => format!(
                        "Invalid PCI address slot='0x{:02x}', must be <= 0x{:X}",
                        v, max
                    ),
                    _ => format!("Invalid PCI address function=0x{:x}, must be <= {}", v, max),
                };
                return Err(crate::error::Error::xml(msg));
            }
        }
    }
    Ok(())
}
