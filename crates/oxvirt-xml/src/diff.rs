//! A line-by-line comparison of two documents, for test reports.

/// The lines where `actual` differs from `expected`, numbered, each as
/// "- expected / + actual".
pub fn line_diff(expected: &str, actual: &str) -> String {
    let mut out = String::new();
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i), a.get(i));
        if x != y {
            out.push_str(&format!(
                "{:4} - {}\n     + {}\n",
                i + 1,
                x.unwrap_or(&""),
                y.unwrap_or(&"")
            ));
        }
    }
    out
}

/// The first `<name>…</name>` of a formatted document, tags included
/// (for normalising generated values such as UUIDs before comparing).
pub fn element_span<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{}>", name);
    let close = format!("</{}>", name);
    let s = xml.find(&open)?;
    let e = xml[s..].find(&close)?;
    Some(&xml[s..s + e + close.len()])
}
