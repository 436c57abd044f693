//! Host interfaces and node devices of the fake host.

use std::path::Path;

use oxvirt_core::error::{code, from};
use oxvirt_core::types::{InterfaceRef, NodeDevRef};
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::Element;
use oxvirt_xml::interface::Interface;
use oxvirt_xml::writer::Writer;

use crate::domains::check_flags;
use crate::hostobjs::{IfaceObj, NodeDevObj};
use crate::state::{Driver, State};

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
        check_flags(flags, 0, "testInterfaceGetXMLDesc")?;
        self.with_iface(i, |o| Ok(o.def.format()))
    }

    pub fn interface_is_active(&self, i: &InterfaceRef) -> Result<bool> {
        self.with_iface(i, |o| Ok(o.active))
    }

    pub fn interface_create(&self, i: &InterfaceRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testInterfaceCreate")?;
        self.with_iface(i, |o| {
            if o.active {
                return Err(Error::operation_invalid(from::INTERFACE, ""));
            }
            o.active = true;
            Ok(())
        })
    }

    pub fn interface_destroy(&self, i: &InterfaceRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testInterfaceDestroy")?;
        self.with_iface(i, |o| {
            if !o.active {
                return Err(Error::operation_invalid(from::INTERFACE, ""));
            }
            o.active = false;
            Ok(())
        })
    }

    pub fn iface_change_begin(&self, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testInterfaceChangeBegin")?;
        let mut st = self.lock();
        if st.host.backup_ifaces.is_some() {
            return Err(Error::operation_invalid(
                from::INTERFACE,
                "there is another transaction running.",
            ));
        }
        // the saved copies are definitions only: they come back inactive
        let saved = st
            .host
            .ifaces
            .iter()
            .map(|o| IfaceObj {
                def: o.def.clone(),
                active: false,
            })
            .collect();
        st.host.backup_ifaces = Some(saved);
        Ok(())
    }

    pub fn iface_change_commit(&self, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testInterfaceChangeCommit")?;
        let mut st = self.lock();
        if st.host.backup_ifaces.take().is_none() {
            return Err(Error::operation_invalid(
                from::INTERFACE,
                "no transaction running, nothing to be committed.",
            ));
        }
        Ok(())
    }

    pub fn iface_change_rollback(&self, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testInterfaceChangeRollback")?;
        let mut st = self.lock();
        match st.host.backup_ifaces.take() {
            Some(b) => {
                st.host.ifaces = b;
                Ok(())
            }
            None => Err(Error::operation_invalid(
                from::INTERFACE,
                "no transaction running, nothing to rollback.",
            )),
        }
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
            .filter(|d| {
                flags == 0
                    || d.caps()
                        .iter()
                        .any(|c| oxvirt_core::types::node_device_cap_flag(c) & flags != 0)
            })
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
            // libvirt refreshes vport counts from sysfs, which the test
            // host does not have: they read back as zero.
            let mut el = d.el.clone();
            zero_vports(&mut el);
            let mut w = Writer::new();
            w.element(&el);
            w.into_string()
        })
    }

    pub fn nodedev_parent(&self, d: &NodeDevRef) -> Result<Option<String>> {
        self.with_nodedev(&d.name, |d| d.parent.clone())
    }

    pub fn nodedev_caps(&self, d: &NodeDevRef) -> Result<Vec<String>> {
        self.with_nodedev(&d.name, |d| d.caps())
    }

    pub fn nodedev_create(&self, xml: &str, flags: u32) -> Result<NodeDevRef> {
        check_flags(flags, 1, "testNodeDeviceCreateXML")?;
        if flags & 1 != 0 {
            crate::schema::validate(xml, "nodedev")?;
        }
        let def = oxvirt_xml::dom::parse(xml, "(node_device_definition)")
            .map_err(|e| Error::new(code::XML_ERROR, from::NODEDEV, e.to_string()))?;
        if def.name != "device" {
            return Err(Error::new(
                code::XML_ERROR,
                from::NODEDEV,
                format!("expecting root element of 'device', not '{}'", def.name),
            ));
        }
        let dev_name = def
            .child_text("name")
            .unwrap_or_else(|| "new device".to_string());
        let fc = fc_host(&def)
            .ok_or_else(|| Error::internal(from::NODEDEV, "Device is not a fibre channel HBA"))?;
        let wwnn = fc.child_text("wwnn").unwrap_or_default();
        let wwpn = fc.child_text("wwpn").unwrap_or_default();
        let mut st = self.lock();
        let parent = def.child_text("parent");
        let pobj = match &parent {
            Some(p) => st.host.nodedevs.iter().find(|d| d.name == *p),
            None => st
                .host
                .nodedevs
                .iter()
                .find(|d| d.caps().iter().any(|c| c == "vports")),
        };
        let pobj = pobj.ok_or_else(|| match &parent {
            Some(_) => Error::internal(
                from::NODEDEV,
                format!("Could not find parent device for '{}'", dev_name),
            ),
            None => Error::internal(from::NODEDEV, "Could not find any vport capable device"),
        })?;
        if !pobj.caps().iter().any(|c| c == "vports") {
            return Err(Error::internal(
                from::NODEDEV,
                format!(
                    "Parent device {} is not capable of vport operations",
                    pobj.name
                ),
            ));
        }
        let tmpl = st
            .host
            .nodedevs
            .iter()
            .find(|d| d.name == "scsi_host11")
            .ok_or_else(|| no_nodedev("scsi_host11"))?;
        let mut el = tmpl.el.clone();
        let parent_name = tmpl.parent.clone();
        set_child_text(&mut el, "name", "scsi_host12");
        for c in el.children.iter_mut() {
            if let oxvirt_xml::dom::Node::Element(cap) = c {
                for sub in cap.children.iter_mut() {
                    if let oxvirt_xml::dom::Node::Element(f) = sub {
                        if f.name == "capability" && f.attr("type") == Some("fc_host") {
                            set_child_text(f, "wwnn", &wwnn);
                            set_child_text(f, "wwpn", &wwpn);
                        }
                    }
                }
            }
        }
        let obj = NodeDevObj {
            name: "scsi_host12".into(),
            parent: parent_name,
            el,
        };
        match st.host.nodedevs.iter_mut().find(|d| d.name == obj.name) {
            Some(d) => *d = obj,
            None => st.host.nodedevs.push(obj),
        }
        drop(st);
        self.events
            .emit_node_device_lifecycle("scsi_host12", NODE_DEVICE_EVENT_CREATED, 0);
        Ok(NodeDevRef {
            name: "scsi_host12".into(),
        })
    }

    pub fn nodedev_destroy(&self, d: &NodeDevRef) -> Result<()> {
        let mut st = self.lock();
        let obj = st
            .host
            .nodedevs
            .iter()
            .find(|o| o.name == d.name)
            .ok_or_else(|| no_nodedev(&d.name))?;
        // libvirt's test driver reports success even when it keeps the
        // device: only vHBAs whose parent exists go away.
        if fc_host(&obj.el).is_none() {
            return Ok(());
        }
        let parent = obj.parent.clone().unwrap_or_default();
        if !st.host.nodedevs.iter().any(|o| o.name == parent) {
            return Ok(());
        }
        st.host.nodedevs.retain(|o| o.name != d.name);
        drop(st);
        self.events
            .emit_node_device_lifecycle(&d.name, NODE_DEVICE_EVENT_DELETED, 0);
        Ok(())
    }
}

/// `virNodeDeviceEventLifecycleType`
const NODE_DEVICE_EVENT_CREATED: i32 = 0;
const NODE_DEVICE_EVENT_DELETED: i32 = 1;

/// The fc_host capability of a scsi_host device.
fn fc_host(el: &Element) -> Option<&Element> {
    el.children_named("capability")
        .filter(|c| c.attr("type") == Some("scsi_host"))
        .flat_map(|c| c.children_named("capability"))
        .find(|c| c.attr("type") == Some("fc_host"))
}

fn set_child_text(el: &mut Element, name: &str, value: &str) {
    for c in el.children.iter_mut() {
        if let oxvirt_xml::dom::Node::Element(e) = c {
            if e.name == name {
                e.children = vec![oxvirt_xml::dom::Node::Text(value.to_string())];
            }
        }
    }
}

fn zero_vports(el: &mut Element) {
    for c in el.children.iter_mut() {
        if let oxvirt_xml::dom::Node::Element(e) = c {
            if e.name == "capability" && e.attr("type") == Some("vport_ops") {
                set_child_text(e, "max_vports", "0");
                set_child_text(e, "vports", "0");
            } else {
                zero_vports(e);
            }
        }
    }
}
