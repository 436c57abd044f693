//! Host interface XML (`<interface type='ethernet|bridge|bond|vlan'>`),
//! written in libvirt's order (virInterfaceDefDevFormat).

use crate::dom::{self, Element};
use crate::error::{Error, Result};
use crate::writer::{Attrs, Writer};

/// A host interface definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub kind: String,
    pub name: Option<String>,
    pub start_mode: Option<String>,
    pub mtu: Option<u32>,
    pub mac: Option<String>,
    /// `<protocol>` elements, as written.
    pub protocols: Vec<Element>,
    /// `<link>`, as written.
    pub link: Option<Element>,
    /// `<bridge>`, `<bond>` or `<vlan>`, as written.
    pub body: Option<Element>,
}

const KINDS: &[&str] = &["ethernet", "bridge", "bond", "vlan"];

impl Interface {
    pub fn parse(xml: &str) -> Result<Interface> {
        let root = dom::parse(xml, "interface.xml")?;
        Interface::from_element(&root)
    }

    pub fn from_element(root: &Element) -> Result<Interface> {
        if root.name != "interface" {
            return Err(Error::Xml(format!(
                "unexpected root element <{}>, expecting <interface>",
                root.name
            )));
        }
        let kind = root
            .attr("type")
            .ok_or_else(|| Error::Xml("interface misses the type attribute".into()))?;
        if !KINDS.contains(&kind) {
            return Err(Error::Xml(format!("unknown interface type {}", kind)));
        }
        let name = root.attr("name").map(str::to_string);
        if name.is_none() && kind != "vlan" {
            return Err(Error::Xml("interface has no name".into()));
        }
        let mtu = match root.child("mtu").and_then(|m| m.attr("size")) {
            Some(v) => Some(
                v.parse::<u32>()
                    .map_err(|_| Error::Xml("interface mtu value is improper".into()))?,
            ),
            None => None,
        };
        Ok(Interface {
            kind: kind.to_string(),
            name,
            start_mode: root
                .child("start")
                .and_then(|s| s.attr("mode"))
                .map(str::to_string),
            mtu,
            mac: root
                .child("mac")
                .and_then(|m| m.attr("address"))
                .map(str::to_string),
            protocols: root.children_named("protocol").cloned().collect(),
            link: root.child("link").cloned(),
            body: ["bridge", "bond", "vlan"]
                .iter()
                .find_map(|n| root.child(n))
                .cloned(),
        })
    }

    pub fn format(&self) -> String {
        let mut w = Writer::new();
        let a = Attrs::new()
            .add("type", &self.kind)
            .opt("name", self.name.as_deref());
        w.elem("interface", a, |w| {
            if let Some(m) = &self.start_mode {
                w.empty("start", Attrs::new().add("mode", m));
            }
            if let Some(m) = self.mtu {
                w.empty("mtu", Attrs::new().add("size", m.to_string()));
            }
            for p in &self.protocols {
                w.element(p);
            }
            if self.kind != "bridge" {
                if let Some(l) = &self.link {
                    w.element(l);
                }
            }
            if self.kind == "ethernet" {
                if let Some(m) = &self.mac {
                    w.empty("mac", Attrs::new().add("address", m));
                }
            }
            if let Some(b) = &self.body {
                w.element(b);
            }
        });
        w.into_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethernet_is_written_in_libvirt_order() {
        let x = "<interface type=\"ethernet\" name=\"eth1\"><start mode=\"onboot\"/><mac address=\"aa:bb:cc:dd:ee:ff\"/><mtu size=\"1492\"/></interface>";
        let i = Interface::parse(x).expect("parses");
        assert_eq!(
            i.format(),
            "<interface type='ethernet' name='eth1'>\n  <start mode='onboot'/>\n  <mtu size='1492'/>\n  <mac address='aa:bb:cc:dd:ee:ff'/>\n</interface>\n"
        );
    }
}
