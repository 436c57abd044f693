//! The host-interface family (libvirt's `virInterfaceDriver`).

use super::legacy;
use crate::types::flags::list_objects;
use crate::types::*;

crate::family! {
    /// A host-interface driver: libvirt's `virInterfaceDriver`.
    trait InterfaceDriver, slot interface, family Interface, from INTERFACE;
    extra {}

    // ---- host interfaces ----------------------------------------------
    fn list_all_interfaces(flags: u32) -> Vec<InterfaceRef>
        = "virConnectListAllInterfaces", read;

    // ---- the lists before ListAll (crate::family::legacy) -----
    fn num_of_interfaces() -> i32
        = "virConnectNumOfInterfaces", read,
        default(s) {
            let all = s.list_all_interfaces(list_objects::ACTIVE);
            legacy::count("virConnectNumOfInterfaces", all)
        };
    fn list_interfaces(maxnames: i32) -> Vec<String>
        = "virConnectListInterfaces", read,
        check(c) {
            c.nonneg(maxnames, "maxnames")?;
        },
        default(s) {
            let all = s.list_all_interfaces(list_objects::ACTIVE);
            legacy::first("virConnectListInterfaces", all, maxnames, |x| x.name)
        };
    fn num_of_defined_interfaces() -> i32
        = "virConnectNumOfDefinedInterfaces", read,
        default(s) {
            let all = s.list_all_interfaces(list_objects::INACTIVE);
            legacy::count("virConnectNumOfDefinedInterfaces", all)
        };
    fn list_defined_interfaces(maxnames: i32) -> Vec<String>
        = "virConnectListDefinedInterfaces", read,
        check(c) {
            c.nonneg(maxnames, "maxnames")?;
        },
        default(s) {
            let all = s.list_all_interfaces(list_objects::INACTIVE);
            legacy::first("virConnectListDefinedInterfaces", all, maxnames, |x| x.name)
        };
    fn lookup_interface_by_name(name: &str) -> InterfaceRef
        = "virInterfaceLookupByName", read;
    fn lookup_interface_by_mac(mac: &str) -> InterfaceRef
        = "virInterfaceLookupByMACString", read;
    fn interface_get_xml_desc(iface: &InterfaceRef, flags: u32) -> String
        = "virInterfaceGetXMLDesc", read;
    fn interface_define_xml(xml: &str, flags: u32) -> InterfaceRef
        = "virInterfaceDefineXML", write;
    fn interface_undefine(iface: &InterfaceRef) -> ()
        = "virInterfaceUndefine", write;
    fn interface_create(iface: &InterfaceRef, flags: u32) -> ()
        = "virInterfaceCreate", write;
    fn interface_destroy(iface: &InterfaceRef, flags: u32) -> ()
        = "virInterfaceDestroy", write;
    fn interface_is_active(iface: &InterfaceRef) -> bool
        = "virInterfaceIsActive", read;
    fn interface_change_begin(flags: u32) -> ()
        = "virInterfaceChangeBegin", write;
    fn interface_change_commit(flags: u32) -> ()
        = "virInterfaceChangeCommit", write;
    fn interface_change_rollback(flags: u32) -> ()
        = "virInterfaceChangeRollback", write;
}
