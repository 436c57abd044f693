//! Events as virsh shows them: `virsh event --loop --all --timeout`
//! against oxvirtd while another virsh runs a scripted sequence of
//! lifecycle operations, compared with the lines the reference libvirtd
//! 9.0 printed for the same sequence (tests/golden/virsh_event.expected).
//!
//! To record again: start the reference (shared/tools/reference-libvirtd.sh)
//! and run this test with OXVIRT_RECORD_EVENTS=1; it then drives
//! test+unix:///default (libvirtd's test driver) and rewrites the file.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const EXPECTED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/virsh_event.expected"
);

fn dom_xml(name: &str) -> String {
    format!(
        "<domain type='test'><name>{name}</name><memory>65536</memory>\
         <vcpu>1</vcpu><os><type>hvm</type></os></domain>"
    )
}

#[test]
fn virsh_event_loop_matches_libvirtd() {
    if !have(VIRSH) {
        println!("skipping: {} is not installed", VIRSH);
        return;
    }
    let record = std::env::var_os("OXVIRT_RECORD_EVENTS").is_some();
    let daemon = if record {
        None
    } else {
        Some(Daemon::start("virshevent"))
    };
    let uri = match &daemon {
        Some(d) => d.uri(),
        None => "test+unix:///default".to_string(),
    };
    let dir = std::env::temp_dir().join(format!("oxvirt-virshevent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let probe = dir.join("probe.xml");
    std::fs::write(&probe, dom_xml("evprobe")).expect("xml");
    let xml = dir.join("ev1.xml");
    std::fs::write(&xml, dom_xml("ev1")).expect("xml");
    let save = dir.join("ev1.save");
    let _ = std::fs::remove_file(&save);

    let mut ev = Command::new(VIRSH)
        .args(["-c", &uri, "event", "--loop", "--all", "--timeout", "10"])
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("virsh event runs");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = lines.clone();
        let out = ev.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(l);
            }
        })
    };
    // Wait until virsh has registered: probe events show up.
    let t0 = Instant::now();
    loop {
        let _ = virsh_uri(
            &uri,
            &format!("define {}; undefine evprobe", probe.display()),
        );
        let seen = lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|l| l.contains("evprobe"));
        if seen {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(8),
            "virsh event never registered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let script = format!(
        "define {x}; start ev1; suspend ev1; resume ev1; shutdown ev1; start ev1; \
         desc ev1 --live --new-desc hello; managedsave ev1; start ev1; \
         save ev1 {s}; restore {s}; destroy ev1; undefine ev1 --managed-save; \
         create {x}; suspend ev1; destroy ev1",
        x = xml.display(),
        s = save.display()
    );
    let (_, err, rc) = virsh_uri(&uri, &script);
    assert_eq!(rc, 0, "{err}");
    let st = ev.wait().expect("virsh event ends");
    let _ = reader.join();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(st.success());
    let got: String = lines
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|l| !l.contains("evprobe") && !l.starts_with("events received"))
        .map(|l| format!("{l}\n"))
        .collect();
    if record {
        std::fs::write(EXPECTED, &got).expect("expectation written");
        println!("recorded {EXPECTED}:\n{got}");
        return;
    }
    let want = std::fs::read_to_string(EXPECTED).expect("expectation file");
    assert_eq!(got, want);
}
