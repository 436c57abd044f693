//! `<os>`: guest OS type, architecture, machine, firmware and boot options.

use crate::dom::Element;
use crate::error::{Error, Result};
use crate::props::{self, XmlEnum};
use crate::writer::{Attrs, Writer};

use super::{Extra, FormatFlags, ParseOptions, VirtType};

crate::xml_enum! {
    /// `<os><type>`
    pub enum OsType { Hvm = "hvm", Xen = "xen", Linux = "linux", Exe = "exe", Uml = "uml", XenPvh = "xenpvh" }
}

crate::xml_enum! {
    /// `<boot dev=...>`
    pub enum BootDev { Fd = "fd", Cdrom = "cdrom", Hd = "hd", Network = "network" }
}

/// Architectures libvirt knows (`virArch`).
pub const ARCHES: &[&str] = &[
    "i686",
    "x86_64",
    "aarch64",
    "armv6l",
    "armv7l",
    "armv7b",
    "alpha",
    "cris",
    "loongarch64",
    "m68k",
    "microblaze",
    "microblazeel",
    "mips",
    "mipsel",
    "mips64",
    "mips64el",
    "openrisc",
    "parisc",
    "parisc64",
    "ppc",
    "ppcle",
    "ppc64",
    "ppc64le",
    "ppcemb",
    "riscv32",
    "riscv64",
    "s390",
    "s390x",
    "sh4",
    "sh4eb",
    "sparc",
    "sparc64",
    "unicore32",
    "xtensa",
    "xtensaeb",
];

/// `<os>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Os {
    pub os_type: OsType,
    pub arch: Option<String>,
    pub machine: Option<String>,
    pub firmware: Option<String>,
    pub kernel: Option<String>,
    pub initrd: Option<String>,
    pub cmdline: Option<String>,
    pub dtb: Option<String>,
    pub root: Option<String>,
    pub boot: Vec<BootDev>,
    /// `<bootloader>` and `<bootloader_args>` (top-level elements).
    pub bootloader: Option<String>,
    pub bootloader_args: Option<String>,
    /// Children of `<os>` not typed yet (loader, nvram, bootmenu, bios,
    /// smbios, acpi, firmware, init*), written in libvirt's order.
    pub extra: Extra,
}

/// The order in which libvirt writes the children of `<os>`.
pub const OS_ORDER: &[&str] = &[
    "type",
    "firmware",
    "init",
    "initarg",
    "initenv",
    "initdir",
    "inituser",
    "initgroup",
    "loader",
    "nvram",
    "kernel",
    "initrd",
    "cmdline",
    "dtb",
    "root",
    "acpi",
    "boot",
    "bootmenu",
    "bios",
    "smbios",
];

/// `<loader>` as libvirt writes it: a loader with a path is a ROM unless
/// typed (virDomainDefPostParseOs), attributes in libvirt's order.
fn canonical_loader(l: &mut Element) {
    const ORDER: [&str; 4] = ["readonly", "secure", "type", "stateless"];
    if l.attr("type").is_none() && !l.text().is_empty() {
        l.set_attr("type", "rom");
    }
    l.attrs.sort_by_key(|a| {
        ORDER
            .iter()
            .position(|n| *n == a.name)
            .unwrap_or(ORDER.len())
    });
}

impl Os {
    /// Parses `<os>` and the top-level boot loader elements of `root`.
    pub fn parse(root: &Element, _virt: VirtType, opts: &ParseOptions) -> Result<Os> {
        let os_el = root.child("os");
        let type_el = os_el.and_then(|o| o.child("type"));
        let bootloader = root.child("bootloader").map(|e| e.text());
        let bootloader_args = root.child("bootloader_args").map(|e| e.text());
        let os_type = match type_el.map(|t| t.text()) {
            None => {
                if bootloader.is_some() {
                    OsType::Xen
                } else {
                    return Err(Error::xml("an os <type> must be specified"));
                }
            }
            Some(t) => OsType::from_xml(&t)
                .ok_or_else(|| Error::unsupported(format!("unknown OS type '{}'", t)))?,
        };
        let mut arch = type_el.and_then(|t| t.attr("arch")).map(str::to_string);
        if let Some(a) = &arch {
            if !ARCHES.contains(&a.as_str()) {
                return Err(Error::unsupported(format!("Unknown architecture {}", a)));
            }
        }
        if arch.is_none() {
            arch = opts.default_arch.clone();
        }
        let machine = type_el.and_then(|t| t.attr("machine")).map(str::to_string);
        let text_of = |name: &str| os_el.and_then(|o| o.child(name)).map(|e| e.text());
        let mut boot = Vec::new();
        if os_type == OsType::Hvm {
            if let Some(o) = os_el {
                for b in o.children_named("boot").take(4) {
                    boot.push(props::req_enum::<BootDev>(b, "dev")?);
                }
            }
        }
        let typed = ["type", "kernel", "initrd", "cmdline", "dtb", "root", "boot"];
        let mut extra = match os_el {
            Some(o) => Extra::collect(o, &["firmware"], &typed),
            None => Extra::default(),
        };
        for c in extra.children.iter_mut().filter(|c| c.name == "loader") {
            canonical_loader(c);
        }
        // The menu's timeout is read only for an enabled menu.
        for c in extra.children.iter_mut().filter(|c| c.name == "bootmenu") {
            if c.attr("enable") != Some("yes") {
                c.attrs.retain(|a| a.name != "timeout");
            }
        }
        Ok(Os {
            os_type,
            arch,
            machine,
            firmware: os_el.and_then(|o| o.attr("firmware")).map(str::to_string),
            kernel: text_of("kernel"),
            initrd: text_of("initrd"),
            cmdline: text_of("cmdline"),
            dtb: text_of("dtb"),
            root: text_of("root"),
            boot,
            bootloader,
            bootloader_args,
            extra,
        })
    }

    pub fn write(&self, w: &mut Writer, _flags: FormatFlags) {
        if let Some(b) = &self.bootloader {
            w.text("bootloader", Attrs::new(), b);
            w.opt_text("bootloader_args", self.bootloader_args.as_deref());
        }
        let a = Attrs::new().opt("firmware", self.firmware.as_deref());
        let a = self.extra.add_attrs(a);
        w.block("os", a, |w| {
            self.extra.write_ordered(w, OS_ORDER, |w, name| {
                match name {
                    "type" => w.text(
                        "type",
                        Attrs::new()
                            .opt("arch", self.arch.as_deref())
                            .opt("machine", self.machine.as_deref()),
                        self.os_type,
                    ),
                    "kernel" => w.opt_text("kernel", self.kernel.as_deref()),
                    "initrd" => w.opt_text("initrd", self.initrd.as_deref()),
                    "cmdline" => w.opt_text("cmdline", self.cmdline.as_deref()),
                    "dtb" => w.opt_text("dtb", self.dtb.as_deref()),
                    "root" => w.opt_text("root", self.root.as_deref()),
                    "boot" => {
                        if self.bootloader.is_none() {
                            for b in &self.boot {
                                w.empty("boot", Attrs::new().add("dev", b));
                            }
                        }
                    }
                    _ => return false,
                }
                true
            });
        });
    }
}
