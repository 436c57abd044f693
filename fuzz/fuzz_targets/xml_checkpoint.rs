//! Arbitrary bytes through the checkpoint model (as created and as
//! redefined): no panic, and whatever parses formats to a document that
//! parses to the same output (from the second pass on: xml_domain.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_xml::checkpoint::{Checkpoint, FormatFlags, ParseFlags};

fuzz_target!(|data: &[u8]| {
    oxvirt_fuzz::each_mode(data, |text, opts, redefine| {
        let flags = ParseFlags {
            redefine,
            now: Some(oxvirt_fuzz::NOW),
        };
        let Ok(def) = Checkpoint::parse(text, flags, opts) else {
            return;
        };
        // Every <disk> has a name: libvirt's schema (domaincheckpoint.rng,
        // checked before the parser) refuses one without; the formatter
        // skips it, as libvirt's does.
        if def.disks.iter().any(|d| d.name.is_none()) {
            return;
        }
        let fmt = FormatFlags::default();
        oxvirt_fuzz::assert_stable("checkpoint", def.format(fmt), true, |doc| {
            Checkpoint::parse(doc, flags, opts)
                .expect("a formatted checkpoint parses")
                .format(fmt)
        });
    });
});
