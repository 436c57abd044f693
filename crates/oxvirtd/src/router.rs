//! Which driver serves a CONNECT_OPEN name.

use std::path::PathBuf;
use std::sync::Arc;

use oxvirt_core::error::{code, from};
use oxvirt_core::uri::Uri;
use oxvirt_core::{Connection, Error, Result};

/// Opens driver connections for clients.
pub struct Router {
    /// The daemon's state root (QEMU state lives below it).
    pub root: PathBuf,
    /// The URI used when a client sends an empty name.
    pub default_uri: String,
}

impl Router {
    pub fn new(root: PathBuf) -> Router {
        Router {
            root,
            default_uri: "test:///default".into(),
        }
    }

    /// Opens `name` (as sent in CONNECT_OPEN) with virConnectFlags.
    pub fn open(&self, name: &str, flags: u32) -> Result<Arc<dyn Connection>> {
        let name = if name.is_empty() {
            self.default_uri.as_str()
        } else {
            name
        };
        let uri = Uri::parse(name)?;
        match uri.driver.as_str() {
            "test" => oxvirt_test_driver::open(&uri, flags),
            _ => Err(Error::new(code::NO_CONNECT, from::NONE, name.to_string())),
        }
    }
}
