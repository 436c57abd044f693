//! Test scaffolding: temporary roots and loop devices that are removed
//! when the test ends, also when it fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use oxvirt_core::event::{PoolEvent, PoolEventKind};
pub use oxvirt_core::StorageDriver as _;
use oxvirt_secret::SecretDriver;
use oxvirt_storage::StorageDriver;

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "oxvirt-storage-{}-{}-{}",
            tag,
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Unmount anything a failed test left mounted below us.
        if let Ok(m) = std::fs::read_to_string("/proc/mounts") {
            let me = self.0.to_string_lossy().into_owned();
            for line in m.lines() {
                if let Some(dir) = line.split_whitespace().nth(1) {
                    if dir.starts_with(&me) {
                        let _ = Command::new("umount").arg(dir).status();
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loop device over a sparse file, detached on drop.
pub struct Loop {
    pub dev: String,
    pub file: PathBuf,
}

impl Loop {
    pub fn new(dir: &Path, name: &str, size: u64) -> Option<Loop> {
        let file = dir.join(name);
        let f = std::fs::File::create(&file).ok()?;
        f.set_len(size).ok()?;
        drop(f);
        let out = Command::new("losetup")
            .args(["-f", "--show", "-P"])
            .arg(&file)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "losetup failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Some(Loop { dev, file })
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        // Partitions' mounts first, then the device.
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
        let _ = std::fs::remove_file(&self.file);
    }
}

pub fn open(root: &Path) -> Arc<StorageDriver> {
    let secrets = Arc::new(SecretDriver::open(&root.join("secrets")).unwrap());
    StorageDriver::open(&root.join("storage"), Some(secrets)).unwrap()
}

pub fn open_with(root: &Path) -> (Arc<StorageDriver>, Arc<SecretDriver>) {
    let secrets = Arc::new(SecretDriver::open(&root.join("secrets")).unwrap());
    (
        StorageDriver::open(&root.join("storage"), Some(secrets.clone())).unwrap(),
        secrets,
    )
}

/// Records pool events as (pool, kind) strings.
pub fn record(d: &StorageDriver) -> Arc<Mutex<Vec<String>>> {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    for id in 0..2 {
        let s = seen.clone();
        d.pool_event_register(
            None,
            id,
            Arc::new(move |e: &PoolEvent| {
                let k = match e.kind {
                    PoolEventKind::Lifecycle { event, .. } => format!("lifecycle {}", event),
                    PoolEventKind::Refresh => "refresh".to_string(),
                };
                s.lock().unwrap().push(format!("{} {}", e.pool.name, k));
            }),
        )
        .unwrap();
    }
    seen
}

pub fn file_blocks(path: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().blocks()
}

pub fn md5(path: &str) -> String {
    let out = Command::new("md5sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

pub fn qemu_img_info(path: &str) -> String {
    let out = Command::new("qemu-img")
        .args(["info", "-U", path])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
