//! Arbitrary bytes as the arguments and the reply of each procedure of
//! oxvirt's table (the first two bytes pick the row): decoded and
//! converted to core values as oxvirtd's dispatch and the remote driver
//! do. No panic, no allocation the input does not justify, and what
//! decodes re-encodes to bytes that decode to the same bytes.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use oxvirt_proto::probe::{self, Half};

fn rows() -> &'static [i32] {
    static ROWS: OnceLock<Vec<i32>> = OnceLock::new();
    ROWS.get_or_init(|| oxvirt_proto::table::rows().map(|r| r.num).collect())
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let rows = rows();
    let sel = u16::from_be_bytes([data[0], data[1]]) as usize;
    let num = rows[(sel >> 1) % rows.len()];
    let half = if sel & 1 == 0 {
        Half::Args
    } else {
        Half::Reply
    };
    let body = &data[2..];
    let d = probe::decode(num, half, body).expect("a row of the table");
    if let Some(w) = d.wire() {
        assert!(
            w.len() <= body.len() * 2 + 64,
            "re-encoding grew out of proportion"
        );
        let again = probe::decode(num, half, w).expect("same row");
        assert_eq!(again.wire(), Some(w), "re-encoding is not stable");
    }
});
