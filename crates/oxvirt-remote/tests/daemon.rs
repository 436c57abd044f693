//! Drives the real oxvirtd binary through the remote driver.

mod common;
use common::oxvirtd;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use oxvirt_core::error::code;
use oxvirt_core::event::{DomainEvent, DomainEventKind};
use oxvirt_core::uri::Uri;
use oxvirt_core::Connection;

struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Daemon {
    fn start() -> Daemon {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "oxvirt-remote-test-{}-{}",
            std::process::id(),
            nanos
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let sock = dir.join("sock");
        let child = Command::new(oxvirtd())
            .arg("--root")
            .arg(&dir)
            .arg("--socket")
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("oxvirtd starts");
        let t = Instant::now();
        while !sock.exists() && t.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        Daemon { child, dir }
    }

    fn uri(&self) -> String {
        format!(
            "test+unix:///default?socket={}",
            self.dir.join("sock").display()
        )
    }

    fn open(&self) -> std::sync::Arc<Connection> {
        let name = self.uri();
        let uri = Uri::parse(&name).expect("uri");
        oxvirt_remote::open(&name, &uri, 0).expect("connects")
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const XML: &str = "<domain type='test'><name>remote1</name><memory unit='KiB'>8192</memory>\
<vcpu>1</vcpu><os><type>hvm</type></os></domain>";

#[test]
fn list_define_start_events_errors() {
    let mut d = Daemon::start();
    let c = d.open();
    assert_eq!(c.uri().unwrap(), d.uri());
    assert_eq!(c.get_type().unwrap().to_lowercase(), "test");
    // A unix socket is secure, not encrypted (libvirt's client agrees).
    assert!(c.is_secure().unwrap());
    assert!(!c.is_encrypted().unwrap());

    // list
    let doms = c.list_all_domains(0).expect("lists");
    assert!(doms.iter().any(|x| x.name == "test"), "{:?}", doms);

    // events
    let (tx, rx) = mpsc::channel::<DomainEvent>();
    let tx = std::sync::Mutex::new(tx);
    let cbid = c
        .domain_event_register(
            None,
            0,
            std::sync::Arc::new(move |ev: &DomainEvent| {
                if let Ok(t) = tx.lock() {
                    let _ = t.send(ev.clone());
                }
            }),
        )
        .expect("registers");
    assert!(cbid > 0);

    // define and start
    let dom = c.domain_define_xml(XML, 0).expect("defines");
    assert_eq!(dom.name, "remote1");
    assert_eq!(dom.id, -1);
    let dom = c.domain_create(&dom, 0).expect("starts");
    assert!(dom.id > 0);
    assert!(c.domain_is_active(&dom).unwrap());
    assert_eq!(c.domain_get_state(&dom, 0).unwrap().0, 1);
    c.domain_destroy(&dom, 0).expect("destroys");

    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 3 && Instant::now() < deadline {
        if let Ok(ev) = rx.recv_timeout(Duration::from_millis(200)) {
            if ev.dom.name == "remote1" {
                if let DomainEventKind::Lifecycle { event, detail } = ev.kind {
                    got.push((event, detail));
                }
            }
        }
    }
    // defined/added, started/booted, stopped/destroyed
    assert_eq!(got, vec![(0, 0), (2, 0), (5, 1)]);
    c.domain_event_deregister(cbid).expect("deregisters");
    assert!(c.domain_event_deregister(cbid).is_err());

    // errors keep libvirt's code, domain and message
    let e = c.lookup_domain_by_name("nosuch").unwrap_err();
    assert_eq!((e.code, e.domain), (code::NO_DOMAIN, 12));
    assert!(e.message.starts_with("Domain not found"), "{}", e.message);
    let e = c.domain_suspend(&dom).unwrap_err();
    assert!(e.message.contains("not running"), "{}", e.message);
    // an API with no procedure here is NO_SUPPORT, never a fake success
    let e = c
        .domain_migrate_get_max_speed(&dom, 0)
        .expect_err("not supported");
    assert_eq!(e.code, code::NO_SUPPORT);

    c.domain_undefine(&dom, 0).expect("undefines");
    assert!(c.lookup_domain_by_name("remote1").is_err());

    // networks and pools go through too
    assert!(!c.list_all_networks(0).unwrap().is_empty());
    assert!(!c.list_all_storage_pools(0).unwrap().is_empty());

    // the daemon going away fails calls instead of hanging or panicking
    d.stop();
    let e = c.list_all_domains(0).unwrap_err();
    assert!(!e.message.is_empty());
    drop(c);
}

#[test]
fn connection_refused_reads_like_libvirt() {
    let name = "test+unix:///default?socket=/nonexistent/oxvirt-sock";
    let uri = Uri::parse(name).unwrap();
    let e = oxvirt_remote::open(name, &uri, 0).err().expect("fails");
    assert_eq!(
        e.message,
        "Failed to connect socket to '/nonexistent/oxvirt-sock': No such file or directory"
    );
}

/// The guest-agent, statistics and stream methods answer through the
/// daemon exactly what the test driver answers in process.
#[test]
fn agent_stats_and_streams_match_the_embedded_driver() {
    let d = Daemon::start();
    let remote = d.open();
    let local = oxvirt_test_driver::open(&Uri::parse("test:///default").unwrap(), 0)
        .expect("embedded test driver");
    let dom = remote.lookup_domain_by_name("test").expect("test domain");
    let mps = ["/".to_string()];
    let both = |f: &dyn Fn(&Connection) -> String| (f(&remote), f(&local));
    let checks: Vec<(&str, (String, String))> = vec![
        (
            "fs freeze",
            both(&|c| format!("{:?}", c.domain_fs_freeze(&dom, &mps, 0))),
        ),
        (
            "fs thaw",
            both(&|c| format!("{:?}", c.domain_fs_thaw(&dom, &[], 0))),
        ),
        (
            "fs trim",
            both(&|c| format!("{:?}", c.domain_fs_trim(&dom, Some("/"), 0, 0))),
        ),
        (
            "fs info",
            both(&|c| format!("{:?}", c.domain_get_fs_info(&dom, 0))),
        ),
        (
            "cpu count",
            both(&|c| format!("{:?}", c.domain_get_cpu_stats(&dom, 0, 0, 0, 0))),
        ),
        (
            "cpu stats",
            both(&|c| format!("{:?}", c.domain_get_cpu_stats(&dom, 0, 2, 2, 0))),
        ),
        (
            "cpu stats, one",
            both(&|c| format!("{:?}", c.domain_get_cpu_stats(&dom, 1, 1, 1, 0))),
        ),
        (
            "cpu total",
            both(&|c| format!("{:?}", c.domain_get_cpu_stats(&dom, -1, 1, 0, 0))),
        ),
        (
            "disk errors",
            both(&|c| format!("{:?}", c.domain_get_disk_errors(&dom, 0))),
        ),
        (
            "launch security",
            both(&|c| format!("{:?}", c.domain_get_launch_security_info(&dom, 4))),
        ),
        (
            "signal",
            both(&|c| format!("{:?}", c.domain_send_process_signal(&dom, 1, 9, 0))),
        ),
        (
            "bad signal",
            both(&|c| format!("{:?}", c.domain_send_process_signal(&dom, 7, 9, 0))),
        ),
        (
            "set time",
            both(&|c| format!("{:?}", c.domain_set_time(&dom, 5, 6, 0))),
        ),
        (
            "password",
            both(&|c| format!("{:?}", c.domain_set_user_password(&dom, "root", "pw", 0))),
        ),
        (
            "console",
            both(&|c| format!("{:?}", c.domain_open_console(&dom, None, 0).err())),
        ),
        (
            "volume upload",
            both(&|c| {
                let v = oxvirt_core::types::VolRef {
                    pool: "default-pool".into(),
                    name: "nosuch".into(),
                    key: "/default-pool/nosuch".into(),
                };
                format!("{:?}", c.vol_upload(&v, 0, 0, 0).err())
            }),
        ),
    ];
    for (what, (r, l)) in &checks {
        assert_eq!(r, l, "{what}");
    }
    // The screenshot stream carries the whole file.
    let mut shots = Vec::new();
    for c in [&remote, &local] {
        let (mime, mut st) = c.domain_screenshot(&dom, 0, 0).expect("screenshot");
        let mut data = Vec::new();
        while let Some(chunk) = st.recv().expect("reads") {
            data.extend_from_slice(&chunk);
        }
        st.finish().expect("finishes");
        shots.push((mime, data));
    }
    assert_eq!(shots[0].0, "image/png");
    assert!(shots[0] == shots[1], "screenshots differ");

    // Node device events: registered and deregistered by the daemon's ids.
    let id = remote
        .node_device_event_register(None, 0, std::sync::Arc::new(|_: &str, _, _| {}))
        .expect("registers");
    remote
        .node_device_event_deregister(id)
        .expect("deregisters");
    assert!(remote.node_device_event_deregister(id).is_err());
}
