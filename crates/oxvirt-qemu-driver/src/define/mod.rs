//! Defining a domain the way libvirt 9.0's QEMU driver does: the generic
//! parse, then the QEMU driver's post-parse callbacks in libvirt's order
//! (virDomainDefPostParse):
//!
//! 1. basic: the emulator from the architecture (`basic`);
//! 2. the binary's probe ([`QemuHost::caps_of`]): a missing binary fails
//!    here with libvirt's SYSTEM_ERROR;
//! 3. the domain callback (`defaults`): machine type, default devices
//!    (USB, SATA, PCI root, inputs, memballoon, audio), machine
//!    canonicalisation, the default CPU, CPU checks;
//! 4. per-device defaults (`device`), then the generic post-parse of
//!    oxvirt-xml, then the per-device defaults again for what it added;
//! 5. addresses (`address`: virtio-serial, PCI with auto-added
//!    controllers, USB ports and hubs, memory slots);
//! 6. QEMU and generic validation (`validate`), for new definitions.
//!
//! Everything here is a pure function of the XML and the probed host,
//! so it is tested against libvirt's own expectations in process.

mod address;
mod defaults;
mod device;
/// A hot-plugged disk's driver name and format, as at define.
pub use device::disks as disk_defaults;
pub mod devs;
mod pci;
mod usb;
mod validate;

use oxvirt_core::error::from;
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::{postparse, Domain, ParseFlags, ParseOptions};

use crate::caps::Caps;
use crate::host::QemuHost;

/// What a define needs to know about the host beyond the definition.
pub struct Context<'a> {
    pub host: &'a QemuHost,
    /// `VIR_DOMAIN_DEF_PARSE_ABI_UPDATE`: a new definition (define and
    /// create), as opposed to one read back from disk.
    pub abi_update: bool,
    /// The driver's directories that show in definitions.
    pub paths: &'a Paths,
}

/// Directories of the driver that libvirt writes into definitions
/// (qemu.conf's `nvram_dir`, the channel target directory).
#[derive(Debug, Clone)]
pub struct Paths {
    /// Where a UEFI guest's variable store is created
    /// (`NAME_VARS.fd`).
    pub nvram_dir: String,
    /// Where unix channels without a path get their socket; such
    /// auto-generated paths are not kept in the persistent definition.
    pub channel_target_dir: String,
    /// QEMU's firmware descriptor directories, in precedence order, for
    /// `<os firmware=...>` autoselection.
    pub firmware_dirs: Vec<String>,
}

/// Where QEMU's packages install firmware descriptors (qemu_firmware.c).
pub const FIRMWARE_DIRS: [&str; 2] = ["/etc/qemu/firmware", "/usr/share/qemu/firmware"];

impl Paths {
    /// libvirt's system paths (`/var/lib/libvirt/qemu/...`).
    pub fn libvirt_system() -> Paths {
        Paths {
            nvram_dir: "/var/lib/libvirt/qemu/nvram".into(),
            channel_target_dir: "/var/lib/libvirt/qemu/channel/target".into(),
            firmware_dirs: FIRMWARE_DIRS.iter().map(|d| d.to_string()).collect(),
        }
    }
}

/// The QEMU probe and facts the callbacks consult.
pub(crate) struct Env<'a> {
    pub caps: &'a Caps,
    pub abi_update: bool,
    pub paths: &'a Paths,
}

fn xml_err(e: oxvirt_xml::Error) -> Error {
    Error::from_xml(e, from::DOMAIN)
}

/// Parses `xml` as a persistent definition and completes it as libvirt's
/// QEMU driver does at define time.
pub fn parse(xml: &str, ctx: &Context) -> Result<Domain> {
    let flags = ParseFlags {
        inactive: true,
        skip_post_parse: true,
        abi_update: ctx.abi_update,
        disk_fd: true,
        ..Default::default()
    };
    let opts = ParseOptions {
        default_arch: Some(ctx.host.host_arch.clone()),
    };
    let mut def = Domain::parse(xml, flags, &opts).map_err(xml_err)?;
    complete(&mut def, ctx)?;
    Ok(def)
}

/// Gives devices without one a bus address, as libvirt does again when
/// it prepares a domain to start (qemuDomainAssignAddresses).
pub fn assign_addresses(def: &mut Domain, ctx: &Context) -> Result<()> {
    let caps = emulator_caps(def, ctx)?;
    address::assign(def, &env(&caps, ctx))
}

/// The probe of the definition's emulator.
fn emulator_caps(def: &Domain, ctx: &Context) -> Result<Caps> {
    let emulator = def.devices.emulator.clone().unwrap_or_default();
    ctx.host.caps_of(&emulator)
}

fn env<'a>(caps: &'a Caps, ctx: &Context<'a>) -> Env<'a> {
    Env {
        caps,
        abi_update: ctx.abi_update,
        paths: ctx.paths,
    }
}

/// Runs the post-parse and validation steps over a parsed definition.
pub fn complete(def: &mut Domain, ctx: &Context) -> Result<()> {
    validate::firmware_features(def, ctx.abi_update)?;
    defaults::basic(def, ctx.host)?;
    let caps = emulator_caps(def, ctx)?;
    let env = env(&caps, ctx);
    oxvirt_xml::domain::devices::assign_indexes(&mut def.devices.controllers);
    defaults::def_post_parse(def, &env)?;
    device::post_parse(def, &env)?;
    let flags = ParseFlags {
        inactive: true,
        abi_update: ctx.abi_update,
        disk_fd: true,
        ..Default::default()
    };
    postparse::post_parse(def, flags).map_err(xml_err)?;
    device::post_parse(def, &env)?;
    address::assign(def, &env)?;
    // Definitions read back (configs, save images) are not validated, as
    // libvirt does, so a domain never vanishes after an upgrade.
    if ctx.abi_update {
        validate::validate_domain(def, &env)?;
        postparse::validate(def).map_err(xml_err)?;
        validate::validate_devices(def, &env)?;
    }
    Ok(())
}
