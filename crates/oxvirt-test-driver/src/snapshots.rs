//! Domain snapshots: metadata kept per domain as a tree with a current
//! snapshot, and the snapshot APIs of libvirt's test driver (create,
//! redefine, list, revert, delete) with its state changes, events and
//! messages.

use oxvirt_core::error::{code, from};
use oxvirt_core::event::{lifecycle as lc, DomainEvent};
use oxvirt_core::types::flags::{snapshot_create as cf, snapshot_delete as df};
use oxvirt_core::types::flags::{snapshot_list as lf, snapshot_revert as rf};
use oxvirt_core::types::{reason, DomainRef, DomainState, SnapshotRef};
use oxvirt_core::{Error, Result};
use oxvirt_xml::snapshot::{
    FormatFlags, Location, ParseFlags, Snapshot, SnapshotDisk, SnapshotState,
};

use crate::moments::{check_flags, delete_moment, snapshot_filters, MomentDef};
use crate::state::{parse_options, DomainObj, Driver, State, FROM};

use snapshot_filters::ALL as FILTERS_ALL;

fn no_snapshot(name: &str) -> Error {
    crate::moments::no_snapshot(name, FROM)
}

/// Seconds since the epoch (the moment post-parse clock).
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Whether a path names a regular file (for generated external names).
fn is_regular_file(path: &str) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// The domain definition a snapshot records (virDomainDefCopy of the
/// live definition, written inactive).
fn copy_def(obj: &DomainObj) -> oxvirt_xml::domain::Domain {
    let mut d = obj.def.clone();
    d.id = None;
    d
}

/// testDomainShutdownState without removing transient domains.
fn shutdown_state(obj: &mut DomainObj, why: i32) {
    obj.remove_transient_def();
    obj.set_state(DomainState::Shutoff, why);
}

fn snap_ref(dom: &DomainObj, name: &str) -> SnapshotRef {
    SnapshotRef {
        name: name.to_string(),
        domain: dom.handle(),
    }
}

fn xml_err(e: oxvirt_xml::Error) -> Error {
    Error::from_xml(e, from::DOMAIN_SNAPSHOT)
}

impl Driver {
    fn snap_dom<'a>(st: &'a State, dom: &DomainRef) -> Result<&'a DomainObj> {
        st.dom(dom)
    }

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
                | cf::HALT
                | cf::QUIESCE
                | cf::ATOMIC
                | cf::LIVE
                | cf::VALIDATE,
            "testDomainSnapshotCreateXML",
        )?;
        let redefine = flags & cf::REDEFINE != 0;
        let update_current = !redefine || flags & cf::CURRENT != 0;
        let mut st = self.lock();
        let idx = st
            .domains
            .find_uuid(&dom.uuid)
            .ok_or_else(|| crate::state::no_domain_uuid(dom))?;
        {
            let obj = st.obj(idx)?;
            if !obj.checkpoints.is_empty() {
                return Err(Error::new(
                    code::OPERATION_UNSUPPORTED,
                    FROM,
                    "cannot create snapshot while checkpoint exists",
                ));
            }
            if !obj.persistent && flags & cf::HALT != 0 {
                return Err(Error::operation_invalid(
                    FROM,
                    "cannot halt after transient domain snapshot",
                ));
            }
        }
        if flags & cf::VALIDATE != 0 {
            crate::schema::validate(xml, "domainsnapshot")?;
        }
        let parsed = Snapshot::parse(
            xml,
            ParseFlags {
                redefine,
                now: Some(now_secs()),
                ..Default::default()
            },
            &parse_options(),
        )
        .map_err(xml_err)?;
        let mut def = parsed.def;
        // The test driver registers no save cookie handlers.
        def.cookie = None;
        let mut obj = st.obj_mut(idx)?;
        let name = def.name.clone().unwrap_or_default();
        if redefine {
            redefine_prep(&obj, &mut def, flags)?;
            if obj.snapshots.find(&name).is_some() {
                let tree = &mut obj.snapshots;
                tree.drop_parent(&name);
                if let Some(m) = tree.find_mut(&name) {
                    if def.domain.is_none() {
                        def.domain = m.def.domain.take();
                    }
                    m.def = def;
                }
            } else {
                obj.snapshots.assign(def)?;
            }
            if update_current {
                obj.snapshots.set_current(Some(&name));
            }
            obj.snapshots.link_parent(&name);
            return Ok(snap_ref(&obj, &name));
        }

        def.domain = Some(Box::new(copy_def(&obj)));
        align_disks(&obj, &mut def, flags)?;
        obj.snapshots.assign(def)?;
        let current = obj.snapshots.current().map(str::to_string);
        if let Some(m) = obj.snapshots.find_mut(&name) {
            m.def.parent = current;
        }
        let mut events = Vec::new();
        if flags & cf::HALT != 0 && obj.is_active() {
            shutdown_state(&mut obj, reason::shutoff::FROM_SNAPSHOT);
            events.push(DomainEvent::lifecycle(
                obj.handle(),
                lc::STOPPED,
                lc::stopped::FROM_SNAPSHOT,
            ));
        }
        if update_current {
            obj.snapshots.set_current(Some(&name));
        }
        obj.snapshots.link_parent(&name);
        let r = snap_ref(&obj, &name);
        drop(obj);
        drop(st);
        self.emit(events);
        Ok(r)
    }

    pub fn snapshot_get_xml_desc(&self, snap: &SnapshotRef, flags: u32) -> Result<String> {
        check_flags(
            flags,
            oxvirt_core::types::flags::snapshot_xml::SECURE,
            "testDomainSnapshotGetXMLDesc",
        )?;
        let st = self.lock();
        let obj = Self::snap_dom(&st, &snap.domain)?;
        let m = obj
            .snapshots
            .find(&snap.name)
            .ok_or_else(|| no_snapshot(&snap.name))?;
        Ok(m.def.format(
            Some(&snap.domain.uuid),
            FormatFlags {
                secure: flags & oxvirt_core::types::flags::snapshot_xml::SECURE != 0,
                ..Default::default()
            },
        ))
    }

    pub fn snapshot_num(&self, dom: &DomainRef, flags: u32) -> Result<i32> {
        Ok(self.list_all_snapshots(dom, flags)?.len() as i32)
    }

    pub fn list_all_snapshots(&self, dom: &DomainRef, flags: u32) -> Result<Vec<SnapshotRef>> {
        check_flags(
            flags,
            lf::ROOTS | lf::TOPOLOGICAL | FILTERS_ALL,
            "testDomainListAllSnapshots",
        )?;
        let st = self.lock();
        let obj = Self::snap_dom(&st, dom)?;
        Ok(obj
            .snapshots
            .snapshot_names(None, flags)
            .iter()
            .map(|n| snap_ref(obj, n))
            .collect())
    }

    pub fn snapshot_list_all_children(
        &self,
        snap: &SnapshotRef,
        flags: u32,
    ) -> Result<Vec<SnapshotRef>> {
        check_flags(
            flags,
            lf::DESCENDANTS | lf::TOPOLOGICAL | FILTERS_ALL,
            "testDomainSnapshotListAllChildren",
        )?;
        let st = self.lock();
        let obj = Self::snap_dom(&st, &snap.domain)?;
        if obj.snapshots.find(&snap.name).is_none() {
            return Err(no_snapshot(&snap.name));
        }
        Ok(obj
            .snapshots
            .snapshot_names(Some(&snap.name), flags)
            .iter()
            .map(|n| snap_ref(obj, n))
            .collect())
    }

    pub fn snapshot_num_children(&self, snap: &SnapshotRef, flags: u32) -> Result<i32> {
        check_flags(
            flags,
            lf::DESCENDANTS | lf::TOPOLOGICAL | FILTERS_ALL,
            "testDomainSnapshotNumChildren",
        )?;
        Ok(self.snapshot_list_all_children(snap, flags)?.len() as i32)
    }

    pub fn snapshot_lookup_by_name(
        &self,
        dom: &DomainRef,
        name: &str,
        flags: u32,
    ) -> Result<SnapshotRef> {
        check_flags(flags, 0, "testDomainSnapshotLookupByName")?;
        let st = self.lock();
        let obj = Self::snap_dom(&st, dom)?;
        let m = obj.snapshots.find(name).ok_or_else(|| no_snapshot(name))?;
        Ok(snap_ref(obj, m.def.name()))
    }

    pub fn has_current_snapshot(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "testDomainHasCurrentSnapshot")?;
        let st = self.lock();
        Ok(Self::snap_dom(&st, dom)?.snapshots.current().is_some())
    }

    pub fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<SnapshotRef> {
        check_flags(flags, 0, "testDomainSnapshotCurrent")?;
        let st = self.lock();
        let obj = Self::snap_dom(&st, dom)?;
        Ok(snap_ref(obj, obj.snapshots.current_or_err(FROM)?))
    }

    pub fn snapshot_get_parent(&self, snap: &SnapshotRef, flags: u32) -> Result<SnapshotRef> {
        check_flags(flags, 0, "testDomainSnapshotGetParent")?;
        let st = self.lock();
        let obj = Self::snap_dom(&st, &snap.domain)?;
        Ok(snap_ref(
            obj,
            obj.snapshots.parent_or_err(&snap.name, FROM)?,
        ))
    }

    pub fn snapshot_is_current(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "testDomainSnapshotIsCurrent")?;
        let st = self.lock();
        let obj = Self::snap_dom(&st, &snap.domain)?;
        if obj.snapshots.find(&snap.name).is_none() {
            return Err(no_snapshot(&snap.name));
        }
        Ok(obj.snapshots.current() == Some(snap.name.as_str()))
    }

    pub fn snapshot_has_metadata(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "testDomainSnapshotHasMetadata")?;
        let st = self.lock();
        let obj = Self::snap_dom(&st, &snap.domain)?;
        if obj.snapshots.find(&snap.name).is_none() {
            return Err(no_snapshot(&snap.name));
        }
        Ok(true)
    }

    pub fn snapshot_delete(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        check_flags(
            flags,
            df::CHILDREN | df::CHILDREN_ONLY,
            "testDomainSnapshotDelete",
        )?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(&snap.domain)?;
        let tree = &mut obj.snapshots;
        if tree.find(&snap.name).is_none() {
            return Err(no_snapshot(&snap.name));
        }
        delete_moment(
            tree,
            &snap.name,
            flags & (df::CHILDREN | df::CHILDREN_ONLY) != 0,
            flags & df::CHILDREN_ONLY != 0,
        );
        Ok(())
    }

    pub fn snapshot_revert(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        check_flags(
            flags,
            rf::RUNNING | rf::PAUSED | rf::FORCE,
            "testDomainRevertToSnapshot",
        )?;
        let mut events = Vec::new();
        let res = self.revert_locked(snap, flags, &mut events);
        self.emit(events);
        res
    }

    fn revert_locked(
        &self,
        snap: &SnapshotRef,
        flags: u32,
        events: &mut Vec<DomainEvent>,
    ) -> Result<()> {
        let mut st = self.lock();
        let idx = st
            .domains
            .find_uuid(&snap.domain.uuid)
            .ok_or_else(|| crate::state::no_domain_uuid(&snap.domain))?;
        let (state, config) = {
            let obj = st.obj(idx)?;
            let m = obj
                .snapshots
                .find(&snap.name)
                .ok_or_else(|| no_snapshot(&snap.name))?;
            let state = m.def.state.unwrap_or(SnapshotState::NoState);
            if !obj.persistent && !state.is_online() && flags & (rf::RUNNING | rf::PAUSED) == 0 {
                return Err(Error::operation_invalid(
                    FROM,
                    "transient domain needs to request run or pause to revert to inactive snapshot",
                ));
            }
            let Some(d) = &m.def.domain else {
                return Err(Error::raw(
                    77,
                    FROM,
                    format!(
                        "revert requires force: snapshot '{}' lacks domain '{}' rollback info",
                        snap.name, obj.def.name
                    ),
                ));
            };
            (state, (**d).clone())
        };
        st.obj_mut(idx)?.snapshots.set_current(None);
        if state.is_online() {
            let mut obj = st.obj_mut(idx)?;
            if obj.is_active() {
                shutdown_state(&mut obj, reason::shutoff::FROM_SNAPSHOT);
                events.push(DomainEvent::lifecycle(
                    obj.handle(),
                    lc::STOPPED,
                    lc::stopped::FROM_SNAPSHOT,
                ));
            }
            obj.assign_def(config, false);
            drop(obj);
            st.start_state(idx, reason::running::FROM_SNAPSHOT);
            let mut obj = st.obj_mut(idx)?;
            events.push(DomainEvent::lifecycle(
                obj.handle(),
                lc::STARTED,
                lc::started::FROM_SNAPSHOT,
            ));
            if flags & rf::RUNNING == 0
                && (state == SnapshotState::Paused || flags & rf::PAUSED != 0)
            {
                obj.set_state(DomainState::Paused, reason::paused::FROM_SNAPSHOT);
                events.push(DomainEvent::lifecycle(
                    obj.handle(),
                    lc::SUSPENDED,
                    lc::suspended::FROM_SNAPSHOT,
                ));
            }
        } else {
            let mut obj = st.obj_mut(idx)?;
            obj.assign_def(config, false);
            if obj.is_active() {
                shutdown_state(&mut obj, reason::shutoff::FROM_SNAPSHOT);
                events.push(DomainEvent::lifecycle(
                    obj.handle(),
                    lc::STOPPED,
                    lc::stopped::FROM_SNAPSHOT,
                ));
            }
            if flags & (rf::RUNNING | rf::PAUSED) != 0 {
                // libvirt's test driver reports the start without
                // starting the domain; so do we.
                events.push(DomainEvent::lifecycle(
                    obj.handle(),
                    lc::STARTED,
                    lc::started::FROM_SNAPSHOT,
                ));
                if flags & rf::PAUSED != 0 {
                    events.push(DomainEvent::lifecycle(
                        obj.handle(),
                        lc::SUSPENDED,
                        lc::suspended::FROM_SNAPSHOT,
                    ));
                }
            }
        }
        st.obj_mut(idx)?.snapshots.set_current(Some(&snap.name));
        Ok(())
    }
}

/// virDomainSnapshotRedefinePrep.
fn redefine_prep(obj: &DomainObj, def: &mut Snapshot, flags: u32) -> Result<()> {
    obj.snapshots
        .redefine_prep(def, &obj.def.uuid, &obj.def.name, flags, &is_regular_file)
}

/// testDomainSnapshotAlignDisks.
fn align_disks(obj: &DomainObj, def: &mut Snapshot, flags: u32) -> Result<()> {
    if def
        .disks
        .iter()
        .any(|d: &SnapshotDisk| d.snapshot == Some(Location::Manual))
    {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            "'manual' snapshot mode is not supported by the test driver",
        ));
    }
    let vm_state = SnapshotState::from_domain_state(obj.state as i32);
    let location = if flags & cf::DISK_ONLY != 0 {
        def.state = Some(if obj.is_active() {
            SnapshotState::DiskSnapshot
        } else {
            SnapshotState::Shutoff
        });
        def.memory = Some(Location::No);
        Location::External
    } else if def.memory == Some(Location::External) {
        def.state = Some(vm_state);
        Location::External
    } else {
        def.state = Some(vm_state);
        def.memory = Some(if vm_state == SnapshotState::Shutoff {
            Location::No
        } else {
            Location::Internal
        });
        Location::Internal
    };
    def.align_disks(None, location, true, &is_regular_file)
        .map_err(xml_err)
}

/// Loads the `<test:domainsnapshot>` elements of a domain in a node
/// file (testParseDomainSnapshots): each is parsed as an internal
/// redefinition, `<active>1</active>` marks the current one, and the
/// tree is linked once all are in.
pub(crate) fn load_from_node(
    obj: &mut DomainObj,
    el: &oxvirt_xml::dom::Element,
    file: Option<&std::path::Path>,
    resolve: fn(
        &oxvirt_xml::dom::Element,
        Option<&std::path::Path>,
    ) -> Result<oxvirt_xml::dom::Element>,
) -> Result<()> {
    // Only elements in libvirt's test namespace count.
    const TEST_NS: &str = "http://libvirt.org/schemas/domain/test/1.0";
    let in_test_ns = |c: &oxvirt_xml::dom::Element| {
        c.name.split_once(':').is_some_and(|(prefix, _)| {
            let decl = format!("xmlns:{}", prefix);
            c.attr(&decl).or_else(|| el.attr(&decl)) == Some(TEST_NS)
        })
    };
    let nodes: Vec<&oxvirt_xml::dom::Element> = el
        .elements()
        .filter(|c| c.local_name() == "domainsnapshot" && in_test_ns(c))
        .collect();
    if nodes.is_empty() {
        return Ok(());
    }
    for n in nodes {
        let mut n = n.clone();
        n.name = "domainsnapshot".to_string();
        let mut n = resolve(&n, file)?;
        n.strip_blanks();
        let parsed = Snapshot::from_element(
            &n,
            ParseFlags {
                redefine: true,
                internal: true,
                ..Default::default()
            },
            &parse_options(),
        )
        .map_err(xml_err)?;
        let mut def = parsed.def;
        def.cookie = None;
        let name = def.name.clone().unwrap_or_default();
        obj.snapshots.assign(def)?;
        if parsed.current == Some(true) {
            if obj.snapshots.current().is_some() {
                return Err(Error::internal(
                    FROM,
                    "more than one snapshot claims to be active",
                ));
            }
            obj.snapshots.set_current(Some(&name));
        }
    }
    if !obj.snapshots.update_relations() {
        return Err(Error::internal(
            FROM,
            format!(
                "Snapshots have inconsistent relations for domain {}",
                obj.def.name
            ),
        ));
    }
    Ok(())
}
