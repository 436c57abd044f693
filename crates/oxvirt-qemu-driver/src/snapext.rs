//! External disk snapshots (libvirt's qemuSnapshotCreateActiveExternal
//! and qemuSnapshotCreateInactiveExternal): each selected disk gets a new
//! qcow2 overlay over its current image. A running domain's overlays are
//! made by QEMU (`blockdev-add` of the file, a `blockdev-create` job for
//! the qcow2 format with the old image as backing, `blockdev-add` of the
//! format node) and switched to in one `transaction` of
//! `blockdev-snapshot` actions, so either every disk moves or none; a
//! shut-off domain's are made with `qemu-img create`. The definitions
//! (live and persistent) then name the overlay with the old image as its
//! `<backingStore>`.

use oxvirt_core::error::code;
use oxvirt_core::types::DomainRef;
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::{Element, Node};
use oxvirt_xml::domain::{Disk, Domain};
use oxvirt_xml::snapshot::{Location, Snapshot, StorageType};
use std::time::Duration;

use serde_json::{json, Value};

use crate::driver::{Driver, Running};
use crate::monitor::qmp_err;
use crate::FROM;

/// One disk to snapshot: its target, the overlay and its format.
struct Overlay {
    target: String,
    path: String,
    format: String,
}

fn overlays(def: &Snapshot) -> Vec<Overlay> {
    def.disks
        .iter()
        .filter(|d| d.snapshot == Some(Location::External))
        .map(|d| Overlay {
            target: d.name.clone(),
            path: d.path.clone().unwrap_or_default(),
            format: d.format.clone().unwrap_or_else(|| "qcow2".into()),
        })
        .collect()
}

fn disk_format(d: &Disk) -> &str {
    d.extra
        .children
        .iter()
        .find(|c| c.name == "driver")
        .and_then(|c| c.attr("type"))
        .unwrap_or("raw")
}

fn find_disk<'a>(def: &'a mut Domain, target: &str) -> Option<&'a mut Disk> {
    def.devices
        .disks
        .iter_mut()
        .find(|d| d.target_dev.as_deref() == Some(target))
}

/// Whether a disk's definition names a backing image
/// (virStorageSourceHasBacking).
fn has_backing(disk: &Disk) -> bool {
    disk.extra
        .children
        .iter()
        .any(|c| c.name == "backingStore" && c.attr("type").is_some())
}

/// qemuSnapshotDiskUpdateSource: the disk now names the overlay, its old
/// image (read-only from now on) becomes the first `<backingStore>`;
/// with `keep_chain` false (an inactive snapshot of an image the
/// definition gives no backing, or a reused overlay) the old chain is
/// dropped as libvirt drops it.
fn push_overlay(disk: &mut Disk, path: &str, format: &str, keep_chain: bool) {
    let mut backing = Element::new("backingStore");
    backing.set_attr("type", disk.disk_type.as_deref().unwrap_or("file"));
    let mut fmt = Element::new("format");
    fmt.set_attr("type", disk_format(disk));
    backing.children.push(Node::Element(fmt));
    if let Some(src) = &disk.source_el {
        backing.children.push(Node::Element(src.clone()));
    }
    let old = disk
        .extra
        .children
        .iter()
        .position(|c| c.name == "backingStore")
        .map(|i| disk.extra.children.remove(i));
    // The old chain goes below, its terminator (`<backingStore/>`: the
    // image has no backing) included.
    if let Some(old) = old {
        backing.children.push(Node::Element(old));
    }
    match disk.extra.children.iter_mut().find(|c| c.name == "driver") {
        Some(drv) => drv.set_attr("type", format),
        None => {
            let mut drv = Element::new("driver");
            drv.set_attr("name", "qemu");
            drv.set_attr("type", format);
            disk.extra.children.push(drv);
        }
    }
    if keep_chain {
        disk.extra.children.push(backing);
    }
    let mut src = Element::new("source");
    src.set_attr("file", path);
    disk.source_el = Some(src);
    disk.source = Some(path.to_string());
    disk.disk_type = Some("file".into());
}

/// The overlays in a definition: the live one, and the persistent one
/// where its disk still names the same image.
fn apply(
    def: &mut Domain,
    list: &[Overlay],
    only_if_source: Option<&[(String, String)]>,
    inactive_reuse: Option<bool>,
) {
    for o in list {
        let Some(d) = find_disk(def, &o.target) else {
            continue;
        };
        if let Some(sources) = only_if_source {
            let same = sources
                .iter()
                .any(|(t, s)| *t == o.target && d.source.as_deref() == Some(s.as_str()));
            if !same {
                continue;
            }
        }
        let keep = match inactive_reuse {
            None => true,
            Some(reuse) => !reuse && has_backing(d),
        };
        push_overlay(d, &o.path, &o.format, keep);
    }
}

/// Escapes commas for a qemu-img option value.
fn comma_escape(s: &str) -> String {
    s.replace(',', ",,")
}

/// qemuSnapshotPrepare's checks of one external disk target
/// (qemuSnapshotPrepareDiskExternal).
pub(crate) fn prepare_disk(
    sd: &mut oxvirt_xml::snapshot::SnapshotDisk,
    active: bool,
    reuse: bool,
) -> Result<()> {
    match sd.format.as_deref() {
        None => sd.format = Some("qcow2".into()),
        Some("qcow2" | "qed") => {}
        Some(f) => {
            return Err(Error::unsupported_config(
                FROM,
                format!(
                    "external snapshot format for disk {} is unsupported: {}",
                    sd.name, f
                ),
            ))
        }
    }
    if !matches!(sd.src_type, StorageType::File | StorageType::Block) {
        return Err(Error::unsupported_config(
            FROM,
            format!(
                "external {} snapshots are not supported on '{}' disks",
                if active { "active" } else { "inactive" },
                sd.src_type
            ),
        ));
    }
    let path = sd.path.clone().unwrap_or_default();
    match std::fs::metadata(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::system(
            FROM,
            format!("unable to stat for disk {}: {}", sd.name, path),
            &e,
        )),
        Err(e) if reuse => Err(Error::system(
            FROM,
            format!("missing existing file for disk {}: {}", sd.name, path),
            &e,
        )),
        Err(_) if sd.src_type == StorageType::Block => Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            format!("block device snapshot target '{}' doesn't exist", path),
        )),
        Err(_) => Ok(()),
        Ok(m) => {
            use std::os::unix::fs::FileTypeExt;
            let block = m.file_type().is_block_device();
            if (sd.src_type == StorageType::Block && !block)
                || (sd.src_type == StorageType::File && !m.is_file())
            {
                return Err(Error::unsupported_config(
                    FROM,
                    format!(
                        "mismatch between configured type for snapshot disk '{}' and the type of existing file '{}'",
                        sd.name, path
                    ),
                ));
            }
            if !reuse && sd.src_type == StorageType::File && m.len() > 0 {
                return Err(Error::unsupported_config(
                    FROM,
                    format!(
                        "external snapshot file for disk {} already exists and is not a block device: {}",
                        sd.name, path
                    ),
                ));
            }
            Ok(())
        }
    }
}

/// The highest N of QEMU's `libvirt-N-*` node names.
pub(crate) fn max_node_index(nodes: &[Value]) -> u64 {
    nodes
        .iter()
        .filter_map(|n| n.get("node-name").and_then(Value::as_str))
        .filter_map(|n| n.strip_prefix("libvirt-"))
        .filter_map(|n| n.split('-').next())
        .filter_map(|n| n.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}

/// The image file a block node reads: its `file`, or when QEMU spells
/// it as `json:{...}` (an overlay whose header does not name the backing
/// it was given), the filename of its protocol layer.
pub(crate) fn node_file(n: &Value) -> Option<String> {
    let f = n.get("file").and_then(Value::as_str)?;
    let Some(j) = f.strip_prefix("json:") else {
        return Some(f.to_string());
    };
    let v: Value = serde_json::from_str(j).ok()?;
    let mut cur = &v;
    for _ in 0..8 {
        if let Some(name) = cur.get("filename").and_then(Value::as_str) {
            return Some(name.to_string());
        }
        cur = cur.get("file")?;
    }
    None
}

/// The format node QEMU has on top of `path` (writable).
pub(crate) fn top_node<'a>(nodes: &'a [Value], path: &str) -> Option<&'a Value> {
    nodes.iter().find(|n| {
        let drv = n.get("drv").and_then(Value::as_str).unwrap_or("");
        node_file(n).as_deref() == Some(path)
            && !matches!(drv, "file" | "host_device" | "host_cdrom")
            && n.get("ro").and_then(Value::as_bool) != Some(true)
    })
}

impl Driver {
    /// Runs one of QEMU's jobs (snapshot-save, blockdev-create, ...) to
    /// its end and dismisses it; `what` words the failure ("Failed to
    /// take snapshot: ...").
    pub(crate) fn run_block_job(
        &self,
        run: &Running,
        cmd: &str,
        args: Value,
        what: &str,
    ) -> Result<()> {
        let id = args
            .get("job-id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        run.qmp.execute_value(cmd, Some(args)).map_err(qmp_err)?;
        let mut delay = Duration::from_micros(200);
        loop {
            let jobs = run.qmp.execute_value("query-jobs", None).map_err(qmp_err)?;
            let job = jobs
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .find(|j| j.get("id").and_then(Value::as_str) == Some(&id))
                })
                .cloned();
            let Some(job) = job else { return Ok(()) };
            if job.get("status").and_then(Value::as_str) == Some("concluded") {
                let _ = run
                    .qmp
                    .execute_value("job-dismiss", Some(json!({ "id": id })));
                return match job.get("error").and_then(Value::as_str) {
                    Some(e) => Err(Error::operation_failed(FROM, format!("{}: {}", what, e))),
                    None => Ok(()),
                };
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(2));
        }
    }

    /// Disk-only external snapshot of a running domain. The guest keeps
    /// running: the switch is one transaction.
    pub(crate) fn create_active_external(
        &self,
        dom: &DomainRef,
        run: &Running,
        def: &Snapshot,
        reuse: bool,
    ) -> Result<()> {
        let list = overlays(def);
        if list.is_empty() {
            return Ok(());
        }
        let live = self.lock().dom(dom)?.def.clone();
        let nodes = run
            .qmp
            .execute_value("query-named-block-nodes", Some(json!({"flat": true})))
            .map_err(qmp_err)?;
        let nodes = nodes.as_array().cloned().unwrap_or_default();
        let mut next = max_node_index(&nodes) + 1;
        let mut added: Vec<String> = Vec::new();
        let mut created: Vec<String> = Vec::new();
        let mut actions = Vec::new();
        let res = (|| -> Result<()> {
            for o in &list {
                let disk = live
                    .devices
                    .disks
                    .iter()
                    .find(|d| d.target_dev.as_deref() == Some(o.target.as_str()))
                    .ok_or_else(|| {
                        Error::internal(FROM, format!("no disk named '{}'", o.target))
                    })?;
                let old_path = disk.source.clone().unwrap_or_default();
                let top = top_node(&nodes, &old_path).ok_or_else(|| {
                    Error::internal(
                        FROM,
                        format!("cannot find block node of disk '{}'", o.target),
                    )
                })?;
                let top_name = top
                    .get("node-name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let size = top
                    .get("image")
                    .and_then(|i| i.get("virtual-size"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let storage = format!("libvirt-{}-storage", next);
                let format = format!("libvirt-{}-format", next);
                next += 1;
                if !reuse && !std::path::Path::new(&o.path).exists() {
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&o.path)
                        .map_err(|e| {
                            Error::system(
                                FROM,
                                format!("failed to create image file '{}'", o.path),
                                &e,
                            )
                        })?;
                    created.push(o.path.clone());
                }
                run.qmp
                    .execute_value(
                        "blockdev-add",
                        Some(json!({
                            "driver": "file",
                            "filename": o.path,
                            "node-name": storage,
                            "auto-read-only": true,
                            "discard": "unmap",
                        })),
                    )
                    .map_err(qmp_err)?;
                added.push(storage.clone());
                if !reuse {
                    self.run_block_job(
                        run,
                        "blockdev-create",
                        json!({
                            "job-id": format!("create-{}", format),
                            "options": {
                                "driver": o.format,
                                "file": storage,
                                "size": size,
                                "backing-file": old_path,
                                "backing-fmt": disk_format(disk),
                            },
                        }),
                        "blockdev-create job failed",
                    )?;
                }
                run.qmp
                    .execute_value(
                        "blockdev-add",
                        Some(json!({
                            "node-name": format,
                            "read-only": false,
                            "driver": o.format,
                            "file": storage,
                            "backing": null,
                        })),
                    )
                    .map_err(qmp_err)?;
                added.push(format.clone());
                actions.push(json!({
                    "type": "blockdev-snapshot",
                    "data": {"node": top_name, "overlay": format},
                }));
            }
            run.qmp
                .execute_value("transaction", Some(json!({ "actions": actions })))
                .map_err(qmp_err)?;
            Ok(())
        })();
        if let Err(e) = res {
            for n in added.iter().rev() {
                let _ = run
                    .qmp
                    .execute_value("blockdev-del", Some(json!({ "node-name": n })));
            }
            for p in &created {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
        self.update_definitions(dom, &list, None)
    }

    /// Disk-only external snapshot of a shut-off domain: `qemu-img create`
    /// per disk (the files made are removed if one fails).
    pub(crate) fn create_inactive_external(
        &self,
        dom: &DomainRef,
        def: &Snapshot,
        reuse: bool,
    ) -> Result<()> {
        let list = overlays(def);
        let current = self.lock().dom(dom)?.def.clone();
        let mut created: Vec<String> = Vec::new();
        if !reuse {
            for o in &list {
                let Some(disk) = current
                    .devices
                    .disks
                    .iter()
                    .find(|d| d.target_dev.as_deref() == Some(o.target.as_str()))
                else {
                    continue;
                };
                let opt = format!(
                    "backing_fmt={},backing_file={}",
                    disk_format(disk),
                    comma_escape(disk.source.as_deref().unwrap_or(""))
                );
                let existed = std::path::Path::new(&o.path).exists();
                let mut c = oxvirt_host::command::Command::new("qemu-img", FROM);
                c.args(["create", "-f", &o.format, "-o", &opt])
                    .arg(comma_escape(&o.path));
                if let Err(e) = c.run() {
                    for p in &created {
                        let _ = std::fs::remove_file(p);
                    }
                    return Err(e);
                }
                if !existed {
                    created.push(o.path.clone());
                }
            }
        }
        let res = self.update_definitions(dom, &list, Some(reuse));
        if res.is_err() {
            for p in &created {
                let _ = std::fs::remove_file(p);
            }
        }
        res
    }

    /// The definitions after the switch: the running (or only) one, and
    /// for a running persistent domain the persistent one where its disk
    /// still names the same image; saved.
    fn update_definitions(
        &self,
        dom: &DomainRef,
        list: &[Overlay],
        inactive_reuse: Option<bool>,
    ) -> Result<()> {
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        let sources: Vec<(String, String)> = obj
            .def
            .devices
            .disks
            .iter()
            .filter_map(|d| Some((d.target_dev.clone()?, d.source.clone()?)))
            .collect();
        apply(&mut obj.def, list, None, inactive_reuse);
        if let Some(nd) = obj.new_def.as_mut() {
            apply(nd, list, Some(&sources), None);
        }
        if obj.is_active() {
            self.save_status(&obj);
        }
        if obj.persistent {
            let persistent = obj.new_def.clone().unwrap_or_else(|| obj.def.clone());
            self.save_config(&persistent)?;
        }
        Ok(())
    }
}
