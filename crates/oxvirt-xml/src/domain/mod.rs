//! The domain definition (`<domain>`): parse, post-parse defaults,
//! validation and libvirt's canonical formatting.
//!
//! The structure follows libvirt's formatter: top-level sections in
//! libvirt's order, devices grouped by kind in libvirt's order. A section
//! the model does not type yet is kept as a [`Raw`] element and written
//! back verbatim in its place, so no configuration is lost.

pub mod cpu;
pub mod devices;
pub mod features;
pub mod os;
pub mod postparse;
pub mod sections;
pub mod tune;
pub mod validate;

use crate::dom::{self, Attr, Element};
use crate::error::{Error, Result};
use crate::props::{self, Uuid, XmlEnum};
use crate::writer::{Attrs, Writer};

pub use devices::*;
pub use os::*;
pub use sections::*;
pub use tune::{
    BlkioDevice, MemTune, NumatuneMemory, NumatuneMode, MEMORY_UNLIMITED, NUMATUNE_MODES,
    PERF_EVENTS,
};

/// How a document is being parsed (libvirt's `VIR_DOMAIN_DEF_PARSE_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseFlags {
    /// Parse as an inactive (persistent) definition: live-only data
    /// such as the domain id, aliases and runtime state is ignored.
    pub inactive: bool,
    /// Do not fill in defaults or validate (for status files).
    pub skip_post_parse: bool,
    /// Keep security-sensitive data (passwords) from the input.
    pub secure: bool,
    /// `VIR_DOMAIN_DEF_PARSE_ABI_UPDATE`
    pub abi_update: bool,
    /// The driver passes disk sources as file descriptors
    /// (`VIR_DOMAIN_DEF_FEATURE_DISK_FD`: the QEMU driver).
    pub disk_fd: bool,
}

/// How a definition is being written (`VIR_DOMAIN_DEF_FORMAT_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FormatFlags {
    /// Write the persistent configuration (no id, no live data).
    pub inactive: bool,
    /// Include security-sensitive data such as passwords.
    pub secure: bool,
    /// Leave out what would hinder migration (default devices).
    pub migratable: bool,
}

/// Driver-specific choices the generic parser needs (libvirt's
/// `virDomainXMLOption` and capabilities).
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// The architecture to assume when `<os><type arch=...>` is absent.
    pub default_arch: Option<String>,
}

/// An element the model keeps verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw(pub Element);

impl Raw {
    pub fn format(&self, w: &mut Writer) {
        w.element(&self.0);
    }
}

/// Attributes and children a typed element does not handle yet, kept to
/// be written back. Only names libvirt's schema knows are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extra {
    pub attrs: Vec<Attr>,
    pub children: Vec<Element>,
}

impl Extra {
    /// Collects what `el` holds beyond `known_attrs` and `known_children`.
    pub fn collect(el: &Element, known_attrs: &[&str], known_children: &[&str]) -> Extra {
        Extra {
            attrs: el
                .attrs
                .iter()
                .filter(|a| !known_attrs.contains(&a.name.as_str()))
                .filter(|a| is_schema_attribute(&a.name))
                .cloned()
                .collect(),
            children: el
                .elements()
                .filter(|c| !known_children.contains(&c.name.as_str()))
                .filter(|c| is_schema_element(&c.name))
                .cloned()
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty() && self.children.is_empty()
    }

    /// Appends the kept attributes.
    pub fn add_attrs(&self, mut a: Attrs) -> Attrs {
        for at in &self.attrs {
            a.push(&at.name, &at.value);
        }
        a
    }

    /// Writes the kept children named `name`.
    pub fn write_named(&self, w: &mut Writer, name: &str) {
        for c in self.children.iter().filter(|c| c.name == name) {
            w.element(c);
        }
    }

    /// Writes the kept children whose names are not in `order`.
    pub fn write_rest(&self, w: &mut Writer, order: &[&str]) {
        for c in self
            .children
            .iter()
            .filter(|c| !order.contains(&c.name.as_str()))
        {
            w.element(c);
        }
    }

    /// Writes children in libvirt's `order`: typed children through
    /// `typed` (which returns false for a name it does not handle),
    /// kept children by name, and unordered kept children last.
    pub fn write_ordered(
        &self,
        w: &mut Writer,
        order: &[&str],
        mut typed: impl FnMut(&mut Writer, &str) -> bool,
    ) {
        for name in order {
            if !typed(w, name) {
                self.write_named(w, name);
            }
        }
        self.write_rest(w, order);
    }
}

/// True when libvirt's domain schema knows an element of this name
/// (namespaced extension elements are always kept).
pub fn is_schema_element(name: &str) -> bool {
    name.contains(':')
        || crate::schema_names::DOMAIN_ELEMENTS
            .binary_search(&name)
            .is_ok()
}

/// True when libvirt's domain schema knows an attribute of this name.
pub fn is_schema_attribute(name: &str) -> bool {
    name.contains(':')
        || crate::schema_names::DOMAIN_ATTRIBUTES
            .binary_search(&name)
            .is_ok()
}

crate::xml_enum! {
    /// `<domain type=...>`
    pub enum VirtType {
        None = "none", Qemu = "qemu", Kqemu = "kqemu", Kvm = "kvm", Xen = "xen", Lxc = "lxc",
        Uml = "uml", Openvz = "openvz", Test = "test", Vmware = "vmware", Hyperv = "hyperv",
        Vbox = "vbox", Phyp = "phyp", Parallels = "parallels", Bhyve = "bhyve", Vz = "vz",
        Hvf = "hvf",
    }
}

crate::xml_enum! {
    /// `on_poweroff`, `on_reboot`, `on_crash`
    pub enum LifecycleAction {
        Destroy = "destroy", Restart = "restart", RenameRestart = "rename-restart",
        Preserve = "preserve", CoredumpDestroy = "coredump-destroy",
        CoredumpRestart = "coredump-restart",
    }
}

/// The lifecycle events (`on_poweroff`, `on_reboot`, `on_crash`) by
/// libvirt's number (virDomainLifecycle).
pub const LIFECYCLE_EVENTS: [&str; 3] = ["poweroff", "reboot", "crash"];

/// The lifecycle actions by libvirt's number (virDomainLifecycleAction).
pub const LIFECYCLE_ACTIONS: [LifecycleAction; 6] = [
    LifecycleAction::Destroy,
    LifecycleAction::Restart,
    LifecycleAction::RenameRestart,
    LifecycleAction::Preserve,
    LifecycleAction::CoredumpDestroy,
    LifecycleAction::CoredumpRestart,
];

crate::xml_enum! {
    /// `on_lockfailure`
    pub enum LockFailureAction {
        Default = "default", Poweroff = "poweroff", Restart = "restart", Pause = "pause",
        Ignore = "ignore",
    }
}

crate::xml_enum! {
    /// `<vcpu placement=...>`
    pub enum CpuPlacement { Static = "static", Auto = "auto" }
}

/// `<vcpu>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vcpu {
    pub max: u32,
    pub current: u32,
    pub placement: CpuPlacement,
    pub cpuset: Option<String>,
}

impl Default for Vcpu {
    fn default() -> Self {
        Vcpu {
            max: 1,
            current: 1,
            placement: CpuPlacement::Static,
            cpuset: None,
        }
    }
}

/// `<maxMemory slots=...>`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MaxMemory {
    pub slots: u32,
    /// KiB
    pub size: u64,
}

/// A domain definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    pub virt_type: VirtType,
    /// The live id; `None` for an inactive definition.
    pub id: Option<i32>,
    /// `xmlns:prefix` declarations on the root element.
    pub namespaces: Vec<Attr>,
    pub name: String,
    pub uuid: Uuid,
    /// `Some(None)`: a genid was requested and will be generated.
    pub genid: Option<Option<Uuid>>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<Element>,
    pub max_memory: Option<MaxMemory>,
    /// `<memory>` in KiB
    pub memory: u64,
    pub dump_core: Option<bool>,
    /// `<currentMemory>` in KiB
    pub current_memory: u64,
    pub vcpu: Vcpu,
    pub sections: Sections,
    pub os: Os,
    pub on_poweroff: LifecycleAction,
    pub on_reboot: LifecycleAction,
    pub on_crash: LifecycleAction,
    pub on_lockfailure: Option<LockFailureAction>,
    pub devices: Devices,
    /// Top-level elements kept verbatim, with namespaced extensions.
    pub extra: Extra,
}

/// The order in which libvirt writes the top-level elements it knows.
pub const TOP_LEVEL_ORDER: &[&str] = &[
    "name",
    "uuid",
    "genid",
    "title",
    "description",
    "metadata",
    "maxMemory",
    "memory",
    "currentMemory",
    "blkiotune",
    "memtune",
    "memoryBacking",
    "vcpu",
    "vcpus",
    "iothreads",
    "iothreadids",
    "defaultiothread",
    "cputune",
    "numatune",
    "resource",
    "sysinfo",
    "bootloader",
    "bootloader_args",
    "os",
    "idmap",
    "features",
    "cpu",
    "clock",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "on_lockfailure",
    "pm",
    "perf",
    "devices",
    "seclabel",
    "keywrap",
    "launchSecurity",
];

impl Domain {
    /// Parses a domain document.
    pub fn parse(xml: &str, flags: ParseFlags, opts: &ParseOptions) -> Result<Domain> {
        let root = dom::parse(xml, "(domain_definition)")?;
        Self::from_element(&root, flags, opts)
    }

    /// Parses a `<domain>` element (as embedded in snapshots and save images).
    pub fn from_element(root: &Element, flags: ParseFlags, opts: &ParseOptions) -> Result<Domain> {
        if root.name != "domain" {
            return Err(Error::xml(format!(
                "unexpected root element <{}>, expecting <domain>",
                root.name
            )));
        }
        let mut root = root.clone();
        root.strip_blanks();
        let root = &root;
        let mut id = None;
        if !flags.inactive {
            id = props::opt_int::<i32>(root, "id")?;
            if let Some(v) = id {
                if v < 0 {
                    return Err(Error::xml(format!(
                        "Invalid value for attribute 'id' in element 'domain': '{}'. Expected non-negative value",
                        v
                    )));
                }
            }
        }
        // IDs
        let name = root
            .child("name")
            .map(|e| e.text())
            .ok_or_else(|| Error::NoName(String::new()))?;
        let name = if name.is_empty() {
            return Err(Error::NoName(String::new()));
        } else {
            name
        };
        let uuid = match root.child("uuid") {
            Some(u) => {
                Uuid::parse(&u.text()).ok_or_else(|| Error::internal("malformed uuid element"))?
            }
            None => Uuid::default(),
        };
        let uuid_given = root.child("uuid").is_some();
        let genids: Vec<&Element> = root.children_named("genid").collect();
        let genid = match genids.len() {
            0 => None,
            1 => {
                let t = genids[0].text();
                if t.is_empty() {
                    Some(None)
                } else {
                    Some(Some(
                        Uuid::parse(&t)
                            .ok_or_else(|| Error::internal("malformed genid element"))?,
                    ))
                }
            }
            _ => return Err(Error::xml("element 'genid' can only appear once")),
        };
        // Caps
        let virt_type = match root.attr("type") {
            None => return Err(Error::internal("missing domain type attribute")),
            Some(t) => VirtType::from_xml(t)
                .ok_or_else(|| Error::unsupported(format!("invalid domain type {}", t)))?,
        };
        let mut os = Os::parse(root, virt_type, opts)?;
        // virDomainDefParseBootFirmwareOptions: firmware features without
        // autoselection are ignored unless the definition is new (ABI
        // update), where validation refuses them.
        if os.firmware.is_none() && !flags.abi_update {
            os.extra.children.retain(|c| c.name != "firmware");
        }
        // Title and description
        let title = root.child("title").map(|e| e.text());
        if title.as_deref().is_some_and(|t| t.contains('\n')) {
            return Err(Error::xml("Domain title can't contain newlines"));
        }
        let description = root.child("description").map(|e| e.text());
        let metadata = root.child("metadata").map(metadata_element);
        // Memory
        let mem_of = |tag: &str| -> Result<Option<u64>> {
            match root.child(tag) {
                None => Ok(None),
                Some(e) => {
                    props::memory_kib(&e.text(), e.attr("unit"), &format!("./{}[1]", tag)).map(Some)
                }
            }
        };
        let memory = mem_of("memory")?.unwrap_or(0);
        let current_memory = mem_of("currentMemory")?.unwrap_or(0);
        let max_mem_size = mem_of("maxMemory")?;
        let slots = match root.child("maxMemory").and_then(|e| e.attr("slots")) {
            None => None,
            Some(s) => Some(
                s.parse::<u32>()
                    .map_err(|_| Error::xml("Failed to parse memory slot count"))?,
            ),
        };
        let max_memory = match (max_mem_size, slots) {
            (None, None) => None,
            (size, slots) => Some(MaxMemory {
                slots: slots.unwrap_or(0),
                size: size.unwrap_or(0),
            }),
        };
        let dump_core = match root.child("memory") {
            Some(m) => props::opt_on_off(m, "dumpCore")?,
            None => None,
        };
        let vcpu = parse_vcpu(root)?;
        let sections = Sections::parse(root, flags)?;
        let on = |tag: &str, default: LifecycleAction| -> Result<LifecycleAction> {
            match root.child(tag) {
                None => Ok(default),
                Some(e) => {
                    let t = e.text();
                    LifecycleAction::from_xml(&t)
                        .ok_or_else(|| Error::unsupported(format!("unknown {} action: {}", tag, t)))
                }
            }
        };
        let on_reboot = on("on_reboot", LifecycleAction::Restart)?;
        let on_poweroff = on("on_poweroff", LifecycleAction::Destroy)?;
        let on_crash = on("on_crash", LifecycleAction::Destroy)?;
        let on_lockfailure = match root.child("on_lockfailure") {
            None => None,
            Some(e) => {
                let t = e.text();
                Some(LockFailureAction::from_xml(&t).ok_or_else(|| {
                    Error::unsupported(format!("unknown on_lockfailure action: {}", t))
                })?)
            }
        };
        let mut devices = Devices::parse(root.child("devices"), flags)?;
        devices.chardevs.hvm = os.os_type == OsType::Hvm;
        let handled: Vec<&str> = TOP_LEVEL_ORDER.to_vec();
        let mut extra = Extra::collect(root, &["type", "id"], &handled);
        // Root namespace declarations travel with namespaced elements.
        let namespaces: Vec<Attr> = root
            .attrs
            .iter()
            .filter(|a| a.name.starts_with("xmlns:"))
            .cloned()
            .collect();
        extra.attrs.retain(|a| !a.name.starts_with("xmlns"));
        let mut def = Domain {
            virt_type,
            id,
            namespaces,
            name,
            uuid,
            genid,
            title,
            description,
            metadata,
            max_memory,
            memory,
            dump_core,
            current_memory,
            vcpu,
            sections,
            os,
            on_poweroff,
            on_reboot,
            on_crash,
            on_lockfailure,
            devices,
            extra,
        };
        if !uuid_given {
            def.uuid = Uuid::default();
        }
        validate::parse_time(&def)?;
        def.canonicalize_numatune();
        def.canonicalize_memtune();
        def.canonicalize_blkiotune();
        if !flags.skip_post_parse {
            postparse::post_parse(&mut def, flags)?;
            postparse::validate(&def)?;
        }
        Ok(def)
    }

    /// True when the document had no `<uuid>` and the caller must
    /// generate one.
    pub fn needs_uuid(&self) -> bool {
        self.uuid.is_nil()
    }

    /// Writes the definition in libvirt's canonical form.
    pub fn format(&self, flags: FormatFlags) -> String {
        let mut w = Writer::new();
        self.write(&mut w, flags);
        w.into_string()
    }

    /// Writes the definition at the writer's current depth.
    pub fn write(&self, w: &mut Writer, flags: FormatFlags) {
        let inactive = flags.inactive || self.id.is_none();
        let mut a = Attrs::new().add("type", self.virt_type);
        if !inactive {
            a.push("id", self.id.unwrap_or(-1));
        }
        for ns in &self.namespaces {
            a.push(&ns.name, &ns.value);
        }
        let flags = FormatFlags { inactive, ..flags };
        w.block("domain", a, |w| {
            w.text("name", Attrs::new(), &self.name);
            w.text("uuid", Attrs::new(), self.uuid);
            if let Some(g) = &self.genid {
                w.text("genid", Attrs::new(), g.unwrap_or_default());
            }
            w.opt_text("title", self.title.as_deref());
            w.opt_text("description", self.description.as_deref());
            if let Some(m) = &self.metadata {
                w.libxml_element(m);
            }
            if let Some(m) = &self.max_memory {
                if m.size > 0 || m.slots > 0 {
                    w.text(
                        "maxMemory",
                        Attrs::new().add("slots", m.slots).add("unit", "KiB"),
                        m.size,
                    );
                }
            }
            w.text(
                "memory",
                Attrs::new()
                    .opt(
                        "dumpCore",
                        self.dump_core.map(|b| if b { "on" } else { "off" }),
                    )
                    .add("unit", "KiB"),
                self.memory,
            );
            w.text(
                "currentMemory",
                Attrs::new().add("unit", "KiB"),
                self.current_memory,
            );
            self.sections.write_before_vcpu(w, flags);
            let mut va = Attrs::new().add("placement", self.vcpu.placement);
            if self.vcpu.placement != CpuPlacement::Auto {
                va = va.opt("cpuset", self.vcpu.cpuset.as_deref());
            }
            if self.vcpu.current != self.vcpu.max {
                va.push("current", self.vcpu.current);
            }
            w.text("vcpu", va, self.vcpu.max);
            self.sections.write_after_vcpu(w, flags);
            self.os.write(w, flags);
            self.sections.write_after_os(w, flags);
            w.text("on_poweroff", Attrs::new(), self.on_poweroff);
            w.text("on_reboot", Attrs::new(), self.on_reboot);
            w.text("on_crash", Attrs::new(), self.on_crash);
            if let Some(l) = self.on_lockfailure {
                w.text("on_lockfailure", Attrs::new(), l);
            }
            self.sections.write_after_lifecycle(w, flags);
            self.devices.write(w, flags);
            self.sections.write_after_devices(w, flags);
            for c in &self.extra.children {
                if !TOP_LEVEL_ORDER.contains(&c.name.as_str()) {
                    w.element(c);
                }
            }
        });
    }

    /// Drops the namespaced extension elements and the root's namespace
    /// declarations, as a driver without an XML namespace of its own
    /// (the test driver) does: libvirt's parser never looks at them.
    pub fn drop_extensions(&mut self) {
        self.extra.children.retain(|c| !c.name.contains(':'));
        self.namespaces.clear();
    }

    /// Max vCPUs (`<vcpu>` content).
    pub fn max_vcpus(&self) -> u32 {
        self.vcpu.max
    }
}

/// Copies `<metadata>` keeping only element children, each carrying the
/// namespace declarations it uses, as libvirt stores them.
/// `<metadata>` as virXMLNodeSanitizeNamespaces leaves it: only
/// elements in a namespace, the first one of each namespace.
fn metadata_element(el: &Element) -> Element {
    let mut out = Element::new("metadata");
    out.line = el.line;
    let mut seen: Vec<String> = Vec::new();
    for c in el.elements() {
        let ns_attr = match c.name.split_once(':') {
            Some((prefix, _)) => format!("xmlns:{}", prefix),
            None => "xmlns".to_string(),
        };
        let Some(uri) = c.attr(&ns_attr).or_else(|| el.attr(&ns_attr)) else {
            continue;
        };
        if uri.is_empty() || seen.iter().any(|s| s == uri) {
            continue;
        }
        seen.push(uri.to_string());
        let mut c = c.clone();
        c.strip_blanks();
        out.children.push(dom::Node::Element(c));
    }
    out
}

fn parse_vcpu(root: &Element) -> Result<Vcpu> {
    let mut v = Vcpu::default();
    if let Some(node) = root.child("vcpu") {
        let t = node.text();
        v.max = t
            .trim()
            .parse::<u32>()
            .map_err(|_| Error::xml("maximum vcpus count must be an integer"))?;
        v.current = props::opt_uint::<u32>(node, "current")?.unwrap_or(v.max);
        v.placement = props::opt_enum(node, "placement")?.unwrap_or(CpuPlacement::Static);
        if v.placement != CpuPlacement::Auto {
            if let Some(cs) = node.attr("cpuset") {
                v.cpuset = Some(postparse::canonical_cpuset(cs)?);
            }
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_domain_gets_libvirt_defaults() {
        let xml =
            "<domain type='test'><name>g</name><uuid>22222222-3333-4444-5555-666666666666</uuid>\
                   <memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>";
        let opts = ParseOptions {
            default_arch: Some("i686".into()),
        };
        let d = Domain::parse(xml, ParseFlags::default(), &opts).unwrap();
        assert_eq!(
            d.format(FormatFlags::default()),
            "<domain type='test'>
  <name>g</name>
  <uuid>22222222-3333-4444-5555-666666666666</uuid>
  <memory unit='KiB'>262144</memory>
  <currentMemory unit='KiB'>262144</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
  </devices>
</domain>
"
        );
    }

    #[test]
    fn no_memory_is_rejected_with_libvirt_message() {
        let xml = "<domain type='test'><name>g</name><os><type>hvm</type></os></domain>";
        let e = Domain::parse(xml, ParseFlags::default(), &ParseOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "XML error: Memory size must be specified via <memory> or in the <numa> configuration"
        );
    }

    #[test]
    fn run_time_tunables_format_as_libvirt_does() {
        let xml = "<domain type='test'><name>g</name><memory>1024</memory><vcpu>1</vcpu>\
                   <memtune><hard_limit unit='M'>1</hard_limit></memtune>\
                   <os><type>hvm</type></os><devices>\
                   <disk type='file'><target dev='vda'/><iotune><read_iops_sec>0</read_iops_sec>\
                   <group_name>g&amp;1</group_name><total_iops_sec>5</total_iops_sec></iotune></disk>\
                   <interface type='network'><source network='default'/><model type='virtio'/>\
                   <bandwidth><inbound burst='3' average='1'/></bandwidth></interface>\
                   </devices></domain>";
        let opts = ParseOptions {
            default_arch: Some("i686".into()),
        };
        let mut d = Domain::parse(xml, ParseFlags::default(), &opts).unwrap();
        assert_eq!(d.memtune().hard_limit, 1024);
        assert_eq!(d.memtune().soft_limit, MEMORY_UNLIMITED);
        let mut t = d.memtune();
        t.swap_hard_limit = 2048;
        d.set_memtune(&t);
        d.set_numatune_memory(&NumatuneMemory {
            mode: NumatuneMode::Interleave,
            nodeset: Some(vec![0, 1]),
        });
        d.set_perf_event("mbml", true);
        d.set_perf_event("cmt", false);
        d.on_crash = LifecycleAction::Preserve;
        let io = d.devices.disks[0].iotune();
        assert_eq!(io.get("total_iops_sec"), Some(5));
        let mut bw = d.devices.interfaces[0].bandwidth().unwrap();
        bw.outbound = Some(devices::Rate {
            average: 7,
            ..Default::default()
        });
        d.devices.interfaces[0].set_bandwidth(Some(&bw));
        let out = d.format(FormatFlags::default());
        for want in [
            "  <memtune>\n    <hard_limit unit='KiB'>1024</hard_limit>\n    <swap_hard_limit unit='KiB'>2048</swap_hard_limit>\n  </memtune>\n",
            "  <numatune>\n    <memory mode='interleave' nodeset='0-1'/>\n  </numatune>\n",
            "  <on_crash>preserve</on_crash>\n  <perf>\n    <event name='cmt' enabled='no'/>\n    <event name='mbml' enabled='yes'/>\n  </perf>\n",
            "      <iotune>\n        <total_iops_sec>5</total_iops_sec>\n        <group_name>g&amp;1</group_name>\n      </iotune>\n",
            "      <source network='default'/>\n      <bandwidth>\n        <inbound average='1' burst='3'/>\n        <outbound average='7'/>\n      </bandwidth>\n",
        ] {
            assert!(out.contains(want), "{} not in {}", want, out);
        }
        d.devices.interfaces[0].set_bandwidth(Some(&devices::Bandwidth::default()));
        assert!(d
            .format(FormatFlags::default())
            .contains("      <bandwidth>\n      </bandwidth>\n"));
    }
}
