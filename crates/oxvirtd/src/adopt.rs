//! The host-wide part of `--adopt-libvirt` and `--release-to-libvirt`:
//! storage pools and secrets, which libvirt 9.0 and oxvirt keep in the
//! same files (the QEMU part is `oxvirt_qemu_driver::adopt`).
//!
//! ```text
//! libvirt                                  oxvirtd (daemon root)
//! /etc/libvirt/storage/NAME.xml            storage/config/NAME.xml
//! /etc/libvirt/storage/autostart/NAME.xml  storage/config/autostart/NAME.xml
//! /run/libvirt/storage/NAME.xml            storage/run/NAME.xml (<poolstate>)
//! /etc/libvirt/secrets/UUID.{xml,base64}   secrets/UUID.{xml,base64}
//! ```
//!
//! Adoption copies what the product's drivers handle (pools of the
//! types it has backends for, every persistent secret) before those
//! drivers open, then renames libvirt's files `*.oxvirt-adopted`; a pool
//! of another type, or a name, UUID or usage already taken here, is
//! reported and left to libvirt. The release writes this root's objects
//! back as libvirt's files, then removes them here. Networks and
//! nwfilters are not adopted yet.

use std::path::{Path, PathBuf};

use oxvirt_core::types::Uuid;
use oxvirt_qemu_driver::adopt::{hidden, hide, xml_entries, LibvirtDirs, Report};
use oxvirt_xml::secret::Secret;
use oxvirt_xml::storage::{Pool, PoolType};

/// The pool types the storage driver has backends for.
fn pool_supported(t: PoolType) -> bool {
    matches!(
        t,
        PoolType::Dir | PoolType::Fs | PoolType::Netfs | PoolType::Logical | PoolType::Disk
    )
}

fn write(path: &Path, data: &[u8]) -> Result<(), String> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {}", d.display(), e))?;
    }
    oxvirt_qemu_driver::store::write_atomic(path, data, true).map_err(|e| e.message)
}

fn link(target: &Path, at: &Path) -> Result<(), String> {
    if std::fs::symlink_metadata(at).is_ok() {
        return Ok(());
    }
    if let Some(d) = at.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {}", d.display(), e))?;
    }
    std::os::unix::fs::symlink(target, at).map_err(|e| format!("{}: {}", at.display(), e))
}

fn remove(p: &Path) -> Result<(), String> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {}", p.display(), e)),
    }
}

fn hide_all(files: &[PathBuf], what: &str, report: &mut Report) {
    for p in files {
        if let Err(e) = hide(p) {
            if e.kind() != std::io::ErrorKind::NotFound {
                report.skip(format!("{}: cannot rename {}: {}", what, p.display(), e));
            }
        }
    }
}

/// The storage files of one side.
struct PoolFiles {
    config: PathBuf,
    autostart: PathBuf,
    state: PathBuf,
}

fn libvirt_pool(dirs: &LibvirtDirs, name: &str) -> PoolFiles {
    PoolFiles {
        config: dirs.etc.join(format!("storage/{}.xml", name)),
        autostart: dirs.etc.join(format!("storage/autostart/{}.xml", name)),
        state: dirs.run.join(format!("storage/{}.xml", name)),
    }
}

fn our_pool(root: &Path, name: &str) -> PoolFiles {
    PoolFiles {
        config: root.join(format!("storage/config/{}.xml", name)),
        autostart: root.join(format!("storage/config/autostart/{}.xml", name)),
        state: root.join(format!("storage/run/{}.xml", name)),
    }
}

/// The pool a file defines (a state file wraps it in `<poolstate>`).
fn read_pool(p: &Path) -> Result<(Pool, String), String> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {}", p.display(), e))?;
    let inner = match text.find("<poolstate") {
        Some(s) => {
            let a = text[s + 10..].find("<pool").map(|a| a + s + 10);
            match (a, text.rfind("</pool>")) {
                (Some(a), Some(b)) if b > a => text[a..b + 7].to_string(),
                _ => return Err(format!("{}: no <pool> in the state", p.display())),
            }
        }
        None => text.clone(),
    };
    let pool = Pool::parse(&inner).map_err(|e| format!("{} does not parse: {}", p.display(), e))?;
    Ok((pool, text))
}

fn pool_uuids(root: &Path) -> Vec<(String, Uuid)> {
    let mut v = Vec::new();
    for dir in ["storage/config", "storage/run"] {
        for (name, p) in xml_entries(&root.join(dir), ".xml") {
            if let Ok((pool, _)) = read_pool(&p) {
                v.push((name, pool.uuid));
            }
        }
    }
    v
}

/// Imports libvirt's storage pools into the daemon root `root`.
pub fn adopt_pools(root: &Path, dirs: &LibvirtDirs, report: &mut Report) {
    let mut names: Vec<String> = Vec::new();
    for dir in [dirs.etc.join("storage"), dirs.run.join("storage")] {
        for (n, _) in xml_entries(&dir, ".xml") {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    names.sort();
    for name in names {
        let what = format!("pool {}", name);
        match adopt_pool(root, dirs, &name) {
            Ok(Some((files, desc))) => {
                report.adopt(format!("{}: {}", what, desc));
                hide_all(&files, &what, report);
            }
            Ok(None) => {}
            Err(why) => report.skip(format!("{}: {}", what, why)),
        }
    }
}

fn adopt_pool(
    root: &Path,
    dirs: &LibvirtDirs,
    name: &str,
) -> Result<Option<(Vec<PathBuf>, String)>, String> {
    let lv = libvirt_pool(dirs, name);
    let ours = our_pool(root, name);
    let config = lv
        .config
        .is_file()
        .then(|| read_pool(&lv.config))
        .transpose()?;
    let state = lv
        .state
        .is_file()
        .then(|| read_pool(&lv.state))
        .transpose()?;
    let Some(def) = config.as_ref().or(state.as_ref()).map(|(p, _)| p) else {
        return Ok(None);
    };
    if !pool_supported(def.kind) {
        return Err(format!("pool type '{}' is not supported here", def.kind));
    }
    for (n, u) in pool_uuids(root) {
        if n == name && u != def.uuid {
            return Err("a different pool of that name exists here".into());
        }
        if n != name && u == def.uuid {
            return Err(format!("its UUID is already pool {}'s here", n));
        }
    }
    let mut moved = Vec::new();
    let mut desc = Vec::new();
    desc.push(if state.is_some() {
        "active"
    } else {
        "inactive"
    });
    if let Some((_, text)) = &config {
        if !ours.config.exists() {
            write(&ours.config, text.as_bytes())?;
        }
        desc.push("persistent");
        if std::fs::symlink_metadata(&lv.autostart).is_ok() {
            link(&ours.config, &ours.autostart)?;
            moved.push(lv.autostart.clone());
            desc.push("autostart");
        }
        moved.push(lv.config.clone());
    }
    if let Some((_, text)) = &state {
        if !ours.state.exists() {
            write(&ours.state, text.as_bytes())?;
        }
        moved.push(lv.state.clone());
    }
    Ok(Some((moved, desc.join(", "))))
}

/// Hands this root's storage pools back as libvirt's files.
pub fn release_pools(root: &Path, dirs: &LibvirtDirs, report: &mut Report) {
    let mut names: Vec<String> = Vec::new();
    for dir in ["storage/config", "storage/run"] {
        for (n, _) in xml_entries(&root.join(dir), ".xml") {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    names.sort();
    for name in names {
        let ours = our_pool(root, &name);
        let lv = libvirt_pool(dirs, &name);
        let r = (|| -> Result<String, String> {
            let mut desc = Vec::new();
            if let Ok(text) = std::fs::read_to_string(&ours.config) {
                write(&lv.config, text.as_bytes())?;
                desc.push("persistent");
                if std::fs::symlink_metadata(&ours.autostart).is_ok() {
                    link(&lv.config, &lv.autostart)?;
                    desc.push("autostart");
                }
            }
            if let Ok(text) = std::fs::read_to_string(&ours.state) {
                write(&lv.state, text.as_bytes())?;
                desc.push("active");
            }
            for p in [
                hidden(&lv.autostart),
                hidden(&lv.config),
                hidden(&lv.state),
                ours.autostart.clone(),
                ours.state.clone(),
                ours.config.clone(),
            ] {
                remove(&p)?;
            }
            Ok(desc.join(", "))
        })();
        match r {
            Ok(d) => report.adopt(format!("pool {}: {}", name, d)),
            Err(e) => report.skip(format!("pool {}: {}", name, e)),
        }
    }
}

/// Imports libvirt's persistent secrets (definitions and values).
pub fn adopt_secrets(root: &Path, dirs: &LibvirtDirs, report: &mut Report) {
    let ours_dir = root.join("secrets");
    let ours: Vec<Secret> = xml_entries(&ours_dir, ".xml")
        .into_iter()
        .filter_map(|(_, p)| std::fs::read_to_string(p).ok())
        .filter_map(|x| Secret::parse(&x).ok())
        .collect();
    for (stem, p) in xml_entries(&dirs.etc.join("secrets"), ".xml") {
        let what = format!("secret {}", stem);
        let r = (|| -> Result<Vec<PathBuf>, String> {
            let text = std::fs::read_to_string(&p).map_err(|e| e.to_string())?;
            let s = Secret::parse(&text).map_err(|e| format!("does not parse: {}", e))?;
            if ours.iter().any(|o| {
                o.uuid != s.uuid
                    && o.usage_type == s.usage_type
                    && o.usage_type != 0
                    && o.usage_id == s.usage_id
            }) {
                return Err("another secret here has the same usage".into());
            }
            let value = p.with_extension("base64");
            let our_xml = ours_dir.join(format!("{}.xml", s.uuid));
            let our_value = ours_dir.join(format!("{}.base64", s.uuid));
            if !our_xml.exists() {
                if let Ok(v) = std::fs::read(&value) {
                    write(&our_value, &v)?;
                }
                write(&our_xml, text.as_bytes())?;
            }
            Ok(vec![value, p.clone()])
        })();
        match r {
            Ok(files) => {
                report.adopt(what.clone());
                hide_all(&files, &what, report);
            }
            Err(e) => report.skip(format!("{}: {}", what, e)),
        }
    }
}

/// Hands this root's secrets back as libvirt's files.
pub fn release_secrets(root: &Path, dirs: &LibvirtDirs, report: &mut Report) {
    let ours_dir = root.join("secrets");
    for (stem, p) in xml_entries(&ours_dir, ".xml") {
        let lv_xml = dirs.etc.join(format!("secrets/{}.xml", stem));
        let lv_value = lv_xml.with_extension("base64");
        let our_value = p.with_extension("base64");
        let r = (|| -> Result<(), String> {
            if let Ok(v) = std::fs::read(&our_value) {
                write(&lv_value, &v)?;
            }
            let text = std::fs::read_to_string(&p).map_err(|e| e.to_string())?;
            write(&lv_xml, text.as_bytes())?;
            for f in [
                hidden(&lv_xml),
                hidden(&lv_value),
                our_value.clone(),
                p.clone(),
            ] {
                remove(&f)?;
            }
            Ok(())
        })();
        match r {
            Ok(()) => report.adopt(format!("secret {}", stem)),
            Err(e) => report.skip(format!("secret {}: {}", stem, e)),
        }
    }
}
