//! `<interface>`.

use crate::dom::Element;
use crate::error::Result;
use crate::props;
use crate::writer::{Attrs, Writer};

use super::super::{Extra, FormatFlags, ParseFlags};

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
    "boot",
    "alias",
    "rom",
    "acpi",
    "address",
];

impl Net {
    pub fn parse(el: &Element, _flags: ParseFlags) -> Result<Net> {
        let target_el = el.child("target").cloned();
        Ok(Net {
            net_type: el.attr("type").unwrap_or("user").to_string(),
            mac: el.child("mac").and_then(|m| props::opt(m, "address")),
            mac_type: el.child("mac").and_then(|m| props::opt(m, "type")),
            mac_check: el.child("mac").and_then(|m| props::opt(m, "check")),
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
                            w.empty(
                                "mac",
                                Attrs::new()
                                    .add("address", m)
                                    .opt("type", self.mac_type.as_deref())
                                    .opt("check", self.mac_check.as_deref()),
                            );
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
