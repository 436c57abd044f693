//! The remote driver over TLS against the real oxvirtd: calls from many
//! threads at once, frames of megabytes, events, keepalive-sized idles,
//! and the server name checked against the certificate.

mod common;
use common::oxvirtd;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use oxvirt_core::event::{DomainEvent, DomainEventKind};
use oxvirt_core::uri::Uri;
use oxvirt_core::Connection;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

/// A daemon serving TLS with freshly made credentials; `client/` holds
/// the client's pkipath files.
struct Daemon {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Daemon {
    fn start(tag: &str, listen_addr: &str) -> Daemon {
        let dir =
            std::env::temp_dir().join(format!("oxvirt-remote-tls-{}-{}", tag, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("client")).expect("temp dir");

        let ca_key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name.push(DnType::CommonName, "Test CA");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = p.self_signed(&ca_key).expect("CA");
        let issue = |sans: Vec<String>, cn: &str, eku| {
            let key = KeyPair::generate().expect("key");
            let mut p = CertificateParams::new(sans).expect("params");
            p.distinguished_name.push(DnType::CommonName, cn);
            p.extended_key_usages = vec![eku];
            let cert = p.signed_by(&key, &ca, &ca_key).expect("cert");
            (cert.pem(), key.serialize_pem())
        };
        let server = issue(
            vec!["localhost".into(), "127.0.0.1".into()],
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let client = issue(vec![], "client", ExtendedKeyUsagePurpose::ClientAuth);
        let w = |p: PathBuf, s: &str| std::fs::write(p, s).expect("write");
        w(dir.join("cacert.pem"), &ca.pem());
        w(dir.join("servercert.pem"), &server.0);
        w(dir.join("serverkey.pem"), &server.1);
        w(dir.join("client/cacert.pem"), &ca.pem());
        w(dir.join("client/clientcert.pem"), &client.0);
        w(dir.join("client/clientkey.pem"), &client.1);

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let conf = format!(
            "listen_tcp = 0\nlisten_tls = 1\ntls_port = \"{port}\"\nlisten_addr = \"{listen_addr}\"\n\
             ca_file = \"{d}/cacert.pem\"\ncert_file = \"{d}/servercert.pem\"\n\
             key_file = \"{d}/serverkey.pem\"\n",
            d = dir.display()
        );
        w(dir.join("oxvirtd.conf"), &conf);
        let child = Command::new(oxvirtd())
            .arg("--root")
            .arg(&dir)
            .arg("--socket")
            .arg(dir.join("sock"))
            .arg("-f")
            .arg(dir.join("oxvirtd.conf"))
            .arg("--listen")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("oxvirtd starts");
        let t = Instant::now();
        while std::net::TcpStream::connect((listen_addr, port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(20), "TLS never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        Daemon { child, dir, port }
    }

    fn uri(&self, host: &str, extra: &str) -> String {
        format!(
            "test+tls://{host}:{}/default?pkipath={}{extra}",
            self.port,
            self.dir.join("client").display()
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn open(name: &str) -> oxvirt_core::Result<Arc<Connection>> {
    let uri = Uri::parse(name).expect("uri");
    oxvirt_remote::open(name, &uri, 0)
}

#[test]
fn many_threads_big_frames_and_events_over_tls() {
    let d = Daemon::start("busy", "127.0.0.1");
    let name = d.uri("localhost", "");
    let c = open(&name).expect("connects over TLS");
    assert_eq!(c.uri().expect("uri"), name);
    assert!(c.is_secure().expect("is_secure"));
    assert!(c.is_encrypted().expect("is_encrypted"));

    let (tx, rx) = mpsc::channel::<DomainEvent>();
    let tx = Mutex::new(tx);
    let cbid = c
        .domain_event_register(
            None,
            0,
            Arc::new(move |ev: &DomainEvent| {
                if let Ok(t) = tx.lock() {
                    let _ = t.send(ev.clone());
                }
            }),
        )
        .expect("registers");

    // Calls from eight threads at once share the one TLS session.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    let doms = c.list_all_domains(0).expect("lists");
                    let test = doms.iter().find(|x| x.name == "test").expect("test");
                    let xml = c.domain_get_xml_desc(test, 0).expect("xml");
                    assert!(xml.contains("<name>test</name>"));
                }
            })
        })
        .collect();

    // Meanwhile, a definition of several megabytes each way.
    let big = "x".repeat(3 * 1024 * 1024);
    let xml = format!(
        "<domain type='test'><name>big</name><description>{big}</description>\
         <memory unit='KiB'>8192</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
    );
    let dom = c.domain_define_xml(&xml, 0).expect("defines a big domain");
    let back = c.domain_get_xml_desc(&dom, 0).expect("big xml");
    assert!(back.contains(&big), "the description came back whole");
    for t in threads {
        t.join().expect("a caller thread failed");
    }
    c.domain_undefine(&dom, 0).expect("undefines");

    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 2 && Instant::now() < deadline {
        if let Ok(ev) = rx.recv_timeout(Duration::from_millis(200)) {
            if let (DomainEventKind::Lifecycle { event, .. }, "big") =
                (ev.kind, ev.dom.name.as_str())
            {
                got.push(event);
            }
        }
    }
    // defined, undefined
    assert_eq!(got, vec![0, 1]);
    c.domain_event_deregister(cbid).expect("deregisters");
    drop(c);

    // Connections come and go; the daemon keeps serving.
    for _ in 0..20 {
        let c = open(&name).expect("reconnects");
        assert!(!c.list_all_domains(0).expect("lists").is_empty());
    }
}

#[test]
fn the_server_name_is_checked() {
    // Listening on 127.0.0.2: the certificate names localhost and
    // 127.0.0.1 only.
    let d = Daemon::start("name", "127.0.0.2");
    let e = open(&d.uri("127.0.0.2", "")).err().expect("refused");
    assert_eq!(
        e.message,
        "authentication failed: Failed to verify peer's certificate"
    );
    // no_verify=1 skips the check, as with libvirt's client.
    let c = open(&d.uri("127.0.0.2", "&no_verify=1")).expect("connects");
    assert!(!c.list_all_domains(0).expect("lists").is_empty());
}
