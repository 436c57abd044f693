//! Host and hypervisor: version, uri, hostname, nodeinfo, capabilities.

use oxvirt_core::error::{code, from};
use oxvirt_core::Error;

use crate::cmd::Cmd;
use crate::ctl::{Context, Ctl, Fail, R};
use crate::out::Block;

use super::Handler;

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "uri" => uri,
        "hostname" => hostname,
        "version" => version,
        "nodeinfo" => nodeinfo,
        "capabilities" => capabilities,
        "sysinfo" => sysinfo,
        "maxvcpus" => maxvcpus,
        "freecell" => freecell,
        "freepages" => freepages,
        "allocpages" => allocpages,
        "nodecpumap" => nodecpumap,
        "nodecpustats" => nodecpustats,
        "nodememstats" => nodememstats,
        "node-memory-tune" => node_memory_tune,
        "nodesuspend" => nodesuspend,
        "nodesevinfo" => nodesevinfo,
        "cpu-models" => cpu_models,
        "cpu-baseline" => cpu_baseline,
        "cpu-compare" => cpu_compare,
        "hypervisor-cpu-baseline" => hypervisor_cpu_baseline,
        "hypervisor-cpu-compare" => hypervisor_cpu_compare,
        "domcapabilities" => domcapabilities,
        _ => return None,
    })
}

fn uri(ctl: &mut Ctl, _c: &Cmd) -> R {
    let u = ctl.conn()?.uri()?;
    ctl.print(&format!("{}\n", u));
    Ok(())
}

fn hostname(ctl: &mut Ctl, _c: &Cmd) -> R {
    let h = ctl.conn()?.hostname()?;
    ctl.print(&format!("{}\n", h));
    Ok(())
}

fn ver(v: u64) -> String {
    format!("{}.{}.{}", v / 1_000_000, (v / 1000) % 1000, v % 1000)
}

fn version(ctl: &mut Ctl, c: &Cmd) -> R {
    let conn = ctl.conn()?;
    let hv = conn.get_type()?;
    let lib = oxvirt_core::LIB_VERSION;
    let mut s = format!("Compiled against library: libvirt {}\n", ver(lib));
    s += &format!("Using library: libvirt {}\n", ver(lib));
    s += &format!("Using API: {} {}\n", hv, ver(lib));
    match conn.get_version() {
        Ok(v) => s += &format!("Running hypervisor: {} {}\n", hv, ver(v)),
        Err(e) => {
            ctl.print(&s);
            return Err(crate::ctl::Fail::msg_lib(
                "failed to get the hypervisor version",
                e,
            ));
        }
    }
    if c.has("daemon") {
        match conn.get_lib_version() {
            Ok(v) => s += &format!("Running against daemon: {}\n", ver(v)),
            Err(e) => {
                ctl.print(&s);
                return Err(crate::ctl::Fail::msg_lib(
                    "failed to get the daemon version",
                    e,
                ));
            }
        }
    }
    ctl.print(&s);
    Ok(())
}

fn nodeinfo(ctl: &mut Ctl, _c: &Cmd) -> R {
    let i = ctl
        .conn()?
        .node_info()
        .map_err(|e| crate::ctl::Fail::msg_lib("failed to get node information", e))?;
    let mut s = Block::new(20);
    s.kv("CPU model:", &i.model, "cpu_model", &i.model);
    s.kv("CPU(s):", i.cpus, "cpus", i.cpus);
    s.kv(
        "CPU frequency:",
        format!("{} MHz", i.mhz),
        "cpu_frequency_mhz",
        i.mhz,
    );
    s.kv("CPU socket(s):", i.sockets, "cpu_sockets", i.sockets);
    s.kv("Core(s) per socket:", i.cores, "cores_per_socket", i.cores);
    s.kv(
        "Thread(s) per core:",
        i.threads,
        "threads_per_core",
        i.threads,
    );
    s.kv("NUMA cell(s):", i.nodes, "numa_cells", i.nodes);
    s.kv(
        "Memory size:",
        format!("{} KiB", i.memory),
        "memory_size_kib",
        i.memory,
    );
    ctl.emit_block(&s);
    Ok(())
}

fn capabilities(ctl: &mut Ctl, c: &Cmd) -> R {
    let x = ctl
        .conn()?
        .capabilities()
        .map_err(|e| crate::ctl::Fail::msg_lib("failed to get capabilities", e))?;
    super::domain::dump_xml(ctl, c, &x)?;
    if c.string_quiet("xpath").is_none() {
        ctl.print("\n");
    }
    Ok(())
}

fn sysinfo(ctl: &mut Ctl, _c: &Cmd) -> R {
    let x = ctl
        .conn()?
        .sysinfo(0)
        .map_err(|e| crate::ctl::Fail::msg_lib("failed to get sysinfo", e))?;
    ctl.print(&x);
    Ok(())
}

fn maxvcpus(ctl: &mut Ctl, c: &Cmd) -> R {
    let kind = c.string("type")?.map(str::to_string);
    let conn = ctl.conn()?;
    let n = conn.max_vcpus(kind.as_deref())?;
    ctl.print(&format!("{}\n", n));
    Ok(())
}

/// The cell ids of the capabilities' NUMA topology.
fn cell_ids(xml: &str) -> Vec<i64> {
    let Ok(root) = oxvirt_xml::dom::parse(xml, "(capabilities)") else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    if let Some(cells) = root
        .child("host")
        .and_then(|h| h.child("topology"))
        .and_then(|t| t.child("cells"))
    {
        for c in cells.children_named("cell") {
            ids.push(c.attr("id").and_then(|v| v.parse().ok()).unwrap_or(0));
        }
    }
    ids
}

fn freecell(ctl: &mut Ctl, c: &Cmd) -> R {
    super::exclusive(c, "all", "cellno")?;
    let cellno = c.has("cellno");
    let cell = c.int("cellno")?.unwrap_or(-1);
    let conn = ctl.conn()?;
    if !c.has("all") {
        if cellno {
            if cell < 0 {
                return Err(Fail::lib(Error::raw(
                    code::INVALID_ARG,
                    from::NONE,
                    "startCell in virNodeGetCellsFreeMemory must be zero or greater",
                )));
            }
            let m = conn.cells_free_memory(cell, 1)?;
            let v = m.first().copied().unwrap_or(0);
            ctl.print(&format!("{}: {} KiB\n", cell, v / 1024));
            return Ok(());
        }
        let m = conn.free_memory()?;
        if m == 0 {
            return Err(Fail::Silent);
        }
        ctl.print(&format!("Total: {} KiB\n", m / 1024));
        return Ok(());
    }
    let caps = conn
        .capabilities()
        .map_err(|e| Fail::msg_lib("unable to get node capabilities", e))?;
    let mut total = 0u64;
    let mut s = String::new();
    for id in cell_ids(&caps) {
        let m = conn.cells_free_memory(id as i32, 1).map_err(|e| {
            Fail::msg_lib(
                format!("failed to get free memory for NUMA node number: {}", id),
                e,
            )
        })?;
        let v = m.first().copied().unwrap_or(0);
        s += &format!("{:>5}: {:>10} KiB\n", id, v / 1024);
        total += v;
    }
    ctl.print(&s);
    ctl.extra("--------------------\n");
    ctl.extra(&format!("{:>5}: {:>10} KiB\n", "Total", total / 1024));
    Ok(())
}

fn freepages(ctl: &mut Ctl, c: &Cmd) -> R {
    super::exclusive(c, "all", "cellno")?;
    let bytes = c.scaled("pagesize", 1024, u32::MAX as u64)?.unwrap_or(0);
    let kib = bytes.div_ceil(1024) as u32;
    let conn = ctl.conn()?;
    if c.has("all") {
        let caps = conn
            .capabilities()
            .map_err(|e| Fail::msg_lib("unable to get node capabilities", e))?;
        let mut sizes: Vec<u32> = Vec::new();
        if c.has("pagesize") {
            sizes.push(kib);
        } else {
            let root = oxvirt_xml::dom::parse(&caps, "capabilities")
                .map_err(|_| Fail::Msg("unable to parse node capabilities".into()))?;
            let host = root.child("host");
            if let Some(cpu) = host.and_then(|h| h.child("cpu")) {
                for p in cpu.children_named("pages") {
                    sizes.push(p.attr("size").and_then(|v| v.parse().ok()).unwrap_or(0));
                }
            }
            if sizes.is_empty() {
                if let Some(cells) = host
                    .and_then(|h| h.child("topology"))
                    .and_then(|t| t.child("cells"))
                {
                    for cell in cells.children_named("cell") {
                        for p in cell.children_named("pages") {
                            sizes.push(p.attr("size").and_then(|v| v.parse().ok()).unwrap_or(0));
                        }
                    }
                }
            }
            if sizes.is_empty() {
                return Err(Fail::Msg(
                    "could not get information about supported page sizes".into(),
                ));
            }
            sizes.sort();
            sizes.dedup();
        }
        for id in cell_ids(&caps) {
            let counts = conn.node_free_pages(&sizes, id as i32, 1, 0)?;
            let mut s = format!("Node {}:\n", id);
            for (j, sz) in sizes.iter().enumerate() {
                s += &format!("{}KiB: {}\n", sz, counts.get(j).copied().unwrap_or(0));
            }
            s.push('\n');
            ctl.print(&s);
        }
        return Ok(());
    }
    if !c.has("cellno") {
        return Err(Fail::Msg("missing cellno argument".into()));
    }
    let cell = c.int("cellno")?.unwrap_or(0);
    if cell < -1 {
        return Err(Fail::Msg(
            "cell number must be non-negative integer or -1".into(),
        ));
    }
    if !c.has("pagesize") {
        return Err(Fail::Msg("missing pagesize argument".into()));
    }
    let counts = conn.node_free_pages(&[kib], cell, 1, 0)?;
    ctl.print(&format!(
        "{}KiB: {}\n",
        kib,
        counts.first().copied().unwrap_or(0)
    ));
    Ok(())
}

fn allocpages(ctl: &mut Ctl, c: &Cmd) -> R {
    super::exclusive(c, "all", "cellno")?;
    let cell = c.int("cellno")?;
    let bytes = c
        .scaled("pagesize", 1024, u32::MAX as u64 * 1024)?
        .unwrap_or(0);
    let kib = bytes.div_ceil(1024) as u32;
    let count = c.ull("pagecount")?.unwrap_or(0);
    let flags = if c.has("add") { 1 } else { 0 };
    let conn = ctl.conn()?;
    if c.has("all") {
        let caps = conn
            .capabilities()
            .map_err(|e| Fail::msg_lib("unable to get node capabilities", e))?;
        for id in cell_ids(&caps) {
            conn.node_alloc_pages(&[kib], &[count], id as i32, 1, flags)?;
        }
    } else {
        conn.node_alloc_pages(&[kib], &[count], cell.unwrap_or(-1), 1, flags)?;
    }
    Ok(())
}

fn nodecpumap(ctl: &mut Ctl, c: &Cmd) -> R {
    let (map, online, n) = ctl
        .conn()?
        .node_cpu_map(0)
        .map_err(|e| Fail::msg_lib("Unable to get cpu map", e))?;
    let used = |i: i32| {
        map.get(i as usize / 8)
            .is_some_and(|b| b & (1 << (i % 8)) != 0)
    };
    let mut s = format!("{:<15} {}\n", "CPUs present:", n);
    s += &format!("{:<15} {}\n", "CPUs online:", online);
    s += &format!("{:<15} ", "CPU map:");
    if c.has("pretty") {
        let mut parts: Vec<String> = Vec::new();
        let bits = map.len() as i32 * 8;
        let mut i = 0;
        while i < bits {
            if used(i) {
                let start = i;
                while i + 1 < bits && used(i + 1) {
                    i += 1;
                }
                parts.push(if start == i {
                    start.to_string()
                } else {
                    format!("{}-{}", start, i)
                });
            }
            i += 1;
        }
        s += &parts.join(",");
    } else {
        for i in 0..n {
            s.push(if used(i) { 'y' } else { '-' });
        }
    }
    s.push('\n');
    ctl.print(&s);
    Ok(())
}

fn nodecpustats(ctl: &mut Ctl, c: &Cmd) -> R {
    let percent = c.has("percent");
    let cpu = c.int("cpu")?.unwrap_or(-1);
    if cpu < -1 {
        return Err(Fail::msg_lib(
            "Unable to get number of cpu stats",
            Error::raw(
                code::INVALID_ARG,
                from::NONE,
                "cpuNum in virNodeGetCPUStats only accepts -1 as a negative value",
            ),
        ));
    }
    let conn = ctl.conn()?;
    const FIELDS: [&str; 5] = ["user", "kernel", "idle", "iowait", "utilization"];
    const OUT: [&str; 5] = ["user:", "system:", "idle:", "iowait:", "usage:"];
    let mut stats = [0u64; 5];
    let mut present = [false; 5];
    let first = conn
        .node_cpu_stats(cpu, 0)
        .map_err(|e| Fail::msg_lib("Unable to get number of cpu stats", e))?;
    if first.is_empty() {
        return Ok(());
    }
    for i in 0..2 {
        let list = if i == 0 {
            first.clone()
        } else {
            conn.node_cpu_stats(cpu, 0)
                .map_err(|e| Fail::msg_lib("Unable to get node cpu stats", e))?
        };
        for (f, v) in list {
            let Some(k) = FIELDS.iter().position(|x| *x == f) else {
                continue;
            };
            if i == 0 {
                stats[k] = v;
                present[k] = true;
            } else if present[k] {
                stats[k] = v.wrapping_sub(stats[k]);
            }
        }
        if present[4] || !percent {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    let mut s = String::new();
    if !percent {
        for i in 0..4 {
            if present[i] {
                s += &format!("{:<15} {:>20}\n", OUT[i], stats[i]);
            }
        }
    } else if present[4] {
        s += &format!("{:<15} {:>5}%\n", "usage:", stats[4]);
        s += &format!("{:<15} {:>5}%\n", "idle:", 100u64.wrapping_sub(stats[4]));
    } else {
        let total: f64 = stats[..4].iter().map(|v| *v as f64).sum();
        let pct = |v: f64| {
            let r = v / total * 100.0;
            if r.is_nan() {
                " -nan".to_string()
            } else {
                format!("{:>5.1}", r)
            }
        };
        s += &format!("{:<15} {}%\n", "usage:", pct((stats[0] + stats[1]) as f64));
        for i in 0..4 {
            if present[i] {
                s += &format!("{:<15} {}%\n", OUT[i], pct(stats[i] as f64));
            }
        }
    }
    ctl.print(&s);
    Ok(())
}

fn nodememstats(ctl: &mut Ctl, c: &Cmd) -> R {
    let cell = c.int("cell")?.unwrap_or(-1);
    if cell < -1 {
        return Err(Fail::msg_lib(
            "Unable to get number of memory stats",
            Error::raw(
                code::INVALID_ARG,
                from::NONE,
                "cellNum in virNodeGetMemoryStats only accepts -1 as a negative value",
            ),
        ));
    }
    let list = ctl
        .conn()?
        .node_memory_stats(cell, 0)
        .map_err(|e| Fail::msg_lib("Unable to get number of memory stats", e))?;
    let mut s = String::new();
    for (f, v) in list {
        s += &format!("{:<7}: {:>20} KiB\n", f, v);
    }
    ctl.print(&s);
    Ok(())
}

fn node_memory_tune(ctl: &mut Ctl, c: &Cmd) -> R {
    use oxvirt_core::types::{TypedParam, TypedValue};
    let mut params = Vec::new();
    for (o, field) in [
        ("shm-pages-to-scan", "shm_pages_to_scan"),
        ("shm-sleep-millisecs", "shm_sleep_millisecs"),
        ("shm-merge-across-nodes", "shm_merge_across_nodes"),
    ] {
        if let Some(v) = c.uint(o)? {
            params.push(TypedParam::new(field, TypedValue::UInt(v)));
        }
    }
    let conn = ctl.conn()?;
    if !params.is_empty() {
        conn.node_set_memory_parameters(&params, 0)
            .ctx(|| "Unable to change memory parameters".into())?;
        return Ok(());
    }
    let list = super::tune::fetch_params(
        "Unable to get number of memory parameters",
        "Unable to get memory parameters",
        |_| conn.node_get_memory_parameters(0),
    )?;
    if list.is_empty() {
        return Ok(());
    }
    let mut s = String::from("Shared memory:\n");
    for p in &list {
        s += &format!("\t{:<15} {}\n", p.field, super::tune::param_str(&p.value));
    }
    ctl.print(&s);
    Ok(())
}

fn nodesuspend(ctl: &mut Ctl, c: &Cmd) -> R {
    let target = c.req("target")?.to_string();
    let duration = c.ll("duration")?.unwrap_or(0);
    let t = match target.as_str() {
        "mem" => 0,
        "disk" => 1,
        "hybrid" => 2,
        _ => return Err(Fail::Msg("Invalid target".into())),
    };
    if duration < 0 {
        return Err(Fail::Msg("Invalid duration".into()));
    }
    ctl.conn()?
        .node_suspend_for_duration(t, duration as u64, 0)
        .ctx(|| "The host was not suspended".into())?;
    Ok(())
}

fn nodesevinfo(ctl: &mut Ctl, _c: &Cmd) -> R {
    ctl.conn()?
        .node_sev_info(0)
        .ctx(|| "Unable to get host SEV information".into())?;
    Ok(())
}

fn cpu_models(ctl: &mut Ctl, c: &Cmd) -> R {
    let arch = c.req("arch")?.to_string();
    let models = ctl
        .conn()?
        .cpu_model_names(&arch, 0)
        .ctx(|| "failed to get CPU model names".into())?;
    if models.is_empty() {
        ctl.extra("all CPU models are accepted\n");
    } else {
        let mut s = String::new();
        for m in models {
            s += &m;
            s.push('\n');
        }
        ctl.print(&s);
    }
    Ok(())
}

/// vshExtractCPUDefXMLs: the <cpu> elements of a file that holds CPU
/// definitions, a domain, host capabilities or domain capabilities.
fn cpu_defs(path: &str) -> Result<Vec<String>, Fail> {
    let text = super::read_file(path)?;
    let body = match text.strip_prefix("<?xml").and_then(|_| text.find("?>")) {
        Some(i) => &text[i + 2..],
        None => &text[..],
    };
    let wrapped = format!("<container>{}</container>", body);
    let root = oxvirt_xml::dom::parse(&wrapped, path)
        .map_err(|e| Fail::lib(Error::new(code::XML_ERROR, from::NONE, e.to_string())))?;
    let mut out = Vec::new();
    for e in root.elements() {
        match e.name.as_str() {
            "cpu" => out.push(super::xpath::serialize(e)),
            "domain" => {
                for c in e.children_named("cpu") {
                    out.push(super::xpath::serialize(c));
                }
            }
            "capabilities" => {
                for h in e.children_named("host") {
                    for c in h.children_named("cpu") {
                        out.push(super::xpath::serialize(c));
                    }
                }
            }
            "domainCapabilities" => {
                for c in e.children_named("cpu") {
                    for m in c.children_named("mode") {
                        if m.attr("name") == Some("host-model")
                            && m.attr("supported") == Some("yes")
                        {
                            let mut m = m.clone();
                            m.name = "cpu".into();
                            m.attrs.clear();
                            out.push(super::xpath::serialize(&m));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if out.is_empty() {
        return Err(Fail::Msg(format!(
            "File '{}' does not contain any <cpu> element or valid domain XML, host capabilities XML, or domain capabilities XML",
            path
        )));
    }
    Ok(out)
}

fn cpu_baseline(ctl: &mut Ctl, c: &Cmd) -> R {
    let path = c.req("file")?.to_string();
    let mut flags = 0;
    if c.has("features") {
        flags |= 1;
    }
    if c.has("migratable") {
        flags |= 2;
    }
    let cpus = cpu_defs(&path)?;
    let r = ctl.conn()?.baseline_cpu(&cpus, flags)?;
    ctl.print(&r);
    Ok(())
}

fn cpu_compare(ctl: &mut Ctl, c: &Cmd) -> R {
    let path = c.req("file")?.to_string();
    let flags = if c.has("error") { 1 } else { 0 };
    let cpus = cpu_defs(&path)?;
    let r = ctl
        .conn()?
        .compare_cpu(&cpus[0], flags)
        .ctx(|| format!("Failed to compare host CPU with {}", path))?;
    cpu_compare_result(ctl, r, &path, "host")
}

fn cpu_compare_result(ctl: &mut Ctl, r: i32, path: &str, what: &str) -> R {
    match r {
        1 => ctl.print(&format!(
            "CPU described in {} is incompatible with {} CPU\n",
            path, what
        )),
        2 => ctl.print(&format!(
            "{} CPU is identical to the CPU described in {}\n",
            what, path
        )),
        3 => ctl.print(&format!(
            "{} CPU is a superset of the CPU described in {}\n",
            what, path
        )),
        _ => {
            return Err(Fail::Msg(format!(
                "Failed to compare {} CPU with {}",
                what, path
            )))
        }
    }
    Ok(())
}

fn hypervisor_cpu_baseline(ctl: &mut Ctl, c: &Cmd) -> R {
    let path = c.string("file")?.map(str::to_string);
    let model = c.string("model")?.map(str::to_string);
    let mut flags = 0;
    if c.has("features") {
        flags |= 1;
    }
    if c.has("migratable") {
        flags |= 2;
    }
    if path.is_some() && model.is_some() {
        return Err(Fail::Msg(
            "Options --file and --model are mutually exclusive".into(),
        ));
    }
    let cpus = match (&path, &model) {
        (Some(p), _) => cpu_defs(p)?,
        (None, Some(m)) => vec![format!("<cpu>\n  <model>{}</model>\n</cpu>", m)],
        _ => {
            return Err(Fail::Msg(
                "Either --file or --model must be provided".into(),
            ))
        }
    };
    let r = ctl.conn()?.baseline_hypervisor_cpu(
        c.string("emulator")?,
        c.string("arch")?,
        c.string("machine")?,
        c.string("virttype")?,
        &cpus,
        flags,
    )?;
    ctl.print(&r);
    Ok(())
}

fn hypervisor_cpu_compare(ctl: &mut Ctl, c: &Cmd) -> R {
    let path = c.req("file")?.to_string();
    let mut flags = 0;
    if c.has("error") {
        flags |= 1;
    }
    if c.has("validate") {
        flags |= 2;
    }
    let cpus = cpu_defs(&path)?;
    let r = ctl
        .conn()?
        .compare_hypervisor_cpu(
            c.string("emulator")?,
            c.string("arch")?,
            c.string("machine")?,
            c.string("virttype")?,
            &cpus[0],
            flags,
        )
        .ctx(|| format!("Failed to compare hypervisor CPU with {}", path))?;
    cpu_compare_result(ctl, r, &path, "Hypervisor")
}

fn domcapabilities(ctl: &mut Ctl, c: &Cmd) -> R {
    let x = ctl
        .conn()?
        .domain_capabilities(
            c.string("emulatorbin")?,
            c.string("arch")?,
            c.string("machine")?,
            c.string("virttype")?,
            0,
        )
        .ctx(|| "failed to get emulator capabilities".into())?;
    super::domain::dump_xml(ctl, c, &x)
}
