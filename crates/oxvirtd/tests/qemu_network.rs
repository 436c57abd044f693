//! Guest NICs for real, in network namespaces of the test's own: the tiny
//! guest under TCG (Linux guests hang under KVM here) boots with
//! `oxvirt.net`, takes a DHCP lease and pings its router; the test reads
//! the tap's counters through `domifstat`, flips the link with
//! `domif-setlink`, hot-plugs a NIC, and checks that stopping the guest
//! leaves no tap behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::netns::{virsh, NetNs, NsDaemon};
use common::qemu::tiny_guest;

fn guest_xml(name: &str, kernel: &Path, initrd: &Path, console: &Path, nics: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>\
<os><type arch='x86_64' machine='pc'>hvm</type><kernel>{k}</kernel><initrd>{i}</initrd>\
<cmdline>console=ttyS0 oxvirt.net no_timer_check quiet</cmdline></os><features><acpi/></features>\
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>{nics}\
<serial type='file'><source path='{c}'/><target port='0'/></serial></devices></domain>",
        k = kernel.display(),
        i = initrd.display(),
        c = console.display(),
    )
}

/// Waits for `marker` in the guest's console log; returns the line.
fn wait_console(path: &Path, marker: &str, secs: u64) -> String {
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains(marker)) {
            return l.to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "no {} on the console after {}s:\n{}",
            marker,
            secs,
            text
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `virsh domifstat` as (field, value) pairs.
fn domifstat(uri: &str, dom: &str, dev: &str) -> Vec<(String, i64)> {
    let (out, err, st) = virsh(uri, &["domifstat", dom, dev]);
    assert_eq!(st, 0, "domifstat: {}", err);
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3).then(|| (f[1].to_string(), f[2].parse().unwrap_or(-1)))
        })
        .collect()
}

fn stat(v: &[(String, i64)], k: &str) -> i64 {
    v.iter()
        .find(|(n, _)| n == k)
        .map(|(_, x)| *x)
        .unwrap_or(-1)
}

fn link_exists(ns: &NetNs, dev: &str) -> bool {
    ns.command("ip")
        .args(["link", "show", dev])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ip(ns: &NetNs, args: &[&str]) {
    let st = ns.command("ip").args(args).status().expect("ip");
    assert!(st.success(), "ip {:?}", args);
}

#[test]
fn guest_on_a_host_bridge() {
    let Some((kernel, initrd)) = tiny_guest() else {
        return;
    };
    println!("accelerator: TCG (domain type qemu)");
    let ns = NetNs::new("oxnic").expect("ns");
    ip(&ns, &["link", "add", "oxgbr0", "type", "bridge"]);
    ip(&ns, &["addr", "add", "10.78.0.1/24", "dev", "oxgbr0"]);
    ip(&ns, &["link", "set", "oxgbr0", "up"]);
    let d = NsDaemon::start(&ns, "nic");
    let dir: PathBuf = d.dir.clone();
    // A DHCP server on the host bridge (the network driver is not
    // involved: this is a plain host bridge).
    let st = ns
        .command("dnsmasq")
        .arg("--conf-file=/dev/null")
        .arg("--interface=oxgbr0")
        .arg("--bind-dynamic")
        .arg("--except-interface=lo")
        .arg("--dhcp-range=10.78.0.10,10.78.0.20")
        .arg(format!("--dhcp-leasefile={}/leases", dir.display()))
        .arg(format!("--pid-file={}/dnsmasq.pid", dir.display()))
        .status()
        .expect("dnsmasq");
    assert!(st.success());
    let uri = d.uri();
    let console = dir.join("g1.console");
    let xml = guest_xml(
        "nicg1",
        &kernel,
        &initrd,
        &console,
        "<interface type='bridge'><mac address='52:54:00:78:00:01'/>\
<source bridge='oxgbr0'/><model type='virtio'/></interface>",
    );
    let file = dir.join("g1.xml");
    std::fs::write(&file, xml).unwrap();
    let (_, err, st) = virsh(&uri, &["define", &file.to_string_lossy()]);
    assert_eq!(st, 0, "{}", err);
    let (_, err, st) = virsh(&uri, &["start", "nicg1"]);
    assert_eq!(st, 0, "{}", err);
    let (x, _, _) = virsh(&uri, &["dumpxml", "nicg1"]);
    assert!(x.contains("<target dev='vnet0'/>"), "{}", x);
    assert!(link_exists(&ns, "vnet0"));
    let lease = wait_console(&console, "OXVIRT-GUEST-LEASE", 90);
    assert!(lease.contains("10.78.0."), "{}", lease);
    let ping = wait_console(&console, "OXVIRT-GUEST-PING", 60);
    assert!(ping.ends_with("ok"), "{}", ping);

    // Counters rise while the guest pings; by MAC as by name.
    let a = domifstat(&uri, "nicg1", "vnet0");
    std::thread::sleep(Duration::from_millis(2500));
    let b = domifstat(&uri, "nicg1", "52:54:00:78:00:01");
    assert!(
        stat(&b, "tx_packets") > stat(&a, "tx_packets"),
        "{:?} {:?}",
        a,
        b
    );
    assert!(
        stat(&b, "rx_packets") > stat(&a, "rx_packets"),
        "{:?} {:?}",
        a,
        b
    );
    let (_, err, st) = virsh(&uri, &["domifstat", "nicg1", "nosuch0"]);
    assert_ne!(st, 0);
    assert!(
        err.contains("'nosuch0' is not a known interface"),
        "{}",
        err
    );

    // Link down: the guest's packets (its tx) stop reaching the tap.
    let (_, err, st) = virsh(&uri, &["domif-setlink", "nicg1", "vnet0", "down"]);
    assert_eq!(st, 0, "{}", err);
    let (out, _, _) = virsh(&uri, &["domif-getlink", "nicg1", "vnet0"]);
    assert!(out.contains("down"), "{}", out);
    std::thread::sleep(Duration::from_millis(500));
    let c = domifstat(&uri, "nicg1", "vnet0");
    std::thread::sleep(Duration::from_millis(2500));
    let e = domifstat(&uri, "nicg1", "vnet0");
    assert_eq!(
        stat(&c, "tx_packets"),
        stat(&e, "tx_packets"),
        "{:?} {:?}",
        c,
        e
    );
    let (_, err, st) = virsh(&uri, &["domif-setlink", "nicg1", "vnet0", "up"]);
    assert_eq!(st, 0, "{}", err);
    std::thread::sleep(Duration::from_millis(2500));
    let f = domifstat(&uri, "nicg1", "vnet0");
    assert!(
        stat(&f, "tx_packets") > stat(&e, "tx_packets"),
        "{:?} {:?}",
        e,
        f
    );

    // Hot-plug a second NIC (a bare tap), then unplug it.
    let nic = dir.join("nic2.xml");
    std::fs::write(
        &nic,
        "<interface type='ethernet'><mac address='52:54:00:78:00:02'/><model type='virtio'/></interface>",
    )
    .unwrap();
    let (_, err, st) = virsh(
        &uri,
        &["attach-device", "nicg1", &nic.to_string_lossy(), "--live"],
    );
    assert_eq!(st, 0, "{}", err);
    let (x, _, _) = virsh(&uri, &["dumpxml", "nicg1"]);
    assert!(x.contains("<target dev='vnet1'/>"), "{}", x);
    assert!(link_exists(&ns, "vnet1"));
    let (_, err, st) = virsh(
        &uri,
        &["detach-device", "nicg1", &nic.to_string_lossy(), "--live"],
    );
    assert_eq!(st, 0, "{}", err);
    let t0 = Instant::now();
    while link_exists(&ns, "vnet1") && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !link_exists(&ns, "vnet1"),
        "the unplugged NIC's tap is gone"
    );

    // Stopping the guest leaves no tap.
    let (_, err, st) = virsh(&uri, &["destroy", "nicg1"]);
    assert_eq!(st, 0, "{}", err);
    assert!(!link_exists(&ns, "vnet0"));
    let _ = virsh(&uri, &["undefine", "nicg1"]);
}

fn nat_network(name: &str, bridge: &str, subnet: u8) -> String {
    format!(
        "<network><name>{name}</name><forward mode='nat'/><bridge name='{bridge}'/>\
<ip address='10.{subnet}.0.1' netmask='255.255.255.0'><dhcp>\
<range start='10.{subnet}.0.100' end='10.{subnet}.0.150'/></dhcp></ip></network>"
    )
}

fn define_start_network(uri: &str, dir: &Path, xml: &str, name: &str) {
    let f = dir.join(format!("{}.xml", name));
    std::fs::write(&f, xml).unwrap();
    let (_, err, st) = virsh(uri, &["net-define", &f.to_string_lossy()]);
    assert_eq!(st, 0, "{}", err);
    let (_, err, st) = virsh(uri, &["net-start", name]);
    assert_eq!(st, 0, "{}", err);
}

fn start_guest(uri: &str, dir: &Path, name: &str, network: &str, mac: &str) -> PathBuf {
    let (kernel, initrd) = tiny_guest().expect("tiny guest");
    let console = dir.join(format!("{}.console", name));
    let xml = guest_xml(
        name,
        &kernel,
        &initrd,
        &console,
        &format!(
            "<interface type='network'><mac address='{mac}'/><source network='{network}'/>\
<model type='virtio'/></interface>"
        ),
    );
    let f = dir.join(format!("{}.xml", name));
    std::fs::write(&f, xml).unwrap();
    let (_, err, st) = virsh(uri, &["define", &f.to_string_lossy()]);
    assert_eq!(st, 0, "{}", err);
    let (_, err, st) = virsh(uri, &["start", name]);
    assert_eq!(st, 0, "{}", err);
    console
}

/// The address of `mac` in `virsh net-dhcp-leases NET`, if any.
fn leased(uri: &str, net: &str, mac: &str) -> Option<String> {
    let (out, _, _) = virsh(uri, &["net-dhcp-leases", net]);
    out.lines()
        .find(|l| l.contains(mac))
        .and_then(|l| l.split_whitespace().find(|w| w.contains('/')))
        .map(|a| a.to_string())
}

fn nft_ruleset(ns: &NetNs) -> String {
    let o = ns
        .command("nft")
        .args(["list", "ruleset"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn dnsmasqs(ns: &NetNs) -> Vec<i32> {
    ns.pids()
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{}/cmdline", p)).is_ok_and(|c| c.starts_with(b"dnsmasq"))
        })
        .collect()
}

#[test]
fn guest_on_a_nat_network() {
    if tiny_guest().is_none() {
        return;
    }
    println!("accelerator: TCG (domain type qemu)");
    let ns = NetNs::new("oxnat").expect("ns");
    let d = NsDaemon::start(&ns, "nat");
    let uri = d.uri();
    let dir = d.dir.clone();
    define_start_network(&uri, &dir, &nat_network("natg", "oxnatbr0", 79), "natg");
    let console = start_guest(&uri, &dir, "natg1", "natg", "52:54:00:79:00:01");
    let (x, _, _) = virsh(&uri, &["dumpxml", "natg1"]);
    assert!(
        x.contains("<source network='natg' portid='") && x.contains("bridge='oxnatbr0'/>"),
        "{}",
        x
    );
    let (ports, _, _) = virsh(&uri, &["net-port-list", "natg"]);
    assert_eq!(ports.lines().count(), 4, "{}", ports);

    // 1. The guest gets a lease.
    let lease = wait_console(&console, "OXVIRT-GUEST-LEASE", 90);
    let ip = lease.split_whitespace().nth(1).unwrap_or("").to_string();
    assert!(ip.starts_with("10.79.0."), "{}", lease);
    // 2. net-dhcp-leases and domifaddr --source lease show it.
    let l = leased(&uri, "natg", "52:54:00:79:00:01").expect("lease listed");
    assert_eq!(l, format!("{}/24", ip));
    let (out, err, st) = virsh(&uri, &["domifaddr", "natg1", "--source", "lease"]);
    assert_eq!(st, 0, "{}", err);
    assert!(
        out.contains("vnet0")
            && out.contains("52:54:00:79:00:01")
            && out.contains(&format!("{}/24", ip)),
        "{}",
        out
    );
    // 3. It pings the bridge; the counters rise.
    let ping = wait_console(&console, "OXVIRT-GUEST-PING", 60);
    assert!(ping.ends_with("ok"), "{}", ping);
    let a = domifstat(&uri, "natg1", "vnet0");
    std::thread::sleep(Duration::from_millis(2500));
    let b = domifstat(&uri, "natg1", "vnet0");
    assert!(
        stat(&b, "tx_packets") > stat(&a, "tx_packets"),
        "{:?} {:?}",
        a,
        b
    );
    assert!(
        stat(&b, "rx_packets") > stat(&a, "rx_packets"),
        "{:?} {:?}",
        a,
        b
    );

    // Then: nothing left.
    let (_, err, st) = virsh(&uri, &["destroy", "natg1"]);
    assert_eq!(st, 0, "{}", err);
    let (ports, _, _) = virsh(&uri, &["net-port-list", "natg"]);
    assert_eq!(
        ports.lines().count(),
        3,
        "the port went with the guest: {}",
        ports
    );
    let (_, err, st) = virsh(&uri, &["net-destroy", "natg"]);
    assert_eq!(st, 0, "{}", err);
    assert!(!link_exists(&ns, "vnet0"), "no tap");
    assert!(!link_exists(&ns, "oxnatbr0"), "no bridge");
    assert!(dnsmasqs(&ns).is_empty(), "no dnsmasq");
    assert!(!nft_ruleset(&ns).contains("table"), "no nftables table");
    let _ = virsh(&uri, &["undefine", "natg1"]);
    let _ = virsh(&uri, &["net-undefine", "natg"]);
}

#[test]
fn kill9_keeps_networks_and_guests() {
    if tiny_guest().is_none() {
        return;
    }
    println!("accelerator: TCG (domain type qemu)");
    let ns = NetNs::new("oxrst").expect("ns");
    let mut d = NsDaemon::start(&ns, "rst");
    let uri = d.uri();
    let dir = d.dir.clone();
    define_start_network(&uri, &dir, &nat_network("rsta", "oxrstbr0", 81), "rsta");
    define_start_network(&uri, &dir, &nat_network("rstb", "oxrstbr1", 82), "rstb");
    let ca = start_guest(&uri, &dir, "rstg1", "rsta", "52:54:00:81:00:01");
    let cb = start_guest(&uri, &dir, "rstg2", "rstb", "52:54:00:82:00:01");
    for c in [&ca, &cb] {
        let p = wait_console(c, "OXVIRT-GUEST-PING", 120);
        assert!(p.ends_with("ok"), "{}", p);
    }
    let list = virsh(&uri, &["net-list", "--all"]);
    let addr1 = virsh(&uri, &["domifaddr", "rstg1", "--source", "lease"]);
    let addr2 = virsh(&uri, &["domifaddr", "rstg2", "--source", "lease"]);
    let rules = nft_ruleset(&ns);
    let links = |ns: &NetNs| {
        let o = ns.command("ip").args(["-br", "link"]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let links_before = links(&ns);
    let dns_before = dnsmasqs(&ns);
    assert_eq!(dns_before.len(), 2);
    let s1 = domifstat(&uri, "rstg1", "vnet0");

    d.kill9();
    let d = NsDaemon::start_at(&ns, dir.clone());
    let uri = d.uri();
    assert_eq!(virsh(&uri, &["net-list", "--all"]), list);
    assert_eq!(
        virsh(&uri, &["domifaddr", "rstg1", "--source", "lease"]),
        addr1
    );
    assert_eq!(
        virsh(&uri, &["domifaddr", "rstg2", "--source", "lease"]),
        addr2
    );
    assert_eq!(nft_ruleset(&ns), rules, "the rules are unchanged");
    assert_eq!(
        links(&ns),
        links_before,
        "the bridges and taps are unchanged"
    );
    assert_eq!(dnsmasqs(&ns), dns_before, "the same dnsmasq processes");
    // Connectivity goes on: the guest keeps pinging its bridge.
    std::thread::sleep(Duration::from_millis(2500));
    let s2 = domifstat(&uri, "rstg1", "vnet0");
    assert!(
        stat(&s2, "tx_packets") > stat(&s1, "tx_packets"),
        "{:?} {:?}",
        s1,
        s2
    );
    assert!(
        stat(&s2, "rx_packets") > stat(&s1, "rx_packets"),
        "{:?} {:?}",
        s1,
        s2
    );
    for g in ["rstg1", "rstg2"] {
        let _ = virsh(&uri, &["destroy", g]);
    }
    for n in ["rsta", "rstb"] {
        let (_, err, st) = virsh(&uri, &["net-destroy", n]);
        assert_eq!(st, 0, "{}", err);
    }
    assert!(dnsmasqs(&ns).is_empty());
    assert!(!nft_ruleset(&ns).contains("table"));
}
