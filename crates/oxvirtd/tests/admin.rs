//! The admin interface driven by Debian's real virt-admin: servers,
//! worker pools, client limits, clients with their identities, client
//! disconnect, log filters and outputs, the idle timeout; the output
//! compared in shape with the reference libvirtd's where one runs (read-
//! only queries; its settings are never changed).

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const VIRT_ADMIN: &str = "/usr/bin/virt-admin";
const ADMIN: u32 = 0x0690_0690;
const REFERENCE_ADMIN: &str = "/var/run/libvirt/libvirt-admin-sock";

fn admin_uri(sock: &Path) -> String {
    format!("libvirtd:///system?socket={}", sock.display())
}

fn admin_sock(d: &Daemon) -> std::path::PathBuf {
    let mut s = d.socket.clone().into_os_string();
    s.push("-admin");
    s.into()
}

/// virt-admin -c URI ARGS: (stdout, stderr, status).
fn va(sock: &Path, args: &[&str]) -> (String, String, i32) {
    let o = run(Command::new(VIRT_ADMIN)
        .arg("-c")
        .arg(admin_uri(sock))
        .args(args));
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

fn ok(sock: &Path, args: &[&str]) -> String {
    let (out, err, rc) = va(sock, args);
    assert_eq!(rc, 0, "virt-admin {:?}: {}{}", args, out, err);
    out
}

fn fails(sock: &Path, args: &[&str]) -> String {
    let (out, err, rc) = va(sock, args);
    assert_ne!(rc, 0, "virt-admin {:?} should fail: {}", args, out);
    err
}

/// "key : value" lines as a map.
fn fields(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn field(out: &str, key: &str) -> String {
    fields(out)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {} in {}", key, out))
}

/// The shape of an output: values masked, keys, headers and rules kept.
fn shape(out: &str) -> String {
    out.lines()
        .map(|l| match l.split_once(':') {
            Some((k, _)) if !k.trim_start().starts_with(char::is_numeric) => format!("{}:", k),
            _ if l.trim_start().starts_with(char::is_numeric) => "ROW".into(),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The ids of a client-list table.
fn client_ids(out: &str) -> Vec<u64> {
    out.lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

fn have_tools() -> bool {
    if !have(VIRT_ADMIN) || !have(VIRSH) {
        eprintln!("skipping: virt-admin or virsh missing (libvirt-clients)");
        return false;
    }
    true
}

#[test]
fn shapes_match_the_reference_libvirtd() {
    if !have_tools() {
        return;
    }
    let d = Daemon::start("adm-shape");
    let a = admin_sock(&d);
    let srv = ok(&a, &["srv-list"]);
    assert_eq!(
        srv,
        " Id   Name\n----------------\n 0    admin\n 1    libvirtd\n\n"
    );
    let tp = ok(&a, &["srv-threadpool-info", "libvirtd"]);
    assert_eq!(field(&tp, "minWorkers"), "5");
    assert_eq!(field(&tp, "maxWorkers"), "20");
    assert_eq!(field(&tp, "jobQueueDepth"), "0");
    let ci = ok(&a, &["srv-clients-info", "libvirtd"]);
    assert_eq!(field(&ci, "nclients_max"), "5000");
    assert_eq!(field(&ci, "nclients"), "0");
    assert_eq!(field(&ci, "nclients_unauth_max"), "20");
    let admin_ci = ok(&a, &["srv-clients-info", "admin"]);
    // virt-admin itself is the admin server's one client.
    assert_eq!(field(&admin_ci, "nclients"), "1");
    assert_eq!(field(&admin_ci, "nclients_unauth_max"), "0");
    let v = ok(&a, &["version"]);
    assert!(v.contains("Running against daemon: 9.0.0"), "{}", v);
    let e = fails(&a, &["srv-threadpool-info", "nosuch"]);
    assert!(
        e.contains("error: Server not found: No server named 'nosuch'"),
        "{}",
        e
    );
    let e = fails(&a, &["client-info", "libvirtd", "99999"]);
    assert!(
        e.contains("error: Client not found: No client with matching ID '99999'"),
        "{}",
        e
    );
    // The same read-only queries against the reference libvirtd.
    let r = Path::new(REFERENCE_ADMIN);
    if !r.exists() || va(r, &["srv-list"]).2 != 0 {
        eprintln!("reference libvirtd's admin socket not reachable: shapes not compared");
        return;
    }
    for args in [
        &["srv-list"][..],
        &["srv-threadpool-info", "libvirtd"],
        &["srv-threadpool-info", "admin"],
        &["srv-clients-info", "libvirtd"],
        &["srv-clients-info", "admin"],
        &["client-list", "admin"],
        &["daemon-log-filters"],
        &["daemon-log-outputs"],
    ] {
        let ours = ok(&a, args);
        let theirs = ok(r, args);
        assert_eq!(shape(&ours), shape(&theirs), "{:?}", args);
    }
    for args in [
        &["srv-threadpool-info", "nosuch"][..],
        &["client-info", "libvirtd", "99999"],
    ] {
        assert_eq!(fails(&a, args), fails(r, args), "{:?}", args);
    }
}

/// A virsh shell holding a connection until its stdin closes.
struct Holder(std::process::Child);

impl Holder {
    fn start(uri: &str) -> Holder {
        Holder(
            Command::new(VIRSH)
                .args(["-c", uri])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("virsh"),
        )
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn clients_with_identity_and_disconnect() {
    if !have_tools() {
        return;
    }
    let d = Daemon::start("adm-clients");
    let a = admin_sock(&d);
    let ro_uri = format!("test+unix:///default?socket={}-ro", d.socket.display());
    let v = Holder::start(&ro_uri);
    wait_for("virsh connected", || {
        client_ids(&ok(&a, &["client-list", "libvirtd"])).len() == 1
    });
    let list = ok(&a, &["client-list", "libvirtd"]);
    assert!(
        list.starts_with(" Id   Transport   Connected since\n"),
        "{}",
        list
    );
    assert!(list.contains(" unix "), "{}", list);
    let id = client_ids(&list)[0].to_string();
    let info = ok(&a, &["client-info", "libvirtd", &id]);
    let keys: Vec<String> = fields(&info).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "id",
            "connection_time",
            "transport",
            "readonly",
            "unix_user_id",
            "unix_user_name",
            "unix_group_id",
            "unix_group_name",
            "unix_process_id"
        ],
        "{}",
        info
    );
    assert_eq!(field(&info, "readonly"), "yes");
    assert_eq!(field(&info, "transport"), "unix");
    assert_eq!(
        field(&info, "unix_user_id"),
        unsafe { libc::geteuid() }.to_string()
    );
    assert_eq!(field(&info, "unix_process_id"), v.0.id().to_string());
    // A raw client on the read-write socket, then disconnected by virt-admin.
    let mut raw = d.raw_client();
    wait_for("two clients", || {
        client_ids(&ok(&a, &["client-list", "libvirtd"])).len() == 2
    });
    let ids = client_ids(&ok(&a, &["client-list", "libvirtd"]));
    let raw_id = ids.iter().max().copied().unwrap_or(0).to_string();
    let info = ok(&a, &["client-info", "libvirtd", &raw_id]);
    assert_eq!(field(&info, "readonly"), "no");
    assert_eq!(
        field(&info, "unix_process_id"),
        std::process::id().to_string()
    );
    let out = ok(&a, &["client-disconnect", "libvirtd", &raw_id]);
    assert_eq!(out.trim(), format!("Client '{}' disconnected", raw_id));
    let mut buf = [0u8; 64];
    raw.set_read_timeout(Some(Duration::from_secs(30))).ok();
    assert_eq!(raw.read(&mut buf).unwrap_or(0), 0, "socket closed");
    wait_for("one client left", || {
        client_ids(&ok(&a, &["client-list", "libvirtd"])) == vec![id.parse::<u64>().unwrap()]
    });
    drop(v);
    wait_for("no clients", || {
        client_ids(&ok(&a, &["client-list", "libvirtd"])).is_empty()
    });
}

#[test]
fn pools_limits_and_logs_are_set() {
    if !have_tools() {
        return;
    }
    let d = Daemon::start("adm-set");
    let a = admin_sock(&d);
    ok(
        &a,
        &[
            "srv-threadpool-set",
            "libvirtd",
            "--min-workers",
            "2",
            "--max-workers",
            "7",
        ],
    );
    let tp = ok(&a, &["srv-threadpool-info", "libvirtd"]);
    assert_eq!(field(&tp, "minWorkers"), "2");
    assert_eq!(field(&tp, "maxWorkers"), "7");
    let e = fails(
        &a,
        &["srv-threadpool-set", "libvirtd", "--min-workers", "9"],
    );
    assert!(
        e.contains("error: invalid argument: minWorkers cannot be larger than maxWorkers"),
        "{}",
        e
    );
    // The daemon still serves with its smaller pool.
    let (out, err, rc) = virsh_uri(&d.uri(), "list --all");
    assert_eq!(rc, 0, "{}{}", out, err);

    // Client limits: one client at most, then a second one is refused.
    ok(
        &a,
        &[
            "srv-clients-set",
            "libvirtd",
            "--max-clients",
            "1",
            "--max-unauth-clients",
            "1",
        ],
    );
    let ci = ok(&a, &["srv-clients-info", "libvirtd"]);
    assert_eq!(field(&ci, "nclients_max"), "1");
    assert_eq!(field(&ci, "nclients_unauth_max"), "1");
    let e = fails(
        &a,
        &["srv-clients-set", "libvirtd", "--max-unauth-clients", "5"],
    );
    assert!(
        e.contains("error: invalid argument: The overall maximum"),
        "{}",
        e
    );
    let _first = d.raw_client();
    let mut second = UnixStream::connect(&d.socket).expect("connect");
    second.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let _ = second.write_all(&frame(REMOTE, 1, 0, 1, &open_args()));
    let mut buf = [0u8; 64];
    assert_eq!(
        second.read(&mut buf).unwrap_or(0),
        0,
        "second client refused"
    );
    ok(
        &a,
        &["srv-clients-set", "libvirtd", "--max-clients", "5000"],
    );

    // Log filters and outputs: a debug filter for the daemon's sessions
    // and a file output record the next client.
    let log = d.dir.join("daemon.log");
    let outputs = format!("1:file:{}", log.display());
    ok(&a, &["daemon-log-outputs", &outputs]);
    ok(&a, &["daemon-log-filters", "1:oxvirtd.server 4:oxvirt"]);
    assert_eq!(
        ok(&a, &["daemon-log-filters"]),
        " Logging filters: 1:oxvirtd.server 4:oxvirt \n\n"
    );
    assert_eq!(
        ok(&a, &["daemon-log-outputs"]),
        format!(" Logging outputs: {}\n\n", outputs)
    );
    let (_, _, rc) = virsh_uri(&d.uri(), "list --all");
    assert_eq!(rc, 0);
    wait_for("log line", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains(": debug : oxvirtd.server : client connected")
    });
    let e = fails(&a, &["daemon-log-filters", "x"]);
    assert!(
        e.contains("error: invalid argument: Malformed format for filter 'x'"),
        "{}",
        e
    );
    let e = fails(&a, &["daemon-log-outputs", "3:tty"]);
    assert!(
        e.contains("Invalid log destination 'tty' for log output '3:tty'"),
        "{}",
        e
    );
    // Empty definitions: no filters, the default output.
    ok(&a, &["daemon-log-filters", ""]);
    ok(&a, &["daemon-log-outputs", ""]);
    assert_eq!(ok(&a, &["daemon-log-filters"]), " Logging filters: \n\n");
    assert_eq!(
        ok(&a, &["daemon-log-outputs"]),
        " Logging outputs: 3:stderr\n\n"
    );
    let e = fails(&a, &["srv-update-tls", "libvirtd"]);
    assert!(e.contains("no tls service found"), "{}", e);
}

#[test]
fn daemon_timeout_stops_an_idle_daemon() {
    if !have_tools() {
        return;
    }
    let mut d = Daemon::start("adm-timeout");
    let a = admin_sock(&d);
    ok(&a, &["daemon-timeout", "--timeout", "1"]);
    assert_eq!(d.wait_exit(), Some(0), "the idle daemon exits");
}

#[test]
fn admin_socket_speaks_only_the_admin_program() {
    let d = Daemon::start("adm-raw");
    let a = admin_sock(&d);
    wait_listening(&a, Duration::from_secs(20));
    let mut s = UnixStream::connect(&a).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    // REMOTE's CONNECT_OPEN on the admin socket.
    s.write_all(&frame(REMOTE, 1, 0, 1, &open_args())).unwrap();
    let r = read_reply(&mut s, 1);
    let text = String::from_utf8_lossy(&r);
    assert!(text.contains("Cannot find program"), "{}", text);
    // ADMIN's CONNECT_OPEN with a flag it does not know.
    s.write_all(&frame(ADMIN, 1, 0, 2, &[0, 0, 0, 8])).unwrap();
    let r = read_reply(&mut s, 2);
    let text = String::from_utf8_lossy(&r);
    assert!(text.contains("unsupported flags (0x8)"), "{}", text);
    // A truncated payload, then an unknown procedure.
    s.write_all(&frame(ADMIN, 7, 0, 3, &[0, 0])).unwrap();
    let r = read_reply(&mut s, 3);
    assert!(String::from_utf8_lossy(&r).contains("Unable to decode message payload"));
    s.write_all(&frame(ADMIN, 999, 0, 4, &[])).unwrap();
    let r = read_reply(&mut s, 4);
    assert!(String::from_utf8_lossy(&r).contains("unknown procedure: 999"));
    // The daemon's other clients are untouched.
    let (out, err, rc) = virsh_uri(&d.uri(), "list --all");
    assert_eq!(rc, 0, "{}{}", out, err);
}
