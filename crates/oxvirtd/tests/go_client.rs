//! go-libvirt acceptance: DigitalOcean's pure-Go client (Debian's
//! golang-github-digitalocean-go-libvirt-dev, the library under
//! Terraform's libvirt provider) drives oxvirtd through tests/go/main.go.
//! Its output must equal tests/go/acceptance.expected, which is what the
//! reference libvirtd 9.0's test driver answers the same client.
//!
//! Re-recording: start the reference (`getent group libvirt-qemu ||
//! groupadd -r libvirt-qemu; /work/shared/tools/reference-libvirtd.sh`),
//! build the client as `build_client` does and run
//! `go-client /var/run/libvirt/libvirt-sock > tests/go/acceptance.expected`
//! while no other client uses its test:///default.
//!
//! Without Go or go-libvirt the test fails, unless OXVIRT_ALLOW_SKIP_GO=1
//! lets it pass with a SKIP line.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const GOPATH: &str = "/usr/share/gocode";
const GO_LIBVIRT: &str = "/usr/share/gocode/src/github.com/digitalocean/go-libvirt";
const SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/go/main.go");
const ALLOW_SKIP: &str = "OXVIRT_ALLOW_SKIP_GO";

fn go_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/lib/go/bin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join("go"))
        .find(|p| p.is_file())
}

/// FNV-1a over the inputs of the build: the client, the Go version and
/// the go-libvirt sources it compiles against.
fn build_key(go: &Path) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |b: &[u8]| {
        for &x in b {
            h = (h ^ x as u64).wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(&std::fs::read(SOURCE).expect("tests/go/main.go"));
    let v = Command::new(go)
        .arg("version")
        .output()
        .expect("go version");
    feed(&v.stdout);
    let mut files: Vec<PathBuf> = std::fs::read_dir(GO_LIBVIRT)
        .expect("go-libvirt sources")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "go"))
        .collect();
    files.sort();
    for f in files {
        feed(f.as_os_str().as_encoded_bytes());
        feed(&std::fs::read(&f).unwrap_or_default());
    }
    format!("{h:016x}")
}

/// Builds the client offline in GOPATH mode (go-libvirt needs only the
/// standard library), cached under target/tmp by `build_key`, with Go's
/// own build cache beside it.
fn build_client(go: &Path) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-client");
    std::fs::create_dir_all(&dir).expect("cache dir");
    let bin = dir.join(format!("go-client-{}", build_key(go)));
    if bin.is_file() {
        return bin;
    }
    let tmp = dir.join(format!("go-client.{}.tmp", std::process::id()));
    let t0 = Instant::now();
    let o = Command::new(go)
        .args(["build", "-o"])
        .arg(&tmp)
        .arg(SOURCE)
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOCACHE", dir.join("cache"))
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOENV", "off")
        .env("CGO_ENABLED", "0")
        .stdin(Stdio::null())
        .output()
        .expect("go build runs");
    assert!(
        o.status.success(),
        "go build failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::rename(&tmp, &bin).expect("cache the client");
    println!("built the go-libvirt client in {:?}", t0.elapsed());
    bin
}

#[test]
fn go_libvirt_acceptance() {
    let go = go_binary();
    if go.is_none() || !Path::new(GO_LIBVIRT).is_dir() {
        let what = "the Go toolchain or go-libvirt is missing \
                    (apt-get install golang-go golang-github-digitalocean-go-libvirt-dev)";
        if std::env::var(ALLOW_SKIP).is_ok_and(|v| v == "1") {
            println!("SKIP go_libvirt_acceptance: {what}; {ALLOW_SKIP}=1 allows it");
            return;
        }
        panic!("{what}; set {ALLOW_SKIP}=1 to skip this test");
    }
    let client = build_client(&go.expect("go"));
    let expected = include_str!("go/acceptance.expected");

    let d = Daemon::start("goclient");
    let out_path = d.dir.join("go-client.out");
    let err_path = d.dir.join("go-client.err");
    let mut child = Command::new(&client)
        .arg(&d.socket)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("the go client runs");
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break Some(st);
        }
        if t0.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(status.is_some(), "the go client hung; so far:\n{out}{err}");
    if out != expected {
        let diff: Vec<String> = expected
            .lines()
            .map(Some)
            .chain(std::iter::repeat(None))
            .zip(out.lines().map(Some).chain(std::iter::repeat(None)))
            .take_while(|(a, b)| a.is_some() || b.is_some())
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("- {}\n+ {}", a.unwrap_or(""), b.unwrap_or("")))
            .collect();
        panic!(
            "go-libvirt's transcript differs from libvirtd's:\n{}\n--- full output:\n{out}{err}",
            diff.join("\n")
        );
    }
    assert!(
        status.expect("status").success(),
        "the go client failed: {err}"
    );
}
