//! Checks libvirt makes on the top-level sections the model keeps as
//! elements (`<os>` firmware, `<cputune>`, `<numatune>`, `<cpu><numa>`,
//! `<memoryBacking>`, `<sysinfo>`), grouped by the step libvirt runs
//! them in: while parsing, after parsing, and when validating.

use std::collections::BTreeSet;

use crate::dom::Element;
use crate::error::{Error, Result};

use super::postparse::parse_cpuset;
use super::{CpuPlacement, Domain};

/// `Invalid value for attribute ...` as libvirt's enum readers word it.
pub(crate) fn invalid_attr(el: &Element, attr: &str, value: &str) -> Error {
    Error::xml(format!(
        "Invalid value for attribute '{}' in element '{}': '{}'.",
        attr, el.name, value
    ))
}

/// Rejects an attribute value outside `allowed`.
pub(crate) fn check_enum(el: &Element, attr: &str, allowed: &[&str]) -> Result<()> {
    match el.attr(attr) {
        Some(v) if !allowed.contains(&v) => Err(invalid_attr(el, attr, v)),
        _ => Ok(()),
    }
}

fn bitmap(s: &str) -> Result<BTreeSet<u32>> {
    Ok(parse_cpuset(s)?.into_iter().collect())
}

/// The guest NUMA cells (`<cpu><numa><cell>`).
pub(crate) fn numa_cells(def: &Domain) -> Vec<&Element> {
    def.sections
        .raw("cpu")
        .and_then(|c| c.child("numa"))
        .map(|n| n.children_named("cell").collect())
        .unwrap_or_default()
}

/// Errors libvirt raises while reading the sections.
pub fn parse_time(def: &Domain) -> Result<()> {
    sysinfo(def)?;
    seclabels(def)?;
    if let Some(gic) = def.sections.raw("features").and_then(|f| f.child("gic")) {
        check_enum(gic, "version", &["2", "3", "host"])?;
    }
    super::devices::validate::parse_time(&def.devices)?;
    cputune_sched(def)?;
    resctrl(def)?;
    numa(def)?;
    numatune(def)?;
    Ok(())
}

/// Errors of libvirt's generic post-parse step.
pub fn post_parse(def: &Domain, flags: super::ParseFlags) -> Result<()> {
    firmware_features(def)?;
    if !flags.disk_fd {
        super::devices::validate::reject_fd_disks(&def.devices)?;
    }
    super::devices::validate::post_parse(&def.devices)?;
    if def.name.contains('/') {
        return Err(Error::xml(format!("name {} cannot contain '/'", def.name)));
    }
    Ok(())
}

/// Errors of libvirt's validate step for the sections.
pub fn validate(def: &Domain) -> Result<()> {
    boot_menu(def)?;
    hugepages(def)?;
    loader(def)?;
    memory_devices(def)?;
    super::devices::validate::validate(&def.devices)?;
    Ok(())
}

fn sysinfo(def: &Domain) -> Result<()> {
    for si in def.sections.raw.iter().filter(|e| e.name == "sysinfo") {
        if si.attr("type") != Some("smbios") {
            continue;
        }
        if let Some(date) = si.child("bios").and_then(|b| {
            b.children_named("entry")
                .find(|e| e.attr("name") == Some("date"))
        }) {
            if !bios_date_ok(&date.text()) {
                return Err(Error::Detail("Invalid BIOS 'date' format".into()));
            }
        }
        if let Some(u) = si.child("system").and_then(|s| {
            s.children_named("entry")
                .find(|e| e.attr("name") == Some("uuid"))
        }) {
            let Some(uuid) = crate::props::Uuid::parse(&u.text()) else {
                return Err(Error::Detail("malformed <sysinfo> uuid element".into()));
            };
            if !def.uuid.is_nil() && uuid != def.uuid {
                return Err(Error::Detail(
                    "UUID mismatch between <uuid> and <sysinfo>".into(),
                ));
            }
        }
    }
    Ok(())
}

/// `mm/dd/yy` or `mm/dd/yyyy` (from 1900).
fn bios_date_ok(s: &str) -> bool {
    fn num(s: &str) -> Option<(i64, &str)> {
        let t = s.trim_start();
        let (neg, t) = match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        if end == 0 || end > 12 {
            return None;
        }
        let v: i64 = t[..end].parse().ok()?;
        Some((if neg { -v } else { v }, &t[end..]))
    }
    let Some((month, r)) = num(s) else {
        return false;
    };
    let Some(r) = r.strip_prefix('/') else {
        return false;
    };
    let Some((day, r)) = num(r) else { return false };
    let Some(r) = r.strip_prefix('/') else {
        return false;
    };
    let Some((year, r)) = num(r) else {
        return false;
    };
    r.is_empty()
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..100).contains(&year) | (year >= 1900)
}

/// The IOThread ids libvirt assigns: the listed ones, then the lowest
/// free ids up to `<iothreads>`.
fn iothread_ids(def: &Domain) -> BTreeSet<u32> {
    let mut ids: BTreeSet<u32> = def
        .sections
        .raw("iothreadids")
        .map(|e| {
            e.children_named("iothread")
                .filter_map(|t| t.attr("id").and_then(|x| x.trim().parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    let n: usize = def
        .sections
        .raw("iothreads")
        .and_then(|e| e.text().trim().parse().ok())
        .unwrap_or(0);
    let mut next = 1;
    while ids.len() < n {
        if ids.insert(next) {
            continue;
        }
        next += 1;
    }
    ids
}

fn cputune_sched(def: &Domain) -> Result<()> {
    let Some(ct) = def.sections.raw("cputune") else {
        return Ok(());
    };
    let iothreads = iothread_ids(def);
    for (elem, attr) in [("vcpusched", "vcpus"), ("iothreadsched", "iothreads")] {
        let mut used = BTreeSet::new();
        for s in ct.children_named(elem) {
            let Some(v) = s.attr(attr) else {
                return Err(Error::xml(format!(
                    "Missing attribute '{}' in element '{}'",
                    attr, elem
                )));
            };
            let map = bitmap(v)?;
            if map.is_empty() {
                return Err(Error::unsupported(format!(
                    "'{}' scheduler bitmap '{}' is empty",
                    attr, v
                )));
            }
            for id in map {
                if elem == "iothreadsched" && !iothreads.contains(&id) {
                    return Err(Error::unsupported(format!(
                        "Cannot find 'iothread' : {}",
                        id
                    )));
                }
                if !used.insert(id) {
                    return Err(Error::Detail(format!(
                        "'{}' attributes '{}' must not overlap",
                        elem, attr
                    )));
                }
            }
        }
    }
    Ok(())
}

/// One allocation group of `<cachetune>` / `<memorytune>`.
struct Resctrl {
    vcpus: BTreeSet<u32>,
    /// (level, type, cache id)
    caches: Vec<(u64, String, u64)>,
    membw: BTreeSet<u64>,
}

fn resctrl_vcpus(def: &Domain, el: &Element) -> Result<BTreeSet<u32>> {
    let Some(v) = el.attr("vcpus") else {
        return Err(Error::xml(format!("Missing {} attribute 'vcpus'", el.name)));
    };
    let set = bitmap(v).map_err(|_| {
        Error::xml(format!(
            "Invalid {} attribute 'vcpus' value '{}'",
            el.name, v
        ))
    })?;
    Ok(set.into_iter().filter(|c| *c < def.vcpu.max).collect())
}

/// Finds the group with exactly these vCPUs; overlapping ones are an error.
fn resctrl_match(groups: &[Resctrl], vcpus: &BTreeSet<u32>) -> Result<Option<usize>> {
    for (i, g) in groups.iter().enumerate() {
        if &g.vcpus == vcpus {
            return Ok(Some(i));
        }
        if !g.vcpus.is_disjoint(vcpus) {
            return Err(Error::xml("Overlapping vcpus in resctrls"));
        }
    }
    Ok(None)
}

fn resctrl(def: &Domain) -> Result<()> {
    let Some(ct) = def.sections.raw("cputune") else {
        return Ok(());
    };
    let mut groups: Vec<Resctrl> = Vec::new();
    for tune in ct.children_named("cachetune") {
        let vcpus = resctrl_vcpus(def, tune)?;
        if vcpus.is_empty() {
            continue;
        }
        if resctrl_match(&groups, &vcpus)?.is_some() {
            return Err(Error::xml("Identical vcpus in cachetunes found"));
        }
        let mut g = Resctrl {
            vcpus,
            caches: Vec::new(),
            membw: BTreeSet::new(),
        };
        for c in tune.children_named("cache") {
            let num = |k: &str| c.attr(k).and_then(|v| v.trim().parse::<u64>().ok());
            let (Some(id), Some(level), Some(ty)) = (num("id"), num("level"), c.attr("type"))
            else {
                continue;
            };
            let collides = g.caches.iter().any(|(l, t, i)| {
                *l == level && *i == id && (t == "both" || ty == "both" || t == ty)
            });
            if collides {
                return Err(Error::xml(format!(
                    "Colliding cache allocations for cache level '{}' id '{}', type '{}'",
                    level, id, ty
                )));
            }
            g.caches.push((level, ty.to_string(), id));
        }
        for m in tune.children_named("monitor") {
            let mv = resctrl_vcpus(def, m)?;
            if mv.is_empty() {
                return Err(Error::invalid_arg("vcpus is empty"));
            }
            if !mv.is_subset(&g.vcpus) {
                return Err(Error::invalid_arg(
                    "Monitor vcpus conflicts with allocation",
                ));
            }
        }
        let keep = !g.caches.is_empty() || tune.child("monitor").is_some();
        if keep {
            groups.push(g);
        }
    }
    for tune in ct.children_named("memorytune") {
        let vcpus = resctrl_vcpus(def, tune)?;
        if vcpus.is_empty() {
            continue;
        }
        let at = resctrl_match(&groups, &vcpus)?;
        let mut fresh = Resctrl {
            vcpus,
            caches: Vec::new(),
            membw: BTreeSet::new(),
        };
        let g = match at {
            Some(i) => &mut groups[i],
            None => &mut fresh,
        };
        let nodes: Vec<&Element> = tune.children_named("node").collect();
        for n in &nodes {
            let Some(id) = n.attr("id").and_then(|v| v.trim().parse::<u64>().ok()) else {
                continue;
            };
            if !g.membw.insert(id) {
                return Err(Error::xml(format!(
                    "Memory Bandwidth already defined for node {}",
                    id
                )));
            }
        }
        if at.is_none() && (!nodes.is_empty() || tune.child("monitor").is_some()) {
            groups.push(fresh);
        }
    }
    Ok(())
}

fn numa(def: &Domain) -> Result<()> {
    let Some(numa) = def.sections.raw("cpu").and_then(|c| c.child("numa")) else {
        return Ok(());
    };
    let cells: Vec<&Element> = numa.children_named("cell").collect();
    let n = cells.len();
    if n == 0 {
        return Err(Error::xml("NUMA topology defined without NUMA cells"));
    }
    let mut seen: Vec<Option<BTreeSet<u32>>> = vec![None; n];
    for (i, c) in cells.iter().enumerate() {
        let id = match c.attr("id") {
            None => i,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(x) => x,
                Err(_) => continue,
            },
        };
        if id >= n {
            return Err(Error::xml(
                "Exactly one 'cell' element per guest NUMA cell allowed, non-contiguous ranges or ranges not starting from 0 are not allowed",
            ));
        }
        if seen[id].is_some() {
            return Err(Error::xml(format!(
                "Duplicate NUMA cell info for cell id '{}'",
                id
            )));
        }
        let cpus = match c.attr("cpus") {
            Some(s) => bitmap(s)?,
            None => BTreeSet::new(),
        };
        for (j, other) in seen.iter().enumerate() {
            if let Some(o) = other {
                if j != id && !o.is_empty() && !o.is_disjoint(&cpus) {
                    return Err(Error::unsupported(format!(
                        "NUMA cells {} and {} have overlapping vCPU ids",
                        id, j
                    )));
                }
            }
        }
        seen[id] = Some(cpus);
        check_enum(c, "memAccess", &["shared", "private"])?;
    }
    Ok(())
}

fn numatune(def: &Domain) -> Result<()> {
    let Some(nt) = def.sections.raw("numatune") else {
        return Ok(());
    };
    let vcpu_static = def.vcpu.placement == CpuPlacement::Static;
    let mem = nt.child("memory");
    let mut specified = false;
    let mut auto = false;
    let mut mode = None;
    if let Some(m) = mem {
        mode = m.attr("mode");
        let nodeset = match m.attr("nodeset") {
            Some(s) => {
                let set = bitmap(s)?;
                if set.is_empty() {
                    return Err(Error::unsupported(format!(
                        "Invalid value of 'nodeset': {}",
                        s
                    )));
                }
                true
            }
            None => false,
        };
        let placement = m.attr("placement");
        if mode.is_some() || placement.is_some() || nodeset {
            specified = true;
            let p = match placement {
                Some(p) => p,
                None if nodeset || vcpu_static => "static",
                None => "auto",
            };
            if p == "static" && !nodeset {
                return Err(Error::unsupported(
                    "nodeset for NUMA memory tuning must be set if 'placement' is 'static'",
                ));
            }
            auto = p == "auto";
        }
    } else if !vcpu_static {
        specified = true;
        auto = true;
    }
    let memnodes: Vec<&Element> = nt.children_named("memnode").collect();
    if memnodes.is_empty() {
        return Ok(());
    }
    if specified && auto {
        return Err(Error::unsupported(
            "Per-node binding is not compatible with automatic NUMA placement.",
        ));
    }
    let ncells = numa_cells(def).len();
    if ncells == 0 {
        return Err(Error::xml(
            "Element 'memnode' is invalid without any guest NUMA cells",
        ));
    }
    let mut seen = BTreeSet::new();
    for m in memnodes {
        let Some(cellid) = m
            .attr("cellid")
            .and_then(|v| v.trim().parse::<usize>().ok())
        else {
            continue;
        };
        if cellid >= ncells {
            return Err(Error::xml(
                "Argument 'cellid' in memnode element must correspond to existing guest's NUMA cell",
            ));
        }
        if !seen.insert(cellid) {
            return Err(Error::xml(format!(
                "Multiple memnode elements with cellid {}",
                cellid
            )));
        }
        if mode == Some("restrictive") && m.attr("mode").unwrap_or("strict") != "restrictive" {
            return Err(Error::xml(
                "'restrictive' mode is required in memnode element when mode is 'restrictive' in memory element",
            ));
        }
        let Some(s) = m.attr("nodeset") else {
            return Err(Error::xml(
                "Missing required nodeset attribute in memnode element",
            ));
        };
        if bitmap(s)?.is_empty() {
            return Err(Error::unsupported(format!(
                "Invalid value of 'nodeset': {}",
                s
            )));
        }
    }
    Ok(())
}

fn firmware_features(def: &Domain) -> Result<()> {
    if def.os.firmware.is_none() {
        return Ok(());
    }
    let Some(fw) = def.os.extra.children.iter().find(|c| c.name == "firmware") else {
        return Ok(());
    };
    let enabled = |name: &str| {
        fw.children_named("feature")
            .filter(|f| f.attr("name") == Some(name))
            .last()
            .and_then(|f| f.attr("enabled"))
    };
    if enabled("enrolled-keys") == Some("yes") && enabled("secure-boot") == Some("no") {
        return Err(Error::Detail(
            "firmware feature 'enrolled-keys' cannot be enabled when firmware feature 'secure-boot' is disabled"
                .into(),
        ));
    }
    Ok(())
}

fn boot_menu(def: &Domain) -> Result<()> {
    let Some(bm) = def.os.extra.children.iter().find(|c| c.name == "bootmenu") else {
        return Ok(());
    };
    if bm.attr("enable") != Some("yes") {
        return Ok(());
    }
    if let Some(t) = bm.attr("timeout") {
        if t.trim().parse::<u64>().is_ok_and(|v| v > 65535) {
            return Err(Error::unsupported(
                "invalid value for boot menu timeout, must be in range [0,65535]",
            ));
        }
    }
    Ok(())
}

fn hugepages(def: &Domain) -> Result<()> {
    let Some(hp) = def
        .sections
        .raw("memoryBacking")
        .and_then(|m| m.child("hugepages"))
    else {
        return Ok(());
    };
    let ncells = numa_cells(def).len() as u32;
    let mut pages: Vec<(u64, Option<BTreeSet<u32>>)> = Vec::new();
    for p in hp.children_named("page") {
        let Some(size) = p.attr("size") else { continue };
        let Ok(size) = crate::props::memory_kib(size, p.attr("unit"), "./@size") else {
            continue;
        };
        let mut mask = match p.attr("nodeset") {
            Some(s) => Some(bitmap(s)?),
            None => None,
        };
        // Without guest NUMA a nodeset of just node 0 means no nodeset.
        if ncells == 0 && mask.as_ref().is_some_and(|m| m.iter().all(|b| *b == 0)) {
            mask = None;
        }
        pages.push((size, mask));
    }
    for (i, (size, mask)) in pages.iter().enumerate() {
        for (jsize, jmask) in &pages[..i] {
            match (mask, jmask) {
                (Some(a), Some(b)) if !a.is_disjoint(b) => {
                    return Err(Error::Detail(format!(
                        "nodeset attribute of hugepages of sizes {} and {} intersect",
                        size, jsize
                    )))
                }
                (None, None) => {
                    return Err(Error::Detail(format!(
                        "two master hugepages detected: {} and {}",
                        size, jsize
                    )))
                }
                _ => {}
            }
        }
        if let Some(bad) = mask.as_ref().and_then(|m| m.iter().find(|b| **b >= ncells)) {
            return Err(Error::Detail(format!("hugepages: node {} not found", bad)));
        }
    }
    Ok(())
}

/// `<os><loader>` and `<nvram>` against firmware autoselection.
fn loader(def: &Domain) -> Result<()> {
    let kept = |n: &str| def.os.extra.children.iter().find(|c| c.name == n);
    let (loader, nvram) = (kept("loader"), kept("nvram"));
    if loader.is_none() && nvram.is_none() {
        return Ok(());
    }
    let detail = |m: &str| Err(Error::Detail(m.to_string()));
    let path = loader.map(|l| l.text()).filter(|t| !t.is_empty());
    let attr = |k: &str| loader.and_then(|l| l.attr(k));
    let template = nvram.and_then(|n| n.attr("template"));
    let has_nvram = nvram.is_some_and(|n| n.attr("type").is_some() || !n.text().is_empty());
    let fw = def.os.firmware.as_deref();
    if let Some(fw) = fw {
        if attr("readonly").is_some() {
            return detail("loader attribute 'readonly' cannot be specified when firmware autoselection is enabled");
        }
        if attr("type").is_some() || path.is_some() {
            return detail(
                "loader attribute 'type' cannot be specified when firmware autoselection is enabled",
            );
        }
        if template.is_some() {
            return detail("nvram attribute 'template' cannot be specified when firmware autoselection is enabled");
        }
        if attr("secure") == Some("no") {
            return detail("loader attribute 'secure' cannot be specified when firmware autoselection is enabled");
        }
        if has_nvram && fw != "efi" {
            return Err(Error::Detail(format!(
                "firmware type '{}' does not support nvram",
                fw
            )));
        }
    } else if path.is_none() {
        return detail("no loader path specified and firmware auto selection disabled");
    }
    match attr("stateless") {
        Some("yes") => {
            if template.is_some() {
                return detail("NVRAM template is not permitted when loader is stateless");
            }
            if has_nvram {
                return detail("NVRAM is not permitted when loader is stateless");
            }
        }
        Some("no") => match fw {
            None if attr("type") != Some("pflash") => {
                return detail("Only pflash loader type permits NVRAM");
            }
            Some(f) if f != "efi" => return detail("Only EFI firmware permits NVRAM"),
            _ => {}
        },
        _ => {}
    }
    Ok(())
}

/// Domain `<seclabel>`s: one per model, and every one with a model when
/// there are several.
fn seclabels(def: &Domain) -> Result<()> {
    let labels: Vec<&Element> = def
        .sections
        .raw
        .iter()
        .filter(|e| e.name == "seclabel")
        .collect();
    for (i, l) in labels.iter().enumerate() {
        if let Some(m) = l.attr("model") {
            if labels[..i].iter().any(|o| o.attr("model") == Some(m)) {
                return Err(Error::Detail(format!(
                    "seclabel for model {} is already provided",
                    m
                )));
            }
        }
    }
    if labels.len() > 1 && labels.iter().any(|l| l.attr("model").is_none()) {
        return Err(Error::xml(
            "missing security model when using multiple labels",
        ));
    }
    Ok(())
}

/// `<memory>` devices must target an existing guest NUMA node.
fn memory_devices(def: &Domain) -> Result<()> {
    let ncells = numa_cells(def).len();
    for r in def.devices.raw.iter().filter(|r| r.0.name == "memory") {
        let Some(node) =
            r.0.child("target")
                .and_then(|t| t.child("node"))
                .and_then(|n| n.text().trim().parse::<i64>().ok())
        else {
            continue;
        };
        if node < 0 {
            continue;
        }
        if ncells == 0 {
            return Err(Error::Detail(
                "can't add memory backend as guest has no NUMA nodes configured".into(),
            ));
        }
        if node as usize >= ncells {
            return Err(Error::Detail(format!(
                "can't add memory backend for guest node '{}' as the guest has only '{}' NUMA nodes configured",
                node, ncells
            )));
        }
    }
    Ok(())
}
