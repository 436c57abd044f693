//! Differential step files: the real virsh runs the lines of a `.steps`
//! file against a daemon while `virsh event --all --loop` listens, and
//! the transcript (outputs, exit statuses, `qemu-img info` of images,
//! the events kept) is compared with the one recorded from the
//! reference libvirtd. Used by qemu_snapshots.rs and qemu_blockjobs.rs.
//!
//! A step is `FILTER ARGS`: "all" keeps virsh's whole output, "head" a
//! snapshot document up to its `<domain>`, "chain" the lines of a domain
//! document that name disk images, formats and mirrors (index attributes
//! dropped); "info" runs `qemu-img info` on a file and keeps its format,
//! size and backing lines, "chaininfo" the same with `--backing-chain`
//! (and the image names); "mkimg" creates a 16M qcow2 image (ARGS are
//! qemu-img create's, before the size); "mkov" creates a qcow2 overlay
//! `ARGS[0]` over the qcow2 image `ARGS[1]`; "qemuio" runs `qemu-io -c
//! ARGS[1..]` on `ARGS[0]` and keeps whether it passed.

use super::qemu::{installed, kvm_usable, QemuDaemon, QEMU};
use super::VIRSH;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const QEMU_IMG: &str = "/usr/bin/qemu-img";
pub const QEMU_IO: &str = "/usr/bin/qemu-io";

/// Replaces times virsh prints (tables, snapshot-info, XML) by @TIME@.
pub fn normalise(line: &str, dir: &str) -> String {
    let mut l = line.replace(dir, "@DIR@");
    // "2026-12-07 19:31:19 +0000" in tables.
    let b = l.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let rest = &l[i..];
        if rest.len() >= 25 {
            let c = rest.as_bytes();
            let digits = |r: std::ops::Range<usize>| r.into_iter().all(|k| c[k].is_ascii_digit());
            if digits(0..4)
                && c[4] == b'-'
                && digits(5..7)
                && c[7] == b'-'
                && digits(8..10)
                && c[10] == b' '
                && digits(11..13)
                && c[13] == b':'
                && (c[19] == b' ')
                && (c[20] == b'+' || c[20] == b'-')
                && digits(21..25)
            {
                out.push_str("@TIME@");
                i += 25;
                continue;
            }
        }
        let ch = rest.chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    l = out;
    if let (Some(a), Some(z)) = (l.find("<creationTime>"), l.find("</creationTime>")) {
        l = format!("{}<creationTime>@TIME@{}", &l[..a], &l[z..]);
    }
    l
}

/// Runs every step against `uri`: the transcript.
pub fn run_steps(steps: &str, uri: &str, dir: &Path) -> String {
    let dir_s = dir.to_string_lossy().into_owned();
    let mut out = String::new();
    for line in steps.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (filter, args) = line.split_once(' ').expect("FILTER ARGS");
        let args: Vec<String> = args
            .split_whitespace()
            .map(|a| a.replace("@DIR@", &dir_s))
            .collect();
        out.push_str(&format!("$ {}\n", line));
        if filter == "mkimg" {
            let st = Command::new(QEMU_IMG)
                .args(["create", "-q", "-f", "qcow2"])
                .args(&args)
                .arg("16M")
                .status()
                .expect("qemu-img runs");
            out.push_str(&format!("rc={}\n", st.code().unwrap_or(-1)));
            continue;
        }
        if filter == "info" {
            let o = Command::new(QEMU_IMG)
                .args(["info", "-U"])
                .args(&args)
                .output()
                .expect("qemu-img runs");
            let text = String::from_utf8_lossy(&o.stdout);
            for l in text.lines().filter(|l| {
                l.starts_with("file format:")
                    || l.starts_with("virtual size:")
                    || l.starts_with("backing file")
            }) {
                out.push_str(&normalise(l, &dir_s));
                out.push('\n');
            }
            continue;
        }
        if filter == "chaininfo" {
            let o = Command::new(QEMU_IMG)
                .args(["info", "-U", "--backing-chain"])
                .args(&args)
                .output()
                .expect("qemu-img runs");
            let text = String::from_utf8_lossy(&o.stdout);
            for l in text.lines().filter(|l| {
                l.starts_with("image:")
                    || l.starts_with("file format:")
                    || l.starts_with("virtual size:")
                    || l.starts_with("backing file")
            }) {
                out.push_str(&normalise(l, &dir_s));
                out.push('\n');
            }
            continue;
        }
        if filter == "mkov" {
            let st = Command::new(QEMU_IMG)
                .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
                .arg(&args[1])
                .arg(&args[0])
                .status()
                .expect("qemu-img runs");
            out.push_str(&format!("rc={}\n", st.code().unwrap_or(-1)));
            continue;
        }
        if filter == "qemuio" {
            // Reads share the image with a running QEMU; writes are
            // made before it starts.
            let share: &[&str] = if args.get(1).map(String::as_str) == Some("read") {
                &["-r", "-U"]
            } else {
                &[]
            };
            let o = Command::new(QEMU_IO)
                .args(share)
                .arg("-c")
                .arg(args[1..].join(" "))
                .arg(&args[0])
                .output()
                .expect("qemu-io runs");
            let text = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            let ok = o.status.success() && !text.contains("verification failed");
            out.push_str(&format!("pattern {}\n", if ok { "ok" } else { "differs" }));
            continue;
        }
        if filter == "tags" {
            let o = Command::new(QEMU_IMG)
                .args(["snapshot", "-U", "-l"])
                .args(&args)
                .output()
                .expect("qemu-img runs");
            let text = String::from_utf8_lossy(&o.stdout);
            let mut tags: Vec<&str> = text
                .lines()
                .skip(2)
                .filter_map(|l| l.split_whitespace().nth(1))
                .collect();
            tags.sort();
            out.push_str(&format!("tags: {}\n", tags.join(" ")));
            continue;
        }
        let o = Command::new(VIRSH)
            .arg("-q")
            .arg("-c")
            .arg(uri)
            .args(&args)
            .stdin(Stdio::null())
            .env("LC_ALL", "C")
            .output()
            .expect("virsh runs");
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        for l in text.lines() {
            let l = l.trim_end();
            if filter == "head" && l.trim_start().starts_with("<domain") && l.starts_with("  ") {
                break;
            }
            if l.is_empty() {
                continue;
            }
            if filter == "chain" {
                let t = l.trim_start();
                let keep = t.starts_with("<source file=")
                    || t.starts_with("<backingStore")
                    || t.starts_with("</backingStore")
                    || t.starts_with("<format type=")
                    || t.starts_with("<driver name='qemu'")
                    || t.starts_with("<target dev=")
                    || t.starts_with("<mirror")
                    || t.starts_with("</mirror");
                if !keep {
                    continue;
                }
                let mut l = l.to_string();
                while let Some(i) = l.find(" index='") {
                    let end = l[i + 8..]
                        .find('\'')
                        .map(|e| i + 8 + e + 1)
                        .unwrap_or(l.len());
                    l.replace_range(i..end, "");
                }
                out.push_str(&normalise(&l, &dir_s));
                out.push('\n');
                continue;
            }
            out.push_str(&normalise(l, &dir_s));
            out.push('\n');
        }
        out.push_str(&format!("rc={}\n", o.status.code().unwrap_or(-1)));
    }
    out
}

/// `virsh event --all --loop` on `uri`, until dropped.
pub struct Events(Child, std::path::PathBuf);

/// A domain defined and undefined until the listener reports it, so the
/// steps start only once `virsh event` listens; its events are not
/// compared.
const SENTINEL: &str = "snapshots-sentinel";

impl Events {
    pub fn start(uri: &str, dir: &Path) -> Events {
        let path = dir.join("events.txt");
        let f = std::fs::File::create(&path).unwrap();
        let c = Command::new(VIRSH)
            .args(["-q", "-c", uri, "event", "--all", "--loop"])
            .stdin(Stdio::null())
            .stdout(f)
            .stderr(Stdio::null())
            .env("LC_ALL", "C")
            .spawn()
            .expect("virsh event");
        let xml = dir.join("sentinel.xml");
        std::fs::write(&xml, super::qemu::no_os_xml(SENTINEL, "qemu", 16)).unwrap();
        for _ in 0..100 {
            for args in [
                vec!["define", xml.to_str().unwrap()],
                vec!["undefine", SENTINEL],
            ] {
                let _ = Command::new(VIRSH)
                    .args(["-q", "-c", uri])
                    .args(&args)
                    .output();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            if std::fs::read_to_string(&path).is_ok_and(|t| t.contains(SENTINEL)) {
                break;
            }
        }
        Events(c, path)
    }

    /// The events seen whose kind is one of `kinds` ("lifecycle",
    /// "block-job", ...), one per line.
    pub fn finish(mut self, kinds: &[&str]) -> String {
        let dir = self
            .1
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        std::thread::sleep(std::time::Duration::from_millis(700));
        let _ = self.0.kill();
        let _ = self.0.wait();
        std::fs::read_to_string(&self.1)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                kinds
                    .iter()
                    .any(|k| l.starts_with(&format!("event '{}' ", k)))
                    && !l.contains(SENTINEL)
            })
            .map(|l| l.replace(&dir, "@DIR@"))
            .map(|l| format!("{}\n", l))
            .collect()
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn transcript(steps: &str, uri: &str, dir: &Path, events: &[&str]) -> String {
    let ev = Events::start(uri, dir);
    let steps = run_steps(steps, uri, dir);
    format!("{}--- events\n{}", steps, ev.finish(events))
}

/// Runs `steps` against a fresh oxvirtd and compares with `reference`
/// (lines starting with '#' are comments).
pub fn compare_with_reference(
    tag: &str,
    steps: &str,
    reference: &str,
    guests: fn(&Path, &str),
    events: &[&str],
) {
    if !installed(&[QEMU, QEMU_IMG, VIRSH]) {
        return;
    }
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    println!("accelerator: {}", if kind == "kvm" { "KVM" } else { "TCG" });
    let d = QemuDaemon::new(tag);
    guests(&d.dir, kind);
    let got = transcript(steps, &d.uri(), &d.dir, events);
    let want: String = reference
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{}\n", l))
        .collect();
    if got != want {
        for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
            if g != w {
                println!(
                    "first difference at line {}:\n  got:  {}\n  want: {}",
                    i + 1,
                    g,
                    w
                );
                break;
            }
        }
        println!("{}", got);
    }
    assert_eq!(got, want);
}

/// Prints what the reference libvirtd (qemu:///system) answers to
/// `steps`, the content of the reference file named `what`.
pub fn record_reference(
    tag: &str,
    what: &str,
    steps: &str,
    guests: fn(&Path, &str),
    events: &[&str],
) {
    let dir = std::env::temp_dir().join(format!("{}-ref-{}", tag, std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    guests(&dir, kind);
    print!(
        "# What the reference libvirtd 9.0.0 (Debian, QEMU 7.2) answered to\n\
# data/{}.steps, run with the real virsh (record_{}_reference).\n{}",
        what,
        tag,
        transcript(steps, "qemu:///system", &dir, events)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
