//! Domain snapshots (libvirt's qemu_snapshot.c): internal snapshots of
//! a running domain with QEMU's `snapshot-save`/`snapshot-load`/
//! `snapshot-delete` jobs (memory and every disk inside the qcow2
//! images), of a shut-off one with `qemu-img snapshot`; the metadata
//! tree (oxvirt-core's `moments`, on disk through `snapmeta`) with
//! libvirt's listings, current snapshot, revert and delete, their
//! events and their errors.
//!
//! Every changing call holds the domain's job; the listings and lookups
//! take only the state lock, so they never wait behind a snapshot.

use std::time::Duration;

use oxvirt_core::error::code;
use oxvirt_core::event::{lifecycle as lc, DomainEvent};
use oxvirt_core::moments::{snapshot_filters, MomentDef};
use oxvirt_core::types::flags::{snapshot_create as cf, snapshot_delete as df};
use oxvirt_core::types::flags::{snapshot_list as lf, snapshot_revert as rf};
use oxvirt_core::types::{reason, DomainRef, DomainState, SnapshotRef};
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::{Domain, ParseOptions};
use oxvirt_xml::snapshot::{Location, ParseFlags, Snapshot, SnapshotState};
use serde_json::{json, Value};

use crate::driver::{check_flags, DomainObj, Driver, Running};
use crate::monitor::qmp_err;
use crate::process::StartOpts;
use crate::{snapmeta, FROM};

/// VIR_DOMAIN_SNAPSHOT_REVERT_RESET_NVRAM
const REVERT_RESET_NVRAM: u32 = 1 << 3;
/// VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY
const DELETE_METADATA_ONLY: u32 = df::METADATA_ONLY;
/// VIR_ERR_SNAPSHOT_REVERT_RISKY
const REVERT_RISKY: i32 = 77;

fn snap_ref(dom: &DomainRef, name: &str) -> SnapshotRef {
    SnapshotRef {
        name: name.to_string(),
        domain: dom.clone(),
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn is_regular_file(path: &str) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

fn parse_options() -> ParseOptions {
    ParseOptions {
        default_arch: Some(crate::host::host_arch().into()),
    }
}

/// The `<driver type>` of a disk.
fn disk_format(d: &oxvirt_xml::domain::Disk) -> Option<&str> {
    d.extra
        .children
        .iter()
        .find(|c| c.name == "driver")
        .and_then(|c| c.attr("type"))
}

fn disk_readonly(d: &oxvirt_xml::domain::Disk) -> bool {
    d.device.as_deref() == Some("cdrom") || d.extra.children.iter().any(|c| c.name == "readonly")
}

fn disk_empty(d: &oxvirt_xml::domain::Disk) -> bool {
    d.source.as_deref().is_none_or(str::is_empty)
}

/// A `qemu-img` run as libvirt runs it (its error on failure).
fn qemu_img(args: &[&str]) -> Result<()> {
    let mut c = oxvirt_host::command::Command::new("qemu-img", FROM);
    c.args(args.iter().copied());
    c.run().map(|_| ())
}

/// A start for a revert: paused, events left to the caller.
fn revert_start(live_def: Option<Domain>) -> StartOpts {
    StartOpts {
        paused: true,
        autodestroy: false,
        live_def,
        incoming: None,
        job: None,
        from_snapshot: true,
        migrate_in: false,
    }
}

/// The state a domain's state is snapshotted as.
fn snapshot_state(obj: &DomainObj) -> SnapshotState {
    SnapshotState::from_domain_state(obj.state as i32)
}

impl Driver {
    // ---- loading ---------------------------------------------------------

    /// Reads every domain's snapshot metadata (at driver start).
    pub(crate) fn load_snapshots(&self) {
        let names: Vec<(oxvirt_core::types::Uuid, String)> = self
            .lock()
            .doms
            .iter()
            .map(|d| (d.def.uuid, d.def.name.clone()))
            .collect();
        for (uuid, name) in names {
            let tree = snapmeta::load(&self.layout, &name);
            if tree.is_empty() {
                continue;
            }
            if let Some(mut o) = self.lock().by_uuid_mut(&uuid) {
                o.snapshots = tree;
            }
        }
    }

    /// Writes the metadata of `name` (current or not as the tree says).
    fn write_snapshot(&self, obj: &DomainObj, name: &str) -> Result<()> {
        let Some(m) = obj.snapshots.find(name) else {
            return Ok(());
        };
        let current = obj.snapshots.current() == Some(name);
        snapmeta::save(&self.layout, &obj.def.name, &obj.def.uuid, &m.def, current)
    }

    /// qemuSnapshotSetCurrent: the old current snapshot's file loses its
    /// mark (a failure only warns, as libvirt's), the new one's gets it.
    fn set_current(&self, obj: &mut DomainObj, name: Option<&str>) -> Result<()> {
        let old = obj.snapshots.current().map(str::to_string);
        obj.snapshots.set_current(name);
        if let Some(o) = old.filter(|o| Some(o.as_str()) != name) {
            if let Err(e) = self.write_snapshot(obj, &o) {
                tracing::warn!("failed to update old current snapshot {}: {}", o, e);
            }
        }
        if let Some(n) = name {
            self.write_snapshot(obj, n)?;
        }
        Ok(())
    }

    // ---- reads -------------------------------------------------------------

    pub fn snapshot_get_xml_desc(&self, snap: &SnapshotRef, flags: u32) -> Result<String> {
        use oxvirt_core::types::flags::snapshot_xml::SECURE;
        check_flags(flags, SECURE, "qemuDomainSnapshotGetXMLDesc")?;
        let st = self.read(&snap.domain)?;
        let obj = st.dom(&snap.domain)?;
        let m = obj.snapshots.get(&snap.name, FROM)?;
        Ok(m.def.format(
            Some(&obj.def.uuid),
            oxvirt_xml::snapshot::FormatFlags {
                secure: flags & SECURE != 0,
                ..Default::default()
            },
        ))
    }

    pub fn snapshot_num(&self, dom: &DomainRef, flags: u32) -> Result<i32> {
        check_flags(
            flags,
            lf::ROOTS | lf::TOPOLOGICAL | snapshot_filters::ALL,
            "qemuDomainSnapshotNum",
        )?;
        let st = self.read(dom)?;
        Ok(st.dom(dom)?.snapshots.snapshot_names(None, flags).len() as i32)
    }

    pub fn list_all_snapshots(&self, dom: &DomainRef, flags: u32) -> Result<Vec<SnapshotRef>> {
        check_flags(
            flags,
            lf::ROOTS | lf::TOPOLOGICAL | snapshot_filters::ALL,
            "qemuDomainListAllSnapshots",
        )?;
        let st = self.read(dom)?;
        let obj = st.dom(dom)?;
        let h = obj.handle();
        Ok(obj
            .snapshots
            .snapshot_names(None, flags)
            .iter()
            .map(|n| snap_ref(&h, n))
            .collect())
    }

    fn children_names(&self, snap: &SnapshotRef, flags: u32, func: &str) -> Result<Vec<String>> {
        check_flags(
            flags,
            lf::DESCENDANTS | lf::TOPOLOGICAL | snapshot_filters::ALL,
            func,
        )?;
        let st = self.read(&snap.domain)?;
        let obj = st.dom(&snap.domain)?;
        obj.snapshots.get(&snap.name, FROM)?;
        Ok(obj.snapshots.snapshot_names(Some(&snap.name), flags))
    }

    pub fn snapshot_list_all_children(
        &self,
        snap: &SnapshotRef,
        flags: u32,
    ) -> Result<Vec<SnapshotRef>> {
        let names = self.children_names(snap, flags, "qemuDomainSnapshotListAllChildren")?;
        Ok(names.iter().map(|n| snap_ref(&snap.domain, n)).collect())
    }

    pub fn snapshot_num_children(&self, snap: &SnapshotRef, flags: u32) -> Result<i32> {
        Ok(self
            .children_names(snap, flags, "qemuDomainSnapshotNumChildren")?
            .len() as i32)
    }

    pub fn snapshot_lookup_by_name(
        &self,
        dom: &DomainRef,
        name: &str,
        flags: u32,
    ) -> Result<SnapshotRef> {
        check_flags(flags, 0, "qemuDomainSnapshotLookupByName")?;
        let st = self.read(dom)?;
        let obj = st.dom(dom)?;
        let m = obj.snapshots.get(name, FROM)?;
        Ok(snap_ref(&obj.handle(), m.def.name()))
    }

    pub fn has_current_snapshot(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "qemuDomainHasCurrentSnapshot")?;
        let st = self.read(dom)?;
        Ok(st.dom(dom)?.snapshots.current().is_some())
    }

    pub fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<SnapshotRef> {
        check_flags(flags, 0, "qemuDomainSnapshotCurrent")?;
        let st = self.read(dom)?;
        let obj = st.dom(dom)?;
        let n = obj.snapshots.current_or_err(FROM)?;
        Ok(snap_ref(&obj.handle(), n))
    }

    pub fn snapshot_get_parent(&self, snap: &SnapshotRef, flags: u32) -> Result<SnapshotRef> {
        check_flags(flags, 0, "qemuDomainSnapshotGetParent")?;
        let st = self.read(&snap.domain)?;
        let obj = st.dom(&snap.domain)?;
        let p = obj.snapshots.parent_or_err(&snap.name, FROM)?;
        Ok(snap_ref(&obj.handle(), p))
    }

    pub fn snapshot_is_current(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "qemuDomainSnapshotIsCurrent")?;
        let st = self.read(&snap.domain)?;
        let obj = st.dom(&snap.domain)?;
        obj.snapshots.get(&snap.name, FROM)?;
        Ok(obj.snapshots.current() == Some(snap.name.as_str()))
    }

    pub fn snapshot_has_metadata(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "qemuDomainSnapshotHasMetadata")?;
        let st = self.read(&snap.domain)?;
        st.dom(&snap.domain)?.snapshots.get(&snap.name, FROM)?;
        Ok(true)
    }

    // ---- QEMU --------------------------------------------------------------

    /// The block nodes holding the internal snapshot of `def`'s disks
    /// (the format node of each disk's top image, found by its file), in
    /// disk order.
    fn snapshot_nodes(&self, run: &Running, live: &Domain, def: &Snapshot) -> Result<Vec<String>> {
        let nodes = run
            .qmp
            .execute_value("query-named-block-nodes", Some(json!({"flat": true})))
            .map_err(qmp_err)?;
        let nodes = nodes.as_array().cloned().unwrap_or_default();
        let mut out = Vec::new();
        for sd in def
            .disks
            .iter()
            .filter(|d| d.snapshot == Some(Location::Internal))
        {
            let Some(disk) = live
                .devices
                .disks
                .iter()
                .find(|d| d.target_dev.as_deref() == Some(sd.name.as_str()))
            else {
                continue;
            };
            let Some(src) = disk.source.as_deref() else {
                continue;
            };
            let node = crate::snapext::top_node(&nodes, src);
            match node
                .and_then(|n| n.get("node-name"))
                .and_then(Value::as_str)
            {
                Some(n) => out.push(n.to_string()),
                None => {
                    return Err(Error::internal(
                        FROM,
                        format!("cannot find block node of disk '{}'", sd.name),
                    ))
                }
            }
        }
        Ok(out)
    }

    /// Saves, loads or deletes the internal snapshot `name` of a running
    /// domain's disks (QMP snapshot-save / snapshot-load /
    /// snapshot-delete).
    fn internal_job(
        &self,
        dom: &DomainRef,
        run: &Running,
        def: &Snapshot,
        name: &str,
        op: &str,
    ) -> Result<()> {
        let live = self.lock().dom(dom)?.def.clone();
        let nodes = self.snapshot_nodes(run, &live, def)?;
        let job_id = format!("snapshot-{}", op);
        let (cmd, what) = match op {
            "save" => ("snapshot-save", "Failed to take snapshot"),
            "load" => ("snapshot-load", "Failed to load snapshot"),
            _ => ("snapshot-delete", "Failed to delete snapshot"),
        };
        let mut args = json!({"job-id": job_id, "tag": name, "devices": nodes});
        if op != "delete" {
            let Some(first) = nodes.first() else {
                return Err(Error::unsupported_config(
                    FROM,
                    "nothing selected for snapshot",
                ));
            };
            args["vmstate"] = json!(first);
        }
        self.run_block_job(run, cmd, args, what)
    }

    /// qemuDomainSnapshotForEachQcow2: `qemu-img snapshot OP NAME` on
    /// each disk of `def` the snapshot holds internally. `try_all` goes
    /// on past failures and reports whether any was skipped.
    fn for_each_qcow2(
        &self,
        def: &Domain,
        snap: &Snapshot,
        op: &str,
        try_all: bool,
    ) -> Result<bool> {
        let name = snap.name.as_deref().unwrap_or("");
        let mut skipped = false;
        let mut done: Vec<String> = Vec::new();
        for (i, d) in def.devices.disks.iter().enumerate() {
            if d.device.as_deref().unwrap_or("disk") != "disk"
                || snap.disks.get(i).map(|s| s.snapshot) != Some(Some(Location::Internal))
            {
                continue;
            }
            let dst = d.target_dev.clone().unwrap_or_default();
            if !matches!(d.disk_type.as_deref().unwrap_or("file"), "file" | "block") {
                return Err(Error::operation_invalid(
                    FROM,
                    format!("can't manipulate inactive snapshots of disk '{}'", dst),
                ));
            }
            let path = d.source.clone().unwrap_or_default();
            let fmt = disk_format(d);
            let res = if fmt.is_some_and(|f| f != "qcow2") {
                Err(Error::operation_invalid(
                    FROM,
                    format!("Disk device '{}' does not support snapshotting", dst),
                ))
            } else {
                qemu_img(&["snapshot", op, name, &path])
            };
            match res {
                Ok(()) => done.push(path),
                Err(_) if try_all => {
                    tracing::warn!("skipping snapshot action on {}", dst);
                    skipped = true;
                }
                Err(e) => {
                    if op == "-c" {
                        for p in &done {
                            let _ = qemu_img(&["snapshot", "-d", name, p]);
                        }
                    }
                    return Err(e);
                }
            }
        }
        Ok(skipped)
    }

    /// Stops a domain's QEMU for a snapshot (halt, revert): shut off with
    /// reason from-snapshot, the domain kept even when transient (libvirt
    /// removes a transient domain only when the revert fails). Returns
    /// the STOPPED event.
    fn stop_for_snapshot(&self, dom: &DomainRef) -> Result<Option<DomainEvent>> {
        let Ok(run) = self.running(dom) else {
            return Ok(None);
        };
        self.kill_process(&run, false, true)?;
        run.wait_eof(Duration::from_secs(5));
        self.reap(&run);
        let mut st = self.lock();
        let transient = !st.dom(dom)?.persistent;
        if transient {
            // stop_locked forgets transient domains; this one stays.
            st.dom_mut(dom)?.persistent = true;
        }
        let h = self.stop_locked(&mut st, &dom.uuid, run.gen, reason::shutoff::FROM_SNAPSHOT);
        if transient {
            if let Ok(mut o) = st.dom_mut(dom) {
                o.persistent = false;
            }
        }
        Ok(h.map(|h| DomainEvent::lifecycle(h, lc::STOPPED, lc::stopped::FROM_SNAPSHOT)))
    }

    /// Forgets a transient domain that is no longer running
    /// (qemuDomainRemoveInactive), with its snapshot metadata.
    fn remove_if_transient(&self, dom: &DomainRef) {
        let mut st = self.lock();
        let Ok(obj) = st.dom(dom) else { return };
        if obj.persistent || obj.is_active() {
            return;
        }
        snapmeta::remove_all(&self.layout, &obj.def.name);
        st.doms.remove_if_transient_inactive(&dom.uuid);
    }

    // ---- create ------------------------------------------------------------

    pub fn snapshot_create_xml(
        &self,
        dom: &DomainRef,
        xml: &str,
        flags: u32,
    ) -> Result<SnapshotRef> {
        check_flags(
            flags,
            cf::REDEFINE
                | cf::CURRENT
                | cf::NO_METADATA
                | cf::HALT
                | cf::DISK_ONLY
                | cf::REUSE_EXT
                | cf::QUIESCE
                | cf::ATOMIC
                | cf::LIVE
                | cf::VALIDATE,
            "qemuSnapshotCreateXML",
        )?;
        if flags & cf::QUIESCE != 0 && flags & cf::DISK_ONLY == 0 {
            return Err(Error::raw(
                code::INVALID_ARG,
                FROM,
                "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY' is required by flag 'VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE'",
            ));
        }
        if flags & cf::LIVE != 0 && flags & cf::REDEFINE != 0 {
            return Err(Error::raw(
                code::INVALID_ARG,
                FROM,
                "Flags 'VIR_DOMAIN_SNAPSHOT_CREATE_LIVE' and 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' are mutually exclusive",
            ));
        }
        let (persistent, active) = {
            let st = self.read(dom)?;
            let o = st.dom(dom)?;
            (o.persistent, o.is_active())
        };
        if !persistent && flags & cf::HALT != 0 {
            return Err(Error::operation_invalid(
                FROM,
                "cannot halt after transient domain snapshot",
            ));
        }
        if flags & cf::VALIDATE != 0 {
            validate_schema(xml)?;
        }
        let redefine = flags & cf::REDEFINE != 0;
        let parsed = Snapshot::parse(
            xml,
            ParseFlags {
                redefine,
                offline: flags & cf::DISK_ONLY != 0 || !active,
                now: Some(now_secs()),
                ..Default::default()
            },
            &parse_options(),
        )
        .map_err(|e| Error::from_xml(e, oxvirt_core::error::from::DOMAIN_SNAPSHOT))?;
        let mut def = parsed.def;
        def.cookie = None;
        let _job = self.begin_job(dom)?;
        self.validate_def(dom, &def, flags)?;
        if redefine {
            self.redefine(dom, def, flags)
        } else {
            self.create_snapshot(dom, def, flags)
        }
    }

    /// qemuSnapshotCreateXMLValidateDef.
    fn validate_def(&self, dom: &DomainRef, def: &Snapshot, flags: u32) -> Result<()> {
        let name = def.name.as_deref().unwrap_or("");
        if flags & cf::NO_METADATA == 0 {
            if name.contains('/') {
                return Err(Error::new(
                    code::XML_DETAIL,
                    FROM,
                    format!("invalid snapshot name '{}': name can't contain '/'", name),
                ));
            }
            if name.starts_with('.') {
                return Err(Error::new(
                    code::XML_DETAIL,
                    FROM,
                    format!(
                        "invalid snapshot name '{}': name can't start with '.'",
                        name
                    ),
                ));
            }
        }
        let st = self.lock();
        let obj = st.dom(dom)?;
        if flags & cf::LIVE != 0 && (!obj.is_active() || def.memory != Some(Location::External)) {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                "live snapshot creation is supported only during full system snapshots",
            ));
        }
        let state = if flags & cf::REDEFINE != 0 {
            def.state.unwrap_or(SnapshotState::NoState)
        } else {
            snapshot_state(obj)
        };
        match state {
            SnapshotState::Running
            | SnapshotState::Paused
            | SnapshotState::Shutdown
            | SnapshotState::Shutoff
            | SnapshotState::Crashed => Ok(()),
            SnapshotState::DiskSnapshot if flags & cf::REDEFINE != 0 => Ok(()),
            SnapshotState::PmSuspended => Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                "qemu doesn't support taking snapshots of PMSUSPENDED guests",
            )),
            s => Err(Error::internal(FROM, format!("Invalid domain state {}", s))),
        }
    }

    /// qemuSnapshotRedefine.
    fn redefine(&self, dom: &DomainRef, mut def: Snapshot, flags: u32) -> Result<SnapshotRef> {
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        let (uuid, domname) = (obj.def.uuid, obj.def.name.clone());
        obj.snapshots
            .redefine_prep(&mut def, &uuid, &domname, flags, &is_regular_file)?;
        let name = def.name.clone().unwrap_or_default();
        let existed = obj.snapshots.find(&name).is_some();
        if existed {
            obj.snapshots.drop_parent(&name);
            if let Some(m) = obj.snapshots.find_mut(&name) {
                m.def = def;
            }
        } else {
            obj.snapshots.assign(def)?;
        }
        self.commit_metadata(&mut obj, &name, flags & cf::CURRENT != 0)?;
        Ok(snap_ref(&obj.handle(), &name))
    }

    /// qemuSnapshotCreateWriteMetadata: the new snapshot's file written
    /// (made current first when asked) and the snapshot linked under its
    /// parent; on failure it leaves the tree.
    fn commit_metadata(&self, obj: &mut DomainObj, name: &str, current: bool) -> Result<()> {
        let res = if current {
            self.set_current(obj, Some(name))
        } else {
            self.write_snapshot(obj, name)
        };
        if let Err(e) = res {
            obj.snapshots.remove(name);
            // libvirt's error replaces the write's, which goes to the log.
            tracing::warn!("snapshot {}: {}", name, e);
            return Err(Error::internal(
                FROM,
                format!("unable to save metadata for snapshot {}", name),
            ));
        }
        obj.snapshots.link_parent(name);
        Ok(())
    }

    /// qemuSnapshotCreateAlignDisks and qemuSnapshotPrepare: the
    /// snapshot's domain, state, memory and disks; the flags as learnt.
    fn align_and_prepare(&self, obj: &DomainObj, def: &mut Snapshot, flags: u32) -> Result<u32> {
        let reuse = flags & cf::REUSE_EXT != 0;
        let mut flags = flags;
        let active = obj.is_active();
        let mut copy = obj.def.clone();
        copy.id = None;
        def.domain = Some(Box::new(copy));
        if active {
            if let Some(nd) = &obj.new_def {
                def.inactive_domain = Some(Box::new(nd.clone()));
            }
        }
        let align = if flags & cf::DISK_ONLY != 0 {
            def.state = Some(if active {
                SnapshotState::DiskSnapshot
            } else {
                SnapshotState::Shutoff
            });
            def.memory = Some(Location::No);
            Location::External
        } else if def.memory == Some(Location::External) {
            def.state = Some(snapshot_state(obj));
            Location::External
        } else {
            def.state = Some(snapshot_state(obj));
            if active && def.memory == Some(Location::No) {
                return Err(Error::new(
                    code::OPERATION_UNSUPPORTED,
                    FROM,
                    "internal snapshot of a running VM must include the memory state",
                ));
            }
            def.memory = Some(if def.state == Some(SnapshotState::Shutoff) {
                Location::No
            } else {
                Location::Internal
            });
            Location::Internal
        };
        def.align_disks(None, align, true, &is_regular_file)
            .map_err(|e| Error::from_xml(e, oxvirt_core::error::from::DOMAIN_SNAPSHOT))?;

        // qemuSnapshotPrepare
        let (mut found_internal, mut forbid_internal, mut external) = (false, false, 0);
        let snap_state = def.state;
        for (i, sd) in def.disks.iter_mut().enumerate() {
            let Some(dd) = obj.def.devices.disks.get(i) else {
                continue;
            };
            match sd.snapshot.unwrap_or(Location::No) {
                Location::Internal => {
                    found_internal = true;
                    if snap_state == Some(SnapshotState::DiskSnapshot) && active {
                        return Err(Error::unsupported_config(
                            FROM,
                            format!(
                                "active qemu domains require external disk snapshots; disk {} requested internal",
                                sd.name
                            ),
                        ));
                    }
                    if !active {
                        let t = dd.disk_type.as_deref().unwrap_or("file");
                        if !matches!(t, "file" | "block" | "network") {
                            return Err(Error::internal(
                                FROM,
                                format!(
                                    "internal inactive snapshots are not supported on '{}' disks",
                                    t
                                ),
                            ));
                        }
                    }
                    if let Some(f) = disk_format(dd).filter(|f| *f != "qcow2") {
                        return Err(Error::unsupported_config(
                            FROM,
                            format!(
                                "internal snapshot for disk {} unsupported for storage type {}",
                                sd.name, f
                            ),
                        ));
                    }
                }
                Location::External => {
                    crate::snapext::prepare_disk(sd, active, reuse)?;
                    external += 1;
                }
                Location::Manual => forbid_internal = true,
                Location::No => {
                    if !disk_empty(dd) && !disk_readonly(dd) {
                        forbid_internal = true;
                    }
                }
            }
        }
        if !found_internal && external == 0 && def.memory == Some(Location::No) {
            return Err(Error::unsupported_config(
                FROM,
                "nothing selected for snapshot",
            ));
        }
        if (def.memory == Some(Location::Internal) && !found_internal)
            || (found_internal && forbid_internal)
        {
            return Err(Error::unsupported_config(
                FROM,
                "internal and full system snapshots require all disks to be selected for snapshot",
            ));
        }
        if def.state == Some(SnapshotState::DiskSnapshot) && external == 0 {
            return Err(Error::unsupported_config(
                FROM,
                "disk-only snapshots require at least one disk to be selected for snapshot",
            ));
        }
        if ((found_internal || def.memory == Some(Location::Internal)) && external > 0)
            || (def.memory == Some(Location::External) && found_internal)
        {
            return Err(Error::unsupported_config(
                FROM,
                "mixing internal and external targets for a snapshot is not yet supported",
            ));
        }
        if found_internal
            && obj
                .def
                .os
                .extra
                .children
                .iter()
                .any(|l| l.name == "loader" && l.attr("type") == Some("pflash"))
        {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                "internal snapshots of a VM with pflash based firmware are not supported",
            ));
        }
        if external > 0 && !active {
            flags |= cf::DISK_ONLY;
        }
        if active && external > 0 && flags & cf::QUIESCE != 0 {
            // qemuSnapshotFSFreeze: the agent is asked first.
            return Err(Error::new(
                code::ARGUMENT_UNSUPPORTED,
                FROM,
                "QEMU guest agent is not configured",
            ));
        }
        if def.memory == Some(Location::External) {
            return Err(Error::unsupported_config(
                FROM,
                "external memory snapshots are not supported by this driver yet",
            ));
        }
        Ok(flags)
    }

    /// qemuSnapshotCreate.
    fn create_snapshot(
        &self,
        dom: &DomainRef,
        mut def: Snapshot,
        flags: u32,
    ) -> Result<SnapshotRef> {
        let name = def.name.clone().unwrap_or_default();
        let (flags, active, state, handle) = {
            let mut st = self.lock();
            let mut obj = st.dom_mut(dom)?;
            let flags = self.align_and_prepare(&obj, &mut def, flags)?;
            if flags & cf::NO_METADATA == 0 {
                let current = obj.snapshots.current().map(str::to_string);
                def.parent = current;
                obj.snapshots.assign(def.clone())?;
            }
            (flags, obj.is_active(), obj.state, obj.handle())
        };
        let metadata = flags & cf::NO_METADATA == 0;
        let reuse = flags & cf::REUSE_EXT != 0;
        let res = if active && flags & cf::DISK_ONLY != 0 {
            self.create_active_external_snapshot(dom, &def, reuse, flags)
        } else if active {
            self.create_active_internal(dom, &def, &name, state, flags)
        } else if flags & cf::DISK_ONLY != 0 {
            self.create_inactive_external(dom, &def, reuse)
        } else {
            let d = def.domain.as_deref().cloned();
            match d {
                Some(d) => self.for_each_qcow2(&d, &def, "-c", false).map(|_| ()),
                None => Ok(()),
            }
        };
        let mut st = self.lock();
        let Ok(mut obj) = st.dom_mut(dom) else {
            return res.map(|_| snap_ref(&handle, &name));
        };
        if let Err(e) = res {
            if metadata {
                obj.snapshots.remove(&name);
            }
            return Err(e);
        }
        if metadata {
            self.commit_metadata(&mut obj, &name, true)?;
        }
        Ok(snap_ref(&obj.handle(), &name))
    }

    /// qemuSnapshotCreateActiveExternal for a disk-only snapshot: the
    /// overlays switched to while the guest runs, then `--halt`.
    fn create_active_external_snapshot(
        &self,
        dom: &DomainRef,
        def: &Snapshot,
        reuse: bool,
        flags: u32,
    ) -> Result<()> {
        let run = self.running(dom)?;
        self.create_active_external(dom, &run, def, reuse)?;
        if flags & cf::HALT != 0 {
            let ev = self.stop_for_snapshot(dom)?;
            self.emit(ev.into_iter().collect());
        }
        Ok(())
    }

    /// qemuSnapshotCreateActiveInternal: CPUs stopped (reason save),
    /// QEMU's snapshot-save job, then halted or resumed.
    fn create_active_internal(
        &self,
        dom: &DomainRef,
        def: &Snapshot,
        name: &str,
        state: DomainState,
        flags: u32,
    ) -> Result<()> {
        let run = self.running(dom)?;
        let mut resume = false;
        if state == DomainState::Running {
            self.stop_cpus(dom, &run, reason::paused::SAVE)?;
            resume = true;
        }
        let res = self.internal_job(dom, &run, def, name, "save");
        if res.is_ok() && flags & cf::HALT != 0 {
            let ev = self.stop_for_snapshot(dom)?;
            self.emit(ev.into_iter().collect());
            return Ok(());
        }
        if resume
            && self
                .start_cpus(dom, &run, reason::running::UNPAUSED)
                .is_err()
        {
            let h = self.lock().dom(dom).map(|o| o.handle());
            if let Ok(h) = h {
                self.emit(vec![DomainEvent::lifecycle(
                    h,
                    lc::SUSPENDED,
                    lc::suspended::API_ERROR,
                )]);
            }
            res?;
            return Err(Error::operation_failed(
                FROM,
                "resuming after snapshot failed",
            ));
        }
        res
    }

    // ---- revert ------------------------------------------------------------

    pub fn snapshot_revert(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        check_flags(
            flags,
            rf::RUNNING | rf::PAUSED | rf::FORCE | REVERT_RESET_NVRAM,
            "qemuSnapshotRevert",
        )?;
        let dom = &snap.domain;
        let _job = self.begin_job(dom)?;
        let (sdef, persistent, vm_name) = {
            let st = self.lock();
            let obj = st.dom(dom)?;
            let m = obj.snapshots.get(&snap.name, FROM)?;
            (m.def.clone(), obj.persistent, obj.def.name.clone())
        };
        // qemuSnapshotRevertValidate
        let state = sdef.state.unwrap_or(SnapshotState::NoState);
        if !persistent && !state.is_online() && flags & (rf::RUNNING | rf::PAUSED) == 0 {
            return Err(Error::operation_invalid(
                FROM,
                "transient domain needs to request run or pause to revert to inactive snapshot",
            ));
        }
        if sdef.is_external() {
            return Err(Error::unsupported_config(
                FROM,
                "revert to external snapshot not supported yet",
            ));
        }
        let Some(snapdom) = sdef.domain.as_deref() else {
            return Err(Error::new(
                REVERT_RISKY,
                FROM,
                format!(
                    "snapshot '{}' lacks domain '{}' rollback info",
                    snap.name, vm_name
                ),
            ));
        };
        if flags & rf::FORCE == 0 && !state.is_online() && self.has_managed_save_file(&vm_name) {
            return Err(Error::new(
                REVERT_RISKY,
                FROM,
                "snapshot without memory state, removal of existing managed saved state strongly recommended to avoid corruption",
            ));
        }
        // qemuSnapshotRevertPrep
        let mut config = snapdom.clone();
        config.name = vm_name.clone();
        let inactive = match &sdef.inactive_domain {
            Some(d) => {
                let mut d = (**d).clone();
                d.name = vm_name.clone();
                d
            }
            None => config.clone(),
        };
        let mut events = Vec::new();
        let res = match state {
            SnapshotState::Running | SnapshotState::Paused => {
                self.revert_active(snap, &sdef, config, inactive, flags, &mut events)
            }
            SnapshotState::Shutdown | SnapshotState::Shutoff | SnapshotState::Crashed => {
                self.revert_inactive(snap, &sdef, snapdom, inactive, flags, &mut events)
            }
            SnapshotState::PmSuspended => Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                "qemu doesn't support reversion of snapshot taken in PMSUSPENDED state",
            )),
            s => Err(Error::internal(
                FROM,
                format!(
                    "Invalid target domain state '{}'. Refusing snapshot reversion",
                    s
                ),
            )),
        };
        self.emit(events);
        res
    }

    /// The persistent definition a revert brings back, the current
    /// snapshot set, and DEFINED from-snapshot
    /// (qemuSnapshotRevertWriteMetadata).
    fn revert_metadata(
        &self,
        snap: &SnapshotRef,
        defined: bool,
        events: &mut Vec<DomainEvent>,
    ) -> Result<()> {
        let mut st = self.lock();
        let mut obj = st.dom_mut(&snap.domain)?;
        if let Err(e) = self.set_current(&mut obj, Some(&snap.name)) {
            obj.snapshots.set_current(None);
            return Err(e);
        }
        if defined && obj.persistent {
            let def = obj.new_def.clone().unwrap_or_else(|| obj.def.clone());
            self.save_config(&def)?;
            events.push(DomainEvent::lifecycle(
                obj.handle(),
                lc::DEFINED,
                lc::defined::FROM_SNAPSHOT,
            ));
        }
        Ok(())
    }

    /// Installs the persistent definition of a domain that is not running.
    fn assign_inactive(&self, dom: &DomainRef, def: Domain) -> Result<bool> {
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        if !obj.persistent {
            return Ok(false);
        }
        let mut def = def;
        def.id = None;
        obj.def = def;
        Ok(true)
    }

    /// qemuSnapshotRevertActive: a new QEMU from the snapshot's
    /// definition, paused, the snapshot's state loaded, then paused or
    /// running as asked.
    fn revert_active(
        &self,
        snap: &SnapshotRef,
        sdef: &Snapshot,
        config: Domain,
        inactive: Domain,
        flags: u32,
        events: &mut Vec<DomainEvent>,
    ) -> Result<()> {
        let dom = &snap.domain;
        events.extend(self.stop_for_snapshot(dom)?);
        let defined = self.assign_inactive(dom, inactive)?;
        let started = self.start_vm(dom, revert_start(Some(config)));
        let h = self.lock().dom(dom).map(|o| o.handle());
        if let Ok(h) = &h {
            events.push(DomainEvent::lifecycle(
                h.clone(),
                lc::STARTED,
                lc::started::FROM_SNAPSHOT,
            ));
        }
        let h = started?;
        let run = self.running(dom)?;
        self.internal_job(dom, &run, sdef, &snap.name, "load")?;
        let state = sdef.state.unwrap_or(SnapshotState::NoState);
        if flags & rf::RUNNING == 0 && (state == SnapshotState::Paused || flags & rf::PAUSED != 0) {
            events.push(DomainEvent::lifecycle(
                h,
                lc::SUSPENDED,
                lc::suspended::FROM_SNAPSHOT,
            ));
        } else {
            // The RESUMED event comes from the monitor's RESUME.
            self.emit(std::mem::take(events));
            self.start_cpus(dom, &run, reason::running::FROM_SNAPSHOT)?;
        }
        self.revert_metadata(snap, defined, events)
    }

    /// qemuSnapshotRevertInactive: the domain stopped, every disk
    /// reverted with `qemu-img snapshot -a`, then started if asked.
    fn revert_inactive(
        &self,
        snap: &SnapshotRef,
        sdef: &Snapshot,
        snapdom: &Domain,
        inactive: Domain,
        flags: u32,
        events: &mut Vec<DomainEvent>,
    ) -> Result<()> {
        let dom = &snap.domain;
        events.extend(self.stop_for_snapshot(dom)?);
        match self.for_each_qcow2(snapdom, sdef, "-a", true) {
            Ok(false) => {}
            Ok(true) => {
                self.remove_if_transient(dom);
                return Err(Error::internal(
                    FROM,
                    format!("failed to revert the disks of snapshot '{}'", snap.name),
                ));
            }
            Err(e) => {
                self.remove_if_transient(dom);
                return Err(e);
            }
        }
        let defined = self.assign_inactive(dom, inactive)?;
        if flags & (rf::RUNNING | rf::PAUSED) != 0 {
            let paused = flags & rf::PAUSED != 0;
            self.emit(std::mem::take(events));
            let started = self.start_vm(dom, revert_start(None));
            let h = match started {
                Ok(h) => h,
                Err(e) => {
                    self.remove_if_transient(dom);
                    return Err(e);
                }
            };
            let run = self.running(dom)?;
            if paused {
                {
                    let mut st = self.lock();
                    let mut obj = st.dom_mut(dom)?;
                    obj.set_state(DomainState::Paused, reason::paused::USER);
                    self.save_status(&obj);
                }
                events.push(DomainEvent::lifecycle(
                    h.clone(),
                    lc::STARTED,
                    lc::started::FROM_SNAPSHOT,
                ));
                events.push(DomainEvent::lifecycle(
                    h,
                    lc::SUSPENDED,
                    lc::suspended::FROM_SNAPSHOT,
                ));
            } else {
                self.start_cpus(dom, &run, reason::running::BOOTED)?;
                events.push(DomainEvent::lifecycle(
                    h,
                    lc::STARTED,
                    lc::started::FROM_SNAPSHOT,
                ));
            }
        }
        self.revert_metadata(snap, defined, events)
    }

    // ---- delete ------------------------------------------------------------

    pub fn snapshot_delete(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        check_flags(
            flags,
            df::CHILDREN | df::CHILDREN_ONLY | DELETE_METADATA_ONLY,
            "qemuSnapshotDelete",
        )?;
        let dom = &snap.domain;
        let _job = self.begin_job(dom)?;
        let metadata_only = flags & DELETE_METADATA_ONLY != 0;
        let (victims, run, live) = {
            let st = self.lock();
            let obj = st.dom(dom)?;
            obj.snapshots.get(&snap.name, FROM)?;
            let mut v = Vec::new();
            if flags & (df::CHILDREN | df::CHILDREN_ONLY) != 0 {
                v.extend(obj.snapshots.descendants(Some(&snap.name)));
            }
            if flags & df::CHILDREN_ONLY == 0 {
                v.push(snap.name.clone());
            }
            let defs: Vec<Snapshot> = v
                .iter()
                .filter_map(|n| obj.snapshots.find(n).map(|m| m.def.clone()))
                .collect();
            (defs, obj.run.clone(), obj.def.clone())
        };
        if !metadata_only {
            if let Some(d) = victims.iter().find(|d| d.is_external()) {
                let _ = d;
                return Err(Error::unsupported_config(
                    FROM,
                    "deletion of external disk snapshots is not supported by this driver yet",
                ));
            }
        }
        for d in &victims {
            if !metadata_only {
                self.discard_data(dom, run.as_deref(), &live, d)?;
            }
            self.discard_metadata(snap, d)?;
        }
        Ok(())
    }

    /// The snapshot's data in the images (qemuSnapshotDiscard): QEMU's
    /// snapshot-delete job for a running domain, `qemu-img snapshot -d`
    /// for one that is not.
    fn discard_data(
        &self,
        dom: &DomainRef,
        run: Option<&Running>,
        live: &Domain,
        def: &Snapshot,
    ) -> Result<()> {
        let name = def.name.as_deref().unwrap_or("");
        if def.is_external() {
            return Ok(());
        }
        match run {
            Some(run) => {
                // libvirt goes on whatever the monitor says.
                if let Err(e) = self.internal_job(dom, run, def, name, "delete") {
                    tracing::warn!("deleting snapshot {}: {}", name, e);
                }
                Ok(())
            }
            None => {
                let d = def.domain.as_deref().unwrap_or(live);
                self.for_each_qcow2(d, def, "-d", true).map(|_| ())
            }
        }
    }

    /// The snapshot's metadata removed from the tree and the disk
    /// (qemuSnapshotDiscardMetadata with update_parent): its children
    /// move up to its parent (their files rewritten), and when it was
    /// current its parent becomes current.
    fn discard_metadata(&self, top: &SnapshotRef, def: &Snapshot) -> Result<()> {
        let name = def.name.clone().unwrap_or_default();
        let mut st = self.lock();
        let mut obj = st.dom_mut(&top.domain)?;
        if obj.snapshots.find(&name).is_none() {
            return Ok(());
        }
        let was_current = obj.snapshots.current() == Some(name.as_str());
        let def_parent = obj
            .snapshots
            .find(&name)
            .and_then(|m| m.def.parent_name())
            .map(str::to_string);
        let children = obj.snapshots.children(Some(&name));
        let parent = obj.snapshots.link_of(&name);
        obj.snapshots.reparent_children(&name, parent.as_deref());
        obj.snapshots.move_children(&name, parent.as_deref());
        obj.snapshots.drop_parent(&name);
        obj.snapshots.remove(&name);
        snapmeta::remove(&self.layout, &obj.def.name, &name)?;
        for c in &children {
            self.write_snapshot(&obj, c)?;
        }
        if was_current {
            let next = def_parent.filter(|p| obj.snapshots.find(p).is_some());
            self.set_current(&mut obj, next.as_deref())?;
        }
        Ok(())
    }
}

/// `--validate`: the document against libvirt's domainsnapshot schema.
fn validate_schema(xml: &str) -> Result<()> {
    oxvirt_schema::validate(xml, "domainsnapshot").map_err(|e| match e {
        oxvirt_schema::SchemaError::Invalid { .. } => Error::new(
            code::XML_INVALID_SCHEMA,
            FROM,
            format!("Unable to validate doc against {}", e),
        ),
        other => Error::internal(FROM, other.to_string()),
    })
}
