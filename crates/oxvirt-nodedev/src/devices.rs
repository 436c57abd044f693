//! From a sysfs device to a node device, as libvirt's udev backend
//! classifies, names and describes it.

use oxvirt_xml::nodedev::*;

use crate::netdev;
use crate::pci;
use crate::sysfs::{parse_num, Sources, SysDev};

/// libvirt's node device name: `SUBSYSTEM_SYSNAME[_EXTRA]` with every
/// character that is not a letter or digit replaced by `_`.
pub fn device_name(subsystem: &str, sysname: &str, extra: Option<&str>) -> String {
    let mut n = format!("{}_{}", subsystem, sysname);
    if let Some(e) = extra {
        n.push('_');
        n.push_str(e);
    }
    n.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The kind of node device a sysfs device is, if any.
fn kind(d: &SysDev) -> Option<&'static str> {
    if let Some(t) = d.devtype() {
        return match t {
            "usb_device" => Some("usb_device"),
            "usb_interface" => Some("usb"),
            "scsi_host" => Some("scsi_host"),
            "scsi_target" => Some("scsi_target"),
            "scsi_device" => Some("scsi"),
            "disk" => Some("storage"),
            "wlan" => Some("net"),
            "drm_minor" => Some("drm"),
            _ => None,
        };
    }
    let mut k = None;
    if d.prop("PCI_CLASS").is_some() {
        k = Some("pci");
    }
    if d.prop("INTERFACE").is_some() {
        k = Some("net");
    }
    if d.prop("SUBSYSTEM") == Some("scsi_generic") {
        k = Some("scsi_generic");
    }
    k
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The node device for `d`, without its parent; None when libvirt would
/// not list it.
pub fn build(src: &Sources, d: &SysDev) -> Option<NodeDevice> {
    let subsystem = d.subsystem.clone().unwrap_or_default();
    let name = |extra: Option<&str>| device_name(&subsystem, &d.sysname, extra);
    let mut dev = NodeDevice {
        path: Some(d.syspath.display().to_string()),
        devnode: d.devnode(src),
        devlinks: d.devlinks.clone(),
        driver: d.prop("DRIVER").map(str::to_string),
        ..Default::default()
    };
    let cap = match kind(d)? {
        "pci" => {
            let class = parse_num(d.prop("PCI_CLASS")?, 16)? as i64;
            let addr = PciAddr::parse(d.syspath.file_name()?.to_str()?)?;
            let mut p = PciCap {
                class,
                addr,
                vendor: d.attr_num("vendor", 16).unwrap_or(0) as u32,
                product: d.attr_num("device", 16).unwrap_or(0) as u32,
                vendor_name: d.prop("ID_VENDOR_FROM_DATABASE").map(str::to_string),
                product_name: d.prop("ID_MODEL_FROM_DATABASE").map(str::to_string),
                numa_node: d
                    .attr("numa_node")
                    .and_then(|v| v.trim().parse::<i32>().ok()),
                physical_function: pci::physical_function(&d.syspath),
                virtual_functions: pci::virtual_functions(&d.syspath),
                iommu_group: pci::iommu_group(&d.syspath),
                ..Default::default()
            };
            if is_root() {
                if let Some(c) = pci::Config::read(&d.syspath) {
                    p.header_type = c.header_type();
                    p.pcie = c.pcie();
                }
            }
            dev.name = name(None);
            Cap::Pci(p)
        }
        "usb_device" => {
            let num = |k: &str, r: u32| d.prop(k).and_then(|v| parse_num(v, r));
            let u = UsbDevCap {
                bus: num("BUSNUM", 10)? as u32,
                device: num("DEVNUM", 10)? as u32,
                vendor: num("ID_VENDOR_ID", 16).or_else(|| d.attr_num("idVendor", 16))? as u32,
                product: num("ID_MODEL_ID", 16).or_else(|| d.attr_num("idProduct", 16))? as u32,
                vendor_name: d
                    .prop("ID_VENDOR_FROM_DATABASE")
                    .map(str::to_string)
                    .or_else(|| d.attr_string("manufacturer")),
                product_name: d
                    .prop("ID_MODEL_FROM_DATABASE")
                    .map(str::to_string)
                    .or_else(|| d.attr_string("product")),
            };
            dev.name = name(None);
            Cap::UsbDev(u)
        }
        "usb" => {
            let n = |a: &str| d.attr_num(a, 16).unwrap_or(0) as u32;
            dev.name = name(None);
            Cap::UsbIf(UsbIfCap {
                number: n("bInterfaceNumber"),
                class: n("bInterfaceClass"),
                subclass: n("bInterfaceSubClass"),
                protocol: n("bInterfaceProtocol"),
                description: None,
            })
        }
        "net" => {
            let ifname = d.prop("INTERFACE")?.to_string();
            let address = d.attr_string("address");
            dev.name = name(address.as_deref());
            let (speed, state) = netdev::link(&d.syspath)?;
            Cap::Net(NetCap {
                features: netdev::features(&ifname),
                ifname,
                address,
                speed,
                state: Some(state),
                subtype: if d.devtype() == Some("wlan") {
                    "80211"
                } else {
                    "80203"
                },
            })
        }
        "scsi_host" => {
            let host: u32 = d.sysname.strip_prefix("host")?.parse().ok()?;
            dev.name = name(None);
            Cap::ScsiHost(scsi_host(src, host))
        }
        "scsi_target" => {
            let parent = d.syspath.parent()?.file_name()?.to_str()?.to_string();
            let fc = parent.starts_with("rport-").then(|| {
                let wwpn = std::fs::read_to_string(
                    src.sys
                        .join("class/fc_remote_ports")
                        .join(&parent)
                        .join("port_name"),
                )
                .ok()?;
                Some((parent.clone(), wwpn.trim().to_string()))
            });
            dev.name = name(None);
            Cap::ScsiTarget {
                name: d.sysname.clone(),
                fc_remote_port: fc.flatten(),
            }
        }
        "scsi" => {
            let mut it = d.sysname.split(':').map(|p| p.parse::<u32>().ok());
            let (host, bus, target, lun) = (it.next()??, it.next()??, it.next()??, it.next()??);
            let kind = match d.attr_num("type", 0) {
                Some(t) => Some(
                    match t {
                        0 => "disk",
                        1 => "tape",
                        3 => "processor",
                        4 => "worm",
                        5 => "cdrom",
                        6 => "scanner",
                        7 => "mod",
                        8 => "changer",
                        0x0d => "enclosure",
                        0x0c => "raid",
                        _ => "",
                    }
                    .to_string(),
                )
                .filter(|s| !s.is_empty()),
                None => None,
            };
            dev.name = name(None);
            Cap::Scsi(ScsiCap {
                host,
                bus,
                target,
                lun,
                kind,
            })
        }
        "storage" => {
            let s = storage(src, d)?;
            dev.name = name(s.serial.as_deref());
            Cap::Storage(s)
        }
        "scsi_generic" => {
            let path = d.devnode(src)?;
            dev.name = name(None);
            Cap::ScsiGeneric { path }
        }
        "drm" => {
            let minor: i32 = d.prop("MINOR")?.parse().ok()?;
            let kind = match minor >> 6 {
                0 => "primary",
                1 => "control",
                2 => "render",
                _ => return None,
            };
            dev.name = name(None);
            Cap::Drm { kind }
        }
        _ => return None,
    };
    dev.caps.push(cap);
    Some(dev)
}

fn scsi_host(src: &Sources, host: u32) -> ScsiHostCap {
    let sh = src.sys.join(format!("class/scsi_host/host{}", host));
    let fc = src.sys.join(format!("class/fc_host/host{}", host));
    let read = |p: std::path::PathBuf| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    let unique_id = read(sh.join("unique_id")).and_then(|v| v.parse().ok());
    let fc_host = if fc.exists() {
        match (read(fc.join("node_name")), read(fc.join("port_name"))) {
            (Some(nn), Some(pn)) => Some((
                nn.trim_start_matches("0x").to_string(),
                pn.trim_start_matches("0x").to_string(),
                read(fc.join("fabric_name"))
                    .map(|f| f.trim_start_matches("0x").to_string())
                    .unwrap_or_default(),
            )),
            _ => None,
        }
    } else {
        None
    };
    let vport_ops = if fc.join("vport_create").exists() {
        match (
            read(fc.join("max_npiv_vports")).and_then(|v| v.parse().ok()),
            read(fc.join("npiv_vports_inuse")).and_then(|v| v.parse().ok()),
        ) {
            (Some(m), Some(n)) => Some((m, n)),
            _ => None,
        }
    } else {
        None
    };
    ScsiHostCap {
        host,
        unique_id,
        fc_host,
        vport_ops,
    }
}

/// A disk as libvirt describes it; None for what it skips (loop, zram,
/// device-mapper and other disks whose type it cannot tell).
fn storage(src: &Sources, d: &SysDev) -> Option<StorageCap> {
    let block = d.devnode(src)?;
    let trim = |s: Option<String>| s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let mut s = StorageCap {
        bus: d.prop("ID_BUS").map(str::to_string),
        serial: d.prop("ID_SERIAL").map(str::to_string),
        vendor: trim(d.attr_string("device/vendor")),
        model: trim(d.attr_string("device/model")),
        drive_type: d.prop("ID_TYPE").map(str::to_string),
        block,
        ..Default::default()
    };
    if s.drive_type.is_none() || s.drive_type.as_deref() == Some("generic") {
        let guess = if d.prop("ID_DRIVE_FLOPPY").is_some() {
            "floppy"
        } else if d.prop("ID_CDROM").is_some() {
            "cd"
        } else if d.prop("ID_DRIVE_FLASH_SD").is_some() {
            "sd"
        } else {
            let dev = src.dev.display().to_string();
            let b = s.block.strip_prefix(&dev).unwrap_or(&s.block);
            if b.starts_with("/vd") || b.starts_with("/nvme") {
                "disk"
            } else if b.starts_with("/dasd") {
                "dasd"
            } else {
                return None;
            }
        };
        s.drive_type = Some(guess.to_string());
    }
    let size_blocks = |s: &mut StorageCap| {
        s.num_blocks = d.attr_num("size", 0).unwrap_or(0);
        s.logical_block_size = d.attr_num("queue/logical_block_size", 0).unwrap_or(0);
    };
    match s.drive_type.as_deref() {
        Some("cd" | "cd/dvd") => {
            s.drive_type = Some("cdrom".into());
            let media = d
                .prop("ID_CDROM_MEDIA")
                .and_then(|v| parse_num(v, 0))
                .unwrap_or(0)
                != 0;
            removable(d, &mut s, media, size_blocks);
        }
        Some("floppy") => {
            let media = d.prop("ID_FS_LABEL").is_some();
            removable(d, &mut s, media, size_blocks);
        }
        Some("disk" | "sd") => {
            size_blocks(&mut s);
            s.size = s.num_blocks.saturating_mul(s.logical_block_size);
        }
        Some("dasd") => {
            s.serial = d.attr_string("device/uid");
            size_blocks(&mut s);
            s.size = s.num_blocks.saturating_mul(s.logical_block_size);
        }
        _ => return None,
    }
    Some(s)
}

fn removable(d: &SysDev, s: &mut StorageCap, media: bool, size_blocks: impl Fn(&mut StorageCap)) {
    let is_removable = d.attr_num("removable", 0) == Some(1);
    if !media {
        if is_removable {
            s.removable = Some((false, 0, None));
        }
        return;
    }
    s.removable = None;
    let label = d.prop("ID_FS_LABEL").map(str::to_string);
    size_blocks(s);
    let size = s.num_blocks.saturating_mul(s.logical_block_size);
    if is_removable {
        s.removable = Some((true, size, label));
    }
}

/// The `computer` device: DMI facts when the firmware offers them.
pub fn system(src: &Sources, host_uuid: impl Fn() -> String) -> NodeDevice {
    let dmi = src.sys.join("class/dmi/id");
    let mut sys = SystemCap {
        uuid: "00000000-0000-0000-0000-000000000000".into(),
        ..Default::default()
    };
    if dmi.exists() {
        let get = |f: &str| {
            std::fs::read_to_string(dmi.join(f))
                .ok()
                .map(|s| {
                    s.trim_end_matches('\n')
                        .chars()
                        .filter(|c| !c.is_control())
                        .collect::<String>()
                })
                .filter(|s| !s.is_empty())
        };
        sys.product = get("product_name");
        sys.hw_vendor = get("sys_vendor");
        sys.hw_version = get("product_version");
        sys.hw_serial = get("product_serial");
        sys.uuid = host_uuid();
        sys.fw_vendor = get("bios_vendor");
        sys.fw_version = get("bios_version");
        sys.fw_release_date = get("bios_date");
    }
    NodeDevice {
        name: "computer".into(),
        caps: vec![Cap::System(sys)],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(device_name("pci", "0000:00:02.0", None), "pci_0000_00_02_0");
        assert_eq!(
            device_name("net", "eth0", Some("02:fc:00:00:00:01")),
            "net_eth0_02_fc_00_00_00_01"
        );
        assert_eq!(device_name("scsi", "0:0:0:0", None), "scsi_0_0_0_0");
    }
}
