//! `oxvirtd --metrics`: python3-prometheus-client's parsers (classic text
//! and OpenMetrics) scrape /metrics while a save of a 1 GiB guest runs
//! (held mid-way: it writes into a FIFO nobody reads, then is aborted),
//! and every guest must have fresh figures, answered promptly; a save
//! into a file then shows the guest shut off (`py/metrics_scrape.py`). Two guests with no OS (KVM when /dev/kvm
//! works, else TCG), each with a raw disk. Everything (daemon, QEMUs,
//! files) is removed by the harness's Drop, also on failure.

mod common;

use std::process::{Command, Stdio};

use common::qemu::{cli, installed, kvm_usable, QemuDaemon, QEMU};

const VIRSH: &str = "/usr/bin/virsh";
const INTERVAL: &str = "1";

fn guest_xml(name: &str, kind: &str, mib: u32, disk: &std::path::Path) -> String {
    format!(
        "<domain type='{}'><name>{}</name><memory unit='MiB'>{}</memory><vcpu>1</vcpu>\
<os><type arch='x86_64'>hvm</type></os><devices><emulator>{}</emulator>\
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{}'/>\
<target dev='vda' bus='virtio'/></disk></devices></domain>",
        kind,
        name,
        mib,
        QEMU,
        disk.display()
    )
}

fn ok(d: &QemuDaemon, args: &[&str]) {
    let (out, err, good) = cli(VIRSH, d, args);
    assert!(good, "virsh {:?}: {} {}", args, out, err);
}

#[test]
fn scrape_during_a_1gib_save_has_fresh_figures_for_every_guest() {
    if !installed(&[QEMU, VIRSH, common::PYTHON]) || !common::have_python_libvirt() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let metrics = format!("127.0.0.1:{}", port);
    let d = QemuDaemon::prepared_with_args(
        "metrics",
        &[],
        &["--metrics", &metrics, "--metrics-interval", INTERVAL],
        |_| {},
    );
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    println!("accelerator: {}", if kind == "kvm" { "KVM" } else { "TCG" });
    let (saved, other) = ("metrics-big", "metrics-small");
    for (name, mib) in [(saved, 1024), (other, 64)] {
        let disk = d.dir.join(format!("{}.img", name));
        std::fs::File::create(&disk)
            .and_then(|f| f.set_len(8 << 20))
            .expect("disk image");
        let xml = d.dir.join(format!("{}.xml", name));
        std::fs::write(&xml, guest_xml(name, kind, mib, &disk)).expect("xml");
        ok(&d, &["define", xml.to_str().unwrap()]);
        ok(&d, &["start", name]);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/metrics_scrape.py");
    let fifo = d.dir.join("save.fifo");
    let out = Command::new(common::PYTHON)
        .arg(script)
        .arg(d.uri())
        .arg(format!("http://{}/metrics", metrics))
        .args([saved, other])
        .arg(&fifo)
        .arg(INTERVAL)
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{}", stdout);
    assert!(
        out.status.success(),
        "metrics_scrape.py failed:\n{}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    // Unknown paths and methods get HTTP answers, not a hang.
    let mut s = std::net::TcpStream::connect(&metrics).expect("connect");
    use std::io::{Read, Write};
    s.write_all(
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 405"), "{}", reply);
}
