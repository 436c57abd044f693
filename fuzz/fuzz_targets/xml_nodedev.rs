//! Arbitrary bytes through the node device driver's readers: a device
//! definition (virNodeDeviceCreateXML/DefineXML) and a kernel uevent.
//! No panic; a definition is accepted or refused with libvirt's error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = oxvirt_nodedev::parse_uevent(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = oxvirt_nodedev::check_definition(text) {
        assert!(!e.message.is_empty(), "an error without a message");
    }
});
