//! `oxvirtd --adopt-libvirt`: a host run by the real libvirtd 9.0 is
//! taken over in place, guests running, and checked through the real
//! virsh; then handed back with `--release-to-libvirt` and checked from
//! libvirtd's side. Along the way: refused while libvirtd holds the host,
//! a kill -9 in the middle of an adoption leaves libvirt's files
//! byte-identical and a second run completes it, a guest whose QEMU died
//! while no daemon watched is reported and left to libvirt, and a run
//! after a complete one changes nothing.
//!
//! The "host" is a mount namespace of the test's own (inside a network
//! namespace of its own) where temporary directories are bound over /run
//! (so /run/libvirtd.pid and /run/libvirt are private), /var/lib/libvirt,
//! /var/cache/libvirt, /var/log/libvirt and /etc/libvirt: libvirtd and
//! then oxvirtd run there with their default paths, exactly as on a real
//! host, and the shared reference libvirtd is never touched. Both serve
//! /run/libvirt/libvirt-sock, which the test reaches from outside at the
//! bound directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::netns::NetNs;
use common::qemu::{alive, kvm_usable, qemus_of, QEMU};

/// The private host: namespaces, directories, daemons.
struct Host {
    ns: NetNs,
    dir: PathBuf,
    holder: Child,
    oxvirtd: Option<Child>,
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "{} did not happen within {}s",
            what,
            secs
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Host {
    fn new(tag: &str) -> Host {
        let dir = PathBuf::from(format!("/tmp/oxadopt-{}-{}", tag, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["run/libvirt", "lib", "cache", "log", "etc", "img", "ox"] {
            std::fs::create_dir_all(dir.join(d)).expect("dirs");
        }
        let st = Command::new("cp")
            .arg("-a")
            .arg("/etc/libvirt/.")
            .arg(dir.join("etc"))
            .status()
            .expect("cp");
        assert!(st.success());
        // No virtlogd, no cgroups, no per-guest mount namespace.
        let conf = dir.join("etc/qemu.conf");
        let mut q = std::fs::read_to_string(&conf).unwrap_or_default();
        q.push_str("\nstdio_handler = \"file\"\ncgroup_controllers = [ ]\nnamespaces = [ ]\n");
        std::fs::write(&conf, q).expect("qemu.conf");
        let ns = NetNs::new("oxadopt").expect("netns");
        let d = dir.display();
        let script = format!(
            "mount --make-rprivate / && \
             mount --bind {d}/run /run && \
             mount --bind {d}/lib /var/lib/libvirt && \
             mount --bind {d}/cache /var/cache/libvirt && \
             mount --bind {d}/log /var/log/libvirt && \
             mount --bind {d}/etc /etc/libvirt && \
             touch {d}/ready && exec sleep 100000"
        );
        let holder = ns
            .command("unshare")
            .args(["-m", "sh", "-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .expect("mount namespace");
        let ready = dir.join("ready");
        wait_until("the mount namespace", 30, || ready.exists());
        Host {
            ns,
            dir,
            holder,
            oxvirtd: None,
        }
    }

    /// `prog args` inside the host's namespaces.
    fn command(&self, prog: &str) -> Command {
        let mut c = self.ns.command("nsenter");
        c.args(["-t", &self.holder.id().to_string(), "-m", "--", prog]);
        c
    }

    fn sh(&self, script: &str) -> Output {
        self.command("sh")
            .args(["-c", script])
            .stdin(Stdio::null())
            .output()
            .expect("sh in the namespace")
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("run/libvirt/libvirt-sock")
    }

    fn uri(&self) -> String {
        format!("qemu:///system?socket={}", self.socket().display())
    }

    fn virsh(&self, args: &[&str]) -> (String, String, bool) {
        let o = Command::new(common::VIRSH)
            .arg("-q")
            .arg("-c")
            .arg(self.uri())
            .args(args)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .expect("virsh");
        (
            String::from_utf8_lossy(&o.stdout).trim().to_string(),
            String::from_utf8_lossy(&o.stderr).trim().to_string(),
            o.status.success(),
        )
    }

    fn virsh_ok(&self, args: &[&str]) -> String {
        let (out, err, ok) = self.virsh(args);
        assert!(ok, "virsh {:?}: {}", args, err);
        out
    }

    fn libvirtd_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join("run/libvirtd.pid"))
            .ok()
            .and_then(|p| p.trim().parse().ok())
            .filter(|p| alive(*p))
    }

    fn start_libvirtd(&self) {
        let o = self.sh("libvirtd -d");
        assert!(
            o.status.success(),
            "libvirtd: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let s = self.socket();
        wait_until("libvirtd's socket", 60, || {
            std::os::unix::net::UnixStream::connect(&s).is_ok()
        });
    }

    fn stop_libvirtd(&self) {
        let Some(pid) = self.libvirtd_pid() else {
            return;
        };
        // SAFETY: kill(2) on the libvirtd this test started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        wait_until("libvirtd's exit", 60, || !alive(pid));
    }

    fn spawn_adopt(&self, log: &str) -> Child {
        self.spawn_adopt_env(log, &[])
    }

    fn spawn_adopt_env(&self, log: &str, env: &[(&str, &str)]) -> Child {
        let log = std::fs::File::create(self.dir.join(log)).expect("log");
        self.command(env!("CARGO_BIN_EXE_oxvirtd"))
            .envs(env.iter().copied())
            .arg("--root")
            .arg(self.dir.join("ox"))
            .args(["--libvirt-paths", "--adopt-libvirt"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("oxvirtd")
    }

    /// `oxvirtd --adopt-libvirt` while libvirtd serves: its exit status.
    fn adopt_refused(&self, log: &str) -> std::process::ExitStatus {
        let mut child = self.spawn_adopt(log);
        let t0 = Instant::now();
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return st;
            }
            if t0.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("oxvirtd did not refuse: {}", self.log(log));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `oxvirtd --root OX --libvirt-paths --adopt-libvirt` in the
    /// host; returns its exit status when it exits early (a refusal),
    /// else leaves it serving.
    fn adopt(&mut self, log: &str) -> Option<std::process::ExitStatus> {
        let mut child = self.spawn_adopt(log);
        let s = self.socket();
        let t0 = Instant::now();
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            if std::os::unix::net::UnixStream::connect(&s).is_ok() {
                self.oxvirtd = Some(child);
                return None;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "oxvirtd never listened"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `oxvirtd --root OX --libvirt-paths --release-to-libvirt`.
    fn release(&self, log: &str) -> std::process::ExitStatus {
        let log = std::fs::File::create(self.dir.join(log)).expect("log");
        self.command(env!("CARGO_BIN_EXE_oxvirtd"))
            .arg("--root")
            .arg(self.dir.join("ox"))
            .args(["--libvirt-paths", "--release-to-libvirt"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .status()
            .expect("oxvirtd")
    }

    fn stop_oxvirtd(&mut self) {
        if let Some(mut c) = self.oxvirtd.take() {
            // SAFETY: kill(2) on our child.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// The pid libvirt recorded for a running guest.
    fn libvirt_qemu_pid(&self, name: &str) -> i32 {
        let p = self.dir.join(format!("run/libvirt/qemu/{}.pid", name));
        std::fs::read_to_string(&p)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("no pid in {}", p.display()))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut c) = self.oxvirtd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(pid) = self.libvirtd_pid() {
            // SAFETY: kill(2) on the libvirtd this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // The guests run in the test's network namespace: killed with it.
        for p in self.ns.pids() {
            if p != self.holder.id() as i32 {
                // SAFETY: kill(2) on processes of our own namespace.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn guest_xml(name: &str, kind: &str, disk: Option<&Path>) -> String {
    let disk = disk
        .map(|p| {
            format!(
                "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
<source file='{}'/><target dev='vda' bus='virtio'/></disk>",
                p.display()
            )
        })
        .unwrap_or_default();
    format!(
        "<domain type='{kind}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
<os><type arch='x86_64'>hvm</type></os><features><acpi/></features><devices><emulator>{QEMU}</emulator>{disk}</devices></domain>"
    )
}

/// libvirt's QEMU files (status files, definitions, autostart links)
/// with their contents (a link's target).
fn libvirt_files(h: &Host) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    for d in ["run/libvirt/qemu", "etc/qemu", "etc/qemu/autostart"] {
        for e in std::fs::read_dir(h.dir.join(d))
            .expect("libvirt dir")
            .flatten()
        {
            let Ok(t) = e.file_type() else { continue };
            let data = if t.is_symlink() {
                std::fs::read_link(e.path())
                    .expect("link")
                    .into_os_string()
                    .into_encoded_bytes()
            } else if t.is_file() {
                std::fs::read(e.path()).expect("file")
            } else {
                continue;
            };
            v.push((e.path(), data));
        }
    }
    v.sort();
    v
}

/// `virsh domstate --reason` of every guest, by name.
fn states(h: &Host, names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                h.virsh_ok(&["domstate", "--reason", n]).to_string(),
            )
        })
        .collect()
}

fn field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

const SECRET: &str = "6f0e2b3c-8a51-4d57-9a6e-3b1c2d4e5f60";

/// The pool, its volume, the secret and the snapshot, as virsh shows
/// them.
fn check_storage(h: &Host) {
    assert_eq!(h.virsh_ok(&["snapshot-list", "ads", "--name"]), "s1");
    assert_eq!(h.virsh_ok(&["snapshot-current", "ads", "--name"]), "s1");
    let info = h.virsh_ok(&["pool-info", "adpool"]);
    assert_eq!(field(&info, "State:"), "running", "{}", info);
    assert_eq!(field(&info, "Autostart:"), "yes", "{}", info);
    let vols = h.virsh_ok(&["vol-list", "adpool"]);
    assert!(vols.contains("adk.qcow2"), "{}", vols);
    assert_eq!(h.virsh_ok(&["secret-get-value", SECRET]), "aGVsbG8=");
}

#[test]
fn adopt_a_libvirtd_host_in_place() {
    if !common::have("/usr/sbin/libvirtd") || !common::have(common::VIRSH) {
        println!("skipping: libvirtd or virsh is not installed");
        return;
    }
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    println!("accelerator: {}", kind);
    let mut h = Host::new("a");
    h.start_libvirtd();

    // Under libvirtd: a running guest with a qcow2 disk, a paused
    // transient one, a persistent shut-off one marked autostart.
    // The disk is a qcow2 volume of a dir pool; a secret with a value;
    // an iSCSI pool, a type oxvirtd has no backend for.
    let img = h.dir.join("img/adk.qcow2");
    let pool_dir = h.dir.join("img");
    h.virsh_ok(&[
        "pool-define-as",
        "adpool",
        "dir",
        "--target",
        &pool_dir.to_string_lossy(),
    ]);
    h.virsh_ok(&["pool-start", "adpool"]);
    h.virsh_ok(&["pool-autostart", "adpool"]);
    h.virsh_ok(&[
        "vol-create-as",
        "adpool",
        "adk.qcow2",
        "64M",
        "--format",
        "qcow2",
    ]);
    h.virsh_ok(&[
        "pool-define-as",
        "adiscsi",
        "iscsi",
        "--source-host",
        "127.0.0.1",
        "--source-dev",
        "iqn.2026-12.test.oxvirt:none",
        "--target",
        "/dev/disk/by-path",
    ]);
    let secret = h.dir.join("secret.xml");
    std::fs::write(
        &secret,
        format!(
            "<secret ephemeral='no' private='no'><uuid>{}</uuid>\
<usage type='ceph'><name>oxvirt-adopt</name></usage></secret>",
            SECRET
        ),
    )
    .unwrap();
    h.virsh_ok(&["secret-define", &secret.to_string_lossy()]);
    h.virsh_ok(&["secret-set-value", SECRET, "--base64", "aGVsbG8="]);
    h.virsh_ok(&[
        "vol-create-as",
        "adpool",
        "ads.qcow2",
        "64M",
        "--format",
        "qcow2",
    ]);
    let img_s = h.dir.join("img/ads.qcow2");
    for (name, disk) in [("adk", img.as_path()), ("ads", img_s.as_path())] {
        let f = h.dir.join(format!("{}.xml", name));
        std::fs::write(&f, guest_xml(name, kind, Some(disk))).unwrap();
        h.virsh_ok(&["define", &f.to_string_lossy()]);
    }
    // The shut-off guest has an internal snapshot.
    h.virsh_ok(&["snapshot-create-as", "ads", "s1"]);
    h.virsh_ok(&["start", "adk"]);
    h.virsh_ok(&["autostart", "ads"]);
    // One whose QEMU will die while no daemon watches.
    let f = h.dir.join("add.xml");
    std::fs::write(&f, guest_xml("add", kind, None)).unwrap();
    h.virsh_ok(&["define", &f.to_string_lossy()]);
    h.virsh_ok(&["start", "add"]);
    let f = h.dir.join("adp.xml");
    std::fs::write(&f, guest_xml("adp", kind, None)).unwrap();
    h.virsh_ok(&["create", &f.to_string_lossy()]);
    h.virsh_ok(&["suspend", "adp"]);
    let names = ["adk", "adp", "ads"];
    let before = states(&h, &names);
    println!("under libvirtd: {:?}", before);
    let pid_k = h.libvirt_qemu_pid("adk");
    let pid_p = h.libvirt_qemu_pid("adp");
    let id_k = h.virsh_ok(&["domid", "adk"]);

    // Refused while libvirtd holds the host; nothing changes.
    let st = h.adopt_refused("refused.log");
    assert!(!st.success());
    let log = h.log("refused.log");
    assert!(log.contains("libvirt still holds this host"), "{}", log);
    assert_eq!(states(&h, &names), before);
    assert!(h.dir.join("run/libvirt/qemu/adk.xml").exists());

    h.stop_libvirtd();
    assert!(alive(pid_k) && alive(pid_p), "guests outlive libvirtd");
    let pid_d = h.libvirt_qemu_pid("add");
    // SAFETY: kill(2) on a QEMU of this test.
    unsafe { libc::kill(pid_d, libc::SIGKILL) };
    wait_until("add's QEMU exit", 30, || !alive(pid_d));

    // kill -9 in the middle of an adoption (oxvirtd's own files written,
    // a guest being re-attached): libvirt's files are intact.
    let files_before = libvirt_files(&h);
    let mut c = h.spawn_adopt_env("adopt0.log", &[("OXVIRT_PAUSE_AT", "reconnect@adk")]);
    let marker = h.dir.join("ox/lib/oxvirt/qemu/debug-pause/reconnect@adk");
    wait_until("the adoption's pause", 120, || marker.exists());
    c.kill().expect("kill -9");
    let _ = c.wait();
    assert_eq!(libvirt_files(&h), files_before, "libvirt's files intact");
    assert!(alive(pid_k) && alive(pid_p), "no guest killed");
    let _ = std::fs::remove_file(&marker);

    assert!(h.adopt("adopt1.log").is_none(), "{}", h.log("adopt1.log"));
    let log = h.log("adopt1.log");
    println!("{}", log);
    // The second run completes the first: the three were staged then.
    assert!(
        log.contains("0 adopted, 3 already here, 2 left to libvirt"),
        "{}",
        log
    );
    assert!(
        log.contains(&format!(
            "domain add: its QEMU (pid {}) is not running",
            pid_d
        )),
        "{}",
        log
    );
    assert!(
        log.contains("pool adiscsi: pool type 'iscsi' is not supported here"),
        "{}",
        log
    );
    assert!(h.dir.join("etc/storage/adiscsi.xml").exists());
    // The pool and the secret went over in the first run (their files
    // are copies and need no takeover), libvirt's renamed.
    for f in [
        "etc/storage/adpool.xml.oxvirt-adopted",
        "etc/storage/autostart/adpool.xml.oxvirt-adopted",
        "run/libvirt/storage/adpool.xml.oxvirt-adopted",
    ] {
        assert!(std::fs::symlink_metadata(h.dir.join(f)).is_ok(), "{}", f);
    }
    let s = format!("etc/secrets/{}.base64.oxvirt-adopted", SECRET);
    assert!(h.dir.join(s).exists());
    // What was left is libvirt's, untouched.
    assert!(h.dir.join("run/libvirt/qemu/add.xml").exists());
    assert!(h.dir.join("etc/qemu/add.xml").exists());
    let (_, _, ok) = h.virsh(&["domstate", "add"]);
    assert!(!ok, "add is not listed by oxvirtd");

    // Same states and reasons, same ids, same QEMUs (none restarted).
    assert_eq!(states(&h, &names), before);
    assert_eq!(h.virsh_ok(&["domid", "adk"]), id_k);
    assert_eq!(qemus_of("adk"), vec![pid_k]);
    assert_eq!(qemus_of("adp"), vec![pid_p]);
    let list = h.virsh_ok(&["list", "--all"]);
    for n in names {
        assert!(list.contains(n), "{}", list);
    }
    assert_eq!(
        field(&h.virsh_ok(&["dominfo", "ads"]), "Autostart:"),
        "enable"
    );
    assert_eq!(
        field(&h.virsh_ok(&["dominfo", "adk"]), "Persistent:"),
        "yes"
    );
    assert_eq!(field(&h.virsh_ok(&["dominfo", "adp"]), "Persistent:"), "no");
    check_storage(&h);
    let (_, _, ok) = h.virsh(&["pool-info", "adiscsi"]);
    assert!(!ok, "the iSCSI pool stays libvirt's");
    // libvirt's aliases kept.
    let xml = h.virsh_ok(&["dumpxml", "adk"]);
    assert!(xml.contains("<alias name='virtio-disk0'/>"), "{}", xml);
    // libvirt's files are out of a later libvirtd's sight, kept whole.
    let q = h.dir.join("run/libvirt/qemu");
    assert!(!q.join("adk.xml").exists() && q.join("adk.xml.oxvirt-adopted").exists());
    assert!(h.dir.join("etc/qemu/ads.xml.oxvirt-adopted").exists());
    assert!(
        std::fs::symlink_metadata(h.dir.join("etc/qemu/autostart/ads.xml.oxvirt-adopted")).is_ok()
    );
    assert!(std::fs::symlink_metadata(h.dir.join("etc/qemu/autostart/ads.xml")).is_err());

    // The adopted guests are served: suspend/resume, stats, destroy.
    h.virsh_ok(&["suspend", "adk"]);
    assert_eq!(
        h.virsh_ok(&["domstate", "--reason", "adk"]),
        "paused (user)"
    );
    h.virsh_ok(&["resume", "adk"]);
    assert_eq!(
        h.virsh_ok(&["domstate", "--reason", "adk"]),
        "running (unpaused)"
    );
    let stats = h.virsh_ok(&["domstats", "adk"]);
    assert!(stats.contains("state.state=1"), "{}", stats);
    assert!(stats.contains("block.0.name=vda"), "{}", stats);
    let blk = h.virsh_ok(&["domblkstat", "adk", "vda"]);
    assert!(blk.contains("rd_req"), "{}", blk);
    // A disk hot-plugged next to libvirt's devices (a guest with no OS
    // never acknowledges an unplug, so it stays).
    let hp = h.dir.join("img/hp.raw");
    std::fs::write(&hp, vec![0u8; 1 << 20]).unwrap();
    h.virsh_ok(&["attach-disk", "adk", &hp.to_string_lossy(), "vdb"]);
    let list = h.virsh_ok(&["domblklist", "adk"]);
    assert!(list.contains("vdb"), "{}", list);
    let blk = h.virsh_ok(&["domblkstat", "adk", "vdb"]);
    assert!(blk.contains("rd_req"), "{}", blk);
    assert_eq!(qemus_of("adk"), vec![pid_k]);

    // Idempotent: a second run over what the first left changes nothing.
    h.stop_oxvirtd();
    assert!(alive(pid_k) && alive(pid_p), "guests outlive oxvirtd");
    assert!(h.adopt("adopt2.log").is_none(), "{}", h.log("adopt2.log"));
    let log = h.log("adopt2.log");
    assert!(
        log.contains("0 adopted, 0 already here, 2 left to libvirt"),
        "{}",
        log
    );
    assert_eq!(qemus_of("adk"), vec![pid_k]);
    assert_eq!(
        h.virsh_ok(&["domstate", "--reason", "adk"]),
        "running (unpaused)"
    );
    assert_eq!(
        h.virsh_ok(&["domstate", "--reason", "adp"]),
        "paused (user)"
    );

    // destroy of an adopted guest.
    h.virsh_ok(&["destroy", "adp"]);
    wait_until("adp's QEMU exit", 30, || !alive(pid_p));
    let (_, err, ok) = h.virsh(&["domstate", "adp"]);
    assert!(!ok && err.contains("failed to get domain"), "{}", err);

    // Hand back: refused while oxvirtd serves, then libvirtd re-attaches
    // the guest it had, in the state oxvirtd left it.
    let st = h.release("release-refused.log");
    assert!(!st.success());
    assert!(
        h.log("release-refused.log").contains("stop oxvirtd first"),
        "{}",
        h.log("release-refused.log")
    );
    h.virsh_ok(&["suspend", "adk"]);
    h.stop_oxvirtd();
    let st = h.release("release.log");
    let log = h.log("release.log");
    println!("{}", log);
    assert!(st.success(), "{}", log);
    assert!(
        log.contains("4 handed back to libvirt, 0 kept by oxvirtd"),
        "{}",
        log
    );
    assert!(alive(pid_k));
    h.start_libvirtd();
    assert_eq!(qemus_of("adk"), vec![pid_k]);
    assert_eq!(
        h.virsh_ok(&["domstate", "--reason", "adk"]),
        "paused (user)"
    );
    assert_eq!(h.virsh_ok(&["domid", "adk"]), id_k);
    assert_eq!(h.virsh_ok(&["domstate", "--reason", "ads"]), before[2].1);
    check_storage(&h);
    let info = h.virsh_ok(&["pool-info", "adiscsi"]);
    assert_eq!(field(&info, "State:"), "inactive", "{}", info);
    // The guest whose QEMU died is libvirt's again, shut off.
    assert!(
        h.virsh_ok(&["domstate", "add"]).starts_with("shut off"),
        "add under libvirtd"
    );
    assert_eq!(
        field(&h.virsh_ok(&["dominfo", "ads"]), "Autostart:"),
        "enable"
    );
    let (_, _, ok) = h.virsh(&["domstate", "adp"]);
    assert!(!ok, "adp was destroyed under oxvirtd");
    h.virsh_ok(&["resume", "adk"]);
    let stats = h.virsh_ok(&["domstats", "adk"]);
    assert!(stats.contains("block.0.name=vda"), "{}", stats);
    h.virsh_ok(&["destroy", "adk"]);
    wait_until("adk's QEMU exit", 30, || !alive(pid_k));
    h.stop_libvirtd();
}
