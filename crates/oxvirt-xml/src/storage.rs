//! Storage pools (`<pool>`) and volumes (`<volume>`): parse, validate,
//! fill defaults and format in libvirt's canonical form.
//!
//! What a pool's source holds, and which formats its volumes may have,
//! depends on the pool type: [`PoolType::options`] gives libvirt's table.

use crate::dom::{self, Attr, Element};
use crate::error::{Error, Result};
use crate::props::{self, Uuid, XmlEnum};
use crate::writer::{Attrs, Writer};

crate::xml_enum! {
    /// `<pool type=...>`
    pub enum PoolType {
        Dir = "dir", Fs = "fs", Netfs = "netfs", Logical = "logical", Disk = "disk",
        Iscsi = "iscsi", IscsiDirect = "iscsi-direct", Scsi = "scsi", Mpath = "mpath",
        Rbd = "rbd", Sheepdog = "sheepdog", Gluster = "gluster", Zfs = "zfs",
        Vstorage = "vstorage",
    }
}

crate::xml_enum! {
    /// `<volume type=...>`
    pub enum VolType {
        File = "file", Block = "block", Dir = "dir", Network = "network",
        Netdir = "netdir", Ploop = "ploop",
    }
}

/// Which parts of `<source>` a pool type uses.
pub mod source_flags {
    pub const HOST: u32 = 1;
    pub const DEVICE: u32 = 2;
    pub const DIR: u32 = 4;
    pub const ADAPTER: u32 = 8;
    pub const NAME: u32 = 16;
    pub const INITIATOR_IQN: u32 = 32;
    pub const NETWORK: u32 = 64;
}

/// libvirt's per-type pool and volume options.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub flags: u32,
    /// Source formats (first = value 0) and the default one.
    pub formats: Option<(&'static [&'static str], &'static str)>,
    /// Volume formats and the default one.
    pub vol_formats: Option<(&'static [&'static str], &'static str)>,
}

const FS_FORMATS: &[&str] = &[
    "auto", "ext2", "ext3", "ext4", "ufs", "iso9660", "udf", "gfs", "gfs2", "vfat", "hfs+", "xfs",
    "ocfs2", "vmfs",
];
const NETFS_FORMATS: &[&str] = &["auto", "nfs", "glusterfs", "cifs"];
const DISK_FORMATS: &[&str] = &[
    "unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2",
];
const LOGICAL_FORMATS: &[&str] = &["unknown", "lvm2"];
/// Volume file formats; "none" is not accepted on input.
pub const FILE_FORMATS: &[&str] = &[
    "none", "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop",
    "cow", "qcow", "qcow2", "qed", "vmdk",
];
const DISK_VOL_FORMATS: &[&str] = &[
    "none",
    "linux",
    "fat16",
    "fat32",
    "linux-swap",
    "linux-lvm",
    "linux-raid",
    "extended",
];

impl PoolType {
    pub fn options(self) -> PoolOptions {
        use source_flags::*;
        let file = Some((FILE_FORMATS, "raw"));
        let (flags, formats, vol_formats) = match self {
            PoolType::Logical => (NAME | DEVICE, Some((LOGICAL_FORMATS, "lvm2")), None),
            PoolType::Dir => (0, None, file),
            PoolType::Fs => (DEVICE, Some((FS_FORMATS, "auto")), file),
            PoolType::Netfs => (HOST | DIR, Some((NETFS_FORMATS, "auto")), file),
            PoolType::Iscsi => (HOST | DEVICE | INITIATOR_IQN, None, None),
            PoolType::IscsiDirect => (HOST | DEVICE | NETWORK | INITIATOR_IQN, None, None),
            PoolType::Scsi => (ADAPTER, None, None),
            PoolType::Rbd => (HOST | NETWORK | NAME, None, file),
            PoolType::Sheepdog => (HOST | NETWORK | NAME, None, None),
            PoolType::Gluster => (HOST | NETWORK | NAME | DIR, None, file),
            PoolType::Mpath => (0, None, None),
            PoolType::Disk => (
                DEVICE,
                Some((DISK_FORMATS, "unknown")),
                Some((DISK_VOL_FORMATS, "none")),
            ),
            PoolType::Zfs => (NAME | DEVICE, None, None),
            PoolType::Vstorage => (NAME, None, file),
        };
        PoolOptions {
            flags,
            formats,
            vol_formats,
        }
    }
}

/// `<permissions>` of a pool target or a volume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Perms {
    pub mode: Option<u32>,
    pub owner: Option<i64>,
    pub group: Option<i64>,
    pub label: Option<String>,
}

impl Perms {
    fn parse(el: Option<&Element>) -> Result<Perms> {
        let Some(el) = el else {
            return Ok(Perms::default());
        };
        let mut p = Perms::default();
        if let Some(m) = el.child("mode") {
            let t = m.text();
            let v = i64::from_str_radix(t.trim(), 8)
                .ok()
                .filter(|v| *v & !0o777 == 0)
                .ok_or_else(|| Error::xml("malformed octal mode"))?;
            p.mode = Some(v as u32);
        }
        let id = |name: &str| -> Result<Option<i64>> {
            match el.child(name) {
                None => Ok(None),
                Some(c) => {
                    let v: i64 = c
                        .text()
                        .trim()
                        .parse()
                        .map_err(|_| Error::xml(format!("malformed {} element", name)))?;
                    if v == -1 || v == u32::MAX as i64 {
                        Ok(None)
                    } else if (0..=u32::MAX as i64).contains(&v) {
                        Ok(Some(v))
                    } else {
                        Err(Error::xml(format!("malformed {} element", name)))
                    }
                }
            }
        };
        p.owner = id("owner")?;
        p.group = id("group")?;
        p.label = el.child("label").map(|l| l.text());
        Ok(p)
    }

    fn is_empty(&self) -> bool {
        self.mode.is_none() && self.owner.is_none() && self.group.is_none() && self.label.is_none()
    }

    fn format(&self, w: &mut Writer) {
        if self.is_empty() {
            return;
        }
        w.block("permissions", Attrs::new(), |w| {
            if let Some(m) = self.mode {
                w.text("mode", Attrs::new(), format!("0{:o}", m));
            }
            w.opt_text("owner", self.owner);
            w.opt_text("group", self.group);
            w.opt_text("label", self.label.as_deref());
        });
    }
}

/// libvirt's virFileSanitizePath: no repeated or trailing slashes, but a
/// leading `//` (exactly two) is kept.
pub fn sanitize_path(p: &str) -> String {
    let keep_double = p.starts_with("//") && !p.starts_with("///");
    let mut out = String::with_capacity(p.len());
    let mut prev_slash = false;
    for c in p.chars() {
        if c == '/' {
            if prev_slash {
                continue;
            }
            prev_slash = true;
        } else {
            prev_slash = false;
        }
        out.push(c);
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    if keep_double {
        out.insert(0, '/');
    }
    out
}

/// `<adapter>` of a SCSI pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adapter {
    ScsiHost {
        name: Option<String>,
        /// `(unique_id, <address> element)`
        parentaddr: Option<(i64, Element)>,
    },
    FcHost {
        attrs: Vec<(&'static str, String)>,
        managed: Option<bool>,
        wwnn: String,
        wwpn: String,
    },
}

fn parse_adapter(el: &Element) -> Result<Adapter> {
    let t = el.attr("type");
    match t {
        None | Some("scsi_host") => {
            if t.is_none() && el.attr("name").is_none() {
                return Err(Error::xml("Use of 'type' attribute is required"));
            }
            let parentaddr = match el.child("parentaddr") {
                None => None,
                Some(pa) => {
                    let uid = pa
                        .attr("unique_id")
                        .and_then(|u| u.parse().ok())
                        .ok_or_else(|| {
                            Error::xml("Missing or invalid scsi adapter 'unique_id' value")
                        })?;
                    let addr = pa
                        .child("address")
                        .cloned()
                        .ok_or_else(|| Error::xml("Missing scsi_host PCI address element"))?;
                    Some((uid, addr))
                }
            };
            let name = props::opt(el, "name");
            if name.is_none() && parentaddr.is_none() {
                return Err(Error::xml(
                    "Either 'name' or 'parent' must be specified for the 'scsi_host' adapter",
                ));
            }
            Ok(Adapter::ScsiHost { name, parentaddr })
        }
        Some("fc_host") => {
            let wwnn = props::opt(el, "wwnn");
            let wwpn = props::opt(el, "wwpn");
            let (Some(wwnn), Some(wwpn)) = (wwnn, wwpn) else {
                return Err(Error::xml(
                    "'wwnn' and 'wwpn' must be specified for adapter type 'fchost'",
                ));
            };
            let mut attrs = Vec::new();
            for a in ["parent", "parent_wwnn", "parent_wwpn", "parent_fabric_wwn"] {
                if let Some(v) = el.attr(a) {
                    attrs.push((a, v.to_string()));
                }
            }
            Ok(Adapter::FcHost {
                attrs,
                managed: props::opt_yes_no(el, "managed")?,
                wwnn,
                wwpn,
            })
        }
        Some(v) => Err(Error::xml(format!(
            "Invalid value for attribute 'type' in element 'adapter': '{}'.",
            v
        ))),
    }
}

/// `<auth>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub kind: Option<String>,
    pub username: String,
    pub secret: Option<Element>,
}

/// `<device>` of a pool source, with the free extents a disk pool found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceDevice {
    pub path: String,
    pub part_separator: Option<bool>,
    /// `(start, end)` in bytes; filled in by the driver, never read.
    pub free_extents: Vec<(u64, u64)>,
}

/// `<source>` of a pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolSource {
    pub hosts: Vec<(String, Option<i32>)>,
    pub devices: Vec<SourceDevice>,
    pub dir: Option<String>,
    pub adapter: Option<Adapter>,
    pub name: Option<String>,
    pub initiator_iqn: Option<String>,
    pub format: Option<String>,
    pub auth: Option<Auth>,
    pub protocol_ver: Option<String>,
    pub vendor: Option<String>,
    pub product: Option<String>,
}

/// A storage pool definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub kind: PoolType,
    pub name: String,
    pub uuid: Uuid,
    pub uuid_specified: bool,
    /// Bytes; filled in by the driver, never read from the document.
    pub capacity: u64,
    pub allocation: u64,
    pub available: u64,
    pub cow: Option<bool>,
    pub source: PoolSource,
    pub target_path: Option<String>,
    pub perms: Perms,
    pub refresh_allocation: Option<String>,
    /// Extension namespace declaration and its elements (rbd, fs).
    pub ns: Option<(Attr, Vec<Element>)>,
}

fn parse_source(el: Option<&Element>, kind: PoolType) -> Result<PoolSource> {
    let opts = kind.options();
    let mut s = PoolSource::default();
    let Some(el) = el else {
        if let Some((_, def)) = opts.formats {
            s.format = Some(def.to_string());
        }
        return Ok(s);
    };
    s.name = el.child("name").map(|n| n.text());
    if kind == PoolType::Rbd && s.name.is_none() {
        return Err(Error::xml("element 'name' is mandatory for RBD pool"));
    }
    if let Some((list, def)) = opts.formats {
        match el.child("format").and_then(|f| f.attr("type")) {
            None => s.format = Some(def.to_string()),
            Some(f) if list.contains(&f) => s.format = Some(f.to_string()),
            Some(f) => {
                return Err(Error::unsupported(format!(
                    "unknown pool format type {}",
                    f
                )))
            }
        }
    }
    for h in el.children_named("host") {
        let name = h
            .attr("name")
            .ok_or_else(|| Error::xml("missing storage pool host name"))?;
        s.hosts.push((name.to_string(), props::opt_int(h, "port")?));
    }
    s.initiator_iqn = el
        .child("initiator")
        .and_then(|i| i.child("iqn"))
        .and_then(|q| q.attr("name"))
        .map(str::to_string);
    for d in el.children_named("device") {
        let path = d
            .attr("path")
            .ok_or_else(|| Error::xml("missing storage pool source device path"))?;
        s.devices.push(SourceDevice {
            path: path.to_string(),
            part_separator: props::opt_yes_no(d, "part_separator")?,
            free_extents: Vec::new(),
        });
    }
    s.dir = el
        .child("dir")
        .and_then(|d| d.attr("path"))
        .map(sanitize_path);
    if s.dir.is_none() && kind == PoolType::Gluster {
        s.dir = Some("/".into());
    }
    if let Some(a) = el.child("adapter") {
        s.adapter = Some(parse_adapter(a)?);
    }
    if let Some(a) = el.child("auth") {
        let username = a
            .attr("username")
            .ok_or_else(|| Error::xml("missing username for auth"))?;
        let kind = match a.attr("type") {
            None => None,
            Some(t @ ("chap" | "ceph")) => Some(t.to_string()),
            Some(t) => return Err(Error::xml(format!("unknown auth type '{}'", t))),
        };
        if kind.is_none() {
            return Err(Error::unsupported("storage pool missing auth type"));
        }
        s.auth = Some(Auth {
            kind,
            username: username.to_string(),
            secret: a.child("secret").cloned(),
        });
    }
    if let Some(v) = el.child("protocol").and_then(|p| p.attr("ver")) {
        let fmt = s.format.as_deref().unwrap_or("");
        if kind != PoolType::Netfs || (fmt != "nfs" && fmt != "auto") {
            return Err(Error::unsupported(format!(
                "storage pool protocol ver unsupported for pool type '{}'",
                fmt
            )));
        }
        if v.contains(',') {
            return Err(Error::Detail(format!(
                "storage pool protocol ver '{}' must not contain ','",
                v
            )));
        }
        s.protocol_ver = Some(v.to_string());
    }
    s.vendor = el
        .child("vendor")
        .and_then(|v| v.attr("name"))
        .map(str::to_string);
    s.product = el
        .child("product")
        .and_then(|v| v.attr("name"))
        .map(str::to_string);
    Ok(s)
}

const RBD_NS: &str = "http://libvirt.org/schemas/storagepool/rbd/1.0";
const FS_NS: &str = "http://libvirt.org/schemas/storagepool/fs/1.0";

fn parse_ns(el: &Element, kind: PoolType) -> Option<(Attr, Vec<Element>)> {
    let (uri, local) = match kind {
        PoolType::Rbd => (RBD_NS, "config_opts"),
        PoolType::Fs | PoolType::Netfs => (FS_NS, "mount_opts"),
        _ => return None,
    };
    let decl = el
        .attrs
        .iter()
        .find(|a| a.name.starts_with("xmlns:") && a.value == uri)?;
    let prefix = decl.name.strip_prefix("xmlns:")?;
    let els: Vec<Element> = el
        .elements()
        .filter(|c| c.name.split_once(':') == Some((prefix, local)))
        .cloned()
        .collect();
    if els.is_empty() {
        return None;
    }
    Some((decl.clone(), els))
}

impl Pool {
    /// Parses a pool document (`virStoragePoolDefParse`).
    pub fn parse(xml: &str) -> Result<Pool> {
        let mut root = dom::parse(xml, "(storage_pool_definition)")?;
        root.strip_blanks();
        if root.name != "pool" {
            return Err(Error::xml(format!(
                "unexpected root element <{}>, expecting <pool>",
                root.name
            )));
        }
        Pool::from_element(&root)
    }

    pub fn from_element(el: &Element) -> Result<Pool> {
        use source_flags::*;
        let kind: PoolType = props::req_enum(el, "type")?;
        let opts = kind.options();
        let mut source = parse_source(el.child("source"), kind)?;
        let mut name = el.child("name").map(|n| n.text());
        if name.is_none() && opts.flags & NAME != 0 {
            name = source.name.clone();
        }
        let name = name.ok_or_else(|| Error::xml("missing pool source name element"))?;
        if name.contains('/') {
            return Err(Error::xml(format!("name {} cannot contain '/'", name)));
        }
        let (uuid, uuid_specified) = match el.child("uuid").map(|u| u.text()) {
            None => (Uuid::default(), false),
            Some(u) => (
                Uuid::parse(&u).ok_or_else(|| Error::xml("malformed uuid element"))?,
                true,
            ),
        };
        let cow = match el.child("features").and_then(|f| f.child("cow")) {
            None => None,
            Some(c) => {
                let v = props::opt_yes_no(c, "state")?;
                if v.is_some() && kind != PoolType::Fs && kind != PoolType::Dir {
                    return Err(Error::unsupported(
                        "cow feature may only be used for 'fs' and 'dir' pools",
                    ));
                }
                v
            }
        };
        if opts.flags & HOST != 0 && source.hosts.is_empty() {
            return Err(Error::xml("missing storage pool source host name"));
        }
        if opts.flags & DIR != 0 && source.dir.is_none() {
            return Err(Error::xml("missing storage pool source path"));
        }
        if opts.flags & NAME != 0 && source.name.is_none() {
            source.name = Some(name.clone());
        }
        if opts.flags & ADAPTER != 0 && source.adapter.is_none() {
            return Err(Error::xml("Missing storage pool source adapter"));
        }
        if opts.flags == DEVICE && source.devices.is_empty() {
            return Err(Error::xml("missing storage pool source device name"));
        }
        let mut target_path = None;
        let mut perms = Perms::default();
        if opts.flags & NETWORK == 0 {
            let p = match kind {
                PoolType::Logical => format!("/dev/{}", source.name.as_deref().unwrap_or("")),
                PoolType::Zfs => format!("/dev/zvol/{}", source.name.as_deref().unwrap_or("")),
                _ => el
                    .child("target")
                    .and_then(|t| t.child("path"))
                    .map(|p| p.text())
                    .ok_or_else(|| Error::xml("missing storage pool target path"))?,
            };
            target_path = Some(sanitize_path(&p));
            perms = Perms::parse(el.child("target").and_then(|t| t.child("permissions")))?;
        }
        if kind == PoolType::IscsiDirect && source.initiator_iqn.is_none() {
            return Err(Error::unsupported("missing initiator IQN"));
        }
        let refresh_allocation = match el
            .child("refresh")
            .and_then(|r| r.child("volume"))
            .and_then(|v| v.attr("allocation"))
        {
            None => None,
            Some(a @ ("default" | "capacity")) => Some(a.to_string()),
            Some(a) => {
                return Err(Error::unsupported(format!(
                    "unknown storage pool volume refresh allocation type {}",
                    a
                )))
            }
        };
        Ok(Pool {
            kind,
            name,
            uuid,
            uuid_specified,
            capacity: 0,
            allocation: 0,
            available: 0,
            cow,
            source,
            target_path,
            perms,
            refresh_allocation,
            ns: parse_ns(el, kind),
        })
    }

    /// True for pool types without a local target (rbd, sheepdog,
    /// gluster, iscsi-direct).
    pub fn has_target(&self) -> bool {
        !matches!(
            self.kind,
            PoolType::Rbd | PoolType::Sheepdog | PoolType::Gluster | PoolType::IscsiDirect
        )
    }

    /// Formats the definition (`virStoragePoolDefFormat`).
    pub fn format(&self) -> String {
        let mut w = Writer::new();
        let mut a = Attrs::new().add("type", self.kind);
        if let Some((decl, _)) = &self.ns {
            a.push(&decl.name, &decl.value);
        }
        w.block("pool", a, |w| {
            w.text("name", Attrs::new(), &self.name);
            w.text("uuid", Attrs::new(), self.uuid);
            let bytes = || Attrs::new().add("unit", "bytes");
            w.text("capacity", bytes(), self.capacity);
            w.text("allocation", bytes(), self.allocation);
            w.text("available", bytes(), self.available);
            if let Some(c) = self.cow {
                w.block("features", Attrs::new(), |w| {
                    w.empty(
                        "cow",
                        Attrs::new().add("state", if c { "yes" } else { "no" }),
                    );
                });
            }
            format_source(w, self.kind, &self.source);
            if self.has_target() {
                w.block("target", Attrs::new(), |w| {
                    w.opt_text("path", self.target_path.as_deref());
                    self.perms.format(w);
                });
            }
            if let Some(r) = &self.refresh_allocation {
                w.block("refresh", Attrs::new(), |w| {
                    w.empty("volume", Attrs::new().add("allocation", r))
                });
            }
            if let Some((_, els)) = &self.ns {
                for e in els {
                    w.element(e);
                }
            }
        });
        w.into_string()
    }
}

/// Formats a pool `<source>` as libvirt does for a pool of type `kind`
/// (virStoragePoolSourceFormat).
pub fn format_source(w: &mut Writer, kind: PoolType, s: &PoolSource) {
    use source_flags::*;
    let opts = kind.options();
    w.block("source", Attrs::new(), |w| {
        if opts.flags & HOST != 0 {
            for (h, port) in &s.hosts {
                w.empty(
                    "host",
                    Attrs::new()
                        .add("name", h)
                        .opt("port", port.filter(|p| *p != 0)),
                );
            }
        }
        if opts.flags & DEVICE != 0 {
            for d in &s.devices {
                let a = Attrs::new().add("path", &d.path).opt(
                    "part_separator",
                    d.part_separator.map(|v| if v { "yes" } else { "no" }),
                );
                if d.free_extents.is_empty() {
                    w.empty("device", a);
                } else {
                    w.block("device", a, |w| {
                        for (start, end) in &d.free_extents {
                            w.empty(
                                "freeExtent",
                                Attrs::new().add("start", start).add("end", end),
                            );
                        }
                    });
                }
            }
        }
        if opts.flags & DIR != 0 {
            if let Some(d) = &s.dir {
                w.empty("dir", Attrs::new().add("path", d));
            }
        }
        if opts.flags & ADAPTER != 0 {
            match &s.adapter {
                Some(Adapter::ScsiHost { name, parentaddr }) => {
                    let a = Attrs::new().add("type", "scsi_host");
                    match (name, parentaddr) {
                        (Some(n), _) => w.empty("adapter", a.add("name", n)),
                        (None, Some((uid, addr))) => w.block("adapter", a, |w| {
                            w.block("parentaddr", Attrs::new().add("unique_id", uid), |w| {
                                format_pci(w, addr)
                            });
                        }),
                        (None, None) => w.empty("adapter", a),
                    }
                }
                Some(Adapter::FcHost {
                    attrs,
                    managed,
                    wwnn,
                    wwpn,
                }) => {
                    let mut a = Attrs::new().add("type", "fc_host");
                    for (k, v) in attrs {
                        a.push(k, v);
                    }
                    let a = a
                        .opt("managed", managed.map(|m| if m { "yes" } else { "no" }))
                        .add("wwnn", wwnn)
                        .add("wwpn", wwpn);
                    w.empty("adapter", a);
                }
                None => {}
            }
        }
        if opts.flags & NAME != 0 {
            w.opt_text("name", s.name.as_deref());
        }
        if opts.flags & INITIATOR_IQN != 0 {
            if let Some(iqn) = &s.initiator_iqn {
                w.block("initiator", Attrs::new(), |w| {
                    w.empty("iqn", Attrs::new().add("name", iqn))
                });
            }
        }
        if opts.formats.is_some() {
            if let Some(f) = &s.format {
                w.empty("format", Attrs::new().add("type", f));
            }
        }
        if let Some(a) = &s.auth {
            let attrs = Attrs::new()
                .opt("type", a.kind.as_deref())
                .add("username", &a.username);
            w.block("auth", attrs, |w| {
                if let Some(sec) = &a.secret {
                    w.element(sec);
                }
            });
        }
        if let Some(v) = &s.protocol_ver {
            w.empty("protocol", Attrs::new().add("ver", v));
        }
        if let Some(v) = &s.vendor {
            w.empty("vendor", Attrs::new().add("name", v));
        }
        if let Some(v) = &s.product {
            w.empty("product", Attrs::new().add("name", v));
        }
    });
}

/// Parses a source specification (`<source>...</source>`, virsh
/// find-storage-pool-sources' spec) for a pool type
/// (virStoragePoolDefParseSourceString).
pub fn parse_source_spec(xml: &str, kind: PoolType) -> Result<PoolSource> {
    let mut root = dom::parse(xml, "(storage_source_specification)")?;
    root.strip_blanks();
    if root.name != "source" {
        return Err(Error::xml(format!(
            "unexpected root element <{}>, expecting <source>",
            root.name
        )));
    }
    parse_source(Some(&root), kind)
}

/// Formats a list of discovered sources (virStoragePoolSourceListFormat).
pub fn format_sources(kind: PoolType, sources: &[PoolSource]) -> String {
    let mut w = Writer::new();
    w.block("sources", Attrs::new(), |w| {
        for s in sources {
            format_source(w, kind, s);
        }
    });
    w.into_string()
}

/// Every pool type, in libvirt's order (virStoragePoolType).
pub const POOL_TYPES: &[PoolType] = &[
    PoolType::Dir,
    PoolType::Fs,
    PoolType::Netfs,
    PoolType::Logical,
    PoolType::Disk,
    PoolType::Iscsi,
    PoolType::IscsiDirect,
    PoolType::Scsi,
    PoolType::Mpath,
    PoolType::Rbd,
    PoolType::Sheepdog,
    PoolType::Gluster,
    PoolType::Zfs,
    PoolType::Vstorage,
];

/// `<storagepoolCapabilities>` (virStoragePoolCapsFormat): every pool
/// type with its source and volume formats; `supported` says which types
/// have a backend.
pub fn pool_capabilities(supported: impl Fn(PoolType) -> bool) -> String {
    let mut w = Writer::new();
    w.block("storagepoolCapabilities", Attrs::new(), |w| {
        for t in POOL_TYPES {
            let opts = t.options();
            let a = Attrs::new()
                .add("type", t)
                .add("supported", if supported(*t) { "yes" } else { "no" });
            w.block("pool", a, |w| {
                if let Some((list, def)) = opts.formats {
                    w.block("poolOptions", Attrs::new(), |w| {
                        w.empty("defaultFormat", Attrs::new().add("type", def));
                        w.block("enum", Attrs::new().add("name", "sourceFormatType"), |w| {
                            for f in list {
                                w.text("value", Attrs::new(), f);
                            }
                        });
                    });
                }
                if let Some((list, def)) = opts.vol_formats {
                    // libvirt lists no formats for rbd volumes.
                    let list: &[&str] = if *t == PoolType::Rbd { &[] } else { list };
                    w.block("volOptions", Attrs::new(), |w| {
                        w.empty("defaultFormat", Attrs::new().add("type", def));
                        w.block("enum", Attrs::new().add("name", "targetFormatType"), |w| {
                            for f in list {
                                w.text("value", Attrs::new(), f);
                            }
                        });
                    });
                }
            });
        }
    });
    w.into_string()
}

fn format_pci(w: &mut Writer, addr: &Element) {
    let get = |a: &str| {
        addr.attr(a)
            .and_then(props::parse_u64_any_base)
            .unwrap_or(0)
    };
    w.empty(
        "address",
        Attrs::new()
            .add("domain", format!("0x{:04x}", get("domain")))
            .add("bus", format!("0x{:02x}", get("bus")))
            .add("slot", format!("0x{:02x}", get("slot")))
            .add("function", format!("0x{:x}", get("function"))),
    );
}

/// A secret reference inside `<encryption>` (by UUID or by usage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretLookup {
    Uuid(Uuid),
    Usage(String),
}

/// `<encryption>` of a volume (`virStorageEncryption`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    /// default, qcow, luks or luks2.
    pub format: String,
    /// qemu or librbd; None for the default engine.
    pub engine: Option<String>,
    /// `<secret type='passphrase' .../>` elements, in order.
    pub secrets: Vec<SecretLookup>,
    /// LUKS cipher: name, size, mode, hash.
    pub cipher: Option<(String, u32, Option<String>, Option<String>)>,
    /// LUKS ivgen: name, hash.
    pub ivgen: Option<(String, Option<String>)>,
}

const ENCRYPTION_FORMATS: &[&str] = &["default", "qcow", "luks", "luks2"];

impl Encryption {
    /// `virStorageEncryptionParseNode`.
    pub fn parse(el: &Element) -> Result<Encryption> {
        let format = el
            .attr("format")
            .ok_or_else(|| Error::xml("unknown volume encryption format"))?;
        if !ENCRYPTION_FORMATS.contains(&format) {
            return Err(Error::unsupported(format!(
                "unknown volume encryption format type {}",
                format
            )));
        }
        let engine = match el.attr("engine") {
            None => None,
            Some(e @ ("qemu" | "librbd")) => Some(e.to_string()),
            Some(e) => {
                return Err(Error::xml(format!(
                    "Invalid value for attribute 'engine' in element '{}': '{}'.",
                    el.name, e
                )))
            }
        };
        let mut secrets = Vec::new();
        for s in el.children_named("secret") {
            match s.attr("type") {
                None => return Err(Error::xml("unknown volume encryption secret type")),
                Some("passphrase") => {}
                Some(t) => {
                    return Err(Error::unsupported(format!(
                        "unknown volume encryption secret type {}",
                        t
                    )))
                }
            }
            secrets.push(match (s.attr("uuid"), s.attr("usage")) {
                (None, None) => return Err(Error::xml("missing secret uuid or usage attribute")),
                (Some(_), Some(_)) => {
                    return Err(Error::xml("either secret uuid or usage expected"))
                }
                (Some(u), None) => SecretLookup::Uuid(
                    Uuid::parse(u)
                        .ok_or_else(|| Error::xml(format!("invalid secret uuid '{}'", u)))?,
                ),
                (None, Some(u)) => SecretLookup::Usage(u.to_string()),
            });
        }
        let (mut cipher, mut ivgen) = (None, None);
        if format == "luks" {
            if let Some(c) = el.child("cipher") {
                let name = c
                    .attr("name")
                    .ok_or_else(|| Error::xml("cipher info missing 'name' attribute"))?;
                let size = match c.attr("size") {
                    None => return Err(props::missing_attr(c, "size")),
                    Some(v) => v.trim().parse::<u32>().map_err(|_| {
                        Error::xml(format!(
                            "Invalid value for attribute 'size' in element 'cipher': '{}'. Expected non-negative integer value",
                            v
                        ))
                    })?,
                };
                cipher = Some((
                    name.to_string(),
                    size,
                    props::opt(c, "mode"),
                    props::opt(c, "hash"),
                ));
            }
            if let Some(i) = el.child("ivgen") {
                if cipher.is_none() {
                    return Err(Error::xml("ivgen element found, but cipher is missing"));
                }
                let name = i
                    .attr("name")
                    .ok_or_else(|| Error::xml("missing ivgen info name string"))?;
                ivgen = Some((name.to_string(), props::opt(i, "hash")));
            }
        }
        Ok(Encryption {
            format: format.to_string(),
            engine,
            secrets,
            cipher,
            ivgen,
        })
    }

    /// An encryption found in an image header: the format alone.
    pub fn probed(format: &str) -> Encryption {
        Encryption {
            format: format.to_string(),
            engine: None,
            secrets: Vec::new(),
            cipher: None,
            ivgen: None,
        }
    }

    pub fn format_into(&self, w: &mut Writer) {
        let a = Attrs::new()
            .add("format", &self.format)
            .opt("engine", self.engine.as_deref());
        w.block("encryption", a, |w| {
            for s in &self.secrets {
                let a = Attrs::new().add("type", "passphrase");
                w.empty(
                    "secret",
                    match s {
                        SecretLookup::Uuid(u) => a.add("uuid", u),
                        SecretLookup::Usage(u) => a.add("usage", u),
                    },
                );
            }
            if self.format == "luks" {
                if let Some((name, size, mode, hash)) = &self.cipher {
                    w.empty(
                        "cipher",
                        Attrs::new()
                            .add("name", name)
                            .add("size", size)
                            .opt("mode", mode.as_deref())
                            .opt("hash", hash.as_deref()),
                    );
                    if let Some((name, hash)) = &self.ivgen {
                        w.empty(
                            "ivgen",
                            Attrs::new().add("name", name).opt("hash", hash.as_deref()),
                        );
                    }
                }
            }
        });
    }
}

/// A file timestamp: seconds and nanoseconds (`struct timespec`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

/// `<timestamps>` of a volume target (read from the file, never parsed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timestamps {
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
    pub btime: Timespec,
}

/// `<target>` or `<backingStore>` of a volume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolTarget {
    pub path: Option<String>,
    pub format: Option<String>,
    pub perms: Perms,
    pub timestamps: Option<Timestamps>,
    pub encryption: Option<Encryption>,
    pub compat: Option<String>,
    pub nocow: bool,
    pub cluster_size: u64,
    /// `Some` when `<features>` was given: the features set.
    pub features: Option<Vec<String>>,
}

/// One extent of a volume's source (a disk partition's place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extent {
    pub path: String,
    pub start: u64,
    pub end: u64,
}

/// A storage volume definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub kind: VolType,
    pub name: String,
    pub key: Option<String>,
    /// Bytes.
    pub capacity: u64,
    pub allocation: u64,
    /// The last offset of the file or device (display only; 0 = not shown).
    pub physical: u64,
    /// True when `<allocation>` was given.
    pub has_allocation: bool,
    /// True when `<capacity>` was given.
    pub has_capacity: bool,
    pub extents: Vec<Extent>,
    pub target: VolTarget,
    pub backing: Option<VolTarget>,
}

/// How a volume document is parsed (`VIR_VOL_XML_PARSE_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VolParseFlags {
    pub no_capacity: bool,
    pub opt_capacity: bool,
}

/// virStorageSize: strtoull's leading blanks, nothing after the digits.
fn storage_size(value: &str, unit: Option<&str>) -> Result<u64> {
    let n: u64 = value
        .trim_start()
        .parse()
        .map_err(|_| Error::xml("malformed capacity element"))?;
    props::scale(n, unit, 1, i64::MAX as u64)
}

/// An element's text as virXPathString("string(./NAME)") gives it: an
/// empty element counts as absent.
fn text_of<'a>(el: &'a Element, name: &str) -> Option<(String, &'a Element)> {
    el.child(name)
        .map(|c| (c.text(), c))
        .filter(|(t, _)| !t.is_empty())
}

fn vol_format(kind: PoolType, given: Option<&str>) -> Result<Option<String>> {
    let Some((list, def)) = kind.options().vol_formats else {
        return Ok(None);
    };
    match given {
        None => Ok(Some(def.to_string())),
        Some(f) if list.contains(&f) && !(list == FILE_FORMATS && f == "none") => {
            Ok(Some(f.to_string()))
        }
        Some(f) => Err(Error::unsupported(format!(
            "unknown volume format type {}",
            f
        ))),
    }
}

impl Volume {
    /// Parses a volume document for a pool of type `pool`
    /// (`virStorageVolDefParse`).
    pub fn parse(xml: &str, pool: PoolType, flags: VolParseFlags) -> Result<Volume> {
        let mut root = dom::parse(xml, "(storage_volume_definition)")?;
        root.strip_blanks();
        if root.name != "volume" {
            return Err(Error::xml(format!(
                "unexpected root element <{}>, expecting <volume>",
                root.name
            )));
        }
        Volume::from_element(&root, pool, flags)
    }

    pub fn from_element(el: &Element, pool: PoolType, flags: VolParseFlags) -> Result<Volume> {
        let name = el
            .child("name")
            .map(|n| n.text())
            .ok_or_else(|| Error::xml("missing volume name element"))?;
        let key = el.child("key").map(|k| k.text());
        let kind = match el.attr("type") {
            None => VolType::File,
            Some(t) => VolType::from_xml(t)
                .ok_or_else(|| Error::unsupported(format!("unknown volume type '{}'", t)))?,
        };
        let backing = match el
            .child("backingStore")
            .and_then(|b| b.child("path"))
            .map(|p| p.text())
        {
            None => None,
            Some(path) => {
                let b = el.child("backingStore");
                Some(VolTarget {
                    path: Some(path),
                    format: vol_format(
                        pool,
                        b.and_then(|b| b.child("format"))
                            .and_then(|f| f.attr("type")),
                    )?,
                    perms: Perms::parse(b.and_then(|b| b.child("permissions")))?,
                    ..Default::default()
                })
            }
        };
        let (capacity, has_capacity) = match text_of(el, "capacity") {
            Some((v, c)) => (storage_size(&v, c.attr("unit"))?, true),
            None => {
                if !(flags.no_capacity || (flags.opt_capacity && backing.is_some())) {
                    return Err(Error::xml("missing capacity element"));
                }
                (0, false)
            }
        };
        let (allocation, has_allocation) = match text_of(el, "allocation") {
            Some((v, a)) => (storage_size(&v, a.attr("unit"))?, true),
            None => (capacity, false),
        };
        let t = el.child("target");
        let tc = |n: &str| t.and_then(|t| t.child(n));
        let mut target = VolTarget {
            path: tc("path").map(|p| p.text()),
            format: vol_format(pool, tc("format").and_then(|f| f.attr("type")))?,
            perms: Perms::parse(tc("permissions"))?,
            timestamps: None,
            encryption: tc("encryption").map(Encryption::parse).transpose()?,
            compat: tc("compat").map(|c| c.text()),
            nocow: tc("nocow").is_some(),
            cluster_size: 0,
            features: None,
        };
        if let Some(c) = &target.compat {
            let ok = c
                .split_once('.')
                .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok());
            if !ok {
                return Err(Error::xml("forbidden characters in 'compat' attribute"));
            }
        }
        if let Some(cs) = tc("clusterSize") {
            let v: u64 = cs.text().trim().parse().map_err(|_| {
                Error::xml(
                    "Invalid value '".to_string()
                        + &cs.text()
                        + "' for element or attribute './target/clusterSize'",
                )
            })?;
            target.cluster_size = props::scale(v, cs.attr("unit"), 1, u64::MAX)?;
        }
        if let Some(f) = tc("features") {
            if target.compat.is_none() {
                target.compat = Some("1.1".into());
            }
            let mut set = Vec::new();
            for c in f.elements() {
                if c.name != "lazy_refcounts" && c.name != "extended_l2" {
                    return Err(Error::unsupported(format!(
                        "unsupported feature {}",
                        c.name
                    )));
                }
                set.push(c.name.clone());
            }
            target.features = Some(set);
        }
        Ok(Volume {
            kind,
            name,
            key,
            capacity,
            allocation,
            physical: 0,
            has_allocation,
            has_capacity,
            extents: Vec::new(),
            target,
            backing,
        })
    }

    /// Formats the definition (`virStorageVolDefFormat`).
    pub fn format(&self) -> String {
        let mut w = Writer::new();
        w.block("volume", Attrs::new().add("type", self.kind), |w| {
            w.text("name", Attrs::new(), &self.name);
            w.opt_text("key", self.key.as_deref());
            if !self.extents.is_empty() {
                w.block("source", Attrs::new(), |w| {
                    let mut i = 0;
                    while i < self.extents.len() {
                        let path = &self.extents[i].path;
                        w.block("device", Attrs::new().add("path", path), |w| {
                            while i < self.extents.len() && self.extents[i].path == *path {
                                let e = &self.extents[i];
                                w.empty(
                                    "extent",
                                    Attrs::new().add("start", e.start).add("end", e.end),
                                );
                                i += 1;
                            }
                        });
                    }
                });
            }
            let bytes = || Attrs::new().add("unit", "bytes");
            w.text("capacity", bytes(), self.capacity);
            w.text("allocation", bytes(), self.allocation);
            if self.physical != 0 {
                w.text("physical", bytes(), self.physical);
            }
            format_target(w, "target", &self.target);
            if let Some(b) = &self.backing {
                format_target(w, "backingStore", b);
            }
        });
        w.into_string()
    }
}

fn format_timestamp(w: &mut Writer, name: &str, ts: &Timespec) {
    if ts.nsec < 0 {
        return;
    }
    if ts.nsec == 0 {
        w.text(name, Attrs::new(), ts.sec);
    } else {
        w.text(name, Attrs::new(), format!("{}.{:09}", ts.sec, ts.nsec));
    }
}

fn format_target(w: &mut Writer, name: &str, t: &VolTarget) {
    w.block(name, Attrs::new(), |w| {
        w.opt_text("path", t.path.as_deref());
        if let Some(f) = &t.format {
            w.empty("format", Attrs::new().add("type", f));
        }
        t.perms.format(w);
        if let Some(ts) = &t.timestamps {
            w.block("timestamps", Attrs::new(), |w| {
                format_timestamp(w, "atime", &ts.atime);
                format_timestamp(w, "mtime", &ts.mtime);
                format_timestamp(w, "ctime", &ts.ctime);
                format_timestamp(w, "btime", &ts.btime);
            });
        }
        if let Some(e) = &t.encryption {
            e.format_into(w);
        }
        w.opt_text("compat", t.compat.as_deref());
        if t.cluster_size > 0 {
            w.text("clusterSize", Attrs::new().add("unit", "B"), t.cluster_size);
        }
        if let Some(f) = &t.features {
            let ordered: Vec<&str> = ["lazy_refcounts", "extended_l2"]
                .into_iter()
                .filter(|n| f.iter().any(|x| x == n))
                .collect();
            if ordered.is_empty() {
                w.empty("features", Attrs::new());
            } else {
                w.block("features", Attrs::new(), |w| {
                    for n in ordered {
                        w.empty(n, Attrs::new());
                    }
                });
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_paths_like_libvirt() {
        assert_eq!(sanitize_path("///var/////lib/x//"), "/var/lib/x");
        assert_eq!(sanitize_path("//host/x"), "//host/x");
        assert_eq!(sanitize_path("/"), "/");
    }

    #[test]
    fn dir_pool_gets_empty_source() {
        let p = Pool::parse(
            "<pool type='dir'><name>p</name><uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>\
             <target><path>/p</path></target></pool>",
        )
        .unwrap();
        assert!(p.format().contains("  <source>\n  </source>\n"));
    }

    #[test]
    fn empty_sizes_count_as_absent() {
        // libvirt-tck's volume builder writes <allocation></allocation>.
        let v = Volume::parse(
            "<volume><name>v</name><capacity>1024</capacity><allocation></allocation></volume>",
            PoolType::Dir,
            VolParseFlags::default(),
        )
        .unwrap();
        assert_eq!(
            (v.capacity, v.allocation, v.has_allocation),
            (1024, 1024, false)
        );
        let e = Volume::parse(
            "<volume><name>v</name><capacity></capacity></volume>",
            PoolType::Dir,
            VolParseFlags::default(),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "XML error: missing capacity element");
        let e = Volume::parse(
            "<volume><name>v</name><capacity>5 </capacity></volume>",
            PoolType::Dir,
            VolParseFlags::default(),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "XML error: malformed capacity element");
    }
}
