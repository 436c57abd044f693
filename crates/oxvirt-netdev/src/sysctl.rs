//! The IP sysctls libvirt sets for a network (networkSetIPv6Sysctls,
//! networkEnableIPForwarding), under /proc/sys/net of the caller's
//! namespace.

use std::path::Path;

use oxvirt_core::{Error, Result};

use crate::FROM;

const SYSCTL: &str = "/proc/sys/net";

fn write(path: &str, value: &str) -> std::io::Result<()> {
    std::fs::write(path, value)
}

/// networkSetIPv6Sysctl: `net/ipv6/conf/BRIDGE/FIELD`; `Ok(false)` when
/// it is missing and `ignore_missing` (IPv6 off in the kernel).
pub fn set_ipv6(bridge: &str, field: &str, value: &str, ignore_missing: bool) -> Result<bool> {
    let path = format!("{}/ipv6/conf/{}/{}", SYSCTL, bridge, field);
    if ignore_missing && !Path::new(&path).exists() {
        return Ok(false);
    }
    write(&path, value).map_err(|e| {
        Error::system(
            FROM,
            format!("cannot write to '{}' on bridge '{}'", path, bridge),
            &e,
        )
    })?;
    Ok(true)
}

/// networkSetIPv6Sysctls: IPv6 off on a bridge without IPv6 addresses;
/// no router advertisements accepted and no autoconf on every bridge.
pub fn bridge_ipv6(bridge: &str, enable: bool) -> Result<()> {
    if !set_ipv6(bridge, "disable_ipv6", if enable { "0" } else { "1" }, true)? {
        return Ok(());
    }
    set_ipv6(bridge, "accept_ra", "0", false)?;
    set_ipv6(bridge, "autoconf", "0", false)?;
    Ok(())
}

/// networkEnableIPForwarding.
pub fn enable_forwarding(v4: bool, v6: bool) -> Result<()> {
    let r = (|| {
        if v4 {
            write(&format!("{}/ipv4/ip_forward", SYSCTL), "1\n")?;
        }
        if v6 {
            write(&format!("{}/ipv6/conf/all/forwarding", SYSCTL), "1\n")?;
        }
        Ok(())
    })();
    r.map_err(|e: std::io::Error| Error::system(FROM, "failed to enable IP forwarding", &e))
}
