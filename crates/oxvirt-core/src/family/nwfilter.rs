//! The network-filter family (libvirt's `virNWFilterDriver`): filters and
//! their bindings.

use super::legacy;
use crate::types::*;

crate::family! {
    /// A network-filter driver: libvirt's `virNWFilterDriver`.
    trait NwFilterDriver, slot nwfilter, family NwFilter, from NWFILTER;
    extra {}

    // ---- network filters ----------------------------------------------
    fn list_all_nwfilters(flags: u32) -> Vec<NwFilterRef>
        = "virConnectListAllNWFilters", read;

    // ---- the lists before ListAll (crate::family::legacy) -----
    fn num_of_nwfilters() -> i32
        = "virConnectNumOfNWFilters", read,
        default(s) {
            let all = s.list_all_nwfilters(0);
            legacy::count("virConnectNumOfNWFilters", all)
        };
    fn list_nwfilters(maxnames: i32) -> Vec<String>
        = "virConnectListNWFilters", read,
        check(c) {
            c.nonneg(maxnames, "maxnames")?;
        },
        default(s) {
            let all = s.list_all_nwfilters(0);
            legacy::first("virConnectListNWFilters", all, maxnames, |x| x.name)
        };
    fn lookup_nwfilter_by_name(name: &str) -> NwFilterRef
        = "virNWFilterLookupByName", read;
    fn lookup_nwfilter_by_uuid(uuid: &Uuid) -> NwFilterRef
        = "virNWFilterLookupByUUID", read;
    fn nwfilter_define_xml(xml: &str, flags: u32) -> NwFilterRef
        = "virNWFilterDefineXML", write, alias(flags != 0) "virNWFilterDefineXMLFlags";
    fn nwfilter_get_xml_desc(filter: &NwFilterRef, flags: u32) -> String
        = "virNWFilterGetXMLDesc", read;
    fn nwfilter_undefine(filter: &NwFilterRef) -> ()
        = "virNWFilterUndefine", write;
    fn list_all_nwfilter_bindings(flags: u32) -> Vec<NwFilterBindingRef>
        = "virConnectListAllNWFilterBindings", read;
    fn lookup_nwfilter_binding_by_port_dev(portdev: &str) -> NwFilterBindingRef
        = "virNWFilterBindingLookupByPortDev", read;
    fn nwfilter_binding_create_xml(xml: &str, flags: u32) -> NwFilterBindingRef
        = "virNWFilterBindingCreateXML", write;
    fn nwfilter_binding_get_xml_desc(binding: &NwFilterBindingRef, flags: u32) -> String
        = "virNWFilterBindingGetXMLDesc", read;
    fn nwfilter_binding_delete(binding: &NwFilterBindingRef) -> ()
        = "virNWFilterBindingDelete", write;
}
