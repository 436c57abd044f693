#!/usr/bin/env bash
# One command: storage figures of the reference libvirtd and of oxvirtd
# in one run, with ratios, and dd between the same files as the floor of
# the transfers.
#
#   bench/storage_vs_libvirtd.sh [N]     (N qcow2 volumes, default 1000)
#
# Both daemons serve qemu:///system (the reference through
# ../shared/tools/reference-libvirtd.sh, oxvirtd as a private release
# build under a temporary --root); bench/storage_bench.py (python3-libvirt)
# drives each on a directory of the same file system:
#   create_qcow2_rate   N qcow2 volumes of 1 GiB, one call after another
#   refresh_qcow2_pool  refreshing the pool of N qcow2 volumes (median of 5)
#   clone_1g_half_data  cloning a 1 GiB raw volume, half of it data
#   upload/download_1g  1 GiB each way, sparse and not (page cache dropped)
#   wipe_1g_zero        wiping a fully allocated 1 GiB volume with zero
set -euo pipefail
N=${1:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$(cd "$REPO/../shared" 2>/dev/null && pwd || echo /work/shared)}
PY=/usr/bin/python3

cargo build --release -q -p oxvirtd --manifest-path "$REPO/Cargo.toml"
"$SHARED/tools/reference-libvirtd.sh" >/dev/null

WORK=$(mktemp -d /var/tmp/storagebench.XXXXXX)
ROOT=$WORK/root
mkdir -p "$ROOT" "$WORK/ref" "$WORK/ox"
nohup "$REPO/target/release/oxvirtd" --root "$ROOT" --socket "$ROOT/sock" >"$WORK/daemon.log" 2>&1 &
OXPID=$!
cleanup() { kill "$OXPID" 2>/dev/null || true; wait "$OXPID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$ROOT/sock" ] && break; sleep 0.05; done
[ -S "$ROOT/sock" ] || { echo "oxvirtd did not start:"; cat "$WORK/daemon.log"; exit 1; }
OXURI="qemu+unix:///system?socket=$ROOT/sock"

echo "== floor: dd between the same files (1 GiB, half data)"
$PY - "$WORK" <<'PYEOF' | tee "$WORK/floor.txt"
import os, subprocess, sys, time
w = sys.argv[1]
src = f"{w}/floor-src.img"
block = os.urandom(1 << 20)
with open(src, "wb") as f:
    for i in range(1024):
        if i % 2 == 0:
            f.seek(i << 20); f.write(block)
    f.truncate(1 << 30)
def run(args):
    os.sync(); open("/proc/sys/vm/drop_caches", "w").write("3\n")
    t0 = time.monotonic(); subprocess.run(args, check=True, capture_output=True)
    return time.monotonic() - t0
for name, extra in (("dd_1g", []), ("dd_1g_sparse", ["conv=sparse"])):
    t = run(["dd", f"if={src}", f"of={w}/floor-dst.img", "bs=256K"] + extra)
    print(f"{name} {1024 / t:.1f} MiB/s")
os.unlink(src); os.unlink(f"{w}/floor-dst.img")
PYEOF

echo "== reference libvirtd (qemu:///system)"
$PY "$HERE/storage_bench.py" qemu:///system "$WORK/ref" "$N" | tee "$WORK/libvirtd.txt"
echo "== oxvirtd ($OXURI)"
$PY "$HERE/storage_bench.py" "$OXURI" "$WORK/ox" "$N" | tee "$WORK/oxvirtd.txt"

echo "== ratios (higher is better for oxvirtd)"
$PY - "$WORK" <<'PYEOF'
import sys
w = sys.argv[1]
def load(p):
    return {l.split()[0]: (float(l.split()[1]), l.split()[2]) for l in open(p) if l.strip()}
fl, lv, ox = load(f"{w}/floor.txt"), load(f"{w}/libvirtd.txt"), load(f"{w}/oxvirtd.txt")
print(f"{'figure':<22} {'libvirtd':>14} {'oxvirtd':>14} {'ratio':>8}  {'vs dd':>8}")
for k, (a, unit) in lv.items():
    b = ox.get(k, (0, unit))[0]
    # Rates: oxvirtd/libvirtd; times: libvirtd/oxvirtd.
    r = (b / a) if unit.endswith("/s") else (a / b if b else 0)
    dd = ""
    if k.startswith(("upload", "download")):
        f = fl["dd_1g_sparse" if k.endswith("sparse") else "dd_1g"][0]
        dd = f"{b / f:.2f}"
    print(f"{k:<22} {a:>10.1f} {unit:<3} {b:>10.1f} {unit:<3} {r:>7.2f}x  {dd:>8}")
PYEOF
