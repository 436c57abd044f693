//! The ssh transport end to end: a private sshd on a free loopback port
//! (its own host key, an authorized key made here, everything in a temp
//! directory), an oxvirtd behind it, oxvirt's `virt-ssh-helper` first on
//! the session's PATH, and the real virsh, python3-libvirt and oxvirsh
//! connecting as `test+ssh://` and `qemu+ssh://` through the native
//! helper, the netcat proxy (`nc -U`) and `proxy=auto`. Answers must equal
//! the same commands over the unix socket; the ssh command lines oxvirsh
//! runs must equal virsh's (recorded by an `ssh` wrapper first on the
//! clients' PATH, which also keeps ssh's known_hosts in the temp
//! directory); failures must read as virsh's. oxvirt's helper is compared
//! with libvirt's on bad command lines.
//!
//! Without sshd the test fails, unless OXVIRT_ALLOW_SKIP_SSH=1 lets it
//! pass with a SKIP line (scripts/test-all.sh installs openssh-server and
//! netcat-openbsd).

mod common;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const SSHD: &str = "/usr/sbin/sshd";
const SSH: &str = "/usr/bin/ssh";
const LIBVIRT_HELPER: &str = "/usr/bin/virt-ssh-helper";
const ALLOW_SKIP: &str = "OXVIRT_ALLOW_SKIP_SSH";

/// This workspace's virt-ssh-helper, up to date (next to oxvirtd).
fn helper() -> PathBuf {
    static BUILT: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = PathBuf::from(env!("CARGO_BIN_EXE_oxvirtd"));
            let p = exe.parent()?.join("virt-ssh-helper");
            let _ = Command::new(env!("CARGO"))
                .args(["build", "-q", "-p", "oxvirt-ssh-helper"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status();
            p.exists().then_some(p)
        })
        .clone()
        .expect("virt-ssh-helper builds")
}

fn have_tools() -> bool {
    let ok = have(SSHD) && have(SSH) && have("/usr/bin/nc") && have(VIRSH);
    if !ok {
        assert!(
            std::env::var_os(ALLOW_SKIP).is_some(),
            "sshd, ssh, nc or virsh missing (install openssh-server netcat-openbsd \
             libvirt-clients, or set {ALLOW_SKIP}=1)"
        );
        eprintln!("SKIP: sshd, ssh, nc or virsh missing");
    }
    ok
}

/// A private sshd and the client-side files; everything is removed, and
/// sshd with every session it started is killed, when dropped.
struct Sshd {
    dir: PathBuf,
    port: u16,
    child: Child,
}

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).expect("script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn keygen(path: &Path) {
    let o = run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path));
    assert!(o.status.success(), "ssh-keygen: {:?}", o);
}

impl Sshd {
    /// sshd on 127.0.0.1 whose sessions run with `socket` as
    /// $OXVIRTD_SOCKET and oxvirt's helper first on PATH.
    fn start(tag: &str, socket: &Path) -> Sshd {
        let dir = std::env::temp_dir().join(format!("ssh-t-{}-{}", tag, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["", "bin", "cbin"] {
            std::fs::create_dir_all(dir.join(sub)).expect("temp dir");
        }
        keygen(&dir.join("hostkey"));
        keygen(&dir.join("userkey"));
        std::fs::copy(dir.join("userkey.pub"), dir.join("authorized_keys")).expect("key");
        std::os::unix::fs::symlink(helper(), dir.join("bin/virt-ssh-helper")).expect("link");
        // sshd's privilege separation directory (Debian's service makes
        // it at boot; it is empty and shared).
        let _ = std::fs::create_dir_all("/run/sshd");
        let d = dir.display();
        // The clients' ssh: records its argv, keeps known_hosts here.
        std::fs::write(
            dir.join("ssh_config"),
            format!(
                "UserKnownHostsFile {d}/known_hosts\nGlobalKnownHostsFile /dev/null\n\
                 IdentitiesOnly yes\nLogLevel ERROR\n"
            ),
        )
        .expect("ssh_config");
        write_exec(
            &dir.join("cbin/ssh"),
            &format!(
                "#!/bin/sh\n{{ printf '%s\\n' \"$@\"; echo --end--; }} >> {d}/argv.log\n\
                 exec {SSH} -F {d}/ssh_config \"$@\"\n"
            ),
        );
        let mut last = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            std::fs::write(
                dir.join("sshd_config"),
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/hostkey\n\
                     AuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\n\
                     StrictModes no\nUsePAM no\nPasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
                     AllowUsers root\nPrintMotd no\nPrintLastLog no\n\
                     SetEnv PATH={d}/bin:/usr/local/bin:/usr/bin:/bin OXVIRTD_SOCKET={}\n",
                    socket.display()
                ),
            )
            .expect("sshd_config");
            let hostkey = std::fs::read_to_string(dir.join("hostkey.pub")).expect("host key");
            std::fs::write(
                dir.join("known_hosts"),
                format!("[127.0.0.1]:{port} {hostkey}"),
            )
            .expect("known_hosts");
            let mut child = Command::new(SSHD)
                .arg("-D")
                .arg("-f")
                .arg(dir.join("sshd_config"))
                .arg("-E")
                .arg(dir.join("sshd.log"))
                .stdin(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("sshd starts");
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(10) {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Sshd { dir, port, child };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            last = std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("sshd never listened: {last}");
    }

    fn key(&self) -> String {
        format!("{}/userkey", self.dir.display())
    }

    /// DRIVER+ssh://root@127.0.0.1:PORT/PATH?keyfile=...&no_verify=1&EXTRA
    fn uri(&self, driver_path: &str, extra: &str) -> String {
        let (driver, path) = driver_path.split_once(':').expect("driver:path");
        format!(
            "{driver}+ssh://root@127.0.0.1:{}{path}?keyfile={}&no_verify=1{}{extra}",
            self.port,
            self.key(),
            if extra.is_empty() { "" } else { "&" }
        )
    }

    /// PATH for the clients: the recording ssh first.
    fn client_path(&self) -> String {
        format!(
            "{}/cbin:{}",
            self.dir.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// `tool [-r] -c URI CMDS` with the recording ssh: (stdout, stderr, rc).
    fn client(&self, tool: &Path, ro: bool, uri: &str, cmds: &str) -> (String, String, i32) {
        let mut c = Command::new(tool);
        c.env("PATH", self.client_path());
        if ro {
            c.arg("-r");
        }
        let o = run(c.arg("-c").arg(uri).arg(cmds));
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            o.status.code().unwrap_or(-1),
        )
    }

    /// `tool -c URI CMDS` in the background, output captured.
    fn spawn_client(&self, tool: &Path, uri: &str, cmds: &str) -> Child {
        Command::new(tool)
            .env("PATH", self.client_path())
            .env("LC_ALL", "C")
            .arg("-c")
            .arg(uri)
            .arg(cmds)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("client starts")
    }

    /// The ssh command lines run since the last call.
    fn take_argvs(&self) -> Vec<Vec<String>> {
        let p = self.dir.join("argv.log");
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let _ = std::fs::remove_file(&p);
        text.split("--end--\n")
            .filter(|s| !s.is_empty())
            .map(|s| s.lines().map(String::from).collect())
            .collect()
    }

    /// Every process sshd started (sessions setsid but keep their parent).
    fn descendants(&self) -> Vec<i32> {
        let mut parents: Vec<(i32, i32)> = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid ...
            let ppid = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.split(' ').nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if let Some(ppid) = ppid {
                parents.push((pid, ppid));
            }
        }
        let mut out = vec![self.child.id() as i32];
        let mut i = 0;
        while i < out.len() {
            let p = out[i];
            out.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
            i += 1;
        }
        out.remove(0);
        out
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        for pid in self.descendants().into_iter().rev() {
            // SAFETY: kill(2) on a process our sshd started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn oxvirsh_bin() -> PathBuf {
    oxvirsh().expect("oxvirsh builds")
}

const DOMAIN: &str = "<domain type='test'><name>sshdom</name><memory>8192</memory>\
     <os><type>hvm</type></os></domain>";

/// virsh and oxvirsh over ssh, through each far-end proxy, answer as
/// virsh over the unix socket; both run the same ssh command lines.
#[test]
fn virsh_and_oxvirsh_over_ssh() {
    if !have_tools() {
        return;
    }
    let daemon = Daemon::start("ssh");
    let sshd = Sshd::start("clients", &daemon.socket);
    let xml = sshd.dir.join("dom.xml");
    std::fs::write(&xml, DOMAIN).expect("xml");
    let sock = daemon.socket.display().to_string();
    let unix_test = daemon.uri();
    let unix_qemu = format!("qemu+unix:///system?socket={sock}");
    let script = format!(
        "list --all; domid test; domuuid test; dumpxml test; define {x}; start sshdom; list --all; domstate sshdom; \
         destroy sshdom; undefine sshdom; list --all",
        x = xml.display()
    );
    let cases: Vec<(&str, String, bool, String)> = vec![
        // (what, URI over ssh, read-only, commands); the unix twin is
        // the same driver's.
        (
            "netcat",
            sshd.uri("test:/default", &format!("socket={sock}")),
            false,
            script.clone(),
        ),
        (
            "native",
            sshd.uri("test:/default", "proxy=native"),
            false,
            script.clone(),
        ),
        ("auto", sshd.uri("test:/default", ""), false, script.clone()),
        (
            "no_tty",
            sshd.uri("test:/default", "no_tty=1&proxy=native"),
            false,
            "list --all".into(),
        ),
        (
            "read-only native",
            sshd.uri("test:/default", "proxy=native"),
            true,
            "list --all; domstate test; destroy test".into(),
        ),
        (
            "read-only netcat",
            sshd.uri("test:/default", &format!("socket={sock}-ro")),
            true,
            "list --all; destroy test".into(),
        ),
        (
            "qemu native",
            sshd.uri("qemu:/system", "proxy=native"),
            false,
            "list --all; pool-list --all; net-list --all; nodeinfo".into(),
        ),
        (
            "qemu auto",
            sshd.uri("qemu:/system", ""),
            false,
            "list --all; secret-list".into(),
        ),
    ];
    for (what, uri, ro, cmds) in &cases {
        let twin = if uri.starts_with("qemu") {
            &unix_qemu
        } else {
            &unix_test
        };
        let mut c = Command::new(VIRSH);
        if *ro {
            c.arg("-r");
        }
        let o = run(c.arg("-c").arg(twin).arg(cmds));
        let want = (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            o.status.code().unwrap_or(-1),
        );
        assert_eq!(
            want.2,
            if *ro && cmds.contains("destroy") {
                1
            } else {
                0
            },
            "{what}: {want:?}"
        );
        sshd.take_argvs();
        let theirs = sshd.client(Path::new(VIRSH), *ro, uri, cmds);
        let theirs_argv = sshd.take_argvs();
        assert_eq!(theirs, want, "{what}: virsh over ssh vs virsh over unix");
        let ours = sshd.client(&oxvirsh_bin(), *ro, uri, cmds);
        let ours_argv = sshd.take_argvs();
        assert_eq!(ours, want, "{what}: oxvirsh over ssh vs virsh over unix");
        assert_eq!(theirs_argv.len(), 1, "{what}: one ssh per connection");
        assert_eq!(ours_argv, theirs_argv, "{what}: ssh command lines");
        eprintln!("ssh {what}: {} commands agree", cmds.split(';').count());
    }
    // The ext transport: `command=` run with no arguments, its stdio the
    // connection (here nc -U to the daemon).
    let ext = sshd.dir.join("ext.sh");
    write_exec(&ext, &format!("#!/bin/sh\nexec nc -U {sock}\n"));
    let ext_uri = format!("test+ext:///default?command={}", ext.display());
    let cmds = "list --all; domstate test; destroy test; list --all";
    let want = virsh_uri(&unix_test, cmds);
    assert_eq!(virsh_uri(&ext_uri, cmds), want, "virsh over ext");
    assert_eq!(
        sshd.client(&oxvirsh_bin(), false, &ext_uri, cmds),
        want,
        "oxvirsh over ext"
    );
    // Failures read as virsh's: sshd refusing the user, nothing on the
    // port, the far end's nc failing, libvirt's own argument checks.
    let k = sshd.key();
    let fails = [
        format!(
            "test+ssh://nobody@127.0.0.1:{}/default?keyfile={k}&no_tty=1",
            sshd.port
        ),
        format!("test+ssh://root@127.0.0.1:1/default?keyfile={k}&no_verify=1"),
        sshd.uri("test:/default", "socket=/nonexistent/sock"),
        sshd.uri("test:/default", "proxy=native&netcat=nc"),
        sshd.uri("test:/default", "proxy=bogus"),
        sshd.uri("test:/default", "no_verify=yes"),
        sshd.uri("test:/default", "mode=direct"),
        format!(
            "test+ssh://127.0.0.1/default?command={}/nope",
            sshd.dir.display()
        ),
        "test+ssh://127.0.0.1/default?command=oxvirt-no-such-ssh".to_string(),
        "test+ext:///default".to_string(),
    ];
    for uri in &fails {
        // When ssh exits at once, virsh sometimes writes its first call
        // after ssh is gone and says only "client socket is closed" (a
        // race in libvirt's client); its usual answer is wanted.
        let mut theirs = sshd.client(Path::new(VIRSH), false, uri, "list");
        for _ in 0..5 {
            if !theirs.1.contains("client socket is closed") {
                break;
            }
            theirs = sshd.client(Path::new(VIRSH), false, uri, "list");
        }
        // libvirt's log lines about a failed exec (its own noise).
        theirs.1 = theirs
            .1
            .lines()
            .filter(|l| {
                !l.starts_with("20") || !l.contains(": info :") && !l.contains(": warning :")
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let ours = sshd.client(&oxvirsh_bin(), false, uri, "list");
        if uri.contains("/nope") {
            // libvirt's child reports a failed exec through ssh's stderr
            // pipe, with its log prefix (and virsh sometimes dies of
            // SIGPIPE writing to it); ours fails before forking.
            assert!(ours.1.contains("cannot execute binary"), "{uri}: {ours:?}");
            assert_eq!(ours.2, 1);
            continue;
        }
        assert_eq!(theirs.2, 1, "{uri}: virsh fails");
        assert_eq!(ours, theirs, "{uri}: oxvirsh vs virsh");
        sshd.take_argvs();
    }
}

/// python3-libvirt over ssh, and events and a volume upload (a stream)
/// through the native helper, with virsh and oxvirsh.
#[test]
fn python_events_and_streams_over_ssh() {
    if !have_tools() {
        return;
    }
    let daemon = Daemon::start("ssh-py");
    let sshd = Sshd::start("py", &daemon.socket);
    if have_python_libvirt() {
        let uri = sshd.uri("test:/default", "proxy=native");
        let o = run(Command::new(PYTHON)
            .env("PATH", sshd.client_path())
            .arg("-c")
            .arg(
                "import sys, libvirt\n\
                 c = libvirt.open(sys.argv[1])\n\
                 d = c.lookupByName('test')\n\
                 d.destroy(); print(d.state()); d.create(); print(d.state())\n\
                 print(sorted(x.name() for x in c.listAllDomains()), c.getType())\n\
                 c.close()\n",
            )
            .arg(&uri));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "[5, 2]\n[1, 1]\n['test'] TEST\n",
            "python3-libvirt over ssh: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    } else {
        eprintln!("SKIP python3-libvirt over ssh: no python3-libvirt");
    }

    // A volume uploaded and downloaded over ssh (qemu:///system's storage
    // under the daemon's root).
    let pooldir = sshd.dir.join("pool");
    std::fs::create_dir_all(&pooldir).expect("pool dir");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let src = sshd.dir.join("src.img");
    std::fs::write(&src, &data).expect("source");
    for (tool, name) in [(PathBuf::from(VIRSH), "virsh"), (oxvirsh_bin(), "oxvirsh")] {
        let uri = sshd.uri("qemu:/system", "proxy=native");
        let back = sshd.dir.join(format!("back-{name}.img"));
        let cmds = format!(
            "pool-create-as sshpool dir --target {p}; vol-create-as sshpool v.img 3000000; \
             vol-upload v.img {s} --pool sshpool; vol-download v.img {b} --pool sshpool; \
             vol-delete v.img --pool sshpool; pool-destroy sshpool",
            p = pooldir.display(),
            s = src.display(),
            b = back.display()
        );
        let (out, err, rc) = sshd.client(&tool, false, &uri, &cmds);
        assert_eq!(rc, 0, "{name}: {out}{err}");
        assert!(
            std::fs::read(&back).expect("downloaded") == data,
            "{name}: round trip"
        );
        eprintln!("ssh {name}: 3 MB volume up and down");
    }

    // Events over ssh: a listener through the helper sees a lifecycle
    // change made over the unix socket.
    for (tool, name) in [(PathBuf::from(VIRSH), "virsh"), (oxvirsh_bin(), "oxvirsh")] {
        let uri = sshd.uri("test:/default", "proxy=native");
        let listener = sshd.spawn_client(
            &tool,
            &uri,
            "event --event lifecycle --domain test --timeout 20",
        );
        // The listener holds test:///default open; wait until its ssh
        // session reached the daemon (the helper runs), then act.
        wait_for_helper(&sshd);
        std::thread::sleep(Duration::from_millis(500));
        let acted = virsh_uri(&daemon.uri(), "destroy test");
        assert_eq!(acted.2, 0, "{acted:?}");
        let o = listener.wait_with_output().expect("listener ends");
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            out,
            "event 'lifecycle' for domain 'test': Stopped Destroyed\nevents received: 1\n\n",
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        eprintln!("ssh {name}: events");
    }
}

/// The far end dies mid-session (its helper is killed while a client
/// waits for events): virsh and oxvirsh end the same way, and the daemon
/// serves on.
#[test]
fn far_end_dying_mid_session() {
    if !have_tools() {
        return;
    }
    let daemon = Daemon::start("ssh-die");
    let sshd = Sshd::start("die", &daemon.socket);
    let mut seen = Vec::new();
    for tool in [PathBuf::from(VIRSH), oxvirsh_bin()] {
        let uri = sshd.uri("test:/default", "proxy=native");
        let listener = sshd.spawn_client(&tool, &uri, "event --all --loop --timeout 30");
        let helper_pid = wait_for_helper(&sshd);
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: kill(2) on a process our sshd started.
        unsafe { libc::kill(helper_pid, libc::SIGKILL) };
        let o = listener.wait_with_output().expect("listener ends");
        seen.push((
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            o.status.code(),
        ));
    }
    // Both stop waiting at once and fail the same way. virsh also says
    // why on stderr, from its close callback ("Disconnected from URI due
    // to end of file", then the failed deregistration); oxvirsh has no
    // close callback yet (virConnectRegisterCloseCallback): a known
    // difference, printed here.
    assert_eq!(
        (&seen[1].0, seen[1].2),
        (&seen[0].0, seen[0].2),
        "oxvirsh vs virsh when the far end dies"
    );
    assert!(
        seen[0].1.contains("due to end of file"),
        "virsh: {:?}",
        seen[0].1
    );
    if seen[1].1 != seen[0].1 {
        eprintln!(
            "KNOWN DIFFERENCE (no close callback in oxvirsh): virsh stderr {:?}, oxvirsh {:?}",
            seen[0].1, seen[1].1
        );
    }
    assert_eq!(
        virsh_uri(&daemon.uri(), "domstate test").2,
        0,
        "daemon serves on"
    );
}

/// Waits until oxvirt's helper runs under the test's sshd; its pid.
fn wait_for_helper(sshd: &Sshd) -> i32 {
    let t0 = Instant::now();
    loop {
        if let Some(p) = sshd
            .descendants()
            .into_iter()
            .find(|p| std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == helper()))
        {
            return p;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no helper ran");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// oxvirt's helper refuses bad command lines and URIs as libvirt's does
/// (same message after the program name, same exit status), and a
/// missing daemon with libvirt's wording.
#[test]
fn helper_refusals_match_libvirt() {
    if !have(LIBVIRT_HELPER) {
        assert!(
            std::env::var_os(ALLOW_SKIP).is_some(),
            "{LIBVIRT_HELPER} missing (libvirt-daemon), or set {ALLOW_SKIP}=1"
        );
        eprintln!("SKIP: no {LIBVIRT_HELPER}");
        return;
    }
    let cases: &[&[&str]] = &[
        &[],
        &["a", "b"],
        &["--bogus", "x"],
        &["-x", "qemu:///system"],
        &[":::"],
        &["qemu+tcp://h/system"],
        &["qemu://host/system"],
        &["qemu+bogus:///system"],
        &["qemu+unix://host/system"],
        &["-V"],
    ];
    for args in cases {
        let go = |bin: &Path| {
            let o = run(Command::new(bin)
                .arg0("virt-ssh-helper")
                .args(*args)
                .env("OXVIRTD_SOCKET", "/nonexistent/sock"));
            (
                String::from_utf8_lossy(&o.stdout).replace("(libvirt) 9.0.0", "(oxvirt) VERSION"),
                String::from_utf8_lossy(&o.stderr).into_owned(),
                o.status.code(),
            )
        };
        let theirs = go(Path::new(LIBVIRT_HELPER));
        let mut ours = go(&helper());
        ours.0 = ours.0.replace(
            &format!("(oxvirt) {}", env!("CARGO_PKG_VERSION")),
            "(oxvirt) VERSION",
        );
        assert_eq!(ours, theirs, "virt-ssh-helper {args:?}");
    }
    let o = run(Command::new(helper())
        .arg0("virt-ssh-helper")
        .arg("-r")
        .arg("qemu:///system")
        .env("OXVIRTD_SOCKET", "/nonexistent/sock"));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "virt-ssh-helper: cannot connect to '/nonexistent/sock-ro': Failed to connect socket \
         to '/nonexistent/sock-ro': No such file or directory\n"
    );
    assert_eq!(o.status.code(), Some(1));
}
