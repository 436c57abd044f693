//! Checkpoint commands (virsh-checkpoint.c): create, create-as, info,
//! list, dumpxml, parent, delete.

use oxvirt_core::error::code;
use oxvirt_core::types::flags::{
    checkpoint_create as cf, checkpoint_delete as df, checkpoint_list as lf, checkpoint_xml as xf,
};
use oxvirt_core::types::{CheckpointRef, DomainRef};
use oxvirt_xml::writer::escape;

use crate::cmd::Cmd;
use crate::ctl::{Ctl, Fail, R};
use crate::out::{Block, Cell};
use crate::table::Table;

use super::snapshot::{casecmp, local_time, parse_doc, path_text, string_to_array, tree_print};
use super::{exclusive, read_file, requires, Handler};

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "checkpoint-create" => create,
        "checkpoint-create-as" => create_as,
        "checkpoint-info" => info,
        "checkpoint-list" => list,
        "checkpoint-dumpxml" => dumpxml,
        "checkpoint-parent" => parent,
        "checkpoint-delete" => delete,
        "checkpoint-edit" => edit,
        _ => return None,
    })
}

/// virshCheckpointCreate.
fn do_create(ctl: &mut Ctl, dom: &DomainRef, xml: &str, flags: u32, from: Option<&str>) -> R {
    let cp = ctl.conn()?.checkpoint_create_xml(dom, xml, flags)?;
    match from {
        Some(f) => ctl.extra(&format!(
            "Domain checkpoint {} created from '{}'",
            cp.name, f
        )),
        None => ctl.extra(&format!("Domain checkpoint {} created", cp.name)),
    }
    Ok(())
}

fn create(ctl: &mut Ctl, c: &Cmd) -> R {
    requires(c, "redefine-validate", "redefine")?;
    let mut flags = 0;
    for (o, f) in [
        ("redefine", cf::REDEFINE),
        ("redefine-validate", cf::REDEFINE_VALIDATE),
        ("quiesce", cf::QUIESCE),
    ] {
        if c.has(o) {
            flags |= f;
        }
    }
    let dom = ctl.domain(c)?;
    let from = c.string("xmlfile")?.map(str::to_string);
    let xml = match &from {
        None => "<domaincheckpoint/>".to_string(),
        Some(f) => read_file(f)?,
    };
    do_create(ctl, &dom, &xml, flags, from.as_deref())
}

fn diskspec(buf: &mut String, s: &str) -> R {
    let arr = string_to_array(s);
    let (mut checkpoint, mut bitmap) = (None, None);
    for a in &arr[1..] {
        if checkpoint.is_none() && a.starts_with("checkpoint=") {
            checkpoint = Some(&a["checkpoint=".len()..]);
        } else if bitmap.is_none() && a.starts_with("bitmap=") {
            bitmap = Some(&a["bitmap=".len()..]);
        } else {
            return Err(Fail::Msg(format!("unable to parse diskspec: {}", s)));
        }
    }
    buf.push_str(&format!("    <disk name='{}'", escape(&arr[0])));
    if let Some(v) = checkpoint {
        buf.push_str(&format!(" checkpoint='{}'", v));
    }
    if let Some(v) = bitmap {
        buf.push_str(&format!(" bitmap='{}'", v));
    }
    buf.push_str("/>\n");
    Ok(())
}

fn create_as(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = if c.has("quiesce") { cf::QUIESCE } else { 0 };
    let dom = ctl.domain(c)?;
    let name = c.string("name")?;
    let desc = c.string("description")?;
    let mut buf = String::from("<domaincheckpoint>\n");
    if let Some(n) = name {
        buf.push_str(&format!("  <name>{}</name>\n", escape(n)));
    }
    if let Some(d) = desc {
        buf.push_str(&format!("  <description>{}</description>\n", escape(d)));
    }
    if c.has("diskspec") {
        buf.push_str("  <disks>\n");
        for s in c.argv() {
            diskspec(&mut buf, s)?;
        }
        buf.push_str("  </disks>\n");
    }
    buf.push_str("</domaincheckpoint>\n");
    if c.has("print-xml") {
        ctl.print(&format!("{}\n", buf));
        return Ok(());
    }
    do_create(ctl, &dom, &buf, flags, None)
}

/// virshLookupCheckpoint.
fn lookup(ctl: &Ctl, c: &Cmd, arg: &str, dom: &DomainRef) -> Result<CheckpointRef, Fail> {
    match c.string(arg)? {
        Some(n) => Ok(ctl.conn()?.checkpoint_lookup_by_name(dom, n, 0)?),
        None => Err(Fail::Msg(format!("--{} is required", arg))),
    }
}

/// virshGetCheckpointParent.
fn get_parent(ctl: &Ctl, cp: &CheckpointRef) -> Result<Option<String>, Fail> {
    match ctl.conn()?.checkpoint_get_parent(cp, 0) {
        Ok(p) => Ok(Some(p.name)),
        Err(e) if e.code == code::NO_DOMAIN_CHECKPOINT => Ok(None),
        Err(e) => Err(Fail::MsgLib(
            "unable to determine if checkpoint has parent".into(),
            Box::new(e),
        )),
    }
}

fn info(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let cp = lookup(ctl, c, "checkpointname", &dom)?;
    let conn = ctl.conn()?;
    let mut out = Block::new(15);
    out.kv("Name:", &cp.name, "name", &cp.name);
    out.kv("Domain:", &dom.name, "domain", &dom.name);
    let parent = match get_parent(ctl, &cp) {
        Ok(p) => p,
        Err(f) => {
            ctl.emit_block(&out);
            return Err(f);
        }
    };
    let shown = parent.as_deref().unwrap_or("-").to_string();
    out.kv("Parent:", shown, "parent", parent);
    let count = match conn.checkpoint_list_all_children(&cp, 0) {
        Ok(v) => v.len(),
        Err(e) if e.code == code::NO_SUPPORT => {
            ctl.emit_block(&out);
            return Ok(());
        }
        Err(e) => {
            ctl.emit_block(&out);
            return Err(e.into());
        }
    };
    out.kv("Children:", count, "children", count);
    let res = conn.checkpoint_list_all_children(&cp, lf::DESCENDANTS);
    if let Ok(v) = &res {
        out.kv("Descendants:", v.len(), "descendants", v.len());
    }
    ctl.emit_block(&out);
    res.map(|_| ()).map_err(Into::into)
}

fn list(ctl: &mut Ctl, c: &Cmd) -> R {
    let tree = c.has("tree");
    let name = c.has("name");
    let from = c.has("from");
    let parent = c.has("parent");
    let roots = c.has("roots");
    exclusive(c, "tree", "name")?;
    exclusive(c, "parent", "roots")?;
    exclusive(c, "parent", "tree")?;
    exclusive(c, "roots", "tree")?;
    exclusive(c, "roots", "from")?;
    let mut flags = 0;
    for (o, f) in [("leaves", lf::LEAVES), ("no-leaves", lf::NO_LEAVES)] {
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
    if c.has("descendants") {
        if !from {
            return Err(Fail::Msg("--descendants requires --from".into()));
        }
        flags |= lf::DESCENDANTS;
    }
    let dom = ctl.domain(c)?;
    let start = if from {
        Some(lookup(ctl, c, "from", &dom)?)
    } else {
        None
    };
    let conn = ctl.conn()?;
    let listed = match &start {
        Some(s) => conn.checkpoint_list_all_children(s, flags),
        None => conn.list_all_checkpoints(&dom, flags),
    };
    let cps = listed.map_err(|e| Fail::msg_lib("unexpected problem querying checkpoints", e))?;
    let mut items: Vec<(CheckpointRef, Option<String>)> = Vec::new();
    for cp in cps {
        let p = if tree { get_parent(ctl, &cp)? } else { None };
        items.push((cp, p));
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
        Table::new(&["Name", "Creation Time", "Parent"])
    } else {
        Table::new(&["Name", "Creation Time"])
    };
    for (s, _) in &items {
        let Ok(doc) = conn.checkpoint_get_xml_desc(s, 0) else {
            continue;
        };
        let Some(root) = parse_doc(&doc, "(domain_checkpoint)") else {
            continue;
        };
        let parent_cp = path_text(&root, &["parent", "name"]);
        let Some(ct) =
            path_text(&root, &["creationTime"]).and_then(|t| t.trim().parse::<i64>().ok())
        else {
            continue;
        };
        let when = Cell::from(local_time(ct));
        if parent {
            let p = Cell::new(parent_cp.clone().unwrap_or_default(), parent_cp);
            table.row([Cell::from(&s.name), when, p]);
        } else {
            table.row([Cell::from(&s.name), when]);
        }
    }
    ctl.emit_table(&table);
    Ok(())
}

fn dumpxml(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = 0;
    for (o, f) in [
        ("security-info", xf::SECURE),
        ("no-domain", xf::NO_DOMAIN),
        ("size", xf::SIZE),
    ] {
        if c.has(o) {
            flags |= f;
        }
    }
    let dom = ctl.domain(c)?;
    let cp = lookup(ctl, c, "checkpointname", &dom)?;
    let xml = ctl.conn()?.checkpoint_get_xml_desc(&cp, flags)?;
    super::domain::dump_xml(ctl, c, &xml)
}

fn parent(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let cp = lookup(ctl, c, "checkpointname", &dom)?;
    match get_parent(ctl, &cp)? {
        Some(p) => {
            ctl.print(&p);
            Ok(())
        }
        None => Err(Fail::Msg(format!("checkpoint '{}' has no parent", cp.name))),
    }
}

fn delete(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let cp = lookup(ctl, c, "checkpointname", &dom)?;
    let mut flags = 0;
    for (o, f) in [
        ("children", df::CHILDREN),
        ("children-only", df::CHILDREN_ONLY),
        ("metadata", df::METADATA_ONLY),
    ] {
        if c.has(o) {
            flags |= f;
        }
    }
    if let Err(e) = ctl.conn()?.checkpoint_delete(&cp, flags) {
        return Err(Fail::msg_lib(
            format!("Failed to delete checkpoint {}", cp.name),
            e,
        ));
    }
    if flags & df::CHILDREN_ONLY != 0 {
        ctl.extra(&format!("Domain checkpoint {} children deleted\n", cp.name));
    } else {
        ctl.extra(&format!("Domain checkpoint {} deleted\n", cp.name));
    }
    Ok(())
}

fn edit(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let cp = lookup(ctl, c, "checkpointname", &dom)?;
    let name = cp.name.clone();
    edit_round(ctl, &dom, &cp).map_err(|f| super::snapshot::failed_to_update(f, &name))
}

fn edit_round(ctl: &mut Ctl, dom: &DomainRef, cp: &CheckpointRef) -> R {
    let conn = ctl.conn()?;
    let doc = conn.checkpoint_get_xml_desc(cp, xf::SECURE)?;
    let Some(edited) = super::edit::edit(ctl, &doc)? else {
        ctl.extra(&format!(
            "Checkpoint {} XML configuration not changed.\n",
            cp.name
        ));
        return Ok(());
    };
    let reread = conn.checkpoint_get_xml_desc(cp, xf::SECURE)?;
    if reread != doc {
        return Err(Fail::Msg(
            "The XML configuration was changed by another user.".into(),
        ));
    }
    let new = conn
        .checkpoint_create_xml(dom, &edited, cf::REDEFINE)
        .map_err(|e| Fail::msg_lib("Failed.", e))?;
    if new.name == cp.name {
        ctl.extra(&format!("Checkpoint {} edited.\n", cp.name));
        return Ok(());
    }
    if let Err(e) = conn.checkpoint_delete(&new, df::METADATA_ONLY) {
        ctl.error(&e.message);
        return Err(Fail::Msg(format!("Failed to clean up {}", new.name)));
    }
    Err(Fail::Msg(format!(
        "Cannot rename checkpoint {} to {}",
        cp.name, new.name
    )))
}
