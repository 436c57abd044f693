//! Prints every node device's XML as the driver sees this host (a
//! debugging aid: `cargo run -p oxvirt-nodedev --example nodedev_dump`).

use oxvirt_core::NodeDeviceDriver;

fn main() {
    let d = oxvirt_nodedev::NodeDevDriver::with_sources(Default::default());
    for r in d.list_all_node_devices(0).unwrap_or_default() {
        println!("== {}", r.name);
        match d.node_device_get_xml_desc(&r, 0) {
            Ok(x) => print!("{}", x),
            Err(e) => println!("error: {}", e),
        }
    }
}
