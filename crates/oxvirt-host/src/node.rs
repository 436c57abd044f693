//! libvirt's node APIs on Linux: virNodeGetInfo, virNodeGetCPUMap,
//! virNodeGetCPUStats, virNodeGetMemoryStats, virNodeGetCellsFreeMemory,
//! virNodeGetFreeMemory, virNodeGetFreePages, virNodeAllocPages,
//! virNodeGet/SetMemoryParameters (KSM) and virNodeSuspendForDuration.

use std::path::PathBuf;

use oxvirt_core::error::{code, from};
use oxvirt_core::types::{validate_params, NodeInfo, TypedParam, TypedValue};
use oxvirt_core::{Error, Result};

use crate::{read_cpulist, read_trim, Host};

/// libvirt reports these host facts from its utility layer, without a
/// driver domain.
const FROM: i32 = from::NONE;

/// `VIR_NODE_CPU_STATS_ALL_CPUS`
pub const ALL_CPUS: i32 = -1;
/// `VIR_NODE_MEMORY_STATS_ALL_CELLS`
pub const ALL_CELLS: i32 = -1;
/// `VIR_NODE_ALLOC_PAGES_SET`
pub const ALLOC_PAGES_SET: u32 = 1;

fn io_err(what: impl std::fmt::Display, e: std::io::Error) -> Error {
    Error::system(FROM, what, &e)
}

impl Host {
    /// Online CPUs (`/sys/devices/system/cpu/online`).
    pub fn online_cpus(&self) -> Result<Vec<u32>> {
        let p = self.sys("devices/system/cpu/online");
        read_cpulist(&p).ok_or_else(|| {
            Error::internal(FROM, format!("Failed to parse bitmap '{}'", p.display()))
        })
    }

    /// Present CPUs.
    pub fn present_cpus(&self) -> Result<Vec<u32>> {
        let p = self.sys("devices/system/cpu/present");
        read_cpulist(&p).ok_or_else(|| {
            Error::internal(FROM, format!("Failed to parse bitmap '{}'", p.display()))
        })
    }

    /// The number of CPUs as libvirt counts them: highest present id + 1.
    pub fn cpu_count(&self) -> Result<u32> {
        Ok(self.present_cpus()?.last().map_or(0, |l| l + 1))
    }

    /// virNodeGetCPUMap: the online CPUs as a bitmap, how many are online,
    /// and the CPU count.
    pub fn cpu_map(&self) -> Result<(Vec<u8>, u32, i32)> {
        let online = self.online_cpus()?;
        let count = self.cpu_count()?;
        let bits = online.last().map_or(0, |l| l + 1);
        let mut map = vec![0u8; bits.div_ceil(8) as usize];
        for c in &online {
            map[(*c / 8) as usize] |= 1 << (c % 8);
        }
        Ok((map, online.len() as u32, count as i32))
    }

    /// virNodeGetCPUStats (Linux): kernel, user, idle and iowait time in
    /// nanoseconds, for one CPU or all (`ALL_CPUS`).
    pub fn cpu_stats(&self, cpu: i32) -> Result<Vec<(String, u64)>> {
        let path = self.proc("stat");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| io_err(format!("cannot open {}", path.display()), e))?;
        let header = if cpu == ALL_CPUS {
            "cpu ".to_string()
        } else {
            format!("cpu{} ", cpu)
        };
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        let tick = 1_000_000_000 / hz;
        for line in text.lines().filter(|l| l.starts_with(&header)) {
            let v: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .map_while(|x| x.parse().ok())
                .collect();
            if v.len() < 4 {
                continue;
            }
            let at = |i: usize| v.get(i).copied().unwrap_or(0);
            return Ok(vec![
                (
                    "kernel".into(),
                    (at(2) + at(5) + at(6)).saturating_mul(tick),
                ),
                ("user".into(), (at(0) + at(1)).saturating_mul(tick)),
                ("idle".into(), at(3).saturating_mul(tick)),
                ("iowait".into(), at(4).saturating_mul(tick)),
            ]);
        }
        // virReportInvalidArg: the message stands alone.
        Err(Error::raw(
            code::INVALID_ARG,
            FROM,
            "Invalid cpuNum in virHostCPUGetStatsLinux",
        ))
    }

    /// NUMA node ids (`/sys/devices/system/node/nodeN`), sorted.
    pub fn numa_nodes(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = std::fs::read_dir(self.sys("devices/system/node"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_prefix("node")?
                            .parse::<u32>()
                            .ok()
                    })
                    .collect()
            })
            .unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    /// True when the kernel exposes NUMA nodes (libnuma's numa_available).
    pub fn numa_available(&self) -> bool {
        !self.numa_nodes().is_empty()
    }

    /// The highest NUMA node id (0 without NUMA).
    pub fn max_node(&self) -> i32 {
        self.numa_nodes().last().map_or(0, |n| *n as i32)
    }

    fn meminfo_path(&self, node: i32) -> PathBuf {
        if node < 0 {
            self.proc("meminfo")
        } else {
            self.sys(&format!("devices/system/node/node{}/meminfo", node))
        }
    }

    /// `(field, KiB)` pairs of a meminfo file, the "Node N " prefix of
    /// per-node files skipped.
    fn meminfo(&self, node: i32) -> Result<Vec<(String, u64)>> {
        let p = self.meminfo_path(node);
        let text = std::fs::read_to_string(&p)
            .map_err(|e| io_err(format!("cannot open {}", p.display()), e))?;
        Ok(text
            .lines()
            .filter_map(|l| {
                let l = match l.strip_prefix("Node ") {
                    Some(rest) => rest.split_once(' ')?.1.trim_start(),
                    None => l,
                };
                let mut it = l.split_whitespace();
                let k = it.next()?.to_string();
                let v = it.next()?.parse::<u64>().ok()?;
                Some((k, v))
            })
            .collect())
    }

    /// (total, free) memory of a node in bytes.
    pub fn node_memory(&self, node: i32) -> Result<(u64, u64)> {
        let m = self.meminfo(node)?;
        let get = |k: &str| m.iter().find(|(f, _)| f == k).map_or(0, |(_, v)| *v);
        Ok((get("MemTotal:") * 1024, get("MemFree:") * 1024))
    }

    /// virNodeGetMemoryStats (Linux): total, free, buffers and cached for
    /// the host (`ALL_CELLS`), total and free for one cell, in KiB.
    pub fn memory_stats(&self, cell: i32) -> Result<Vec<(String, u64)>> {
        let mut cell = cell;
        if !self.numa_available() && cell == 0 {
            cell = ALL_CELLS;
        }
        if cell != ALL_CELLS {
            let max = self.max_node();
            if cell > max || cell < 0 {
                return Err(Error::raw(
                    code::INVALID_ARG,
                    FROM,
                    format!(
                        "cellNum in virHostMemGetStats must be less than or equal to {}",
                        max
                    ),
                ));
            }
        }
        let fields: &[(&str, &str)] = if cell == ALL_CELLS {
            &[
                ("MemTotal:", "total"),
                ("MemFree:", "free"),
                ("Buffers:", "buffers"),
                ("Cached:", "cached"),
            ]
        } else {
            &[("MemTotal:", "total"), ("MemFree:", "free")]
        };
        let mut out = Vec::new();
        for (k, v) in self.meminfo(cell)? {
            if let Some((_, name)) = fields.iter().find(|(f, _)| *f == k) {
                out.push((name.to_string(), v));
                if out.len() >= fields.len() {
                    break;
                }
            }
        }
        if out.is_empty() {
            return Err(Error::internal(FROM, "no available memory line found"));
        }
        Ok(out)
    }

    /// virNodeGetCellsFreeMemory: free bytes of cells `start..start+max`.
    pub fn cells_free_memory(&self, start: i32, max: i32) -> Result<Vec<u64>> {
        if !self.numa_available() {
            if start != 0 {
                return Err(Error::internal(
                    FROM,
                    format!("start cell {} out of range (0-0)", start),
                ));
            }
            return Ok(vec![self.node_memory(-1)?.1]);
        }
        let last_node = self.max_node();
        if start > last_node || start < 0 {
            return Err(Error::internal(
                FROM,
                format!("start cell {} out of range (0-{})", start, last_node),
            ));
        }
        let last = start.saturating_add(max).saturating_sub(1).min(last_node);
        let mut out = Vec::new();
        for n in start..=last {
            out.push(self.node_memory(n).map(|m| m.1).unwrap_or(0));
        }
        Ok(out)
    }

    /// virNodeGetFreeMemory: free bytes over all cells.
    pub fn free_memory(&self) -> Result<u64> {
        let nodes = self.numa_nodes();
        if nodes.is_empty() {
            return Ok(self.node_memory(-1)?.1);
        }
        let mut sum = 0u64;
        for n in nodes {
            sum = sum.saturating_add(self.node_memory(n as i32)?.1);
        }
        Ok(sum)
    }

    /// Total memory in KiB as virNodeGetInfo reports it.
    pub fn total_memory_kib(&self) -> Result<u64> {
        let nodes = self.numa_nodes();
        if nodes.is_empty() {
            return Ok(self.node_memory(-1)?.0 / 1024);
        }
        let mut sum = 0u64;
        for n in nodes {
            sum = sum.saturating_add(self.node_memory(n as i32)?.0);
        }
        Ok(sum / 1024)
    }

    /// The system page size in KiB.
    pub fn page_size_kib() -> u32 {
        // SAFETY: sysconf has no preconditions.
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if p > 0 {
            (p / 1024) as u32
        } else {
            4
        }
    }

    fn hugepage_path(&self, node: i32, size: u32, file: &str) -> Result<PathBuf> {
        let p = if node == -1 {
            self.sys(&format!(
                "kernel/mm/hugepages/hugepages-{}kB/{}",
                size, file
            ))
        } else {
            self.sys(&format!(
                "devices/system/node/node{}/hugepages/hugepages-{}kB/{}",
                node, size, file
            ))
        };
        if p.exists() {
            return Ok(p);
        }
        Err(Error::operation_failed(
            FROM,
            if node == -1 {
                format!("page size {} is not available", size)
            } else if !self.numa_nodes().contains(&(node as u32)) {
                format!("NUMA node {} is not available", node)
            } else {
                format!("page size {} is not available on node {}", size, node)
            },
        ))
    }

    fn read_pages(&self, p: &std::path::Path) -> Result<u64> {
        let s = std::fs::read_to_string(p)
            .map_err(|e| io_err(format!("Failed to open file '{}'", p.display()), e))?;
        s.strip_suffix('\n')
            .unwrap_or(&s)
            .parse()
            .ok()
            .ok_or_else(|| Error::internal(FROM, format!("unable to parse: {}", s)))
    }

    /// (pages in the pool, free pages) of one page size on a node (-1:
    /// the whole system). The system page size is counted from memory.
    pub fn page_info(&self, node: i32, size: u32) -> Result<(u64, u64)> {
        if size == Self::page_size_kib() {
            let (total, free) = self.node_memory(node)?;
            let page = size as u64 * 1024;
            return Ok((total / page, free / page));
        }
        let avail = self.read_pages(&self.hugepage_path(node, size, "nr_hugepages")?)?;
        let free = self.read_pages(&self.hugepage_path(node, size, "free_hugepages")?)?;
        Ok((avail, free))
    }

    /// Huge page sizes the kernel offers, in KiB, ascending.
    pub fn hugepage_sizes(&self) -> Vec<u32> {
        let mut v: Vec<u32> = std::fs::read_dir(self.sys("kernel/mm/hugepages"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_prefix("hugepages-")?
                            .strip_suffix("kB")?
                            .parse::<u32>()
                            .ok()
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    fn cell_range(&self, start: i32, count: u32) -> Result<std::ops::RangeInclusive<i32>> {
        let last_cell = self.max_node();
        let mut start = start;
        if !self.numa_available() && last_cell == 0 && start == 0 && count == 1 {
            start = -1;
        }
        if start > last_cell {
            return Err(Error::internal(
                FROM,
                format!("start cell {} out of range (0-{})", start, last_cell),
            ));
        }
        let last = last_cell.min(start.saturating_add(count as i32).saturating_sub(1));
        Ok(start..=last)
    }

    /// virNodeGetFreePages: free pages of each size, cell by cell.
    pub fn free_pages(&self, pages: &[u32], start: i32, count: u32) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        for cell in self.cell_range(start, count)? {
            for size in pages {
                out.push(self.page_info(cell, *size)?.1);
            }
        }
        if out.is_empty() {
            return Err(Error::internal(FROM, "no suitable info found"));
        }
        Ok(out)
    }

    /// virNodeAllocPages: sets (or grows, without `ALLOC_PAGES_SET`) the
    /// huge page pools; the number of pools changed.
    pub fn alloc_pages(
        &self,
        sizes: &[u32],
        counts: &[u64],
        start: i32,
        count: u32,
        flags: u32,
    ) -> Result<i32> {
        let add = flags & ALLOC_PAGES_SET == 0;
        let mut n = 0;
        for cell in self.cell_range(start, count)? {
            for (size, want) in sizes.iter().zip(counts) {
                self.set_page_pool(cell, *size, *want, add)?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn set_page_pool(&self, node: i32, size: u32, count: u64, add: bool) -> Result<()> {
        if size == Self::page_size_kib() {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                "system pages pool can't be modified",
            ));
        }
        let p = self.hugepage_path(node, size, "nr_hugepages")?;
        let parse = |s: &str| -> Result<u64> {
            s.strip_suffix('\n')
                .unwrap_or(s)
                .parse()
                .ok()
                .ok_or_else(|| {
                    Error::operation_failed(
                        FROM,
                        format!("invalid number '{}' in '{}'", s, p.display()),
                    )
                })
        };
        let read = || -> Result<u64> {
            let s = std::fs::read_to_string(&p)
                .map_err(|e| io_err(format!("Failed to open file '{}'", p.display()), e))?;
            parse(&s)
        };
        let now = read()?;
        let target = if add {
            if count == 0 {
                return Ok(());
            }
            count.saturating_add(now)
        } else {
            if now == count {
                return Ok(());
            }
            count
        };
        std::fs::write(&p, target.to_string())
            .map_err(|e| io_err(format!("Unable to write to: {}", p.display()), e))?;
        let got = read()?;
        if got != target {
            return Err(Error::operation_failed(
                FROM,
                format!(
                    "Unable to allocate {} pages. Allocated only {}",
                    target, got
                ),
            ));
        }
        Ok(())
    }

    fn ksm(&self, field: &str) -> PathBuf {
        self.sys(&format!("kernel/mm/ksm/{}", field))
    }

    /// virNodeGetMemoryParameters: the KSM tunables and counters that
    /// exist on this kernel, in libvirt's order.
    pub fn memory_parameters(&self) -> Result<Vec<TypedParam>> {
        let mut out = Vec::new();
        for (name, file, uint) in KSM_PARAMS {
            let p = self.ksm(file);
            if !p.exists() {
                continue;
            }
            let s = read_trim(&p).unwrap_or_default();
            let bad = || Error::internal(FROM, format!("failed to parse {}", file));
            let value = if *uint {
                TypedValue::UInt(s.parse().map_err(|_| bad())?)
            } else {
                TypedValue::ULLong(s.parse().map_err(|_| bad())?)
            };
            out.push(TypedParam::new(*name, value));
        }
        Ok(out)
    }

    /// How many parameters `memory_parameters` reports at most.
    pub const MEMORY_PARAMETERS: i32 = 8;

    /// virNodeSetMemoryParameters: writes the KSM tunables.
    pub fn set_memory_parameters(&self, params: &[TypedParam]) -> Result<()> {
        validate_params(
            params,
            &[
                ("shm_pages_to_scan", 2),
                ("shm_sleep_millisecs", 2),
                ("shm_merge_across_nodes", 2),
            ],
            FROM,
        )?;
        for p in params {
            let file = p.field.split_once('_').map_or("", |(_, f)| f);
            if !self.ksm(file).exists() {
                return Err(Error::operation_invalid(
                    FROM,
                    format!("Parameter '{}' is not supported by this kernel", p.field),
                ));
            }
        }
        for p in params {
            let file = p.field.split_once('_').map_or("", |(_, f)| f);
            let v = match &p.value {
                TypedValue::UInt(v) => *v,
                _ => continue,
            };
            std::fs::write(self.ksm(file), v.to_string())
                .map_err(|e| Error::system(FROM, format!("failed to set {}", p.field), &e))?;
        }
        Ok(())
    }

    /// virNodeGetInfo on Linux: the CPU frequency from /proc/cpuinfo and
    /// the topology from sysfs, with libvirt's "flat" fallback when the
    /// numbers do not multiply up.
    pub fn node_info(&self, model: &str) -> Result<NodeInfo> {
        let mhz = std::fs::read_to_string(self.proc("cpuinfo"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("cpu MHz"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| {
                        v.trim()
                            .split('.')
                            .next()
                            .and_then(|n| n.parse::<u32>().ok())
                            .unwrap_or(0)
                    })
            })
            .unwrap_or(0);
        let topo = crate::topology::Topology::read(self)?;
        let online = self.online_cpus()?;
        let present = self.present_cpus()?;
        let offline = present.iter().filter(|c| !online.contains(c)).count() as u32;
        let mut info = NodeInfo {
            model: model.to_string(),
            memory: self.total_memory_kib()?,
            cpus: 0,
            mhz,
            nodes: topo.cells.len().max(1) as u32,
            sockets: 0,
            cores: 0,
            threads: 0,
        };
        for cell in &topo.cells {
            let cpus: Vec<&crate::topology::CellCpu> = cell.cpus.iter().collect();
            info.cpus += cpus.len() as u32;
            let mut sockets: Vec<u32> = cpus.iter().map(|c| c.socket).collect();
            sockets.sort_unstable();
            sockets.dedup();
            info.sockets = info.sockets.max(sockets.len() as u32);
            for s in &sockets {
                let mut cores: Vec<u32> = cpus
                    .iter()
                    .filter(|c| c.socket == *s)
                    .map(|c| c.core)
                    .collect();
                cores.sort_unstable();
                cores.dedup();
                info.cores = info.cores.max(cores.len() as u32);
            }
            for c in &cpus {
                info.threads = info.threads.max(c.siblings.len().max(1) as u32);
            }
        }
        if info.cpus == 0 {
            return Err(Error::internal(FROM, "no CPUs found"));
        }
        if info.nodes * info.sockets * info.cores * info.threads != info.cpus + offline {
            info.nodes = 1;
            info.sockets = 1;
            info.cores = info.cpus + offline;
            info.threads = 1;
        }
        Ok(info)
    }
}

/// KSM parameters: libvirt's name, the sysfs file, and whether it is a
/// uint (else ullong).
const KSM_PARAMS: &[(&str, &str, bool)] = &[
    ("shm_pages_to_scan", "pages_to_scan", true),
    ("shm_sleep_millisecs", "sleep_millisecs", true),
    ("shm_pages_shared", "pages_shared", false),
    ("shm_pages_sharing", "pages_sharing", false),
    ("shm_pages_unshared", "pages_unshared", false),
    ("shm_pages_volatile", "pages_volatile", false),
    ("shm_full_scans", "full_scans", false),
    ("shm_merge_across_nodes", "merge_across_nodes", true),
];

/// virNodeSuspendForDuration: oxvirt never suspends its host, so every
/// target is refused as libvirt refuses a target the host cannot reach.
pub fn suspend(target: u32, flags: u32) -> Result<()> {
    oxvirt_core::error::check_flags(flags, 0, "virNodeSuspend", FROM)?;
    let what = match target {
        0 => "Suspend-to-RAM",
        1 => "Suspend-to-Disk",
        2 => "Hybrid-Suspend",
        _ => return Err(Error::invalid_arg(FROM, "Invalid suspend target")),
    };
    Err(Error::argument_unsupported(FROM, what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A small made-up host: 4 CPUs (3 online), one NUMA node, 2 MiB
    /// pages, KSM.
    fn fake() -> (tempdir::Dir, Host) {
        let d = tempdir::Dir::new();
        let w = |rel: &str, s: &str| {
            let p = d.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, s).unwrap();
        };
        w("sys/devices/system/cpu/online", "0-2\n");
        w("sys/devices/system/cpu/present", "0-3\n");
        w(
            "proc/stat",
            "cpu  100 5 20 1000 7 1 2 0 0 0\ncpu0 50 0 10 500 3 0 1 0 0 0\n",
        );
        w(
            "proc/meminfo",
            "MemTotal:        1000 kB\nMemFree:          400 kB\nBuffers:           10 kB\nCached:           100 kB\n",
        );
        w(
            "sys/devices/system/node/node0/meminfo",
            "Node 0 MemTotal:        1000 kB\nNode 0 MemFree:          300 kB\n",
        );
        w(
            "sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages",
            "3\n",
        );
        w(
            "sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages",
            "5\n",
        );
        w("sys/kernel/mm/ksm/pages_to_scan", "100\n");
        w("sys/kernel/mm/ksm/pages_shared", "7\n");
        let h = Host::at(d.path());
        (d, h)
    }

    #[test]
    fn cpu_map_and_stats() {
        let (_d, h) = fake();
        assert_eq!(h.cpu_map().unwrap(), (vec![0b111], 3, 4));
        let s = h.cpu_stats(ALL_CPUS).unwrap();
        let tick = 1_000_000_000 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        assert_eq!(s[0], ("kernel".into(), 23 * tick));
        assert_eq!(s[1], ("user".into(), 105 * tick));
        assert!(h.cpu_stats(0).is_ok());
        assert_eq!(
            h.cpu_stats(5).unwrap_err().message,
            "Invalid cpuNum in virHostCPUGetStatsLinux"
        );
    }

    #[test]
    fn memory() {
        let (_d, h) = fake();
        assert_eq!(h.memory_stats(ALL_CELLS).unwrap().len(), 4);
        assert_eq!(
            h.memory_stats(0).unwrap(),
            vec![("total".into(), 1000), ("free".into(), 300)]
        );
        assert_eq!(
            h.memory_stats(1).unwrap_err().message,
            "cellNum in virHostMemGetStats must be less than or equal to 0"
        );
        assert_eq!(h.cells_free_memory(0, 8).unwrap(), vec![300 * 1024]);
        assert_eq!(
            h.cells_free_memory(1, 1).unwrap_err().message,
            "internal error: start cell 1 out of range (0-0)"
        );
        assert_eq!(h.free_memory().unwrap(), 300 * 1024);
        assert_eq!(h.free_pages(&[2048], 0, 1).unwrap(), vec![3]);
        assert_eq!(
            h.free_pages(&[1048576], 0, 1).unwrap_err().message,
            "operation failed: page size 1048576 is not available on node 0"
        );
        assert_eq!(h.alloc_pages(&[2048], &[2], 0, 1, 0).unwrap(), 1);
        assert_eq!(h.page_info(0, 2048).unwrap().0, 7);
        let ps = Host::page_size_kib();
        assert_eq!(
            h.alloc_pages(&[ps], &[1], 0, 1, 0).unwrap_err().message,
            "Operation not supported: system pages pool can't be modified"
        );
    }

    #[test]
    fn ksm() {
        let (_d, h) = fake();
        let p = h.memory_parameters().unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].field, "shm_pages_to_scan");
        h.set_memory_parameters(&[TypedParam::new("shm_pages_to_scan", TypedValue::UInt(200))])
            .unwrap();
        assert_eq!(
            h.memory_parameters().unwrap()[0].value,
            TypedValue::UInt(200)
        );
        let e = h
            .set_memory_parameters(&[TypedParam::new("shm_sleep_millisecs", TypedValue::UInt(1))])
            .unwrap_err();
        assert_eq!(
            e.message,
            "Requested operation is not valid: Parameter 'shm_sleep_millisecs' is not supported by this kernel"
        );
        let e = h
            .set_memory_parameters(&[TypedParam::new("shm_pages_shared", TypedValue::UInt(1))])
            .unwrap_err();
        assert_eq!(
            e.message,
            "argument unsupported: parameter 'shm_pages_shared' not supported"
        );
    }

    #[test]
    fn suspend_is_refused() {
        assert_eq!(
            suspend(0, 0).unwrap_err().message,
            "argument unsupported: Suspend-to-RAM"
        );
        assert_eq!(
            suspend(9, 0).unwrap_err().message,
            "invalid argument: Invalid suspend target"
        );
    }

    /// A temporary directory removed on drop.
    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "oxvirt-host-test-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
}
