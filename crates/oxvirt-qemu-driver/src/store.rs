//! The driver's files under its root directory.
//!
//! ```text
//! ROOT/config/NAME.xml        persistent definitions (atomic writes)
//! ROOT/config/autostart/NAME  marks an autostarted domain
//! ROOT/run/NAME.json          status of a running domain
//! ROOT/run/NAME.qmp           its QMP socket
//! ROOT/save/NAME.save         managed save images
//! ROOT/log/NAME.log           QEMU's output, one log per domain
//! ```

use std::path::{Path, PathBuf};

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

/// Writes `data` to `path` atomically (see `oxvirt_host::write_atomic`).
pub fn write_atomic(path: &Path, data: &[u8], durable: bool) -> Result<()> {
    oxvirt_host::write_atomic(path, data, durable, FROM)
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

/// What the run/ status file of a running domain records.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub pid: i32,
    pub qmp: PathBuf,
    pub id: i32,
    pub state: i32,
    pub reason: i32,
    /// The live definition.
    pub xml: String,
    pub fake_reboot: bool,
    /// Started with `--autodestroy` by a client connection.
    pub autodestroy: bool,
}

impl Status {
    pub fn to_json(&self) -> Vec<u8> {
        let v = json!({
            "pid": self.pid,
            "qmp": self.qmp.to_string_lossy(),
            "id": self.id,
            "state": self.state,
            "reason": self.reason,
            "fake_reboot": self.fake_reboot,
            "autodestroy": self.autodestroy,
            "xml": self.xml,
        });
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
        Some(Status {
            pid: int("pid")?,
            qmp: PathBuf::from(v.get("qmp")?.as_str()?),
            id: int("id")?,
            state: int("state")?,
            reason: int("reason")?,
            xml: v.get("xml")?.as_str()?.to_string(),
            fake_reboot: v
                .get("fake_reboot")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            autodestroy: v
                .get("autodestroy")
                .and_then(Value::as_bool)
                .unwrap_or(false),
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
        };
        assert_eq!(Status::from_json(&s.to_json()), Some(s));
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
}
