//! `<interface>`.

use crate::dom::Element;
use crate::error::Result;
use crate::props;
use crate::writer::{Attrs, Writer};

use super::super::{Extra, FormatFlags, ParseFlags};

/// libvirt's NIC models (virDomainNetModel): a model matching one of
/// them, case aside, is stored under libvirt's spelling.
const NET_MODELS: &[&str] = &[
    "netfront",
    "rtl8139",
    "virtio",
    "e1000",
    "e1000e",
    "virtio-transitional",
    "virtio-non-transitional",
    "usb-net",
    "spapr-vlan",
    "lan9118",
    "scm91c111",
    "vlance",
    "vmxnet",
    "vmxnet2",
    "vmxnet3",
    "Am79C970A",
    "Am79C973",
    "82540EM",
    "82545EM",
    "82543GC",
];

fn canonical_model(m: &str) -> String {
    NET_MODELS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(m))
        .map(|k| k.to_string())
        .unwrap_or_else(|| m.to_string())
}

/// An `<interface>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Net {
    /// `type`: network, bridge, user, direct, ethernet, ...
    pub net_type: String,
    pub mac: Option<String>,
    /// `<mac type=... check=...>` (generated/static, yes/no), as written.
    pub mac_type: Option<String>,
    pub mac_check: Option<String>,
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
    "vlan",
    "virtualport",
    "bandwidth",
    "port",
    "ip",
    "route",
    "portForward",
    "script",
    "downscript",
    "backenddomain",
    "target",
    "guest",
    "model",
    "driver",
    "backend",
    "filterref",
    "tune",
    "teaming",
    "link",
    "mtu",
    "coalesce",
    "boot",
    "alias",
    "rom",
    "acpi",
    "address",
];

/// One direction of `<bandwidth>` (virNetDevBandwidthRate); 0 is unset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rate {
    pub average: u64,
    pub peak: u64,
    pub burst: u64,
    pub floor: u64,
}

impl Rate {
    /// Reads `<inbound>`/`<outbound>`; unset numbers are 0.
    pub fn parse(el: Option<&Element>) -> Option<Rate> {
        let el = el?;
        let n = |k: &str| el.attr(k).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        Some(Rate {
            average: n("average"),
            peak: n("peak"),
            burst: n("burst"),
            floor: n("floor"),
        })
    }

    /// virNetDevBandwidthRateFormat: nothing without an average or floor.
    fn write(&self, w: &mut Writer, name: &str) {
        if self.average == 0 && self.floor == 0 {
            return;
        }
        let nz = |v: u64| (v != 0).then_some(v);
        w.empty(
            name,
            Attrs::new()
                .opt("average", nz(self.average))
                .opt("peak", nz(self.peak))
                .opt("floor", nz(self.floor))
                .opt("burst", nz(self.burst)),
        );
    }
}

/// `<interface><bandwidth>` (virNetDevBandwidth).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bandwidth {
    pub inbound: Option<Rate>,
    pub outbound: Option<Rate>,
}

impl Bandwidth {
    /// Reads a `<bandwidth>` element.
    pub fn from_element(b: &Element) -> Bandwidth {
        Bandwidth {
            inbound: Rate::parse(b.child("inbound")),
            outbound: Rate::parse(b.child("outbound")),
        }
    }

    /// virNetDevBandwidthFormat: always an open/close pair.
    fn write(&self, w: &mut Writer) {
        self.write_with_class(w, None);
    }

    /// virNetDevBandwidthFormat with a network port's `classID`.
    pub fn write_with_class(&self, w: &mut Writer, class_id: Option<u32>) {
        w.block("bandwidth", Attrs::new().opt("classID", class_id), |w| {
            if let Some(r) = &self.inbound {
                r.write(w, "inbound");
            }
            if let Some(r) = &self.outbound {
                r.write(w, "outbound");
            }
        });
    }
}

impl Net {
    /// `<bandwidth>`, if any.
    pub fn bandwidth(&self) -> Option<Bandwidth> {
        let b = self.extra.children.iter().find(|c| c.name == "bandwidth")?;
        Some(Bandwidth::from_element(b))
    }

    /// Replaces `<bandwidth>`.
    pub fn set_bandwidth(&mut self, b: Option<&Bandwidth>) {
        self.extra.children.retain(|c| c.name != "bandwidth");
        let Some(b) = b else {
            return;
        };
        let mut el = Element::new("bandwidth");
        for (name, r) in [("inbound", &b.inbound), ("outbound", &b.outbound)] {
            if let Some(r) = r {
                let mut e = Element::new(name);
                for (k, v) in [
                    ("average", r.average),
                    ("peak", r.peak),
                    ("burst", r.burst),
                    ("floor", r.floor),
                ] {
                    if v != 0 {
                        e.set_attr(k, v.to_string());
                    }
                }
                el.children.push(crate::dom::Node::Element(e));
            }
        }
        self.extra.children.push(el);
    }

    pub fn parse(el: &Element, _flags: ParseFlags) -> Result<Net> {
        let target_el = el.child("target").cloned();
        let net_type = el.attr("type").unwrap_or("user");
        let mut extra = Extra::collect(el, &["type"], &["mac", "source", "target", "model"]);
        // virDomainNetDefParseXML reads <filterref> only for these types.
        if !matches!(net_type, "network" | "bridge" | "ethernet") {
            extra.children.retain(|c| c.name != "filterref");
        }
        // A hostdev interface's <driver> is its PCI backend (name only),
        // written with the hostdev's source.
        if net_type == "hostdev" {
            for d in extra.children.iter_mut().filter(|c| c.name == "driver") {
                d.attrs.retain(|a| a.name == "name");
                d.children.clear();
            }
            extra
                .children
                .retain(|c| c.name != "driver" || !c.attrs.is_empty());
        }
        Ok(Net {
            net_type: el.attr("type").unwrap_or("user").to_string(),
            mac: el.child("mac").and_then(|m| props::opt(m, "address")),
            mac_type: el.child("mac").and_then(|m| props::opt(m, "type")),
            mac_check: el.child("mac").and_then(|m| props::opt(m, "check")),
            source_el: el.child("source").cloned(),
            target_dev: target_el.as_ref().and_then(|t| props::opt(t, "dev")),
            target_el,
            model: el
                .child("model")
                .and_then(|m| props::opt(m, "type"))
                .map(|m| canonical_model(&m)),
            extra,
        })
    }

    /// The source the guest is attached to (network name, bridge, device).
    pub fn source_name(&self) -> Option<&str> {
        let s = self.source_el.as_ref()?;
        ["network", "bridge", "dev", "path"]
            .iter()
            .find_map(|a| s.attr(a))
    }

    pub fn write(&self, w: &mut Writer, flags: FormatFlags) {
        let a = self
            .extra
            .add_attrs(Attrs::new().add("type", &self.net_type));
        w.elem("interface", a, |w| {
            self.extra.write_ordered(w, NET_ORDER, |w, name| {
                match name {
                    "mac" => {
                        if let Some(m) = &self.mac {
                            w.empty(
                                "mac",
                                Attrs::new()
                                    .add("address", m)
                                    .opt("type", self.mac_type.as_deref())
                                    .opt("check", self.mac_check.as_deref()),
                            );
                        }
                    }
                    "driver" if self.net_type == "hostdev" => {}
                    "source" => {
                        if self.net_type == "hostdev" {
                            for d in self.extra.children.iter().filter(|c| c.name == "driver") {
                                w.element(d);
                            }
                        }
                        if let Some(s) = &self.source_el {
                            // A network port id is live data.
                            if flags.inactive && self.net_type == "network" && s.has_attr("portid")
                            {
                                let mut s = s.clone();
                                s.attrs.retain(|a| a.name != "portid");
                                w.element(&s);
                            } else {
                                w.element(s);
                            }
                        }
                    }
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
                    "bandwidth" => {
                        if let Some(b) = self.bandwidth() {
                            b.write(w);
                        }
                    }
                    _ => return false,
                }
                true
            });
        });
    }
}
