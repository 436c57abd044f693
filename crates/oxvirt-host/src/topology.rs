//! The host's NUMA cells (memory, pages, distances, CPUs with their
//! socket, die, core and siblings) and its level-3+ caches, as libvirt's
//! capabilities `<topology>` and `<cache>` show them.

use oxvirt_core::Result;
use oxvirt_xml::writer::{Attrs, Writer};

use crate::{format_cpulist, read_cpulist, read_num, read_trim, Host};

/// One CPU of a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellCpu {
    pub id: u32,
    /// False: offline, listed by id only.
    pub online: bool,
    pub socket: u32,
    pub die: u32,
    pub core: u32,
    pub siblings: Vec<u32>,
}

/// One NUMA cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub id: u32,
    /// KiB
    pub memory: u64,
    /// (page size KiB, pages in the pool), ascending sizes.
    pub pages: Vec<(u32, u64)>,
    /// (cell id, distance)
    pub distances: Vec<(u32, u32)>,
    pub cpus: Vec<CellCpu>,
}

/// One cache bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheBank {
    pub id: u32,
    pub level: u32,
    /// libvirt's spelling: both, code, data
    pub kind: &'static str,
    /// bytes
    pub size: u64,
    pub cpus: Vec<u32>,
}

/// The host's cells and caches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    pub cells: Vec<Cell>,
    pub caches: Vec<CacheBank>,
    /// Page sizes (KiB) the host offers, ascending.
    pub page_sizes: Vec<u32>,
}

impl Topology {
    /// Reads cells and caches from sysfs.
    pub fn read(host: &Host) -> Result<Topology> {
        let online = host.online_cpus()?;
        let present = host.present_cpus()?;
        let nodes = host.numa_nodes();
        let mut cells = Vec::new();
        if nodes.is_empty() {
            // No NUMA: one cell with everything (libvirt's fake cell).
            let (total, _) = host.node_memory(-1)?;
            cells.push(Cell {
                id: 0,
                memory: total / 1024,
                pages: pages(host, -1)?,
                distances: Vec::new(),
                cpus: present
                    .iter()
                    .map(|c| cell_cpu(host, *c, &online))
                    .collect(),
            });
        }
        for n in &nodes {
            let base = host.sys(&format!("devices/system/node/node{}", n));
            let (total, _) = host.node_memory(*n as i32)?;
            let cpus = read_cpulist(&base.join("cpulist")).unwrap_or_default();
            let distances = read_trim(&base.join("distance"))
                .map(|s| {
                    s.split_whitespace()
                        .filter_map(|v| v.parse::<u32>().ok())
                        .zip(nodes.iter().copied())
                        .map(|(d, id)| (id, d))
                        .collect()
                })
                .unwrap_or_default();
            cells.push(Cell {
                id: *n,
                memory: total / 1024,
                pages: pages(host, *n as i32)?,
                distances,
                cpus: cpus
                    .iter()
                    .filter(|c| present.contains(c))
                    .map(|c| cell_cpu(host, *c, &online))
                    .collect(),
            });
        }
        let mut sizes = host.hugepage_sizes();
        sizes.push(Host::page_size_kib());
        sizes.sort_unstable();
        sizes.dedup();
        Ok(Topology {
            cells,
            caches: caches(host, &online),
            page_sizes: sizes,
        })
    }

    /// `<topology>` of the capabilities' `<host>`.
    pub fn write_cells(&self, w: &mut Writer) {
        w.block("topology", Attrs::new(), |w| {
            w.block("cells", Attrs::new().add("num", self.cells.len()), |w| {
                for c in &self.cells {
                    w.block("cell", Attrs::new().add("id", c.id), |w| {
                        if c.memory != 0 {
                            w.text("memory", Attrs::new().add("unit", "KiB"), c.memory);
                        }
                        for (size, n) in &c.pages {
                            w.text(
                                "pages",
                                Attrs::new().add("unit", "KiB").add("size", size),
                                n,
                            );
                        }
                        w.elem_opt("distances", Attrs::new(), |w| {
                            for (id, v) in &c.distances {
                                w.empty("sibling", Attrs::new().add("id", id).add("value", v));
                            }
                        });
                        w.elem("cpus", Attrs::new().add("num", c.cpus.len()), |w| {
                            for cpu in &c.cpus {
                                let mut a = Attrs::new().add("id", cpu.id);
                                if cpu.online {
                                    a = a
                                        .add("socket_id", cpu.socket)
                                        .add("die_id", cpu.die)
                                        .add("core_id", cpu.core)
                                        .add("siblings", format_cpulist(&cpu.siblings));
                                }
                                w.empty("cpu", a);
                            }
                        });
                    });
                }
            });
        });
    }

    /// `<cache>` of the capabilities' `<host>` (nothing when no bank).
    pub fn write_caches(&self, w: &mut Writer) {
        if self.caches.is_empty() {
            return;
        }
        w.block("cache", Attrs::new(), |w| {
            for b in &self.caches {
                let (size, unit) = pretty_size(b.size);
                w.empty(
                    "bank",
                    Attrs::new()
                        .add("id", b.id)
                        .add("level", b.level)
                        .add("type", b.kind)
                        .add("size", size)
                        .add("unit", unit)
                        .add("cpus", format_cpulist(&b.cpus)),
                );
            }
        });
    }
}

/// The biggest binary unit that divides `bytes` exactly
/// (`virFormatIntPretty`).
pub fn pretty_size(bytes: u64) -> (u64, &'static str) {
    const UNITS: &[(u64, &str)] = &[
        (1 << 60, "EiB"),
        (1 << 50, "PiB"),
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    for (u, name) in UNITS {
        if bytes != 0 && bytes.is_multiple_of(*u) {
            return (bytes / u, name);
        }
    }
    (bytes, "B")
}

fn cell_cpu(host: &Host, id: u32, online: &[u32]) -> CellCpu {
    let t = host.sys(&format!("devices/system/cpu/cpu{}/topology", id));
    let on = online.contains(&id);
    CellCpu {
        id,
        online: on,
        socket: read_num(&t.join("physical_package_id")).unwrap_or(0),
        die: read_num(&t.join("die_id")).unwrap_or(0),
        core: read_num(&t.join("core_id")).unwrap_or(0),
        siblings: read_cpulist(&t.join("thread_siblings_list")).unwrap_or_else(|| vec![id]),
    }
}

/// A cell's pages: huge page pools, then the system page size with the
/// memory the pools do not hold; ascending sizes.
fn pages(host: &Host, node: i32) -> Result<Vec<(u32, u64)>> {
    let mut out = Vec::new();
    let mut huge_sum = 0u64;
    for size in host.hugepage_sizes() {
        let (avail, _) = match host.page_info(node, size) {
            Ok(v) => v,
            Err(_) => continue,
        };
        huge_sum = huge_sum.saturating_add(1024 * size as u64 * avail);
        out.push((size, avail));
    }
    let sys = Host::page_size_kib();
    let (total, _) = host.node_memory(node)?;
    out.push((sys, total.saturating_sub(huge_sum) / (sys as u64 * 1024)));
    out.sort_by_key(|p| p.0);
    Ok(out)
}

/// Level 3+ caches of online CPUs, one per distinct bank, sorted by level
/// then id.
fn caches(host: &Host, online: &[u32]) -> Vec<CacheBank> {
    let mut banks: Vec<CacheBank> = Vec::new();
    for cpu in online {
        let dir = host.sys(&format!("devices/system/cpu/cpu{}/cache", cpu));
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut idx: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| n.starts_with("index"))
            .collect();
        idx.sort();
        for i in idx {
            let d = dir.join(&i);
            let Some(level) = read_num::<u32>(&d.join("level")) else {
                continue;
            };
            if level < 3 {
                continue;
            }
            let (Some(id), Some(kind), Some(size), Some(cpus)) = (
                read_num::<u32>(&d.join("id")),
                read_trim(&d.join("type")),
                read_trim(&d.join("size")).and_then(|s| parse_scaled(&s)),
                read_cpulist(&d.join("shared_cpu_list")),
            ) else {
                continue;
            };
            let kind = match kind.as_str() {
                "Unified" => "both",
                "Instruction" => "code",
                "Data" => "data",
                _ => continue,
            };
            let bank = CacheBank {
                id,
                level,
                kind,
                size,
                cpus,
            };
            if !banks.contains(&bank) {
                banks.push(bank);
            }
        }
    }
    banks.sort_by_key(|b| (b.level, b.id));
    banks
}

/// "32768K" → bytes.
fn parse_scaled(s: &str) -> Option<u64> {
    let (num, mul) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => {
            let m = match &s[i..] {
                "K" | "k" | "KiB" => 1 << 10,
                "M" | "MiB" => 1 << 20,
                "G" | "GiB" => 1 << 30,
                "" => 1,
                _ => return None,
            };
            (&s[..i], m)
        }
        None => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(pretty_size(32 << 20), (32, "MiB"));
        assert_eq!(pretty_size(1536 << 10), (1536, "KiB"));
        assert_eq!(parse_scaled("32768K"), Some(32 << 20));
        assert_eq!(parse_scaled("x"), None);
    }

    #[test]
    fn reads_this_host() {
        // Whatever the machine, the numbers must hang together.
        let h = Host::real();
        let t = Topology::read(&h).expect("topology");
        assert!(!t.cells.is_empty());
        let n: usize = t.cells.iter().map(|c| c.cpus.len()).sum();
        assert_eq!(n as u32, h.cpu_count().expect("count"));
        let mut w = Writer::at_depth(2);
        t.write_cells(&mut w);
        assert!(w.as_str().contains("<cells num="));
    }
}
