//! The wire types the procedure table (`crate::table`) speaks in: one
//! name per kind of argument or reply, each with its XDR layout and its
//! core type (`crate::convert::Wire`). Rows name kinds (`dom: Dom`,
//! `-> Str`); the compiler ties each to its encoding and to the type
//! of the `Connection` method's parameter or result.

use std::marker::PhantomData;

use crate::remote as r;
pub use crate::xdr::{Bytes, List};
use crate::xdr::{Decoder, Encoder, Limit, Result, Xdr};

/// The bounds of the wire's lists and what libvirtd calls their elements
/// in "Too many X 'n' for limit 'max'".
pub mod lim {
    use crate::remote::max;
    use crate::xdr::Limit;

    macro_rules! limits {
        ($($name:ident = $max:expr, $what:literal;)*) => {$(
            #[derive(Debug, Clone, Copy, PartialEq, Default)]
            pub struct $name;
            impl Limit for $name {
                const MAX: usize = $max;
                const WHAT: &'static str = $what;
            }
        )*};
    }

    limits! {
        Domains = max::DOMAIN_LIST, "domains";
        Networks = max::NETWORK_LIST, "networks";
        NetworkPorts = max::NETWORK_PORT_LIST, "network ports";
        Interfaces = max::INTERFACE_LIST, "interfaces";
        StoragePools = max::STORAGE_POOL_LIST, "storage pools";
        StorageVols = max::STORAGE_VOL_LIST, "storage volumes";
        NodeDevices = max::NODE_DEVICE_LIST, "node devices";
        NodeDeviceCaps = max::NODE_DEVICE_CAPS_LIST, "capabilities";
        Secrets = max::SECRET_LIST, "secrets";
        NwFilters = max::NWFILTER_LIST, "nwfilters";
        Snapshots = max::DOMAIN_SNAPSHOT_LIST, "domain snapshots";
        Checkpoints = max::DOMAIN_CHECKPOINT_LIST, "domain checkpoints";
        Messages = max::DOMAIN_MESSAGES, "messages";
        BlockPeek = max::DOMAIN_BLOCK_PEEK_BUFFER, "bytes";
        CpuModels = max::CONNECT_CPU_MODELS, "CPU models";
        CpuBaseline = max::CPU_BASELINE, "CPUs";
        Cells = max::CELLS, "cells";
        Pages = max::NODE_MAX_CELLS, "pages";
        IoThreads = max::IOTHREAD_INFO, "iothreads";
        Leases = max::NETWORK_DHCP_LEASES, "leases";
        SecretValue = max::SECRET_VALUE, "secret bytes";
        Cpumap = max::CPUMAP, "cpumap bytes";
        SendKey = max::DOMAIN_SEND_KEY, "keycodes";
        Mountpoints = max::DOMAIN_FSFREEZE_MOUNTPOINTS, "mountpoints";
        MemoryStats = max::MEMORY_STATS, "memory stats";
        DomainInterfaces = max::DOMAIN_INTERFACE, "interfaces";
        DomainStats = max::DOMAIN_LIST, "domain stats";
        SchedulerParams = max::SCHEDULER_PARAMETERS, "scheduler parameters";
        BlkioParams = max::BLKIO_PARAMETERS, "blkio parameters";
        MemoryParams = max::MEMORY_PARAMETERS, "memory parameters";
        NumaParams = max::NUMA_PARAMETERS, "numa parameters";
        PerfEvents = max::PERF_EVENTS, "perf events";
        BlockCopyParams = max::DOMAIN_BLOCK_COPY_PARAMETERS, "block copy parameters";
        BlockIoTuneParams = max::BLOCK_IO_TUNE_PARAMETERS, "block I/O tune parameters";
        InterfaceParams = max::INTERFACE_PARAMETERS, "interface parameters";
        IothreadParams = max::IOTHREAD_PARAMS, "iothread parameters";
        JobStats = max::JOB_STATS, "job stats";
        LaunchSecurityInfo = max::DOMAIN_LAUNCH_SECURITY_INFO_PARAMS, "launch security parameters";
        TypedParams = max::ALL_DOMAIN_STATS, "typed parameters";
        GuestInfoParams = max::DOMAIN_GUEST_INFO_PARAMS, "guest info parameters";
        GuestVcpuParams = max::DOMAIN_GUEST_VCPU_PARAMS, "guest vcpu parameters";
        AuthTypes = max::AUTH_TYPE_LIST, "authentication types";
        MigrateParams = max::MIGRATE_PARAM_LIST, "migration parameters";
        MigrateCookie = max::MIGRATE_COOKIE, "migration cookie bytes";
    }
}

// ---- handles --------------------------------------------------------
pub type Dom = r::NonnullDomain;
pub type OptDom = Option<r::NonnullDomain>;
pub type Net = r::NonnullNetwork;
pub type OptNet = Option<r::NonnullNetwork>;
pub type Pool = r::NonnullStoragePool;
pub type OptPool = Option<r::NonnullStoragePool>;
pub type Vol = r::NonnullStorageVol;
pub type Snap = r::NonnullDomainSnapshot;
pub type Cp = r::NonnullDomainCheckpoint;
pub type Iface = r::NonnullInterface;
pub type Secret = r::NonnullSecret;
pub type OptSecret = Option<r::NonnullSecret>;
pub type Port = r::NonnullNetworkPort;
/// `remote_nonnull_node_device` (a reply's device).
pub type Dev = r::NonnullNodeDevice;
pub type OptDev = Option<r::NonnullNodeDevice>;
/// `remote_uuid`
pub type Uuid = r::RemoteUuid;

pub use std::primitive::{i32, i64, u32, u64};

// ---- scalars ----------------------------------------------------------
/// `remote_nonnull_string`
pub type Str = String;
/// `remote_string`
pub type OptStr = Option<String>;

macro_rules! newtype {
    ($($(#[$m:meta])* $name:ident($t:ty);)*) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name(pub $t);
        impl Xdr for $name {
            fn encode(&self, e: &mut Encoder) {
                self.0.encode(e)
            }
            fn decode(d: &mut Decoder<'_>) -> Result<Self> {
                Ok($name(<$t>::decode(d)?))
            }
            const MIN_SIZE: usize = <$t>::MIN_SIZE;
        }
    )*};
}

newtype! {
    /// A network port in a reply: the network's handle and the port's
    /// UUID (a `NetworkPortRef` names its network only by name).
    NetPort(r::NonnullNetworkPort);
    /// An `int` that is a yes/no answer or argument.
    Bool(i32);
    /// An `int` reply that is always 0 (virDomainRename's).
    Zero(i32);
    /// A `remote_string` the API takes as a plain string (NULL is "").
    StrOrEmpty(Option<String>);
    /// A node device named by a `remote_nonnull_string` (the arguments'
    /// way of naming one).
    DevName(String);
    /// NODE_GET_CELLS_FREE_MEMORY's `maxcells`, which libvirtd bounds.
    MaxCells(i32);
    /// DOMAIN_MEMORY_STATS's `maxStats`, which libvirtd bounds.
    MaxStats(u32);
    /// DOMAIN_GET_EMULATOR_PIN_INFO's `maplen`, which libvirtd bounds.
    MapLen(i32);
}

/// A legacy list's `maxnames`/`maxids`/`maxuuids`, bounded by libvirtd
/// (`maxnames must be non-negative`, `maxnames > REMOTE_X_LIST_MAX`) and
/// by libvirt's client before it sends the call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MaxNames<L>(pub i32, pub PhantomData<L>);

impl<L> Xdr for MaxNames<L> {
    fn encode(&self, e: &mut Encoder) {
        e.put_i32(self.0)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(MaxNames(d.get_i32()?, PhantomData))
    }
}

/// The facts of one legacy list: its bound and the names libvirt's
/// messages use.
pub trait LegacyList: Limit {
    /// The argument: "maxnames", "maxids" or "maxuuids".
    const ARG: &'static str;
    /// The bound's name in remote_protocol.x.
    const DEFINE: &'static str;
    /// A negative bound reaches the API, which refuses it in its own
    /// error domain (virCheckNonNegativeArgGoto); otherwise the daemon
    /// refuses it as over the bound (libvirtd would allocate a negative
    /// count).
    const NEGATIVE_TO_API: bool;
}

macro_rules! legacy {
    ($($name:ident = $max:expr, $arg:literal, $define:literal, $neg:literal;)*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Default)]
        pub struct $name;
        impl Limit for $name {
            const MAX: usize = $max;
            const WHAT: &'static str = "strings";
        }
        impl LegacyList for $name {
            const ARG: &'static str = $arg;
            const DEFINE: &'static str = $define;
            const NEGATIVE_TO_API: bool = $neg;
        }
    )*};
}

/// The legacy lists' bounds.
pub mod legacy {
    use super::LegacyList;
    use crate::remote::max;
    use crate::xdr::Limit;

    legacy! {
        DomainIds = max::DOMAIN_LIST, "maxids", "REMOTE_DOMAIN_LIST_MAX", false;
        DomainNames = max::DOMAIN_LIST, "maxnames", "REMOTE_DOMAIN_LIST_MAX", false;
        NetworkNames = max::NETWORK_LIST, "maxnames", "REMOTE_NETWORK_LIST_MAX", false;
        InterfaceNames = max::INTERFACE_LIST, "maxnames", "REMOTE_INTERFACE_LIST_MAX", false;
        PoolNames = max::STORAGE_POOL_LIST, "maxnames", "REMOTE_STORAGE_POOL_LIST_MAX", true;
        VolNames = max::STORAGE_VOL_LIST, "maxnames", "REMOTE_STORAGE_VOL_LIST_MAX", true;
        DeviceNames = max::NODE_DEVICE_LIST, "maxnames", "REMOTE_NODE_DEVICE_LIST_MAX", true;
        SecretUuids = max::SECRET_LIST, "maxuuids", "REMOTE_SECRET_LIST_MAX", true;
        NwFilterNames = max::NWFILTER_LIST, "maxnames", "REMOTE_NWFILTER_LIST_MAX", true;
        SnapshotNames = max::DOMAIN_SNAPSHOT_LIST, "maxnames", "REMOTE_DOMAIN_SNAPSHOT_LIST_MAX", true;
    }
}
use legacy as lg;

pub type MaxDomainIds = MaxNames<lg::DomainIds>;
pub type MaxDomainNames = MaxNames<lg::DomainNames>;
pub type MaxNetworkNames = MaxNames<lg::NetworkNames>;
pub type MaxInterfaceNames = MaxNames<lg::InterfaceNames>;
pub type MaxPoolNames = MaxNames<lg::PoolNames>;
pub type MaxVolNames = MaxNames<lg::VolNames>;
pub type MaxDeviceNames = MaxNames<lg::DeviceNames>;
pub type MaxSecretUuids = MaxNames<lg::SecretUuids>;
pub type MaxNwFilterNames = MaxNames<lg::NwFilterNames>;
pub type MaxSnapshotNames = MaxNames<lg::SnapshotNames>;

pub type DomainIds = List<i32, lg::DomainIds>;
pub type DomainNames = List<String, lg::DomainNames>;
pub type NetworkNames = List<String, lg::NetworkNames>;
pub type InterfaceNames = List<String, lg::InterfaceNames>;
pub type PoolNames = List<String, lg::PoolNames>;
pub type VolNames = List<String, lg::VolNames>;
pub type DeviceNames = List<String, lg::DeviceNames>;
/// A node device's capabilities (NODE_DEVICE_LIST_CAPS).
pub type CapNames = List<String, lim::NodeDeviceCaps>;
pub type SecretUuids = List<String, lg::SecretUuids>;
pub type NwFilterNames = List<String, lg::NwFilterNames>;
pub type SnapshotNames = List<String, lg::SnapshotNames>;

// ---- arrays -----------------------------------------------------------
pub type Cpumap = Bytes<lim::Cpumap>;
pub type SecretValue = Bytes<lim::SecretValue>;
/// DOMAIN_BLOCK_PEEK's buffer.
pub type PeekBuffer = Bytes<lim::BlockPeek>;
pub type KeyCodes = List<u32, lim::SendKey>;
pub type Pages = List<u32, lim::Pages>;
pub type PageCounts = List<u64, lim::Pages>;
pub type CellsFree = List<u64, lim::Cells>;
pub type CpuXmls = List<String, lim::CpuBaseline>;
pub type Mountpoints = List<String, lim::Mountpoints>;
pub type Messages = List<String, lim::Messages>;
pub type MemStats = List<r::MemoryStatWire, lim::MemoryStats>;
pub type IfaceAddrs = List<r::DomainInterfaceWire, lim::DomainInterfaces>;
pub type Leases = List<r::NetworkDhcpLeaseWire, lim::Leases>;
pub type Doms = List<r::NonnullDomain, lim::Domains>;
pub type AuthTypes = List<i32, lim::AuthTypes>;

/// virConnectGetAllDomainStats' domains: none means every domain.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OptDoms(pub Doms);

impl Xdr for OptDoms {
    fn encode(&self, e: &mut Encoder) {
        self.0.encode(e)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(OptDoms(Doms::decode(d)?))
    }
}

// ---- typed parameters ------------------------------------------------------
pub type Params<L> = List<r::TypedParam, L>;
pub type SchedParams = Params<lim::SchedulerParams>;
pub type BlkioParams = Params<lim::BlkioParams>;
pub type MemParams = Params<lim::MemoryParams>;
pub type NumaParams = Params<lim::NumaParams>;
pub type PerfParams = Params<lim::PerfEvents>;
pub type BlockCopyParams = Params<lim::BlockCopyParams>;
pub type GuestInfoParams = Params<lim::GuestInfoParams>;
pub type GuestVcpuParams = Params<lim::GuestVcpuParams>;
pub type TuneParams = Params<lim::BlockIoTuneParams>;
pub type IfaceParams = Params<lim::InterfaceParams>;
pub type IothreadParams = Params<lim::IothreadParams>;
pub type LaunchSecurityParams = Params<lim::LaunchSecurityInfo>;
/// A migration phase's typed parameters.
pub type MigParams = Params<lim::MigrateParams>;
/// A migration cookie (`opaque<REMOTE_MIGRATE_COOKIE_MAX>`).
pub type Cookie = Bytes<lim::MigrateCookie>;
/// `{cookie_out, xml}` (Begin3)
pub type CookieXml = (Cookie, String);
/// `{cookie_out, uri_out}` (Prepare3)
pub type CookieUri = (Cookie, Option<String>);
/// `{dom, cookie_out}` (Finish3)
pub type DomCookie = (r::NonnullDomain, Cookie);
/// `{params, nparams}`: a two-step getter's reply.
pub type ParamsCount = (Params<lim::TypedParams>, i32);
/// `{job type, params}`
pub type JobStats = (i32, Params<lim::JobStats>);

// ---- replies ------------------------------------------------------------------
pub type NodeInfo = r::NodeGetInfoRet;
pub type SecModel = r::NodeGetSecurityModelRet;
pub type DomInfo = r::DomainGetInfoRet;
pub type ControlInfo = r::DomainGetControlInfoRet;
pub type JobInfo = r::DomainGetJobInfoRet;
pub type SecLabel = r::DomainGetSecurityLabelRet;
pub type BlockStats = r::DomainBlockStatsRet;
pub type IfaceStats = r::DomainInterfaceStatsRet;
pub type BlockInfo = r::DomainGetBlockInfoRet;
/// virDomainGetBlockJobInfo's reply: `found` 0 when no job runs.
pub type BlockJobInfo = r::DomainGetBlockJobInfoRet;
pub type PoolInfo = r::PoolGetInfoRet;
pub type VolInfo = r::VolGetInfoRet;
pub type Vcpus = r::DomainGetVcpusRet;
pub type Cpumaps = r::CpumapsRet;
pub type IothreadInfo = r::DomainGetIothreadInfoRet;
pub type FsInfo = r::DomainGetFsInfoRet;
pub type AllDomainStats = List<r::DomainStatsRecord, lim::DomainStats>;
pub type DiskErrors = r::DomainGetDiskErrorsRet;
pub type CpuStats = r::DomainGetCpuStatsRet;
pub type NodeStats = r::NodeStatsRet;
pub type CpuMap = r::NodeGetCpuMapRet;
/// `{state, reason}`
pub type StateReason = (i32, i32);
/// `{seconds, nseconds}`
pub type Time = (i64, u32);
/// `{type, nparams}`
pub type SchedType = (String, i32);

// ---- ListAll replies: `{objects (when asked for), count}` ---------------------
pub type AllDomains = (Doms, u32);
pub type AllNetworks = (List<r::NonnullNetwork, lim::Networks>, u32);
pub type AllPools = (List<r::NonnullStoragePool, lim::StoragePools>, u32);
pub type AllVols = (List<r::NonnullStorageVol, lim::StorageVols>, u32);
pub type AllInterfaces = (List<r::NonnullInterface, lim::Interfaces>, u32);
pub type AllDevices = (List<r::NonnullNodeDevice, lim::NodeDevices>, u32);
pub type AllSecrets = (List<r::NonnullSecret, lim::Secrets>, u32);
pub type AllSnapshots = (List<r::NonnullDomainSnapshot, lim::Snapshots>, i32);
pub type AllCheckpoints = (List<r::NonnullDomainCheckpoint, lim::Checkpoints>, i32);
pub type AllPorts = (List<NetPort, lim::NetworkPorts>, u32);
pub type AllLeases = (Leases, u32);
pub type CpuModelNames = (List<String, lim::CpuModels>, i32);
