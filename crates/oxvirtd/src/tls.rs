//! The TLS listener's credentials and client checks, as libvirtd does
//! them: the server's certificate and key, a CA (and optionally a CRL)
//! that client certificates must chain to, and `tls_allowed_dn_list`.
//!
//! As with libvirtd (gnutls), the TLS handshake itself only *requests* a
//! client certificate and checks that the client holds its key; the
//! certificate is judged once the handshake is over. A client that passes
//! gets the single byte `1` (inside TLS), which libvirt's client waits
//! for; one that does not is dropped without a word (no close_notify), so
//! virsh reports "Unable to read TLS confirmation: Input/output error"
//! exactly as it does against libvirtd.

use std::ffi::CString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ServerConnection, WebPkiClientVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};

/// Where the server's credentials are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub crl: Option<PathBuf>,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// libvirtd's default credential paths, relocated under a root directory
/// when there is one (`--root DIR` gives `DIR/etc/pki/...`).
pub fn default_files(root: Option<&Path>, privileged: bool, home: Option<&Path>) -> TlsFiles {
    let sys = |p: &str| match root {
        Some(r) => r.join(p.trim_start_matches('/')),
        None => PathBuf::from(p),
    };
    let system = TlsFiles {
        ca: sys("/etc/pki/CA/cacert.pem"),
        crl: Some(sys("/etc/pki/CA/cacrl.pem")),
        cert: sys("/etc/pki/libvirt/servercert.pem"),
        key: sys("/etc/pki/libvirt/private/serverkey.pem"),
    };
    match (root, privileged, home) {
        // An unprivileged libvirtd looks in ~/.pki/libvirt first, file
        // group by file group, then falls back to the system paths.
        (None, false, Some(home)) => {
            let dir = home.join(".pki/libvirt");
            let mut f = system;
            if dir.join("cacert.pem").exists() {
                f.ca = dir.join("cacert.pem");
                f.crl = Some(dir.join("cacrl.pem"));
            }
            if dir.join("servercert.pem").exists() {
                f.cert = dir.join("servercert.pem");
                f.key = dir.join("serverkey.pem");
            }
            f
        }
        _ => system,
    }
}

/// Why the TLS credentials could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("Cannot read {what} '{path}': {err}")]
    Read {
        what: &'static str,
        path: String,
        err: String,
    },
    #[error("Unable to import {what} '{path}': {err}")]
    Parse {
        what: &'static str,
        path: String,
        err: String,
    },
    #[error("{0}")]
    Config(String),
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Read {
        what,
        path: path.display().to_string(),
        err: oxvirt_core::error::strerror(&e),
    })
}

fn parse_err(what: &'static str, path: &Path, err: impl std::fmt::Display) -> TlsError {
    TlsError::Parse {
        what,
        path: path.display().to_string(),
        err: err.to_string(),
    }
}

/// Every PEM certificate in a file (at least one).
fn load_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_file(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| parse_err(what, path, e))?;
    if certs.is_empty() {
        return Err(parse_err(what, path, "no PEM certificate found"));
    }
    Ok(certs)
}

/// The ring provider: builds here without cmake or nasm.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// One loaded set of credentials and client rules.
pub struct TlsContext {
    config: Arc<ServerConfig>,
    /// Judges client certificates once the handshake is over.
    verifier: Arc<dyn ClientCertVerifier>,
    /// tls_no_verify_certificate: any client (or none) is let in.
    no_verify: bool,
    /// tls_allowed_dn_list as fnmatch(3) patterns; None when unset.
    allowed_dn: Option<Vec<CString>>,
}

impl std::fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsContext")
            .field("no_verify", &self.no_verify)
            .field("allowed_dn", &self.allowed_dn)
            .finish()
    }
}

impl TlsContext {
    /// Reads the files and builds the server's TLS configuration.
    pub fn load(
        files: &TlsFiles,
        no_verify: bool,
        allowed_dn: Option<&[String]>,
    ) -> Result<TlsContext, TlsError> {
        let provider = provider();
        let mut roots = RootCertStore::empty();
        for ca in load_certs("CA certificate", &files.ca)? {
            roots
                .add(ca)
                .map_err(|e| parse_err("CA certificate", &files.ca, e))?;
        }
        let mut crls = Vec::new();
        if let Some(crl) = files.crl.as_deref().filter(|p| p.exists()) {
            let pem = read_file("certificate revocation list", crl)?;
            for c in CertificateRevocationListDer::pem_slice_iter(&pem) {
                crls.push(c.map_err(|e| parse_err("certificate revocation list", crl, e))?);
            }
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .with_crls(crls)
                .build()
                .map_err(|e| {
                    TlsError::Config(format!(
                        "Unable to use CA certificate '{}': {}",
                        files.ca.display(),
                        e
                    ))
                })?;
        let chain = load_certs("certificate", &files.cert)?;
        let key_pem = read_file("private key", &files.key)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| parse_err("private key", &files.key, e))?;
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_client_cert_verifier(Arc::new(Deferred {
                inner: verifier.clone(),
            }))
            .with_single_cert(chain, key)
            .map_err(|e| {
                TlsError::Config(format!(
                    "Unable to set x509 key and certificate: {}, {}: {}",
                    files.key.display(),
                    files.cert.display(),
                    e
                ))
            })?;
        let mut config = config;
        // No session tickets: after the handshake libvirt's client reads
        // exactly one record, the confirmation byte; a ticket arriving
        // first makes it fail with EAGAIN. libvirtd resumes no sessions
        // either.
        config.send_tls13_tickets = 0;
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        let allowed_dn = allowed_dn.map(|pats| {
            pats.iter()
                .filter_map(|p| CString::new(p.as_bytes()).ok())
                .collect()
        });
        Ok(TlsContext {
            config: Arc::new(config),
            verifier,
            no_verify,
            allowed_dn,
        })
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }

    /// libvirtd's post-handshake check of the client: a certificate that
    /// chains to the CA (and is not revoked or expired), whose DN matches
    /// tls_allowed_dn_list when that is set. The error is the reason, for
    /// the log; the client itself is told nothing.
    /// On success, the client certificate's DN when it has one (the
    /// identity access control and virt-admin's client-info see).
    pub fn check_client(&self, conn: &ServerConnection) -> Result<Option<String>, String> {
        let certs = conn.peer_certificates().unwrap_or(&[]);
        let dn = certs.first().and_then(|c| distinguished_name(c));
        match self.judge(certs) {
            Err(why) if self.no_verify => {
                tracing::warn!("{}; ignoring bad certificate at user request", why);
                Ok(dn)
            }
            r => r.map(|()| dn),
        }
    }

    fn judge(&self, certs: &[CertificateDer<'_>]) -> Result<(), String> {
        let Some((ee, intermediates)) = certs.split_first() else {
            return Err("Unable to verify TLS peer: No certificate was found.".into());
        };
        self.verifier
            .verify_client_cert(ee, intermediates, UnixTime::now())
            .map_err(|e| format!("Certificate failed validation: {}", cert_reason(&e)))?;
        let dn = distinguished_name(ee)
            .ok_or_else(|| "Failed to get certificate distinguished name".to_string())?;
        tracing::debug!("Peer DN is {}", dn);
        if let Some(patterns) = &self.allowed_dn {
            if !dn_allowed(&dn, patterns) {
                tracing::info!("Failed ACL check for client DN '{}'", dn);
                return Err(
                    "Client's Distinguished Name is not on the list of allowed clients \
                            (tls_allowed_dn_list).  Use 'virt-pki-query-dn clientcert.pem' to \
                            view the Distinguished Name field in the client certificate, or run \
                            this daemon with --verbose option."
                        .into(),
                );
            }
        }
        Ok(())
    }
}

/// gnutls' wording for the common verification failures.
fn cert_reason(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "The certificate hasn't got a known issuer.".into(),
            C::Revoked => "The certificate has been revoked.".into(),
            C::Expired | C::ExpiredContext { .. } => "The certificate has expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "The certificate is not yet activated".into()
            }
            other => format!("The certificate is not trusted. ({:?})", other),
        },
        other => other.to_string(),
    }
}

/// True when `dn` matches one of the fnmatch(3) patterns (flags 0, as
/// libvirtd matches tls_allowed_dn_list).
pub fn dn_allowed(dn: &str, patterns: &[CString]) -> bool {
    let Ok(name) = CString::new(dn) else {
        return false;
    };
    patterns.iter().any(|p| {
        // SAFETY: both are valid NUL-terminated strings that outlive the call.
        unsafe { libc::fnmatch(p.as_ptr(), name.as_ptr(), 0) == 0 }
    })
}

/// A certificate's subject DN as gnutls prints it (and so as
/// tls_allowed_dn_list and virt-pki-query-dn spell it): the RDNs in
/// certificate order, joined by ',', multi-valued ones by '+', values
/// escaped as RFC 4514 says, unknown types as `OID=#hex`.
pub fn distinguished_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut out = String::new();
    for (i, rdn) in cert.subject().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, atv) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let oid = atv.attr_type().to_id_string();
            let value = atv.attr_value();
            let info = attr_info(&oid);
            match info.and_then(|(name, syntax)| Some((name, string_value(syntax, value)?))) {
                Some((name, v)) => {
                    out.push_str(name);
                    out.push('=');
                    escape_into(&mut out, &v);
                }
                None => {
                    out.push_str(info.map_or(oid.as_str(), |(name, _)| name));
                    out.push('=');
                    out.push_str(&hex_of("#", &der_of(value)));
                }
            }
        }
    }
    Some(out)
}

/// What gnutls accepts in an attribute's value.
#[derive(Clone, Copy)]
enum Syntax {
    /// PrintableString only.
    Printable,
    /// IA5String only.
    Ia5,
    /// X.520 DirectoryString: UTF8, Printable, Teletex, BMP or Universal.
    Directory,
}

/// gnutls' short names (and value syntax) for attribute types; other
/// types print as their OID with the value in hex.
fn attr_info(oid: &str) -> Option<(&'static str, Syntax)> {
    use Syntax::*;
    Some(match oid {
        "2.5.4.3" => ("CN", Directory),
        "2.5.4.4" => ("surName", Directory),
        "2.5.4.5" => ("serialNumber", Printable),
        "2.5.4.6" => ("C", Printable),
        "2.5.4.7" => ("L", Directory),
        "2.5.4.8" => ("ST", Directory),
        "2.5.4.9" => ("street", Directory),
        "2.5.4.10" => ("O", Directory),
        "2.5.4.11" => ("OU", Directory),
        "2.5.4.12" => ("title", Directory),
        "2.5.4.13" => ("description", Directory),
        "2.5.4.15" => ("businessCategory", Directory),
        "2.5.4.17" => ("postalCode", Directory),
        "2.5.4.20" => ("telephoneNumber", Printable),
        "2.5.4.41" => ("name", Directory),
        "2.5.4.42" => ("givenName", Directory),
        "2.5.4.43" => ("initials", Directory),
        "2.5.4.44" => ("generationQualifier", Directory),
        "2.5.4.46" => ("dnQualifier", Printable),
        "2.5.4.65" => ("pseudonym", Directory),
        "0.9.2342.19200300.100.1.1" => ("UID", Directory),
        "0.9.2342.19200300.100.1.25" => ("DC", Ia5),
        "1.2.840.113549.1.9.1" => ("EMAIL", Ia5),
        "1.3.6.1.5.5.7.9.2" => ("placeOfBirth", Directory),
        "1.3.6.1.5.5.7.9.3" => ("gender", Printable),
        "1.3.6.1.5.5.7.9.4" => ("countryOfCitizenship", Printable),
        "1.3.6.1.5.5.7.9.5" => ("countryOfResidence", Printable),
        _ => return None,
    })
}

fn hex_of(prefix: &str, bytes: &[u8]) -> String {
    let mut s = String::from(prefix);
    for b in bytes {
        let _ = write!(s, "{:02x}", b);
    }
    s
}

/// The text gnutls shows for a value of a known type (escaped later);
/// None when the value is not of the type's syntax (then the whole
/// value prints in hex).
fn string_value(syntax: Syntax, v: &x509_parser::asn1_rs::Any<'_>) -> Option<String> {
    use x509_parser::asn1_rs::Tag;
    let data = v.data;
    let text = |d: &[u8]| std::str::from_utf8(d).ok().map(str::to_string);
    let s = match (syntax, v.tag()) {
        (Syntax::Printable, Tag::PrintableString) | (Syntax::Ia5, Tag::Ia5String) => text(data)?,
        (Syntax::Directory, Tag::Utf8String | Tag::PrintableString) => text(data)?,
        // ASCII-only T.61 is shown as text, anything else in hex.
        (Syntax::Directory, Tag::TeletexString) if data.is_ascii() => text(data)?,
        (Syntax::Directory, Tag::TeletexString | Tag::UniversalString) => hex_of("#", data),
        (Syntax::Directory, Tag::BmpString) => {
            let units: Vec<u16> = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            match String::from_utf16(&units) {
                Ok(s) if data.len().is_multiple_of(2) => s,
                _ => hex_of("#", data),
            }
        }
        _ => return None,
    };
    // Values with NULs are refused, and shown in hex.
    (!s.contains('\0')).then_some(s)
}

/// The DER encoding of a (primitive, universal) value, for `#hex`.
fn der_of(v: &x509_parser::asn1_rs::Any<'_>) -> Vec<u8> {
    let mut out = vec![(v.tag().0 & 0x1f) as u8];
    let n = v.data.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(v.data);
    out
}

/// RFC 4514 escaping of one attribute value.
fn escape_into(out: &mut String, v: &str) {
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == ' ' || c == '#'))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Accepts any client certificate during the handshake (only the proof
/// that the client holds its key is checked there), leaving the verdict
/// to [`TlsContext::check_client`] as libvirtd does.
#[derive(Debug)]
struct Deferred {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for Deferred {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The TLS settings in force, replaceable on SIGHUP (new connections use
/// the new ones; a set that does not load leaves the old one in force).
pub struct TlsState {
    current: Mutex<Arc<TlsContext>>,
}

impl TlsState {
    pub fn new(ctx: TlsContext) -> TlsState {
        TlsState {
            current: Mutex::new(Arc::new(ctx)),
        }
    }

    pub fn current(&self) -> Arc<TlsContext> {
        crate::server::lock(&self.current).clone()
    }

    pub fn replace(&self, ctx: TlsContext) {
        *crate::server::lock(&self.current) = Arc::new(ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our DN of a certificate with `dn`, checked against libvirt's own
    /// tool (gnutls) when it is installed.
    fn dn_of(dn: rcgen::DistinguishedName) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name = dn;
        let cert = p.self_signed(&key).unwrap();
        let ours = distinguished_name(cert.der()).unwrap();
        let tool = Path::new("/usr/bin/virt-pki-query-dn");
        if tool.exists() {
            let f = std::env::temp_dir().join(format!(
                "oxvirt-dn-{}-{:?}.pem",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::write(&f, cert.pem()).unwrap();
            let o = std::process::Command::new(tool).arg(&f).output().unwrap();
            let _ = std::fs::remove_file(&f);
            assert_eq!(
                ours,
                String::from_utf8_lossy(&o.stdout).trim_end(),
                "vs gnutls"
            );
        }
        ours
    }

    #[test]
    fn dn_as_gnutls_prints_it() {
        use rcgen::DnType;
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(
            DnType::CountryName,
            rcgen::DnValue::PrintableString("GB".try_into().unwrap()),
        );
        dn.push(DnType::StateOrProvinceName, "London");
        dn.push(DnType::LocalityName, "London");
        dn.push(DnType::OrganizationName, "Red Hat, Inc.");
        dn.push(DnType::OrganizationalUnitName, "a+b");
        dn.push(DnType::CommonName, " lead#\"q\"<x>;");
        dn.push(
            DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            rcgen::DnValue::Ia5String("a@b.c".try_into().unwrap()),
        );
        let got = dn_of(dn);
        assert_eq!(
            got,
            "C=GB,ST=London,L=London,O=Red Hat\\, Inc.,OU=a\\+b,CN=\\ lead#\\\"q\\\"\\<x\\>\\;,EMAIL=a@b.c"
        );
    }

    #[test]
    fn dn_values_outside_their_syntax_print_in_hex() {
        use rcgen::DnType;
        // rcgen writes a UTF8String country; gnutls (virt-pki-query-dn)
        // prints it as C=#0c024742.
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(DnType::CountryName, "GB");
        dn.push(DnType::CustomDnType(vec![1, 2, 3, 4]), "x");
        dn.push(
            DnType::CommonName,
            rcgen::DnValue::BmpString("é".try_into().unwrap()),
        );
        dn.push(
            DnType::OrganizationalUnitName,
            rcgen::DnValue::UniversalString("u".try_into().unwrap()),
        );
        dn.push(
            DnType::OrganizationName,
            rcgen::DnValue::TeletexString("t61".try_into().unwrap()),
        );
        let got = dn_of(dn);
        assert_eq!(got, "C=#0c024742,1.2.3.4=#0c0178,CN=é,OU=\\#00000075,O=t61");
    }

    #[test]
    fn allowed_dn_patterns_are_fnmatch_globs() {
        let pats: Vec<CString> = ["C=GB,ST=London,L=London,O=Red Hat,CN=*", "O=x,CN=h?st"]
            .iter()
            .map(|s| CString::new(*s).unwrap())
            .collect();
        assert!(dn_allowed(
            "C=GB,ST=London,L=London,O=Red Hat,CN=client1",
            &pats
        ));
        assert!(dn_allowed("O=x,CN=host", &pats));
        assert!(!dn_allowed("O=x,CN=hoost", &pats));
        assert!(!dn_allowed("C=GB,O=Red Hat,CN=client1", &pats));
        assert!(!dn_allowed("O=x,CN=h\0st", &pats));
    }

    #[test]
    fn default_paths() {
        let f = default_files(Some(Path::new("/r")), true, None);
        assert_eq!(f.ca, PathBuf::from("/r/etc/pki/CA/cacert.pem"));
        assert_eq!(f.cert, PathBuf::from("/r/etc/pki/libvirt/servercert.pem"));
        assert_eq!(
            f.key,
            PathBuf::from("/r/etc/pki/libvirt/private/serverkey.pem")
        );
        let f = default_files(None, true, None);
        assert_eq!(f.ca, PathBuf::from("/etc/pki/CA/cacert.pem"));
        assert_eq!(f.crl, Some(PathBuf::from("/etc/pki/CA/cacrl.pem")));
    }

    #[test]
    fn missing_files_say_which() {
        let f = default_files(Some(Path::new("/nonexistent-oxvirt")), true, None);
        let e = TlsContext::load(&f, false, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Cannot read CA certificate '/nonexistent-oxvirt/etc/pki/CA/cacert.pem': No such file or directory"
        );
    }
}
