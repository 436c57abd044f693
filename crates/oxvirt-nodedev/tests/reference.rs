//! The node devices of this host as the driver describes them, compared
//! with the reference libvirtd's `nodedev-list` and `nodedev-dumpxml` on
//! the same machine. Known differences (explained in ARCHITECTURE.md):
//! without a udevd, libvirt cannot list USB devices (it needs udev's
//! ID_VENDOR_ID), the driver reads their ids from sysfs instead.

use std::collections::BTreeMap;
use std::process::Command;

use oxvirt_core::NodeDeviceDriver;

/// One virsh call against the reference: its stdout, or why it failed.
fn virsh(args: &[&str]) -> Result<String, String> {
    let o = Command::new("/usr/bin/virsh")
        .arg("-c")
        .arg("qemu:///system")
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| format!("virsh: {}", e))?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(format!(
            "virsh {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// Makes sure the shared reference libvirtd answers: a socket file alone
/// proves nothing (a daemon that died leaves it behind), so ask it, and
/// start it with the shared script when it does not answer.
fn reference_up() -> bool {
    if virsh(&["version"]).is_ok() {
        return true;
    }
    let shared = std::env::var("OXVIRT_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string());
    let script = std::path::PathBuf::from(shared).join("tools/reference-libvirtd.sh");
    if !script.exists() {
        return false;
    }
    let _ = Command::new(&script)
        .stdout(std::process::Stdio::null())
        .status();
    (0..50).any(|_| {
        let up = virsh(&["version"]).is_ok();
        if !up {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        up
    })
}

/// Every node device of the reference with its XML. A device can vanish
/// between the list and its dump (other tests make interfaces): that is
/// an error the caller retries.
fn reference() -> Result<BTreeMap<String, String>, String> {
    let names = virsh(&["nodedev-list"])?;
    let mut out = BTreeMap::new();
    for n in names.lines().filter(|l| !l.is_empty()) {
        let x = virsh(&["nodedev-dumpxml", n])?;
        out.insert(n.to_string(), x.trim_end_matches('\n').to_string() + "\n");
    }
    Ok(out)
}

fn ours() -> BTreeMap<String, String> {
    let d = oxvirt_nodedev::NodeDevDriver::with_sources(Default::default());
    d.list_all_node_devices(0)
        .expect("list")
        .into_iter()
        .map(|r| {
            let x = d.node_device_get_xml_desc(&r, 0).expect("xml");
            (r.name, x)
        })
        .collect()
}

#[test]
fn devices_match_reference() {
    if !reference_up() {
        if std::env::var_os("OXVIRT_ALLOW_SKIP_REFERENCE").is_some() {
            eprintln!("skipped: no reference libvirtd");
            return;
        }
        panic!("the reference libvirtd is needed (or set OXVIRT_ALLOW_SKIP_REFERENCE=1)");
    }
    let udevd = std::path::Path::new("/run/udev/data").exists();
    // Devices come and go (other tests make interfaces): retry a moment.
    let mut last = String::new();
    for _ in 0..5 {
        let want = match reference() {
            Ok(w) => w,
            Err(e) => {
                last = e;
                std::thread::sleep(std::time::Duration::from_millis(500));
                continue;
            }
        };
        let mut got = ours();
        if !udevd {
            got.retain(|n, _| !n.starts_with("usb_"));
        }
        if want == got {
            eprintln!("{} node devices identical", want.len());
            return;
        }
        last = String::new();
        for (n, x) in &want {
            match got.get(n) {
                None => last += &format!("missing: {}\n", n),
                Some(y) if y != x => {
                    last += &format!("differs: {}\n--- reference\n{}--- ours\n{}", n, x, y)
                }
                _ => {}
            }
        }
        for n in got.keys().filter(|n| !want.contains_key(*n)) {
            last += &format!("extra: {}\n", n);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("{}", last);
}
