//! Arbitrary command strings and argv lists through oxvirsh's parser: no
//! panic, and every accepted command names an option its definition has.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirsh::cmd::OptKind;
use oxvirsh::parse::{debug_lines, parse_argv, parse_string};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let checks = |cmds: &[oxvirsh::cmd::Cmd]| {
        for c in cmds {
            for (o, v) in &c.opts {
                assert!(
                    o.name == "help" || c.def.opts.iter().any(|d| std::ptr::eq(d, *o)),
                    "option not from the command's table"
                );
                assert_eq!(
                    o.kind == OptKind::Bool,
                    v.is_none() && o.name != "help" || o.kind == OptKind::Bool && v.is_none()
                );
            }
        }
        let _ = debug_lines(cmds);
    };
    if let Ok(cmds) = parse_string(&text) {
        checks(&cmds);
    }
    let words: Vec<String> = text.split('\0').map(str::to_string).collect();
    if let Ok(cmds) = parse_argv(&words) {
        checks(&cmds);
    }
});
