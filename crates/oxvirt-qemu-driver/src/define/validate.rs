//! The QEMU driver's validation of a completed definition
//! (qemu_validate.c and qemuDomainValidateStorageSource): what this
//! binary, this machine type and this host cannot run, with libvirt's
//! codes and messages. Device checks read the definition as libvirt
//! writes it (an element tree), so they keep working as the typed model
//! grows.

use oxvirt_core::error::{code, from};
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::Element;
use oxvirt_xml::domain::{Domain, FormatFlags, VirtType};
use oxvirt_xml::props;

use super::defaults::{is_q35, is_x86};
use super::Env;
use crate::FROM;

fn unsupported(msg: impl Into<String>) -> Error {
    Error::new(code::CONFIG_UNSUPPORTED, FROM, msg)
}

fn internal(msg: impl Into<String>) -> Error {
    Error::new(code::INTERNAL_ERROR, FROM, msg)
}

/// The definition as an element tree (libvirt's inactive form).
fn tree(def: &Domain) -> Result<Element> {
    let xml = def.format(FormatFlags {
        inactive: true,
        secure: true,
        ..Default::default()
    });
    oxvirt_xml::dom::parse(&xml, "domain")
        .map_err(|e| Error::new(code::INTERNAL_ERROR, FROM, e.to_string()))
}

fn find_in_path(binary: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path).any(|d| d.join(binary).is_file())
        || std::path::Path::new("/usr/bin").join(binary).is_file()
}

/// qemuValidateDomainDef: the checks against the binary.
fn domain(def: &Domain, root: &Element, env: &Env) -> Result<()> {
    let emulator = def.devices.emulator.as_deref().unwrap_or("");
    let os_type = def.os.os_type.to_string();
    if os_type != "hvm" {
        return Err(unsupported(format!(
            "Emulator '{}' does not support os type '{}'",
            emulator, os_type
        )));
    }
    let arch = def.os.arch.as_deref().unwrap_or("");
    if !crate::host::serves_arch(&env.caps.arch, arch) {
        return Err(unsupported(format!(
            "Emulator '{}' does not support arch '{}'",
            emulator, arch
        )));
    }
    let virt_ok = match def.virt_type {
        VirtType::Qemu => true,
        VirtType::Kvm => env.caps.kvm,
        _ => false,
    };
    if !virt_ok {
        return Err(unsupported(format!(
            "Emulator '{}' does not support virt type '{}'",
            emulator, def.virt_type
        )));
    }
    let machine = def.os.machine.as_deref().unwrap_or("");
    let known = env
        .caps
        .machine_info
        .iter()
        .any(|m| m.name == machine || m.alias.as_deref() == Some(machine));
    if !known {
        return Err(unsupported(format!(
            "Emulator '{}' does not support machine type '{}'",
            emulator, machine
        )));
    }
    if root
        .child("memtune")
        .and_then(|m| m.child("min_guarantee"))
        .is_some()
    {
        return Err(unsupported(
            "Parameter 'min_guarantee' not supported by QEMU.",
        ));
    }
    let os = root.child("os");
    let features = root.child("features");
    let acpi_on = features
        .and_then(|f| f.child("acpi"))
        .is_some_and(|a| a.attr("state") != Some("off"));
    let efi = os.and_then(|o| o.attr("firmware")) == Some("efi")
        || os
            .and_then(|o| o.child("loader"))
            .is_some_and(|l| l.attr("type") == Some("pflash") && l.attr("readonly") == Some("yes"));
    if efi && is_x86(def) && !acpi_on {
        return Err(unsupported("UEFI requires ACPI on this architecture"));
    }
    if root.child("genid").is_some() && !env.caps.has_type("vmgenid") {
        return Err(unsupported(
            "this QEMU does not support the 'genid' capability",
        ));
    }
    if os
        .and_then(|o| o.child("bios"))
        .is_some_and(|b| b.attr("useserial") == Some("yes"))
    {
        if !is_x86(def) {
            return Err(unsupported(
                "BIOS serial console only supported on x86 architectures",
            ));
        }
        if def.devices.chardevs.serials.is_empty() {
            return Err(Error::new(
                code::XML_ERROR,
                FROM,
                "need at least one serial port to use BIOS serial output",
            ));
        }
    }
    if let Some(sec) = root.child("launchSecurity") {
        match sec.attr("type") {
            Some("sev") if !sev_supported() => {
                return Err(unsupported(
                    "SEV launch security is not supported with this QEMU binary",
                ))
            }
            Some("s390-pv") => {
                return Err(unsupported(
                    "S390 PV launch security is not supported with this QEMU binary",
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The host offers AMD SEV to guests (QEMU_CAPS_SEV_GUEST needs it).
fn sev_supported() -> bool {
    std::fs::read_to_string("/sys/module/kvm_amd/parameters/sev")
        .map(|s| matches!(s.trim(), "1" | "Y" | "y"))
        .unwrap_or(false)
        && std::path::Path::new("/dev/sev").exists()
}

/// virDiskNameParse: `(index, partition)` of a target such as `vdb1`.
fn disk_name_parse(name: &str) -> Option<(u32, u32)> {
    let idx = oxvirt_xml::domain::devices::disk_name_index(name)?;
    let digits: String = name
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let part = if digits.is_empty() {
        0
    } else {
        digits.parse::<u32>().ok()?
    };
    Some((idx, part))
}

/// qemuDomainValidateStorageSource for one source (and its backing
/// chain, `<backingStore>` elements).
fn storage_source(disk: &Element, holder: &Element) -> Result<()> {
    let format = holder
        .child("driver")
        .and_then(|d| d.attr("type"))
        .or_else(|| holder.child("format").and_then(|f| f.attr("type")));
    let stype = holder.attr("type").unwrap_or("file");
    let src = holder.child("source");
    match format {
        Some("cow") => return Err(unsupported("'cow' storage format is not supported")),
        Some("dir") => {
            return Err(unsupported(
                "'directory' storage format is not directly supported by QEMU, use 'dir' disk type instead",
            ))
        }
        Some("iso") => {
            return Err(unsupported(
                "storage format 'iso' is not directly supported by QEMU, use 'raw' instead",
            ))
        }
        Some("fat") if stype != "volume" && stype != "dir" => {
            return Err(unsupported(
                "storage format 'fat' is supported only with 'dir' storage type",
            ))
        }
        _ => {}
    }
    if stype == "dir" {
        if format.is_some_and(|f| f != "fat" && f != "none") {
            return Err(unsupported(
                "storage type 'dir' requires use of storage format 'fat'",
            ));
        }
        if disk.child("readonly").is_none() {
            return Err(unsupported(
                "virtual FAT storage can't be accessed in read-write mode",
            ));
        }
    }
    let protocol = src.and_then(|s| s.attr("protocol")).unwrap_or("");
    let network = stype == "network";
    if let Some(s) = src {
        if s.child("ssl").is_some() && !(network && matches!(protocol, "https" | "ftps")) {
            return Err(unsupported(
                "ssl verification is supported only with HTTPS/FTPS protocol",
            ));
        }
        if s.child("cookies").is_some() && !(network && matches!(protocol, "https" | "http")) {
            return Err(unsupported(
                "http cookies are supported only with HTTP(S) protocol",
            ));
        }
        let http_ftp = network && matches!(protocol, "https" | "http" | "ftp" | "ftps");
        if s.child("readahead").is_some() && !http_ftp {
            return Err(unsupported(
                "readahead is supported only with HTTP(S)/FTP(s) protocols",
            ));
        }
        if s.child("timeout").is_some() && !http_ftp {
            return Err(unsupported(
                "timeout is supported only with HTTP(S)/FTP(s) protocols",
            ));
        }
        if s.attr("query").is_some() && !(network && matches!(protocol, "https" | "http")) {
            return Err(unsupported(
                "query is supported only with HTTP(S) protocols",
            ));
        }
        if network && protocol == "tftp" {
            return Err(unsupported(
                "'tftp' protocol is not supported with this QEMU binary",
            ));
        }
        if network && protocol == "nfs" {
            let hosts: Vec<&Element> = s.children_named("host").collect();
            if hosts.len() != 1 {
                return Err(unsupported(
                    "'nfs' protocol requires the usage of exactly one host",
                ));
            }
            if hosts[0].attr("transport").is_some_and(|t| t != "tcp") {
                return Err(unsupported("'nfs' host must use TCP protocol"));
            }
            if hosts[0].attr("port").is_some() {
                return Err(unsupported(
                    "port cannot be specified in 'nfs' protocol host",
                ));
            }
        }
        if let Some(enc) = s.child("encryption") {
            storage_encryption(enc, format, network, protocol)?;
        }
    }
    if let Some(enc) = holder.child("encryption") {
        storage_encryption(enc, format, network, protocol)?;
    }
    let max_size = holder
        .child("driver")
        .and_then(|d| d.child("metadata_cache"))
        .and_then(|m| m.child("max_size"))
        .is_some();
    if max_size && format != Some("qcow2") {
        return Err(unsupported(
            "metadata cache max size control is supported only with qcow2 images",
        ));
    }
    if let Some(b) = holder.child("backingStore") {
        if b.child("source").is_some() || b.attr("type").is_some() {
            storage_source(disk, b)?;
        }
    }
    Ok(())
}

fn storage_encryption(
    enc: &Element,
    format: Option<&str>,
    network: bool,
    protocol: &str,
) -> Result<()> {
    match enc.attr("format") {
        None | Some("default") | Some("qcow") => {
            return Err(unsupported("old qcow/qcow2 encryption is not supported"))
        }
        _ => {}
    }
    match enc.attr("engine").unwrap_or("qemu") {
        "librbd" => {
            if !network && protocol != "rbd" {
                return Err(unsupported(
                    "librbd encryption is supported only with RBD backed disks",
                ));
            }
        }
        _ => match enc.attr("format") {
            Some("luks2") => {
                return Err(unsupported(
                    "luks2 is currently not supported by the qemu encryption engine",
                ))
            }
            _ => {
                if !matches!(format, Some("qcow2" | "raw")) {
                    return Err(unsupported(
                        "encryption is supported only with 'raw' and 'qcow2' image format",
                    ));
                }
            }
        },
    }
    Ok(())
}

/// qemuValidateDomainDeviceDefDisk
fn disk(el: &Element, env: &Env) -> Result<()> {
    let target = el.child("target");
    let dst = target.and_then(|t| t.attr("dev")).unwrap_or("");
    let bus = target.and_then(|t| t.attr("bus")).unwrap_or("");
    let device = el.attr("device").unwrap_or("disk");
    let addr_type = el.child("address").and_then(|a| a.attr("type"));
    let driver = el.child("driver");
    if driver.and_then(|d| d.attr("copy_on_read")) == Some("on")
        && matches!(device, "cdrom" | "floppy")
    {
        return Err(unsupported(format!(
            "copy_on_read is not supported with removable disk '{}'",
            dst
        )));
    }
    if el.child("wwn").is_some() && bus != "ide" && bus != "scsi" {
        return Err(unsupported("Only ide and scsi disk support wwn"));
    }
    if (el.child("vendor").is_some() || el.child("product").is_some()) && bus != "scsi" {
        return Err(unsupported("Only scsi disk supports vendor and product"));
    }
    if device == "lun" {
        if bus != "virtio" && bus != "scsi" {
            return Err(unsupported(format!(
                "disk device='lun' is not supported for bus='{}'",
                bus
            )));
        }
        if driver.and_then(|d| d.attr("copy_on_read")) == Some("on") {
            return Err(unsupported(format!(
                "copy_on_read is not compatible with 'lun' disk '{}'",
                dst
            )));
        }
        if el.child("wwn").is_some() {
            return Err(unsupported("Setting wwn is not supported for lun device"));
        }
        if el.child("vendor").is_some() || el.child("product").is_some() {
            return Err(unsupported(
                "Setting vendor or product is not supported for lun device",
            ));
        }
    }
    if target.and_then(|t| t.attr("rotation_rate")).is_some() {
        if !matches!(bus, "scsi" | "ide" | "sata") {
            return Err(internal(
                "rotation rate is only valid for SCSI/IDE/SATA bus",
            ));
        }
        if device != "disk" {
            return Err(internal("rotation rate is only valid for disk device"));
        }
    }
    match bus {
        "scsi" | "ide" | "fdc" | "sata" if addr_type != Some("drive") => {
            return Err(internal(format!(
                "unexpected address type for {} disk",
                bus
            )));
        }
        "usb" if addr_type.is_some_and(|t| t != "usb") => {
            return Err(internal("unexpected address type for usb disk"));
        }
        _ => {}
    }
    let readonly = el.child("readonly").is_some();
    if readonly && device == "disk" {
        if bus == "ide" {
            return Err(unsupported("readonly ide disks are not supported"));
        }
        if bus == "sata" {
            return Err(unsupported("readonly sata disks are not supported"));
        }
    }
    if let Some(d) = driver {
        if d.attr("io") == Some("native") && !matches!(d.attr("cache"), Some("directsync" | "none"))
        {
            return Err(unsupported(
                "io='native' needs either no disk cache or directsync cache mode",
            ));
        }
    }
    if el.child("serial").is_some() && bus == "scsi" && device == "lun" {
        return Err(unsupported(
            "scsi-block 'lun' devices do not support the serial property",
        ));
    }
    if let Some(s) = el.child("serial") {
        let t = s.text();
        if !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '.' | '+' | '-'))
        {
            return Err(internal(format!(
                "driver serial '{}' contains unsafe characters",
                t
            )));
        }
    }
    // transient disks
    if el.child("transient").is_some() {
        let empty = el.child("source").is_none();
        if empty {
            return Err(unsupported(format!(
                "transient disk '{}' must not be empty",
                dst
            )));
        }
        if readonly {
            return Err(unsupported(format!(
                "transient disk '{}' must not be read-only",
                dst
            )));
        }
        if el.attr("type").unwrap_or("file") != "file" {
            return Err(unsupported(format!(
                "transient disk supported only with 'file' type ({})",
                dst
            )));
        }
        if device != "disk" {
            return Err(unsupported(format!(
                "transient disk supported only with 'disk' device ({})",
                dst
            )));
        }
    }
    let format = driver.and_then(|d| d.attr("type"));
    if el.child("shareable").is_some() && !readonly {
        let stype = el.attr("type").unwrap_or("file");
        let protocol = el
            .child("source")
            .and_then(|s| s.attr("protocol"))
            .unwrap_or("");
        // qemuBlockStorageSourceSupportsConcurrentAccess
        let concurrent =
            format == Some("raw") || (stype == "network" && matches!(protocol, "rbd" | "sheepdog"));
        if !concurrent {
            return Err(unsupported(format!(
                "shared access for disk '{}' requires use of supported storage format",
                dst
            )));
        }
    }
    if let Some(name) = driver.and_then(|d| d.attr("name")) {
        if name != "qemu" {
            return Err(unsupported(format!(
                "unsupported driver name '{}' for disk '{}'",
                name, dst
            )));
        }
    }
    match disk_name_parse(dst) {
        None => {
            return Err(unsupported(format!("invalid disk target '{}'", dst)));
        }
        Some((_, p)) if p != 0 => {
            return Err(unsupported(format!(
                "invalid disk target '{}', partitions can't appear in disk targets",
                dst
            )));
        }
        _ => {}
    }
    storage_source(el, el)?;
    if el.attr("type") == Some("vhostuser") && !env.caps.has_type("vhost-user-blk-pci") {
        return Err(unsupported(
            "vhostuser disk is not supported with this QEMU binary",
        ));
    }
    Ok(())
}

/// qemuValidateDomainDeviceDefGraphics
fn graphics(el: &Element, all: &[&Element]) -> Result<()> {
    let t = el.attr("type").unwrap_or("");
    let egl = all.iter().any(|g| g.attr("type") == Some("egl-headless"));
    let gl_on = el.child("gl").and_then(|g| g.attr("enable")) == Some("yes");
    if egl {
        if !matches!(t, "egl-headless" | "vnc" | "spice") {
            return Err(unsupported(
                "graphics type 'egl-headless' is only supported with one of: 'vnc', 'spice' graphics types",
            ));
        }
        if t == "spice" && gl_on {
            return Err(unsupported(
                "multiple OpenGL displays are not supported by QEMU",
            ));
        }
    }
    match t {
        "spice" => {
            let tls_port = el
                .attr("tlsPort")
                .and_then(|p| p.parse::<i64>().ok())
                .unwrap_or(0);
            let listen = el
                .child("listen")
                .and_then(|l| l.attr("type"))
                .unwrap_or("address");
            // qemu.conf's spice_tls defaults to off.
            if tls_port > 0 && matches!(listen, "address" | "network") {
                return Err(unsupported(
                    "spice TLS port set in XML configuration, but TLS is disabled in qemu.conf",
                ));
            }
        }
        "vnc" => {
            if let Some(p) = el.attr("passwd") {
                if p.len() > 8 {
                    return Err(unsupported(format!(
                        "VNC password is {} characters long, only 8 permitted",
                        p.len()
                    )));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The TPM backends and versions this host offers.
fn tpm(el: &Element, def: &Domain, env: &Env) -> Result<()> {
    let backend = el.child("backend");
    let btype = backend
        .and_then(|b| b.attr("type"))
        .unwrap_or("passthrough");
    let model = el.attr("model").unwrap_or("tpm-tis");
    let swtpm = find_in_path("swtpm") && find_in_path("swtpm_setup");
    if btype == "emulator" {
        let version = backend.and_then(|b| b.attr("version")).unwrap_or("1.2");
        if !swtpm {
            return Err(unsupported(format!(
                "TPM version '{}' is not supported",
                version
            )));
        }
        if version == "1.2" && model == "tpm-crb" {
            return Err(unsupported(format!(
                "Unsupported interface '{}' for TPM 1.2",
                model
            )));
        }
    }
    let backend_ok = match btype {
        "passthrough" => env.caps.has_type("tpm-passthrough"),
        "emulator" => swtpm && env.caps.has_type("tpm-emulator"),
        _ => false,
    };
    if !backend_ok {
        return Err(unsupported(format!(
            "The QEMU executable {} does not support TPM backend type {}",
            def.devices.emulator.as_deref().unwrap_or(""),
            btype
        )));
    }
    if !env.caps.has_type(model) {
        return Err(unsupported(format!(
            "The QEMU executable {} does not support TPM model {}",
            def.devices.emulator.as_deref().unwrap_or(""),
            model
        )));
    }
    Ok(())
}

/// qemuValidateDomainDeviceDefIOMMU
fn iommu(el: &Element, def: &Domain, acpi: bool) -> Result<()> {
    let model = el.attr("model").unwrap_or("");
    match model {
        "intel" if !is_q35(def) => Err(unsupported(format!(
            "IOMMU device: '{}' is only supported with Q35 machines",
            model
        ))),
        "smmuv3" => Err(unsupported(format!(
            "IOMMU device: '{}' is only supported with ARM Virt machines",
            model
        ))),
        "virtio" => {
            if !is_q35(def) {
                return Err(unsupported(format!(
                    "IOMMU device: '{}' is only supported with Q35 and ARM Virt machines",
                    model
                )));
            }
            if !acpi {
                return Err(unsupported(format!(
                    "IOMMU device: '{}' requires ACPI",
                    model
                )));
            }
            if el
                .child("address")
                .and_then(|a| a.attr("type"))
                .is_some_and(|t| t != "pci")
            {
                return Err(unsupported(format!(
                    "IOMMU device: '{}' needs a PCI address",
                    model
                )));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// qemuValidateDomainDeviceDefInput
fn input(el: &Element) -> Result<()> {
    if el.attr("bus") != Some("virtio") {
        return Ok(());
    }
    if matches!(
        el.attr("model"),
        Some("virtio-transitional" | "virtio-non-transitional")
    ) {
        return Err(unsupported(format!(
            "virtio (non-)transitional models are not supported for input type={}",
            el.attr("type").unwrap_or("")
        )));
    }
    Ok(())
}

/// qemuValidateDomainDeviceDefFS
fn filesystem(el: &Element) -> Result<()> {
    let driver = el.child("driver").and_then(|d| d.attr("type"));
    match driver {
        Some("handle") if el.attr("accessmode").unwrap_or("passthrough") != "passthrough" => {
            Err(unsupported("only supports passthrough accessmode"))
        }
        Some("loop" | "nbd" | "ploop") => Err(unsupported("Filesystem driver type not supported")),
        Some("virtiofs") if el.child("source").and_then(|s| s.attr("socket")).is_none() => {
            if el.child("readonly").is_some() {
                return Err(unsupported("virtiofs does not yet support read-only mode"));
            }
            if el.attr("accessmode").unwrap_or("passthrough") != "passthrough" {
                return Err(unsupported("virtiofs only supports passthrough accessmode"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// qemuValidateDomainDeviceDefHostdev (the boot checks).
fn hostdev(el: &Element) -> Result<()> {
    if el.attr("mode").unwrap_or("subsystem") != "subsystem" {
        return Ok(());
    }
    let boot = el.child("boot").is_some();
    match el.attr("type") {
        Some("scsi_host") if boot => Err(unsupported(
            "booting from assigned devices is not supported by vhost SCSI devices",
        )),
        Some("mdev") if boot => {
            let model = el.attr("model").unwrap_or("vfio-pci");
            Err(unsupported(format!(
                "booting from assigned devices is not supported by mediated devices of model {}",
                model
            )))
        }
        _ => Ok(()),
    }
}

/// qemuDomainDefTsegPostParse
fn tseg(def: &Domain, root: &Element) -> Result<()> {
    let Some(smm) = root.child("features").and_then(|f| f.child("smm")) else {
        return Ok(());
    };
    if smm.attr("state") != Some("on") {
        return Ok(());
    }
    let Some(t) = smm.child("tseg") else {
        return Ok(());
    };
    if !is_q35(def) {
        return Err(unsupported(
            "SMM TSEG is only supported with q35 machine type",
        ));
    }
    let bytes = t
        .text()
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|v| props::scale(v, t.attr("unit"), 1 << 20, u64::MAX).ok())
        .unwrap_or(0);
    if bytes & ((1 << 20) - 1) != 0 {
        return Err(unsupported("SMM TSEG size must be divisible by 1 MiB"));
    }
    Ok(())
}

/// A definition with feature-based firmware selection but no firmware
/// (virDomainDefOSValidate): refused for new definitions only; libvirt
/// drops the features of an existing one (migration compatibility).
pub fn firmware_features(def: &mut Domain, abi_update: bool) -> Result<()> {
    if def.os.firmware.is_some() {
        return Ok(());
    }
    let has = def.os.extra.children.iter().any(|c| c.name == "firmware");
    if !has {
        return Ok(());
    }
    if abi_update {
        return Err(Error::new(
            code::XML_DETAIL,
            from::DOMAIN,
            "cannot use feature-based firmware autoselection when firmware autoselection is disabled",
        ));
    }
    def.os.extra.children.retain(|c| c.name != "firmware");
    Ok(())
}

/// The QEMU driver's domain checks (qemuValidateDomainDef).
pub fn validate_domain(def: &Domain, env: &Env) -> Result<()> {
    let root = tree(def)?;
    domain(def, &root, env)?;
    tseg(def, &root)
}

/// The QEMU driver's device checks (qemuValidateDomainDeviceDef), which
/// libvirt runs after the generic ones of each device.
pub fn validate_devices(def: &Domain, env: &Env) -> Result<()> {
    let root = tree(def)?;
    let acpi = root
        .child("features")
        .and_then(|f| f.child("acpi"))
        .is_some();
    let Some(devices) = root.child("devices") else {
        return Ok(());
    };
    let graphics_all: Vec<&Element> = devices.children_named("graphics").collect();
    for el in devices.elements() {
        match el.name.as_str() {
            "disk" => disk(el, env)?,
            "graphics" => graphics(el, &graphics_all)?,
            "tpm" => tpm(el, def, env)?,
            "iommu" => iommu(el, def, acpi)?,
            "input" => input(el)?,
            "filesystem" => filesystem(el)?,
            "hostdev" => hostdev(el)?,
            _ => {}
        }
    }
    Ok(())
}
