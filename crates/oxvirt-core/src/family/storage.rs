//! The storage family (libvirt's `virStorageDriver`): pools, volumes and
//! pool events.

use super::legacy;
use crate::driver::Stream;
use crate::event::PoolEventCallback;
use crate::types::flags::*;
use crate::types::*;

crate::family! {
    /// A storage driver: libvirt's `virStorageDriver`.
    trait StorageDriver, slot storage, family Storage, from STORAGE;
    extra {}

    // ---- events -------------------------------------------------------
    fn pool_event_register(pool: Option<&PoolRef>, event_id: i32, cb: PoolEventCallback) -> i32
        = "virConnectStoragePoolEventRegisterAny", read, registers(Pool),
        check(c) {
            c.nonneg(event_id, "eventID")?;
            if event_id >= 2 {
                return Err(c.invalid_raw(format!("eventID in {} must be less than 2", c.api)));
            }
        };
    fn pool_event_deregister(callback_id: i32) -> ()
        = "virConnectStoragePoolEventDeregisterAny", read, deregisters(Pool, callback_id),
        check(c) {
            c.nonneg(callback_id, "callbackID")?;
        };

    // ---- storage pools --------------------------------------------------
    fn list_all_storage_pools(flags: u32) -> Vec<PoolRef>
        = "virConnectListAllStoragePools", read;

    // ---- the lists before ListAll (crate::family::legacy) -----
    fn num_of_storage_pools() -> i32
        = "virConnectNumOfStoragePools", read,
        default(s) {
            let all = s.list_all_storage_pools(list_objects::ACTIVE);
            legacy::count("virConnectNumOfStoragePools", all)
        };
    fn list_storage_pools(maxnames: i32) -> Vec<String>
        = "virConnectListStoragePools", read,
        check(c) {
            c.nonneg(maxnames, "maxnames")?;
        },
        default(s) {
            let all = s.list_all_storage_pools(list_objects::ACTIVE);
            legacy::first("virConnectListStoragePools", all, maxnames, |x| x.name)
        };
    fn num_of_defined_storage_pools() -> i32
        = "virConnectNumOfDefinedStoragePools", read,
        default(s) {
            let all = s.list_all_storage_pools(list_objects::INACTIVE);
            legacy::count("virConnectNumOfDefinedStoragePools", all)
        };
    fn list_defined_storage_pools(maxnames: i32) -> Vec<String>
        = "virConnectListDefinedStoragePools", read,
        check(c) {
            c.nonneg(maxnames, "maxnames")?;
        },
        default(s) {
            let all = s.list_all_storage_pools(list_objects::INACTIVE);
            legacy::first("virConnectListDefinedStoragePools", all, maxnames, |x| x.name)
        };
    fn lookup_pool_by_name(name: &str) -> PoolRef
        = "virStoragePoolLookupByName", read;
    fn lookup_pool_by_uuid(uuid: &Uuid) -> PoolRef
        = "virStoragePoolLookupByUUID", read;
    fn lookup_pool_by_volume(vol: &VolRef) -> PoolRef
        = "virStoragePoolLookupByVolume", read;
    fn find_storage_pool_sources(kind: &str, src_spec: Option<&str>, flags: u32) -> String
        = "virConnectFindStoragePoolSources", write;
    fn storage_pool_capabilities(flags: u32) -> String
        = "virConnectGetStoragePoolCapabilities", read;
    fn pool_define_xml(xml: &str, flags: u32) -> PoolRef
        = "virStoragePoolDefineXML", write;
    fn pool_create_xml(xml: &str, flags: u32) -> PoolRef
        = "virStoragePoolCreateXML", write;
    fn pool_build(pool: &PoolRef, flags: u32) -> ()
        = "virStoragePoolBuild", write;
    fn pool_create(pool: &PoolRef, flags: u32) -> ()
        = "virStoragePoolCreate", write;
    fn pool_destroy(pool: &PoolRef) -> ()
        = "virStoragePoolDestroy", write;
    fn pool_delete(pool: &PoolRef, flags: u32) -> ()
        = "virStoragePoolDelete", write;
    fn pool_undefine(pool: &PoolRef) -> ()
        = "virStoragePoolUndefine", write;
    fn pool_refresh(pool: &PoolRef, flags: u32) -> ()
        = "virStoragePoolRefresh", write;
    fn pool_get_info(pool: &PoolRef) -> PoolInfo
        = "virStoragePoolGetInfo", read;
    fn pool_get_xml_desc(pool: &PoolRef, flags: u32) -> String
        = "virStoragePoolGetXMLDesc", read;
    fn pool_get_autostart(pool: &PoolRef) -> bool
        = "virStoragePoolGetAutostart", read;
    fn pool_set_autostart(pool: &PoolRef, autostart: bool) -> ()
        = "virStoragePoolSetAutostart", write;
    fn pool_is_active(pool: &PoolRef) -> bool
        = "virStoragePoolIsActive", read;
    fn pool_is_persistent(pool: &PoolRef) -> bool
        = "virStoragePoolIsPersistent", read;
    fn pool_list_all_volumes(pool: &PoolRef, flags: u32) -> Vec<VolRef>
        = "virStoragePoolListAllVolumes", read;
    fn pool_num_of_volumes(pool: &PoolRef) -> i32
        = "virStoragePoolNumOfVolumes", read;
    fn pool_list_volumes(pool: &PoolRef, maxnames: i32) -> Vec<String>
        = "virStoragePoolListVolumes", read,
        check(c) {
            c.nonneg(maxnames, "maxnames")?;
        },
        default(s) {
            let all = s.pool_list_all_volumes(pool, 0);
            legacy::first("virStoragePoolListVolumes", all, maxnames, |v| v.name)
        };

    // ---- storage volumes ----------------------------------------------
    fn vol_create_xml(pool: &PoolRef, xml: &str, flags: u32) -> VolRef
        = "virStorageVolCreateXML", write;
    fn vol_create_xml_from(pool: &PoolRef, xml: &str, clone: &VolRef, flags: u32) -> VolRef
        = "virStorageVolCreateXMLFrom", write;
    fn lookup_vol_by_name(pool: &PoolRef, name: &str) -> VolRef
        = "virStorageVolLookupByName", read;
    fn lookup_vol_by_key(key: &str) -> VolRef
        = "virStorageVolLookupByKey", read;
    fn lookup_vol_by_path(path: &str) -> VolRef
        = "virStorageVolLookupByPath", read;
    fn vol_delete(vol: &VolRef, flags: u32) -> ()
        = "virStorageVolDelete", write;
    fn vol_wipe(vol: &VolRef, algorithm: u32, flags: u32) -> ()
        = "virStorageVolWipePattern", write;
    fn vol_wipe_zero(vol: &VolRef, flags: u32) -> ()
        = "virStorageVolWipe", write;
    fn vol_get_info(vol: &VolRef, flags: u32) -> VolInfo
        = "virStorageVolGetInfo", read;
    fn vol_get_xml_desc(vol: &VolRef, flags: u32) -> String
        = "virStorageVolGetXMLDesc", read;
    fn vol_get_path(vol: &VolRef) -> String
        = "virStorageVolGetPath", read;
    fn vol_resize(vol: &VolRef, capacity: u64, flags: u32) -> ()
        = "virStorageVolResize", write,
        check(c) {
            if capacity == 0 && flags & (vol_resize::DELTA | vol_resize::SHRINK) == 0 {
                return Err(c.invalid_raw(format!(
                    "capacity in {} cannot be zero without 'delta' or 'shrink' flags set",
                    c.api
                )));
            }
        };
    fn vol_upload(vol: &VolRef, offset: u64, length: u64, flags: u32) -> Box<dyn Stream>
        = "virStorageVolUpload", write;
    fn vol_download(vol: &VolRef, offset: u64, length: u64, flags: u32) -> Box<dyn Stream>
        = "virStorageVolDownload", write;
}
