//! The QEMU driver: `qemu:///system` (and `qemu:///session`, served the
//! same way) with domains that run as real QEMU processes.
//!
//! Invariants:
//! - this is the only crate that spawns QEMU;
//! - QEMU processes outlive the daemon: nothing here kills a guest when a
//!   connection, the driver or the daemon goes away (except a domain
//!   started with `--autodestroy` when its connection closes);
//! - every state change reaches clients as libvirt's lifecycle event and
//!   is written to the domain's run/ status file;
//! - reads never wait behind a domain's job.

pub mod adopt;
mod agent;
mod arch;
pub mod argv;
mod blockinfo;
mod blockjob;
pub mod caps;
pub mod command;
mod console;
mod cpuinfo;
pub mod define;
mod domains;
mod driver;
mod firmware;
mod guestapi;
pub mod host;
mod hostcpu;
mod hostproc;
mod hotplug;
mod jobdata;
mod jobs;
mod keycodes;
mod lifecycle;
mod migcookie;
mod migration;
mod migspeed;
mod monitor;
mod netif;
pub mod nic;
mod probe;
mod process;
pub mod saveimage;
mod scsihp;
mod snapext;
mod snapmeta;
mod snapshot;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use oxvirt_core::error::{check_flags, code, from};
use oxvirt_core::event::DomainEventCallback;
use oxvirt_core::host::HostServices;
use oxvirt_core::types::*;
use oxvirt_core::uri::Uri;
use oxvirt_core::{Error, HypervisorDriver, Result};

pub use driver::Driver;

/// Errors of this driver are attributed to libvirt's QEMU domain.
pub const FROM: i32 = from::QEMU;

/// One driver instance per root directory, for the life of the process
/// (its event threads watch QEMUs whether or not a client is connected).
static DRIVERS: Mutex<Vec<(PathBuf, Arc<Driver>)>> = Mutex::new(Vec::new());

/// The driver instance for `root`, created (and reconnected to its
/// running QEMUs, and its autostart domains started) on first use, with
/// the host-wide services of the daemon (ignored once it exists).
pub fn driver(root: &Path, services: &HostServices) -> Result<Arc<Driver>> {
    driver_opts(root, services, true)
}

/// `driver`, with the autostart of persistent domains on first open
/// left out when `autostart` is false (an adoption of a host whose
/// libvirtd already autostarted its guests this boot).
pub fn driver_opts(root: &Path, services: &HostServices, autostart: bool) -> Result<Arc<Driver>> {
    let mut all = DRIVERS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, d)) = all.iter().find(|(r, _)| r == root) {
        return Ok(d.clone());
    }
    let d = Driver::open(root.to_path_buf(), services.clone())?;
    // Status files loaded and running QEMUs re-attached in the
    // background: calls on a domain wait until it is back.
    d.reconnect_all();
    d.load_snapshots();
    all.push((root.to_path_buf(), d.clone()));
    drop(all);
    if autostart {
        d.autostart();
    }
    Ok(d)
}

/// The whole QEMU part of an adoption: stage under `root`, open the
/// driver (re-attaching the staged guests; autostart held back when
/// libvirt already autostarted this boot), commit.
pub fn adopt_libvirt(
    root: &Path,
    services: &HostServices,
    dirs: &adopt::LibvirtDirs,
) -> Result<adopt::Report> {
    let mut report = adopt::Report::default();
    let layout = store::Layout::new(root.to_path_buf());
    let staged = adopt::stage(&layout, dirs, &mut report)?;
    let autostart = !dirs.qemu_status().join("autostarted").exists();
    let drv = driver_opts(root, services, autostart)?;
    drv.adoption_commit(&staged, &mut report);
    Ok(report)
}

/// Opens `qemu:///system` or `qemu:///session` with state under `root`:
/// the hypervisor driver of a connection (the daemon adds the host-wide
/// storage, network, ... drivers to the other slots).
pub fn open(root: &Path, uri: &Uri, services: &HostServices) -> Result<Arc<dyn HypervisorDriver>> {
    let path = uri.path.as_str();
    if path != "/system" && path != "/session" {
        return Err(Error::new(
            code::INTERNAL_ERROR,
            FROM,
            format!("unexpected QEMU URI path '{}', try qemu:///system", path),
        ));
    }
    let driver = driver(root, services)?;
    Ok(Arc::new(QemuConnection {
        driver,
        callbacks: Mutex::new(Vec::new()),
        autodestroy: Mutex::new(Vec::new()),
        incoming: Mutex::new(Vec::new()),
    }))
}

/// One client's connection.
pub struct QemuConnection {
    driver: Arc<Driver>,
    callbacks: Mutex<Vec<i32>>,
    /// Domains this connection started with `--autodestroy`.
    autodestroy: Mutex<Vec<DomainRef>>,
    /// Incoming migrations this connection prepared: killed if it goes
    /// before their Finish.
    incoming: Mutex<Vec<DomainRef>>,
}

impl Drop for QemuConnection {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut *self.callbacks.lock().unwrap_or_else(|p| p.into_inner()));
        for id in ids {
            self.driver.events.deregister(id);
        }
        let doms = std::mem::take(&mut *self.autodestroy.lock().unwrap_or_else(|p| p.into_inner()));
        for d in doms {
            let _ = self.driver.destroy(&d, 0);
        }
        let doms = std::mem::take(&mut *self.incoming.lock().unwrap_or_else(|p| p.into_inner()));
        for d in doms {
            self.driver.migrate_prepare_abandoned(&d);
        }
    }
}

impl QemuConnection {
    fn remember_autodestroy(&self, h: &DomainRef, flags: u32) {
        if flags & flags::create::AUTODESTROY != 0 {
            self.autodestroy
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(h.clone());
        }
    }
}

impl HypervisorDriver for QemuConnection {
    fn get_type(&self) -> Result<String> {
        Ok("QEMU".into())
    }
    fn sysinfo(&self, flags: u32) -> Result<String> {
        driver::check_flags(flags, 0, "qemuConnectGetSysinfo")?;
        self.driver.sysinfo()
    }
    fn cpu_model_names(&self, arch: &str, flags: u32) -> Result<Vec<String>> {
        driver::check_flags(flags, 0, "qemuConnectGetCPUModelNames")?;
        oxvirt_core::cpumap::model_names(arch, FROM)
    }
    fn get_version(&self) -> Result<u64> {
        Ok(self.driver.qemu_version())
    }
    fn hostname(&self) -> Result<String> {
        Ok(hostproc::hostname())
    }
    fn is_secure(&self) -> Result<bool> {
        Ok(true)
    }
    fn node_info(&self) -> Result<NodeInfo> {
        oxvirt_host::Host::real().node_info("x86_64")
    }
    fn node_cpu_map(&self, flags: u32) -> Result<(Vec<u8>, u32, i32)> {
        check_flags(flags, 0, "virHostCPUGetMap", from::NONE)?;
        oxvirt_host::Host::real().cpu_map()
    }
    fn node_cpu_stats(&self, cpu: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        check_flags(flags, 0, "virHostCPUGetStats", from::NONE)?;
        oxvirt_host::Host::real().cpu_stats(cpu)
    }
    fn node_memory_stats(&self, cell: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        check_flags(flags, 0, "virHostMemGetStats", from::NONE)?;
        oxvirt_host::Host::real().memory_stats(cell)
    }
    fn cells_free_memory(&self, start: i32, max: i32) -> Result<Vec<u64>> {
        oxvirt_host::Host::real().cells_free_memory(start, max)
    }
    fn free_memory(&self) -> Result<u64> {
        // libvirt answers 0 when it cannot tell.
        Ok(oxvirt_host::Host::real().free_memory().unwrap_or(0))
    }
    fn node_free_pages(
        &self,
        pages: &[u32],
        start_cell: i32,
        cell_count: u32,
        flags: u32,
    ) -> Result<Vec<u64>> {
        check_flags(flags, 0, "qemuNodeGetFreePages", FROM)?;
        oxvirt_host::Host::real().free_pages(pages, start_cell, cell_count)
    }
    fn node_alloc_pages(
        &self,
        pages: &[u32],
        counts: &[u64],
        start_cell: i32,
        cell_count: u32,
        flags: u32,
    ) -> Result<i32> {
        check_flags(
            flags,
            oxvirt_host::node::ALLOC_PAGES_SET,
            "qemuNodeAllocPages",
            FROM,
        )?;
        oxvirt_host::Host::real().alloc_pages(pages, counts, start_cell, cell_count, flags)
    }
    fn node_get_memory_parameters(&self, flags: u32) -> Result<Vec<TypedParam>> {
        check_flags(flags, 4, "virHostMemGetParameters", from::NONE)?;
        oxvirt_host::Host::real().memory_parameters()
    }
    fn node_set_memory_parameters(&self, params: &[TypedParam], flags: u32) -> Result<()> {
        check_flags(flags, 0, "virHostMemSetParameters", from::NONE)?;
        oxvirt_host::Host::real().set_memory_parameters(params)
    }
    fn node_suspend_for_duration(&self, target: u32, _duration: u64, flags: u32) -> Result<()> {
        oxvirt_host::node::suspend(target, flags)
    }
    fn compare_cpu(&self, cpu: &str, flags: u32) -> Result<i32> {
        hostcpu::compare_cpu(&self.driver.caps, cpu, flags)
    }
    fn baseline_cpu(&self, cpus: &[String], flags: u32) -> Result<String> {
        hostcpu::baseline_cpu(&self.driver.caps, cpus, flags)
    }
    fn compare_hypervisor_cpu(
        &self,
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        cpu: &str,
        flags: u32,
    ) -> Result<i32> {
        hostcpu::compare_hypervisor_cpu(
            &self.driver.host,
            &self.driver.caps,
            emulator,
            arch,
            machine,
            virttype,
            cpu,
            flags,
            caps::kvm_usable(),
        )
    }
    fn baseline_hypervisor_cpu(
        &self,
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        cpus: &[String],
        flags: u32,
    ) -> Result<String> {
        hostcpu::baseline_hypervisor_cpu(
            &self.driver.host,
            &self.driver.caps,
            emulator,
            arch,
            machine,
            virttype,
            cpus,
            flags,
            caps::kvm_usable(),
        )
    }
    fn max_vcpus(&self, _kind: Option<&str>) -> Result<i32> {
        Ok(255)
    }
    fn capabilities(&self) -> Result<String> {
        Ok(caps::capabilities_xml(
            &self.driver.host.guests,
            &caps::HostInfo::read(),
            caps::kvm_usable(),
        ))
    }
    fn domain_capabilities(
        &self,
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        driver::check_flags(flags, 0x1, "qemuConnectGetDomainCapabilities")?;
        self.driver
            .host
            .domain_capabilities(emulator, arch, machine, virttype, caps::kvm_usable())
    }

    fn domain_xml_to_native(&self, format: &str, xml: &str, flags: u32) -> Result<String> {
        self.driver.xml_to_native(format, xml, flags)
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
        let h = self.driver.create_xml(xml, flags)?;
        self.remember_autodestroy(&h, flags);
        Ok(h)
    }
    fn domain_undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.driver.undefine(dom, flags)
    }
    fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        let h = self.driver.create(dom, flags)?;
        self.remember_autodestroy(&h, flags);
        Ok(h)
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
    fn domain_save(&self, dom: &DomainRef, to: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        self.driver.save(dom, to, dxml, flags)
    }
    fn domain_restore(&self, from: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        self.driver.restore(from, dxml, flags)
    }
    fn domain_save_image_define_xml(&self, file: &str, dxml: &str, flags: u32) -> Result<()> {
        self.driver.save_image_define_xml(file, dxml, flags)
    }
    fn domain_save_image_get_xml_desc(&self, file: &str, flags: u32) -> Result<String> {
        self.driver.save_image_xml(file, flags)
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
    fn domain_managed_save_get_xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        self.driver.managed_save_xml(dom, flags)
    }

    fn domain_open_console(
        &self,
        dom: &DomainRef,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<Box<dyn oxvirt_core::Stream>> {
        self.driver.open_console(dom, dev_name, flags)
    }

    fn domain_attach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        self.driver.attach_device(dom, xml, flags)
    }
    fn domain_detach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        self.driver.detach_device(dom, xml, flags)
    }

    fn domain_get_xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        self.driver.get_xml_desc(dom, flags)
    }
    fn domain_get_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        self.driver.get_info(dom)
    }
    fn domain_interface_stats(&self, dom: &DomainRef, device: &str) -> Result<InterfaceStats> {
        self.driver.interface_stats(dom, device)
    }
    fn domain_update_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        self.driver.update_net_device(dom, xml, flags)
    }
    fn domain_interface_addresses(
        &self,
        dom: &DomainRef,
        source: u32,
        flags: u32,
    ) -> Result<Vec<GuestInterface>> {
        self.driver.interface_addresses(dom, source, flags)
    }
    fn domain_get_state(&self, dom: &DomainRef, flags: u32) -> Result<(i32, i32)> {
        self.driver.get_state(dom, flags)
    }
    fn domain_get_control_info(&self, dom: &DomainRef, flags: u32) -> Result<ControlInfo> {
        self.driver.control_info(dom, flags)
    }
    fn domain_get_os_type(&self, dom: &DomainRef) -> Result<String> {
        self.driver.lookup_by_uuid(&dom.uuid)?;
        Ok("hvm".into())
    }
    fn domain_get_max_memory(&self, dom: &DomainRef) -> Result<u64> {
        Ok(self.driver.get_info(dom)?.max_mem)
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
        self.driver.lookup_by_uuid(&dom.uuid)?;
        Ok(SecurityLabel::default())
    }
    fn domain_block_stats(&self, dom: &DomainRef, path: &str) -> Result<BlockStats> {
        self.driver.block_stats(dom, path)
    }
    fn domain_block_stats_flags(
        &self,
        dom: &DomainRef,
        path: &str,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.driver.block_stats_flags(dom, path, nparams, flags)
    }
    fn domain_get_block_info(&self, dom: &DomainRef, path: &str, flags: u32) -> Result<BlockInfo> {
        self.driver.block_info(dom, path, flags)
    }
    fn domain_block_resize(
        &self,
        dom: &DomainRef,
        disk: &str,
        size: u64,
        flags: u32,
    ) -> Result<()> {
        self.driver.block_resize(dom, disk, size, flags)
    }
    fn domain_set_block_threshold(
        &self,
        dom: &DomainRef,
        dev: &str,
        threshold: u64,
        flags: u32,
    ) -> Result<()> {
        self.driver.set_block_threshold(dom, dev, threshold, flags)
    }
    fn domain_get_block_job_info(
        &self,
        dom: &DomainRef,
        disk: &str,
        flags: u32,
    ) -> Result<Option<oxvirt_core::types::BlockJobInfo>> {
        self.driver.get_block_job_info(dom, disk, flags)
    }
    fn domain_block_job_abort(&self, dom: &DomainRef, disk: &str, flags: u32) -> Result<()> {
        self.driver.block_job_abort(dom, disk, flags)
    }
    fn domain_block_job_set_speed(
        &self,
        dom: &DomainRef,
        disk: &str,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        self.driver.block_job_set_speed(dom, disk, bandwidth, flags)
    }
    fn domain_block_pull(
        &self,
        dom: &DomainRef,
        disk: &str,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        self.driver.block_pull(dom, disk, bandwidth, flags)
    }
    fn domain_block_rebase(
        &self,
        dom: &DomainRef,
        disk: &str,
        base: Option<&str>,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        self.driver.block_rebase(dom, disk, base, bandwidth, flags)
    }
    fn domain_block_copy(
        &self,
        dom: &DomainRef,
        disk: &str,
        destxml: &str,
        params: &[oxvirt_core::types::TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.driver.block_copy(dom, disk, destxml, params, flags)
    }
    fn domain_block_commit(
        &self,
        dom: &DomainRef,
        disk: &str,
        base: Option<&str>,
        top: Option<&str>,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        self.driver
            .block_commit(dom, disk, base, top, bandwidth, flags)
    }
    fn domain_block_peek(
        &self,
        dom: &DomainRef,
        disk: &str,
        offset: u64,
        size: u64,
        flags: u32,
    ) -> Result<Vec<u8>> {
        self.driver.block_peek(dom, disk, offset, size, flags)
    }
    fn domain_migrate_set_max_speed(
        &self,
        dom: &DomainRef,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        self.driver.migrate_set_max_speed(dom, bandwidth, flags)
    }
    fn domain_migrate_get_max_speed(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        self.driver.migrate_get_max_speed(dom, flags)
    }
    fn connect_supports_feature(&self, feature: i32) -> Result<bool> {
        Ok(migration::supports_feature(feature))
    }
    fn domain_migrate_begin3_params(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(Vec<u8>, String)> {
        self.driver.migrate_begin(dom, params, flags)
    }
    fn domain_migrate_prepare3_params(
        &self,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
    ) -> Result<(Vec<u8>, Option<String>)> {
        let (cookie, uri, h) = self.driver.migrate_prepare(params, cookie, flags)?;
        let mut inc = self.incoming.lock().unwrap_or_else(|p| p.into_inner());
        inc.retain(|d| d.uuid != h.uuid);
        inc.push(h);
        Ok((cookie, uri))
    }
    fn domain_migrate_perform3_params(
        &self,
        dom: &DomainRef,
        dconnuri: Option<&str>,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
    ) -> Result<Vec<u8>> {
        self.driver
            .migrate_perform(dom, dconnuri, params, cookie, flags)
    }
    fn domain_migrate_finish3_params(
        &self,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
        cancelled: i32,
    ) -> Result<(DomainRef, Vec<u8>)> {
        self.driver.migrate_finish(params, cookie, flags, cancelled)
    }
    fn domain_migrate_confirm3_params(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
        cancelled: i32,
    ) -> Result<()> {
        self.driver
            .migrate_confirm(dom, params, cookie, flags, cancelled)
    }
    fn security_model(&self) -> Result<SecurityModel> {
        // libvirtd's first security driver with security_driver = "none"
        // (the capabilities' first <secmodel>): model "none", DOI "0".
        Ok(SecurityModel {
            model: "none".into(),
            doi: "0".into(),
        })
    }
    fn domain_get_vcpus_flags(&self, dom: &DomainRef, flags: u32) -> Result<i32> {
        let info = self.driver.get_info(dom)?;
        if flags & flags::vcpu::MAXIMUM != 0 {
            return self.driver.max_vcpus_of(dom);
        }
        Ok(info.nr_virt_cpu as i32)
    }
    fn domain_get_max_vcpus(&self, dom: &DomainRef) -> Result<i32> {
        self.driver.max_vcpus_of(dom)
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
    fn domain_memory_stats(
        &self,
        dom: &DomainRef,
        nr_stats: u32,
        flags: u32,
    ) -> Result<Vec<MemoryStat>> {
        self.driver.memory_stats(dom, nr_stats, flags)
    }
    fn domain_set_memory_stats_period(
        &self,
        dom: &DomainRef,
        period: i32,
        flags: u32,
    ) -> Result<()> {
        self.driver.set_memory_stats_period(dom, period, flags)
    }
    fn domain_inject_nmi(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.driver.inject_nmi(dom, flags)
    }
    fn domain_send_key(
        &self,
        dom: &DomainRef,
        codeset: u32,
        holdtime: u32,
        keys: &[u32],
        flags: u32,
    ) -> Result<()> {
        self.driver.send_key(dom, codeset, holdtime, keys, flags)
    }
    fn domain_screenshot(
        &self,
        dom: &DomainRef,
        screen: u32,
        flags: u32,
    ) -> Result<(String, Box<dyn oxvirt_core::Stream>)> {
        self.driver.screenshot(dom, screen, flags)
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
        user: &str,
        password: &str,
        flags: u32,
    ) -> Result<()> {
        self.driver.set_user_password(dom, user, password, flags)
    }
    fn domain_fs_freeze(&self, dom: &DomainRef, mountpoints: &[String], flags: u32) -> Result<i32> {
        self.driver.fs_freeze(dom, mountpoints, flags)
    }
    fn domain_fs_thaw(&self, dom: &DomainRef, mountpoints: &[String], flags: u32) -> Result<i32> {
        self.driver.fs_thaw(dom, mountpoints, flags)
    }
    fn domain_fs_trim(
        &self,
        dom: &DomainRef,
        mountpoint: Option<&str>,
        minimum: u64,
        flags: u32,
    ) -> Result<()> {
        self.driver.fs_trim(dom, mountpoint, minimum, flags)
    }
    fn domain_get_fs_info(&self, dom: &DomainRef, flags: u32) -> Result<Vec<FsInfo>> {
        self.driver.fs_info(dom, flags)
    }
    fn domain_get_guest_info(
        &self,
        dom: &DomainRef,
        types: u32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.driver.guest_info(dom, types, flags)
    }
    fn domain_get_guest_vcpus(&self, dom: &DomainRef, flags: u32) -> Result<Vec<TypedParam>> {
        self.driver.guest_vcpus(dom, flags)
    }
    fn domain_set_guest_vcpus(
        &self,
        dom: &DomainRef,
        cpumap: &str,
        state: i32,
        flags: u32,
    ) -> Result<()> {
        self.driver.set_guest_vcpus(dom, cpumap, state, flags)
    }
    fn domain_qemu_agent_command(
        &self,
        dom: &DomainRef,
        cmd: &str,
        timeout: i32,
        flags: u32,
    ) -> Result<String> {
        self.driver.agent_command(dom, cmd, timeout, flags)
    }
    fn domain_agent_set_response_timeout(
        &self,
        dom: &DomainRef,
        timeout: i32,
        flags: u32,
    ) -> Result<()> {
        self.driver.agent_set_response_timeout(dom, timeout, flags)
    }
    fn domain_set_memory(&self, dom: &DomainRef, kib: u64, flags: u32) -> Result<()> {
        self.driver.set_memory(dom, kib, flags)
    }
    fn domain_get_job_info(&self, dom: &DomainRef) -> Result<JobInfo> {
        self.driver.job_info(dom)
    }
    fn domain_get_job_stats(&self, dom: &DomainRef, flags: u32) -> Result<(i32, Vec<TypedParam>)> {
        self.driver.job_stats(dom, flags)
    }
    fn domain_abort_job(&self, dom: &DomainRef) -> Result<()> {
        self.driver.abort_job(dom)
    }
    fn get_all_domain_stats(
        &self,
        doms: Option<&[DomainRef]>,
        stats: u32,
        flags: u32,
    ) -> Result<Vec<(DomainRef, Vec<TypedParam>)>> {
        self.driver.all_stats(doms, stats, flags)
    }

    fn domain_event_register(
        &self,
        dom: Option<&DomainRef>,
        event_id: i32,
        cb: DomainEventCallback,
    ) -> Result<i32> {
        let id = self.driver.events.register_domain(dom, event_id, cb);
        self.callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(id);
        Ok(id)
    }
    fn domain_event_deregister(&self, callback_id: i32) -> Result<()> {
        let mut cbs = self.callbacks.lock().unwrap_or_else(|p| p.into_inner());
        if !cbs.contains(&callback_id) || !self.driver.events.deregister(callback_id) {
            return Err(Error::invalid_arg(
                from::NONE,
                format!("could not find event callback {} for deletion", callback_id),
            ));
        }
        cbs.retain(|c| *c != callback_id);
        Ok(())
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

    // PCI assignment goes through the host's node device driver.
    fn node_device_detach(&self, dev: &NodeDevRef, driver: Option<&str>, flags: u32) -> Result<()> {
        self.driver.services.pci.detach(dev, driver, flags)
    }
    fn node_device_reattach(&self, dev: &NodeDevRef) -> Result<()> {
        self.driver.services.pci.reattach(dev)
    }
    fn node_device_reset(&self, dev: &NodeDevRef) -> Result<()> {
        self.driver.services.pci.reset(dev)
    }
}

impl Driver {
    /// QEMU's version as libvirt encodes it (major * 1e6 + minor * 1e3 + micro).
    pub fn qemu_version(&self) -> u64 {
        if self.caps.version != 0 {
            return self.caps.version;
        }
        let out = std::process::Command::new(&self.caps.emulator)
            .arg("--version")
            .stdin(std::process::Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let v = out
            .split_whitespace()
            .skip_while(|w| *w != "version")
            .nth(1)
            .unwrap_or("0.0.0");
        let mut parts = v
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        let mut n = || {
            parts
                .next()
                .and_then(|p| p.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let (a, b, c) = (n(), n(), n());
        a * 1_000_000 + b * 1_000 + c
    }

    pub(crate) fn max_vcpus_of(&self, dom: &DomainRef) -> Result<i32> {
        let st = self.read(dom)?;
        Ok(st.dom(dom)?.def.vcpu.max as i32)
    }

    /// Starts the persistent domains marked autostart (in the background,
    /// so that opening the driver stays fast).
    /// They are picked once every running QEMU is re-attached, as
    /// libvirt's autostart waits for each domain's reconnect job.
    pub fn autostart(&self) {
        let Some(me) = self.arc() else { return };
        let _ = std::thread::Builder::new()
            .name("qemu-autostart".into())
            .spawn(move || {
                let doms: Vec<DomainRef> = {
                    let st = me.lock_all_ready();
                    st.doms
                        .iter()
                        .filter(|d| d.autostart && d.persistent && !d.is_active())
                        .map(|d| d.handle())
                        .collect()
                };
                for d in doms {
                    if let Err(e) = me.create(&d, 0) {
                        tracing::warn!("autostart of {} failed: {}", d.name, e);
                    }
                }
            });
    }
}
