//! Network interface facts: link state and speed from sysfs, offload
//! features from ethtool (the ioctls libvirt's virNetDevGetFeatures uses).

use std::path::Path;

/// Link (speed Mbit/s, 0 when not shown; operstate) as libvirt reports it;
/// None when the interface is gone or its state unparsable.
pub fn link(netdir: &Path) -> Option<(u32, String)> {
    let s = std::fs::read_to_string(netdir.join("operstate")).ok()?;
    let state = s.strip_suffix('\n')?.to_string();
    const STATES: &[&str] = &[
        "unknown",
        "notpresent",
        "down",
        "lowerlayerdown",
        "testing",
        "dormant",
        "up",
    ];
    if !STATES.contains(&state.as_str()) {
        return None;
    }
    if state != "up" {
        return Some((0, state));
    }
    // Some drivers refuse to tell (EINVAL): no speed then. "-1" wraps, as
    // libvirt's strtoul does.
    let speed = std::fs::read_to_string(netdir.join("speed"))
        .ok()
        .and_then(|s| {
            let t = s.strip_suffix('\n')?;
            match t.strip_prefix('-') {
                Some(n) => n.parse::<u32>().ok().map(|v| 0u32.wrapping_sub(v)),
                None => t.parse::<u32>().ok(),
            }
        })
        .unwrap_or(0);
    Some((speed, state))
}

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GRXCSUM: u32 = 0x14;
const ETHTOOL_GTXCSUM: u32 = 0x16;
const ETHTOOL_GSG: u32 = 0x18;
const ETHTOOL_GTSO: u32 = 0x1e;
const ETHTOOL_GGSO: u32 = 0x23;
const ETHTOOL_GFLAGS: u32 = 0x25;
const ETHTOOL_GGRO: u32 = 0x2b;
const ETHTOOL_GFEATURES: u32 = 0x3a;

#[repr(C)]
struct Ifreq {
    name: [u8; 16],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

#[repr(C)]
struct GFeatures {
    cmd: u32,
    size: u32,
    /// available, requested, active, never_changed per block of 32.
    blocks: [[u32; 4]; 2],
}

/// An AF_UNIX datagram socket for interface ioctls, closed on drop.
struct Ctl(libc::c_int);

impl Drop for Ctl {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours.
        unsafe {
            libc::close(self.0);
        }
    }
}

fn ioctl(ctl: &Ctl, ifname: &str, data: *mut libc::c_void) -> bool {
    let mut r = Ifreq {
        name: [0; 16],
        data,
        _pad: [0; 16],
    };
    let n = ifname.len().min(15);
    r.name[..n].copy_from_slice(&ifname.as_bytes()[..n]);
    // SAFETY: SIOCETHTOOL reads the ifreq and the command buffer it points
    // to, both alive for the call.
    unsafe { libc::ioctl(ctl.0, SIOCETHTOOL, &mut r as *mut Ifreq) == 0 }
}

/// libvirt's offload feature names the interface has, in libvirt's order
/// (rdma and switchdev are not probed).
pub fn features(ifname: &str) -> Vec<&'static str> {
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 || ifname.len() >= 16 {
        return Vec::new();
    }
    let ctl = Ctl(fd);
    let mut out = Vec::new();
    let get = |cmd: u32| -> Option<u32> {
        let mut v = EthtoolValue { cmd, data: 0 };
        ioctl(
            &ctl,
            ifname,
            &mut v as *mut EthtoolValue as *mut libc::c_void,
        )
        .then_some(v.data)
    };
    for (cmd, name) in [
        (ETHTOOL_GRXCSUM, "rx"),
        (ETHTOOL_GTXCSUM, "tx"),
        (ETHTOOL_GSG, "sg"),
        (ETHTOOL_GTSO, "tso"),
        (ETHTOOL_GGSO, "gso"),
        (ETHTOOL_GGRO, "gro"),
    ] {
        if get(cmd).is_some_and(|d| d > 0) {
            out.push(name);
        }
    }
    if let Some(flags) = get(ETHTOOL_GFLAGS).filter(|d| *d > 0) {
        for (bit, name) in [
            (1u32 << 15, "lro"),
            (1 << 8, "rxvlan"),
            (1 << 7, "txvlan"),
            (1 << 27, "ntuple"),
            (1 << 28, "rxhash"),
        ] {
            if flags & bit != 0 {
                out.push(name);
            }
        }
    }
    let mut g = GFeatures {
        cmd: ETHTOOL_GFEATURES,
        size: 2,
        blocks: [[0; 4]; 2],
    };
    // Feature 25 (UDP tunnel segmentation), "active" word of block 0.
    if ioctl(&ctl, ifname, &mut g as *mut GFeatures as *mut libc::c_void)
        && g.blocks[0][2] & (1 << 25) != 0
    {
        out.push("txudptnl");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback() {
        let lo = Path::new("/sys/class/net/lo");
        if !lo.exists() {
            return;
        }
        let (speed, state) = link(lo).expect("lo has a state");
        assert_eq!(speed, 0);
        assert!(!state.is_empty());
        // Loopback offloads checksums and segmentation on every kernel.
        assert!(features("lo").contains(&"tx"));
    }
}
