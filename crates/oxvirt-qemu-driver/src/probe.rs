//! Probe QEMUs: an emulator started with no machine, paused, its monitor
//! on a listener it inherits (capabilities and CPU probes ask it).

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use oxvirt_core::{Error, Result};

use crate::FROM;

/// Kills and reaps the probe QEMU when dropped.
struct ProbeChild(std::process::Child);

impl Drop for ProbeChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A probe QEMU (`-machine none`, paused) and its monitor; the process is
/// killed and reaped when this is dropped.
pub(crate) struct Probe {
    pub qmp: oxvirt_qmp::Qmp,
    _child: ProbeChild,
}

/// Starts `emulator` with no machine under `accel` (kvm or tcg), paused,
/// with its monitor on a listener it inherits.
pub(crate) fn spawn_probe(emulator: &str, dir: &Path, accel: &str) -> Result<Probe> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::system(FROM, format!("cannot create {}", dir.display()), &e))?;
    let sock = dir.join(format!("probe-{}-{}.qmp", std::process::id(), accel));
    let _ = std::fs::remove_file(&sock);
    let listener = std::os::unix::net::UnixListener::bind(&sock).map_err(|e| {
        Error::system(
            FROM,
            format!("Failed to bind socket to '{}'", sock.display()),
            &e,
        )
    })?;
    let mut cmd = std::process::Command::new(emulator);
    cmd.args([
        "-S",
        "-no-user-config",
        "-nodefaults",
        "-nographic",
        "-machine",
        "none",
        "-accel",
        accel,
        "-chardev",
        "socket,id=probe,fd=3,server=on,wait=off",
        "-mon",
        "chardev=probe,mode=control",
    ])
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .env("LC_ALL", "C");
    let lfd = listener.as_raw_fd();
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // A probe never outlives the daemon that asked (a daemon
            // killed mid-probe would leave it serving a dead socket for
            // ever); guests, which must outlive it, are started elsewhere.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0 || libc::getppid() != parent {
                return Err(std::io::Error::last_os_error());
            }
            let l = libc::fcntl(lfd, libc::F_DUPFD, 100);
            if l < 0 || libc::dup2(l, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| Error::system(FROM, format!("Cannot run QEMU binary {}", emulator), &e))?;
    let child = ProbeChild(child);
    drop(listener);
    // QEMU serves the monitor on the inherited listener.
    let stream = std::os::unix::net::UnixStream::connect(&sock);
    let _ = std::fs::remove_file(&sock);
    let stream =
        stream.map_err(|e| Error::system(FROM, "cannot connect to the probe's monitor", &e))?;
    let (qmp, _events) = oxvirt_qmp::Qmp::from_stream(stream, Duration::from_secs(30))
        .map_err(crate::monitor::qmp_err)?;
    Ok(Probe { qmp, _child: child })
}
