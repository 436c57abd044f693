//! The network family (libvirt's `virNetworkDriver`): virtual networks,
//! their ports and network events.

use super::legacy;
use crate::event::NetworkEventCallback;
use crate::types::flags::list_objects;
use crate::types::*;

crate::family! {
    /// A network driver: libvirt's `virNetworkDriver`.
    trait NetworkDriver, slot network, family Network, from NETWORK;
    extra {}

    // ---- events -------------------------------------------------------
    fn network_event_register(
        net: Option<&NetworkRef>,
        event_id: i32,
        cb: NetworkEventCallback,
    ) -> i32
        = "virConnectNetworkEventRegisterAny", read, registers(Network),
        check(c) {
            c.nonneg(event_id, "eventID")?;
            if event_id >= 2 {
                return Err(c.invalid_raw(format!("eventID in {} must be less than 2", c.api)));
            }
        };
    fn network_event_deregister(callback_id: i32) -> ()
        = "virConnectNetworkEventDeregisterAny", read, deregisters(Network, callback_id),
        check(c) {
            c.nonneg(callback_id, "callbackID")?;
        };

    // ---- networks -----------------------------------------------------
    fn list_all_networks(flags: u32) -> Vec<NetworkRef>
        = "virConnectListAllNetworks", read;

    // ---- the lists before ListAll (crate::family::legacy) -----
    fn num_of_networks() -> i32
        = "virConnectNumOfNetworks", read,
        default(s) {
            let all = s.list_all_networks(list_objects::ACTIVE);
            legacy::count("virConnectNumOfNetworks", all)
        };
    fn list_networks(maxnames: i32) -> Vec<String>
        = "virConnectListNetworks", read,
        check(c) {
            c.nonneg(maxnames, "maxnames")?;
        },
        default(s) {
            let all = s.list_all_networks(list_objects::ACTIVE);
            legacy::first("virConnectListNetworks", all, maxnames, |x| x.name)
        };
    fn num_of_defined_networks() -> i32
        = "virConnectNumOfDefinedNetworks", read,
        default(s) {
            let all = s.list_all_networks(list_objects::INACTIVE);
            legacy::count("virConnectNumOfDefinedNetworks", all)
        };
    fn list_defined_networks(maxnames: i32) -> Vec<String>
        = "virConnectListDefinedNetworks", read,
        check(c) {
            c.nonneg(maxnames, "maxnames")?;
        },
        default(s) {
            let all = s.list_all_networks(list_objects::INACTIVE);
            legacy::first("virConnectListDefinedNetworks", all, maxnames, |x| x.name)
        };
    fn lookup_network_by_name(name: &str) -> NetworkRef
        = "virNetworkLookupByName", read;
    fn lookup_network_by_uuid(uuid: &Uuid) -> NetworkRef
        = "virNetworkLookupByUUID", read;
    fn network_define_xml(xml: &str, flags: u32) -> NetworkRef
        = "virNetworkDefineXML", write, alias(flags != 0) "virNetworkDefineXMLFlags";
    fn network_create_xml(xml: &str, flags: u32) -> NetworkRef
        = "virNetworkCreateXML", write, alias(flags != 0) "virNetworkCreateXMLFlags";
    fn network_undefine(net: &NetworkRef) -> ()
        = "virNetworkUndefine", write;
    fn network_create(net: &NetworkRef) -> ()
        = "virNetworkCreate", write;
    fn network_destroy(net: &NetworkRef) -> ()
        = "virNetworkDestroy", write;
    fn network_get_xml_desc(net: &NetworkRef, flags: u32) -> String
        = "virNetworkGetXMLDesc", read;
    fn network_get_bridge_name(net: &NetworkRef) -> String
        = "virNetworkGetBridgeName", read;
    fn network_get_autostart(net: &NetworkRef) -> bool
        = "virNetworkGetAutostart", read;
    fn network_set_autostart(net: &NetworkRef, autostart: bool) -> ()
        = "virNetworkSetAutostart", write;
    fn network_is_active(net: &NetworkRef) -> bool
        = "virNetworkIsActive", read;
    fn network_is_persistent(net: &NetworkRef) -> bool
        = "virNetworkIsPersistent", read;
    fn network_update(
        net: &NetworkRef,
        command: u32,
        section: u32,
        parent_index: i32,
        xml: &str,
        flags: u32,
    ) -> ()
        = "virNetworkUpdate", write;
    fn network_get_dhcp_leases(
        net: &NetworkRef,
        mac: Option<&str>,
        flags: u32,
    ) -> Vec<NetworkDhcpLease>
        = "virNetworkGetDHCPLeases", read;
    fn list_all_network_ports(net: &NetworkRef, flags: u32) -> Vec<NetworkPortRef>
        = "virNetworkListAllPorts", read;
    fn lookup_network_port_by_uuid(net: &NetworkRef, uuid: &Uuid) -> NetworkPortRef
        = "virNetworkPortLookupByUUID", read;
    fn network_port_create_xml(net: &NetworkRef, xml: &str, flags: u32) -> NetworkPortRef
        = "virNetworkPortCreateXML", write;
    fn network_port_get_xml_desc(port: &NetworkPortRef, flags: u32) -> String
        = "virNetworkPortGetXMLDesc", read;
    fn network_port_delete(port: &NetworkPortRef, flags: u32) -> ()
        = "virNetworkPortDelete", write;
}
