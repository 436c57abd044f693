//! The QEMU driver's per-device post-parse (qemuDomainDeviceDefPostParse):
//! models and defaults that depend on the architecture, the machine and
//! the binary. Idempotent: it runs before the generic post-parse and
//! again for the devices that added.

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::{Element, Node};
use oxvirt_xml::domain::Domain;

use super::defaults::{input_bus, is_i440fx, is_q35, is_x86};
use super::Env;
use crate::FROM;

fn unsupported(msg: impl Into<String>) -> Error {
    Error::new(code::CONFIG_UNSUPPORTED, FROM, msg)
}

/// qemuDomainGetSCSIControllerModel for a controller without a model.
pub fn default_scsi_model(env: &Env) -> Option<&'static str> {
    if env.caps.has_type("lsi53c895a") {
        Some("lsilogic")
    } else if env.caps.has_type("virtio-scsi-pci") {
        Some("virtio-scsi")
    } else {
        None
    }
}

fn controllers(def: &mut Domain, env: &Env) -> Result<()> {
    let q35 = is_q35(def);
    let i440fx = is_i440fx(def);
    for c in def.devices.controllers.iter_mut() {
        match c.ctype.as_str() {
            "scsi" if c.model.is_none() => match default_scsi_model(env) {
                Some(m) => c.model = Some(m.to_string()),
                None => {
                    return Err(Error::new(
                        code::INTERNAL_ERROR,
                        FROM,
                        format!(
                            "Unable to determine model for SCSI controller idx={}",
                            c.index.unwrap_or(0)
                        ),
                    ))
                }
            },
            "usb" => {
                if c.model.is_none() && env.caps.has_type("piix3-usb-uhci") {
                    c.model = Some("piix3-uhci".into());
                }
                if matches!(c.model.as_deref(), Some("qusb1" | "qusb2")) {
                    return Err(unsupported(
                        "USB controller model type 'qusb1' or 'qusb2' is not supported in qemu",
                    ));
                }
                let ports: u32 = c.el.attr("ports").and_then(|p| p.parse().ok()).unwrap_or(0);
                if matches!(c.model.as_deref(), Some("nec-xhci" | "qemu-xhci")) && ports > 15 {
                    return Err(unsupported(format!(
                        "'{}' controller only supports up to '15' ports",
                        c.model.as_deref().unwrap_or("")
                    )));
                }
            }
            "pci" => {
                let model = c.model.as_deref();
                if matches!(model, Some("pci-root" | "pcie-root")) && c.index != Some(0) {
                    return Err(Error::new(
                        code::XML_ERROR,
                        FROM,
                        "pci-root and pcie-root controllers should have index 0",
                    ));
                }
                if model == Some("pci-expander-bus") && !i440fx {
                    return Err(unsupported(
                        "pci-expander-bus controllers are only supported on 440fx-based machinetypes",
                    ));
                }
                if model == Some("pcie-expander-bus") && !q35 {
                    return Err(unsupported(
                        "pcie-expander-bus controllers are not supported with this machine type",
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The serial target type and model defaults (qemuDomainChrDefPostParse).
fn chardevs(def: &mut Domain) {
    let x86 = is_x86(def);
    for s in def.devices.chardevs.serials.iter_mut() {
        if s.target_type == "isa-serial" && s.target_model.is_none() {
            // libvirt maps isa-serial back to the default first.
            s.target_type = "none".into();
        }
        if s.target_type == "none" && x86 {
            s.target_type = "isa-serial".into();
        }
        if s.target_model.is_none() {
            s.target_model = match s.target_type.as_str() {
                "isa-serial" => Some("isa-serial".into()),
                "usb-serial" => Some("usb-serial".into()),
                "pci-serial" => Some("pci-serial".into()),
                "spapr-vio-serial" => Some("spapr-vty".into()),
                "sclp-serial" => Some("sclpconsole".into()),
                "isa-debug" => Some("isa-debugcon".into()),
                _ => None,
            };
        }
    }
}

/// qemuDomainDefaultVideoDevice
fn default_video(def: &Domain, env: &Env) -> &'static str {
    if def.os.arch.as_deref().unwrap_or("").starts_with("ppc64") {
        return "vga";
    }
    if env.caps.has_type("cirrus-vga") {
        "cirrus"
    } else if env.caps.has_type("VGA") {
        "vga"
    } else {
        "default"
    }
}

fn videos(def: &mut Domain, env: &Env) {
    let model = default_video(def, env);
    for v in def.devices.videos.iter_mut() {
        if v.model == "default" {
            v.model = model.to_string();
        }
        if v.model == "qxl" && v.vgamem == 0 {
            v.vgamem = 16 * 1024;
        }
    }
}

/// qemuDomainDefaultNetModel (x86: the first NIC the binary has).
fn nets(def: &mut Domain, env: &Env) {
    let model = if env.caps.has_type("rtl8139") {
        "rtl8139"
    } else if env.caps.has_type("e1000") {
        "e1000"
    } else if env.caps.has_type("virtio-net-pci") {
        "virtio"
    } else {
        "rtl8139"
    };
    for n in def.devices.interfaces.iter_mut() {
        if n.net_type == "hostdev" || n.model.is_some() {
            continue;
        }
        n.model = Some(
            if n.net_type == "vdpa" {
                "virtio"
            } else {
                model
            }
            .to_string(),
        );
    }
}

fn set_attr_after(el: &mut Element, name: &str, value: &str, after: &[&str]) {
    if el.attr(name).is_some() {
        el.set_attr(name, value);
        return;
    }
    let pos = el
        .attrs
        .iter()
        .rposition(|a| after.contains(&a.name.as_str()))
        .map(|p| p + 1)
        .unwrap_or(0);
    el.attrs.insert(
        pos,
        oxvirt_xml::dom::Attr {
            name: name.to_string(),
            value: value.to_string(),
        },
    );
}

/// Defaults of devices the model keeps as elements: input buses,
/// panic/TPM/vsock models, the disk driver name.
fn raw_devices(def: &mut Domain) {
    let x86 = is_x86(def);
    let buses: Vec<Option<String>> = def
        .devices
        .raw
        .iter()
        .map(|r| {
            (r.0.name == "input" && r.0.attr("bus").is_none())
                .then(|| input_bus(def, &r.0).to_string())
                .filter(|b| !b.is_empty())
        })
        .collect();
    for (r, bus) in def.devices.raw.iter_mut().zip(buses) {
        let el = &mut r.0;
        match el.name.as_str() {
            "input" => {
                if let Some(b) = bus {
                    set_attr_after(el, "bus", &b, &["type"]);
                }
            }
            "panic" if el.attr("model").is_none() && x86 => {
                set_attr_after(el, "model", "isa", &[]);
            }
            "tpm" => {
                if el.attr("model").is_none() {
                    set_attr_after(el, "model", "tpm-tis", &[]);
                }
                let model = el.attr("model").unwrap_or("").to_string();
                for n in el.children.iter_mut() {
                    let Node::Element(b) = n else { continue };
                    if b.name == "backend"
                        && b.attr("type") == Some("emulator")
                        && b.attr("version").is_none()
                    {
                        let v = if model == "tpm-crb" { "2.0" } else { "1.2" };
                        set_attr_after(b, "version", v, &["type"]);
                    }
                }
            }
            "vsock" if el.attr("model").is_none() => {
                set_attr_after(el, "model", "virtio", &[]);
            }
            _ => {}
        }
    }
}

/// Encryption without an engine uses QEMU's (in the disk, its source and
/// every backing source).
fn encryption_engine(el: &mut Element) {
    for n in el.children.iter_mut() {
        let Node::Element(c) = n else { continue };
        match c.name.as_str() {
            "encryption" if c.attr("engine").is_none() => {
                set_attr_after(c, "engine", "qemu", &["format"]);
            }
            "source" | "backingStore" => encryption_engine(c),
            _ => {}
        }
    }
}

/// Channels lose the socket path libvirt generates itself
/// (qemuDomainChrDefDropDefaultPath).
fn channel_paths(def: &mut Domain, env: &Env) {
    let dir = env.paths.channel_target_dir.trim_end_matches('/');
    for c in def.devices.chardevs.channels.iter_mut() {
        if c.target_type != "virtio" || c.source.stype != "unix" {
            continue;
        }
        let (Some(path), Some(name)) = (c.source.path.as_deref(), c.name.as_deref()) else {
            continue;
        };
        let Some(rest) = path.strip_prefix(dir).and_then(|r| r.strip_prefix('/')) else {
            continue;
        };
        let generated = match rest.split_once('/') {
            // domain-ID-NAME/TARGET
            Some((d, t)) => d.starts_with("domain-") && t == name,
            // NAME.TARGET
            None => rest.ends_with(&format!(".{}", name)) && rest.len() > name.len() + 1,
        };
        if generated {
            c.source.path = None;
            c.source.bind = true;
        }
    }
}

/// The disk driver name and format (qemuDomainDeviceDiskDefPostParse).
pub fn disks(def: &mut Domain) {
    for d in def.devices.disks.iter_mut() {
        let mut holder = Element::new("disk");
        holder.children = d.extra.children.drain(..).map(Node::Element).collect();
        if let Some(s) = d.source_el.take() {
            holder.children.push(Node::Element(s));
        }
        encryption_engine(&mut holder);
        for n in holder.children {
            if let Node::Element(e) = n {
                if e.name == "source" {
                    d.source_el = Some(e);
                } else {
                    d.extra.children.push(e);
                }
            }
        }
        let volume = d.disk_type.as_deref() == Some("volume");
        let pos = d.extra.children.iter().position(|c| c.name == "driver");
        let mut drv = match pos {
            Some(p) => d.extra.children[p].clone(),
            None => Element::new("driver"),
        };
        if drv.attr("name").is_none() {
            drv.attrs.insert(
                0,
                oxvirt_xml::dom::Attr {
                    name: "name".into(),
                    value: "qemu".into(),
                },
            );
        }
        if drv.attr("type").is_none() && !volume {
            set_attr_after(&mut drv, "type", "raw", &["name"]);
        }
        match pos {
            Some(p) => d.extra.children[p] = drv,
            None => d.extra.children.insert(0, drv),
        }
    }
}

/// qemuDomainDeviceDefPostParse over every device.
pub fn post_parse(def: &mut Domain, env: &Env) -> Result<()> {
    channel_paths(def, env);
    nets(def, env);
    disks(def);
    videos(def, env);
    controllers(def, env)?;
    chardevs(def);
    raw_devices(def);
    Ok(())
}
