//! The virtual network definition (`<network>`): parse, validate and
//! format in libvirt's canonical form.
//!
//! The sections libvirt normalises (forward, bridge, addresses, DHCP,
//! DNS, routes) are typed; the ones it writes back as given (vlan,
//! bandwidth, virtualport, portgroups, extension namespaces) are kept as
//! elements and written in their place in libvirt's order.

use std::net::IpAddr;

use crate::dom::{self, Attr, Element};
use crate::error::{Error, Result};
use crate::props::{self, Mac, Uuid, XmlEnum};
use crate::writer::{Attrs, Writer};

crate::xml_enum! {
    /// `<forward mode=...>`
    pub enum ForwardMode {
        Nat = "nat", Route = "route", Open = "open", Bridge = "bridge",
        Private = "private", Vepa = "vepa", Passthrough = "passthrough",
        Hostdev = "hostdev",
    }
}

impl ForwardMode {
    /// Modes whose network is a libvirt-managed bridge.
    pub fn has_bridge(self) -> bool {
        matches!(
            self,
            ForwardMode::Nat | ForwardMode::Route | ForwardMode::Open
        )
    }
}

/// One device of the forward pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardIf {
    /// `<interface dev=...>`
    Netdev(String),
    /// `<address type='pci' .../>` as domain, bus, slot, function.
    Pci(u32, u32, u32, u32),
}

/// `<forward>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub mode: ForwardMode,
    pub managed: bool,
    pub driver: Option<String>,
    pub ifs: Vec<ForwardIf>,
    pub pf: Option<String>,
    pub nat_ipv6: Option<bool>,
    pub nat_addr: Option<(IpAddr, Option<IpAddr>)>,
    pub nat_port: Option<(u32, u32)>,
}

/// `<bridge>`
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bridge {
    pub name: Option<String>,
    pub zone: Option<String>,
    pub stp: Option<String>,
    pub delay: Option<u64>,
    pub mac_table_manager: Option<String>,
}

/// `<lease expiry= unit=>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub expiry: u64,
    pub unit: String,
}

/// `<dhcp><range>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpRange {
    pub start: IpAddr,
    pub end: IpAddr,
    pub lease: Option<Lease>,
}

/// `<dhcp><host>`
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DhcpHost {
    pub mac: Option<String>,
    pub id: Option<String>,
    pub name: Option<String>,
    pub ip: Option<IpAddr>,
    pub lease: Option<Lease>,
}

/// `<ip>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ip {
    pub family: Option<String>,
    pub address: IpAddr,
    pub netmask: Option<IpAddr>,
    pub prefix: u32,
    pub local_ptr: Option<bool>,
    pub tftp_root: Option<String>,
    pub ranges: Vec<DhcpRange>,
    pub hosts: Vec<DhcpHost>,
    pub bootp: Option<(String, Option<IpAddr>)>,
}

impl Ip {
    pub fn is_ipv4(&self) -> bool {
        self.address.is_ipv4()
    }

    /// The prefix length, from the prefix, the netmask or the class.
    pub fn prefix_len(&self) -> u32 {
        if self.prefix > 0 {
            return self.prefix;
        }
        if let Some(IpAddr::V4(m)) = self.netmask {
            return u32::from(m).count_ones();
        }
        match self.address {
            IpAddr::V4(a) => {
                let o = a.octets()[0];
                if o < 128 {
                    8
                } else if o < 192 {
                    16
                } else if o < 224 {
                    24
                } else {
                    0
                }
            }
            IpAddr::V6(_) => 64,
        }
    }
}

/// `<route>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub family: Option<String>,
    pub address: IpAddr,
    pub netmask: Option<IpAddr>,
    pub prefix: Option<u32>,
    pub gateway: IpAddr,
    pub metric: Option<u32>,
}

/// `<dns>`
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dns {
    pub enable: Option<bool>,
    pub forward_plain_names: Option<bool>,
    pub forwarders: Vec<(Option<String>, Option<IpAddr>)>,
    pub txts: Vec<(String, String)>,
    pub srvs: Vec<Srv>,
    pub hosts: Vec<(IpAddr, Vec<String>)>,
}

/// `<dns><srv>`
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Srv {
    pub service: String,
    pub protocol: String,
    pub domain: Option<String>,
    pub target: Option<String>,
    pub port: u32,
    pub priority: u32,
    pub weight: u32,
}

impl Dns {
    fn is_empty(&self) -> bool {
        self.enable.is_none()
            && self.forward_plain_names.is_none()
            && self.forwarders.is_empty()
            && self.txts.is_empty()
            && self.srvs.is_empty()
            && self.hosts.is_empty()
    }
}

/// A network definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub name: String,
    pub uuid: Uuid,
    /// False when the document had no `<uuid>` (one was generated).
    pub uuid_specified: bool,
    pub ipv6: bool,
    pub trust_guest_rx_filters: Option<bool>,
    /// `xmlns:*` declarations of extension namespaces on the root.
    pub namespaces: Vec<Attr>,
    pub metadata: Option<Element>,
    pub forward: Option<Forward>,
    pub bridge: Option<Bridge>,
    pub mtu: Option<u32>,
    pub mac: Option<Mac>,
    pub domain: Option<(String, Option<bool>)>,
    pub dns: Dns,
    pub vlan: Option<Element>,
    pub bandwidth: Option<Element>,
    pub port_isolated: Option<bool>,
    pub ips: Vec<Ip>,
    pub routes: Vec<Route>,
    pub virtualport: Option<Element>,
    pub portgroups: Vec<Element>,
    /// Extension elements (`dnsmasq:options`), written last.
    pub ns_elements: Vec<Element>,
}

/// The dnsmasq namespace libvirt's network driver formats.
pub const DNSMASQ_NS: &str = "http://libvirt.org/schemas/network/dnsmasq/1.0";

fn xml_err(msg: String) -> Error {
    Error::Xml(msg)
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.trim().parse().ok()
}

fn tristate(el: &Element, attr: &str) -> Result<Option<bool>> {
    props::opt_yes_no(el, attr)
}

fn yes_no(v: bool) -> &'static str {
    if v {
        "yes"
    } else {
        "no"
    }
}

fn parse_lease(el: &Element) -> Result<Option<Lease>> {
    let Some(l) = el.child("lease") else {
        return Ok(None);
    };
    let expiry: u64 = props::opt_uint(l, "expiry")?.unwrap_or(0);
    let unit = match l.attr("unit") {
        None => "minutes".to_string(),
        Some(u @ ("seconds" | "minutes" | "hours")) => u.to_string(),
        Some(u) => {
            return Err(xml_err(format!(
                "Invalid value for attribute 'unit' in element 'lease': '{}'.",
                u
            )))
        }
    };
    let secs = match unit.as_str() {
        "seconds" => expiry,
        "minutes" => expiry.saturating_mul(60),
        _ => expiry.saturating_mul(3600),
    };
    if expiry > 0 && secs < 120 {
        return Err(Error::Unsupported(
            "The minimum lease time should be greater than 2 minutes".into(),
        ));
    }
    Ok(Some(Lease { expiry, unit }))
}

fn parse_dhcp(net: &str, el: &Element, ip: &mut Ip) -> Result<()> {
    for c in el.elements() {
        match c.name.as_str() {
            "range" => {
                let start = c.attr("start").ok_or_else(|| {
                    xml_err(format!(
                        "Missing 'start' attribute in dhcp range for network '{}'",
                        net
                    ))
                })?;
                let end = c.attr("end").ok_or_else(|| {
                    xml_err(format!(
                        "Missing 'end' attribute in dhcp range for network '{}'",
                        net
                    ))
                })?;
                let bad =
                    |a: &str| Error::Xml(format!("Invalid address '{}' in network '{}'", a, net));
                let s = parse_ip(start).ok_or_else(|| bad(start))?;
                let e = parse_ip(end).ok_or_else(|| bad(end))?;
                range_size(s, e, Some((ip.address, ip.prefix_len())))?;
                ip.ranges.push(DhcpRange {
                    start: s,
                    end: e,
                    lease: parse_lease(c)?,
                });
            }
            "host" => {
                let mut h = DhcpHost::default();
                if let Some(m) = c.attr("mac") {
                    if !ip.is_ipv4() {
                        return Err(Error::Unsupported(format!(
                            "Invalid to specify MAC address '{}' in network '{}' IPv6 static host definition",
                            m, net
                        )));
                    }
                    let mac = Mac::parse(m).ok_or_else(|| {
                        Error::Unsupported(format!(
                            "Cannot parse MAC address '{}' in network '{}'",
                            m, net
                        ))
                    })?;
                    if mac.is_multicast() {
                        return Err(Error::Unsupported(format!(
                            "expected unicast mac address, found multicast '{}' in network '{}'",
                            m, net
                        )));
                    }
                    h.mac = Some(mac.to_string());
                }
                h.id = props::opt(c, "id");
                h.name = props::opt(c, "name");
                if let Some(a) = c.attr("ip") {
                    h.ip = Some(parse_ip(a).ok_or_else(|| {
                        Error::Xml(format!(
                            "Invalid IP address in static host definition for network '{}'",
                            net
                        ))
                    })?);
                }
                if h.mac.is_none() && h.name.is_none() && h.ip.is_none() && h.id.is_none() {
                    return Err(Error::Xml(format!(
                        "At least one of name, mac, or ip attribute must be specified for static host definition in network '{}' ",
                        net
                    )));
                }
                h.lease = parse_lease(c)?;
                ip.hosts.push(h);
            }
            "bootp" if ip.is_ipv4() => {
                if let Some(f) = c.attr("file") {
                    let server = c.attr("server").and_then(parse_ip);
                    ip.bootp = Some((f.to_string(), server));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_ip_el(net: &str, el: &Element) -> Result<Ip> {
    let family = props::opt(el, "family");
    let address = el.attr("address").ok_or_else(|| {
        xml_err(format!(
            "Missing required address attribute in network '{}'",
            net
        ))
    })?;
    let addr = parse_ip(address).ok_or_else(|| {
        xml_err(format!(
            "Invalid address '{}' in network '{}'",
            address, net
        ))
    })?;
    let netmask = match el.attr("netmask") {
        None => None,
        Some(m) => Some(
            parse_ip(m)
                .ok_or_else(|| xml_err(format!("Invalid netmask '{}' in network '{}'", m, net)))?,
        ),
    };
    let prefix: u32 = props::opt_uint(el, "prefix")?.unwrap_or(0);
    let local_ptr = tristate(el, "localPtr")?;
    match family.as_deref() {
        None | Some("ipv4") => {
            if !addr.is_ipv4() {
                return Err(Error::Unsupported(format!(
                    "{} family specified for non-IPv4 address '{}' in network '{}'",
                    if family.is_none() { "no" } else { "ipv4" },
                    address,
                    net
                )));
            }
            if let Some(m) = &netmask {
                if !m.is_ipv4() {
                    return Err(Error::Unsupported(format!(
                        "Invalid netmask '{}' for address '{}' in network '{}' (both must be IPv4)",
                        el.attr("netmask").unwrap_or(""),
                        address,
                        net
                    )));
                }
                if prefix > 0 {
                    return Err(Error::Unsupported(format!(
                        "Network '{}' IP address cannot have both a prefix and a netmask",
                        net
                    )));
                }
            } else if prefix > 32 {
                return Err(Error::Unsupported(format!(
                    "Invalid IPv4 prefix '{}' in network '{}'",
                    prefix, net
                )));
            }
        }
        Some("ipv6") => {
            if !addr.is_ipv6() {
                return Err(Error::Unsupported(format!(
                    "Family 'ipv6' specified for non-IPv6 address '{}' in network '{}'",
                    address, net
                )));
            }
            if netmask.is_some() {
                return Err(Error::Unsupported(format!(
                    "netmask not allowed for IPv6 address '{}' in network '{}'",
                    address, net
                )));
            }
            if prefix > 128 {
                return Err(Error::Unsupported(format!(
                    "Invalid IPv6 prefix '{}' in network '{}'",
                    prefix, net
                )));
            }
        }
        Some(f) => {
            return Err(xml_err(format!(
                "Unrecognized family '{}' in network '{}'",
                f, net
            )))
        }
    }
    let mut ip = Ip {
        family,
        address: addr,
        netmask,
        prefix,
        local_ptr,
        tftp_root: None,
        ranges: Vec::new(),
        hosts: Vec::new(),
        bootp: None,
    };
    if let Some(d) = el.child("dhcp") {
        parse_dhcp(net, d, &mut ip)?;
    }
    if let Some(t) = el.child("tftp") {
        if !addr.is_ipv4() {
            return Err(Error::Unsupported(format!(
                "Unsupported <tftp> element in an IPv6 element in network '{}'",
                net
            )));
        }
        ip.tftp_root = props::opt(t, "root");
    }
    Ok(ip)
}

fn parse_route(net: &str, el: &Element) -> Result<Route> {
    let get_addr = |attr: &str, what: &str| -> Result<Option<IpAddr>> {
        match el.attr(attr) {
            None => Ok(None),
            Some(v) => parse_ip(v).map(Some).ok_or_else(|| {
                xml_err(format!(
                    "Bad network {} '{}' in route definition of network '{}'",
                    what, v, net
                ))
            }),
        }
    };
    let address = get_addr("address", "address")?.ok_or_else(|| {
        xml_err(format!(
            "Missing required address attribute in route definition of network '{}'",
            net
        ))
    })?;
    let gateway = get_addr("gateway", "gateway")?.ok_or_else(|| {
        xml_err(format!(
            "Missing required gateway attribute in route definition of network '{}'",
            net
        ))
    })?;
    Ok(Route {
        family: props::opt(el, "family"),
        address,
        netmask: get_addr("netmask", "netmask")?,
        prefix: props::opt_uint(el, "prefix")?,
        gateway,
        metric: props::opt_uint(el, "metric")?,
    })
}

fn parse_dns(net: &str, el: &Element) -> Result<Dns> {
    let mut d = Dns {
        enable: tristate(el, "enable")?,
        forward_plain_names: tristate(el, "forwardPlainNames")?,
        ..Default::default()
    };
    for c in el.elements() {
        match c.name.as_str() {
            "forwarder" => {
                let addr = match c.attr("addr") {
                    None => None,
                    Some(a) => Some(parse_ip(a).ok_or_else(|| {
                        xml_err(format!(
                            "Invalid forwarder IP address '{}' in network '{}'",
                            a, net
                        ))
                    })?),
                };
                let domain = props::opt(c, "domain");
                if addr.is_none() && domain.is_none() {
                    return Err(xml_err(format!(
                        "Invalid forwarder element, must contain at least one of addr or domain in network '{}'",
                        net
                    )));
                }
                d.forwarders.push((domain, addr));
            }
            "txt" => {
                let name = c.attr("name").ok_or_else(|| {
                    Error::Detail(format!(
                        "missing required name attribute in DNS TXT record of network '{}'",
                        net
                    ))
                })?;
                if name.contains([' ', '\t']) {
                    return Err(Error::Detail(format!(
                        "prohibited character in DNS TXT record name '{}' of network '{}'",
                        name, net
                    )));
                }
                let value = c.attr("value").ok_or_else(|| {
                    Error::Detail(format!(
                        "missing required value attribute in DNS TXT record named '{}' of network '{}'",
                        name, net
                    ))
                })?;
                d.txts.push((name.to_string(), value.to_string()));
            }
            "srv" => {
                let service = c.attr("service").ok_or_else(|| {
                    Error::Detail(format!(
                        "missing required service attribute in DNS SRV record of network '{}'",
                        net
                    ))
                })?;
                let protocol = c.attr("protocol").ok_or_else(|| {
                    Error::Detail(format!(
                        "missing required protocol attribute in DNS SRV record '{}' of network '{}'",
                        service, net
                    ))
                })?;
                d.srvs.push(Srv {
                    service: service.to_string(),
                    protocol: protocol.to_string(),
                    domain: props::opt(c, "domain"),
                    target: props::opt(c, "target"),
                    port: props::opt_uint(c, "port")?.unwrap_or(0),
                    priority: props::opt_uint(c, "priority")?.unwrap_or(0),
                    weight: props::opt_uint(c, "weight")?.unwrap_or(0),
                });
            }
            "host" => {
                let ip = c.attr("ip").ok_or_else(|| {
                    Error::Detail(format!(
                        "Missing IP address in network '{}' DNS HOST record",
                        net
                    ))
                })?;
                let ip = parse_ip(ip).ok_or_else(|| {
                    Error::Detail(format!(
                        "Invalid IP address in network '{}' DNS HOST record",
                        net
                    ))
                })?;
                let names: Vec<String> = c
                    .children_named("hostname")
                    .map(|h| h.text())
                    .filter(|t| !t.is_empty())
                    .collect();
                if names.is_empty() {
                    return Err(Error::Detail(format!(
                        "Missing hostname in network '{}' DNS HOST record",
                        net
                    )));
                }
                d.hosts.push((ip, names));
            }
            _ => {}
        }
    }
    if d.enable == Some(false)
        && (!d.forwarders.is_empty()
            || !d.hosts.is_empty()
            || !d.srvs.is_empty()
            || !d.txts.is_empty())
    {
        return Err(xml_err(format!("Extra data in disabled network '{}'", net)));
    }
    Ok(d)
}

fn pci_part(el: &Element, attr: &str) -> Result<u32> {
    match el.attr(attr) {
        None => Ok(0),
        Some(v) => props::parse_u64_any_base(v)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| xml_err(format!("Cannot parse <address> '{}' attribute", attr))),
    }
}

fn parse_forward(net: &str, el: &Element) -> Result<Forward> {
    let mode = match el.attr("mode") {
        None => ForwardMode::Nat,
        Some(m) => ForwardMode::from_xml(m)
            .ok_or_else(|| Error::Unsupported(format!("unknown forwarding type '{}'", m)))?,
    };
    let managed = el
        .attr("managed")
        .is_some_and(|m| m.eq_ignore_ascii_case("yes"));
    let driver = match el.child("driver").and_then(|d| d.attr("name")) {
        None => None,
        Some(n @ ("kvm" | "vfio")) => Some(n.to_string()),
        Some(n) => {
            return Err(Error::Unsupported(format!(
                "Unknown forward <driver name='{}'/> in network {}",
                n, net
            )))
        }
    };
    let ifaces: Vec<&Element> = el.children_named("interface").collect();
    let addrs: Vec<&Element> = el.children_named("address").collect();
    let pfs: Vec<&Element> = el.children_named("pf").collect();
    let nats: Vec<&Element> = el.children_named("nat").collect();
    let mut fwd = Forward {
        mode,
        managed,
        driver,
        ifs: Vec::new(),
        pf: None,
        nat_ipv6: None,
        nat_addr: None,
        nat_port: None,
    };
    if nats.len() > 1 {
        return Err(xml_err(format!(
            "Only one <nat> element is allowed in <forward> of network {}",
            net
        )));
    }
    if let Some(nat) = nats.first() {
        if mode != ForwardMode::Nat {
            return Err(xml_err(format!(
                "The <nat> element can only be used when <forward> 'mode' is 'nat' in network {}",
                net
            )));
        }
        fwd.nat_ipv6 = tristate(nat, "ipv6")?;
        let a: Vec<&Element> = nat.children_named("address").collect();
        if a.len() > 1 {
            return Err(xml_err(format!(
                "Only one <address> element is allowed in <nat> in <forward> in network {}",
                net
            )));
        }
        if let Some(a) = a.first() {
            let start = a.attr("start").ok_or_else(|| {
                xml_err(format!(
                    "missing 'start' attribute in <address> element in <nat> in <forward> in network {}",
                    net
                ))
            })?;
            let end = a.attr("end").ok_or_else(|| {
                xml_err(format!(
                    "missing 'end' attribute in <address> element in <nat> in <forward> in network {}",
                    net
                ))
            })?;
            let s = parse_ip(start).filter(IpAddr::is_ipv4).ok_or_else(|| {
                xml_err(format!(
                    "Bad ipv4 start address '{}' in <nat> in <forward> in network '{}'",
                    start, net
                ))
            })?;
            let e = parse_ip(end).filter(IpAddr::is_ipv4).ok_or_else(|| {
                xml_err(format!(
                    "Bad ipv4 end address '{}' in <nat> in <forward> in network '{}'",
                    end, net
                ))
            })?;
            fwd.nat_addr = Some((s, Some(e)));
        }
        let p: Vec<&Element> = nat.children_named("port").collect();
        if p.len() > 1 {
            return Err(xml_err(format!(
                "Only one <port> element is allowed in <nat> in <forward> in network {}",
                net
            )));
        }
        if let Some(p) = p.first() {
            let start: u32 = props::opt_uint(p, "start")?.unwrap_or(0);
            let end: u32 = props::opt_uint(p, "end")?.unwrap_or(0);
            fwd.nat_port = Some((start, end));
        }
    }
    let dev = el.attr("dev");
    if dev.is_some() && (!addrs.is_empty() || !pfs.is_empty()) {
        return Err(xml_err(
            "the <forward> 'dev' attribute cannot be used when <address> or <pf> sub-elements are present in network %s".into(),
        ));
    }
    if !ifaces.is_empty() || dev.is_some() {
        if let Some(d) = dev {
            fwd.ifs.push(ForwardIf::Netdev(d.to_string()));
        }
        for (i, c) in ifaces.iter().enumerate() {
            let d = c.attr("dev").ok_or_else(|| {
                xml_err(format!(
                    "Missing required dev attribute in <forward> <interface> element of network {}",
                    net
                ))
            })?;
            if i == 0 {
                if let Some(first) = dev {
                    if first != d {
                        return Err(xml_err(format!(
                            "<forward dev='{}'> must match first <interface dev='{}'/> in network {}",
                            first, d, net
                        )));
                    }
                    continue;
                }
            }
            if fwd
                .ifs
                .iter()
                .any(|x| x == &ForwardIf::Netdev(d.to_string()))
            {
                return Err(xml_err(format!(
                    "interface '{}' can only be listed once in network {}",
                    d, net
                )));
            }
            fwd.ifs.push(ForwardIf::Netdev(d.to_string()));
        }
    } else if !addrs.is_empty() {
        for a in addrs {
            let t = a
                .attr("type")
                .ok_or_else(|| xml_err(format!("missing address type in network {}", net)))?;
            if t != "pci" {
                return Err(Error::Unsupported(format!(
                    "unknown address type '{}' in network {}",
                    t, net
                )));
            }
            let p = ForwardIf::Pci(
                pci_part(a, "domain")?,
                pci_part(a, "bus")?,
                pci_part(a, "slot")?,
                pci_part(a, "function")?,
            );
            if fwd.ifs.contains(&p) {
                if let ForwardIf::Pci(d, b, s, f) = p {
                    return Err(xml_err(format!(
                        "PCI device '{:04x}:{:02x}:{:02x}.{:x}' can only be listed once in network {}",
                        d, b, s, f, net
                    )));
                }
            }
            fwd.ifs.push(p);
        }
    } else if pfs.len() > 1 {
        return Err(xml_err(format!(
            "Only one <pf> element is allowed in <forward> of network {}",
            net
        )));
    } else if let Some(pf) = pfs.first() {
        let d = pf.attr("dev").ok_or_else(|| {
            xml_err(format!(
                "Missing required dev attribute in <pf> element of network '{}'",
                net
            ))
        })?;
        fwd.pf = Some(d.to_string());
    }
    Ok(fwd)
}

impl Network {
    /// Parses a network document (`virNetworkDefParse`).
    pub fn parse(xml: &str) -> Result<Network> {
        let mut root = dom::parse(xml, "(network_definition)")?;
        root.strip_blanks();
        if root.name != "network" {
            return Err(xml_err(format!(
                "unexpected root element <{}>, expecting <network>",
                root.name
            )));
        }
        Network::from_element(&root)
    }

    /// Parses a `<network>` element.
    pub fn from_element(el: &Element) -> Result<Network> {
        let name = el
            .child("name")
            .map(|n| n.text())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Error::NoName("network".into()))?;
        if name.contains('/') {
            return Err(xml_err(format!("invalid char in name: {}", '/')));
        }
        let (uuid, uuid_specified) = match el.child("uuid").map(|u| u.text()) {
            Some(u) if !u.is_empty() => (
                Uuid::parse(&u).ok_or_else(|| Error::internal("malformed uuid element"))?,
                true,
            ),
            _ => (Uuid::default(), false),
        };
        let ipv6 = match el.attr("ipv6") {
            None => false,
            Some("yes") => true,
            Some("no") => false,
            Some(v) => {
                return Err(xml_err(format!(
                    "Invalid ipv6 setting '{}' in network '{}'",
                    v, name
                )))
            }
        };
        let trust = tristate(el, "trustGuestRxFilters")?;
        let domain = match el.child("domain") {
            Some(d) => match d.attr("name") {
                Some(n) => Some((n.to_string(), tristate(d, "localOnly")?)),
                None => {
                    tristate(d, "localOnly")?;
                    None
                }
            },
            None => None,
        };
        let port_isolated = match el.child("port") {
            Some(p) => tristate(p, "isolated")?,
            None => None,
        };
        let bridge = match el.child("bridge") {
            None => None,
            Some(b) => {
                let delay = match b.attr("delay") {
                    None => None,
                    Some(d) => Some(d.trim().parse::<u64>().map_err(|_| {
                        xml_err(format!("Invalid delay value in network '{}'", name))
                    })?),
                };
                let mtm = match b.attr("macTableManager") {
                    None => None,
                    Some(m @ ("kernel" | "libvirt")) => Some(m.to_string()),
                    Some(m) => {
                        return Err(xml_err(format!(
                            "Invalid macTableManager setting '{}' in network '{}'",
                            m, name
                        )))
                    }
                };
                Some(Bridge {
                    name: props::opt(b, "name"),
                    zone: props::opt(b, "zone"),
                    stp: props::opt(b, "stp"),
                    delay,
                    mac_table_manager: mtm,
                })
            }
        };
        let mac = match el.child("mac").and_then(|m| m.attr("address")) {
            None => None,
            Some(a) => {
                let m = Mac::parse(a).ok_or_else(|| {
                    xml_err(format!(
                        "Invalid bridge mac address '{}' in network '{}'",
                        a, name
                    ))
                })?;
                if m.is_multicast() {
                    return Err(xml_err(format!(
                        "Invalid multicast bridge mac address '{}' in network '{}'",
                        a, name
                    )));
                }
                Some(m)
            }
        };
        let mtu =
            match el.child("mtu").and_then(|m| m.attr("size")) {
                None => None,
                Some(s) => Some(s.parse::<u32>().map_err(|_| {
                    xml_err(format!("Invalid mtu size '{}' in network '{}'", s, name))
                })?),
            };
        let dns = match el.child("dns") {
            Some(d) => parse_dns(&name, d)?,
            None => Dns::default(),
        };
        if let Some(vp) = el.child("virtualport") {
            if !vp.has_attr("type") {
                return Err(xml_err("missing virtualportprofile type".into()));
            }
        }
        let mut portgroups = Vec::new();
        for pg in el.children_named("portgroup") {
            if !pg.has_attr("name") {
                return Err(xml_err(
                    "Missing required name attribute in portgroup".into(),
                ));
            }
            portgroups.push(pg.clone());
        }
        let ips = el
            .children_named("ip")
            .map(|i| parse_ip_el(&name, i))
            .collect::<Result<Vec<_>>>()?;
        let routes = el
            .children_named("route")
            .map(|r| parse_route(&name, r))
            .collect::<Result<Vec<_>>>()?;
        for r in &routes {
            let reachable = ips.iter().any(|ip| {
                ip.address.is_ipv4() == r.gateway.is_ipv4()
                    && mask(&ip.address, ip.prefix_len()) == mask(&r.gateway, ip.prefix_len())
            });
            if !reachable {
                return Err(Error::Unsupported(format!(
                    "unreachable static route gateway '{}' specified for network '{}'",
                    r.gateway, name
                )));
            }
        }
        let forward = match el.child("forward") {
            Some(f) => Some(parse_forward(&name, f)?),
            None => None,
        };
        if let Some(f) = &forward {
            let mode = f.mode;
            let br = bridge.clone().unwrap_or_default();
            match mode {
                ForwardMode::Route | ForwardMode::Nat | ForwardMode::Open => {
                    if ips.is_empty() {
                        return Err(xml_err(format!(
                            "{} forwarding requested, but no IP address provided for network '{}'",
                            mode, name
                        )));
                    }
                    if f.ifs.len() > 1 {
                        return Err(xml_err(format!(
                            "multiple forwarding interfaces specified for network '{}', only one is supported",
                            name
                        )));
                    }
                    if mode == ForwardMode::Open && !f.ifs.is_empty() {
                        return Err(xml_err(format!(
                            "forward dev not allowed for network '{}' with forward mode='{}'",
                            name, mode
                        )));
                    }
                }
                _ => {
                    if mode != ForwardMode::Bridge {
                        if br.name.is_some() {
                            return Err(xml_err(format!(
                                "bridge name not allowed in {} mode (network '{}')",
                                mode, name
                            )));
                        }
                        if br.zone.is_some() {
                            return Err(xml_err(format!(
                                "bridge zone not allowed in {} mode (network '{}')",
                                mode, name
                            )));
                        }
                        if br.mac_table_manager.is_some() {
                            return Err(xml_err(format!(
                                "bridge macTableManager setting not allowed in {} mode (network '{}')",
                                mode, name
                            )));
                        }
                    }
                    if br.delay.unwrap_or(0) != 0 || br.stp.is_some() || br.zone.is_some() {
                        return Err(xml_err(format!(
                            "bridge delay/stp/zone options only allowed in route, nat, and isolated mode, not in {} (network '{}')",
                            mode, name
                        )));
                    }
                    if br.name.is_some() && (!f.ifs.is_empty() || f.pf.is_some()) {
                        return Err(xml_err(format!(
                            "A network with forward mode='{}' can specify a bridge name or a forward dev, but not both (network '{}')",
                            mode, name
                        )));
                    }
                    if mtu.is_some_and(|m| m > 0) {
                        return Err(xml_err(format!(
                            "mtu size only allowed in open, route, nat, and isolated mode, not in {} (network '{}')",
                            mode, name
                        )));
                    }
                }
            }
        }
        let namespaces: Vec<Attr> = el
            .attrs
            .iter()
            .filter(|a| a.name.starts_with("xmlns:") && a.value == DNSMASQ_NS)
            .cloned()
            .collect();
        let prefixes: Vec<&str> = namespaces
            .iter()
            .filter_map(|a| a.name.strip_prefix("xmlns:"))
            .collect();
        let ns_elements: Vec<Element> = el
            .elements()
            .filter(|c| {
                c.name
                    .split_once(':')
                    .is_some_and(|(p, l)| prefixes.contains(&p) && l == "options")
            })
            .cloned()
            .collect();
        Ok(Network {
            name,
            uuid,
            uuid_specified,
            ipv6,
            trust_guest_rx_filters: trust,
            namespaces: if ns_elements.is_empty() {
                Vec::new()
            } else {
                namespaces
            },
            metadata: el.child("metadata").cloned(),
            forward,
            bridge,
            mtu,
            mac,
            domain,
            dns,
            vlan: el.child("vlan").cloned(),
            bandwidth: el.child("bandwidth").cloned(),
            port_isolated,
            ips,
            routes,
            virtualport: el.child("virtualport").cloned(),
            portgroups,
            ns_elements,
        })
    }

    /// The bridge device name, if any.
    pub fn bridge_name(&self) -> Option<&str> {
        self.bridge.as_ref().and_then(|b| b.name.as_deref())
    }

    /// The mode with `None` for an isolated network.
    pub fn forward_mode(&self) -> Option<ForwardMode> {
        self.forward.as_ref().map(|f| f.mode)
    }

    /// Formats the definition (`virNetworkDefFormat`); `inactive` is
    /// VIR_NETWORK_XML_INACTIVE.
    pub fn format(&self, inactive: bool) -> String {
        let mut w = Writer::new();
        let mut a = Attrs::new();
        for ns in &self.namespaces {
            a.push(&ns.name, &ns.value);
        }
        let a = a.add_if(self.ipv6, "ipv6", "yes").opt(
            "trustGuestRxFilters",
            self.trust_guest_rx_filters.map(yes_no),
        );
        w.block("network", a, |w| {
            w.text("name", Attrs::new(), &self.name);
            w.text("uuid", Attrs::new(), self.uuid);
            if let Some(m) = &self.metadata {
                if m.has_element_children() {
                    w.libxml_element(m);
                }
            }
            if let Some(f) = &self.forward {
                format_forward(w, f, inactive);
            }
            let has_bridge = self.forward.as_ref().is_none_or(|f| f.mode.has_bridge());
            let br = self.bridge.clone().unwrap_or_default();
            if has_bridge || br.name.is_some() || br.mac_table_manager.is_some() {
                let mut a = Attrs::new()
                    .opt("name", br.name.as_deref())
                    .opt("zone", br.zone.as_deref());
                if has_bridge {
                    let stp = br.stp.as_deref() != Some("off");
                    a = a
                        .add("stp", if stp { "on" } else { "off" })
                        .add("delay", br.delay.unwrap_or(0));
                }
                w.empty(
                    "bridge",
                    a.opt("macTableManager", br.mac_table_manager.as_deref()),
                );
            }
            if let Some(m) = self.mtu.filter(|m| *m > 0) {
                w.empty("mtu", Attrs::new().add("size", m));
            }
            if let Some(m) = &self.mac {
                w.empty("mac", Attrs::new().add("address", m));
            }
            if let Some((n, local)) = &self.domain {
                w.empty(
                    "domain",
                    Attrs::new()
                        .add("name", n)
                        .opt("localOnly", local.map(yes_no)),
                );
            }
            format_dns(w, &self.dns);
            if let Some(v) = &self.vlan {
                w.element(v);
            }
            if let Some(b) = &self.bandwidth {
                if b.has_element_children() {
                    w.element(b);
                }
            }
            if let Some(p) = self.port_isolated {
                w.empty("port", Attrs::new().add("isolated", yes_no(p)));
            }
            for ip in &self.ips {
                format_ip(w, ip);
            }
            for r in &self.routes {
                w.empty(
                    "route",
                    Attrs::new()
                        .opt("family", r.family.as_deref())
                        .add("address", r.address)
                        .opt("netmask", r.netmask)
                        .opt("prefix", r.prefix)
                        .add("gateway", r.gateway)
                        .opt("metric", r.metric.filter(|m| *m > 0)),
                );
            }
            if let Some(v) = &self.virtualport {
                w.element(v);
            }
            for pg in &self.portgroups {
                // virPortGroupDefFormat: always an open/close pair, the
                // name first, then vlan, virtualport and bandwidth.
                let attrs = Attrs::new()
                    .opt("name", pg.attr("name"))
                    .opt("default", pg.attr("default").filter(|d| *d == "yes"))
                    .opt("trustGuestRxFilters", pg.attr("trustGuestRxFilters"));
                w.block("portgroup", attrs, |w| {
                    for kind in ["vlan", "virtualport", "bandwidth"] {
                        for ch in pg.children_named(kind) {
                            w.element(ch);
                        }
                    }
                });
            }
            for e in &self.ns_elements {
                w.element(e);
            }
        });
        w.into_string()
    }
}

/// The number of addresses from `start` to `end` (virSocketAddrGetRange),
/// checked against the network `(address, prefix)` they must lie in, with
/// libvirt's errors: same family, inside the network, not its network or
/// broadcast address (IPv4), not reversed, at most 65535 wide.
pub fn range_size(start: IpAddr, end: IpAddr, network: Option<(IpAddr, u32)>) -> Result<u32> {
    let internal = |m: String| Err(Error::Internal(m));
    if start.is_ipv4() != end.is_ipv4() {
        return internal(format!(
            "mismatch of address family in range {} - {}",
            start, end
        ));
    }
    if let Some((net, prefix)) = network {
        if start.is_ipv4() != net.is_ipv4() {
            return internal(format!(
                "mismatch of address family in range {} - {} for network {}",
                start, end, net
            ));
        }
        let max = if net.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return internal(format!(
                "bad prefix {} for network {} when  checking range {} - {}",
                prefix, net, start, end
            ));
        }
        let base = mask(&net, prefix);
        if mask(&start, prefix) != base || mask(&end, prefix) != base {
            return internal(format!(
                "range {} - {} is not entirely within network {}/{}",
                start, end, net, prefix
            ));
        }
        if let (IpAddr::V4(s), IpAddr::V4(e), IpAddr::V4(n)) = (start, end, net) {
            let m: u32 = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            if u32::from(s) == u32::from(n) & m {
                return internal(format!(
                    "start of range {} - {} in network {}/{} is the network address",
                    start, end, net, prefix
                ));
            }
            if u32::from(e) == (u32::from(n) & m) | !m {
                return internal(format!(
                    "end of range {} - {} in network {}/{} is the broadcast address",
                    start, end, net, prefix
                ));
            }
        }
    }
    match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => {
            let (s, e) = (s.octets(), e.octets());
            if s[..2] != e[..2] {
                return internal(format!("range {} - {} is too large (> 65535)", start, end));
            }
            let n = (i32::from(e[2]) - i32::from(s[2])) * 256 + (i32::from(e[3]) - i32::from(s[3]));
            if n < 0 {
                return internal(format!("range {} - {} is reversed ", start, end));
            }
            Ok(n as u32 + 1)
        }
        (IpAddr::V6(s), IpAddr::V6(e)) => {
            let (s, e) = (s.segments(), e.segments());
            if s[..7] != e[..7] {
                return internal(format!("range {} - {} is too large (> 65535)", start, end));
            }
            let n = i32::from(e[7]) - i32::from(s[7]);
            if n < 0 {
                return internal(format!("range {} - {} start larger than end", start, end));
            }
            Ok(n as u32 + 1)
        }
        _ => internal(format!(
            "mismatch of address family in range {} - {}",
            start, end
        )),
    }
}

fn mask(a: &IpAddr, prefix: u32) -> Option<IpAddr> {
    match a {
        IpAddr::V4(v) => {
            let p = prefix.min(32);
            let m: u32 = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            Some(IpAddr::V4((u32::from(*v) & m).into()))
        }
        IpAddr::V6(v) => {
            let p = prefix.min(128);
            let m: u128 = if p == 0 { 0 } else { u128::MAX << (128 - p) };
            Some(IpAddr::V6((u128::from(*v) & m).into()))
        }
    }
}

fn format_forward(w: &mut Writer, f: &Forward, inactive: bool) {
    let dev = if f.pf.is_none() {
        match f.ifs.first() {
            Some(ForwardIf::Netdev(d)) => Some(d.as_str()),
            _ => None,
        }
    } else {
        None
    };
    let mut a = Attrs::new().opt("dev", dev).add("mode", f.mode);
    if f.mode == ForwardMode::Hostdev {
        a = a.add("managed", yes_no(f.managed));
    }
    let short = f.ifs.is_empty()
        && f.pf.is_none()
        && f.nat_addr.is_none()
        && f.nat_port.is_none_or(|(s, e)| s == 0 && e == 0)
        && f.driver.is_none()
        && f.nat_ipv6.is_none();
    if short {
        w.empty("forward", a);
        return;
    }
    w.block("forward", a, |w| {
        if let Some(d) = &f.driver {
            w.empty("driver", Attrs::new().add("name", d));
        }
        if f.mode == ForwardMode::Nat {
            let port = f.nat_port.filter(|(s, e)| *s != 0 || *e != 0);
            if f.nat_addr.is_some() || port.is_some() || f.nat_ipv6.is_some() {
                let a = Attrs::new().opt("ipv6", f.nat_ipv6.map(yes_no));
                if f.nat_addr.is_none() && port.is_none() {
                    w.empty("nat", a);
                } else {
                    w.block("nat", a, |w| {
                        if let Some((s, e)) = &f.nat_addr {
                            w.empty("address", Attrs::new().add("start", s).opt("end", *e));
                        }
                        if let Some((s, e)) = port {
                            w.empty(
                                "port",
                                Attrs::new().add("start", s).add_if(e != 0, "end", e),
                            );
                        }
                    });
                }
            }
        }
        if let Some(pf) = &f.pf {
            w.empty("pf", Attrs::new().add("dev", pf));
        }
        if !f.ifs.is_empty() && (f.pf.is_none() || !inactive) {
            for i in &f.ifs {
                match i {
                    ForwardIf::Netdev(d) => w.empty("interface", Attrs::new().add("dev", d)),
                    ForwardIf::Pci(d, b, s, fun) => w.empty(
                        "address",
                        Attrs::new()
                            .add("type", "pci")
                            .add("domain", format!("0x{:04x}", d))
                            .add("bus", format!("0x{:02x}", b))
                            .add("slot", format!("0x{:02x}", s))
                            .add("function", format!("0x{:x}", fun)),
                    ),
                }
            }
        }
    });
}

fn format_dns(w: &mut Writer, d: &Dns) {
    if d.is_empty() {
        return;
    }
    let a = Attrs::new()
        .opt("enable", d.enable.map(yes_no))
        .opt("forwardPlainNames", d.forward_plain_names.map(yes_no));
    if d.forwarders.is_empty() && d.hosts.is_empty() && d.srvs.is_empty() && d.txts.is_empty() {
        w.empty("dns", a);
        return;
    }
    w.block("dns", a, |w| {
        for (dom, addr) in &d.forwarders {
            w.empty(
                "forwarder",
                Attrs::new()
                    .opt("domain", dom.as_deref())
                    .opt("addr", *addr),
            );
        }
        for (n, v) in &d.txts {
            w.empty("txt", Attrs::new().add("name", n).add("value", v));
        }
        for s in &d.srvs {
            w.empty(
                "srv",
                Attrs::new()
                    .add("service", &s.service)
                    .add("protocol", &s.protocol)
                    .opt("domain", s.domain.as_deref())
                    .opt("target", s.target.as_deref())
                    .add_if(s.port != 0, "port", s.port)
                    .add_if(s.priority != 0, "priority", s.priority)
                    .add_if(s.weight != 0, "weight", s.weight),
            );
        }
        for (ip, names) in &d.hosts {
            w.block("host", Attrs::new().add("ip", ip), |w| {
                for n in names {
                    w.text("hostname", Attrs::new(), n);
                }
            });
        }
    });
}

fn format_lease(w: &mut Writer, l: &Lease) {
    if l.expiry == 0 {
        w.empty("lease", Attrs::new().add("expiry", 0));
    } else {
        w.empty(
            "lease",
            Attrs::new().add("expiry", l.expiry).add("unit", &l.unit),
        );
    }
}

fn format_ip(w: &mut Writer, ip: &Ip) {
    let a = Attrs::new()
        .opt("family", ip.family.as_deref())
        .add("address", ip.address)
        .opt("netmask", ip.netmask)
        .add_if(ip.prefix > 0, "prefix", ip.prefix)
        .opt("localPtr", ip.local_ptr.map(yes_no));
    w.block("ip", a, |w| {
        if let Some(t) = &ip.tftp_root {
            w.empty("tftp", Attrs::new().add("root", t));
        }
        if ip.ranges.is_empty() && ip.hosts.is_empty() {
            return;
        }
        w.block("dhcp", Attrs::new(), |w| {
            for r in &ip.ranges {
                let a = Attrs::new().add("start", r.start).add("end", r.end);
                match &r.lease {
                    Some(l) => w.block("range", a, |w| format_lease(w, l)),
                    None => w.empty("range", a),
                }
            }
            for h in &ip.hosts {
                let a = Attrs::new()
                    .opt("mac", h.mac.as_deref())
                    .opt("id", h.id.as_deref())
                    .opt("name", h.name.as_deref())
                    .opt("ip", h.ip);
                match &h.lease {
                    Some(l) => w.block("host", a, |w| format_lease(w, l)),
                    None => w.empty("host", a),
                }
            }
            if let Some((file, server)) = &ip.bootp {
                w.empty(
                    "bootp",
                    Attrs::new().add("file", file).opt("server", *server),
                );
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_network_gets_bridge_defaults() {
        let n = Network::parse(
            "<network><name>default</name><uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>\
             <bridge name='virbr0'/><forward/><ip address='192.168.122.1' netmask='255.255.255.0'>\
             <dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip></network>",
        )
        .unwrap();
        let out = n.format(false);
        assert!(
            out.contains("  <forward mode='nat'/>\n  <bridge name='virbr0' stp='on' delay='0'/>\n")
        );
    }

    #[test]
    fn missing_name_is_refused() {
        let e = Network::parse("<network/>").unwrap_err();
        assert_eq!(e.to_string(), "missing name information in network");
    }
}
