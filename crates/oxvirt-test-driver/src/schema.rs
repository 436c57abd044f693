//! `--validate`: libvirt's RelaxNG check before parsing.

use oxvirt_core::Result;

/// Validates a domain document.
pub(crate) fn validate_domain(xml: &str) -> Result<()> {
    validate(xml, "domain")
}

pub(crate) use oxvirt_schema::check as validate;
