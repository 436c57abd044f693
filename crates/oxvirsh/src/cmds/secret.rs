//! Secrets and network filters: secret-*, nwfilter-* and
//! nwfilter-binding-* (the listings live in hostobj.rs).

use oxvirt_core::error::{code, from};
use oxvirt_core::types::{NwFilterBindingRef, NwFilterRef, SecretRef, Uuid};
use oxvirt_core::Error;

use crate::cmd::Cmd;
use crate::ctl::{Context, Ctl, Fail, R};
use crate::table::Table;

use super::{exclusive, read_file, Handler};

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "secret-define" => secret_define,
        "secret-dumpxml" => secret_dumpxml,
        "secret-set-value" => secret_set_value,
        "secret-get-value" => secret_get_value,
        "secret-undefine" => secret_undefine,
        "nwfilter-define" => nwfilter_define,
        "nwfilter-dumpxml" => nwfilter_dumpxml,
        "nwfilter-undefine" => nwfilter_undefine,
        "nwfilter-binding-list" => binding_list,
        "nwfilter-binding-create" => binding_create,
        "nwfilter-binding-dumpxml" => binding_dumpxml,
        "nwfilter-binding-delete" => binding_delete,
        _ => return None,
    })
}

/// virSecretLookupByUUIDString.
pub fn lookup(ctl: &Ctl, n: &str) -> Result<SecretRef, Fail> {
    let msg = format!("failed to get secret '{}'", n);
    let r = match Uuid::parse(n) {
        Some(u) => ctl.conn()?.lookup_secret_by_uuid(&u),
        None => Err(Error::raw(
            code::INVALID_ARG,
            from::SECRET,
            "uuidstr in virSecretLookupByUUIDString must be a valid UUID",
        )),
    };
    r.map_err(|e| Fail::msg_lib(msg, e))
}

fn secret(ctl: &Ctl, c: &Cmd) -> Result<SecretRef, Fail> {
    let n = c.req("secret")?.to_string();
    lookup(ctl, &n)
}

fn secret_define(ctl: &mut Ctl, c: &Cmd) -> R {
    let from = c.req("file")?.to_string();
    let xml = read_file(&from)?;
    let flags = if c.has("validate") { 1 } else { 0 };
    let s = ctl
        .conn()?
        .secret_define_xml(&xml, flags)
        .ctx(|| format!("Failed to set attributes from {}", from))?;
    ctl.extra(&format!("Secret {} created\n", s.uuid));
    Ok(())
}

fn secret_dumpxml(ctl: &mut Ctl, c: &Cmd) -> R {
    let s = secret(ctl, c)?;
    let xml = ctl.conn()?.secret_get_xml_desc(&s, 0)?;
    super::domain::dump_xml(ctl, c, &xml)
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for ch in data.chunks(3) {
        let b = [ch[0], *ch.get(1).unwrap_or(&0), *ch.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= ch.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// g_base64_decode: skips characters outside the alphabet.
fn b64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        if c == b'=' {
            break;
        }
        let Some(v) = B64.iter().position(|x| *x == c) else {
            continue;
        };
        acc = acc << 6 | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits & 0xff) as u8);
        }
    }
    out
}

fn secret_set_value(ctl: &mut Ctl, c: &Cmd) -> R {
    exclusive(c, "file", "base64")?;
    exclusive(c, "plain", "base64")?;
    exclusive(c, "interactive", "base64")?;
    exclusive(c, "interactive", "plain")?;
    exclusive(c, "interactive", "file")?;
    let s = secret(ctl, c)?;
    let base64 = c.string("base64")?.map(str::to_string);
    let file = c.string("file")?.map(str::to_string);
    let mut plain = c.has("plain");
    let value: Vec<u8> = if let Some(b) = base64 {
        ctl.error("Passing secret value as command-line argument is insecure!");
        b.into_bytes()
    } else if let Some(f) = file {
        // The value is binary: all the bytes (virsh reads 1 KiB at most).
        super::read_bytes(&f, 1024)?
    } else if c.has("interactive") {
        ctl.print("Enter new value for secret:");
        let mut line = String::new();
        if std::io::stdin().read_line(&mut line).unwrap_or(0) == 0 {
            return Err(Fail::Msg("Failed to read secret".into()));
        }
        plain = true;
        line.trim_end_matches('\n').as_bytes().to_vec()
    } else {
        return Err(Fail::Msg("Input secret value is missing".into()));
    };
    let value = if plain {
        value
    } else {
        b64_decode(&String::from_utf8_lossy(&value))
    };
    ctl.conn()?
        .secret_set_value(&s, &value, 0)
        .ctx(|| "Failed to set secret value".into())?;
    ctl.extra("Secret value set\n");
    Ok(())
}

fn secret_get_value(ctl: &mut Ctl, c: &Cmd) -> R {
    let s = secret(ctl, c)?;
    let v = ctl.conn()?.secret_get_value(&s, 0)?;
    if c.has("plain") {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(&v)
            .and_then(|_| out.flush())
            .map_err(|_| Fail::Msg("failed to write secret".into()))?;
    } else {
        ctl.print(&b64_encode(&v));
    }
    Ok(())
}

fn secret_undefine(ctl: &mut Ctl, c: &Cmd) -> R {
    let s = secret(ctl, c)?;
    let uuid = c.req("secret")?.to_string();
    ctl.conn()?
        .secret_undefine(&s)
        .ctx(|| format!("Failed to delete secret {}", uuid))?;
    ctl.extra(&format!("Secret {} deleted\n", uuid));
    Ok(())
}

/// virshCommandOptNWFilterBy: by UUID (36 characters), then by name.
fn nwfilter(ctl: &Ctl, c: &Cmd) -> Result<NwFilterRef, Fail> {
    let n = c.req("nwfilter")?.to_string();
    let conn = ctl.conn()?;
    let mut last = None;
    if n.len() == 36 {
        let r = match Uuid::parse(&n) {
            Some(u) => conn.lookup_nwfilter_by_uuid(&u),
            None => Err(Error::raw(
                code::INVALID_ARG,
                from::NWFILTER,
                "uuidstr in virNWFilterLookupByUUIDString must be a valid UUID",
            )),
        };
        match r {
            Ok(f) => return Ok(f),
            Err(e) => last = Some(e),
        }
    }
    match conn.lookup_nwfilter_by_name(&n) {
        Ok(f) => return Ok(f),
        Err(e) => last = Some(e).or(last),
    }
    let msg = format!("failed to get nwfilter '{}'", n);
    Err(match last {
        Some(e) => Fail::msg_lib(msg, e),
        None => Fail::Msg(msg),
    })
}

fn nwfilter_define(ctl: &mut Ctl, c: &Cmd) -> R {
    let from = c.req("file")?.to_string();
    let xml = read_file(&from)?;
    let flags = if c.has("validate") { 1 } else { 0 };
    let f = ctl
        .conn()?
        .nwfilter_define_xml(&xml, flags)
        .ctx(|| format!("Failed to define network filter from {}", from))?;
    ctl.extra(&format!(
        "Network filter {} defined from {}\n",
        f.name, from
    ));
    Ok(())
}

fn nwfilter_dumpxml(ctl: &mut Ctl, c: &Cmd) -> R {
    let f = nwfilter(ctl, c)?;
    let xml = ctl.conn()?.nwfilter_get_xml_desc(&f, 0)?;
    super::domain::dump_xml(ctl, c, &xml)
}

fn nwfilter_undefine(ctl: &mut Ctl, c: &Cmd) -> R {
    let f = nwfilter(ctl, c)?;
    let name = c.req("nwfilter")?.to_string();
    ctl.conn()?
        .nwfilter_undefine(&f)
        .ctx(|| format!("Failed to undefine network filter {}", name))?;
    ctl.extra(&format!("Network filter {} undefined\n", name));
    Ok(())
}

fn binding(ctl: &Ctl, c: &Cmd) -> Result<NwFilterBindingRef, Fail> {
    let n = c.req("binding")?.to_string();
    ctl.conn()?
        .lookup_nwfilter_binding_by_port_dev(&n)
        .map_err(|e| Fail::msg_lib(format!("failed to get nwfilter binding '{}'", n), e))
}

fn binding_list(ctl: &mut Ctl, _c: &Cmd) -> R {
    let mut list = ctl
        .conn()?
        .list_all_nwfilter_bindings(0)
        .ctx(|| "Failed to list network filter bindings".into())?;
    list.sort_by(|a, b| a.portdev.cmp(&b.portdev));
    let mut t = Table::new(&["Port Dev", "Filter"]);
    for b in list {
        t.row([b.portdev, b.filter]);
    }
    ctl.print(&t.render(!ctl.quiet));
    Ok(())
}

fn binding_create(ctl: &mut Ctl, c: &Cmd) -> R {
    let from = c.req("file")?.to_string();
    let xml = read_file(&from)?;
    let flags = if c.has("validate") { 1 } else { 0 };
    let b = ctl
        .conn()?
        .nwfilter_binding_create_xml(&xml, flags)
        .ctx(|| format!("Failed to create network filter from {}", from))?;
    ctl.extra(&format!(
        "Network filter binding on {} created from {}\n",
        b.portdev, from
    ));
    Ok(())
}

fn binding_dumpxml(ctl: &mut Ctl, c: &Cmd) -> R {
    let b = binding(ctl, c)?;
    let xml = ctl.conn()?.nwfilter_binding_get_xml_desc(&b, 0)?;
    super::domain::dump_xml(ctl, c, &xml)
}

fn binding_delete(ctl: &mut Ctl, c: &Cmd) -> R {
    let b = binding(ctl, c)?;
    ctl.conn()?
        .nwfilter_binding_delete(&b)
        .ctx(|| format!("Failed to delete network filter binding on {}", b.portdev))?;
    ctl.extra(&format!(
        "Network filter binding on {} deleted\n",
        b.portdev
    ));
    Ok(())
}
