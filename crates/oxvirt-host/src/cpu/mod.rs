//! x86 CPU models: libvirt's `<cpu>` definitions, decoding a set of CPU
//! features into "model + extra features", comparing a CPU with the host
//! and computing baselines, as libvirt's x86 CPU driver does.
//!
//! libvirt answers these from its own CPU map database. oxvirt does not
//! carry that database: the feature list (CPUID bits and names, hardware
//! facts) is in [`features`], the model *names* libvirt 9.0 knows and
//! their order are below, and each model's features come from QEMU at run
//! time (`query-cpu-model-expansion`, gathered by the hypervisor driver
//! into a [`CpuMap`]). Where QEMU's definition of a model differs from
//! libvirt's map, answers follow QEMU's.

pub mod def;
pub mod features;
mod x86;

pub use def::{CpuDef, CpuType, Fallback, FeatureDef, Match, Mode, Policy};
pub use features::{FeatureSet, FEATURES};
pub use x86::{
    baseline, compare, decode, expand_features, Decode, CMP_ERROR, CMP_IDENTICAL, CMP_INCOMPATIBLE,
    CMP_SUPERSET,
};

/// libvirt's architecture names (`virArch`).
pub const ARCHES: &[&str] = &[
    "alpha",
    "armv6l",
    "armv7l",
    "armv7b",
    "aarch64",
    "cris",
    "i686",
    "ia64",
    "lm32",
    "m68k",
    "microblaze",
    "microblazeel",
    "mips",
    "mipsel",
    "mips64",
    "mips64el",
    "openrisc",
    "parisc",
    "parisc64",
    "ppc",
    "ppcle",
    "ppc64",
    "ppc64le",
    "ppcemb",
    "riscv32",
    "riscv64",
    "s390",
    "s390x",
    "sh4",
    "sh4eb",
    "sparc",
    "sparc64",
    "unicore32",
    "x86_64",
    "xtensa",
    "xtensaeb",
];

/// True for an architecture name libvirt knows.
pub fn is_arch(name: &str) -> bool {
    ARCHES.contains(&name)
}

/// The x86 CPU model names of libvirt 9.0, in its order (oldest first):
/// what `virConnectGetCPUModelNames` lists and the order ties are broken
/// in when a CPU is decoded.
pub const X86_MODEL_NAMES: &[&str] = &[
    "486",
    "pentium",
    "pentium2",
    "pentium3",
    "pentiumpro",
    "coreduo",
    "n270",
    "core2duo",
    "qemu32",
    "kvm32",
    "cpu64-rhel5",
    "cpu64-rhel6",
    "qemu64",
    "kvm64",
    "Conroe",
    "Penryn",
    "Nehalem",
    "Nehalem-IBRS",
    "Westmere",
    "Westmere-IBRS",
    "SandyBridge",
    "SandyBridge-IBRS",
    "IvyBridge",
    "IvyBridge-IBRS",
    "Haswell-noTSX",
    "Haswell-noTSX-IBRS",
    "Haswell",
    "Haswell-IBRS",
    "Broadwell-noTSX",
    "Broadwell-noTSX-IBRS",
    "Broadwell",
    "Broadwell-IBRS",
    "Skylake-Client",
    "Skylake-Client-IBRS",
    "Skylake-Client-noTSX-IBRS",
    "Skylake-Server",
    "Skylake-Server-IBRS",
    "Skylake-Server-noTSX-IBRS",
    "Cascadelake-Server",
    "Cascadelake-Server-noTSX",
    "Icelake-Client",
    "Icelake-Client-noTSX",
    "Icelake-Server",
    "Icelake-Server-noTSX",
    "Cooperlake",
    "Snowridge",
    "athlon",
    "phenom",
    "Opteron_G1",
    "Opteron_G2",
    "Opteron_G3",
    "Opteron_G4",
    "Opteron_G5",
    "EPYC",
    "EPYC-IBPB",
    "EPYC-Rome",
    "EPYC-Milan",
    "Dhyana",
];

/// libvirt's PowerPC CPU models, in its order.
const PPC64_MODEL_NAMES: &[&str] = &[
    "POWER6",
    "POWER7",
    "POWER8",
    "POWER9",
    "POWER10",
    "POWERPC_e5500",
    "POWERPC_e6500",
];

/// virCPUGetModels: the models libvirt's CPU layer knows for `arch` (an
/// empty list means "any model is accepted").
pub fn models_for_arch(arch: &str) -> oxvirt_core::Result<Vec<String>> {
    use oxvirt_core::error::{code, from};
    if !is_arch(arch) {
        return Err(oxvirt_core::Error::new(
            code::INVALID_ARG,
            from::NONE,
            format!("cannot find architecture {}", arch),
        ));
    }
    Ok(match arch {
        "i686" | "x86_64" => X86_MODEL_NAMES.iter().map(|s| s.to_string()).collect(),
        "ppc64" | "ppc64le" => PPC64_MODEL_NAMES.iter().map(|s| s.to_string()).collect(),
        "s390" | "s390x" | "armv6l" | "armv7l" | "armv7b" | "aarch64" => Vec::new(),
        _ => {
            return Err(oxvirt_core::Error::new(
                code::NO_SUPPORT,
                from::CPU,
                format!("'{}' architecture is not supported by CPU driver", arch),
            ))
        }
    })
}

/// Models libvirt never uses to describe a guest CPU (only a host's).
const NO_GUEST_DECODE: &[&str] = &[
    "cpu64-rhel5",
    "cpu64-rhel6",
    "Cascadelake-Server-noTSX",
    "Icelake-Client-noTSX",
    "Icelake-Server-noTSX",
    "Skylake-Client-noTSX-IBRS",
    "Skylake-Server-noTSX-IBRS",
];

/// Models libvirt never uses to describe a host CPU.
const NO_HOST_DECODE: &[&str] = &["cpu64-rhel5", "cpu64-rhel6"];

/// The vendor libvirt assigns a model (None: any vendor).
pub fn model_vendor(model: &str) -> Option<&'static str> {
    const AMD: &[&str] = &["phenom", "athlon", "Opteron", "EPYC"];
    const INTEL: &[&str] = &[
        "n270",
        "coreduo",
        "core2duo",
        "Westmere",
        "Snowridge",
        "Skylake",
        "SandyBridge",
        "Penryn",
        "Nehalem",
        "IvyBridge",
        "Icelake",
        "Haswell",
        "Cooperlake",
        "Conroe",
        "Cascadelake",
        "Broadwell",
        "KnightsMill",
        "Denverton",
        "SapphireRapids",
    ];
    if model.starts_with("Dhyana") {
        Some("Hygon")
    } else if AMD.iter().any(|p| model.starts_with(p)) {
        Some("AMD")
    } else if INTEL.iter().any(|p| model.starts_with(p)) {
        Some("Intel")
    } else {
        None
    }
}

/// The vendor name for a CPUID vendor string.
pub fn vendor_from_cpuid(s: &str) -> Option<&'static str> {
    match s {
        "GenuineIntel" => Some("Intel"),
        "AuthenticAMD" => Some("AMD"),
        "HygonGenuine" => Some("Hygon"),
        _ => None,
    }
}

/// One CPU model with the features QEMU gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDef {
    pub name: String,
    pub vendor: Option<&'static str>,
    pub features: FeatureSet,
    /// (family, model) of the CPU the model stands for.
    pub signature: Option<(u32, u32)>,
}

impl ModelDef {
    fn decodes_guest(&self) -> bool {
        !NO_GUEST_DECODE.contains(&self.name.as_str())
    }
    fn decodes_host(&self) -> bool {
        !NO_HOST_DECODE.contains(&self.name.as_str())
    }
}

/// The models known to the hypervisor, in libvirt's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuMap {
    pub models: Vec<ModelDef>,
}

impl CpuMap {
    /// Keeps the models libvirt knows, in libvirt's order.
    pub fn new(mut defs: Vec<ModelDef>) -> CpuMap {
        defs.retain(|d| X86_MODEL_NAMES.contains(&d.name.as_str()));
        defs.sort_by_key(|d| X86_MODEL_NAMES.iter().position(|n| *n == d.name));
        defs.dedup_by(|a, b| a.name == b.name);
        CpuMap { models: defs }
    }

    pub fn find(&self, name: &str) -> Option<&ModelDef> {
        self.models.iter().find(|m| m.name == name)
    }
}

/// A model as the hypervisor offers it: usable or not, and the features
/// that block it on this host (libvirt's names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HvModel {
    pub name: String,
    pub usable: bool,
    pub blockers: Vec<String>,
}

/// What a CPU provides: vendor name, signature and features.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuData {
    pub vendor: Option<String>,
    /// family, model, stepping
    pub signature: Option<(u32, u32, u32)>,
    pub features: FeatureSet,
}
