//! The CPU APIs: virConnectCompareCPU / BaselineCPU and their
//! hypervisor variants, answered from what `cpuinfo` probed of QEMU and
//! the host's own CPUID (`oxvirt_host::cpu` holds the logic).

use oxvirt_core::error::{code, from};
use oxvirt_core::{Error, Result};
use oxvirt_host::cpu::{self, CpuDef, CpuType, Fallback};
use oxvirt_host::Host;

use crate::caps::Caps;
use crate::FROM;

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
