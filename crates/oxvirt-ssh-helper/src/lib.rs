//! `virt-ssh-helper`, oxvirt's: the far end of libvirt's ssh transport.
//!
//! libvirt 9.0's client (virsh, python3-libvirt, oxvirsh) runs, through
//! ssh, `virt-ssh-helper [-r] URI` (proxy `native`, or `auto` when the
//! helper is on the far end's PATH) and otherwise `nc -U SOCKET`. This
//! program answers the first call: it picks the local daemon's socket for
//! the URI, connects, and copies bytes both ways between its stdin/stdout
//! (ssh's channel) and the socket until either side ends. The netcat
//! fallback needs nothing from oxvirt but a socket at the path the client
//! names (`oxvirtd --libvirt-paths`, or `?socket=`).
//!
//! Command line, messages and exit statuses are libvirt's helper's
//! (`src/remote/remote_ssh_helper.c`); the socket is oxvirtd's system
//! socket (libvirtd's when only that exists), a session daemon's for a
//! non-root `/session` URI, or `$OXVIRTD_SOCKET` (`-ro` appended for
//! read-only) when the ssh session sets it (sshd's `SetEnv`) for a
//! daemon elsewhere.

use std::fs::File;
use std::io::{self, Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use oxvirt_core::uri::Uri;

/// libvirt's helper's buffer size each way.
const BUF_SIZE: usize = 1024 * 1024;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Args {
    Run { readonly: bool, uri: String },
    Version,
    Help,
}

/// Why the helper stops before proxying: the message (without the
/// program name) and whether the usage text goes with it.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// GLib's option parser failed: "option parsing failed: ...".
    Options(String),
    /// Not exactly one URI: the usage text alone.
    Usage,
    /// A message after "PROG: ".
    Message(String),
}

/// The usage text GLib prints for libvirt's helper.
pub fn usage(prog: &str) -> String {
    format!(
        "Usage:\n  {prog} [OPTION?] URI - libvirt socket proxy\n\n\
         Internal tool used to handle connections coming from remote\n\
         clients. Not intended to be called directly by the user.\n\n\
         Help Options:\n  -h, --help         Show help options\n\n\
         Application Options:\n  -r, --readonly     Connect read-only\n  \
         -V, --version      Display version information\n\n"
    )
}

/// libvirt's options, parsed as GLib does: `-r`/`--readonly`,
/// `-V`/`--version`, `-h`/`--help`, short flags may be bundled (`-rV`),
/// `--` ends the options; exactly one URI.
pub fn parse_args(args: &[String]) -> Result<Args, Refusal> {
    let (mut ro, mut version, mut help) = (false, false, false);
    let mut rest = Vec::new();
    let mut opts = true;
    for a in args {
        if opts && a == "--" {
            opts = false;
        } else if opts && a.starts_with("--") {
            match a.as_str() {
                "--readonly" => ro = true,
                "--version" => version = true,
                "--help" => help = true,
                _ => return Err(Refusal::Options(format!("Unknown option {}", a))),
            }
        } else if opts && a.len() > 1 && a.starts_with('-') {
            for c in a[1..].chars() {
                match c {
                    'r' => ro = true,
                    'V' => version = true,
                    'h' | '?' => help = true,
                    _ => return Err(Refusal::Options(format!("Unknown option -{}", c))),
                }
            }
        } else {
            rest.push(a.clone());
        }
    }
    if help {
        return Ok(Args::Help);
    }
    if version {
        return Ok(Args::Version);
    }
    match <[String; 1]>::try_from(rest) {
        Ok([uri]) => Ok(Args::Run { readonly: ro, uri }),
        Err(_) => Err(Refusal::Usage),
    }
}

/// libvirt's transports (remoteDriverTransport).
const TRANSPORTS: &[&str] = &["tls", "unix", "ssh", "libssh2", "ext", "tcp", "libssh"];

/// What the helper needs of its environment.
pub struct Env {
    pub euid: u32,
    /// `$OXVIRTD_SOCKET`: the daemon's read-write socket.
    pub oxvirtd_socket: Option<PathBuf>,
    /// `$XDG_RUNTIME_DIR`.
    pub runtime_dir: Option<PathBuf>,
}

impl Env {
    pub fn current() -> Env {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Env {
            // SAFETY: geteuid(2) cannot fail and touches no memory.
            euid: unsafe { libc::geteuid() },
            oxvirtd_socket: var("OXVIRTD_SOCKET"),
            runtime_dir: var("XDG_RUNTIME_DIR"),
        }
    }
}

/// The socket to proxy to for `uri_str`, with libvirt's helper's checks:
/// the URI must parse and name the local (unix) transport.
pub fn socket_for(
    uri_str: &str,
    readonly: bool,
    env: &Env,
    exists: &dyn Fn(&Path) -> bool,
) -> Result<PathBuf, Refusal> {
    let uri = Uri::parse(uri_str).map_err(|_| {
        Refusal::Message(format!(
            "cannot parse '{}': internal error: Unable to parse URI {}",
            uri_str, uri_str
        ))
    })?;
    if let Some(t) = &uri.transport {
        let t = t.to_ascii_lowercase();
        if !TRANSPORTS.contains(&t.as_str()) {
            return Err(Refusal::Message(format!(
                "cannot parse URI transport '{}': invalid argument: remote_open: transport in URL \
                 not recognised (should be tls|unix|ssh|ext|tcp|libssh2|libssh)",
                uri_str
            )));
        }
        if t == "unix" {
            if let Some(h) = &uri.host {
                return Err(Refusal::Message(format!(
                    "cannot parse URI transport '{}': invalid argument: using unix socket and \
                     remote server '{}' is not supported.",
                    uri_str, h
                )));
            }
        } else {
            return Err(unexpected(uri_str));
        }
    } else if uri.host.is_some() {
        // A host without a transport is TLS.
        return Err(unexpected(uri_str));
    }
    let session = env.euid > 0
        && (uri.path == "/session" || (uri.transport.is_some() && uri.driver == "test"));
    if let Some(s) = &env.oxvirtd_socket {
        let mut p = s.clone().into_os_string();
        if readonly && !session {
            p.push("-ro");
        }
        return Ok(PathBuf::from(p));
    }
    if session {
        // Where a session oxvirtd listens (libvirt's session socket has
        // no read-only twin).
        let dir = env
            .runtime_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join(format!("oxvirt-{}", env.euid)));
        return Ok(dir.join("libvirt").join("libvirt-sock"));
    }
    Ok(oxvirt_remote::system_socket(readonly, exists))
}

fn unexpected(uri: &str) -> Refusal {
    Refusal::Message(format!("unexpected URI transport '{}'", uri))
}

/// Connects to the daemon: libvirt's "cannot connect to ..." on failure.
pub fn connect(path: &Path) -> Result<UnixStream, Refusal> {
    UnixStream::connect(path).map_err(|e| {
        Refusal::Message(format!(
            "cannot connect to '{p}': Failed to connect socket to '{p}': {}",
            oxvirt_core::error::strerror(&e),
            p = path.display()
        ))
    })
}

/// Copies stdin to the socket and the socket to stdout until either
/// side ends (libvirt's helper stops at the first end of file). An I/O
/// error on stdin or stdout is the result's error.
pub fn proxy(sock: UnixStream) -> io::Result<()> {
    let to_sock = sock.try_clone()?;
    let (done, wait) = std::sync::mpsc::channel::<io::Result<()>>();
    let d = done.clone();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            // SAFETY: fd 0 is ours for the life of the process; it is
            // never closed through this File.
            let stdin = ManuallyDrop::new(unsafe { File::from_raw_fd(0) });
            let r = copy(&*stdin, to_sock, "cannot read from stdin", None);
            let _ = d.send(r);
        })?;
    std::thread::Builder::new()
        .name("socket".into())
        .spawn(move || {
            // SAFETY: as above, fd 1.
            let stdout = ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
            let r = copy(sock, &*stdout, "", Some("cannot write to stdout"));
            let _ = done.send(r);
        })?;
    wait.recv().unwrap_or(Ok(()))
}

/// Copies until end of file on `from`. Errors reading `from` are reported
/// with `read_what` (none: the socket side ends quietly, as libvirt's
/// helper does); errors writing `to` with `write_what` (none: quietly).
fn copy(
    mut from: impl Read,
    mut to: impl Write,
    read_what: &str,
    write_what: Option<&str>,
) -> io::Result<()> {
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if read_what.is_empty() => {
                let _ = e;
                return Ok(());
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {}", read_what, e))),
        };
        if let Err(e) = to.write_all(&buf[..n]) {
            return match write_what {
                Some(w) => Err(io::Error::new(e.kind(), format!("{}: {}", w, e))),
                None => Ok(()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_as_glib_parses_them() {
        assert_eq!(
            parse_args(&s(&["-r", "qemu:///system"])),
            Ok(Args::Run {
                readonly: true,
                uri: "qemu:///system".into()
            })
        );
        assert_eq!(
            parse_args(&s(&["qemu:///system"])),
            Ok(Args::Run {
                readonly: false,
                uri: "qemu:///system".into()
            })
        );
        assert_eq!(parse_args(&s(&["-rV"])), Ok(Args::Version));
        assert_eq!(parse_args(&s(&[])), Err(Refusal::Usage));
        assert_eq!(parse_args(&s(&["a", "b"])), Err(Refusal::Usage));
        assert_eq!(
            parse_args(&s(&["--bogus", "x"])),
            Err(Refusal::Options("Unknown option --bogus".into()))
        );
        assert_eq!(
            parse_args(&s(&["--", "-r"])),
            Ok(Args::Run {
                readonly: false,
                uri: "-r".into()
            })
        );
    }

    #[test]
    fn sockets_and_refusals() {
        let root = Env {
            euid: 0,
            oxvirtd_socket: None,
            runtime_dir: None,
        };
        let none = |_: &Path| false;
        let msg = |u: &str| match socket_for(u, false, &root, &none) {
            Err(Refusal::Message(m)) => m,
            other => panic!("{:?}", other),
        };
        // libvirt's helper's messages.
        assert_eq!(
            msg("qemu+tcp://h/system"),
            "unexpected URI transport 'qemu+tcp://h/system'"
        );
        assert_eq!(
            msg("qemu://host/system"),
            "unexpected URI transport 'qemu://host/system'"
        );
        assert_eq!(
            msg("qemu+bogus:///system"),
            "cannot parse URI transport 'qemu+bogus:///system': invalid argument: remote_open: \
             transport in URL not recognised (should be tls|unix|ssh|ext|tcp|libssh2|libssh)"
        );
        assert_eq!(
            msg(":::"),
            "cannot parse ':::': internal error: Unable to parse URI :::"
        );
        assert_eq!(
            socket_for("qemu:///system", true, &root, &none),
            Ok(PathBuf::from("/run/oxvirt/libvirt-sock-ro"))
        );
        let libvirt_only = |p: &Path| p.starts_with("/var/run/libvirt");
        assert_eq!(
            socket_for("test+unix:///default", false, &root, &libvirt_only),
            Ok(PathBuf::from("/var/run/libvirt/libvirt-sock"))
        );
        let set = Env {
            oxvirtd_socket: Some("/t/sock".into()),
            ..root
        };
        assert_eq!(
            socket_for("qemu:///system", true, &set, &none),
            Ok(PathBuf::from("/t/sock-ro"))
        );
        let user = Env {
            euid: 1000,
            oxvirtd_socket: None,
            runtime_dir: Some("/run/user/1000".into()),
        };
        assert_eq!(
            socket_for("qemu:///session", true, &user, &none),
            Ok(PathBuf::from("/run/user/1000/libvirt/libvirt-sock"))
        );
        assert_eq!(
            socket_for("qemu:///system", false, &user, &none),
            Ok(PathBuf::from("/run/oxvirt/libvirt-sock"))
        );
    }
}
