//! Hotplug: a bridge added to and removed from a network
//! namespace made for the test shows up as libvirt's node device events
//! (created, then deleted), read from the kernel's uevents with no udevd.
//!
//! The driver runs in a child process inside the namespace (`ip netns
//! exec` gives it the namespace's view of /sys); the child is this test
//! binary again, in helper mode.

use std::io::{BufRead, BufReader};

use oxvirt_core::NodeDeviceDriver;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const HELPER: &str = "OXVIRT_NODEDEV_HELPER";

/// A network namespace removed on drop.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(ns: &str, args: &[&str]) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "ip"])
        .args(args)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Helper mode: print every node device event as "EVENT name".
#[test]
fn helper() {
    if std::env::var_os(HELPER).is_none() {
        return;
    }
    let d = oxvirt_nodedev::NodeDevDriver::open();
    let cb: oxvirt_core::driver::NodeDevEventCallback =
        std::sync::Arc::new(|name: &str, event: i32, _detail: i32| {
            println!("EVENT {} {}", event, name);
        });
    d.node_device_event_register(None, 0, cb).expect("register");
    let names: Vec<String> = d
        .list_all_node_devices(1 << 4)
        .expect("list")
        .into_iter()
        .map(|r| r.name)
        .collect();
    println!("READY {}", names.join(","));
    std::thread::sleep(Duration::from_secs(20));
}

#[test]
fn veth_pair_events() {
    if std::env::var_os(HELPER).is_some() {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !std::path::Path::new("/sbin/ip").exists() {
        eprintln!("skipped: needs root and iproute2");
        return;
    }
    let ns = Netns(format!("nova-nd-{}", std::process::id()));
    assert!(Command::new("ip")
        .args(["netns", "add", &ns.0])
        .status()
        .expect("ip runs")
        .success());
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(std::env::current_exe().expect("test binary"))
        .args(["--exact", "helper", "--nocapture", "--test-threads=1"])
        .env(HELPER, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("helper starts");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_for = |want: &dyn Fn(&str) -> bool| -> Option<String> {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
                if want(&l) {
                    return Some(l);
                }
            }
        }
        None
    };
    // (the harness prints "test helper ... " before the helper's first line)
    let ready = wait_for(&|l| l.contains("READY ")).expect("helper ready");
    // A fresh namespace has only its loopback.
    assert!(
        ready.ends_with("READY net_lo_00_00_00_00_00_00"),
        "{}",
        ready
    );
    assert!(ip(
        &ns.0,
        &[
            "link",
            "add",
            "ndtest0",
            "address",
            "02:00:00:00:00:a1",
            "type",
            "veth",
            "peer",
            "name",
            "ndtest1",
            "address",
            "02:00:00:00:00:a2",
        ]
    ));
    let mut created = Vec::new();
    while created.len() < 2 {
        match wait_for(&|l| l.starts_with("EVENT 0 ")) {
            Some(l) => created.push(l),
            None => break,
        }
    }
    assert!(ip(&ns.0, &["link", "del", "ndtest0"]));
    let mut deleted = Vec::new();
    while deleted.len() < 2 {
        match wait_for(&|l| l.starts_with("EVENT 1 ")) {
            Some(l) => deleted.push(l),
            None => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    created.sort();
    deleted.sort();
    assert_eq!(
        created,
        [
            "EVENT 0 net_ndtest0_02_00_00_00_00_a1",
            "EVENT 0 net_ndtest1_02_00_00_00_00_a2"
        ]
    );
    assert_eq!(
        deleted,
        [
            "EVENT 1 net_ndtest0_02_00_00_00_00_a1",
            "EVENT 1 net_ndtest1_02_00_00_00_00_a2"
        ]
    );
}
