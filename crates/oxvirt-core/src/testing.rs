//! Helpers for tests of driver crates (feature `testing`).

use std::collections::BTreeSet;
use std::path::Path;

/// Checks a crate's module layering: `order` lists every module of
/// `src_dir` (a file `NAME.rs` or a folder `NAME/`) from the bottom up,
/// and a module may name only modules below it (`crate::NAME` in a `use`
/// line or a path, `use crate::{NAME, ...}` groups included). `lib.rs`
/// is the top and is not checked. Returns one line per violation (a
/// module naming itself or one at its level or above, or a module missing
/// from `order` or listed but absent).
pub fn layer_violations(src_dir: &Path, order: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let rank = |m: &str| order.iter().position(|o| *o == m);
    let mut present = BTreeSet::new();
    let entries = match std::fs::read_dir(src_dir) {
        Ok(e) => e,
        Err(e) => return vec![format!("{}: {}", src_dir.display(), e)],
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let module = match name.strip_suffix(".rs") {
            Some("lib") => continue,
            Some(m) => m.to_string(),
            None if path.is_dir() => name.clone(),
            None => continue,
        };
        present.insert(module.clone());
        let Some(me) = rank(&module) else {
            out.push(format!("{}: not in the layer order", module));
            continue;
        };
        let files: Vec<_> = if path.is_dir() {
            std::fs::read_dir(&path)
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default()
        } else {
            vec![path]
        };
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            for (n, line) in text.lines().enumerate() {
                for used in crate_refs(line) {
                    match rank(&used) {
                        Some(r) if r < me => {}
                        _ => out.push(format!(
                            "{}:{}: {} names {} (not below it)",
                            f.display(),
                            n + 1,
                            module,
                            used
                        )),
                    }
                }
            }
        }
    }
    for m in order {
        if !present.contains(*m) {
            out.push(format!("{}: listed but absent", m));
        }
    }
    out
}

/// The modules a line names through `crate::`.
fn crate_refs(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or("");
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let m: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if is_module(&m) {
                    out.push(m);
                }
            }
        } else {
            let m: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `crate::name::` or `crate::name;`/`,`: a module; `crate::Item`
            // (an item of lib.rs) is not.
            if is_module(&m) {
                out.push(m);
            }
        }
    }
    out
}

/// Module names are lower case; `self` and items of lib.rs in capitals
/// (constants, types) are not modules.
fn is_module(m: &str) -> bool {
    !m.is_empty()
        && m != "self"
        && m.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::crate_refs;

    #[test]
    fn finds_the_modules_a_line_names() {
        assert_eq!(crate_refs("use crate::state::{Driver, FROM};"), ["state"]);
        assert_eq!(
            crate_refs("use crate::{caps, store::Layout};"),
            ["caps", "store"]
        );
        assert_eq!(
            crate_refs("    let x = crate::FROM + crate::a::b(); // crate::c"),
            ["a"]
        );
    }
}
