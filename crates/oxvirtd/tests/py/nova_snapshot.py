"""Nova's live snapshot of a running guest (nova/virt/libvirt/driver.py
_live_snapshot, guest.py BlockDevice) through python3-libvirt, run by
qemu_blockjobs.rs: the delta image (made by the test over the disk's
backing file, as Nova makes it with qemu-img) becomes a shallow copy of
the disk with blockRebase(COPY | REUSE_EXT | SHALLOW); Nova polls
blockJobInfo until cur == end, then aborts the job so the guest stays on
its disk. argv: URI DOMAIN DISK DELTA. Prints one line per step."""
import sys
import time
import libvirt

uri, name, disk, delta = sys.argv[1:5]
conn = libvirt.open(uri)
dom = conn.lookupByName(name)
print("job before", dom.blockJobInfo(disk, 0))
flags = (libvirt.VIR_DOMAIN_BLOCK_REBASE_COPY
         | libvirt.VIR_DOMAIN_BLOCK_REBASE_REUSE_EXT
         | libvirt.VIR_DOMAIN_BLOCK_REBASE_SHALLOW)
dom.blockRebase(disk, delta, 0, flags)
deadline = time.time() + 120
while True:
    info = dom.blockJobInfo(disk, 0)
    # BlockDevice.is_job_complete: no job, or cur == end.
    if not info or info["cur"] == info["end"]:
        break
    if time.time() > deadline:
        print("timeout", info)
        sys.exit(1)
    time.sleep(0.05)
print("type", info.get("type"), "done", info.get("cur") == info.get("end") and info.get("end", 0) > 0)
try:
    dom.blockJobAbort(disk, libvirt.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT | 64)
except libvirt.libvirtError as e:
    print("error", e.get_error_code(), e.get_error_domain(), e.get_error_message())
dom.blockJobAbort(disk, 0)
print("job after", dom.blockJobInfo(disk, 0))
try:
    dom.blockJobAbort(disk, 0)
except libvirt.libvirtError as e:
    print("error", e.get_error_code(), e.get_error_domain(), e.get_error_message())
print("source", [l for l in dom.XMLDesc(0).splitlines() if "<source file=" in l][0].strip())
