//! The QEMU tests' harness: an oxvirtd serving `qemu:///system` under its
//! own --root that can be killed and restarted, clients run against it,
//! and the tiny guest. Every QEMU a daemon's root lists is killed when the
//! harness is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const QEMU: &str = "/usr/bin/qemu-system-x86_64";

pub struct QemuDaemon {
    child: Option<Child>,
    pub dir: PathBuf,
    pub socket: PathBuf,
    /// Extra environment for the daemon (e.g. OXVIRT_PAUSE_AT).
    pub env: Vec<(String, String)>,
    /// Extra arguments for the daemon (e.g. --metrics).
    pub args: Vec<String>,
}

impl QemuDaemon {
    pub fn new(tag: &str) -> QemuDaemon {
        Self::prepared(tag, &[], |_| {})
    }

    /// A daemon with `env` in its environment, started after `prepare`
    /// has seen its (empty) directory.
    pub fn prepared(tag: &str, env: &[(&str, &str)], prepare: impl FnOnce(&Path)) -> QemuDaemon {
        Self::prepared_with_args(tag, env, &[], prepare)
    }

    /// A daemon started with `args` besides --root and --socket.
    pub fn prepared_with_args(
        tag: &str,
        env: &[(&str, &str)],
        args: &[&str],
        prepare: impl FnOnce(&Path),
    ) -> QemuDaemon {
        // Short paths: QMP sockets live below the root.
        let dir = PathBuf::from(format!("/tmp/oxq-{}-{}", tag, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        prepare(&dir);
        let socket = dir.join("sock");
        let mut d = QemuDaemon {
            child: None,
            dir,
            socket,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        d.start();
        d
    }

    /// The QEMU driver's root below the daemon's.
    pub fn qemu_root(&self) -> PathBuf {
        self.dir.join("lib/oxvirt/qemu")
    }

    /// Starts (or restarts) the daemon and waits for its socket.
    pub fn start(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
        let child = Command::new(env!("CARGO_BIN_EXE_oxvirtd"))
            .arg("--root")
            .arg(&self.dir)
            .arg("--socket")
            .arg(&self.socket)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("oxvirtd starts");
        super::wait_listening(&self.socket, Duration::from_secs(10));
        self.child = Some(child);
    }

    /// The daemon's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL of the daemon; its QEMUs go on.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn uri(&self) -> String {
        format!("qemu+unix:///system?socket={}", self.socket.display())
    }

    pub fn run_dir(&self) -> PathBuf {
        self.dir.join("lib/oxvirt/qemu/run")
    }

    /// pid of a running domain's QEMU, from its status file.
    pub fn qemu_pid(&self, name: &str) -> Option<i32> {
        let s = std::fs::read_to_string(self.run_dir().join(format!("{}.json", name))).ok()?;
        let i = s.find("\"pid\":")?;
        s[i + 6..]
            .trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    }

    /// Kills every QEMU this daemon's root still lists.
    pub fn kill_guests(&self) {
        let Ok(rd) = std::fs::read_dir(self.run_dir()) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_suffix(".json").and_then(|n| self.qemu_pid(n)) {
                // SAFETY: plain kill(2) of a QEMU this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

impl Drop for QemuDaemon {
    fn drop(&mut self) {
        self.kill9();
        self.kill_guests();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a virsh-compatible client (the real virsh or our oxvirsh) with
/// `-q -c URI ARGS`: trimmed stdout, trimmed stderr, success.
pub fn cli(tool: &str, d: &QemuDaemon, args: &[&str]) -> (String, String, bool) {
    let o = Command::new(tool)
        .arg("-q")
        .arg("-c")
        .arg(d.uri())
        .args(args)
        .stdin(Stdio::null())
        .env("LC_ALL", "C")
        .output()
        .expect("client runs");
    (
        String::from_utf8_lossy(&o.stdout).trim().to_string(),
        String::from_utf8_lossy(&o.stderr).trim().to_string(),
        o.status.success(),
    )
}

pub fn kvm_usable() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// The tiny guest (kernel, initramfs), built on demand; `None`, with the
/// reason printed, when it cannot be built here.
pub fn tiny_guest() -> Option<(PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guest");
    let out = root.join("out");
    let (k, i) = (out.join("vmlinuz"), out.join("initrd.img"));
    // build.sh returns at once when its output is newer than itself.
    {
        let st = Command::new("bash")
            .arg(root.join("build.sh"))
            .stdin(Stdio::null())
            .status();
        if !st.is_ok_and(|s| s.success()) {
            println!("skipping guest steps: guest/build.sh failed");
            return None;
        }
    }
    Some((k, i))
}

/// This workspace's oxvirsh (built or brought up to date on first use),
/// as a path string for `cli`.
pub fn oxvirsh() -> Option<String> {
    super::oxvirsh().map(|p| p.to_string_lossy().into_owned())
}

/// Live QEMU processes running guest `name` (by their -name argument).
pub fn qemus_of(name: &str) -> Vec<i32> {
    let want = format!("guest={},", name);
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{}/cmdline", pid)) else {
            continue;
        };
        let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
        let is_qemu = args
            .first()
            .is_some_and(|a| a.ends_with(b"qemu-system-x86_64"));
        if is_qemu && args.iter().any(|a| a.starts_with(want.as_bytes())) && alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// Alive and not a zombie.
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", pid))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .and_then(|i| s[i + 1..].split_whitespace().next().map(|st| st != "Z"))
        })
        .unwrap_or(false)
}

/// The children of a process (all its threads').
pub fn children(pid: u32) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{}/task", pid)) {
        for t in rd.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
            }
        }
    }
    out
}

/// True when every program in `paths` is installed; otherwise says which
/// one is missing (the test then skips).
pub fn installed(paths: &[&str]) -> bool {
    for p in paths {
        if !Path::new(p).exists() {
            println!("skipping: {} is not installed", p);
            return false;
        }
    }
    true
}

/// A guest with no OS: `kind` is the domain type (kvm or qemu).
pub fn no_os_xml(name: &str, kind: &str, mib: u32) -> String {
    format!(
        "<domain type='{}'><name>{}</name><memory unit='MiB'>{}</memory><vcpu>1</vcpu>\
<os><type arch='x86_64'>hvm</type></os><devices><emulator>{}</emulator></devices></domain>",
        kind, name, mib, QEMU
    )
}
