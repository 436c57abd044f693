//! Event callbacks: driver events become MESSAGE frames for the client
//! that registered them.
//!
//! A callback holds only the client's outgoing queue, never the session
//! or the driver connection, so dropping the connection frees it.

use std::sync::Arc;

use oxvirt_core::access::{sees, Access, Target};
use oxvirt_core::driver::NodeDevEventCallback;
use oxvirt_core::event::{
    DomainEvent, DomainEventCallback, DomainEventKind, NetworkEvent, NetworkEventCallback,
    NetworkEventKind, PoolEvent, PoolEventCallback, PoolEventKind, SecretEvent,
    SecretEventCallback, SecretEventKind,
};
use oxvirt_core::types::NodeDevRef;
use oxvirt_core::{Connection, Result};
use oxvirt_proto::packet::{self, Header, MsgType, Status};
use oxvirt_proto::procs as p;
use oxvirt_proto::remote as r;
use oxvirt_proto::xdr::{self, Encoder, Xdr, XdrBounded};

use crate::server::{Callback, CallbackFamily, Outbox};
use oxvirt_proto::convert::{param_out, Wire};

/// libvirtd sends event messages with serial 1.
const EVENT_SERIAL: u32 = 1;

fn message(proc_: i32, payload: &[u8]) -> Option<Vec<u8>> {
    let h = Header {
        prog: packet::REMOTE_PROGRAM,
        vers: packet::PROTOCOL_VERSION,
        proc_,
        mtype: MsgType::Message,
        serial: EVENT_SERIAL,
        status: Status::Ok,
    };
    packet::frame_raw(&h, payload).ok()
}

/// The largest event id of the procedures before callback ids
/// (`VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED`).
pub const LEGACY_EVENT_ID_MAX: i32 = 15;

/// The message procedure and payload for a domain event, or None for
/// kinds this daemon does not forward yet. Without a callback id, the
/// message of the procedures before callback ids (which have no reason
/// for the power-management events).
pub fn encode_domain_event(callback_id: Option<i32>, ev: &DomainEvent) -> Option<(i32, Vec<u8>)> {
    use DomainEventKind as K;
    let mut e = Encoder::new();
    if let Some(id) = callback_id {
        e.put_i32(id);
        // The power-management messages put their reason before the domain.
        if let K::PmWakeup { reason } | K::PmSuspend { reason } | K::PmSuspendDisk { reason } =
            &ev.kind
        {
            e.put_i32(*reason);
        }
    }
    r::NonnullDomain::from_core(ev.dom.clone())
        .ok()?
        .encode(&mut e);
    let proc_ = match &ev.kind {
        K::Lifecycle { event, detail } => {
            e.put_i32(*event);
            e.put_i32(*detail);
            p::DOMAIN_EVENT_CALLBACK_LIFECYCLE
        }
        K::Reboot => p::DOMAIN_EVENT_CALLBACK_REBOOT,
        K::RtcChange { offset } => {
            e.put_i64(*offset);
            p::DOMAIN_EVENT_CALLBACK_RTC_CHANGE
        }
        K::Watchdog { action } => {
            e.put_i32(*action);
            p::DOMAIN_EVENT_CALLBACK_WATCHDOG
        }
        K::IoError {
            src_path,
            dev_alias,
            action,
        } => {
            e.put_str(src_path);
            e.put_str(dev_alias);
            e.put_i32(*action);
            p::DOMAIN_EVENT_CALLBACK_IO_ERROR
        }
        K::IoErrorReason {
            src_path,
            dev_alias,
            action,
            reason,
        } => {
            e.put_str(src_path);
            e.put_str(dev_alias);
            e.put_i32(*action);
            e.put_str(reason);
            p::DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON
        }
        K::ControlError => p::DOMAIN_EVENT_CALLBACK_CONTROL_ERROR,
        K::BlockJob {
            path,
            job_type,
            status,
        } => {
            e.put_str(path);
            e.put_i32(*job_type);
            e.put_i32(*status);
            p::DOMAIN_EVENT_CALLBACK_BLOCK_JOB
        }
        K::DiskChange {
            old_src,
            new_src,
            dev_alias,
            reason,
        } => {
            old_src.encode(&mut e);
            new_src.encode(&mut e);
            e.put_str(dev_alias);
            e.put_i32(*reason);
            p::DOMAIN_EVENT_CALLBACK_DISK_CHANGE
        }
        K::TrayChange { dev_alias, reason } => {
            e.put_str(dev_alias);
            e.put_i32(*reason);
            p::DOMAIN_EVENT_CALLBACK_TRAY_CHANGE
        }
        K::PmWakeup { .. } => p::DOMAIN_EVENT_CALLBACK_PMWAKEUP,
        K::PmSuspend { .. } => p::DOMAIN_EVENT_CALLBACK_PMSUSPEND,
        K::BalloonChange { actual } => {
            e.put_u64(*actual);
            p::DOMAIN_EVENT_CALLBACK_BALLOON_CHANGE
        }
        K::PmSuspendDisk { .. } => p::DOMAIN_EVENT_CALLBACK_PMSUSPEND_DISK,
        K::DeviceRemoved { dev_alias } => {
            e.put_str(dev_alias);
            p::DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED
        }
        K::BlockJob2 {
            dst,
            job_type,
            status,
        } => {
            e.put_str(dst);
            e.put_i32(*job_type);
            e.put_i32(*status);
            p::DOMAIN_EVENT_BLOCK_JOB_2
        }
        K::AgentLifecycle { state, reason } => {
            e.put_i32(*state);
            e.put_i32(*reason);
            p::DOMAIN_EVENT_CALLBACK_AGENT_LIFECYCLE
        }
        K::DeviceAdded { dev_alias } => {
            e.put_str(dev_alias);
            p::DOMAIN_EVENT_CALLBACK_DEVICE_ADDED
        }
        K::MigrationIteration { iteration } => {
            e.put_i32(*iteration);
            p::DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION
        }
        K::DeviceRemovalFailed { dev_alias } => {
            e.put_str(dev_alias);
            p::DOMAIN_EVENT_CALLBACK_DEVICE_REMOVAL_FAILED
        }
        K::MetadataChange { kind, nsuri } => {
            e.put_i32(*kind);
            nsuri.encode(&mut e);
            p::DOMAIN_EVENT_CALLBACK_METADATA_CHANGE
        }
        K::BlockThreshold {
            dev,
            path,
            threshold,
            excess,
        } => {
            e.put_str(dev);
            path.encode(&mut e);
            e.put_u64(*threshold);
            e.put_u64(*excess);
            p::DOMAIN_EVENT_BLOCK_THRESHOLD
        }
        K::MemoryFailure {
            recipient,
            action,
            flags,
        } => {
            e.put_i32(*recipient);
            e.put_i32(*action);
            e.put_u32(*flags);
            p::DOMAIN_EVENT_MEMORY_FAILURE
        }
        K::MemoryDeviceSizeChange { alias, size } => {
            e.put_str(alias);
            e.put_u64(*size);
            p::DOMAIN_EVENT_MEMORY_DEVICE_SIZE_CHANGE
        }
        K::Tunable { params } => {
            let ps: Vec<r::TypedParam> = params.iter().cloned().map(param_out).collect();
            XdrBounded::encode(&ps, &mut e);
            p::DOMAIN_EVENT_CALLBACK_TUNABLE
        }
        K::JobCompleted { params } => {
            let ps: Vec<r::TypedParam> = params.iter().cloned().map(param_out).collect();
            XdrBounded::encode(&ps, &mut e);
            p::DOMAIN_EVENT_CALLBACK_JOB_COMPLETED
        }
        // Graphics events carry a structure not forwarded yet.
        K::Graphics { .. } => return None,
    };
    let proc_ = match callback_id {
        Some(_) => proc_,
        None => legacy_proc(proc_)?,
    };
    Some((proc_, e.into_bytes()))
}

/// The message procedure a callback registered by the old procedures
/// gets for an event (the same layout without the callback id).
fn legacy_proc(proc_: i32) -> Option<i32> {
    Some(match proc_ {
        p::DOMAIN_EVENT_CALLBACK_LIFECYCLE => p::DOMAIN_EVENT_LIFECYCLE,
        p::DOMAIN_EVENT_CALLBACK_REBOOT => p::DOMAIN_EVENT_REBOOT,
        p::DOMAIN_EVENT_CALLBACK_RTC_CHANGE => p::DOMAIN_EVENT_RTC_CHANGE,
        p::DOMAIN_EVENT_CALLBACK_WATCHDOG => p::DOMAIN_EVENT_WATCHDOG,
        p::DOMAIN_EVENT_CALLBACK_IO_ERROR => p::DOMAIN_EVENT_IO_ERROR,
        p::DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON => p::DOMAIN_EVENT_IO_ERROR_REASON,
        p::DOMAIN_EVENT_CALLBACK_CONTROL_ERROR => p::DOMAIN_EVENT_CONTROL_ERROR,
        p::DOMAIN_EVENT_CALLBACK_BLOCK_JOB => p::DOMAIN_EVENT_BLOCK_JOB,
        p::DOMAIN_EVENT_CALLBACK_DISK_CHANGE => p::DOMAIN_EVENT_DISK_CHANGE,
        p::DOMAIN_EVENT_CALLBACK_TRAY_CHANGE => p::DOMAIN_EVENT_TRAY_CHANGE,
        p::DOMAIN_EVENT_CALLBACK_PMWAKEUP => p::DOMAIN_EVENT_PMWAKEUP,
        p::DOMAIN_EVENT_CALLBACK_PMSUSPEND => p::DOMAIN_EVENT_PMSUSPEND,
        p::DOMAIN_EVENT_CALLBACK_BALLOON_CHANGE => p::DOMAIN_EVENT_BALLOON_CHANGE,
        p::DOMAIN_EVENT_CALLBACK_PMSUSPEND_DISK => p::DOMAIN_EVENT_PMSUSPEND_DISK,
        p::DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED => p::DOMAIN_EVENT_DEVICE_REMOVED,
        _ => return None,
    })
}

/// A domain callback sending `wire_id`'s messages (the old messages when
/// None).
/// Whether the client may see an event's object (libvirtd's event ACL
/// check: the object's getattr permission).
fn shown(acl: &Option<Arc<dyn Access>>, perm: &str, t: impl FnOnce() -> Target) -> bool {
    acl.as_ref().is_none_or(|a| sees(a.as_ref(), perm, &t()))
}

pub fn domain_callback(
    out: Outbox,
    wire_id: Option<i32>,
    acl: Option<Arc<dyn Access>>,
) -> DomainEventCallback {
    Arc::new(move |ev: &DomainEvent| {
        if !shown(&acl, "domain.getattr", || Target::Domain(ev.dom.clone())) {
            return;
        }
        if let Some((proc_, payload)) = encode_domain_event(wire_id, ev) {
            if let Some(f) = message(proc_, &payload) {
                out.send(f);
            }
        }
    })
}

pub fn network_callback(
    out: Outbox,
    wire_id: i32,
    acl: Option<Arc<dyn Access>>,
) -> NetworkEventCallback {
    Arc::new(move |ev: &NetworkEvent| {
        if !shown(&acl, "network.getattr", || Target::Network(ev.net.clone())) {
            return;
        }
        // libvirt 9.0's protocol has no network metadata message.
        let NetworkEventKind::Lifecycle { event, detail } = &ev.kind else {
            return;
        };
        let mut e = Encoder::new();
        e.put_i32(wire_id);
        let Ok(net) = r::NonnullNetwork::from_core(ev.net.clone()) else {
            return;
        };
        net.encode(&mut e);
        e.put_i32(*event);
        e.put_i32(*detail);
        if let Some(f) = message(p::NETWORK_EVENT_LIFECYCLE, &e.into_bytes()) {
            out.send(f);
        }
    })
}

pub fn pool_callback(out: Outbox, wire_id: i32, acl: Option<Arc<dyn Access>>) -> PoolEventCallback {
    Arc::new(move |ev: &PoolEvent| {
        if !shown(&acl, "storage_pool.getattr", || {
            Target::Pool(ev.pool.clone())
        }) {
            return;
        }
        let mut e = Encoder::new();
        e.put_i32(wire_id);
        let Ok(pool) = r::NonnullStoragePool::from_core(ev.pool.clone()) else {
            return;
        };
        pool.encode(&mut e);
        let proc_ = match &ev.kind {
            PoolEventKind::Lifecycle { event, detail } => {
                e.put_i32(*event);
                e.put_i32(*detail);
                p::STORAGE_POOL_EVENT_LIFECYCLE
            }
            PoolEventKind::Refresh => p::STORAGE_POOL_EVENT_REFRESH,
        };
        if let Some(f) = message(proc_, &e.into_bytes()) {
            out.send(f);
        }
    })
}

/// `VIR_SECRET_EVENT_ID_LAST`: lifecycle (0) and value changed (1).
pub const SECRET_EVENT_ID_LAST: i32 = 2;
/// `VIR_STORAGE_POOL_EVENT_ID_LAST`: lifecycle (0) and refresh (1).
pub const POOL_EVENT_ID_LAST: i32 = 2;

/// The message for a secret event.
pub fn encode_secret_event(callback_id: i32, ev: &SecretEvent) -> (i32, Vec<u8>) {
    let secret = r::NonnullSecret {
        uuid: ev.secret.uuid.0,
        usage_type: ev.secret.usage_type,
        usage_id: ev.secret.usage_id.clone(),
    };
    match ev.kind {
        SecretEventKind::Lifecycle { event, detail } => {
            let m = r::SecretEventLifecycleMsg {
                callback_id,
                secret,
                event,
                detail,
            };
            (p::SECRET_EVENT_LIFECYCLE, xdr::to_bytes(&m))
        }
        SecretEventKind::ValueChanged => {
            let m = r::SecretEventValueChangedMsg {
                callback_id,
                secret,
            };
            (p::SECRET_EVENT_VALUE_CHANGED, xdr::to_bytes(&m))
        }
    }
}

pub fn secret_callback(
    out: Outbox,
    wire_id: i32,
    acl: Option<Arc<dyn Access>>,
) -> SecretEventCallback {
    Arc::new(move |ev: &SecretEvent| {
        if !shown(&acl, "secret.getattr", || Target::Secret(ev.secret.clone())) {
            return;
        }
        let (proc_, payload) = encode_secret_event(wire_id, ev);
        if let Some(f) = message(proc_, &payload) {
            out.send(f);
        }
    })
}

/// `VIR_NODE_DEVICE_EVENT_ID_LAST`: lifecycle (0) and update (1).
pub const NODE_DEVICE_EVENT_ID_LAST: i32 = 2;
const NODE_DEVICE_EVENT_ID_UPDATE: i32 = 1;

/// The message for a node device event: `(device name, event, detail)`
/// from the driver; an update callback's message carries the name only.
pub fn encode_node_device_event(
    callback_id: i32,
    event_id: i32,
    name: &str,
    event: i32,
    detail: i32,
) -> (i32, Vec<u8>) {
    let dev = r::NonnullNodeDevice {
        name: name.to_string(),
    };
    if event_id == NODE_DEVICE_EVENT_ID_UPDATE {
        let m = r::NodeDeviceEventUpdateMsg { callback_id, dev };
        (p::NODE_DEVICE_EVENT_UPDATE, xdr::to_bytes(&m))
    } else {
        let m = r::NodeDeviceEventLifecycleMsg {
            callback_id,
            dev,
            event,
            detail,
        };
        (p::NODE_DEVICE_EVENT_LIFECYCLE, xdr::to_bytes(&m))
    }
}

pub fn node_device_callback(
    out: Outbox,
    wire_id: i32,
    event_id: i32,
    acl: Option<Arc<dyn Access>>,
) -> NodeDevEventCallback {
    Arc::new(move |name: &str, event: i32, detail: i32| {
        let dev = || {
            Target::NodeDev(NodeDevRef {
                name: name.to_string(),
            })
        };
        if !shown(&acl, "node_device.getattr", dev) {
            return;
        }
        let (proc_, payload) = encode_node_device_event(wire_id, event_id, name, event, detail);
        if let Some(f) = message(proc_, &payload) {
            out.send(f);
        }
    })
}

/// Removes a callback from the driver.
pub fn deregister(c: &Connection, cb: &Callback) -> Result<()> {
    match cb.family {
        CallbackFamily::Domain => c.domain_event_deregister(cb.driver_id),
        CallbackFamily::Network => c.network_event_deregister(cb.driver_id),
        CallbackFamily::Pool => c.pool_event_deregister(cb.driver_id),
        CallbackFamily::NodeDevice => c.node_device_event_deregister(cb.driver_id),
        CallbackFamily::Secret => c.secret_event_deregister(cb.driver_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_core::types::{DomainRef, Uuid};
    use oxvirt_proto::remote as r;
    use oxvirt_proto::xdr::from_bytes;

    #[test]
    fn lifecycle_message_layout() {
        let ev = DomainEvent::lifecycle(
            DomainRef {
                name: "test".into(),
                uuid: Uuid([1; 16]),
                id: -1,
            },
            5,
            1,
        );
        let (proc_, payload) = encode_domain_event(Some(7), &ev).expect("encodes");
        assert_eq!(proc_, 318);
        let m: r::DomainEventCallbackLifecycleMsg = from_bytes(&payload).expect("decodes");
        assert_eq!(m.callback_id, 7);
        assert_eq!(m.dom.id, -1);
        assert_eq!((m.event, m.detail), (5, 1));
    }

    #[test]
    fn node_device_message_layouts() {
        let (proc_, payload) = encode_node_device_event(3, 0, "scsi_host9", 0, 0);
        assert_eq!(proc_, 376);
        let m: r::NodeDeviceEventLifecycleMsg = from_bytes(&payload).expect("decodes");
        assert_eq!((m.callback_id, m.dev.name.as_str()), (3, "scsi_host9"));
        let (proc_, payload) = encode_node_device_event(4, 1, "computer", 0, 0);
        assert_eq!(proc_, 377);
        let m: r::NodeDeviceEventUpdateMsg = from_bytes(&payload).expect("decodes");
        assert_eq!((m.callback_id, m.dev.name.as_str()), (4, "computer"));
    }
}
