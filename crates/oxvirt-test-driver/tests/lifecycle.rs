//! The test driver's state machine, checked against what libvirt's test
//! driver reports (states, reasons, events, errors).

use std::sync::{Arc, Mutex};

use oxvirt_core::event::DomainEventKind;
use oxvirt_core::types::flags;
use oxvirt_core::uri::Uri;
use oxvirt_core::Connection;

fn open() -> Arc<Connection> {
    oxvirt_test_driver::open(&Uri::parse("test:///default").unwrap(), 0).unwrap()
}

const GOLDEN1: &str = "<domain type='test'><name>golden1</name>\
    <uuid>11111111-2222-3333-4444-555555555555</uuid><memory unit='KiB'>1048576</memory>\
    <vcpu>4</vcpu><os><type arch='x86_64'>hvm</type></os></domain>";

#[test]
fn default_domain_is_running_with_id_1() {
    let c = open();
    let d = c.lookup_domain_by_name("test").unwrap();
    assert_eq!(d.id, 1);
    // libvirt's test driver loads its default domain with reason 0.
    assert_eq!(c.domain_get_state(&d, 0).unwrap(), (1, 0));
    let xml = c.domain_get_xml_desc(&d, 0).unwrap();
    assert!(xml.starts_with("<domain type='test' id='1'>\n"), "{}", xml);
    assert!(xml.contains("<target dev='testnet0'/>"));
}

#[test]
fn lifecycle_states_reasons_and_events() {
    let c = open();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    c.domain_event_register(
        None,
        0,
        Arc::new(move |e| {
            if let DomainEventKind::Lifecycle { event, detail } = e.kind {
                sink.lock()
                    .unwrap()
                    .push((e.dom.name.clone(), event, detail));
            }
        }),
    )
    .unwrap();
    let d = c.domain_define_xml(GOLDEN1, 0).unwrap();
    assert_eq!(c.domain_get_state(&d, 0).unwrap(), (5, 0));
    let d = c.domain_create(&d, 0).unwrap();
    assert_eq!(c.domain_get_state(&d, 0).unwrap(), (1, 1));
    c.domain_suspend(&d).unwrap();
    assert_eq!(c.domain_get_state(&d, 0).unwrap(), (3, 1));
    let e = c.domain_suspend(&d).unwrap_err();
    assert_eq!(e.message, "internal error: domain 'golden1' not running");
    c.domain_resume(&d).unwrap();
    assert_eq!(c.domain_get_state(&d, 0).unwrap(), (1, 5));
    c.domain_shutdown(&d, 0).unwrap();
    assert_eq!(c.domain_get_state(&d, 0).unwrap(), (5, 1));
    let e = c.domain_destroy(&d, 0).unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: domain is not running"
    );
    c.domain_undefine(&d, 0).unwrap();
    assert!(c.lookup_domain_by_name("golden1").is_err());
    let ev: Vec<(i32, i32)> = events
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, _, _)| n == "golden1")
        .map(|(_, e, d)| (*e, *d))
        .collect();
    assert_eq!(ev, vec![(0, 0), (2, 0), (3, 0), (4, 0), (5, 0), (1, 0)]);
}

#[test]
fn transient_domain_vanishes_when_destroyed() {
    let c = open();
    let xml = GOLDEN1
        .replace("golden1", "transient1")
        .replace("11111111", "33333333");
    let d = c.domain_create_xml(&xml, 0).unwrap();
    assert!(d.id > 1);
    assert!(!c.domain_is_persistent(&d).unwrap());
    c.domain_destroy(&d, 0).unwrap();
    assert_eq!(
        c.lookup_domain_by_name("transient1").unwrap_err().message,
        "Domain not found"
    );
}

#[test]
fn save_restore_and_managed_save() {
    let c = open();
    let xml = GOLDEN1
        .replace("golden1", "saver")
        .replace("11111111", "44444444");
    let d = c.domain_define_xml(&xml, 0).unwrap();
    let d = c.domain_create(&d, 0).unwrap();
    let path = std::env::temp_dir().join(format!("oxvirt-td-{}.save", std::process::id()));
    let path = path.to_str().unwrap();
    c.domain_save(&d, path, None, 0).unwrap();
    assert_eq!(c.domain_get_state(&d, 0).unwrap(), (5, 5));
    c.domain_restore(path, None, 0).unwrap();
    assert_eq!(c.domain_get_state(&d, 0).unwrap(), (1, 3));
    std::fs::remove_file(path).unwrap();
    c.domain_managed_save(&d, 0).unwrap();
    assert!(c.domain_has_managed_save(&d, 0).unwrap());
    let e = c.domain_undefine(&d, 0).unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: Refusing to undefine while domain managed save image exists"
    );
    let d = c.domain_create(&d, 0).unwrap();
    assert!(!c.domain_has_managed_save(&d, 0).unwrap());
    c.domain_destroy(&d, 0).unwrap();
    c.domain_undefine(&d, 0).unwrap();
}

#[test]
fn read_only_connections_refuse_changes() {
    let c = oxvirt_test_driver::open(&Uri::parse("test:///default").unwrap(), flags::connect::RO)
        .unwrap();
    let d = c.lookup_domain_by_name("test").unwrap();
    let e = c.domain_destroy(&d, 0).unwrap_err();
    assert_eq!(
        e.message,
        "operation forbidden: read only access prevents virDomainDestroy"
    );
    assert_eq!(e.code, 29);
}
