//! libvirt's XML formats as a typed model.
//!
//! Invariants:
//! - this crate does no I/O: it turns strings into structs and back;
//! - `format(parse(x))` is stable: formatting the parse of a formatted
//!   document gives the same bytes;
//! - output is in libvirt's canonical form (element and attribute order,
//!   two-space indentation, units normalised to KiB, defaults filled in).

pub mod dom;
pub mod error;
pub mod props;
pub mod writer;

pub use error::{Error, Result};
