//! Tap devices created by the daemon (virNetDevTapCreate) and handed to
//! QEMU as file descriptors, and the vhost-net device.

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use oxvirt_core::{Error, Result};

use crate::FROM;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETPERSIST: libc::c_ulong = 0x4004_54cb;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
const IFF_MULTI_QUEUE: libc::c_short = 0x0100;

#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// A tap device and its queue file descriptors.
#[derive(Debug)]
pub struct Tap {
    pub name: String,
    pub fds: Vec<OwnedFd>,
}

/// Creates a tap named `name` (a `%d` template such as `vnet%d` lets the
/// kernel pick the first free number) with `queues` file descriptors
/// (multiqueue when more than one), virtio-net headers with `vnet_hdr`.
/// Without `persist` the device disappears when the last descriptor
/// closes, that is when QEMU exits.
pub fn create(name: &str, queues: usize, vnet_hdr: bool, persist: bool) -> Result<Tap> {
    if name.len() >= crate::IFNAMSIZ {
        return Err(Error::system(
            FROM,
            format!("Network interface name '{}' is too long", name),
            &std::io::Error::from_raw_os_error(libc::ERANGE),
        ));
    }
    let queues = queues.max(1);
    let mut flags = IFF_TAP | IFF_NO_PI;
    if vnet_hdr {
        flags |= IFF_VNET_HDR;
    }
    if queues > 1 {
        flags |= IFF_MULTI_QUEUE;
    }
    let mut actual = name.to_string();
    let mut fds = Vec::with_capacity(queues);
    for _ in 0..queues {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(|e| {
                Error::system(
                    FROM,
                    "Unable to open /dev/net/tun, is tun module loaded?",
                    &e,
                )
            })?;
        let mut req = IfReq {
            name: [0; 16],
            flags,
            _pad: [0; 22],
        };
        req.name[..actual.len()].copy_from_slice(actual.as_bytes());
        // SAFETY: TUNSETIFF reads and writes a struct ifreq we own.
        let r = unsafe { libc::ioctl(f.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            return Err(Error::system(
                FROM,
                format!("Unable to create tap device {}", name),
                &e,
            ));
        }
        let end = req.name.iter().position(|b| *b == 0).unwrap_or(16);
        actual = String::from_utf8_lossy(&req.name[..end]).into_owned();
        fds.push(OwnedFd::from(f));
    }
    if persist {
        // SAFETY: TUNSETPERSIST takes an integer argument.
        let r = unsafe { libc::ioctl(fds[0].as_raw_fd(), TUNSETPERSIST, 1 as libc::c_ulong) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            return Err(Error::system(
                FROM,
                format!("Unable to set tap device {} to persistent", actual),
                &e,
            ));
        }
    }
    Ok(Tap { name: actual, fds })
}

/// Opens /dev/vhost-net when it is there and opens (QEMU's vhost=on).
pub fn open_vhost_net() -> Option<OwnedFd> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/vhost-net")
        .ok()?;
    // SAFETY: into_raw_fd hands over ownership of an open descriptor.
    Some(unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(f)) })
}
