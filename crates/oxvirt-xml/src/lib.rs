//! libvirt's XML formats as a typed model.
//!
//! Invariants:
//! - this crate does no I/O: it turns strings into structs and back;
//! - `format(parse(x))` is stable: formatting the parse of a formatted
//!   document gives the same bytes;
//! - output is in libvirt's canonical form (element and attribute order,
//!   two-space indentation, units normalised to KiB, defaults filled in);
//! - an element libvirt's schema allows but the model does not type yet is
//!   kept and written back in its place; one the schema does not know is
//!   dropped, as libvirt drops it.

pub mod capabilities;
pub mod checkpoint;
pub mod diff;
pub mod dom;
pub mod domain;
pub mod error;
pub mod interface;
pub mod netport;
pub mod network;
pub mod nodedev;
pub mod props;
pub mod schema_names;
pub mod secret;
pub mod snapshot;
pub mod storage;
pub mod writer;

pub use error::{Error, Result};
