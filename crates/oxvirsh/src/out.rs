//! Structured output: what a listing or info command shows, once, as
//! virsh's text or as one JSON document (`--json`, `-o json`).
//!
//! A command builds a [`Table`](crate::table::Table) or a [`Block`] whose
//! every cell or line carries both virsh's text and a typed value, and
//! hands it to [`Ctl::emit_table`](crate::ctl::Ctl::emit_table) or
//! [`Ctl::emit_block`](crate::ctl::Ctl::emit_block); the text is printed
//! byte for byte as before, the JSON comes from the same values.
//!
//! The JSON is written here rather than through serde_json's `Value`
//! because objects keep virsh's field order (serde_json's map is sorted
//! unless its `preserve_order` feature is on, which would change the
//! order for every other crate of the workspace); serde_json still
//! escapes the strings and formats the floats.

use std::fmt::Write;

/// The commands `--json` serves (their canonical names); any other
/// command is refused in JSON mode rather than mixing text into the
/// document. The README's table lists their fields.
pub const JSON_COMMANDS: &[&str] = &[
    "list",
    "dominfo",
    "domstate",
    "domid",
    "domname",
    "domuuid",
    "domstats",
    "domblkstat",
    "domifstat",
    "dommemstat",
    "domblklist",
    "domiflist",
    "domjobinfo",
    "nodeinfo",
    "pool-list",
    "pool-info",
    "vol-list",
    "vol-info",
    "net-list",
    "net-info",
    "net-dhcp-leases",
    "net-port-list",
    "snapshot-list",
    "snapshot-info",
    "checkpoint-list",
    "checkpoint-info",
];

/// A JSON value whose objects keep their fields in insertion order.
#[derive(Clone, Debug, PartialEq)]
pub enum J {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl From<bool> for J {
    fn from(v: bool) -> J {
        J::Bool(v)
    }
}
impl From<i64> for J {
    fn from(v: i64) -> J {
        J::Int(v)
    }
}
impl From<i32> for J {
    fn from(v: i32) -> J {
        J::Int(v.into())
    }
}
impl From<u64> for J {
    fn from(v: u64) -> J {
        J::UInt(v)
    }
}
impl From<u32> for J {
    fn from(v: u32) -> J {
        J::UInt(v.into())
    }
}
impl From<u16> for J {
    fn from(v: u16) -> J {
        J::UInt(v.into())
    }
}
impl From<usize> for J {
    fn from(v: usize) -> J {
        J::UInt(v as u64)
    }
}
impl From<f64> for J {
    fn from(v: f64) -> J {
        J::Float(v)
    }
}
impl From<String> for J {
    fn from(v: String) -> J {
        J::Str(v)
    }
}
impl From<&str> for J {
    fn from(v: &str) -> J {
        J::Str(v.to_string())
    }
}
impl From<&String> for J {
    fn from(v: &String) -> J {
        J::Str(v.clone())
    }
}
impl<T: Into<J>> From<Option<T>> for J {
    fn from(v: Option<T>) -> J {
        v.map_or(J::Null, Into::into)
    }
}

impl J {
    /// The document, indented by two spaces, with a final newline.
    pub fn pretty(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, 0);
        s.push('\n');
        s
    }

    fn write(&self, s: &mut String, depth: usize) {
        let pad = |s: &mut String, d: usize| {
            s.push('\n');
            for _ in 0..d {
                s.push_str("  ");
            }
        };
        match self {
            J::Null => s.push_str("null"),
            J::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
            J::Int(v) => {
                let _ = write!(s, "{}", v);
            }
            J::UInt(v) => {
                let _ = write!(s, "{}", v);
            }
            J::Float(v) => match serde_json::Number::from_f64(*v) {
                Some(n) => {
                    let _ = write!(s, "{}", n);
                }
                None => s.push_str("null"),
            },
            J::Str(v) => s.push_str(&serde_json::Value::from(v.as_str()).to_string()),
            J::Arr(items) if items.is_empty() => s.push_str("[]"),
            J::Arr(items) => {
                s.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    pad(s, depth + 1);
                    v.write(s, depth + 1);
                }
                pad(s, depth);
                s.push(']');
            }
            J::Obj(fields) if fields.is_empty() => s.push_str("{}"),
            J::Obj(fields) => {
                s.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    pad(s, depth + 1);
                    s.push_str(&serde_json::Value::from(k.as_str()).to_string());
                    s.push_str(": ");
                    v.write(s, depth + 1);
                }
                pad(s, depth);
                s.push('}');
            }
        }
    }
}

/// A typed parameter's value (virsh prints booleans as yes/no).
pub fn param(v: &oxvirt_core::types::TypedValue) -> J {
    use oxvirt_core::types::TypedValue as T;
    match v {
        T::Int(i) => J::Int((*i).into()),
        T::UInt(u) => J::UInt((*u).into()),
        T::LLong(i) => J::Int(*i),
        T::ULLong(u) => J::UInt(*u),
        T::Double(d) => J::Float(*d),
        T::Boolean(b) => J::Bool(*b),
        T::String(s) => J::Str(s.clone()),
    }
}

/// Typed parameters as one object, under libvirt's field names.
pub fn params(ps: &[oxvirt_core::types::TypedParam]) -> J {
    J::Obj(
        ps.iter()
            .map(|p| (p.field.clone(), param(&p.value)))
            .collect(),
    )
}

/// The JSON key of a table column: its header in snake_case.
pub fn snake(header: &str) -> String {
    let mut out = String::new();
    for c in header.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// One table cell: virsh's text and its value.
#[derive(Clone, Debug)]
pub struct Cell {
    pub text: String,
    pub json: J,
}

impl Cell {
    pub fn new(text: impl Into<String>, json: impl Into<J>) -> Cell {
        Cell {
            text: text.into(),
            json: json.into(),
        }
    }

    /// A number, printed in decimal.
    pub fn num<T: std::fmt::Display + Into<J>>(v: T) -> Cell {
        Cell {
            text: v.to_string(),
            json: v.into(),
        }
    }

    /// virsh's "-" for nothing: null in JSON.
    pub fn opt(v: Option<String>) -> Cell {
        match v {
            Some(s) => Cell::from(s),
            None => Cell::new("-", J::Null),
        }
    }

    /// A domain id: "-" (null) when inactive.
    pub fn id(id: i32) -> Cell {
        if id >= 0 {
            Cell::num(id)
        } else {
            Cell::new("-", J::Null)
        }
    }

    /// A boolean virsh prints as `yes`/`no`.
    pub fn yes_no(v: bool) -> Cell {
        Cell::new(if v { "yes" } else { "no" }, v)
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell {
            json: J::Str(s.clone()),
            text: s,
        }
    }
}
impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::from(s.to_string())
    }
}
impl From<&String> for Cell {
    fn from(s: &String) -> Cell {
        Cell::from(s.clone())
    }
}

/// A key/value block (`Name:           test`): virsh's lines and the
/// JSON object of the same facts.
#[derive(Clone, Debug, Default)]
pub struct Block {
    width: usize,
    text: String,
    fields: Vec<(String, J)>,
}

impl Block {
    /// A block whose labels are padded to `width` (virsh's `%-15s %s`).
    pub fn new(width: usize) -> Block {
        Block {
            width,
            ..Block::default()
        }
    }

    /// `LABEL TEXT` as virsh prints it, and `key: value`.
    pub fn kv(&mut self, label: &str, text: impl std::fmt::Display, key: &str, v: impl Into<J>) {
        let _ = writeln!(self.text, "{:<w$} {}", label, text, w = self.width);
        self.json(key, v);
    }

    /// A line in its own layout (with its newline), and `key: value`.
    pub fn line(&mut self, line: impl AsRef<str>, key: &str, v: impl Into<J>) {
        self.text.push_str(line.as_ref());
        self.json(key, v);
    }

    /// Text with no JSON counterpart (blank lines, headings).
    pub fn text(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// A JSON field with no line of its own.
    pub fn json(&mut self, key: &str, v: impl Into<J>) {
        self.fields.push((key.to_string(), v.into()));
    }

    pub fn render(&self) -> &str {
        &self.text
    }

    pub fn to_json(&self) -> J {
        J::Obj(self.fields.clone())
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.fields.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_keys() {
        assert_eq!(snake("MAC Address"), "mac_address");
        assert_eq!(snake("Id"), "id");
        assert_eq!(snake("IP address"), "ip_address");
        assert_eq!(snake("Port Dev"), "port_dev");
    }

    #[test]
    fn json_keeps_order_and_escapes() {
        let j = J::Obj(vec![
            ("b".into(), J::Int(-1)),
            ("a".into(), J::Str("q\"\n".into())),
            (
                "c".into(),
                J::Arr(vec![J::Null, J::Bool(true), J::Float(1.5)]),
            ),
        ]);
        assert_eq!(
            j.pretty(),
            "{\n  \"b\": -1,\n  \"a\": \"q\\\"\\n\",\n  \"c\": [\n    null,\n    true,\n    1.5\n  ]\n}\n"
        );
    }
}
