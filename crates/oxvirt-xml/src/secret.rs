//! Secrets (`<secret>`): parse and format in libvirt's canonical form
//! (`virSecretDefParse`, `virSecretDefFormat`).

use crate::dom::{self, Element};
use crate::error::{Error, Result};
use crate::props::Uuid;
use crate::writer::{Attrs, Writer};

/// `virSecretUsageType`
pub mod usage_type {
    pub const NONE: i32 = 0;
    pub const VOLUME: i32 = 1;
    pub const CEPH: i32 = 2;
    pub const ISCSI: i32 = 3;
    pub const TLS: i32 = 4;
    pub const VTPM: i32 = 5;
}

/// The usage names libvirt spells, by `virSecretUsageType`.
const USAGE_NAMES: &[&str] = &["none", "volume", "ceph", "iscsi", "tls", "vtpm"];

/// The element that names what a usage type is for.
fn usage_element(kind: i32) -> Option<&'static str> {
    match kind {
        usage_type::VOLUME => Some("volume"),
        usage_type::CEPH | usage_type::TLS | usage_type::VTPM => Some("name"),
        usage_type::ISCSI => Some("target"),
        _ => None,
    }
}

/// The name of a usage type (`virSecretUsageTypeToString`).
pub fn usage_name(kind: i32) -> Option<&'static str> {
    usize::try_from(kind)
        .ok()
        .and_then(|i| USAGE_NAMES.get(i).copied())
}

/// A secret definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub uuid: Uuid,
    pub uuid_specified: bool,
    pub ephemeral: bool,
    pub private: bool,
    pub description: Option<String>,
    /// `virSecretUsageType`; NONE when there is no `<usage>`.
    pub usage_type: i32,
    /// The volume path, Ceph name, iSCSI target, TLS or vTPM name.
    pub usage_id: Option<String>,
}

fn yes_no(el: &Element, attr: &str) -> Result<bool> {
    match el.attr(attr) {
        None => Ok(false),
        Some("yes") => Ok(true),
        Some("no") => Ok(false),
        Some(_) => Err(Error::xml(format!("invalid value of '{}'", attr))),
    }
}

impl Secret {
    /// Parses a secret document.
    pub fn parse(xml: &str) -> Result<Secret> {
        let mut root = dom::parse(xml, "(definition_of_secret)")?;
        root.strip_blanks();
        if root.name != "secret" {
            return Err(Error::xml(format!(
                "unexpected root element <{}>, expecting <secret>",
                root.name
            )));
        }
        Secret::from_element(&root)
    }

    pub fn from_element(el: &Element) -> Result<Secret> {
        let ephemeral = yes_no(el, "ephemeral")?;
        let private = yes_no(el, "private")?;
        let (uuid, uuid_specified) = match el.child("uuid").map(|u| u.text()) {
            None => (Uuid::default(), false),
            Some(u) => (
                Uuid::parse(&u).ok_or_else(|| Error::internal("malformed uuid element"))?,
                true,
            ),
        };
        let description = el.child("description").map(|d| d.text());
        let (mut usage_type, mut usage_id) = (usage_type::NONE, None);
        if let Some(u) = el.child("usage") {
            let t = u
                .attr("type")
                .ok_or_else(|| Error::xml("unknown secret usage type"))?;
            usage_type = USAGE_NAMES
                .iter()
                .position(|n| *n == t)
                .map(|i| i as i32)
                .ok_or_else(|| Error::unsupported(format!("unknown secret usage type {}", t)))?;
            if let Some(child) = usage_element(usage_type) {
                let id = u.child(child).map(|c| c.text());
                if id.is_none() {
                    return Err(Error::internal(match usage_type {
                        usage_type::VOLUME => "volume usage specified, but volume path is missing",
                        usage_type::CEPH => "Ceph usage specified, but name is missing",
                        usage_type::ISCSI => "iSCSI usage specified, but target is missing",
                        usage_type::TLS => "TLS usage specified, but name is missing",
                        _ => "vTPM usage specified, but name is missing",
                    }));
                }
                usage_id = id;
            }
        }
        Ok(Secret {
            uuid,
            uuid_specified,
            ephemeral,
            private,
            description,
            usage_type,
            usage_id,
        })
    }

    /// Formats the definition as libvirt does.
    pub fn format(&self) -> String {
        let yn = |b: bool| if b { "yes" } else { "no" };
        let mut w = Writer::new();
        let attrs = Attrs::new()
            .add("ephemeral", yn(self.ephemeral))
            .add("private", yn(self.private));
        w.block("secret", attrs, |w| {
            w.text("uuid", Attrs::new(), self.uuid);
            w.opt_text("description", self.description.as_deref());
            if let Some(name) = usage_name(self.usage_type).filter(|_| self.usage_type != 0) {
                w.block("usage", Attrs::new().add("type", name), |w| {
                    if let Some(child) = usage_element(self.usage_type) {
                        w.opt_text(child, self.usage_id.as_deref());
                    }
                });
            }
        });
        w.into_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_usage_type() {
        for (t, child) in [
            ("volume", "volume"),
            ("ceph", "name"),
            ("iscsi", "target"),
            ("tls", "name"),
            ("vtpm", "name"),
        ] {
            let xml = format!(
                "<secret ephemeral='no' private='yes'>\n  <uuid>c1f11a6d-8c5d-4a3e-ac7a-4e171c5e0d4a</uuid>\n  <description>d &amp; e</description>\n  <usage type='{t}'>\n    <{child}>x</{child}>\n  </usage>\n</secret>\n"
            );
            let s = Secret::parse(&xml).unwrap();
            assert_eq!(s.format(), xml);
        }
    }

    #[test]
    fn refuses_like_libvirt() {
        let e = Secret::parse("<secret ephemeral='maybe'/>").unwrap_err();
        assert_eq!(e.to_string(), "XML error: invalid value of 'ephemeral'");
        let e = Secret::parse("<secret><usage type='volume'/></secret>").unwrap_err();
        assert_eq!(
            e.to_string(),
            "internal error: volume usage specified, but volume path is missing"
        );
        let e = Secret::parse("<secret><usage type='bogus'/></secret>").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported configuration: unknown secret usage type bogus"
        );
        let e = Secret::parse("<secret><usage/></secret>").unwrap_err();
        assert_eq!(e.to_string(), "XML error: unknown secret usage type");
        let e = Secret::parse("<secret><uuid>nope</uuid></secret>").unwrap_err();
        assert_eq!(e.to_string(), "internal error: malformed uuid element");
        let s = Secret::parse("<secret/>").unwrap();
        assert!(!s.uuid_specified);
        assert_eq!(s.usage_type, usage_type::NONE);
    }
}
