//! Shared by the daemon's integration tests: a private oxvirtd per test
//! and raw-frame helpers.
#![allow(dead_code)]

pub mod netns;
pub mod qemu;
pub mod steps;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const VIRSH: &str = "/usr/bin/virsh";
/// Debian's python3-libvirt belongs to the system interpreter.
pub const PYTHON: &str = "/usr/bin/python3";
pub const REMOTE: u32 = 0x2000_8086;

pub struct Daemon {
    pub child: Child,
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub config: PathBuf,
}

impl Daemon {
    pub fn start(tag: &str) -> Daemon {
        Daemon::start_with(tag, "", &[])
    }

    /// A daemon with `config` as its configuration file and extra args.
    pub fn start_with(tag: &str, config: &str, args: &[&str]) -> Daemon {
        Daemon::start_prepared(tag, config, args, |_| {})
    }

    /// As `start_with`, letting `prepare` fill the daemon's root
    /// directory before it starts.
    pub fn start_prepared(
        tag: &str,
        config: &str,
        args: &[&str],
        prepare: impl FnOnce(&Path),
    ) -> Daemon {
        let dir = std::env::temp_dir().join(format!("oxvirtd-t-{}-{}", tag, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        prepare(&dir);
        let socket = dir.join("sock");
        let conf = dir.join("oxvirtd.conf");
        std::fs::write(&conf, config).expect("config");
        let child = Command::new(env!("CARGO_BIN_EXE_oxvirtd"))
            .arg("--root")
            .arg(&dir)
            .arg("--socket")
            .arg(&socket)
            .arg("-f")
            .arg(&conf)
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .expect("oxvirtd starts");
        wait_listening(&socket, Duration::from_secs(20));
        Daemon {
            child,
            dir,
            socket,
            config: conf,
        }
    }

    pub fn uri(&self) -> String {
        format!("test+unix:///default?socket={}", self.socket.display())
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Waits for the daemon to exit (after a signal); its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let t0 = Instant::now();
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            if t0.elapsed() > Duration::from_secs(30) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A connected, opened raw client.
    pub fn raw_client(&self) -> UnixStream {
        let mut s = UnixStream::connect(&self.socket).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        s.write_all(&frame(REMOTE, 1, 0, 1, &open_args()))
            .expect("write");
        let r = read_reply(&mut s, 1);
        assert_eq!(&r[20..24], &[0, 0, 0, 0], "open succeeds");
        s
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until a daemon accepts connections on `socket` (the file
/// appears at bind, a moment before the daemon listens).
pub fn wait_listening(socket: &Path, limit: Duration) {
    let t0 = Instant::now();
    while UnixStream::connect(socket).is_err() {
        assert!(t0.elapsed() < limit, "{} never listened", socket.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `f` until it holds (60 s at most).
pub fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "timed out: {}",
            what
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn have(path: &str) -> bool {
    Path::new(path).exists()
}

pub fn have_python_libvirt() -> bool {
    have(PYTHON)
        && run(Command::new(PYTHON).args(["-c", "import libvirt"]))
            .status
            .success()
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .env("LC_ALL", "C")
        .output()
        .expect("client runs")
}

/// virsh -c URI CMDS: (stdout, stderr, rc)
pub fn virsh_uri(uri: &str, cmds: &str) -> (String, String, i32) {
    let o = run(Command::new(VIRSH).arg("-c").arg(uri).arg(cmds));
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

/// A frame: (prog, proc, type, serial) header plus payload.
pub fn frame(prog: u32, proc_: i32, mtype: i32, serial: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((28 + payload.len()) as u32).to_be_bytes());
    for w in [prog, 1, proc_ as u32, mtype as u32, serial, 0] {
        v.extend_from_slice(&w.to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

/// CONNECT_OPEN's arguments for test:///default.
pub fn open_args() -> Vec<u8> {
    let mut open = vec![0, 0, 0, 1, 0, 0, 0, 15];
    open.extend_from_slice(b"test:///default\0");
    open.extend_from_slice(&[0, 0, 0, 0]);
    open
}

/// XDR string.
pub fn xdr_string(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(s.as_bytes());
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
    v
}

/// One frame, without its length word.
pub fn read_frame(s: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let n = (u32::from_be_bytes(len) as usize).saturating_sub(4);
    let mut body = vec![0u8; n];
    s.read_exact(&mut body)?;
    Ok(body)
}

/// The REPLY with `serial`, skipping events, keepalives and others.
pub fn read_reply(s: &mut impl Read, serial: u32) -> Vec<u8> {
    loop {
        let r = read_frame(s).expect("a reply");
        if r.len() >= 24 && r[12..16] == [0, 0, 0, 1] && r[16..20] == serial.to_be_bytes() {
            return r;
        }
    }
}

/// This workspace's oxvirsh, built (or brought up to date) on first use so
/// that it includes the current remote driver.
pub fn oxvirsh() -> Option<PathBuf> {
    static BUILT: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = PathBuf::from(env!("CARGO_BIN_EXE_oxvirtd"));
            let p = exe.parent()?.join("oxvirsh");
            let _ = Command::new(env!("CARGO"))
                .args(["build", "-q", "-p", "oxvirsh"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status();
            p.exists().then_some(p)
        })
        .clone()
}

/// Runs `tool ARGS... CMDS`: (stdout, stderr, exit status).
pub fn client(tool: &Path, args: &[&str], cmds: &str) -> (String, String, i32) {
    let o = run(Command::new(tool).args(args).arg(cmds));
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

/// Whether the shared reference libvirtd answers on qemu:///system. A
/// socket file alone proves nothing (a daemon that died leaves it
/// behind): ask it, and start it with the shared script when `start` is
/// set and it does not answer.
#[allow(dead_code)]
pub fn reference_up(start: bool) -> bool {
    let answers = || {
        Command::new("/usr/bin/virsh")
            .args(["-c", "qemu:///system", "version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if answers() {
        return true;
    }
    if !start {
        return false;
    }
    let shared = std::env::var("OXVIRT_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string());
    let script = PathBuf::from(shared).join("tools/reference-libvirtd.sh");
    if !script.exists() {
        return false;
    }
    let _ = Command::new(&script).stdout(Stdio::null()).status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if answers() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// Runs `tests/py/SCRIPT ARGS` with the system python3 (python3-libvirt)
/// and returns its stdout; fails the test when the script fails.
pub fn run_python<S: AsRef<std::ffi::OsStr>>(script: &str, args: &[S]) -> String {
    let o = Command::new(PYTHON)
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/py")
                .join(script),
        )
        .args(args)
        .output()
        .expect("python3 runs");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{}{}",
        out,
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// Asserts that a transcript is the reference's, printing the first line
/// that differs before the whole comparison.
pub fn assert_same_transcript(got: &str, want: &str) {
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
