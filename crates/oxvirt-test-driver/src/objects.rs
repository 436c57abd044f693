//! Networks, storage pools and volumes held by the driver, with the
//! test driver's rules for them (testNetwork*, testStoragePool*,
//! testStorageVol* in libvirt's test driver).

use crate::domains::check_flags;
use std::path::Path;

use oxvirt_core::error::{code, from};
use oxvirt_core::event::{
    network_lifecycle as nl, pool_lifecycle as pl, NetworkEvent, NetworkEventKind, PoolEvent,
    PoolEventKind,
};
use oxvirt_core::types::flags::list_objects as lo;
use oxvirt_core::types::{pool_state, NetworkRef, PoolInfo, PoolRef, Uuid, VolInfo, VolRef};
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::Element;
use oxvirt_xml::network::Network;
use oxvirt_xml::storage::{Pool, PoolType, VolParseFlags, Volume};

use crate::state::{Driver, State, FROM};

/// The test driver's pool size: 100 GiB, nothing allocated.
pub(crate) const DEFAULT_POOL_CAP: u64 = 100 * 1024 * 1024 * 1024;

/// A network with its runtime state (virNetworkObj).
#[derive(Debug, Clone)]
pub(crate) struct NetworkObj {
    pub def: Network,
    /// The persistent definition while a changed one runs.
    pub new_def: Option<Network>,
    pub active: bool,
    pub persistent: bool,
    pub autostart: bool,
}

impl NetworkObj {
    fn handle(&self) -> NetworkRef {
        NetworkRef {
            name: self.def.name.clone(),
            uuid: self.def.uuid,
        }
    }
}

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
    fn handle(&self) -> PoolRef {
        PoolRef {
            name: self.def.name.clone(),
            uuid: self.def.uuid,
        }
    }

    fn vol_ref(&self, v: &Volume) -> VolRef {
        VolRef {
            pool: self.def.name.clone(),
            name: v.name.clone(),
            key: v.key.clone().unwrap_or_default(),
        }
    }
}

/// The non-domain objects of one driver instance.
#[derive(Debug, Default)]
pub(crate) struct Objects {
    pub networks: Vec<NetworkObj>,
    pub pools: Vec<PoolObj>,
}

fn random_uuid() -> Uuid {
    Uuid(*uuid::Uuid::new_v4().as_bytes())
}

fn xml_err(e: oxvirt_xml::Error, domain: i32) -> Error {
    Error::from_xml(e, domain)
}

fn parse_network(xml: &str) -> Result<Network> {
    let mut def = Network::parse(xml).map_err(|e| xml_err(e, from::NETWORK))?;
    if !def.uuid_specified {
        def.uuid = random_uuid();
    }
    Ok(def)
}

fn parse_pool(xml: &str) -> Result<Pool> {
    let mut def = Pool::parse(xml).map_err(|e| xml_err(e, from::STORAGE))?;
    if !def.uuid_specified {
        def.uuid = random_uuid();
    }
    Ok(def)
}

fn set_pool_defaults(def: &mut Pool) {
    def.capacity = DEFAULT_POOL_CAP;
    def.allocation = 0;
    def.available = DEFAULT_POOL_CAP;
}

/// Loads the networks and pools (with their volumes) of a node document.
pub(crate) fn load(
    st: &mut State,
    root: &Element,
    file: Option<&Path>,
    resolve: fn(&Element, Option<&Path>) -> Result<Element>,
) -> Result<()> {
    for el in root.children_named("network") {
        let mut el = resolve(el, file)?;
        el.strip_blanks();
        let mut def = Network::from_element(&el).map_err(|e| xml_err(e, from::NETWORK))?;
        if !def.uuid_specified {
            def.uuid = random_uuid();
        }
        let idx = st.objects.assign_network(def, false, false)?;
        st.objects.networks[idx].active = true;
    }
    for el in root.children_named("pool") {
        let mut el = resolve(el, file)?;
        el.strip_blanks();
        let mut def = Pool::from_element(&el).map_err(|e| xml_err(e, from::STORAGE))?;
        if !def.uuid_specified {
            def.uuid = random_uuid();
        }
        set_pool_defaults(&mut def);
        let idx = st.objects.add_pool(def, false)?;
        let obj = &mut st.objects.pools[idx];
        obj.persistent = true;
        obj.active = true;
        for v in el.children_named("volume") {
            let v = resolve(v, file)?;
            let mut vol = Volume::from_element(&v, obj.def.kind, VolParseFlags::default())
                .map_err(|e| xml_err(e, from::STORAGE))?;
            if vol.target.path.is_none() {
                vol.target.path = Some(format!(
                    "{}/{}",
                    obj.def.target_path.as_deref().unwrap_or(""),
                    vol.name
                ));
            }
            if vol.key.is_none() {
                vol.key = vol.target.path.clone();
            }
            obj.def.allocation += vol.allocation;
            obj.def.available = obj.def.capacity.saturating_sub(obj.def.allocation);
            obj.vols.push(vol);
        }
    }
    Ok(())
}

fn no_network_name(name: &str) -> Error {
    Error::new(
        code::NO_NETWORK,
        FROM,
        format!("no network with matching name '{}'", name),
    )
}

fn no_network_uuid(uuid: &Uuid) -> Error {
    Error::new(
        code::NO_NETWORK,
        FROM,
        format!("no network with matching uuid '{}'", uuid),
    )
}

fn no_pool_name(name: &str) -> Error {
    Error::new(
        code::NO_STORAGE_POOL,
        FROM,
        format!("no storage pool with matching name '{}'", name),
    )
}

fn no_pool_uuid(uuid: &Uuid) -> Error {
    Error::new(
        code::NO_STORAGE_POOL,
        FROM,
        format!("no storage pool with matching uuid '{}'", uuid),
    )
}

fn no_vol(what: &str, v: &str) -> Error {
    Error::new(
        code::NO_STORAGE_VOL,
        FROM,
        format!("no storage vol with matching {} '{}'", what, v),
    )
}

fn pool_type_flag(t: PoolType) -> u32 {
    match t {
        PoolType::Dir => 1 << 6,
        PoolType::Fs => 1 << 7,
        PoolType::Netfs => 1 << 8,
        PoolType::Logical => 1 << 9,
        PoolType::Disk => 1 << 10,
        PoolType::Iscsi => 1 << 11,
        PoolType::Scsi => 1 << 12,
        PoolType::Mpath => 1 << 13,
        PoolType::Rbd => 1 << 14,
        PoolType::Sheepdog => 1 << 15,
        PoolType::Gluster => 1 << 16,
        PoolType::Zfs => 1 << 17,
        PoolType::Vstorage => 1 << 18,
        PoolType::IscsiDirect => 1 << 19,
    }
}

fn matches_common(f: u32, active: bool, persistent: bool, autostart: bool) -> bool {
    if f & (lo::ACTIVE | lo::INACTIVE) != 0
        && !((f & lo::ACTIVE != 0 && active) || (f & lo::INACTIVE != 0 && !active))
    {
        return false;
    }
    if f & (lo::PERSISTENT | lo::TRANSIENT) != 0
        && !((f & lo::PERSISTENT != 0 && persistent) || (f & lo::TRANSIENT != 0 && !persistent))
    {
        return false;
    }
    if f & (lo::AUTOSTART | lo::NO_AUTOSTART) != 0
        && !((f & lo::AUTOSTART != 0 && autostart) || (f & lo::NO_AUTOSTART != 0 && !autostart))
    {
        return false;
    }
    true
}

impl Objects {
    fn net_by_name(&self, name: &str) -> Result<usize> {
        self.networks
            .iter()
            .position(|n| n.def.name == name)
            .ok_or_else(|| no_network_name(name))
    }

    fn net_by_uuid(&self, uuid: &Uuid) -> Result<usize> {
        self.networks
            .iter()
            .position(|n| n.def.uuid == *uuid)
            .ok_or_else(|| no_network_uuid(uuid))
    }

    /// virNetworkObjAssignDef: `live` is ADD_LIVE, `check_live` ADD_CHECK_LIVE.
    fn assign_network(&mut self, def: Network, live: bool, check_live: bool) -> Result<usize> {
        if let Some(i) = self.networks.iter().position(|n| n.def.uuid == def.uuid) {
            let obj = &mut self.networks[i];
            if obj.def.name != def.name {
                return Err(Error::operation_failed(
                    FROM,
                    format!(
                        "network '{}' is already defined with uuid {}",
                        obj.def.name, obj.def.uuid
                    ),
                ));
            }
            if check_live && obj.active {
                return Err(Error::operation_invalid(
                    FROM,
                    format!("network is already active as '{}'", obj.def.name),
                ));
            }
            if live {
                if obj.persistent && obj.new_def.is_none() {
                    obj.new_def = Some(obj.def.clone());
                }
                obj.def = def;
            } else {
                if obj.active {
                    obj.new_def = Some(def);
                } else {
                    obj.def = def;
                }
                obj.persistent = true;
            }
            return Ok(i);
        }
        if let Some(o) = self.networks.iter().find(|n| n.def.name == def.name) {
            return Err(Error::operation_failed(
                FROM,
                format!(
                    "network '{}' already exists with uuid {}",
                    def.name, o.def.uuid
                ),
            ));
        }
        self.networks.push(NetworkObj {
            def,
            new_def: None,
            active: false,
            persistent: !live,
            autostart: false,
        });
        Ok(self.networks.len() - 1)
    }

    fn pool_by_name(&self, name: &str) -> Result<usize> {
        self.pools
            .iter()
            .position(|p| p.def.name == name)
            .ok_or_else(|| no_pool_name(name))
    }

    fn pool_by_uuid(&self, uuid: &Uuid) -> Result<usize> {
        self.pools
            .iter()
            .position(|p| p.def.uuid == *uuid)
            .ok_or_else(|| no_pool_uuid(uuid))
    }

    fn active_pool(&self, name: &str) -> Result<usize> {
        let i = self.pool_by_name(name)?;
        if !self.pools[i].active {
            return Err(Error::operation_invalid(
                FROM,
                format!("storage pool '{}' is not active", name),
            ));
        }
        Ok(i)
    }

    fn inactive_pool(&self, name: &str) -> Result<usize> {
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
    fn add_pool(&mut self, def: Pool, check_active: bool) -> Result<usize> {
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
    fn vol(&self, v: &VolRef) -> Result<(usize, usize)> {
        let p = self.active_pool(&v.pool)?;
        let i = self.pools[p]
            .vols
            .iter()
            .position(|x| x.name == v.name)
            .ok_or_else(|| no_vol("name", &v.name))?;
        Ok((p, i))
    }
}

fn net_event(net: NetworkRef, event: i32) -> NetworkEvent {
    NetworkEvent {
        net,
        kind: NetworkEventKind::Lifecycle { event, detail: 0 },
    }
}

fn pool_event(pool: PoolRef, event: i32) -> PoolEvent {
    PoolEvent {
        pool,
        kind: PoolEventKind::Lifecycle { event, detail: 0 },
    }
}

/// Network API.
impl Driver {
    fn emit_net(&self, ev: NetworkEvent) {
        self.events.emit_network(&ev);
    }

    fn emit_pool(&self, ev: PoolEvent) {
        self.events.emit_pool(&ev);
    }

    pub fn list_all_networks(&self, flags: u32) -> Result<Vec<NetworkRef>> {
        check_flags(flags, 0x3f, "virConnectListAllNetworks")?;
        let st = self.lock();
        Ok(st
            .objects
            .networks
            .iter()
            .filter(|n| matches_common(flags, n.active, n.persistent, n.autostart))
            .map(NetworkObj::handle)
            .collect())
    }

    pub fn lookup_network_by_name(&self, name: &str) -> Result<NetworkRef> {
        let st = self.lock();
        let i = st.objects.net_by_name(name)?;
        Ok(st.objects.networks[i].handle())
    }

    pub fn lookup_network_by_uuid(&self, uuid: &Uuid) -> Result<NetworkRef> {
        let st = self.lock();
        let i = st.objects.net_by_uuid(uuid)?;
        Ok(st.objects.networks[i].handle())
    }

    pub fn network_define_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        check_flags(flags, 1, "testNetworkDefineXMLFlags")?;
        if flags & 1 != 0 {
            crate::schema::validate(xml, "network")?;
        }
        let def = parse_network(xml)?;
        let h = {
            let mut st = self.lock();
            let i = st.objects.assign_network(def, false, false)?;
            st.objects.networks[i].handle()
        };
        self.emit_net(net_event(h.clone(), nl::DEFINED));
        Ok(h)
    }

    pub fn network_create_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        check_flags(flags, 1, "testNetworkCreateXMLFlags")?;
        if flags & 1 != 0 {
            crate::schema::validate(xml, "network")?;
        }
        let def = parse_network(xml)?;
        let h = {
            let mut st = self.lock();
            let i = st.objects.assign_network(def, true, true)?;
            st.objects.networks[i].active = true;
            st.objects.networks[i].handle()
        };
        self.emit_net(net_event(h.clone(), nl::STARTED));
        Ok(h)
    }

    pub fn network_undefine(&self, net: &NetworkRef) -> Result<()> {
        {
            let mut st = self.lock();
            let i = st.objects.net_by_name(&net.name)?;
            let obj = &mut st.objects.networks[i];
            if obj.active {
                return Err(Error::operation_invalid(
                    FROM,
                    format!("Network '{}' is still running", net.name),
                ));
            }
            st.objects.networks.remove(i);
        }
        self.emit_net(net_event(net.clone(), nl::UNDEFINED));
        Ok(())
    }

    pub fn network_create(&self, net: &NetworkRef) -> Result<()> {
        let h = {
            let mut st = self.lock();
            let i = st.objects.net_by_name(&net.name)?;
            let obj = &mut st.objects.networks[i];
            if obj.active {
                return Err(Error::operation_invalid(
                    FROM,
                    format!("Network '{}' is already running", net.name),
                ));
            }
            obj.active = true;
            obj.handle()
        };
        self.emit_net(net_event(h, nl::STARTED));
        Ok(())
    }

    pub fn network_destroy(&self, net: &NetworkRef) -> Result<()> {
        let h = {
            let mut st = self.lock();
            let i = st.objects.net_by_name(&net.name)?;
            let obj = &mut st.objects.networks[i];
            obj.active = false;
            let h = obj.handle();
            if let Some(d) = obj.new_def.take() {
                obj.def = d;
            }
            if !obj.persistent {
                st.objects.networks.remove(i);
            }
            h
        };
        self.emit_net(net_event(h, nl::STOPPED));
        Ok(())
    }

    /// testNetworkUpdate: virNetworkObjUpdate on the live and/or the
    /// persistent definition.
    pub fn network_update(
        &self,
        net: &NetworkRef,
        command: u32,
        section: u32,
        parent_index: i32,
        xml: &str,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, 3, "testNetworkUpdate")?;
        let mut st = self.lock();
        let i = st.objects.net_by_name(&net.name)?;
        let obj = &mut st.objects.networks[i];
        let mut flags = flags;
        if flags & 3 == 0 {
            flags |= if obj.active { 1 } else { 2 };
        }
        if flags & 2 != 0 && !obj.persistent {
            return Err(Error::operation_invalid(
                FROM,
                "cannot change persistent config of a transient network",
            ));
        }
        if flags & 1 != 0 && !obj.active {
            return Err(Error::operation_invalid(FROM, "network is not running"));
        }
        let mut live = None;
        if flags & 1 != 0 {
            let mut d = obj.def.clone();
            update_section(&mut d, command, section, parent_index, xml)?;
            live = Some(d);
        }
        let mut config = None;
        if flags & 2 != 0 {
            let mut d = obj.new_def.clone().unwrap_or_else(|| obj.def.clone());
            update_section(&mut d, command, section, parent_index, xml)?;
            config = Some(d);
        }
        if let Some(d) = config {
            if obj.active {
                obj.new_def = Some(d);
            } else {
                obj.def = d;
            }
        }
        if let Some(d) = live {
            obj.def = d;
        }
        Ok(())
    }

    pub fn network_get_xml_desc(&self, net: &NetworkRef, flags: u32) -> Result<String> {
        check_flags(flags, 0, "testNetworkGetXMLDesc")?;
        let st = self.lock();
        let i = st.objects.net_by_name(&net.name)?;
        Ok(st.objects.networks[i].def.format(false))
    }

    pub fn network_get_bridge_name(&self, net: &NetworkRef) -> Result<String> {
        let st = self.lock();
        let i = st.objects.net_by_name(&net.name)?;
        let def = &st.objects.networks[i].def;
        def.bridge_name().map(str::to_string).ok_or_else(|| {
            Error::internal(
                FROM,
                format!("network '{}' does not have a bridge name.", def.name),
            )
        })
    }

    pub fn network_get_autostart(&self, net: &NetworkRef) -> Result<bool> {
        let st = self.lock();
        let i = st.objects.net_by_name(&net.name)?;
        Ok(st.objects.networks[i].autostart)
    }

    pub fn network_set_autostart(&self, net: &NetworkRef, autostart: bool) -> Result<()> {
        let mut st = self.lock();
        let i = st.objects.net_by_name(&net.name)?;
        st.objects.networks[i].autostart = autostart;
        Ok(())
    }

    pub fn network_is_active(&self, net: &NetworkRef) -> Result<bool> {
        let st = self.lock();
        let i = st.objects.net_by_uuid(&net.uuid)?;
        Ok(st.objects.networks[i].active)
    }

    pub fn network_is_persistent(&self, net: &NetworkRef) -> Result<bool> {
        let st = self.lock();
        let i = st.objects.net_by_uuid(&net.uuid)?;
        Ok(st.objects.networks[i].persistent)
    }
}

/// Storage pool API.
impl Driver {
    pub fn list_all_pools(&self, flags: u32) -> Result<Vec<PoolRef>> {
        check_flags(flags, 0xfffff, "virConnectListAllStoragePools")?;
        let types = flags & !0x3f;
        let st = self.lock();
        Ok(st
            .objects
            .pools
            .iter()
            .filter(|p| matches_common(flags, p.active, p.persistent, p.autostart))
            .filter(|p| types == 0 || types & pool_type_flag(p.def.kind) != 0)
            .map(PoolObj::handle)
            .collect())
    }

    pub fn lookup_pool_by_name(&self, name: &str) -> Result<PoolRef> {
        let st = self.lock();
        let i = st.objects.pool_by_name(name)?;
        Ok(st.objects.pools[i].handle())
    }

    pub fn lookup_pool_by_uuid(&self, uuid: &Uuid) -> Result<PoolRef> {
        let st = self.lock();
        let i = st.objects.pool_by_uuid(uuid)?;
        Ok(st.objects.pools[i].handle())
    }

    pub fn pool_define_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        check_flags(flags, 1, "testStoragePoolDefineXML")?;
        if flags & 1 != 0 {
            crate::schema::validate(xml, "storagepool")?;
        }
        let mut def = parse_pool(xml)?;
        set_pool_defaults(&mut def);
        let h = {
            let mut st = self.lock();
            let i = st.objects.add_pool(def, false)?;
            let obj = &mut st.objects.pools[i];
            obj.persistent = true;
            obj.handle()
        };
        self.emit_pool(pool_event(h.clone(), pl::DEFINED));
        Ok(h)
    }

    pub fn pool_create_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        check_flags(flags, 0, "testStoragePoolCreateXML")?;
        let mut def = parse_pool(xml)?;
        set_pool_defaults(&mut def);
        let h = {
            let mut st = self.lock();
            let i = st.objects.add_pool(def, true)?;
            let obj = &mut st.objects.pools[i];
            obj.persistent = false;
            obj.active = true;
            obj.handle()
        };
        self.emit_pool(pool_event(h.clone(), pl::STARTED));
        Ok(h)
    }

    pub fn pool_build(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testStoragePoolBuild")?;
        self.lock().objects.inactive_pool(&pool.name)?;
        self.emit_pool(pool_event(pool.clone(), pl::CREATED));
        Ok(())
    }

    pub fn pool_create(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testStoragePoolCreate")?;
        {
            let mut st = self.lock();
            let i = st.objects.inactive_pool(&pool.name)?;
            st.objects.pools[i].active = true;
        }
        self.emit_pool(pool_event(pool.clone(), pl::STARTED));
        Ok(())
    }

    pub fn pool_destroy(&self, pool: &PoolRef) -> Result<()> {
        let h = {
            let mut st = self.lock();
            let i = st.objects.active_pool(&pool.name)?;
            let obj = &mut st.objects.pools[i];
            obj.active = false;
            if let Some(d) = obj.new_def.take() {
                obj.def = d;
            }
            let h = obj.handle();
            if !obj.persistent {
                st.objects.pools.remove(i);
            }
            h
        };
        self.emit_pool(pool_event(h, pl::STOPPED));
        Ok(())
    }

    pub fn pool_delete(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testStoragePoolDelete")?;
        self.lock().objects.inactive_pool(&pool.name)?;
        self.emit_pool(pool_event(pool.clone(), pl::DELETED));
        Ok(())
    }

    pub fn pool_undefine(&self, pool: &PoolRef) -> Result<()> {
        {
            let mut st = self.lock();
            let i = st.objects.inactive_pool(&pool.name)?;
            st.objects.pools.remove(i);
        }
        self.emit_pool(pool_event(pool.clone(), pl::UNDEFINED));
        Ok(())
    }

    pub fn pool_refresh(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testStoragePoolRefresh")?;
        self.lock().objects.active_pool(&pool.name)?;
        self.events.emit_pool(&PoolEvent {
            pool: pool.clone(),
            kind: PoolEventKind::Refresh,
        });
        Ok(())
    }

    pub fn pool_get_info(&self, pool: &PoolRef) -> Result<PoolInfo> {
        let st = self.lock();
        let p = &st.objects.pools[st.objects.pool_by_name(&pool.name)?];
        Ok(PoolInfo {
            state: if p.active {
                pool_state::RUNNING
            } else {
                pool_state::INACTIVE
            },
            capacity: p.def.capacity,
            allocation: p.def.allocation,
            available: p.def.available,
        })
    }

    pub fn pool_get_xml_desc(&self, pool: &PoolRef, flags: u32) -> Result<String> {
        check_flags(flags, 0, "testStoragePoolGetXMLDesc")?;
        let st = self.lock();
        let i = st.objects.pool_by_name(&pool.name)?;
        Ok(st.objects.pools[i].def.format())
    }

    pub fn pool_get_autostart(&self, pool: &PoolRef) -> Result<bool> {
        let st = self.lock();
        let p = &st.objects.pools[st.objects.pool_by_name(&pool.name)?];
        Ok(p.persistent && p.autostart)
    }

    pub fn pool_set_autostart(&self, pool: &PoolRef, autostart: bool) -> Result<()> {
        let mut st = self.lock();
        let i = st.objects.pool_by_name(&pool.name)?;
        let p = &mut st.objects.pools[i];
        if !p.persistent {
            return Err(Error::invalid_arg(FROM, "pool has no config file"));
        }
        p.autostart = autostart;
        Ok(())
    }

    pub fn pool_is_active(&self, pool: &PoolRef) -> Result<bool> {
        let st = self.lock();
        let i = st.objects.pool_by_uuid(&pool.uuid)?;
        Ok(st.objects.pools[i].active)
    }

    pub fn pool_is_persistent(&self, pool: &PoolRef) -> Result<bool> {
        let st = self.lock();
        let i = st.objects.pool_by_uuid(&pool.uuid)?;
        Ok(st.objects.pools[i].persistent)
    }

    pub fn pool_list_all_volumes(&self, pool: &PoolRef, flags: u32) -> Result<Vec<VolRef>> {
        check_flags(flags, 0, "testStoragePoolListAllVolumes")?;
        let st = self.lock();
        let p = &st.objects.pools[st.objects.pool_by_uuid(&pool.uuid)?];
        if !p.active {
            return Err(Error::operation_invalid(FROM, "storage pool is not active"));
        }
        Ok(p.vols.iter().map(|v| p.vol_ref(v)).collect())
    }

    pub fn pool_num_of_volumes(&self, pool: &PoolRef) -> Result<i32> {
        let st = self.lock();
        let i = st.objects.active_pool(&pool.name)?;
        Ok(st.objects.pools[i].vols.len() as i32)
    }

    pub fn lookup_pool_by_volume(&self, vol: &VolRef) -> Result<PoolRef> {
        self.lookup_pool_by_name(&vol.pool)
    }
}

/// Storage volume API.
impl Driver {
    fn create_vol(
        &self,
        pool: &PoolRef,
        xml: &str,
        flags: u32,
        clone: Option<&VolRef>,
    ) -> Result<VolRef> {
        let func = if clone.is_some() {
            "testStorageVolCreateXMLFrom"
        } else {
            "testStorageVolCreateXML"
        };
        check_flags(flags, 1 << 2, func)?;
        if flags & (1 << 2) != 0 {
            crate::schema::validate(xml, "storagevol")?;
        }
        let mut st = self.lock();
        let pi = st.objects.active_pool(&pool.name)?;
        let p = &mut st.objects.pools[pi];
        let mut vol = Volume::parse(xml, p.def.kind, VolParseFlags::default())
            .map_err(|e| xml_err(e, from::STORAGE))?;
        if p.vols.iter().any(|v| v.name == vol.name) {
            return Err(Error::operation_failed(FROM, "storage vol already exists"));
        }
        if let Some(c) = clone {
            if !p.vols.iter().any(|v| v.name == c.name) {
                return Err(no_vol("name", &c.name));
            }
        }
        if p.def.allocation + vol.allocation > p.def.capacity {
            return Err(Error::internal(
                FROM,
                format!("Not enough free space in pool for volume '{}'", vol.name),
            ));
        }
        let path = format!(
            "{}/{}",
            p.def.target_path.as_deref().unwrap_or(""),
            vol.name
        );
        vol.target.path = Some(path.clone());
        vol.key = Some(path);
        p.def.allocation += vol.allocation;
        p.def.available = p.def.capacity.saturating_sub(p.def.allocation);
        let r = p.vol_ref(&vol);
        p.vols.push(vol);
        Ok(r)
    }

    pub fn vol_create_xml(&self, pool: &PoolRef, xml: &str, flags: u32) -> Result<VolRef> {
        self.create_vol(pool, xml, flags, None)
    }

    pub fn vol_create_xml_from(
        &self,
        pool: &PoolRef,
        xml: &str,
        clone: &VolRef,
        flags: u32,
    ) -> Result<VolRef> {
        self.create_vol(pool, xml, flags, Some(clone))
    }

    pub fn lookup_vol_by_name(&self, pool: &PoolRef, name: &str) -> Result<VolRef> {
        let st = self.lock();
        let p = &st.objects.pools[st.objects.active_pool(&pool.name)?];
        p.vols
            .iter()
            .find(|v| v.name == name)
            .map(|v| p.vol_ref(v))
            .ok_or_else(|| no_vol("name", name))
    }

    fn find_vol(&self, pred: impl Fn(&Volume) -> bool) -> Option<VolRef> {
        let st = self.lock();
        st.objects
            .pools
            .iter()
            .filter(|p| p.active)
            .find_map(|p| p.vols.iter().find(|v| pred(v)).map(|v| p.vol_ref(v)))
    }

    pub fn lookup_vol_by_key(&self, key: &str) -> Result<VolRef> {
        self.find_vol(|v| v.key.as_deref() == Some(key))
            .ok_or_else(|| no_vol("key", key))
    }

    pub fn lookup_vol_by_path(&self, path: &str) -> Result<VolRef> {
        self.find_vol(|v| v.target.path.as_deref() == Some(path))
            .ok_or_else(|| no_vol("path", path))
    }

    pub fn vol_delete(&self, vol: &VolRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testStorageVolDelete")?;
        let mut st = self.lock();
        let (p, i) = st.objects.vol(vol)?;
        let p = &mut st.objects.pools[p];
        let v = p.vols.remove(i);
        p.def.allocation = p.def.allocation.saturating_sub(v.allocation);
        p.def.available = p.def.capacity.saturating_sub(p.def.allocation);
        Ok(())
    }

    pub fn vol_get_info(&self, vol: &VolRef) -> Result<VolInfo> {
        let st = self.lock();
        let (p, i) = st.objects.vol(vol)?;
        let p = &st.objects.pools[p];
        let v = &p.vols[i];
        let kind = match p.def.kind {
            PoolType::Dir | PoolType::Fs | PoolType::Netfs | PoolType::Vstorage => 0,
            PoolType::Sheepdog | PoolType::IscsiDirect | PoolType::Gluster | PoolType::Rbd => 3,
            _ => 1,
        };
        Ok(VolInfo {
            kind,
            capacity: v.capacity,
            allocation: v.allocation,
        })
    }

    pub fn vol_get_xml_desc(&self, vol: &VolRef, flags: u32) -> Result<String> {
        check_flags(flags, 0, "testStorageVolGetXMLDesc")?;
        let st = self.lock();
        let (p, i) = st.objects.vol(vol)?;
        Ok(st.objects.pools[p].vols[i].format())
    }

    pub fn vol_get_path(&self, vol: &VolRef) -> Result<String> {
        let st = self.lock();
        let (p, i) = st.objects.vol(vol)?;
        Ok(st.objects.pools[p].vols[i]
            .target
            .path
            .clone()
            .unwrap_or_default())
    }
}

const SECTIONS: &[&str] = &[
    "none",
    "bridge",
    "domain",
    "ip",
    "ip-dhcp-host",
    "ip-dhcp-range",
    "forward",
    "forward-interface",
    "forward-pf",
    "portgroup",
    "dns-host",
    "dns-txt",
    "dns-srv",
];

/// virNetworkDefUpdateSection, for the sections this driver edits.
fn update_section(
    def: &mut oxvirt_xml::network::Network,
    command: u32,
    section: u32,
    parent_index: i32,
    xml: &str,
) -> Result<()> {
    let name = SECTIONS.get(section as usize).copied().unwrap_or("unknown");
    let root = oxvirt_xml::dom::parse(xml, "network_update_xml")
        .map_err(|e| Error::new(code::XML_ERROR, FROM, e.to_string()))?;
    match section {
        1 | 2 | 3 | 6 | 8 => Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            format!("can't update '{}' section of network '{}'", name, def.name),
        )),
        4 => update_dhcp_host(def, command, parent_index, &root),
        5 => update_dhcp_range(def, command, parent_index, &root),
        7 => update_forward_interface(def, command, &root),
        9 => update_portgroup(def, command, &root),
        10 => update_dns_host(def, command, &root),
        11 => update_dns_txt(def, command, &root),
        12 => update_dns_srv(def, command, &root),
        _ => Err(Error::new(
            code::NO_SUPPORT,
            FROM,
            format!("virNetworkUpdate of the '{}' section", name),
        )),
    }
}

fn update_dhcp_host(
    def: &mut oxvirt_xml::network::Network,
    command: u32,
    parent_index: i32,
    el: &oxvirt_xml::dom::Element,
) -> Result<()> {
    use oxvirt_xml::network::DhcpHost;
    if el.name != "host" {
        return Err(Error::new(
            code::XML_ERROR,
            FROM,
            format!(
                "unexpected element <{}>, expecting <host>, while updating network '{}'",
                el.name, def.name
            ),
        ));
    }
    let net_name = def.name.clone();
    let idx = if parent_index >= 0 {
        Some(parent_index as usize).filter(|i| *i < def.ips.len())
    } else {
        def.ips.iter().position(|ip| ip.is_ipv4())
    };
    let Some(idx) = idx else {
        return Err(Error::operation_invalid(
            FROM,
            if parent_index >= 0 {
                format!(
                    "couldn't update dhcp host entry - no <ip> element found at index {} in network '{}'",
                    parent_index, net_name
                )
            } else {
                format!(
                    "couldn't update dhcp host entry - no <ip family='ipv4'> element found in network '{}'",
                    net_name
                )
            },
        ));
    };
    let ipdef = &mut def.ips[idx];
    let ip = match el.attr("ip") {
        Some(a) => Some(a.parse::<std::net::IpAddr>().map_err(|_| {
            Error::new(
                code::XML_ERROR,
                FROM,
                format!(
                    "Invalid IP address in static host definition for network '{}'",
                    net_name
                ),
            )
        })?),
        None => None,
    };
    let host = DhcpHost {
        mac: el.attr("mac").map(str::to_string),
        id: el.attr("id").map(str::to_string),
        name: el.attr("name").map(str::to_string),
        ip,
        lease: None,
    };
    let partial = command == 2;
    if !partial {
        if host.mac.is_none() && host.name.is_none() {
            return Err(Error::new(
                code::XML_ERROR,
                FROM,
                format!(
                    "Static host definition in IPv4 network '{}' must have mac or name attribute",
                    net_name
                ),
            ));
        }
        if host.ip.is_none() {
            return Err(Error::new(
                code::XML_ERROR,
                FROM,
                format!(
                    "Missing IP address in static host definition for network '{}'",
                    net_name
                ),
            ));
        }
        if host.ip.is_some_and(|a| a.is_ipv4() != ipdef.is_ipv4()) {
            return Err(Error::operation_invalid(
                FROM,
                "the address family of a host entry IP must match the address family of the dhcp element's parent",
            ));
        }
    }
    let mac_eq = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => false,
    };
    let ip_s = host
        .ip
        .map(|a| a.to_string())
        .unwrap_or_else(|| "unknown".into());
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(null)".into());
    match command {
        1 => {
            let i = ipdef.hosts.iter().position(|h| {
                mac_eq(&host.mac, &h.mac)
                    || (host.ip.is_some() && host.ip == h.ip)
                    || (host.name.is_some() && host.name == h.name)
            });
            let Some(i) = i else {
                return Err(Error::operation_invalid(
                    FROM,
                    format!(
                        "couldn't locate an existing dhcp host entry with \"mac='{}'\" \"name='{}'\" \"ip='{}'\" in network '{}'",
                        host.mac.clone().unwrap_or_else(|| "unknown".into()),
                        opt(&host.name),
                        ip_s,
                        net_name
                    ),
                ));
            };
            ipdef.hosts[i] = host;
        }
        3 | 4 => {
            if ipdef.hosts.iter().any(|h| {
                mac_eq(&host.mac, &h.mac)
                    || (host.name.is_some() && host.name == h.name)
                    || (host.ip.is_some() && host.ip == h.ip)
            }) {
                return Err(Error::operation_invalid(
                    FROM,
                    format!(
                        "there is an existing dhcp host entry in network '{}' that matches \"<host mac='{}' name='{}' ip='{}'/>\"",
                        net_name,
                        host.mac.clone().unwrap_or_else(|| "unknown".into()),
                        opt(&host.name),
                        ip_s
                    ),
                ));
            }
            if command == 4 {
                ipdef.hosts.insert(0, host);
            } else {
                ipdef.hosts.push(host);
            }
        }
        2 => {
            let i = ipdef.hosts.iter().position(|h| {
                (host.mac.is_none() || h.mac.is_none() || mac_eq(&host.mac, &h.mac))
                    && (host.name.is_none() || host.name == h.name)
                    && (host.ip.is_none() || host.ip == h.ip)
            });
            let Some(i) = i else {
                return Err(Error::operation_invalid(
                    FROM,
                    format!(
                        "couldn't locate a matching dhcp host entry in network '{}'",
                        net_name
                    ),
                ));
            };
            ipdef.hosts.remove(i);
        }
        _ => {
            return Err(Error::argument_unsupported(
                FROM,
                format!("unrecognized network update command code {}", command),
            ))
        }
    }
    Ok(())
}

fn check_element(def: &Network, el: &oxvirt_xml::dom::Element, want: &str) -> Result<()> {
    if el.name != want {
        return Err(Error::new(
            code::XML_ERROR,
            FROM,
            format!(
                "unexpected element <{}>, expecting <{}>, while updating network '{}'",
                el.name, want, def.name
            ),
        ));
    }
    Ok(())
}

fn update_dns_host(def: &mut Network, command: u32, el: &oxvirt_xml::dom::Element) -> Result<()> {
    let is_add = command == 3 || command == 4;
    if command == 1 {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            "DNS HOST records cannot be modified, only added or deleted",
        ));
    }
    check_element(def, el, "host")?;
    let ip = match el.attr("ip") {
        Some(a) => Some(a.parse::<std::net::IpAddr>().map_err(|_| {
            Error::new(
                code::XML_ERROR,
                FROM,
                format!(
                    "Invalid IP address in network '{}' DNS HOST record",
                    def.name
                ),
            )
        })?),
        None if is_add => {
            return Err(Error::raw(
                code::XML_DETAIL,
                FROM,
                format!(
                    "Missing IP address in network '{}' DNS HOST record",
                    def.name
                ),
            ))
        }
        None => None,
    };
    let names: Vec<String> = el.children_named("hostname").map(|h| h.text()).collect();
    let found: Vec<usize> = def
        .dns
        .hosts
        .iter()
        .enumerate()
        .filter(|(_, (hip, hnames))| {
            Some(*hip) == ip || (!is_add && names.iter().any(|n| hnames.contains(n)))
        })
        .map(|(i, _)| i)
        .collect();
    let name = def.name.clone();
    if is_add {
        if !found.is_empty() {
            return Err(Error::operation_invalid(
                FROM,
                format!(
                    "there is already at least one DNS HOST record with a matching field in network {}",
                    name
                ),
            ));
        }
        let entry = (ip.expect("checked above"), names);
        if command == 4 {
            def.dns.hosts.insert(0, entry);
        } else {
            def.dns.hosts.push(entry);
        }
        return Ok(());
    }
    match found.len() {
        0 => Err(Error::operation_invalid(
            FROM,
            format!(
                "couldn't locate a matching DNS HOST record in network {}",
                name
            ),
        )),
        1 => {
            def.dns.hosts.remove(found[0]);
            Ok(())
        }
        _ => Err(Error::operation_invalid(
            FROM,
            format!(
                "multiple matching DNS HOST records were found in network {}",
                name
            ),
        )),
    }
}

fn update_dns_txt(def: &mut Network, command: u32, el: &oxvirt_xml::dom::Element) -> Result<()> {
    let is_add = command == 3 || command == 4;
    if command == 1 {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            "DNS TXT records cannot be modified, only added or deleted",
        ));
    }
    check_element(def, el, "txt")?;
    let Some(tname) = el.attr("name").map(str::to_string) else {
        return Err(Error::raw(
            code::XML_DETAIL,
            FROM,
            format!(
                "missing required name attribute in DNS TXT record of network {}",
                def.name
            ),
        ));
    };
    let value = el.attr("value").unwrap_or_default().to_string();
    let idx = def.dns.txts.iter().position(|(n, _)| *n == tname);
    let name = def.name.clone();
    if is_add {
        if idx.is_some() {
            return Err(Error::operation_invalid(
                FROM,
                format!(
                    "there is already a DNS TXT record with name '{}' in network {}",
                    tname, name
                ),
            ));
        }
        if command == 4 {
            def.dns.txts.insert(0, (tname, value));
        } else {
            def.dns.txts.push((tname, value));
        }
        return Ok(());
    }
    match idx {
        Some(i) => {
            def.dns.txts.remove(i);
            Ok(())
        }
        None => Err(Error::operation_invalid(
            FROM,
            format!(
                "couldn't locate a matching DNS TXT record in network {}",
                name
            ),
        )),
    }
}

fn update_dhcp_range(
    def: &mut Network,
    command: u32,
    parent_index: i32,
    el: &oxvirt_xml::dom::Element,
) -> Result<()> {
    check_element(def, el, "range")?;
    let name = def.name.clone();
    let idx = if parent_index >= 0 {
        Some(parent_index as usize).filter(|i| *i < def.ips.len())
    } else {
        def.ips.iter().position(|ip| ip.is_ipv4())
    };
    let Some(idx) = idx else {
        return Err(Error::operation_invalid(
            FROM,
            if parent_index >= 0 {
                format!(
                    "couldn't update dhcp range entry - no <ip> element found at index {} in network '{}'",
                    parent_index, name
                )
            } else {
                format!(
                    "couldn't update dhcp range entry - no <ip family='ipv4'> element found in network '{}'",
                    name
                )
            },
        ));
    };
    if command == 1 {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            "dhcp ranges cannot be modified, only added or deleted",
        ));
    }
    let addr = |a: &str| -> Result<std::net::IpAddr> {
        let v = el.attr(a).ok_or_else(|| {
            Error::new(
                code::XML_ERROR,
                FROM,
                format!(
                    "Missing '{}' attribute in dhcp range for network '{}'",
                    a, name
                ),
            )
        })?;
        v.parse().map_err(|_| {
            Error::new(
                code::XML_ERROR,
                FROM,
                format!("Invalid dhcp range '{}' in network '{}'", v, name),
            )
        })
    };
    let (start, end) = (addr("start")?, addr("end")?);
    let ipdef = &mut def.ips[idx];
    if start.is_ipv4() != ipdef.is_ipv4() || end.is_ipv4() != ipdef.is_ipv4() {
        return Err(Error::internal(
            FROM,
            format!(
                "mismatch of address family in range {} - {} for network {}",
                start, end, ipdef.address
            ),
        ));
    }
    let found = ipdef
        .ranges
        .iter()
        .position(|r| r.start == start && r.end == end);
    match command {
        3 | 4 => {
            if found.is_some() {
                return Err(Error::operation_invalid(
                    FROM,
                    format!(
                        "there is an existing dhcp range entry in network '{}' that matches \"<range start='{}' end='{}'/>\"",
                        name, start, end
                    ),
                ));
            }
            let r = oxvirt_xml::network::DhcpRange {
                start,
                end,
                lease: None,
            };
            if command == 4 {
                ipdef.ranges.insert(0, r);
            } else {
                ipdef.ranges.push(r);
            }
            Ok(())
        }
        2 => match found {
            Some(i) => {
                ipdef.ranges.remove(i);
                Ok(())
            }
            None => Err(Error::operation_invalid(
                FROM,
                format!(
                    "couldn't locate a matching dhcp range entry in network '{}'",
                    name
                ),
            )),
        },
        _ => Err(Error::argument_unsupported(
            FROM,
            format!("unrecognized network update command code {}", command),
        )),
    }
}

fn update_dns_srv(def: &mut Network, command: u32, el: &oxvirt_xml::dom::Element) -> Result<()> {
    let is_add = command == 3 || command == 4;
    if command == 1 {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            "DNS SRV records cannot be modified, only added or deleted",
        ));
    }
    check_element(def, el, "srv")?;
    let name = def.name.clone();
    let service = el.attr("service").map(str::to_string);
    let protocol = el.attr("protocol").map(str::to_string);
    if is_add && service.is_none() {
        return Err(Error::raw(
            code::XML_DETAIL,
            FROM,
            format!(
                "missing required service attribute in DNS SRV record of network '{}'",
                name
            ),
        ));
    }
    if is_add && protocol.is_none() {
        return Err(Error::raw(
            code::XML_DETAIL,
            FROM,
            format!(
                "missing required protocol attribute in DNS SRV record '{}' of network '{}'",
                service.clone().unwrap_or_default(),
                name
            ),
        ));
    }
    let num = |a: &str| el.attr(a).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
    let srv = oxvirt_xml::network::Srv {
        service: service.clone().unwrap_or_default(),
        protocol: protocol.clone().unwrap_or_default(),
        domain: el.attr("domain").map(str::to_string),
        target: el.attr("target").map(str::to_string),
        port: num("port"),
        priority: num("priority"),
        weight: num("weight"),
    };
    let found: Vec<usize> = def
        .dns
        .srvs
        .iter()
        .enumerate()
        .filter(|(_, x)| {
            (srv.domain.is_none() || srv.domain == x.domain)
                && (service.is_none() || srv.service == x.service)
                && (protocol.is_none() || srv.protocol == x.protocol)
                && (srv.target.is_none() || srv.target == x.target)
        })
        .map(|(i, _)| i)
        .collect();
    if is_add {
        if !found.is_empty() {
            return Err(Error::operation_invalid(
                FROM,
                format!(
                    "there is already at least one DNS SRV record matching all specified fields in network {}",
                    name
                ),
            ));
        }
        if command == 4 {
            def.dns.srvs.insert(0, srv);
        } else {
            def.dns.srvs.push(srv);
        }
        return Ok(());
    }
    match found.len() {
        0 => Err(Error::operation_invalid(
            FROM,
            format!(
                "couldn't locate a matching DNS SRV record in network {}",
                name
            ),
        )),
        1 => {
            def.dns.srvs.remove(found[0]);
            Ok(())
        }
        _ => Err(Error::operation_invalid(
            FROM,
            format!(
                "multiple DNS SRV records matching all specified fields were found in network {}",
                name
            ),
        )),
    }
}

fn update_forward_interface(
    def: &mut Network,
    command: u32,
    el: &oxvirt_xml::dom::Element,
) -> Result<()> {
    use oxvirt_xml::network::ForwardIf;
    check_element(def, el, "interface")?;
    let name = def.name.clone();
    if command == 1 {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            "forward interface entries cannot be modified, only added or deleted",
        ));
    }
    let Some(dev) = el.attr("dev").map(str::to_string) else {
        return Err(Error::new(
            code::XML_ERROR,
            FROM,
            "missing dev attribute in <interface> element",
        ));
    };
    let Some(fwd) = def.forward.as_mut() else {
        return Err(Error::new(
            code::NO_SUPPORT,
            FROM,
            "virNetworkUpdate of forward interfaces without <forward>",
        ));
    };
    let found = fwd
        .ifs
        .iter()
        .position(|f| matches!(f, ForwardIf::Netdev(d) if *d == dev));
    match command {
        3 | 4 => {
            if found.is_some() {
                return Err(Error::operation_invalid(
                    FROM,
                    format!(
                        "there is an existing interface entry in network '{}' that matches \"<interface dev='{}'>\"",
                        name, dev
                    ),
                ));
            }
            let mut ifs = fwd.ifs.clone();
            if command == 4 {
                ifs.insert(0, ForwardIf::Netdev(dev));
            } else {
                ifs.push(ForwardIf::Netdev(dev));
            }
            let single = matches!(
                fwd.mode,
                oxvirt_xml::network::ForwardMode::Nat | oxvirt_xml::network::ForwardMode::Route
            );
            if single && ifs.len() > 1 {
                return Err(Error::new(
                    code::XML_ERROR,
                    FROM,
                    format!(
                        "multiple forwarding interfaces specified for network '{}', only one is supported",
                        name
                    ),
                ));
            }
            fwd.ifs = ifs;
            Ok(())
        }
        2 => match found {
            Some(i) => {
                fwd.ifs.remove(i);
                Ok(())
            }
            None => Err(Error::operation_invalid(
                FROM,
                format!(
                    "couldn't find an interface entry in network '{}' matching <interface dev='{}'>",
                    name, dev
                ),
            )),
        },
        _ => Err(Error::argument_unsupported(
            FROM,
            format!("unrecognized network update command code {}", command),
        )),
    }
}

fn update_portgroup(def: &mut Network, command: u32, el: &oxvirt_xml::dom::Element) -> Result<()> {
    check_element(def, el, "portgroup")?;
    let name = def.name.clone();
    let Some(pg) = el.attr("name").map(str::to_string) else {
        return Err(Error::new(
            code::XML_ERROR,
            FROM,
            "Missing required name attribute in portgroup",
        ));
    };
    let is_default = el.attr("default") == Some("yes");
    let found = def
        .portgroups
        .iter()
        .position(|p| p.attr("name") == Some(pg.as_str()));
    let found_default = def
        .portgroups
        .iter()
        .position(|p| p.attr("default") == Some("yes"));
    if found.is_none() && (command == 1 || command == 2) {
        return Err(Error::operation_invalid(
            FROM,
            format!(
                "couldn't find a portgroup entry in network '{}' matching <portgroup name='{}'>",
                name, pg
            ),
        ));
    }
    if found.is_some() && (command == 3 || command == 4) {
        return Err(Error::operation_invalid(
            FROM,
            format!(
                "there is an existing portgroup entry in network '{}' that matches \"<portgroup name='{}'>\"",
                name, pg
            ),
        ));
    }
    if command != 2 && is_default && found_default.is_some() && found_default != found {
        return Err(Error::operation_invalid(
            FROM,
            format!(
                "a different portgroup entry in network '{}' is already set as the default. Only one default is allowed.",
                name
            ),
        ));
    }
    match (command, found) {
        (1, Some(i)) => def.portgroups[i] = el.clone(),
        (2, Some(i)) => {
            def.portgroups.remove(i);
        }
        (3, _) => def.portgroups.push(el.clone()),
        (4, _) => def.portgroups.insert(0, el.clone()),
        _ => {
            return Err(Error::argument_unsupported(
                FROM,
                format!("unrecognized network update command code {}", command),
            ))
        }
    }
    Ok(())
}
