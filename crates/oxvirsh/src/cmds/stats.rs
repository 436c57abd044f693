//! Domain statistics and device lists: domstats, domblkstat, domifstat,
//! dommemstat, domblklist, domiflist.

use oxvirt_core::error::code;
use oxvirt_core::types::flags::{domain_xml, stats as sf};
use oxvirt_xml::dom::{self, Element};

use crate::cmd::Cmd;
use crate::ctl::{Ctl, Fail, R};
use crate::out::{self, Cell, J};
use crate::table::Table;

use super::tune::param_str;
use super::Handler;

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "domstats" => domstats,
        "domblkstat" => domblkstat,
        "domifstat" => domifstat,
        "dommemstat" => dommemstat,
        "domblklist" => domblklist,
        "domiflist" => domiflist,
        _ => return None,
    })
}

fn domstats(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut stats = 0;
    for (o, f) in [
        ("state", sf::STATE),
        ("cpu-total", sf::CPU_TOTAL),
        ("balloon", sf::BALLOON),
        ("vcpu", sf::VCPU),
        ("interface", sf::INTERFACE),
        ("block", sf::BLOCK),
        ("perf", sf::PERF),
        ("iothread", sf::IOTHREAD),
        ("memory", sf::MEMORY),
        ("dirtyrate", sf::DIRTYRATE),
        ("vm", sf::VM),
    ] {
        if c.has(o) {
            stats |= f;
        }
    }
    let mut flags = 0;
    for (o, f) in [
        ("list-active", sf::ACTIVE),
        ("list-inactive", sf::INACTIVE),
        ("list-persistent", sf::PERSISTENT),
        ("list-transient", sf::TRANSIENT),
        ("list-running", sf::RUNNING),
        ("list-paused", sf::PAUSED),
        ("list-shutoff", sf::SHUTOFF),
        ("list-other", sf::OTHER),
        ("enforce", sf::ENFORCE_STATS),
        ("backing", sf::BACKING),
        ("nowait", sf::NOWAIT),
    ] {
        if c.has(o) {
            flags |= f;
        }
    }
    let names: Vec<String> = c.argv().iter().map(|s| s.to_string()).collect();
    let conn = ctl.conn()?;
    let records = if names.is_empty() {
        conn.get_all_domain_stats(None, stats, flags)?
    } else {
        let mut doms = Vec::new();
        for n in &names {
            doms.push(ctl.lookup_domain(n)?);
        }
        conn.get_all_domain_stats(Some(&doms), stats, flags)?
    };
    let mut s = String::new();
    let mut j = Vec::new();
    for (i, (dom, params)) in records.iter().enumerate() {
        s += &format!("Domain: '{}'\n", dom.name);
        for p in params {
            s += &format!("  {}={}\n", p.field, param_str(&p.value));
        }
        if i + 1 < records.len() {
            s.push('\n');
        }
        j.push(J::Obj(vec![
            ("domain".into(), J::from(&dom.name)),
            ("stats".into(), out::params(params)),
        ]));
    }
    ctl.emit(&s, J::Arr(j));
    Ok(())
}

fn domblkstat(ctl: &mut Ctl, c: &Cmd) -> R {
    let name = c.req("domain")?.to_string();
    let dom = ctl.domain(c)?;
    let device = c.string("device")?.unwrap_or("").to_string();
    let human = c.has("human");
    let conn = ctl.conn()?;
    let legacy = [
        ("rd_req", "number of read operations:"),
        ("rd_bytes", "number of bytes read:"),
        ("wr_req", "number of write operations:"),
        ("wr_bytes", "number of bytes written:"),
        ("errs", "error count:"),
    ];
    match conn.domain_block_stats_flags(&dom, &device, 16, 0) {
        Ok(params) => {
            let mut s = String::new();
            let mut dev = device.as_str();
            if human {
                s += &format!("Device: {}\n", device);
                dev = "";
            }
            for p in &params {
                let label = if human {
                    legacy
                        .iter()
                        .find(|(l, _)| *l == p.field)
                        .map(|(_, h)| h.to_string())
                        .unwrap_or_else(|| p.field.clone())
                } else {
                    p.field.clone()
                };
                if human {
                    s += &format!("{} {:<31} {}\n", dev, label, param_str(&p.value));
                } else {
                    s += &format!("{} {} {}\n", dev, label, param_str(&p.value));
                }
            }
            ctl.emit(&s, out::params(&params));
            Ok(())
        }
        Err(e) if e.code != code::NO_SUPPORT => Err(e.into()),
        Err(_) => {
            let st = conn.domain_block_stats(&dom, &device).map_err(|e| {
                Fail::msg_lib(format!("Failed to get block stats {} {}", name, device), e)
            })?;
            let mut s = String::new();
            let mut j = Vec::new();
            let mut dev = device.as_str();
            if human {
                s += &format!("Device: {}\n", device);
                dev = "";
            }
            for ((l, h), v) in
                legacy
                    .iter()
                    .zip([st.rd_req, st.rd_bytes, st.wr_req, st.wr_bytes, st.errs])
            {
                if v == -1 {
                    continue;
                }
                j.push((l.to_string(), J::from(v)));
                if human {
                    s += &format!("{} {:<31} {}\n", dev, h, v);
                } else {
                    s += &format!("{} {} {}\n", dev, l, v);
                }
            }
            ctl.emit(&s, J::Obj(j));
            Ok(())
        }
    }
}

fn domifstat(ctl: &mut Ctl, c: &Cmd) -> R {
    let name = c.req("domain")?.to_string();
    let dom = ctl.domain(c)?;
    let device = c.req("interface")?.to_string();
    let st = ctl
        .conn()?
        .domain_interface_stats(&dom, &device)
        .map_err(|e| {
            Fail::msg_lib(
                format!("Failed to get interface stats {} {}", name, device),
                e,
            )
        })?;
    let mut s = String::new();
    let mut j = Vec::new();
    for (k, v) in [
        ("rx_bytes", st.rx_bytes),
        ("rx_packets", st.rx_packets),
        ("rx_errs", st.rx_errs),
        ("rx_drop", st.rx_drop),
        ("tx_bytes", st.tx_bytes),
        ("tx_packets", st.tx_packets),
        ("tx_errs", st.tx_errs),
        ("tx_drop", st.tx_drop),
    ] {
        if v >= 0 {
            s += &format!("{} {} {}\n", device, k, v);
            j.push((k.to_string(), J::from(v)));
        }
    }
    ctl.emit(&s, J::Obj(j));
    Ok(())
}

fn dommemstat(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = super::domain::impact(c)?;
    let name = c.req("domain")?.to_string();
    let dom = ctl.domain(c)?;
    let conn = ctl.conn()?;
    if !c.has("current")
        && !c.has("live")
        && !c.has("config")
        && conn.domain_is_active(&dom).unwrap_or(false)
    {
        flags |= 1;
    }
    if let Some(p) = c.int("period")? {
        if p < 0 {
            return Err(Fail::Msg(format!(
                "Invalid collection period value '{}'",
                p
            )));
        }
        conn.domain_set_memory_stats_period(&dom, p, flags)
            .map_err(|e| Fail::msg_lib("Unable to change balloon collection period.", e))?;
        return Ok(());
    }
    let stats = conn.domain_memory_stats(&dom, 14, 0).map_err(|e| {
        Fail::msg_lib(
            format!("Failed to get memory statistics for domain {}", name),
            e,
        )
    })?;
    let names = [
        "swap_in",
        "swap_out",
        "major_fault",
        "minor_fault",
        "unused",
        "available",
        "actual",
        "rss",
        "usable",
        "last_update",
        "disk_caches",
        "hugetlb_pgalloc",
        "hugetlb_pgfail",
    ];
    let mut s = String::new();
    let mut j = Vec::new();
    for st in stats {
        if let Some(n) = usize::try_from(st.tag).ok().and_then(|t| names.get(t)) {
            s += &format!("{} {}\n", n, st.val);
            j.push((n.to_string(), J::from(st.val)));
        }
    }
    ctl.emit(&s, J::Obj(j));
    Ok(())
}

/// virshDomainGetXML: the domain's document as a tree.
fn domain_tree(ctl: &mut Ctl, c: &Cmd) -> Result<Element, Fail> {
    let flags = if c.has("inactive") {
        domain_xml::INACTIVE
    } else {
        0
    };
    let dom = ctl.domain(c)?;
    let xml = ctl.conn()?.domain_get_xml_desc(&dom, flags)?;
    dom::parse(&xml, "domain.xml").map_err(|e| Fail::Msg(e.to_string()))
}

fn devices<'a>(root: &'a Element, kind: &'a str) -> impl Iterator<Item = &'a Element> {
    root.child("devices")
        .into_iter()
        .flat_map(move |d| d.children_named(kind))
}

/// virsh's `string(./source/@a|./source/@b|...)`: an XPath union is in
/// document order, so the first of these attributes as the element
/// writes them (for a running `<interface type='network'>` that is the
/// network, not the bridge written after it).
fn first_attr(el: Option<&Element>, names: &[&str]) -> Option<String> {
    el?.attrs
        .iter()
        .find(|a| names.contains(&a.name.as_str()))
        .map(|a| a.value.clone())
}

fn domblklist(ctl: &mut Ctl, c: &Cmd) -> R {
    let details = c.has("details");
    let root = domain_tree(ctl, c)?;
    let mut t = if details {
        Table::new(&["Type", "Device", "Target", "Source"])
    } else {
        Table::new(&["Target", "Source"])
    };
    for d in devices(&root, "disk") {
        let kind = d.attr("type").unwrap_or("").to_string();
        let device = d.attr("device").unwrap_or("").to_string();
        let Some(target) = d.child("target").and_then(|t| t.attr("dev")) else {
            return Err(Fail::Msg("unable to query block list".into()));
        };
        let source = if kind == "nvme" {
            let src = d.child("source");
            let ns = src.and_then(|s| s.attr("namespace"));
            let addr = src.and_then(|s| s.child("address"));
            let num = |k: &str| {
                addr.and_then(|a| a.attr(k))
                    .and_then(oxvirt_xml::props::parse_u64_any_base)
                    .unwrap_or(0)
            };
            match (ns, addr) {
                (Some(ns), Some(_)) => Some(format!(
                    "nvme://{:04x}:{:02x}:{:02x}.{}/{}",
                    num("domain"),
                    num("bus"),
                    num("slot"),
                    num("function"),
                    ns
                )),
                _ => return Err(Fail::Msg("Unable to query NVMe disk address".into())),
            }
        } else {
            first_attr(
                d.child("source"),
                &["file", "dev", "dir", "name", "volume", "path"],
            )
        };
        let source = Cell::opt(source);
        if details {
            t.row([kind.into(), device.into(), target.into(), source]);
        } else {
            t.row([target.into(), source]);
        }
    }
    ctl.emit_table(&t);
    Ok(())
}

fn domiflist(ctl: &mut Ctl, c: &Cmd) -> R {
    let root = domain_tree(ctl, c)?;
    let mut t = Table::new(&["Interface", "Type", "Source", "Model", "MAC"]);
    for i in devices(&root, "interface") {
        let dash = Cell::opt;
        t.row([
            dash(first_attr(i.child("target"), &["dev"])),
            i.attr("type").unwrap_or("").into(),
            dash(first_attr(
                i.child("source"),
                &["bridge", "dev", "network", "name", "path"],
            )),
            dash(first_attr(i.child("model"), &["type"])),
            dash(first_attr(i.child("mac"), &["address"])),
        ]);
    }
    ctl.emit_table(&t);
    Ok(())
}
