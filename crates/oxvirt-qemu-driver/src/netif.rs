//! Guest network interfaces of running domains: taps prepared before
//! QEMU starts, interface statistics and live link changes (the
//! pure argv and tap plumbing is `nic.rs`).

use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::Element;
use oxvirt_xml::domain::devices::Net;

use crate::nic::{
    device_id_by_mac, find, guest_stats, link_state, prepare, set_link_state, uses_tap, PreparedNic,
};
use crate::FROM;

/// Network ports allocated for a start or a hot-plug, released when this
/// is dropped unless `keep` was called (the guest now owns them).
pub(crate) struct NicPorts {
    services: oxvirt_core::host::HostServices,
    pub(crate) ports: Vec<(String, oxvirt_core::types::Uuid)>,
    keep: bool,
}

impl NicPorts {
    pub(crate) fn new(d: &crate::driver::Driver) -> NicPorts {
        NicPorts {
            services: d.services.clone(),
            ports: Vec::new(),
            keep: false,
        }
    }

    pub(crate) fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for NicPorts {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        for (net, port) in &self.ports {
            let _ = self.services.ports.release_port(net, port);
        }
    }
}

impl crate::driver::Driver {
    /// The bridge a tap of `net` is plugged into (None for `ethernet`
    /// and QEMU's own backends). For `type='network'` a port of the
    /// network is allocated first (its plug names the bridge) and
    /// recorded on the interface (`<source portid= bridge=>`), as
    /// libvirt's live XML shows it; `ports` keeps it for release.
    pub(crate) fn nic_bridge(
        &self,
        owner: (&str, oxvirt_core::types::Uuid),
        net: &mut Net,
        ports: &mut NicPorts,
    ) -> Result<Option<String>> {
        match net.net_type.as_str() {
            "bridge" => Ok(Some(
                net.source_el
                    .as_ref()
                    .and_then(|s| s.attr("bridge"))
                    .ok_or_else(|| Error::internal(FROM, "Missing bridge name in interface"))?
                    .to_string(),
            )),
            "network" => {
                let src = net
                    .source_el
                    .clone()
                    .unwrap_or_else(|| Element::new("source"));
                let network = src.attr("network").unwrap_or("").to_string();
                let req = oxvirt_core::host::PortRequest {
                    network: network.clone(),
                    portgroup: src.attr("portgroup").map(str::to_string),
                    owner_name: owner.0.to_string(),
                    owner_uuid: owner.1,
                    mac: net.mac.clone().unwrap_or_default(),
                };
                let b = self.services.ports.allocate_port(&req)?;
                ports.ports.push((network.clone(), b.port));
                match b.plug {
                    oxvirt_core::host::PortPlug::Bridge { bridge, .. } => {
                        let mut src = src;
                        src.set_attr("portid", b.port.to_string());
                        src.set_attr("bridge", bridge.clone());
                        net.source_el = Some(src);
                        Ok(Some(bridge))
                    }
                    _ => Err(Error::unsupported_config(
                        FROM,
                        format!(
                            "network '{}' plugs guests with macvtap or PCI passthrough, which this driver does not do",
                            network
                        ),
                    )),
                }
            }
            _ => Ok(None),
        }
    }

    /// Gives back the network ports of `def`'s interfaces (the guest
    /// stopped): virDomainNetReleaseActualDevice.
    pub(crate) fn release_nic_ports(&self, nets: &[Net]) {
        for n in nets.iter().filter(|n| n.net_type == "network") {
            let Some(src) = n.source_el.as_ref() else {
                continue;
            };
            let (Some(net), Some(port)) = (
                src.attr("network"),
                src.attr("portid").and_then(oxvirt_core::types::Uuid::parse),
            ) else {
                continue;
            };
            if let Err(e) = self.services.ports.release_port(net, &port) {
                tracing::warn!("releasing port {} of network {}: {}", port, net, e.message);
            }
        }
    }

    /// Makes the taps of every tap-backed interface of `live` before QEMU
    /// starts and records each tap's name as the interface's `<target
    /// dev>`; one entry per interface (None: QEMU's own backend).
    pub(crate) fn prepare_nics(
        &self,
        live: &mut oxvirt_xml::domain::Domain,
    ) -> Result<(Vec<Option<PreparedNic>>, NicPorts)> {
        let mut ports = NicPorts::new(self);
        let owner = (live.name.clone(), live.uuid);
        let mut out = Vec::with_capacity(live.devices.interfaces.len());
        for net in live.devices.interfaces.iter_mut() {
            if !uses_tap(&net.net_type) {
                out.push(None);
                continue;
            }
            let bridge = self.nic_bridge((&owner.0, owner.1), net, &mut ports)?;
            let p = prepare(net, bridge.as_deref())?;
            net.target_dev = Some(p.ifname.clone());
            out.push(Some(p));
        }
        Ok((out, ports))
    }
}

impl crate::driver::Driver {
    /// virDomainInterfaceStats: the tap's counters, from the guest's side.
    pub fn interface_stats(
        &self,
        dom: &oxvirt_core::types::DomainRef,
        device: &str,
    ) -> Result<oxvirt_core::types::InterfaceStats> {
        let ifname = {
            let st = self.read(dom)?;
            let obj = st.dom(dom)?;
            obj.check_active()?;
            let net = find(&obj.def, device)?;
            net.target_dev
                .clone()
                .ok_or_else(|| Error::internal(FROM, "Interface name not provided"))?
        };
        let s = guest_stats(&ifname)?;
        let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Ok(oxvirt_core::types::InterfaceStats {
            rx_bytes: i(s.rx_bytes),
            rx_packets: i(s.rx_packets),
            rx_errs: i(s.rx_errs),
            rx_drop: i(s.rx_drop),
            tx_bytes: i(s.tx_bytes),
            tx_packets: i(s.tx_packets),
            tx_errs: i(s.tx_errs),
            tx_drop: i(s.tx_drop),
        })
    }
}

impl crate::driver::Driver {
    /// virDomainUpdateDeviceFlags for an `<interface>`: the link state
    /// (`domif-setlink`) changes live through QMP `set_link` and in the
    /// persistent definition; other changes are refused as libvirt does.
    pub fn update_net_device(
        &self,
        dom: &oxvirt_core::types::DomainRef,
        xml: &str,
        flags: u32,
    ) -> Result<()> {
        use oxvirt_core::types::flags::affect;
        crate::driver::check_flags(
            flags,
            affect::LIVE | affect::CONFIG | 4,
            "qemuDomainUpdateDeviceFlags",
        )?;
        let _job = self.begin_job(dom)?;
        let wrapped = format!(
            "<domain type='qemu'><name>oxvirt-device</name><memory>65536</memory>\
<os><type arch='x86_64'>hvm</type></os><devices>{}</devices></domain>",
            xml
        );
        let mut parsed = self.parse_device_def(&wrapped)?;
        let Some(new) = parsed.devices.interfaces.pop() else {
            return Err(Error::new(
                oxvirt_core::error::code::OPERATION_UNSUPPORTED,
                FROM,
                "live update of this device type is not supported",
            ));
        };
        let mac = new.mac.clone().unwrap_or_default();
        let (active, persistent, run) = {
            let st = self.lock();
            let o = st.dom(dom)?;
            (o.is_active(), o.persistent, o.run.clone())
        };
        let live = flags & affect::LIVE != 0 || (flags & affect::CONFIG == 0 && active);
        let config = flags & affect::CONFIG != 0 || (flags & affect::LIVE == 0 && !active);
        if live && !active {
            return Err(Error::operation_invalid(
                oxvirt_core::error::from::DOMAIN,
                "domain is not running",
            ));
        }
        if config && !persistent {
            return Err(Error::operation_invalid(
                FROM,
                "cannot modify device on transient domain",
            ));
        }
        let missing = || {
            Error::new(
                99,
                FROM,
                format!(
                    "no device found at address '(<null>)' matching MAC address '{}' and alias '(<null>)'",
                    mac
                ),
            )
        };
        let same_mac = |n: &Net| {
            n.mac.as_deref().and_then(oxvirt_xml::props::Mac::parse)
                == oxvirt_xml::props::Mac::parse(&mac)
        };
        let state = link_state(&new);
        if live {
            let old = {
                let st = self.lock();
                st.dom(dom)?
                    .def
                    .devices
                    .interfaces
                    .iter()
                    .find(|n| same_mac(n))
                    .cloned()
                    .ok_or_else(missing)?
            };
            if old.model != new.model {
                return Err(Error::new(
                    oxvirt_core::error::code::OPERATION_UNSUPPORTED,
                    FROM,
                    format!(
                        "cannot modify network device model from {} to {}",
                        old.model.as_deref().unwrap_or("(default)"),
                        new.model.as_deref().unwrap_or("(default)")
                    ),
                ));
            }
            if link_state(&old) != state {
                let run =
                    run.ok_or_else(|| Error::operation_invalid(FROM, "domain is not running"))?;
                let id = device_id_by_mac(&run.qmp, &mac)?;
                run.qmp
                    .execute_value(
                        "set_link",
                        Some(
                            serde_json::json!({"name": id, "up": state.as_deref() != Some("down")}),
                        ),
                    )
                    .map_err(crate::monitor::qmp_err)?;
                let mut st = self.lock();
                let mut o = st.dom_mut(dom)?;
                if let Some(n) = o.def.devices.interfaces.iter_mut().find(|n| same_mac(n)) {
                    set_link_state(n, state.as_deref());
                }
                self.save_status(&o);
            }
        }
        if config {
            let mut st = self.lock();
            let mut o = st.dom_mut(dom)?;
            let target = o.persistent_def_mut();
            let n = target
                .devices
                .interfaces
                .iter_mut()
                .find(|n| same_mac(n))
                .ok_or_else(missing)?;
            set_link_state(n, state.as_deref());
            let def = o.persistent_def().clone();
            self.save_config(&def)?;
        }
        Ok(())
    }
}

impl crate::driver::Driver {
    /// virDomainInterfaceAddresses with `--source lease` (0): the DHCP
    /// leases of each `type='network'` NIC's MAC on its network
    /// (virDomainNetDHCPInterfaces). ARP (2) and the guest agent (1) are
    /// not served.
    pub fn interface_addresses(
        &self,
        dom: &oxvirt_core::types::DomainRef,
        source: u32,
        flags: u32,
    ) -> Result<Vec<oxvirt_core::types::GuestInterface>> {
        crate::driver::check_flags(flags, 0, "qemuDomainInterfaceAddresses")?;
        let nets = {
            let st = self.read(dom)?;
            let obj = st.dom(dom)?;
            obj.check_active()?;
            obj.def.devices.interfaces.clone()
        };
        match source {
            0 => {}
            1 => return self.agent_interface_addresses(dom),
            2 => return Err(Error::no_support("virDomainInterfaceAddresses")),
            s => {
                return Err(Error::argument_unsupported(
                    FROM,
                    format!("Unknown IP address data source {}", s),
                ))
            }
        }
        let mut out = Vec::new();
        for n in nets.iter().filter(|n| n.net_type == "network") {
            let mac = n
                .mac
                .as_deref()
                .and_then(oxvirt_xml::props::Mac::parse)
                .map(|m| m.to_string())
                .unwrap_or_default();
            let network = n
                .source_el
                .as_ref()
                .and_then(|s| s.attr("network"))
                .unwrap_or("");
            let leases = self.services.ports.dhcp_leases(network, &mac)?;
            if leases.is_empty() {
                continue;
            }
            out.push(oxvirt_core::types::GuestInterface {
                name: n.target_dev.clone().unwrap_or_default(),
                hwaddr: Some(mac),
                addrs: leases
                    .into_iter()
                    .map(|l| oxvirt_core::types::IpAddress {
                        kind: l.kind,
                        addr: l.ipaddr,
                        prefix: l.prefix,
                    })
                    .collect(),
            });
        }
        Ok(out)
    }
}
