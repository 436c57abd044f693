//! The XPath subset behind the `--xpath` and `--wrap` options of the
//! *dumpxml commands (virshDumpXML): location paths with the child,
//! descendant, attribute, self and parent axes, name/`*`/`text()`/`node()`
//! tests, predicates (positions, comparisons, `and`/`or`, `last()`,
//! `position()`) and unions. Results print the way libxml2 dumps nodes.

use oxvirt_xml::dom::{Element, Node};

/// A node of the document: an element, one of its attributes, or one of
/// its text children. `path` holds child indices from the root.
#[derive(Clone, Debug, PartialEq, Eq)]
enum N {
    Root,
    Elem(Vec<usize>),
    Attr(Vec<usize>, usize),
    Text(Vec<usize>, usize),
}

impl N {
    fn key(&self) -> Vec<i64> {
        match self {
            N::Root => vec![-2_000_000],
            N::Elem(p) => p.iter().map(|&i| i as i64).collect(),
            N::Attr(p, i) => {
                let mut k: Vec<i64> = p.iter().map(|&i| i as i64).collect();
                k.push(*i as i64 - 1_000_000);
                k
            }
            N::Text(p, i) => {
                let mut k: Vec<i64> = p.iter().map(|&i| i as i64).collect();
                k.push(*i as i64);
                k
            }
        }
    }
}

/// What went wrong evaluating an expression.
pub enum XErr {
    /// libxml2 could not parse it: it prints "XPath error : MSG" and the
    /// node set is empty.
    Invalid(&'static str),
    /// The result is not a node set ("Incorrect xpath").
    NotNodeSet,
    /// An unknown function was called.
    Unregistered(String),
}

#[derive(Clone, Debug)]
enum Axis {
    Child,
    Descendant,
    DescendantOrSelf,
    Attribute,
    SelfAx,
    Parent,
}

#[derive(Clone, Debug)]
enum Test {
    Name(String),
    Any,
    Text,
    Node,
}

#[derive(Clone, Debug)]
struct Step {
    axis: Axis,
    test: Test,
    preds: Vec<Expr>,
}

#[derive(Clone, Debug)]
struct Path {
    absolute: bool,
    steps: Vec<Step>,
}

#[derive(Clone, Debug)]
enum Expr {
    Path(Path),
    Union(Vec<Expr>),
    Lit(String),
    Num(f64),
    Last,
    Position,
    Func(String, Vec<Expr>),
    Filter(Box<Expr>, Vec<Expr>, Option<Path>),
    Cmp(Box<Expr>, bool, Box<Expr>),
    Rel(Box<Expr>, &'static str, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
}

type PR<T> = Result<T, XErr>;
const INVALID: XErr = XErr::Invalid("Invalid expression");

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, t: &str) -> bool {
        self.ws();
        if self.s[self.i..].starts_with(t.as_bytes()) {
            self.i += t.len();
            true
        } else {
            false
        }
    }
    fn name(&mut self) -> Option<String> {
        self.ws();
        let st = self.i;
        while self.i < self.s.len() {
            let c = self.s[self.i];
            let ok = c.is_ascii_alphabetic()
                || c == b'_'
                || (self.i > st && (c.is_ascii_digit() || c == b'-' || c == b'.' || c == b':'));
            if !ok {
                break;
            }
            // a ':' that starts '::' ends the name
            if c == b':' && self.s.get(self.i + 1) == Some(&b':') {
                break;
            }
            self.i += 1;
        }
        (self.i > st).then(|| String::from_utf8_lossy(&self.s[st..self.i]).into_owned())
    }

    fn union(&mut self) -> PR<Expr> {
        let first = self.or()?;
        if !self.eat("|") {
            return Ok(first);
        }
        let mut v = vec![first, self.or()?];
        while self.eat("|") {
            v.push(self.or()?);
        }
        Ok(Expr::Union(v))
    }
    fn or(&mut self) -> PR<Expr> {
        let mut a = self.and()?;
        loop {
            let save = self.i;
            if self.eat("or") && !self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                a = Expr::Or(Box::new(a), Box::new(self.and()?));
            } else {
                self.i = save;
                return Ok(a);
            }
        }
    }
    fn and(&mut self) -> PR<Expr> {
        let mut a = self.cmp()?;
        loop {
            let save = self.i;
            if self.eat("and") && !self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                a = Expr::And(Box::new(a), Box::new(self.cmp()?));
            } else {
                self.i = save;
                return Ok(a);
            }
        }
    }
    fn cmp(&mut self) -> PR<Expr> {
        let a = self.rel()?;
        if self.eat("!=") {
            Ok(Expr::Cmp(Box::new(a), false, Box::new(self.rel()?)))
        } else if self.eat("=") {
            Ok(Expr::Cmp(Box::new(a), true, Box::new(self.rel()?)))
        } else {
            Ok(a)
        }
    }
    fn rel(&mut self) -> PR<Expr> {
        let a = self.operand()?;
        for op in ["<=", ">=", "<", ">"] {
            if self.eat(op) {
                return Ok(Expr::Rel(Box::new(a), op, Box::new(self.operand()?)));
            }
        }
        Ok(a)
    }
    fn operand(&mut self) -> PR<Expr> {
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => {
                self.i += 1;
                let st = self.i;
                while self.i < self.s.len() && self.s[self.i] != q {
                    self.i += 1;
                }
                if self.i >= self.s.len() {
                    return Err(XErr::Invalid("Unfinished literal"));
                }
                let v = String::from_utf8_lossy(&self.s[st..self.i]).into_owned();
                self.i += 1;
                Ok(Expr::Lit(v))
            }
            Some(c) if c.is_ascii_digit() => {
                let st = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_digit() || self.s[self.i] == b'.')
                {
                    self.i += 1;
                }
                let t = String::from_utf8_lossy(&self.s[st..self.i]).into_owned();
                Ok(Expr::Num(t.parse().map_err(|_| INVALID)?))
            }
            Some(b'(') => {
                self.i += 1;
                let e = self.union()?;
                if !self.eat(")") {
                    return Err(INVALID);
                }
                let mut preds = Vec::new();
                while self.eat("[") {
                    preds.push(self.union()?);
                    if !self.eat("]") {
                        return Err(INVALID);
                    }
                }
                let rest = if self.s[self.i..].starts_with(b"/") {
                    let save = self.i;
                    let p = self.path()?;
                    if p.steps.is_empty() {
                        self.i = save;
                        None
                    } else {
                        Some(p)
                    }
                } else {
                    None
                };
                if preds.is_empty() && rest.is_none() {
                    return Ok(e);
                }
                Ok(Expr::Filter(Box::new(e), preds, rest))
            }
            _ => {
                // a function call?
                let save = self.i;
                if let Some(n) = self.name() {
                    if self.peek() == Some(b'(') && !matches!(n.as_str(), "text" | "node") {
                        self.i += 1;
                        let mut args = Vec::new();
                        // libxml2 accepts a call left open at the end
                        if self.peek().is_none() {
                            return Ok(match n.as_str() {
                                "last" => Expr::Last,
                                "position" => Expr::Position,
                                _ => Expr::Func(n, args),
                            });
                        }
                        if !self.eat(")") {
                            loop {
                                args.push(self.union()?);
                                if self.eat(")") {
                                    break;
                                }
                                if !self.eat(",") {
                                    return Err(INVALID);
                                }
                            }
                        }
                        return Ok(match n.as_str() {
                            "last" => Expr::Last,
                            "position" => Expr::Position,
                            _ => Expr::Func(n, args),
                        });
                    }
                }
                self.i = save;
                Ok(Expr::Path(self.path()?))
            }
        }
    }
    fn path(&mut self) -> PR<Path> {
        let mut steps = Vec::new();
        let mut absolute = false;
        self.ws();
        if self.eat("//") {
            absolute = true;
            steps.push(Step {
                axis: Axis::DescendantOrSelf,
                test: Test::Node,
                preds: vec![],
            });
        } else if self.eat("/") {
            absolute = true;
            match self.peek() {
                Some(c)
                    if c == b'@'
                        || c == b'*'
                        || c == b'.'
                        || c.is_ascii_alphabetic()
                        || c == b'_' => {}
                _ => return Ok(Path { absolute, steps }),
            }
        }
        loop {
            steps.push(self.step()?);
            if self.eat("//") {
                steps.push(Step {
                    axis: Axis::DescendantOrSelf,
                    test: Test::Node,
                    preds: vec![],
                });
            } else if !self.eat("/") {
                break;
            }
        }
        Ok(Path { absolute, steps })
    }
    fn step(&mut self) -> PR<Step> {
        if self.eat("..") {
            return Ok(Step {
                axis: Axis::Parent,
                test: Test::Node,
                preds: vec![],
            });
        }
        if self.eat(".") {
            return Ok(Step {
                axis: Axis::SelfAx,
                test: Test::Node,
                preds: vec![],
            });
        }
        let mut axis = Axis::Child;
        if self.eat("@") {
            axis = Axis::Attribute;
        } else {
            let save = self.i;
            if let Some(n) = self.name() {
                if self.eat("::") {
                    axis = match n.as_str() {
                        "child" => Axis::Child,
                        "descendant" => Axis::Descendant,
                        "descendant-or-self" => Axis::DescendantOrSelf,
                        "attribute" => Axis::Attribute,
                        "self" => Axis::SelfAx,
                        "parent" => Axis::Parent,
                        _ => return Err(INVALID),
                    };
                } else {
                    self.i = save;
                }
            }
        }
        let test = if self.eat("*") {
            Test::Any
        } else {
            let n = self.name().ok_or(INVALID)?;
            if self.eat("(") {
                if !self.eat(")") {
                    return Err(INVALID);
                }
                match n.as_str() {
                    "text" => Test::Text,
                    "node" => Test::Node,
                    _ => return Err(INVALID),
                }
            } else {
                Test::Name(n)
            }
        };
        let mut preds = Vec::new();
        while self.eat("[") {
            preds.push(self.union()?);
            if !self.eat("]") {
                return Err(INVALID);
            }
        }
        Ok(Step { axis, test, preds })
    }
}

struct Doc<'a> {
    root: &'a Element,
}

#[derive(Clone, Debug)]
enum V {
    Set(Vec<N>),
    Str(String),
    Num(f64),
    Bool(bool),
}

impl Doc<'_> {
    fn elem(&self, p: &[usize]) -> &Element {
        let mut e = self.root;
        for &i in p {
            if let Node::Element(c) = &e.children[i] {
                e = c;
            }
        }
        e
    }
    fn string(&self, n: &N) -> String {
        match n {
            N::Root => self.root.text(),
            N::Elem(p) => self.elem(p).text(),
            N::Attr(p, i) => self.elem(p).attrs[*i].value.clone(),
            N::Text(p, i) => match &self.elem(p).children[*i] {
                Node::Text(t) => t.clone(),
                _ => String::new(),
            },
        }
    }
    fn children(&self, n: &N, out: &mut Vec<N>) {
        match n {
            N::Root => out.push(N::Elem(vec![])),
            N::Elem(p) => {
                for (i, c) in self.elem(p).children.iter().enumerate() {
                    let mut q = p.clone();
                    q.push(i);
                    out.push(match c {
                        Node::Element(_) => N::Elem(q),
                        Node::Text(_) => N::Text(p.clone(), i),
                    });
                }
            }
            _ => {}
        }
    }
    fn descendants(&self, n: &N, out: &mut Vec<N>) {
        let mut kids = Vec::new();
        self.children(n, &mut kids);
        for k in kids {
            out.push(k.clone());
            self.descendants(&k, out);
        }
    }
    fn test(&self, n: &N, t: &Test, attr_axis: bool) -> bool {
        match (t, n) {
            (Test::Node, _) => true,
            (Test::Text, N::Text(..)) => true,
            (Test::Any, N::Elem(_)) => !attr_axis,
            (Test::Any, N::Attr(..)) => attr_axis,
            (Test::Name(name), N::Elem(p)) => !attr_axis && self.elem(p).name == *name,
            (Test::Name(name), N::Attr(p, i)) => attr_axis && self.elem(p).attrs[*i].name == *name,
            _ => false,
        }
    }
    fn step(&self, ctx: &[N], st: &Step) -> PR<Vec<N>> {
        let mut out: Vec<N> = Vec::new();
        for n in ctx {
            let mut cand = Vec::new();
            match st.axis {
                Axis::Child => self.children(n, &mut cand),
                Axis::Descendant => self.descendants(n, &mut cand),
                Axis::DescendantOrSelf => {
                    cand.push(n.clone());
                    self.descendants(n, &mut cand);
                }
                Axis::SelfAx => cand.push(n.clone()),
                Axis::Parent => match n {
                    N::Elem(p) if p.is_empty() => cand.push(N::Root),
                    N::Elem(p) => cand.push(N::Elem(p[..p.len() - 1].to_vec())),
                    N::Attr(p, _) | N::Text(p, _) => cand.push(N::Elem(p.clone())),
                    N::Root => {}
                },
                Axis::Attribute => {
                    if let N::Elem(p) = n {
                        for i in 0..self.elem(p).attrs.len() {
                            cand.push(N::Attr(p.clone(), i));
                        }
                    }
                }
            }
            let attr_axis = matches!(st.axis, Axis::Attribute);
            let mut sel: Vec<N> = cand
                .into_iter()
                .filter(|c| self.test(c, &st.test, attr_axis))
                .collect();
            for pred in &st.preds {
                let size = sel.len();
                let mut keep = Vec::new();
                for (i, c) in sel.into_iter().enumerate() {
                    let v = self.eval(pred, &c, i + 1, size)?;
                    let ok = match v {
                        V::Num(x) => x == (i + 1) as f64,
                        v => truth(&v),
                    };
                    if ok {
                        keep.push(c);
                    }
                }
                sel = keep;
            }
            out.extend(sel);
        }
        sort_dedup(&mut out);
        Ok(out)
    }
    fn path(&self, p: &Path, ctx: &N) -> PR<Vec<N>> {
        let mut set = vec![if p.absolute { N::Root } else { ctx.clone() }];
        for st in &p.steps {
            set = self.step(&set, st)?;
        }
        Ok(set)
    }
    fn eval(&self, e: &Expr, ctx: &N, pos: usize, size: usize) -> PR<V> {
        Ok(match e {
            Expr::Path(p) => V::Set(self.path(p, ctx)?),
            Expr::Union(v) => {
                let mut all = Vec::new();
                for x in v {
                    match self.eval(x, ctx, pos, size)? {
                        V::Set(s) => all.extend(s),
                        _ => return Err(XErr::Invalid("Invalid type")),
                    }
                }
                sort_dedup(&mut all);
                V::Set(all)
            }
            Expr::Lit(s) => V::Str(s.clone()),
            Expr::Num(n) => V::Num(*n),
            Expr::Last => V::Num(size as f64),
            Expr::Position => V::Num(pos as f64),
            Expr::Func(name, args) => {
                let mut vals = Vec::new();
                for a in args {
                    vals.push(self.eval(a, ctx, pos, size)?);
                }
                let sv = |v: Option<&V>| -> String {
                    match v {
                        None => self.string(ctx),
                        Some(V::Set(s)) => s.first().map(|n| self.string(n)).unwrap_or_default(),
                        Some(V::Str(s)) => s.clone(),
                        Some(V::Num(n)) => fmt_num(*n),
                        Some(V::Bool(b)) => b.to_string(),
                    }
                };
                let node_name = |v: Option<&V>| -> String {
                    let n = match v {
                        None => Some(ctx.clone()),
                        Some(V::Set(s)) => s.first().cloned(),
                        _ => None,
                    };
                    match n {
                        Some(N::Elem(p)) => self.elem(&p).name.clone(),
                        Some(N::Attr(p, i)) => self.elem(&p).attrs[i].name.clone(),
                        _ => String::new(),
                    }
                };
                match name.as_str() {
                    "name" | "local-name" => {
                        let n = node_name(vals.first());
                        V::Str(if name == "local-name" {
                            n.rsplit(':').next().unwrap_or_default().to_string()
                        } else {
                            n
                        })
                    }
                    "count" => match vals.first() {
                        _ if vals.len() != 1 => {
                            return Err(XErr::Invalid("Invalid number of arguments"))
                        }
                        Some(V::Set(s)) => V::Num(s.len() as f64),
                        _ => return Err(XErr::Invalid("Invalid type")),
                    },
                    "not" => V::Bool(!vals.first().is_some_and(truth)),
                    "true" => V::Bool(true),
                    "false" => V::Bool(false),
                    "string" => V::Str(sv(vals.first())),
                    "contains" => V::Bool(sv(vals.first()).contains(&sv(vals.get(1)))),
                    "starts-with" => V::Bool(sv(vals.first()).starts_with(&sv(vals.get(1)))),
                    _ => return Err(XErr::Unregistered(name.clone())),
                }
            }
            Expr::Filter(e, preds, rest) => {
                let V::Set(mut sel) = self.eval(e, ctx, pos, size)? else {
                    return Err(XErr::Invalid("Invalid type"));
                };
                for pred in preds {
                    let n = sel.len();
                    let mut keep = Vec::new();
                    for (i, c) in sel.into_iter().enumerate() {
                        let ok = match self.eval(pred, &c, i + 1, n)? {
                            V::Num(x) => x == (i + 1) as f64,
                            v => truth(&v),
                        };
                        if ok {
                            keep.push(c);
                        }
                    }
                    sel = keep;
                }
                if let Some(p) = rest {
                    let mut out = Vec::new();
                    for n in &sel {
                        let mut set = vec![n.clone()];
                        for st in &p.steps {
                            set = self.step(&set, st)?;
                        }
                        out.extend(set);
                    }
                    sort_dedup(&mut out);
                    sel = out;
                }
                V::Set(sel)
            }
            Expr::Rel(a, op, b) => {
                let va = self.eval(a, ctx, pos, size)?;
                let vb = self.eval(b, ctx, pos, size)?;
                let nums = |v: &V| -> Vec<f64> {
                    match v {
                        V::Set(s) => s
                            .iter()
                            .map(|n| self.string(n).trim().parse().unwrap_or(f64::NAN))
                            .collect(),
                        V::Str(s) => vec![s.trim().parse().unwrap_or(f64::NAN)],
                        V::Num(n) => vec![*n],
                        V::Bool(b) => vec![if *b { 1.0 } else { 0.0 }],
                    }
                };
                let (na, nb) = (nums(&va), nums(&vb));
                let r = na.iter().any(|x| {
                    nb.iter().any(|y| match *op {
                        "<" => x < y,
                        ">" => x > y,
                        "<=" => x <= y,
                        _ => x >= y,
                    })
                });
                V::Bool(r)
            }
            Expr::And(a, b) => V::Bool(
                truth(&self.eval(a, ctx, pos, size)?) && truth(&self.eval(b, ctx, pos, size)?),
            ),
            Expr::Or(a, b) => V::Bool(
                truth(&self.eval(a, ctx, pos, size)?) || truth(&self.eval(b, ctx, pos, size)?),
            ),
            Expr::Cmp(a, eq, b) => {
                let va = self.eval(a, ctx, pos, size)?;
                let vb = self.eval(b, ctx, pos, size)?;
                let strs = |v: &V| -> Vec<String> {
                    match v {
                        V::Set(s) => s.iter().map(|n| self.string(n)).collect(),
                        V::Str(s) => vec![s.clone()],
                        V::Num(n) => vec![fmt_num(*n)],
                        V::Bool(b) => vec![b.to_string()],
                    }
                };
                let numeric = matches!(va, V::Num(_)) || matches!(vb, V::Num(_));
                let (sa, sb) = (strs(&va), strs(&vb));
                let mut r = false;
                for x in &sa {
                    for y in &sb {
                        let same = if numeric {
                            x.trim().parse::<f64>().ok() == y.trim().parse::<f64>().ok()
                                && x.trim().parse::<f64>().is_ok()
                        } else {
                            x == y
                        };
                        if same == *eq {
                            r = true;
                        }
                    }
                }
                V::Bool(r)
            }
        })
    }
}

fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn truth(v: &V) -> bool {
    match v {
        V::Set(s) => !s.is_empty(),
        V::Str(s) => !s.is_empty(),
        V::Num(n) => *n != 0.0 && !n.is_nan(),
        V::Bool(b) => *b,
    }
}

fn sort_dedup(v: &mut Vec<N>) {
    v.sort_by_key(|n| n.key());
    v.dedup();
}

/// Escapes element content as libxml2 does.
fn esc_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\r', "&#13;")
}

/// Escapes an attribute value as libxml2 does.
fn esc_attr(s: &str) -> String {
    esc_text(s)
        .replace('"', "&quot;")
        .replace('\n', "&#10;")
        .replace('\t', "&#9;")
}

fn dump_elem(e: &Element, depth: usize, out: &mut String) {
    let ind = "  ".repeat(depth);
    dump_open(
        e,
        &ind,
        out,
        |out, depth| {
            for c in &e.children {
                match c {
                    Node::Element(ch) => dump_elem(ch, depth, out),
                    Node::Text(t) => out.push_str(&esc_text(t)),
                }
            }
        },
        depth,
    );
}

/// Writes `<name attrs>` then the children then `</name>`, with libxml2's
/// formatting: children are indented on their own lines only when every
/// child is an element.
fn dump_open(
    e: &Element,
    ind: &str,
    out: &mut String,
    body: impl FnOnce(&mut String, usize),
    depth: usize,
) {
    out.push_str(ind);
    out.push('<');
    out.push_str(&e.name);
    for a in &e.attrs {
        out.push_str(&format!(" {}=\"{}\"", a.name, esc_attr(&a.value)));
    }
    if e.children.is_empty() {
        out.push_str("/>\n");
        return;
    }
    out.push('>');
    let all_elems = e.children.iter().all(|c| matches!(c, Node::Element(_)));
    if all_elems {
        out.push('\n');
        body(out, depth + 1);
        out.push_str(ind);
    } else {
        // libxml2 does not format mixed content
        for c in &e.children {
            match c {
                Node::Element(ch) => dump_raw(ch, out),
                Node::Text(t) => out.push_str(&esc_text(t)),
            }
        }
    }
    out.push_str(&format!("</{}>\n", e.name));
}

/// virXMLNodeToString on a node of a document parsed with its blanks:
/// libxml2 keeps the text nodes, so it formats nothing.
pub fn node_string(e: &Element) -> String {
    let mut s = String::new();
    dump_raw(e, &mut s);
    s
}

/// An element without formatting (inside mixed content).
fn dump_raw(e: &Element, out: &mut String) {
    out.push('<');
    out.push_str(&e.name);
    for a in &e.attrs {
        out.push_str(&format!(" {}=\"{}\"", a.name, esc_attr(&a.value)));
    }
    if e.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for c in &e.children {
        match c {
            Node::Element(ch) => dump_raw(ch, out),
            Node::Text(t) => out.push_str(&esc_text(t)),
        }
    }
    out.push_str(&format!("</{}>", e.name));
}

/// Serializes an element in libxml2's formatted style (no trailing newline).
pub fn serialize(e: &Element) -> String {
    let mut s = String::new();
    dump_elem(e, 0, &mut s);
    s.pop();
    s
}

/// virshDumpXML with an XPath: the text to print, or why not.
pub fn dump(xml: &str, xpath: &str, wrap: bool) -> Result<String, XErr> {
    let mut root = match oxvirt_xml::dom::parse(xml, "") {
        Ok(r) => r,
        Err(_) => return Ok(String::new()),
    };
    root.strip_blanks();
    let mut p = P {
        s: xpath.as_bytes(),
        i: 0,
    };
    let e = p.union()?;
    p.ws();
    if p.i < p.s.len() {
        return Err(INVALID);
    }
    let doc = Doc { root: &root };
    let nodes = match doc.eval(&e, &N::Elem(vec![]), 1, 1)? {
        V::Set(s) => s,
        _ => return Err(XErr::NotNodeSet),
    };
    let mut out = String::new();
    if wrap {
        let mut w = Element::new("nodes");
        for n in &nodes {
            match n {
                N::Root => w.children.push(Node::Element(root.clone())),
                N::Elem(p) => w.children.push(Node::Element(doc.elem(p).clone())),
                N::Attr(p, i) => {
                    let a = &doc.elem(p).attrs[*i];
                    w.set_attr(&a.name, a.value.clone());
                }
                N::Text(..) => {
                    let t = doc.string(n);
                    match w.children.last_mut() {
                        Some(Node::Text(prev)) => prev.push_str(&t),
                        _ => w.children.push(Node::Text(t)),
                    }
                }
            }
        }
        out.push_str(&serialize(&w));
        out.push('\n');
    } else {
        for n in &nodes {
            match n {
                N::Root => {
                    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                    out.push_str(&serialize(&root));
                    out.push('\n');
                }
                N::Elem(p) => out.push_str(&serialize(doc.elem(p))),
                N::Attr(p, i) => {
                    let a = &doc.elem(p).attrs[*i];
                    out.push_str(&format!(" {}=\"{}\"", a.name, esc_attr(&a.value)));
                }
                N::Text(..) => out.push_str(&esc_text(&doc.string(n))),
            }
            out.push('\n');
        }
    }
    Ok(out)
}
