//! The REMOTE procedures oxvirt serves, one row each, by driver family.
//!
//! A row is
//!
//! ```text
//! [#[client] | #[server]] NAME = NUMBER "virApiName" R|W method(arg: Kind, ...) -> Kind;
//! ```
//!
//! the procedure's number, the libvirt API behind it, whether it changes
//! anything (`W`: refused on a read-only connection, libvirt's
//! `virCheckReadOnlyGoto`; `R`: a read), the `Connection` method that
//! serves it and its arguments and reply as kinds of [`crate::kinds`]
//! (wire layout in argument order, core type by [`crate::convert::Wire`]).
//! The table is ours (nothing is generated from libvirt's `.x` files).
//!
//! From a plain row both ends are generated: oxvirtd's dispatch decodes
//! the arguments, calls `method` and encodes its result; the remote
//! driver's `method` encodes the arguments, calls and decodes the reply.
//! `#[client]` rows generate only the client (the daemon's side is
//! written by hand in oxvirtd: a check libvirtd makes across arguments,
//! a reply filtered by flags); `#[server]` rows only the daemon's side.
//! Rows whose method is `_` are irregular and hand-written at both ends
//! (legacy variants sharing one method with a newer procedure, two-step
//! typed parameters, ListAll, streams, events); their row still types
//! them: [`Proc`] constants (`table::DOMAIN_DESTROY`) carry the argument
//! and reply types, so hand-written code cannot send the wrong layout.
//!
//! Each family's rows are a macro (`hypervisor_procedures!` ...) that
//! hands them to a callback: `hypervisor_procedures!(cb { extra })`
//! expands to `cb! { { extra } HypervisorDriver; rows }`.

use std::marker::PhantomData;

/// A procedure with its argument and reply types.
#[derive(Debug)]
pub struct Proc<A, R> {
    pub num: i32,
    /// The procedure's name without REMOTE_PROC_.
    pub name: &'static str,
    /// libvirt's API (the name NO_SUPPORT reports).
    pub api: &'static str,
    pub writes: bool,
    _types: PhantomData<fn(A) -> R>,
}

impl<A, R> Clone for Proc<A, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A, R> Copy for Proc<A, R> {}

impl<A, R> Proc<A, R> {
    pub const fn new(num: i32, name: &'static str, api: &'static str, writes: bool) -> Self {
        Proc {
            num,
            name,
            api,
            writes,
            _types: PhantomData,
        }
    }
}

/// Which ends a row generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ends {
    Both,
    Client,
    Server,
    Hand,
}

/// A row as data (for tests and for reports).
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub num: i32,
    pub name: &'static str,
    pub api: &'static str,
    pub writes: bool,
    /// The family's driver trait.
    pub family: &'static str,
    /// The `Connection` method (None for `_`).
    pub method: Option<&'static str>,
    pub ends: Ends,
}

/// The kind named in a row, as a type.
#[doc(hidden)]
#[macro_export]
macro_rules! kind {
    (()) => {
        ()
    };
    ($k:ident) => {
        $crate::kinds::$k
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __writes {
    (W) => {
        true
    };
    (R) => {
        false
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __ends {
    ([] _) => {
        $crate::table::Ends::Hand
    };
    ([] $m:ident) => {
        $crate::table::Ends::Both
    };
    ([client] $m:ident) => {
        $crate::table::Ends::Client
    };
    ([server] $m:ident) => {
        $crate::table::Ends::Server
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __method {
    (_) => {
        None
    };
    ($m:ident) => {
        Some(stringify!($m))
    };
}

/// The callback that makes the [`Proc`] constants and [`Row`]s.
macro_rules! consts {
    (
        { $rows:ident }
        $family:ident;
        $( $(#[$flag:ident])? $name:ident = $num:literal $api:literal $rw:ident $m:tt
            ( $($n:ident : $k:tt),* ) -> $ret:tt ; )*
    ) => {
        $(
            pub const $name: Proc<($($crate::kind!($k),)*), $crate::kind!($ret)> =
                Proc::new($num, stringify!($name), $api, $crate::__writes!($rw));
        )*
        static $rows: &[Row] = &[$(
            Row {
                num: $num,
                name: stringify!($name),
                api: $api,
                writes: $crate::__writes!($rw),
                family: stringify!($family),
                method: $crate::__method!($m),
                ends: $crate::__ends!([$($flag)?] $m),
            },
        )*];
    };
}

crate::hypervisor_procedures!(consts { HYPERVISOR });
crate::storage_procedures!(consts { STORAGE });
crate::network_procedures!(consts { NETWORK });
crate::secret_procedures!(consts { SECRET });
crate::nodedev_procedures!(consts { NODEDEV });
crate::interface_procedures!(consts { INTERFACE });
crate::nwfilter_procedures!(consts { NWFILTER });

/// Every row of every family.
pub fn rows() -> impl Iterator<Item = &'static Row> {
    HYPERVISOR
        .iter()
        .chain(STORAGE)
        .chain(NETWORK)
        .chain(SECRET)
        .chain(NODEDEV)
        .chain(INTERFACE)
        .chain(NWFILTER)
}

/// The row of a procedure.
pub fn row(num: i32) -> Option<&'static Row> {
    rows().find(|r| r.num == num)
}

/// The hypervisor family: connection and node facts, domains,
/// snapshots, checkpoints, domain events.
#[macro_export]
macro_rules! hypervisor_procedures {
    ($cb:ident { $($extra:tt)* }) => { $cb! { { $($extra)* } HypervisorDriver;
    // ---- connection ---------------------------------------------------
    AUTH_LIST = 66 "virConnectAuthList" R _() -> AuthTypes;
    CONNECT_OPEN = 1 "virConnectOpen" R _(name: OptStr, flags: u32) -> ();
    CONNECT_CLOSE = 2 "virConnectClose" R _() -> ();
    CONNECT_SUPPORTS_FEATURE = 60 "virDrvSupportsFeature" R _(feature: i32) -> Bool;
    CONNECT_GET_TYPE = 3 "virConnectGetType" R get_type() -> Str;
    CONNECT_GET_VERSION = 4 "virConnectGetVersion" R get_version() -> u64;
    CONNECT_GET_LIB_VERSION = 157 "virConnectGetLibVersion" R get_lib_version() -> u64;
    CONNECT_GET_HOSTNAME = 59 "virConnectGetHostname" R hostname() -> Str;
    #[server] CONNECT_GET_URI = 110 "virConnectGetURI" R uri() -> Str;
    CONNECT_GET_CAPABILITIES = 7 "virConnectGetCapabilities" R capabilities() -> Str;
    CONNECT_DOMAIN_XML_TO_NATIVE = 136 "virConnectDomainXMLToNative" W domain_xml_to_native(format: Str, xml: Str, flags: u32) -> Str;
    CONNECT_DOMAIN_XML_FROM_NATIVE = 135 "virConnectDomainXMLFromNative" W domain_xml_from_native(format: Str, config: Str, flags: u32) -> Str;
    CONNECT_GET_SYSINFO = 203 "virConnectGetSysinfo" R sysinfo(flags: u32) -> Str;
    CONNECT_GET_DOMAIN_CAPABILITIES = 342 "virConnectGetDomainCapabilities" W domain_capabilities(emulatorbin: OptStr, arch: OptStr, machine: OptStr, virttype: OptStr, flags: u32) -> Str;
    CONNECT_GET_MAX_VCPUS = 5 "virConnectGetMaxVcpus" R max_vcpus(kind: OptStr) -> i32;
    #[server] CONNECT_IS_SECURE = 149 "virConnectIsSecure" R is_secure() -> Bool;
    CONNECT_REGISTER_CLOSE_CALLBACK = 360 "virConnectRegisterCloseCallback" R _() -> ();
    CONNECT_UNREGISTER_CLOSE_CALLBACK = 361 "virConnectUnregisterCloseCallback" R _() -> ();
    CONNECT_GET_CPU_MODEL_NAMES = 312 "virConnectGetCPUModelNames" R _(arch: Str, need_results: i32, flags: u32) -> CpuModelNames;
    CONNECT_BASELINE_CPU = 162 "virConnectBaselineCPU" R baseline_cpu(xml_cpus: CpuXmls, flags: u32) -> Str;
    // ---- node ---------------------------------------------------------
    NODE_GET_INFO = 6 "virNodeGetInfo" R node_info() -> NodeInfo;
    NODE_GET_FREE_MEMORY = 102 "virNodeGetFreeMemory" R free_memory() -> u64;
    NODE_GET_CELLS_FREE_MEMORY = 101 "virNodeGetCellsFreeMemory" R cells_free_memory(start_cell: i32, maxcells: MaxCells) -> CellsFree;
    NODE_GET_CPU_MAP = 293 "virNodeGetCPUMap" R _(need_map: i32, need_online: i32, flags: u32) -> CpuMap;
    NODE_GET_SECURITY_MODEL = 122 "virNodeGetSecurityModel" R security_model() -> SecModel;
    NODE_GET_FREE_PAGES = 340 "virNodeGetFreePages" R node_free_pages(pages: Pages, start_cell: i32, cell_count: u32, flags: u32) -> PageCounts;
    NODE_GET_CPU_STATS = 227 "virNodeGetCPUStats" R _(cpu_num: i32, nparams: i32, flags: u32) -> NodeStats;
    NODE_GET_MEMORY_STATS = 228 "virNodeGetMemoryStats" R _(nparams: i32, cell_num: i32, flags: u32) -> NodeStats;
    // ---- domains: listing and lookup ------------------------------------
    CONNECT_LIST_ALL_DOMAINS = 273 "virConnectListAllDomains" R _(need_results: i32, flags: u32) -> AllDomains;
    CONNECT_NUM_OF_DOMAINS = 51 "virConnectNumOfDomains" R num_of_domains() -> i32;
    CONNECT_LIST_DOMAINS = 37 "virConnectListDomains" R list_domains(maxids: MaxDomainIds) -> DomainIds;
    CONNECT_NUM_OF_DEFINED_DOMAINS = 25 "virConnectNumOfDefinedDomains" R num_of_defined_domains() -> i32;
    CONNECT_LIST_DEFINED_DOMAINS = 21 "virConnectListDefinedDomains" R list_defined_domains(maxnames: MaxDomainNames) -> DomainNames;
    DOMAIN_LOOKUP_BY_ID = 22 "virDomainLookupByID" R lookup_domain_by_id(id: i32) -> Dom;
    DOMAIN_LOOKUP_BY_NAME = 23 "virDomainLookupByName" R lookup_domain_by_name(name: Str) -> Dom;
    DOMAIN_LOOKUP_BY_UUID = 24 "virDomainLookupByUUID" R lookup_domain_by_uuid(uuid: Uuid) -> Dom;
    // ---- domains: lifecycle ------------------------------------------------
    DOMAIN_DEFINE_XML = 11 "virDomainDefineXML" W _(xml: Str) -> Dom;
    DOMAIN_DEFINE_XML_FLAGS = 350 "virDomainDefineXMLFlags" W _(xml: Str, flags: u32) -> Dom;
    DOMAIN_CREATE_XML = 10 "virDomainCreateXML" W domain_create_xml(xml_desc: Str, flags: u32) -> Dom;
    DOMAIN_UNDEFINE = 35 "virDomainUndefine" W _(dom: Dom) -> ();
    DOMAIN_UNDEFINE_FLAGS = 231 "virDomainUndefineFlags" W domain_undefine(dom: Dom, flags: u32) -> ();
    DOMAIN_CREATE = 9 "virDomainCreate" W _(dom: Dom) -> ();
    DOMAIN_CREATE_WITH_FLAGS = 196 "virDomainCreateWithFlags" W domain_create(dom: Dom, flags: u32) -> Dom;
    DOMAIN_DESTROY = 12 "virDomainDestroy" W _(dom: Dom) -> ();
    DOMAIN_DESTROY_FLAGS = 234 "virDomainDestroyFlags" W _(dom: Dom, flags: u32) -> ();
    DOMAIN_SHUTDOWN = 33 "virDomainShutdown" W _(dom: Dom) -> ();
    DOMAIN_SHUTDOWN_FLAGS = 258 "virDomainShutdownFlags" W _(dom: Dom, flags: u32) -> ();
    DOMAIN_REBOOT = 27 "virDomainReboot" W domain_reboot(dom: Dom, flags: u32) -> ();
    DOMAIN_RESET = 245 "virDomainReset" W domain_reset(dom: Dom, flags: u32) -> ();
    DOMAIN_SUSPEND = 34 "virDomainSuspend" W domain_suspend(dom: Dom) -> ();
    DOMAIN_RESUME = 28 "virDomainResume" W domain_resume(dom: Dom) -> ();
    DOMAIN_PM_SUSPEND_FOR_DURATION = 261 "virDomainPMSuspendForDuration" W domain_pm_suspend(dom: Dom, target: u32, duration: u64, flags: u32) -> ();
    DOMAIN_PM_WAKEUP = 267 "virDomainPMWakeup" W domain_pm_wakeup(dom: Dom, flags: u32) -> ();
    DOMAIN_INJECT_NMI = 210 "virDomainInjectNMI" W domain_inject_nmi(dom: Dom, flags: u32) -> ();
    DOMAIN_SEND_KEY = 226 "virDomainSendKey" W domain_send_key(dom: Dom, codeset: u32, holdtime: u32, keycodes: KeyCodes, flags: u32) -> ();
    DOMAIN_SAVE = 55 "virDomainSave" W _(dom: Dom, to: Str) -> ();
    DOMAIN_SAVE_FLAGS = 232 "virDomainSaveFlags" W _(dom: Dom, to: Str, dxml: OptStr, flags: u32) -> ();
    DOMAIN_RESTORE = 54 "virDomainRestore" W _(from: Str) -> ();
    DOMAIN_RESTORE_FLAGS = 233 "virDomainRestoreFlags" W _(from: Str, dxml: OptStr, flags: u32) -> ();
    DOMAIN_SAVE_IMAGE_GET_XML_DESC = 235 "virDomainSaveImageGetXMLDesc" W domain_save_image_get_xml_desc(file: Str, flags: u32) -> Str;
    DOMAIN_SAVE_IMAGE_DEFINE_XML = 236 "virDomainSaveImageDefineXML" W domain_save_image_define_xml(file: Str, dxml: Str, flags: u32) -> ();
    DOMAIN_CORE_DUMP = 53 "virDomainCoreDump" W _(dom: Dom, to: Str, flags: u32) -> ();
    DOMAIN_CORE_DUMP_WITH_FORMAT = 334 "virDomainCoreDumpWithFormat" W _(dom: Dom, to: Str, dumpformat: u32, flags: u32) -> ();
    DOMAIN_MANAGED_SAVE = 182 "virDomainManagedSave" W domain_managed_save(dom: Dom, flags: u32) -> ();
    DOMAIN_HAS_MANAGED_SAVE_IMAGE = 183 "virDomainHasManagedSaveImage" R domain_has_managed_save(dom: Dom, flags: u32) -> Bool;
    DOMAIN_MANAGED_SAVE_REMOVE = 184 "virDomainManagedSaveRemove" W domain_managed_save_remove(dom: Dom, flags: u32) -> ();
    DOMAIN_MANAGED_SAVE_GET_XML_DESC = 388 "virDomainManagedSaveGetXMLDesc" R domain_managed_save_get_xml_desc(dom: Dom, flags: u32) -> Str;
    DOMAIN_MANAGED_SAVE_DEFINE_XML = 389 "virDomainManagedSaveDefineXML" W domain_managed_save_define_xml(dom: Dom, dxml: StrOrEmpty, flags: u32) -> ();
    DOMAIN_RENAME = 358 "virDomainRename" W domain_rename(dom: Dom, new_name: StrOrEmpty, flags: u32) -> Zero;
    // ---- domains: state and description ----------------------------------------
    DOMAIN_GET_XML_DESC = 14 "virDomainGetXMLDesc" R domain_get_xml_desc(dom: Dom, flags: u32) -> Str;
    DOMAIN_GET_INFO = 16 "virDomainGetInfo" R domain_get_info(dom: Dom) -> DomInfo;
    DOMAIN_GET_STATE = 212 "virDomainGetState" R domain_get_state(dom: Dom, flags: u32) -> StateReason;
    DOMAIN_GET_CONTROL_INFO = 229 "virDomainGetControlInfo" R domain_get_control_info(dom: Dom, flags: u32) -> ControlInfo;
    DOMAIN_GET_OS_TYPE = 19 "virDomainGetOSType" R domain_get_os_type(dom: Dom) -> Str;
    DOMAIN_GET_MAX_MEMORY = 17 "virDomainGetMaxMemory" R domain_get_max_memory(dom: Dom) -> u64;
    DOMAIN_GET_AUTOSTART = 15 "virDomainGetAutostart" R domain_get_autostart(dom: Dom) -> Bool;
    DOMAIN_SET_AUTOSTART = 29 "virDomainSetAutostart" W domain_set_autostart(dom: Dom, autostart: Bool) -> ();
    DOMAIN_IS_ACTIVE = 150 "virDomainIsActive" R domain_is_active(dom: Dom) -> Bool;
    DOMAIN_IS_PERSISTENT = 151 "virDomainIsPersistent" R domain_is_persistent(dom: Dom) -> Bool;
    DOMAIN_IS_UPDATED = 202 "virDomainIsUpdated" R domain_is_updated(dom: Dom) -> Bool;
    DOMAIN_GET_SECURITY_LABEL = 121 "virDomainGetSecurityLabel" R domain_get_security_label(dom: Dom) -> SecLabel;
    DOMAIN_GET_MESSAGES = 426 "virDomainGetMessages" R domain_get_messages(dom: Dom, flags: u32) -> Messages;
    DOMAIN_GET_METADATA = 265 "virDomainGetMetadata" R domain_get_metadata(dom: Dom, kind: i32, uri: OptStr, flags: u32) -> Str;
    DOMAIN_SET_METADATA = 264 "virDomainSetMetadata" W domain_set_metadata(dom: Dom, kind: i32, metadata: OptStr, key: OptStr, uri: OptStr, flags: u32) -> ();
    DOMAIN_GET_HOSTNAME = 277 "virDomainGetHostname" W domain_get_hostname(dom: Dom, flags: u32) -> Str;
    DOMAIN_GET_TIME = 337 "virDomainGetTime" W domain_get_time(dom: Dom, flags: u32) -> Time;
    DOMAIN_SET_TIME = 338 "virDomainSetTime" W domain_set_time(dom: Dom, seconds: i64, nseconds: u32, flags: u32) -> ();
    DOMAIN_SEND_PROCESS_SIGNAL = 295 "virDomainSendProcessSignal" W domain_send_process_signal(dom: Dom, pid_value: i64, signum: u32, flags: u32) -> ();
    DOMAIN_SET_USER_PASSWORD = 357 "virDomainSetUserPassword" W _(dom: Dom, user: OptStr, password: OptStr, flags: u32) -> ();
    DOMAIN_FSFREEZE = 335 "virDomainFSFreeze" W domain_fs_freeze(dom: Dom, mountpoints: Mountpoints, flags: u32) -> i32;
    DOMAIN_FSTHAW = 336 "virDomainFSThaw" W domain_fs_thaw(dom: Dom, mountpoints: Mountpoints, flags: u32) -> i32;
    DOMAIN_FSTRIM = 294 "virDomainFSTrim" W domain_fs_trim(dom: Dom, mount_point: OptStr, minimum: u64, flags: u32) -> ();
    DOMAIN_GET_FSINFO = 349 "virDomainGetFSInfo" W domain_get_fs_info(dom: Dom, flags: u32) -> FsInfo;
    DOMAIN_GET_GUEST_INFO = 418 "virDomainGetGuestInfo" W domain_get_guest_info(dom: Dom, types: u32, flags: u32) -> GuestInfoParams;
    DOMAIN_GET_GUEST_VCPUS = 371 "virDomainGetGuestVcpus" W domain_get_guest_vcpus(dom: Dom, flags: u32) -> GuestVcpuParams;
    DOMAIN_SET_GUEST_VCPUS = 372 "virDomainSetGuestVcpus" W domain_set_guest_vcpus(dom: Dom, cpumap: Str, state: i32, flags: u32) -> ();
    DOMAIN_GET_DISK_ERRORS = 263 "virDomainGetDiskErrors" R _(dom: Dom, maxerrors: u32, flags: u32) -> DiskErrors;
    DOMAIN_GET_LAUNCH_SECURITY_INFO = 396 "virDomainGetLaunchSecurityInfo" W _(dom: Dom, flags: u32) -> LaunchSecurityParams;
    DOMAIN_GET_JOB_INFO = 163 "virDomainGetJobInfo" R domain_get_job_info(dom: Dom) -> JobInfo;
    DOMAIN_GET_JOB_STATS = 298 "virDomainGetJobStats" R domain_get_job_stats(dom: Dom, flags: u32) -> JobStats;
    DOMAIN_ABORT_JOB = 164 "virDomainAbortJob" W domain_abort_job(dom: Dom) -> ();
    // ---- domains: resources ---------------------------------------------------
    DOMAIN_SET_MEMORY = 31 "virDomainSetMemory" W _(dom: Dom, memory: u64) -> ();
    DOMAIN_SET_MAX_MEMORY = 30 "virDomainSetMaxMemory" W _(dom: Dom, memory: u64) -> ();
    DOMAIN_SET_MEMORY_FLAGS = 204 "virDomainSetMemoryFlags" W domain_set_memory(dom: Dom, memory: u64, flags: u32) -> ();
    DOMAIN_SET_MEMORY_STATS_PERIOD = 308 "virDomainSetMemoryStatsPeriod" W domain_set_memory_stats_period(dom: Dom, period: i32, flags: u32) -> ();
    DOMAIN_SET_VCPUS = 32 "virDomainSetVcpus" W _(dom: Dom, nvcpus: u32) -> ();
    DOMAIN_SET_VCPUS_FLAGS = 199 "virDomainSetVcpusFlags" W domain_set_vcpus(dom: Dom, nvcpus: u32, flags: u32) -> ();
    DOMAIN_GET_VCPUS_FLAGS = 200 "virDomainGetVcpusFlags" R domain_get_vcpus_flags(dom: Dom, flags: u32) -> i32;
    DOMAIN_GET_MAX_VCPUS = 18 "virDomainGetMaxVcpus" R domain_get_max_vcpus(dom: Dom) -> i32;
    #[client] DOMAIN_GET_VCPUS = 20 "virDomainGetVcpus" R domain_get_vcpus(dom: Dom, maxinfo: i32, maplen: i32) -> Vcpus;
    DOMAIN_PIN_VCPU = 26 "virDomainPinVcpu" W _(dom: Dom, vcpu: u32, cpumap: Cpumap) -> ();
    DOMAIN_PIN_VCPU_FLAGS = 225 "virDomainPinVcpuFlags" W domain_pin_vcpu(dom: Dom, vcpu: u32, cpumap: Cpumap, flags: u32) -> ();
    #[client] DOMAIN_GET_VCPU_PIN_INFO = 230 "virDomainGetVcpuPinInfo" R domain_get_vcpu_pin_info(dom: Dom, ncpumaps: i32, maplen: i32, flags: u32) -> Cpumaps;
    DOMAIN_PIN_EMULATOR = 279 "virDomainPinEmulator" W domain_pin_emulator(dom: Dom, cpumap: Cpumap, flags: u32) -> ();
    DOMAIN_GET_EMULATOR_PIN_INFO = 280 "virDomainGetEmulatorPinInfo" R domain_get_emulator_pin_info(dom: Dom, maplen: MapLen, flags: u32) -> Cpumaps;
    DOMAIN_GET_SCHEDULER_TYPE = 56 "virDomainGetSchedulerType" R domain_get_scheduler_type(dom: Dom) -> SchedType;
    DOMAIN_GET_SCHEDULER_PARAMETERS = 57 "virDomainGetSchedulerParameters" R _(dom: Dom, nparams: i32) -> SchedParams;
    DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS = 223 "virDomainGetSchedulerParametersFlags" R _(dom: Dom, nparams: i32, flags: u32) -> SchedParams;
    DOMAIN_SET_SCHEDULER_PARAMETERS = 58 "virDomainSetSchedulerParameters" W _(dom: Dom, params: SchedParams) -> ();
    DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS = 219 "virDomainSetSchedulerParametersFlags" W _(dom: Dom, params: SchedParams, flags: u32) -> ();
    DOMAIN_GET_BLKIO_PARAMETERS = 206 "virDomainGetBlkioParameters" R _(dom: Dom, nparams: i32, flags: u32) -> ParamsCount;
    DOMAIN_SET_BLKIO_PARAMETERS = 205 "virDomainSetBlkioParameters" W domain_set_blkio_parameters(dom: Dom, params: BlkioParams, flags: u32) -> ();
    DOMAIN_GET_MEMORY_PARAMETERS = 198 "virDomainGetMemoryParameters" R _(dom: Dom, nparams: i32, flags: u32) -> ParamsCount;
    DOMAIN_SET_MEMORY_PARAMETERS = 197 "virDomainSetMemoryParameters" W domain_set_memory_parameters(dom: Dom, params: MemParams, flags: u32) -> ();
    DOMAIN_GET_NUMA_PARAMETERS = 255 "virDomainGetNumaParameters" R _(dom: Dom, nparams: i32, flags: u32) -> ParamsCount;
    DOMAIN_SET_NUMA_PARAMETERS = 254 "virDomainSetNumaParameters" W domain_set_numa_parameters(dom: Dom, params: NumaParams, flags: u32) -> ();
    #[client] DOMAIN_GET_PERF_EVENTS = 365 "virDomainGetPerfEvents" R domain_get_perf_events(dom: Dom, flags: u32) -> PerfParams;
    DOMAIN_SET_PERF_EVENTS = 366 "virDomainSetPerfEvents" W domain_set_perf_events(dom: Dom, params: PerfParams, flags: u32) -> ();
    DOMAIN_GET_BLOCK_IO_TUNE = 253 "virDomainGetBlockIoTune" R _(dom: Dom, disk: OptStr, nparams: i32, flags: u32) -> ParamsCount;
    DOMAIN_SET_BLOCK_IO_TUNE = 252 "virDomainSetBlockIoTune" W domain_set_block_io_tune(dom: Dom, disk: Str, params: TuneParams, flags: u32) -> ();
    DOMAIN_GET_INTERFACE_PARAMETERS = 257 "virDomainGetInterfaceParameters" R _(dom: Dom, device: Str, nparams: i32, flags: u32) -> ParamsCount;
    DOMAIN_SET_INTERFACE_PARAMETERS = 256 "virDomainSetInterfaceParameters" W domain_set_interface_parameters(dom: Dom, device: Str, params: IfaceParams, flags: u32) -> ();
    DOMAIN_BLOCK_STATS_FLAGS = 243 "virDomainBlockStatsFlags" R _(dom: Dom, path: Str, nparams: i32, flags: u32) -> ParamsCount;
    DOMAIN_SET_LIFECYCLE_ACTION = 390 "virDomainSetLifecycleAction" W domain_set_lifecycle_action(dom: Dom, kind: u32, action: u32, flags: u32) -> ();
    DOMAIN_GET_IOTHREAD_INFO = 351 "virDomainGetIOThreadInfo" R domain_get_iothread_info(dom: Dom, flags: u32) -> IothreadInfo;
    DOMAIN_ADD_IOTHREAD = 355 "virDomainAddIOThread" W domain_add_iothread(dom: Dom, iothread_id: u32, flags: u32) -> ();
    DOMAIN_DEL_IOTHREAD = 356 "virDomainDelIOThread" W domain_del_iothread(dom: Dom, iothread_id: u32, flags: u32) -> ();
    DOMAIN_PIN_IOTHREAD = 352 "virDomainPinIOThread" W domain_pin_iothread(dom: Dom, iothreads_id: u32, cpumap: Cpumap, flags: u32) -> ();
    DOMAIN_SET_IOTHREAD_PARAMS = 402 "virDomainSetIOThreadParams" W domain_set_iothread_params(dom: Dom, iothread_id: u32, params: IothreadParams, flags: u32) -> ();
    // ---- domains: statistics --------------------------------------------------
    DOMAIN_BLOCK_STATS = 64 "virDomainBlockStats" R domain_block_stats(dom: Dom, path: Str) -> BlockStats;
    DOMAIN_INTERFACE_STATS = 65 "virDomainInterfaceStats" R domain_interface_stats(dom: Dom, device: Str) -> IfaceStats;
    DOMAIN_MEMORY_STATS = 159 "virDomainMemoryStats" R domain_memory_stats(dom: Dom, max_stats: MaxStats, flags: u32) -> MemStats;
    DOMAIN_GET_BLOCK_INFO = 194 "virDomainGetBlockInfo" R domain_get_block_info(dom: Dom, path: Str, flags: u32) -> BlockInfo;
    DOMAIN_BLOCK_PEEK = 103 "virDomainBlockPeek" W _(dom: Dom, path: Str, offset: u64, size: u32, flags: u32) -> PeekBuffer;
    DOMAIN_BLOCK_RESIZE = 251 "virDomainBlockResize" W domain_block_resize(dom: Dom, disk: Str, size: u64, flags: u32) -> ();
    // ---- domains: block jobs ------------------------------------------------------
    DOMAIN_GET_BLOCK_JOB_INFO = 238 "virDomainGetBlockJobInfo" R domain_get_block_job_info(dom: Dom, path: Str, flags: u32) -> BlockJobInfo;
    DOMAIN_BLOCK_JOB_ABORT = 237 "virDomainBlockJobAbort" W domain_block_job_abort(dom: Dom, path: Str, flags: u32) -> ();
    DOMAIN_BLOCK_JOB_SET_SPEED = 239 "virDomainBlockJobSetSpeed" W domain_block_job_set_speed(dom: Dom, path: Str, bandwidth: u64, flags: u32) -> ();
    DOMAIN_BLOCK_PULL = 240 "virDomainBlockPull" W domain_block_pull(dom: Dom, path: Str, bandwidth: u64, flags: u32) -> ();
    DOMAIN_BLOCK_REBASE = 266 "virDomainBlockRebase" W domain_block_rebase(dom: Dom, path: Str, base: OptStr, bandwidth: u64, flags: u32) -> ();
    DOMAIN_BLOCK_COMMIT = 290 "virDomainBlockCommit" W domain_block_commit(dom: Dom, disk: Str, base: OptStr, top: OptStr, bandwidth: u64, flags: u32) -> ();
    DOMAIN_BLOCK_COPY = 345 "virDomainBlockCopy" W domain_block_copy(dom: Dom, path: Str, destxml: Str, params: BlockCopyParams, flags: u32) -> ();
    DOMAIN_MIGRATE_BEGIN3_PARAMS = 302 "virDomainMigrateBegin3Params" W domain_migrate_begin3_params(dom: Dom, params: MigParams, flags: u32) -> CookieXml;
    DOMAIN_MIGRATE_PREPARE3_PARAMS = 303 "virDomainMigratePrepare3Params" W domain_migrate_prepare3_params(params: MigParams, cookie_in: Cookie, flags: u32) -> CookieUri;
    DOMAIN_MIGRATE_PERFORM3_PARAMS = 305 "virDomainMigratePerform3Params" W domain_migrate_perform3_params(dom: Dom, dconnuri: OptStr, params: MigParams, cookie_in: Cookie, flags: u32) -> Cookie;
    DOMAIN_MIGRATE_FINISH3_PARAMS = 306 "virDomainMigrateFinish3Params" W domain_migrate_finish3_params(params: MigParams, cookie_in: Cookie, flags: u32, cancelled: i32) -> DomCookie;
    DOMAIN_MIGRATE_CONFIRM3_PARAMS = 307 "virDomainMigrateConfirm3Params" W domain_migrate_confirm3_params(dom: Dom, params: MigParams, cookie_in: Cookie, flags: u32, cancelled: i32) -> ();
    DOMAIN_SET_BLOCK_THRESHOLD = 386 "virDomainSetBlockThreshold" W domain_set_block_threshold(dom: Dom, dev: Str, threshold: u64, flags: u32) -> ();
    DOMAIN_MIGRATE_SET_MAX_SPEED = 207 "virDomainMigrateSetMaxSpeed" W domain_migrate_set_max_speed(dom: Dom, bandwidth: u64, flags: u32) -> ();
    DOMAIN_MIGRATE_GET_MAX_SPEED = 242 "virDomainMigrateGetMaxSpeed" W domain_migrate_get_max_speed(dom: Dom, flags: u32) -> u64;
    DOMAIN_GET_CPU_STATS = 262 "virDomainGetCPUStats" R _(dom: Dom, nparams: u32, start_cpu: i32, ncpus: u32, flags: u32) -> CpuStats;
    DOMAIN_INTERFACE_ADDRESSES = 353 "virDomainInterfaceAddresses" R domain_interface_addresses(dom: Dom, source: u32, flags: u32) -> IfaceAddrs;
    CONNECT_GET_ALL_DOMAIN_STATS = 344 "virConnectGetAllDomainStats" R get_all_domain_stats(doms: OptDoms, stats: u32, flags: u32) -> AllDomainStats;
    // ---- domains: devices and streams ---------------------------------------------
    DOMAIN_ATTACH_DEVICE = 8 "virDomainAttachDevice" W domain_attach_device_plain(dom: Dom, xml: Str) -> ();
    DOMAIN_ATTACH_DEVICE_FLAGS = 160 "virDomainAttachDeviceFlags" W domain_attach_device(dom: Dom, xml: Str, flags: u32) -> ();
    DOMAIN_DETACH_DEVICE = 13 "virDomainDetachDevice" W domain_detach_device_plain(dom: Dom, xml: Str) -> ();
    DOMAIN_DETACH_DEVICE_FLAGS = 161 "virDomainDetachDeviceFlags" W domain_detach_device(dom: Dom, xml: Str, flags: u32) -> ();
    DOMAIN_DETACH_DEVICE_ALIAS = 392 "virDomainDetachDeviceAlias" W domain_detach_device_alias(dom: Dom, alias: Str, flags: u32) -> ();
    DOMAIN_UPDATE_DEVICE_FLAGS = 174 "virDomainUpdateDeviceFlags" W domain_update_device(dom: Dom, xml: Str, flags: u32) -> ();
    DOMAIN_SCREENSHOT = 211 "virDomainScreenshot" W _(dom: Dom, screen: u32, flags: u32) -> OptStr;
    DOMAIN_OPEN_CONSOLE = 201 "virDomainOpenConsole" W _(dom: Dom, dev_name: OptStr, flags: u32) -> ();
    // ---- snapshots ----------------------------------------------------------------
    DOMAIN_SNAPSHOT_CREATE_XML = 185 "virDomainSnapshotCreateXML" W snapshot_create_xml(dom: Dom, xml_desc: Str, flags: u32) -> Snap;
    DOMAIN_SNAPSHOT_GET_XML_DESC = 186 "virDomainSnapshotGetXMLDesc" R snapshot_get_xml_desc(snap: Snap, flags: u32) -> Str;
    DOMAIN_SNAPSHOT_NUM = 187 "virDomainSnapshotNum" R snapshot_num(dom: Dom, flags: u32) -> i32;
    DOMAIN_SNAPSHOT_LIST_NAMES = 188 "virDomainSnapshotListNames" R snapshot_list_names(dom: Dom, maxnames: MaxSnapshotNames, flags: u32) -> SnapshotNames;
    DOMAIN_LIST_ALL_SNAPSHOTS = 274 "virDomainListAllSnapshots" R _(dom: Dom, need_results: i32, flags: u32) -> AllSnapshots;
    DOMAIN_SNAPSHOT_NUM_CHILDREN = 246 "virDomainSnapshotNumChildren" R snapshot_num_children(snap: Snap, flags: u32) -> i32;
    DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES = 247 "virDomainSnapshotListChildrenNames" R snapshot_list_children_names(snap: Snap, maxnames: MaxSnapshotNames, flags: u32) -> SnapshotNames;
    DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN = 275 "virDomainSnapshotListAllChildren" R _(snap: Snap, need_results: i32, flags: u32) -> AllSnapshots;
    DOMAIN_SNAPSHOT_LOOKUP_BY_NAME = 189 "virDomainSnapshotLookupByName" R snapshot_lookup_by_name(dom: Dom, name: Str, flags: u32) -> Snap;
    DOMAIN_HAS_CURRENT_SNAPSHOT = 190 "virDomainHasCurrentSnapshot" R has_current_snapshot(dom: Dom, flags: u32) -> Bool;
    DOMAIN_SNAPSHOT_CURRENT = 191 "virDomainSnapshotCurrent" R snapshot_current(dom: Dom, flags: u32) -> Snap;
    DOMAIN_SNAPSHOT_GET_PARENT = 244 "virDomainSnapshotGetParent" R snapshot_get_parent(snap: Snap, flags: u32) -> Snap;
    DOMAIN_SNAPSHOT_IS_CURRENT = 271 "virDomainSnapshotIsCurrent" R snapshot_is_current(snap: Snap, flags: u32) -> Bool;
    DOMAIN_SNAPSHOT_HAS_METADATA = 272 "virDomainSnapshotHasMetadata" R snapshot_has_metadata(snap: Snap, flags: u32) -> Bool;
    DOMAIN_REVERT_TO_SNAPSHOT = 192 "virDomainRevertToSnapshot" W snapshot_revert(snap: Snap, flags: u32) -> ();
    DOMAIN_SNAPSHOT_DELETE = 193 "virDomainSnapshotDelete" W snapshot_delete(snap: Snap, flags: u32) -> ();
    // ---- checkpoints --------------------------------------------------------------
    DOMAIN_CHECKPOINT_CREATE_XML = 411 "virDomainCheckpointCreateXML" W checkpoint_create_xml(dom: Dom, xml_desc: Str, flags: u32) -> Cp;
    DOMAIN_CHECKPOINT_GET_XML_DESC = 412 "virDomainCheckpointGetXMLDesc" R checkpoint_get_xml_desc(checkpoint: Cp, flags: u32) -> Str;
    DOMAIN_LIST_ALL_CHECKPOINTS = 413 "virDomainListAllCheckpoints" R _(dom: Dom, need_results: i32, flags: u32) -> AllCheckpoints;
    DOMAIN_CHECKPOINT_LIST_ALL_CHILDREN = 414 "virDomainCheckpointListAllChildren" R _(checkpoint: Cp, need_results: i32, flags: u32) -> AllCheckpoints;
    DOMAIN_CHECKPOINT_LOOKUP_BY_NAME = 415 "virDomainCheckpointLookupByName" R checkpoint_lookup_by_name(dom: Dom, name: Str, flags: u32) -> Cp;
    DOMAIN_CHECKPOINT_GET_PARENT = 416 "virDomainCheckpointGetParent" R checkpoint_get_parent(checkpoint: Cp, flags: u32) -> Cp;
    DOMAIN_CHECKPOINT_DELETE = 417 "virDomainCheckpointDelete" W checkpoint_delete(checkpoint: Cp, flags: u32) -> ();
    // ---- domain events --------------------------------------------------------------
    CONNECT_DOMAIN_EVENT_REGISTER = 105 "virConnectDomainEventRegister" R _() -> Bool;
    CONNECT_DOMAIN_EVENT_DEREGISTER = 106 "virConnectDomainEventDeregister" R _() -> Bool;
    CONNECT_DOMAIN_EVENT_REGISTER_ANY = 167 "virConnectDomainEventRegisterAny" R _(event_id: i32) -> ();
    CONNECT_DOMAIN_EVENT_DEREGISTER_ANY = 168 "virConnectDomainEventDeregisterAny" R _(event_id: i32) -> ();
    CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY = 316 "virConnectDomainEventRegisterAny" R _(event_id: i32, dom: OptDom) -> i32;
    CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY = 317 "virConnectDomainEventDeregisterAny" R _(callback_id: i32) -> ();
    } };
}

/// The storage family: pools, volumes, pool events.
#[macro_export]
macro_rules! storage_procedures {
    ($cb:ident { $($extra:tt)* }) => { $cb! { { $($extra)* } StorageDriver;
    CONNECT_LIST_ALL_STORAGE_POOLS = 281 "virConnectListAllStoragePools" R _(need_results: i32, flags: u32) -> AllPools;
    CONNECT_NUM_OF_STORAGE_POOLS = 71 "virConnectNumOfStoragePools" R num_of_storage_pools() -> i32;
    CONNECT_LIST_STORAGE_POOLS = 72 "virConnectListStoragePools" R list_storage_pools(maxnames: MaxPoolNames) -> PoolNames;
    CONNECT_NUM_OF_DEFINED_STORAGE_POOLS = 73 "virConnectNumOfDefinedStoragePools" R num_of_defined_storage_pools() -> i32;
    CONNECT_LIST_DEFINED_STORAGE_POOLS = 74 "virConnectListDefinedStoragePools" R list_defined_storage_pools(maxnames: MaxPoolNames) -> PoolNames;
    STORAGE_POOL_LOOKUP_BY_NAME = 84 "virStoragePoolLookupByName" R lookup_pool_by_name(name: Str) -> Pool;
    STORAGE_POOL_LOOKUP_BY_UUID = 85 "virStoragePoolLookupByUUID" R lookup_pool_by_uuid(uuid: Uuid) -> Pool;
    STORAGE_POOL_LOOKUP_BY_VOLUME = 86 "virStoragePoolLookupByVolume" R lookup_pool_by_volume(vol: Vol) -> Pool;
    CONNECT_FIND_STORAGE_POOL_SOURCES = 75 "virConnectFindStoragePoolSources" W find_storage_pool_sources(kind: Str, src_spec: OptStr, flags: u32) -> Str;
    STORAGE_POOL_DEFINE_XML = 77 "virStoragePoolDefineXML" W pool_define_xml(xml: Str, flags: u32) -> Pool;
    STORAGE_POOL_CREATE_XML = 76 "virStoragePoolCreateXML" W pool_create_xml(xml: Str, flags: u32) -> Pool;
    STORAGE_POOL_BUILD = 79 "virStoragePoolBuild" W pool_build(pool: Pool, flags: u32) -> ();
    STORAGE_POOL_CREATE = 78 "virStoragePoolCreate" W pool_create(pool: Pool, flags: u32) -> ();
    STORAGE_POOL_DESTROY = 80 "virStoragePoolDestroy" W pool_destroy(pool: Pool) -> ();
    STORAGE_POOL_DELETE = 81 "virStoragePoolDelete" W pool_delete(pool: Pool, flags: u32) -> ();
    STORAGE_POOL_UNDEFINE = 82 "virStoragePoolUndefine" W pool_undefine(pool: Pool) -> ();
    STORAGE_POOL_REFRESH = 83 "virStoragePoolRefresh" W pool_refresh(pool: Pool, flags: u32) -> ();
    STORAGE_POOL_GET_INFO = 87 "virStoragePoolGetInfo" R pool_get_info(pool: Pool) -> PoolInfo;
    STORAGE_POOL_GET_XML_DESC = 88 "virStoragePoolGetXMLDesc" R pool_get_xml_desc(pool: Pool, flags: u32) -> Str;
    STORAGE_POOL_GET_AUTOSTART = 89 "virStoragePoolGetAutostart" R pool_get_autostart(pool: Pool) -> Bool;
    STORAGE_POOL_SET_AUTOSTART = 90 "virStoragePoolSetAutostart" W pool_set_autostart(pool: Pool, autostart: Bool) -> ();
    STORAGE_POOL_IS_ACTIVE = 154 "virStoragePoolIsActive" R pool_is_active(pool: Pool) -> Bool;
    STORAGE_POOL_IS_PERSISTENT = 155 "virStoragePoolIsPersistent" R pool_is_persistent(pool: Pool) -> Bool;
    STORAGE_POOL_NUM_OF_VOLUMES = 91 "virStoragePoolNumOfVolumes" R pool_num_of_volumes(pool: Pool) -> i32;
    STORAGE_POOL_LIST_VOLUMES = 92 "virStoragePoolListVolumes" R pool_list_volumes(pool: Pool, maxnames: MaxVolNames) -> VolNames;
    STORAGE_POOL_LIST_ALL_VOLUMES = 282 "virStoragePoolListAllVolumes" R _(pool: Pool, need_results: i32, flags: u32) -> AllVols;
    STORAGE_VOL_CREATE_XML = 93 "virStorageVolCreateXML" W vol_create_xml(pool: Pool, xml: Str, flags: u32) -> Vol;
    STORAGE_VOL_CREATE_XML_FROM = 125 "virStorageVolCreateXMLFrom" W vol_create_xml_from(pool: Pool, xml: Str, clonevol: Vol, flags: u32) -> Vol;
    STORAGE_VOL_LOOKUP_BY_NAME = 95 "virStorageVolLookupByName" R lookup_vol_by_name(pool: Pool, name: Str) -> Vol;
    STORAGE_VOL_LOOKUP_BY_KEY = 96 "virStorageVolLookupByKey" R lookup_vol_by_key(key: Str) -> Vol;
    STORAGE_VOL_LOOKUP_BY_PATH = 97 "virStorageVolLookupByPath" R lookup_vol_by_path(path: Str) -> Vol;
    STORAGE_VOL_DELETE = 94 "virStorageVolDelete" W vol_delete(vol: Vol, flags: u32) -> ();
    STORAGE_VOL_WIPE = 165 "virStorageVolWipe" W vol_wipe_zero(vol: Vol, flags: u32) -> ();
    STORAGE_VOL_WIPE_PATTERN = 259 "virStorageVolWipePattern" W vol_wipe(vol: Vol, algorithm: u32, flags: u32) -> ();
    STORAGE_VOL_GET_INFO = 98 "virStorageVolGetInfo" R _(vol: Vol) -> VolInfo;
    STORAGE_VOL_GET_INFO_FLAGS = 378 "virStorageVolGetInfoFlags" R _(vol: Vol, flags: u32) -> VolInfo;
    STORAGE_VOL_GET_XML_DESC = 99 "virStorageVolGetXMLDesc" R vol_get_xml_desc(vol: Vol, flags: u32) -> Str;
    STORAGE_VOL_GET_PATH = 100 "virStorageVolGetPath" R vol_get_path(vol: Vol) -> Str;
    STORAGE_VOL_RESIZE = 260 "virStorageVolResize" W vol_resize(vol: Vol, capacity: u64, flags: u32) -> ();
    STORAGE_VOL_UPLOAD = 208 "virStorageVolUpload" W _(vol: Vol, offset: u64, length: u64, flags: u32) -> ();
    STORAGE_VOL_DOWNLOAD = 209 "virStorageVolDownload" W _(vol: Vol, offset: u64, length: u64, flags: u32) -> ();
    CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY = 368 "virConnectStoragePoolEventRegisterAny" R _(event_id: i32, pool: OptPool) -> i32;
    CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY = 369 "virConnectStoragePoolEventDeregisterAny" R _(callback_id: i32) -> ();
    } };
}

/// The network family: networks, ports, network events.
#[macro_export]
macro_rules! network_procedures {
    ($cb:ident { $($extra:tt)* }) => { $cb! { { $($extra)* } NetworkDriver;
    CONNECT_LIST_ALL_NETWORKS = 283 "virConnectListAllNetworks" R _(need_results: i32, flags: u32) -> AllNetworks;
    CONNECT_NUM_OF_NETWORKS = 52 "virConnectNumOfNetworks" R num_of_networks() -> i32;
    CONNECT_LIST_NETWORKS = 38 "virConnectListNetworks" R list_networks(maxnames: MaxNetworkNames) -> NetworkNames;
    CONNECT_NUM_OF_DEFINED_NETWORKS = 50 "virConnectNumOfDefinedNetworks" R num_of_defined_networks() -> i32;
    CONNECT_LIST_DEFINED_NETWORKS = 36 "virConnectListDefinedNetworks" R list_defined_networks(maxnames: MaxNetworkNames) -> NetworkNames;
    NETWORK_LOOKUP_BY_NAME = 46 "virNetworkLookupByName" R lookup_network_by_name(name: Str) -> Net;
    NETWORK_LOOKUP_BY_UUID = 47 "virNetworkLookupByUUID" R lookup_network_by_uuid(uuid: Uuid) -> Net;
    NETWORK_DEFINE_XML = 41 "virNetworkDefineXML" W _(xml: Str) -> Net;
    NETWORK_DEFINE_XML_FLAGS = 432 "virNetworkDefineXMLFlags" W _(xml: Str, flags: u32) -> Net;
    NETWORK_CREATE_XML = 40 "virNetworkCreateXML" W _(xml: Str) -> Net;
    NETWORK_CREATE_XML_FLAGS = 437 "virNetworkCreateXMLFlags" W _(xml: Str, flags: u32) -> Net;
    NETWORK_UNDEFINE = 49 "virNetworkUndefine" W network_undefine(net: Net) -> ();
    NETWORK_CREATE = 39 "virNetworkCreate" W network_create(net: Net) -> ();
    NETWORK_DESTROY = 42 "virNetworkDestroy" W network_destroy(net: Net) -> ();
    NETWORK_GET_XML_DESC = 43 "virNetworkGetXMLDesc" R network_get_xml_desc(net: Net, flags: u32) -> Str;
    NETWORK_GET_BRIDGE_NAME = 45 "virNetworkGetBridgeName" R network_get_bridge_name(net: Net) -> Str;
    NETWORK_GET_AUTOSTART = 44 "virNetworkGetAutostart" R network_get_autostart(net: Net) -> Bool;
    NETWORK_SET_AUTOSTART = 48 "virNetworkSetAutostart" W network_set_autostart(net: Net, autostart: Bool) -> ();
    NETWORK_IS_ACTIVE = 152 "virNetworkIsActive" R network_is_active(net: Net) -> Bool;
    NETWORK_IS_PERSISTENT = 153 "virNetworkIsPersistent" R network_is_persistent(net: Net) -> Bool;
    NETWORK_UPDATE = 291 "virNetworkUpdate" W network_update(net: Net, command: u32, section: u32, parent_index: i32, xml: Str, flags: u32) -> ();
    NETWORK_GET_DHCP_LEASES = 341 "virNetworkGetDHCPLeases" R _(net: Net, mac: OptStr, need_results: i32, flags: u32) -> AllLeases;
    NETWORK_LIST_ALL_PORTS = 404 "virNetworkListAllPorts" R _(net: Net, need_results: i32, flags: u32) -> AllPorts;
    NETWORK_PORT_LOOKUP_BY_UUID = 405 "virNetworkPortLookupByUUID" R _(net: Net, uuid: Uuid) -> NetPort;
    NETWORK_PORT_CREATE_XML = 406 "virNetworkPortCreateXML" W _(net: Net, xml: Str, flags: u32) -> NetPort;
    #[server] NETWORK_PORT_GET_XML_DESC = 409 "virNetworkPortGetXMLDesc" R network_port_get_xml_desc(port: Port, flags: u32) -> Str;
    #[server] NETWORK_PORT_DELETE = 410 "virNetworkPortDelete" W network_port_delete(port: Port, flags: u32) -> ();
    CONNECT_NETWORK_EVENT_REGISTER_ANY = 313 "virConnectNetworkEventRegisterAny" R _(event_id: i32, net: OptNet) -> i32;
    CONNECT_NETWORK_EVENT_DEREGISTER_ANY = 314 "virConnectNetworkEventDeregisterAny" R _(callback_id: i32) -> ();
    } };
}

/// The secret family.
#[macro_export]
macro_rules! secret_procedures {
    ($cb:ident { $($extra:tt)* }) => { $cb! { { $($extra)* } SecretDriver;
    CONNECT_LIST_ALL_SECRETS = 287 "virConnectListAllSecrets" R _(need_results: i32, flags: u32) -> AllSecrets;
    CONNECT_NUM_OF_SECRETS = 139 "virConnectNumOfSecrets" R num_of_secrets() -> i32;
    CONNECT_LIST_SECRETS = 140 "virConnectListSecrets" R list_secrets(maxuuids: MaxSecretUuids) -> SecretUuids;
    SECRET_LOOKUP_BY_UUID = 141 "virSecretLookupByUUID" R lookup_secret_by_uuid(uuid: Uuid) -> Secret;
    SECRET_LOOKUP_BY_USAGE = 147 "virSecretLookupByUsage" R lookup_secret_by_usage(usage_type: i32, usage_id: Str) -> Secret;
    SECRET_DEFINE_XML = 142 "virSecretDefineXML" W secret_define_xml(xml: Str, flags: u32) -> Secret;
    SECRET_GET_XML_DESC = 143 "virSecretGetXMLDesc" R secret_get_xml_desc(secret: Secret, flags: u32) -> Str;
    SECRET_SET_VALUE = 144 "virSecretSetValue" W secret_set_value(secret: Secret, value: SecretValue, flags: u32) -> ();
    SECRET_GET_VALUE = 145 "virSecretGetValue" W secret_get_value(secret: Secret, flags: u32) -> SecretValue;
    SECRET_UNDEFINE = 146 "virSecretUndefine" W secret_undefine(secret: Secret) -> ();
    CONNECT_SECRET_EVENT_REGISTER_ANY = 380 "virConnectSecretEventRegisterAny" R _(event_id: i32, secret: OptSecret) -> i32;
    CONNECT_SECRET_EVENT_DEREGISTER_ANY = 381 "virConnectSecretEventDeregisterAny" R _(callback_id: i32) -> ();
    } };
}

/// The node-device family.
#[macro_export]
macro_rules! nodedev_procedures {
    ($cb:ident { $($extra:tt)* }) => { $cb! { { $($extra)* } NodeDeviceDriver;
    CONNECT_LIST_ALL_NODE_DEVICES = 285 "virConnectListAllNodeDevices" R _(need_results: i32, flags: u32) -> AllDevices;
    NODE_NUM_OF_DEVICES = 111 "virNodeNumOfDevices" R node_num_of_devices(cap: OptStr, flags: u32) -> i32;
    NODE_LIST_DEVICES = 112 "virNodeListDevices" R node_list_devices(cap: OptStr, maxnames: MaxDeviceNames, flags: u32) -> DeviceNames;
    NODE_DEVICE_LOOKUP_BY_NAME = 113 "virNodeDeviceLookupByName" R lookup_node_device_by_name(name: Str) -> Dev;
    NODE_DEVICE_GET_XML_DESC = 114 "virNodeDeviceGetXMLDesc" R node_device_get_xml_desc(name: DevName, flags: u32) -> Str;
    NODE_DEVICE_GET_PARENT = 115 "virNodeDeviceGetParent" R node_device_get_parent(name: DevName) -> OptStr;
    NODE_DEVICE_NUM_OF_CAPS = 116 "virNodeDeviceNumOfCaps" R node_device_num_of_caps(name: DevName) -> i32;
    NODE_DEVICE_LIST_CAPS = 117 "virNodeDeviceListCaps" R _(name: DevName, maxnames: i32) -> CapNames;
    NODE_DEVICE_CREATE_XML = 123 "virNodeDeviceCreateXML" W node_device_create_xml(xml_desc: Str, flags: u32) -> Dev;
    NODE_DEVICE_DESTROY = 124 "virNodeDeviceDestroy" W node_device_destroy(name: DevName) -> ();
    CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY = 374 "virConnectNodeDeviceEventRegisterAny" R _(event_id: i32, dev: OptDev) -> i32;
    CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY = 375 "virConnectNodeDeviceEventDeregisterAny" R _(callback_id: i32) -> ();
    } };
}

/// The host-interface family.
#[macro_export]
macro_rules! interface_procedures {
    ($cb:ident { $($extra:tt)* }) => { $cb! { { $($extra)* } InterfaceDriver;
    CONNECT_LIST_ALL_INTERFACES = 284 "virConnectListAllInterfaces" R _(need_results: i32, flags: u32) -> AllInterfaces;
    CONNECT_NUM_OF_INTERFACES = 126 "virConnectNumOfInterfaces" R num_of_interfaces() -> i32;
    CONNECT_LIST_INTERFACES = 127 "virConnectListInterfaces" R list_interfaces(maxnames: MaxInterfaceNames) -> InterfaceNames;
    CONNECT_NUM_OF_DEFINED_INTERFACES = 137 "virConnectNumOfDefinedInterfaces" R num_of_defined_interfaces() -> i32;
    CONNECT_LIST_DEFINED_INTERFACES = 138 "virConnectListDefinedInterfaces" R list_defined_interfaces(maxnames: MaxInterfaceNames) -> InterfaceNames;
    INTERFACE_LOOKUP_BY_NAME = 128 "virInterfaceLookupByName" R lookup_interface_by_name(name: Str) -> Iface;
    INTERFACE_LOOKUP_BY_MAC_STRING = 129 "virInterfaceLookupByMACString" R lookup_interface_by_mac(mac: Str) -> Iface;
    INTERFACE_GET_XML_DESC = 130 "virInterfaceGetXMLDesc" R interface_get_xml_desc(iface: Iface, flags: u32) -> Str;
    INTERFACE_DEFINE_XML = 131 "virInterfaceDefineXML" W interface_define_xml(xml: Str, flags: u32) -> Iface;
    INTERFACE_UNDEFINE = 132 "virInterfaceUndefine" W interface_undefine(iface: Iface) -> ();
    INTERFACE_CREATE = 133 "virInterfaceCreate" W interface_create(iface: Iface, flags: u32) -> ();
    INTERFACE_DESTROY = 134 "virInterfaceDestroy" W interface_destroy(iface: Iface, flags: u32) -> ();
    INTERFACE_IS_ACTIVE = 156 "virInterfaceIsActive" R interface_is_active(iface: Iface) -> Bool;
    INTERFACE_CHANGE_BEGIN = 220 "virInterfaceChangeBegin" W interface_change_begin(flags: u32) -> ();
    INTERFACE_CHANGE_COMMIT = 221 "virInterfaceChangeCommit" W interface_change_commit(flags: u32) -> ();
    INTERFACE_CHANGE_ROLLBACK = 222 "virInterfaceChangeRollback" W interface_change_rollback(flags: u32) -> ();
    } };
}

/// The network-filter family.
#[macro_export]
macro_rules! nwfilter_procedures {
    ($cb:ident { $($extra:tt)* }) => { $cb! { { $($extra)* } NwFilterDriver;
    CONNECT_NUM_OF_NWFILTERS = 178 "virConnectNumOfNWFilters" R num_of_nwfilters() -> i32;
    CONNECT_LIST_NWFILTERS = 179 "virConnectListNWFilters" R list_nwfilters(maxnames: MaxNwFilterNames) -> NwFilterNames;
    } };
}
