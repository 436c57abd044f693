//! Guest memory as libvirt lays it out (qemuBuildMemCommandLine,
//! qemuBuildNumaCommandLine, qemuBuildMemoryBackendProps,
//! qemuBuildMemoryDeviceProps): `-m`, the main RAM's backend named as
//! the machine's default RAM id (`pc.ram`), one backend per NUMA node
//! (`ram-nodeN`) when the machine or the configuration needs them, HMAT,
//! and memory modules (`memALIAS` plus pc-dimm, nvdimm, virtio-pmem,
//! virtio-mem). The backend type follows from hugepages, the memory
//! source and access mode exactly as in libvirt, so the RAM blocks (and
//! thus migration streams) match.

use oxvirt_core::Result;
use oxvirt_xml::dom::Element;
use oxvirt_xml::domain::postparse::{format_cpuset, parse_cpuset};
use oxvirt_xml::props;

use super::{internal, num, unsupported, Args, Ctx, Props};

/// An element's text as KiB (its `unit`, KiB by default).
pub(crate) fn kib_text(e: &Element) -> u64 {
    e.text()
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|v| props::scale(v, e.attr("unit"), 1024, u64::MAX).ok())
        .map(|b| b / 1024)
        .unwrap_or(0)
}

fn kib_attr(e: &Element, k: &str, unit: &str) -> u64 {
    e.attr(k)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .and_then(|v| props::scale(v, e.attr(unit), 1024, u64::MAX).ok())
        .map(|b| b / 1024)
        .unwrap_or(0)
}

/// The guest NUMA cells (`<cpu><numa><cell>`).
pub(crate) fn numa_cells<'a>(cx: &'a Ctx) -> Vec<&'a Element> {
    cx.root
        .child("cpu")
        .and_then(|c| c.child("numa"))
        .map(|n| n.children_named("cell").collect())
        .unwrap_or_default()
}

/// The machine's default RAM id (`pc.ram`), from the probe.
pub(crate) fn default_ram_id(cx: &Ctx) -> Option<String> {
    match cx.caps {
        Some(c) => {
            let m = cx.machine();
            c.machine_info
                .iter()
                .find(|x| x.name == m || x.alias.as_deref() == Some(m))
                .and_then(|x| x.default_ram_id.clone())
        }
        None => Some("pc.ram".into()),
    }
}

/// One memory backend to build (virDomainMemoryDef's relevant part).
struct Mem<'a> {
    alias: String,
    size_kib: u64,
    target_node: Option<usize>,
    access: Option<&'a str>,
    discard: Option<&'a str>,
    nvdimm_path: Option<String>,
    pmem: bool,
    model: &'a str,
    source_nodes: Option<&'a str>,
    pagesize_kib: u64,
    align_kib: u64,
}

impl Mem<'_> {
    fn plain(alias: String, size_kib: u64, target_node: Option<usize>) -> Mem<'static> {
        Mem {
            alias,
            size_kib,
            target_node,
            access: None,
            discard: None,
            nvdimm_path: None,
            pmem: false,
            model: "",
            source_nodes: None,
            pagesize_kib: 0,
            align_kib: 0,
        }
    }
}

/// The host's hugetlbfs mounts: (page size in KiB, mount point), the
/// default size first.
fn hugetlbfs() -> Vec<(u64, String)> {
    let default = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("Hugepagesize:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(2048u64);
    let mut out: Vec<(u64, String)> = std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 4 || f[2] != "hugetlbfs" {
                return None;
            }
            let size = f[3]
                .split(',')
                .find_map(|o| o.strip_prefix("pagesize="))
                .and_then(|v| {
                    let (n, unit) =
                        v.split_at(v.trim_end_matches(|c: char| c.is_alphabetic()).len());
                    let n: u64 = n.parse().ok()?;
                    Some(match unit {
                        "G" | "g" => n * 1024 * 1024,
                        "M" | "m" => n * 1024,
                        "K" | "k" => n,
                        _ => n / 1024,
                    })
                })
                .unwrap_or(default);
            Some((size, f[1].to_string()))
        })
        .collect();
    out.sort_by_key(|(s, _)| *s != default);
    out
}

/// The `-1-NAME` / `ID-NAME` short name of libvirt's per-domain paths.
fn short_name(cx: &Ctx) -> String {
    let id = if cx.start.pretend {
        -1
    } else {
        cx.def.id.unwrap_or(-1)
    };
    format!(
        "{}-{}",
        id,
        cx.def.name.chars().take(20).collect::<String>()
    )
}

fn hugepage_path(cx: &Ctx, pagesize: u64) -> Result<String> {
    let mounts = hugetlbfs();
    if mounts.is_empty() {
        return Err(internal(
            "hugetlbfs filesystem is not mounted or disabled by administrator config",
        ));
    }
    let m = mounts.iter().find(|(s, _)| *s == pagesize).ok_or_else(|| {
        internal(format!(
            "Unable to find any usable hugetlbfs mount for {} KiB",
            pagesize
        ))
    })?;
    let path = format!("{}/libvirt/qemu/{}", m.1, short_name(cx));
    if !cx.start.pretend {
        // libvirt makes the domain's directory on the mount before QEMU
        // starts (qemuProcessBuildDestroyMemoryPaths).
        std::fs::create_dir_all(&path).map_err(|e| {
            oxvirt_core::Error::system(crate::FROM, format!("Unable to create {}", path), &e)
        })?;
    }
    Ok(path)
}

/// A file-backed RAM block's path (qemuGetMemoryBackingPath): libvirt's
/// memory backing directory, or beside the monitor socket.
fn backing_path(cx: &Ctx, alias: &str) -> String {
    if cx.start.pretend {
        format!("/var/lib/libvirt/qemu/ram/{}/{}", short_name(cx), alias)
    } else {
        cx.private_path(&format!("ram-{}", alias))
    }
}

fn memory_backing<'a>(cx: &'a Ctx) -> Option<&'a Element> {
    cx.root.child("memoryBacking")
}

fn mem_source<'a>(cx: &'a Ctx) -> Option<&'a str> {
    memory_backing(cx)
        .and_then(|b| b.child("source"))
        .and_then(|s| s.attr("type"))
}

fn immediate(cx: &Ctx) -> bool {
    memory_backing(cx)
        .and_then(|b| b.child("allocation"))
        .and_then(|a| a.attr("mode"))
        == Some("immediate")
}

/// (page size, need a hugepage backend, use hugepages, prealloc)
/// (qemuBuildMemoryGetPagesize).
fn pagesize(cx: &Ctx, mem: &Mem) -> Result<(u64, bool, bool, bool)> {
    let mut pagesize = mem.pagesize_kib;
    let mut need = pagesize != 0;
    let mut use_ = pagesize != 0;
    if pagesize == 0 {
        let pages: Vec<&Element> = memory_backing(cx)
            .and_then(|b| b.child("hugepages"))
            .map(|h| h.children_named("page").collect())
            .unwrap_or_default();
        let hugepages = memory_backing(cx).and_then(|b| b.child("hugepages"));
        let size = |p: &Element| kib_attr(p, "size", "unit");
        let master = pages.iter().find(|p| p.attr("nodeset").is_none());
        let mut found = None;
        if let Some(node) = mem.target_node {
            found = pages.iter().find(|p| {
                p.attr("nodeset")
                    .and_then(|ns| parse_cpuset(ns).ok())
                    .is_some_and(|v| v.contains(&(node as u32)))
            });
            if found.is_some() {
                need = true;
            }
        }
        match found.or(master) {
            Some(p) => {
                pagesize = size(p);
                use_ = true;
            }
            None if hugepages.is_some() && pages.is_empty() => {
                // `<hugepages/>`: the default huge page size.
                use_ = true;
            }
            None => {}
        }
    }
    if pagesize == 4 {
        pagesize = 0;
        need = false;
        use_ = false;
    } else if use_ && pagesize == 0 {
        pagesize = hugetlbfs().first().map(|(s, _)| *s).ok_or_else(|| {
            internal("hugetlbfs filesystem is not mounted or disabled by administrator config")
        })?;
    }
    let mut prealloc = immediate(cx);
    if mem.nvdimm_path.is_some() {
        if !mem.pmem && mem.model != "virtio-pmem" {
            prealloc = true;
        }
    } else if use_ {
        prealloc = true;
    }
    Ok((pagesize, need, use_, prealloc))
}

/// `<numatune>`: the mode and nodeset for guest node `cell` (or the
/// whole guest).
fn numatune(cx: &Ctx, cell: Option<usize>) -> (String, Option<String>, bool) {
    let nt = cx.root.child("numatune");
    let memnode = cell.and_then(|c| {
        nt.and_then(|n| {
            n.children_named("memnode")
                .find(|m| m.attr("cellid").and_then(|v| v.parse::<usize>().ok()) == Some(c))
        })
    });
    let global = nt.and_then(|n| n.child("memory"));
    let mode = memnode
        .and_then(|m| m.attr("mode"))
        .or_else(|| global.and_then(|g| g.attr("mode")))
        .unwrap_or("strict")
        .to_string();
    let specified = memnode.and_then(|m| m.attr("nodeset")).is_some();
    let nodeset = memnode.and_then(|m| m.attr("nodeset")).or_else(|| {
        global
            .filter(|g| g.attr("placement").unwrap_or("static") == "static")
            .and_then(|g| g.attr("nodeset"))
    });
    (mode, nodeset.map(str::to_string), specified)
}

/// qemuBuildMemoryBackendProps: the backend's properties and whether
/// the configuration needs a backend at all.
fn backend(cx: &Ctx, mem: &Mem, force: bool, system: bool) -> Result<(Props, bool)> {
    let cells = numa_cells(cx);
    let mut access = mem.access;
    let mut discard = mem.discard;
    if let Some(n) = mem.target_node {
        let cell = cells.get(n);
        if access.is_none() {
            access = cell.and_then(|c| c.attr("memAccess"));
        }
        if discard.is_none() {
            discard = cell.and_then(|c| c.attr("discard"));
        }
    }
    let mb = memory_backing(cx);
    if access.is_none() {
        access = mb
            .and_then(|b| b.child("access"))
            .and_then(|a| a.attr("mode"));
    }
    if discard.is_none() && mb.and_then(|b| b.child("discard")).is_some() {
        discard = Some("yes");
    }
    let (mode, nodeset, node_specified) = numatune(cx, mem.target_node);
    let (pagesize, need_huge, use_huge, prealloc) = pagesize(cx, mem)?;
    let source = mem_source(cx);
    let mut p = Props::new();
    let share = |p: &mut Props| match access {
        Some("shared") => {
            p.b("share", true);
        }
        Some("private") => {
            p.b("share", false);
        }
        _ => {}
    };
    let mut disable_canonical = false;
    let backend_type;
    if mem.model == "sgx-epc" {
        backend_type = "memory-backend-epc";
    } else if mem.nvdimm_path.is_none() && source == Some("memfd") {
        backend_type = "memory-backend-memfd";
        if use_huge {
            p.b("hugetlb", true).u("hugetlbsize", pagesize << 10);
        }
        share(&mut p);
        disable_canonical = system;
    } else if use_huge || mem.nvdimm_path.is_some() || access.is_some() || source == Some("file") {
        backend_type = "memory-backend-file";
        let path = if let Some(n) = &mem.nvdimm_path {
            n.clone()
        } else if use_huge {
            hugepage_path(cx, pagesize)?
        } else {
            backing_path(cx, &mem.alias)
        };
        p.s("mem-path", &path);
        if mem.nvdimm_path.is_none() {
            match discard {
                Some("yes") => {
                    p.b("discard-data", true);
                }
                Some("no") => {
                    p.b("discard-data", false);
                }
                _ => {}
            }
        }
        share(&mut p);
        disable_canonical = system;
    } else {
        backend_type = "memory-backend-ram";
    }
    if disable_canonical {
        p.b("x-use-canonical-path-for-ramblock-id", false);
    }
    let mem_prealloc = cx.mem_prealloc.get();
    if mem.model == "virtio-mem" {
        // QEMU 7.2's virtio-mem-pci preallocates itself.
        p.b("reserve", false);
    } else if !mem_prealloc {
        if prealloc || mem.model == "sgx-epc" {
            p.b("prealloc", true);
        }
        let threads = mb
            .and_then(|b| b.child("allocation"))
            .and_then(|a| a.attr("threads"))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        p.p("prealloc-threads", threads);
    }
    p.u("size", mem.size_kib * 1024);
    p.p("align", mem.align_kib * 1024);
    if mem.pmem {
        p.b("pmem", true);
    }
    let nodemask = mem.source_nodes.map(str::to_string).or(nodeset);
    if let Some(ns) = nodemask {
        let nodes = parse_cpuset(&ns).map_err(|_| internal(format!("invalid nodeset '{}'", ns)))?;
        let online = host_numa_nodes();
        if let Some(missing) = nodes.iter().find(|n| !online.contains(n)) {
            return Err(unsupported(format!("NUMA node {} is unavailable", missing)));
        }
        if mode == "restrictive" {
            // cgroups alone place restrictive memory.
            let mut out = Props::new();
            out.s("qom-type", backend_type).s("id", &mem.alias);
            out.extend(p);
            return Ok((
                out,
                needed_of(need_huge, mem, node_specified, access, source, force),
            ));
        }
        p.set(
            "host-nodes",
            serde_json::Value::Array(nodes.iter().map(|n| (*n as u64).into()).collect()),
        );
        let policy = match mode.as_str() {
            "strict" => "bind",
            other => other,
        };
        p.s("policy", policy);
    }
    let needed = needed_of(need_huge, mem, node_specified, access, source, force);
    let mut out = Props::new();
    out.s("qom-type", backend_type).s("id", &mem.alias);
    out.extend(p);
    Ok((out, needed))
}

/// Whether the configuration needs a backend object at all.
fn needed_of(
    need_huge: bool,
    mem: &Mem,
    node_specified: bool,
    access: Option<&str>,
    source: Option<&str>,
    force: bool,
) -> bool {
    need_huge
        || mem.source_nodes.is_some()
        || node_specified
        || mem.nvdimm_path.is_some()
        || access.is_some()
        || matches!(source, Some("file") | Some("memfd"))
        || force
}

/// Every host node `<numatune>` names exists
/// (virDomainNumatuneNodesetIsAvailable).
fn nodesets_available(cx: &Ctx) -> Result<()> {
    let Some(nt) = cx.root.child("numatune") else {
        return Ok(());
    };
    let online = host_numa_nodes();
    let check = |ns: &str| -> Result<()> {
        let nodes = parse_cpuset(ns).map_err(|_| internal(format!("invalid nodeset '{}'", ns)))?;
        match nodes.iter().find(|n| !online.contains(n)) {
            Some(n) => Err(unsupported(format!("NUMA node {} is unavailable", n))),
            None => Ok(()),
        }
    };
    if let Some(m) = nt.child("memory") {
        if m.attr("placement") == Some("auto") {
            return Err(internal(
                "Advice from numad is needed in case of automatic numa placement",
            ));
        }
        if let Some(ns) = m.attr("nodeset") {
            check(ns)?;
        }
    }
    for m in nt.children_named("memnode") {
        if let Some(ns) = m.attr("nodeset") {
            check(ns)?;
        }
    }
    Ok(())
}

/// The host's NUMA nodes (a host without NUMA has node 0).
fn host_numa_nodes() -> Vec<u32> {
    let online = std::fs::read_to_string("/sys/devices/system/node/online").unwrap_or_default();
    parse_cpuset(online.trim()).unwrap_or_else(|_| vec![0])
}

/// `-mem-prealloc` and `-mem-path` for RAM without a backend object
/// (qemuBuildMemPathStr).
fn mem_path(cx: &Ctx, a: &mut Args) -> Result<()> {
    let pages: Vec<&Element> = memory_backing(cx)
        .and_then(|b| b.child("hugepages"))
        .map(|h| h.children_named("page").collect())
        .unwrap_or_default();
    let mut path = None;
    let mut prealloc = false;
    let first = pages.first().map(|p| kib_attr(p, "size", "unit"));
    let hugepages = memory_backing(cx)
        .and_then(|b| b.child("hugepages"))
        .is_some();
    if hugepages && first != Some(4) {
        let size = match first.filter(|s| *s != 0) {
            Some(s) => s,
            None => hugetlbfs().first().map(|(s, _)| *s).ok_or_else(|| {
                internal("hugetlbfs filesystem is not mounted or disabled by administrator config")
            })?,
        };
        path = Some(hugepage_path(cx, size)?);
        prealloc = true;
    } else if mem_source(cx) == Some("file") {
        path = Some(backing_path(cx, "ram"));
    }
    if immediate(cx) {
        prealloc = true;
    }
    if prealloc && !cx.mem_prealloc.get() {
        a.flag("-mem-prealloc");
        cx.mem_prealloc.set(true);
    }
    if let Some(p) = path {
        a.push("-mem-path", p);
    }
    Ok(())
}

/// `-m` and the main RAM's backend, `-overcommit`.
pub fn memory(cx: &Ctx, a: &mut Args) -> Result<()> {
    let initial = cx.mem_initial;
    match cx.def.max_memory.filter(|m| m.size > 0 || m.slots > 0) {
        Some(m) => a.push(
            "-m",
            format!(
                "size={}k,slots={},maxmem={}k",
                initial,
                m.slots,
                m.size.div_ceil(1024) * 1024
            ),
        ),
        None => a.push("-m", format!("{}", initial / 1024)),
    }
    let cells = numa_cells(cx);
    match default_ram_id(cx) {
        Some(id) => {
            if cells.is_empty() {
                let mem = Mem::plain(id, initial, None);
                let (p, _) = backend(cx, &mem, false, true)?;
                a.object(&p);
            }
        }
        None => {
            if cells.is_empty() {
                mem_path(cx, a)?;
            }
        }
    }
    let locked = memory_backing(cx).and_then(|b| b.child("locked")).is_some();
    a.push(
        "-overcommit",
        format!("mem-lock={}", if locked { "on" } else { "off" }),
    );
    Ok(())
}

/// `-numa` nodes with their backends, distances and HMAT
/// (qemuBuildNumaCommandLine).
pub fn numa(cx: &Ctx, a: &mut Args) -> Result<()> {
    let cells = numa_cells(cx);
    if cells.is_empty() {
        return Ok(());
    }
    nodesets_available(cx)?;
    let numa = cx.root.child("cpu").and_then(|c| c.child("numa"));
    let supported = match cx.caps {
        Some(c) => {
            let m = cx.machine();
            c.machine_info
                .iter()
                .find(|x| x.name == m || x.alias.as_deref() == Some(m))
                .is_some_and(|x| x.numa_mem_supported)
        }
        None => false,
    };
    let interconnects: Vec<&Element> = numa
        .and_then(|n| n.child("interconnects"))
        .map(|i| i.elements().collect())
        .unwrap_or_default();
    let hmat = !interconnects.is_empty() || cells.iter().any(|c| c.child("cache").is_some());
    let mut need = !supported || hmat;
    let mut backends = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        let mem = Mem::plain(
            format!("ram-node{}", i),
            kib_attr(c, "memory", "unit"),
            Some(i),
        );
        let (p, needed) = backend(cx, &mem, false, false)?;
        need |= needed;
        backends.push(p);
    }
    if !need {
        mem_path(cx, a)?;
    }
    let Some(master) = cells.iter().position(|c| c.attr("cpus").is_some()) else {
        return Err(unsupported("At least one NUMA node has to have CPUs"));
    };
    for (i, c) in cells.iter().enumerate() {
        if need {
            a.object(&backends[i]);
        }
        let mut s = format!("node,nodeid={}", i);
        if let Some(cpus) = c.attr("cpus") {
            if let Ok(v) = parse_cpuset(cpus) {
                for part in format_cpuset(&v).split(',') {
                    s.push_str(&format!(",cpus={}", part));
                }
            }
        }
        if hmat {
            let initiator = if c.attr("cpus").is_some() {
                i
            } else {
                initiator_of(&interconnects, i).unwrap_or(master)
            };
            s.push_str(&format!(",initiator={}", initiator));
        }
        if need {
            s.push_str(&format!(",memdev=ram-node{}", i));
        } else {
            s.push_str(&format!(",mem={}", kib_attr(c, "memory", "unit") / 1024));
        }
        a.push("-numa", s);
    }
    // Distances: all of them once any is given.
    let any_distance = cells.iter().any(|c| c.child("distances").is_some());
    if any_distance {
        for (i, c) in cells.iter().enumerate() {
            for j in 0..cells.len() {
                let given = c.child("distances").and_then(|d| {
                    d.children_named("sibling")
                        .find(|s| s.attr("id").and_then(|v| v.parse::<usize>().ok()) == Some(j))
                        .and_then(|s| s.attr("value"))
                        .and_then(|v| v.parse::<u64>().ok())
                });
                let val = given.unwrap_or(if i == j { 10 } else { 20 });
                a.push("-numa", format!("dist,src={},dst={},val={}", i, j, val));
            }
        }
    }
    if hmat {
        for ic in &interconnects {
            let cache = num(ic, "cache");
            let hierarchy = match cache {
                0 => "memory",
                1 => "first-level",
                2 => "second-level",
                _ => "third-level",
            };
            let mut s = format!(
                "hmat-lb,initiator={},target={},hierarchy={},data-type={}-",
                num(ic, "initiator"),
                num(ic, "target"),
                hierarchy,
                ic.attr("type").unwrap_or("access")
            );
            if ic.name == "latency" {
                s.push_str(&format!("latency,latency={}", num(ic, "value")));
            } else {
                s.push_str(&format!(
                    "bandwidth,bandwidth={}K",
                    kib_attr(ic, "value", "unit")
                ));
            }
            a.push("-numa", s);
        }
        for (i, c) in cells.iter().enumerate() {
            for cache in c.children_named("cache") {
                let size = cache
                    .child("size")
                    .map(|s| kib_attr(s, "value", "unit"))
                    .unwrap_or(0);
                let line = cache
                    .child("line")
                    .map(|l| {
                        l.attr("value")
                            .and_then(|v| v.parse::<u64>().ok())
                            .and_then(|v| props::scale(v, l.attr("unit"), 1, u64::MAX).ok())
                            .unwrap_or(0)
                    })
                    .unwrap_or(0);
                let mut s = format!(
                    "hmat-cache,node-id={},size={}K,level={}",
                    i,
                    size,
                    num(cache, "level")
                );
                match cache.attr("associativity") {
                    Some("none") => s.push_str(",associativity=none"),
                    Some("direct") => s.push_str(",associativity=direct"),
                    Some("full") => s.push_str(",associativity=complex"),
                    _ => {}
                }
                match cache.attr("policy") {
                    Some("none") => s.push_str(",policy=none"),
                    Some("writeback") => s.push_str(",policy=write-back"),
                    Some("writethrough") => s.push_str(",policy=write-through"),
                    _ => {}
                }
                if line > 0 {
                    s.push_str(&format!(",line={}", line));
                }
                a.push("-numa", s);
            }
        }
    }
    Ok(())
}

/// The initiator of a node without CPUs: the best-performing
/// interconnect to it (virDomainNumaGetNodeInitiator).
fn initiator_of(ics: &[&Element], node: usize) -> Option<usize> {
    let mut best_lat: Option<(u64, usize)> = None;
    let mut best_bw: Option<(u64, usize)> = None;
    for ic in ics {
        if num(ic, "target") as usize != node {
            continue;
        }
        let v = num(ic, "value");
        let init = num(ic, "initiator") as usize;
        if ic.name == "latency" {
            if best_lat.is_none_or(|(b, _)| v < b) {
                best_lat = Some((v, init));
            }
        } else if best_bw.is_none_or(|(b, _)| v > b) {
            best_bw = Some((v, init));
        }
    }
    best_lat.or(best_bw).map(|(_, i)| i)
}

/// Memory devices: a backend (`memALIAS`) and pc-dimm, nvdimm,
/// virtio-pmem-pci or virtio-mem-pci (qemuBuildMemoryDeviceCommandLine).
pub fn memory_devices(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, m) in cx.devices("memory").iter().enumerate() {
        let alias = cx.aliases.get("memory", i);
        let model = m.attr("model").unwrap_or("dimm");
        let target = m.child("target");
        let source = m.child("source");
        let size = target
            .and_then(|t| t.child("size"))
            .map(kib_text)
            .unwrap_or(0);
        let node = target
            .and_then(|t| t.child("node"))
            .and_then(|n| n.text().trim().parse::<usize>().ok());
        let mem = Mem {
            alias: format!("mem{}", alias),
            size_kib: size,
            target_node: node,
            access: m.attr("access"),
            discard: m.attr("discard"),
            nvdimm_path: source.and_then(|s| s.child("path")).map(|p| p.text()),
            pmem: source.and_then(|s| s.child("pmem")).is_some(),
            model,
            source_nodes: None,
            pagesize_kib: source
                .and_then(|s| s.child("pagesize"))
                .map(kib_text)
                .unwrap_or(0),
            align_kib: source
                .and_then(|s| s.child("alignsize"))
                .map(kib_text)
                .unwrap_or(0),
        };
        let nodemask = source.and_then(|s| s.child("nodemask")).map(|n| n.text());
        let mem = Mem {
            source_nodes: nodemask.as_deref(),
            ..mem
        };
        let (b, _) = backend(cx, &mem, true, false)?;
        a.object(&b);
        let device = match model {
            "dimm" => "pc-dimm",
            "nvdimm" => "nvdimm",
            "virtio-pmem" => "virtio-pmem-pci",
            "virtio-mem" => "virtio-mem-pci",
            "sgx-epc" => continue,
            other => {
                return Err(unsupported(format!(
                    "memory device model '{}' is not supported",
                    other
                )))
            }
        };
        let mut p = Props::new();
        p.s("driver", device);
        if let Some(n) = node {
            p.u("node", n as u64);
        }
        let tk = |k: &str| target.and_then(|t| t.child(k)).map(kib_text).unwrap_or(0);
        p.p(
            "label-size",
            target
                .and_then(|t| t.child("label"))
                .and_then(|l| l.child("size"))
                .map(kib_text)
                .unwrap_or(0)
                * 1024,
        );
        p.p("block-size", tk("block") * 1024);
        p.p("requested-size", tk("requested") * 1024);
        if let Some(u) = m.child("uuid") {
            p.s("uuid", u.text().trim());
        }
        if target.and_then(|t| t.child("readonly")).is_some() {
            p.b("unarmed", true);
        }
        p.s("memdev", &format!("mem{}", alias));
        if model == "virtio-mem" && pagesize(cx, &mem)?.3 {
            p.b("prealloc", true);
        }
        p.s("id", &alias);
        cx.address(&mut p, m)?;
        a.device(&p);
    }
    Ok(())
}
