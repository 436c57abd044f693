//! A virtual network port (`<networkport>`, virNetworkPortDef): what a
//! network hands a guest NIC, parsed and written in libvirt's order.

use crate::dom::{self, Element};
use crate::domain::devices::Bandwidth;
use crate::error::{Error, Result};
use crate::props::{Mac, Uuid};
use crate::writer::{Attrs, Writer};

/// How the port is plugged (`<plug type=...>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Plug {
    /// No `<plug>`: the network decides (virNetworkPortCreateXML without
    /// RECLAIM).
    #[default]
    None,
    /// `type='network'` (a libvirt-managed bridge) or `type='bridge'` (a
    /// host bridge), with the bridge and its macTableManager.
    Bridge {
        network: bool,
        bridge: String,
        mac_table_manager: Option<String>,
    },
    /// `type='direct'`: a macvtap on `dev` in `mode`.
    Direct { dev: String, mode: String },
    /// `type='hostdev-pci'`: domain, bus, slot, function.
    HostdevPci {
        managed: Option<bool>,
        driver: Option<String>,
        addr: (u32, u32, u32, u32),
    },
}

impl Plug {
    /// The type attribute libvirt writes.
    pub fn type_name(&self) -> Option<&'static str> {
        match self {
            Plug::None => None,
            Plug::Bridge { network: true, .. } => Some("network"),
            Plug::Bridge { .. } => Some("bridge"),
            Plug::Direct { .. } => Some("direct"),
            Plug::HostdevPci { .. } => Some("hostdev-pci"),
        }
    }

    /// The bridge of a bridge or network plug.
    pub fn bridge(&self) -> Option<&str> {
        match self {
            Plug::Bridge { bridge, .. } => Some(bridge),
            _ => None,
        }
    }
}

/// `<networkport>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPort {
    pub uuid: Uuid,
    pub owner_name: String,
    pub owner_uuid: Uuid,
    pub group: Option<String>,
    pub mac: Mac,
    /// `<virtualport>`, as written.
    pub virtualport: Option<Element>,
    pub bandwidth: Option<Bandwidth>,
    /// `<bandwidth classID=...>`: the tc class the network gave the port.
    pub class_id: Option<u32>,
    /// `<vlan>`, as written.
    pub vlan: Option<Element>,
    pub isolated: Option<bool>,
    pub trust_guest_rx_filters: Option<bool>,
    pub plug: Plug,
}

const MAC_TABLE_MANAGERS: &[&str] = &["kernel", "libvirt"];
const MACVLAN_MODES: &[&str] = &["vepa", "private", "bridge", "passthrough"];

fn internal(m: impl Into<String>) -> Error {
    Error::Internal(m.into())
}

fn tristate(el: Option<&Element>, attr: &str) -> Result<Option<bool>> {
    let Some(v) = el.and_then(|e| e.attr(attr)) else {
        return Ok(None);
    };
    match v {
        "yes" => Ok(Some(true)),
        "no" => Ok(Some(false)),
        _ => Err(Error::Xml(format!(
            "Invalid value for attribute '{}' in element '{}': '{}'.",
            attr,
            el.map(|e| e.name.as_str()).unwrap_or(""),
            v
        ))),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn pci_part(el: &Element, attr: &str) -> Result<u32> {
    match el.attr(attr) {
        None => Ok(0),
        Some(v) => crate::props::parse_u64_any_base(v)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| Error::Xml(format!("Cannot parse <address> '{}' attribute", attr))),
    }
}

impl NetworkPort {
    /// virNetworkPortDefParse.
    pub fn parse(xml: &str) -> Result<NetworkPort> {
        let mut root = dom::parse(xml, "(networkport_definition)")?;
        root.strip_blanks();
        if root.name != "networkport" {
            return Err(Error::Xml(format!(
                "unexpected root element <{}>, expecting <networkport>",
                root.name
            )));
        }
        NetworkPort::from_element(&root)
    }

    pub fn from_element(el: &Element) -> Result<NetworkPort> {
        let uuid_s = el
            .child("uuid")
            .map(|u| u.text())
            .ok_or_else(|| internal("network port has no uuid"))?;
        let uuid = Uuid::parse(uuid_s.trim())
            .ok_or_else(|| internal(format!("Unable to parse UUID '{}'", uuid_s)))?;
        let owner = el.child("owner");
        let owner_name = owner
            .and_then(|o| o.child("name"))
            .map(|n| n.text())
            .ok_or_else(|| internal("network port has no owner name"))?;
        let owner_uuid_s = owner
            .and_then(|o| o.child("uuid"))
            .map(|n| n.text())
            .ok_or_else(|| internal("network port has no owner UUID"))?;
        let owner_uuid = Uuid::parse(owner_uuid_s.trim())
            .ok_or_else(|| internal(format!("Unable to parse UUID '{}'", owner_uuid_s)))?;
        let mac_s = el
            .child("mac")
            .and_then(|m| m.attr("address"))
            .ok_or_else(|| internal("network port has no mac"))?;
        let mac = Mac::parse(mac_s)
            .ok_or_else(|| internal(format!("Unable to parse MAC '{}'", mac_s)))?;
        let (bandwidth, class_id) = match el.child("bandwidth") {
            None => (None, None),
            Some(b) => {
                let class_id =
                    match b.attr("classID") {
                        None => None,
                        Some(c) => Some(c.trim().parse::<u32>().map_err(|_| {
                            Error::Xml(format!("Unable to parse class id '{}'", c))
                        })?),
                    };
                (Some(Bandwidth::from_element(b)), class_id)
            }
        };
        let isolated = tristate(el.child("port"), "isolated")?;
        let trust = tristate(el.child("rxfilters"), "trustGuest")?;
        let plug_el = el.child("plug");
        let plug = match plug_el.map(|p| (p, p.attr("type"))) {
            None | Some((_, None)) => Plug::None,
            Some((p, Some(t @ ("network" | "bridge")))) => {
                let bridge = p
                    .attr("bridge")
                    .ok_or_else(|| Error::Xml("Missing network port bridge name".into()))?
                    .to_string();
                let mtm = match p.attr("macTableManager") {
                    None => None,
                    Some(m) if MAC_TABLE_MANAGERS.contains(&m) => Some(m.to_string()),
                    Some(m) => {
                        return Err(Error::Xml(format!(
                            "Invalid macTableManager setting '{}' in network port",
                            m
                        )))
                    }
                };
                Plug::Bridge {
                    network: t == "network",
                    bridge,
                    mac_table_manager: mtm,
                }
            }
            Some((p, Some("direct"))) => {
                let dev = p
                    .attr("dev")
                    .ok_or_else(|| Error::Xml("Missing network port link device name".into()))?
                    .to_string();
                let mode = match p.attr("mode") {
                    None => "vepa".to_string(),
                    Some(m) if MACVLAN_MODES.contains(&m) => m.to_string(),
                    Some(m) => {
                        return Err(Error::Xml(format!(
                            "Invalid mode setting '{}' in network port",
                            m
                        )))
                    }
                };
                Plug::Direct { dev, mode }
            }
            Some((p, Some("hostdev-pci"))) => {
                let managed = tristate(Some(p), "managed")?;
                let driver = match p.child("driver").and_then(|d| d.attr("name")) {
                    None => None,
                    Some(d @ ("kvm" | "vfio")) => Some(d.to_string()),
                    Some(_) => return Err(Error::Xml("Missing network port driver name".into())),
                };
                let a = p
                    .child("address")
                    .ok_or_else(|| Error::Xml("Missing network port PCI address".into()))?;
                Plug::HostdevPci {
                    managed,
                    driver,
                    addr: (
                        pci_part(a, "domain")?,
                        pci_part(a, "bus")?,
                        pci_part(a, "slot")?,
                        pci_part(a, "function")?,
                    ),
                }
            }
            Some((_, Some(t))) => {
                return Err(Error::Xml(format!(
                    "Invalid value for attribute 'type' in element 'plug': '{}'.",
                    t
                )))
            }
        };
        Ok(NetworkPort {
            uuid,
            owner_name,
            owner_uuid,
            group: el.child("group").map(|g| g.text()),
            mac,
            virtualport: el.child("virtualport").cloned(),
            bandwidth,
            class_id,
            vlan: el.child("vlan").cloned(),
            isolated,
            trust_guest_rx_filters: trust,
            plug,
        })
    }

    /// virNetworkPortDefFormat.
    pub fn format(&self) -> String {
        let mut w = Writer::new();
        w.block("networkport", Attrs::new(), |w| {
            w.text("uuid", Attrs::new(), self.uuid);
            w.block("owner", Attrs::new(), |w| {
                w.text("name", Attrs::new(), &self.owner_name);
                w.text("uuid", Attrs::new(), self.owner_uuid);
            });
            if let Some(g) = &self.group {
                w.text("group", Attrs::new(), g);
            }
            w.empty("mac", Attrs::new().add("address", self.mac));
            if let Some(v) = &self.virtualport {
                w.element(v);
            }
            if let Some(b) = &self.bandwidth {
                b.write_with_class(w, self.class_id);
            }
            if let Some(v) = &self.vlan {
                w.element(v);
            }
            if let Some(i) = self.isolated {
                w.empty("port", Attrs::new().add("isolated", yes_no(i)));
            }
            if let Some(t) = self.trust_guest_rx_filters {
                w.empty("rxfilters", Attrs::new().add("trustGuest", yes_no(t)));
            }
            match &self.plug {
                Plug::None => {}
                Plug::Bridge {
                    bridge,
                    mac_table_manager,
                    ..
                } => w.empty(
                    "plug",
                    Attrs::new()
                        .opt("type", self.plug.type_name())
                        .add("bridge", bridge)
                        .opt("macTableManager", mac_table_manager.as_deref()),
                ),
                Plug::Direct { dev, mode } => w.empty(
                    "plug",
                    Attrs::new()
                        .add("type", "direct")
                        .add("dev", dev)
                        .add("mode", mode),
                ),
                Plug::HostdevPci {
                    managed,
                    driver,
                    addr,
                } => {
                    let a = Attrs::new()
                        .add("type", "hostdev-pci")
                        .opt("managed", managed.map(yes_no));
                    w.block("plug", a, |w| {
                        if let Some(d) = driver {
                            w.empty("driver", Attrs::new().add("name", d));
                        }
                        w.empty(
                            "address",
                            Attrs::new()
                                .add("domain", format!("0x{:04x}", addr.0))
                                .add("bus", format!("0x{:02x}", addr.1))
                                .add("slot", format!("0x{:02x}", addr.2))
                                .add("function", format!("0x{:x}", addr.3)),
                        );
                    });
                }
            }
        });
        w.into_string()
    }
}
