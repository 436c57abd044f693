//! Device aliases (QEMU ids) as libvirt assigns them at start
//! (qemuAssignDeviceAliases); a user alias (`ua-...`) is kept.

use std::collections::HashMap;

use oxvirt_xml::dom::Element;
use oxvirt_xml::domain::Domain;
use oxvirt_xml::props;

/// Aliases by device kind and index within the kind.
#[derive(Debug, Default)]
pub struct Aliases(HashMap<(String, usize), String>);

fn user_alias(el: &Element) -> Option<String> {
    el.child("alias")
        .and_then(|a| a.attr("name"))
        .filter(|n| n.starts_with("ua-"))
        .map(str::to_string)
}

fn num(a: &Element, k: &str) -> u64 {
    a.attr(k).and_then(props::parse_u64_any_base).unwrap_or(0)
}

/// The alias of a PCI/USB/... controller (qemuAssignDeviceControllerAlias).
pub fn controller_alias(c: &Element, q35: bool, builtin_ide: bool) -> String {
    let t = c.attr("type").unwrap_or("ide");
    let idx = num(c, "index");
    let model = c.attr("model").unwrap_or("");
    match t {
        "pci" if model == "pcie-root" => format!("pcie.{}", idx),
        "pci" => format!("pci.{}", idx),
        "ide" if builtin_ide && idx == 0 => "ide".into(),
        "sata" if q35 && idx == 0 => "ide".into(),
        "usb" if idx == 0 => "usb".into(),
        "scsi" if model == "ncr53c90" && idx == 0 => "scsi".into(),
        _ => format!("{}{}", t, idx),
    }
}

impl Aliases {
    pub fn get(&self, kind: &str, idx: usize) -> String {
        self.0
            .get(&(kind.to_string(), idx))
            .cloned()
            .unwrap_or_else(|| format!("{}{}", kind, idx))
    }

    pub fn assign(root: &Element, def: &Domain) -> Aliases {
        let mut map = HashMap::new();
        let Some(devs) = root.child("devices") else {
            return Aliases(map);
        };
        let machine = def.os.machine.as_deref().unwrap_or("");
        let x86 = matches!(def.os.arch.as_deref(), Some("x86_64" | "i686"));
        let q35 = x86 && (machine == "q35" || machine.starts_with("pc-q35-"));
        let builtin_ide = x86
            && (machine == "pc"
                || machine.starts_with("pc-0.")
                || machine.starts_with("pc-1.")
                || machine.starts_with("pc-i440fx-")
                || machine.starts_with("rhel"));
        let controllers: Vec<&Element> = devs.children_named("controller").collect();
        let mut put = |kind: &str, i: usize, el: &Element, default: String| {
            map.insert((kind.to_string(), i), user_alias(el).unwrap_or(default));
        };
        for (i, d) in devs.children_named("disk").enumerate() {
            let bus = d
                .child("target")
                .and_then(|t| t.attr("bus"))
                .unwrap_or("ide");
            let addr = d.child("address");
            let alias = match addr.filter(|a| a.attr("type") == Some("drive")) {
                Some(a) => {
                    let (c, b, t, u) = (
                        num(a, "controller"),
                        num(a, "bus"),
                        num(a, "target"),
                        num(a, "unit"),
                    );
                    let lsi = controllers.iter().any(|x| {
                        x.attr("type") == Some("scsi")
                            && num(x, "index") == c
                            && x.attr("model") == Some("lsilogic")
                    });
                    if bus != "scsi" || lsi {
                        format!("{}{}-{}-{}", bus, c, b, u)
                    } else {
                        format!("{}{}-{}-{}-{}", bus, c, b, t, u)
                    }
                }
                None => {
                    let dst = d.child("target").and_then(|t| t.attr("dev")).unwrap_or("");
                    let idx = oxvirt_xml::domain::devices::disk_name_index(dst).unwrap_or(0);
                    format!("{}-disk{}", bus, idx)
                }
            };
            put("disk", i, d, alias);
        }
        let mut net = 0;
        let mut hostdev = 0;
        for (i, n) in devs.children_named("interface").enumerate() {
            if n.attr("type") == Some("hostdev") {
                put("interface", i, n, format!("hostdev{}", hostdev));
                hostdev += 1;
            } else {
                put("interface", i, n, format!("net{}", net));
                net += 1;
            }
        }
        for (i, e) in devs.children_named("filesystem").enumerate() {
            put("filesystem", i, e, format!("fs{}", i));
        }
        for (i, e) in devs.children_named("sound").enumerate() {
            put("sound", i, e, format!("sound{}", i));
        }
        for (i, e) in devs.children_named("hostdev").enumerate() {
            put("hostdev", i, e, format!("hostdev{}", hostdev));
            hostdev += 1;
        }
        for (i, e) in devs.children_named("redirdev").enumerate() {
            put("redirdev", i, e, format!("redir{}", i));
        }
        for (i, e) in devs.children_named("video").enumerate() {
            put("video", i, e, format!("video{}", i));
        }
        for (i, c) in controllers.iter().enumerate() {
            put("controller", i, c, controller_alias(c, q35, builtin_ide));
        }
        for (i, e) in devs.children_named("input").enumerate() {
            put("input", i, e, format!("input{}", i));
        }
        for kind in ["parallel", "serial", "channel", "console"] {
            for (i, e) in devs.children_named(kind).enumerate() {
                put(kind, i, e, format!("{}{}", kind, i));
            }
        }
        for (i, e) in devs.children_named("hub").enumerate() {
            put("hub", i, e, format!("hub{}", i));
        }
        for (i, e) in devs.children_named("shmem").enumerate() {
            put("shmem", i, e, format!("shmem{}", i));
        }
        for (i, e) in devs.children_named("smartcard").enumerate() {
            put("smartcard", i, e, format!("smartcard{}", i));
        }
        for (i, e) in devs.children_named("watchdog").enumerate() {
            put("watchdog", i, e, "watchdog0".into());
        }
        for (i, e) in devs.children_named("memballoon").enumerate() {
            put("memballoon", i, e, "balloon0".into());
        }
        for (i, e) in devs.children_named("rng").enumerate() {
            put("rng", i, e, format!("rng{}", i));
        }
        for (i, e) in devs.children_named("tpm").enumerate() {
            put("tpm", i, e, format!("tpm{}", i));
        }
        let mut counters: HashMap<&str, usize> = HashMap::new();
        for (i, e) in devs.children_named("memory").enumerate() {
            let model = e.attr("model").unwrap_or("");
            let prefix = match model {
                "dimm" => "dimm",
                "nvdimm" => "nvdimm",
                "virtio-pmem" => "virtiopmem",
                "virtio-mem" => "virtiomem",
                "sgx-epc" => "epc",
                _ => "memory",
            };
            let n = if matches!(model, "dimm" | "nvdimm") {
                e.child("address")
                    .map(|a| num(a, "slot") as usize)
                    .unwrap_or(i)
            } else {
                let c = counters.entry(prefix).or_insert(0);
                *c += 1;
                *c - 1
            };
            put("memory", i, e, format!("{}{}", prefix, n));
        }
        for (i, e) in devs.children_named("vsock").enumerate() {
            put("vsock", i, e, "vsock0".into());
        }
        for (i, e) in devs.children_named("iommu").enumerate() {
            put("iommu", i, e, "iommu0".into());
        }
        Aliases(map)
    }
}
