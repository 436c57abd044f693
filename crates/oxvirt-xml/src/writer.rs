//! Output in libvirt's canonical form: two spaces per level, single-quoted
//! attributes, `<x/>` for empty elements, and libvirt's escaping rules.

use std::fmt::{Display, Write as _};

use crate::dom::{is_blank, Element, Node};

/// Escapes text for an attribute value or element content the way libvirt
/// does: the five XML specials become entities and other control
/// characters (except tab, newline and carriage return) are dropped.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    let needs = s
        .chars()
        .any(|c| matches!(c, '<' | '>' | '&' | '\'' | '"') || is_forbidden(c));
    if !needs {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if is_forbidden(c) => {}
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn is_forbidden(c: char) -> bool {
    (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r')
}

/// An attribute list being built, in output order.
#[derive(Debug, Default, Clone)]
pub struct Attrs(String);

impl Attrs {
    pub fn new() -> Self {
        Attrs(String::new())
    }

    /// Adds `name='value'` (escaped).
    pub fn add(mut self, name: &str, value: impl Display) -> Self {
        self.push(name, value);
        self
    }

    /// Adds the attribute only when there is a value.
    pub fn opt(mut self, name: &str, value: Option<impl Display>) -> Self {
        if let Some(v) = value {
            self.push(name, v);
        }
        self
    }

    /// Adds the attribute only when `cond` holds.
    pub fn add_if(mut self, cond: bool, name: &str, value: impl Display) -> Self {
        if cond {
            self.push(name, value);
        }
        self
    }

    pub fn push(&mut self, name: &str, value: impl Display) {
        let v = value.to_string();
        let _ = write!(self.0, " {}='{}'", name, escape(&v));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An indenting writer for one document.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer whose output starts `depth` levels in.
    pub fn at_depth(depth: usize) -> Self {
        Writer {
            out: String::new(),
            depth,
        }
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    pub fn into_string(self) -> String {
        self.out
    }

    pub fn as_str(&self) -> &str {
        &self.out
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    /// Writes one already formatted line at the current indentation.
    pub fn line(&mut self, raw: &str) {
        self.indent();
        self.out.push_str(raw);
        self.out.push('\n');
    }

    /// Appends text verbatim (it must carry its own indentation).
    pub fn push_raw(&mut self, raw: &str) {
        self.out.push_str(raw);
    }

    /// `<name attrs/>`
    pub fn empty(&mut self, name: &str, attrs: Attrs) {
        self.indent();
        let _ = writeln!(self.out, "<{}{}/>", name, attrs.0);
    }

    /// `<name attrs>text</name>` with the text escaped.
    pub fn text(&mut self, name: &str, attrs: Attrs, text: impl Display) {
        self.indent();
        let t = text.to_string();
        let _ = writeln!(self.out, "<{}{}>{}</{}>", name, attrs.0, escape(&t), name);
    }

    /// `<name>text</name>` when there is a value.
    pub fn opt_text(&mut self, name: &str, text: Option<impl Display>) {
        if let Some(t) = text {
            self.text(name, Attrs::new(), t);
        }
    }

    /// `<name attrs>` + children + `</name>`, or `<name attrs/>` when the
    /// body writes nothing (libvirt's virXMLFormatElement).
    pub fn elem(&mut self, name: &str, attrs: Attrs, body: impl FnOnce(&mut Writer)) {
        let mut child = Writer::at_depth(self.depth + 1);
        body(&mut child);
        if child.out.is_empty() {
            self.empty(name, attrs);
        } else {
            self.indent();
            let _ = writeln!(self.out, "<{}{}>", name, attrs.0);
            self.out.push_str(&child.out);
            self.indent();
            let _ = writeln!(self.out, "</{}>", name);
        }
    }

    /// Like [`Writer::elem`] but writes nothing at all when both the
    /// attributes and the body are empty.
    pub fn elem_opt(&mut self, name: &str, attrs: Attrs, body: impl FnOnce(&mut Writer)) {
        let mut child = Writer::at_depth(self.depth + 1);
        body(&mut child);
        if child.out.is_empty() && attrs.is_empty() {
            return;
        }
        if child.out.is_empty() {
            self.empty(name, attrs);
        } else {
            self.indent();
            let _ = writeln!(self.out, "<{}{}>", name, attrs.0);
            self.out.push_str(&child.out);
            self.indent();
            let _ = writeln!(self.out, "</{}>", name);
        }
    }

    /// `<name attrs>` + children + `</name>`, always with an open/close pair.
    pub fn block(&mut self, name: &str, attrs: Attrs, body: impl FnOnce(&mut Writer)) {
        self.indent();
        let _ = writeln!(self.out, "<{}{}>", name, attrs.0);
        self.depth += 1;
        body(self);
        self.depth -= 1;
        self.indent();
        let _ = writeln!(self.out, "</{}>", name);
    }

    /// Writes a kept element verbatim in libvirt's style (single quotes,
    /// two-space indentation, libvirt escaping).
    pub fn element(&mut self, el: &Element) {
        let mut attrs = Attrs::new();
        for a in &el.attrs {
            attrs.push(&a.name, &a.value);
        }
        let has_text = el
            .children
            .iter()
            .any(|n| matches!(n, Node::Text(t) if !is_blank(t)));
        if el.children.is_empty() || (!has_text && !el.has_element_children()) {
            self.empty(&el.name, attrs);
            return;
        }
        if has_text && !el.has_element_children() {
            self.text(&el.name, attrs, el.text());
            return;
        }
        if has_text {
            // Mixed content: written on one line, as it came.
            self.indent();
            let mut s = String::new();
            inline_dump(el, &mut s, false);
            self.out.push_str(&s);
            self.out.push('\n');
            return;
        }
        self.elem(&el.name, attrs, |w| {
            for c in el.elements() {
                w.element(c);
            }
        });
    }

    /// Writes an element the way libxml2's `xmlNodeDump(format=1)` does,
    /// which is how libvirt writes `<metadata>`: double quotes, namespace
    /// declarations first, text-only elements inline.
    pub fn libxml_element(&mut self, el: &Element) {
        self.indent();
        let mut s = String::new();
        libxml_dump(el, self.depth, &mut s);
        self.out.push_str(&s);
        self.out.push('\n');
    }
}

fn libxml_attr_escape(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

fn libxml_text_escape(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

fn libxml_open_tag(el: &Element, out: &mut String) {
    out.push('<');
    out.push_str(&el.name);
    let ns = el
        .attrs
        .iter()
        .filter(|a| a.name == "xmlns" || a.name.starts_with("xmlns:"));
    let plain = el
        .attrs
        .iter()
        .filter(|a| a.name != "xmlns" && !a.name.starts_with("xmlns:"));
    for a in ns.chain(plain) {
        out.push(' ');
        out.push_str(&a.name);
        out.push_str("=\"");
        libxml_attr_escape(&a.value, out);
        out.push('"');
    }
}

fn libxml_dump(el: &Element, level: usize, out: &mut String) {
    libxml_open_tag(el, out);
    if el.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    let format = el.children.iter().all(|n| matches!(n, Node::Element(_)));
    if format {
        out.push('\n');
        for c in el.elements() {
            for _ in 0..=level {
                out.push_str("  ");
            }
            libxml_dump(c, level + 1, out);
            out.push('\n');
        }
        for _ in 0..level {
            out.push_str("  ");
        }
    } else {
        for n in &el.children {
            match n {
                Node::Text(t) => libxml_text_escape(t, out),
                Node::Element(c) => inline_dump(c, out, true),
            }
        }
    }
    out.push_str("</");
    out.push_str(&el.name);
    out.push('>');
}

fn inline_dump(el: &Element, out: &mut String, libxml: bool) {
    if libxml {
        libxml_open_tag(el, out);
    } else {
        out.push('<');
        out.push_str(&el.name);
        for a in &el.attrs {
            let _ = write!(out, " {}='{}'", a.name, escape(&a.value));
        }
    }
    if el.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for n in &el.children {
        match n {
            Node::Text(t) if libxml => libxml_text_escape(t, out),
            Node::Text(t) => out.push_str(&escape(t)),
            Node::Element(c) => inline_dump(c, out, libxml),
        }
    }
    out.push_str("</");
    out.push_str(&el.name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elem_collapses_when_empty() {
        let mut w = Writer::new();
        w.elem("devices", Attrs::new(), |_| {});
        w.elem("os", Attrs::new().add("a", "x'y"), |w| {
            w.text("type", Attrs::new().add("arch", "i686"), "hvm")
        });
        assert_eq!(
            w.into_string(),
            "<devices/>\n<os a='x&apos;y'>\n  <type arch='i686'>hvm</type>\n</os>\n"
        );
    }

    #[test]
    fn libxml_dump_matches_xmlnodedump() {
        let el = crate::dom::parse(
            "<metadata><a:x xmlns:a='u' k='v'><a:y>t</a:y><a:z/></a:x></metadata>",
            "(t)",
        )
        .unwrap();
        let mut w = Writer::at_depth(1);
        w.libxml_element(&el);
        assert_eq!(
            w.into_string(),
            "  <metadata>\n    <a:x xmlns:a=\"u\" k=\"v\">\n      <a:y>t</a:y>\n      <a:z/>\n    </a:x>\n  </metadata>\n"
        );
    }
}
