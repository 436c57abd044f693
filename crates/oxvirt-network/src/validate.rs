//! networkValidate: what the network driver checks and fills in before a
//! definition is accepted (bridge name, bridge MAC, what each forward
//! mode allows), with libvirt's messages.

use oxvirt_core::error::code;
use oxvirt_core::netconf::NetworkList;
use oxvirt_core::{Error, Result};
use oxvirt_xml::network::{ForwardIf, ForwardMode, Network};
use oxvirt_xml::props::Mac;

use crate::FROM;

/// libvirt's MAX_BRIDGE_ID.
const MAX_BRIDGE_ID: u32 = 256;

fn unsupported(msg: String) -> Error {
    Error::new(code::CONFIG_UNSUPPORTED, FROM, msg)
}

fn mode_name(def: &Network) -> String {
    def.forward_mode()
        .map(|m| m.to_string())
        .unwrap_or_else(|| "none".into())
}

/// A random MAC with libvirt's prefix 52:54:00.
pub fn random_mac() -> Mac {
    let u = uuid::Uuid::new_v4();
    let b = u.as_bytes();
    Mac([0x52, 0x54, 0x00, b[0], b[1], b[2]])
}

/// networkFindUnusedBridgeName: the first `virbr%d` (or the given
/// template) no other network uses and no device has.
fn find_unused_bridge(nets: &NetworkList, def: &mut Network) -> Result<()> {
    let templ = def
        .bridge_name()
        .filter(|b| b.matches('%').count() == 1 && b.contains("%d"))
        .unwrap_or("virbr%d")
        .to_string();
    for id in 0..=MAX_BRIDGE_ID {
        let name = templ.replacen("%d", &id.to_string(), 1);
        if !nets.bridge_in_use(&name, &def.name) && !oxvirt_netdev::link::exists(&name) {
            def.bridge.get_or_insert_with(Default::default).name = Some(name);
            return Ok(());
        }
    }
    Err(Error::internal(
        FROM,
        format!("Bridge generation exceeded max id {}", MAX_BRIDGE_ID),
    ))
}

/// networkValidate.
pub fn validate(nets: &NetworkList, def: &mut Network) -> Result<()> {
    if def.name.contains('\n') {
        return Err(Error::new(
            code::XML_DETAIL,
            FROM,
            format!("name {} cannot contain '\n'", def.name),
        ));
    }
    let mode = def.forward_mode();
    let mut bandwidth_allowed = false;
    match mode {
        None | Some(ForwardMode::Nat) | Some(ForwardMode::Route) | Some(ForwardMode::Open) => {
            match def.bridge_name() {
                Some(b) if !b.contains("%d") => {
                    if nets.bridge_in_use(b, &def.name) {
                        return Err(Error::internal(
                            FROM,
                            format!("bridge name '{}' already in use.", b),
                        ));
                    }
                }
                _ => find_unused_bridge(nets, def)?,
            }
            if def.mac.is_none() {
                def.mac = Some(random_mac());
            }
            bandwidth_allowed = true;
        }
        Some(_) => {
            if mode == Some(ForwardMode::Bridge) && def.bridge_name().is_some() {
                bandwidth_allowed = true;
            }
            let m = mode_name(def);
            if def.mac.is_some() {
                return Err(unsupported(format!(
                    "Unsupported <mac> element in network {} with forward mode='{}'",
                    def.name, m
                )));
            }
            if !def.ips.is_empty() {
                return Err(unsupported(format!(
                    "Unsupported <ip> element in network {} with forward mode='{}'",
                    def.name, m
                )));
            }
            if !def.dns.txts.is_empty() || !def.dns.hosts.is_empty() || !def.dns.srvs.is_empty() {
                return Err(unsupported(format!(
                    "Unsupported <dns> element in network {} with forward mode='{}'",
                    def.name, m
                )));
            }
            if def.domain.is_some() {
                return Err(unsupported(format!(
                    "Unsupported <domain> element in network {} with forward mode='{}'",
                    def.name, m
                )));
            }
        }
    }
    if def
        .bandwidth
        .as_ref()
        .is_some_and(|b| b.has_element_children())
        && !bandwidth_allowed
    {
        return Err(unsupported(format!(
            "Unsupported network-wide <bandwidth> element in network {} with forward mode='{}'",
            def.name,
            mode_name(def)
        )));
    }
    if let Some(f) = &def.forward {
        let mut uses_if = false;
        let mut uses_addr = false;
        for i in &f.ifs {
            match i {
                ForwardIf::Netdev(d) => {
                    uses_if = true;
                    if f.mode == ForwardMode::Hostdev {
                        return Err(unsupported(format!(
                            "hostdev network '{}' lists '{}' in the device pool, but hostdev networks require all devices to be listed by PCI address, not network device name",
                            def.name, d
                        )));
                    }
                }
                ForwardIf::Pci(..) => {
                    uses_addr = true;
                    if f.mode != ForwardMode::Hostdev {
                        return Err(unsupported(format!(
                            "network '{}' has forward mode '{}'  but lists a device by PCI address in the device pool. This is only supported for networks with forward mode 'hostdev'",
                            def.name, f.mode
                        )));
                    }
                }
            }
        }
        if usize::from(f.pf.is_some()) + usize::from(uses_if) + usize::from(uses_addr) > 1 {
            return Err(unsupported(format!(
                "<address>, <interface>, and <pf> elements of <forward> in network {} are mutually exclusive",
                def.name
            )));
        }
    }
    for (v4, fam) in [(true, "IPv4"), (false, "IPv6")] {
        let n = def
            .ips
            .iter()
            .filter(|i| i.is_ipv4() == v4 && (!i.ranges.is_empty() || !i.hosts.is_empty()))
            .count();
        if n > 1 {
            return Err(unsupported(format!(
                "Multiple {} dhcp sections found -- dhcp is supported only for a single {} address on each network",
                fam, fam
            )));
        }
    }
    let mut default_pg: Option<String> = None;
    for (i, pg) in def.portgroups.iter().enumerate() {
        let name = pg.attr("name").unwrap_or("");
        if pg.attr("default") == Some("yes") {
            if let Some(d) = &default_pg {
                return Err(unsupported(format!(
                    "network '{}' has multiple default <portgroup> elements ({} and {}), but only one default is allowed",
                    def.name, d, name
                )));
            }
            default_pg = Some(name.to_string());
        }
        if def.portgroups[i + 1..]
            .iter()
            .any(|o| o.attr("name") == Some(name))
        {
            return Err(unsupported(format!(
                "multiple <portgroup> elements with the same name ({}) in network '{}'",
                name, def.name
            )));
        }
        if pg.child("bandwidth").is_some() && !bandwidth_allowed {
            return Err(unsupported(format!(
                "Unsupported <bandwidth> element in network '{}' in portgroup '{}' with forward mode='{}'",
                def.name,
                name,
                mode_name(def)
            )));
        }
    }
    let vlan_allowed = matches!(
        mode,
        Some(ForwardMode::Hostdev) | Some(ForwardMode::Passthrough)
    ) || (mode == Some(ForwardMode::Bridge)
        && def
            .virtualport
            .as_ref()
            .is_some_and(|v| v.attr("type") == Some("openvswitch")));
    let vlan_used = def.vlan.is_some();
    let mut bad = false;
    for pg in &def.portgroups {
        if vlan_used || pg.child("vlan").is_some() {
            match pg.child("virtualport") {
                Some(vp)
                    if mode != Some(ForwardMode::Bridge)
                        || vp.attr("type") != Some("openvswitch") =>
                {
                    bad = true
                }
                None if !vlan_allowed => bad = true,
                _ => {}
            }
        }
    }
    if bad || (vlan_used && !vlan_allowed && default_pg.is_none()) {
        return Err(unsupported(format!(
            "<vlan> element specified for network {}, whose type doesn't support vlan configuration",
            def.name
        )));
    }
    Ok(())
}
