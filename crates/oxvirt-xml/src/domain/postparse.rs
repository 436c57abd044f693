//! Defaults libvirt fills in after parsing, and cross-section validation
//! (libvirt's generic post-parse and validate steps, not driver-specific).

use crate::error::{Error, Result};

use super::{BootDev, Domain, OsType, ParseFlags};

/// `<os><firmware>` features as libvirt keeps them: one per feature in
/// libvirt's order, and enrolled keys imply Secure Boot
/// (virDomainDefPostParseOs).
fn firmware_features(def: &mut Domain) {
    const FEATURES: [&str; 2] = ["enrolled-keys", "secure-boot"];
    let Some(fw) = def
        .os
        .extra
        .children
        .iter_mut()
        .find(|c| c.name == "firmware")
    else {
        return;
    };
    let mut state: [Option<String>; 2] = [None, None];
    for f in fw.children_named("feature") {
        if let Some(i) = FEATURES.iter().position(|n| f.attr("name") == Some(*n)) {
            state[i] = f.attr("enabled").map(str::to_string);
        }
    }
    if state[0].as_deref() == Some("yes") {
        state[1] = Some("yes".into());
    }
    fw.children
        .retain(|n| !matches!(n, crate::dom::Node::Element(e) if e.name == "feature"));
    for (i, v) in state.iter().enumerate() {
        if let Some(v) = v {
            let mut e = crate::dom::Element::new("feature");
            e.set_attr("enabled", v.clone());
            e.set_attr("name", FEATURES[i]);
            fw.children.push(crate::dom::Node::Element(e));
        }
    }
}

/// Fills in the defaults every driver sees.
pub fn post_parse(def: &mut Domain, flags: ParseFlags) -> Result<()> {
    super::validate::post_parse(def, flags)?;
    firmware_features(def);
    super::devices::assign_indexes(&mut def.devices.controllers);
    def.devices.post_parse_devices()?;
    def.devices.chardevs.post_parse()?;
    let virt = def.virt_type.to_string();
    let os_type = def.os.os_type.to_string();
    let arch = def.os.arch.clone().unwrap_or_default();
    for v in def.devices.videos.iter_mut() {
        v.post_parse(&virt, &os_type, &arch);
    }
    // Memory: without <memory> (or on ABI update) the NUMA cells give
    // the initial size, to which memory devices add.
    if def.memory == 0 || flags.abi_update {
        let numa: u64 = def
            .sections
            .raw("cpu")
            .and_then(|c| c.child("numa"))
            .and_then(super::cpu::numa_cell_memory)
            .map(|v| v.iter().sum())
            .unwrap_or(0);
        if numa > 0 {
            let hotplug: u64 = def
                .devices
                .raw
                .iter()
                .filter(|r| r.0.name == "memory")
                .filter_map(|r| r.0.child("target").and_then(|t| t.child("size")))
                .filter_map(|s| crate::props::memory_kib(&s.text(), s.attr("unit"), "./size").ok())
                .sum();
            def.memory = numa + hotplug;
        }
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
    if def.os.os_type == OsType::Hvm {
        let orders = device_boot_orders(def);
        let mut seen = std::collections::HashSet::new();
        for o in &orders {
            if !seen.insert(o.clone()) {
                return Err(Error::unsupported(format!(
                    "boot order '{}' used for more than one device",
                    o
                )));
            }
        }
        if !def.os.boot.is_empty() && !orders.is_empty() {
            return Err(Error::unsupported(
                "per-device boot elements cannot be used together with os/boot elements",
            ));
        }
        if def.os.boot.is_empty() && orders.is_empty() {
            def.os.boot.push(BootDev::Hd);
        }
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

/// The `<boot order>` values of every device, in device order.
fn device_boot_orders(def: &Domain) -> Vec<String> {
    fn of<'a>(mut children: impl Iterator<Item = &'a crate::dom::Element>) -> Option<String> {
        children
            .find(|c| c.name == "boot")
            .and_then(|b| b.attr("order"))
            .map(|o| o.trim().to_string())
    }
    let mut out = Vec::new();
    for d in &def.devices.disks {
        out.extend(of(d.extra.children.iter()));
    }
    for n in &def.devices.interfaces {
        out.extend(of(n.extra.children.iter()));
    }
    for r in &def.devices.raw {
        out.extend(of(r.0.elements()));
    }
    out
}

/// Checks that hold across sections.
pub fn validate(def: &Domain) -> Result<()> {
    super::validate::validate(def)?;
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
    parse_bitmap(s, CPUMASK_LEN)
}

/// virBitmapParse into a bitmap of `len` bits: the numbers set, sorted.
pub fn parse_bitmap(s: &str, len: u32) -> Result<Vec<u32>> {
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
        if lo > hi || hi >= len {
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
