//! The small guest APIs Nova calls on `qemu:///system` (issue 14):
//! vcpuinfo / virDomainGetVcpus with CPU maps, vcpupin and emulatorpin
//! (live on the threads, config in `<cputune>`), dommemstat with balloon
//! statistics and `--period`, the guest agent's APIs answering libvirt's
//! "not configured" / "not connected" errors, inject-nmi, send-key in
//! several codesets, screenshot (a PNG through a stream), the graphics
//! ports of the live XML (VNC autoport, websocket, listen address; -1 in
//! migratable XML), domdisplay / vncdisplay and every undefine flag.
//!
//! The real virsh and python3-libvirt run `py/qemu_guest_apis.py`
//! against oxvirtd; its transcript must be the reference libvirtd 9.0's:
//! the running one when its socket is there, else the recording in
//! `data/qemu_guest_apis_reference.txt` (re-record with `cargo test -p
//! oxvirtd --test qemu_guest_apis -- --ignored --nocapture`).
//!
//! Guests have no OS (KVM when /dev/kvm works, TCG otherwise).

mod common;

use common::qemu::{installed, kvm_usable, QemuDaemon, QEMU};
use common::PYTHON;

fn transcript(uri: &str) -> String {
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    common::run_python("qemu_guest_apis.py", &[uri, kind])
}

/// The reference's transcript: live when the reference libvirtd runs
/// here, else the recording.
fn reference() -> String {
    if common::reference_up(false) {
        println!("reference: the running libvirtd");
        return transcript("qemu:///system");
    }
    println!("reference: recorded");
    include_str!("data/qemu_guest_apis_reference.txt")
        .lines()
        .filter(|l| !l.starts_with("##>"))
        .map(|l| format!("{}\n", l))
        .collect()
}

#[test]
fn guest_apis_match_the_reference() {
    if !installed(&[QEMU, PYTHON, "/usr/bin/virsh"]) || !common::have_python_libvirt() {
        return;
    }
    println!("accelerator: {}", if kvm_usable() { "KVM" } else { "TCG" });
    let d = QemuDaemon::new("guestapi");
    let got = transcript(&d.uri());
    let want = reference();
    common::assert_same_transcript(&got, &want);
}

/// Records the reference: the same script against the reference libvirtd
/// (`/work/shared/tools/reference-libvirtd.sh`, qemu:///system). Its
/// stdout, after the header, is `data/qemu_guest_apis_reference.txt`.
#[test]
#[ignore]
fn record_guest_apis_reference() {
    print!(
        "##> What the reference libvirtd 9.0.0 (Debian, QEMU 7.2) answered to\n\
##> py/qemu_guest_apis.py (record_guest_apis_reference).\n{}",
        transcript("qemu:///system")
    );
}
