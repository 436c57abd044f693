//! Block jobs (libvirt's qemu_blockjob.c and the block job APIs of
//! qemu_driver.c): virDomainBlockCopy and virDomainBlockRebase's copy
//! (`blockdev-mirror` into a target node made here), virDomainBlockPull
//! and BlockRebase (`block-stream`), virDomainBlockCommit, active and
//! not (`block-commit`), virDomainGetBlockJobInfo, BlockJobAbort (cancel,
//! or pivot with `job-complete`) and BlockJobSetSpeed.
//!
//! A job is registered on the domain (`QemuDomain::blockjobs`, kept in the
//! status file) before QEMU starts it. QEMU's `JOB_STATUS_CHANGE` events
//! drive it: `ready` marks the disk's `<mirror>` ready, `concluded` makes
//! the change in the live definition (and, where it still names the same
//! chain, the persistent one), removes the nodes that left the graph and
//! emits libvirt's two block-job events. A daemon restarted while a job
//! runs finds its record in the status file and catches up with
//! `query-jobs` (qemuBlockJobRefreshJobs).

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use oxvirt_core::error::code;
use oxvirt_core::event::{DomainEvent, DomainEventKind};
use oxvirt_core::types::{BlockJobInfo, DomainRef, TypedParam, TypedValue, Uuid};
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::{Element, Node};
use oxvirt_xml::domain::devices::Disk;
use oxvirt_xml::domain::Domain;
use serde_json::{json, Value};

use crate::driver::{check_flags, lock, DomainObj, Driver, Running};
use crate::monitor::qmp_err;
use crate::store::{BlockJobRecord, BlockJobState};
use crate::FROM;

/// VIR_DOMAIN_BLOCK_JOB_TYPE_*
pub(crate) mod kind {
    pub const PULL: i32 = 1;
    pub const COPY: i32 = 2;
    pub const COMMIT: i32 = 3;
    pub const ACTIVE_COMMIT: i32 = 4;
}

/// virConnectDomainEventBlockJobStatus
mod status {
    pub const COMPLETED: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const CANCELLED: i32 = 2;
    pub const READY: i32 = 3;
}

/// VIR_DOMAIN_BLOCK_JOB_ABORT_*
const ABORT_ASYNC: u32 = 1;
const ABORT_PIVOT: u32 = 2;
/// VIR_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES, _SPEED_BANDWIDTH_BYTES
const JOB_BYTES: u32 = 1;
/// VIR_DOMAIN_BLOCK_PULL_BANDWIDTH_BYTES
const PULL_BYTES: u32 = 1 << 6;
use oxvirt_core::types::flags::block_rebase as rebase;
/// VIR_DOMAIN_BLOCK_COPY_*
mod copyf {
    pub const SHALLOW: u32 = 1;
    pub const REUSE_EXT: u32 = 2;
    pub const TRANSIENT_JOB: u32 = 4;
    pub const SYNCHRONOUS_WRITES: u32 = 8;
}
/// VIR_DOMAIN_BLOCK_COMMIT_*
mod commitf {
    pub const SHALLOW: u32 = 1;
    pub const DELETE: u32 = 2;
    pub const ACTIVE: u32 = 4;
    pub const RELATIVE: u32 = 8;
    pub const BYTES: u32 = 16;
}

const LLONG_MAX: u64 = i64::MAX as u64;

/// Signalled whenever a block job of any domain changes state, for APIs
/// waiting for their job to end.
static CHANGED: Mutex<u64> = Mutex::new(0);
static CHANGED_CV: Condvar = Condvar::new();

fn notify() {
    let mut g = lock(&CHANGED);
    *g += 1;
    CHANGED_CV.notify_all();
}

/// qemuBlockjobTypeToString
fn type_name(k: i32) -> &'static str {
    match k {
        kind::PULL => "pull",
        kind::COPY => "copy",
        kind::COMMIT => "commit",
        kind::ACTIVE_COMMIT => "active-commit",
        _ => "none",
    }
}

// ---- backing chains in the definition ---------------------------------------

/// One image of a disk's chain (libvirt's virStorageSource).
#[derive(Debug, Clone)]
struct Layer {
    stype: String,
    format: String,
    source: Option<Element>,
    index: Option<String>,
}

impl Layer {
    fn path(&self) -> &str {
        self.source
            .as_ref()
            .and_then(|s| s.attr("file").or_else(|| s.attr("dev")))
            .unwrap_or("")
    }
    fn file(path: &str, format: &str, stype: &str) -> Layer {
        let mut src = Element::new("source");
        src.set_attr(if stype == "block" { "dev" } else { "file" }, path);
        Layer {
            stype: stype.to_string(),
            format: format.to_string(),
            source: Some(src),
            index: None,
        }
    }
    fn local(&self) -> bool {
        matches!(self.stype.as_str(), "file" | "block") && !self.path().is_empty()
    }
}

/// The `<backingStore>` chain below an element: its images and whether
/// it ends in a terminator (`<backingStore/>`: nothing below).
fn backing_layers(first: Option<&Element>) -> (Vec<Layer>, bool) {
    let mut out = Vec::new();
    let mut cur = first;
    while let Some(b) = cur {
        if b.attr("type").is_none() && b.child("source").is_none() {
            return (out, true);
        }
        out.push(Layer {
            stype: b.attr("type").unwrap_or("file").to_string(),
            format: b
                .child("format")
                .and_then(|f| f.attr("type"))
                .unwrap_or("raw")
                .to_string(),
            source: b.child("source").map(|s| {
                let mut s = s.clone();
                s.attrs.retain(|a| a.name != "index");
                s
            }),
            index: b.attr("index").map(str::to_string),
        });
        cur = b.child("backingStore");
    }
    (out, false)
}

/// A disk's images, top first, and whether the chain is terminated.
fn layers(d: &Disk) -> (Vec<Layer>, bool) {
    let format = d
        .extra
        .children
        .iter()
        .find(|c| c.name == "driver")
        .and_then(|c| c.attr("type"))
        .unwrap_or("raw")
        .to_string();
    let top = Layer {
        stype: d.disk_type.clone().unwrap_or_else(|| "file".into()),
        format,
        source: d.source_el.as_ref().map(|s| {
            let mut s = s.clone();
            s.attrs.retain(|a| a.name != "index");
            s
        }),
        index: d
            .source_el
            .as_ref()
            .and_then(|s| s.attr("index"))
            .map(str::to_string),
    };
    let (mut rest, term) =
        backing_layers(d.extra.children.iter().find(|c| c.name == "backingStore"));
    rest.insert(0, top);
    (rest, term)
}

/// The `<backingStore>` element for `below` (None: nothing known).
fn backing_element(below: &[Layer], term: bool, with_index: bool) -> Option<Element> {
    let mut inner = term.then(|| Element::new("backingStore"));
    for l in below.iter().rev() {
        let mut b = Element::new("backingStore");
        b.set_attr("type", l.stype.as_str());
        if let (true, Some(i)) = (with_index, &l.index) {
            b.set_attr("index", i.as_str());
        }
        let mut f = Element::new("format");
        f.set_attr("type", l.format.as_str());
        b.children.push(Node::Element(f));
        if let Some(s) = &l.source {
            b.children.push(Node::Element(s.clone()));
        }
        if let Some(i) = inner.take() {
            b.children.push(Node::Element(i));
        }
        inner = Some(b);
    }
    inner
}

fn source_element(l: &Layer, with_index: bool) -> Option<Element> {
    let mut s = l.source.clone()?;
    if let (true, Some(i)) = (with_index, &l.index) {
        s.set_attr("index", i.as_str());
    }
    Some(s)
}

/// Makes `l` (top first) the disk's chain.
fn set_layers(d: &mut Disk, l: &[Layer], term: bool, with_index: bool) {
    let Some(top) = l.first() else { return };
    d.extra.children.retain(|c| c.name != "backingStore");
    if let Some(b) = backing_element(&l[1..], term, with_index) {
        d.extra.children.push(b);
    }
    match d.extra.children.iter_mut().find(|c| c.name == "driver") {
        Some(drv) => drv.set_attr("type", top.format.as_str()),
        None => {
            let mut drv = Element::new("driver");
            drv.set_attr("name", "qemu");
            drv.set_attr("type", top.format.as_str());
            d.extra.children.push(drv);
        }
    }
    d.source_el = source_element(top, with_index);
    d.source = Some(top.path().to_string());
    d.disk_type = Some(top.stype.clone());
}

/// The `<mirror>` of a copy or an active commit
/// (virDomainDiskDefFormatMirror).
fn mirror_element(l: &[Layer], term: bool, job: i32) -> Element {
    let mut m = Element::new("mirror");
    let Some(top) = l.first() else { return m };
    m.set_attr("type", top.stype.as_str());
    if top.stype == "file" && job == kind::COPY {
        m.set_attr("file", top.path());
        m.set_attr("format", top.format.as_str());
    }
    m.set_attr("job", type_name(job));
    let mut f = Element::new("format");
    f.set_attr("type", top.format.as_str());
    m.children.push(Node::Element(f));
    if let Some(s) = source_element(top, true) {
        m.children.push(Node::Element(s));
    }
    if let Some(b) = backing_element(&l[1..], term, true) {
        m.children.push(Node::Element(b));
    }
    m
}

fn mirror_layers(m: &Element) -> (Vec<Layer>, bool) {
    let src = m.child("source");
    let top = Layer {
        stype: m.attr("type").unwrap_or("file").to_string(),
        format: m
            .child("format")
            .and_then(|f| f.attr("type"))
            .or_else(|| m.attr("format"))
            .unwrap_or("raw")
            .to_string(),
        source: src.map(|s| {
            let mut s = s.clone();
            s.attrs.retain(|a| a.name != "index");
            s
        }),
        index: src.and_then(|s| s.attr("index")).map(str::to_string),
    };
    let (mut rest, term) = backing_layers(m.child("backingStore"));
    rest.insert(0, top);
    (rest, term)
}

fn disk_mut<'a>(def: &'a mut Domain, target: &str) -> Option<&'a mut Disk> {
    def.devices
        .disks
        .iter_mut()
        .find(|d| d.target_dev.as_deref() == Some(target))
}

fn set_mirror_state(d: &mut Disk, state: Option<&str>) {
    if let Some(m) = d.extra.children.iter_mut().find(|c| c.name == "mirror") {
        m.attrs.retain(|a| a.name != "ready");
        if let Some(s) = state {
            m.set_attr("ready", s);
        }
    }
}

fn take_mirror(d: &mut Disk) -> Option<Element> {
    let i = d.extra.children.iter().position(|c| c.name == "mirror")?;
    Some(d.extra.children.remove(i))
}

/// qemuDomainDiskByName: a target, or a source path.
fn disk_index(def: &Domain, name: &str) -> Result<usize> {
    def.devices
        .disks
        .iter()
        .position(|d| d.target_dev.as_deref() == Some(name))
        .or_else(|| {
            def.devices
                .disks
                .iter()
                .position(|d| d.source.as_deref() == Some(name))
        })
        .ok_or_else(|| Error::invalid_arg(FROM, format!("disk '{}' not found in domain", name)))
}

/// virStorageSourceChainLookup: the image `name` (a path or `vda[N]`)
/// below `start_from`, or without a name the bottom of the chain.
fn chain_lookup(
    l: &[Layer],
    start_from: Option<usize>,
    name: Option<&str>,
    target: &str,
) -> Result<usize> {
    let mut idx: Option<String> = None;
    if let Some(n) = name {
        if let Some((t, rest)) = n.split_once('[') {
            if let Some(i) = rest.strip_suffix(']').filter(|i| i.parse::<u32>().is_ok()) {
                if i != "0" && t != target {
                    return Err(Error::invalid_arg(
                        FROM,
                        format!(
                            "requested target '{}' does not match target '{}'",
                            t, target
                        ),
                    ));
                }
                idx = Some(i.to_string());
            }
        }
    }
    let begin = start_from.map(|s| s + 1).unwrap_or(0);
    for (i, layer) in l.iter().enumerate().skip(begin) {
        let found = match (&idx, name) {
            (Some(x), _) if x != "0" => layer.index.as_deref() == Some(x.as_str()),
            (_, None) => i + 1 == l.len(),
            (_, Some(n)) => layer.path() == n,
        };
        if found {
            return Ok(i);
        }
    }
    Err(Error::invalid_arg(
        FROM,
        match (&idx, name) {
            (Some(x), _) if x != "0" => format!(
                "could not find backing store index '{}' in chain for '{}'",
                x, target
            ),
            (_, Some(n)) => match start_from {
                Some(s) => format!(
                    "could not find image '{}' beneath '{}' in chain for '{}'",
                    n,
                    l.get(s).map(Layer::path).unwrap_or(""),
                    target
                ),
                None => format!("could not find image '{}' in chain for '{}'", n, target),
            },
            _ => format!("could not find base image in chain for '{}'", target),
        },
    ))
}

// ---- QEMU's nodes ---------------------------------------------------------------

fn named_nodes(run: &Running) -> Result<Vec<Value>> {
    let v = run
        .qmp
        .execute_value("query-named-block-nodes", Some(json!({"flat": true})))
        .map_err(qmp_err)?;
    Ok(v.as_array().cloned().unwrap_or_default())
}

/// The format node QEMU has for the image `path`.
fn format_node(nodes: &[Value], path: &str) -> Option<String> {
    nodes
        .iter()
        .filter(|n| {
            let drv = n.get("drv").and_then(Value::as_str).unwrap_or("");
            crate::snapext::node_file(n).as_deref() == Some(path)
                && !matches!(drv, "file" | "host_device" | "host_cdrom" | "copy-on-read")
        })
        .filter_map(|n| n.get("node-name").and_then(Value::as_str))
        .min_by_key(|n| !n.starts_with("libvirt-"))
        .map(str::to_string)
}

/// The node a disk's device reads, from `query-block`.
fn device_node(run: &Running, def: &Domain, i: usize) -> Result<String> {
    crate::blockinfo::inserted_node(run, def, i).map_err(|alias| {
        Error::internal(FROM, format!("cannot find block node of disk '{}'", alias))
    })
}

fn node_of(nodes: &[Value], l: &Layer, target: &str) -> Result<String> {
    format_node(nodes, l.path()).ok_or_else(|| {
        Error::internal(
            FROM,
            format!(
                "failed to find block node of image '{}' of disk '{}'",
                l.path(),
                target
            ),
        )
    })
}

/// The nodes of an image QEMU opened for us: its format node and the
/// protocol node below it, top first.
fn image_nodes(nodes: &[Value], path: &str) -> Vec<String> {
    let Some(f) = format_node(nodes, path) else {
        return Vec::new();
    };
    let mut out = vec![f.clone()];
    if let Some(s) = f.strip_suffix("-format") {
        out.push(format!("{}-storage", s));
    }
    out
}

fn blockdev_del(run: &Running, names: &[String]) {
    for n in names {
        let _ = run
            .qmp
            .execute_value("blockdev-del", Some(json!({ "node-name": n })));
    }
}

/// The backing file and its format a qcow2 image's header names.
fn qcow2_backing(path: &str) -> Option<(String, Option<String>)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = [0u8; 104];
    f.read_exact(&mut h[..72]).ok()?;
    if &h[0..4] != b"QFI\xfb" {
        return None;
    }
    let be64 = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
    let be32 = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap_or([0; 4]));
    let version = be32(&h[4..8]);
    let off = be64(&h[8..16]);
    let size = be32(&h[16..20]) as usize;
    if off == 0 || size == 0 || size > 4096 {
        return None;
    }
    let hlen = if version >= 3 {
        f.read_exact(&mut h[72..104]).ok()?;
        be32(&h[100..104]) as u64
    } else {
        72
    };
    // Header extensions: the backing format is 0xE2792ACA.
    let mut fmt = None;
    f.seek(SeekFrom::Start(hlen)).ok()?;
    for _ in 0..64 {
        let mut e = [0u8; 8];
        if f.read_exact(&mut e).is_err() {
            break;
        }
        let (t, len) = (be32(&e[0..4]), be32(&e[4..8]) as usize);
        if t == 0 || len > 65536 {
            break;
        }
        let mut data = vec![0u8; len.div_ceil(8) * 8];
        if f.read_exact(&mut data).is_err() {
            break;
        }
        if t == 0xE279_2ACA {
            fmt = Some(String::from_utf8_lossy(&data[..len]).into_owned());
        }
    }
    f.seek(SeekFrom::Start(off)).ok()?;
    let mut name = vec![0u8; size];
    f.read_exact(&mut name).ok()?;
    let name = String::from_utf8_lossy(&name).into_owned();
    let name = if name.starts_with('/') {
        name
    } else {
        let dir = std::path::Path::new(path).parent()?;
        dir.join(name).to_string_lossy().into_owned()
    };
    Some((name, fmt))
}

/// The format an existing image has (virStorageFileProbeFormat, for the
/// formats a copy target can have).
fn probe_format(path: &str) -> String {
    use std::io::Read;
    let mut h = [0u8; 4];
    let ok = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut h))
        .is_ok();
    if ok && &h == b"QFI\xfb" {
        "qcow2".into()
    } else {
        "raw".into()
    }
}

fn bandwidth_bytes(bandwidth: u64, bytes: bool) -> Result<u64> {
    if bytes {
        return Ok(bandwidth);
    }
    if bandwidth > LLONG_MAX >> 20 {
        return Err(Error::new(
            code::OVERFLOW,
            FROM,
            format!("bandwidth must be less than {}", LLONG_MAX >> 20),
        ));
    }
    Ok(bandwidth << 20)
}

/// qemuBlockJobEmitEvents: BLOCK_JOB (local images only, with the disk's
/// source) and BLOCK_JOB_2 (the target).
fn job_events(dom: &DomainRef, d: &Disk, job_type: i32, st: i32) -> Vec<DomainEvent> {
    let mut out = Vec::new();
    let (l, _) = layers(d);
    if let Some(top) = l.first().filter(|t| t.local()) {
        out.push(DomainEvent {
            dom: dom.clone(),
            kind: DomainEventKind::BlockJob {
                path: top.path().to_string(),
                job_type,
                status: st,
            },
        });
    }
    out.push(DomainEvent {
        dom: dom.clone(),
        kind: DomainEventKind::BlockJob2 {
            dst: d.target_dev.clone().unwrap_or_default(),
            job_type,
            status: st,
        },
    });
    out
}

/// How a concluded job changes the persistent definition.
#[derive(Clone, Copy, PartialEq)]
enum ConfigUpdate {
    /// qemuBlockJobGetConfigDisk, else qemuBlockJobClearConfigChain.
    SameChain,
    /// qemuBlockJobGetConfigDisk, else qemuBlockJobRewriteConfigDiskSource.
    Rewrite,
}

/// Brings the persistent disk `target` in step with a live chain that
/// went from `old` to `new`: where its chain is the live one (down to
/// `bottom`, or whole), it becomes the new one.
fn update_config(
    obj: &mut DomainObj,
    target: &str,
    old: &[Layer],
    bottom: Option<usize>,
    new: &[Layer],
    term: bool,
    how: ConfigUpdate,
) -> bool {
    let Some(nd) = obj.new_def.as_mut() else {
        return false;
    };
    let Some(cd) = disk_mut(nd, target) else {
        return false;
    };
    let (cl, cterm) = layers(cd);
    let n = bottom.map(|b| b + 1).unwrap_or(old.len());
    let same = cl.len() >= n
        && old.len() >= n
        && cl[..n]
            .iter()
            .zip(&old[..n])
            .all(|(a, b)| a.path() == b.path())
        && (bottom.is_some() || (cl.len() == old.len()));
    if same {
        // Whatever the config had below the bottom stays below.
        let mut l = new.to_vec();
        let mut t = term;
        if bottom.is_some()
            && cl.len() > n
            && new.last().map(Layer::path) == cl.get(n - 1).map(Layer::path)
        {
            l.extend_from_slice(&cl[n..]);
            t = cterm;
        }
        for x in l.iter_mut() {
            x.index = None;
        }
        set_layers(cd, &l, t, false);
        return true;
    }
    if cl.first().map(Layer::path) != old.first().map(Layer::path) {
        return false;
    }
    match how {
        ConfigUpdate::SameChain => {
            cd.extra.children.retain(|c| c.name != "backingStore");
        }
        ConfigUpdate::Rewrite => {
            let mut l = new.to_vec();
            for x in l.iter_mut() {
                x.index = None;
            }
            set_layers(cd, &l, term, false);
        }
    }
    true
}

/// What a concluded job leaves to do once the state lock is released.
struct Ended {
    del_nodes: Vec<String>,
    del_files: Vec<String>,
    events: Vec<DomainEvent>,
}

impl Driver {
    /// The running QEMU and a copy of the live definition, the job held.
    fn block_active(&self, dom: &DomainRef) -> Result<(Arc<Running>, Domain, bool)> {
        let st = self.lock();
        let obj = st.dom(dom)?;
        obj.check_active()?;
        let run = obj
            .run
            .clone()
            .ok_or_else(|| Error::operation_invalid(FROM, "domain is not running"))?;
        Ok((run, obj.def.clone(), obj.persistent))
    }

    /// qemuDomainDiskBlockJobIsActive and qemuDomainDiskBlockJobIsSupported.
    fn check_disk_free(&self, dom: &DomainRef, d: &Disk) -> Result<()> {
        let target = d.target_dev.clone().unwrap_or_default();
        if d.extra.children.iter().any(|c| c.name == "mirror") {
            return Err(Error::new(
                code::BLOCK_COPY_ACTIVE,
                FROM,
                format!("disk '{}' already in active block job", target),
            ));
        }
        let busy = self
            .lock()
            .dom(dom)?
            .blockjobs
            .iter()
            .any(|j| j.disk == target);
        if busy {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                format!("disk '{}' already in active block job", target),
            ));
        }
        if d.target_bus.as_deref() == Some("sd") {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                format!(
                    "block jobs are not supported on disk '{}' using bus 'sd'",
                    target
                ),
            ));
        }
        if d.extra.children.iter().any(|c| c.name == "transient") {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                format!(
                    "block jobs are not supported on transient disk '{}'",
                    target
                ),
            ));
        }
        if d.disk_type.as_deref() == Some("vhostuser") {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                format!(
                    "block jobs are not supported on vhostuser disk '{}'",
                    target
                ),
            ));
        }
        Ok(())
    }

    /// Registers `job` and, for a copy or an active commit, the disk's
    /// `<mirror>` (qemuBlockJobDiskNew*, before QEMU starts the job so
    /// that its first event finds it).
    fn register(
        &self,
        dom: &DomainRef,
        job: BlockJobRecord,
        mirror: Option<Element>,
    ) -> Result<()> {
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        if let Some(m) = mirror {
            if let Some(d) = disk_mut(&mut obj.def, &job.disk) {
                d.extra.children.retain(|c| c.name != "mirror");
                d.extra.children.push(m);
            }
        }
        obj.blockjobs.push(job);
        Ok(())
    }

    /// Forgets a job QEMU refused to start.
    fn unregister(&self, dom: &DomainRef, name: &str, disk: &str) {
        let mut st = self.lock();
        if let Ok(mut obj) = st.dom_mut(dom) {
            obj.blockjobs.retain(|j| j.name != name);
            if let Some(d) = disk_mut(&mut obj.def, disk) {
                take_mirror(d);
            }
        };
    }

    /// qemuBlockJobStarted: the job is on record.
    fn started(&self, dom: &DomainRef) {
        let st = self.lock();
        if let Ok(obj) = st.dom(dom) {
            self.save_status(obj);
        }
    }

    /// virDomainGetBlockJobInfo (qemuDomainGetBlockJobInfo). A read: it
    /// waits for no job.
    pub(crate) fn get_block_job_info(
        &self,
        dom: &DomainRef,
        path: &str,
        flags: u32,
    ) -> Result<Option<BlockJobInfo>> {
        check_flags(flags, JOB_BYTES, "qemuDomainGetBlockJobInfo")?;
        let (run, job) = {
            let st = self.read(dom)?;
            let obj = st.dom(dom)?;
            obj.check_active()?;
            let run = obj
                .run
                .clone()
                .ok_or_else(|| Error::operation_invalid(FROM, "domain is not running"))?;
            let i = disk_index(&obj.def, path)?;
            let target = obj.def.devices.disks[i]
                .target_dev
                .clone()
                .unwrap_or_default();
            let job = obj.blockjobs.iter().find(|j| j.disk == target).cloned();
            (run, job)
        };
        let Some(job) = job else { return Ok(None) };
        let list = run
            .qmp
            .execute_value("query-block-jobs", None)
            .map_err(qmp_err)?;
        let raw = list.as_array().and_then(|a| {
            a.iter()
                .find(|j| j.get("device").and_then(Value::as_str) == Some(job.name.as_str()))
        });
        let mut info = BlockJobInfo {
            job_type: job.kind,
            bandwidth: 0,
            cur: 0,
            end: 1,
        };
        let Some(raw) = raw else {
            return Ok(Some(info));
        };
        let num = |k: &str| raw.get(k).and_then(Value::as_u64).unwrap_or(0);
        info.cur = num("offset");
        info.end = num("len");
        let ready = raw.get("ready").and_then(Value::as_bool);
        if info.cur == 0 && info.end == 0 {
            if let Some(r) = ready {
                info.end = 1;
                if r {
                    info.cur = 1;
                }
            }
        }
        if ready == Some(false) && info.cur == info.end && info.cur > 0 {
            info.cur -= 1;
        }
        let mut bw = num("speed");
        if bw != 0 && flags & JOB_BYTES == 0 {
            bw = bw.div_ceil(1024 * 1024);
        }
        info.bandwidth = bw;
        Ok(Some(info))
    }

    /// virDomainBlockJobSetSpeed (qemuDomainBlockJobSetSpeed).
    pub(crate) fn block_job_set_speed(
        &self,
        dom: &DomainRef,
        path: &str,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, JOB_BYTES, "qemuDomainBlockJobSetSpeed")?;
        let speed = bandwidth_bytes(bandwidth, flags & JOB_BYTES != 0)?;
        let _job = self.begin_job(dom)?;
        let (run, def, _) = self.block_active(dom)?;
        let i = disk_index(&def, path)?;
        let target = def.devices.disks[i].target_dev.clone().unwrap_or_default();
        let job = self.job_of(dom, &target)?;
        run.qmp
            .execute_value(
                "block-job-set-speed",
                Some(json!({"device": job.name, "speed": speed})),
            )
            .map_err(qmp_err)?;
        Ok(())
    }

    fn job_of(&self, dom: &DomainRef, target: &str) -> Result<BlockJobRecord> {
        self.lock()
            .dom(dom)?
            .blockjobs
            .iter()
            .find(|j| j.disk == target)
            .cloned()
            .ok_or_else(|| {
                Error::invalid_arg(
                    FROM,
                    format!("disk {} does not have an active block job", target),
                )
            })
    }

    /// virDomainBlockJobAbort (qemuDomainBlockJobAbort): cancels the job,
    /// or with VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT switches a ready copy or
    /// active commit over (qemuBlockPivot); waits for the end unless
    /// VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC.
    pub(crate) fn block_job_abort(&self, dom: &DomainRef, path: &str, flags: u32) -> Result<()> {
        check_flags(flags, ABORT_ASYNC | ABORT_PIVOT, "qemuDomainBlockJobAbort")?;
        let pivot = flags & ABORT_PIVOT != 0;
        let _job = self.begin_job(dom)?;
        let (run, def, _) = self.block_active(dom)?;
        let i = disk_index(&def, path)?;
        let target = def.devices.disks[i].target_dev.clone().unwrap_or_default();
        let job = self.job_of(dom, &target)?;
        if matches!(job.state, BlockJobState::Aborting | BlockJobState::Pivoting) {
            return Err(Error::operation_invalid(
                FROM,
                format!("block job on disk '{}' is still being ended", target),
            ));
        }
        if pivot {
            if job.state != BlockJobState::Ready {
                return Err(Error::new(
                    code::BLOCK_COPY_ACTIVE,
                    FROM,
                    format!("block job '{}' not ready for pivot yet", job.name),
                ));
            }
            if !matches!(job.kind, kind::COPY | kind::ACTIVE_COMMIT) {
                return Err(Error::operation_invalid(
                    FROM,
                    format!("job type '{}' does not support pivot", type_name(job.kind)),
                ));
            }
        }
        // The new state is set before QEMU is asked: the job's end may
        // reach the event thread before the command's reply.
        let set_state = |state: BlockJobState, mirror: Option<&str>| -> Result<()> {
            let mut st = self.lock();
            let mut obj = st.dom_mut(dom)?;
            if let Some(j) = obj.blockjobs.iter_mut().find(|j| j.name == job.name) {
                j.state = state;
            }
            if let Some(d) = disk_mut(&mut obj.def, &target) {
                set_mirror_state(d, mirror);
            }
            self.save_status(&obj);
            Ok(())
        };
        let (state, mirror) = if pivot {
            (BlockJobState::Pivoting, "pivot")
        } else {
            (BlockJobState::Aborting, "abort")
        };
        set_state(state, Some(mirror))?;
        let res = if pivot {
            run.qmp
                .execute_value("job-complete", Some(json!({"id": job.name})))
        } else {
            run.qmp.execute_value(
                "block-job-cancel",
                Some(json!({"device": job.name, "force": false})),
            )
        };
        if let Err(e) = res {
            let was = (job.state == BlockJobState::Ready).then_some("yes");
            let _ = set_state(job.state, was);
            return Err(qmp_err(e));
        }
        if flags & ABORT_ASYNC != 0 {
            return Ok(());
        }
        let end = self.wait_job_end(dom, &run, &job.name);
        if pivot {
            if let Some((st, err)) = end {
                if st == status::FAILED {
                    return Err(Error::operation_failed(
                        FROM,
                        match err {
                            Some(e) => {
                                format!("block job '{}' failed while pivoting: {}", job.name, e)
                            }
                            None => format!("block job '{}' failed while pivoting", job.name),
                        },
                    ));
                }
            }
        }
        Ok(())
    }

    /// Waits until the job `name` has ended (or the domain stopped): how
    /// it ended, when known.
    fn wait_job_end(
        &self,
        dom: &DomainRef,
        run: &Running,
        name: &str,
    ) -> Option<(i32, Option<String>)> {
        let mut g = lock(&CHANGED);
        loop {
            {
                let st = self.lock();
                let obj = st.dom(dom).ok()?;
                if obj.run.as_ref().map(|r| r.gen) != Some(run.gen) {
                    return None;
                }
                if !obj.blockjobs.iter().any(|j| j.name == name) {
                    return obj
                        .blockjob_ends
                        .iter()
                        .rev()
                        .find(|e| e.0 == name)
                        .map(|e| (e.1, e.2.clone()));
                }
            }
            g = CHANGED_CV
                .wait_timeout(g, Duration::from_millis(200))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// virDomainBlockPull.
    pub(crate) fn block_pull(
        &self,
        dom: &DomainRef,
        path: &str,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, PULL_BYTES, "qemuDomainBlockPull")?;
        self.pull_common(dom, path, None, bandwidth, flags)
    }

    /// virDomainBlockRebase (qemuDomainBlockRebase): a pull, or with
    /// VIR_DOMAIN_BLOCK_REBASE_COPY a copy into the file `base`.
    pub(crate) fn block_rebase(
        &self,
        dom: &DomainRef,
        path: &str,
        base: Option<&str>,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        use rebase::*;
        check_flags(
            flags,
            SHALLOW | REUSE_EXT | COPY | COPY_RAW | RELATIVE | COPY_DEV | BANDWIDTH_BYTES,
            "qemuDomainBlockRebase",
        )?;
        if flags & COPY == 0 {
            return self.pull_common(dom, path, base, bandwidth, flags);
        }
        let speed = bandwidth_bytes(bandwidth, flags & BANDWIDTH_BYTES != 0)?;
        if flags & RELATIVE != 0 {
            return Err(Error::argument_unsupported(
                FROM,
                "Relative backing during copy not supported yet",
            ));
        }
        let dest = Target {
            stype: if flags & COPY_DEV != 0 {
                "block"
            } else {
                "file"
            }
            .into(),
            path: base.unwrap_or("").to_string(),
            format: (flags & COPY_RAW != 0).then(|| "raw".to_string()),
        };
        self.copy_common(dom, path, dest, speed, 0, 0, flags & (SHALLOW | REUSE_EXT))
    }

    /// virDomainBlockCopy (qemuDomainBlockCopy).
    pub(crate) fn block_copy(
        &self,
        dom: &DomainRef,
        path: &str,
        destxml: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        use copyf::*;
        check_flags(
            flags,
            SHALLOW | REUSE_EXT | TRANSIENT_JOB | SYNCHRONOUS_WRITES,
            "qemuDomainBlockCopy",
        )?;
        let (mut bw, mut gran, mut buf) = (0u64, 0u32, 0u64);
        for p in params {
            match (p.field.as_str(), &p.value) {
                ("bandwidth", TypedValue::ULLong(v)) => bw = *v,
                ("granularity", TypedValue::UInt(v)) => {
                    if !v.is_power_of_two() {
                        return Err(Error::invalid_arg(FROM, "granularity must be power of 2"));
                    }
                    gran = *v;
                }
                ("buf-size", TypedValue::ULLong(v)) => buf = *v,
                (f @ ("bandwidth" | "granularity" | "buf-size"), _) => {
                    return Err(Error::invalid_arg(
                        FROM,
                        format!("invalid type for parameter '{}'", f),
                    ))
                }
                (f, _) => {
                    return Err(Error::new(
                        code::INVALID_ARG,
                        FROM,
                        format!("parameter '{}' not supported", f),
                    ))
                }
            }
        }
        let el = oxvirt_xml::dom::parse(destxml, "(disk_definition)")
            .map_err(|e| Error::new(code::XML_ERROR, FROM, e.to_string()))?;
        let stype = el.attr("type").unwrap_or("file").to_string();
        let path_of = el
            .child("source")
            .and_then(|s| s.attr("file").or_else(|| s.attr("dev")))
            .unwrap_or("")
            .to_string();
        let format = el
            .child("driver")
            .and_then(|d| d.attr("type"))
            .map(str::to_string);
        let dest = Target {
            stype,
            path: path_of,
            format,
        };
        self.copy_common(dom, path, dest, bw, gran, buf, flags)
    }

    /// qemuDomainBlockPullCommon
    fn pull_common(
        &self,
        dom: &DomainRef,
        path: &str,
        base: Option<&str>,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        if flags & rebase::RELATIVE != 0 && base.is_none() {
            return Err(Error::invalid_arg(
                FROM,
                "flag VIR_DOMAIN_BLOCK_REBASE_RELATIVE is valid only with non-null base",
            ));
        }
        let _job = self.begin_job(dom)?;
        let (run, def, _) = self.block_active(dom)?;
        let i = disk_index(&def, path)?;
        let disk = &def.devices.disks[i];
        let target = disk.target_dev.clone().unwrap_or_default();
        self.check_disk_free(dom, disk)?;
        let (l, _) = layers(disk);
        let base_idx = match base {
            Some(b) => Some(chain_lookup(&l, Some(0), Some(b), &target)?),
            None => None,
        };
        if flags & rebase::RELATIVE != 0 {
            return Err(Error::operation_invalid(
                FROM,
                "can't keep relative backing relationship",
            ));
        }
        let speed = bandwidth_bytes(bandwidth, flags & PULL_BYTES != 0)?;
        let nodes = named_nodes(&run)?;
        let top = node_of(&nodes, &l[0], &target)?;
        let name = format!("pull-{}-{}", target, top);
        let mut args = json!({
            "device": top,
            "job-id": name,
            "auto-finalize": true,
            "auto-dismiss": false,
        });
        if speed != 0 {
            args["speed"] = json!(speed);
        }
        if let Some(b) = base_idx {
            args["base-node"] = json!(node_of(&nodes, &l[b], &target)?);
            args["backing-file"] = json!(l[b].path());
        }
        let end = base_idx.unwrap_or(l.len());
        let job = BlockJobRecord {
            name: name.clone(),
            disk: target.clone(),
            kind: kind::PULL,
            state: BlockJobState::Running,
            flags,
            removed: l[1..end].iter().map(|x| x.path().to_string()).collect(),
            base: base_idx.map(|b| l[b].path().to_string()),
            nodes: Vec::new(),
        };
        self.register(dom, job, None)?;
        if let Err(e) = run.qmp.execute_value("block-stream", Some(args)) {
            self.unregister(dom, &name, &target);
            return Err(qmp_err(e));
        }
        self.started(dom);
        Ok(())
    }

    /// qemuDomainBlockCommit and qemuBlockCommit.
    pub(crate) fn block_commit(
        &self,
        dom: &DomainRef,
        path: &str,
        base: Option<&str>,
        top: Option<&str>,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        use commitf::*;
        check_flags(
            flags,
            SHALLOW | ACTIVE | RELATIVE | DELETE | BYTES,
            "qemuDomainBlockCommit",
        )?;
        let _job = self.begin_job(dom)?;
        let speed = bandwidth_bytes(bandwidth, flags & BYTES != 0)?;
        let def = self.lock().dom(dom)?.def.clone();
        let i = disk_index(&def, path)?;
        let disk = &def.devices.disks[i];
        let target = disk.target_dev.clone().unwrap_or_default();
        let (l, term) = layers(disk);
        let top_idx = match top {
            None => 0,
            Some(t) if t == target => 0,
            Some(t) => chain_lookup(&l, None, Some(t), &target)?,
        };
        let base_idx = if base.is_none() && flags & SHALLOW != 0 {
            top_idx + 1
        } else {
            chain_lookup(&l, Some(top_idx), base, &target)?
        };
        let (run, _, _) = self.block_active(dom)?;
        self.check_disk_free(dom, disk)?;
        if disk.source.as_deref().unwrap_or("").is_empty() {
            return Err(Error::unsupported_config(
                FROM,
                format!("disk {} has no source file to be committed", target),
            ));
        }
        if top_idx == 0 {
            if flags & ACTIVE == 0 {
                return Err(Error::invalid_arg(
                    FROM,
                    format!("commit of '{}' active layer requires active flag", target),
                ));
            }
        } else if flags & ACTIVE != 0 {
            return Err(Error::invalid_arg(
                FROM,
                format!(
                    "active commit requested but '{}' is not active",
                    l[top_idx].path()
                ),
            ));
        }
        if top_idx + 1 >= l.len() {
            return Err(Error::invalid_arg(
                FROM,
                format!(
                    "top '{}' in chain for '{}' has no backing file",
                    l[top_idx].path(),
                    l[0].path()
                ),
            ));
        }
        if flags & SHALLOW != 0 && base_idx != top_idx + 1 {
            return Err(Error::invalid_arg(
                FROM,
                format!(
                    "base '{}' is not immediately below '{}' in chain for '{}'",
                    l.get(base_idx).map(Layer::path).unwrap_or(""),
                    l[top_idx].path(),
                    l[0].path()
                ),
            ));
        }
        if flags & RELATIVE != 0 && top_idx != 0 {
            return Err(Error::operation_invalid(
                FROM,
                "can't keep relative backing relationship",
            ));
        }
        let nodes = named_nodes(&run)?;
        let top_node = node_of(&nodes, &l[top_idx], &target)?;
        let base_node = node_of(&nodes, &l[base_idx], &target)?;
        let device = device_node(&run, &def, i)?;
        let name = format!("commit-{}-{}", target, top_node);
        let mut args = json!({
            "device": device,
            "job-id": name,
            "top-node": top_node,
            "base-node": base_node,
            "auto-finalize": true,
            "auto-dismiss": false,
        });
        if speed != 0 {
            args["speed"] = json!(speed);
        }
        if top_idx > 0 {
            args["backing-file"] = json!(l[base_idx].path());
        }
        let active = top_idx == 0;
        let job = BlockJobRecord {
            name: name.clone(),
            disk: target.clone(),
            kind: if active {
                kind::ACTIVE_COMMIT
            } else {
                kind::COMMIT
            },
            state: BlockJobState::Running,
            flags,
            removed: l[top_idx..base_idx]
                .iter()
                .map(|x| x.path().to_string())
                .collect(),
            base: Some(l[base_idx].path().to_string()),
            nodes: Vec::new(),
        };
        let mirror = active.then(|| {
            let _ = term;
            mirror_element(&l[base_idx..base_idx + 1], false, kind::ACTIVE_COMMIT)
        });
        self.register(dom, job, mirror)?;
        if let Err(e) = run.qmp.execute_value("block-commit", Some(args)) {
            self.unregister(dom, &name, &target);
            return Err(qmp_err(e));
        }
        self.started(dom);
        Ok(())
    }

    /// qemuDomainBlockCopyCommon: `bandwidth` in bytes/s.
    #[allow(clippy::too_many_arguments)]
    fn copy_common(
        &self,
        dom: &DomainRef,
        path: &str,
        dest: Target,
        bandwidth: u64,
        granularity: u32,
        buf_size: u64,
        flags: u32,
    ) -> Result<()> {
        use copyf::*;
        check_flags(
            flags,
            SHALLOW | REUSE_EXT | TRANSIENT_JOB | SYNCHRONOUS_WRITES,
            "qemuDomainBlockCopyCommon",
        )?;
        let reuse = flags & REUSE_EXT != 0;
        let mut shallow = flags & SHALLOW != 0;
        if !dest.path.starts_with('/') {
            return Err(Error::invalid_arg(
                FROM,
                "absolute path must be used as block copy target",
            ));
        }
        if bandwidth > LLONG_MAX {
            return Err(Error::invalid_arg(
                FROM,
                format!(
                    "bandwidth must be less than '{}' bytes/s ({} MiB/s)",
                    LLONG_MAX,
                    LLONG_MAX >> 20
                ),
            ));
        }
        let _job = self.begin_job(dom)?;
        let (run, def, persistent) = self.block_active(dom)?;
        let i = disk_index(&def, path)?;
        let disk = &def.devices.disks[i];
        let target = disk.target_dev.clone().unwrap_or_default();
        self.check_disk_free(dom, disk)?;
        if flags & TRANSIENT_JOB == 0 && persistent {
            return Err(Error::operation_invalid(FROM, "domain is not transient"));
        }
        let (l, term) = layers(disk);
        if l.len() == 1 {
            shallow = false;
        }
        let mut existing = reuse;
        if shallow && !existing && dest.format.as_deref() == Some("raw") {
            return Err(Error::unsupported_config(
                FROM,
                format!(
                    "shallow copy of disk '{}' into a raw file is not possible",
                    target
                ),
            ));
        }
        // qemuDomainBlockCopyValidateMirror
        match std::fs::metadata(&dest.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::system(
                    FROM,
                    "unable to verify existence of block copy target",
                    &e,
                ))
            }
            Err(e) => {
                if existing || dest.stype == "block" {
                    return Err(Error::system(
                        FROM,
                        format!(
                            "missing destination file for disk {}: {}",
                            target, dest.path
                        ),
                        &e,
                    ));
                }
            }
            Ok(m) => {
                use std::os::unix::fs::FileTypeExt;
                if m.file_type().is_block_device() {
                    existing = true;
                } else {
                    if m.len() > 0 && !existing {
                        return Err(Error::unsupported_config(
                            FROM,
                            format!(
                                "external destination file for disk {} already exists and is not a block device: {}",
                                target, dest.path
                            ),
                        ));
                    }
                    if dest.stype == "block" {
                        return Err(Error::invalid_arg(
                            FROM,
                            format!(
                                "blockdev flag requested for disk {}, but file '{}' is not a block device",
                                target, dest.path
                            ),
                        ));
                    }
                }
            }
        }
        let format = match &dest.format {
            Some(f) => f.clone(),
            None if !reuse => l[0].format.clone(),
            None => probe_format(&dest.path),
        };
        let mut created = false;
        if !existing {
            if let Err(e) = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&dest.path)
            {
                return Err(Error::system(FROM, "failed to create copy target", &e));
            }
            created = true;
        }
        let nodes = named_nodes(&run)?;
        let top = node_of(&nodes, &l[0], &target)?;
        let device = device_node(&run, &def, i)?;
        let n = crate::snapext::max_node_index(&nodes) + 1;
        let storage = format!("libvirt-{}-storage", n);
        let fmt_node = format!("libvirt-{}-format", n);
        let mut added: Vec<String> = Vec::new();
        // The target's chain in the definition and the backing its
        // format node gets.
        let mut chain = vec![Layer::file(&dest.path, &format, &dest.stype)];
        let mut chain_term = true;
        let mut backing = Value::Null;
        if shallow && !reuse {
            chain.extend_from_slice(&l[1..]);
            chain_term = term;
            backing = json!(node_of(&nodes, &l[1], &target)?);
        } else if shallow && format == "qcow2" {
            if let Some((bpath, bfmt)) = qcow2_backing(&dest.path) {
                match l.iter().position(|x| x.path() == bpath) {
                    Some(k) => {
                        chain.extend_from_slice(&l[k..]);
                        chain_term = term;
                        backing = json!(node_of(&nodes, &l[k], &target)?);
                    }
                    None => {
                        chain.push(Layer::file(
                            &bpath,
                            bfmt.as_deref().unwrap_or("raw"),
                            "file",
                        ));
                        chain_term = false;
                        backing = Value::Null;
                    }
                }
            }
        }
        let res = (|| -> Result<()> {
            let driver = if dest.stype == "block" {
                "host_device"
            } else {
                "file"
            };
            run.qmp
                .execute_value(
                    "blockdev-add",
                    Some(json!({
                        "driver": driver,
                        "filename": dest.path,
                        "node-name": storage,
                        "auto-read-only": true,
                        "discard": "unmap",
                    })),
                )
                .map_err(qmp_err)?;
            added.push(storage.clone());
            if !existing {
                let size = nodes
                    .iter()
                    .find(|x| x.get("node-name").and_then(Value::as_str) == Some(top.as_str()))
                    .and_then(|x| x.get("image"))
                    .and_then(|i| i.get("virtual-size"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let mut opts = json!({
                    "driver": format,
                    "file": storage,
                    "size": size,
                });
                if format == "raw" {
                    opts = json!({"driver": "raw", "file": storage, "size": size});
                } else if shallow {
                    opts["backing-file"] = json!(l[1].path());
                    opts["backing-fmt"] = json!(l[1].format);
                }
                if format != "raw" {
                    self.run_block_job(
                        &run,
                        "blockdev-create",
                        json!({
                            "job-id": format!("create-{}", fmt_node),
                            "options": opts,
                        }),
                        "blockdev-create job failed",
                    )?;
                }
            }
            let mut props = json!({
                "node-name": fmt_node,
                "read-only": false,
                "driver": format,
                "file": storage,
            });
            if format != "raw" && !(reuse && shallow && backing.is_null() && !chain_term) {
                props["backing"] = backing.clone();
            }
            run.qmp
                .execute_value("blockdev-add", Some(props))
                .map_err(qmp_err)?;
            added.push(fmt_node.clone());
            Ok(())
        })();
        let fail = |e: Error, added: &[String]| {
            let mut rev = added.to_vec();
            rev.reverse();
            blockdev_del(&run, &rev);
            if created {
                let _ = std::fs::remove_file(&dest.path);
            }
            e
        };
        if let Err(e) = res {
            return Err(fail(e, &added));
        }
        let name = format!("copy-{}-{}", target, top);
        let mut args = json!({
            "job-id": name,
            "device": device,
            "target": fmt_node,
            "sync": if shallow { "top" } else { "full" },
            "auto-finalize": true,
            "auto-dismiss": false,
        });
        if bandwidth != 0 {
            args["speed"] = json!(bandwidth);
        }
        if granularity != 0 {
            args["granularity"] = json!(granularity);
        }
        if buf_size != 0 {
            args["buf-size"] = json!(buf_size);
        }
        if flags & SYNCHRONOUS_WRITES != 0 {
            args["copy-mode"] = json!("write-blocking");
        }
        let mut rev = added.clone();
        rev.reverse();
        let job = BlockJobRecord {
            name: name.clone(),
            disk: target.clone(),
            kind: kind::COPY,
            state: BlockJobState::Running,
            flags,
            removed: Vec::new(),
            base: None,
            nodes: rev,
        };
        self.register(
            dom,
            job,
            Some(mirror_element(&chain, chain_term, kind::COPY)),
        )?;
        if let Err(e) = run.qmp.execute_value("blockdev-mirror", Some(args)) {
            self.unregister(dom, &name, &target);
            return Err(fail(qmp_err(e), &added));
        }
        self.started(dom);
        Ok(())
    }

    /// A QEMU job changed state (qemuProcessHandleJobStatusChange).
    pub(crate) fn on_job_status(&self, uuid: &Uuid, run: &Arc<Running>, id: &str, st: &str) {
        match st {
            "ready" => self.job_ready(uuid, run, id),
            "concluded" => {
                let err = self.job_error(run, id);
                self.job_concluded(uuid, run, id, err);
            }
            _ => {}
        }
    }

    /// QEMU's error for a concluded job, and the job dismissed.
    fn job_error(&self, run: &Running, id: &str) -> Option<String> {
        let jobs = run.qmp.execute_value("query-jobs", None).ok()?;
        let err = jobs.as_array().and_then(|a| {
            a.iter()
                .find(|j| j.get("id").and_then(Value::as_str) == Some(id))
                .and_then(|j| j.get("error").and_then(Value::as_str).map(str::to_string))
        });
        err
    }

    fn job_ready(&self, uuid: &Uuid, run: &Arc<Running>, id: &str) {
        let events = {
            let mut st = self.lock();
            let Some(mut obj) = st.by_uuid_mut(uuid) else {
                return;
            };
            if obj.run.as_ref().map(|r| r.gen) != Some(run.gen) {
                return;
            }
            let h = obj.handle();
            let Some(j) = obj.blockjobs.iter_mut().find(|j| j.name == id) else {
                return;
            };
            if j.state != BlockJobState::Running {
                return;
            }
            j.state = BlockJobState::Ready;
            let (target, k) = (j.disk.clone(), j.kind);
            let mut events = Vec::new();
            if let Some(d) = disk_mut(&mut obj.def, &target) {
                set_mirror_state(d, Some("yes"));
                events = job_events(&h, d, k, status::READY);
            }
            self.save_status(&obj);
            events
        };
        notify();
        self.emit(events);
    }

    /// qemuBlockJobEventProcessConcluded: the job's end applied.
    fn job_concluded(&self, uuid: &Uuid, run: &Arc<Running>, id: &str, err: Option<String>) {
        let _ = run
            .qmp
            .execute_value("job-dismiss", Some(json!({ "id": id })));
        let ended = {
            let mut st = self.lock();
            let Some(mut obj) = st.by_uuid_mut(uuid) else {
                return;
            };
            if obj.run.as_ref().map(|r| r.gen) != Some(run.gen) {
                return;
            }
            let Some(pos) = obj.blockjobs.iter().position(|j| j.name == id) else {
                return;
            };
            let job = obj.blockjobs.remove(pos);
            let mut st_new = if err.is_some() {
                status::FAILED
            } else {
                status::COMPLETED
            };
            if job.state == BlockJobState::Aborting {
                st_new = status::CANCELLED;
            }
            let ended = self.apply_end(&mut obj, &job, st_new);
            obj.blockjob_ends
                .push((job.name.clone(), st_new, err.clone()));
            if obj.blockjob_ends.len() > 16 {
                obj.blockjob_ends.remove(0);
            }
            self.save_status(&obj);
            if obj.persistent {
                if let Some(nd) = obj.new_def.clone() {
                    if let Err(e) = self.save_config(&nd) {
                        tracing::warn!("cannot save the definition of {}: {}", nd.name, e);
                    }
                }
            }
            ended
        };
        blockdev_del(run, &ended.del_nodes);
        for f in &ended.del_files {
            if let Err(e) = std::fs::remove_file(f) {
                tracing::warn!("Unable to remove snapshot image file '{}' ({})", f, e);
            }
        }
        notify();
        self.emit(ended.events);
    }

    /// qemuBlockJobEventProcessConcludedTransition: the definitions
    /// after the job, and what to remove.
    fn apply_end(&self, obj: &mut DomainObj, job: &BlockJobRecord, st: i32) -> Ended {
        let h = obj.handle();
        let mut out = Ended {
            del_nodes: Vec::new(),
            del_files: Vec::new(),
            events: Vec::new(),
        };
        let nodes = obj
            .run
            .clone()
            .and_then(|r| named_nodes(&r).ok())
            .unwrap_or_default();
        let Some(d) = disk_mut(&mut obj.def, &job.disk) else {
            return out;
        };
        let (old, term) = layers(d);
        let success = st == status::COMPLETED;
        let mut config: Option<(Vec<Layer>, bool, Option<usize>, ConfigUpdate)> = None;
        match job.kind {
            kind::PULL | kind::COMMIT if success => {
                let keep = |x: &Layer| !job.removed.iter().any(|r| r == x.path());
                let new: Vec<Layer> = old.iter().filter(|x| keep(x)).cloned().collect();
                let new_term = if job.base.is_none() { true } else { term };
                for p in &job.removed {
                    out.del_nodes.extend(image_nodes(&nodes, p));
                }
                if job.kind == kind::COMMIT && job.flags & commitf::DELETE != 0 {
                    out.del_files.extend(job.removed.iter().cloned());
                }
                set_layers(d, &new, new_term, true);
                let bottom = job
                    .base
                    .as_ref()
                    .and_then(|b| old.iter().position(|x| x.path() == b));
                config = Some((new, new_term, bottom, ConfigUpdate::SameChain));
            }
            kind::ACTIVE_COMMIT => {
                take_mirror(d);
                if success {
                    let b = job
                        .base
                        .as_ref()
                        .and_then(|b| old.iter().position(|x| x.path() == b))
                        .unwrap_or(old.len().saturating_sub(1));
                    let new = old[b..].to_vec();
                    for p in &job.removed {
                        out.del_nodes.extend(image_nodes(&nodes, p));
                    }
                    if job.flags & commitf::DELETE != 0 {
                        out.del_files.extend(job.removed.iter().cloned());
                    }
                    set_layers(d, &new, term, true);
                    config = Some((new, term, Some(b), ConfigUpdate::Rewrite));
                }
            }
            kind::COPY => {
                let m = take_mirror(d);
                if success && job.state == BlockJobState::Pivoting {
                    if let Some(m) = m {
                        let (new, new_term) = mirror_layers(&m);
                        for x in old
                            .iter()
                            .filter(|x| !new.iter().any(|n| n.path() == x.path()))
                        {
                            out.del_nodes.extend(image_nodes(&nodes, x.path()));
                        }
                        set_layers(d, &new, new_term, true);
                        config = Some((new, new_term, None, ConfigUpdate::Rewrite));
                    }
                } else {
                    out.del_nodes.extend(job.nodes.iter().cloned());
                }
            }
            _ => {}
        }
        out.events = job_events(&h, d, job.kind, st);
        if let Some((new, t, bottom, how)) = config {
            let bottom = if how == ConfigUpdate::Rewrite && job.kind == kind::COPY {
                None
            } else {
                bottom
            };
            update_config(obj, &job.disk, &old, bottom, &new, t, how);
        }
        out
    }

    /// qemuBlockJobRefreshJobs: after a restart, the jobs of the status
    /// file against QEMU's; ends and readiness missed are applied.
    pub(crate) fn refresh_block_jobs(&self, uuid: &Uuid, run: &Arc<Running>) {
        let Ok(list) = run.qmp.execute_value("query-jobs", None) else {
            return;
        };
        let mine: Vec<BlockJobRecord> = {
            let st = self.lock();
            match st.doms.by_uuid(uuid) {
                Some(o) => o.blockjobs.clone(),
                None => return,
            }
        };
        let empty = Vec::new();
        let qjobs = list.as_array().unwrap_or(&empty);
        for j in mine {
            let q = qjobs
                .iter()
                .find(|x| x.get("id").and_then(Value::as_str) == Some(j.name.as_str()));
            match q.and_then(|x| x.get("status")).and_then(Value::as_str) {
                None => {
                    tracing::warn!("dropping blockjob '{}' untracked by qemu", j.name);
                    let mut st = self.lock();
                    if let Some(mut obj) = st.by_uuid_mut(uuid) {
                        obj.blockjobs.retain(|x| x.name != j.name);
                        if let Some(d) = disk_mut(&mut obj.def, &j.disk) {
                            take_mirror(d);
                        }
                        self.save_status(&obj);
                    };
                }
                Some("ready") => self.job_ready(uuid, run, &j.name),
                Some("concluded") => {
                    let err = q
                        .and_then(|x| x.get("error"))
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    self.job_concluded(uuid, run, &j.name, err);
                }
                Some(_) => {}
            }
        }
    }
}

/// libvirt's index of an image (`src->id`): the N of the libvirt-N-*
/// nodes QEMU has for it (numbered as libvirt numbers them).
fn image_id(nodes: &[Value], path: &str) -> Option<u32> {
    format_node(nodes, path)?
        .strip_prefix("libvirt-")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

impl Driver {
    /// virDomainSetBlockThreshold (qemuDomainSetBlockThreshold): QMP
    /// `block-set-write-threshold` on the storage node of the disk's
    /// image `dev` names (`vda`, or `vda[N]` for the image of index N).
    pub(crate) fn set_block_threshold(
        &self,
        dom: &DomainRef,
        dev: &str,
        threshold: u64,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, 0, "qemuDomainSetBlockThreshold")?;
        let _job = self.begin_job(dom)?;
        let (run, def, _) = self.block_active(dom)?;
        let (target, idx) = match dev.split_once('[') {
            None => (dev, 0),
            Some((t, rest)) => match rest.strip_suffix(']').and_then(|i| i.parse::<u32>().ok()) {
                Some(i) => (t, i),
                None => {
                    return Err(Error::invalid_arg(
                        FROM,
                        format!("failed to parse block device '{}'", dev),
                    ))
                }
            },
        };
        let disk = def
            .devices
            .disks
            .iter()
            .find(|d| d.target_dev.as_deref() == Some(target))
            .ok_or_else(|| Error::invalid_arg(FROM, format!("failed to find disk '{}'", target)))?;
        let nodes = named_nodes(&run)?;
        let (l, _) = layers(disk);
        let layer = if idx == 0 {
            l.first()
        } else {
            l.iter().find(|x| image_id(&nodes, x.path()) == Some(idx))
        }
        .ok_or_else(|| Error::invalid_arg(FROM, format!("failed to find disk '{}'", dev)))?;
        if disk.disk_type.as_deref() == Some("vhostuser") {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                "setting device threshold is not supported for vhostuser disk",
            ));
        }
        let storage = image_nodes(&nodes, layer.path())
            .pop()
            .filter(|n| n.ends_with("-storage"))
            .ok_or_else(|| {
                Error::internal(FROM, format!("cannot find block node of disk '{}'", dev))
            })?;
        run.qmp
            .execute_value(
                "block-set-write-threshold",
                Some(json!({"node-name": storage, "write-threshold": threshold})),
            )
            .map_err(qmp_err)?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        obj.threshold_indexed.retain(|n| *n != storage);
        if dev.contains('[') {
            obj.threshold_indexed.push(storage);
        }
        Ok(())
    }

    /// QEMU's BLOCK_WRITE_THRESHOLD (qemuProcessHandleBlockThreshold):
    /// the event for the disk (its top image, unless the threshold was
    /// set by index) and for the image by its index.
    pub(crate) fn on_block_threshold(
        &self,
        uuid: &Uuid,
        run: &Arc<Running>,
        node: &str,
        threshold: u64,
        excess: u64,
    ) {
        let Ok(nodes) = named_nodes(run) else { return };
        let events = {
            let mut st = self.lock();
            let Some(mut obj) = st.by_uuid_mut(uuid) else {
                return;
            };
            if obj.run.as_ref().map(|r| r.gen) != Some(run.gen) {
                return;
            }
            let h = obj.handle();
            let indexed = obj.threshold_indexed.iter().any(|n| n == node);
            obj.threshold_indexed.retain(|n| n != node);
            let mut events = Vec::new();
            for d in &obj.def.devices.disks {
                let (l, _) = layers(d);
                let target = d.target_dev.clone().unwrap_or_default();
                for (k, x) in l.iter().enumerate() {
                    if image_nodes(&nodes, x.path()).last().map(String::as_str) != Some(node) {
                        continue;
                    }
                    let path = x.local().then(|| x.path().to_string());
                    let ev = |dev: String| DomainEvent {
                        dom: h.clone(),
                        kind: DomainEventKind::BlockThreshold {
                            dev,
                            path: path.clone(),
                            threshold,
                            excess,
                        },
                    };
                    if k == 0 && !indexed {
                        events.push(ev(target.clone()));
                    }
                    if let Some(id) = image_id(&nodes, x.path()) {
                        events.push(ev(format!("{}[{}]", target, id)));
                    }
                }
            }
            events
        };
        self.emit(events);
    }
}

/// A copy's destination.
struct Target {
    stype: String,
    path: String,
    format: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(xml: &str) -> Disk {
        let el = oxvirt_xml::dom::parse(xml, "disk").expect("xml");
        Disk::parse(&el, Default::default()).expect("disk")
    }

    #[test]
    fn chains_read_and_write_back() {
        let mut d = disk(
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
<source file='/i/top'/><backingStore type='file'><format type='qcow2'/>\
<source file='/i/mid'/><backingStore type='file'><format type='raw'/>\
<source file='/i/base'/><backingStore/></backingStore></backingStore>\
<target dev='vda' bus='virtio'/></disk>",
        );
        let (l, term) = layers(&d);
        let paths: Vec<&str> = l.iter().map(Layer::path).collect();
        assert_eq!(paths, ["/i/top", "/i/mid", "/i/base"]);
        assert!(term);
        assert_eq!(l[2].format, "raw");
        assert_eq!(chain_lookup(&l, None, None, "vda").ok(), Some(2));
        assert_eq!(
            chain_lookup(&l, Some(0), Some("/i/mid"), "vda").ok(),
            Some(1)
        );
        let e = chain_lookup(&l, Some(1), Some("/i/top"), "vda").unwrap_err();
        assert_eq!(
            e.message,
            "invalid argument: could not find image '/i/top' beneath '/i/mid' in chain for 'vda'"
        );
        // Committing mid into base.
        let new = vec![l[0].clone(), l[2].clone()];
        set_layers(&mut d, &new, term, true);
        let (l2, t2) = layers(&d);
        assert_eq!(
            l2.iter().map(Layer::path).collect::<Vec<_>>(),
            ["/i/top", "/i/base"]
        );
        assert!(t2);
        let m = mirror_element(&l2, true, kind::COPY);
        let (ml, mt) = mirror_layers(&m);
        assert_eq!(ml.len(), 2);
        assert!(mt);
        assert_eq!(m.attr("file"), Some("/i/top"));
        assert_eq!(m.attr("job"), Some("copy"));
    }
}
