//! Operating the daemon: TCP (opt-in, auth "none" on loopback only), the
//! configuration keys that apply, SIGHUP reload and SIGTERM.

mod common;

use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// This host's address on a non-loopback interface, if it has one.
fn outside_address() -> Option<std::net::IpAddr> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.200:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn tcp_is_opt_in_and_auth_none_is_loopback_only() {
    if !have(VIRSH) {
        println!("skipping: {} is not installed", VIRSH);
        return;
    }
    // Without --listen nothing listens on TCP.
    let port = free_port();
    let conf = format!("tcp_port = \"{port}\"\n");
    let d = Daemon::start_with("notcp", &conf, &[]);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    drop(d);

    let port = free_port();
    let conf = format!("tcp_port = \"{port}\"\nlisten_addr = \"0.0.0.0\"\n");
    let _d = Daemon::start_with("tcp", &conf, &["--listen"]);
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(20), "tcp never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (out, err, rc) = virsh_uri(
        &format!("test+tcp://127.0.0.1:{port}/default"),
        "domstate test",
    );
    assert_eq!(rc, 0, "{err}");
    assert_eq!(out.trim(), "running");

    if let Some(ip) = outside_address() {
        let (_, err, rc) = virsh_uri(&format!("test+tcp://{ip}:{port}/default"), "list");
        assert_eq!(rc, 1);
        assert!(err.contains("authentication required"), "{err}");
    }
}

/// The one client of a daemon with max_clients = 1: the readiness probe
/// of `Daemon::start` (a connection closed at once) may still count as a
/// client for a moment, so a refused connection is retried.
fn only_client(d: &Daemon) -> UnixStream {
    let t0 = Instant::now();
    loop {
        let mut s = UnixStream::connect(&d.socket).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let sent = s.write_all(&frame(REMOTE, 1, 0, 1, &open_args()));
        if let Ok(r) = sent.and_then(|()| read_frame(&mut s)) {
            assert_eq!(&r[20..24], &[0, 0, 0, 0], "open succeeds");
            return s;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "always refused");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sighup_reloads_max_clients() {
    if !have(VIRSH) {
        println!("skipping: {} is not installed", VIRSH);
        return;
    }
    let d = Daemon::start_with("hup", "max_clients = 1\nkeepalive_interval = -1\n", &[]);
    let _first = only_client(&d);
    // The second client is turned away while the first is connected.
    let (_, err, rc) = virsh_uri(&d.uri(), "domstate test");
    assert_ne!(rc, 0, "{err}");

    std::fs::write(&d.config, "max_clients = 4\n").expect("config");
    d.signal(libc::SIGHUP);
    let t0 = Instant::now();
    loop {
        let (out, _, rc) = virsh_uri(&d.uri(), "domstate test");
        if rc == 0 {
            assert_eq!(out.trim(), "running");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "reload never applied"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // A configuration that does not parse leaves the old one in force.
    std::fs::write(&d.config, "max_clients = \"many\"\n").expect("config");
    d.signal(libc::SIGHUP);
    let (_, err, rc) = virsh_uri(&d.uri(), "domstate test");
    assert_eq!(rc, 0, "{err}");
}

#[test]
fn bad_configuration_is_refused_at_start() {
    let dir = std::env::temp_dir().join(format!("oxvirtd-t-badconf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let conf = dir.join("c.conf");
    std::fs::write(&conf, "auth_tcp = \"sasl\"\n").expect("config");
    let o = run(std::process::Command::new(env!("CARGO_BIN_EXE_oxvirtd"))
        .arg("--root")
        .arg(&dir)
        .arg("-f")
        .arg(&conf));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("auth_tcp"), "{err}");
}

#[test]
fn socket_permissions_and_group_apply() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let gid = unsafe { libc::getegid() };
    let conf = format!(
        "unix_sock_rw_perms = \"0770\"\nunix_sock_ro_perms = \"0755\"\nunix_sock_group = \"{gid}\"\n"
    );
    let d = Daemon::start_with("perms", &conf, &[]);
    let rw = std::fs::metadata(&d.socket).expect("rw socket");
    assert_eq!(rw.permissions().mode() & 0o777, 0o770);
    assert_eq!(rw.gid(), gid);
    let mut ro = d.socket.clone().into_os_string();
    ro.push("-ro");
    let ro = std::fs::metadata(ro).expect("ro socket");
    assert_eq!(ro.permissions().mode() & 0o777, 0o755);
}

#[test]
fn sigterm_stops_cleanly() {
    let mut d = Daemon::start("term");
    let mut c = d.raw_client();
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait_exit(), Some(0));
    assert!(!d.socket.exists(), "socket removed");
    // The client sees the connection end.
    let _ = c.write_all(&frame(REMOTE, 3, 0, 2, &[]));
    let mut buf = [0u8; 64];
    let mut total = 0;
    loop {
        match std::io::Read::read(&mut c, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
        assert!(total < 1 << 20);
    }
    assert!(UnixStream::connect(&d.socket).is_err());
}
