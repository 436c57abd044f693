//! The connection trait: one method per libvirt API, flags included.
//!
//! A driver (test, qemu, remote) implements what it supports; every other
//! method answers libvirt's "this function is not supported by the
//! connection driver: virXxx" error, so callers fall back as they do with
//! libvirt.

use crate::error::{Error, Result};
pub use crate::event::SecretEventCallback;
use crate::event::{
    DomainEventCallback, NetworkEventCallback, PoolEventCallback, QemuMonitorEventCallback,
};

/// A node device event: device name, event, detail.
pub type NodeDevEventCallback = std::sync::Arc<dyn Fn(&str, i32, i32) + Send + Sync>;
use crate::types::*;

macro_rules! nosup {
    ($api:literal) => {
        Err(Error::no_support($api))
    };
}

/// virDomainFDAssociate's own check, before any driver: some fds.
pub fn fd_associate_checks(fds: &[i32]) -> Result<()> {
    if fds.is_empty() {
        return Err(Error::raw(
            crate::error::code::INVALID_ARG,
            crate::error::from::DOMAIN,
            "nfds in virDomainFDAssociate must not be zero",
        ));
    }
    Ok(())
}

/// A piece of a sparse stream (VIR_STORAGE_VOL_*_SPARSE_STREAM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamChunk {
    Data(Vec<u8>),
    /// So many bytes that read as zeros and take no space.
    Hole(u64),
}

/// A byte stream attached to an API call (console, screenshot, volume
/// upload and download).
pub trait Stream: Send {
    /// The next chunk from the driver; `Ok(None)` at end of stream.
    fn recv(&mut self) -> Result<Option<Vec<u8>>>;
    /// Data from the client.
    fn send(&mut self, data: &[u8]) -> Result<()>;
    /// The client finished sending; the driver completes the transfer.
    fn finish(&mut self) -> Result<()>;
    /// The client gave up.
    fn abort(&mut self) -> Result<()>;
    /// The next piece of a sparse stream: data or a hole. Streams that
    /// know no holes send data only.
    fn recv_sparse(&mut self) -> Result<Option<StreamChunk>> {
        Ok(self.recv()?.map(StreamChunk::Data))
    }
    /// A hole of `len` bytes from the client (a sparse upload).
    fn send_hole(&mut self, len: u64) -> Result<()> {
        let _ = len;
        Err(Error::internal(
            crate::error::from::STREAMS,
            "unexpected stream hole",
        ))
    }
}

/// A stream over bytes already in memory (screenshots, small downloads).
pub struct BufferStream {
    data: Option<Vec<u8>>,
}

impl BufferStream {
    pub fn new(data: Vec<u8>) -> Self {
        BufferStream { data: Some(data) }
    }
}

/// A stream reading a local file in chunks, as libvirt's fd streams do
/// (screenshots of the test driver, volume downloads).
pub struct FileStream {
    file: Option<std::fs::File>,
    /// Bytes still to read (`u64::MAX`: to the end of the file).
    left: u64,
}

impl FileStream {
    /// Chunk size handed to the daemon (libvirt's stream chunk).
    pub const CHUNK: usize = 262_120;

    /// Opens `path` for reading `length` bytes from `offset` (0 = to the
    /// end), with libvirt's "Unable to open stream for 'PATH'" error.
    pub fn open_read(path: &str, offset: u64, length: u64) -> Result<Self> {
        use std::io::{Seek, SeekFrom};
        let err = |e: &std::io::Error| {
            Error::system(
                crate::error::from::STREAMS,
                format!("Unable to open stream for '{}'", path),
                e,
            )
        };
        let mut file = std::fs::File::open(path).map_err(|e| err(&e))?;
        if offset > 0 {
            file.seek(SeekFrom::Start(offset)).map_err(|e| err(&e))?;
        }
        Ok(FileStream {
            file: Some(file),
            left: if length == 0 { u64::MAX } else { length },
        })
    }
}

impl Stream for FileStream {
    fn recv(&mut self) -> Result<Option<Vec<u8>>> {
        use std::io::Read;
        let Some(f) = self.file.as_mut() else {
            return Ok(None);
        };
        let want = (Self::CHUNK as u64).min(self.left) as usize;
        if want == 0 {
            self.file = None;
            return Ok(None);
        }
        let mut buf = vec![0u8; want];
        let n = loop {
            match f.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::system(
                        crate::error::from::STREAMS,
                        "Unable to read from stream",
                        &e,
                    ))
                }
            }
        };
        if n == 0 {
            self.file = None;
            return Ok(None);
        }
        buf.truncate(n);
        self.left = self.left.saturating_sub(n as u64);
        Ok(Some(buf))
    }
    fn send(&mut self, _data: &[u8]) -> Result<()> {
        Err(Error::new(
            crate::error::code::INVALID_STREAM,
            crate::error::from::STREAMS,
            "",
        ))
    }
    fn finish(&mut self) -> Result<()> {
        self.file = None;
        Ok(())
    }
    fn abort(&mut self) -> Result<()> {
        self.file = None;
        Ok(())
    }
}

impl Stream for BufferStream {
    fn recv(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self.data.take().filter(|d| !d.is_empty()))
    }
    fn send(&mut self, _data: &[u8]) -> Result<()> {
        Err(Error::new(
            crate::error::code::INVALID_STREAM,
            crate::error::from::STREAMS,
            "",
        ))
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
    fn abort(&mut self) -> Result<()> {
        Ok(())
    }
}

/// An open connection to a driver. All methods take `&self`: a connection
/// is shared by the threads serving it.
#[allow(unused_variables)]
pub trait Connection: Send + Sync {
    // ---- connection -------------------------------------------------
    /// Whether every call returns promptly without I/O to guests or disks
    /// worth a thread (an in-memory driver). The daemon then runs calls
    /// inline instead of handing them to its blocking pool.
    fn calls_are_quick(&self) -> bool {
        false
    }
    fn uri(&self) -> Result<String>;
    /// "Test", "QEMU", ...
    fn get_type(&self) -> Result<String>;
    fn get_version(&self) -> Result<u64> {
        nosup!("virConnectGetVersion")
    }
    fn get_lib_version(&self) -> Result<u64> {
        Ok(crate::LIB_VERSION)
    }
    fn hostname(&self) -> Result<String> {
        nosup!("virConnectGetHostname")
    }
    fn sysinfo(&self, flags: u32) -> Result<String> {
        nosup!("virConnectGetSysinfo")
    }
    fn capabilities(&self) -> Result<String> {
        nosup!("virConnectGetCapabilities")
    }
    fn domain_capabilities(
        &self,
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        nosup!("virConnectGetDomainCapabilities")
    }
    fn node_info(&self) -> Result<NodeInfo> {
        nosup!("virNodeGetInfo")
    }
    fn max_vcpus(&self, kind: Option<&str>) -> Result<i32> {
        nosup!("virConnectGetMaxVcpus")
    }
    fn cells_free_memory(&self, start: i32, max: i32) -> Result<Vec<u64>> {
        nosup!("virNodeGetCellsFreeMemory")
    }
    fn free_memory(&self) -> Result<u64> {
        nosup!("virNodeGetFreeMemory")
    }
    fn node_cpu_map(&self, flags: u32) -> Result<(Vec<u8>, u32, i32)> {
        nosup!("virNodeGetCPUMap")
    }
    fn node_cpu_stats(&self, cpu: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        nosup!("virNodeGetCPUStats")
    }
    fn node_memory_stats(&self, cell: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        nosup!("virNodeGetMemoryStats")
    }
    fn node_free_pages(
        &self,
        pages: &[u32],
        start_cell: i32,
        cell_count: u32,
        flags: u32,
    ) -> Result<Vec<u64>> {
        nosup!("virNodeGetFreePages")
    }
    fn node_alloc_pages(
        &self,
        pages: &[u32],
        counts: &[u64],
        start_cell: i32,
        cell_count: u32,
        flags: u32,
    ) -> Result<i32> {
        nosup!("virNodeAllocPages")
    }
    fn node_get_memory_parameters(&self, flags: u32) -> Result<Vec<TypedParam>> {
        nosup!("virNodeGetMemoryParameters")
    }
    fn node_set_memory_parameters(&self, flags: u32) -> Result<()> {
        nosup!("virNodeSetMemoryParameters")
    }
    fn node_suspend_for_duration(&self, target: u32, duration: u64, flags: u32) -> Result<()> {
        nosup!("virNodeSuspendForDuration")
    }
    fn node_sev_info(&self, flags: u32) -> Result<Vec<TypedParam>> {
        nosup!("virNodeGetSEVInfo")
    }
    fn cpu_model_names(&self, arch: &str, flags: u32) -> Result<Vec<String>> {
        nosup!("virConnectGetCPUModelNames")
    }
    fn baseline_cpu(&self, cpus: &[String], flags: u32) -> Result<String> {
        nosup!("virConnectBaselineCPU")
    }
    fn compare_cpu(&self, cpu: &str, flags: u32) -> Result<i32> {
        nosup!("virConnectCompareCPU")
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
        nosup!("virConnectBaselineHypervisorCPU")
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
        nosup!("virConnectCompareHypervisorCPU")
    }
    fn security_model(&self) -> Result<SecurityModel> {
        nosup!("virNodeGetSecurityModel")
    }
    fn is_secure(&self) -> Result<bool> {
        Ok(true)
    }
    fn is_encrypted(&self) -> Result<bool> {
        Ok(false)
    }
    fn close(&self) -> Result<()> {
        Ok(())
    }

    // ---- domains: listing and lookup --------------------------------
    fn list_all_domains(&self, flags: u32) -> Result<Vec<DomainRef>> {
        nosup!("virConnectListAllDomains")
    }
    fn lookup_domain_by_id(&self, id: i32) -> Result<DomainRef> {
        nosup!("virDomainLookupByID")
    }
    fn lookup_domain_by_name(&self, name: &str) -> Result<DomainRef> {
        nosup!("virDomainLookupByName")
    }
    fn lookup_domain_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        nosup!("virDomainLookupByUUID")
    }

    // ---- domains: lifecycle -----------------------------------------
    fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        nosup!("virDomainDefineXMLFlags")
    }
    fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        nosup!("virDomainCreateXML")
    }
    fn domain_undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        nosup!("virDomainUndefineFlags")
    }
    /// Starts a defined domain; returns the handle with its new id.
    fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        nosup!("virDomainCreateWithFlags")
    }
    fn domain_destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        nosup!("virDomainDestroyFlags")
    }
    fn domain_shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        nosup!("virDomainShutdownFlags")
    }
    fn domain_reboot(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        nosup!("virDomainReboot")
    }
    fn domain_reset(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        nosup!("virDomainReset")
    }
    fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        nosup!("virDomainSuspend")
    }
    fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        nosup!("virDomainResume")
    }
    fn domain_pm_suspend(
        &self,
        dom: &DomainRef,
        target: u32,
        duration: u64,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainPMSuspendForDuration")
    }
    fn domain_pm_wakeup(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        nosup!("virDomainPMWakeup")
    }
    fn domain_inject_nmi(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        nosup!("virDomainInjectNMI")
    }
    fn domain_send_key(
        &self,
        dom: &DomainRef,
        codeset: u32,
        holdtime: u32,
        keys: &[u32],
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSendKey")
    }
    fn domain_save(&self, dom: &DomainRef, to: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        nosup!("virDomainSaveFlags")
    }
    fn domain_restore(&self, from: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        nosup!("virDomainRestoreFlags")
    }
    fn domain_save_image_get_xml_desc(&self, file: &str, flags: u32) -> Result<String> {
        nosup!("virDomainSaveImageGetXMLDesc")
    }
    fn domain_save_image_define_xml(&self, file: &str, dxml: &str, flags: u32) -> Result<()> {
        nosup!("virDomainSaveImageDefineXML")
    }
    fn domain_core_dump(&self, dom: &DomainRef, to: &str, format: u32, flags: u32) -> Result<()> {
        nosup!("virDomainCoreDumpWithFormat")
    }
    fn domain_managed_save(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        nosup!("virDomainManagedSave")
    }
    fn domain_has_managed_save(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        nosup!("virDomainHasManagedSaveImage")
    }
    fn domain_managed_save_remove(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        nosup!("virDomainManagedSaveRemove")
    }
    fn domain_managed_save_get_xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        nosup!("virDomainManagedSaveGetXMLDesc")
    }
    fn domain_managed_save_define_xml(
        &self,
        dom: &DomainRef,
        dxml: &str,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainManagedSaveDefineXML")
    }
    fn domain_rename(&self, dom: &DomainRef, new_name: &str, flags: u32) -> Result<()> {
        nosup!("virDomainRename")
    }

    // ---- domains: state and description -----------------------------
    fn domain_get_xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        nosup!("virDomainGetXMLDesc")
    }
    fn domain_get_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        nosup!("virDomainGetInfo")
    }
    /// `(state, reason)`
    fn domain_get_state(&self, dom: &DomainRef, flags: u32) -> Result<(i32, i32)> {
        nosup!("virDomainGetState")
    }
    fn domain_get_control_info(&self, dom: &DomainRef, flags: u32) -> Result<ControlInfo> {
        nosup!("virDomainGetControlInfo")
    }
    fn domain_get_os_type(&self, dom: &DomainRef) -> Result<String> {
        nosup!("virDomainGetOSType")
    }
    fn domain_get_max_memory(&self, dom: &DomainRef) -> Result<u64> {
        nosup!("virDomainGetMaxMemory")
    }
    fn domain_get_autostart(&self, dom: &DomainRef) -> Result<bool> {
        nosup!("virDomainGetAutostart")
    }
    fn domain_set_autostart(&self, dom: &DomainRef, autostart: bool) -> Result<()> {
        nosup!("virDomainSetAutostart")
    }
    fn domain_is_active(&self, dom: &DomainRef) -> Result<bool> {
        nosup!("virDomainIsActive")
    }
    fn domain_is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        nosup!("virDomainIsPersistent")
    }
    fn domain_is_updated(&self, dom: &DomainRef) -> Result<bool> {
        nosup!("virDomainIsUpdated")
    }
    fn domain_get_security_label(&self, dom: &DomainRef) -> Result<SecurityLabel> {
        nosup!("virDomainGetSecurityLabel")
    }
    fn domain_get_messages(&self, dom: &DomainRef, flags: u32) -> Result<Vec<String>> {
        nosup!("virDomainGetMessages")
    }
    fn domain_get_metadata(
        &self,
        dom: &DomainRef,
        kind: i32,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        nosup!("virDomainGetMetadata")
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
        nosup!("virDomainSetMetadata")
    }
    fn domain_get_hostname(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        nosup!("virDomainGetHostname")
    }
    fn domain_get_time(&self, dom: &DomainRef, flags: u32) -> Result<(i64, u32)> {
        nosup!("virDomainGetTime")
    }

    // ---- domains: resources -----------------------------------------
    fn domain_set_memory(&self, dom: &DomainRef, kib: u64, flags: u32) -> Result<()> {
        nosup!("virDomainSetMemoryFlags")
    }
    fn domain_set_memory_stats_period(
        &self,
        dom: &DomainRef,
        period: i32,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSetMemoryStatsPeriod")
    }
    fn domain_set_vcpus(&self, dom: &DomainRef, n: u32, flags: u32) -> Result<()> {
        nosup!("virDomainSetVcpusFlags")
    }
    fn domain_get_vcpus_flags(&self, dom: &DomainRef, flags: u32) -> Result<i32> {
        nosup!("virDomainGetVcpusFlags")
    }
    fn domain_get_max_vcpus(&self, dom: &DomainRef) -> Result<i32> {
        nosup!("virDomainGetMaxVcpus")
    }
    /// Per-vCPU info plus one cpumap of `maplen` bytes per vCPU.
    fn domain_get_vcpus(
        &self,
        dom: &DomainRef,
        maxinfo: i32,
        maplen: i32,
    ) -> Result<(Vec<VcpuInfo>, Vec<u8>)> {
        nosup!("virDomainGetVcpus")
    }
    fn domain_pin_vcpu(&self, dom: &DomainRef, vcpu: u32, cpumap: &[u8], flags: u32) -> Result<()> {
        nosup!("virDomainPinVcpuFlags")
    }
    fn domain_get_vcpu_pin_info(
        &self,
        dom: &DomainRef,
        ncpumaps: i32,
        maplen: i32,
        flags: u32,
    ) -> Result<(Vec<u8>, i32)> {
        nosup!("virDomainGetVcpuPinInfo")
    }
    fn domain_pin_emulator(&self, dom: &DomainRef, cpumap: &[u8], flags: u32) -> Result<()> {
        nosup!("virDomainPinEmulator")
    }
    fn domain_get_emulator_pin_info(
        &self,
        dom: &DomainRef,
        maplen: i32,
        flags: u32,
    ) -> Result<(Vec<u8>, i32)> {
        nosup!("virDomainGetEmulatorPinInfo")
    }
    /// `(scheduler type, number of parameters)`
    fn domain_get_scheduler_type(&self, dom: &DomainRef) -> Result<(String, i32)> {
        nosup!("virDomainGetSchedulerType")
    }
    fn domain_get_scheduler_parameters(
        &self,
        dom: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        nosup!("virDomainGetSchedulerParametersFlags")
    }
    fn domain_set_scheduler_parameters(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSetSchedulerParametersFlags")
    }
    /// Typed-parameter getters with an `nparams` take it as libvirt does:
    /// 0 asks for the count only (the answer's length; its entries may be
    /// placeholders, and the domain need not be looked up), N > 0 for at
    /// most N values.
    fn domain_get_blkio_parameters(
        &self,
        dom: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        nosup!("virDomainGetBlkioParameters")
    }
    fn domain_set_blkio_parameters(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSetBlkioParameters")
    }
    fn domain_get_memory_parameters(
        &self,
        dom: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        nosup!("virDomainGetMemoryParameters")
    }
    fn domain_set_memory_parameters(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSetMemoryParameters")
    }
    fn domain_get_numa_parameters(
        &self,
        dom: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        nosup!("virDomainGetNumaParameters")
    }
    fn domain_set_numa_parameters(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSetNumaParameters")
    }
    fn domain_get_perf_events(&self, dom: &DomainRef, flags: u32) -> Result<Vec<TypedParam>> {
        nosup!("virDomainGetPerfEvents")
    }
    fn domain_get_block_io_tune(
        &self,
        dom: &DomainRef,
        disk: Option<&str>,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        nosup!("virDomainGetBlockIoTune")
    }
    fn domain_set_block_io_tune(
        &self,
        dom: &DomainRef,
        disk: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSetBlockIoTune")
    }
    fn domain_get_interface_parameters(
        &self,
        dom: &DomainRef,
        device: &str,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        nosup!("virDomainGetInterfaceParameters")
    }
    fn domain_set_interface_parameters(
        &self,
        dom: &DomainRef,
        device: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSetInterfaceParameters")
    }
    fn domain_get_iothread_info(&self, dom: &DomainRef, flags: u32) -> Result<Vec<IoThreadInfo>> {
        nosup!("virDomainGetIOThreadInfo")
    }
    fn domain_add_iothread(&self, dom: &DomainRef, id: u32, flags: u32) -> Result<()> {
        nosup!("virDomainAddIOThread")
    }
    fn domain_del_iothread(&self, dom: &DomainRef, id: u32, flags: u32) -> Result<()> {
        nosup!("virDomainDelIOThread")
    }
    fn domain_pin_iothread(
        &self,
        dom: &DomainRef,
        id: u32,
        cpumap: &[u8],
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainPinIOThread")
    }
    fn domain_set_iothread_params(
        &self,
        dom: &DomainRef,
        id: u32,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSetIOThreadParams")
    }

    // ---- domains: statistics ----------------------------------------
    fn domain_block_stats(&self, dom: &DomainRef, path: &str) -> Result<BlockStats> {
        nosup!("virDomainBlockStats")
    }
    fn domain_block_stats_flags(
        &self,
        dom: &DomainRef,
        path: &str,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        nosup!("virDomainBlockStatsFlags")
    }
    fn domain_interface_stats(&self, dom: &DomainRef, device: &str) -> Result<InterfaceStats> {
        nosup!("virDomainInterfaceStats")
    }
    fn domain_memory_stats(
        &self,
        dom: &DomainRef,
        nr_stats: u32,
        flags: u32,
    ) -> Result<Vec<MemoryStat>> {
        nosup!("virDomainMemoryStats")
    }
    fn domain_get_block_info(&self, dom: &DomainRef, path: &str, flags: u32) -> Result<BlockInfo> {
        nosup!("virDomainGetBlockInfo")
    }
    fn domain_get_cpu_stats(
        &self,
        dom: &DomainRef,
        start_cpu: i32,
        ncpus: u32,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<Vec<TypedParam>>> {
        nosup!("virDomainGetCPUStats")
    }
    /// Sends a raw QMP (or, with flag 1, HMP) command (libvirt-qemu).
    fn domain_qemu_monitor_command(
        &self,
        dom: &DomainRef,
        cmd: &str,
        flags: u32,
    ) -> Result<String> {
        nosup!("virDomainQemuMonitorCommand")
    }
    fn domain_get_job_info(&self, dom: &DomainRef) -> Result<JobInfo> {
        nosup!("virDomainGetJobInfo")
    }
    fn domain_get_job_stats(&self, dom: &DomainRef, flags: u32) -> Result<(i32, Vec<TypedParam>)> {
        nosup!("virDomainGetJobStats")
    }
    fn domain_abort_job(&self, dom: &DomainRef) -> Result<()> {
        nosup!("virDomainAbortJob")
    }
    fn domain_interface_addresses(
        &self,
        dom: &DomainRef,
        source: u32,
        flags: u32,
    ) -> Result<Vec<GuestInterface>> {
        nosup!("virDomainInterfaceAddresses")
    }
    /// `None` for `doms` means every domain matching `flags`.
    fn get_all_domain_stats(
        &self,
        doms: Option<&[DomainRef]>,
        stats: u32,
        flags: u32,
    ) -> Result<Vec<(DomainRef, Vec<TypedParam>)>> {
        nosup!("virConnectGetAllDomainStats")
    }

    // ---- domains: devices and streams -------------------------------
    fn domain_attach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        nosup!("virDomainAttachDeviceFlags")
    }
    fn domain_detach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        nosup!("virDomainDetachDeviceFlags")
    }
    /// virDomainAttachDevice, the flag-less API: the live domain, unless a
    /// driver tells the two apart.
    fn domain_attach_device_plain(&self, dom: &DomainRef, xml: &str) -> Result<()> {
        self.domain_attach_device(dom, xml, crate::types::flags::affect::LIVE)
    }
    /// virDomainDetachDevice, the flag-less API (see
    /// [`Connection::domain_attach_device_plain`]).
    fn domain_detach_device_plain(&self, dom: &DomainRef, xml: &str) -> Result<()> {
        self.domain_detach_device(dom, xml, crate::types::flags::affect::LIVE)
    }
    fn domain_detach_device_alias(&self, dom: &DomainRef, alias: &str, flags: u32) -> Result<()> {
        nosup!("virDomainDetachDeviceAlias")
    }
    fn domain_update_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        nosup!("virDomainUpdateDeviceFlags")
    }
    /// `(mime type, image stream)`
    fn domain_screenshot(
        &self,
        dom: &DomainRef,
        screen: u32,
        flags: u32,
    ) -> Result<(String, Box<dyn Stream>)> {
        nosup!("virDomainScreenshot")
    }
    fn domain_open_console(
        &self,
        dom: &DomainRef,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<Box<dyn Stream>> {
        nosup!("virDomainOpenConsole")
    }

    // ---- domains: guest agent, block jobs, migration tuning ----------
    fn domain_set_time(
        &self,
        dom: &DomainRef,
        seconds: i64,
        nseconds: u32,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSetTime")
    }
    fn domain_set_user_password(
        &self,
        dom: &DomainRef,
        user: &str,
        password: &str,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSetUserPassword")
    }
    /// The number of file systems frozen.
    fn domain_fs_freeze(&self, dom: &DomainRef, mountpoints: &[String], flags: u32) -> Result<i32> {
        nosup!("virDomainFSFreeze")
    }
    /// The number of file systems thawed.
    fn domain_fs_thaw(&self, dom: &DomainRef, mountpoints: &[String], flags: u32) -> Result<i32> {
        nosup!("virDomainFSThaw")
    }
    fn domain_fs_trim(
        &self,
        dom: &DomainRef,
        mountpoint: Option<&str>,
        minimum: u64,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainFSTrim")
    }
    fn domain_get_fs_info(&self, dom: &DomainRef, flags: u32) -> Result<Vec<FsInfo>> {
        nosup!("virDomainGetFSInfo")
    }
    /// `(disk, virDomainDiskErrorCode)` for every disk in error.
    fn domain_get_disk_errors(&self, dom: &DomainRef, flags: u32) -> Result<Vec<(String, i32)>> {
        nosup!("virDomainGetDiskErrors")
    }
    fn domain_send_process_signal(
        &self,
        dom: &DomainRef,
        pid: i64,
        signum: u32,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSendProcessSignal")
    }
    fn domain_get_launch_security_info(
        &self,
        dom: &DomainRef,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        nosup!("virDomainGetLaunchSecurityInfo")
    }
    fn domain_set_launch_security_state(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSetLaunchSecurityState")
    }
    fn domain_set_lifecycle_action(
        &self,
        dom: &DomainRef,
        kind: u32,
        action: u32,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSetLifecycleAction")
    }
    fn domain_set_perf_events(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSetPerfEvents")
    }
    fn domain_get_guest_info(
        &self,
        dom: &DomainRef,
        types: u32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        nosup!("virDomainGetGuestInfo")
    }
    fn domain_get_guest_vcpus(&self, dom: &DomainRef, flags: u32) -> Result<Vec<TypedParam>> {
        nosup!("virDomainGetGuestVcpus")
    }
    fn domain_set_guest_vcpus(
        &self,
        dom: &DomainRef,
        cpumap: &str,
        state: i32,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSetGuestVcpus")
    }
    fn domain_authorized_ssh_keys_get(
        &self,
        dom: &DomainRef,
        user: &str,
        flags: u32,
    ) -> Result<Vec<String>> {
        nosup!("virDomainAuthorizedSSHKeysGet")
    }
    fn domain_authorized_ssh_keys_set(
        &self,
        dom: &DomainRef,
        user: &str,
        keys: &[String],
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainAuthorizedSSHKeysSet")
    }
    fn domain_start_dirty_rate_calc(
        &self,
        dom: &DomainRef,
        seconds: i32,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainStartDirtyRateCalc")
    }
    fn domain_set_block_threshold(
        &self,
        dom: &DomainRef,
        dev: &str,
        threshold: u64,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainSetBlockThreshold")
    }
    /// `None` when no job runs on the disk.
    fn domain_get_block_job_info(
        &self,
        dom: &DomainRef,
        disk: &str,
        flags: u32,
    ) -> Result<Option<BlockJobInfo>> {
        nosup!("virDomainGetBlockJobInfo")
    }
    fn domain_block_job_abort(&self, dom: &DomainRef, disk: &str, flags: u32) -> Result<()> {
        nosup!("virDomainBlockJobAbort")
    }
    fn domain_block_job_set_speed(
        &self,
        dom: &DomainRef,
        disk: &str,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainBlockJobSetSpeed")
    }
    fn domain_block_pull(
        &self,
        dom: &DomainRef,
        disk: &str,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainBlockPull")
    }
    fn domain_block_rebase(
        &self,
        dom: &DomainRef,
        disk: &str,
        base: Option<&str>,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainBlockRebase")
    }
    fn domain_block_copy(
        &self,
        dom: &DomainRef,
        disk: &str,
        destxml: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainBlockCopy")
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
        nosup!("virDomainBlockCommit")
    }
    fn domain_block_resize(
        &self,
        dom: &DomainRef,
        disk: &str,
        size: u64,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainBlockResize")
    }
    fn domain_migrate_set_max_downtime(
        &self,
        dom: &DomainRef,
        downtime: u64,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainMigrateSetMaxDowntime")
    }
    fn domain_migrate_get_max_downtime(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        nosup!("virDomainMigrateGetMaxDowntime")
    }
    fn domain_migrate_set_max_speed(
        &self,
        dom: &DomainRef,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainMigrateSetMaxSpeed")
    }
    fn domain_migrate_get_max_speed(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        nosup!("virDomainMigrateGetMaxSpeed")
    }
    fn domain_migrate_get_compression_cache(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        nosup!("virDomainMigrateGetCompressionCache")
    }
    fn domain_migrate_set_compression_cache(
        &self,
        dom: &DomainRef,
        size: u64,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainMigrateSetCompressionCache")
    }
    fn domain_migrate_start_post_copy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        nosup!("virDomainMigrateStartPostCopy")
    }
    /// libvirt-qemu's virDomainQemuAgentCommand.
    fn domain_qemu_agent_command(
        &self,
        dom: &DomainRef,
        cmd: &str,
        timeout: i32,
        flags: u32,
    ) -> Result<String> {
        nosup!("virDomainQemuAgentCommand")
    }
    fn domain_set_vcpu(&self, dom: &DomainRef, cpumap: &str, state: i32, flags: u32) -> Result<()> {
        nosup!("virDomainSetVcpu")
    }
    fn domain_agent_set_response_timeout(
        &self,
        dom: &DomainRef,
        timeout: i32,
        flags: u32,
    ) -> Result<()> {
        nosup!("virDomainAgentSetResponseTimeout")
    }
    /// libvirt-lxc's virDomainLxcOpenNamespace: the namespace fds.
    fn domain_lxc_open_namespace(&self, dom: &DomainRef, flags: u32) -> Result<Vec<i32>> {
        nosup!("virDomainLxcOpenNamespace")
    }
    fn domain_fd_associate(
        &self,
        dom: &DomainRef,
        name: &str,
        fds: &[i32],
        flags: u32,
    ) -> Result<()> {
        fd_associate_checks(fds)?;
        nosup!("virDomainFDAssociate")
    }
    fn domain_xml_from_native(&self, format: &str, config: &str, flags: u32) -> Result<String> {
        nosup!("virConnectDomainXMLFromNative")
    }
    fn domain_xml_to_native(&self, format: &str, xml: &str, flags: u32) -> Result<String> {
        nosup!("virConnectDomainXMLToNative")
    }

    // ---- snapshots ----------------------------------------------------
    fn snapshot_create_xml(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<SnapshotRef> {
        nosup!("virDomainSnapshotCreateXML")
    }
    fn snapshot_get_xml_desc(&self, snap: &SnapshotRef, flags: u32) -> Result<String> {
        nosup!("virDomainSnapshotGetXMLDesc")
    }
    fn snapshot_num(&self, dom: &DomainRef, flags: u32) -> Result<i32> {
        nosup!("virDomainSnapshotNum")
    }
    fn list_all_snapshots(&self, dom: &DomainRef, flags: u32) -> Result<Vec<SnapshotRef>> {
        nosup!("virDomainListAllSnapshots")
    }
    fn snapshot_list_all_children(
        &self,
        snap: &SnapshotRef,
        flags: u32,
    ) -> Result<Vec<SnapshotRef>> {
        nosup!("virDomainSnapshotListAllChildren")
    }
    fn snapshot_num_children(&self, snap: &SnapshotRef, flags: u32) -> Result<i32> {
        nosup!("virDomainSnapshotNumChildren")
    }
    fn snapshot_lookup_by_name(
        &self,
        dom: &DomainRef,
        name: &str,
        flags: u32,
    ) -> Result<SnapshotRef> {
        nosup!("virDomainSnapshotLookupByName")
    }
    fn has_current_snapshot(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        nosup!("virDomainHasCurrentSnapshot")
    }
    fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<SnapshotRef> {
        nosup!("virDomainSnapshotCurrent")
    }
    fn snapshot_get_parent(&self, snap: &SnapshotRef, flags: u32) -> Result<SnapshotRef> {
        nosup!("virDomainSnapshotGetParent")
    }
    fn snapshot_is_current(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        nosup!("virDomainSnapshotIsCurrent")
    }
    fn snapshot_has_metadata(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        nosup!("virDomainSnapshotHasMetadata")
    }
    fn snapshot_revert(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        nosup!("virDomainRevertToSnapshot")
    }
    fn snapshot_delete(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        nosup!("virDomainSnapshotDelete")
    }

    // ---- checkpoints --------------------------------------------------
    fn checkpoint_create_xml(
        &self,
        dom: &DomainRef,
        xml: &str,
        flags: u32,
    ) -> Result<CheckpointRef> {
        nosup!("virDomainCheckpointCreateXML")
    }
    fn checkpoint_get_xml_desc(&self, cp: &CheckpointRef, flags: u32) -> Result<String> {
        nosup!("virDomainCheckpointGetXMLDesc")
    }
    fn list_all_checkpoints(&self, dom: &DomainRef, flags: u32) -> Result<Vec<CheckpointRef>> {
        nosup!("virDomainListAllCheckpoints")
    }
    fn checkpoint_list_all_children(
        &self,
        cp: &CheckpointRef,
        flags: u32,
    ) -> Result<Vec<CheckpointRef>> {
        nosup!("virDomainCheckpointListAllChildren")
    }
    fn checkpoint_lookup_by_name(
        &self,
        dom: &DomainRef,
        name: &str,
        flags: u32,
    ) -> Result<CheckpointRef> {
        nosup!("virDomainCheckpointLookupByName")
    }
    fn checkpoint_get_parent(&self, cp: &CheckpointRef, flags: u32) -> Result<CheckpointRef> {
        nosup!("virDomainCheckpointGetParent")
    }
    fn checkpoint_delete(&self, cp: &CheckpointRef, flags: u32) -> Result<()> {
        nosup!("virDomainCheckpointDelete")
    }

    // ---- events -------------------------------------------------------
    /// Registers a domain event callback; returns the callback id.
    fn domain_event_register(
        &self,
        dom: Option<&DomainRef>,
        event_id: i32,
        cb: DomainEventCallback,
    ) -> Result<i32> {
        nosup!("virConnectDomainEventRegisterAny")
    }
    fn domain_event_deregister(&self, callback_id: i32) -> Result<()> {
        nosup!("virConnectDomainEventDeregisterAny")
    }
    /// libvirt-qemu's virConnectDomainQemuMonitorEventRegister: events
    /// named `event` (all when None; a regex or case-insensitive by
    /// `flags`).
    fn domain_qemu_monitor_event_register(
        &self,
        dom: Option<&DomainRef>,
        event: Option<&str>,
        cb: QemuMonitorEventCallback,
        flags: u32,
    ) -> Result<i32> {
        nosup!("virConnectDomainQemuMonitorEventRegister")
    }
    fn domain_qemu_monitor_event_deregister(&self, callback_id: i32) -> Result<()> {
        nosup!("virConnectDomainQemuMonitorEventDeregister")
    }
    fn network_event_register(
        &self,
        net: Option<&NetworkRef>,
        event_id: i32,
        cb: NetworkEventCallback,
    ) -> Result<i32> {
        nosup!("virConnectNetworkEventRegisterAny")
    }
    fn network_event_deregister(&self, callback_id: i32) -> Result<()> {
        nosup!("virConnectNetworkEventDeregisterAny")
    }
    fn pool_event_register(
        &self,
        pool: Option<&PoolRef>,
        event_id: i32,
        cb: PoolEventCallback,
    ) -> Result<i32> {
        nosup!("virConnectStoragePoolEventRegisterAny")
    }
    fn pool_event_deregister(&self, callback_id: i32) -> Result<()> {
        nosup!("virConnectStoragePoolEventDeregisterAny")
    }

    // ---- networks -----------------------------------------------------
    fn list_all_networks(&self, flags: u32) -> Result<Vec<NetworkRef>> {
        nosup!("virConnectListAllNetworks")
    }
    fn lookup_network_by_name(&self, name: &str) -> Result<NetworkRef> {
        nosup!("virNetworkLookupByName")
    }
    fn lookup_network_by_uuid(&self, uuid: &Uuid) -> Result<NetworkRef> {
        nosup!("virNetworkLookupByUUID")
    }
    fn network_define_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        nosup!("virNetworkDefineXML")
    }
    fn network_create_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        nosup!("virNetworkCreateXML")
    }
    fn network_undefine(&self, net: &NetworkRef) -> Result<()> {
        nosup!("virNetworkUndefine")
    }
    fn network_create(&self, net: &NetworkRef) -> Result<()> {
        nosup!("virNetworkCreate")
    }
    fn network_destroy(&self, net: &NetworkRef) -> Result<()> {
        nosup!("virNetworkDestroy")
    }
    fn network_get_xml_desc(&self, net: &NetworkRef, flags: u32) -> Result<String> {
        nosup!("virNetworkGetXMLDesc")
    }
    fn network_get_bridge_name(&self, net: &NetworkRef) -> Result<String> {
        nosup!("virNetworkGetBridgeName")
    }
    fn network_get_autostart(&self, net: &NetworkRef) -> Result<bool> {
        nosup!("virNetworkGetAutostart")
    }
    fn network_set_autostart(&self, net: &NetworkRef, autostart: bool) -> Result<()> {
        nosup!("virNetworkSetAutostart")
    }
    fn network_is_active(&self, net: &NetworkRef) -> Result<bool> {
        nosup!("virNetworkIsActive")
    }
    fn network_is_persistent(&self, net: &NetworkRef) -> Result<bool> {
        nosup!("virNetworkIsPersistent")
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
        nosup!("virNetworkUpdate")
    }
    fn network_get_dhcp_leases(
        &self,
        net: &NetworkRef,
        mac: Option<&str>,
        flags: u32,
    ) -> Result<Vec<NetworkDhcpLease>> {
        nosup!("virNetworkGetDHCPLeases")
    }

    fn list_all_network_ports(&self, net: &NetworkRef, flags: u32) -> Result<Vec<NetworkPortRef>> {
        nosup!("virNetworkListAllPorts")
    }
    fn lookup_network_port_by_uuid(&self, net: &NetworkRef, uuid: &Uuid) -> Result<NetworkPortRef> {
        nosup!("virNetworkPortLookupByUUID")
    }
    fn network_port_create_xml(
        &self,
        net: &NetworkRef,
        xml: &str,
        flags: u32,
    ) -> Result<NetworkPortRef> {
        nosup!("virNetworkPortCreateXML")
    }
    fn network_port_get_xml_desc(&self, port: &NetworkPortRef, flags: u32) -> Result<String> {
        nosup!("virNetworkPortGetXMLDesc")
    }
    fn network_port_delete(&self, port: &NetworkPortRef, flags: u32) -> Result<()> {
        nosup!("virNetworkPortDelete")
    }

    // ---- storage pools --------------------------------------------------
    fn list_all_storage_pools(&self, flags: u32) -> Result<Vec<PoolRef>> {
        nosup!("virConnectListAllStoragePools")
    }
    fn lookup_pool_by_name(&self, name: &str) -> Result<PoolRef> {
        nosup!("virStoragePoolLookupByName")
    }
    fn lookup_pool_by_uuid(&self, uuid: &Uuid) -> Result<PoolRef> {
        nosup!("virStoragePoolLookupByUUID")
    }
    fn lookup_pool_by_volume(&self, vol: &VolRef) -> Result<PoolRef> {
        nosup!("virStoragePoolLookupByVolume")
    }
    fn find_storage_pool_sources(
        &self,
        kind: &str,
        src_spec: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        nosup!("virConnectFindStoragePoolSources")
    }
    fn storage_pool_capabilities(&self, flags: u32) -> Result<String> {
        nosup!("virConnectGetStoragePoolCapabilities")
    }
    fn pool_define_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        nosup!("virStoragePoolDefineXML")
    }
    fn pool_create_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        nosup!("virStoragePoolCreateXML")
    }
    fn pool_build(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        nosup!("virStoragePoolBuild")
    }
    fn pool_create(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        nosup!("virStoragePoolCreate")
    }
    fn pool_destroy(&self, pool: &PoolRef) -> Result<()> {
        nosup!("virStoragePoolDestroy")
    }
    fn pool_delete(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        nosup!("virStoragePoolDelete")
    }
    fn pool_undefine(&self, pool: &PoolRef) -> Result<()> {
        nosup!("virStoragePoolUndefine")
    }
    fn pool_refresh(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        nosup!("virStoragePoolRefresh")
    }
    fn pool_get_info(&self, pool: &PoolRef) -> Result<PoolInfo> {
        nosup!("virStoragePoolGetInfo")
    }
    fn pool_get_xml_desc(&self, pool: &PoolRef, flags: u32) -> Result<String> {
        nosup!("virStoragePoolGetXMLDesc")
    }
    fn pool_get_autostart(&self, pool: &PoolRef) -> Result<bool> {
        nosup!("virStoragePoolGetAutostart")
    }
    fn pool_set_autostart(&self, pool: &PoolRef, autostart: bool) -> Result<()> {
        nosup!("virStoragePoolSetAutostart")
    }
    fn pool_is_active(&self, pool: &PoolRef) -> Result<bool> {
        nosup!("virStoragePoolIsActive")
    }
    fn pool_is_persistent(&self, pool: &PoolRef) -> Result<bool> {
        nosup!("virStoragePoolIsPersistent")
    }
    fn pool_list_all_volumes(&self, pool: &PoolRef, flags: u32) -> Result<Vec<VolRef>> {
        nosup!("virStoragePoolListAllVolumes")
    }
    fn pool_num_of_volumes(&self, pool: &PoolRef) -> Result<i32> {
        nosup!("virStoragePoolNumOfVolumes")
    }

    // ---- storage volumes ----------------------------------------------
    fn vol_create_xml(&self, pool: &PoolRef, xml: &str, flags: u32) -> Result<VolRef> {
        nosup!("virStorageVolCreateXML")
    }
    fn vol_create_xml_from(
        &self,
        pool: &PoolRef,
        xml: &str,
        clone: &VolRef,
        flags: u32,
    ) -> Result<VolRef> {
        nosup!("virStorageVolCreateXMLFrom")
    }
    fn lookup_vol_by_name(&self, pool: &PoolRef, name: &str) -> Result<VolRef> {
        nosup!("virStorageVolLookupByName")
    }
    fn lookup_vol_by_key(&self, key: &str) -> Result<VolRef> {
        nosup!("virStorageVolLookupByKey")
    }
    fn lookup_vol_by_path(&self, path: &str) -> Result<VolRef> {
        nosup!("virStorageVolLookupByPath")
    }
    fn vol_delete(&self, vol: &VolRef, flags: u32) -> Result<()> {
        nosup!("virStorageVolDelete")
    }
    fn vol_wipe(&self, vol: &VolRef, algorithm: u32, flags: u32) -> Result<()> {
        nosup!("virStorageVolWipePattern")
    }
    fn vol_wipe_zero(&self, vol: &VolRef, flags: u32) -> Result<()> {
        nosup!("virStorageVolWipe")
    }
    fn vol_get_info(&self, vol: &VolRef, flags: u32) -> Result<VolInfo> {
        nosup!("virStorageVolGetInfo")
    }
    fn vol_get_xml_desc(&self, vol: &VolRef, flags: u32) -> Result<String> {
        nosup!("virStorageVolGetXMLDesc")
    }
    fn vol_get_path(&self, vol: &VolRef) -> Result<String> {
        nosup!("virStorageVolGetPath")
    }
    fn vol_resize(&self, vol: &VolRef, capacity: u64, flags: u32) -> Result<()> {
        nosup!("virStorageVolResize")
    }
    fn vol_upload(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<Box<dyn Stream>> {
        nosup!("virStorageVolUpload")
    }
    fn vol_download(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<Box<dyn Stream>> {
        nosup!("virStorageVolDownload")
    }

    // ---- host interfaces ----------------------------------------------
    fn list_all_interfaces(&self, flags: u32) -> Result<Vec<InterfaceRef>> {
        nosup!("virConnectListAllInterfaces")
    }
    fn lookup_interface_by_name(&self, name: &str) -> Result<InterfaceRef> {
        nosup!("virInterfaceLookupByName")
    }
    fn lookup_interface_by_mac(&self, mac: &str) -> Result<InterfaceRef> {
        nosup!("virInterfaceLookupByMACString")
    }
    fn interface_get_xml_desc(&self, iface: &InterfaceRef, flags: u32) -> Result<String> {
        nosup!("virInterfaceGetXMLDesc")
    }
    fn interface_define_xml(&self, xml: &str, flags: u32) -> Result<InterfaceRef> {
        nosup!("virInterfaceDefineXML")
    }
    fn interface_undefine(&self, iface: &InterfaceRef) -> Result<()> {
        nosup!("virInterfaceUndefine")
    }
    fn interface_create(&self, iface: &InterfaceRef, flags: u32) -> Result<()> {
        nosup!("virInterfaceCreate")
    }
    fn interface_destroy(&self, iface: &InterfaceRef, flags: u32) -> Result<()> {
        nosup!("virInterfaceDestroy")
    }
    fn interface_is_active(&self, iface: &InterfaceRef) -> Result<bool> {
        nosup!("virInterfaceIsActive")
    }

    fn interface_change_begin(&self, flags: u32) -> Result<()> {
        nosup!("virInterfaceChangeBegin")
    }
    fn interface_change_commit(&self, flags: u32) -> Result<()> {
        nosup!("virInterfaceChangeCommit")
    }
    fn interface_change_rollback(&self, flags: u32) -> Result<()> {
        nosup!("virInterfaceChangeRollback")
    }

    // ---- node devices -------------------------------------------------
    fn list_all_node_devices(&self, flags: u32) -> Result<Vec<NodeDevRef>> {
        nosup!("virConnectListAllNodeDevices")
    }
    fn lookup_node_device_by_name(&self, name: &str) -> Result<NodeDevRef> {
        nosup!("virNodeDeviceLookupByName")
    }
    fn node_device_get_xml_desc(&self, dev: &NodeDevRef, flags: u32) -> Result<String> {
        nosup!("virNodeDeviceGetXMLDesc")
    }
    fn node_device_get_parent(&self, dev: &NodeDevRef) -> Result<Option<String>> {
        nosup!("virNodeDeviceGetParent")
    }
    fn node_device_list_caps(&self, dev: &NodeDevRef) -> Result<Vec<String>> {
        nosup!("virNodeDeviceListCaps")
    }
    fn node_device_create_xml(&self, xml: &str, flags: u32) -> Result<NodeDevRef> {
        nosup!("virNodeDeviceCreateXML")
    }
    fn node_device_destroy(&self, dev: &NodeDevRef) -> Result<()> {
        nosup!("virNodeDeviceDestroy")
    }

    fn lookup_scsi_host_by_wwn(&self, wwnn: &str, wwpn: &str, flags: u32) -> Result<NodeDevRef> {
        nosup!("virNodeDeviceLookupSCSIHostByWWN")
    }
    fn node_device_is_active(&self, dev: &NodeDevRef) -> Result<bool> {
        nosup!("virNodeDeviceIsActive")
    }
    fn node_device_is_persistent(&self, dev: &NodeDevRef) -> Result<bool> {
        nosup!("virNodeDeviceIsPersistent")
    }
    fn node_device_get_autostart(&self, dev: &NodeDevRef) -> Result<bool> {
        nosup!("virNodeDeviceGetAutostart")
    }
    fn node_device_set_autostart(&self, dev: &NodeDevRef, autostart: bool) -> Result<()> {
        nosup!("virNodeDeviceSetAutostart")
    }
    fn node_device_define_xml(&self, xml: &str, flags: u32) -> Result<NodeDevRef> {
        nosup!("virNodeDeviceDefineXML")
    }
    fn node_device_undefine(&self, dev: &NodeDevRef, flags: u32) -> Result<()> {
        nosup!("virNodeDeviceUndefine")
    }
    fn node_device_create(&self, dev: &NodeDevRef, flags: u32) -> Result<()> {
        nosup!("virNodeDeviceCreate")
    }
    fn node_device_detach(&self, dev: &NodeDevRef, driver: Option<&str>, flags: u32) -> Result<()> {
        if driver.is_some() {
            return Err(Error::no_support("virNodeDeviceDetachFlags"));
        }
        nosup!("virNodeDeviceDettach")
    }
    fn node_device_reattach(&self, dev: &NodeDevRef) -> Result<()> {
        nosup!("virNodeDeviceReAttach")
    }
    fn node_device_reset(&self, dev: &NodeDevRef) -> Result<()> {
        nosup!("virNodeDeviceReset")
    }

    // ---- secrets --------------------------------------------------------
    fn list_all_secrets(&self, flags: u32) -> Result<Vec<SecretRef>> {
        nosup!("virConnectListAllSecrets")
    }
    fn lookup_secret_by_uuid(&self, uuid: &Uuid) -> Result<SecretRef> {
        nosup!("virSecretLookupByUUID")
    }
    fn lookup_secret_by_usage(&self, usage_type: i32, usage_id: &str) -> Result<SecretRef> {
        nosup!("virSecretLookupByUsage")
    }
    fn secret_define_xml(&self, xml: &str, flags: u32) -> Result<SecretRef> {
        nosup!("virSecretDefineXML")
    }
    fn secret_get_xml_desc(&self, secret: &SecretRef, flags: u32) -> Result<String> {
        nosup!("virSecretGetXMLDesc")
    }
    fn secret_set_value(&self, secret: &SecretRef, value: &[u8], flags: u32) -> Result<()> {
        nosup!("virSecretSetValue")
    }
    fn secret_get_value(&self, secret: &SecretRef, flags: u32) -> Result<Vec<u8>> {
        nosup!("virSecretGetValue")
    }
    fn secret_undefine(&self, secret: &SecretRef) -> Result<()> {
        nosup!("virSecretUndefine")
    }

    // ---- network filters ----------------------------------------------
    fn list_all_nwfilters(&self, flags: u32) -> Result<Vec<NwFilterRef>> {
        nosup!("virConnectListAllNWFilters")
    }
    fn lookup_nwfilter_by_name(&self, name: &str) -> Result<NwFilterRef> {
        nosup!("virNWFilterLookupByName")
    }
    fn lookup_nwfilter_by_uuid(&self, uuid: &Uuid) -> Result<NwFilterRef> {
        nosup!("virNWFilterLookupByUUID")
    }
    fn nwfilter_define_xml(&self, xml: &str, flags: u32) -> Result<NwFilterRef> {
        if flags != 0 {
            return Err(Error::no_support("virNWFilterDefineXMLFlags"));
        }
        nosup!("virNWFilterDefineXML")
    }
    fn nwfilter_get_xml_desc(&self, filter: &NwFilterRef, flags: u32) -> Result<String> {
        nosup!("virNWFilterGetXMLDesc")
    }
    fn nwfilter_undefine(&self, filter: &NwFilterRef) -> Result<()> {
        nosup!("virNWFilterUndefine")
    }
    fn list_all_nwfilter_bindings(&self, flags: u32) -> Result<Vec<NwFilterBindingRef>> {
        nosup!("virConnectListAllNWFilterBindings")
    }
    fn lookup_nwfilter_binding_by_port_dev(&self, portdev: &str) -> Result<NwFilterBindingRef> {
        nosup!("virNWFilterBindingLookupByPortDev")
    }
    fn nwfilter_binding_create_xml(&self, xml: &str, flags: u32) -> Result<NwFilterBindingRef> {
        nosup!("virNWFilterBindingCreateXML")
    }
    fn nwfilter_binding_get_xml_desc(
        &self,
        binding: &NwFilterBindingRef,
        flags: u32,
    ) -> Result<String> {
        nosup!("virNWFilterBindingGetXMLDesc")
    }
    fn nwfilter_binding_delete(&self, binding: &NwFilterBindingRef) -> Result<()> {
        nosup!("virNWFilterBindingDelete")
    }
    fn node_device_event_register(
        &self,
        dev: Option<&NodeDevRef>,
        event_id: i32,
        cb: NodeDevEventCallback,
    ) -> Result<i32> {
        nosup!("virConnectNodeDeviceEventRegisterAny")
    }
    fn node_device_event_deregister(&self, callback_id: i32) -> Result<()> {
        nosup!("virConnectNodeDeviceEventDeregisterAny")
    }
    fn secret_event_register(
        &self,
        secret: Option<&SecretRef>,
        event_id: i32,
        cb: SecretEventCallback,
    ) -> Result<i32> {
        nosup!("virConnectSecretEventRegisterAny")
    }
    fn secret_event_deregister(&self, callback_id: i32) -> Result<()> {
        nosup!("virConnectSecretEventDeregisterAny")
    }
}
