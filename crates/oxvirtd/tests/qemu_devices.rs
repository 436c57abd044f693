//! QEMU driver through oxvirtd: the console stream (python3-libvirt's
//! virStream reading the tiny guest's ready marker, TCG) and device
//! hotplug (KVM with no OS when /dev/kvm works, TCG otherwise).
//! Skipped, with the reason printed, when QEMU, virsh or python3-libvirt
//! is missing. Every QEMU a test starts is gone when it ends.

mod common;

use common::qemu::{cli, oxvirsh, tiny_guest, QemuDaemon as Daemon, QEMU};
use common::{PYTHON, VIRSH};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn virsh(d: &Daemon, args: &[&str]) -> (String, String, bool) {
    cli(VIRSH, d, args)
}

fn ok(d: &Daemon, args: &[&str]) -> String {
    let (out, err, good) = virsh(d, args);
    assert!(good, "virsh {:?} failed: {} {}", args, out, err);
    out
}

fn prerequisites() -> bool {
    for p in [QEMU, VIRSH, PYTHON] {
        if !Path::new(p).exists() {
            println!("skipping: {} is not installed", p);
            return false;
        }
    }
    let py = Command::new(PYTHON).args(["-c", "import libvirt"]).status();
    if !py.is_ok_and(|s| s.success()) {
        println!("skipping: python3-libvirt is not installed");
        return false;
    }
    true
}

/// Opens the console with python3-libvirt while the guest is paused,
/// resumes it, and reads the stream until the ready marker (or EOF).
const CONSOLE_PY: &str = r#"
import libvirt, sys
c = libvirt.open(sys.argv[1])
d = c.lookupByName('tiny')
st0 = c.newStream(0)
try:
    d.openConsole('nosuch', st0, 0)
except libvirt.libvirtError as e:
    print('nosuch:', e.get_error_message())
st = c.newStream(0)
d.openConsole(None, st, 0)
# A second session is refused unless forced (libvirt's rule).
st2 = c.newStream(0)
try:
    d.openConsole(None, st2, 0)
    print('second-open: accepted')
except libvirt.libvirtError as e:
    print('second-open:', e.get_error_message())
d.resume()
buf = b''
while b'OXVIRT-GUEST-READY' not in buf:
    chunk = st.recv(4096)
    if chunk is None or chunk == -2 or len(chunk) == 0:
        break
    buf += chunk
print('marker:', b'OXVIRT-GUEST-READY' in buf)
st.abort()
"#;

#[test]
fn console_stream_reads_the_tiny_guest() {
    if !prerequisites() {
        return;
    }
    let Some((kernel, initrd)) = tiny_guest() else {
        return;
    };
    println!("tiny guest accelerator: TCG (domain type qemu)");
    let d = Daemon::new("console");
    let xml = format!(
        "<domain type='qemu'><name>tiny</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>\
<os><type arch='x86_64'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
<cmdline>console=ttyS0 quiet</cmdline></os><features><acpi/></features>\
<devices><emulator>{}</emulator><serial type='pty'/><console type='pty'/></devices></domain>",
        kernel.display(),
        initrd.display(),
        QEMU
    );
    let path = d.dir.join("tiny.xml");
    std::fs::write(&path, xml).expect("write xml");
    ok(&d, &["create", &path.to_string_lossy(), "--paused"]);
    let live = ok(&d, &["dumpxml", "tiny"]);
    assert!(
        live.contains("<console type='pty' tty='/dev/pts/"),
        "{}",
        live
    );

    let mut py = Command::new(PYTHON)
        .args(["-c", CONSOLE_PY, &d.uri()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    // Bounded: the guest boots in seconds under TCG; give up after 180 s.
    let t0 = Instant::now();
    let status = loop {
        if let Ok(Some(s)) = py.try_wait() {
            break Some(s);
        }
        if t0.elapsed() > Duration::from_secs(180) {
            let _ = py.kill();
            let _ = py.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = py.wait_with_output().expect("python output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(status.is_some(), "console reader timed out: {}", stderr);
    assert!(
        stdout.contains("second-open: Active console session exists for this domain")
            || stdout.contains("second-open: operation failed: Active console session exists"),
        "{}\n{}",
        stdout,
        stderr
    );
    assert!(
        stdout.contains("nosuch: internal error: cannot find character device nosuch"),
        "{}",
        stdout
    );
    assert!(stdout.contains("marker: True"), "{}\n{}", stdout, stderr);
    ok(&d, &["destroy", "tiny"]);

    // The interactive `console` of the real virsh and of oxvirsh, on a
    // pseudo-terminal: the same banner, the guest's output, and the
    // escape character ending the session with status 0.
    let mut tools = vec![VIRSH.to_string()];
    match oxvirsh() {
        Some(ox) => tools.push(ox),
        None => println!("oxvirsh is not built: its console not checked"),
    }
    let mut transcripts = Vec::new();
    for tool in &tools {
        ok(&d, &["create", &path.to_string_lossy(), "--paused"]);
        let o = Command::new(PYTHON)
            .args(["-c", CONSOLE_PTY_PY, tool, &d.uri(), VIRSH])
            .stdin(Stdio::null())
            .output()
            .expect("python3 runs");
        let got = String::from_utf8_lossy(&o.stdout).into_owned();
        println!("{} console:\n{}", tool, got);
        assert!(
            o.status.success(),
            "{}: {}",
            tool,
            String::from_utf8_lossy(&o.stderr)
        );
        transcripts.push(got);
        ok(&d, &["destroy", "tiny"]);
    }
    assert!(
        transcripts[0].contains("marker: True"),
        "{}",
        transcripts[0]
    );
    for t in &transcripts[1..] {
        assert_eq!(t, &transcripts[0], "oxvirsh's console vs virsh's");
    }
}

/// Runs `TOOL -c URI console tiny` on a pseudo-terminal, resumes the
/// paused guest once the banner is up, reads until the guest's ready
/// marker, types the escape character and reports what it saw.
const CONSOLE_PTY_PY: &str = r#"
import os, pty, subprocess, sys, time
tool, uri, virsh = sys.argv[1], sys.argv[2], sys.argv[3]
master, slave = pty.openpty()
p = subprocess.Popen([tool, "-c", uri, "console", "tiny"], stdin=slave, stdout=slave,
                     stderr=slave, close_fds=True, start_new_session=True)
os.close(slave)
buf = b""
def read_until(what, limit):
    global buf
    t0 = time.time()
    while what not in buf and time.time() - t0 < limit:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    return what in buf
banner = read_until(b"Escape character is ^] (Ctrl + ])", 30)
subprocess.run([virsh, "-q", "-c", uri, "resume", "tiny"], check=True)
marker = read_until(b"OXVIRT-GUEST-READY", 120)
os.write(master, b"\x1d")
try:
    status = p.wait(timeout=20)
except subprocess.TimeoutExpired:
    p.kill()
    status = "hung"
lines = buf.decode(errors="replace").replace("\r", "").split("\n")
print("connected:", [l for l in lines if l.startswith("Connected to domain")])
print("banner:", banner)
print("marker:", marker)
print("status:", status)
"#;

#[test]
fn attach_and_detach_disks_and_interfaces() {
    if !prerequisites() {
        return;
    }
    let kvm = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    let kind = if kvm { "kvm" } else { "qemu" };
    println!("hotplug guest accelerator: {}", kind);
    let d = Daemon::new("hotplug");
    let xml = format!(
        "<domain type='{}'><name>hp</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
<os><type arch='x86_64'>hvm</type></os><features><acpi/></features>\
<devices><emulator>{}</emulator></devices></domain>",
        kind, QEMU
    );
    let path = d.dir.join("hp.xml");
    std::fs::write(&path, xml).expect("write xml");
    let img = d.dir.join("disk.img");
    std::fs::write(&img, vec![0u8; 1 << 20]).expect("image");
    let disk = d.dir.join("disk.xml");
    std::fs::write(
        &disk,
        format!(
            "<disk type='file' device='disk'><driver name='qemu' type='raw'/>\
<source file='{}'/><target dev='vdb' bus='virtio'/></disk>",
            img.display()
        ),
    )
    .expect("disk xml");
    let net = d.dir.join("net.xml");
    std::fs::write(
        &net,
        "<interface type='user'><mac address='52:54:00:aa:bb:cc'/><model type='virtio'/></interface>",
    )
    .expect("net xml");
    let (disk, net) = (disk.to_string_lossy(), net.to_string_lossy());
    ok(&d, &["define", &path.to_string_lossy()]);
    ok(&d, &["start", "hp"]);

    ok(&d, &["attach-device", "hp", &disk]);
    assert!(ok(&d, &["dumpxml", "hp"]).contains("<target dev='vdb' bus='virtio'/>"));
    assert!(!ok(&d, &["dumpxml", "hp", "--inactive"]).contains("vdb"));
    let (_, err, good) = virsh(&d, &["attach-device", "hp", &disk]);
    assert!(!good);
    assert!(
        err.contains("target 'vdb' duplicated for disk sources"),
        "{}",
        err
    );

    ok(&d, &["attach-device", "hp", &net, "--live"]);
    assert!(ok(&d, &["dumpxml", "hp"]).contains("52:54:00:aa:bb:cc"));

    ok(&d, &["attach-device", "hp", &disk, "--config"]);
    assert!(ok(&d, &["dumpxml", "hp", "--inactive"]).contains("vdb"));
    ok(&d, &["detach-device", "hp", &disk, "--config"]);
    assert!(!ok(&d, &["dumpxml", "hp", "--inactive"]).contains("vdb"));
    let (_, err, good) = virsh(&d, &["detach-device", "hp", &disk, "--config"]);
    assert!(!good);
    assert!(err.contains("no target device vdb"), "{}", err);

    // Live detach: QEMU takes the request (a guest without an OS never
    // acknowledges it, so the device may stay, as with libvirt).
    ok(&d, &["detach-device", "hp", &disk, "--live"]);
    ok(&d, &["destroy", "hp"]);
    ok(&d, &["undefine", "hp"]);
}
