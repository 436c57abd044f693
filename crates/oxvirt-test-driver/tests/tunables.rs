//! Tunables kept in the definition, with libvirt's parameter names, types
//! and errors.

use std::sync::Arc;

use oxvirt_core::types::flags::affect::{CONFIG, LIVE};
use oxvirt_core::types::{DomainRef, TypedParam, TypedValue};
use oxvirt_core::uri::Uri;
use oxvirt_core::Connection;

fn open() -> Arc<Connection> {
    oxvirt_test_driver::open(&Uri::parse("test:///default").unwrap(), 0).unwrap()
}

/// A running persistent domain of its own, so tests do not share one.
fn domain(c: &Arc<Connection>, name: &str) -> DomainRef {
    let xml = format!(
        "<domain type='test'><name>{}</name><memory>1024</memory><vcpu>1</vcpu>\
         <os><type>hvm</type></os><devices><disk type='file'><source file='/x'/>\
         <target dev='vda'/></disk><interface type='network'><mac address='52:54:00:00:00:01'/>\
         <source network='default'/><target dev='tap0'/></interface></devices></domain>",
        name
    );
    let d = c.domain_define_xml(&xml, 0).unwrap();
    c.domain_create(&d, 0).unwrap()
}

fn fields(ps: &[TypedParam]) -> Vec<(&str, i32)> {
    ps.iter()
        .map(|p| (p.field.as_str(), p.value.type_code()))
        .collect()
}

#[test]
fn getters_count_first_then_answer_with_libvirts_names_and_types() {
    let c = open();
    let d = domain(&c, "tun-get");
    assert_eq!(c.domain_get_memory_parameters(&d, 0, 0).unwrap().len(), 3);
    assert_eq!(
        fields(&c.domain_get_memory_parameters(&d, 3, 0).unwrap()),
        [("hard_limit", 4), ("soft_limit", 4), ("swap_hard_limit", 4)]
    );
    assert_eq!(
        fields(&c.domain_get_numa_parameters(&d, 2, 0).unwrap()),
        [("numa_mode", 1), ("numa_nodeset", 7)]
    );
    let bw = c.domain_get_interface_parameters(&d, "tap0", 7, 0).unwrap();
    assert_eq!(bw[3].field, "inbound.floor");
    assert!(bw.iter().all(|p| p.value == TypedValue::UInt(0)));
    // The count does not look at the disk; the values do.
    assert_eq!(
        c.domain_get_block_io_tune(&d, None, 0, 0).unwrap().len(),
        20
    );
    let io = c.domain_get_block_io_tune(&d, Some("vda"), 20, 0).unwrap();
    assert_eq!(
        (io[13].field.as_str(), io[19].field.as_str()),
        ("group_name", "write_iops_sec_max_length")
    );
    let e = c
        .domain_get_block_io_tune(&d, Some("vdz"), 20, 0)
        .unwrap_err();
    assert_eq!(
        e.message,
        "invalid argument: disk 'vdz' was not found in the domain config"
    );
    assert_eq!(c.domain_get_perf_events(&d, 0).unwrap().len(), 22);
    let e = c
        .domain_get_memory_parameters(&d, 0, LIVE | CONFIG)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive"
    );
}

#[test]
fn setters_validate_as_libvirt_does() {
    let c = open();
    let d = domain(&c, "tun-validate");
    let b = |f: &str, v: bool| TypedParam::new(f, TypedValue::Boolean(v));
    // Names are checked in sorted order: 'bogus' before 'cmt'.
    let e = c
        .domain_set_perf_events(&d, &[b("zzz", true), b("bogus", true)], 0)
        .unwrap_err();
    assert_eq!(
        e.message,
        "argument unsupported: parameter 'bogus' not supported"
    );
    let e = c
        .domain_set_perf_events(&d, &[b("cmt", true), b("cmt", false)], 0)
        .unwrap_err();
    assert_eq!(
        e.message,
        "invalid argument: parameter 'cmt' occurs multiple times"
    );
    let e = c
        .domain_set_memory_parameters(&d, &[TypedParam::new("hard_limit", TypedValue::UInt(1))], 0)
        .unwrap_err();
    assert_eq!(
        e.message,
        "invalid argument: invalid type 'uint' for parameter 'hard_limit', expected 'ullong'"
    );
}

#[test]
fn live_and_config_definitions_change_apart() {
    let c = open();
    let d = domain(&c, "tun-defs");
    let ull = |f: &str, v: u64| TypedParam::new(f, TypedValue::ULLong(v));
    c.domain_set_memory_parameters(&d, &[ull("hard_limit", 1024)], CONFIG)
        .unwrap();
    c.domain_set_block_io_tune(
        &d,
        "vda",
        &[ull("read_iops_sec_max", 9), ull("read_iops_sec", 3)],
        0,
    )
    .unwrap();
    c.domain_set_lifecycle_action(&d, 2, 3, LIVE | CONFIG)
        .unwrap();
    let live = c.domain_get_xml_desc(&d, 0).unwrap();
    let config = c.domain_get_xml_desc(&d, 2).unwrap();
    assert!(!live.contains("<memtune>"), "{}", live);
    assert!(
        config.contains("<hard_limit unit='KiB'>1024</hard_limit>"),
        "{}",
        config
    );
    assert!(
        live.contains("<read_iops_sec>3</read_iops_sec>"),
        "{}",
        live
    );
    assert!(!config.contains("<iotune>"), "{}", config);
    for x in [&live, &config] {
        assert!(x.contains("<on_crash>preserve</on_crash>"), "{}", x);
    }
    let e = c.domain_set_lifecycle_action(&d, 0, 4, 0).unwrap_err();
    assert_eq!(
        e.message,
        "unsupported configuration: Lifecycle event 'poweroff' doesn't support 'coredump-destroy' action"
    );
}
