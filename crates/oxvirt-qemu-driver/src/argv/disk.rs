//! Disks as libvirt drives them with `-blockdev`: a storage node and a
//! format node per image (`libvirt-N-storage`, `libvirt-N-format`, N
//! counted over the disks from the last one, top image first, as
//! qemuProcessPrepareDomainStorage numbers them), chained through
//! `backing`, a copy-on-read layer where asked; then the disk device on
//! its bus. The pflash firmware nodes come first.

use oxvirt_core::Result;
use oxvirt_xml::dom::Element;
use serde_json::Value;

use super::{esc, internal, num, unsupported, Args, Ctx, Props};

fn loader<'a>(cx: &'a Ctx) -> Option<&'a Element> {
    cx.root.child("os").and_then(|o| o.child("loader"))
}

/// A pflash loader (virDomainDefHasOldStyleUEFI).
pub fn old_style_uefi(cx: &Ctx) -> bool {
    loader(cx).is_some_and(|l| l.attr("type") == Some("pflash"))
}

/// The NVRAM element of a pflash loader, when it names a store.
pub fn nvram_path<'a>(cx: &'a Ctx) -> Option<&'a Element> {
    cx.root
        .child("os")
        .and_then(|o| o.child("nvram"))
        .filter(|n| !n.text().trim().is_empty() || n.child("source").is_some())
}

/// One image of a disk: its type, format and `<source>`.
struct Image<'a> {
    stype: &'a str,
    format: &'a str,
    source: Option<&'a Element>,
    readonly: bool,
    /// The element holding the image's `<metadata_cache>` (the disk's
    /// `<driver>`, a backing image's `<format>`).
    meta: Option<&'a Element>,
}

/// The images of a disk, top first (`<backingStore>` chain).
fn chain<'a>(d: &'a Element) -> Vec<Image<'a>> {
    let mut out = Vec::new();
    let readonly = d.child("readonly").is_some() || d.attr("device") == Some("cdrom");
    let image = |el: &'a Element, meta: Option<&'a Element>, readonly: bool| Image {
        stype: el.attr("type").unwrap_or("file"),
        format: meta.and_then(|x| x.attr("type")).unwrap_or("raw"),
        source: el.child("source"),
        readonly,
        meta,
    };
    out.push(image(d, d.child("driver"), readonly));
    let mut cur = d.child("backingStore");
    while let Some(b) = cur {
        if b.attr("type").is_none() && b.child("source").is_none() {
            break;
        }
        out.push(image(b, b.child("format"), true));
        cur = b.child("backingStore");
    }
    out
}

/// True when an image has no data (an empty CD-ROM or floppy).
fn empty(img: &Image) -> bool {
    match img.stype {
        "network" | "volume" | "nvme" | "vhostuser" => img.source.is_none(),
        _ => img.source.is_none_or(|s| {
            ["file", "dev", "dir"]
                .iter()
                .all(|k| s.attr(k).is_none_or(str::is_empty))
                && s.attr("fdgroup").is_none()
        }),
    }
}

/// The cache flags of a cache mode: (direct, no-flush).
fn cache_flags(mode: Option<&str>) -> Option<(bool, bool)> {
    match mode? {
        "none" | "directsync" => Some((true, false)),
        "writeback" | "writethrough" => Some((false, false)),
        "unsafe" => Some((false, true)),
        _ => None,
    }
}

fn servers(src: &Element) -> Vec<Props> {
    src.children_named("host")
        .map(|h| {
            let mut v = Props::new();
            match h.attr("transport") {
                Some("unix") => {
                    v.s("type", "unix")
                        .s("path", h.attr("socket").unwrap_or(""));
                }
                _ => {
                    v.s("type", "inet")
                        .s("host", h.attr("name").unwrap_or(""))
                        .os("port", h.attr("port"));
                }
            }
            v
        })
        .collect()
}

fn cache_obj(direct: bool, no_flush: bool) -> Props {
    let mut c = Props::new();
    c.b("direct", direct).b("no-flush", no_flush);
    c
}

/// The storage node of an image (qemuBlockStorageSourceGetBackendProps).
/// An iSCSI LUN's backend (qemuBlockStorageSourceGetISCSIProps):
/// `<source name='TARGET/LUN'>` and its `<host>`.
pub(crate) fn iscsi(p: &mut Props, s: &Element) {
    let name = s.attr("name").unwrap_or("");
    let (target, lun) = name.rsplit_once('/').unwrap_or((name, "0"));
    let host = s.child("host");
    let hname = host.and_then(|h| h.attr("name")).unwrap_or("");
    let hname = if hname.contains(':') {
        format!("[{}]", hname)
    } else {
        hname.to_string()
    };
    let portal = format!(
        "{}:{}",
        hname,
        host.and_then(|h| h.attr("port")).unwrap_or("3260")
    );
    p.s("driver", "iscsi")
        .s("portal", &portal)
        .s("target", target)
        .u("lun", lun.parse().unwrap_or(0))
        .s("transport", "tcp");
}

/// How many numbered block nodes the disks take (hostdevs' backends
/// come after them).
pub(crate) fn disk_node_count(cx: &Ctx) -> u64 {
    node_indexes(&cx.devices("disk"))
        .iter()
        .map(|v| v.len() as u64)
        .sum()
}

/// An NFS identity: `+N` is a number, a name is looked up.
fn nfs_id(v: &str) -> Option<i64> {
    if let Some(n) = v.strip_prefix('+') {
        return n.parse().ok();
    }
    if let Ok(n) = v.parse() {
        return Some(n);
    }
    let c = std::ffi::CString::new(v).ok()?;
    // SAFETY: getpwnam/getgrnam with a valid C string; the result is read
    // at once.
    unsafe {
        let pw = libc::getpwnam(c.as_ptr());
        if !pw.is_null() {
            return Some((*pw).pw_uid as i64);
        }
        let gr = libc::getgrnam(c.as_ptr());
        if !gr.is_null() {
            return Some((*gr).gr_gid as i64);
        }
    }
    None
}

/// `aio` and `pr-manager` of a local image (qemuBlockStorageSourceGetFileProps).
fn file_extras(p: &mut Props, d: &Element, src: Option<&Element>, node: &str) {
    p.os("aio", d.child("driver").and_then(|x| x.attr("io")));
    if let Some(r) = src.and_then(|s| s.child("reservations")) {
        if r.attr("enabled") != Some("no") {
            p.s("pr-manager", &pr_alias(r, node));
        }
    }
}

/// The pr-manager object of a disk's `<reservations>`: the managed
/// helper's, or one per unmanaged socket.
fn pr_alias(r: &Element, node: &str) -> String {
    if r.attr("managed") == Some("yes") {
        "pr-helper0".to_string()
    } else {
        format!("pr-helper-{}", node)
    }
}

/// The objects a storage node refers to, before it (pr-manager, TLS
/// credentials).
fn storage_objects(a: &mut Args, img: &Image, node: &str) {
    let Some(src) = img.source else { return };
    if let Some(r) = src.child("reservations") {
        if r.attr("enabled") != Some("no") && r.attr("managed") != Some("yes") {
            let mut p = Props::new();
            p.s("qom-type", "pr-manager-helper")
                .s("id", &pr_alias(r, node))
                .s(
                    "path",
                    r.child("source").and_then(|s| s.attr("path")).unwrap_or(""),
                );
            a.object(&p);
        }
    }
    if img.stype == "network" && src.attr("tls") == Some("yes") {
        a.object(&super::chr::tls_creds(
            &format!("obj{}_tls0", node),
            false,
            true,
        ));
    }
}

/// The managed persistent-reservation helper all disks share
/// (qemuBuildManagedPRCommandLine).
pub fn managed_pr(cx: &Ctx, a: &mut Args) {
    let managed = cx.devices("disk").iter().any(|d| {
        d.child("source")
            .and_then(|s| s.child("reservations"))
            .is_some_and(|r| r.attr("enabled") != Some("no") && r.attr("managed") == Some("yes"))
    });
    if managed {
        let mut p = Props::new();
        p.s("qom-type", "pr-manager-helper")
            .s("id", "pr-helper0")
            .s("path", &cx.private_path("pr-helper0.sock"));
        a.object(&p);
    }
}

/// True when `path` is a CD-ROM drive (virFileIsCDROM).
fn is_cdrom(path: &str) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    const CDROM_GET_CAPABILITY: libc::c_ulong = 0x5331;
    let Ok(f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    else {
        return false;
    };
    // SAFETY: an ioctl without an argument buffer on a descriptor we own.
    unsafe { libc::ioctl(f.as_raw_fd(), CDROM_GET_CAPABILITY as _, 0) >= 0 }
}

/// The storage node of an image (qemuBlockStorageSourceGetBackendProps).
/// A raw CD-ROM on a host drive is `host_cdrom` once libvirt has looked
/// at the host (not for domxml-to-native, which does not).
fn storage_props(cx: &Ctx, d: &Element, img: &Image, node: &str) -> Result<Props> {
    let mut p = Props::new();
    let src = img.source;
    let attr = |k: &str| src.and_then(|s| s.attr(k)).unwrap_or("");
    match img.stype {
        "file" => {
            p.s("driver", "file").s("filename", attr("file"));
            file_extras(&mut p, d, src, node);
        }
        "block" => {
            let drv = if d.attr("device") == Some("cdrom")
                && img.format == "raw"
                && !cx.start.pretend
                && is_cdrom(attr("dev"))
            {
                "host_cdrom"
            } else {
                "host_device"
            };
            p.s("driver", drv).s("filename", attr("dev"));
            file_extras(&mut p, d, src, node);
        }
        "dir" => {
            p.s("driver", "vvfat")
                .s("dir", attr("dir"))
                .b("floppy", d.attr("device") == Some("floppy"))
                .b("rw", false);
        }
        "nvme" => {
            let a = src.and_then(|s| s.child("address"));
            let dev = a
                .map(|a| {
                    format!(
                        "{:04x}:{:02x}:{:02x}.{:x}",
                        num(a, "domain"),
                        num(a, "bus"),
                        num(a, "slot"),
                        num(a, "function")
                    )
                })
                .unwrap_or_default();
            p.s("driver", "nvme")
                .s("device", &dev)
                .u("namespace", num(src.unwrap_or(d), "namespace").max(1));
        }
        "network" => {
            let s = src.ok_or_else(|| internal("network disk without a source"))?;
            let proto = attr("protocol");
            let name = attr("name");
            match proto {
                "nbd" => {
                    let server = servers(s).into_iter().next().unwrap_or_default();
                    p.s("driver", "nbd").obj("server", server);
                    if !name.is_empty() {
                        p.s("export", name);
                    }
                    if s.attr("tls") == Some("yes") {
                        p.s("tls-creds", &format!("obj{}_tls0", node));
                        p.os("tls-hostname", s.attr("tlsHostname"));
                    }
                }
                "gluster" => {
                    let (vol, path) = name.split_once('/').unwrap_or((name, ""));
                    // qemu.conf's gluster_debug_level.
                    p.s("driver", "gluster")
                        .s("volume", vol)
                        .s("path", path)
                        .arr("server", servers(s))
                        .u("debug", 4);
                }
                "http" | "https" | "ftp" | "ftps" | "tftp" => {
                    let host = s.child("host");
                    let mut url = format!(
                        "{}://{}",
                        proto,
                        host.and_then(|h| h.attr("name")).unwrap_or("")
                    );
                    if let Some(port) = host.and_then(|h| h.attr("port")) {
                        url.push_str(&format!(":{}", port));
                    }
                    if !name.starts_with('/') {
                        url.push('/');
                    }
                    url.push_str(name);
                    if let Some(q) = s.attr("query") {
                        url.push('?');
                        url.push_str(q);
                    }
                    p.s("driver", proto).s("url", &url);
                    match s.child("ssl").and_then(|x| x.attr("verify")) {
                        Some("yes") => {
                            p.b("sslverify", true);
                        }
                        Some("no") => {
                            p.b("sslverify", false);
                        }
                        _ => {}
                    }
                    let n = |el: &str, k: &str| {
                        s.child(el)
                            .and_then(|x| x.attr(k))
                            .and_then(|v| v.parse::<u64>().ok())
                            .unwrap_or(0)
                    };
                    p.p("timeout", n("timeout", "seconds"));
                    p.p("readahead", n("readahead", "size"));
                }
                "nfs" => {
                    let host = s.child("host");
                    let mut server = Props::new();
                    server
                        .s("host", host.and_then(|h| h.attr("name")).unwrap_or(""))
                        .s("type", "inet");
                    p.s("driver", "nfs").obj("server", server).s("path", name);
                    let id = s.child("identity");
                    if let Some(u) = id.and_then(|i| i.attr("user")).and_then(nfs_id) {
                        p.set("user", u);
                    }
                    if let Some(g) = id.and_then(|i| i.attr("group")).and_then(nfs_id) {
                        p.set("group", g);
                    }
                }
                "rbd" => {
                    let (pool, image) = name.split_once('/').unwrap_or((name, ""));
                    let (image, snap) = match image.split_once('@') {
                        Some((i, sn)) => (i, Some(sn)),
                        None => (image, None),
                    };
                    p.s("driver", "rbd").s("pool", pool).s("image", image);
                    p.os("snapshot", s.attr("snapshot").or(snap));
                    p.os("conf", s.child("config").and_then(|c| c.attr("file")));
                    let hosts: Vec<Props> = s
                        .children_named("host")
                        .map(|h| {
                            let mut v = Props::new();
                            v.s("host", h.attr("name").unwrap_or(""))
                                .s("port", h.attr("port").unwrap_or("0"));
                            v
                        })
                        .collect();
                    if !hosts.is_empty() {
                        p.arr("server", hosts);
                    }
                }
                "iscsi" => iscsi(&mut p, s),
                "ssh" => {
                    let host = s.child("host");
                    let mut server = Props::new();
                    server
                        .s("host", host.and_then(|h| h.attr("name")).unwrap_or(""))
                        .s("port", host.and_then(|h| h.attr("port")).unwrap_or("22"));
                    p.s("driver", "ssh").s("path", name).obj("server", server);
                    p.os(
                        "user",
                        s.child("auth")
                            .and_then(|a| a.attr("username"))
                            .or_else(|| s.child("identity").and_then(|i| i.attr("username"))),
                    );
                }
                "vxhs" => {
                    p.s("driver", "vxhs").s("vdisk-id", name);
                }
                other => {
                    return Err(unsupported(format!(
                        "protocol '{}' is not supported by this driver",
                        other
                    )))
                }
            }
        }
        other => {
            return Err(unsupported(format!(
                "disk type '{}' is not supported by this driver",
                other
            )))
        }
    }
    p.s("node-name", node);
    if let Some((direct, no_flush)) = cache_flags(d.child("driver").and_then(|x| x.attr("cache"))) {
        p.obj("cache", cache_obj(direct, no_flush));
    }
    p.b("auto-read-only", true).s("discard", "unmap");
    Ok(p)
}

/// The format node over a storage node.
fn format_props(
    d: &Element,
    img: &Image,
    node: &str,
    file: &str,
    backing: Option<Option<String>>,
    top: bool,
) -> Props {
    let drv = d.child("driver");
    let mut p = Props::new();
    p.s("node-name", node).b("read-only", img.readonly);
    let discard = drv.and_then(|x| x.attr("discard"));
    p.os("discard", discard);
    if top {
        let dz = drv
            .and_then(|x| x.attr("detect_zeroes"))
            .filter(|z| *z != "off");
        let dz = match dz {
            Some("unmap") if discard != Some("unmap") => Some("on"),
            other => other,
        };
        p.os("detect-zeroes", dz);
    }
    if let Some((direct, no_flush)) = cache_flags(drv.and_then(|x| x.attr("cache"))) {
        p.obj("cache", cache_obj(direct, no_flush));
    }
    // vvfat emulates the FAT layer: a raw node goes on top.
    let format = match img.format {
        "none" | "fat" => "raw",
        "ploop" => "parallels",
        "vhd" => "vhdx",
        other => other,
    };
    p.s("driver", format);
    if format == "qcow2" {
        let size = img
            .meta
            .and_then(|x| x.child("metadata_cache"))
            .and_then(|m| m.child("max_size"));
        if let Some(sz) = size {
            let v = sz.text().trim().parse::<u64>().unwrap_or(0);
            let bytes = oxvirt_xml::props::scale(v, sz.attr("unit"), 1, u64::MAX).unwrap_or(v);
            p.p("cache-size", bytes);
        }
    }
    p.s("file", file);
    match backing {
        Some(Some(b)) => {
            p.s("backing", &b);
        }
        Some(None) => {
            p.set("backing", Value::Null);
        }
        None => {}
    }
    p
}

fn is_sd(d: &Element) -> bool {
    d.child("target").and_then(|t| t.attr("bus")) == Some("sd")
}

/// An SD card: QEMU has no device for it, so a `-drive if=sd`
/// (qemuBuildDriveStr).
fn sd_drive(d: &Element, dst: &str) -> String {
    let img = &chain(d)[0];
    let src = img.source;
    let attr = |k: &str| src.and_then(|s| s.attr(k)).unwrap_or("");
    let mut s = String::new();
    match img.stype {
        "file" => s.push_str(&format!("file={},", esc(attr("file")))),
        "block" => s.push_str(&format!("file={},", esc(attr("dev")))),
        "dir" => s.push_str(&format!("file=fat:{},", esc(attr("dir")))),
        _ => s.push(','),
    }
    if img.stype != "dir" && img.format != "none" {
        s.push_str(&format!("format={},", img.format));
    }
    let index = disk_index(dst).unwrap_or(0);
    s.push_str(&format!("if=sd,index={}", index));
    if img.readonly {
        s.push_str(",readonly=on");
    }
    if !empty(img) {
        let drv = d.child("driver");
        let a = |k: &str| drv.and_then(|x| x.attr(k));
        if let Some(c) = a("cache") {
            s.push_str(&format!(",cache={}", c));
        }
        if let Some(c) = a("copy_on_read") {
            s.push_str(&format!(",copy-on-read={}", c));
        }
        if let Some(c) = a("discard") {
            s.push_str(&format!(",discard={}", c));
        }
        if let Some(z) = a("detect_zeroes") {
            let z = if z == "unmap" && a("discard") != Some("unmap") {
                "on"
            } else {
                z
            };
            s.push_str(&format!(",detect-zeroes={}", z));
        }
        if let Some(io) = a("io") {
            s.push_str(&format!(",aio={}", io));
        }
    }
    s
}

/// The node indexes of every disk's images (last disk first, top first).
fn node_indexes(disks: &[&Element]) -> Vec<Vec<u64>> {
    let mut next = 0;
    let mut out: Vec<Vec<u64>> = vec![Vec::new(); disks.len()];
    for (i, d) in disks.iter().enumerate().rev() {
        if d.attr("type") == Some("vhostuser") || is_sd(d) {
            continue;
        }
        for _ in chain(d) {
            next += 1;
            out[i].push(next);
        }
    }
    out
}

/// The boot index of each disk (qemuProcessPrepareDeviceBootorder).
pub fn disk_boot_indexes(cx: &Ctx, disks: &[&Element]) -> Vec<Option<u64>> {
    let explicit: Vec<Option<u64>> = disks
        .iter()
        .map(|d| {
            d.child("boot")
                .and_then(|b| b.attr("order"))
                .and_then(|o| o.parse().ok())
        })
        .collect();
    if explicit.iter().any(Option::is_some) || cx.def.os.boot.is_empty() {
        return explicit;
    }
    let mut want: std::collections::HashMap<&str, u64> = Default::default();
    for (i, b) in cx.def.os.boot.iter().enumerate() {
        use oxvirt_xml::props::XmlEnum;
        want.insert(b.to_xml(), i as u64 + 1);
    }
    disks
        .iter()
        .map(|d| {
            let key = match d.attr("device").unwrap_or("disk") {
                "cdrom" => "cdrom",
                "floppy" => "fd",
                _ => "hd",
            };
            want.remove(key)
        })
        .collect()
}

/// `-blockdev` for the firmware (qemuBuildPflashBlockdevCommandLine).
pub fn pflash(cx: &Ctx, a: &mut Args) -> Result<()> {
    if !old_style_uefi(cx) {
        return Ok(());
    }
    let Some(l) = loader(cx) else { return Ok(()) };
    let mut src = Element::new("source");
    src.set_attr("file", l.text().trim());
    let d = Element::new("disk");
    let img = Image {
        stype: "file",
        format: "raw",
        source: Some(&src),
        readonly: l.attr("readonly") == Some("yes"),
        meta: None,
    };
    a.blockdev(&storage_props(cx, &d, &img, "libvirt-pflash0-storage")?);
    a.blockdev(&format_props(
        &d,
        &img,
        "libvirt-pflash0-format",
        "libvirt-pflash0-storage",
        None,
        true,
    ));
    if let Some(n) = nvram_path(cx) {
        let mut src = Element::new("source");
        let stype = n.attr("type").unwrap_or("file");
        let source = match n.child("source") {
            Some(s) => s.clone(),
            None => {
                src.set_attr("file", n.text().trim());
                src
            }
        };
        let img = Image {
            stype,
            format: "raw",
            source: Some(&source),
            readonly: false,
            meta: None,
        };
        a.blockdev(&storage_props(cx, &d, &img, "libvirt-pflash1-storage")?);
        a.blockdev(&format_props(
            &d,
            &img,
            "libvirt-pflash1-format",
            "libvirt-pflash1-storage",
            None,
            true,
        ));
    }
    Ok(())
}

/// The drive address of a disk as properties (qemuBuildDeviceAddresDriveProps).
pub(crate) fn drive_address(cx: &Ctx, p: &mut Props, d: &Element, bus: &str) -> Result<()> {
    let Some(a) = d
        .child("address")
        .filter(|a| a.attr("type") == Some("drive"))
    else {
        return cx.address(p, d);
    };
    let (c, b, t, u) = (
        num(a, "controller"),
        num(a, "bus"),
        num(a, "target"),
        num(a, "unit"),
    );
    match bus {
        "ide" => {
            let alias = if cx.is_i440fx() {
                "ide".to_string()
            } else {
                cx.controller_alias("ide", c)
                    .ok_or_else(|| internal(format!("missing IDE controller {}", c)))?
            };
            p.s("bus", &format!("{}.{}", alias, b)).u("unit", u);
        }
        "sata" => {
            let alias = if cx.is_q35() && c == 0 {
                "ide".to_string()
            } else {
                cx.controller_alias("sata", c)
                    .ok_or_else(|| internal(format!("missing SATA controller {}", c)))?
            };
            p.s("bus", &format!("{}.{}", alias, u));
        }
        "fdc" => {
            p.u("unit", u);
        }
        "scsi" => {
            let cont = cx.controller("scsi", c).ok_or_else(|| {
                internal(format!("unable to find a SCSI controller for idx={}", c))
            })?;
            let alias = cx.controller_alias("scsi", c).unwrap_or_default();
            match cont.attr("model").unwrap_or("") {
                "lsilogic" | "ncr53c90" | "dc390" | "am53c974" => {
                    p.s("bus", &format!("{}.{}", alias, b)).u("scsi-id", u);
                }
                _ => {
                    p.s("bus", &format!("{}.0", alias))
                        .u("channel", b)
                        .u("scsi-id", t)
                        .u("lun", u);
                }
            }
        }
        other => {
            return Err(internal(format!(
                "address type drive is not supported for bus '{}'",
                other
            )))
        }
    }
    Ok(())
}

/// The properties of a disk device after its address, in libvirt's
/// order (qemuBuildDiskDeviceProps).
#[allow(clippy::too_many_arguments)]
fn disk_device_props(
    p: &mut Props,
    d: &Element,
    bus: &str,
    device: &str,
    alias: &str,
    drive: Option<&str>,
    vhostuser: bool,
    boot: Option<u64>,
) -> Result<()> {
    let target = d.child("target");
    let drv = d.child("driver");
    if bus == "scsi" && device != "lun" {
        let serial = d.child("serial").map(|s| s.text());
        p.s(
            "device_id",
            &serial.unwrap_or_else(|| format!("drive-{}", alias)),
        );
    }
    if d.child("shareable").is_some() {
        p.b("share-rw", true);
    }
    if vhostuser {
        p.s("chardev", &format!("chr-vu-{}", alias));
    } else if let Some(t) = drive {
        p.s("drive", t);
    }
    p.s("id", alias);
    if device != "floppy" {
        if let Some(b) = boot {
            p.u("bootindex", b);
        }
    }
    let blockio = d.child("blockio");
    let bnum = |k: &str| {
        blockio
            .and_then(|b| b.attr(k))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    p.p("logical_block_size", bnum("logical_block_size"));
    p.p("physical_block_size", bnum("physical_block_size"));
    if let Some(w) = d.child("wwn") {
        let t = w.text();
        let t = t.trim();
        let hex = t
            .strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))
            .unwrap_or(t);
        let w = u64::from_str_radix(hex, 16).map_err(|_| {
            oxvirt_core::Error::invalid_arg(
                crate::FROM,
                format!("Failed to parse wwn '{}' as number", t),
            )
        })?;
        p.u("wwn", w);
    }
    p.p(
        "rotation_rate",
        target
            .and_then(|t| t.attr("rotation_rate"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    );
    if let Some(v) = d.child("vendor") {
        p.s("vendor", &v.text());
    }
    if let Some(v) = d.child("product") {
        p.s("product", &v.text());
    }
    if bus == "usb" {
        p.b(
            "removable",
            target.and_then(|t| t.attr("removable")) == Some("on"),
        );
    }
    if device != "lun" {
        if let Some((_, _, wb)) = drv.and_then(|x| x.attr("cache")).and_then(cache_mode_flags) {
            p.s("write-cache", if wb { "on" } else { "off" });
        }
    }
    let geo = d.child("geometry");
    let gnum = |k: &str| {
        geo.and_then(|g| g.attr(k))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    p.p("cyls", gnum("cyls"));
    p.p("heads", gnum("heads"));
    p.p("secs", gnum("secs"));
    if let Some(t) = geo
        .and_then(|g| g.attr("trans"))
        .filter(|t| *t != "default")
    {
        p.s("bios-chs-trans", t);
    }
    if let Some(s) = d.child("serial") {
        p.s("serial", &s.text().replace(' ', "\\ "));
    }
    let werror = drv.and_then(|x| x.attr("error_policy"));
    let rerror = drv.and_then(|x| x.attr("rerror_policy"));
    let (w, r) = match werror {
        Some("enospace") => (Some("enospc"), rerror),
        _ => (werror, rerror.or(werror)),
    };
    p.os("werror", w);
    p.os("rerror", r);
    Ok(())
}

/// (direct, no-flush, write-back) of a cache mode
/// (qemuDomainDiskCachemodeFlags).
fn cache_mode_flags(mode: &str) -> Option<(bool, bool, bool)> {
    match mode {
        "none" => Some((true, false, true)),
        "writethrough" => Some((false, false, false)),
        "writeback" => Some((false, false, true)),
        "directsync" => Some((true, false, false)),
        "unsafe" => Some((false, true, true)),
        _ => None,
    }
}

/// Disk devices and their block nodes (qemuBuildDisksCommandLine).
pub fn disks(cx: &Ctx, a: &mut Args) -> Result<()> {
    let disks = cx.devices("disk");
    let nodes = node_indexes(&disks);
    let boot = disk_boot_indexes(cx, &disks);
    // Floppy boot indexes live on the controller.
    let (mut boot_a, mut boot_b, mut floppy) = (0, 0, false);
    for (i, d) in disks.iter().enumerate() {
        if d.child("target").and_then(|t| t.attr("bus")) != Some("fdc") {
            continue;
        }
        floppy = true;
        let unit = d.child("address").map(|x| num(x, "unit")).unwrap_or(0);
        if unit != 0 {
            boot_b = boot[i].unwrap_or(0);
        } else {
            boot_a = boot[i].unwrap_or(0);
        }
    }
    if floppy {
        if cx.is_q35() {
            let mut p = Props::new();
            p.s("driver", "isa-fdc")
                .p("bootindexA", boot_a)
                .p("bootindexB", boot_b);
            a.device(&p);
        } else {
            if boot_a > 0 {
                a.push("-global", format!("isa-fdc.bootindexA={}", boot_a));
            }
            if boot_b > 0 {
                a.push("-global", format!("isa-fdc.bootindexB={}", boot_b));
            }
        }
    }
    for (i, d) in disks.iter().enumerate() {
        let target = d.child("target");
        let bus = target.and_then(|t| t.attr("bus")).unwrap_or("ide");
        let device = d.attr("device").unwrap_or("disk");
        let dst = target.and_then(|t| t.attr("dev")).unwrap_or("");
        let alias = cx.aliases.get("disk", i);
        let vhostuser = d.attr("type") == Some("vhostuser");
        if bus == "sd" {
            a.push("-drive", sd_drive(d, dst));
            continue;
        }
        if vhostuser {
            // The vhost-user backend's socket (a unix chardev).
            let mut el = Element::new("disk");
            el.set_attr("type", "unix");
            if let Some(src) = d.child("source") {
                el.children
                    .push(oxvirt_xml::dom::Node::Element(src.clone()));
            }
            super::chr::chardev(cx, a, &el, &format!("chr-vu-{}", alias))?;
        }
        // Block nodes, deepest backing image first.
        let imgs = chain(d);
        let mut top: Option<String> = None;
        if !vhostuser && !empty(&imgs[0]) {
            let ids = &nodes[i];
            for (k, img) in imgs.iter().enumerate().rev() {
                if empty(img) {
                    continue;
                }
                let id = ids.get(k).copied().unwrap_or(0);
                let storage = format!("libvirt-{}-storage", id);
                let format = format!("libvirt-{}-format", id);
                storage_objects(a, img, &storage);
                a.blockdev(&storage_props(cx, d, img, &storage)?);
                let backing = if k + 1 < imgs.len() {
                    Some(Some(format!(
                        "libvirt-{}-format",
                        ids.get(k + 1).copied().unwrap_or(0)
                    )))
                } else if k > 0 {
                    Some(None)
                } else {
                    None
                };
                a.blockdev(&format_props(d, img, &format, &storage, backing, k == 0));
                if k == 0 {
                    top = Some(format);
                }
            }
            if d.child("driver").and_then(|x| x.attr("copy_on_read")) == Some("on") {
                let cor = format!("libvirt-CoR-{}", dst);
                let mut p = Props::new();
                p.s("driver", "copy-on-read")
                    .s("node-name", &cor)
                    .s("file", top.as_deref().unwrap_or(""))
                    .s("discard", "unmap");
                a.blockdev(&p);
                top = Some(cor);
            }
        }
        let mut p = Props::new();
        match (bus, device) {
            ("ide" | "sata", "cdrom") => {
                p.s("driver", "ide-cd");
            }
            ("ide" | "sata", _) => {
                p.s("driver", "ide-hd");
            }
            ("scsi", "lun") => {
                p.s("driver", "scsi-block");
            }
            ("scsi", "cdrom") => {
                p.s("driver", "scsi-cd");
            }
            ("scsi", _) => {
                p.s("driver", "scsi-hd");
            }
            ("virtio", _) => {
                let model = d.attr("model");
                let base = if vhostuser {
                    "vhost-user-blk"
                } else {
                    "virtio-blk"
                };
                let drv = cx.virtio_model(base, model, d);
                p.s("driver", &drv);
                cx.virtio_options(&mut p, d);
                let drv_el = d.child("driver");
                if let Some(io) = drv_el.and_then(|x| x.attr("iothread")) {
                    p.s("iothread", &format!("iothread{}", io));
                }
                p.t("ioeventfd", drv_el.and_then(|x| x.attr("ioeventfd")));
                p.t("event_idx", drv_el.and_then(|x| x.attr("event_idx")));
                if !vhostuser && device == "lun" {
                    p.b("scsi", true);
                }
                if let Some(q) = drv_el
                    .and_then(|x| x.attr("queues"))
                    .and_then(|v| v.parse().ok())
                {
                    p.p("num-queues", q);
                }
                if let Some(q) = drv_el
                    .and_then(|x| x.attr("queue_size"))
                    .and_then(|v| v.parse().ok())
                {
                    p.p("queue-size", q);
                }
            }
            ("usb", _) => {
                p.s("driver", "usb-storage");
            }
            ("fdc", _) => {
                p.s("driver", "floppy");
            }
            (other, _) => {
                return Err(internal(format!(
                    "unsupported disk bus '{}' with device setup",
                    other
                )))
            }
        }
        drive_address(cx, &mut p, d, bus)?;
        disk_device_props(
            &mut p,
            d,
            bus,
            device,
            &alias,
            top.as_deref(),
            vhostuser,
            boot[i],
        )?;
        a.device(&p);
    }
    Ok(())
}

/// Index of a target like `vdb`/`hdc`/`sda` (`a`=0, `z`=25, `aa`=26).
pub(crate) fn disk_index(dev: &str) -> Option<u32> {
    let tail = ["xvd", "vd", "hd", "sd", "fd", "ubd"]
        .iter()
        .find_map(|p| dev.strip_prefix(p))?;
    if tail.is_empty() {
        return None;
    }
    let mut idx: u32 = 0;
    for c in tail.chars() {
        if !c.is_ascii_lowercase() {
            return None;
        }
        idx = idx
            .checked_mul(26)?
            .checked_add(c as u32 - 'a' as u32 + 1)?;
    }
    idx.checked_sub(1)
}
