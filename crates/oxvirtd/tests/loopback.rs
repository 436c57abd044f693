//! Every procedure of oxvirt-proto's table that has a `Connection`
//! method, driven through `RemoteConnection` → oxvirtd → the test driver
//! and compared with the same call made directly on the test driver.
//!
//! Each row runs on a fresh `test:///default` at both ends (the daemon's
//! resets when the remote connection closes, the in-process one when
//! its last connection drops), after the same setup (a volume, a secret,
//! a snapshot and a checkpoint, so that handles of every family name
//! something). Its arguments come from the row's kinds (`Sample`): the
//! default objects' handles, a definition of the family the row belongs
//! to, zero flags. Results must agree: the same value, or the same error
//! (code, domain, message).

mod common;

use std::fmt::Debug;
use std::sync::Arc;

use oxvirt_core::types as t;
use oxvirt_core::uri::Uri;
use oxvirt_core::{Connection, Result};
use oxvirt_proto::convert::Wire;
use oxvirt_proto::kinds::*;
use oxvirt_proto::remote as r;
use oxvirt_proto::table::{self, Ends};

/// An argument value for a row, from the kind that types it.
trait Sample: Wire {
    fn sample(c: &Connection, row: &str, arg: &str) -> Self::Core;
}

const UUID: &str = "6ab6c33f-3a04-4b69-b7c8-8ba1f7e1a0c1";
const SECRET_UUID: &str = "5ab6c33f-3a04-4b69-b7c8-8ba1f7e1a0c2";

fn uuid(s: &str) -> t::Uuid {
    t::Uuid::parse(s).expect("uuid")
}

/// A definition for the family `row` belongs to.
fn xml(row: &str) -> String {
    let family = |p: &str| row.starts_with(p) || row.contains(&format!("_{}", p));
    if row.contains("SNAPSHOT") {
        "<domainsnapshot><name>lb2</name></domainsnapshot>".into()
    } else if row.contains("CHECKPOINT") {
        "<domaincheckpoint><name>lb2</name></domaincheckpoint>".into()
    } else if row.contains("NETWORK_PORT") {
        format!(
            "<networkport><uuid>{UUID}</uuid><owner><name>test</name>\
             <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></owner>\
             <mac address='52:54:00:00:00:01'/></networkport>"
        )
    } else if family("NETWORK") {
        format!(
            "<network><name>lb</name><uuid>{UUID}</uuid><bridge name='lbbr0'/>\
             <mac address='52:54:00:00:00:02'/></network>"
        )
    } else if row.contains("VOL") {
        "<volume><name>lb2.img</name><capacity>1048576</capacity></volume>".into()
    } else if family("STORAGE_POOL") || row.contains("STORAGE") {
        format!(
            "<pool type='dir'><name>lb</name><uuid>{UUID}</uuid>\
             <target><path>/lb-pool</path></target></pool>"
        )
    } else if row.contains("SECRET") {
        format!("<secret ephemeral='no' private='no'><uuid>{UUID}</uuid></secret>")
    } else if row.contains("INTERFACE") {
        "<interface type='ethernet' name='lb0'><start mode='onboot'/></interface>".into()
    } else if row.contains("NODE_DEVICE") {
        "<device><name>lb</name><parent>scsi_host11</parent>\
         <capability type='scsi_host'/></device>"
            .into()
    } else if row.contains("CPU") {
        "<cpu><arch>x86_64</arch><model>qemu64</model></cpu>".into()
    } else {
        format!(
            "<domain type='test'><name>lb</name><uuid>{UUID}</uuid>\
             <memory>65536</memory><os><type>hvm</type></os></domain>"
        )
    }
}

impl Sample for u32 {
    fn sample(_: &Connection, _: &str, arg: &str) -> u32 {
        match arg {
            "flags" => 0,
            _ => 1,
        }
    }
}
impl Sample for i32 {
    fn sample(_: &Connection, _: &str, arg: &str) -> i32 {
        match arg {
            "kind" => 0,
            _ => 1,
        }
    }
}
impl Sample for u64 {
    fn sample(_: &Connection, _: &str, _: &str) -> u64 {
        65536
    }
}
impl Sample for i64 {
    fn sample(_: &Connection, _: &str, _: &str) -> i64 {
        1
    }
}
impl Sample for String {
    fn sample(_: &Connection, row: &str, arg: &str) -> String {
        match arg {
            "xml" | "xml_desc" | "dxml" | "config" => xml(row),
            "name" if row.contains("STORAGE") => "default-pool".into(),
            "name" if row.contains("NETWORK") => "default".into(),
            "name" if row.contains("INTERFACE") => "eth1".into(),
            "name" if row.contains("NODE_DEVICE") => "computer".into(),
            "name" if row.contains("SNAPSHOT") || row.contains("CHECKPOINT") => "lb".into(),
            "name" => "test".into(),
            "key" | "path" => "/default-pool/lb.img".into(),
            "mac" => "aa:bb:cc:dd:ee:ff".into(),
            "format" => "qemu-argv".into(),
            "kind" => "logical".into(),
            "arch" => "x86_64".into(),
            "disk" | "device" | "path_or_dev" => "vda".into(),
            "usage_id" => "lb".into(),
            "file" | "to" | "from" => "/nonexistent/loopback".into(),
            _ => "test".into(),
        }
    }
}
impl Sample for StrOrEmpty {
    fn sample(c: &Connection, row: &str, arg: &str) -> String {
        String::sample(c, row, arg)
    }
}
impl Sample for Bool {
    fn sample(_: &Connection, _: &str, _: &str) -> bool {
        true
    }
}
impl<T: Wire> Sample for Option<T>
where
    T::Core: 'static,
{
    fn sample(_: &Connection, _: &str, _: &str) -> Option<T::Core> {
        None
    }
}
impl<T: Wire, L: oxvirt_proto::xdr::Limit> Sample for List<T, L>
where
    T::Core: Clone + 'static,
{
    fn sample(_: &Connection, _: &str, _: &str) -> Vec<T::Core> {
        Vec::new()
    }
}
impl<L: oxvirt_proto::xdr::Limit> Sample for Bytes<L> {
    fn sample(_: &Connection, _: &str, _: &str) -> Vec<u8> {
        b"loopback".to_vec()
    }
}
impl<L: LegacyList> Sample for MaxNames<L> {
    fn sample(_: &Connection, _: &str, _: &str) -> i32 {
        16
    }
}
macro_rules! small {
    ($($k:ty),*) => {$(
        impl Sample for $k {
            fn sample(_: &Connection, _: &str, _: &str) -> <$k as Wire>::Core {
                8
            }
        }
    )*};
}
small!(MaxCells, MaxStats, MapLen);
impl Sample for OptDoms {
    fn sample(_: &Connection, _: &str, _: &str) -> Vec<t::DomainRef> {
        Vec::new()
    }
}
impl Sample for Uuid {
    fn sample(c: &Connection, row: &str, _: &str) -> t::Uuid {
        let found = if row.contains("STORAGE") {
            c.lookup_pool_by_name("default-pool").map(|p| p.uuid)
        } else if row.contains("NETWORK") {
            c.lookup_network_by_name("default").map(|n| n.uuid)
        } else if row.contains("SECRET") {
            Ok(uuid(SECRET_UUID))
        } else {
            c.lookup_domain_by_name("test").map(|d| d.uuid)
        };
        found.unwrap_or_else(|_| uuid(UUID))
    }
}
impl Sample for Dom {
    fn sample(c: &Connection, _: &str, _: &str) -> t::DomainRef {
        c.lookup_domain_by_name("test").expect("domain test")
    }
}
impl Sample for Net {
    fn sample(c: &Connection, _: &str, _: &str) -> t::NetworkRef {
        c.lookup_network_by_name("default")
            .expect("network default")
    }
}
impl Sample for Pool {
    fn sample(c: &Connection, _: &str, _: &str) -> t::PoolRef {
        c.lookup_pool_by_name("default-pool").expect("default-pool")
    }
}
impl Sample for Vol {
    fn sample(c: &Connection, _: &str, _: &str) -> t::VolRef {
        let pool = Pool::sample(c, "", "");
        c.lookup_vol_by_name(&pool, "lb.img").expect("volume")
    }
}
impl Sample for Iface {
    fn sample(c: &Connection, _: &str, _: &str) -> t::InterfaceRef {
        c.lookup_interface_by_name("eth1").expect("eth1")
    }
}
impl Sample for r::NonnullSecret {
    fn sample(c: &Connection, _: &str, _: &str) -> t::SecretRef {
        c.lookup_secret_by_uuid(&uuid(SECRET_UUID))
            .unwrap_or(t::SecretRef {
                uuid: uuid(SECRET_UUID),
                usage_type: 1,
                usage_id: "/default-pool/lb.img".into(),
            })
    }
}
impl Sample for Snap {
    fn sample(c: &Connection, _: &str, _: &str) -> t::SnapshotRef {
        let d = Dom::sample(c, "", "");
        c.snapshot_lookup_by_name(&d, "lb", 0)
            .unwrap_or(t::SnapshotRef {
                name: "lb".into(),
                domain: d,
            })
    }
}
impl Sample for Cp {
    fn sample(c: &Connection, _: &str, _: &str) -> t::CheckpointRef {
        let d = Dom::sample(c, "", "");
        c.checkpoint_lookup_by_name(&d, "lb", 0)
            .unwrap_or(t::CheckpointRef {
                name: "lb".into(),
                domain: d,
            })
    }
}
impl Sample for DevName {
    fn sample(_: &Connection, _: &str, _: &str) -> t::NodeDevRef {
        t::NodeDevRef {
            name: "scsi_host1".into(),
        }
    }
}
impl Sample for Port {
    fn sample(c: &Connection, _: &str, _: &str) -> t::NetworkPortRef {
        let n = Net::sample(c, "", "");
        c.list_all_network_ports(&n, 0)
            .ok()
            .and_then(|v| v.into_iter().next())
            .unwrap_or(t::NetworkPortRef {
                network: n.name,
                uuid: uuid(UUID),
            })
    }
}

/// The same objects at both ends before a row runs (the test driver has
/// no secrets: their rows answer NO_SUPPORT alike).
fn setup(c: &Connection) {
    let pool = Pool::sample(c, "", "");
    let vol = "<volume><name>lb.img</name><capacity>1048576</capacity></volume>";
    c.vol_create_xml(&pool, vol, 0).expect("volume");
    let secret = format!("<secret ephemeral='no' private='no'><uuid>{SECRET_UUID}</uuid><usage type='volume'><volume>/default-pool/lb.img</volume></usage></secret>");
    let _ = c.secret_define_xml(&secret, 0);
    let d = Dom::sample(c, "", "");
    let snap = "<domainsnapshot><name>lb</name><state>running</state><creationTime>1</creationTime><memory snapshot='no'/><domain type='test'><name>test</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid><memory>8388608</memory><os><type>hvm</type></os></domain></domainsnapshot>";
    c.snapshot_create_xml(
        &d,
        snap,
        oxvirt_core::types::flags::snapshot_create::REDEFINE,
    )
    .expect("snapshot");
}

/// A result as compared: the value, or the error's code, domain and
/// message (the level and extra fields are the transport's business).
fn show<T: Debug>(r: Result<T>) -> String {
    match r {
        Ok(v) => mask_cpu_time(&format!("ok {:?}", v)),
        Err(e) => format!("error {} {} {}", e.code, e.domain, e.message),
    }
}

/// libvirt's test driver reports the time of day as a domain's CPU time
/// (virDomainGetInfo, virDomainGetVcpus): its digits are not compared.
fn mask_cpu_time(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("cpu_time: ") {
        let (head, tail) = rest.split_at(i + "cpu_time: ".len());
        out += head;
        out += "_";
        rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out + rest
}

type Call = Box<dyn Fn(&Connection) -> String>;

macro_rules! rows {
    (
        { $v:ident } $family:ident;
        $( $(#[$flag:ident])? $name:ident = $num:literal $api:literal $rw:ident $m:tt
            ( $($n:ident : $k:tt),* ) -> $ret:tt ; )*
    ) => {
        $( row!($v; $name $m ($($n: $k),*)); )*
    };
}

macro_rules! row {
    ($v:ident; $name:ident _ $($rest:tt)*) => {};
    ($v:ident; $name:ident $m:ident ($($n:ident : $k:tt),*)) => {
        $v.push((
            stringify!($name),
            Box::new(|c: &Connection| -> String {
                $(
                    let $n = <oxvirt_proto::kind!($k) as Sample>::sample(
                        c, stringify!($name), stringify!($n));
                )*
                show(c.$m($(<oxvirt_proto::kind!($k) as Wire>::param(&$n)),*))
            }) as Call,
        ));
    };
}

fn calls() -> Vec<(&'static str, Call)> {
    let mut v: Vec<(&'static str, Call)> = Vec::new();
    oxvirt_proto::hypervisor_procedures!(rows { v });
    oxvirt_proto::storage_procedures!(rows { v });
    oxvirt_proto::network_procedures!(rows { v });
    oxvirt_proto::secret_procedures!(rows { v });
    oxvirt_proto::nodedev_procedures!(rows { v });
    oxvirt_proto::interface_procedures!(rows { v });
    oxvirt_proto::nwfilter_procedures!(rows { v });
    v
}

/// Rows whose answers legitimately differ between a remote and a local
/// connection, and why.
const DIFFER: &[(&str, &str)] = &[
    // The remote driver's own answers (libvirt's remoteConnectIsSecure
    // and the URI the client opened).
    ("CONNECT_IS_SECURE", "the transport's, not the driver's"),
    ("CONNECT_GET_URI", "the client's URI names the socket"),
];

#[test]
fn every_row_through_the_daemon_equals_the_direct_call() {
    let daemon = common::Daemon::start("loopback");
    let ruri = Uri::parse(&daemon.uri()).expect("uri");
    let name = oxvirt_remote::open_name(&ruri);
    let luri = Uri::parse("test:///default").expect("uri");
    let open_both = || -> (Arc<Connection>, Arc<Connection>) {
        let remote = oxvirt_remote::open(&name, &ruri, 0).expect("remote open");
        let local = oxvirt_test_driver::open(&luri, 0).expect("local open");
        setup(&remote);
        setup(&local);
        (remote, local)
    };

    let calls = calls();
    let mut bad = Vec::new();
    let mut ok = 0;
    let mut errors = 0;
    for (row, call) in &calls {
        let (remote, local) = open_both();
        let via_daemon = call(&remote);
        let direct = call(&local);
        drop(remote);
        drop(local);
        if DIFFER.iter().any(|(r, _)| r == row) {
            continue;
        }
        if via_daemon != direct {
            bad.push(format!(
                "{row}:\n  via oxvirtd: {via_daemon}\n  direct:      {direct}"
            ));
        } else if direct.starts_with("ok") {
            ok += 1;
        } else {
            errors += 1;
        }
    }

    // Every row with a method was driven, and nothing else.
    let expected: Vec<_> = table::rows()
        .filter(|r| r.ends != Ends::Hand)
        .map(|r| r.name)
        .collect();
    let driven: Vec<_> = calls.iter().map(|(n, _)| *n).collect();
    assert_eq!(driven, expected);
    eprintln!(
        "loopback: {} rows, {} equal values, {} equal errors, {} skipped, {} differ",
        calls.len(),
        ok,
        errors,
        DIFFER.len(),
        bad.len()
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // Most rows must do something real, not just fail alike.
    assert!(ok > calls.len() / 2, "only {ok} rows answered a value");
}
