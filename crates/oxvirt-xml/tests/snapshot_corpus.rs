//! libvirt's snapshot XML test data (`domainsnapshotxml2xml.tsv`): each
//! input parsed and formatted with the row's flags must equal the
//! expected output byte for byte. Prints its figure; the floor only goes
//! up.
//!
//! `OXVIRT_SHOW=substring` prints the diff or error of matching rows.

use std::path::{Path, PathBuf};

use oxvirt_xml::domain::ParseOptions;
use oxvirt_xml::props::Uuid;
use oxvirt_xml::snapshot::{FormatFlags, ParseFlags, Snapshot, SnapshotState};

fn corpus() -> Option<PathBuf> {
    let p = match std::env::var_os("OXVIRT_SHARED") {
        Some(s) => PathBuf::from(s).join("conformance"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    };
    p.is_dir().then_some(p)
}

fn show(name: &str) -> bool {
    std::env::var("OXVIRT_SHOW").is_ok_and(|s| !s.is_empty() && name.contains(&s))
}

/// What qemudomainsnapshotxml2xmltest does for one row.
fn run(input: &str, uuid: &str, mock_time: &str, flags: &str) -> Result<String, String> {
    let internal = flags.contains("TEST_INTERNAL");
    let pf = ParseFlags {
        redefine: flags.contains("TEST_REDEFINE"),
        internal,
        offline: false,
        now: mock_time.parse::<i64>().ok().filter(|t| *t != 0),
    };
    let parsed = Snapshot::parse(input, pf, &ParseOptions::default()).map_err(|e| e.to_string())?;
    let mut def = parsed.def;
    let current = parsed.current.unwrap_or(false);
    if current && !internal {
        return Err("current without TEST_INTERNAL".into());
    }
    if flags.contains("TEST_RUNNING") {
        if def.state.is_some() {
            return Err("state already set".into());
        }
        def.state = Some(SnapshotState::Running);
    }
    let uuid = Uuid::parse(uuid);
    Ok(def.format(
        uuid.as_ref(),
        FormatFlags {
            secure: true,
            internal,
            current,
        },
    ))
}

#[test]
fn domainsnapshotxml2xml() {
    let Some(root) = corpus() else {
        eprintln!("conformance corpus not found; skipped");
        return;
    };
    let text = std::fs::read_to_string(root.join("xml/manifests/domainsnapshotxml2xml.tsv"))
        .unwrap_or_default();
    let (mut pass, mut total) = (0, 0);
    for line in text.lines().skip(1) {
        let r: Vec<&str> = line.split('\t').collect();
        if r.len() < 7 {
            continue;
        }
        total += 1;
        let label = format!("{} {}", r[0], r[1]);
        let input = std::fs::read_to_string(root.join(r[2])).unwrap_or_default();
        let expected = std::fs::read_to_string(root.join(r[3])).unwrap_or_default();
        let got = run(&input, r[4], r[5], r[6]);
        if got.as_deref() == Ok(expected.as_str()) {
            pass += 1;
        } else if show(&label) {
            match got {
                Ok(g) => eprintln!("DIFF {}\n--- expected\n{}--- got\n{}", label, expected, g),
                Err(e) => eprintln!("ERROR {}: {}", label, e),
            }
        } else {
            println!("mismatch: {}", label);
        }
    }
    println!(
        "domainsnapshotxml2xml: {}/{} formatted byte-identical ({:.1}%)",
        pass,
        total,
        100.0 * pass as f64 / total.max(1) as f64
    );
    // Floor: raise it as the model grows; never lower it.
    assert!(
        pass * 100 >= total * 100,
        "snapshot corpus fell below its floor"
    );
}
