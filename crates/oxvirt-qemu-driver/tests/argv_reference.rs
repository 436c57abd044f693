//! The QEMU command line against libvirt's: for every x86_64-latest input
//! of libvirt's QEMU test data that the reference libvirtd 9.0 turns into
//! a command line on this host (`virsh domxml-to-native qemu-argv`,
//! recorded in tests/reference/ by tools/record-qemu-reference.py), the
//! definition goes through the driver's `domxml-to-native` path
//! (argv/native.rs: define, NICs as `ethernet`, the command line builder),
//! and these parts of the two command lines are compared:
//!
//! - machine: the `-machine` type and properties, `-accel`, `-m`, `-smp`;
//! - devices: every `-device` as (driver, id, bus, addr, multifunction),
//!   i.e. the device models and their bus addresses;
//! - memory: every `-object memory-backend-*` as (type, id, size);
//! - blockdev: the `-blockdev` node graph as (node-name, driver, the
//!   nodes it links to through file/backing/data-file).
//!
//! Paths, file descriptors and host-side backends (netdevs, chardev
//! sockets) are not compared. The test prints the figure per part and
//! for documents matching on all of them; floors in tests/argv-floor only
//! go up. `OXVIRT_SHOW=substring` prints the differences.

mod common;
use common::{corpus, floor, show};

use std::collections::BTreeMap;
use std::path::Path;

use oxvirt_qemu_driver::argv::native;
use oxvirt_qemu_driver::define::{self, Context, Paths};
use oxvirt_qemu_driver::host::QemuHost;
use serde_json::Value;

/// `virsh domxml-to-native qemu-argv` in process: define, then the
/// driver's domxml-to-native with libvirt's directories.
fn to_native(host: &QemuHost, paths: &Paths, xml: &str) -> Result<Vec<String>, oxvirt_core::Error> {
    let ctx = Context {
        host,
        abi_update: true,
        paths,
    };
    let def = define::parse(xml, &ctx)?;
    let home = format!("/var/lib/libvirt/qemu/{}", native::home_name(&def.name));
    native::argv(def, &ctx, &home)
}

/// `driver,key=value,...` (QEMU's legacy syntax) as JSON.
fn keyval(s: &str, implied: &str) -> Value {
    let mut m = serde_json::Map::new();
    for (i, part) in s.split(',').enumerate() {
        match part.split_once('=') {
            Some((k, v)) => {
                m.insert(k.to_string(), Value::String(v.to_string()));
            }
            None if i == 0 => {
                m.insert(implied.to_string(), Value::String(part.to_string()));
            }
            None => {
                m.insert(part.to_string(), Value::String("on".into()));
            }
        }
    }
    Value::Object(m)
}

fn props(v: &str, implied: &str) -> Value {
    if v.starts_with('{') {
        serde_json::from_str(v).unwrap_or(Value::Null)
    } else {
        keyval(v, implied)
    }
}

fn s(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The compared parts of one command line.
fn parts(argv: &[String]) -> BTreeMap<&'static str, Vec<String>> {
    let mut out: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for k in ["machine", "devices", "memory", "blockdev"] {
        out.insert(k, Vec::new());
    }
    let mut i = 0;
    while i + 1 < argv.len() {
        let (opt, val) = (argv[i].as_str(), argv[i + 1].as_str());
        match opt {
            "-machine" => {
                let mut it = val.split(',');
                let ty = it.next().unwrap_or("").to_string();
                let mut p: Vec<&str> = it.collect();
                p.sort();
                out.get_mut("machine")
                    .unwrap()
                    .push(format!("machine {} {}", ty, p.join(",")));
            }
            "-accel" | "-m" | "-smp" => {
                out.get_mut("machine")
                    .unwrap()
                    .push(format!("{} {}", opt, val));
            }
            "-device" => {
                let d = props(val, "driver");
                let multi = match &d["multifunction"] {
                    Value::Bool(true) => "on".to_string(),
                    Value::String(v) if v == "on" => "on".to_string(),
                    _ => String::new(),
                };
                out.get_mut("devices").unwrap().push(format!(
                    "driver={} id={} bus={} addr={} multifunction={}",
                    s(&d, "driver"),
                    s(&d, "id"),
                    s(&d, "bus"),
                    s(&d, "addr"),
                    multi
                ));
            }
            "-object" => {
                let o = props(val, "qom-type");
                let t = s(&o, "qom-type");
                if t.starts_with("memory-backend") {
                    out.get_mut("memory").unwrap().push(format!(
                        "{} id={} size={}",
                        t,
                        s(&o, "id"),
                        s(&o, "size")
                    ));
                }
            }
            "-blockdev" => {
                let b = props(val, "driver");
                let link = |k: &str| match &b[k] {
                    Value::String(n) => format!(" {}={}", k, n),
                    _ => String::new(),
                };
                out.get_mut("blockdev").unwrap().push(format!(
                    "{} driver={}{}{}{}",
                    s(&b, "node-name"),
                    s(&b, "driver"),
                    link("file"),
                    link("backing"),
                    link("data-file")
                ));
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

#[test]
fn command_line_against_reference_libvirtd() {
    let Some(root) = corpus() else {
        eprintln!("conformance corpus not found; skipped");
        return;
    };
    if !Path::new("/usr/bin/qemu-system-x86_64").exists() {
        eprintln!("qemu-system-x86_64 not installed; skipped");
        return;
    }
    let cache = std::env::temp_dir().join(format!("oxvirt-argv-{}", std::process::id()));
    let host = QemuHost::probe(&cache);
    // The reference was recorded on a host without QEMU firmware
    // descriptors (no OVMF): autoselection finds none, as it found none.
    let paths = Paths {
        firmware_dirs: Vec::new(),
        ..Paths::libvirt_system()
    };
    let refdir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/x86_64-latest");
    let mut names: Vec<String> = std::fs::read_dir(&refdir)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".args").map(str::to_string))
        .collect();
    names.sort();
    let mut per_part: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut all = 0;
    let mut exact = 0;
    let mut failing = Vec::new();
    for name in &names {
        let want_argv: Vec<String> = std::fs::read_to_string(refdir.join(format!("{}.args", name)))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        let want = parts(&want_argv);
        let input = std::fs::read_to_string(
            root.join("xml/qemuxml2argvdata")
                .join(format!("{}.xml", name)),
        )
        .unwrap_or_default();
        let got = to_native(&host, &paths, &input);
        let got = match got {
            Ok(argv) => {
                if argv == want_argv {
                    exact += 1;
                } else if std::env::var("OXVIRT_EXACT").is_ok_and(|s| name.contains(&s)) {
                    eprintln!("EXACT {}:", name);
                    for x in want_argv.iter().filter(|x| !argv.contains(x)) {
                        eprintln!("  - {}", x);
                    }
                    for x in argv.iter().filter(|x| !want_argv.contains(x)) {
                        eprintln!("  + {}", x);
                    }
                }
                parts(&argv)
            }
            Err(e) => {
                failing.push(name.clone());
                if show(name) {
                    eprintln!("ERROR {}: {}", name, e);
                }
                continue;
            }
        };
        let mut ok_all = true;
        for (k, w) in &want {
            let g = &got[k];
            if g == w {
                *per_part.entry(k).or_default() += 1;
            } else {
                ok_all = false;
                if show(name) {
                    eprintln!("DIFF {} {}:", name, k);
                    for x in w.iter().filter(|x| !g.contains(x)) {
                        eprintln!("  - {}", x);
                    }
                    for x in g.iter().filter(|x| !w.contains(x)) {
                        eprintln!("  + {}", x);
                    }
                }
            }
        }
        if ok_all {
            all += 1;
        } else {
            failing.push(name.clone());
        }
    }
    // Documents the reference defines but cannot start here: refused
    // with libvirt's error code (and message).
    let mut refused: Vec<String> = std::fs::read_dir(&refdir)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".args-err").map(str::to_string))
        .filter(|n| refdir.join(format!("{}.xml", n)).exists())
        .collect();
    refused.sort();
    let (mut same_code, mut same_message) = (0, 0);
    for name in &refused {
        let want =
            std::fs::read_to_string(refdir.join(format!("{}.args-err", name))).unwrap_or_default();
        let mut f = want.trim_end().splitn(3, '\t');
        let code: i32 = f.next().and_then(|c| c.parse().ok()).unwrap_or(-1);
        let _domain = f.next();
        let message = f.next().unwrap_or("");
        let input = std::fs::read_to_string(
            root.join("xml/qemuxml2argvdata")
                .join(format!("{}.xml", name)),
        )
        .unwrap_or_default();
        let got = to_native(&host, &paths, &input);
        match got {
            Err(e) if e.code == code => {
                same_code += 1;
                if e.message == message {
                    same_message += 1;
                } else if show(name) {
                    eprintln!("MESSAGE {}: want {:?} got {:?}", name, message, e.message);
                }
            }
            other => {
                if show(name) {
                    eprintln!(
                        "REFUSE {}: want {} {:?} got {:?}",
                        name,
                        code,
                        message,
                        other.map(|_| "a command line")
                    );
                }
                failing.push(name.clone());
            }
        }
    }
    println!(
        "argv: {} documents the reference refuses to start here: {} refused with libvirt's code, {} with its message",
        refused.len(),
        same_code,
        same_message
    );
    let _ = std::fs::remove_dir_all(&cache);
    let total = names.len();
    let pct = |a: usize| 100.0 * a as f64 / total.max(1) as f64;
    println!(
        "argv (x86_64-latest, reference libvirtd, {} command lines): all compared parts match for {} ({:.1}%); machine {}, devices {}, memory {}, blockdev {}",
        total,
        all,
        pct(all),
        per_part.get("machine").copied().unwrap_or(0),
        per_part.get("devices").copied().unwrap_or(0),
        per_part.get("memory").copied().unwrap_or(0),
        per_part.get("blockdev").copied().unwrap_or(0),
    );
    println!(
        "argv: whole command line identical for {} ({:.1}%)",
        exact,
        pct(exact)
    );
    if std::env::var_os("OXVIRT_LIST").is_some() {
        println!("failing: {}", failing.join(" "));
    }
    assert!(
        all >= floor("argv-floor", "all-parts"),
        "fell below the floor"
    );
    assert!(
        exact >= floor("argv-floor", "whole"),
        "fell below the floor"
    );
    assert!(
        same_code >= floor("argv-floor", "refused"),
        "fell below the floor"
    );
}
