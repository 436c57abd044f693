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

fn vol_size(s: &str) -> Option<u64> {
    crate::cmd::scaled_int(s, 1, u64::MAX).ok()
}

fn create_as(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = if c.has("prealloc-metadata") { 1 } else { 0 };
    let p = pool(ctl, c)?;
    let name = c.req("name")?.to_string();
    let cap_s = c.req("capacity")?.to_string();
    let cap = vol_size(&cap_s).ok_or_else(|| Fail::Msg(format!("Malformed size {}", cap_s)))?;
    let alloc_s = c.string_quiet("allocation").map(str::to_string);
    let alloc = match &alloc_s {
        Some(a) => Some(vol_size(a).ok_or_else(|| Fail::Msg(format!("Malformed size {}", a)))?),
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
