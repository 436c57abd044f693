//! The domain snapshot definition (`<domainsnapshot>`): parse with
//! libvirt's checks and messages, align its disks with a domain, and
//! write it in libvirt's canonical form.
//!
//! The model does no I/O: the clock value the post-parse step stores
//! as the creation time is passed in by the caller, and the check that
//! a disk source is a regular file (for generated external names) is a
//! callback.

use crate::dom::{self, Element, Node};
use crate::domain::{self, Domain, FormatFlags as DomainFormatFlags, ParseOptions};
use crate::error::{Error, Result};
use crate::props::{self, Uuid, XmlEnum};
use crate::writer::{Attrs, Writer};

crate::xml_enum! {
    /// `virDomainSnapshotState` (the domain state at snapshot time).
    pub enum SnapshotState {
        NoState = "nostate", Running = "running", Blocked = "blocked", Paused = "paused",
        Shutdown = "shutdown", Shutoff = "shutoff", Crashed = "crashed",
        PmSuspended = "pmsuspended", DiskSnapshot = "disk-snapshot",
    }
}

impl SnapshotState {
    /// libvirt's number for the state.
    pub fn number(self) -> i32 {
        match self {
            SnapshotState::NoState => 0,
            SnapshotState::Running => 1,
            SnapshotState::Blocked => 2,
            SnapshotState::Paused => 3,
            SnapshotState::Shutdown => 4,
            SnapshotState::Shutoff => 5,
            SnapshotState::Crashed => 6,
            SnapshotState::PmSuspended => 7,
            SnapshotState::DiskSnapshot => 8,
        }
    }

    /// The state for a `virDomainState` number.
    pub fn from_domain_state(n: i32) -> SnapshotState {
        match n {
            1 => SnapshotState::Running,
            2 => SnapshotState::Blocked,
            3 => SnapshotState::Paused,
            4 => SnapshotState::Shutdown,
            5 => SnapshotState::Shutoff,
            6 => SnapshotState::Crashed,
            7 => SnapshotState::PmSuspended,
            _ => SnapshotState::NoState,
        }
    }

    /// True for the states of an online (memory-holding) snapshot.
    pub fn is_online(self) -> bool {
        matches!(self, SnapshotState::Running | SnapshotState::Paused)
    }
}

crate::xml_enum! {
    /// `virDomainSnapshotLocation` without `default` (which the XML may
    /// not spell out: libvirt refuses it as a value).
    pub enum Location {
        No = "no", Internal = "internal", External = "external", Manual = "manual",
    }
}

crate::xml_enum! {
    /// `virStorageType` without `none`.
    pub enum StorageType {
        File = "file", Block = "block", Dir = "dir", Network = "network", Volume = "volume",
        Nvme = "nvme", VhostUser = "vhostuser", VhostVdpa = "vhostvdpa",
    }
}

/// Image formats libvirt knows for `<driver type=...>` (`none` excluded).
const FORMATS: &[&str] = &[
    "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop", "cow",
    "qcow", "qcow2", "qed", "vmdk",
];

/// How a snapshot document is parsed (`VIR_DOMAIN_SNAPSHOT_PARSE_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseFlags {
    /// Redefinition of existing metadata: state, creation time, parent
    /// and the domain are read from the document.
    pub redefine: bool,
    /// Internal (status file) form: `<active>` says whether current.
    pub internal: bool,
    /// The domain is offline.
    pub offline: bool,
    /// The clock, in seconds since the epoch, that the post-parse step
    /// stores as creation time (and as the name when there is none).
    /// `None` leaves both alone. Ignored when redefining.
    pub now: Option<i64>,
}

/// How a snapshot is written (`VIR_DOMAIN_SNAPSHOT_FORMAT_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FormatFlags {
    pub secure: bool,
    /// Append `<active>` (status file form).
    pub internal: bool,
    /// With `internal`: the snapshot is the current one.
    pub current: bool,
}

/// One `<disk>` of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotDisk {
    /// The disk name (target or source path, as given).
    pub name: String,
    /// `None`: libvirt's "default" location.
    pub snapshot: Option<Location>,
    pub src_type: StorageType,
    /// The `<source>` element as written (blanks dropped).
    pub source: Option<Element>,
    /// The image path (file/dev) or network name.
    pub path: Option<String>,
    /// `<driver type=...>`
    pub format: Option<String>,
    /// `<driver><metadata_cache><max_size>` in bytes.
    pub metadata_cache_max_size: Option<u64>,
    /// `<snapshotDeleteInProgress/>` (redefine only).
    pub delete_in_progress: bool,
}

impl SnapshotDisk {
    /// A disk with a name and nothing else.
    pub fn named(name: impl Into<String>, snapshot: Option<Location>) -> SnapshotDisk {
        SnapshotDisk {
            name: name.into(),
            snapshot,
            src_type: StorageType::File,
            source: None,
            path: None,
            format: None,
            metadata_cache_max_size: None,
            delete_in_progress: false,
        }
    }

    fn parse(el: &Element, flags: ParseFlags) -> Result<SnapshotDisk> {
        let name = match el.attr("name") {
            Some(n) => n.to_string(),
            None => return Err(Error::internal("missing name from disk snapshot element")),
        };
        let snapshot: Option<Location> = props::opt_enum(el, "snapshot")?;
        let src_type: StorageType = props::opt_enum(el, "type")?.unwrap_or(StorageType::File);
        if matches!(src_type, StorageType::Volume | StorageType::Dir) {
            return Err(Error::xml(format!(
                "unsupported disk snapshot type '{}'",
                src_type
            )));
        }
        let delete_in_progress = flags.redefine && el.child("snapshotDeleteInProgress").is_some();
        let source = el.child("source").cloned();
        let path = source.as_ref().and_then(|s| {
            let attr = match src_type {
                StorageType::File => "file",
                StorageType::Block => "dev",
                StorageType::Network => "name",
                StorageType::Nvme | StorageType::VhostUser | StorageType::VhostVdpa => "path",
                StorageType::Dir | StorageType::Volume => "dir",
            };
            s.attr(attr).filter(|v| !v.is_empty()).map(str::to_string)
        });
        let driver = el.child("driver");
        let format = match driver.and_then(|d| d.attr("type")) {
            None | Some("") => None,
            Some(t) => {
                if !FORMATS.contains(&t) {
                    return Err(Error::unsupported(format!(
                        "unknown disk snapshot driver '{}'",
                        t
                    )));
                }
                Some(t.to_string())
            }
        };
        let metadata_cache_max_size = match driver
            .and_then(|d| d.child("metadata_cache"))
            .and_then(|m| m.child("max_size"))
        {
            None => None,
            Some(m) => {
                let text = m.text();
                let v: u64 = text.trim().parse().map_err(|_| {
                    Error::xml(format!(
                        "Invalid value '{}' for element or attribute './driver/metadata_cache/max_size'",
                        text
                    ))
                })?;
                Some(props::scale(v, m.attr("unit"), 1, u64::MAX)?)
            }
        };
        let relative = matches!(src_type, StorageType::File | StorageType::Block)
            && path.as_deref().is_some_and(|p| !p.starts_with('/'));
        if relative {
            return Err(Error::xml(format!(
                "disk snapshot image path '{}' must be absolute",
                path.as_deref().unwrap_or("")
            )));
        }
        let mut snapshot = snapshot;
        if snapshot.is_none() && (path.is_some() || format.is_some()) {
            snapshot = Some(Location::External);
        }
        Ok(SnapshotDisk {
            name,
            snapshot,
            src_type,
            source,
            path,
            format,
            metadata_cache_max_size,
            delete_in_progress,
        })
    }

    fn write(&self, w: &mut Writer) {
        let mut a = Attrs::new().add("name", &self.name);
        if let Some(s) = self.snapshot {
            a.push("snapshot", s);
        }
        let with_source = self.path.is_some() || self.format.is_some();
        if with_source {
            a.push("type", self.src_type);
        }
        w.elem("disk", a, |w| {
            if self.delete_in_progress {
                w.empty("snapshotDeleteInProgress", Attrs::new());
            }
            if !with_source {
                return;
            }
            let da = Attrs::new().opt("type", self.format.as_deref());
            w.elem_opt("driver", da, |w| {
                if let Some(n) = self.metadata_cache_max_size.filter(|n| *n > 0) {
                    w.block("metadata_cache", Attrs::new(), |w| {
                        w.text("max_size", Attrs::new().add("unit", "bytes"), n);
                    });
                }
            });
            self.write_source(w);
        });
    }

    fn write_source(&self, w: &mut Writer) {
        let mut src = match &self.source {
            Some(s) => s.clone(),
            None => Element::new("source"),
        };
        if let Some(p) = &self.path {
            let attr = match self.src_type {
                StorageType::Block => "dev",
                StorageType::Network => "name",
                StorageType::Nvme | StorageType::VhostUser | StorageType::VhostVdpa => "path",
                _ => "file",
            };
            if src.attr(attr).is_none() && self.src_type != StorageType::Network {
                // The path leads the attributes, as libvirt writes it.
                src.attrs.insert(
                    0,
                    dom::Attr {
                        name: attr.to_string(),
                        value: p.clone(),
                    },
                );
            } else {
                src.set_attr(attr, p.clone());
            }
        }
        if src.attrs.is_empty() && !src.has_element_children() {
            return;
        }
        w.element(&src);
    }
}

/// A domain snapshot definition (`virDomainSnapshotDef`).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `None`: no state (libvirt's 0).
    pub state: Option<SnapshotState>,
    pub parent: Option<String>,
    /// Seconds since the epoch; 0 = not set.
    pub creation_time: i64,
    /// `None`: the default location.
    pub memory: Option<Location>,
    pub memory_file: Option<String>,
    pub disks: Vec<SnapshotDisk>,
    /// The domain definition at snapshot time.
    pub domain: Option<Box<Domain>>,
    /// The persistent definition of a running domain at snapshot time.
    pub inactive_domain: Option<Box<Domain>>,
    /// The hypervisor's save cookie, kept verbatim.
    pub cookie: Option<Element>,
}

/// The result of parsing: the definition and, for internal parses,
/// whether the document says it is the current snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub def: Snapshot,
    pub current: Option<bool>,
}

/// `virXPathString`: text of the first child, `None` when absent or empty.
fn child_string(el: &Element, name: &str) -> Option<String> {
    el.child(name).map(|c| c.text()).filter(|t| !t.is_empty())
}

/// `virXPathLongLong` over the text of a child: `None` when absent or
/// not a number.
fn child_i64(el: &Element, name: &str) -> Option<i64> {
    el.child(name).and_then(|c| c.text().trim().parse().ok())
}

/// Parses a `<domain>` (or `<inactiveDomain>`) the way snapshots and
/// checkpoints embed it: inactive, without driver validation.
pub(crate) fn parse_embedded_domain(el: &Element, opts: &ParseOptions) -> Result<Domain> {
    let mut el = el.clone();
    el.name = "domain".to_string();
    let flags = domain::ParseFlags {
        inactive: true,
        ..Default::default()
    };
    Domain::from_element(&el, flags, opts)
}

/// Writes a domain at the writer's depth, under another root name.
pub(crate) fn write_embedded_domain(w: &mut Writer, def: &Domain, root: &str, secure: bool) {
    let mut inner = Writer::at_depth(w.depth());
    def.write(
        &mut inner,
        DomainFormatFlags {
            inactive: true,
            secure,
            ..Default::default()
        },
    );
    let text = inner.into_string();
    if root == "domain" {
        w.push_raw(&text);
        return;
    }
    let indent = "  ".repeat(w.depth());
    let open = format!("{}<domain", indent);
    let close = format!("{}</domain>\n", indent);
    let mut text = match text.strip_prefix(&open) {
        Some(rest) => format!("{}<{}{}", indent, root, rest),
        None => text,
    };
    if text.ends_with(&close) {
        text.truncate(text.len() - close.len());
        text.push_str(&format!("{}</{}>\n", indent, root));
    }
    w.push_raw(&text);
}

impl Snapshot {
    /// An empty definition (what `<domainsnapshot/>` parses to before
    /// post-parse).
    pub fn new() -> Snapshot {
        Snapshot {
            name: None,
            description: None,
            state: None,
            parent: None,
            creation_time: 0,
            memory: None,
            memory_file: None,
            disks: Vec::new(),
            domain: None,
            inactive_domain: None,
            cookie: None,
        }
    }

    /// Parses a snapshot document (`virDomainSnapshotDefParseString`).
    pub fn parse(xml: &str, flags: ParseFlags, opts: &ParseOptions) -> Result<Parsed> {
        let mut root = dom::parse(xml, "(domain_snapshot)")?;
        if root.name != "domainsnapshot" {
            return Err(Error::xml(format!(
                "expecting root element of 'domainsnapshot', not '{}'",
                root.name
            )));
        }
        root.strip_blanks();
        Self::from_element(&root, flags, opts)
    }

    /// Parses a `<domainsnapshot>` element.
    pub fn from_element(root: &Element, flags: ParseFlags, opts: &ParseOptions) -> Result<Parsed> {
        let mut def = Snapshot::new();
        let mut offline = flags.offline;
        def.name = child_string(root, "name");
        if def.name.is_none() && flags.redefine {
            return Err(Error::xml("a redefined snapshot must have a name"));
        }
        def.description = child_string(root, "description");
        if flags.redefine {
            def.creation_time = child_i64(root, "creationTime")
                .ok_or_else(|| Error::internal("missing creationTime from existing snapshot"))?;
            def.parent = root.child("parent").and_then(|p| child_string(p, "name"));
            let state = child_string(root, "state")
                .ok_or_else(|| Error::xml("missing state from existing snapshot"))?;
            let st = SnapshotState::from_xml(&state)
                .filter(|s| *s != SnapshotState::NoState)
                .ok_or_else(|| {
                    Error::unsupported(format!("Invalid state '{}' in domain snapshot XML", state))
                })?;
            def.state = Some(st);
            offline = matches!(st, SnapshotState::Shutoff | SnapshotState::DiskSnapshot);
            // Older snapshots hold only <domain><uuid>: no domain then.
            if let Some(d) = root
                .child("domain")
                .filter(|d| d.attr("type").is_some_and(|t| !t.is_empty()))
            {
                def.domain = Some(Box::new(parse_embedded_domain(d, opts)?));
            }
            if let Some(d) = root.child("inactiveDomain") {
                def.inactive_domain = Some(Box::new(parse_embedded_domain(d, opts)?));
            }
        } else if let Some(now) = flags.now {
            def.creation_time = now;
            if def.name.is_none() {
                def.name = Some(now.to_string());
            }
        }

        if let Some(m) = root.child("memory") {
            def.memory_file = m.attr("file").map(str::to_string);
            def.memory = props::opt_enum(m, "snapshot")?;
            if def.memory == Some(Location::Manual) {
                return Err(Error::xml("'manual' memory snapshot mode not supported"));
            }
        }
        if def.memory.is_none() {
            if def.memory_file.is_some() {
                def.memory = Some(Location::External);
            } else if flags.redefine {
                def.memory = Some(if offline {
                    Location::No
                } else {
                    Location::Internal
                });
            }
        }
        if let Some(f) = &def.memory_file {
            if def.memory != Some(Location::External) {
                return Err(Error::xml(format!(
                    "memory filename '{}' requires external snapshot",
                    f
                )));
            }
        }
        if def.memory_file.is_none() && def.memory == Some(Location::External) {
            return Err(Error::xml("external memory snapshots require a filename"));
        }
        if offline && !matches!(def.memory, None | Some(Location::No)) {
            return Err(Error::xml(
                "memory state cannot be saved with offline or disk-only snapshot",
            ));
        }
        if let Some(f) = &def.memory_file {
            if !f.starts_with('/') {
                return Err(Error::xml(format!(
                    "memory snapshot file path ({}) must be absolute",
                    f
                )));
            }
        }
        if let Some(disks) = root.child("disks") {
            for d in disks.elements() {
                def.disks.push(SnapshotDisk::parse(d, flags)?);
            }
        }
        let mut current = None;
        if flags.internal {
            let active: i64 = child_i64(root, "active")
                .ok_or_else(|| Error::internal("Could not find 'active' element"))?;
            current = Some(active != 0);
        }
        if !offline {
            def.cookie = root.child("cookie").cloned();
        }
        Ok(Parsed { def, current })
    }

    /// True when the memory or a disk is snapshotted externally
    /// (`virDomainSnapshotDefIsExternal`).
    pub fn is_external(&self) -> bool {
        self.memory == Some(Location::External)
            || self
                .disks
                .iter()
                .any(|d| d.snapshot == Some(Location::External))
    }

    /// Writes the definition (`virDomainSnapshotDefFormat`); `uuid` is
    /// the domain's, written as `<domain><uuid>` when the snapshot has
    /// no domain definition.
    pub fn format(&self, uuid: Option<&Uuid>, flags: FormatFlags) -> String {
        let mut w = Writer::new();
        w.block("domainsnapshot", Attrs::new(), |w| {
            w.opt_text("name", self.name.as_deref());
            w.opt_text("description", self.description.as_deref());
            if let Some(s) = self.state.filter(|s| *s != SnapshotState::NoState) {
                w.text("state", Attrs::new(), s);
            }
            if let Some(p) = &self.parent {
                w.block("parent", Attrs::new(), |w| {
                    w.text("name", Attrs::new(), p);
                });
            }
            if self.creation_time != 0 {
                w.text("creationTime", Attrs::new(), self.creation_time);
            }
            if let Some(m) = self.memory {
                w.empty(
                    "memory",
                    Attrs::new()
                        .add("snapshot", m)
                        .opt("file", self.memory_file.as_deref()),
                );
            }
            if !self.disks.is_empty() {
                w.block("disks", Attrs::new(), |w| {
                    for d in &self.disks {
                        d.write(w);
                    }
                });
            }
            if let Some(d) = &self.domain {
                write_embedded_domain(w, d, "domain", flags.secure);
            } else if let Some(u) = uuid {
                w.block("domain", Attrs::new(), |w| {
                    w.text("uuid", Attrs::new(), u);
                });
            }
            if let Some(d) = &self.inactive_domain {
                write_embedded_domain(w, d, "inactiveDomain", flags.secure);
            }
            if let Some(c) = &self.cookie {
                if c.children.iter().any(|n| matches!(n, Node::Element(_))) {
                    w.element(c);
                }
            }
            if flags.internal {
                w.text("active", Attrs::new(), if flags.current { 1 } else { 0 });
            }
        });
        w.into_string()
    }

    /// Aligns the disks with a domain definition
    /// (`virDomainSnapshotAlignDisks`): every disk of the domain gets an
    /// entry in the domain's order, with defaults for those not named,
    /// and external snapshots without a file get a generated name.
    ///
    /// `existing` is used when the snapshot carries no domain.
    /// `is_regular_file` answers whether a disk source is a regular file.
    pub fn align_disks(
        &mut self,
        existing: Option<&Domain>,
        default: Location,
        uniform_internal: bool,
        is_regular_file: &dyn Fn(&str) -> bool,
    ) -> Result<()> {
        let domdef: &Domain = match self.domain.as_deref().or(existing) {
            Some(d) => d,
            None => return Err(Error::internal("missing domain in snapshot")),
        };
        let domdisks = &domdef.devices.disks;
        if self.disks.len() > domdisks.len() {
            return Err(Error::unsupported(
                "too many disk snapshot requests for domain",
            ));
        }
        let require_match = uniform_internal && default == Location::Internal;
        if domdisks.is_empty() {
            return Ok(());
        }
        let old = std::mem::take(&mut self.disks);
        let mut by_index: Vec<Option<SnapshotDisk>> = vec![None; domdisks.len()];
        for mut sd in old {
            let idx = disk_index_by_name(domdef, &sd.name)
                .ok_or_else(|| Error::unsupported(format!("no disk named '{}'", sd.name)))?;
            if by_index[idx].is_some() {
                return Err(Error::unsupported(format!(
                    "disk '{}' specified twice",
                    sd.name
                )));
            }
            let dd = &domdisks[idx];
            let dom_loc = domain_disk_location(dd);
            match sd.snapshot {
                None => {
                    sd.snapshot = match dom_loc {
                        Some(l) if !require_match || l == Location::No => Some(l),
                        _ => Some(default),
                    };
                }
                Some(l) => {
                    if require_match
                        && l != default
                        && !(l == Location::No && dom_loc == Some(Location::No))
                    {
                        return Err(Error::unsupported(format!(
                            "disk '{}' must use snapshot mode '{}'",
                            sd.name, default
                        )));
                    }
                }
            }
            if let Some(p) = &sd.path {
                if sd.snapshot != Some(Location::External) {
                    return Err(Error::unsupported(format!(
                        "file '{}' for disk '{}' requires use of external snapshot mode",
                        p, sd.name
                    )));
                }
            }
            if let Some(dst) = &dd.target_dev {
                if sd.name != *dst {
                    sd.name = dst.clone();
                }
            }
            by_index[idx] = Some(sd);
        }
        let mut disks = Vec::with_capacity(domdisks.len());
        for (i, slot) in by_index.into_iter().enumerate() {
            let dd = &domdisks[i];
            match slot {
                Some(sd) => disks.push(sd),
                None => {
                    let loc = if disk_is_empty(dd) {
                        Some(Location::No)
                    } else {
                        domain_disk_location(dd)
                    };
                    disks.push(SnapshotDisk::named(
                        dd.target_dev.clone().unwrap_or_default(),
                        Some(loc.unwrap_or(default)),
                    ));
                }
            }
        }
        self.disks = disks;
        self.assign_external_names(is_regular_file)
    }

    /// `virDomainSnapshotDefAssignExternalNames`.
    fn assign_external_names(&mut self, is_regular_file: &dyn Fn(&str) -> bool) -> Result<()> {
        let name = self.name.clone().unwrap_or_default();
        for i in 0..self.disks.len() {
            let d = &self.disks[i];
            if d.snapshot != Some(Location::External) || d.path.is_some() {
                continue;
            }
            if d.src_type != StorageType::File {
                return Err(Error::unsupported(format!(
                    "cannot generate external snapshot name for disk '{}' on a '{}' device",
                    d.name, d.src_type
                )));
            }
            let orig = self
                .domain
                .as_ref()
                .and_then(|dom| dom.devices.disks.get(i))
                .and_then(|dd| dd.source.clone());
            let Some(orig) = orig else {
                return Err(Error::unsupported(format!(
                    "cannot generate external snapshot name for disk '{}' without source",
                    d.name
                )));
            };
            if !is_regular_file(&orig) {
                return Err(Error::unsupported(format!(
                    "source for disk '{}' is not a regular file; refusing to generate external snapshot name",
                    d.name
                )));
            }
            let mut base = orig.clone();
            if let Some(dot) = base.rfind('.') {
                if !base[dot..].contains('/') {
                    base.truncate(dot);
                }
            }
            let path = format!("{}.{}", base, name);
            if let Some(j) = self.disks[..i]
                .iter()
                .position(|o| o.path.as_deref() == Some(path.as_str()))
            {
                return Err(Error::unsupported(format!(
                    "cannot generate external snapshot name for disk '{}': collision with disk '{}'",
                    self.disks[i].name, self.disks[j].name
                )));
            }
            self.disks[i].path = Some(path);
        }
        Ok(())
    }
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot::new()
    }
}

/// The `snapshot` attribute of a domain disk.
fn domain_disk_location(d: &domain::Disk) -> Option<Location> {
    d.extra
        .attrs
        .iter()
        .find(|a| a.name == "snapshot")
        .and_then(|a| Location::from_xml(&a.value))
}

/// `virStorageSourceIsEmpty` for a domain disk.
pub(crate) fn disk_is_empty(d: &domain::Disk) -> bool {
    if d.disk_type.as_deref() == Some("network") {
        return d
            .source_el
            .as_ref()
            .and_then(|s| s.attr("protocol"))
            .is_none();
    }
    d.source.is_none()
}

/// Whether a domain disk is read-only.
pub(crate) fn disk_is_readonly(d: &domain::Disk) -> bool {
    d.extra.children.iter().any(|c| c.name == "readonly")
}

/// `virDomainDiskIndexByName` without ambiguity: a name starting with
/// `/` is a source path, anything else a target.
pub(crate) fn disk_index_by_name(def: &Domain, name: &str) -> Option<usize> {
    let disks = &def.devices.disks;
    if let Some(i) = disks
        .iter()
        .position(|d| d.target_dev.as_deref() == Some(name))
    {
        return Some(i);
    }
    if name.starts_with('/') {
        let mut found = disks
            .iter()
            .enumerate()
            .filter(|(_, d)| d.source.as_deref() == Some(name));
        let first = found.next().map(|(i, _)| i);
        if found.next().is_some() {
            return None;
        }
        return first;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str, flags: ParseFlags) -> Result<Parsed> {
        Snapshot::parse(xml, flags, &ParseOptions::default())
    }

    #[test]
    fn creation_time_names_a_nameless_snapshot() {
        let p = parse(
            "<domainsnapshot/>",
            ParseFlags {
                now: Some(1386166249),
                ..Default::default()
            },
        )
        .unwrap();
        let uuid = Uuid::parse("9d37b878-a7cc-9f9a-b78f-49b3abad25a8").unwrap();
        assert_eq!(
            p.def.format(Some(&uuid), FormatFlags::default()),
            "<domainsnapshot>\n  <name>1386166249</name>\n  <creationTime>1386166249</creationTime>\n  <domain>\n    <uuid>9d37b878-a7cc-9f9a-b78f-49b3abad25a8</uuid>\n  </domain>\n</domainsnapshot>\n"
        );
    }

    #[test]
    fn redefine_needs_name_state_and_time() {
        let e = parse(
            "<domainsnapshot/>",
            ParseFlags {
                redefine: true,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "XML error: a redefined snapshot must have a name"
        );
        let e = parse(
            "<domainsnapshot><name>a</name><creationTime>1</creationTime><state>bogus</state></domainsnapshot>",
            ParseFlags {
                redefine: true,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported configuration: Invalid state 'bogus' in domain snapshot XML"
        );
    }

    #[test]
    fn memory_rules() {
        let e = parse(
            "<domainsnapshot><memory snapshot='internal' file='/a'/></domainsnapshot>",
            ParseFlags::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "XML error: memory filename '/a' requires external snapshot"
        );
        let e = parse(
            "<domainsnapshot><memory snapshot='default'/></domainsnapshot>",
            ParseFlags::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "XML error: Invalid value for attribute 'snapshot' in element 'memory': 'default'."
        );
    }

    #[test]
    fn disk_with_file_becomes_external() {
        let p = parse(
            "<domainsnapshot><disks><disk name='vda'><source file='/x'/></disk></disks></domainsnapshot>",
            ParseFlags::default(),
        )
        .unwrap();
        assert_eq!(
            p.def.format(None, FormatFlags::default()),
            "<domainsnapshot>\n  <disks>\n    <disk name='vda' snapshot='external' type='file'>\n      <source file='/x'/>\n    </disk>\n  </disks>\n</domainsnapshot>\n"
        );
    }
}
