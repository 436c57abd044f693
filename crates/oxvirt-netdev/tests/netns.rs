//! The device layer inside a network namespace of the test's own: a
//! bridge with its MAC, MTU, STP settings, addresses and a route, a tap
//! enslaved to it, counters, and everything gone afterwards.

use std::net::IpAddr;

use oxvirt_netdev::{link, sysctl, tap, testns::rerun_in_netns};

#[test]
fn bridge_tap_addresses_and_routes() {
    if !rerun_in_netns("bridge_tap_addresses_and_routes") {
        return;
    }
    let mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    link::create_bridge("oxbr0", Some(mac), Some(1400)).expect("bridge");
    let e = link::create_bridge("oxbr0", None, None).unwrap_err();
    assert_eq!(
        e.message,
        "error creating bridge interface oxbr0: File exists"
    );
    link::set_bridge_options("oxbr0", true, 2000, None).expect("stp");
    sysctl::bridge_ipv6("oxbr0", false).expect("sysctls");
    let a: IpAddr = "10.77.0.1".parse().unwrap();
    link::add_addr("oxbr0", a, 24).expect("addr");
    link::set_online("oxbr0", true).expect("up");
    link::add_route(
        "oxbr0",
        "10.78.0.0".parse().unwrap(),
        24,
        "10.77.0.5".parse().unwrap(),
        0,
    )
    .expect("route");
    let l = link::link("oxbr0").unwrap().expect("exists");
    assert_eq!(l.mac, Some(mac));
    assert_eq!(l.mtu, 1400);
    assert!(l.up);
    assert_eq!(l.kind.as_deref(), Some("bridge"));
    let stp = std::fs::read_to_string("/sys/class/net/oxbr0/bridge/stp_state").unwrap();
    assert_eq!(stp.trim(), "1");
    let fd = std::fs::read_to_string("/sys/class/net/oxbr0/bridge/forward_delay").unwrap();
    assert_eq!(fd.trim(), "200");
    assert!(link::addrs()
        .unwrap()
        .iter()
        .any(|x| x.index == l.index && x.addr == a && x.prefix == 24));
    let routes = std::process::Command::new("ip")
        .args(["route"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&routes.stdout).contains("10.78.0.0/24 via 10.77.0.5 dev oxbr0")
    );

    let t = tap::create("oxtap%d", 1, true, false).expect("tap");
    assert!(t.name.starts_with("oxtap"), "{}", t.name);
    link::set_master(&t.name, Some("oxbr0")).expect("enslave");
    link::set_online(&t.name, true).expect("tap up");
    let tl = link::link(&t.name).unwrap().expect("tap exists");
    assert_eq!(tl.master, Some(l.index));
    assert_eq!(tl.kind.as_deref(), Some("tun"));
    let name = t.name.clone();
    drop(t);
    assert!(
        !link::exists(&name),
        "a non-persistent tap goes with its fd"
    );

    link::delete("oxbr0").expect("delete");
    assert!(!link::exists("oxbr0"));
    link::delete("oxbr0").expect("deleting a missing link is fine");
}
