//! Connection URIs: `driver[+transport]://[user@][host][:port]/path[?k=v&...]`.

use crate::error::{code, from, Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Uri {
    /// The driver part of the scheme: `test`, `qemu`, ...
    pub driver: String,
    /// The transport after `+`: `unix`, `tcp`, `tls`, `ssh`, ...
    pub transport: Option<String>,
    pub user: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// The path, starting with `/` (may be empty).
    pub path: String,
    /// Query parameters in order, percent-decoded.
    pub params: Vec<(String, String)>,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[test]
fn percent_decoding_never_splits_characters() {
    assert_eq!(percent_decode("a%20b"), "a b");
    assert_eq!(percent_decode("%aé"), "%aé");
    assert_eq!(percent_decode("%é1"), "%é1");
}

impl Uri {
    pub fn parse(s: &str) -> Result<Uri> {
        let bad = || {
            Error::new(
                code::INVALID_ARG,
                from::URI,
                format!("Unable to parse URI {}", s),
            )
        };
        let (scheme, rest) = s.split_once(':').ok_or_else(bad)?;
        if scheme.is_empty() {
            return Err(bad());
        }
        let (driver, transport) = match scheme.split_once('+') {
            Some((d, t)) => (d.to_string(), Some(t.to_string())),
            None => (scheme.to_string(), None),
        };
        let mut uri = Uri {
            driver,
            transport,
            ..Default::default()
        };
        let (body, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        if let Some(after) = body.strip_prefix("//") {
            let (auth, path) = match after.find('/') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            };
            uri.path = path.to_string();
            let hostport = match auth.rsplit_once('@') {
                Some((u, h)) => {
                    uri.user = Some(percent_decode(u));
                    h
                }
                None => auth,
            };
            let (host, port) =
                if let Some(end) = hostport.strip_prefix('[').and_then(|h| h.find(']')) {
                    let host = &hostport[1..end + 1];
                    let port = hostport[end + 2..].strip_prefix(':');
                    (host, port)
                } else {
                    match hostport.rsplit_once(':') {
                        Some((h, p)) => (h, Some(p)),
                        None => (hostport, None),
                    }
                };
            if !host.is_empty() {
                uri.host = Some(host.to_string());
            }
            if let Some(p) = port.filter(|p| !p.is_empty()) {
                uri.port = Some(p.parse().map_err(|_| bad())?);
            }
        } else {
            uri.path = body.to_string();
        }
        if let Some(q) = query {
            for kv in q.split(['&', ';']).filter(|kv| !kv.is_empty()) {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                uri.params.push((percent_decode(k), percent_decode(v)));
            }
        }
        Ok(uri)
    }

    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The URI a driver sees: transport and transport-only parameters removed
    /// (what the remote driver sends in CONNECT_OPEN).
    pub fn driver_uri(&self) -> String {
        const TRANSPORT_PARAMS: &[&str] = &[
            "name",
            "command",
            "socket",
            "netcat",
            "keyfile",
            "sshauth",
            "no_verify",
            "no_tty",
            "pkipath",
            "known_hosts",
            "known_hosts_verify",
            "tls_priority",
            "mode",
            "proxy",
            "auth",
            "authfile",
            "no_sanity",
        ];
        let mut s = format!("{}://", self.driver);
        if let Some(u) = &self.user {
            s.push_str(u);
            s.push('@');
        }
        if let Some(h) = &self.host {
            s.push_str(h);
        }
        if let Some(p) = self.port {
            s.push_str(&format!(":{}", p));
        }
        s.push_str(&self.path);
        let rest: Vec<String> = self
            .params
            .iter()
            .filter(|(k, _)| !TRANSPORT_PARAMS.iter().any(|t| t.eq_ignore_ascii_case(k)))
            .map(|(k, v)| format!("{}={}", k, v))
            .collect();
        if !rest.is_empty() {
            s.push('?');
            s.push_str(&rest.join("&"));
        }
        s
    }

    /// True when the URI names a remote transport or host (the remote
    /// client driver handles it).
    pub fn is_remote(&self) -> bool {
        self.transport.is_some() || self.host.is_some() || self.param("socket").is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_libvirt_uris() {
        let u = Uri::parse("test:///default").unwrap();
        assert_eq!((u.driver.as_str(), u.path.as_str()), ("test", "/default"));
        assert!(!u.is_remote());
        let u = Uri::parse("test+unix:///default?socket=/tmp/x%20y").unwrap();
        assert_eq!(u.transport.as_deref(), Some("unix"));
        assert_eq!(u.param("socket"), Some("/tmp/x y"));
        assert_eq!(u.driver_uri(), "test:///default");
        // libvirt's client strips its own parameters, whatever their case.
        let u = Uri::parse("qemu+ssh:///system?KeyFile=/k&auth=sasl&no_sanity=1&x=1").unwrap();
        assert_eq!(u.driver_uri(), "qemu:///system?x=1");
        let u = Uri::parse("qemu+tcp://root@[::1]:16509/system").unwrap();
        assert_eq!(u.host.as_deref(), Some("::1"));
        assert_eq!(u.port, Some(16509));
        assert_eq!(u.user.as_deref(), Some("root"));
        assert!(Uri::parse("nonsense").is_err());
    }
}
