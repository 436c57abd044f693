//! Errors of the XML model. Each variant carries libvirt's error code; the
//! caller (a driver) decides the error domain.

use crate::dom::ParseError;

/// A parse, validation or format failure, worded as libvirt words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The document is not well-formed (VIR_ERR_XML_DETAIL).
    #[error("{0}")]
    Malformed(#[from] ParseError),
    /// VIR_ERR_XML_ERROR
    #[error("XML error: {0}")]
    Xml(String),
    /// VIR_ERR_INVALID_ARG
    #[error("invalid argument: {0}")]
    InvalidArg(String),
    /// VIR_ERR_CONFIG_UNSUPPORTED
    #[error("unsupported configuration: {0}")]
    Unsupported(String),
    /// VIR_ERR_INTERNAL_ERROR
    #[error("internal error: {0}")]
    Internal(String),
    /// VIR_ERR_OPERATION_INVALID
    #[error("Requested operation is not valid: {0}")]
    OperationInvalid(String),
    /// VIR_ERR_OPERATION_FAILED
    #[error("operation failed: {0}")]
    OperationFailed(String),
    /// VIR_ERR_OVERFLOW
    #[error("numerical overflow: {0}")]
    Overflow(String),
    /// VIR_ERR_INVALID_MAC
    #[error("invalid MAC address: {0}")]
    InvalidMac(String),
    /// VIR_ERR_NO_SOURCE
    #[error("missing source information for device {0}")]
    NoSource(String),
    /// VIR_ERR_NO_TARGET
    #[error("missing target information for device {0}")]
    NoTarget(String),
    /// VIR_ERR_NO_NAME
    #[error("missing name information in {0}")]
    NoName(String),
    /// VIR_ERR_OS_TYPE
    #[error("unknown OS type {0}")]
    OsType(String),
    /// VIR_ERR_XML_DETAIL with a message of its own.
    #[error("{0}")]
    Detail(String),
    /// VIR_ERR_SYSTEM_ERROR-like message without a prefix, kept for wording.
    #[error("{0}")]
    Plain(String),
}

impl Error {
    /// libvirt's virErrorNumber for this error.
    pub fn code(&self) -> i32 {
        match self {
            Error::Malformed(_) | Error::Detail(_) => 35,
            Error::Xml(_) => 27,
            Error::InvalidArg(_) => 8,
            Error::Unsupported(_) => 67,
            Error::Internal(_) => 1,
            Error::OperationInvalid(_) => 55,
            Error::OperationFailed(_) => 9,
            Error::Overflow(_) => 82,
            Error::InvalidMac(_) => 44,
            Error::NoSource(_) => 19,
            Error::NoTarget(_) => 20,
            Error::NoName(_) => 21,
            Error::OsType(_) => 16,
            Error::Plain(_) => 38,
        }
    }

    pub fn xml(msg: impl Into<String>) -> Self {
        Error::Xml(msg.into())
    }

    pub fn invalid_arg(msg: impl Into<String>) -> Self {
        Error::InvalidArg(msg.into())
    }

    pub fn unsupported(msg: impl Into<String>) -> Self {
        Error::Unsupported(msg.into())
    }

    pub fn internal(msg: impl Into<String>) -> Self {
        Error::Internal(msg.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
