//! Live migration between two oxvirtd hosts with the real virsh and
//! python3-libvirt. Each host is an oxvirtd with its own root, host UUID
//! and network namespace; the test joins the namespaces with a veth pair
//! (10.77.0.1 ⇄ 10.77.0.2), over which the daemons talk (peer-to-peer)
//! and QEMU's migration stream travels. Clients reach the daemons on
//! their unix sockets. Guests have no OS and run under TCG.
//!
//! - `p2p_then_managed_back`: `virsh migrate --live --p2p --persistent
//!   --undefinesource` to the other host, libvirt's lifecycle events on
//!   both sides, the guest running there and gone here; then back with a
//!   managed direct migration (virsh drives both daemons) and `--dname`.
//! - `nova_flags_python`: python3-libvirt's migrateToURI3 with Nova's
//!   flags and parameters.
//! - `abort_leaves_guest_at_source`: domjobinfo on the source while the
//!   migration waits at its switch-over, domjobabort, and the guest runs
//!   on at the source only (the destination's incoming QEMU is gone).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use common::netns::{temp_dir, virsh, NetNs, NsDaemon};
use common::qemu::{installed, no_os_xml, QEMU};
use common::{PYTHON, VIRSH};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/migration.py");

/// Two hosts joined by a veth pair.
struct Hosts {
    // Daemons first: they go before their namespaces.
    src: NsDaemon,
    dst: NsDaemon,
    _src_ns: NetNs,
    _dst_ns: NetNs,
}

fn ip(ns: &NetNs, args: &[&str]) {
    let st = ns.command("ip").args(args).status().expect("ip");
    assert!(st.success(), "ip {:?} failed", args);
}

fn host_dir(tag: &str, n: u8) -> PathBuf {
    let dir = temp_dir(tag);
    let conf = format!(
        "listen_tcp = 1\nlisten_tls = 0\nlisten_addr = \"10.77.0.{n}\"\nauth_tcp = \"none\"\ntcp_remote_unauthenticated = 1\n\
         host_uuid = \"6a1f8a1e-2b1c-4c39-b2a7-4c1a2e0d1f0{n}\"\n\
         migration_host = \"10.77.0.{n}\"\n"
    );
    std::fs::write(dir.join("oxvirtd.conf"), conf).expect("config");
    dir
}

impl Hosts {
    fn new(tag: &str, src_env: &[(&str, &str)]) -> Hosts {
        let a = NetNs::new("mig-a").expect("netns");
        let b = NetNs::new("mig-b").expect("netns");
        ip(
            &a,
            &[
                "link",
                "add",
                "mig0",
                "type",
                "veth",
                "peer",
                "name",
                "mig1",
                "netns",
                b.name(),
            ],
        );
        ip(&a, &["addr", "add", "10.77.0.1/24", "dev", "mig0"]);
        ip(&a, &["link", "set", "mig0", "up"]);
        ip(&b, &["addr", "add", "10.77.0.2/24", "dev", "mig1"]);
        ip(&b, &["link", "set", "mig1", "up"]);
        let src = NsDaemon::start_full(
            &a,
            host_dir(&format!("{}-src", tag), 1),
            &["--listen"],
            src_env,
        );
        let dst =
            NsDaemon::start_full(&b, host_dir(&format!("{}-dst", tag), 2), &["--listen"], &[]);
        Hosts {
            src,
            dst,
            _src_ns: a,
            _dst_ns: b,
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        // A test that failed at a pause point lets the daemon go on.
        let pauses = self.src.dir.join("lib/oxvirt/qemu/debug-pause");
        if let Ok(rd) = std::fs::read_dir(pauses) {
            for e in rd.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
        for d in [&self.src, &self.dst] {
            let uri = d.uri();
            let (out, _, _) = virsh(&uri, &["list", "--name"]);
            for name in out.lines().filter(|l| !l.trim().is_empty()) {
                virsh(&uri, &["destroy", name.trim()]);
            }
        }
        // The daemons' roots go with them (their namespaces after).
        self.src.stop();
        self.dst.stop();
        let _ = std::fs::remove_dir_all(&self.src.dir);
        let _ = std::fs::remove_dir_all(&self.dst.dir);
    }
}

/// A python3-libvirt lifecycle listener on `uri`.
struct Events {
    child: Child,
    rx: Receiver<String>,
    seen: Vec<(String, i32, i32)>,
}

impl Events {
    fn start(uri: &str) -> Events {
        let mut child = Command::new(PYTHON)
            .args([SCRIPT, "events", uri])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("listener ready");
        assert_eq!(ready, "READY");
        Events {
            child,
            rx,
            seen: Vec::new(),
        }
    }

    /// Waits until the events of `name` are `want` (event, detail) in
    /// this order, and returns them.
    fn expect(&mut self, name: &str, want: &[(i32, i32)]) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got: Vec<(i32, i32)> = self
                .seen
                .iter()
                .filter(|e| e.0 == name)
                .map(|e| (e.1, e.2))
                .collect();
            if got.len() >= want.len() {
                assert_eq!(got, want, "events of {}", name);
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => panic!("events of {}: {:?}, want {:?}", name, got, want),
            };
            let (n, e, d): (String, i32, i32) = parse_event(&line);
            self.seen.push((n, e, d));
        }
    }
}

fn parse_event(line: &str) -> (String, i32, i32) {
    // ["name", event, detail]
    let inner = line.trim().trim_start_matches('[').trim_end_matches(']');
    let mut parts = inner.rsplitn(3, ',');
    let d = parts
        .next()
        .and_then(|s| s.trim().parse().ok())
        .expect("detail");
    let e = parts
        .next()
        .and_then(|s| s.trim().parse().ok())
        .expect("event");
    let n = parts
        .next()
        .expect("name")
        .trim()
        .trim_matches('"')
        .to_string();
    (n, e, d)
}

impl Drop for Events {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

// Lifecycle (event, detail) pairs.
const DEFINED_ADDED: (i32, i32) = (0, 0);
const STARTED_MIGRATED: (i32, i32) = (2, 1);
const SUSPENDED_MIGRATED: (i32, i32) = (3, 1);
const RESUMED_MIGRATED: (i32, i32) = (4, 1);
const STOPPED_MIGRATED: (i32, i32) = (5, 3);
const STOPPED_FAILED: (i32, i32) = (5, 5);

fn ok(uri: &str, args: &[&str]) -> String {
    let (out, err, rc) = virsh(uri, args);
    assert_eq!(rc, 0, "virsh {:?}: {}{}", args, out, err);
    out
}

fn define_and_start(uri: &str, name: &str) {
    let xml = no_os_xml(name, "qemu", 64);
    let f = std::env::temp_dir().join(format!("mig-{}-{}.xml", name, std::process::id()));
    std::fs::write(&f, xml).expect("xml");
    ok(uri, &["define", f.to_str().expect("path")]);
    ok(uri, &["start", name]);
    let _ = std::fs::remove_file(f);
}

fn state(uri: &str, name: &str) -> String {
    ok(uri, &["domstate", name, "--reason"]).trim().to_string()
}

fn names(uri: &str) -> Vec<String> {
    ok(uri, &["list", "--all", "--name"])
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn prerequisites() -> bool {
    installed(&[VIRSH, PYTHON, QEMU, "/usr/sbin/ip"])
}

#[test]
fn p2p_then_managed_back() {
    if !prerequisites() {
        return;
    }
    let h = Hosts::new("p2p", &[]);
    let (src, dst) = (h.src.uri(), h.dst.uri());
    define_and_start(&src, "mig1");
    let mut es = Events::start(&src);
    let mut ed = Events::start(&dst);

    // Peer-to-peer: the source daemon opens the destination over TCP.
    ok(
        &src,
        &[
            "migrate",
            "--live",
            "--p2p",
            "--persistent",
            "--undefinesource",
            "mig1",
            "qemu+tcp://10.77.0.2/system",
        ],
    );
    assert_eq!(state(&dst, "mig1"), "running (migrated)");
    assert!(
        !names(&src).contains(&"mig1".to_string()),
        "source keeps it"
    );
    assert!(ok(&dst, &["dominfo", "mig1"]).contains("Persistent:     yes"));
    es.expect("mig1", &[SUSPENDED_MIGRATED, STOPPED_MIGRATED]);
    ed.expect("mig1", &[STARTED_MIGRATED, DEFINED_ADDED, RESUMED_MIGRATED]);

    // Back, managed direct (virsh drives both daemons), renamed.
    let src_direct = format!("qemu+unix:///system?socket={}", h.src.socket.display());
    ok(
        &dst,
        &["migrate", "--live", "--dname", "back1", "mig1", &src_direct],
    );
    assert_eq!(state(&src, "back1"), "running (migrated)");
    // Transient at the source; the destination keeps its definition.
    assert!(ok(&src, &["dominfo", "back1"]).contains("Persistent:     no"));
    assert_eq!(state(&dst, "mig1"), "shut off (migrated)");
    ed.expect(
        "mig1",
        &[
            STARTED_MIGRATED,
            DEFINED_ADDED,
            RESUMED_MIGRATED,
            SUSPENDED_MIGRATED,
            STOPPED_MIGRATED,
        ],
    );
    es.expect("back1", &[STARTED_MIGRATED, RESUMED_MIGRATED]);
}

#[test]
fn nova_flags_python() {
    if !prerequisites() {
        return;
    }
    let h = Hosts::new("nova", &[]);
    let (src, dst) = (h.src.uri(), h.dst.uri());
    define_and_start(&src, "nova1");
    let o = Command::new(PYTHON)
        .args([
            SCRIPT,
            "nova",
            &src,
            "nova1",
            "qemu+tcp://10.77.0.2/system",
            &dst,
        ])
        .output()
        .expect("python3");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{}{}",
        out,
        String::from_utf8_lossy(&o.stderr)
    );
    // running (1), migrated (2), persistent
    assert!(
        out.contains(r#""state": 1, "reason": 2, "persistent": 1"#),
        "{}",
        out
    );
    assert!(names(&src).is_empty());
}

#[test]
fn abort_leaves_guest_at_source() {
    if !prerequisites() {
        return;
    }
    let h = Hosts::new("abort", &[("OXVIRT_PAUSE_AT", "migrate:started")]);
    let (src, dst) = (h.src.uri(), h.dst.uri());
    define_and_start(&src, "ab1");
    let mut es = Events::start(&src);
    let mut ed = Events::start(&dst);
    let mut mig = spawn_p2p(&src, "ab1");
    // The source daemon holds the migration right after `migrate`:
    // QEMU waits at its switch-over (pause-before-switchover).
    let marker = h
        .src
        .dir
        .join("lib/oxvirt/qemu/debug-pause/migrate:started@ab1");
    wait_for(&marker);
    let info = ok(&src, &["domjobinfo", "ab1"]);
    assert!(info.contains("Job type:         Unbounded"), "{}", info);
    assert!(
        info.contains("Operation:        Outgoing migration"),
        "{}",
        info
    );
    // The destination has an incoming guest, paused, and no statistics.
    assert_eq!(state(&dst, "ab1"), "paused (migrating)");
    let (_, err, rc) = virsh(&dst, &["domjobinfo", "ab1"]);
    assert_ne!(rc, 0);
    assert!(
        err.contains("migration statistics are available only on the source host"),
        "{}",
        err
    );
    ok(&src, &["domjobabort", "ab1"]);
    std::fs::remove_file(&marker).expect("release");
    let o = wait_child(&mut mig);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("operation aborted: job 'migration out' canceled by client"),
        "{}",
        err
    );
    assert_eq!(state(&src, "ab1"), "running (migration canceled)");
    assert!(
        names(&dst).is_empty(),
        "destination keeps {:?}",
        names(&dst)
    );
    es.expect("ab1", &[SUSPENDED_MIGRATED, RESUMED_MIGRATED]);
    ed.expect("ab1", &[STARTED_MIGRATED, STOPPED_FAILED]);
    // A second attempt succeeds.
    let mut mig = spawn_p2p(&src, "ab1");
    wait_for(&marker);
    std::fs::remove_file(&marker).expect("release");
    let o = wait_child(&mut mig);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(state(&dst, "ab1"), "running (migrated)");
    // Without --undefinesource the source keeps its definition.
    assert_eq!(state(&src, "ab1"), "shut off (migrated)");
}

#[test]
fn destination_daemon_killed_mid_migration() {
    if !prerequisites() {
        return;
    }
    let mut h = Hosts::new("dkill", &[("OXVIRT_PAUSE_AT", "migrate:started")]);
    let (src, dst) = (h.src.uri(), h.dst.uri());
    define_and_start(&src, "dk1");
    let mut mig = spawn_p2p(&src, "dk1");
    let marker = h
        .src
        .dir
        .join("lib/oxvirt/qemu/debug-pause/migrate:started@dk1");
    wait_for(&marker);
    assert_eq!(state(&dst, "dk1"), "paused (migrating)");
    // kill -9 of the destination daemon while QEMU waits at the
    // switch-over, and a restart: it kills the unfinished incoming QEMU.
    h.dst.kill9();
    let dir = h.dst.dir.clone();
    h.dst = NsDaemon::start_full(&h._dst_ns, dir, &["--listen"], &[]);
    let t0 = Instant::now();
    while names(&dst).contains(&"dk1".to_string()) {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "incoming guest kept"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::remove_file(&marker).expect("release");
    let o = wait_child(&mut mig);
    assert!(!o.status.success());
    // The guest runs at the source only.
    assert_eq!(state(&src, "dk1"), "running (migration canceled)");
    assert!(names(&dst).is_empty());
    let info = ok(&src, &["domjobinfo", "dk1"]);
    assert!(info.contains("Job type:         None"), "{}", info);
}

/// `virsh migrate --live --p2p NAME` to the other host, in the background.
fn spawn_p2p(src: &str, name: &str) -> Child {
    Command::new(VIRSH)
        .args(["-c", src, "migrate", "--live", "--p2p", name])
        .arg("qemu+tcp://10.77.0.2/system")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("virsh")
}

#[test]
fn offline_and_unix_socket() {
    if !prerequisites() {
        return;
    }
    let h = Hosts::new("offline", &[]);
    let (src, dst) = (h.src.uri(), h.dst.uri());
    let mut ed = Events::start(&dst);
    // Offline, managed: only the definition moves.
    let xml = no_os_xml("off1", "qemu", 64);
    let f = h.src.dir.join("off1.xml");
    std::fs::write(&f, xml).expect("xml");
    ok(&src, &["define", f.to_str().expect("path")]);
    let dst_direct = format!("qemu+unix:///system?socket={}", h.dst.socket.display());
    let (out, err, rc) = virsh(&src, &["migrate", "--offline", "off1", &dst_direct]);
    assert_ne!(rc, 0, "{}", out);
    assert!(
        err.contains("offline migration must be specified with the persistent flag set"),
        "{}",
        err
    );
    ok(
        &src,
        &["migrate", "--offline", "--persistent", "off1", &dst_direct],
    );
    assert_eq!(state(&dst, "off1"), "shut off (unknown)");
    assert_eq!(state(&src, "off1"), "shut off (unknown)");
    ed.expect("off1", &[DEFINED_ADDED]);
    // Peer-to-peer, offline, and the source forgets it.
    ok(&dst, &["undefine", "off1"]);
    ok(
        &src,
        &[
            "migrate",
            "--offline",
            "--persistent",
            "--undefinesource",
            "--p2p",
            "off1",
            "qemu+tcp://10.77.0.2/system",
        ],
    );
    assert!(names(&src).is_empty());
    assert_eq!(state(&dst, "off1"), "shut off (unknown)");

    // Live over a unix socket both QEMUs see (p2p; QEMU listens on it).
    define_and_start(&src, "ux1");
    let sock = h.dst.dir.join("mig.sock");
    let uri = format!("unix://{}", sock.display());
    ok(
        &src,
        &[
            "migrate",
            "--live",
            "--p2p",
            "ux1",
            "qemu+tcp://10.77.0.2/system",
            "--migrateuri",
            &uri,
        ],
    );
    assert_eq!(state(&dst, "ux1"), "running (migrated)");
    assert_eq!(state(&src, "ux1"), "shut off (migrated)");
}

fn wait_for(p: &Path) {
    let t0 = Instant::now();
    while !p.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "{} never appeared",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_child(c: &mut Child) -> std::process::Output {
    let t0 = Instant::now();
    loop {
        if c.try_wait().expect("wait").is_some() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "virsh migrate hangs"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = Vec::new();
    let mut err = Vec::new();
    use std::io::Read;
    if let Some(mut s) = c.stdout.take() {
        let _ = s.read_to_end(&mut out);
    }
    if let Some(mut s) = c.stderr.take() {
        let _ = s.read_to_end(&mut err);
    }
    let status = c.wait().expect("status");
    let _ = std::io::stdout().flush();
    std::process::Output {
        status,
        stdout: out,
        stderr: err,
    }
}
