//! The secret family (libvirt's `virSecretDriver`).

use super::legacy;
use crate::driver::SecretEventCallback;
use crate::types::*;

crate::family! {
    /// A secret driver: libvirt's `virSecretDriver`.
    trait SecretDriver, slot secret, family Secret, from SECRET;
    extra {}

    // ---- secrets --------------------------------------------------------
    fn list_all_secrets(flags: u32) -> Vec<SecretRef>
        = "virConnectListAllSecrets", read;

    // ---- the lists before ListAll (crate::family::legacy) -----
    fn num_of_secrets() -> i32
        = "virConnectNumOfSecrets", read,
        default(s) {
            let all = s.list_all_secrets(0);
            legacy::count("virConnectNumOfSecrets", all)
        };
    fn list_secrets(maxuuids: i32) -> Vec<String>
        = "virConnectListSecrets", read,
        check(c) {
            c.nonneg(maxuuids, "maxuuids")?;
        },
        default(s) {
            let all = s.list_all_secrets(0);
            legacy::first("virConnectListSecrets", all, maxuuids, |x| x.uuid.to_string())
        };
    fn lookup_secret_by_uuid(uuid: &Uuid) -> SecretRef
        = "virSecretLookupByUUID", read;
    fn lookup_secret_by_usage(usage_type: i32, usage_id: &str) -> SecretRef
        = "virSecretLookupByUsage", read;
    fn secret_define_xml(xml: &str, flags: u32) -> SecretRef
        = "virSecretDefineXML", write;
    fn secret_get_xml_desc(secret: &SecretRef, flags: u32) -> String
        = "virSecretGetXMLDesc", read;
    fn secret_set_value(secret: &SecretRef, value: &[u8], flags: u32) -> ()
        = "virSecretSetValue", write;
    fn secret_get_value(secret: &SecretRef, flags: u32) -> Vec<u8>
        = "virSecretGetValue", write;
    fn secret_undefine(secret: &SecretRef) -> ()
        = "virSecretUndefine", write;

    // ---- network filters ----------------------------------------------
    fn secret_event_register(
        secret: Option<&SecretRef>,
        event_id: i32,
        cb: SecretEventCallback,
    ) -> i32
        = "virConnectSecretEventRegisterAny", read, registers(Secret),
        check(c) {
            c.nonneg(event_id, "eventID")?;
            if event_id >= 2 {
                return Err(c.invalid_raw(format!("eventID in {} must be less than 2", c.api)));
            }
        };
    fn secret_event_deregister(callback_id: i32) -> ()
        = "virConnectSecretEventDeregisterAny", read, deregisters(Secret, callback_id),
        check(c) {
            c.nonneg(callback_id, "callbackID")?;
        };
}
