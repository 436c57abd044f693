//! Firmware autoselection (`<os firmware='efi'|'bios'>`) as libvirt's
//! qemu_firmware.c does it for a start: QEMU's firmware descriptors
//! (`Paths::firmware_dirs`: `/etc/qemu/firmware`, then
//! `/usr/share/qemu/firmware`, a file in /etc hiding the same name in
//! /usr/share, in file-name order) are matched on
//! interface, architecture and machine, the loader's `secure` and the
//! domain's SMM; the first match becomes the domain's pflash loader and,
//! with a template, its NVRAM file (`NVRAMDIR/NAME_VARS.fd`, copied from
//! the template when missing, as qemuPrepareNVRAM does).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::{Element, Node};
use oxvirt_xml::domain::{Domain, FormatFlags};
use serde_json::Value;

use crate::FROM;

/// The descriptors in libvirt's precedence: by file name, a file in an
/// earlier directory hiding one of the same name in a later one.
fn descriptors(dirs: &[String]) -> Vec<Value> {
    let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in dirs.iter().rev() {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") {
                by_name.insert(name, e.path());
            }
        }
    }
    by_name
        .values()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect()
}

/// fnmatch(3) for the machine patterns of descriptors (`*` and `?`).
fn glob(pat: &str, s: &str) -> bool {
    fn rec(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| rec(rest, &s[i..])),
            Some((b'?', rest)) => !s.is_empty() && rec(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && rec(rest, &s[1..]),
        }
    }
    rec(pat.as_bytes(), s.as_bytes())
}

fn has_feature(d: &Value, f: &str) -> bool {
    d["features"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == f))
}

fn os_child<'a>(def: &'a Domain, name: &str) -> Option<&'a Element> {
    def.os.extra.children.iter().find(|c| c.name == name)
}

/// Whether a descriptor serves the domain (qemuFirmwareMatchDomain).
fn matches(
    d: &Value,
    interface: &str,
    arch: &str,
    machine: &str,
    secure: Option<bool>,
    smm: Option<bool>,
) -> bool {
    let has_interface = d["interface-types"]
        .as_array()
        .is_some_and(|a| a.iter().any(|t| t == interface));
    let has_target = d["targets"].as_array().is_some_and(|ts| {
        ts.iter().any(|t| {
            t["architecture"] == arch
                && t["machines"].as_array().is_some_and(|ms| {
                    ms.iter()
                        .any(|m| m.as_str().is_some_and(|m| glob(m, machine)))
                })
        })
    });
    if !has_interface || !has_target {
        return false;
    }
    let sb = has_feature(d, "secure-boot");
    if secure == Some(true) && !sb || secure == Some(false) && sb {
        return false;
    }
    if has_feature(d, "requires-smm") && smm == Some(false) {
        return false;
    }
    // Only flash and memory mappings are started here.
    matches!(
        d["mapping"]["device"].as_str(),
        Some("flash") | Some("memory")
    )
}

/// The NVRAM file libvirt keeps for a domain with autoselected UEFI
/// firmware (qemuDomainNVRAMPathFormat).
pub fn default_nvram(nvram_dir: &Path, name: &str) -> PathBuf {
    nvram_dir.join(format!("{}_VARS.fd", name))
}

/// The NVRAM file of a definition: its `<nvram>`, or the default one of
/// autoselected UEFI firmware.
pub fn nvram_path(def: &Domain, nvram_dir: &Path) -> Option<PathBuf> {
    if let Some(n) = os_child(def, "nvram").map(|n| n.text()) {
        if !n.is_empty() {
            return Some(PathBuf::from(n));
        }
    }
    (def.os.firmware.as_deref() == Some("efi")).then(|| default_nvram(nvram_dir, &def.name))
}

fn text_el(name: &str, attrs: &[(&str, &str)], text: &str) -> Element {
    let mut e = Element::new(name);
    for (k, v) in attrs {
        e.set_attr(k, *v);
    }
    if !text.is_empty() {
        e.children.push(Node::Text(text.to_string()));
    }
    e
}

/// Replaces `<os firmware=...>` by the loader (and NVRAM) of the first
/// descriptor that serves the domain (qemuFirmwareFillDomain for a
/// start), or fails as libvirt does when none does.
pub fn fill(def: &mut Domain, paths: &crate::define::Paths) -> Result<()> {
    let nvram_dir = Path::new(&paths.nvram_dir);
    let Some(fw) = def.os.firmware.clone() else {
        return Ok(());
    };
    let interface = if fw == "efi" { "uefi" } else { fw.as_str() };
    let arch = def.os.arch.clone().unwrap_or_else(|| "x86_64".into());
    let machine = def.os.machine.clone().unwrap_or_default();
    let loader = os_child(def, "loader").cloned();
    let secure = loader
        .as_ref()
        .and_then(|l| l.attr("secure"))
        .map(|s| s == "yes");
    let root = oxvirt_xml::dom::parse(&def.format(FormatFlags::default()), "domain")
        .map_err(|e| Error::internal(FROM, e.to_string()))?;
    let smm = root
        .child("features")
        .and_then(|f| f.child("smm"))
        .map(|s| s.attr("state") != Some("off"));
    let Some(d) = descriptors(&paths.firmware_dirs)
        .into_iter()
        .find(|d| matches(d, interface, &arch, &machine, secure, smm))
    else {
        return Err(Error::operation_failed(
            FROM,
            format!("Unable to find any firmware to satisfy '{}'", fw),
        ));
    };
    let m = &d["mapping"];
    let device = m["device"].as_str().unwrap_or("flash");
    let exe = if device == "memory" {
        m["filename"].as_str()
    } else {
        m["executable"]["filename"].as_str()
    }
    .unwrap_or("")
    .to_string();
    let mut l = loader.unwrap_or_else(|| Element::new("loader"));
    l.children.clear();
    l.children.push(Node::Text(exe));
    if device == "flash" {
        l.set_attr("readonly", "yes");
        l.set_attr("type", "pflash");
    } else {
        l.set_attr("type", "rom");
    }
    // libvirt's attribute order for <loader>.
    const ORDER: [&str; 4] = ["readonly", "secure", "type", "stateless"];
    l.attrs.sort_by_key(|a| {
        ORDER
            .iter()
            .position(|n| *n == a.name)
            .unwrap_or(ORDER.len())
    });
    let ex = &mut def.os.extra.children;
    ex.retain(|c| c.name != "loader" && c.name != "firmware");
    ex.push(l);
    if device == "flash" {
        if let Some(t) = m["nvram-template"]["filename"].as_str() {
            let has_path = ex.iter().any(|c| c.name == "nvram" && !c.text().is_empty());
            if !has_path {
                let path = default_nvram(nvram_dir, &def.name);
                ex.retain(|c| c.name != "nvram");
                ex.push(text_el(
                    "nvram",
                    &[("template", t)],
                    &path.to_string_lossy(),
                ));
            } else if let Some(n) = ex.iter_mut().find(|c| c.name == "nvram") {
                if n.attr("template").is_none() {
                    n.set_attr("template", t);
                }
            }
        }
    }
    def.os.firmware = None;
    Ok(())
}

/// Creates the NVRAM file from its template when it does not exist yet
/// (qemuPrepareNVRAM), mode 0600.
pub fn ensure_nvram(def: &Domain) -> Result<()> {
    let Some(n) = os_child(def, "nvram") else {
        return Ok(());
    };
    let path = n.text();
    let Some(template) = n.attr("template") else {
        return Ok(());
    };
    if path.is_empty() || Path::new(&path).exists() {
        return Ok(());
    }
    let data = std::fs::read(template)
        .map_err(|e| Error::system(FROM, format!("Failed to open file '{}'", template), &e))?;
    if let Some(dir) = Path::new(&path).parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::system(
                FROM,
                format!("cannot create directory '{}'", dir.display()),
                &e,
            )
        })?;
    }
    oxvirt_host::fsutil::write_atomic_mode(
        Path::new(&path),
        &data,
        0o600,
        true,
        oxvirt_core::error::from::QEMU,
    )
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn machine_patterns() {
        assert!(glob("pc-q35-*", "pc-q35-7.2"));
        assert!(!glob("pc-q35-*", "pc-i440fx-7.2"));
        assert!(glob("pc-i440fx-?.?", "pc-i440fx-7.2"));
        assert!(glob("*", ""));
    }
}
