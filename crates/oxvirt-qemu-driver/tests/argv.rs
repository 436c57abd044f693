//! Golden tests: each `tests/data/NAME.xml` turns into `NAME.args` (one
//! argument per line) or fails with the message in `NAME.err`.
//! `UPDATE_GOLDEN=1 cargo test` rewrites the expectations.

use std::path::Path;

use oxvirt_qemu_driver::command::{build, CommandContext};
use oxvirt_xml::domain::{Domain, ParseFlags, ParseOptions};

#[test]
fn xml_to_argv_golden() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    names.sort();
    assert!(names.len() >= 5);
    let mut failures = Vec::new();
    for xml_path in names {
        let xml = std::fs::read_to_string(&xml_path).unwrap();
        let opts = ParseOptions {
            default_arch: Some("x86_64".into()),
        };
        let flags = ParseFlags {
            inactive: true,
            ..Default::default()
        };
        let def = Domain::parse(&xml, flags, &opts).unwrap();
        let ctx = CommandContext {
            qmp_fd: None,
            qmp_path: "/run/oxvirt/qemu/run/test.qmp".into(),
            vnc_port: Some(5901),
            incoming: None,
            // Taps the daemon would have made, as libvirt's tests fake
            // their descriptors.
            nics: def
                .devices
                .interfaces
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    oxvirt_qemu_driver::nic::uses_tap(&n.net_type).then(|| {
                        oxvirt_qemu_driver::nic::NicFds {
                            taps: vec![30 + 2 * i as i32],
                            vhosts: if n.model.as_deref() == Some("virtio") {
                                vec![31 + 2 * i as i32]
                            } else {
                                vec![]
                            },
                        }
                    })
                })
                .collect(),
        };
        let (got, ext) = match build(&def, &ctx) {
            Ok(argv) => (argv.join("\n") + "\n", "args"),
            Err(e) => (e.message + "\n", "err"),
        };
        let want_path = xml_path.with_extension(ext);
        if update {
            std::fs::write(&want_path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&want_path).unwrap_or_default();
        if want != got {
            failures.push(format!(
                "{}: expected\n{}\ngot\n{}",
                want_path.display(),
                want,
                got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
