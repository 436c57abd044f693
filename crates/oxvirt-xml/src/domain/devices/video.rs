//! `<video>`: model type, memory sizes and heads with libvirt's defaults,
//! the primary device first.

use crate::dom::Element;
use crate::error::{Error, Result};
use crate::writer::{Attrs, Writer};

use super::super::{FormatFlags, ParseFlags};

/// Video model types libvirt knows (`default` is the unset value).
pub const VIDEO_TYPES: &[&str] = &[
    "default",
    "vga",
    "cirrus",
    "vmvga",
    "xen",
    "vbox",
    "qxl",
    "parallels",
    "virtio",
    "gop",
    "none",
    "bochs",
    "ramfb",
];

/// A `<video>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Video {
    /// `<model type=...>`; `default` until post-parse picks one.
    pub model: String,
    pub ram: u32,
    pub vram: u32,
    pub vram64: u32,
    pub vgamem: u32,
    pub heads: u32,
    pub primary: bool,
    /// `<model>` children (acceleration, resolution).
    pub model_children: Vec<Element>,
    /// `<driver>` as written.
    pub driver: Option<Element>,
    /// The element as written, for its device info (alias, address).
    pub el: Element,
}

fn mem_attr(model: &Element, name: &str, err: impl Fn(String) -> Error) -> Result<u32> {
    match model.attr(name) {
        None => Ok(0),
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| err(format!("cannot parse video {} '{}'", name, v))),
    }
}

impl Video {
    /// A video device with libvirt's initial values.
    pub fn new() -> Video {
        Video {
            model: "default".into(),
            ram: 0,
            vram: 0,
            vram64: 0,
            vgamem: 0,
            heads: 1,
            primary: false,
            model_children: Vec::new(),
            driver: None,
            el: Element::new("video"),
        }
    }

    pub fn parse(el: &Element, _flags: ParseFlags) -> Result<Video> {
        let mut v = Video::new();
        v.el = el.clone();
        v.driver = el.child("driver").cloned();
        if let Some(m) = el.child("model") {
            v.primary = m.attr("primary") == Some("yes");
            if let Some(t) = m.attr("type") {
                if !VIDEO_TYPES.contains(&t) {
                    return Err(Error::unsupported(format!("unknown video model '{}'", t)));
                }
                v.model = t.to_string();
            }
            v.ram = mem_attr(m, "ram", Error::Xml)?;
            v.vram = mem_attr(m, "vram", Error::Xml)?;
            v.vram64 = mem_attr(m, "vram64", Error::Xml)?;
            v.vgamem = mem_attr(m, "vgamem", Error::Xml)?;
            if m.attr("heads").is_some() {
                v.heads = mem_attr(m, "heads", Error::Internal)?;
            }
            if let Some(r) = m.child("resolution") {
                for a in ["x", "y"] {
                    crate::props::req(r, a)?;
                    crate::props::opt_uint::<u32>(r, a)?;
                }
            }
            if let Some(a) = m.child("acceleration") {
                if a.attrs.is_empty() {
                    return Err(Error::unsupported("missing values for acceleration"));
                }
            }
            v.model_children = m
                .elements()
                .filter(|c| c.name == "acceleration" || c.name == "resolution")
                .cloned()
                .collect();
        }
        Ok(v)
    }

    fn default_ram(model: &str, virt_type: &str) -> u32 {
        match model {
            "vga" | "cirrus" | "vmvga" => match virt_type {
                "vbox" => 8 * 1024,
                "vmware" => 4 * 1024,
                _ => 16 * 1024,
            },
            "bochs" => 16 * 1024,
            "xen" => 4 * 1024,
            "qxl" => 64 * 1024,
            _ => 0,
        }
    }

    /// The test driver's model choice, then libvirt's memory defaults.
    pub fn post_parse(&mut self, virt_type: &str, os_type: &str, arch: &str) {
        if self.model == "default" {
            self.model = if os_type == "xen" || os_type == "linux" {
                "xen"
            } else if arch.starts_with("ppc64") {
                "vga"
            } else {
                "cirrus"
            }
            .into();
        }
        if self.ram == 0 && self.model == "qxl" {
            self.ram = Self::default_ram(&self.model, virt_type);
        }
        if self.vram == 0 {
            self.vram = Self::default_ram(&self.model, virt_type);
        }
        self.ram = round_pow2(self.ram);
        self.vram = round_pow2(self.vram);
    }

    /// Clears every value libvirt fills in (a `none` primary video).
    pub fn clear(&mut self) {
        let el = self.el.clone();
        *self = Video::new();
        self.model = "none".into();
        self.heads = 0;
        // Only a user alias survives.
        self.el = Element::new("video");
        if let Some(a) = el.child("alias") {
            self.el.children.push(crate::dom::Node::Element(a.clone()));
        }
    }

    pub fn validate(&self, count: usize) -> Result<()> {
        if self.model == "none" && count > 1 {
            return Err(Error::unsupported(
                "a 'none' video type must be the only video device defined for the domain",
            ));
        }
        if let Some(r) = self.model_children.iter().find(|c| c.name == "resolution") {
            if r.attr("x") == Some("0") || r.attr("y") == Some("0") {
                return Err(Error::unsupported(
                    "video resolution values must be greater than 0",
                ));
            }
        }
        if self.model != "qxl" {
            for (v, n) in [
                (self.ram, "ram"),
                (self.vram64, "vram64"),
                (self.vgamem, "vgamem"),
            ] {
                if v != 0 {
                    return Err(Error::unsupported(format!(
                        "{} attribute only supported for video type qxl",
                        n
                    )));
                }
            }
        }
        if self.model == "ramfb" && self.el.child("address").is_some() {
            return Err(Error::unsupported(
                "address not supported for video type ramfb",
            ));
        }
        Ok(())
    }

    pub fn write(&self, w: &mut Writer, _flags: FormatFlags) {
        w.elem("video", Attrs::new(), |w| {
            if let Some(d) = &self.driver {
                let mut d = d.clone();
                let order = ["iommu", "ats", "packed", "page_per_vq", "vgaconf", "name"];
                d.attrs.retain(|a| order.contains(&a.name.as_str()));
                d.attrs
                    .sort_by_key(|a| order.iter().position(|o| *o == a.name));
                d.children.clear();
                if !d.attrs.is_empty() {
                    w.element(&d);
                }
            }
            let mut a = Attrs::new().add("type", &self.model);
            for (v, n) in [
                (self.ram, "ram"),
                (self.vram, "vram"),
                (self.vram64, "vram64"),
                (self.vgamem, "vgamem"),
                (self.heads, "heads"),
            ] {
                if v != 0 {
                    a.push(n, v);
                }
            }
            if self.primary {
                a.push("primary", "yes");
            }
            w.elem("model", a, |w| {
                for n in ["acceleration", "resolution"] {
                    for c in self.model_children.iter().filter(|c| c.name == n) {
                        w.element(c);
                    }
                }
            });
            for n in ["alias", "acpi", "address"] {
                for c in self.el.children_named(n) {
                    w.element(c);
                }
            }
        });
    }
}

impl Default for Video {
    fn default() -> Self {
        Video::new()
    }
}

fn round_pow2(v: u32) -> u32 {
    if v == 0 {
        0
    } else {
        v.checked_next_power_of_two().unwrap_or(v)
    }
}

/// Places parsed videos as libvirt does: a primary one goes first.
pub fn insert_video(list: &mut Vec<Video>, v: Video) {
    if v.primary {
        list.insert(0, v);
    } else {
        list.push(v);
    }
}

/// Checks over all videos (virDomainDefVideoValidate and per-device).
pub fn validate_videos(list: &[Video]) -> Result<()> {
    if list.first().is_some_and(|v| v.primary) && list.iter().skip(1).any(|v| v.primary) {
        return Err(Error::unsupported(
            "Only one primary video device is supported",
        ));
    }
    for v in list {
        v.validate(list.len())?;
    }
    Ok(())
}
