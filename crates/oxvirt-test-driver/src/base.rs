//! The bottom of this driver: its error domain and libvirt's
//! `virCheckFlags` in it.

use oxvirt_core::error::from;
use oxvirt_core::Result;

/// Errors from this driver are attributed to the test driver.
pub(crate) const FROM: i32 = from::TEST;

/// libvirt's virCheckFlags in this driver's error domain.
pub(crate) fn check_flags(flags: u32, supported: u32, func: &str) -> Result<()> {
    oxvirt_core::error::check_flags(flags, supported, func, FROM)
}
