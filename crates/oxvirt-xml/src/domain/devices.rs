//! `<devices>`: kept per kind, written in libvirt's order of kinds.

use crate::dom::Element;
use crate::error::Result;
use crate::props;
use crate::writer::{Attrs, Writer};

use super::{Extra, FormatFlags, ParseFlags, Raw};

/// A `<disk>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// `type`: file, block, dir, network, volume, nvme, vhostuser
    pub disk_type: Option<String>,
    /// `device`: disk, cdrom, floppy, lun
    pub device: Option<String>,
    /// The source path (file, dev or dir attribute) or network name.
    pub source: Option<String>,
    pub target_dev: Option<String>,
    pub target_bus: Option<String>,
    pub extra: Extra,
    /// The `<source>` and `<target>` elements as written.
    pub source_el: Option<Element>,
    pub target_el: Option<Element>,
}

/// The order in which libvirt writes the children of `<disk>`.
pub const DISK_ORDER: &[&str] = &[
    "driver",
    "auth",
    "source",
    "backingStore",
    "backenddomain",
    "target",
    "iotune",
    "blockio",
    "geometry",
    "boot",
    "readonly",
    "shareable",
    "transient",
    "serial",
    "wwn",
    "vendor",
    "product",
    "encryption",
    "alias",
    "address",
];

impl Disk {
    pub fn parse(el: &Element, _flags: ParseFlags) -> Result<Disk> {
        let source_el = el.child("source").cloned();
        let target_el = el.child("target").cloned();
        let source = source_el.as_ref().and_then(|s| {
            ["file", "dev", "dir", "name", "volume"]
                .iter()
                .find_map(|a| s.attr(a).map(str::to_string))
        });
        Ok(Disk {
            disk_type: props::opt(el, "type"),
            device: props::opt(el, "device"),
            source,
            target_dev: target_el.as_ref().and_then(|t| props::opt(t, "dev")),
            target_bus: target_el.as_ref().and_then(|t| props::opt(t, "bus")),
            extra: Extra::collect(el, &["type", "device"], &["source", "target"]),
            source_el,
            target_el,
        })
    }

    pub fn write(&self, w: &mut Writer, _flags: FormatFlags) {
        let a = Attrs::new()
            .opt("type", self.disk_type.as_deref())
            .opt("device", self.device.as_deref());
        let a = self.extra.add_attrs(a);
        w.elem("disk", a, |w| {
            self.extra.write_ordered(w, DISK_ORDER, |w, name| {
                match name {
                    "source" => self.source_el.iter().for_each(|e| w.element(e)),
                    "target" => self.target_el.iter().for_each(|e| w.element(e)),
                    _ => return false,
                }
                true
            });
        });
    }
}

/// An `<interface>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Net {
    /// `type`: network, bridge, user, direct, ethernet, ...
    pub net_type: String,
    pub mac: Option<String>,
    /// The `<source>` element as written.
    pub source_el: Option<Element>,
    /// `<target dev=...>`
    pub target_dev: Option<String>,
    pub target_el: Option<Element>,
    /// `<model type=...>`
    pub model: Option<String>,
    pub extra: Extra,
}

/// The order in which libvirt writes the children of `<interface>`.
pub const NET_ORDER: &[&str] = &[
    "mac",
    "source",
    "virtualport",
    "ip",
    "route",
    "script",
    "downscript",
    "backenddomain",
    "target",
    "guest",
    "model",
    "driver",
    "backend",
    "teaming",
    "filterref",
    "tune",
    "vlan",
    "portForward",
    "link",
    "mtu",
    "bandwidth",
    "coalesce",
    "port",
    "rom",
    "boot",
    "alias",
    "address",
    "acpi",
];

impl Net {
    pub fn parse(el: &Element, _flags: ParseFlags) -> Result<Net> {
        let target_el = el.child("target").cloned();
        Ok(Net {
            net_type: el.attr("type").unwrap_or("user").to_string(),
            mac: el.child("mac").and_then(|m| props::opt(m, "address")),
            source_el: el.child("source").cloned(),
            target_dev: target_el.as_ref().and_then(|t| props::opt(t, "dev")),
            target_el,
            model: el.child("model").and_then(|m| props::opt(m, "type")),
            extra: Extra::collect(el, &["type"], &["mac", "source", "target", "model"]),
        })
    }

    /// The source the guest is attached to (network name, bridge, device).
    pub fn source_name(&self) -> Option<&str> {
        let s = self.source_el.as_ref()?;
        ["network", "bridge", "dev", "path"]
            .iter()
            .find_map(|a| s.attr(a))
    }

    pub fn write(&self, w: &mut Writer, _flags: FormatFlags) {
        let a = self
            .extra
            .add_attrs(Attrs::new().add("type", &self.net_type));
        w.elem("interface", a, |w| {
            self.extra.write_ordered(w, NET_ORDER, |w, name| {
                match name {
                    "mac" => {
                        if let Some(m) = &self.mac {
                            w.empty("mac", Attrs::new().add("address", m));
                        }
                    }
                    "source" => self.source_el.iter().for_each(|e| w.element(e)),
                    "target" => {
                        if let Some(t) = &self.target_el {
                            let mut t = t.clone();
                            if let Some(d) = &self.target_dev {
                                t.set_attr("dev", d.clone());
                            }
                            w.element(&t);
                        } else if let Some(d) = &self.target_dev {
                            w.empty("target", Attrs::new().add("dev", d));
                        }
                    }
                    "model" => {
                        if let Some(m) = &self.model {
                            w.empty("model", Attrs::new().add("type", m));
                        }
                    }
                    _ => return false,
                }
                true
            });
        });
    }
}

/// Device kinds in the order libvirt writes them.
pub const DEVICE_ORDER: &[&str] = &[
    "emulator",
    "disk",
    "controller",
    "lease",
    "filesystem",
    "interface",
    "smartcard",
    "serial",
    "parallel",
    "console",
    "channel",
    "input",
    "tpm",
    "graphics",
    "sound",
    "audio",
    "video",
    "hostdev",
    "redirdev",
    "redirfilter",
    "hub",
    "watchdog",
    "memballoon",
    "rng",
    "nvram",
    "panic",
    "shmem",
    "memory",
    "iommu",
    "vsock",
];

/// `<devices>`
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Devices {
    pub emulator: Option<String>,
    pub disks: Vec<Disk>,
    pub interfaces: Vec<Net>,
    /// Other devices kept verbatim, in document order.
    pub raw: Vec<Raw>,
}

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

impl Devices {
    pub fn parse(el: Option<&Element>, flags: ParseFlags) -> Result<Devices> {
        let mut d = Devices::default();
        let Some(el) = el else {
            return Ok(d);
        };
        d.emulator = el.child("emulator").map(|e| e.text());
        for c in el.elements() {
            let mut c = c.clone();
            normalize_address(&mut c);
            if c.name == "interface" && c.attr("type") == Some("network") {
                if let Some(crate::dom::Node::Element(s)) = c
                    .children
                    .iter_mut()
                    .find(|n| matches!(n, crate::dom::Node::Element(e) if e.name == "source"))
                {
                    s.attrs
                        .retain(|a| matches!(a.name.as_str(), "network" | "portgroup" | "portid"));
                }
            }
            let c = &c;
            match c.name.as_str() {
                "emulator" => {}
                "disk" => d.disks.push(Disk::parse(c, flags)?),
                "interface" => d.interfaces.push(Net::parse(c, flags)?),
                n if super::is_schema_element(n) => d.raw.push(Raw(c.clone())),
                _ => {}
            }
        }
        Ok(d)
    }

    pub fn write(&self, w: &mut Writer, flags: FormatFlags) {
        w.block("devices", Attrs::new(), |w| {
            for kind in DEVICE_ORDER {
                match *kind {
                    "emulator" => w.opt_text("emulator", self.emulator.as_deref()),
                    "disk" => self.disks.iter().for_each(|d| d.write(w, flags)),
                    "interface" => self.interfaces.iter().for_each(|n| n.write(w, flags)),
                    k => self
                        .raw
                        .iter()
                        .filter(|r| r.0.name == k)
                        .for_each(|r| r.format(w)),
                }
            }
            for r in self
                .raw
                .iter()
                .filter(|r| !DEVICE_ORDER.contains(&r.0.name.as_str()))
            {
                r.format(w);
            }
        });
    }
}
