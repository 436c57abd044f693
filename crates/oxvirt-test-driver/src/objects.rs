//! Networks, storage pools and volumes held by the driver, with the
//! test driver's rules for them (testNetwork*, testStoragePool*,
//! testStorageVol* in libvirt's test driver).

use crate::domains::check_flags;
use std::path::Path;

use oxvirt_core::error::from;
use oxvirt_core::event::{
    network_lifecycle as nl, pool_lifecycle as pl, NetworkEvent, NetworkEventKind, PoolEvent,
    PoolEventKind,
};
use oxvirt_core::netconf::matches_list_flags;
use oxvirt_core::types::{pool_state, NetworkRef, PoolInfo, PoolRef, Uuid, VolInfo, VolRef};
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::Element;
use oxvirt_xml::network::Network;
use oxvirt_xml::storage::{Pool, PoolType, VolParseFlags, Volume};

use crate::hostobjs::{no_vol, PoolObj, DEFAULT_POOL_CAP};
use crate::state::{Driver, State, FROM};

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
        let idx = st.objects.networks.assign(def, false, false)?;
        st.objects.networks.objs[idx].active = true;
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
        Ok(self.lock().objects.networks.list(flags))
    }

    pub fn lookup_network_by_name(&self, name: &str) -> Result<NetworkRef> {
        let st = self.lock();
        let i = st.objects.networks.by_name(name)?;
        Ok(st.objects.networks.objs[i].handle())
    }

    pub fn lookup_network_by_uuid(&self, uuid: &Uuid) -> Result<NetworkRef> {
        let st = self.lock();
        let i = st.objects.networks.by_uuid(uuid)?;
        Ok(st.objects.networks.objs[i].handle())
    }

    pub fn network_define_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        check_flags(flags, 1, "testNetworkDefineXMLFlags")?;
        if flags & 1 != 0 {
            crate::schema::validate(xml, "network")?;
        }
        let def = parse_network(xml)?;
        let h = {
            let mut st = self.lock();
            let i = st.objects.networks.assign(def, false, false)?;
            st.objects.networks.objs[i].handle()
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
            let i = st.objects.networks.assign(def, true, true)?;
            st.objects.networks.objs[i].active = true;
            st.objects.networks.objs[i].handle()
        };
        self.emit_net(net_event(h.clone(), nl::STARTED));
        Ok(h)
    }

    pub fn network_undefine(&self, net: &NetworkRef) -> Result<()> {
        {
            let mut st = self.lock();
            let i = st.objects.networks.by_name(&net.name)?;
            let obj = &mut st.objects.networks.objs[i];
            if obj.active {
                return Err(Error::operation_invalid(
                    FROM,
                    format!("Network '{}' is still running", net.name),
                ));
            }
            st.objects.networks.objs.remove(i);
        }
        self.emit_net(net_event(net.clone(), nl::UNDEFINED));
        Ok(())
    }

    pub fn network_create(&self, net: &NetworkRef) -> Result<()> {
        let h = {
            let mut st = self.lock();
            let i = st.objects.networks.by_name(&net.name)?;
            let obj = &mut st.objects.networks.objs[i];
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
            let i = st.objects.networks.by_name(&net.name)?;
            let obj = &mut st.objects.networks.objs[i];
            obj.active = false;
            let h = obj.handle();
            if let Some(d) = obj.new_def.take() {
                obj.def = d;
            }
            if !obj.persistent {
                st.objects.networks.objs.remove(i);
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
        let i = st.objects.networks.by_name(&net.name)?;
        st.objects.networks.objs[i].update(command, section, parent_index, xml, flags)?;
        Ok(())
    }

    pub fn network_get_xml_desc(&self, net: &NetworkRef, flags: u32) -> Result<String> {
        check_flags(flags, 0, "testNetworkGetXMLDesc")?;
        let st = self.lock();
        let i = st.objects.networks.by_name(&net.name)?;
        Ok(st.objects.networks.objs[i].def.format(false))
    }

    pub fn network_get_bridge_name(&self, net: &NetworkRef) -> Result<String> {
        let st = self.lock();
        let i = st.objects.networks.by_name(&net.name)?;
        let def = &st.objects.networks.objs[i].def;
        def.bridge_name().map(str::to_string).ok_or_else(|| {
            Error::internal(
                FROM,
                format!("network '{}' does not have a bridge name.", def.name),
            )
        })
    }

    pub fn network_get_autostart(&self, net: &NetworkRef) -> Result<bool> {
        let st = self.lock();
        let i = st.objects.networks.by_name(&net.name)?;
        Ok(st.objects.networks.objs[i].autostart)
    }

    pub fn network_set_autostart(&self, net: &NetworkRef, autostart: bool) -> Result<()> {
        let mut st = self.lock();
        let i = st.objects.networks.by_name(&net.name)?;
        st.objects.networks.objs[i].autostart = autostart;
        Ok(())
    }

    pub fn network_is_active(&self, net: &NetworkRef) -> Result<bool> {
        let st = self.lock();
        let i = st.objects.networks.by_uuid(&net.uuid)?;
        Ok(st.objects.networks.objs[i].active)
    }

    pub fn network_is_persistent(&self, net: &NetworkRef) -> Result<bool> {
        let st = self.lock();
        let i = st.objects.networks.by_uuid(&net.uuid)?;
        Ok(st.objects.networks.objs[i].persistent)
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
            .filter(|p| matches_list_flags(flags, p.active, p.persistent, p.autostart))
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
