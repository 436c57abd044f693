//! Snapshot metadata on disk, as libvirt's QEMU driver keeps it:
//! `ROOT/snapshot/DOMAIN/NAME.xml`, one file per snapshot in the
//! internal form (`<active>1</active>` on the current one), written
//! atomically; read back at start into the domain's tree
//! (qemuDomainSnapshotLoad). Nothing here knows a domain object.

use std::path::{Path, PathBuf};

use oxvirt_core::error::from;
use oxvirt_core::moments::SnapshotTree;
use oxvirt_core::types::Uuid;
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::ParseOptions;
use oxvirt_xml::snapshot::{FormatFlags, ParseFlags, Snapshot};

use crate::store::{self, Layout};

/// The directory holding a domain's snapshot files.
pub(crate) fn dir(layout: &Layout, domain: &str) -> PathBuf {
    layout.root.join("snapshot").join(domain)
}

fn file(layout: &Layout, domain: &str, snap: &str) -> PathBuf {
    dir(layout, domain).join(format!("{}.xml", snap))
}

/// Writes one snapshot's metadata (qemuDomainSnapshotWriteMetadata).
pub(crate) fn save(
    layout: &Layout,
    domain: &str,
    uuid: &Uuid,
    def: &Snapshot,
    current: bool,
) -> Result<()> {
    let d = dir(layout, domain);
    std::fs::create_dir_all(&d).map_err(|e| {
        Error::system(
            from::NONE,
            format!("cannot create snapshot directory '{}'", d.display()),
            &e,
        )
    })?;
    let xml = def.format(
        Some(uuid),
        FormatFlags {
            secure: false,
            internal: true,
            current,
        },
    );
    let name = def.name.as_deref().unwrap_or("");
    store::write_atomic(&file(layout, domain, name), xml.as_bytes(), true)
}

/// Removes one snapshot's metadata file.
pub(crate) fn remove(layout: &Layout, domain: &str, snap: &str) -> Result<()> {
    let p = file(layout, domain, snap);
    match std::fs::remove_file(&p) {
        Ok(()) => {
            store::sync_dir(&dir(layout, domain));
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::system(
            from::NONE,
            format!("Failed to unlink snapshot metadata '{}'", p.display()),
            &e,
        )),
    }
}

/// Removes every snapshot file of a domain
/// (qemuDomainSnapshotDiscardAllMetadata).
pub(crate) fn remove_all(layout: &Layout, domain: &str) {
    let d = dir(layout, domain);
    if let Ok(rd) = std::fs::read_dir(&d) {
        for e in rd.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let _ = std::fs::remove_dir(&d);
}

/// Reads a domain's snapshot files into a tree (qemuDomainSnapshotLoad):
/// a file that does not parse is skipped with a warning, as libvirt
/// does; more than one current snapshot, or broken relations, leave no
/// current one. Temporaries of interrupted writes are removed.
pub(crate) fn load(layout: &Layout, domain: &str) -> SnapshotTree {
    let mut tree = SnapshotTree::default();
    let d = dir(layout, domain);
    let Ok(rd) = std::fs::read_dir(&d) else {
        return tree;
    };
    let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    files.sort();
    let opts = ParseOptions {
        default_arch: Some(crate::host::host_arch().into()),
    };
    let mut current: Option<String> = None;
    let mut several = false;
    for p in files {
        let fname = p
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        if oxvirt_host::fsutil::is_temporary(&fname) {
            let _ = std::fs::remove_file(&p);
            continue;
        }
        if p.extension().and_then(|x| x.to_str()) != Some("xml") {
            continue;
        }
        match read_one(&p, &opts) {
            Ok((def, is_current)) => {
                let name = def.name.clone().unwrap_or_default();
                if tree.assign(def).is_err() {
                    continue;
                }
                if is_current {
                    several |= current.is_some();
                    current = Some(name);
                }
            }
            Err(e) => tracing::warn!(
                "Failed to parse snapshot XML from file '{}': {}",
                p.display(),
                e
            ),
        }
    }
    if several {
        tracing::warn!(
            "too many snapshots claiming to be current for domain {}",
            domain
        );
        current = None;
    }
    tree.set_current(current.as_deref());
    if !tree.update_relations() {
        tracing::warn!(
            "Snapshots have inconsistent relations for domain {}",
            domain
        );
    }
    tree
}

fn read_one(p: &Path, opts: &ParseOptions) -> Result<(Snapshot, bool)> {
    let xml = std::fs::read_to_string(p)
        .map_err(|e| Error::system(from::NONE, format!("Failed to read {}", p.display()), &e))?;
    let parsed = Snapshot::parse(
        &xml,
        ParseFlags {
            redefine: true,
            internal: true,
            ..Default::default()
        },
        opts,
    )
    .map_err(|e| Error::from_xml(e, from::DOMAIN_SNAPSHOT))?;
    Ok((parsed.def, parsed.current == Some(true)))
}
