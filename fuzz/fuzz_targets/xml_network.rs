//! Arbitrary bytes through the network model (and the network port
//! model): no panic, and whatever parses formats to a document that
//! parses to the same output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_fuzz::assert_stable;
use oxvirt_xml::netport::NetworkPort;
use oxvirt_xml::network::Network;

fuzz_target!(|data: &[u8]| {
    let Some(text) = oxvirt_fuzz::text(data) else {
        return;
    };
    if let Ok(def) = Network::parse(text) {
        for inactive in [false, true] {
            assert_stable("network", def.format(inactive), true, |doc| {
                Network::parse(doc)
                    .expect("a formatted network parses")
                    .format(inactive)
            });
        }
    }
    if let Ok(port) = NetworkPort::parse(text) {
        assert_stable("network port", port.format(), true, |doc| {
            NetworkPort::parse(doc)
                .expect("a formatted port parses")
                .format()
        });
    }
});
