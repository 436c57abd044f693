//! libvirt's architectures: names, word sizes, QEMU's spelling of them,
//! the host's.

pub use oxvirt_core::cpumap::{is_known_arch, wordsize, ARCHES};

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
