//! Shared by oxvirt-remote's integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The oxvirtd binary next to this test's target directory, built on demand.
pub fn oxvirtd() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory")
        .to_path_buf();
    let bin = dir.join("oxvirtd");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "oxvirtd"]);
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("cargo build -p oxvirtd");
        assert!(st.success(), "building oxvirtd failed");
    }
    bin
}
