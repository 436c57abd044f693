//! Tuning that drivers change at run time: vCPU, emulator and IOThread
//! pinning, the IOThread list and block I/O weights. These live in
//! sections the model keeps verbatim (`<cputune>`, `<iothreadids>`,
//! `<blkiotune>`), so the helpers edit those elements in libvirt's order.

use crate::dom::{Element, Node};

use super::postparse::{format_cpuset, parse_cpuset};
use super::Domain;

/// libvirt's order of `<cputune>` children.
const CPUTUNE_ORDER: &[&str] = &[
    "shares",
    "period",
    "quota",
    "global_period",
    "global_quota",
    "emulator_period",
    "emulator_quota",
    "iothread_period",
    "iothread_quota",
    "vcpupin",
    "emulatorpin",
    "iothreadpin",
    "emulatorsched",
    "vcpusched",
    "iothreadsched",
    "cachetune",
    "memorytune",
];

/// libvirt's order of `<blkiotune>` device children.
const BLKIO_DEVICE_ORDER: &[&str] = &[
    "weight",
    "read_iops_sec",
    "write_iops_sec",
    "read_bytes_sec",
    "write_bytes_sec",
];

/// Per-device block I/O limits (one `<device>` of `<blkiotune>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlkioDevice {
    pub path: String,
    pub weight: u32,
    pub read_iops: u32,
    pub write_iops: u32,
    pub read_bps: u64,
    pub write_bps: u64,
}

/// `<cputune>` as libvirt writes it back: children in libvirt's order,
/// one `vcpusched`/`iothreadsched` per thread, resource-control groups
/// limited to existing vCPUs (empty ones dropped), and their `node`/`cache`
/// entries before their monitors.
pub(crate) fn canonical_cputune(e: &Element, max_vcpus: u32) -> Element {
    let mut out = e.clone();
    let mut kids: Vec<Element> = Vec::new();
    for c in e.elements() {
        match c.name.as_str() {
            "vcpusched" | "iothreadsched" => {
                let key = if c.name == "vcpusched" {
                    "vcpus"
                } else {
                    "iothreads"
                };
                let Some(ids) = c.attr(key).and_then(|v| parse_cpuset(v).ok()) else {
                    kids.push(c.clone());
                    continue;
                };
                for id in ids {
                    let mut one = c.clone();
                    one.set_attr(key, id.to_string());
                    kids.push(one);
                }
            }
            "cachetune" | "memorytune" => {
                let mut g = c.clone();
                if let Some(v) = c.attr("vcpus").and_then(|v| parse_cpuset(v).ok()) {
                    let kept: Vec<u32> = v.into_iter().filter(|c| *c < max_vcpus).collect();
                    if kept.is_empty() {
                        continue;
                    }
                    g.set_attr("vcpus", format_cpuset(&kept));
                }
                let (monitors, rest): (Vec<Node>, Vec<Node>) = g
                    .children
                    .into_iter()
                    .partition(|n| matches!(n, Node::Element(x) if x.name == "monitor"));
                g.children = rest.into_iter().chain(monitors).collect();
                kids.push(g);
            }
            _ => kids.push(c.clone()),
        }
    }
    let thread_key = |c: &Element| -> u64 {
        match c.name.as_str() {
            "vcpusched" => key_of(c, "vcpus"),
            "iothreadsched" => key_of(c, "iothreads"),
            "vcpupin" => key_of(c, "vcpu"),
            "iothreadpin" => key_of(c, "iothread"),
            _ => 0,
        }
    };
    kids.sort_by_key(|c| (rank(CPUTUNE_ORDER, &c.name), thread_key(c)));
    out.children = kids.into_iter().map(Node::Element).collect();
    out
}

fn rank(order: &[&str], name: &str) -> usize {
    order.iter().position(|n| *n == name).unwrap_or(order.len())
}

fn key_of(e: &Element, key: &str) -> u64 {
    e.attr(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Inserts `el` among `parent`'s children at its place in `order`
/// (after same-named siblings with a smaller `key`).
fn insert_ordered(parent: &mut Element, el: Element, order: &[&str], key: Option<&str>) {
    let r = rank(order, &el.name);
    let k = key.map(|k| key_of(&el, k));
    let pos = parent
        .children
        .iter()
        .position(|n| match n {
            Node::Element(c) => {
                let rc = rank(order, &c.name);
                rc > r || (rc == r && k.is_some_and(|k| key.is_some_and(|kk| key_of(c, kk) > k)))
            }
            _ => false,
        })
        .unwrap_or(parent.children.len());
    parent.children.insert(pos, Node::Element(el));
}

impl Domain {
    fn section(&self, name: &str) -> Option<&Element> {
        self.sections.raw(name)
    }

    fn section_mut(&mut self, name: &str) -> &mut Element {
        let i = match self.sections.raw.iter().position(|e| e.name == name) {
            Some(i) => i,
            None => {
                self.sections.raw.push(Element::new(name));
                self.sections.raw.len() - 1
            }
        };
        &mut self.sections.raw[i]
    }

    fn drop_if_empty(&mut self, name: &str) {
        self.sections
            .raw
            .retain(|e| e.name != name || e.has_element_children() || !e.attrs.is_empty());
    }

    /// The `cpuset` of `<vcpu>` (libvirt's def->cpumask).
    pub fn cpumask(&self) -> Option<Vec<u32>> {
        self.vcpu
            .cpuset
            .as_deref()
            .and_then(|s| parse_cpuset(s).ok())
    }

    fn cputune_pin(&self, name: &str, key: Option<(&str, u32)>) -> Option<Vec<u32>> {
        self.section("cputune")?
            .children_named(name)
            .find(|e| key.is_none_or(|(k, v)| e.attr(k).and_then(|x| x.parse().ok()) == Some(v)))
            .and_then(|e| e.attr("cpuset"))
            .and_then(|s| parse_cpuset(s).ok())
    }

    fn set_cputune_pin(&mut self, name: &str, key: Option<(&str, u32)>, cpus: Option<&[u32]>) {
        let ct = self.section_mut("cputune");
        ct.children.retain(|n| match n {
            Node::Element(e) => {
                !(e.name == name
                    && key.is_none_or(|(k, v)| e.attr(k).and_then(|x| x.parse().ok()) == Some(v)))
            }
            _ => true,
        });
        if let Some(c) = cpus {
            let mut el = Element::new(name);
            if let Some((k, v)) = key {
                el.set_attr(k, v.to_string());
            }
            el.set_attr("cpuset", format_cpuset(c));
            insert_ordered(ct, el, CPUTUNE_ORDER, key.map(|(k, _)| k));
        }
        self.drop_if_empty("cputune");
    }

    /// `<cputune><vcpupin vcpu='N' cpuset=.../>`
    pub fn vcpupin(&self, vcpu: u32) -> Option<Vec<u32>> {
        self.cputune_pin("vcpupin", Some(("vcpu", vcpu)))
    }

    pub fn set_vcpupin(&mut self, vcpu: u32, cpus: Option<&[u32]>) {
        self.set_cputune_pin("vcpupin", Some(("vcpu", vcpu)), cpus)
    }

    /// `<cputune><emulatorpin cpuset=.../>`
    pub fn emulatorpin(&self) -> Option<Vec<u32>> {
        self.cputune_pin("emulatorpin", None)
    }

    pub fn set_emulatorpin(&mut self, cpus: Option<&[u32]>) {
        self.set_cputune_pin("emulatorpin", None, cpus)
    }

    /// `<cputune><iothreadpin iothread='N' cpuset=.../>`
    pub fn iothreadpin(&self, id: u32) -> Option<Vec<u32>> {
        self.cputune_pin("iothreadpin", Some(("iothread", id)))
    }

    pub fn set_iothreadpin(&mut self, id: u32, cpus: Option<&[u32]>) {
        self.set_cputune_pin("iothreadpin", Some(("iothread", id)), cpus)
    }

    /// The IOThread ids: `<iothreadids>`, or 1..=N from `<iothreads>N`.
    pub fn iothread_ids(&self) -> Vec<u32> {
        if let Some(ids) = self.section("iothreadids") {
            let v: Vec<u32> = ids
                .children_named("iothread")
                .filter_map(|e| e.attr("id").and_then(|x| x.parse().ok()))
                .collect();
            if !v.is_empty() {
                return v;
            }
        }
        let n: u32 = self
            .section("iothreads")
            .and_then(|e| e.text().trim().parse().ok())
            .unwrap_or(0);
        (1..=n).collect()
    }

    fn write_iothreads(&mut self, ids: &[u32]) {
        self.sections
            .raw
            .retain(|e| e.name != "iothreads" && e.name != "iothreadids");
        if ids.is_empty() {
            return;
        }
        let mut n = Element::new("iothreads");
        n.children.push(Node::Text(ids.len().to_string()));
        self.sections.raw.push(n);
        let mut list = Element::new("iothreadids");
        for id in ids {
            let mut t = Element::new("iothread");
            t.set_attr("id", id.to_string());
            list.children.push(Node::Element(t));
        }
        self.sections.raw.push(list);
    }

    /// Adds an IOThread id (virDomainIOThreadIDAdd).
    pub fn add_iothread(&mut self, id: u32) {
        let mut ids = self.iothread_ids();
        ids.push(id);
        self.write_iothreads(&ids);
    }

    /// Removes an IOThread id and its pinning (virDomainIOThreadIDDel).
    pub fn del_iothread(&mut self, id: u32) {
        let ids: Vec<u32> = self
            .iothread_ids()
            .into_iter()
            .filter(|i| *i != id)
            .collect();
        self.write_iothreads(&ids);
        if self.section("cputune").is_some() {
            self.set_iothreadpin(id, None);
        }
    }

    /// Whether a disk or controller uses IOThread `id`: the name of the
    /// disk's target, or `Some("")` for a controller.
    pub fn iothread_user(&self, id: u32) -> Option<String> {
        let want = id.to_string();
        for d in &self.devices.disks {
            let uses = d
                .extra
                .children
                .iter()
                .any(|c| c.name == "driver" && c.attr("iothread") == Some(want.as_str()));
            if uses {
                return Some(d.target_dev.clone().unwrap_or_default());
            }
        }
        let ctrl = self.devices.raw.iter().any(|r| {
            r.0.name == "controller"
                && r.0
                    .children_named("driver")
                    .any(|c| c.attr("iothread") == Some(want.as_str()))
        });
        ctrl.then(String::new)
    }

    /// `<blkiotune><weight>`
    pub fn blkio_weight(&self) -> u32 {
        self.section("blkiotune")
            .and_then(|b| b.child_text("weight"))
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    }

    /// `<blkiotune><device>` entries.
    pub fn blkio_devices(&self) -> Vec<BlkioDevice> {
        let Some(b) = self.section("blkiotune") else {
            return Vec::new();
        };
        let num = |d: &Element, n: &str| -> u64 {
            d.child_text(n)
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0)
        };
        b.children_named("device")
            .map(|d| BlkioDevice {
                path: d.child_text("path").unwrap_or_default(),
                weight: num(d, "weight") as u32,
                read_iops: num(d, "read_iops_sec") as u32,
                write_iops: num(d, "write_iops_sec") as u32,
                read_bps: num(d, "read_bytes_sec"),
                write_bps: num(d, "write_bytes_sec"),
            })
            .collect()
    }

    /// Rewrites `<blkiotune>` from a weight and device list.
    pub fn set_blkio(&mut self, weight: u32, devices: &[BlkioDevice]) {
        let text = |name: &str, v: String| {
            let mut e = Element::new(name);
            e.children.push(Node::Text(v));
            Node::Element(e)
        };
        let mut b = Element::new("blkiotune");
        if weight != 0 {
            b.children.push(text("weight", weight.to_string()));
        }
        for d in devices {
            let mut e = Element::new("device");
            e.children.push(text("path", d.path.clone()));
            for (name, v) in BLKIO_DEVICE_ORDER.iter().zip([
                d.weight as u64,
                d.read_iops as u64,
                d.write_iops as u64,
                d.read_bps,
                d.write_bps,
            ]) {
                if v != 0 {
                    e.children.push(text(name, v.to_string()));
                }
            }
            b.children.push(Node::Element(e));
        }
        self.sections.raw.retain(|e| e.name != "blkiotune");
        if b.has_element_children() {
            self.sections.raw.push(b);
        }
    }
}

/// `VIR_DOMAIN_MEMORY_PARAM_UNLIMITED`: a memory limit that is not set.
pub const MEMORY_UNLIMITED: u64 = 9_007_199_254_740_991;

/// `<memtune>` in KiB (libvirt's virDomainMemtune limits); a limit equal
/// to [`MEMORY_UNLIMITED`] is not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemTune {
    pub hard_limit: u64,
    pub soft_limit: u64,
    pub min_guarantee: u64,
    pub swap_hard_limit: u64,
}

impl Default for MemTune {
    fn default() -> Self {
        MemTune {
            hard_limit: MEMORY_UNLIMITED,
            soft_limit: MEMORY_UNLIMITED,
            min_guarantee: 0,
            swap_hard_limit: MEMORY_UNLIMITED,
        }
    }
}

crate::xml_enum! {
    /// `<numatune><memory mode=...>`, in libvirt's numbering.
    pub enum NumatuneMode {
        Strict = "strict", Preferred = "preferred", Interleave = "interleave",
        Restrictive = "restrictive",
    }
}

/// The NUMA modes by libvirt's number (virDomainNumatuneMemMode).
pub const NUMATUNE_MODES: [NumatuneMode; 4] = [
    NumatuneMode::Strict,
    NumatuneMode::Preferred,
    NumatuneMode::Interleave,
    NumatuneMode::Restrictive,
];

/// `<numatune><memory>`: the mode, and the nodeset when the placement is
/// static (`None`: placement auto).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumatuneMemory {
    pub mode: NumatuneMode,
    pub nodeset: Option<Vec<u32>>,
}

/// libvirt's perf events (virPerfEvent), in its order.
pub const PERF_EVENTS: [&str; 22] = [
    "cmt",
    "mbmt",
    "mbml",
    "cpu_cycles",
    "instructions",
    "cache_references",
    "cache_misses",
    "branch_instructions",
    "branch_misses",
    "bus_cycles",
    "stalled_cycles_frontend",
    "stalled_cycles_backend",
    "ref_cpu_cycles",
    "cpu_clock",
    "task_clock",
    "page_faults",
    "context_switches",
    "cpu_migrations",
    "page_faults_min",
    "page_faults_maj",
    "alignment_faults",
    "emulation_faults",
];

fn text_el(name: &str, attrs: &[(&str, &str)], text: String) -> Element {
    let mut e = Element::new(name);
    for (k, v) in attrs {
        e.set_attr(k, *v);
    }
    e.children.push(Node::Text(text));
    e
}

impl Domain {
    /// Replaces the kept section `name` by `el`, or drops it when `el` has
    /// nothing to say.
    fn put_section(&mut self, el: Element) {
        let keep = el.has_element_children() || !el.attrs.is_empty();
        match self.sections.raw.iter().position(|e| e.name == el.name) {
            Some(i) if keep => self.sections.raw[i] = el,
            Some(i) => {
                self.sections.raw.remove(i);
            }
            None if keep => self.sections.raw.push(el),
            None => {}
        }
    }

    /// `<memtune>` (virDomainParseMemoryLimit: KiB by default, capped at
    /// unlimited).
    pub fn memtune(&self) -> MemTune {
        let mut t = MemTune::default();
        let Some(m) = self.section("memtune") else {
            return t;
        };
        let read = |name: &str| -> Option<u64> {
            let e = m.child(name)?;
            let v: u64 = e.text().trim().parse().ok()?;
            let bytes = crate::props::scale(v, e.attr("unit"), 1024, u64::MAX).ok()?;
            Some(bytes.div_ceil(1024))
        };
        for (name, slot) in [
            ("hard_limit", &mut t.hard_limit),
            ("soft_limit", &mut t.soft_limit),
            ("swap_hard_limit", &mut t.swap_hard_limit),
        ] {
            if let Some(v) = read(name) {
                *slot = v.min(MEMORY_UNLIMITED);
            }
        }
        if let Some(v) = read("min_guarantee") {
            t.min_guarantee = v;
        }
        t
    }

    /// Rewrites `<memtune>` as libvirt formats it (virDomainMemtuneFormat).
    pub fn set_memtune(&mut self, t: &MemTune) {
        let mut m = Element::new("memtune");
        for (name, v, set) in [
            ("hard_limit", t.hard_limit, t.hard_limit < MEMORY_UNLIMITED),
            ("soft_limit", t.soft_limit, t.soft_limit < MEMORY_UNLIMITED),
            ("min_guarantee", t.min_guarantee, t.min_guarantee != 0),
            (
                "swap_hard_limit",
                t.swap_hard_limit,
                t.swap_hard_limit < MEMORY_UNLIMITED,
            ),
        ] {
            if set {
                m.children.push(Node::Element(text_el(
                    name,
                    &[("unit", "KiB")],
                    v.to_string(),
                )));
            }
        }
        self.put_section(m);
    }

    /// `<numatune><memory>`, if given. Without a `placement`, a nodeset
    /// means static placement.
    pub fn numatune_memory(&self) -> Option<NumatuneMemory> {
        use crate::props::XmlEnum;
        let m = self.section("numatune")?.child("memory")?;
        let mode = m
            .attr("mode")
            .and_then(NumatuneMode::from_xml)
            .unwrap_or(NumatuneMode::Strict);
        let nodeset = match (m.attr("placement"), m.attr("nodeset")) {
            (Some("auto"), _) | (None, None) => None,
            (_, set) => Some(set.and_then(|s| parse_cpuset(s).ok()).unwrap_or_default()),
        };
        Some(NumatuneMemory { mode, nodeset })
    }

    /// Sets `<numatune><memory>` (virDomainNumatuneFormatXML), keeping the
    /// `<memnode>` entries.
    pub fn set_numatune_memory(&mut self, mem: &NumatuneMemory) {
        let mut nt = self
            .section("numatune")
            .cloned()
            .unwrap_or_else(|| Element::new("numatune"));
        nt.children
            .retain(|n| !matches!(n, Node::Element(e) if e.name == "memory"));
        let mut m = Element::new("memory");
        m.set_attr("mode", mem.mode.to_string());
        match &mem.nodeset {
            Some(set) => m.set_attr("nodeset", format_cpuset(set)),
            None => m.set_attr("placement", "auto"),
        }
        nt.children.insert(0, Node::Element(m));
        self.put_section(nt);
    }

    /// Rewrites `<numatune>` as libvirt stores and formats it
    /// (virDomainNumatuneParseXML, virDomainNumatuneSet,
    /// virDomainNumatuneFormatXML): the memory mode made explicit, the
    /// placement `auto` without a nodeset (also when only `<vcpu>` asks
    /// for it), nodesets in canonical form, `<memnode>`s by cell. With
    /// automatic memory placement and no CPU pinning, vCPUs are placed
    /// automatically too. Runs after validation.
    pub(crate) fn canonicalize_numatune(&mut self) {
        use crate::props::XmlEnum;
        let vcpu_static = self.vcpu.placement == super::CpuPlacement::Static;
        let nt = self.section("numatune").cloned();
        let mem = nt.as_ref().and_then(|n| n.child("memory"));
        let bitmap = |s: Option<&str>| s.and_then(|s| parse_cpuset(s).ok());
        let mut memory: Option<(String, Option<Vec<u32>>)> = None;
        match mem {
            Some(m) => {
                let nodeset = bitmap(m.attr("nodeset"));
                let placement = m.attr("placement");
                if m.attr("mode").is_some() || placement.is_some() || nodeset.is_some() {
                    let mode = m
                        .attr("mode")
                        .and_then(NumatuneMode::from_xml)
                        .unwrap_or(NumatuneMode::Strict)
                        .to_string();
                    let auto = match placement {
                        Some(p) => p == "auto",
                        None => nodeset.is_none() && !vcpu_static,
                    };
                    memory = Some((mode, if auto { None } else { nodeset }));
                }
            }
            None if !vcpu_static => memory = Some(("strict".into(), None)),
            None => {}
        }
        let mut memnodes: Vec<(u64, String, Vec<u32>)> = nt
            .iter()
            .flat_map(|n| n.children_named("memnode"))
            .filter_map(|m| {
                let cell = m.attr("cellid")?.trim().parse().ok()?;
                let mode = m.attr("mode").unwrap_or("strict").to_string();
                Some((cell, mode, bitmap(m.attr("nodeset"))?))
            })
            .collect();
        memnodes.sort_by_key(|m| m.0);
        let mut out = Element::new("numatune");
        if let Some((mode, nodeset)) = &memory {
            let mut m = Element::new("memory");
            m.set_attr("mode", mode.clone());
            match nodeset {
                Some(set) => m.set_attr("nodeset", format_cpuset(set)),
                None => m.set_attr("placement", "auto"),
            }
            out.children.push(Node::Element(m));
        }
        for (cell, mode, set) in memnodes {
            let mut m = Element::new("memnode");
            m.set_attr("cellid", cell.to_string());
            m.set_attr("mode", mode);
            m.set_attr("nodeset", format_cpuset(&set));
            out.children.push(Node::Element(m));
        }
        self.put_section(out);
        let auto = matches!(memory, Some((_, None)));
        let pinned = self.section("cputune").is_some_and(|c| {
            c.elements()
                .any(|e| matches!(e.name.as_str(), "vcpupin" | "emulatorpin" | "iothreadpin"))
        });
        if auto && self.vcpu.cpuset.is_none() && !pinned {
            self.vcpu.placement = super::CpuPlacement::Auto;
        }
    }

    /// Rewrites `<memtune>` as libvirt formats it when every limit in it
    /// parses: KiB, unlimited limits left out (an invalid one stays for
    /// validation to report).
    pub(crate) fn canonicalize_memtune(&mut self) {
        let Some(m) = self.section("memtune") else {
            return;
        };
        let parses = m.elements().all(|e| {
            e.text()
                .trim()
                .parse::<u64>()
                .ok()
                .and_then(|v| crate::props::scale(v, e.attr("unit"), 1024, u64::MAX).ok())
                .is_some()
        });
        if parses {
            let t = self.memtune();
            self.set_memtune(&t);
        }
    }

    /// Puts the children of each `<blkiotune><device>` in libvirt's order.
    pub(crate) fn canonicalize_blkiotune(&mut self) {
        if self.section("blkiotune").is_none() {
            return;
        }
        let b = self.section_mut("blkiotune");
        for n in b.children.iter_mut() {
            let Node::Element(d) = n else { continue };
            if d.name != "device" {
                continue;
            }
            let mut kids: Vec<Element> = d.elements().cloned().collect();
            kids.sort_by_key(|c| {
                if c.name == "path" {
                    0
                } else {
                    1 + rank(BLKIO_DEVICE_ORDER, &c.name)
                }
            });
            d.children = kids.into_iter().map(Node::Element).collect();
        }
    }

    /// The perf events `<perf>` sets, as (name, enabled).
    pub fn perf_events(&self) -> Vec<(String, bool)> {
        let Some(p) = self.section("perf") else {
            return Vec::new();
        };
        p.children_named("event")
            .filter_map(|e| Some((e.attr("name")?.to_string(), e.attr("enabled")? == "yes")))
            .collect()
    }

    /// Sets one perf event (virDomainPerfDefFormat writes them in
    /// libvirt's order).
    pub fn set_perf_event(&mut self, name: &str, enabled: bool) {
        let mut events = self.perf_events();
        match events.iter_mut().find(|(n, _)| n == name) {
            Some(e) => e.1 = enabled,
            None => events.push((name.to_string(), enabled)),
        }
        events.sort_by_key(|(n, _)| rank(&PERF_EVENTS, n));
        let mut p = Element::new("perf");
        for (n, on) in events {
            let mut e = Element::new("event");
            e.set_attr("name", n);
            e.set_attr("enabled", if on { "yes" } else { "no" });
            p.children.push(Node::Element(e));
        }
        self.put_section(p);
    }
}
