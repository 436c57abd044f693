//! Pool and volume objects (libvirt's virStoragePoolObj and its volume
//! list), the daemon-wide pool list, and libvirt's errors for them.
//!
//! Locking: the list is a mutex held only to find, add or remove an
//! entry; each pool has its own mutex, held for short sections and, as
//! libvirt's pool lock, across pool-wide operations (start, refresh).
//! Long volume operations (allocation, copies, wipes, transfers) run
//! with the pool unlocked, the volume marked `building` or `in_use` and
//! the pool's `asyncjobs` counted, as libvirt does. Lock order: list,
//! then pool; never the list while holding a pool.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use oxvirt_core::error::{code, from};
use oxvirt_core::types::{PoolRef, Uuid, VolRef};
use oxvirt_core::Error;
use oxvirt_xml::storage::{Pool, Volume};

pub(crate) const FROM: i32 = from::STORAGE;

/// A volume of a pool (virStorageVolDef with its runtime flags).
#[derive(Debug, Clone)]
pub(crate) struct VolObj {
    pub def: Volume,
    /// Being allocated by a create call (the pool lock is not held).
    pub building: bool,
    /// Read or written by a transfer, clone or wipe.
    pub in_use: u32,
}

/// A storage pool (virStoragePoolObj).
#[derive(Debug)]
pub(crate) struct PoolObj {
    pub def: Pool,
    /// The persistent definition to use once a running pool stops.
    pub new_def: Option<Pool>,
    /// Set for persistent pools.
    pub config_file: Option<PathBuf>,
    pub autostart: bool,
    pub active: bool,
    pub starting: bool,
    /// Operations running with the pool unlocked.
    pub asyncjobs: u32,
    pub vols: Vec<VolObj>,
}

impl PoolObj {
    pub fn new(def: Pool) -> PoolObj {
        PoolObj {
            def,
            new_def: None,
            config_file: None,
            autostart: false,
            active: false,
            starting: false,
            asyncjobs: 0,
            vols: Vec::new(),
        }
    }

    pub fn handle(&self) -> PoolRef {
        PoolRef {
            name: self.def.name.clone(),
            uuid: self.def.uuid,
        }
    }

    pub fn vol_ref(&self, v: &Volume) -> VolRef {
        VolRef {
            pool: self.def.name.clone(),
            name: v.name.clone(),
            key: v.key.clone().unwrap_or_default(),
        }
    }

    pub fn vol_index(&self, name: &str) -> Option<usize> {
        self.vols.iter().position(|v| v.def.name == name)
    }

    pub fn find_vol(&self, name: &str) -> Result<usize, Error> {
        self.vol_index(name).ok_or_else(|| no_vol_name(name))
    }

    pub fn is_persistent(&self) -> bool {
        self.config_file.is_some()
    }

    /// The error for a pool that must be active.
    pub fn check_active(&self) -> Result<(), Error> {
        if !self.active {
            return Err(not_active(&self.def.name));
        }
        Ok(())
    }

    pub fn check_not_starting(&self) -> Result<(), Error> {
        if self.starting {
            return Err(Error::operation_invalid(
                FROM,
                format!("storage pool '{}' is starting up", self.def.name),
            ));
        }
        Ok(())
    }

    pub fn check_no_jobs(&self) -> Result<(), Error> {
        if self.asyncjobs > 0 {
            return Err(Error::internal(
                FROM,
                format!("pool '{}' has asynchronous jobs running.", self.def.name),
            ));
        }
        Ok(())
    }
}

pub(crate) fn not_active(name: &str) -> Error {
    Error::operation_invalid(FROM, format!("storage pool '{}' is not active", name))
}

pub(crate) fn no_vol_name(name: &str) -> Error {
    Error::new(
        code::NO_STORAGE_VOL,
        FROM,
        format!("no storage vol with matching name '{}'", name),
    )
}

pub(crate) fn vol_in_use(v: &VolObj) -> Result<(), Error> {
    if v.in_use > 0 {
        return Err(Error::operation_invalid(
            FROM,
            format!("volume '{}' is still in use.", v.def.name),
        ));
    }
    vol_building(v)
}

pub(crate) fn vol_building(v: &VolObj) -> Result<(), Error> {
    if v.building {
        return Err(Error::operation_invalid(
            FROM,
            format!("volume '{}' is still being allocated.", v.def.name),
        ));
    }
    Ok(())
}

/// One pool in the list: its name and UUID never change.
#[derive(Clone)]
pub(crate) struct Entry {
    pub name: String,
    pub uuid: Uuid,
    pub obj: Arc<Mutex<PoolObj>>,
}

impl Entry {
    pub fn lock(&self) -> MutexGuard<'_, PoolObj> {
        self.obj.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The daemon's pools, in definition order.
#[derive(Default)]
pub(crate) struct PoolList {
    entries: Mutex<Vec<Entry>>,
}

impl PoolList {
    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn all(&self) -> Vec<Entry> {
        self.lock().clone()
    }

    pub fn by_name(&self, name: &str) -> Result<Entry, Error> {
        self.lock()
            .iter()
            .find(|e| e.name == name)
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    code::NO_STORAGE_POOL,
                    FROM,
                    format!("no storage pool with matching name '{}'", name),
                )
            })
    }

    pub fn by_uuid(&self, uuid: &Uuid) -> Option<Entry> {
        self.lock().iter().find(|e| e.uuid == *uuid).cloned()
    }

    /// The pool a client handle names (storagePoolObjFindByUUID).
    pub fn by_ref(&self, pool: &PoolRef) -> Result<Entry, Error> {
        self.by_uuid(&pool.uuid).ok_or_else(|| {
            Error::new(
                code::NO_STORAGE_POOL,
                FROM,
                format!(
                    "no storage pool with matching uuid '{}' ({})",
                    pool.uuid, pool.name
                ),
            )
        })
    }

    pub fn remove(&self, uuid: &Uuid) {
        self.lock().retain(|e| e.uuid != *uuid);
    }

    /// virStoragePoolObjListAdd: refuses source conflicts and name/UUID
    /// clashes, updates an existing pool's definition, or adds a new one.
    /// `live`: the definition is to run now (create), `check_live`: an
    /// active pool is refused. Returns the entry, locked.
    pub fn add(&self, def: Pool, live: bool, check_live: bool) -> Result<(Entry, bool), Error> {
        let mut list = self.lock();
        for e in list.iter() {
            if e.name == def.name {
                continue;
            }
            let o = e.lock();
            if source_conflict(&o.def, &def) {
                return Err(Error::operation_failed(
                    FROM,
                    format!("Storage source conflict with pool: '{}'", o.def.name),
                ));
            }
        }
        if let Some(e) = list.iter().find(|e| e.uuid == def.uuid).cloned() {
            let mut o = e.lock();
            if o.def.name != def.name {
                return Err(Error::operation_failed(
                    FROM,
                    format!(
                        "pool '{}' is already defined with uuid {}",
                        o.def.name, o.def.uuid
                    ),
                ));
            }
            if check_live {
                if o.active {
                    return Err(Error::operation_invalid(
                        FROM,
                        format!("pool is already active as '{}'", o.def.name),
                    ));
                }
                o.check_not_starting()?;
            }
            if o.active || o.starting {
                o.new_def = Some(def);
            } else {
                if o.new_def.is_none() && live {
                    let old = std::mem::replace(&mut o.def, def);
                    o.new_def = Some(old);
                } else {
                    o.def = def;
                }
            }
            drop(o);
            return Ok((e, false));
        }
        if let Some(e) = list.iter().find(|e| e.name == def.name) {
            return Err(Error::operation_failed(
                FROM,
                format!("pool '{}' already exists with uuid {}", def.name, e.uuid),
            ));
        }
        let e = Entry {
            name: def.name.clone(),
            uuid: def.uuid,
            obj: Arc::new(Mutex::new(PoolObj::new(def))),
        };
        list.push(e.clone());
        Ok((e, true))
    }
}

/// virStoragePoolObjSourceFindDuplicateCb for the types served here.
fn source_conflict(have: &Pool, want: &Pool) -> bool {
    use oxvirt_xml::storage::PoolType as T;
    let devices = || {
        have.source
            .devices
            .iter()
            .any(|a| want.source.devices.iter().any(|b| a.path == b.path))
    };
    let single_host = || {
        let (a, b) = (&have.source.hosts, &want.source.hosts);
        if a.len() != 1 && b.len() != 1 {
            return false;
        }
        match (a.first(), b.first()) {
            (Some(a), Some(b)) => {
                if b.1.is_some_and(|p| p != 0) && a.1 != b.1 {
                    return false;
                }
                a.0 == b.0
            }
            _ => false,
        }
    };
    match have.kind {
        T::Dir => want.kind == T::Dir && have.target_path == want.target_path,
        T::Netfs => want.kind == T::Netfs && have.source.dir == want.source.dir && single_host(),
        T::Gluster => {
            want.kind == T::Gluster
                && have.source.name == want.source.name
                && have.source.dir == want.source.dir
                && single_host()
        }
        T::Iscsi | T::Fs | T::Logical | T::Disk | T::Zfs => {
            matches!(want.kind, T::Iscsi | T::Fs | T::Logical | T::Disk | T::Zfs)
                && (have.kind == T::Iscsi) == (want.kind == T::Iscsi)
                && devices()
                && (have.kind != T::Iscsi || have.source.initiator_iqn == want.source.initiator_iqn)
        }
        T::Sheepdog => want.kind == T::Sheepdog && single_host(),
        T::Mpath => want.kind == T::Mpath,
        T::Vstorage => want.kind == T::Vstorage && have.source.name == want.source.name,
        T::Scsi | T::IscsiDirect | T::Rbd => false,
    }
}
