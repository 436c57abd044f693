//! Host helpers and host facts shared by the drivers (QEMU, storage,
//! secrets, networks):
//! - state files written atomically, and external programs run with
//!   libvirt's error for a failing child process (`fsutil`, `command`);
//! - the facts a hypervisor driver reports through libvirt's node APIs
//!   and capabilities: CPUs, memory, NUMA cells, huge pages, KSM tunables,
//!   caches and topology from /proc and /sys (`node`, `topology`), the
//!   host CPU from CPUID (`cpuid`), and the x86 CPU model logic (`cpu`).
//!
//! Rules: no driver logic here, only what several drivers need alike.
//! Host facts are read only, except `alloc_pages` and
//! `set_memory_parameters`, which write the kernel's own tunables exactly
//! as asked; every failure is a libvirt error with libvirt's wording;
//! paths are relative to a [`Host`] root, so tests can point it at a
//! made-up /sys and /proc.

pub mod command;
pub mod cpu;
pub mod cpuid;
pub mod fsutil;
pub mod node;
pub mod sysinfo;
pub mod topology;

pub use command::Command;
pub use fsutil::{remove_file, write_atomic};

use std::path::{Path, PathBuf};

/// Where the host's /sys and /proc are (the real ones, or a test's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub sys: PathBuf,
    pub proc: PathBuf,
}

impl Default for Host {
    fn default() -> Self {
        Host::real()
    }
}

impl Host {
    /// The running system.
    pub fn real() -> Host {
        Host {
            sys: PathBuf::from("/sys"),
            proc: PathBuf::from("/proc"),
        }
    }

    /// A made-up system under `root` (`root/sys`, `root/proc`).
    pub fn at(root: &Path) -> Host {
        Host {
            sys: root.join("sys"),
            proc: root.join("proc"),
        }
    }

    pub(crate) fn sys(&self, rel: &str) -> PathBuf {
        self.sys.join(rel)
    }

    pub(crate) fn proc(&self, rel: &str) -> PathBuf {
        self.proc.join(rel)
    }
}

/// Reads a small sysfs/procfs file, trimmed.
pub(crate) fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Reads a number from a small file.
pub(crate) fn read_num<T: std::str::FromStr>(p: &Path) -> Option<T> {
    read_trim(p)?.parse().ok()
}

/// Parses a kernel CPU list ("0-3,8,10-11"); None when malformed.
pub fn parse_cpulist(s: &str) -> Option<Vec<u32>> {
    let s = s.trim();
    let mut out = Vec::new();
    if s.is_empty() {
        return Some(out);
    }
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?);
                if b < a || b - a > 65536 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// Formats a sorted CPU list as libvirt does ("0-3,8").
pub fn format_cpulist(bits: &[u32]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bits.len() {
        let start = bits[i];
        let mut end = start;
        while i + 1 < bits.len() && bits[i + 1] == end + 1 {
            i += 1;
            end = bits[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{}-{}", start, end)
        });
        i += 1;
    }
    out.join(",")
}

/// Reads a CPU list file.
pub(crate) fn read_cpulist(p: &Path) -> Option<Vec<u32>> {
    parse_cpulist(&std::fs::read_to_string(p).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpulists() {
        assert_eq!(parse_cpulist("0-2,5\n"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_cpulist(""), Some(vec![]));
        assert_eq!(parse_cpulist("3-1"), None);
        assert_eq!(parse_cpulist("x"), None);
        assert_eq!(format_cpulist(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
    }
}
