//! Access rules: who may call which of libvirt's permissions on which
//! objects, from a rules file (`access_rules_file` in the configuration),
//! checked for every API of every client through oxvirt-core's access
//! layer; and the audit log of the calls that change something
//! (`access_audit_file`, JSON lines).
//!
//! The rules file is TOML, a list of `[[rule]]` tables:
//!
//! ```toml
//! [[rule]]
//! user = "alice"                 # and/or: uid, group, gid, sasl, dn (a glob)
//! permissions = ["connect.*", "domain.getattr", "domain.read", "domain.start"]
//! objects = ["web*"]             # optional: name globs of the objects
//! uuids = ["c7a5fdbd-..."]       # optional: UUIDs of the objects
//! ```
//!
//! A permission is libvirt's `object.permission` (`domain.start`,
//! `storage_pool.getattr`), with `*` globs (`domain.*`, `*`). A rule
//! applies to a client when every identity key it has matches (a rule
//! with none applies to everyone); `objects`/`uuids` narrow it to those
//! objects (the connection itself always matches). A permission no rule
//! grants is denied.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use oxvirt_core::access::{Access, Object};
use oxvirt_core::Result;

use crate::clients::Identity;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rule {
    pub user: Option<String>,
    pub uid: Option<u32>,
    pub group: Option<String>,
    pub gid: Option<u32>,
    pub sasl: Option<String>,
    pub dn: Option<String>,
    pub permissions: Vec<String>,
    pub objects: Vec<String>,
    pub uuids: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

/// Shell-style glob: `*` any run, `?` one character.
pub fn glob(pat: &str, s: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

enum Val {
    Str(String),
    Int(i64),
    List(Vec<String>),
}

fn parse_str(s: &str) -> Option<(String, &str)> {
    let s = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut it = s.char_indices();
    while let Some((i, c)) = it.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match it.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                c @ ('"' | '\\') => out.push(c),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

fn parse_val(v: &str) -> Option<Val> {
    let v = v.trim();
    if v.starts_with('"') {
        let (s, rest) = parse_str(v)?;
        return rest.trim().is_empty().then_some(Val::Str(s));
    }
    if let Some(mut rest) = v.strip_prefix('[') {
        let mut items = Vec::new();
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix(']') {
                return r.trim().is_empty().then_some(Val::List(items));
            }
            let (s, r) = parse_str(rest)?;
            items.push(s);
            rest = r.trim_start();
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    v.parse().ok().map(Val::Int)
}

/// Strips a `#` comment outside strings.
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let mut esc = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if quoted && !esc => {
                esc = true;
                continue;
            }
            '"' if !esc => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
        esc = false;
    }
    line
}

impl Rules {
    /// Parses a rules file; errors name the line.
    pub fn parse(text: &str, file: &str) -> std::result::Result<Rules, String> {
        let mut rules: Vec<Rule> = Vec::new();
        let mut lines = text.lines().enumerate();
        while let Some((n, raw)) = lines.next() {
            let err = |m: &str| format!("{}:{}: {}", file, n + 1, m);
            let line = strip_comment(raw).trim();
            if line.is_empty() {
                continue;
            }
            if line == "[[rule]]" {
                rules.push(Rule::default());
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return Err(err("expecting [[rule]] or key = value"));
            };
            let (k, mut v) = (k.trim().to_string(), v.trim().to_string());
            // A list may go on over lines until its bracket closes.
            while v.starts_with('[') && !v.trim_end().ends_with(']') {
                let Some((_, more)) = lines.next() else {
                    return Err(err("unterminated list"));
                };
                v.push(' ');
                v.push_str(strip_comment(more).trim());
            }
            let Some(rule) = rules.last_mut() else {
                return Err(err("key outside a [[rule]] table"));
            };
            let val = parse_val(&v).ok_or_else(|| err("bad value"))?;
            let s = |v: Val| match v {
                Val::Str(s) => Ok(s),
                _ => Err(err(&format!("'{}' expects a string", k))),
            };
            let id = |v: Val| match v {
                Val::Int(i) => u32::try_from(i).map_err(|_| err(&format!("'{}' out of range", k))),
                _ => Err(err(&format!("'{}' expects an integer", k))),
            };
            let l = |v: Val| match v {
                Val::List(l) => Ok(l),
                _ => Err(err(&format!("'{}' expects a list of strings", k))),
            };
            match k.as_str() {
                "user" => rule.user = Some(s(val)?),
                "group" => rule.group = Some(s(val)?),
                "sasl" => rule.sasl = Some(s(val)?),
                "dn" => rule.dn = Some(s(val)?),
                "uid" => rule.uid = Some(id(val)?),
                "gid" => rule.gid = Some(id(val)?),
                "permissions" => {
                    let p = l(val)?;
                    for x in &p {
                        let ok = x == "*"
                            || x.split_once('.').is_some_and(|(o, q)| {
                                !o.is_empty()
                                    && !q.is_empty()
                                    && x.chars()
                                        .all(|c| c.is_ascii_lowercase() || "._*?".contains(c))
                            });
                        if !ok {
                            return Err(err(&format!(
                                "'{}' is not a permission (object.permission)",
                                x
                            )));
                        }
                    }
                    rule.permissions = p
                }
                "objects" => rule.objects = l(val)?,
                "uuids" => rule.uuids = l(val)?,
                _ => return Err(err(&format!("unknown key '{}'", k))),
            }
        }
        for (i, r) in rules.iter().enumerate() {
            if r.permissions.is_empty() {
                return Err(format!("{}: rule {} grants no permissions", file, i + 1));
            }
        }
        Ok(Rules { rules })
    }

    pub fn load(path: &Path) -> std::result::Result<Rules, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {}", path.display(), e))?;
        Rules::parse(&text, &path.display().to_string())
    }
}

/// A client as the rules see it: its identity and unix groups.
#[derive(Debug, Clone, Default)]
pub struct Who {
    pub identity: Identity,
    pub groups: Vec<(u32, Option<String>)>,
}

impl Who {
    pub fn new(identity: Identity) -> Who {
        let groups = match (&identity.user_name, identity.gid) {
            (Some(u), Some(g)) => crate::clients::user_groups(u, g),
            (None, Some(g)) => vec![(g, identity.group_name.clone())],
            _ => Vec::new(),
        };
        Who { identity, groups }
    }
}

impl Rule {
    fn applies_to(&self, w: &Who) -> bool {
        let id = &w.identity;
        self.user
            .as_ref()
            .is_none_or(|u| id.user_name.as_ref() == Some(u))
            && self.uid.is_none_or(|u| id.uid == Some(u))
            && self
                .gid
                .is_none_or(|g| w.groups.iter().any(|(x, _)| *x == g))
            && self
                .group
                .as_ref()
                .is_none_or(|g| w.groups.iter().any(|(_, n)| n.as_ref() == Some(g)))
            && self
                .sasl
                .as_ref()
                .is_none_or(|s| id.sasl_user.as_ref() == Some(s))
            && self
                .dn
                .as_ref()
                .is_none_or(|d| id.x509_dname.as_ref().is_some_and(|x| glob(d, x)))
    }

    fn grants(&self, perm: &str, obj: &Object) -> bool {
        if !self.permissions.iter().any(|p| glob(p, perm)) {
            return false;
        }
        if obj.kind == "connect" {
            return true;
        }
        let by_name = self.objects.is_empty()
            || obj
                .name
                .as_ref()
                .is_some_and(|n| self.objects.iter().any(|g| glob(g, n)));
        let by_uuid = self.uuids.is_empty()
            || obj.uuid.as_ref().is_some_and(|u| {
                self.uuids
                    .iter()
                    .any(|x| oxvirt_core::Uuid::parse(x).is_some_and(|x| x.to_string() == *u))
            });
        by_name && by_uuid
    }
}

/// The rules in force (replaced on SIGHUP) and the audit log.
pub struct Policy {
    pub rules: RwLock<Arc<Rules>>,
    audit: Option<Mutex<std::fs::File>>,
}

impl Policy {
    pub fn new(rules: Rules, audit: Option<&Path>) -> std::io::Result<Policy> {
        let audit = match audit {
            Some(p) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            )),
            None => None,
        };
        Ok(Policy {
            rules: RwLock::new(Arc::new(rules)),
            audit,
        })
    }

    pub fn replace(&self, rules: Rules) {
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(rules);
    }

    fn current(&self) -> Arc<Rules> {
        self.rules.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// One client's access checker.
pub struct ClientAccess {
    pub policy: Arc<Policy>,
    pub who: Who,
    pub client: u64,
    pub driver: String,
}

impl Access for ClientAccess {
    fn allowed(&self, perm: &str, obj: &Object) -> bool {
        let rules = self.policy.current();
        let ok = rules
            .rules
            .iter()
            .any(|r| r.applies_to(&self.who) && r.grants(perm, obj));
        if !ok {
            tracing::info!(
                client = self.client,
                uid = ?self.who.identity.uid,
                perm,
                kind = obj.kind,
                name = ?obj.name,
                "access denied"
            );
        }
        ok
    }

    fn driver_name(&self) -> &str {
        &self.driver
    }

    fn audit(&self, api: &str, obj: Option<&Object>, result: &Result<()>) {
        let Some(f) = &self.policy.audit else {
            return;
        };
        let id = &self.who.identity;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let o = |v: &Option<String>| v.as_deref().map_or("null".to_string(), json_str);
        let n = |v: Option<i64>| v.map_or("null".to_string(), |x| x.to_string());
        let object = match obj {
            None => "null".to_string(),
            Some(x) => format!(
                "{{\"type\":{},\"name\":{},\"uuid\":{},\"parent\":{}}}",
                json_str(x.kind),
                o(&x.name),
                o(&x.uuid),
                o(&x.parent)
            ),
        };
        let result = match result {
            Ok(()) => "\"ok\"".to_string(),
            Err(e) => format!(
                "{{\"code\":{},\"message\":{}}}",
                e.code,
                json_str(&e.message)
            ),
        };
        let line = format!(
            "{{\"time\":{:.3},\"client\":{},\"identity\":{{\"uid\":{},\"user\":{},\"gid\":{},\"pid\":{},\"sasl_user\":{},\"x509_dname\":{},\"sock_addr\":{}}},\"api\":{},\"object\":{},\"result\":{}}}",
            now.as_secs_f64(),
            self.client,
            n(id.uid.map(i64::from)),
            o(&id.user_name),
            n(id.gid.map(i64::from)),
            n(id.pid.map(i64::from)),
            o(&id.sasl_user),
            o(&id.x509_dname),
            o(&id.sock_addr),
            json_str(api),
            object,
            result
        );
        use std::io::Write;
        let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(f, "{}", line);
    }
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `conn->driver->name` of a URI, as a refusal names it.
pub fn driver_name(uri: &str) -> String {
    let scheme = uri.split(':').next().unwrap_or("");
    let scheme = scheme.split('+').next().unwrap_or(scheme);
    match scheme {
        "qemu" => "QEMU".into(),
        "test" => "Test".into(),
        s => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("domain.*", "domain.start"));
        assert!(glob("*", "x"));
        assert!(glob("web?", "web1"));
        assert!(!glob("web?", "web12"));
        assert!(glob("CN=*,O=Example", "CN=a,O=Example"));
    }

    #[test]
    fn parses_and_matches() {
        let r = Rules::parse(
            "# comment\n[[rule]]\nuser = \"alice\" # trailing\npermissions = [\"connect.*\",\n \"domain.getattr\", \"domain.start\"]\nobjects = [\"web*\"]\n",
            "t",
        )
        .unwrap();
        let alice = Who {
            identity: Identity {
                uid: Some(1000),
                user_name: Some("alice".into()),
                ..Default::default()
            },
            groups: vec![],
        };
        let bob = Who {
            identity: Identity {
                uid: Some(1001),
                user_name: Some("bob".into()),
                ..Default::default()
            },
            groups: vec![],
        };
        let dom = |n: &str| Object {
            kind: "domain",
            name: Some(n.into()),
            ..Default::default()
        };
        let rule = &r.rules[0];
        assert!(rule.applies_to(&alice) && !rule.applies_to(&bob));
        assert!(rule.grants("domain.start", &dom("web1")));
        assert!(!rule.grants("domain.start", &dom("db1")));
        assert!(!rule.grants("domain.write", &dom("web1")));
        let conn = Object {
            kind: "connect",
            ..Default::default()
        };
        assert!(rule.grants("connect.getattr", &conn));
    }

    #[test]
    fn errors_name_the_line() {
        let e = |t: &str| Rules::parse(t, "f").unwrap_err();
        assert_eq!(e("user = \"x\"\n"), "f:1: key outside a [[rule]] table");
        assert_eq!(e("[[rule]]\nbogus = 1\n"), "f:2: unknown key 'bogus'");
        assert_eq!(
            e("[[rule]]\npermissions = [\"Domain Start\"]\n"),
            "f:2: 'Domain Start' is not a permission (object.permission)"
        );
        assert_eq!(
            e("[[rule]]\nuser = \"x\"\n"),
            "f: rule 1 grants no permissions"
        );
        assert_eq!(
            e("[[rule]]\nuid = \"x\"\n"),
            "f:2: 'uid' expects an integer"
        );
    }

    /// A client naming an object it may use by name and another by UUID
    /// is checked against both: the mismatched pair is refused and the
    /// other object is left alone.
    #[test]
    fn a_name_and_a_uuid_of_different_objects_gain_nothing() {
        let root = std::env::temp_dir().join(format!("oxvirtd-acl-unit-{}", std::process::id()));
        let router = crate::router::Router::new(root.clone());
        let conn = router.open("test:///default", 0).unwrap();
        let web = conn
            .domain_define_xml(
                "<domain type='test'><name>web1</name><memory>8192</memory>\
                 <os><type>hvm</type></os></domain>",
                0,
            )
            .unwrap();
        let test = conn.lookup_domain_by_name("test").unwrap();
        let rules = Rules::parse(
            "[[rule]]\npermissions = [\"connect.*\"]\n\
             [[rule]]\npermissions = [\"domain.*\"]\nobjects = [\"web*\"]\n",
            "t",
        )
        .unwrap();
        conn.set_access(Arc::new(ClientAccess {
            policy: Arc::new(Policy::new(rules, None).unwrap()),
            who: Who::default(),
            client: 1,
            driver: "Test".into(),
        }));
        let forged = oxvirt_core::DomainRef {
            name: web.name.clone(),
            uuid: test.uuid,
            id: test.id,
        };
        let e = conn.domain_destroy(&forged, 0).unwrap_err();
        assert_eq!(e.message, "access denied: 'Test' denied access");
        assert_eq!(e.code, oxvirt_core::error::code::ACCESS_DENIED);
        assert_eq!(e.domain, oxvirt_core::error::from::ACCESS);
        let e = conn.domain_destroy(&test, 0).unwrap_err();
        assert_eq!(e.code, oxvirt_core::error::code::ACCESS_DENIED);
        // "test" still runs; web1 is the caller's.
        // (the state itself is refused to this caller: look as the daemon)
        let e = conn.domain_get_state(&test, 0).unwrap_err();
        assert_eq!(e.code, oxvirt_core::error::code::ACCESS_DENIED);
        let plain = router.open("test:///default", 0).unwrap();
        assert_eq!(plain.domain_get_state(&test, 0).unwrap().0, 1);
        drop(plain);
        conn.domain_create(&web, 0).unwrap();
        conn.domain_destroy(&web, 0).unwrap();
        // Lists and lookups show web1 only.
        let names: Vec<String> = conn
            .list_all_domains(0)
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(names, ["web1"]);
        let e = conn.lookup_domain_by_name("test").unwrap_err();
        assert_eq!(e.code, oxvirt_core::error::code::ACCESS_DENIED);
        drop(conn);
        let _ = std::fs::remove_dir_all(root);
    }
}
