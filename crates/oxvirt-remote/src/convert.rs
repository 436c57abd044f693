//! Wire structs to driver types and back, client side (the daemon's
//! `oxvirtd::convert` is the mirror image).

use oxvirt_core::types::*;
use oxvirt_core::Error;
use oxvirt_proto::remote as r;

pub fn dom(d: &DomainRef) -> r::NonnullDomain {
    r::NonnullDomain {
        name: d.name.clone(),
        uuid: d.uuid.0,
        id: d.id,
    }
}

pub fn dom_in(d: r::NonnullDomain) -> DomainRef {
    DomainRef {
        name: d.name,
        uuid: Uuid(d.uuid),
        id: d.id,
    }
}

pub fn net(n: &NetworkRef) -> r::NonnullNetwork {
    r::NonnullNetwork {
        name: n.name.clone(),
        uuid: n.uuid.0,
    }
}

pub fn port_in(p: r::NonnullNetworkPort) -> NetworkPortRef {
    NetworkPortRef {
        network: p.net.name,
        uuid: Uuid(p.uuid),
    }
}

pub fn net_in(n: r::NonnullNetwork) -> NetworkRef {
    NetworkRef {
        name: n.name,
        uuid: Uuid(n.uuid),
    }
}

pub fn pool(p: &PoolRef) -> r::NonnullStoragePool {
    r::NonnullStoragePool {
        name: p.name.clone(),
        uuid: p.uuid.0,
    }
}

pub fn pool_in(p: r::NonnullStoragePool) -> PoolRef {
    PoolRef {
        name: p.name,
        uuid: Uuid(p.uuid),
    }
}

pub fn vol(v: &VolRef) -> r::NonnullStorageVol {
    r::NonnullStorageVol {
        pool: v.pool.clone(),
        name: v.name.clone(),
        key: v.key.clone(),
    }
}

pub fn vol_in(v: r::NonnullStorageVol) -> VolRef {
    VolRef {
        pool: v.pool,
        name: v.name,
        key: v.key,
    }
}

pub fn snap(s: &SnapshotRef) -> r::NonnullDomainSnapshot {
    r::NonnullDomainSnapshot {
        name: s.name.clone(),
        dom: dom(&s.domain),
    }
}

pub fn snap_in(s: r::NonnullDomainSnapshot) -> SnapshotRef {
    SnapshotRef {
        name: s.name,
        domain: dom_in(s.dom),
    }
}

pub fn cp(c: &CheckpointRef) -> r::NonnullDomainCheckpoint {
    r::NonnullDomainCheckpoint {
        name: c.name.clone(),
        dom: dom(&c.domain),
    }
}

pub fn cp_in(c: r::NonnullDomainCheckpoint) -> CheckpointRef {
    CheckpointRef {
        name: c.name,
        domain: dom_in(c.dom),
    }
}

pub fn iface(i: &InterfaceRef) -> r::NonnullInterface {
    r::NonnullInterface {
        name: i.name.clone(),
        mac: i.mac.clone(),
    }
}

pub fn iface_in(i: r::NonnullInterface) -> InterfaceRef {
    InterfaceRef {
        name: i.name,
        mac: i.mac,
    }
}

pub fn secret(s: &SecretRef) -> r::NonnullSecret {
    r::NonnullSecret {
        uuid: s.uuid.0,
        usage_type: s.usage_type,
        usage_id: s.usage_id.clone(),
    }
}

pub fn secret_in(s: r::NonnullSecret) -> SecretRef {
    SecretRef {
        uuid: Uuid(s.uuid),
        usage_type: s.usage_type,
        usage_id: s.usage_id,
    }
}

pub fn param(p: &TypedParam) -> r::TypedParam {
    use r::TypedParamValue as W;
    let value = match &p.value {
        TypedValue::Int(v) => W::Int(*v),
        TypedValue::UInt(v) => W::UInt(*v),
        TypedValue::LLong(v) => W::LLong(*v),
        TypedValue::ULLong(v) => W::ULLong(*v),
        TypedValue::Double(v) => W::Double(*v),
        TypedValue::Boolean(v) => W::Boolean(*v as i32),
        TypedValue::String(v) => W::String(v.clone()),
    };
    r::TypedParam {
        field: p.field.clone(),
        value,
    }
}

pub fn params(ps: &[TypedParam]) -> Vec<r::TypedParam> {
    ps.iter().map(param).collect()
}

pub fn param_in(p: r::TypedParam) -> TypedParam {
    use r::TypedParamValue as W;
    let value = match p.value {
        W::Int(v) => TypedValue::Int(v),
        W::UInt(v) => TypedValue::UInt(v),
        W::LLong(v) => TypedValue::LLong(v),
        W::ULLong(v) => TypedValue::ULLong(v),
        W::Double(v) => TypedValue::Double(v),
        W::Boolean(v) => TypedValue::Boolean(v != 0),
        W::String(v) => TypedValue::String(v),
    };
    TypedParam {
        field: p.field,
        value,
    }
}

pub fn params_in(ps: Vec<r::TypedParam>) -> Vec<TypedParam> {
    ps.into_iter().map(param_in).collect()
}

/// A `remote_error` as the client library reports it. Like libvirt's
/// remote driver, "unknown procedure" errors become NO_SUPPORT, so
/// callers fall back as they do with libvirtd.
pub fn error_in(e: r::RemoteError) -> Error {
    let message = e.message.unwrap_or_default();
    let mut err = Error {
        code: e.code,
        domain: e.domain,
        message,
        level: e.level,
        str1: e.str1,
        str2: e.str2,
        str3: e.str3,
        int1: e.int1,
        int2: e.int2,
    };
    if err.code != oxvirt_core::error::code::NO_SUPPORT && err.is_no_support() {
        err.code = oxvirt_core::error::code::NO_SUPPORT;
    }
    err
}
