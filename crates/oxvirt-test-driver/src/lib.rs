//! The test driver: an in-memory hypervisor that behaves like libvirt's
//! `test:///default` (and `test:///PATH/node.xml` custom nodes).
//!
//! Invariants:
//! - it is deterministic: the same calls give the same results (apart
//!   from the clock-derived counters libvirt's test driver also has);
//! - it follows the same state machine and error rules as libvirt's test
//!   driver, message for message;
//! - `test:///default` state is shared by every open connection and
//!   reset when the last one closes; a node file gives each connection
//!   its own state.

mod caps;
mod checkpoints;
mod domains;
mod metadata;
mod moments;
mod node;
mod objects;
mod saveimage;
mod schema;
mod snapshots;
mod state;
mod stats;

use std::sync::{Arc, Mutex, Weak};

use oxvirt_core::error::{code, from};
use oxvirt_core::event::{DomainEventCallback, EventHub};
use oxvirt_core::types::*;
use oxvirt_core::uri::Uri;
use oxvirt_core::{Connection, Error, Result};

use state::Driver;

/// The shared instance behind `test:///default`, alive while a connection
/// holds it.
static DEFAULT: Mutex<Weak<Driver>> = Mutex::new(Weak::new());

/// Opens a connection to the test driver named by `uri`
/// (`test:///default` or `test:///ABS/PATH/node.xml`); `flags` are
/// virConnectFlags (1 = read-only).
pub fn open(uri: &Uri, flags: u32) -> Result<Arc<dyn Connection>> {
    let path = uri.path.as_str();
    if path.is_empty() || path == "/" {
        return Err(Error::invalid_arg(
            from::TEST,
            "testOpen: supply a path or use test:///default",
        ));
    }
    let driver = if path == "/default" {
        let mut slot = DEFAULT.lock().unwrap_or_else(|p| p.into_inner());
        match slot.upgrade() {
            Some(d) => d,
            None => {
                let d = Arc::new(node::open_default()?);
                *slot = Arc::downgrade(&d);
                d
            }
        }
    } else {
        Arc::new(node::open_file(path)?)
    };
    Ok(Arc::new(TestConnection {
        driver,
        uri: format!("test://{}", path),
        readonly: flags & flags::connect::RO != 0,
        callbacks: Mutex::new(Vec::new()),
    }))
}

/// One client's connection to a driver instance.
pub struct TestConnection {
    driver: Arc<Driver>,
    uri: String,
    readonly: bool,
    /// Event callbacks this connection registered (dropped with it).
    callbacks: Mutex<Vec<i32>>,
}

impl Drop for TestConnection {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut *self.callbacks.lock().unwrap_or_else(|p| p.into_inner()));
        for id in ids {
            self.driver.events.deregister(id);
        }
    }
}

impl TestConnection {
    /// libvirt's public-API read-only check.
    fn rw(&self, api: &str) -> Result<()> {
        if self.readonly {
            return Err(Error::new(
                code::OPERATION_DENIED,
                from::DOMAIN,
                format!("read only access prevents {}", api),
            ));
        }
        Ok(())
    }

    fn events(&self) -> &EventHub {
        &self.driver.events
    }
}

fn api_name(flags: u32, plain: &'static str, with_flags: &'static str) -> &'static str {
    if flags == 0 {
        plain
    } else {
        with_flags
    }
}

impl Connection for TestConnection {
    fn uri(&self) -> Result<String> {
        Ok(self.uri.clone())
    }
    fn get_type(&self) -> Result<String> {
        Ok("TEST".into())
    }
    fn get_version(&self) -> Result<u64> {
        Ok(2)
    }
    fn hostname(&self) -> Result<String> {
        node::hostname()
    }
    fn sysinfo(&self, flags: u32) -> Result<String> {
        domains::check_flags(flags, 0, "testConnectGetSysinfo")?;
        Ok(node::SYSINFO.into())
    }
    fn capabilities(&self) -> Result<String> {
        Ok(node::capabilities(&self.driver.lock()))
    }
    fn node_info(&self) -> Result<NodeInfo> {
        Ok(self.driver.lock().node.clone())
    }
    fn max_vcpus(&self, _kind: Option<&str>) -> Result<i32> {
        Ok(32)
    }
    fn cells_free_memory(&self, start: i32, max: i32) -> Result<Vec<u64>> {
        node::cells_free_memory(&self.driver.lock(), start, max)
    }
    fn free_memory(&self) -> Result<u64> {
        let st = self.driver.lock();
        Ok(st.cells.iter().map(|c| c.free_mem).sum())
    }
    fn node_cpu_map(&self, flags: u32) -> Result<(Vec<u8>, u32, i32)> {
        domains::check_flags(flags, 0, "testNodeGetCPUMap")?;
        Ok((vec![0x15], 3, 8))
    }
    fn security_model(&self) -> Result<SecurityModel> {
        Ok(SecurityModel {
            model: "testSecurity".into(),
            doi: String::new(),
        })
    }
    fn is_secure(&self) -> Result<bool> {
        Ok(true)
    }
    fn is_encrypted(&self) -> Result<bool> {
        Ok(false)
    }

    fn list_all_domains(&self, flags: u32) -> Result<Vec<DomainRef>> {
        self.driver.list_all_domains(flags)
    }
    fn lookup_domain_by_id(&self, id: i32) -> Result<DomainRef> {
        self.driver.lookup_by_id(id)
    }
    fn lookup_domain_by_name(&self, name: &str) -> Result<DomainRef> {
        self.driver.lookup_by_name(name)
    }
    fn lookup_domain_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.driver.lookup_by_uuid(uuid)
    }

    fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        self.rw(api_name(
            flags,
            "virDomainDefineXML",
            "virDomainDefineXMLFlags",
        ))?;
        self.driver.define_xml(xml, flags)
    }
    fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        self.rw("virDomainCreateXML")?;
        self.driver.create_xml(xml, flags)
    }
    fn domain_undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.rw(api_name(
            flags,
            "virDomainUndefine",
            "virDomainUndefineFlags",
        ))?;
        self.driver.undefine(dom, flags)
    }
    fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        self.rw(api_name(
            flags,
            "virDomainCreate",
            "virDomainCreateWithFlags",
        ))?;
        self.driver.create(dom, flags)
    }
    fn domain_destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.rw(api_name(flags, "virDomainDestroy", "virDomainDestroyFlags"))?;
        self.driver.destroy(dom, flags)
    }
    fn domain_shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.rw(api_name(
            flags,
            "virDomainShutdown",
            "virDomainShutdownFlags",
        ))?;
        self.driver.shutdown(dom, flags)
    }
    fn domain_reboot(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.rw("virDomainReboot")?;
        self.driver.reboot(dom, flags)
    }
    fn domain_reset(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.rw("virDomainReset")?;
        self.driver.reset(dom, flags)
    }
    fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        self.rw("virDomainSuspend")?;
        self.driver.suspend(dom)
    }
    fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        self.rw("virDomainResume")?;
        self.driver.resume(dom)
    }
    fn domain_inject_nmi(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.rw("virDomainInjectNMI")?;
        domains::check_flags(flags, 0, "testDomainInjectNMI")?;
        self.driver.require_active(dom)
    }
    fn domain_send_key(
        &self,
        dom: &DomainRef,
        _codeset: u32,
        _hold: u32,
        _keys: &[u32],
        flags: u32,
    ) -> Result<()> {
        self.rw("virDomainSendKey")?;
        domains::check_flags(flags, 0, "testDomainSendKey")?;
        self.driver.require_active(dom)
    }
    fn domain_save(&self, dom: &DomainRef, to: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        self.rw(api_name(flags, "virDomainSave", "virDomainSaveFlags"))?;
        self.driver.save(dom, &absolute(to), dxml, flags)
    }
    fn domain_restore(&self, from: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        self.rw(api_name(flags, "virDomainRestore", "virDomainRestoreFlags"))?;
        self.driver.restore(&absolute(from), dxml, flags)
    }
    fn domain_save_image_get_xml_desc(&self, file: &str, flags: u32) -> Result<String> {
        self.driver.save_image_get_xml_desc(&absolute(file), flags)
    }
    fn domain_save_image_define_xml(&self, file: &str, dxml: &str, flags: u32) -> Result<()> {
        self.rw("virDomainSaveImageDefineXML")?;
        self.driver
            .save_image_define_xml(&absolute(file), dxml, flags)
    }
    fn domain_core_dump(&self, dom: &DomainRef, to: &str, format: u32, flags: u32) -> Result<()> {
        self.rw("virDomainCoreDump")?;
        self.driver.core_dump(dom, &absolute(to), format, flags)
    }
    fn domain_managed_save(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.rw("virDomainManagedSave")?;
        self.driver.managed_save(dom, flags)
    }
    fn domain_has_managed_save(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        self.driver.has_managed_save(dom, flags)
    }
    fn domain_managed_save_remove(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.rw("virDomainManagedSaveRemove")?;
        self.driver.managed_save_remove(dom, flags)
    }
    fn domain_rename(&self, dom: &DomainRef, new_name: &str, flags: u32) -> Result<()> {
        self.rw("virDomainRename")?;
        self.driver.rename(dom, new_name, flags)
    }

    fn domain_get_xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        if flags & flags::domain_xml::SECURE != 0 && self.readonly {
            return Err(Error::new(
                code::OPERATION_DENIED,
                from::DOMAIN,
                "virDomainGetXMLDesc with secure flag",
            ));
        }
        self.driver.get_xml_desc(dom, flags)
    }
    fn domain_get_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        self.driver.get_info(dom)
    }
    fn domain_get_state(&self, dom: &DomainRef, flags: u32) -> Result<(i32, i32)> {
        self.driver.get_state(dom, flags)
    }
    fn domain_get_os_type(&self, dom: &DomainRef) -> Result<String> {
        self.driver
            .lookup_by_uuid(&dom.uuid)
            .map_err(|_| state::no_domain_uuid(dom))?;
        Ok("linux".into())
    }
    fn domain_get_max_memory(&self, dom: &DomainRef) -> Result<u64> {
        self.driver.get_max_memory(dom)
    }
    fn domain_get_autostart(&self, dom: &DomainRef) -> Result<bool> {
        self.driver.get_autostart(dom)
    }
    fn domain_set_autostart(&self, dom: &DomainRef, autostart: bool) -> Result<()> {
        self.rw("virDomainSetAutostart")?;
        self.driver.set_autostart(dom, autostart)
    }
    fn domain_is_active(&self, dom: &DomainRef) -> Result<bool> {
        self.driver.is_active(dom)
    }
    fn domain_is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        self.driver.is_persistent(dom)
    }
    fn domain_is_updated(&self, dom: &DomainRef) -> Result<bool> {
        self.driver.lookup_by_uuid(&dom.uuid)?;
        Ok(false)
    }
    fn domain_get_security_label(&self, dom: &DomainRef) -> Result<SecurityLabel> {
        self.driver.get_security_label(dom)
    }
    fn domain_get_metadata(
        &self,
        dom: &DomainRef,
        kind: i32,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        self.driver.get_metadata(dom, kind, uri, flags)
    }
    fn domain_set_metadata(
        &self,
        dom: &DomainRef,
        kind: i32,
        metadata: Option<&str>,
        key: Option<&str>,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        self.rw("virDomainSetMetadata")?;
        self.driver
            .set_metadata(dom, kind, metadata, key, uri, flags)
    }
    fn domain_get_messages(&self, dom: &DomainRef, flags: u32) -> Result<Vec<String>> {
        self.driver.get_messages(dom, flags)
    }
    fn domain_get_hostname(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        self.driver.get_hostname(dom, flags)
    }
    fn domain_get_time(&self, dom: &DomainRef, flags: u32) -> Result<(i64, u32)> {
        self.driver.get_time(dom, flags)
    }
    fn domain_set_memory(&self, dom: &DomainRef, kib: u64, flags: u32) -> Result<()> {
        self.rw("virDomainSetMemoryFlags")?;
        self.driver.set_memory(dom, kib, flags)
    }
    fn domain_set_vcpus(&self, dom: &DomainRef, n: u32, flags: u32) -> Result<()> {
        self.rw(api_name(
            flags,
            "virDomainSetVcpus",
            "virDomainSetVcpusFlags",
        ))?;
        self.driver.set_vcpus(dom, n, flags)
    }
    fn domain_get_vcpus_flags(&self, dom: &DomainRef, flags: u32) -> Result<i32> {
        self.driver.get_vcpus_flags(dom, flags)
    }
    fn domain_get_max_vcpus(&self, dom: &DomainRef) -> Result<i32> {
        self.driver
            .get_vcpus_flags(dom, flags::affect::LIVE | flags::vcpu::MAXIMUM)
    }

    fn domain_block_stats(&self, dom: &DomainRef, path: &str) -> Result<BlockStats> {
        self.driver.block_stats(dom, path)
    }
    fn domain_interface_stats(&self, dom: &DomainRef, device: &str) -> Result<InterfaceStats> {
        self.driver.interface_stats(dom, device)
    }
    fn domain_memory_stats(
        &self,
        dom: &DomainRef,
        nr_stats: u32,
        flags: u32,
    ) -> Result<Vec<MemoryStat>> {
        self.driver.memory_stats(dom, nr_stats, flags)
    }
    fn domain_get_block_info(&self, dom: &DomainRef, path: &str, flags: u32) -> Result<BlockInfo> {
        self.driver.block_info(dom, path, flags)
    }
    fn domain_get_scheduler_type(&self, dom: &DomainRef) -> Result<(String, i32)> {
        self.driver
            .lookup_by_uuid(&dom.uuid)
            .map_err(|_| state::no_domain_uuid(dom))?;
        Ok(("fair".into(), 1))
    }
    fn domain_get_scheduler_parameters(
        &self,
        dom: &DomainRef,
        _nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.driver.scheduler_parameters(dom, flags)
    }
    fn domain_set_scheduler_parameters(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.rw(api_name(
            flags,
            "virDomainSetSchedulerParameters",
            "virDomainSetSchedulerParametersFlags",
        ))?;
        self.driver.set_scheduler_parameters(dom, params, flags)
    }
    fn get_all_domain_stats(
        &self,
        doms: Option<&[DomainRef]>,
        stats: u32,
        flags: u32,
    ) -> Result<Vec<(DomainRef, Vec<TypedParam>)>> {
        self.driver.all_domain_stats(doms, stats, flags)
    }

    fn snapshot_create_xml(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<SnapshotRef> {
        self.rw("virDomainSnapshotCreateXML")?;
        self.driver.snapshot_create_xml(dom, xml, flags)
    }
    fn snapshot_get_xml_desc(&self, snap: &SnapshotRef, flags: u32) -> Result<String> {
        if flags & flags::snapshot_xml::SECURE != 0 && self.readonly {
            return Err(Error::new(
                code::OPERATION_DENIED,
                from::DOMAIN_SNAPSHOT,
                "virDomainSnapshotGetXMLDesc with secure flag",
            ));
        }
        self.driver.snapshot_get_xml_desc(snap, flags)
    }
    fn snapshot_num(&self, dom: &DomainRef, flags: u32) -> Result<i32> {
        self.driver.snapshot_num(dom, flags)
    }
    fn list_all_snapshots(&self, dom: &DomainRef, flags: u32) -> Result<Vec<SnapshotRef>> {
        self.driver.list_all_snapshots(dom, flags)
    }
    fn snapshot_list_all_children(
        &self,
        snap: &SnapshotRef,
        flags: u32,
    ) -> Result<Vec<SnapshotRef>> {
        self.driver.snapshot_list_all_children(snap, flags)
    }
    fn snapshot_num_children(&self, snap: &SnapshotRef, flags: u32) -> Result<i32> {
        self.driver.snapshot_num_children(snap, flags)
    }
    fn snapshot_lookup_by_name(
        &self,
        dom: &DomainRef,
        name: &str,
        flags: u32,
    ) -> Result<SnapshotRef> {
        self.driver.snapshot_lookup_by_name(dom, name, flags)
    }
    fn has_current_snapshot(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        self.driver.has_current_snapshot(dom, flags)
    }
    fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<SnapshotRef> {
        self.driver.snapshot_current(dom, flags)
    }
    fn snapshot_get_parent(&self, snap: &SnapshotRef, flags: u32) -> Result<SnapshotRef> {
        self.driver.snapshot_get_parent(snap, flags)
    }
    fn snapshot_is_current(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        self.driver.snapshot_is_current(snap, flags)
    }
    fn snapshot_has_metadata(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        self.driver.snapshot_has_metadata(snap, flags)
    }
    fn snapshot_revert(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        self.rw("virDomainRevertToSnapshot")?;
        self.driver.snapshot_revert(snap, flags)
    }
    fn snapshot_delete(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        self.rw("virDomainSnapshotDelete")?;
        self.driver.snapshot_delete(snap, flags)
    }

    fn checkpoint_create_xml(
        &self,
        dom: &DomainRef,
        xml: &str,
        flags: u32,
    ) -> Result<CheckpointRef> {
        self.rw("virDomainCheckpointCreateXML")?;
        self.driver.checkpoint_create_xml(dom, xml, flags)
    }
    fn checkpoint_get_xml_desc(&self, cp: &CheckpointRef, flags: u32) -> Result<String> {
        if flags & flags::checkpoint_xml::SECURE != 0 && self.readonly {
            return Err(Error::new(
                code::OPERATION_DENIED,
                from::DOMAIN_CHECKPOINT,
                "virDomainCheckpointGetXMLDesc with secure flag",
            ));
        }
        self.driver.checkpoint_get_xml_desc(cp, flags)
    }
    fn list_all_checkpoints(&self, dom: &DomainRef, flags: u32) -> Result<Vec<CheckpointRef>> {
        self.driver.list_all_checkpoints(dom, flags)
    }
    fn checkpoint_list_all_children(
        &self,
        cp: &CheckpointRef,
        flags: u32,
    ) -> Result<Vec<CheckpointRef>> {
        self.driver.checkpoint_list_all_children(cp, flags)
    }
    fn checkpoint_lookup_by_name(
        &self,
        dom: &DomainRef,
        name: &str,
        flags: u32,
    ) -> Result<CheckpointRef> {
        self.driver.checkpoint_lookup_by_name(dom, name, flags)
    }
    fn checkpoint_get_parent(&self, cp: &CheckpointRef, flags: u32) -> Result<CheckpointRef> {
        self.driver.checkpoint_get_parent(cp, flags)
    }
    fn checkpoint_delete(&self, cp: &CheckpointRef, flags: u32) -> Result<()> {
        self.rw("virDomainCheckpointDelete")?;
        self.driver.checkpoint_delete(cp, flags)
    }

    fn domain_event_register(
        &self,
        dom: Option<&DomainRef>,
        event_id: i32,
        cb: DomainEventCallback,
    ) -> Result<i32> {
        if !(0..oxvirt_core::event::DOMAIN_EVENT_ID_LAST).contains(&event_id) {
            return Err(Error::invalid_arg(
                from::DOMAIN,
                format!(
                    "eventID in virConnectDomainEventRegisterAny must be less than {}",
                    oxvirt_core::event::DOMAIN_EVENT_ID_LAST
                ),
            ));
        }
        let id = self.events().register_domain(dom, event_id, cb);
        self.callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(id);
        Ok(id)
    }
    fn domain_event_deregister(&self, callback_id: i32) -> Result<()> {
        let mut mine = self.callbacks.lock().unwrap_or_else(|p| p.into_inner());
        if !mine.contains(&callback_id) || !self.events().deregister(callback_id) {
            return Err(Error::invalid_arg(
                from::NONE,
                format!("callback ID {} not registered", callback_id),
            ));
        }
        mine.retain(|&i| i != callback_id);
        Ok(())
    }
}

/// libvirt's public API turns relative save/restore paths into absolute ones.
fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    match std::env::current_dir() {
        Ok(d) => d.join(path).to_string_lossy().into_owned(),
        Err(_) => path.to_string(),
    }
}
