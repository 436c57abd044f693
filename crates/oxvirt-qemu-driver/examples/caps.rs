//! Prints the probed `<capabilities>` and `<domainCapabilities>`.
use oxvirt_qemu_driver::caps;

fn main() {
    let dir = std::env::temp_dir().join("oxvirt-caps-example");
    let c = caps::Caps::probe(&dir);
    let kvm = caps::kvm_usable();
    print!(
        "{}",
        caps::capabilities_xml(&c, &caps::HostInfo::read(), kvm)
    );
    match caps::domain_capabilities_xml(&c, None, None, None, None, kvm) {
        Ok(x) => print!("{}", x),
        Err(e) => eprintln!("{}", e),
    }
}
