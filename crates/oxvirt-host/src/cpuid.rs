//! The host CPU as its own CPUID instruction describes it (plus the
//! IA32_ARCH_CAPABILITIES MSR), and the other host-CPU facts libvirt puts
//! in the capabilities' `<cpu>`: microcode, TSC frequency and physical
//! address size.

use crate::cpu::features::{Reg, Source, FEATURES};
use crate::cpu::{vendor_from_cpuid, CpuData, FeatureSet};
use crate::Host;

/// One CPUID query.
#[cfg(target_arch = "x86_64")]
fn cpuid(leaf: u32, sub: u32) -> [u32; 4] {
    // SAFETY: CPUID is available on every x86_64 CPU (the intrinsic is
    // unsafe on older toolchains).
    #[allow(unused_unsafe)]
    let r = unsafe { std::arch::x86_64::__cpuid_count(leaf, sub) };
    [r.eax, r.ebx, r.ecx, r.edx]
}

#[cfg(not(target_arch = "x86_64"))]
fn cpuid(_leaf: u32, _sub: u32) -> [u32; 4] {
    [0; 4]
}

/// (family, model, stepping) from CPUID leaf 1 EAX, as libvirt computes it.
pub fn signature_from_eax(eax: u32) -> (u32, u32, u32) {
    let family = ((eax >> 20) & 0xff) + ((eax >> 8) & 0xf);
    let model = ((eax >> 12) & 0xf0) + ((eax >> 4) & 0xf);
    (family, model, eax & 0xf)
}

/// The host CPU's vendor, signature and features from CPUID (and the
/// arch-capabilities MSR when the CPU has one).
pub fn host_data() -> CpuData {
    if !cfg!(target_arch = "x86_64") {
        return CpuData::default();
    }
    let l0 = cpuid(0, 0);
    let max_basic = l0[0];
    let max_ext = cpuid(0x8000_0000, 0)[0];
    let mut vendor = Vec::with_capacity(12);
    for r in [l0[1], l0[3], l0[2]] {
        vendor.extend_from_slice(&r.to_le_bytes());
    }
    let vendor = String::from_utf8_lossy(&vendor).into_owned();
    let mut features = FeatureSet::new();
    let mut msr_0x10a: Option<Option<u64>> = None;
    for (i, f) in FEATURES.iter().enumerate() {
        let set = match f.source {
            Source::Cpuid(leaf, sub, reg) => {
                let max = if leaf >= 0x8000_0000 {
                    max_ext
                } else {
                    max_basic
                };
                if leaf > max {
                    continue;
                }
                let r = cpuid(leaf, sub.unwrap_or(0));
                let v = match reg {
                    Reg::EAX => r[0],
                    Reg::EBX => r[1],
                    Reg::ECX => r[2],
                    Reg::EDX => r[3],
                };
                v & (1 << f.bit) != 0
            }
            Source::Msr(index) => {
                if !features.has("arch-capabilities") {
                    continue;
                }
                let v = *msr_0x10a.get_or_insert_with(|| read_msr(index));
                matches!(v, Some(v) if v & (1 << f.bit) != 0)
            }
        };
        if set {
            features.insert(i);
        }
    }
    CpuData {
        vendor: vendor_from_cpuid(&vendor).map(str::to_string),
        signature: (max_basic >= 1).then(|| signature_from_eax(cpuid(1, 0)[0])),
        features,
    }
}

/// Reads a host MSR: /dev/cpu/0/msr, else KVM's feature MSRs.
fn read_msr(index: u32) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    if let Ok(f) = std::fs::File::open("/dev/cpu/0/msr") {
        let mut b = [0u8; 8];
        if f.read_exact_at(&mut b, index as u64).is_ok() {
            return Some(u64::from_le_bytes(b));
        }
    }
    kvm::msr(index)
}

/// `microcode : 0x...` of /proc/cpuinfo.
pub fn microcode(host: &Host) -> Option<u32> {
    let t = std::fs::read_to_string(host.proc("cpuinfo")).ok()?;
    let v = t
        .lines()
        .find(|l| l.starts_with("microcode"))?
        .split_once(':')?
        .1
        .trim();
    let v = v.strip_prefix("0x").unwrap_or(v);
    u32::from_str_radix(v, 16).ok()
}

/// Physical address bits (`address sizes : N bits physical`).
pub fn phys_addr_bits(host: &Host) -> Option<u32> {
    let t = std::fs::read_to_string(host.proc("cpuinfo")).ok()?;
    let l = t.lines().find(|l| l.starts_with("address sizes"))?;
    l.split_once(':')?.1.split_whitespace().next()?.parse().ok()
}

/// The invariant TSC's frequency (Hz) and whether KVM can scale it.
pub fn tsc_info() -> Option<(u64, bool)> {
    kvm::tsc()
}

mod kvm {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    const KVM_CHECK_EXTENSION: libc::c_ulong = 0xAE03;
    const KVM_CREATE_VM: libc::c_ulong = 0xAE01;
    const KVM_CREATE_VCPU: libc::c_ulong = 0xAE41;
    const KVM_GET_TSC_KHZ: libc::c_ulong = 0xAEA3;
    const KVM_GET_MSRS: libc::c_ulong = 0xC008_AE88;
    const KVM_CAP_TSC_CONTROL: libc::c_ulong = 60;
    const KVM_CAP_GET_MSR_FEATURES: libc::c_ulong = 153;

    fn open() -> Option<std::fs::File> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .ok()
    }

    /// An fd returned by an ioctl, owned.
    fn fd(rc: libc::c_int) -> Option<OwnedFd> {
        // SAFETY: a non-negative ioctl result here is a new descriptor we own.
        (rc >= 0).then(|| unsafe { OwnedFd::from_raw_fd(rc) })
    }

    pub fn tsc() -> Option<(u64, bool)> {
        let kvm = open()?;
        // SAFETY: plain KVM ioctls on descriptors we own; no pointers.
        unsafe {
            let vm = fd(libc::ioctl(kvm.as_raw_fd(), KVM_CREATE_VM, 0))?;
            let vcpu = fd(libc::ioctl(vm.as_raw_fd(), KVM_CREATE_VCPU, 0))?;
            let khz = libc::ioctl(vcpu.as_raw_fd(), KVM_GET_TSC_KHZ, 0);
            if khz <= 0 {
                return None;
            }
            let scaling =
                libc::ioctl(kvm.as_raw_fd(), KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL) > 0;
            Some((khz as u64 * 1000, scaling))
        }
    }

    #[repr(C)]
    struct Msrs {
        nmsrs: u32,
        pad: u32,
        index: u32,
        reserved: u32,
        data: u64,
    }

    pub fn msr(index: u32) -> Option<u64> {
        let kvm = open()?;
        // SAFETY: KVM_GET_MSRS reads and writes exactly one kvm_msrs header
        // with one entry, which `m` holds.
        unsafe {
            if libc::ioctl(
                kvm.as_raw_fd(),
                KVM_CHECK_EXTENSION,
                KVM_CAP_GET_MSR_FEATURES,
            ) <= 0
            {
                return None;
            }
            let mut m = Msrs {
                nmsrs: 1,
                pad: 0,
                index,
                reserved: 0,
                data: 0,
            };
            let rc = libc::ioctl(kvm.as_raw_fd(), KVM_GET_MSRS, &mut m as *mut Msrs);
            (rc == 1).then_some(m.data)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        // AMD family 26 model 2 stepping 1 (0x00b00f21).
        assert_eq!(signature_from_eax(0x00b0_0f21), (26, 2, 1));
        // Intel Skylake 0x000506e3: family 6, model 94, stepping 3.
        assert_eq!(signature_from_eax(0x0005_06e3), (6, 94, 3));
    }

    #[test]
    fn this_cpu_has_basic_features() {
        let d = host_data();
        if cfg!(target_arch = "x86_64") {
            assert!(d.features.has("fpu") && d.features.has("sse2") && d.features.has("lm"));
        }
    }
}
