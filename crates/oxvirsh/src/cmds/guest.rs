//! Domain commands around the guest and its devices: block info and
//! errors, jobs, guest time and hostname, file systems, interface
//! addresses and links, keys, screenshots, displays, descriptions and
//! metadata, save images, and the commands whose APIs the test driver
//! lacks (block jobs, migration tuning, guest agent).

use oxvirt_core::types::flags::domain_xml;
use oxvirt_core::types::{DomainRef, TypedParam, TypedValue};
use oxvirt_core::Error;
use oxvirt_xml::dom::{self, Element};

use crate::cmd::Cmd;
use crate::ctl::{Context, Ctl, Fail, R};
use crate::out::{Block, J};
use crate::table::Table;

use super::domain::impact;
use super::{exclusive, read_file, requires, Handler};

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "domblkinfo" => domblkinfo,
        "domblkerror" => domblkerror,
        "domjobinfo" => domjobinfo,
        "domjobabort" => domjobabort,
        "domtime" => domtime,
        "domhostname" => domhostname,
        "domfsinfo" => domfsinfo,
        "domfsfreeze" => domfsfreeze,
        "domfsthaw" => domfsthaw,
        "domfstrim" => domfstrim,
        "domifaddr" => domifaddr,
        "domif-getlink" => domif_getlink,
        "domif-setlink" => domif_setlink,
        "send-key" => send_key,
        "inject-nmi" => inject_nmi,
        "screenshot" => screenshot,
        "domdisplay" => domdisplay,
        "vncdisplay" => vncdisplay,
        "ttyconsole" => ttyconsole,
        "console" => super::console::console,
        "desc" => desc,
        "metadata" => metadata,
        "save-image-dumpxml" => save_image_dumpxml,
        "save-image-define" => save_image_define,
        "managedsave-dumpxml" => managedsave_dumpxml,
        "managedsave-define" => managedsave_define,
        "save-image-edit" => save_image_edit,
        "managedsave-edit" => managedsave_edit,
        "domsetlaunchsecstate" => domsetlaunchsecstate,
        "dom-fd-associate" => dom_fd_associate,
        "dump" => dump,
        "set-user-password" => set_user_password,
        "get-user-sshkeys" => get_user_sshkeys,
        "set-user-sshkeys" => set_user_sshkeys,
        "guestinfo" => guestinfo,
        "guestvcpus" => guestvcpus,
        "domdirtyrate-calc" => domdirtyrate_calc,
        "domlaunchsecinfo" => domlaunchsecinfo,
        "dompmsuspend" => dompmsuspend,
        "dompmwakeup" => dompmwakeup,
        "send-process-signal" => send_process_signal,
        "domblkthreshold" => domblkthreshold,
        "blockjob" => blockjob,
        "blockpull" => blockpull,
        "blockcommit" => blockcommit,
        "blockcopy" => blockcopy,
        "blockresize" => blockresize,
        "migrate-setmaxdowntime" => migrate_setmaxdowntime,
        "migrate-getmaxdowntime" => migrate_getmaxdowntime,
        "migrate-setspeed" => migrate_setspeed,
        "migrate-getspeed" => migrate_getspeed,
        "migrate-compcache" => migrate_compcache,
        "migrate-postcopy" => migrate_postcopy,
        "qemu-agent-command" => qemu_agent_command,
        "setvcpu" => setvcpu,
        "guest-agent-timeout" => guest_agent_timeout,
        "lxc-enter-namespace" => lxc_enter_namespace,
        "domxml-from-native" => domxml_from_native,
        "domxml-to-native" => domxml_to_native,
        _ => return None,
    })
}

/// The domain's document (virshDomainGetXMLFromDom).
fn tree(ctl: &Ctl, dom: &DomainRef, flags: u32) -> Result<Element, Fail> {
    let xml = ctl.conn()?.domain_get_xml_desc(dom, flags)?;
    dom::parse(&xml, "domain.xml").map_err(|e| Fail::Msg(e.to_string()))
}

fn devices<'a>(root: &'a Element, kind: &'a str) -> impl Iterator<Item = &'a Element> {
    root.child("devices")
        .into_iter()
        .flat_map(move |d| d.children_named(kind))
}

/// vshPrettyCapacity with "%.3lf %s".
fn pretty3(v: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut i = 0;
    while i < 6 && v >= 1u64 << (10 * (i + 1)) {
        i += 1;
    }
    format!("{:.3} {}", v as f64 / (1u64 << (10 * i)) as f64, UNITS[i])
}

fn blkinfo_strs(i: &oxvirt_core::types::BlockInfo, human: bool) -> [String; 3] {
    let v = [i.capacity, i.allocation, i.physical];
    if v == [0, 0, 0] {
        return ["-".into(), "-".into(), "-".into()];
    }
    v.map(|x| if human { pretty3(x) } else { x.to_string() })
}

fn domblkinfo(ctl: &mut Ctl, c: &Cmd) -> R {
    exclusive(c, "all", "device")?;
    let dom = ctl.domain(c)?;
    let all = c.has("all");
    let device = c.string_quiet("device").map(str::to_string);
    if !all && device.is_none() {
        return Err(Fail::Msg(
            "command 'domblkinfo' requires <device> option".into(),
        ));
    }
    let human = c.has("human");
    let conn = ctl.conn()?;
    if all {
        let _active = conn.domain_is_active(&dom).unwrap_or(false);
        let root = tree(ctl, &dom, 0)?;
        let mut t = Table::new(&["Target", "Capacity", "Allocation", "Physical"]);
        for d in devices(&root, "disk") {
            let target = d
                .child("target")
                .and_then(|t| t.attr("dev"))
                .unwrap_or("")
                .to_string();
            let info = if d.child("source").is_some() {
                conn.domain_get_block_info(&dom, &target, 0)?
            } else {
                Default::default()
            };
            let [a, b, cc] = blkinfo_strs(&info, human);
            t.row(vec![target, a, b, cc]);
        }
        ctl.print(&t.render(true));
    } else {
        let info = conn.domain_get_block_info(&dom, device.as_deref().unwrap_or(""), 0)?;
        let [a, b, cc] = blkinfo_strs(&info, human);
        ctl.print(&format!(
            "{:<15} {}\n{:<15} {}\n{:<15} {}\n",
            "Capacity:", a, "Allocation:", b, "Physical:", cc
        ));
    }
    Ok(())
}

fn domblkerror(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let errs = ctl.conn()?.domain_get_disk_errors(&dom, 0)?;
    if errs.is_empty() {
        ctl.print("No errors found\n");
    }
    let mut s = String::new();
    for (disk, e) in errs {
        let what = match e {
            0 => "no error",
            1 => "unspecified error",
            2 => "no space",
            _ => "unknown error",
        };
        s += &format!("{}: {}\n", disk, what);
    }
    ctl.print(&s);
    Ok(())
}

/// virTypedParameterToString.
fn raw_param(v: &TypedValue) -> String {
    match v {
        TypedValue::Double(d) => format!("{}", d),
        other => super::tune::param_str(other),
    }
}

/// cmdDomjobinfo: virDomainGetJobStats (virDomainGetJobInfo on daemons
/// without it), printed as virsh does.
fn domjobinfo(ctl: &mut Ctl, c: &Cmd) -> R {
    requires(c, "keep-completed", "completed")?;
    let dom = ctl.domain(c)?;
    let mut flags = 0;
    if c.has("completed") {
        flags |= 1;
    }
    if c.has("keep-completed") {
        flags |= 2;
    }
    let rawstats = c.has("rawstats");
    let conn = ctl.conn()?;
    let (job_type, params) = match conn.domain_get_job_stats(&dom, flags) {
        Ok(r) => r,
        Err(e) if e.code == oxvirt_core::error::code::NO_SUPPORT => {
            if flags != 0 || rawstats {
                return Err(Fail::msg_lib(
                    "Optional flags or --rawstats are not supported by the daemon",
                    e,
                ));
            }
            let i = conn.domain_get_job_info(&dom)?;
            let u = |k: &str, v: u64| TypedParam::new(k, TypedValue::ULLong(v));
            (
                i.job_type,
                vec![
                    u("time_elapsed", i.time_elapsed),
                    u("time_remaining", i.time_remaining),
                    u("data_total", i.data_total),
                    u("data_processed", i.data_processed),
                    u("data_remaining", i.data_remaining),
                    u("memory_total", i.mem_total),
                    u("memory_processed", i.mem_processed),
                    u("memory_remaining", i.mem_remaining),
                    u("disk_total", i.file_total),
                    u("disk_processed", i.file_processed),
                    u("disk_remaining", i.file_remaining),
                ],
            )
        }
        Err(e) => return Err(e.into()),
    };
    if rawstats {
        let mut s = format!("Job type: {}\n\n", job_type);
        for p in &params {
            s += &format!("{}: {}\n", p.field, raw_param(&p.value));
        }
        let j = J::Obj(vec![
            ("job_type".into(), J::from(job_type)),
            ("stats".into(), crate::out::params(&params)),
        ]);
        ctl.emit(&s, j);
        return Ok(());
    }
    let ull = |k: &str| match oxvirt_core::types::param(&params, k) {
        Some(TypedValue::ULLong(v)) => Some(*v),
        _ => None,
    };
    let get = |k: &str| ull(k).unwrap_or(0);
    let kind = match job_type {
        0 => "None",
        1 => "Bounded",
        2 => "Unbounded",
        3 => "Completed",
        4 => "Failed",
        5 => "Cancelled",
        _ => "unknown",
    };
    let mut s = Block::new(17);
    s.line(
        format!("{:<17} {:<12}\n", "Job type:", kind),
        "job_type",
        kind,
    );
    if job_type == 0 {
        ctl.emit_block(&s);
        return Ok(());
    }
    let op = match oxvirt_core::types::param(&params, "operation") {
        Some(TypedValue::Int(v)) => *v,
        _ => 0,
    };
    let ops = [
        "Unknown",
        "Start",
        "Save",
        "Restore",
        "Incoming migration",
        "Outgoing migration",
        "Snapshot",
        "Snapshot revert",
        "Dump",
        "Backup",
        "Snapshot delete",
    ];
    let op = usize::try_from(op)
        .ok()
        .and_then(|i| ops.get(i))
        .copied()
        .unwrap_or("unknown");
    s.line(
        format!("{:<17} {:<12}\n", "Operation:", op),
        "operation",
        op,
    );
    if !c.has("anystats") && job_type != 1 && job_type != 2 && (flags & 1 == 0 || job_type != 3) {
        ctl.emit_block(&s);
        return Ok(());
    }
    // The JSON keys are libvirt's typed-parameter names with the unit.
    let ms = |s: &mut Block, label: &str, key: &str, v: u64| {
        s.line(
            format!("{:<17} {:<12} ms\n", label, v),
            &format!("{}_ms", key),
            v,
        )
    };
    let cap = |s: &mut Block, label: &str, key: &str, v: u64| {
        s.line(
            format!("{:<17} {}\n", label, pretty3(v)),
            &format!("{}_bytes", key),
            v,
        )
    };
    let num = |s: &mut Block, label: &str, key: &str, v: u64| {
        s.line(format!("{:<17} {:<12}\n", label, v), key, v)
    };
    ms(&mut s, "Time elapsed:", "time_elapsed", get("time_elapsed"));
    if let Some(v) = ull("time_elapsed_net") {
        ms(&mut s, "Time elapsed w/o network:", "time_elapsed_net", v);
    }
    if job_type == 1 {
        ms(
            &mut s,
            "Time remaining:",
            "time_remaining",
            get("time_remaining"),
        );
    }
    let (dt, dp, dr) = (
        get("data_total"),
        get("data_processed"),
        get("data_remaining"),
    );
    if dt != 0 || dr != 0 || dp != 0 {
        cap(&mut s, "Data processed:", "data_processed", dp);
        cap(&mut s, "Data remaining:", "data_remaining", dr);
        cap(&mut s, "Data total:", "data_total", dt);
    }
    let (mt, mp, mr) = (
        get("memory_total"),
        get("memory_processed"),
        get("memory_remaining"),
    );
    if mt != 0 || mr != 0 || mp != 0 {
        cap(&mut s, "Memory processed:", "memory_processed", mp);
        cap(&mut s, "Memory remaining:", "memory_remaining", mr);
        cap(&mut s, "Memory total:", "memory_total", mt);
        if let Some(v) = ull("memory_bps").filter(|v| *v != 0) {
            s.line(
                format!("{:<17} {}/s\n", "Memory bandwidth:", pretty3(v)),
                "memory_bps",
                v,
            );
        }
        if let Some(v) = ull("memory_dirty_rate") {
            s.line(
                format!("{:<17} {:<12} pages/s\n", "Dirty rate:", v),
                "memory_dirty_rate_pages_per_s",
                v,
            );
        }
        if let Some(v) = ull("memory_page_size") {
            s.line(
                format!("{:<17} {:<12} bytes\n", "Page size:", v),
                "memory_page_size_bytes",
                v,
            );
        }
        if let Some(v) = ull("memory_iteration") {
            num(&mut s, "Iteration:", "memory_iteration", v);
        }
        if let Some(v) = ull("memory_postcopy_requests") {
            num(&mut s, "Postcopy requests:", "memory_postcopy_requests", v);
        }
    }
    let (ft, fp, fr) = (
        get("disk_total"),
        get("disk_processed"),
        get("disk_remaining"),
    );
    if ft != 0 || fr != 0 || fp != 0 {
        cap(&mut s, "File processed:", "disk_processed", fp);
        cap(&mut s, "File remaining:", "disk_remaining", fr);
        cap(&mut s, "File total:", "disk_total", ft);
        if let Some(v) = ull("disk_bps").filter(|v| *v != 0) {
            s.line(
                format!("{:<17} {}/s\n", "File bandwidth:", pretty3(v)),
                "disk_bps",
                v,
            );
        }
    }
    if let Some(v) = ull("memory_constant") {
        num(&mut s, "Constant pages:", "memory_constant_pages", v);
    }
    if let Some(v) = ull("memory_normal") {
        num(&mut s, "Normal pages:", "memory_normal_pages", v);
    }
    if let Some(v) = ull("memory_normal_bytes") {
        cap(&mut s, "Normal data:", "memory_normal", v);
    }
    if let Some(v) = ull("downtime") {
        let label = if job_type == 3 {
            "Total downtime:"
        } else {
            "Expected downtime:"
        };
        ms(&mut s, label, "downtime", v);
    }
    if let Some(v) = ull("downtime_net") {
        ms(&mut s, "Downtime w/o network:", "downtime_net", v);
    }
    if let Some(v) = ull("setup_time") {
        ms(&mut s, "Setup time:", "setup_time", v);
    }
    if let Some(v) = ull("compression_cache") {
        cap(&mut s, "Compression cache:", "compression_cache", v);
    }
    if let Some(v) = ull("compression_bytes") {
        cap(&mut s, "Compressed data:", "compression_data", v);
    }
    if let Some(v) = ull("compression_pages") {
        s.line(
            format!("{:<17} {:<13}\n", "Compressed pages:", v),
            "compression_pages",
            v,
        );
    }
    if let Some(v) = ull("compression_cache_misses") {
        s.line(
            format!("{:<17} {:<13}\n", "Compression cache misses:", v),
            "compression_cache_misses",
            v,
        );
    }
    if let Some(v) = ull("compression_overflow") {
        s.line(
            format!("{:<17} {:<13}\n", "Compression overflows:", v),
            "compression_overflow",
            v,
        );
    }
    if let Some(TypedValue::Int(v)) = oxvirt_core::types::param(&params, "auto_converge_throttle") {
        s.line(
            format!("{:<17} {:<13}\n", "Auto converge throttle:", v),
            "auto_converge_throttle_percent",
            *v,
        );
    }
    if let Some(v) = ull("disk_temp_used") {
        cap(&mut s, "Temporary disk space use:", "disk_temp_used", v);
    }
    if let Some(v) = ull("disk_temp_total") {
        cap(&mut s, "Temporary disk space total:", "disk_temp_total", v);
    }
    if let Some(TypedValue::String(m)) = oxvirt_core::types::param(&params, "errmsg") {
        s.line(
            format!("{:<17} {}\n", "Error message:", m),
            "error_message",
            m,
        );
    }
    ctl.emit_block(&s);
    Ok(())
}

fn domjobabort(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    ctl.conn()?.domain_abort_job(&dom)?;
    Ok(())
}

fn domtime(ctl: &mut Ctl, c: &Cmd) -> R {
    exclusive(c, "time", "now")?;
    exclusive(c, "time", "sync")?;
    exclusive(c, "now", "sync")?;
    let dom = ctl.domain(c)?;
    let time = c.ll("time")?;
    let conn = ctl.conn()?;
    if time.is_some() || c.has("now") || c.has("sync") {
        let mut secs = time.unwrap_or(0);
        if c.has("now") {
            secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
        }
        let flags = if c.has("sync") { 1 } else { 0 };
        conn.domain_set_time(&dom, secs, 0, flags)?;
    } else {
        let (secs, _) = conn.domain_get_time(&dom, 0)?;
        if c.has("pretty") {
            ctl.print(&format!("Time: {}", format_utc(secs)));
        } else {
            ctl.print(&format!("Time: {}", secs));
        }
    }
    Ok(())
}

/// "%Y-%m-%d %H:%M:%S" in UTC.
fn format_utc(secs: i64) -> String {
    oxvirt_core::types::format_utc(secs, ' ')
}

fn domhostname(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let mut flags = 0;
    if let Some(src) = c.string("source")? {
        flags = match src {
            "agent" => 2,
            "lease" => 1,
            _ => return Err(Fail::Msg(format!("Unknown data source '{}'", src))),
        };
    }
    let h = ctl
        .conn()?
        .domain_get_hostname(&dom, flags)
        .ctx(|| "failed to get hostname".into())?;
    ctl.print(&format!("{}\n", h));
    Ok(())
}

fn domfsinfo(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let info = ctl
        .conn()?
        .domain_get_fs_info(&dom, 0)
        .ctx(|| "Unable to get filesystem information".into())?;
    if info.is_empty() {
        ctl.extra("No filesystems are mounted in the domain");
        return Ok(());
    }
    let mut t = Table::new(&["Mountpoint", "Name", "Type", "Target"]);
    for i in info {
        t.row(vec![
            i.mountpoint,
            i.name,
            i.fstype,
            i.dev_aliases.join(","),
        ]);
    }
    ctl.print(&t.render(true));
    Ok(())
}

fn mountpoints(c: &Cmd) -> Result<Vec<String>, Fail> {
    let mut v: Vec<String> = Vec::new();
    for (d, val) in &c.opts {
        if d.name == "mountpoint" {
            v.push(val.clone().unwrap_or_default());
        }
    }
    v.extend(c.argv().into_iter().map(str::to_string));
    Ok(v)
}

fn domfsfreeze(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let m = mountpoints(c)?;
    let n = ctl
        .conn()?
        .domain_fs_freeze(&dom, &m, 0)
        .ctx(|| "Unable to freeze filesystems".into())?;
    ctl.extra(&format!("Froze {} filesystem(s)\n", n));
    Ok(())
}

fn domfsthaw(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let m = mountpoints(c)?;
    let n = ctl
        .conn()?
        .domain_fs_thaw(&dom, &m, 0)
        .ctx(|| "Unable to thaw filesystems".into())?;
    ctl.extra(&format!("Thawed {} filesystem(s)\n", n));
    Ok(())
}

fn domfstrim(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let minimum = c.ull("minimum")?.unwrap_or(0);
    let mp = c.string("mountpoint")?.map(str::to_string);
    ctl.conn()?
        .domain_fs_trim(&dom, mp.as_deref(), minimum, 0)
        .ctx(|| "Unable to invoke fstrim".to_string())?;
    Ok(())
}

fn domifaddr(ctl: &mut Ctl, c: &Cmd) -> R {
    let full = c.has("full");
    let iface = c.string("interface")?.map(str::to_string);
    let mut source = 0;
    if let Some(s) = c.string("source")? {
        source = match s {
            "lease" => 0,
            "agent" => 1,
            "arp" => 2,
            _ => return Err(Fail::Msg(format!("Unknown data source '{}'", s))),
        };
    }
    let dom = ctl.domain(c)?;
    let ifaces = ctl
        .conn()?
        .domain_interface_addresses(&dom, source, 0)
        .ctx(|| "Failed to query for interfaces addresses".into())?;
    ctl.extra(&format!(
        " {:<10} {:<20} {:<8}     {}\n{}{}\n",
        "Name",
        "MAC address",
        "Protocol",
        "Address",
        "-------------------------------------------------",
        "------------------------------"
    ));
    let mut s = String::new();
    for i in ifaces {
        if iface.as_deref().is_some_and(|n| n != i.name) {
            continue;
        }
        if i.addrs.is_empty() {
            s += &format!(
                " {:<10} {:<17}    {:<12} {}\n",
                i.name,
                i.hwaddr.as_deref().unwrap_or("N/A"),
                "N/A",
                "N/A"
            );
            continue;
        }
        for (j, a) in i.addrs.iter().enumerate() {
            let kind = if a.kind == 1 { "ipv6" } else { "ipv4" };
            let addr = format!("{:<12} {}/{}", kind, a.addr, a.prefix);
            if full || j == 0 {
                s += &format!(
                    " {:<10} {:<17}    {}\n",
                    i.name,
                    i.hwaddr.as_deref().unwrap_or(""),
                    addr
                );
            } else {
                s += &format!(" {:<10} {:<17}    {}\n", "-", "-", addr);
            }
        }
    }
    ctl.print(&s);
    Ok(())
}

/// The interface whose MAC or target device is `iface`, with the
/// normalised MAC when `iface` is one.
fn find_iface<'a>(root: &'a Element, iface: &str) -> (Vec<&'a Element>, Option<String>) {
    let mac = oxvirt_xml::props::Mac::parse(iface).map(|m| m.to_string());
    let found = devices(root, "interface")
        .filter(|i| {
            let m = i.child("mac").and_then(|m| m.attr("address"));
            let t = i.child("target").and_then(|t| t.attr("dev"));
            (mac.is_some() && m == mac.as_deref()) || t == Some(iface)
        })
        .collect();
    (found, mac)
}

fn domif_getlink(ctl: &mut Ctl, c: &Cmd) -> R {
    let iface = c.req("interface")?.to_string();
    let flags = if c.has("config") {
        domain_xml::INACTIVE
    } else {
        0
    };
    let dom = ctl.domain(c)?;
    let root = tree(ctl, &dom, flags)?;
    let (found, mac) = find_iface(&root, &iface);
    match found.len() {
        0 => Err(Fail::Msg(match mac {
            Some(m) => format!("Interface (mac: {}) not found.", m),
            None => format!("Interface (dev: {}) not found.", iface),
        })),
        1 => {
            let state = found[0]
                .child("link")
                .and_then(|l| l.attr("state"))
                .unwrap_or("up");
            ctl.print(&format!("{} {}", iface, state));
            Ok(())
        }
        _ => Err(Fail::Msg("multiple matching interfaces found".into())),
    }
}

fn domif_setlink(ctl: &mut Ctl, c: &Cmd) -> R {
    let iface = c.req("interface")?.to_string();
    let state = c.req("state")?.to_string();
    let config = c.has("config");
    let dom = ctl.domain(c)?;
    if state != "up" && state != "down" {
        return Err(Fail::Msg(format!("invalid link state '{}'", state)));
    }
    let conn = ctl.conn()?;
    let active = conn.domain_is_active(&dom).unwrap_or(false);
    let (xflags, uflags) = if config {
        (domain_xml::INACTIVE, 2)
    } else if active {
        (0, 1)
    } else {
        (0, 0)
    };
    let root = tree(ctl, &dom, xflags)?;
    let (found, _) = find_iface(&root, &iface);
    let el = match found.len() {
        0 => return Err(Fail::Msg(format!("interface '{}' not found", iface))),
        1 => found[0],
        _ => return Err(Fail::Msg("multiple matching interfaces found".into())),
    };
    let mut el = el.clone();
    el.children
        .retain(|n| !matches!(n, oxvirt_xml::dom::Node::Element(e) if e.name == "link"));
    let mut link = Element::new("link");
    link.attrs.push(oxvirt_xml::dom::Attr {
        name: "state".into(),
        value: state.clone(),
    });
    el.children.push(oxvirt_xml::dom::Node::Element(link));
    let xml = write_xml(&el);
    conn.domain_update_device(&dom, &xml, uflags)
        .ctx(|| "Failed to update interface link state".into())?;
    ctl.extra("Device updated successfully\n");
    Ok(())
}

/// Linux input key names (the common part of the `linux` code set).
const LINUX_KEYS: &[(&str, u32)] = &[
    ("KEY_ESC", 1),
    ("KEY_1", 2),
    ("KEY_2", 3),
    ("KEY_3", 4),
    ("KEY_4", 5),
    ("KEY_5", 6),
    ("KEY_6", 7),
    ("KEY_7", 8),
    ("KEY_8", 9),
    ("KEY_9", 10),
    ("KEY_0", 11),
    ("KEY_MINUS", 12),
    ("KEY_EQUAL", 13),
    ("KEY_BACKSPACE", 14),
    ("KEY_TAB", 15),
    ("KEY_Q", 16),
    ("KEY_W", 17),
    ("KEY_E", 18),
    ("KEY_R", 19),
    ("KEY_T", 20),
    ("KEY_Y", 21),
    ("KEY_U", 22),
    ("KEY_I", 23),
    ("KEY_O", 24),
    ("KEY_P", 25),
    ("KEY_LEFTBRACE", 26),
    ("KEY_RIGHTBRACE", 27),
    ("KEY_ENTER", 28),
    ("KEY_LEFTCTRL", 29),
    ("KEY_A", 30),
    ("KEY_S", 31),
    ("KEY_D", 32),
    ("KEY_F", 33),
    ("KEY_G", 34),
    ("KEY_H", 35),
    ("KEY_J", 36),
    ("KEY_K", 37),
    ("KEY_L", 38),
    ("KEY_SEMICOLON", 39),
    ("KEY_APOSTROPHE", 40),
    ("KEY_GRAVE", 41),
    ("KEY_LEFTSHIFT", 42),
    ("KEY_BACKSLASH", 43),
    ("KEY_Z", 44),
    ("KEY_X", 45),
    ("KEY_C", 46),
    ("KEY_V", 47),
    ("KEY_B", 48),
    ("KEY_N", 49),
    ("KEY_M", 50),
    ("KEY_COMMA", 51),
    ("KEY_DOT", 52),
    ("KEY_SLASH", 53),
    ("KEY_RIGHTSHIFT", 54),
    ("KEY_KPASTERISK", 55),
    ("KEY_LEFTALT", 56),
    ("KEY_SPACE", 57),
    ("KEY_CAPSLOCK", 58),
    ("KEY_F1", 59),
    ("KEY_F2", 60),
    ("KEY_F3", 61),
    ("KEY_F4", 62),
    ("KEY_F5", 63),
    ("KEY_F6", 64),
    ("KEY_F7", 65),
    ("KEY_F8", 66),
    ("KEY_F9", 67),
    ("KEY_F10", 68),
    ("KEY_NUMLOCK", 69),
    ("KEY_SCROLLLOCK", 70),
    ("KEY_F11", 87),
    ("KEY_F12", 88),
    ("KEY_RIGHTCTRL", 97),
    ("KEY_SYSRQ", 99),
    ("KEY_RIGHTALT", 100),
    ("KEY_HOME", 102),
    ("KEY_UP", 103),
    ("KEY_PAGEUP", 104),
    ("KEY_LEFT", 105),
    ("KEY_RIGHT", 106),
    ("KEY_END", 107),
    ("KEY_DOWN", 108),
    ("KEY_PAGEDOWN", 109),
    ("KEY_INSERT", 110),
    ("KEY_DELETE", 111),
    ("KEY_POWER", 116),
    ("KEY_PAUSE", 119),
    ("KEY_LEFTMETA", 125),
    ("KEY_RIGHTMETA", 126),
];

/// virshKeyCodeGetInt: a number (C base 0) up to 0xffff.
fn keycode_int(s: &str) -> Option<u32> {
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()?
    } else {
        crate::cmd::strtoul_p(s)?
    };
    (v <= 0xffff).then_some(v as u32)
}

fn send_key(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let mut codeset = c.string_quiet("codeset").unwrap_or("linux");
    let holdtime = c.uint("holdtime")?.unwrap_or(0);
    if codeset == "rfb" {
        codeset = "qnum";
    }
    const SETS: [&str; 10] = [
        "linux", "xt", "atset1", "atset2", "atset3", "osx", "xt_kbd", "usb", "win32", "qnum",
    ];
    let Some(set) = SETS.iter().position(|s| *s == codeset) else {
        return Err(Fail::Msg(format!("unknown codeset: '{}'", codeset)));
    };
    let mut keys = Vec::new();
    for k in c.argv() {
        if keys.len() == 16 {
            return Err(Fail::Msg("too many keycodes".into()));
        }
        let code = keycode_int(k).or_else(|| {
            (set == 0)
                .then(|| LINUX_KEYS.iter().find(|(n, _)| *n == k).map(|(_, v)| *v))
                .flatten()
        });
        match code {
            Some(v) => keys.push(v),
            None => return Err(Fail::Msg(format!("invalid keycode: '{}'", k))),
        }
    }
    ctl.conn()?
        .domain_send_key(&dom, set as u32, holdtime, &keys, 0)?;
    Ok(())
}

fn inject_nmi(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    ctl.conn()?.domain_inject_nmi(&dom, 0)?;
    Ok(())
}

fn screenshot(ctl: &mut Ctl, c: &Cmd) -> R {
    let file = c.string("file")?.map(str::to_string);
    let screen = c.uint("screen")?.unwrap_or(0);
    let dom = ctl.domain(c)?;
    let (mime, mut st) = ctl
        .conn()?
        .domain_screenshot(&dom, screen, 0)
        .ctx(|| format!("could not take a screenshot of {}", dom.name))?;
    let file = match file {
        Some(f) => f,
        None => {
            let ext = match mime.as_str() {
                "image/x-portable-pixmap" => ".ppm",
                "image/png" => ".png",
                _ => "",
            };
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let t = format_utc(now).replace(' ', "-");
            format!("{}-{}{}", dom.name, t, ext)
        }
    };
    let mut data = Vec::new();
    let recv = (|| -> oxvirt_core::Result<()> {
        while let Some(chunk) = st.recv()? {
            data.extend_from_slice(&chunk);
        }
        Ok(())
    })();
    recv.ctx(|| format!("could not receive data from domain '{}'", dom.name))?;
    std::fs::write(&file, &data).map_err(|_| Fail::Msg(format!("cannot create file {}", file)))?;
    st.finish()
        .ctx(|| format!("cannot close stream on domain '{}'", dom.name))?;
    ctl.extra(&format!(
        "Screenshot saved to {}, with type of {}",
        file, mime
    ));
    Ok(())
}

fn domdisplay(ctl: &mut Ctl, c: &Cmd) -> R {
    exclusive(c, "all", "type")?;
    let all = c.has("all");
    let dom = ctl.domain(c)?;
    let conn = ctl.conn()?;
    if !conn.domain_is_active(&dom).unwrap_or(false) {
        return Err(Fail::Msg("Domain is not running".into()));
    }
    let flags = if c.has("include-password") {
        domain_xml::SECURE
    } else {
        0
    };
    let kind = c.string("type")?.map(str::to_string);
    let root = tree(ctl, &dom, flags)?;
    let mut any = false;
    let mut out = String::new();
    for scheme in ["vnc", "spice", "rdp", "dbus"] {
        if !all && kind.as_deref().is_some_and(|k| k != scheme) {
            continue;
        }
        let Some(g) = devices(&root, "graphics").find(|g| g.attr("type") == Some(scheme)) else {
            continue;
        };
        let Some(port) = g.attr("port").and_then(|p| p.parse::<i64>().ok()) else {
            continue;
        };
        let listen = g
            .attr("listen")
            .or_else(|| g.child("listen").and_then(|l| l.attr("address")))
            .filter(|l| *l != "0.0.0.0" && *l != "::")
            .unwrap_or("localhost");
        let port = if scheme == "vnc" { port - 5900 } else { port };
        out += &format!("{}://{}:{}", scheme, listen, port);
        any = true;
        if !all {
            break;
        }
        out.push('\n');
    }
    ctl.print(&out);
    if !any {
        return Err(Fail::Msg(match kind {
            Some(k) => format!("No graphical display with type '{}' found", k),
            None => "No graphical display found".into(),
        }));
    }
    Ok(())
}

fn vncdisplay(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    if !ctl.conn()?.domain_is_active(&dom).unwrap_or(false) {
        return Err(Fail::Msg("Domain is not running".into()));
    }
    let root = tree(ctl, &dom, 0)?;
    let g = devices(&root, "graphics").find(|g| g.attr("type") == Some("vnc"));
    let port = g
        .and_then(|g| g.attr("port"))
        .and_then(|p| p.parse::<i64>().ok());
    let Some(port) = port else {
        return Err(Fail::Msg(
            "Failed to get VNC port. Is this domain using VNC?".into(),
        ));
    };
    let listen = g.and_then(|g| g.attr("listen")).or_else(|| {
        g.and_then(|g| g.child("listen"))
            .and_then(|l| l.attr("address"))
    });
    match listen {
        None | Some("0.0.0.0") => ctl.print(&format!(":{}\n", port - 5900)),
        Some(l) => ctl.print(&format!("{}:{}\n", l, port - 5900)),
    }
    Ok(())
}

fn ttyconsole(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = if c.has("inactive") {
        domain_xml::INACTIVE
    } else {
        0
    };
    let dom = ctl.domain(c)?;
    let root = tree(ctl, &dom, flags)?;
    let tty = devices(&root, "console")
        .next()
        .and_then(|e| e.attr("tty"))
        .map(str::to_string);
    match tty {
        Some(t) if !t.is_empty() => {
            ctl.print(&format!("{}\n", t));
            Ok(())
        }
        _ => Err(Fail::Silent),
    }
}

fn desc(ctl: &mut Ctl, c: &Cmd) -> R {
    let config = c.has("config");
    let live = c.has("live");
    exclusive(c, "current", "live")?;
    exclusive(c, "current", "config")?;
    let title = c.has("title");
    let mut flags = 0;
    let mut qflags = 0;
    if config {
        flags |= 2;
        qflags |= domain_xml::INACTIVE;
    }
    if live {
        flags |= 1;
    }
    let dom = ctl.domain(c)?;
    super::monitor::dom_state(ctl, &dom)?;
    let kind = if title {
        oxvirt_core::types::flags::metadata::TITLE
    } else {
        oxvirt_core::types::flags::metadata::DESCRIPTION
    };
    let words = c.argv();
    let arg = (!words.is_empty()).then(|| words.join(" "));
    if c.has("edit") {
        return Err(Fail::lib(Error::no_support("virsh command 'desc --edit'")));
    }
    if let Some(new) = arg {
        super::monitor::description(ctl, &dom, title, qflags)?;
        ctl.conn()?
            .domain_set_metadata(&dom, kind, Some(&new), None, None, flags)
            .ctx(|| {
                if title {
                    "Failed to set new domain title".into()
                } else {
                    "Failed to set new domain description".into()
                }
            })?;
        ctl.extra(if title {
            "Domain title updated successfully"
        } else {
            "Domain description updated successfully"
        });
    } else {
        let d = super::monitor::description(ctl, &dom, title, qflags)?;
        if !d.is_empty() {
            ctl.print(&d);
        } else if title {
            ctl.extra(&format!("No title for domain: {}", dom.name));
        } else {
            ctl.extra(&format!("No description for domain: {}", dom.name));
        }
    }
    Ok(())
}

fn metadata(ctl: &mut Ctl, c: &Cmd) -> R {
    exclusive(c, "current", "live")?;
    exclusive(c, "current", "config")?;
    exclusive(c, "edit", "set")?;
    exclusive(c, "remove", "set")?;
    exclusive(c, "remove", "edit")?;
    let mut flags = 0;
    if c.has("config") {
        flags |= 2;
    }
    if c.has("live") {
        flags |= 1;
    }
    let dom = ctl.domain(c)?;
    let uri = c.string("uri")?.map(str::to_string);
    let key = c.string("key")?.map(str::to_string);
    let set = c.string("set")?.map(str::to_string);
    let edit = c.has("edit");
    let rem = c.has("remove");
    if (set.is_some() || edit) && key.is_none() {
        return Err(Fail::Msg(
            "namespace key is required when modifying metadata".into(),
        ));
    }
    let conn = ctl.conn()?;
    if set.is_some() || rem {
        conn.domain_set_metadata(
            &dom,
            2,
            set.as_deref(),
            key.as_deref(),
            uri.as_deref(),
            flags,
        )?;
        ctl.extra(if rem {
            "Metadata removed\n"
        } else {
            "Metadata modified\n"
        });
    } else if edit {
        return Err(Fail::lib(Error::no_support(
            "virsh command 'metadata --edit'",
        )));
    } else {
        let data = conn.domain_get_metadata(&dom, 2, uri.as_deref(), flags)?;
        ctl.print(&format!("{}\n", data));
    }
    Ok(())
}

fn save_image_dumpxml(ctl: &mut Ctl, c: &Cmd) -> R {
    let file = c.req("file")?.to_string();
    let mut flags = 0;
    if c.has("security-info") {
        flags |= domain_xml::SECURE;
    }
    let xml = ctl.conn()?.domain_save_image_get_xml_desc(&file, flags)?;
    super::domain::dump_xml(ctl, c, &xml)
}

/// VIR_DOMAIN_SAVE_RUNNING / VIR_DOMAIN_SAVE_PAUSED from --running and
/// --paused.
fn save_state(c: &Cmd) -> u32 {
    (if c.has("running") { 2 } else { 0 }) | (if c.has("paused") { 4 } else { 0 })
}

fn save_image_define(ctl: &mut Ctl, c: &Cmd) -> R {
    let file = c.req("file")?.to_string();
    let xmlfile = c.req("xml")?.to_string();
    let flags = save_state(c);
    let xml = read_file(&xmlfile)?;
    ctl.conn()?
        .domain_save_image_define_xml(&file, &xml, flags)
        .ctx(|| format!("Failed to update {}", file))?;
    ctl.extra(&format!("State file {} updated.\n", file));
    Ok(())
}

fn managedsave_dumpxml(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let mut flags = 0;
    if c.has("security-info") {
        flags |= domain_xml::SECURE;
    }
    let xml = ctl.conn()?.domain_managed_save_get_xml_desc(&dom, flags)?;
    super::domain::dump_xml(ctl, c, &xml)
}

fn managedsave_define(ctl: &mut Ctl, c: &Cmd) -> R {
    exclusive(c, "running", "paused")?;
    let flags = save_state(c);
    let xmlfile = c.req("xml")?.to_string();
    let xml = read_file(&xmlfile)?;
    let dom = ctl.domain(c)?;
    ctl.conn()?
        .domain_managed_save_define_xml(&dom, &xml, flags)
        .ctx(|| format!("Failed to update {} XML configuration", dom.name))?;
    ctl.extra(&format!(
        "Managed save state file of domain '{}' updated.\n",
        dom.name
    ));
    Ok(())
}

fn dump(ctl: &mut Ctl, c: &Cmd) -> R {
    let to = c.req("file")?.to_string();
    let dom = ctl.domain(c)?;
    let mut flags = 0;
    for (o, f) in [
        ("live", 1),
        ("crash", 2),
        ("bypass-cache", 4),
        ("reset", 8),
        ("memory-only", 16),
    ] {
        if c.has(o) {
            flags |= f;
        }
    }
    let format = match c.string("format")? {
        None => 0,
        Some(f) => {
            if flags & 16 == 0 {
                return Err(Fail::Msg("--format only works with --memory-only".into()));
            }
            match f {
                "kdump-zlib" => 1,
                "kdump-lzo" => 2,
                "kdump-snappy" => 3,
                "elf" => 0,
                "win-dmp" => 4,
                _ => {
                    return Err(Fail::Msg(format!("format '{}' is not supported, expecting 'kdump-zlib', 'kdump-lzo', 'kdump-snappy', 'win-dmp' or 'elf'", f)));
                }
            }
        }
    };
    let conn = ctl.conn()?;
    super::jobwatch::watch(&conn, &dom, c.has("verbose"), "Dump", || {
        conn.domain_core_dump(&dom, &to, format, flags)
    })
    .ctx(|| format!("Failed to core dump domain '{}' to {}", dom.name, to))?;
    ctl.extra(&format!("\nDomain '{}' dumped to {}\n", dom.name, to));
    Ok(())
}

fn set_user_password(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let user = c.req("user")?.to_string();
    let password = c.req("password")?.to_string();
    let flags = if c.has("encrypted") { 1 } else { 0 };
    ctl.conn()?
        .domain_set_user_password(&dom, &user, &password, flags)?;
    ctl.extra(&format!(
        "Password set successfully for {} in {}",
        user, dom.name
    ));
    Ok(())
}

fn get_user_sshkeys(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let user = c.req("user")?.to_string();
    let keys = ctl.conn()?.domain_authorized_ssh_keys_get(&dom, &user, 0)?;
    let mut s = String::new();
    for k in keys {
        s += &k;
        s.push('\n');
    }
    ctl.print(&s);
    Ok(())
}

fn set_user_sshkeys(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let user = c.req("user")?.to_string();
    let file = c.string("file")?.map(str::to_string);
    let mut flags = 0;
    if c.has("remove") {
        flags |= 2;
        if file.is_none() {
            return Err(Fail::Msg(
                "Option --file is required by option --remove".into(),
            ));
        }
    }
    if c.has("reset") {
        flags |= 1;
    }
    let keys: Vec<String> = match &file {
        Some(f) => read_file(f)?
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect(),
        None => Vec::new(),
    };
    ctl.conn()?
        .domain_authorized_ssh_keys_set(&dom, &user, &keys, flags)?;
    Ok(())
}

fn guestinfo(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let mut types = 0;
    for (o, t) in [
        ("user", 1),
        ("os", 2),
        ("timezone", 4),
        ("hostname", 8),
        ("filesystem", 16),
        ("disk", 32),
        ("interface", 64),
    ] {
        if c.has(o) {
            types |= t;
        }
    }
    let params = ctl.conn()?.domain_get_guest_info(&dom, types, 0)?;
    print_params(ctl, &params);
    Ok(())
}

fn print_params(ctl: &Ctl, params: &[TypedParam]) {
    let mut s = String::new();
    for p in params {
        s += &format!("{:<20}: {}\n", p.field, super::tune::param_str(&p.value));
    }
    ctl.print(&s);
}

fn guestvcpus(ctl: &mut Ctl, c: &Cmd) -> R {
    exclusive(c, "enable", "disable")?;
    let dom = ctl.domain(c)?;
    let cpulist = c.string("cpulist")?.map(str::to_string);
    let enable = c.has("enable");
    let disable = c.has("disable");
    if (enable || disable) && cpulist.is_none() {
        return Err(Fail::Msg(
            "Option --cpulist is required by option --enable".into(),
        ));
    }
    let conn = ctl.conn()?;
    if let Some(list) = cpulist.filter(|_| enable || disable) {
        conn.domain_set_guest_vcpus(&dom, &list, enable as i32, 0)?;
    } else {
        let params = conn.domain_get_guest_vcpus(&dom, 0)?;
        print_params(ctl, &params);
    }
    Ok(())
}

fn domdirtyrate_calc(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let secs = c.int("seconds")?.unwrap_or(1);
    // VIR_DOMAIN_DIRTYRATE_MODE_*, checked by virsh before the call.
    let flags = match c.string("mode")? {
        None | Some("page-sampling") => 0,
        Some("dirty-bitmap") => 1,
        Some("dirty-ring") => 2,
        Some(m) => return Err(Fail::Msg(format!("Unknown calculation mode '{}'", m))),
    };
    ctl.conn()?
        .domain_start_dirty_rate_calc(&dom, secs, flags)?;
    ctl.extra("Start to calculate domain's memory dirty rate successfully.\n");
    Ok(())
}

fn domlaunchsecinfo(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let params = ctl
        .conn()?
        // libvirt adds VIR_TYPED_PARAM_STRING_OKAY for the driver.
        .domain_get_launch_security_info(&dom, 4)
        .ctx(|| "Unable to get launch security parameters".into())?;
    ctl.print(&super::tune::param_lines(&params, |p| {
        super::tune::param_str(&p.value)
    }));
    Ok(())
}

fn dompmsuspend(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let duration = c.ull("duration")?.unwrap_or(0);
    let target = c.req("target")?;
    let t = match target {
        "mem" => 0,
        "disk" => 1,
        "hybrid" => 2,
        _ => return Err(Fail::Msg("Invalid target".into())),
    };
    ctl.conn()?
        .domain_pm_suspend(&dom, t, duration, 0)
        .ctx(|| format!("Domain '{}' could not be suspended", dom.name))?;
    ctl.extra(&format!("Domain '{}' successfully suspended", dom.name));
    Ok(())
}

fn dompmwakeup(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    ctl.conn()?
        .domain_pm_wakeup(&dom, 0)
        .ctx(|| format!("Domain '{}' could not be woken up", dom.name))?;
    ctl.extra(&format!("Domain '{}' successfully woken up", dom.name));
    Ok(())
}

fn send_process_signal(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let pid = c.ll("pid")?.unwrap_or(0);
    let sig = c.req("signame")?.to_string();
    let signum =
        signal_number(&sig).ok_or_else(|| Fail::Msg(format!("malformed signal name: {}", sig)))?;
    ctl.conn()?
        .domain_send_process_signal(&dom, pid, signum, 0)?;
    Ok(())
}

/// virshDomainSignalFromString: a number, or a name with or without "sig".
fn signal_number(s: &str) -> Option<u32> {
    const NAMES: [&str; 32] = [
        "nop", "hup", "int", "quit", "ill", "trap", "abrt", "bus", "fpe", "kill", "usr1", "segv",
        "usr2", "pipe", "alrm", "term", "stkflt", "chld", "cont", "stop", "tstp", "ttin", "ttou",
        "urg", "xcpu", "xfsz", "vtalrm", "prof", "winch", "poll", "pwr", "sys",
    ];
    if let Some(n) = crate::cmd::strtol(s) {
        return u32::try_from(n).ok();
    }
    let l = s.to_ascii_lowercase();
    let l = l.strip_prefix("sig").unwrap_or(&l);
    if let Some(i) = NAMES.iter().position(|n| *n == l) {
        return Some(i as u32);
    }
    l.strip_prefix("rt")
        .and_then(|r| r.parse::<u32>().ok())
        .map(|r| 32 + r)
}

fn domblkthreshold(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let dev = c.req("dev")?.to_string();
    let threshold = c.scaled("threshold", 1, u64::MAX)?.unwrap_or(0);
    ctl.conn()?
        .domain_set_block_threshold(&dom, &dev, threshold, 0)?;
    Ok(())
}

fn blockjob(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let path = c.req("path")?.to_string();
    let conn = ctl.conn()?;
    if c.has("abort") || c.has("pivot") || c.has("async") {
        let mut flags = 0;
        if c.has("async") {
            flags |= 1;
        }
        if c.has("pivot") {
            flags |= 2;
        }
        conn.domain_block_job_abort(&dom, &path, flags)?;
        return Ok(());
    }
    if let Some(bw) = c.ull("bandwidth")? {
        conn.domain_block_job_set_speed(&dom, &path, bw, 0)?;
        return Ok(());
    }
    match conn.domain_get_block_job_info(&dom, &path, 0)? {
        None => ctl.extra(&format!("No current block job for {}\n", path)),
        Some(i) => ctl.print(&format!(
            "Block job: [{:3.0} %]\n",
            if i.end == 0 {
                100.0
            } else {
                i.cur as f64 * 100.0 / i.end as f64
            }
        )),
    }
    Ok(())
}

fn bandwidth(c: &Cmd) -> Result<u64, Fail> {
    Ok(c.ull("bandwidth")?.unwrap_or(0))
}

fn blockpull(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let path = c.req("path")?.to_string();
    let bw = bandwidth(c)?;
    let base = c.string("base")?.map(str::to_string);
    let conn = ctl.conn()?;
    if base.is_some() || c.has("keep-relative") {
        conn.domain_block_rebase(&dom, &path, base.as_deref(), bw, 0)?;
    } else {
        conn.domain_block_pull(&dom, &path, bw, 0)?;
    }
    Ok(())
}

fn blockcommit(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let path = c.req("path")?.to_string();
    let bw = bandwidth(c)?;
    let base = c.string("base")?.map(str::to_string);
    let top = c.string("top")?.map(str::to_string);
    ctl.conn()?
        .domain_block_commit(&dom, &path, base.as_deref(), top.as_deref(), bw, 0)?;
    Ok(())
}

fn blockcopy(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let path = c.req("path")?.to_string();
    let dest = c.string("dest")?.map(str::to_string);
    let bw = bandwidth(c)?;
    ctl.conn()?
        .domain_block_rebase(&dom, &path, dest.as_deref(), bw, 8)?;
    Ok(())
}

fn blockresize(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let path = c.req("path")?.to_string();
    let size = c.scaled("size", 1024, u64::MAX)?.unwrap_or(0);
    ctl.conn()?
        .domain_block_resize(&dom, &path, size, 1)
        .ctx(|| format!("Failed to resize block device '{}'", path))?;
    ctl.extra(&format!("Block device '{}' is resized\n", path));
    Ok(())
}

fn migrate_setmaxdowntime(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let d = c.ull("downtime")?.unwrap_or(0);
    if d < 1 {
        return Err(Fail::Msg("migrate: Invalid downtime".into()));
    }
    ctl.conn()?.domain_migrate_set_max_downtime(&dom, d, 0)?;
    Ok(())
}

fn migrate_getmaxdowntime(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let d = ctl.conn()?.domain_migrate_get_max_downtime(&dom, 0)?;
    ctl.print(&format!("{}\n", d));
    Ok(())
}

fn migrate_setspeed(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    // vshCommandOptULWrap: a negative bandwidth wraps, as in C.
    let bw = c.ull_wrap("bandwidth")?.unwrap_or(0);
    let flags = if c.has("postcopy") { 1 } else { 0 };
    ctl.conn()?.domain_migrate_set_max_speed(&dom, bw, flags)?;
    Ok(())
}

fn migrate_getspeed(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let flags = if c.has("postcopy") { 1 } else { 0 };
    let bw = ctl.conn()?.domain_migrate_get_max_speed(&dom, flags)?;
    ctl.print(&format!("{}\n", bw));
    Ok(())
}

fn migrate_compcache(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let conn = ctl.conn()?;
    // vshCommandOptULongLong: plain bytes, no suffixes.
    if let Some(size) = c.ull("size")? {
        conn.domain_migrate_set_compression_cache(&dom, size, 0)?;
    }
    let size = conn.domain_migrate_get_compression_cache(&dom, 0)?;
    ctl.print(&format!("Compression cache: {:.3} {}\n", size as f64, "B"));
    Ok(())
}

fn migrate_postcopy(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    ctl.conn()?.domain_migrate_start_post_copy(&dom, 0)?;
    Ok(())
}

fn qemu_agent_command(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let cmd = c.argv().join(" ");
    let timeout = c.int("timeout")?.unwrap_or(-2);
    let out = ctl
        .conn()?
        .domain_qemu_agent_command(&dom, &cmd, timeout, 0)?;
    ctl.print(&format!("{}\n", out));
    Ok(())
}

fn setvcpu(ctl: &mut Ctl, c: &Cmd) -> R {
    exclusive(c, "current", "live")?;
    exclusive(c, "current", "config")?;
    exclusive(c, "enable", "disable")?;
    let flags = impact(c)?;
    let enable = c.has("enable");
    let disable = c.has("disable");
    if !(enable ^ disable) {
        return Err(Fail::Msg(
            "exactly one of --enable, --disable needs to be specified".into(),
        ));
    }
    let dom = ctl.domain(c)?;
    let list = c.req("vcpulist")?.to_string();
    ctl.conn()?
        .domain_set_vcpu(&dom, &list, enable as i32, flags)?;
    Ok(())
}

fn guest_agent_timeout(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let t = c.int("timeout")?.unwrap_or(-2);
    ctl.conn()?.domain_agent_set_response_timeout(&dom, t, 0)?;
    Ok(())
}

fn lxc_enter_namespace(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    if c.argv().is_empty() {
        return Err(Fail::Msg("No command to run".into()));
    }
    ctl.conn()?.domain_lxc_open_namespace(&dom, 0)?;
    Err(Fail::lib(Error::no_support("virDomainLxcEnterNamespace")))
}

fn domxml_from_native(ctl: &mut Ctl, c: &Cmd) -> R {
    let format = c.req("format")?.to_string();
    let file = c.req("config")?.to_string();
    let config = read_file(&file)?;
    let xml = ctl.conn()?.domain_xml_from_native(&format, &config, 0)?;
    ctl.print(&xml);
    Ok(())
}

fn domxml_to_native(ctl: &mut Ctl, c: &Cmd) -> R {
    let format = c.req("format")?.to_string();
    requires(c, "xml", "xml")?;
    let xml = match (c.string("domain")?, c.string("xml")?) {
        (Some(_), Some(_)) => {
            return Err(Fail::Msg(
                "Options --domain and --xml are mutually exclusive".into(),
            ))
        }
        (Some(_), None) => {
            let dom = ctl.domain(c)?;
            ctl.conn()?.domain_get_xml_desc(&dom, 0)?
        }
        (None, Some(f)) => read_file(f)?,
        (None, None) => {
            return Err(Fail::Msg(
                "Either <xml> or <domain> option is required".into(),
            ))
        }
    };
    let native = ctl.conn()?.domain_xml_to_native(&format, &xml, 0)?;
    ctl.print(&native);
    Ok(())
}

/// A plain serialisation of an element (attributes quoted with ').
fn write_xml(el: &Element) -> String {
    fn esc(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\'', "&apos;")
    }
    let mut s = format!("<{}", el.name);
    for a in &el.attrs {
        s += &format!(" {}='{}'", a.name, esc(&a.value));
    }
    if el.children.is_empty() {
        return s + "/>";
    }
    s.push('>');
    for n in &el.children {
        match n {
            oxvirt_xml::dom::Node::Element(e) => s += &write_xml(e),
            oxvirt_xml::dom::Node::Text(t) => s += &esc(t),
        }
    }
    s + &format!("</{}>", el.name)
}

fn save_image_edit(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = save_state(c);
    exclusive(c, "running", "paused")?;
    let file = c.req("file")?.to_string();
    let conn = ctl.conn()?;
    let edited = super::edit::edit_define(
        ctl,
        || conn.domain_save_image_get_xml_desc(&file, domain_xml::SECURE),
        |xml| conn.domain_save_image_define_xml(&file, xml, flags),
    )?;
    ctl.extra(&if edited {
        format!("State file {} edited.\n", file)
    } else {
        format!("Saved image {} XML configuration not changed.\n", file)
    });
    Ok(())
}

fn managedsave_edit(ctl: &mut Ctl, c: &Cmd) -> R {
    let flags = save_state(c);
    exclusive(c, "running", "paused")?;
    let dom = ctl.domain(c)?;
    let conn = ctl.conn()?;
    let edited = super::edit::edit_define(
        ctl,
        || conn.domain_managed_save_get_xml_desc(&dom, domain_xml::SECURE),
        |xml| conn.domain_managed_save_define_xml(&dom, xml, flags),
    )?;
    ctl.extra(&if edited {
        format!(
            "Managed save image of Domain '{}' XML configuration edited.\n",
            dom.name
        )
    } else {
        format!(
            "Managed save image of domain '{}' XML configuration not changed.\n",
            dom.name
        )
    });
    Ok(())
}

fn domsetlaunchsecstate(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let hdr = c.string("secrethdr")?.map(str::to_string);
    let secret = c.string("secret")?.map(str::to_string);
    let (Some(hdr), Some(secret)) = (hdr, secret) else {
        return Err(Fail::Msg(
            "Both secret and the secret header are required".into(),
        ));
    };
    let read = |f: &str| super::read_file_max(f, 64 * 1024).map(TypedValue::String);
    let mut params = vec![
        TypedParam::new("sev-secret-header", read(&hdr)?),
        TypedParam::new("sev-secret", read(&secret)?),
    ];
    if let Some(a) = c.ull("set-address")? {
        params.push(TypedParam::new(
            "sev-secret-set-address",
            TypedValue::ULLong(a),
        ));
    }
    ctl.conn()?
        .domain_set_launch_security_state(&dom, &params, 0)
        .ctx(|| "Unable to set launch security state".into())?;
    Ok(())
}

/// virshFetchPassFdsList: "N,M,...".
fn pass_fds(c: &Cmd) -> Result<Vec<i32>, Fail> {
    let Some(list) = c.string_quiet("pass-fds") else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(|f| {
            crate::cmd::strtol(f)
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| Fail::Msg(format!("Unable to parse FD number '{}'", f)))
        })
        .collect()
}

fn dom_fd_associate(ctl: &mut Ctl, c: &Cmd) -> R {
    let mut flags = 0;
    if c.has("seclabel-writable") {
        flags |= 1;
    }
    if c.has("seclabel-restore") {
        flags |= 2;
    }
    let dom = ctl.domain(c)?;
    let name = c.req("name")?.to_string();
    let fds = pass_fds(c)?;
    ctl.conn()?.domain_fd_associate(&dom, &name, &fds, flags)?;
    Ok(())
}
