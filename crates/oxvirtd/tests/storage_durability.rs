//! Durability of the storage and secret drivers: oxvirtd is killed with
//! SIGKILL while 20 python3-libvirt clients run 200 volume creations,
//! pool definitions and secret definitions (`py/storage_durability.py`),
//! then restarted. Every call that returned success must have left its
//! object whole (a volume listed with its format and size, a pool
//! definition, a secret with its value), and nothing half-written may be
//! listed as a volume.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::qemu::QemuDaemon;
use common::*;

const CLIENTS: usize = 20;
const OPS: usize = 10;
/// Successes before the kill: well inside the run.
const KILL_AFTER: usize = 70;

fn virsh_ok(uri: &str, cmd: &str) -> String {
    let (out, err, rc) = virsh_uri(uri, cmd);
    assert_eq!(rc, 0, "{}: {}{}", cmd, out, err);
    out
}

#[test]
fn kill9_during_concurrent_storage_work_loses_nothing() {
    if !have_python_libvirt() {
        println!("skipping: python3-libvirt is not installed");
        return;
    }
    let mut d = QemuDaemon::new("stdur");
    let uri = d.uri();
    let pool_dir = d.dir.join("pool");
    virsh_ok(
        &uri,
        &format!(
            "pool-define-as durable dir --target {}; pool-build durable; pool-start durable",
            pool_dir.display()
        ),
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/py/storage_durability.py"
    );
    let mut py = Command::new(PYTHON)
        .arg(script)
        .arg(&uri)
        .arg("durable")
        .arg(&d.dir)
        .arg(CLIENTS.to_string())
        .arg(OPS.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python runs");
    let rd = BufReader::new(py.stdout.take().expect("stdout"));
    let mut ok = Vec::new();
    let mut fails = 0;
    let mut killed = false;
    for line in rd.lines() {
        let line = line.unwrap_or_default();
        if line.starts_with("OK ") {
            ok.push(line.clone());
        } else if line.starts_with("FAIL") {
            fails += 1;
        }
        if !killed && ok.len() >= KILL_AFTER {
            d.kill9();
            killed = true;
        }
    }
    let _ = py.wait();
    assert!(
        killed,
        "the run ended before the kill ({} successes)",
        ok.len()
    );
    assert!(fails > 0, "the kill interrupted nothing");
    println!(
        "{} calls succeeded before or around the kill, {} failed",
        ok.len(),
        fails
    );

    d.start();
    // Every success is there, whole.
    let vols = virsh_ok(&uri, "vol-list durable --details");
    let mut listed: BTreeMap<String, String> = BTreeMap::new();
    for l in vols.lines().skip(2) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() >= 2 {
            listed.insert(f[0].to_string(), l.to_string());
        }
    }
    for line in &ok {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f[1] {
            "vol" => {
                let (name, fmt, cap) = (f[2], f[3], f[4]);
                assert!(listed.contains_key(name), "volume {} lost", name);
                let x = virsh_ok(&uri, &format!("vol-dumpxml --pool durable {}", name));
                assert!(
                    x.contains(&format!("<format type='{}'/>", fmt))
                        && x.contains(&format!("<capacity unit='bytes'>{}</capacity>", cap)),
                    "volume {} is not whole:\n{}",
                    name,
                    x
                );
            }
            "pool" => {
                let x = virsh_ok(&uri, &format!("pool-dumpxml {}", f[2]));
                assert!(x.contains(&format!("<path>{}</path>", f[3])), "{}", x);
            }
            "secret" => {
                let v = virsh_ok(&uri, &format!("secret-get-value --plain {}", f[2]));
                assert_eq!(v.trim_end(), f[3], "secret {}", f[2]);
            }
            _ => panic!("{}", line),
        }
    }
    // Nothing listed is half-written: every volume is a whole image.
    for (name, _) in listed {
        let path = pool_dir.join(&name);
        let out = Command::new("qemu-img")
            .args(["info", "-U", "--output=json"])
            .arg(&path)
            .output()
            .expect("qemu-img");
        let info = String::from_utf8_lossy(&out.stdout);
        if name.ends_with(".qcow2") {
            assert!(
                info.contains("\"format\": \"qcow2\"")
                    && info.contains("\"virtual-size\": 1073741824"),
                "{}: {}",
                name,
                info
            );
        } else {
            assert_eq!(
                std::fs::metadata(&path).map(|m| m.len()).ok(),
                Some(8 << 20),
                "{}",
                name
            );
        }
    }
    // No temporary file is left behind either.
    for e in std::fs::read_dir(&pool_dir).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        assert!(!n.starts_with(".oxvirt-partial-"), "leftover {}", n);
    }
}
