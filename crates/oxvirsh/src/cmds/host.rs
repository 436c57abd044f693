//! Host and hypervisor: version, uri, hostname, nodeinfo, capabilities.

use crate::cmd::Cmd;
use crate::ctl::{Ctl, R};

use super::Handler;

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "uri" => uri,
        "hostname" => hostname,
        "version" => version,
        "nodeinfo" => nodeinfo,
        "capabilities" => capabilities,
        "sysinfo" => sysinfo,
        "maxvcpus" => maxvcpus,
        _ => return None,
    })
}

fn uri(ctl: &mut Ctl, _c: &Cmd) -> R {
    let u = ctl.conn()?.uri()?;
    ctl.print(&format!("{}\n", u));
    Ok(())
}

fn hostname(ctl: &mut Ctl, _c: &Cmd) -> R {
    let h = ctl.conn()?.hostname()?;
    ctl.print(&format!("{}\n", h));
    Ok(())
}

fn ver(v: u64) -> String {
    format!("{}.{}.{}", v / 1_000_000, (v / 1000) % 1000, v % 1000)
}

fn version(ctl: &mut Ctl, c: &Cmd) -> R {
    let conn = ctl.conn()?;
    let hv = conn.get_type()?;
    let lib = oxvirt_core::LIB_VERSION;
    let mut s = format!("Compiled against library: libvirt {}\n", ver(lib));
    s += &format!("Using library: libvirt {}\n", ver(lib));
    s += &format!("Using API: {} {}\n", hv, ver(lib));
    match conn.get_version() {
        Ok(v) => s += &format!("Running hypervisor: {} {}\n", hv, ver(v)),
        Err(e) => {
            ctl.print(&s);
            return Err(crate::ctl::Fail::msg_lib(
                "failed to get the hypervisor version",
                e,
            ));
        }
    }
    if c.has("daemon") {
        match conn.get_lib_version() {
            Ok(v) => s += &format!("Running against daemon: {}\n", ver(v)),
            Err(e) => {
                ctl.print(&s);
                return Err(crate::ctl::Fail::msg_lib(
                    "failed to get the daemon version",
                    e,
                ));
            }
        }
    }
    ctl.print(&s);
    Ok(())
}

fn nodeinfo(ctl: &mut Ctl, _c: &Cmd) -> R {
    let i = ctl
        .conn()?
        .node_info()
        .map_err(|e| crate::ctl::Fail::msg_lib("failed to get node information", e))?;
    let l = |k: &str, v: String| format!("{:<20} {}\n", k, v);
    let mut s = l("CPU model:", i.model.clone());
    s += &l("CPU(s):", i.cpus.to_string());
    s += &l("CPU frequency:", format!("{} MHz", i.mhz));
    s += &l("CPU socket(s):", i.sockets.to_string());
    s += &l("Core(s) per socket:", i.cores.to_string());
    s += &l("Thread(s) per core:", i.threads.to_string());
    s += &l("NUMA cell(s):", i.nodes.to_string());
    s += &l("Memory size:", format!("{} KiB", i.memory));
    ctl.print(&s);
    Ok(())
}

fn capabilities(ctl: &mut Ctl, c: &Cmd) -> R {
    let x = ctl
        .conn()?
        .capabilities()
        .map_err(|e| crate::ctl::Fail::msg_lib("failed to get capabilities", e))?;
    super::domain::dump_xml(ctl, c, &x)?;
    if c.string_quiet("xpath").is_none() {
        ctl.print("\n");
    }
    Ok(())
}

fn sysinfo(ctl: &mut Ctl, _c: &Cmd) -> R {
    let x = ctl
        .conn()?
        .sysinfo(0)
        .map_err(|e| crate::ctl::Fail::msg_lib("failed to get sysinfo", e))?;
    ctl.print(&x);
    Ok(())
}

fn maxvcpus(ctl: &mut Ctl, c: &Cmd) -> R {
    let kind = c.string("type")?.map(str::to_string);
    let conn = ctl.conn()?;
    let n = conn.max_vcpus(kind.as_deref())?;
    ctl.print(&format!("{}\n", n));
    Ok(())
}
