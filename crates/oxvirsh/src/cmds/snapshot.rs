//! Snapshot commands (virsh-snapshot.c): create, create-as, current,
//! info, list, dumpxml, parent, revert, delete.

use oxvirt_core::error::code;
use oxvirt_core::types::flags::{
    snapshot_create as cf, snapshot_delete as df, snapshot_list as lf, snapshot_revert as rf,
    snapshot_xml,
};
use oxvirt_core::types::{DomainRef, SnapshotRef};
use oxvirt_xml::dom::Element;
use oxvirt_xml::writer::escape;

use crate::cmd::Cmd;
use crate::ctl::{Ctl, Fail, R};
use crate::out::{Block, Cell};
use crate::table::Table;

use super::{exclusive, read_file, Handler};

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "snapshot-create" => create,
        "snapshot-create-as" => create_as,
        "snapshot-current" => current,
        "snapshot-info" => info,
        "snapshot-list" => list,
        "snapshot-dumpxml" => dumpxml,
        "snapshot-parent" => parent,
        "snapshot-revert" => revert,
        "snapshot-delete" => delete,
        "snapshot-edit" => edit,
        _ => return None,
    })
}

/// Formats epoch seconds in local time as `%Y-%m-%d %H:%M:%S %z`
/// (g_date_time_new_from_unix_local + g_date_time_format).
pub fn local_time(secs: i64) -> String {
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: localtime_r writes into the zeroed tm we own; strftime
    // writes at most buf.len() bytes into buf and a NUL-terminated
    // format string is passed.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return String::new();
        }
        let mut buf = [0u8; 64];
        let fmt = b"%Y-%m-%d %H:%M:%S %z\0";
        let n = libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            fmt.as_ptr() as *const libc::c_char,
            &tm,
        );
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

/// Parses XML returned by the library (virXMLParseStringCtxt).
pub fn parse_doc(xml: &str, url: &str) -> Option<Element> {
    oxvirt_xml::dom::parse(xml, url).ok()
}

/// `string(/ROOT/a/b)`: `None` when absent or empty.
pub fn path_text(root: &Element, path: &[&str]) -> Option<String> {
    let mut el = root;
    for p in path {
        el = el.child(p)?;
    }
    let t = el.text();
    (!t.is_empty()).then_some(t)
}

/// vshTreePrint: prints the subtree of `devid`; `items` holds
/// `(name, parent)` pairs.
pub fn tree_print(out: &mut String, items: &[(String, Option<String>)], devid: usize) {
    let mut indent = String::new();
    tree_print_internal(out, items, devid, devid, true, &mut indent);
}

fn tree_print_internal(
    out: &mut String,
    items: &[(String, Option<String>)],
    devid: usize,
    lastdev: usize,
    root: bool,
    indent: &mut String,
) {
    let dev = items[devid].0.clone();
    out.push_str(&format!(
        "{}{}{}\n",
        indent,
        if root { "" } else { "+- " },
        dev
    ));
    if !root {
        indent.push(if devid == lastdev { ' ' } else { '|' });
        indent.push(' ');
    }
    let children: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, (_, p))| p.as_deref() == Some(dev.as_str()))
        .map(|(i, _)| i)
        .collect();
    let nextlast = children.last().copied();
    if nextlast.is_some() {
        out.push_str(&format!("{}  |\n", indent));
    }
    indent.push_str("  ");
    if let Some(last) = nextlast {
        for i in children {
            tree_print_internal(out, items, i, last, false, indent);
        }
    }
    if indent.ends_with("  ") {
        indent.truncate(indent.len() - 2);
    }
    if nextlast.is_none() && devid == lastdev {
        out.push_str(&format!("{}\n", indent));
    }
    if !root {
        let l = indent.len().saturating_sub(2);
        indent.truncate(l);
    }
}

/// virshSnapshotCreate.
fn do_create(ctl: &mut Ctl, dom: &DomainRef, xml: &str, flags: u32, from: Option<&str>) -> R {
    let conn = ctl.conn()?;
    let mut flags = flags;
    let mut res = conn.snapshot_create_xml(dom, xml, flags);
    if let Err(e) = &res {
        if e.code == code::NO_SUPPORT && from.is_none() {
            flags &= !cf::VALIDATE;
            res = conn.snapshot_create_xml(dom, xml, flags);
        }
    }
    let mut halt = false;
    if let Err(e) = &res {
        if e.code == code::INVALID_ARG && flags & cf::HALT != 0 {
            if !conn.domain_is_persistent(dom)? {
                return Err(Fail::Msg(
                    "cannot halt after snapshot of transient domain".into(),
                ));
            }
            halt = conn.domain_is_active(dom).unwrap_or(false);
            flags &= !cf::HALT;
            res = conn.snapshot_create_xml(dom, xml, flags);
        }
    }
    let snap = res?;
    if halt {
        conn.domain_destroy(dom, 0)?;
    }
    match from {
        Some(f) => ctl.extra(&format!(
            "Domain snapshot {} created from '{}'",
            snap.name, f
        )),
        None => ctl.extra(&format!("Domain snapshot {} created", snap.name)),
    }
    Ok(())
}

fn create(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = 0;
    for (o, f) in [
        ("redefine", cf::REDEFINE),
        ("current", cf::CURRENT),
        ("no-metadata", cf::NO_METADATA),
        ("halt", cf::HALT),
        ("disk-only", cf::DISK_ONLY),
        ("reuse-external", cf::REUSE_EXT),
        ("quiesce", cf::QUIESCE),
        ("atomic", cf::ATOMIC),
        ("live", cf::LIVE),
        ("validate", cf::VALIDATE),
    ] {
        if c.has(o) {
            flags |= f;
        }
    }
    let dom = ctl.domain(c)?;
    let from = c.string("xmlfile")?.map(str::to_string);
    let xml = match &from {
        None => "<domainsnapshot/>".to_string(),
        Some(f) => read_file(f)?,
    };
    do_create(ctl, &dom, &xml, flags, from.as_deref())
}

/// vshStringToArray: splits on commas, `,,` standing for a comma.
pub fn string_to_array(s: &str) -> Vec<String> {
    let parts: Vec<&str> = s.split(',').collect();
    let mut out = vec![parts[0].to_string()];
    let mut concat = false;
    for p in &parts[1..] {
        if concat {
            if let Some(last) = out.last_mut() {
                last.push(',');
                last.push_str(p);
            }
            concat = false;
            continue;
        }
        if p.is_empty() {
            concat = true;
        } else {
            out.push(p.to_string());
        }
    }
    if concat {
        out.push(String::new());
    }
    out
}

fn memspec(buf: &mut String, s: &str) -> R {
    let mut snapshot = None;
    let mut file = None;
    for a in string_to_array(s) {
        if snapshot.is_none() && a.starts_with("snapshot=") {
            snapshot = Some(a["snapshot=".len()..].to_string());
        } else if file.is_none() && a.starts_with("file=") {
            file = Some(a["file=".len()..].to_string());
        } else if file.is_none() && a.starts_with('/') {
            file = Some(a);
        } else {
            return Err(Fail::Msg(format!("unable to parse memspec: {}", s)));
        }
    }
    buf.push_str("  <memory");
    if let Some(v) = snapshot {
        buf.push_str(&format!(" snapshot='{}'", escape(&v)));
    }
    if let Some(v) = file {
        buf.push_str(&format!(" file='{}'", escape(&v)));
    }
    buf.push_str("/>\n");
    Ok(())
}

fn diskspec(buf: &mut String, s: &str) -> R {
    let fail = || Fail::Msg(format!("unable to parse diskspec: {}", s));
    let arr = string_to_array(s);
    let name = &arr[0];
    let (mut snapshot, mut driver, mut stype, mut file) = (None, None, None, None);
    for a in &arr[1..] {
        if snapshot.is_none() && a.starts_with("snapshot=") {
            snapshot = Some(&a["snapshot=".len()..]);
        } else if driver.is_none() && a.starts_with("driver=") {
            driver = Some(&a["driver=".len()..]);
        } else if stype.is_none() && a.starts_with("stype=") {
            stype = Some(&a["stype=".len()..]);
        } else if file.is_none() && a.starts_with("file=") {
            file = Some(&a["file=".len()..]);
        } else {
            return Err(fail());
        }
    }
    let mut out = format!("    <disk name='{}'", escape(name));
    if let Some(v) = snapshot {
        out.push_str(&format!(" snapshot='{}'", v));
    }
    let mut is_file = true;
    if let Some(t) = stype {
        if t == "block" {
            is_file = false;
        } else if t != "file" {
            return Err(Fail::Msg(format!(
                "Unknown storage type: '{}'\nerror: unable to parse diskspec: {}",
                t, s
            )));
        }
        out.push_str(&format!(" type='{}'", t));
    }
    if driver.is_some() || file.is_some() {
        out.push_str(">\n");
        if let Some(d) = driver {
            out.push_str(&format!("      <driver type='{}'/>\n", d));
        }
        if let Some(f) = file {
            let attr = if is_file { "file" } else { "dev" };
            out.push_str(&format!("      <source {}='{}'/>\n", attr, escape(f)));
        }
        out.push_str("    </disk>\n");
    } else {
        out.push_str("/>\n");
    }
    buf.push_str(&out);
    Ok(())
}

fn create_as(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = 0;
    for (o, f) in [
        ("no-metadata", cf::NO_METADATA),
        ("halt", cf::HALT),
        ("disk-only", cf::DISK_ONLY),
        ("reuse-external", cf::REUSE_EXT),
        ("quiesce", cf::QUIESCE),
        ("atomic", cf::ATOMIC),
        ("live", cf::LIVE),
        ("validate", cf::VALIDATE),
    ] {
        if c.has(o) {
            flags |= f;
        }
    }
    let dom = ctl.domain(c)?;
    let name = c.string("name")?;
    let desc = c.string("description")?;
    let mut buf = String::from("<domainsnapshot>\n");
    if let Some(n) = name {
        buf.push_str(&format!("  <name>{}</name>\n", escape(n)));
    }
    if let Some(d) = desc {
        buf.push_str(&format!("  <description>{}</description>\n", escape(d)));
    }
    if let Some(m) = c.string("memspec")? {
        memspec(&mut buf, m)?;
    }
    let specs = c.argv();
    if c.has("diskspec") {
        buf.push_str("  <disks>\n");
        for s in specs {
            diskspec(&mut buf, s)?;
        }
        buf.push_str("  </disks>\n");
    }
    buf.push_str("</domainsnapshot>\n");
    if c.has("print-xml") {
        ctl.print(&format!("{}\n", buf));
        return Ok(());
    }
    do_create(ctl, &dom, &buf, flags, None)
}

/// virshLookupSnapshot: `{--current | --ARG name}`.
fn lookup(ctl: &Ctl, c: &Cmd, arg: &str, dom: &DomainRef) -> Result<SnapshotRef, Fail> {
    let current = c.has("current");
    let name = c.string(arg)?;
    if current && name.is_some() {
        return Err(Fail::Msg(format!(
            "--{} and --current are mutually exclusive",
            arg
        )));
    }
    let conn = ctl.conn()?;
    if let Some(n) = name {
        Ok(conn.snapshot_lookup_by_name(dom, n, 0)?)
    } else if current {
        Ok(conn.snapshot_current(dom, 0)?)
    } else {
        Err(Fail::Msg(format!("--{} or --current is required", arg)))
    }
}

fn current(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = 0;
    if c.has("security-info") {
        flags |= snapshot_xml::SECURE;
    }
    exclusive(c, "name", "snapshotname")?;
    let domname = c.req("domain")?.to_string();
    let dom = ctl.domain(c)?;
    let conn = ctl.conn()?;
    if let Some(sn) = c.string("snapshotname")? {
        let snap = conn.snapshot_lookup_by_name(&dom, sn, 0)?;
        let xml = conn.snapshot_get_xml_desc(&snap, snapshot_xml::SECURE)?;
        let mut f = cf::REDEFINE | cf::CURRENT;
        if xml.contains("<state>disk-snapshot</state>") {
            f |= cf::DISK_ONLY;
        }
        conn.snapshot_create_xml(&dom, &xml, f)?;
        ctl.extra(&format!("Snapshot {} set as current", sn));
        return Ok(());
    }
    if !conn.has_current_snapshot(&dom, 0)? {
        return Err(Fail::Msg(format!(
            "domain '{}' has no current snapshot",
            domname
        )));
    }
    let snap = conn.snapshot_current(&dom, 0)?;
    if c.has("name") {
        ctl.print(&snap.name);
    } else {
        let xml = conn.snapshot_get_xml_desc(&snap, flags)?;
        ctl.print(&xml);
    }
    Ok(())
}

/// virshGetSnapshotParent.
fn get_parent(ctl: &Ctl, snap: &SnapshotRef) -> Result<Option<String>, Fail> {
    match ctl.conn()?.snapshot_get_parent(snap, 0) {
        Ok(p) => Ok(Some(p.name)),
        Err(e) if e.code == code::NO_DOMAIN_SNAPSHOT => Ok(None),
        Err(e) => Err(Fail::MsgLib(
            "unable to determine if snapshot has parent".into(),
            Box::new(e),
        )),
    }
}

fn info(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let snap = lookup(ctl, c, "snapshotname", &dom)?;
    let conn = ctl.conn()?;
    let mut out = Block::new(15);
    out.kv("Name:", &snap.name, "name", &snap.name);
    out.kv("Domain:", &dom.name, "domain", &dom.name);
    let current = conn.snapshot_is_current(&snap, 0).unwrap_or(false);
    out.kv("Current:", yes_no(current), "current", current);
    let fail = |ctl: &Ctl, out: &Block, f: Fail| {
        ctl.emit_block(out);
        Err(f)
    };
    let doc = match conn.snapshot_get_xml_desc(&snap, 0) {
        Ok(d) => d,
        Err(e) => return fail(ctl, &out, e.into()),
    };
    let Some(root) = parse_doc(&doc, "(domain_snapshot)") else {
        return fail(ctl, &out, Fail::Silent);
    };
    let Some(state) = path_text(&root, &["state"]) else {
        let m = Fail::Msg("unexpected problem reading snapshot xml".into());
        return fail(ctl, &out, m);
    };
    out.kv("State:", &state, "state", &state);
    let external = if root.child("memory").is_some() {
        root.child("memory")
            .is_some_and(|m| m.attr("snapshot") == Some("external"))
            || root.child("disks").is_some_and(|d| {
                d.children_named("disk")
                    .any(|x| x.attr("snapshot") == Some("external"))
            })
    } else {
        state == "disk-snapshot"
    };
    let loc = if external { "external" } else { "internal" };
    out.kv("Location:", loc, "location", loc);
    let parent = path_text(&root, &["parent", "name"]);
    out.kv(
        "Parent:",
        parent.as_deref().unwrap_or("-"),
        "parent",
        parent.clone(),
    );
    let count = match conn.snapshot_num_children(&snap, 0) {
        Ok(n) => n,
        Err(e) if e.code == code::NO_SUPPORT => {
            ctl.emit_block(&out);
            return Ok(());
        }
        Err(e) => return fail(ctl, &out, e.into()),
    };
    out.kv("Children:", count, "children", count);
    let count = match conn.snapshot_num_children(&snap, lf::DESCENDANTS) {
        Ok(n) => n,
        Err(e) => return fail(ctl, &out, e.into()),
    };
    out.kv("Descendants:", count, "descendants", count);
    let metadata = match conn.snapshot_has_metadata(&snap, 0) {
        Ok(m) => Some(m),
        Err(_) => conn.snapshot_num(&dom, lf::METADATA).ok().map(|n| n != 0),
    };
    if let Some(m) = metadata {
        out.kv("Metadata:", yes_no(m), "metadata", m);
    }
    ctl.emit_block(&out);
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// vshStrcasecmp order.
pub fn casecmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

fn list(ctl: &mut Ctl, c: &Cmd) -> R {
    let tree = c.has("tree");
    let name = c.has("name");
    let from = c.has("from");
    let parent = c.has("parent");
    let roots = c.has("roots");
    let current = c.has("current");
    exclusive(c, "tree", "name")?;
    exclusive(c, "parent", "roots")?;
    exclusive(c, "parent", "tree")?;
    exclusive(c, "roots", "tree")?;
    exclusive(c, "roots", "from")?;
    exclusive(c, "roots", "current")?;
    let mut flags = 0;
    for (o, f) in [
        ("leaves", lf::LEAVES),
        ("no-leaves", lf::NO_LEAVES),
        ("inactive", lf::INACTIVE),
        ("active", lf::ACTIVE),
        ("disk-only", lf::DISK_ONLY),
        ("internal", lf::INTERNAL),
        ("external", lf::EXTERNAL),
    ] {
        if c.has(o) {
            if tree {
                return Err(Fail::Msg(format!(
                    "--{} and --tree are mutually exclusive",
                    o
                )));
            }
            flags |= f;
        }
    }
    if c.has("topological") {
        flags |= lf::TOPOLOGICAL;
    }
    if roots {
        flags |= lf::ROOTS;
    }
    if c.has("metadata") {
        flags |= lf::METADATA;
    }
    if c.has("no-metadata") {
        flags |= lf::NO_METADATA;
    }
    if c.has("descendants") {
        if !from && !current {
            return Err(Fail::Msg(
                "--descendants requires either --from or --current".into(),
            ));
        }
        flags |= lf::DESCENDANTS;
    }
    let dom = ctl.domain(c)?;
    let start = if from || current {
        Some(lookup(ctl, c, "from", &dom)?)
    } else {
        None
    };
    let conn = ctl.conn()?;
    // virshSnapshotListCollect
    let snaps = match &start {
        Some(s) => conn.snapshot_list_all_children(s, flags)?,
        None => conn.list_all_snapshots(&dom, flags)?,
    };
    let mut items: Vec<(SnapshotRef, Option<String>)> = Vec::new();
    for s in snaps {
        let p = if tree { get_parent(ctl, &s)? } else { None };
        items.push((s, p));
    }
    if tree {
        if let Some(s) = &start {
            items.push((s.clone(), None));
        }
    }
    if flags & lf::TOPOLOGICAL == 0 {
        items.sort_by(|a, b| casecmp(&a.0.name, &b.0.name));
    }
    if tree {
        let pairs: Vec<(String, Option<String>)> = items
            .iter()
            .map(|(s, p)| (s.name.clone(), p.clone()))
            .collect();
        let mut out = String::new();
        for (i, (_, p)) in pairs.iter().enumerate() {
            if p.is_none() {
                tree_print(&mut out, &pairs, i);
            }
        }
        let mut t = Table::new(&["Name", "Parent"]);
        for (n, p) in &pairs {
            t.row([Cell::from(n), Cell::new("", p.clone())]);
        }
        ctl.emit(&out, t.to_json());
        return Ok(());
    }
    if name {
        let mut out = String::new();
        let mut t = Table::new(&["Name"]);
        for (s, _) in &items {
            out.push_str(&s.name);
            out.push('\n');
            t.row([&s.name]);
        }
        ctl.emit(&out, t.to_json());
        return Ok(());
    }
    let mut table = if parent {
        Table::new(&["Name", "Creation Time", "State", "Parent"])
    } else {
        Table::new(&["Name", "Creation Time", "State"])
    };
    for (s, _) in &items {
        let Ok(doc) = conn.snapshot_get_xml_desc(s, 0) else {
            continue;
        };
        let Some(root) = parse_doc(&doc, "(domain_snapshot)") else {
            continue;
        };
        let parent_snap = path_text(&root, &["parent", "name"]);
        let Some(state) = path_text(&root, &["state"]) else {
            continue;
        };
        let Some(ct) =
            path_text(&root, &["creationTime"]).and_then(|t| t.trim().parse::<i64>().ok())
        else {
            continue;
        };
        let when = Cell::from(local_time(ct));
        if parent {
            let p = Cell::new(parent_snap.clone().unwrap_or_default(), parent_snap);
            table.row([Cell::from(&s.name), when, state.into(), p]);
        } else {
            table.row([Cell::from(&s.name), when, state.into()]);
        }
    }
    ctl.emit_table(&table);
    Ok(())
}

fn dumpxml(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = 0;
    if c.has("security-info") {
        flags |= snapshot_xml::SECURE;
    }
    let name = c.req("snapshotname")?.to_string();
    let dom = ctl.domain(c)?;
    let conn = ctl.conn()?;
    let snap = conn.snapshot_lookup_by_name(&dom, &name, 0)?;
    let xml = conn.snapshot_get_xml_desc(&snap, flags)?;
    super::domain::dump_xml(ctl, c, &xml)
}

fn parent(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let snap = lookup(ctl, c, "snapshotname", &dom)?;
    match get_parent(ctl, &snap)? {
        Some(p) => {
            ctl.print(&p);
            Ok(())
        }
        None => Err(Fail::Msg(format!("snapshot '{}' has no parent", snap.name))),
    }
}

fn revert(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = 0;
    if c.has("running") {
        flags |= rf::RUNNING;
    }
    if c.has("paused") {
        flags |= rf::PAUSED;
    }
    if c.has("reset-nvram") {
        flags |= rf::RESET_NVRAM;
    }
    let force = c.has("force");
    let dom = ctl.domain(c)?;
    let snap = lookup(ctl, c, "snapshotname", &dom)?;
    let conn = ctl.conn()?;
    let mut res = conn.snapshot_revert(&snap, flags);
    if let Err(e) = &res {
        if force && e.code == 77 {
            flags |= rf::FORCE;
            res = conn.snapshot_revert(&snap, flags);
        }
    }
    match res {
        Ok(()) => {
            ctl.extra(&format!("Domain snapshot {} reverted\n", snap.name));
            Ok(())
        }
        Err(e) => Err(Fail::msg_lib(
            format!("Failed to revert snapshot {}", snap.name),
            e,
        )),
    }
}

fn delete(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let snap = lookup(ctl, c, "snapshotname", &dom)?;
    let mut flags = 0;
    if c.has("children") {
        flags |= df::CHILDREN;
    }
    if c.has("children-only") {
        flags |= df::CHILDREN_ONLY;
    }
    if c.has("metadata") {
        flags |= df::METADATA_ONLY;
    }
    if let Err(e) = ctl.conn()?.snapshot_delete(&snap, flags) {
        return Err(Fail::msg_lib(
            format!("Failed to delete snapshot {}", snap.name),
            e,
        ));
    }
    if flags & df::CHILDREN_ONLY != 0 {
        ctl.extra(&format!("Domain snapshot {} children deleted\n", snap.name));
    } else {
        ctl.extra(&format!("Domain snapshot {} deleted\n", snap.name));
    }
    Ok(())
}

/// Adds virsh's closing "Failed to update NAME" to a failure.
pub fn failed_to_update(f: Fail, name: &str) -> Fail {
    let tail = format!("Failed to update {}", name);
    match f {
        Fail::Msg(m) => Fail::Msg(format!("{}\nerror: {}", m, tail)),
        Fail::Lib(e) => Fail::MsgLib(tail, e),
        Fail::MsgLib(m, e) => Fail::MsgLib(format!("{}\nerror: {}", m, tail), e),
        Fail::Silent => Fail::Msg(tail),
    }
}

fn edit(ctl: &mut Ctl, c: &Cmd) -> R {
    let rename_okay = c.has("rename");
    let clone_okay = c.has("clone");
    exclusive(c, "rename", "clone")?;
    let mut define_flags = cf::REDEFINE;
    if c.has("current") && c.has("snapshotname") {
        define_flags |= cf::CURRENT;
    }
    let dom = ctl.domain(c)?;
    // virshLookupSnapshot, not exclusive: a name wins over --current.
    let conn = ctl.conn()?;
    let snap = match c.string("snapshotname")? {
        Some(n) => conn.snapshot_lookup_by_name(&dom, n, 0)?,
        None if c.has("current") => conn.snapshot_current(&dom, 0)?,
        None => {
            return Err(Fail::Msg(
                "--snapshotname or --current is required".to_string(),
            ))
        }
    };
    let name = snap.name.clone();
    edit_round(ctl, &dom, &snap, define_flags, rename_okay, clone_okay)
        .map_err(|f| failed_to_update(f, &name))
}

fn edit_round(
    ctl: &mut Ctl,
    dom: &DomainRef,
    snap: &SnapshotRef,
    mut define_flags: u32,
    rename_okay: bool,
    clone_okay: bool,
) -> R {
    let conn = ctl.conn()?;
    let name = snap.name.clone();
    let doc = conn.snapshot_get_xml_desc(snap, snapshot_xml::SECURE)?;
    let edited = match super::edit::edit(ctl, &doc)? {
        Some(e) => e,
        None if define_flags & cf::CURRENT == 0 => {
            ctl.extra(&format!(
                "Snapshot {} XML configuration not changed.\n",
                name
            ));
            return Ok(());
        }
        None => doc.clone(),
    };
    let reread = conn.snapshot_get_xml_desc(snap, snapshot_xml::SECURE)?;
    if reread != doc {
        return Err(Fail::Msg(
            "The XML configuration was changed by another user.".into(),
        ));
    }
    if doc.contains("<state>disk-snapshot</state>") {
        define_flags |= cf::DISK_ONLY;
    }
    let new = conn
        .snapshot_create_xml(dom, &edited, define_flags)
        .map_err(|e| Fail::msg_lib("Failed.", e))?;
    if new.name == name {
        ctl.extra(&format!("Snapshot {} edited.\n", name));
    } else if clone_okay {
        ctl.extra(&format!("Snapshot {} cloned to {}.\n", name, new.name));
    } else {
        let victim = if rename_okay { snap } else { &new };
        if let Err(e) = conn.snapshot_delete(victim, df::METADATA_ONLY) {
            ctl.error(&e.message);
            return Err(Fail::Msg(format!("Failed to clean up {}", victim.name)));
        }
        if !rename_okay {
            return Err(Fail::Msg(format!(
                "Must use --rename or --clone to change {} to {}",
                name, new.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_escapes() {
        assert_eq!(string_to_array("file=d,,e"), vec!["file=d,e"]);
        assert_eq!(
            string_to_array("vda,file=a&b,,c,snapshot=external"),
            vec!["vda", "file=a&b,c", "snapshot=external"]
        );
    }

    #[test]
    fn tree_matches_vsh_tree_print() {
        let items = vec![
            ("s1".to_string(), None),
            ("s2".to_string(), Some("s1".to_string())),
        ];
        let mut out = String::new();
        tree_print(&mut out, &items, 0);
        assert_eq!(out, "s1\n  |\n  +- s2\n    \n");
    }
}
