//! Arbitrary bytes through the host interface model: no panic, and
//! whatever parses formats to a document that parses to the same output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_fuzz::assert_stable;
use oxvirt_xml::interface::Interface;

fuzz_target!(|data: &[u8]| {
    let Some(def) = oxvirt_fuzz::text(data).and_then(|t| Interface::parse(t).ok()) else {
        return;
    };
    assert_stable("interface", def.format(), true, |doc| {
        Interface::parse(doc)
            .expect("a formatted interface parses")
            .format()
    });
});
