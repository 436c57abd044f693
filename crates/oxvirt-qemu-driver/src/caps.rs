//! Facts about the host's QEMU, probed over QMP: machines (with their
//! aliases and vCPU limits), CPU models, KVM and the version; cached on
//! disk keyed by the binary's path and mtime. From them, libvirt's
//! `<capabilities>` and `<domainCapabilities>` documents.

use std::fmt::Write as _;
use std::path::Path;

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_xml::writer::escape;
use serde_json::{json, Value};

use crate::FROM;

/// The emulator used when a definition names none.
pub const DEFAULT_EMULATOR: &str = "/usr/bin/qemu-system-x86_64";

/// Bumped when the cache's shape changes.
const CACHE_FORMAT: u64 = 3;

/// The probe cache of `emulator` under the driver's cache directory:
/// one file per binary (`qemu-caps-qemu-system-x86_64.json`).
pub fn cache_file(cache_dir: &Path, emulator: &str) -> std::path::PathBuf {
    let base = Path::new(emulator)
        .file_name()
        .and_then(|b| b.to_str())
        .unwrap_or("qemu");
    cache_dir.join(format!("qemu-caps-{}.json", base))
}

/// One machine type as `query-machines` reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Machine {
    pub name: String,
    /// The alias that resolves to this machine (`pc`, `q35`).
    pub alias: Option<String>,
    pub max_cpus: u32,
    pub deprecated: bool,
    pub is_default: bool,
    /// QOM type of the machine's default CPU (`qemu64-x86_64-cpu`).
    pub default_cpu_type: Option<String>,
    /// Id of the machine's main RAM region (`pc.ram`), which libvirt
    /// gives the memory backend it creates for it.
    pub default_ram_id: Option<String>,
    /// `-numa node,mem=` still works (older machine types); otherwise
    /// NUMA nodes need memory backends.
    pub numa_mem_supported: bool,
}

/// One CPU model as `query-cpu-definitions` reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CpuModel {
    pub name: String,
    /// No unavailable features on this host's accelerator.
    pub usable: bool,
    pub deprecated: bool,
}

/// The probed facts about one emulator.
#[derive(Debug, Clone, Default)]
pub struct Caps {
    pub emulator: String,
    /// `(alias, machine)`
    pub aliases: Vec<(String, String)>,
    pub machines: Vec<String>,
    /// Machines in `query-machines` order, with details.
    pub machine_info: Vec<Machine>,
    pub cpu_models: Vec<CpuModel>,
    /// QEMU's version as libvirt encodes it.
    pub version: u64,
    /// `query-kvm` said KVM is present and enabled in the probe.
    pub kvm: bool,
    /// QOM types the binary offers (`qom-list-types`), sorted: what
    /// libvirt's device capabilities are derived from.
    pub types: Vec<String>,
    /// The binary's target architecture in libvirt's spelling
    /// (`query-target`: `i386` is i686).
    pub arch: String,
    /// CPU models and the host CPU as QEMU sees them (`hostcpu`).
    pub host_cpu: crate::cpuinfo::QemuCpuInfo,
}

fn mtime_of(path: &str) -> u128 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

impl Caps {
    /// Probes (or reads from `cache_dir`) the default emulator.
    pub fn probe(cache_dir: &Path) -> Caps {
        Self::probe_emulator(DEFAULT_EMULATOR, cache_dir)
    }

    /// Probes `emulator` over QMP, unless `cache_dir` holds a probe of
    /// the same binary (path and mtime). Falls back to `-machine help`
    /// when QMP probing fails, so machine aliases still resolve.
    pub fn probe_emulator(emulator: &str, cache_dir: &Path) -> Caps {
        let mtime = mtime_of(emulator).to_string();
        let cache = cache_file(cache_dir, emulator);
        if let Some(c) = std::fs::read(&cache)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(|v| {
                v["format"].as_u64() == Some(CACHE_FORMAT)
                    && v["emulator"].as_str() == Some(emulator)
                    && v["mtime"].as_str() == Some(mtime.as_str())
            })
            .and_then(|v| Self::from_json(emulator, &v))
        {
            return c;
        }
        // A probe can fail for a passing reason (a host too busy to
        // answer in time): try once more before falling back for the
        // life of the driver.
        let probed = probe_qmp(emulator, cache_dir).or_else(|e| {
            tracing::warn!("probing {} over QMP failed ({}); retrying", emulator, e);
            probe_qmp(emulator, cache_dir)
        });
        match probed {
            Ok(c) => {
                let mut v = c.to_json();
                v["format"] = json!(CACHE_FORMAT);
                v["emulator"] = json!(emulator);
                v["mtime"] = json!(mtime);
                let _ = std::fs::create_dir_all(cache_dir);
                if let Ok(b) = serde_json::to_vec_pretty(&v) {
                    let _ = crate::store::write_atomic(&cache, &b, false);
                }
                c
            }
            Err(e) => {
                tracing::warn!("probing {} over QMP failed: {}", emulator, e);
                machine_help(emulator)
            }
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "version": self.version,
            "kvm": self.kvm,
            "types": self.types,
            "arch": self.arch,
            "machines": self.machine_info.iter().map(|m| json!({
                "name": m.name, "alias": m.alias, "max-cpus": m.max_cpus,
                "deprecated": m.deprecated, "default": m.is_default,
                "default-cpu-type": m.default_cpu_type,
                "default-ram-id": m.default_ram_id,
                "numa-mem-supported": m.numa_mem_supported,
            })).collect::<Vec<_>>(),
            "cpus": self.cpu_models.iter().map(|c| json!({
                "name": c.name, "usable": c.usable, "deprecated": c.deprecated,
            })).collect::<Vec<_>>(),
            "hostcpu": self.host_cpu.to_json(),
        })
    }

    fn from_json(emulator: &str, v: &Value) -> Option<Caps> {
        let machines = v["machines"]
            .as_array()?
            .iter()
            .map(|m| Machine {
                name: m["name"].as_str().unwrap_or_default().to_string(),
                alias: m["alias"].as_str().map(str::to_string),
                max_cpus: m["max-cpus"].as_u64().unwrap_or(1) as u32,
                deprecated: m["deprecated"].as_bool().unwrap_or(false),
                is_default: m["default"].as_bool().unwrap_or(false),
                default_cpu_type: m["default-cpu-type"].as_str().map(str::to_string),
                default_ram_id: m["default-ram-id"].as_str().map(str::to_string),
                numa_mem_supported: m["numa-mem-supported"].as_bool().unwrap_or(false),
            })
            .filter(|m| !m.name.is_empty())
            .collect();
        let cpus = v["cpus"]
            .as_array()?
            .iter()
            .map(|c| CpuModel {
                name: c["name"].as_str().unwrap_or_default().to_string(),
                usable: c["usable"].as_bool().unwrap_or(false),
                deprecated: c["deprecated"].as_bool().unwrap_or(false),
            })
            .filter(|c| !c.name.is_empty())
            .collect();
        let mut c = Caps::assemble(
            emulator,
            machines,
            cpus,
            v["version"].as_u64().unwrap_or(0),
            v["kvm"].as_bool().unwrap_or(false),
        );
        c.arch = v["arch"].as_str().unwrap_or_default().to_string();
        c.types = v["types"]
            .as_array()?
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
        c.host_cpu = crate::cpuinfo::QemuCpuInfo::from_json(&v["hostcpu"])?;
        Some(c)
    }

    fn assemble(
        emulator: &str,
        machine_info: Vec<Machine>,
        cpu_models: Vec<CpuModel>,
        version: u64,
        kvm: bool,
    ) -> Caps {
        Caps {
            emulator: emulator.to_string(),
            aliases: machine_info
                .iter()
                .filter_map(|m| m.alias.clone().map(|a| (a, m.name.clone())))
                .collect(),
            machines: machine_info.iter().map(|m| m.name.clone()).collect(),
            machine_info,
            cpu_models,
            version,
            kvm,
            types: Vec::new(),
            arch: String::new(),
            host_cpu: Default::default(),
        }
    }

    /// True when the binary offers the QOM type `name` (a device model
    /// such as `qemu-xhci` or `pcie-root-port`).
    pub fn has_type(&self, name: &str) -> bool {
        self.types
            .binary_search_by(|t| t.as_str().cmp(name))
            .is_ok()
    }

    /// The canonical machine for `m` (aliases resolved).
    pub fn canonical_machine(&self, m: &str) -> String {
        self.aliases
            .iter()
            .find(|(a, _)| a == m)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| m.to_string())
    }

    fn machine(&self, name: &str) -> Option<&Machine> {
        let c = self.canonical_machine(name);
        self.machine_info.iter().find(|m| m.name == c)
    }

    /// The machine a definition without one gets (`pc`'s target).
    pub fn default_machine(&self) -> String {
        self.machine_info
            .iter()
            .find(|m| m.is_default)
            .map(|m| m.name.clone())
            .unwrap_or_else(|| self.canonical_machine("pc"))
    }
}

/// The old way: `-machine help` (aliases only).
fn machine_help(emulator: &str) -> Caps {
    let out = std::process::Command::new(emulator)
        .args(["-machine", "help"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut machines = Vec::new();
    for line in out.lines().skip(1) {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let mut m = Machine {
            name: name.to_string(),
            max_cpus: 1,
            is_default: line.contains("(default)"),
            ..Default::default()
        };
        if let Some(i) = line.find("(alias of ") {
            let rest = &line[i + 10..];
            if let Some(j) = rest.find(')') {
                // Listed as the alias; record it on the target instead.
                m.alias = Some(name.to_string());
                m.name = rest[..j].to_string();
            }
        }
        machines.push(m);
    }
    // Merge alias rows into their targets.
    let mut merged: Vec<Machine> = Vec::new();
    for m in machines {
        if let Some(t) = merged.iter_mut().find(|x| x.name == m.name) {
            if m.alias.is_some() {
                t.alias = m.alias;
                t.is_default |= m.is_default;
            }
        } else {
            merged.push(m);
        }
    }
    Caps::assemble(emulator, merged, Vec::new(), 0, false)
}

/// Starts `emulator` with no machine, paused, and asks it over QMP.
fn probe_qmp(emulator: &str, dir: &Path) -> Result<Caps> {
    let kvm = kvm_usable();
    let probe = crate::probe::spawn_probe(emulator, dir, if kvm { "kvm" } else { "tcg" })?;
    let qmp = &probe.qmp;
    let q = |cmd: &str, args: Option<Value>| -> Result<Value> {
        qmp.execute_value(cmd, args)
            .map_err(crate::monitor::qmp_err)
    };
    let ver = q("query-version", None)?;
    let n = |k: &str| ver["qemu"][k].as_u64().unwrap_or(0);
    let version = n("major") * 1_000_000 + n("minor") * 1_000 + n("micro");
    let kvm_state = q("query-kvm", None)?;
    let kvm_on = kvm_state["enabled"].as_bool().unwrap_or(false)
        && kvm_state["present"].as_bool().unwrap_or(false);
    let machines = q("query-machines", None)?;
    let machines: Vec<Machine> = machines
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            Some(Machine {
                name: m["name"].as_str()?.to_string(),
                alias: m["alias"].as_str().map(str::to_string),
                max_cpus: m["cpu-max"].as_u64().unwrap_or(1) as u32,
                deprecated: m["deprecated"].as_bool().unwrap_or(false),
                is_default: m["is-default"].as_bool().unwrap_or(false),
                default_cpu_type: m["default-cpu-type"].as_str().map(str::to_string),
                default_ram_id: m["default-ram-id"].as_str().map(str::to_string),
                numa_mem_supported: m["numa-mem-supported"].as_bool().unwrap_or(false),
            })
        })
        .filter(|m| m.name != "none")
        .collect();
    let cpus = q("query-cpu-definitions", None)?;
    let cpus: Vec<CpuModel> = cpus
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|c| {
            let name = c["name"].as_str()?;
            // libvirt lists the models its CPU map knows: no versioned
            // names, no aliases of the accelerator's own CPU.
            if matches!(name, "base" | "max" | "host") || is_versioned(name) {
                return None;
            }
            let usable = c["unavailable-features"]
                .as_array()
                .map(|f| f.is_empty())
                .unwrap_or(false);
            Some(CpuModel {
                name: name.to_string(),
                usable,
                deprecated: c["deprecated"].as_bool().unwrap_or(false),
            })
        })
        .collect();
    let types = q("qom-list-types", None)?;
    let mut types: Vec<String> = types
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    types.sort();
    types.dedup();
    let target = q("query-target", None)?;
    let arch = crate::arch::arch_from_qemu(target["arch"].as_str().unwrap_or_default()).to_string();
    // CPU models and the host CPU are asked of the host's own binary.
    let host_cpu = if arch == crate::arch::host_arch() {
        crate::cpuinfo::QemuCpuInfo::probe(qmp, kvm_on, emulator, dir)
    } else {
        Default::default()
    };
    let _ = qmp.execute_value("quit", None);
    let mut caps = Caps::assemble(emulator, machines, cpus, version, kvm_on);
    caps.types = types;
    caps.arch = arch;
    caps.host_cpu = host_cpu;
    Ok(caps)
}

/// `Skylake-Client-v2` and the like.
fn is_versioned(name: &str) -> bool {
    match name.rsplit_once("-v") {
        Some((_, v)) => !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// The vendor libvirt's CPU map gives a QEMU model.
fn cpu_vendor(model: &str) -> &'static str {
    oxvirt_host::cpu::model_vendor(model).unwrap_or("unknown")
}

/// QEMU models libvirt 9.0's CPU map does not know (not reported).
const NOT_IN_CPU_MAP: &[&str] = &["Denverton", "KnightsMill"];

/// True when /dev/kvm can be opened for use.
pub fn kvm_usable() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// Facts about the host for `<capabilities>`.
#[derive(Debug, Clone, Default)]
pub struct HostInfo {
    pub uuid: String,
    pub cpus: u32,
    pub memory_kib: u64,
    pub vendor: Option<String>,
}

impl HostInfo {
    pub fn read() -> HostInfo {
        let uuid = std::fs::read_to_string("/sys/class/dmi/id/product_uuid")
            .ok()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| s.len() == 36)
            .or_else(|| {
                let id = std::fs::read_to_string("/etc/machine-id").ok()?;
                let id = id.trim();
                if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                Some(format!(
                    "{}-{}-{}-{}-{}",
                    &id[0..8],
                    &id[8..12],
                    &id[12..16],
                    &id[16..20],
                    &id[20..32]
                ))
            })
            .unwrap_or_else(|| "00000000-0000-0000-0000-000000000000".into());
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let vendor = cpuinfo
            .lines()
            .find(|l| l.starts_with("vendor_id"))
            .and_then(|l| l.split(':').nth(1))
            .map(|v| match v.trim() {
                "AuthenticAMD" => "AMD".to_string(),
                "GenuineIntel" => "Intel".to_string(),
                "HygonGenuine" => "Hygon".to_string(),
                other => other.to_string(),
            });
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1);
        let memory_kib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .unwrap_or(0);
        HostInfo {
            uuid,
            cpus,
            memory_kib,
            vendor,
        }
    }
}

/// One guest architecture with the binary that serves it.
#[derive(Debug, Clone)]
pub struct Guest {
    pub arch: String,
    pub emulator: String,
    pub caps: Caps,
}

/// libvirt's `<capabilities>` for this host and its guest architectures.
pub fn capabilities_xml(guests: &[Guest], host: &HostInfo, kvm: bool) -> String {
    let mut x = String::new();
    x.push_str("<capabilities>\n\n  <host>\n");
    let _ = writeln!(x, "    <uuid>{}</uuid>", escape(&host.uuid));
    let sys = oxvirt_host::Host::real();
    let mut w = oxvirt_xml::writer::Writer::at_depth(2);
    let host_caps = guests
        .iter()
        .find(|g| g.arch == crate::arch::host_arch())
        .map(|g| &g.caps);
    crate::cpuinfo::write_capabilities_cpu(&mut w, host_caps.map(|c| &c.host_cpu), &sys);
    x.push_str(w.as_str());
    x.push_str("    <power_management/>\n    <iommu support='no'/>\n");
    x.push_str("    <migration_features>\n      <live/>\n      <uri_transports>\n");
    x.push_str("        <uri_transport>tcp</uri_transport>\n");
    x.push_str("        <uri_transport>rdma</uri_transport>\n");
    x.push_str("      </uri_transports>\n    </migration_features>\n");
    if let Ok(t) = oxvirt_host::topology::Topology::read(&sys) {
        let mut w = oxvirt_xml::writer::Writer::at_depth(2);
        t.write_cells(&mut w);
        t.write_caches(&mut w);
        x.push_str(w.as_str());
    }
    x.push_str("    <secmodel>\n      <model>none</model>\n      <doi>0</doi>\n    </secmodel>\n");
    x.push_str("  </host>\n\n");
    for g in guests {
        guest_xml(&mut x, g, kvm);
    }
    x.push_str("</capabilities>\n");
    x
}

/// The machines of a guest in libvirt's order: QEMU's, with the default
/// first, each alias after its machine (virQEMUCapsGetMachineTypesCaps).
fn machines_in_order(caps: &Caps) -> Vec<&Machine> {
    let mut v: Vec<&Machine> = caps.machine_info.iter().collect();
    if let Some(i) = v.iter().position(|m| m.is_default) {
        let d = v.remove(i);
        v.insert(0, d);
    }
    v
}

/// One `<guest>` of the capabilities.
fn guest_xml(x: &mut String, g: &Guest, kvm: bool) {
    let caps = &g.caps;
    x.push_str("  <guest>\n    <os_type>hvm</os_type>\n");
    let _ = writeln!(x, "    <arch name='{}'>", escape(&g.arch));
    let _ = writeln!(
        x,
        "      <wordsize>{}</wordsize>",
        crate::arch::wordsize(&g.arch)
    );
    let _ = writeln!(x, "      <emulator>{}</emulator>", escape(&g.emulator));
    for m in machines_in_order(caps) {
        let dep = if m.deprecated {
            " deprecated='yes'"
        } else {
            ""
        };
        let _ = writeln!(
            x,
            "      <machine maxCpus='{}'{}>{}</machine>",
            m.max_cpus,
            dep,
            escape(&m.name)
        );
        if let Some(a) = &m.alias {
            let _ = writeln!(
                x,
                "      <machine canonical='{}' maxCpus='{}'{}>{}</machine>",
                escape(&m.name),
                m.max_cpus,
                dep,
                escape(a)
            );
        }
    }
    x.push_str("      <domain type='qemu'/>\n");
    if kvm && caps.kvm {
        x.push_str("      <domain type='kvm'/>\n");
    }
    x.push_str("    </arch>\n    <features>\n");
    if g.arch == "i686" {
        x.push_str("      <pae/>\n      <nonpae/>\n");
    }
    if matches!(g.arch.as_str(), "i686" | "x86_64") {
        x.push_str("      <acpi default='on' toggle='yes'/>\n");
        x.push_str("      <apic default='on' toggle='no'/>\n");
    }
    x.push_str("      <cpuselection/>\n      <deviceboot/>\n");
    x.push_str("      <disksnapshot default='on' toggle='no'/>\n");
    x.push_str("    </features>\n  </guest>\n\n");
}

fn enum_xml(x: &mut String, indent: &str, name: &str, values: &[&str]) {
    if values.is_empty() {
        let _ = writeln!(x, "{indent}<enum name='{name}'/>");
        return;
    }
    let _ = writeln!(x, "{indent}<enum name='{name}'>");
    for v in values {
        let _ = writeln!(x, "{indent}  <value>{v}</value>");
    }
    let _ = writeln!(x, "{indent}</enum>");
}

/// libvirt's virConnectGetDomainCapabilities for the binary `caps`
/// serving `arch` (see `QemuHost::domain_capabilities` for the lookup).
pub fn domain_capabilities_xml(
    caps: &Caps,
    arch: &str,
    machine: Option<&str>,
    virttype: Option<&str>,
    kvm: bool,
) -> Result<String> {
    let virt = match virttype {
        None => {
            if kvm {
                "kvm"
            } else {
                "qemu"
            }
        }
        Some("kvm") if !kvm => {
            return Err(Error::new(
                code::INVALID_ARG,
                FROM,
                format!(
                    "the accel 'kvm' is not supported by '{}' on this host",
                    caps.emulator
                ),
            ))
        }
        Some(t @ ("kvm" | "qemu")) => t,
        Some(t) => {
            return Err(Error::new(
                code::INVALID_ARG,
                FROM,
                format!("unknown virttype: {}", t),
            ))
        }
    };
    let m = match machine {
        Some(m) => {
            let Some(mi) = caps.machine(m) else {
                return Err(Error::new(
                    code::INVALID_ARG,
                    FROM,
                    format!(
                        "the machine '{}' is not supported by emulator '{}'",
                        m, caps.emulator
                    ),
                ));
            };
            mi.clone()
        }
        None => caps
            .machine(&caps.default_machine())
            .cloned()
            .unwrap_or_else(|| Machine {
                name: caps.default_machine(),
                max_cpus: 255,
                ..Default::default()
            }),
    };
    let is_q35 = m.name.contains("q35");
    let mut x = String::new();
    x.push_str("<domainCapabilities>\n");
    let _ = writeln!(x, "  <path>{}</path>", escape(&caps.emulator));
    let _ = writeln!(x, "  <domain>{}</domain>", virt);
    let _ = writeln!(x, "  <machine>{}</machine>", escape(&m.name));
    let _ = writeln!(x, "  <arch>{}</arch>", escape(arch));
    let _ = writeln!(x, "  <vcpu max='{}'/>", m.max_cpus);
    x.push_str("  <iothreads supported='yes'/>\n");
    x.push_str("  <os supported='yes'>\n");
    enum_xml(&mut x, "    ", "firmware", &[]);
    x.push_str("    <loader supported='yes'>\n");
    enum_xml(&mut x, "      ", "type", &["rom", "pflash"]);
    enum_xml(&mut x, "      ", "readonly", &["yes", "no"]);
    enum_xml(
        &mut x,
        "      ",
        "secure",
        if is_q35 { &["yes", "no"] } else { &["no"] },
    );
    x.push_str("    </loader>\n  </os>\n");
    x.push_str("  <cpu>\n");
    let hp = if virt == "kvm" { "yes" } else { "no" };
    let _ = writeln!(x, "    <mode name='host-passthrough' supported='{hp}'>");
    if virt == "kvm" {
        enum_xml(
            &mut x,
            "      ",
            "hostPassthroughMigratable",
            &["on", "off"],
        );
    }
    x.push_str("    </mode>\n");
    x.push_str("    <mode name='maximum' supported='yes'>\n");
    enum_xml(&mut x, "      ", "maximumMigratable", &["on", "off"]);
    x.push_str("    </mode>\n");
    let mut w = oxvirt_xml::writer::Writer::at_depth(2);
    crate::cpuinfo::write_host_model(&mut w, &caps.host_cpu, virt == "kvm");
    x.push_str(w.as_str());
    x.push_str("    <mode name='custom' supported='yes'>\n");
    // libvirt lists its CPU map's models in descending name order.
    let mut models: Vec<&CpuModel> = caps
        .cpu_models
        .iter()
        .filter(|c| !NOT_IN_CPU_MAP.contains(&c.name.as_str()))
        .collect();
    models.sort_by(|a, b| b.name.cmp(&a.name));
    for c in models {
        let dep = if c.deprecated {
            " deprecated='yes'"
        } else {
            ""
        };
        let _ = writeln!(
            x,
            "      <model usable='{}'{} vendor='{}'>{}</model>",
            if c.usable { "yes" } else { "no" },
            dep,
            cpu_vendor(&c.name),
            escape(&c.name)
        );
    }
    x.push_str("    </mode>\n  </cpu>\n");
    x.push_str("  <memoryBacking supported='yes'>\n");
    enum_xml(
        &mut x,
        "    ",
        "sourceType",
        &["file", "anonymous", "memfd"],
    );
    x.push_str("  </memoryBacking>\n  <devices>\n");
    x.push_str("    <disk supported='yes'>\n");
    enum_xml(
        &mut x,
        "      ",
        "diskDevice",
        &["disk", "cdrom", "floppy", "lun"],
    );
    let buses: &[&str] = if is_q35 {
        &["fdc", "scsi", "virtio", "usb", "sata"]
    } else {
        &["ide", "fdc", "scsi", "virtio", "usb", "sata"]
    };
    enum_xml(&mut x, "      ", "bus", buses);
    let virtio_models = ["virtio", "virtio-transitional", "virtio-non-transitional"];
    enum_xml(&mut x, "      ", "model", &virtio_models);
    x.push_str("    </disk>\n    <graphics supported='yes'>\n");
    enum_xml(
        &mut x,
        "      ",
        "type",
        &["sdl", "vnc", "spice", "egl-headless", "dbus"],
    );
    x.push_str("    </graphics>\n    <video supported='yes'>\n");
    enum_xml(
        &mut x,
        "      ",
        "modelType",
        &[
            "vga", "cirrus", "vmvga", "qxl", "virtio", "none", "bochs", "ramfb",
        ],
    );
    x.push_str("    </video>\n    <hostdev supported='yes'>\n");
    enum_xml(&mut x, "      ", "mode", &["subsystem"]);
    enum_xml(
        &mut x,
        "      ",
        "startupPolicy",
        &["default", "mandatory", "requisite", "optional"],
    );
    enum_xml(&mut x, "      ", "subsysType", &["usb", "pci", "scsi"]);
    enum_xml(&mut x, "      ", "capsType", &[]);
    enum_xml(&mut x, "      ", "pciBackend", &[]);
    x.push_str("    </hostdev>\n    <rng supported='yes'>\n");
    enum_xml(&mut x, "      ", "model", &virtio_models);
    enum_xml(
        &mut x,
        "      ",
        "backendModel",
        &["random", "egd", "builtin"],
    );
    x.push_str("    </rng>\n    <filesystem supported='yes'>\n");
    enum_xml(
        &mut x,
        "      ",
        "driverType",
        &["path", "handle", "virtiofs"],
    );
    x.push_str("    </filesystem>\n    <tpm supported='yes'>\n");
    enum_xml(&mut x, "      ", "model", &["tpm-tis", "tpm-crb"]);
    enum_xml(&mut x, "      ", "backendModel", &["passthrough"]);
    x.push_str("    </tpm>\n    <redirdev supported='yes'>\n");
    enum_xml(&mut x, "      ", "bus", &["usb"]);
    x.push_str("    </redirdev>\n    <channel supported='yes'>\n");
    enum_xml(&mut x, "      ", "type", &["pty", "unix", "spicevmc"]);
    x.push_str("    </channel>\n  </devices>\n  <features>\n");
    x.push_str("    <gic supported='no'/>\n    <vmcoreinfo supported='yes'/>\n");
    x.push_str("    <genid supported='yes'/>\n    <backingStoreInput supported='yes'/>\n");
    x.push_str("    <backup supported='yes'/>\n    <sev supported='no'/>\n");
    x.push_str("    <sgx supported='no'/>\n");
    x.push_str("    <hyperv supported='yes'>\n");
    enum_xml(&mut x, "      ", "features", &["spinlocks", "vendor_id"]);
    x.push_str("    </hyperv>\n  </features>\n</domainCapabilities>\n");
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_names() {
        assert!(is_versioned("Skylake-Client-v2"));
        assert!(!is_versioned("Skylake-Client-IBRS"));
        assert!(!is_versioned("qemu64"));
    }

    #[test]
    fn vendors() {
        assert_eq!(cpu_vendor("EPYC-Rome"), "AMD");
        assert_eq!(cpu_vendor("Broadwell-IBRS"), "Intel");
        assert_eq!(cpu_vendor("Dhyana"), "Hygon");
        assert_eq!(cpu_vendor("qemu64"), "unknown");
    }
}
