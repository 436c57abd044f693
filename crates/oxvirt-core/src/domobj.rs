//! Domain objects and their list, jobs and locking helpers,
//! written once for every driver (libvirt's `src/conf` virDomainObj,
//! virDomainObjList and virdomainjob).
//!
//! A driver keeps its own per-domain state in the object's `ext` (libvirt's
//! `privateData`); the list hashes objects by UUID, by name and, while
//! they run, by id, so no lookup scans the list. Objects keep their order
//! of insertion (listings are stable).

use std::collections::{BTreeMap, HashMap};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use oxvirt_xml::domain::Domain;

use crate::error::{code, from, Error, Result};
use crate::types::{flags, DomainRef, DomainState, ListFacts, Uuid};

/// Locks a mutex, taking the data of a poisoned one (a panicking thread
/// must not make a driver unusable).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub use crate::error::check_flags;

/// The drivers' "no domain with matching uuid" error (code NO_DOMAIN, in
/// the driver's domain `from`).
pub fn no_domain_uuid(dom: &DomainRef, from: i32) -> Error {
    Error::new(
        code::NO_DOMAIN,
        from,
        format!("no domain with matching uuid '{}' ({})", dom.uuid, dom.name),
    )
}

/// virDomainObjGetOneDef's own check of VIR_DOMAIN_AFFECT_LIVE and
/// _CONFIG.
fn live_xor_config(flags: u32) -> Result<()> {
    use flags::affect::{CONFIG, LIVE};
    if flags & LIVE != 0 && flags & CONFIG != 0 {
        return Err(Error::raw(
            code::INVALID_ARG,
            from::DOMAIN,
            "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
        ));
    }
    Ok(())
}

/// A domain's job: at most one state-changing operation at a time
/// (libvirt's virDomainJobObj, without its async and agent parts).
#[derive(Default)]
pub struct Job {
    busy: Mutex<bool>,
    cv: Condvar,
}

/// Holds a domain's job until dropped.
pub struct JobGuard(Arc<Job>);

impl Job {
    /// Waits up to `wait` for the job, then fails as libvirt does:
    /// "Timed out during operation: cannot acquire state change lock"
    /// (in the driver's error domain `from`).
    pub fn begin(self: &Arc<Self>, wait: Duration, from: i32) -> Result<JobGuard> {
        let mut busy = lock(&self.busy);
        let deadline = Instant::now() + wait;
        while *busy {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::new(
                    code::OPERATION_TIMEOUT,
                    from,
                    "cannot acquire state change lock",
                ));
            }
            busy = self
                .cv
                .wait_timeout(busy, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        *busy = true;
        Ok(JobGuard(self.clone()))
    }

    /// Whether a job holds it now.
    pub fn is_busy(&self) -> bool {
        *lock(&self.busy)
    }
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        *lock(&self.0.busy) = false;
        self.0.cv.notify_one();
    }
}

/// A domain with its runtime state (libvirt's virDomainObj); `ext` is the
/// driver's own part.
#[derive(Debug, Clone)]
pub struct DomainObj<X> {
    /// The live definition while active, the persistent one otherwise.
    pub def: Domain,
    /// The persistent definition while the domain runs (libvirt's newDef).
    pub new_def: Option<Domain>,
    pub state: DomainState,
    pub reason: i32,
    pub persistent: bool,
    pub autostart: bool,
    /// When the state last changed.
    pub state_time: Instant,
    pub ext: X,
}

impl<X> Deref for DomainObj<X> {
    type Target = X;
    fn deref(&self) -> &X {
        &self.ext
    }
}

impl<X> DerefMut for DomainObj<X> {
    fn deref_mut(&mut self) -> &mut X {
        &mut self.ext
    }
}

impl<X> DomainObj<X> {
    /// A new, inactive and transient object.
    pub fn new(def: Domain, ext: X) -> Self {
        DomainObj {
            def,
            new_def: None,
            state: DomainState::Shutoff,
            reason: 0,
            persistent: false,
            autostart: false,
            state_time: Instant::now(),
            ext,
        }
    }

    pub fn is_active(&self) -> bool {
        self.state.is_active()
    }

    /// The id while running.
    pub fn active_id(&self) -> Option<i32> {
        if self.is_active() {
            self.def.id
        } else {
            None
        }
    }

    /// The handle clients hold.
    pub fn handle(&self) -> DomainRef {
        DomainRef {
            name: self.def.name.clone(),
            uuid: self.def.uuid,
            id: self.active_id().unwrap_or(-1),
        }
    }

    /// virDomainObjGetPersistentDef.
    pub fn persistent_def(&self) -> &Domain {
        self.new_def.as_ref().unwrap_or(&self.def)
    }

    /// The persistent definition to change: `new_def` while running
    /// (taken from the running one if there is none yet), else `def`.
    pub fn persistent_def_mut(&mut self) -> &mut Domain {
        if self.is_active() {
            return self.new_def.get_or_insert_with(|| self.def.clone());
        }
        &mut self.def
    }

    pub fn set_state(&mut self, state: DomainState, reason: i32) {
        self.state = state;
        self.reason = reason;
        self.state_time = Instant::now();
    }

    /// virDomainObjCheckActive: "Requested operation is not valid: domain
    /// is not running".
    pub fn check_active(&self) -> Result<()> {
        if !self.is_active() {
            return Err(Error::operation_invalid(
                from::DOMAIN,
                "domain is not running",
            ));
        }
        Ok(())
    }

    /// virDomainObjSetDefTransient: keeps the persistent definition while
    /// the domain runs.
    pub fn set_def_transient(&mut self) {
        if self.persistent && self.new_def.is_none() {
            self.new_def = Some(self.def.clone());
        }
    }

    /// virDomainObjRemoveTransientDef: the persistent definition again
    /// once the domain stops.
    pub fn remove_transient_def(&mut self) {
        if let Some(d) = self.new_def.take() {
            self.def = d;
        }
        self.def.id = None;
    }

    /// virDomainObjAssignDef: a new definition for the object (the next
    /// persistent one while it runs; with `live`, the running one, the
    /// old kept to be restored at shutdown). Returns the definition
    /// replaced, if any.
    pub fn assign_def(&mut self, def: Domain, live: bool) -> Option<Domain> {
        if self.is_active() {
            self.new_def.replace(def)
        } else if live {
            let old = std::mem::replace(&mut self.def, def);
            if self.new_def.is_none() {
                self.new_def = Some(old);
                None
            } else {
                Some(old)
            }
        } else {
            Some(std::mem::replace(&mut self.def, def))
        }
    }

    /// virDomainObjUpdateModificationImpact: `(live, config)` for
    /// VIR_DOMAIN_AFFECT_* flags, with libvirt's errors.
    pub fn modification_impact(&self, flags: u32) -> Result<(bool, bool)> {
        let from = from::DOMAIN;
        use flags::affect::{CONFIG, LIVE};
        let mut live = flags & LIVE != 0;
        let mut config = flags & CONFIG != 0;
        if !live && !config {
            if self.is_active() {
                live = true;
            } else {
                config = true;
            }
        }
        if !self.is_active() && live {
            return Err(Error::operation_invalid(from, "domain is not running"));
        }
        if !self.persistent && config {
            return Err(Error::operation_invalid(
                from,
                "transient domains do not have any persistent config",
            ));
        }
        Ok((live, config))
    }

    /// The one definition `flags` designates (virDomainObjGetOneDef): the
    /// persistent one of a running domain for VIR_DOMAIN_AFFECT_CONFIG
    /// (kept from now on), else `def`.
    pub fn one_def_mut(&mut self, flags: u32) -> Result<&mut Domain> {
        live_xor_config(flags)?;
        let (_, config) = self.modification_impact(flags)?;
        if self.is_active() && config {
            return Ok(self.new_def.get_or_insert_with(|| self.def.clone()));
        }
        Ok(&mut self.def)
    }

    pub fn one_def(&self, flags: u32) -> Result<&Domain> {
        live_xor_config(flags)?;
        let (_, config) = self.modification_impact(flags)?;
        if self.is_active() && config {
            return Ok(self.persistent_def());
        }
        Ok(&self.def)
    }

    /// Both definitions `flags` designates (virDomainObjGetDefs):
    /// `(live, persistent)`.
    pub fn defs_mut(&mut self, flags: u32) -> Result<(Option<&mut Domain>, Option<&mut Domain>)> {
        let (live, config) = self.modification_impact(flags)?;
        if self.is_active() {
            if config && self.new_def.is_none() {
                self.new_def = Some(self.def.clone());
            }
            let DomainObj { def, new_def, .. } = self;
            Ok((
                if live { Some(def) } else { None },
                if config { new_def.as_mut() } else { None },
            ))
        } else {
            Ok((None, if config { Some(&mut self.def) } else { None }))
        }
    }

    /// The facts virConnectListAllDomains filters on, but those the
    /// driver knows (managed save, snapshots, checkpoints), given.
    pub fn list_facts(&self, managed_save: bool, snapshots: bool, checkpoints: bool) -> ListFacts {
        ListFacts {
            active: self.is_active(),
            persistent: self.persistent,
            state: self.state,
            managed_save,
            autostart: self.autostart,
            has_snapshot: snapshots,
            has_checkpoint: checkpoints,
        }
    }
}

/// An object's place in a [`DomainList`] (stable while it is listed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(u64);

#[derive(Debug, Clone)]
struct Slot<X> {
    obj: DomainObj<X>,
    /// The name and id the indexes hold for it.
    name: String,
    id: Option<i32>,
}

#[derive(Debug, Clone, Default)]
struct Index {
    by_uuid: HashMap<Uuid, Key>,
    by_name: HashMap<String, Key>,
    by_id: HashMap<i32, Key>,
}

impl Index {
    /// Brings the name and id entries of `slot` up to date.
    fn sync<X>(&mut self, key: Key, slot: &mut Slot<X>) {
        if slot.obj.def.name != slot.name {
            if self.by_name.get(&slot.name) == Some(&key) {
                self.by_name.remove(&slot.name);
            }
            slot.name = slot.obj.def.name.clone();
            self.by_name.insert(slot.name.clone(), key);
        }
        let id = slot.obj.active_id();
        if id != slot.id {
            if let Some(old) = slot.id {
                if self.by_id.get(&old) == Some(&key) {
                    self.by_id.remove(&old);
                }
            }
            if let Some(new) = id {
                self.by_id.insert(new, key);
            }
            slot.id = id;
        }
    }
}

/// The domains of a driver instance (libvirt's virDomainObjList): hashed
/// by UUID, name and active id, listed in the order they came.
///
/// An object's UUID never changes once listed; its name and id may, through
/// [`ObjMut`] (the indexes follow when the guard is dropped).
#[derive(Debug, Clone)]
pub struct DomainList<X> {
    slots: BTreeMap<Key, Slot<X>>,
    index: Index,
    next: u64,
}

impl<X> Default for DomainList<X> {
    fn default() -> Self {
        DomainList {
            slots: BTreeMap::new(),
            index: Index::default(),
            next: 0,
        }
    }
}

/// Mutable access to one listed object; the list's name and id indexes
/// are brought up to date when it is dropped.
pub struct ObjMut<'a, X> {
    key: Key,
    slot: &'a mut Slot<X>,
    index: &'a mut Index,
}

impl<X> Deref for ObjMut<'_, X> {
    type Target = DomainObj<X>;
    fn deref(&self) -> &DomainObj<X> {
        &self.slot.obj
    }
}

impl<X> DerefMut for ObjMut<'_, X> {
    fn deref_mut(&mut self) -> &mut DomainObj<X> {
        &mut self.slot.obj
    }
}

impl<X> Drop for ObjMut<'_, X> {
    fn drop(&mut self) {
        self.index.sync(self.key, self.slot);
    }
}

impl<X> ObjMut<'_, X> {
    pub fn key(&self) -> Key {
        self.key
    }
}

/// How [`DomainList::add`] treats an object that exists (libvirt's
/// VIR_DOMAIN_OBJ_LIST_ADD_* flags).
#[derive(Debug, Clone, Copy, Default)]
pub struct AddFlags {
    /// The definition is the running one (create, restore).
    pub live: bool,
    /// Refuse an existing object that runs or is being started.
    pub check_live: bool,
    /// Leave an existing object's definitions alone: the caller hands
    /// the definition on itself (the QEMU driver's start takes the
    /// running definition apart from the persistent one).
    pub keep_existing: bool,
}

impl<X> DomainList<X> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Every object, in order of insertion.
    pub fn iter(&self) -> impl Iterator<Item = &DomainObj<X>> {
        self.slots.values().map(|s| &s.obj)
    }

    /// Every key, in order of insertion.
    pub fn keys(&self) -> Vec<Key> {
        self.slots.keys().copied().collect()
    }

    /// Runs `f` on every object (the indexes follow each change).
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&mut DomainObj<X>)) {
        for (k, slot) in self.slots.iter_mut() {
            f(&mut slot.obj);
            self.index.sync(*k, slot);
        }
    }

    pub fn find_uuid(&self, uuid: &Uuid) -> Option<Key> {
        self.index.by_uuid.get(uuid).copied()
    }

    pub fn find_name(&self, name: &str) -> Option<Key> {
        self.index.by_name.get(name).copied()
    }

    /// The running domain with id `id`.
    pub fn find_id(&self, id: i32) -> Option<Key> {
        self.index.by_id.get(&id).copied()
    }

    pub fn get(&self, key: Key) -> Option<&DomainObj<X>> {
        self.slots.get(&key).map(|s| &s.obj)
    }

    pub fn get_mut(&mut self, key: Key) -> Option<ObjMut<'_, X>> {
        let slot = self.slots.get_mut(&key)?;
        Some(ObjMut {
            key,
            slot,
            index: &mut self.index,
        })
    }

    pub fn by_uuid(&self, uuid: &Uuid) -> Option<&DomainObj<X>> {
        self.find_uuid(uuid).and_then(|k| self.get(k))
    }

    pub fn by_uuid_mut(&mut self, uuid: &Uuid) -> Option<ObjMut<'_, X>> {
        let k = self.find_uuid(uuid)?;
        self.get_mut(k)
    }

    pub fn by_name(&self, name: &str) -> Option<&DomainObj<X>> {
        self.find_name(name).and_then(|k| self.get(k))
    }

    pub fn by_id(&self, id: i32) -> Option<&DomainObj<X>> {
        self.find_id(id).and_then(|k| self.get(k))
    }

    /// The object a client's handle designates (by UUID), or the drivers'
    /// "no domain with matching uuid" error in the domain `from`.
    pub fn lookup(&self, dom: &DomainRef, from: i32) -> Result<&DomainObj<X>> {
        self.by_uuid(&dom.uuid)
            .ok_or_else(|| no_domain_uuid(dom, from))
    }

    pub fn lookup_mut(&mut self, dom: &DomainRef, from: i32) -> Result<ObjMut<'_, X>> {
        match self.find_uuid(&dom.uuid) {
            Some(k) => self.get_mut(k).ok_or_else(|| no_domain_uuid(dom, from)),
            None => Err(no_domain_uuid(dom, from)),
        }
    }

    /// Lists a new object. Its UUID and name must be free.
    pub fn insert(&mut self, obj: DomainObj<X>) -> Key {
        let key = Key(self.next);
        self.next += 1;
        self.index.by_uuid.insert(obj.def.uuid, key);
        let mut slot = Slot {
            name: String::new(),
            id: None,
            obj,
        };
        // Index the name and id as a change from nothing.
        slot.name = slot.obj.def.name.clone();
        self.index.by_name.insert(slot.name.clone(), key);
        self.index.sync(key, &mut slot);
        self.slots.insert(key, slot);
        key
    }

    /// Forgets the object of `uuid` if it is transient and inactive (a
    /// transient domain that failed to start, libvirt's
    /// qemuDomainRemoveInactive).
    pub fn remove_if_transient_inactive(&mut self, uuid: &Uuid) {
        let forget = self
            .by_uuid(uuid)
            .is_some_and(|o| !o.persistent && !o.is_active());
        if let Some(k) = self.find_uuid(uuid).filter(|_| forget) {
            self.remove(k);
        }
    }

    /// Takes an object out of the list.
    pub fn remove(&mut self, key: Key) -> Option<DomainObj<X>> {
        let slot = self.slots.remove(&key)?;
        if self.index.by_uuid.get(&slot.obj.def.uuid) == Some(&key) {
            self.index.by_uuid.remove(&slot.obj.def.uuid);
        }
        if self.index.by_name.get(&slot.name) == Some(&key) {
            self.index.by_name.remove(&slot.name);
        }
        if let Some(id) = slot.id {
            if self.index.by_id.get(&id) == Some(&key) {
                self.index.by_id.remove(&id);
            }
        }
        Some(slot.obj)
    }

    /// virDomainObjListAdd: lists `def` as a new object (`ext()` gives
    /// its driver part), or assigns it to the object of the same UUID and
    /// name; refuses a UUID listed under another name, a name listed
    /// under another UUID, and with `check_live` an object that runs or is
    /// being started. Returns the object's key and whether it existed.
    pub fn add(
        &mut self,
        def: Domain,
        flags: AddFlags,
        ext: impl FnOnce() -> X,
    ) -> Result<(Key, bool)> {
        if let Some(key) = self.find_uuid(&def.uuid) {
            let mut obj = self.get_mut(key).expect("indexed key is listed");
            if obj.def.name != def.name {
                return Err(Error::operation_failed(
                    from::DOMAIN,
                    format!(
                        "domain '{}' is already defined with uuid {}",
                        obj.def.name, obj.def.uuid
                    ),
                ));
            }
            if flags.check_live {
                if obj.is_active() {
                    return Err(Error::operation_invalid(
                        from::DOMAIN,
                        format!("domain '{}' is already active", obj.def.name),
                    ));
                }
                if !obj.persistent {
                    return Err(Error::operation_invalid(
                        from::DOMAIN,
                        format!("domain '{}' is already being started", obj.def.name),
                    ));
                }
            }
            if !flags.keep_existing {
                obj.assign_def(def, flags.live);
            }
            return Ok((key, true));
        }
        if let Some(other) = self.by_name(&def.name) {
            return Err(Error::operation_failed(
                from::DOMAIN,
                format!(
                    "domain '{}' already exists with uuid {}",
                    def.name, other.def.uuid
                ),
            ));
        }
        Ok((self.insert(DomainObj::new(def, ext())), false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str, n: u8) -> Domain {
        let xml = format!(
            "<domain type='test'><name>{}</name><uuid>{}</uuid><memory>1024</memory>\
             <os><type>hvm</type></os></domain>",
            name,
            Uuid([n; 16])
        );
        let opts = oxvirt_xml::domain::ParseOptions {
            default_arch: Some("x86_64".into()),
        };
        Domain::parse(&xml, Default::default(), &opts).expect("parses")
    }

    #[test]
    fn lookups_follow_names_ids_and_removals() {
        let mut l: DomainList<()> = DomainList::new();
        let (a, existed) = l.add(def("a", 1), AddFlags::default(), || ()).unwrap();
        assert!(!existed);
        let (b, _) = l.add(def("b", 2), AddFlags::default(), || ()).unwrap();
        assert_eq!(l.find_name("a"), Some(a));
        assert_eq!(l.find_uuid(&Uuid([2; 16])), Some(b));
        // Same UUID, other name; same name, other UUID.
        let e = l.add(def("c", 1), AddFlags::default(), || ()).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "operation failed: domain 'a' is already defined with uuid {}",
                Uuid([1; 16])
            )
        );
        let e = l.add(def("a", 3), AddFlags::default(), || ()).unwrap_err();
        assert!(
            e.message.contains("domain 'a' already exists with uuid"),
            "{}",
            e
        );
        {
            let mut o = l.get_mut(a).unwrap();
            o.def.name = "renamed".into();
            o.def.id = Some(7);
            o.set_state(DomainState::Running, 1);
        }
        assert_eq!(l.find_name("a"), None);
        assert_eq!(l.find_name("renamed"), Some(a));
        assert_eq!(l.find_id(7), Some(a));
        l.for_each_mut(|o| {
            if o.def.name == "renamed" {
                o.set_state(DomainState::Shutoff, 1);
            }
        });
        assert_eq!(l.find_id(7), None);
        assert_eq!(
            l.iter().map(|o| o.def.name.as_str()).collect::<Vec<_>>(),
            ["renamed", "b"]
        );
        assert!(l.remove(a).is_some());
        assert_eq!(l.find_uuid(&Uuid([1; 16])), None);
        assert_eq!(l.find_name("renamed"), None);
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn a_running_object_keeps_its_definition_for_shutdown() {
        let mut o = DomainObj::new(def("a", 1), ());
        o.persistent = true;
        o.def.id = Some(1);
        o.set_state(DomainState::Running, 1);
        o.set_def_transient();
        let mut next = def("a", 1);
        next.memory = 2048;
        // The persistent definition kept at start is the one replaced.
        assert_eq!(o.assign_def(next, false).map(|d| d.memory), Some(1024));
        assert_eq!(o.persistent_def().memory, 2048);
        o.set_state(DomainState::Shutoff, 1);
        o.remove_transient_def();
        assert_eq!(o.def.memory, 2048);
        assert_eq!(o.def.id, None);
    }
}
