//! Internal snapshots on the QEMU driver: the real virsh runs
//! `data/qemu_snapshots.steps` (create of a shut-off and of a running
//! guest, the tree listings, revert with every flag, delete with
//! --children-only and --metadata, undefine, libvirt's refusals) against
//! oxvirtd, while `virsh event --all --loop` listens; the transcript, the
//! internal snapshots `qemu-img snapshot -l` finds in the image after
//! each change, and the events must be the reference libvirtd 9.0's,
//! recorded in `data/qemu_snapshots_reference.txt` (re-record with
//! `cargo test -p oxvirtd --test qemu_snapshots -- --ignored --nocapture`
//! on a host running the reference libvirtd).
//!
//! A second test kills the daemon with SIGKILL and restarts it with a
//! snapshot tree in place: the tree, the current snapshot and the
//! running guest come back.
//!
//! Guests have no OS (KVM when /dev/kvm works, TCG otherwise).

mod common;

use common::qemu::{installed, kvm_usable, QemuDaemon, QEMU};
use common::steps::{compare_with_reference, record_reference, QEMU_IMG, QEMU_IO};
use common::VIRSH;
use std::path::Path;
use std::process::Command;

/// The events the transcripts keep.
const LIFECYCLE: &[&str] = &["lifecycle"];
const STEPS: &str = include_str!("data/qemu_snapshots.steps");
const EXT_STEPS: &str = include_str!("data/qemu_snapext.steps");

/// The guests of the steps: a qcow2 disk, a raw disk, a transient one.
fn write_guests(dir: &Path, kind: &str) {
    for (name, uuid, format, persistent) in [
        (
            "snapshots-a",
            "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e01",
            "qcow2",
            true,
        ),
        (
            "snapshots-raw",
            "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e02",
            "raw",
            true,
        ),
        (
            "snapshots-t",
            "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e03",
            "qcow2",
            false,
        ),
    ] {
        let img = dir.join(format!("{}.{}", name, format));
        let st = Command::new(QEMU_IMG)
            .args(["create", "-q", "-f", format])
            .arg(&img)
            .arg("16M")
            .status()
            .expect("qemu-img runs");
        assert!(st.success());
        let _ = persistent;
        let xml = format!(
            "<domain type='{}'><name>{}</name><uuid>{}</uuid>\
<memory unit='MiB'>64</memory><vcpu>1</vcpu>\
<os><type arch='x86_64'>hvm</type></os>\
<devices><emulator>{}</emulator>\
<disk type='file' device='disk'><driver name='qemu' type='{}'/>\
<source file='{}'/><target dev='vda' bus='virtio'/></disk>\
<memballoon model='none'/></devices></domain>",
            kind,
            name,
            uuid,
            QEMU,
            format,
            img.display()
        );
        std::fs::write(dir.join(format!("{}.xml", name)), xml).unwrap();
    }
}

#[test]
fn internal_snapshots_match_the_reference() {
    compare_with_reference(
        "snaps",
        STEPS,
        include_str!("data/qemu_snapshots_reference.txt"),
        write_guests,
        LIFECYCLE,
    );
}

/// Records the reference: the same steps against the reference libvirtd
/// (`/work/shared/tools/reference-libvirtd.sh`, qemu:///system). Its
/// stdout, after cargo's lines, is `data/qemu_snapshots_reference.txt`.
/// The guests are named snapshots-* and are removed by the steps.
#[test]
#[ignore]
fn record_snapshots_reference() {
    record_reference(
        "snapshots",
        "qemu_snapshots",
        STEPS,
        write_guests,
        LIFECYCLE,
    );
}

/// kill -9 of the daemon with a snapshot tree and a running guest: after
/// the restart the tree, the current snapshot and the guest are as they
/// were, the metadata directory holds exactly the snapshots' files, and
/// reverting still works; then python3-libvirt drives snapshots of the
/// same guest.
#[test]
fn snapshot_tree_survives_kill9_and_python_drives_it() {
    if !installed(&[QEMU, QEMU_IMG, VIRSH, common::PYTHON]) {
        return;
    }
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    println!("accelerator: {}", if kind == "kvm" { "KVM" } else { "TCG" });
    let mut d = QemuDaemon::new("snapk9");
    write_guests(&d.dir, kind);
    let dir = d.dir.clone();
    let virsh = |d: &QemuDaemon, args: &[&str]| {
        let (o, e, ok) = common::qemu::cli(VIRSH, d, args);
        assert!(ok, "virsh {:?}: {} {}", args, o, e);
        o
    };
    let xml = dir.join("snapshots-a.xml");
    virsh(&d, &["define", xml.to_str().unwrap()]);
    virsh(&d, &["snapshot-create-as", "snapshots-a", "off1"]);
    virsh(&d, &["start", "snapshots-a"]);
    virsh(&d, &["snapshot-create-as", "snapshots-a", "run1"]);
    virsh(&d, &["snapshot-create-as", "snapshots-a", "run2"]);
    virsh(&d, &["snapshot-revert", "snapshots-a", "run1"]);
    virsh(&d, &["snapshot-create-as", "snapshots-a", "run3"]);
    virsh(&d, &["snapshot-revert", "snapshots-a", "run1"]);
    let tree = virsh(&d, &["snapshot-list", "snapshots-a", "--tree"]);
    let pid = d.qemu_pid("snapshots-a").expect("running");

    d.kill9();
    d.start();
    assert_eq!(d.qemu_pid("snapshots-a"), Some(pid), "same QEMU");
    assert_eq!(virsh(&d, &["snapshot-list", "snapshots-a", "--tree"]), tree);
    assert_eq!(
        virsh(&d, &["snapshot-current", "snapshots-a", "--name"]),
        "run1"
    );
    assert_eq!(
        virsh(&d, &["snapshot-parent", "snapshots-a", "run3"]),
        "run1"
    );
    assert_eq!(
        virsh(&d, &["domstate", "snapshots-a"]),
        "running",
        "the guest runs on"
    );
    let mut files: Vec<String> = std::fs::read_dir(d.qemu_root().join("snapshot/snapshots-a"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["off1.xml", "run1.xml", "run2.xml", "run3.xml"]);
    virsh(&d, &["snapshot-revert", "snapshots-a", "run2"]);
    assert_eq!(
        virsh(&d, &["snapshot-current", "snapshots-a", "--name"]),
        "run2"
    );

    // python3-libvirt on the same guest.
    let out = common::run_python("snapshots.py", &[d.uri().as_str(), "snapshots-a"]);
    assert_eq!(
        out,
        "names ['off1', 'py1', 'py2', 'run1', 'run2', 'run3']\n\
num 6\n\
current py2 1\n\
parent py1\n\
children ['py2'] 1\n\
is_current 0 1 1\n\
state [3, 7]\n\
current py1\n\
error 72 10 Domain snapshot not found: no domain snapshot with matching name 'nosuch'\n\
left 4\n"
    );
    // Metadata-only delete kept py1 in the image; py2 went.
    let o = Command::new(QEMU_IMG)
        .args(["snapshot", "-U", "-l"])
        .arg(dir.join("snapshots-a.qcow2"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(" py1 ") && !text.contains(" py2 "),
        "{}",
        text
    );

    // An external disk-only snapshot, then kill -9: the re-attached
    // guest runs on the overlay.
    let overlay = dir.join("snapshots-a.ext1");
    let spec = format!("vda,file={}", overlay.display());
    virsh(
        &d,
        &[
            "snapshot-create-as",
            "snapshots-a",
            "ext1",
            "--disk-only",
            "--diskspec",
            &spec,
        ],
    );
    let pid = d.qemu_pid("snapshots-a").expect("running");
    d.kill9();
    d.start();
    assert_eq!(d.qemu_pid("snapshots-a"), Some(pid), "same QEMU");
    let blk = virsh(&d, &["domblklist", "snapshots-a"]);
    assert!(blk.contains(overlay.to_str().unwrap()), "{}", blk);
    assert_eq!(
        virsh(&d, &["snapshot-current", "snapshots-a", "--name"]),
        "ext1"
    );
    let o = Command::new(QEMU_IMG)
        .args(["info", "-U"])
        .arg(&overlay)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!(
            "backing file: {}",
            dir.join("snapshots-a.qcow2").display()
        )),
        "{}",
        text
    );
    virsh(&d, &["destroy", "snapshots-a"]);
    virsh(&d, &["undefine", "snapshots-a", "--snapshots-metadata"]);
    assert!(!d.qemu_root().join("snapshot/snapshots-a").exists());
}

/// The guest of the external steps: a qcow2 disk and a raw one.
fn write_ext_guest(dir: &Path, kind: &str) {
    let mut disks = String::new();
    for (dev, file, format) in [("vda", "a.qcow2", "qcow2"), ("vdb", "b.raw", "raw")] {
        let img = dir.join(file);
        let st = Command::new(QEMU_IMG)
            .args(["create", "-q", "-f", format])
            .arg(&img)
            .arg("16M")
            .status()
            .expect("qemu-img runs");
        assert!(st.success());
        disks.push_str(&format!(
            "<disk type='file' device='disk'><driver name='qemu' type='{}'/>\
<source file='{}'/><target dev='{}' bus='virtio'/></disk>",
            format,
            img.display(),
            dev
        ));
    }
    let xml = format!(
        "<domain type='{}'><name>snapext-a</name>\
<uuid>7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e11</uuid>\
<memory unit='MiB'>64</memory><vcpu>1</vcpu>\
<os><type arch='x86_64'>hvm</type></os>\
<devices><emulator>{}</emulator>{}<memballoon model='none'/></devices></domain>",
        kind, QEMU, disks
    );
    std::fs::write(dir.join("snapext-a.xml"), xml).unwrap();
}

#[test]
fn external_snapshots_match_the_reference() {
    compare_with_reference(
        "snapext",
        EXT_STEPS,
        include_str!("data/qemu_snapext_reference.txt"),
        write_ext_guest,
        LIFECYCLE,
    );
}

/// Records `data/qemu_snapext_reference.txt` from the reference libvirtd.
#[test]
#[ignore]
fn record_snapext_reference() {
    record_reference(
        "snapext",
        "qemu_snapext",
        EXT_STEPS,
        write_ext_guest,
        LIFECYCLE,
    );
}

/// The data side. A guest with no OS writes nothing, so qemu-io writes
/// and reads patterns in the images while the guest is shut off: an
/// internal snapshot taken shut off and one taken running (disks and
/// memory) bring the disk back to its pattern when reverted, and an
/// external snapshot leaves the old image as it was while new writes
/// land in the overlay over it.
#[test]
fn snapshot_data_round_trips() {
    if !installed(&[QEMU, QEMU_IMG, QEMU_IO, VIRSH]) {
        return;
    }
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    println!("accelerator: {}", if kind == "kvm" { "KVM" } else { "TCG" });
    let d = QemuDaemon::new("snapdata");
    write_guests(&d.dir, kind);
    let img = d.dir.join("snapshots-a.qcow2");
    let io = |file: &Path, cmd: &str| {
        let o = Command::new(QEMU_IO)
            .args(["-f", "qcow2", "-c", cmd])
            .arg(file)
            .output()
            .expect("qemu-io runs");
        let out =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success() && !out.contains("verification failed"),
            "qemu-io {} {}: {}",
            cmd,
            file.display(),
            out
        );
    };
    let virsh = |args: &[&str]| {
        let (o, e, ok) = common::qemu::cli(VIRSH, &d, args);
        assert!(ok, "virsh {:?}: {} {}", args, o, e);
    };
    let xml = d.dir.join("snapshots-a.xml");
    virsh(&["define", xml.to_str().unwrap()]);
    io(&img, "write -P 0xa1 0 1M");
    virsh(&["snapshot-create-as", "snapshots-a", "off1"]);
    io(&img, "write -P 0xb2 0 1M");
    virsh(&["snapshot-revert", "snapshots-a", "off1"]);
    io(&img, "read -P 0xa1 0 1M");

    virsh(&["start", "snapshots-a"]);
    virsh(&["snapshot-create-as", "snapshots-a", "run1"]);
    virsh(&["destroy", "snapshots-a"]);
    io(&img, "write -P 0xc3 0 1M");
    virsh(&["snapshot-revert", "snapshots-a", "run1"]);
    virsh(&["destroy", "snapshots-a"]);
    io(&img, "read -P 0xa1 0 1M");

    let overlay = d.dir.join("snapshots-a.ext");
    let spec = format!("vda,file={}", overlay.display());
    virsh(&["start", "snapshots-a"]);
    virsh(&[
        "snapshot-create-as",
        "snapshots-a",
        "ext",
        "--disk-only",
        "--diskspec",
        &spec,
    ]);
    virsh(&["destroy", "snapshots-a"]);
    io(&overlay, "write -P 0xd4 0 512k");
    io(&overlay, "read -P 0xd4 0 512k");
    io(&overlay, "read -P 0xa1 512k 512k");
    io(&img, "read -P 0xa1 0 1M");
    virsh(&["undefine", "snapshots-a", "--snapshots-metadata"]);
}
