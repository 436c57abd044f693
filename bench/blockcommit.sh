#!/usr/bin/env bash
# One command: active blockcommit of a 256 MiB overlay, then the pivot,
# on the reference libvirtd and on oxvirtd in one run (python3-libvirt,
# KVM guest with no OS): medians of RUNS and the ratio.
#
#   bench/blockcommit.sh [RUNS] [MEMORY_MIB]      (defaults 5, 512)
#
# Each run starts the guest on a fresh qcow2 overlay holding 256 MiB of
# data over a 1 GiB qcow2 base, and times virDomainBlockCommit(ACTIVE),
# the wait until the job is ready (blockJobInfo polled every 5 ms, as
# both daemons report cur == end only once QEMU says ready) and
# virDomainBlockJobAbort(PIVOT), which returns once the guest runs on
# the base.
set -euo pipefail
RUNS=${1:-5}
MEM=${2:-512}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/daemons.sh
. "$HERE/daemons.sh" blockcommit
/usr/bin/python3 - "$ROOT" "$RUNS" "$MEM" <<'PYEOF'
import os, statistics, subprocess, sys, time
import libvirt
root, runs, mem = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
kind = "kvm" if os.access("/dev/kvm", os.W_OK) else "qemu"

def bench(uri, tag):
    base = f"{root}/{tag}.base.qcow2"
    top = f"{root}/{tag}.top.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "1G"], check=True)
    name = f"blockcommit-bench-{tag}"
    xml = f"""<domain type='{kind}'><name>{name}</name><memory unit='MiB'>{mem}</memory>
<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices>
<emulator>/usr/bin/qemu-system-x86_64</emulator>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
<source file='{top}'/><backingStore type='file'><format type='qcow2'/>
<source file='{base}'/><backingStore/></backingStore>
<target dev='vda' bus='virtio'/></disk>
<memballoon model='none'/></devices></domain>"""
    c = libvirt.open(uri)
    times = []
    try:
        for i in range(runs):
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                            "-b", base, top], check=True)
            subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P {0x10 + i} 0 256M", top],
                           check=True, stdout=subprocess.DEVNULL)
            d = c.createXML(xml, 0)
            try:
                a = time.perf_counter()
                d.blockCommit("vda", None, None, 0, libvirt.VIR_DOMAIN_BLOCK_COMMIT_ACTIVE)
                while True:
                    info = d.blockJobInfo("vda", 0)
                    if info and info["end"] > 0 and info["cur"] == info["end"]:
                        break
                    time.sleep(0.005)
                d.blockJobAbort("vda", libvirt.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
                times.append(time.perf_counter() - a)
            finally:
                d.destroy()
    finally:
        c.close()
    return statistics.median(times) * 1000

ref = bench("qemu:///system", "ref")
ox = bench(f"qemu+unix:///system?socket={root}/sock", "ox")
print(f"accelerator: {'KVM' if kind == 'kvm' else 'TCG'}, {runs} runs, {mem} MiB guest, 256 MiB overlay over a 1 GiB qcow2")
print(f"{'op':<12} {'libvirtd ms':>12} {'oxvirtd ms':>12} {'ox/libvirtd':>12}")
print(f"{'blockcommit':<12} {ref:>12.1f} {ox:>12.1f} {ox / ref:>12.2f}")
PYEOF
