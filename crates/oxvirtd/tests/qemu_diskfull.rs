//! A full state directory: oxvirtd's state root is a small tmpfs the test
//! mounts and fills. Defining a domain then fails with libvirt's error
//! (virFileRewrite's "cannot write data to file '…': No space left on
//! device") and leaves nothing behind, a redefinition leaves the old
//! definition intact, a snapshot and a pool definition fail the same way
//! and keep the earlier snapshot current and the earlier pool as it was, a managed save fails and resumes the guest, a start
//! fails before any QEMU runs (its status file cannot be written), the
//! daemon keeps serving, and after a kill -9 and a restart on the still
//! full disk every earlier definition loads and the running guest is
//! re-attached. Needs root (mount); KVM guests with no OS when /dev/kvm
//! works.

mod common;

use common::qemu::{cli, installed, kvm_usable, no_os_xml, qemus_of, QemuDaemon, QEMU};
use common::VIRSH;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted by the test, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={}", size), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mount(at.to_path_buf()))
    }
}

impl Drop for Mount {
    /// Unmounts, then removes the mount point and the daemon's directory
    /// above it (which the daemon's harness could not remove while the
    /// mount was there).
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}

/// Fills the filesystem holding `dir` with `dir/filler`.
fn fill(dir: &Path) {
    let mut f = std::fs::File::create(dir.join("filler")).unwrap();
    let chunk = vec![0xa5u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
}

fn virsh(d: &QemuDaemon, args: &[&str]) -> (String, String, bool) {
    cli(VIRSH, d, args)
}

fn ok(d: &QemuDaemon, args: &[&str]) -> String {
    let (out, err, good) = virsh(d, args);
    assert!(good, "virsh {:?}: {} {}", args, out, err);
    out
}

/// Every domain's name, sorted.
fn names(d: &QemuDaemon) -> Vec<String> {
    let mut v: Vec<String> = ok(d, &["list", "--all", "--name"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// Asserts libvirt's error for a write that found no space, naming a
/// temporary beside `target`.
fn assert_no_space(err: &str, first: &str, target: &Path) {
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.first().copied(), Some(first), "{}", err);
    let last = lines.last().copied().unwrap_or("");
    let dir = target.parent().unwrap().display().to_string();
    let name = target.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        last.starts_with(&format!(
            "error: cannot write data to file '{}/.{}.tmp",
            dir, name
        )) && last.ends_with("': No space left on device"),
        "{}",
        err
    );
}

/// Every file under `dir` whose name marks a temporary.
fn temporaries(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            temporaries(&p, out);
        } else if e.file_name().to_string_lossy().contains(".tmp") {
            out.push(p);
        }
    }
}

/// Every file under `dir` with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
    out
}

#[test]
fn a_full_state_directory_fails_cleanly_and_loses_nothing() {
    if !installed(&[QEMU, VIRSH, "/usr/bin/mount"]) {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipping: mounting a tmpfs needs root");
        return;
    }
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    println!("accelerator: {}", if kind == "kvm" { "KVM" } else { "TCG" });
    // Declared before the daemon, so it is unmounted after the daemon
    // and its guests are gone (also when the test fails).
    let mut mount = None;
    let mut d = QemuDaemon::prepared("dfull", &[], |dir| {
        mount = Mount::tmpfs(&dir.join("lib"), "8m");
    });
    if mount.is_none() {
        println!("skipping: cannot mount a tmpfs here");
        return;
    }
    let state = d.dir.join("lib");
    let root = d.qemu_root();
    let dir = d.dir.clone();
    // df2 has a qcow2 disk (outside the small filesystem), for internal
    // snapshots of it shut off.
    let image = dir.join("df2.qcow2");
    let made = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&image)
        .arg("16M")
        .status()
        .is_ok_and(|s| s.success());
    assert!(made, "qemu-img create");
    let xml = |name: &str, extra: &str| {
        let p = dir.join(format!("{}{}.xml", name, extra));
        let mut x = no_os_xml(name, kind, 32);
        if name == "df2" {
            x = x.replace(
                "</devices>",
                &format!(
                    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
<source file='{}'/><target dev='vda' bus='virtio'/></disk></devices>",
                    image.display()
                ),
            );
        }
        if !extra.is_empty() {
            x = x.replace("</name>", "</name><description>changed</description>");
        }
        std::fs::write(&p, x).unwrap();
        p.to_string_lossy().into_owned()
    };
    for n in ["df1", "df2", "df3"] {
        ok(&d, &["define", &xml(n, "")]);
    }
    ok(&d, &["start", "df3"]);
    // A snapshot of the shut-off df2 and a storage pool, both on the disk
    // that fills up.
    ok(&d, &["snapshot-create-as", "df2", "s0"]);
    let pool_target = d.dir.join("pooldir");
    let pool_target = pool_target.to_string_lossy().into_owned();
    let other_target = format!("{}2", pool_target);
    ok(
        &d,
        &["pool-define-as", "dfpool", "dir", "--target", &pool_target],
    );
    let pool_config = state.join("oxvirt/storage/config/dfpool.xml");
    let mut before: Vec<(PathBuf, Vec<u8>)> = ["df1", "df2", "df3"]
        .iter()
        .map(|n| root.join(format!("config/{}.xml", n)))
        .chain([pool_config.clone()])
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {}", p.display(), e));
            (p, bytes)
        })
        .collect();
    let snapshots_before = files_under(&root.join("snapshot"));
    assert!(!snapshots_before.is_empty(), "s0's metadata is on disk");
    before.extend(snapshots_before);

    fill(&state);

    // define: libvirt's error, nothing defined, nothing left behind.
    let (_, err, good) = virsh(&d, &["define", &xml("df4", "")]);
    assert!(!good);
    let df4 = d.dir.join("df4.xml");
    assert_no_space(
        &err,
        &format!("error: Failed to define domain from {}", df4.display()),
        &root.join("config/df4.xml"),
    );
    println!("define on a full disk: {}", err.lines().last().unwrap());
    assert_eq!(names(&d), ["df1", "df2", "df3"]);
    // A redefinition fails and keeps the definition as it was.
    let (_, err, good) = virsh(&d, &["define", &xml("df1", "-v2")]);
    assert!(!good, "{}", err);
    assert!(!ok(&d, &["dumpxml", "--inactive", "df1"]).contains("changed"));
    // A managed save fails; the guest runs on, no image counts.
    let (_, err, good) = virsh(&d, &["managedsave", "df3"]);
    assert!(!good);
    println!(
        "managedsave on a full disk: {}",
        err.lines().last().unwrap()
    );
    assert!(err.contains("No space left on device"), "{}", err);
    assert_eq!(
        ok(&d, &["domstate", "--reason", "df3"]),
        "running (save canceled)"
    );
    assert!(ok(&d, &["dominfo", "df3"]).contains("Managed save:   no"));
    assert!(!root.join("save/df3.save").exists());
    // A snapshot fails with libvirt's error (qemuSnapshotCreateWriteMetadata)
    // and is forgotten. As in libvirt, the failed attempt leaves df2 with no
    // current snapshot until the next start, which reads s0's file, still
    // marked current because rewriting it failed too.
    let (_, err, good) = virsh(&d, &["snapshot-create-as", "df2", "s1"]);
    assert!(!good);
    println!("snapshot-create-as on a full disk: {}", err.trim());
    assert_eq!(
        err.trim(),
        "error: internal error: unable to save metadata for snapshot s1"
    );
    assert_eq!(ok(&d, &["snapshot-list", "df2", "--name"]).trim(), "s0");
    // pool-define fails the same way; the pool defined before stays, and
    // a redefinition of it changes nothing.
    let (_, err, good) = virsh(
        &d,
        &[
            "pool-define-as",
            "dfpool2",
            "dir",
            "--target",
            &other_target,
        ],
    );
    assert!(!good);
    println!(
        "pool-define-as on a full disk: {}",
        err.lines().last().unwrap()
    );
    assert_no_space(
        &err,
        "error: Failed to define pool dfpool2",
        &state.join("oxvirt/storage/config/dfpool2.xml"),
    );
    let (_, err, good) = virsh(
        &d,
        &[
            "pool-define-as",
            "dfpool",
            "dir",
            "--target",
            &format!("{}-moved", pool_target),
        ],
    );
    assert!(!good, "{}", err);
    assert_eq!(ok(&d, &["pool-list", "--all", "--name"]).trim(), "dfpool");
    assert!(ok(&d, &["pool-dumpxml", "dfpool"]).contains(&format!("<path>{}</path>", pool_target)));
    // A start fails before QEMU runs: its status file cannot be written.
    let (_, err, good) = virsh(&d, &["start", "df1"]);
    assert!(!good);
    assert_no_space(
        &err,
        "error: Failed to start domain 'df1'",
        &root.join("run/df1.json"),
    );
    assert!(qemus_of("df1").is_empty(), "no QEMU without a status file");
    assert_eq!(ok(&d, &["domstate", "df1"]), "shut off");
    // The daemon serves on: status writes that fail are only logged.
    ok(&d, &["suspend", "df3"]);
    ok(&d, &["resume", "df3"]);
    ok(&d, &["version"]);

    // kill -9 and restart on the full disk: every definition loads, the
    // guest is back, no temporary is left.
    let pid = qemus_of("df3");
    d.kill9();
    d.start();
    assert_eq!(names(&d), ["df1", "df2", "df3"]);
    assert!(ok(&d, &["domstate", "df3"]).starts_with("running"));
    assert_eq!(qemus_of("df3"), pid);
    for (p, bytes) in &before {
        assert_eq!(&std::fs::read(p).unwrap(), bytes, "{} intact", p.display());
    }
    assert_eq!(ok(&d, &["snapshot-list", "df2", "--name"]).trim(), "s0");
    assert_eq!(ok(&d, &["snapshot-current", "df2", "--name"]).trim(), "s0");
    assert_eq!(ok(&d, &["pool-list", "--all", "--name"]).trim(), "dfpool");
    let mut temps = Vec::new();
    temporaries(&state, &mut temps);
    assert!(temps.is_empty(), "temporaries left: {:?}", temps);

    // Space again: everything works.
    std::fs::remove_file(state.join("filler")).unwrap();
    ok(&d, &["define", &xml("df4", "")]);
    ok(&d, &["snapshot-create-as", "df2", "s2"]);
    assert_eq!(ok(&d, &["snapshot-current", "df2", "--name"]).trim(), "s2");
    ok(
        &d,
        &[
            "pool-define-as",
            "dfpool2",
            "dir",
            "--target",
            &other_target,
        ],
    );
    for p in ["dfpool", "dfpool2"] {
        ok(&d, &["pool-undefine", p]);
    }
    for s in ["s2", "s0"] {
        ok(&d, &["snapshot-delete", "df2", s]);
    }
    ok(&d, &["start", "df1"]);
    assert_eq!(qemus_of("df1").len(), 1);
    for n in ["df1", "df3"] {
        ok(&d, &["destroy", n]);
    }
    for n in ["df1", "df2", "df3", "df4"] {
        ok(&d, &["undefine", n]);
        assert!(qemus_of(n).is_empty());
    }
    d.kill9();
}
