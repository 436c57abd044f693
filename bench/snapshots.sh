#!/usr/bin/env bash
# One command: snapshot latency of the reference libvirtd and of oxvirtd
# in one run (python3-libvirt, KVM guest with no OS, qcow2 disk):
# internal snapshot of the running guest (memory + disk), revert to it,
# external disk-only snapshot, medians of RUNS each, and the ratios.
#
#   bench/snapshots.sh [RUNS] [MEMORY_MIB]      (defaults 7, 512)
#
# The guest has no OS, so its memory is untouched: the internal
# snapshot's vmstate is small. The 1 GiB disk holds 256 MiB of data.
set -euo pipefail
RUNS=${1:-7}
MEM=${2:-512}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/daemons.sh
. "$HERE/daemons.sh" snapshots
/usr/bin/python3 - "$ROOT" "$RUNS" "$MEM" <<'PYEOF'
import os, statistics, subprocess, sys, time
import libvirt
root, runs, mem = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
kind = "kvm" if os.access("/dev/kvm", os.W_OK) else "qemu"

def bench(uri, tag):
    img = f"{root}/{tag}.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "1G"], check=True)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 256M", img],
                   check=True, stdout=subprocess.DEVNULL)
    name = f"snapshots-bench-{tag}"
    xml = f"""<domain type='{kind}'><name>{name}</name><memory unit='MiB'>{mem}</memory>
<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices>
<emulator>/usr/bin/qemu-system-x86_64</emulator>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
<source file='{img}'/><target dev='vda' bus='virtio'/></disk>
<memballoon model='none'/></devices></domain>"""
    c = libvirt.open(uri)
    d = c.defineXML(xml)
    d.create()
    t = {"internal": [], "revert": [], "external": []}
    try:
        for i in range(runs):
            a = time.perf_counter()
            s = d.snapshotCreateXML(f"<domainsnapshot><name>i{i}</name></domainsnapshot>", 0)
            t["internal"].append(time.perf_counter() - a)
            a = time.perf_counter()
            d.revertToSnapshot(s, 0)
            t["revert"].append(time.perf_counter() - a)
        for i in range(runs):
            ov = f"{root}/{tag}.ext{i}"
            a = time.perf_counter()
            d.snapshotCreateXML(
                f"<domainsnapshot><name>e{i}</name><disks><disk name='vda' snapshot='external'>"
                f"<source file='{ov}'/></disk></disks></domainsnapshot>",
                libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA)
            t["external"].append(time.perf_counter() - a)
    finally:
        try:
            d.destroy()
        except libvirt.libvirtError:
            pass
        d.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        c.close()
    return {k: statistics.median(v) * 1000 for k, v in t.items()}

ref = bench("qemu:///system", "ref")
ox = bench(f"qemu+unix:///system?socket={root}/sock", "ox")
print(f"accelerator: {'KVM' if kind == 'kvm' else 'TCG'}, {runs} runs, {mem} MiB guest, 1 GiB qcow2 with 256 MiB data")
print(f"{'op':<10} {'libvirtd ms':>12} {'oxvirtd ms':>12} {'ox/libvirtd':>12}")
for k in ["internal", "revert", "external"]:
    print(f"{k:<10} {ref[k]:>12.1f} {ox[k]:>12.1f} {ox[k] / ref[k]:>12.2f}")
PYEOF
