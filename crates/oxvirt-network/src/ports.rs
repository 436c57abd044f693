//! Network ports: what a network hands a guest NIC (networkAllocatePort),
//! re-attached after a restart (networkNotifyPort) and given back
//! (networkReleasePort).

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::Element;
use oxvirt_xml::domain::devices::Bandwidth;
use oxvirt_xml::netport::{NetworkPort, Plug};
use oxvirt_xml::network::{ForwardIf, ForwardMode, Network};

use crate::FROM;

fn unsupported(msg: String) -> Error {
    Error::new(code::CONFIG_UNSUPPORTED, FROM, msg)
}

/// virPortGroupFindByName: the named portgroup, or the default one.
fn portgroup<'a>(def: &'a Network, name: Option<&str>) -> Option<&'a Element> {
    def.portgroups.iter().find(|p| match name {
        Some(n) => p.attr("name") == Some(n),
        None => p.attr("default") == Some("yes"),
    })
}

/// The forward devices of a direct-mode network.
fn pool(def: &Network) -> Vec<&str> {
    def.forward
        .as_ref()
        .map(|f| {
            f.ifs
                .iter()
                .filter_map(|i| match i {
                    ForwardIf::Netdev(d) => Some(d.as_str()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn connections(ports: &[NetworkPort], dev: &str) -> usize {
    ports
        .iter()
        .filter(|p| matches!(&p.plug, Plug::Direct { dev: d, .. } if d == dev))
        .count()
}

fn vport_type(p: &NetworkPort) -> Option<&str> {
    p.virtualport.as_ref().and_then(|v| v.attr("type"))
}

/// networkAllocatePort: fills in the port's plug from the network.
pub fn allocate(def: &Network, port: &mut NetworkPort, ports: &[NetworkPort]) -> Result<()> {
    let pg = portgroup(def, port.group.as_deref());
    if port.bandwidth.is_none() {
        if let Some(b) = pg.and_then(|p| p.child("bandwidth")) {
            port.bandwidth = Some(Bandwidth::from_element(b));
        }
    }
    if port.vlan.is_none() {
        port.vlan = pg
            .and_then(|p| p.child("vlan"))
            .or(def.vlan.as_ref())
            .cloned();
    }
    if port.trust_guest_rx_filters.is_none() {
        port.trust_guest_rx_filters = pg
            .and_then(|p| p.attr("trustGuestRxFilters"))
            .map(|v| v == "yes")
            .or(def.trust_guest_rx_filters);
    }
    if port.isolated.is_none() {
        port.isolated = def.port_isolated;
    }
    if port.virtualport.is_none() {
        port.virtualport = pg
            .and_then(|p| p.child("virtualport"))
            .or(def.virtualport.as_ref())
            .cloned();
    }
    let mode = def.forward_mode();
    let mtm = def
        .bridge
        .as_ref()
        .and_then(|b| b.mac_table_manager.clone());
    match mode {
        None | Some(ForwardMode::Nat) | Some(ForwardMode::Route) | Some(ForwardMode::Open) => {
            if let Some(t) = vport_type(port) {
                return Err(unsupported(format!(
                    "<virtualport type='{}'> not supported for network '{}' which uses IP forwarding",
                    t, def.name
                )));
            }
            port.plug = Plug::Bridge {
                network: true,
                bridge: def.bridge_name().unwrap_or("").to_string(),
                mac_table_manager: mtm,
            };
        }
        Some(ForwardMode::Hostdev) => {
            return Err(Error::internal(
                FROM,
                format!(
                    "network '{}' requires exclusive access to interfaces, but none are available",
                    def.name
                ),
            ));
        }
        Some(ForwardMode::Bridge) if def.bridge_name().is_some() => {
            if let Some(t) = vport_type(port).filter(|t| *t != "openvswitch") {
                return Err(unsupported(format!(
                    "<virtualport type='{}'> not supported for network '{}' which uses a bridge device",
                    t, def.name
                )));
            }
            port.plug = Plug::Bridge {
                network: false,
                bridge: def.bridge_name().unwrap_or("").to_string(),
                mac_table_manager: mtm,
            };
        }
        Some(m) => {
            if let Some(t) = vport_type(port).filter(|t| *t != "802.1Qbg" && *t != "802.1Qbh") {
                return Err(unsupported(format!(
                    "<virtualport type='{}'> not supported for network '{}' which uses a macvtap device",
                    t, def.name
                )));
            }
            let devs = pool(def);
            if devs.is_empty() {
                return Err(Error::internal(
                    FROM,
                    format!(
                        "network '{}' uses a direct mode, but has no forward dev and no interface pool",
                        def.name
                    ),
                ));
            }
            let exclusive = m == ForwardMode::Passthrough
                || (m == ForwardMode::Private && vport_type(port) == Some("802.1Qbh"));
            let dev = if exclusive {
                devs.iter().find(|d| connections(ports, d) == 0).copied()
            } else {
                devs.iter().min_by_key(|d| connections(ports, d)).copied()
            };
            let Some(dev) = dev else {
                return Err(Error::internal(
                    FROM,
                    format!(
                        "network '{}' requires exclusive access to interfaces, but none are available",
                        def.name
                    ),
                ));
            };
            port.plug = Plug::Direct {
                dev: dev.to_string(),
                mode: m.to_string(),
            };
        }
    }
    check_floor(def, port)?;
    Ok(())
}

/// networkCheckBandwidth's refusal of a guaranteed minimum (`floor`) on a
/// network without inbound QoS. A floor on a network with QoS would need
/// libvirt's per-port tc classes under the bridge, which this driver does
/// not build: it says so instead of pretending.
fn check_floor(def: &Network, port: &NetworkPort) -> Result<()> {
    let floor = port
        .bandwidth
        .as_ref()
        .and_then(|b| b.inbound)
        .is_some_and(|r| r.floor > 0);
    if !floor {
        return Ok(());
    }
    let net_in = def
        .bandwidth
        .as_ref()
        .and_then(|b| b.child("inbound"))
        .is_some();
    if !net_in {
        return Err(unsupported(format!(
            "Invalid use of 'floor' on interface with MAC address {} - network '{}' has no inbound QoS set",
            port.mac, def.name
        )));
    }
    Err(Error::new(
        code::OPERATION_UNSUPPORTED,
        FROM,
        format!(
            "guaranteed inbound bandwidth ('floor') on network '{}' is not supported by this driver",
            def.name
        ),
    ))
}

/// networkNotifyPort: a port that existed before (RECLAIM) is checked
/// against the network.
pub fn notify(def: &Network, port: &NetworkPort, ports: &[NetworkPort]) -> Result<()> {
    match &port.plug {
        Plug::None => Err(Error::internal(
            FROM,
            "Unexpectedly got a network port without a plug",
        )),
        Plug::Bridge { .. } => {
            if def.bridge_name().is_none() {
                return Err(Error::internal(
                    FROM,
                    "Unexpectedly got a network port without a network bridge",
                ));
            }
            Ok(())
        }
        Plug::Direct { dev, .. } => {
            if !pool(def).contains(&dev.as_str()) {
                return Err(Error::internal(
                    FROM,
                    format!(
                        "network '{}' doesn't have dev='{}' in use by network port '{}'",
                        def.name, dev, port.uuid
                    ),
                ));
            }
            let exclusive = def.forward_mode() == Some(ForwardMode::Passthrough)
                || (def.forward_mode() == Some(ForwardMode::Private)
                    && vport_type(port) == Some("802.1Qbh"));
            if exclusive && connections(ports, dev) > 0 {
                return Err(Error::internal(
                    FROM,
                    format!(
                        "network '{}' claims dev='{}' is already in use by a different port",
                        def.name, dev
                    ),
                ));
            }
            Ok(())
        }
        Plug::HostdevPci { addr, .. } => Err(Error::internal(
            FROM,
            format!(
                "network '{}' doesn't have PCI device {:04x}:{:02x}:{:02x}.{:x} in use by network port",
                def.name, addr.0, addr.1, addr.2, addr.3
            ),
        )),
    }
}

/// networkReleasePort: nothing on the host to undo for a bridge or a
/// direct plug (the NIC's own device goes with the guest).
pub fn release(_def: &Network, _port: &NetworkPort) {}
