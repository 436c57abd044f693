//! Devices as libudev sees them without a running udevd: a directory under
//! /sys/devices with a `uevent` file, its subsystem (the `subsystem` link),
//! its properties (the uevent keys, plus udev's database when udevd keeps
//! one) and its attributes (files in the directory).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where to look: the real system, or a test's copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    /// /sys
    pub sys: PathBuf,
    /// /dev
    pub dev: PathBuf,
    /// udev's database (/run/udev/data)
    pub udev_data: PathBuf,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            sys: PathBuf::from("/sys"),
            dev: PathBuf::from("/dev"),
            udev_data: PathBuf::from("/run/udev/data"),
        }
    }
}

/// One device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysDev {
    /// Canonical path under `sys`/devices.
    pub syspath: PathBuf,
    pub subsystem: Option<String>,
    pub sysname: String,
    pub props: BTreeMap<String, String>,
    /// /dev links from udev's database.
    pub devlinks: Vec<String>,
}

/// Subsystems libvirt does not enumerate.
const IGNORED: &[&str] = &["acpi", "tty", "vc", "i2c"];

/// The longest sysfs attribute read (libudev reads at most a page).
const MAX_ATTR: u64 = 4096;

impl SysDev {
    /// The device at `syspath` (a directory with a uevent file).
    pub fn new(src: &Sources, syspath: &Path) -> Option<SysDev> {
        let syspath = std::fs::canonicalize(syspath).ok()?;
        let uevent = std::fs::read_to_string(syspath.join("uevent")).ok()?;
        let sysname = syspath.file_name()?.to_str()?.replace('!', "/");
        let subsystem = std::fs::read_link(syspath.join("subsystem"))
            .ok()
            .and_then(|l| l.file_name().map(|f| f.to_string_lossy().into_owned()));
        let mut props = BTreeMap::new();
        for line in uevent.lines() {
            if let Some((k, v)) = line.split_once('=') {
                props.insert(k.to_string(), v.to_string());
            }
        }
        if let Some(s) = &subsystem {
            props.insert("SUBSYSTEM".into(), s.clone());
        }
        let mut devlinks = Vec::new();
        // udev's database, when a udevd maintains one.
        let id = if let (Some(ma), Some(mi)) = (props.get("MAJOR"), props.get("MINOR")) {
            let kind = if subsystem.as_deref() == Some("block") {
                'b'
            } else {
                'c'
            };
            Some(format!("{}{}:{}", kind, ma, mi))
        } else if let Some(i) = props.get("IFINDEX") {
            Some(format!("n{}", i))
        } else {
            subsystem
                .as_ref()
                .map(|s| format!("+{}:{}", s, sysname.replace('/', "!")))
        };
        if let Some(db) = id.and_then(|i| std::fs::read_to_string(src.udev_data.join(i)).ok()) {
            for line in db.lines() {
                if let Some(e) = line.strip_prefix("E:") {
                    if let Some((k, v)) = e.split_once('=') {
                        props.insert(k.to_string(), v.to_string());
                    }
                } else if let Some(l) = line.strip_prefix("S:") {
                    devlinks.push(format!("{}/{}", src.dev.display(), l));
                }
            }
        }
        Some(SysDev {
            syspath,
            subsystem,
            sysname,
            props,
            devlinks,
        })
    }

    pub fn prop(&self, k: &str) -> Option<&str> {
        self.props.get(k).map(String::as_str)
    }

    pub fn devtype(&self) -> Option<&str> {
        self.prop("DEVTYPE")
    }

    /// An attribute's value, trailing newline removed (None: unreadable).
    pub fn attr(&self, name: &str) -> Option<String> {
        let p = self.syspath.join(name);
        if p.is_dir() {
            return None;
        }
        use std::io::Read;
        let f = std::fs::File::open(&p).ok()?;
        let mut s = String::new();
        f.take(MAX_ATTR).read_to_string(&mut s).ok()?;
        Some(s.trim_end_matches('\n').to_string())
    }

    /// An attribute with control characters removed, None when empty
    /// (libvirt's udevGetStringSysfsAttr).
    pub fn attr_string(&self, name: &str) -> Option<String> {
        let v: String = self
            .attr(name)?
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        (!v.is_empty()).then_some(v)
    }

    /// An attribute as a number in `radix` (0x prefixes accepted).
    pub fn attr_num(&self, name: &str, radix: u32) -> Option<u64> {
        parse_num(&self.attr(name)?, radix)
    }

    /// `/dev/DEVNAME` when the device has a node.
    pub fn devnode(&self, src: &Sources) -> Option<String> {
        self.prop("DEVNAME")
            .map(|n| format!("{}/{}", src.dev.display(), n))
    }
}

/// `strtoul`-like parse: leading spaces, optional 0x for radix 16 or 0.
pub fn parse_num(s: &str, radix: u32) -> Option<u64> {
    let t = s.trim();
    let (t, radix) = match radix {
        0 => {
            if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                (h, 16)
            } else if t.len() > 1 && t.starts_with('0') {
                (&t[1..], 8)
            } else {
                (t, 10)
            }
        }
        16 => (
            t.strip_prefix("0x")
                .or_else(|| t.strip_prefix("0X"))
                .unwrap_or(t),
            16,
        ),
        r => (t, r),
    };
    let end = t
        .char_indices()
        .find(|(_, c)| !c.is_digit(radix))
        .map_or(t.len(), |(i, _)| i);
    u64::from_str_radix(&t[..end], radix).ok()
}

/// Every device of every subsystem but the ignored ones, parents before
/// children (sorted by path, as libudev's enumeration returns them).
pub fn enumerate(src: &Sources) -> Vec<SysDev> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for (base, sub) in [("bus", "devices"), ("class", "")] {
        let Ok(rd) = std::fs::read_dir(src.sys.join(base)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if IGNORED.contains(&name.as_str()) {
                continue;
            }
            let dir = if sub.is_empty() {
                e.path()
            } else {
                e.path().join(sub)
            };
            if let Ok(devs) = std::fs::read_dir(&dir) {
                for d in devs.flatten() {
                    if let Ok(p) = std::fs::canonicalize(d.path()) {
                        paths.push(p);
                    }
                }
            }
        }
    }
    paths.sort();
    paths.dedup();
    paths.iter().filter_map(|p| SysDev::new(src, p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_num("0x1af4\n", 16), Some(0x1af4));
        assert_eq!(parse_num("1af4", 16), Some(0x1af4));
        assert_eq!(parse_num("20000", 16), Some(0x20000));
        assert_eq!(parse_num("42", 0), Some(42));
        assert_eq!(parse_num("0x10", 0), Some(16));
        assert_eq!(parse_num("x", 10), None);
    }
}
