//! The network driver on a real host, each test inside a network
//! namespace of its own: bridges, nftables tables and dnsmasq are made for
//! real, checked with `ip`, `nft` and /proc, and gone afterwards.

use std::process::Command;

use oxvirt_core::types::NetworkRef;
use oxvirt_core::NetworkDriver;
use oxvirt_netdev::{link, testns::rerun_in_netns};
use oxvirt_network::{dnsmasq, firewall, Driver};
use oxvirt_xml::network::Network;

fn root() -> tempdir::Dir {
    tempdir::Dir::new()
}

mod tempdir {
    /// A temporary directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let p = std::env::temp_dir().join(format!(
                "oxnet-test-{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&p).expect("tempdir");
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

const NAT: &str = "<network><name>natnet</name>\
    <uuid>6b9c1c1e-7b1a-4b43-9c55-5cbb0b2a1e01</uuid>\
    <forward mode='nat'/><bridge name='oxbr1'/><mtu size='1400'/>\
    <mac address='52:54:00:11:22:33'/>\
    <dns><host ip='10.91.0.7'><hostname>seven</hostname></host></dns>\
    <ip address='10.91.0.1' netmask='255.255.255.0'>\
    <dhcp><range start='10.91.0.100' end='10.91.0.150'/>\
    <host mac='52:54:00:aa:00:01' name='fixed' ip='10.91.0.10'/></dhcp></ip>\
    <ip family='ipv6' address='fd00:91::1' prefix='64'/></network>";

fn nft_tables() -> String {
    let o = Command::new("nft")
        .args(["list", "tables"])
        .output()
        .expect("nft");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn nft_table(t: &str) -> String {
    let o = Command::new("nft")
        .args(["list", "table", "inet", t])
        .output()
        .expect("nft");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// dnsmasq processes of this test's namespace.
fn dnsmasq_pids() -> Vec<i32> {
    let me = std::fs::read_link("/proc/self/ns/net").expect("netns");
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").expect("proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(c) = std::fs::read(format!("/proc/{}/cmdline", pid)) {
            let ns = std::fs::read_link(format!("/proc/{}/ns/net", pid)).ok();
            if c.starts_with(b"dnsmasq") && ns.as_ref() == Some(&me) {
                v.push(pid);
            }
        }
    }
    v
}

fn ip_addr(dev: &str) -> String {
    let o = Command::new("ip")
        .args(["addr", "show", dev])
        .output()
        .expect("ip");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A DHCP client on a veth whose peer is on the bridge.
fn dhcp_client(bridge: &str, mac: &str) -> String {
    let run = |a: &[&str]| {
        let st = Command::new("ip").args(a).status().expect("ip");
        assert!(st.success(), "ip {:?}", a);
    };
    run(&[
        "link", "add", "oxcl0", "type", "veth", "peer", "name", "oxcl1",
    ]);
    run(&["link", "set", "oxcl0", "address", mac]);
    run(&["link", "set", "oxcl1", "master", bridge]);
    run(&["link", "set", "oxcl1", "up"]);
    run(&["link", "set", "oxcl0", "up"]);
    let o = Command::new("busybox")
        .args([
            "udhcpc",
            "-i",
            "oxcl0",
            "-n",
            "-q",
            "-f",
            "-t",
            "10",
            "-T",
            "1",
            "-s",
            "/bin/true",
            "-x",
            "hostname:client1",
        ])
        .output()
        .expect("udhcpc");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "udhcpc: {}", text);
    text
}

#[test]
fn nat_network_lifecycle() {
    if !rerun_in_netns("nat_network_lifecycle") {
        return;
    }
    let dir = root();
    let d = Driver::open(&dir.0).expect("open");
    let n = d.network_define_xml(NAT, 0).expect("define");
    assert!(dir.0.join("config/natnet.xml").exists());
    assert!(!d.network_is_active(&n).unwrap());
    d.network_create(&n).expect("start");
    let live = d.network_get_xml_desc(&n, 0).unwrap();
    let def = Network::parse(&live).unwrap();
    // As libvirt: masquerading fills in the live NAT port range.
    assert!(
        live.contains("<nat>\n      <port start='1024' end='65535'/>\n    </nat>"),
        "{}",
        live
    );
    assert!(!d.network_get_xml_desc(&n, 1).unwrap().contains("<nat>"));

    // The bridge: MAC, MTU, both addresses, up.
    let l = link::link("oxbr1").unwrap().expect("bridge");
    assert_eq!(l.mac, Some([0x52, 0x54, 0, 0x11, 0x22, 0x33]));
    assert_eq!(l.mtu, 1400);
    assert!(l.up);
    let a = ip_addr("oxbr1");
    assert!(a.contains("inet 10.91.0.1/24"), "{}", a);
    assert!(a.contains("inet6 fd00:91::1/64"), "{}", a);
    // The firewall table: masquerading, the reject rules, DHCP in.
    let t = firewall::table_name(&def);
    let rules = nft_table(&t);
    assert!(rules.contains("masquerade"), "{}", rules);
    assert!(rules.contains("oifname \"oxbr1\" reject"), "{}", rules);
    assert!(rules.contains("udp dport 67 accept"), "{}", rules);
    // dnsmasq with libvirt's configuration.
    let paths = dnsmasq::Paths::new(&dir.0.join("dnsmasq"), "natnet");
    let pid = dnsmasq::running_pid(&paths).expect("dnsmasq runs");
    let conf = std::fs::read_to_string(&paths.conf).unwrap();
    assert!(conf.contains("dhcp-range=10.91.0.100,10.91.0.150,255.255.255.0\n"));
    assert!(conf.contains("interface=oxbr1\n"));
    assert_eq!(
        std::fs::read_to_string(&paths.hosts).unwrap(),
        "52:54:00:aa:00:01,10.91.0.10,fixed\n"
    );
    assert_eq!(
        std::fs::read_to_string(&paths.addnhosts).unwrap(),
        "10.91.0.7\tseven\t\n"
    );

    // A DHCP client gets a lease, which the driver reports.
    let out = dhcp_client("oxbr1", "52:54:00:aa:00:02");
    assert!(out.contains("10.91.0."), "{}", out);
    let mut leases = Vec::new();
    for _ in 0..50 {
        leases = d.network_get_dhcp_leases(&n, None, 0).unwrap();
        if !leases.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(leases.len(), 1, "{:?}", leases);
    let lease = &leases[0];
    assert_eq!(lease.mac.as_deref(), Some("52:54:00:aa:00:02"));
    assert_eq!(lease.iface, "oxbr1");
    assert_eq!(lease.prefix, 24);
    assert_eq!(lease.hostname.as_deref(), Some("client1"));
    assert!(lease.ipaddr.starts_with("10.91.0."));
    assert!(d
        .network_get_dhcp_leases(&n, Some("52:54:00:aa:00:09"), 0)
        .unwrap()
        .is_empty());
    let e = d.network_get_dhcp_leases(&n, Some("zz"), 0).unwrap_err();
    assert_eq!(e.message, "invalid MAC address: zz");

    // Live DNS host: dnsmasq re-reads its files, same process.
    d.network_update(
        &n,
        3,
        10,
        -1,
        "<host ip='10.91.0.8'><hostname>eight</hostname></host>",
        1,
    )
    .expect("dns host");
    assert_eq!(dnsmasq::running_pid(&paths), Some(pid));
    assert!(std::fs::read_to_string(&paths.addnhosts)
        .unwrap()
        .contains("10.91.0.8\teight\t\n"));
    // A TXT record changes the configuration: dnsmasq restarts.
    d.network_update(&n, 3, 11, -1, "<txt name='t1' value='v1'/>", 3)
        .expect("txt");
    let pid2 = dnsmasq::running_pid(&paths).expect("dnsmasq again");
    assert_ne!(pid, pid2);
    assert!(std::fs::read_to_string(&paths.conf)
        .unwrap()
        .contains("txt-record=t1,v1\n"));
    // --config only: the persistent definition has it, the live one not.
    d.network_update(
        &n,
        3,
        4,
        -1,
        "<host mac='52:54:00:aa:00:03' name='cfg' ip='10.91.0.11'/>",
        2,
    )
    .expect("config host");
    assert!(!d.network_get_xml_desc(&n, 0).unwrap().contains("cfg"));
    assert!(d.network_get_xml_desc(&n, 1).unwrap().contains("cfg"));
    assert!(std::fs::read_to_string(dir.0.join("config/natnet.xml"))
        .unwrap()
        .contains("name='cfg'"));

    // Ports.
    let port = d
        .network_port_create_xml(
            &n,
            "<networkport><owner><name>g1</name><uuid>0e6b5f5e-1111-4c38-a9d3-6f0c0b8a7a11</uuid></owner>\
             <uuid>9a6b5f5e-2222-4c38-a9d3-6f0c0b8a7a22</uuid><mac address='52:54:00:aa:00:05'/></networkport>",
            0,
        )
        .expect("port");
    let px = d.network_port_get_xml_desc(&port, 0).unwrap();
    assert!(
        px.contains("<plug type='network' bridge='oxbr1'/>"),
        "{}",
        px
    );
    assert_eq!(d.list_all_network_ports(&n, 0).unwrap(), vec![port.clone()]);

    // A daemon restart re-attaches: same dnsmasq, same rules, same port.
    let rules_before = nft_table(&t);
    drop(d);
    let d = Driver::open(&dir.0).expect("reopen");
    let n2 = d.lookup_network_by_name("natnet").unwrap();
    assert!(d.network_is_active(&n2).unwrap());
    assert_eq!(dnsmasq::running_pid(&paths), Some(pid2));
    assert_eq!(nft_table(&t), rules_before);
    assert_eq!(
        d.list_all_network_ports(&n2, 0).unwrap(),
        vec![port.clone()]
    );
    assert!(d.network_get_xml_desc(&n2, 1).unwrap().contains("cfg"));
    assert_eq!(d.network_get_dhcp_leases(&n2, None, 0).unwrap().len(), 1);

    d.network_port_delete(&port, 0).expect("port delete");
    assert!(d.list_all_network_ports(&n2, 0).unwrap().is_empty());

    // Destroy leaves nothing.
    d.network_destroy(&n2).expect("destroy");
    assert!(!link::exists("oxbr1"));
    assert!(!nft_tables().contains(&t));
    assert!(dnsmasq_pids().is_empty(), "{:?}", dnsmasq_pids());
    assert!(!dir.0.join("run/natnet.xml").exists());
    // The persistent definition now carries the --config host.
    assert!(d.network_get_xml_desc(&n2, 0).unwrap().contains("cfg"));
    d.network_undefine(&n2).expect("undefine");
    assert!(!dir.0.join("config/natnet.xml").exists());
    assert!(!paths.leases.exists());
}

#[test]
fn bad_input_leaves_the_host_unchanged() {
    if !rerun_in_netns("bad_input_leaves_the_host_unchanged") {
        return;
    }
    let dir = root();
    let d = Driver::open(&dir.0).expect("open");
    let a = d
        .network_create_xml(
            "<network><name>a</name><bridge name='oxbra'/>\
             <ip address='10.92.0.1' prefix='24'/></network>",
            0,
        )
        .expect("a");
    let tables = nft_tables();
    let links: Vec<String> = link::links().unwrap().into_iter().map(|l| l.name).collect();

    // Overlapping subnet.
    let b = d
        .network_define_xml(
            "<network><name>b</name><ip address='10.92.0.2' prefix='24'/></network>",
            0,
        )
        .expect("b defines");
    let e = d.network_create(&b).unwrap_err();
    assert_eq!(
        e.message,
        "internal error: Network is already in use by interface oxbra"
    );
    // A bridge name another network uses.
    let e = d
        .network_define_xml(
            "<network><name>c</name><bridge name='oxbra'/><ip address='10.93.0.1' prefix='24'/></network>",
            0,
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        "internal error: bridge name 'oxbra' already in use."
    );
    // A DHCP range outside its subnet.
    let e = d
        .network_define_xml(
            "<network><name>c</name><ip address='10.93.0.1' prefix='24'>\
             <dhcp><range start='10.94.0.2' end='10.94.0.9'/></dhcp></ip></network>",
            0,
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        "internal error: range 10.94.0.2 - 10.94.0.9 is not entirely within network 10.93.0.1/24"
    );
    // A port on an inactive network.
    let e = d
        .network_port_create_xml(
            &b,
            "<networkport><owner><name>g</name><uuid>0e6b5f5e-1111-4c38-a9d3-6f0c0b8a7a11</uuid></owner>\
             <uuid>9a6b5f5e-2222-4c38-a9d3-6f0c0b8a7a23</uuid><mac address='52:54:00:aa:00:05'/></networkport>",
            0,
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: network 'b' is not active"
    );
    // Nothing changed on the host.
    assert_eq!(nft_tables(), tables);
    let now: Vec<String> = link::links().unwrap().into_iter().map(|l| l.name).collect();
    assert_eq!(now, links);
    // Transient networks go when destroyed.
    d.network_destroy(&a).unwrap();
    assert!(d.lookup_network_by_name("a").is_err());
    assert!(!link::exists("oxbra"));
    d.network_undefine(&b).unwrap();
    assert!(d.list_all_networks(0).unwrap().is_empty());
    assert!(dnsmasq_pids().is_empty());
}

#[test]
fn autostart_and_forward_modes() {
    if !rerun_in_netns("autostart_and_forward_modes") {
        return;
    }
    let dir = root();
    let d = Driver::open(&dir.0).expect("open");
    // Routed, isolated and open networks; the isolated one gets a bridge
    // name of its own (virbr%d) and a MAC.
    let routed = d
        .network_define_xml(
            "<network><name>routed</name><forward mode='route'/><bridge name='oxbrr'/>\
             <ip address='10.95.0.1' prefix='24'/></network>",
            0,
        )
        .unwrap();
    let iso = d
        .network_define_xml(
            "<network><name>iso</name><ip address='10.96.0.1' prefix='24'>\
             <dhcp><range start='10.96.0.2' end='10.96.0.9'/></dhcp></ip></network>",
            0,
        )
        .unwrap();
    let open = d
        .network_define_xml(
            "<network><name>open</name><forward mode='open'/><bridge name='oxbro'/>\
             <ip address='10.97.0.1' prefix='24'/></network>",
            0,
        )
        .unwrap();
    let iso_xml = d.network_get_xml_desc(&iso, 0).unwrap();
    assert!(
        iso_xml.contains("<bridge name='virbr0' stp='on' delay='0'/>"),
        "{}",
        iso_xml
    );
    assert!(iso_xml.contains("<mac address='52:54:00:"), "{}", iso_xml);
    d.network_set_autostart(&routed, true).unwrap();
    d.network_set_autostart(&iso, true).unwrap();
    assert!(dir.0.join("config/autostart/routed.xml").exists());
    for n in [&routed, &iso, &open] {
        d.network_create(n).unwrap();
    }
    let routed_def = Network::parse(&d.network_get_xml_desc(&routed, 0).unwrap()).unwrap();
    let r = nft_table(&firewall::table_name(&routed_def));
    assert!(
        r.contains("ip daddr 10.95.0.0/24 oifname \"oxbrr\" accept"),
        "{}",
        r
    );
    assert!(!r.contains("masquerade"));
    let open_def = Network::parse(&d.network_get_xml_desc(&open, 0).unwrap()).unwrap();
    assert!(!nft_tables().contains(&firewall::table_name(&open_def)));
    let iso_conf =
        std::fs::read_to_string(dir.0.join("dnsmasq/iso.conf")).expect("iso dnsmasq conf");
    assert!(iso_conf.contains("dhcp-option=3\nno-resolv\n"));
    // A host bridge network plugs ports into that bridge.
    link::create_bridge("oxhost0", None, None).unwrap();
    let hb = d
        .network_create_xml(
            "<network><name>hostbr</name><forward mode='bridge'/><bridge name='oxhost0'/></network>",
            0,
        )
        .unwrap();
    let p = d
        .network_port_create_xml(
            &hb,
            "<networkport><owner><name>g</name><uuid>0e6b5f5e-1111-4c38-a9d3-6f0c0b8a7a11</uuid></owner>\
             <uuid>9a6b5f5e-2222-4c38-a9d3-6f0c0b8a7a24</uuid><mac address='52:54:00:aa:00:06'/></networkport>",
            0,
        )
        .unwrap();
    assert!(d
        .network_port_get_xml_desc(&p, 0)
        .unwrap()
        .contains("<plug type='bridge' bridge='oxhost0'/>"));
    // Everything stops; the autostart networks come back on open.
    for n in [&routed, &iso, &open, &hb] {
        d.network_destroy(n).unwrap();
    }
    assert!(
        link::exists("oxhost0"),
        "a host bridge is not ours to delete"
    );
    drop(d);
    let d = Driver::open(&dir.0).expect("reopen");
    let active: Vec<NetworkRef> = d.list_all_networks(2).unwrap();
    let mut names: Vec<&str> = active.iter().map(|n| n.name.as_str()).collect();
    names.sort();
    assert_eq!(names, vec!["iso", "routed"]);
    d.destroy_all();
    assert!(dnsmasq_pids().is_empty());
    assert!(!nft_tables().contains("oxvirt_"));
}
