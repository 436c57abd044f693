//! Every document oxvirt formats validates against libvirt's RelaxNG
//! schemas: each corpus input that our models accept is formatted and the
//! output is validated (domains, networks and storage pools).

use std::path::{Path, PathBuf};

use oxvirt_xml::domain::{Domain, FormatFlags, ParseFlags, ParseOptions};
use oxvirt_xml::network::Network;
use oxvirt_xml::snapshot::{self, Snapshot};
use oxvirt_xml::storage::{Pool, VolParseFlags, Volume};

fn corpus() -> Option<PathBuf> {
    let p = match std::env::var_os("OXVIRT_SHARED") {
        Some(s) => PathBuf::from(s).join("conformance"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    };
    p.is_dir().then_some(p)
}

/// Inputs named in column `col` of a manifest's rows, skipping rows whose
/// text contains `skip` (documents libvirt itself refuses).
fn inputs(root: &Path, manifest: &str, col: usize, skip: &str) -> Vec<PathBuf> {
    let text =
        std::fs::read_to_string(root.join("xml/manifests").join(manifest)).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter(|l| skip.is_empty() || !l.split('\t').any(|c| c == skip))
        .filter_map(|l| l.split('\t').nth(col))
        .map(|p| root.join(p))
        .collect()
}

/// What the real libvirt test driver wrote for input `p`, if anything.
fn libvirt_result(root: &Path, p: &Path) -> Option<String> {
    let rel = p.strip_prefix(root).ok()?.to_str()?.strip_prefix("xml/")?;
    std::fs::read_to_string(root.join("xml/testdriver-results/domain").join(rel)).ok()
}

fn check(kind: &str, docs: Vec<String>) -> (usize, Vec<String>) {
    let mut bad = Vec::new();
    for d in &docs {
        if let Err(e) = oxvirt_schema::validate(d, kind) {
            bad.push(format!("{}\n{}", e, d));
        }
    }
    (docs.len(), bad)
}

#[test]
fn formatted_documents_validate() {
    let Some(root) = corpus() else {
        eprintln!("conformance corpus not found; skipped");
        return;
    };
    std::env::set_var("OXVIRT_SCHEMA_DIR", root.join("schemas"));
    let opts = ParseOptions {
        default_arch: Some("i686".into()),
    };
    let flags = ParseFlags {
        inactive: true,
        ..Default::default()
    };
    let domains: Vec<String> = inputs(&root, "testdriver_results.tsv", 1, "error")
        .iter()
        // libvirt itself writes a few documents its schema refuses (the
        // corpus's *-invalid inputs it accepts); those are not ours to fix.
        .filter(|p| {
            let libvirt_out = libvirt_result(&root, p);
            libvirt_out.is_none_or(|x| oxvirt_schema::validate(&x, "domain").is_ok())
        })
        .filter_map(|p| Some((p, std::fs::read_to_string(p).ok()?)))
        .filter_map(|(p, x)| Some((p, Domain::parse(&x, flags, &opts).ok()?)))
        .map(|(p, d)| {
            let out = d.format(FormatFlags {
                inactive: true,
                ..Default::default()
            });
            format!("<!-- {} -->\n{}", p.display(), out)
        })
        .collect();
    let networks: Vec<String> = inputs(&root, "networkxml2xml.tsv", 2, "")
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|x| Network::parse(&x).ok())
        .map(|n| n.format(false))
        .collect();
    let pools: Vec<String> = inputs(&root, "storagepoolxml2xml.tsv", 2, "")
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|x| Pool::parse(&x).ok())
        .map(|p| p.format())
        .collect();
    let vol_rows = std::fs::read_to_string(root.join("xml/manifests/storagevolxml2xml.tsv"))
        .unwrap_or_default();
    let volumes: Vec<String> = vol_rows
        .lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let pool_xml = std::fs::read_to_string(root.join(c.get(1)?)).ok()?;
            let pool = Pool::parse(&pool_xml).ok()?;
            let x = std::fs::read_to_string(root.join(c.get(2)?)).ok()?;
            let v = Volume::parse(&x, pool.kind, VolParseFlags::default()).ok()?;
            Some(v.format())
        })
        .collect();
    let snap_rows = std::fs::read_to_string(root.join("xml/manifests/domainsnapshotxml2xml.tsv"))
        .unwrap_or_default();
    let snapshots: Vec<String> = snap_rows
        .lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let x = std::fs::read_to_string(root.join(c.get(2)?)).ok()?;
            let flags = c.get(6).copied().unwrap_or("");
            let pf = snapshot::ParseFlags {
                redefine: flags.contains("TEST_REDEFINE"),
                internal: flags.contains("TEST_INTERNAL"),
                offline: false,
                now: Some(1),
            };
            let parsed = Snapshot::parse(&x, pf, &ParseOptions::default()).ok()?;
            Some(parsed.def.format(None, snapshot::FormatFlags::default()))
        })
        .collect();
    let mut failures = Vec::new();
    for (kind, docs) in [
        ("domain", domains),
        ("network", networks),
        ("storagepool", pools),
        ("storagevol", volumes),
        ("domainsnapshot", snapshots),
    ] {
        let (n, bad) = check(kind, docs);
        println!(
            "{}: {}/{} formatted documents validate",
            kind,
            n - bad.len(),
            n
        );
        failures.extend(bad);
    }
    for f in &failures {
        let name = f.lines().find(|l| l.starts_with("<!--")).unwrap_or("");
        let why: Vec<&str> = f.lines().skip(1).take(2).collect();
        eprintln!("INVALID {} {}", name, why.join(" | "));
    }
    assert!(
        failures.is_empty(),
        "{} formatted documents do not validate",
        failures.len()
    );
}
