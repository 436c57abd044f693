//! Faults of the QEMU driver: oxvirtd SIGKILLed at the dangerous instants
//! of a start, a save and a restore (held there by the `OXVIRT_PAUSE_AT`
//! test hook, see ARCHITECTURE.md) and restarted. After each kill: no QEMU
//! orphaned and none doubled, the state and reason the restarted daemon
//! reports (libvirt's reconnect rules), the save recovered with the guest
//! running, and the domain usable again. Also: stale temporaries removed
//! at start, and domains served one by one while the others are still
//! being re-attached.
//!
//! Guests have no OS and run under KVM when /dev/kvm works (TCG
//! otherwise); the accelerator is printed. Skipped, with the reason
//! printed, without qemu-system-x86_64 or virsh.

mod common;

use common::qemu::{
    alive, children, cli, installed, kvm_usable, no_os_xml, qemus_of, QemuDaemon as Daemon, QEMU,
};
use common::VIRSH;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PAUSE: &str = "OXVIRT_PAUSE_AT";

fn prerequisites() -> bool {
    installed(&[QEMU, VIRSH])
}

fn kind() -> &'static str {
    let k = if kvm_usable() { "kvm" } else { "qemu" };
    println!("accelerator: {}", if k == "kvm" { "KVM" } else { "TCG" });
    k
}

fn define(d: &Daemon, name: &str, kind: &str) {
    let p = d.dir.join(format!("{}.xml", name));
    std::fs::write(&p, no_os_xml(name, kind, 32)).unwrap();
    ok(d, &["define", &p.to_string_lossy()]);
}

fn ok(d: &Daemon, args: &[&str]) -> String {
    let (out, err, good) = cli(VIRSH, d, args);
    assert!(good, "virsh {:?} failed: {} {}", args, out, err);
    out
}

fn state(d: &Daemon, name: &str) -> String {
    let (out, err, good) = cli(VIRSH, d, &["domstate", "--reason", name]);
    if good {
        out
    } else {
        err
    }
}

fn managed_save(d: &Daemon, name: &str) -> bool {
    ok(d, &["dominfo", name])
        .lines()
        .any(|l| l.starts_with("Managed save:") && l.ends_with("yes"))
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {}", what);
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn marker(d: &Daemon, point: &str, name: &str) -> PathBuf {
    d.qemu_root()
        .join("debug-pause")
        .join(format!("{}@{}", point, name))
}

/// Restarts the daemon with `pause` as its OXVIRT_PAUSE_AT (none: "").
fn restart(d: &mut Daemon, pause: &str) {
    d.kill9();
    d.env.retain(|(k, _)| k != PAUSE);
    if !pause.is_empty() {
        d.env.push((PAUSE.into(), pause.into()));
    }
    d.start();
}

/// A client call left running in the background (it is cut off when
/// the daemon dies); killed when dropped.
struct Bg(Child);

impl Bg {
    fn virsh(d: &Daemon, args: &[&str]) -> Bg {
        Bg(Command::new(VIRSH)
            .arg("-q")
            .arg("-c")
            .arg(d.uri())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("virsh runs"))
    }

    fn done(&mut self) -> bool {
        self.0.try_wait().ok().flatten().is_some()
    }

    /// Waits for the call and returns its trimmed stdout.
    fn output(mut self) -> String {
        use std::io::Read;
        let mut s = String::new();
        if let Some(o) = self.0.stdout.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        let _ = self.0.wait();
        s.trim().to_string()
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Files left in run/ (status files, QMP sockets, temporaries).
fn run_files(d: &Daemon) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d.run_dir())
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A start cut off by SIGKILL right after the fork (status file not yet
/// written), right after the status file (QEMU not yet exec'd) and once
/// QEMU runs paused waiting for `cont`: the held child never runs QEMU,
/// the running one is found and killed, and the next start makes exactly
/// one QEMU.
#[test]
fn a_start_killed_at_each_instant_leaves_one_qemu_or_none() {
    if !prerequisites() {
        return;
    }
    let kind = kind();
    let mut d = Daemon::new("fstart");
    for (i, (point, want)) in [
        ("start:forked", "shut off (unknown)"),
        ("start:status", "shut off (crashed)"),
        ("start:monitor", "shut off (daemon)"),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("fst{}", i);
        restart(&mut d, &format!("{}@{}", point, name));
        define(&d, &name, kind);
        let bg = Bg::virsh(&d, &["start", &name]);
        let m = marker(&d, point, &name);
        wait_for(point, Duration::from_secs(60), || m.exists());
        let daemon = d.pid().expect("running");
        let held = children(daemon);
        let recorded = d.qemu_pid(&name);
        let qemu_before = qemus_of(&name);
        match point {
            "start:forked" => assert_eq!(recorded, None, "no status file yet"),
            "start:status" => {
                assert!(recorded.is_some(), "status file names the child");
                assert!(held.contains(&recorded.unwrap()), "it is our held child");
                assert!(qemu_before.is_empty(), "QEMU does not run yet");
            }
            _ => assert_eq!(qemu_before, vec![recorded.unwrap()], "QEMU runs"),
        }
        d.kill9();
        drop(bg);
        if point != "start:monitor" {
            // The held child reads EOF and exits without running QEMU.
            wait_for("the held child to exit", Duration::from_secs(10), || {
                held.iter().all(|p| !alive(*p))
            });
            assert!(qemus_of(&name).is_empty(), "{}: QEMU ran", point);
        } else {
            assert_eq!(qemus_of(&name), qemu_before, "QEMU outlives the daemon");
        }
        restart(&mut d, "");
        let st = state(&d, &name);
        println!("{:<14} -> {}", point, st);
        assert_eq!(st, want, "{}", point);
        assert!(qemus_of(&name).is_empty(), "{}: no QEMU left", point);
        assert_eq!(
            run_files(&d),
            Vec::<String>::new(),
            "{}: run/ is clean",
            point
        );
        ok(&d, &["start", &name]);
        assert_eq!(state(&d, &name), "running (booted)");
        assert_eq!(qemus_of(&name).len(), 1, "{}: one QEMU", point);
        ok(&d, &["destroy", &name]);
        ok(&d, &["undefine", &name]);
    }
}

/// Starts held at once (each child waiting with its start pipe): a
/// daemon killed then leaves none of them blocked by another's copy of
/// its pipe, and none runs QEMU.
#[test]
fn concurrent_held_starts_all_exit_when_the_daemon_dies() {
    if !prerequisites() {
        return;
    }
    let kind = kind();
    let mut d = Daemon::new("fheld");
    let names: Vec<String> = (0..4).map(|i| format!("fh{}", i)).collect();
    for n in &names {
        define(&d, n, kind);
    }
    restart(&mut d, "start:status");
    let bgs: Vec<Bg> = names.iter().map(|n| Bg::virsh(&d, &["start", n])).collect();
    for n in &names {
        let m = marker(&d, "start:status", n);
        wait_for(
            "all four starts to be held",
            Duration::from_secs(60),
            || m.exists(),
        );
    }
    let held: Vec<i32> = names
        .iter()
        .map(|n| d.qemu_pid(n).expect("status"))
        .collect();
    assert!(held.iter().all(|p| alive(*p)));
    d.kill9();
    drop(bgs);
    wait_for("every held child to exit", Duration::from_secs(10), || {
        held.iter().all(|p| !alive(*p))
    });
    restart(&mut d, "");
    for n in &names {
        assert!(qemus_of(n).is_empty(), "{} ran QEMU", n);
        assert_eq!(state(&d, n), "shut off (crashed)");
        ok(&d, &["undefine", n]);
    }
    assert_eq!(run_files(&d), Vec::<String>::new());
}

/// A save cut off by SIGKILL: with the guest paused for it, during and
/// after QEMU's migration and once the image is complete, the next daemon
/// cancels the migration, resumes the guest (running, save canceled) on
/// the same QEMU and removes the image, so no stale managed save remains;
/// once QEMU is gone the save counts (shut off, saved; the image kept and
/// restorable).
#[test]
fn a_save_killed_at_each_instant_is_recovered() {
    if !prerequisites() {
        return;
    }
    let kind = kind();
    let mut d = Daemon::new("fsave");
    let points = [
        ("save:paused", true),
        ("save:migrating", true),
        ("save:migrated", true),
        ("save:complete", true),
        ("save:killed", true),
        ("save:migrated", false),
        ("save:killed", false),
    ];
    for (i, (point, managed)) in points.into_iter().enumerate() {
        let name = format!("fsv{}", i);
        let image = if managed {
            d.qemu_root().join(format!("save/{}.save", name))
        } else {
            d.dir.join(format!("{}.img", name))
        };
        restart(&mut d, &format!("{}@{}", point, name));
        define(&d, &name, kind);
        ok(&d, &["start", &name]);
        let pid = qemus_of(&name);
        assert_eq!(pid.len(), 1);
        let img = image.to_string_lossy().into_owned();
        let bg = if managed {
            Bg::virsh(&d, &["managedsave", &name])
        } else {
            Bg::virsh(&d, &["save", &name, &img])
        };
        let m = marker(&d, point, &name);
        wait_for(point, Duration::from_secs(60), || m.exists());
        d.kill9();
        drop(bg);
        restart(&mut d, "");
        let st = state(&d, &name);
        println!(
            "{:<15} {:<11} -> {}",
            point,
            if managed { "managedsave" } else { "save" },
            st
        );
        if point == "save:killed" {
            assert_eq!(st, "shut off (saved)");
            assert!(qemus_of(&name).is_empty());
            assert!(image.exists(), "the complete image is kept");
            if managed {
                assert!(managed_save(&d, &name));
                ok(&d, &["start", &name]);
                assert!(!image.exists(), "the managed save is consumed");
            } else {
                ok(&d, &["restore", &img]);
            }
            assert_eq!(state(&d, &name), "running (restored)");
        } else {
            assert_eq!(st, "running (save canceled)", "{}", point);
            assert_eq!(qemus_of(&name), pid, "the same QEMU, re-attached");
            assert!(!image.exists(), "{}: the image is removed", point);
            if managed {
                assert!(!managed_save(&d, &name), "no managed save left");
            }
            // The guest is usable: the save goes through now.
            ok(&d, &["managedsave", &name]);
            assert_eq!(state(&d, &name), "shut off (saved)");
            ok(&d, &["start", &name]);
            assert_eq!(state(&d, &name), "running (restored)");
        }
        assert_eq!(qemus_of(&name).len(), 1);
        ok(&d, &["destroy", &name]);
        ok(&d, &["undefine", &name]);
        let _ = std::fs::remove_file(&image);
        assert_eq!(run_files(&d), Vec::<String>::new());
    }
}

/// A save of a guest the user had paused, cut off by SIGKILL: before
/// QEMU wrote anything the guest stays paused and the image goes; once
/// QEMU wrote the whole stream (it is then in post-migrate, from which
/// only running the guest leads back) the next daemon finishes the save:
/// shut off (saved), the image complete and restorable, paused again.
#[test]
fn a_save_of_a_paused_guest_killed_after_qemu_finished_is_completed() {
    if !prerequisites() {
        return;
    }
    let kind = kind();
    let mut d = Daemon::new("fpsave");
    let points = [
        ("save:paused", true, "paused (user)"),
        ("save:migrated", true, "shut off (saved)"),
        ("save:migrated", false, "shut off (saved)"),
        ("save:complete", true, "shut off (saved)"),
    ];
    for (i, (point, managed, want)) in points.into_iter().enumerate() {
        let name = format!("fps{}", i);
        let image = if managed {
            d.qemu_root().join(format!("save/{}.save", name))
        } else {
            d.dir.join(format!("{}.img", name))
        };
        restart(&mut d, &format!("{}@{}", point, name));
        define(&d, &name, kind);
        ok(&d, &["start", &name]);
        ok(&d, &["suspend", &name]);
        let img = image.to_string_lossy().into_owned();
        let bg = if managed {
            Bg::virsh(&d, &["managedsave", &name])
        } else {
            Bg::virsh(&d, &["save", &name, &img])
        };
        let m = marker(&d, point, &name);
        wait_for(point, Duration::from_secs(60), || m.exists());
        d.kill9();
        drop(bg);
        restart(&mut d, "");
        let st = state(&d, &name);
        println!(
            "{:<15} paused {:<11} -> {}",
            point,
            if managed { "managedsave" } else { "save" },
            st
        );
        assert_eq!(st, want, "{}", point);
        if want == "shut off (saved)" {
            assert!(qemus_of(&name).is_empty());
            if managed {
                assert!(managed_save(&d, &name));
                ok(&d, &["start", &name]);
                assert!(!image.exists(), "the managed save is consumed");
            } else {
                ok(&d, &["restore", &img]);
            }
            assert!(state(&d, &name).starts_with("paused"), "restored paused");
        } else {
            assert!(!image.exists(), "{}: the image is removed", point);
            // QEMU is still a paused guest: the save goes through now.
            ok(&d, &["managedsave", &name]);
            assert_eq!(state(&d, &name), "shut off (saved)");
            ok(&d, &["start", &name]);
        }
        ok(&d, &["resume", &name]);
        assert_eq!(qemus_of(&name).len(), 1);
        ok(&d, &["destroy", &name]);
        ok(&d, &["undefine", &name]);
        let _ = std::fs::remove_file(&image);
        assert_eq!(run_files(&d), Vec::<String>::new());
    }
}

/// A start from a managed save cut off while QEMU loads the image (still
/// starting: killed, the image kept for the next start) and after it
/// runs but before the image is removed (the next daemon removes it).
#[test]
fn a_restore_killed_midway_keeps_or_consumes_the_image_consistently() {
    if !prerequisites() {
        return;
    }
    let kind = kind();
    let mut d = Daemon::new("frest");
    for (i, point) in ["start:monitor", "restore:started"].into_iter().enumerate() {
        let name = format!("frs{}", i);
        restart(&mut d, &format!("{}@{}", point, name));
        define(&d, &name, kind);
        // The first start of a defined domain pauses too (start:monitor):
        // let it through.
        let m = marker(&d, point, &name);
        let bg = Bg::virsh(&d, &["start", &name]);
        if point == "start:monitor" {
            wait_for("the first start", Duration::from_secs(60), || m.exists());
            std::fs::remove_file(&m).unwrap();
        }
        drop(bg.output());
        assert_eq!(state(&d, &name), "running (booted)");
        ok(&d, &["managedsave", &name]);
        let bg = Bg::virsh(&d, &["start", &name]);
        wait_for(point, Duration::from_secs(60), || m.exists());
        d.kill9();
        drop(bg);
        restart(&mut d, "");
        let st = state(&d, &name);
        println!("{:<16} -> {}", point, st);
        if point == "start:monitor" {
            assert_eq!(st, "shut off (daemon)");
            assert!(qemus_of(&name).is_empty());
            assert!(managed_save(&d, &name), "the image is kept");
            ok(&d, &["start", &name]);
            assert_eq!(state(&d, &name), "running (restored)");
        } else {
            assert_eq!(st, "running (restored)");
        }
        assert!(!managed_save(&d, &name), "the image is consumed");
        assert_eq!(qemus_of(&name).len(), 1);
        ok(&d, &["destroy", &name]);
        ok(&d, &["undefine", &name]);
        assert_eq!(run_files(&d), Vec::<String>::new());
    }
}

/// While one guest's re-attach is held, the daemon serves clients and
/// every other guest answers; calls on the held one wait and answer once
/// it is back.
#[test]
fn guests_answer_one_by_one_while_others_are_reattached() {
    if !prerequisites() {
        return;
    }
    let kind = kind();
    let mut d = Daemon::new("fre");
    let names: Vec<String> = (0..6).map(|i| format!("fre{}", i)).collect();
    for n in &names {
        define(&d, n, kind);
        ok(&d, &["start", n]);
    }
    ok(&d, &["suspend", &names[1]]);
    restart(&mut d, &format!("reconnect@{}", names[0]));
    let m = marker(&d, "reconnect", &names[0]);
    wait_for("the held re-attach", Duration::from_secs(30), || m.exists());
    // The connection and the other guests answer meanwhile.
    let t0 = Instant::now();
    ok(&d, &["version"]);
    assert_eq!(state(&d, &names[1]), "paused (user)");
    for n in &names[2..] {
        assert_eq!(state(&d, n), "running (booted)");
    }
    println!(
        "5 guests answered in {:?} while one re-attach was held",
        t0.elapsed()
    );
    let mut held = Bg::virsh(&d, &["domstate", "--reason", &names[0]]);
    let mut list = Bg::virsh(&d, &["list", "--name"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !held.done(),
        "the held guest's state waits for its re-attach"
    );
    assert!(!list.done(), "a listing waits for every re-attach");
    std::fs::remove_file(&m).unwrap();
    assert_eq!(held.output(), "running (booted)");
    let mut listed: Vec<String> = list.output().lines().map(str::to_string).collect();
    listed.sort();
    assert_eq!(listed, names);
    for n in &names {
        ok(&d, &["destroy", n]);
        assert!(qemus_of(n).is_empty());
    }
}

/// Temporaries of interrupted writes and QMP sockets no status file
/// names are removed at start; definitions load.
#[test]
fn stale_temporaries_are_removed_at_start() {
    if !prerequisites() {
        return;
    }
    let mut made = Vec::new();
    let d = Daemon::prepared("ftmp", &[], |dir| {
        let root = dir.join("lib/oxvirt/qemu");
        for sub in ["config/autostart", "run", "save", "log"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(
            root.join("config/keep.xml"),
            format!(
                "<domain type='qemu'><name>keep</name><memory>32768</memory>\
<os><type arch='x86_64'>hvm</type></os><devices><emulator>{}</emulator></devices></domain>",
                QEMU
            ),
        )
        .unwrap();
        for f in [
            "config/.keep.xml.tmp31.2",
            "config/.gone.xml.tmp4242",
            "run/.gone.json.tmp8.0",
            "run/gone.qmp",
            "config/autostart/.keep.tmp77",
        ] {
            std::fs::write(root.join(f), "<domain partial").unwrap();
            made.push(root.join(f));
        }
    });
    assert_eq!(ok(&d, &["list", "--all", "--name"]), "keep");
    for f in &made {
        assert!(!f.exists(), "{} removed", f.display());
    }
    assert!(d.qemu_root().join("config/keep.xml").exists());
}
