//! What the tests against libvirt's QEMU test data share: where the
//! corpus is, `OXVIRT_SHOW`, and floor files that only go up.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared conformance corpus (`OXVIRT_SHARED`, else ../shared).
pub fn corpus() -> Option<PathBuf> {
    let p = match std::env::var_os("OXVIRT_SHARED") {
        Some(s) => PathBuf::from(s).join("conformance"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    };
    p.is_dir().then_some(p)
}

/// `OXVIRT_SHOW=substring`: print the differences of matching documents.
pub fn show(name: &str) -> bool {
    std::env::var("OXVIRT_SHOW").is_ok_and(|s| !s.is_empty() && name.contains(&s))
}

/// `key=N` of tests/FILE (0 when absent).
pub fn floor(file: &str, key: &str) -> usize {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join(file),
    )
    .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}
