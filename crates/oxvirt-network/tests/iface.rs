//! The host's interfaces as libvirt's udev backend shows them, inside a
//! namespace of the test's own.

use std::process::Command;

use oxvirt_core::InterfaceDriver;
use oxvirt_netdev::testns::rerun_in_netns;
use oxvirt_network::HostInterfaces;

fn ip(a: &[&str]) {
    assert!(
        Command::new("ip").args(a).status().unwrap().success(),
        "ip {:?}",
        a
    );
}

#[test]
fn interfaces_from_sysfs() {
    if !rerun_in_netns("interfaces_from_sysfs") {
        return;
    }
    ip(&["link", "add", "oxbr9", "type", "bridge"]);
    ip(&["link", "set", "oxbr9", "address", "52:54:00:00:99:01"]);
    ip(&[
        "link", "add", "oxv0", "type", "veth", "peer", "name", "oxv1",
    ]);
    ip(&["link", "set", "oxv0", "address", "52:54:00:00:99:02"]);
    ip(&["link", "set", "oxv0", "mtu", "1450"]);
    ip(&["link", "set", "oxv0", "master", "oxbr9"]);
    ip(&["link", "set", "oxbr9", "up"]);
    let h = HostInterfaces;
    let all: Vec<String> = h
        .list_all_interfaces(0)
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    // As the udev backend: bridge ports (oxv0) are not enumerated.
    assert_eq!(all, vec!["lo", "oxbr9", "oxv1"]);
    // Nothing has carrier: no interface is "up" (lo's state is unknown).
    assert!(h.list_all_interfaces(2).unwrap().is_empty());
    let br = h.lookup_interface_by_name("oxbr9").unwrap();
    assert_eq!(br.mac, "52:54:00:00:99:01");
    assert_eq!(
        h.interface_get_xml_desc(&br, 0).unwrap(),
        "<interface type='bridge' name='oxbr9'>\n  <mtu size='1450'/>\n  <bridge stp='off' delay='1500'>\n    <interface type='ethernet' name='oxv0'>\n      <link state='down'/>\n      <mac address='52:54:00:00:99:02'/>\n    </interface>\n  </bridge>\n</interface>\n"
    );
    assert_eq!(
        h.lookup_interface_by_mac("52:54:00:00:99:01").unwrap().name,
        "oxbr9"
    );
    assert!(h.lookup_interface_by_mac("52:54:00:00:99:02").is_err());
    assert!(h
        .interface_get_xml_desc(&h.lookup_interface_by_name("oxv0").unwrap(), 0)
        .unwrap()
        .contains("<mtu size='1450'/>"));
    let e = h.lookup_interface_by_name("nope0").unwrap_err();
    assert_eq!(
        e.message,
        "Interface not found: couldn't find interface named 'nope0'"
    );
    let e = h.lookup_interface_by_mac("52:54:00:00:99:ff").unwrap_err();
    assert_eq!(
        e.message,
        "Interface not found: couldn't find interface with MAC address '52:54:00:00:99:ff'"
    );
    assert!(!h.interface_is_active(&br).unwrap());
}
