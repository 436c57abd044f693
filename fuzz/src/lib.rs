//! What the fuzz targets share: the input as text, the parse options of
//! the XML models, and the round-trip check.

use oxvirt_xml::domain::ParseOptions;

/// The input as UTF-8 text (what every XML reader receives), or None.
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// The options the drivers parse with (x86_64 when `<os>` names none).
pub fn parse_options() -> ParseOptions {
    ParseOptions {
        default_arch: Some("x86_64".into()),
    }
}

/// Asserts that `first` (the formatted first parse of an input)
/// reaches a fixed point: `pass` (parse, then format) of its own output
/// gives the same document. With `extra`, one more pass first: libvirt's
/// own domain parser is not idempotent on the first pass (xml_domain.rs).
pub fn assert_stable(what: &str, first: String, extra: bool, pass: impl Fn(&str) -> String) {
    let out = if extra { pass(&first) } else { first };
    let again = pass(&out);
    assert_eq!(out, again, "{}: format(parse(x)) is not stable", what);
}

/// The clock the post-parse steps store (creation time, default name).
pub const NOW: i64 = 1_700_000_000;

/// Runs `f` on the input as text with the drivers' parse options, once
/// as a creation (false) and once as a redefinition (true).
pub fn each_mode(data: &[u8], mut f: impl FnMut(&str, &ParseOptions, bool)) {
    let Some(text) = text(data) else {
        return;
    };
    let opts = parse_options();
    for redefine in [false, true] {
        f(text, &opts, redefine);
    }
}
