//! PCI address assignment as libvirt 9.0 does it (domain_addr.c's
//! address set, qemu_domain_address.c's policy): which bus accepts which
//! device (connect flags), the integrated devices of the i440fx and q35
//! chipsets, the order devices get slots in, and the controllers added
//! when the buses run out (pci-bridge on pc, pcie-root-port on q35, plus
//! the one spare root port a new q35 guest gets for hotplug).

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::{Element, Node};
use oxvirt_xml::domain::Domain;

use super::defaults::{has_pci_root, has_pcie_root, is_i440fx, is_q35, maybe_add_controller};
use super::devs::{self, Loc, PciAddr};
use super::Env;
use crate::FROM;

pub const AUTOASSIGN: u32 = 1 << 0;
pub const HOTPLUGGABLE: u32 = 1 << 1;
pub const INTEGRATED: u32 = 1 << 2;
pub const AGGREGATE_SLOT: u32 = 1 << 3;
pub const PCI_DEVICE: u32 = 1 << 4;
pub const PCIE_DEVICE: u32 = 1 << 5;
pub const PCIE_ROOT_PORT: u32 = 1 << 6;
pub const PCIE_SWITCH_UPSTREAM_PORT: u32 = 1 << 7;
pub const PCIE_SWITCH_DOWNSTREAM_PORT: u32 = 1 << 8;
pub const DMI_TO_PCI_BRIDGE: u32 = 1 << 9;
pub const PCI_EXPANDER_BUS: u32 = 1 << 10;
pub const PCIE_EXPANDER_BUS: u32 = 1 << 11;
pub const PCI_BRIDGE: u32 = 1 << 12;
pub const PCIE_TO_PCI_BRIDGE: u32 = 1 << 13;

const TYPES_MASK: u32 = PCI_DEVICE
    | PCIE_DEVICE
    | PCIE_SWITCH_UPSTREAM_PORT
    | PCIE_SWITCH_DOWNSTREAM_PORT
    | PCIE_ROOT_PORT
    | DMI_TO_PCI_BRIDGE
    | PCI_EXPANDER_BUS
    | PCIE_EXPANDER_BUS
    | PCI_BRIDGE
    | PCIE_TO_PCI_BRIDGE;
const TYPES_ENDPOINT: u32 = PCI_DEVICE | PCIE_DEVICE;

const SLOT_LAST: u32 = 31;
const FUNCTION_LAST: u32 = 7;

fn err(from_config: bool, msg: String) -> Error {
    if from_config {
        Error::new(code::XML_ERROR, FROM, msg)
    } else {
        Error::new(code::INTERNAL_ERROR, FROM, msg)
    }
}

/// The connect type of a PCI controller model (what it plugs into).
pub fn controller_connect_type(model: &str) -> u32 {
    match model {
        "pci-bridge" => PCI_BRIDGE,
        "pci-expander-bus" => PCI_EXPANDER_BUS,
        "pcie-expander-bus" => PCIE_EXPANDER_BUS,
        "dmi-to-pci-bridge" => DMI_TO_PCI_BRIDGE,
        "pcie-to-pci-bridge" => PCIE_TO_PCI_BRIDGE,
        "pcie-root-port" => PCIE_ROOT_PORT | AGGREGATE_SLOT,
        "pcie-switch-upstream-port" => PCIE_SWITCH_UPSTREAM_PORT,
        "pcie-switch-downstream-port" => PCIE_SWITCH_DOWNSTREAM_PORT,
        _ => 0,
    }
}

fn connect_type_to_model(flags: u32) -> Option<&'static str> {
    if flags & PCIE_ROOT_PORT != 0 {
        Some("pcie-root-port")
    } else if flags & PCIE_SWITCH_UPSTREAM_PORT != 0 {
        Some("pcie-switch-upstream-port")
    } else if flags & PCIE_SWITCH_DOWNSTREAM_PORT != 0 {
        Some("pcie-switch-downstream-port")
    } else if flags & DMI_TO_PCI_BRIDGE != 0 {
        Some("dmi-to-pci-bridge")
    } else if flags & PCI_EXPANDER_BUS != 0 {
        Some("pci-expander-bus")
    } else if flags & PCIE_EXPANDER_BUS != 0 {
        Some("pcie-expander-bus")
    } else if flags & PCI_BRIDGE != 0 {
        Some("pci-bridge")
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    functions: u8,
    aggregate: bool,
}

#[derive(Debug, Clone, Default)]
struct Bus {
    model: Option<&'static str>,
    flags: u32,
    min_slot: u32,
    max_slot: u32,
    slots: [Slot; 32],
}

fn static_model(m: &str) -> Option<&'static str> {
    oxvirt_xml::domain::devices::models_of("pci")
        .iter()
        .copied()
        .find(|x| *x == m)
}

impl Bus {
    /// virDomainPCIAddressBusSetModel: what can plug in downstream.
    fn set_model(&mut self, model: &str, hotplug: bool) -> Result<()> {
        let hp = if hotplug { HOTPLUGGABLE } else { 0 };
        let (flags, min, max) = match model {
            "pci-root" => (
                AUTOASSIGN | PCI_DEVICE | PCI_BRIDGE | PCI_EXPANDER_BUS | hp,
                1,
                SLOT_LAST,
            ),
            "pci-bridge" => (AUTOASSIGN | PCI_DEVICE | PCI_BRIDGE | hp, 1, SLOT_LAST),
            "pci-expander-bus" => (AUTOASSIGN | PCI_DEVICE | PCI_BRIDGE | hp, 0, SLOT_LAST),
            "pcie-root" => (
                PCIE_DEVICE | PCIE_ROOT_PORT | DMI_TO_PCI_BRIDGE | PCIE_EXPANDER_BUS,
                1,
                SLOT_LAST,
            ),
            "dmi-to-pci-bridge" => (PCI_DEVICE | PCI_BRIDGE, 0, SLOT_LAST),
            "pcie-to-pci-bridge" => (AUTOASSIGN | PCI_DEVICE | PCI_BRIDGE | hp, 1, SLOT_LAST),
            "pcie-root-port" | "pcie-switch-downstream-port" => (
                AUTOASSIGN | PCIE_DEVICE | PCIE_SWITCH_UPSTREAM_PORT | PCIE_TO_PCI_BRIDGE | hp,
                0,
                0,
            ),
            "pcie-switch-upstream-port" => (PCIE_SWITCH_DOWNSTREAM_PORT, 0, SLOT_LAST),
            "pcie-expander-bus" => (PCIE_ROOT_PORT | DMI_TO_PCI_BRIDGE, 0, SLOT_LAST),
            _ => {
                return Err(Error::new(
                    code::INTERNAL_ERROR,
                    FROM,
                    "PCI controller model was not set correctly",
                ))
            }
        };
        self.flags = flags;
        self.min_slot = min;
        self.max_slot = max;
        self.model = static_model(model);
        Ok(())
    }

    fn is_fully_reserved(&self) -> bool {
        (self.min_slot..=self.max_slot).all(|s| self.slots[s as usize].functions != 0)
    }
}

/// A set of PCI buses and the functions reserved on them.
pub struct AddrSet {
    buses: Vec<Bus>,
    dry_run: bool,
    pcie_to_pci_bridge: bool,
}

/// virDomainPCIAddressFlagsCompatible
fn flags_compatible(
    addr: &PciAddr,
    bus_flags: u32,
    dev_flags: u32,
    report: bool,
    from_config: bool,
) -> Result<bool> {
    let mut bus_flags = bus_flags;
    let mut dev_flags = dev_flags;
    let s = addr.display();
    if dev_flags & INTEGRATED != 0 {
        if addr.bus == 0 {
            bus_flags |= AUTOASSIGN;
        } else {
            if report {
                return Err(err(
                    from_config,
                    format!(
                        "The device at PCI address {} needs to be an integrated device (bus=0)",
                        s
                    ),
                ));
            }
            return Ok(false);
        }
    }
    if from_config {
        if bus_flags & TYPES_ENDPOINT != 0 {
            bus_flags |= TYPES_ENDPOINT;
        }
        if dev_flags & PCI_BRIDGE != 0 {
            dev_flags |= PCI_DEVICE;
        }
    } else if dev_flags & AUTOASSIGN != 0 && bus_flags & AUTOASSIGN == 0 {
        if report {
            return Err(err(
                from_config,
                format!(
                    "The device at PCI address {} was auto-assigned this address, but the PCI controller with index='{}' doesn't allow auto-assignment",
                    s, addr.bus
                ),
            ));
        }
        return Ok(false);
    }
    if dev_flags & HOTPLUGGABLE != 0 && bus_flags & HOTPLUGGABLE == 0 {
        if report {
            return Err(err(
                from_config,
                format!(
                    "The device at PCI address {} requires hotplug capability, but the PCI controller with index='{}' doesn't support hotplug",
                    s, addr.bus
                ),
            ));
        }
        return Ok(false);
    }
    if dev_flags & bus_flags & TYPES_MASK == 0 {
        if !report {
            return Ok(false);
        }
        let what = [
            (PCI_DEVICE, "standard PCI device"),
            (PCIE_DEVICE, "PCI Express device"),
            (PCIE_ROOT_PORT, "pcie-root-port"),
            (PCIE_SWITCH_UPSTREAM_PORT, "pcie-switch-upstream-port"),
            (PCIE_SWITCH_DOWNSTREAM_PORT, "pcie-switch-downstream-port"),
            (DMI_TO_PCI_BRIDGE, "dmi-to-pci-bridge"),
            (PCIE_TO_PCI_BRIDGE, "pcie-to-pci-bridge"),
            (PCI_EXPANDER_BUS, "pci-expander-bus"),
            (PCIE_EXPANDER_BUS, "pcie-expander-bus"),
            (PCI_BRIDGE, "pci-bridge"),
        ]
        .into_iter()
        .find(|(f, _)| dev_flags & f != 0)
        .map(|(_, w)| w);
        let Some(what) = what else {
            return Err(err(
                from_config,
                format!(
                    "The device at PCI address {} has unrecognized connection type flags 0x{:02x}",
                    s,
                    dev_flags & TYPES_MASK
                ),
            ));
        };
        return Err(err(
            from_config,
            format!(
                "The device at PCI address {} cannot be plugged into the PCI controller with index='{}'. It requires a controller that accepts a {}.",
                s, addr.bus, what
            ),
        ));
    }
    Ok(true)
}

impl AddrSet {
    fn new(nbuses: usize, dry_run: bool) -> AddrSet {
        AddrSet {
            buses: vec![Bus::default(); nbuses],
            dry_run,
            pcie_to_pci_bridge: false,
        }
    }

    pub fn nbuses(&self) -> usize {
        self.buses.len()
    }

    /// virDomainPCIAddressValidate
    fn validate(&self, addr: &PciAddr, flags: u32, from_config: bool) -> Result<()> {
        let s = addr.display();
        if self.buses.is_empty() {
            return Err(err(from_config, "No PCI buses available".into()));
        }
        if addr.domain != 0 {
            return Err(err(
                from_config,
                format!("Invalid PCI address {}. Only PCI domain 0 is available", s),
            ));
        }
        if addr.bus as usize >= self.buses.len() {
            return Err(err(
                from_config,
                format!(
                    "Invalid PCI address {}. Only PCI buses up to {} are available",
                    s,
                    self.buses.len() - 1
                ),
            ));
        }
        let bus = &self.buses[addr.bus as usize];
        flags_compatible(addr, bus.flags, flags, true, from_config)?;
        if bus.min_slot > 0 && addr.slot < bus.min_slot {
            return Err(err(
                from_config,
                format!(
                    "Invalid PCI address {}. slot must be >= {}",
                    s, bus.min_slot
                ),
            ));
        }
        if addr.slot > bus.max_slot {
            return Err(err(
                from_config,
                format!(
                    "Invalid PCI address {}. slot must be <= {}",
                    s, bus.max_slot
                ),
            ));
        }
        if addr.function > FUNCTION_LAST {
            return Err(err(
                from_config,
                format!(
                    "Invalid PCI address {}. function must be <= {}",
                    s, FUNCTION_LAST
                ),
            ));
        }
        Ok(())
    }

    /// virDomainPCIAddressSetGrow: adds buses so `addr` exists (dry run).
    fn grow(&mut self, addr: &mut PciAddr, flags: u32) -> Result<()> {
        let mut add = addr.bus as i64 - self.buses.len() as i64 + 1;
        if add <= 0 {
            return Ok(());
        }
        let mut need_dmi = false;
        let mut need_pcie_to_pci = false;
        let model;
        if flags & PCI_DEVICE != 0 {
            model = "pci-bridge";
            let have_bridge_slot = self.buses.iter().any(|b| b.flags & PCI_BRIDGE != 0);
            if !have_bridge_slot {
                if self.pcie_to_pci_bridge {
                    need_pcie_to_pci = true;
                } else {
                    need_dmi = true;
                }
                if add == 1 {
                    add += 1;
                    addr.bus += 1;
                }
            }
        } else if flags & (PCIE_DEVICE | PCIE_SWITCH_UPSTREAM_PORT) != 0 {
            model = "pcie-root-port";
        } else {
            return Err(match connect_type_to_model(flags) {
                Some(m) => Error::new(
                    code::INTERNAL_ERROR,
                    FROM,
                    format!(
                        "a PCI slot is needed to connect a PCI controller model='{}', but none is available, and it cannot be automatically added",
                        m
                    ),
                ),
                None => Error::new(
                    code::INTERNAL_ERROR,
                    FROM,
                    format!(
                        "Cannot automatically add a new PCI bus for a device with connect flags {:02x}",
                        flags
                    ),
                ),
            });
        }
        let mut i = self.buses.len();
        self.buses
            .extend(std::iter::repeat_with(Bus::default).take(add as usize));
        if need_dmi {
            self.buses[i].set_model("dmi-to-pci-bridge", false)?;
            i += 1;
        }
        if need_pcie_to_pci {
            self.buses[i].set_model("pcie-root-port", true)?;
            self.buses[i].flags = PCIE_TO_PCI_BRIDGE;
            i += 1;
            self.buses[i].set_model("pcie-to-pci-bridge", true)?;
            i += 1;
        }
        while i < self.buses.len() {
            self.buses[i].set_model(model, true)?;
            i += 1;
        }
        Ok(())
    }

    fn slot_in_use(&self, addr: &PciAddr) -> bool {
        self.buses
            .get(addr.bus as usize)
            .is_some_and(|b| b.slots[addr.slot as usize & 31].functions != 0)
    }

    /// virDomainPCIAddressReserveAddrInternal
    fn reserve_internal(&mut self, addr: &PciAddr, flags: u32, from_config: bool) -> Result<()> {
        let mut a = *addr;
        if self.dry_run {
            self.grow(&mut a, flags)?;
        }
        self.validate(&a, flags, from_config)?;
        let bus = &mut self.buses[a.bus as usize];
        let slot = &mut bus.slots[a.slot as usize];
        if slot.functions & (1 << a.function) != 0 {
            return Err(err(
                from_config,
                format!("Attempted double use of PCI Address {}", a.display()),
            ));
        }
        if slot.functions == 0 && flags & AGGREGATE_SLOT != 0 {
            slot.aggregate = true;
        }
        slot.functions |= 1 << a.function;
        Ok(())
    }

    /// virDomainPCIAddressReserveAddr (an address from the config).
    pub fn reserve(&mut self, addr: &PciAddr, flags: u32) -> Result<()> {
        self.reserve_internal(addr, flags, true)
    }

    /// virDomainPCIAddressFindUnusedFunctionOnBus
    fn find_on_bus(&self, bus_idx: usize, a: &mut PciAddr, function: i32, flags: u32) -> bool {
        let bus = &self.buses[bus_idx];
        if !flags_compatible(a, bus.flags, flags, false, false).unwrap_or(false) {
            return false;
        }
        while a.slot <= bus.max_slot {
            let slot = &bus.slots[a.slot as usize];
            if slot.functions == 0 {
                return true;
            }
            if flags & AGGREGATE_SLOT != 0 && slot.aggregate {
                if slot.functions & (1 << a.function) == 0 {
                    return true;
                }
                if function == -1 {
                    while a.function < 8 {
                        if slot.functions & (1 << a.function) == 0 {
                            return true;
                        }
                        a.function += 1;
                    }
                    a.function = 0;
                }
            }
            a.slot += 1;
        }
        false
    }

    /// virDomainPCIAddressGetNextAddr
    fn next_addr(&mut self, flags: u32, function: i32) -> Result<PciAddr> {
        if self.buses.is_empty() {
            return Err(Error::new(code::XML_ERROR, FROM, "No PCI buses available"));
        }
        let mut a = PciAddr {
            function: if function == -1 { 0 } else { function as u32 },
            ..Default::default()
        };
        for b in 0..self.buses.len() {
            a.bus = b as u32;
            a.slot = self.buses[b].min_slot;
            if self.find_on_bus(b, &mut a, function, flags) {
                return Ok(a);
            }
        }
        if self.dry_run {
            a.bus = self.buses.len() as u32;
            self.grow(&mut a, flags)?;
            a.slot = self.buses[a.bus as usize].min_slot;
            return Ok(a);
        }
        Err(Error::new(
            code::INTERNAL_ERROR,
            FROM,
            "No more available PCI slots",
        ))
    }

    /// virDomainPCIAddressReserveNextAddr: the address, or `None` in a
    /// dry run (which only counts).
    pub fn reserve_next(&mut self, flags: u32, function: i32) -> Result<Option<PciAddr>> {
        let a = self.next_addr(flags, function)?;
        self.reserve_internal(&a, flags, false)?;
        Ok((!self.dry_run).then_some(a))
    }
}

/// The connect flags of a device (qemuDomainDeviceCalculatePCIConnectFlags).
pub fn connect_flags(def: &Domain, loc: Loc, pcie: u32, virtio: u32) -> u32 {
    let pci = PCI_DEVICE | AUTOASSIGN;
    let d = &def.devices;
    let transitional = |m: Option<&str>| m == Some("virtio-transitional");
    match loc {
        Loc::Controller(i) => {
            let c = &d.controllers[i];
            let model = c.model.as_deref();
            match c.ctype.as_str() {
                "pci" => controller_connect_type(model.unwrap_or("")),
                "sata" | "ide" => pci,
                "usb" => match model {
                    None => pci,
                    Some("nec-xhci" | "qemu-xhci") => pcie,
                    Some("qusb1" | "qusb2" | "none") => 0,
                    Some(_) => pci,
                },
                "scsi" => match model {
                    None | Some("ncr53c90") => 0,
                    Some("virtio-scsi" | "virtio-non-transitional") => virtio,
                    Some(_) => pci,
                },
                "virtio-serial" => match model {
                    Some("virtio-transitional") => pci,
                    _ => virtio,
                },
                _ => 0,
            }
        }
        Loc::Net(i) => {
            let n = &d.interfaces[i];
            match n.model.as_deref() {
                _ if n.net_type == "hostdev" => 0,
                Some("usb-net") => 0,
                Some("virtio" | "virtio-non-transitional") => virtio,
                Some("virtio-transitional") => pci,
                Some("e1000e") => pcie,
                None => pcie,
                Some(_) => pci,
            }
        }
        Loc::Disk(i) => {
            let disk = &d.disks[i];
            if disk.bus() != "virtio" {
                return 0;
            }
            let model = disk
                .extra
                .attrs
                .iter()
                .find(|a| a.name == "model")
                .map(|a| a.value.as_str());
            if transitional(model) {
                pci
            } else {
                virtio
            }
        }
        Loc::Video(i) => match d.videos[i].model.as_str() {
            "virtio" => virtio,
            "vga" | "cirrus" | "vmvga" | "xen" | "vbox" | "qxl" | "parallels" => pci,
            "bochs" => pcie,
            _ => 0,
        },
        Loc::Serial(i) => {
            if d.chardevs.serials[i].target_type == "pci-serial" {
                pci
            } else {
                0
            }
        }
        Loc::Parallel(_) | Loc::Channel(_) | Loc::Console(_) => 0,
        Loc::Raw(i) => {
            let el = &d.raw[i].0;
            let model = el.attr("model");
            match el.name.as_str() {
                "filesystem" => {
                    let driver = el.child("driver").and_then(|x| x.attr("type"));
                    match driver {
                        None | Some("path" | "handle") => {
                            if transitional(model) {
                                pci
                            } else {
                                virtio
                            }
                        }
                        Some("virtiofs") => virtio,
                        _ => 0,
                    }
                }
                "sound" => match model {
                    Some("es1370" | "ac97" | "ich6" | "ich9") => pci,
                    _ => 0,
                },
                "hostdev" => hostdev_flags(el, pci, pcie, virtio),
                "memballoon" => match model {
                    Some("virtio-transitional") => pci,
                    Some("virtio" | "virtio-non-transitional") => virtio,
                    _ => 0,
                },
                "rng" => {
                    if transitional(model) {
                        pci
                    } else {
                        virtio
                    }
                }
                "watchdog" if model == Some("i6300esb") => pci,
                "shmem" => pci,
                "input" if el.attr("bus") == Some("virtio") => {
                    if transitional(model) {
                        pci
                    } else {
                        virtio
                    }
                }
                "iommu" if model == Some("virtio") => virtio | INTEGRATED,
                "vsock" => match model {
                    Some("virtio-transitional") => pci,
                    Some("virtio" | "virtio-non-transitional") => virtio,
                    _ => 0,
                },
                "memory" => match model {
                    Some("virtio-pmem" | "virtio-mem") => virtio,
                    _ => 0,
                },
                _ => 0,
            }
        }
    }
}

fn hostdev_flags(el: &Element, pci: u32, pcie: u32, virtio: u32) -> u32 {
    let mode = el.attr("mode").unwrap_or("subsystem");
    let t = el.attr("type").unwrap_or("");
    if mode != "subsystem" || !matches!(t, "pci" | "scsi_host" | "mdev") {
        return 0;
    }
    if pci == pcie {
        return pci;
    }
    if el
        .child("address")
        .and_then(PciAddr::of)
        .is_some_and(|a| !a.is_empty())
    {
        return pcie;
    }
    match t {
        "mdev" => pcie,
        "scsi_host" => match el.attr("model") {
            Some("virtio-transitional") => pci,
            _ => virtio,
        },
        _ => pcie,
    }
}

/// The info type of a device: its address type, `None` without one.
fn info_type(def: &Domain, loc: Loc) -> Option<String> {
    devs::address_type(def, loc)
}

/// virDeviceInfoPCIAddressIsWanted
fn is_wanted(def: &Domain, loc: Loc) -> bool {
    match devs::address(def, loc) {
        None => true,
        Some(a) => PciAddr::of(&a).is_some_and(|p| p.is_empty()),
    }
}

/// virDeviceInfoPCIAddressIsPresent
fn is_present(def: &Domain, loc: Loc) -> Option<PciAddr> {
    devs::pci_address(def, loc).filter(|p| !p.is_empty())
}

struct Assigner<'a> {
    env: &'a Env<'a>,
    flags: std::collections::HashMap<LocKey, u32>,
}

#[derive(Hash, PartialEq, Eq, Clone, Copy)]
struct LocKey(u8, usize);

fn key(loc: Loc) -> LocKey {
    match loc {
        Loc::Disk(i) => LocKey(0, i),
        Loc::Net(i) => LocKey(1, i),
        Loc::Controller(i) => LocKey(2, i),
        Loc::Video(i) => LocKey(3, i),
        Loc::Serial(i) => LocKey(4, i),
        Loc::Parallel(i) => LocKey(5, i),
        Loc::Channel(i) => LocKey(6, i),
        Loc::Console(i) => LocKey(7, i),
        Loc::Raw(i) => LocKey(8, i),
    }
}

impl Assigner<'_> {
    fn flag_base(&self, def: &Domain) -> (u32, u32) {
        let pcie = if has_pcie_root(def) {
            PCIE_DEVICE | AUTOASSIGN
        } else {
            PCI_DEVICE | AUTOASSIGN
        };
        let virtio = if self.env.caps.has_type("virtio-blk-pci-transitional") {
            pcie
        } else {
            PCI_DEVICE | AUTOASSIGN
        };
        (pcie, virtio)
    }

    fn fill_flags(&mut self, def: &Domain) {
        let (pcie, virtio) = self.flag_base(def);
        self.flags.clear();
        for loc in devs::iterate(def) {
            self.flags
                .insert(key(loc), connect_flags(def, loc, pcie, virtio));
        }
    }

    fn flags_of(&self, loc: Loc) -> u32 {
        self.flags.get(&key(loc)).copied().unwrap_or(0)
    }

    /// qemuDomainPCIAddressReserveNextAddr for a device.
    fn reserve_next(&self, def: &mut Domain, set: &mut AddrSet, loc: Loc) -> Result<()> {
        if let Some(a) = set.reserve_next(self.flags_of(loc), -1)? {
            devs::set_pci_address(def, loc, a);
        }
        Ok(())
    }

    /// qemuDomainPCIAddressSetCreate
    fn create_set(&mut self, def: &Domain, nbuses: usize, dry_run: bool) -> Result<AddrSet> {
        let mut set = AddrSet::new(nbuses, dry_run);
        set.pcie_to_pci_bridge = self.env.caps.has_type("pcie-pci-bridge");
        let mut pcie_root = false;
        for c in def.devices.controllers.iter().filter(|c| c.ctype == "pci") {
            let idx = c.index.unwrap_or(0) as usize;
            if idx >= set.buses.len() {
                return Err(Error::new(
                    code::INTERNAL_ERROR,
                    FROM,
                    format!(
                        "Inappropriate new pci controller index {} exceeds addrs array length",
                        idx
                    ),
                ));
            }
            let hotplug = c.el.child("target").and_then(|t| t.attr("hotplug")) != Some("off");
            set.buses[idx].set_model(c.model.as_deref().unwrap_or(""), hotplug)?;
            if c.model.as_deref() == Some("pcie-root") {
                pcie_root = true;
            }
        }
        if nbuses > 0 && set.buses[0].model.is_none() {
            set.buses[0].set_model("pci-root", true)?;
        }
        let default = if pcie_root {
            "pcie-root-port"
        } else {
            "pci-bridge"
        };
        for b in set.buses.iter_mut().skip(1) {
            if b.model.is_none() {
                b.set_model(default, true)?;
            }
        }
        // Collect the addresses the definition already has.
        for loc in devs::iterate(def) {
            let Some(addr) = is_present(def, loc) else {
                continue;
            };
            let mut flags = self.flags_of(loc);
            if flags == 0 {
                flags = PCI_DEVICE;
                self.flags.insert(key(loc), flags);
            }
            if let Loc::Controller(i) = loc {
                let c = &def.devices.controllers[i];
                if addr.domain == 0 && addr.bus == 0 && addr.slot == 1 && c.index == Some(0) {
                    let piix3 = (c.ctype == "ide" && addr.function == 1)
                        || (c.ctype == "usb"
                            && matches!(c.model.as_deref(), None | Some("piix3-uhci"))
                            && addr.function == 2);
                    if piix3 {
                        if !set.buses.is_empty() && set.buses[0].flags & PCI_DEVICE == 0 {
                            return Err(Error::new(
                                code::INTERNAL_ERROR,
                                FROM,
                                "Bus 0 must be PCI for integrated PIIX3 USB or IDE controllers",
                            ));
                        }
                        continue;
                    }
                }
            }
            set.reserve(&addr, flags)?;
        }
        Ok(set)
    }

    /// qemuDomainValidateDevicePCISlotsPIIX3
    fn slots_piix3(&self, def: &mut Domain, set: &mut AddrSet) -> Result<()> {
        let flags = AUTOASSIGN | PCI_DEVICE;
        let ide = PciAddr {
            slot: 1,
            function: 1,
            ..Default::default()
        };
        let usb = PciAddr {
            slot: 1,
            function: 2,
            ..Default::default()
        };
        for i in 0..def.devices.controllers.len() {
            let c = &def.devices.controllers[i];
            let want = if c.ctype == "ide" && c.index == Some(0) {
                (ide, "Primary IDE controller must have PCI address 0:0:1.1")
            } else if c.ctype == "usb"
                && c.index == Some(0)
                && matches!(c.model.as_deref(), None | Some("piix3-uhci"))
            {
                (
                    usb,
                    "PIIX3 USB controller at index 0 must have PCI address 0:0:1.2",
                )
            } else {
                continue;
            };
            let loc = Loc::Controller(i);
            match is_present(def, loc) {
                Some(a) => {
                    if a.domain != want.0.domain
                        || a.bus != want.0.bus
                        || a.slot != want.0.slot
                        || a.function != want.0.function
                    {
                        return Err(Error::new(code::INTERNAL_ERROR, FROM, want.1));
                    }
                }
                None => devs::set_pci_address(def, loc, want.0),
            }
            if set.nbuses() > 0 {
                set.reserve(&want.0, flags)?;
            }
        }
        if set.nbuses() > 0 {
            for f in [0, 3] {
                set.reserve(
                    &PciAddr {
                        slot: 1,
                        function: f,
                        ..Default::default()
                    },
                    flags,
                )?;
            }
        }
        self.primary_video(def, set, 2, flags)
    }

    /// The primary video goes to `slot` of bus 0 when it is free.
    fn primary_video(
        &self,
        def: &mut Domain,
        set: &mut AddrSet,
        slot: u32,
        flags: u32,
    ) -> Result<()> {
        let Some(v) = def.devices.videos.first() else {
            return Ok(());
        };
        if v.model == "none" || v.model == "ramfb" {
            return Ok(());
        }
        let loc = Loc::Video(0);
        if !is_wanted(def, loc) {
            return Ok(());
        }
        let a = PciAddr {
            slot,
            ..Default::default()
        };
        set.validate(&a, flags, true)?;
        if set.slot_in_use(&a) {
            self.reserve_next(def, set, loc)
        } else {
            set.reserve(&a, flags)?;
            devs::set_pci_address(def, loc, a);
            Ok(())
        }
    }

    /// qemuDomainValidateDevicePCISlotsQ35
    fn slots_q35(&self, def: &mut Domain, set: &mut AddrSet) -> Result<()> {
        let flags = PCIE_DEVICE;
        for i in 0..def.devices.controllers.len() {
            let loc = Loc::Controller(i);
            let c = &def.devices.controllers[i];
            match c.ctype.as_str() {
                "sata" if c.index == Some(0) => {
                    let want = PciAddr {
                        slot: 0x1f,
                        function: 2,
                        ..Default::default()
                    };
                    match is_present(def, loc) {
                        Some(a) => {
                            if (a.domain, a.bus, a.slot, a.function) != (0, 0, 0x1f, 2) {
                                return Err(Error::new(
                                    code::INTERNAL_ERROR,
                                    FROM,
                                    "Primary SATA controller must have PCI address 0:0:1f.2",
                                ));
                            }
                        }
                        None => devs::set_pci_address(def, loc, want),
                    }
                }
                "usb"
                    if c.model.as_deref() == Some("ich9-uhci1")
                        && devs::address(def, loc).is_none() =>
                {
                    let mut a = PciAddr {
                        slot: 0x1d,
                        ..Default::default()
                    };
                    let mut assign = !set.slot_in_use(&a);
                    if !assign {
                        a.slot = 0x1a;
                        assign = !set.slot_in_use(&a);
                    }
                    if assign {
                        set.reserve(&a, flags)?;
                        a.multi = Some(true);
                        devs::set_pci_address(def, loc, a);
                    }
                }
                "pci"
                    if c.model.as_deref() == Some("dmi-to-pci-bridge")
                        && devs::address(def, loc).is_none() =>
                {
                    let a = PciAddr {
                        slot: 0x1e,
                        ..Default::default()
                    };
                    if !set.slot_in_use(&a) {
                        set.reserve(&a, flags)?;
                        devs::set_pci_address(def, loc, a);
                    }
                }
                _ => {}
            }
        }
        if set.nbuses() > 0 {
            set.reserve(
                &PciAddr {
                    slot: 0x1f,
                    function: 0,
                    multi: Some(true),
                    ..Default::default()
                },
                flags,
            )?;
            set.reserve(
                &PciAddr {
                    slot: 0x1f,
                    function: 3,
                    ..Default::default()
                },
                flags,
            )?;
        }
        self.primary_video(def, set, 1, flags)?;
        let a = PciAddr {
            slot: 0x1b,
            ..Default::default()
        };
        if set.nbuses() > 0 && !set.slot_in_use(&a) {
            let sounds: Vec<Loc> = devs::iterate(def)
                .into_iter()
                .filter(|l| devs::kind(def, *l) == "sound")
                .collect();
            for loc in sounds {
                let is_ich9 = devs::raw(def, loc).and_then(|e| e.attr("model")) == Some("ich9");
                if !is_ich9 || !is_wanted(def, loc) {
                    continue;
                }
                set.reserve(&a, flags)?;
                devs::set_pci_address(def, loc, a);
                break;
            }
        }
        Ok(())
    }

    fn chipset_slots(&self, def: &mut Domain, set: &mut AddrSet) -> Result<()> {
        if is_i440fx(def) {
            self.slots_piix3(def, set)?;
        }
        if is_q35(def) {
            self.slots_q35(def, set)?;
        }
        Ok(())
    }

    fn raw_locs(def: &Domain, kind: &str) -> Vec<Loc> {
        def.devices
            .raw
            .iter()
            .enumerate()
            .filter(|(_, r)| r.0.name == kind)
            .map(|(i, _)| Loc::Raw(i))
            .collect()
    }

    /// qemuDomainAssignDevicePCISlots
    fn device_slots(&self, def: &mut Domain, set: &mut AddrSet) -> Result<()> {
        // PCI controllers
        for i in 0..def.devices.controllers.len() {
            let c = &def.devices.controllers[i];
            if c.ctype != "pci"
                || matches!(c.model.as_deref(), Some("pci-root" | "pcie-root"))
                || !is_wanted(def, Loc::Controller(i))
            {
                continue;
            }
            self.reserve_next(def, set, Loc::Controller(i))?;
        }
        for loc in Self::raw_locs(def, "filesystem") {
            if is_wanted(def, loc) {
                self.reserve_next(def, set, loc)?;
            }
        }
        for i in 0..def.devices.interfaces.len() {
            let loc = Loc::Net(i);
            if def.devices.interfaces[i].net_type == "hostdev" || !is_wanted(def, loc) {
                continue;
            }
            self.reserve_next(def, set, loc)?;
        }
        for loc in Self::raw_locs(def, "sound") {
            if !is_wanted(def, loc) {
                continue;
            }
            let model = devs::raw(def, loc).and_then(|e| e.attr("model"));
            if matches!(model, Some("sb16" | "pcspk" | "usb")) {
                continue;
            }
            self.reserve_next(def, set, loc)?;
        }
        // Device controllers
        for i in 0..def.devices.controllers.len() {
            let loc = Loc::Controller(i);
            let c = def.devices.controllers[i].clone();
            let model = c.model.as_deref();
            if c.ctype == "pci"
                || (c.ctype == "usb" && model == Some("none"))
                || c.ctype == "fdc"
                || c.ctype == "ccid"
                || (c.ctype == "ide" && c.index == Some(0))
                || (c.ctype == "scsi" && model == Some("ncr53c90"))
                || !is_wanted(def, loc)
            {
                continue;
            }
            let usb2 = c.ctype == "usb"
                && matches!(
                    model,
                    Some("ich9-ehci1" | "ich9-uhci1" | "ich9-uhci2" | "ich9-uhci3")
                );
            if usb2 {
                let mut addr = PciAddr::default();
                let mut found = false;
                for j in 0..def.devices.controllers.len() {
                    let o = &def.devices.controllers[j];
                    let o_usb2 = o.ctype == "usb"
                        && matches!(
                            o.model.as_deref(),
                            Some("ich9-ehci1" | "ich9-uhci1" | "ich9-uhci2" | "ich9-uhci3")
                        );
                    if o_usb2 && o.index == c.index {
                        if let Some(a) = is_present(def, Loc::Controller(j)) {
                            addr = a;
                            found = true;
                            break;
                        }
                    }
                }
                let (function, multi) = match model {
                    Some("ich9-ehci1") => (7, None),
                    Some("ich9-uhci1") => (0, Some(true)),
                    Some("ich9-uhci2") => (1, None),
                    _ => (2, None),
                };
                addr.function = function;
                addr.multi = multi;
                if found {
                    set.reserve(&addr, self.flags_of(loc))?;
                    devs::set_pci_address(def, loc, addr);
                } else if let Some(mut a) = set.reserve_next(self.flags_of(loc), function as i32)? {
                    a.multi = multi;
                    devs::set_pci_address(def, loc, a);
                }
            } else {
                self.reserve_next(def, set, loc)?;
            }
        }
        // VirtIO disks
        for i in 0..def.devices.disks.len() {
            let loc = Loc::Disk(i);
            if def.devices.disks[i].bus() != "virtio" {
                continue;
            }
            let t = info_type(def, loc);
            if is_present(def, loc).is_some() || t.as_deref() == Some("ccw") {
                continue;
            }
            if t.as_deref() == Some("virtio-mmio") && self.env.caps.has_type("virtio-mmio") {
                continue;
            }
            if !is_wanted(def, loc) {
                return Err(Error::new(
                    code::CONFIG_UNSUPPORTED,
                    FROM,
                    format!(
                        "virtio disk cannot have an address of type '{}'",
                        t.unwrap_or_default()
                    ),
                ));
            }
            self.reserve_next(def, set, loc)?;
        }
        for loc in Self::raw_locs(def, "hostdev") {
            if !is_wanted(def, loc) {
                continue;
            }
            let Some(el) = devs::raw(def, loc) else {
                continue;
            };
            if el.attr("mode").unwrap_or("subsystem") != "subsystem" {
                continue;
            }
            let t = el.attr("type").unwrap_or("");
            let ok = matches!(t, "pci" | "scsi_host")
                || (t == "mdev" && el.attr("model") == Some("vfio-pci"));
            if !ok || info_type(def, loc).as_deref() == Some("unassigned") {
                continue;
            }
            self.reserve_next(def, set, loc)?;
        }
        for loc in Self::raw_locs(def, "memballoon") {
            let model = devs::raw(def, loc).and_then(|e| e.attr("model"));
            if model != Some("none") && is_wanted(def, loc) {
                self.reserve_next(def, set, loc)?;
            }
        }
        for loc in Self::raw_locs(def, "rng") {
            if is_wanted(def, loc) {
                self.reserve_next(def, set, loc)?;
            }
        }
        for loc in Self::raw_locs(def, "watchdog").into_iter().take(1) {
            let model = devs::raw(def, loc).and_then(|e| e.attr("model"));
            if model == Some("i6300esb") && is_wanted(def, loc) {
                self.reserve_next(def, set, loc)?;
            }
        }
        for i in 0..def.devices.videos.len() {
            let loc = Loc::Video(i);
            let m = def.devices.videos[i].model.as_str();
            if m == "none" || m == "ramfb" || !is_wanted(def, loc) {
                continue;
            }
            self.reserve_next(def, set, loc)?;
        }
        for loc in Self::raw_locs(def, "shmem") {
            if is_wanted(def, loc) {
                self.reserve_next(def, set, loc)?;
            }
        }
        for loc in Self::raw_locs(def, "input") {
            let bus = devs::raw(def, loc).and_then(|e| e.attr("bus"));
            if bus == Some("virtio") && is_wanted(def, loc) {
                self.reserve_next(def, set, loc)?;
            }
        }
        for i in 0..def.devices.chardevs.serials.len() {
            let loc = Loc::Serial(i);
            if def.devices.chardevs.serials[i].target_type == "pci-serial" && is_wanted(def, loc) {
                self.reserve_next(def, set, loc)?;
            }
        }
        for loc in Self::raw_locs(def, "iommu").into_iter().take(1) {
            let model = devs::raw(def, loc).and_then(|e| e.attr("model"));
            if model == Some("virtio") && is_wanted(def, loc) {
                self.reserve_next(def, set, loc)?;
            }
        }
        for loc in Self::raw_locs(def, "vsock").into_iter().take(1) {
            if is_wanted(def, loc) {
                self.reserve_next(def, set, loc)?;
            }
        }
        for loc in Self::raw_locs(def, "memory") {
            let model = devs::raw(def, loc).and_then(|e| e.attr("model"));
            if matches!(model, Some("virtio-pmem" | "virtio-mem")) && is_wanted(def, loc) {
                self.reserve_next(def, set, loc)?;
            }
        }
        Ok(())
    }
}

/// virDomainPCIAddressSetAllMulti: function 0 of a slot with several
/// functions in use gets `multifunction='on'` (unless set off).
fn set_all_multi(def: &mut Domain) {
    let locs = devs::iterate(def);
    let addrs: Vec<(Loc, PciAddr)> = locs
        .iter()
        .filter_map(|l| devs::pci_address(def, *l).map(|a| (*l, a)))
        .collect();
    for (_, a) in addrs.iter().filter(|(_, a)| a.function != 0) {
        if let Some((loc, b)) = addrs.iter().find(|(_, b)| {
            b.domain == a.domain && b.bus == a.bus && b.slot == a.slot && b.function == 0
        }) {
            let cur = devs::pci_address(def, *loc).unwrap_or(*b);
            if cur.multi.is_none() {
                let mut n = cur;
                n.multi = Some(true);
                devs::set_pci_address(def, *loc, n);
            }
        }
    }
}

/// Sets `<model name>` and `<target>` attributes of a PCI controller.
fn set_pci_controller_options(
    el: &mut Element,
    model_name: Option<&str>,
    target: &[(&str, String)],
) {
    if let Some(name) = model_name {
        if el.child("model").and_then(|m| m.attr("name")).is_none() {
            el.children
                .retain(|n| !matches!(n, Node::Element(e) if e.name == "model"));
            let mut m = Element::new("model");
            m.set_attr("name", name);
            el.children.insert(0, Node::Element(m));
        }
    }
    if target.is_empty() {
        return;
    }
    let pos = el
        .children
        .iter()
        .position(|n| matches!(n, Node::Element(e) if e.name == "target"));
    let mut t = match pos {
        Some(p) => match &el.children[p] {
            Node::Element(e) => e.clone(),
            _ => Element::new("target"),
        },
        None => Element::new("target"),
    };
    for (k, v) in target {
        if t.attr(k).is_none() {
            t.set_attr(k, v.clone());
        }
    }
    oxvirt_xml::domain::devices::order_pci_target(&mut t);
    match pos {
        Some(p) => el.children[p] = Node::Element(t),
        None => el.children.push(Node::Element(t)),
    }
}

fn target_num(el: &Element, name: &str) -> Option<i64> {
    el.child("target")
        .and_then(|t| t.attr(name))
        .and_then(oxvirt_xml::props::parse_u64_any_base)
        .map(|v| v as i64)
}

/// qemuDomainAddressFindNewBusNr
fn find_new_bus_nr(def: &Domain) -> Option<u32> {
    let lowest = def
        .devices
        .controllers
        .iter()
        .filter(|c| c.ctype == "pci")
        .filter_map(|c| target_num(&c.el, "busNr"))
        .filter(|v| *v >= 0)
        .min()
        .unwrap_or(256);
    (lowest > 2).then(|| (lowest - 2) as u32)
}

/// qemuDomainAssignPCIAddresses
pub fn assign(def: &mut Domain, env: &Env) -> Result<()> {
    let mut a = Assigner {
        env,
        flags: Default::default(),
    };
    let max_idx: i64 = def
        .devices
        .controllers
        .iter()
        .filter(|c| c.ctype == "pci")
        .map(|c| c.index.unwrap_or(0) as i64)
        .max()
        .unwrap_or(-1);
    let mut nbuses = (max_idx + 1) as usize;
    a.fill_flags(def);
    if nbuses > 0 {
        let mut set = a.create_set(def, nbuses, true)?;
        a.chipset_slots(def, &mut set)?;
        if has_pci_root(def) && !set.buses.iter().all(Bus::is_fully_reserved) {
            set.reserve_next(AUTOASSIGN | PCI_DEVICE, -1)?;
        }
        a.device_slots(def, &mut set)?;
        if max_idx <= 0 && set.nbuses() as i64 > max_idx + 1 && has_pcie_root(def) {
            set.reserve_next(AUTOASSIGN | PCIE_DEVICE, -1)?;
        }
        let mut i = 0;
        while i + 1 < set.nbuses() {
            i += 1;
            let model = set.buses[i].model.unwrap_or("pci-bridge");
            if !maybe_add_controller(&mut def.devices, "pci", i as u32, Some(model)) {
                continue;
            }
            let ci = def.devices.controllers.len() - 1;
            let (pcie, virtio) = a.flag_base(def);
            let f = connect_flags(def, Loc::Controller(ci), pcie, virtio);
            a.flags.insert(key(Loc::Controller(ci)), f);
            if model != "pci-root" && model != "pcie-root" {
                set.reserve_next(f, -1)?;
            }
        }
        nbuses = set.nbuses();
    }
    let mut set = a.create_set(def, nbuses, false)?;
    a.chipset_slots(def, &mut set)?;
    a.device_slots(def, &mut set)?;
    set_all_multi(def);
    let q_root_port = env.caps.has_type("pcie-root-port");
    for i in 0..def.devices.controllers.len() {
        if def.devices.controllers[i].ctype != "pci" {
            continue;
        }
        let loc = Loc::Controller(i);
        let addr = devs::pci_address(def, loc).unwrap_or_default();
        let idx = def.devices.controllers[i].index.unwrap_or(0);
        let model = def.devices.controllers[i].model.clone().unwrap_or_default();
        let name = match model.as_str() {
            "pci-bridge" => Some("pci-bridge"),
            "dmi-to-pci-bridge" => Some("i82801b11-bridge"),
            "pcie-to-pci-bridge" => Some("pcie-pci-bridge"),
            "pcie-root-port" => Some(if q_root_port {
                "pcie-root-port"
            } else {
                "ioh3420"
            }),
            "pcie-switch-upstream-port" => Some("x3130-upstream"),
            "pcie-switch-downstream-port" => Some("xio3130-downstream"),
            "pci-expander-bus" => Some("pxb"),
            "pcie-expander-bus" => Some("pxb-pcie"),
            _ => None,
        };
        let el = &def.devices.controllers[i].el;
        let mut target: Vec<(&str, String)> = Vec::new();
        match model.as_str() {
            "pci-bridge" if target_num(el, "chassisNr").is_none() => {
                target.push(("chassisNr", idx.to_string()));
            }
            "pcie-root-port" => {
                if target_num(el, "chassis").is_none() {
                    target.push(("chassis", idx.to_string()));
                }
                if target_num(el, "port").is_none() {
                    target.push(("port", format!("0x{:x}", (addr.slot << 3) + addr.function)));
                }
            }
            "pcie-switch-downstream-port" => {
                if target_num(el, "chassis").is_none() {
                    target.push(("chassis", idx.to_string()));
                }
                if target_num(el, "port").is_none() {
                    target.push(("port", format!("0x{:x}", addr.slot)));
                }
            }
            "pci-expander-bus" | "pcie-expander-bus" if target_num(el, "busNr").is_none() => {
                match find_new_bus_nr(def) {
                    Some(n) => target.push(("busNr", n.to_string())),
                    None => {
                        return Err(Error::new(
                            code::CONFIG_UNSUPPORTED,
                            FROM,
                            format!(
                                "No free busNr lower than current lowest busNr is available to auto-assign to bus {}. Must be manually assigned",
                                addr.bus
                            ),
                        ))
                    }
                }
            }
            _ => {}
        }
        set_pci_controller_options(&mut def.devices.controllers[i].el, name, &target);
        if model == "pci-bridge" && idx <= addr.bus {
            return Err(Error::new(
                code::CONFIG_UNSUPPORTED,
                FROM,
                format!(
                    "PCI controller at index {} (0x{:02x}) has bus='0x{:02x}', but index must be larger than bus",
                    idx, idx, addr.bus
                ),
            ));
        }
    }
    Ok(())
}
