//! Issue 3's python3-libvirt acceptance: Debian's python3-libvirt drives
//! oxvirtd (lifecycle, lookups, lists, lifecycle events through the
//! default event loop, the close callback when the daemon stops). The
//! expected lines up to the close were recorded from the reference
//! libvirtd 9.0 with the same script (tests/py/acceptance.expected).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;

#[test]
fn python3_libvirt_acceptance() {
    if !have_python_libvirt() {
        println!("skipping: python3-libvirt is not installed");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/acceptance.py");
    let expected = include_str!("py/acceptance.expected");
    let mut d = Daemon::start("pyaccept");
    let mut py = Command::new(PYTHON)
        .arg(script)
        .arg(d.uri())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python runs");
    let mut out = String::new();
    let mut rd = BufReader::new(py.stdout.take().expect("stdout"));
    let mut line = String::new();
    loop {
        line.clear();
        if rd.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        out.push_str(&line);
        if line.starts_with("waiting for close") {
            // The daemon stops; the client's close callback must fire.
            d.signal(libc::SIGTERM);
            assert_eq!(d.wait_exit(), Some(0), "oxvirtd exits cleanly");
        }
    }
    let _ = py.wait();
    // VIR_CONNECT_CLOSE_REASON_EOF
    assert_eq!(out, format!("{expected}closed [1]\n"));
}
