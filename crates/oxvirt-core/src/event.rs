//! Domain, network and pool events with libvirt's numbering.

use std::sync::Arc;

use crate::driver::NodeDevEventCallback;
use crate::types::{DomainRef, NetworkRef, NodeDevRef, PoolRef, SecretRef, TypedParam};

/// `virDomainEventID`: the number of domain event kinds (0..=26).
pub const DOMAIN_EVENT_ID_LAST: i32 = 27;

/// `virDomainEventType` and its details.
pub mod lifecycle {
    pub const DEFINED: i32 = 0;
    pub const UNDEFINED: i32 = 1;
    pub const STARTED: i32 = 2;
    pub const SUSPENDED: i32 = 3;
    pub const RESUMED: i32 = 4;
    pub const STOPPED: i32 = 5;
    pub const SHUTDOWN: i32 = 6;
    pub const PMSUSPENDED: i32 = 7;
    pub const CRASHED: i32 = 8;

    pub mod defined {
        pub const ADDED: i32 = 0;
        pub const UPDATED: i32 = 1;
        pub const RENAMED: i32 = 2;
        pub const FROM_SNAPSHOT: i32 = 3;
    }
    pub mod undefined {
        pub const REMOVED: i32 = 0;
        pub const RENAMED: i32 = 1;
    }
    pub mod started {
        pub const BOOTED: i32 = 0;
        pub const MIGRATED: i32 = 1;
        pub const RESTORED: i32 = 2;
        pub const FROM_SNAPSHOT: i32 = 3;
        pub const WAKEUP: i32 = 4;
    }
    pub mod suspended {
        pub const PAUSED: i32 = 0;
        pub const MIGRATED: i32 = 1;
        pub const IOERROR: i32 = 2;
        pub const WATCHDOG: i32 = 3;
        pub const RESTORED: i32 = 4;
        pub const FROM_SNAPSHOT: i32 = 5;
        pub const API_ERROR: i32 = 6;
        pub const POSTCOPY: i32 = 7;
        pub const POSTCOPY_FAILED: i32 = 8;
    }
    pub mod resumed {
        pub const UNPAUSED: i32 = 0;
        pub const MIGRATED: i32 = 1;
        pub const FROM_SNAPSHOT: i32 = 2;
        pub const POSTCOPY: i32 = 3;
        pub const POSTCOPY_FAILED: i32 = 4;
    }
    pub mod stopped {
        pub const SHUTDOWN: i32 = 0;
        pub const DESTROYED: i32 = 1;
        pub const CRASHED: i32 = 2;
        pub const MIGRATED: i32 = 3;
        pub const SAVED: i32 = 4;
        pub const FAILED: i32 = 5;
        pub const FROM_SNAPSHOT: i32 = 6;
    }
    pub mod shutdown {
        pub const FINISHED: i32 = 0;
        pub const GUEST: i32 = 1;
        pub const HOST: i32 = 2;
    }
    pub mod pmsuspended {
        pub const MEMORY: i32 = 0;
        pub const DISK: i32 = 1;
    }
    pub mod crashed {
        pub const PANICKED: i32 = 0;
        pub const CRASHLOADED: i32 = 1;
    }
}

/// A graphics endpoint in a graphics event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GraphicsAddress {
    pub family: i32,
    pub node: String,
    pub service: String,
}

/// What happened, with the payload each `virDomainEventID` carries.
#[derive(Debug, Clone, PartialEq)]
pub enum DomainEventKind {
    Lifecycle {
        event: i32,
        detail: i32,
    },
    Reboot,
    RtcChange {
        offset: i64,
    },
    Watchdog {
        action: i32,
    },
    IoError {
        src_path: String,
        dev_alias: String,
        action: i32,
    },
    Graphics {
        phase: i32,
        local: GraphicsAddress,
        remote: GraphicsAddress,
        auth_scheme: String,
        subject: Vec<(String, String)>,
    },
    IoErrorReason {
        src_path: String,
        dev_alias: String,
        action: i32,
        reason: String,
    },
    ControlError,
    BlockJob {
        path: String,
        job_type: i32,
        status: i32,
    },
    DiskChange {
        old_src: Option<String>,
        new_src: Option<String>,
        dev_alias: String,
        reason: i32,
    },
    TrayChange {
        dev_alias: String,
        reason: i32,
    },
    PmWakeup {
        reason: i32,
    },
    PmSuspend {
        reason: i32,
    },
    BalloonChange {
        actual: u64,
    },
    PmSuspendDisk {
        reason: i32,
    },
    DeviceRemoved {
        dev_alias: String,
    },
    BlockJob2 {
        dst: String,
        job_type: i32,
        status: i32,
    },
    Tunable {
        params: Vec<TypedParam>,
    },
    AgentLifecycle {
        state: i32,
        reason: i32,
    },
    DeviceAdded {
        dev_alias: String,
    },
    MigrationIteration {
        iteration: i32,
    },
    JobCompleted {
        params: Vec<TypedParam>,
    },
    DeviceRemovalFailed {
        dev_alias: String,
    },
    MetadataChange {
        kind: i32,
        nsuri: Option<String>,
    },
    BlockThreshold {
        dev: String,
        path: Option<String>,
        threshold: u64,
        excess: u64,
    },
    MemoryFailure {
        recipient: i32,
        action: i32,
        flags: u32,
    },
    MemoryDeviceSizeChange {
        alias: String,
        size: u64,
    },
}

impl DomainEventKind {
    /// The `virDomainEventID` of this event.
    pub fn event_id(&self) -> i32 {
        use DomainEventKind::*;
        match self {
            Lifecycle { .. } => 0,
            Reboot => 1,
            RtcChange { .. } => 2,
            Watchdog { .. } => 3,
            IoError { .. } => 4,
            Graphics { .. } => 5,
            IoErrorReason { .. } => 6,
            ControlError => 7,
            BlockJob { .. } => 8,
            DiskChange { .. } => 9,
            TrayChange { .. } => 10,
            PmWakeup { .. } => 11,
            PmSuspend { .. } => 12,
            BalloonChange { .. } => 13,
            PmSuspendDisk { .. } => 14,
            DeviceRemoved { .. } => 15,
            BlockJob2 { .. } => 16,
            Tunable { .. } => 17,
            AgentLifecycle { .. } => 18,
            DeviceAdded { .. } => 19,
            MigrationIteration { .. } => 20,
            JobCompleted { .. } => 21,
            DeviceRemovalFailed { .. } => 22,
            MetadataChange { .. } => 23,
            BlockThreshold { .. } => 24,
            MemoryFailure { .. } => 25,
            MemoryDeviceSizeChange { .. } => 26,
        }
    }
}

/// A domain event as delivered to a callback.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    pub dom: DomainRef,
    pub kind: DomainEventKind,
}

impl DomainEvent {
    pub fn lifecycle(dom: DomainRef, event: i32, detail: i32) -> Self {
        DomainEvent {
            dom,
            kind: DomainEventKind::Lifecycle { event, detail },
        }
    }
}

/// `virNetworkEventLifecycleType`
pub mod network_lifecycle {
    pub const DEFINED: i32 = 0;
    pub const UNDEFINED: i32 = 1;
    pub const STARTED: i32 = 2;
    pub const STOPPED: i32 = 3;
}

/// `virStoragePoolEventLifecycleType`
pub mod pool_lifecycle {
    pub const DEFINED: i32 = 0;
    pub const UNDEFINED: i32 = 1;
    pub const STARTED: i32 = 2;
    pub const STOPPED: i32 = 3;
    pub const CREATED: i32 = 4;
    pub const DELETED: i32 = 5;
}

/// `virSecretEventLifecycleType`
pub mod secret_lifecycle {
    pub const DEFINED: i32 = 0;
    pub const UNDEFINED: i32 = 1;
}

/// A secret event: lifecycle (`VIR_SECRET_EVENT_ID_LIFECYCLE`) or a new
/// value (`VIR_SECRET_EVENT_ID_VALUE_CHANGED`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretEventKind {
    Lifecycle { event: i32, detail: i32 },
    ValueChanged,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretEvent {
    pub secret: SecretRef,
    pub kind: SecretEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkEventKind {
    Lifecycle { event: i32, detail: i32 },
    MetadataChange { kind: i32, nsuri: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkEvent {
    pub net: NetworkRef,
    pub kind: NetworkEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolEventKind {
    Lifecycle { event: i32, detail: i32 },
    Refresh,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolEvent {
    pub pool: PoolRef,
    pub kind: PoolEventKind,
}

/// A QEMU monitor event (libvirt-qemu's monitor event callback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuMonitorEvent {
    pub dom: DomainRef,
    pub event: String,
    pub seconds: i64,
    pub micros: u32,
    /// The event's data as JSON.
    pub details: Option<String>,
}

pub type DomainEventCallback = Arc<dyn Fn(&DomainEvent) + Send + Sync>;
pub type QemuMonitorEventCallback = Arc<dyn Fn(&QemuMonitorEvent) + Send + Sync>;
pub type NetworkEventCallback = Arc<dyn Fn(&NetworkEvent) + Send + Sync>;
pub type PoolEventCallback = Arc<dyn Fn(&PoolEvent) + Send + Sync>;
pub type SecretEventCallback = Arc<dyn Fn(&SecretEvent) + Send + Sync>;

/// One registered callback with its filters (the object by UUID, or by
/// name for node devices).
struct Entry<K, C> {
    id: i32,
    object: Option<K>,
    event_id: i32,
    cb: C,
}

/// Callbacks of one family (domain, network, pool or node device).
struct Registry<C, K = crate::types::Uuid>(std::sync::Mutex<Vec<Entry<K, C>>>);

impl<C: Clone, K: PartialEq> Registry<C, K> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry<K, C>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, id: i32, object: Option<K>, event_id: i32, cb: C) {
        self.lock().push(Entry {
            id,
            object,
            event_id,
            cb,
        });
    }

    fn remove(&self, id: i32) -> bool {
        let mut v = self.lock();
        let before = v.len();
        v.retain(|e| e.id != id);
        v.len() != before
    }

    /// The callbacks that want `event_id` for the object `key`.
    fn targets(&self, event_id: i32, key: &K) -> Vec<C> {
        self.lock()
            .iter()
            .filter(|e| e.event_id == event_id && e.object.as_ref().is_none_or(|k| k == key))
            .map(|e| e.cb.clone())
            .collect()
    }
}

impl<C, K> Default for Registry<C, K> {
    fn default() -> Self {
        Registry(std::sync::Mutex::new(Vec::new()))
    }
}

/// Callbacks registered on one driver instance, with their filters.
/// Drivers own one of these and call `emit_*` on every transition.
#[derive(Default)]
pub struct EventHub {
    next_id: std::sync::atomic::AtomicI32,
    domain: Registry<DomainEventCallback>,
    network: Registry<NetworkEventCallback>,
    pool: Registry<PoolEventCallback>,
    node_device: Registry<NodeDevEventCallback, String>,
    secret: Registry<SecretEventCallback>,
}

impl EventHub {
    pub fn new() -> Self {
        Self::default()
    }

    fn next(&self) -> i32 {
        self.next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
    }

    pub fn register_domain(
        &self,
        dom: Option<&DomainRef>,
        event_id: i32,
        cb: DomainEventCallback,
    ) -> i32 {
        let id = self.next();
        self.domain.push(id, dom.map(|d| d.uuid), event_id, cb);
        id
    }

    pub fn register_network(
        &self,
        net: Option<&NetworkRef>,
        event_id: i32,
        cb: NetworkEventCallback,
    ) -> i32 {
        let id = self.next();
        self.network.push(id, net.map(|n| n.uuid), event_id, cb);
        id
    }

    pub fn register_pool(
        &self,
        pool: Option<&PoolRef>,
        event_id: i32,
        cb: PoolEventCallback,
    ) -> i32 {
        let id = self.next();
        self.pool.push(id, pool.map(|p| p.uuid), event_id, cb);
        id
    }

    /// A secret callback (`secret`: only that secret's events).
    pub fn register_secret(
        &self,
        secret: Option<&SecretRef>,
        event_id: i32,
        cb: SecretEventCallback,
    ) -> i32 {
        let id = self.next();
        self.secret.push(id, secret.map(|s| s.uuid), event_id, cb);
        id
    }

    /// A node device callback (`dev`: only that device's events).
    pub fn register_node_device(
        &self,
        dev: Option<&NodeDevRef>,
        event_id: i32,
        cb: NodeDevEventCallback,
    ) -> i32 {
        let id = self.next();
        self.node_device
            .push(id, dev.map(|d| d.name.clone()), event_id, cb);
        id
    }

    /// Removes a callback of any kind; false when the id is unknown.
    pub fn deregister(&self, id: i32) -> bool {
        self.domain.remove(id)
            | self.network.remove(id)
            | self.pool.remove(id)
            | self.node_device.remove(id)
            | self.secret.remove(id)
    }

    pub fn emit_secret(&self, ev: &SecretEvent) {
        let id = match ev.kind {
            SecretEventKind::Lifecycle { .. } => 0,
            SecretEventKind::ValueChanged => 1,
        };
        for cb in self.secret.targets(id, &ev.secret.uuid) {
            cb(ev);
        }
    }

    /// A node device lifecycle event (`VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE`).
    pub fn emit_node_device_lifecycle(&self, name: &str, event: i32, detail: i32) {
        for cb in self.node_device.targets(0, &name.to_string()) {
            cb(name, event, detail);
        }
    }

    /// A node device update event (`VIR_NODE_DEVICE_EVENT_ID_UPDATE`).
    pub fn emit_node_device_update(&self, name: &str) {
        for cb in self.node_device.targets(1, &name.to_string()) {
            cb(name, 0, 0);
        }
    }

    pub fn emit_domain(&self, ev: &DomainEvent) {
        for cb in self.domain.targets(ev.kind.event_id(), &ev.dom.uuid) {
            cb(ev);
        }
    }

    pub fn emit_network(&self, ev: &NetworkEvent) {
        let id = match ev.kind {
            NetworkEventKind::Lifecycle { .. } => 0,
            NetworkEventKind::MetadataChange { .. } => 1,
        };
        for cb in self.network.targets(id, &ev.net.uuid) {
            cb(ev);
        }
    }

    pub fn emit_pool(&self, ev: &PoolEvent) {
        let id = match ev.kind {
            PoolEventKind::Lifecycle { .. } => 0,
            PoolEventKind::Refresh => 1,
        };
        for cb in self.pool.targets(id, &ev.pool.uuid) {
            cb(ev);
        }
    }
}
