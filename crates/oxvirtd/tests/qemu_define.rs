//! `qemu:///system` through oxvirtd with the real virsh: `define` then
//! `dumpxml --inactive` of libvirt's own QEMU test inputs gives what the
//! reference libvirtd 9.0 gave on this host (recorded in the QEMU
//! crate's tests/reference/), refusals give libvirt's message, and the
//! capabilities list the machines in libvirtd's order (default first)
//! with a guest for every architecture an installed binary serves;
//! `domxml-to-native qemu-argv` prints the reference's command lines,
//! and a domain with most device families starts on that layout.
//! The whole x86_64-latest set runs in process in the QEMU crate
//! (tests/qemuxml2xml.rs); this is the same path over the wire.

mod common;

use common::qemu::{cli, QemuDaemon as Daemon, QEMU};
use common::VIRSH;
use std::path::{Path, PathBuf};

fn shared() -> Option<PathBuf> {
    let p = match std::env::var_os("OXVIRT_SHARED") {
        Some(s) => PathBuf::from(s),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    p.join("conformance/xml/qemuxml2argvdata")
        .is_dir()
        .then_some(p)
}

/// The corpus, when it and QEMU and virsh are all there.
fn prerequisites() -> Option<PathBuf> {
    let Some(shared) = shared() else {
        println!("skipping: ../shared/conformance is not there");
        return None;
    };
    for p in [QEMU, VIRSH] {
        if !Path::new(p).exists() {
            println!("skipping: {} is not installed", p);
            return None;
        }
    }
    Some(shared)
}

fn reference(name: &str, ext: &str) -> Option<String> {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../oxvirt-qemu-driver/tests/reference/x86_64-latest")
            .join(format!("{}.{}", name, ext)),
    )
    .ok()
}

use oxvirt_xml::diff::element_span as element_line;

/// Accepted documents: defined and dumped as the reference did.
const ACCEPTED: &[&str] = &[
    "x86_64-pc-headless",
    "x86_64-q35-headless",
    "x86_64-pc-graphics",
    "x86_64-q35-graphics",
    "q35-pcie",
    "q35-multifunction",
    "controller-virtio-scsi",
    "disk-scsi",
    "console-compat",
    "controller-usb-order",
    "disk-usb-device",
    "boot-network",
];

/// Refused documents: libvirt's message (virsh prints it after
/// "Failed to define domain from FILE").
const REFUSED: &[&str] = &[
    "tseg-i440fx",
    "missing-machine",
    "serial-unix-missing-source",
    "hvf-x86_64-q35-headless",
    "disk-address-conflict",
    "virtio-iommu-wrong-machine",
];

#[test]
fn virsh_define_matches_the_reference_libvirtd() {
    let Some(shared) = prerequisites() else {
        return;
    };
    let d = Daemon::new("define");
    let data = shared.join("conformance/xml/qemuxml2argvdata");
    let mut failures = Vec::new();
    for name in ACCEPTED {
        let want = reference(name, "xml").expect("recorded");
        let input = data.join(format!("{}.xml", name));
        let (out, err, good) = cli(VIRSH, &d, &["define", &input.to_string_lossy()]);
        if !good {
            failures.push(format!("{}: define failed: {} {}", name, out, err));
            continue;
        }
        let dom = element_line(&want, "name")
            .map(|l| l[6..l.len() - 7].to_string())
            .unwrap_or_default();
        let (got, err, good) = cli(VIRSH, &d, &["dumpxml", "--inactive", &dom]);
        let _ = cli(VIRSH, &d, &["undefine", &dom]);
        if !good {
            failures.push(format!("{}: dumpxml failed: {}", name, err));
            continue;
        }
        let mut got = got.trim_end().to_string();
        let want = want.trim_end();
        for el in ["uuid", "genid"] {
            if let (Some(g), Some(w)) = (element_line(&got, el), element_line(want, el)) {
                got = got.replacen(&g.to_string(), w, 1);
            }
        }
        if got != want {
            failures.push(format!(
                "{}:\n{}",
                name,
                oxvirt_xml::diff::line_diff(want, &got)
            ));
        }
    }
    for name in REFUSED {
        let want = reference(name, "err").expect("recorded");
        let message = want.trim_end().splitn(3, '\t').nth(2).unwrap_or("");
        let input = data.join(format!("{}.xml", name));
        let (_, err, good) = cli(VIRSH, &d, &["define", &input.to_string_lossy()]);
        let expected = format!(
            "error: Failed to define domain from {}\nerror: {}",
            input.display(),
            message
        );
        if good || err.trim_end() != expected {
            failures.push(format!("{}: want {:?} got {:?}", name, expected, err));
        }
    }
    println!(
        "virsh define through oxvirtd: {} accepted and {} refused documents checked, {} differ",
        ACCEPTED.len(),
        REFUSED.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `words` of a command line as a POSIX shell splits them (virsh prints
/// virCommandToString's quoting).
fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    cur.push(q);
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ' ' | '\n' | '\t' => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            other => {
                in_word = true;
                cur.push(other);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Command lines: `virsh domxml-to-native qemu-argv` through oxvirtd
/// prints, for each document, the command line the reference libvirtd
/// printed (its environment aside, and with the driver's directories
/// where libvirt has /var/lib/libvirt/qemu).
const NATIVE: &[&str] = &[
    "x86_64-pc-headless",
    "x86_64-q35-headless",
    "x86_64-pc-graphics",
    "x86_64-q35-graphics",
    "q35-pcie",
    "controller-virtio-scsi",
    "disk-scsi",
    "boot-complex",
    "graphics-spice-auto-socket",
    "numatune-hmat",
    "hugepages-memaccess3",
    "memory-hotplug-nvdimm-label",
    "virtio-9p-createmode",
    "audio-pulseaudio-full",
    "hyperv",
];

#[test]
fn virsh_domxml_to_native_matches_the_reference_libvirtd() {
    let Some(shared) = prerequisites() else {
        return;
    };
    let d = Daemon::new("native");
    let root = d.qemu_root().display().to_string();
    let data = shared.join("conformance/xml/qemuxml2argvdata");
    let mut failures = Vec::new();
    let mut checked = 0;
    for name in NATIVE {
        let Some(want) = reference(name, "args") else {
            continue;
        };
        checked += 1;
        let input = data.join(format!("{}.xml", name));
        let (out, err, good) = cli(
            VIRSH,
            &d,
            &["domxml-to-native", "qemu-argv", &input.to_string_lossy()],
        );
        if !good {
            failures.push(format!("{}: domxml-to-native failed: {}", name, err));
            continue;
        }
        let words = shell_words(&out);
        let argv: Vec<String> = words
            .into_iter()
            .skip_while(|w| {
                w.split_once('=').is_some_and(|(k, _)| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
            })
            .map(|w| w.replace(&root, "/var/lib/libvirt/qemu"))
            .collect();
        let want: Vec<String> = want.lines().map(str::to_string).collect();
        // Host networking is the network driver's: tap descriptors differ.
        let differ: Vec<String> = want
            .iter()
            .zip(argv.iter())
            .filter(|(w, g)| w != g && !w.contains("\"type\":\"tap\""))
            .map(|(w, g)| format!("  - {}\n  + {}", w, g))
            .collect();
        if !differ.is_empty() || want.len() != argv.len() {
            failures.push(format!("{}:\n{}", name, differ.join("\n")));
        }
    }
    println!(
        "virsh domxml-to-native through oxvirtd: {} command lines checked, {} differ",
        checked,
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A domain with most device families (virtio disk on qcow2, empty SATA
/// CD-ROM, virtio-scsi, virtio NIC, serial, guest-agent and SPICE
/// channels, USB tablet and redirection, SPICE and VNC with autoport,
/// ICH9 sound, QXL, RNG, watchdog, balloon, IOMMU) starts: QEMU takes
/// the command line built in libvirt's layout, and the two displays get
/// distinct ports that the live XML shows.
#[test]
fn a_rich_domain_starts_with_libvirts_command_line() {
    for p in [QEMU, VIRSH, "/usr/bin/qemu-img"] {
        if !Path::new(p).exists() {
            println!("skipping: {} is not installed", p);
            return;
        }
    }
    let d = Daemon::new("rich");
    let img = d.dir.join("disk.qcow2");
    let ok = std::process::Command::new("/usr/bin/qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&img)
        .arg("16M")
        .status()
        .expect("qemu-img runs")
        .success();
    assert!(ok);
    let xml = format!(
        "<domain type='qemu'>
  <name>rich</name>
  <memory unit='MiB'>128</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <features><acpi/><apic/><pvspinlock state='on'/><hyperv mode='custom'><relaxed state='on'/></hyperv></features>
  <clock offset='utc'><timer name='rtc' tickpolicy='catchup'/><timer name='hpet' present='no'/></clock>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2' discard='unmap'/><source file='{}'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>
    <controller type='scsi' model='virtio-scsi'/>
    <interface type='user'><model type='virtio'/></interface>
    <serial type='pty'/>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>
    <input type='tablet' bus='usb'/>
    <graphics type='spice' autoport='yes'><image compression='off'/></graphics>
    <graphics type='vnc' autoport='yes'/>
    <sound model='ich9'/>
    <video><model type='qxl'/></video>
    <redirdev bus='usb' type='spicevmc'/>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <watchdog model='i6300esb'/>
    <memballoon model='virtio'/>
    <iommu model='intel'/>
  </devices>
</domain>",
        img.display()
    );
    let file = d.dir.join("rich.xml");
    std::fs::write(&file, xml).unwrap();
    let (_, err, good) = cli(VIRSH, &d, &["define", &file.to_string_lossy()]);
    assert!(good, "define: {}", err);
    let (_, err, good) = cli(VIRSH, &d, &["start", "rich"]);
    let log = std::fs::read_to_string(d.qemu_root().join("log/rich.log")).unwrap_or_default();
    assert!(good, "start: {}\n{}", err, log);
    let (live, _, _) = cli(VIRSH, &d, &["dumpxml", "rich"]);
    let ports: Vec<&str> = live
        .lines()
        .filter(|l| l.contains("<graphics "))
        .filter_map(|l| l.split("port='").nth(1))
        .filter_map(|r| r.split('\'').next())
        .collect();
    let _ = cli(VIRSH, &d, &["destroy", "rich"]);
    assert_eq!(ports.len(), 2, "{}", live);
    assert_ne!(ports[0], ports[1], "{}", live);
}

/// virsh capabilities through oxvirtd: the default machine first in each
/// guest (what virt-install takes), a guest for i686 when
/// qemu-system-i386 is installed, and i686 domains defined on it.
#[test]
fn capabilities_list_the_default_machine_first_and_every_architecture() {
    for p in [QEMU, VIRSH] {
        if !Path::new(p).exists() {
            println!("skipping: {} is not installed", p);
            return;
        }
    }
    let d = Daemon::new("caps");
    let (caps, err, good) = cli(VIRSH, &d, &["capabilities"]);
    assert!(good, "{}", err);
    let guests: Vec<&str> = caps.split("<guest>").skip(1).collect();
    assert!(!guests.is_empty());
    for g in &guests {
        let first = g
            .lines()
            .find(|l| l.contains("<machine"))
            .unwrap_or_default();
        let second = g
            .lines()
            .filter(|l| l.contains("<machine"))
            .nth(1)
            .unwrap_or_default();
        // The default machine, then its alias `pc`.
        assert!(first.contains(">pc-i440fx-"), "{}", first);
        assert!(second.contains(">pc</machine>"), "{}", second);
    }
    let i386 = Path::new("/usr/bin/qemu-system-i386").exists();
    assert_eq!(caps.contains("<arch name='i686'>"), i386);
    if i386 {
        let xml = "<domain type='qemu'><name>fidelity-i686</name><memory>65536</memory>\
                   <os><type arch='i686'>hvm</type></os></domain>";
        let path = d.dir.join("i686.xml");
        std::fs::write(&path, xml).expect("write");
        let (out, err, good) = cli(VIRSH, &d, &["define", &path.to_string_lossy()]);
        assert!(good, "{} {}", out, err);
        let (x, _, _) = cli(VIRSH, &d, &["dumpxml", "fidelity-i686"]);
        assert!(
            x.contains("<emulator>/usr/bin/qemu-system-i386</emulator>"),
            "{}",
            x
        );
        assert!(x.contains("<type arch='i686' machine='pc-i440fx-"), "{}", x);
        let (dc, _, good) = cli(VIRSH, &d, &["domcapabilities", "--arch", "i686"]);
        assert!(good);
        assert!(
            dc.contains("<path>/usr/bin/qemu-system-i386</path>"),
            "{}",
            dc
        );
    }
}
