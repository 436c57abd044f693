//! Handles, states, info records and typed parameters, with libvirt's numbers.

pub use oxvirt_xml::props::Uuid;

/// A domain as a client holds it: name, UUID, and the id it last saw
/// (-1 when inactive). Drivers resolve by UUID: ids may be stale.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DomainRef {
    pub name: String,
    pub uuid: Uuid,
    pub id: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NetworkRef {
    pub name: String,
    pub uuid: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PoolRef {
    pub name: String,
    pub uuid: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct VolRef {
    pub pool: String,
    pub name: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SnapshotRef {
    pub name: String,
    pub domain: DomainRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CheckpointRef {
    pub name: String,
    pub domain: DomainRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct InterfaceRef {
    pub name: String,
    pub mac: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NodeDevRef {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SecretRef {
    pub uuid: Uuid,
    pub usage_type: i32,
    pub usage_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NwFilterRef {
    pub name: String,
    pub uuid: Uuid,
}

/// A port of a virtual network.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NetworkPortRef {
    pub network: String,
    pub uuid: Uuid,
}

/// A network filter binding, named by its port device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NwFilterBindingRef {
    pub portdev: String,
    pub filter: String,
}

/// `virDomainState`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(i32)]
pub enum DomainState {
    #[default]
    NoState = 0,
    Running = 1,
    Blocked = 2,
    Paused = 3,
    Shutdown = 4,
    Shutoff = 5,
    Crashed = 6,
    PmSuspended = 7,
}

impl DomainState {
    pub fn from_i32(v: i32) -> Option<Self> {
        use DomainState::*;
        Some(match v {
            0 => NoState,
            1 => Running,
            2 => Blocked,
            3 => Paused,
            4 => Shutdown,
            5 => Shutoff,
            6 => Crashed,
            7 => PmSuspended,
            _ => return None,
        })
    }

    /// True for every state but shut off (libvirt's virDomainObjIsActive).
    pub fn is_active(self) -> bool {
        !matches!(self, DomainState::Shutoff | DomainState::NoState)
    }
}

/// Reason codes, per state (`virDomainRunningReason` and friends).
pub mod reason {
    pub mod running {
        pub const UNKNOWN: i32 = 0;
        pub const BOOTED: i32 = 1;
        pub const MIGRATED: i32 = 2;
        pub const RESTORED: i32 = 3;
        pub const FROM_SNAPSHOT: i32 = 4;
        pub const UNPAUSED: i32 = 5;
        pub const MIGRATION_CANCELED: i32 = 6;
        pub const SAVE_CANCELED: i32 = 7;
        pub const WAKEUP: i32 = 8;
        pub const CRASHED: i32 = 9;
        pub const POSTCOPY: i32 = 10;
        pub const POSTCOPY_FAILED: i32 = 11;
    }
    pub mod paused {
        pub const UNKNOWN: i32 = 0;
        pub const USER: i32 = 1;
        pub const MIGRATION: i32 = 2;
        pub const SAVE: i32 = 3;
        pub const DUMP: i32 = 4;
        pub const IOERROR: i32 = 5;
        pub const WATCHDOG: i32 = 6;
        pub const FROM_SNAPSHOT: i32 = 7;
        pub const SHUTTING_DOWN: i32 = 8;
        pub const SNAPSHOT: i32 = 9;
        pub const CRASHED: i32 = 10;
        pub const STARTING_UP: i32 = 11;
        pub const POSTCOPY: i32 = 12;
        pub const POSTCOPY_FAILED: i32 = 13;
    }
    pub mod shutdown {
        pub const UNKNOWN: i32 = 0;
        pub const USER: i32 = 1;
    }
    pub mod shutoff {
        pub const UNKNOWN: i32 = 0;
        pub const SHUTDOWN: i32 = 1;
        pub const DESTROYED: i32 = 2;
        pub const CRASHED: i32 = 3;
        pub const MIGRATED: i32 = 4;
        pub const SAVED: i32 = 5;
        pub const FAILED: i32 = 6;
        pub const FROM_SNAPSHOT: i32 = 7;
        pub const DAEMON: i32 = 8;
    }
    pub mod crashed {
        pub const UNKNOWN: i32 = 0;
        pub const PANICKED: i32 = 1;
    }
}

/// What virConnectListAllDomains filters on, for one domain; drivers fill
/// it in and share the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListFacts {
    pub active: bool,
    pub persistent: bool,
    pub state: DomainState,
    pub managed_save: bool,
    pub autostart: bool,
    pub has_snapshot: bool,
    pub has_checkpoint: bool,
}

impl ListFacts {
    /// Whether the domain passes virConnectListAllDomainsFlags `f`: each
    /// pair of opposite flags filters only when one of them is given.
    pub fn matches(&self, f: u32) -> bool {
        use flags::list_domains as lf;
        let pair = |yes: u32, no: u32, v: bool| {
            f & (yes | no) == 0 || (f & yes != 0 && v) || (f & no != 0 && !v)
        };
        let st = self.state;
        let state_ok = f & (lf::RUNNING | lf::PAUSED | lf::SHUTOFF | lf::OTHER) == 0
            || (f & lf::RUNNING != 0 && st == DomainState::Running)
            || (f & lf::PAUSED != 0 && st == DomainState::Paused)
            || (f & lf::SHUTOFF != 0 && st == DomainState::Shutoff)
            || (f & lf::OTHER != 0
                && !matches!(
                    st,
                    DomainState::Running | DomainState::Paused | DomainState::Shutoff
                ));
        pair(lf::ACTIVE, lf::INACTIVE, self.active)
            && pair(lf::PERSISTENT, lf::TRANSIENT, self.persistent)
            && state_ok
            && pair(lf::MANAGEDSAVE, lf::NO_MANAGEDSAVE, self.managed_save)
            && pair(lf::AUTOSTART, lf::NO_AUTOSTART, self.autostart)
            && pair(lf::HAS_SNAPSHOT, lf::NO_SNAPSHOT, self.has_snapshot)
            && pair(lf::HAS_CHECKPOINT, lf::NO_CHECKPOINT, self.has_checkpoint)
    }
}

/// `virDomainInfo`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DomainInfo {
    pub state: DomainState,
    /// KiB
    pub max_mem: u64,
    /// KiB
    pub memory: u64,
    pub nr_virt_cpu: u16,
    /// nanoseconds
    pub cpu_time: u64,
}

/// `virNodeInfo`
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeInfo {
    pub model: String,
    /// KiB
    pub memory: u64,
    pub cpus: u32,
    pub mhz: u32,
    pub nodes: u32,
    pub sockets: u32,
    pub cores: u32,
    pub threads: u32,
}

/// `virVcpuInfo`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VcpuInfo {
    pub number: u32,
    pub state: i32,
    pub cpu_time: u64,
    pub cpu: i32,
}

/// `virDomainBlockStatsStruct`; -1 means "not available".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockStats {
    pub rd_req: i64,
    pub rd_bytes: i64,
    pub wr_req: i64,
    pub wr_bytes: i64,
    pub errs: i64,
}

/// `virDomainInterfaceStatsStruct`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InterfaceStats {
    pub rx_bytes: i64,
    pub rx_packets: i64,
    pub rx_errs: i64,
    pub rx_drop: i64,
    pub tx_bytes: i64,
    pub tx_packets: i64,
    pub tx_errs: i64,
    pub tx_drop: i64,
}

/// `virDomainBlockInfo`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockInfo {
    pub capacity: u64,
    pub allocation: u64,
    pub physical: u64,
}

/// `virDomainJobInfo`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobInfo {
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

/// `virDomainControlInfo`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ControlInfo {
    pub state: u32,
    pub details: u32,
    pub state_time: u64,
}

/// `virStoragePoolInfo`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolInfo {
    pub state: i32,
    pub capacity: u64,
    pub allocation: u64,
    pub available: u64,
}

/// `virStorageVolInfo`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VolInfo {
    pub kind: i32,
    pub capacity: u64,
    pub allocation: u64,
}

/// `virSecurityModel`
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityModel {
    pub model: String,
    pub doi: String,
}

/// `virSecurityLabel`
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityLabel {
    pub label: String,
    pub enforcing: bool,
}

/// `virDomainIOThreadInfo`
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IoThreadInfo {
    pub iothread_id: u32,
    pub cpumap: Vec<u8>,
}

/// One address of a guest interface (`virDomainIPAddress`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpAddress {
    pub kind: i32,
    pub addr: String,
    pub prefix: u32,
}

/// A guest file system (`virDomainFSInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FsInfo {
    pub mountpoint: String,
    pub name: String,
    pub fstype: String,
    pub dev_aliases: Vec<String>,
}

/// A block job's progress (`virDomainBlockJobInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockJobInfo {
    pub job_type: i32,
    pub bandwidth: u64,
    pub cur: u64,
    pub end: u64,
}

/// `virDomainInterface`
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuestInterface {
    pub name: String,
    pub hwaddr: Option<String>,
    pub addrs: Vec<IpAddress>,
}

/// VIR_DOMAIN_MEMORY_STAT_* tags of [`MemoryStat`].
pub mod memory_stat {
    pub const SWAP_IN: i32 = 0;
    pub const SWAP_OUT: i32 = 1;
    pub const MAJOR_FAULT: i32 = 2;
    pub const MINOR_FAULT: i32 = 3;
    pub const UNUSED: i32 = 4;
    pub const AVAILABLE: i32 = 5;
    pub const ACTUAL_BALLOON: i32 = 6;
    pub const RSS: i32 = 7;
    pub const USABLE: i32 = 8;
    pub const LAST_UPDATE: i32 = 9;
    pub const DISK_CACHES: i32 = 10;
    pub const HUGETLB_PGALLOC: i32 = 11;
    pub const HUGETLB_PGFAIL: i32 = 12;
}

/// A memory statistic (`virDomainMemoryStatStruct`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryStat {
    pub tag: i32,
    pub val: u64,
}

/// A DHCP lease on a virtual network.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkDhcpLease {
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

/// The value of a typed parameter (`virTypedParameterType` 1..7).
#[derive(Debug, Clone, PartialEq)]
pub enum TypedValue {
    Int(i32),
    UInt(u32),
    LLong(i64),
    ULLong(u64),
    Double(f64),
    Boolean(bool),
    String(String),
}

impl TypedValue {
    pub fn type_code(&self) -> i32 {
        match self {
            TypedValue::Int(_) => 1,
            TypedValue::UInt(_) => 2,
            TypedValue::LLong(_) => 3,
            TypedValue::ULLong(_) => 4,
            TypedValue::Double(_) => 5,
            TypedValue::Boolean(_) => 6,
            TypedValue::String(_) => 7,
        }
    }

    /// The value as an unsigned 64-bit integer when it is integral.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            TypedValue::Int(v) => u64::try_from(v).ok(),
            TypedValue::UInt(v) => Some(v as u64),
            TypedValue::LLong(v) => u64::try_from(v).ok(),
            TypedValue::ULLong(v) => Some(v),
            TypedValue::Boolean(b) => Some(b as u64),
            _ => None,
        }
    }
}

/// `virTypedParameter`
#[derive(Debug, Clone, PartialEq)]
pub struct TypedParam {
    pub field: String,
    pub value: TypedValue,
}

impl TypedParam {
    pub fn new(field: impl Into<String>, value: TypedValue) -> Self {
        TypedParam {
            field: field.into(),
            value,
        }
    }
}

/// Finds a parameter by name.
pub fn param<'a>(params: &'a [TypedParam], field: &str) -> Option<&'a TypedValue> {
    params.iter().find(|p| p.field == field).map(|p| &p.value)
}

/// libvirt's `virTypedParamsValidate`: every parameter must be one of the
/// allowed names with the allowed type code, and a name may occur once.
/// Parameters and allowed names are walked in name order, so the error
/// reported is the one libvirt's sorted walk meets first.
pub fn validate_params(
    params: &[TypedParam],
    allowed: &[(&str, i32)],
    domain: i32,
) -> crate::Result<()> {
    use crate::Error;
    let mut sorted: Vec<&TypedParam> = params.iter().collect();
    sorted.sort_by(|a, b| a.field.as_bytes().cmp(b.field.as_bytes()));
    let mut keys = allowed.to_vec();
    keys.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let (mut i, mut j) = (0, 0);
    let mut last: Option<&str> = None;
    while i < sorted.len() && j < keys.len() {
        let (p, (name, t)) = (sorted[i], keys[j]);
        if p.field != name {
            j += 1;
            continue;
        }
        if last == Some(name) {
            return Err(Error::invalid_arg(
                domain,
                format!("parameter '{}' occurs multiple times", name),
            ));
        }
        if p.value.type_code() != t {
            return Err(Error::invalid_arg(
                domain,
                format!(
                    "invalid type '{}' for parameter '{}', expected '{}'",
                    typed_param_type_name(p.value.type_code()),
                    p.field,
                    typed_param_type_name(t)
                ),
            ));
        }
        last = Some(name);
        i += 1;
    }
    match sorted.get(i) {
        Some(p) if j == keys.len() => Err(Error::argument_unsupported(
            domain,
            format!("parameter '{}' not supported", p.field),
        )),
        _ => Ok(()),
    }
}

/// libvirt's name for a typed parameter type code.
pub fn typed_param_type_name(t: i32) -> &'static str {
    match t {
        1 => "int",
        2 => "uint",
        3 => "llong",
        4 => "ullong",
        5 => "double",
        6 => "boolean",
        7 => "string",
        _ => "unknown",
    }
}

/// Flag constants, grouped by the libvirt API that takes them.
/// Node device capability names, in virConnectListAllNodeDeviceFlags'
/// bit order.
pub const NODE_DEVICE_CAPS: &[&str] = &[
    "system",
    "pci",
    "usb_device",
    "usb",
    "net",
    "scsi_host",
    "scsi_target",
    "scsi",
    "storage",
    "fc_host",
    "vports",
    "scsi_generic",
    "drm",
    "mdev_types",
    "mdev",
    "ccw",
    "css",
    "vdpa",
    "ap_card",
    "ap_queue",
    "ap_matrix",
    "vpd",
];

/// virConnectListAllNodeDevices' flag for a capability name (0 for a
/// name libvirt does not know).
pub fn node_device_cap_flag(cap: &str) -> u32 {
    NODE_DEVICE_CAPS
        .iter()
        .position(|c| *c == cap)
        .map_or(0, |i| 1 << i)
}

pub mod flags {
    /// virConnectListAllDomainsFlags
    pub mod list_domains {
        pub const ACTIVE: u32 = 1;
        pub const INACTIVE: u32 = 2;
        pub const PERSISTENT: u32 = 4;
        pub const TRANSIENT: u32 = 8;
        pub const RUNNING: u32 = 16;
        pub const PAUSED: u32 = 32;
        pub const SHUTOFF: u32 = 64;
        pub const OTHER: u32 = 128;
        pub const MANAGEDSAVE: u32 = 256;
        pub const NO_MANAGEDSAVE: u32 = 512;
        pub const AUTOSTART: u32 = 1024;
        pub const NO_AUTOSTART: u32 = 2048;
        pub const HAS_SNAPSHOT: u32 = 4096;
        pub const NO_SNAPSHOT: u32 = 8192;
        pub const HAS_CHECKPOINT: u32 = 16384;
        pub const NO_CHECKPOINT: u32 = 32768;
    }
    /// Pool and network listing flags.
    pub mod list_objects {
        pub const INACTIVE: u32 = 1;
        pub const ACTIVE: u32 = 2;
        pub const PERSISTENT: u32 = 4;
        pub const TRANSIENT: u32 = 8;
        pub const AUTOSTART: u32 = 16;
        pub const NO_AUTOSTART: u32 = 32;
    }
    /// virDomainXMLFlags
    pub mod domain_xml {
        pub const SECURE: u32 = 1;
        pub const INACTIVE: u32 = 2;
        pub const UPDATE_CPU: u32 = 4;
        pub const MIGRATABLE: u32 = 8;
    }
    /// virDomainMigrateFlags
    pub mod migrate {
        pub const LIVE: u32 = 0x1;
        pub const PEER2PEER: u32 = 0x2;
        pub const TUNNELLED: u32 = 0x4;
        pub const PERSIST_DEST: u32 = 0x8;
        pub const UNDEFINE_SOURCE: u32 = 0x10;
        pub const PAUSED: u32 = 0x20;
        pub const NON_SHARED_DISK: u32 = 0x40;
        pub const NON_SHARED_INC: u32 = 0x80;
        pub const CHANGE_PROTECTION: u32 = 0x100;
        pub const UNSAFE: u32 = 0x200;
        pub const OFFLINE: u32 = 0x400;
        pub const COMPRESSED: u32 = 0x800;
        pub const ABORT_ON_ERROR: u32 = 0x1000;
        pub const AUTO_CONVERGE: u32 = 0x2000;
        pub const RDMA_PIN_ALL: u32 = 0x4000;
        pub const POSTCOPY: u32 = 0x8000;
        pub const TLS: u32 = 0x10000;
        pub const PARALLEL: u32 = 0x20000;
        pub const NON_SHARED_SYNCHRONOUS_WRITES: u32 = 0x40000;
        pub const POSTCOPY_RESUME: u32 = 0x80000;
        pub const ZEROCOPY: u32 = 0x100000;
        /// Every flag libvirt's QEMU driver accepts (QEMU_MIGRATION_FLAGS).
        pub const ALL: u32 = 0x1fffff;
    }
    /// virDomainModificationImpact
    pub mod affect {
        pub const CURRENT: u32 = 0;
        pub const LIVE: u32 = 1;
        pub const CONFIG: u32 = 2;
    }
    /// virDomainVcpuFlags (beyond affect)
    pub mod vcpu {
        pub const MAXIMUM: u32 = 4;
        pub const GUEST: u32 = 8;
        pub const HOTPLUGGABLE: u32 = 16;
    }
    /// virDomainMemoryModFlags (beyond affect)
    pub mod mem {
        pub const MAXIMUM: u32 = 4;
    }
    /// virDomainUndefineFlagsValues
    pub mod undefine {
        pub const MANAGED_SAVE: u32 = 1;
        pub const SNAPSHOTS_METADATA: u32 = 2;
        pub const NVRAM: u32 = 4;
        pub const KEEP_NVRAM: u32 = 8;
        pub const CHECKPOINTS_METADATA: u32 = 16;
        pub const TPM: u32 = 32;
        pub const KEEP_TPM: u32 = 64;
    }
    /// virDomainCreateFlags
    pub mod create {
        pub const PAUSED: u32 = 1;
        pub const AUTODESTROY: u32 = 2;
        pub const BYPASS_CACHE: u32 = 4;
        pub const FORCE_BOOT: u32 = 8;
        pub const VALIDATE: u32 = 16;
        pub const RESET_NVRAM: u32 = 32;
    }
    /// virDomainDefineFlags
    pub mod define {
        pub const VALIDATE: u32 = 1;
    }
    /// virDomainSaveRestoreFlags
    pub mod save {
        pub const BYPASS_CACHE: u32 = 1;
        pub const RUNNING: u32 = 2;
        pub const PAUSED: u32 = 4;
        pub const RESET_NVRAM: u32 = 8;
    }
    /// virDomainDestroyFlagsValues
    pub mod destroy {
        pub const DEFAULT: u32 = 0;
        pub const GRACEFUL: u32 = 1;
        pub const REMOVE_LOGS: u32 = 2;
    }
    /// virDomainSnapshotCreateFlags
    pub mod snapshot_create {
        pub const REDEFINE: u32 = 1;
        pub const CURRENT: u32 = 2;
        pub const NO_METADATA: u32 = 4;
        pub const HALT: u32 = 8;
        pub const DISK_ONLY: u32 = 16;
        pub const REUSE_EXT: u32 = 32;
        pub const QUIESCE: u32 = 64;
        pub const ATOMIC: u32 = 128;
        pub const LIVE: u32 = 256;
        pub const VALIDATE: u32 = 512;
    }
    /// virDomainSnapshotListFlags
    pub mod snapshot_list {
        pub const DESCENDANTS: u32 = 1;
        pub const ROOTS: u32 = 1;
        pub const METADATA: u32 = 2;
        pub const LEAVES: u32 = 4;
        pub const NO_LEAVES: u32 = 8;
        pub const NO_METADATA: u32 = 16;
        pub const INACTIVE: u32 = 32;
        pub const ACTIVE: u32 = 64;
        pub const DISK_ONLY: u32 = 128;
        pub const INTERNAL: u32 = 256;
        pub const EXTERNAL: u32 = 512;
        pub const TOPOLOGICAL: u32 = 1024;
    }
    /// virDomainSnapshotRevertFlags
    pub mod snapshot_revert {
        pub const RUNNING: u32 = 1;
        pub const PAUSED: u32 = 2;
        pub const FORCE: u32 = 4;
        pub const RESET_NVRAM: u32 = 8;
    }
    /// virDomainSnapshotDeleteFlags
    pub mod snapshot_delete {
        pub const CHILDREN: u32 = 1;
        pub const METADATA_ONLY: u32 = 2;
        pub const CHILDREN_ONLY: u32 = 4;
    }
    /// virDomainSnapshotXMLFlags
    pub mod snapshot_xml {
        pub const SECURE: u32 = 1;
    }
    /// virDomainCheckpointCreateFlags
    pub mod checkpoint_create {
        pub const REDEFINE: u32 = 1;
        pub const QUIESCE: u32 = 2;
        pub const REDEFINE_VALIDATE: u32 = 4;
    }
    /// virDomainCheckpointListFlags
    pub mod checkpoint_list {
        pub const ROOTS: u32 = 1;
        pub const DESCENDANTS: u32 = 1;
        pub const TOPOLOGICAL: u32 = 2;
        pub const LEAVES: u32 = 4;
        pub const NO_LEAVES: u32 = 8;
    }
    /// virDomainCheckpointDeleteFlags
    pub mod checkpoint_delete {
        pub const CHILDREN: u32 = 1;
        pub const METADATA_ONLY: u32 = 2;
        pub const CHILDREN_ONLY: u32 = 4;
    }
    /// virDomainCheckpointXMLFlags
    pub mod checkpoint_xml {
        pub const SECURE: u32 = 1;
        pub const NO_DOMAIN: u32 = 2;
        pub const SIZE: u32 = 4;
    }
    /// virDomainDeviceModifyFlags (beyond affect)
    pub mod device_modify {
        pub const FORCE: u32 = 4;
    }
    /// virConnectGetAllDomainStatsFlags and virDomainStatsTypes
    pub mod stats {
        pub const STATE: u32 = 1;
        pub const CPU_TOTAL: u32 = 2;
        pub const BALLOON: u32 = 4;
        pub const VCPU: u32 = 8;
        pub const INTERFACE: u32 = 16;
        pub const BLOCK: u32 = 32;
        pub const PERF: u32 = 64;
        pub const IOTHREAD: u32 = 128;
        pub const MEMORY: u32 = 256;
        pub const DIRTYRATE: u32 = 512;
        pub const VM: u32 = 1024;

        pub const ACTIVE: u32 = 1;
        pub const INACTIVE: u32 = 2;
        pub const PERSISTENT: u32 = 4;
        pub const TRANSIENT: u32 = 8;
        pub const RUNNING: u32 = 16;
        pub const PAUSED: u32 = 32;
        pub const SHUTOFF: u32 = 64;
        pub const OTHER: u32 = 128;
        pub const NOWAIT: u32 = 1 << 29;
        pub const BACKING: u32 = 1 << 30;
        pub const ENFORCE_STATS: u32 = 1 << 31;
    }
    /// virStoragePoolBuildFlags
    pub mod pool_build {
        pub const NEW: u32 = 0;
        pub const REPAIR: u32 = 1;
        pub const RESIZE: u32 = 2;
        pub const NO_OVERWRITE: u32 = 4;
        pub const OVERWRITE: u32 = 8;
    }
    /// virStoragePoolCreateFlags
    pub mod pool_create {
        pub const WITH_BUILD: u32 = 1;
        pub const WITH_BUILD_OVERWRITE: u32 = 2;
        pub const WITH_BUILD_NO_OVERWRITE: u32 = 4;
    }
    /// virStoragePoolDefineFlags, virStorageXMLFlags
    pub mod pool_define {
        pub const VALIDATE: u32 = 1;
    }
    pub mod storage_xml {
        pub const INACTIVE: u32 = 1;
    }
    /// virStorageVolCreateFlags
    pub mod vol_create {
        pub const PREALLOC_METADATA: u32 = 1;
        pub const REFLINK: u32 = 2;
        pub const VALIDATE: u32 = 4;
    }
    /// virStorageVolDeleteFlags
    pub mod vol_delete {
        pub const ZEROED: u32 = 1;
        pub const WITH_SNAPSHOTS: u32 = 2;
    }
    /// virStorageVolResizeFlags
    pub mod vol_resize {
        pub const ALLOCATE: u32 = 1;
        pub const DELTA: u32 = 2;
        pub const SHRINK: u32 = 4;
    }
    /// virStorageVolInfoFlags
    pub mod vol_info {
        pub const GET_PHYSICAL: u32 = 1;
    }
    /// virStorageVolUploadFlags / virStorageVolDownloadFlags
    pub mod vol_stream {
        pub const SPARSE_STREAM: u32 = 1;
    }
    /// virConnectListAllSecretsFlags
    pub mod list_secrets {
        pub const EPHEMERAL: u32 = 1;
        pub const NO_EPHEMERAL: u32 = 2;
        pub const PRIVATE: u32 = 4;
        pub const NO_PRIVATE: u32 = 8;
    }
    /// virSecretDefineFlags
    pub mod secret_define {
        pub const VALIDATE: u32 = 1;
    }
    /// virDomainMetadataType
    pub mod metadata {
        pub const DESCRIPTION: i32 = 0;
        pub const TITLE: i32 = 1;
        pub const ELEMENT: i32 = 2;
    }
    /// virDomainCoreDumpFlags
    pub mod dump {
        pub const CRASH: u32 = 1;
        pub const LIVE: u32 = 2;
        pub const BYPASS_CACHE: u32 = 4;
        pub const RESET: u32 = 8;
        pub const MEMORY_ONLY: u32 = 16;
    }
    /// virDomainGetJobStatsFlags
    pub mod job_stats {
        pub const COMPLETED: u32 = 1;
        pub const KEEP_COMPLETED: u32 = 2;
    }
    /// virDomainAuthorizedSSHKeysSetFlags
    pub mod ssh_keys {
        pub const APPEND: u32 = 1;
        pub const REMOVE: u32 = 2;
    }
    /// virDomainDirtyRateCalcFlags
    pub mod dirty_rate {
        pub const PAGE_SAMPLING: u32 = 0;
        pub const DIRTY_BITMAP: u32 = 1;
        pub const DIRTY_RING: u32 = 2;
    }
    /// virDomainBlockRebaseFlags
    pub mod block_rebase {
        pub const SHALLOW: u32 = 1;
        pub const REUSE_EXT: u32 = 2;
        pub const COPY_RAW: u32 = 4;
        pub const COPY: u32 = 8;
        pub const RELATIVE: u32 = 16;
        pub const COPY_DEV: u32 = 32;
        pub const BANDWIDTH_BYTES: u32 = 64;
    }
    /// virTypedParameterFlags
    pub mod typed_param {
        pub const STRING_OKAY: u32 = 4;
    }
    /// virConnectCredentialType etc. are not needed; virConnectFlags:
    pub mod connect {
        pub const RO: u32 = 1;
        pub const NO_ALIASES: u32 = 2;
    }
}

/// Volume types (`virStorageVolType`).
pub mod vol_type {
    pub const FILE: i32 = 0;
    pub const BLOCK: i32 = 1;
    pub const DIR: i32 = 2;
    pub const NETWORK: i32 = 3;
    pub const NETDIR: i32 = 4;
    pub const PLOOP: i32 = 5;
}

/// Wiping algorithms (`virStorageVolWipeAlgorithm`).
pub mod wipe_alg {
    pub const ZERO: u32 = 0;
    pub const NNSA: u32 = 1;
    pub const DOD: u32 = 2;
    pub const BSI: u32 = 3;
    pub const GUTMANN: u32 = 4;
    pub const SCHNEIER: u32 = 5;
    pub const PFITZNER7: u32 = 6;
    pub const PFITZNER33: u32 = 7;
    pub const RANDOM: u32 = 8;
    pub const TRIM: u32 = 9;
    pub const LAST: u32 = 10;
}

/// Pool states (`virStoragePoolState`).
pub mod pool_state {
    pub const INACTIVE: i32 = 0;
    pub const BUILDING: i32 = 1;
    pub const RUNNING: i32 = 2;
    pub const DEGRADED: i32 = 3;
    pub const INACCESSIBLE: i32 = 4;
}

/// `secs` since the epoch as `%Y-%m-%d{sep}%H:%M:%S` in UTC (Howard
/// Hinnant's civil_from_days).
pub fn format_utc(secs: i64, sep: char) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}",
        y,
        m,
        d,
        sep,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
