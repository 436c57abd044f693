//! Arbitrary bytes through the snapshot model (as created and as
//! redefined): no panic, and whatever parses formats to a document that
//! parses to the same output (from the second pass on: xml_domain.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_xml::snapshot::{FormatFlags, ParseFlags, Parsed, Snapshot};

fn format(p: Parsed) -> String {
    p.def.format(None, FormatFlags::default())
}

fuzz_target!(|data: &[u8]| {
    oxvirt_fuzz::each_mode(data, |text, opts, redefine| {
        let flags = ParseFlags {
            redefine,
            now: Some(oxvirt_fuzz::NOW),
            ..Default::default()
        };
        if let Ok(p) = Snapshot::parse(text, flags, opts) {
            oxvirt_fuzz::assert_stable("snapshot", format(p), true, |doc| {
                format(Snapshot::parse(doc, flags, opts).expect("a formatted snapshot parses"))
            });
        }
    });
});
