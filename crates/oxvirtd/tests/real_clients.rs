//! End to end: the real oxvirtd binary on a temporary socket, driven by
//! the real virsh and python3-libvirt (test clients only).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const VIRSH: &str = "/usr/bin/virsh";
/// Debian's python3-libvirt belongs to the system interpreter.
const PYTHON: &str = "/usr/bin/python3";

struct Daemon {
    child: Child,
    dir: PathBuf,
    socket: PathBuf,
}

impl Daemon {
    fn start(tag: &str) -> Daemon {
        let dir = std::env::temp_dir().join(format!("oxvirtd-e2e-{}-{}", tag, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let socket = dir.join("sock");
        let child = Command::new(env!("CARGO_BIN_EXE_oxvirtd"))
            .arg("--root")
            .arg(&dir)
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .spawn()
            .expect("oxvirtd starts");
        let t0 = Instant::now();
        while !socket.exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "socket never appeared"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Daemon { child, dir, socket }
    }

    fn uri(&self) -> String {
        format!("test+unix:///default?socket={}", self.socket.display())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .env("LC_ALL", "C")
        .output()
        .expect("client runs")
}

fn virsh(d: &Daemon, cmds: &str) -> (String, String, i32) {
    let o = run(Command::new(VIRSH).arg("-c").arg(d.uri()).arg(cmds));
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

const XML: &str = "<domain type='test'><name>e2e</name><memory>65536</memory>\
<vcpu>1</vcpu><os><type>hvm</type></os></domain>";

#[test]
fn virsh_through_the_daemon() {
    if !Path::new(VIRSH).exists() {
        println!("skipping: {} is not installed", VIRSH);
        return;
    }
    let d = Daemon::start("virsh");
    let xml_path = d.dir.join("e2e.xml");
    std::fs::write(&xml_path, XML).expect("xml written");

    let (out, err, rc) = virsh(&d, "list --all");
    assert_eq!(rc, 0, "stderr: {err}");
    assert!(out.contains(" 1    test   running"), "{out}");

    let (out, err, rc) = virsh(&d, "dominfo test");
    assert_eq!(rc, 0, "stderr: {err}");
    assert!(out.contains("UUID:           6695eb01-f6a4-8304-79aa-97f2502e193f"));
    assert!(out.contains("Security model: testSecurity"), "{out}");

    // One virsh process: the state carries from command to command.
    let script = format!(
        "define {}; start e2e; domstate e2e; dumpxml e2e; destroy e2e; domstate e2e; undefine e2e",
        xml_path.display()
    );
    let (out, err, rc) = virsh(&d, &script);
    assert_eq!(rc, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("Domain 'e2e' defined from"), "{out}");
    assert!(out.contains("Domain 'e2e' started"), "{out}");
    assert!(out.contains("running\n"), "{out}");
    assert!(out.contains("<name>e2e</name>"), "{out}");
    assert!(out.contains("Domain 'e2e' destroyed"), "{out}");
    assert!(out.contains("shut off\n"), "{out}");
    assert!(out.contains("Domain 'e2e' has been undefined"), "{out}");

    // Errors travel as libvirt's errors.
    let (_, err, rc) = virsh(&d, "dominfo nosuch");
    assert_eq!(rc, 1);
    assert!(
        err.contains("failed to get domain 'nosuch'"),
        "unexpected stderr: {err}"
    );

    // The state is reset once the last client has gone.
    let (out, _, _) = virsh(&d, "list --all --name");
    assert_eq!(out.trim(), "test");
}

const PY: &str = r#"
import sys, libvirt
uri, xml = sys.argv[1], sys.argv[2]
c = libvirt.open(uri)
print("type", c.getType())
print("names", sorted(d.name() for d in c.listAllDomains(0)))
t = c.lookupByName("test")
print("info", t.info()[0], t.info()[1])
d = c.defineXML(xml)
print("defined", d.name(), d.isActive(), d.isPersistent())
d.create()
print("started", d.isActive(), d.ID() > 0)
print("xml", "<name>e2e</name>" in d.XMLDesc(0))
d.destroy()
print("destroyed", d.isActive(), d.state()[0])
d.undefine()
try:
    c.lookupByName("e2e")
except libvirt.libvirtError as e:
    print("gone", e.get_error_code(), e.get_error_domain())
c.close()
"#;

#[test]
fn python_through_the_daemon() {
    if !Path::new(VIRSH).exists() {
        println!("skipping: {} is not installed", VIRSH);
        return;
    }
    let probe = run(Command::new(PYTHON).args(["-c", "import libvirt"]));
    if !probe.status.success() {
        println!("skipping: python3-libvirt is not installed");
        return;
    }
    let d = Daemon::start("python");
    let o = run(Command::new(PYTHON).args(["-c", PY, &d.uri(), XML]));
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "stdout: {out}\nstderr: {err}");
    let want = "type TEST\n\
names ['test']\n\
info 1 8388608\n\
defined e2e 0 1\n\
started 1 True\n\
xml True\n\
destroyed 0 5\n\
gone 42 12\n";
    assert_eq!(out, want);
}

/// Raw frames: (prog, proc, type, serial) header plus payload.
fn frame(prog: u32, proc_: i32, mtype: i32, serial: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((28 + payload.len()) as u32).to_be_bytes());
    for w in [prog, 1, proc_ as u32, mtype as u32, serial, 0] {
        v.extend_from_slice(&w.to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

fn read_frame(s: &mut std::os::unix::net::UnixStream) -> Vec<u8> {
    use std::io::Read;
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("reply length");
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize - 4];
    s.read_exact(&mut body).expect("reply body");
    body
}

#[test]
fn bad_clients_do_not_hurt_the_daemon() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    let d = Daemon::start("bad");
    const REMOTE: u32 = 0x2000_8086;

    // A frame length beyond the limit: the daemon hangs up.
    let mut s = UnixStream::connect(&d.socket).expect("connect");
    s.write_all(&[0x7f, 0xff, 0xff, 0xff]).expect("write");
    let mut buf = [0u8; 1];
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    assert_eq!(std::io::Read::read(&mut s, &mut buf).unwrap_or(0), 0);

    // A bad message type: hang up as well.
    let mut s = UnixStream::connect(&d.socket).expect("connect");
    s.write_all(&frame(REMOTE, 66, 9, 0, &[])).expect("write");
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    assert_eq!(std::io::Read::read(&mut s, &mut buf).unwrap_or(0), 0);

    // Calls before CONNECT_OPEN, garbage payloads and unknown procedures
    // are answered with errors; keepalive PINGs with PONG.
    let mut s = UnixStream::connect(&d.socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.write_all(&frame(REMOTE, 3, 0, 1, &[])).expect("write");
    let r = read_frame(&mut s);
    assert_eq!(&r[12..16], &[0, 0, 0, 1], "a reply");
    assert_eq!(&r[20..24], &[0, 0, 0, 1], "status ERROR");
    s.write_all(&frame(REMOTE, 1, 0, 2, &[0, 0, 0, 7]))
        .expect("write");
    let r = read_frame(&mut s);
    assert_eq!(&r[16..24], &[0, 0, 0, 2, 0, 0, 0, 1]);
    // open, then an unknown procedure
    let mut open = vec![0, 0, 0, 1, 0, 0, 0, 15];
    open.extend_from_slice(b"test:///default\0");
    open.extend_from_slice(&[0, 0, 0, 0]);
    s.write_all(&frame(REMOTE, 1, 0, 3, &open)).expect("write");
    let r = read_frame(&mut s);
    assert_eq!(&r[16..24], &[0, 0, 0, 3, 0, 0, 0, 0], "open succeeds");
    s.write_all(&frame(REMOTE, 9999, 0, 4, &[])).expect("write");
    let r = read_frame(&mut s);
    assert_eq!(&r[20..24], &[0, 0, 0, 1]);
    let msg = String::from_utf8_lossy(&r);
    assert!(msg.contains("unknown procedure: 9999"), "{msg}");
    s.write_all(&frame(0x6b65_6570, 1, 2, 0, &[]))
        .expect("write");
    let r = read_frame(&mut s);
    assert_eq!(&r[0..12], &[0x6b, 0x65, 0x65, 0x70, 0, 0, 0, 1, 0, 0, 0, 2]);
    drop(s);

    // The daemon still serves a well-behaved client.
    if Path::new(VIRSH).exists() {
        let (out, err, rc) = virsh(&d, "domstate test");
        assert_eq!(rc, 0, "{err}");
        assert_eq!(out.trim(), "running");
    }
}

#[test]
fn every_procedure_answers_garbage_with_a_reply() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    let d = Daemon::start("garbage");
    const REMOTE: u32 = 0x2000_8086;
    let mut s = UnixStream::connect(&d.socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut open = vec![0, 0, 0, 1, 0, 0, 0, 15];
    open.extend_from_slice(b"test:///default\0");
    open.extend_from_slice(&[0, 0, 0, 0]);
    s.write_all(&frame(REMOTE, 1, 0, 1, &open)).expect("write");
    let r = read_frame(&mut s);
    assert_eq!(&r[20..24], &[0, 0, 0, 0], "open succeeds");

    let mut seed = 0x2545_f491_u32;
    let mut serial = 10u32;
    for proc_ in 1..=445i32 {
        if proc_ == 2 {
            continue; // CONNECT_CLOSE would end the test early
        }
        for len in [0usize, 3, 4, 8, 40, 200] {
            let mut payload = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                payload.push(seed as u8);
            }
            serial += 1;
            s.write_all(&frame(REMOTE, proc_, 0, serial, &payload))
                .expect("write");
            loop {
                let r = read_frame(&mut s);
                // skip event messages and keepalives
                if r[12..16] != [0, 0, 0, 1] {
                    continue;
                }
                assert_eq!(
                    u32::from_be_bytes([r[16], r[17], r[18], r[19]]),
                    serial,
                    "reply to proc {proc_}"
                );
                assert!(r[23] <= 1, "status of proc {proc_}");
                break;
            }
        }
    }
}

/// libvirt's test driver serves this PNG as every screenshot.
const SCREENSHOT_PNG: &str = "/usr/share/libvirt/test-screenshot.png";

#[test]
fn screenshot_streams_through_the_daemon() {
    if !Path::new(VIRSH).exists() || !Path::new(SCREENSHOT_PNG).exists() {
        println!("skipping: virsh or libvirt's test screenshot is not installed");
        return;
    }
    let want = std::fs::read(SCREENSHOT_PNG).expect("png");
    let d = Daemon::start("screenshot");
    let out_file = d.dir.join("x.ppm");
    let (out, err, rc) = virsh(&d, &format!("screenshot test {}", out_file.display()));
    assert_eq!(rc, 0, "stderr: {err}");
    assert_eq!(
        out.trim(),
        format!(
            "Screenshot saved to {}, with type of image/png",
            out_file.display()
        )
    );
    assert_eq!(std::fs::read(&out_file).expect("saved"), want);

    // A read-only connection is refused, as by libvirtd.
    let o = run(Command::new(VIRSH)
        .arg("-r")
        .arg("-c")
        .arg(format!(
            "test+unix:///default?socket={}-ro",
            d.socket.display()
        ))
        .arg(format!("screenshot test {}", out_file.display())));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("read only access prevents virDomainScreenshot"),
        "{err}"
    );

    // python: finish after EOF, abort halfway, then the connection works on.
    let probe = run(Command::new(PYTHON).args(["-c", "import libvirt"]));
    if probe.status.success() {
        let py = r#"
import sys, libvirt
c = libvirt.open(sys.argv[1])
d = c.lookupByName("test")
st = c.newStream(0)
print("mime", d.screenshot(st, 0, 0))
data = b""
while True:
    b = st.recv(65536)
    if not b:
        break
    data += b
st.finish()
print("len", len(data))
st = c.newStream(0)
d.screenshot(st, 0, 0)
print("first", len(st.recv(100)))
st.abort()
print("type", c.getType())
try:
    d.screenshot(c.newStream(0), 0, 1)
except libvirt.libvirtError as e:
    print("flags", e.get_error_code())
c.close()
"#;
        let o = run(Command::new(PYTHON).args(["-c", py, &d.uri()]));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            out,
            format!(
                "mime image/png\nlen {}\nfirst 100\ntype TEST\nflags 8\n",
                want.len()
            )
        );
    }
}

#[test]
fn stream_handshake_on_the_wire() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    if !Path::new(SCREENSHOT_PNG).exists() {
        println!("skipping: libvirt's test screenshot is not installed");
        return;
    }
    let want = std::fs::read(SCREENSHOT_PNG).expect("png");
    let d = Daemon::start("wire-stream");
    const REMOTE: u32 = 0x2000_8086;
    let mut s = UnixStream::connect(&d.socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut open = vec![0, 0, 0, 1, 0, 0, 0, 15];
    open.extend_from_slice(b"test:///default\0");
    open.extend_from_slice(&[0, 0, 0, 0]);
    s.write_all(&frame(REMOTE, 1, 0, 1, &open)).expect("write");
    assert_eq!(&read_frame(&mut s)[20..24], &[0, 0, 0, 0]);
    // LOOKUP_BY_NAME "test" for the handle, then SCREENSHOT.
    let mut name = vec![0, 0, 0, 4];
    name.extend_from_slice(b"test");
    s.write_all(&frame(REMOTE, 23, 0, 2, &name)).expect("write");
    let r = read_frame(&mut s);
    assert_eq!(&r[20..24], &[0, 0, 0, 0]);
    let handle = r[24..].to_vec();
    let mut args = handle.clone();
    args.extend_from_slice(&[0; 8]); // screen 0, flags 0
    s.write_all(&frame(REMOTE, 211, 0, 3, &args))
        .expect("write");
    let r = read_frame(&mut s);
    assert_eq!(
        &r[12..24],
        &[0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0],
        "REPLY OK"
    );
    assert!(String::from_utf8_lossy(&r[24..]).contains("image/png"));
    let mut got = Vec::new();
    loop {
        let r = read_frame(&mut s);
        // STREAM, serial 3, CONTINUE; raw data, no length word
        assert_eq!(
            &r[8..24],
            &[0, 0, 0, 211, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 2]
        );
        if r.len() == 24 {
            break;
        }
        got.extend_from_slice(&r[24..]);
    }
    assert_eq!(got, want);
    // finish: STREAM OK, confirmed by STREAM OK
    s.write_all(&frame(REMOTE, 211, 3, 3, &[])).expect("write");
    let r = read_frame(&mut s);
    assert_eq!(r.len(), 24);
    assert_eq!(
        &r[8..24],
        &[0, 0, 0, 211, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 0]
    );

    // abort before reading any data: STREAM ERROR, confirmed by STREAM OK
    s.write_all(&frame(REMOTE, 211, 0, 4, &args))
        .expect("write");
    let r = read_frame(&mut s);
    assert_eq!(
        &r[12..24],
        &[0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0],
        "REPLY OK"
    );
    let mut abort = frame(REMOTE, 211, 3, 4, &[]);
    abort[27] = 1; // status ERROR
    s.write_all(&abort).expect("write");
    loop {
        let r = read_frame(&mut s);
        if r[12..16] == [0, 0, 0, 3] && r[20..24] == [0, 0, 0, 0] {
            assert_eq!(r.len(), 24, "empty confirmation");
            break;
        }
    }
    // Stray stream data for a finished stream is dropped; calls go on.
    s.write_all(&frame(REMOTE, 211, 3, 3, b"late"))
        .expect("write");
    s.write_all(&frame(REMOTE, 3, 0, 5, &[])).expect("write");
    loop {
        let r = read_frame(&mut s);
        if r[12..20] == [0, 0, 0, 1, 0, 0, 0, 5] {
            assert_eq!(&r[20..24], &[0, 0, 0, 0]);
            break;
        }
    }
}
