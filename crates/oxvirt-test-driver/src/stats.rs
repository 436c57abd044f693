//! Statistics: block, interface and memory counters, block info,
//! scheduler parameters and the bulk domain-stats API. The counters are
//! derived from the clock, as libvirt's test driver derives them.

use oxvirt_core::error::code;
use oxvirt_core::types::memory_stat as tag;
use oxvirt_core::types::{
    flags, BlockInfo, BlockStats, DomainRef, InterfaceStats, MemoryStat, TypedParam, TypedValue,
};
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::Domain;

use crate::domains::{check_flags, now_micros};
use crate::state::{DomainObj, Driver, FROM};

/// libvirt's virDomainDiskIndexByName: target name, or an unambiguous
/// source path when the name starts with '/'.
pub(crate) fn disk_index(def: &Domain, name: &str, allow_ambiguous: bool) -> Option<usize> {
    let mut candidate = None;
    for (i, d) in def.devices.disks.iter().enumerate() {
        if !name.starts_with('/') {
            if d.target_dev.as_deref() == Some(name) {
                return Some(i);
            }
        } else if d.source.as_deref() == Some(name) {
            if allow_ambiguous {
                return Some(i);
            }
            if candidate.is_some() {
                return None;
            }
            candidate = Some(i);
        }
    }
    candidate
}

/// libvirt's virDomainNetFind: by MAC address or interface name.
pub(crate) fn net_index(def: &Domain, device: &str) -> Result<usize> {
    let found = match oxvirt_xml::props::Mac::parse(device) {
        Some(mac) => def.devices.interfaces.iter().position(|n| {
            n.mac
                .as_deref()
                .and_then(oxvirt_xml::props::Mac::parse)
                .is_some_and(|m| m == mac)
        }),
        None => def
            .devices
            .interfaces
            .iter()
            .position(|n| n.target_dev.as_deref() == Some(device)),
    };
    found.ok_or_else(|| Error::invalid_arg(FROM, format!("'{}' is not a known interface", device)))
}

fn has_memballoon(def: &Domain) -> bool {
    def.devices
        .raw
        .iter()
        .any(|r| r.0.name == "memballoon" && r.0.attr("model") != Some("none"))
}

impl Driver {
    pub fn block_stats(&self, dom: &DomainRef, path: &str) -> Result<BlockStats> {
        if path.is_empty() {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                "summary statistics are not supported yet",
            ));
        }
        let st = self.lock();
        let obj = st.dom(dom)?;
        obj.check_active()?;
        if disk_index(&obj.def, path, false).is_none() {
            return Err(Error::invalid_arg(FROM, format!("invalid path: {}", path)));
        }
        let base = now_micros() as i64;
        Ok(BlockStats {
            rd_req: base / 10,
            rd_bytes: base / 20,
            wr_req: base / 30,
            wr_bytes: base / 40,
            errs: base / (1000 * 1000 * 2),
        })
    }

    pub fn interface_stats(&self, dom: &DomainRef, device: &str) -> Result<InterfaceStats> {
        let st = self.lock();
        let obj = st.dom(dom)?;
        obj.check_active()?;
        net_index(&obj.def, device)?;
        let base = now_micros() as i64;
        Ok(InterfaceStats {
            rx_bytes: base / 10,
            rx_packets: base / 100,
            rx_errs: base / (1000 * 1000),
            rx_drop: base / (1000 * 1000 * 2),
            tx_bytes: base / 20,
            tx_packets: base / 110,
            tx_errs: base / (1000 * 1000 * 3),
            tx_drop: base / (1000 * 1000 * 4),
        })
    }

    pub fn memory_stats(&self, dom: &DomainRef, nr: u32, flags: u32) -> Result<Vec<MemoryStat>> {
        check_flags(flags, 0, "testDomainMemoryStats")?;
        let st = self.lock();
        let obj = st.dom(dom)?;
        obj.check_active()?;
        let cur = obj.def.current_memory;
        let mut out = Vec::new();
        if has_memballoon(&obj.def) {
            let all = [
                (tag::ACTUAL_BALLOON, cur),
                (tag::SWAP_IN, 0),
                (tag::SWAP_OUT, 0),
                (tag::MAJOR_FAULT, 0),
                (tag::MINOR_FAULT, 0),
                (tag::UNUSED, cur / 2),
                (tag::AVAILABLE, cur),
                (tag::USABLE, cur / 2),
                (tag::LAST_UPDATE, 627319920),
                (tag::DISK_CACHES, cur / 8),
                (tag::HUGETLB_PGALLOC, 0),
                (tag::HUGETLB_PGFAIL, 0),
                (tag::RSS, cur / 2),
            ];
            out.extend(
                all.iter()
                    .take(nr as usize)
                    .map(|&(tag, val)| MemoryStat { tag, val }),
            );
        }
        Ok(out)
    }

    pub fn block_info(&self, dom: &DomainRef, path: &str, flags: u32) -> Result<BlockInfo> {
        check_flags(flags, 0, "testDomainGetBlockInfo")?;
        let st = self.lock();
        let obj = st.dom(dom)?;
        let i = disk_index(&obj.def, path, false).ok_or_else(|| {
            Error::invalid_arg(
                FROM,
                format!("invalid path {} not assigned to domain", path),
            )
        })?;
        if obj.def.devices.disks[i].source.is_none() {
            return Err(Error::invalid_arg(
                FROM,
                format!("disk '{}' does not currently have a source assigned", path),
            ));
        }
        Ok(BlockInfo {
            capacity: 1099506450432,
            allocation: 1099511627776,
            physical: 1099511627776,
        })
    }

    pub fn scheduler_parameters(&self, dom: &DomainRef, flags: u32) -> Result<Vec<TypedParam>> {
        check_flags(flags, 0, "testDomainGetSchedulerParametersFlags")?;
        self.lock().dom(dom)?;
        Ok(vec![TypedParam::new("weight", TypedValue::UInt(50))])
    }

    pub fn set_scheduler_parameters(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, 0, "testDomainSetSchedulerParametersFlags")?;
        validate_params(params, &[("weight", 2)])?;
        self.lock().dom(dom)?;
        Ok(())
    }

    pub fn all_domain_stats(
        &self,
        doms: Option<&[DomainRef]>,
        stats: u32,
        flags: u32,
    ) -> Result<Vec<(DomainRef, Vec<TypedParam>)>> {
        use flags::stats as s;
        let filters = 0xff;
        check_flags(
            flags,
            filters | s::NOWAIT | s::BACKING | s::ENFORCE_STATS,
            "testConnectGetAllDomainStats",
        )?;
        let supported = s::STATE | s::IOTHREAD;
        let stats = if stats == 0 {
            supported
        } else if flags & s::ENFORCE_STATS != 0 && stats & !supported != 0 {
            return Err(Error::argument_unsupported(
                FROM,
                format!(
                    "Stats types bits 0x{:x} are not supported by this daemon",
                    stats & !supported
                ),
            ));
        } else {
            stats
        };
        let st = self.lock();
        let chosen: Vec<&DomainObj> = match doms {
            Some(list) => {
                let mut v = Vec::new();
                for d in list {
                    let obj = st.dom(d)?;
                    if filters & flags == 0
                        || crate::domains::matches_list_flags(obj, flags & filters)
                    {
                        v.push(obj);
                    }
                }
                v
            }
            None => st
                .domains
                .iter()
                .filter(|o| crate::domains::matches_list_flags(o, flags & filters))
                .collect(),
        };
        Ok(chosen
            .into_iter()
            .map(|obj| (obj.handle(), domain_stats(obj, stats)))
            .collect())
    }
}

fn domain_stats(obj: &DomainObj, stats: u32) -> Vec<TypedParam> {
    use flags::stats as s;
    let mut p = Vec::new();
    if stats & s::STATE != 0 {
        p.push(TypedParam::new(
            "state.state",
            TypedValue::Int(obj.state as i32),
        ));
        p.push(TypedParam::new("state.reason", TypedValue::Int(obj.reason)));
    }
    if stats & s::IOTHREAD != 0 && obj.is_active() && !obj.iothreads.is_empty() {
        p.push(TypedParam::new(
            "iothread.count",
            TypedValue::UInt(obj.iothreads.len() as u32),
        ));
        for t in &obj.iothreads {
            p.push(TypedParam::new(
                format!("iothread.{}.poll-max-ns", t.id),
                TypedValue::ULLong(t.poll_max_ns),
            ));
            p.push(TypedParam::new(
                format!("iothread.{}.poll-grow", t.id),
                TypedValue::UInt(t.poll_grow),
            ));
            p.push(TypedParam::new(
                format!("iothread.{}.poll-shrink", t.id),
                TypedValue::UInt(t.poll_shrink),
            ));
        }
    }
    p
}

/// libvirt's virTypedParamsValidate, in the test driver's error domain.
pub(crate) fn validate_params(params: &[TypedParam], allowed: &[(&str, i32)]) -> Result<()> {
    oxvirt_core::types::validate_params(params, allowed, FROM)
}
