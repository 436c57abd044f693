//! virNetworkUpdate's section editing against libvirt 9.0's own test
//! table and data (networkxml2xmlupdatetest): each edit gives libvirt's
//! document, each refused edit is refused.

use oxvirt_core::netconf::update_section;
use oxvirt_xml::network::Network;

fn read(dir: &str, name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/netupdate")
        .join(dir)
        .join(format!("{}.xml", name));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {}", p.display(), e))
}

#[test]
fn libvirt_update_table() {
    let cases = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/netupdate/cases.txt"),
    )
    .expect("cases");
    let mut failures = Vec::new();
    let mut n = 0;
    for line in cases
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 7, "{}", line);
        let (name, section, command, index) = (
            f[0],
            f[1].parse::<u32>().expect("section"),
            f[2].parse::<u32>().expect("command"),
            f[3].parse::<i32>().expect("index"),
        );
        let mut def = Network::parse(&read("in", f[5])).expect("network parses");
        let upd = read("update", f[4]);
        let r = update_section(&mut def, command, section, index, &upd);
        n += 1;
        match (f[6], r) {
            ("FAIL", Ok(())) => failures.push(format!("{}: succeeded, libvirt refuses", name)),
            ("FAIL", Err(_)) => {}
            (_, Err(e)) => failures.push(format!("{}: {}", name, e)),
            (out, Ok(())) => {
                let want = read("out", out);
                if def.format(false) != want {
                    failures.push(format!(
                        "{}: got\n{}\nwant\n{}",
                        name,
                        def.format(false),
                        want
                    ));
                }
            }
        }
    }
    assert_eq!(n, 41);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
