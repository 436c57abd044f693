//! The hypervisor family (libvirt's `virHypervisorDriver`): connection and
//! node facts, domains, snapshots, checkpoints, domain and QEMU-monitor
//! events, and the PCI assignment of node devices.

use super::legacy;
use crate::driver::Stream;
use crate::error::code;
use crate::event::{DomainEventCallback, QemuMonitorEventCallback};
use crate::types::flags::*;
use crate::types::*;

crate::family! {
    /// A hypervisor driver: libvirt's `virHypervisorDriver`.
    trait HypervisorDriver, slot hypervisor, family Hypervisor, from DOMAIN;
    extra {
        /// virConnectClose's driver part.
        fn close(&self) -> crate::Result<()> {
            Ok(())
        }
    }

    // ---- connection -------------------------------------------------
    /// "Test", "QEMU", ...
    fn get_type() -> String
        = "virConnectGetType", read;

    fn get_version() -> u64
        = "virConnectGetVersion", read;
    fn get_lib_version() -> u64
        = "virConnectGetLibVersion", read,
        default(s) {
            Ok(crate::LIB_VERSION)
        };
    fn hostname() -> String
        = "virConnectGetHostname", read;
    fn sysinfo(flags: u32) -> String
        = "virConnectGetSysinfo", read;
    fn capabilities() -> String
        = "virConnectGetCapabilities", read;
    fn domain_capabilities(
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        flags: u32,
    ) -> String
        = "virConnectGetDomainCapabilities", write;
    fn node_info() -> NodeInfo
        = "virNodeGetInfo", read;
    fn max_vcpus(kind: Option<&str>) -> i32
        = "virConnectGetMaxVcpus", read;
    fn cells_free_memory(start: i32, max: i32) -> Vec<u64>
        = "virNodeGetCellsFreeMemory", read,
        check(c) {
            c.positive(max, "maxCells")?;
            c.nonneg(start, "startCell")?;
        };
    fn free_memory() -> u64
        = "virNodeGetFreeMemory", read;
    fn node_cpu_map(flags: u32) -> (Vec<u8>, u32, i32)
        = "virNodeGetCPUMap", read;
    fn node_cpu_stats(cpu: i32, flags: u32) -> Vec<(String, u64)>
        = "virNodeGetCPUStats", read,
        check(c) {
            if cpu < 0 && cpu != -1 {
                return Err(c.invalid_raw(format!(
                    "cpuNum in {} only accepts -1 as a negative value",
                    c.api
                )));
            }
        };
    fn node_memory_stats(cell: i32, flags: u32) -> Vec<(String, u64)>
        = "virNodeGetMemoryStats", read,
        check(c) {
            if cell < 0 && cell != -1 {
                return Err(c.invalid_raw(format!(
                    "cellNum in {} only accepts -1 as a negative value",
                    c.api
                )));
            }
        };
    fn node_free_pages(pages: &[u32], start_cell: i32, cell_count: u32, flags: u32) -> Vec<u64>
        = "virNodeGetFreePages", read,
        check(c) {
            c.nonzero(pages.len(), "npages")?;
            c.nonzero(cell_count, "cellCount")?;
        };
    fn node_alloc_pages(
        pages: &[u32],
        counts: &[u64],
        start_cell: i32,
        cell_count: u32,
        flags: u32,
    ) -> i32
        = "virNodeAllocPages", write,
        check(c) {
            c.nonzero(pages.len(), "npages")?;
            c.nonzero(cell_count, "cellCount")?;
        };
    fn node_get_memory_parameters(flags: u32) -> Vec<TypedParam>
        = "virNodeGetMemoryParameters", read;
    fn node_set_memory_parameters(params: &[TypedParam], flags: u32) -> ()
        = "virNodeSetMemoryParameters", write;
    fn node_suspend_for_duration(target: u32, duration: u64, flags: u32) -> ()
        = "virNodeSuspendForDuration", write;
    fn node_sev_info(flags: u32) -> Vec<TypedParam>
        = "virNodeGetSEVInfo", write;
    fn cpu_model_names(arch: &str, flags: u32) -> Vec<String>
        = "virConnectGetCPUModelNames", read;
    fn baseline_cpu(cpus: &[String], flags: u32) -> String
        = "virConnectBaselineCPU", read;
    fn compare_cpu(cpu: &str, flags: u32) -> i32
        = "virConnectCompareCPU", read;
    fn baseline_hypervisor_cpu(
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        cpus: &[String],
        flags: u32,
    ) -> String
        = "virConnectBaselineHypervisorCPU", write;
    fn compare_hypervisor_cpu(
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        cpu: &str,
        flags: u32,
    ) -> i32
        = "virConnectCompareHypervisorCPU", write;
    fn security_model() -> SecurityModel
        = "virNodeGetSecurityModel", read;
    fn is_secure() -> bool
        = "virConnectIsSecure", read,
        default(s) {
            Ok(true)
        };
    fn is_encrypted() -> bool
        = "virConnectIsEncrypted", read,
        default(s) {
            Ok(false)
        };

    // ---- domains: listing and lookup --------------------------------
    fn list_all_domains(flags: u32) -> Vec<DomainRef>
        = "virConnectListAllDomains", read;
    fn lookup_domain_by_id(id: i32) -> DomainRef
        = "virDomainLookupByID", read,
        check(c) {
            c.nonneg(id, "id")?;
        };
    fn lookup_domain_by_name(name: &str) -> DomainRef
        = "virDomainLookupByName", read;
    fn lookup_domain_by_uuid(uuid: &Uuid) -> DomainRef
        = "virDomainLookupByUUID", read;

    // ---- domains: the lists before ListAll (crate::family::legacy) -----
    fn num_of_domains() -> i32
        = "virConnectNumOfDomains", read,
        default(s) {
            let all = s.list_all_domains(list_domains::ACTIVE);
            legacy::count("virConnectNumOfDomains", all)
        };
    /// The ids of the first `maxids` running domains.
    fn list_domains(maxids: i32) -> Vec<i32>
        = "virConnectListDomains", read,
        check(c) {
            c.nonneg(maxids, "maxids")?;
        },
        default(s) {
            let all = s.list_all_domains(list_domains::ACTIVE);
            legacy::first("virConnectListDomains", all, maxids, |d| d.id)
        };
    fn num_of_defined_domains() -> i32
        = "virConnectNumOfDefinedDomains", read,
        default(s) {
            let all = s.list_all_domains(list_domains::INACTIVE);
            legacy::count("virConnectNumOfDefinedDomains", all)
        };
    fn list_defined_domains(maxnames: i32) -> Vec<String>
        = "virConnectListDefinedDomains", read,
        check(c) {
            c.nonneg(maxnames, "maxnames")?;
        },
        default(s) {
            let all = s.list_all_domains(list_domains::INACTIVE);
            legacy::first("virConnectListDefinedDomains", all, maxnames, |d| d.name)
        };

    // ---- domains: lifecycle -----------------------------------------
    fn domain_define_xml(xml: &str, flags: u32) -> DomainRef
        = "virDomainDefineXMLFlags", write, alias(flags == 0) "virDomainDefineXML";
    fn domain_create_xml(xml: &str, flags: u32) -> DomainRef
        = "virDomainCreateXML", write;
    fn domain_undefine(dom: &DomainRef, flags: u32) -> ()
        = "virDomainUndefineFlags", write, alias(flags == 0) "virDomainUndefine";
    /// Starts a defined domain; returns the handle with its new id.
    fn domain_create(dom: &DomainRef, flags: u32) -> DomainRef
        = "virDomainCreateWithFlags", write, alias(flags == 0) "virDomainCreate";
    fn domain_destroy(dom: &DomainRef, flags: u32) -> ()
        = "virDomainDestroyFlags", write, alias(flags == 0) "virDomainDestroy";
    fn domain_shutdown(dom: &DomainRef, flags: u32) -> ()
        = "virDomainShutdownFlags", write, alias(flags == 0) "virDomainShutdown";
    fn domain_reboot(dom: &DomainRef, flags: u32) -> ()
        = "virDomainReboot", write;
    fn domain_reset(dom: &DomainRef, flags: u32) -> ()
        = "virDomainReset", write;
    fn domain_suspend(dom: &DomainRef) -> ()
        = "virDomainSuspend", write;
    fn domain_resume(dom: &DomainRef) -> ()
        = "virDomainResume", write;
    fn domain_pm_suspend(dom: &DomainRef, target: u32, duration: u64, flags: u32) -> ()
        = "virDomainPMSuspendForDuration", write;
    fn domain_pm_wakeup(dom: &DomainRef, flags: u32) -> ()
        = "virDomainPMWakeup", write;
    fn domain_inject_nmi(dom: &DomainRef, flags: u32) -> ()
        = "virDomainInjectNMI", write;
    fn domain_send_key(dom: &DomainRef, codeset: u32, holdtime: u32, keys: &[u32], flags: u32) -> ()
        = "virDomainSendKey", write,
        check(c) {
            c.positive(keys.len(), "nkeycodes")?;
            if codeset >= 10 {
                return Err(c.invalid_raw(format!("Unsupported codeset '{}'", codeset)));
            }
            if keys.len() > 16 {
                return Err(c.invalid_raw("nkeycodes must be <= 16"));
            }
        };
    fn domain_save(dom: &DomainRef, to: &str, dxml: Option<&str>, flags: u32) -> ()
        = "virDomainSaveFlags", write, alias(flags == 0) "virDomainSave",
        check(c) {
            c.running_xor_paused(flags)?;
        };
    fn domain_restore(from: &str, dxml: Option<&str>, flags: u32) -> ()
        = "virDomainRestoreFlags", write, alias(flags == 0) "virDomainRestore",
        check(c) {
            c.running_xor_paused(flags)?;
        };
    fn domain_save_image_get_xml_desc(file: &str, flags: u32) -> String
        = "virDomainSaveImageGetXMLDesc", write;
    fn domain_save_image_define_xml(file: &str, dxml: &str, flags: u32) -> ()
        = "virDomainSaveImageDefineXML", write,
        check(c) {
            c.running_xor_paused(flags)?;
        };
    fn domain_core_dump(dom: &DomainRef, to: &str, format: u32, flags: u32) -> ()
        = "virDomainCoreDumpWithFormat", write, alias(format == 0) "virDomainCoreDump",
        check(c) {
            if format >= 5 {
                return Err(c.invalid_raw(format!("dumpformat '{}' is not supported", format)));
            }
            c.exclusive(
                flags,
                (dump::CRASH, "VIR_DUMP_CRASH"),
                (dump::LIVE, "VIR_DUMP_LIVE"),
            )?;
            c.exclusive(
                flags,
                (dump::CRASH, "VIR_DUMP_CRASH"),
                (dump::RESET, "VIR_DUMP_RESET"),
            )?;
            c.exclusive(
                flags,
                (dump::LIVE, "VIR_DUMP_LIVE"),
                (dump::RESET, "VIR_DUMP_RESET"),
            )?;
        };
    fn domain_managed_save(dom: &DomainRef, flags: u32) -> ()
        = "virDomainManagedSave", write,
        check(c) {
            c.running_xor_paused(flags)?;
        };
    fn domain_has_managed_save(dom: &DomainRef, flags: u32) -> bool
        = "virDomainHasManagedSaveImage", read;
    fn domain_managed_save_remove(dom: &DomainRef, flags: u32) -> ()
        = "virDomainManagedSaveRemove", write;
    fn domain_managed_save_get_xml_desc(dom: &DomainRef, flags: u32) -> String
        = "virDomainManagedSaveGetXMLDesc", read,
        check(c) {
            c.deny_if(
                flags & domain_xml::SECURE != 0,
                "virDomainManagedSaveGetXMLDesc with secure flag",
            )?;
        };
    fn domain_managed_save_define_xml(dom: &DomainRef, dxml: &str, flags: u32) -> ()
        = "virDomainManagedSaveDefineXML", write,
        pre(c) {
            c.running_xor_paused(flags)?;
        };
    fn domain_rename(dom: &DomainRef, new_name: &str, flags: u32) -> ()
        = "virDomainRename", write,
        pre(c) {
            c.nonempty(new_name, "new_name")?;
        };

    // ---- domains: state and description -----------------------------
    fn domain_get_xml_desc(dom: &DomainRef, flags: u32) -> String
        = "virDomainGetXMLDesc", read,
        check(c) {
            c.deny_if(
                flags & (domain_xml::SECURE | domain_xml::MIGRATABLE) != 0,
                "virDomainGetXMLDesc with secure flag",
            )?;
        };
    fn domain_get_info(dom: &DomainRef) -> DomainInfo
        = "virDomainGetInfo", read;
    /// `(state, reason)`
    fn domain_get_state(dom: &DomainRef, flags: u32) -> (i32, i32)
        = "virDomainGetState", read;
    fn domain_get_control_info(dom: &DomainRef, flags: u32) -> ControlInfo
        = "virDomainGetControlInfo", read;
    fn domain_get_os_type(dom: &DomainRef) -> String
        = "virDomainGetOSType", read;
    fn domain_get_max_memory(dom: &DomainRef) -> u64
        = "virDomainGetMaxMemory", read;
    fn domain_get_autostart(dom: &DomainRef) -> bool
        = "virDomainGetAutostart", read;
    fn domain_set_autostart(dom: &DomainRef, autostart: bool) -> ()
        = "virDomainSetAutostart", write;
    fn domain_is_active(dom: &DomainRef) -> bool
        = "virDomainIsActive", read;
    fn domain_is_persistent(dom: &DomainRef) -> bool
        = "virDomainIsPersistent", read;
    fn domain_is_updated(dom: &DomainRef) -> bool
        = "virDomainIsUpdated", read;
    fn domain_get_security_label(dom: &DomainRef) -> SecurityLabel
        = "virDomainGetSecurityLabel", read;
    fn domain_get_messages(dom: &DomainRef, flags: u32) -> Vec<String>
        = "virDomainGetMessages", read;
    fn domain_get_metadata(dom: &DomainRef, kind: i32, uri: Option<&str>, flags: u32) -> String
        = "virDomainGetMetadata", read,
        check(c) {
            c.live_xor_config(flags)?;
            match kind {
                0 | 1 => c.null(uri, "uri")?,
                2 => c.non_null(uri, "uri")?,
                _ => {}
            }
        };
    fn domain_set_metadata(
        dom: &DomainRef,
        kind: i32,
        metadata: Option<&str>,
        key: Option<&str>,
        uri: Option<&str>,
        flags: u32,
    ) -> ()
        = "virDomainSetMetadata", write,
        check(c) {
            match kind {
                1 if metadata.is_some_and(|m| m.contains('\n')) => {
                    return Err(c.invalid_raw("metadata title can't contain newlines"))
                }
                0 | 1 => {
                    c.null(uri, "uri")?;
                    c.null(key, "key")?;
                }
                2 => {
                    c.non_null(uri, "uri")?;
                    if metadata.is_some() {
                        c.non_null(key, "key")?;
                    }
                }
                _ => {}
            }
        };
    fn domain_get_hostname(dom: &DomainRef, flags: u32) -> String
        = "virDomainGetHostname", write;
    fn domain_get_time(dom: &DomainRef, flags: u32) -> (i64, u32)
        = "virDomainGetTime", write;

    // ---- domains: resources -----------------------------------------
    fn domain_set_memory(dom: &DomainRef, kib: u64, flags: u32) -> ()
        = "virDomainSetMemoryFlags", write,
        check(c) {
            c.nonzero(kib, "memory")?;
            if kib >= (i64::MAX as u64) / 1024 {
                return Err(c.error(code::OVERFLOW, format!("input too large: {}", kib)));
            }
        };
    fn domain_set_memory_stats_period(dom: &DomainRef, period: i32, flags: u32) -> ()
        = "virDomainSetMemoryStatsPeriod", write,
        check(c) {
            c.nonneg(period, "period")?;
        };
    fn domain_set_vcpus(dom: &DomainRef, n: u32, flags: u32) -> ()
        = "virDomainSetVcpusFlags", write, alias(flags == 0) "virDomainSetVcpus",
        check(c) {
            c.require(
                flags,
                (vcpu::MAXIMUM, "VIR_DOMAIN_VCPU_MAXIMUM"),
                (affect::CONFIG, "VIR_DOMAIN_AFFECT_CONFIG"),
            )?;
            c.exclusive(
                flags,
                (vcpu::GUEST, "VIR_DOMAIN_VCPU_GUEST"),
                (affect::CONFIG, "VIR_DOMAIN_AFFECT_CONFIG"),
            )?;
            c.nonzero(n, "nvcpus")?;
        };
    fn domain_get_vcpus_flags(dom: &DomainRef, flags: u32) -> i32
        = "virDomainGetVcpusFlags", read,
        check(c) {
            if flags & vcpu::GUEST != 0 {
                c.ro()?;
            }
            c.live_xor_config(flags)?;
        };
    fn domain_get_max_vcpus(dom: &DomainRef) -> i32
        = "virDomainGetMaxVcpus", read;
    /// Per-vCPU info plus one cpumap of `maplen` bytes per vCPU.
    fn domain_get_vcpus(dom: &DomainRef, maxinfo: i32, maplen: i32) -> (Vec<VcpuInfo>, Vec<u8>)
        = "virDomainGetVcpus", read,
        check(c) {
            c.positive(maxinfo, "maxinfo")?;
        };
    fn domain_pin_vcpu(dom: &DomainRef, vcpu: u32, cpumap: &[u8], flags: u32) -> ()
        = "virDomainPinVcpuFlags", write, alias(flags == 0) "virDomainPinVcpu",
        check(c) {
            c.positive(cpumap.len(), "maplen")?;
        };
    fn domain_get_vcpu_pin_info(
        dom: &DomainRef,
        ncpumaps: i32,
        maplen: i32,
        flags: u32,
    ) -> (Vec<u8>, i32)
        = "virDomainGetVcpuPinInfo", read,
        check(c) {
            c.positive(ncpumaps, "ncpumaps")?;
            c.positive(maplen, "maplen")?;
            if ncpumaps.checked_mul(maplen).is_none() {
                return Err(c.error(
                    code::OVERFLOW,
                    format!("input too large: {} * {}", ncpumaps, maplen),
                ));
            }
            c.live_xor_config(flags)?;
        };
    fn domain_pin_emulator(dom: &DomainRef, cpumap: &[u8], flags: u32) -> ()
        = "virDomainPinEmulator", write,
        check(c) {
            c.positive(cpumap.len(), "maplen")?;
        };
    fn domain_get_emulator_pin_info(dom: &DomainRef, maplen: i32, flags: u32) -> (Vec<u8>, i32)
        = "virDomainGetEmulatorPinInfo", read,
        check(c) {
            c.positive(maplen, "maplen")?;
            c.live_xor_config(flags)?;
        };
    /// `(scheduler type, number of parameters)`
    fn domain_get_scheduler_type(dom: &DomainRef) -> (String, i32)
        = "virDomainGetSchedulerType", read;
    fn domain_get_scheduler_parameters(dom: &DomainRef, nparams: i32, flags: u32) -> Vec<TypedParam>
        = "virDomainGetSchedulerParametersFlags", read,
        check(c) {
            c.live_xor_config(flags)?;
        };
    fn domain_set_scheduler_parameters(dom: &DomainRef, params: &[TypedParam], flags: u32) -> ()
        = "virDomainSetSchedulerParametersFlags",
          write,
          alias(flags == 0) "virDomainSetSchedulerParameters";
    /// Typed-parameter getters with an `nparams` take it as libvirt does:
    /// 0 asks for the count only (the answer's length; its entries may be
    /// placeholders, and the domain need not be looked up), N > 0 for at
    /// most N values.
    fn domain_get_blkio_parameters(dom: &DomainRef, nparams: i32, flags: u32) -> Vec<TypedParam>
        = "virDomainGetBlkioParameters", read,
        check(c) {
            c.live_xor_config(flags)?;
        };
    fn domain_set_blkio_parameters(dom: &DomainRef, params: &[TypedParam], flags: u32) -> ()
        = "virDomainSetBlkioParameters", write;
    fn domain_get_memory_parameters(dom: &DomainRef, nparams: i32, flags: u32) -> Vec<TypedParam>
        = "virDomainGetMemoryParameters", read,
        check(c) {
            c.live_xor_config(flags)?;
        };
    fn domain_set_memory_parameters(dom: &DomainRef, params: &[TypedParam], flags: u32) -> ()
        = "virDomainSetMemoryParameters", write,
        check(c) {
            c.positive(params.len(), "nparams")?;
        };
    fn domain_get_numa_parameters(dom: &DomainRef, nparams: i32, flags: u32) -> Vec<TypedParam>
        = "virDomainGetNumaParameters", read;
    fn domain_set_numa_parameters(dom: &DomainRef, params: &[TypedParam], flags: u32) -> ()
        = "virDomainSetNumaParameters", write,
        check(c) {
            c.positive(params.len(), "nparams")?;
        };
    fn domain_get_perf_events(dom: &DomainRef, flags: u32) -> Vec<TypedParam>
        = "virDomainGetPerfEvents", read;
    fn domain_get_block_io_tune(
        dom: &DomainRef,
        disk: Option<&str>,
        nparams: i32,
        flags: u32,
    ) -> Vec<TypedParam>
        = "virDomainGetBlockIoTune", read,
        check(c) {
            c.live_xor_config(flags)?;
        };
    fn domain_set_block_io_tune(
        dom: &DomainRef,
        disk: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> ()
        = "virDomainSetBlockIoTune", write,
        check(c) {
            c.positive(params.len(), "nparams")?;
        };
    fn domain_get_interface_parameters(
        dom: &DomainRef,
        device: &str,
        nparams: i32,
        flags: u32,
    ) -> Vec<TypedParam>
        = "virDomainGetInterfaceParameters", read;
    fn domain_set_interface_parameters(
        dom: &DomainRef,
        device: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> ()
        = "virDomainSetInterfaceParameters", write,
        check(c) {
            c.positive(params.len(), "nparams")?;
        };
    fn domain_get_iothread_info(dom: &DomainRef, flags: u32) -> Vec<IoThreadInfo>
        = "virDomainGetIOThreadInfo", read,
        check(c) {
            c.live_xor_config(flags)?;
        };
    fn domain_add_iothread(dom: &DomainRef, id: u32, flags: u32) -> ()
        = "virDomainAddIOThread", write;
    fn domain_del_iothread(dom: &DomainRef, id: u32, flags: u32) -> ()
        = "virDomainDelIOThread", write,
        check(c) {
            c.nonzero(id, "iothread_id")?;
        };
    fn domain_pin_iothread(dom: &DomainRef, id: u32, cpumap: &[u8], flags: u32) -> ()
        = "virDomainPinIOThread", write,
        check(c) {
            c.positive(cpumap.len(), "maplen")?;
        };
    fn domain_set_iothread_params(dom: &DomainRef, id: u32, params: &[TypedParam], flags: u32) -> ()
        = "virDomainSetIOThreadParams", write,
        check(c) {
            c.positive(params.len(), "nparams")?;
        };

    // ---- domains: statistics ----------------------------------------
    fn domain_block_stats(dom: &DomainRef, path: &str) -> BlockStats
        = "virDomainBlockStats", read;
    fn domain_block_stats_flags(
        dom: &DomainRef,
        path: &str,
        nparams: i32,
        flags: u32,
    ) -> Vec<TypedParam>
        = "virDomainBlockStatsFlags", read;
    fn domain_interface_stats(dom: &DomainRef, device: &str) -> InterfaceStats
        = "virDomainInterfaceStats", read;
    fn domain_memory_stats(dom: &DomainRef, nr_stats: u32, flags: u32) -> Vec<MemoryStat>
        = "virDomainMemoryStats", read,
        check(c) {
            if nr_stats == 0 {
                return Ok(Vec::new());
            }
        };
    fn domain_get_block_info(dom: &DomainRef, path: &str, flags: u32) -> BlockInfo
        = "virDomainGetBlockInfo", read,
        check(c) {
            c.nonempty(path, "disk")?;
        };
    fn domain_block_peek(dom: &DomainRef, disk: &str, offset: u64, size: u64, flags: u32) -> Vec<u8>
        = "virDomainBlockPeek", write,
        check(c) {
            c.nonempty(disk, "disk")?;
        };
    fn domain_get_cpu_stats(
        dom: &DomainRef,
        start_cpu: i32,
        ncpus: u32,
        nparams: i32,
        flags: u32,
    ) -> Vec<Vec<TypedParam>>
        = "virDomainGetCPUStats", read,
        check(c) {
            if start_cpu == -1 {
                if ncpus != 1 {
                    return Err(c.invalid_raw("ncpus must be 1 when start_cpu is -1"));
                }
            } else {
                c.nonneg(start_cpu, "start_cpu")?;
            }
        };
    /// Sends a raw QMP (or, with flag 1, HMP) command (libvirt-qemu).
    fn domain_qemu_monitor_command(dom: &DomainRef, cmd: &str, flags: u32) -> String
        = "virDomainQemuMonitorCommand", write, from NONE;
    fn domain_get_job_info(dom: &DomainRef) -> JobInfo
        = "virDomainGetJobInfo", read;
    fn domain_get_job_stats(dom: &DomainRef, flags: u32) -> (i32, Vec<TypedParam>)
        = "virDomainGetJobStats", read,
        check(c) {
            c.require(
                flags,
                (
                    job_stats::KEEP_COMPLETED,
                    "VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED",
                ),
                (job_stats::COMPLETED, "VIR_DOMAIN_JOB_STATS_COMPLETED"),
            )?;
        };
    fn domain_abort_job(dom: &DomainRef) -> ()
        = "virDomainAbortJob", write;
    fn domain_interface_addresses(dom: &DomainRef, source: u32, flags: u32) -> Vec<GuestInterface>
        = "virDomainInterfaceAddresses", read,
        check(c) {
            if source == 1 {
                c.ro()?;
            }
        };
    /// `None` for `doms` means every domain matching `flags`.
    fn get_all_domain_stats(
        doms: Option<&[DomainRef]>,
        stats: u32,
        flags: u32,
    ) -> Vec<(DomainRef, Vec<TypedParam>)>
        = "virConnectGetAllDomainStats", read;

    // ---- domains: devices and streams -------------------------------
    fn domain_attach_device(dom: &DomainRef, xml: &str, flags: u32) -> ()
        = "virDomainAttachDeviceFlags", write;
    fn domain_detach_device(dom: &DomainRef, xml: &str, flags: u32) -> ()
        = "virDomainDetachDeviceFlags", write;
    /// virDomainAttachDevice, the flag-less API: the live domain, unless a
    /// driver tells the two apart.
    fn domain_attach_device_plain(dom: &DomainRef, xml: &str) -> ()
        = "virDomainAttachDevice", write,
        default(s) {
            s.domain_attach_device(dom, xml, crate::types::flags::affect::LIVE)
        };
    /// virDomainDetachDevice, the flag-less API (see
    /// [`Connection::domain_attach_device_plain`]).
    fn domain_detach_device_plain(dom: &DomainRef, xml: &str) -> ()
        = "virDomainDetachDevice", write,
        default(s) {
            s.domain_detach_device(dom, xml, crate::types::flags::affect::LIVE)
        };
    fn domain_detach_device_alias(dom: &DomainRef, alias: &str, flags: u32) -> ()
        = "virDomainDetachDeviceAlias", write;
    fn domain_update_device(dom: &DomainRef, xml: &str, flags: u32) -> ()
        = "virDomainUpdateDeviceFlags", write;
    /// `(mime type, image stream)`
    fn domain_screenshot(dom: &DomainRef, screen: u32, flags: u32) -> (String, Box<dyn Stream>)
        = "virDomainScreenshot", write;
    fn domain_open_console(dom: &DomainRef, dev_name: Option<&str>, flags: u32) -> Box<dyn Stream>
        = "virDomainOpenConsole", write;

    // ---- domains: guest agent, block jobs, migration tuning ----------
    fn domain_set_time(dom: &DomainRef, seconds: i64, nseconds: u32, flags: u32) -> ()
        = "virDomainSetTime", write;
    fn domain_set_user_password(dom: &DomainRef, user: &str, password: &str, flags: u32) -> ()
        = "virDomainSetUserPassword", write;
    /// The number of file systems frozen.
    fn domain_fs_freeze(dom: &DomainRef, mountpoints: &[String], flags: u32) -> i32
        = "virDomainFSFreeze", write;
    /// The number of file systems thawed.
    fn domain_fs_thaw(dom: &DomainRef, mountpoints: &[String], flags: u32) -> i32
        = "virDomainFSThaw", write;
    fn domain_fs_trim(dom: &DomainRef, mountpoint: Option<&str>, minimum: u64, flags: u32) -> ()
        = "virDomainFSTrim", write;
    fn domain_get_fs_info(dom: &DomainRef, flags: u32) -> Vec<FsInfo>
        = "virDomainGetFSInfo", write;
    /// `(disk, virDomainDiskErrorCode)` for every disk in error.
    fn domain_get_disk_errors(dom: &DomainRef, flags: u32) -> Vec<(String, i32)>
        = "virDomainGetDiskErrors", read;
    fn domain_send_process_signal(dom: &DomainRef, pid: i64, signum: u32, flags: u32) -> ()
        = "virDomainSendProcessSignal", write,
        pre(c) {
            c.nonzero(pid, "pid_value")?;
        };
    fn domain_get_launch_security_info(dom: &DomainRef, flags: u32) -> Vec<TypedParam>
        = "virDomainGetLaunchSecurityInfo", write;
    fn domain_set_launch_security_state(dom: &DomainRef, params: &[TypedParam], flags: u32) -> ()
        = "virDomainSetLaunchSecurityState", write,
        pre(c) {
            c.positive(params.len(), "nparams")?;
        };
    fn domain_set_lifecycle_action(dom: &DomainRef, kind: u32, action: u32, flags: u32) -> ()
        = "virDomainSetLifecycleAction", write,
        check(c) {
            if kind >= 3 {
                return Err(c.error(
                    code::INVALID_ARG,
                    format!("invalid lifecycle type '{}'", kind),
                ));
            }
            if action >= 6 {
                return Err(c.error(
                    code::INVALID_ARG,
                    format!("invalid lifecycle action '{}'", action),
                ));
            }
        };
    fn domain_set_perf_events(dom: &DomainRef, params: &[TypedParam], flags: u32) -> ()
        = "virDomainSetPerfEvents", write,
        check(c) {
            c.positive(params.len(), "nparams")?;
        };
    fn domain_get_guest_info(dom: &DomainRef, types: u32, flags: u32) -> Vec<TypedParam>
        = "virDomainGetGuestInfo", write;
    fn domain_get_guest_vcpus(dom: &DomainRef, flags: u32) -> Vec<TypedParam>
        = "virDomainGetGuestVcpus", write;
    fn domain_set_guest_vcpus(dom: &DomainRef, cpumap: &str, state: i32, flags: u32) -> ()
        = "virDomainSetGuestVcpus", write;
    fn domain_authorized_ssh_keys_get(dom: &DomainRef, user: &str, flags: u32) -> Vec<String>
        = "virDomainAuthorizedSSHKeysGet", write;
    fn domain_authorized_ssh_keys_set(
        dom: &DomainRef,
        user: &str,
        keys: &[String],
        flags: u32,
    ) -> ()
        = "virDomainAuthorizedSSHKeysSet", write,
        pre(c) {
            c.exclusive(
                flags,
                (
                    ssh_keys::APPEND,
                    "VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_APPEND",
                ),
                (
                    ssh_keys::REMOVE,
                    "VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_REMOVE",
                ),
            )?;
        };
    fn domain_start_dirty_rate_calc(dom: &DomainRef, seconds: i32, flags: u32) -> ()
        = "virDomainStartDirtyRateCalc", write,
        check(c) {
            c.exclusive(
                flags,
                (
                    dirty_rate::DIRTY_BITMAP,
                    "VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_BITMAP",
                ),
                (
                    dirty_rate::DIRTY_RING,
                    "VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_RING",
                ),
            )?;
        };
    fn domain_set_block_threshold(dom: &DomainRef, dev: &str, threshold: u64, flags: u32) -> ()
        = "virDomainSetBlockThreshold", write;
    /// `None` when no job runs on the disk.
    fn domain_get_block_job_info(dom: &DomainRef, disk: &str, flags: u32) -> Option<BlockJobInfo>
        = "virDomainGetBlockJobInfo", read;
    fn domain_block_job_abort(dom: &DomainRef, disk: &str, flags: u32) -> ()
        = "virDomainBlockJobAbort", write;
    fn domain_block_job_set_speed(dom: &DomainRef, disk: &str, bandwidth: u64, flags: u32) -> ()
        = "virDomainBlockJobSetSpeed", write;
    fn domain_block_pull(dom: &DomainRef, disk: &str, bandwidth: u64, flags: u32) -> ()
        = "virDomainBlockPull", write;
    fn domain_block_rebase(
        dom: &DomainRef,
        disk: &str,
        base: Option<&str>,
        bandwidth: u64,
        flags: u32,
    ) -> ()
        = "virDomainBlockRebase", write,
        check(c) {
            if flags & block_rebase::COPY != 0 {
                c.non_null(base, "base")?;
            } else if flags
                & (block_rebase::SHALLOW
                    | block_rebase::REUSE_EXT
                    | block_rebase::COPY_RAW
                    | block_rebase::COPY_DEV)
                != 0
            {
                return Err(c.invalid_raw("use of flags requires a copy job"));
            }
        };
    fn domain_block_copy(
        dom: &DomainRef,
        disk: &str,
        destxml: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> ()
        = "virDomainBlockCopy", write;
    fn domain_block_commit(
        dom: &DomainRef,
        disk: &str,
        base: Option<&str>,
        top: Option<&str>,
        bandwidth: u64,
        flags: u32,
    ) -> ()
        = "virDomainBlockCommit", write;
    fn domain_block_resize(dom: &DomainRef, disk: &str, size: u64, flags: u32) -> ()
        = "virDomainBlockResize", write;
    /// virDrvSupportsFeature for the driver's own features (migration
    /// protocols); the daemon answers the RPC features itself.
    fn connect_supports_feature(feature: i32) -> bool
        = "virConnectSupportsFeature", read,
        default(s) {
            Ok(false)
        };
    // Migration protocol version 3 with typed parameters: the internal
    // APIs a client (or a peer-to-peer source) drives phase by phase.
    /// Source: the cookie and the domain XML for the destination.
    fn domain_migrate_begin3_params(dom: &DomainRef, params: &[TypedParam], flags: u32) -> (Vec<u8>, String)
        = "virDomainMigrateBegin3Params", write;
    /// Destination: the cookie and where the source sends the stream.
    fn domain_migrate_prepare3_params(params: &[TypedParam], cookie: &[u8], flags: u32) -> (Vec<u8>, Option<String>)
        = "virDomainMigratePrepare3Params", write;
    /// Source: migrates (to `dconnuri` itself when peer-to-peer).
    fn domain_migrate_perform3_params(
        dom: &DomainRef,
        dconnuri: Option<&str>,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
    ) -> Vec<u8>
        = "virDomainMigratePerform3Params", write;
    /// Destination: resumes (or, `cancelled`, kills) the incoming guest.
    fn domain_migrate_finish3_params(params: &[TypedParam], cookie: &[u8], flags: u32, cancelled: i32) -> (DomainRef, Vec<u8>)
        = "virDomainMigrateFinish3Params", write;
    /// Source: stops the migrated guest (or, `cancelled`, resumes it).
    fn domain_migrate_confirm3_params(
        dom: &DomainRef,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
        cancelled: i32,
    ) -> ()
        = "virDomainMigrateConfirm3Params", write;
    fn domain_migrate_set_max_downtime(dom: &DomainRef, downtime: u64, flags: u32) -> ()
        = "virDomainMigrateSetMaxDowntime", write;
    fn domain_migrate_get_max_downtime(dom: &DomainRef, flags: u32) -> u64
        = "virDomainMigrateGetMaxDowntime", read;
    fn domain_migrate_set_max_speed(dom: &DomainRef, bandwidth: u64, flags: u32) -> ()
        = "virDomainMigrateSetMaxSpeed", write;
    fn domain_migrate_get_max_speed(dom: &DomainRef, flags: u32) -> u64
        = "virDomainMigrateGetMaxSpeed", write;
    fn domain_migrate_get_compression_cache(dom: &DomainRef, flags: u32) -> u64
        = "virDomainMigrateGetCompressionCache", read;
    fn domain_migrate_set_compression_cache(dom: &DomainRef, size: u64, flags: u32) -> ()
        = "virDomainMigrateSetCompressionCache", write;
    fn domain_migrate_start_post_copy(dom: &DomainRef, flags: u32) -> ()
        = "virDomainMigrateStartPostCopy", write;
    /// libvirt-qemu's virDomainQemuAgentCommand.
    fn domain_qemu_agent_command(dom: &DomainRef, cmd: &str, timeout: i32, flags: u32) -> String
        = "virDomainQemuAgentCommand", write, from NONE;
    fn domain_set_vcpu(dom: &DomainRef, cpumap: &str, state: i32, flags: u32) -> ()
        = "virDomainSetVcpu", write;
    fn domain_agent_set_response_timeout(dom: &DomainRef, timeout: i32, flags: u32) -> ()
        = "virDomainAgentSetResponseTimeout", write;
    /// libvirt-lxc's virDomainLxcOpenNamespace: the namespace fds.
    fn domain_lxc_open_namespace(dom: &DomainRef, flags: u32) -> Vec<i32>
        = "virDomainLxcOpenNamespace", write, from NONE;
    fn domain_fd_associate(dom: &DomainRef, name: &str, fds: &[i32], flags: u32) -> ()
        = "virDomainFDAssociate", write,
        pre(c) {
            c.nonzero(fds.len(), "nfds")?;
        };
    fn domain_xml_from_native(format: &str, config: &str, flags: u32) -> String
        = "virConnectDomainXMLFromNative", write;
    fn domain_xml_to_native(format: &str, xml: &str, flags: u32) -> String
        = "virConnectDomainXMLToNative", write;

    // ---- snapshots ----------------------------------------------------
    fn snapshot_create_xml(dom: &DomainRef, xml: &str, flags: u32) -> SnapshotRef
        = "virDomainSnapshotCreateXML", write, from DOMAIN_SNAPSHOT,
        check(c) {
            c.require(
                flags,
                (
                    snapshot_create::CURRENT,
                    "VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT",
                ),
                (
                    snapshot_create::REDEFINE,
                    "VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE",
                ),
            )?;
            c.exclusive(
                flags,
                (
                    snapshot_create::REDEFINE,
                    "VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE",
                ),
                (
                    snapshot_create::NO_METADATA,
                    "VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA",
                ),
            )?;
            c.exclusive(
                flags,
                (
                    snapshot_create::REDEFINE,
                    "VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE",
                ),
                (snapshot_create::HALT, "VIR_DOMAIN_SNAPSHOT_CREATE_HALT"),
            )?;
        };
    fn snapshot_get_xml_desc(snap: &SnapshotRef, flags: u32) -> String
        = "virDomainSnapshotGetXMLDesc", read, from DOMAIN_SNAPSHOT,
        check(c) {
            c.deny_if(
                flags & snapshot_xml::SECURE != 0,
                "virDomainSnapshotGetXMLDesc with secure flag",
            )?;
        };
    fn snapshot_num(dom: &DomainRef, flags: u32) -> i32
        = "virDomainSnapshotNum", read, from DOMAIN_SNAPSHOT;
    fn list_all_snapshots(dom: &DomainRef, flags: u32) -> Vec<SnapshotRef>
        = "virDomainListAllSnapshots", read, from DOMAIN_SNAPSHOT;
    fn snapshot_list_all_children(snap: &SnapshotRef, flags: u32) -> Vec<SnapshotRef>
        = "virDomainSnapshotListAllChildren", read, from DOMAIN_SNAPSHOT;
    fn snapshot_num_children(snap: &SnapshotRef, flags: u32) -> i32
        = "virDomainSnapshotNumChildren", read, from DOMAIN_SNAPSHOT;
    fn snapshot_list_names(dom: &DomainRef, nameslen: i32, flags: u32) -> Vec<String>
        = "virDomainSnapshotListNames", read, from DOMAIN_SNAPSHOT,
        check(c) {
            c.nonneg(nameslen, "nameslen")?;
        },
        default(s) {
            let all = s.list_all_snapshots(dom, flags);
            legacy::first("virDomainSnapshotListNames", all, nameslen, |x| x.name)
        };
    fn snapshot_list_children_names(snap: &SnapshotRef, nameslen: i32, flags: u32) -> Vec<String>
        = "virDomainSnapshotListChildrenNames", read, from DOMAIN_SNAPSHOT,
        check(c) {
            c.nonneg(nameslen, "nameslen")?;
        },
        default(s) {
            let all = s.snapshot_list_all_children(snap, flags);
            legacy::first("virDomainSnapshotListChildrenNames", all, nameslen, |x| x.name)
        };
    fn snapshot_lookup_by_name(dom: &DomainRef, name: &str, flags: u32) -> SnapshotRef
        = "virDomainSnapshotLookupByName", read, from DOMAIN_SNAPSHOT;
    fn has_current_snapshot(dom: &DomainRef, flags: u32) -> bool
        = "virDomainHasCurrentSnapshot", read, from DOMAIN_SNAPSHOT;
    fn snapshot_current(dom: &DomainRef, flags: u32) -> SnapshotRef
        = "virDomainSnapshotCurrent", read, from DOMAIN_SNAPSHOT;
    fn snapshot_get_parent(snap: &SnapshotRef, flags: u32) -> SnapshotRef
        = "virDomainSnapshotGetParent", read, from DOMAIN_SNAPSHOT;
    fn snapshot_is_current(snap: &SnapshotRef, flags: u32) -> bool
        = "virDomainSnapshotIsCurrent", read, from DOMAIN_SNAPSHOT;
    fn snapshot_has_metadata(snap: &SnapshotRef, flags: u32) -> bool
        = "virDomainSnapshotHasMetadata", read, from DOMAIN_SNAPSHOT;
    fn snapshot_revert(snap: &SnapshotRef, flags: u32) -> ()
        = "virDomainRevertToSnapshot", write, from DOMAIN_SNAPSHOT,
        check(c) {
            c.exclusive(
                flags,
                (
                    snapshot_revert::RUNNING,
                    "VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING",
                ),
                (snapshot_revert::PAUSED, "VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED"),
            )?;
        };
    fn snapshot_delete(snap: &SnapshotRef, flags: u32) -> ()
        = "virDomainSnapshotDelete", write, from DOMAIN_SNAPSHOT,
        check(c) {
            c.exclusive(
                flags,
                (
                    snapshot_delete::CHILDREN,
                    "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN",
                ),
                (
                    snapshot_delete::CHILDREN_ONLY,
                    "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY",
                ),
            )?;
        };

    // ---- checkpoints --------------------------------------------------
    fn checkpoint_create_xml(dom: &DomainRef, xml: &str, flags: u32) -> CheckpointRef
        = "virDomainCheckpointCreateXML", write, from DOMAIN_CHECKPOINT,
        check(c) {
            c.exclusive(
                flags,
                (
                    checkpoint_create::REDEFINE,
                    "VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE",
                ),
                (
                    checkpoint_create::QUIESCE,
                    "VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE",
                ),
            )?;
            c.require(
                flags,
                (
                    checkpoint_create::REDEFINE_VALIDATE,
                    "VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE",
                ),
                (
                    checkpoint_create::REDEFINE,
                    "VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE",
                ),
            )?;
        };
    fn checkpoint_get_xml_desc(cp: &CheckpointRef, flags: u32) -> String
        = "virDomainCheckpointGetXMLDesc", read, from DOMAIN_CHECKPOINT,
        check(c) {
            c.deny_if(
                flags & checkpoint_xml::SECURE != 0,
                "virDomainCheckpointGetXMLDesc with secure flag",
            )?;
        };
    fn list_all_checkpoints(dom: &DomainRef, flags: u32) -> Vec<CheckpointRef>
        = "virDomainListAllCheckpoints", read, from DOMAIN_CHECKPOINT;
    fn checkpoint_list_all_children(cp: &CheckpointRef, flags: u32) -> Vec<CheckpointRef>
        = "virDomainCheckpointListAllChildren", read, from DOMAIN_CHECKPOINT;
    fn checkpoint_lookup_by_name(dom: &DomainRef, name: &str, flags: u32) -> CheckpointRef
        = "virDomainCheckpointLookupByName", read, from DOMAIN_CHECKPOINT;
    fn checkpoint_get_parent(cp: &CheckpointRef, flags: u32) -> CheckpointRef
        = "virDomainCheckpointGetParent", read, from DOMAIN_CHECKPOINT;
    fn checkpoint_delete(cp: &CheckpointRef, flags: u32) -> ()
        = "virDomainCheckpointDelete", write, from DOMAIN_CHECKPOINT,
        check(c) {
            c.exclusive(
                flags,
                (
                    checkpoint_delete::CHILDREN,
                    "VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN",
                ),
                (
                    checkpoint_delete::CHILDREN_ONLY,
                    "VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY",
                ),
            )?;
        };

    // ---- events -------------------------------------------------------
    /// Registers a domain event callback; returns the callback id.
    fn domain_event_register(dom: Option<&DomainRef>, event_id: i32, cb: DomainEventCallback) -> i32
        = "virConnectDomainEventRegisterAny", read, registers(Domain),
        check(c) {
            c.nonneg(event_id, "eventID")?;
            if event_id >= crate::event::DOMAIN_EVENT_ID_LAST {
                return Err(c.invalid_raw(format!(
                    "eventID must be less than {}",
                    crate::event::DOMAIN_EVENT_ID_LAST
                )));
            }
        };
    fn domain_event_deregister(callback_id: i32) -> ()
        = "virConnectDomainEventDeregisterAny", read, deregisters(Domain, callback_id),
        check(c) {
            c.nonneg(callback_id, "callbackID")?;
        };
    /// libvirt-qemu's virConnectDomainQemuMonitorEventRegister: events
    /// named `event` (all when None; a regex or case-insensitive by
    /// `flags`).
    fn domain_qemu_monitor_event_register(
        dom: Option<&DomainRef>,
        event: Option<&str>,
        cb: QemuMonitorEventCallback,
        flags: u32,
    ) -> i32
        = "virConnectDomainQemuMonitorEventRegister", write, from NONE, registers(QemuMonitor);
    fn domain_qemu_monitor_event_deregister(callback_id: i32) -> ()
        = "virConnectDomainQemuMonitorEventDeregister",
          write,
          from NONE,
          deregisters(QemuMonitor, callback_id),
        pre(c) {
            c.nonneg(callback_id, "callbackID")?;
        };

    // ---- node devices -------------------------------------------------
    fn node_device_detach(dev: &NodeDevRef, driver: Option<&str>, flags: u32) -> ()
        = "virNodeDeviceDettach",
          write,
          alias(driver.is_some() || flags != 0) "virNodeDeviceDetachFlags",
          from NODEDEV;
    fn node_device_reattach(dev: &NodeDevRef) -> ()
        = "virNodeDeviceReAttach", write, from NODEDEV;
    fn node_device_reset(dev: &NodeDevRef) -> ()
        = "virNodeDeviceReset", write, from NODEDEV;
}
