//! Controllers (qemuBuildControllersCommandLine): PCI bridges and ports,
//! USB, SCSI, IDE, SATA and virtio-serial controllers in libvirt's order;
//! the chipset's built-in ones are left out; CCID after the USB hubs.

use oxvirt_core::Result;
use oxvirt_xml::dom::Element;

use super::{num, unsupported, Args, Ctx, Props};

/// `-global` for the PCI hole (qemuBuildGlobalControllerCommandLine).
pub fn global(cx: &Ctx, a: &mut Args) {
    for c in cx.devices("controller") {
        if c.attr("type") != Some("pci") {
            continue;
        }
        let Some(h) = c.child("pcihole64") else {
            continue;
        };
        let kib = h.text().trim().parse::<u64>().unwrap_or(0);
        let host = match c.attr("model") {
            Some("pci-root") => "i440FX-pcihost",
            Some("pcie-root") => "q35-pcihost",
            _ => continue,
        };
        a.push("-global", format!("{}.pci-hole64-size={}K", host, kib));
    }
}

/// The QEMU device of a USB controller model.
fn usb_driver(model: &str) -> Option<&'static str> {
    Some(match model {
        "piix3-uhci" => "piix3-usb-uhci",
        "piix4-uhci" => "piix4-usb-uhci",
        "ehci" => "usb-ehci",
        "ich9-ehci1" => "ich9-usb-ehci1",
        "ich9-uhci1" => "ich9-usb-uhci1",
        "ich9-uhci2" => "ich9-usb-uhci2",
        "ich9-uhci3" => "ich9-usb-uhci3",
        "vt82c686b-uhci" => "vt82c686b-usb-uhci",
        "pci-ohci" => "pci-ohci",
        "nec-xhci" => "nec-usb-xhci",
        "qemu-xhci" => "qemu-xhci",
        _ => return None,
    })
}

fn skip(cx: &Ctx, c: &Element) -> bool {
    let t = c.attr("type").unwrap_or("ide");
    let idx = num(c, "index");
    let model = c.attr("model").unwrap_or("");
    (t == "pci" && matches!(model, "pcie-root" | "pci-root"))
        || (t == "sata" && idx == 0 && cx.is_q35())
        || (t == "ide" && idx == 0 && cx.is_i440fx())
        || (t == "usb" && model == "none")
        || (t == "usb" && model.is_empty() && !cx.is_q35())
}

/// The `-device` of one controller (qemuBuildControllerDevProps).
fn props(cx: &Ctx, i: usize, c: &Element) -> Result<Option<Props>> {
    let t = c.attr("type").unwrap_or("ide");
    let model = c.attr("model");
    let alias = cx.aliases.get("controller", i);
    let mut p = Props::new();
    let target = c.child("target");
    let tnum = |k: &str| {
        target
            .and_then(|t| t.attr(k))
            .and_then(oxvirt_xml::props::parse_u64_any_base)
    };
    let driver_attr = |k: &str| c.child("driver").and_then(|d| d.attr(k));
    match t {
        "scsi" => match model.unwrap_or("") {
            m @ ("virtio-scsi" | "virtio-transitional" | "virtio-non-transitional") => {
                let base = cx.virtio_model("virtio-scsi", Some(m), c);
                p.s("driver", &base);
                cx.virtio_options(&mut p, c);
                if let Some(io) = driver_attr("iothread") {
                    p.s("iothread", &format!("iothread{}", io));
                }
                p.s("id", &alias);
                for (k, x) in [
                    ("num_queues", "queues"),
                    ("cmd_per_lun", "cmd_per_lun"),
                    ("max_sectors", "max_sectors"),
                ] {
                    if let Some(v) = driver_attr(x).and_then(|v| v.parse::<u64>().ok()) {
                        p.p(k, v);
                    }
                }
                p.t("ioeventfd", driver_attr("ioeventfd"));
            }
            m => {
                let driver = match m {
                    "lsilogic" => "lsi",
                    "ibmvscsi" => "spapr-vscsi",
                    "lsisas1068" => "mptsas1068",
                    "lsisas1078" => "megasas",
                    "vmpvscsi" => "pvscsi",
                    "am53c974" => "am53c974",
                    "dc390" => "dc-390",
                    other => {
                        return Err(unsupported(format!(
                            "Unsupported controller model: {}",
                            other
                        )))
                    }
                };
                p.s("driver", driver).s("id", &alias);
            }
        },
        "virtio-serial" => {
            let base = cx.virtio_model("virtio-serial", model, c);
            p.s("driver", &base);
            cx.virtio_options(&mut p, c);
            p.s("id", &alias);
            if let Some(v) = c.attr("ports").and_then(|v| v.parse::<u64>().ok()) {
                p.u("max_ports", v);
            }
            if let Some(v) = c.attr("vectors").and_then(|v| v.parse::<u64>().ok()) {
                p.u("vectors", v);
            }
        }
        "ccid" => {
            p.s("driver", "usb-ccid").s("id", &alias);
        }
        "sata" => {
            p.s("driver", "ahci").s("id", &alias);
        }
        "usb" => {
            let m = model.unwrap_or("");
            let Some(driver) = usb_driver(m) else {
                return Err(unsupported("no model provided for USB controller"));
            };
            p.s("driver", driver);
            if let Some(ports) = c.attr("ports").and_then(|v| v.parse::<u64>().ok()) {
                p.u("p2", ports).u("p3", ports);
            }
            match c.child("master").and_then(|m| m.attr("startport")) {
                Some(start) => {
                    let idx = num(c, "index");
                    let master = cx
                        .devices("controller")
                        .iter()
                        .enumerate()
                        .find(|(_, x)| {
                            x.attr("type") == Some("usb")
                                && num(x, "index") == idx
                                && x.child("master").is_none()
                        })
                        .map(|(j, _)| cx.aliases.get("controller", j))
                        .unwrap_or_else(|| "usb".into());
                    p.s("masterbus", &format!("{}.0", master));
                    p.u("firstport", start.parse::<u64>().unwrap_or(0));
                }
                None => {
                    p.s("id", &alias);
                }
            }
        }
        "pci" => {
            let name = c.child("model").and_then(|m| m.attr("name")).unwrap_or("");
            match model.unwrap_or("") {
                "pci-bridge" => {
                    p.s("driver", name)
                        .u("chassis_nr", tnum("chassisNr").unwrap_or(num(c, "index")))
                        .s("id", &alias);
                }
                "pci-expander-bus" | "pcie-expander-bus" => {
                    p.s("driver", name)
                        .u("bus_nr", tnum("busNr").unwrap_or(0))
                        .s("id", &alias);
                    if let Some(n) = target.and_then(|t| t.child("node")) {
                        p.u("numa_node", n.text().trim().parse::<u64>().unwrap_or(0));
                    }
                }
                "dmi-to-pci-bridge" | "pcie-switch-upstream-port" | "pcie-to-pci-bridge" => {
                    p.s("driver", name).s("id", &alias);
                }
                "pcie-root-port" | "pcie-switch-downstream-port" => {
                    p.s("driver", name)
                        .u("port", tnum("port").unwrap_or(0))
                        .u("chassis", tnum("chassis").unwrap_or(0))
                        .s("id", &alias);
                    p.t("hotplug", target.and_then(|t| t.attr("hotplug")));
                }
                _ => return Ok(None),
            }
        }
        other => {
            return Err(unsupported(format!(
                "Unsupported controller type: {}",
                other
            )))
        }
    }
    cx.address(&mut p, c)?;
    Ok(Some(p))
}

/// Every controller QEMU does not build in, in libvirt's type order,
/// then `-usb` when no USB controller was given on a legacy machine.
pub fn controllers(cx: &Ctx, a: &mut Args) -> Result<()> {
    let all = cx.devices("controller");
    for t in ["pci", "usb", "scsi", "ide", "sata", "virtio-serial"] {
        for (i, c) in all.iter().enumerate() {
            if c.attr("type").unwrap_or("ide") != t {
                continue;
            }
            if t == "pci" && c.attr("model") == Some("pci-root") && num(c, "index") == 0 {
                if let Some(h) = c.child("target").and_then(|x| x.attr("hotplug")) {
                    a.push("-global", format!("PIIX4_PM.acpi-root-pci-hotplug={}", h));
                }
            }
            if skip(cx, c) {
                continue;
            }
            if let Some(p) = props(cx, i, c)? {
                a.device(&p);
            }
        }
    }
    let usb: Vec<&&Element> = all
        .iter()
        .filter(|c| c.attr("type") == Some("usb"))
        .collect();
    if usb.iter().any(|c| c.attr("model") == Some("none")) {
        return Ok(());
    }
    let legacy = usb.iter().filter(|c| c.attr("model").is_none()).count();
    if legacy > 1 {
        return Err(unsupported(
            "Multiple legacy USB controllers are not supported",
        ));
    }
    let nusb = usb.len() - legacy;
    if nusb == 0 && !cx.is_q35() {
        a.flag("-usb");
    }
    Ok(())
}

/// CCID controllers (they sit on USB, so after the hubs).
pub fn ccid(cx: &Ctx, a: &mut Args) -> Result<()> {
    for (i, c) in cx.devices("controller").iter().enumerate() {
        if c.attr("type") == Some("ccid") {
            if let Some(p) = props(cx, i, c)? {
                a.device(&p);
            }
        }
    }
    Ok(())
}
