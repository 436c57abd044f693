//! TLS for `+tls` URIs, as libvirt's client does it: the CA, and the
//! client's certificate and key when it has them, from `?pkipath=DIR`,
//! else `~/.pki/libvirt` (not as root), else `/etc/pki`; the server's
//! certificate checked against the CA and the host name (unless
//! `?no_verify=1`); then the one byte the server sends once it has
//! accepted our certificate.
//!
//! The RPC client reads from one thread and writes from others, so the
//! TLS session is shared: the reader feeds received records to it and
//! takes plaintext out, writers put plaintext in and send the records it
//! makes. Records reach the socket in the order the session made them:
//! they are taken out and sent under one lock (`tx`).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use oxvirt_core::error::{code, from};
use oxvirt_core::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// libvirt's TLS port.
pub const TLS_PORT: u16 = 16514;

/// The client's credential files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    /// Used when the file exists.
    pub crl: PathBuf,
    /// Certificate and key, when the client has them.
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// Where libvirt's client looks for its credentials. `home` is given for
/// an unprivileged user (root uses the system paths only).
pub fn client_files(
    pkipath: Option<&str>,
    home: Option<&Path>,
    exists: &dyn Fn(&Path) -> bool,
) -> TlsFiles {
    let in_dir = |dir: &Path| TlsFiles {
        ca: dir.join("cacert.pem"),
        crl: dir.join("cacrl.pem"),
        identity: Some((dir.join("clientcert.pem"), dir.join("clientkey.pem"))),
    };
    let mut f = match pkipath {
        Some(dir) => in_dir(Path::new(dir)),
        None => {
            let mut f = TlsFiles {
                ca: PathBuf::from("/etc/pki/CA/cacert.pem"),
                crl: PathBuf::from("/etc/pki/CA/cacrl.pem"),
                identity: Some((
                    PathBuf::from("/etc/pki/libvirt/clientcert.pem"),
                    PathBuf::from("/etc/pki/libvirt/private/clientkey.pem"),
                )),
            };
            // A user's own files win, each group on its own.
            if let Some(home) = home {
                let user = in_dir(&home.join(".pki/libvirt"));
                if exists(&user.ca) {
                    f.ca = user.ca;
                    f.crl = user.crl;
                }
                if user.identity.as_ref().is_some_and(|(c, _)| exists(c)) {
                    f.identity = user.identity;
                }
            }
            f
        }
    };
    // No certificate: connect without one (the server decides).
    if f.identity.as_ref().is_some_and(|(c, _)| !exists(c)) {
        f.identity = None;
    }
    f
}

fn read_file(what: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::system(
            from::RPC,
            format!("Cannot read {} '{}'", what, path.display()),
            &e,
        )
    })
}

fn import_error(what: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::raw(
        code::SYSTEM_ERROR,
        from::RPC,
        format!("Unable to import {} '{}': {}", what, path.display(), e),
    )
}

fn load_certs(what: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read_file(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| import_error(what, path, e))?;
    if certs.is_empty() {
        return Err(import_error(what, path, "no PEM certificate found"));
    }
    Ok(certs)
}

/// The ring provider: builds without cmake or nasm.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration for a set of files.
pub fn client_config(files: &TlsFiles, no_verify: bool) -> Result<ClientConfig> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    for ca in load_certs("CA certificate", &files.ca)? {
        roots
            .add(ca)
            .map_err(|e| import_error("CA certificate", &files.ca, e))?;
    }
    let mut crls = Vec::new();
    if files.crl.exists() {
        let pem = read_file("certificate revocation list", &files.crl)?;
        for c in CertificateRevocationListDer::pem_slice_iter(&pem) {
            crls.push(c.map_err(|e| import_error("certificate revocation list", &files.crl, e))?);
        }
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(from::RPC, e.to_string()))?;
    let builder = if no_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify { provider }))
    } else {
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .with_crls(crls)
                .build()
                .map_err(|e| import_error("CA certificate", &files.ca, e))?;
        builder.with_webpki_verifier(verifier)
    };
    match &files.identity {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain = load_certs("certificate", cert)?;
            let key_pem = read_file("private key", key)?;
            let k = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|e| import_error("private key", key, e))?;
            builder.with_client_auth_cert(chain, k).map_err(|e| {
                Error::raw(
                    code::SYSTEM_ERROR,
                    from::RPC,
                    format!(
                        "Unable to set x509 key and certificate: {}, {}: {}",
                        key.display(),
                        cert.display(),
                        e
                    ),
                )
            })
        }
    }
}

/// `no_verify=1`: any server certificate is accepted (the handshake's
/// signatures are still checked).
#[derive(Debug)]
struct NoVerify {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Rx {
    tcp: TcpStream,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    eof: bool,
}

struct Shared {
    conn: Mutex<ClientConnection>,
    rx: Mutex<Rx>,
    /// The socket's writing side; held while records are taken out of
    /// the session and sent, so they leave in order.
    tx: Mutex<TcpStream>,
    ctl: TcpStream,
}

/// A TLS session over TCP that one thread reads and others write.
#[derive(Clone)]
pub struct TlsSock(Arc<Shared>);

fn tls_io_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl TlsSock {
    /// Runs the handshake and waits for the server's confirmation byte.
    pub fn connect(tcp: TcpStream, host: &str, config: ClientConfig) -> Result<TlsSock> {
        let name = ServerName::try_from(host.to_string()).map_err(|_| {
            Error::raw(
                code::INVALID_ARG,
                from::RPC,
                format!("invalid server name '{}' for TLS", host),
            )
        })?;
        let mut conn = ClientConnection::new(Arc::new(config), name)
            .map_err(|e| Error::internal(from::RPC, e.to_string()))?;
        let mut hs = &tcp;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut hs) {
                return Err(handshake_error(e));
            }
        }
        let clone = |t: &TcpStream| {
            t.try_clone()
                .map_err(|e| Error::system(from::RPC, "Unable to clone socket", &e))
        };
        let sock = TlsSock(Arc::new(Shared {
            conn: Mutex::new(conn),
            rx: Mutex::new(Rx {
                tcp: clone(&tcp)?,
                buf: vec![0u8; 32 * 1024].into_boxed_slice(),
                pos: 0,
                len: 0,
                eof: false,
            }),
            tx: Mutex::new(clone(&tcp)?),
            ctl: tcp,
        }));
        // The server checks our certificate now, then says '\1' (or
        // hangs up).
        let mut byte = [0u8; 1];
        let mut rd = sock.clone();
        match rd.read(&mut byte) {
            Ok(1) if byte[0] == 1 => Ok(sock),
            Ok(_) => Err(Error::raw(
                code::RPC,
                from::RPC,
                "server verification (of our certificate or IP address) failed",
            )),
            Err(e) => {
                // A hang-up without close_notify: gnutls' EIO.
                let e = if e.kind() == io::ErrorKind::UnexpectedEof {
                    io::Error::from_raw_os_error(5)
                } else {
                    e
                };
                Err(Error::system(
                    from::RPC,
                    "Unable to read TLS confirmation",
                    &e,
                ))
            }
        }
    }

    /// Takes out what the session has to send, with the socket's writing
    /// side, if no writer holds it (one that does sends it along with its
    /// own records). The caller sends it once the session is unlocked.
    fn take_pending(
        &self,
        conn: &mut ClientConnection,
    ) -> Option<(MutexGuard<'_, TcpStream>, Vec<u8>)> {
        if !conn.wants_write() {
            return None;
        }
        let tx = self.0.tx.try_lock().ok()?;
        let mut out = Vec::new();
        while conn.wants_write() {
            if conn.write_tls(&mut out).is_err() {
                break;
            }
        }
        Some((tx, out))
    }

    /// Says goodbye (close_notify) when it can and closes the socket.
    pub fn shutdown(&self) {
        let pending = {
            let mut c = lock(&self.0.conn);
            c.send_close_notify();
            self.take_pending(&mut c)
        };
        if let Some((mut tx, out)) = pending {
            let _ = tx.write_all(&out);
        }
        let _ = self.0.ctl.shutdown(Shutdown::Both);
    }
}

fn handshake_error(e: io::Error) -> Error {
    let detail = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match detail {
        Some(rustls::Error::InvalidCertificate(_)) => Error::new(
            code::AUTH_FAILED,
            from::RPC,
            "Failed to verify peer's certificate",
        ),
        Some(t) => Error::new(
            code::AUTH_FAILED,
            from::RPC,
            format!("TLS handshake failed {}", t),
        ),
        None => Error::system(from::RPC, "TLS handshake failed", &e),
    }
}

impl Read for TlsSock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut rx = lock(&self.0.rx);
        loop {
            {
                let mut c = lock(&self.0.conn);
                match c.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                if rx.pos < rx.len {
                    let Rx {
                        buf: raw, pos, len, ..
                    } = &mut *rx;
                    let mut pending = &raw[*pos..*len];
                    let n = c.read_tls(&mut pending)?;
                    *pos += n;
                    let r = c.process_new_packets();
                    let pending = self.take_pending(&mut c);
                    drop(c);
                    if let Some((mut tx, out)) = pending {
                        let _ = tx.write_all(&out);
                    }
                    r.map_err(tls_io_error)?;
                    continue;
                }
                if rx.eof {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
            let Rx { tcp, buf: raw, .. } = &mut *rx;
            let n = loop {
                match tcp.read(raw) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            rx.pos = 0;
            rx.len = n;
            if n == 0 {
                rx.eof = true;
                let mut c = lock(&self.0.conn);
                // An empty read tells the session the peer has gone.
                let _ = c.read_tls(&mut &[][..]);
                c.process_new_packets().map_err(tls_io_error)?;
            }
        }
    }
}

impl Write for TlsSock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut tx = lock(&self.0.tx);
        let mut off = 0;
        let mut out = Vec::new();
        while off < buf.len() {
            {
                let mut c = lock(&self.0.conn);
                let n = c.writer().write(&buf[off..])?;
                off += n;
                while c.wants_write() {
                    c.write_tls(&mut out)?;
                }
                if n == 0 && out.is_empty() {
                    return Err(io::ErrorKind::WriteZero.into());
                }
            }
            tx.write_all(&out)?;
            out.clear();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_paths() {
        let none = |_: &Path| false;
        let all = |_: &Path| true;
        let f = client_files(Some("/p"), None, &all);
        assert_eq!(f.ca, PathBuf::from("/p/cacert.pem"));
        assert_eq!(f.crl, PathBuf::from("/p/cacrl.pem"));
        assert_eq!(
            f.identity,
            Some(("/p/clientcert.pem".into(), "/p/clientkey.pem".into()))
        );
        // No certificate in the directory: none is sent.
        assert_eq!(client_files(Some("/p"), None, &none).identity, None);
        let f = client_files(None, None, &all);
        assert_eq!(f.ca, PathBuf::from("/etc/pki/CA/cacert.pem"));
        assert_eq!(
            f.identity,
            Some((
                "/etc/pki/libvirt/clientcert.pem".into(),
                "/etc/pki/libvirt/private/clientkey.pem".into()
            ))
        );
        let f = client_files(None, Some(Path::new("/home/u")), &all);
        assert_eq!(f.ca, PathBuf::from("/home/u/.pki/libvirt/cacert.pem"));
        let f = client_files(None, Some(Path::new("/home/u")), &none);
        assert_eq!(f.ca, PathBuf::from("/etc/pki/CA/cacert.pem"));
        assert_eq!(f.identity, None);
    }

    #[test]
    fn missing_ca_is_libvirts_error() {
        let f = client_files(Some("/nonexistent-oxvirt"), None, &|_| false);
        let e = client_config(&f, false).unwrap_err();
        assert_eq!(
            e.message,
            "Cannot read CA certificate '/nonexistent-oxvirt/cacert.pem': No such file or directory"
        );
    }
}
