//! What libvirt changes in a definition on its way to QEMU, and what it
//! checks on the host first (qemuProcessPrepareDomain): a DRM render
//! node for OpenGL displays, firmware and vhost-user descriptors for
//! what must be looked up; memory sizes
//! aligned as QEMU needs them (qemuDomainAlignMemorySizes) — 1 MiB for
//! the guest's RAM and NUMA nodes, 2 MiB for memory modules (256 MiB for
//! both on ppc64); shareable disks without a cache mode get
//! `cache='none'` (qemuDomainPrepareDiskCachemode).

use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::{Element, Node};
use oxvirt_xml::props;

use crate::FROM;

fn child_mut<'a>(e: &'a mut Element, name: &str) -> Option<&'a mut Element> {
    e.children.iter_mut().find_map(|n| match n {
        Node::Element(c) if c.name == name => Some(c),
        _ => None,
    })
}

fn elements_mut<'a>(e: &'a mut Element, name: &'a str) -> impl Iterator<Item = &'a mut Element> {
    e.children.iter_mut().filter_map(move |n| match n {
        Node::Element(c) if c.name == name => Some(c),
        _ => None,
    })
}

fn scaled(v: &str, unit: Option<&str>) -> u64 {
    v.trim()
        .parse::<u64>()
        .ok()
        .and_then(|v| props::scale(v, unit, 1024, u64::MAX).ok())
        .map(|b| b / 1024)
        .unwrap_or(0)
}

fn round_up(v: u64, align: u64) -> u64 {
    v.div_ceil(align) * align
}

/// Aligns the NUMA nodes' and memory modules' sizes in `root` (the
/// definition as an element tree) and returns the guest's initial memory
/// in KiB (the aligned nodes' sum, or the aligned total less the modules).
pub fn align_memory(root: &mut Element, total_kib: u64, arch: &str) -> u64 {
    let ppc64 = arch.starts_with("ppc64");
    let align = if ppc64 { 256 * 1024 } else { 1024 };
    let module_align = if ppc64 { 256 * 1024 } else { 2048 };
    let mut initial = 0;
    if let Some(numa) = child_mut(root, "cpu").and_then(|c| child_mut(c, "numa")) {
        for cell in elements_mut(numa, "cell") {
            let kib = round_up(
                scaled(cell.attr("memory").unwrap_or("0"), cell.attr("unit")),
                align,
            );
            cell.set_attr("memory", kib.to_string());
            cell.set_attr("unit", "KiB");
            initial += kib;
        }
    }
    let mut modules = 0;
    if let Some(devices) = child_mut(root, "devices") {
        for m in elements_mut(devices, "memory") {
            let Some(size) = child_mut(m, "target").and_then(|t| child_mut(t, "size")) else {
                continue;
            };
            let kib = scaled(&size.text(), size.attr("unit"));
            modules += kib;
            size.children = vec![Node::Text(round_up(kib, module_align).to_string())];
            size.set_attr("unit", "KiB");
        }
    }
    if initial == 0 {
        initial = round_up(total_kib.saturating_sub(modules), align);
    }
    initial
}

/// A writable shareable disk without a cache mode is not cached.
pub fn disk_cache_modes(root: &mut Element) {
    let Some(devices) = child_mut(root, "devices") else {
        return;
    };
    for d in elements_mut(devices, "disk") {
        let shared = d.elements().any(|c| c.name == "shareable");
        let readonly = d.elements().any(|c| c.name == "readonly");
        if !shared || readonly {
            continue;
        }
        if child_mut(d, "driver").is_none() {
            let mut drv = Element::new("driver");
            drv.set_attr("name", "qemu");
            d.children.insert(0, Node::Element(drv));
        }
        if let Some(drv) = child_mut(d, "driver") {
            if drv.attr("cache").is_none() {
                drv.set_attr("cache", "none");
            }
        }
    }
}

/// `<disk type='volume'>` as the volume it names (libvirt's
/// virDomainDiskTranslateSourcePool, done at start): a file or block
/// volume becomes a `file`/`block` disk on the volume's path, with the
/// volume's format when the disk names none. `volumes` holds what the
/// storage driver resolved, by (pool, volume); a disk not in it is left
/// alone (and refused later, as before).
pub fn disk_volumes(
    root: &mut Element,
    volumes: &[((String, String), oxvirt_core::host::ResolvedVolume)],
) -> Result<()> {
    use oxvirt_core::host::VolumeKind;
    let Some(devices) = child_mut(root, "devices") else {
        return Ok(());
    };
    for d in elements_mut(devices, "disk") {
        if d.attr("type") != Some("volume") {
            continue;
        }
        let Some(src) = d.child("source") else {
            continue;
        };
        let key = (
            src.attr("pool").unwrap_or("").to_string(),
            src.attr("volume").unwrap_or("").to_string(),
        );
        let Some((_, v)) = volumes.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        let (dtype, attr) = match v.kind {
            VolumeKind::File => ("file", "file"),
            VolumeKind::Block => ("block", "dev"),
            VolumeKind::Dir => ("dir", "dir"),
            VolumeKind::Network => {
                return Err(super::unsupported(format!(
                    "disk source from pool '{}' of type '{}' is not supported by this driver",
                    key.0, v.pool_type
                )))
            }
        };
        d.set_attr("type", dtype);
        if let Some(src) = child_mut(d, "source") {
            src.attrs
                .retain(|a| a.name != "pool" && a.name != "volume" && a.name != "mode");
            src.set_attr(attr, v.path.clone());
        }
        if let Some(fmt) = &v.format {
            if child_mut(d, "driver").is_none() {
                let mut drv = Element::new("driver");
                drv.set_attr("name", "qemu");
                d.children.insert(0, Node::Element(drv));
            }
            if let Some(drv) = child_mut(d, "driver") {
                if drv.attr("type").is_none() {
                    drv.set_attr("type", fmt.clone());
                }
            }
        }
    }
    Ok(())
}

/// The first DRM render node (virHostGetDRMRenderNode).
fn drm_render_node() -> Result<String> {
    let rd = std::fs::read_dir("/dev/dri")
        .map_err(|e| Error::system(FROM, "cannot open directory '/dev/dri'", &e))?;
    let mut names: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("renderD"))
        .collect();
    names.sort();
    names
        .into_iter()
        .next()
        .map(|n| format!("/dev/dri/{}", n))
        .ok_or_else(|| Error::internal(FROM, "No DRM render nodes available"))
}

/// OpenGL displays without a render node get the host's first one
/// (qemuProcessGraphicsSetupRenderNode).
pub fn render_nodes(root: &mut Element) -> Result<()> {
    let Some(devices) = child_mut(root, "devices") else {
        return Ok(());
    };
    for g in elements_mut(devices, "graphics") {
        let t = g.attr("type").unwrap_or("").to_string();
        let gl_on = g
            .elements()
            .find(|c| c.name == "gl")
            .and_then(|c| c.attr("enable"))
            == Some("yes");
        let has_node = g
            .elements()
            .find(|c| c.name == "gl")
            .is_some_and(|c| c.attr("rendernode").is_some());
        let needs = match t.as_str() {
            "egl-headless" => !has_node,
            "spice" | "dbus" => gl_on && !has_node,
            _ => false,
        };
        if !needs {
            continue;
        }
        let node = drm_render_node()?;
        if child_mut(g, "gl").is_none() {
            g.children.push(Node::Element(Element::new("gl")));
        }
        if let Some(gl) = child_mut(g, "gl") {
            gl.set_attr("rendernode", node);
        }
    }
    Ok(())
}

/// The JSON descriptors QEMU's packages install under `qemu/KIND`
/// (firmware, vhost-user) in /etc and /usr/share.
fn descriptors(kind: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for dir in ["/etc/qemu", "/usr/share/qemu"] {
        let Ok(rd) = std::fs::read_dir(format!("{}/{}", dir, kind)) else {
            continue;
        };
        for e in rd.flatten() {
            if let Some(v) = std::fs::read_to_string(e.path())
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
            {
                out.push(v);
            }
        }
    }
    out
}

/// Firmware autoselection (`<os firmware=...>`) needs a descriptor of
/// that kind (qemuFirmwareFillDomain).
pub fn firmware(root: &Element) -> Result<()> {
    let Some(fw) = root.child("os").and_then(|o| o.attr("firmware")) else {
        return Ok(());
    };
    let interface = if fw == "efi" { "uefi" } else { fw };
    let found = descriptors("firmware").iter().any(|d| {
        d["interface-types"]
            .as_array()
            .is_some_and(|a| a.iter().any(|t| t == interface))
    });
    if !found {
        return Err(Error::operation_failed(
            FROM,
            format!("Unable to find any firmware to satisfy '{}'", fw),
        ));
    }
    Ok(())
}

/// A vhost-user GPU needs a vhost-user descriptor of type gpu
/// (qemuVhostUserFillDomainGPU).
pub fn vhost_user_gpus(root: &Element) -> Result<()> {
    let wanted = root.child("devices").is_some_and(|d| {
        d.children_named("video")
            .any(|v| v.child("driver").and_then(|x| x.attr("name")) == Some("vhostuser"))
    });
    if wanted && !descriptors("vhost-user").iter().any(|d| d["type"] == "gpu") {
        return Err(Error::operation_failed(
            FROM,
            "Unable to find a satisfying vhost-user-gpu",
        ));
    }
    Ok(())
}
