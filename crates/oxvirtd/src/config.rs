//! The daemon's configuration file, in libvirtd.conf's syntax and with its
//! keys where they apply: `key = value` lines, values being integers,
//! quoted strings or `[ "lists", "of", "strings" ]`, `#` comments.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Str(String),
    List(Vec<String>),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{file}:{line}: {msg}")]
    Syntax {
        file: String,
        line: usize,
        msg: String,
    },
    #[error("{file}: key '{key}' expects {expected}")]
    Type {
        file: String,
        key: String,
        expected: &'static str,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read configuration file {file}: {err}")]
    Read { file: String, err: String },
    #[error(transparent)]
    Parse(#[from] ConfigError),
}

/// Settings with libvirtd's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub max_clients: usize,
    pub max_anonymous_clients: usize,
    pub min_workers: usize,
    pub max_workers: usize,
    pub max_client_requests: usize,
    pub keepalive_interval: i64,
    pub keepalive_count: u32,
    pub unix_sock_rw_perms: u32,
    pub unix_sock_ro_perms: u32,
    pub unix_sock_admin_perms: u32,
    pub unix_sock_group: Option<String>,
    pub unix_sock_dir: Option<String>,
    /// None: not set (then `--listen` alone turns TCP on).
    pub listen_tcp: Option<bool>,
    pub tcp_port: u16,
    pub listen_addr: String,
    pub auth_tcp: String,
    /// oxvirt's opt-in to libvirtd's meaning of auth_tcp "none": TCP
    /// clients from other hosts are served too (hosts that migrate to
    /// each other over a trusted network). Off: loopback only.
    pub tcp_remote_unauthenticated: bool,
    /// None: not set (then `--listen` turns TLS on when its credentials
    /// are readable; see main.rs).
    pub listen_tls: Option<bool>,
    pub tls_port: u16,
    pub auth_tls: String,
    /// key_file, cert_file, ca_file, crl_file: None means libvirtd's
    /// default path (all three of key, cert and CA, or none, are set).
    pub key_file: Option<String>,
    pub cert_file: Option<String>,
    pub ca_file: Option<String>,
    pub crl_file: Option<String>,
    pub tls_no_verify_certificate: bool,
    /// None: any client with a valid certificate.
    pub tls_allowed_dn_list: Option<Vec<String>>,
    pub log_level: Option<i64>,
    pub log_filters: Option<String>,
    pub log_outputs: Option<String>,
    /// The access rules (acl.rs); access control is off without them.
    pub access_rules_file: Option<String>,
    /// The JSON-lines audit log of calls that change something.
    pub access_audit_file: Option<String>,
    pub admin_min_workers: usize,
    pub admin_max_workers: usize,
    pub admin_max_clients: usize,
    pub admin_max_client_requests: usize,
    /// libvirtd.conf's host_uuid, and qemu.conf's migration_host,
    /// migration_address, migration_port_min and migration_port_max.
    pub migration: oxvirt_core::host::MigrationSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_clients: 5000,
            max_anonymous_clients: 20,
            min_workers: 5,
            max_workers: 20,
            max_client_requests: 5,
            keepalive_interval: 5,
            keepalive_count: 5,
            unix_sock_rw_perms: 0o700,
            unix_sock_ro_perms: 0o777,
            unix_sock_admin_perms: 0o700,
            unix_sock_group: None,
            unix_sock_dir: None,
            listen_tcp: None,
            tcp_port: 16509,
            listen_addr: "127.0.0.1".into(),
            auth_tcp: "none".into(),
            tcp_remote_unauthenticated: false,
            listen_tls: None,
            tls_port: 16514,
            auth_tls: "none".into(),
            key_file: None,
            cert_file: None,
            ca_file: None,
            crl_file: None,
            tls_no_verify_certificate: false,
            tls_allowed_dn_list: None,
            log_level: None,
            log_filters: None,
            log_outputs: None,
            access_rules_file: None,
            access_audit_file: None,
            admin_min_workers: 5,
            admin_max_workers: 20,
            admin_max_clients: 5000,
            admin_max_client_requests: 5,
            migration: Default::default(),
        }
    }
}

/// Parses the key/value syntax.
pub fn parse_entries(text: &str, file: &str) -> Result<BTreeMap<String, Value>, ConfigError> {
    let mut out = BTreeMap::new();
    let err = |line: usize, msg: &str| ConfigError::Syntax {
        file: file.to_string(),
        line,
        msg: msg.to_string(),
    };
    let mut lines = text.lines().enumerate().peekable();
    while let Some((n, raw)) = lines.next() {
        let line = strip_comment(raw).trim().to_string();
        if line.is_empty() {
            continue;
        }
        let (key, rest) = line
            .split_once('=')
            .ok_or_else(|| err(n + 1, "expecting an assignment"))?;
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err(n + 1, "expecting a name"));
        }
        let mut value = rest.trim().to_string();
        // A list may span lines until its closing bracket.
        if value.starts_with('[') {
            while !closes_list(&value) {
                match lines.next() {
                    Some((_, more)) => {
                        value.push(' ');
                        value.push_str(strip_comment(more).trim());
                    }
                    None => return Err(err(n + 1, "expecting a separator in list")),
                }
            }
        }
        out.insert(
            key.to_string(),
            parse_value(&value).ok_or_else(|| err(n + 1, "expecting a value"))?,
        );
    }
    Ok(out)
}

/// True when a list value has its closing bracket (outside a string).
fn closes_list(v: &str) -> bool {
    let mut in_str = false;
    for c in v.chars() {
        match c {
            '"' => in_str = !in_str,
            ']' if !in_str => return true,
            _ => {}
        }
    }
    false
}

fn strip_comment(line: &str) -> &str {
    let mut in_str = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_str = !in_str,
            '#' if !in_str => return &line[..i],
            _ => {}
        }
    }
    line
}

fn parse_string(s: &str) -> Option<String> {
    let s = s.trim();
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('"') {
        return None;
    }
    Some(inner.to_string())
}

fn parse_value(v: &str) -> Option<Value> {
    let v = v.trim();
    if let Some(body) = v.strip_prefix('[') {
        let body = body.strip_suffix(']')?.trim();
        if body.is_empty() {
            return Some(Value::List(Vec::new()));
        }
        // Split at the commas between strings, not those inside them
        // (a DN pattern is full of commas).
        let mut items = Vec::new();
        let mut rest = body;
        loop {
            let r = rest.trim_start().strip_prefix('"')?;
            let end = r.find('"')?;
            items.push(r[..end].to_string());
            rest = r[end + 1..].trim_start();
            if rest.is_empty() {
                break;
            }
            rest = rest.strip_prefix(',')?;
            if rest.trim().is_empty() {
                break;
            }
        }
        return Some(Value::List(items));
    }
    if v.starts_with('"') {
        return parse_string(v).map(Value::Str);
    }
    v.parse::<i64>().ok().map(Value::Int)
}

impl Config {
    /// Reads a configuration file.
    pub fn load(path: &std::path::Path) -> Result<Config, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError::Read {
            file: path.display().to_string(),
            err: e.to_string(),
        })?;
        Ok(Config::from_text(&text, &path.display().to_string())?)
    }

    /// Builds the configuration from a file's text.
    pub fn from_text(text: &str, file: &str) -> Result<Config, ConfigError> {
        let entries = parse_entries(text, file)?;
        let mut c = Config::default();
        let int = |k: &str| -> Result<Option<i64>, ConfigError> {
            match entries.get(k) {
                None => Ok(None),
                Some(Value::Int(i)) => Ok(Some(*i)),
                Some(_) => Err(ConfigError::Type {
                    file: file.into(),
                    key: k.into(),
                    expected: "an integer",
                }),
            }
        };
        let string = |k: &str| -> Result<Option<String>, ConfigError> {
            match entries.get(k) {
                None => Ok(None),
                Some(Value::Str(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ConfigError::Type {
                    file: file.into(),
                    key: k.into(),
                    expected: "a string",
                }),
            }
        };
        let count = |k: &str, v: i64| -> Result<usize, ConfigError> {
            usize::try_from(v).map_err(|_| ConfigError::Type {
                file: file.into(),
                key: k.into(),
                expected: "a non-negative integer",
            })
        };
        if let Some(v) = int("max_clients")? {
            c.max_clients = count("max_clients", v)?;
        }
        if let Some(v) = int("max_anonymous_clients")? {
            c.max_anonymous_clients = count("max_anonymous_clients", v)?;
        }
        for (key, slot, floor) in [
            ("min_workers", &mut c.min_workers, 0),
            ("max_workers", &mut c.max_workers, 1),
            ("max_client_requests", &mut c.max_client_requests, 1),
            ("admin_min_workers", &mut c.admin_min_workers, 0),
            ("admin_max_workers", &mut c.admin_max_workers, 1),
            ("admin_max_clients", &mut c.admin_max_clients, 0),
            (
                "admin_max_client_requests",
                &mut c.admin_max_client_requests,
                1,
            ),
        ] {
            if let Some(v) = int(key)? {
                *slot = count(key, v)?.max(floor);
            }
        }
        if let Some(v) = int("keepalive_interval")? {
            c.keepalive_interval = v;
        }
        if let Some(v) = int("keepalive_count")? {
            c.keepalive_count = u32::try_from(v).unwrap_or(0);
        }
        for (key, slot) in [
            ("unix_sock_rw_perms", &mut c.unix_sock_rw_perms),
            ("unix_sock_ro_perms", &mut c.unix_sock_ro_perms),
            ("unix_sock_admin_perms", &mut c.unix_sock_admin_perms),
        ] {
            if let Some(s) = string(key)? {
                *slot = u32::from_str_radix(s.trim_start_matches('0'), 8)
                    .or_else(|e| {
                        if s.chars().all(|c| c == '0') {
                            Ok(0)
                        } else {
                            Err(e)
                        }
                    })
                    .map_err(|_| ConfigError::Type {
                        file: file.into(),
                        key: key.into(),
                        expected: "an octal permission string",
                    })?;
            }
        }
        c.unix_sock_group = string("unix_sock_group")?;
        c.unix_sock_dir = string("unix_sock_dir")?;
        if let Some(v) = int("listen_tcp")? {
            c.listen_tcp = Some(v != 0);
        }
        for (key, slot) in [("tcp_port", &mut c.tcp_port), ("tls_port", &mut c.tls_port)] {
            if let Some(p) = string(key)? {
                *slot = p.parse().map_err(|_| ConfigError::Type {
                    file: file.into(),
                    key: key.into(),
                    expected: "a port number",
                })?;
            }
        }
        if let Some(v) = int("listen_tls")? {
            c.listen_tls = Some(v != 0);
        }
        if let Some(a) = string("auth_tls")? {
            c.auth_tls = a;
        }
        // An empty path is libvirtd's "not set".
        let path = |k: &str| -> Result<Option<String>, ConfigError> {
            Ok(string(k)?.filter(|s| !s.is_empty()))
        };
        c.key_file = path("key_file")?;
        c.cert_file = path("cert_file")?;
        c.ca_file = path("ca_file")?;
        c.crl_file = path("crl_file")?;
        if let Some(v) = int("tls_no_verify_certificate")? {
            c.tls_no_verify_certificate = v != 0;
        }
        c.tls_allowed_dn_list = match entries.get("tls_allowed_dn_list") {
            None => None,
            Some(Value::List(l)) => Some(l.clone()),
            Some(_) => {
                return Err(ConfigError::Type {
                    file: file.into(),
                    key: "tls_allowed_dn_list".into(),
                    expected: "a list of strings",
                })
            }
        };
        if let Some(a) = string("listen_addr")? {
            c.listen_addr = a;
        }
        if let Some(a) = string("auth_tcp")? {
            c.auth_tcp = a;
        }
        if let Some(v) = int("tcp_remote_unauthenticated")? {
            c.tcp_remote_unauthenticated = v != 0;
        }
        c.log_level = int("log_level")?;
        if let Some(l) = c.log_level {
            if !(1..=4).contains(&l) {
                return Err(ConfigError::Type {
                    file: file.into(),
                    key: "log_level".into(),
                    expected: "a level from 1 (debug) to 4 (error)",
                });
            }
        }
        for (key, v) in [("auth_tcp", &c.auth_tcp), ("auth_tls", &c.auth_tls)] {
            if v != "none" {
                return Err(ConfigError::Type {
                    file: file.into(),
                    key: key.into(),
                    expected: "\"none\" (the only scheme oxvirtd offers)",
                });
            }
        }
        c.log_filters = string("log_filters")?;
        c.log_outputs = string("log_outputs")?;
        if let Some(u) = string("host_uuid")? {
            let parsed = oxvirt_core::types::Uuid::parse(&u).filter(|u| {
                // libvirt refuses a UUID of one repeated digit.
                !u.0.iter().all(|b| *b == u.0[0])
            });
            c.migration.host_uuid = Some(parsed.ok_or_else(|| ConfigError::Type {
                file: file.into(),
                key: "host_uuid".into(),
                expected: "a UUID that is not all one digit",
            })?);
        }
        c.migration.host = string("migration_host")?.filter(|s| !s.is_empty());
        c.migration.address = string("migration_address")?.filter(|s| !s.is_empty());
        for (key, slot) in [
            ("migration_port_min", &mut c.migration.port_min),
            ("migration_port_max", &mut c.migration.port_max),
        ] {
            if let Some(v) = int(key)? {
                *slot =
                    u16::try_from(v)
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| ConfigError::Type {
                            file: file.into(),
                            key: key.into(),
                            expected: "a port number",
                        })?;
            }
        }
        if c.migration.port_min > c.migration.port_max {
            return Err(ConfigError::Type {
                file: file.into(),
                key: "migration_port_max".into(),
                expected: "a port not below migration_port_min",
            });
        }
        c.access_rules_file = path("access_rules_file")?;
        c.access_audit_file = path("access_audit_file")?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_libvirtd_conf_syntax() {
        let text = "# comment\nmax_clients = 10\nunix_sock_rw_perms = \"0770\"\n\
                    listen_tcp = 1 # trailing\naccess_drivers = [ \"polkit\",\n \"x\" ]\nkeepalive_count = 3\n";
        let c = Config::from_text(text, "t.conf").unwrap();
        assert_eq!(c.max_clients, 10);
        assert_eq!(c.unix_sock_rw_perms, 0o770);
        assert_eq!(c.listen_tcp, Some(true));
        assert_eq!(c.keepalive_count, 3);
        let e = parse_entries("max_clients 10\n", "t.conf").unwrap_err();
        assert_eq!(e.to_string(), "t.conf:1: expecting an assignment");
        let e = Config::from_text("max_clients = \"x\"\n", "t.conf").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.conf: key 'max_clients' expects an integer"
        );
    }

    #[test]
    fn tls_keys() {
        let c = Config::default();
        assert_eq!((c.listen_tls, c.tls_port), (None, 16514));
        let text = "listen_tls = 1\ntls_port = \"1234\"\nca_file = \"/ca.pem\"\n\
                    crl_file = \"\"\ntls_no_verify_certificate = 1\n\
                    tls_allowed_dn_list = [\"C=GB,CN=*\",\n  \"O=x,CN=[y]\" ]\n";
        let c = Config::from_text(text, "t.conf").unwrap();
        assert_eq!((c.listen_tls, c.tls_port), (Some(true), 1234));
        assert_eq!(c.ca_file.as_deref(), Some("/ca.pem"));
        assert_eq!(c.crl_file, None);
        assert!(c.tls_no_verify_certificate);
        assert_eq!(
            c.tls_allowed_dn_list,
            Some(vec!["C=GB,CN=*".to_string(), "O=x,CN=[y]".to_string()])
        );
        let e = Config::from_text("auth_tls = \"sasl\"\n", "t.conf").unwrap_err();
        assert!(e.to_string().contains("auth_tls"), "{}", e);
    }
}
