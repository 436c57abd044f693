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

    /// Brings up the stateful drivers at daemon start, so running QEMUs
    /// are re-attached and autostart domains started before any client
    /// connects (in the background: listeners do not wait for it).
    pub fn start_drivers(&self) {
        let qemu_root = self.root.join("qemu");
        let _ = std::thread::Builder::new()
            .name("qemu-driver-init".into())
            .spawn(move || {
                if let Err(e) = oxvirt_qemu_driver::driver(&qemu_root) {
                    tracing::warn!("QEMU driver: {}", e);
                }
            });
    }

    /// Opens `name` (as sent in CONNECT_OPEN) with virConnectFlags.
    pub fn open(&self, name: &str, flags: u32) -> Result<Arc<dyn Connection>> {
        let name = if name.is_empty() {
            self.default_uri.as_str()
        } else {
            name
        };
        // Clients send URIs escaped to ASCII (libvirt formats them so);
        // anything else is refused before the URI parser sees it.
        if !name.is_ascii() {
            return Err(Error::new(
                code::INVALID_ARG,
                from::URI,
                format!("Unable to parse URI {}", name.escape_default()),
            ));
        }
        let uri = Uri::parse(name)?;
        match uri.driver.as_str() {
            "test" => oxvirt_test_driver::open(&uri, flags),
            "qemu" => oxvirt_qemu_driver::open(&self.root.join("qemu"), &uri, flags),
            _ => Err(Error::new(code::NO_CONNECT, from::NONE, name.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_test_default_and_refuses_bad_names() {
        let r = Router::new(PathBuf::from("/nonexistent"));
        assert!(r.open("test:///default", 0).is_ok());
        assert!(r.open("", 0).is_ok());
        let e = r.open("test:///%a\u{e9}", 0).err().expect("refused");
        assert_eq!(e.code, code::INVALID_ARG);
        let e = r.open("xen:///system", 0).err().expect("no driver");
        assert_eq!(e.code, code::NO_CONNECT);
    }
}
