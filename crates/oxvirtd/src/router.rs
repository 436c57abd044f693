//! Which drivers serve a CONNECT_OPEN name: the router composes a
//! [`Connection`] from one driver per family.
//!
//! - `test:///...`: the test driver fills every slot;
//! - `qemu:///system` (and `session`): the QEMU hypervisor driver, plus
//!   the daemon's host-wide storage, network, secret, node-device,
//!   interface and nwfilter drivers ([`HostDrivers`], one set per daemon
//!   root, shared by every connection), which also give the QEMU driver
//!   its [`HostServices`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use oxvirt_core::error::{code, from};
use oxvirt_core::host::{HostServices, MigrationSettings, PeerConnector};
use oxvirt_core::uri::Uri;
use oxvirt_core::{
    Connection, Error, InterfaceDriver, NetworkDriver, NodeDeviceDriver, NwFilterDriver, Result,
    SecretDriver, StorageDriver, Unsupported,
};

/// The host-wide secondary drivers of one daemon root, shared by every
/// hypervisor connection (libvirt's storage, network, secret, nodedev,
/// interface and nwfilter drivers, one instance each per daemon).
pub struct HostDrivers {
    pub storage: Arc<dyn StorageDriver>,
    pub network: Arc<dyn NetworkDriver>,
    pub secret: Arc<dyn SecretDriver>,
    pub nodedev: Arc<dyn NodeDeviceDriver>,
    pub interface: Arc<dyn InterfaceDriver>,
    pub nwfilter: Arc<dyn NwFilterDriver>,
    /// What a hypervisor driver may ask of them.
    pub services: HostServices,
}

impl HostDrivers {
    /// Brings up the host-wide drivers for the daemon root `root`: the
    /// one place each secondary driver is instantiated and plugged in.
    /// Each keeps its state below `root` (as QEMU's lives in
    /// `root/qemu`). A family nobody implements yet answers NO_SUPPORT
    /// ([`Unsupported`]), and its service is unavailable.
    pub fn open(root: &Path, migration: &MigrationSettings) -> HostDrivers {
        let none = Arc::new(Unsupported);
        let mut services = HostServices {
            peers: Arc::new(RemotePeers),
            migration: migration.clone(),
            ..Default::default()
        };
        // Secrets (root/secrets), then storage (root/storage), which reads
        // LUKS keys from them.
        let secrets = match oxvirt_secret::SecretDriver::open(&root.join("secrets")) {
            Ok(s) => Some(Arc::new(s)),
            Err(e) => {
                tracing::warn!("secret driver: {}", e);
                None
            }
        };
        let secret: Arc<dyn SecretDriver> = match &secrets {
            Some(s) => {
                services.secrets = s.clone();
                s.clone()
            }
            None => none.clone(),
        };
        let storage: Arc<dyn StorageDriver> =
            match oxvirt_storage::StorageDriver::open(&root.join("storage"), secrets) {
                Ok(s) => {
                    services.volumes = s.clone();
                    s
                }
                Err(e) => {
                    tracing::warn!("storage driver: {}", e);
                    none.clone()
                }
            };
        // Virtual networks (re-attached, autostarted) and their ports.
        let network: Arc<dyn NetworkDriver> = match oxvirt_network::driver(&root.join("network")) {
            Ok(d) => {
                services.ports = d.clone();
                d
            }
            Err(e) => {
                tracing::warn!("network driver: {}", e.message);
                none.clone()
            }
        };
        // Node devices (the uevent thread runs), and PCI assignment.
        let nodedev = oxvirt_nodedev::NodeDevDriver::open();
        services.pci = nodedev.clone();
        HostDrivers {
            storage,
            network,
            secret,
            nodedev,
            interface: Arc::new(oxvirt_network::HostInterfaces),
            nwfilter: none,
            services,
        }
    }
}

/// Another daemon, reached as libvirt's client reaches one (the
/// destination of a peer-to-peer migration).
struct RemotePeers;

impl PeerConnector for RemotePeers {
    fn open(&self, uri: &str) -> Result<Arc<Connection>> {
        let parsed = Uri::parse(uri)?;
        if !oxvirt_remote::handles(&parsed) {
            return Err(Error::new(code::NO_CONNECT, from::NONE, uri.to_string()));
        }
        oxvirt_remote::open(uri, &parsed, 0)
    }
}

/// Opens driver connections for clients.
pub struct Router {
    /// The daemon's state root (QEMU state lives below it).
    pub root: PathBuf,
    /// The URI used when a client sends an empty name.
    pub default_uri: String,
    /// The host-wide drivers, brought up on first use.
    host: OnceLock<HostDrivers>,
    /// The host's identity and migration settings.
    pub migration: MigrationSettings,
}

impl Router {
    pub fn new(root: PathBuf) -> Router {
        Router {
            root,
            default_uri: "test:///default".into(),
            host: OnceLock::new(),
            migration: MigrationSettings::default(),
        }
    }

    /// The host-wide drivers of this daemon's root.
    pub fn host(&self) -> &HostDrivers {
        self.host
            .get_or_init(|| HostDrivers::open(&self.root, &self.migration))
    }

    /// Brings up the stateful drivers at daemon start, so running QEMUs
    /// are re-attached and autostart domains started before any client
    /// connects (in the background: listeners do not wait for it).
    pub fn start_drivers(&self) {
        let qemu_root = self.root.join("qemu");
        let services = self.host().services.clone();
        let _ = std::thread::Builder::new()
            .name("qemu-driver-init".into())
            .spawn(move || {
                if let Err(e) = oxvirt_qemu_driver::driver(&qemu_root, &services) {
                    tracing::warn!("QEMU driver: {}", e);
                }
            });
    }

    /// `--adopt-libvirt`: takes over libvirt's secrets, storage pools
    /// (`crate::adopt`) and QEMU domains (`oxvirt_qemu_driver::adopt`);
    /// the drivers are open afterwards.
    pub fn adopt_libvirt(
        &self,
        dirs: &oxvirt_qemu_driver::adopt::LibvirtDirs,
    ) -> Result<oxvirt_qemu_driver::adopt::Report> {
        // Secrets and pools first: their drivers load them when they open.
        let mut report = oxvirt_qemu_driver::adopt::Report::default();
        crate::adopt::adopt_secrets(&self.root, dirs, &mut report);
        crate::adopt::adopt_pools(&self.root, dirs, &mut report);
        let services = self.host().services.clone();
        report.extend(oxvirt_qemu_driver::adopt_libvirt(
            &self.root.join("qemu"),
            &services,
            dirs,
        )?);
        Ok(report)
    }

    /// Opens `name` (as sent in CONNECT_OPEN) with virConnectFlags.
    pub fn open(&self, name: &str, flags: u32) -> Result<Arc<Connection>> {
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
            "qemu" => {
                let host = self.host();
                let hypervisor =
                    oxvirt_qemu_driver::open(&self.root.join("qemu"), &uri, &host.services)?;
                Ok(Connection::builder(format!("qemu://{}", uri.path), flags)
                    .hypervisor(hypervisor)
                    .storage(host.storage.clone())
                    .network(host.network.clone())
                    .secret(host.secret.clone())
                    .node_device(host.nodedev.clone())
                    .interface(host.interface.clone())
                    .nwfilter(host.nwfilter.clone())
                    .release_callbacks()
                    .build())
            }
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
