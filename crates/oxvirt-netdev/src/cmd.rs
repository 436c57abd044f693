//! Running a host program with libvirt's error for a failing child
//! (virCommandRun): "Child process (CMDLINE) unexpected exit status N:
//! STDERR".
//
// TODO(network): switch to oxvirt-host's Command once it is on main.

use std::process::Command;

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};

use crate::FROM;

/// Runs `prog args...`; a non-zero exit is libvirt's internal error.
pub fn run(prog: &str, args: &[&str], stdin: Option<&str>) -> Result<String> {
    use std::io::Write;
    let cmdline = std::iter::once(prog)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let mut c = Command::new(prog);
    c.args(args)
        .stdin(if stdin.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c
        .spawn()
        .map_err(|e| Error::system(FROM, format!("Cannot find '{}' in path", prog), &e))?;
    if let (Some(data), Some(mut w)) = (stdin, child.stdin.take()) {
        let _ = w.write_all(data.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::system(FROM, format!("Cannot run {}", cmdline), &e))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let status = out.status.code().unwrap_or(-1);
        return Err(Error::new(
            code::INTERNAL_ERROR,
            FROM,
            format!(
                "Child process ({}) unexpected exit status {}: {}",
                cmdline,
                status,
                err.trim_end()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a program whose failure is ignored (libvirt's `&dummy` status).
pub fn run_quiet(prog: &str, args: &[&str]) {
    let _ = Command::new(prog)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}
