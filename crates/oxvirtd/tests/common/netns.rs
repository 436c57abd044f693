//! Daemons inside network namespaces of the test's own: oxvirtd, and the
//! reference libvirtd 9.0 in private mount + network namespaces (its run,
//! state, cache, log and configuration directories are temporary
//! directories bound over the system ones, so the shared reference
//! instance is never touched). Everything goes when the guards drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use oxvirt_netdev::testns::NetNs;

fn wait_for(path: &Path, what: &str) {
    let t0 = Instant::now();
    while !path.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{} never appeared",
            what
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "oxnet-{}-{}-{}",
        tag,
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// libvirtd 9.0 in `ns`, with private directories.
pub struct RefLibvirtd {
    pub dir: PathBuf,
    pub socket: PathBuf,
}

impl RefLibvirtd {
    pub fn start(ns: &NetNs) -> RefLibvirtd {
        let dir = temp_dir("ref");
        for d in ["run", "lib", "cache", "log", "etc"] {
            std::fs::create_dir_all(dir.join(d)).expect("ref dirs");
        }
        let st = Command::new("cp")
            .arg("-a")
            .arg("/etc/libvirt/.")
            .arg(dir.join("etc"))
            .status()
            .expect("cp");
        assert!(st.success());
        let d = dir.display();
        let script = format!(
            "mount --make-rprivate / && \
             mount --bind {d}/run /run/libvirt && \
             mount --bind {d}/lib /var/lib/libvirt && \
             mount --bind {d}/cache /var/cache/libvirt && \
             mount --bind {d}/log /var/log/libvirt && \
             mount --bind {d}/etc /etc/libvirt && \
             exec libvirtd -d -p {d}/libvirtd.pid"
        );
        let st = ns
            .command("unshare")
            .args(["-m", "sh", "-c", &script])
            .stdin(Stdio::null())
            .status()
            .expect("libvirtd");
        assert!(st.success(), "libvirtd did not start");
        let socket = dir.join("run/libvirt-sock");
        wait_for(&socket, "libvirtd's socket");
        RefLibvirtd { dir, socket }
    }

    pub fn uri(&self) -> String {
        format!("qemu:///system?socket={}", self.socket.display())
    }
}

impl Drop for RefLibvirtd {
    fn drop(&mut self) {
        if let Ok(p) = std::fs::read_to_string(self.dir.join("libvirtd.pid")) {
            if let Ok(pid) = p.trim().parse::<i32>() {
                // SAFETY: kill(2) on the daemon this guard started.
                unsafe { libc::kill(pid, libc::SIGTERM) };
                let t0 = Instant::now();
                while Path::new(&format!("/proc/{}", pid)).exists()
                    && t0.elapsed() < Duration::from_secs(10)
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// oxvirtd in `ns`, serving qemu:///system from a root of its own.
pub struct NsDaemon {
    pub child: Child,
    pub dir: PathBuf,
    pub socket: PathBuf,
}

impl NsDaemon {
    pub fn start(ns: &NetNs, tag: &str) -> NsDaemon {
        let dir = temp_dir(tag);
        NsDaemon::start_at(ns, dir)
    }

    /// A daemon on an existing root (a restart).
    pub fn start_at(ns: &NetNs, dir: PathBuf) -> NsDaemon {
        NsDaemon::start_full(ns, dir, &[], &[])
    }

    /// A daemon on `dir` (its `oxvirtd.conf` is used when the caller
    /// wrote one) with extra arguments and environment.
    pub fn start_full(ns: &NetNs, dir: PathBuf, args: &[&str], env: &[(&str, &str)]) -> NsDaemon {
        let socket = dir.join("sock");
        let _ = std::fs::remove_file(&socket);
        let conf = dir.join("oxvirtd.conf");
        if !conf.exists() {
            std::fs::write(&conf, "").expect("config");
        }
        let child = ns
            .command(env!("CARGO_BIN_EXE_oxvirtd"))
            .arg("--root")
            .arg(&dir)
            .arg("--socket")
            .arg(&socket)
            .arg("-f")
            .arg(&conf)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .spawn()
            .expect("oxvirtd starts");
        wait_for(&socket, "oxvirtd's socket");
        NsDaemon { child, dir, socket }
    }

    pub fn uri(&self) -> String {
        format!("qemu:///system?socket={}", self.socket.display())
    }

    /// kill -9, as a crash.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        // Once reaped, its pid may be someone else's.
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // SAFETY: kill(2) on our child, not yet reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Drop for NsDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `virsh -c URI ARGS` and returns (stdout, stderr, status).
pub fn virsh(uri: &str, args: &[&str]) -> (String, String, i32) {
    run_cli(Path::new(super::VIRSH), uri, args)
}

/// Runs a virsh-compatible `tool -c URI ARGS`: (stdout, stderr, status).
pub fn run_cli(tool: &Path, uri: &str, args: &[&str]) -> (String, String, i32) {
    let o = Command::new(tool)
        .arg("-c")
        .arg(uri)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("virsh");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}
