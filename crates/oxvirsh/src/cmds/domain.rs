//! Domain management: define, start, stop, save, memory and vCPUs.

use oxvirt_core::error::code;
use oxvirt_core::types::flags::{
    affect, create as cf, domain_xml, mem, save, undefine as uf, vcpu,
};

use crate::cmd::Cmd;
use crate::ctl::{Context, Ctl, Fail, BY_NAME, BY_UUID, R};

use super::{exclusive, read_file, requires, Handler};

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "define" => define,
        "create" => create,
        "undefine" => undefine,
        "start" => start,
        "destroy" => destroy,
        "suspend" => suspend,
        "resume" => resume,
        "shutdown" => shutdown,
        "reboot" => reboot,
        "reset" => reset,
        "autostart" => autostart,
        "dumpxml" => dumpxml,
        "managedsave" => managedsave,
        "managedsave-remove" => managedsave_remove,
        "save" => save_cmd,
        "restore" => restore,
        "setmem" => setmem,
        "setmaxmem" => setmaxmem,
        "setvcpus" => setvcpus,
        "vcpucount" => vcpucount,
        "domrename" => domrename,
        "qemu-monitor-command" => qemu_monitor_command,
        _ => return None,
    })
}

fn define(ctl: &mut Ctl, c: &Cmd) -> R {
    let from = c.req("file")?;
    let flags = if c.has("validate") { 1 } else { 0 };
    let xml = read_file(from)?;
    let dom = ctl
        .conn()?
        .domain_define_xml(&xml, flags)
        .ctx(|| format!("Failed to define domain from {}", from))?;
    ctl.extra(&format!("Domain '{}' defined from {}\n", dom.name, from));
    Ok(())
}

fn create(ctl: &mut Ctl, c: &Cmd) -> R {
    let from = c.req("file")?;
    let mut flags = 0;
    for (o, f) in [
        ("paused", cf::PAUSED),
        ("autodestroy", cf::AUTODESTROY),
        ("validate", cf::VALIDATE),
        ("reset-nvram", cf::RESET_NVRAM),
    ] {
        if c.has(o) {
            flags |= f;
        }
    }
    let xml = read_file(from)?;
    let dom = ctl
        .conn()?
        .domain_create_xml(&xml, flags)
        .ctx(|| format!("Failed to create domain from {}", from))?;
    ctl.extra(&format!("Domain '{}' created from {}\n", dom.name, from));
    if c.has("console") {
        super::console::run(ctl, &dom, None, 0)?;
    }
    Ok(())
}

fn undefine(ctl: &mut Ctl, c: &Cmd) -> R {
    requires(c, "delete-storage-volume-snapshots", "remove-all-storage")?;
    exclusive(c, "nvram", "keep-nvram")?;
    exclusive(c, "tpm", "keep-tpm")?;
    if c.has("wipe-storage")
        && !(c.string_quiet("storage").is_some() || c.has("remove-all-storage"))
    {
        return Err(Fail::Msg(
            "'--wipe-storage' requires '--storage <string>' or '--remove-all-storage'".into(),
        ));
    }
    let mut flags = 0;
    for (o, f) in [
        ("managed-save", uf::MANAGED_SAVE),
        ("snapshots-metadata", uf::SNAPSHOTS_METADATA),
        ("checkpoints-metadata", uf::CHECKPOINTS_METADATA),
        ("nvram", uf::NVRAM),
        ("keep-nvram", uf::KEEP_NVRAM),
        ("tpm", uf::TPM),
        ("keep-tpm", uf::KEEP_TPM),
    ] {
        if c.has(o) {
            flags |= f;
        }
    }
    let name = c.req("domain")?.to_string();
    let dom = ctl.domain(c)?;
    let conn = ctl.conn()?;
    let running = conn.domain_is_active(&dom)?;
    let mut has_managed_save = false;
    let mut has_snapshots = 0;
    if !running {
        has_managed_save = match conn.domain_has_managed_save(&dom, 0) {
            Ok(v) => v,
            Err(e) if e.code == code::NO_SUPPORT => false,
            Err(e) => return Err(e.into()),
        };
        has_snapshots = match conn.snapshot_num(&dom, 0) {
            Ok(v) => v,
            Err(e) if e.code == code::NO_SUPPORT => 0,
            Err(e) => return Err(e.into()),
        };
    }
    if !has_managed_save {
        flags &= !uf::MANAGED_SAVE;
    }
    if has_snapshots == 0 {
        flags &= !uf::SNAPSHOTS_METADATA;
    }
    if c.string_quiet("storage").is_some() || c.has("remove-all-storage") {
        if running {
            return Err(Fail::Msg(
                "Storage volume deletion is supported only on stopped domains".into(),
            ));
        }
        if c.string_quiet("storage").is_some() && c.has("remove-all-storage") {
            return Err(Fail::Msg(
                "Specified both --storage and --remove-all-storage".into(),
            ));
        }
    }
    conn.domain_undefine(&dom, flags)
        .ctx(|| format!("Failed to undefine domain '{}'", name))?;
    ctl.extra(&format!("Domain '{}' has been undefined\n", name));
    Ok(())
}

fn start(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain_opt_by(c, "domain", BY_NAME | BY_UUID)?;
    if dom.id >= 0 {
        return Err(Fail::Msg("Domain is already active".into()));
    }
    let mut flags = 0;
    for (o, f) in [
        ("paused", cf::PAUSED),
        ("autodestroy", cf::AUTODESTROY),
        ("bypass-cache", cf::BYPASS_CACHE),
        ("force-boot", cf::FORCE_BOOT),
        ("reset-nvram", cf::RESET_NVRAM),
    ] {
        if c.has(o) {
            flags |= f;
        }
    }
    let conn = ctl.conn()?;
    let mut started = false;
    if flags & cf::FORCE_BOOT != 0 {
        match conn.domain_create(&dom, flags) {
            Ok(_) => started = true,
            Err(e) if e.code != code::NO_SUPPORT && e.code != code::INVALID_ARG => {
                return Err(e.into())
            }
            Err(_) => {
                if conn.domain_has_managed_save(&dom, 0).unwrap_or(false) {
                    conn.domain_managed_save_remove(&dom, 0)?;
                }
                flags &= !cf::FORCE_BOOT;
            }
        }
    }
    if !started {
        conn.domain_create(&dom, flags)
            .ctx(|| format!("Failed to start domain '{}'", dom.name))?;
    }
    ctl.extra(&format!("Domain '{}' started\n", dom.name));
    if c.has("console") {
        super::console::run(ctl, &dom, None, 0)?;
    }
    Ok(())
}

fn destroy(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let mut flags = 0;
    if c.has("graceful") {
        flags |= 1;
    }
    if c.has("remove-logs") {
        flags |= 2;
    }
    ctl.conn()?
        .domain_destroy(&dom, flags)
        .ctx(|| format!("Failed to destroy domain '{}'", dom.name))?;
    ctl.extra(&format!("Domain '{}' destroyed\n", dom.name));
    Ok(())
}

fn suspend(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    ctl.conn()?
        .domain_suspend(&dom)
        .ctx(|| format!("Failed to suspend domain '{}'", dom.name))?;
    ctl.extra(&format!("Domain '{}' suspended\n", dom.name));
    Ok(())
}

fn resume(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    ctl.conn()?
        .domain_resume(&dom)
        .ctx(|| format!("Failed to resume domain '{}'", dom.name))?;
    ctl.extra(&format!("Domain '{}' resumed\n", dom.name));
    Ok(())
}

/// Parses `--mode` of shutdown and reboot.
/// `oxford`: shutdown's message has a comma before "or", reboot's not.
fn power_mode(c: &Cmd, oxford: bool) -> Result<u32, Fail> {
    let Some(mode) = c.string("mode")? else {
        return Ok(0);
    };
    let mut flags = 0;
    for m in super::shell::split_commas(mode) {
        flags |= match m.as_str() {
            "acpi" => 1,
            "agent" => 2,
            "initctl" => 4,
            "signal" => 8,
            "paravirt" => 16,
            _ => {
                return Err(Fail::Msg(format!(
                    "Unknown mode {} value, expecting 'acpi', 'agent', 'initctl', 'signal'{} or 'paravirt'",
                    m,
                    if oxford { "," } else { "" }
                )))
            }
        };
    }
    Ok(flags)
}

fn shutdown(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = power_mode(c, true)?;
    let dom = ctl.domain(c)?;
    ctl.conn()?
        .domain_shutdown(&dom, flags)
        .ctx(|| format!("Failed to shutdown domain '{}'", dom.name))?;
    ctl.extra(&format!("Domain '{}' is being shutdown\n", dom.name));
    Ok(())
}

fn reboot(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = power_mode(c, false)?;
    let dom = ctl.domain(c)?;
    ctl.conn()?
        .domain_reboot(&dom, flags)
        .ctx(|| format!("Failed to reboot domain '{}'", dom.name))?;
    ctl.extra(&format!("Domain '{}' is being rebooted\n", dom.name));
    Ok(())
}

fn reset(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    ctl.conn()?
        .domain_reset(&dom, 0)
        .ctx(|| format!("Failed to reset domain '{}'", dom.name))?;
    ctl.extra(&format!("Domain '{}' was reset\n", dom.name));
    Ok(())
}

fn autostart(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let on = !c.has("disable");
    ctl.conn()?.domain_set_autostart(&dom, on).ctx(|| {
        if on {
            format!("Failed to mark domain '{}' as autostarted", dom.name)
        } else {
            format!("Failed to unmark domain '{}' as autostarted", dom.name)
        }
    })?;
    if on {
        ctl.extra(&format!("Domain '{}' marked as autostarted\n", dom.name));
    } else {
        ctl.extra(&format!("Domain '{}' unmarked as autostarted\n", dom.name));
    }
    Ok(())
}

/// virshDumpXML without an XPath: prints the document as is.
pub fn dump_xml(ctl: &Ctl, c: &Cmd, xml: &str) -> R {
    if let Some(xp) = c.string_quiet("xpath") {
        return match super::xpath::dump(xml, xp, c.has("wrap")) {
            Ok(s) => {
                ctl.print(&s);
                Ok(())
            }
            Err(super::xpath::XErr::Invalid(m)) => {
                use std::io::Write;
                let _ = std::io::stdout().flush();
                eprintln!("XPath error : {}", m);
                Ok(())
            }
            Err(super::xpath::XErr::Unregistered(f)) => {
                use std::io::Write;
                let _ = std::io::stdout().flush();
                eprintln!("xmlXPathCompOpEval: function {} not found", f);
                eprintln!("XPath error : Unregistered function");
                Ok(())
            }
            Err(super::xpath::XErr::NotNodeSet) => Err(Fail::lib(oxvirt_core::Error::new(
                oxvirt_core::error::code::INTERNAL_ERROR,
                oxvirt_core::error::from::NONE,
                format!("Incorrect xpath '{}'", xp),
            ))),
        };
    }
    ctl.print(xml);
    Ok(())
}

fn dumpxml(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = 0;
    for (o, f) in [
        ("inactive", domain_xml::INACTIVE),
        ("security-info", domain_xml::SECURE),
        ("update-cpu", domain_xml::UPDATE_CPU),
        ("migratable", domain_xml::MIGRATABLE),
    ] {
        if c.has(o) {
            flags |= f;
        }
    }
    let dom = ctl.domain(c)?;
    let xml = ctl.conn()?.domain_get_xml_desc(&dom, flags)?;
    dump_xml(ctl, c, &xml)
}

fn managedsave(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = 0;
    if c.has("bypass-cache") {
        flags |= save::BYPASS_CACHE;
    }
    if c.has("running") {
        flags |= save::RUNNING;
    }
    if c.has("paused") {
        flags |= save::PAUSED;
    }
    let dom = ctl.domain(c)?;
    let conn = ctl.conn()?;
    super::jobwatch::watch(&conn, &dom, c.has("verbose"), "Managedsave", || {
        conn.domain_managed_save(&dom, flags)
    })
    .ctx(|| format!("Failed to save domain '{}' state", dom.name))?;
    ctl.extra(&format!("\nDomain '{}' state saved by libvirt\n", dom.name));
    Ok(())
}

fn managedsave_remove(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let conn = ctl.conn()?;
    let has = conn
        .domain_has_managed_save(&dom, 0)
        .ctx(|| "Failed to check for domain managed save image".into())?;
    if !has {
        ctl.extra(&format!(
            "Domain '{}' has no manage save image; removal skipped",
            dom.name
        ));
        return Ok(());
    }
    conn.domain_managed_save_remove(&dom, 0).ctx(|| {
        format!(
            "Failed to remove managed save image for domain '{}'",
            dom.name
        )
    })?;
    ctl.extra(&format!(
        "Removed managedsave image for domain '{}'",
        dom.name
    ));
    Ok(())
}

fn save_cmd(ctl: &mut Ctl, c: &Cmd) -> R {
    let to = c.req("file")?.to_string();
    let mut flags = 0;
    if c.has("bypass-cache") {
        flags |= save::BYPASS_CACHE;
    }
    if c.has("running") {
        flags |= save::RUNNING;
    }
    if c.has("paused") {
        flags |= save::PAUSED;
    }
    let dom = ctl.domain(c)?;
    let dxml = match c.string("xml")? {
        Some(f) => Some(read_file(f)?),
        None => None,
    };
    let conn = ctl.conn()?;
    super::jobwatch::watch(&conn, &dom, c.has("verbose"), "Save", || {
        conn.domain_save(&dom, &to, dxml.as_deref(), flags)
    })
    .ctx(|| format!("Failed to save domain '{}' to {}", dom.name, to))?;
    ctl.extra(&format!("\nDomain '{}' saved to {}\n", dom.name, to));
    Ok(())
}

fn restore(ctl: &mut Ctl, c: &Cmd) -> R {
    let from = c.req("file")?.to_string();
    let mut flags = 0;
    for (o, f) in [
        ("bypass-cache", save::BYPASS_CACHE),
        ("running", save::RUNNING),
        ("paused", save::PAUSED),
        ("reset-nvram", save::RESET_NVRAM),
    ] {
        if c.has(o) {
            flags |= f;
        }
    }
    let dxml = match c.string("xml")? {
        Some(f) => Some(read_file(f)?),
        None => None,
    };
    ctl.conn()?
        .domain_restore(&from, dxml.as_deref(), flags)
        .ctx(|| format!("Failed to restore domain from {}", from))?;
    ctl.extra(&format!("Domain restored from {}\n", from));
    Ok(())
}

/// `--config`, `--live` and `--current` as virDomainModificationImpact.
pub fn impact(c: &Cmd) -> Result<u32, Fail> {
    exclusive(c, "current", "live")?;
    exclusive(c, "current", "config")?;
    let mut flags = affect::CURRENT;
    if c.has("config") {
        flags |= affect::CONFIG;
    }
    if c.has("live") {
        flags |= affect::LIVE;
    }
    Ok(flags)
}

fn setmem(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = impact(c)?;
    if !c.has("config") && !c.has("live") && !c.has("current") {
        flags = affect::LIVE;
    }
    let dom = ctl.domain(c)?;
    let bytes = c.scaled("size", 1024, u64::MAX)?.unwrap_or(0);
    let kib = bytes.div_ceil(1024);
    ctl.conn()?.domain_set_memory(&dom, kib, flags)?;
    Ok(())
}

fn setmaxmem(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = impact(c)?;
    let dom = ctl.domain(c)?;
    let bytes = c.scaled("size", 1024, u64::MAX)?.unwrap_or(0);
    let kib = bytes.div_ceil(1024);
    ctl.conn()?
        .domain_set_memory(&dom, kib, flags | mem::MAXIMUM)
        .ctx(|| "Unable to change MaxMemorySize".into())?;
    Ok(())
}

fn setvcpus(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = impact(c)?;
    exclusive(c, "guest", "config")?;
    requires(c, "maximum", "config")?;
    if c.has("guest") {
        flags |= vcpu::GUEST;
    }
    if c.has("maximum") {
        flags |= vcpu::MAXIMUM;
    }
    if c.has("hotpluggable") {
        flags |= vcpu::HOTPLUGGABLE;
    }
    let dom = ctl.domain(c)?;
    let count = c.uint("count")?.unwrap_or(0);
    if count == 0 {
        return Err(Fail::Msg("Can't set 0 processors for a VM".into()));
    }
    ctl.conn()?.domain_set_vcpus(&dom, count, flags)?;
    Ok(())
}

/// virshCPUCountCollect: Ok(None) when the count does not apply.
fn cpu_count(
    ctl: &Ctl,
    dom: &oxvirt_core::types::DomainRef,
    flags: u32,
    check: bool,
) -> Result<Option<i32>, Fail> {
    let conn = ctl.conn()?;
    if check
        && ((flags & affect::LIVE != 0 && !conn.domain_is_active(dom).unwrap_or(false))
            || (flags & affect::CONFIG != 0 && !conn.domain_is_persistent(dom).unwrap_or(false)))
    {
        return Ok(None);
    }
    Ok(Some(conn.domain_get_vcpus_flags(dom, flags)?))
}

fn vcpucount(ctl: &mut Ctl, c: &Cmd) -> R {
    let (maximum, active, config, live, guest) = (
        c.has("maximum"),
        c.has("active"),
        c.has("config"),
        c.has("live"),
        c.has("guest"),
    );
    let mut current = c.has("current");
    let all = !(maximum || active || current || config || live || guest);
    if !maximum && !active && current {
        current = false;
    }
    exclusive(c, "live", "config")?;
    if current && live {
        exclusive(c, "current", "live")?;
    }
    if current && config {
        exclusive(c, "current", "config")?;
    }
    exclusive(c, "active", "maximum")?;
    exclusive(c, "guest", "config")?;
    let mut flags = 0;
    if live {
        flags |= affect::LIVE;
    }
    if config {
        flags |= affect::CONFIG;
    }
    if maximum {
        flags |= vcpu::MAXIMUM;
    }
    if guest {
        flags |= vcpu::GUEST;
    }
    let dom = ctl.domain(c)?;
    if all {
        let conf_max = cpu_count(ctl, &dom, affect::CONFIG | vcpu::MAXIMUM, true)?;
        let conf_cur = cpu_count(ctl, &dom, affect::CONFIG, true)?;
        let live_max = cpu_count(ctl, &dom, affect::LIVE | vcpu::MAXIMUM, true)?;
        let live_cur = cpu_count(ctl, &dom, affect::LIVE, true)?;
        let mut s = String::new();
        for (v, which, state) in [
            (conf_max, "maximum", "config"),
            (live_max, "maximum", "live"),
            (conf_cur, "current", "config"),
            (live_cur, "current", "live"),
        ] {
            if let Some(n) = v.filter(|n| *n > 0) {
                s += &format!("{:<12} {:<12} {:>3}\n", which, state, n);
            }
        }
        ctl.print(&s);
    } else {
        let n = cpu_count(ctl, &dom, flags, false)?.unwrap_or(0);
        ctl.print(&format!("{}\n", n));
    }
    Ok(())
}

fn domrename(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let new = c.req("new-name")?;
    ctl.conn()?.domain_rename(&dom, new, 0)?;
    ctl.extra("Domain successfully renamed\n");
    Ok(())
}

fn qemu_monitor_command(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let cmd = c.argv().join(" ");
    exclusive(c, "hmp", "pretty")?;
    exclusive(c, "hmp", "return-value")?;
    let flags = if c.has("hmp") { 1 } else { 0 };
    let out = ctl.conn()?.domain_qemu_monitor_command(&dom, &cmd, flags)?;
    if c.has("pretty") || c.has("return-value") {
        return Err(Fail::lib(oxvirt_core::Error::no_support(
            "qemu-monitor-command --pretty/--return-value",
        )));
    }
    ctl.print(&format!("{}\n", out));
    Ok(())
}
