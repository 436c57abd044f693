//! Device attach and detach (disks and interfaces), live over QMP
//! (`blockdev-add` + `device_add`, `netdev_add` + `device_add`,
//! `device_del`) and in the persistent definition (`--config`).
//!
//! Hot-plugged devices get ids derived from their target (`virtio-disk1`
//! for vdb, `scsi0-0-0-1` for a SCSI disk at its drive address; nodes
//! `libvirt-N-storage/format` with N the source's index) or from their MAC
//! (`net-hp-525400aabbcc`, `hostnet-hp-...`), so detach can name them
//! without a device alias table.

use std::os::fd::AsRawFd;

use serde_json::json;

use oxvirt_core::error::code;
use oxvirt_core::types::flags::affect;
use oxvirt_core::types::DomainRef;
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::devices::{Disk, Net};
use oxvirt_xml::domain::Domain;

use crate::driver::{check_flags, Driver};
use crate::monitor::qmp_err;
use crate::FROM;

/// VIR_ERR_DEVICE_MISSING
const DEVICE_MISSING: i32 = 99;

enum Dev {
    Disk(Disk),
    Net(Net),
}

impl Driver {
    /// Parses one `<disk>` or `<interface>` the way a domain's would be.
    fn parse_device(&self, xml: &str) -> Result<Dev> {
        let wrapped = format!(
            "<domain type='qemu'><name>oxvirt-device</name><memory>65536</memory>\
<os><type arch='x86_64'>hvm</type></os><devices>{}</devices></domain>",
            xml
        );
        let mut def = self.parse_device_def(&wrapped)?;
        crate::define::disk_defaults(&mut def);
        if let Some(d) = def.devices.disks.pop() {
            return Ok(Dev::Disk(d));
        }
        if let Some(n) = def.devices.interfaces.pop() {
            return Ok(Dev::Net(n));
        }
        let name = oxvirt_xml::dom::parse(xml, "device")
            .map(|e| e.name)
            .unwrap_or_else(|_| "unknown".into());
        Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            format!("live attach of device '{}' is not supported", name),
        ))
    }

    fn targets(flags: u32, active: bool) -> Result<(bool, bool)> {
        let live = flags & affect::LIVE != 0 || (flags & affect::CONFIG == 0 && active);
        let config = flags & affect::CONFIG != 0 || (flags & affect::LIVE == 0 && !active);
        if live && !active {
            return Err(Error::operation_invalid(
                oxvirt_core::error::from::DOMAIN,
                "domain is not running",
            ));
        }
        Ok((live, config))
    }

    pub fn attach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "qemuDomainAttachDeviceFlags",
        )?;
        let _job = self.begin_job(dom)?;
        let mut dev = self.parse_device(xml)?;
        // A SCSI disk's drive address comes from its target name.
        if let Dev::Disk(d) = &mut dev {
            if d.bus() == "scsi" {
                d.assign_address(&[])
                    .map_err(|e| Error::new(code::XML_ERROR, FROM, e.to_string()))?;
            }
        }
        let (active, persistent, run) = {
            let st = self.lock();
            let o = st.dom(dom)?;
            (o.is_active(), o.persistent, o.run.clone())
        };
        let (live, config) = Self::targets(flags, active)?;
        if config && !persistent {
            return Err(Error::operation_invalid(
                FROM,
                "cannot modify device on transient domain",
            ));
        }
        // Check both definitions before touching anything.
        {
            let st = self.lock();
            let o = st.dom(dom)?;
            if config {
                check_attach(o.persistent_def(), &dev)?;
            }
            if live {
                check_attach(&o.def, &dev)?;
            }
        }
        if live {
            let run = run.ok_or_else(|| Error::operation_invalid(FROM, "domain is not running"))?;
            let el = oxvirt_xml::dom::parse(xml, "device")
                .map_err(|e| Error::new(code::XML_ERROR, FROM, e.to_string()))?;
            let mut live_dev = match &dev {
                Dev::Disk(d) => Dev::Disk(d.clone()),
                Dev::Net(n) => Dev::Net(n.clone()),
            };
            match &mut live_dev {
                Dev::Disk(d) => {
                    let live_def = self.lock().dom(dom)?.def.clone();
                    hotplug_disk(&run.qmp, &live_def, d, &el)?
                }
                Dev::Net(n) => {
                    let (name, uuid) = {
                        let st = self.lock();
                        let o = st.dom(dom)?;
                        (o.def.name.clone(), o.def.uuid)
                    };
                    let mut ports = crate::netif::NicPorts::new(self);
                    let bridge = self.nic_bridge((&name, uuid), n, &mut ports)?;
                    hotplug_net(&run.qmp, n, bridge.as_deref())?;
                    ports.keep();
                }
            }
            let mut st = self.lock();
            let mut o = st.dom_mut(dom)?;
            match live_dev {
                Dev::Disk(d) => o.def.devices.insert_disk(d),
                Dev::Net(n) => o.def.devices.interfaces.push(n),
            }
            self.save_status(&o);
        }
        if config {
            let mut st = self.lock();
            let mut o = st.dom_mut(dom)?;
            let target = o.persistent_def_mut();
            match dev {
                Dev::Disk(d) => target.devices.insert_disk(d),
                Dev::Net(n) => target.devices.interfaces.push(n),
            }
            let def = o.persistent_def().clone();
            self.save_config(&def)?;
        }
        Ok(())
    }

    pub fn detach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "qemuDomainDetachDeviceFlags",
        )?;
        let _job = self.begin_job(dom)?;
        let dev = self.parse_device(xml)?;
        let (active, persistent, run) = {
            let st = self.lock();
            let o = st.dom(dom)?;
            (o.is_active(), o.persistent, o.run.clone())
        };
        let (live, config) = Self::targets(flags, active)?;
        if config && !persistent {
            return Err(Error::operation_invalid(
                FROM,
                "cannot modify device on transient domain",
            ));
        }
        {
            let st = self.lock();
            let o = st.dom(dom)?;
            if config {
                find_device(o.persistent_def(), &dev)?;
            }
            if live {
                find_device(&o.def, &dev)?;
            }
        }
        if config {
            let mut st = self.lock();
            let mut o = st.dom_mut(dom)?;
            let target = o.persistent_def_mut();
            remove_device(target, &dev);
            let def = o.persistent_def().clone();
            self.save_config(&def)?;
        }
        if live {
            let run = run.ok_or_else(|| Error::operation_invalid(FROM, "domain is not running"))?;
            // The live device's id (a SCSI disk's depends on the address
            // it got).
            let id = match &dev {
                Dev::Disk(d) => {
                    let st = self.lock();
                    let o = st.dom(dom)?;
                    let live = o
                        .def
                        .devices
                        .disks
                        .iter()
                        .find(|x| x.target_dev == d.target_dev);
                    disk_id(&o.def, live.unwrap_or(d))
                }
                Dev::Net(n) => net_ids(n).0,
            };
            run.qmp
                .execute_value("device_del", Some(json!({ "id": id })))
                .map_err(qmp_err)?;
            // The guest acknowledges the unplug (DEVICE_DELETED): wait as
            // libvirt does, then leave the rest to the event handler.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while std::time::Instant::now() < deadline {
                let gone = {
                    let st = self.lock();
                    find_device(&st.dom(dom)?.def, &dev).is_err()
                };
                if gone {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// QEMU's DEVICE_DELETED: the device left the live definition.
    pub(crate) fn on_device_deleted(
        &self,
        uuid: &oxvirt_core::types::Uuid,
        run: &crate::driver::Running,
        id: &str,
    ) {
        let ev = {
            let mut st = self.lock();
            let Some(mut o) = st.by_uuid_mut(uuid) else {
                return;
            };
            let before = (o.def.devices.disks.len(), o.def.devices.interfaces.len());
            let mut cleanup: Vec<(&str, serde_json::Value)> = Vec::new();
            let def = o.def.clone();
            o.def.devices.disks.retain(|d| {
                let keep = disk_id(&def, d) != id;
                // A hot-plugged disk's nodes are named after its source
                // index.
                let index = d.source_el.as_ref().and_then(|s| s.attr("index"));
                if let (false, Some(i)) = (keep, index) {
                    for node in ["format", "storage"] {
                        cleanup.push((
                            "blockdev-del",
                            json!({"node-name": format!("libvirt-{}-{}", i, node)}),
                        ));
                    }
                }
                keep
            });
            let mut gone: Vec<Net> = Vec::new();
            o.def.devices.interfaces.retain(|n| {
                let keep = net_ids(n).0 != id;
                if !keep {
                    cleanup.push(("netdev_del", json!({"id": net_ids(n).1})));
                    gone.push(n.clone());
                }
                keep
            });
            // Its network port goes with it.
            self.release_nic_ports(&gone);
            if before == (o.def.devices.disks.len(), o.def.devices.interfaces.len()) {
                return;
            }
            self.save_status(&o);
            (
                oxvirt_core::event::DomainEvent {
                    dom: o.handle(),
                    kind: oxvirt_core::event::DomainEventKind::DeviceRemoved {
                        dev_alias: id.to_string(),
                    },
                },
                cleanup,
            )
        };
        for (cmd, args) in ev.1 {
            let _ = run.qmp.execute_value(cmd, Some(args));
        }
        self.emit(vec![ev.0]);
    }
}

fn disk_id(def: &Domain, d: &Disk) -> String {
    if d.bus() == "scsi" {
        if let Some(a) = crate::scsihp::alias(def, d) {
            return a;
        }
    }
    let idx = d
        .target_dev
        .as_deref()
        .and_then(crate::command::disk_index)
        .unwrap_or(0);
    format!("virtio-disk{}", idx)
}

fn mac_key(n: &Net) -> String {
    n.mac.as_deref().unwrap_or("").replace(':', "")
}

/// (device id, netdev id) of a hot-plugged interface.
fn net_ids(n: &Net) -> (String, String) {
    let k = mac_key(n);
    (format!("net-hp-{}", k), format!("hostnet-hp-{}", k))
}

fn check_attach(def: &Domain, dev: &Dev) -> Result<()> {
    match dev {
        Dev::Disk(d) => {
            // virDomainDiskDefCheckDuplicateInfo
            if let Some(x) = def
                .devices
                .disks
                .iter()
                .find(|x| x.target_dev == d.target_dev)
            {
                return Err(Error::new(
                    code::XML_ERROR,
                    oxvirt_core::error::from::DOMAIN,
                    format!(
                        "target '{}' duplicated for disk sources '{}' and '{}'",
                        d.target_dev.as_deref().unwrap_or(""),
                        d.source.as_deref().unwrap_or("<null>"),
                        x.source.as_deref().unwrap_or("<null>")
                    ),
                ));
            }
        }
        Dev::Net(n) => {
            if def.devices.interfaces.iter().any(|x| x.mac == n.mac) {
                return Err(Error::operation_invalid(
                    FROM,
                    format!(
                        "domain already has a network interface with MAC address {}",
                        n.mac.as_deref().unwrap_or("")
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn find_device(def: &Domain, dev: &Dev) -> Result<()> {
    match dev {
        Dev::Disk(d) => {
            if def
                .devices
                .disks
                .iter()
                .any(|x| x.target_dev == d.target_dev)
            {
                return Ok(());
            }
            Err(Error::new(
                DEVICE_MISSING,
                FROM,
                format!("no target device {}", d.target_dev.as_deref().unwrap_or("")),
            ))
        }
        Dev::Net(n) => {
            if def.devices.interfaces.iter().any(|x| x.mac == n.mac) {
                return Ok(());
            }
            Err(Error::new(
                DEVICE_MISSING,
                FROM,
                format!(
                    "matching network device was not found (MAC {})",
                    n.mac.as_deref().unwrap_or("")
                ),
            ))
        }
    }
}

fn remove_device(def: &mut Domain, dev: &Dev) {
    match dev {
        Dev::Disk(d) => def.devices.disks.retain(|x| x.target_dev != d.target_dev),
        Dev::Net(n) => def.devices.interfaces.retain(|x| x.mac != n.mac),
    }
}

fn hotplug_disk(
    qmp: &oxvirt_qmp::Qmp,
    def: &Domain,
    d: &mut Disk,
    el: &oxvirt_xml::dom::Element,
) -> Result<()> {
    let bus = d.bus();
    let device = el.attr("device").unwrap_or("disk");
    let ok = match bus {
        "virtio" => device == "disk",
        "scsi" => matches!(device, "disk" | "cdrom"),
        _ => false,
    };
    if !ok {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            format!("disk bus '{}' cannot be hotplugged.", bus),
        ));
    }
    let dtype = el.attr("type").unwrap_or("file");
    let driver = match dtype {
        "file" => "file",
        "block" => "host_device",
        t => {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                format!("disk type '{}' cannot be hotplugged", t),
            ))
        }
    };
    let src = el
        .child("source")
        .and_then(|s| s.attr("file").or_else(|| s.attr("dev")))
        .ok_or_else(|| {
            Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                "cannot hotplug a disk without a source",
            )
        })?;
    let fmt = el
        .child("driver")
        .and_then(|x| x.attr("type"))
        .unwrap_or("raw");
    if !matches!(fmt, "raw" | "qcow2") {
        return Err(Error::new(
            code::CONFIG_UNSUPPORTED,
            FROM,
            format!("unsupported disk format '{}'", fmt),
        ));
    }
    let ro = el.child("readonly").is_some();
    // libvirt's node names: the next index after QEMU's libvirt-N-*
    // nodes, shown as the source's index in the live XML.
    let nodes = qmp
        .execute_value("query-named-block-nodes", Some(json!({"flat": true})))
        .map_err(qmp_err)?;
    let n = crate::snapext::max_node_index(nodes.as_array().map(Vec::as_slice).unwrap_or(&[])) + 1;
    let storage = format!("libvirt-{}-storage", n);
    let format = format!("libvirt-{}-format", n);
    qmp.execute_value(
        "blockdev-add",
        Some(
            json!({"driver": driver, "filename": src, "node-name": storage,
                    "auto-read-only": true, "discard": "unmap"}),
        ),
    )
    .map_err(qmp_err)?;
    if let Err(e) = qmp.execute_value(
        "blockdev-add",
        Some(json!({"node-name": format, "read-only": ro, "driver": fmt, "file": storage})),
    ) {
        let _ = qmp.execute_value("blockdev-del", Some(json!({"node-name": storage})));
        return Err(qmp_err(e));
    }
    let args = if bus == "scsi" {
        crate::scsihp::device_args(def, d, &format)
    } else {
        Ok(json!({"driver": "virtio-blk-pci", "drive": format, "id": disk_id(def, d)}))
    };
    if let Err(e) = args.and_then(|a| qmp.execute_value("device_add", Some(a)).map_err(qmp_err)) {
        let _ = qmp.execute_value("blockdev-del", Some(json!({"node-name": format})));
        let _ = qmp.execute_value("blockdev-del", Some(json!({"node-name": storage})));
        return Err(e);
    }
    if let Some(s) = d.source_el.as_mut() {
        s.set_attr("index", n.to_string());
    }
    Ok(())
}

fn hotplug_net(qmp: &oxvirt_qmp::Qmp, n: &mut Net, bridge: Option<&str>) -> Result<()> {
    let (id, netdev) = net_ids(n);
    let mut nd = json!({"type": "user", "id": netdev});
    if crate::nic::uses_tap(&n.net_type) {
        // The tap is made here and passed over the monitor (getfd);
        // QEMU's netdev owns it from then on.
        let p = crate::nic::prepare(n, bridge)?;
        let fdname = format!("fd-{}", netdev);
        qmp.execute_value_with_fd(
            "getfd",
            Some(json!({"fdname": fdname})),
            p.taps[0].as_raw_fd(),
        )
        .map_err(qmp_err)?;
        nd = json!({"type": "tap", "id": netdev, "fd": fdname});
        if let Some(v) = p.vhosts.first() {
            let vname = format!("vhostfd-{}", netdev);
            qmp.execute_value_with_fd("getfd", Some(json!({"fdname": vname})), v.as_raw_fd())
                .map_err(qmp_err)?;
            nd["vhost"] = json!(true);
            nd["vhostfd"] = json!(vname);
        }
        n.target_dev = Some(p.ifname.clone());
    } else if n.net_type != "user" {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            format!(
                "live attach of interface type '{}' is not supported",
                n.net_type
            ),
        ));
    }
    let qmodel = crate::nic::qemu_model(n.model.as_deref().unwrap_or("rtl8139")).to_string();
    qmp.execute_value("netdev_add", Some(nd)).map_err(qmp_err)?;
    let mut args = json!({"driver": qmodel, "netdev": netdev, "id": id});
    if let Some(m) = &n.mac {
        args["mac"] = json!(m);
    }
    if let Err(e) = qmp.execute_value("device_add", Some(args)) {
        let _ = qmp.execute_value("netdev_del", Some(json!({"id": netdev})));
        return Err(qmp_err(e));
    }
    Ok(())
}
