//! libvirt's `<cpu>` definition as the CPU APIs read and write it (host
//! CPUs from capabilities, guest CPUs from domains), with libvirt's
//! parse errors and its canonical form.

use oxvirt_core::error::{code, from};
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::Element;
use oxvirt_xml::writer::{Attrs, Writer};

/// Errors of the CPU layer belong to libvirt's CPU domain.
const FROM: i32 = from::CPU;

fn xml_err(msg: impl Into<String>) -> Error {
    Error::new(code::XML_ERROR, FROM, msg)
}

/// A host CPU (capabilities) or a guest CPU (domain, baseline result).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuType {
    Host,
    Guest,
}

macro_rules! str_enum {
    ($name:ident { $($var:ident = $s:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($var),+ }
        impl $name {
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$var),)+ _ => None }
            }
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }
    };
}

str_enum!(Mode {
    Custom = "custom",
    HostModel = "host-model",
    HostPassthrough = "host-passthrough",
    Maximum = "maximum",
});
str_enum!(Match {
    Minimum = "minimum",
    Exact = "exact",
    Strict = "strict",
});
str_enum!(Check {
    Default = "default",
    None = "none",
    Partial = "partial",
    Full = "full",
});
str_enum!(Fallback {
    Allow = "allow",
    Forbid = "forbid",
});
str_enum!(Policy {
    Force = "force",
    Require = "require",
    Optional = "optional",
    Disable = "disable",
    Forbid = "forbid",
});

/// One `<feature>`: a host CPU's features have no policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureDef {
    pub name: String,
    pub policy: Option<Policy>,
}

/// `<counter name='tsc'>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tsc {
    pub frequency: u64,
    pub scaling: Option<bool>,
}

/// A parsed `<cpu>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuDef {
    pub cpu_type: CpuType,
    pub mode: Mode,
    pub matches: Match,
    pub check: Check,
    pub migratable: Option<bool>,
    pub arch: Option<String>,
    pub model: Option<String>,
    pub fallback: Fallback,
    pub vendor_id: Option<String>,
    pub vendor: Option<String>,
    pub microcode: Option<u32>,
    /// family, model, stepping
    pub signature: Option<(u32, u32, u32)>,
    pub tsc: Option<Tsc>,
    /// sockets, dies, cores, threads
    pub topology: Option<(u32, u32, u32, u32)>,
    /// `<cache>`: level (-1 none) and mode, kept as written.
    pub cache: Option<(i32, String)>,
    /// `<maxphysaddr>`: mode and bits (-1 none).
    pub maxphysaddr: Option<(String, i32)>,
    pub features: Vec<FeatureDef>,
}

impl CpuDef {
    /// An empty definition of `cpu_type`.
    pub fn new(cpu_type: CpuType) -> CpuDef {
        CpuDef {
            cpu_type,
            mode: Mode::Custom,
            matches: Match::Exact,
            check: Check::Default,
            migratable: None,
            arch: None,
            model: None,
            fallback: Fallback::Allow,
            vendor_id: None,
            vendor: None,
            microcode: None,
            signature: None,
            tsc: None,
            topology: None,
            cache: None,
            maxphysaddr: None,
            features: Vec::new(),
        }
    }

    /// Parses one CPU definition (`virCPUDefParseXMLString`); `cpu_type`
    /// None means "host when it has `<arch>`, guest otherwise".
    pub fn parse(xml: &str, cpu_type: Option<CpuType>) -> Result<CpuDef> {
        let root = oxvirt_xml::dom::parse(xml, "(CPU_definition)")
            .map_err(|e| Error::from_xml(oxvirt_xml::Error::Malformed(e), FROM))?;
        Self::from_element(&root, cpu_type)
    }

    /// `virCPUDefParseXML` on an element.
    pub fn from_element(el: &Element, cpu_type: Option<CpuType>) -> Result<CpuDef> {
        if el.name != "cpu" {
            return Err(xml_err("XML does not contain expected 'cpu' element"));
        }
        let ty = match cpu_type {
            Some(t) => t,
            None if el.child("arch").is_some() => {
                if el.has_attr("match") {
                    return Err(xml_err(
                        "'arch' element cannot be used inside 'cpu' element with 'match' attribute'",
                    ));
                }
                CpuType::Host
            }
            None => CpuType::Guest,
        };
        let mut def = CpuDef::new(ty);
        match el.attr("mode") {
            Some(_) if ty == CpuType::Host => {
                return Err(Error::unsupported_config(
                    FROM,
                    "Attribute mode is only allowed for guest CPU",
                ))
            }
            Some(m) => {
                def.mode = Mode::parse(m).ok_or_else(|| {
                    Error::unsupported_config(FROM, format!("Invalid mode attribute '{}'", m))
                })?;
            }
            None => {}
        }
        if let Some(v) = el.attr("migratable") {
            def.migratable = Some(match v {
                "on" => true,
                "off" => false,
                _ => return Err(invalid_attr(el, "migratable", v)),
            });
            if !matches!(def.mode, Mode::HostPassthrough | Mode::Maximum) {
                return Err(Error::unsupported_config(
                    FROM,
                    "Attribute migratable is only allowed for 'host-passthrough' / 'maximum' CPU mode",
                ));
            }
        }
        if ty == CpuType::Guest {
            if let Some(v) = el.attr("match") {
                def.matches = Match::parse(v).ok_or_else(|| invalid_attr(el, "match", v))?;
            }
            if let Some(v) = el.attr("check") {
                def.check = Check::parse(v).ok_or_else(|| invalid_attr(el, "check", v))?;
            }
        }
        if ty == CpuType::Host {
            let arch = el
                .child("arch")
                .map(|a| a.text())
                .ok_or_else(|| xml_err("Missing CPU architecture"))?;
            if !crate::cpu::is_arch(&arch) {
                return Err(Error::unsupported_config(
                    FROM,
                    format!("Unknown architecture {}", arch),
                ));
            }
            def.arch = Some(arch);
            if let Some(v) = el.child("microcode").and_then(|m| m.attr("version")) {
                def.microcode =
                    Some(parse_uint(v).ok_or_else(|| {
                        Error::unsupported_config(FROM, "invalid microcode version")
                    })?);
            }
            if let Some(s) = el.child("signature") {
                let family = uint_attr(s, "family", true, true)?.unwrap_or(0);
                let model = uint_attr(s, "model", true, false)?.unwrap_or(0);
                let stepping = uint_attr(s, "stepping", true, false)?.unwrap_or(0);
                def.signature = Some((family, model, stepping));
            }
            if let Some(c) = el
                .children_named("counter")
                .find(|c| c.attr("name") == Some("tsc"))
            {
                let frequency = match c.attr("frequency") {
                    None => return Err(missing_attr(c, "frequency")),
                    Some(v) => v.parse::<u64>().map_err(|_| {
                        xml_err(format!(
                            "Invalid value for attribute 'frequency' in element 'counter': '{}'. Expected non-negative integer value",
                            v
                        ))
                    })?,
                };
                let scaling = match c.attr("scaling") {
                    None => None,
                    Some("yes") => Some(true),
                    Some("no") => Some(false),
                    Some(v) => return Err(invalid_attr(c, "scaling", v)),
                };
                def.tsc = Some(Tsc { frequency, scaling });
            }
        }
        let model_el = el.child("model");
        def.model = model_el.map(|m| m.text()).filter(|t| !t.is_empty());
        if def.model.is_none() && ty == CpuType::Host {
            return Err(xml_err("Missing CPU model name"));
        }
        if ty == CpuType::Guest && !matches!(def.mode, Mode::HostPassthrough | Mode::Maximum) {
            if let Some(m) = model_el {
                if let Some(f) = m.attr("fallback") {
                    def.fallback = Fallback::parse(f).ok_or_else(|| {
                        Error::unsupported_config(FROM, "Invalid fallback attribute")
                    })?;
                }
                if let Some(v) = m.attr("vendor_id") {
                    if v.len() != 12 {
                        return Err(xml_err("vendor_id must be exactly 12 characters long"));
                    }
                    if v.contains(',') {
                        return Err(xml_err("vendor id is invalid"));
                    }
                    def.vendor_id = Some(v.to_string());
                }
            }
        }
        def.vendor = el.child("vendor").map(|v| v.text());
        if def.vendor.is_some() && def.model.is_none() {
            return Err(xml_err("CPU vendor specified without CPU model"));
        }
        if let Some(t) = el.child("topology") {
            let sockets = uint_attr(t, "sockets", true, true)?.unwrap_or(0);
            let dies = uint_attr(t, "dies", false, true)?.unwrap_or(1);
            let cores = uint_attr(t, "cores", true, true)?.unwrap_or(0);
            let threads = uint_attr(t, "threads", true, true)?.unwrap_or(0);
            def.topology = Some((sockets, dies, cores, threads));
        }
        let features: Vec<&Element> = el.children_named("feature").collect();
        if !features.is_empty() && def.model.is_none() && def.mode == Mode::Custom {
            return Err(xml_err(
                "Non-empty feature list specified without CPU model",
            ));
        }
        for f in features {
            let policy = if ty == CpuType::Guest {
                Some(match f.attr("policy") {
                    None => Policy::Require,
                    Some(p) => Policy::parse(p).ok_or_else(|| {
                        Error::unsupported_config(FROM, "Invalid CPU feature policy")
                    })?,
                })
            } else {
                None
            };
            let name = f
                .attr("name")
                .filter(|n| !n.is_empty())
                .ok_or_else(|| xml_err("Invalid CPU feature name"))?;
            if def.features.iter().any(|x| x.name == name) {
                return Err(xml_err(format!(
                    "CPU feature '{}' specified more than once",
                    name
                )));
            }
            def.features.push(FeatureDef {
                name: name.to_string(),
                policy,
            });
        }
        let caches: Vec<&Element> = el.children_named("cache").collect();
        if caches.len() > 1 {
            return Err(xml_err("at most one CPU cache element may be specified"));
        }
        if let Some(c) = caches.first() {
            let level = match c.attr("level") {
                None => -1,
                Some(v) => match v.parse::<i32>() {
                    Ok(l) if (1..=3).contains(&l) => l,
                    Ok(l) if l >= 0 => {
                        return Err(xml_err("invalid CPU cache level, must be in range [1,3]"))
                    }
                    _ => {
                        return Err(xml_err(format!(
                            "Invalid value for attribute 'level' in element 'cache': '{}'. Expected non-negative value",
                            v
                        )))
                    }
                },
            };
            let mode = match c.attr("mode") {
                Some(m @ ("emulate" | "passthrough" | "disable")) => m.to_string(),
                Some(m) => return Err(invalid_attr(c, "mode", m)),
                None => return Err(missing_attr(c, "mode")),
            };
            def.cache = Some((level, mode));
        }
        if let Some(m) = el.child("maxphysaddr") {
            let mode = match m.attr("mode") {
                Some(v @ ("emulate" | "passthrough")) => v.to_string(),
                Some(v) => return Err(invalid_attr(m, "mode", v)),
                None => return Err(missing_attr(m, "mode")),
            };
            let bits = match m.attr("bits") {
                None => -1,
                Some(v) => v.parse::<i32>().ok().filter(|b| *b >= 0).ok_or_else(|| {
                    xml_err(format!(
                        "Invalid value for attribute 'bits' in element 'maxphysaddr': '{}'. Expected non-negative value",
                        v
                    ))
                })?,
            };
            def.maxphysaddr = Some((mode, bits));
        }
        Ok(def)
    }

    /// The feature named `name`, if listed.
    pub fn feature(&self, name: &str) -> Option<&FeatureDef> {
        self.features.iter().find(|f| f.name == name)
    }

    /// Adds `name` or changes its policy (`virCPUDefUpdateFeature`).
    pub fn update_feature(&mut self, name: &str, policy: Policy) {
        let policy = (self.cpu_type == CpuType::Guest).then_some(policy);
        match self.features.iter_mut().find(|f| f.name == name) {
            Some(f) => f.policy = policy,
            None => self.features.push(FeatureDef {
                name: name.to_string(),
                policy,
            }),
        }
    }

    /// The whole `<cpu>` element (`virCPUDefFormat`).
    pub fn format(&self) -> String {
        let mut w = Writer::new();
        self.write(&mut w);
        w.into_string()
    }

    /// Writes the `<cpu>` element.
    pub fn write(&self, w: &mut Writer) {
        let mut attrs = Attrs::new();
        if self.cpu_type == CpuType::Guest && (self.mode != Mode::Custom || self.model.is_some()) {
            attrs = attrs.add("mode", self.mode.as_str());
            if self.mode == Mode::Custom {
                attrs = attrs.add("match", self.matches.as_str());
            }
            if self.check != Check::Default {
                attrs = attrs.add("check", self.check.as_str());
            }
            if matches!(self.mode, Mode::HostPassthrough | Mode::Maximum) {
                if let Some(m) = self.migratable {
                    attrs = attrs.add("migratable", if m { "on" } else { "off" });
                }
            }
        }
        w.elem("cpu", attrs, |w| {
            if self.cpu_type == CpuType::Host {
                if let Some(a) = &self.arch {
                    w.text("arch", Attrs::new(), a);
                }
            }
            self.write_body(w);
        });
    }

    /// The children after `<arch>` (`virCPUDefFormatBuf`).
    pub fn write_body(&self, w: &mut Writer) {
        let format_model = matches!(self.mode, Mode::Custom | Mode::HostModel);
        let guest = self.cpu_type == CpuType::Guest;
        if format_model && (self.model.is_some() || self.vendor_id.is_some()) {
            let mut a = Attrs::new();
            if guest && self.model.is_some() {
                a = a.add("fallback", self.fallback.as_str());
            }
            if guest {
                a = a.opt("vendor_id", self.vendor_id.as_deref());
            }
            match &self.model {
                Some(m) => w.text("model", a, m),
                None => w.empty("model", a),
            }
        }
        if format_model {
            if let Some(v) = &self.vendor {
                w.text("vendor", Attrs::new(), v);
            }
        }
        if !guest {
            if let Some(m) = self.microcode.filter(|m| *m != 0) {
                w.empty("microcode", Attrs::new().add("version", m));
            }
            if let Some((f, m, s)) = self.signature.filter(|s| s.0 != 0) {
                w.empty(
                    "signature",
                    Attrs::new()
                        .add("family", f)
                        .add("model", m)
                        .add("stepping", s),
                );
            }
            if let Some(t) = &self.tsc {
                w.empty(
                    "counter",
                    Attrs::new()
                        .add("name", "tsc")
                        .add("frequency", t.frequency)
                        .opt("scaling", t.scaling.map(|s| if s { "yes" } else { "no" })),
                );
            }
        }
        if let Some((s, d, c, t)) = self.topology {
            if s != 0 && d != 0 && c != 0 && t != 0 {
                w.empty(
                    "topology",
                    Attrs::new()
                        .add("sockets", s)
                        .add("dies", d)
                        .add("cores", c)
                        .add("threads", t),
                );
            }
        }
        if let Some((level, mode)) = &self.cache {
            let a = if *level != -1 {
                Attrs::new().add("level", level)
            } else {
                Attrs::new()
            };
            w.empty("cache", a.add("mode", mode));
        }
        if let Some((mode, bits)) = &self.maxphysaddr {
            let a = Attrs::new().add("mode", mode);
            w.empty(
                "maxphysaddr",
                if *bits != -1 { a.add("bits", bits) } else { a },
            );
        }
        for f in &self.features {
            match (guest, f.policy) {
                (true, p) => w.empty(
                    "feature",
                    Attrs::new()
                        .add("policy", p.unwrap_or(Policy::Require).as_str())
                        .add("name", &f.name),
                ),
                (false, _) => w.empty("feature", Attrs::new().add("name", &f.name)),
            }
        }
    }
}

fn missing_attr(el: &Element, attr: &str) -> Error {
    xml_err(format!(
        "Missing required attribute '{}' in element '{}'",
        attr, el.name
    ))
}

fn invalid_attr(el: &Element, attr: &str, value: &str) -> Error {
    xml_err(format!(
        "Invalid value for attribute '{}' in element '{}': '{}'.",
        attr, el.name, value
    ))
}

/// `virStrToLong_ui` with base 10 (a leading `-` wraps in C; refused here).
fn parse_uint(v: &str) -> Option<u32> {
    v.trim_start().parse::<u32>().ok()
}

/// `virXMLPropUInt` (base 10) with libvirt's messages.
fn uint_attr(el: &Element, attr: &str, required: bool, nonzero: bool) -> Result<Option<u32>> {
    let Some(v) = el.attr(attr) else {
        return if required {
            Err(missing_attr(el, attr))
        } else {
            Ok(None)
        };
    };
    let n = parse_uint(v).ok_or_else(|| {
        xml_err(format!(
            "Invalid value for attribute '{}' in element '{}': '{}'. Expected non-negative integer value",
            attr, el.name, v
        ))
    })?;
    if nonzero && n == 0 {
        return Err(xml_err(format!(
            "Invalid value for attribute '{}' in element '{}': Zero is not permitted",
            attr, el.name
        )));
    }
    Ok(Some(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_cpu_round_trip() {
        let x = "<cpu>\n  <arch>x86_64</arch>\n  <model>kvm64</model>\n  <vendor>AMD</vendor>\n  <microcode version='16777317'/>\n  <signature family='26' model='2' stepping='1'/>\n  <counter name='tsc' frequency='2596122000' scaling='no'/>\n  <topology sockets='1' dies='1' cores='2' threads='1'/>\n  <maxphysaddr mode='emulate' bits='48'/>\n  <feature name='vme'/>\n</cpu>\n";
        let d = CpuDef::parse(x, None).expect("parses");
        assert_eq!(d.cpu_type, CpuType::Host);
        assert_eq!(d.format(), x);
    }

    #[test]
    fn guest_defaults_and_errors() {
        let d = CpuDef::parse(
            "<cpu><model>Haswell</model><feature name='avx'/></cpu>",
            None,
        )
        .expect("parses");
        assert_eq!(
            d.format(),
            "<cpu mode='custom' match='exact'>\n  <model fallback='allow'>Haswell</model>\n  <feature policy='require' name='avx'/>\n</cpu>\n"
        );
        let e = CpuDef::parse("<cpu match='exact'><arch>x86_64</arch></cpu>", None).unwrap_err();
        assert!(e.message.contains("'arch' element cannot be used"));
        let e = CpuDef::parse("<cpu><feature name='avx'/></cpu>", None).unwrap_err();
        assert_eq!(
            e.message,
            "XML error: Non-empty feature list specified without CPU model"
        );
        let e = CpuDef::parse(
            "<cpu><model>a</model><feature name='x'/><feature name='x'/></cpu>",
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "XML error: CPU feature 'x' specified more than once"
        );
        let e = CpuDef::parse("<domain/>", None).unwrap_err();
        assert_eq!(
            e.message,
            "XML error: XML does not contain expected 'cpu' element"
        );
    }
}
