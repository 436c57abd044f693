//! Data-driven checks of the network, storage pool and storage volume
//! models against libvirt's own test data (`../shared/conformance/xml`):
//! every manifest row is parsed and formatted and compared byte for byte
//! with libvirt's expected output; must-fail rows must be refused.
//! Each set prints its figures; the asserted floors only ever go up.
//!
//! `OXVIRT_SHOW=substring` prints the diff or error of matching rows.

use std::path::{Path, PathBuf};

use oxvirt_xml::network::Network;
use oxvirt_xml::storage::{Pool, VolParseFlags, Volume};

fn corpus() -> Option<PathBuf> {
    let p = match std::env::var_os("OXVIRT_SHARED") {
        Some(s) => PathBuf::from(s).join("conformance"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    };
    p.is_dir().then_some(p)
}

/// Manifest rows as maps from column name to value.
fn rows(manifest: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(manifest).unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split('\t')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split('\t').map(str::to_string))
                .collect()
        })
        .collect()
}

fn show(name: &str) -> bool {
    std::env::var("OXVIRT_SHOW").is_ok_and(|s| !s.is_empty() && name.contains(&s))
}

use oxvirt_xml::diff::line_diff as diff;

/// Figures of one set: (identical, to format, refused, to refuse).
#[derive(Default)]
struct Figures(u32, u32, u32, u32);

impl Figures {
    fn check(&mut self, name: &str, expected: Option<String>, got: Result<String, String>) {
        match expected {
            Some(exp) => {
                self.1 += 1;
                if got.as_deref() == Ok(exp.as_str()) {
                    self.0 += 1;
                } else if show(name) {
                    match got {
                        Ok(g) => eprintln!("DIFF {}\n{}", name, diff(&exp, &g)),
                        Err(e) => eprintln!("ERROR {}: {}", name, e),
                    }
                }
            }
            None => {
                self.3 += 1;
                if got.is_err() {
                    self.2 += 1;
                } else if show(name) {
                    eprintln!("SHOULD FAIL {}", name);
                }
            }
        }
    }

    fn report(&self, set: &str) -> f64 {
        let pct = 100.0 * self.0 as f64 / self.1.max(1) as f64;
        println!(
            "{}: {}/{} byte-identical ({:.1}%), {}/{} must-fail rejected",
            set, self.0, self.1, pct, self.2, self.3
        );
        pct
    }
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_default()
}

#[test]
fn networkxml2xml() {
    let Some(root) = corpus() else {
        eprintln!("conformance corpus not found; skipped");
        return;
    };
    let mut f = Figures::default();
    for r in rows(&root.join("xml/manifests/networkxml2xml.tsv")) {
        let input = read(&root, &r["input"]);
        let inactive = r["format_flags"].contains("VIR_NETWORK_XML_INACTIVE");
        let got = Network::parse(&input)
            .map(|n| n.format(inactive))
            .map_err(|e| e.to_string());
        let expected = (r["expect"] == "success").then(|| read(&root, &r["expected_output"]));
        f.check(&r["name"], expected, got);
    }
    f.report("networkxml2xml");
    // Floors: raise them as the model grows; never lower them.
    assert_eq!(f.0, f.1, "network round-trip fell below its floor");
    assert_eq!(f.2, f.3, "a must-fail network was accepted");
}

#[test]
fn storagepoolxml2xml() {
    let Some(root) = corpus() else {
        return;
    };
    let mut f = Figures::default();
    for r in rows(&root.join("xml/manifests/storagepoolxml2xml.tsv")) {
        let input = read(&root, &r["input"]);
        let got = Pool::parse(&input)
            .map(|p| p.format())
            .map_err(|e| e.to_string());
        f.check(&r["name"], Some(read(&root, &r["expected_output"])), got);
    }
    f.report("storagepoolxml2xml");
    assert_eq!(f.0, f.1, "pool round-trip fell below its floor");
}

#[test]
fn storagevolxml2xml() {
    let Some(root) = corpus() else {
        return;
    };
    let mut f = Figures::default();
    for r in rows(&root.join("xml/manifests/storagevolxml2xml.tsv")) {
        let pool = match Pool::parse(&read(&root, &r["pool_xml"])) {
            Ok(p) => p,
            Err(e) => {
                f.check(&r["name"], Some(String::new()), Err(e.to_string()));
                continue;
            }
        };
        let flags = VolParseFlags {
            no_capacity: r["parse_flags"].contains("VIR_VOL_XML_PARSE_NO_CAPACITY"),
            opt_capacity: r["parse_flags"].contains("VIR_VOL_XML_PARSE_OPT_CAPACITY"),
        };
        let input = read(&root, &r["input"]);
        let got = Volume::parse(&input, pool.kind, flags)
            .map(|v| v.format())
            .map_err(|e| e.to_string());
        f.check(&r["name"], Some(read(&root, &r["expected_output"])), got);
    }
    f.report("storagevolxml2xml");
    assert_eq!(f.0, f.1, "volume round-trip fell below its floor");
}
