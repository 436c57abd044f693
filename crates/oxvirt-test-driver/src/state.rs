//! The driver's state: node description and the objects it holds.

use std::sync::{Mutex, MutexGuard};

use oxvirt_core::error::{code, from};
use oxvirt_core::event::{DomainEvent, EventHub};
use oxvirt_core::types::{DomainRef, DomainState, NodeInfo, Uuid};
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::{Domain, ParseOptions};

/// Errors from this driver are attributed to the test driver.
pub(crate) const FROM: i32 = from::TEST;

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

/// A domain with its runtime state (libvirt's virDomainObj).
#[derive(Debug, Clone)]
pub(crate) struct DomainObj {
    /// The live definition while active, the persistent one otherwise.
    pub def: Domain,
    /// The persistent definition while the domain runs (libvirt's newDef).
    pub new_def: Option<Domain>,
    pub state: DomainState,
    pub reason: i32,
    pub persistent: bool,
    pub autostart: bool,
    pub has_managed_save: bool,
    pub iothreads: Vec<IoThreadState>,
    /// Guest time set through the time APIs: (seconds, nanoseconds).
    pub time: (i64, u32),
    /// Taint flags (bit N = libvirt's virDomainTaintFlags N).
    pub taint: u32,
    /// Deprecated configuration in use.
    pub deprecations: Vec<String>,
    pub snapshots: crate::snapshots::SnapshotTree,
    pub checkpoints: crate::checkpoints::CheckpointTree,
    /// File systems frozen through the guest agent: `/` and `/boot`.
    pub frozen: [bool; 2],
}

impl DomainObj {
    pub fn new(def: Domain) -> DomainObj {
        DomainObj {
            def,
            new_def: None,
            state: DomainState::Shutoff,
            reason: 0,
            persistent: false,
            autostart: false,
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

    pub fn is_active(&self) -> bool {
        self.state.is_active()
    }

    pub fn handle(&self) -> DomainRef {
        DomainRef {
            name: self.def.name.clone(),
            uuid: self.def.uuid,
            id: if self.is_active() {
                self.def.id.unwrap_or(-1)
            } else {
                -1
            },
        }
    }

    /// The persistent definition (libvirt's virDomainObjGetPersistentDef).
    pub fn persistent_def(&self) -> &Domain {
        self.new_def.as_ref().unwrap_or(&self.def)
    }

    pub fn set_state(&mut self, state: DomainState, reason: i32) {
        self.state = state;
        self.reason = reason;
    }

    /// Keeps a copy of the persistent definition while running
    /// (virDomainObjSetDefTransient).
    pub fn set_def_transient(&mut self) {
        if self.persistent && self.new_def.is_none() {
            self.new_def = Some(self.def.clone());
        }
    }

    /// Drops the live definition on shutdown (virDomainObjRemoveTransientDef).
    pub fn remove_transient_def(&mut self) {
        if let Some(d) = self.new_def.take() {
            self.def = d;
        }
        self.def.id = None;
    }

    /// libvirt's virDomainObjCheckActive.
    pub fn check_active(&self) -> Result<()> {
        if !self.is_active() {
            return Err(Error::operation_invalid(FROM, "domain is not running"));
        }
        Ok(())
    }

    /// Resolves virDomainModificationImpact flags; returns `(live, config)`
    /// (virDomainObjUpdateModificationImpact).
    pub fn modification_impact(&self, flags: u32) -> Result<(bool, bool)> {
        use oxvirt_core::types::flags::affect::{CONFIG, LIVE};
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
            return Err(Error::operation_invalid(FROM, "domain is not running"));
        }
        if !self.persistent && config {
            return Err(Error::operation_invalid(
                FROM,
                "transient domains do not have any persistent config",
            ));
        }
        Ok((live, config))
    }

    /// The one definition `flags` designates (virDomainObjGetOneDef).
    pub fn one_def_mut(&mut self, flags: u32) -> Result<&mut Domain> {
        use oxvirt_core::types::flags::affect::{CONFIG, LIVE};
        if flags & LIVE != 0 && flags & CONFIG != 0 {
            return Err(Error::raw(
                code::INVALID_ARG,
                FROM,
                "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
            ));
        }
        let (_, config) = self.modification_impact(flags)?;
        if self.is_active() && config {
            if self.new_def.is_none() {
                self.new_def = Some(self.def.clone());
            }
            if let Some(d) = self.new_def.as_mut() {
                return Ok(d);
            }
        }
        Ok(&mut self.def)
    }

    pub fn one_def(&self, flags: u32) -> Result<&Domain> {
        use oxvirt_core::types::flags::affect::{CONFIG, LIVE};
        if flags & LIVE != 0 && flags & CONFIG != 0 {
            return Err(Error::raw(
                code::INVALID_ARG,
                FROM,
                "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
            ));
        }
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
}

/// Everything one test driver instance holds.
pub(crate) struct State {
    pub node: NodeInfo,
    pub cells: Vec<Cell>,
    pub next_dom_id: i32,
    pub domains: Vec<DomainObj>,
    pub objects: crate::objects::Objects,
    pub host: crate::hostdev::HostObjects,
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

pub(crate) fn no_domain_uuid(dom: &DomainRef) -> Error {
    Error::new(
        code::NO_DOMAIN,
        FROM,
        format!("no domain with matching uuid '{}' ({})", dom.uuid, dom.name),
    )
}

impl State {
    pub fn new(node: NodeInfo) -> State {
        State {
            node,
            cells: Vec::new(),
            next_dom_id: 1,
            domains: Vec::new(),
            objects: Default::default(),
            host: Default::default(),
            auth_users: Vec::new(),
        }
    }

    pub fn find_uuid(&self, uuid: &Uuid) -> Option<usize> {
        self.domains.iter().position(|d| d.def.uuid == *uuid)
    }

    pub fn find_name(&self, name: &str) -> Option<usize> {
        self.domains.iter().position(|d| d.def.name == name)
    }

    /// The domain a client handle designates (resolved by UUID).
    pub fn dom(&self, d: &DomainRef) -> Result<&DomainObj> {
        self.find_uuid(&d.uuid)
            .and_then(|i| self.domains.get(i))
            .ok_or_else(|| no_domain_uuid(d))
    }

    pub fn dom_mut(&mut self, d: &DomainRef) -> Result<&mut DomainObj> {
        match self.find_uuid(&d.uuid) {
            Some(i) => Ok(&mut self.domains[i]),
            None => Err(no_domain_uuid(d)),
        }
    }

    pub fn remove_uuid(&mut self, uuid: &Uuid) {
        self.domains.retain(|d| d.def.uuid != *uuid);
    }

    /// Marks a domain running with a fresh id (testDomainStartState).
    pub fn start_state(&mut self, idx: usize, reason: i32) {
        let id = self.next_dom_id;
        self.next_dom_id += 1;
        let obj = &mut self.domains[idx];
        obj.set_state(DomainState::Running, reason);
        obj.def.id = Some(id);
        obj.set_def_transient();
        obj.has_managed_save = false;
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
        self.state.lock().unwrap_or_else(|p| p.into_inner())
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
