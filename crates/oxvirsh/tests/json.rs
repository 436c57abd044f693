//! `--json`: every command of `tests/json.cmds` runs twice on the same
//! embedded test:///default state, once as virsh prints it and once as
//! JSON; the JSON must parse, and each of its values must equal the
//! corresponding field of the text (table cells by column, key/value
//! lines in order, the line formats of the few commands that print
//! neither). Also: the binary's `--json`/`-o json`, and errors.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use oxvirsh::ctl::Ctl;
use serde_json::Value;

fn no_open(_: &str, _: bool) -> oxvirt_core::Result<std::sync::Arc<oxvirt_core::Connection>> {
    unreachable!("the test hands the shell its connection")
}

struct Shell {
    ctl: Ctl,
}

impl Shell {
    fn new() -> Shell {
        let uri = oxvirt_core::uri::Uri::parse("test:///default").expect("uri");
        let conn = oxvirt_test_driver::open(&uri, 0).expect("open test:///default");
        let mut ctl = Ctl::new(no_open);
        ctl.conn = Some(conn);
        Shell { ctl }
    }

    /// Runs one line; returns (stdout, success).
    fn run(&mut self, line: &str, json: bool) -> (String, bool) {
        self.ctl.json = json;
        self.ctl.capture = Some(Mutex::new(String::new()));
        let cmds = oxvirsh::parse::parse_string(line).expect("parses");
        let ok = oxvirsh::run(&mut self.ctl, &cmds);
        let out = self
            .ctl
            .capture
            .take()
            .map(|m| m.into_inner().unwrap_or_default())
            .unwrap_or_default();
        (out, ok)
    }
}

/// virsh's vshPrettyCapacity with `decimals` places.
fn pretty(v: u64, decimals: usize) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut i = 0;
    while i < 6 && v >= 1u64 << (10 * (i + 1)) {
        i += 1;
    }
    format!(
        "{:.*} {}",
        decimals,
        v as f64 / (1u64 << (10 * i)) as f64,
        UNITS[i]
    )
}

/// Numbers the test driver derives from the clock: compared to one part
/// in 10^6 (the two runs are microseconds apart).
static TOLERANT: AtomicBool = AtomicBool::new(false);

fn close(n: &serde_json::Number, text: &str) -> bool {
    let (Some(a), Ok(b)) = (n.as_f64(), text.trim_end_matches('s').parse::<f64>()) else {
        return false;
    };
    (a - b).abs() <= a.abs().max(b.abs()) * 1e-6 + 0.1
}

/// Whether a JSON value is what `text` shows for the field `key`.
fn same(key: &str, v: &Value, text: &str) -> bool {
    let text = text.trim();
    if let (Value::Number(n), true) = (v, TOLERANT.load(Ordering::Relaxed)) {
        if key.ends_with("_ns") {
            let ns = serde_json::Number::from_f64(n.as_f64().unwrap_or(0.0) / 1e9);
            return ns.is_some_and(|ns| close(&ns, text));
        }
        if close(n, text) {
            return true;
        }
    }
    match v {
        Value::Null => ["-", "", "unknown", "no autostart", "no limit"].contains(&text),
        Value::Bool(b) => {
            let words: &[&str] = if *b {
                &["yes", "enable"]
            } else {
                &["no", "disable"]
            };
            words.contains(&text)
        }
        Value::String(s) => text == s || text.starts_with(&format!("{} (", s)),
        Value::Number(n) => {
            let squeeze = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let n_str = n.to_string();
            if key.ends_with("_ns") {
                let v = n.as_f64().unwrap_or(-1.0);
                return text == format!("{:.1}s", v / 1e9);
            }
            let Some(u) = n.as_u64() else {
                return text == n_str;
            };
            if key.ends_with("_kib") {
                return text == format!("{} KiB", u);
            }
            if key.ends_with("_mhz") {
                return text == format!("{} MHz", u);
            }
            if key.ends_with("_ms") {
                return squeeze == format!("{} ms", u);
            }
            if key.ends_with("_bytes") {
                return squeeze == n_str
                    || squeeze == format!("{} bytes", u)
                    || text == pretty(u, 2)
                    || text == pretty(u, 3);
            }
            squeeze == n_str
        }
        _ => false,
    }
}

/// The keys of objects at `indent` in the document, in the order it
/// writes them (serde_json's map is sorted; the order of the fields is
/// part of what is checked against the text).
fn key_order(raw: &str, indent: usize) -> Vec<String> {
    let pad = " ".repeat(indent);
    let mut keys: Vec<String> = Vec::new();
    for l in raw.lines() {
        if let Some(rest) = l.strip_prefix(&pad) {
            if rest.starts_with('"') {
                let k: String =
                    serde_json::from_str(&rest[..rest.find("\": ").map_or(0, |i| i + 1)])
                        .unwrap_or_default();
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
    }
    keys
}

thread_local! {
    static RAW: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// An object's fields in the document's order.
fn fields(o: &serde_json::Map<String, Value>, indent: usize) -> Vec<(&String, &Value)> {
    let order = RAW.with(|r| key_order(&r.borrow(), indent));
    let mut v: Vec<(&String, &Value)> = o.iter().collect();
    v.sort_by_key(|(k, _)| order.iter().position(|o| o == *k).unwrap_or(usize::MAX));
    v
}

/// A table: cells by the header's column starts.
fn parse_table(text: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let rule = lines.next().unwrap_or("");
    assert!(rule.starts_with("---"), "not a table:\n{}", text);
    let mut starts = Vec::new();
    let b = header.as_bytes();
    for i in 0..b.len() {
        if b[i] != b' ' && (i == 0 || (i >= 2 && b[i - 1] == b' ' && b[i - 2] == b' ') || i == 1) {
            starts.push(i);
        }
    }
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let chars: Vec<char> = l.chars().collect();
            (0..starts.len())
                .map(|c| {
                    let a = starts[c].min(chars.len());
                    let e = starts
                        .get(c + 1)
                        .copied()
                        .unwrap_or(chars.len())
                        .min(chars.len());
                    chars[a..e].iter().collect::<String>().trim().to_string()
                })
                .collect()
        })
        .collect()
}

fn check_table(line: &str, text: &str, j: &Value) {
    let rows = parse_table(text);
    let arr = j
        .as_array()
        .unwrap_or_else(|| panic!("{}: not an array", line));
    assert_eq!(rows.len(), arr.len(), "{}: row count", line);
    for (r, o) in rows.iter().zip(arr) {
        let o = o.as_object().expect("row object");
        assert_eq!(o.len(), r.len(), "{}: columns of {:?}", line, o);
        for ((k, v), cell) in fields(o, 4).into_iter().zip(r) {
            assert!(
                same(k, v, cell),
                "{}: {} = {} but the text says {:?}",
                line,
                k,
                v,
                cell
            );
        }
    }
}

/// Fields that have no line of their own.
const EXTRA: &[&str] = &["security_label_enforcing", "messages"];

fn check_block(line: &str, text: &str, j: &Value) {
    let o = j
        .as_object()
        .unwrap_or_else(|| panic!("{}: not an object", line));
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let fields: Vec<(&String, &Value)> = fields(o, 2)
        .into_iter()
        .filter(|(k, _)| !EXTRA.contains(&k.as_str()))
        .collect();
    assert_eq!(
        lines.len(),
        fields.len(),
        "{}: lines vs fields\n{}\n{}",
        line,
        text,
        j
    );
    for (l, (k, v)) in lines.iter().zip(fields) {
        let (_, val) = l
            .split_once(':')
            .unwrap_or_else(|| panic!("{}: no label in {:?}", line, l));
        assert!(
            same(k, v, val),
            "{}: {} = {} but the text says {:?}",
            line,
            k,
            v,
            l
        );
    }
    if let Some(Value::Bool(e)) = o.get("security_label_enforcing") {
        let word = if *e { "(enforcing)" } else { "(permissive)" };
        assert!(text.contains(word), "{}: enforcing", line);
    }
}

/// Lines of space-separated values, one object per line.
fn check_words(line: &str, text: &str, j: &Value) {
    let arr = j
        .as_array()
        .unwrap_or_else(|| panic!("{}: not an array", line));
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), arr.len(), "{}", line);
    for (l, o) in lines.iter().zip(arr) {
        let o = o.as_object().expect("object");
        let words: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(words.len(), o.len(), "{}: {:?}", line, l);
        for (w, (k, v)) in words.iter().zip(fields(o, 4)) {
            assert!(same(k, v, w), "{}: {} = {} vs {:?}", line, k, v, w);
        }
    }
}

/// `[DEV] KEY VALUE` lines (domblkstat, domifstat, dommemstat).
fn check_pairs(line: &str, text: &str, j: &Value) {
    let o = j
        .as_object()
        .unwrap_or_else(|| panic!("{}: not an object", line));
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), o.len(), "{}", line);
    for (l, (k, v)) in lines.iter().zip(fields(o, 2)) {
        let w: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(w[w.len() - 2], k, "{}", line);
        assert!(
            same(k, v, w[w.len() - 1]),
            "{}: {} = {} vs {:?}",
            line,
            k,
            v,
            l
        );
    }
}

fn check(line: &str, kind: &str, text: &str, j: &Value) {
    match kind {
        "table" => check_table(line, text, j),
        "block" => check_block(line, text, j),
        "words" => check_words(line, text, j),
        "pairs" => check_pairs(line, text, j),
        "state" => {
            let (st, reason) = match text.trim().split_once(" (") {
                Some((s, r)) => (s, Some(r.trim_end_matches(')'))),
                None => (text.trim(), None),
            };
            assert_eq!(j["state"], st, "{}", line);
            if let Some(r) = reason {
                assert_eq!(j["reason"], r, "{}", line);
            }
        }
        "one" => {
            let o = j.as_object().expect("object");
            let (k, v) = o.iter().next().expect("one field");
            assert!(same(k, v, text), "{}: {} vs {:?}", line, v, text);
        }
        "domstats" => {
            let mut expect = String::new();
            for (i, d) in j.as_array().expect("array").iter().enumerate() {
                if i > 0 {
                    expect.push('\n');
                }
                expect += &format!("Domain: '{}'\n", d["domain"].as_str().expect("domain"));
                for (k, v) in d["stats"].as_object().expect("stats") {
                    let shown = text
                        .lines()
                        .skip_while(|l| {
                            *l != format!("Domain: '{}'", d["domain"].as_str().unwrap_or(""))
                        })
                        .find_map(|l| l.trim().strip_prefix(&format!("{}=", k)))
                        .unwrap_or_else(|| panic!("{}: {} not shown", line, k));
                    let ok = match v {
                        Value::Number(n) if n.is_f64() => {
                            format!("{:.6}", n.as_f64().unwrap_or(0.0)) == shown
                        }
                        _ => same(k, v, shown),
                    };
                    assert!(ok, "{}: {} = {} vs {:?}", line, k, v, shown);
                    expect += &format!("  {}={}\n", k, shown);
                }
            }
            let sorted = |t: &str| {
                let mut v: Vec<String> = t
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect();
                v.sort();
                v
            };
            assert_eq!(
                sorted(&expect),
                sorted(text),
                "{}: every line accounted for",
                line
            );
        }
        "tree" => {
            for o in j.as_array().expect("array") {
                let n = o["name"].as_str().expect("name");
                assert!(text.contains(n), "{}: {}", line, n);
            }
        }
        _ => panic!("unknown kind {}", kind),
    }
}

#[test]
fn json_matches_virsh_text() {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/json.cmds"))
        .expect("json.cmds");
    let mut sh = Shell::new();
    let mut checked = 0;
    let mut covered = std::collections::BTreeSet::new();
    for l in spec.lines() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if let Some(setup) = l.strip_prefix("setup ") {
            let (_, ok) = sh.run(setup, false);
            assert!(ok, "setup failed: {}", setup);
            continue;
        }
        let (kind, line) = l.split_once(' ').expect("KIND LINE");
        let kind = match kind.strip_suffix('~') {
            Some(k) => {
                TOLERANT.store(true, Ordering::Relaxed);
                k
            }
            None => {
                TOLERANT.store(false, Ordering::Relaxed);
                kind
            }
        };
        let (text, ok_text) = sh.run(line, false);
        let (json, ok_json) = sh.run(line, true);
        assert_eq!(ok_text, ok_json, "{}: exit status", line);
        if kind == "fails" {
            assert!(!ok_json, "{}: should fail", line);
            assert_eq!(json, "", "{}: nothing on stdout", line);
            covered.insert(line.split_whitespace().next().unwrap_or("").to_string());
            continue;
        }
        assert!(ok_json, "{}: failed", line);
        RAW.with(|r| *r.borrow_mut() = json.clone());
        let j: Value = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("{}: not one JSON document ({}):\n{}", line, e, json));
        check(line, kind, &text, &j);
        covered.insert(line.split_whitespace().next().unwrap_or("").to_string());
        checked += 1;
    }
    // Every command the JSON mode serves is exercised.
    for c in oxvirsh::out::JSON_COMMANDS {
        assert!(covered.contains(*c), "{} is not in json.cmds", c);
    }
    eprintln!("{} command lines checked", checked);
}

#[test]
fn binary_flags_and_errors() {
    let bin = env!("CARGO_BIN_EXE_oxvirsh");
    let run = |args: &[&str]| Command::new(bin).args(args).output().expect("run oxvirsh");
    for flags in [&["--json"][..], &["-o", "json"], &["--output=json"]] {
        let mut a = flags.to_vec();
        a.extend(["list", "--all"]);
        let o = run(&a);
        assert!(o.status.success());
        let j: Value = serde_json::from_slice(&o.stdout).expect("json");
        assert_eq!(j[0]["name"], "test");
        assert_eq!(j[0]["id"], 1);
    }
    // Errors stay virsh's, on stderr, with nothing on stdout.
    let o = run(&["--json", "dominfo", "nosuch"]);
    let t = run(&["dominfo", "nosuch"]);
    assert_eq!(o.status.code(), t.status.code());
    assert_eq!(o.stderr, t.stderr);
    assert!(o.stdout.is_empty());
    // Commands with no structured output are refused, not mixed in.
    let o = run(&["--json", "dumpxml", "test"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: command 'dumpxml' has no JSON output\n"
    );
    let o = run(&["-o", "yaml", "list"]);
    assert_eq!(o.status.code(), Some(1));
}
