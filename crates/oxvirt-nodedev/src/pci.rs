//! PCI facts from sysfs and the device's configuration space: header
//! type, PCI Express capability and link, SR-IOV functions, IOMMU group,
//! and which resets a device supports.

use std::path::Path;

use oxvirt_xml::nodedev::{PciAddr, PcieLink};

/// A device's configuration space as far as this process may read it
/// (64 bytes unprivileged, 256 or 4096 as root).
pub struct Config {
    bytes: Vec<u8>,
    /// The size of the sysfs `config` file.
    file_len: u64,
}

const PCI_STATUS: usize = 0x06;
const PCI_STATUS_CAP_LIST: u16 = 0x10;
const PCI_HEADER_TYPE: usize = 0x0e;
const PCI_CAPABILITY_LIST: usize = 0x34;
const PCI_CONF_HEADER_LEN: u8 = 0x40;
const CAP_EXP: u8 = 0x10;
const CAP_PM: u8 = 0x01;
const CAP_AF: u8 = 0x13;

impl Config {
    pub fn read(dev: &Path) -> Option<Config> {
        let p = dev.join("config");
        let file_len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        let bytes = std::fs::read(&p).ok()?;
        Some(Config { bytes, file_len })
    }

    fn u8(&self, at: usize) -> Option<u8> {
        self.bytes.get(at).copied()
    }

    fn u16(&self, at: usize) -> Option<u16> {
        Some(u16::from_le_bytes([self.u8(at)?, self.u8(at + 1)?]))
    }

    fn u32(&self, at: usize) -> Option<u32> {
        Some(u32::from_le_bytes([
            self.u8(at)?,
            self.u8(at + 1)?,
            self.u8(at + 2)?,
            self.u8(at + 3)?,
        ]))
    }

    /// The offset of capability `id`: Ok(0) never happens; Err(()) when the
    /// list cannot be walked to a match (libvirt treats both "not found" and
    /// "unreadable" as a failed search).
    fn find_cap(&self, id: u8) -> Result<usize, ()> {
        let status = self.u16(PCI_STATUS).ok_or(())?;
        if status & PCI_STATUS_CAP_LIST == 0 {
            return Err(());
        }
        let mut pos = self.u8(PCI_CAPABILITY_LIST).ok_or(())?;
        let mut hops = 0;
        while pos >= PCI_CONF_HEADER_LEN && pos != 0xff && hops < 48 {
            let cap = self.u8(pos as usize).ok_or(())?;
            if cap == id {
                return Ok(pos as usize);
            }
            pos = self.u8(pos as usize + 1).ok_or(())?;
            hops += 1;
        }
        Err(())
    }

    /// "pci-bridge" or "cardbus-bridge"; None for an endpoint.
    pub fn header_type(&self) -> Option<&'static str> {
        match self.u8(PCI_HEADER_TYPE)? & 0x7f {
            1 => Some("pci-bridge"),
            2 => Some("cardbus-bridge"),
            _ => None,
        }
    }

    /// The PCI Express capability's offset (0: none found); when the
    /// search fails libvirt guesses from the config file's size.
    fn pcie_pos(&self) -> (bool, usize) {
        match self.find_cap(CAP_EXP) {
            Ok(p) => (true, p),
            Err(()) => (self.file_len != 256, 0),
        }
    }

    /// `Some(link)` for a PCI Express device: the link capability and
    /// status, or None when the device has no link of its own.
    pub fn pcie(&self) -> Option<Option<(PcieLink, PcieLink)>> {
        let (is_pcie, pos) = self.pcie_pos();
        if !is_pcie {
            return None;
        }
        if pos == 0 {
            return Some(None);
        }
        let flags = self.u16(pos + 2).unwrap_or(0);
        let kind = (flags & 0xf0) >> 4;
        // Root complex integrated endpoints and event collectors have no link.
        if kind == 9 || kind == 10 {
            return Some(None);
        }
        let cap = self.u32(pos + 0x0c).unwrap_or(0);
        let sta = self.u16(pos + 0x12).unwrap_or(0) as u32;
        Some(Some((
            PcieLink {
                port: (cap >> 24) as i32,
                speed: speed(cap & 0xf),
                width: (cap & 0x3f0) >> 4,
            },
            PcieLink {
                port: -1,
                speed: speed(sta & 0xf),
                width: (sta & 0x3f0) >> 4,
            },
        )))
    }

    /// Function level reset (PCIe or PCI AF capability).
    pub fn has_flr(&self, is_vf: bool) -> bool {
        let (_, pos) = self.pcie_pos();
        if pos != 0 && self.u32(pos + 4).unwrap_or(0) & (1 << 28) != 0 {
            return true;
        }
        if let Ok(af) = self.find_cap(CAP_AF) {
            if self.u8(af + 3).unwrap_or(0) & 0x02 != 0 {
                return true;
            }
        }
        is_vf
    }

    /// D3hot → D0 resets the device fully (PM capability, No_Soft_Reset
    /// clear).
    pub fn has_pm_reset(&self) -> bool {
        match self.find_cap(CAP_PM) {
            Ok(pm) => self.u32(pm + 4).map(|c| c & 0x08 == 0).unwrap_or(false),
            Err(()) => false,
        }
    }
}

fn speed(v: u32) -> Option<&'static str> {
    match v {
        1 => Some("2.5"),
        2 => Some("5"),
        3 => Some("8"),
        4 => Some("16"),
        5 => Some("32"),
        6 => Some("64"),
        _ => None,
    }
}

fn link_addr(p: &Path) -> Option<PciAddr> {
    let l = std::fs::read_link(p).ok()?;
    PciAddr::parse(l.file_name()?.to_str()?)
}

/// The physical function of a virtual function.
pub fn physical_function(dev: &Path) -> Option<PciAddr> {
    link_addr(&dev.join("physfn"))
}

/// (sriov_totalvfs, virtual functions in index order), None when the
/// device has neither.
pub fn virtual_functions(dev: &Path) -> Option<(u32, Vec<PciAddr>)> {
    let max = std::fs::read_to_string(dev.join("sriov_totalvfs"))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0);
    let mut vfs: Vec<(u32, PciAddr)> = std::fs::read_dir(dev)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let n = e
                        .file_name()
                        .to_str()?
                        .strip_prefix("virtfn")?
                        .parse()
                        .ok()?;
                    Some((n, link_addr(&e.path())?))
                })
                .collect()
        })
        .unwrap_or_default();
    vfs.sort();
    if max == 0 && vfs.is_empty() {
        return None;
    }
    Some((max, vfs.into_iter().map(|(_, a)| a).collect()))
}

/// The device's IOMMU group and its members.
pub fn iommu_group(dev: &Path) -> Option<(u32, Vec<PciAddr>)> {
    let g = std::fs::read_link(dev.join("iommu_group")).ok()?;
    let n: u32 = g.file_name()?.to_str()?.parse().ok()?;
    let dir = dev.join("iommu_group/devices");
    let mut members: Vec<PciAddr> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| PciAddr::parse(e.file_name().to_str()?))
                .collect()
        })
        .unwrap_or_default();
    members.sort();
    Some((n, members))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(bytes: Vec<u8>, file_len: u64) -> Config {
        Config { bytes, file_len }
    }

    #[test]
    fn pcie_link_and_resets() {
        let mut b = vec![0u8; 256];
        b[PCI_STATUS] = 0x10; // capability list
        b[PCI_CAPABILITY_LIST] = 0x40;
        b[0x40] = CAP_EXP;
        b[0x41] = 0x50;
        b[0x42] = 0x02; // flags: endpoint (type 0)
        b[0x44..0x48].copy_from_slice(&(1u32 << 28).to_le_bytes()); // FLR
        b[0x4c..0x50].copy_from_slice(&(0x0300_0000u32 | 0x1 | (8 << 4)).to_le_bytes());
        b[0x52..0x54].copy_from_slice(&((2u16) | (4 << 4)).to_le_bytes());
        b[0x50] = CAP_PM;
        b[0x51] = 0;
        let c = cfg(b, 4096);
        let (cap, sta) = c.pcie().expect("pcie").expect("link");
        assert_eq!((cap.port, cap.speed, cap.width), (3, Some("2.5"), 8));
        assert_eq!((sta.port, sta.speed, sta.width), (-1, Some("5"), 4));
        assert!(c.has_flr(false));
        assert!(c.has_pm_reset());
        assert_eq!(c.header_type(), None);
    }

    #[test]
    fn legacy_and_unreadable() {
        // No capability list, 256-byte config: plain PCI.
        let c = cfg(vec![0u8; 64], 256);
        assert_eq!(c.pcie(), None);
        // Unreadable capabilities, 4096-byte config: PCIe without a link.
        let c = cfg(vec![0u8; 64], 4096);
        assert_eq!(c.pcie(), Some(None));
        assert!(!c.has_flr(false));
        assert!(c.has_flr(true));
    }
}
