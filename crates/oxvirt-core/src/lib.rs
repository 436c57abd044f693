//! The core of oxvirt: the public-API layer (`Connection`) and the driver
//! families behind it, libvirt's numbering for states, reasons, events and
//! errors, and URIs.
//!
//! Invariants:
//! - this crate does no I/O and knows no wire format;
//! - domains are identified by UUID; names and ids are lookups.

pub mod access;
pub mod api;
pub mod cpumap;
pub mod domobj;
pub mod driver;
pub mod error;
pub mod event;
pub mod family;
pub mod host;
pub mod moments;
pub mod netconf;
pub mod types;
pub mod uri;

pub use api::{Connection, ConnectionBuilder, Unsupported};
pub use driver::{BufferStream, FileStream, Stream, StreamChunk};
pub use error::{Error, Result};
pub use family::{
    HypervisorDriver, InterfaceDriver, NetworkDriver, NodeDeviceDriver, NwFilterDriver,
    SecretDriver, StorageDriver,
};
pub use types::*;

/// The libvirt version oxvirt speaks and reports (major*1e6 + minor*1e3 + micro).
pub const LIB_VERSION: u64 = 9_000_000;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
