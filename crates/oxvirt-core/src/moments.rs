//! A tree of named moments (snapshots or checkpoints) with a current one,
//! linked as libvirt links them (virdomainmomentobjlist.c): each moment
//! knows its linked parent and its children, newest linked first; the
//! roots hang off an implicit metaroot. Shared by every hypervisor
//! driver that keeps snapshots or checkpoints, with the parts of
//! libvirt's snapshot object layer (virdomainsnapshotobjlist.c,
//! snapshot_conf.c) that do not depend on a driver: the listing filters
//! and the checks of a redefinition.

use crate::error::{code, from};
use crate::types::flags::{snapshot_create as cf, snapshot_list as lf};
use crate::{Error, Result};
use oxvirt_xml::checkpoint::Checkpoint;
use oxvirt_xml::snapshot::Snapshot;

/// `VIR_DOMAIN_MOMENT_LIST_*`
pub mod mflags {
    pub const ROOTS: u32 = 1 << 0;
    pub const DESCENDANTS: u32 = 1 << 0;
    pub const TOPOLOGICAL: u32 = 1 << 1;
    pub const LEAVES: u32 = 1 << 2;
    pub const NO_LEAVES: u32 = 1 << 3;
    pub const METADATA: u32 = 1 << 4;
    pub const NO_METADATA: u32 = 1 << 5;
}

/// What a moment definition tells the tree.
pub trait MomentDef {
    fn name(&self) -> &str;
    fn parent_name(&self) -> Option<&str>;
    fn set_parent_name(&mut self, parent: Option<String>);
}

/// One moment in the tree.
#[derive(Debug, Clone)]
pub struct MomentObj<D> {
    pub def: D,
    /// The linked parent (`None`: the metaroot).
    link: Option<String>,
    /// Linked children, first child first.
    children: Vec<String>,
    /// Whether the moment is linked at all.
    linked: bool,
}

impl<D> MomentObj<D> {
    pub fn nchildren(&self) -> usize {
        self.children.len()
    }
}

/// The moments of one domain.
#[derive(Debug, Clone)]
pub struct MomentTree<D> {
    /// In creation order (libvirt keeps a hash table).
    items: Vec<MomentObj<D>>,
    /// Children of the metaroot, first child first.
    roots: Vec<String>,
    current: Option<String>,
}

impl<D> Default for MomentTree<D> {
    fn default() -> Self {
        MomentTree {
            items: Vec::new(),
            roots: Vec::new(),
            current: None,
        }
    }
}

impl<D: MomentDef> MomentTree<D> {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.items.iter().position(|m| m.def.name() == name)
    }

    pub fn find(&self, name: &str) -> Option<&MomentObj<D>> {
        self.index(name).map(|i| &self.items[i])
    }

    pub fn find_mut(&mut self, name: &str) -> Option<&mut MomentObj<D>> {
        match self.index(name) {
            Some(i) => Some(&mut self.items[i]),
            None => None,
        }
    }

    pub fn current(&self) -> Option<&str> {
        self.current.as_deref()
    }

    pub fn set_current(&mut self, name: Option<&str>) {
        self.current = name.map(str::to_string);
    }

    /// virDomainMomentAssignDef: adds an unlinked moment.
    pub fn assign(&mut self, def: D) -> Result<()> {
        if self.index(def.name()).is_some() {
            return Err(Error::new(
                code::OPERATION_FAILED,
                from::DOMAIN,
                format!("domain moment {} already exists", def.name()),
            ));
        }
        self.items.push(MomentObj {
            def,
            link: None,
            children: Vec::new(),
            linked: false,
        });
        Ok(())
    }

    fn children_of_mut(&mut self, parent: Option<&str>) -> Option<&mut Vec<String>> {
        match parent {
            None => Some(&mut self.roots),
            Some(p) => self.find_mut(p).map(|m| &mut m.children),
        }
    }

    /// virDomainMomentLinkParent: links under the moment its definition
    /// names, or under the metaroot.
    pub fn link_parent(&mut self, name: &str) {
        let parent = self
            .find(name)
            .and_then(|m| m.def.parent_name())
            .filter(|p| self.index(p).is_some())
            .map(str::to_string);
        if let Some(list) = self.children_of_mut(parent.as_deref()) {
            list.insert(0, name.to_string());
        }
        if let Some(m) = self.find_mut(name) {
            m.link = parent;
            m.linked = true;
        }
    }

    /// virDomainMomentDropParent.
    pub fn drop_parent(&mut self, name: &str) {
        let Some(m) = self.find(name) else { return };
        if !m.linked {
            return;
        }
        let parent = m.link.clone();
        if let Some(list) = self.children_of_mut(parent.as_deref()) {
            list.retain(|c| c != name);
        }
        if let Some(m) = self.find_mut(name) {
            m.link = None;
            m.linked = false;
        }
    }

    /// virDomainMomentDropChildren.
    pub fn drop_children(&mut self, name: &str) {
        if let Some(m) = self.find_mut(name) {
            m.children.clear();
        }
    }

    /// virDomainMomentMoveChildren: `from`'s children go in front of
    /// `to`'s (`None` = the metaroot).
    pub fn move_children(&mut self, name: &str, to: Option<&str>) {
        let moved = match self.find_mut(name) {
            Some(m) => std::mem::take(&mut m.children),
            None => return,
        };
        if moved.is_empty() {
            return;
        }
        for c in &moved {
            if let Some(m) = self.find_mut(c) {
                m.link = to.map(str::to_string);
            }
        }
        if let Some(list) = self.children_of_mut(to) {
            let mut all = moved;
            all.append(list);
            *list = all;
        }
    }

    /// The linked parent of a moment (`None`: a root or unknown).
    pub fn link_of(&self, name: &str) -> Option<String> {
        self.find(name).and_then(|m| m.link.clone())
    }

    /// virDomainMomentObjListRemove: returns whether it was current.
    pub fn remove(&mut self, name: &str) -> bool {
        let was = self.current.as_deref() == Some(name);
        self.items.retain(|m| m.def.name() != name);
        if was {
            self.current = None;
        }
        was
    }

    /// Children of a moment (or of the metaroot), first child first.
    pub fn children(&self, name: Option<&str>) -> Vec<String> {
        match name {
            None => self.roots.clone(),
            Some(n) => self.find(n).map(|m| m.children.clone()).unwrap_or_default(),
        }
    }

    /// virDomainMomentForEachDescendant's visiting order: each child,
    /// then its descendants.
    pub fn descendants(&self, name: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        self.walk(name, &mut out, 0);
        out
    }

    fn walk(&self, name: Option<&str>, out: &mut Vec<String>, depth: usize) {
        if depth > self.items.len() {
            return;
        }
        for c in self.children(name) {
            out.push(c.clone());
            self.walk(Some(&c), out, depth + 1);
        }
    }

    /// Rewrites each child's definition parent (testDomainMomentReparentChildren).
    pub fn reparent_children(&mut self, name: &str, parent: Option<&str>) {
        for c in self.children(Some(name)) {
            if let Some(m) = self.find_mut(&c) {
                m.def.set_parent_name(parent.map(str::to_string));
            }
        }
    }

    /// virDomainMomentUpdateRelations: links every moment under its
    /// parent; a missing parent or a cycle links it under the metaroot,
    /// clears the current moment and reports false.
    pub fn update_relations(&mut self) -> bool {
        self.roots.clear();
        for m in &mut self.items {
            m.children.clear();
            m.linked = false;
            m.link = None;
        }
        let mut ok = true;
        let names: Vec<String> = self
            .items
            .iter()
            .map(|m| m.def.name().to_string())
            .collect();
        for name in &names {
            let parent = self
                .find(name)
                .and_then(|m| m.def.parent_name())
                .map(str::to_string);
            let mut link = None;
            if let Some(p) = parent {
                if self.find(&p).is_none() {
                    ok = false;
                } else {
                    // Walk up the chain as linked so far: meeting ourselves
                    // is a cycle.
                    let mut cur = Some(p.clone());
                    let mut cycle = false;
                    let mut steps = 0;
                    while let Some(c) = cur {
                        if c == *name {
                            cycle = true;
                            break;
                        }
                        steps += 1;
                        if steps > self.items.len() {
                            break;
                        }
                        cur = self
                            .find(&c)
                            .filter(|m| m.linked)
                            .and_then(|m| m.link.clone());
                    }
                    if cycle {
                        ok = false;
                    } else {
                        link = Some(p);
                    }
                }
            }
            if let Some(list) = self.children_of_mut(link.as_deref()) {
                list.insert(0, name.clone());
            }
            if let Some(m) = self.find_mut(name) {
                m.link = link;
                m.linked = true;
            }
        }
        if !ok {
            self.current = None;
        }
        ok
    }

    /// virDomainMomentCheckCycles for a definition about to be added.
    pub fn check_cycles(&self, name: &str, parent: Option<&str>, domname: &str) -> Result<()> {
        let _ = domname;
        let Some(p) = parent else { return Ok(()) };
        if p == name {
            return Err(Error::invalid_arg(
                from::DOMAIN,
                format!("cannot set moment {} as its own parent", name),
            ));
        }
        let Some(mut other) = self.find(p) else {
            return Err(Error::invalid_arg(
                from::DOMAIN,
                format!("parent {} for moment {} not found", p, name),
            ));
        };
        let mut steps = 0;
        while let Some(pp) = other.def.parent_name() {
            if pp == name {
                return Err(Error::invalid_arg(
                    from::DOMAIN,
                    format!("parent {} would create cycle to {}", other.def.name(), name),
                ));
            }
            steps += 1;
            match self.find(pp) {
                Some(o) if steps <= self.items.len() => other = o,
                _ => break,
            }
        }
        Ok(())
    }

    /// virDomainMomentObjListGetNames: `flags` are moment flags; `filter`
    /// applies the kind-specific filters when `filtering`.
    pub fn names(
        &self,
        from: Option<&str>,
        flags: u32,
        filter: &dyn Fn(&D) -> bool,
        filtering: bool,
    ) -> Vec<String> {
        let mut flags = flags;
        if from.is_none() {
            flags ^= mflags::ROOTS;
        }
        let mut data = flags & !(mflags::DESCENDANTS | mflags::TOPOLOGICAL);
        let meta = data & (mflags::METADATA | mflags::NO_METADATA);
        if meta == mflags::NO_METADATA {
            return Vec::new();
        }
        data &= !(mflags::METADATA | mflags::NO_METADATA);
        let keep = |name: &str| -> bool {
            let Some(m) = self.find(name) else {
                return false;
            };
            if data & mflags::LEAVES != 0 && m.nchildren() > 0 {
                return false;
            }
            if data & mflags::NO_LEAVES != 0 && m.nchildren() == 0 {
                return false;
            }
            !filtering || filter(&m.def)
        };
        let candidates: Vec<String> = if flags & mflags::DESCENDANTS != 0 {
            if from.is_some() || flags & mflags::TOPOLOGICAL != 0 {
                self.descendants(from)
            } else {
                self.items
                    .iter()
                    .map(|m| m.def.name().to_string())
                    .collect()
            }
        } else {
            self.children(from)
        };
        candidates.into_iter().filter(|n| keep(n)).collect()
    }
}

/// The snapshots of one domain.
pub type SnapshotTree = MomentTree<Snapshot>;
/// The checkpoints of one domain.
pub type CheckpointTree = MomentTree<Checkpoint>;

/// Snapshot and checkpoint definitions name themselves and their parent
/// alike.
macro_rules! moment_def {
    ($($t:ty),*) => {$(
        impl MomentDef for $t {
            fn name(&self) -> &str {
                self.name.as_deref().unwrap_or("")
            }
            fn parent_name(&self) -> Option<&str> {
                self.parent.as_deref()
            }
            fn set_parent_name(&mut self, parent: Option<String>) {
                self.parent = parent;
            }
        }
    )*};
}
moment_def!(Snapshot, Checkpoint);

/// The deletion shared by snapshots and checkpoints
/// (testDomainSnapshotDelete / testDomainCheckpointDelete).
pub fn delete_moment<D: MomentDef>(
    tree: &mut MomentTree<D>,
    name: &str,
    with_children: bool,
    children_only: bool,
) {
    if with_children {
        let mut was_current = false;
        for d in tree.descendants(Some(name)) {
            was_current |= tree.remove(&d);
        }
        if was_current {
            tree.set_current(Some(name));
        }
    } else if tree.find(name).is_some_and(|m| m.nchildren() > 0) {
        let parent = tree.link_of(name);
        tree.reparent_children(name, parent.as_deref());
        tree.move_children(name, parent.as_deref());
    }
    if children_only {
        tree.drop_children(name);
    } else {
        tree.drop_parent(name);
        if tree.current() == Some(name) {
            let parent = tree
                .find(name)
                .and_then(|m| m.def.parent_name())
                .filter(|p| tree.find(p).is_some())
                .map(str::to_string);
            tree.set_current(parent.as_deref());
        }
        tree.remove(name);
    }
}

/// VIR_DOMAIN_SNAPSHOT_FILTERS_* (virDomainSnapshotListAllChildren and
/// virDomainListAllSnapshots accept these, plus ROOTS or DESCENDANTS and
/// TOPOLOGICAL).
pub mod snapshot_filters {
    use super::lf;
    pub const LEAVES: u32 = lf::LEAVES | lf::NO_LEAVES;
    pub const STATUS: u32 = lf::INACTIVE | lf::ACTIVE | lf::DISK_ONLY;
    pub const LOCATION: u32 = lf::INTERNAL | lf::EXTERNAL;
    pub const ALL: u32 = lf::METADATA | lf::NO_METADATA | LEAVES | STATUS | LOCATION;
}

/// libvirt's "no domain snapshot with matching name" in `from`.
pub fn no_snapshot(name: &str, from: i32) -> Error {
    Error::new(
        code::NO_DOMAIN_SNAPSHOT,
        from,
        format!("no domain snapshot with matching name '{}'", name),
    )
}

/// virDomainSnapshotFilter.
fn snapshot_filter(def: &Snapshot, flags: u32) -> bool {
    use oxvirt_xml::snapshot::SnapshotState;
    use snapshot_filters::STATUS;
    let st = def.state.unwrap_or(SnapshotState::NoState);
    if flags & STATUS != 0 {
        if flags & lf::INACTIVE == 0 && st == SnapshotState::Shutoff {
            return false;
        }
        if flags & lf::DISK_ONLY == 0 && st == SnapshotState::DiskSnapshot {
            return false;
        }
        if flags & lf::ACTIVE == 0
            && st != SnapshotState::Shutoff
            && st != SnapshotState::DiskSnapshot
        {
            return false;
        }
    }
    if flags & lf::INTERNAL != 0 && def.is_external() {
        return false;
    }
    if flags & lf::EXTERNAL != 0 && !def.is_external() {
        return false;
    }
    true
}

impl MomentTree<Snapshot> {
    /// The snapshot `name`, or libvirt's "no domain snapshot" in `from`.
    pub fn get(&self, name: &str, from: i32) -> Result<&MomentObj<Snapshot>> {
        self.find(name).ok_or_else(|| no_snapshot(name, from))
    }

    /// The current snapshot's name, or libvirt's error when there is none.
    pub fn current_or_err(&self, from: i32) -> Result<&str> {
        self.current().ok_or_else(|| {
            Error::new(
                code::NO_DOMAIN_SNAPSHOT,
                from,
                "the domain does not have a current snapshot",
            )
        })
    }

    /// The parent a snapshot's definition names (virDomainSnapshotGetParent).
    pub fn parent_or_err(&self, name: &str, from: i32) -> Result<&str> {
        self.get(name, from)?.def.parent_name().ok_or_else(|| {
            Error::new(
                code::NO_DOMAIN_SNAPSHOT,
                from,
                format!("snapshot '{}' does not have a parent", name),
            )
        })
    }

    /// virDomainSnapshotObjListGetNames: the names a snapshot listing
    /// with `flags` (`VIR_DOMAIN_SNAPSHOT_LIST_*`) returns, from the
    /// metaroot or from `from`'s children.
    pub fn snapshot_names(&self, from: Option<&str>, flags: u32) -> Vec<String> {
        use snapshot_filters::{LOCATION, STATUS};
        let mut flags = flags;
        let mut moment = 0;
        for (s, m) in [
            (lf::ROOTS, mflags::ROOTS),
            (lf::TOPOLOGICAL, mflags::TOPOLOGICAL),
            (lf::LEAVES, mflags::LEAVES),
            (lf::NO_LEAVES, mflags::NO_LEAVES),
            (lf::METADATA, mflags::METADATA),
            (lf::NO_METADATA, mflags::NO_METADATA),
        ] {
            if flags & s != 0 {
                flags &= !s;
                moment |= m;
            }
        }
        if flags & STATUS == STATUS {
            flags &= !STATUS;
        }
        if flags & LOCATION == LOCATION {
            flags &= !LOCATION;
        }
        self.names(from, moment, &|d| snapshot_filter(d, flags), true)
    }

    /// virDomainSnapshotRedefinePrep's checks of a redefinition against
    /// the domain (`uuid`, `domname`) and the snapshot it replaces, then
    /// the disks aligned (`is_regular_file` answers for generated
    /// external names).
    pub fn redefine_prep(
        &self,
        def: &mut Snapshot,
        uuid: &crate::types::Uuid,
        domname: &str,
        flags: u32,
        is_regular_file: &dyn Fn(&str) -> bool,
    ) -> Result<()> {
        use oxvirt_xml::snapshot::{Location, SnapshotState};
        let name = def.name.clone().unwrap_or_default();
        self.check_cycles(&name, def.parent.as_deref(), domname)?;
        let other = self.find(&name).map(|m| &m.def);
        let st = def.state.unwrap_or(SnapshotState::NoState);
        if flags & cf::DISK_ONLY != 0 && st != SnapshotState::DiskSnapshot {
            return Err(Error::invalid_arg(
                from::DOMAIN_SNAPSHOT,
                format!(
                    "disk-only flag for snapshot {} requires disk-snapshot state",
                    name
                ),
            ));
        }
        if let Some(d) = &def.domain {
            if d.uuid != *uuid {
                return Err(Error::invalid_arg(
                    from::DOMAIN_SNAPSHOT,
                    format!("definition for snapshot {} must use uuid {}", name, uuid),
                ));
            }
        }
        if let Some(o) = other {
            let ost = o.state.unwrap_or(SnapshotState::NoState);
            if ost.is_online() != st.is_online() {
                return Err(Error::invalid_arg(
                    from::DOMAIN_SNAPSHOT,
                    format!(
                        "cannot change between online and offline snapshot state in snapshot {}",
                        name
                    ),
                ));
            }
            if (ost == SnapshotState::DiskSnapshot) != (st == SnapshotState::DiskSnapshot) {
                return Err(Error::invalid_arg(
                    from::DOMAIN_SNAPSHOT,
                    format!(
                        "cannot change between disk only and full system in snapshot {}",
                        name
                    ),
                ));
            }
        }
        let location = if st == SnapshotState::DiskSnapshot || def.is_external() {
            Location::External
        } else {
            Location::Internal
        };
        let existing = other.and_then(|o| o.domain.as_deref());
        def.align_disks(existing, location, true, is_regular_file)
            .map_err(|e| Error::from_xml(e, from::DOMAIN_SNAPSHOT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone)]
    struct M(String, Option<String>);

    impl MomentDef for M {
        fn name(&self) -> &str {
            &self.0
        }
        fn parent_name(&self) -> Option<&str> {
            self.1.as_deref()
        }
        fn set_parent_name(&mut self, parent: Option<String>) {
            self.1 = parent;
        }
    }

    fn add(t: &mut MomentTree<M>, n: &str, p: Option<&str>) {
        t.assign(M(n.into(), p.map(Into::into))).unwrap();
        t.link_parent(n);
    }

    #[test]
    fn children_are_newest_first_and_move_up_on_delete() {
        let mut t = MomentTree::default();
        add(&mut t, "a", None);
        add(&mut t, "b", Some("a"));
        add(&mut t, "c", Some("a"));
        add(&mut t, "d", Some("c"));
        assert_eq!(t.descendants(None), ["a", "c", "d", "b"]);
        assert_eq!(
            t.assign(M("a".into(), None)).unwrap_err().message,
            "operation failed: domain moment a already exists"
        );
        // Deleting c: d moves in front of a's other children.
        t.reparent_children("c", Some("a"));
        t.move_children("c", Some("a"));
        t.drop_parent("c");
        t.remove("c");
        assert_eq!(t.children(Some("a")), ["d", "b"]);
        assert_eq!(t.find("d").unwrap().def.1.as_deref(), Some("a"));
        let leaves = t.names(None, mflags::LEAVES, &|_| true, false);
        assert_eq!(leaves, ["b", "d"]);
        let roots = t.names(None, mflags::ROOTS, &|_| true, false);
        assert_eq!(roots, ["a"]);
    }

    #[test]
    fn relations_detect_missing_parents_and_cycles() {
        let mut t = MomentTree::default();
        t.assign(M("x".into(), Some("y".into()))).unwrap();
        t.assign(M("y".into(), Some("x".into()))).unwrap();
        t.set_current(Some("x"));
        assert!(!t.update_relations());
        assert_eq!(t.current(), None);
        let mut t = MomentTree::default();
        t.assign(M("x".into(), None)).unwrap();
        t.assign(M("y".into(), Some("x".into()))).unwrap();
        assert!(t.update_relations());
        assert_eq!(t.children(Some("x")), ["y"]);
        assert_eq!(
            t.check_cycles("x", Some("y"), "dom").unwrap_err().message,
            "invalid argument: parent y would create cycle to x"
        );
    }
}
