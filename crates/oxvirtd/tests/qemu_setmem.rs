//! setmem and setmaxmem (virDomainSetMemoryFlags with every flag
//! combination virsh sends: --config, --live, --current, both, none) on
//! the QEMU driver: the real virsh runs `data/qemu_setmem.steps` against
//! oxvirtd and its output must be the reference libvirtd 9.0's, recorded in
//! `data/qemu_setmem_reference.txt` (re-record with
//! `cargo test -p oxvirtd --test qemu_setmem -- --ignored --nocapture`
//! on a host running the reference libvirtd, see that test).
//!
//! Guests have no OS (KVM when /dev/kvm works, TCG otherwise).

mod common;

use common::qemu::{installed, kvm_usable, QemuDaemon, QEMU};
use common::VIRSH;
use std::path::Path;
use std::process::{Command, Stdio};

const UUID_SM: &str = "6b0d1f1a-3c6e-4a51-9f53-0f4a5e2c1a01";
const UUID_NB: &str = "6b0d1f1a-3c6e-4a51-9f53-0f4a5e2c1a02";
const UUID_TR: &str = "6b0d1f1a-3c6e-4a51-9f53-0f4a5e2c1a03";

/// The three guests the steps use: with a virtio balloon, without any,
/// and a transient one.
fn write_guests(dir: &Path, kind: &str) {
    for (name, uuid, balloon) in [
        ("faults-sm", UUID_SM, "virtio"),
        ("faults-nb", UUID_NB, "none"),
        ("faults-tr", UUID_TR, "virtio"),
    ] {
        let xml = format!(
            "<domain type='{}'><name>{}</name><uuid>{}</uuid>\
<memory unit='MiB'>64</memory><vcpu>1</vcpu>\
<os><type arch='x86_64'>hvm</type></os>\
<devices><emulator>{}</emulator><memballoon model='{}'/></devices></domain>",
            kind, name, uuid, QEMU, balloon
        );
        std::fs::write(dir.join(format!("{}.xml", name)), xml).unwrap();
    }
}

/// Runs every step with the real virsh against `uri`: the transcript.
fn run_steps(uri: &str, dir: &Path) -> String {
    let dir_s = dir.to_string_lossy().into_owned();
    let mut out = String::new();
    for line in include_str!("data/qemu_setmem.steps").lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (filter, args) = line.split_once(' ').expect("FILTER ARGS");
        let args: Vec<String> = args
            .split_whitespace()
            .map(|a| a.replace("@DIR@", &dir_s))
            .collect();
        let o = Command::new(VIRSH)
            .arg("-q")
            .arg("-c")
            .arg(uri)
            .args(&args)
            .stdin(Stdio::null())
            .env("LC_ALL", "C")
            .output()
            .expect("virsh runs");
        out.push_str(&format!("$ {}\n", line.split_once(' ').unwrap().1));
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        for l in text.lines() {
            let l = l.trim_end();
            if l.is_empty() || (filter == "mem" && !l.to_lowercase().contains("memory")) {
                continue;
            }
            out.push_str(&l.replace(&dir_s, "@DIR@"));
            out.push('\n');
        }
        out.push_str(&format!("rc={}\n", o.status.code().unwrap_or(-1)));
    }
    out
}

#[test]
fn setmem_and_setmaxmem_match_the_reference() {
    if !installed(&[QEMU, VIRSH]) {
        return;
    }
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    println!("accelerator: {}", if kind == "kvm" { "KVM" } else { "TCG" });
    let d = QemuDaemon::new("setmem");
    write_guests(&d.dir, kind);
    let got = run_steps(&d.uri(), &d.dir);
    let want: String = include_str!("data/qemu_setmem_reference.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{}\n", l))
        .collect();
    if got != want {
        for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
            if g != w {
                println!(
                    "first difference at line {}:\n  got:  {}\n  want: {}",
                    i + 1,
                    g,
                    w
                );
                break;
            }
        }
    }
    assert_eq!(got, want);
}

/// Records the reference: the same steps against the reference libvirtd
/// (`/work/shared/tools/reference-libvirtd.sh`, qemu:///system). Its
/// stdout, after the header, is `data/qemu_setmem_reference.txt`. The
/// guests are named faults-* and are removed by the steps.
#[test]
#[ignore]
fn record_setmem_reference() {
    let dir = std::env::temp_dir().join(format!("faults-setmem-ref-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    write_guests(&dir, kind);
    print!(
        "# What the reference libvirtd 9.0.0 (Debian, QEMU 7.2) answered to\n\
# data/qemu_setmem.steps, run with the real virsh (record_setmem_reference).\n{}",
        run_steps("qemu:///system", &dir)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
