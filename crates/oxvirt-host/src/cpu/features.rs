//! The x86 CPU features libvirt knows, by the CPUID bit or MSR bit that
//! reports each one, in libvirt's order (the order `<feature>` lists are
//! written in). These are hardware facts plus libvirt's and QEMU's
//! spellings; the CPU *models* come from QEMU at run time.

use std::fmt;

/// A CPUID output register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reg {
    EAX,
    EBX,
    ECX,
    EDX,
}
use Reg::*;

/// Where a feature bit lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// CPUID leaf, optional sub-leaf (ECX input).
    Cpuid(u32, Option<u32>, Reg),
    /// A model-specific register (low 32 bits).
    Msr(u32),
}
use Source::*;

/// One feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    /// libvirt's name.
    pub name: &'static str,
    /// QEMU's canonical property name.
    pub qemu: &'static str,
    pub source: Source,
    pub bit: u8,
    /// False for features that block migration (invtsc, xsaves).
    pub migratable: bool,
}

const fn f(
    name: &'static str,
    qemu: &'static str,
    source: Source,
    bit: u8,
    migratable: bool,
) -> Feature {
    Feature {
        name,
        qemu,
        source,
        bit,
        migratable,
    }
}

/// Every feature, in libvirt's order.
pub static FEATURES: &[Feature] = &[
    f("fpu", "fpu", Cpuid(0x1, None, EDX), 0, true),
    f("vme", "vme", Cpuid(0x1, None, EDX), 1, true),
    f("de", "de", Cpuid(0x1, None, EDX), 2, true),
    f("pse", "pse", Cpuid(0x1, None, EDX), 3, true),
    f("tsc", "tsc", Cpuid(0x1, None, EDX), 4, true),
    f("msr", "msr", Cpuid(0x1, None, EDX), 5, true),
    f("pae", "pae", Cpuid(0x1, None, EDX), 6, true),
    f("mce", "mce", Cpuid(0x1, None, EDX), 7, true),
    f("cx8", "cx8", Cpuid(0x1, None, EDX), 8, true),
    f("apic", "apic", Cpuid(0x1, None, EDX), 9, true),
    f("sep", "sep", Cpuid(0x1, None, EDX), 11, true),
    f("mtrr", "mtrr", Cpuid(0x1, None, EDX), 12, true),
    f("pge", "pge", Cpuid(0x1, None, EDX), 13, true),
    f("mca", "mca", Cpuid(0x1, None, EDX), 14, true),
    f("cmov", "cmov", Cpuid(0x1, None, EDX), 15, true),
    f("pat", "pat", Cpuid(0x1, None, EDX), 16, true),
    f("pse36", "pse36", Cpuid(0x1, None, EDX), 17, true),
    f("pn", "pn", Cpuid(0x1, None, EDX), 18, true),
    f("clflush", "clflush", Cpuid(0x1, None, EDX), 19, true),
    f("ds", "ds", Cpuid(0x1, None, EDX), 21, true),
    f("acpi", "acpi", Cpuid(0x1, None, EDX), 22, true),
    f("mmx", "mmx", Cpuid(0x1, None, EDX), 23, true),
    f("fxsr", "fxsr", Cpuid(0x1, None, EDX), 24, true),
    f("sse", "sse", Cpuid(0x1, None, EDX), 25, true),
    f("sse2", "sse2", Cpuid(0x1, None, EDX), 26, true),
    f("ss", "ss", Cpuid(0x1, None, EDX), 27, true),
    f("ht", "ht", Cpuid(0x1, None, EDX), 28, true),
    f("tm", "tm", Cpuid(0x1, None, EDX), 29, true),
    f("ia64", "ia64", Cpuid(0x1, None, EDX), 30, true),
    f("pbe", "pbe", Cpuid(0x1, None, EDX), 31, true),
    f("pni", "pni", Cpuid(0x1, None, ECX), 0, true),
    f("pclmuldq", "pclmulqdq", Cpuid(0x1, None, ECX), 1, true),
    f("dtes64", "dtes64", Cpuid(0x1, None, ECX), 2, true),
    f("monitor", "monitor", Cpuid(0x1, None, ECX), 3, true),
    f("ds_cpl", "ds-cpl", Cpuid(0x1, None, ECX), 4, true),
    f("vmx", "vmx", Cpuid(0x1, None, ECX), 5, true),
    f("smx", "smx", Cpuid(0x1, None, ECX), 6, true),
    f("est", "est", Cpuid(0x1, None, ECX), 7, true),
    f("tm2", "tm2", Cpuid(0x1, None, ECX), 8, true),
    f("ssse3", "ssse3", Cpuid(0x1, None, ECX), 9, true),
    f("cid", "cid", Cpuid(0x1, None, ECX), 10, true),
    f("fma", "fma", Cpuid(0x1, None, ECX), 12, true),
    f("cx16", "cx16", Cpuid(0x1, None, ECX), 13, true),
    f("xtpr", "xtpr", Cpuid(0x1, None, ECX), 14, true),
    f("pdcm", "pdcm", Cpuid(0x1, None, ECX), 15, true),
    f("pcid", "pcid", Cpuid(0x1, None, ECX), 17, true),
    f("dca", "dca", Cpuid(0x1, None, ECX), 18, true),
    f("sse4.1", "sse4.1", Cpuid(0x1, None, ECX), 19, true),
    f("sse4.2", "sse4.2", Cpuid(0x1, None, ECX), 20, true),
    f("x2apic", "x2apic", Cpuid(0x1, None, ECX), 21, true),
    f("movbe", "movbe", Cpuid(0x1, None, ECX), 22, true),
    f("popcnt", "popcnt", Cpuid(0x1, None, ECX), 23, true),
    f(
        "tsc-deadline",
        "tsc-deadline",
        Cpuid(0x1, None, ECX),
        24,
        true,
    ),
    f("aes", "aes", Cpuid(0x1, None, ECX), 25, true),
    f("xsave", "xsave", Cpuid(0x1, None, ECX), 26, true),
    f("osxsave", "osxsave", Cpuid(0x1, None, ECX), 27, true),
    f("avx", "avx", Cpuid(0x1, None, ECX), 28, true),
    f("f16c", "f16c", Cpuid(0x1, None, ECX), 29, true),
    f("rdrand", "rdrand", Cpuid(0x1, None, ECX), 30, true),
    f("hypervisor", "hypervisor", Cpuid(0x1, None, ECX), 31, true),
    f("arat", "arat", Cpuid(0x6, None, EAX), 2, true),
    f("fsgsbase", "fsgsbase", Cpuid(0x7, Some(0), EBX), 0, true),
    f(
        "tsc_adjust",
        "tsc-adjust",
        Cpuid(0x7, Some(0), EBX),
        1,
        true,
    ),
    f("sgx", "sgx", Cpuid(0x7, Some(0), EBX), 2, true),
    f("bmi1", "bmi1", Cpuid(0x7, Some(0), EBX), 3, true),
    f("hle", "hle", Cpuid(0x7, Some(0), EBX), 4, true),
    f("avx2", "avx2", Cpuid(0x7, Some(0), EBX), 5, true),
    f("smep", "smep", Cpuid(0x7, Some(0), EBX), 7, true),
    f("bmi2", "bmi2", Cpuid(0x7, Some(0), EBX), 8, true),
    f("erms", "erms", Cpuid(0x7, Some(0), EBX), 9, true),
    f("invpcid", "invpcid", Cpuid(0x7, Some(0), EBX), 10, true),
    f("rtm", "rtm", Cpuid(0x7, Some(0), EBX), 11, true),
    f("cmt", "cmt", Cpuid(0x7, Some(0), EBX), 12, true),
    f("mpx", "mpx", Cpuid(0x7, Some(0), EBX), 14, true),
    f("avx512f", "avx512f", Cpuid(0x7, Some(0), EBX), 16, true),
    f("avx512dq", "avx512dq", Cpuid(0x7, Some(0), EBX), 17, true),
    f("rdseed", "rdseed", Cpuid(0x7, Some(0), EBX), 18, true),
    f("adx", "adx", Cpuid(0x7, Some(0), EBX), 19, true),
    f("smap", "smap", Cpuid(0x7, Some(0), EBX), 20, true),
    f(
        "avx512ifma",
        "avx512ifma",
        Cpuid(0x7, Some(0), EBX),
        21,
        true,
    ),
    f("pcommit", "pcommit", Cpuid(0x7, Some(0), EBX), 22, true),
    f(
        "clflushopt",
        "clflushopt",
        Cpuid(0x7, Some(0), EBX),
        23,
        true,
    ),
    f("clwb", "clwb", Cpuid(0x7, Some(0), EBX), 24, true),
    f("intel-pt", "intel-pt", Cpuid(0x7, Some(0), EBX), 25, true),
    f("avx512pf", "avx512pf", Cpuid(0x7, Some(0), EBX), 26, true),
    f("avx512er", "avx512er", Cpuid(0x7, Some(0), EBX), 27, true),
    f("avx512cd", "avx512cd", Cpuid(0x7, Some(0), EBX), 28, true),
    f("sha-ni", "sha-ni", Cpuid(0x7, Some(0), EBX), 29, true),
    f("avx512bw", "avx512bw", Cpuid(0x7, Some(0), EBX), 30, true),
    f("avx512vl", "avx512vl", Cpuid(0x7, Some(0), EBX), 31, true),
    f(
        "avx512vbmi",
        "avx512vbmi",
        Cpuid(0x7, Some(0), ECX),
        1,
        true,
    ),
    f("umip", "umip", Cpuid(0x7, Some(0), ECX), 2, true),
    f("pku", "pku", Cpuid(0x7, Some(0), ECX), 3, true),
    f("ospke", "ospke", Cpuid(0x7, Some(0), ECX), 4, true),
    f("waitpkg", "waitpkg", Cpuid(0x7, Some(0), ECX), 5, true),
    f(
        "avx512vbmi2",
        "avx512vbmi2",
        Cpuid(0x7, Some(0), ECX),
        6,
        true,
    ),
    f("gfni", "gfni", Cpuid(0x7, Some(0), ECX), 8, true),
    f("vaes", "vaes", Cpuid(0x7, Some(0), ECX), 9, true),
    f(
        "vpclmulqdq",
        "vpclmulqdq",
        Cpuid(0x7, Some(0), ECX),
        10,
        true,
    ),
    f(
        "avx512vnni",
        "avx512vnni",
        Cpuid(0x7, Some(0), ECX),
        11,
        true,
    ),
    f(
        "avx512bitalg",
        "avx512bitalg",
        Cpuid(0x7, Some(0), ECX),
        12,
        true,
    ),
    f(
        "avx512-vpopcntdq",
        "avx512-vpopcntdq",
        Cpuid(0x7, Some(0), ECX),
        14,
        true,
    ),
    f("la57", "la57", Cpuid(0x7, Some(0), ECX), 16, true),
    f("rdpid", "rdpid", Cpuid(0x7, Some(0), ECX), 22, true),
    f(
        "bus-lock-detect",
        "bus-lock-detect",
        Cpuid(0x7, Some(0), ECX),
        24,
        true,
    ),
    f("cldemote", "cldemote", Cpuid(0x7, Some(0), ECX), 25, true),
    f("movdiri", "movdiri", Cpuid(0x7, Some(0), ECX), 27, true),
    f("movdir64b", "movdir64b", Cpuid(0x7, Some(0), ECX), 28, true),
    f("sgxlc", "sgxlc", Cpuid(0x7, Some(0), ECX), 30, true),
    f("pks", "pks", Cpuid(0x7, Some(0), ECX), 31, true),
    f(
        "avx512-4vnniw",
        "avx512-4vnniw",
        Cpuid(0x7, Some(0), EDX),
        2,
        true,
    ),
    f(
        "avx512-4fmaps",
        "avx512-4fmaps",
        Cpuid(0x7, Some(0), EDX),
        3,
        true,
    ),
    f("fsrm", "fsrm", Cpuid(0x7, Some(0), EDX), 4, true),
    f(
        "avx512-vp2intersect",
        "avx512-vp2intersect",
        Cpuid(0x7, Some(0), EDX),
        8,
        true,
    ),
    f("md-clear", "md-clear", Cpuid(0x7, Some(0), EDX), 10, true),
    f("serialize", "serialize", Cpuid(0x7, Some(0), EDX), 14, true),
    f("tsx-ldtrk", "tsx-ldtrk", Cpuid(0x7, Some(0), EDX), 16, true),
    f("pconfig", "pconfig", Cpuid(0x7, Some(0), EDX), 18, true),
    f("arch-lbr", "arch-lbr", Cpuid(0x7, Some(0), EDX), 19, true),
    f("amx-bf16", "amx-bf16", Cpuid(0x7, Some(0), EDX), 22, true),
    f(
        "avx512-fp16",
        "avx512-fp16",
        Cpuid(0x7, Some(0), EDX),
        23,
        true,
    ),
    f("amx-tile", "amx-tile", Cpuid(0x7, Some(0), EDX), 24, true),
    f("amx-int8", "amx-int8", Cpuid(0x7, Some(0), EDX), 25, true),
    f("spec-ctrl", "spec-ctrl", Cpuid(0x7, Some(0), EDX), 26, true),
    f("stibp", "stibp", Cpuid(0x7, Some(0), EDX), 27, true),
    f(
        "arch-capabilities",
        "arch-capabilities",
        Cpuid(0x7, Some(0), EDX),
        29,
        true,
    ),
    f(
        "core-capability",
        "core-capability",
        Cpuid(0x7, Some(0), EDX),
        30,
        true,
    ),
    f("ssbd", "ssbd", Cpuid(0x7, Some(0), EDX), 31, true),
    f("avx-vnni", "avx-vnni", Cpuid(0x7, Some(1), EAX), 4, true),
    f(
        "avx512-bf16",
        "avx512-bf16",
        Cpuid(0x7, Some(1), EAX),
        5,
        true,
    ),
    f("xsaveopt", "xsaveopt", Cpuid(0xd, Some(1), EAX), 0, true),
    f("xsavec", "xsavec", Cpuid(0xd, Some(1), EAX), 1, true),
    f("xgetbv1", "xgetbv1", Cpuid(0xd, Some(1), EAX), 2, true),
    f("xsaves", "xsaves", Cpuid(0xd, Some(1), EAX), 3, false),
    f("xfd", "xfd", Cpuid(0xd, Some(1), EAX), 4, true),
    f("mbm_total", "mbm_total", Cpuid(0xf, Some(1), EDX), 1, true),
    f("mbm_local", "mbm_local", Cpuid(0xf, Some(1), EDX), 2, true),
    f("sgx1", "sgx1", Cpuid(0x12, Some(0), EAX), 0, true),
    f("sgx2", "sgx2", Cpuid(0x12, Some(0), EAX), 1, true),
    f(
        "sgx-exinfo",
        "sgx-exinfo",
        Cpuid(0x12, Some(0), EBX),
        0,
        true,
    ),
    f("sgx-debug", "sgx-debug", Cpuid(0x12, Some(1), EAX), 1, true),
    f(
        "sgx-mode64",
        "sgx-mode64",
        Cpuid(0x12, Some(1), EAX),
        2,
        true,
    ),
    f(
        "sgx-provisionkey",
        "sgx-provisionkey",
        Cpuid(0x12, Some(1), EAX),
        4,
        true,
    ),
    f(
        "sgx-tokenkey",
        "sgx-tokenkey",
        Cpuid(0x12, Some(1), EAX),
        5,
        true,
    ),
    f("sgx-kss", "sgx-kss", Cpuid(0x12, Some(1), EAX), 7, true),
    f(
        "intel-pt-lip",
        "intel-pt-lip",
        Cpuid(0x14, Some(0), ECX),
        31,
        true,
    ),
    f("syscall", "syscall", Cpuid(0x80000001, None, EDX), 11, true),
    f("nx", "nx", Cpuid(0x80000001, None, EDX), 20, true),
    f("mmxext", "mmxext", Cpuid(0x80000001, None, EDX), 22, true),
    f(
        "fxsr_opt",
        "fxsr-opt",
        Cpuid(0x80000001, None, EDX),
        25,
        true,
    ),
    f("pdpe1gb", "pdpe1gb", Cpuid(0x80000001, None, EDX), 26, true),
    f("rdtscp", "rdtscp", Cpuid(0x80000001, None, EDX), 27, true),
    f("lm", "lm", Cpuid(0x80000001, None, EDX), 29, true),
    f(
        "3dnowext",
        "3dnowext",
        Cpuid(0x80000001, None, EDX),
        30,
        true,
    ),
    f("3dnow", "3dnow", Cpuid(0x80000001, None, EDX), 31, true),
    f("lahf_lm", "lahf-lm", Cpuid(0x80000001, None, ECX), 0, true),
    f(
        "cmp_legacy",
        "cmp-legacy",
        Cpuid(0x80000001, None, ECX),
        1,
        true,
    ),
    f("svm", "svm", Cpuid(0x80000001, None, ECX), 2, true),
    f("extapic", "extapic", Cpuid(0x80000001, None, ECX), 3, true),
    f(
        "cr8legacy",
        "cr8legacy",
        Cpuid(0x80000001, None, ECX),
        4,
        true,
    ),
    f("abm", "abm", Cpuid(0x80000001, None, ECX), 5, true),
    f("sse4a", "sse4a", Cpuid(0x80000001, None, ECX), 6, true),
    f(
        "misalignsse",
        "misalignsse",
        Cpuid(0x80000001, None, ECX),
        7,
        true,
    ),
    f(
        "3dnowprefetch",
        "3dnowprefetch",
        Cpuid(0x80000001, None, ECX),
        8,
        true,
    ),
    f("osvw", "osvw", Cpuid(0x80000001, None, ECX), 9, true),
    f("ibs", "ibs", Cpuid(0x80000001, None, ECX), 10, true),
    f("xop", "xop", Cpuid(0x80000001, None, ECX), 11, true),
    f("skinit", "skinit", Cpuid(0x80000001, None, ECX), 12, true),
    f("wdt", "wdt", Cpuid(0x80000001, None, ECX), 13, true),
    f("lwp", "lwp", Cpuid(0x80000001, None, ECX), 15, true),
    f("fma4", "fma4", Cpuid(0x80000001, None, ECX), 16, true),
    f("tce", "tce", Cpuid(0x80000001, None, ECX), 17, true),
    f("cvt16", "cvt16", Cpuid(0x80000001, None, ECX), 18, true),
    f(
        "nodeid_msr",
        "nodeid-msr",
        Cpuid(0x80000001, None, ECX),
        19,
        true,
    ),
    f("tbm", "tbm", Cpuid(0x80000001, None, ECX), 21, true),
    f("topoext", "topoext", Cpuid(0x80000001, None, ECX), 22, true),
    f(
        "perfctr_core",
        "perfctr-core",
        Cpuid(0x80000001, None, ECX),
        23,
        true,
    ),
    f(
        "perfctr_nb",
        "perfctr-nb",
        Cpuid(0x80000001, None, ECX),
        24,
        true,
    ),
    f("invtsc", "invtsc", Cpuid(0x80000007, None, EDX), 8, false),
    f("clzero", "clzero", Cpuid(0x80000008, None, EBX), 0, true),
    f(
        "xsaveerptr",
        "xsaveerptr",
        Cpuid(0x80000008, None, EBX),
        2,
        true,
    ),
    f(
        "wbnoinvd",
        "wbnoinvd",
        Cpuid(0x80000008, None, EBX),
        9,
        true,
    ),
    f("ibpb", "ibpb", Cpuid(0x80000008, None, EBX), 12, true),
    f("ibrs", "ibrs", Cpuid(0x80000008, None, EBX), 14, true),
    f(
        "amd-stibp",
        "amd-stibp",
        Cpuid(0x80000008, None, EBX),
        15,
        true,
    ),
    f(
        "amd-ssbd",
        "amd-ssbd",
        Cpuid(0x80000008, None, EBX),
        24,
        true,
    ),
    f(
        "virt-ssbd",
        "virt-ssbd",
        Cpuid(0x80000008, None, EBX),
        25,
        true,
    ),
    f(
        "amd-no-ssb",
        "amd-no-ssb",
        Cpuid(0x80000008, None, EBX),
        26,
        true,
    ),
    f("npt", "npt", Cpuid(0x8000000a, None, EDX), 0, true),
    f("lbrv", "lbrv", Cpuid(0x8000000a, None, EDX), 1, true),
    f(
        "svm-lock",
        "svm-lock",
        Cpuid(0x8000000a, None, EDX),
        2,
        true,
    ),
    f(
        "nrip-save",
        "nrip-save",
        Cpuid(0x8000000a, None, EDX),
        3,
        true,
    ),
    f(
        "tsc-scale",
        "tsc-scale",
        Cpuid(0x8000000a, None, EDX),
        4,
        true,
    ),
    f(
        "vmcb-clean",
        "vmcb-clean",
        Cpuid(0x8000000a, None, EDX),
        5,
        true,
    ),
    f(
        "flushbyasid",
        "flushbyasid",
        Cpuid(0x8000000a, None, EDX),
        6,
        true,
    ),
    f(
        "decodeassists",
        "decodeassists",
        Cpuid(0x8000000a, None, EDX),
        7,
        true,
    ),
    f(
        "pause-filter",
        "pause-filter",
        Cpuid(0x8000000a, None, EDX),
        10,
        true,
    ),
    f(
        "pfthreshold",
        "pfthreshold",
        Cpuid(0x8000000a, None, EDX),
        12,
        true,
    ),
    f("avic", "avic", Cpuid(0x8000000a, None, EDX), 13, true),
    f(
        "v-vmsave-vmload",
        "v-vmsave-vmload",
        Cpuid(0x8000000a, None, EDX),
        15,
        true,
    ),
    f("vgif", "vgif", Cpuid(0x8000000a, None, EDX), 16, true),
    f(
        "svme-addr-chk",
        "svme-addr-chk",
        Cpuid(0x8000000a, None, EDX),
        28,
        true,
    ),
    f("rdctl-no", "rdctl-no", Msr(0x10a), 0, true),
    f("ibrs-all", "ibrs-all", Msr(0x10a), 1, true),
    f("rsba", "rsba", Msr(0x10a), 2, true),
    f(
        "skip-l1dfl-vmentry",
        "skip-l1dfl-vmentry",
        Msr(0x10a),
        3,
        true,
    ),
    f("ssb-no", "ssb-no", Msr(0x10a), 4, true),
    f("mds-no", "mds-no", Msr(0x10a), 5, true),
    f("pschange-mc-no", "pschange-mc-no", Msr(0x10a), 6, true),
    f("tsx-ctrl", "tsx-ctrl", Msr(0x10a), 7, true),
    f("taa-no", "taa-no", Msr(0x10a), 8, true),
    f("split-lock-detect", "split-lock-detect", Msr(0xcf), 5, true),
];

/// Older or alternative spellings QEMU accepts for a feature.
const QEMU_ALIASES: &[(&str, &str)] = &[
    ("sse3", "pni"),
    ("sse4-1", "sse4.1"),
    ("sse4_1", "sse4.1"),
    ("sse4-2", "sse4.2"),
    ("sse4_2", "sse4.2"),
    ("xd", "nx"),
    ("ffxsr", "fxsr_opt"),
    ("i64", "lm"),
    ("svm_lock", "svm-lock"),
    ("nrip_save", "nrip-save"),
    ("tsc_scale", "tsc-scale"),
    ("vmcb_clean", "vmcb-clean"),
    ("pause_filter", "pause-filter"),
    ("lahf_lm", "lahf_lm"),
    ("cmp_legacy", "cmp_legacy"),
    ("fxsr_opt", "fxsr_opt"),
    ("ds_cpl", "ds_cpl"),
    ("tsc_adjust", "tsc_adjust"),
    ("nodeid_msr", "nodeid_msr"),
    ("perfctr_core", "perfctr_core"),
    ("perfctr_nb", "perfctr_nb"),
];

/// Features libvirt never passes to QEMU (QEMU never knew them or
/// dropped them); left out of CPU definitions made for QEMU.
pub const NOT_FOR_QEMU: &[&str] = &["cmt", "mbm_total", "mbm_local", "osxsave", "ospke"];

/// The number of 64-bit words a [`FeatureSet`] needs.
const WORDS: usize = FEATURES.len().div_ceil(64);

/// Index of a feature by libvirt's name.
pub fn index(name: &str) -> Option<usize> {
    FEATURES.iter().position(|f| f.name == name)
}

/// The feature QEMU calls `qemu_name` (canonical or alias).
pub fn from_qemu(qemu_name: &str) -> Option<usize> {
    if let Some(i) = FEATURES.iter().position(|f| f.qemu == qemu_name) {
        return Some(i);
    }
    let name = QEMU_ALIASES
        .iter()
        .find(|(a, _)| *a == qemu_name)
        .map(|(_, n)| *n)?;
    index(name)
}

/// A set of features (bit i = `FEATURES[i]`).
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct FeatureSet([u64; WORDS]);

impl FeatureSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// The set of the named features; unknown names are skipped.
    pub fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut s = Self::new();
        for n in names {
            if let Some(i) = index(n) {
                s.insert(i);
            }
        }
        s
    }

    pub fn insert(&mut self, i: usize) {
        if i < FEATURES.len() {
            self.0[i / 64] |= 1 << (i % 64);
        }
    }

    pub fn remove(&mut self, i: usize) {
        if i < FEATURES.len() {
            self.0[i / 64] &= !(1 << (i % 64));
        }
    }

    pub fn contains(&self, i: usize) -> bool {
        i < FEATURES.len() && self.0[i / 64] & (1 << (i % 64)) != 0
    }

    pub fn has(&self, name: &str) -> bool {
        index(name).is_some_and(|i| self.contains(i))
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn union(&self, o: &Self) -> Self {
        let mut r = *self;
        for (a, b) in r.0.iter_mut().zip(o.0.iter()) {
            *a |= *b;
        }
        r
    }

    pub fn intersect(&self, o: &Self) -> Self {
        let mut r = *self;
        for (a, b) in r.0.iter_mut().zip(o.0.iter()) {
            *a &= *b;
        }
        r
    }

    pub fn minus(&self, o: &Self) -> Self {
        let mut r = *self;
        for (a, b) in r.0.iter_mut().zip(o.0.iter()) {
            *a &= !*b;
        }
        r
    }

    pub fn is_subset(&self, o: &Self) -> bool {
        self.minus(o).is_empty()
    }

    /// Indices in libvirt's order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..FEATURES.len()).filter(|i| self.contains(*i))
    }

    /// Names in libvirt's order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.iter().map(|i| FEATURES[i].name)
    }
}

impl fmt::Debug for FeatureSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_bits_distinct() {
        for (i, a) in FEATURES.iter().enumerate() {
            for b in &FEATURES[i + 1..] {
                assert_ne!(a.name, b.name);
                assert!(
                    a.source != b.source || a.bit != b.bit,
                    "{} and {} share a bit",
                    a.name,
                    b.name
                );
            }
        }
    }

    #[test]
    fn qemu_spellings() {
        assert_eq!(
            from_qemu("pclmulqdq").map(|i| FEATURES[i].name),
            Some("pclmuldq")
        );
        assert_eq!(
            from_qemu("lahf-lm").map(|i| FEATURES[i].name),
            Some("lahf_lm")
        );
        assert_eq!(
            from_qemu("sse4_1").map(|i| FEATURES[i].name),
            Some("sse4.1")
        );
        assert_eq!(from_qemu("kvmclock"), None);
    }

    #[test]
    fn set_operations() {
        let a = FeatureSet::of(["sse", "sse2", "avx"]);
        let b = FeatureSet::of(["sse2", "avx2"]);
        assert_eq!(a.intersect(&b), FeatureSet::of(["sse2"]));
        assert_eq!(a.minus(&b).names().collect::<Vec<_>>(), ["sse", "avx"]);
        assert!(FeatureSet::of(["sse"]).is_subset(&a));
        assert_eq!(a.union(&b).len(), 4);
    }
}
