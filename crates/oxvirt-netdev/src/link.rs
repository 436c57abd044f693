//! Links, bridges, addresses and routes over rtnetlink (libvirt's
//! virnetdev.c, virnetdevbridge.c, virnetdevip.c), with libvirt's error
//! messages.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    BridgeStpState, InfoBridge, InfoData, InfoKind, InfoMacVtap, LinkAttribute, LinkFlags,
    LinkInfo, LinkMessage, MacVtapMode,
};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteProtocol};
use netlink_packet_route::route::{RouteScope, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use oxvirt_core::{Error, Result};

use crate::rtnl::Rtnl;
use crate::FROM;

/// A host network device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mac: Option<[u8; 6]>,
    pub mtu: u32,
    /// IFF_UP
    pub up: bool,
    /// IFF_RUNNING (operationally up)
    pub running: bool,
    /// IFF_LOOPBACK
    pub loopback: bool,
    /// The `kind` of its link info (bridge, tun, veth, macvtap, ...).
    pub kind: Option<String>,
    /// The bridge (or bond) it is a port of.
    pub master: Option<u32>,
    /// The lower device (vlan, macvtap, veth peer).
    pub lower: Option<u32>,
    pub stats: LinkStats,
}

/// Interface counters (virDomainInterfaceStatsStruct's fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errs: u64,
    pub rx_drop: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errs: u64,
    pub tx_drop: u64,
}

/// An address on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addr {
    pub index: u32,
    pub addr: IpAddr,
    pub prefix: u8,
}

/// Formats a MAC address as libvirt does.
pub fn mac_string(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

fn sys(msg: String, e: &io::Error) -> Error {
    Error::system(FROM, msg, e)
}

fn rtnl() -> Result<Rtnl> {
    Rtnl::open().map_err(|e| sys("Unable to open netlink socket".into(), &e))
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() >= crate::IFNAMSIZ || name.contains(['/', ' ', '\0']) {
        return Err(Error::system(
            FROM,
            format!("Network interface name '{}' is too long", name),
            &io::Error::from_raw_os_error(libc::ERANGE),
        ));
    }
    Ok(())
}

fn to_link(m: LinkMessage) -> Link {
    let mut l = Link {
        index: m.header.index,
        name: String::new(),
        mac: None,
        mtu: 0,
        up: m.header.flags.contains(LinkFlags::Up),
        running: m.header.flags.contains(LinkFlags::Running),
        loopback: m.header.flags.contains(LinkFlags::Loopback),
        kind: None,
        master: None,
        lower: None,
        stats: LinkStats::default(),
    };
    for a in m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.name = n,
            LinkAttribute::Address(a) if a.len() == 6 => {
                let mut m = [0u8; 6];
                m.copy_from_slice(&a);
                l.mac = Some(m);
            }
            LinkAttribute::Mtu(v) => l.mtu = v,
            LinkAttribute::Controller(v) => l.master = Some(v),
            LinkAttribute::Link(v) => l.lower = Some(v),
            LinkAttribute::Stats64(s) => {
                l.stats = LinkStats {
                    rx_bytes: s.rx_bytes,
                    rx_packets: s.rx_packets,
                    rx_errs: s.rx_errors,
                    rx_drop: s.rx_dropped,
                    tx_bytes: s.tx_bytes,
                    tx_packets: s.tx_packets,
                    tx_errs: s.tx_errors,
                    tx_drop: s.tx_dropped,
                }
            }
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        l.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    l
}

/// Every link of the namespace.
pub fn links() -> Result<Vec<Link>> {
    let nl = rtnl()?;
    let msgs = nl
        .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))
        .map_err(|e| sys("Could not get interface list".into(), &e))?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(to_link(l)),
            _ => None,
        })
        .collect())
}

fn get_link(nl: &Rtnl, name: &str) -> io::Result<Option<Link>> {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    match nl.get(RouteNetlinkMessage::GetLink(m)) {
        Ok(Some(RouteNetlinkMessage::NewLink(l))) => Ok(Some(to_link(l))),
        Ok(_) => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The link called `name`, if any.
pub fn link(name: &str) -> Result<Option<Link>> {
    if check_name(name).is_err() {
        return Ok(None);
    }
    let nl = rtnl()?;
    get_link(&nl, name).map_err(|e| sys(format!("Unable to check interface {}", name), &e))
}

/// virNetDevExists.
pub fn exists(name: &str) -> bool {
    matches!(link(name), Ok(Some(_)))
}

/// virNetDevGetIndex.
pub fn index(name: &str) -> Result<u32> {
    match link(name)? {
        Some(l) => Ok(l.index),
        None => Err(sys(
            format!("Unable to get index for interface {}", name),
            &io::Error::from_raw_os_error(libc::ENODEV),
        )),
    }
}

/// The counters of `name` (virNetDevTapInterfaceStats reads the same
/// numbers from /proc/net/dev).
pub fn stats(name: &str) -> Result<LinkStats> {
    match link(name)? {
        Some(l) => Ok(l.stats),
        None => Err(Error::operation_invalid(
            FROM,
            "/proc/net/dev: Interface not found",
        )),
    }
}

fn by_index(index: u32) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m
}

/// virNetDevBridgeCreate: a new bridge with `mac` (and `mtu`).
pub fn create_bridge(name: &str, mac: Option<[u8; 6]>, mtu: Option<u32>) -> Result<()> {
    check_name(name)?;
    let nl = rtnl()?;
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    if let Some(mac) = mac {
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
    }
    if let Some(mtu) = mtu.filter(|m| *m > 0) {
        m.attributes.push(LinkAttribute::Mtu(mtu));
    }
    m.attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
            InfoKind::Bridge,
        )]));
    nl.create(RouteNetlinkMessage::NewLink(m))
        .map_err(|e| sys(format!("error creating bridge interface {}", name), &e))
}

/// virNetDevMacVLanCreate for a macvtap device on `lower` in `mode`.
pub fn create_macvtap(name: &str, lower: &str, mode: &str, mac: [u8; 6]) -> Result<u32> {
    check_name(name)?;
    let lower_index = index(lower)?;
    let mode = match mode {
        "vepa" => MacVtapMode::Vepa,
        "private" => MacVtapMode::Private,
        "bridge" => MacVtapMode::Bridge,
        "passthrough" => MacVtapMode::Passthrough,
        m => {
            return Err(Error::internal(
                FROM,
                format!("unknown macvtap mode '{}'", m),
            ))
        }
    };
    let nl = rtnl()?;
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    m.attributes.push(LinkAttribute::Link(lower_index));
    m.attributes.push(LinkAttribute::Address(mac.to_vec()));
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::MacVtap),
        LinkInfo::Data(InfoData::MacVtap(vec![InfoMacVtap::Mode(mode)])),
    ]));
    nl.create(RouteNetlinkMessage::NewLink(m)).map_err(|e| {
        sys(
            format!("error creating macvtap interface {}@{}", name, lower),
            &e,
        )
    })?;
    index(name)
}

/// Deletes a link (virNetDevBridgeDelete, virNetDevTapDelete, ...).
pub fn delete(name: &str) -> Result<()> {
    let nl = rtnl()?;
    let Some(l) = get_link(&nl, name).map_err(|e| sys(format!("Unable to delete {}", name), &e))?
    else {
        return Ok(());
    };
    match nl.request(RouteNetlinkMessage::DelLink(by_index(l.index))) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
        Err(e) => Err(sys(format!("Unable to delete bridge {}", name), &e)),
    }
}

fn modify(name: &str, what: impl FnOnce(&mut LinkMessage), err: String) -> Result<()> {
    let nl = rtnl()?;
    let l = get_link(&nl, name)
        .map_err(|e| sys(err.clone(), &e))?
        .ok_or_else(|| sys(err.clone(), &io::Error::from_raw_os_error(libc::ENODEV)))?;
    let mut m = by_index(l.index);
    what(&mut m);
    // RTM_NEWLINK on an existing device: the kernel applies link-info
    // data (bridge options) only there, and everything else as SETLINK.
    nl.request(RouteNetlinkMessage::NewLink(m))
        .map_err(|e| sys(err, &e))
}

/// virNetDevSetOnline.
pub fn set_online(name: &str, up: bool) -> Result<()> {
    modify(
        name,
        |m| {
            m.header.change_mask = LinkFlags::Up;
            if up {
                m.header.flags = LinkFlags::Up;
            }
        },
        format!("Cannot set interface flags on '{}'", name),
    )
}

/// virNetDevSetMTU.
pub fn set_mtu(name: &str, mtu: u32) -> Result<()> {
    modify(
        name,
        |m| m.attributes.push(LinkAttribute::Mtu(mtu)),
        format!("Cannot set interface MTU on '{}'", name),
    )
}

/// virNetDevSetMAC.
pub fn set_mac(name: &str, mac: [u8; 6]) -> Result<()> {
    modify(
        name,
        |m| m.attributes.push(LinkAttribute::Address(mac.to_vec())),
        format!(
            "Cannot set interface MAC to {} on '{}'",
            mac_string(&mac),
            name
        ),
    )
}

/// virNetDevBridgeAddPort (`Some(bridge)`) / RemovePort (`None`).
pub fn set_master(dev: &str, bridge: Option<&str>) -> Result<()> {
    let (idx, err) = match bridge {
        Some(b) => (
            index(b)?,
            format!("Unable to add bridge {} port {}", b, dev),
        ),
        None => (0, format!("Unable to remove bridge port {}", dev)),
    };
    modify(
        dev,
        |m| m.attributes.push(LinkAttribute::Controller(idx)),
        err,
    )
}

/// virNetDevBridgeSetSTP and SetSTPDelay (`delay_ms` in milliseconds),
/// and the VLAN filtering libvirt's macTableManager asks for.
pub fn set_bridge_options(
    name: &str,
    stp: bool,
    delay_ms: u64,
    vlan_filtering: Option<bool>,
) -> Result<()> {
    // The kernel counts the forward delay in USER_HZ (centiseconds).
    let cs = u32::try_from(delay_ms / 10).unwrap_or(u32::MAX);
    let mut data = vec![
        InfoBridge::ForwardDelay(cs),
        InfoBridge::StpState(if stp {
            BridgeStpState::KernelStp
        } else {
            BridgeStpState::Disabled
        }),
    ];
    if let Some(v) = vlan_filtering {
        data.push(InfoBridge::VlanFiltering(v));
    }
    modify(
        name,
        |m| {
            m.attributes.push(LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Bridge),
                LinkInfo::Data(InfoData::Bridge(data)),
            ]))
        },
        format!("Unable to set STP delay on {}", name),
    )
}

fn family(a: &IpAddr) -> AddressFamily {
    if a.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

/// virNetDevIPAddrAdd: `addr/prefix` on `name`, with the IPv4 broadcast
/// address libvirt computes.
pub fn add_addr(name: &str, addr: IpAddr, prefix: u8) -> Result<()> {
    let idx = index(name)?;
    let nl = rtnl()?;
    let mut m = AddressMessage::default();
    m.header.family = family(&addr);
    m.header.prefix_len = prefix;
    m.header.index = idx;
    m.attributes.push(AddressAttribute::Local(addr));
    m.attributes.push(AddressAttribute::Address(addr));
    if let IpAddr::V4(a) = addr {
        let mask: u32 = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix.min(32)))
        };
        m.attributes
            .push(AddressAttribute::Broadcast(Ipv4Addr::from(
                u32::from(a) | !mask,
            )));
    }
    nl.create(RouteNetlinkMessage::NewAddress(m)).map_err(|e| {
        Error::new(
            oxvirt_core::error::code::INTERNAL_ERROR,
            FROM,
            format!(
                "Failed to add IP address {}/{} to {}: {}",
                addr,
                prefix,
                name,
                oxvirt_core::error::strerror(&e)
            ),
        )
    })
}

/// Every address of the namespace.
pub fn addrs() -> Result<Vec<Addr>> {
    let nl = rtnl()?;
    let msgs = nl
        .dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))
        .map_err(|e| sys("Could not get interface list".into(), &e))?;
    let mut v = Vec::new();
    for m in msgs {
        if let RouteNetlinkMessage::NewAddress(a) = m {
            let local = a.attributes.iter().find_map(|x| match x {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            let addr = local.or_else(|| {
                a.attributes.iter().find_map(|x| match x {
                    AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                })
            });
            if let Some(addr) = addr {
                v.push(Addr {
                    index: a.header.index,
                    addr,
                    prefix: a.header.prefix_len,
                });
            }
        }
    }
    Ok(v)
}

/// virNetDevIPRouteAdd: a route to `addr/prefix` via `gateway` on `name`.
pub fn add_route(name: &str, addr: IpAddr, prefix: u8, gateway: IpAddr, metric: u32) -> Result<()> {
    let idx = index(name)?;
    let nl = rtnl()?;
    let ra = |a: IpAddr| match a {
        IpAddr::V4(v) => RouteAddress::Inet(v),
        IpAddr::V6(v) => RouteAddress::Inet6(v),
    };
    let mut m = RouteMessage::default();
    m.header.address_family = family(&addr);
    m.header.destination_prefix_length = prefix;
    m.header.table = 254; // RT_TABLE_MAIN
    m.header.protocol = RouteProtocol::Boot;
    m.header.scope = RouteScope::Universe;
    m.header.kind = RouteType::Unicast;
    m.attributes.push(RouteAttribute::Destination(ra(addr)));
    m.attributes.push(RouteAttribute::Gateway(ra(gateway)));
    m.attributes.push(RouteAttribute::Oif(idx));
    if metric > 0 {
        m.attributes.push(RouteAttribute::Priority(metric));
    }
    nl.create(RouteNetlinkMessage::NewRoute(m))
        .map_err(|e| sys(format!("Error adding route to {}", name), &e))
}
