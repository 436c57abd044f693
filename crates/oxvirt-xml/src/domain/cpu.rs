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
            "maxphysaddr" => {
                if let Some(m) = el.child("maxphysaddr") {
                    // virCPUMaxPhysAddrFormat: mode, then bits.
                    let mut n = m.clone();
                    n.attrs.sort_by_key(|a| match a.name.as_str() {
                        "mode" => 0,
                        "bits" => 1,
                        _ => 2,
                    });
                    push(&mut out, n);
                }
            }
            "numa" => {
                if let Some(n) = el.child("numa") {
                    push(&mut out, canonical_numa(n).unwrap_or_else(|| n.clone()));
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

/// The guest NUMA cells in KiB, by cell id (`None` when a cell does not
/// parse; validation reports it).
pub fn numa_cell_memory(numa: &Element) -> Option<Vec<u64>> {
    Some(
        numa_cells_by_id(numa)?
            .iter()
            .map(|(_, kib, _)| *kib)
            .collect(),
    )
}

/// Cells as (element, memory KiB, canonical cpus) ordered by id.
fn numa_cells_by_id(numa: &Element) -> Option<Vec<(&Element, u64, Option<String>)>> {
    let cells: Vec<&Element> = numa.children_named("cell").collect();
    let mut slots: Vec<Option<(&Element, u64, Option<String>)>> = vec![None; cells.len()];
    for (i, c) in cells.iter().enumerate() {
        let id = match c.attr("id") {
            None => i,
            Some(v) => v.trim().parse::<usize>().ok()?,
        };
        let slot = slots.get_mut(id)?;
        if slot.is_some() {
            return None;
        }
        let kib = crate::props::memory_kib(c.attr("memory")?, c.attr("unit"), "./@memory").ok()?;
        let cpus = match c.attr("cpus") {
            Some(s) => {
                let bits = super::postparse::parse_cpuset(s).ok()?;
                (!bits.is_empty()).then(|| super::postparse::format_cpuset(&bits))
            }
            None => None,
        };
        *slot = Some((*c, kib, cpus));
    }
    slots.into_iter().collect()
}

/// The distance table virDomainNumaDefNodeDistanceParseXML builds: cells
/// in document order, each sibling's value, the local distance 10 on the
/// diagonal of every row it touches, and the symmetric value where the
/// other cell gave none. `None` when nothing is given or something does
/// not parse (validation reports it; the document is then kept as is).
fn numa_distances(numa: &Element) -> Option<Vec<Option<Vec<u32>>>> {
    let cells: Vec<&Element> = numa.children_named("cell").collect();
    let n = cells.len();
    let mut d: Vec<Option<Vec<u32>>> = vec![None; n];
    let mut any = false;
    for (i, c) in cells.iter().enumerate() {
        let cur = match c.attr("id") {
            None => i,
            Some(v) => v.trim().parse::<usize>().ok()?,
        };
        let Some(ds) = c.child("distances") else {
            continue;
        };
        for s in ds.children_named("sibling") {
            let sid = s.attr("id")?.trim().parse::<usize>().ok()?;
            let val = s.attr("value")?.trim().parse::<u32>().ok()?;
            if sid >= n || cur >= n {
                return None;
            }
            any = true;
            let row = |k: usize| {
                let mut r = vec![0; n];
                r[k] = 10;
                r
            };
            d[cur].get_or_insert_with(|| row(cur))[sid] = val;
            let r = d[sid].get_or_insert_with(|| row(sid));
            if r[cur] == 0 {
                r[cur] = val;
            }
        }
    }
    any.then_some(d)
}

/// `<numa>` as libvirt writes it: cells by id, each with its id, CPU
/// list, memory in KiB and access attributes.
fn canonical_numa(numa: &Element) -> Option<Element> {
    let mut out = Element::new("numa");
    out.line = numa.line;
    let distances = numa_distances(numa);
    for (i, (c, kib, cpus)) in numa_cells_by_id(numa)?.into_iter().enumerate() {
        let mut n = Element::new("cell");
        n.line = c.line;
        n.set_attr("id", i.to_string());
        if let Some(cpus) = cpus {
            n.set_attr("cpus", cpus);
        }
        n.set_attr("memory", kib.to_string());
        n.set_attr("unit", "KiB");
        for k in ["memAccess", "discard"] {
            if let Some(v) = c.attr(k) {
                n.set_attr(k, v);
            }
        }
        match distances.as_ref() {
            Some(d) => {
                if let Some(row) = &d[i] {
                    let mut ds = Element::new("distances");
                    for (j, v) in row.iter().enumerate().filter(|(_, v)| **v != 0) {
                        let mut s = Element::new("sibling");
                        s.set_attr("id", j.to_string());
                        s.set_attr("value", v.to_string());
                        push(&mut ds, s);
                    }
                    push(&mut n, ds);
                }
                n.children.extend(
                    c.children
                        .iter()
                        .filter(|x| !matches!(x, Node::Element(e) if e.name == "distances"))
                        .cloned(),
                );
            }
            None => n.children = c.children.clone(),
        }
        push(&mut out, n);
    }
    for c in numa.elements().filter(|c| c.name != "cell") {
        push(&mut out, c.clone());
    }
    Some(out)
}
