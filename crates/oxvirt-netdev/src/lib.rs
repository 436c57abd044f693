//! Host network devices, as libvirt's `util/virnetdev*.c` handles them:
//! links, bridges, addresses, routes and counters over rtnetlink
//! (`rtnl`, `link`), tap devices handed to QEMU as file descriptors
//! (`tap`), bandwidth limits with tc (`bandwidth`) and the IP sysctls of
//! a bridge (`sysctl`).
//!
//! Everything acts on the network namespace of the calling process: a
//! daemon started inside a namespace touches only that namespace. Errors
//! are libvirt's (`oxvirt_core::Error`, domain VIR_FROM_NONE as in
//! virnetdev.c unless the caller re-attributes them).

pub mod bandwidth;
pub mod link;
pub mod rtnl;
pub mod sysctl;
pub mod tap;
pub mod testns;

pub use link::{Addr, Link, LinkStats};

use oxvirt_core::error::from;

/// The error domain of this crate's errors (virnetdev.c's VIR_FROM_NONE).
pub const FROM: i32 = from::NONE;

/// libvirt's IFNAMSIZ - 1: the longest interface name.
pub const IFNAMSIZ: usize = 16;
