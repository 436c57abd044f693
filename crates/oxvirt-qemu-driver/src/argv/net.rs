//! Network interfaces: the host side (`-netdev`) comes from nic.rs (the
//! taps the daemon makes); this module gives the guest side libvirt's
//! layout (qemuBuildNicDevProps): the device model, virtio tuning, id
//! `netN`, MAC, boot index, bus address and option ROM.

use oxvirt_core::Result;
use oxvirt_xml::dom::Element;

use super::{Args, Ctx, Props};

fn virtio(model: &str) -> bool {
    matches!(
        model,
        "virtio" | "virtio-transitional" | "virtio-non-transitional"
    )
}

/// The NIC `-device` (qemuBuildNicDevProps).
fn device(cx: &Ctx, n: &Element, alias: &str, boot: Option<u64>) -> Result<Props> {
    let model = n
        .child("model")
        .and_then(|m| m.attr("type"))
        .unwrap_or("rtl8139");
    let mut p = Props::new();
    if virtio(model) {
        p.s("driver", &cx.virtio_model("virtio-net", Some(model), n));
        cx.virtio_options(&mut p, n);
        let drv = n.child("driver");
        let d = |k: &str| drv.and_then(|x| x.attr(k));
        let sub = |el: &str, k: &str| drv.and_then(|x| x.child(el)).and_then(|x| x.attr(k));
        let tx = match d("txmode") {
            Some("iothread") => Some("bh"),
            Some("timer") => Some("timer"),
            _ => None,
        };
        p.os("tx", tx);
        p.t("ioeventfd", d("ioeventfd"))
            .t("event_idx", d("event_idx"));
        p.t("csum", sub("host", "csum"))
            .t("gso", sub("host", "gso"))
            .t("host_tso4", sub("host", "tso4"))
            .t("host_tso6", sub("host", "tso6"))
            .t("host_ecn", sub("host", "ecn"))
            .t("host_ufo", sub("host", "ufo"))
            .t("mrg_rxbuf", sub("host", "mrg_rxbuf"))
            .t("guest_csum", sub("guest", "csum"))
            .t("guest_tso4", sub("guest", "tso4"))
            .t("guest_tso6", sub("guest", "tso6"))
            .t("guest_ecn", sub("guest", "ecn"))
            .t("guest_ufo", sub("guest", "ufo"));
        let queues = d("queues").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        if queues > 1 {
            p.b("mq", true);
            let ccw = n.child("address").and_then(|a| a.attr("type")) == Some("ccw");
            if !ccw {
                p.u("vectors", 2 * queues + 2);
            }
        }
        let num = |k: &str| d(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        p.p("rx_queue_size", num("rx_queue_size"))
            .p("tx_queue_size", num("tx_queue_size"));
        p.t("rss", d("rss")).t("hash", d("rss_hash_report"));
        p.p(
            "host_mtu",
            n.child("mtu")
                .and_then(|m| m.attr("size"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        );
        if n.child("teaming").and_then(|t| t.attr("type")) == Some("persistent") {
            p.b("failover", true);
        }
    } else {
        p.s("driver", model);
    }
    p.s("netdev", &format!("host{}", alias)).s("id", alias);
    if let Some(mac) = n.child("mac").and_then(|m| m.attr("address")) {
        p.s("mac", mac);
    }
    if let Some(b) = boot {
        p.u("bootindex", b);
    }
    cx.address(&mut p, n)?;
    cx.rom(&mut p, n)?;
    Ok(p)
}

pub fn nets(cx: &Ctx, a: &mut Args) -> Result<()> {
    let boot_first = cx
        .def
        .os
        .boot
        .iter()
        .position(|b| {
            use oxvirt_xml::props::XmlEnum;
            b.to_xml() == "network"
        })
        .map(|p| p as u64 + 1);
    let per_device = cx
        .devices("disk")
        .iter()
        .chain(cx.devices("interface").iter())
        .any(|d| d.child("boot").is_some());
    for (i, n) in cx.devices("interface").iter().enumerate() {
        let alias = cx.aliases.get("interface", i);
        let kind = n.attr("type").unwrap_or("user");
        if kind == "hostdev" {
            continue;
        }
        let fds = cx.start.nics.get(i).and_then(|f| f.as_ref());
        let mut netdev = crate::nic::netdev(kind, i, fds)?;
        let libvirt_id = format!("id=host{}", alias);
        let ours = format!("id=hostnet{}", i);
        if libvirt_id != ours {
            netdev = netdev.replace(&ours, &libvirt_id);
        }
        a.push("-netdev", netdev);
        let boot = match n.child("boot").and_then(|b| b.attr("order")) {
            Some(o) => o.parse::<u64>().ok(),
            None if !per_device && i == 0 => boot_first,
            None => None,
        };
        let p = device(cx, n, &alias, boot)?;
        a.device(&p);
    }
    Ok(())
}
