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
    pub const DOMAIN_BLOCK_COPY_PARAMETERS: usize = 16;
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
    pub const DOMAIN_GUEST_INFO_PARAMS: usize = 2048;
    pub const DOMAIN_GUEST_VCPU_PARAMS: usize = 64;
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
    /// `{int}` replies.
    pub struct IntRet { pub value: i32 }

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
    pub struct NodeGetCpuMapRet { pub cpumap: Opaque [max::CPUMAP], pub online: u32, pub ret: i32 }
    /// NODE_GET_SECURITY_MODEL
    pub struct NodeGetSecurityModelRet {
        pub model: CharArray [max::SECURITY_MODEL],
        pub doi: CharArray [max::SECURITY_DOI],
    }
    pub struct ListAllDomainsRet { pub domains: Vec<NonnullDomain> [max::DOMAIN_LIST], pub ret: u32 }

    // ---- domains --------------------------------------------------------
    pub struct DomainGetInfoRet {
        /// `unsigned char`
        pub state: u32,
        pub max_mem: u64,
        pub memory: u64,
        /// `unsigned short`
        pub nr_virt_cpu: u32,
        pub cpu_time: u64,
    }
    pub struct DomainGetControlInfoRet { pub state: u32, pub details: u32, pub state_time: u64 }
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
    pub struct TypedParamsRet { pub params: Vec<TypedParam> [max::ALL_DOMAIN_STATS] }
    pub struct DomainSetParamsArgs { pub dom: NonnullDomain, pub params: Vec<TypedParam> [max::ALL_DOMAIN_STATS], pub flags: u32 }
    pub struct VcpuInfoWire { pub number: u32, pub state: i32, pub cpu_time: u64, pub cpu: i32 }
    pub struct DomainGetVcpusRet { pub info: Vec<VcpuInfoWire> [max::VCPUINFO], pub cpumaps: Opaque [max::CPUMAPS] }
    pub struct DomainBlockStatsRet { pub rd_req: i64, pub rd_bytes: i64, pub wr_req: i64, pub wr_bytes: i64, pub errs: i64 }
    pub struct DomainInterfaceStatsRet {
        pub rx_bytes: i64, pub rx_packets: i64, pub rx_errs: i64, pub rx_drop: i64,
        pub tx_bytes: i64, pub tx_packets: i64, pub tx_errs: i64, pub tx_drop: i64,
    }
    pub struct MemoryStatWire { pub tag: i32, pub val: u64 }
    pub struct DomainGetBlockInfoRet { pub allocation: u64, pub capacity: u64, pub physical: u64 }
    pub struct DomainGetBlockJobInfoRet { pub found: i32, pub kind: i32, pub bandwidth: u64, pub cur: u64, pub end: u64 }
    pub struct ConnectGetAllDomainStatsArgs { pub doms: Vec<NonnullDomain> [max::DOMAIN_LIST], pub stats: u32, pub flags: u32 }
    pub struct DomainStatsRecord { pub dom: NonnullDomain, pub params: Vec<TypedParam> [max::ALL_DOMAIN_STATS] }
    pub struct DomainIpAddrWire { pub kind: i32, pub addr: String, pub prefix: u32 }
    pub struct DomainInterfaceWire { pub name: String, pub hwaddr: Option<String>, pub addrs: Vec<DomainIpAddrWire> [max::DOMAIN_IP_ADDR] }
    pub struct DomainInterfaceAddressesRet { pub ifaces: Vec<DomainInterfaceWire> [max::DOMAIN_INTERFACE] }

    // ---- typed-parameter getters and setters, pinning, jobs ---------------
    pub struct IothreadInfoWire { pub iothread_id: u32, pub cpumap: Opaque [max::CPUMAP] }
    pub struct DomainGetIothreadInfoRet { pub info: Vec<IothreadInfoWire> [max::IOTHREAD_INFO], pub ret: u32 }
    /// `{cpumaps, int}`: vCPU and emulator pin info
    pub struct CpumapsRet { pub cpumaps: Opaque [max::CPUMAPS], pub num: i32 }
    pub struct NodeStatWire { pub field: String, pub value: u64 }
    pub struct NodeStatsRet { pub params: Vec<NodeStatWire> [max::NODE_CPU_STATS], pub nparams: i32 }

    // ---- guest agent and host-side domain queries -------------------------
    /// DOMAIN_FSFREEZE, DOMAIN_FSTHAW (replies: `{int filesystems}`)
    pub struct DomainFsFreezeArgs { pub dom: NonnullDomain, pub mountpoints: Vec<String> [max::DOMAIN_FSFREEZE_MOUNTPOINTS], pub flags: u32 }
    pub struct DomainFsInfoWire { pub mountpoint: String, pub name: String, pub fstype: String, pub dev_aliases: Vec<String> [max::DOMAIN_FSINFO_DISKS] }
    /// DOMAIN_GET_FSINFO (arguments: `{dom, flags}`)
    pub struct DomainGetFsInfoRet { pub info: Vec<DomainFsInfoWire> [max::DOMAIN_FSINFO], pub ret: u32 }
    pub struct DomainGetCpuStatsArgs { pub dom: NonnullDomain, pub nparams: u32, pub start_cpu: i32, pub ncpus: u32, pub flags: u32 }
    /// With nparams = 0 in the call, `nparams` alone answers (CPUs or
    /// stats per CPU); otherwise `params` holds the CPUs' stats, CPU by
    /// CPU, without the empty slots of CPUs that have none.
    pub struct DomainGetCpuStatsRet { pub params: Vec<TypedParam> [max::DOMAIN_GET_CPU_STATS], pub nparams: i32 }
    pub struct DomainDiskErrorWire { pub disk: String, pub error: i32 }
    pub struct DomainGetDiskErrorsRet { pub errors: Vec<DomainDiskErrorWire> [max::DOMAIN_DISK_ERRORS], pub nerrors: i32 }
    pub struct DomainSendProcessSignalArgs { pub dom: NonnullDomain, pub pid_value: i64, pub signum: u32, pub flags: u32 }
    pub struct DomainSetUserPasswordArgs { pub dom: NonnullDomain, pub user: Option<String>, pub password: Option<String>, pub flags: u32 }

    // ---- streams ------------------------------------------------------------
    pub struct DomainScreenshotRet { pub mime: Option<String> }

    // ---- events -------------------------------------------------------
    pub struct DomainEventCallbackLifecycleMsg { pub callback_id: i32, pub dom: NonnullDomain, pub event: i32, pub detail: i32 }
    pub struct NetworkEventLifecycleMsg { pub callback_id: i32, pub net: NonnullNetwork, pub event: i32, pub detail: i32 }
    pub struct StoragePoolEventLifecycleMsg { pub callback_id: i32, pub pool: NonnullStoragePool, pub event: i32, pub detail: i32 }
    pub struct StoragePoolEventRefreshMsg { pub callback_id: i32, pub pool: NonnullStoragePool }
    pub struct NodeDeviceEventLifecycleMsg { pub callback_id: i32, pub dev: NonnullNodeDevice, pub event: i32, pub detail: i32 }
    pub struct NodeDeviceEventUpdateMsg { pub callback_id: i32, pub dev: NonnullNodeDevice }
    pub struct ConnectSecretEventRegisterAnyArgs { pub event_id: i32, pub secret: Option<NonnullSecret> }
    pub struct SecretEventLifecycleMsg { pub callback_id: i32, pub secret: NonnullSecret, pub event: i32, pub detail: i32 }
    pub struct SecretEventValueChangedMsg { pub callback_id: i32, pub secret: NonnullSecret }

    // ---- networks ---------------------------------------------------------
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

    // ---- storage ----------------------------------------------------------
    pub struct PoolGetInfoRet { pub state: u32, pub capacity: u64, pub allocation: u64, pub available: u64 }
    pub struct VolGetInfoRet { pub kind: i32, pub capacity: u64, pub allocation: u64 }
    pub struct VolTransferArgs { pub vol: NonnullStorageVol, pub offset: u64, pub length: u64, pub flags: u32 }
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
