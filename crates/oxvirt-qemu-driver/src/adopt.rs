//! Adoption of a libvirtd host in place (`oxvirtd --adopt-libvirt`): the
//! QEMU driver's persistent definitions, autostart links and running
//! guests of a stopped libvirtd 9.0 become this driver's, with no guest
//! restarted.
//!
//! libvirt keeps (under its directories, `LibvirtDirs`):
//! ```text
//! /etc/libvirt/qemu/NAME.xml             persistent definitions
//! /etc/libvirt/qemu/autostart/NAME.xml   autostart links to them
//! /run/libvirt/qemu/NAME.xml             <domstatus state reason pid> of a
//!                                        running guest: monitor path, live
//!                                        <domain> with aliases, node names
//! /run/libvirt/qemu/driver.pid           the QEMU driver's lock
//! /run/libvirtd.pid, /run/virtqemud.pid  the daemons' locks
//! ```
//!
//! The run, in three steps:
//! 1. `stage`: every object is read and checked (the live XML and the
//!    definition parse, the QEMU named by the status file is alive and
//!    answers `query-status` on its monitor, no name or UUID clash with
//!    this driver's domains); what passes is written under this driver's
//!    root as a definition, an autostart marker and a status file marked
//!    `adopted`. libvirt's files are only read.
//! 2. The driver opens and re-attaches the staged QEMUs as after its own
//!    restart (with libvirt's aliases, which the live XML keeps). A
//!    staged guest it cannot re-attach is never killed: its staged files
//!    are removed and it stays libvirt's.
//! 3. `commit`: for every object now served here, libvirt's files are
//!    renamed to `NAME.xml.oxvirt-adopted` (never rewritten), so that a
//!    libvirtd started later neither lists nor autostarts a guest this
//!    driver runs. A run killed at any point leaves libvirt's files whole
//!    (each rename is atomic) and a second run completes it; a run after
//!    a complete one finds nothing to do.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oxvirt_core::{Error, Result};
use oxvirt_qmp::Qmp;
use oxvirt_xml::dom::Element;
use oxvirt_xml::domain::{Domain, ParseFlags, ParseOptions};
use oxvirt_xml::writer::Writer;
use serde_json::Value;

use crate::hostproc::{qemu_alive, start_time};
use crate::store::{self, Layout, Status};
use crate::FROM;

/// The suffix libvirt's files get once their object is served here.
pub const ADOPTED_SUFFIX: &str = ".oxvirt-adopted";

/// How long a guest's monitor gets to greet during the check.
const MONITOR_WAIT: Duration = Duration::from_secs(10);

/// Where libvirt keeps what the adoption reads.
#[derive(Debug, Clone)]
pub struct LibvirtDirs {
    /// /etc/libvirt
    pub etc: PathBuf,
    /// /run/libvirt
    pub run: PathBuf,
    /// /run (the daemons' pid files)
    pub run_base: PathBuf,
    /// /var/lib/libvirt
    pub lib: PathBuf,
}

impl LibvirtDirs {
    /// libvirt's directories below `prefix` (`/` for the host's own).
    pub fn under(prefix: &Path) -> LibvirtDirs {
        LibvirtDirs {
            etc: prefix.join("etc/libvirt"),
            run: prefix.join("run/libvirt"),
            run_base: prefix.join("run"),
            lib: prefix.join("var/lib/libvirt"),
        }
    }
    pub fn qemu_config(&self) -> PathBuf {
        self.etc.join("qemu")
    }
    pub fn qemu_autostart(&self) -> PathBuf {
        self.etc.join("qemu/autostart")
    }
    pub fn qemu_status(&self) -> PathBuf {
        self.run.join("qemu")
    }
}

/// What one adoption run did, object by object.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// "domain NAME: running, pid N" and the like.
    pub adopted: Vec<String>,
    /// Objects found already served here (an earlier run).
    pub already: Vec<String>,
    /// Objects left to libvirt, and why.
    pub skipped: Vec<String>,
}

impl Report {
    pub fn adopt(&mut self, s: String) {
        tracing::info!("adopted {}", s);
        self.adopted.push(s);
    }
    pub fn skip(&mut self, s: String) {
        tracing::warn!("left to libvirt: {}", s);
        self.skipped.push(s);
    }
    pub fn already(&mut self, s: String) {
        tracing::info!("already adopted: {}", s);
        self.already.push(s);
    }
    pub fn extend(&mut self, o: Report) {
        self.adopted.extend(o.adopted);
        self.already.extend(o.already);
        self.skipped.extend(o.skipped);
    }
}

/// Who holds a pid file's lock (libvirt's virPidFileAcquirePath takes a
/// write lock on its first byte): the holder's pid, read from the lock.
fn lock_holder(path: &Path) -> Option<i32> {
    use std::os::fd::AsRawFd;
    let f = std::fs::OpenOptions::new().read(true).open(path).ok()?;
    // SAFETY: a zeroed flock is a valid argument; F_GETLK only fills it.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = 0;
    fl.l_len = 1;
    // SAFETY: fcntl(F_GETLK) on an fd we own with a valid flock.
    let r = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETLK, &mut fl) };
    if r != 0 || fl.l_type == libc::F_UNLCK as libc::c_short {
        return None;
    }
    Some(fl.l_pid)
}

/// Refuses while a libvirtd or virtqemud holds the host: its pid file
/// locked, the QEMU driver's lock held, or a daemon answering on
/// libvirt's sockets. The error names the holder.
pub fn check_host_free(dirs: &LibvirtDirs) -> Result<()> {
    let locks = [
        dirs.run_base.join("libvirtd.pid"),
        dirs.run_base.join("virtqemud.pid"),
        dirs.qemu_status().join("driver.pid"),
    ];
    for p in &locks {
        if let Some(pid) = lock_holder(p) {
            return Err(Error::operation_invalid(
                FROM,
                format!(
                    "libvirt still holds this host: process {} locks {}; stop it first",
                    pid,
                    p.display()
                ),
            ));
        }
    }
    for s in ["libvirt-sock", "virtqemud-sock"] {
        let p = dirs.run.join(s);
        if std::os::unix::net::UnixStream::connect(&p).is_ok() {
            return Err(Error::operation_invalid(
                FROM,
                format!("a daemon still answers on {}; stop it first", p.display()),
            ));
        }
    }
    Ok(())
}

/// libvirt's state names (virDomainState) and reasons per state.
const STATES: &[&str] = &[
    "nostate",
    "running",
    "blocked",
    "paused",
    "shutdown",
    "shutoff",
    "crashed",
    "pmsuspended",
];

fn reasons(state: usize) -> &'static [&'static str] {
    match state {
        1 => &[
            "unknown",
            "booted",
            "migrated",
            "restored",
            "from snapshot",
            "unpaused",
            "migration canceled",
            "save canceled",
            "wakeup",
            "crashed",
            "post-copy",
            "post-copy failed",
        ],
        3 => &[
            "unknown",
            "user",
            "migration",
            "save",
            "dump",
            "ioerror",
            "watchdog",
            "from snapshot",
            "shutdown",
            "snapshot",
            "panicked",
            "starting up",
            "post-copy",
            "post-copy failed",
        ],
        4 => &["unknown", "user"],
        5 => &[
            "unknown",
            "shutdown",
            "destroyed",
            "crashed",
            "migrated",
            "saved",
            "failed",
            "from snapshot",
            "daemon",
        ],
        6 => &["unknown", "panicked"],
        _ => &["unknown"],
    }
}

/// virDomainStateTypeFromString and virDomainStateReasonFromString.
pub fn state_from_strings(state: &str, reason: Option<&str>) -> Option<(i32, i32)> {
    let s = STATES.iter().position(|x| *x == state)?;
    let r = match reason {
        Some(r) => reasons(s).iter().position(|x| *x == r)?,
        None => 0,
    };
    Some((s as i32, r as i32))
}

/// virDomainStateTypeToString and virDomainStateReasonToString.
pub fn state_to_strings(state: i32, reason: i32) -> (&'static str, &'static str) {
    let s = usize::try_from(state).ok().filter(|s| *s < STATES.len());
    let Some(s) = s else {
        return ("nostate", "unknown");
    };
    let r = usize::try_from(reason)
        .ok()
        .and_then(|r| reasons(s).get(r).copied())
        .unwrap_or("unknown");
    (STATES[s], r)
}

/// What a libvirt status file says about a running guest.
#[derive(Debug, Clone)]
pub struct LibvirtStatus {
    pub state: i32,
    pub reason: i32,
    pub pid: i32,
    pub monitor: PathBuf,
    /// The live `<domain>` element, as written.
    pub domain_xml: String,
    pub id: i32,
    pub name: String,
}

/// Serializes one element back to text.
fn element_text(el: &Element) -> String {
    let mut w = Writer::new();
    w.element(el);
    w.into_string()
}

/// Reads a `<domstatus>` file (virDomainObjParseXML and
/// qemuDomainObjPrivateXMLParse, the parts an adoption needs).
pub fn parse_status(text: &str) -> std::result::Result<LibvirtStatus, String> {
    let root = oxvirt_xml::dom::parse(text, "status").map_err(|e| e.to_string())?;
    if root.name != "domstatus" {
        return Err(format!("unexpected root element <{}>", root.name));
    }
    let state = root.attr("state").ok_or("missing state")?;
    let (state, reason) = state_from_strings(state, root.attr("reason"))
        .ok_or_else(|| format!("unknown state {:?}", root.attr("state")))?;
    let pid: i32 = root
        .attr("pid")
        .and_then(|p| p.parse().ok())
        .ok_or("missing or bad pid")?;
    let mon = root.child("monitor").ok_or("no monitor")?;
    if mon.attr("type").unwrap_or("unix") != "unix" {
        return Err(format!(
            "monitor of type {} is not supported",
            mon.attr("type").unwrap_or("")
        ));
    }
    let monitor = PathBuf::from(mon.attr("path").ok_or("no monitor path")?);
    // A job libvirt had running when it stopped (qemuProcessRecoverJob's
    // business, which only libvirt knows how to finish).
    if let Some(job) = root.child("job") {
        let t = job.attr("type").unwrap_or("none");
        let a = job.attr("async").unwrap_or("none");
        if t != "none" || a != "none" {
            return Err(format!(
                "a libvirt job is in progress (job {}, async {})",
                t, a
            ));
        }
    }
    if root
        .child("blockjobs")
        .and_then(|b| b.attr("active"))
        .is_some_and(|a| a == "yes")
    {
        return Err("libvirt block jobs are active".into());
    }
    let dom = root.child("domain").ok_or("no <domain>")?;
    let id = dom
        .attr("id")
        .and_then(|i| i.parse().ok())
        .ok_or("no domain id")?;
    let name = dom.child_text("name").ok_or("no domain name")?;
    Ok(LibvirtStatus {
        state,
        reason,
        pid,
        monitor,
        domain_xml: element_text(dom),
        id,
        name,
    })
}

fn parse_opts() -> ParseOptions {
    ParseOptions {
        default_arch: Some(crate::host::host_arch().into()),
    }
}

/// One domain of libvirt's, as found.
struct Found {
    name: String,
    config: Option<(PathBuf, String)>,
    autostart: Option<PathBuf>,
    status: Option<(PathBuf, String)>,
}

/// The `NAMESUFFIX` entries of one of libvirt's directories, files or
/// links (autostart links may point to a path only libvirt's root
/// resolves), by NAME, sorted; dot files (temporaries) left out.
pub fn xml_entries(dir: &Path, suffix: &str) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<(String, PathBuf)> = rd
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let stem = n.strip_suffix(suffix)?.to_string();
            (!stem.starts_with('.')).then(|| (stem, e.path()))
        })
        .collect();
    v.sort();
    v
}

/// libvirt's QEMU domains: definitions, autostart links and status
/// files, by name.
fn scan(dirs: &LibvirtDirs) -> Vec<Found> {
    let mut out: Vec<Found> = Vec::new();
    let entry = |out: &mut Vec<Found>, name: &str| -> usize {
        if let Some(i) = out.iter().position(|f| f.name == name) {
            return i;
        }
        out.push(Found {
            name: name.to_string(),
            config: None,
            autostart: None,
            status: None,
        });
        out.len() - 1
    };
    for (name, p) in xml_entries(&dirs.qemu_config(), ".xml") {
        if !p.is_file() {
            continue;
        }
        let i = entry(&mut out, &name);
        match std::fs::read_to_string(&p) {
            Ok(t) => out[i].config = Some((p, t)),
            Err(e) => tracing::warn!("cannot read {}: {}", p.display(), e),
        }
    }
    for (name, p) in xml_entries(&dirs.qemu_autostart(), ".xml") {
        let i = entry(&mut out, &name);
        out[i].autostart = Some(p);
    }
    for (name, p) in xml_entries(&dirs.qemu_status(), ".xml") {
        let i = entry(&mut out, &name);
        match std::fs::read_to_string(&p) {
            Ok(t) => out[i].status = Some((p, t)),
            Err(e) => tracing::warn!("cannot read {}: {}", p.display(), e),
        }
    }
    out
}

/// Asks the guest's QEMU, on its monitor, whether it runs.
/// The connection is shut down before returning, so QEMU (which serves
/// one monitor client at a time) accepts the driver's right after.
fn check_monitor(path: &Path) -> std::result::Result<Value, String> {
    let fail = |e: &dyn std::fmt::Display| format!("monitor {}: {}", path.display(), e);
    let stream = std::os::unix::net::UnixStream::connect(path).map_err(|e| fail(&e))?;
    let mine = stream.try_clone().map_err(|e| fail(&e))?;
    let r = match Qmp::from_stream(stream, MONITOR_WAIT) {
        Ok((qmp, _rx)) => qmp
            .execute_value("query-status", None)
            .map_err(|e| format!("query-status: {}", e)),
        Err(e) => Err(fail(&e)),
    };
    let _ = mine.shutdown(std::net::Shutdown::Both);
    r
}

/// A domain staged by this run, for `commit`.
#[derive(Debug, Clone)]
pub struct Staged {
    pub name: String,
    pub uuid: oxvirt_core::types::Uuid,
    /// The QEMU pid when running.
    pub pid: Option<i32>,
    pub persistent: bool,
    /// libvirt's files to rename once the domain is served here.
    pub libvirt_files: Vec<PathBuf>,
    /// This run wrote our files (removed again if the takeover fails).
    pub wrote: bool,
}

/// The domains of a state root, by name: (UUID, running pid).
fn existing(layout: &Layout, name: &str) -> (Option<Domain>, Option<Status>) {
    let flags = ParseFlags {
        inactive: true,
        skip_post_parse: true,
        ..Default::default()
    };
    let def = std::fs::read_to_string(layout.config(name))
        .ok()
        .and_then(|x| Domain::parse(&x, flags, &parse_opts()).ok());
    let st = std::fs::read(layout.status(name))
        .ok()
        .and_then(|d| Status::from_json(&d));
    (def, st)
}

/// A UUID already used here by a domain of another name.
fn uuid_taken(layout: &Layout, uuid: &oxvirt_core::types::Uuid, name: &str) -> Option<String> {
    let flags = ParseFlags {
        inactive: true,
        skip_post_parse: true,
        ..Default::default()
    };
    let rd = std::fs::read_dir(layout.config_dir()).ok()?;
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let Some(stem) = n.strip_suffix(".xml") else {
            continue;
        };
        if stem == name {
            continue;
        }
        let Ok(x) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        if let Ok(d) = Domain::parse(&x, flags, &parse_opts()) {
            if d.uuid == *uuid {
                return Some(stem.to_string());
            }
        }
    }
    None
}

/// Step 1: reads and checks libvirt's QEMU domains and writes what
/// passes under `layout` (libvirt's files are only read).
pub fn stage(layout: &Layout, dirs: &LibvirtDirs, report: &mut Report) -> Result<Vec<Staged>> {
    layout.create()?;
    let mut staged = Vec::new();
    for f in scan(dirs) {
        match stage_one(layout, dirs, &f) {
            Ok(Some((s, what))) => {
                if s.wrote {
                    report.adopt(what);
                } else {
                    report.already(what);
                }
                staged.push(s);
            }
            Ok(None) => {}
            Err(why) => report.skip(format!("domain {}: {}", f.name, why)),
        }
    }
    Ok(staged)
}

fn stage_one(
    layout: &Layout,
    dirs: &LibvirtDirs,
    f: &Found,
) -> std::result::Result<Option<(Staged, String)>, String> {
    let name = &f.name;
    if f.config.is_none() && f.status.is_none() {
        // An autostart link to nothing: libvirt ignores it too.
        return Ok(None);
    }
    // State this driver would not see yet: left whole to libvirt, so
    // that no start here boots past a saved guest or its checkpoints.
    let lv_save = dirs.lib.join(format!("qemu/save/{}.save", name));
    if lv_save.exists() {
        return Err("it has a managed-save image, which is not adopted yet".into());
    }
    if !xml_entries(&dirs.lib.join("qemu/checkpoint").join(name), ".xml").is_empty() {
        return Err("it has checkpoints, whose metadata is not adopted yet".into());
    }
    // The persistent definition, as the generic parser reads it (the
    // driver completes it when it loads it).
    let inactive = ParseFlags {
        inactive: true,
        ..Default::default()
    };
    let config = match &f.config {
        Some((p, text)) => {
            let def = Domain::parse(text, inactive, &parse_opts())
                .map_err(|e| format!("definition {} does not parse: {}", p.display(), e))?;
            if def.name != *name {
                return Err(format!(
                    "definition {} names domain {}",
                    p.display(),
                    def.name
                ));
            }
            Some((def, text.clone()))
        }
        None => None,
    };
    // The running guest.
    let live = match &f.status {
        Some((p, text)) => {
            let st = parse_status(text).map_err(|e| format!("status {}: {}", p.display(), e))?;
            let def = Domain::parse(&st.domain_xml, ParseFlags::default(), &parse_opts())
                .map_err(|e| format!("live definition in {} does not parse: {}", p.display(), e))?;
            if let Some((c, _)) = &config {
                if c.uuid != def.uuid {
                    return Err("the live and persistent definitions have different UUIDs".into());
                }
            }
            Some((st, def))
        }
        None => None,
    };
    let uuid = match (&config, &live) {
        (_, Some((_, d))) => d.uuid,
        (Some((c, _)), None) => c.uuid,
        (None, None) => return Ok(None),
    };
    if let Some(other) = uuid_taken(layout, &uuid, name) {
        return Err(format!("its UUID is already domain {}'s here", other));
    }
    let (ours, our_status) = existing(layout, name);
    if let Some(d) = &ours {
        if d.uuid != uuid {
            return Err("a different domain of that name exists here".into());
        }
    }
    let mut libvirt_files = Vec::new();
    let mut what = format!("domain {}", name);
    let mut pid = None;
    let mut status_new = None;
    if let Some((st, def)) = &live {
        libvirt_files.push(f.status.as_ref().map(|s| s.0.clone()).unwrap_or_default());
        match &our_status {
            Some(s) if s.pid == st.pid => {
                // Staged or served by an earlier run.
                pid = Some(st.pid);
            }
            Some(s) => return Err(format!("a QEMU (pid {}) already runs it here", s.pid)),
            None => {
                if !qemu_alive(st.pid) {
                    return Err(format!("its QEMU (pid {}) is not running", st.pid));
                }
                if !cmdline_names(st.pid, &def.uuid) {
                    return Err(format!("process {} is not this domain's QEMU", st.pid));
                }
                let qs = check_monitor(&st.monitor)?;
                let running = qs.get("running").and_then(Value::as_bool);
                let qstatus = qs.get("status").and_then(Value::as_str).unwrap_or("");
                let claimed_running = st.state == 1;
                if running != Some(claimed_running) {
                    return Err(format!(
                        "libvirt says {} but QEMU says {}",
                        state_to_strings(st.state, st.reason).0,
                        qstatus
                    ));
                }
                if st.state != 1 && st.state != 3 {
                    return Err(format!(
                        "state {} is not adopted",
                        state_to_strings(st.state, st.reason).0
                    ));
                }
                pid = Some(st.pid);
                status_new = Some(Status {
                    pid: st.pid,
                    start_time: start_time(st.pid).unwrap_or(0),
                    qmp: st.monitor.clone(),
                    id: st.id,
                    state: st.state,
                    reason: st.reason,
                    xml: st.domain_xml.clone(),
                    fake_reboot: false,
                    autodestroy: false,
                    job: None,
                    adopted: true,
                    blockjobs: Vec::new(),
                });
            }
        }
        let (s, r) = state_to_strings(st.state, st.reason);
        what.push_str(&format!(": {} ({}), pid {}", s, r, st.pid));
    } else {
        what.push_str(": shut off");
    }
    let mut wrote = false;
    if let Some((_, text)) = &config {
        libvirt_files.push(f.config.as_ref().map(|c| c.0.clone()).unwrap_or_default());
        if ours.is_none() {
            store::write_atomic(&layout.config(name), text.as_bytes(), true)
                .map_err(|e| e.message.clone())?;
            wrote = true;
        }
        if let Some(a) = &f.autostart {
            libvirt_files.push(a.clone());
            if !layout.autostart(name).exists() {
                store::create_marker(&layout.autostart(name)).map_err(|e| e.message.clone())?;
                wrote = true;
            }
            what.push_str(", autostart");
        }
        what.push_str(", persistent");
    } else {
        what.push_str(", transient");
    }
    // Snapshot metadata: libvirt's files and this driver's are alike
    // (one internal-form XML per snapshot, the current one marked).
    let lv_snaps = dirs.lib.join("qemu/snapshot").join(name);
    let snaps = xml_entries(&lv_snaps, ".xml");
    if !snaps.is_empty() {
        let ours = layout.root.join("snapshot").join(name);
        std::fs::create_dir_all(&ours).map_err(|e| format!("{}: {}", ours.display(), e))?;
        for (snap, p) in &snaps {
            let to = ours.join(format!("{}.xml", snap));
            if !to.exists() {
                let data = std::fs::read(p).map_err(|e| format!("{}: {}", p.display(), e))?;
                store::write_atomic(&to, &data, true).map_err(|e| e.message.clone())?;
                wrote = true;
            }
        }
        what.push_str(&format!(", {} snapshot(s)", snaps.len()));
    }
    if lv_snaps.is_dir() {
        libvirt_files.push(lv_snaps);
    }
    if let Some(s) = status_new {
        // Last: the status file makes the driver re-attach the guest.
        store::write_atomic(&layout.status(name), &s.to_json(), true)
            .map_err(|e| e.message.clone())?;
        wrote = true;
    }
    Ok(Some((
        Staged {
            name: name.clone(),
            uuid,
            pid,
            persistent: config.is_some(),
            libvirt_files,
            wrote,
        },
        what,
    )))
}

/// True when process `pid`'s command line names the domain's UUID (a
/// pid libvirt recorded that the kernel gave to another process since is
/// never taken for the guest).
fn cmdline_names(pid: i32, uuid: &oxvirt_core::types::Uuid) -> bool {
    let Ok(cmd) = std::fs::read(format!("/proc/{}/cmdline", pid)) else {
        return false;
    };
    let want = uuid.to_string();
    cmd.split(|b| *b == 0)
        .any(|a| String::from_utf8_lossy(a).contains(&want))
}

/// Renames one of libvirt's files out of its daemon's sight.
pub fn hide(p: &Path) -> std::io::Result<()> {
    let mut to = p.as_os_str().to_owned();
    to.push(ADOPTED_SUFFIX);
    std::fs::rename(p, PathBuf::from(to))?;
    if let Some(d) = p.parent() {
        store::sync_dir(d);
    }
    Ok(())
}

impl crate::driver::Driver {
    /// Step 3: keeps what the driver now serves and hides libvirt's
    /// files for it; a staged domain the driver could not take over has
    /// its staged files removed and stays libvirt's.
    pub fn adoption_commit(&self, staged: &[Staged], report: &mut Report) {
        // Every re-attach ends (each monitor has a bounded wait): a guest
        // still being taken over is never mistaken for one that failed.
        let mut st = self.lock_all_ready();
        while self.reattaching.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            drop(st);
            st = self.lock_all_ready();
        }
        let mut failed = Vec::new();
        let mut done = Vec::new();
        for s in staged {
            let ok = match st.find_uuid(&s.uuid).and_then(|k| st.doms.get(k)) {
                Some(obj) => match s.pid {
                    Some(pid) => obj.run.as_ref().is_some_and(|r| r.pid == pid),
                    None => obj.persistent,
                },
                None => false,
            };
            if ok {
                done.push(s.clone());
            } else {
                failed.push(s.clone());
            }
        }
        drop(st);
        for s in failed {
            report.skip(format!(
                "domain {}: not taken over here; its files were left to libvirt",
                s.name
            ));
            if s.wrote {
                let _ = store::remove(&self.layout.status(&s.name));
                let _ = store::remove(&self.layout.autostart(&s.name));
                let _ = store::remove(&self.layout.config(&s.name));
                crate::snapmeta::remove_all(&self.layout, &s.name);
                let mut st = self.lock();
                if let Some(k) = st.find_uuid(&s.uuid) {
                    if st.doms.get(k).is_some_and(|o| o.run.is_none()) {
                        st.doms.remove(k);
                    }
                }
            }
        }
        for s in done {
            // The autostart link first, the status file last.
            for p in s.libvirt_files.iter().rev() {
                if let Err(e) = hide(p) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        report.skip(format!(
                            "domain {}: cannot rename {}: {}",
                            s.name,
                            p.display(),
                            e
                        ));
                    }
                }
            }
        }
    }
}

// ---- the way back --------------------------------------------------------

/// Sets `state` and `reason` on the `<domstatus>` start tag of a
/// libvirt status file, leaving every other byte as libvirt wrote it.
fn set_status_state(text: &str, state: i32, reason: i32) -> Option<String> {
    let start = text.find("<domstatus")?;
    let end = start + text[start..].find('>')?;
    let (s, r) = state_to_strings(state, reason);
    let mut tag = text[start..end].to_string();
    for (k, v) in [("state", s), ("reason", r)] {
        let pat = format!(" {}='", k);
        let i = tag.find(&pat)? + pat.len();
        let j = i + tag[i..].find('\'')?;
        tag.replace_range(i..j, v);
    }
    Some(format!("{}{}{}", &text[..start], tag, &text[end..]))
}

/// The hidden copy of one of libvirt's files.
pub fn hidden(p: &Path) -> PathBuf {
    let mut h = p.as_os_str().to_owned();
    h.push(ADOPTED_SUFFIX);
    PathBuf::from(h)
}

/// `oxvirtd --release-to-libvirt`, with oxvirtd stopped: every domain
/// under `root` goes back to libvirt's files, guests left running.
/// - a running guest adopted from libvirt gets its status file back,
///   with the state and reason it has now (libvirtd re-reads both from
///   QEMU when it re-attaches);
/// - a persistent definition is written as libvirt's
///   `/etc/libvirt/qemu/NAME.xml`, an autostart marker as libvirt's link;
/// - a guest oxvirtd started itself has no libvirt status file to go
///   back to: it is reported and stays here, running.
///
/// libvirt's files are written first (atomically), this root's removed
/// after, so a run cut short is completed by running it again.
pub fn release(root: &Path, dirs: &LibvirtDirs) -> Result<Report> {
    let mut report = Report::default();
    let layout = Layout::new(root.to_path_buf());
    let mut names: Vec<String> = Vec::new();
    for dir in [layout.config_dir(), layout.run_dir()] {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let stem = n.strip_suffix(".xml").or_else(|| n.strip_suffix(".json"));
            if let Some(stem) = stem {
                if !oxvirt_host::fsutil::is_temporary(&n) && !names.iter().any(|x| x == stem) {
                    names.push(stem.to_string());
                }
            }
        }
    }
    names.sort();
    for name in names {
        match release_one(&layout, dirs, &name) {
            Ok(what) => report.adopt(what),
            Err(why) => report.skip(format!("domain {}: {}", name, why)),
        }
    }
    Ok(report)
}

fn release_one(
    layout: &Layout,
    dirs: &LibvirtDirs,
    name: &str,
) -> std::result::Result<String, String> {
    let err = |e: Error| e.message;
    let status = std::fs::read(layout.status(name))
        .ok()
        .and_then(|d| Status::from_json(&d));
    let mut what = format!("domain {}", name);
    let lv_status = dirs.qemu_status().join(format!("{}.xml", name));
    let mut status_text = None;
    if let Some(st) = &status {
        if !crate::hostproc::same_process_alive(st.pid, st.start_time) {
            return Err(format!(
                "its QEMU (pid {}) is gone; start oxvirtd once to record that",
                st.pid
            ));
        }
        let old = std::fs::read_to_string(hidden(&lv_status))
            .or_else(|_| std::fs::read_to_string(&lv_status))
            .map_err(|_| "a guest oxvirtd started has no libvirt status file to go back to; it stays with oxvirtd".to_string())?;
        let lv = parse_status(&old).map_err(|e| format!("libvirt's status file: {}", e))?;
        if lv.pid != st.pid {
            return Err(format!(
                "libvirt's status file names pid {}, the guest runs as {}",
                lv.pid, st.pid
            ));
        }
        let text = set_status_state(&old, st.state, st.reason)
            .ok_or("libvirt's status file has no state to update")?;
        let (s, r) = state_to_strings(st.state, st.reason);
        what.push_str(&format!(": {} ({}), pid {}", s, r, st.pid));
        status_text = Some(text);
    } else {
        what.push_str(": shut off");
    }
    let config = std::fs::read_to_string(layout.config(name)).ok();
    let autostart = layout.autostart(name).exists();
    if status.is_none() && config.is_none() {
        return Err("nothing to hand back".into());
    }
    std::fs::create_dir_all(dirs.qemu_autostart())
        .map_err(|e| format!("cannot create {}: {}", dirs.qemu_autostart().display(), e))?;
    // libvirt's files first.
    let lv_config = dirs.qemu_config().join(format!("{}.xml", name));
    let lv_link = dirs.qemu_autostart().join(format!("{}.xml", name));
    if let Some(c) = &config {
        store::write_atomic(&lv_config, c.as_bytes(), true).map_err(err)?;
        if autostart && std::fs::symlink_metadata(&lv_link).is_err() {
            std::os::unix::fs::symlink(&lv_config, &lv_link)
                .map_err(|e| format!("cannot link {}: {}", lv_link.display(), e))?;
            store::sync_dir(&dirs.qemu_autostart());
            what.push_str(", autostart");
        }
        what.push_str(", persistent");
    }
    if let Some(t) = &status_text {
        store::write_atomic(&lv_status, t.as_bytes(), true).map_err(err)?;
    }
    let our_snaps = crate::snapmeta::dir(layout, name);
    let lv_snaps = dirs.lib.join("qemu/snapshot").join(name);
    let snaps = xml_entries(&our_snaps, ".xml");
    if !snaps.is_empty() {
        std::fs::create_dir_all(&lv_snaps)
            .map_err(|e| format!("cannot create {}: {}", lv_snaps.display(), e))?;
        for (snap, p) in &snaps {
            let data = std::fs::read(p).map_err(|e| format!("{}: {}", p.display(), e))?;
            store::write_atomic(&lv_snaps.join(format!("{}.xml", snap)), &data, true)
                .map_err(err)?;
        }
        what.push_str(&format!(", {} snapshot(s)", snaps.len()));
    }
    // Then ours, and the hidden copies.
    for p in [
        hidden(&lv_status),
        hidden(&lv_config),
        hidden(&lv_link),
        layout.status(name),
        layout.pid(name),
        layout.autostart(name),
        layout.config(name),
    ] {
        store::remove(&p).map_err(err)?;
    }
    let old_snaps = hidden(&lv_snaps);
    if old_snaps.is_dir() {
        std::fs::remove_dir_all(&old_snaps)
            .map_err(|e| format!("cannot remove {}: {}", old_snaps.display(), e))?;
    }
    crate::snapmeta::remove_all(layout, name);
    Ok(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_reasons_round_trip() {
        assert_eq!(state_from_strings("running", Some("booted")), Some((1, 1)));
        assert_eq!(state_from_strings("paused", Some("user")), Some((3, 1)));
        assert_eq!(state_from_strings("shutoff", Some("daemon")), Some((5, 8)));
        assert_eq!(state_from_strings("paused", Some("nope")), None);
        for s in 0..8 {
            for r in 0..reasons(s as usize).len() as i32 {
                let (a, b) = state_to_strings(s, r);
                assert_eq!(state_from_strings(a, Some(b)), Some((s, r)));
            }
        }
    }

    #[test]
    fn status_files_are_read() {
        let text = "<!-- x -->\n<domstatus state='paused' reason='user' pid='42'>\n\
  <monitor path='/var/lib/libvirt/qemu/domain-3-a/monitor.sock' type='unix'/>\n\
  <domain type='kvm' id='3'><name>a</name><uuid>b86fd05b-d599-4982-b6de-e320248cfffd</uuid>\
<memory>65536</memory><os><type arch='x86_64'>hvm</type></os></domain>\n</domstatus>\n";
        let s = parse_status(text).expect("parses");
        assert_eq!((s.state, s.reason, s.pid, s.id), (3, 1, 42, 3));
        assert_eq!(s.name, "a");
        assert_eq!(
            s.monitor,
            PathBuf::from("/var/lib/libvirt/qemu/domain-3-a/monitor.sock")
        );
        assert!(s.domain_xml.contains("<name>a</name>"));
        let busy = text.replace("<monitor", "<job type='modify' async='none'/><monitor");
        assert!(parse_status(&busy).unwrap_err().contains("job"));
        assert!(parse_status("<domain/>").is_err());
    }

    #[test]
    fn the_state_is_updated_in_place() {
        let t = "<!--\nc\n-->\n<domstatus state='running' reason='booted' pid='42'>\n  <x/>\n</domstatus>\n";
        let u = set_status_state(t, 3, 1).unwrap();
        assert_eq!(
            u,
            t.replace(
                "state='running' reason='booted'",
                "state='paused' reason='user'"
            )
        );
    }

    #[test]
    fn a_free_host_is_free() {
        let dir = std::env::temp_dir().join(format!("oxvirt-adopt-free-{}", std::process::id()));
        let dirs = LibvirtDirs::under(&dir);
        std::fs::create_dir_all(dirs.qemu_status()).unwrap();
        // A pid file nobody locks (a daemon that died) does not hold it.
        std::fs::write(dirs.qemu_status().join("driver.pid"), "1\n").unwrap();
        assert!(check_host_free(&dirs).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
