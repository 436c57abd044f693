//! Firewall rules of a virtual network, with nftables: the rules libvirt
//! 9.0 makes with iptables (bridge_driver_linux.c: DHCP/DNS/TFTP to and
//! from dnsmasq, forwarding out of and back into the bridge, masquerading,
//! traffic between guests, everything else rejected), each network in an
//! `inet` table of its own. Adding a network's rules is one atomic `nft`
//! transaction; removing them deletes its table and touches nothing else.
//!
//! Not carried over: the mangle CHECKSUM fill for DHCP replies (nftables
//! has no such target; only ancient dhclients need it).

use std::net::IpAddr;

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_xml::network::{ForwardIf, ForwardMode, Ip, Network};

use crate::FROM;

/// The nftables table of the network with this UUID.
pub fn table_name(def: &Network) -> String {
    let hex: String = def.uuid.0.iter().map(|b| format!("{:02x}", b)).collect();
    format!("oxvirt_{}", hex)
}

fn quote(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| !matches!(c, '"' | '\\' | '\n' | '\r'))
        .collect();
    format!("\"{}\"", clean)
}

fn network(ip: &Ip) -> String {
    let p = ip.prefix_len();
    let base = match ip.address {
        IpAddr::V4(a) => {
            let m: u32 = if p == 0 {
                0
            } else {
                u32::MAX << (32 - p.min(32))
            };
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m: u128 = if p == 0 {
                0
            } else {
                u128::MAX << (128 - p.min(128))
            };
            IpAddr::V6((u128::from(a) & m).into())
        }
    };
    format!("{}/{}", base, p)
}

/// Whether a network of this definition gets firewall rules at all.
pub fn wanted(def: &Network) -> bool {
    matches!(
        def.forward_mode(),
        None | Some(ForwardMode::Nat) | Some(ForwardMode::Route)
    )
}

struct Chains {
    input: Vec<String>,
    output: Vec<String>,
    /// FWX, FWI and FWO in libvirt's order.
    cross: Vec<String>,
    fwd_in: Vec<String>,
    fwd_out: Vec<String>,
    reject_in: Vec<String>,
    reject_out: Vec<String>,
    nat: Vec<String>,
}

fn ports(c: &mut Chains, l3: &str, br: &str, proto: &str, input: &[u16], output: &[u16]) {
    for p in input {
        c.input.push(format!(
            "meta nfproto {} iifname {} {} dport {} accept",
            l3, br, proto, p
        ));
    }
    for p in output {
        c.output.push(format!(
            "meta nfproto {} oifname {} {} dport {} accept",
            l3, br, proto, p
        ));
    }
}

fn general(c: &mut Chains, l3: &str, br: &str) {
    c.cross.push(format!(
        "meta nfproto {} iifname {} oifname {} accept",
        l3, br, br
    ));
    c.reject_in
        .push(format!("meta nfproto {} oifname {} reject", l3, br));
    c.reject_out
        .push(format!("meta nfproto {} iifname {} reject", l3, br));
}

/// The ruleset of `def` as an nft script that replaces its table whole.
pub fn script(def: &Network) -> Result<String> {
    let br = quote(def.bridge_name().unwrap_or(""));
    let mode = def.forward_mode();
    let fwd_dev = def.forward.as_ref().and_then(|f| match f.ifs.first() {
        Some(ForwardIf::Netdev(d)) => Some(quote(d)),
        _ => None,
    });
    let mut c = Chains {
        input: Vec::new(),
        output: Vec::new(),
        cross: Vec::new(),
        fwd_in: Vec::new(),
        fwd_out: Vec::new(),
        reject_in: Vec::new(),
        reject_out: Vec::new(),
        nat: Vec::new(),
    };
    // General IPv4 rules, for every network with rules.
    let tftp = def
        .ips
        .iter()
        .find(|i| {
            i.is_ipv4() && (!i.ranges.is_empty() || !i.hosts.is_empty() || i.tftp_root.is_some())
        })
        .is_some_and(|i| i.tftp_root.is_some());
    ports(&mut c, "ipv4", &br, "tcp", &[67, 53], &[68, 53]);
    ports(&mut c, "ipv4", &br, "udp", &[67, 53], &[68, 53]);
    if tftp {
        ports(&mut c, "ipv4", &br, "udp", &[69], &[69]);
    }
    general(&mut c, "ipv4", &br);
    // General IPv6 rules, with IPv6 addresses or ipv6='yes'.
    let has_v6 = def.ips.iter().any(|i| !i.is_ipv4());
    if has_v6 || def.ipv6 {
        general(&mut c, "ipv6", &br);
        if has_v6 {
            ports(&mut c, "ipv6", &br, "tcp", &[53], &[53]);
            ports(&mut c, "ipv6", &br, "udp", &[53, 547], &[53, 546]);
        }
    }
    let out_if = fwd_dev
        .as_ref()
        .map(|d| format!(" oifname {}", d))
        .unwrap_or_default();
    let in_if = fwd_dev
        .as_ref()
        .map(|d| format!(" iifname {}", d))
        .unwrap_or_default();
    let nat_ipv6 = def.forward.as_ref().and_then(|f| f.nat_ipv6) == Some(true);
    for ip in &def.ips {
        let fam = if ip.is_ipv4() { "ip" } else { "ip6" };
        let net = network(ip);
        let masq = mode == Some(ForwardMode::Nat) && (ip.is_ipv4() || nat_ipv6);
        let routed = mode == Some(ForwardMode::Route)
            || (mode == Some(ForwardMode::Nat) && !ip.is_ipv4() && !nat_ipv6);
        if !masq && !routed {
            continue;
        }
        c.fwd_out.push(format!(
            "{} saddr {} iifname {}{} accept",
            fam, net, br, out_if
        ));
        if masq {
            c.fwd_in.push(format!(
                "{} daddr {} oifname {}{} ct state related,established accept",
                fam, net, br, in_if
            ));
            let multicast = if ip.is_ipv4() {
                "224.0.0.0/24"
            } else {
                "ff02::/16"
            };
            c.nat.push(format!(
                "{} saddr {} {} daddr {}{} return",
                fam, net, fam, multicast, out_if
            ));
            if ip.is_ipv4() {
                c.nat.push(format!(
                    "{} saddr {} {} daddr 255.255.255.255/32{} return",
                    fam, net, fam, out_if
                ));
            }
            let f = def.forward.as_ref();
            let (ps, pe) = f
                .and_then(|f| f.nat_port)
                .filter(|(s, e)| *s != 0 || *e != 0)
                .unwrap_or((1024, 65535));
            if !(ps < pe && pe < 65536) {
                return Err(Error::new(
                    code::INTERNAL_ERROR,
                    FROM,
                    format!("Invalid port range '{}-{}'.", ps, pe),
                ));
            }
            let addr = f
                .and_then(|f| f.nat_addr)
                .filter(|(s, _)| s.is_ipv4() == ip.is_ipv4());
            for proto in ["tcp", "udp", ""] {
                let with_ports = !proto.is_empty();
                let target = match addr {
                    Some((s, e)) => {
                        let range = match e {
                            Some(e) => format!("{}-{}", s, e),
                            None => s.to_string(),
                        };
                        if with_ports {
                            format!("snat {} to {}:{}-{}", fam, range, ps, pe)
                        } else {
                            format!("snat {} to {}", fam, range)
                        }
                    }
                    None if with_ports => format!("masquerade to :{}-{}", ps, pe),
                    None => "masquerade".to_string(),
                };
                let l4 = if with_ports {
                    format!(" meta l4proto {}", proto)
                } else {
                    String::new()
                };
                c.nat.push(format!(
                    "{} saddr {} {} daddr != {}{}{} {}",
                    fam, net, fam, net, out_if, l4, target
                ));
            }
        } else {
            c.fwd_in.push(format!(
                "{} daddr {} oifname {}{} accept",
                fam, net, br, in_if
            ));
        }
    }
    let t = table_name(def);
    let mut s = format!("table inet {t}\ndelete table inet {t}\ntable inet {t} {{\n");
    s.push_str(&format!(
        "  comment {}\n",
        quote(&format!(
            "oxvirt network {} bridge {}",
            def.name,
            def.bridge_name().unwrap_or("")
        ))
    ));
    let chain = |s: &mut String, name: &str, hook: &str, prio: &str, rules: &[&Vec<String>]| {
        s.push_str(&format!(
            "  chain {} {{\n    type {} hook {} priority {}; policy accept;\n",
            name,
            if hook == "postrouting" {
                "nat"
            } else {
                "filter"
            },
            hook,
            prio
        ));
        for r in rules.iter().flat_map(|v| v.iter()) {
            s.push_str("    ");
            s.push_str(r);
            s.push('\n');
        }
        s.push_str("  }\n");
    };
    chain(&mut s, "input", "input", "filter", &[&c.input]);
    chain(&mut s, "output", "output", "filter", &[&c.output]);
    chain(
        &mut s,
        "forward",
        "forward",
        "filter",
        &[&c.cross, &c.fwd_in, &c.reject_in, &c.fwd_out, &c.reject_out],
    );
    chain(&mut s, "postrouting", "postrouting", "srcnat", &[&c.nat]);
    s.push_str("}\n");
    Ok(s)
}

fn nft(script: &str) -> Result<()> {
    oxvirt_host::Command::new("nft", FROM)
        .args(["-f", "-"])
        .input(script)
        .run()
        .map(|_| ())
}

/// networkAddFirewallRules: the network's table, made or replaced
/// atomically.
pub fn add(def: &Network) -> Result<()> {
    nft(&script(def)?)
}

/// networkRemoveFirewallRules: the network's table goes (if it is there).
pub fn remove(def: &Network) {
    let t = table_name(def);
    let _ = nft(&format!("table inet {t}\ndelete table inet {t}\n"));
}

/// Whether the network's table is in place (after a daemon restart).
pub fn present(def: &Network) -> bool {
    oxvirt_host::Command::new("nft", FROM)
        .args(["list", "table", "inet", &table_name(def)])
        .output()
        .is_ok_and(|o| o.status == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_nat_script() {
        let def = Network::parse(
            "<network><name>default</name><uuid>81ff0d90-c91e-6742-64da-4a736edb9a9b</uuid>\
             <forward mode='nat'/><bridge name='virbr0'/>\
             <ip address='192.168.122.1' netmask='255.255.255.0'><dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip>\
             <ip family='ipv6' address='2001:db8::1' prefix='64'/></network>",
        )
        .unwrap();
        println!("{}", script(&def).unwrap());
    }
}
