//! Arbitrary bytes through the secret model: no panic, and whatever
//! parses formats to a document that parses to the same output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_fuzz::assert_stable;
use oxvirt_xml::secret::Secret;

fuzz_target!(|data: &[u8]| {
    let Some(def) = oxvirt_fuzz::text(data).and_then(|t| Secret::parse(t).ok()) else {
        return;
    };
    assert_stable("secret", def.format(), true, |doc| {
        Secret::parse(doc)
            .expect("a formatted secret parses")
            .format()
    });
});
