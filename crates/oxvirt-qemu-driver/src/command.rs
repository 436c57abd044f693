//! Domain XML → QEMU command line: the builder is `argv`, laid out as
//! libvirt's; this module keeps the names the rest of the driver uses.

pub(crate) use crate::argv::disk_index;
pub use crate::argv::{build, disk_aliases, CommandContext};
