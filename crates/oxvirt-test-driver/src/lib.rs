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

mod base;
mod caps;
mod checkpoints;
mod domains;
mod guest;
mod hostdev;
mod hostobjs;
mod metadata;
mod moments;
mod node;
mod objects;
mod saveimage;
mod schema;
mod snapshots;
mod state;
mod stats;
mod tunables;
mod tune;

use std::sync::{Arc, Mutex, Weak};

use oxvirt_core::error::from;
use oxvirt_core::event::{DomainEventCallback, EventHub, NetworkEventCallback, PoolEventCallback};
use oxvirt_core::types::*;
use oxvirt_core::uri::Uri;
use oxvirt_core::{
    Connection, Error, HypervisorDriver, InterfaceDriver, NetworkDriver, NodeDeviceDriver,
    NwFilterDriver, Result, SecretDriver, StorageDriver,
};

use state::Driver;

/// The image libvirt's test driver returns for every screenshot: the PNG
/// installed in libvirt's data directory (PKGDATADIR).
const SCREENSHOT: &str = "/usr/share/libvirt/test-screenshot.png";

/// The shared instance behind `test:///default`, alive while a connection
/// holds it.
static DEFAULT: Mutex<Weak<Driver>> = Mutex::new(Weak::new());

/// Opens a connection to the test driver named by `uri`
/// (`test:///default` or `test:///ABS/PATH/node.xml`); `flags` are
/// virConnectFlags (1 = read-only).
pub fn open(uri: &Uri, flags: u32) -> Result<Arc<Connection>> {
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
    let conn = Arc::new(TestConnection {
        driver,
        callbacks: Mutex::new(Vec::new()),
    });
    Ok(Connection::builder(format!("test://{}", path), flags)
        .all(conn)
        .quick(true)
        .build())
}

/// One client's connection to a driver instance: it fills every family
/// slot of its [`Connection`], as libvirt's test driver registers itself
/// for every driver table.
pub struct TestConnection {
    driver: Arc<Driver>,
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
    fn events(&self) -> &EventHub {
        &self.driver.events
    }

    /// Keeps a callback id so that it is dropped with the connection.
    fn remember_callback(&self, id: i32) {
        self.callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(id);
    }
}

impl HypervisorDriver for TestConnection {
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
        Ok(self
            .driver
            .caps
            .get_or_init(|| node::capabilities(&self.driver.lock()))
            .clone())
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
    fn node_cpu_stats(&self, _cpu: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        domains::check_flags(flags, 0, "testNodeGetCPUStats")?;
        Ok(vec![
            ("user".into(), 9797400000),
            ("kernel".into(), 34678723400000),
            ("idle".into(), 87264900000),
            ("iowait".into(), 763600000),
        ])
    }
    fn node_free_pages(
        &self,
        pages: &[u32],
        _start_cell: i32,
        cell_count: u32,
        flags: u32,
    ) -> Result<Vec<u64>> {
        domains::check_flags(flags, 0, "testNodeGetFreePages")?;
        let mut x: u64 = 6;
        let mut out = Vec::new();
        for _ in 0..cell_count {
            for _ in pages {
                x = x * 2 + 7;
                out.push(x);
            }
        }
        Ok(out)
    }
    fn cpu_model_names(&self, arch: &str, flags: u32) -> Result<Vec<String>> {
        domains::check_flags(flags, 0, "testConnectGetCPUModelNames")?;
        node::cpu_model_names(arch)
    }
    fn baseline_cpu(&self, cpus: &[String], flags: u32) -> Result<String> {
        domains::check_flags(flags, 1, "testConnectBaselineCPU")?;
        node::baseline_cpu(cpus, flags)
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
        self.driver.define_xml(xml, flags)
    }
    fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        self.driver.create_xml(xml, flags)
    }
    fn domain_undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.driver.undefine(dom, flags)
    }
    fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        self.driver.create(dom, flags)
    }
    fn domain_destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.driver.destroy(dom, flags)
    }
    fn domain_shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.driver.shutdown(dom, flags)
    }
    fn domain_reboot(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.driver.reboot(dom, flags)
    }
    fn domain_reset(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.driver.reset(dom, flags)
    }
    fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        self.driver.suspend(dom)
    }
    fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        self.driver.resume(dom)
    }
    fn domain_screenshot(
        &self,
        _dom: &DomainRef,
        _screen: u32,
        flags: u32,
    ) -> Result<(String, Box<dyn oxvirt_core::Stream>)> {
        domains::check_flags(flags, 0, "testDomainScreenshot")?;
        // As libvirt's test driver: the PNG shipped in libvirt's data
        // directory, whatever the domain and screen.
        let s = oxvirt_core::FileStream::open_read(SCREENSHOT, 0, 0)?;
        Ok(("image/png".into(), Box::new(s)))
    }
    fn domain_inject_nmi(&self, dom: &DomainRef, flags: u32) -> Result<()> {
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
        domains::check_flags(flags, 0, "testDomainSendKey")?;
        self.driver.require_active(dom)
    }
    fn domain_save(&self, dom: &DomainRef, to: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        self.driver.save(dom, &absolute(to), dxml, flags)
    }
    fn domain_restore(&self, from: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        self.driver.restore(&absolute(from), dxml, flags)
    }
    fn domain_save_image_get_xml_desc(&self, file: &str, flags: u32) -> Result<String> {
        self.driver.save_image_get_xml_desc(&absolute(file), flags)
    }
    fn domain_save_image_define_xml(&self, file: &str, dxml: &str, flags: u32) -> Result<()> {
        self.driver
            .save_image_define_xml(&absolute(file), dxml, flags)
    }
    fn domain_core_dump(&self, dom: &DomainRef, to: &str, format: u32, flags: u32) -> Result<()> {
        self.driver.core_dump(dom, &absolute(to), format, flags)
    }
    fn domain_managed_save(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.driver.managed_save(dom, flags)
    }
    fn domain_has_managed_save(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        self.driver.has_managed_save(dom, flags)
    }
    fn domain_managed_save_remove(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.driver.managed_save_remove(dom, flags)
    }
    fn domain_rename(&self, dom: &DomainRef, new_name: &str, flags: u32) -> Result<()> {
        self.driver.rename(dom, new_name, flags)
    }

    fn domain_get_xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
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
        self.driver
            .set_metadata(dom, kind, metadata, key, uri, flags)
    }
    fn domain_get_vcpus(
        &self,
        dom: &DomainRef,
        maxinfo: i32,
        maplen: i32,
    ) -> Result<(Vec<VcpuInfo>, Vec<u8>)> {
        self.driver.get_vcpus(dom, maxinfo, maplen)
    }
    fn domain_pin_vcpu(&self, dom: &DomainRef, vcpu: u32, cpumap: &[u8], flags: u32) -> Result<()> {
        self.driver.pin_vcpu(dom, vcpu, cpumap, flags)
    }
    fn domain_get_vcpu_pin_info(
        &self,
        dom: &DomainRef,
        ncpumaps: i32,
        maplen: i32,
        flags: u32,
    ) -> Result<(Vec<u8>, i32)> {
        self.driver.vcpu_pin_info(dom, ncpumaps, maplen, flags)
    }
    fn domain_pin_emulator(&self, dom: &DomainRef, cpumap: &[u8], flags: u32) -> Result<()> {
        self.driver.pin_emulator(dom, cpumap, flags)
    }
    fn domain_get_emulator_pin_info(
        &self,
        dom: &DomainRef,
        maplen: i32,
        flags: u32,
    ) -> Result<(Vec<u8>, i32)> {
        self.driver.emulator_pin_info(dom, maplen, flags)
    }
    fn domain_get_cpu_stats(
        &self,
        dom: &DomainRef,
        start_cpu: i32,
        ncpus: u32,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<Vec<TypedParam>>> {
        self.driver.cpu_stats(dom, start_cpu, ncpus, nparams, flags)
    }
    fn domain_get_control_info(&self, dom: &DomainRef, flags: u32) -> Result<ControlInfo> {
        self.driver.control_info(dom, flags)
    }
    fn domain_get_iothread_info(&self, dom: &DomainRef, flags: u32) -> Result<Vec<IoThreadInfo>> {
        self.driver.iothread_info(dom, flags)
    }
    fn domain_add_iothread(&self, dom: &DomainRef, id: u32, flags: u32) -> Result<()> {
        self.driver.add_iothread(dom, id, flags)
    }
    fn domain_del_iothread(&self, dom: &DomainRef, id: u32, flags: u32) -> Result<()> {
        self.driver.del_iothread(dom, id, flags)
    }
    fn domain_pin_iothread(
        &self,
        dom: &DomainRef,
        id: u32,
        cpumap: &[u8],
        flags: u32,
    ) -> Result<()> {
        self.driver.pin_iothread(dom, id, cpumap, flags)
    }
    fn domain_set_iothread_params(
        &self,
        dom: &DomainRef,
        id: u32,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.driver.set_iothread_params(dom, id, params, flags)
    }
    fn domain_get_blkio_parameters(
        &self,
        dom: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.driver.get_blkio(dom, nparams, flags)
    }
    fn domain_set_blkio_parameters(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.driver.set_blkio(dom, params, flags)
    }
    // libvirt's test driver has no device hotplug: "not supported" under
    // the API's name (the plain APIs' too, not the Flags ones').
    fn domain_attach_device_plain(&self, _dom: &DomainRef, _xml: &str) -> Result<()> {
        Err(Error::no_support("virDomainAttachDevice"))
    }
    fn domain_detach_device_plain(&self, _dom: &DomainRef, _xml: &str) -> Result<()> {
        Err(Error::no_support("virDomainDetachDevice"))
    }
    fn domain_get_memory_parameters(
        &self,
        dom: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.driver.get_memory_params(dom, nparams, flags)
    }
    fn domain_set_memory_parameters(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.driver.set_memory_params(dom, params, flags)
    }
    fn domain_get_numa_parameters(
        &self,
        dom: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.driver.get_numa_params(dom, nparams, flags)
    }
    fn domain_set_numa_parameters(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.driver.set_numa_params(dom, params, flags)
    }
    fn domain_get_perf_events(&self, dom: &DomainRef, flags: u32) -> Result<Vec<TypedParam>> {
        self.driver.get_perf_events(dom, flags)
    }
    fn domain_set_perf_events(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.driver.set_perf_events(dom, params, flags)
    }
    fn domain_get_block_io_tune(
        &self,
        dom: &DomainRef,
        disk: Option<&str>,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.driver.get_block_io_tune(dom, disk, nparams, flags)
    }
    fn domain_set_block_io_tune(
        &self,
        dom: &DomainRef,
        disk: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.driver.set_block_io_tune(dom, disk, params, flags)
    }
    fn domain_get_interface_parameters(
        &self,
        dom: &DomainRef,
        device: &str,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.driver
            .get_interface_params(dom, device, nparams, flags)
    }
    fn domain_set_interface_parameters(
        &self,
        dom: &DomainRef,
        device: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.driver.set_interface_params(dom, device, params, flags)
    }
    fn domain_set_lifecycle_action(
        &self,
        dom: &DomainRef,
        kind: u32,
        action: u32,
        flags: u32,
    ) -> Result<()> {
        self.driver.set_lifecycle_action(dom, kind, action, flags)
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
    fn domain_set_time(
        &self,
        dom: &DomainRef,
        seconds: i64,
        nseconds: u32,
        flags: u32,
    ) -> Result<()> {
        self.driver.set_time(dom, seconds, nseconds, flags)
    }
    fn domain_set_user_password(
        &self,
        dom: &DomainRef,
        _user: &str,
        _password: &str,
        flags: u32,
    ) -> Result<()> {
        self.driver.set_user_password(dom, flags)
    }
    fn domain_fs_freeze(&self, dom: &DomainRef, mountpoints: &[String], flags: u32) -> Result<i32> {
        self.driver.fs_freeze_thaw(dom, mountpoints, flags, true)
    }
    fn domain_fs_thaw(&self, dom: &DomainRef, mountpoints: &[String], flags: u32) -> Result<i32> {
        self.driver.fs_freeze_thaw(dom, mountpoints, flags, false)
    }
    fn domain_fs_trim(
        &self,
        dom: &DomainRef,
        mountpoint: Option<&str>,
        _minimum: u64,
        flags: u32,
    ) -> Result<()> {
        self.driver.fs_trim(dom, mountpoint, flags)
    }
    fn domain_get_fs_info(&self, dom: &DomainRef, flags: u32) -> Result<Vec<FsInfo>> {
        self.driver.fs_info(dom, flags)
    }
    fn domain_get_disk_errors(&self, dom: &DomainRef, flags: u32) -> Result<Vec<(String, i32)>> {
        self.driver.disk_errors(dom, flags)
    }
    fn domain_interface_addresses(
        &self,
        dom: &DomainRef,
        source: u32,
        flags: u32,
    ) -> Result<Vec<GuestInterface>> {
        self.driver.interface_addresses(dom, source, flags)
    }
    fn domain_send_process_signal(
        &self,
        dom: &DomainRef,
        pid: i64,
        signum: u32,
        flags: u32,
    ) -> Result<()> {
        self.driver.send_process_signal(dom, pid, signum, flags)
    }
    fn domain_get_launch_security_info(
        &self,
        _dom: &DomainRef,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.driver.launch_security_info(flags)
    }
    fn domain_set_memory_stats_period(
        &self,
        dom: &DomainRef,
        period: i32,
        flags: u32,
    ) -> Result<()> {
        self.driver.set_memory_stats_period(dom, period, flags)
    }
    fn domain_set_memory(&self, dom: &DomainRef, kib: u64, flags: u32) -> Result<()> {
        self.driver.set_memory(dom, kib, flags)
    }
    fn domain_set_vcpus(&self, dom: &DomainRef, n: u32, flags: u32) -> Result<()> {
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
        self.driver.snapshot_create_xml(dom, xml, flags)
    }
    fn snapshot_get_xml_desc(&self, snap: &SnapshotRef, flags: u32) -> Result<String> {
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
        self.driver.snapshot_revert(snap, flags)
    }
    fn snapshot_delete(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        self.driver.snapshot_delete(snap, flags)
    }

    fn checkpoint_create_xml(
        &self,
        dom: &DomainRef,
        xml: &str,
        flags: u32,
    ) -> Result<CheckpointRef> {
        self.driver.checkpoint_create_xml(dom, xml, flags)
    }
    fn checkpoint_get_xml_desc(&self, cp: &CheckpointRef, flags: u32) -> Result<String> {
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
        self.driver.checkpoint_delete(cp, flags)
    }

    fn domain_event_register(
        &self,
        dom: Option<&DomainRef>,
        event_id: i32,
        cb: DomainEventCallback,
    ) -> Result<i32> {
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

impl InterfaceDriver for TestConnection {
    fn list_all_interfaces(&self, flags: u32) -> Result<Vec<InterfaceRef>> {
        self.driver.list_interfaces(flags)
    }
    fn lookup_interface_by_name(&self, name: &str) -> Result<InterfaceRef> {
        self.driver.interface_by_name(name)
    }
    fn lookup_interface_by_mac(&self, mac: &str) -> Result<InterfaceRef> {
        self.driver.interface_by_mac(mac)
    }
    fn interface_get_xml_desc(&self, iface: &InterfaceRef, flags: u32) -> Result<String> {
        self.driver.interface_xml(iface, flags)
    }
    fn interface_define_xml(&self, xml: &str, flags: u32) -> Result<InterfaceRef> {
        self.driver.interface_define(xml, flags)
    }
    fn interface_undefine(&self, iface: &InterfaceRef) -> Result<()> {
        self.driver.interface_undefine(iface)
    }
    fn interface_create(&self, iface: &InterfaceRef, flags: u32) -> Result<()> {
        self.driver.interface_create(iface, flags)
    }
    fn interface_destroy(&self, iface: &InterfaceRef, flags: u32) -> Result<()> {
        self.driver.interface_destroy(iface, flags)
    }
    fn interface_is_active(&self, iface: &InterfaceRef) -> Result<bool> {
        self.driver.interface_is_active(iface)
    }
    fn interface_change_begin(&self, flags: u32) -> Result<()> {
        self.driver.iface_change_begin(flags)
    }
    fn interface_change_commit(&self, flags: u32) -> Result<()> {
        self.driver.iface_change_commit(flags)
    }
    fn interface_change_rollback(&self, flags: u32) -> Result<()> {
        self.driver.iface_change_rollback(flags)
    }
}

impl NodeDeviceDriver for TestConnection {
    fn node_device_create_xml(&self, xml: &str, flags: u32) -> Result<NodeDevRef> {
        self.driver.nodedev_create(xml, flags)
    }
    fn node_device_destroy(&self, dev: &NodeDevRef) -> Result<()> {
        self.driver.nodedev_destroy(dev)
    }
    fn list_all_node_devices(&self, flags: u32) -> Result<Vec<NodeDevRef>> {
        self.driver.list_nodedevs(flags)
    }
    fn lookup_node_device_by_name(&self, name: &str) -> Result<NodeDevRef> {
        self.driver.nodedev_by_name(name)
    }
    fn node_device_get_xml_desc(&self, dev: &NodeDevRef, flags: u32) -> Result<String> {
        self.driver.nodedev_xml(dev, flags)
    }
    fn node_device_get_parent(&self, dev: &NodeDevRef) -> Result<Option<String>> {
        self.driver.nodedev_parent(dev)
    }
    fn node_device_list_caps(&self, dev: &NodeDevRef) -> Result<Vec<String>> {
        self.driver.nodedev_caps(dev)
    }
    fn node_device_event_register(
        &self,
        dev: Option<&NodeDevRef>,
        event_id: i32,
        cb: oxvirt_core::driver::NodeDevEventCallback,
    ) -> Result<i32> {
        let id = self.events().register_node_device(dev, event_id, cb);
        self.remember_callback(id);
        Ok(id)
    }
    fn node_device_event_deregister(&self, callback_id: i32) -> Result<()> {
        self.domain_event_deregister(callback_id)
    }
}

impl NetworkDriver for TestConnection {
    // ---- networks, storage pools and volumes (objects.rs) -------------
    fn network_event_register(
        &self,
        net: Option<&NetworkRef>,
        event_id: i32,
        cb: NetworkEventCallback,
    ) -> Result<i32> {
        let id = self.events().register_network(net, event_id, cb);
        self.remember_callback(id);
        Ok(id)
    }
    fn network_event_deregister(&self, callback_id: i32) -> Result<()> {
        self.domain_event_deregister(callback_id)
    }
    fn list_all_networks(&self, flags: u32) -> Result<Vec<NetworkRef>> {
        self.driver.list_all_networks(flags)
    }
    fn lookup_network_by_name(&self, name: &str) -> Result<NetworkRef> {
        self.driver.lookup_network_by_name(name)
    }
    fn lookup_network_by_uuid(&self, uuid: &Uuid) -> Result<NetworkRef> {
        self.driver.lookup_network_by_uuid(uuid)
    }
    fn network_define_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        self.driver.network_define_xml(xml, flags)
    }
    fn network_create_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        self.driver.network_create_xml(xml, flags)
    }
    fn network_undefine(&self, net: &NetworkRef) -> Result<()> {
        self.driver.network_undefine(net)
    }
    fn network_create(&self, net: &NetworkRef) -> Result<()> {
        self.driver.network_create(net)
    }
    fn network_destroy(&self, net: &NetworkRef) -> Result<()> {
        self.driver.network_destroy(net)
    }
    fn network_get_xml_desc(&self, net: &NetworkRef, flags: u32) -> Result<String> {
        self.driver.network_get_xml_desc(net, flags)
    }
    fn network_get_bridge_name(&self, net: &NetworkRef) -> Result<String> {
        self.driver.network_get_bridge_name(net)
    }
    fn network_get_autostart(&self, net: &NetworkRef) -> Result<bool> {
        self.driver.network_get_autostart(net)
    }
    fn network_set_autostart(&self, net: &NetworkRef, autostart: bool) -> Result<()> {
        self.driver.network_set_autostart(net, autostart)
    }
    fn network_is_active(&self, net: &NetworkRef) -> Result<bool> {
        self.driver.network_is_active(net)
    }
    fn network_is_persistent(&self, net: &NetworkRef) -> Result<bool> {
        self.driver.network_is_persistent(net)
    }
    fn network_update(
        &self,
        net: &NetworkRef,
        command: u32,
        section: u32,
        parent_index: i32,
        xml: &str,
        flags: u32,
    ) -> Result<()> {
        self.driver
            .network_update(net, command, section, parent_index, xml, flags)
    }
}

impl SecretDriver for TestConnection {}
impl NwFilterDriver for TestConnection {}

impl StorageDriver for TestConnection {
    fn pool_event_register(
        &self,
        pool: Option<&PoolRef>,
        event_id: i32,
        cb: PoolEventCallback,
    ) -> Result<i32> {
        let id = self.events().register_pool(pool, event_id, cb);
        self.remember_callback(id);
        Ok(id)
    }
    fn pool_event_deregister(&self, callback_id: i32) -> Result<()> {
        self.domain_event_deregister(callback_id)
    }
    fn find_storage_pool_sources(
        &self,
        kind: &str,
        src_spec: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        domains::check_flags(flags, 0, "testConnectFindStoragePoolSources")?;
        node::find_pool_sources(kind, src_spec)
    }
    fn list_all_storage_pools(&self, flags: u32) -> Result<Vec<PoolRef>> {
        self.driver.list_all_pools(flags)
    }
    fn lookup_pool_by_name(&self, name: &str) -> Result<PoolRef> {
        self.driver.lookup_pool_by_name(name)
    }
    fn lookup_pool_by_uuid(&self, uuid: &Uuid) -> Result<PoolRef> {
        self.driver.lookup_pool_by_uuid(uuid)
    }
    fn lookup_pool_by_volume(&self, vol: &VolRef) -> Result<PoolRef> {
        self.driver.lookup_pool_by_volume(vol)
    }
    fn pool_define_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        self.driver.pool_define_xml(xml, flags)
    }
    fn pool_create_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        self.driver.pool_create_xml(xml, flags)
    }
    fn pool_build(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        self.driver.pool_build(pool, flags)
    }
    fn pool_create(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        self.driver.pool_create(pool, flags)
    }
    fn pool_destroy(&self, pool: &PoolRef) -> Result<()> {
        self.driver.pool_destroy(pool)
    }
    fn pool_delete(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        self.driver.pool_delete(pool, flags)
    }
    fn pool_undefine(&self, pool: &PoolRef) -> Result<()> {
        self.driver.pool_undefine(pool)
    }
    fn pool_refresh(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        self.driver.pool_refresh(pool, flags)
    }
    fn pool_get_info(&self, pool: &PoolRef) -> Result<PoolInfo> {
        self.driver.pool_get_info(pool)
    }
    fn pool_get_xml_desc(&self, pool: &PoolRef, flags: u32) -> Result<String> {
        self.driver.pool_get_xml_desc(pool, flags)
    }
    fn pool_get_autostart(&self, pool: &PoolRef) -> Result<bool> {
        self.driver.pool_get_autostart(pool)
    }
    fn pool_set_autostart(&self, pool: &PoolRef, autostart: bool) -> Result<()> {
        self.driver.pool_set_autostart(pool, autostart)
    }
    fn pool_is_active(&self, pool: &PoolRef) -> Result<bool> {
        self.driver.pool_is_active(pool)
    }
    fn pool_is_persistent(&self, pool: &PoolRef) -> Result<bool> {
        self.driver.pool_is_persistent(pool)
    }
    fn pool_list_all_volumes(&self, pool: &PoolRef, flags: u32) -> Result<Vec<VolRef>> {
        self.driver.pool_list_all_volumes(pool, flags)
    }
    fn pool_num_of_volumes(&self, pool: &PoolRef) -> Result<i32> {
        self.driver.pool_num_of_volumes(pool)
    }
    fn vol_create_xml(&self, pool: &PoolRef, xml: &str, flags: u32) -> Result<VolRef> {
        self.driver.vol_create_xml(pool, xml, flags)
    }
    fn vol_create_xml_from(
        &self,
        pool: &PoolRef,
        xml: &str,
        clone: &VolRef,
        flags: u32,
    ) -> Result<VolRef> {
        self.driver.vol_create_xml_from(pool, xml, clone, flags)
    }
    fn lookup_vol_by_name(&self, pool: &PoolRef, name: &str) -> Result<VolRef> {
        self.driver.lookup_vol_by_name(pool, name)
    }
    fn lookup_vol_by_key(&self, key: &str) -> Result<VolRef> {
        self.driver.lookup_vol_by_key(key)
    }
    fn lookup_vol_by_path(&self, path: &str) -> Result<VolRef> {
        self.driver.lookup_vol_by_path(path)
    }
    fn vol_delete(&self, vol: &VolRef, flags: u32) -> Result<()> {
        self.driver.vol_delete(vol, flags)
    }
    fn vol_get_info(&self, vol: &VolRef, _flags: u32) -> Result<VolInfo> {
        self.driver.vol_get_info(vol)
    }
    fn vol_get_xml_desc(&self, vol: &VolRef, flags: u32) -> Result<String> {
        self.driver.vol_get_xml_desc(vol, flags)
    }
    fn vol_get_path(&self, vol: &VolRef) -> Result<String> {
        self.driver.vol_get_path(vol)
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
