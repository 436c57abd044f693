//! The secret driver against a real directory: persistence, modes,
//! ephemeral and private secrets, usage lookups, refusals and events.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use oxvirt_core::event::{SecretEvent, SecretEventKind};
use oxvirt_core::types::Uuid;
use oxvirt_core::SecretDriver as _;
use oxvirt_secret::{Lookup, SecretDriver};
use oxvirt_xml::secret::usage_type;

/// A temporary directory removed when the test ends, also on failure.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "oxvirt-secret-{}-{}-{}",
            tag,
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

const U1: &str = "c1f11a6d-8c5d-4a3e-ac7a-4e171c5e0d4a";

#[test]
fn persistent_secret_survives_reopen_with_private_files() {
    let t = TempDir::new("persist");
    let dir = t.0.join("secrets");
    let d = SecretDriver::open(&dir).unwrap();
    let xml = format!(
        "<secret ephemeral='no' private='no'><uuid>{U1}</uuid><description>disk key</description>\
         <usage type='volume'><volume>/var/lib/x.img</volume></usage></secret>"
    );
    let s = d.secret_define_xml(&xml, 0).unwrap();
    assert_eq!(s.usage_type, usage_type::VOLUME);
    assert_eq!(s.usage_id, "/var/lib/x.img");
    d.secret_set_value(&s, b"s3cr\x00t", 0).unwrap();
    assert_eq!(d.secret_get_value(&s, 0).unwrap(), b"s3cr\x00t");
    assert_eq!(
        files(&dir),
        vec![format!("{U1}.base64"), format!("{U1}.xml")]
    );
    for f in files(&dir) {
        let m = std::fs::metadata(dir.join(&f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(m, 0o600, "{}", f);
    }
    let m = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(m, 0o700);
    drop(d);
    let d = SecretDriver::open(&dir).unwrap();
    let s2 = d
        .lookup_secret_by_usage(usage_type::VOLUME, "/var/lib/x.img")
        .unwrap();
    assert_eq!(s2, s);
    assert_eq!(d.secret_get_value(&s2, 0).unwrap(), b"s3cr\x00t");
    assert_eq!(
        d.secret_get_xml_desc(&s2, 0).unwrap(),
        format!(
            "<secret ephemeral='no' private='no'>\n  <uuid>{U1}</uuid>\n  <description>disk key</description>\n  <usage type='volume'>\n    <volume>/var/lib/x.img</volume>\n  </usage>\n</secret>\n"
        )
    );
    d.secret_undefine(&s2).unwrap();
    assert!(files(&dir).is_empty());
    let e = d.lookup_secret_by_uuid(&s.uuid).unwrap_err();
    assert_eq!(
        e.message,
        format!("Secret not found: no secret with matching uuid '{U1}'")
    );
    assert_eq!(e.code, 66);
}

#[test]
fn ephemeral_and_private_secrets() {
    let t = TempDir::new("flags");
    let d = SecretDriver::open(&t.0).unwrap();
    let eph = d
        .secret_define_xml(
            "<secret ephemeral='yes' private='no'><usage type='ceph'><name>client.admin</name></usage></secret>",
            0,
        )
        .unwrap();
    d.secret_set_value(&eph, b"k", 0).unwrap();
    assert!(
        files(&t.0).is_empty(),
        "ephemeral secrets never touch the disk"
    );
    let prv = d
        .secret_define_xml(
            "<secret ephemeral='no' private='yes'><usage type='tls'><name>tls0</name></usage></secret>",
            0,
        )
        .unwrap();
    d.secret_set_value(&prv, b"hidden", 0).unwrap();
    let e = d.secret_get_value(&prv, 0).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (65, "Invalid secret: secret is private")
    );
    // Drivers inside the daemon read it.
    let v = d
        .secret_value_internal(&Lookup::Usage("tls0".into()), usage_type::TLS)
        .unwrap();
    assert_eq!(&v[..], b"hidden");
    let e = d
        .secret_value_internal(&Lookup::Uuid(prv.uuid), usage_type::VOLUME)
        .unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "invalid argument: secret with uuid {} is of type 'tls' not expected 'volume' type",
            prv.uuid
        )
    );
    // The private flag cannot be dropped.
    let e = d
        .secret_define_xml(
            &format!(
                "<secret private='no'><uuid>{}</uuid><usage type='tls'><name>tls0</name></usage></secret>",
                prv.uuid
            ),
            0,
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        "internal error: cannot change private flag on existing secret"
    );
    // Listing filters.
    assert_eq!(d.list_all_secrets(0).unwrap().len(), 2);
    assert_eq!(d.list_all_secrets(1).unwrap(), vec![eph.clone()]);
    assert_eq!(d.list_all_secrets(2).unwrap(), vec![prv.clone()]);
    assert_eq!(d.list_all_secrets(4).unwrap(), vec![prv.clone()]);
    assert_eq!(d.list_all_secrets(8).unwrap(), vec![eph.clone()]);
    assert_eq!(d.list_all_secrets(1 | 4).unwrap(), vec![]);
    // Making the ephemeral secret persistent writes it and its value.
    d.secret_define_xml(
        &format!(
            "<secret ephemeral='no'><uuid>{}</uuid><usage type='ceph'><name>client.admin</name></usage></secret>",
            eph.uuid
        ),
        0,
    )
    .unwrap();
    assert!(files(&t.0).contains(&format!("{}.base64", eph.uuid)));
    // And back: the files go.
    d.secret_define_xml(
        &format!(
            "<secret ephemeral='yes'><uuid>{}</uuid><usage type='ceph'><name>client.admin</name></usage></secret>",
            eph.uuid
        ),
        0,
    )
    .unwrap();
    assert!(!files(&t.0)
        .iter()
        .any(|f| f.starts_with(&eph.uuid.to_string())));
    assert_eq!(d.secret_get_value(&eph, 0).unwrap(), b"k");
}

#[test]
fn usage_types_lookups_and_conflicts() {
    let t = TempDir::new("usage");
    let d = SecretDriver::open(&t.0).unwrap();
    let mut made = Vec::new();
    for (ty, child, id) in [
        (usage_type::VOLUME, "volume", "/p/v.img"),
        (usage_type::CEPH, "name", "ceph-user"),
        (usage_type::ISCSI, "target", "iqn.2024-01.org:t"),
        (usage_type::TLS, "name", "tls-x"),
        (usage_type::VTPM, "name", "vtpm-y"),
    ] {
        let name = oxvirt_xml::secret::usage_name(ty).unwrap();
        let s = d
            .secret_define_xml(
                &format!("<secret><usage type='{name}'><{child}>{id}</{child}></usage></secret>"),
                0,
            )
            .unwrap();
        assert_eq!(d.lookup_secret_by_usage(ty, id).unwrap(), s);
        made.push(s);
    }
    let e = d
        .lookup_secret_by_usage(usage_type::CEPH, "/p/v.img")
        .unwrap_err();
    assert_eq!(
        e.message,
        "Secret not found: no secret with matching usage '/p/v.img'"
    );
    // Same usage under another UUID.
    let e = d
        .secret_define_xml(
            "<secret><usage type='volume'><volume>/p/v.img</volume></usage></secret>",
            0,
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "internal error: a secret with UUID {} already defined for use with /p/v.img",
            made[0].uuid
        )
    );
    // Same UUID for another usage.
    let e = d
        .secret_define_xml(
            &format!(
                "<secret><uuid>{}</uuid><usage type='volume'><volume>/other</volume></usage></secret>",
                made[0].uuid
            ),
            0,
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "internal error: a secret with UUID {} is already defined for use with /p/v.img",
            made[0].uuid
        )
    );
    let e = d.secret_get_value(&made[1], 0).unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "Secret not found: secret '{}' does not have a value",
            made[1].uuid
        )
    );
    let e = d.secret_define_xml("<secret", 0).unwrap_err();
    assert_eq!(e.code, 35);
    let e = d.list_all_secrets(16).unwrap_err();
    assert_eq!(e.code, 8);
    assert_eq!(d.list_all_secrets(0).unwrap().len(), 5);
    // Secrets without a usage never conflict.
    d.secret_define_xml("<secret/>", 0).unwrap();
    d.secret_define_xml("<secret/>", 0).unwrap();
    assert_eq!(d.list_all_secrets(0).unwrap().len(), 7);
}

#[test]
fn events_for_define_value_and_undefine() {
    let t = TempDir::new("events");
    let d = SecretDriver::open(&t.0).unwrap();
    let seen: Arc<Mutex<Vec<(String, SecretEventKind)>>> = Arc::default();
    let s2 = seen.clone();
    let cb: oxvirt_core::event::SecretEventCallback = Arc::new(move |e: &SecretEvent| {
        s2.lock()
            .unwrap()
            .push((e.secret.uuid.to_string(), e.kind.clone()))
    });
    let id0 = d.secret_event_register(None, 0, cb.clone()).unwrap();
    let id1 = d.secret_event_register(None, 1, cb).unwrap();
    let s = d
        .secret_define_xml(&format!("<secret><uuid>{U1}</uuid></secret>"), 0)
        .unwrap();
    d.secret_set_value(&s, b"v", 0).unwrap();
    d.secret_undefine(&s).unwrap();
    d.secret_event_deregister(id0).unwrap();
    d.secret_event_deregister(id1).unwrap();
    assert!(d.secret_event_deregister(id1).is_err());
    let got = seen.lock().unwrap().clone();
    assert_eq!(
        got,
        vec![
            (
                U1.to_string(),
                SecretEventKind::Lifecycle {
                    event: 0,
                    detail: 0
                }
            ),
            (U1.to_string(), SecretEventKind::ValueChanged),
            (
                U1.to_string(),
                SecretEventKind::Lifecycle {
                    event: 1,
                    detail: 0
                }
            ),
        ]
    );
    let _ = Uuid::parse(U1);
}

#[test]
fn damaged_files_are_skipped_at_start() {
    let t = TempDir::new("damaged");
    std::fs::write(t.0.join("garbage.xml"), "<secret").unwrap();
    std::fs::write(
        t.0.join("00000000-0000-0000-0000-000000000001.xml"),
        format!("<secret><uuid>{U1}</uuid></secret>"),
    )
    .unwrap();
    std::fs::write(t.0.join(".x.xml.tmp1.0"), "half").unwrap();
    let d = SecretDriver::open(&t.0).unwrap();
    assert!(d.list_all_secrets(0).unwrap().is_empty());
    assert!(!t.0.join(".x.xml.tmp1.0").exists());
}
