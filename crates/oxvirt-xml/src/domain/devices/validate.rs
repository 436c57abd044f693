//! Checks libvirt makes on devices, by the step it runs them in: while
//! parsing the device list, after parsing, and when validating the whole
//! definition. Devices the model keeps as elements are checked here too.

use crate::dom::Element;
use crate::error::{Error, Result};
use crate::props;

use super::super::validate::check_enum;
use super::{Devices, Disk};

/// The `<source>` path of a disk as libvirt reports it (`(null)` when none).
fn disk_source(d: &Disk) -> String {
    d.source.clone().unwrap_or_else(|| "(null)".into())
}

/// The `<auth>`/`<encryption>` of a disk, either under `<disk>` or `<source>`.
fn disk_child<'a>(d: &'a Disk, name: &str) -> Option<&'a Element> {
    d.extra
        .children
        .iter()
        .find(|c| c.name == name)
        .or_else(|| d.source_el.as_ref().and_then(|s| s.child(name)))
}

/// Parse-time errors over the device list.
pub fn parse_time(devs: &Devices) -> Result<()> {
    for d in &devs.disks {
        if d.target_dev.is_none() {
            return Err(Error::NoTarget(disk_source(d)));
        }
        let in_source = |n: &str| d.source_el.as_ref().and_then(|s| s.child(n)).is_some();
        let in_disk = |n: &str| d.extra.children.iter().any(|c| c.name == n);
        if in_source("auth") && in_disk("auth") {
            return Err(Error::unsupported(
                "an <auth> definition already found for disk source",
            ));
        }
        if in_source("encryption") && in_disk("encryption") {
            return Err(Error::unsupported(
                "an <encryption> definition already found for disk source",
            ));
        }
    }
    let usb_none = devs
        .controllers
        .iter()
        .any(|c| c.ctype == "usb" && c.model.as_deref() == Some("none"));
    for r in &devs.raw {
        let el = &r.0;
        match el.name.as_str() {
            "hostdev" => hostdev_parse(el)?,
            "input" if usb_none && el.attr("bus") == Some("usb") => {
                return Err(Error::unsupported(
                    "Can't add USB input device. USB bus is disabled",
                ))
            }
            "hub" if usb_none && el.attr("type") == Some("usb") => {
                return Err(Error::unsupported(
                    "Can't add USB hub: USB is disabled for this domain",
                ))
            }
            "tpm" if el.child("backend").is_none() => {
                return Err(Error::xml("missing TPM device backend"));
            }
            "shmem" if el.child("msi").is_some() && el.child("server").is_none() => {
                return Err(Error::xml("msi option is only supported with a server"));
            }
            _ => {}
        }
        usb_port(el)?;
    }
    let boots = devs
        .disks
        .iter()
        .flat_map(|d| d.extra.children.iter())
        .chain(devs.interfaces.iter().flat_map(|n| n.extra.children.iter()))
        .chain(devs.raw.iter().flat_map(|r| r.0.elements()))
        .filter(|c| c.name == "boot");
    for b in boots {
        if let Some(lp) = b.attr("loadparm") {
            loadparm(lp)?;
        }
    }
    for d in &devs.disks {
        if let Some(src) = &d.source_el {
            let mut seen: Vec<&str> = Vec::new();
            for m in src
                .children_named("seclabel")
                .filter_map(|l| l.attr("model"))
            {
                if seen.contains(&m) {
                    return Err(Error::Detail(format!(
                        "seclabel for model {} is already provided",
                        m
                    )));
                }
                seen.push(m);
            }
        }
    }
    for n in &devs.interfaces {
        if let Some(b) = n.extra.children.iter().find(|c| c.name == "backend") {
            check_enum(b, "type", &["default"])?;
        }
        if let Some(drv) = n.extra.children.iter().find(|c| c.name == "driver") {
            props::opt_uint::<u32>(drv, "queues")?;
        }
    }
    Ok(())
}

/// A `<boot loadparm>`: one to eight characters of `[A-Z0-9. ]` once
/// upper-cased.
fn loadparm(v: &str) -> Result<()> {
    let up = v.to_uppercase();
    if up.is_empty() || up.len() > 8 {
        return Err(Error::internal(format!(
            "loadparm value '{}' must be between 1 and 8 characters",
            up
        )));
    }
    if !up
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.' || c == ' ')
    {
        return Err(Error::internal(format!(
            "invalid loadparm value '{}', expecting chars in set of [a-zA-Z0-9.] and blank spaces",
            up
        )));
    }
    Ok(())
}

/// `<address type='usb' port='1.2.3'>`: at most four levels of hubs.
fn usb_port(el: &Element) -> Result<()> {
    let Some(a) = el.child("address") else {
        return Ok(());
    };
    if a.attr("type") != Some("usb") {
        return Ok(());
    }
    if let Some(p) = a.attr("port") {
        let parts: Vec<&str> = p.split('.').collect();
        if parts.len() > 4 || parts.iter().any(|x| x.trim().parse::<u32>().is_err()) {
            return Err(Error::internal("Cannot parse <address> 'port' attribute"));
        }
    }
    Ok(())
}

fn hostdev_parse(el: &Element) -> Result<()> {
    if el.attr("mode").unwrap_or("subsystem") != "subsystem" || el.attr("type") != Some("mdev") {
        return Ok(());
    }
    let Some(a) = el.child("source").and_then(|s| s.child("address")) else {
        return Err(Error::unsupported("Missing <address> element"));
    };
    if a.attr("uuid").is_none() {
        return Err(Error::unsupported(
            "Missing 'uuid' attribute for element <address>",
        ));
    }
    Ok(())
}

/// Disks whose source is a passed file descriptor, for drivers that
/// cannot take one.
pub fn reject_fd_disks(devs: &Devices) -> Result<()> {
    for d in &devs.disks {
        let fd = |s: &Element| s.attr("fdgroup").is_some();
        if d.source_el.as_ref().is_some_and(fd) {
            return Err(Error::unsupported(format!(
                "driver does not support FD passing for disk '{}'",
                d.target_dev.as_deref().unwrap_or("")
            )));
        }
    }
    Ok(())
}

/// Post-parse errors over the device list.
pub fn post_parse(devs: &Devices) -> Result<()> {
    for r in &devs.raw {
        let el = &r.0;
        if el.name != "hostdev" || el.attr("type") != Some("mdev") {
            continue;
        }
        let Some(at) = el.child("address").and_then(|a| a.attr("type")) else {
            continue;
        };
        let model = el.attr("model").unwrap_or("");
        let want = match model {
            "vfio-pci" => "pci",
            "vfio-ccw" => "ccw",
            _ => continue,
        };
        if at != want {
            return Err(Error::xml(format!(
                "Unsupported address type '{}' with mediated device model '{}'",
                at, model
            )));
        }
    }
    Ok(())
}

/// Validate-step errors over the device list.
pub fn validate(devs: &Devices) -> Result<()> {
    for d in &devs.disks {
        validate_disk(d)?;
    }
    hostdevs(devs)?;
    let has_usb = devs
        .controllers
        .iter()
        .any(|c| c.ctype == "usb" && c.model.as_deref() != Some("none"));
    for r in &devs.raw {
        let el = &r.0;
        match el.name.as_str() {
            "redirdev" => {
                if el.attr("bus").unwrap_or("usb") == "usb" && !has_usb {
                    return Err(Error::unsupported(
                        "cannot add redirected USB device: USB is disabled for this domain",
                    ));
                }
                chr_source(el.attr("type"), el.child("source"))?;
            }
            "smartcard" if el.attr("mode") == Some("passthrough") => {
                chr_source(el.attr("type"), el.child("source"))?;
            }
            "rng" => {
                if let Some(b) = el
                    .child("backend")
                    .filter(|b| b.attr("model") == Some("egd"))
                {
                    chr_source(b.attr("type"), b.child("source"))?;
                }
            }
            _ => {}
        }
    }
    // Duplicate targets, then duplicate drive addresses.
    for (i, a) in devs.disks.iter().enumerate() {
        for b in &devs.disks[i + 1..] {
            if a.target_dev.is_some() && a.target_dev == b.target_dev {
                return Err(Error::xml(format!(
                    "target '{}' duplicated for disk sources '{}' and '{}'",
                    a.target_dev.as_deref().unwrap_or(""),
                    disk_source(a),
                    disk_source(b)
                )));
            }
        }
    }
    for (i, a) in devs.disks.iter().enumerate() {
        let Some(aa) = a.drive_address() else {
            continue;
        };
        for b in &devs.disks[i + 1..] {
            if a.bus() == b.bus() && b.drive_address() == Some(aa) {
                return Err(Error::unsupported(format!(
                    "Found duplicate drive address for disk with target name '{}' controller='{}' bus='{}' target='{}' unit='{}'",
                    a.target_dev.as_deref().unwrap_or(""),
                    aa.controller, aa.bus, aa.target, aa.unit
                )));
            }
        }
    }
    let scsi: Vec<super::DriveAddress> = devs
        .raw
        .iter()
        .filter(|r| r.0.name == "hostdev" && r.0.attr("type") == Some("scsi"))
        .filter_map(|r| super::DriveAddress::of(&r.0))
        .collect();
    for (i, a) in scsi.iter().enumerate() {
        if scsi[i + 1..].contains(a) {
            // libvirt prints the bus where the controller goes and back.
            return Err(Error::unsupported(format!(
                "SCSI host address controller='{}' bus='{}' target='{}' unit='{}' in use by another SCSI host device",
                a.bus, a.controller, a.target, a.unit
            )));
        }
    }
    Ok(())
}

/// A character device source of a type that needs a path.
fn chr_source(ty: Option<&str>, src: Option<&Element>) -> Result<()> {
    let path = src.and_then(|s| s.attr("path"));
    if matches!(ty, Some("file" | "dev" | "pipe" | "unix")) && path.is_none() {
        return Err(Error::internal(
            "Missing source path attribute for char device",
        ));
    }
    Ok(())
}

fn validate_disk(d: &Disk) -> Result<()> {
    let ty = d.disk_type.as_deref().unwrap_or("file");
    // The source chain: auth and encryption of the top image.
    if ty == "network" {
        if let Some(auth) = disk_child(d, "auth") {
            let protocol = d
                .source_el
                .as_ref()
                .and_then(|s| s.attr("protocol"))
                .unwrap_or("");
            if matches!(
                protocol,
                "nbd" | "sheepdog" | "gluster" | "tftp" | "vxhs" | "nfs"
            ) {
                return Err(Error::unsupported(format!(
                    "authentication is not supported for protocol '{}'",
                    protocol
                )));
            }
            let st = auth.child("secret").and_then(|s| s.attr("type"));
            const USAGES: &[&str] = &["none", "volume", "ceph", "iscsi", "tls", "vtpm"];
            let Some(st) = st.filter(|t| USAGES.contains(t)) else {
                return Err(Error::unsupported(format!(
                    "unknown secret type '{}'",
                    st.unwrap_or("<null>")
                )));
            };
            if (protocol == "iscsi" && st != "iscsi") || (protocol == "rbd" && st != "ceph") {
                return Err(Error::unsupported(format!("invalid secret type '{}'", st)));
            }
        }
    }
    if let Some(enc) = disk_child(d, "encryption") {
        if enc.attr("format") == Some("luks")
            && enc
                .child("cipher")
                .is_some_and(|c| c.attr("name").is_some())
        {
            return Err(Error::unsupported(
                "supplying <cipher> for domain disk definition is unnecessary",
            ));
        }
    }
    if d.device.as_deref() == Some("lun") && !matches!(ty, "network" | "block" | "volume") {
        return Err(Error::unsupported(
            "disk device='lun' is only valid for block type disk source",
        ));
    }
    let bus = d.bus();
    if let Some(at) = d
        .extra
        .children
        .iter()
        .find(|c| c.name == "address")
        .and_then(|a| a.attr("type"))
    {
        if matches!(bus, "ide" | "fdc" | "scsi" | "sata") && at != "drive" {
            return Err(Error::unsupported(format!(
                "Invalid address type '{}' for the disk '{}' with the bus type '{}'",
                at,
                d.target_dev.as_deref().unwrap_or(""),
                bus
            )));
        }
    }
    Ok(())
}

/// What identifies a host device's source, for the duplicate check.
fn hostdev_key(el: &Element) -> Option<String> {
    let mode = el.attr("mode").unwrap_or("subsystem");
    let ty = el.attr("type").unwrap_or("");
    let src = el.child("source")?;
    let num = |e: Option<&Element>, k: &str| {
        e.and_then(|e| e.attr(k))
            .and_then(props::parse_u64_any_base)
            .unwrap_or(0)
    };
    let key = if mode == "subsystem" {
        match ty {
            "pci" => {
                let a = src.child("address");
                format!(
                    "{}:{}:{}.{}",
                    num(a, "domain"),
                    num(a, "bus"),
                    num(a, "slot"),
                    num(a, "function")
                )
            }
            "usb" => {
                let a = src.child("address");
                let (bus, dev) = (num(a, "bus"), num(a, "device"));
                if bus != 0 && dev != 0 {
                    format!("bus {} {}", bus, dev)
                } else {
                    format!(
                        "id {} {}",
                        num(src.child("vendor"), "id"),
                        num(src.child("product"), "id")
                    )
                }
            }
            "scsi" => {
                if src.attr("protocol") == Some("iscsi") {
                    let h = src.child("host");
                    format!(
                        "iscsi {} {} {}",
                        h.and_then(|h| h.attr("name")).unwrap_or(""),
                        h.and_then(|h| h.attr("port")).unwrap_or(""),
                        src.attr("name").unwrap_or("")
                    )
                } else {
                    let a = src.child("address");
                    format!(
                        "host {} {} {} {}",
                        src.child("adapter")
                            .and_then(|x| x.attr("name"))
                            .unwrap_or(""),
                        num(a, "bus"),
                        num(a, "target"),
                        num(a, "unit")
                    )
                }
            }
            "scsi_host" => format!(
                "{} {}",
                src.attr("protocol").unwrap_or(""),
                src.attr("wwpn").unwrap_or("")
            ),
            "mdev" => src.child("address")?.attr("uuid")?.to_string(),
            _ => return None,
        }
    } else {
        let t = match ty {
            "storage" => src.child("block"),
            "misc" => src.child("char"),
            "net" => src.child("interface"),
            _ => None,
        };
        t.map(|e| e.text())?
    };
    Some(format!("{} {} {}", mode, ty, key))
}

fn hostdevs(devs: &Devices) -> Result<()> {
    let list: Vec<&Element> = devs
        .raw
        .iter()
        .map(|r| &r.0)
        .filter(|e| e.name == "hostdev")
        .collect();
    let keys: Vec<Option<String>> = list.iter().map(|e| hostdev_key(e)).collect();
    let mut ramfb = false;
    for (i, el) in list.iter().enumerate() {
        if let Some(k) = &keys[i] {
            if keys[i + 1..].iter().any(|o| o.as_ref() == Some(k)) {
                return Err(Error::xml(
                    "Hostdev already exists in the domain configuration",
                ));
            }
        }
        if el.attr("type") == Some("mdev") && el.attr("ramfb") == Some("on") {
            if ramfb {
                return Err(Error::unsupported(
                    "Only one vgpu device can have 'ramfb' enabled",
                ));
            }
            ramfb = true;
        }
    }
    Ok(())
}
