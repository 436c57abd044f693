//! The driver instance: domains, their jobs, and the definition APIs.
//!
//! Locking: `Driver::state` guards every domain object and is only held
//! for short, non-blocking sections (never across QMP or process waits,
//! never while events are delivered). Mutating operations on one domain
//! first take that domain's job (`Job`), so they never interleave; reads
//! (`info`, `state`, `list`, `dumpxml`) take only the state lock and so
//! never wait behind a job.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use oxvirt_core::domobj::{self, AddFlags, DomainList, Key, ObjMut};
use oxvirt_core::error::{code, from};
use oxvirt_core::event::{DomainEvent, EventHub};
use oxvirt_core::host::HostServices;
use oxvirt_core::types::{reason, DomainRef, Uuid};
use oxvirt_core::{Error, Result};
use oxvirt_qmp::Qmp;
use oxvirt_xml::domain::{Domain, FormatFlags, ParseFlags, ParseOptions};

use crate::caps::Caps;
use crate::store::{self, Layout, Status};
use crate::FROM;

/// How long an API waits for another job on the same domain.
pub const JOB_WAIT: Duration = Duration::from_secs(30);

pub(crate) use oxvirt_core::domobj::{lock, Job, JobGuard};

/// A running QEMU process and its monitor.
pub(crate) struct Running {
    /// Distinguishes successive processes of one domain.
    pub gen: u64,
    pub pid: i32,
    /// The process's start time (`process::start_time`), 0 if unknown.
    pub start_time: u64,
    pub qmp: Qmp,
    pub qmp_path: PathBuf,
    /// Our child when we started it (reaped when it exits).
    pub child: Mutex<Option<crate::hostproc::ChildPid>>,
    /// Set by the API that kills the process, so the monitor's EOF is
    /// expected and handled by that API.
    pub being_destroyed: AtomicBool,
    /// Events are no longer acted on (the monitor is as good as closed,
    /// as when libvirt closes it before killing QEMU for a save).
    pub muted: AtomicBool,
    /// Events the domain's event thread has handled, and EOF seen.
    pub handled: Mutex<(u64, bool)>,
    pub handled_cv: Condvar,
}

impl Running {
    /// Sends `sig` to this QEMU if it is still the process started then
    /// (never to a process that reused its pid); does not wait.
    pub fn signal(&self, sig: i32) {
        let _ = crate::hostproc::signal_verified(self.pid, self.start_time, sig, Duration::ZERO);
    }

    /// Waits until the event thread has handled every event QEMU sent
    /// before the last command's reply (libvirt handles them before the
    /// API returns, so states read afterwards include them).
    pub fn sync_events(&self) {
        let want = self.qmp.events_received();
        let mut h = lock(&self.handled);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while h.0 < want && !h.1 {
            let now = std::time::Instant::now();
            if now >= deadline {
                break;
            }
            h = self
                .handled_cv
                .wait_timeout(h, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Waits until the event thread has seen the monitor close.
    pub fn wait_eof(&self, wait: Duration) -> bool {
        let mut h = lock(&self.handled);
        let deadline = std::time::Instant::now() + wait;
        while !h.1 {
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            h = self
                .handled_cv
                .wait_timeout(h, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }
}

/// The QEMU driver's part of a domain object (libvirt's
/// qemuDomainObjPrivate).
pub(crate) struct QemuDomain {
    pub job: Arc<Job>,
    pub run: Option<Arc<Running>>,
    /// A reboot by power-off and reset is in progress.
    pub fake_reboot: bool,
    /// The guest stopped as part of a fake reboot.
    pub paused_shutdown: bool,
    /// Reasons the next STOP / RESUME events carry.
    pub paused_reason: i32,
    pub running_reason: i32,
    pub autodestroy: bool,
    /// Statistics of the running save (domjobinfo).
    pub job_current: Option<crate::jobdata::JobData>,
    /// Statistics of the last completed one (domjobinfo --completed).
    pub job_completed: Option<crate::jobdata::JobData>,
    /// The asynchronous job recorded in the status file while it runs.
    pub async_job: Option<store::JobRecord>,
    /// Loaded from a status file and not yet re-attached: calls on the
    /// domain wait until the re-attach thread is done with it.
    pub reattaching: bool,
    /// The snapshot tree (`snapmeta` keeps it on disk).
    pub snapshots: oxvirt_core::moments::SnapshotTree,
    /// The migration bandwidth limit in MiB/s (priv->migMaxBandwidth).
    pub mig_max_bandwidth: u64,
    /// The block jobs QEMU runs for the disks (`blockjob`).
    pub blockjobs: Vec<store::BlockJobRecord>,
    /// How the last block jobs ended (name, status, QEMU's error), for
    /// an API waiting for its job to end.
    pub blockjob_ends: Vec<(String, i32, Option<String>)>,
    /// Storage nodes whose write threshold was set with an explicit
    /// index (`vda[2]`): their event names only the indexed image
    /// (thresholdEventWithIndex).
    pub threshold_indexed: Vec<String>,
}

/// QEMU_DOMAIN_MIG_BANDWIDTH_MAX: the largest limit in MiB/s whose bytes
/// per second fit QEMU's int64, and every domain's limit until one is set.
pub(crate) const MIG_BANDWIDTH_MAX: u64 = (i64::MAX as u64) / (1024 * 1024);

impl QemuDomain {
    pub fn new() -> QemuDomain {
        QemuDomain {
            job: Arc::new(Job::default()),
            run: None,
            fake_reboot: false,
            paused_shutdown: false,
            paused_reason: reason::paused::UNKNOWN,
            running_reason: reason::running::UNKNOWN,
            autodestroy: false,
            job_current: None,
            job_completed: None,
            async_job: None,
            reattaching: false,
            snapshots: Default::default(),
            mig_max_bandwidth: MIG_BANDWIDTH_MAX,
            blockjobs: Vec::new(),
            blockjob_ends: Vec::new(),
            threshold_indexed: Vec::new(),
        }
    }
}

/// A domain with its runtime state (libvirt's virDomainObj, oxvirt-core's
/// shared object with the QEMU part).
pub(crate) type DomainObj = domobj::DomainObj<QemuDomain>;

/// A new, inactive and transient domain object.
pub(crate) fn new_obj(def: Domain) -> DomainObj {
    DomainObj::new(def, QemuDomain::new())
}

/// What the status file of a running domain holds.
pub(crate) fn status_of(obj: &DomainObj) -> Option<Status> {
    let run = obj.run.as_ref()?;
    Some(Status {
        pid: run.pid,
        start_time: run.start_time,
        qmp: run.qmp_path.clone(),
        id: obj.def.id.unwrap_or(-1),
        state: obj.state as i32,
        reason: obj.reason,
        xml: obj.def.format(FormatFlags::default()),
        fake_reboot: obj.fake_reboot,
        autodestroy: obj.autodestroy,
        job: obj.async_job.clone(),
        adopted: false,
        blockjobs: obj.blockjobs.clone(),
    })
}

pub(crate) struct State {
    pub doms: DomainList<QemuDomain>,
    pub next_id: i32,
    pub next_gen: u64,
}

impl State {
    pub fn find_uuid(&self, uuid: &Uuid) -> Option<Key> {
        self.doms.find_uuid(uuid)
    }
    pub fn find_name(&self, name: &str) -> Option<Key> {
        self.doms.find_name(name)
    }
    pub fn dom(&self, d: &DomainRef) -> Result<&DomainObj> {
        self.doms.lookup(d, FROM)
    }
    pub fn dom_mut(&mut self, d: &DomainRef) -> Result<ObjMut<'_, QemuDomain>> {
        self.doms.lookup_mut(d, FROM)
    }
    pub fn by_uuid_mut(&mut self, uuid: &Uuid) -> Option<ObjMut<'_, QemuDomain>> {
        self.doms.by_uuid_mut(uuid)
    }
}

/// The handle of a definition not yet listed.
pub(crate) fn def_handle(def: &Domain) -> DomainRef {
    DomainRef {
        name: def.name.clone(),
        uuid: def.uuid,
        id: -1,
    }
}

pub(crate) fn no_domain_uuid(dom: &DomainRef) -> Error {
    domobj::no_domain_uuid(dom, FROM)
}

/// libvirt's virCheckFlags.
pub(crate) fn check_flags(flags: u32, supported: u32, func: &str) -> Result<()> {
    domobj::check_flags(flags, supported, func, FROM)
}

/// One QEMU driver instance: everything under one root directory.
pub struct Driver {
    pub(crate) layout: Layout,
    pub(crate) caps: Caps,
    /// Every guest architecture of the host, for the define path.
    pub(crate) host: crate::host::QemuHost,
    /// The driver's directories that show in definitions.
    pub(crate) paths: crate::define::Paths,
    pub(crate) state: Mutex<State>,
    /// Signalled (with `state`) whenever a domain finishes re-attaching.
    pub(crate) ready_cv: Condvar,
    /// Domains still being re-attached.
    pub(crate) reattaching: AtomicUsize,
    pub events: EventHub,
    pub(crate) me: Weak<Driver>,
    /// The host's sysinfo, read once (libvirt reads it at start).
    pub(crate) sysinfo: std::sync::OnceLock<Option<String>>,
    /// The host-wide storage, network and secret services.
    #[allow(dead_code)]
    pub(crate) services: HostServices,
}

impl Driver {
    /// Opens (creating) the state under `root`: temporaries of
    /// interrupted writes are removed and persistent definitions loaded
    /// (`crate::driver()` then re-attaches the running QEMUs).
    /// `services` are the daemon's host-wide storage, network and secret
    /// services.
    pub(crate) fn open(root: PathBuf, services: HostServices) -> Result<Arc<Driver>> {
        let layout = Layout::new(root);
        layout.create()?;
        for p in store::remove_stale_temps(&layout) {
            tracing::info!("removed {} left by an interrupted write", p.display());
        }
        let host = crate::host::QemuHost::probe(&layout.root.join("cache"));
        let caps = match host.guest(crate::host::host_arch()) {
            Some(g) => g.caps.clone(),
            None => Caps::probe(&layout.root.join("cache")),
        };
        let paths = crate::define::Paths {
            nvram_dir: layout.root.join("nvram").to_string_lossy().into_owned(),
            channel_target_dir: layout
                .root
                .join("channel/target")
                .to_string_lossy()
                .into_owned(),
            firmware_dirs: crate::define::FIRMWARE_DIRS
                .iter()
                .map(|d| d.to_string())
                .collect(),
        };
        let drv = Arc::new_cyclic(|me| Driver {
            layout,
            caps,
            host,
            paths,
            state: Mutex::new(State {
                doms: DomainList::new(),
                next_id: 1,
                next_gen: 1,
            }),
            ready_cv: Condvar::new(),
            reattaching: AtomicUsize::new(0),
            events: EventHub::new(),
            me: me.clone(),
            sysinfo: std::sync::OnceLock::new(),
            services,
        });
        drv.load_configs();
        Ok(drv)
    }

    /// virConnectGetSysinfo: the host's SMBIOS as libvirt formats it, or
    /// libvirt's error when the host has none.
    pub(crate) fn sysinfo(&self) -> Result<String> {
        self.sysinfo
            .get_or_init(|| oxvirt_host::sysinfo::read().map(|s| s.format()))
            .clone()
            .ok_or_else(|| oxvirt_host::sysinfo::unavailable(FROM))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Locks the state once `dom` is no longer being re-attached (waiting
    /// at most `JOB_WAIT`), so that a read never reports the state a
    /// status file claimed before QEMU confirmed it. Fails as a job that
    /// cannot be acquired when the wait runs out, and with "no domain"
    /// when the domain is unknown (or went away while re-attaching).
    pub(crate) fn read(&self, dom: &DomainRef) -> Result<MutexGuard<'_, State>> {
        let mut st = self.lock();
        if self.reattaching.load(Ordering::SeqCst) == 0 {
            st.dom(dom)?;
            return Ok(st);
        }
        let deadline = std::time::Instant::now() + JOB_WAIT;
        loop {
            if !st.dom(dom)?.reattaching {
                return Ok(st);
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Err(Error::new(
                    code::OPERATION_TIMEOUT,
                    FROM,
                    "cannot acquire state change lock (held by monitor=reconnect)",
                ));
            }
            st = self
                .ready_cv
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Locks the state once no domain is being re-attached any more (at
    /// most `JOB_WAIT`; afterwards what is known is answered), for
    /// listings and for calls that add domains.
    pub(crate) fn lock_all_ready(&self) -> MutexGuard<'_, State> {
        let mut st = self.lock();
        let deadline = std::time::Instant::now() + JOB_WAIT;
        while self.reattaching.load(Ordering::SeqCst) > 0 {
            let now = std::time::Instant::now();
            if now >= deadline {
                break;
            }
            st = self
                .ready_cv
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        st
    }

    pub(crate) fn emit(&self, events: Vec<DomainEvent>) {
        for e in &events {
            self.events.emit_domain(e);
        }
    }

    pub(crate) fn arc(&self) -> Option<Arc<Driver>> {
        self.me.upgrade()
    }

    fn load_configs(&self) {
        let Ok(rd) = std::fs::read_dir(self.layout.config_dir()) else {
            return;
        };
        let mut st = self.lock();
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("xml") {
                continue;
            }
            let Ok(xml) = std::fs::read_to_string(&p) else {
                continue;
            };
            match self.parse_def_existing(&xml) {
                Ok(def) => {
                    if st.find_uuid(&def.uuid).is_some() || st.find_name(&def.name).is_some() {
                        tracing::warn!("skipping duplicate definition {}", p.display());
                        continue;
                    }
                    let mut obj = new_obj(def);
                    obj.persistent = true;
                    obj.autostart = self.layout.autostart(&obj.def.name).exists();
                    st.doms.insert(obj);
                }
                Err(e) => tracing::warn!("cannot load {}: {}", p.display(), e),
            }
        }
    }

    /// Parses and completes a new definition (define, create) the way
    /// libvirt's QEMU driver does: defaults, addresses, validation
    /// (`define`), then a UUID and MAC addresses where missing.
    pub(crate) fn parse_def(&self, xml: &str) -> Result<Domain> {
        self.parse_with(xml, true)
    }

    /// virConnectDomainXMLToNative: the command line of a definition, as
    /// libvirt prints it (argv/native.rs).
    pub(crate) fn xml_to_native(&self, format: &str, xml: &str, flags: u32) -> Result<String> {
        use crate::argv::native;
        check_flags(flags, 0, "qemuConnectDomainXMLToNative")?;
        if format != "qemu-argv" {
            return Err(Error::invalid_arg(
                FROM,
                format!("unsupported config type {}", format),
            ));
        }
        let def = self.parse_def(xml)?;
        // The domain's private directory, as libvirt's
        // `/var/lib/libvirt/qemu/domain--1-NAME`.
        let home = self.layout.root.join(native::home_name(&def.name));
        let home = home.display().to_string();
        let ctx = crate::define::Context {
            host: &self.host,
            abi_update: true,
            paths: &self.paths,
        };
        let argv = native::argv(def, &ctx, &home)?;
        Ok(native::command_string(&native::environment(&home), &argv))
    }

    /// Parses a definition this driver wrote before (configs, save
    /// images): defaults are completed without updating the guest ABI.
    pub(crate) fn parse_def_existing(&self, xml: &str) -> Result<Domain> {
        self.parse_with(xml, false)
    }

    fn parse_with(&self, xml: &str, abi_update: bool) -> Result<Domain> {
        let ctx = crate::define::Context {
            host: &self.host,
            abi_update,
            paths: &self.paths,
        };
        let mut def = crate::define::parse(xml, &ctx)?;
        self.fill_ids(&mut def);
        Ok(def)
    }

    /// Parses a device wrapped in a placeholder domain (hotplug): the
    /// generic parse only, so no address is assigned against the wrong
    /// domain.
    pub(crate) fn parse_device_def(&self, xml: &str) -> Result<Domain> {
        let flags = ParseFlags {
            inactive: true,
            ..Default::default()
        };
        let opts = ParseOptions {
            default_arch: Some(crate::host::host_arch().into()),
        };
        let mut def =
            Domain::parse(xml, flags, &opts).map_err(|e| Error::from_xml(e, from::DOMAIN))?;
        self.fill_ids(&mut def);
        Ok(def)
    }

    /// A UUID and MAC addresses where the definition has none.
    fn fill_ids(&self, def: &mut Domain) {
        if def.needs_uuid() {
            def.uuid = Uuid(*uuid::Uuid::new_v4().as_bytes());
        }
        for n in def.devices.interfaces.iter_mut() {
            if n.mac.is_none() {
                let b = uuid::Uuid::new_v4();
                let b = b.as_bytes();
                n.mac = Some(format!("52:54:00:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2]));
            }
        }
    }

    /// Writes a persistent definition atomically.
    pub(crate) fn save_config(&self, def: &Domain) -> Result<()> {
        let xml = def.format(FormatFlags {
            inactive: true,
            ..Default::default()
        });
        store::write_atomic(&self.layout.config(&def.name), xml.as_bytes(), true)
    }

    /// Writes the run/ status file of an active domain.
    pub(crate) fn save_status(&self, obj: &DomainObj) {
        if let Some(s) = status_of(obj) {
            if let Err(e) =
                store::write_atomic(&self.layout.status(&obj.def.name), &s.to_json(), false)
            {
                tracing::warn!("cannot write status of {}: {}", obj.def.name, e);
            }
        }
    }

    /// Takes the job of `dom`.
    pub(crate) fn begin_job(&self, dom: &DomainRef) -> Result<JobGuard> {
        let job = self.lock().dom(dom)?.job.clone();
        let g = job.begin(JOB_WAIT, FROM)?;
        // The domain may have gone while we waited.
        self.lock().dom(dom)?;
        Ok(g)
    }

    pub(crate) fn has_managed_save_file(&self, name: &str) -> bool {
        self.layout.managed_save(name).exists()
    }

    /// Adds a domain about to run `def` (create, restore, incoming
    /// migration): its handle and its job, for the caller to take.
    pub(crate) fn add_live(&self, def: &Domain) -> Result<(DomainRef, Arc<Job>)> {
        let mut st = self.lock_all_ready();
        let (i, _) = Self::add_domain(&mut st, def.clone(), true)?;
        let obj = st
            .doms
            .get(i)
            .ok_or_else(|| no_domain_uuid(&def_handle(def)))?;
        Ok((obj.handle(), obj.job.clone()))
    }

    /// virDomainObjListAdd: for a definition (`live`: a domain being
    /// created or restored, whose running definition the start takes).
    pub(crate) fn add_domain(st: &mut State, def: Domain, live: bool) -> Result<(Key, bool)> {
        let add = AddFlags {
            live: false,
            check_live: live,
            keep_existing: live,
        };
        st.doms.add(def, add, QemuDomain::new)
    }
}
