//! Domain title, description and custom metadata (virDomainObjGet/SetMetadata).

use oxvirt_core::error::code;
use oxvirt_core::event::{DomainEvent, DomainEventKind};
use oxvirt_core::types::flags::metadata::{DESCRIPTION, ELEMENT, TITLE};
use oxvirt_core::types::DomainRef;
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::{self, Element, Node};
use oxvirt_xml::domain::Domain;
use oxvirt_xml::writer::Writer;

use crate::domains::check_flags;
use crate::state::{Driver, FROM};

fn not_present() -> Error {
    Error::new(
        code::NO_DOMAIN_METADATA,
        FROM,
        "Requested metadata element is not present",
    )
}

fn bad_type(kind: i32) -> Error {
    Error::invalid_arg(FROM, format!("unknown metadata type '{}'", kind))
}

/// The `<metadata>` child in namespace `uri`.
fn find_ns<'a>(meta: &'a Element, uri: &str) -> Option<&'a Element> {
    meta.elements().find(|e| ns_of(e) == Some(uri))
}

/// The namespace URI an element declares for its own prefix.
fn ns_of(e: &Element) -> Option<&str> {
    let prefix = e.name.split_once(':').map(|(p, _)| p);
    let want = match prefix {
        Some(p) => format!("xmlns:{}", p),
        None => "xmlns".to_string(),
    };
    e.attr(&want)
}

fn get(def: &Domain, kind: i32, uri: Option<&str>) -> Result<String> {
    match kind {
        DESCRIPTION => def.description.clone().ok_or_else(not_present),
        TITLE => def.title.clone().ok_or_else(not_present),
        ELEMENT => {
            let uri = uri.ok_or_else(|| Error::invalid_arg(FROM, "uri must not be NULL"))?;
            let meta = def.metadata.as_ref().ok_or_else(not_present)?;
            let el = find_ns(meta, uri).ok_or_else(not_present)?;
            // virXMLExtractNamespaceXML: the element without its namespace.
            let mut el = el.clone();
            if let Some((prefix, local)) = el.name.split_once(':') {
                let decl = format!("xmlns:{}", prefix);
                el.attrs.retain(|a| a.name != decl);
                el.name = local.to_string();
            }
            let mut w = Writer::new();
            w.element(&el);
            Ok(w.into_string().trim_end_matches('\n').to_string())
        }
        k => Err(bad_type(k)),
    }
}

fn set(
    def: &mut Domain,
    kind: i32,
    value: Option<&str>,
    key: Option<&str>,
    uri: Option<&str>,
) -> Result<()> {
    let value = value.filter(|v| !v.is_empty());
    match kind {
        DESCRIPTION => def.description = value.map(str::to_string),
        TITLE => {
            if value.is_some_and(|v| v.contains('\n')) {
                return Err(Error::new(
                    code::INVALID_ARG,
                    FROM,
                    "Domain title can't contain newlines",
                ));
            }
            def.title = value.map(str::to_string)
        }
        ELEMENT => {
            let uri = uri.ok_or_else(|| Error::invalid_arg(FROM, "uri must not be NULL"))?;
            let meta = def.metadata.get_or_insert_with(|| Element::new("metadata"));
            meta.children
                .retain(|n| !matches!(n, Node::Element(e) if ns_of(e) == Some(uri)));
            if let Some(v) = value {
                let key = key.ok_or_else(|| Error::invalid_arg(FROM, "key must not be NULL"))?;
                let parsed =
                    dom::parse(v, "(metadata_xml)").map_err(|e| Error::from_xml(e.into(), FROM))?;
                let local = parsed.local_name().to_string();
                let mut el = parsed;
                el.name = format!("{}:{}", key, local);
                el.attrs
                    .retain(|a| a.name != "xmlns" && !a.name.starts_with("xmlns:"));
                el.attrs.insert(
                    0,
                    oxvirt_xml::dom::Attr {
                        name: format!("xmlns:{}", key),
                        value: uri.to_string(),
                    },
                );
                prefix_children(&mut el, key);
                meta.children.push(Node::Element(el));
            }
            if !meta.has_element_children() {
                def.metadata = None;
            }
        }
        k => return Err(bad_type(k)),
    }
    Ok(())
}

/// Puts unprefixed descendants into the metadata namespace's prefix.
fn prefix_children(el: &mut Element, key: &str) {
    for n in el.children.iter_mut() {
        if let Node::Element(c) = n {
            if !c.name.contains(':') {
                c.name = format!("{}:{}", key, c.name);
            }
            prefix_children(c, key);
        }
    }
}

impl Driver {
    pub fn get_metadata(
        &self,
        dom: &DomainRef,
        kind: i32,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        check_flags(flags, 3, "virDomainObjGetMetadata")?;
        let st = self.lock();
        let def = st.dom(dom)?.one_def(flags)?;
        get(def, kind, uri)
    }

    pub fn set_metadata(
        &self,
        dom: &DomainRef,
        kind: i32,
        value: Option<&str>,
        key: Option<&str>,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, 3, "virDomainObjSetMetadata")?;
        let handle;
        {
            let mut st = self.lock();
            let mut obj = st.dom_mut(dom)?;
            let (live, config) = obj.defs_mut(flags)?;
            if let Some(d) = live {
                set(d, kind, value, key, uri)?;
            }
            if let Some(d) = config {
                set(d, kind, value, key, uri)?;
            }
            handle = obj.handle();
        }
        self.emit(vec![DomainEvent {
            dom: handle,
            kind: DomainEventKind::MetadataChange {
                kind,
                nsuri: uri.map(str::to_string),
            },
        }]);
        Ok(())
    }
}
