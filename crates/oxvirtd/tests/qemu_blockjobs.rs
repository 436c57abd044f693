//! Block jobs on the QEMU driver.
//!
//! The real virsh runs `data/qemu_blockjobs.steps` (blockcommit of an
//! inner layer and of the active one with --pivot and keeping the
//! overlay, blockpull whole and down to a base, blockcopy with abort,
//! --pivot, --shallow, --reuse-external, --finish, `blockjob --info`,
//! --bandwidth and libvirt's refusals) against oxvirtd while `virsh
//! event --all --loop` listens; the transcript, the live and persistent
//! chains, `qemu-img info --backing-chain` of the images after each job,
//! the data (qemu-io patterns written into each layer before the start)
//! and the lifecycle and block-job events must be the reference libvirtd
//! 9.0's, recorded in `data/qemu_blockjobs_reference.txt` (re-record
//! with `cargo test -p oxvirtd --test qemu_blockjobs -- --ignored
//! --nocapture record` on a host running the reference libvirtd).
//!
//! Nova's live snapshot runs through python3-libvirt, and a daemon killed
//! with SIGKILL while a copy and an active commit wait in their ready
//! phase re-attaches to them and pivots them on request.
//!
//! Guests have no OS (KVM when /dev/kvm works, TCG otherwise).

mod common;

use common::qemu::{cli, installed, kvm_usable, QemuDaemon, QEMU};
use common::steps::{compare_with_reference, record_reference, QEMU_IMG, QEMU_IO};
use common::VIRSH;
use std::path::Path;
use std::process::Command;

const STEPS: &str = include_str!("data/qemu_blockjobs.steps");
const EVENTS: &[&str] = &["lifecycle", "block-job", "block-job-2", "block-threshold"];

fn disk_xml(dir: &Path, chain: &[&str]) -> String {
    let mut backing = String::from("<backingStore/>");
    for f in chain[1..].iter().rev() {
        backing = format!(
            "<backingStore type='file'><format type='qcow2'/><source file='{}'/>{}</backingStore>",
            dir.join(f).display(),
            backing
        );
    }
    format!(
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
<source file='{}'/>{}<target dev='vda' bus='virtio'/></disk>",
        dir.join(chain[0]).display(),
        backing
    )
}

fn guest_xml(name: &str, kind: &str, disk: &str) -> String {
    format!(
        "<domain type='{}'><name>{}</name>\
<memory unit='MiB'>64</memory><vcpu>1</vcpu>\
<os><type arch='x86_64'>hvm</type></os>\
<devices><emulator>{}</emulator>{}<memballoon model='none'/></devices></domain>",
        kind, name, QEMU, disk
    )
}

/// The guest of the steps (its images are made by the steps).
fn write_guest(dir: &Path, kind: &str) {
    let disk = disk_xml(dir, &["a.s2", "a.s1", "a.qcow2"]);
    std::fs::write(dir.join("bj-a.xml"), guest_xml("bj-a", kind, &disk)).unwrap();
}

#[test]
fn block_jobs_match_the_reference() {
    compare_with_reference(
        "bjobs",
        STEPS,
        include_str!("data/qemu_blockjobs_reference.txt"),
        write_guest,
        EVENTS,
    );
}

/// Records `data/qemu_blockjobs_reference.txt` from the reference
/// libvirtd (qemu:///system). The guest is named bj-a and is removed by
/// the steps.
#[test]
#[ignore]
fn record_blockjobs_reference() {
    record_reference("blockjobs", "qemu_blockjobs", STEPS, write_guest, EVENTS);
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().expect("runs");
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && !text.contains("verification failed"),
        "{:?}: {}",
        cmd,
        text
    );
    text
}

/// qemu-io: reads share the image with a running QEMU.
fn qemu_io(file: &Path, cmd: &str) {
    let share: &[&str] = if cmd.starts_with("read") {
        &["-r", "-U"]
    } else {
        &[]
    };
    run(Command::new(QEMU_IO)
        .args(share)
        .args(["-c", cmd])
        .arg(file));
}

/// A disk `top.qcow2` over `base.qcow2`, each with its pattern.
fn make_chain(dir: &Path) {
    let base = dir.join("base.qcow2");
    let top = dir.join("top.qcow2");
    run(Command::new(QEMU_IMG)
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&base)
        .arg("16M"));
    qemu_io(&base, "write -P 0x11 0 1M");
    run(Command::new(QEMU_IMG)
        .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
        .arg(&base)
        .arg(&top));
    qemu_io(&top, "write -P 0x22 1M 1M");
}

/// Nova's live snapshot (python3-libvirt): the copy into the delta image,
/// converted with qemu-img, holds what the disk holds.
#[test]
fn nova_live_snapshot_copies_the_disk() {
    if !installed(&[QEMU, QEMU_IMG, QEMU_IO, VIRSH, common::PYTHON]) {
        return;
    }
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    let d = QemuDaemon::new("bjnova");
    let dir = d.dir.clone();
    make_chain(&dir);
    let xml = dir.join("nova.xml");
    std::fs::write(
        &xml,
        guest_xml(
            "bj-nova",
            kind,
            &disk_xml(&dir, &["top.qcow2", "base.qcow2"]),
        ),
    )
    .unwrap();
    let (o, e, ok) = cli(VIRSH, &d, &["create", xml.to_str().unwrap()]);
    assert!(ok, "{} {}", o, e);
    // Nova: qemu-img create -f qcow2 -o backing_file=BASE,size=SIZE DELTA.
    let delta = dir.join("delta.qcow2");
    run(Command::new(QEMU_IMG)
        .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
        .arg(dir.join("base.qcow2"))
        .arg(&delta)
        .arg("16M"));
    let uri = d.uri();
    let delta_s = delta.to_string_lossy().into_owned();
    let out = common::run_python(
        "nova_snapshot.py",
        &[uri.as_str(), "bj-nova", "vda", &delta_s],
    );
    assert_eq!(
        out,
        format!(
            "job before {{}}\n\
type 2 done True\n\
error 8 10 unsupported flags (0x40) in function qemuDomainBlockJobAbort\n\
job after {{}}\n\
error 8 10 invalid argument: disk vda does not have an active block job\n\
source <source file='{}'/>\n",
            dir.join("top.qcow2").display()
        )
    );
    // extract_snapshot: qemu-img convert of the delta (with its backing).
    let snap = dir.join("snap.raw");
    run(Command::new(QEMU_IMG)
        .args(["convert", "-U", "-f", "qcow2", "-O", "raw"])
        .arg(&delta)
        .arg(&snap));
    let disk = dir.join("disk.raw");
    run(Command::new(QEMU_IMG)
        .args(["convert", "-U", "-f", "qcow2", "-O", "raw"])
        .arg(dir.join("top.qcow2"))
        .arg(&disk));
    run(Command::new(QEMU_IO)
        .args(["-f", "raw", "-c", "read -P 0x11 0 1M"])
        .arg(&snap));
    run(Command::new(QEMU_IO)
        .args(["-f", "raw", "-c", "read -P 0x22 1M 1M"])
        .arg(&snap));
    assert!(
        std::fs::read(&snap).unwrap() == std::fs::read(&disk).unwrap(),
        "the snapshot differs from the disk"
    );
    // The delta is a shallow copy: it still names the base.
    let info = run(Command::new(QEMU_IMG).args(["info", "-U"]).arg(&delta));
    assert!(
        info.contains(&format!(
            "backing file: {}",
            dir.join("base.qcow2").display()
        )),
        "{}",
        info
    );
    let (o, e, ok) = cli(VIRSH, &d, &["destroy", "bj-nova"]);
    assert!(ok, "{} {}", o, e);
}

/// kill -9 of the daemon while a copy and then an active commit wait in
/// their ready phase: after the restart `blockjob --info` still lists
/// the job and `blockjob --pivot` finishes it.
#[test]
fn block_jobs_survive_kill9() {
    if !installed(&[QEMU, QEMU_IMG, QEMU_IO, VIRSH]) {
        return;
    }
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    let mut d = QemuDaemon::new("bjk9");
    let dir = d.dir.clone();
    make_chain(&dir);
    let xml = dir.join("k9.xml");
    std::fs::write(
        &xml,
        guest_xml("bj-k9", kind, &disk_xml(&dir, &["top.qcow2", "base.qcow2"])),
    )
    .unwrap();
    // stdout and stderr (where virsh writes job progress).
    let virsh = |d: &QemuDaemon, args: &[&str]| {
        let (o, e, ok) = cli(VIRSH, d, args);
        assert!(ok, "virsh {:?}: {} {}", args, o, e);
        format!("{}{}", o, e)
    };
    virsh(&d, &["create", xml.to_str().unwrap()]);
    let copy = dir.join("copy.qcow2");
    virsh(
        &d,
        &[
            "blockcopy",
            "bj-k9",
            "vda",
            copy.to_str().unwrap(),
            "--wait",
        ],
    );
    let info = virsh(&d, &["blockjob", "bj-k9", "vda", "--info"]);
    assert!(info.contains("Block Copy: [100 %]"), "{:?}", info);
    let pid = d.qemu_pid("bj-k9").expect("running");

    d.kill9();
    d.start();
    assert_eq!(d.qemu_pid("bj-k9"), Some(pid), "same QEMU");
    let info = virsh(&d, &["blockjob", "bj-k9", "vda", "--info"]);
    assert!(info.contains("Block Copy: [100 %]"), "{:?}", info);
    let xml = virsh(&d, &["dumpxml", "bj-k9"]);
    assert!(xml.contains("job='copy' ready='yes'"), "{}", xml);
    assert_eq!(
        virsh(&d, &["blockjob", "bj-k9", "vda", "--pivot"]),
        "",
        "pivoted"
    );
    let blk = virsh(&d, &["domblklist", "bj-k9"]);
    assert!(blk.contains(copy.to_str().unwrap()), "{}", blk);
    assert_eq!(virsh(&d, &["blockjob", "bj-k9", "vda", "--info"]), "");
    qemu_io(&copy, "read -P 0x11 0 1M");
    qemu_io(&copy, "read -P 0x22 1M 1M");

    // An active commit of a new overlay into the copy, ready, then kill -9.
    let ov = dir.join("ov.qcow2");
    virsh(
        &d,
        &[
            "snapshot-create-as",
            "bj-k9",
            "ov",
            "--disk-only",
            "--no-metadata",
            "--diskspec",
            &format!("vda,file={}", ov.display()),
        ],
    );
    virsh(&d, &["blockcommit", "bj-k9", "vda", "--active", "--wait"]);
    d.kill9();
    d.start();
    let info = virsh(&d, &["blockjob", "bj-k9", "vda", "--info"]);
    assert!(info.contains("Active Block Commit: [100 %]"), "{:?}", info);
    virsh(&d, &["blockjob", "bj-k9", "vda", "--pivot"]);
    let blk = virsh(&d, &["domblklist", "bj-k9"]);
    assert!(blk.contains(copy.to_str().unwrap()), "{}", blk);
    let xml = virsh(&d, &["dumpxml", "bj-k9"]);
    assert!(!xml.contains("<mirror"), "{}", xml);
    virsh(&d, &["destroy", "bj-k9"]);

    // kill -9 while a commit of an inner layer runs (at 1 MiB/s, 4 MiB):
    // after the restart the job is still followed, or found concluded,
    // and its end is applied either way.
    let (top, mid, base) = (
        dir.join("t2.qcow2"),
        dir.join("m2.qcow2"),
        dir.join("b2.qcow2"),
    );
    run(Command::new(QEMU_IMG)
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&base)
        .arg("16M"));
    for (over, under) in [(&mid, &base), (&top, &mid)] {
        run(Command::new(QEMU_IMG)
            .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
            .arg(under)
            .arg(over));
    }
    qemu_io(&mid, "write -P 0x44 0 4M");
    let xml2 = dir.join("k9b.xml");
    std::fs::write(
        &xml2,
        guest_xml(
            "bj-k9b",
            kind,
            &disk_xml(&dir, &["t2.qcow2", "m2.qcow2", "b2.qcow2"]),
        ),
    )
    .unwrap();
    virsh(&d, &["create", xml2.to_str().unwrap()]);
    virsh(
        &d,
        &[
            "blockcommit",
            "bj-k9b",
            "vda",
            "--top",
            mid.to_str().unwrap(),
            "--bandwidth",
            "1",
        ],
    );
    d.kill9();
    d.start();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let info = virsh(&d, &["blockjob", "bj-k9b", "vda", "--info"]);
        if info.is_empty() {
            break;
        }
        assert!(info.contains("Block Commit"), "{:?}", info);
        assert!(
            std::time::Instant::now() < deadline,
            "the commit never ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let xml = virsh(&d, &["dumpxml", "bj-k9b"]);
    assert!(!xml.contains(mid.to_str().unwrap()), "{}", xml);
    assert!(xml.contains(base.to_str().unwrap()), "{}", xml);
    let info = run(Command::new(QEMU_IMG).args(["info", "-U"]).arg(&top));
    assert!(
        info.contains(&format!("backing file: {}", base.display())),
        "{}",
        info
    );
    virsh(&d, &["destroy", "bj-k9b"]);
    qemu_io(&base, "read -P 0x44 0 4M");
}
