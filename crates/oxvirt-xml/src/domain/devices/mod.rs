//! `<devices>`: kept per kind, written in libvirt's order of kinds.

pub mod address;
pub mod chardev;
pub mod controller;
pub mod disk;
pub mod graphics;
pub mod hostdev;
pub mod implicit;
pub mod misc;
pub mod net;
pub mod validate;
pub mod video;

use crate::dom::Element;
use crate::error::Result;
use crate::writer::{Attrs, Writer};

use super::{FormatFlags, ParseFlags, Raw};

pub use address::*;
pub use chardev::*;
pub use controller::*;
pub use disk::*;
pub use graphics::*;
pub use hostdev::*;
pub use net::*;
pub use video::*;

/// Device kinds in the order libvirt writes them.
pub const DEVICE_ORDER: &[&str] = &[
    "emulator",
    "disk",
    "controller",
    "lease",
    "filesystem",
    "interface",
    "smartcard",
    "serial",
    "parallel",
    "console",
    "channel",
    "input",
    "tpm",
    "graphics",
    "sound",
    "audio",
    "video",
    "hostdev",
    "redirdev",
    "redirfilter",
    "hub",
    "watchdog",
    "memballoon",
    "rng",
    "nvram",
    "panic",
    "shmem",
    "memory",
    "iommu",
    "vsock",
];

/// `<devices>`
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Devices {
    pub emulator: Option<String>,
    pub disks: Vec<Disk>,
    /// Controllers in libvirt's order (grouped by type, by index).
    pub controllers: Vec<Controller>,
    pub interfaces: Vec<Net>,
    /// Serial, parallel, console and channel devices.
    pub chardevs: Chardevs,
    pub graphics: Vec<Graphics>,
    /// Videos, the primary one first.
    pub videos: Vec<Video>,
    /// Other devices kept verbatim, in document order.
    pub raw: Vec<Raw>,
}

/// Inserts a disk where libvirt places it (virDomainDiskInsert): among
/// the disks on its bus, ordered by target name.
fn insert_disk(list: &mut Vec<Disk>, disk: Disk) {
    let key = |d: &Disk| d.target_dev.as_deref().and_then(disk_name_index);
    let mut at: Option<usize> = None;
    for i in (0..list.len()).rev() {
        if list[i].target_bus != disk.target_bus {
            continue;
        }
        let later = match (key(&list[i]), key(&disk)) {
            (Some(a), Some(b)) => a > b,
            _ => false,
        };
        if later && list[i].target_dev.is_some() && disk.target_dev.is_some() {
            at = Some(i);
        } else if at.is_none() {
            at = Some(i + 1);
        }
    }
    match at {
        Some(i) => list.insert(i, disk),
        None => list.push(disk),
    }
}

impl Devices {
    /// Adds a disk where libvirt places it (virDomainDiskInsert).
    pub fn insert_disk(&mut self, disk: Disk) {
        insert_disk(&mut self.disks, disk)
    }

    pub fn parse(el: Option<&Element>, flags: ParseFlags) -> Result<Devices> {
        let mut d = Devices::default();
        let Some(el) = el else {
            return Ok(d);
        };
        d.emulator = el.child("emulator").map(|e| e.text());
        for c in el.elements() {
            let mut c = c.clone();
            normalize_address(&mut c);
            check_address(&c)?;
            // virDomainDeviceBootParseXML stores loadparm upper-cased.
            for n in c.children.iter_mut() {
                if let crate::dom::Node::Element(b) = n {
                    if b.name == "boot" {
                        if let Some(lp) = b.attr("loadparm").map(str::to_ascii_uppercase) {
                            b.set_attr("loadparm", lp);
                        }
                    }
                }
            }
            if c.name == "hostdev" {
                canonicalize_hostdev(&mut c);
            }
            if c.name == "interface" && c.attr("type") == Some("network") {
                if let Some(crate::dom::Node::Element(s)) = c
                    .children
                    .iter_mut()
                    .find(|n| matches!(n, crate::dom::Node::Element(e) if e.name == "source"))
                {
                    s.attrs
                        .retain(|a| matches!(a.name.as_str(), "network" | "portgroup" | "portid"));
                }
            }
            let c = &c;
            match c.name.as_str() {
                "emulator" => {}
                "disk" => insert_disk(&mut d.disks, Disk::parse(c, flags)?),
                "controller" => insert_controller(&mut d.controllers, Controller::parse(c, flags)?),
                "interface" => d.interfaces.push(Net::parse(c, flags)?),
                "serial" | "parallel" | "console" | "channel" => {
                    d.chardevs.push(Chardev::parse(c, flags)?)
                }
                "graphics" => d.graphics.push(Graphics::parse(c, flags)?),
                "video" => insert_video(&mut d.videos, Video::parse(c, flags)?),
                n if super::is_schema_element(n) => {
                    let mut c = c.clone();
                    unix_source_mode(&mut c);
                    misc::canonical_raw_device(&mut c);
                    d.raw.push(Raw(c))
                }
                _ => {}
            }
        }
        check_usb(&d.controllers)?;
        Ok(d)
    }

    pub fn write(&self, w: &mut Writer, flags: FormatFlags) {
        w.block("devices", Attrs::new(), |w| {
            for kind in DEVICE_ORDER {
                match *kind {
                    "emulator" => w.opt_text("emulator", self.emulator.as_deref()),
                    "disk" => self.disks.iter().for_each(|d| d.write(w, flags)),
                    "controller" => self.controllers.iter().for_each(|c| c.write(w, flags)),
                    "interface" => self.interfaces.iter().for_each(|n| n.write(w, flags)),
                    "serial" => self.chardevs.write_serials(w, flags),
                    "parallel" => self.chardevs.write_parallels(w, flags),
                    "console" => self.chardevs.write_consoles(w, flags),
                    "channel" => self.chardevs.write_channels(w, flags),
                    "graphics" => self.graphics.iter().for_each(|g| g.write(w, flags)),
                    "video" => self.videos.iter().for_each(|v| v.write(w, flags)),
                    k => self
                        .raw
                        .iter()
                        .filter(|r| r.0.name == k)
                        .for_each(|r| r.format(w)),
                }
            }
            for r in self
                .raw
                .iter()
                .filter(|r| !DEVICE_ORDER.contains(&r.0.name.as_str()))
            {
                r.format(w);
            }
        });
    }
}

/// Character sources of unix type inside smartcards, redirdevs and egd rng
/// backends are written with their mode, `connect` unless given
/// (virDomainChrSourceDefFormat).
fn unix_source_mode(el: &mut Element) {
    use crate::dom::Node;
    let holder: Option<&mut Element> = match el.name.as_str() {
        "smartcard" | "redirdev" => Some(el),
        "rng" => el.children.iter_mut().find_map(|n| match n {
            Node::Element(b) if b.name == "backend" && b.attr("model") == Some("egd") => Some(b),
            _ => None,
        }),
        _ => None,
    };
    let Some(h) = holder else { return };
    if h.attr("type") != Some("unix") {
        return;
    }
    for n in h.children.iter_mut() {
        if let Node::Element(src) = n {
            if src.name == "source" && src.attr("mode").is_none() && src.attr("path").is_some() {
                src.attrs.insert(
                    0,
                    crate::dom::Attr {
                        name: "mode".into(),
                        value: "connect".into(),
                    },
                );
            }
        }
    }
}
