//! The driver's state: node description and the objects it holds.

use std::sync::{Mutex, MutexGuard};

use oxvirt_core::domobj::{self, DomainList, Key, ObjMut};
use oxvirt_core::error::from;
use oxvirt_core::event::{DomainEvent, EventHub};
use oxvirt_core::types::{DomainRef, DomainState, NodeInfo, Uuid};
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::{Domain, ParseOptions};

pub(crate) use crate::base::FROM;

/// One NUMA cell of the fake host.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub cpus: u32,
    /// KiB
    pub mem: u64,
    /// KiB
    pub free_mem: u64,
}

/// Per-iothread tunables the test driver remembers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IoThreadState {
    pub id: u32,
    pub poll_max_ns: u64,
    pub poll_grow: u32,
    pub poll_shrink: u32,
}

/// The test driver's part of a domain object (libvirt's
/// testDomainObjPrivate and the state the test driver keeps beside it).
#[derive(Debug, Clone)]
pub(crate) struct TestDomain {
    pub has_managed_save: bool,
    pub iothreads: Vec<IoThreadState>,
    /// Guest time set through the time APIs: (seconds, nanoseconds).
    pub time: (i64, u32),
    /// Taint flags (bit N = libvirt's virDomainTaintFlags N).
    pub taint: u32,
    /// Deprecated configuration in use.
    pub deprecations: Vec<String>,
    pub snapshots: crate::moments::SnapshotTree,
    pub checkpoints: crate::moments::CheckpointTree,
    /// File systems frozen through the guest agent: `/` and `/boot`.
    pub frozen: [bool; 2],
}

/// A domain with its runtime state (libvirt's virDomainObj).
pub(crate) type DomainObj = domobj::DomainObj<TestDomain>;

/// A new, inactive and transient domain object.
pub(crate) fn new_obj(def: Domain) -> DomainObj {
    DomainObj::new(def, TestDomain::new())
}

impl TestDomain {
    pub fn new() -> TestDomain {
        TestDomain {
            has_managed_save: false,
            iothreads: Vec::new(),
            // testDomainObjPrivateAlloc's guest clock.
            time: (627_319_920, 0),
            taint: 0,
            deprecations: Vec::new(),
            snapshots: Default::default(),
            checkpoints: Default::default(),
            frozen: [false; 2],
        }
    }
}

/// Everything one test driver instance holds.
pub(crate) struct State {
    pub node: NodeInfo,
    pub cells: Vec<Cell>,
    pub next_dom_id: i32,
    pub domains: DomainList<TestDomain>,
    pub objects: crate::hostobjs::Objects,
    pub host: crate::hostobjs::HostObjects,
    pub auth_users: Vec<(String, Option<String>)>,
}

/// The default host of `test:///default` (libvirt's defaultNodeInfo).
pub(crate) fn default_node_info() -> NodeInfo {
    NodeInfo {
        model: "i686".into(),
        memory: 1024 * 1024 * 3,
        cpus: 16,
        mhz: 1400,
        nodes: 2,
        sockets: 2,
        cores: 2,
        threads: 2,
    }
}

/// Options for parsing domain XML in this driver.
pub(crate) fn parse_options() -> ParseOptions {
    ParseOptions {
        default_arch: Some("i686".into()),
    }
}

/// A key that no longer designates an object: never, as keys are used
/// under the lock they were found with.
fn gone() -> Error {
    Error::internal(FROM, "domain object vanished")
}

pub(crate) fn no_domain_uuid(dom: &DomainRef) -> Error {
    domobj::no_domain_uuid(dom, FROM)
}

impl State {
    pub fn new(node: NodeInfo) -> State {
        State {
            node,
            cells: Vec::new(),
            next_dom_id: 1,
            domains: DomainList::new(),
            objects: Default::default(),
            host: Default::default(),
            auth_users: Vec::new(),
        }
    }

    /// The domain a client handle designates (resolved by UUID).
    pub fn dom(&self, d: &DomainRef) -> Result<&DomainObj> {
        self.domains.lookup(d, FROM)
    }

    pub fn dom_mut(&mut self, d: &DomainRef) -> Result<ObjMut<'_, TestDomain>> {
        self.domains.lookup_mut(d, FROM)
    }

    /// The object under `key` (found under the same lock).
    pub fn obj(&self, key: Key) -> Result<&DomainObj> {
        self.domains.get(key).ok_or_else(gone)
    }

    pub fn obj_mut(&mut self, key: Key) -> Result<ObjMut<'_, TestDomain>> {
        self.domains.get_mut(key).ok_or_else(gone)
    }

    /// Marks a domain running with a fresh id (testDomainStartState).
    pub fn start_state(&mut self, key: Key, reason: i32) {
        let id = self.next_dom_id;
        self.next_dom_id += 1;
        if let Some(mut obj) = self.domains.get_mut(key) {
            obj.set_state(DomainState::Running, reason);
            obj.def.id = Some(id);
            obj.set_def_transient();
            obj.has_managed_save = false;
        }
    }
}

/// Shared state plus the event fan-out of one driver instance.
pub(crate) struct Driver {
    pub state: Mutex<State>,
    pub events: EventHub,
    /// The capabilities document: the fake host never changes.
    pub caps: std::sync::OnceLock<String>,
}

impl Driver {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        domobj::lock(&self.state)
    }

    pub fn emit(&self, events: Vec<DomainEvent>) {
        for e in &events {
            self.events.emit_domain(e);
        }
    }

    /// Parses a domain document the way this driver does.
    pub fn parse_domain(&self, xml: &str, validate: bool) -> Result<Domain> {
        if validate {
            crate::schema::validate_domain(xml)?;
        }
        let flags = oxvirt_xml::domain::ParseFlags {
            inactive: true,
            ..Default::default()
        };
        let mut def = Domain::parse(xml, flags, &parse_options())
            .map_err(|e| Error::from_xml(e, from::DOMAIN))?;
        prepare_def(&mut def);
        Ok(def)
    }
}

/// What the test driver does to every definition it accepts: drop
/// extension elements of namespaces it does not format, give a UUID to
/// a definition without one, name interfaces (testDomainGenerateIfnames).
pub(crate) fn prepare_def(def: &mut Domain) {
    def.drop_extensions();
    if def.needs_uuid() {
        def.uuid = Uuid(*uuid::Uuid::new_v4().as_bytes());
    }
    generate_ifnames(def);
}

/// Names every interface without a target `testnetN`, the first N free.
pub(crate) fn generate_ifnames(def: &mut Domain) {
    for i in 0..def.devices.interfaces.len() {
        if def.devices.interfaces[i].target_dev.is_some() {
            continue;
        }
        for n in 0..1024 {
            let name = format!("testnet{}", n);
            if !def
                .devices
                .interfaces
                .iter()
                .any(|x| x.target_dev.as_deref() == Some(name.as_str()))
            {
                def.devices.interfaces[i].target_dev = Some(name);
                break;
            }
        }
    }
}
