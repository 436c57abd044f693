//! Defaults libvirt fills in after parsing, and cross-section validation
//! (libvirt's generic post-parse and validate steps, not driver-specific).

use crate::error::{Error, Result};

use super::{BootDev, Domain, OsType, ParseFlags};

/// Fills in the defaults every driver sees.
pub fn post_parse(def: &mut Domain, _flags: ParseFlags) -> Result<()> {
    super::devices::assign_indexes(&mut def.devices.controllers);
    def.devices.post_parse_devices()?;
    def.devices.chardevs.post_parse()?;
    let virt = def.virt_type.to_string();
    let os_type = def.os.os_type.to_string();
    let arch = def.os.arch.clone().unwrap_or_default();
    for v in def.devices.videos.iter_mut() {
        v.post_parse(&virt, &os_type, &arch);
    }
    // Memory
    if def.memory == 0 {
        return Err(Error::xml(
            "Memory size must be specified via <memory> or in the <numa> configuration",
        ));
    }
    if def.current_memory > def.memory || def.current_memory == 0 {
        def.current_memory = def.memory;
    }
    if let Some(m) = def.max_memory {
        if (m.size > 0 || m.slots > 0) && !(m.size > 0 && m.slots > 0) {
            return Err(Error::xml(
                "both maximum memory size and memory slot count must be specified",
            ));
        }
        if m.size > 0 && m.size < def.memory {
            return Err(Error::xml(
                "maximum memory size must be equal or greater than the actual memory size",
            ));
        }
    }
    super::devices::reject_duplicates(&def.devices.controllers)?;
    // Boot order: an HVM guest without boot devices boots from disk,
    // unless devices carry their own <boot order>.
    if def.os.os_type == OsType::Hvm
        && def.os.boot.is_empty()
        && def.os.kernel.is_none()
        && !has_device_boot_order(def)
    {
        def.os.boot.push(BootDev::Hd);
    }
    def.devices.chardevs.console_compat()?;
    def.devices.add_implicit_controllers();
    // A <graphics> without <video> gets a default video device.
    if def.devices.videos.is_empty() && !def.devices.graphics.is_empty() {
        def.devices.videos.push(super::devices::Video::new());
    }
    for g in def.devices.graphics.iter_mut() {
        g.post_parse();
    }
    if let Some(v) = def.devices.videos.first_mut() {
        if v.model == "none" {
            v.clear();
        } else {
            v.primary = true;
            v.post_parse(&virt, &os_type, &arch);
        }
    }
    Ok(())
}

fn has_device_boot_order(def: &Domain) -> bool {
    def.devices
        .disks
        .iter()
        .any(|d| d.extra.children.iter().any(|c| c.name == "boot"))
        || def
            .devices
            .interfaces
            .iter()
            .any(|n| n.extra.children.iter().any(|c| c.name == "boot"))
        || def
            .devices
            .raw
            .iter()
            .any(|r| r.0.elements().any(|c| c.name == "boot"))
}

/// Checks that hold across sections.
pub fn validate(def: &Domain) -> Result<()> {
    for c in &def.devices.controllers {
        c.validate()?;
    }
    super::devices::validate_videos(&def.devices.videos)?;
    def.devices.chardevs.validate()?;
    for g in &def.devices.graphics {
        g.validate()?;
    }
    if def.vcpu.current > def.vcpu.max {
        return Err(Error::invalid_arg(
            "requested vcpus is greater than max allowable vcpus for the live domain",
        ));
    }
    if def.vcpu.max == 0 {
        return Err(Error::invalid_arg("Invalid number of vcpus"));
    }
    Ok(())
}

/// Parses a CPU list such as `0-3,^2,8` and writes it back in libvirt's
/// canonical form (`0-1,3,8`).
pub fn canonical_cpuset(s: &str) -> Result<String> {
    let bits = parse_cpuset(s)?;
    if bits.is_empty() {
        return Err(Error::unsupported(format!(
            "Invalid value of 'cpuset': {}",
            s
        )));
    }
    Ok(format_cpuset(&bits))
}

/// The largest CPU number libvirt accepts in a CPU list.
pub const CPUMASK_LEN: u32 = 4096;

/// Parses a libvirt CPU list into sorted CPU numbers.
pub fn parse_cpuset(s: &str) -> Result<Vec<u32>> {
    let bad = || Error::invalid_arg(format!("Failed to parse bitmap '{}'", s));
    let mut set = std::collections::BTreeSet::new();
    let mut neg = std::collections::BTreeSet::new();
    for part in s.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(bad());
        }
        let (is_neg, body) = match part.strip_prefix('^') {
            Some(b) => (true, b),
            None => (false, part),
        };
        let (lo, hi) = match body.split_once('-') {
            Some((a, b)) if !is_neg => (
                a.trim().parse::<u32>().map_err(|_| bad())?,
                b.trim().parse::<u32>().map_err(|_| bad())?,
            ),
            Some(_) => return Err(bad()),
            None => {
                let v = body.trim().parse::<u32>().map_err(|_| bad())?;
                (v, v)
            }
        };
        if lo > hi || hi >= CPUMASK_LEN {
            return Err(bad());
        }
        for c in lo..=hi {
            if is_neg {
                neg.insert(c);
            } else {
                set.insert(c);
            }
        }
    }
    Ok(set.difference(&neg).copied().collect())
}

/// Writes sorted CPU numbers as ranges: `0-3,5`.
pub fn format_cpuset(bits: &[u32]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bits.len() {
        let start = bits[i];
        let mut end = start;
        while i + 1 < bits.len() && bits[i + 1] == end + 1 {
            i += 1;
            end = bits[i];
        }
        if start == end {
            out.push(start.to_string());
        } else {
            out.push(format!("{}-{}", start, end));
        }
        i += 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpusets_are_canonical() {
        assert_eq!(canonical_cpuset("0-3,^2,8").unwrap(), "0-1,3,8");
        assert_eq!(canonical_cpuset("1,2,3").unwrap(), "1-3");
        assert!(canonical_cpuset("^1").is_err());
        assert!(canonical_cpuset("x").is_err());
    }
}
