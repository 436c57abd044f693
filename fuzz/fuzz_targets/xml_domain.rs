//! Arbitrary bytes through the domain parser and formatter: no panic, and
//! whatever parses formats, after one more pass, to a document that parses
//! to the same output. One more pass, because libvirt's own parser is not
//! idempotent on the first: implicit controllers are appended
//! (virDomainDefAddController) while parsed ones are inserted in order
//! (virDomainControllerInsertPreAlloced), so `<controller type='ide'
//! index='1'/>` and a disk on IDE controller 0 format with the implicit
//! index 0 last, and that output formats with it first. libvirtd 9.0's
//! test driver gives exactly these two documents; oxvirt matches them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_fuzz::assert_stable;
use oxvirt_xml::domain::{Domain, FormatFlags, ParseFlags};

fuzz_target!(|data: &[u8]| {
    let Some(text) = oxvirt_fuzz::text(data) else {
        return;
    };
    let opts = oxvirt_fuzz::parse_options();
    for inactive in [false, true] {
        let flags = ParseFlags {
            inactive,
            ..Default::default()
        };
        if let Ok(def) = Domain::parse(text, flags, &opts) {
            assert_stable("domain", def.format(FormatFlags::default()), true, |doc| {
                Domain::parse(doc, flags, &opts)
                    .expect("a formatted domain parses")
                    .format(FormatFlags::default())
            });
        }
    }
});
