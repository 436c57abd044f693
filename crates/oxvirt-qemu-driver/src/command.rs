//! Domain XML → QEMU command line: the builder is `argv`, laid out as
//! libvirt's; this module keeps the names the rest of the driver uses.

pub use crate::argv::{build, CommandContext};

/// Index of a target like `vdb`/`hdc`/`sda` (`a`=0, `z`=25, `aa`=26).
pub(crate) fn disk_index(dev: &str) -> Option<u32> {
    let tail = ["xvd", "vd", "hd", "sd", "fd", "ubd"]
        .iter()
        .find_map(|p| dev.strip_prefix(p))?;
    if tail.is_empty() {
        return None;
    }
    let mut idx: u32 = 0;
    for c in tail.chars() {
        if !c.is_ascii_lowercase() {
            return None;
        }
        idx = idx
            .checked_mul(26)?
            .checked_add(c as u32 - 'a' as u32 + 1)?;
    }
    idx.checked_sub(1)
}
