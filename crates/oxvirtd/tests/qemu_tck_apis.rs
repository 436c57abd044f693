//! The calls libvirt-tck's domain and qemu groups make on `qemu:///system`
//! beyond lifecycles (the pre-ListAll domain lists, the security model,
//! block statistics, sizes, resize and peek, the migration speed,
//! save-image XML, QEMU's pid file, UEFI from QEMU's firmware
//! descriptors and its NVRAM at undefine): python3-libvirt runs
//! `py/qemu_tck_apis.py` against oxvirtd and its transcript must be the
//! reference libvirtd 9.0's, recorded in `data/qemu_tck_apis_reference.txt`
//! (re-record with `cargo test -p oxvirtd --test qemu_tck_apis --
//! --ignored --nocapture` on a host running the reference libvirtd).
//!
//! Guests have no OS (KVM when /dev/kvm works, TCG otherwise).

mod common;

use common::qemu::{installed, kvm_usable, QemuDaemon, QEMU};
use common::PYTHON;
use std::path::Path;
use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/qemu_tck_apis.py");

fn transcript(uri: &str, dir: &Path, pid_dir: &Path, nvram_dir: &Path) -> String {
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    std::fs::create_dir_all(dir).unwrap();
    let o = Command::new(PYTHON)
        .arg(SCRIPT)
        .arg(uri)
        .arg(dir)
        .arg(kind)
        .arg(pid_dir)
        .arg(nvram_dir)
        .env("LC_ALL", "C")
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn tck_apis_match_the_reference() {
    if !installed(&[
        QEMU,
        PYTHON,
        "/usr/bin/qemu-img",
        "/usr/share/qemu/firmware",
    ]) || !common::have_python_libvirt()
    {
        return;
    }
    println!("accelerator: {}", if kvm_usable() { "KVM" } else { "TCG" });
    let d = QemuDaemon::new("tckapi");
    let got = transcript(
        &d.uri(),
        &d.dir.join("scratch"),
        &d.qemu_root().join("run"),
        &d.qemu_root().join("nvram"),
    );
    let want: String = include_str!("data/qemu_tck_apis_reference.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{}\n", l))
        .collect();
    common::assert_same_transcript(&got, &want);
}

/// Records the reference: the same script against the reference libvirtd
/// (`/work/shared/tools/reference-libvirtd.sh`, qemu:///system). Its
/// stdout, after the header, is `data/qemu_tck_apis_reference.txt`. The
/// guest is named fidelity2-blk and removed by the script.
#[test]
#[ignore]
fn record_tck_apis_reference() {
    let dir = std::env::temp_dir().join(format!("fidelity2-tckapi-{}", std::process::id()));
    print!(
        "# What the reference libvirtd 9.0.0 (Debian, QEMU 7.2) answered to\n\
# py/qemu_tck_apis.py, run with python3-libvirt (record_tck_apis_reference).\n{}",
        transcript(
            "qemu:///system",
            &dir,
            Path::new("/run/libvirt/qemu"),
            Path::new("/var/lib/libvirt/qemu/nvram")
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}
