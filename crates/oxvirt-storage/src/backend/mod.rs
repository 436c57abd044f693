//! Pool backends (libvirt's virStorageBackend): what each pool type does
//! to start, stop, build, refresh and delete a pool, and to create,
//! refresh, resize, wipe and transfer its volumes.
//!
//! A backend works on definitions, never on the locked pool object, so
//! the driver decides what runs with the pool lock held.

pub mod disk;
pub mod fs;
pub mod logical;

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_xml::storage::{Pool, PoolType, Volume};

use crate::objects::FROM;
use crate::Ctx;

/// The result of refreshing a pool: its volumes (sizes are in the pool
/// definition the backend updated).
pub(crate) type Vols = Vec<Volume>;

pub(crate) fn no_support(msg: &str) -> Error {
    Error::new(code::NO_SUPPORT, FROM, msg)
}

/// What a pool type implements; the driver reports libvirt's "does not
/// support" errors for the rest.
pub(crate) trait Backend: Send + Sync {
    fn has_build_pool(&self) -> bool {
        false
    }
    fn has_build_vol(&self) -> bool {
        false
    }
    /// Whether the pool is up (after a daemon restart).
    fn check_pool(&self, _def: &mut Pool) -> Result<bool> {
        Ok(false)
    }
    fn start_pool(&self, _def: &mut Pool) -> Result<()> {
        Ok(())
    }
    fn stop_pool(&self, _def: &Pool) -> Result<()> {
        Ok(())
    }
    fn build_pool(&self, _def: &mut Pool, _flags: u32) -> Result<()> {
        Ok(())
    }
    fn delete_pool(&self, _def: &Pool, _flags: u32) -> Result<()> {
        Err(no_support("pool does not support pool deletion"))
    }
    /// Lists the volumes and fills the pool's capacity, allocation and
    /// available.
    fn refresh_pool(&self, ctx: &Ctx, def: &mut Pool) -> Result<Vols>;
    /// Sets up a new volume's path, key and type (and, for disks, makes
    /// the partition); `vols` are the pool's volumes.
    fn create_vol(
        &self,
        _ctx: &Ctx,
        _def: &mut Pool,
        _vol: &mut Volume,
        _vols: &[Volume],
    ) -> Result<()> {
        Err(no_support("storage pool does not support volume creation"))
    }
    /// Allocates a volume `create_vol` set up (pool unlocked).
    fn build_vol(&self, _ctx: &Ctx, _def: &Pool, _vol: &Volume, _flags: u32) -> Result<()> {
        Ok(())
    }
    /// Allocates a volume from the contents of `input` (pool unlocked).
    fn build_vol_from(
        &self,
        _ctx: &Ctx,
        _def: &Pool,
        _vol: &Volume,
        _input: &Volume,
        _flags: u32,
    ) -> Result<()> {
        Err(no_support(
            "storage pool does not support volume creation from an existing volume",
        ))
    }
    /// Updates a volume's sizes, permissions and timestamps.
    fn refresh_vol(&self, _ctx: &Ctx, _def: &Pool, _vol: &mut Volume) -> Result<()> {
        Ok(())
    }
    fn has_refresh_vol(&self) -> bool {
        false
    }
    /// Deletes a volume. For disk pools the volumes and sizes change and
    /// are returned (`Some`).
    fn delete_vol(
        &self,
        _ctx: &Ctx,
        _def: &mut Pool,
        _vol: &Volume,
        _flags: u32,
    ) -> Result<Option<Vols>> {
        Err(no_support("storage pool does not support vol deletion"))
    }
    fn resize_vol(
        &self,
        _ctx: &Ctx,
        _def: &Pool,
        _vol: &Volume,
        _capacity: u64,
        _flags: u32,
    ) -> Result<()> {
        Err(no_support(
            "storage pool does not support changing of volume capacity",
        ))
    }
    fn wipe_vol(&self, _def: &Pool, _vol: &Volume, _algorithm: u32, _flags: u32) -> Result<()> {
        Err(no_support("storage pool doesn't support volume wiping"))
    }
    fn can_transfer(&self) -> bool {
        false
    }
    fn find_sources(&self, _spec: Option<&str>, _flags: u32) -> Result<String> {
        Err(Error::new(code::NO_SUPPORT, FROM, "source discovery"))
    }
    fn has_find_sources(&self) -> bool {
        false
    }
}

/// The backend of a pool type, or libvirt's error for types this host
/// has no backend for.
pub(crate) fn for_type(kind: PoolType) -> Result<&'static dyn Backend> {
    match kind {
        PoolType::Dir => Ok(&fs::DIR),
        PoolType::Fs => Ok(&fs::FS),
        PoolType::Netfs => Ok(&fs::NETFS),
        PoolType::Disk => Ok(&disk::DISK),
        PoolType::Logical => Ok(&logical::LOGICAL),
        other => Err(Error::internal(
            FROM,
            format!(
                "missing backend for pool type {} ({})",
                type_number(other),
                other
            ),
        )),
    }
}

/// virStoragePoolType numbers.
pub(crate) fn type_number(kind: PoolType) -> i32 {
    match kind {
        PoolType::Dir => 0,
        PoolType::Fs => 1,
        PoolType::Netfs => 2,
        PoolType::Logical => 3,
        PoolType::Disk => 4,
        PoolType::Iscsi => 5,
        PoolType::IscsiDirect => 6,
        PoolType::Scsi => 7,
        PoolType::Mpath => 8,
        PoolType::Rbd => 9,
        PoolType::Sheepdog => 10,
        PoolType::Gluster => 11,
        PoolType::Zfs => 12,
        PoolType::Vstorage => 13,
    }
}
