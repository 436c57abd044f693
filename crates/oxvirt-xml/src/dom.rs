//! A small owned XML tree, the input side of every typed parser.
//!
//! Documents are parsed with `quick-xml`; comments, processing
//! instructions and the XML declaration are dropped, as libvirt drops
//! them. Well-formedness errors are reported the way libvirt reports
//! libxml2's: `URL:LINE: MESSAGE`, then the offending line and a caret.

use std::fmt;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Nesting deeper than this is refused: bad input must never exhaust the stack.
pub const MAX_DEPTH: usize = 256;

/// True for text that is only XML white space (what libxml2 drops as
/// "blanks").
pub fn is_blank(t: &str) -> bool {
    t.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// One attribute, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub name: String,
    pub value: String,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

/// An element with its attributes and children, as written in the document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// The qualified name as written (`qemu:commandline` keeps its prefix).
    pub name: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Node>,
    /// 1-based line of the start tag.
    pub line: u32,
}

impl Element {
    pub fn new(name: impl Into<String>) -> Self {
        Element {
            name: name.into(),
            ..Default::default()
        }
    }

    /// The local part of the name (after any `prefix:`).
    pub fn local_name(&self) -> &str {
        self.name.rsplit(':').next().unwrap_or(&self.name)
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }

    pub fn has_attr(&self, name: &str) -> bool {
        self.attrs.iter().any(|a| a.name == name)
    }

    pub fn set_attr(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.attrs.iter_mut().find(|a| a.name == name) {
            Some(a) => a.value = value,
            None => self.attrs.push(Attr {
                name: name.to_string(),
                value,
            }),
        }
    }

    /// Child elements in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element with this name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// Every child element with this name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.elements().filter(move |e| e.name == name)
    }

    /// The concatenated text content of this element and its descendants,
    /// like XPath's `string()`.
    pub fn text(&self) -> String {
        let mut s = String::new();
        self.collect_text(&mut s);
        s
    }

    fn collect_text(&self, out: &mut String) {
        for n in &self.children {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => e.collect_text(out),
            }
        }
    }

    /// Text of the first child element with this name.
    pub fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).map(|e| e.text())
    }

    /// True when the element has element children.
    pub fn has_element_children(&self) -> bool {
        self.elements().next().is_some()
    }

    /// Drops whitespace-only text nodes from elements that also hold
    /// element children, recursively (libxml2's "keep blanks = 0").
    pub fn strip_blanks(&mut self) {
        if self.has_element_children() {
            self.children.retain(|n| match n {
                Node::Text(t) => !is_blank(t),
                Node::Element(_) => true,
            });
        }
        for n in &mut self.children {
            if let Node::Element(e) = n {
                e.strip_blanks();
            }
        }
    }
}

/// A well-formedness error, formatted as libvirt formats libxml2's errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The document's pseudo-URL, e.g. `(domain_definition)`.
    pub url: String,
    pub line: u32,
    /// libxml2's message, without a trailing newline.
    pub message: String,
    /// The text of the line the parser stopped on (None: nothing there).
    pub context: Option<String>,
    /// Column of the parser within `context`.
    pub column: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}:{}: {}", self.url, self.line, self.message)?;
        match &self.context {
            Some(ctx) => {
                f.write_str(ctx)?;
                f.write_str("\n")?;
                for c in ctx.chars().take(self.column) {
                    f.write_str(if c == '\t' { "\t" } else { "-" })?;
                }
            }
            None => f.write_str("(null)\n")?,
        }
        f.write_str("^")
    }
}

impl std::error::Error for ParseError {}

/// Parses a whole document and returns its root element.
///
/// `url` names the document in error messages, as libvirt does
/// (`(domain_definition)`, `(network_definition)`, ...).
pub fn parse(text: &str, url: &str) -> Result<Element, ParseError> {
    Parser { text, url }.run()
}

struct Parser<'a> {
    text: &'a str,
    url: &'a str,
}

impl<'a> Parser<'a> {
    /// `pos` clamped to the text and moved back to a character boundary.
    fn clamp(&self, pos: usize) -> usize {
        let mut p = pos.min(self.text.len());
        while p > 0 && !self.text.is_char_boundary(p) {
            p -= 1;
        }
        p
    }

    fn error_at(&self, pos: usize, message: String) -> ParseError {
        let pos = self.clamp(pos);
        let bytes = self.text.as_bytes();
        let line = 1 + bytes[..pos].iter().filter(|&&b| b == b'\n').count() as u32;
        // libvirt walks back over line ends, then to the start of the line.
        let mut cur = pos;
        while cur > 0 && cur < bytes.len() && (bytes[cur] == b'\n' || bytes[cur] == b'\r') {
            cur -= 1;
        }
        let mut start = cur;
        while start > 0 && bytes[start - 1] != b'\n' && bytes[start - 1] != b'\r' {
            start -= 1;
        }
        if pos >= bytes.len() {
            start = bytes.len();
        }
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map(|p| start + p)
            .unwrap_or(bytes.len());
        let context = &self.text[start..end];
        ParseError {
            url: self.url.to_string(),
            line,
            message,
            context: if context.is_empty() {
                None
            } else {
                Some(context.to_string())
            },
            column: self.text[start..pos.max(start)].chars().count(),
        }
    }

    fn line_of(&self, pos: usize) -> u32 {
        1 + self.text.as_bytes()[..self.clamp(pos)]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u32
    }

    fn run(&self) -> Result<Element, ParseError> {
        if self.text.trim().is_empty() {
            return Err(self.error_at(self.text.len(), "Document is empty".into()));
        }
        let mut reader = Reader::from_str(self.text);
        {
            let cfg = reader.config_mut();
            cfg.check_end_names = false;
            cfg.expand_empty_elements = false;
            cfg.trim_text(false);
        }
        // Open elements with the byte offset of their start tag.
        let mut stack: Vec<(Element, usize)> = Vec::new();
        let mut root: Option<Element> = None;
        loop {
            let before = reader.buffer_position() as usize;
            let ev = match reader.read_event() {
                Ok(ev) => ev,
                Err(e) => return Err(self.map_error(&e, before, &stack)),
            };
            match ev {
                Event::Start(s) | Event::Empty(s) if root.is_some() && stack.is_empty() => {
                    let _ = s;
                    return Err(
                        self.error_at(before, "Extra content at the end of the document".into())
                    );
                }
                Event::Start(s) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(self.error_at(
                            before,
                            format!(
                                "Excessive depth in document: {} use XML_PARSE_HUGE option",
                                MAX_DEPTH
                            ),
                        ));
                    }
                    let el = self.start(&s, before)?;
                    stack.push((el, before));
                }
                Event::Empty(s) => {
                    let el = self.start(&s, before)?;
                    match stack.last_mut() {
                        Some((parent, _)) => parent.children.push(Node::Element(el)),
                        None => root = Some(el),
                    }
                }
                Event::End(e) => {
                    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                    let Some((el, start)) = stack.pop() else {
                        return Err(self
                            .error_at(before, "Extra content at the end of the document".into()));
                    };
                    if el.name != name {
                        return Err(self.error_at(
                            before + 2,
                            format!(
                                "Opening and ending tag mismatch: {} line {} and {}",
                                el.name,
                                self.line_of(start),
                                name
                            ),
                        ));
                    }
                    match stack.last_mut() {
                        Some((parent, _)) => parent.children.push(Node::Element(el)),
                        None => root = Some(el),
                    }
                }
                Event::Text(t) => {
                    let raw = String::from_utf8_lossy(t.as_ref()).into_owned();
                    if let Some(c) = raw.chars().find(|&c| is_forbidden_char(c)) {
                        return Err(self
                            .error_at(before, format!("PCDATA invalid Char value {}", c as u32)));
                    }
                    let text = self.unescape(&raw, before)?;
                    match stack.last_mut() {
                        Some((parent, _)) => push_text(parent, text),
                        None => {
                            if !is_blank(&text) {
                                let msg = if root.is_some() {
                                    "Extra content at the end of the document"
                                } else {
                                    "Start tag expected, '<' not found"
                                };
                                return Err(self.error_at(before, msg.into()));
                            }
                        }
                    }
                }
                Event::CData(c) => {
                    let text = String::from_utf8_lossy(c.as_ref()).into_owned();
                    match stack.last_mut() {
                        Some((parent, _)) => push_text(parent, text),
                        None => {
                            return Err(
                                self.error_at(before, "Start tag expected, '<' not found".into())
                            )
                        }
                    }
                }
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::DocType(_) => {}
                Event::Eof => {
                    if let Some((el, start)) = stack.last() {
                        return Err(self.error_at(
                            self.text.len(),
                            format!(
                                "Premature end of data in tag {} line {}",
                                el.name,
                                self.line_of(*start)
                            ),
                        ));
                    }
                    return root.ok_or_else(|| {
                        self.error_at(self.text.len(), "Start tag expected, '<' not found".into())
                    });
                }
            }
        }
    }

    fn start(&self, s: &BytesStart<'_>, pos: usize) -> Result<Element, ParseError> {
        let name = String::from_utf8_lossy(s.name().as_ref()).into_owned();
        if name.is_empty() || !is_name_start(name.chars().next().unwrap_or(' ')) {
            return Err(self.error_at(pos + 1, "StartTag: invalid element name".into()));
        }
        let mut el = Element {
            name,
            attrs: Vec::new(),
            children: Vec::new(),
            line: self.line_of(pos),
        };
        for a in s.attributes().with_checks(true) {
            let a = match a {
                Ok(a) => a,
                Err(e) => {
                    use quick_xml::events::attributes::AttrError;
                    let msg = match &e {
                        AttrError::Duplicated(_, _) => {
                            // find the duplicated name for libxml2's wording
                            let mut seen = Vec::new();
                            let mut dup = String::new();
                            for a in s.attributes().with_checks(false).flatten() {
                                let n = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                                if seen.contains(&n) {
                                    dup = n;
                                    break;
                                }
                                seen.push(n);
                            }
                            format!("Attribute {} redefined", dup)
                        }
                        AttrError::ExpectedEq(_) | AttrError::ExpectedValue(_) => {
                            "Specification mandates value for attribute".to_string()
                        }
                        AttrError::UnquotedValue(_) | AttrError::ExpectedQuote(_, _) => {
                            "AttValue: \" or ' expected".to_string()
                        }
                    };
                    return Err(self.error_at(pos, msg));
                }
            };
            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
            let raw = String::from_utf8_lossy(&a.value).into_owned();
            if raw.chars().any(is_forbidden_char) {
                return Err(self.error_at(pos, "invalid character in attribute value".into()));
            }
            if raw.contains('<') {
                return Err(
                    self.error_at(pos, "Unescaped '<' not allowed in attributes values".into())
                );
            }
            let mut value = self.unescape(&raw, pos)?;
            // Attribute-value normalisation: literal white space becomes a space.
            if value.contains(['\n', '\t', '\r']) {
                value = normalize_attr_ws(&raw, &value);
            }
            el.attrs.push(Attr { name: key, value });
        }
        Ok(el)
    }

    fn unescape(&self, raw: &str, pos: usize) -> Result<String, ParseError> {
        if !raw.contains('&') {
            return Ok(raw.to_string());
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            let Some(end) = rest.find(';') else {
                return Err(self.error_at(pos, "EntityRef: expecting ';'".into()));
            };
            let ent = &rest[..end];
            rest = &rest[end + 1..];
            match ent {
                "lt" => out.push('<'),
                "gt" => out.push('>'),
                "amp" => out.push('&'),
                "apos" => out.push('\''),
                "quot" => out.push('"'),
                _ if ent.starts_with('#') => {
                    let num = if let Some(hex) = ent.strip_prefix("#x") {
                        u32::from_str_radix(hex, 16).ok()
                    } else {
                        ent[1..].parse::<u32>().ok()
                    };
                    match num.and_then(char::from_u32) {
                        Some(c) if !is_forbidden_char(c) => out.push(c),
                        _ => {
                            return Err(self.error_at(
                                pos,
                                format!(
                                    "xmlParseCharRef: invalid xmlChar value {}",
                                    num.unwrap_or(0)
                                ),
                            ))
                        }
                    }
                }
                "" => return Err(self.error_at(pos, "xmlParseEntityRef: no name".into())),
                _ => {
                    return Err(self.error_at(pos, format!("Entity '{}' not defined", ent)));
                }
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    fn map_error(
        &self,
        e: &quick_xml::Error,
        before: usize,
        stack: &[(Element, usize)],
    ) -> ParseError {
        use quick_xml::errors::SyntaxError;
        match e {
            quick_xml::Error::Syntax(SyntaxError::UnclosedTag) => {
                let name: String = self.text[self.clamp(before)..]
                    .trim_start_matches('<')
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
                    .collect();
                self.error_at(
                    self.text.len(),
                    format!(
                        "Couldn't find end of Start Tag {} line {}",
                        name,
                        self.line_of(before)
                    ),
                )
            }
            quick_xml::Error::Syntax(SyntaxError::UnclosedComment) => {
                self.error_at(self.text.len(), "Comment not terminated".into())
            }
            quick_xml::Error::Syntax(SyntaxError::UnclosedCData) => {
                self.error_at(self.text.len(), "CData section not finished".into())
            }
            quick_xml::Error::Syntax(SyntaxError::UnclosedPIOrXmlDecl) => {
                self.error_at(self.text.len(), "ParsePI: PI xml never end ...".into())
            }
            quick_xml::Error::Syntax(_) => match stack.last() {
                Some((el, start)) => self.error_at(
                    self.text.len(),
                    format!(
                        "Premature end of data in tag {} line {}",
                        el.name,
                        self.line_of(*start)
                    ),
                ),
                None => self.error_at(before, "Start tag expected, '<' not found".into()),
            },
            quick_xml::Error::Encoding(_) => self.error_at(
                before,
                "Input is not proper UTF-8, indicate encoding !".into(),
            ),
            other => self.error_at(before, other.to_string()),
        }
    }
}

fn push_text(parent: &mut Element, text: String) {
    if let Some(Node::Text(prev)) = parent.children.last_mut() {
        prev.push_str(&text);
    } else {
        parent.children.push(Node::Text(text));
    }
}

/// Characters XML 1.0 does not allow in a document.
fn is_forbidden_char(c: char) -> bool {
    let v = c as u32;
    (v < 0x20 && !matches!(c, '\t' | '\n' | '\r')) || v == 0xFFFE || v == 0xFFFF
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == ':'
}

/// Replaces literal tab/newline/CR (not character references) with spaces.
fn normalize_attr_ws(raw: &str, unescaped: &str) -> String {
    if raw.contains("&#") {
        // Character references keep their characters: only replace the
        // literal ones, which requires a second pass over the raw text.
        let replaced: String = raw
            .chars()
            .map(|c| {
                if matches!(c, '\n' | '\t' | '\r') {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        // The replaced raw text unescapes without error: the original did.
        return Parser { text: "", url: "" }
            .unescape(&replaced, 0)
            .unwrap_or_else(|_| unescaped.to_string());
    }
    unescaped
        .chars()
        .map(|c| {
            if matches!(c, '\n' | '\t' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_elements_and_text() {
        let root = parse(
            "<?xml version='1.0'?>\n<a x='1' y=\"&lt;2&gt;\"><!-- c --><b>t&amp;u</b><c/></a>",
            "(t)",
        )
        .unwrap();
        assert_eq!(root.name, "a");
        assert_eq!(root.attr("y"), Some("<2>"));
        assert_eq!(root.child_text("b").as_deref(), Some("t&u"));
        assert!(root.child("c").is_some());
        assert_eq!(root.line, 2);
    }

    #[test]
    fn premature_end_is_reported_like_libxml2() {
        let text = "<domain type='test'>\n  <name>broken</name>\n  <os>\n  </os>\n";
        let err = parse(text, "(domain_definition)").unwrap_err();
        assert_eq!(
            err.to_string(),
            "(domain_definition):5: Premature end of data in tag domain line 1\n(null)\n^"
        );
    }

    #[test]
    fn mismatched_tags_and_extra_content() {
        let err = parse("<a>\n<b></c></a>", "(x)").unwrap_err();
        assert_eq!(
            err.message,
            "Opening and ending tag mismatch: b line 2 and c"
        );
        let err = parse("<a/><b/>", "(x)").unwrap_err();
        assert_eq!(err.message, "Extra content at the end of the document");
        let err = parse("", "(x)").unwrap_err();
        assert_eq!(err.message, "Document is empty");
        let err = parse("<a x='1' x='2'/>", "(x)").unwrap_err();
        assert_eq!(err.message, "Attribute x redefined");
        let err = parse("<a>&foo;</a>", "(x)").unwrap_err();
        assert_eq!(err.message, "Entity 'foo' not defined");
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "<a>".repeat(MAX_DEPTH + 5);
        assert!(parse(&deep, "(x)").is_err());
    }
}
