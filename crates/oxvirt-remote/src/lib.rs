//! The remote driver: a [`Connection`] that forwards every call to
//! oxvirtd (or libvirtd) over libvirt's RPC protocol.
//!
//! `open` picks the socket from the URI the way libvirt's client does
//! (`?socket=` first, then the default paths), runs virsh's handshake
//! (AUTH_LIST, keepalive probe, CONNECT_OPEN) and returns a connection
//! whose methods map one-to-one onto REMOTE procedures. Methods with no
//! procedure answer libvirt's "not supported" error.
//!
//! Invariants:
//! - only this crate, oxvirt-proto and oxvirtd know the wire;
//! - nothing the server sends can panic the client.

pub mod client;
mod conn;
pub mod events;
pub mod ssh;
pub mod stream;
pub mod tls;

use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oxvirt_core::error::{code, from};
use oxvirt_core::uri::Uri;
use oxvirt_core::{Connection, Error, Result};

pub use conn::RemoteConnection;

/// oxvirtd's default read-write socket.
pub const OXVIRT_SOCKET: &str = "/run/oxvirt/libvirt-sock";
/// libvirtd's socket, used when oxvirtd's is absent.
pub const LIBVIRT_SOCKET: &str = "/var/run/libvirt/libvirt-sock";
/// libvirt's TCP port.
pub const TCP_PORT: u16 = 16509;

/// Where a URI's daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(String, u16),
    Tls(String, u16),
    /// A command whose stdin/stdout carry the protocol: ssh with
    /// libvirt's command line, or the `ext` transport's `command=`.
    Command(ssh::SshCommand, ssh::Program),
}

/// True for URIs the remote driver handles: a transport, a host, a
/// `?socket=`, or a system/session URI of a driver that lives in a daemon.
pub fn handles(uri: &Uri) -> bool {
    uri.is_remote() || (uri.driver == "qemu" && matches!(uri.path.as_str(), "/system" | "/session"))
}

/// The socket for a URI. `exists` is consulted for the default paths.
pub fn endpoint(uri: &Uri, readonly: bool, exists: &dyn Fn(&Path) -> bool) -> Result<Endpoint> {
    match uri.transport.as_deref() {
        Some("tcp") => Ok(Endpoint::Tcp(
            uri.host.clone().unwrap_or_else(|| "localhost".into()),
            uri.port.unwrap_or(TCP_PORT),
        )),
        // A host without a transport means TLS in libvirt.
        Some("tls") => Ok(tls_endpoint(uri)),
        None if uri.host.is_some() => Ok(tls_endpoint(uri)),
        Some("ssh") => Ok(Endpoint::Command(
            ssh::command_for(uri, &open_name(uri), readonly, &ssh::Local::current())?,
            ssh::Program::Ssh,
        )),
        Some("ext") => Ok(Endpoint::Command(
            ssh::ext_command(uri)?,
            ssh::Program::External,
        )),
        None | Some("unix") => {
            if let Some(s) = uri.param("socket") {
                return Ok(Endpoint::Unix(PathBuf::from(s)));
            }
            Ok(Endpoint::Unix(system_socket(readonly, exists)))
        }
        Some(t) => Err(unsupported_transport(t)),
    }
}

/// The system daemon's socket on this host: oxvirtd's, or libvirtd's
/// when only that exists (`-ro` for read-only). Also what the
/// `virt-ssh-helper` oxvirt ships connects to.
pub fn system_socket(readonly: bool, exists: &dyn Fn(&Path) -> bool) -> PathBuf {
    let ro = if readonly { "-ro" } else { "" };
    let ours = PathBuf::from(format!("{}{}", OXVIRT_SOCKET, ro));
    let theirs = PathBuf::from(format!("{}{}", LIBVIRT_SOCKET, ro));
    if !exists(&ours) && exists(&theirs) {
        theirs
    } else {
        ours
    }
}

fn tls_endpoint(uri: &Uri) -> Endpoint {
    Endpoint::Tls(
        uri.host.clone().unwrap_or_else(|| "localhost".into()),
        uri.port.unwrap_or(tls::TLS_PORT),
    )
}

fn unsupported_transport(t: &str) -> Error {
    Error::new(
        code::CONFIG_UNSUPPORTED,
        from::REMOTE,
        format!(
            "transport '{}' is not supported by oxvirt's remote driver",
            t
        ),
    )
}

/// The name sent in CONNECT_OPEN: the URI without transport, host and
/// transport parameters ("test:///default", "qemu:///system"), or the
/// `name=` parameter.
pub fn open_name(uri: &Uri) -> String {
    if let Some((_, n)) = uri
        .params
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case("name"))
    {
        return n.clone();
    }
    let bare = Uri {
        transport: None,
        user: None,
        host: None,
        port: None,
        ..uri.clone()
    };
    bare.driver_uri()
}

/// Opens a remote connection for `name` (already parsed as `uri`).
/// Flag 1 is read-only.
pub fn open(name: &str, uri: &Uri, flags: u32) -> Result<Arc<Connection>> {
    let readonly = flags & 1 != 0;
    let ep = endpoint(uri, readonly, &|p: &Path| p.exists())?;
    let (sock, secure) = match &ep {
        Endpoint::Unix(path) => {
            let s = UnixStream::connect(path).map_err(|e| {
                Error::system(
                    from::RPC,
                    format!("Failed to connect socket to '{}'", path.display()),
                    &e,
                )
            })?;
            (client::Sock::Unix(s), true)
        }
        Endpoint::Tcp(host, port) => {
            let s = TcpStream::connect((host.as_str(), *port)).map_err(|e| {
                Error::system(
                    from::RPC,
                    format!("unable to connect to server at '{}:{}'", host, port),
                    &e,
                )
            })?;
            let _ = s.set_nodelay(true);
            (client::Sock::Tcp(s), false)
        }
        Endpoint::Tls(host, port) => {
            // Credentials first: a missing CA fails before any connection.
            // SAFETY: geteuid(2) cannot fail and touches no memory.
            let home = if unsafe { libc::geteuid() } == 0 {
                None
            } else {
                std::env::var_os("HOME").map(PathBuf::from)
            };
            let files = tls::client_files(uri.param("pkipath"), home.as_deref(), &|p: &Path| {
                p.exists()
            });
            let no_verify = uri
                .param("no_verify")
                .is_some_and(|v| v != "0" && !v.is_empty());
            let config = tls::client_config(&files, no_verify)?;
            let s = TcpStream::connect((host.as_str(), *port)).map_err(|e| {
                Error::system(
                    from::RPC,
                    format!("unable to connect to server at '{}:{}'", host, port),
                    &e,
                )
            })?;
            let _ = s.set_nodelay(true);
            (
                client::Sock::Tls(tls::TlsSock::connect(s, host, config)?),
                true,
            )
        }
        // libvirt calls ssh secure, an external command not.
        Endpoint::Command(cmd, prog) => (
            client::Sock::Command(ssh::CommandSock::spawn(cmd, *prog)?),
            *prog == ssh::Program::Ssh,
        ),
    };
    let conn = RemoteConnection::handshake(sock, &open_name(uri), flags, secure)?;
    Ok(Connection::builder(name, flags).all(Arc::new(conn)).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_and_names() {
        let none = |_: &Path| false;
        let u = Uri::parse("test+unix:///default?socket=/tmp/s").unwrap();
        assert!(handles(&u));
        assert_eq!(
            endpoint(&u, false, &none).unwrap(),
            Endpoint::Unix("/tmp/s".into())
        );
        assert_eq!(open_name(&u), "test:///default");
        let u = Uri::parse("qemu:///system").unwrap();
        assert!(handles(&u));
        assert_eq!(
            endpoint(&u, false, &none).unwrap(),
            Endpoint::Unix(OXVIRT_SOCKET.into())
        );
        let libvirt_only = |p: &Path| p == Path::new(LIBVIRT_SOCKET);
        assert_eq!(
            endpoint(&u, false, &libvirt_only).unwrap(),
            Endpoint::Unix(LIBVIRT_SOCKET.into())
        );
        assert_eq!(
            endpoint(&u, true, &none).unwrap(),
            Endpoint::Unix(format!("{}-ro", OXVIRT_SOCKET).into())
        );
        let u = Uri::parse("qemu+tcp://example.org:1234/system").unwrap();
        assert_eq!(
            endpoint(&u, false, &none).unwrap(),
            Endpoint::Tcp("example.org".into(), 1234)
        );
        assert_eq!(open_name(&u), "qemu:///system");
        let u = Uri::parse("test+unix:///tmp/node.xml?socket=/s").unwrap();
        assert_eq!(open_name(&u), "test:///tmp/node.xml");
        assert!(!handles(&Uri::parse("test:///default").unwrap()));
        assert!(matches!(
            endpoint(&Uri::parse("qemu+ssh://h/system").unwrap(), false, &none),
            Ok(Endpoint::Command(_, ssh::Program::Ssh))
        ));
        assert!(endpoint(&Uri::parse("qemu+ext:///system").unwrap(), false, &none).is_err());
        assert!(endpoint(
            &Uri::parse("qemu+libssh2://h/system").unwrap(),
            false,
            &none
        )
        .is_err());
        let u = Uri::parse("qemu+ssh://h/system?name=qemu:///session").unwrap();
        assert_eq!(open_name(&u), "qemu:///session");
        for (u, host, port) in [
            (
                "test+tls://localhost:1234/default?pkipath=/p",
                "localhost",
                1234,
            ),
            ("qemu://example.org/system", "example.org", tls::TLS_PORT),
            ("qemu+tls:///system", "localhost", tls::TLS_PORT),
        ] {
            let u = Uri::parse(u).unwrap();
            assert!(handles(&u));
            assert_eq!(
                endpoint(&u, false, &none).unwrap(),
                Endpoint::Tls(host.into(), port)
            );
        }
        let u = Uri::parse("test+tls://localhost:1234/default?pkipath=/p&no_verify=1").unwrap();
        assert_eq!(open_name(&u), "test:///default");
    }
}
