#!/usr/bin/env bash
# One command: QEMU/KVM lifecycle latency of the reference libvirtd and of
# oxvirtd, plus the physical floor (QEMU started by hand), in one run.
#
#   bench/qemu_vs_libvirtd.sh [RUNS]        (default 20)
#   CYCLES=N: lifecycles run afterwards for the leak check (default 200)
#
# Uses ../shared/bench/vm_lifecycle_bench.py (64 MiB, 1 vCPU, KVM, no guest
# OS) and ../shared/bench/qemu_floor.py, starts the reference daemon with
# ../shared/tools/reference-libvirtd.sh and a private oxvirtd (release
# build) under a temporary --root. Prints both tables and the ratios.
# Afterwards it checks that oxvirtd left no QEMU and no extra fd behind.
set -euo pipefail
RUNS=${1:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$(cd "$REPO/../shared" 2>/dev/null && pwd || echo /work/shared)}
BENCH=$SHARED/bench
PY=/usr/bin/python3

[ -x /usr/bin/qemu-system-x86_64 ] || { echo "qemu-system-x86_64 is not installed"; exit 1; }
[ -w /dev/kvm ] || echo "warning: /dev/kvm is not usable; the bench needs KVM" >&2

cargo build --release -q -p oxvirtd --manifest-path "$REPO/Cargo.toml"
"$SHARED/tools/reference-libvirtd.sh" >/dev/null

ROOT=$(mktemp -d /tmp/oxbench.XXXXXX)
nohup "$REPO/target/release/oxvirtd" --root "$ROOT" --socket "$ROOT/sock" >"$ROOT/daemon.log" 2>&1 &
OXPID=$!
cleanup() { kill "$OXPID" 2>/dev/null || true; wait "$OXPID" 2>/dev/null || true; rm -rf "$ROOT"; }
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$ROOT/sock" ] && break; sleep 0.05; done
[ -S "$ROOT/sock" ] || { echo "oxvirtd did not start:"; cat "$ROOT/daemon.log"; exit 1; }
OXURI="qemu+unix:///system?socket=$ROOT/sock"

echo "== floor (QEMU by hand), $RUNS runs"
$PY "$BENCH/qemu_floor.py" "$RUNS" | tee "$ROOT/floor.txt"
echo "== reference libvirtd (qemu:///system), $RUNS runs"
$PY "$BENCH/vm_lifecycle_bench.py" qemu:///system "$RUNS" | tee "$ROOT/libvirtd.txt"
# Warm up oxvirtd's driver (capability cache) before timing it.
virsh -q -c "$OXURI" list --all >/dev/null
FD0=$(ls /proc/$OXPID/fd | wc -l)
echo "== oxvirtd ($OXURI), $RUNS runs"
$PY "$BENCH/vm_lifecycle_bench.py" "$OXURI" "$RUNS" | tee "$ROOT/oxvirtd.txt"

echo "== ratios"
$PY - "$ROOT" <<'PYEOF'
import sys, re
root = sys.argv[1]
def med(path):
    out = {}
    for l in open(path):
        m = re.match(r"(\w+(?: \w+)?) median ([\d.]+) ms", l)
        if m: out[m.group(1)] = float(m.group(2))
    return out
fl, lv, ox = med(f"{root}/floor.txt"), med(f"{root}/libvirtd.txt"), med(f"{root}/oxvirtd.txt")
fs = fl.get("floor start")
print(f"{'op':<8} {'libvirtd':>10} {'oxvirtd':>10} {'ox/libvirtd':>12}")
for k in ["start", "suspend", "resume", "save", "restore", "destroy"]:
    a, b = lv.get(k), ox.get(k)
    if a and b:
        print(f"{k:<8} {a:>8.1f}ms {b:>8.1f}ms {b/a:>11.2f}x")
if fs:
    print(f"start vs floor: oxvirtd {ox['start']/fs:.2f}x, libvirtd {lv['start']/fs:.2f}x (floor {fs:.1f} ms; target <= 1.5x)")
print(f"destroy median: oxvirtd {ox['destroy']:.1f} ms (target <= 40 ms)")
for k in ["save", "restore"]:
    print(f"{k}: oxvirtd/libvirtd {ox[k]/lv[k]:.2f} (target <= 0.33)")
PYEOF

# The leak check: CYCLES more full lifecycles on oxvirtd (default 200).
CYCLES=${CYCLES:-200}
if [ "$CYCLES" -gt 0 ]; then
  echo "== leak check: $CYCLES more lifecycles on oxvirtd"
  $PY "$BENCH/vm_lifecycle_bench.py" "$OXURI" "$CYCLES" >"$ROOT/cycles.txt"
fi
LEFT=$(ls "$ROOT/lib/oxvirt/qemu/run" 2>/dev/null | wc -l)
FD1=$(ls /proc/$OXPID/fd | wc -l)
QEMUS=$(pgrep -c -f "guest=lat-" || true)
echo "== leftovers: status files $LEFT, oxvirtd fds $FD0 -> $FD1, lat-* QEMUs $QEMUS"
