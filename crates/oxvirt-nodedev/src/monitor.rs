//! Kernel uevents (NETLINK_KOBJECT_UEVENT, the kernel's own multicast
//! group): hotplug is seen whether or not a udevd runs. Each event updates
//! the driver's list and emits libvirt's node device events.

use std::sync::{Arc, Weak};

use crate::NodeDevDriver;

const NETLINK_KOBJECT_UEVENT: libc::c_int = 15;
/// Largest uevent the kernel sends (UEVENT_BUFFER_SIZE).
const BUF: usize = 2048;

/// A uevent: ACTION, DEVPATH and the other keys.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Uevent {
    pub action: String,
    pub devpath: String,
    pub devpath_old: Option<String>,
}

/// Parses one kernel uevent datagram ("ACTION@DEVPATH\0KEY=VALUE\0...").
pub(crate) fn parse(buf: &[u8]) -> Option<Uevent> {
    let mut parts = buf.split(|b| *b == 0).filter(|p| !p.is_empty());
    let head = std::str::from_utf8(parts.next()?).ok()?;
    // udevd's own messages start with "libudev"; only the kernel's are read.
    if !head.contains('@') {
        return None;
    }
    let mut ev = Uevent {
        action: String::new(),
        devpath: String::new(),
        devpath_old: None,
    };
    for p in parts {
        let Ok(kv) = std::str::from_utf8(p) else {
            continue;
        };
        match kv.split_once('=') {
            Some(("ACTION", v)) => ev.action = v.to_string(),
            Some(("DEVPATH", v)) => ev.devpath = v.to_string(),
            Some(("DEVPATH_OLD", v)) => ev.devpath_old = Some(v.to_string()),
            _ => {}
        }
    }
    (!ev.action.is_empty() && ev.devpath.starts_with('/') && !ev.devpath.contains(".."))
        .then_some(ev)
}

/// Opens the uevent socket; None when the kernel refuses (no netlink).
fn open_socket() -> Option<libc::c_int> {
    // SAFETY: plain socket/bind/setsockopt calls with valid arguments.
    unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_KOBJECT_UEVENT,
        );
        if fd < 0 {
            return None;
        }
        let mut addr: libc::sockaddr_nl = std::mem::zeroed();
        addr.nl_family = libc::AF_NETLINK as u16;
        addr.nl_groups = 1;
        if libc::bind(
            fd,
            &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        ) < 0
        {
            libc::close(fd);
            return None;
        }
        // Bursts (a whole USB hub, many VFs) must not be dropped.
        let size: libc::c_int = 16 << 20;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &size as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as u32,
        );
        // Wake up every second to notice a dropped driver.
        let tv = libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        };
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as u32,
        );
        Some(fd)
    }
}

/// Starts the uevent thread of `driver`; it ends when the driver is gone.
pub(crate) fn start(driver: &Arc<NodeDevDriver>) {
    let Some(fd) = open_socket() else {
        tracing::warn!("node devices: no uevent socket; hotplug will not be seen");
        return;
    };
    let weak: Weak<NodeDevDriver> = Arc::downgrade(driver);
    let spawned = std::thread::Builder::new()
        .name("nodedev-uevents".into())
        .spawn(move || {
            let mut buf = [0u8; BUF];
            loop {
                // SAFETY: buf is writable for its length; fd is ours.
                let n =
                    unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
                let Some(d) = weak.upgrade() else {
                    break;
                };
                if n <= 0 {
                    continue;
                }
                let Some(ev) = parse(&buf[..n as usize]) else {
                    continue;
                };
                let path = |dp: &str| d.src.sys.join(dp.trim_start_matches('/'));
                match ev.action.as_str() {
                    "add" | "change" | "remove" => d.device_changed(&ev.action, &path(&ev.devpath)),
                    "move" => {
                        if let Some(old) = &ev.devpath_old {
                            d.device_changed("remove", &path(old));
                        }
                        d.device_changed("add", &path(&ev.devpath));
                    }
                    _ => {}
                }
            }
            // SAFETY: the descriptor is ours and no longer used.
            unsafe {
                libc::close(fd);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("node devices: cannot start the uevent thread: {}", e);
        // SAFETY: the descriptor is ours; the thread never started.
        unsafe {
            libc::close(fd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_messages() {
        let m = b"add@/devices/virtual/net/d0\0ACTION=add\0DEVPATH=/devices/virtual/net/d0\0SUBSYSTEM=net\0INTERFACE=d0\0";
        assert_eq!(
            parse(m),
            Some(Uevent {
                action: "add".into(),
                devpath: "/devices/virtual/net/d0".into(),
                devpath_old: None
            })
        );
        assert_eq!(parse(b"libudev\0\xfe\xed"), None);
        assert_eq!(parse(b"add@x\0ACTION=add\0DEVPATH=/../etc\0"), None);
        assert_eq!(parse(b""), None);
    }
}
