//! dnsmasq's configuration and hosts files against libvirt 9.0's own
//! expectations (networkxml2confdata): byte for byte.

use oxvirt_network::dnsmasq;
use oxvirt_xml::network::Network;

#[test]
fn libvirt_dnsmasq_configurations() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dnsmasq");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("data")
        .filter_map(|e| {
            let p = e.ok()?.path();
            if p.extension()? != "xml" {
                return None;
            }
            Some(p.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    let mut failures = Vec::new();
    for name in &names {
        let xml = std::fs::read_to_string(dir.join(format!("{}.xml", name))).expect("xml");
        let def = Network::parse(&xml).unwrap_or_else(|e| panic!("{}: {}", name, e));
        let files = match dnsmasq::config(&def, "/var/lib/libvirt/dnsmasq", None) {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{}: {}", name, e));
                continue;
            }
        };
        let want = std::fs::read_to_string(dir.join(format!("{}.conf", name))).expect("conf");
        if files.conf != want {
            failures.push(format!(
                "{}.conf: got\n{}\nwant\n{}",
                name, files.conf, want
            ));
        }
        let hosts = std::fs::read_to_string(dir.join(format!("{}.hostsfile", name))).ok();
        if files.hosts != hosts {
            failures.push(format!(
                "{}.hostsfile: got {:?} want {:?}",
                name, files.hosts, hosts
            ));
        }
    }
    assert_eq!(names.len(), 27);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
