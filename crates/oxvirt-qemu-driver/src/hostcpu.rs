//! CPU models and the host CPU, from QEMU and the host: the model
//! definitions QEMU gives each named CPU model (static expansion under
//! TCG, so no accelerator defaults are mixed in), the models each
//! accelerator can run (with the features that block them), the CPU QEMU
//! calls "host" under KVM (and "max" under TCG), and the host's own CPUID.
//! From these: the capabilities' host `<cpu>`, the domain capabilities'
//! host-model, and virConnectCompareCPU / BaselineCPU and their
//! hypervisor variants (`oxvirt_host::cpu` holds the logic).

use oxvirt_core::error::{code, from};
use oxvirt_core::{Error, Result};
use oxvirt_host::cpu::{
    self, CpuData, CpuDef, CpuMap, CpuType, Decode, Fallback, FeatureSet, HvModel, ModelDef,
};
use oxvirt_host::Host;
use oxvirt_qmp::Qmp;
use oxvirt_xml::writer::{Attrs, Writer};
use serde_json::{json, Value};

use crate::caps::Caps;
use crate::FROM;

/// The CPU QEMU offers as "host" (KVM) or "max" (TCG).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostExpansion {
    pub data: CpuData,
    /// The features still there when QEMU is asked for a migratable CPU.
    pub migratable: FeatureSet,
}

/// What one accelerator offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccelCpus {
    pub models: Vec<HvModel>,
    pub host: Option<HostExpansion>,
}

/// The CPU facts of one emulator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QemuCpuInfo {
    /// Model definitions, libvirt's names.
    pub models: Vec<ModelDef>,
    pub kvm: AccelCpus,
    pub tcg: AccelCpus,
}

fn features_of(props: &serde_json::Map<String, Value>) -> FeatureSet {
    let mut s = FeatureSet::new();
    for (k, v) in props {
        if v.as_bool() == Some(true) {
            if let Some(i) = cpu::features::from_qemu(k) {
                s.insert(i);
            }
        }
    }
    s
}

fn expand(qmp: &Qmp, model: &str, props: Option<Value>) -> Option<serde_json::Map<String, Value>> {
    let mut m = json!({ "name": model });
    if let Some(p) = props {
        m["props"] = p;
    }
    qmp.execute_value(
        "query-cpu-model-expansion",
        Some(json!({ "type": "static", "model": m })),
    )
    .ok()?
    .get("model")?
    .get("props")?
    .as_object()
    .cloned()
}

fn num(props: &serde_json::Map<String, Value>, k: &str) -> Option<u32> {
    props.get(k)?.as_u64().and_then(|v| u32::try_from(v).ok())
}

/// The models of `query-cpu-definitions` libvirt knows, with blockers.
fn hv_models(qmp: &Qmp) -> Vec<HvModel> {
    let Ok(v) = qmp.execute_value("query-cpu-definitions", None) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in v.as_array().map(|a| a.as_slice()).unwrap_or_default() {
        let Some(name) = c["name"].as_str() else {
            continue;
        };
        if !cpu::X86_MODEL_NAMES.contains(&name) {
            continue;
        }
        let blockers: Vec<String> = c["unavailable-features"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|f| f.as_str())
            .map(|f| {
                cpu::features::from_qemu(f)
                    .map(|i| cpu::FEATURES[i].name.to_string())
                    .unwrap_or_else(|| f.to_string())
            })
            .collect();
        out.push(HvModel {
            name: name.to_string(),
            usable: c["unavailable-features"].is_array() && blockers.is_empty(),
            blockers,
        });
    }
    out
}

/// "host" or "max", as a migratable CPU and as a non-migratable one.
fn host_expansion(qmp: &Qmp, model: &str) -> Option<HostExpansion> {
    let mig = expand(qmp, model, None)?;
    let all =
        expand(qmp, model, Some(json!({ "migratable": false }))).unwrap_or_else(|| mig.clone());
    let migratable = features_of(&mig);
    let sig = match (
        num(&all, "family"),
        num(&all, "model"),
        num(&all, "stepping"),
    ) {
        (Some(f), Some(m), Some(s)) => Some((f, m, s)),
        _ => None,
    };
    Some(HostExpansion {
        data: CpuData {
            vendor: all
                .get("vendor")
                .and_then(|v| v.as_str())
                .and_then(cpu::vendor_from_cpuid)
                .map(str::to_string),
            signature: sig,
            features: migratable.union(&features_of(&all)),
        },
        migratable,
    })
}

/// Each model's definition: its static expansion minus "hypervisor"
/// (QEMU marks every guest CPU so; it is no part of a model).
fn model_defs(qmp: &Qmp, known: &[HvModel]) -> Vec<ModelDef> {
    let hv = cpu::features::index("hypervisor");
    let mut out = Vec::new();
    for m in known {
        let Some(props) = expand(qmp, &m.name, None) else {
            continue;
        };
        let mut features = features_of(&props);
        if let Some(i) = hv {
            features.remove(i);
        }
        let vendor = cpu::model_vendor(&m.name);
        let signature = match (vendor, num(&props, "family"), num(&props, "model")) {
            (Some(_), Some(f), Some(md)) => Some((f, md)),
            _ => None,
        };
        out.push(ModelDef {
            name: m.name.clone(),
            vendor,
            features,
            signature,
        });
    }
    CpuMap::new(out).models
}

fn set_json(s: &FeatureSet) -> Value {
    json!(s.names().collect::<Vec<_>>())
}

fn set_from_json(v: &Value) -> FeatureSet {
    FeatureSet::of(
        v.as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|x| x.as_str()),
    )
}

impl AccelCpus {
    fn to_json(&self) -> Value {
        json!({
            "models": self.models.iter().map(|m| json!({
                "name": m.name, "usable": m.usable, "blockers": m.blockers,
            })).collect::<Vec<_>>(),
            "host": self.host.as_ref().map(|h| json!({
                "vendor": h.data.vendor,
                "signature": h.data.signature.map(|(f, m, s)| [f, m, s]),
                "features": set_json(&h.data.features),
                "migratable": set_json(&h.migratable),
            })),
        })
    }

    fn from_json(v: &Value) -> AccelCpus {
        let models = v["models"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|m| {
                Some(HvModel {
                    name: m["name"].as_str()?.to_string(),
                    usable: m["usable"].as_bool().unwrap_or(false),
                    blockers: m["blockers"]
                        .as_array()
                        .map(|a| a.as_slice())
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|b| b.as_str().map(str::to_string))
                        .collect(),
                })
            })
            .collect();
        let host = v["host"].as_object().map(|h| {
            let sig = h.get("signature").and_then(|s| s.as_array()).and_then(|a| {
                let n = |i: usize| a.get(i)?.as_u64().and_then(|x| u32::try_from(x).ok());
                Some((n(0)?, n(1)?, n(2)?))
            });
            HostExpansion {
                data: CpuData {
                    vendor: h.get("vendor").and_then(|v| v.as_str()).map(str::to_string),
                    signature: sig,
                    features: set_from_json(h.get("features").unwrap_or(&Value::Null)),
                },
                migratable: set_from_json(h.get("migratable").unwrap_or(&Value::Null)),
            }
        });
        AccelCpus { models, host }
    }
}

impl QemuCpuInfo {
    /// Asks the probe QEMU (`kvm`: it runs under KVM) and, for the model
    /// definitions, a TCG probe of the same emulator.
    pub(crate) fn probe(main: &Qmp, kvm: bool, emulator: &str, dir: &std::path::Path) -> Self {
        let mut info = QemuCpuInfo::default();
        if kvm {
            info.kvm = AccelCpus {
                models: hv_models(main),
                host: host_expansion(main, "host"),
            };
            match crate::caps::spawn_probe(emulator, dir, "tcg") {
                Ok(p) => {
                    info.tcg = AccelCpus {
                        models: hv_models(&p.qmp),
                        host: host_expansion(&p.qmp, "max"),
                    };
                    info.models = model_defs(&p.qmp, &info.tcg.models);
                    let _ = p.qmp.execute_value("quit", None);
                }
                Err(e) => {
                    tracing::warn!("TCG CPU probe of {} failed: {}", emulator, e);
                    info.models = model_defs(main, &info.kvm.models);
                }
            }
        } else {
            info.tcg = AccelCpus {
                models: hv_models(main),
                host: host_expansion(main, "max"),
            };
            info.models = model_defs(main, &info.tcg.models);
        }
        info
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "models": self.models.iter().map(|m| json!({
                "name": m.name,
                "features": set_json(&m.features),
                "signature": m.signature.map(|(f, md)| [f, md]),
            })).collect::<Vec<_>>(),
            "kvm": self.kvm.to_json(),
            "tcg": self.tcg.to_json(),
        })
    }

    pub(crate) fn from_json(v: &Value) -> Option<Self> {
        let models = v["models"]
            .as_array()?
            .iter()
            .filter_map(|m| {
                let name = m["name"].as_str()?.to_string();
                let signature = m["signature"].as_array().and_then(|a| {
                    let n = |i: usize| a.get(i)?.as_u64().and_then(|x| u32::try_from(x).ok());
                    Some((n(0)?, n(1)?))
                });
                Some(ModelDef {
                    vendor: cpu::model_vendor(&name),
                    features: set_from_json(&m["features"]),
                    name,
                    signature,
                })
            })
            .collect();
        Some(QemuCpuInfo {
            models,
            kvm: AccelCpus::from_json(&v["kvm"]),
            tcg: AccelCpus::from_json(&v["tcg"]),
        })
    }

    /// The models with their definitions, in libvirt's order.
    pub fn cpu_map(&self) -> CpuMap {
        CpuMap::new(self.models.clone())
    }

    fn accel(&self, kvm: bool) -> &AccelCpus {
        if kvm {
            &self.kvm
        } else {
            &self.tcg
        }
    }

    /// The domain capabilities' host-model CPU for an accelerator: QEMU's
    /// "host" (or "max") decoded into the closest model it can run.
    pub fn host_model(&self, kvm: bool) -> Option<CpuDef> {
        let acc = self.accel(kvm);
        let host = acc.host.as_ref()?;
        let mut cpu = cpu::decode(
            &host.data,
            &self.cpu_map(),
            Decode {
                hv_models: Some(&acc.models),
                preferred: &[],
                cpu_type: CpuType::Guest,
                migratable: false,
                fallback: Fallback::Allow,
            },
        )
        .ok()?;
        cpu.fallback = Fallback::Forbid;
        cpu.signature = None;
        Some(cpu)
    }

    /// The capabilities' host `<cpu>`: the host's CPUID decoded into a
    /// model and extra features, with microcode, signature, TSC,
    /// topology and address size.
    pub fn host_cpu(&self, host: &Host, info: &oxvirt_core::types::NodeInfo) -> Option<CpuDef> {
        let data = oxvirt_host::cpuid::host_data();
        let mut cpu = cpu::decode(
            &data,
            &self.cpu_map(),
            Decode {
                hv_models: None,
                preferred: &[],
                cpu_type: CpuType::Host,
                migratable: false,
                fallback: Fallback::Allow,
            },
        )
        .ok()?;
        cpu.arch = Some("x86_64".into());
        cpu.microcode = oxvirt_host::cpuid::microcode(host);
        if data.features.has("invtsc") {
            cpu.tsc = oxvirt_host::cpuid::tsc_info().map(|(frequency, scaling)| cpu::def::Tsc {
                frequency,
                scaling: Some(scaling),
            });
        }
        cpu.topology = Some((info.sockets, 1, info.cores, info.threads));
        cpu.maxphysaddr =
            oxvirt_host::cpuid::phys_addr_bits(host).map(|b| ("emulate".to_string(), b as i32));
        Some(cpu)
    }
}

/// Writes the capabilities' host `<cpu>` (with its `<pages>`); `caps` is
/// the host binary's probe.
pub fn write_capabilities_cpu(w: &mut Writer, caps: Option<&Caps>, host: &Host) {
    let info = host.node_info("x86_64").ok();
    let topo = oxvirt_host::topology::Topology::read(host).ok();
    let cpu = match (caps, &info) {
        (Some(c), Some(i)) => c.host_cpu.host_cpu(host, i),
        _ => None,
    };
    w.block("cpu", Attrs::new(), |w| {
        w.text("arch", Attrs::new(), "x86_64");
        match &cpu {
            Some(c) => c.write_body(w),
            None => {
                if let Some(i) = &info {
                    w.empty(
                        "topology",
                        Attrs::new()
                            .add("sockets", i.sockets)
                            .add("dies", 1)
                            .add("cores", i.cores)
                            .add("threads", i.threads),
                    );
                }
            }
        }
        for size in topo
            .as_ref()
            .map(|t| t.page_sizes.clone())
            .unwrap_or_default()
        {
            w.empty("pages", Attrs::new().add("unit", "KiB").add("size", size));
        }
    });
}

/// Writes the domain capabilities' `<mode name='host-model'>`.
pub fn write_host_model(w: &mut Writer, caps: &Caps, kvm: bool) {
    match caps.host_cpu.host_model(kvm) {
        Some(cpu) => w.block(
            "mode",
            Attrs::new()
                .add("name", "host-model")
                .add("supported", "yes"),
            |w| cpu.write_body(w),
        ),
        None => w.empty(
            "mode",
            Attrs::new()
                .add("name", "host-model")
                .add("supported", "no"),
        ),
    }
}

fn check_flags(flags: u32, allowed: u32, func: &str) -> Result<()> {
    oxvirt_core::error::check_flags(flags, allowed, func, FROM)
}

/// `VIR_CONNECT_COMPARE_CPU_*`
const COMPARE_FAIL_INCOMPATIBLE: u32 = 1;
const COMPARE_VALIDATE_XML: u32 = 2;
/// `VIR_CONNECT_BASELINE_CPU_*`
const BASELINE_EXPAND_FEATURES: u32 = 1;
const BASELINE_MIGRATABLE: u32 = 2;

fn parse_validated(xml: &str, validate: bool) -> Result<CpuDef> {
    if validate && oxvirt_xml::dom::parse(xml, "").is_ok() {
        oxvirt_schema::validate(xml, "cpu").map_err(|e| match e {
            oxvirt_schema::SchemaError::Invalid { .. } => {
                Error::new(code::XML_INVALID_SCHEMA, from::XML, e.to_string())
            }
            _ => Error::internal(from::XML, e.to_string()),
        })?;
    }
    CpuDef::parse(xml, None)
}

/// virConnectCompareCPU: `xml` against the host's CPU.
pub fn compare_cpu(caps: &Caps, xml: &str, flags: u32) -> Result<i32> {
    check_flags(
        flags,
        COMPARE_FAIL_INCOMPATIBLE | COMPARE_VALIDATE_XML,
        "qemuConnectCompareCPU",
    )?;
    let host = Host::real();
    let info = host.node_info("x86_64")?;
    let host_cpu = caps.host_cpu.host_cpu(&host, &info);
    let cpu = parse_validated(xml, flags & COMPARE_VALIDATE_XML != 0)?;
    cpu::compare(
        host_cpu.as_ref(),
        &cpu,
        &caps.host_cpu.cpu_map(),
        flags & COMPARE_FAIL_INCOMPATIBLE != 0,
    )
}

/// The accelerator `virttype` names (None: KVM when available).
fn accel_of(caps: &Caps, virttype: Option<&str>, kvm_usable: bool) -> Result<bool> {
    match virttype {
        None => Ok(kvm_usable),
        Some("kvm") if kvm_usable => Ok(true),
        Some("kvm") => Err(Error::invalid_arg(
            FROM,
            format!(
                "the accel 'kvm' is not supported by '{}' on this host",
                caps.emulator
            ),
        )),
        Some("qemu") => Ok(false),
        Some(t) => Err(Error::invalid_arg(FROM, format!("unknown virttype: {}", t))),
    }
}

/// Resolves emulator, arch, machine and virttype as the domain
/// capabilities do (with their errors): the probe whose CPUs answer, and
/// true for KVM. `caps` is the host binary's probe.
fn lookup(
    host: &crate::host::QemuHost,
    caps: &Caps,
    emulator: Option<&str>,
    arch: Option<&str>,
    machine: Option<&str>,
    virttype: Option<&str>,
    kvm_usable: bool,
) -> Result<(Caps, bool)> {
    host.domain_capabilities(emulator, arch, machine, virttype, kvm_usable)?;
    let caps = match emulator {
        Some(e) if e != caps.emulator => host.caps_of(e)?,
        _ => caps.clone(),
    };
    let kvm = accel_of(&caps, virttype, kvm_usable)?;
    Ok((caps, kvm))
}

/// virConnectCompareHypervisorCPU: `xml` against the host-model CPU of
/// the hypervisor.
#[allow(clippy::too_many_arguments)]
pub fn compare_hypervisor_cpu(
    host: &crate::host::QemuHost,
    caps: &Caps,
    emulator: Option<&str>,
    arch: Option<&str>,
    machine: Option<&str>,
    virttype: Option<&str>,
    xml: &str,
    flags: u32,
    kvm_usable: bool,
) -> Result<i32> {
    check_flags(
        flags,
        COMPARE_FAIL_INCOMPATIBLE | COMPARE_VALIDATE_XML,
        "qemuConnectCompareHypervisorCPU",
    )?;
    let (caps, kvm) = lookup(host, caps, emulator, arch, machine, virttype, kvm_usable)?;
    let caps = &caps;
    let Some(hv) = caps.host_cpu.host_model(kvm) else {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            format!(
                "QEMU '{}' does not support reporting CPU model for virttype '{}'",
                caps.emulator,
                if kvm { "kvm" } else { "qemu" }
            ),
        ));
    };
    let cpu = parse_validated(xml, flags & COMPARE_VALIDATE_XML != 0)?;
    cpu::compare(
        Some(&hv),
        &cpu,
        &caps.host_cpu.cpu_map(),
        flags & COMPARE_FAIL_INCOMPATIBLE != 0,
    )
}

fn parse_list(xmls: &[String], ty: Option<CpuType>) -> Result<Vec<CpuDef>> {
    if xmls.is_empty() {
        return Err(Error::invalid_arg(from::CONF, "no CPUs given"));
    }
    xmls.iter().map(|x| CpuDef::parse(x, ty)).collect()
}

/// virConnectBaselineCPU.
pub fn baseline_cpu(caps: &Caps, xmls: &[String], flags: u32) -> Result<String> {
    check_flags(
        flags,
        BASELINE_EXPAND_FEATURES | BASELINE_MIGRATABLE,
        "qemuConnectBaselineCPU",
    )?;
    let cpus = parse_list(xmls, Some(CpuType::Host))?;
    let map = caps.host_cpu.cpu_map();
    let mut cpu = cpu::baseline(&cpus, &map, None, None, flags & BASELINE_MIGRATABLE != 0)?;
    cpu.features
        .retain(|f| !cpu::features::NOT_FOR_QEMU.contains(&f.name.as_str()));
    if flags & BASELINE_EXPAND_FEATURES != 0 {
        cpu::expand_features(&mut cpu, &map)?;
    }
    Ok(cpu.format())
}

/// virConnectBaselineHypervisorCPU.
#[allow(clippy::too_many_arguments)]
pub fn baseline_hypervisor_cpu(
    host: &crate::host::QemuHost,
    caps: &Caps,
    emulator: Option<&str>,
    arch: Option<&str>,
    machine: Option<&str>,
    virttype: Option<&str>,
    xmls: &[String],
    flags: u32,
    kvm_usable: bool,
) -> Result<String> {
    check_flags(
        flags,
        BASELINE_EXPAND_FEATURES | BASELINE_MIGRATABLE,
        "qemuConnectBaselineHypervisorCPU",
    )?;
    let migratable = flags & BASELINE_MIGRATABLE != 0;
    let cpus = parse_list(xmls, None)?;
    let (caps, kvm) = lookup(host, caps, emulator, arch, machine, virttype, kvm_usable)?;
    let caps = &caps;
    let acc = caps.host_cpu.accel(kvm);
    if acc.models.is_empty() {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            format!(
                "QEMU '{}' does not support any CPU models for virttype '{}'",
                caps.emulator,
                if kvm { "kvm" } else { "qemu" }
            ),
        ));
    }
    // QEMU's own CPU limits the result; with migratability known, the
    // migratable subset is asked for directly.
    let allowed = acc.host.as_ref().map(|h| {
        if migratable {
            h.migratable
        } else {
            h.data.features
        }
    });
    let map = caps.host_cpu.cpu_map();
    let mut cpu = cpu::baseline(
        &cpus,
        &map,
        Some(&acc.models),
        allowed.as_ref(),
        migratable && allowed.is_none(),
    )?;
    cpu.fallback = Fallback::Forbid;
    if flags & BASELINE_EXPAND_FEATURES != 0 {
        cpu::expand_features(&mut cpu, &map)?;
    }
    Ok(cpu.format())
}
