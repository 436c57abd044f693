//! libvirt's architectures: names, word sizes, QEMU's spelling of them,
//! the host's.

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

/// QEMU's name for a libvirt architecture (virQEMUCapsArchToString).
pub fn qemu_arch(arch: &str) -> &str {
    match arch {
        "i686" => "i386",
        "armv6l" | "armv7l" => "arm",
        "openrisc" => "or32",
        a => a,
    }
}

/// libvirt's architecture for QEMU's name (`query-target`'s `arch`).
pub fn arch_from_qemu(q: &str) -> &str {
    match q {
        "i386" => "i686",
        "arm" => "armv7l",
        "or32" => "openrisc",
        a => a,
    }
}

/// The host's architecture, in libvirt's spelling.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i686",
        "arm" => "armv7l",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "aarch64" => "aarch64",
        _ => "x86_64",
    }
}

/// True when `guest` runs natively on `host` (virQEMUCapsGuestIsNative).
pub fn is_native(host: &str, guest: &str) -> bool {
    host == guest
        || (host == "x86_64" && guest == "i686")
        || (host == "aarch64" && guest == "armv7l")
        || (host == "ppc64le" && guest == "ppc64")
        || (host == "ppc64" && guest == "ppc64le")
}
