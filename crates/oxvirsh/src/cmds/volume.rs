//! Storage volumes: vol-list, vol-info, vol-dumpxml, create and delete.

use oxvirt_core::types::VolRef;
use oxvirt_core::{Error, StreamChunk};

use crate::cmd::Cmd;
use crate::ctl::{Context, Ctl, Fail, R};
use crate::out::{Block, Cell, J};
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
        Table::new(&["Name", "Path", "Type", "Capacity", "Allocation"]).keys(&[
            "name",
            "path",
            "type",
            "capacity_bytes",
            "allocation_bytes",
        ])
    } else {
        Table::new(&["Name", "Path"])
    };
    for v in &vols {
        let path = match conn.vol_get_path(v) {
            Ok(p) => Cell::from(p),
            Err(_) => Cell::new("unknown", J::Null),
        };
        if details {
            let unknown = || Cell::new("unknown", J::Null);
            let (t, cap, alloc) = match conn.vol_get_info(v, 0) {
                Ok(i) => (
                    type_str(i.kind).into(),
                    Cell::new(pretty(i.capacity), i.capacity),
                    Cell::new(pretty(i.allocation), i.allocation),
                ),
                Err(_) => (unknown(), unknown(), unknown()),
            };
            table.row([Cell::from(&v.name), path, t, cap, alloc]);
        } else {
            table.row([Cell::from(&v.name), path]);
        }
    }
    ctl.emit_table(&table);
    Ok(())
}

fn info(ctl: &mut Ctl, c: &Cmd) -> R {
    let v = vol(ctl, c)?;
    let bytes = c.has("bytes");
    let physical = c.has("physical");
    let mut out = Block::new(15);
    out.kv("Name:", &v.name, "name", &v.name);
    let i = match ctl.conn()?.vol_get_info(&v, if physical { 1 } else { 0 }) {
        Ok(i) => i,
        Err(e) => {
            ctl.emit_block(&out);
            return Err(e.into());
        }
    };
    let (alloc_label, alloc_key) = if physical {
        ("Physical:", "physical_bytes")
    } else {
        ("Allocation:", "allocation_bytes")
    };
    out.kv("Type:", type_str(i.kind), "type", type_str(i.kind));
    if bytes {
        out.kv(
            "Capacity:",
            format!("{} bytes", i.capacity),
            "capacity_bytes",
            i.capacity,
        );
        out.kv(
            alloc_label,
            format!("{} bytes", i.allocation),
            alloc_key,
            i.allocation,
        );
    } else {
        out.kv(
            "Capacity:",
            pretty(i.capacity),
            "capacity_bytes",
            i.capacity,
        );
        out.kv(alloc_label, pretty(i.allocation), alloc_key, i.allocation);
    }
    ctl.emit_block(&out);
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

/// virFileInData on the current position: (in data, section length).
fn in_data(f: &mut std::fs::File) -> std::io::Result<(bool, u64)> {
    use std::io::Seek;
    use std::os::unix::io::AsRawFd;
    let fd = f.as_raw_fd();
    let cur = f.stream_position()? as libc::off_t;
    let data = unsafe { libc::lseek(fd, cur, libc::SEEK_DATA) };
    let r = if data < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ENXIO) {
            return Err(e);
        }
        let end = unsafe { libc::lseek(fd, 0, libc::SEEK_END) };
        (false, (end - cur).max(0) as u64)
    } else if data > cur {
        (false, (data - cur) as u64)
    } else {
        let hole = unsafe { libc::lseek(fd, cur, libc::SEEK_HOLE) };
        (true, (hole - cur).max(0) as u64)
    };
    f.seek(std::io::SeekFrom::Start(cur as u64))?;
    Ok(r)
}

/// The chunk virStreamSendAll reads at a time.
const SEND_CHUNK: usize = 256 * 1024;

fn upload(ctl: &mut Ctl, c: &Cmd) -> R {
    use std::io::{Read, Seek};
    use std::os::unix::fs::FileTypeExt;
    let offset = c.ull("offset")?.unwrap_or(0);
    let length = c.ull_wrap("length")?.unwrap_or(0);
    let v = vol(ctl, c)?;
    let name = c.req("vol")?.to_string();
    let file = c.req("file")?.to_string();
    let mut f =
        std::fs::File::open(&file).map_err(|_| Fail::Msg(format!("cannot read {}", file)))?;
    let is_block = f
        .metadata()
        .map_err(|_| Fail::Msg(format!("unable to stat {}", file)))?
        .file_type()
        .is_block_device();
    let sparse = c.has("sparse");
    let flags = if sparse { 1 } else { 0 };
    let mut st = ctl
        .conn()?
        .vol_upload(&v, offset, length, flags)
        .ctx(|| format!("cannot upload to volume {}", name))?;
    let send_err = |e: Option<Error>| match e {
        Some(e) => Fail::msg_lib(format!("cannot send data to volume {}", name), e),
        None => Fail::Msg(format!("cannot send data to volume {}", name)),
    };
    let mut buf = vec![0u8; SEND_CHUNK];
    loop {
        let mut want = SEND_CHUNK;
        if sparse && !is_block {
            let (data, len) = in_data(&mut f).map_err(|_| {
                let _ = st.abort();
                Fail::Msg("Unable to get current position in stream".into())
            })?;
            if !data && len > 0 {
                st.send_hole(len).map_err(|e| send_err(Some(e)))?;
                f.seek(std::io::SeekFrom::Current(len as i64))
                    .map_err(|_| send_err(None))?;
                continue;
            }
            if len == 0 {
                break;
            }
            want = want.min(len as usize);
        }
        let n = loop {
            match f.read(&mut buf[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    let _ = st.abort();
                    return Err(send_err(None));
                }
            }
        };
        if n == 0 {
            break;
        }
        if let Err(e) = st.send(&buf[..n]) {
            let _ = st.abort();
            return Err(send_err(Some(e)));
        }
    }
    st.finish()
        .ctx(|| format!("cannot close volume {}", name))?;
    Ok(())
}

fn download(ctl: &mut Ctl, c: &Cmd) -> R {
    use std::io::{Seek, Write};
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let offset = c.ull("offset")?.unwrap_or(0);
    let length = c.ull_wrap("length")?.unwrap_or(0);
    let v = vol(ctl, c)?;
    let name = c.req("vol")?.to_string();
    let file = c.req("file")?.to_string();
    let flags = if c.has("sparse") { 1 } else { 0 };
    let (mut out, created) = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(&file)
    {
        Ok(f) => (f, true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => (
            std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&file)
                .map_err(|_| Fail::Msg(format!("cannot create {}", file)))?,
            false,
        ),
        Err(_) => return Err(Fail::Msg(format!("cannot create {}", file))),
    };
    let cleanup = |file: &str| {
        if created {
            let _ = std::fs::remove_file(file);
        }
    };
    let is_block = match out.metadata() {
        Ok(m) => m.file_type().is_block_device(),
        Err(_) => {
            cleanup(&file);
            return Err(Fail::Msg(format!("unable to stat {}", file)));
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
    let recv_err = |e: Option<Error>| match e {
        Some(e) => Fail::msg_lib(format!("cannot receive data from volume {}", name), e),
        None => Fail::Msg(format!("cannot receive data from volume {}", name)),
    };
    loop {
        let chunk = if flags != 0 {
            st.recv_sparse()
        } else {
            st.recv().map(|d| d.map(StreamChunk::Data))
        };
        let res = match chunk {
            Ok(Some(StreamChunk::Data(buf))) => out.write_all(&buf).map_err(|_| recv_err(None)),
            Ok(Some(StreamChunk::Hole(n))) => {
                if is_block {
                    let zeros = vec![0u8; 1 << 20];
                    let mut left = n;
                    let mut r = Ok(());
                    while left > 0 {
                        let k = left.min(zeros.len() as u64) as usize;
                        if out.write_all(&zeros[..k]).is_err() {
                            r = Err(recv_err(None));
                            break;
                        }
                        left -= k as u64;
                    }
                    r
                } else {
                    out.seek(std::io::SeekFrom::Current(n as i64))
                        .and_then(|pos| out.set_len(pos))
                        .map_err(|_| recv_err(None))
                }
            }
            Ok(None) => break,
            Err(e) => Err(recv_err(Some(e))),
        };
        if let Err(f) = res {
            let _ = st.abort();
            cleanup(&file);
            return Err(f);
        }
    }
    drop(out);
    if let Err(e) = st.finish() {
        cleanup(&file);
        return Err(Fail::msg_lib(format!("cannot close volume {}", name), e));
    }
    Ok(())
}
