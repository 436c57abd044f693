//! The migration cookie (libvirt's qemu_migration_cookie.c): the XML
//! document each phase of a migration hands to the next, sent as the
//! text plus a trailing NUL.
//!
//! oxvirt writes the basics (name, UUID, host name and host UUID), the
//! mandatory features it means, and the persistent definition when the
//! destination is to keep one; it reads the same, refusing mandatory
//! features the reading phase does not accept as libvirt does.

use oxvirt_core::error::code;
use oxvirt_core::types::Uuid;
use oxvirt_core::{Error, Result};
use oxvirt_xml::writer::escape;

use crate::FROM;

/// Mandatory feature names by libvirt's bit order
/// (qemuMigrationCookieFlag).
pub(crate) const FEATURES: [&str; 12] = [
    "graphics",
    "lockstate",
    "persistent",
    "network",
    "nbd",
    "statistics",
    "memory-hotplug",
    "cpu-hotplug",
    "cpu",
    "allowReboot",
    "capabilities",
    "block-dirty-bitmaps",
];

/// A parsed or to-be-written cookie.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Cookie {
    /// The domain's name on the source (its original name when renamed).
    pub name: String,
    pub uuid: Uuid,
    pub hostname: String,
    pub hostuuid: Uuid,
    /// Mandatory `<feature name=.../>` elements.
    pub features: Vec<String>,
    /// The `<domain>` element: the persistent definition, as text.
    pub persistent: Option<String>,
}

impl Cookie {
    /// The cookie's bytes: the document and its NUL.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::from("<qemu-migration>\n");
        s.push_str(&format!("  <name>{}</name>\n", escape(&self.name)));
        s.push_str(&format!("  <uuid>{}</uuid>\n", self.uuid));
        s.push_str(&format!(
            "  <hostname>{}</hostname>\n",
            escape(&self.hostname)
        ));
        s.push_str(&format!("  <hostuuid>{}</hostuuid>\n", self.hostuuid));
        for f in &self.features {
            s.push_str(&format!("  <feature name='{}'/>\n", escape(f)));
        }
        if let Some(d) = &self.persistent {
            for line in d.trim_end().lines() {
                s.push_str("  ");
                s.push_str(line);
                s.push('\n');
            }
        }
        s.push_str("</qemu-migration>\n");
        let mut b = s.into_bytes();
        b.push(0);
        b
    }

    /// Reads a cookie; `allowed` are the mandatory features the reading
    /// phase accepts. An empty cookie is none.
    pub fn parse(bytes: &[u8], allowed: &[&str]) -> Result<Option<Cookie>> {
        if bytes.is_empty() {
            return Ok(None);
        }
        let Some((0, text)) = bytes.split_last() else {
            return Err(internal("Migration cookie was not NULL terminated"));
        };
        let text = std::str::from_utf8(text)
            .map_err(|_| internal("Migration cookie is not valid UTF-8"))?;
        let root = oxvirt_xml::dom::parse(text, "(qemu_migration_cookie)")
            .map_err(|e| internal(format!("(qemu_migration_cookie): {}", e)))?;
        if root.name != "qemu-migration" {
            return Err(internal("missing qemu-migration element"));
        }
        let text_of = |n: &str, what: &str| -> Result<String> {
            root.child_text(n)
                .ok_or_else(|| internal(format!("missing {} element in migration data", what)))
        };
        let uuid_of = |n: &str, what: &str| -> Result<Uuid> {
            let t = text_of(n, what)?;
            Uuid::parse(t.trim())
                .ok_or_else(|| internal(format!("malformed {} element in migration data", what)))
        };
        let mut c = Cookie {
            name: text_of("name", "name")?,
            uuid: uuid_of("uuid", "uuid")?,
            hostname: text_of("hostname", "hostname")?,
            hostuuid: uuid_of("hostuuid", "hostuuid")?,
            ..Default::default()
        };
        for f in root.children_named("feature") {
            let Some(name) = f.attr("name") else {
                return Err(internal("missing feature name"));
            };
            if !FEATURES.contains(&name) {
                return Err(internal(format!(
                    "Unknown migration cookie feature {}",
                    name
                )));
            }
            if !allowed.contains(&name) {
                return Err(internal(format!(
                    "Unsupported migration cookie feature {}",
                    name
                )));
            }
            c.features.push(name.to_string());
        }
        if root.child("domain").is_some() {
            // The element's own text, as the definition parser takes it.
            let start = text
                .find("<domain ")
                .or_else(|| text.find("<domain>"))
                .ok_or_else(|| internal("missing domain element in migration data"))?;
            let end = text
                .rfind("</domain>")
                .ok_or_else(|| internal("missing domain element in migration data"))?;
            if end < start {
                return Err(internal("malformed domain element in migration data"));
            }
            c.persistent = Some(text[start..end + "</domain>".len()].to_string());
        }
        Ok(Some(c))
    }
}

fn internal(msg: impl Into<String>) -> Error {
    Error::new(code::INTERNAL_ERROR, FROM, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_nul_and_domain() {
        let c = Cookie {
            name: "vm<1>".into(),
            uuid: Uuid([7; 16]),
            hostname: "host".into(),
            hostuuid: Uuid([9; 16]),
            features: vec!["persistent".into()],
            persistent: Some("<domain type='qemu'>\n  <name>vm</name>\n</domain>\n".into()),
        };
        let b = c.to_bytes();
        assert_eq!(b.last(), Some(&0));
        let back = Cookie::parse(&b, &["persistent"])
            .expect("parses")
            .expect("some");
        assert_eq!(back.name, "vm<1>");
        assert_eq!(back.uuid, c.uuid);
        assert_eq!(back.hostuuid, c.hostuuid);
        assert!(back
            .persistent
            .as_deref()
            .is_some_and(|d| d.starts_with("<domain ") && d.ends_with("</domain>")));
        let e = Cookie::parse(&b, &[]).expect_err("refused");
        assert_eq!(
            e.message,
            "internal error: Unsupported migration cookie feature persistent"
        );
        let e = Cookie::parse(&b[..b.len() - 1], &[]).expect_err("no NUL");
        assert!(e.message.contains("not NULL terminated"));
        assert_eq!(Cookie::parse(&[], &[]).expect("empty"), None);
    }

    #[test]
    fn reads_libvirts_prepare_cookie() {
        let text = "<qemu-migration>\n  <name>t</name>\n  <uuid>3d8a53cd-2ac8-4a1d-9b8e-5a3a1b4f43a0</uuid>\n  <hostname>dst</hostname>\n  <hostuuid>6a1f8a1e-2b1c-4c39-b2a7-4c1a2e0d1f00</hostuuid>\n  <capabilities>\n    <cap name='xbzrle' auto='no'/>\n  </capabilities>\n</qemu-migration>\n";
        let mut b = text.as_bytes().to_vec();
        b.push(0);
        let c = Cookie::parse(&b, &[]).expect("parses").expect("some");
        assert_eq!(c.hostname, "dst");
        assert_eq!(c.persistent, None);
        let mut bad = b"<qemu-migration><name>t</name><uuid>3d8a53cd-2ac8-4a1d-9b8e-5a3a1b4f43a0</uuid><hostname>h</hostname><hostuuid>6a1f8a1e-2b1c-4c39-b2a7-4c1a2e0d1f00</hostuuid><feature name='nonsense'/></qemu-migration>".to_vec();
        bad.push(0);
        let e = Cookie::parse(&bad, &FEATURES).expect_err("unknown");
        assert!(e
            .message
            .ends_with("Unknown migration cookie feature nonsense"));
    }
}
