"""The small guest APIs Nova calls, on a QEMU daemon, as a transcript:
vCPU information and pinning, emulator pinning, memory statistics and
their period, the guest agent's APIs without an agent (and with an agent
channel nobody answers), NMI, keys, screenshots, the graphics ports of
the live XML, domdisplay/vncdisplay and the undefine flags.

    qemu_guest_apis.py URI KIND

KIND is the domain type (kvm or qemu). The real virsh runs the virsh
steps; python3-libvirt the calls Nova makes. Guests have no OS; their
names start with fidelity2-guest (they may run on the shared reference
libvirtd) and are removed at the end. What depends on timing or on the
ports other guests hold (CPU times, the host CPU a vCPU ran on, RSS,
port numbers) is printed as a placeholder after checking its shape.
"""

import re
import struct
import subprocess
import sys
import tempfile
import os

import libvirt

URI, KIND = sys.argv[1:3]
G = "fidelity2-guest"
P = "fidelity2-guest-p"
S = "fidelity2-guest-scsi"
QEMU = "/usr/bin/qemu-system-x86_64"

libvirt.registerErrorHandler(lambda *_: None, None)


def out(*a):
    print(norm(" ".join(str(x) for x in a)))


def norm(text):
    text = re.sub(r"^(\s*CPU:\s+)\d+", r"\1N", text, flags=re.M)
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UUID", text)
    text = re.sub(r"\brss \d+", "rss N", text)
    text = re.sub(r"port='59\d\d'", "port='59NN'", text)
    text = re.sub(r"websocket='57\d\d'", "websocket='57NN'", text)
    text = re.sub(r"(127\.0\.0\.1|localhost):\d+\b", r"\1:N", text)
    text = re.sub(r"/tmp/tmp\w+\.xml", "@XML@", text)
    text = re.sub(r"\S*/fidelity2-shot\S*", "@SHOT@", text)
    text = re.sub(r"/\S*/fidelity2-scsi\w*/", "@DIR@/", text)
    # The agent's socket: each daemon's own directory.
    text = re.sub(r"path='[^']*org\.qemu\.guest_agent\.0'", "path='@CHANNEL@'", text)
    return text


def virsh(*args):
    p = subprocess.run(
        ["virsh", "-q", "-c", URI] + list(args),
        capture_output=True,
        text=True,
        env=dict(os.environ, LC_ALL="C"),
    )
    out("$ virsh", " ".join(args))
    for line in p.stdout.strip().splitlines():
        # A vCPU's CPU time is printed only when it is not zero.
        if not line.startswith("CPU time:"):
            out(" ", line.rstrip())
    for line in p.stderr.strip().splitlines():
        out(" !", line.rstrip())
    out("  rc", p.returncode)
    return p.stdout


def call(what, f, *args):
    try:
        r = f(*args)
        out(what, "->", r)
        return r
    except libvirt.libvirtError as e:
        out(what, "-> error", e.get_error_code(), e.get_error_domain(), e.get_error_message())
        return None


def guest_xml(name, agent=False):
    chan = ""
    if agent:
        chan = ("<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/>"
                "</channel>")
    return f"""<domain type='{KIND}'><name>{name}</name>
<memory unit='MiB'>128</memory><vcpu>2</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><emulator>{QEMU}</emulator>
<graphics type='vnc' autoport='yes' websocket='-1'/>
{chan}<memballoon model='virtio'/></devices></domain>"""


def graphics(xml):
    return [l.strip() for l in xml.splitlines()
            if "<graphics" in l or "<listen" in l or "<stats" in l or "pin " in l
            or "<target type='virtio'" in l or "<source mode='bind'" in l]


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return "not a PNG"
    w, h = struct.unpack(">II", head[16:24])
    return f"PNG {w}x{h}"


def cleanup(conn):
    for n in (G, P, S):
        try:
            d = conn.lookupByName(n)
        except libvirt.libvirtError:
            continue
        try:
            d.destroy()
        except libvirt.libvirtError:
            pass
        try:
            d.undefineFlags(0)
        except libvirt.libvirtError:
            pass


def scsi_xml():
    return f"""<domain type='{KIND}'><name>{S}</name>
<memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><emulator>{QEMU}</emulator>
<controller type='scsi' model='virtio-scsi'/>
<controller type='scsi' index='1' model='lsilogic'/>
<memballoon model='none'/></devices></domain>"""


def disk_lines(xml):
    keep = ("<target dev", "<address type='drive'", "<readonly", "<source file", "<driver name")
    return [l.strip() for l in xml.splitlines() if l.strip().startswith(keep)]


def scsi(conn):
    """SCSI disks plugged into and out of virtio-scsi and lsilogic
    controllers (virsh attach-disk, Nova's attachDeviceFlags)."""
    out("# SCSI hotplug")
    d = tempfile.mkdtemp(prefix="fidelity2-scsi")
    imgs = {}
    for name, fmt in (("a.img", "raw"), ("b.qcow2", "qcow2"), ("h.img", "raw"), ("n.img", "raw")):
        imgs[name] = os.path.join(d, name)
        subprocess.run(["qemu-img", "create", "-q", "-f", fmt, imgs[name], "16M"], check=True)
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(scsi_xml())
        sx = f.name
    try:
        virsh("create", sx)
        dom = conn.lookupByName(S)
        virsh("attach-disk", S, imgs["a.img"], "sda", "--targetbus", "scsi")
        virsh("attach-disk", S, imgs["b.qcow2"], "sdb", "--targetbus", "scsi", "--subdriver", "qcow2")
        virsh("attach-disk", S, imgs["h.img"], "sdh", "--targetbus", "scsi", "--mode", "readonly")
        virsh("attach-disk", S, imgs["a.img"], "sda", "--targetbus", "scsi")
        nova = f"""<disk type='file' device='disk'><driver name='qemu' type='raw' cache='none'/>
<source file='{imgs["n.img"]}'/><target dev='sdc' bus='scsi'/><serial>vol-1</serial></disk>"""
        call("attachDeviceFlags(sdc, LIVE)", dom.attachDeviceFlags, nova,
             libvirt.VIR_DOMAIN_AFFECT_LIVE)
        virsh("domblklist", S)
        out("live disks", disk_lines(dom.XMLDesc(0)))
        call("detachDeviceFlags(sdc, LIVE)", dom.detachDeviceFlags, nova,
             libvirt.VIR_DOMAIN_AFFECT_LIVE)
        virsh("detach-disk", S, "sdb")
        virsh("detach-disk", S, "sdh")
        virsh("domblklist", S)
        out("live disks", disk_lines(dom.XMLDesc(0)))
        virsh("destroy", S)
    finally:
        os.unlink(sx)
        for f in imgs.values():
            os.unlink(f)
        os.rmdir(d)


def main():
    conn = libvirt.open(URI)
    cleanup(conn)
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(guest_xml(G))
        gx = f.name
    shot = tempfile.mktemp(prefix="fidelity2-shot")
    try:
        virsh("create", gx)
        dom = conn.lookupByName(G)
        out("# vCPUs")
        virsh("vcpuinfo", G)
        virsh("vcpupin", G)
        virsh("vcpupin", G, "1", "0")
        virsh("vcpupin", G)
        virsh("vcpuinfo", G)
        virsh("vcpupin", G, "5", "0")
        virsh("vcpupin", G, "0", "0", "--config")
        virsh("emulatorpin", G)
        virsh("emulatorpin", G, "1")
        virsh("emulatorpin", G)
        virsh("emulatorpin", G, "0", "--config")
        info = call("vcpus()", lambda: [(v[0], v[1]) for v in dom.vcpus()[0]])
        out("cpumaps", dom.vcpus()[1])
        out("pininfo", dom.vcpuPinInfo(0))
        out("emulatorpininfo", dom.emulatorPinInfo(0))
        out("# memory statistics")
        stats = dom.memoryStats()
        out("memoryStats keys", sorted(stats))
        out("actual", stats.get("actual"))
        virsh("dommemstat", G)
        virsh("dommemstat", G, "--period", "2")
        virsh("dommemstat", G, "--period", "-1")
        virsh("dommemstat", G, "--period", "3", "--config")
        out("live xml", graphics(dom.XMLDesc(0)))
        out("# guest agent: none configured")
        call("setTime", dom.setTime, {"seconds": 1700000000, "nseconds": 0})
        call("getTime", dom.getTime)
        virsh("domtime", G)
        virsh("domtime", G, "--sync")
        virsh("set-user-password", G, "root", "secret")
        virsh("domfsinfo", G)
        virsh("domfsfreeze", G)
        virsh("domfsthaw", G)
        virsh("domfstrim", G)
        virsh("domifaddr", G, "--source", "agent")
        virsh("guestinfo", G)
        virsh("guestvcpus", G)
        virsh("qemu-agent-command", G, '{"execute":"guest-ping"}')
        virsh("shutdown", G, "--mode", "agent")
        virsh("reboot", G, "--mode", "agent")
        out("# NMI, keys, screenshots")
        call("injectNMI", dom.injectNMI)
        virsh("inject-nmi", G)
        virsh("send-key", G, "KEY_A")
        virsh("send-key", G, "--codeset", "linux", "30", "KEY_LEFTCTRL")
        virsh("send-key", G, "--holdtime", "100", "KEY_UP")
        virsh("send-key", G, "--codeset", "win32", "65")
        virsh("send-key", G, "--codeset", "usb", "4")
        virsh("send-key", G, "--codeset", "atset1", "0xe048")
        virsh("send-key", G, "--codeset", "xt", "30")
        virsh("screenshot", G, shot)
        out("screenshot file", png_size(shot))
        virsh("screenshot", G, shot, "--screen", "1")
        out("# graphics")
        virsh("domdisplay", G)
        virsh("vncdisplay", G)
        out("live xml", graphics(dom.XMLDesc(0)))
        out("inactive-form xml", graphics(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE)))
        virsh("destroy", G)
        call("injectNMI (shut off)", dom.injectNMI)
        call("vcpus (shut off)", dom.vcpus)
        call("memoryStats (shut off)", dom.memoryStats)

        out("# agent channel without an agent")
        conn.defineXML(guest_xml(P, agent=True))
        p = conn.lookupByName(P)
        virsh("vcpupin", P, "1", "1", "--config")
        virsh("emulatorpin", P, "0", "--config")
        virsh("dommemstat", P, "--period", "4", "--config")
        out("inactive xml", graphics(p.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)))
        virsh("start", P)
        virsh("vcpupin", P)
        virsh("emulatorpin", P)
        out("pininfo", p.vcpuPinInfo(0))
        virsh("domtime", P)
        virsh("shutdown", P, "--mode", "agent")
        virsh("qemu-agent-command", P, '{"execute":"guest-ping"}')
        out("live xml", graphics(p.XMLDesc(0)))
        virsh("destroy", P)
        out("# undefine flags")
        call("undefineFlags(TPM|KEEP_TPM)", p.undefineFlags,
             libvirt.VIR_DOMAIN_UNDEFINE_TPM | libvirt.VIR_DOMAIN_UNDEFINE_KEEP_TPM)
        call("undefineFlags(NVRAM|KEEP_NVRAM)", p.undefineFlags,
             libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM)
        call("undefineFlags(KEEP_TPM|KEEP_NVRAM|MANAGED_SAVE|SNAPSHOTS|CHECKPOINTS)",
             p.undefineFlags,
             libvirt.VIR_DOMAIN_UNDEFINE_KEEP_TPM | libvirt.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM
             | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
             | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
             | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA)
        conn.defineXML(guest_xml(P))
        virsh("undefine", P, "--tpm", "--nvram")
        conn.defineXML(guest_xml(P))
        virsh("undefine", P, "--keep-tpm", "--keep-nvram")
        scsi(conn)
    finally:
        cleanup(conn)
        for f in (gx, shot):
            try:
                os.unlink(f)
            except OSError:
                pass


main()
