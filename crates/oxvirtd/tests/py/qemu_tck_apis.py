"""The calls libvirt-tck's domain and qemu groups make beyond lifecycles,
on a QEMU daemon, as a transcript: the pre-ListAll domain lists, the
security model, block statistics, sizes, resize and peek, the migration
speed, save-image XML and QEMU's pid file.

    qemu_tck_apis.py URI DIR KIND PIDDIR NVRAMDIR

DIR is a scratch directory (images and save files go there), KIND the
domain type (kvm or qemu), PIDDIR where the daemon keeps QEMU's pid files,
NVRAMDIR where it keeps UEFI variables (the UEFI guest runs under TCG).
Guests have no OS; names start with fidelity2- (they may run on the shared
reference libvirtd) and are removed at the end. Values that depend on
timing (I/O counters of a booting firmware) are printed as their names.
"""

import os
import sys

import libvirt

URI, DIR, KIND, PIDDIR, NVRAM_DIR = sys.argv[1:6]
QEMU = "/usr/bin/qemu-system-x86_64"
P = "fidelity2-blk"
UUID = "6b0d1f1a-3c6e-4a51-9f53-0f4a5e2c1b01"
RAW = os.path.join(DIR, "raw.img")
SPARSE = os.path.join(DIR, "sparse.img")
QCOW = os.path.join(DIR, "q.qcow2")
SAVE = os.path.join(DIR, "g.save")

libvirt.registerErrorHandler(lambda *_: None, None)


def out(*a):
    print(" ".join(str(x) for x in a).replace(DIR, "@DIR@"))


def call(what, f, *args):
    try:
        r = f(*args)
        out(what, "->", r)
        return r
    except libvirt.libvirtError as e:
        out(what, "-> error", e.get_error_code(), e.get_error_domain(), e.get_error_message())
        return None


def guest_xml(name, on_reboot="restart"):
    return f"""<domain type='{KIND}'><name>{name}</name><uuid>{UUID}</uuid>
<memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type></os><on_reboot>{on_reboot}</on_reboot>
<devices><emulator>{QEMU}</emulator>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{RAW}'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='raw' cache='none'/><source file='{SPARSE}'/><target dev='vdb' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{QCOW}'/><target dev='vdc' bus='virtio'/></disk>
<memballoon model='none'/></devices></domain>"""


def images():
    with open(RAW, "wb") as f:
        f.write(b"test" + b"\0" * (8 << 20))
    with open(SPARSE, "wb") as f:
        f.truncate(50 << 20)
    # An empty qcow2 of 50 MiB (qemu-img's header for these options).
    os.system(f"qemu-img create -q -f qcow2 {QCOW} 50M")


def legacy_lists(c):
    names = [n for n in c.listDefinedDomains() if n.startswith(P)]
    ids = [i for i in c.listDomainsID() if c.lookupByID(i).name().startswith(P)]
    out("defined", sorted(names), "active", len(ids))


def blocks(d, active):
    for path in ["vda", "vdb", "vdc", SPARSE, "vdz"]:
        call("blockInfo " + path, d.blockInfo, path, 0)
    for path in ["vda", "", "vdz"]:
        call("blockStats?" + path, lambda p: (len(d.blockStats(p)), d.blockStats(p)[4]), path)
        call(
            "blockStatsFlags?" + path,
            lambda p: sorted(d.blockStatsFlags(p, 0).keys()),
            path,
        )
    for args in [("vda", 0, 4), ("vdc", 0, 4), ("/nowhere", 0, 4), ("vda", (8 << 20) + 2, 4),
                 ("vda", 0, 0), (RAW, 1, 3)]:
        call("blockPeek %s %d %d" % args, d.blockPeek, *args, 0)
    call("blockPeek flags", d.blockPeek, "vda", 0, 4, 1)
    if active:
        call("blockResize vda 25M", d.blockResize, "vda", 25 << 10)
        out("size", os.path.getsize(RAW))
        call("blockResize vdc 60M+1 bytes", d.blockResize, "vdc", (60 << 20) + 1, 1)
        call("blockInfo vdc", d.blockInfo, "vdc", 0)
        call("blockResize flags", d.blockResize, "vda", 1, 2)
    call("blockResize vdz", d.blockResize, "vdz", 1024)


def speeds(d):
    call("migrateGetMaxSpeed", d.migrateGetMaxSpeed, 0)
    call("migrateSetMaxSpeed 10000", d.migrateSetMaxSpeed, 10000, 0)
    call("migrateGetMaxSpeed", d.migrateGetMaxSpeed, 0)
    call("migrateSetMaxSpeed too big", d.migrateSetMaxSpeed, 1 << 60, 0)
    call("migrateGetMaxSpeed flags", d.migrateGetMaxSpeed, 4)


def pidfile(d):
    p = os.path.join(PIDDIR, d.name() + ".pid")
    try:
        pid = int(open(p).read().strip())
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        out("pidfile", "names the QEMU of", d.name() if b"guest=" + d.name().encode() in b",".join(cmd) else "another process")
    except (OSError, ValueError) as e:
        out("pidfile", type(e).__name__)


def efi(c, nvram_dir):
    """libvirt-tck's 405: UEFI picked from QEMU's descriptors, its NVRAM
    kept or removed at undefine."""
    xml = f"""<domain type='qemu'><name>{P}-efi</name><memory unit='MiB'>64</memory>
<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type><loader secure='yes'/></os>
<features><acpi/><apic/><smm state='on'/></features>
<devices><emulator>{QEMU}</emulator><memballoon model='none'/></devices></domain>"""
    d = c.defineXML(xml)
    x = d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    out("inactive os", x.split("<os")[1].split("</os>")[0].replace("\n", " "))
    call("create", d.create)
    x = d.XMLDesc(0)
    nv = x.split("<nvram")[1].split(">")[1].split("<")[0]
    out("live os", x.split("<os")[1].split("</os>")[0].replace(os.path.dirname(nv), "@NVRAM@").replace("\n", " "))
    out("nvram", os.path.dirname(nv) == nvram_dir, oct(os.stat(nv).st_mode & 0o777))
    call("destroy", d.destroy)
    call("undefine", d.undefine)
    call("undefine both", d.undefineFlags,
         libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM)
    call("undefine keep", d.undefineFlags, libvirt.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM)
    out("nvram kept", os.path.exists(nv))
    d = c.defineXML(xml)
    call("undefine nvram", d.undefineFlags, libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    out("nvram kept", os.path.exists(nv))


def main():
    images()
    c = libvirt.open(URI)
    m = c.getSecurityModel()
    out("securityModel", m)
    d = c.defineXML(guest_xml(P))
    legacy_lists(c)
    blocks(d, False)
    speeds(d)
    call("create", d.create)
    legacy_lists(c)
    pidfile(d)
    blocks(d, True)
    speeds(d)
    call("save", d.save, SAVE)
    out("pidfile after save", os.path.exists(os.path.join(PIDDIR, P + ".pid")))
    legacy_lists(c)
    x = c.saveImageGetXMLDesc(SAVE, 0)
    out("on_reboot", "restart" in x.split("<on_reboot>")[1][:10])
    call("saveImageDefineXML", c.saveImageDefineXML, SAVE, x.replace(">restart<", ">destroy<"), 0)
    x = c.saveImageGetXMLDesc(SAVE, 0)
    out("on_reboot now", x.split("<on_reboot>")[1].split("<")[0])
    call("saveImageDefineXML other name", c.saveImageDefineXML, SAVE, x.replace(P, P + "x"), 0)
    call("saveImageDefineXML same", c.saveImageDefineXML, SAVE, x, 0)
    call("saveImageDefineXML paused", c.saveImageDefineXML, SAVE, x, libvirt.VIR_DOMAIN_SAVE_PAUSED)
    call("saveImageDefineXML flags", c.saveImageDefineXML, SAVE, x, 1)
    call("saveImageDefineXML huge", c.saveImageDefineXML, SAVE,
         x.replace("</domain>", "<description>" + "x" * 200000 + "</description></domain>"), 0)
    call("restore", c.restore, SAVE)
    out("state", d.state())
    out("on_reboot live", d.XMLDesc(0).split("<on_reboot>")[1].split("<")[0])
    call("destroy", d.destroy)
    with open(os.path.join(DIR, "zeros.save"), "wb") as f:
        f.truncate(1 << 20)
    call("saveImageGetXMLDesc zeros", c.saveImageGetXMLDesc, os.path.join(DIR, "zeros.save"), 0)
    call("saveImageDefineXML zeros", c.saveImageDefineXML, os.path.join(DIR, "zeros.save"), x, 0)
    call("undefine", d.undefine)
    legacy_lists(c)
    efi(c, NVRAM_DIR)


if __name__ == "__main__":
    main()
