//! virConnectGetSysinfo and virConnectGetCPUModelNames on `qemu:///system`
//! (each one row of the hypervisor family plus the QEMU driver's method):
//! the real virsh and oxvirsh through oxvirtd must print what virsh prints
//! against the reference libvirtd 9.0 on this host. The reference is
//! asked live when it runs (sysinfo is the host's own SMBIOS, or libvirt's
//! "Host SMBIOS information is not available" where there is none);
//! otherwise its answers recorded on this machine
//! (`data/qemu_host_facts_reference.txt`, re-recorded with `cargo test -p
//! oxvirtd --test qemu_host_facts -- --ignored --nocapture`).

mod common;

use common::qemu::{installed, QemuDaemon, QEMU};
use common::{client, oxvirsh, VIRSH};
use std::path::Path;

/// virsh command lines, each run on its own.
const LINES: &[&str] = &[
    "sysinfo",
    "cpu-models x86_64",
    "cpu-models i686",
    "cpu-models ppc64le",
    "cpu-models aarch64",
    "cpu-models s390x",
    "cpu-models riscv64",
    "cpu-models nosuch",
];

/// Every line's stdout, stderr and status, as one text.
fn transcript(tool: &Path, uri: &str) -> String {
    let mut out = String::new();
    for line in LINES {
        let (o, e, rc) = client(tool, &["-c", uri], line);
        out.push_str(&format!("$ {}\n{}{}rc={}\n", line, o, e, rc));
    }
    out
}

/// The reference's answers: live from its socket when it runs, else the
/// recording.
fn reference() -> String {
    if common::reference_up(false) {
        println!("reference: the running libvirtd");
        return transcript(Path::new(VIRSH), "qemu:///system");
    }
    println!("reference: recorded");
    include_str!("data/qemu_host_facts_reference.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{}\n", l))
        .collect()
}

#[test]
fn sysinfo_and_cpu_models_match_the_reference() {
    if !installed(&[QEMU, VIRSH]) {
        return;
    }
    let want = reference();
    let d = QemuDaemon::new("facts");
    let mut tools = vec![("virsh", Path::new(VIRSH).to_path_buf())];
    if let Some(ox) = oxvirsh() {
        tools.push(("oxvirsh", ox));
    }
    for (who, tool) in tools {
        let got = transcript(&tool, &d.uri());
        if got != want {
            println!("{} through oxvirtd:\n{}\nreference:\n{}", who, got, want);
        }
        assert_eq!(got, want, "{}", who);
    }
}

/// Prints the reference's answers on this host (the recording).
#[test]
#[ignore]
fn record_host_facts_reference() {
    print!(
        "# What the reference libvirtd 9.0.0 (Debian, QEMU 7.2) answered on the\n\
# test machine (no SMBIOS), run with the real virsh (record_host_facts_reference).\n{}",
        transcript(Path::new(VIRSH), "qemu:///system")
    );
}
