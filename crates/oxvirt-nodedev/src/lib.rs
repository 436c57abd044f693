//! The host-wide node device driver (libvirt's node_device_udev.c): the
//! host's PCI, USB, network, storage, SCSI, SCSI generic and DRM devices
//! read from sysfs (and udev's database when a udevd keeps one), as
//! libvirt names, parents and describes them; capability filters; and
//! node device events from the kernel's uevents (created, deleted,
//! updated), so hotplug is seen even without a udevd.
//!
//! Methods have the `Connection` trait's names and signatures, so a
//! connection's node device slot forwards to them. Detach, reattach and
//! reset follow the QEMU driver's rules: without an IOMMU and /dev/vfio
//! nothing is detached.
//!
//! Invariants:
//! - one instance per daemon root; the device list is refreshed by the
//!   uevent thread and each device again when its XML is asked for;
//! - nothing here writes to sysfs except a reset or reattach a client
//!   asked for on a device that allows it.

mod devices;
mod monitor;
mod netdev;
mod pci;
pub mod sysfs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use oxvirt_core::driver::NodeDevEventCallback;
use oxvirt_core::error::{check_flags, code, from};
use oxvirt_core::event::EventHub;
use oxvirt_core::host::PciAssignment;
use oxvirt_core::types::NodeDevRef;
use oxvirt_core::NodeDeviceDriver;
use oxvirt_core::{Error, Result};
use oxvirt_xml::nodedev::{Cap, NodeDevice};

pub use devices::device_name;
pub use sysfs::Sources;

const FROM: i32 = from::NODEDEV;

/// `virConnectListAllNodeDevices` filter bits, by capability name.
const CAP_FLAGS: &[(&str, u32)] = &[
    ("system", 1 << 0),
    ("pci", 1 << 1),
    ("usb_device", 1 << 2),
    ("usb", 1 << 3),
    ("net", 1 << 4),
    ("scsi_host", 1 << 5),
    ("scsi_target", 1 << 6),
    ("scsi", 1 << 7),
    ("storage", 1 << 8),
    ("fc_host", 1 << 9),
    ("vports", 1 << 10),
    ("scsi_generic", 1 << 11),
    ("drm", 1 << 12),
    ("mdev_types", 1 << 13),
    ("mdev", 1 << 14),
    ("ccw", 1 << 15),
    ("css", 1 << 16),
    ("vdpa", 1 << 17),
    ("ap_card", 1 << 18),
    ("ap_queue", 1 << 19),
    ("ap_matrix", 1 << 20),
    ("vpd", 1 << 21),
];
const LIST_INACTIVE: u32 = 1 << 30;
const LIST_ACTIVE: u32 = 1 << 31;
const LIST_CAPS: u32 = (1 << 22) - 1;

/// `VIR_NODE_DEVICE_EVENT_*`
pub const EVENT_CREATED: i32 = 0;
pub const EVENT_DELETED: i32 = 1;

/// One device and where it lives.
#[derive(Debug, Clone)]
struct Dev {
    def: NodeDevice,
    syspath: Option<PathBuf>,
}

#[derive(Default)]
struct State {
    /// By name.
    devs: BTreeMap<String, Dev>,
}

impl State {
    fn by_syspath(&self, p: &Path) -> Option<&Dev> {
        self.devs.values().find(|d| d.syspath.as_deref() == Some(p))
    }

    /// The nearest ancestor directory that is a device, else "computer".
    fn parent_of(&self, syspath: &Path) -> String {
        let mut p = syspath.parent();
        while let Some(dir) = p {
            if let Some(d) = self.by_syspath(dir) {
                return d.def.name.clone();
            }
            p = dir.parent();
        }
        "computer".into()
    }
}

/// The node device driver of one daemon.
pub struct NodeDevDriver {
    src: Sources,
    state: Mutex<State>,
    events: EventHub,
}

fn no_device(name: &str) -> Error {
    Error::new(
        code::NO_NODE_DEVICE,
        FROM,
        format!("no node device with matching name '{}'", name),
    )
}

impl NodeDevDriver {
    /// The driver over the real /sys, with its uevent thread running.
    pub fn open() -> Arc<NodeDevDriver> {
        let d = Self::with_sources(Sources::default());
        monitor::start(&d);
        d
    }

    /// A driver over `src`, scanned once, without a uevent thread.
    pub fn with_sources(src: Sources) -> Arc<NodeDevDriver> {
        let d = Arc::new(NodeDevDriver {
            src,
            state: Mutex::new(State::default()),
            events: EventHub::new(),
        });
        d.rescan();
        d
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn host_uuid(&self) -> String {
        std::fs::read_to_string(self.src.sys.join("class/dmi/id/product_uuid"))
            .ok()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| s.len() == 36)
            .unwrap_or_else(|| "00000000-0000-0000-0000-000000000000".into())
    }

    /// Reads every device again.
    pub fn rescan(&self) {
        let mut devs = BTreeMap::new();
        let computer = devices::system(&self.src, || self.host_uuid());
        devs.insert(
            computer.name.clone(),
            Dev {
                def: computer,
                syspath: None,
            },
        );
        let mut st = State { devs };
        for sd in sysfs::enumerate(&self.src) {
            if let Some(mut def) = devices::build(&self.src, &sd) {
                def.parent = Some(st.parent_of(&sd.syspath));
                st.devs.insert(
                    def.name.clone(),
                    Dev {
                        def,
                        syspath: Some(sd.syspath.clone()),
                    },
                );
            }
        }
        *self.lock() = st;
    }

    /// A uevent for the device at `syspath`: (re)read it, or forget it.
    /// Emits the node device events libvirt emits.
    pub(crate) fn device_changed(&self, action: &str, syspath: &Path) {
        let mut created = Vec::new();
        let mut deleted = Vec::new();
        let mut updated = Vec::new();
        {
            let mut st = self.lock();
            let old = st.by_syspath(syspath).map(|d| d.def.name.clone());
            if action == "remove" {
                // The device and anything still listed below it.
                let gone: Vec<String> = st
                    .devs
                    .values()
                    .filter(|d| d.syspath.as_deref().is_some_and(|p| p.starts_with(syspath)))
                    .map(|d| d.def.name.clone())
                    .collect();
                for n in gone {
                    st.devs.remove(&n);
                    deleted.push(n);
                }
            } else {
                let built = sysfs::SysDev::new(&self.src, syspath)
                    .and_then(|sd| devices::build(&self.src, &sd).map(|d| (d, sd.syspath)));
                match built {
                    Some((mut def, path)) => {
                        def.parent = Some(st.parent_of(&path));
                        if let Some(o) = &old {
                            if *o != def.name {
                                st.devs.remove(o);
                                deleted.push(o.clone());
                            }
                        }
                        if old.as_deref() == Some(def.name.as_str()) {
                            updated.push(def.name.clone());
                        } else {
                            created.push(def.name.clone());
                        }
                        st.devs.insert(
                            def.name.clone(),
                            Dev {
                                def,
                                syspath: Some(path),
                            },
                        );
                    }
                    None => {
                        if let Some(o) = old {
                            st.devs.remove(&o);
                            deleted.push(o);
                        }
                    }
                }
            }
        }
        for n in deleted {
            self.events.emit_node_device_lifecycle(&n, EVENT_DELETED, 0);
        }
        for n in created {
            self.events.emit_node_device_lifecycle(&n, EVENT_CREATED, 0);
        }
        for n in updated {
            self.events.emit_node_device_update(&n);
        }
    }

    fn with_dev<T>(&self, name: &str, f: impl FnOnce(&Dev) -> T) -> Result<T> {
        let st = self.lock();
        st.devs.get(name).map(f).ok_or_else(|| no_device(name))
    }

    /// Reads one device again (its dynamic facts: link, features, SR-IOV).
    fn refresh(&self, name: &str) -> Result<NodeDevice> {
        let (def, syspath) = self.with_dev(name, |d| (d.def.clone(), d.syspath.clone()))?;
        let Some(path) = syspath else {
            return Ok(def);
        };
        let fresh = sysfs::SysDev::new(&self.src, &path)
            .and_then(|sd| devices::build(&self.src, &sd))
            .filter(|d| d.name == def.name);
        match fresh {
            Some(mut d) => {
                d.parent = def.parent.clone();
                let mut st = self.lock();
                if let Some(e) = st.devs.get_mut(name) {
                    e.def = d.clone();
                }
                Ok(d)
            }
            None => Ok(def),
        }
    }

    fn caps_of(def: &NodeDevice) -> Vec<&'static str> {
        def.caps.iter().flat_map(|c| c.type_names()).collect()
    }

    fn pci_syspath(&self, dev: &NodeDevRef) -> Result<PathBuf> {
        self.with_dev(&dev.name, |d| {
            let is_pci = d.def.caps.iter().any(|c| matches!(c, Cap::Pci(_)));
            match (&d.syspath, is_pci) {
                (Some(p), true) => Ok(p.clone()),
                _ => Err(Error::invalid_arg(
                    from::NONE,
                    format!("device {} is not a PCI device", dev.name),
                )),
            }
        })?
    }

    /// True when the host can assign devices with VFIO (an IOMMU and
    /// /dev/vfio/vfio).
    pub fn vfio_usable(&self) -> bool {
        let groups = self.src.sys.join("kernel/iommu_groups");
        let has_iommu = std::fs::read_dir(groups)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false);
        has_iommu && self.src.dev.join("vfio/vfio").exists()
    }

    /// virNodeNumOfDevices / virNodeListDevices: devices with capability
    /// `cap` (all when None).
    pub fn list_node_devices(&self, cap: Option<&str>, flags: u32) -> Result<Vec<String>> {
        check_flags(flags, 0, "nodeListDevices", FROM)?;
        let st = self.lock();
        Ok(st
            .devs
            .values()
            .filter(|d| cap.is_none_or(|c| Self::caps_of(&d.def).contains(&c)))
            .map(|d| d.def.name.clone())
            .collect())
    }
}

impl NodeDeviceDriver for NodeDevDriver {
    fn list_all_node_devices(&self, flags: u32) -> Result<Vec<NodeDevRef>> {
        check_flags(
            flags,
            LIST_CAPS | LIST_ACTIVE | LIST_INACTIVE,
            "nodeConnectListAllNodeDevices",
            FROM,
        )?;
        let st = self.lock();
        let cap_filter = flags & LIST_CAPS;
        Ok(st
            .devs
            .values()
            .filter(|d| {
                // Every device here is active.
                if flags & (LIST_ACTIVE | LIST_INACTIVE) == LIST_INACTIVE {
                    return false;
                }
                cap_filter == 0
                    || Self::caps_of(&d.def)
                        .iter()
                        .any(|c| CAP_FLAGS.iter().any(|(n, b)| n == c && cap_filter & b != 0))
            })
            .map(|d| NodeDevRef {
                name: d.def.name.clone(),
            })
            .collect())
    }

    fn lookup_node_device_by_name(&self, name: &str) -> Result<NodeDevRef> {
        self.with_dev(name, |d| NodeDevRef {
            name: d.def.name.clone(),
        })
    }

    fn node_device_get_xml_desc(&self, dev: &NodeDevRef, flags: u32) -> Result<String> {
        check_flags(flags, 0, "nodeDeviceGetXMLDesc", FROM)?;
        Ok(self.refresh(&dev.name)?.format())
    }

    fn node_device_get_parent(&self, dev: &NodeDevRef) -> Result<Option<String>> {
        self.with_dev(&dev.name, |d| d.def.parent.clone())
    }

    fn node_device_list_caps(&self, dev: &NodeDevRef) -> Result<Vec<String>> {
        self.with_dev(&dev.name, |d| {
            Self::caps_of(&d.def)
                .into_iter()
                .map(str::to_string)
                .collect()
        })
    }

    /// libvirt creates vHBAs and mediated devices here; oxvirt manages
    /// neither, and refuses as libvirt refuses other device types.
    fn node_device_create_xml(&self, xml: &str, flags: u32) -> Result<NodeDevRef> {
        check_flags(flags, 1, "nodeDeviceCreateXML", FROM)?;
        let el = parse_definition(xml)?;
        if is_vhba(&el) {
            return Err(Error::internal(
                FROM,
                "Could not find any vport capable device",
            ));
        }
        Err(Error::unsupported_config(FROM, "Unsupported device type"))
    }

    fn node_device_define_xml(&self, xml: &str, flags: u32) -> Result<NodeDevRef> {
        check_flags(flags, 1, "nodeDeviceDefineXML", FROM)?;
        parse_definition(xml)?;
        Err(Error::unsupported_config(FROM, "Unsupported device type"))
    }

    fn node_device_destroy(&self, dev: &NodeDevRef) -> Result<()> {
        self.lookup_node_device_by_name(&dev.name)?;
        Err(Error::unsupported_config(FROM, "Unsupported device type"))
    }

    fn lookup_scsi_host_by_wwn(&self, wwnn: &str, wwpn: &str, flags: u32) -> Result<NodeDevRef> {
        check_flags(flags, 0, "nodeDeviceLookupSCSIHostByWWN", FROM)?;
        let st = self.lock();
        for d in st.devs.values() {
            for c in &d.def.caps {
                if let Cap::ScsiHost(h) = c {
                    if let Some((nn, pn, _)) = &h.fc_host {
                        if nn == wwnn && pn == wwpn {
                            return Ok(NodeDevRef {
                                name: d.def.name.clone(),
                            });
                        }
                    }
                }
            }
        }
        // libvirt fails here without saying why.
        Err(Error::raw(
            code::INTERNAL_ERROR,
            from::NONE,
            "An error occurred, but the cause is unknown",
        ))
    }

    fn node_device_is_active(&self, dev: &NodeDevRef) -> Result<bool> {
        self.with_dev(&dev.name, |_| true)
    }

    /// Only `computer` is persistent (and autostarted), as in libvirt.
    fn node_device_is_persistent(&self, dev: &NodeDevRef) -> Result<bool> {
        self.with_dev(&dev.name, |d| d.syspath.is_none())
    }

    fn node_device_get_autostart(&self, dev: &NodeDevRef) -> Result<bool> {
        self.with_dev(&dev.name, |d| d.syspath.is_none())
    }

    fn node_device_set_autostart(&self, dev: &NodeDevRef, _autostart: bool) -> Result<()> {
        self.lookup_node_device_by_name(&dev.name)?;
        Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            "Unsupported device type",
        ))
    }

    fn node_device_undefine(&self, dev: &NodeDevRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "nodeDeviceUndefine", FROM)?;
        self.lookup_node_device_by_name(&dev.name)?;
        Err(Error::operation_invalid(
            FROM,
            format!("Node device '{}' is not defined", dev.name),
        ))
    }

    fn node_device_create(&self, dev: &NodeDevRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "nodeDeviceCreate", FROM)?;
        self.lookup_node_device_by_name(&dev.name)?;
        Err(Error::operation_invalid(FROM, "Device is already active"))
    }

    fn node_device_event_register(
        &self,
        dev: Option<&NodeDevRef>,
        event_id: i32,
        cb: NodeDevEventCallback,
    ) -> Result<i32> {
        if let Some(d) = dev {
            self.lookup_node_device_by_name(&d.name)?;
        }
        Ok(self.events.register_node_device(dev, event_id, cb))
    }

    fn node_device_event_deregister(&self, callback_id: i32) -> Result<()> {
        if self.events.deregister(callback_id) {
            Ok(())
        } else {
            Err(Error::invalid_arg(
                from::NONE,
                format!("could not find event callback {} for deletion", callback_id),
            ))
        }
    }
}

/// PCI assignment, as the QEMU driver answers it.
impl PciAssignment for NodeDevDriver {
    /// virNodeDeviceDetachFlags, as the QEMU driver answers it.
    fn detach(&self, dev: &NodeDevRef, driver: Option<&str>, flags: u32) -> Result<()> {
        check_flags(flags, 0, "qemuNodeDeviceDetachFlags", from::QEMU)?;
        self.lookup_node_device_by_name(&dev.name)?;
        let driver = driver.unwrap_or("vfio");
        match driver {
            "vfio" => {}
            "kvm" => {
                return Err(Error::argument_unsupported(
                    from::QEMU,
                    "KVM device assignment is no longer supported on this system",
                ))
            }
            other => {
                return Err(Error::invalid_arg(
                    from::QEMU,
                    format!("unknown driver name '{}'", other),
                ))
            }
        }
        if !self.vfio_usable() {
            return Err(Error::argument_unsupported(
                from::QEMU,
                "VFIO device assignment is currently not supported on this system",
            ));
        }
        let path = self.pci_syspath(dev)?;
        bind_to(&path, "vfio-pci")
    }

    /// virNodeDeviceReAttach: a device bound to a stub driver goes back to
    /// its own driver; any other PCI device is left as it is.
    fn reattach(&self, dev: &NodeDevRef) -> Result<()> {
        let path = self.pci_syspath(dev)?;
        let drv = driver_name(&path);
        if matches!(drv.as_deref(), Some("vfio-pci" | "pci-stub")) {
            unbind_from_stub(&path)?;
        }
        Ok(())
    }

    /// virNodeDeviceReset: function level reset, power management reset,
    /// or a secondary bus reset when the device is alone on its bus behind
    /// a bridge; refused with libvirt's message when none applies.
    fn reset(&self, dev: &NodeDevRef) -> Result<()> {
        let path = self.pci_syspath(dev)?;
        let addr = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default()
            .to_string();
        if driver_name(&path).as_deref() == Some("vfio-pci") {
            // The kernel resets devices VFIO holds.
            return Ok(());
        }
        let cfg = pci::Config::read(&path);
        let is_vf = path.join("physfn").exists();
        let flr = cfg.as_ref().is_some_and(|c| c.has_flr(is_vf));
        let pm = cfg.as_ref().is_some_and(|c| c.has_pm_reset());
        let bus = bus_resettable(&path);
        if !(flr || pm || bus) || !path.join("reset").exists() {
            return Err(Error::internal(
                from::NONE,
                format!(
                    "Unable to reset PCI device {}: no FLR, PM reset or bus reset available",
                    addr
                ),
            ));
        }
        std::fs::write(path.join("reset"), "1").map_err(|e| {
            Error::system(
                from::NONE,
                format!("Unable to reset PCI device {}", addr),
                &e,
            )
        })
    }
}

/// Parses a node device definition (for create/define): libvirt's
/// well-formedness errors and root element check.
fn parse_definition(xml: &str) -> Result<oxvirt_xml::dom::Element> {
    let el = oxvirt_xml::dom::parse(xml, "(node_device_definition)")
        .map_err(|e| Error::from_xml(oxvirt_xml::Error::Malformed(e), FROM))?;
    if el.name != "device" {
        return Err(Error::new(
            code::XML_ERROR,
            FROM,
            format!("unexpected root element <{}>, expecting <device>", el.name),
        ));
    }
    Ok(el)
}

/// What create and define make of a definition before refusing it:
/// Ok(true) for a vHBA, Ok(false) for another device, or libvirt's
/// parse error (for the fuzz targets).
pub fn check_definition(xml: &str) -> Result<bool> {
    parse_definition(xml).map(|el| is_vhba(&el))
}

/// Reads one kernel uevent datagram as the monitor does: the action and
/// device path, or None when the monitor ignores it (for the fuzz
/// targets).
pub fn parse_uevent(buf: &[u8]) -> Option<(String, String, Option<String>)> {
    monitor::parse(buf).map(|u| (u.action, u.devpath, u.devpath_old))
}

fn is_vhba(el: &oxvirt_xml::dom::Element) -> bool {
    el.children_named("capability").any(|c| {
        c.attr("type") == Some("scsi_host")
            && c.children_named("capability")
                .any(|n| n.attr("type") == Some("fc_host"))
    })
}

fn driver_name(dev: &Path) -> Option<String> {
    std::fs::read_link(dev.join("driver"))
        .ok()?
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
}

fn sysfs_write(p: &Path, v: &str) -> Result<()> {
    std::fs::write(p, v).map_err(|e| {
        Error::system(
            from::NONE,
            format!("Failed to write to '{}'", p.display()),
            &e,
        )
    })
}

/// Binds a PCI device to `stub` through driver_override.
fn bind_to(dev: &Path, stub: &str) -> Result<()> {
    if driver_name(dev).as_deref() == Some(stub) {
        return Ok(());
    }
    let addr = dev.file_name().and_then(|f| f.to_str()).unwrap_or_default();
    sysfs_write(&dev.join("driver_override"), stub)?;
    if dev.join("driver").exists() {
        sysfs_write(&dev.join("driver/unbind"), addr)?;
    }
    let probe = dev
        .ancestors()
        .find(|p| p.ends_with("devices"))
        .map(|p| p.join("../bus/pci/drivers_probe"))
        .unwrap_or_else(|| PathBuf::from("/sys/bus/pci/drivers_probe"));
    sysfs_write(&probe, addr)
}

fn unbind_from_stub(dev: &Path) -> Result<()> {
    let addr = dev
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default()
        .to_string();
    sysfs_write(&dev.join("driver_override"), "\n")?;
    sysfs_write(&dev.join("driver/unbind"), &addr)?;
    sysfs_write(Path::new("/sys/bus/pci/drivers_probe"), &addr)
}

/// A secondary bus reset only touches this device: its parent is a PCI
/// bridge and no other device shares the bus.
fn bus_resettable(dev: &Path) -> bool {
    let Some(parent) = dev.parent() else {
        return false;
    };
    let parent_is_pci = parent
        .file_name()
        .and_then(|f| f.to_str())
        .and_then(oxvirt_xml::nodedev::PciAddr::parse)
        .is_some();
    if !parent_is_pci {
        return false;
    }
    let siblings = std::fs::read_dir(parent)
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(oxvirt_xml::nodedev::PciAddr::parse)
                        .is_some()
                })
                .count()
        })
        .unwrap_or(0);
    siblings == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real host: devices are listed with libvirt's names, each once,
    /// with a parent that exists, and `computer` first in the tree.
    #[test]
    fn scans_this_host() {
        let d = NodeDevDriver::with_sources(Sources::default());
        let all = d.list_all_node_devices(0).expect("list");
        assert!(all.iter().any(|r| r.name == "computer"));
        for r in &all {
            let parent = d.node_device_get_parent(r).expect("parent");
            if r.name == "computer" {
                assert_eq!(parent, None);
                continue;
            }
            let p = parent.expect("a parent");
            assert!(
                all.iter().any(|x| x.name == p),
                "{} has parent {}",
                r.name,
                p
            );
            let xml = d.node_device_get_xml_desc(r, 0).expect("xml");
            assert!(xml.starts_with("<device>\n  <name>"));
        }
        let pci = d.list_all_node_devices(1 << 1).expect("pci");
        assert!(pci.iter().all(|r| r.name.starts_with("pci_")));
        assert!(d
            .list_all_node_devices(LIST_INACTIVE)
            .expect("none")
            .is_empty());
        let e = d.lookup_node_device_by_name("nope").unwrap_err();
        assert_eq!(
            e.message,
            "Node device not found: no node device with matching name 'nope'"
        );
        let e = d.list_all_node_devices(1 << 29).unwrap_err();
        assert_eq!(
            e.message,
            "unsupported flags (0x20000000) in function nodeConnectListAllNodeDevices"
        );
    }
}
