//! Starting and stopping a network on the host (networkStartNetwork,
//! networkShutdownNetwork): the bridge, its addresses and routes, the
//! sysctls, the firewall table and dnsmasq; undone in reverse on failure.

use std::net::IpAddr;

use oxvirt_core::{Error, Result};
use oxvirt_netdev::{bandwidth, link, sysctl};
use oxvirt_xml::domain::devices::Bandwidth;
use oxvirt_xml::network::{ForwardMode, Network};

use crate::dnsmasq;
use crate::firewall;
use crate::store::{self, Layout};
use crate::FROM;

/// Re-attributes a device-layer error to the network driver.
fn net_err(mut e: Error) -> Error {
    if e.domain == oxvirt_netdev::FROM {
        e.domain = FROM;
    }
    e
}

/// Networks whose bridge libvirt creates and configures itself.
pub fn is_virtual(def: &Network) -> bool {
    def.forward.as_ref().is_none_or(|f| f.mode.has_bridge())
}

fn rates(def: &Network) -> (Option<bandwidth::Rate>, Option<bandwidth::Rate>) {
    let Some(b) = def.bandwidth.as_ref().filter(|b| b.has_element_children()) else {
        return (None, None);
    };
    let b = Bandwidth::from_element(b);
    let conv = |r: Option<oxvirt_xml::domain::devices::Rate>| {
        r.map(|r| bandwidth::Rate {
            average: r.average,
            peak: r.peak,
            burst: r.burst,
        })
    };
    (conv(b.inbound), conv(b.outbound))
}

/// networkCheckRouteCollision: an IPv4 subnet of `def` that the host
/// already routes (another network, a host interface) is refused.
fn check_route_collision(def: &Network) -> Result<()> {
    let Ok(text) = std::fs::read_to_string("/proc/net/route") else {
        return Ok(());
    };
    if !text.starts_with("Iface") {
        return Ok(());
    }
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Ok(dest), Ok(mask)) = (u32::from_str_radix(f[1], 16), u32::from_str_radix(f[7], 16))
        else {
            continue;
        };
        // /proc/net/route prints the addresses in host byte order of a
        // little-endian machine: swap them to compare.
        let (dest, mask) = (u32::from_be(dest), u32::from_be(mask));
        let dest = dest & mask;
        for ip in def.ips.iter().filter(|i| i.is_ipv4()) {
            let IpAddr::V4(a) = ip.address else { continue };
            let p = ip.prefix_len();
            let m: u32 = if p == 0 {
                0
            } else {
                u32::MAX << (32 - p.min(32))
            };
            if u32::from(a) & m == dest && m == mask {
                return Err(Error::internal(
                    FROM,
                    format!("Network is already in use by interface {}", f[0]),
                ));
            }
        }
        for r in def.routes.iter().filter(|r| r.address.is_ipv4()) {
            let IpAddr::V4(a) = r.address else { continue };
            let p = r
                .prefix
                .or_else(|| match r.netmask {
                    Some(IpAddr::V4(m)) => Some(u32::from(m).count_ones()),
                    _ => None,
                })
                .unwrap_or(0);
            let m: u32 = if p == 0 {
                0
            } else {
                u32::MAX << (32 - p.min(32))
            };
            if u32::from(a) & m == dest && m == mask {
                return Err(Error::internal(
                    FROM,
                    format!(
                        "Route address '{}' conflicts with IP address for '{}'",
                        std::net::Ipv4Addr::from(u32::from(a) & m),
                        f[0]
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// What was set up, so a failure undoes exactly that.
#[derive(Default)]
struct Undo {
    bridge: bool,
    firewall: bool,
    online: bool,
    dnsmasq: bool,
}

/// Writes dnsmasq's files and starts it if the network needs it
/// (networkStartDhcpDaemon).
pub fn start_dnsmasq(layout: &Layout, def: &Network, binary: &str) -> Result<()> {
    if !dnsmasq::needed(def) {
        return Ok(());
    }
    let dir = layout.dnsmasq_dir();
    let paths = dnsmasq::Paths::new(&dir, &def.name);
    let files = dnsmasq::config(
        def,
        &dir.to_string_lossy(),
        Some(&paths.pid.to_string_lossy()),
    )?;
    store::write_atomic(&paths.conf, files.conf.as_bytes())?;
    store::write_atomic(
        &paths.hosts,
        files.hosts.as_deref().unwrap_or("").as_bytes(),
    )?;
    store::write_atomic(&paths.addnhosts, files.addnhosts.as_bytes())?;
    store::remove(&paths.pid);
    dnsmasq::spawn(binary, &paths, def.bridge_name().unwrap_or(""))?;
    Ok(())
}

/// networkRefreshDhcpDaemon: rewrite the hosts files and SIGHUP dnsmasq
/// (or start it if it is not running).
pub fn refresh_dnsmasq(layout: &Layout, def: &Network, binary: &str) -> Result<()> {
    if def.ips.is_empty() {
        return Ok(());
    }
    let dir = layout.dnsmasq_dir();
    let paths = dnsmasq::Paths::new(&dir, &def.name);
    if dnsmasq::running_pid(&paths).is_none() {
        return start_dnsmasq(layout, def, binary);
    }
    let files = dnsmasq::config(
        def,
        &dir.to_string_lossy(),
        Some(&paths.pid.to_string_lossy()),
    )?;
    store::write_atomic(
        &paths.hosts,
        files.hosts.as_deref().unwrap_or("").as_bytes(),
    )?;
    store::write_atomic(&paths.addnhosts, files.addnhosts.as_bytes())?;
    dnsmasq::reload(&paths);
    Ok(())
}

/// networkRestartDhcpDaemon.
pub fn restart_dnsmasq(layout: &Layout, def: &Network, binary: &str) -> Result<()> {
    dnsmasq::kill(&dnsmasq::Paths::new(&layout.dnsmasq_dir(), &def.name));
    start_dnsmasq(layout, def, binary)
}

/// networkStartNetworkVirtual.
fn start_virtual(layout: &Layout, def: &Network, binary: &str) -> Result<()> {
    check_route_collision(def)?;
    let Some(br) = def.bridge_name().map(str::to_string) else {
        return Err(Error::internal(
            FROM,
            format!("network '{}' has no bridge name defined", def.name),
        ));
    };
    let mut undo = Undo::default();
    let r = (|| -> Result<()> {
        link::create_bridge(&br, def.mac.map(|m| m.0), None).map_err(net_err)?;
        undo.bridge = true;
        if let Some(m) = def.mtu.filter(|m| *m > 0) {
            link::set_mtu(&br, m).map_err(net_err)?;
        }
        let b = def.bridge.clone().unwrap_or_default();
        let stp = b.stp.as_deref() != Some("off");
        let vlan_filtering = (b.mac_table_manager.as_deref() == Some("libvirt")).then_some(true);
        link::set_bridge_options(&br, stp, b.delay.unwrap_or(0) * 1000, vlan_filtering)
            .map_err(net_err)?;
        let v6 = def.ips.iter().any(|i| !i.is_ipv4());
        let v4 = def.ips.iter().any(|i| i.is_ipv4());
        sysctl::bridge_ipv6(&br, v6).map_err(net_err)?;
        if def.forward_mode() != Some(ForwardMode::Open) {
            firewall::add(def)?;
            undo.firewall = true;
        }
        for ip in &def.ips {
            link::add_addr(&br, ip.address, ip.prefix_len() as u8).map_err(net_err)?;
        }
        link::set_online(&br, true).map_err(net_err)?;
        undo.online = true;
        for r in &def.routes {
            let p = r
                .prefix
                .or_else(|| match r.netmask {
                    Some(IpAddr::V4(m)) => Some(u32::from(m).count_ones()),
                    _ => None,
                })
                .unwrap_or(if r.address.is_ipv4() { 32 } else { 128 });
            if let Err(e) =
                link::add_route(&br, r.address, p as u8, r.gateway, r.metric.unwrap_or(0))
            {
                // libvirt logs this and carries on.
                tracing::warn!("{}", e.message);
            }
        }
        if def.forward.is_some() {
            sysctl::enable_forwarding(v4, v6).map_err(net_err)?;
        }
        if v4 || v6 {
            start_dnsmasq(layout, def, binary)?;
            undo.dnsmasq = true;
        }
        let (inb, outb) = rates(def);
        bandwidth::set(&br, inb, outb, true, true).map_err(net_err)?;
        Ok(())
    })();
    if r.is_err() {
        if def.bandwidth.is_some() {
            bandwidth::clear(&br);
        }
        if undo.dnsmasq {
            dnsmasq::kill(&dnsmasq::Paths::new(&layout.dnsmasq_dir(), &def.name));
        }
        if undo.online {
            let _ = link::set_online(&br, false);
        }
        if undo.firewall {
            firewall::remove(def);
        }
        if undo.bridge {
            let _ = link::delete(&br);
        }
    }
    r
}

/// networkStartNetwork's work by forward mode.
pub fn start(layout: &Layout, def: &Network, binary: &str) -> Result<()> {
    if is_virtual(def) {
        return start_virtual(layout, def, binary);
    }
    let mode = def.forward_mode();
    if mode == Some(ForwardMode::Bridge) {
        if let Some(br) = def.bridge_name() {
            let (inb, outb) = rates(def);
            bandwidth::set(br, inb, outb, true, true).map_err(net_err)?;
            let vlan = def
                .bridge
                .as_ref()
                .and_then(|b| b.mac_table_manager.as_deref())
                == Some("libvirt");
            if vlan {
                link::set_bridge_options(br, false, 0, Some(true)).map_err(net_err)?;
            }
            return Ok(());
        }
    }
    // macvtap (bridge without a bridge, private, vepa, passthrough) and
    // hostdev: the interface pool is the forward devices.
    let f = def.forward.as_ref();
    if f.is_some_and(|f| f.pf.is_some() && f.ifs.is_empty()) {
        return Err(Error::internal(
            FROM,
            format!(
                "Could not get Virtual functions on {}",
                f.and_then(|f| f.pf.clone()).unwrap_or_default()
            ),
        ));
    }
    Ok(())
}

/// networkShutdownNetwork's work by forward mode; never fails half way:
/// every step is tried.
pub fn stop(layout: &Layout, def: &Network) {
    if is_virtual(def) {
        let br = def.bridge_name().unwrap_or("").to_string();
        if def.bandwidth.is_some() {
            bandwidth::clear(&br);
        }
        dnsmasq::kill(&dnsmasq::Paths::new(&layout.dnsmasq_dir(), &def.name));
        let _ = link::set_online(&br, false);
        if def.forward_mode() != Some(ForwardMode::Open) {
            firewall::remove(def);
        }
        let _ = link::delete(&br);
    } else if def.forward_mode() == Some(ForwardMode::Bridge) {
        if let Some(br) = def.bridge_name() {
            if def.bandwidth.is_some() {
                bandwidth::clear(br);
            }
        }
    }
}

/// networkUpdateState after a daemon restart: is what a running network
/// needs still there? A virtual network needs its bridge.
pub fn still_running(def: &Network) -> bool {
    if is_virtual(def) || (def.forward_mode() == Some(ForwardMode::Bridge)) {
        match def.bridge_name() {
            Some(b) => link::exists(b),
            None => !is_virtual(def),
        }
    } else {
        true
    }
}
