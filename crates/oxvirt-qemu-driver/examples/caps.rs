//! Prints the probed `<capabilities>` and `<domainCapabilities>`.
use oxvirt_qemu_driver::{caps, host::QemuHost};

fn main() {
    let dir = std::env::temp_dir().join("oxvirt-caps-example");
    let host = QemuHost::probe(&dir);
    let kvm = caps::kvm_usable();
    print!(
        "{}",
        caps::capabilities_xml(&host.guests, &caps::HostInfo::read(), kvm)
    );
    match host.domain_capabilities(None, None, None, None, kvm) {
        Ok(x) => print!("{}", x),
        Err(e) => eprintln!("{}", e),
    }
}
