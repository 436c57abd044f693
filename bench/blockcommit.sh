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
# virDomainBlockJobAbort(PIVOT) (retried while the daemon has not yet
# seen QEMU's ready event), which returns once the guest runs on the
# base. The QEMU column is the same commit asked of a bare QEMU over
# QMP (the floor under both daemons).
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
                while True:
                    # QEMU may say ready before the daemon has handled
                    # its event (both daemons then refuse the pivot).
                    try:
                        d.blockJobAbort("vda", libvirt.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
                        break
                    except libvirt.libvirtError as e:
                        if e.get_error_code() != libvirt.VIR_ERR_BLOCK_COPY_ACTIVE:
                            raise
                        time.sleep(0.005)
                times.append(time.perf_counter() - a)
            finally:
                d.destroy()
    finally:
        c.close()
    return statistics.median(times) * 1000

def floor():
    """The same commit asked of a bare QEMU over QMP: what any daemon
    costs on top of it."""
    import json, socket
    base, top, sock = f"{root}/q.base.qcow2", f"{root}/q.top.qcow2", f"{root}/q.qmp"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "1G"], check=True)
    times = []
    for i in range(runs):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, top],
                       check=True)
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P {0x10 + i} 0 256M", top],
                       check=True, stdout=subprocess.DEVNULL)
        q = subprocess.Popen(["/usr/bin/qemu-system-x86_64", "-machine", f"pc,accel={kind}",
                              "-m", str(mem), "-display", "none", "-nodefaults", "-S",
                              "-qmp", f"unix:{sock},server=on,wait=on",
                              "-blockdev", f"driver=file,filename={base},node-name=b-s,auto-read-only=on",
                              "-blockdev", "driver=qcow2,file=b-s,node-name=b-f,read-only=on",
                              "-blockdev", f"driver=file,filename={top},node-name=t-s",
                              "-blockdev", "driver=qcow2,file=t-s,backing=b-f,node-name=t-f",
                              "-device", "virtio-blk-pci,drive=t-f"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            s = socket.socket(socket.AF_UNIX)
            for _ in range(1000):
                try:
                    s.connect(sock)
                    break
                except (FileNotFoundError, ConnectionRefusedError):
                    time.sleep(0.01)
            f = s.makefile("rw")
            f.readline()
            def cmd(name, args=None):
                f.write(json.dumps({"execute": name, "arguments": args or {}}) + "\n")
                f.flush()
                while True:
                    r = json.loads(f.readline())
                    if "return" in r or "error" in r:
                        return r
            cmd("qmp_capabilities")
            a = time.perf_counter()
            cmd("block-commit", {"device": "t-f", "job-id": "c", "top-node": "t-f",
                                 "base-node": "b-f", "auto-dismiss": False})
            while not any(j.get("ready") for j in cmd("query-block-jobs")["return"]):
                time.sleep(0.005)
            cmd("job-complete", {"id": "c"})
            while any(j["status"] != "concluded" for j in cmd("query-jobs")["return"]):
                time.sleep(0.005)
            times.append(time.perf_counter() - a)
            s.close()
        finally:
            q.kill()
            q.wait()
            if os.path.exists(sock):
                os.unlink(sock)
    return statistics.median(times) * 1000

ref = bench("qemu:///system", "ref")
ox = bench(f"qemu+unix:///system?socket={root}/sock", "ox")
print(f"accelerator: {'KVM' if kind == 'kvm' else 'TCG'}, {runs} runs, {mem} MiB guest, 256 MiB overlay over a 1 GiB qcow2")
qemu = floor()
print(f"{'op':<12} {'libvirtd ms':>12} {'oxvirtd ms':>12} {'QEMU ms':>10} {'ox/libvirtd':>12}")
print(f"{'blockcommit':<12} {ref:>12.1f} {ox:>12.1f} {qemu:>10.1f} {ox / ref:>12.2f}")
PYEOF
