//! The QEMU driver's validation of a completed definition
//! (qemu_validate.c): what this binary and machine cannot run, with
//! libvirt's codes and messages.

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::{Domain, VirtType};

use super::Env;
use crate::FROM;

fn unsupported(msg: impl Into<String>) -> Error {
    Error::new(code::CONFIG_UNSUPPORTED, FROM, msg)
}

/// qemuValidateDomainDef: the checks against the binary.
pub fn validate(def: &Domain, env: &Env) -> Result<()> {
    let emulator = def.devices.emulator.as_deref().unwrap_or("");
    let os_type = def.os.os_type.to_string();
    if os_type != "hvm" {
        return Err(unsupported(format!(
            "Emulator '{}' does not support os type '{}'",
            emulator, os_type
        )));
    }
    let arch = def.os.arch.as_deref().unwrap_or("");
    if !crate::host::serves_arch(&env.caps.arch, arch) {
        return Err(unsupported(format!(
            "Emulator '{}' does not support arch '{}'",
            emulator, arch
        )));
    }
    let virt_ok = match def.virt_type {
        VirtType::Qemu => true,
        VirtType::Kvm => env.caps.kvm,
        _ => false,
    };
    if !virt_ok {
        return Err(unsupported(format!(
            "Emulator '{}' does not support virt type '{}'",
            emulator, def.virt_type
        )));
    }
    let machine = def.os.machine.as_deref().unwrap_or("");
    let known = env
        .caps
        .machine_info
        .iter()
        .any(|m| m.name == machine || m.alias.as_deref() == Some(machine));
    if !known {
        return Err(unsupported(format!(
            "Emulator '{}' does not support machine type '{}'",
            emulator, machine
        )));
    }
    Ok(())
}
