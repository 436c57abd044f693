//! Storage volumes: vol-list, vol-info, vol-dumpxml, create and delete.

use oxvirt_core::types::VolRef;

use crate::cmd::Cmd;
use crate::ctl::{Context, Ctl, Fail, R};
use crate::table::Table;

use super::pool::{lookup_by, pool, pretty};
use super::{read_file, Handler};

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "vol-list" => list,
        "vol-info" => info,
        "vol-dumpxml" => dumpxml,
        "vol-create" => create,
        "vol-create-as" => create_as,
        "vol-delete" => delete,
        "vol-path" => path,
        "vol-key" => key,
        "vol-name" => name_cmd,
        "vol-pool" => pool_cmd,
        "vol-clone" => clone,
        "vol-create-from" => create_from,
        "vol-resize" => resize,
        "vol-wipe" => wipe,
        "vol-upload" => upload,
        "vol-download" => download,
        _ => return None,
    })
}

/// virshCommandOptVolBy: by name in the pool given, then by key, then
/// by path.
pub fn lookup(ctl: &Ctl, c: &Cmd, pool_opt: Option<&str>, by_name: bool) -> Result<VolRef, Fail> {
    let n = c.req("vol")?.to_string();
    let conn = ctl.conn()?;
    let p_given = match pool_opt {
        Some(o) => c.string(o)?.map(str::to_string),
        None => None,
    };
    let mut pool_ref = None;
    if let (Some(o), Some(p)) = (pool_opt, &p_given) {
        let pr = lookup_by(ctl, c, o, true, true)?;
        if conn.pool_is_active(&pr).ok() != Some(true) {
            return Err(Fail::Msg(format!("pool '{}' is not active", p)));
        }
        pool_ref = Some(pr);
    }
    let mut last = None;
    let mut found = None;
    if let (Some(pr), true) = (&pool_ref, by_name) {
        match conn.lookup_vol_by_name(pr, &n) {
            Ok(v) => found = Some(v),
            Err(e) => last = Some(e),
        }
    }
    if found.is_none() {
        match conn.lookup_vol_by_key(&n) {
            Ok(v) => found = Some(v),
            Err(e) => last = Some(e),
        }
    }
    if found.is_none() {
        match conn.lookup_vol_by_path(&n) {
            Ok(v) => found = Some(v),
            Err(e) => last = Some(e),
        }
    }
    let Some(v) = found else {
        let msg = match (pool_ref.is_some() || pool_opt.is_none(), pool_opt) {
            (false, Some(o)) => format!("failed to get vol '{}', specifying --{} might help", n, o),
            _ => format!("failed to get vol '{}'", n),
        };
        return Err(match last {
            Some(e) => Fail::msg_lib(msg, e),
            None => Fail::Msg(msg),
        });
    };
    if let Some(pr) = &pool_ref {
        if let Ok(vp) = conn.lookup_pool_by_volume(&v) {
            if vp.name != pr.name {
                return Err(Fail::Msg(format!(
                    "Requested volume '{}' is not in pool '{}'",
                    n, pr.name
                )));
            }
        }
    }
    Ok(v)
}

fn vol(ctl: &Ctl, c: &Cmd) -> Result<VolRef, Fail> {
    lookup(ctl, c, Some("pool"), true)
}

fn type_str(t: i32) -> &'static str {
    match t {
        0 => "file",
        1 => "block",
        2 => "dir",
        3 => "network",
        4 => "netdir",
        5 => "ploop",
        _ => "unknown",
    }
}

fn list(ctl: &mut Ctl, c: &Cmd) -> R {
    let p = pool(ctl, c)?;
    let details = c.has("details");
    let conn = ctl.conn()?;
    let mut vols = conn
        .pool_list_all_volumes(&p, 0)
        .map_err(|e| Fail::msg_lib("Failed to list volumes", e))?;
    vols.sort_by_key(|v| v.name.to_ascii_lowercase());
    let mut table = if details {
        Table::new(&["Name", "Path", "Type", "Capacity", "Allocation"])
    } else {
        Table::new(&["Name", "Path"])
    };
    for v in &vols {
        let path = conn.vol_get_path(v).unwrap_or_else(|_| "unknown".into());
        if details {
            let (t, cap, alloc) = match conn.vol_get_info(v, 0) {
                Ok(i) => (
                    type_str(i.kind).to_string(),
                    pretty(i.capacity),
                    pretty(i.allocation),
                ),
                Err(_) => ("unknown".into(), "unknown".into(), "unknown".into()),
            };
            table.row([v.name.clone(), path, t, cap, alloc]);
        } else {
            table.row([v.name.clone(), path]);
        }
    }
    ctl.print(&table.render(!ctl.quiet));
    Ok(())
}

fn info(ctl: &mut Ctl, c: &Cmd) -> R {
    let v = vol(ctl, c)?;
    let bytes = c.has("bytes");
    let physical = c.has("physical");
    ctl.print(&format!("{:<15} {}\n", "Name:", v.name));
    let i = ctl.conn()?.vol_get_info(&v, if physical { 1 } else { 0 })?;
    let alloc_label = if physical { "Physical:" } else { "Allocation:" };
    let mut out = format!("{:<15} {}\n", "Type:", type_str(i.kind));
    if bytes {
        out.push_str(&format!("{:<15} {} bytes\n", "Capacity:", i.capacity));
        out.push_str(&format!("{:<15} {} bytes\n", alloc_label, i.allocation));
    } else {
        out.push_str(&format!("{:<15} {}\n", "Capacity:", pretty(i.capacity)));
        out.push_str(&format!("{:<15} {}\n", alloc_label, pretty(i.allocation)));
    }
    ctl.print(&out);
    Ok(())
}

fn dumpxml(ctl: &mut Ctl, c: &Cmd) -> R {
    let v = vol(ctl, c)?;
    let xml = ctl.conn()?.vol_get_xml_desc(&v, 0)?;
    super::domain::dump_xml(ctl, c, &xml)
}

fn create(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = 0;
    if c.has("prealloc-metadata") {
        flags |= 1;
    }
    if c.has("validate") {
        flags |= 4;
    }
    let p = pool(ctl, c)?;
    let from = c.req("file")?;
    let xml = read_file(from)?;
    let v = ctl
        .conn()?
        .vol_create_xml(&p, &xml, flags)
        .ctx(|| format!("Failed to create vol from {}", from))?;
    ctl.extra(&format!("Vol {} created from {}\n", v.name, from));
    Ok(())
}

/// virshVolSize, failing as "Malformed size S" plus libvirt's reason.
fn vol_size_or_fail(s: &str) -> Result<u64, Fail> {
    crate::cmd::scaled_int(s, 1, u64::MAX).map_err(|e| {
        let m = format!("Malformed size {}", s);
        match e {
            Some(e) => Fail::msg_lib(m, e),
            None => Fail::Msg(m),
        }
    })
}

fn create_as(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = if c.has("prealloc-metadata") { 1 } else { 0 };
    let p = pool(ctl, c)?;
    let name = c.req("name")?.to_string();
    let cap_s = c.req("capacity")?.to_string();
    let cap = vol_size_or_fail(&cap_s)?;
    let alloc_s = c.string_quiet("allocation").map(str::to_string);
    let alloc = match &alloc_s {
        Some(a) => Some(vol_size_or_fail(a)?),
        None => None,
    };
    let format = c.string("format")?.map(str::to_string);
    let backing = c.string("backing-vol")?.map(str::to_string);
    let backing_fmt = c.string("backing-vol-format")?.map(str::to_string);
    let mut x = format!(
        "<volume>\n  <name>{}</name>\n  <capacity>{}</capacity>\n",
        name, cap
    );
    if let Some(a) = alloc {
        x.push_str(&format!("  <allocation>{}</allocation>\n", a));
    }
    if let Some(f) = &format {
        x.push_str(&format!(
            "  <target>\n    <format type='{}'/>\n  </target>\n",
            f
        ));
    }
    let conn = ctl.conn()?;
    if let Some(b) = &backing {
        let found = conn
            .lookup_vol_by_name(&p, b)
            .or_else(|_| conn.lookup_vol_by_key(b))
            .or_else(|_| conn.lookup_vol_by_path(b));
        let bv = found.ctx(|| format!("failed to get vol '{}'", b))?;
        let bpath = conn.vol_get_path(&bv)?;
        x.push_str(&format!("  <backingStore>\n    <path>{}</path>\n", bpath));
        if let Some(f) = &backing_fmt {
            x.push_str(&format!("    <format type='{}'/>\n", f));
        }
        x.push_str("  </backingStore>\n");
    }
    x.push_str("</volume>\n");
    if c.has("print-xml") {
        ctl.print(&x);
        return Ok(());
    }
    conn.vol_create_xml(&p, &x, flags)
        .ctx(|| format!("Failed to create vol {}", name))?;
    ctl.extra(&format!("Vol {} created\n", name));
    Ok(())
}

fn delete(ctl: &mut Ctl, c: &Cmd) -> R {
    let name = c.req("vol")?.to_string();
    let v = vol(ctl, c)?;
    let flags = if c.has("delete-snapshots") { 2 } else { 0 };
    ctl.conn()?
        .vol_delete(&v, flags)
        .ctx(|| format!("Failed to delete vol {}", name))?;
    ctl.extra(&format!("Vol {} deleted\n", name));
    Ok(())
}

fn path(ctl: &mut Ctl, c: &Cmd) -> R {
    let v = vol(ctl, c)?;
    let p = ctl.conn()?.vol_get_path(&v)?;
    ctl.print(&format!("{}\n", p));
    Ok(())
}

fn key(ctl: &mut Ctl, c: &Cmd) -> R {
    let v = vol(ctl, c)?;
    ctl.print(&format!("{}\n", v.key));
    Ok(())
}

fn name_cmd(ctl: &mut Ctl, c: &Cmd) -> R {
    let v = lookup(ctl, c, None, false)?;
    ctl.print(&format!("{}\n", v.name));
    Ok(())
}

fn pool_cmd(ctl: &mut Ctl, c: &Cmd) -> R {
    let v = lookup(ctl, c, None, false)?;
    let p = ctl
        .conn()?
        .lookup_pool_by_volume(&v)
        .map_err(|e| Fail::msg_lib("failed to get parent pool", e))?;
    if c.has("uuid") {
        ctl.print(&format!("{}\n", p.uuid));
    } else {
        ctl.print(&format!("{}\n", p.name));
    }
    Ok(())
}

fn clone(ctl: &mut Ctl, c: &Cmd) -> R {
    let orig = vol(ctl, c)?;
    let conn = ctl.conn()?;
    let p = conn
        .lookup_pool_by_volume(&orig)
        .map_err(|e| Fail::msg_lib("failed to get parent pool", e))?;
    let new_name = c.req("newname")?.to_string();
    let mut flags = 0;
    if c.has("prealloc-metadata") {
        flags |= 1;
    }
    if c.has("reflink") {
        flags |= 2;
    }
    let xml = conn.vol_get_xml_desc(&orig, 0)?;
    let mut root = oxvirt_xml::dom::parse(&xml, "(volume_definition)")
        .map_err(|_| Fail::Msg("Failed to parse volume XML".into()))?;
    for ch in root.children.iter_mut() {
        if let oxvirt_xml::dom::Node::Element(e) = ch {
            if e.name == "name" {
                e.children = vec![oxvirt_xml::dom::Node::Text(new_name.clone())];
            }
        }
    }
    let new_xml = super::xpath::serialize(&root);
    conn.vol_create_xml_from(&p, &new_xml, &orig, flags)
        .ctx(|| format!("Failed to clone vol from {}", orig.name))?;
    ctl.extra(&format!("Vol {} cloned from {}\n", new_name, orig.name));
    Ok(())
}

fn create_from(ctl: &mut Ctl, c: &Cmd) -> R {
    let p = pool(ctl, c)?;
    let from = c.req("file")?.to_string();
    let input = lookup(ctl, c, Some("inputpool"), true)?;
    let mut flags = 0;
    if c.has("prealloc-metadata") {
        flags |= 1;
    }
    if c.has("reflink") {
        flags |= 2;
    }
    let xml = read_file(&from)?;
    let v = ctl
        .conn()?
        .vol_create_xml_from(&p, &xml, &input, flags)
        .ctx(|| format!("Failed to create vol from {}", from))?;
    ctl.extra(&format!(
        "Vol {} created from input vol {}\n",
        v.name, input.name
    ));
    Ok(())
}

fn resize(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = 0;
    let mut delta = c.has("delta");
    if c.has("allocate") {
        flags |= 1;
    }
    if c.has("shrink") {
        flags |= 4;
    }
    let v = vol(ctl, c)?;
    let raw = c.req("capacity")?.to_string();
    let mut cap_s = raw.trim_start();
    if let Some(rest) = cap_s.strip_prefix('-') {
        if c.has("shrink") {
            cap_s = rest;
            delta = true;
        } else {
            return Err(Fail::Msg("negative size requires --shrink".into()));
        }
    }
    if delta {
        flags |= 2;
    }
    let cap = vol_size_or_fail(cap_s)?;
    ctl.conn()?.vol_resize(&v, cap, flags).ctx(|| {
        if delta {
            format!("Failed to change size of volume '{}' by {}", v.name, cap_s)
        } else {
            format!("Failed to change size of volume '{}' to {}", v.name, cap_s)
        }
    })?;
    ctl.extra(&if delta {
        format!(
            "Size of volume '{}' successfully changed by {}\n",
            v.name, cap_s
        )
    } else {
        format!(
            "Size of volume '{}' successfully changed to {}\n",
            v.name, cap_s
        )
    });
    Ok(())
}

const WIPE_ALGS: &[&str] = &[
    "zero",
    "nnsa",
    "dod",
    "bsi",
    "gutmann",
    "schneier",
    "pfitzner7",
    "pfitzner33",
    "random",
    "trim",
];

fn wipe(ctl: &mut Ctl, c: &Cmd) -> R {
    let v = vol(ctl, c)?;
    let name = c.req("vol")?.to_string();
    let alg = match c.string("algorithm")? {
        Some(a) => WIPE_ALGS
            .iter()
            .position(|x| *x == a)
            .ok_or_else(|| Fail::Msg(format!("Unsupported algorithm '{}'", a)))?,
        None => 0,
    };
    let conn = ctl.conn()?;
    let r = match conn.vol_wipe(&v, alg as u32, 0) {
        Err(e) if e.code == oxvirt_core::error::code::NO_SUPPORT && alg == 0 => {
            conn.vol_wipe_zero(&v, 0)
        }
        r => r,
    };
    r.ctx(|| format!("Failed to wipe vol {}", name))?;
    ctl.extra(&format!("Vol {} wiped\n", name));
    Ok(())
}

fn upload(ctl: &mut Ctl, c: &Cmd) -> R {
    let offset = c.ull_wrap("offset")?.unwrap_or(0);
    let length = c.ull_wrap("length")?.unwrap_or(0);
    let v = vol(ctl, c)?;
    let name = c.req("vol")?.to_string();
    let file = c.req("file")?.to_string();
    let mut flags = 0;
    if c.has("sparse") {
        flags |= 1;
    }
    let data = std::fs::read(&file).map_err(|_| Fail::Msg(format!("cannot read {}", file)))?;
    let mut st = ctl
        .conn()?
        .vol_upload(&v, offset, length, flags)
        .ctx(|| format!("cannot upload to volume {}", name))?;
    for chunk in data.chunks(256 * 1024) {
        st.send(chunk)
            .ctx(|| format!("cannot send data to volume {}", name))?;
    }
    st.finish()
        .ctx(|| format!("cannot close volume {}", name))?;
    Ok(())
}

fn download(ctl: &mut Ctl, c: &Cmd) -> R {
    let offset = c.ull_wrap("offset")?.unwrap_or(0);
    let length = c.ull_wrap("length")?.unwrap_or(0);
    let v = vol(ctl, c)?;
    let name = c.req("vol")?.to_string();
    let file = c.req("file")?.to_string();
    let mut flags = 0;
    if c.has("sparse") {
        flags |= 1;
    }
    let existed = std::path::Path::new(&file).exists();
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&file)
        .map_err(|_| Fail::Msg(format!("cannot create {}", file)))?;
    let cleanup = |file: &str| {
        if !existed {
            let _ = std::fs::remove_file(file);
        }
    };
    let mut st = match ctl.conn()?.vol_download(&v, offset, length, flags) {
        Ok(s) => s,
        Err(e) => {
            cleanup(&file);
            return Err(Fail::msg_lib(
                format!("cannot download from volume {}", name),
                e,
            ));
        }
    };
    use std::io::Write;
    loop {
        match st.recv() {
            Ok(Some(buf)) => {
                if out.write_all(&buf).is_err() {
                    cleanup(&file);
                    return Err(Fail::Msg(format!(
                        "cannot receive data from volume {}",
                        name
                    )));
                }
            }
            Ok(None) => break,
            Err(e) => {
                cleanup(&file);
                return Err(Fail::msg_lib(
                    format!("cannot receive data from volume {}", name),
                    e,
                ));
            }
        }
    }
    st.finish()
        .ctx(|| format!("cannot close volume {}", name))?;
    Ok(())
}
