//! Golden tests: each `tests/data/NAME.xml`, defined as the driver
//! defines it, turns into `NAME.args` (one argument per line, the command
//! line a start uses: QMP on fd 3, taps the daemon made) or fails with
//! the message in `NAME.err`. `UPDATE_GOLDEN=1 cargo test` rewrites the
//! expectations. libvirt's own test data is compared in
//! argv_reference.rs.

use std::path::Path;

use oxvirt_qemu_driver::command::{build, CommandContext};
use oxvirt_qemu_driver::define::{self, Context, Paths};
use oxvirt_qemu_driver::host::QemuHost;

#[test]
fn xml_to_argv_golden() {
    if !Path::new("/usr/bin/qemu-system-x86_64").exists() {
        eprintln!("qemu-system-x86_64 not installed; skipped");
        return;
    }
    let cache = std::env::temp_dir().join(format!("oxvirt-golden-{}", std::process::id()));
    let host = QemuHost::probe(&cache);
    let paths = Paths::libvirt_system();
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
        let dctx = Context {
            host: &host,
            abi_update: true,
            paths: &paths,
        };
        let def = match define::parse(&xml, &dctx) {
            Ok(d) => d,
            Err(e) => {
                check(&xml_path, "err", e.message + "\n", update, &mut failures);
                continue;
            }
        };
        let ctx = CommandContext {
            qmp_fd: Some(3),
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
            caps: def
                .devices
                .emulator
                .as_deref()
                .and_then(|e| host.caps_of(e).ok()),
            ..Default::default()
        };
        let (got, ext) = match build(&def, &ctx) {
            Ok(argv) => (argv.join("\n") + "\n", "args"),
            Err(e) => (e.message + "\n", "err"),
        };
        check(&xml_path, ext, got, update, &mut failures);
    }
    let _ = std::fs::remove_dir_all(&cache);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn check(xml_path: &Path, ext: &str, got: String, update: bool, failures: &mut Vec<String>) {
    let want_path = xml_path.with_extension(ext);
    if update {
        for other in ["args", "err"] {
            let _ = std::fs::remove_file(xml_path.with_extension(other));
        }
        std::fs::write(&want_path, &got).unwrap();
        return;
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
