//! `--validate`: libvirt's RelaxNG check before parsing.

use oxvirt_core::error::{code, from};
use oxvirt_core::{Error, Result};
use oxvirt_schema::SchemaError;

/// Maps a schema verdict to libvirt's error.
pub(crate) fn to_error(e: SchemaError) -> Error {
    match e {
        SchemaError::Invalid { .. } => {
            Error::new(code::XML_INVALID_SCHEMA, from::XML, e.to_string())
        }
        SchemaError::Unavailable { .. } => {
            Error::new(code::INTERNAL_ERROR, from::XML, e.to_string())
        }
    }
}

/// Validates a domain document. A document that is not well-formed is
/// left to the parser, which reports it as libvirt does.
pub(crate) fn validate_domain(xml: &str) -> Result<()> {
    validate(xml, "domain")
}

pub(crate) fn validate(xml: &str, schema: &str) -> Result<()> {
    if oxvirt_xml::dom::parse(xml, "").is_err() {
        return Ok(());
    }
    oxvirt_schema::validate(xml, schema).map_err(to_error)
}
