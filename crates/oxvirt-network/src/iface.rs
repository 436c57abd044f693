//! The host's network interfaces (virInterface*), read as libvirt 9.0's
//! udev backend reads them: every device of /sys/class/net, active when
//! its operstate is "up", described from sysfs (MTU, link state and
//! speed, MAC; bridge ports; VLAN tag and device; bond). Like that
//! backend (Debian's libvirtd), it changes nothing: defining, starting
//! and destroying interfaces answer "not supported", as they do there.

use std::path::{Path, PathBuf};

use oxvirt_core::error::{code, from};
use oxvirt_core::types::InterfaceRef;
use oxvirt_core::{Error, InterfaceDriver, Result};
use oxvirt_xml::writer::{Attrs, Writer};

const FROM: i32 = from::INTERFACE;
const SYS: &str = "/sys/class/net";

/// VIR_CONNECT_LIST_INTERFACES_INACTIVE / _ACTIVE.
const LIST_INACTIVE: u32 = 1;
const LIST_ACTIVE: u32 = 2;

fn sysattr(dev: &str, attr: &str) -> Option<String> {
    std::fs::read_to_string(Path::new(SYS).join(dev).join(attr))
        .ok()
        .map(|s| s.trim_end_matches('\n').to_string())
}

/// The devices the udev backend enumerates: not bridge ports
/// (`brport/state`), not taps (`tun_flags`: guests' NICs).
fn names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(SYS)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    let d = Path::new(SYS).join(n);
                    !d.join("brport/state").exists() && !d.join("tun_flags").exists()
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn is_active(dev: &str) -> bool {
    sysattr(dev, "operstate").as_deref() == Some("up")
}

fn iface_ref(dev: &str) -> InterfaceRef {
    InterfaceRef {
        name: dev.to_string(),
        mac: sysattr(dev, "address").unwrap_or_default(),
    }
}

/// The host's interfaces.
#[derive(Debug, Default)]
pub struct HostInterfaces;

const STATES: &[&str] = &[
    "unknown",
    "notpresent",
    "down",
    "lowerlayerdown",
    "testing",
    "dormant",
    "up",
];

enum Kind {
    Ethernet,
    Bridge,
    Vlan(String, String),
    Bond,
}

fn kind(dev: &str) -> Result<Kind> {
    let uevent = sysattr(dev, "uevent").unwrap_or_default();
    let devtype = uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVTYPE="))
        .unwrap_or("");
    let vlan = devtype == "vlan" || (devtype.is_empty() && dev.contains('.'));
    if devtype == "bridge" {
        return Ok(Kind::Bridge);
    }
    if devtype == "bond" || (!vlan && sysattr(dev, "bonding/mode").is_some()) {
        return Ok(Kind::Bond);
    }
    if vlan {
        let text = std::fs::read_to_string(format!("/proc/net/vlan/{}", dev)).map_err(|e| {
            Error::system(
                FROM,
                format!("Failed to open file '/proc/net/vlan/{}'", dev),
                &e,
            )
        })?;
        let tag = text
            .split("VID: ")
            .nth(1)
            .map(|s| {
                s.chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect::<String>()
            })
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Error::internal(
                    FROM,
                    format!("failed to find the VID for the VLAN device '{}'", dev),
                )
            })?;
        let real = text
            .split("\nDevice: ")
            .nth(1)
            .and_then(|s| s.lines().next())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Error::internal(
                    FROM,
                    format!(
                        "failed to find the real device for the VLAN device '{}'",
                        dev
                    ),
                )
            })?;
        return Ok(Kind::Vlan(tag, real.to_string()));
    }
    Ok(Kind::Ethernet)
}

/// virNetDevGetLinkInfo + virInterfaceLinkFormat.
fn write_link(w: &mut Writer, dev: &str) -> Result<()> {
    let Some(state) = sysattr(dev, "operstate") else {
        return Err(Error::system(
            FROM,
            format!("unable to read: {}/{}/operstate", SYS, dev),
            &std::io::Error::from_raw_os_error(libc::ENOENT),
        ));
    };
    if !STATES.contains(&state.as_str()) {
        return Err(Error::internal(FROM, format!("Unable to parse: {}", state)));
    }
    let speed = if state == "up" {
        sysattr(dev, "speed")
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|s| *s > 0)
    } else {
        None
    };
    w.empty(
        "link",
        Attrs::new().opt("speed", speed).add("state", &state),
    );
    Ok(())
}

/// virInterfaceDefDevFormat of the udev backend's definition of `dev`;
/// `top` for the outer interface (MTU only there).
fn write_iface(w: &mut Writer, dev: &str, top: bool, depth: usize) -> Result<()> {
    if !Path::new(SYS).join(dev).exists() {
        return Err(Error::new(
            code::NO_INTERFACE,
            FROM,
            format!("couldn't find interface named '{}'", dev),
        ));
    }
    let mtu: u32 = sysattr(dev, "mtu")
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| Error::internal(FROM, "Could not parse MTU value '(null)'"))?;
    let k = kind(dev)?;
    let t = match k {
        Kind::Ethernet => "ethernet",
        Kind::Bridge => "bridge",
        Kind::Vlan(..) => "vlan",
        Kind::Bond => "bond",
    };
    let mut err = None;
    w.block("interface", Attrs::new().add("type", t).add("name", dev), |w| {
        if top && mtu > 0 {
            w.empty("mtu", Attrs::new().add("size", mtu));
        }
        if !matches!(k, Kind::Bridge) {
            if let Err(e) = write_link(w, dev) {
                err = Some(e);
                return;
            }
        }
        match &k {
            Kind::Ethernet => {
                if let Some(m) = sysattr(dev, "address") {
                    w.empty("mac", Attrs::new().add("address", m));
                }
            }
            Kind::Bridge => {
                let stp = sysattr(dev, "bridge/stp_state").and_then(|s| s.parse::<i32>().ok());
                let delay = sysattr(dev, "bridge/forward_delay");
                let a = Attrs::new()
                    .opt(
                        "stp",
                        match stp {
                            Some(1) => Some("on"),
                            Some(0) => Some("off"),
                            _ => None,
                        },
                    )
                    .opt("delay", delay);
                let mut members: Vec<String> = std::fs::read_dir(Path::new(SYS).join(dev).join("brif"))
                    .map(|rd| {
                        rd.filter_map(|e| e.ok())
                            .map(|e| e.file_name().to_string_lossy().into_owned())
                            .filter(|n| {
                                !(n.len() >= 5
                                    && n.starts_with("vnet")
                                    && n.as_bytes()[4].is_ascii_digit())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                members.sort();
                w.block("bridge", a, |w| {
                    for m in &members {
                        if depth < 4 {
                            if let Err(e) = write_iface(w, m, false, depth + 1) {
                                err = Some(Error::internal(
                                    FROM,
                                    format!(
                                        "Could not get interface information for '{}', which is a member of bridge '{}': {}",
                                        m, dev, e.message
                                    ),
                                ));
                            }
                        }
                    }
                });
            }
            Kind::Vlan(tag, real) => {
                w.block("vlan", Attrs::new().add("tag", tag), |w| {
                    w.empty("interface", Attrs::new().add("name", real));
                });
            }
            Kind::Bond => {
                let mode = sysattr(dev, "bonding/mode")
                    .and_then(|m| m.split_whitespace().next().map(str::to_string));
                let slaves: Vec<String> = sysattr(dev, "bonding/slaves")
                    .map(|s| s.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default();
                w.block("bond", Attrs::new().opt("mode", mode), |w| {
                    for s in &slaves {
                        if depth < 4 {
                            if let Err(e) = write_iface(w, s, false, depth + 1) {
                                err = Some(e);
                            }
                        }
                    }
                });
            }
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn check_flags(flags: u32, supported: u32, func: &str) -> Result<()> {
    oxvirt_core::error::check_flags(flags, supported, func, FROM)
}

/// libvirt's interface driver API (virInterfaceDriver), udev backend.
impl InterfaceDriver for HostInterfaces {
    fn list_all_interfaces(&self, flags: u32) -> Result<Vec<InterfaceRef>> {
        check_flags(
            flags,
            LIST_ACTIVE | LIST_INACTIVE,
            "udevConnectListAllInterfaces",
        )?;
        Ok(names()
            .into_iter()
            .filter(|n| {
                let active = is_active(n);
                flags & (LIST_ACTIVE | LIST_INACTIVE) == 0
                    || (flags & LIST_ACTIVE != 0 && active)
                    || (flags & LIST_INACTIVE != 0 && !active)
            })
            .map(|n| iface_ref(&n))
            .collect())
    }

    fn lookup_interface_by_name(&self, name: &str) -> Result<InterfaceRef> {
        if name.contains('/') || name.is_empty() || !PathBuf::from(SYS).join(name).exists() {
            return Err(Error::new(
                code::NO_INTERFACE,
                FROM,
                format!("couldn't find interface named '{}'", name),
            ));
        }
        Ok(iface_ref(name))
    }

    fn lookup_interface_by_mac(&self, mac: &str) -> Result<InterfaceRef> {
        let found: Vec<String> = names()
            .into_iter()
            .filter(|n| sysattr(n, "address").as_deref() == Some(mac))
            .collect();
        match found.len() {
            0 => Err(Error::new(
                code::NO_INTERFACE,
                FROM,
                format!("couldn't find interface with MAC address '{}'", mac),
            )),
            1 => Ok(iface_ref(&found[0])),
            _ => Err(Error::new(
                code::MULTIPLE_INTERFACES,
                FROM,
                format!("the MAC address '{}' matches multiple interfaces", mac),
            )),
        }
    }

    fn interface_get_xml_desc(&self, iface: &InterfaceRef, flags: u32) -> Result<String> {
        check_flags(flags, 1, "udevInterfaceGetXMLDesc")?;
        let mut w = Writer::new();
        write_iface(&mut w, &iface.name, true, 0)?;
        Ok(w.into_string())
    }

    fn interface_is_active(&self, iface: &InterfaceRef) -> Result<bool> {
        self.lookup_interface_by_name(&iface.name)?;
        Ok(is_active(&iface.name))
    }
}
