//! What a hypervisor driver needs from the host-wide secondary drivers,
//! as narrow traits: a `<disk type='volume'>` resolved to what QEMU
//! opens, a port of a virtual network for `<interface type='network'>`,
//! a secret's value. The daemon hands a [`HostServices`] to the hypervisor
//! driver when it brings it up, so a hypervisor crate never depends on the
//! storage, network or secret crates (libvirt's hypervisor drivers reach
//! them through `virGetConnectStorage()` and friends).
//!
//! Until a secondary driver provides one, [`Unavailable`] answers each
//! with libvirt's NO_SUPPORT error for the API the hypervisor driver
//! would have called.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::types::{NodeDevRef, Uuid};

/// How a resolved volume is opened (libvirt's `actualtype` of a
/// `<source pool= volume=>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeKind {
    File,
    Block,
    Dir,
    /// A network volume (iSCSI, RBD, Gluster): `path` is the source name,
    /// the rest is the pool's `<source>`.
    Network,
}

/// A volume of a storage pool, as a disk uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedVolume {
    pub kind: VolumeKind,
    /// The path QEMU opens (`virStorageVolGetPath`), or the network
    /// source's name.
    pub path: String,
    /// The volume's format (`raw`, `qcow2`, ...) when the pool knows it.
    pub format: Option<String>,
    /// The pool's type (`dir`, `fs`, `logical`, `iscsi`, ...).
    pub pool_type: String,
}

/// Resolves `<disk type='volume'><source pool='P' volume='V'/>`
/// (libvirt's virDomainDiskTranslateSourcePool).
pub trait VolumeResolver: Send + Sync {
    /// The volume `volume` of the active pool `pool`.
    fn resolve_volume(&self, pool: &str, volume: &str) -> Result<ResolvedVolume>;
}

/// What a guest interface asks of its network (libvirt builds a
/// `virNetworkPortDef` from the `<interface>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    /// The network's name (`<source network=>`).
    pub network: String,
    pub portgroup: Option<String>,
    /// The domain owning the port.
    pub owner_name: String,
    pub owner_uuid: Uuid,
    pub mac: String,
}

/// How the guest end is plugged into the network (libvirt's `<plug>` of
/// a network port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortPlug {
    /// A tap on a bridge the network manages (`network`) or a host
    /// bridge (`bridge`).
    Bridge {
        bridge: String,
        /// `libvirt` when the network manages the bridge's MAC table.
        mac_table_manager: Option<String>,
    },
    /// macvtap on a host device.
    Direct { dev: String, mode: String },
    /// A PCI device handed to the guest.
    HostdevPci { address: String, managed: bool },
}

/// A port allocated on a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBinding {
    /// The port's UUID (kept with the interface to release it).
    pub port: Uuid,
    pub plug: PortPlug,
}

/// Allocates and releases ports of virtual networks (libvirt's
/// virDomainNetAllocateActualDevice / virDomainNetReleaseActualDevice,
/// over virNetworkPortCreateXML and virNetworkPortDelete).
pub trait NetworkPorts: Send + Sync {
    fn allocate_port(&self, req: &PortRequest) -> Result<PortBinding>;
    fn release_port(&self, network: &str, port: &Uuid) -> Result<()>;
    /// The DHCP leases of `mac` on `network` (for `domifaddr --source
    /// lease`, libvirt's virNetworkGetDHCPLeases).
    fn dhcp_leases(&self, network: &str, mac: &str) -> Result<Vec<crate::types::NetworkDhcpLease>> {
        let _ = (network, mac);
        Err(Error::no_support("virNetworkGetDHCPLeases"))
    }
}

/// Which secret a definition names (`<secret uuid=>` or `usage=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretLookup {
    Uuid(Uuid),
    /// `virSecretUsageType` and the usage id.
    Usage {
        usage_type: i32,
        usage_id: String,
    },
}

/// Reads secrets' values for the hypervisor (libvirt's
/// virSecretGetSecretString: an internal call, not refused for private
/// secrets as the public virSecretGetValue is).
pub trait SecretValues: Send + Sync {
    /// The value of `secret`, which must be of `usage_type` (a
    /// `virSecretUsageType`: VOLUME for an encryption key, CEPH or ISCSI
    /// for an `<auth>`, TLS for a TLS key) or of none.
    fn secret_value(&self, secret: &SecretLookup, usage_type: i32) -> Result<Vec<u8>>;
}

/// Hands host PCI devices to a hypervisor and back (libvirt's
/// virHostdevManager behind virNodeDeviceDetachFlags, ReAttach and
/// Reset), by node device name; the node device driver knows the devices.
pub trait PciAssignment: Send + Sync {
    fn detach(&self, dev: &NodeDevRef, driver: Option<&str>, flags: u32) -> Result<()>;
    fn reattach(&self, dev: &NodeDevRef) -> Result<()>;
    fn reset(&self, dev: &NodeDevRef) -> Result<()>;
}

/// The host-wide services a hypervisor driver is given.
#[derive(Clone)]
pub struct HostServices {
    pub volumes: Arc<dyn VolumeResolver>,
    pub ports: Arc<dyn NetworkPorts>,
    pub secrets: Arc<dyn SecretValues>,
    pub pci: Arc<dyn PciAssignment>,
    /// Connections to other daemons (the destination of a peer-to-peer
    /// migration).
    pub peers: Arc<dyn PeerConnector>,
    /// The host's identity and migration settings.
    pub migration: MigrationSettings,
}

/// Opens a connection to another daemon as a client would
/// (virConnectOpenAuth in libvirt's peer-to-peer migration).
pub trait PeerConnector: Send + Sync {
    fn open(&self, uri: &str) -> Result<Arc<crate::Connection>>;
}

/// What a migration needs to know about this host: libvirtd.conf's
/// `host_uuid` and qemu.conf's `migration_host`, `migration_address`,
/// `migration_port_min` and `migration_port_max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSettings {
    /// None: the host's SMBIOS UUID.
    pub host_uuid: Option<Uuid>,
    /// The host name the destination gives the source (None: the
    /// host's name).
    pub host: Option<String>,
    /// The address incoming migrations listen on (None: any).
    pub address: Option<String>,
    pub port_min: u16,
    pub port_max: u16,
}

impl Default for MigrationSettings {
    fn default() -> Self {
        MigrationSettings {
            host_uuid: None,
            host: None,
            address: None,
            port_min: 49152,
            port_max: 49215,
        }
    }
}

impl Default for HostServices {
    fn default() -> Self {
        let none = Arc::new(Unavailable);
        HostServices {
            volumes: none.clone(),
            ports: none.clone(),
            secrets: none.clone(),
            pci: none.clone(),
            peers: none,
            migration: MigrationSettings::default(),
        }
    }
}

/// No secondary driver: each service answers NO_SUPPORT for the API the
/// hypervisor driver would call.
pub struct Unavailable;

impl VolumeResolver for Unavailable {
    fn resolve_volume(&self, _pool: &str, _volume: &str) -> Result<ResolvedVolume> {
        Err(Error::no_support("virStoragePoolLookupByName"))
    }
}

impl NetworkPorts for Unavailable {
    fn allocate_port(&self, _req: &PortRequest) -> Result<PortBinding> {
        Err(Error::no_support("virNetworkPortCreateXML"))
    }
    fn release_port(&self, _network: &str, _port: &Uuid) -> Result<()> {
        Err(Error::no_support("virNetworkPortDelete"))
    }
}

impl PciAssignment for Unavailable {
    fn detach(&self, _dev: &NodeDevRef, _driver: Option<&str>, _flags: u32) -> Result<()> {
        Err(Error::no_support("virNodeDeviceDetachFlags"))
    }
    fn reattach(&self, _dev: &NodeDevRef) -> Result<()> {
        Err(Error::no_support("virNodeDeviceReAttach"))
    }
    fn reset(&self, _dev: &NodeDevRef) -> Result<()> {
        Err(Error::no_support("virNodeDeviceReset"))
    }
}

impl PeerConnector for Unavailable {
    fn open(&self, uri: &str) -> Result<Arc<crate::Connection>> {
        Err(Error::new(
            crate::error::code::NO_CONNECT,
            crate::error::from::NONE,
            uri.to_string(),
        ))
    }
}

impl SecretValues for Unavailable {
    fn secret_value(&self, _secret: &SecretLookup, _usage_type: i32) -> Result<Vec<u8>> {
        Err(Error::no_support("virSecretGetValue"))
    }
}
