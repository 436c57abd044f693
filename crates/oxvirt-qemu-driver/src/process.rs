//! QEMU processes: spawn, monitor events, stop, kill and reconnect.
//!
//! A QEMU runs in its own session (setsid), so the daemon's death or its
//! signals never reach it; the daemon keeps only its pid, its QMP socket
//! and the run/ status file, which is all a new daemon needs to take it
//! over again.

use std::io::Write;
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use oxvirt_core::error::code;
use oxvirt_core::event::{lifecycle as lc, DomainEvent, DomainEventKind};
use oxvirt_core::types::{reason, DomainRef, DomainState, Uuid};
use oxvirt_core::{Error, Result};
use oxvirt_qmp::{Notice, Qmp, QmpEvent};
use oxvirt_xml::domain::{Domain, LifecycleAction, ParseFlags, ParseOptions, VirtType};
use serde_json::{json, Value};

use crate::command::{self, CommandContext};
use crate::driver::{lock, DomainObj, Driver, Running, State};
use crate::store::{self, Status};
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
}

pub(crate) fn qmp_err(e: oxvirt_qmp::QmpError) -> Error {
    match e {
        oxvirt_qmp::QmpError::Closed => Error::operation_failed(FROM, "domain is not running"),
        oxvirt_qmp::QmpError::Qemu { desc, .. } => Error::internal(FROM, desc),
        oxvirt_qmp::QmpError::Timeout(c) => Error::new(
            code::OPERATION_TIMEOUT,
            FROM,
            format!("monitor did not answer {}", c),
        ),
        other => Error::internal(FROM, other.to_string()),
    }
}

/// CPU time of a process in nanoseconds (utime + stime).
pub(crate) fn cpu_time(pid: i32) -> u64 {
    let (u, s) = cpu_user_system(pid);
    u + s
}

/// `(user, system)` CPU time of a process in nanoseconds.
pub(crate) fn cpu_user_system(pid: i32) -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", pid)) else {
        return (0, 0);
    };
    // Fields after the parenthesised command name.
    let Some(i) = stat.rfind(')') else {
        return (0, 0);
    };
    let f: Vec<&str> = stat[i + 1..].split_whitespace().collect();
    let tick = {
        // SAFETY: sysconf has no preconditions.
        let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if t <= 0 {
            100
        } else {
            t as u64
        }
    };
    let get = |n: usize| f.get(n).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime is field 14 of stat, index 11 after the name; stime next.
    let ns = 1_000_000_000 / tick;
    (get(11) * ns, get(12) * ns)
}

/// True when `pid` is a live QEMU process.
pub(crate) fn qemu_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{}/stat", pid)) {
        Ok(s) => {
            let zombie = s
                .rfind(')')
                .and_then(|i| s[i + 1..].split_whitespace().next())
                .is_some_and(|st| st == "Z");
            !zombie
        }
        Err(_) => false,
    }
}

/// Sends `sig` to `pid` and waits up to `wait` for it to exit. True when
/// it has exited.
pub(crate) fn kill_wait(pid: i32, sig: i32, wait: Duration) -> bool {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    // SAFETY: plain syscall on a pid we own or adopted.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc != 0 {
        if pidfd >= 0 {
            // SAFETY: closing the fd we opened.
            unsafe { libc::close(pidfd) };
        }
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    if pidfd < 0 {
        let deadline = std::time::Instant::now() + wait;
        while std::time::Instant::now() < deadline {
            if !qemu_alive(pid) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        return !qemu_alive(pid);
    }
    let mut pfd = libc::pollfd {
        fd: pidfd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = wait.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: pfd is a valid pollfd for the call's duration.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    // SAFETY: closing the fd we opened.
    unsafe { libc::close(pidfd) };
    n > 0
}

/// Picks a free VNC port from 5900 up.
fn free_vnc_port(listen: &str) -> Option<u16> {
    (5900u16..6900).find(|p| std::net::TcpListener::bind((listen, *p)).is_ok())
}

fn log_tail(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("oxvirt:"))
        .collect();
    let n = lines.len();
    lines[n.saturating_sub(5)..].join("\n")
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
        reason::running::MIGRATED => lc::resumed::MIGRATED,
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

        // VNC autoport.
        let mut vnc_port = None;
        for g in live
            .devices
            .raw
            .iter_mut()
            .filter(|r| r.0.name == "graphics")
        {
            let g = &mut g.0;
            if g.attr("type") != Some("vnc") {
                continue;
            }
            let auto =
                g.attr("autoport") == Some("yes") || g.attr("port").is_none_or(|p| p == "-1");
            if auto {
                let listen = g.attr("listen").unwrap_or("127.0.0.1").to_string();
                vnc_port = free_vnc_port(&listen);
                if let Some(p) = vnc_port {
                    g.set_attr("port", p.to_string());
                    g.set_attr("autoport", "yes");
                }
            }
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
        let ctx = CommandContext {
            qmp_fd: Some(3),
            qmp_path: qmp_path.display().to_string(),
            vnc_port,
            incoming: opts.incoming.as_ref().map(|_| "fd:4".to_string()),
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
        let log_err = log
            .try_clone()
            .map_err(|e| Error::system(FROM, "cannot dup log", &e))?;

        let lfd = listener.as_raw_fd();
        let ifd = opts
            .incoming
            .as_ref()
            .map(|i| i.file.as_raw_fd())
            .unwrap_or(-1);
        let mut cmd = std::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .env("LC_ALL", "C");
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                let l = libc::fcntl(lfd, libc::F_DUPFD, 100);
                let i = if ifd >= 0 {
                    libc::fcntl(ifd, libc::F_DUPFD, 100)
                } else {
                    -1
                };
                if l < 0 || libc::dup2(l, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if i >= 0 && libc::dup2(i, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| Error::system(FROM, format!("Cannot run QEMU binary {}", argv[0]), &e))?;
        let pid = child.id() as i32;
        drop(listener);
        drop(opts.incoming);

        let fail = |child: std::process::Child, msg: Error| -> Error {
            let mut child = child;
            let _ = kill_wait(pid, libc::SIGKILL, Duration::from_secs(5));
            let _ = child.wait();
            let _ = std::fs::remove_file(&qmp_path);
            msg
        };

        let (qmp, rx) = match Qmp::connect(&qmp_path, MONITOR_WAIT) {
            Ok(x) => x,
            Err(_) => {
                // Give QEMU a moment to finish writing its complaint.
                let mut child = child;
                let _ = child.wait();
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
            let obj = st.dom_mut(dom)?;
            if let Some(p) = persistent_def {
                obj.new_def = Some(p);
            }
            obj.def = live;
            obj.run = Some(run.clone());
            obj.set_state(DomainState::Paused, reason::paused::STARTING_UP);
            obj.autodestroy = opts.autodestroy;
            obj.fake_reboot = false;
            obj.paused_shutdown = false;
            self.save_status(obj);
        }
        self.spawn_event_thread(dom.uuid, run.clone(), rx);

        let restored = ctx.incoming.is_some();
        let res = self.finish_start(dom, &run, opts.paused, restored);
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

    /// The part of a start that talks to the new QEMU.
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
            self.wait_migration(&dom.uuid, run, crate::jobs::operation::RESTORE)?;
        }
        let h = {
            let mut st = self.lock();
            let obj = st.dom_mut(dom)?;
            set_pty_paths(&mut obj.def, &ptys);
            self.save_status(obj);
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
                let obj = st.dom_mut(dom)?;
                obj.set_state(
                    DomainState::Paused,
                    if restored {
                        reason::paused::SAVE
                    } else {
                        reason::paused::USER
                    },
                );
                self.save_status(obj);
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
            let Some(obj) = st.by_uuid_mut(uuid) else {
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
            self.save_status(obj);
            DomainEvent::lifecycle(obj.handle(), lc::RESUMED, resumed_detail(why))
        };
        self.emit(vec![ev]);
    }

    fn apply_stop(&self, uuid: &Uuid, gen: u64) {
        let ev = {
            let mut st = self.lock();
            let Some(obj) = st.by_uuid_mut(uuid) else {
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
            self.save_status(obj);
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
    ) -> Result<crate::jobs::MigStats> {
        let job = crate::jobs::job_name(operation);
        let mut delay = Duration::from_micros(500);
        loop {
            let v = run
                .qmp
                .execute_value("query-migrate", None)
                .map_err(qmp_err)?;
            let stats = crate::jobs::MigStats::from_qmp(&v);
            match v.get("status").and_then(Value::as_str).unwrap_or("none") {
                "completed" => return Ok(stats),
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
        if let Some(mut c) = lock(&run.child).take() {
            let _ = c.wait();
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
        let i = st.find_uuid(uuid)?;
        let obj = &mut st.doms[i];
        if obj.run.as_ref().map(|r| r.gen) != Some(gen) {
            return None;
        }
        let run = obj.run.take();
        let name = obj.def.name.clone();
        let h = obj.handle();
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
        let _ = store::remove(&self.layout.status(&name));
        if let Some(r) = run {
            let _ = store::remove(&r.qmp_path);
        }
        if !obj.persistent {
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
        if kill_wait(run.pid, libc::SIGTERM, Duration::from_secs(10)) {
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
        if kill_wait(run.pid, libc::SIGKILL, Duration::from_secs(10)) {
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
            let Some(i) = st.find_uuid(uuid) else { return };
            st.doms[i].handle()
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
                    let Some(obj) = st.by_uuid_mut(uuid) else {
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
                    self.save_status(obj);
                    DomainEvent {
                        dom: obj.handle(),
                        kind: DomainEventKind::Reboot,
                    }
                };
                self.emit(vec![out]);
            }
            "GUEST_PANICKED" => self.on_panic(uuid, run),
            "MIGRATION_PASS" => {
                let pass = ev.data.get("pass").and_then(Value::as_i64).unwrap_or(0);
                self.emit_for(
                    uuid,
                    DomainEventKind::MigrationIteration {
                        iteration: i32::try_from(pass).unwrap_or(i32::MAX),
                    },
                );
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
                    if let Some(obj) = st.by_uuid_mut(uuid) {
                        if action == 1 {
                            obj.paused_reason = reason::paused::WATCHDOG;
                        }
                    }
                }
                self.emit_for(uuid, DomainEventKind::Watchdog { action });
            }
            _ => {}
        }
    }

    fn on_shutdown(&self, uuid: &Uuid, run: &Arc<Running>, data: &Value) {
        let (ev, reboot) = {
            let mut st = self.lock();
            let Some(obj) = st.by_uuid_mut(uuid) else {
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
                self.save_status(obj);
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
            let me = self.me.clone();
            let uuid = *uuid;
            let run = run.clone();
            let _ = std::thread::Builder::new()
                .name("qemu-reboot".into())
                .spawn(move || {
                    if let Some(d) = me.upgrade() {
                        d.fake_reboot(&uuid, &run);
                    }
                });
        } else {
            // SAFETY: signalling the QEMU we run; it exits and the
            // monitor's EOF finishes the stop.
            unsafe { libc::kill(run.pid, libc::SIGTERM) };
        }
    }

    /// Reset and restart the CPUs after a guest power-off that stands
    /// for a reboot (qemuProcessFakeReboot).
    fn fake_reboot(&self, uuid: &Uuid, run: &Arc<Running>) {
        let job = {
            let st = self.lock();
            let Some(i) = st.find_uuid(uuid) else { return };
            st.doms[i].job.clone()
        };
        let ok = (|| -> Result<()> {
            let _g = job.begin(crate::driver::JOB_WAIT)?;
            let h = {
                let st = self.lock();
                let i = st
                    .find_uuid(uuid)
                    .ok_or_else(|| Error::internal(FROM, "guest unexpectedly quit"))?;
                let obj = &st.doms[i];
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
                match st.find_uuid(uuid).map(|i| st.doms[i].state) {
                    Some(DomainState::Crashed) => reason::running::CRASHED,
                    _ => reason::running::BOOTED,
                }
            };
            self.start_cpus(&h, run, why)
        })();
        {
            let mut st = self.lock();
            if let Some(obj) = st.by_uuid_mut(uuid) {
                obj.paused_shutdown = false;
                obj.fake_reboot = false;
                self.save_status(obj);
            }
        }
        if ok.is_err() {
            // SAFETY: signalling our QEMU.
            unsafe { libc::kill(run.pid, libc::SIGKILL) };
        }
    }

    fn on_panic(&self, uuid: &Uuid, run: &Arc<Running>) {
        let (ev, action) = {
            let mut st = self.lock();
            let Some(obj) = st.by_uuid_mut(uuid) else {
                return;
            };
            if obj.run.as_ref().map(|r| r.gen) != Some(run.gen) {
                return;
            }
            obj.set_state(DomainState::Crashed, reason::crashed::PANICKED);
            self.save_status(obj);
            (
                DomainEvent::lifecycle(obj.handle(), lc::CRASHED, lc::crashed::PANICKED),
                obj.def.on_crash,
            )
        };
        self.emit(vec![ev]);
        match action {
            LifecycleAction::Destroy | LifecycleAction::CoredumpDestroy => {
                // SAFETY: signalling our QEMU; the EOF handler stops the
                // domain with reason crashed.
                unsafe { libc::kill(run.pid, libc::SIGTERM) };
            }
            LifecycleAction::Restart
            | LifecycleAction::CoredumpRestart
            | LifecycleAction::RenameRestart => {
                if let Some(o) = self.lock().by_uuid_mut(uuid) {
                    o.fake_reboot = true;
                }
                let me = self.me.clone();
                let uuid = *uuid;
                let run = run.clone();
                let _ = std::thread::Builder::new()
                    .name("qemu-reboot".into())
                    .spawn(move || {
                        if let Some(d) = me.upgrade() {
                            d.fake_reboot(&uuid, &run);
                        }
                    });
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
            let Some(i) = st.find_uuid(uuid) else { return };
            st.doms[i].job.clone()
        };
        let _g = job.begin(crate::driver::JOB_WAIT).ok();
        if run.being_destroyed.load(Ordering::SeqCst) {
            return;
        }
        // The process may still be on its way out.
        let _ = kill_wait(run.pid, 0, Duration::from_secs(0));
        if qemu_alive(run.pid) {
            let _ = kill_wait(run.pid, libc::SIGKILL, Duration::from_secs(10));
        }
        self.reap(run);
        let ev = {
            let mut st = self.lock();
            let Some(i) = st.find_uuid(uuid) else { return };
            let (why, detail) = match st.doms[i].state {
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

    /// Re-attaches to every QEMU listed in run/ (qemuProcessReconnect).
    pub(crate) fn reconnect_all(&self) {
        let Ok(rd) = std::fs::read_dir(self.layout.run_dir()) else {
            return;
        };
        let mut files: Vec<_> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("json"))
            .collect();
        files.sort();
        let mut events = Vec::new();
        for p in files {
            let Some(status) = std::fs::read(&p).ok().and_then(|d| Status::from_json(&d)) else {
                tracing::warn!("ignoring unreadable status file {}", p.display());
                let _ = std::fs::remove_file(&p);
                continue;
            };
            if let Some(e) = self.reconnect_one(&p, status) {
                events.push(e);
            }
        }
        self.emit(events);
    }

    fn reconnect_one(&self, path: &Path, status: Status) -> Option<DomainEvent> {
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
        let attached = if qemu_alive(status.pid) {
            Qmp::connect(&status.qmp, Duration::from_secs(5)).ok()
        } else {
            None
        };
        let mut st = self.lock();
        st.next_id = st.next_id.max(status.id + 1);
        let idx = match st.find_uuid(&uuid) {
            Some(i) => i,
            None => {
                if st.find_name(&live.name).is_some() {
                    return None;
                }
                st.doms.push(DomainObj::new(live.clone()));
                st.doms.len() - 1
            }
        };
        let Some((qmp, rx)) = attached else {
            // Gone while we were away: shut off, as libvirt reports a
            // QEMU it cannot reach again.
            let obj = &mut st.doms[idx];
            let h = DomainRef {
                name: live.name.clone(),
                uuid,
                id: status.id,
            };
            obj.set_state(DomainState::Shutoff, reason::shutoff::CRASHED);
            let _ = std::fs::remove_file(path);
            let _ = std::fs::remove_file(&status.qmp);
            if !obj.persistent {
                st.doms.remove(idx);
            }
            return Some(DomainEvent::lifecycle(h, lc::STOPPED, lc::stopped::FAILED));
        };
        // Running or paused now? QEMU is the authority.
        let running = qmp
            .execute_value("query-status", None)
            .ok()
            .and_then(|v| v.get("running").and_then(Value::as_bool));
        let gen = st.next_gen;
        st.next_gen += 1;
        let run = Arc::new(Running {
            gen,
            pid: status.pid,
            qmp,
            qmp_path: status.qmp.clone(),
            child: Mutex::new(None),
            being_destroyed: Default::default(),
            muted: Default::default(),
            handled: Mutex::new((0, false)),
            handled_cv: Condvar::new(),
        });
        let obj = &mut st.doms[idx];
        if obj.persistent {
            obj.new_def = Some(obj.def.clone());
        }
        obj.def = live;
        obj.run = Some(run.clone());
        let mut state = DomainState::from_i32(status.state).unwrap_or(DomainState::Running);
        let mut why = status.reason;
        match (state, running) {
            (DomainState::Running, Some(false)) => {
                state = DomainState::Paused;
                why = reason::paused::UNKNOWN;
            }
            (DomainState::Paused, Some(true)) => {
                state = DomainState::Running;
                why = reason::running::UNPAUSED;
            }
            _ => {}
        }
        obj.set_state(state, why);
        obj.fake_reboot = status.fake_reboot;
        obj.autodestroy = false;
        self.save_status(obj);
        drop(st);
        self.spawn_event_thread(uuid, run, rx);
        None
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

/// JSON for `migrate-set-parameters` lifting QEMU's default 32 MiB/s cap.
pub(crate) fn unlimited_bandwidth() -> Value {
    json!({"max-bandwidth": i64::MAX})
}
