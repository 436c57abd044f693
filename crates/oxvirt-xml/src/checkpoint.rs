//! The domain checkpoint definition (`<domaincheckpoint>`): parse with
//! libvirt's checks and messages, align its disks with a domain, and
//! write it in libvirt's canonical form. No I/O: the post-parse clock
//! value is passed in.

use crate::dom::{self, Element};
use crate::domain::{Domain, ParseOptions};
use crate::error::{Error, Result};
use crate::props;
use crate::snapshot::{
    disk_index_by_name, disk_is_empty, disk_is_readonly, parse_embedded_domain,
    write_embedded_domain,
};
use crate::writer::{Attrs, Writer};

crate::xml_enum! {
    /// `virDomainCheckpointType`
    pub enum CheckpointType { Default = "default", No = "no", Bitmap = "bitmap" }
}

/// How a checkpoint document is parsed (`VIR_DOMAIN_CHECKPOINT_PARSE_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseFlags {
    pub redefine: bool,
    /// The post-parse clock (seconds); stored as creation time and as
    /// the name when there is none. Ignored when redefining.
    pub now: Option<i64>,
}

/// How a checkpoint is written (`VIR_DOMAIN_CHECKPOINT_FORMAT_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FormatFlags {
    pub secure: bool,
    pub no_domain: bool,
    pub size: bool,
}

/// One `<disk>` of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointDisk {
    pub name: Option<String>,
    pub checkpoint: CheckpointType,
    pub bitmap: Option<String>,
    /// Bytes, when known (written with `size`).
    pub size: Option<u64>,
}

/// A checkpoint definition (`virDomainCheckpointDef`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Checkpoint {
    pub name: Option<String>,
    pub description: Option<String>,
    pub parent: Option<String>,
    /// Seconds since the epoch; 0 = not set.
    pub creation_time: i64,
    pub disks: Vec<CheckpointDisk>,
    pub domain: Option<Box<Domain>>,
}

fn child_string(el: &Element, name: &str) -> Option<String> {
    el.child(name).map(|c| c.text()).filter(|t| !t.is_empty())
}

impl Checkpoint {
    /// Parses a checkpoint document (`virDomainCheckpointDefParseString`).
    pub fn parse(xml: &str, flags: ParseFlags, opts: &ParseOptions) -> Result<Checkpoint> {
        let mut root = dom::parse(xml, "(domain_checkpoint)")?;
        if root.name != "domaincheckpoint" {
            return Err(Error::xml(format!(
                "expecting root element of 'domaincheckpoint', not '{}'",
                root.name
            )));
        }
        root.strip_blanks();
        Self::from_element(&root, flags, opts)
    }

    /// Parses a `<domaincheckpoint>` element.
    pub fn from_element(
        root: &Element,
        flags: ParseFlags,
        opts: &ParseOptions,
    ) -> Result<Checkpoint> {
        let mut def = Checkpoint {
            name: child_string(root, "name"),
            description: child_string(root, "description"),
            ..Default::default()
        };
        if def.name.is_none() && flags.redefine {
            return Err(Error::xml("a redefined checkpoint must have a name"));
        }
        if flags.redefine {
            def.creation_time = root
                .child("creationTime")
                .and_then(|c| c.text().trim().parse().ok())
                .ok_or_else(|| Error::internal("missing creationTime from existing checkpoint"))?;
            def.parent = root.child("parent").and_then(|p| child_string(p, "name"));
            if let Some(d) = root.child("domain") {
                def.domain = Some(Box::new(parse_embedded_domain(d, opts)?));
            }
        } else if let Some(now) = flags.now {
            def.creation_time = now;
            if def.name.is_none() {
                def.name = Some(now.to_string());
            }
        }
        if let Some(disks) = root.child("disks") {
            for d in disks.elements() {
                def.disks.push(CheckpointDisk {
                    name: props::opt(d, "name"),
                    checkpoint: props::opt_enum(d, "checkpoint")?.unwrap_or(CheckpointType::Bitmap),
                    bitmap: props::opt(d, "bitmap"),
                    size: None,
                });
            }
        }
        Ok(def)
    }

    /// Writes the definition (`virDomainCheckpointDefFormat`).
    pub fn format(&self, flags: FormatFlags) -> String {
        let mut w = Writer::new();
        w.block("domaincheckpoint", Attrs::new(), |w| {
            w.opt_text("name", self.name.as_deref());
            w.opt_text("description", self.description.as_deref());
            if let Some(p) = &self.parent {
                w.block("parent", Attrs::new(), |w| w.text("name", Attrs::new(), p));
            }
            if self.creation_time != 0 {
                w.text("creationTime", Attrs::new(), self.creation_time);
            }
            if !self.disks.is_empty() {
                w.block("disks", Attrs::new(), |w| {
                    for d in &self.disks {
                        let Some(name) = &d.name else { continue };
                        let mut a = Attrs::new().add("name", name);
                        if d.checkpoint != CheckpointType::Default {
                            a.push("checkpoint", d.checkpoint);
                        }
                        if let Some(b) = &d.bitmap {
                            a.push("bitmap", b);
                            if flags.size {
                                if let Some(s) = d.size {
                                    a.push("size", s);
                                }
                            }
                        }
                        w.empty("disk", a);
                    }
                });
            }
            if let Some(d) = &self.domain {
                if !flags.no_domain {
                    write_embedded_domain(w, d, "domain", flags.secure);
                }
            }
        });
        w.into_string()
    }

    /// Default bitmap names: the checkpoint's name for every bitmap disk
    /// without one (`virDomainCheckpointDefAssignBitmapNames`).
    pub fn assign_bitmap_names(&mut self) {
        let name = self.name.clone().unwrap_or_default();
        for d in &mut self.disks {
            if d.checkpoint == CheckpointType::Bitmap && d.bitmap.is_none() {
                d.bitmap = Some(name.clone());
            }
        }
    }

    /// Aligns the disks with the checkpoint's domain
    /// (`virDomainCheckpointAlignDisks`).
    pub fn align_disks(&mut self) -> Result<()> {
        let Some(domdef) = self.domain.as_deref() else {
            return Err(Error::internal("missing domain in checkpoint"));
        };
        let domdisks = &domdef.devices.disks;
        if self.disks.len() > domdisks.len() {
            return Err(Error::unsupported(
                "too many disk checkpoint requests for domain",
            ));
        }
        if domdisks.is_empty() {
            return Err(Error::unsupported(
                "domain must have at least one disk to perform checkpoints",
            ));
        }
        let default = if self.disks.is_empty() {
            CheckpointType::Bitmap
        } else {
            CheckpointType::Default
        };
        let old = std::mem::take(&mut self.disks);
        let mut by_index: Vec<Option<CheckpointDisk>> = vec![None; domdisks.len()];
        for mut cd in old {
            let name = cd.name.clone().unwrap_or_default();
            let idx = disk_index_by_name(domdef, &name)
                .ok_or_else(|| Error::unsupported(format!("no disk named '{}'", name)))?;
            if by_index[idx].is_some() {
                return Err(Error::unsupported(format!(
                    "disk '{}' specified twice",
                    name
                )));
            }
            let dd = &domdisks[idx];
            if (disk_is_empty(dd) || disk_is_readonly(dd)) && cd.checkpoint != CheckpointType::No {
                return Err(Error::unsupported(format!(
                    "disk '{}' is empty or readonly",
                    name
                )));
            }
            if let Some(dst) = &dd.target_dev {
                cd.name = Some(dst.clone());
            }
            by_index[idx] = Some(cd);
        }
        self.disks = by_index
            .into_iter()
            .enumerate()
            .map(|(i, slot)| {
                slot.unwrap_or_else(|| {
                    let dd = &domdisks[i];
                    CheckpointDisk {
                        name: dd.target_dev.clone(),
                        checkpoint: if disk_is_empty(dd) || disk_is_readonly(dd) {
                            CheckpointType::No
                        } else {
                            default
                        },
                        bitmap: None,
                        size: None,
                    }
                })
            })
            .collect();
        self.assign_bitmap_names();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_without_domain() {
        let xml = "<domaincheckpoint>\n  <name>c2</name>\n  <parent>\n    <name>c3</name>\n  </parent>\n  <creationTime>5</creationTime>\n  <disks>\n    <disk name='vda' checkpoint='bitmap' bitmap='c2'/>\n  </disks>\n</domaincheckpoint>\n";
        let c = Checkpoint::parse(
            xml,
            ParseFlags {
                redefine: true,
                ..Default::default()
            },
            &ParseOptions::default(),
        )
        .unwrap();
        assert_eq!(c.format(FormatFlags::default()), xml);
    }
}
