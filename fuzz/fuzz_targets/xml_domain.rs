//! Arbitrary bytes through the domain parser and formatter: no panic, and
//! whatever parses formats to a document that parses to the same output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_xml::domain::{Domain, FormatFlags, ParseFlags, ParseOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let opts = ParseOptions {
        default_arch: Some("x86_64".into()),
    };
    for inactive in [false, true] {
        let flags = ParseFlags {
            inactive,
            ..Default::default()
        };
        if let Ok(def) = Domain::parse(text, flags, &opts) {
            let out = def.format(FormatFlags::default());
            let again = Domain::parse(&out, flags, &opts)
                .expect("a formatted domain parses")
                .format(FormatFlags::default());
            assert_eq!(out, again, "format(parse(x)) is not stable");
        }
    }
});
