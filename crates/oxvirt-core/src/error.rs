//! libvirt's error triple: a code, a source domain and a message.

use std::fmt;

/// `virErrorNumber` values used by oxvirt.
pub mod code {
    pub const INTERNAL_ERROR: i32 = 1;
    pub const NO_MEMORY: i32 = 2;
    pub const NO_SUPPORT: i32 = 3;
    pub const NO_CONNECT: i32 = 5;
    pub const INVALID_CONN: i32 = 6;
    pub const INVALID_DOMAIN: i32 = 7;
    pub const INVALID_ARG: i32 = 8;
    pub const OPERATION_FAILED: i32 = 9;
    pub const OS_TYPE: i32 = 16;
    pub const NO_SOURCE: i32 = 19;
    pub const NO_TARGET: i32 = 20;
    pub const NO_NAME: i32 = 21;
    pub const XML_ERROR: i32 = 27;
    pub const DOM_EXIST: i32 = 28;
    pub const OPERATION_DENIED: i32 = 29;
    pub const OPEN_FAILED: i32 = 30;
    pub const READ_FAILED: i32 = 31;
    pub const WRITE_FAILED: i32 = 34;
    pub const XML_DETAIL: i32 = 35;
    pub const NETWORK_EXIST: i32 = 37;
    pub const SYSTEM_ERROR: i32 = 38;
    pub const RPC: i32 = 39;
    pub const NO_DOMAIN: i32 = 42;
    pub const NO_NETWORK: i32 = 43;
    pub const INVALID_MAC: i32 = 44;
    pub const AUTH_FAILED: i32 = 45;
    pub const NO_STORAGE_POOL: i32 = 49;
    pub const NO_STORAGE_VOL: i32 = 50;
    pub const INVALID_NODE_DEVICE: i32 = 52;
    pub const NO_NODE_DEVICE: i32 = 53;
    pub const NO_SECURITY_MODEL: i32 = 54;
    pub const OPERATION_INVALID: i32 = 55;
    pub const NO_INTERFACE: i32 = 57;
    pub const NO_NWFILTER: i32 = 62;
    pub const INVALID_SECRET: i32 = 65;
    pub const NO_SECRET: i32 = 66;
    pub const CONFIG_UNSUPPORTED: i32 = 67;
    pub const OPERATION_TIMEOUT: i32 = 68;
    pub const INVALID_DOMAIN_SNAPSHOT: i32 = 71;
    pub const NO_DOMAIN_SNAPSHOT: i32 = 72;
    pub const INVALID_STREAM: i32 = 73;
    pub const ARGUMENT_UNSUPPORTED: i32 = 74;
    pub const STORAGE_PROBE_FAILED: i32 = 77;
    pub const STORAGE_POOL_BUILT: i32 = 76;
    pub const OPERATION_ABORTED: i32 = 78;
    pub const MULTIPLE_INTERFACES: i32 = 59;
    pub const NO_DOMAIN_METADATA: i32 = 80;
    pub const MIGRATE_UNSAFE: i32 = 81;
    pub const OVERFLOW: i32 = 82;
    pub const BLOCK_COPY_ACTIVE: i32 = 83;
    pub const OPERATION_UNSUPPORTED: i32 = 84;
    pub const AGENT_UNRESPONSIVE: i32 = 86;
    pub const RESOURCE_BUSY: i32 = 87;
    pub const ACCESS_DENIED: i32 = 88;
    pub const STORAGE_VOL_EXIST: i32 = 90;
    pub const NO_SERVER: i32 = 95;
    pub const NO_CLIENT: i32 = 96;
    pub const CPU_INCOMPATIBLE: i32 = 91;
    pub const XML_INVALID_SCHEMA: i32 = 92;
    pub const MIGRATE_FINISH_OK: i32 = 93;
    pub const AGENT_UNSYNCED: i32 = 97;
    pub const INVALID_DOMAIN_CHECKPOINT: i32 = 102;
    pub const NO_DOMAIN_CHECKPOINT: i32 = 103;
    pub const NETWORK_PORT_EXIST: i32 = 106;
    pub const NO_NETWORK_PORT: i32 = 107;
    pub const CHECKPOINT_INCONSISTENT: i32 = 109;
}

/// `virErrorDomain` values used by oxvirt.
pub mod from {
    pub const NONE: i32 = 0;
    pub const XML: i32 = 5;
    pub const DOM: i32 = 6;
    pub const RPC: i32 = 7;
    pub const CONF: i32 = 9;
    pub const QEMU: i32 = 10;
    pub const NET: i32 = 11;
    pub const TEST: i32 = 12;
    pub const REMOTE: i32 = 13;
    pub const STORAGE: i32 = 18;
    pub const NETWORK: i32 = 19;
    pub const DOMAIN: i32 = 20;
    pub const NODEDEV: i32 = 22;
    pub const SECURITY: i32 = 24;
    pub const INTERFACE: i32 = 26;
    pub const SECRET: i32 = 30;
    pub const CPU: i32 = 31;
    pub const NWFILTER: i32 = 33;
    pub const DOMAIN_SNAPSHOT: i32 = 35;
    pub const STREAMS: i32 = 38;
    pub const CAPABILITIES: i32 = 44;
    pub const URI: i32 = 45;
    pub const AUTH: i32 = 46;
    pub const ACCESS: i32 = 55;
    pub const ADMIN: i32 = 62;
    pub const DOMAIN_CHECKPOINT: i32 = 69;
}

/// The message template libvirt uses for a code: `(without detail, with detail)`.
/// `%s` marks where the detail goes.
pub fn template(code: i32) -> (&'static str, &'static str) {
    use code::*;
    match code {
        INTERNAL_ERROR => ("internal error", "internal error: %s"),
        NO_MEMORY => ("out of memory", "out of memory: %s"),
        NO_SUPPORT => (
            "this function is not supported by the connection driver",
            "this function is not supported by the connection driver: %s",
        ),
        NO_CONNECT => (
            "no connection driver available",
            "no connection driver available for %s",
        ),
        INVALID_CONN => (
            "invalid connection pointer in",
            "invalid connection pointer in %s",
        ),
        INVALID_DOMAIN => ("invalid domain pointer in", "invalid domain pointer in %s"),
        INVALID_ARG => ("invalid argument", "invalid argument: %s"),
        OPERATION_FAILED => ("operation failed", "operation failed: %s"),
        OS_TYPE => ("unknown OS type", "unknown OS type %s"),
        NO_SOURCE => (
            "missing source information for device",
            "missing source information for device %s",
        ),
        NO_TARGET => (
            "missing target information for device",
            "missing target information for device %s",
        ),
        NO_NAME => ("missing name information", "missing name information in %s"),
        XML_ERROR => (
            "XML description is invalid or not well formed",
            "XML error: %s",
        ),
        DOM_EXIST => ("this domain exists already", "domain %s exists already"),
        OPERATION_DENIED => (
            "operation forbidden for read only access",
            "operation forbidden: %s",
        ),
        OPEN_FAILED => (
            "failed to open configuration file",
            "failed to open configuration file %s",
        ),
        READ_FAILED => (
            "failed to read configuration file",
            "failed to read configuration file %s",
        ),
        WRITE_FAILED => (
            "failed to write configuration file",
            "failed to write configuration file: %s",
        ),
        XML_DETAIL => ("parser error", "%s"),
        NETWORK_EXIST => ("this network exists already", "network %s exists already"),
        SYSTEM_ERROR => ("system call error", "%s"),
        RPC => ("RPC error", "%s"),
        NO_DOMAIN => ("Domain not found", "Domain not found: %s"),
        NO_NETWORK => ("Network not found", "Network not found: %s"),
        INVALID_MAC => ("invalid MAC address", "invalid MAC address: %s"),
        AUTH_FAILED => ("authentication failed", "authentication failed: %s"),
        NO_STORAGE_POOL => ("Storage pool not found", "Storage pool not found: %s"),
        NO_STORAGE_VOL => ("Storage volume not found", "Storage volume not found: %s"),
        NO_NODE_DEVICE => ("Node device not found", "Node device not found: %s"),
        NO_SECURITY_MODEL => ("Security model not found", "Security model not found: %s"),
        OPERATION_INVALID => (
            "Requested operation is not valid",
            "Requested operation is not valid: %s",
        ),
        NO_INTERFACE => ("Interface not found", "Interface not found: %s"),
        MULTIPLE_INTERFACES => (
            "multiple matching interfaces found",
            "multiple matching interfaces found: %s",
        ),
        NO_NWFILTER => ("Network filter not found", "Network filter not found: %s"),
        INVALID_SECRET => ("Invalid secret", "Invalid secret: %s"),
        NO_SECRET => ("Secret not found", "Secret not found: %s"),
        CONFIG_UNSUPPORTED => ("unsupported configuration", "unsupported configuration: %s"),
        OPERATION_TIMEOUT => (
            "Timed out during operation",
            "Timed out during operation: %s",
        ),
        INVALID_DOMAIN_SNAPSHOT => ("Invalid domain snapshot", "Invalid domain snapshot: %s"),
        NO_DOMAIN_SNAPSHOT => ("Domain snapshot not found", "Domain snapshot not found: %s"),
        INVALID_STREAM => ("invalid stream pointer", "invalid stream pointer in %s"),
        ARGUMENT_UNSUPPORTED => ("argument unsupported", "argument unsupported: %s"),
        STORAGE_PROBE_FAILED => ("Storage pool probe failed", "Storage pool probe failed: %s"),
        STORAGE_POOL_BUILT => (
            "Storage pool already built",
            "Storage pool already built: %s",
        ),
        OPERATION_ABORTED => ("operation aborted", "operation aborted: %s"),
        NO_DOMAIN_METADATA => ("metadata not found", "metadata not found: %s"),
        MIGRATE_UNSAFE => ("Unsafe migration", "Unsafe migration: %s"),
        OVERFLOW => ("numerical overflow", "numerical overflow: %s"),
        BLOCK_COPY_ACTIVE => ("block copy still active", "block copy still active: %s"),
        MIGRATE_FINISH_OK => (
            "migration successfully aborted",
            "migration successfully aborted: %s",
        ),
        OPERATION_UNSUPPORTED => ("Operation not supported", "Operation not supported: %s"),
        AGENT_UNRESPONSIVE => (
            "Guest agent is not responding",
            "Guest agent is not responding: %s",
        ),
        RESOURCE_BUSY => ("resource busy", "resource busy: %s"),
        CPU_INCOMPATIBLE => (
            "the CPU is incompatible with host CPU",
            "the CPU is incompatible with host CPU: %s",
        ),
        AGENT_UNSYNCED => (
            "guest agent replied with wrong id to guest-sync command",
            "guest agent replied with wrong id to guest-sync command: %s",
        ),
        INVALID_NODE_DEVICE => (
            "invalid node device pointer",
            "invalid node device pointer in %s",
        ),
        ACCESS_DENIED => ("access denied", "access denied: %s"),
        NO_SERVER => ("Server not found", "Server not found: %s"),
        NO_CLIENT => ("Client not found", "Client not found: %s"),
        STORAGE_VOL_EXIST => (
            "this storage volume exists already",
            "storage volume %s exists already",
        ),
        XML_INVALID_SCHEMA => (
            "XML document failed to validate against schema",
            "XML document failed to validate against schema: %s",
        ),
        INVALID_DOMAIN_CHECKPOINT => ("Invalid domain checkpoint", "Invalid domain checkpoint: %s"),
        NO_DOMAIN_CHECKPOINT => (
            "Domain checkpoint not found",
            "Domain checkpoint not found: %s",
        ),
        CHECKPOINT_INCONSISTENT => ("checkpoint inconsistent", "checkpoint inconsistent: %s"),
        NETWORK_PORT_EXIST => (
            "this network port exists already",
            "network port %s exists already",
        ),
        NO_NETWORK_PORT => ("network port not found", "network port not found: %s"),
        _ => ("unknown error", "%s"),
    }
}

/// A libvirt-style error: what a client sees in `virError`.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
pub struct Error {
    pub code: i32,
    pub domain: i32,
    /// The complete message, prefix included ("Domain not found: ...").
    pub message: String,
    pub level: i32,
    pub str1: Option<String>,
    pub str2: Option<String>,
    pub str3: Option<String>,
    pub int1: i32,
    pub int2: i32,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error {
    /// An error with libvirt's message template for `code` and `detail`.
    pub fn new(code: i32, domain: i32, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let (bare, with) = template(code);
        let message = if detail.is_empty() {
            bare.to_string()
        } else {
            with.replacen("%s", &detail, 1)
        };
        Error {
            code,
            domain,
            str1: Some(if detail.is_empty() {
                bare.to_string()
            } else {
                with.to_string()
            }),
            message,
            level: 2,
            str2: if detail.is_empty() {
                None
            } else {
                Some(detail)
            },
            int1: -1,
            int2: -1,
            ..Default::default()
        }
    }

    /// An error whose message is used as is.
    pub fn raw(code: i32, domain: i32, message: impl Into<String>) -> Self {
        Error {
            code,
            domain,
            message: message.into(),
            level: 2,
            int1: -1,
            int2: -1,
            ..Default::default()
        }
    }

    /// "this function is not supported by the connection driver: NAME"
    pub fn no_support(api: &str) -> Self {
        Error::new(code::NO_SUPPORT, from::NONE, api)
    }

    pub fn internal(domain: i32, detail: impl Into<String>) -> Self {
        Error::new(code::INTERNAL_ERROR, domain, detail)
    }

    pub fn invalid_arg(domain: i32, detail: impl Into<String>) -> Self {
        Error::new(code::INVALID_ARG, domain, detail)
    }

    pub fn operation_invalid(domain: i32, detail: impl Into<String>) -> Self {
        Error::new(code::OPERATION_INVALID, domain, detail)
    }

    pub fn operation_failed(domain: i32, detail: impl Into<String>) -> Self {
        Error::new(code::OPERATION_FAILED, domain, detail)
    }

    pub fn unsupported_config(domain: i32, detail: impl Into<String>) -> Self {
        Error::new(code::CONFIG_UNSUPPORTED, domain, detail)
    }

    pub fn argument_unsupported(domain: i32, detail: impl Into<String>) -> Self {
        Error::new(code::ARGUMENT_UNSUPPORTED, domain, detail)
    }

    /// A system call failure: "DETAIL: strerror".
    pub fn system(domain: i32, detail: impl fmt::Display, err: &std::io::Error) -> Self {
        let msg = format!("{}: {}", detail, strerror(err));
        Error::raw(code::SYSTEM_ERROR, domain, msg)
    }

    /// Converts a model error, attributing it to `domain`.
    pub fn from_xml(e: oxvirt_xml::Error, domain: i32) -> Self {
        let code = e.code();
        let mut err = Error::raw(code, domain, e.to_string());
        if code == code::XML_DETAIL {
            // libvirt reports well-formedness errors from the XML layer.
            err.domain = domain;
        }
        err
    }

    /// True for "unknown procedure" style errors that clients map to NO_SUPPORT.
    pub fn is_no_support(&self) -> bool {
        self.code == code::NO_SUPPORT
            || ((self.domain == from::RPC || self.domain == from::REMOTE)
                && self.message.starts_with("unknown procedure"))
    }
}

/// virCheckFlags: flags outside `supported` are libvirt's INVALID_ARG
/// "unsupported flags (0x..) in function FUNC", in error domain `domain`.
pub fn check_flags(flags: u32, supported: u32, func: &str, domain: i32) -> Result<()> {
    let extra = flags & !supported;
    if extra != 0 {
        return Err(Error::raw(
            code::INVALID_ARG,
            domain,
            format!("unsupported flags (0x{:x}) in function {}", extra, func),
        ));
    }
    Ok(())
}

/// The C library's wording for an I/O error, without Rust's " (os error N)".
pub fn strerror(err: &std::io::Error) -> String {
    let s = err.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_libvirt_templates() {
        let e = Error::new(code::OPERATION_INVALID, from::TEST, "domain is not running");
        assert_eq!(
            e.message,
            "Requested operation is not valid: domain is not running"
        );
        let e = Error::new(code::NO_DOMAIN, from::TEST, "");
        assert_eq!(e.message, "Domain not found");
        let e = Error::no_support("virDomainFoo");
        assert_eq!(
            e.message,
            "this function is not supported by the connection driver: virDomainFoo"
        );
        let io = std::io::Error::from_raw_os_error(2);
        assert_eq!(strerror(&io), "No such file or directory");
    }
}
