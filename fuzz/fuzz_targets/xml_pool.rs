//! Arbitrary bytes through the storage pool model: no panic, and
//! whatever parses formats to a document that parses to the same output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_fuzz::assert_stable;
use oxvirt_xml::storage::Pool;

fuzz_target!(|data: &[u8]| {
    let Some(def) = oxvirt_fuzz::text(data).and_then(|t| Pool::parse(t).ok()) else {
        return;
    };
    assert_stable("pool", def.format(), true, |doc| {
        Pool::parse(doc).expect("a formatted pool parses").format()
    });
});
