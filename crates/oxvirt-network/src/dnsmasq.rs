//! dnsmasq for a virtual network: its configuration (byte for byte what
//! libvirt 9.0's networkDnsmasqConfContents writes), the DHCP hosts and
//! additional hosts files, the daemon itself, and its lease file.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_xml::network::{range_size, Ip, Lease, Network, DNSMASQ_NS};

use crate::FROM;

/// What dnsmasq reads for one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    /// `NAME.conf`
    pub conf: String,
    /// `NAME.hostsfile` (None: no static DHCP host)
    pub hosts: Option<String>,
    /// `NAME.addnhosts`
    pub addnhosts: String,
}

/// virBufferEscapeString's escaping, as libvirt applies it to the network
/// name in file names it writes into the configuration.
fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// The base of the per-network files in `dir` (libvirt's dnsmasqStateDir).
pub fn file_base(dir: &str, name: &str) -> String {
    format!("{}/{}", dir, escape(name))
}

fn lease_time(l: &Option<Lease>) -> Option<String> {
    let l = l.as_ref()?;
    if l.expiry == 0 {
        Some("infinite".into())
    } else {
        Some(format!("{}{}", l.expiry, &l.unit[..1]))
    }
}

fn netmask_v4(prefix: u32) -> String {
    let m: u32 = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix.min(32))
    };
    std::net::Ipv4Addr::from(m).to_string()
}

/// virSocketAddrPTRDomain.
fn ptr_domain(addr: &IpAddr, prefix: u32) -> Option<String> {
    match addr {
        IpAddr::V4(a) => {
            if prefix == 0 || prefix >= 32 || !prefix.is_multiple_of(8) {
                return None;
            }
            let o = a.octets();
            let mut s = String::new();
            for i in (0..(prefix / 8) as usize).rev() {
                s.push_str(&format!("{}.", o[i]));
            }
            Some(s + "in-addr.arpa")
        }
        IpAddr::V6(a) => {
            if prefix == 0 || prefix >= 128 || !prefix.is_multiple_of(4) {
                return None;
            }
            let nibbles: Vec<u8> = a.octets().iter().flat_map(|b| [b >> 4, b & 0xf]).collect();
            let mut s = String::new();
            for i in (0..(prefix / 4) as usize).rev() {
                s.push_str(&format!("{:x}.", nibbles[i]));
            }
            Some(s + "ip6.arpa")
        }
    }
}

fn has_dhcp(ip: &Ip) -> bool {
    !ip.ranges.is_empty() || !ip.hosts.is_empty()
}

/// The lines of the DHCP hosts file for one `<ip>` (dnsmasqAddDhcpHost).
fn dhcp_host_lines(ip: &Ip, out: &mut Vec<String>) {
    let v6 = !ip.is_ipv4();
    for h in &ip.hosts {
        let Some(addr) = h.ip else { continue };
        let mut s = if v6 {
            let mut s = match (&h.name, &h.id) {
                (Some(n), Some(id)) => format!("id:{},{}", id, n),
                (Some(n), None) => n.clone(),
                (None, Some(id)) => format!("id:{}", id),
                (None, None) => String::new(),
            };
            s.push_str(&format!(",[{}]", addr));
            s
        } else {
            match (&h.mac, &h.name) {
                (Some(m), Some(n)) => format!("{},{},{}", m, addr, n),
                (None, Some(n)) => format!("{},{}", n, addr),
                (m, None) => format!("{},{}", m.as_deref().unwrap_or("(null)"), addr),
            }
        };
        if let Some(l) = lease_time(&h.lease) {
            s.push(',');
            s.push_str(&l);
        }
        out.push(s);
    }
}

/// The DHCP hosts file and the additional hosts file (which dnsmasq
/// re-reads on SIGHUP).
fn host_files(def: &Network) -> (Option<String>, String) {
    let v4 = def.ips.iter().find(|i| i.is_ipv4() && has_dhcp(i));
    let v6 = def.ips.iter().find(|i| !i.is_ipv4() && has_dhcp(i));
    let mut lines = Vec::new();
    for ip in [v4, v6].into_iter().flatten() {
        dhcp_host_lines(ip, &mut lines);
    }
    let hosts = (!lines.is_empty()).then(|| {
        let mut s = lines.join("\n");
        s.push('\n');
        s
    });
    let mut groups: Vec<(IpAddr, Vec<&str>)> = Vec::new();
    for (ip, names) in &def.dns.hosts {
        let i = match groups.iter().position(|(a, _)| a == ip) {
            Some(i) => i,
            None => {
                groups.push((*ip, Vec::new()));
                groups.len() - 1
            }
        };
        groups[i].1.extend(names.iter().map(String::as_str));
    }
    let mut addn = String::new();
    for (ip, names) in groups {
        addn.push_str(&ip.to_string());
        addn.push('\t');
        for n in names {
            addn.push_str(n);
            addn.push('\t');
        }
        addn.push('\n');
    }
    (hosts, addn)
}

fn conf_dhcp(c: &mut String, ip: &Ip, bridge: &str, nbleases: &mut u64) -> Result<()> {
    let prefix = ip.prefix_len();
    for r in &ip.ranges {
        if ip.is_ipv4() {
            c.push_str(&format!(
                "dhcp-range={},{},{}",
                r.start,
                r.end,
                netmask_v4(prefix)
            ));
        } else {
            c.push_str(&format!("dhcp-range={},{},{}", r.start, r.end, prefix));
        }
        if let Some(l) = lease_time(&r.lease) {
            c.push(',');
            c.push_str(&l);
        }
        c.push('\n');
        *nbleases += u64::from(
            range_size(r.start, r.end, Some((ip.address, prefix)))
                .map_err(|e| Error::from_xml(e, FROM))?,
        );
    }
    if ip.ranges.is_empty() && !ip.hosts.is_empty() {
        c.push_str(&format!("dhcp-range={},static", ip.address));
        if !ip.is_ipv4() {
            c.push_str(&format!(",{}", prefix));
        }
        c.push('\n');
    }
    if ip.is_ipv4() {
        if has_dhcp(ip) {
            c.push_str("dhcp-no-override\ndhcp-authoritative\n");
        }
        if let Some((file, server)) = &ip.bootp {
            match server {
                Some(s) => c.push_str(&format!("dhcp-boot={},,{}\n", file, s)),
                None => c.push_str(&format!("dhcp-boot={}\n", file)),
            }
        }
    }
    let _ = bridge;
    Ok(())
}

/// networkDnsmasqConfContents: the configuration, the hosts file and the
/// additional hosts file of `def`, whose files live in `dir`.
pub fn config(def: &Network, dir: &str, pidfile: Option<&str>) -> Result<Files> {
    let bridge = def.bridge_name().unwrap_or("");
    let dns = &def.dns;
    let want_dns = dns.enable != Some(false);
    let mut c = format!(
        "##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n\
         ##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:\n\
         ##    virsh net-edit {}\n\
         ## or other application using the libvirt API.\n\
         ##\n## dnsmasq conf file created by libvirt\n\
         strict-order\n",
        def.name
    );
    if !want_dns {
        c.push_str("port=0\n");
    }
    if want_dns && !dns.forwarders.is_empty() {
        let mut no_resolv = false;
        for (domain, addr) in &dns.forwarders {
            c.push_str("server=");
            if let Some(d) = domain {
                c.push_str(&format!("/{}/", d));
            }
            match addr {
                Some(a) => {
                    c.push_str(&format!("{}\n", a));
                    if domain.is_none() {
                        no_resolv = true;
                    }
                }
                None => c.push_str("#\n"),
            }
        }
        if no_resolv {
            c.push_str("no-resolv\n");
        }
    }
    if let Some((domain, local)) = &def.domain {
        if *local == Some(true) {
            c.push_str(&format!("local=/{}/\n", domain));
        }
        c.push_str(&format!("domain={}\nexpand-hosts\n", domain));
    }
    if want_dns {
        for ip in def.ips.iter().filter(|i| i.local_ptr == Some(true)) {
            let prefix = ip.prefix_len();
            let ptr = ptr_domain(&ip.address, prefix).ok_or_else(|| {
                Error::new(
                    code::CONFIG_UNSUPPORTED,
                    FROM,
                    format!(
                        "PTR domain for {} network with prefix {} cannot be automatically created",
                        if ip.is_ipv4() { "IPv4" } else { "IPv6" },
                        prefix
                    ),
                )
            })?;
            c.push_str(&format!("local=/{}/\n", ptr));
        }
    }
    if want_dns && dns.forward_plain_names == Some(false) {
        c.push_str("domain-needed\nlocal=//\n");
    }
    if let Some(p) = pidfile {
        c.push_str(&format!("pid-file={}\n", p));
    }
    c.push_str("except-interface=lo\n");
    c.push_str(&format!("bind-dynamic\ninterface={}\n", bridge));
    if def.forward.is_none() {
        c.push_str("dhcp-option=3\nno-resolv\nra-param=*,0,0\n");
    }
    if want_dns {
        for (n, v) in &dns.txts {
            c.push_str(&format!("txt-record={},{}\n", n, v));
        }
        for s in &dns.srvs {
            c.push_str(&format!("srv-host=_{}._{}", s.service, s.protocol));
            if let Some(d) = &s.domain {
                c.push_str(&format!(".{}", d));
            }
            if let Some(t) = s.target.as_deref().filter(|t| *t != ".") {
                c.push_str(&format!(",{}", t));
                if s.port != 0 || s.priority != 0 || s.weight != 0 {
                    c.push_str(&format!(",{}", if s.port != 0 { s.port } else { 1 }));
                }
                if s.priority != 0 || s.weight != 0 {
                    c.push_str(&format!(",{}", s.priority));
                }
                if s.weight != 0 {
                    c.push_str(&format!(",{}", s.weight));
                }
            }
            c.push('\n');
        }
    }
    let mut v4: Option<&Ip> = None;
    let mut v6: Option<&Ip> = None;
    let mut v6_slaac = false;
    let mut tftp = false;
    for ip in &def.ips {
        if ip.is_ipv4() {
            if has_dhcp(ip) {
                if v4.is_some() {
                    return Err(Error::new(
                        code::CONFIG_UNSUPPORTED,
                        FROM,
                        "For IPv4, multiple DHCP definitions cannot be specified.",
                    ));
                }
                v4 = Some(ip);
            }
            if let Some(root) = &ip.tftp_root {
                if !tftp {
                    c.push_str("enable-tftp\n");
                    tftp = true;
                }
                c.push_str(&format!("tftp-root={}\n", root));
            }
        } else if has_dhcp(ip) {
            if v6.is_some() {
                return Err(Error::new(
                    code::CONFIG_UNSUPPORTED,
                    FROM,
                    "For IPv6, multiple DHCP definitions cannot be specified.",
                ));
            }
            v6 = Some(ip);
        } else {
            v6_slaac = true;
        }
    }
    let _ = v6_slaac;
    let mut nbleases = 0u64;
    if let Some(ip) = v4 {
        conf_dhcp(&mut c, ip, bridge, &mut nbleases)?;
    }
    if let Some(ip) = v6 {
        conf_dhcp(&mut c, ip, bridge, &mut nbleases)?;
    }
    if nbleases > 0 {
        c.push_str(&format!("dhcp-lease-max={}\n", nbleases));
    }
    let base = file_base(dir, &def.name);
    if v4.is_some() || v6.is_some() {
        c.push_str(&format!("dhcp-hostsfile={}.hostsfile\n", base));
    }
    if want_dns {
        c.push_str(&format!("addn-hosts={}.addnhosts\n", base));
    }
    if let Some(m) = def.mtu.filter(|m| *m > 0) {
        c.push_str(&format!("dhcp-option=option:mtu,{}\n", m));
    }
    if v6.is_some() {
        c.push_str("enable-ra\n");
    } else {
        for ip in def.ips.iter().filter(|i| !i.is_ipv4() && !has_dhcp(i)) {
            c.push_str(&format!("dhcp-range={},ra-only\n", ip.address));
        }
    }
    let prefixes: Vec<&str> = def
        .namespaces
        .iter()
        .filter(|a| a.value == DNSMASQ_NS)
        .filter_map(|a| a.name.strip_prefix("xmlns:"))
        .collect();
    for el in &def.ns_elements {
        let Some((p, _)) = el.name.split_once(':') else {
            continue;
        };
        if !prefixes.contains(&p) {
            continue;
        }
        for o in el.elements() {
            if o.name.split_once(':').map(|(_, l)| l) == Some("option") {
                if let Some(v) = o.attr("value") {
                    c.push_str(v);
                    c.push('\n');
                }
            }
        }
    }
    let (hosts, addnhosts) = host_files(def);
    Ok(Files {
        conf: c,
        hosts,
        addnhosts,
    })
}

/// networkStartDhcpDaemon's test: does this network need dnsmasq?
pub fn needed(def: &Network) -> bool {
    if def.ips.is_empty() {
        return false;
    }
    let dhcp = def.ips.iter().any(|i| has_dhcp(i) || i.tftp_root.is_some());
    dhcp || def.dns.enable != Some(false)
}

/// The dnsmasq files of one network under the driver's directory.
#[derive(Debug, Clone)]
pub struct Paths {
    pub conf: PathBuf,
    pub hosts: PathBuf,
    pub addnhosts: PathBuf,
    pub leases: PathBuf,
    pub pid: PathBuf,
}

impl Paths {
    pub fn new(dir: &Path, name: &str) -> Paths {
        let base = file_base(&dir.to_string_lossy(), name);
        Paths {
            conf: PathBuf::from(format!("{}.conf", base)),
            hosts: PathBuf::from(format!("{}.hostsfile", base)),
            addnhosts: PathBuf::from(format!("{}.addnhosts", base)),
            leases: PathBuf::from(format!("{}.leases", base)),
            pid: PathBuf::from(format!("{}.pid", base)),
        }
    }

    /// Every file, for removal when the network goes.
    pub fn all(&self) -> [&Path; 5] {
        [
            &self.conf,
            &self.hosts,
            &self.addnhosts,
            &self.leases,
            &self.pid,
        ]
    }
}

/// The pid in `pidfile` if that process is alive and is the dnsmasq
/// serving `conf` (a recycled pid is not taken for it).
pub fn running_pid(p: &Paths) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(&p.pid).ok()?.trim().parse().ok()?;
    if pid <= 1 {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid)).ok()?;
    let want = format!("--conf-file={}", p.conf.display());
    let ok = cmdline.split(|b| *b == 0).any(|a| a == want.as_bytes());
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid)).ok()?;
    let zombie = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        .unwrap_or(true);
    (ok && !zombie).then_some(pid)
}

/// Starts dnsmasq for a network whose files are written; it daemonizes,
/// and its leader exits once the pid file is written
/// (networkStartDhcpDaemon).
pub fn spawn(binary: &str, p: &Paths, bridge: &str) -> Result<i32> {
    let conf = format!("--conf-file={}", p.conf.display());
    let leases = format!("--dhcp-leasefile={}", p.leases.display());
    let out = std::process::Command::new(binary)
        .arg(&conf)
        .arg(&leases)
        .env("VIR_BRIDGE_NAME", bridge)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| Error::system(FROM, format!("Cannot find '{}' in path", binary), &e))?;
    if !out.status.success() {
        return Err(Error::new(
            code::INTERNAL_ERROR,
            FROM,
            format!(
                "Child process ({} {} {}) unexpected exit status {}: {}",
                binary,
                conf,
                leases,
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).trim_end()
            ),
        ));
    }
    running_pid(p).ok_or_else(|| {
        Error::internal(FROM, format!("Failed to read pid file {}", p.pid.display()))
    })
}

fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{}/stat", pid)) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// SIGTERM, then SIGKILL if it is still there after a second
/// (networkShutdownNetworkVirtual). Returns once the process is gone, so
/// its sockets are free for a new dnsmasq. (dnsmasq removes its pid file
/// as it exits, before its sockets close: the pid is what is watched.)
pub fn kill(p: &Paths) {
    let Some(pid) = running_pid(p) else {
        return;
    };
    for (sig, tries) in [(libc::SIGTERM, 500), (libc::SIGKILL, 500)] {
        // SAFETY: kill(2) on a pid verified to be our dnsmasq.
        unsafe { libc::kill(pid, sig) };
        for _ in 0..tries {
            if !alive(pid) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

/// Makes a running dnsmasq re-read its hosts files (SIGHUP).
pub fn reload(p: &Paths) -> bool {
    match running_pid(p) {
        // SAFETY: kill(2) on a pid verified to be our dnsmasq.
        Some(pid) => unsafe { libc::kill(pid, libc::SIGHUP) == 0 },
        None => false,
    }
}

/// One DHCP lease from dnsmasq's lease file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpLease {
    /// Seconds since the epoch; 0 for an infinite lease.
    pub expiry: i64,
    pub mac: Option<String>,
    pub iaid: Option<String>,
    pub ip: IpAddr,
    pub hostname: Option<String>,
    pub clientid: Option<String>,
}

/// Reads dnsmasq's lease file: IPv4 lines `EXPIRY MAC IP HOST CLIENTID`,
/// then after a `duid SERVER-DUID` line, IPv6 lines
/// `EXPIRY IAID IP HOST CLIENT-DUID`. `*` is an unset field; malformed
/// lines are skipped.
pub fn parse_leases(text: &str) -> Vec<DhcpLease> {
    let opt = |s: &str| (s != "*").then(|| s.to_string());
    let mut v6 = false;
    let mut out = Vec::new();
    for line in text.lines().take(100_000) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first() == Some(&"duid") {
            v6 = true;
            continue;
        }
        if f.len() < 5 {
            continue;
        }
        let (Ok(expiry), Ok(ip)) = (f[0].parse::<i64>(), f[2].parse::<IpAddr>()) else {
            continue;
        };
        if v6 || ip.is_ipv6() {
            out.push(DhcpLease {
                expiry,
                mac: None,
                iaid: opt(f[1]),
                ip,
                hostname: opt(f[3]),
                clientid: opt(f[4]),
            });
        } else {
            out.push(DhcpLease {
                expiry,
                mac: opt(f[1]),
                iaid: None,
                ip,
                hostname: opt(f[3]),
                clientid: opt(f[4]),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_of_both_families() {
        let t = "1700000600 52:54:00:aa:bb:cc 192.168.122.50 guest 01:52:54:00:aa:bb:cc\n\
                 0 52:54:00:aa:bb:cd 192.168.122.51 * *\n\
                 garbage\n\
                 duid 00:01:00:01:2c:ab\n\
                 1700000700 1234 2001:db8::10 six 00:01:00:01:aa\n";
        let l = parse_leases(t);
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].mac.as_deref(), Some("52:54:00:aa:bb:cc"));
        assert_eq!(l[0].hostname.as_deref(), Some("guest"));
        assert_eq!(l[1].hostname, None);
        assert_eq!(l[1].expiry, 0);
        assert_eq!(l[2].iaid.as_deref(), Some("1234"));
        assert_eq!(l[2].mac, None);
    }

    #[test]
    fn ptr_domains() {
        assert_eq!(
            ptr_domain(&"192.168.122.1".parse().unwrap(), 24).as_deref(),
            Some("122.168.192.in-addr.arpa")
        );
        assert_eq!(ptr_domain(&"192.168.122.1".parse().unwrap(), 20), None);
    }
}
