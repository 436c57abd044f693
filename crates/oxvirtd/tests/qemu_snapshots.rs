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
use common::VIRSH;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const QEMU_IMG: &str = "/usr/bin/qemu-img";
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

/// Replaces times virsh prints (tables, snapshot-info, XML) by @TIME@.
fn normalise(line: &str, dir: &str) -> String {
    let mut l = line.replace(dir, "@DIR@");
    // "2026-12-07 19:31:19 +0000" in tables.
    let b = l.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let rest = &l[i..];
        if rest.len() >= 25 {
            let c = rest.as_bytes();
            let digits = |r: std::ops::Range<usize>| r.into_iter().all(|k| c[k].is_ascii_digit());
            if digits(0..4)
                && c[4] == b'-'
                && digits(5..7)
                && c[7] == b'-'
                && digits(8..10)
                && c[10] == b' '
                && digits(11..13)
                && c[13] == b':'
                && (c[19] == b' ')
                && (c[20] == b'+' || c[20] == b'-')
                && digits(21..25)
            {
                out.push_str("@TIME@");
                i += 25;
                continue;
            }
        }
        let ch = rest.chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    l = out;
    if let (Some(a), Some(z)) = (l.find("<creationTime>"), l.find("</creationTime>")) {
        l = format!("{}<creationTime>@TIME@{}", &l[..a], &l[z..]);
    }
    l
}

/// Runs every step against `uri`: the transcript.
fn run_steps(steps: &str, uri: &str, dir: &Path) -> String {
    let dir_s = dir.to_string_lossy().into_owned();
    let mut out = String::new();
    for line in steps.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (filter, args) = line.split_once(' ').expect("FILTER ARGS");
        let args: Vec<String> = args
            .split_whitespace()
            .map(|a| a.replace("@DIR@", &dir_s))
            .collect();
        out.push_str(&format!("$ {}\n", line));
        if filter == "mkimg" {
            let st = Command::new(QEMU_IMG)
                .args(["create", "-q", "-f", "qcow2"])
                .args(&args)
                .arg("16M")
                .status()
                .expect("qemu-img runs");
            out.push_str(&format!("rc={}\n", st.code().unwrap_or(-1)));
            continue;
        }
        if filter == "info" {
            let o = Command::new(QEMU_IMG)
                .args(["info", "-U"])
                .args(&args)
                .output()
                .expect("qemu-img runs");
            let text = String::from_utf8_lossy(&o.stdout);
            for l in text.lines().filter(|l| {
                l.starts_with("file format:")
                    || l.starts_with("virtual size:")
                    || l.starts_with("backing file")
            }) {
                out.push_str(&normalise(l, &dir_s));
                out.push('\n');
            }
            continue;
        }
        if filter == "tags" {
            let o = Command::new(QEMU_IMG)
                .args(["snapshot", "-U", "-l"])
                .args(&args)
                .output()
                .expect("qemu-img runs");
            let text = String::from_utf8_lossy(&o.stdout);
            let mut tags: Vec<&str> = text
                .lines()
                .skip(2)
                .filter_map(|l| l.split_whitespace().nth(1))
                .collect();
            tags.sort();
            out.push_str(&format!("tags: {}\n", tags.join(" ")));
            continue;
        }
        let o = Command::new(VIRSH)
            .arg("-q")
            .arg("-c")
            .arg(uri)
            .args(&args)
            .stdin(Stdio::null())
            .env("LC_ALL", "C")
            .output()
            .expect("virsh runs");
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        for l in text.lines() {
            let l = l.trim_end();
            if filter == "head" && l.trim_start().starts_with("<domain") && l.starts_with("  ") {
                break;
            }
            if l.is_empty() {
                continue;
            }
            if filter == "chain" {
                let t = l.trim_start();
                let keep = t.starts_with("<source file=")
                    || t.starts_with("<backingStore")
                    || t.starts_with("</backingStore")
                    || t.starts_with("<format type=")
                    || t.starts_with("<driver name='qemu'")
                    || t.starts_with("<target dev=");
                if !keep {
                    continue;
                }
                let mut l = l.to_string();
                while let Some(i) = l.find(" index='") {
                    let end = l[i + 8..]
                        .find('\'')
                        .map(|e| i + 8 + e + 1)
                        .unwrap_or(l.len());
                    l.replace_range(i..end, "");
                }
                out.push_str(&normalise(&l, &dir_s));
                out.push('\n');
                continue;
            }
            out.push_str(&normalise(l, &dir_s));
            out.push('\n');
        }
        out.push_str(&format!("rc={}\n", o.status.code().unwrap_or(-1)));
    }
    out
}

/// `virsh event --all --loop` on `uri`, until dropped.
struct Events(Child, std::path::PathBuf);

/// A domain defined and undefined until the listener reports it, so the
/// steps start only once `virsh event` listens; its events are not
/// compared.
const SENTINEL: &str = "snapshots-sentinel";

impl Events {
    fn start(uri: &str, dir: &Path) -> Events {
        let path = dir.join("events.txt");
        let f = std::fs::File::create(&path).unwrap();
        let c = Command::new(VIRSH)
            .args(["-q", "-c", uri, "event", "--all", "--loop"])
            .stdin(Stdio::null())
            .stdout(f)
            .stderr(Stdio::null())
            .env("LC_ALL", "C")
            .spawn()
            .expect("virsh event");
        let xml = dir.join("sentinel.xml");
        std::fs::write(&xml, common::qemu::no_os_xml(SENTINEL, "qemu", 16)).unwrap();
        for _ in 0..100 {
            for args in [
                vec!["define", xml.to_str().unwrap()],
                vec!["undefine", SENTINEL],
            ] {
                let _ = Command::new(VIRSH)
                    .args(["-q", "-c", uri])
                    .args(&args)
                    .output();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            if std::fs::read_to_string(&path).is_ok_and(|t| t.contains(SENTINEL)) {
                break;
            }
        }
        Events(c, path)
    }

    /// The lifecycle events seen, one per line.
    fn finish(mut self) -> String {
        std::thread::sleep(std::time::Duration::from_millis(700));
        let _ = self.0.kill();
        let _ = self.0.wait();
        std::fs::read_to_string(&self.1)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("event 'lifecycle'") && !l.contains(SENTINEL))
            .map(|l| format!("{}\n", l))
            .collect()
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn transcript(steps: &str, uri: &str, dir: &Path) -> String {
    let ev = Events::start(uri, dir);
    let steps = run_steps(steps, uri, dir);
    format!("{}--- events\n{}", steps, ev.finish())
}

/// Runs `steps` against a fresh oxvirtd and compares with `reference`
/// (lines starting with '#' are comments).
fn compare_with_reference(tag: &str, steps: &str, reference: &str, guests: fn(&Path, &str)) {
    if !installed(&[QEMU, QEMU_IMG, VIRSH]) {
        return;
    }
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    println!("accelerator: {}", if kind == "kvm" { "KVM" } else { "TCG" });
    let d = QemuDaemon::new(tag);
    guests(&d.dir, kind);
    let got = transcript(steps, &d.uri(), &d.dir);
    let want: String = reference
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
        println!("{}", got);
    }
    assert_eq!(got, want);
}

/// Prints what the reference libvirtd (qemu:///system) answers to
/// `steps`, the content of the reference file named `what`.
fn record_reference(tag: &str, what: &str, steps: &str, guests: fn(&Path, &str)) {
    let dir = std::env::temp_dir().join(format!("{}-ref-{}", tag, std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    guests(&dir, kind);
    print!(
        "# What the reference libvirtd 9.0.0 (Debian, QEMU 7.2) answered to\n\
# data/{}.steps, run with the real virsh (record_{}_reference).\n{}",
        what,
        tag,
        transcript(steps, "qemu:///system", &dir)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn internal_snapshots_match_the_reference() {
    compare_with_reference(
        "snaps",
        STEPS,
        include_str!("data/qemu_snapshots_reference.txt"),
        write_guests,
    );
}

/// Records the reference: the same steps against the reference libvirtd
/// (`/work/shared/tools/reference-libvirtd.sh`, qemu:///system). Its
/// stdout, after cargo's lines, is `data/qemu_snapshots_reference.txt`.
/// The guests are named snapshots-* and are removed by the steps.
#[test]
#[ignore]
fn record_snapshots_reference() {
    record_reference("snapshots", "qemu_snapshots", STEPS, write_guests);
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
    let o = Command::new(common::PYTHON)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/py/snapshots.py"
        ))
        .arg(d.uri())
        .arg("snapshots-a")
        .output()
        .expect("python3 runs");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{}{}",
        out,
        String::from_utf8_lossy(&o.stderr)
    );
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
    );
}

/// Records `data/qemu_snapext_reference.txt` from the reference libvirtd.
#[test]
#[ignore]
fn record_snapext_reference() {
    record_reference("snapext", "qemu_snapext", EXT_STEPS, write_ext_guest);
}

const QEMU_IO: &str = "/usr/bin/qemu-io";

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
