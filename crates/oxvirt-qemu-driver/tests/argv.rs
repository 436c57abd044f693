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
