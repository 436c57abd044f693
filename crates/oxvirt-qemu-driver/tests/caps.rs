//! Capabilities probed from the installed QEMU over QMP: the documents
//! validate against libvirt's schemas, the probe is cached on disk, the
//! machines come in libvirtd's order (default first) and every
//! installed binary is a guest.

use std::path::Path;

use oxvirt_qemu_driver::caps::{self, Caps, HostInfo, DEFAULT_EMULATOR};
use oxvirt_qemu_driver::host::QemuHost;

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
    assert!(c.has_type("pcie-root-port") && c.has_type("qemu-xhci"));
    assert_eq!(c.arch, "x86_64");
    let cache = caps::cache_file(&dir, DEFAULT_EMULATOR);
    assert!(cache.exists());

    // A second probe comes from the cache and agrees.
    let again = Caps::probe(&dir);
    assert_eq!(again.machine_info, c.machine_info);
    assert_eq!(again.cpu_models, c.cpu_models);
    assert_eq!(again.version, c.version);
    assert_eq!(again.types, c.types);

    let host = QemuHost::probe(&dir);
    let kvm = caps::kvm_usable();
    let xml = caps::capabilities_xml(&host.guests, &HostInfo::read(), kvm);
    // libvirt's schema does not allow '.' in a host CPU feature name, yet
    // libvirtd itself reports sse4.1 and sse4.2 there; validate the rest.
    let checked = xml
        .replace("name='sse4.1'", "name='sse4_1'")
        .replace("name='sse4.2'", "name='sse4_2'");
    oxvirt_schema::validate(&checked, "capability").unwrap();
    assert!(xml.contains("<model>"), "the host CPU has a model");
    assert!(xml.contains("<machine canonical='"));
    assert!(xml.contains("<domain type='qemu'/>"));
    assert_eq!(xml.contains("<domain type='kvm'/>"), kvm);
    // virt-install takes the first machine: libvirtd lists the default
    // (pc's target) first.
    let first = xml
        .lines()
        .find(|l| l.contains("<machine "))
        .unwrap_or_default();
    assert!(
        first.contains(&format!(">{}</machine>", c.canonical_machine("pc"))),
        "{}",
        first
    );
    for (arch, bin) in [
        ("x86_64", "qemu-system-x86_64"),
        ("i686", "qemu-system-i386"),
    ] {
        if Path::new("/usr/bin").join(bin).exists() {
            assert!(xml.contains(&format!("<arch name='{}'>", arch)), "{}", arch);
        }
    }

    for (machine, virt) in [(None, None), (Some("q35"), Some("qemu"))] {
        let d = host
            .domain_capabilities(None, None, machine, virt, kvm)
            .unwrap();
        oxvirt_schema::validate(&d, "domaincaps").unwrap();
        assert!(d.contains("<path>/usr/bin/qemu-system-x86_64</path>"));
    }
    let q35 = host
        .domain_capabilities(None, Some("x86_64"), Some("q35"), None, kvm)
        .unwrap();
    assert!(q35.contains(&format!(
        "<machine>{}</machine>",
        c.canonical_machine("q35")
    )));
    if Path::new("/usr/bin/qemu-system-i386").exists() {
        let d = host
            .domain_capabilities(None, Some("i686"), None, None, kvm)
            .unwrap();
        assert!(d.contains("<path>/usr/bin/qemu-system-i386</path>"));
        assert!(d.contains("<arch>i686</arch>"));
    }

    let e = host
        .domain_capabilities(None, None, Some("nope"), None, kvm)
        .unwrap_err();
    assert!(e.message.contains("the machine 'nope' is not supported"));
    let e = host
        .domain_capabilities(None, None, None, Some("bogus"), kvm)
        .unwrap_err();
    assert!(e.message.contains("unknown virttype: bogus"));
    let e = host
        .domain_capabilities(Some("/usr/bin/qemu-system-nosuch"), None, None, None, kvm)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Cannot check QEMU binary /usr/bin/qemu-system-nosuch: No such file or directory"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
