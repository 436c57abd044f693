//! Snapshots and checkpoints in the test driver, checked against what
//! libvirt's test driver does (tree, current, revert states and events,
//! delete variants, messages).

use std::sync::{Arc, Mutex};

use oxvirt_core::event::{lifecycle as lc, DomainEventKind};
use oxvirt_core::types::flags::{
    snapshot_delete as df, snapshot_list as lf, snapshot_revert as rf,
};
use oxvirt_core::types::DomainRef;
use oxvirt_core::uri::Uri;
use oxvirt_core::Connection;

fn open() -> Arc<Connection> {
    oxvirt_test_driver::open(&Uri::parse("test:///default").unwrap(), 0).unwrap()
}

fn define(c: &Arc<Connection>, name: &str, uuid: &str) -> DomainRef {
    let xml = format!(
        "<domain type='test'><name>{}</name><uuid>{}</uuid><memory>1024</memory>\
         <os><type>hvm</type></os><devices><disk type='file' device='disk'>\
         <source file='/guest/{}.img'/><target dev='vda' bus='virtio'/></disk></devices></domain>",
        name, uuid, name
    );
    c.domain_define_xml(&xml, 0).unwrap()
}

fn snap(c: &Arc<Connection>, d: &DomainRef, name: &str) {
    let xml = format!("<domainsnapshot><name>{}</name></domainsnapshot>", name);
    c.snapshot_create_xml(d, &xml, 0).unwrap();
}

fn names(v: Vec<oxvirt_core::types::SnapshotRef>) -> Vec<String> {
    let mut n: Vec<String> = v.into_iter().map(|s| s.name).collect();
    n.sort();
    n
}

#[test]
fn tree_current_and_delete() {
    let c = open();
    let d = define(&c, "snaptree", "51111111-2222-3333-4444-555555555555");
    snap(&c, &d, "s1");
    let e = c
        .snapshot_create_xml(&d, "<domainsnapshot><name>s1</name></domainsnapshot>", 0)
        .unwrap_err();
    assert_eq!(
        e.message,
        "operation failed: domain moment s1 already exists"
    );
    snap(&c, &d, "s2");
    let s1 = c.snapshot_lookup_by_name(&d, "s1", 0).unwrap();
    c.snapshot_revert(&s1, 0).unwrap();
    snap(&c, &d, "s3");
    assert_eq!(c.snapshot_current(&d, 0).unwrap().name, "s3");
    assert_eq!(
        names(c.snapshot_list_all_children(&s1, 0).unwrap()),
        ["s2", "s3"]
    );
    assert_eq!(names(c.list_all_snapshots(&d, lf::ROOTS).unwrap()), ["s1"]);
    assert_eq!(
        names(c.list_all_snapshots(&d, lf::LEAVES).unwrap()),
        ["s2", "s3"]
    );
    // Topological order: parents first, newest child first.
    let topo: Vec<String> = c
        .list_all_snapshots(&d, lf::TOPOLOGICAL)
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(topo, ["s1", "s3", "s2"]);
    // The snapshot of a shut off domain is offline.
    let xml = c.snapshot_get_xml_desc(&s1, 0).unwrap();
    assert!(xml.contains("<state>shutoff</state>"), "{}", xml);
    assert!(xml.contains("<memory snapshot='no'/>"), "{}", xml);
    assert!(
        xml.contains("<disk name='vda' snapshot='internal'/>"),
        "{}",
        xml
    );
    // Deleting s1 reparents its children to the metaroot.
    c.snapshot_delete(&s1, 0).unwrap();
    assert_eq!(
        names(c.list_all_snapshots(&d, lf::ROOTS).unwrap()),
        ["s2", "s3"]
    );
    let s3 = c.snapshot_lookup_by_name(&d, "s3", 0).unwrap();
    let e = c.snapshot_get_parent(&s3, 0).unwrap_err();
    assert_eq!(
        e.message,
        "Domain snapshot not found: snapshot 's3' does not have a parent"
    );
    // Deleting the current snapshot leaves none current.
    c.snapshot_delete(&s3, 0).unwrap();
    assert!(!c.has_current_snapshot(&d, 0).unwrap());
    let s2 = c.snapshot_lookup_by_name(&d, "s2", 0).unwrap();
    c.snapshot_delete(&s2, df::CHILDREN).unwrap();
    assert_eq!(c.snapshot_num(&d, 0).unwrap(), 0);
    c.domain_undefine(&d, 0).unwrap();
}

#[test]
fn revert_changes_state_with_events() {
    let c = open();
    let d = define(&c, "snaprevert", "61111111-2222-3333-4444-555555555555");
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    c.domain_event_register(
        Some(&d),
        0,
        Arc::new(move |e| {
            if let DomainEventKind::Lifecycle { event, detail } = e.kind {
                sink.lock().unwrap().push((event, detail));
            }
        }),
    )
    .unwrap();
    let d = c.domain_create(&d, 0).unwrap();
    snap(&c, &d, "run");
    c.domain_destroy(&d, 0).unwrap();
    events.lock().unwrap().clear();
    let run = c.snapshot_lookup_by_name(&d, "run", 0).unwrap();
    c.snapshot_revert(&run, rf::PAUSED).unwrap();
    assert_eq!(c.domain_get_state(&d, 0).unwrap(), (3, 7));
    assert_eq!(
        *events.lock().unwrap(),
        [
            (lc::STARTED, lc::started::FROM_SNAPSHOT),
            (lc::SUSPENDED, lc::suspended::FROM_SNAPSHOT)
        ]
    );
    events.lock().unwrap().clear();
    c.snapshot_revert(&run, 0).unwrap();
    assert_eq!(c.domain_get_state(&d, 0).unwrap(), (1, 4));
    assert_eq!(
        *events.lock().unwrap(),
        [
            (lc::STOPPED, lc::stopped::FROM_SNAPSHOT),
            (lc::STARTED, lc::started::FROM_SNAPSHOT)
        ]
    );
    // Checkpoints and snapshots exclude each other.
    let e = c
        .checkpoint_create_xml(&d, "<domaincheckpoint/>", 0)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Operation not supported: cannot create checkpoint while snapshot exists"
    );
    c.snapshot_delete(&run, 0).unwrap();
    let cp = c
        .checkpoint_create_xml(
            &d,
            "<domaincheckpoint><name>c1</name></domaincheckpoint>",
            0,
        )
        .unwrap();
    let xml = c.checkpoint_get_xml_desc(&cp, 2).unwrap();
    assert!(
        xml.contains("<disk name='vda' checkpoint='bitmap' bitmap='c1'/>"),
        "{}",
        xml
    );
    let e = c
        .snapshot_create_xml(&d, "<domainsnapshot/>", 0)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Operation not supported: cannot create snapshot while checkpoint exists"
    );
    c.checkpoint_delete(&cp, 0).unwrap();
    c.domain_destroy(&d, 0).unwrap();
    c.domain_undefine(&d, 0).unwrap();
}
