//! What QEMU says about CPUs, probed once per binary and cached with its
//! capabilities: the model definitions QEMU gives each named CPU model
//! (static expansion under TCG, so no accelerator defaults are mixed in),
//! the models each accelerator can run (with the features that block
//! them), the CPU QEMU calls "host" under KVM (and "max" under TCG); and
//! from these the capabilities' host `<cpu>` and the domain
//! capabilities' host-model. (`hostcpu` answers the CPU APIs with them.)

use oxvirt_host::cpu::{
    self, CpuData, CpuDef, CpuMap, CpuType, Decode, Fallback, FeatureSet, HvModel, ModelDef,
};
use oxvirt_host::Host;
use oxvirt_qmp::Qmp;
use oxvirt_xml::writer::{Attrs, Writer};
use serde_json::{json, Value};

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
            match crate::probe::spawn_probe(emulator, dir, "tcg") {
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

    pub(crate) fn accel(&self, kvm: bool) -> &AccelCpus {
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

/// Writes the capabilities' host `<cpu>` (with its `<pages>`); `cpus` is
/// the host binary's probe.
pub fn write_capabilities_cpu(w: &mut Writer, cpus: Option<&QemuCpuInfo>, host: &Host) {
    let info = host.node_info("x86_64").ok();
    let topo = oxvirt_host::topology::Topology::read(host).ok();
    let cpu = match (cpus, &info) {
        (Some(c), Some(i)) => c.host_cpu(host, i),
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
pub fn write_host_model(w: &mut Writer, cpus: &QemuCpuInfo, kvm: bool) {
    match cpus.host_model(kvm) {
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
