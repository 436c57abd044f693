//! libvirt's node device XML (`<device>`): the typed form a host's node
//! device driver fills in from sysfs, written as libvirt writes it.

use crate::writer::{Attrs, Writer};

/// A PCI address as node devices list it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct PciAddr {
    pub domain: u32,
    pub bus: u32,
    pub slot: u32,
    pub function: u32,
}

impl PciAddr {
    /// Parses `DDDD:BB:SS.F`.
    pub fn parse(s: &str) -> Option<PciAddr> {
        let (dom, rest) = s.split_once(':')?;
        let (bus, rest) = rest.split_once(':')?;
        let (slot, func) = rest.split_once('.')?;
        Some(PciAddr {
            domain: u32::from_str_radix(dom, 16).ok()?,
            bus: u32::from_str_radix(bus, 16).ok()?,
            slot: u32::from_str_radix(slot, 16).ok()?,
            function: u32::from_str_radix(func, 16).ok()?,
        })
    }

    fn write(&self, w: &mut Writer) {
        // libvirt writes the function in decimal after "0x".
        w.empty(
            "address",
            Attrs::new()
                .add("domain", format!("0x{:04x}", self.domain))
                .add("bus", format!("0x{:02x}", self.bus))
                .add("slot", format!("0x{:02x}", self.slot))
                .add("function", format!("0x{}", self.function)),
        );
    }
}

/// A PCIe link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcieLink {
    /// -1: not reported
    pub port: i32,
    /// libvirt's speed string ("2.5", "5", ...); None when unknown.
    pub speed: Option<&'static str>,
    pub width: u32,
}

/// PCI device details.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PciCap {
    /// -1: unknown
    pub class: i64,
    pub addr: PciAddr,
    pub product: u32,
    pub product_name: Option<String>,
    pub vendor: u32,
    pub vendor_name: Option<String>,
    pub physical_function: Option<PciAddr>,
    /// `(max VFs, VFs)`, shown when either is non-zero.
    pub virtual_functions: Option<(u32, Vec<PciAddr>)>,
    /// "pci-bridge" or "cardbus-bridge" (endpoints are not shown).
    pub header_type: Option<&'static str>,
    pub iommu_group: Option<(u32, Vec<PciAddr>)>,
    pub numa_node: Option<i32>,
    /// `Some((cap, sta))` for PCI Express devices.
    pub pcie: Option<Option<(PcieLink, PcieLink)>>,
}

/// USB device details.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsbDevCap {
    pub bus: u32,
    pub device: u32,
    pub product: u32,
    pub product_name: Option<String>,
    pub vendor: u32,
    pub vendor_name: Option<String>,
}

/// USB interface details.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsbIfCap {
    pub number: u32,
    pub class: u32,
    pub subclass: u32,
    pub protocol: u32,
    pub description: Option<String>,
}

/// Network interface details.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetCap {
    pub ifname: String,
    pub address: Option<String>,
    /// Mbit/s (0: not shown).
    pub speed: u32,
    /// operstate as libvirt spells it (None: not shown).
    pub state: Option<String>,
    /// ethtool features in libvirt's order.
    pub features: Vec<&'static str>,
    /// "80203" or "80211"
    pub subtype: &'static str,
}

/// SCSI host details.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScsiHostCap {
    pub host: u32,
    pub unique_id: Option<i32>,
    /// wwnn, wwpn, fabric_wwn of a Fibre Channel host.
    pub fc_host: Option<(String, String, String)>,
    /// max_vports, vports
    pub vport_ops: Option<(i32, i32)>,
}

/// SCSI device details.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScsiCap {
    pub host: u32,
    pub bus: u32,
    pub target: u32,
    pub lun: u32,
    pub kind: Option<String>,
}

/// Storage (disk) details.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorageCap {
    pub block: String,
    pub bus: Option<String>,
    pub drive_type: Option<String>,
    pub model: Option<String>,
    pub vendor: Option<String>,
    pub serial: Option<String>,
    pub size: u64,
    pub logical_block_size: u64,
    pub num_blocks: u64,
    /// media available, media size, media label
    pub removable: Option<(bool, u64, Option<String>)>,
    pub hotpluggable: bool,
}

/// The system (`computer`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemCap {
    pub product: Option<String>,
    pub hw_vendor: Option<String>,
    pub hw_version: Option<String>,
    pub hw_serial: Option<String>,
    pub uuid: String,
    pub fw_vendor: Option<String>,
    pub fw_version: Option<String>,
    pub fw_release_date: Option<String>,
}

/// One capability of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cap {
    System(SystemCap),
    Pci(PciCap),
    UsbDev(UsbDevCap),
    UsbIf(UsbIfCap),
    Net(NetCap),
    ScsiHost(ScsiHostCap),
    ScsiTarget {
        name: String,
        fc_remote_port: Option<(String, String)>,
    },
    Scsi(ScsiCap),
    Storage(StorageCap),
    ScsiGeneric {
        path: String,
    },
    Drm {
        kind: &'static str,
    },
}

impl Cap {
    /// libvirt's name of the capability type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Cap::System(_) => "system",
            Cap::Pci(_) => "pci",
            Cap::UsbDev(_) => "usb_device",
            Cap::UsbIf(_) => "usb",
            Cap::Net(_) => "net",
            Cap::ScsiHost(_) => "scsi_host",
            Cap::ScsiTarget { .. } => "scsi_target",
            Cap::Scsi(_) => "scsi",
            Cap::Storage(_) => "storage",
            Cap::ScsiGeneric { .. } => "scsi_generic",
            Cap::Drm { .. } => "drm",
        }
    }

    /// The capability's type and the nested ones it implies, as
    /// virNodeDeviceListCaps and the list filters see them.
    pub fn type_names(&self) -> Vec<&'static str> {
        let mut v = vec![self.type_name()];
        if let Cap::ScsiHost(h) = self {
            if h.fc_host.is_some() {
                v.push("fc_host");
            }
            if h.vport_ops.is_some() {
                v.push("vports");
            }
        }
        v
    }
}

/// One node device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeDevice {
    pub name: String,
    /// sysfs path (none for `computer`)
    pub path: Option<String>,
    pub devnode: Option<String>,
    pub devlinks: Vec<String>,
    pub parent: Option<String>,
    pub driver: Option<String>,
    pub caps: Vec<Cap>,
}

impl NodeDevice {
    /// The device as virNodeDeviceGetXMLDesc writes it.
    pub fn format(&self) -> String {
        let mut w = Writer::new();
        w.block("device", Attrs::new(), |w| {
            w.text("name", Attrs::new(), &self.name);
            w.opt_text("path", self.path.as_deref());
            if let Some(d) = &self.devnode {
                w.text("devnode", Attrs::new().add("type", "dev"), d);
            }
            for l in &self.devlinks {
                w.text("devnode", Attrs::new().add("type", "link"), l);
            }
            w.opt_text("parent", self.parent.as_deref());
            if let Some(d) = &self.driver {
                w.block("driver", Attrs::new(), |w| w.text("name", Attrs::new(), d));
            }
            for c in &self.caps {
                w.block("capability", Attrs::new().add("type", c.type_name()), |w| {
                    write_cap(w, c)
                });
            }
        });
        w.into_string()
    }
}

fn write_cap(w: &mut Writer, c: &Cap) {
    match c {
        Cap::System(s) => {
            w.opt_text("product", s.product.as_deref());
            w.block("hardware", Attrs::new(), |w| {
                w.opt_text("vendor", s.hw_vendor.as_deref());
                w.opt_text("version", s.hw_version.as_deref());
                w.opt_text("serial", s.hw_serial.as_deref());
                w.text("uuid", Attrs::new(), &s.uuid);
            });
            w.block("firmware", Attrs::new(), |w| {
                w.opt_text("vendor", s.fw_vendor.as_deref());
                w.opt_text("version", s.fw_version.as_deref());
                w.opt_text("release_date", s.fw_release_date.as_deref());
            });
        }
        Cap::Pci(p) => write_pci(w, p),
        Cap::UsbDev(u) => {
            w.text("bus", Attrs::new(), u.bus);
            w.text("device", Attrs::new(), u.device);
            // libvirt writes these two empty elements with a space.
            id_elem(w, "product", u.product, u.product_name.as_deref(), " ");
            id_elem(w, "vendor", u.vendor, u.vendor_name.as_deref(), " ");
        }
        Cap::UsbIf(u) => {
            w.text("number", Attrs::new(), u.number);
            w.text("class", Attrs::new(), u.class);
            w.text("subclass", Attrs::new(), u.subclass);
            w.text("protocol", Attrs::new(), u.protocol);
            w.opt_text("description", u.description.as_deref());
        }
        Cap::Net(n) => {
            w.text("interface", Attrs::new(), &n.ifname);
            w.opt_text("address", n.address.as_deref());
            let mut a = Attrs::new();
            if n.speed != 0 {
                a = a.add("speed", n.speed);
            }
            a = a.opt("state", n.state.as_deref());
            if !a.is_empty() {
                w.empty("link", a);
            }
            for f in &n.features {
                w.empty("feature", Attrs::new().add("name", f));
            }
            w.empty("capability", Attrs::new().add("type", n.subtype));
        }
        Cap::ScsiHost(h) => {
            w.text("host", Attrs::new(), h.host);
            if let Some(u) = h.unique_id {
                w.text("unique_id", Attrs::new(), u);
            }
            if let Some((nn, pn, fab)) = &h.fc_host {
                w.block("capability", Attrs::new().add("type", "fc_host"), |w| {
                    w.text("wwnn", Attrs::new(), nn);
                    w.text("wwpn", Attrs::new(), pn);
                    w.text("fabric_wwn", Attrs::new(), fab);
                });
            }
            if let Some((max, n)) = h.vport_ops {
                w.block("capability", Attrs::new().add("type", "vport_ops"), |w| {
                    w.text("max_vports", Attrs::new(), max);
                    w.text("vports", Attrs::new(), n);
                });
            }
        }
        Cap::ScsiTarget {
            name,
            fc_remote_port,
        } => {
            w.text("target", Attrs::new(), name);
            if let Some((rport, wwpn)) = fc_remote_port {
                w.block(
                    "capability",
                    Attrs::new().add("type", "fc_remote_port"),
                    |w| {
                        w.text("rport", Attrs::new(), rport);
                        w.text("wwpn", Attrs::new(), wwpn);
                    },
                );
            }
        }
        Cap::Scsi(s) => {
            w.text("host", Attrs::new(), s.host);
            w.text("bus", Attrs::new(), s.bus);
            w.text("target", Attrs::new(), s.target);
            w.text("lun", Attrs::new(), s.lun);
            w.opt_text("type", s.kind.as_deref());
        }
        Cap::Storage(s) => {
            w.text("block", Attrs::new(), &s.block);
            w.opt_text("bus", s.bus.as_deref());
            w.opt_text("drive_type", s.drive_type.as_deref());
            w.opt_text("model", s.model.as_deref());
            w.opt_text("vendor", s.vendor.as_deref());
            w.opt_text("serial", s.serial.as_deref());
            match &s.removable {
                Some((avail, size, label)) => {
                    w.block("capability", Attrs::new().add("type", "removable"), |w| {
                        w.text("media_available", Attrs::new(), u8::from(*avail));
                        w.text("media_size", Attrs::new(), size);
                        w.opt_text("media_label", label.as_deref());
                        if s.logical_block_size > 0 {
                            w.text("logical_block_size", Attrs::new(), s.logical_block_size);
                        }
                        if s.num_blocks > 0 {
                            w.text("num_blocks", Attrs::new(), s.num_blocks);
                        }
                    });
                }
                None => {
                    w.text("size", Attrs::new(), s.size);
                    if s.logical_block_size > 0 {
                        w.text("logical_block_size", Attrs::new(), s.logical_block_size);
                    }
                    if s.num_blocks > 0 {
                        w.text("num_blocks", Attrs::new(), s.num_blocks);
                    }
                }
            }
            if s.hotpluggable {
                w.empty("capability", Attrs::new().add("type", "hotpluggable"));
            }
        }
        Cap::ScsiGeneric { path } => w.text("char", Attrs::new(), path),
        Cap::Drm { kind } => w.text("type", Attrs::new(), kind),
    }
}

/// `<NAME id='0x....'>text</NAME>` or the empty form (`empty_sep` is what
/// libvirt puts before the `/>`).
fn id_elem(w: &mut Writer, name: &str, id: u32, text: Option<&str>, empty_sep: &str) {
    let id = format!("0x{:04x}", id);
    match text {
        Some(t) => w.text(name, Attrs::new().add("id", id), t),
        None => w.line(&format!("<{} id='{}'{}/>", name, id, empty_sep)),
    }
}

fn write_pci(w: &mut Writer, p: &PciCap) {
    if p.class >= 0 {
        w.text("class", Attrs::new(), format!("0x{:06x}", p.class));
    }
    w.text("domain", Attrs::new(), p.addr.domain);
    w.text("bus", Attrs::new(), p.addr.bus);
    w.text("slot", Attrs::new(), p.addr.slot);
    w.text("function", Attrs::new(), p.addr.function);
    id_elem(w, "product", p.product, p.product_name.as_deref(), "");
    id_elem(w, "vendor", p.vendor, p.vendor_name.as_deref(), "");
    if let Some(pf) = &p.physical_function {
        w.block(
            "capability",
            Attrs::new().add("type", "phys_function"),
            |w| pf.write(w),
        );
    }
    if let Some((max, vfs)) = &p.virtual_functions {
        let mut a = Attrs::new().add("type", "virt_functions");
        if *max != 0 {
            a = a.add("maxCount", max);
        }
        w.elem("capability", a, |w| {
            for v in vfs {
                v.write(w);
            }
        });
    }
    if let Some(h) = p.header_type {
        w.empty("capability", Attrs::new().add("type", h));
    }
    if let Some((n, devs)) = &p.iommu_group {
        if !devs.is_empty() {
            w.block("iommuGroup", Attrs::new().add("number", n), |w| {
                for d in devs {
                    d.write(w);
                }
            });
        }
    }
    if let Some(n) = p.numa_node {
        if n >= 0 {
            w.empty("numa", Attrs::new().add("node", n));
        }
    }
    if let Some(pcie) = &p.pcie {
        match pcie {
            None => w.empty("pci-express", Attrs::new()),
            Some((cap, sta)) => w.block("pci-express", Attrs::new(), |w| {
                for (l, validity) in [(cap, "cap"), (sta, "sta")] {
                    let mut a = Attrs::new().add("validity", validity);
                    if l.port >= 0 {
                        a = a.add("port", l.port);
                    }
                    if let Some(s) = l.speed {
                        a = a.add("speed", s);
                    }
                    w.empty("link", a.add("width", l.width));
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_device_as_libvirt_writes_it() {
        let d = NodeDevice {
            name: "pci_0000_00_03_0".into(),
            path: Some("/sys/devices/pci0000:00/0000:00:03.0".into()),
            parent: Some("computer".into()),
            driver: Some("virtio-pci".into()),
            caps: vec![Cap::Pci(PciCap {
                class: 0x020000,
                addr: PciAddr::parse("0000:00:03.0").expect("addr"),
                product: 0x1041,
                vendor: 0x1af4,
                ..Default::default()
            })],
            ..Default::default()
        };
        assert_eq!(
            d.format(),
            "<device>\n  <name>pci_0000_00_03_0</name>\n  <path>/sys/devices/pci0000:00/0000:00:03.0</path>\n  <parent>computer</parent>\n  <driver>\n    <name>virtio-pci</name>\n  </driver>\n  <capability type='pci'>\n    <class>0x020000</class>\n    <domain>0</domain>\n    <bus>0</bus>\n    <slot>3</slot>\n    <function>0</function>\n    <product id='0x1041'/>\n    <vendor id='0x1af4'/>\n  </capability>\n</device>\n"
        );
    }
}
