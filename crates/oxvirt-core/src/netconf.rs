//! Virtual network objects and the rules every network driver shares:
//! libvirt's network object list (virnetworkobj.c: assigning a definition,
//! live and persistent copies, list filters) and `virNetworkUpdate`'s
//! section editing (virNetworkDefUpdateSection). No I/O: drivers do the
//! side effects (files, bridges, dnsmasq) around these.

use crate::error::{code, from, Error, Result};
use crate::types::flags::list_objects as lo;
use crate::types::{NetworkRef, Uuid};
use oxvirt_xml::network::Network;

const FROM: i32 = from::NETWORK;

/// A network with its runtime state (virNetworkObj).
#[derive(Debug, Clone)]
pub struct NetworkObj {
    /// The live definition while active, else the persistent one.
    pub def: Network,
    /// The persistent definition while a changed one runs.
    pub new_def: Option<Network>,
    pub active: bool,
    pub persistent: bool,
    pub autostart: bool,
}

impl NetworkObj {
    pub fn handle(&self) -> NetworkRef {
        NetworkRef {
            name: self.def.name.clone(),
            uuid: self.def.uuid,
        }
    }

    /// virNetworkObjGetPersistentDef.
    pub fn persistent_def(&self) -> &Network {
        self.new_def.as_ref().unwrap_or(&self.def)
    }

    /// virNetworkObjUnsetDefTransient: the persistent definition becomes
    /// the current one (after the network stops).
    pub fn unset_transient(&mut self) {
        if let Some(d) = self.new_def.take() {
            self.def = d;
        }
    }

    /// virNetworkObjSetDefTransient: keep a copy of the persistent
    /// definition before the live one changes (a start, a live update).
    pub fn set_transient(&mut self) {
        if self.persistent && self.new_def.is_none() {
            self.new_def = Some(self.def.clone());
        }
    }

    /// virNetworkObjUpdate: edits the live and/or persistent definition
    /// (`flags`: VIR_NETWORK_UPDATE_AFFECT_LIVE 1, _CONFIG 2; CURRENT is
    /// resolved here). Returns the flags it applied.
    pub fn update(
        &mut self,
        command: u32,
        section: u32,
        parent_index: i32,
        xml: &str,
        flags: u32,
    ) -> Result<u32> {
        let mut flags = flags;
        if flags & 3 == 0 {
            flags |= if self.active { 1 } else { 2 };
        }
        if flags & 1 != 0 && !self.active {
            return Err(Error::operation_invalid(FROM, "network is not running"));
        }
        if flags & 2 != 0 {
            if !self.persistent {
                return Err(Error::operation_invalid(
                    FROM,
                    "cannot change persistent config of a transient network",
                ));
            }
            if self.active {
                self.set_transient();
            }
        }
        let edit = |base: &Network| -> Result<Network> {
            let mut d = base.clone();
            update_section(&mut d, command, section, parent_index, xml)?;
            // libvirt's format/parse cycle: nothing illegal gets in.
            Network::parse(&d.format(false)).map_err(|e| Error::from_xml(e, FROM))?;
            Ok(d)
        };
        let live = if flags & 1 != 0 {
            Some(edit(&self.def)?)
        } else {
            None
        };
        let config = if flags & 2 != 0 {
            Some(edit(self.persistent_def())?)
        } else {
            None
        };
        if let Some(d) = config {
            if self.active {
                self.new_def = Some(d);
            } else {
                self.def = d;
            }
        }
        if let Some(d) = live {
            self.def = d;
        }
        Ok(flags)
    }
}

/// virConnectListAllNetworks' (and pools') common filters.
pub fn matches_list_flags(f: u32, active: bool, persistent: bool, autostart: bool) -> bool {
    if f & (lo::ACTIVE | lo::INACTIVE) != 0
        && !((f & lo::ACTIVE != 0 && active) || (f & lo::INACTIVE != 0 && !active))
    {
        return false;
    }
    if f & (lo::PERSISTENT | lo::TRANSIENT) != 0
        && !((f & lo::PERSISTENT != 0 && persistent) || (f & lo::TRANSIENT != 0 && !persistent))
    {
        return false;
    }
    if f & (lo::AUTOSTART | lo::NO_AUTOSTART) != 0
        && !((f & lo::AUTOSTART != 0 && autostart) || (f & lo::NO_AUTOSTART != 0 && !autostart))
    {
        return false;
    }
    true
}

/// The networks of one driver (virNetworkObjList). Lookup errors carry
/// `err_domain` (the test driver reports them as VIR_FROM_TEST).
#[derive(Debug, Clone)]
pub struct NetworkList {
    pub objs: Vec<NetworkObj>,
    pub err_domain: i32,
}

impl Default for NetworkList {
    fn default() -> Self {
        NetworkList {
            objs: Vec::new(),
            err_domain: FROM,
        }
    }
}

impl NetworkList {
    pub fn new(err_domain: i32) -> Self {
        NetworkList {
            objs: Vec::new(),
            err_domain,
        }
    }

    pub fn by_name(&self, name: &str) -> Result<usize> {
        self.objs
            .iter()
            .position(|n| n.def.name == name)
            .ok_or_else(|| {
                Error::new(
                    code::NO_NETWORK,
                    self.err_domain,
                    format!("no network with matching name '{}'", name),
                )
            })
    }

    pub fn by_uuid(&self, uuid: &Uuid) -> Result<usize> {
        self.objs
            .iter()
            .position(|n| n.def.uuid == *uuid)
            .ok_or_else(|| {
                Error::new(
                    code::NO_NETWORK,
                    self.err_domain,
                    format!("no network with matching uuid '{}'", uuid),
                )
            })
    }

    /// The handles passing virConnectListAllNetworks' filters.
    pub fn list(&self, flags: u32) -> Vec<NetworkRef> {
        self.objs
            .iter()
            .filter(|n| matches_list_flags(flags, n.active, n.persistent, n.autostart))
            .map(NetworkObj::handle)
            .collect()
    }

    /// virNetworkObjBridgeInUse: another network (live or persistent
    /// definition) uses `bridge`.
    pub fn bridge_in_use(&self, bridge: &str, skip_name: &str) -> bool {
        self.objs.iter().any(|o| {
            o.def.name != skip_name
                && (o.def.bridge_name() == Some(bridge)
                    || o.new_def.as_ref().and_then(|d| d.bridge_name()) == Some(bridge))
        })
    }

    /// virNetworkObjAssignDef: `live` is ADD_LIVE, `check_live`
    /// ADD_CHECK_LIVE.
    pub fn assign(&mut self, def: Network, live: bool, check_live: bool) -> Result<usize> {
        if let Some(i) = self.objs.iter().position(|n| n.def.uuid == def.uuid) {
            let obj = &mut self.objs[i];
            if obj.def.name != def.name {
                return Err(Error::operation_failed(
                    FROM,
                    format!(
                        "network '{}' is already defined with uuid {}",
                        obj.def.name, obj.def.uuid
                    ),
                ));
            }
            if check_live && obj.active {
                return Err(Error::operation_invalid(
                    FROM,
                    format!("network is already active as '{}'", obj.def.name),
                ));
            }
            if live {
                obj.set_transient();
                obj.def = def;
            } else {
                if obj.active {
                    obj.new_def = Some(def);
                } else {
                    obj.def = def;
                }
                obj.persistent = true;
            }
            return Ok(i);
        }
        if let Some(o) = self.objs.iter().find(|n| n.def.name == def.name) {
            return Err(Error::operation_failed(
                FROM,
                format!(
                    "network '{}' already exists with uuid {}",
                    def.name, o.def.uuid
                ),
            ));
        }
        self.objs.push(NetworkObj {
            def,
            new_def: None,
            active: false,
            persistent: !live,
            autostart: false,
        });
        Ok(self.objs.len() - 1)
    }
}

/// virNetworkUpdateSection names, by number.
pub const SECTIONS: &[&str] = &[
    "none",
    "bridge",
    "domain",
    "ip",
    "ip-dhcp-host",
    "ip-dhcp-range",
    "forward",
    "forward-interface",
    "forward-pf",
    "portgroup",
    "dns-host",
    "dns-txt",
    "dns-srv",
];

/// virNetworkIPDefByIndex: the `<ip>` at `parent_index`, or (negative)
/// the one with DHCP, else the first IPv4, else the first IPv6.
fn ip_by_index(def: &Network, parent_index: i32) -> Result<usize> {
    let found = if parent_index >= 0 {
        Some(parent_index as usize).filter(|i| *i < def.ips.len())
    } else {
        def.ips
            .iter()
            .position(|ip| !ip.ranges.is_empty() || !ip.hosts.is_empty())
            .or_else(|| def.ips.iter().position(|ip| ip.is_ipv4()))
            .or_else(|| def.ips.iter().position(|ip| !ip.is_ipv4()))
    };
    found.ok_or_else(|| {
        Error::operation_invalid(
            FROM,
            if parent_index >= 0 {
                format!(
                    "couldn't update dhcp host entry - no <ip> element found at index {} in network '{}'",
                    parent_index, def.name
                )
            } else {
                format!(
                    "couldn't update dhcp host entry - no <ip> element found in network '{}'",
                    def.name
                )
            },
        )
    })
}

/// virNetworkDefUpdateCheckMultiDHCP: DHCP on one address per family.
fn check_multi_dhcp(def: &Network, idx: usize) -> Result<()> {
    let v4 = def.ips[idx].is_ipv4();
    let other = def.ips.iter().enumerate().any(|(i, ip)| {
        i != idx && ip.is_ipv4() == v4 && (!ip.ranges.is_empty() || !ip.hosts.is_empty())
    });
    if other {
        return Err(Error::operation_invalid(
            FROM,
            format!(
                "dhcp is supported only for a single {} address on each network",
                if v4 { "IPv4" } else { "IPv6" }
            ),
        ));
    }
    Ok(())
}

/// ADD_FIRST (4) inserts at the head, ADD_LAST at the tail.
fn add_entry<T>(v: &mut Vec<T>, command: u32, item: T) {
    if command == 4 {
        v.insert(0, item);
    } else {
        v.push(item);
    }
}

/// Deletes the one entry found; none or several is libvirt's error.
fn remove_one<T>(v: &mut Vec<T>, found: &[usize], none: String, many: String) -> Result<()> {
    match found {
        [] => Err(Error::operation_invalid(FROM, none)),
        [i] => {
            v.remove(*i);
            Ok(())
        }
        _ => Err(Error::operation_invalid(FROM, many)),
    }
}

/// virNetworkDefUpdateSection.
pub fn update_section(
    def: &mut oxvirt_xml::network::Network,
    command: u32,
    section: u32,
    parent_index: i32,
    xml: &str,
) -> Result<()> {
    let name = SECTIONS.get(section as usize).copied().unwrap_or("unknown");
    let root = oxvirt_xml::dom::parse(xml, "network_update_xml")
        .map_err(|e| Error::new(code::XML_ERROR, FROM, e.to_string()))?;
    match section {
        1 | 2 | 3 | 6 | 8 => Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            format!("can't update '{}' section of network '{}'", name, def.name),
        )),
        4 => update_dhcp_host(def, command, parent_index, &root),
        5 => update_dhcp_range(def, command, parent_index, &root),
        7 => update_forward_interface(def, command, &root),
        9 => update_portgroup(def, command, &root),
        10 => update_dns_host(def, command, &root),
        11 => update_dns_txt(def, command, &root),
        12 => update_dns_srv(def, command, &root),
        _ => Err(Error::new(
            code::NO_SUPPORT,
            FROM,
            format!("virNetworkUpdate of the '{}' section", name),
        )),
    }
}

fn update_dhcp_host(
    def: &mut oxvirt_xml::network::Network,
    command: u32,
    parent_index: i32,
    el: &oxvirt_xml::dom::Element,
) -> Result<()> {
    use oxvirt_xml::network::DhcpHost;
    if el.name != "host" {
        return Err(Error::new(
            code::XML_ERROR,
            FROM,
            format!(
                "unexpected element <{}>, expecting <host>, while updating network '{}'",
                el.name, def.name
            ),
        ));
    }
    let net_name = def.name.clone();
    let idx = ip_by_index(def, parent_index)?;
    let ip = match el.attr("ip") {
        Some(a) => Some(a.parse::<std::net::IpAddr>().map_err(|_| {
            Error::new(
                code::XML_ERROR,
                FROM,
                format!(
                    "Invalid IP address in static host definition for network '{}'",
                    net_name
                ),
            )
        })?),
        None => None,
    };
    let host = DhcpHost {
        mac: el.attr("mac").map(str::to_string),
        id: el.attr("id").map(str::to_string),
        name: el.attr("name").map(str::to_string),
        ip,
        lease: None,
    };
    if command == 3 || command == 4 {
        check_multi_dhcp(def, idx)?;
    }
    let ipdef = &mut def.ips[idx];
    let partial = command == 2;
    if !partial {
        if host.mac.is_none() && host.name.is_none() {
            return Err(Error::new(
                code::XML_ERROR,
                FROM,
                format!(
                    "Static host definition in IPv4 network '{}' must have mac or name attribute",
                    net_name
                ),
            ));
        }
        if host.ip.is_none() {
            return Err(Error::new(
                code::XML_ERROR,
                FROM,
                format!(
                    "Missing IP address in static host definition for network '{}'",
                    net_name
                ),
            ));
        }
        if host.ip.is_some_and(|a| a.is_ipv4() != ipdef.is_ipv4()) {
            return Err(Error::operation_invalid(
                FROM,
                "the address family of a host entry IP must match the address family of the dhcp element's parent",
            ));
        }
    }
    let mac_eq = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => false,
    };
    let ip_s = host
        .ip
        .map(|a| a.to_string())
        .unwrap_or_else(|| "unknown".into());
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(null)".into());
    match command {
        1 => {
            let i = ipdef.hosts.iter().position(|h| {
                mac_eq(&host.mac, &h.mac)
                    || (host.ip.is_some() && host.ip == h.ip)
                    || (host.name.is_some() && host.name == h.name)
            });
            let Some(i) = i else {
                return Err(Error::operation_invalid(
                    FROM,
                    format!(
                        "couldn't locate an existing dhcp host entry with \"mac='{}'\" \"name='{}'\" \"ip='{}'\" in network '{}'",
                        host.mac.clone().unwrap_or_else(|| "unknown".into()),
                        opt(&host.name),
                        ip_s,
                        net_name
                    ),
                ));
            };
            ipdef.hosts[i] = host;
        }
        3 | 4 => {
            if ipdef.hosts.iter().any(|h| {
                mac_eq(&host.mac, &h.mac)
                    || (host.name.is_some() && host.name == h.name)
                    || (host.ip.is_some() && host.ip == h.ip)
            }) {
                return Err(Error::operation_invalid(
                    FROM,
                    format!(
                        "there is an existing dhcp host entry in network '{}' that matches \"<host mac='{}' name='{}' ip='{}'/>\"",
                        net_name,
                        host.mac.clone().unwrap_or_else(|| "unknown".into()),
                        opt(&host.name),
                        ip_s
                    ),
                ));
            }
            add_entry(&mut ipdef.hosts, command, host);
        }
        2 => {
            let i = ipdef.hosts.iter().position(|h| {
                (host.mac.is_none() || h.mac.is_none() || mac_eq(&host.mac, &h.mac))
                    && (host.name.is_none() || host.name == h.name)
                    && (host.ip.is_none() || host.ip == h.ip)
            });
            let Some(i) = i else {
                return Err(Error::operation_invalid(
                    FROM,
                    format!(
                        "couldn't locate a matching dhcp host entry in network '{}'",
                        net_name
                    ),
                ));
            };
            ipdef.hosts.remove(i);
        }
        _ => {
            return Err(Error::argument_unsupported(
                FROM,
                format!("unrecognized network update command code {}", command),
            ))
        }
    }
    Ok(())
}

fn check_element(def: &Network, el: &oxvirt_xml::dom::Element, want: &str) -> Result<()> {
    if el.name != want {
        return Err(Error::new(
            code::XML_ERROR,
            FROM,
            format!(
                "unexpected element <{}>, expecting <{}>, while updating network '{}'",
                el.name, want, def.name
            ),
        ));
    }
    Ok(())
}

fn update_dns_host(def: &mut Network, command: u32, el: &oxvirt_xml::dom::Element) -> Result<()> {
    let is_add = command == 3 || command == 4;
    if command == 1 {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            "DNS HOST records cannot be modified, only added or deleted",
        ));
    }
    check_element(def, el, "host")?;
    let ip = match el.attr("ip") {
        Some(a) => Some(a.parse::<std::net::IpAddr>().map_err(|_| {
            Error::new(
                code::XML_ERROR,
                FROM,
                format!(
                    "Invalid IP address in network '{}' DNS HOST record",
                    def.name
                ),
            )
        })?),
        None if is_add => {
            return Err(Error::raw(
                code::XML_DETAIL,
                FROM,
                format!(
                    "Missing IP address in network '{}' DNS HOST record",
                    def.name
                ),
            ))
        }
        None => None,
    };
    let names: Vec<String> = el.children_named("hostname").map(|h| h.text()).collect();
    let found: Vec<usize> = def
        .dns
        .hosts
        .iter()
        .enumerate()
        .filter(|(_, (hip, hnames))| {
            Some(*hip) == ip || (!is_add && names.iter().any(|n| hnames.contains(n)))
        })
        .map(|(i, _)| i)
        .collect();
    let name = def.name.clone();
    if is_add {
        if !found.is_empty() {
            return Err(Error::operation_invalid(
                FROM,
                format!(
                    "there is already at least one DNS HOST record with a matching field in network {}",
                    name
                ),
            ));
        }
        let entry = (ip.expect("checked above"), names);
        add_entry(&mut def.dns.hosts, command, entry);
        return Ok(());
    }
    remove_one(
        &mut def.dns.hosts,
        &found,
        format!(
            "couldn't locate a matching DNS HOST record in network {}",
            name
        ),
        format!(
            "multiple matching DNS HOST records were found in network {}",
            name
        ),
    )
}

fn update_dns_txt(def: &mut Network, command: u32, el: &oxvirt_xml::dom::Element) -> Result<()> {
    let is_add = command == 3 || command == 4;
    if command == 1 {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            "DNS TXT records cannot be modified, only added or deleted",
        ));
    }
    check_element(def, el, "txt")?;
    let Some(tname) = el.attr("name").map(str::to_string) else {
        return Err(Error::raw(
            code::XML_DETAIL,
            FROM,
            format!(
                "missing required name attribute in DNS TXT record of network {}",
                def.name
            ),
        ));
    };
    let value = el.attr("value").unwrap_or_default().to_string();
    let idx = def.dns.txts.iter().position(|(n, _)| *n == tname);
    let name = def.name.clone();
    if is_add {
        if idx.is_some() {
            return Err(Error::operation_invalid(
                FROM,
                format!(
                    "there is already a DNS TXT record with name '{}' in network {}",
                    tname, name
                ),
            ));
        }
        add_entry(&mut def.dns.txts, command, (tname, value));
        return Ok(());
    }
    match idx {
        Some(i) => {
            def.dns.txts.remove(i);
            Ok(())
        }
        None => Err(Error::operation_invalid(
            FROM,
            format!(
                "couldn't locate a matching DNS TXT record in network {}",
                name
            ),
        )),
    }
}

fn update_dhcp_range(
    def: &mut Network,
    command: u32,
    parent_index: i32,
    el: &oxvirt_xml::dom::Element,
) -> Result<()> {
    check_element(def, el, "range")?;
    let name = def.name.clone();
    let idx = ip_by_index(def, parent_index)?;
    if command == 1 {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            "dhcp ranges cannot be modified, only added or deleted",
        ));
    }
    let addr = |a: &str| -> Result<std::net::IpAddr> {
        let v = el.attr(a).ok_or_else(|| {
            Error::new(
                code::XML_ERROR,
                FROM,
                format!(
                    "Missing '{}' attribute in dhcp range for network '{}'",
                    a, name
                ),
            )
        })?;
        v.parse().map_err(|_| {
            Error::new(
                code::XML_ERROR,
                FROM,
                format!("Invalid dhcp range '{}' in network '{}'", v, name),
            )
        })
    };
    let (start, end) = (addr("start")?, addr("end")?);
    oxvirt_xml::network::range_size(
        start,
        end,
        Some((def.ips[idx].address, def.ips[idx].prefix_len())),
    )
    .map_err(|e| Error::from_xml(e, FROM))?;
    if command == 3 || command == 4 {
        check_multi_dhcp(def, idx)?;
    }
    let ipdef = &mut def.ips[idx];
    let found = ipdef
        .ranges
        .iter()
        .position(|r| r.start == start && r.end == end);
    match command {
        3 | 4 => {
            if found.is_some() {
                return Err(Error::operation_invalid(
                    FROM,
                    format!(
                        "there is an existing dhcp range entry in network '{}' that matches \"<range start='{}' end='{}'/>\"",
                        name, start, end
                    ),
                ));
            }
            let r = oxvirt_xml::network::DhcpRange {
                start,
                end,
                lease: None,
            };
            add_entry(&mut ipdef.ranges, command, r);
            Ok(())
        }
        2 => match found {
            Some(i) => {
                ipdef.ranges.remove(i);
                Ok(())
            }
            None => Err(Error::operation_invalid(
                FROM,
                format!(
                    "couldn't locate a matching dhcp range entry in network '{}'",
                    name
                ),
            )),
        },
        _ => Err(Error::argument_unsupported(
            FROM,
            format!("unrecognized network update command code {}", command),
        )),
    }
}

fn update_dns_srv(def: &mut Network, command: u32, el: &oxvirt_xml::dom::Element) -> Result<()> {
    let is_add = command == 3 || command == 4;
    if command == 1 {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            "DNS SRV records cannot be modified, only added or deleted",
        ));
    }
    check_element(def, el, "srv")?;
    let name = def.name.clone();
    let service = el.attr("service").map(str::to_string);
    let protocol = el.attr("protocol").map(str::to_string);
    if is_add && service.is_none() {
        return Err(Error::raw(
            code::XML_DETAIL,
            FROM,
            format!(
                "missing required service attribute in DNS SRV record of network '{}'",
                name
            ),
        ));
    }
    if is_add && protocol.is_none() {
        return Err(Error::raw(
            code::XML_DETAIL,
            FROM,
            format!(
                "missing required protocol attribute in DNS SRV record '{}' of network '{}'",
                service.clone().unwrap_or_default(),
                name
            ),
        ));
    }
    let num = |a: &str| el.attr(a).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
    let srv = oxvirt_xml::network::Srv {
        service: service.clone().unwrap_or_default(),
        protocol: protocol.clone().unwrap_or_default(),
        domain: el.attr("domain").map(str::to_string),
        target: el.attr("target").map(str::to_string),
        port: num("port"),
        priority: num("priority"),
        weight: num("weight"),
    };
    let found: Vec<usize> = def
        .dns
        .srvs
        .iter()
        .enumerate()
        .filter(|(_, x)| {
            (srv.domain.is_none() || srv.domain == x.domain)
                && (service.is_none() || srv.service == x.service)
                && (protocol.is_none() || srv.protocol == x.protocol)
                && (srv.target.is_none() || srv.target == x.target)
        })
        .map(|(i, _)| i)
        .collect();
    if is_add {
        if !found.is_empty() {
            return Err(Error::operation_invalid(
                FROM,
                format!(
                    "there is already at least one DNS SRV record matching all specified fields in network {}",
                    name
                ),
            ));
        }
        add_entry(&mut def.dns.srvs, command, srv);
        return Ok(());
    }
    remove_one(
        &mut def.dns.srvs,
        &found,
        format!(
            "couldn't locate a matching DNS SRV record in network {}",
            name
        ),
        format!(
            "multiple DNS SRV records matching all specified fields were found in network {}",
            name
        ),
    )
}

fn update_forward_interface(
    def: &mut Network,
    command: u32,
    el: &oxvirt_xml::dom::Element,
) -> Result<()> {
    use oxvirt_xml::network::ForwardIf;
    check_element(def, el, "interface")?;
    let name = def.name.clone();
    if command == 1 {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            "forward interface entries cannot be modified, only added or deleted",
        ));
    }
    let Some(dev) = el.attr("dev").map(str::to_string) else {
        return Err(Error::new(
            code::XML_ERROR,
            FROM,
            "missing dev attribute in <interface> element",
        ));
    };
    let Some(fwd) = def.forward.as_mut() else {
        return Err(Error::new(
            code::NO_SUPPORT,
            FROM,
            "virNetworkUpdate of forward interfaces without <forward>",
        ));
    };
    let found = fwd
        .ifs
        .iter()
        .position(|f| matches!(f, ForwardIf::Netdev(d) if *d == dev));
    match command {
        3 | 4 => {
            if found.is_some() {
                return Err(Error::operation_invalid(
                    FROM,
                    format!(
                        "there is an existing interface entry in network '{}' that matches \"<interface dev='{}'>\"",
                        name, dev
                    ),
                ));
            }
            // A second interface of a nat/route network is refused by
            // the format/parse cycle of NetworkObj::update, as libvirt's.
            add_entry(&mut fwd.ifs, command, ForwardIf::Netdev(dev));
            Ok(())
        }
        2 => match found {
            Some(i) => {
                fwd.ifs.remove(i);
                Ok(())
            }
            None => Err(Error::operation_invalid(
                FROM,
                format!(
                    "couldn't find an interface entry in network '{}' matching <interface dev='{}'>",
                    name, dev
                ),
            )),
        },
        _ => Err(Error::argument_unsupported(
            FROM,
            format!("unrecognized network update command code {}", command),
        )),
    }
}

fn update_portgroup(def: &mut Network, command: u32, el: &oxvirt_xml::dom::Element) -> Result<()> {
    check_element(def, el, "portgroup")?;
    let name = def.name.clone();
    let Some(pg) = el.attr("name").map(str::to_string) else {
        return Err(Error::new(
            code::XML_ERROR,
            FROM,
            "Missing required name attribute in portgroup",
        ));
    };
    let is_default = el.attr("default") == Some("yes");
    let found = def
        .portgroups
        .iter()
        .position(|p| p.attr("name") == Some(pg.as_str()));
    let found_default = def
        .portgroups
        .iter()
        .position(|p| p.attr("default") == Some("yes"));
    if found.is_none() && (command == 1 || command == 2) {
        return Err(Error::operation_invalid(
            FROM,
            format!(
                "couldn't find a portgroup entry in network '{}' matching <portgroup name='{}'>",
                name, pg
            ),
        ));
    }
    if found.is_some() && (command == 3 || command == 4) {
        return Err(Error::operation_invalid(
            FROM,
            format!(
                "there is an existing portgroup entry in network '{}' that matches \"<portgroup name='{}'>\"",
                name, pg
            ),
        ));
    }
    if command != 2 && is_default && found_default.is_some() && found_default != found {
        return Err(Error::operation_invalid(
            FROM,
            format!(
                "a different portgroup entry in network '{}' is already set as the default. Only one default is allowed.",
                name
            ),
        ));
    }
    match (command, found) {
        (1, Some(i)) => def.portgroups[i] = el.clone(),
        (2, Some(i)) => {
            def.portgroups.remove(i);
        }
        (3, _) => def.portgroups.push(el.clone()),
        (4, _) => def.portgroups.insert(0, el.clone()),
        _ => {
            return Err(Error::argument_unsupported(
                FROM,
                format!("unrecognized network update command code {}", command),
            ))
        }
    }
    Ok(())
}
