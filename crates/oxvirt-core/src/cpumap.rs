//! libvirt's architectures and the CPU models of its CPU map (what
//! virCPUGetModels answers, whichever hypervisor: libvirt reads its own
//! map, not the hypervisor, so every driver lists the same names).

use crate::error::{code, from, Error, Result};

/// libvirt's architectures (virArch) in its order, with their word size.
pub const ARCHES: &[(&str, u32)] = &[
    ("alpha", 64),
    ("armv6l", 32),
    ("armv7l", 32),
    ("armv7b", 32),
    ("aarch64", 64),
    ("cris", 32),
    ("i686", 32),
    ("ia64", 64),
    ("lm32", 32),
    ("m68k", 32),
    ("microblaze", 32),
    ("microblazeel", 32),
    ("mips", 32),
    ("mipsel", 32),
    ("mips64", 64),
    ("mips64el", 64),
    ("openrisc", 32),
    ("parisc", 32),
    ("parisc64", 64),
    ("ppc", 32),
    ("ppcle", 32),
    ("ppc64", 64),
    ("ppc64le", 64),
    ("ppcemb", 32),
    ("riscv32", 32),
    ("riscv64", 64),
    ("s390", 32),
    ("s390x", 64),
    ("sh4", 32),
    ("sh4eb", 64),
    ("sparc", 32),
    ("sparc64", 64),
    ("unicore32", 32),
    ("x86_64", 64),
    ("xtensa", 32),
    ("xtensaeb", 32),
];

/// True for an architecture name libvirt knows.
pub fn is_known_arch(arch: &str) -> bool {
    ARCHES.iter().any(|(a, _)| *a == arch)
}

/// The word size of a libvirt architecture.
pub fn wordsize(arch: &str) -> u32 {
    ARCHES
        .iter()
        .find(|(a, _)| *a == arch)
        .map(|(_, w)| *w)
        .unwrap_or(64)
}

/// The x86 CPU models of libvirt's CPU map, in its order.
pub const X86_MODELS: &[&str] = &[
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

/// The ppc64 CPU models of libvirt's CPU map, in its order.
pub const PPC64_MODELS: &[&str] = &[
    "POWER6",
    "POWER7",
    "POWER8",
    "POWER9",
    "POWER10",
    "POWERPC_e5500",
    "POWERPC_e6500",
];

/// virConnectGetCPUModelNames past the driver's checks: the models of
/// libvirt's CPU map for `arch` (none for architectures whose CPU driver
/// accepts any model). An unknown architecture is INVALID_ARG "cannot
/// find architecture" in the driver's error domain `domain`; one without
/// a CPU driver, NO_SUPPORT from the CPU domain.
pub fn model_names(arch: &str, domain: i32) -> Result<Vec<String>> {
    if !is_known_arch(arch) {
        return Err(Error::new(
            code::INVALID_ARG,
            domain,
            format!("cannot find architecture {}", arch),
        ));
    }
    let models: &[&str] = match arch {
        "i686" | "x86_64" => X86_MODELS,
        "ppc64" | "ppc64le" => PPC64_MODELS,
        "s390" | "s390x" | "armv6l" | "armv7l" | "armv7b" | "aarch64" => &[],
        _ => {
            return Err(Error::new(
                code::NO_SUPPORT,
                from::CPU,
                format!("'{}' architecture is not supported by CPU driver", arch),
            ))
        }
    };
    Ok(models.iter().map(|m| m.to_string()).collect())
}
