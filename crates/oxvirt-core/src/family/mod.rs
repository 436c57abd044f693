//! libvirt's driver families, one table each: every row is one public
//! API (see [`crate::family!`] for the row syntax). The tables produce the
//! family traits drivers implement, the checked methods of
//! [`crate::Connection`] and the [`crate::api::Api`] rows.

pub mod hypervisor;
pub mod interface;
pub mod network;
pub mod nodedev;
pub mod nwfilter;
pub mod secret;
pub mod storage;

pub use hypervisor::HypervisorDriver;
pub use interface::InterfaceDriver;
pub use network::NetworkDriver;
pub use nodedev::NodeDeviceDriver;
pub use nwfilter::NwFilterDriver;
pub use secret::SecretDriver;
pub use storage::StorageDriver;
