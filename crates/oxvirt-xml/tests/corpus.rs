//! Data-driven checks of the domain model against libvirt's own test data
//! (`../shared/conformance/xml`). Each check prints its figures; the
//! asserted floors only ever go up.
//!
//! `OXVIRT_SHOW=substring` prints the diff or error of matching documents.

use std::path::{Path, PathBuf};

use oxvirt_xml::domain::{Domain, FormatFlags, ParseFlags, ParseOptions};

fn corpus() -> Option<PathBuf> {
    let p = match std::env::var_os("OXVIRT_SHARED") {
        Some(s) => PathBuf::from(s).join("conformance"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    };
    p.is_dir().then_some(p)
}

fn rows(manifest: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(manifest).unwrap_or_default();
    text.lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn show(name: &str) -> bool {
    std::env::var("OXVIRT_SHOW").is_ok_and(|s| !s.is_empty() && name.contains(&s))
}

use oxvirt_xml::diff::line_diff as diff;

/// The test driver's view of a definition: parsed inactive with i686 as the
/// default architecture, namespaced extensions dropped, every interface
/// without a target named testnetN (the test driver's `prepare_def`).
pub fn testdriver_roundtrip(xml: &str) -> Result<String, String> {
    let opts = ParseOptions {
        default_arch: Some("i686".into()),
    };
    let flags = ParseFlags {
        inactive: true,
        ..Default::default()
    };
    let mut def = Domain::parse(xml, flags, &opts).map_err(|e| e.to_string())?;
    def.drop_extensions();
    let mut n = 0;
    for i in 0..def.devices.interfaces.len() {
        if def.devices.interfaces[i].target_dev.is_none() {
            loop {
                let name = format!("testnet{}", n);
                n += 1;
                if !def
                    .devices
                    .interfaces
                    .iter()
                    .any(|x| x.target_dev.as_deref() == Some(&name))
                {
                    def.devices.interfaces[i].target_dev = Some(name);
                    break;
                }
            }
        }
    }
    Ok(def.format(FormatFlags {
        inactive: true,
        ..Default::default()
    }))
}

#[test]
fn testdriver_results_domains() {
    let Some(root) = corpus() else {
        eprintln!("conformance corpus not found; skipped");
        return;
    };
    let (mut ok, mut ok_total, mut err, mut err_total) = (0, 0, 0, 0);
    let mut by_set: std::collections::BTreeMap<String, (u32, u32)> = Default::default();
    for r in rows(&root.join("xml/manifests/testdriver_results.tsv")) {
        if r.len() < 4 || r[0] != "domain" {
            continue;
        }
        let input = std::fs::read_to_string(root.join(&r[1])).unwrap_or_default();
        let set = r[1].split('/').nth(1).unwrap_or("").to_string();
        let got = testdriver_roundtrip(&input);
        let entry = by_set.entry(set).or_default();
        entry.1 += 1;
        if r[2] == "ok" {
            ok_total += 1;
            let expected = std::fs::read_to_string(root.join(&r[3])).unwrap_or_default();
            let pass = got.as_deref() == Ok(expected.as_str());
            if pass {
                ok += 1;
                entry.0 += 1;
            } else if show(&r[1]) {
                match &got {
                    Ok(g) => eprintln!("DIFF {}\n{}", r[1], diff(&expected, g)),
                    Err(e) => eprintln!("ERROR {}: {}", r[1], e),
                }
            }
        } else {
            err_total += 1;
            let msg = r.get(4).cloned().unwrap_or_default();
            let pass = got.as_ref().err() == Some(&msg);
            if pass {
                err += 1;
                entry.0 += 1;
            } else if show(&r[1]) {
                eprintln!(
                    "WANT ERROR {}: {}\n got: {:?}",
                    r[1],
                    msg,
                    got.as_ref().map(|_| "ok")
                );
            }
        }
    }
    for (set, (p, t)) in &by_set {
        println!("testdriver domain {:<24} {:>5}/{:<5}", set, p, t);
    }
    println!(
        "testdriver domains: {}/{} formatted byte-identical ({:.1}%), {}/{} rejected with libvirt's message ({:.1}%)",
        ok,
        ok_total,
        100.0 * ok as f64 / ok_total.max(1) as f64,
        err,
        err_total,
        100.0 * err as f64 / err_total.max(1) as f64
    );
    // Floors: raise them as the model grows; never lower them.
    assert!(
        ok * 100 >= ok_total * 99,
        "domain round-trip fell below its floor"
    );
    assert!(
        err * 100 >= err_total * 100,
        "domain rejections fell below their floor"
    );
}

#[test]
fn genericxml2xml() {
    let Some(root) = corpus() else {
        return;
    };
    let (mut pass, mut total, mut fail_ok, mut fail_total) = (0, 0, 0, 0);
    for r in rows(&root.join("xml/manifests/genericxml2xml.tsv")) {
        if r.len() < 5 {
            continue;
        }
        let input = std::fs::read_to_string(root.join(&r[1])).unwrap_or_default();
        let inactive = r[3] == "inactive";
        let flags = ParseFlags {
            inactive,
            ..Default::default()
        };
        // genericxml2xmltest.c parses with an x86_64 host capability.
        let opts = ParseOptions {
            default_arch: Some("x86_64".into()),
        };
        let got = Domain::parse(&input, flags, &opts);
        if r[4] == "success" {
            total += 1;
            let expected = std::fs::read_to_string(root.join(&r[2])).unwrap_or_default();
            let out = got.as_ref().map(|d| {
                d.format(FormatFlags {
                    inactive,
                    secure: true,
                    ..Default::default()
                })
            });
            if out.as_deref() == Ok(expected.as_str()) {
                pass += 1;
            } else if show(&r[0]) {
                match out {
                    Ok(o) => eprintln!("DIFF {}\n{}", r[0], diff(&expected, &o)),
                    Err(e) => eprintln!("ERROR {}: {}", r[0], e),
                }
            }
        } else {
            fail_total += 1;
            if got.is_err() {
                fail_ok += 1;
            } else if show(&r[0]) {
                eprintln!("SHOULD FAIL {}", r[0]);
            }
        }
    }
    println!(
        "genericxml2xml: {}/{} byte-identical, {}/{} must-fail rejected",
        pass, total, fail_ok, fail_total
    );
    // Floors: every row, and every must-fail row refused.
    assert_eq!(
        pass, total,
        "genericxml2xml round-trip fell below its floor"
    );
    assert_eq!(
        fail_ok, fail_total,
        "a must-fail generic document was accepted"
    );
}
