//! The core of oxvirt: the driver trait every hypervisor driver implements,
//! libvirt's numbering for states, reasons, events and errors, and URIs.
//!
//! Invariants:
//! - this crate does no I/O and knows no wire format;
//! - domains are identified by UUID; names and ids are lookups.

pub mod driver;
pub mod error;
pub mod event;
pub mod netconf;
pub mod types;
pub mod uri;

pub use driver::{BufferStream, Connection, FileStream, Stream, StreamChunk};
pub use error::{Error, Result};
pub use types::*;

/// The libvirt version oxvirt speaks and reports (major*1e6 + minor*1e3 + micro).
pub const LIB_VERSION: u64 = 9_000_000;
