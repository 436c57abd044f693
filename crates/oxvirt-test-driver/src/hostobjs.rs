//! The networks, storage pools, host interfaces and node devices one
//! driver instance holds, with libvirt's list rules for storage pools
//! (virStoragePoolObjList; networks are oxvirt-core's `NetworkList`);
//! their APIs are in `objects.rs` and `hostdev.rs`.

use oxvirt_core::error::code;
use oxvirt_core::netconf::NetworkList;
use oxvirt_core::types::{InterfaceRef, PoolRef, Uuid, VolRef};
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::Element;
use oxvirt_xml::interface::Interface;
use oxvirt_xml::storage::{Pool, PoolType, Volume};

use crate::base::FROM;

/// The test driver's pool size: 100 GiB, nothing allocated.
pub(crate) const DEFAULT_POOL_CAP: u64 = 100 * 1024 * 1024 * 1024;

/// A storage pool with its volumes (virStoragePoolObj).
#[derive(Debug, Clone)]
pub(crate) struct PoolObj {
    pub def: Pool,
    pub new_def: Option<Pool>,
    pub active: bool,
    /// The test driver gives every defined pool a (fake) config file.
    pub persistent: bool,
    pub autostart: bool,
    pub vols: Vec<Volume>,
}

impl PoolObj {
    pub(crate) fn handle(&self) -> PoolRef {
        PoolRef {
            name: self.def.name.clone(),
            uuid: self.def.uuid,
        }
    }

    pub(crate) fn vol_ref(&self, v: &Volume) -> VolRef {
        VolRef {
            pool: self.def.name.clone(),
            name: v.name.clone(),
            key: v.key.clone().unwrap_or_default(),
        }
    }
}

/// The non-domain objects of one driver instance.
#[derive(Debug)]
pub(crate) struct Objects {
    pub networks: NetworkList,
    pub pools: Vec<PoolObj>,
}

impl Default for Objects {
    fn default() -> Self {
        Objects {
            networks: NetworkList::new(FROM),
            pools: Vec::new(),
        }
    }
}

/// One host interface and whether it is up.
#[derive(Debug, Clone)]
pub(crate) struct IfaceObj {
    pub def: Interface,
    pub active: bool,
}

impl IfaceObj {
    pub(crate) fn handle(&self) -> InterfaceRef {
        InterfaceRef {
            name: self.def.name.clone().unwrap_or_default(),
            mac: self.def.mac.clone().unwrap_or_default(),
        }
    }
}

/// One node device, kept as written.
#[derive(Debug, Clone)]
pub(crate) struct NodeDevObj {
    pub name: String,
    pub parent: Option<String>,
    pub el: Element,
}

impl NodeDevObj {
    pub(crate) fn caps(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in self.el.children_named("capability") {
            if let Some(t) = c.attr("type") {
                out.push(t.to_string());
            }
            for sub in c.children_named("capability") {
                if let Some(t) = sub.attr("type") {
                    if matches!(t, "fc_host" | "vport_ops" | "mdev_types") {
                        out.push(if t == "vport_ops" {
                            "vports".into()
                        } else {
                            t.to_string()
                        });
                    }
                }
            }
        }
        out
    }
}

/// The interfaces and node devices of one driver instance.
#[derive(Debug, Default)]
pub(crate) struct HostObjects {
    pub ifaces: Vec<IfaceObj>,
    pub nodedevs: Vec<NodeDevObj>,
    /// The interfaces saved by virInterfaceChangeBegin while a
    /// transaction runs.
    pub backup_ifaces: Option<Vec<IfaceObj>>,
}

pub(crate) fn no_pool_name(name: &str) -> Error {
    Error::new(
        code::NO_STORAGE_POOL,
        FROM,
        format!("no storage pool with matching name '{}'", name),
    )
}

pub(crate) fn no_pool_uuid(uuid: &Uuid) -> Error {
    Error::new(
        code::NO_STORAGE_POOL,
        FROM,
        format!("no storage pool with matching uuid '{}'", uuid),
    )
}

pub(crate) fn no_vol(what: &str, v: &str) -> Error {
    Error::new(
        code::NO_STORAGE_VOL,
        FROM,
        format!("no storage vol with matching {} '{}'", what, v),
    )
}

impl Objects {
    pub(crate) fn pool_by_name(&self, name: &str) -> Result<usize> {
        self.pools
            .iter()
            .position(|p| p.def.name == name)
            .ok_or_else(|| no_pool_name(name))
    }

    pub(crate) fn pool_by_uuid(&self, uuid: &Uuid) -> Result<usize> {
        self.pools
            .iter()
            .position(|p| p.def.uuid == *uuid)
            .ok_or_else(|| no_pool_uuid(uuid))
    }

    pub(crate) fn active_pool(&self, name: &str) -> Result<usize> {
        let i = self.pool_by_name(name)?;
        if !self.pools[i].active {
            return Err(Error::operation_invalid(
                FROM,
                format!("storage pool '{}' is not active", name),
            ));
        }
        Ok(i)
    }

    pub(crate) fn inactive_pool(&self, name: &str) -> Result<usize> {
        let i = self.pool_by_name(name)?;
        if self.pools[i].active {
            return Err(Error::operation_invalid(
                FROM,
                format!("storage pool '{}' is active", name),
            ));
        }
        Ok(i)
    }

    /// virStoragePoolObjListAdd.
    pub(crate) fn add_pool(&mut self, def: Pool, check_active: bool) -> Result<usize> {
        if let Some(i) = self.pools.iter().position(|p| p.def.uuid == def.uuid) {
            let obj = &mut self.pools[i];
            if obj.def.name != def.name {
                return Err(Error::operation_failed(
                    FROM,
                    format!(
                        "pool '{}' is already defined with uuid {}",
                        obj.def.name, obj.def.uuid
                    ),
                ));
            }
            if check_active && obj.active {
                return Err(Error::operation_invalid(
                    FROM,
                    format!("pool is already active as '{}'", obj.def.name),
                ));
            }
            if obj.active {
                obj.new_def = Some(def);
            } else {
                obj.def = def;
            }
            return Ok(i);
        }
        if let Some(o) = self.pools.iter().find(|p| p.def.name == def.name) {
            return Err(Error::operation_failed(
                FROM,
                format!(
                    "pool '{}' already exists with uuid {}",
                    def.name, o.def.uuid
                ),
            ));
        }
        if def.kind == PoolType::Dir {
            if let Some(o) = self
                .pools
                .iter()
                .find(|p| p.def.kind == PoolType::Dir && p.def.target_path == def.target_path)
            {
                return Err(Error::operation_failed(
                    FROM,
                    format!("Storage source conflict with pool: '{}'", o.def.name),
                ));
            }
        }
        self.pools.push(PoolObj {
            def,
            new_def: None,
            active: false,
            persistent: false,
            autostart: false,
            vols: Vec::new(),
        });
        Ok(self.pools.len() - 1)
    }

    /// The pool and index of a volume a client handle designates.
    pub(crate) fn vol(&self, v: &VolRef) -> Result<(usize, usize)> {
        let p = self.active_pool(&v.pool)?;
        let i = self.pools[p]
            .vols
            .iter()
            .position(|x| x.name == v.name)
            .ok_or_else(|| no_vol("name", &v.name))?;
        Ok((p, i))
    }
}
