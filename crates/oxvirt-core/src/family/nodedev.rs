//! The node-device family (libvirt's `virNodeDeviceDriver`).

use super::legacy;
use crate::driver::NodeDevEventCallback;
use crate::types::*;

crate::family! {
    /// A node-device driver: libvirt's `virNodeDeviceDriver`.
    trait NodeDeviceDriver, slot nodedev, family NodeDevice, from NODEDEV;
    extra {}

    // ---- node devices -------------------------------------------------
    fn list_all_node_devices(flags: u32) -> Vec<NodeDevRef>
        = "virConnectListAllNodeDevices", read;

    // ---- the lists before ListAll (crate::family::legacy) -----
    /// Devices with capability `cap` (every device when None).
    fn node_num_of_devices(cap: Option<&str>, flags: u32) -> i32
        = "virNodeNumOfDevices", read,
        default(s) {
            let all = legacy::devices(|f| s.list_all_node_devices(f), cap, flags, "nodeNumOfDevices");
            legacy::count("virNodeNumOfDevices", all)
        };
    fn node_list_devices(cap: Option<&str>, maxnames: i32, flags: u32) -> Vec<String>
        = "virNodeListDevices", read,
        check(c) {
            c.nonneg(maxnames, "maxnames")?;
        },
        default(s) {
            let all = legacy::devices(|f| s.list_all_node_devices(f), cap, flags, "nodeListDevices");
            legacy::first("virNodeListDevices", all, maxnames, |d| d.name)
        };
    fn lookup_node_device_by_name(name: &str) -> NodeDevRef
        = "virNodeDeviceLookupByName", read;
    fn node_device_get_xml_desc(dev: &NodeDevRef, flags: u32) -> String
        = "virNodeDeviceGetXMLDesc", read;
    fn node_device_get_parent(dev: &NodeDevRef) -> Option<String>
        = "virNodeDeviceGetParent", read;
    fn node_device_list_caps(dev: &NodeDevRef) -> Vec<String>
        = "virNodeDeviceListCaps", read;
    fn node_device_num_of_caps(dev: &NodeDevRef) -> i32
        = "virNodeDeviceNumOfCaps", read,
        default(s) {
            legacy::count("virNodeDeviceNumOfCaps", s.node_device_list_caps(dev))
        };
    fn node_device_create_xml(xml: &str, flags: u32) -> NodeDevRef
        = "virNodeDeviceCreateXML", write;
    fn node_device_destroy(dev: &NodeDevRef) -> ()
        = "virNodeDeviceDestroy", write;
    fn lookup_scsi_host_by_wwn(wwnn: &str, wwpn: &str, flags: u32) -> NodeDevRef
        = "virNodeDeviceLookupSCSIHostByWWN", read;
    fn node_device_is_active(dev: &NodeDevRef) -> bool
        = "virNodeDeviceIsActive", read;
    fn node_device_is_persistent(dev: &NodeDevRef) -> bool
        = "virNodeDeviceIsPersistent", read;
    fn node_device_get_autostart(dev: &NodeDevRef) -> bool
        = "virNodeDeviceGetAutostart", write;
    fn node_device_set_autostart(dev: &NodeDevRef, autostart: bool) -> ()
        = "virNodeDeviceSetAutostart", write;
    fn node_device_define_xml(xml: &str, flags: u32) -> NodeDevRef
        = "virNodeDeviceDefineXML", write;
    fn node_device_undefine(dev: &NodeDevRef, flags: u32) -> ()
        = "virNodeDeviceUndefine", write;
    fn node_device_create(dev: &NodeDevRef, flags: u32) -> ()
        = "virNodeDeviceCreate", write;

    // ---- network filters ----------------------------------------------
    fn node_device_event_register(
        dev: Option<&NodeDevRef>,
        event_id: i32,
        cb: NodeDevEventCallback,
    ) -> i32
        = "virConnectNodeDeviceEventRegisterAny", read, registers(NodeDevice),
        check(c) {
            c.nonneg(event_id, "eventID")?;
            if event_id >= 2 {
                return Err(c.invalid_raw(format!("eventID in {} must be less than 2", c.api)));
            }
        };
    fn node_device_event_deregister(callback_id: i32) -> ()
        = "virConnectNodeDeviceEventDeregisterAny", read, deregisters(NodeDevice, callback_id),
        check(c) {
            c.nonneg(callback_id, "callbackID")?;
        };
}
