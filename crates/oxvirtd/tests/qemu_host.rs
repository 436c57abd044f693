//! Host facts of `qemu:///system` through the real virsh, compared with the
//! reference libvirtd on the same machine (`tests/data/host_differential.txt`
//! says what is compared and how): the host CPU in the capabilities, the
//! host-model CPU, NUMA topology and caches, node CPU and memory facts, and
//! CPU baselines.
//!
//! The reference is Debian's libvirtd 9.0 on its default socket, started by
//! `$OXVIRT_SHARED/tools/reference-libvirtd.sh` when it is not running.

mod common;

use common::qemu::QemuDaemon;
use common::virsh_uri;

const REFERENCE: &str = "qemu:///system";

/// The text of the first `<name>` element under `within` (one level of
/// nesting is enough for the documents compared here).
fn element(xml: &str, within: &str, name: &str) -> String {
    let start = xml.find(&format!("<{}>", within)).unwrap_or(0);
    let rest = &xml[start..];
    let open = format!("<{}", name);
    let Some(i) = rest
        .find(&format!("{}>", open))
        .or_else(|| rest.find(&format!("{} ", open)))
    else {
        return String::new();
    };
    let close = format!("</{}>", name);
    let j = rest[i..]
        .find(&close)
        .map(|j| i + j + close.len())
        .unwrap_or(rest.len());
    rest[i..j].to_string()
}

fn mask_numbers(s: &str) -> String {
    let mut out = String::new();
    let mut in_num = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_num {
                out.push('#');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(c);
        }
    }
    out
}

fn run(uri: &str, args: &str) -> (String, String, i32) {
    if let Some((cmd, name)) = args.split_once(':') {
        let (doc, within) = match cmd {
            "capabilities" => ("capabilities", "host"),
            _ => ("domcapabilities", "domainCapabilities"),
        };
        let (o, e, rc) = virsh_uri(uri, doc);
        return (element(&o, within, name), e, rc);
    }
    virsh_uri(uri, args)
}

#[test]
fn host_facts_match_reference() {
    if !common::reference_up(true) {
        if std::env::var_os("OXVIRT_ALLOW_SKIP_REFERENCE").is_some() {
            eprintln!("skipped: no reference libvirtd");
            return;
        }
        panic!("the reference libvirtd is needed (or set OXVIRT_ALLOW_SKIP_REFERENCE=1)");
    }
    let d = QemuDaemon::new("host");
    let ours = d.uri();
    let caps = d.dir.join("ref-caps.xml");
    let domcaps = d.dir.join("ref-domcaps.xml");
    std::fs::write(&caps, virsh_uri(REFERENCE, "capabilities").0).expect("caps");
    std::fs::write(&domcaps, virsh_uri(REFERENCE, "domcapabilities").0).expect("domcaps");
    let cpu_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cpu");
    let mut failures = Vec::new();
    let mut compared = 0;
    for line in include_str!("data/host_differential.txt").lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (mode, rest) = line.split_at(1);
        let (why, args) = match rest.split_once(" | ") {
            Some((w, a)) if mode == "!" => (Some(w.trim()), a.trim()),
            _ => (None, rest.trim()),
        };
        let args = args
            .replace("$CAPS", &caps.display().to_string())
            .replace("$DOMCAPS", &domcaps.display().to_string())
            .replace("$CPU", cpu_dir);
        let want = run(REFERENCE, &args);
        let got = run(&ours, &args);
        match mode {
            "!" => {
                eprintln!("known difference: {}\n  {}", why.unwrap_or_default(), args);
                continue;
            }
            "~" => {
                let m = |r: &(String, String, i32)| (mask_numbers(&r.0), mask_numbers(&r.1), r.2);
                if m(&want) != m(&got) {
                    failures.push(format!(
                        "~ {}\nreference: {:?}\noxvirtd:   {:?}",
                        args, want, got
                    ));
                }
            }
            _ => {
                if want != got {
                    failures.push(format!(
                        "= {}\nreference: {:?}\noxvirtd:   {:?}",
                        args, want, got
                    ));
                }
            }
        }
        assert!(
            !want.0.is_empty() || !want.1.is_empty(),
            "reference said nothing for {}",
            args
        );
        compared += 1;
    }
    eprintln!(
        "{} host fact commands compared, {} differ",
        compared,
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
