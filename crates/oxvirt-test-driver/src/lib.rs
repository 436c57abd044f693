//! The test driver: an in-memory hypervisor that behaves like libvirt's
//! `test:///default` (and `test:///PATH/node.xml` custom nodes).
//!
//! Invariants:
//! - it is deterministic: the same calls give the same results;
//! - it follows the same state machine and error rules as real drivers.

use std::sync::Arc;

use oxvirt_core::error::{code, from};
use oxvirt_core::uri::Uri;
use oxvirt_core::{Connection, Error, Result};

/// Opens a connection to the test driver named by `uri`
/// (`test:///default` or `test:///ABS/PATH/node.xml`); `flags` are
/// virConnectFlags (1 = read-only).
pub fn open(uri: &Uri, flags: u32) -> Result<Arc<dyn Connection>> {
    let _ = flags;
    Err(Error::new(
        code::NO_CONNECT,
        from::TEST,
        format!("{}:{}", uri.driver, uri.path),
    ))
}
