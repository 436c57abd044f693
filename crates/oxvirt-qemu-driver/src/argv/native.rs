//! virConnectDomainXMLToNative(`qemu-argv`): the command line a definition
//! would start with, as libvirt prints it (qemuConnectDomainXMLToNative).
//! libvirt cannot set up host networking for a command line it does not
//! run, so every NIC becomes `type='ethernet'` keeping only its MAC,
//! model and script, and is given a bus address afresh (its own boot
//! order is lost on the way, as in libvirt: the copy keeps `bootIndex`
//! but not the effective index the command line uses); the
//! result is printed as virCommandToString does: the environment, then
//! the arguments quoted for a shell.

use oxvirt_core::Result;
use oxvirt_xml::domain::devices::Net;
use oxvirt_xml::domain::{Domain, Extra};

/// The command line of `def` (parsed and completed for define) as
/// libvirt's domxml-to-native builds it, with `home` the domain's private
/// directory (`.../domain--1-NAME`, holding the monitor socket).
pub fn argv(mut def: Domain, ctx: &crate::define::Context, home: &str) -> Result<Vec<String>> {
    crate::firmware::fill(&mut def, ctx.paths)?;
    ethernet_nics(&mut def);
    crate::define::assign_addresses(&mut def, ctx)?;
    // libvirt prints the descriptors of taps it pretends to have made.
    let nics = def
        .devices
        .interfaces
        .iter()
        .enumerate()
        .map(|(i, n)| {
            crate::nic::uses_tap(&n.net_type).then(|| crate::nic::NicFds {
                taps: vec![100 + i as i32],
                vhosts: Vec::new(),
            })
        })
        .collect();
    let caps = def
        .devices
        .emulator
        .as_deref()
        .and_then(|e| ctx.host.caps_of(e).ok());
    super::build(
        &def,
        &super::CommandContext {
            qmp_fd: None,
            qmp_path: format!("{}/monitor.sock", home),
            vnc_port: None,
            incoming: None,
            caps,
            pretend: true,
            nics,
            channel_dir: Some(format!(
                "{}/{}",
                ctx.paths.channel_target_dir,
                home.rsplit('/').next().unwrap_or("")
            )),
            volumes: Vec::new(),
        },
    )
}

/// libvirt's private directory name of a domain that has no id
/// (`domain--1-` and the name cut to 20 characters).
pub fn home_name(name: &str) -> String {
    format!("domain--1-{}", name.chars().take(20).collect::<String>())
}

/// Replaces every NIC by the `ethernet` NIC libvirt substitutes.
pub fn ethernet_nics(def: &mut Domain) {
    for n in def.devices.interfaces.iter_mut() {
        let mut extra = Extra::default();
        extra.children = n
            .extra
            .children
            .iter()
            .filter(|c| c.name == "script")
            .cloned()
            .collect();
        *n = Net {
            net_type: "ethernet".into(),
            mac: n.mac.clone(),
            mac_type: None,
            mac_check: None,
            source_el: None,
            target_dev: None,
            target_el: None,
            model: n.model.clone(),
            extra,
        };
    }
}

/// One word as virBufferEscapeShell writes it: as is unless it holds a
/// shell metacharacter, else single-quoted.
pub fn shell_word(s: &str) -> String {
    const META: &str = "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~";
    if !s.is_empty() && !s.chars().any(|c| META.contains(c)) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The environment QEMU is started with (qemuProcessLaunch), for a
/// domain whose private directory is `home`.
pub fn environment(home: &str) -> Vec<(String, String)> {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    vec![
        ("LC_ALL".into(), "C".into()),
        ("PATH".into(), path),
        ("HOME".into(), home.to_string()),
        ("XDG_DATA_HOME".into(), format!("{}/.local/share", home)),
        ("XDG_CACHE_HOME".into(), format!("{}/.cache", home)),
        ("XDG_CONFIG_HOME".into(), format!("{}/.config", home)),
    ]
}

/// `env` and `argv` on one line (virCommandToString without line breaks).
pub fn command_string(env: &[(String, String)], argv: &[String]) -> String {
    let mut words: Vec<String> = env
        .iter()
        .map(|(k, v)| format!("{}={}", k, shell_word(v)))
        .collect();
    words.extend(argv.iter().map(|a| shell_word(a)));
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_as_libvirt() {
        assert_eq!(shell_word("-S"), "-S");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("{\"a\":1}"), "'{\"a\":1}'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("a,b=c"), "a,b=c");
    }
}
