//! SCSI disks plugged into a running guest's SCSI controllers, as
//! libvirt's qemuDomainAttachSCSIDisk does it: the drive address from the
//! target name (virDomainDiskDefAssignAddress), the controller of that
//! index, and the `scsi-hd`/`scsi-cd` device with the controller's bus
//! properties (lsilogic and the other narrow HBAs: bus `ALIAS.BUS` and
//! `scsi-id` = unit; virtio-scsi: bus `ALIAS.0`, channel, scsi-id =
//! target, lun = unit) and libvirt's alias `scsiC-B-T-U`.

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::devices::Disk;
use oxvirt_xml::domain::Domain;
use serde_json::{json, Map, Value};

use crate::FROM;

/// libvirt's alias of a SCSI disk at its drive address on `def`'s
/// controllers (qemuAssignDeviceDiskAlias: `scsiC-B-U` on an lsilogic
/// controller, `scsiC-B-T-U` otherwise).
pub(crate) fn alias(def: &Domain, d: &Disk) -> Option<String> {
    let a = d.drive_address()?;
    let lsi = def.devices.controllers.iter().any(|c| {
        c.ctype == "scsi" && c.index == Some(a.controller) && c.model.as_deref() == Some("lsilogic")
    });
    Some(if lsi {
        format!("scsi{}-{}-{}", a.controller, a.bus, a.unit)
    } else {
        format!("scsi{}-{}-{}-{}", a.controller, a.bus, a.target, a.unit)
    })
}

/// The `device_add` arguments of SCSI disk `d` (its address assigned)
/// on `def`'s controllers, with `drive` the format node.
pub(crate) fn device_args(def: &Domain, d: &Disk, drive: &str) -> Result<Value> {
    let a = d
        .drive_address()
        .ok_or_else(|| Error::internal(FROM, "a SCSI disk without a drive address"))?;
    let cont = def
        .devices
        .controllers
        .iter()
        .find(|c| c.ctype == "scsi" && c.index == Some(a.controller))
        .ok_or_else(|| {
            // libvirt would add the controller first; oxvirt does not
            // hot-plug controllers.
            Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                format!(
                    "SCSI controller {} is not present and cannot be hot-plugged",
                    a.controller
                ),
            )
        })?;
    let calias = cont
        .el
        .child("alias")
        .and_then(|x| x.attr("name"))
        .map(str::to_string)
        .unwrap_or_else(|| format!("scsi{}", a.controller));
    let driver = match d.device.as_deref().unwrap_or("disk") {
        "disk" => "scsi-hd",
        "cdrom" => "scsi-cd",
        other => {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                format!("disk device '{}' cannot be hotplugged on bus 'scsi'", other),
            ))
        }
    };
    let id = alias(def, d).unwrap_or_default();
    let mut p = Map::new();
    p.insert("driver".into(), json!(driver));
    match cont.model.as_deref().unwrap_or("") {
        "lsilogic" | "ncr53c90" | "dc390" | "am53c974" => {
            p.insert("bus".into(), json!(format!("{}.{}", calias, a.bus)));
            p.insert("scsi-id".into(), json!(a.unit));
        }
        _ => {
            p.insert("bus".into(), json!(format!("{}.0", calias)));
            p.insert("channel".into(), json!(a.bus));
            p.insert("scsi-id".into(), json!(a.target));
            p.insert("lun".into(), json!(a.unit));
        }
    }
    p.insert("device_id".into(), json!(format!("drive-{}", id)));
    p.insert("drive".into(), json!(drive));
    p.insert("id".into(), json!(id));
    Ok(Value::Object(p))
}
