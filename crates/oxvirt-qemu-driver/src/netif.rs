//! Guest network interfaces of running domains: taps prepared before
//! QEMU starts, interface statistics and live link changes (the
//! pure argv and tap plumbing is `nic.rs`).

use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::devices::Net;

use crate::nic::{
    device_id_by_mac, find, guest_stats, link_state, prepare, set_link_state, uses_tap, PreparedNic,
};
use crate::FROM;

impl crate::driver::Driver {
    /// The bridge a tap of `net` is plugged into (None for `ethernet`
    /// and QEMU's own backends).
    pub(crate) fn nic_bridge(&self, net: &Net) -> Result<Option<String>> {
        match net.net_type.as_str() {
            "bridge" => Ok(Some(
                net.source_el
                    .as_ref()
                    .and_then(|s| s.attr("bridge"))
                    .ok_or_else(|| Error::internal(FROM, "Missing bridge name in interface"))?
                    .to_string(),
            )),
            "network" => Err(Error::no_support("virNetworkPortCreateXML")),
            _ => Ok(None),
        }
    }

    /// Makes the taps of every tap-backed interface of `live` before QEMU
    /// starts and records each tap's name as the interface's `<target
    /// dev>`; one entry per interface (None: QEMU's own backend).
    pub(crate) fn prepare_nics(
        &self,
        live: &mut oxvirt_xml::domain::Domain,
    ) -> Result<Vec<Option<PreparedNic>>> {
        let mut out = Vec::with_capacity(live.devices.interfaces.len());
        for net in live.devices.interfaces.iter_mut() {
            if !uses_tap(&net.net_type) {
                out.push(None);
                continue;
            }
            let bridge = self.nic_bridge(net)?;
            let p = prepare(net, bridge.as_deref())?;
            net.target_dev = Some(p.ifname.clone());
            out.push(Some(p));
        }
        Ok(out)
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
