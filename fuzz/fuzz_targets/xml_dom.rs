//! Arbitrary bytes through the XML tree parser: no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(root) = oxvirt_xml::dom::parse(text, "(fuzz)") {
            let mut w = oxvirt_xml::writer::Writer::new();
            w.element(&root);
        }
    }
});
