//! Capabilities probed from the installed QEMU over QMP: the documents
//! validate against libvirt's schemas, and the probe is cached on disk.

use std::path::Path;

use oxvirt_qemu_driver::caps::{self, Caps, HostInfo, DEFAULT_EMULATOR};

#[test]
fn probed_capabilities_validate_and_are_cached() {
    if !Path::new(DEFAULT_EMULATOR).exists() {
        eprintln!("skipping: {} not installed", DEFAULT_EMULATOR);
        return;
    }
    let dir = std::env::temp_dir().join(format!("oxvirt-caps-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let c = Caps::probe(&dir);
    assert!(c.version > 0, "version probed over QMP");
    assert!(!c.cpu_models.is_empty());
    assert!(c.canonical_machine("pc").starts_with("pc-i440fx-"));
    assert!(c.canonical_machine("q35").starts_with("pc-q35-"));
    assert!(c.machine_info.iter().all(|m| m.name != "none"));
    let cache = caps::cache_file(&dir, DEFAULT_EMULATOR);
    assert!(cache.exists());

    // A second probe comes from the cache and agrees.
    let again = Caps::probe(&dir);
    assert_eq!(again.machine_info, c.machine_info);
    assert_eq!(again.cpu_models, c.cpu_models);
    assert_eq!(again.version, c.version);

    let kvm = caps::kvm_usable();
    let xml = caps::capabilities_xml(&c, &HostInfo::read(), kvm);
    oxvirt_schema::validate(&xml, "capability").unwrap();
    assert!(xml.contains("<machine canonical='"));
    assert!(xml.contains("<domain type='qemu'/>"));
    assert_eq!(xml.contains("<domain type='kvm'/>"), kvm);

    for (machine, virt) in [(None, None), (Some("q35"), Some("qemu"))] {
        let d = caps::domain_capabilities_xml(&c, None, None, machine, virt, kvm).unwrap();
        oxvirt_schema::validate(&d, "domaincaps").unwrap();
        assert!(d.contains("<path>/usr/bin/qemu-system-x86_64</path>"));
    }
    let q35 =
        caps::domain_capabilities_xml(&c, None, Some("x86_64"), Some("q35"), None, kvm).unwrap();
    assert!(q35.contains(&format!(
        "<machine>{}</machine>",
        c.canonical_machine("q35")
    )));

    let e = caps::domain_capabilities_xml(&c, None, None, Some("nope"), None, kvm).unwrap_err();
    assert!(e.message.contains("the machine 'nope' is not supported"));
    let e = caps::domain_capabilities_xml(&c, None, None, None, Some("bogus"), kvm).unwrap_err();
    assert!(e.message.contains("unknown virttype: bogus"));
    let _ = std::fs::remove_dir_all(&dir);
}
