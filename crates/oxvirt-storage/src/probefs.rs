//! Is there a file system or partition table on a device, and is it the
//! one a pool wants (virStorageBackendDeviceIsEmpty)? libvirt asks
//! libblkid, then parted; we ask the blkid tool (the same library) and
//! parted.

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_host::Command;

use crate::objects::FROM;

#[derive(Debug, PartialEq, Eq)]
enum Probe {
    Undefined,
    Unknown,
    Match,
    Different,
}

/// What `blkid -p` finds: (TYPE, PTTYPE).
fn blkid(device: &str) -> Result<(Option<String>, Option<String>)> {
    let mut cmd = Command::new(crate::tool("blkid"), FROM);
    cmd.args(["-p", "-o", "export", device]);
    let out = cmd.output()?;
    match out.status {
        0 => {}
        // Nothing found.
        2 => return Ok((None, None)),
        _ => {
            return Err(Error::new(
                code::STORAGE_PROBE_FAILED,
                FROM,
                format!("Failed to create filesystem probe for device {}", device),
            ))
        }
    }
    let mut t = None;
    let mut pt = None;
    for line in out.stdout.lines() {
        if let Some(v) = line.strip_prefix("TYPE=") {
            t = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("PTTYPE=") {
            pt = Some(v.to_string());
        }
    }
    Ok((t, pt))
}

fn blkid_find(device: &str, format: &str) -> Result<Probe> {
    let (t, pt) = blkid(device)?;
    if let Some(t) = t {
        return Ok(if t == format {
            Probe::Match
        } else {
            Probe::Different
        });
    }
    if matches!(format, "dvh" | "pc98" | "bsd") {
        return Ok(Probe::Unknown);
    }
    Ok(match pt {
        None => Probe::Undefined,
        Some(p) if p == format => Probe::Match,
        Some(_) => Probe::Different,
    })
}

fn parted_label(device: &str, format: &str, writelabel: bool) -> Result<()> {
    let mut cmd = Command::new(crate::tool("parted"), FROM);
    cmd.args([device, "print", "--script"]).env("LC_ALL", "C");
    let out = cmd.output()?;
    let failed = |msg: &str| Err(Error::operation_failed(FROM, msg));
    if out.status != 0 {
        if out.stdout.contains("unrecognised disk label")
            || out.stderr.contains("unrecognised disk label")
        {
            if writelabel {
                return Ok(());
            }
            return failed("Unrecognized disk label found, requires build");
        }
        return failed("Error checking for disk label, failed to get disk partition information");
    }
    let Some(line) = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Partition Table: "))
    else {
        return failed("Unable to determine Partition Type, requires build --overwrite");
    };
    let label = if line == "msdos" { "dos" } else { line };
    const KNOWN: &[&str] = &[
        "unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2",
    ];
    if !KNOWN.contains(&label) {
        return failed("Unknown Partition Type, requires build --overwrite");
    }
    if label == format {
        if writelabel {
            return Err(Error::operation_invalid(
                FROM,
                format!("Disk label already formatted using '{}'", format),
            ));
        }
        return Ok(());
    }
    failed("Known, but different label format present, requires build --overwrite")
}

/// Ok when `device` may be used: with `writelabel` (a build), nothing of
/// value is on it; without, it carries `format`. Otherwise libvirt's
/// error for what was found.
pub fn device_is_empty(device: &str, format: &str, writelabel: bool) -> Result<()> {
    match blkid_find(device, format)? {
        Probe::Undefined => {
            if writelabel {
                Ok(())
            } else {
                Err(Error::new(
                    code::STORAGE_PROBE_FAILED,
                    FROM,
                    format!("Device '{}' is unrecognized, requires build", device),
                ))
            }
        }
        Probe::Match => {
            if writelabel {
                Err(Error::new(
                    code::STORAGE_POOL_BUILT,
                    FROM,
                    format!("Device '{}' already formatted using '{}'", device, format),
                ))
            } else {
                Ok(())
            }
        }
        Probe::Different => {
            if writelabel {
                Err(Error::new(
                    code::STORAGE_POOL_BUILT,
                    FROM,
                    format!(
                        "Format of device '{}' does not match the expected format '{}', forced overwrite is necessary",
                        device, format
                    ),
                ))
            } else {
                Err(Error::operation_invalid(
                    FROM,
                    format!(
                        "Format of device '{}' does not match the expected format '{}'",
                        device, format
                    ),
                ))
            }
        }
        Probe::Unknown => parted_label(device, format, writelabel),
    }
}
