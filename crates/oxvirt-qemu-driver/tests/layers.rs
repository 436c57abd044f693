//! The driver's modules form layers: each names only modules below it, so
//! there is no import cycle. Bottom up: host and process helpers, the
//! monitor, the command builder, capabilities and the save image; domain
//! objects and jobs; process control; the API files.

const ORDER: &[&str] = &[
    // 1. Host and process helpers, monitor, command builder, caps, save
    //    image: nothing here knows a domain object.
    "store",
    "saveimage",
    "monitor",
    "hostproc",
    "arch",
    "probe",
    "cpuinfo",
    "caps",
    "host",
    "hostcpu",
    "define",
    "firmware",
    "nic",
    "argv",
    "command",
    "snapmeta",
    "migcookie",
    "keycodes",
    "scsihp",
    // 2. Domain objects (oxvirt-core's shared list) and jobs.
    "jobdata",
    "driver",
    // 3. Process control: interfaces plumbed for QEMU, start, stop,
    //    events, reconnect; what a start applies to a new QEMU and the
    //    guest agent.
    "agent",
    "guestapi",
    "netif",
    "process",
    // 4. The API files.
    "domains",
    "jobs",
    "lifecycle",
    "blockinfo",
    "migspeed",
    "migration",
    "console",
    "snapext",
    "hotplug",
    "snapshot",
    "blockjob",
    // 5. Adoption of a libvirtd host (reads and writes libvirt's files).
    "adopt",
];

#[test]
fn modules_name_only_modules_below_them() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let v = oxvirt_core::testing::layer_violations(&src, ORDER);
    assert!(v.is_empty(), "\n{}", v.join("\n"));
}
