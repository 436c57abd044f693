//! Arbitrary bytes as lines from a QEMU monitor, each through the QMP
//! client's parser (greeting, reply matched by id, error, event with its
//! timestamp). No panic, and every message is classified or refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_qmp::{parse_line, QmpError};

fuzz_target!(|data: &[u8]| {
    for line in data.split(|b| *b == b'\n') {
        match parse_line(&String::from_utf8_lossy(line)) {
            Ok(_) => {}
            Err(QmpError::Protocol(_)) => {}
            Err(e) => panic!("a line is refused as a protocol error, not {e:?}"),
        }
    }
});
