//! Post-parse steps over the device list: per-device defaults that need
//! the whole list, drive addresses, and the controllers libvirt adds for
//! devices that sit on a bus without one.

use crate::dom::{Element, Node};
use crate::error::{Error, Result};
use crate::props;

use super::{maybe_add, Devices, DriveAddress};

/// The drive address of a SCSI `<hostdev>`.
fn scsi_hostdev_address(el: &Element) -> Option<DriveAddress> {
    if el.name != "hostdev"
        || el.attr("type") != Some("scsi")
        || el.attr("mode").unwrap_or("subsystem") != "subsystem"
    {
        return None;
    }
    DriveAddress::of(el)
}

fn is_scsi_hostdev(el: &Element) -> bool {
    el.name == "hostdev"
        && el.attr("type") == Some("scsi")
        && el.attr("mode").unwrap_or("subsystem") == "subsystem"
}

/// Replaces (or adds) the `<address>` child of `el`.
pub fn set_address(el: &mut Element, addr: Element) {
    for n in el.children.iter_mut() {
        if let Node::Element(e) = n {
            if e.name == "address" {
                *e = addr;
                return;
            }
        }
    }
    el.children.push(Node::Element(addr));
}

impl Devices {
    fn scsi_hostdev_addresses(&self) -> Vec<DriveAddress> {
        self.raw
            .iter()
            .filter_map(|r| scsi_hostdev_address(&r.0))
            .collect()
    }

    fn scsi_address_used(&self, a: &DriveAddress) -> bool {
        self.disks
            .iter()
            .any(|d| d.bus() == "scsi" && d.drive_address().as_ref() == Some(a))
            || self.scsi_hostdev_addresses().contains(a)
    }

    /// Per-device post-parse over disks and SCSI host devices.
    pub fn post_parse_devices(&mut self) -> Result<()> {
        for d in self.disks.iter_mut() {
            d.post_parse()?;
        }
        // SCSI host devices without an address take the first free unit.
        for i in 0..self.raw.len() {
            if !is_scsi_hostdev(&self.raw[i].0) || self.raw[i].0.child("address").is_some() {
                continue;
            }
            let mut controller = 0;
            let addr = loop {
                let free = (0..7).find(|&u| {
                    !self.scsi_address_used(&DriveAddress {
                        controller,
                        bus: 0,
                        target: 0,
                        unit: u,
                    })
                });
                match free {
                    Some(u) => {
                        break DriveAddress {
                            controller,
                            bus: 0,
                            target: 0,
                            unit: u,
                        }
                    }
                    None => controller += 1,
                }
            };
            set_address(&mut self.raw[i].0, addr.element());
        }
        for r in &self.raw {
            if let Some(a) = scsi_hostdev_address(&r.0) {
                if self
                    .disks
                    .iter()
                    .any(|d| d.bus() == "scsi" && d.drive_address() == Some(a))
                {
                    return Err(Error::xml(format!(
                        "SCSI host address controller='{}' bus='{}' target='{}' unit='{}' in use by a SCSI disk",
                        a.controller, a.bus, a.target, a.unit
                    )));
                }
            }
        }
        let used = self.scsi_hostdev_addresses();
        for d in self.disks.iter_mut() {
            d.assign_address(&used)?;
        }
        Ok(())
    }

    /// virDomainDefAddImplicitControllers.
    pub fn add_implicit_controllers(&mut self) {
        for (ctype, bus) in [
            ("scsi", "scsi"),
            ("fdc", "fdc"),
            ("ide", "ide"),
            ("sata", "sata"),
        ] {
            let max = self
                .disks
                .iter()
                .filter(|d| d.bus() == bus)
                .filter_map(|d| d.drive_address())
                .map(|a| a.controller)
                .max();
            if let Some(max) = max {
                for i in 0..=max {
                    maybe_add(&mut self.controllers, ctype, i);
                }
            }
        }
        // virtio-serial for virtio channels and consoles
        let mut vioserial = Vec::new();
        for c in self
            .chardevs
            .channels
            .iter()
            .chain(self.chardevs.consoles.iter())
        {
            if c.target_type != "virtio" {
                continue;
            }
            let idx =
                c.el.child("address")
                    .filter(|a| a.attr("type") == Some("virtio-serial"))
                    .and_then(|a| a.attr("controller"))
                    .and_then(props::parse_u64_any_base)
                    .unwrap_or(0) as u32;
            vioserial.push(idx);
        }
        for idx in vioserial {
            maybe_add(&mut self.controllers, "virtio-serial", idx);
        }
        // ccid for smartcards
        let ccid_of = |el: &Element| -> Option<(u32, u32)> {
            let a = el.child("address")?;
            if a.attr("type") != Some("ccid") {
                return None;
            }
            let n = |k: &str| a.attr(k).and_then(props::parse_u64_any_base).unwrap_or(0) as u32;
            Some((n("controller"), n("slot")))
        };
        for i in 0..self.raw.len() {
            if self.raw[i].0.name != "smartcard" {
                continue;
            }
            let idx = match ccid_of(&self.raw[i].0) {
                Some((c, _)) => c,
                None if self.raw[i].0.child("address").is_none() => {
                    let max = self
                        .raw
                        .iter()
                        .filter(|r| r.0.name == "smartcard")
                        .filter_map(|r| ccid_of(&r.0))
                        .filter(|(c, _)| *c == 0)
                        .map(|(_, s)| s as i64)
                        .max()
                        .unwrap_or(-1);
                    let mut a = Element::new("address");
                    a.set_attr("type", "ccid");
                    a.set_attr("controller", "0");
                    a.set_attr("slot", (max + 1).to_string());
                    set_address(&mut self.raw[i].0, a);
                    0
                }
                None => 0,
            };
            maybe_add(&mut self.controllers, "ccid", idx);
        }
        // SCSI controllers for SCSI host devices
        let max = self
            .scsi_hostdev_addresses()
            .iter()
            .map(|a| a.controller)
            .max();
        if let Some(max) = max {
            for i in 0..=max {
                maybe_add(&mut self.controllers, "scsi", i);
            }
        }
    }
}
