//! Conversions between wire structs and driver types.

use oxvirt_core::error::{code, from};
use oxvirt_core::types::*;
use oxvirt_core::Error;
use oxvirt_proto::remote::{self as r};
use oxvirt_proto::xdr::CharArray;

pub fn dom_in(d: r::NonnullDomain) -> DomainRef {
    DomainRef {
        name: d.name,
        uuid: Uuid(d.uuid),
        id: d.id,
    }
}

pub fn dom_out(d: DomainRef) -> r::NonnullDomain {
    r::NonnullDomain {
        name: d.name,
        uuid: d.uuid.0,
        id: d.id,
    }
}

pub fn net_in(n: r::NonnullNetwork) -> NetworkRef {
    NetworkRef {
        name: n.name,
        uuid: Uuid(n.uuid),
    }
}

pub fn net_out(n: NetworkRef) -> r::NonnullNetwork {
    r::NonnullNetwork {
        name: n.name,
        uuid: n.uuid.0,
    }
}

pub fn port_in(p: r::NonnullNetworkPort) -> NetworkPortRef {
    NetworkPortRef {
        network: p.net.name,
        uuid: Uuid(p.uuid),
    }
}

pub fn port_out(p: NetworkPortRef, net: &r::NonnullNetwork) -> r::NonnullNetworkPort {
    r::NonnullNetworkPort {
        net: net.clone(),
        uuid: p.uuid.0,
    }
}

pub fn pool_in(p: r::NonnullStoragePool) -> PoolRef {
    PoolRef {
        name: p.name,
        uuid: Uuid(p.uuid),
    }
}

pub fn pool_out(p: PoolRef) -> r::NonnullStoragePool {
    r::NonnullStoragePool {
        name: p.name,
        uuid: p.uuid.0,
    }
}

pub fn vol_in(v: r::NonnullStorageVol) -> VolRef {
    VolRef {
        pool: v.pool,
        name: v.name,
        key: v.key,
    }
}

pub fn vol_out(v: VolRef) -> r::NonnullStorageVol {
    r::NonnullStorageVol {
        pool: v.pool,
        name: v.name,
        key: v.key,
    }
}

pub fn snap_in(s: r::NonnullDomainSnapshot) -> SnapshotRef {
    SnapshotRef {
        name: s.name,
        domain: dom_in(s.dom),
    }
}

pub fn snap_out(s: SnapshotRef) -> r::NonnullDomainSnapshot {
    r::NonnullDomainSnapshot {
        name: s.name,
        dom: dom_out(s.domain),
    }
}

pub fn cp_in(s: r::NonnullDomainCheckpoint) -> CheckpointRef {
    CheckpointRef {
        name: s.name,
        domain: dom_in(s.dom),
    }
}

pub fn cp_out(s: CheckpointRef) -> r::NonnullDomainCheckpoint {
    r::NonnullDomainCheckpoint {
        name: s.name,
        dom: dom_out(s.domain),
    }
}

pub fn iface_in(i: r::NonnullInterface) -> InterfaceRef {
    InterfaceRef {
        name: i.name,
        mac: i.mac,
    }
}

pub fn iface_out(i: InterfaceRef) -> r::NonnullInterface {
    r::NonnullInterface {
        name: i.name,
        mac: i.mac,
    }
}

pub fn secret_in(s: r::NonnullSecret) -> SecretRef {
    SecretRef {
        uuid: Uuid(s.uuid),
        usage_type: s.usage_type,
        usage_id: s.usage_id,
    }
}

pub fn secret_out(s: SecretRef) -> r::NonnullSecret {
    r::NonnullSecret {
        uuid: s.uuid.0,
        usage_type: s.usage_type,
        usage_id: s.usage_id,
    }
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

pub fn param_out(p: TypedParam) -> r::TypedParam {
    use r::TypedParamValue as W;
    let value = match p.value {
        TypedValue::Int(v) => W::Int(v),
        TypedValue::UInt(v) => W::UInt(v),
        TypedValue::LLong(v) => W::LLong(v),
        TypedValue::ULLong(v) => W::ULLong(v),
        TypedValue::Double(v) => W::Double(v),
        TypedValue::Boolean(v) => W::Boolean(v as i32),
        TypedValue::String(v) => W::String(v),
    };
    r::TypedParam {
        field: p.field,
        value,
    }
}

/// Typed parameters for a client: strings only when it may take them
/// (VIR_TYPED_PARAM_STRING_OKAY), as libvirtd filters them.
pub fn params_out(ps: Vec<TypedParam>, flags: u32) -> Vec<r::TypedParam> {
    let strings_ok = flags & flags::typed_param::STRING_OKAY != 0;
    ps.into_iter()
        .filter(|p| strings_ok || !matches!(p.value, TypedValue::String(_)))
        .map(param_out)
        .collect()
}

pub fn error_out(e: &Error) -> r::RemoteError {
    r::RemoteError {
        code: e.code,
        domain: e.domain,
        message: Some(e.message.clone()),
        level: if e.level == 0 { 2 } else { e.level },
        dom: None,
        str1: e.str1.clone(),
        str2: e.str2.clone(),
        str3: e.str3.clone(),
        int1: e.int1,
        int2: e.int2,
        net: None,
    }
}

pub fn c_string(s: &str) -> CharArray {
    CharArray::c_string(s)
}

/// A list longer than the wire allows is refused the way libvirtd does.
pub fn check_len(n: usize, max: usize, what: &str) -> Result<(), Error> {
    if n > max {
        return Err(Error::raw(
            code::RPC,
            from::RPC,
            format!("Too many {} '{}' for limit '{}'", what, n, max),
        ));
    }
    Ok(())
}
