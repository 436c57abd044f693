//! `<cpu>` (guest CPU) in libvirt's canonical form: mode, match and
//! fallback defaults, feature policies, fixed child order. The section
//! stays an element so callers can read it as written.

use crate::dom::{Element, Node};

/// Children of `<cpu>` in the order libvirt writes them.
const CHILD_ORDER: &[&str] = &[
    "model",
    "vendor",
    "topology",
    "cache",
    "maxphysaddr",
    "feature",
    "numa",
];

fn push(out: &mut Element, c: Element) {
    out.children.push(Node::Element(c));
}

/// Rewrites a guest `<cpu>` the way libvirt formats it.
pub fn canonical_cpu(el: &Element) -> Element {
    let mut out = Element::new("cpu");
    out.line = el.line;
    let mode = el.attr("mode").unwrap_or("custom");
    let model_el = el.child("model");
    let model_text = model_el.map(|m| m.text()).filter(|t| !t.is_empty());
    if mode != "custom" || model_text.is_some() {
        out.set_attr("mode", mode);
        if mode == "custom" {
            out.set_attr("match", el.attr("match").unwrap_or("exact"));
        }
        if let Some(c) = el.attr("check") {
            out.set_attr("check", c);
        }
        if matches!(mode, "host-passthrough" | "maximum") {
            if let Some(m) = el.attr("migratable") {
                out.set_attr("migratable", m);
            }
        }
    }
    let format_model = matches!(mode, "custom" | "host-model");
    for name in CHILD_ORDER {
        match *name {
            "model" => {
                let vendor_id = model_el.and_then(|m| m.attr("vendor_id"));
                if format_model && (model_text.is_some() || vendor_id.is_some()) {
                    let mut m = Element::new("model");
                    if let Some(t) = &model_text {
                        m.set_attr(
                            "fallback",
                            model_el.and_then(|m| m.attr("fallback")).unwrap_or("allow"),
                        );
                        m.children.push(Node::Text(t.clone()));
                    }
                    if let Some(v) = vendor_id {
                        m.set_attr("vendor_id", v);
                    }
                    push(&mut out, m);
                }
            }
            "vendor" => {
                if format_model {
                    if let Some(v) = el.child("vendor") {
                        push(&mut out, v.clone());
                    }
                }
            }
            "topology" => {
                if let Some(t) = el.child("topology") {
                    let mut n = Element::new("topology");
                    for (k, d) in [
                        ("sockets", None),
                        ("dies", Some("1")),
                        ("cores", None),
                        ("threads", None),
                    ] {
                        if let Some(v) = t.attr(k).or(d) {
                            n.set_attr(k, v);
                        }
                    }
                    push(&mut out, n);
                }
            }
            "feature" => {
                for f in el.children_named("feature") {
                    let mut n = Element::new("feature");
                    n.set_attr("policy", f.attr("policy").unwrap_or("require"));
                    if let Some(v) = f.attr("name") {
                        n.set_attr("name", v);
                    }
                    push(&mut out, n);
                }
            }
            other => {
                for c in el.children_named(other) {
                    push(&mut out, c.clone());
                }
            }
        }
    }
    for c in el.elements() {
        if !CHILD_ORDER.contains(&c.name.as_str()) && super::is_schema_element(&c.name) {
            push(&mut out, c.clone());
        }
    }
    out
}
