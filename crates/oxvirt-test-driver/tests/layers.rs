//! The driver's modules form layers: each names only modules below it, so
//! there is no import cycle. Bottom up: the driver's error domain, the
//! validation and object trees it stores, its state, then the API files.

const ORDER: &[&str] = &[
    // Bottom: error domain and flag checks; schema validation.
    "base",
    "schema",
    // What the state holds: snapshot/checkpoint trees, host objects.
    "moments",
    "hostobjs",
    // The instance: domain objects (oxvirt-core's shared list), node.
    "state",
    "saveimage",
    "caps",
    // The APIs.
    "domains",
    "stats",
    "tune",
    "tunables",
    "guest",
    "metadata",
    "snapshots",
    "checkpoints",
    "objects",
    "hostdev",
    // Opening a connection: node files and the default host.
    "node",
];

#[test]
fn modules_name_only_modules_below_them() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let v = oxvirt_core::testing::layer_violations(&src, ORDER);
    assert!(v.is_empty(), "\n{}", v.join("\n"));
}
