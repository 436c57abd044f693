//! libvirt's network port test data (virnetworkportxml2xmldata): every
//! document round-trips byte for byte.

use oxvirt_xml::netport::NetworkPort;

#[test]
fn libvirt_port_documents_round_trip() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/networkport");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("data dir") {
        let p = e.expect("entry").path();
        let xml = std::fs::read_to_string(&p).expect("read");
        let port = NetworkPort::parse(&xml).unwrap_or_else(|e| panic!("{}: {}", p.display(), e));
        assert_eq!(port.format(), xml, "{}", p.display());
        n += 1;
    }
    assert_eq!(n, 7);
}

#[test]
fn port_errors_are_libvirts() {
    let e = NetworkPort::parse("<networkport/>").unwrap_err();
    assert_eq!(e.to_string(), "internal error: network port has no uuid");
    let e = NetworkPort::parse(
        "<networkport><uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid><owner><name>a</name>\
         <uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner><mac address='52:54:00:7b:35:93'/>\
         <plug type='bridge'/></networkport>",
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "XML error: Missing network port bridge name");
}
