//! Devices the model keeps as elements (filesystems, RNGs, shared memory,
//! balloons, redirected and smartcard devices), rewritten in libvirt's
//! canonical form: defaults made explicit, libvirt's attribute and child
//! order, libvirt's units. A value that does not parse is left as written
//! for validation to report.

use crate::dom::{Element, Node};
use crate::props;

fn rank(order: &[&str], name: &str) -> usize {
    order.iter().position(|n| *n == name).unwrap_or(order.len())
}

/// Stable-sorts the element children of `el` by `order` (unknown names
/// last), dropping blank text.
fn order_children(el: &mut Element, order: &[&str]) {
    let mut kids: Vec<Element> = el.elements().cloned().collect();
    kids.sort_by_key(|c| rank(order, &c.name));
    el.children = kids.into_iter().map(Node::Element).collect();
}

fn order_attrs(el: &mut Element, order: &[&str]) {
    el.attrs.sort_by_key(|a| rank(order, &a.name));
}

/// Only a TCP character source has a `<protocol>` (virDomainChrSourceDefFormat);
/// libvirt's parser never reads one elsewhere.
fn drop_non_tcp_protocol(el: &mut Element) {
    if el.attr("type") == Some("tcp") {
        return;
    }
    el.children
        .retain(|n| !matches!(n, Node::Element(p) if p.name == "protocol"));
}

/// `<filesystem>` (virDomainFSDefFormat, virDomainFSDefPostParse).
fn filesystem(el: &mut Element) {
    let mode = |k: &str| el.attr(k).map(|v| u32::from_str_radix(v.trim(), 8).ok());
    let (fmode, dmode) = (mode("fmode"), mode("dmode"));
    if matches!(fmode, Some(None)) || matches!(dmode, Some(None)) {
        return;
    }
    if el.attr("type").is_none() {
        el.set_attr("type", "mount");
    }
    let socket = el.child("source").is_some_and(|s| s.has_attr("socket"));
    if el.attr("accessmode").is_none() && !socket {
        el.set_attr("accessmode", "passthrough");
    }
    for (k, v) in [("fmode", fmode), ("dmode", dmode)] {
        match v.flatten() {
            Some(0) => el.attrs.retain(|a| a.name != k),
            Some(m) => el.set_attr(k, format!("{:04o}", m)),
            None => {}
        }
    }
    order_attrs(
        el,
        &["type", "accessmode", "model", "multidevs", "fmode", "dmode"],
    );
}

/// `<rng>`: the random backend reads /dev/random unless told
/// (virDomainRNGDefPostParse); an egd backend has a protocol only over TCP.
fn rng(el: &mut Element) {
    for n in el.children.iter_mut() {
        let Node::Element(b) = n else { continue };
        if b.name != "backend" {
            continue;
        }
        match b.attr("model") {
            Some("random") if b.text().is_empty() => {
                b.children = vec![Node::Text("/dev/random".into())];
            }
            Some("egd") => drop_non_tcp_protocol(b),
            _ => {}
        }
    }
}

/// `<shmem>` (virDomainShmemDefFormat): the model always written, the
/// size in whole MiB, children in libvirt's order.
fn shmem(el: &mut Element) {
    let size = match el.child("size") {
        None => None,
        Some(s) => {
            let Some(bytes) = s
                .text()
                .trim()
                .parse::<u64>()
                .ok()
                .and_then(|v| props::scale(v, s.attr("unit"), 1, u64::MAX).ok())
            else {
                return;
            };
            Some(bytes)
        }
    };
    let mut kids: Vec<Element> = el
        .elements()
        .filter(|c| c.name != "size" && c.name != "model")
        .cloned()
        .collect();
    let mut model = Element::new("model");
    model.set_attr(
        "type",
        el.child("model")
            .and_then(|m| m.attr("type"))
            .unwrap_or("ivshmem"),
    );
    kids.insert(0, model);
    if let Some(b) = size.filter(|b| *b > 0) {
        let mut s = Element::new("size");
        s.set_attr("unit", "M");
        s.children.push(Node::Text((b >> 20).to_string()));
        kids.insert(1, s);
    }
    el.children = kids.into_iter().map(Node::Element).collect();
    order_children(el, &["model", "size", "server", "msi", "alias", "address"]);
}

/// A size element (`<name unit=...>N</name>`) rewritten in KiB, rounded
/// up, with `default` the scale of a bare number; `None` when it does not
/// parse.
pub fn in_kib(e: &Element, default: u64) -> Option<Element> {
    let v: u64 = e.text().trim().parse().ok()?;
    let bytes = props::scale(v, e.attr("unit"), default, u64::MAX).ok()?;
    let mut out = Element::new(e.name.clone());
    out.line = e.line;
    out.set_attr("unit", "KiB");
    out.children
        .push(Node::Text(bytes.div_ceil(1024).to_string()));
    Some(out)
}

/// Rewrites a device kept as an element the way libvirt writes it.
pub fn canonical_raw_device(el: &mut Element) {
    match el.name.as_str() {
        "filesystem" => filesystem(el),
        "rng" => rng(el),
        "shmem" => shmem(el),
        "smartcard" if el.attr("mode") == Some("passthrough") => drop_non_tcp_protocol(el),
        "redirdev" => {
            drop_non_tcp_protocol(el);
            order_children(el, &["source", "protocol", "boot", "alias", "address"]);
        }
        "memballoon" => order_children(el, &["stats", "alias", "address", "driver"]),
        _ => {}
    }
}
