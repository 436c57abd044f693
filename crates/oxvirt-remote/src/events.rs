//! Event MESSAGEs to callback invocations: the mirror of oxvirtd's
//! `events::encode_domain_event`. Undecodable or unknown messages are
//! dropped.

use oxvirt_core::event::{
    DomainEvent, DomainEventKind as K, NetworkEvent, NetworkEventKind, PoolEvent, PoolEventKind,
    SecretEvent, SecretEventKind,
};
use oxvirt_proto::procs as p;
use oxvirt_proto::remote::{self as r, max};
use oxvirt_proto::xdr::{Decoder, Result, Xdr, XdrBounded};

use crate::client::EventCallback;
use oxvirt_proto::convert::{param_in, Wire};

/// A handle from a message (handles always convert).
fn handle<W: Wire>(w: W) -> W::Core
where
    W::Core: Default,
{
    w.into_core().unwrap_or_default()
}

fn params_in(ps: Vec<r::TypedParam>) -> Vec<oxvirt_core::TypedParam> {
    ps.into_iter().map(param_in).collect()
}

/// Runs `cb` for the message `proc_` (payload starts with the callback id).
pub fn deliver(proc_: i32, payload: &[u8], cb: &EventCallback) {
    let mut d = Decoder::new(payload);
    match cb {
        EventCallback::Domain(f) => {
            if let Ok(Some(ev)) = decode_domain(proc_, &mut d) {
                f(&ev);
            }
        }
        EventCallback::Network(f) => {
            if proc_ != p::NETWORK_EVENT_LIFECYCLE {
                return;
            }
            if let Ok(m) = r::NetworkEventLifecycleMsg::decode(&mut d) {
                f(&NetworkEvent {
                    net: handle(m.net),
                    kind: NetworkEventKind::Lifecycle {
                        event: m.event,
                        detail: m.detail,
                    },
                });
            }
        }
        EventCallback::NodeDevice(f) => match proc_ {
            p::NODE_DEVICE_EVENT_LIFECYCLE => {
                if let Ok(m) = r::NodeDeviceEventLifecycleMsg::decode(&mut d) {
                    f(&m.dev.name, m.event, m.detail);
                }
            }
            p::NODE_DEVICE_EVENT_UPDATE => {
                // An update carries no event or detail.
                if let Ok(m) = r::NodeDeviceEventUpdateMsg::decode(&mut d) {
                    f(&m.dev.name, 0, 0);
                }
            }
            _ => {}
        },
        EventCallback::Secret(f) => {
            let ev = match proc_ {
                p::SECRET_EVENT_LIFECYCLE => {
                    r::SecretEventLifecycleMsg::decode(&mut d).map(|m| SecretEvent {
                        secret: handle(m.secret),
                        kind: SecretEventKind::Lifecycle {
                            event: m.event,
                            detail: m.detail,
                        },
                    })
                }
                p::SECRET_EVENT_VALUE_CHANGED => {
                    r::SecretEventValueChangedMsg::decode(&mut d).map(|m| SecretEvent {
                        secret: handle(m.secret),
                        kind: SecretEventKind::ValueChanged,
                    })
                }
                _ => return,
            };
            if let Ok(ev) = ev {
                f(&ev);
            }
        }
        EventCallback::Pool(f) => {
            let ev = match proc_ {
                p::STORAGE_POOL_EVENT_LIFECYCLE => r::StoragePoolEventLifecycleMsg::decode(&mut d)
                    .map(|m| PoolEvent {
                        pool: handle(m.pool),
                        kind: PoolEventKind::Lifecycle {
                            event: m.event,
                            detail: m.detail,
                        },
                    }),
                p::STORAGE_POOL_EVENT_REFRESH => {
                    r::StoragePoolEventRefreshMsg::decode(&mut d).map(|m| PoolEvent {
                        pool: handle(m.pool),
                        kind: PoolEventKind::Refresh,
                    })
                }
                _ => return,
            };
            if let Ok(ev) = ev {
                f(&ev);
            }
        }
    }
}

fn s(d: &mut Decoder<'_>) -> Result<String> {
    String::decode(d)
}

fn os(d: &mut Decoder<'_>) -> Result<Option<String>> {
    Option::<String>::decode(d)
}

/// Decodes a domain event message; `Ok(None)` for procedures that are not
/// domain events.
pub fn decode_domain(proc_: i32, d: &mut Decoder<'_>) -> Result<Option<DomainEvent>> {
    let _callback_id = d.get_i32()?;
    let pm_reason = if matches!(
        proc_,
        p::DOMAIN_EVENT_CALLBACK_PMWAKEUP
            | p::DOMAIN_EVENT_CALLBACK_PMSUSPEND
            | p::DOMAIN_EVENT_CALLBACK_PMSUSPEND_DISK
    ) {
        d.get_i32()?
    } else {
        0
    };
    let dom = handle(r::NonnullDomain::decode(d)?);
    let kind = match proc_ {
        p::DOMAIN_EVENT_CALLBACK_LIFECYCLE => K::Lifecycle {
            event: d.get_i32()?,
            detail: d.get_i32()?,
        },
        p::DOMAIN_EVENT_CALLBACK_REBOOT => K::Reboot,
        p::DOMAIN_EVENT_CALLBACK_RTC_CHANGE => K::RtcChange {
            offset: d.get_i64()?,
        },
        p::DOMAIN_EVENT_CALLBACK_WATCHDOG => K::Watchdog {
            action: d.get_i32()?,
        },
        p::DOMAIN_EVENT_CALLBACK_IO_ERROR => K::IoError {
            src_path: s(d)?,
            dev_alias: s(d)?,
            action: d.get_i32()?,
        },
        p::DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON => K::IoErrorReason {
            src_path: s(d)?,
            dev_alias: s(d)?,
            action: d.get_i32()?,
            reason: s(d)?,
        },
        p::DOMAIN_EVENT_CALLBACK_CONTROL_ERROR => K::ControlError,
        p::DOMAIN_EVENT_CALLBACK_BLOCK_JOB => K::BlockJob {
            path: s(d)?,
            job_type: d.get_i32()?,
            status: d.get_i32()?,
        },
        p::DOMAIN_EVENT_CALLBACK_DISK_CHANGE => K::DiskChange {
            old_src: os(d)?,
            new_src: os(d)?,
            dev_alias: s(d)?,
            reason: d.get_i32()?,
        },
        p::DOMAIN_EVENT_CALLBACK_TRAY_CHANGE => K::TrayChange {
            dev_alias: s(d)?,
            reason: d.get_i32()?,
        },
        p::DOMAIN_EVENT_CALLBACK_PMWAKEUP => K::PmWakeup { reason: pm_reason },
        p::DOMAIN_EVENT_CALLBACK_PMSUSPEND => K::PmSuspend { reason: pm_reason },
        p::DOMAIN_EVENT_CALLBACK_PMSUSPEND_DISK => K::PmSuspendDisk { reason: pm_reason },
        p::DOMAIN_EVENT_CALLBACK_BALLOON_CHANGE => K::BalloonChange {
            actual: d.get_u64()?,
        },
        p::DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED => K::DeviceRemoved { dev_alias: s(d)? },
        p::DOMAIN_EVENT_BLOCK_JOB_2 => K::BlockJob2 {
            dst: s(d)?,
            job_type: d.get_i32()?,
            status: d.get_i32()?,
        },
        p::DOMAIN_EVENT_CALLBACK_TUNABLE => K::Tunable {
            params: params_in(Vec::<r::TypedParam>::decode_max(d, max::EVENT_TUNABLE)?),
        },
        p::DOMAIN_EVENT_CALLBACK_AGENT_LIFECYCLE => K::AgentLifecycle {
            state: d.get_i32()?,
            reason: d.get_i32()?,
        },
        p::DOMAIN_EVENT_CALLBACK_DEVICE_ADDED => K::DeviceAdded { dev_alias: s(d)? },
        p::DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION => K::MigrationIteration {
            iteration: d.get_i32()?,
        },
        p::DOMAIN_EVENT_CALLBACK_JOB_COMPLETED => K::JobCompleted {
            params: params_in(Vec::<r::TypedParam>::decode_max(d, max::JOB_STATS)?),
        },
        p::DOMAIN_EVENT_CALLBACK_DEVICE_REMOVAL_FAILED => {
            K::DeviceRemovalFailed { dev_alias: s(d)? }
        }
        p::DOMAIN_EVENT_CALLBACK_METADATA_CHANGE => K::MetadataChange {
            kind: d.get_i32()?,
            nsuri: os(d)?,
        },
        p::DOMAIN_EVENT_BLOCK_THRESHOLD => K::BlockThreshold {
            dev: s(d)?,
            path: os(d)?,
            threshold: d.get_u64()?,
            excess: d.get_u64()?,
        },
        p::DOMAIN_EVENT_MEMORY_FAILURE => K::MemoryFailure {
            recipient: d.get_i32()?,
            action: d.get_i32()?,
            flags: d.get_u32()?,
        },
        p::DOMAIN_EVENT_MEMORY_DEVICE_SIZE_CHANGE => K::MemoryDeviceSizeChange {
            alias: s(d)?,
            size: d.get_u64()?,
        },
        // Graphics events carry a structure this client does not decode.
        _ => return Ok(None),
    };
    Ok(Some(DomainEvent { dom, kind }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_proto::xdr::Encoder;

    #[test]
    fn lifecycle_and_garbage() {
        let mut e = Encoder::new();
        e.put_i32(7);
        r::NonnullDomain {
            name: "test".into(),
            uuid: [1; 16],
            id: -1,
        }
        .encode(&mut e);
        e.put_i32(5);
        e.put_i32(1);
        let b = e.into_bytes();
        let ev = decode_domain(p::DOMAIN_EVENT_CALLBACK_LIFECYCLE, &mut Decoder::new(&b))
            .expect("decodes")
            .expect("an event");
        assert_eq!(ev.dom.name, "test");
        assert_eq!(
            ev.kind,
            K::Lifecycle {
                event: 5,
                detail: 1
            }
        );
        for n in 0..b.len() {
            assert!(decode_domain(
                p::DOMAIN_EVENT_CALLBACK_LIFECYCLE,
                &mut Decoder::new(&b[..n])
            )
            .is_err());
        }
    }
}
