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

use oxvirt_core::error::{code, from};
use oxvirt_core::event::{lifecycle as lc, DomainEvent, EventHub};
use oxvirt_core::host::HostServices;
use oxvirt_core::types::flags::{self, list_domains as lf};
use oxvirt_core::types::{reason, DomainInfo, DomainRef, DomainState, Uuid};
use oxvirt_core::{Error, Result};
use oxvirt_qmp::Qmp;
use oxvirt_xml::domain::{Domain, FormatFlags, ParseFlags, ParseOptions};

use crate::caps::Caps;
use crate::store::{self, Layout, Status};
use crate::FROM;

/// How long an API waits for another job on the same domain.
pub const JOB_WAIT: Duration = Duration::from_secs(30);

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A domain's job: at most one mutating operation at a time.
#[derive(Default)]
pub(crate) struct Job {
    busy: Mutex<bool>,
    cv: Condvar,
}

/// Holds a domain's job until dropped.
pub(crate) struct JobGuard(Arc<Job>);

impl Job {
    pub fn begin(self: &Arc<Self>, wait: Duration) -> Result<JobGuard> {
        let mut busy = lock(&self.busy);
        let deadline = std::time::Instant::now() + wait;
        while *busy {
            let now = std::time::Instant::now();
            if now >= deadline {
                return Err(Error::new(
                    code::OPERATION_TIMEOUT,
                    FROM,
                    "cannot acquire state change lock",
                ));
            }
            busy = self
                .cv
                .wait_timeout(busy, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        *busy = true;
        Ok(JobGuard(self.clone()))
    }
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        *lock(&self.0.busy) = false;
        self.0.cv.notify_one();
    }
}

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
    pub child: Mutex<Option<crate::process::ChildPid>>,
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
        let _ = crate::process::signal_verified(self.pid, self.start_time, sig, Duration::ZERO);
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

/// A domain with its runtime state (libvirt's virDomainObj).
pub(crate) struct DomainObj {
    /// The live definition while active, the persistent one otherwise.
    pub def: Domain,
    /// The persistent definition while the domain runs.
    pub new_def: Option<Domain>,
    pub state: DomainState,
    pub reason: i32,
    pub persistent: bool,
    pub autostart: bool,
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
    /// When the state last changed (for control info).
    pub state_time: std::time::Instant,
    /// Statistics of the running save (domjobinfo).
    pub job_current: Option<crate::jobs::JobData>,
    /// Statistics of the last completed one (domjobinfo --completed).
    pub job_completed: Option<crate::jobs::JobData>,
    /// The asynchronous job recorded in the status file while it runs.
    pub async_job: Option<store::JobRecord>,
    /// Loaded from a status file and not yet re-attached: calls on the
    /// domain wait until the re-attach thread is done with it.
    pub reattaching: bool,
}

impl DomainObj {
    pub fn new(def: Domain) -> DomainObj {
        DomainObj {
            def,
            new_def: None,
            state: DomainState::Shutoff,
            reason: reason::shutoff::UNKNOWN,
            persistent: false,
            autostart: false,
            job: Arc::new(Job::default()),
            run: None,
            fake_reboot: false,
            paused_shutdown: false,
            paused_reason: reason::paused::UNKNOWN,
            running_reason: reason::running::UNKNOWN,
            autodestroy: false,
            state_time: std::time::Instant::now(),
            job_current: None,
            job_completed: None,
            async_job: None,
            reattaching: false,
        }
    }

    pub fn is_active(&self) -> bool {
        self.state.is_active()
    }

    pub fn handle(&self) -> DomainRef {
        DomainRef {
            name: self.def.name.clone(),
            uuid: self.def.uuid,
            id: if self.is_active() {
                self.def.id.unwrap_or(-1)
            } else {
                -1
            },
        }
    }

    pub fn persistent_def(&self) -> &Domain {
        self.new_def.as_ref().unwrap_or(&self.def)
    }

    pub fn set_state(&mut self, state: DomainState, reason: i32) {
        self.state = state;
        self.reason = reason;
        self.state_time = std::time::Instant::now();
    }

    /// libvirt's virDomainObjCheckActive.
    pub fn check_active(&self) -> Result<()> {
        if !self.is_active() {
            return Err(Error::operation_invalid(
                from::DOMAIN,
                "domain is not running",
            ));
        }
        Ok(())
    }

    pub fn status(&self) -> Option<Status> {
        let run = self.run.as_ref()?;
        Some(Status {
            pid: run.pid,
            start_time: run.start_time,
            qmp: run.qmp_path.clone(),
            id: self.def.id.unwrap_or(-1),
            state: self.state as i32,
            reason: self.reason,
            xml: self.def.format(FormatFlags::default()),
            fake_reboot: self.fake_reboot,
            autodestroy: self.autodestroy,
            job: self.async_job.clone(),
        })
    }
}

pub(crate) struct State {
    pub doms: Vec<DomainObj>,
    pub next_id: i32,
    pub next_gen: u64,
}

impl State {
    pub fn find_uuid(&self, uuid: &Uuid) -> Option<usize> {
        self.doms.iter().position(|d| d.def.uuid == *uuid)
    }
    pub fn find_name(&self, name: &str) -> Option<usize> {
        self.doms.iter().position(|d| d.def.name == name)
    }
    pub fn dom(&self, d: &DomainRef) -> Result<&DomainObj> {
        self.find_uuid(&d.uuid)
            .map(|i| &self.doms[i])
            .ok_or_else(|| no_domain_uuid(d))
    }
    pub fn dom_mut(&mut self, d: &DomainRef) -> Result<&mut DomainObj> {
        match self.find_uuid(&d.uuid) {
            Some(i) => Ok(&mut self.doms[i]),
            None => Err(no_domain_uuid(d)),
        }
    }
    pub fn by_uuid_mut(&mut self, uuid: &Uuid) -> Option<&mut DomainObj> {
        self.doms.iter_mut().find(|d| d.def.uuid == *uuid)
    }
}

pub(crate) fn no_domain_uuid(dom: &DomainRef) -> Error {
    Error::new(
        code::NO_DOMAIN,
        FROM,
        format!("no domain with matching uuid '{}' ({})", dom.uuid, dom.name),
    )
}

/// libvirt's virCheckFlags.
pub(crate) fn check_flags(flags: u32, supported: u32, func: &str) -> Result<()> {
    let extra = flags & !supported;
    if extra != 0 {
        return Err(Error::raw(
            code::INVALID_ARG,
            FROM,
            format!("unsupported flags (0x{:x}) in function {}", extra, func),
        ));
    }
    Ok(())
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
    /// The host-wide storage, network and secret services.
    #[allow(dead_code)]
    pub(crate) services: HostServices,
}

impl Driver {
    /// Opens (creating) the state under `root`: temporaries of
    /// interrupted writes are removed, persistent definitions and status
    /// files loaded, and running QEMUs re-attached in the background
    /// (`reconnect_all`): calls on a domain wait until it is back.
    /// `services` are the daemon's host-wide storage, network and secret
    /// services.
    pub fn open(root: PathBuf, services: HostServices) -> Result<Arc<Driver>> {
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
        };
        let drv = Arc::new_cyclic(|me| Driver {
            layout,
            caps,
            host,
            paths,
            state: Mutex::new(State {
                doms: Vec::new(),
                next_id: 1,
                next_gen: 1,
            }),
            ready_cv: Condvar::new(),
            reattaching: AtomicUsize::new(0),
            events: EventHub::new(),
            me: me.clone(),
            services,
        });
        drv.load_configs();
        drv.reconnect_all();
        Ok(drv)
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
                    let mut obj = DomainObj::new(def);
                    obj.persistent = true;
                    obj.autostart = self.layout.autostart(&obj.def.name).exists();
                    st.doms.push(obj);
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
        if let Some(s) = obj.status() {
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
        let g = job.begin(JOB_WAIT)?;
        // The domain may have gone while we waited.
        self.lock().dom(dom)?;
        Ok(g)
    }

    // ---- listing and lookup --------------------------------------------

    pub fn list_all_domains(&self, flags: u32) -> Result<Vec<DomainRef>> {
        check_flags(flags, 0xffff, "virConnectListAllDomains")?;
        let st = self.lock_all_ready();
        Ok(st
            .doms
            .iter()
            .filter(|d| self.matches_list_flags(d, flags))
            .map(DomainObj::handle)
            .collect())
    }

    pub(crate) fn has_managed_save_file(&self, name: &str) -> bool {
        self.layout.managed_save(name).exists()
    }

    fn matches_list_flags(&self, obj: &DomainObj, f: u32) -> bool {
        let managed_save = f & (lf::MANAGEDSAVE | lf::NO_MANAGEDSAVE) != 0
            && self.has_managed_save_file(&obj.def.name);
        oxvirt_core::types::ListFacts {
            active: obj.is_active(),
            persistent: obj.persistent,
            state: obj.state,
            managed_save,
            autostart: obj.autostart,
            // This driver keeps no snapshots or checkpoints yet.
            has_snapshot: false,
            has_checkpoint: false,
        }
        .matches(f)
    }

    pub fn lookup_by_id(&self, id: i32) -> Result<DomainRef> {
        let st = self.lock_all_ready();
        st.doms
            .iter()
            .find(|d| d.is_active() && d.def.id == Some(id))
            .map(DomainObj::handle)
            .ok_or_else(|| {
                Error::new(
                    code::NO_DOMAIN,
                    FROM,
                    format!("no domain with matching id {}", id),
                )
            })
    }

    pub fn lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        let missing = || {
            Error::new(
                code::NO_DOMAIN,
                FROM,
                format!("no domain with matching name '{}'", name),
            )
        };
        let uuid = {
            let st = self.lock();
            st.find_name(name).map(|i| st.doms[i].def.uuid)
        };
        self.ready_handle(uuid.ok_or_else(missing)?)
            .ok_or_else(missing)?
    }

    pub fn lookup_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.ready_handle(*uuid).ok_or_else(|| {
            Error::new(
                code::NO_DOMAIN,
                FROM,
                format!("no domain with matching uuid '{}'", uuid),
            )
        })?
    }

    /// The handle of `uuid` once it is re-attached (`None`: unknown).
    fn ready_handle(&self, uuid: Uuid) -> Option<Result<DomainRef>> {
        let probe = DomainRef {
            name: String::new(),
            uuid,
            id: -1,
        };
        match self.read(&probe) {
            Ok(st) => st.dom(&probe).ok().map(|o| Ok(o.handle())),
            Err(e) if e.code == code::NO_DOMAIN => None,
            Err(e) => Some(Err(e)),
        }
    }

    // ---- definitions ---------------------------------------------------

    /// virDomainObjListAdd: name and UUID clash rules. Returns the index
    /// and whether an existing object was updated.
    pub(crate) fn add_domain(st: &mut State, def: Domain, live: bool) -> Result<(usize, bool)> {
        if let Some(i) = st.find_uuid(&def.uuid) {
            let obj = &mut st.doms[i];
            if obj.def.name != def.name {
                return Err(Error::operation_failed(
                    from::DOMAIN,
                    format!(
                        "domain '{}' is already defined with uuid {}",
                        obj.def.name, obj.def.uuid
                    ),
                ));
            }
            if live {
                if obj.is_active() {
                    return Err(Error::operation_invalid(
                        from::DOMAIN,
                        format!("domain '{}' is already active", obj.def.name),
                    ));
                }
                if !obj.persistent {
                    return Err(Error::operation_invalid(
                        from::DOMAIN,
                        format!("domain '{}' is already being started", obj.def.name),
                    ));
                }
            }
            if obj.is_active() {
                obj.new_def = Some(def);
            } else if !live {
                obj.def = def;
            }
            return Ok((i, true));
        }
        if let Some(i) = st.find_name(&def.name) {
            return Err(Error::operation_failed(
                from::DOMAIN,
                format!(
                    "domain '{}' already exists with uuid {}",
                    def.name, st.doms[i].def.uuid
                ),
            ));
        }
        st.doms.push(DomainObj::new(def));
        Ok((st.doms.len() - 1, false))
    }

    pub fn define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        check_flags(flags, flags::define::VALIDATE, "qemuDomainDefineXMLFlags")?;
        let def = self.parse_def(xml)?;
        let mut st = self.lock_all_ready();
        let (i, updated) = Self::add_domain(&mut st, def.clone(), false)?;
        if let Err(e) = self.save_config(&def) {
            if !updated {
                st.doms.remove(i);
            }
            return Err(e);
        }
        let obj = &mut st.doms[i];
        obj.persistent = true;
        let h = obj.handle();
        if obj.is_active() {
            self.save_status(&st.doms[i]);
        }
        drop(st);
        let detail = if updated {
            lc::defined::UPDATED
        } else {
            lc::defined::ADDED
        };
        self.emit(vec![DomainEvent::lifecycle(h.clone(), lc::DEFINED, detail)]);
        Ok(h)
    }

    pub fn undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        use flags::undefine::{
            CHECKPOINTS_METADATA, KEEP_NVRAM, MANAGED_SAVE, NVRAM, SNAPSHOTS_METADATA,
        };
        check_flags(
            flags,
            MANAGED_SAVE | SNAPSHOTS_METADATA | NVRAM | KEEP_NVRAM | CHECKPOINTS_METADATA,
            "qemuDomainUndefineFlags",
        )?;
        let _job = self.begin_job(dom)?;
        let mut st = self.lock();
        let i = st.find_uuid(&dom.uuid).ok_or_else(|| no_domain_uuid(dom))?;
        let obj = &mut st.doms[i];
        if !obj.persistent {
            return Err(Error::operation_invalid(
                FROM,
                "cannot undefine transient domain",
            ));
        }
        let name = obj.def.name.clone();
        let ms = self.layout.managed_save(&name);
        if !obj.is_active() && ms.exists() {
            if flags & MANAGED_SAVE == 0 {
                return Err(Error::operation_invalid(
                    FROM,
                    "Refusing to undefine while domain managed save image exists",
                ));
            }
            store::remove(&ms).map_err(|_| {
                Error::new(
                    code::SYSTEM_ERROR,
                    FROM,
                    format!(
                        "Failed to remove domain managed save image {}",
                        ms.display()
                    ),
                )
            })?;
        }
        store::remove(&self.layout.config(&name))?;
        store::remove(&self.layout.autostart(&name))?;
        let h = obj.handle();
        obj.autostart = false;
        if obj.is_active() {
            obj.persistent = false;
            obj.new_def = None;
        } else {
            st.doms.remove(i);
        }
        drop(st);
        self.emit(vec![DomainEvent::lifecycle(
            h,
            lc::UNDEFINED,
            lc::undefined::REMOVED,
        )]);
        Ok(())
    }

    // ---- state and description -----------------------------------------

    pub fn get_xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        use flags::domain_xml::{INACTIVE, MIGRATABLE, SECURE, UPDATE_CPU};
        check_flags(
            flags,
            SECURE | INACTIVE | UPDATE_CPU | MIGRATABLE,
            "qemuDomainGetXMLDesc",
        )?;
        let st = self.read(dom)?;
        let obj = st.dom(dom)?;
        let inactive = flags & INACTIVE != 0;
        let def = if inactive {
            obj.persistent_def()
        } else {
            &obj.def
        };
        let mut def = def.clone();
        if !obj.is_active() || inactive {
            def.id = None;
        }
        Ok(def.format(FormatFlags {
            inactive: inactive || !obj.is_active(),
            secure: flags & SECURE != 0,
            migratable: flags & MIGRATABLE != 0,
        }))
    }

    pub fn get_state(&self, dom: &DomainRef, flags: u32) -> Result<(i32, i32)> {
        check_flags(flags, 0, "qemuDomainGetState")?;
        let st = self.read(dom)?;
        let obj = st.dom(dom)?;
        Ok((obj.state as i32, obj.reason))
    }

    pub fn get_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        let (state, def, run) = {
            let st = self.read(dom)?;
            let obj = st.dom(dom)?;
            (obj.state, obj.def.clone(), obj.run.clone())
        };
        let cpu_time = match &run {
            Some(r) => crate::process::cpu_time(r.pid),
            None => 0,
        };
        Ok(DomainInfo {
            state,
            max_mem: def.memory,
            memory: def.current_memory,
            nr_virt_cpu: def.vcpu.current as u16,
            cpu_time,
        })
    }

    pub fn is_active(&self, dom: &DomainRef) -> Result<bool> {
        Ok(self.read(dom)?.dom(dom)?.is_active())
    }

    pub fn is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        Ok(self.read(dom)?.dom(dom)?.persistent)
    }

    pub fn get_autostart(&self, dom: &DomainRef) -> Result<bool> {
        Ok(self.read(dom)?.dom(dom)?.autostart)
    }

    pub fn set_autostart(&self, dom: &DomainRef, on: bool) -> Result<()> {
        let mut st = self.read(dom)?;
        let obj = st.dom_mut(dom)?;
        if !obj.persistent {
            return Err(Error::operation_invalid(
                FROM,
                "cannot set autostart for transient domain",
            ));
        }
        let p = self.layout.autostart(&obj.def.name);
        if on {
            store::create_marker(&p)?;
        } else {
            store::remove(&p)?;
        }
        obj.autostart = on;
        Ok(())
    }

    pub fn has_managed_save(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "qemuDomainHasManagedSaveImage")?;
        let name = self.read(dom)?.dom(dom)?.def.name.clone();
        Ok(self.has_managed_save_file(&name))
    }

    pub fn managed_save_remove(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "qemuDomainManagedSaveRemove")?;
        let _job = self.begin_job(dom)?;
        let name = self.lock().dom(dom)?.def.name.clone();
        let p = self.layout.managed_save(&name);
        std::fs::remove_file(&p).map_err(|e| {
            Error::system(
                FROM,
                format!("Failed to remove managed save file '{}'", p.display()),
                &e,
            )
        })
    }

    pub fn control_info(
        &self,
        dom: &DomainRef,
        flags: u32,
    ) -> Result<oxvirt_core::types::ControlInfo> {
        check_flags(flags, 0, "qemuDomainGetControlInfo")?;
        let st = self.read(dom)?;
        let obj = st.dom(dom)?;
        obj.check_active()?;
        let busy = *lock(&obj.job.busy);
        Ok(oxvirt_core::types::ControlInfo {
            state: if busy { 2 } else { 0 },
            details: 0,
            state_time: if busy {
                obj.state_time.elapsed().as_millis() as u64
            } else {
                0
            },
        })
    }

    /// Handles for stats requests.
    pub(crate) fn stats_targets(
        &self,
        doms: Option<&[DomainRef]>,
        flags: u32,
    ) -> Result<Vec<DomainRef>> {
        match doms {
            Some(d) => d
                .iter()
                .map(|h| self.read(h)?.dom(h).map(DomainObj::handle))
                .collect(),
            None => {
                let f = flags & 0xff;
                let st = self.lock_all_ready();
                Ok(st
                    .doms
                    .iter()
                    .filter(|d| self.matches_list_flags(d, f))
                    .map(DomainObj::handle)
                    .collect())
            }
        }
    }
}
