//! Guest NICs on taps the daemon creates (libvirt's qemuInterface*):
//! `<interface type='network'>` (a port of a virtual network),
//! `'bridge'` (a host bridge) and `'ethernet'` (a bare tap). The tap is
//! made here, given the guest's MAC with the first byte 0xFE, the MTU,
//! its bridge and bandwidth, and handed to QEMU as an inherited file
//! descriptor (`-netdev tap,fd=N`), never by a helper QEMU runs;
//! vhost-net is used where /dev/vhost-net opens. The tap goes away with
//! QEMU's descriptor when the guest stops.
//!
//! The argv part is pure (`netdev`, `device`); `prepare` touches the host.

use std::os::fd::OwnedFd;

use oxvirt_core::{Error, Result};
use oxvirt_netdev::{bandwidth, link, tap};
use oxvirt_xml::dom::Element;
use oxvirt_xml::domain::devices::Net;

use crate::FROM;

/// Descriptors QEMU inherits for one NIC, as numbers in its process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NicFds {
    pub taps: Vec<i32>,
    pub vhosts: Vec<i32>,
}

/// Interface types served by a tap the daemon creates.
pub fn uses_tap(kind: &str) -> bool {
    matches!(kind, "network" | "bridge" | "ethernet")
}

pub(crate) fn join(v: &[i32]) -> String {
    v.iter().map(i32::to_string).collect::<Vec<_>>().join(":")
}

/// The `-netdev` value of interface `i`.
pub fn netdev(kind: &str, i: usize, fds: Option<&NicFds>) -> Result<String> {
    match kind {
        "user" => Ok(format!("user,id=hostnet{}", i)),
        k if uses_tap(k) => {
            let fds = fds.filter(|f| !f.taps.is_empty()).ok_or_else(|| {
                Error::internal(FROM, format!("no tap device for interface net{}", i))
            })?;
            let mut s = if fds.taps.len() == 1 {
                format!("tap,fd={}", fds.taps[0])
            } else {
                format!("tap,fds={}", join(&fds.taps))
            };
            if !fds.vhosts.is_empty() {
                if fds.vhosts.len() == 1 {
                    s.push_str(&format!(",vhost=on,vhostfd={}", fds.vhosts[0]));
                } else {
                    s.push_str(&format!(",vhost=on,vhostfds={}", join(&fds.vhosts)));
                }
            }
            s.push_str(&format!(",id=hostnet{}", i));
            Ok(s)
        }
        other => Err(Error::unsupported_config(
            FROM,
            format!("Unsupported network type '{}'", other),
        )),
    }
}

/// QEMU's device for a libvirt model.
pub fn qemu_model(model: &str) -> &str {
    match model {
        "virtio" => "virtio-net-pci",
        other => other,
    }
}

fn child_attr<'a>(el: &'a Element, child: &str, attr: &str) -> Option<&'a str> {
    el.child(child).and_then(|c| c.attr(attr))
}

/// The `-device` value of interface `i` (model, MAC, MTU, boot order).
pub fn device(n: &Element, i: usize, boot: Option<u32>) -> String {
    let model = child_attr(n, "model", "type").unwrap_or("rtl8139");
    let qmodel = qemu_model(model);
    let mut dev = String::from(qmodel);
    if qmodel.starts_with("virtio-net") {
        if let Some(m) = child_attr(n, "mtu", "size") {
            dev.push_str(&format!(",host_mtu={}", m));
        }
    }
    dev.push_str(&format!(",netdev=hostnet{},id=net{}", i, i));
    if let Some(mac) = child_attr(n, "mac", "address") {
        dev.push_str(&format!(",mac={}", mac));
    }
    if let Some(b) = boot {
        dev.push_str(&format!(",bootindex={}", b));
    }
    dev
}

/// A tap made for a NIC, with the descriptors QEMU gets.
#[derive(Debug)]
pub struct PreparedNic {
    pub ifname: String,
    pub taps: Vec<OwnedFd>,
    pub vhosts: Vec<OwnedFd>,
}

pub(crate) fn mac_bytes(mac: &str) -> Option<[u8; 6]> {
    oxvirt_xml::props::Mac::parse(mac).map(|m| m.0)
}

/// Re-attributes a device-layer error to the QEMU driver.
pub(crate) fn qemu_err(mut e: Error) -> Error {
    if e.domain == oxvirt_netdev::FROM {
        e.domain = FROM;
    }
    e
}

/// Creates the tap of `net` on `bridge` (None for `ethernet`): named by
/// `<target dev>` or `vnet%d`, MAC fe:xx:..., the interface's MTU or the
/// bridge's, up, with `<bandwidth>` applied; vhost-net for virtio where
/// it opens. Undone if a step fails.
pub fn prepare(net: &Net, bridge: Option<&str>) -> Result<PreparedNic> {
    let virtio = net.model.as_deref() == Some("virtio");
    let template = net
        .target_dev
        .clone()
        .filter(|d| !(d.is_empty() || d.starts_with("vnet") || d.starts_with("macvtap")))
        .unwrap_or_else(|| "vnet%d".into());
    let t = tap::create(&template, 1, virtio, false).map_err(qemu_err)?;
    let name = t.name.clone();
    let r = (|| -> Result<()> {
        if let Some(mut m) = net.mac.as_deref().and_then(mac_bytes) {
            m[0] = 0xfe;
            link::set_mac(&name, m).map_err(qemu_err)?;
        }
        let mtu = net
            .extra
            .children
            .iter()
            .find(|c| c.name == "mtu")
            .and_then(|m| m.attr("size"))
            .and_then(|s| s.parse::<u32>().ok());
        match (mtu, bridge) {
            (Some(m), _) => link::set_mtu(&name, m).map_err(qemu_err)?,
            (None, Some(b)) => {
                if let Some(l) = link::link(b).map_err(qemu_err)? {
                    if l.mtu > 0 && l.mtu != 1500 {
                        link::set_mtu(&name, l.mtu).map_err(qemu_err)?;
                    }
                }
            }
            _ => {}
        }
        if let Some(b) = bridge {
            link::set_master(&name, Some(b)).map_err(qemu_err)?;
        }
        link::set_online(&name, true).map_err(qemu_err)?;
        if let Some(b) = net.bandwidth() {
            let conv = |r: Option<oxvirt_xml::domain::devices::Rate>| {
                r.filter(|r| r.average > 0).map(|r| bandwidth::Rate {
                    average: r.average,
                    peak: r.peak,
                    burst: r.burst,
                })
            };
            bandwidth::set(&name, conv(b.inbound), conv(b.outbound), false, true)
                .map_err(qemu_err)?;
        }
        Ok(())
    })();
    if let Err(e) = r {
        drop(t);
        let _ = link::delete(&name);
        return Err(e);
    }
    let vhosts = if virtio {
        tap::open_vhost_net().into_iter().collect()
    } else {
        Vec::new()
    };
    Ok(PreparedNic {
        ifname: name,
        taps: t.fds,
        vhosts,
    })
}

/// virDomainNetFind: the interface with this MAC, else this device name.
pub fn find<'a>(def: &'a oxvirt_xml::domain::Domain, device: &str) -> Result<&'a Net> {
    let found = match oxvirt_xml::props::Mac::parse(device) {
        Some(mac) => def
            .devices
            .interfaces
            .iter()
            .find(|n| n.mac.as_deref().and_then(oxvirt_xml::props::Mac::parse) == Some(mac)),
        None => def
            .devices
            .interfaces
            .iter()
            .find(|n| n.target_dev.as_deref() == Some(device)),
    };
    found.ok_or_else(|| Error::invalid_arg(FROM, format!("'{}' is not a known interface", device)))
}

pub(crate) fn link_state(n: &Net) -> Option<String> {
    n.extra
        .children
        .iter()
        .find(|c| c.name == "link")
        .and_then(|l| l.attr("state"))
        .map(str::to_string)
}

pub(crate) fn set_link_state(n: &mut Net, state: Option<&str>) {
    n.extra.children.retain(|c| c.name != "link");
    if let Some(st) = state {
        let mut l = Element::new("link");
        l.set_attr("state", st);
        n.extra.children.push(l);
    }
}

/// The QEMU device id of the NIC with `mac`: `/machine/peripheral`'s
/// devices are asked for their MAC (device ids are net0..., or
/// net-hp-MAC for hot-plugged ones).
pub(crate) fn device_id_by_mac(qmp: &oxvirt_qmp::Qmp, mac: &str) -> Result<String> {
    let list = qmp
        .execute_value(
            "qom-list",
            Some(serde_json::json!({"path": "/machine/peripheral"})),
        )
        .map_err(crate::monitor::qmp_err)?;
    let want = oxvirt_xml::props::Mac::parse(mac);
    for item in list.as_array().into_iter().flatten() {
        let Some(id) = item["name"].as_str() else {
            continue;
        };
        if !item["type"].as_str().unwrap_or("").starts_with("child<") {
            continue;
        }
        let path = format!("/machine/peripheral/{}", id);
        if let Ok(v) = qmp.execute_value(
            "qom-get",
            Some(serde_json::json!({"path": path, "property": "mac"})),
        ) {
            if v.as_str().and_then(oxvirt_xml::props::Mac::parse) == want {
                return Ok(id.to_string());
            }
        }
    }
    Err(Error::internal(
        FROM,
        format!("no QEMU device for MAC {}", mac),
    ))
}

/// Sets the link of NICs whose definition says `<link state='down'/>`
/// after QEMU started (libvirt's qemuProcessSetLinkStates).
pub(crate) fn apply_link_states(
    qmp: &oxvirt_qmp::Qmp,
    def: &oxvirt_xml::domain::Domain,
) -> Result<()> {
    for n in &def.devices.interfaces {
        if link_state(n).as_deref() == Some("down") {
            let mac = n.mac.clone().unwrap_or_default();
            let id = device_id_by_mac(qmp, &mac)?;
            qmp.execute_value(
                "set_link",
                Some(serde_json::json!({"name": id, "up": false})),
            )
            .map_err(crate::monitor::qmp_err)?;
        }
    }
    Ok(())
}

/// The guest's view of a tap's counters: what the tap receives the guest
/// sent (virNetDevTapInterfaceStats with `swapped`).
pub fn guest_stats(ifname: &str) -> Result<link::LinkStats> {
    let s = link::stats(ifname).map_err(qemu_err)?;
    Ok(link::LinkStats {
        rx_bytes: s.tx_bytes,
        rx_packets: s.tx_packets,
        rx_errs: s.tx_errs,
        rx_drop: s.tx_drop,
        tx_bytes: s.rx_bytes,
        tx_packets: s.rx_packets,
        tx_errs: s.rx_errs,
        tx_drop: s.rx_drop,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_netdevs() {
        let one = NicFds {
            taps: vec![30],
            vhosts: vec![31],
        };
        assert_eq!(
            netdev("network", 0, Some(&one)).unwrap(),
            "tap,fd=30,vhost=on,vhostfd=31,id=hostnet0"
        );
        let mq = NicFds {
            taps: vec![30, 32],
            vhosts: vec![],
        };
        assert_eq!(
            netdev("bridge", 1, Some(&mq)).unwrap(),
            "tap,fds=30:32,id=hostnet1"
        );
        assert!(netdev("ethernet", 0, None).is_err());
        assert_eq!(netdev("user", 2, None).unwrap(), "user,id=hostnet2");
    }
}
