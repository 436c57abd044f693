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

/// The lists libvirt had before ListAll (virConnectNumOfDomains,
/// virConnectListNetworks, virStoragePoolListVolumes, ...), answered from
/// the family's ListAll by default: the same objects in the same order,
/// the first `max` of them. A driver without the ListAll answers
/// NO_SUPPORT with the legacy API's name.
pub(crate) mod legacy {
    use crate::error::{code, Error, Result};

    fn named<T>(api: &str, r: Result<T>) -> Result<T> {
        r.map_err(|e| {
            if e.code == code::NO_SUPPORT {
                Error::no_support(api)
            } else {
                e
            }
        })
    }

    /// How many objects the ListAll finds.
    pub fn count<T>(api: &str, all: Result<Vec<T>>) -> Result<i32> {
        named(api, all).map(|v| v.len().min(i32::MAX as usize) as i32)
    }

    /// The first `max` objects the ListAll finds, as `f` names them.
    pub fn first<T, U>(
        api: &str,
        all: Result<Vec<T>>,
        max: i32,
        f: impl FnMut(T) -> U,
    ) -> Result<Vec<U>> {
        let v = named(api, all)?;
        Ok(v.into_iter().take(max.max(0) as usize).map(f).collect())
    }

    /// The node devices with capability `cap` (all when None; none for a
    /// capability libvirt does not know) through `list_all`, with the
    /// node device driver's flag check (`func` names it).
    pub fn devices<T>(
        list_all: impl FnOnce(u32) -> Result<Vec<T>>,
        cap: Option<&str>,
        flags: u32,
        func: &str,
    ) -> Result<Vec<T>> {
        let cap = cap.map(crate::types::node_device_cap_flag);
        let v = list_all(cap.unwrap_or(0))?;
        crate::error::check_flags(flags, 0, func, crate::error::from::NODEDEV)?;
        Ok(if cap == Some(0) { Vec::new() } else { v })
    }
}
