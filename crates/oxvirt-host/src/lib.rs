//! Host helpers shared by the stateful drivers (QEMU, storage, secrets,
//! networks): state files written atomically, and external programs run
//! with libvirt's error for a failing child process.
//!
//! Rule: no driver logic here, only what several drivers need alike.

pub mod command;
pub mod fsutil;
pub mod sysinfo;

pub use command::Command;
pub use fsutil::{remove_file, write_atomic};
