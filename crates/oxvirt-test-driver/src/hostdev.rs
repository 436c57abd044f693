//! Host interfaces and node devices of the fake host.

use std::path::Path;

use oxvirt_core::error::{code, from};
use oxvirt_core::types::{InterfaceRef, NodeDevRef};
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::Element;
use oxvirt_xml::interface::Interface;
use oxvirt_xml::writer::Writer;

use crate::domains::check_flags;
use crate::state::{Driver, State};

/// One host interface and whether it is up.
#[derive(Debug, Clone)]
pub(crate) struct IfaceObj {
    pub def: Interface,
    pub active: bool,
}

impl IfaceObj {
    fn handle(&self) -> InterfaceRef {
        InterfaceRef {
            name: self.def.name.clone().unwrap_or_default(),
            mac: self.def.mac.clone().unwrap_or_default(),
        }
    }
}

/// One node device, kept as written.
#[derive(Debug, Clone)]
pub(crate) struct NodeDevObj {
    pub name: String,
    pub parent: Option<String>,
    pub el: Element,
}

impl NodeDevObj {
    fn caps(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in self.el.children_named("capability") {
            if let Some(t) = c.attr("type") {
                out.push(t.to_string());
            }
            for sub in c.children_named("capability") {
                if let Some(t) = sub.attr("type") {
                    if matches!(t, "fc_host" | "vport_ops" | "mdev_types") {
                        out.push(if t == "vport_ops" {
                            "vports".into()
                        } else {
                            t.to_string()
                        });
                    }
                }
            }
        }
        out
    }
}

/// The interfaces and node devices of one driver instance.
#[derive(Debug, Default)]
pub(crate) struct HostObjects {
    pub ifaces: Vec<IfaceObj>,
    pub nodedevs: Vec<NodeDevObj>,
}

/// Loads `<interface>` and `<device>` children of a node document.
pub(crate) fn load(
    st: &mut State,
    root: &Element,
    file: Option<&Path>,
    resolve: fn(&Element, Option<&Path>) -> Result<Element>,
) -> Result<()> {
    for el in root.children_named("interface") {
        let el = resolve(el, file)?;
        let def = Interface::from_element(&el).map_err(|e| Error::from_xml(e, from::INTERFACE))?;
        st.host.ifaces.push(IfaceObj { def, active: true });
    }
    for el in root.children_named("device") {
        let el = resolve(el, file)?;
        let name = el
            .child_text("name")
            .ok_or_else(|| Error::new(code::XML_ERROR, from::NODEDEV, "no device name"))?;
        let parent = el.child_text("parent");
        st.host.nodedevs.push(NodeDevObj { name, parent, el });
    }
    Ok(())
}

fn no_iface(what: String) -> Error {
    Error::new(code::NO_INTERFACE, from::INTERFACE, what)
}

fn no_nodedev(name: &str) -> Error {
    Error::new(
        code::NO_NODE_DEVICE,
        from::NODEDEV,
        format!("no node device with matching name '{}'", name),
    )
}

/// Capability name to list flag (virConnectListAllNodeDeviceFlags).
fn cap_flag(cap: &str) -> u32 {
    const CAPS: &[&str] = &[
        "system",
        "pci",
        "usb_device",
        "usb",
        "net",
        "scsi_host",
        "scsi_target",
        "scsi",
        "storage",
        "fc_host",
        "vports",
        "scsi_generic",
        "drm",
        "mdev_types",
        "mdev",
        "ccw",
        "css",
        "vdpa",
        "ap_card",
        "ap_queue",
        "ap_matrix",
        "vpd",
    ];
    CAPS.iter()
        .position(|c| *c == cap)
        .map(|i| 1 << i)
        .unwrap_or(0)
}

impl Driver {
    pub fn list_interfaces(&self, flags: u32) -> Result<Vec<InterfaceRef>> {
        check_flags(flags, 3, "testConnectListAllInterfaces")?;
        let st = self.lock();
        Ok(st
            .host
            .ifaces
            .iter()
            .filter(|i| {
                flags & 3 == 0 || (i.active && flags & 2 != 0) || (!i.active && flags & 1 != 0)
            })
            .map(IfaceObj::handle)
            .collect())
    }

    pub fn interface_by_name(&self, name: &str) -> Result<InterfaceRef> {
        let st = self.lock();
        st.host
            .ifaces
            .iter()
            .find(|i| i.def.name.as_deref() == Some(name))
            .map(IfaceObj::handle)
            .ok_or_else(|| no_iface(format!("no interface with matching name '{}'", name)))
    }

    pub fn interface_by_mac(&self, mac: &str) -> Result<InterfaceRef> {
        let st = self.lock();
        let found: Vec<_> = st
            .host
            .ifaces
            .iter()
            .filter(|i| {
                i.def
                    .mac
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(mac))
            })
            .collect();
        match found.as_slice() {
            [one] => Ok(one.handle()),
            [] => Err(no_iface(format!(
                "no interface with matching mac '{}'",
                mac
            ))),
            _ => Err(Error::new(code::MULTIPLE_INTERFACES, from::INTERFACE, "")),
        }
    }

    fn with_iface<T>(
        &self,
        i: &InterfaceRef,
        f: impl FnOnce(&mut IfaceObj) -> Result<T>,
    ) -> Result<T> {
        let mut st = self.lock();
        let obj = st
            .host
            .ifaces
            .iter_mut()
            .find(|o| o.def.name.as_deref() == Some(i.name.as_str()))
            .ok_or_else(|| no_iface(format!("no interface with matching name '{}'", i.name)))?;
        f(obj)
    }

    pub fn interface_xml(&self, i: &InterfaceRef, flags: u32) -> Result<String> {
        check_flags(flags, 1, "testInterfaceGetXMLDesc")?;
        self.with_iface(i, |o| Ok(o.def.format()))
    }

    pub fn interface_is_active(&self, i: &InterfaceRef) -> Result<bool> {
        self.with_iface(i, |o| Ok(o.active))
    }

    pub fn interface_create(&self, i: &InterfaceRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testInterfaceCreate")?;
        self.with_iface(i, |o| {
            if o.active {
                return Err(Error::operation_invalid(
                    from::INTERFACE,
                    format!("interface '{}' is already active", i.name),
                ));
            }
            o.active = true;
            Ok(())
        })
    }

    pub fn interface_destroy(&self, i: &InterfaceRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testInterfaceDestroy")?;
        self.with_iface(i, |o| {
            if !o.active {
                return Err(Error::operation_invalid(
                    from::INTERFACE,
                    format!("interface '{}' is not active", i.name),
                ));
            }
            o.active = false;
            Ok(())
        })
    }

    pub fn interface_define(&self, xml: &str, flags: u32) -> Result<InterfaceRef> {
        check_flags(flags, 1, "testInterfaceDefineXML")?;
        let def = Interface::parse(xml).map_err(|e| Error::from_xml(e, from::INTERFACE))?;
        let mut st = self.lock();
        let obj = IfaceObj { def, active: false };
        let h = obj.handle();
        match st
            .host
            .ifaces
            .iter_mut()
            .find(|o| o.def.name == obj.def.name)
        {
            Some(existing) => existing.def = obj.def,
            None => st.host.ifaces.push(obj),
        }
        Ok(h)
    }

    pub fn interface_undefine(&self, i: &InterfaceRef) -> Result<()> {
        let mut st = self.lock();
        let before = st.host.ifaces.len();
        st.host
            .ifaces
            .retain(|o| o.def.name.as_deref() != Some(i.name.as_str()));
        if st.host.ifaces.len() == before {
            return Err(no_iface(format!(
                "no interface with matching name '{}'",
                i.name
            )));
        }
        Ok(())
    }

    pub fn list_nodedevs(&self, flags: u32) -> Result<Vec<NodeDevRef>> {
        check_flags(flags, (1 << 22) - 1, "testConnectListAllNodeDevices")?;
        let st = self.lock();
        Ok(st
            .host
            .nodedevs
            .iter()
            .filter(|d| flags == 0 || d.caps().iter().any(|c| cap_flag(c) & flags != 0))
            .map(|d| NodeDevRef {
                name: d.name.clone(),
            })
            .collect())
    }

    fn with_nodedev<T>(&self, name: &str, f: impl FnOnce(&NodeDevObj) -> T) -> Result<T> {
        let st = self.lock();
        st.host
            .nodedevs
            .iter()
            .find(|d| d.name == name)
            .map(f)
            .ok_or_else(|| no_nodedev(name))
    }

    pub fn nodedev_by_name(&self, name: &str) -> Result<NodeDevRef> {
        self.with_nodedev(name, |d| NodeDevRef {
            name: d.name.clone(),
        })
    }

    pub fn nodedev_xml(&self, d: &NodeDevRef, flags: u32) -> Result<String> {
        check_flags(flags, 0, "testNodeDeviceGetXMLDesc")?;
        self.with_nodedev(&d.name, |d| {
            let mut w = Writer::new();
            w.element(&d.el);
            w.into_string()
        })
    }

    pub fn nodedev_parent(&self, d: &NodeDevRef) -> Result<Option<String>> {
        self.with_nodedev(&d.name, |d| d.parent.clone())
    }

    pub fn nodedev_caps(&self, d: &NodeDevRef) -> Result<Vec<String>> {
        self.with_nodedev(&d.name, |d| d.caps())
    }
}
