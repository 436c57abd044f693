//! The driver's files under its root directory.
//!
//! ```text
//! ROOT/config/NAME.xml               persistent definitions (atomic writes)
//! ROOT/config/autostart/NAME.xml     symlink: the network autostarts
//! ROOT/run/NAME.xml                  status of an active network
//!                                    (<networkstatus> with the live definition)
//! ROOT/run/ports/NAME/UUID.xml       its ports
//! ROOT/dnsmasq/NAME.{conf,hostsfile,addnhosts,leases,pid}
//! ```

use std::path::{Path, PathBuf};

use oxvirt_core::{Error, Result};

use crate::FROM;

/// Paths of one driver instance.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn config_dir(&self) -> PathBuf {
        self.root.join("config")
    }
    pub fn autostart_dir(&self) -> PathBuf {
        self.root.join("config/autostart")
    }
    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }
    pub fn dnsmasq_dir(&self) -> PathBuf {
        self.root.join("dnsmasq")
    }
    pub fn config(&self, name: &str) -> PathBuf {
        self.config_dir().join(format!("{}.xml", name))
    }
    pub fn autostart(&self, name: &str) -> PathBuf {
        self.autostart_dir().join(format!("{}.xml", name))
    }
    pub fn status(&self, name: &str) -> PathBuf {
        self.run_dir().join(format!("{}.xml", name))
    }
    pub fn ports_dir(&self, name: &str) -> PathBuf {
        self.run_dir().join("ports").join(name)
    }

    pub fn create(&self) -> Result<()> {
        for d in [
            self.config_dir(),
            self.autostart_dir(),
            self.run_dir(),
            self.run_dir().join("ports"),
            self.dnsmasq_dir(),
        ] {
            std::fs::create_dir_all(&d).map_err(|e| {
                Error::system(FROM, format!("cannot create directory {}", d.display()), &e)
            })?;
        }
        Ok(())
    }
}

/// Writes a state file atomically and durably (oxvirt-host).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    oxvirt_host::write_atomic(path, data, true, FROM)
}

/// Removes a file, ignoring "not found" (and other failures: what is
/// removed here is never needed again).
pub fn remove(path: &Path) {
    let _ = oxvirt_host::fsutil::remove_file(path, FROM);
}

/// The `*.xml` files of a directory, sorted.
pub fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "xml") && p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
