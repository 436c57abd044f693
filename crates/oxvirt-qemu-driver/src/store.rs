//! The driver's files under its root directory.
//!
//! ```text
//! ROOT/config/NAME.xml        persistent definitions (atomic writes)
//! ROOT/config/autostart/NAME  marks an autostarted domain
//! ROOT/run/NAME.json          status of a running domain
//! ROOT/run/NAME.qmp           its QMP socket
//! ROOT/run/NAME.pid           its QEMU's pid (libvirt's RUNDIR/qemu/NAME.pid)
//! ROOT/save/NAME.save         managed save images
//! ROOT/log/NAME.log           QEMU's output, one log per domain
//! ROOT/nvram/NAME_VARS.fd     UEFI variables of autoselected firmware
//! ```

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use oxvirt_core::error::from;
use oxvirt_core::{Error, Result};
use serde_json::{json, Value};

use crate::FROM;

/// Paths of one driver instance.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: PathBuf) -> Layout {
        Layout { root }
    }
    pub fn config_dir(&self) -> PathBuf {
        self.root.join("config")
    }
    pub fn autostart_dir(&self) -> PathBuf {
        self.root.join("config/autostart")
    }
    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }
    pub fn save_dir(&self) -> PathBuf {
        self.root.join("save")
    }
    /// NVRAM files of autoselected UEFI firmware (libvirt's
    /// /var/lib/libvirt/qemu/nvram), made when first needed.
    pub fn nvram_dir(&self) -> PathBuf {
        self.root.join("nvram")
    }
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("log")
    }
    pub fn config(&self, name: &str) -> PathBuf {
        self.config_dir().join(format!("{}.xml", name))
    }
    pub fn autostart(&self, name: &str) -> PathBuf {
        self.autostart_dir().join(name)
    }
    pub fn status(&self, name: &str) -> PathBuf {
        self.run_dir().join(format!("{}.json", name))
    }
    /// The pid file of a running domain's QEMU, where libvirt's QEMU
    /// keeps it in its run directory (tools read it).
    pub fn pid(&self, name: &str) -> PathBuf {
        self.run_dir().join(format!("{}.pid", name))
    }
    pub fn qmp(&self, name: &str) -> PathBuf {
        self.run_dir().join(format!("{}.qmp", name))
    }
    pub fn managed_save(&self, name: &str) -> PathBuf {
        self.save_dir().join(format!("{}.save", name))
    }
    pub fn log(&self, name: &str) -> PathBuf {
        self.log_dir().join(format!("{}.log", name))
    }

    /// Creates every directory of the layout.
    pub fn create(&self) -> Result<()> {
        for d in [
            self.config_dir(),
            self.autostart_dir(),
            self.run_dir(),
            self.save_dir(),
            self.log_dir(),
        ] {
            std::fs::create_dir_all(&d)
                .map_err(|e| Error::system(FROM, format!("cannot create {}", d.display()), &e))?;
        }
        Ok(())
    }
}

/// Writes `data` to `path` atomically (see `oxvirt_host::write_atomic`:
/// a uniquely named temporary in the same directory, fsync, rename, fsync
/// of the directory; libvirt's virFileRewrite errors). Mode 0600, as
/// libvirt writes its XML files. A temporary left by a daemon killed
/// mid-write is removed at the next start (`remove_stale_temps`).
pub fn write_atomic(path: &Path, data: &[u8], durable: bool) -> Result<()> {
    oxvirt_host::fsutil::write_atomic_mode(path, data, 0o600, durable, from::XML)
}

/// fsyncs a directory (after a rename or unlink in it).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Creates an empty marker file (no temporary: an interrupted creation
/// leaves no file or an empty one, both well-formed).
pub fn create_marker(path: &Path) -> Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            Error::system(
                from::NONE,
                format!("Failed to create file '{}'", path.display()),
                &e,
            )
        })?;
    if let Some(d) = path.parent() {
        sync_dir(d);
    }
    Ok(())
}

/// Removes what a daemon killed in the middle of a write leaves under
/// the root: `write_atomic` temporaries, in every directory of the
/// layout. Returns the paths removed.
pub fn remove_stale_temps(layout: &Layout) -> Vec<PathBuf> {
    let mut gone = Vec::new();
    for dir in [
        layout.root.clone(),
        layout.config_dir(),
        layout.autostart_dir(),
        layout.run_dir(),
        layout.save_dir(),
        layout.log_dir(),
        layout.root.join("cache"),
    ] {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            // Autostart markers are bare domain names (and are never
            // written through a temporary): a name shaped like a
            // temporary there may be a defined domain's marker.
            let stale = oxvirt_host::fsutil::is_temporary(&name)
                && (dir != layout.autostart_dir() || !layout.config(&name).exists());
            if stale {
                let p = e.path();
                if std::fs::remove_file(&p).is_ok() {
                    gone.push(p);
                }
            }
        }
    }
    gone
}

/// Removes a file, ignoring "not found".
pub fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::system(
            FROM,
            format!("cannot remove {}", path.display()),
            &e,
        )),
    }
}

/// An asynchronous job recorded in a status file while it runs, so that
/// a daemon started after one that died during the job can recover it
/// (libvirt keeps `<job>` in its status XML for qemuProcessRecoverJob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub kind: JobKind,
    /// The save image written (save) or read (restore).
    pub path: PathBuf,
    /// The image is the domain's managed save.
    pub managed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Save or managed save: QEMU migrates into `path`.
    Save,
    /// A start restoring `path` (virDomainRestore, or a start from a
    /// managed save, which removes the image once the guest runs).
    Restore,
    /// The destination of a live migration, from Prepare until Finish
    /// resumed the guest (`path` unused).
    MigrationIn,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            JobKind::Save => "save",
            JobKind::Restore => "restore",
            JobKind::MigrationIn => "migration-in",
        }
    }
}

/// Where a block job is (libvirt's qemuBlockjobState, the states a
/// job can be in between events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockJobState {
    Running,
    Ready,
    Aborting,
    Pivoting,
}

impl BlockJobState {
    fn as_str(self) -> &'static str {
        match self {
            BlockJobState::Running => "running",
            BlockJobState::Ready => "ready",
            BlockJobState::Aborting => "aborting",
            BlockJobState::Pivoting => "pivoting",
        }
    }
    fn parse(s: &str) -> Option<BlockJobState> {
        Some(match s {
            "running" => BlockJobState::Running,
            "ready" => BlockJobState::Ready,
            "aborting" => BlockJobState::Aborting,
            "pivoting" => BlockJobState::Pivoting,
            _ => return None,
        })
    }
}

/// A block job QEMU runs for a disk (libvirt's qemuBlockJobData, kept in
/// its status XML's `<blockjobs>`), so a daemon restarted while it runs
/// re-attaches to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockJobRecord {
    /// QEMU's job id (`copy-vda-libvirt-1-format`).
    pub name: String,
    /// The disk's target.
    pub disk: String,
    /// VIR_DOMAIN_BLOCK_JOB_TYPE_*.
    pub kind: i32,
    pub state: BlockJobState,
    /// The API's flags.
    pub flags: u32,
    /// Commit and pull: the images the job removes from the chain (top
    /// first) and, for a commit, the base it writes into.
    pub removed: Vec<String>,
    pub base: Option<String>,
    /// Nodes added for the job (a copy's target), removed when it is
    /// abandoned.
    pub nodes: Vec<String>,
}

impl BlockJobRecord {
    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "disk": self.disk,
            "kind": self.kind,
            "state": self.state.as_str(),
            "flags": self.flags,
            "removed": self.removed,
            "base": self.base,
            "nodes": self.nodes,
        })
    }
    fn from_json(v: &Value) -> Option<BlockJobRecord> {
        let strs = |k: &str| -> Vec<String> {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Some(BlockJobRecord {
            name: v.get("name")?.as_str()?.to_string(),
            disk: v.get("disk")?.as_str()?.to_string(),
            kind: i32::try_from(v.get("kind")?.as_i64()?).ok()?,
            state: BlockJobState::parse(v.get("state")?.as_str()?)?,
            flags: u32::try_from(v.get("flags")?.as_u64()?).ok()?,
            removed: strs("removed"),
            base: v.get("base").and_then(Value::as_str).map(str::to_string),
            nodes: strs("nodes"),
        })
    }
}

/// What the run/ status file of a running domain records.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub pid: i32,
    /// The process's start time (field 22 of /proc/PID/stat, clock ticks
    /// since boot), so that a pid recycled for another process is never
    /// taken for the domain's QEMU. 0 when unknown (older files).
    pub start_time: u64,
    pub qmp: PathBuf,
    pub id: i32,
    pub state: i32,
    pub reason: i32,
    /// The live definition.
    pub xml: String,
    pub fake_reboot: bool,
    /// Started with `--autodestroy` by a client connection.
    pub autodestroy: bool,
    /// The asynchronous job running, if any.
    pub job: Option<JobRecord>,
    /// Staged by an adoption of libvirt's guest and not yet re-attached:
    /// if the re-attach fails, the guest is left alone (never killed)
    /// and stays libvirt's.
    pub adopted: bool,
    /// The block jobs running.
    pub blockjobs: Vec<BlockJobRecord>,
}

impl Status {
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = json!({
            "pid": self.pid,
            "start_time": self.start_time,
            "qmp": self.qmp.to_string_lossy(),
            "id": self.id,
            "state": self.state,
            "reason": self.reason,
            "fake_reboot": self.fake_reboot,
            "autodestroy": self.autodestroy,
            "xml": self.xml,
        });
        if self.adopted {
            v["adopted"] = json!(true);
        }
        if let Some(j) = &self.job {
            v["job"] = json!({
                "kind": j.kind.as_str(),
                "path": j.path.to_string_lossy(),
                "managed": j.managed,
            });
        }
        if !self.blockjobs.is_empty() {
            v["blockjobs"] = Value::Array(self.blockjobs.iter().map(|b| b.to_json()).collect());
        }
        let mut out = serde_json::to_vec_pretty(&v).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Parses a status file; `None` when it is not one of ours.
    pub fn from_json(data: &[u8]) -> Option<Status> {
        let v: Value = serde_json::from_slice(data).ok()?;
        let int = |k: &str| {
            v.get(k)
                .and_then(Value::as_i64)
                .and_then(|n| i32::try_from(n).ok())
        };
        let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        let job = v.get("job").and_then(|j| {
            let kind = match j.get("kind")?.as_str()? {
                "save" => JobKind::Save,
                "restore" => JobKind::Restore,
                "migration-in" => JobKind::MigrationIn,
                _ => return None,
            };
            Some(JobRecord {
                kind,
                path: PathBuf::from(j.get("path")?.as_str()?),
                managed: j.get("managed").and_then(Value::as_bool).unwrap_or(false),
            })
        });
        Some(Status {
            pid: int("pid")?,
            start_time: v.get("start_time").and_then(Value::as_u64).unwrap_or(0),
            qmp: PathBuf::from(v.get("qmp")?.as_str()?),
            id: int("id")?,
            state: int("state")?,
            reason: int("reason")?,
            xml: v.get("xml")?.as_str()?.to_string(),
            fake_reboot: flag("fake_reboot"),
            autodestroy: flag("autodestroy"),
            job,
            adopted: flag("adopted"),
            blockjobs: v
                .get("blockjobs")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(BlockJobRecord::from_json).collect())
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_and_rejects_garbage() {
        let s = Status {
            pid: 42,
            qmp: "/x/run/a.qmp".into(),
            id: 3,
            state: 1,
            reason: 1,
            xml: "<domain type='kvm'/>".into(),
            fake_reboot: false,
            autodestroy: false,
            start_time: 123456,
            adopted: true,
            job: Some(JobRecord {
                kind: JobKind::Save,
                path: "/x/save/a.save".into(),
                managed: true,
            }),
            blockjobs: vec![BlockJobRecord {
                name: "copy-vda-libvirt-1-format".into(),
                disk: "vda".into(),
                kind: 2,
                state: BlockJobState::Ready,
                flags: 3,
                removed: vec![],
                base: None,
                nodes: vec!["libvirt-2-format".into(), "libvirt-2-storage".into()],
            }],
        };
        assert_eq!(Status::from_json(&s.to_json()), Some(s.clone()));
        let s = Status { job: None, ..s };
        assert_eq!(Status::from_json(&s.to_json()), Some(s));
        // Files of older versions (no start time, no job) still load.
        let old =
            br#"{"pid": 7, "qmp": "/q", "id": 1, "state": 1, "reason": 1, "xml": "<domain/>"}"#;
        let o = Status::from_json(old).expect("old status");
        assert_eq!((o.start_time, o.job), (0, None));
        assert_eq!(Status::from_json(b"{}"), None);
        assert_eq!(Status::from_json(b"\xff"), None);
    }

    #[test]
    fn atomic_write_replaces_whole_files() {
        let dir = std::env::temp_dir().join(format!("oxvirt-qemu-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.xml");
        write_atomic(&p, b"one", true).unwrap();
        write_atomic(&p, b"two", false).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stale_temporaries_are_removed() {
        let root = std::env::temp_dir().join(format!("oxvirt-qemu-stale-{}", std::process::id()));
        let layout = Layout::new(root.clone());
        layout.create().unwrap();
        let keep = [
            layout.config("a"),
            layout.status("a"),
            layout.autostart("a"),
            // A domain named like an old temporary keeps its marker.
            layout.autostart(".b.tmp5"),
            layout.config(".b.tmp5"),
        ];
        for p in &keep {
            std::fs::write(p, "x").unwrap();
        }
        let stale = [
            layout.config_dir().join(".a.xml.tmp12.0"),
            layout.config_dir().join(".c.xml.tmp99"),
            layout.run_dir().join(".a.json.tmp7.3"),
            layout.autostart_dir().join(".d.tmp42"),
            root.join("cache/.qemu-caps.json.tmp1.1"),
        ];
        std::fs::create_dir_all(root.join("cache")).unwrap();
        for p in &stale {
            std::fs::write(p, "partial").unwrap();
        }
        let mut gone = remove_stale_temps(&layout);
        gone.sort();
        let mut want = stale.to_vec();
        want.sort();
        assert_eq!(gone, want);
        for p in &keep {
            assert!(p.exists(), "{} kept", p.display());
        }
        std::fs::remove_dir_all(&root).unwrap();
    }
}
