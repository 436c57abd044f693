//! Storage pools: pool-list, pool-info, pool-dumpxml, lifecycle.

use oxvirt_core::types::flags::list_objects as lo;
use oxvirt_core::types::{pool_state, PoolRef, Uuid};

use crate::cmd::Cmd;
use crate::ctl::{Context, Ctl, Fail, R};
use crate::out::{Block, Cell, J};
use crate::table::Table;

use super::{exclusive, read_file, Handler};

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "pool-list" => list,
        "pool-info" => info,
        "pool-dumpxml" => dumpxml,
        "pool-define" => define,
        "pool-define-as" => define_as,
        "pool-create" => create,
        "pool-create-as" => create_as,
        "pool-build" => build,
        "pool-start" => start,
        "pool-refresh" => refresh,
        "pool-destroy" => destroy,
        "pool-delete" => delete,
        "pool-undefine" => undefine,
        "pool-autostart" => autostart,
        "pool-name" => name_cmd,
        "pool-uuid" => uuid_cmd,
        "find-storage-pool-sources" => find_sources,
        "find-storage-pool-sources-as" => find_sources_as,
        "pool-capabilities" => capabilities,
        _ => return None,
    })
}

/// virshCommandOptPoolBy: by UUID (36 characters), then by name.
pub fn lookup_by(
    ctl: &Ctl,
    c: &Cmd,
    opt: &str,
    by_uuid: bool,
    by_name: bool,
) -> Result<PoolRef, Fail> {
    let n = c.req(opt)?.to_string();
    let conn = ctl.conn()?;
    let mut last = None;
    if by_uuid && n.len() == 36 {
        match Uuid::parse(&n) {
            Some(u) => match conn.lookup_pool_by_uuid(&u) {
                Ok(r) => return Ok(r),
                Err(e) => last = Some(e),
            },
            None => {
                last = Some(oxvirt_core::Error::raw(
                    oxvirt_core::error::code::INVALID_ARG,
                    oxvirt_core::error::from::STORAGE,
                    "uuidstr in virStoragePoolLookupByUUIDString must be a valid UUID",
                ))
            }
        }
    }
    if by_name {
        match conn.lookup_pool_by_name(&n) {
            Ok(r) => return Ok(r),
            Err(e) => last = Some(e),
        }
    }
    let msg = format!("failed to get pool '{}'", n);
    Err(match last {
        Some(e) => Fail::msg_lib(msg, e),
        None => Fail::Msg(msg),
    })
}

pub fn pool(ctl: &Ctl, c: &Cmd) -> Result<PoolRef, Fail> {
    lookup_by(ctl, c, "pool", true, true)
}

/// vshPrettyCapacity with "%.2lf %s".
pub fn pretty(v: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut i = 0;
    while i < 6 && v >= 1u64 << (10 * (i + 1)) {
        i += 1;
    }
    let val = v as f64 / (1u64 << (10 * i)) as f64;
    format!("{:.2} {}", val, UNITS[i])
}

fn state_str(s: i32) -> &'static str {
    match s {
        pool_state::INACTIVE => "inactive",
        pool_state::BUILDING => "building",
        pool_state::RUNNING => "running",
        pool_state::DEGRADED => "degraded",
        pool_state::INACCESSIBLE => "inaccessible",
        _ => "unknown",
    }
}

fn type_flag(t: &str) -> Option<u32> {
    Some(match t {
        "dir" => 1 << 6,
        "fs" => 1 << 7,
        "netfs" => 1 << 8,
        "logical" => 1 << 9,
        "disk" => 1 << 10,
        "iscsi" => 1 << 11,
        "scsi" => 1 << 12,
        "mpath" => 1 << 13,
        "rbd" => 1 << 14,
        "sheepdog" => 1 << 15,
        "gluster" => 1 << 16,
        "zfs" => 1 << 17,
        "vstorage" => 1 << 18,
        "iscsi-direct" => 1 << 19,
        _ => return None,
    })
}

fn list(ctl: &mut Ctl, c: &Cmd) -> R {
    let details = c.has("details");
    exclusive(c, "all", "inactive")?;
    let mut flags = lo::ACTIVE;
    if c.has("inactive") {
        flags = lo::INACTIVE;
    }
    if c.has("all") {
        flags = lo::ACTIVE | lo::INACTIVE;
    }
    for (o, f) in [
        ("autostart", lo::AUTOSTART),
        ("no-autostart", lo::NO_AUTOSTART),
        ("persistent", lo::PERSISTENT),
        ("transient", lo::TRANSIENT),
    ] {
        if c.has(o) {
            flags |= f;
        }
    }
    let uuid = c.has("uuid");
    let name = c.has("name");
    let types = c.string("type")?.map(str::to_string);
    exclusive(c, "details", "uuid")?;
    exclusive(c, "details", "name")?;
    if let Some(t) = types {
        for p in t.split(',').filter(|s| !s.is_empty()) {
            flags |= type_flag(p).ok_or_else(|| Fail::Msg(format!("Invalid pool type '{}'", p)))?;
        }
    }
    let conn = ctl.conn()?;
    let mut pools = conn
        .list_all_storage_pools(flags)
        .map_err(|e| Fail::msg_lib("Failed to list pools", e))?;
    pools.sort_by_key(|p| p.name.to_ascii_lowercase());
    let mut out = String::new();
    if !details && (uuid || name) {
        let mut j = Vec::new();
        for p in &pools {
            let mut o = Vec::new();
            if uuid {
                out.push_str(&format!("{:<36}{}", p.uuid, if name { ' ' } else { '\n' }));
                o.push(("uuid".to_string(), J::from(p.uuid.to_string())));
            }
            if name {
                out.push_str(&format!("{:<20}\n", p.name));
                o.push(("name".to_string(), J::from(&p.name)));
            }
            j.push(J::Obj(o));
        }
        ctl.emit(&out, J::Arr(j));
        return Ok(());
    }
    let mut table = if details {
        Table::new(&[
            "Name",
            "State",
            "Autostart",
            "Persistent",
            "Capacity",
            "Allocation",
            "Available",
        ])
        .keys(&[
            "name",
            "state",
            "autostart",
            "persistent",
            "capacity_bytes",
            "allocation_bytes",
            "available_bytes",
        ])
    } else {
        Table::new(&["Name", "State", "Autostart"])
    };
    for p in &pools {
        let autostart = match conn.pool_get_autostart(p) {
            Ok(v) => Cell::yes_no(v),
            Err(_) => Cell::new("no autostart", J::Null),
        };
        match conn.pool_get_info(p) {
            Ok(info) if details => {
                let persistent = match conn.pool_is_persistent(p) {
                    Ok(v) => Cell::yes_no(v),
                    Err(_) => Cell::new("unknown", J::Null),
                };
                let sizes =
                    if info.state == pool_state::RUNNING || info.state == pool_state::DEGRADED {
                        [info.capacity, info.allocation, info.available]
                            .map(|v| Cell::new(pretty(v), v))
                    } else {
                        [(); 3].map(|_| Cell::new("-", J::Null))
                    };
                let [a, b, cc] = sizes;
                table.row([
                    Cell::from(&p.name),
                    state_str(info.state).into(),
                    autostart,
                    persistent,
                    a,
                    b,
                    cc,
                ]);
            }
            Ok(_) => {
                let active = conn.pool_is_active(p).unwrap_or(false);
                table.row([
                    Cell::from(&p.name),
                    if active { "active" } else { "inactive" }.into(),
                    autostart,
                ]);
            }
            Err(_) => {
                ctl.error("Could not retrieve pool information");
                let unknown = || Cell::new("unknown", J::Null);
                let mut r = vec![Cell::from(&p.name), unknown(), autostart];
                if details {
                    r.extend([unknown(), unknown(), unknown(), unknown()]);
                }
                table.row(r);
            }
        }
    }
    ctl.emit_table(&table);
    Ok(())
}

fn info(ctl: &mut Ctl, c: &Cmd) -> R {
    let p = pool(ctl, c)?;
    let bytes = c.has("bytes");
    let conn = ctl.conn()?;
    let mut out = Block::new(15);
    out.kv("Name:", &p.name, "name", &p.name);
    out.kv("UUID:", p.uuid, "uuid", p.uuid.to_string());
    let info = conn.pool_get_info(&p);
    if let Ok(info) = &info {
        let st = state_str(info.state);
        out.kv("State:", st, "state", st);
        let pers = match conn.pool_is_persistent(&p) {
            Ok(v) => Cell::yes_no(v),
            Err(_) => Cell::new("unknown", J::Null),
        };
        out.kv("Persistent:", pers.text, "persistent", pers.json);
        let auto = match conn.pool_get_autostart(&p) {
            Ok(v) => Cell::yes_no(v),
            Err(_) => Cell::new("no autostart", J::Null),
        };
        out.kv("Autostart:", auto.text, "autostart", auto.json);
        if info.state == pool_state::RUNNING || info.state == pool_state::DEGRADED {
            for (k, key, v) in [
                ("Capacity:", "capacity_bytes", info.capacity),
                ("Allocation:", "allocation_bytes", info.allocation),
                ("Available:", "available_bytes", info.available),
            ] {
                if bytes {
                    out.kv(k, v, key, v);
                } else {
                    out.kv(k, pretty(v), key, v);
                }
            }
        }
    }
    ctl.emit_block(&out);
    info.map(|_| ()).map_err(Fail::lib)
}

fn dumpxml(ctl: &mut Ctl, c: &Cmd) -> R {
    let p = pool(ctl, c)?;
    let flags = if c.has("inactive") { 1 } else { 0 };
    let xml = ctl.conn()?.pool_get_xml_desc(&p, flags)?;
    super::domain::dump_xml(ctl, c, &xml)
}

fn define(ctl: &mut Ctl, c: &Cmd) -> R {
    let from = c.req("file")?;
    let flags = if c.has("validate") { 1 } else { 0 };
    let xml = read_file(from)?;
    let p = ctl
        .conn()?
        .pool_define_xml(&xml, flags)
        .ctx(|| format!("Failed to define pool from {}", from))?;
    ctl.extra(&format!("Pool {} defined from {}\n", p.name, from));
    Ok(())
}

fn build_flags(c: &Cmd, create: bool) -> Result<u32, Fail> {
    let (build, over, no_over) = if create { (1, 2, 4) } else { (0, 8, 4) };
    let mut f = 0;
    if create {
        exclusive(c, "overwrite", "no-overwrite")?;
        if c.has("build") {
            f |= build;
        }
    }
    if c.has("overwrite") {
        f |= over;
    }
    if c.has("no-overwrite") {
        f |= no_over;
    }
    Ok(f)
}

fn create(ctl: &mut Ctl, c: &Cmd) -> R {
    let from = c.req("file")?;
    let flags = build_flags(c, true)?;
    let xml = read_file(from)?;
    let p = ctl
        .conn()?
        .pool_create_xml(&xml, flags)
        .ctx(|| format!("Failed to create pool from {}", from))?;
    ctl.extra(&format!("Pool {} created from {}\n", p.name, from));
    Ok(())
}

/// virshBuildPoolXML.
fn build_xml(c: &Cmd) -> Result<(String, String), Fail> {
    exclusive(c, "secret-usage", "secret-uuid")?;
    let name = c.req("name")?.to_string();
    let kind = c.req("type")?.to_string();
    let mut o = std::collections::HashMap::new();
    for k in [
        "source-host",
        "source-path",
        "source-dev",
        "source-name",
        "source-format",
        "target",
        "auth-type",
        "auth-username",
        "secret-usage",
        "secret-uuid",
        "adapter-name",
        "adapter-wwnn",
        "adapter-wwpn",
        "adapter-parent",
        "adapter-parent-wwnn",
        "adapter-parent-wwpn",
        "adapter-parent-fabric-wwn",
        "source-protocol-ver",
        "source-initiator",
    ] {
        if let Some(v) = c.string(k)? {
            o.insert(k, v.to_string());
        }
    }
    let g = |k: &str| o.get(k).map(String::as_str);
    let mut x = format!("<pool type='{}'>\n  <name>{}</name>\n", kind, name);
    let wwn = g("adapter-wwnn").is_some() && g("adapter-wwpn").is_some();
    if g("source-host").is_some()
        || g("source-path").is_some()
        || g("source-dev").is_some()
        || g("source-initiator").is_some()
        || g("source-format").is_some()
        || g("source-name").is_some()
        || wwn
        || g("adapter-name").is_some()
    {
        x.push_str("  <source>\n");
        if let Some(v) = g("source-host") {
            x.push_str(&format!("    <host name='{}'/>\n", v));
        }
        if let Some(v) = g("source-path") {
            x.push_str(&format!("    <dir path='{}'/>\n", v));
        }
        if let Some(v) = g("source-dev") {
            x.push_str(&format!("    <device path='{}'/>\n", v));
        }
        if let Some(v) = g("source-initiator") {
            x.push_str(&format!(
                "    <initiator>\n      <iqn name='{}'/>\n    </initiator>\n",
                v
            ));
        }
        if wwn {
            x.push_str("    <adapter type='fc_host'");
            if let Some(p) = g("adapter-parent") {
                x.push_str(&format!(" parent='{}'", p));
            } else if let (Some(a), Some(b)) = (g("adapter-parent-wwnn"), g("adapter-parent-wwpn"))
            {
                x.push_str(&format!(" parent_wwnn='{}' parent_wwpn='{}'", a, b));
            } else if let Some(f) = g("adapter-parent-fabric-wwn") {
                x.push_str(&format!(" parent_fabric_wwn='{}'", f));
            }
            x.push_str(&format!(
                " wwnn='{}' wwpn='{}'/>\n",
                g("adapter-wwnn").unwrap_or(""),
                g("adapter-wwpn").unwrap_or("")
            ));
        } else if let Some(a) = g("adapter-name") {
            x.push_str(&format!("    <adapter type='scsi_host' name='{}'/>\n", a));
        }
        if let (Some(t), Some(u)) = (g("auth-type"), g("auth-username")) {
            if g("secret-usage").is_some() || g("secret-uuid").is_some() {
                x.push_str(&format!("    <auth type='{}' username='{}'>\n", t, u));
                if let Some(s) = g("secret-usage") {
                    x.push_str(&format!("      <secret usage='{}'/>\n", s));
                } else if let Some(s) = g("secret-uuid") {
                    x.push_str(&format!("      <secret uuid='{}'/>\n", s));
                }
                x.push_str("    </auth>\n");
            }
        }
        if let Some(v) = g("source-format") {
            x.push_str(&format!("    <format type='{}'/>\n", v));
        }
        if let Some(v) = g("source-name") {
            x.push_str(&format!("    <name>{}</name>\n", v));
        }
        if let Some(v) = g("source-protocol-ver") {
            x.push_str(&format!("    <protocol ver='{}'/>\n", v));
        }
        x.push_str("  </source>\n");
    }
    if let Some(t) = g("target") {
        x.push_str(&format!(
            "  <target>\n    <path>{}</path>\n  </target>\n",
            t
        ));
    }
    x.push_str("</pool>\n");
    Ok((name, x))
}

fn define_as(ctl: &mut Ctl, c: &Cmd) -> R {
    let (name, xml) = build_xml(c)?;
    if c.has("print-xml") {
        ctl.print(&xml);
        return Ok(());
    }
    ctl.conn()?
        .pool_define_xml(&xml, 0)
        .ctx(|| format!("Failed to define pool {}", name))?;
    ctl.extra(&format!("Pool {} defined\n", name));
    Ok(())
}

fn create_as(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = build_flags(c, true)?;
    let (name, xml) = build_xml(c)?;
    if c.has("print-xml") {
        ctl.print(&xml);
        return Ok(());
    }
    ctl.conn()?
        .pool_create_xml(&xml, flags)
        .ctx(|| format!("Failed to create pool {}", name))?;
    ctl.extra(&format!("Pool {} created\n", name));
    Ok(())
}

/// Runs a pool operation with virsh's success and failure wording.
fn simple(
    ctl: &mut Ctl,
    c: &Cmd,
    op: impl FnOnce(&oxvirt_core::Connection, &PoolRef) -> oxvirt_core::Result<()>,
    done: &str,
    failed: &str,
) -> R {
    let name = c.req("pool")?.to_string();
    let p = pool(ctl, c)?;
    let conn = ctl.conn()?;
    op(conn.as_ref(), &p).ctx(|| format!("Failed to {} pool {}", failed, name))?;
    ctl.extra(&format!("Pool {} {}\n", name, done));
    Ok(())
}

fn build(ctl: &mut Ctl, c: &Cmd) -> R {
    let f = build_flags(c, false)?;
    simple(ctl, c, |cn, p| cn.pool_build(p, f), "built", "build")
}

fn start(ctl: &mut Ctl, c: &Cmd) -> R {
    let f = build_flags(c, true)?;
    simple(ctl, c, |cn, p| cn.pool_create(p, f), "started", "start")
}

fn refresh(ctl: &mut Ctl, c: &Cmd) -> R {
    simple(
        ctl,
        c,
        |cn, p| cn.pool_refresh(p, 0),
        "refreshed",
        "refresh",
    )
}

fn destroy(ctl: &mut Ctl, c: &Cmd) -> R {
    simple(ctl, c, |cn, p| cn.pool_destroy(p), "destroyed", "destroy")
}

fn delete(ctl: &mut Ctl, c: &Cmd) -> R {
    simple(ctl, c, |cn, p| cn.pool_delete(p, 0), "deleted", "delete")
}

fn undefine(ctl: &mut Ctl, c: &Cmd) -> R {
    simple(
        ctl,
        c,
        |cn, p| cn.pool_undefine(p),
        "has been undefined",
        "undefine",
    )
}

fn autostart(ctl: &mut Ctl, c: &Cmd) -> R {
    let name = c.req("pool")?.to_string();
    let p = pool(ctl, c)?;
    let on = !c.has("disable");
    ctl.conn()?.pool_set_autostart(&p, on).ctx(|| {
        if on {
            format!("failed to mark pool {} as autostarted", name)
        } else {
            format!("failed to unmark pool {} as autostarted", name)
        }
    })?;
    if on {
        ctl.extra(&format!("Pool {} marked as autostarted\n", name));
    } else {
        ctl.extra(&format!("Pool {} unmarked as autostarted\n", name));
    }
    Ok(())
}

fn name_cmd(ctl: &mut Ctl, c: &Cmd) -> R {
    let p = lookup_by(ctl, c, "pool", true, false)?;
    ctl.print(&format!("{}\n", p.name));
    Ok(())
}

fn uuid_cmd(ctl: &mut Ctl, c: &Cmd) -> R {
    let p = lookup_by(ctl, c, "pool", false, true)?;
    ctl.print(&format!("{}\n", p.uuid));
    Ok(())
}

fn find_sources(ctl: &mut Ctl, c: &Cmd) -> R {
    let kind = c.req("type")?.to_string();
    let spec = match c.string("srcSpec")? {
        Some(f) => Some(read_file(f)?),
        None => None,
    };
    let r = ctl
        .conn()?
        .find_storage_pool_sources(&kind, spec.as_deref(), 0)
        .ctx(|| format!("Failed to find any {} pool sources", kind))?;
    ctl.print(&r);
    Ok(())
}

fn find_sources_as(ctl: &mut Ctl, c: &Cmd) -> R {
    let kind = c.req("type")?.to_string();
    let host = c.string("host")?.map(str::to_string);
    let initiator = c.string("initiator")?.map(str::to_string);
    let spec = match &host {
        Some(h) => {
            let port = c.string("port")?;
            let mut s = String::from("<source>\n");
            s += &format!("  <host name='{}'", h);
            if let Some(p) = port {
                s += &format!(" port='{}'", p);
            }
            s += "/>\n";
            if let Some(i) = &initiator {
                s += &format!("  <initiator>\n    <iqn name='{}'/>\n  </initiator>\n", i);
            }
            s += "</source>\n";
            Some(s)
        }
        None => None,
    };
    let r = ctl
        .conn()?
        .find_storage_pool_sources(&kind, spec.as_deref(), 0)
        .ctx(|| format!("Failed to find any {} pool sources", kind))?;
    ctl.print(&r);
    Ok(())
}

fn capabilities(ctl: &mut Ctl, c: &Cmd) -> R {
    let x = ctl
        .conn()?
        .storage_pool_capabilities(0)
        .ctx(|| "failed to get storage pool capabilities".into())?;
    super::domain::dump_xml(ctl, c, &x)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pretty_capacity_matches_virsh() {
        assert_eq!(super::pretty(0), "0.00 B");
        assert_eq!(super::pretty(107374182400), "100.00 GiB");
        assert_eq!(super::pretty(1536), "1.50 KiB");
    }
}
