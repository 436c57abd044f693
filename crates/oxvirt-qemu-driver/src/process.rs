//! QEMU processes: spawn, monitor events, stop, kill and reconnect.
//!
//! A QEMU runs in its own session (setsid), so the daemon's death or its
//! signals never reach it; the daemon keeps only its pid, its QMP socket
//! and the run/ status file, which is all a new daemon needs to take it
//! over again.

use std::io::Write;
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use oxvirt_core::error::code;
use oxvirt_core::event::{lifecycle as lc, DomainEvent, DomainEventKind};
use oxvirt_core::types::{reason, DomainRef, DomainState, Uuid};
use oxvirt_core::{Error, Result};
use oxvirt_qmp::{Notice, Qmp, QmpEvent};
use oxvirt_xml::domain::{
    Domain, FormatFlags, LifecycleAction, ParseFlags, ParseOptions, VirtType,
};
use serde_json::Value;

use crate::command::{self, CommandContext};
use crate::driver::{lock, Driver, Running, State};
use crate::hostproc::{
    free_vnc_port, kill_wait, log_tail, pause_points, same_process_alive, signal_verified,
    spawn_held, start_time, ChildPid, EXTRA_FD, PAUSE_ENV,
};
use crate::monitor::qmp_err;
use crate::store::{self, JobKind, JobRecord, Status};
use crate::FROM;

/// How long QEMU gets to answer its monitor greeting.
const MONITOR_WAIT: Duration = Duration::from_secs(30);

/// A save image to restore from: the file positioned at the migration
/// stream.
pub(crate) struct Incoming {
    pub file: std::fs::File,
}

/// How a domain is being started.
pub(crate) struct StartOpts {
    pub paused: bool,
    pub autodestroy: bool,
    /// The definition to run instead of the stored one (restore).
    pub live_def: Option<Domain>,
    pub incoming: Option<Incoming>,
    /// The asynchronous job this start belongs to (a start from a managed
    /// save), recorded in the status file from the first write on.
    pub job: Option<store::JobRecord>,
    /// A revert to a snapshot: the domain is left paused with reason
    /// from-snapshot and no event is emitted (the caller loads the
    /// snapshot, then reports and resumes as libvirt's revert does).
    pub from_snapshot: bool,
    /// The destination of a live migration: QEMU waits for
    /// `migrate-incoming` (`-incoming defer`) and the domain is left
    /// paused with reason migration, without events (the migration's
    /// Prepare reports and starts the incoming migration).
    pub migrate_in: bool,
}

/// Maps a paused reason to the SUSPENDED event detail.
fn suspended_detail(r: i32) -> i32 {
    match r {
        reason::paused::MIGRATION => lc::suspended::MIGRATED,
        reason::paused::IOERROR => lc::suspended::IOERROR,
        reason::paused::WATCHDOG => lc::suspended::WATCHDOG,
        reason::paused::FROM_SNAPSHOT => lc::suspended::FROM_SNAPSHOT,
        reason::paused::POSTCOPY => lc::suspended::POSTCOPY,
        reason::paused::POSTCOPY_FAILED => lc::suspended::POSTCOPY_FAILED,
        _ => lc::suspended::PAUSED,
    }
}

/// Maps a running reason to the RESUMED event detail.
fn resumed_detail(r: i32) -> i32 {
    match r {
        reason::running::MIGRATED | reason::running::MIGRATION_CANCELED => lc::resumed::MIGRATED,
        reason::running::RESTORED | reason::running::FROM_SNAPSHOT => lc::resumed::FROM_SNAPSHOT,
        reason::running::POSTCOPY => lc::resumed::POSTCOPY,
        reason::running::POSTCOPY_FAILED => lc::resumed::POSTCOPY_FAILED,
        _ => lc::resumed::UNPAUSED,
    }
}

impl Driver {
    /// Starts a domain (the caller holds its job). Returns its handle.
    pub(crate) fn start_vm(&self, dom: &DomainRef, opts: StartOpts) -> Result<DomainRef> {
        let (mut live, persistent_def, id, gen) = {
            let mut st = self.lock();
            let obj = st.dom(dom)?;
            if obj.is_active() {
                return Err(Error::operation_invalid(FROM, "domain is already running"));
            }
            let persistent_def = if obj.persistent {
                Some(obj.def.clone())
            } else {
                None
            };
            let live = opts.live_def.clone().unwrap_or_else(|| obj.def.clone());
            let id = st.next_id;
            st.next_id += 1;
            let gen = st.next_gen;
            st.next_gen += 1;
            (live, persistent_def, id, gen)
        };
        live.id = Some(id);
        if live.virt_type == VirtType::Kvm && !crate::caps::kvm_usable() {
            return Err(Error::unsupported_config(
                FROM,
                "Domain requires KVM, but it is not available. Check that virtualization is enabled in the host BIOS, and host configuration is setup to load the kvm modules.",
            ));
        }
        let name = live.name.clone();
        // <os firmware=...>: the descriptor's loader and NVRAM.
        crate::firmware::fill(&mut live, &self.paths)?;
        crate::firmware::ensure_nvram(&live)?;

        // Listen addresses and websocket ports (guestapi.rs).
        crate::guestapi::setup_graphics(&mut live);
        crate::agent::setup_channels(&mut live, &self.layout.run_dir());
        // VNC and SPICE autoport: free ports from 5900, as libvirt's
        // port allocator gives them (the live XML shows them).
        let mut vnc_port = None;
        let mut taken: Vec<u16> = Vec::new();
        for g in live.devices.graphics.iter_mut() {
            let on_address = g
                .listens
                .first()
                .is_none_or(|l| matches!(l.ltype.as_str(), "address" | "network"));
            let wanted = match g.gtype.as_str() {
                "vnc" => g.autoport || g.port == -1,
                "spice" => g.autoport && g.port <= 0,
                _ => false,
            };
            if !on_address || !wanted {
                continue;
            }
            let listen = g
                .listens
                .first()
                .and_then(|l| l.address.clone())
                .unwrap_or_else(|| "127.0.0.1".to_string());
            if let Some(p) = free_vnc_port(&listen, &taken) {
                taken.push(p);
                if g.gtype == "vnc" {
                    vnc_port = Some(p);
                }
                g.port = p as i64;
                g.autoport = true;
            }
        }

        // Guest NICs: taps made here, inherited by QEMU (nic.rs). They
        // go when QEMU closes them; `nics` holds them until it has them.
        let (nics, mut nic_ports) = self.prepare_nics(&mut live)?;
        let mut nic_fds: Vec<RawFd> = Vec::new();
        let mut ctx_nics = Vec::with_capacity(nics.len());
        for p in &nics {
            ctx_nics.push(p.as_ref().map(|p| {
                let mut f = crate::nic::NicFds::default();
                for t in &p.taps {
                    f.taps.push(EXTRA_FD + nic_fds.len() as RawFd);
                    nic_fds.push(t.as_raw_fd());
                }
                for v in &p.vhosts {
                    f.vhosts.push(EXTRA_FD + nic_fds.len() as RawFd);
                    nic_fds.push(v.as_raw_fd());
                }
                f
            }));
        }

        // The QMP socket: we listen, QEMU inherits the listener.
        let qmp_path = self.layout.qmp(&name);
        if qmp_path.as_os_str().len() >= 108 {
            return Err(Error::internal(
                FROM,
                format!("UNIX socket path '{}' too long", qmp_path.display()),
            ));
        }
        let _ = std::fs::remove_file(&qmp_path);
        let listener = std::os::unix::net::UnixListener::bind(&qmp_path).map_err(|e| {
            Error::system(
                FROM,
                format!("Failed to bind socket to '{}'", qmp_path.display()),
                &e,
            )
        })?;
        // <disk type='volume'>: the storage driver says what the volume
        // is (the pool must be active), as libvirt translates it at start.
        let mut volumes = Vec::new();
        for d in live
            .devices
            .disks
            .iter()
            .filter(|d| d.disk_type.as_deref() == Some("volume"))
        {
            let Some(src) = d.source_el.as_ref() else {
                continue;
            };
            let (Some(pool), Some(vol)) = (src.attr("pool"), src.attr("volume")) else {
                continue;
            };
            let key = (pool.to_string(), vol.to_string());
            if !volumes.iter().any(|(k, _)| *k == key) {
                let v = self.services.volumes.resolve_volume(pool, vol)?;
                volumes.push((key, v));
            }
        }
        let ctx = CommandContext {
            qmp_fd: Some(3),
            qmp_path: qmp_path.display().to_string(),
            vnc_port,
            incoming: if opts.migrate_in {
                Some("defer".to_string())
            } else {
                opts.incoming.as_ref().map(|_| "fd:4".to_string())
            },
            nics: ctx_nics,
            caps: live
                .devices
                .emulator
                .as_deref()
                .and_then(|e| self.host.caps_of(e).ok()),
            volumes,
            ..Default::default()
        };
        let argv = command::build(&live, &ctx)?;

        // Log.
        let log_path = self.layout.log(&name);
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| {
                Error::system(
                    FROM,
                    format!("failed to create logfile {}", log_path.display()),
                    &e,
                )
            })?;
        let _ = writeln!(
            log,
            "oxvirt: starting up at {:?}\noxvirt: {}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default(),
            argv.join(" ")
        );

        // Fork QEMU's process, held before exec until the status file
        // naming it exists: a daemon killed at any instant leaves either
        // no QEMU or one the next daemon finds (and, still starting,
        // kills).
        let status_path = self.layout.status(&name);
        let mut fds = vec![listener.as_raw_fd()];
        if let Some(i) = &opts.incoming {
            fds.push(i.file.as_raw_fd());
        }
        let held = match spawn_held(&argv, &log, &fds, &nic_fds) {
            Ok(h) => h,
            Err(e) => {
                let _ = std::fs::remove_file(&qmp_path);
                return Err(e);
            }
        };
        drop(log);
        let pid = held.pid;
        let started_at = start_time(pid).unwrap_or(0);
        self.pause_point("start:forked", &name);
        let early = Status {
            pid,
            start_time: started_at,
            qmp: qmp_path.clone(),
            id,
            state: DomainState::Paused as i32,
            reason: reason::paused::STARTING_UP,
            xml: live.format(FormatFlags::default()),
            fake_reboot: false,
            autodestroy: opts.autodestroy,
            job: opts.job.clone(),
            adopted: false,
            blockjobs: Vec::new(),
        };
        if let Err(e) = store::write_atomic(&status_path, &early.to_json(), true) {
            // The child reads EOF and exits without running QEMU.
            drop(held);
            let _ = std::fs::remove_file(&qmp_path);
            return Err(e);
        }
        self.pause_point("start:status", &name);
        if let Err(e) = held.release() {
            let _ = store::remove(&status_path);
            let _ = std::fs::remove_file(&qmp_path);
            return Err(Error::system(
                FROM,
                format!("Cannot run QEMU binary {}", argv[0]),
                &e,
            ));
        }
        drop(listener);
        drop(opts.incoming);
        let child = ChildPid(pid);
        let pid_path = self.layout.pid(&name);
        write_pid_file(&pid_path, pid);

        let fail = |child: ChildPid, msg: Error| -> Error {
            child.wait();
            let _ = std::fs::remove_file(&qmp_path);
            let _ = store::remove(&pid_path);
            let _ = store::remove(&status_path);
            msg
        };

        let (qmp, rx) = match Qmp::connect(&qmp_path, MONITOR_WAIT) {
            Ok(x) => x,
            Err(_) => {
                // Kill (our unreaped child: its pid cannot be reused) and
                // reap, so QEMU's complaint is all in the log.
                let _ = kill_wait(pid, libc::SIGKILL, Duration::from_secs(5));
                child.wait();
                let tail = log_tail(&log_path);
                return Err(fail(
                    child,
                    Error::internal(
                        FROM,
                        format!("qemu unexpectedly closed the monitor: {}", tail),
                    ),
                ));
            }
        };
        let run = Arc::new(Running {
            gen,
            pid,
            start_time: started_at,
            qmp,
            qmp_path: qmp_path.clone(),
            child: Mutex::new(Some(child)),
            being_destroyed: Default::default(),
            muted: Default::default(),
            handled: Mutex::new((0, false)),
            handled_cv: Condvar::new(),
        });

        // Install the process on the domain object, paused while it starts.
        {
            let mut st = self.lock();
            let mut obj = st.dom_mut(dom)?;
            if let Some(p) = persistent_def {
                obj.new_def = Some(p);
            }
            obj.def = live;
            // The live definition holds the NICs' ports from now on.
            nic_ports.keep();
            obj.run = Some(run.clone());
            obj.set_state(DomainState::Paused, reason::paused::STARTING_UP);
            obj.autodestroy = opts.autodestroy;
            obj.fake_reboot = false;
            obj.paused_shutdown = false;
            obj.async_job = opts.job.clone();
            self.save_status(&obj);
        }
        self.spawn_event_thread(dom.uuid, run.clone(), rx);
        self.pause_point("start:monitor", &name);

        let restored = ctx.incoming.is_some();
        let res = if opts.from_snapshot {
            self.finish_start_held(dom, &run, reason::paused::FROM_SNAPSHOT)
        } else if opts.migrate_in {
            self.finish_start_held(dom, &run, reason::paused::MIGRATION)
        } else {
            self.finish_start(dom, &run, opts.paused, restored)
        };
        match res {
            Ok(h) => Ok(h),
            Err(e) => {
                run.being_destroyed.store(true, Ordering::SeqCst);
                run.muted.store(true, Ordering::SeqCst);
                let _ = kill_wait(pid, libc::SIGKILL, Duration::from_secs(10));
                self.reap(&run);
                let mut st = self.lock();
                self.stop_locked(&mut st, &dom.uuid, gen, reason::shutoff::FAILED);
                Err(e)
            }
        }
    }

    /// The end of a start for a snapshot revert or an incoming
    /// migration: pty paths and link states as any start, then the
    /// domain stays paused (reason `why`: from-snapshot, migration)
    /// without events, for the caller to load the guest's state into.
    fn finish_start_held(
        &self,
        dom: &DomainRef,
        run: &Arc<Running>,
        why: i32,
    ) -> Result<DomainRef> {
        let chardevs = run
            .qmp
            .execute_value("query-chardev", None)
            .map_err(qmp_err)?;
        let ptys: Vec<(String, String)> = chardevs
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let label = c.get("label").and_then(Value::as_str)?;
                let file = c.get("filename").and_then(Value::as_str)?;
                Some((label.to_string(), file.strip_prefix("pty:")?.to_string()))
            })
            .collect();
        let def = self.lock().dom(dom)?.def.clone();
        crate::nic::apply_link_states(&run.qmp, &def)?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        set_pty_paths(&mut obj.def, &ptys);
        obj.set_state(DomainState::Paused, why);
        self.save_status(&obj);
        Ok(obj.handle())
    }

    fn finish_start(
        &self,
        dom: &DomainRef,
        run: &Arc<Running>,
        paused: bool,
        restored: bool,
    ) -> Result<DomainRef> {
        // pty paths into the live XML.
        let chardevs = run
            .qmp
            .execute_value("query-chardev", None)
            .map_err(qmp_err)?;
        let mut ptys = Vec::new();
        if let Some(list) = chardevs.as_array() {
            for c in list {
                let label = c.get("label").and_then(Value::as_str).unwrap_or("");
                let file = c.get("filename").and_then(Value::as_str).unwrap_or("");
                if let Some(p) = file.strip_prefix("pty:") {
                    ptys.push((label.to_string(), p.to_string()));
                }
            }
        }
        if restored {
            self.wait_migration(&dom.uuid, run, crate::jobdata::operation::RESTORE)?;
        }
        {
            let def = self.lock().dom(dom)?.def.clone();
            crate::nic::apply_link_states(&run.qmp, &def)?;
            // <cputune> pinning and the balloon's statistics period.
            self.apply_pinning(run, &def)?;
            self.apply_balloon_period(run, &def);
        }
        let h = {
            let mut st = self.lock();
            let mut obj = st.dom_mut(dom)?;
            set_pty_paths(&mut obj.def, &ptys);
            self.save_status(&obj);
            obj.handle()
        };
        let mut events = Vec::new();
        if restored {
            events.push(DomainEvent::lifecycle(
                h.clone(),
                lc::STARTED,
                lc::started::RESTORED,
            ));
        }
        if paused {
            {
                let mut st = self.lock();
                let mut obj = st.dom_mut(dom)?;
                obj.set_state(
                    DomainState::Paused,
                    if restored {
                        // Still paused after the incoming migration
                        // (libvirt's state after qemuSaveImageStartVM).
                        reason::paused::MIGRATION
                    } else {
                        reason::paused::USER
                    },
                );
                self.save_status(&obj);
            }
            if !restored {
                events.push(DomainEvent::lifecycle(
                    h.clone(),
                    lc::STARTED,
                    lc::started::BOOTED,
                ));
            }
            events.push(DomainEvent::lifecycle(
                h.clone(),
                lc::SUSPENDED,
                if restored {
                    lc::suspended::RESTORED
                } else {
                    lc::suspended::PAUSED
                },
            ));
            self.emit(events);
            return Ok(h);
        }
        self.emit(events);
        let why = if restored {
            reason::running::RESTORED
        } else {
            reason::running::BOOTED
        };
        self.start_cpus(dom, run, why)?;
        if !restored {
            self.emit(vec![DomainEvent::lifecycle(
                h.clone(),
                lc::STARTED,
                lc::started::BOOTED,
            )]);
        }
        Ok(h)
    }

    /// `cont` with the reason the RESUME event will carry.
    pub(crate) fn start_cpus(&self, dom: &DomainRef, run: &Arc<Running>, why: i32) -> Result<()> {
        self.lock().dom_mut(dom)?.running_reason = why;
        if let Err(e) = run.qmp.execute_value("cont", None) {
            self.lock().dom_mut(dom)?.running_reason = reason::running::UNKNOWN;
            return Err(qmp_err(e));
        }
        run.sync_events();
        // The event handler normally made the transition; make sure.
        self.apply_resume(&dom.uuid, run.gen);
        Ok(())
    }

    /// `stop` with the reason the STOP event will carry.
    pub(crate) fn stop_cpus(&self, dom: &DomainRef, run: &Arc<Running>, why: i32) -> Result<()> {
        self.lock().dom_mut(dom)?.paused_reason = why;
        if let Err(e) = run.qmp.execute_value("stop", None) {
            self.lock().dom_mut(dom)?.paused_reason = reason::paused::UNKNOWN;
            return Err(qmp_err(e));
        }
        run.sync_events();
        self.apply_stop(&dom.uuid, run.gen);
        Ok(())
    }

    fn apply_resume(&self, uuid: &Uuid, gen: u64) {
        let ev = {
            let mut st = self.lock();
            let Some(mut obj) = st.by_uuid_mut(uuid) else {
                return;
            };
            if obj.run.as_ref().map(|r| r.gen) != Some(gen) || obj.state == DomainState::Running {
                return;
            }
            let why = match std::mem::take(&mut obj.running_reason) {
                reason::running::UNKNOWN => reason::running::UNPAUSED,
                r => r,
            };
            obj.set_state(DomainState::Running, why);
            self.save_status(&obj);
            DomainEvent::lifecycle(obj.handle(), lc::RESUMED, resumed_detail(why))
        };
        self.emit(vec![ev]);
    }

    fn apply_stop(&self, uuid: &Uuid, gen: u64) {
        let ev = {
            let mut st = self.lock();
            let Some(mut obj) = st.by_uuid_mut(uuid) else {
                return;
            };
            if obj.run.as_ref().map(|r| r.gen) != Some(gen)
                || obj.state != DomainState::Running
                || obj.paused_shutdown
            {
                return;
            }
            let why = std::mem::take(&mut obj.paused_reason);
            obj.set_state(DomainState::Paused, why);
            self.save_status(&obj);
            DomainEvent::lifecycle(obj.handle(), lc::SUSPENDED, suspended_detail(why))
        };
        self.emit(vec![ev]);
    }

    /// Polls query-migrate until the migration ends, keeping the domain's
    /// job statistics current; returns QEMU's final statistics. A
    /// migration cancelled after virDomainAbortJob fails with libvirt's
    /// "operation aborted" error.
    pub(crate) fn wait_migration(
        &self,
        uuid: &Uuid,
        run: &Running,
        operation: i32,
    ) -> Result<crate::jobdata::MigStats> {
        let job = crate::jobdata::job_name(operation);
        let mut delay = Duration::from_micros(500);
        let mut switched = false;
        loop {
            let v = run
                .qmp
                .execute_value("query-migrate", None)
                .map_err(qmp_err)?;
            let stats = crate::jobdata::MigStats::from_qmp(&v);
            match v.get("status").and_then(Value::as_str).unwrap_or("none") {
                "completed" => return Ok(stats),
                // pause-before-switchover (outgoing migrations): the
                // guest is stopped; the downtime runs from here.
                "pre-switchover" if !switched => {
                    switched = true;
                    self.with_job(uuid, |j| {
                        j.stopped.get_or_insert_with(std::time::Instant::now);
                    });
                    let aborted = self.with_job(uuid, |j| j.abort).unwrap_or(false);
                    if !aborted {
                        run.qmp
                            .execute_value(
                                "migrate-continue",
                                Some(serde_json::json!({"state": "pre-switchover"})),
                            )
                            .map_err(qmp_err)?;
                    }
                    delay = Duration::from_micros(200);
                    continue;
                }
                "failed" | "cancelled" => {
                    let aborted = self.with_job(uuid, |j| j.abort).unwrap_or(false);
                    if aborted {
                        return Err(Error::new(
                            code::OPERATION_ABORTED,
                            FROM,
                            format!("job '{}' canceled by client", job),
                        ));
                    }
                    return Err(Error::operation_failed(
                        FROM,
                        match v.get("error-desc").and_then(Value::as_str) {
                            Some(why) => format!("job '{}' failed: {}", job, why),
                            None => format!("job '{}' unexpectedly failed", job),
                        },
                    ));
                }
                _ => {}
            }
            if v.get("ram").is_some() {
                self.with_job(uuid, |j| j.mig = stats);
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(10));
        }
    }

    fn spawn_event_thread(&self, uuid: Uuid, run: Arc<Running>, rx: Receiver<Notice>) {
        let me = self.me.clone();
        let _ = std::thread::Builder::new()
            .name("qemu-events".into())
            .spawn(move || event_loop(me, uuid, run, rx));
    }

    /// Reaps our child once it exited.
    pub(crate) fn reap(&self, run: &Running) {
        if let Some(c) = lock(&run.child).take() {
            c.wait();
        }
    }

    /// Test hook for the fault tests: when `OXVIRT_PAUSE_AT` (a
    /// comma-separated list; unset in normal use, and then this does
    /// nothing) names `point` or `point@DOMAIN`, the calling thread
    /// creates `ROOT/debug-pause/POINT@DOMAIN` and waits until that file
    /// is removed, so a test can SIGKILL the daemon at exactly this
    /// instant, or let it go on.
    pub(crate) fn pause_point(&self, point: &str, dom: &str) {
        let points = pause_points();
        if points.is_empty() {
            return;
        }
        let full = format!("{}@{}", point, dom);
        if !points.iter().any(|p| *p == point || *p == full) {
            return;
        }
        let dir = self.layout.root.join("debug-pause");
        let _ = std::fs::create_dir_all(&dir);
        let marker = dir.join(full.replace('/', "_"));
        if std::fs::write(&marker, b"").is_err() {
            return;
        }
        tracing::warn!("{}: paused at {}", PAUSE_ENV, full);
        while marker.exists() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Marks a domain shut off after its QEMU is gone (qemuProcessStop):
    /// live definition dropped, files removed, a transient domain
    /// forgotten. Returns the handle for the caller's event.
    pub(crate) fn stop_locked(
        &self,
        st: &mut State,
        uuid: &Uuid,
        gen: u64,
        why: i32,
    ) -> Option<DomainRef> {
        let mut obj = st.by_uuid_mut(uuid)?;
        let i = obj.key();
        if obj.run.as_ref().map(|r| r.gen) != Some(gen) {
            return None;
        }
        let run = obj.run.take();
        let name = obj.def.name.clone();
        let h = obj.handle();
        self.release_nic_ports(&obj.def.devices.interfaces);
        obj.set_state(DomainState::Shutoff, why);
        if let Some(d) = obj.new_def.take() {
            obj.def = d;
        }
        obj.def.id = None;
        obj.fake_reboot = false;
        obj.paused_shutdown = false;
        obj.autodestroy = false;
        obj.running_reason = 0;
        obj.paused_reason = 0;
        obj.async_job = None;
        obj.blockjobs.clear();
        let _ = store::remove(&self.layout.pid(&name));
        let _ = store::remove(&self.layout.status(&name));
        if let Some(r) = run {
            let _ = store::remove(&r.qmp_path);
        }
        let transient = !obj.persistent;
        drop(obj);
        if transient {
            crate::snapmeta::remove_all(&self.layout, &name);
            st.doms.remove(i);
        }
        Some(h)
    }

    /// Kills a domain's QEMU on behalf of an API that then finishes the
    /// stop itself. `graceful` sends SIGTERM only.
    pub(crate) fn kill_process(&self, run: &Running, graceful: bool, quiet: bool) -> Result<()> {
        run.being_destroyed.store(true, Ordering::SeqCst);
        if quiet {
            run.muted.store(true, Ordering::SeqCst);
        }
        if signal_verified(
            run.pid,
            run.start_time,
            libc::SIGTERM,
            Duration::from_secs(10),
        ) {
            return Ok(());
        }
        if graceful {
            run.being_destroyed.store(false, Ordering::SeqCst);
            run.muted.store(false, Ordering::SeqCst);
            return Err(Error::raw(
                code::SYSTEM_ERROR,
                FROM,
                format!(
                    "Failed to terminate process {} with SIGTERM: Device or resource busy",
                    run.pid
                ),
            ));
        }
        if signal_verified(
            run.pid,
            run.start_time,
            libc::SIGKILL,
            Duration::from_secs(10),
        ) {
            return Ok(());
        }
        Err(Error::raw(
            code::SYSTEM_ERROR,
            FROM,
            format!(
                "Failed to kill process {} with SIGKILL: Device or resource busy",
                run.pid
            ),
        ))
    }

    /// Emits one event of kind `kind` for the domain `uuid`, if it is
    /// still known.
    fn emit_for(&self, uuid: &Uuid, kind: DomainEventKind) {
        let dom = {
            let st = self.lock();
            let Some(obj) = st.doms.by_uuid(uuid) else {
                return;
            };
            obj.handle()
        };
        self.emit(vec![DomainEvent { dom, kind }]);
    }

    /// A QMP event of a running domain (libvirt's qemuProcessHandle*).
    fn handle_event(&self, uuid: &Uuid, run: &Arc<Running>, ev: &QmpEvent) {
        if run.muted.load(Ordering::SeqCst) {
            return;
        }
        match ev.name.as_str() {
            "STOP" => self.apply_stop(uuid, run.gen),
            "VSERPORT_CHANGE" => self.on_vserport_change(uuid, run, &ev.data),
            "DEVICE_DELETED" => {
                if let Some(id) = ev.data.get("device").and_then(Value::as_str) {
                    self.on_device_deleted(uuid, run, id);
                }
            }
            "RESUME" => self.apply_resume(uuid, run.gen),
            "SHUTDOWN" => self.on_shutdown(uuid, run, &ev.data),
            "RESET" => {
                let out = {
                    let mut st = self.lock();
                    let Some(mut obj) = st.by_uuid_mut(uuid) else {
                        return;
                    };
                    if obj.run.as_ref().map(|r| r.gen) != Some(run.gen) {
                        return;
                    }
                    if obj.state == DomainState::Paused && obj.reason == reason::paused::STARTING_UP
                    {
                        return;
                    }
                    obj.fake_reboot = false;
                    self.save_status(&obj);
                    DomainEvent {
                        dom: obj.handle(),
                        kind: DomainEventKind::Reboot,
                    }
                };
                self.emit(vec![out]);
            }
            "GUEST_PANICKED" => self.on_panic(uuid, run),
            "BLOCK_WRITE_THRESHOLD" => {
                let node = ev
                    .data
                    .get("node-name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let num = |k: &str| ev.data.get(k).and_then(Value::as_u64).unwrap_or(0);
                self.on_block_threshold(
                    uuid,
                    run,
                    node,
                    num("write-threshold"),
                    num("amount-exceeded"),
                );
            }
            "JOB_STATUS_CHANGE" => {
                let id = ev.data.get("id").and_then(Value::as_str).unwrap_or("");
                let status = ev.data.get("status").and_then(Value::as_str).unwrap_or("");
                self.on_job_status(uuid, run, id, status);
            }
            "MIGRATION_PASS" => {
                let pass = ev.data.get("pass").and_then(Value::as_i64).unwrap_or(0);
                self.emit_for(
                    uuid,
                    DomainEventKind::MigrationIteration {
                        iteration: i32::try_from(pass).unwrap_or(i32::MAX),
                    },
                );
            }
            "BALLOON_CHANGE" => {
                // The guest's balloon driver moved: the live current
                // memory follows (qemuProcessHandleBalloonChange).
                let actual = ev.data.get("actual").and_then(Value::as_u64).unwrap_or(0) / 1024;
                {
                    let mut st = self.lock();
                    let Some(mut obj) = st.by_uuid_mut(uuid) else {
                        return;
                    };
                    if obj.run.as_ref().map(|r| r.gen) != Some(run.gen) {
                        return;
                    }
                    obj.def.current_memory = actual;
                    self.save_status(&obj);
                }
                self.emit_for(uuid, DomainEventKind::BalloonChange { actual });
            }
            "RTC_CHANGE" => {
                let offset = ev.data.get("offset").and_then(Value::as_i64).unwrap_or(0);
                self.emit_for(uuid, DomainEventKind::RtcChange { offset });
            }
            "WATCHDOG" => {
                let action = match ev.data.get("action").and_then(Value::as_str) {
                    Some("reset") => 2,
                    Some("poweroff") => 3,
                    Some("shutdown") => 4,
                    Some("pause") => 1,
                    Some("debug") => 5,
                    Some("inject-nmi") => 6,
                    _ => 0,
                };
                {
                    let mut st = self.lock();
                    if let Some(mut obj) = st.by_uuid_mut(uuid) {
                        if action == 1 {
                            obj.paused_reason = reason::paused::WATCHDOG;
                        }
                    };
                }
                self.emit_for(uuid, DomainEventKind::Watchdog { action });
            }
            _ => {}
        }
    }

    fn on_shutdown(&self, uuid: &Uuid, run: &Arc<Running>, data: &Value) {
        let (ev, reboot) = {
            let mut st = self.lock();
            let Some(mut obj) = st.by_uuid_mut(uuid) else {
                return;
            };
            if obj.run.as_ref().map(|r| r.gen) != Some(run.gen)
                || obj.state == DomainState::Shutdown
                || !obj.is_active()
            {
                return;
            }
            let reboot = obj.fake_reboot || obj.def.on_poweroff == LifecycleAction::Restart;
            let mut ev = None;
            if !reboot {
                obj.set_state(DomainState::Shutdown, reason::shutdown::UNKNOWN);
                let detail = match data.get("guest").and_then(Value::as_bool) {
                    Some(true) => lc::shutdown::GUEST,
                    Some(false) => lc::shutdown::HOST,
                    None => lc::shutdown::FINISHED,
                };
                self.save_status(&obj);
                ev = Some(DomainEvent::lifecycle(obj.handle(), lc::SHUTDOWN, detail));
            } else {
                obj.paused_shutdown = true;
            }
            (ev, reboot)
        };
        if let Some(e) = ev {
            self.emit(vec![e]);
        }
        if reboot {
            self.spawn_fake_reboot(uuid, run);
        } else {
            // QEMU exits and the monitor's EOF finishes the stop.
            run.signal(libc::SIGTERM);
        }
    }

    /// Runs `fake_reboot` on its own thread (it takes the domain's job).
    fn spawn_fake_reboot(&self, uuid: &Uuid, run: &Arc<Running>) {
        let me = self.me.clone();
        let (uuid, run) = (*uuid, run.clone());
        let _ = std::thread::Builder::new()
            .name("qemu-reboot".into())
            .spawn(move || {
                if let Some(d) = me.upgrade() {
                    d.fake_reboot(&uuid, &run);
                }
            });
    }

    /// Reset and restart the CPUs after a guest power-off that stands
    /// for a reboot (qemuProcessFakeReboot).
    fn fake_reboot(&self, uuid: &Uuid, run: &Arc<Running>) {
        let job = {
            let st = self.lock();
            let Some(obj) = st.doms.by_uuid(uuid) else {
                return;
            };
            obj.job.clone()
        };
        let ok = (|| -> Result<()> {
            let _g = job.begin(crate::driver::JOB_WAIT, crate::FROM)?;
            let h = {
                let st = self.lock();
                let i = st
                    .doms
                    .by_uuid(uuid)
                    .ok_or_else(|| Error::internal(FROM, "guest unexpectedly quit"))?;
                let obj = i;
                if obj.run.as_ref().map(|r| r.gen) != Some(run.gen) {
                    return Err(Error::internal(FROM, "guest unexpectedly quit"));
                }
                obj.handle()
            };
            run.qmp
                .execute_value("system_reset", None)
                .map_err(qmp_err)?;
            let why = {
                let st = self.lock();
                match st.doms.by_uuid(uuid).map(|o| o.state) {
                    Some(DomainState::Crashed) => reason::running::CRASHED,
                    _ => reason::running::BOOTED,
                }
            };
            self.start_cpus(&h, run, why)
        })();
        {
            let mut st = self.lock();
            if let Some(mut obj) = st.by_uuid_mut(uuid) {
                obj.paused_shutdown = false;
                obj.fake_reboot = false;
                self.save_status(&obj);
            };
        }
        if ok.is_err() {
            run.signal(libc::SIGKILL);
        }
    }

    fn on_panic(&self, uuid: &Uuid, run: &Arc<Running>) {
        let (ev, action) = {
            let mut st = self.lock();
            let Some(mut obj) = st.by_uuid_mut(uuid) else {
                return;
            };
            if obj.run.as_ref().map(|r| r.gen) != Some(run.gen) {
                return;
            }
            obj.set_state(DomainState::Crashed, reason::crashed::PANICKED);
            self.save_status(&obj);
            (
                DomainEvent::lifecycle(obj.handle(), lc::CRASHED, lc::crashed::PANICKED),
                obj.def.on_crash,
            )
        };
        self.emit(vec![ev]);
        match action {
            LifecycleAction::Destroy | LifecycleAction::CoredumpDestroy => {
                // The EOF handler stops the domain with reason crashed.
                run.signal(libc::SIGTERM);
            }
            LifecycleAction::Restart
            | LifecycleAction::CoredumpRestart
            | LifecycleAction::RenameRestart => {
                if let Some(mut o) = self.lock().by_uuid_mut(uuid) {
                    o.fake_reboot = true;
                }
                self.spawn_fake_reboot(uuid, run);
            }
            LifecycleAction::Preserve => {}
        }
    }

    /// The monitor closed: QEMU exited without an API asking
    /// (processMonitorEOFEvent).
    fn handle_eof(&self, uuid: &Uuid, run: &Arc<Running>) {
        if run.being_destroyed.load(Ordering::SeqCst) {
            return;
        }
        let job = {
            let st = self.lock();
            let Some(obj) = st.doms.by_uuid(uuid) else {
                return;
            };
            obj.job.clone()
        };
        let _g = job.begin(crate::driver::JOB_WAIT, crate::FROM).ok();
        if run.being_destroyed.load(Ordering::SeqCst) {
            return;
        }
        // The process may still be on its way out.
        if same_process_alive(run.pid, run.start_time) {
            let _ = signal_verified(
                run.pid,
                run.start_time,
                libc::SIGKILL,
                Duration::from_secs(10),
            );
        }
        self.reap(run);
        let ev = {
            let mut st = self.lock();
            let Some(obj) = st.doms.by_uuid(uuid) else {
                return;
            };
            let (why, detail) = match obj.state {
                DomainState::Shutdown => (reason::shutoff::SHUTDOWN, lc::stopped::SHUTDOWN),
                DomainState::Crashed => (reason::shutoff::CRASHED, lc::stopped::CRASHED),
                _ => (reason::shutoff::CRASHED, lc::stopped::FAILED),
            };
            self.stop_locked(&mut st, uuid, run.gen, why)
                .map(|h| DomainEvent::lifecycle(h, lc::STOPPED, detail))
        };
        if let Some(e) = ev {
            self.emit(vec![e]);
        }
    }

    // ---- reconnect --------------------------------------------------------

    /// Loads every `run/*.json` and re-attaches the QEMUs they name
    /// (qemuProcessReconnectAll). The status files are read here, at
    /// once: each domain gets its live definition and recorded state,
    /// marked `reattaching`, with its job held. The QEMUs are then
    /// re-attached in parallel on at most `REATTACH_THREADS` threads, so
    /// the driver (and every domain already back) serves clients
    /// meanwhile; calls on a domain still being re-attached wait for it.
    /// QMP sockets no status file names are removed.
    pub(crate) fn reconnect_all(&self) {
        let Ok(rd) = std::fs::read_dir(self.layout.run_dir()) else {
            return;
        };
        let mut files = Vec::new();
        let mut sockets = Vec::new();
        for p in rd.flatten().map(|e| e.path()) {
            match p.extension().and_then(|x| x.to_str()) {
                Some("json") => files.push(p),
                Some("qmp") => sockets.push(p),
                _ => {}
            }
        }
        files.sort();
        let mut work = Vec::new();
        for p in files {
            let Some(status) = std::fs::read(&p).ok().and_then(|d| Status::from_json(&d)) else {
                tracing::warn!("ignoring unreadable status file {}", p.display());
                let _ = std::fs::remove_file(&p);
                continue;
            };
            work.extend(self.load_status(&p, status));
        }
        let named: Vec<PathBuf> = work.iter().map(|w| w.status.qmp.clone()).collect();
        for s in sockets {
            if !named.contains(&s) {
                let _ = std::fs::remove_file(&s);
            }
        }
        if work.is_empty() {
            return;
        }
        self.reattaching.store(work.len(), Ordering::SeqCst);
        let threads = work.len().min(REATTACH_THREADS);
        let queue = Arc::new(Mutex::new(work));
        let mut spawned = 0;
        for _ in 0..threads {
            let me = self.me.clone();
            let q = queue.clone();
            let t = std::thread::Builder::new()
                .name("qemu-reattach".into())
                .spawn(move || loop {
                    let Some(w) = lock(&q).pop() else { break };
                    match me.upgrade() {
                        Some(d) => d.reattach(w),
                        None => break,
                    }
                });
            if t.is_ok() {
                spawned += 1;
            }
        }
        if spawned == 0 {
            loop {
                let Some(w) = lock(&queue).pop() else { break };
                self.reattach(w);
            }
        }
    }

    /// Installs the domain a status file describes, marked re-attaching
    /// with its job held; `None` when there is nothing to re-attach.
    fn load_status(&self, path: &Path, status: Status) -> Option<Reattach> {
        let flags = ParseFlags::default();
        let opts = ParseOptions {
            default_arch: Some("x86_64".into()),
        };
        let Ok(mut live) = Domain::parse(&status.xml, flags, &opts) else {
            tracing::warn!("bad live XML in {}", path.display());
            let _ = std::fs::remove_file(path);
            return None;
        };
        live.id = Some(status.id);
        let uuid = live.uuid;
        let mut st = self.lock();
        st.next_id = st.next_id.max(status.id + 1);
        let idx = match st.find_uuid(&uuid) {
            Some(i) => i,
            None => {
                if st.find_name(&live.name).is_some() {
                    tracing::warn!(
                        "{}: another domain has the name {}; not re-attached",
                        path.display(),
                        live.name
                    );
                    return None;
                }
                st.doms.insert(crate::driver::new_obj(live.clone()))
            }
        };
        let mut obj = st.doms.get_mut(idx)?;
        let guard = obj.job.begin(Duration::ZERO, crate::FROM).ok()?;
        if obj.persistent {
            obj.new_def = Some(obj.def.clone());
        }
        obj.def = live;
        let state = DomainState::from_i32(status.state).unwrap_or(DomainState::Running);
        obj.set_state(state, status.reason);
        obj.fake_reboot = status.fake_reboot;
        obj.async_job = status.job.clone();
        obj.blockjobs = status.blockjobs.clone();
        obj.reattaching = true;
        Some(Reattach {
            uuid,
            path: path.to_path_buf(),
            status,
            _job: guard,
        })
    }

    /// Re-attaches one domain (qemuProcessReconnect), then lets calls on
    /// it through.
    fn reattach(&self, w: Reattach) {
        let name = {
            let st = self.lock();
            st.doms
                .by_uuid(&w.uuid)
                .map(|o| o.def.name.clone())
                .unwrap_or_default()
        };
        self.pause_point("reconnect", &name);
        let events = self.reattach_one(&w);
        {
            let mut st = self.lock();
            if let Some(mut o) = st.by_uuid_mut(&w.uuid) {
                o.reattaching = false;
            }
            self.reattaching.fetch_sub(1, Ordering::SeqCst);
            self.ready_cv.notify_all();
        }
        drop(w);
        self.emit(events);
    }

    fn reattach_one(&self, w: &Reattach) -> Vec<DomainEvent> {
        let status = &w.status;
        let (pid, start) = (status.pid, status.start_time);
        if status.adopted && !same_process_alive(pid, start) {
            return self.adoption_failed(w, "its QEMU is gone");
        }
        if !same_process_alive(pid, start) {
            // Gone while we were away (or never ran: a start cut off
            // before its go).
            return self.reattach_failed(w, None);
        }
        let connected = Qmp::connect(&status.qmp, REATTACH_MONITOR_WAIT);
        if status.adopted && connected.is_err() {
            // libvirt's guest: left running, and to libvirt.
            return self.adoption_failed(w, "its monitor does not answer");
        }
        let Ok((qmp, rx)) = connected else {
            // Alive but unreachable: kill it, so that it can never run
            // twice (libvirt: crashed, as with -no-shutdown).
            let gone = signal_verified(pid, start, libc::SIGKILL, Duration::from_secs(10));
            if !gone {
                tracing::warn!("{}: QEMU {} survived SIGKILL", w.path.display(), pid);
            }
            return self.reattach_failed(w, None);
        };
        // Running or paused now? QEMU is the authority
        // (qemuProcessUpdateState).
        let qs = qmp.execute_value("query-status", None).ok();
        let running = qs
            .as_ref()
            .and_then(|v| v.get("running").and_then(Value::as_bool));
        let qemu_status = qs
            .as_ref()
            .and_then(|v| v.get("status").and_then(Value::as_str))
            .unwrap_or("")
            .to_string();
        let (state, why) = {
            let st = self.lock();
            let Some(obj) = st.doms.by_uuid(&w.uuid) else {
                return Vec::new();
            };
            (obj.state, obj.reason)
        };
        let (state, why) = update_state(state, why, running, &qemu_status);
        if state == DomainState::Paused && why == reason::paused::STARTING_UP {
            // Caught starting: kill it (libvirt: "wasn't fully started
            // yet, killing it"; shut off, reason daemon, no event).
            drop(qmp);
            let gone = signal_verified(pid, start, libc::SIGKILL, Duration::from_secs(10));
            if !gone {
                tracing::warn!("{}: QEMU {} survived SIGKILL", w.path.display(), pid);
            }
            tracing::info!(
                "{}: QEMU {} had not finished starting; killed",
                w.path.display(),
                pid
            );
            return self.reattach_failed(w, Some(reason::shutoff::DAEMON));
        }
        if let Some(name) = w.path.file_stem() {
            // A daemon killed between the start and its pid file.
            write_pid_file(&self.layout.pid(&name.to_string_lossy()), pid);
        }
        let gen = {
            let mut st = self.lock();
            let gen = st.next_gen;
            st.next_gen += 1;
            gen
        };
        let run = Arc::new(Running {
            gen,
            pid,
            start_time: start,
            qmp,
            qmp_path: status.qmp.clone(),
            child: Mutex::new(None),
            being_destroyed: Default::default(),
            muted: Default::default(),
            handled: Mutex::new((0, false)),
            handled_cv: Condvar::new(),
        });
        let h = {
            let mut st = self.lock();
            let Some(mut obj) = st.by_uuid_mut(&w.uuid) else {
                return Vec::new();
            };
            obj.run = Some(run.clone());
            obj.set_state(state, why);
            obj.autodestroy = false;
            self.save_status(&obj);
            obj.handle()
        };
        self.spawn_event_thread(w.uuid, run.clone(), rx);
        // Block jobs that ran on while we were away (qemuBlockJobRefreshJobs).
        if !status.blockjobs.is_empty() {
            self.refresh_block_jobs(&w.uuid, &run);
        }
        // The job the dead daemon was running (qemuProcessRecoverJob).
        if let Some(job) = &status.job {
            self.recover_job(&h, &run, job);
        }
        // A shutdown that happened while we were away is finished now
        // (qemuProcessShutdownOrReboot).
        let (state, why, fake) = {
            let st = self.lock();
            match st.doms.by_uuid(&w.uuid) {
                Some(o) => (o.state, o.reason, o.fake_reboot),
                None => return Vec::new(),
            }
        };
        if state == DomainState::Shutdown
            || (state == DomainState::Paused && why == reason::paused::SHUTTING_DOWN)
            || (fake && state == DomainState::Paused && why == reason::paused::USER)
        {
            if fake {
                self.spawn_fake_reboot(&w.uuid, &run);
            } else {
                run.signal(libc::SIGTERM);
            }
        }
        Vec::new()
    }

    /// Recovers an asynchronous job a dead daemon left running on a QEMU
    /// that is back (qemuProcessRecoverJob).
    fn recover_job(&self, h: &DomainRef, run: &Arc<Running>, job: &JobRecord) {
        match job.kind {
            JobKind::Save => {
                // Cancel the migration into the file and wait for QEMU to
                // leave it, then resume the guest if the save (or nobody
                // knows what) paused it.
                let _ = run.qmp.execute_value("migrate_cancel", None);
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                let mut migration = None;
                while std::time::Instant::now() < deadline {
                    migration = run
                        .qmp
                        .execute_value("query-migrate", None)
                        .ok()
                        .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_string));
                    match migration.as_deref() {
                        Some("active")
                        | Some("cancelling")
                        | Some("setup")
                        | Some("device")
                        | Some("pre-switchover") => std::thread::sleep(Duration::from_millis(5)),
                        _ => break,
                    }
                }
                let (state, why) = {
                    let st = self.lock();
                    match st.doms.by_uuid(&h.uuid) {
                        Some(o) => (o.state, o.reason),
                        None => return,
                    }
                };
                let ours = [
                    reason::paused::SAVE,
                    reason::paused::MIGRATION,
                    reason::paused::UNKNOWN,
                ];
                if state == DomainState::Paused && ours.contains(&why) {
                    if let Err(e) = self.start_cpus(h, run, reason::running::SAVE_CANCELED) {
                        tracing::warn!(
                            "could not resume domain '{}' after migration to file: {}",
                            h.name,
                            e
                        );
                    }
                } else if state == DomainState::Paused && migration.as_deref() == Some("completed")
                {
                    // A guest the user had paused, whose state QEMU wrote
                    // whole: QEMU cannot go back to plain paused (only
                    // `cont` leaves post-migrate, and it would run the
                    // guest), so the save is finished as asked.
                    if self.finish_recovered_save(h, run, job) {
                        return;
                    }
                }
                // The guest runs on: the image (partial, or complete but
                // older than the guest now) must not be restored.
                let _ = store::remove(&job.path);
            }
            JobKind::MigrationIn => {
                // An incoming migration its daemon never finished: the
                // source resumes its guest when Finish fails, so this
                // copy must not run (qemuProcessRecoverMigrationIn).
                tracing::warn!(
                    "{}: incoming migration interrupted; killing its QEMU",
                    h.name
                );
                let _ = self.kill_process(run, false, true);
                run.wait_eof(Duration::from_secs(5));
                self.reap(run);
                let stopped = {
                    let mut st = self.lock();
                    self.stop_locked(&mut st, &h.uuid, run.gen, reason::shutoff::FAILED)
                };
                if let Some(s) = stopped {
                    self.emit(vec![DomainEvent::lifecycle(
                        s,
                        lc::STOPPED,
                        lc::stopped::FAILED,
                    )]);
                }
                return;
            }
            JobKind::Restore => {
                // The guest came back from the image: a managed save is
                // consumed, as the start would have removed it.
                if job.managed {
                    let _ = store::remove(&job.path);
                }
            }
        }
        let mut st = self.lock();
        if let Some(mut obj) = st.by_uuid_mut(&h.uuid) {
            obj.async_job = None;
            self.save_status(&obj);
        };
    }

    /// Completes a save a dead daemon left after QEMU had written the
    /// whole stream: marks the image complete, stops QEMU and shuts the
    /// domain off as saved (what the save itself would have done next).
    /// False when the image cannot be completed (the caller then keeps
    /// the guest and removes the image).
    fn finish_recovered_save(&self, h: &DomainRef, run: &Arc<Running>, job: &JobRecord) -> bool {
        let marked = std::fs::OpenOptions::new()
            .write(true)
            .open(&job.path)
            .and_then(|mut f| crate::saveimage::mark_complete(&mut f));
        if let Err(e) = marked {
            tracing::warn!("could not complete the save image of '{}': {}", h.name, e);
            return false;
        }
        if let Err(e) = self.kill_process(run, false, true) {
            tracing::warn!("could not stop '{}' after its save: {}", h.name, e);
            return false;
        }
        run.wait_eof(Duration::from_secs(5));
        self.reap(run);
        let stopped = {
            let mut st = self.lock();
            if let Some(mut obj) = st.by_uuid_mut(&h.uuid) {
                obj.async_job = None;
            }
            self.stop_locked(&mut st, &h.uuid, run.gen, reason::shutoff::SAVED)
        };
        tracing::info!(
            "finished the save of '{}' into {}",
            h.name,
            job.path.display()
        );
        if let Some(d) = stopped {
            self.emit(vec![DomainEvent::lifecycle(
                d,
                lc::STOPPED,
                lc::stopped::SAVED,
            )]);
        }
        true
    }

    /// Forgets a guest staged by an adoption that could not be taken
    /// over: nothing is killed, the files staged for it are removed and
    /// the domain is left to libvirt (whose files were not touched).
    fn adoption_failed(&self, w: &Reattach, why: &str) -> Vec<DomainEvent> {
        let mut st = self.lock();
        let Some(obj) = st.doms.by_uuid(&w.uuid) else {
            return Vec::new();
        };
        let name = obj.def.name.clone();
        tracing::warn!("{}: not adopted: {}; left to libvirt", name, why);
        let _ = std::fs::remove_file(&w.path);
        let _ = store::remove(&self.layout.autostart(&name));
        let _ = store::remove(&self.layout.config(&name));
        crate::snapmeta::remove_all(&self.layout, &name);
        if let Some(k) = st.find_uuid(&w.uuid) {
            st.doms.remove(k);
        }
        Vec::new()
    }

    /// Shuts off a domain whose QEMU is gone (or was just killed), with
    /// `why` or, by default, libvirt's reconnect verdict: a save whose
    /// image is complete counts as saved, anything else as crashed (with
    /// a Stopped Failed event). Files removed; a transient domain
    /// forgotten.
    fn reattach_failed(&self, w: &Reattach, why: Option<i32>) -> Vec<DomainEvent> {
        let status = &w.status;
        let mut why = why;
        let mut detail = lc::stopped::FAILED;
        match &status.job {
            Some(j) if j.kind == JobKind::Save && why.is_none() => {
                if crate::saveimage::is_complete(&j.path) {
                    why = Some(reason::shutoff::SAVED);
                    detail = lc::stopped::SAVED;
                } else {
                    let _ = store::remove(&j.path);
                }
            }
            Some(j) if j.kind == JobKind::Save => {
                let _ = store::remove(&j.path);
            }
            _ => {}
        }
        let quiet = why == Some(reason::shutoff::DAEMON);
        let why = why.unwrap_or(reason::shutoff::CRASHED);
        if let Some(name) = w.path.file_stem() {
            let _ = store::remove(&self.layout.pid(&name.to_string_lossy()));
        }
        let _ = std::fs::remove_file(&w.path);
        let _ = std::fs::remove_file(&status.qmp);
        let mut st = self.lock();
        let Some(mut obj) = st.by_uuid_mut(&w.uuid) else {
            return Vec::new();
        };
        let i = obj.key();
        let h = obj.handle();
        obj.set_state(DomainState::Shutoff, why);
        if let Some(d) = obj.new_def.take() {
            obj.def = d;
        }
        obj.def.id = None;
        obj.run = None;
        obj.async_job = None;
        obj.fake_reboot = false;
        obj.reattaching = false;
        let transient = !obj.persistent;
        let name = obj.def.name.clone();
        drop(obj);
        if transient {
            crate::snapmeta::remove_all(&self.layout, &name);
            st.doms.remove(i);
        }
        if quiet {
            Vec::new()
        } else {
            vec![DomainEvent::lifecycle(h, lc::STOPPED, detail)]
        }
    }
}

/// Threads re-attaching QEMUs at daemon start.
const REATTACH_THREADS: usize = 16;
/// How long a re-attached QEMU gets to greet on its monitor.
const REATTACH_MONITOR_WAIT: Duration = Duration::from_secs(5);

/// One domain to re-attach: its status file and its job, held until the
/// re-attach is done.
pub(crate) struct Reattach {
    uuid: Uuid,
    path: PathBuf,
    status: Status,
    _job: crate::driver::JobGuard,
}

/// The state after the daemon was away, from what QEMU says now
/// (qemuProcessUpdateState with qemuMonitorVMStatusToPausedReason).
fn update_state(
    state: DomainState,
    why: i32,
    running: Option<bool>,
    qemu_status: &str,
) -> (DomainState, i32) {
    let Some(running) = running else {
        return (state, why);
    };
    use reason::paused as p;
    match state {
        DomainState::Paused if running && why == p::STARTING_UP => {
            (DomainState::Running, reason::running::BOOTED)
        }
        DomainState::Shutoff if running => (DomainState::Running, reason::running::BOOTED),
        DomainState::Paused if running => (DomainState::Running, reason::running::UNPAUSED),
        DomainState::Running if !running => {
            let r = match qemu_status {
                "inmigrate" | "postmigrate" | "finish-migrate" => p::MIGRATION,
                "io-error" => p::IOERROR,
                "paused" | "prelaunch" => p::USER,
                "save-vm" => p::SAVE,
                "shutdown" => p::SHUTTING_DOWN,
                "watchdog" => p::WATCHDOG,
                "guest-panicked" => p::CRASHED,
                _ => p::UNKNOWN,
            };
            match r {
                p::SHUTTING_DOWN => (DomainState::Shutdown, reason::shutdown::UNKNOWN),
                p::CRASHED => (DomainState::Crashed, reason::crashed::PANICKED),
                r => (DomainState::Paused, r),
            }
        }
        s => (s, why),
    }
}

/// Puts pty paths QEMU chose into the live serial and console devices.
fn set_pty_paths(def: &mut Domain, ptys: &[(String, String)]) {
    let path_of = |label: &str| {
        ptys.iter()
            .find(|(l, _)| l == label)
            .map(|(_, p)| p.clone())
    };
    let chr = &mut def.devices.chardevs;
    for (i, s) in chr.serials.iter_mut().enumerate() {
        if s.source.stype == "pty" {
            if let Some(p) = path_of(&format!("charserial{}", i)) {
                s.source.path = Some(p);
            }
        }
    }
    let serial_paths: Vec<Option<String>> =
        chr.serials.iter().map(|s| s.source.path.clone()).collect();
    for c in chr.consoles.iter_mut() {
        if c.source.stype != "pty" || c.target_type != "serial" {
            continue;
        }
        let port = usize::try_from(c.port).unwrap_or(0);
        let p = serial_paths
            .get(port)
            .cloned()
            .flatten()
            .or_else(|| path_of(&format!("charserial{}", port)));
        if let Some(p) = p {
            c.source.path = Some(p);
        }
    }
}

fn event_loop(drv: Weak<Driver>, uuid: Uuid, run: Arc<Running>, rx: Receiver<Notice>) {
    for n in rx.iter() {
        match n {
            Notice::Event(e) => {
                if let Some(d) = drv.upgrade() {
                    d.handle_event(&uuid, &run, &e);
                }
                let mut h = lock(&run.handled);
                h.0 += 1;
                run.handled_cv.notify_all();
            }
            Notice::Closed => break,
        }
    }
    {
        let mut h = lock(&run.handled);
        h.1 = true;
        run.handled_cv.notify_all();
    }
    if let Some(d) = drv.upgrade() {
        d.handle_eof(&uuid, &run);
    }
}

/// Writes QEMU's pid as QEMU's `-pidfile` would (libvirt's
/// RUNDIR/qemu/NAME.pid, read by tools); a failure is only logged, the
/// status file being the record the driver relies on.
fn write_pid_file(path: &std::path::Path, pid: i32) {
    if let Err(e) = oxvirt_host::fsutil::write_atomic_mode(
        path,
        format!("{}\n", pid).as_bytes(),
        0o644,
        false,
        oxvirt_core::error::from::QEMU,
    ) {
        tracing::warn!("{}: {}", path.display(), e);
    }
}
