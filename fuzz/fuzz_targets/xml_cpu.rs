//! Arbitrary bytes through the CPU model: the capabilities' host
//! `<cpu>` and a guest's, as virConnectCompareCPU and
//! virConnectBaselineCPU read them from clients. No panic, and whatever
//! parses formats to a document that parses to the same output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_fuzz::assert_stable;
use oxvirt_host::cpu::def::{CpuDef, CpuType};

fuzz_target!(|data: &[u8]| {
    let Some(text) = oxvirt_fuzz::text(data) else {
        return;
    };
    for ty in [None, Some(CpuType::Host), Some(CpuType::Guest)] {
        if let Ok(def) = CpuDef::parse(text, ty) {
            assert_stable("cpu", def.format(), true, |doc| {
                CpuDef::parse(doc, ty)
                    .expect("a formatted CPU parses")
                    .format()
            });
        }
    }
});
