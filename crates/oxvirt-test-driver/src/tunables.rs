//! Run-time tunables kept in the definition: memory limits, NUMA memory
//! policy, perf events, block I/O throttling, interface bandwidth and
//! lifecycle actions (testDomain{Get,Set}{Memory,Numa,Interface}Parameters,
//! testDomain{Get,Set}PerfEvents, testDomain{Get,Set}BlockIoTune,
//! testDomainSetLifecycleAction).

use oxvirt_core::types::flags::affect::{CONFIG, LIVE};
use oxvirt_core::types::{DomainRef, TypedParam, TypedValue};
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::devices::{Bandwidth, Rate, IOTUNE_GROUP_AT, IOTUNE_LIMITS};
use oxvirt_xml::domain::postparse::{format_cpuset, parse_bitmap};
use oxvirt_xml::domain::{
    CpuPlacement, Domain, LifecycleAction, NumatuneMemory, NumatuneMode, LIFECYCLE_ACTIONS,
    LIFECYCLE_EVENTS, NUMATUNE_MODES, PERF_EVENTS,
};

use crate::domains::check_flags;
use crate::state::{Driver, FROM};
use crate::stats::{disk_index, net_index, validate_params};

/// VIR_TYPED_PARAM_STRING_OKAY, accepted by the getters.
const STRING_OKAY: u32 = 4;
/// Typed parameter type codes (virTypedParameterType).
const INT: i32 = 1;
const UINT: i32 = 2;
const ULLONG: i32 = 4;
const BOOLEAN: i32 = 6;
const STRING: i32 = 7;

/// TEST_BLOCK_IOTUNE_MAX
const BLOCK_IOTUNE_MAX: u64 = 1_000_000_000_000_000;

/// VIR_DOMAIN_CPUMASK_LEN: the bits of a nodeset.
const CPUMASK_LEN: u32 = 16384;

/// The memory parameters, in the getter's order.
const MEMORY_PARAMS: [&str; 3] = ["hard_limit", "soft_limit", "swap_hard_limit"];

/// The interface bandwidth parameters, in the getter's order.
const BANDWIDTH_PARAMS: [&str; 7] = [
    "inbound.average",
    "inbound.peak",
    "inbound.burst",
    "inbound.floor",
    "outbound.average",
    "outbound.peak",
    "outbound.burst",
];

/// The first `nparams` of a getter's parameters, as libvirt's
/// TEST_SET_PARAM fills the caller's array (all of them for a negative
/// count).
fn first(all: Vec<TypedParam>, nparams: i32) -> Vec<TypedParam> {
    let n = usize::try_from(nparams).unwrap_or(all.len());
    all.into_iter().take(n).collect()
}

/// libvirt's getters answer a zero `nparams` with the count alone, before
/// looking the domain up: `Some(count)` placeholders then.
fn count_only(nparams: i32, count: usize) -> Option<Vec<TypedParam>> {
    (nparams == 0).then(|| vec![TypedParam::new("", TypedValue::Int(0)); count])
}

/// The same type for every name.
fn all_of<'a>(names: &[&'a str], t: i32) -> Vec<(&'a str, i32)> {
    names.iter().map(|n| (*n, t)).collect()
}

fn ull(field: &str, v: u64) -> TypedParam {
    TypedParam::new(field, TypedValue::ULLong(v))
}

impl Driver {
    /// The getters' common part: libvirt's flags check (`func` names the
    /// driver function), the count answer, then the values `values` reads
    /// from the definition `flags` designates, cut to `nparams`.
    pub(crate) fn params_of(
        &self,
        dom: &DomainRef,
        nparams: i32,
        flags: u32,
        (func, count): (&str, usize),
        values: impl FnOnce(&Domain) -> Result<Vec<TypedParam>>,
    ) -> Result<Vec<TypedParam>> {
        check_flags(flags, LIVE | CONFIG | STRING_OKAY, func)?;
        if let Some(v) = count_only(nparams, count) {
            return Ok(v);
        }
        let st = self.lock();
        let def = st.dom(dom)?.one_def(flags & !STRING_OKAY)?;
        Ok(first(values(def)?, nparams))
    }

    pub fn get_memory_params(
        &self,
        dom: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        let what = ("testDomainGetMemoryParameters", MEMORY_PARAMS.len());
        self.params_of(dom, nparams, flags, what, |def| {
            let t = def.memtune();
            let all = [t.hard_limit, t.soft_limit, t.swap_hard_limit];
            Ok(MEMORY_PARAMS
                .iter()
                .zip(all)
                .map(|(f, v)| ull(f, v))
                .collect())
        })
    }

    pub fn set_memory_params(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, LIVE | CONFIG, "testDomainSetMemoryParameters")?;
        validate_params(params, &all_of(&MEMORY_PARAMS, ULLONG))?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        obj.one_def(flags)?;
        // libvirt compares against the live definition's limits.
        let live = obj.def.memtune();
        let get = |name: &str| {
            params
                .iter()
                .find(|p| p.field == name)
                .and_then(|p| p.value.as_u64())
        };
        let (hard, soft, swap) = (get("hard_limit"), get("soft_limit"), get("swap_hard_limit"));
        if (hard.is_some() || swap.is_some())
            && hard.unwrap_or(live.hard_limit) > swap.unwrap_or(live.swap_hard_limit)
        {
            return Err(Error::invalid_arg(
                FROM,
                "memory hard_limit tunable value must be lower than or equal to swap_hard_limit",
            ));
        }
        let def = obj.one_def_mut(flags)?;
        let mut t = def.memtune();
        t.soft_limit = soft.unwrap_or(t.soft_limit);
        t.hard_limit = hard.unwrap_or(t.hard_limit);
        t.swap_hard_limit = swap.unwrap_or(t.swap_hard_limit);
        def.set_memtune(&t);
        Ok(())
    }

    pub fn get_numa_params(
        &self,
        dom: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        let what = ("testDomainGetNumaParameters", 2);
        self.params_of(dom, nparams, flags, what, |def| {
            let mem = def.numatune_memory();
            let mode = mem.as_ref().map(|m| m.mode).unwrap_or(NumatuneMode::Strict);
            let nodeset = mem
                .and_then(|m| m.nodeset)
                .map(|s| format_cpuset(&s))
                .unwrap_or_default();
            let number = NUMATUNE_MODES.iter().position(|m| *m == mode).unwrap_or(0);
            Ok(vec![
                TypedParam::new("numa_mode", TypedValue::Int(number as i32)),
                TypedParam::new("numa_nodeset", TypedValue::String(nodeset)),
            ])
        })
    }

    pub fn set_numa_params(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, LIVE | CONFIG, "testDomainSetNumaParameters")?;
        validate_params(params, &[("numa_mode", INT), ("numa_nodeset", STRING)])?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        obj.one_def(flags)?;
        let (live, _) = obj.modification_impact(flags)?;
        let live = live && obj.is_active();
        let mut mode = None;
        let mut nodeset = None;
        for p in params {
            match &p.value {
                TypedValue::Int(m) => {
                    mode = Some(
                        usize::try_from(*m)
                            .ok()
                            .and_then(|i| NUMATUNE_MODES.get(i).copied())
                            .ok_or_else(|| {
                                Error::invalid_arg(
                                    FROM,
                                    format!("unsupported numatune mode: '{}'", m),
                                )
                            })?,
                    )
                }
                TypedValue::String(s) => {
                    let set = parse_bitmap(s, CPUMASK_LEN).map_err(|_| {
                        Error::invalid_arg(FROM, format!("Failed to parse bitmap '{}'", s))
                    })?;
                    if set.is_empty() {
                        return Err(Error::operation_invalid(
                            FROM,
                            format!("Invalid nodeset of 'numatune': {}", s),
                        ));
                    }
                    nodeset = Some(set);
                }
                _ => {}
            }
        }
        let def = obj.one_def_mut(flags)?;
        let current = def.numatune_memory();
        if let (true, Some(m), Some(cur)) = (live, mode, &current) {
            if cur.mode != m {
                return Err(Error::operation_invalid(
                    FROM,
                    "can't change numatune mode for running domain",
                ));
            }
        }
        if mode.is_none() && nodeset.is_none() {
            return Ok(());
        }
        // virDomainNumatuneSet: an unspecified policy starts strict, its
        // placement static with a nodeset or a static vCPU placement.
        let new = match current {
            Some(cur) => NumatuneMemory {
                mode: mode.unwrap_or(cur.mode),
                nodeset: nodeset.or(cur.nodeset),
            },
            None => {
                if nodeset.is_none() && def.vcpu.placement == CpuPlacement::Static {
                    return Err(Error::unsupported_config(
                        FROM,
                        "nodeset for NUMA memory tuning must be set if 'placement' is 'static'",
                    ));
                }
                NumatuneMemory {
                    mode: mode.unwrap_or(NumatuneMode::Strict),
                    nodeset,
                }
            }
        };
        def.set_numatune_memory(&new);
        Ok(())
    }

    pub fn get_perf_events(&self, dom: &DomainRef, flags: u32) -> Result<Vec<TypedParam>> {
        // No count step: all the events, always.
        let what = ("testDomainGetPerfEvents", PERF_EVENTS.len());
        self.params_of(dom, -1, flags, what, |def| {
            let set = def.perf_events();
            Ok(PERF_EVENTS
                .iter()
                .map(|name| {
                    let on = set.iter().any(|(n, e)| n == name && *e);
                    TypedParam::new(*name, TypedValue::Boolean(on))
                })
                .collect())
        })
    }

    pub fn set_perf_events(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, LIVE | CONFIG, "testDomainSetPerfEvents")?;
        validate_params(params, &all_of(&PERF_EVENTS, BOOLEAN))?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        let def = obj.one_def_mut(flags)?;
        for p in params {
            if let TypedValue::Boolean(on) = p.value {
                def.set_perf_event(&p.field, on);
            }
        }
        Ok(())
    }

    pub fn get_block_io_tune(
        &self,
        dom: &DomainRef,
        disk: Option<&str>,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        let what = ("testDomainGetBlockIoTune", IOTUNE_LIMITS.len() + 1);
        self.params_of(dom, nparams, flags, what, |def| {
            let Some(i) = disk.and_then(|d| disk_index(def, d, true)) else {
                return Err(Error::invalid_arg(
                    FROM,
                    format!(
                        "disk '{}' was not found in the domain config",
                        disk.unwrap_or("")
                    ),
                ));
            };
            let t = def.devices.disks[i].iotune();
            let mut all: Vec<TypedParam> = IOTUNE_LIMITS
                .iter()
                .zip(t.limits)
                .map(|(f, v)| ull(f, v))
                .collect();
            all.insert(
                IOTUNE_GROUP_AT,
                TypedParam::new(
                    "group_name",
                    TypedValue::String(t.group_name.unwrap_or_default()),
                ),
            );
            Ok(all)
        })
    }

    pub fn set_block_io_tune(
        &self,
        dom: &DomainRef,
        disk: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, LIVE | CONFIG, "testDomainSetBlockIoTune")?;
        let mut allowed = all_of(&IOTUNE_LIMITS, ULLONG);
        allowed.push(("group_name", STRING));
        validate_params(params, &allowed)?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        let def = obj.one_def_mut(flags)?;
        let Some(i) = disk_index(def, disk, true) else {
            return Err(Error::invalid_arg(
                FROM,
                format!("missing persistent configuration for disk '{}'", disk),
            ));
        };
        let mut t = def.devices.disks[i].iotune();
        for p in params {
            match &p.value {
                TypedValue::ULLong(v) => {
                    if *v > BLOCK_IOTUNE_MAX {
                        return Err(Error::argument_unsupported(
                            FROM,
                            format!(
                                "block I/O throttle limit value must be no more than {}",
                                BLOCK_IOTUNE_MAX
                            ),
                        ));
                    }
                    t.set(&p.field, *v);
                }
                TypedValue::String(g) => t.group_name = Some(g.clone()),
                _ => {}
            }
        }
        let v = |name: &str| t.get(name).unwrap_or(0);
        for what in ["bytes_sec", "iops_sec", "bytes_sec_max", "iops_sec_max"] {
            let total = v(&format!("total_{}", what));
            if total != 0
                && (v(&format!("read_{}", what)) != 0 || v(&format!("write_{}", what)) != 0)
            {
                return Err(Error::invalid_arg(
                    FROM,
                    format!(
                        "total and read/write of {} cannot be set at the same time",
                        what
                    ),
                ));
            }
        }
        for dir in ["total", "read", "write"] {
            for what in ["bytes_sec", "iops_sec"] {
                let field = format!("{}_{}", dir, what);
                let max = format!("{}_max", field);
                if v(&field) > v(&max) {
                    return Err(Error::invalid_arg(
                        FROM,
                        format!("{} cannot be set higher than {} ", field, max),
                    ));
                }
            }
        }
        def.devices.disks[i].set_iotune(&t);
        Ok(())
    }

    pub fn get_interface_params(
        &self,
        dom: &DomainRef,
        device: &str,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        let what = ("testDomainGetInterfaceParameters", BANDWIDTH_PARAMS.len());
        self.params_of(dom, nparams, flags, what, |def| {
            let i = net_index(def, device)?;
            let bw = def.devices.interfaces[i].bandwidth().unwrap_or_default();
            let (inb, out) = (
                bw.inbound.unwrap_or_default(),
                bw.outbound.unwrap_or_default(),
            );
            let values = [
                inb.average,
                inb.peak,
                inb.burst,
                inb.floor,
                out.average,
                out.peak,
                out.burst,
            ];
            Ok(BANDWIDTH_PARAMS
                .iter()
                .zip(values)
                .map(|(f, v)| TypedParam::new(*f, TypedValue::UInt(v as u32)))
                .collect())
        })
    }

    pub fn set_interface_params(
        &self,
        dom: &DomainRef,
        device: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, LIVE | CONFIG, "testDomainSetInterfaceParameters")?;
        validate_params(params, &all_of(&BANDWIDTH_PARAMS, UINT))?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        let def = obj.one_def_mut(flags)?;
        let i = net_index(def, device)?;
        let (mut inb, mut out) = (Rate::default(), Rate::default());
        let (mut in_given, mut out_given) = (false, false);
        for p in params {
            let TypedValue::UInt(v) = p.value else {
                continue;
            };
            let v = v as u64;
            match p.field.as_str() {
                "inbound.average" => (inb.average, in_given) = (v, true),
                "inbound.peak" => inb.peak = v,
                "inbound.burst" => inb.burst = v,
                "inbound.floor" => (inb.floor, in_given) = (v, true),
                "outbound.average" => (out.average, out_given) = (v, true),
                "outbound.peak" => out.peak = v,
                "outbound.burst" => out.burst = v,
                _ => {}
            }
        }
        // An average (or an inbound floor) is what makes a rate.
        let inb = (inb.average != 0 || inb.floor != 0).then_some(inb);
        let out = (out.average != 0).then_some(out);
        let net = &mut def.devices.interfaces[i];
        let bw = match net.bandwidth() {
            None => Bandwidth {
                inbound: inb,
                outbound: out,
            },
            Some(old) => Bandwidth {
                inbound: if inb.is_some() || in_given {
                    inb
                } else {
                    old.inbound
                },
                outbound: if out.is_some() || out_given {
                    out
                } else {
                    old.outbound
                },
            },
        };
        net.set_bandwidth(Some(&bw));
        Ok(())
    }

    pub fn set_lifecycle_action(
        &self,
        dom: &DomainRef,
        kind: u32,
        action: u32,
        flags: u32,
    ) -> Result<()> {
        let Some(kind_name) = LIFECYCLE_EVENTS.get(kind as usize) else {
            return Err(Error::invalid_arg(
                FROM,
                format!("invalid lifecycle type '{}'", kind),
            ));
        };
        let Some(act) = LIFECYCLE_ACTIONS.get(action as usize).copied() else {
            return Err(Error::invalid_arg(
                FROM,
                format!("invalid lifecycle action '{}'", action),
            ));
        };
        check_flags(flags, LIVE | CONFIG, "testDomainSetLifecycleAction")?;
        let coredump = matches!(
            act,
            LifecycleAction::CoredumpDestroy | LifecycleAction::CoredumpRestart
        );
        if kind < 2 && coredump {
            return Err(Error::unsupported_config(
                FROM,
                format!(
                    "Lifecycle event '{}' doesn't support '{}' action",
                    kind_name, act
                ),
            ));
        }
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        let (live, persistent) = obj.defs_mut(flags)?;
        for def in [live, persistent].into_iter().flatten() {
            match kind {
                0 => def.on_poweroff = act,
                1 => def.on_reboot = act,
                _ => def.on_crash = act,
            }
        }
        Ok(())
    }
}
