//! Long QEMU jobs as libvirt reports them, end to end with real QEMU:
//! `domjobinfo` while a save runs and `--completed` after it,
//! `domjobabort` in the middle of a save, the job-completed event as
//! `virsh event` prints it, and oxvirsh's `save --verbose` progress.
//! Expected shapes come from the reference libvirtd 9.0
//! (`tests/data/qemu_jobs_reference.txt`).
//!
//! The guest is the tiny guest's kernel with an initramfs carrying 1 GiB
//! of random data, so its memory is not mostly zero pages and a save
//! takes about a second (a guest with no OS saves in a few ms). KVM when
//! /dev/kvm works, TCG otherwise (see `Guest::start`). Skipped, with the reason printed, when
//! QEMU, virsh or the tiny guest is missing.

mod common;

use common::qemu::{cli, kvm_usable, oxvirsh, tiny_guest, QemuDaemon as Daemon, QEMU};
use common::VIRSH;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NAME: &str = "jobs";
const FILL_MIB: usize = 1024;
const GUEST_MIB: usize = 2560;

/// `[section]` lines of the reference recording.
fn reference(section: &str) -> Vec<String> {
    let text = include_str!("data/qemu_jobs_reference.txt");
    let mut out = Vec::new();
    let mut on = false;
    for l in text.lines() {
        if let Some(s) = l.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            on = s == section;
            continue;
        }
        if on && !l.trim().is_empty() && !l.starts_with('#') {
            out.push(l.to_string());
        }
    }
    out
}

/// A line's label: what comes before its value.
fn label(l: &str) -> String {
    match l.find(':') {
        Some(i) => l[..=i].to_string(),
        None => l.to_string(),
    }
}

fn labels(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(label)
        .collect()
}

/// "434.087 MiB" → bytes (approximately).
fn capacity(v: &str) -> f64 {
    let mut it = v.split_whitespace();
    let n: f64 = it.next().and_then(|n| n.parse().ok()).unwrap_or(0.0);
    let k = match it.next().unwrap_or("B") {
        "KiB" => 1u64 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => 1,
    };
    n * k as f64
}

fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(name).map(str::trim))
}

/// An uncompressed newc cpio archive holding /fill: `mib` MiB of
/// pseudo-random bytes (a 64 MiB pattern repeated: QEMU does not
/// deduplicate pages), appended to the tiny guest's initramfs.
fn big_initrd(initrd: &Path, out: &Path, mib: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(out).expect("initrd"));
    f.write_all(&std::fs::read(initrd).expect("tiny initrd"))
        .expect("write");
    let size = mib << 20;
    let entry = |f: &mut dyn Write, name: &str, mode: u32, size: usize| {
        let namesize = name.len() + 1;
        let h = format!(
            "070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
            1, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, namesize, 0
        );
        f.write_all(h.as_bytes()).unwrap();
        f.write_all(name.as_bytes()).unwrap();
        f.write_all(&[0]).unwrap();
        let pad = (4 - (110 + namesize) % 4) % 4;
        f.write_all(&vec![0; pad]).unwrap();
    };
    // The previous archive is gzip'ed; a new one starts on a 4-byte
    // boundary of the whole image.
    let len = std::fs::metadata(initrd)
        .map(|m| m.len() as usize)
        .unwrap_or(0);
    f.write_all(&vec![0; (4 - len % 4) % 4]).unwrap();
    entry(&mut f, "fill", 0o100644, size);
    let mut chunk = vec![0u8; 64 << 20];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in chunk.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
    }
    for _ in 0..size / chunk.len() {
        f.write_all(&chunk).unwrap();
    }
    entry(&mut f, "TRAILER!!!", 0, 0);
    f.flush().unwrap();
}

struct Guest {
    d: Daemon,
    serial: PathBuf,
    kvm: bool,
}

fn setup(tag: &str) -> Option<Guest> {
    for p in [QEMU, VIRSH] {
        if !Path::new(p).exists() {
            println!("skipping: {} is not installed", p);
            return None;
        }
    }
    let (kernel, initrd) = tiny_guest()?;
    let d = Daemon::new(tag);
    let kind = if kvm_usable() { "kvm" } else { "qemu" };
    println!("accelerator: {}", if kind == "kvm" { "KVM" } else { "TCG" });
    let big = d.dir.join("big-initrd.img");
    big_initrd(&initrd, &big, FILL_MIB);
    let serial = d.dir.join("serial.log");
    let xml = format!(
        "<domain type='{}'><name>{}</name><memory unit='MiB'>{}</memory><vcpu>1</vcpu>\
<os><type arch='x86_64'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
<cmdline>console=ttyS0 quiet</cmdline></os>\
<devices><emulator>{}</emulator><serial type='file'><source path='{}'/></serial></devices></domain>",
        kind,
        NAME,
        GUEST_MIB,
        kernel.display(),
        big.display(),
        QEMU,
        serial.display()
    );
    let f = d.dir.join("jobs.xml");
    std::fs::write(&f, xml).unwrap();
    ok(&d, &["define", f.to_str().unwrap()]);
    let g = Guest {
        d,
        serial,
        kvm: kind == "kvm",
    };
    g.start();
    Some(g)
}

impl Guest {
    /// Starts the guest and waits until its 1 GiB is in guest memory.
    /// Under TCG the kernel boots and prints its ready marker. Under this
    /// host's KVM the tiny guest's kernel stops early (before its console
    /// comes up) but the firmware has already copied the initramfs into
    /// guest memory, which is all a save needs: a few seconds do.
    fn start(&self) {
        let _ = std::fs::remove_file(&self.serial);
        ok(&self.d, &["start", NAME]);
        if self.kvm {
            std::thread::sleep(Duration::from_secs(5));
            return;
        }
        let t0 = Instant::now();
        while !std::fs::read_to_string(&self.serial)
            .unwrap_or_default()
            .contains("OXVIRT-GUEST-READY")
        {
            assert!(
                t0.elapsed() < Duration::from_secs(180),
                "guest never got ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn restore(&self, file: &Path) {
        ok(&self.d, &["restore", file.to_str().unwrap()]);
        std::fs::remove_file(file).unwrap();
    }

    /// `virsh save` in the background.
    fn save_bg(&self, file: &Path, tool: &str, extra: &[&str]) -> Child {
        Command::new(tool)
            .args(["-q", "-c", &self.d.uri(), "save", NAME])
            .arg(file)
            .args(extra)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("save runs")
    }
}

fn ok(d: &Daemon, args: &[&str]) -> String {
    let (out, err, good) = cli(VIRSH, d, args);
    assert!(good, "virsh {:?} failed: {} {}", args, out, err);
    out
}

/// Raw stdout of a client (untrimmed: virsh pads its columns).
fn raw(tool: &str, d: &Daemon, args: &[&str]) -> String {
    let o = Command::new(tool)
        .args(["-q", "-c", &d.uri()])
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .expect("client runs");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn finish(c: Child) -> (String, String, bool) {
    let o = c.wait_with_output().expect("save ends");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.success(),
    )
}

/// `virsh event --loop --event EVENT`, recording to a file.
fn watch_events(d: &Daemon, event: &str) -> (Child, PathBuf) {
    let out = d.dir.join(format!("{}.txt", event));
    let c = Command::new(VIRSH)
        .args(["-c", &d.uri(), "event", "--loop", "--event", event])
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("virsh event");
    // Registered once virsh answers a call on its own connection; give
    // it a moment.
    std::thread::sleep(Duration::from_millis(500));
    (c, out)
}

#[test]
fn save_job_statistics_event_and_abort_match_reference() {
    let Some(g) = setup("jobs") else {
        return;
    };
    let d = &g.d;
    let file = d.dir.join("jobs.save");
    let (mut ev, ev_out) = watch_events(d, "job-completed");
    let (mut passes, passes_out) = watch_events(d, "migration-iteration");

    // 1. domjobinfo while the save runs: Unbounded, Save, data growing.
    let save = g.save_bg(&file, VIRSH, &[]);
    let mut samples = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        let out = raw(VIRSH, d, &["domjobinfo", NAME]);
        if out.is_empty() {
            break; // the domain is shut off: the save is over
        }
        if out.starts_with("Job type:         Unbounded") {
            samples.push(out);
        } else if !samples.is_empty() {
            break;
        }
    }
    let (_, err, good) = finish(save);
    assert!(good, "save failed: {}", err);
    // Before QEMU's first statistics every amount is 0 and virsh prints
    // only the first three lines (libvirt's parameters are zeros then).
    // The bandwidth line is left out while QEMU reports 0 (libvirt
    // omits a zero memory_bps).
    let no_bps = |l: Vec<String>| -> Vec<String> {
        l.into_iter().filter(|l| l != "Memory bandwidth:").collect()
    };
    let want = no_bps(labels(&reference("running").join("\n")));
    for s in &samples {
        assert!(s.contains("\nOperation:        Save        \n"), "{}", s);
        let l = no_bps(labels(s));
        assert!(l == want || l == want[..3], "domjobinfo: {}", s);
    }
    samples.retain(|s| s.contains("Data processed:"));
    println!("{} domjobinfo samples while the save ran", samples.len());
    assert!(
        samples.len() >= 2,
        "domjobinfo saw the save running {} times",
        samples.len()
    );
    let done: Vec<f64> = samples
        .iter()
        .map(|s| capacity(field(s, "Data processed:").unwrap_or("0")))
        .collect();
    println!("data processed: {:?}", done);
    assert!(
        done.last() > done.first(),
        "data processed did not grow: {:?}",
        done
    );

    // 2. domjobinfo --completed, once (read without keep, it is gone).
    let ox = oxvirsh();
    if let Some(ox) = &ox {
        // oxvirsh prints what virsh prints.
        let a = raw(
            ox,
            d,
            &["domjobinfo", NAME, "--completed", "--keep-completed"],
        );
        let b = raw(
            VIRSH,
            d,
            &["domjobinfo", NAME, "--completed", "--keep-completed"],
        );
        assert_eq!(a, b);
    }
    let completed = raw(VIRSH, d, &["domjobinfo", NAME, "--completed"]);
    print!("{}", completed);
    let want = reference("completed");
    assert_eq!(labels(&completed), labels(&want.join("\n")));
    for l in [&want[0], &want[1]] {
        assert!(completed.contains(l.as_str()), "{:?} in {}", l, completed);
    }
    assert_eq!(field(&completed, "Data remaining:"), Some("0.000 B"));
    let again = raw(VIRSH, d, &["domjobinfo", NAME, "--completed"]);
    assert_eq!(
        again.trim_end(),
        reference("completed-again").join("\n").trim_end()
    );

    // 3. The job-completed event, as virsh event prints it.
    let t0 = Instant::now();
    let mut text = String::new();
    while t0.elapsed() < Duration::from_secs(10) {
        text = std::fs::read_to_string(&ev_out).unwrap_or_default();
        if text.contains("memory_page_size") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = ev.kill();
    let _ = ev.wait();
    print!("{}", text);
    let want: Vec<String> = reference("event")
        .iter()
        .map(|l| label(&l.replace("NAME", NAME)))
        .collect();
    assert_eq!(labels(&text), want);
    assert!(text.contains("\toperation: 2\n"));
    assert!(text.contains("\tdata_remaining: 0\n"));
    // Each pass QEMU made over memory came as a migration-iteration
    // event, numbered from 1 (QEMU's MIGRATION_PASS).
    let _ = passes.kill();
    let _ = passes.wait();
    let iterations = std::fs::read_to_string(&passes_out).unwrap_or_default();
    print!("{}", iterations);
    let first = format!(
        "event 'migration-iteration' for domain '{}': iteration: '1'",
        NAME
    );
    assert_eq!(iterations.lines().next(), Some(first.as_str()));

    // 4. domjobabort mid-save: the save fails, the domain runs on, no
    // file is left.
    g.restore(&file);
    let save = g.save_bg(&file, VIRSH, &[]);
    let t0 = Instant::now();
    // Abort once QEMU is migrating (data has moved): an abort before the
    // migration starts fails the save with libvirt's other message,
    // "save: canceled by client".
    loop {
        let out = raw(VIRSH, d, &["domjobinfo", NAME]);
        let moving = out.lines().any(|l| {
            l.strip_prefix("Data processed:")
                .is_some_and(|v| !v.trim().starts_with("0.000"))
        });
        if out.starts_with("Job type:         Unbounded") && moving {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "save never started");
    }
    let (_, err, good) = cli(VIRSH, d, &["domjobabort", NAME]);
    assert!(good, "domjobabort: {}", err);
    let (_, err, good) = finish(save);
    assert!(!good, "the aborted save succeeded");
    let want: Vec<String> = reference("aborted-save")
        .iter()
        .map(|l| {
            l.replace("NAME", NAME)
                .replace("FILE", file.to_str().unwrap())
        })
        .collect();
    assert_eq!(err.trim_end().lines().collect::<Vec<_>>(), want);
    let (st, _, _) = cli(VIRSH, d, &["domstate", "--reason", NAME]);
    assert_eq!(vec![st], reference("aborted-state"));
    assert!(!file.exists(), "the aborted save left its file");
    let after = raw(VIRSH, d, &["domjobinfo", NAME, "--completed"]);
    assert_eq!(
        after.trim_end(),
        reference("aborted-completed").join("\n").trim_end()
    );
    let (_, err, good) = cli(VIRSH, d, &["domjobabort", NAME]);
    assert!(!good);
    assert_eq!(vec![err], reference("abort-idle"));

    // 5. oxvirsh save --verbose: virsh's progress lines, ending at 100 %.
    let Some(ox) = ox else {
        println!("skipping the oxvirsh steps: oxvirsh is not built");
        return;
    };
    let (out, err, good) = finish(g.save_bg(&file, &ox, &["--verbose"]));
    assert!(good, "oxvirsh save --verbose: {} {}", out, err);
    println!("oxvirsh save --verbose stderr: {:?}", err);
    let parts: Vec<&str> = err.split('\r').collect();
    assert_eq!(parts[0], "", "stderr starts with \\r: {:?}", err);
    assert!(parts.len() >= 2, "no progress: {:?}", err);
    for p in &parts[1..] {
        assert!(
            p.len() == "Save: [100 %]".len() && p.starts_with("Save: [") && p.ends_with(" %]"),
            "line {:?} in {:?}",
            p,
            err
        );
    }
    assert_eq!(parts.last(), Some(&"Save: [100 %]"));
    // The same shape as the reference's recording.
    let want = reference("verbose").join("").replace("^M", "\r");
    assert!(want.ends_with("\rSave: [100 %]"));
    assert!(file.exists());

    // 6. Ctrl-C typed on the terminal of a running `save` aborts the job
    // (virsh turns the interrupt character into virDomainAbortJob), the
    // same way for virsh and for oxvirsh.
    let mut seen = Vec::new();
    g.restore(&file);
    for tool in [VIRSH, ox.as_str()] {
        // (each aborted save leaves the guest running)
        let o = Command::new(common::PYTHON)
            .args(["-c", CTRL_C_PY, tool, &d.uri(), NAME])
            .arg(&file)
            .arg(VIRSH)
            .stdin(Stdio::null())
            .output()
            .expect("python3 runs");
        let got = String::from_utf8_lossy(&o.stdout).into_owned();
        println!("{} and Ctrl-C:\n{}", tool, got);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let (st, _, _) = cli(VIRSH, d, &["domstate", "--reason", NAME]);
        assert_eq!(vec![st], reference("aborted-state"), "{}", tool);
        assert!(!file.exists(), "the aborted save left its file");
        seen.push(got.replace(tool, "TOOL"));
    }
    assert!(seen[0].contains("canceled by client"), "{}", seen[0]);
    assert_eq!(seen[1], seen[0], "oxvirsh vs virsh");
}

/// Runs `TOOL -c URI save NAME FILE` on a pseudo-terminal, FILE being a
/// FIFO drained slowly, types Ctrl-C a second after the save moves data
/// (seen with `virsh domjobinfo`), and prints the exit status and what
/// the terminal showed.
const CTRL_C_PY: &str = r#"
import os, pty, subprocess, sys, threading, time
tool, uri, name, file, virsh = sys.argv[1:6]
# The save goes into a FIFO read slowly, so that it lasts seconds and the
# client's first progress check (after 500 ms) finds the job running.
os.mkfifo(file)
def drain():
    try:
        with open(file, "rb") as f:
            while f.read(65536):
                time.sleep(0.002)
    except OSError:
        pass
threading.Thread(target=drain, daemon=True).start()
master, slave = pty.openpty()
p = subprocess.Popen([tool, "-c", uri, "save", name, file], stdin=slave, stdout=slave,
                     stderr=slave, close_fds=True, start_new_session=True,
                     env={"LC_ALL": "C", "PATH": os.environ.get("PATH", "")})
os.close(slave)
t0 = time.time()
while time.time() - t0 < 30:
    out = subprocess.run([virsh, "-q", "-c", uri, "domjobinfo", name],
                         capture_output=True, text=True).stdout
    moving = [l for l in out.splitlines()
              if l.startswith("Data processed:") and not l.split(":", 1)[1].strip().startswith("0.000")]
    if out.startswith("Job type:         Unbounded") and moving:
        break
time.sleep(1.0)
os.write(master, b"\x03")
buf = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    buf += chunk
status = p.wait(timeout=60)
print("status:", status)
for line in buf.decode(errors="replace").replace("\r", "").split("\n"):
    if line.strip() and line.strip() != "^C":
        print(line.replace(file, "FILE"))
"#;
