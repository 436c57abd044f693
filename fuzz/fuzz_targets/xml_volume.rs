//! Arbitrary bytes through the storage volume model, for the pool type
//! the first byte picks: no panic, and whatever parses formats to a
//! document that parses to the same output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_fuzz::assert_stable;
use oxvirt_xml::props::XmlEnum;
use oxvirt_xml::storage::{PoolType, VolParseFlags, Volume};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let pool = PoolType::ALL[sel as usize % PoolType::ALL.len()];
    let flags = VolParseFlags {
        no_capacity: sel & 0x40 != 0,
        opt_capacity: sel & 0x80 != 0,
    };
    let Some(def) = oxvirt_fuzz::text(rest).and_then(|t| Volume::parse(t, pool, flags).ok()) else {
        return;
    };
    assert_stable("volume", def.format(), true, |doc| {
        Volume::parse(doc, pool, flags)
            .expect("a formatted volume parses")
            .format()
    });
});
