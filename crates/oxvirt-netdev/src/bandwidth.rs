//! Bandwidth limits with tc, as libvirt's virNetDevBandwidthSet and
//! virNetDevBandwidthClear run it: an HTB root class for what leaves
//! the device, an ingress policer for what enters it.

use oxvirt_core::Result;

/// One direction of a limit, in libvirt's units (average and peak in
/// KiB/s, burst in KiB).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rate {
    pub average: u64,
    pub peak: u64,
    pub burst: u64,
}

const TC: &str = "tc";

/// virNetDevBandwidthSet: `inbound`/`outbound` from the guest's point of
/// view; on a tap (`swapped`) the guest's inbound is what the host
/// transmits. `hierarchical` gives the network's classes (1:1 over 1:2).
pub fn set(
    dev: &str,
    inbound: Option<Rate>,
    outbound: Option<Rate>,
    hierarchical: bool,
    swapped: bool,
) -> Result<()> {
    if inbound.is_none() && outbound.is_none() {
        return Ok(());
    }
    let (rx, tx) = if swapped {
        (outbound, inbound)
    } else {
        (inbound, outbound)
    };
    clear(dev);
    let run = |args: &[&str]| {
        oxvirt_host::Command::new(TC, crate::FROM)
            .args(args.iter().copied())
            .run()
            .map(|_| ())
    };
    if let Some(tx) = tx.filter(|r| r.average > 0) {
        let average = format!("{}kbps", tx.average);
        let peak = (tx.peak > 0).then(|| format!("{}kbps", tx.peak));
        let burst = (tx.burst > 0).then(|| format!("{}kb", tx.burst));
        let quantum = (tx.average * 1024 / 8 / 1500).max(1).to_string();
        run(&[
            "qdisc",
            "add",
            "dev",
            dev,
            "root",
            "handle",
            "1:",
            "htb",
            "default",
            if hierarchical { "2" } else { "1" },
        ])?;
        if hierarchical {
            run(&[
                "class",
                "add",
                "dev",
                dev,
                "parent",
                "1:",
                "classid",
                "1:1",
                "htb",
                "rate",
                &average,
                "ceil",
                peak.as_deref().unwrap_or(&average),
                "quantum",
                &quantum,
            ])?;
        }
        let mut args = vec![
            "class",
            "add",
            "dev",
            dev,
            "parent",
            if hierarchical { "1:1" } else { "1:" },
            "classid",
            if hierarchical { "1:2" } else { "1:1" },
            "htb",
            "rate",
            &average,
        ];
        if let Some(p) = &peak {
            args.extend(["ceil", p.as_str()]);
        }
        if let Some(b) = &burst {
            args.extend(["burst", b.as_str()]);
        }
        args.extend(["quantum", quantum.as_str()]);
        run(&args)?;
        run(&[
            "qdisc",
            "add",
            "dev",
            dev,
            "parent",
            if hierarchical { "1:2" } else { "1:1" },
            "handle",
            "2:",
            "sfq",
            "perturb",
            "10",
        ])?;
        run(&[
            "filter", "add", "dev", dev, "parent", "1:0", "protocol", "all", "prio", "1", "handle",
            "1", "fw", "flowid", "1",
        ])?;
    }
    if let Some(rx) = rx {
        let average = format!("{}kbps", rx.average);
        let burst = if rx.burst > 0 {
            format!("{}kb", rx.burst)
        } else {
            format!("{}kb", rx.average.min(u64::from(u32::MAX) / 1024))
        };
        run(&["qdisc", "add", "dev", dev, "ingress"])?;
        run(&[
            "filter", "add", "dev", dev, "parent", "ffff:", "protocol", "all", "u32", "match",
            "u32", "0", "0", "police", "rate", &average, "burst", &burst, "mtu", "64kb", "drop",
            "flowid", ":1",
        ])?;
    }
    Ok(())
}

/// virNetDevBandwidthClear: both qdiscs go, failures ignored.
pub fn clear(dev: &str) {
    for what in ["root", "ingress"] {
        let _ = oxvirt_host::Command::new(TC, crate::FROM)
            .args(["qdisc", "del", "dev", dev, what])
            .output();
    }
}
