//! The real virsh runs a table of network command lines
//! (tests/data/network_diff.cmds) against the reference libvirtd 9.0 and
//! against oxvirtd, each inside a network namespace of its own; stdout,
//! stderr and exit status must agree, once the randomly generated bridge
//! MACs are normalised. oxvirsh (through the remote driver) runs the same
//! table against a second oxvirtd and must print what virsh printed from
//! libvirtd.

mod common;

use common::netns::{run_cli, virsh, NetNs, NsDaemon, RefLibvirtd};

/// Splits a command line as a shell would for these tables: blanks
/// separate words, double quotes group, `$D` is the data directory.
fn words(line: &str, data: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out.into_iter().map(|w| w.replace("$D", data)).collect()
}

/// Generated values differ between two daemons: bridge MACs.
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("<mac address='52:54:00:") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        match tail.find("'/>") {
            Some(j) => {
                out.push_str("<mac address='MAC'/>");
                rest = &tail[j + 3..];
            }
            None => {
                out.push_str(tail);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn virsh_network_commands_match_libvirtd() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/network");
    let table = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/network_diff.cmds"
    ))
    .expect("table");
    let ref_ns = NetNs::new("oxnet-ref").expect("ns");
    let our_ns = NetNs::new("oxnet-our").expect("ns");
    let reference = RefLibvirtd::start(&ref_ns);
    let ours = NsDaemon::start(&our_ns, "diff");
    let ox_ns = NetNs::new("oxnet-oxv").expect("ns");
    let ox = NsDaemon::start(&ox_ns, "diffox");
    let oxvirsh = common::oxvirsh().expect("oxvirsh builds");
    let mut failures = Vec::new();
    let mut n = 0;
    for line in table.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        n += 1;
        let args = words(line, data);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let norm = |o: (String, String, i32)| (normalise(&o.0), normalise(&o.1), o.2);
        let want = norm(virsh(&reference.uri(), &args));
        for (who, got) in [
            ("virsh to oxvirtd", norm(virsh(&ours.uri(), &args))),
            (
                "oxvirsh to oxvirtd",
                norm(run_cli(&oxvirsh, &ox.uri(), &args)),
            ),
        ] {
            if want != got {
                failures.push(format!(
                    "{}: {}\n--- virsh to libvirtd (exit {})\n{}{}--- {} (exit {})\n{}{}",
                    who, line, want.2, want.0, want.1, who, got.2, got.0, got.1
                ));
            }
        }
    }
    drop(ours);
    drop(ox);
    drop(reference);
    println!("{} lines, {} differ", n, failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
