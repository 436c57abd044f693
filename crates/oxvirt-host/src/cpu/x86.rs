//! Decode, compare, baseline and feature expansion over feature sets, with
//! the selection rules and messages of libvirt's x86 CPU driver.

use oxvirt_core::error::{code, from};
use oxvirt_core::{Error, Result};

use super::def::{CpuDef, CpuType, Fallback, FeatureDef, Match, Mode, Policy};
use super::features::{self, FeatureSet, FEATURES};
use super::{CpuData, CpuMap, HvModel, ModelDef};

/// `virCPUCompareResult`
pub const CMP_ERROR: i32 = -1;
pub const CMP_INCOMPATIBLE: i32 = 0;
pub const CMP_IDENTICAL: i32 = 1;
pub const CMP_SUPERSET: i32 = 2;

const FROM: i32 = from::CPU;

/// The features of a CPU definition with one policy (`None`: the CPU as
/// a whole, model included, as libvirt's `x86ModelFromCPU(-1)`).
fn model_from_cpu(cpu: &CpuDef, map: &CpuMap, policy: Option<Policy>) -> Result<FeatureSet> {
    if cpu.cpu_type == CpuType::Host && policy.is_some() && policy != Some(Policy::Require) {
        return Ok(FeatureSet::new());
    }
    let mut data = FeatureSet::new();
    if let Some(m) = &cpu.model {
        if policy.is_none() || policy == Some(Policy::Require) {
            data = map
                .find(m)
                .ok_or_else(|| Error::internal(FROM, format!("Unknown CPU model {}", m)))?
                .features;
        }
    }
    for f in &cpu.features {
        let fpol = f.policy.unwrap_or(Policy::Require);
        match policy {
            None if fpol == Policy::Optional => continue,
            Some(p) if p != fpol => continue,
            _ => {}
        }
        let i = features::index(&f.name)
            .ok_or_else(|| Error::internal(FROM, format!("Unknown CPU feature {}", f.name)))?;
        match (policy, fpol) {
            (None, Policy::Force | Policy::Require) => data.insert(i),
            (None, Policy::Disable | Policy::Forbid) => data.remove(i),
            (None, Policy::Optional) => {}
            (Some(_), _) => data.insert(i),
        }
    }
    Ok(data)
}

fn names(set: &FeatureSet) -> String {
    set.names().collect::<Vec<_>>().join(", ")
}

/// Compares `cpu` with `host` (`virCPUx86Compare`): CMP_INCOMPATIBLE,
/// CMP_IDENTICAL or CMP_SUPERSET, or the reason as an error when
/// `fail_incompatible`.
pub fn compare(
    host: Option<&CpuDef>,
    cpu: &CpuDef,
    map: &CpuMap,
    fail_incompatible: bool,
) -> Result<i32> {
    let incompatible = |msg: Option<String>| -> Result<i32> {
        if fail_incompatible {
            Err(Error::new(
                code::CPU_INCOMPATIBLE,
                FROM,
                msg.unwrap_or_default(),
            ))
        } else {
            Ok(CMP_INCOMPATIBLE)
        }
    };
    let Some(host) = host.filter(|h| h.model.is_some()) else {
        return incompatible(Some("unknown host CPU".into()));
    };
    if let Some(a) = &cpu.arch {
        if a != "i686" && a != "x86_64" {
            return incompatible(Some(format!("CPU arch {} does not match host arch", a)));
        }
    }
    if let Some(v) = &cpu.vendor {
        if host.vendor.as_deref() != Some(v.as_str()) {
            return incompatible(Some(format!(
                "host CPU vendor does not match required CPU vendor {}",
                v
            )));
        }
    }
    let host_model = model_from_cpu(host, map, None)?;
    let force = model_from_cpu(cpu, map, Some(Policy::Force))?;
    let mut require = model_from_cpu(cpu, map, Some(Policy::Require))?;
    let optional = model_from_cpu(cpu, map, Some(Policy::Optional))?;
    let disable = model_from_cpu(cpu, map, Some(Policy::Disable))?;
    let forbid = model_from_cpu(cpu, map, Some(Policy::Forbid))?;

    let forbidden = forbid.intersect(&host_model);
    if !forbidden.is_empty() {
        return incompatible(Some(format!(
            "Host CPU provides forbidden features: {}",
            names(&forbidden)
        )));
    }
    require = require.minus(&force).minus(&optional).minus(&disable);
    // The host must provide every required feature (libvirt compares per
    // CPUID register; on sets of bits that is plain inclusion).
    if !require.is_subset(&host_model) {
        return incompatible(Some(format!(
            "Host CPU does not provide required features: {}",
            names(&require.minus(&host_model))
        )));
    }
    let diff = host_model
        .minus(&optional)
        .minus(&require)
        .minus(&disable)
        .minus(&force);
    if diff.is_empty() {
        return Ok(CMP_IDENTICAL);
    }
    if cpu.cpu_type == CpuType::Guest && cpu.matches == Match::Strict {
        return incompatible(Some(format!(
            "Host CPU does not strictly match guest CPU: Extra features: {}",
            names(&diff)
        )));
    }
    Ok(CMP_SUPERSET)
}

/// How to decode CPU data into a model and features.
#[derive(Debug, Clone, Copy)]
pub struct Decode<'a> {
    /// Only these models may be used (the hypervisor's), with blockers.
    pub hv_models: Option<&'a [HvModel]>,
    /// Models the caller would like (baseline inputs).
    pub preferred: &'a [String],
    pub cpu_type: CpuType,
    /// Drop features that block migration.
    pub migratable: bool,
    /// The stub's fallback: may a preferred model the hypervisor lacks be
    /// replaced by the closest one?
    pub fallback: Fallback,
}

fn signature_matches(model: &ModelDef, sig: Option<(u32, u32)>) -> bool {
    matches!((model.signature, sig), (Some(a), Some(b)) if a == b)
}

/// The features of `data` beyond `model` (require) and those of `model`
/// that `data` lacks or the hypervisor blocks (disable).
fn data_to_cpu(
    data: &FeatureSet,
    vendor: Option<&str>,
    model: &ModelDef,
    hv: Option<&HvModel>,
    cpu_type: CpuType,
) -> CpuDef {
    let mut cpu = CpuDef::new(CpuType::Guest);
    cpu.model = Some(model.name.clone());
    cpu.vendor = vendor.map(str::to_string);
    let copy = data.minus(&model.features);
    let mut model_data = model.features.minus(data);
    if let Some(hv) = hv {
        for b in &hv.blockers {
            if let Some(i) = features::index(b).or_else(|| features::from_qemu(b)) {
                if !copy.contains(i) {
                    model_data.insert(i);
                }
            }
        }
    }
    for n in copy.names() {
        cpu.features.push(FeatureDef {
            name: n.to_string(),
            policy: Some(Policy::Require),
        });
    }
    for n in model_data.names() {
        cpu.features.push(FeatureDef {
            name: n.to_string(),
            policy: Some(Policy::Disable),
        });
    }
    cpu.cpu_type = cpu_type;
    cpu
}

/// `virCPUx86CompareCandidateFeatureList`: fewer features wins; for guest
/// CPUs disabled features weigh more (2, 3, 4, ... each).
fn better_feature_list(current: &CpuDef, candidate: &CpuDef, preferred: bool) -> bool {
    let weigh = |c: &CpuDef| -> (usize, usize) {
        if candidate.cpu_type == CpuType::Host {
            return (c.features.len(), 0);
        }
        let mut enabled = c.features.len();
        let mut disabled = 0;
        let mut penalty = 2;
        for f in &c.features {
            if f.policy == Some(Policy::Disable) {
                enabled -= 1;
                disabled += penalty;
                penalty += 1;
            }
        }
        (enabled + disabled, disabled)
    };
    let (cur, cur_dis) = weigh(current);
    let (cand, cand_dis) = weigh(candidate);
    cand < cur || (cand == cur && cand_dis < cur_dis) || (preferred && cand_dis < cur_dis)
}

/// Decodes `data` into a model and features (`x86Decode`).
pub fn decode(data: &CpuData, map: &CpuMap, opts: Decode<'_>) -> Result<CpuDef> {
    let mut feats = data.features;
    let vendor = data.vendor.as_deref();
    // Broken TSX on some Haswell steppings is never reported.
    if vendor == Some("Intel") {
        if let Some((6, m, s)) = data.signature {
            if (m == 63 && s < 4) || m == 60 || m == 69 || m == 70 {
                for n in ["hle", "rtm"] {
                    if let Some(i) = features::index(n) {
                        feats.remove(i);
                    }
                }
            }
        }
    }
    let sig = data.signature.map(|(f, m, _)| (f, m));
    let preferred = opts.preferred;
    let mut best: Option<(&ModelDef, CpuDef)> = None;
    for model in map.models.iter().rev() {
        let hv = match opts.hv_models {
            Some(list) => match list.iter().find(|h| h.name == model.name) {
                Some(h) => Some(h),
                None => {
                    if preferred.len() == 1
                        && preferred[0] == model.name
                        && opts.fallback != Fallback::Allow
                    {
                        return Err(Error::unsupported_config(
                            FROM,
                            format!("CPU model {} is not supported by hypervisor", preferred[0]),
                        ));
                    }
                    continue;
                }
            },
            None => None,
        };
        if let (Some(v), Some(mv)) = (vendor, model.vendor) {
            if v != mv {
                continue;
            }
        }
        let mut cand = data_to_cpu(&feats, vendor, model, hv, opts.cpu_type);
        // x86DecodeUseCandidate
        let usable = match opts.cpu_type {
            CpuType::Host => model.decodes_host(),
            CpuType::Guest => model.decodes_guest(),
        };
        if !usable {
            continue;
        }
        if opts.cpu_type == CpuType::Host {
            if cand
                .features
                .iter()
                .any(|f| f.policy == Some(Policy::Disable))
            {
                continue;
            }
            for f in &mut cand.features {
                f.policy = None;
            }
        }
        let is_preferred = preferred.contains(&model.name);
        if is_preferred && preferred.len() == 1 {
            best = Some((model, cand));
            break;
        }
        let take = match &best {
            None => true,
            Some((cur_model, cur)) => {
                let cur_sig = signature_matches(cur_model, sig);
                let cand_sig = signature_matches(model, sig);
                if sig.is_some() && cur_sig && !cand_sig {
                    false
                } else if sig.is_some() && !cur_sig && cand_sig {
                    true
                } else {
                    better_feature_list(cur, &cand, is_preferred)
                }
            }
        };
        if take {
            best = Some((model, cand));
        }
    }
    let Some((_, mut cpu)) = best else {
        return Err(Error::internal(
            FROM,
            "Cannot find suitable CPU model for given data",
        ));
    };
    if opts.migratable {
        cpu.features
            .retain(|f| features::index(&f.name).is_none_or(|i| FEATURES[i].migratable));
    }
    cpu.vendor = vendor.map(str::to_string);
    cpu.signature = data.signature;
    Ok(cpu)
}

/// The most capable CPU all of `cpus` can run (`virCPUx86Baseline`),
/// limited to `allowed` features when given.
pub fn baseline(
    cpus: &[CpuDef],
    map: &CpuMap,
    hv_models: Option<&[HvModel]>,
    allowed: Option<&FeatureSet>,
    migratable: bool,
) -> Result<CpuDef> {
    if cpus.is_empty() {
        return Err(Error::invalid_arg(FROM, "no CPUs given"));
    }
    for (i, c) in cpus.iter().enumerate() {
        if c.model.is_none() {
            return Err(Error::invalid_arg(
                FROM,
                format!("no CPU model specified at index {}", i),
            ));
        }
    }
    let failed = |m: String| Error::new(code::OPERATION_FAILED, FROM, m);
    let known_vendor = |v: &str| -> Result<String> {
        if matches!(v, "Intel" | "AMD" | "Hygon") {
            Ok(v.to_string())
        } else {
            Err(failed(format!("Unknown CPU vendor {}", v)))
        }
    };
    let mut base = model_from_cpu(&cpus[0], map, None)?;
    let mut output_vendor = cpus[0].vendor.is_some();
    let mut vendor = match &cpus[0].vendor {
        Some(v) => Some(known_vendor(v)?),
        None => None,
    };
    let mut names: Vec<String> = cpus[0].model.iter().cloned().collect();
    for c in &cpus[1..] {
        if let Some(m) = &c.model {
            if !names.contains(m) {
                names.push(m.clone());
            }
        }
        let data = model_from_cpu(c, map, None)?;
        let mvendor = c
            .model
            .as_deref()
            .and_then(|m| map.find(m))
            .and_then(|m| m.vendor);
        if let (Some(v), Some(mv)) = (&c.vendor, mvendor) {
            if v != mv {
                return Err(failed(format!(
                    "CPU vendor {} of model {} differs from vendor {}",
                    mv,
                    c.model.as_deref().unwrap_or_default(),
                    v
                )));
            }
        }
        let vn = match &c.vendor {
            Some(v) => Some(v.clone()),
            None => {
                output_vendor = false;
                mvendor.map(str::to_string)
            }
        };
        if let Some(vn) = vn {
            match &vendor {
                None => vendor = Some(known_vendor(&vn)?),
                Some(v) if *v != vn => return Err(failed("CPU vendors do not match".into())),
                Some(_) => {}
            }
        }
        base = base.intersect(&data);
    }
    if let Some(a) = allowed {
        base = base.intersect(a);
    }
    if base.is_empty() {
        return Err(failed("CPUs are incompatible".into()));
    }
    let data = CpuData {
        vendor: vendor.clone(),
        signature: None,
        features: base,
    };
    let mut cpu = decode(
        &data,
        map,
        Decode {
            hv_models,
            preferred: &names,
            cpu_type: CpuType::Guest,
            migratable,
            fallback: Fallback::Allow,
        },
    )?;
    cpu.signature = None;
    cpu.mode = Mode::Custom;
    cpu.matches = Match::Exact;
    if names.len() == 1 && cpu.model.as_deref() == Some(names[0].as_str()) {
        cpu.fallback = Fallback::Forbid;
    }
    if !output_vendor {
        cpu.vendor = None;
    }
    Ok(cpu)
}

/// Lists every feature the model implies (`virCPUx86ExpandFeatures`),
/// then sorts the list by name as libvirt does.
pub fn expand_features(cpu: &mut CpuDef, map: &CpuMap) -> Result<()> {
    let host = cpu.cpu_type == CpuType::Host;
    let name = cpu.model.clone().unwrap_or_default();
    let model = map
        .find(&name)
        .ok_or_else(|| Error::internal(FROM, format!("unknown CPU model {}", name)))?;
    let mut expanded = cpu.clone();
    expanded.features = model
        .features
        .names()
        .map(|n| FeatureDef {
            name: n.to_string(),
            policy: (!host).then_some(Policy::Require),
        })
        .collect();
    for f in &cpu.features {
        if !host && !matches!(f.policy, Some(Policy::Require | Policy::Disable)) {
            continue;
        }
        expanded.update_feature(&f.name, f.policy.unwrap_or(Policy::Require));
    }
    expanded.features.sort_by(|a, b| a.name.cmp(&b.name));
    cpu.features = expanded.features;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str, feats: &[&str]) -> ModelDef {
        ModelDef {
            name: name.into(),
            vendor: super::super::model_vendor(name),
            features: FeatureSet::of(feats.iter().copied()),
            signature: None,
        }
    }

    fn map() -> CpuMap {
        CpuMap::new(vec![
            model("kvm64", &["fpu", "sse", "sse2", "lm"]),
            model("qemu64", &["fpu", "sse", "sse2", "lm", "svm"]),
            model("Opteron_G1", &["fpu", "sse", "sse2", "lm", "mmx"]),
        ])
    }

    fn host(feats: &[&str]) -> CpuData {
        CpuData {
            vendor: Some("AMD".into()),
            signature: Some((26, 2, 1)),
            features: FeatureSet::of(feats.iter().copied()),
        }
    }

    #[test]
    fn host_decode_prefers_fewest_extra_features() {
        let d = decode(
            &host(&["fpu", "sse", "sse2", "lm", "mmx", "avx"]),
            &map(),
            Decode {
                hv_models: None,
                preferred: &[],
                cpu_type: CpuType::Host,
                migratable: false,
                fallback: Fallback::Allow,
            },
        )
        .expect("decodes");
        assert_eq!(d.model.as_deref(), Some("Opteron_G1"));
        assert_eq!(d.features.len(), 1);
        assert_eq!(d.features[0].name, "avx");
    }

    #[test]
    fn guest_decode_disables_missing_features() {
        let d = decode(
            &host(&["fpu", "sse", "lm", "mmx"]),
            &map(),
            Decode {
                hv_models: None,
                preferred: &[],
                cpu_type: CpuType::Guest,
                migratable: false,
                fallback: Fallback::Allow,
            },
        )
        .expect("decodes");
        assert_eq!(d.model.as_deref(), Some("Opteron_G1"));
        assert_eq!(d.features[0].name, "sse2");
        assert_eq!(d.features[0].policy, Some(Policy::Disable));
    }

    #[test]
    fn compare_results() {
        let m = map();
        let h = CpuDef::parse(
            "<cpu><arch>x86_64</arch><model>kvm64</model><vendor>AMD</vendor><feature name='avx'/></cpu>",
            None,
        )
        .expect("host");
        let same = CpuDef::parse("<cpu><model>kvm64</model><feature name='avx'/></cpu>", None)
            .expect("guest");
        assert_eq!(
            compare(Some(&h), &same, &m, false).ok(),
            Some(CMP_IDENTICAL)
        );
        let less = CpuDef::parse("<cpu><model>kvm64</model></cpu>", None).expect("guest");
        assert_eq!(compare(Some(&h), &less, &m, false).ok(), Some(CMP_SUPERSET));
        let more = CpuDef::parse("<cpu><model>qemu64</model></cpu>", None).expect("guest");
        assert_eq!(
            compare(Some(&h), &more, &m, false).ok(),
            Some(CMP_INCOMPATIBLE)
        );
        let e = compare(Some(&h), &more, &m, true).unwrap_err();
        assert_eq!(
            e.message,
            "the CPU is incompatible with host CPU: Host CPU does not provide required features: svm"
        );
    }

    #[test]
    fn baseline_of_two() {
        let m = map();
        let a = CpuDef::parse(
            "<cpu><arch>x86_64</arch><model>Opteron_G1</model><vendor>AMD</vendor><feature name='avx'/></cpu>",
            Some(CpuType::Host),
        )
        .expect("a");
        let b = CpuDef::parse(
            "<cpu><arch>x86_64</arch><model>kvm64</model><vendor>AMD</vendor><feature name='mmx'/></cpu>",
            Some(CpuType::Host),
        )
        .expect("b");
        let r = baseline(&[a, b], &m, None, None, false).expect("baseline");
        assert_eq!(
            r.format(),
            "<cpu mode='custom' match='exact'>\n  <model fallback='allow'>Opteron_G1</model>\n  <vendor>AMD</vendor>\n</cpu>\n"
        );
        let mut r = r;
        expand_features(&mut r, &m).expect("expands");
        assert_eq!(r.features.len(), 5);
        assert_eq!(r.features[0].name, "fpu");
    }
}
