//! The guest-agent style APIs of the test driver: guest time, passwords,
//! file systems (freeze, thaw, trim, info), disk errors, interface
//! addresses, process signals, launch security and the balloon period
//! (testDomainSetTime, testDomainFS*, testDomainGetDiskErrors,
//! testDomainInterfaceAddresses, ...).

use std::net::IpAddr;

use oxvirt_core::error::code;
use oxvirt_core::types::flags::affect::{CONFIG, LIVE};
use oxvirt_core::types::{DomainRef, FsInfo, GuestInterface, IpAddress, TypedParam};
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::{Attr, Element, Node};

use crate::domains::check_flags;
use crate::state::{Driver, FROM};

/// VIR_DOMAIN_TIME_SYNC
const TIME_SYNC: u32 = 1;
/// VIR_DOMAIN_PASSWORD_ENCRYPTED
const PASSWORD_ENCRYPTED: u32 = 1;
/// VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LAST
const ADDR_SRC_LAST: u32 = 3;
/// VIR_DOMAIN_PROCESS_SIGNAL_LAST
const SIGNAL_LAST: u32 = 65;
/// VIR_DOMAIN_DISK_ERROR_LAST
const DISK_ERROR_LAST: i32 = 3;

const MOUNTPOINTS: [&str; 2] = ["/", "/boot"];

fn mount_index(m: &str) -> Result<usize> {
    MOUNTPOINTS
        .iter()
        .position(|p| *p == m)
        .ok_or_else(|| Error::operation_invalid(FROM, format!("mount point not found: {}", m)))
}

impl Driver {
    pub fn set_time(&self, dom: &DomainRef, seconds: i64, nseconds: u32, flags: u32) -> Result<()> {
        check_flags(flags, TIME_SYNC, "testDomainSetTime")?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        obj.check_active()?;
        obj.time = (seconds, nseconds);
        Ok(())
    }

    pub fn set_user_password(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, PASSWORD_ENCRYPTED, "testDomainSetUserPassword")?;
        self.lock().dom(dom)?.check_active()
    }

    /// Freezes (`freeze`) or thaws file systems; the number changed.
    pub fn fs_freeze_thaw(
        &self,
        dom: &DomainRef,
        mountpoints: &[String],
        flags: u32,
        freeze: bool,
    ) -> Result<i32> {
        let func = if freeze {
            "testDomainFSFreeze"
        } else {
            "testDomainFSThaw"
        };
        check_flags(flags, 0, func)?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        obj.check_active()?;
        let mut state = obj.frozen;
        let mut n = 0;
        if mountpoints.is_empty() {
            for s in state.iter_mut() {
                if *s != freeze {
                    *s = freeze;
                    n += 1;
                }
            }
        } else {
            for m in mountpoints {
                let i = mount_index(m)?;
                if state[i] != freeze {
                    state[i] = freeze;
                    n += 1;
                }
            }
        }
        obj.frozen = state;
        Ok(n)
    }

    pub fn fs_trim(&self, dom: &DomainRef, mountpoint: Option<&str>, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testDomainFSTrim")?;
        self.lock().dom(dom)?.check_active()?;
        if let Some(m) = mountpoint {
            mount_index(m)?;
        }
        Ok(())
    }

    pub fn fs_info(&self, dom: &DomainRef, flags: u32) -> Result<Vec<FsInfo>> {
        check_flags(flags, 0, "testDomainGetFSInfo")?;
        let st = self.lock();
        let obj = st.dom(dom)?;
        obj.check_active()?;
        let disk = obj
            .def
            .devices
            .disks
            .iter()
            .find(|d| d.device.as_deref().unwrap_or("disk") == "disk");
        Ok(match disk {
            None => Vec::new(),
            Some(d) => {
                let name = d.target_dev.clone().unwrap_or_default();
                MOUNTPOINTS
                    .iter()
                    .enumerate()
                    .map(|(i, m)| FsInfo {
                        mountpoint: m.to_string(),
                        name: format!("{}{}", name, i + 1),
                        fstype: "ext4".into(),
                        dev_aliases: vec![name.clone()],
                    })
                    .collect()
            }
        })
    }

    pub fn disk_errors(&self, dom: &DomainRef, flags: u32) -> Result<Vec<(String, i32)>> {
        check_flags(flags, 0, "testDomainGetDiskErrors")?;
        let st = self.lock();
        let obj = st.dom(dom)?;
        obj.check_active()?;
        Ok(obj
            .def
            .devices
            .disks
            .iter()
            .enumerate()
            .map(|(i, d)| {
                (
                    d.target_dev.clone().unwrap_or_default(),
                    (i as i32 % (DISK_ERROR_LAST - 1)) + 1,
                )
            })
            .collect())
    }

    pub fn interface_addresses(
        &self,
        dom: &DomainRef,
        source: u32,
        flags: u32,
    ) -> Result<Vec<GuestInterface>> {
        check_flags(flags, 0, "testDomainInterfaceAddresses")?;
        if source >= ADDR_SRC_LAST {
            return Err(Error::new(
                code::ARGUMENT_UNSUPPORTED,
                FROM,
                format!("Unknown IP address data source {}", source),
            ));
        }
        let st = self.lock();
        let obj = st.dom(dom)?;
        obj.check_active()?;
        let id = obj.def.id.unwrap_or(-1) as i64;
        let mut out = Vec::new();
        for (i, net) in obj.def.devices.interfaces.iter().enumerate() {
            let mut iface = GuestInterface {
                name: net.target_dev.clone().unwrap_or_default(),
                hwaddr: Some(
                    net.mac
                        .as_deref()
                        .and_then(oxvirt_xml::props::Mac::parse)
                        .map(|m| m.to_string())
                        .unwrap_or_default(),
                ),
                addrs: Vec::new(),
            };
            if net.net_type == "network" {
                let offset = (20 * (id - 1) + i as i64 + 1) as u128;
                let netname = net
                    .source_el
                    .as_ref()
                    .and_then(|s| s.attr("network"))
                    .unwrap_or("");
                let nobj = st
                    .objects
                    .networks
                    .objs
                    .iter()
                    .find(|n| n.def.name == netname)
                    .ok_or_else(|| {
                        Error::new(
                            code::NO_NETWORK,
                            FROM,
                            format!("no network with matching name '{}'", netname),
                        )
                    })?;
                let ip = nobj.def.ips.first().ok_or_else(|| {
                    Error::internal(FROM, "network has no IP address".to_string())
                })?;
                let base = ip.ranges.first().map(|r| r.start).unwrap_or(ip.address);
                let (kind, addr) = match base {
                    IpAddr::V4(a) => (
                        0,
                        std::net::Ipv4Addr::from(u32::from(a).wrapping_add(offset as u32))
                            .to_string(),
                    ),
                    IpAddr::V6(a) => {
                        let mut o = a.octets();
                        o[15] = o[15].wrapping_add(offset as u8);
                        (1, std::net::Ipv6Addr::from(o).to_string())
                    }
                };
                iface.addrs.push(IpAddress {
                    kind,
                    addr,
                    prefix: ip.prefix_len(),
                });
            } else {
                iface.addrs.push(IpAddress {
                    kind: 0,
                    addr: format!("192.168.0.{}", 1 + i),
                    prefix: 24,
                });
            }
            out.push(iface);
        }
        Ok(out)
    }

    pub fn send_process_signal(
        &self,
        dom: &DomainRef,
        pid: i64,
        signum: u32,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, 0, "testDomainSendProcessSignal")?;
        if pid != 1 {
            return Err(Error::invalid_arg(
                FROM,
                "only sending a signal to pid 1 is supported",
            ));
        }
        if signum >= SIGNAL_LAST {
            return Err(Error::invalid_arg(
                FROM,
                format!("signum value {} is out of range", signum),
            ));
        }
        self.lock().dom(dom)?;
        Ok(())
    }

    pub fn launch_security_info(&self, flags: u32) -> Result<Vec<TypedParam>> {
        check_flags(flags, 0, "testDomainGetLaunchSecurityInfo")?;
        Ok(Vec::new())
    }

    pub fn set_memory_stats_period(&self, dom: &DomainRef, period: i32, flags: u32) -> Result<()> {
        check_flags(flags, LIVE | CONFIG, "testDomainSetMemoryStatsPeriod")?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        let def = obj.one_def_mut(flags)?;
        let balloon = def
            .devices
            .raw
            .iter_mut()
            .map(|r| &mut r.0)
            .find(|e| e.name == "memballoon" && e.attr("model") != Some("none"));
        let Some(balloon) = balloon else {
            return Err(Error::internal(
                FROM,
                "No memory balloon device configured, can not set the collection period"
                    .to_string(),
            ));
        };
        set_period(balloon, period);
        Ok(())
    }
}

/// `<stats period='N'/>` inside `<memballoon>` (period 0 removes it).
fn set_period(balloon: &mut Element, period: i32) {
    balloon
        .children
        .retain(|n| !matches!(n, Node::Element(e) if e.name == "stats"));
    if period > 0 {
        let mut stats = Element::new("stats");
        stats.attrs.push(Attr {
            name: "period".into(),
            value: period.to_string(),
        });
        let pos = balloon
            .children
            .iter()
            .position(|n| matches!(n, Node::Element(e) if e.name != "alias"))
            .unwrap_or(balloon.children.len());
        balloon.children.insert(pos, Node::Element(stats));
    }
}
