//! TLS end to end: a CA, a server certificate and client certificates
//! made at test time (rcgen), oxvirtd listening on TLS on a free loopback
//! port, and the real virsh, python3-libvirt and oxvirsh as its clients.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// What virsh says when the daemon hangs up after the handshake (libvirtd
/// says the same for a missing, untrusted or unlisted certificate).
const REFUSED: &str = "error: Unable to read TLS confirmation: Input/output error";
/// The test client's subject as gnutls (virt-pki-query-dn) prints it.
const CLIENT_DN: &str = "C=GB,ST=London,L=London,O=Oxvirt Test\\, Inc.,CN=client1";

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn dn(parts: &[(DnType, &str)]) -> rcgen::DistinguishedName {
    let mut d = rcgen::DistinguishedName::new();
    for (t, v) in parts {
        if *t == DnType::CountryName {
            // As CAs write it (a UTF8String country is shown in hex).
            let printable = (*v).try_into().expect("printable");
            d.push(t.clone(), rcgen::DnValue::PrintableString(printable));
        } else {
            d.push(t.clone(), *v);
        }
    }
    d
}

fn make_ca(cn: &str) -> Ca {
    let key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name = dn(&[
        (DnType::OrganizationName, "Oxvirt Test"),
        (DnType::CommonName, cn),
    ]);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = p.self_signed(&key).expect("CA");
    Ca { cert, key }
}

/// (certificate PEM, key PEM) signed by `ca`.
fn issue(ca: &Ca, subject: &[(DnType, &str)], sans: &[&str], server: bool) -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut p = CertificateParams::new(sans).expect("params");
    p.distinguished_name = dn(subject);
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let cert = p.signed_by(&key, &ca.cert, &ca.key).expect("certificate");
    (cert.pem(), key.serialize_pem())
}

/// Credentials on disk: `server/` for the daemon, and one pkipath
/// directory per kind of client.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(tag: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("oxvirt-pki-{}-{}", tag, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ca = make_ca("Oxvirt Test CA");
        let other = make_ca("Some Other CA");
        let server = issue(
            &ca,
            &[
                (DnType::OrganizationName, "Oxvirt Test"),
                (DnType::CommonName, "localhost"),
            ],
            &["localhost", "127.0.0.1"],
            true,
        );
        let client = issue(
            &ca,
            &[
                (DnType::CountryName, "GB"),
                (DnType::StateOrProvinceName, "London"),
                (DnType::LocalityName, "London"),
                (DnType::OrganizationName, "Oxvirt Test, Inc."),
                (DnType::CommonName, "client1"),
            ],
            &[],
            false,
        );
        let intruder = issue(
            &other,
            &[
                (DnType::OrganizationName, "Elsewhere"),
                (DnType::CommonName, "intruder"),
            ],
            &[],
            false,
        );
        let ca_pem = ca.cert.pem();
        let both = format!("{}{}", ca_pem, other.cert.pem());
        let put = |sub: &str, files: &[(&str, &str)]| {
            let d = dir.join(sub);
            std::fs::create_dir_all(&d).expect("pki dir");
            for (name, text) in files {
                std::fs::write(d.join(name), text).expect("pki file");
            }
        };
        put(
            "server",
            &[
                ("cacert.pem", &ca_pem),
                ("servercert.pem", &server.0),
                ("serverkey.pem", &server.1),
            ],
        );
        put(
            "good",
            &[
                ("cacert.pem", &ca_pem),
                ("clientcert.pem", &client.0),
                ("clientkey.pem", &client.1),
            ],
        );
        put("nocert", &[("cacert.pem", &ca_pem)]);
        // Trusts our server, but its certificate is from another CA.
        put(
            "intruder",
            &[
                ("cacert.pem", &both),
                ("clientcert.pem", &intruder.0),
                ("clientkey.pem", &intruder.1),
            ],
        );
        // Trusts only the other CA, so not our server.
        put(
            "foreign",
            &[
                ("cacert.pem", &other.cert.pem()),
                ("clientcert.pem", &intruder.0),
                ("clientkey.pem", &intruder.1),
            ],
        );
        Pki { dir }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.join(sub)
    }

    fn uri(&self, port: u16, who: &str, extra: &str) -> String {
        format!(
            "test+tls://localhost:{}/default?pkipath={}{}",
            port,
            self.path(who).display(),
            extra
        )
    }

    /// A configuration naming the server's files explicitly.
    fn conf(&self, port: u16, extra: &str) -> String {
        let s = self.path("server");
        format!(
            "listen_tcp = 0\nlisten_tls = 1\ntls_port = \"{port}\"\nlisten_addr = \"127.0.0.1\"\n\
             ca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n{extra}",
            s.join("cacert.pem").display(),
            s.join("servercert.pem").display(),
            s.join("serverkey.pem").display(),
        )
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_port(port: u16) {
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "nothing listens on TLS port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A daemon listening on TLS (and its port).
fn start(tag: &str, pki: &Pki, extra: &str) -> (Daemon, u16) {
    let port = free_port();
    let d = Daemon::start_with(tag, &pki.conf(port, extra), &["--listen"]);
    wait_port(port);
    (d, port)
}

fn prerequisites() -> bool {
    if !have(VIRSH) {
        println!("skipping: {} is not installed", VIRSH);
        return false;
    }
    true
}

/// This workspace's oxvirsh, up to date.
fn oxvirsh() -> PathBuf {
    common::oxvirsh().expect("oxvirsh builds")
}

fn oxvirsh_uri(uri: &str, cmds: &str) -> (String, String, i32) {
    let o = run(Command::new(oxvirsh()).arg("-c").arg(uri).arg(cmds));
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

fn python(uri: &str) -> (String, String, i32) {
    let script = "import sys, libvirt\n\
                  c = libvirt.open(sys.argv[1])\n\
                  print(sorted(d.name() for d in c.listAllDomains()))\n\
                  print(c.lookupByName('test').info()[0], c.isAlive(), c.isSecure())\n\
                  c.close()\n";
    let o = run(Command::new(PYTHON).args(["-c", script, uri]));
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

/// The test driver's CPU time follows the clock: blank it out.
fn steady((out, err, rc): (String, String, i32)) -> (String, String, i32) {
    let out = out
        .lines()
        .map(|l| {
            if l.starts_with("CPU time:") {
                "CPU time: (varies)\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    (out, err, rc)
}

/// Read-only commands whose output does not depend on the transport.
const COMMANDS: &[&str] = &[
    "list --all",
    "list --name",
    "dominfo test",
    "domstate test",
    "domstate test --reason",
    "dumpxml test",
    "version",
    "nodeinfo",
    "net-list --all",
    "pool-list --all",
];

#[test]
fn virsh_python_and_oxvirsh_over_tls() {
    if !prerequisites() {
        return;
    }
    assert!(
        have_python_libvirt(),
        "python3-libvirt is missing (scripts/test-all.sh installs it)"
    );
    let pki = Pki::new("clients");
    // Credentials at libvirtd's default paths, relocated under --root;
    // listen_tls unset: --listen turns TLS on because they load.
    let port = free_port();
    let conf = format!("listen_tcp = 0\ntls_port = \"{port}\"\n");
    let server = pki.path("server");
    let d = Daemon::start_prepared("tlsclients", &conf, &["--listen"], |root| {
        for (from, to) in [
            ("cacert.pem", "etc/pki/CA/cacert.pem"),
            ("servercert.pem", "etc/pki/libvirt/servercert.pem"),
            ("serverkey.pem", "etc/pki/libvirt/private/serverkey.pem"),
        ] {
            let to = root.join(to);
            std::fs::create_dir_all(to.parent().expect("parent")).expect("pki dir");
            std::fs::copy(server.join(from), to).expect("copy");
        }
    });
    wait_port(port);
    let tls = pki.uri(port, "good", "");
    for cmd in COMMANDS {
        let over_unix = steady(virsh_uri(&d.uri(), cmd));
        let over_tls = steady(virsh_uri(&tls, cmd));
        assert_eq!(over_unix.2, 0, "virsh {cmd} over unix: {}", over_unix.1);
        assert_eq!(over_tls, over_unix, "virsh {cmd}: TLS vs unix");
        let ours = steady(oxvirsh_uri(&tls, cmd));
        assert_eq!(ours, over_tls, "{cmd}: oxvirsh vs virsh over TLS");
    }
    let (out, err, rc) = python(&tls);
    assert_eq!(rc, 0, "python3-libvirt over TLS: {err}");
    assert_eq!(out, "['test']\n1 1 1\n");
    assert_eq!(python(&d.uri()).0, out, "python: TLS vs unix");
}

#[test]
fn refused_clients_are_dropped_alone() {
    if !prerequisites() {
        return;
    }
    let pki = Pki::new("refuse");
    let (mut d, port) = start("tlsrefuse", &pki, "");
    let good = pki.uri(port, "good", "");
    // Someone who connects and says nothing holds up no one.
    let _silent = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    for who in ["nocert", "intruder"] {
        let uri = pki.uri(port, who, "");
        let (out, err, rc) = virsh_uri(&uri, "list");
        assert_eq!((out.as_str(), rc), ("", 1), "virsh as {who}: {err}");
        assert!(err.contains(REFUSED), "virsh as {who}: {err}");
        let ours = oxvirsh_uri(&uri, "list");
        assert_eq!(ours, (out, err, rc), "oxvirsh as {who}");
        let (out, err, rc) = virsh_uri(&good, "domstate test");
        assert_eq!((out.trim(), rc), ("running", 0), "after {who}: {err}");
    }
    // Not TLS at all: plain text, then a libvirt CALL in the clear.
    for junk in [
        b"hello\r\n\r\n".to_vec(),
        frame(REMOTE, 1, 0, 1, &open_args()),
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let _ = s.write_all(&junk);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        assert!(buf.len() < 64, "a non-TLS client got {} bytes", buf.len());
    }
    // A good client that sends a malformed frame inside TLS.
    let mut s = tls_stream(&pki, port);
    let mut one = [0u8; 1];
    s.read_exact(&mut one).expect("confirmation byte");
    assert_eq!(one, [1]);
    s.write_all(&[0xff; 64]).expect("write");
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty(), "a bad frame got an answer");

    assert!(matches!(d.child.try_wait(), Ok(None)), "the daemon died");
    let (out, err, rc) = virsh_uri(&good, "list --all");
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains(" test "), "{out}");
}

/// A rustls client with the good certificate, for byte-level checks.
fn tls_stream(pki: &Pki, port: u16) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let good = pki.path("good");
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(good.join("cacert.pem")).expect("ca") {
        roots.add(c.expect("ca pem")).expect("ca");
    }
    let chain: Vec<_> = CertificateDer::pem_file_iter(good.join("clientcert.pem"))
        .expect("cert")
        .map(|c| c.expect("cert pem"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(good.join("clientkey.pem")).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client config");
    let conn =
        rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().expect("name"))
            .expect("client");
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
    rustls::StreamOwned::new(conn, tcp)
}

/// virsh's error lines, without the log lines libvirt also prints.
fn error_lines(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The client's DN as libvirt's own tool prints it.
fn gnutls_dn(cert: &Path) -> String {
    if !have("/usr/bin/virt-pki-query-dn") {
        return CLIENT_DN.to_string();
    }
    let o = run(Command::new("/usr/bin/virt-pki-query-dn").arg(cert));
    assert!(o.status.success(), "virt-pki-query-dn failed");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn allowed_dn_list_and_reload() {
    if !prerequisites() {
        return;
    }
    let pki = Pki::new("dn");
    let dn = gnutls_dn(&pki.path("good").join("clientcert.pem"));
    assert_eq!(dn, CLIENT_DN);
    let nobody = "tls_allowed_dn_list = [\"C=GB,ST=London,L=London,O=Nobody,CN=*\"]\n";
    let (d, port) = start("tlsdn", &pki, nobody);
    let good = pki.uri(port, "good", "");
    let (out, err, rc) = virsh_uri(&good, "list");
    assert_eq!((out.as_str(), rc), ("", 1), "{err}");
    assert!(err.contains(REFUSED), "{err}");
    assert_eq!(oxvirsh_uri(&good, "list"), (out, err, rc), "oxvirsh");

    // fnmatch patterns: the DN's own backslashes are escaped, and the
    // daemon must spell the DN exactly as gnutls does to match.
    let pattern = dn.replace('\\', "\\\\").replace("CN=client1", "CN=client?");
    let listed = format!("tls_allowed_dn_list = [\"O=Nobody,CN=*\",\n  \"{pattern}\" ]\n");
    std::fs::write(&d.config, pki.conf(port, &listed)).expect("config");
    d.signal(libc::SIGHUP);
    let t0 = Instant::now();
    loop {
        let (out, err, rc) = virsh_uri(&good, "domstate test");
        if rc == 0 {
            assert_eq!(out.trim(), "running");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "still refused after SIGHUP: {err}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Still only those on the list, and only with a valid certificate.
    let (_, err, rc) = virsh_uri(&pki.uri(port, "intruder", ""), "list");
    assert_eq!(rc, 1);
    assert!(err.contains(REFUSED), "{err}");
}

#[test]
fn no_verify_on_either_side() {
    if !prerequisites() {
        return;
    }
    let pki = Pki::new("noverify");
    let (_d, port) = start("tlsnoverify", &pki, "tls_no_verify_certificate = 1\n");
    // The daemon lets in a client without a certificate.
    let (out, err, rc) = virsh_uri(&pki.uri(port, "nocert", ""), "domstate test");
    assert_eq!((out.trim(), rc), ("running", 0), "{err}");
    assert_eq!(
        oxvirsh_uri(&pki.uri(port, "nocert", ""), "domstate test"),
        (out, err, rc)
    );
    // A client that does not trust the server's CA refuses it...
    let foreign = pki.uri(port, "foreign", "");
    let (out, err, rc) = virsh_uri(&foreign, "list");
    assert_eq!(rc, 1);
    let err = error_lines(&err);
    assert_eq!(
        err,
        "error: failed to connect to the hypervisor\n\
         error: authentication failed: Failed to verify peer's certificate\n"
    );
    let ours = oxvirsh_uri(&foreign, "list");
    assert_eq!((ours.0, ours.1, ours.2), (out, err, rc), "oxvirsh");
    // ...unless told not to check (no_verify=1).
    let foreign = pki.uri(port, "foreign", "&no_verify=1");
    let theirs = virsh_uri(&foreign, "list --all");
    assert_eq!(theirs.2, 0, "{}", theirs.1);
    // virsh also logs libvirt's warning about the certificate it let in.
    let theirs = (theirs.0, error_lines(&theirs.1), theirs.2);
    assert_eq!(oxvirsh_uri(&foreign, "list --all"), theirs, "oxvirsh");
}

#[test]
fn bad_credentials_stop_the_daemon() {
    let pki = Pki::new("badcreds");
    let port = free_port();
    let conf = pki.conf(port, "").replace("servercert.pem", "missing.pem");
    let dir = std::env::temp_dir().join(format!("oxvirtd-t-badcreds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("oxvirtd.conf"), conf).expect("conf");
    let o = run(Command::new(env!("CARGO_BIN_EXE_oxvirtd"))
        .arg("--root")
        .arg(&dir)
        .arg("--socket")
        .arg(dir.join("sock"))
        .arg("-f")
        .arg(dir.join("oxvirtd.conf"))
        // Should it start after all, it leaves on its own.
        .args(["--listen", "--timeout", "2"]));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Cannot read certificate '")
            && err.contains("missing.pem': No such file or directory"),
        "{err}"
    );
}

#[test]
fn pending_handshakes_are_bounded_by_max_anonymous_clients() {
    if !prerequisites() {
        return;
    }
    let pki = Pki::new("anon");
    let (_d, port) = start("tlsanon", &pki, "max_anonymous_clients = 2\n");
    let silent: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    // Both slots are taken by clients that never start their handshake:
    // the next one waits in the listen queue...
    let good = pki.uri(port, "good", "");
    let mut child = Command::new(VIRSH)
        .args(["-c", &good, "domstate test"])
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("virsh");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        matches!(child.try_wait(), Ok(None)),
        "a client got past two pending handshakes"
    );
    // ...until one of them goes.
    drop(silent);
    let o = child.wait_with_output().expect("virsh ends");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "running");
}
