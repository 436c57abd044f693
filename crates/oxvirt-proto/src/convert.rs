//! Wire types to oxvirt-core types and back: the one conversion both ends
//! use (the daemon decodes arguments into core values and encodes core
//! results; the remote driver does the opposite).
//!
//! Every kind of `crate::kinds` implements [`Wire`]: its core type, the
//! type a `Connection` method takes it as ([`Wire::Param`]), and the
//! checks libvirt makes when it crosses the wire (list bounds, counts
//! libvirtd refuses before calling the API).

use std::marker::PhantomData;

use oxvirt_core::error::{code, from};
use oxvirt_core::types::{self as t, TypedValue};
use oxvirt_core::{Error, Result};

use crate::kinds::*;
use crate::remote as r;
use crate::xdr::{CharArray, FixedChars, Limit, Opaque, Xdr};

/// A wire type and the core type it carries.
pub trait Wire: Xdr + Sized {
    /// The owned core value.
    type Core;
    /// How a `Connection` method takes the value (`&DomainRef`, `&str`,
    /// `u32`...).
    type Param<'a>
    where
        Self: 'a;
    /// Decoded wire value to core value (daemon arguments, client
    /// replies), with the checks libvirtd makes on arguments.
    fn into_core(self) -> Result<Self::Core>;
    /// Core value to wire value (daemon replies), refusing lists longer
    /// than the protocol allows.
    fn from_core(c: Self::Core) -> Result<Self>;
    /// The core value as the method parameter.
    fn param(c: &Self::Core) -> Self::Param<'_>;
    /// A method parameter as the wire value (client arguments), with the
    /// checks libvirt's client makes before it sends `api`.
    fn from_param(p: Self::Param<'_>, api: &'static str) -> Result<Self>;
}

/// Kinds that are the same value on both sides.
macro_rules! same {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            type Core = $t;
            type Param<'a> = $t;
            fn into_core(self) -> Result<$t> {
                Ok(self)
            }
            fn from_core(c: $t) -> Result<$t> {
                Ok(c)
            }
            fn param(c: &$t) -> $t {
                *c
            }
            fn from_param(p: $t, _: &'static str) -> Result<$t> {
                Ok(p)
            }
        }
    )*};
}
same!(u32, i32, u64, i64);

impl Wire for () {
    type Core = ();
    type Param<'a> = ();
    fn into_core(self) -> Result<()> {
        Ok(())
    }
    fn from_core(_: ()) -> Result<()> {
        Ok(())
    }
    fn param(_: &()) {}
    fn from_param(_: (), _: &'static str) -> Result<()> {
        Ok(())
    }
}

impl Wire for String {
    type Core = String;
    type Param<'a> = &'a str;
    fn into_core(self) -> Result<String> {
        Ok(self)
    }
    fn from_core(c: String) -> Result<String> {
        Ok(c)
    }
    fn param(c: &String) -> &str {
        c
    }
    fn from_param(p: &str, _: &'static str) -> Result<String> {
        Ok(p.to_string())
    }
}

/// `remote_string` and the optional handles.
impl<T: Wire> Wire for Option<T>
where
    T::Core: 'static,
{
    type Core = Option<T::Core>;
    type Param<'a>
        = Option<T::Param<'a>>
    where
        T: 'a;
    fn into_core(self) -> Result<Option<T::Core>> {
        self.map(T::into_core).transpose()
    }
    fn from_core(c: Option<T::Core>) -> Result<Self> {
        c.map(T::from_core).transpose()
    }
    fn param(c: &Option<T::Core>) -> Option<T::Param<'_>> {
        c.as_ref().map(T::param)
    }
    fn from_param(p: Option<T::Param<'_>>, api: &'static str) -> Result<Self> {
        p.map(|p| T::from_param(p, api)).transpose()
    }
}

impl Wire for Bool {
    type Core = bool;
    type Param<'a> = bool;
    fn into_core(self) -> Result<bool> {
        Ok(self.0 != 0)
    }
    fn from_core(c: bool) -> Result<Bool> {
        Ok(Bool(c as i32))
    }
    fn param(c: &bool) -> bool {
        *c
    }
    fn from_param(p: bool, _: &'static str) -> Result<Bool> {
        Ok(Bool(p as i32))
    }
}

impl Wire for Zero {
    type Core = ();
    type Param<'a> = ();
    fn into_core(self) -> Result<()> {
        Ok(())
    }
    fn from_core(_: ()) -> Result<Zero> {
        Ok(Zero(0))
    }
    fn param(_: &()) {}
    fn from_param(_: (), _: &'static str) -> Result<Zero> {
        Ok(Zero(0))
    }
}

impl Wire for StrOrEmpty {
    type Core = String;
    type Param<'a> = &'a str;
    fn into_core(self) -> Result<String> {
        Ok(self.0.unwrap_or_default())
    }
    fn from_core(c: String) -> Result<Self> {
        Ok(StrOrEmpty(Some(c)))
    }
    fn param(c: &String) -> &str {
        c
    }
    fn from_param(p: &str, _: &'static str) -> Result<Self> {
        Ok(StrOrEmpty(Some(p.to_string())))
    }
}

impl Wire for Uuid {
    type Core = t::Uuid;
    type Param<'a> = &'a t::Uuid;
    fn into_core(self) -> Result<t::Uuid> {
        Ok(t::Uuid(self))
    }
    fn from_core(c: t::Uuid) -> Result<Uuid> {
        Ok(c.0)
    }
    fn param(c: &t::Uuid) -> &t::Uuid {
        c
    }
    fn from_param(p: &t::Uuid, _: &'static str) -> Result<Uuid> {
        Ok(p.0)
    }
}

/// An RPC error as libvirtd reports a refused argument.
fn rpc(msg: impl Into<String>) -> Error {
    Error::raw(code::RPC, from::RPC, msg)
}

/// Arguments libvirtd bounds before it calls the API: `$bad` holds for
/// a value it refuses with `$msg`.
macro_rules! bounded {
    ($($name:ident: $t:ty, |$v:ident| $bad:expr, $msg:literal;)*) => {$(
        impl Wire for $name {
            type Core = $t;
            type Param<'a> = $t;
            fn into_core(self) -> Result<$t> {
                let $v = self.0;
                if $bad {
                    return Err(rpc($msg));
                }
                Ok($v)
            }
            fn from_core(c: $t) -> Result<Self> {
                Ok($name(c))
            }
            fn param(c: &$t) -> $t {
                *c
            }
            fn from_param(p: $t, _: &'static str) -> Result<Self> {
                Ok($name(p))
            }
        }
    )*};
}

bounded! {
    MaxCells: i32, |v| v < 0 || v as usize > r::max::CELLS, "maxCells > REMOTE_NODE_MAX_CELLS";
    MaxStats: u32, |v| v as usize > r::max::MEMORY_STATS, "maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX";
    MapLen: i32, |v| v < 0 || v as usize > r::max::CPUMAP, "maplen > REMOTE_CPUMAPS_MAX";
}

impl<L: LegacyList> Wire for MaxNames<L> {
    type Core = i32;
    type Param<'a>
        = i32
    where
        L: 'a;
    fn into_core(self) -> Result<i32> {
        if self.0 < 0 && L::NEGATIVE_TO_API {
            return Ok(self.0);
        }
        if self.0 < 0 || self.0 as usize > L::MAX {
            return Err(rpc(format!("{} > {}", L::ARG, L::DEFINE)));
        }
        Ok(self.0)
    }
    fn from_core(c: i32) -> Result<Self> {
        Ok(MaxNames(c, PhantomData))
    }
    fn param(c: &i32) -> i32 {
        *c
    }
    /// libvirt's client refuses a bound over the protocol's before
    /// sending (virConnectListDomains with its own words).
    fn from_param(p: i32, api: &'static str) -> Result<Self> {
        if p > 0 && p as usize > L::MAX {
            let msg = if L::ARG == "maxids" {
                format!("Too many domains '{}' for limit '{}'", p, L::MAX)
            } else {
                let list = L::ARG.trim_start_matches("max");
                format!(
                    "too many remote strings: {} > {},in parameter '{}' for '{}'",
                    p,
                    L::MAX,
                    list,
                    api
                )
            };
            return Err(Error::raw(code::RPC, from::REMOTE, msg));
        }
        Ok(MaxNames(p, PhantomData))
    }
}

/// "Too many X 'n' for limit 'max'": a list longer than the wire allows,
/// refused as libvirtd refuses it.
pub fn check_len(n: usize, max: usize, what: &str) -> Result<()> {
    if n > max {
        return Err(rpc(format!(
            "Too many {} '{}' for limit '{}'",
            what, n, max
        )));
    }
    Ok(())
}

impl<T: Wire, L: Limit> Wire for List<T, L>
where
    T::Core: Clone + 'static,
{
    type Core = Vec<T::Core>;
    type Param<'a>
        = &'a [T::Core]
    where
        Self: 'a;
    fn into_core(self) -> Result<Vec<T::Core>> {
        self.0.into_iter().map(T::into_core).collect()
    }
    fn from_core(c: Vec<T::Core>) -> Result<Self> {
        check_len(c.len(), L::MAX, L::WHAT)?;
        Ok(List::new(
            c.into_iter().map(T::from_core).collect::<Result<_>>()?,
        ))
    }
    fn param(c: &Vec<T::Core>) -> &[T::Core] {
        c
    }
    fn from_param(p: &[T::Core], _: &'static str) -> Result<Self> {
        Ok(List::new(
            p.iter().cloned().map(T::from_core).collect::<Result<_>>()?,
        ))
    }
}

impl<L: Limit> Wire for Bytes<L> {
    type Core = Vec<u8>;
    type Param<'a>
        = &'a [u8]
    where
        L: 'a;
    fn into_core(self) -> Result<Vec<u8>> {
        Ok(self.0)
    }
    fn from_core(c: Vec<u8>) -> Result<Self> {
        check_len(c.len(), L::MAX, L::WHAT)?;
        Ok(Bytes::new(c))
    }
    fn param(c: &Vec<u8>) -> &[u8] {
        c
    }
    fn from_param(p: &[u8], _: &'static str) -> Result<Self> {
        Ok(Bytes::new(p.to_vec()))
    }
}

impl Wire for OptDoms {
    type Core = Vec<t::DomainRef>;
    type Param<'a> = Option<&'a [t::DomainRef]>;
    fn into_core(self) -> Result<Vec<t::DomainRef>> {
        self.0.into_core()
    }
    fn from_core(c: Vec<t::DomainRef>) -> Result<Self> {
        Ok(OptDoms(Wire::from_core(c)?))
    }
    fn param(c: &Vec<t::DomainRef>) -> Option<&[t::DomainRef]> {
        (!c.is_empty()).then_some(c.as_slice())
    }
    fn from_param(p: Option<&[t::DomainRef]>, api: &'static str) -> Result<Self> {
        Ok(OptDoms(Doms::from_param(p.unwrap_or_default(), api)?))
    }
}

/// Replies made of several values (`{state, reason}`, `{list, count}`).
macro_rules! tuple {
    ($($v:ident: $t:ident),+) => {
        impl<$($t: Wire),+> Wire for ($($t,)+)
        where
            $($t::Core: 'static,)+
        {
            type Core = ($($t::Core,)+);
            type Param<'a> = () where Self: 'a;
            fn into_core(self) -> Result<Self::Core> {
                let ($($v,)+) = self;
                Ok(($($v.into_core()?,)+))
            }
            fn from_core(c: Self::Core) -> Result<Self> {
                let ($($v,)+) = c;
                Ok(($($t::from_core($v)?,)+))
            }
            fn param(_: &Self::Core) {}
            fn from_param(_: (), _: &'static str) -> Result<Self> {
                Err(Error::internal(from::RPC, "a reply is not an argument"))
            }
        }
    };
}
tuple!(a: A);
tuple!(a: A, b: B);
tuple!(a: A, b: B, c: C);
tuple!(a: A, b: B, c: C, d: D);
tuple!(a: A, b: B, c: C, d: D, e: E);
tuple!(a: A, b: B, c: C, d: D, e: E, f: F);

/// Kinds whose core value is a handle or a record: `$core` from and to
/// the wire by the given field mapping. The parameter is a reference.
macro_rules! record {
    ($($wire:ty => $core:ty {
        in |$i:ident| $into:expr;
        out |$o:ident| $out:expr;
    })*) => {$(
        impl Wire for $wire {
            type Core = $core;
            type Param<'a> = &'a $core;
            fn into_core(self) -> Result<$core> {
                let $i = self;
                Ok($into)
            }
            fn from_core($o: $core) -> Result<Self> {
                Ok($out)
            }
            fn param(c: &$core) -> &$core {
                c
            }
            fn from_param(p: &$core, _: &'static str) -> Result<Self> {
                Self::from_core(p.clone())
            }
        }
    )*};
}

/// Records whose fields have the same names on both sides.
macro_rules! same_fields {
    ($(r::$wire:ident => t::$core:ident { $($f:ident),* })*) => {$(
        impl Wire for r::$wire {
            type Core = t::$core;
            type Param<'a> = &'a t::$core;
            fn into_core(self) -> Result<t::$core> {
                Ok(t::$core { $($f: self.$f),* })
            }
            fn from_core(c: t::$core) -> Result<Self> {
                Ok(r::$wire { $($f: c.$f),* })
            }
            fn param(c: &t::$core) -> &t::$core {
                c
            }
            fn from_param(p: &t::$core, _: &'static str) -> Result<Self> {
                Self::from_core(p.clone())
            }
        }
    )*};
}

record! {
    r::NonnullDomain => t::DomainRef {
        in |d| t::DomainRef { name: d.name, uuid: t::Uuid(d.uuid), id: d.id };
        out |d| r::NonnullDomain { name: d.name, uuid: d.uuid.0, id: d.id };
    }
    r::NonnullNetwork => t::NetworkRef {
        in |n| t::NetworkRef { name: n.name, uuid: t::Uuid(n.uuid) };
        out |n| r::NonnullNetwork { name: n.name, uuid: n.uuid.0 };
    }
    r::NonnullStoragePool => t::PoolRef {
        in |p| t::PoolRef { name: p.name, uuid: t::Uuid(p.uuid) };
        out |p| r::NonnullStoragePool { name: p.name, uuid: p.uuid.0 };
    }
    r::NonnullStorageVol => t::VolRef {
        in |v| t::VolRef { pool: v.pool, name: v.name, key: v.key };
        out |v| r::NonnullStorageVol { pool: v.pool, name: v.name, key: v.key };
    }
    r::NonnullDomainSnapshot => t::SnapshotRef {
        in |s| t::SnapshotRef { name: s.name, domain: s.dom.into_core()? };
        out |s| r::NonnullDomainSnapshot { name: s.name, dom: Wire::from_core(s.domain)? };
    }
    r::NonnullDomainCheckpoint => t::CheckpointRef {
        in |s| t::CheckpointRef { name: s.name, domain: s.dom.into_core()? };
        out |s| r::NonnullDomainCheckpoint { name: s.name, dom: Wire::from_core(s.domain)? };
    }
    r::NonnullInterface => t::InterfaceRef {
        in |i| t::InterfaceRef { name: i.name, mac: i.mac };
        out |i| r::NonnullInterface { name: i.name, mac: i.mac };
    }
    r::NonnullSecret => t::SecretRef {
        in |s| t::SecretRef { uuid: t::Uuid(s.uuid), usage_type: s.usage_type, usage_id: s.usage_id };
        out |s| r::NonnullSecret { uuid: s.uuid.0, usage_type: s.usage_type, usage_id: s.usage_id };
    }
    r::NonnullNodeDevice => t::NodeDevRef {
        in |d| t::NodeDevRef { name: d.name };
        out |d| r::NonnullNodeDevice { name: d.name };
    }
    DevName => t::NodeDevRef {
        in |d| t::NodeDevRef { name: d.0 };
        out |d| DevName(d.name);
    }
    r::TypedParam => t::TypedParam {
        in |p| param_in(p);
        out |p| param_out(p);
    }
    r::NonnullNetworkPort => t::NetworkPortRef {
        in |p| t::NetworkPortRef { network: p.net.name, uuid: t::Uuid(p.uuid) };
        out |_p| Err::<Self, _>(Error::internal(from::RPC, "a port needs its network's UUID"))?;
    }
    NetPort => (t::NetworkRef, t::Uuid) {
        in |p| (p.0.net.into_core()?, t::Uuid(p.0.uuid));
        out |p| NetPort(r::NonnullNetworkPort { net: Wire::from_core(p.0)?, uuid: p.1.0 });
    }
    r::NodeGetCpuMapRet => (Vec<u8>, u32, i32) {
        in |m| (m.cpumap.0, m.online, m.ret);
        out |m| r::NodeGetCpuMapRet { cpumap: Opaque(m.0), online: m.1, ret: m.2 };
    }
    r::NodeStatsRet => (Vec<(String, u64)>, i32) {
        in |s| (s.params.into_iter().map(|p| (p.field, p.value)).collect(), s.nparams);
        out |s| r::NodeStatsRet {
            params: s.0.into_iter().map(|(field, value)| r::NodeStatWire { field, value }).collect(),
            nparams: s.1,
        };
    }
    r::DomainGetDiskErrorsRet => (Vec<(String, i32)>, i32) {
        in |e| (e.errors.into_iter().map(|e| (e.disk, e.error)).collect(), e.nerrors);
        out |e| r::DomainGetDiskErrorsRet {
            errors: e.0.into_iter().map(|(disk, error)| r::DomainDiskErrorWire { disk, error }).collect(),
            nerrors: e.1,
        };
    }
    r::DomainGetCpuStatsRet => (Vec<t::TypedParam>, i32) {
        in |s| (s.params.into_iter().map(param_in).collect(), s.nparams);
        out |s| r::DomainGetCpuStatsRet {
            params: s.0.into_iter().map(param_out).collect(),
            nparams: s.1,
        };
    }
    r::NodeGetInfoRet => t::NodeInfo {
        in |n| t::NodeInfo {
            model: n.model.to_text(),
            memory: n.memory,
            cpus: n.cpus as u32,
            mhz: n.mhz as u32,
            nodes: n.nodes as u32,
            sockets: n.sockets as u32,
            cores: n.cores as u32,
            threads: n.threads as u32,
        };
        out |n| r::NodeGetInfoRet {
            model: FixedChars::from_str_truncated(&n.model),
            memory: n.memory,
            cpus: n.cpus as i32,
            mhz: n.mhz as i32,
            nodes: n.nodes as i32,
            sockets: n.sockets as i32,
            cores: n.cores as i32,
            threads: n.threads as i32,
        };
    }
    r::NodeGetSecurityModelRet => t::SecurityModel {
        in |m| t::SecurityModel { model: m.model.to_text(), doi: m.doi.to_text() };
        out |m| r::NodeGetSecurityModelRet {
            model: CharArray::c_string(&m.model),
            doi: CharArray::c_string(&m.doi),
        };
    }
    r::DomainGetInfoRet => t::DomainInfo {
        in |i| t::DomainInfo {
            state: t::DomainState::from_i32(i.state as i32).unwrap_or_default(),
            max_mem: i.max_mem,
            memory: i.memory,
            nr_virt_cpu: i.nr_virt_cpu as u16,
            cpu_time: i.cpu_time,
        };
        out |i| r::DomainGetInfoRet {
            state: i.state as u32,
            max_mem: i.max_mem,
            memory: i.memory,
            nr_virt_cpu: i.nr_virt_cpu as u32,
            cpu_time: i.cpu_time,
        };
    }
    // libvirtd sends an empty label as a lone NUL.
    r::DomainGetSecurityLabelRet => t::SecurityLabel {
        in |l| t::SecurityLabel { label: l.label.to_text(), enforcing: l.enforcing != 0 };
        out |l| r::DomainGetSecurityLabelRet {
            label: CharArray::c_string(&l.label),
            enforcing: l.enforcing as i32,
        };
    }
    r::PoolGetInfoRet => t::PoolInfo {
        in |i| t::PoolInfo {
            state: i.state as i32,
            capacity: i.capacity,
            allocation: i.allocation,
            available: i.available,
        };
        out |i| r::PoolGetInfoRet {
            state: i.state as u32,
            capacity: i.capacity,
            allocation: i.allocation,
            available: i.available,
        };
    }
    r::DomainGetVcpusRet => (Vec<t::VcpuInfo>, Vec<u8>) {
        in |v| (v.info.into_iter().map(vcpu_in).collect(), v.cpumaps.0);
        out |v| r::DomainGetVcpusRet {
            info: v.0.into_iter().map(vcpu_out).collect(),
            cpumaps: Opaque(v.1),
        };
    }
    r::CpumapsRet => (Vec<u8>, i32) {
        in |c| (c.cpumaps.0, c.num);
        out |c| r::CpumapsRet { cpumaps: Opaque(c.0), num: c.1 };
    }
    r::DomainGetIothreadInfoRet => Vec<t::IoThreadInfo> {
        in |r| r.info.into_iter().map(|i| t::IoThreadInfo {
            iothread_id: i.iothread_id,
            cpumap: i.cpumap.0,
        }).collect();
        out |v| {
            check_len(v.len(), r::max::IOTHREAD_INFO, "iothreads")?;
            r::DomainGetIothreadInfoRet {
                ret: v.len() as u32,
                info: v.into_iter().map(|i| r::IothreadInfoWire {
                    iothread_id: i.iothread_id,
                    cpumap: Opaque(i.cpumap),
                }).collect(),
            }
        };
    }
    r::DomainGetFsInfoRet => Vec<t::FsInfo> {
        in |r| r.info.into_iter().map(|fs| t::FsInfo {
            mountpoint: fs.mountpoint,
            name: fs.name,
            fstype: fs.fstype,
            dev_aliases: fs.dev_aliases,
        }).collect();
        out |v| fs_info_out(v)?;
    }
    r::DomainInterfaceWire => t::GuestInterface {
        in |i| t::GuestInterface {
            name: i.name,
            hwaddr: i.hwaddr,
            addrs: i.addrs.into_iter().map(|a| t::IpAddress {
                kind: a.kind,
                addr: a.addr,
                prefix: a.prefix,
            }).collect(),
        };
        out |i| r::DomainInterfaceWire {
            name: i.name,
            hwaddr: i.hwaddr,
            addrs: i.addrs.into_iter().map(|a| r::DomainIpAddrWire {
                kind: a.kind,
                addr: a.addr,
                prefix: a.prefix,
            }).collect(),
        };
    }
    // Statistics always carry strings (VIR_TYPED_PARAM_STRING_OKAY).
    r::DomainStatsRecord => (t::DomainRef, Vec<t::TypedParam>) {
        in |s| (s.dom.into_core()?, s.params.into_iter().map(param_in).collect());
        out |s| r::DomainStatsRecord {
            dom: Wire::from_core(s.0)?,
            params: s.1.into_iter().map(param_out).collect(),
        };
    }
}

/// virDomainGetBlockJobInfo's reply: `found` says whether a job runs.
impl Wire for r::DomainGetBlockJobInfoRet {
    type Core = Option<t::BlockJobInfo>;
    type Param<'a> = Option<&'a t::BlockJobInfo>;
    fn into_core(self) -> Result<Option<t::BlockJobInfo>> {
        Ok((self.found != 0).then_some(t::BlockJobInfo {
            job_type: self.kind,
            bandwidth: self.bandwidth,
            cur: self.cur,
            end: self.end,
        }))
    }
    fn from_core(c: Option<t::BlockJobInfo>) -> Result<Self> {
        let i = c.unwrap_or_default();
        Ok(r::DomainGetBlockJobInfoRet {
            found: i32::from(c.is_some()),
            kind: i.job_type,
            bandwidth: i.bandwidth,
            cur: i.cur,
            end: i.end,
        })
    }
    fn param(c: &Option<t::BlockJobInfo>) -> Option<&t::BlockJobInfo> {
        c.as_ref()
    }
    fn from_param(p: Option<&t::BlockJobInfo>, _: &'static str) -> Result<Self> {
        Self::from_core(p.copied())
    }
}

same_fields! {
    r::DomainGetControlInfoRet => t::ControlInfo { state, details, state_time }
    r::DomainGetJobInfoRet => t::JobInfo {
        job_type, time_elapsed, time_remaining, data_total, data_processed, data_remaining,
        mem_total, mem_processed, mem_remaining, file_total, file_processed, file_remaining
    }
    r::DomainBlockStatsRet => t::BlockStats { rd_req, rd_bytes, wr_req, wr_bytes, errs }
    r::DomainInterfaceStatsRet => t::InterfaceStats {
        rx_bytes, rx_packets, rx_errs, rx_drop, tx_bytes, tx_packets, tx_errs, tx_drop
    }
    r::DomainGetBlockInfoRet => t::BlockInfo { allocation, capacity, physical }
    r::VolGetInfoRet => t::VolInfo { kind, capacity, allocation }
    r::MemoryStatWire => t::MemoryStat { tag, val }
    r::NetworkDhcpLeaseWire => t::NetworkDhcpLease {
        iface, expirytime, kind, mac, iaid, ipaddr, prefix, hostname, clientid
    }
}

fn vcpu_in(v: r::VcpuInfoWire) -> t::VcpuInfo {
    t::VcpuInfo {
        number: v.number,
        state: v.state,
        cpu_time: v.cpu_time,
        cpu: v.cpu,
    }
}

fn vcpu_out(v: t::VcpuInfo) -> r::VcpuInfoWire {
    r::VcpuInfoWire {
        number: v.number,
        state: v.state,
        cpu_time: v.cpu_time,
        cpu: v.cpu,
    }
}

/// GET_FSINFO's reply, with libvirtd's own checks of its two bounds.
fn fs_info_out(v: Vec<t::FsInfo>) -> Result<r::DomainGetFsInfoRet> {
    if v.len() > r::max::DOMAIN_FSINFO {
        return Err(rpc(format!(
            "Too many mountpoints in fsinfo: {} for limit {}",
            v.len(),
            r::max::DOMAIN_FSINFO
        )));
    }
    if let Some(fs) = v
        .iter()
        .find(|fs| fs.dev_aliases.len() > r::max::DOMAIN_FSINFO_DISKS)
    {
        return Err(rpc(format!(
            "Too many disks in fsinfo: {} for limit {}",
            fs.dev_aliases.len(),
            r::max::DOMAIN_FSINFO_DISKS
        )));
    }
    Ok(r::DomainGetFsInfoRet {
        ret: v.len() as u32,
        info: v
            .into_iter()
            .map(|fs| r::DomainFsInfoWire {
                mountpoint: fs.mountpoint,
                name: fs.name,
                fstype: fs.fstype,
                dev_aliases: fs.dev_aliases,
            })
            .collect(),
    })
}

pub fn param_in(p: r::TypedParam) -> t::TypedParam {
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
    t::TypedParam {
        field: p.field,
        value,
    }
}

pub fn param_out(p: t::TypedParam) -> r::TypedParam {
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
pub fn strings_if_okay(ps: Vec<t::TypedParam>, flags: u32) -> Vec<t::TypedParam> {
    if flags & t::flags::typed_param::STRING_OKAY != 0 {
        return ps;
    }
    ps.into_iter()
        .filter(|p| !matches!(p.value, TypedValue::String(_)))
        .collect()
}

/// `remote_error` from an error.
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

/// A `remote_error` as the client library reports it. Like libvirt's
/// remote driver, "unknown procedure" errors become NO_SUPPORT, so
/// callers fall back as they do with libvirtd.
pub fn error_in(e: r::RemoteError) -> Error {
    let mut err = Error {
        code: e.code,
        domain: e.domain,
        message: e.message.unwrap_or_default(),
        level: e.level,
        str1: e.str1,
        str2: e.str2,
        str3: e.str3,
        int1: e.int1,
        int2: e.int2,
    };
    if err.code != code::NO_SUPPORT && err.is_no_support() {
        err.code = code::NO_SUPPORT;
    }
    err
}

/// A value of kind `W` from a method parameter, for hand-written client
/// calls (inferred from the procedure's argument tuple).
pub fn w<W: Wire>(p: W::Param<'_>) -> Result<W> {
    W::from_param(p, "")
}

/// A core value of kind `W`, for hand-written daemon replies.
pub fn out<W: Wire>(c: W::Core) -> Result<W> {
    W::from_core(c)
}
