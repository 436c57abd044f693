//! Argument, reply and message structs of the REMOTE program.
//!
//! Many procedures share one wire layout; those share one struct here,
//! named after the layout (`DomainFlagsArgs` is `{domain, flags}`).
//! Field order is wire order.

use crate::xdr::{CharArray, Decoder, Encoder, FixedChars, Opaque, Result, Xdr, XdrError};
use crate::xdr_struct;

/// List maxima from remote_protocol.x.
pub mod max {
    pub const DOMAIN_LIST: usize = 16384;
    pub const NETWORK_LIST: usize = 16384;
    pub const NETWORK_PORT_LIST: usize = 16384;
    pub const INTERFACE_LIST: usize = 16384;
    pub const STORAGE_POOL_LIST: usize = 16384;
    pub const STORAGE_VOL_LIST: usize = 16384;
    pub const NODE_DEVICE_LIST: usize = 65536;
    pub const NODE_DEVICE_CAPS_LIST: usize = 65536;
    pub const SECRET_LIST: usize = 16384;
    pub const NWFILTER_LIST: usize = 16384;
    pub const DOMAIN_SNAPSHOT_LIST: usize = 16384;
    pub const DOMAIN_CHECKPOINT_LIST: usize = 16384;
    pub const AUTH_TYPE_LIST: usize = 20;
    pub const CPUMAP: usize = 2048;
    pub const CPUMAPS: usize = 8_388_608;
    pub const VCPUINFO: usize = 16384;
    pub const SECURITY_MODEL: usize = 257;
    pub const SECURITY_DOI: usize = 257;
    pub const SECURITY_LABEL: usize = 4097;
    pub const DOMAIN_MESSAGES: usize = 2048;
    pub const DOMAIN_BLOCK_PEEK_BUFFER: usize = 4_194_304;
    pub const SCHEDULER_PARAMETERS: usize = 16;
    pub const BLKIO_PARAMETERS: usize = 16;
    pub const MEMORY_PARAMETERS: usize = 16;
    pub const NUMA_PARAMETERS: usize = 16;
    pub const BLOCK_IO_TUNE_PARAMETERS: usize = 32;
    pub const INTERFACE_PARAMETERS: usize = 16;
    pub const PERF_EVENTS: usize = 64;
    pub const NODE_CPU_STATS: usize = 16;
    pub const NODE_MEMORY_STATS: usize = 16;
    pub const CELLS: usize = 1024;
    pub const NODE_MAX_CELLS: usize = 1024;
    pub const CONNECT_CPU_MODELS: usize = 8192;
    pub const CPU_BASELINE: usize = 256;
    pub const MEMORY_STATS: usize = 1024;
    pub const DOMAIN_SEND_KEY: usize = 16;
    pub const ALL_DOMAIN_STATS: usize = 262_144;
    pub const EVENT_TUNABLE: usize = 2048;
    pub const JOB_STATS: usize = 64;
    pub const DOMAIN_INTERFACE: usize = 2048;
    pub const DOMAIN_IP_ADDR: usize = 2048;
    pub const NETWORK_DHCP_LEASES: usize = 65536;
    pub const SECRET_VALUE: usize = 65536;
    pub const MIGRATE_COOKIE: usize = 4 * 1024 * 1024;
    pub const MIGRATE_PARAM_LIST: usize = 64;
    pub const GRAPHICS_IDENTITY: usize = 20;
    pub const IOTHREAD_INFO: usize = 16384;
    pub const IOTHREAD_PARAMS: usize = 64;
    pub const DOMAIN_GET_CPU_STATS_NCPUS: usize = 128;
    pub const DOMAIN_GET_CPU_STATS: usize = 2048;
    pub const DOMAIN_DISK_ERRORS: usize = 256;
    pub const DOMAIN_FSFREEZE_MOUNTPOINTS: usize = 256;
    pub const DOMAIN_FSINFO: usize = 256;
    pub const DOMAIN_FSINFO_DISKS: usize = 256;
    pub const DOMAIN_LAUNCH_SECURITY_INFO_PARAMS: usize = 64;
}

/// Feature numbers of CONNECT_SUPPORTS_FEATURE (`VIR_DRV_FEATURE_*`).
pub mod feature {
    pub const MIGRATION_V1: i32 = 1;
    pub const REMOTE: i32 = 2;
    pub const MIGRATION_V2: i32 = 3;
    pub const MIGRATION_P2P: i32 = 4;
    pub const MIGRATION_DIRECT: i32 = 5;
    pub const MIGRATION_V3: i32 = 6;
    pub const MIGRATE_CHANGE_PROTECTION: i32 = 7;
    pub const FD_PASSING: i32 = 8;
    pub const TYPED_PARAM_STRING: i32 = 9;
    pub const PROGRAM_KEEPALIVE: i32 = 10;
    pub const XML_MIGRATABLE: i32 = 11;
    pub const MIGRATION_OFFLINE: i32 = 12;
    pub const MIGRATION_PARAMS: i32 = 13;
    pub const REMOTE_EVENT_CALLBACK: i32 = 14;
    pub const REMOTE_CLOSE_CALLBACK: i32 = 15;
    pub const NETWORK_UPDATE_HAS_CORRECT_ORDER: i32 = 16;
}

/// `remote_uuid`
pub type RemoteUuid = [u8; 16];

xdr_struct! {
    /// `remote_nonnull_domain`
    pub struct NonnullDomain { pub name: String, pub uuid: RemoteUuid, pub id: i32 }
    /// `remote_nonnull_network`
    pub struct NonnullNetwork { pub name: String, pub uuid: RemoteUuid }
    /// `remote_nonnull_storage_pool`
    pub struct NonnullStoragePool { pub name: String, pub uuid: RemoteUuid }
    /// `remote_nonnull_storage_vol`
    pub struct NonnullStorageVol { pub pool: String, pub name: String, pub key: String }
    /// `remote_nonnull_domain_snapshot`
    pub struct NonnullDomainSnapshot { pub name: String, pub dom: NonnullDomain }
    /// `remote_nonnull_domain_checkpoint`
    pub struct NonnullDomainCheckpoint { pub name: String, pub dom: NonnullDomain }
    /// `remote_nonnull_interface`
    pub struct NonnullInterface { pub name: String, pub mac: String }
    /// `remote_nonnull_node_device`
    pub struct NonnullNodeDevice { pub name: String }
    /// `remote_nonnull_secret`
    pub struct NonnullSecret { pub uuid: RemoteUuid, pub usage_type: i32, pub usage_id: String }
    /// `remote_nonnull_nwfilter`
    pub struct NonnullNwfilter { pub name: String, pub uuid: RemoteUuid }
    /// `remote_nonnull_network_port`
    pub struct NonnullNetworkPort { pub net: NonnullNetwork, pub uuid: RemoteUuid }

    /// `remote_error`
    pub struct RemoteError {
        pub code: i32,
        pub domain: i32,
        pub message: Option<String>,
        pub level: i32,
        pub dom: Option<NonnullDomain>,
        pub str1: Option<String>,
        pub str2: Option<String>,
        pub str3: Option<String>,
        pub int1: i32,
        pub int2: i32,
        pub net: Option<NonnullNetwork>,
    }

    // ---- generic layouts ------------------------------------------------
    /// `{int}`: LOOKUP_BY_ID, SUPPORTS_FEATURE, deregister callbacks...
    pub struct IntArgs { pub value: i32 }
    /// `{int}` replies.
    pub struct IntRet { pub value: i32 }
    /// `{unsigned int}`: flags-only calls.
    pub struct FlagsArgs { pub flags: u32 }
    /// `{unsigned hyper}` replies.
    pub struct UHyperRet { pub value: u64 }
    /// `{string}` arguments.
    pub struct StringArgs { pub value: String }
    /// `{string}` replies.
    pub struct StringRet { pub value: String }
    /// `{string, flags}`: DEFINE_XML_FLAGS, CREATE_XML, RESTORE_FLAGS-like...
    pub struct StringFlagsArgs { pub value: String, pub flags: u32 }
    /// `{optional string}`
    pub struct OptStringArgs { pub value: Option<String> }
    /// `{uuid}`
    pub struct UuidArgs { pub uuid: RemoteUuid }

    /// CONNECT_OPEN
    pub struct ConnectOpenArgs { pub name: Option<String>, pub flags: u32 }
    /// AUTH_LIST
    pub struct AuthListRet { pub types: Vec<i32> [max::AUTH_TYPE_LIST] }
    /// NODE_GET_INFO
    pub struct NodeGetInfoRet {
        pub model: FixedChars<32>,
        pub memory: u64,
        pub cpus: i32,
        pub mhz: i32,
        pub nodes: i32,
        pub sockets: i32,
        pub cores: i32,
        pub threads: i32,
    }
    /// NODE_GET_CELLS_FREE_MEMORY
    pub struct NodeGetCellsFreeMemoryArgs { pub start_cell: i32, pub maxcells: i32 }
    pub struct NodeGetCellsFreeMemoryRet { pub cells: Vec<u64> [max::CELLS] }
    /// NODE_GET_CPU_MAP
    pub struct NodeGetCpuMapArgs { pub need_map: i32, pub need_online: i32, pub flags: u32 }
    pub struct NodeGetCpuMapRet { pub cpumap: Opaque [max::CPUMAP], pub online: u32, pub ret: i32 }
    /// NODE_GET_SECURITY_MODEL
    pub struct NodeGetSecurityModelRet {
        pub model: CharArray [max::SECURITY_MODEL],
        pub doi: CharArray [max::SECURITY_DOI],
    }
    /// CONNECT_DOMAIN_XML_TO_NATIVE, CONNECT_DOMAIN_XML_FROM_NATIVE:
    /// `{nativeFormat, domainXml | nativeConfig, flags}`.
    pub struct ConnectDomainXmlNativeArgs { pub format: String, pub data: String, pub flags: u32 }
    /// CONNECT_GET_DOMAIN_CAPABILITIES
    pub struct ConnectGetDomainCapabilitiesArgs {
        pub emulatorbin: Option<String>,
        pub arch: Option<String>,
        pub machine: Option<String>,
        pub virttype: Option<String>,
        pub flags: u32,
    }
    /// `{need_results, flags}`: every LIST_ALL of the connection.
    pub struct ListAllArgs { pub need_results: i32, pub flags: u32 }
    /// The pre-ListAll calls: `{int maxnames}` / `{int maxids}`.
    pub struct ListMaxArgs { pub max: i32 }
    pub struct ListNamesRet { pub names: Vec<String> [max::NETWORK_LIST] }
    pub struct ListIdsRet { pub ids: Vec<i32> [max::DOMAIN_LIST] }
    pub struct ListAllDomainsRet { pub domains: Vec<NonnullDomain> [max::DOMAIN_LIST], pub ret: u32 }
    pub struct ListAllNetworksRet { pub nets: Vec<NonnullNetwork> [max::NETWORK_LIST], pub ret: u32 }
    pub struct ListAllStoragePoolsRet { pub pools: Vec<NonnullStoragePool> [max::STORAGE_POOL_LIST], pub ret: u32 }
    pub struct ListAllInterfacesRet { pub ifaces: Vec<NonnullInterface> [max::INTERFACE_LIST], pub ret: u32 }
    pub struct ListAllNodeDevicesRet { pub devices: Vec<NonnullNodeDevice> [max::NODE_DEVICE_LIST], pub ret: u32 }
    pub struct ListAllSecretsRet { pub secrets: Vec<NonnullSecret> [max::SECRET_LIST], pub ret: u32 }
    pub struct ListAllNwfiltersRet { pub filters: Vec<NonnullNwfilter> [max::NWFILTER_LIST], pub ret: u32 }

    // ---- domains --------------------------------------------------------
    pub struct DomainArgs { pub dom: NonnullDomain }
    pub struct DomainRet { pub dom: NonnullDomain }
    pub struct DomainFlagsArgs { pub dom: NonnullDomain, pub flags: u32 }
    /// `{dom, int}`: SET_AUTOSTART
    pub struct DomainIntArgs { pub dom: NonnullDomain, pub value: i32 }
    /// `{dom, unsigned hyper}`: SET_MEMORY, SET_MAX_MEMORY
    pub struct DomainUHyperArgs { pub dom: NonnullDomain, pub value: u64 }
    /// `{dom, unsigned hyper, flags}`: SET_MEMORY_FLAGS
    pub struct DomainUHyperFlagsArgs { pub dom: NonnullDomain, pub value: u64, pub flags: u32 }
    /// `{dom, unsigned int}`: SET_VCPUS
    pub struct DomainUIntArgs { pub dom: NonnullDomain, pub value: u32 }
    /// `{dom, unsigned int, flags}`: SET_VCPUS_FLAGS
    pub struct DomainUIntFlagsArgs { pub dom: NonnullDomain, pub value: u32, pub flags: u32 }
    /// `{dom, string}`: SAVE, block/interface stats
    pub struct DomainStringArgs { pub dom: NonnullDomain, pub value: String }
    /// `{dom, string, flags}`: attach/detach device flags, snapshot lookup...
    pub struct DomainStringFlagsArgs { pub dom: NonnullDomain, pub value: String, pub flags: u32 }
    /// `{dom, need_results, flags}`: LIST_ALL_SNAPSHOTS, LIST_ALL_CHECKPOINTS
    pub struct DomainListAllArgs { pub dom: NonnullDomain, pub need_results: i32, pub flags: u32 }
    pub struct DomainGetInfoRet {
        /// `unsigned char`
        pub state: u32,
        pub max_mem: u64,
        pub memory: u64,
        /// `unsigned short`
        pub nr_virt_cpu: u32,
        pub cpu_time: u64,
    }
    pub struct DomainGetStateRet { pub state: i32, pub reason: i32 }
    pub struct DomainGetControlInfoRet { pub state: u32, pub details: u32, pub state_time: u64 }
    pub struct DomainSaveFlagsArgs { pub dom: NonnullDomain, pub to: String, pub dxml: Option<String>, pub flags: u32 }
    pub struct DomainRestoreFlagsArgs { pub from: String, pub dxml: Option<String>, pub flags: u32 }
    pub struct DomainGetJobInfoRet {
        pub job_type: i32,
        pub time_elapsed: u64,
        pub time_remaining: u64,
        pub data_total: u64,
        pub data_processed: u64,
        pub data_remaining: u64,
        pub mem_total: u64,
        pub mem_processed: u64,
        pub mem_remaining: u64,
        pub file_total: u64,
        pub file_processed: u64,
        pub file_remaining: u64,
    }
    pub struct DomainGetSecurityLabelRet { pub label: CharArray [max::SECURITY_LABEL], pub enforcing: i32 }
    pub struct DomainGetMessagesRet { pub msgs: Vec<String> [max::DOMAIN_MESSAGES] }
    pub struct DomainGetMetadataArgs { pub dom: NonnullDomain, pub kind: i32, pub uri: Option<String>, pub flags: u32 }
    pub struct DomainSetMetadataArgs {
        pub dom: NonnullDomain,
        pub kind: i32,
        pub metadata: Option<String>,
        pub key: Option<String>,
        pub uri: Option<String>,
        pub flags: u32,
    }
    pub struct DomainGetSchedulerTypeRet { pub kind: String, pub nparams: i32 }
    /// `{dom, nparams, flags}`: the typed-parameter getters
    pub struct DomainGetParamsArgs { pub dom: NonnullDomain, pub nparams: i32, pub flags: u32 }
    pub struct TypedParamsRet { pub params: Vec<TypedParam> [max::ALL_DOMAIN_STATS] }
    /// `{dom, params}`: SET_SCHEDULER_PARAMETERS (no flags)
    pub struct DomainParamsArgs { pub dom: NonnullDomain, pub params: Vec<TypedParam> [max::SCHEDULER_PARAMETERS] }
    pub struct DomainSetParamsArgs { pub dom: NonnullDomain, pub params: Vec<TypedParam> [max::ALL_DOMAIN_STATS], pub flags: u32 }
    pub struct DomainGetVcpusArgs { pub dom: NonnullDomain, pub maxinfo: i32, pub maplen: i32 }
    pub struct VcpuInfoWire { pub number: u32, pub state: i32, pub cpu_time: u64, pub cpu: i32 }
    pub struct DomainGetVcpusRet { pub info: Vec<VcpuInfoWire> [max::VCPUINFO], pub cpumaps: Opaque [max::CPUMAPS] }
    pub struct DomainBlockStatsRet { pub rd_req: i64, pub rd_bytes: i64, pub wr_req: i64, pub wr_bytes: i64, pub errs: i64 }
    pub struct DomainInterfaceStatsRet {
        pub rx_bytes: i64, pub rx_packets: i64, pub rx_errs: i64, pub rx_drop: i64,
        pub tx_bytes: i64, pub tx_packets: i64, pub tx_errs: i64, pub tx_drop: i64,
    }
    pub struct DomainMemoryStatsArgs { pub dom: NonnullDomain, pub max_stats: u32, pub flags: u32 }
    pub struct MemoryStatWire { pub tag: i32, pub val: u64 }
    pub struct DomainMemoryStatsRet { pub stats: Vec<MemoryStatWire> [max::MEMORY_STATS] }
    pub struct DomainGetBlockInfoRet { pub allocation: u64, pub capacity: u64, pub physical: u64 }
    pub struct DomainBlockPeekArgs { pub dom: NonnullDomain, pub path: String, pub offset: u64, pub size: u32, pub flags: u32 }
    pub struct DomainBlockPeekRet { pub buffer: Opaque [max::DOMAIN_BLOCK_PEEK_BUFFER] }
    pub struct DomainBlockResizeArgs { pub dom: NonnullDomain, pub disk: String, pub size: u64, pub flags: u32 }
    pub struct DomainGetTimeRet { pub seconds: i64, pub nseconds: u32 }
    pub struct DomainRenameArgs { pub dom: NonnullDomain, pub new_name: Option<String>, pub flags: u32 }
    pub struct DomainGetHostnameArgs { pub dom: NonnullDomain, pub flags: u32 }
    pub struct ConnectGetAllDomainStatsArgs { pub doms: Vec<NonnullDomain> [max::DOMAIN_LIST], pub stats: u32, pub flags: u32 }
    pub struct DomainStatsRecord { pub dom: NonnullDomain, pub params: Vec<TypedParam> [max::ALL_DOMAIN_STATS] }
    pub struct ConnectGetAllDomainStatsRet { pub ret_stats: Vec<DomainStatsRecord> [max::DOMAIN_LIST] }
    pub struct DomainInterfaceAddressesArgs { pub dom: NonnullDomain, pub source: u32, pub flags: u32 }
    pub struct DomainIpAddrWire { pub kind: i32, pub addr: String, pub prefix: u32 }
    pub struct DomainInterfaceWire { pub name: String, pub hwaddr: Option<String>, pub addrs: Vec<DomainIpAddrWire> [max::DOMAIN_IP_ADDR] }
    pub struct DomainInterfaceAddressesRet { pub ifaces: Vec<DomainInterfaceWire> [max::DOMAIN_INTERFACE] }

    // ---- typed-parameter getters and setters, pinning, jobs ---------------
    /// `{params, nparams}`: with nparams = 0 in the call, only the count.
    pub struct ParamsCountRet { pub params: Vec<TypedParam> [max::ALL_DOMAIN_STATS], pub nparams: i32 }
    /// `{dom, device, nparams, flags}`: interface parameters, block stats flags
    pub struct DomainDeviceGetParamsArgs { pub dom: NonnullDomain, pub device: String, pub nparams: i32, pub flags: u32 }
    /// `{dom, device, params, flags}`: interface parameters, block I/O tune
    pub struct DomainDeviceSetParamsArgs { pub dom: NonnullDomain, pub device: String, pub params: Vec<TypedParam> [max::BLOCK_IO_TUNE_PARAMETERS], pub flags: u32 }
    pub struct DomainGetBlockIoTuneArgs { pub dom: NonnullDomain, pub disk: Option<String>, pub nparams: i32, pub flags: u32 }
    pub struct DomainSetLifecycleActionArgs { pub dom: NonnullDomain, pub kind: u32, pub action: u32, pub flags: u32 }
    pub struct IothreadInfoWire { pub iothread_id: u32, pub cpumap: Opaque [max::CPUMAP] }
    pub struct DomainGetIothreadInfoRet { pub info: Vec<IothreadInfoWire> [max::IOTHREAD_INFO], pub ret: u32 }
    /// `{dom, unsigned int, cpumap, flags}`: PIN_IOTHREAD, PIN_VCPU_FLAGS
    pub struct DomainPinArgs { pub dom: NonnullDomain, pub which: u32, pub cpumap: Opaque [max::CPUMAP], pub flags: u32 }
    /// `{dom, vcpu, cpumap}`: PIN_VCPU (no flags)
    pub struct DomainPinVcpuArgs { pub dom: NonnullDomain, pub vcpu: u32, pub cpumap: Opaque [max::CPUMAP] }
    pub struct DomainPinEmulatorArgs { pub dom: NonnullDomain, pub cpumap: Opaque [max::CPUMAP], pub flags: u32 }
    pub struct DomainSetIothreadParamsArgs { pub dom: NonnullDomain, pub iothread_id: u32, pub params: Vec<TypedParam> [max::IOTHREAD_PARAMS], pub flags: u32 }
    pub struct DomainGetVcpuPinInfoArgs { pub dom: NonnullDomain, pub ncpumaps: i32, pub maplen: i32, pub flags: u32 }
    /// `{cpumaps, int}`: vCPU and emulator pin info
    pub struct CpumapsRet { pub cpumaps: Opaque [max::CPUMAPS], pub num: i32 }
    /// `{dom, int, flags}`: emulator pin info, memory stats period
    pub struct DomainIntFlagsArgs { pub dom: NonnullDomain, pub value: i32, pub flags: u32 }
    pub struct DomainGetJobStatsRet { pub job_type: i32, pub params: Vec<TypedParam> [max::JOB_STATS] }
    pub struct NodeGetFreePagesArgs { pub pages: Vec<u32> [max::NODE_MAX_CELLS], pub start_cell: i32, pub cell_count: u32, pub flags: u32 }
    pub struct NodeGetFreePagesRet { pub counts: Vec<u64> [max::NODE_MAX_CELLS] }
    pub struct ConnectGetCpuModelNamesArgs { pub arch: String, pub need_results: i32, pub flags: u32 }
    pub struct ConnectGetCpuModelNamesRet { pub models: Vec<String> [max::CONNECT_CPU_MODELS], pub ret: i32 }
    pub struct ConnectBaselineCpuArgs { pub xml_cpus: Vec<String> [max::CPU_BASELINE], pub flags: u32 }
    pub struct NodeGetCpuStatsArgs { pub cpu_num: i32, pub nparams: i32, pub flags: u32 }
    pub struct NodeGetMemoryStatsArgs { pub nparams: i32, pub cell_num: i32, pub flags: u32 }
    pub struct NodeStatWire { pub field: String, pub value: u64 }
    pub struct NodeStatsRet { pub params: Vec<NodeStatWire> [max::NODE_CPU_STATS], pub nparams: i32 }
    pub struct DomainPmSuspendArgs { pub dom: NonnullDomain, pub target: u32, pub duration: u64, pub flags: u32 }
    pub struct DomainSendKeyArgs { pub dom: NonnullDomain, pub codeset: u32, pub holdtime: u32, pub keycodes: Vec<u32> [max::DOMAIN_SEND_KEY], pub flags: u32 }
    pub struct DomainCoreDumpArgs { pub dom: NonnullDomain, pub to: String, pub flags: u32 }
    pub struct DomainCoreDumpWithFormatArgs { pub dom: NonnullDomain, pub to: String, pub dumpformat: u32, pub flags: u32 }
    pub struct SaveImageDefineXmlArgs { pub file: String, pub dxml: String, pub flags: u32 }
    pub struct ManagedSaveDefineXmlArgs { pub dom: NonnullDomain, pub dxml: Option<String>, pub flags: u32 }

    // ---- guest agent and host-side domain queries -------------------------
    /// DOMAIN_FSFREEZE, DOMAIN_FSTHAW (replies: `{int filesystems}`)
    pub struct DomainFsFreezeArgs { pub dom: NonnullDomain, pub mountpoints: Vec<String> [max::DOMAIN_FSFREEZE_MOUNTPOINTS], pub flags: u32 }
    pub struct DomainFsTrimArgs { pub dom: NonnullDomain, pub mount_point: Option<String>, pub minimum: u64, pub flags: u32 }
    pub struct DomainFsInfoWire { pub mountpoint: String, pub name: String, pub fstype: String, pub dev_aliases: Vec<String> [max::DOMAIN_FSINFO_DISKS] }
    /// DOMAIN_GET_FSINFO (arguments: `{dom, flags}`)
    pub struct DomainGetFsInfoRet { pub info: Vec<DomainFsInfoWire> [max::DOMAIN_FSINFO], pub ret: u32 }
    pub struct DomainGetCpuStatsArgs { pub dom: NonnullDomain, pub nparams: u32, pub start_cpu: i32, pub ncpus: u32, pub flags: u32 }
    /// With nparams = 0 in the call, `nparams` alone answers (CPUs or
    /// stats per CPU); otherwise `params` holds the CPUs' stats, CPU by
    /// CPU, without the empty slots of CPUs that have none.
    pub struct DomainGetCpuStatsRet { pub params: Vec<TypedParam> [max::DOMAIN_GET_CPU_STATS], pub nparams: i32 }
    pub struct DomainDiskErrorWire { pub disk: String, pub error: i32 }
    pub struct DomainGetDiskErrorsArgs { pub dom: NonnullDomain, pub maxerrors: u32, pub flags: u32 }
    pub struct DomainGetDiskErrorsRet { pub errors: Vec<DomainDiskErrorWire> [max::DOMAIN_DISK_ERRORS], pub nerrors: i32 }
    /// DOMAIN_GET_LAUNCH_SECURITY_INFO (arguments: `{dom, flags}`)
    pub struct DomainGetLaunchSecurityInfoRet { pub params: Vec<TypedParam> [max::DOMAIN_LAUNCH_SECURITY_INFO_PARAMS] }
    pub struct DomainSendProcessSignalArgs { pub dom: NonnullDomain, pub pid_value: i64, pub signum: u32, pub flags: u32 }
    pub struct DomainSetTimeArgs { pub dom: NonnullDomain, pub seconds: i64, pub nseconds: u32, pub flags: u32 }
    pub struct DomainSetUserPasswordArgs { pub dom: NonnullDomain, pub user: Option<String>, pub password: Option<String>, pub flags: u32 }

    // ---- streams ------------------------------------------------------------
    pub struct DomainScreenshotArgs { pub dom: NonnullDomain, pub screen: u32, pub flags: u32 }
    pub struct DomainScreenshotRet { pub mime: Option<String> }
    pub struct DomainOpenConsoleArgs { pub dom: NonnullDomain, pub dev_name: Option<String>, pub flags: u32 }

    // ---- checkpoints ---------------------------------------------------------
    pub struct CheckpointRet { pub checkpoint: NonnullDomainCheckpoint }
    pub struct CheckpointFlagsArgs { pub checkpoint: NonnullDomainCheckpoint, pub flags: u32 }
    pub struct CheckpointListAllArgs { pub checkpoint: NonnullDomainCheckpoint, pub need_results: i32, pub flags: u32 }
    pub struct ListAllCheckpointsRet { pub checkpoints: Vec<NonnullDomainCheckpoint> [max::DOMAIN_CHECKPOINT_LIST], pub ret: i32 }

    // ---- events -------------------------------------------------------
    pub struct ConnectDomainEventCallbackRegisterAnyArgs { pub event_id: i32, pub dom: Option<NonnullDomain> }
    pub struct ConnectNetworkEventRegisterAnyArgs { pub event_id: i32, pub net: Option<NonnullNetwork> }
    pub struct ConnectStoragePoolEventRegisterAnyArgs { pub event_id: i32, pub pool: Option<NonnullStoragePool> }
    pub struct ConnectNodeDeviceEventRegisterAnyArgs { pub event_id: i32, pub dev: Option<NonnullNodeDevice> }
    pub struct DomainEventCallbackLifecycleMsg { pub callback_id: i32, pub dom: NonnullDomain, pub event: i32, pub detail: i32 }
    pub struct DomainEventCallbackDomOnlyMsg { pub callback_id: i32, pub dom: NonnullDomain }
    pub struct NetworkEventLifecycleMsg { pub callback_id: i32, pub net: NonnullNetwork, pub event: i32, pub detail: i32 }
    pub struct StoragePoolEventLifecycleMsg { pub callback_id: i32, pub pool: NonnullStoragePool, pub event: i32, pub detail: i32 }
    pub struct StoragePoolEventRefreshMsg { pub callback_id: i32, pub pool: NonnullStoragePool }
    pub struct NodeDeviceEventLifecycleMsg { pub callback_id: i32, pub dev: NonnullNodeDevice, pub event: i32, pub detail: i32 }
    pub struct NodeDeviceEventUpdateMsg { pub callback_id: i32, pub dev: NonnullNodeDevice }
    pub struct ConnectSecretEventRegisterAnyArgs { pub event_id: i32, pub secret: Option<NonnullSecret> }
    pub struct SecretEventLifecycleMsg { pub callback_id: i32, pub secret: NonnullSecret, pub event: i32, pub detail: i32 }
    pub struct SecretEventValueChangedMsg { pub callback_id: i32, pub secret: NonnullSecret }

    // ---- snapshots --------------------------------------------------------
    pub struct SnapshotArgs { pub snap: NonnullDomainSnapshot }
    pub struct SnapshotRet { pub snap: NonnullDomainSnapshot }
    pub struct SnapshotFlagsArgs { pub snap: NonnullDomainSnapshot, pub flags: u32 }
    pub struct ListAllSnapshotsRet { pub snapshots: Vec<NonnullDomainSnapshot> [max::DOMAIN_SNAPSHOT_LIST], pub ret: i32 }
    pub struct SnapshotListAllArgs { pub snap: NonnullDomainSnapshot, pub need_results: i32, pub flags: u32 }

    // ---- networks ---------------------------------------------------------
    pub struct NetworkArgs { pub net: NonnullNetwork }
    pub struct NetworkRet { pub net: NonnullNetwork }
    pub struct NetworkFlagsArgs { pub net: NonnullNetwork, pub flags: u32 }
    pub struct NetworkIntArgs { pub net: NonnullNetwork, pub value: i32 }
    pub struct NetworkUpdateArgs {
        pub net: NonnullNetwork,
        pub command: u32,
        pub section: u32,
        pub parent_index: i32,
        pub xml: String,
        pub flags: u32,
    }
    /// `remote_network_dhcp_lease`
    pub struct NetworkDhcpLeaseWire {
        pub iface: String,
        pub expirytime: i64,
        pub kind: i32,
        pub mac: Option<String>,
        pub iaid: Option<String>,
        pub ipaddr: String,
        pub prefix: u32,
        pub hostname: Option<String>,
        pub clientid: Option<String>,
    }
    pub struct NetworkGetDhcpLeasesArgs {
        pub net: NonnullNetwork,
        pub mac: Option<String>,
        pub need_results: i32,
        pub flags: u32,
    }
    pub struct NetworkGetDhcpLeasesRet {
        pub leases: Vec<NetworkDhcpLeaseWire> [max::NETWORK_DHCP_LEASES],
        pub ret: u32,
    }
    pub struct NetworkListAllPortsArgs { pub net: NonnullNetwork, pub need_results: i32, pub flags: u32 }
    pub struct NetworkListAllPortsRet {
        pub ports: Vec<NonnullNetworkPort> [max::NETWORK_PORT_LIST],
        pub ret: u32,
    }
    pub struct NetworkPortLookupByUuidArgs { pub net: NonnullNetwork, pub uuid: RemoteUuid }
    pub struct NetworkPortRet { pub port: NonnullNetworkPort }
    pub struct NetworkPortCreateXmlArgs { pub net: NonnullNetwork, pub xml: String, pub flags: u32 }
    pub struct NetworkPortFlagsArgs { pub port: NonnullNetworkPort, pub flags: u32 }

    // ---- storage ----------------------------------------------------------
    pub struct PoolArgs { pub pool: NonnullStoragePool }
    pub struct PoolRet { pub pool: NonnullStoragePool }
    pub struct PoolFlagsArgs { pub pool: NonnullStoragePool, pub flags: u32 }
    pub struct PoolIntArgs { pub pool: NonnullStoragePool, pub value: i32 }
    pub struct PoolStringArgs { pub pool: NonnullStoragePool, pub value: String }
    pub struct PoolStringFlagsArgs { pub pool: NonnullStoragePool, pub value: String, pub flags: u32 }
    pub struct PoolListAllArgs { pub pool: NonnullStoragePool, pub need_results: i32, pub flags: u32 }
    pub struct PoolGetInfoRet { pub state: u32, pub capacity: u64, pub allocation: u64, pub available: u64 }
    pub struct PoolListAllVolumesRet { pub vols: Vec<NonnullStorageVol> [max::STORAGE_VOL_LIST], pub ret: u32 }
    pub struct FindStoragePoolSourcesArgs { pub kind: String, pub src_spec: Option<String>, pub flags: u32 }
    pub struct VolArgs { pub vol: NonnullStorageVol }
    pub struct VolRet { pub vol: NonnullStorageVol }
    pub struct VolFlagsArgs { pub vol: NonnullStorageVol, pub flags: u32 }
    pub struct VolCreateXmlFromArgs { pub pool: NonnullStoragePool, pub xml: String, pub clonevol: NonnullStorageVol, pub flags: u32 }
    pub struct VolWipePatternArgs { pub vol: NonnullStorageVol, pub algorithm: u32, pub flags: u32 }
    pub struct VolGetInfoRet { pub kind: i32, pub capacity: u64, pub allocation: u64 }
    pub struct VolResizeArgs { pub vol: NonnullStorageVol, pub capacity: u64, pub flags: u32 }
    pub struct VolTransferArgs { pub vol: NonnullStorageVol, pub offset: u64, pub length: u64, pub flags: u32 }

    // ---- interfaces, node devices, secrets -----------------------------------
    pub struct InterfaceArgs { pub iface: NonnullInterface }
    pub struct InterfaceRet { pub iface: NonnullInterface }
    pub struct InterfaceFlagsArgs { pub iface: NonnullInterface, pub flags: u32 }
    pub struct NodeDeviceArgs { pub name: String }
    pub struct NodeDeviceFlagsArgs { pub name: String, pub flags: u32 }
    pub struct NodeDeviceRet { pub dev: NonnullNodeDevice }
    pub struct NodeDeviceGetParentRet { pub parent: Option<String> }
    pub struct NodeDeviceListCapsArgs { pub name: String, pub maxnames: i32 }
    pub struct NodeDeviceListCapsRet { pub names: Vec<String> [max::NODE_DEVICE_CAPS_LIST] }

    // ---- legacy name lists (virConnectList*, virStoragePoolListVolumes) --
    pub struct MaxNamesArgs { pub maxnames: i32 }
    pub struct PoolNamesRet { pub names: Vec<String> [max::STORAGE_POOL_LIST] }
    pub struct PoolListVolumesArgs { pub pool: NonnullStoragePool, pub maxnames: i32 }
    pub struct VolNamesRet { pub names: Vec<String> [max::STORAGE_VOL_LIST] }
    pub struct SecretUuidsRet { pub uuids: Vec<String> [max::SECRET_LIST] }
    pub struct SecretArgs { pub secret: NonnullSecret }
    pub struct SecretRet { pub secret: NonnullSecret }
    pub struct SecretFlagsArgs { pub secret: NonnullSecret, pub flags: u32 }
    pub struct SecretLookupByUsageArgs { pub usage_type: i32, pub usage_id: String }
    pub struct SecretSetValueArgs { pub secret: NonnullSecret, pub value: Opaque [max::SECRET_VALUE], pub flags: u32 }
    pub struct SecretGetValueRet { pub value: Opaque [max::SECRET_VALUE] }
}

/// `remote_typed_param`: a field name and a value tagged with its type.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedParam {
    pub field: String,
    pub value: TypedParamValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypedParamValue {
    Int(i32),
    UInt(u32),
    LLong(i64),
    ULLong(u64),
    Double(f64),
    Boolean(i32),
    String(String),
}

impl Xdr for TypedParam {
    fn encode(&self, e: &mut Encoder) {
        e.put_str(&self.field);
        match &self.value {
            TypedParamValue::Int(v) => {
                e.put_i32(1);
                e.put_i32(*v)
            }
            TypedParamValue::UInt(v) => {
                e.put_i32(2);
                e.put_u32(*v)
            }
            TypedParamValue::LLong(v) => {
                e.put_i32(3);
                e.put_i64(*v)
            }
            TypedParamValue::ULLong(v) => {
                e.put_i32(4);
                e.put_u64(*v)
            }
            TypedParamValue::Double(v) => {
                e.put_i32(5);
                e.put_f64(*v)
            }
            TypedParamValue::Boolean(v) => {
                e.put_i32(6);
                e.put_i32(*v)
            }
            TypedParamValue::String(v) => {
                e.put_i32(7);
                e.put_str(v)
            }
        }
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let field = String::decode(d)?;
        let t = d.get_i32()?;
        let value = match t {
            1 => TypedParamValue::Int(d.get_i32()?),
            2 => TypedParamValue::UInt(d.get_u32()?),
            3 => TypedParamValue::LLong(d.get_i64()?),
            4 => TypedParamValue::ULLong(d.get_u64()?),
            5 => TypedParamValue::Double(d.get_f64()?),
            6 => TypedParamValue::Boolean(d.get_i32()?),
            7 => TypedParamValue::String(String::decode(d)?),
            v => {
                return Err(XdrError::BadDiscriminant {
                    what: "typed parameter",
                    value: v,
                })
            }
        };
        Ok(TypedParam { field, value })
    }
    const MIN_SIZE: usize = 12;
}

impl Default for TypedParam {
    fn default() -> Self {
        TypedParam {
            field: String::new(),
            value: TypedParamValue::Int(0),
        }
    }
}
