//! The monitor's answers in libvirt's terms: QMP errors as libvirt's
//! errors, and the QMP arguments the driver sends often.

use oxvirt_core::error::code;
use oxvirt_core::Error;
use serde_json::{json, Value};

use crate::FROM;

pub(crate) fn qmp_err(e: oxvirt_qmp::QmpError) -> Error {
    match e {
        oxvirt_qmp::QmpError::Closed => Error::operation_failed(FROM, "domain is not running"),
        oxvirt_qmp::QmpError::Qemu { desc, .. } => Error::internal(FROM, desc),
        oxvirt_qmp::QmpError::Timeout(c) => Error::new(
            code::OPERATION_TIMEOUT,
            FROM,
            format!("monitor did not answer {}", c),
        ),
        other => Error::internal(FROM, other.to_string()),
    }
}

/// JSON for `migrate-set-parameters` lifting QEMU's default 32 MiB/s cap.
pub(crate) fn unlimited_bandwidth() -> Value {
    json!({"max-bandwidth": i64::MAX})
}
