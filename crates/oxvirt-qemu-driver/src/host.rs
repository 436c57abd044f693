//! The guest architectures this host's QEMU binaries offer, as libvirt's
//! QEMU driver finds them: for every architecture libvirt knows, the
//! binary `qemu-system-ARCH` on `PATH` (`i386` for i686, `arm` for
//! armv6l/armv7l), else the host's own binary for an architecture the
//! host runs natively (i686 on x86_64). Each binary is probed once
//! ([`Caps`], cached on disk); a binary a definition names explicitly is
//! probed on first use, and a missing one is libvirt's SYSTEM_ERROR
//! "Cannot check QEMU binary".

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};

pub use crate::arch::{
    arch_from_qemu, host_arch, is_known_arch, is_native, qemu_arch, wordsize, ARCHES,
};
use crate::caps::Caps;
pub use crate::caps::Guest;
use crate::FROM;

fn find_in_path(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(binary))
        .find(|p| {
            std::fs::metadata(p)
                .map(|m| {
                    use std::os::unix::fs::PermissionsExt;
                    m.is_file() && m.permissions().mode() & 0o111 != 0
                })
                .unwrap_or(false)
        })
}

/// The binary libvirt picks for `guest` on `host`
/// (virQEMUCapsGetDefaultEmulator).
pub fn default_emulator(host: &str, guest: &str) -> Option<String> {
    let find = |arch: &str| {
        find_in_path(&format!("qemu-system-{}", qemu_arch(arch)))
            .map(|p| p.to_string_lossy().into_owned())
    };
    if host == "aarch64" && guest == "armv7l" {
        if let Some(b) = find(host) {
            return Some(b);
        }
    }
    if let Some(b) = find(guest) {
        return Some(b);
    }
    let target = if is_native(host, guest) {
        host
    } else if guest == "ppc64le" {
        "ppc64"
    } else {
        guest
    };
    if target != guest {
        if let Some(b) = find(target) {
            return Some(b);
        }
    }
    None
}

/// Every guest architecture of this host, probed.
#[derive(Debug)]
pub struct QemuHost {
    pub host_arch: String,
    /// Guests in libvirt's architecture order.
    pub guests: Vec<Guest>,
    cache_dir: PathBuf,
    /// Binaries named by definitions, probed on demand.
    others: Mutex<Vec<Caps>>,
}

impl QemuHost {
    /// Finds and probes every binary (probes come from `cache_dir` when
    /// the binary has not changed).
    pub fn probe(cache_dir: &Path) -> QemuHost {
        let host = host_arch();
        let mut guests = Vec::new();
        let mut probed: Vec<Caps> = Vec::new();
        for (arch, _) in ARCHES {
            let Some(bin) = default_emulator(host, arch) else {
                continue;
            };
            let caps = match probed.iter().find(|c| c.emulator == bin) {
                Some(c) => c.clone(),
                None => {
                    let c = Caps::probe_emulator(&bin, cache_dir);
                    probed.push(c.clone());
                    c
                }
            };
            if caps.machine_info.is_empty() {
                continue;
            }
            guests.push(Guest {
                arch: arch.to_string(),
                emulator: bin,
                caps,
            });
        }
        QemuHost {
            host_arch: host.to_string(),
            guests,
            cache_dir: cache_dir.to_path_buf(),
            others: Mutex::new(Vec::new()),
        }
    }

    /// A host made of given probes (for tests and tools).
    pub fn from_guests(guests: Vec<Guest>, cache_dir: &Path) -> QemuHost {
        QemuHost {
            host_arch: host_arch().to_string(),
            guests,
            cache_dir: cache_dir.to_path_buf(),
            others: Mutex::new(Vec::new()),
        }
    }

    /// The guest entry for `arch`.
    pub fn guest(&self, arch: &str) -> Option<&Guest> {
        self.guests.iter().find(|g| g.arch == arch)
    }

    /// The emulator libvirt gives a definition of `arch` that names none.
    pub fn emulator_for(&self, arch: &str) -> Result<String> {
        match self.guest(arch) {
            Some(g) => Ok(g.emulator.clone()),
            None => Err(Error::new(
                code::CONFIG_UNSUPPORTED,
                FROM,
                format!("No emulator found for arch '{}'", arch),
            )),
        }
    }

    /// The probe of `emulator` (virQEMUCapsCacheLookup): a binary that
    /// cannot be found is libvirt's "Cannot check QEMU binary".
    pub fn caps_of(&self, emulator: &str) -> Result<Caps> {
        if let Some(g) = self.guests.iter().find(|g| g.emulator == emulator) {
            return Ok(g.caps.clone());
        }
        if let Err(e) = std::fs::metadata(emulator) {
            return Err(Error::new(
                code::SYSTEM_ERROR,
                FROM,
                format!(
                    "Cannot check QEMU binary {}: {}",
                    emulator,
                    oxvirt_core::error::strerror(&e)
                ),
            ));
        }
        let mut others = self.others.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = others.iter().find(|c| c.emulator == emulator) {
            return Ok(c.clone());
        }
        let c = Caps::probe_emulator(emulator, &self.cache_dir);
        if c.machine_info.is_empty() {
            return Err(Error::new(
                code::INTERNAL_ERROR,
                FROM,
                format!("Failed to probe capabilities for {}", emulator),
            ));
        }
        others.push(c.clone());
        Ok(c)
    }
}

impl QemuHost {
    /// virConnectGetDomainCapabilities: the binary for `emulator` or
    /// `arch` (the host's by default), as libvirt looks it up
    /// (virQEMUCapsCacheLookupDefault), then its document.
    pub fn domain_capabilities(
        &self,
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        kvm: bool,
    ) -> Result<String> {
        if let Some(t) = virttype {
            if !matches!(
                t,
                "none"
                    | "qemu"
                    | "kqemu"
                    | "kvm"
                    | "xen"
                    | "lxc"
                    | "uml"
                    | "openvz"
                    | "test"
                    | "vmware"
                    | "hyperv"
                    | "vbox"
                    | "phyp"
                    | "parallels"
                    | "bhyve"
                    | "vz"
                    | "hvf"
            ) {
                return Err(Error::new(
                    code::INVALID_ARG,
                    FROM,
                    format!("unknown virttype: {}", t),
                ));
            }
        }
        if let Some(a) = arch {
            if !is_known_arch(a) {
                return Err(Error::new(
                    code::INVALID_ARG,
                    FROM,
                    format!("unknown architecture: {}", a),
                ));
            }
        }
        let want_arch = arch.unwrap_or(&self.host_arch).to_string();
        let binary = match emulator {
            Some(e) => e.to_string(),
            None => match default_emulator(&self.host_arch, &want_arch) {
                Some(b) => b,
                None => {
                    return Err(Error::new(
                        code::CONFIG_UNSUPPORTED,
                        FROM,
                        format!(
                            "unable to find any emulator to serve '{}' architecture",
                            arch.unwrap_or("(null)")
                        ),
                    ))
                }
            },
        };
        let caps = self.caps_of(&binary)?;
        let family = |a: &str| -> String {
            if matches!(a, "i686" | "x86_64") {
                "x86".into()
            } else if a.starts_with("ppc") {
                "ppc".into()
            } else if a.starts_with("arm") || a == "aarch64" {
                "arm".into()
            } else if a.starts_with("s390") {
                "s390".into()
            } else {
                a.to_string()
            }
        };
        if caps.arch != want_arch && family(&caps.arch) != family(&want_arch) {
            return Err(Error::new(
                code::INVALID_ARG,
                FROM,
                format!(
                    "architecture from emulator '{}' doesn't match given architecture '{}'",
                    caps.arch, want_arch
                ),
            ));
        }
        crate::caps::domain_capabilities_xml(&caps, &want_arch, machine, virttype, kvm && caps.kvm)
    }
}

/// True when a binary for `binary_arch` runs guests of `arch`
/// (virQEMUCapsIsArchSupported).
pub fn serves_arch(binary_arch: &str, arch: &str) -> bool {
    binary_arch == arch
        || (binary_arch == "x86_64" && arch == "i686")
        || (binary_arch == "aarch64" && arch == "armv7l")
        || (binary_arch == "armv7l" && arch == "armv6l")
        || (binary_arch == "ppc64" && arch == "ppc64le")
        || (binary_arch == "ppc64le" && arch == "ppc64")
}
