//! `<disk>`.

use crate::dom::{Element, Node};
use crate::error::Result;
use crate::props;
use crate::writer::{Attrs, Writer};

use super::super::{Extra, FormatFlags, ParseFlags};

/// A `<disk>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// `type`: file, block, dir, network, volume, nvme, vhostuser
    pub disk_type: Option<String>,
    /// `device`: disk, cdrom, floppy, lun
    pub device: Option<String>,
    /// The source path (file, dev or dir attribute) or network name.
    pub source: Option<String>,
    pub target_dev: Option<String>,
    pub target_bus: Option<String>,
    pub extra: Extra,
    /// The `<source>` and `<target>` elements as written.
    pub source_el: Option<Element>,
    pub target_el: Option<Element>,
}

/// The order in which libvirt writes the children of `<disk>`.
pub const DISK_ORDER: &[&str] = &[
    "driver",
    "auth",
    "source",
    "backingStore",
    "backenddomain",
    "geometry",
    "blockio",
    "mirror",
    "target",
    "iotune",
    "readonly",
    "shareable",
    "transient",
    "serial",
    "wwn",
    "vendor",
    "product",
    "encryption",
    "boot",
    "alias",
    "acpi",
    "address",
];

impl Disk {
    pub fn parse(el: &Element, _flags: ParseFlags) -> Result<Disk> {
        let source_el = el.child("source").cloned();
        let target_el = el.child("target").cloned();
        let source = source_el.as_ref().and_then(|s| {
            ["file", "dev", "dir", "name", "volume"]
                .iter()
                .find_map(|a| s.attr(a).map(str::to_string))
        });
        let mut disk_type = props::opt(el, "type");
        // A disk without a source has nothing to point at: libvirt keeps
        // it as an empty file-backed drive, whatever its type said.
        if source_el.is_none() {
            disk_type = Some("file".into());
        }
        let mut extra = Extra::collect(el, &["type", "device"], &["source", "target"]);
        for c in extra.children.iter_mut() {
            match c.name.as_str() {
                "driver" => canonical_driver(c),
                "backingStore" => canonical_backing_store(c),
                _ => {}
            }
        }
        let mut source_el = source_el;
        if let Some(src) = source_el.as_mut() {
            canonical_source(src, disk_type.as_deref().unwrap_or("file"));
        }
        Ok(Disk {
            disk_type,
            device: props::opt(el, "device"),
            source,
            target_dev: target_el.as_ref().and_then(|t| props::opt(t, "dev")),
            target_bus: target_el.as_ref().and_then(|t| props::opt(t, "bus")),
            extra,
            source_el,
            target_el,
        })
    }

    pub fn write(&self, w: &mut Writer, flags: FormatFlags) {
        let mut a = Attrs::new()
            .add("type", self.disk_type.as_deref().unwrap_or("file"))
            .add("device", self.device.as_deref().unwrap_or("disk"));
        // A read-only disk is never snapshotted: libvirt leaves out the
        // implied snapshot='no'.
        let readonly = self.extra.children.iter().any(|c| c.name == "readonly");
        for name in ["model", "rawio", "sgio", "snapshot"] {
            if let Some(v) = self.extra.attrs.iter().find(|x| x.name == name) {
                if name == "snapshot" && v.value == "no" && readonly {
                    continue;
                }
                a.push(name, &v.value);
            }
        }
        for at in &self.extra.attrs {
            if !["model", "rawio", "sgio", "snapshot"].contains(&at.name.as_str()) {
                a.push(&at.name, &at.value);
            }
        }
        w.elem("disk", a, |w| {
            self.extra.write_ordered(w, DISK_ORDER, |w, name| {
                match name {
                    "source" => self.source_el.iter().for_each(|e| {
                        let e = without_cookies(&strip_index(e, flags.inactive), flags.secure);
                        w.element(&device_seclabels(&e, flags))
                    }),
                    "backingStore" => {
                        for b in self
                            .extra
                            .children
                            .iter()
                            .filter(|c| c.name == "backingStore")
                        {
                            w.element(&without_cookies(
                                &strip_index(b, flags.inactive),
                                flags.secure,
                            ));
                        }
                    }
                    "mirror" if flags.inactive => {}
                    "target" => self.target_el.iter().for_each(|e| {
                        w.element(&canonical_target(
                            e,
                            self.device.as_deref().unwrap_or("disk"),
                        ))
                    }),
                    "iotune" => self.iotune().element().iter().for_each(|e| w.element(e)),
                    _ => return false,
                }
                true
            });
        });
    }
}

/// `<target>` with libvirt's attribute order; only an open tray of a
/// CD-ROM or floppy drive is written.
fn canonical_target(t: &Element, device: &str) -> Element {
    let mut out = t.clone();
    let order = ["dev", "bus", "tray", "removable", "rotation_rate"];
    let open = matches!(device, "cdrom" | "floppy") && t.attr("tray") == Some("open");
    out.attrs.retain(|a| a.name != "tray" || open);
    out.attrs.sort_by_key(|a| {
        order
            .iter()
            .position(|o| *o == a.name)
            .unwrap_or(order.len())
    });
    out
}

/// A drive address (`<address type='drive'>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DriveAddress {
    pub controller: u32,
    pub bus: u32,
    pub target: u32,
    pub unit: u32,
}

impl DriveAddress {
    pub fn of(el: &Element) -> Option<DriveAddress> {
        let a = el.child("address")?;
        if a.attr("type") != Some("drive") {
            return None;
        }
        let n = |k: &str| {
            a.attr(k)
                .and_then(props::parse_u64_any_base)
                .map(|v| v as u32)
                .unwrap_or(0)
        };
        Some(DriveAddress {
            controller: n("controller"),
            bus: n("bus"),
            target: n("target"),
            unit: n("unit"),
        })
    }

    pub fn element(&self) -> Element {
        let mut a = Element::new("address");
        a.set_attr("type", "drive");
        a.set_attr("controller", self.controller.to_string());
        a.set_attr("bus", self.bus.to_string());
        a.set_attr("target", self.target.to_string());
        a.set_attr("unit", self.unit.to_string());
        a
    }
}

/// libvirt's `<iotune>` limits, in the order it writes them and reports
/// them (virDomainGetBlockIoTune); `group_name` comes between the
/// 13th and the 14th.
pub const IOTUNE_LIMITS: [&str; 19] = [
    "total_bytes_sec",
    "read_bytes_sec",
    "write_bytes_sec",
    "total_iops_sec",
    "read_iops_sec",
    "write_iops_sec",
    "total_bytes_sec_max",
    "read_bytes_sec_max",
    "write_bytes_sec_max",
    "total_iops_sec_max",
    "read_iops_sec_max",
    "write_iops_sec_max",
    "size_iops_sec",
    "total_bytes_sec_max_length",
    "read_bytes_sec_max_length",
    "write_bytes_sec_max_length",
    "total_iops_sec_max_length",
    "read_iops_sec_max_length",
    "write_iops_sec_max_length",
];

/// Where `group_name` sits among [`IOTUNE_LIMITS`].
pub const IOTUNE_GROUP_AT: usize = 13;

/// A disk's `<iotune>` (virDomainBlockIoTuneInfo): limits by the index
/// of their name in [`IOTUNE_LIMITS`], 0 meaning unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IoTune {
    pub limits: [u64; 19],
    pub group_name: Option<String>,
}

impl IoTune {
    /// The limit named `name`.
    pub fn get(&self, name: &str) -> Option<u64> {
        IOTUNE_LIMITS
            .iter()
            .position(|n| *n == name)
            .map(|i| self.limits[i])
    }

    /// Sets the limit named `name`; false when there is no such limit.
    pub fn set(&mut self, name: &str, v: u64) -> bool {
        match IOTUNE_LIMITS.iter().position(|n| *n == name) {
            Some(i) => {
                self.limits[i] = v;
                true
            }
            None => false,
        }
    }

    fn parse(el: Option<&Element>) -> IoTune {
        let mut t = IoTune::default();
        let Some(el) = el else {
            return t;
        };
        for (i, name) in IOTUNE_LIMITS.iter().enumerate() {
            t.limits[i] = el
                .child_text(name)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
        }
        t.group_name = el.child_text("group_name");
        t
    }

    /// virDomainDiskDefFormatIotune: set limits only, nothing when empty.
    pub fn element(&self) -> Option<Element> {
        let mut e = Element::new("iotune");
        let mut add = |name: &str, v: String| {
            let mut c = Element::new(name);
            c.children.push(Node::Text(v));
            e.children.push(Node::Element(c));
        };
        for (i, name) in IOTUNE_LIMITS.iter().enumerate() {
            if i == IOTUNE_GROUP_AT {
                if let Some(g) = &self.group_name {
                    add("group_name", g.clone());
                }
            }
            if self.limits[i] != 0 {
                add(name, self.limits[i].to_string());
            }
        }
        e.has_element_children().then_some(e)
    }
}

/// The index of a disk name (`sda` 0, `hdz` 25, `vdaa` 26), as
/// libvirt's virDiskNameToIndex computes it.
pub fn disk_name_index(name: &str) -> Option<u32> {
    let rest = ["fd", "hd", "vd", "sd", "xvd", "ubd"]
        .iter()
        .find_map(|p| name.strip_prefix(p))?;
    let letters: String = rest
        .chars()
        .take_while(|c| c.is_ascii_lowercase())
        .collect();
    if letters.is_empty() {
        return None;
    }
    let digits = &rest[letters.len()..];
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut idx: u64 = 0;
    for (i, c) in letters.bytes().enumerate() {
        idx = (idx + if i < 1 { 0 } else { 1 }) * 26 + (c - b'a') as u64;
        if idx > i32::MAX as u64 {
            return None;
        }
    }
    Some(idx as u32)
}

impl Disk {
    /// `<iotune>`
    pub fn iotune(&self) -> IoTune {
        IoTune::parse(self.extra.children.iter().find(|c| c.name == "iotune"))
    }

    /// Replaces `<iotune>` (virDomainDiskSetBlockIOTune).
    pub fn set_iotune(&mut self, t: &IoTune) {
        self.extra.children.retain(|c| c.name != "iotune");
        self.extra.children.extend(t.element());
    }

    /// The bus, once post-parse has filled it in.
    pub fn bus(&self) -> &str {
        self.target_bus.as_deref().unwrap_or("ide")
    }

    /// The drive address, if the disk has one.
    pub fn drive_address(&self) -> Option<DriveAddress> {
        let a = self.extra.children.iter().find(|c| c.name == "address")?;
        let mut holder = Element::new("disk");
        holder.children.push(crate::dom::Node::Element(a.clone()));
        DriveAddress::of(&holder)
    }

    fn has_address(&self) -> bool {
        self.extra.children.iter().any(|c| c.name == "address")
    }

    fn set_bus(&mut self, bus: &str) {
        self.target_bus = Some(bus.to_string());
        if let Some(t) = self.target_el.as_mut() {
            t.set_attr("bus", bus);
        }
    }

    /// libvirt's per-disk defaults (virDomainDiskDefPostParse): the bus
    /// from the target name, cdroms read-only, a drive address from the
    /// target name.
    pub fn post_parse(&mut self) -> Result<()> {
        if let Some(d) = self.target_dev.clone() {
            if let Some(s) = d.strip_prefix("ioemu:") {
                self.target_dev = Some(s.to_string());
                if let Some(t) = self.target_el.as_mut() {
                    t.set_attr("dev", s);
                }
            }
        }
        // An iSCSI source without a LUN means LUN 0
        // (virDomainPostParseCheckISCSIPath).
        if self.disk_type.as_deref() == Some("network") {
            if let Some(src) = self.source_el.as_mut() {
                if src.attr("protocol") == Some("iscsi") {
                    if let Some(name) = src.attr("name").filter(|n| !n.contains('/')) {
                        let name = format!("{}/0", name);
                        src.set_attr("name", name.clone());
                        self.source = Some(name);
                    }
                }
            }
        }
        // vhost-user disks cannot be snapshotted.
        if self.disk_type.as_deref() == Some("vhostuser")
            && !self.extra.attrs.iter().any(|a| a.name == "snapshot")
        {
            self.extra.attrs.push(crate::dom::Attr {
                name: "snapshot".into(),
                value: "no".into(),
            });
        }
        if self.device.as_deref() == Some("cdrom")
            && !self.extra.children.iter().any(|c| c.name == "readonly")
        {
            self.extra.children.push(Element::new("readonly"));
        }
        if self.target_bus.is_none() {
            let dst = self.target_dev.as_deref().unwrap_or("");
            let bus = if self.device.as_deref() == Some("floppy") {
                "fdc"
            } else if dst.starts_with("hd") {
                "ide"
            } else if dst.starts_with("sd") {
                "scsi"
            } else if dst.starts_with("vd") {
                "virtio"
            } else if dst.starts_with("xvd") {
                "xen"
            } else if dst.starts_with("ubd") {
                "uml"
            } else {
                "ide"
            };
            self.set_bus(bus);
        }
        Ok(())
    }

    /// Assigns a drive address from the target name when the disk has
    /// none (virDomainDiskDefAssignAddress, narrow SCSI bus).
    pub fn assign_address(&mut self, scsi_hostdev_used: &[DriveAddress]) -> Result<()> {
        if self.has_address() {
            return Ok(());
        }
        let Some(dst) = self.target_dev.clone() else {
            return Ok(());
        };
        let Some(idx) = disk_name_index(&dst) else {
            return Err(crate::error::Error::xml(format!(
                "Unknown disk name '{}' and no address specified",
                dst
            )));
        };
        let addr = match self.bus() {
            "scsi" => {
                let a = DriveAddress {
                    controller: idx / 7,
                    bus: 0,
                    target: 0,
                    unit: idx % 7,
                };
                if scsi_hostdev_used.contains(&a) {
                    return Err(crate::error::Error::unsupported(format!(
                        "using disk target name '{}' conflicts with SCSI host device address controller='{}' bus='0' target='0' unit='{}",
                        dst, a.controller, a.unit
                    )));
                }
                a
            }
            "ide" => DriveAddress {
                controller: idx / 4,
                bus: (idx % 4) / 2,
                target: 0,
                unit: idx % 2,
            },
            "sata" => DriveAddress {
                controller: idx / 6,
                bus: 0,
                target: 0,
                unit: idx % 6,
            },
            "fdc" => DriveAddress {
                controller: idx / 2,
                bus: 0,
                target: 0,
                unit: idx % 2,
            },
            _ => return Ok(()),
        };
        self.extra.children.push(addr.element());
        Ok(())
    }
}

/// A storage source's `<seclabel>`s as libvirt keeps them
/// (virSecurityDeviceLabelDefParseXML/Format): `labelskip` is read from
/// live XML only, the relabel flag is explicit, and the inactive form
/// leaves out a relabelling label that names no label.
fn device_seclabels(src: &Element, flags: FormatFlags) -> Element {
    use crate::dom::Node;
    let mut out = src.clone();
    out.children.retain_mut(|n| {
        let Node::Element(l) = n else { return true };
        if l.name != "seclabel" {
            return true;
        }
        let skip = !flags.inactive && l.attr("labelskip") == Some("yes");
        let relabel = l.attr("relabel") != Some("no");
        let label = l.child("label").map(|x| x.text());
        if flags.inactive && label.is_none() && relabel {
            return false;
        }
        let mut fresh = Element::new("seclabel");
        fresh.line = l.line;
        if let Some(m) = l.attr("model") {
            fresh.set_attr("model", m);
        }
        if skip {
            fresh.set_attr("labelskip", "yes");
        } else {
            fresh.set_attr("relabel", if relabel { "yes" } else { "no" });
        }
        if let Some(t) = label {
            let mut le = Element::new("label");
            le.children.push(Node::Text(t));
            fresh.children.push(Node::Element(le));
        }
        *l = fresh;
        true
    });
    out
}

fn rank(order: &[&str], name: &str) -> usize {
    order.iter().position(|n| *n == name).unwrap_or(order.len())
}

/// A size in bytes as libvirt writes a metadata cache's `<max_size>`; a
/// value that does not parse is left as written.
fn max_size_in_bytes(m: &mut Element) {
    use crate::dom::Node;
    for n in m.children.iter_mut() {
        let Node::Element(s) = n else { continue };
        if s.name != "max_size" {
            continue;
        }
        if let Some(b) = s
            .text()
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|v| props::scale(v, s.attr("unit"), 1, u64::MAX).ok())
        {
            let mut fresh = Element::new("max_size");
            fresh.set_attr("unit", "bytes");
            fresh.children.push(Node::Text(b.to_string()));
            *s = fresh;
        }
    }
}

/// A disk's `<driver>` in libvirt's attribute order
/// (virDomainDiskDefFormatDriver), its metadata cache size in bytes.
fn canonical_driver(d: &mut Element) {
    use crate::dom::Node;
    const ORDER: &[&str] = &[
        "name",
        "type",
        "cache",
        "error_policy",
        "rerror_policy",
        "io",
        "ioeventfd",
        "event_idx",
        "copy_on_read",
        "discard",
        "iothread",
        "detect_zeroes",
        "queues",
        "queue_size",
        "iommu",
        "ats",
        "packed",
        "page_per_vq",
    ];
    d.attrs.sort_by_key(|a| rank(ORDER, &a.name));
    for n in d.children.iter_mut() {
        if let Node::Element(m) = n {
            if m.name == "metadata_cache" {
                max_size_in_bytes(m);
            }
        }
    }
}

/// A `<backingStore>` chain with each level's children in libvirt's
/// order: format, source, the next backing store.
fn canonical_backing_store(b: &mut Element) {
    use crate::dom::Node;
    let btype = b.attr("type").unwrap_or("file").to_string();
    let mut kids: Vec<Element> = b.elements().cloned().collect();
    for k in kids.iter_mut() {
        if k.name == "source" {
            canonical_source(k, &btype);
        } else if k.name == "backingStore" {
            canonical_backing_store(k);
        } else if k.name == "format" {
            for n in k.children.iter_mut() {
                if let Node::Element(m) = n {
                    if m.name == "metadata_cache" {
                        max_size_in_bytes(m);
                    }
                }
            }
        }
    }
    kids.sort_by_key(|c| rank(&["format", "source", "backingStore"], &c.name));
    b.children = kids.into_iter().map(Node::Element).collect();
}

/// The port libvirt gives a network host of `protocol` without one
/// (virStorageSourceNetworkDefaultPort).
fn default_port(protocol: &str) -> Option<u32> {
    Some(match protocol {
        "http" => 80,
        "https" => 443,
        "ftp" => 21,
        "ftps" => 990,
        "tftp" => 69,
        "sheepdog" => 7000,
        "nbd" => 10809,
        "ssh" => 22,
        "iscsi" => 3260,
        "gluster" => 24007,
        "vxhs" => 9999,
        _ => return None,
    })
}

/// A storage `<source>` as libvirt stores it: TCP hosts of a network
/// source carry their protocol's default port
/// (virStorageSourceNetworkAssignDefaultPorts); a volume source's
/// attributes are in libvirt's order.
fn canonical_source(src: &mut Element, stype: &str) {
    use crate::dom::{Attr, Node};
    match stype {
        "network" => {
            let Some(port) = src.attr("protocol").and_then(default_port) else {
                return;
            };
            for n in src.children.iter_mut() {
                let Node::Element(h) = n else { continue };
                if h.name != "host"
                    || h.attr("port").is_some()
                    || h.attr("transport").is_some_and(|t| t != "tcp")
                {
                    continue;
                }
                let at = h
                    .attrs
                    .iter()
                    .position(|a| a.name == "name")
                    .map(|p| p + 1)
                    .unwrap_or(0);
                h.attrs.insert(
                    at,
                    Attr {
                        name: "port".into(),
                        value: port.to_string(),
                    },
                );
            }
        }
        "volume" => {
            let order = ["pool", "volume", "mode"];
            src.attrs.sort_by_key(|a| rank(&order, &a.name));
        }
        _ => {}
    }
}

/// Cookies are secrets: written only with the secure flag
/// (virDomainDiskSourceFormatNetwork).
fn without_cookies(el: &Element, secure: bool) -> Element {
    let mut out = el.clone();
    if secure {
        return out;
    }
    out.children.retain_mut(|n| match n {
        crate::dom::Node::Element(c) if c.name == "cookies" => false,
        crate::dom::Node::Element(c) if c.name == "source" || c.name == "backingStore" => {
            *c = without_cookies(c, secure);
            true
        }
        _ => true,
    });
    out
}

/// Storage source indexes are live data; the inactive form drops them.
fn strip_index(el: &Element, inactive: bool) -> Element {
    let mut out = el.clone();
    if inactive {
        out.attrs.retain(|a| a.name != "index");
        for n in out.children.iter_mut() {
            if let crate::dom::Node::Element(c) = n {
                if c.name == "source" || c.name == "backingStore" {
                    *c = strip_index(c, inactive);
                }
            }
        }
    }
    out
}
