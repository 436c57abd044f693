#!/usr/bin/env bash
# bench/run.sh [N]: the libvirt API benchmark (shared/bench/libvirt_api_bench.py,
# unchanged: same client, same workload) against the reference libvirtd's test
# driver (test+unix) and against oxvirtd's, in the same run. Prints each
# figure for both daemons with the ratio oxvirtd/libvirtd, each daemon's CPU
# seconds during its run (/proc/PID/stat, as shared/bench/daemon_cpu.sh) and
# CPU per call, its idle RSS before the run and its peak RSS during it.
# A benchmark, not a test: nothing here passes or fails on speed.
set -euo pipefail
N=${1:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SHARED=${OXVIRT_SHARED:-$(cd "$REPO/../shared" 2>/dev/null && pwd || echo /work/shared)}
BENCH=$SHARED/bench/libvirt_api_bench.py
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/oxvirt-bench.XXXXXX)
OXPID=
cleanup() {
  [ -n "$OXPID" ] && kill "$OXPID" 2>/dev/null && wait "$OXPID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# Samples a pid's RSS until the marker file goes away; prints the peak (KiB).
peak_rss() {
  local pid=$1 marker=$2 peak=0 r
  while [ -e "$marker" ]; do
    r=$(rss "$pid" 2>/dev/null || echo 0)
    [ "${r:-0}" -gt "$peak" ] && peak=$r
    sleep 0.02
  done
  echo "$peak"
}

# run_one NAME PID URI: bench output, cpu and rss figures into $WORK/NAME.*
run_one() {
  local name=$1 pid=$2 uri=$3
  sleep 0.5
  rss "$pid" > "$WORK/$name.idle"
  touch "$WORK/$name.running"
  peak_rss "$pid" "$WORK/$name.running" > "$WORK/$name.peak" &
  local sampler=$! a b
  a=$(cpu_ticks "$pid")
  "$PY" "$BENCH" "$uri" "$N" > "$WORK/$name.out"
  b=$(cpu_ticks "$pid")
  rm -f "$WORK/$name.running"; wait "$sampler"
  echo "$a $b $(getconf CLK_TCK)" > "$WORK/$name.cpu"
}

echo "building oxvirtd (release)..." >&2
(cd "$REPO" && cargo build --release -q -p oxvirtd)

echo "reference libvirtd..." >&2
"$SHARED/tools/reference-libvirtd.sh" >/dev/null
LVPID=$(cat /var/run/libvirtd.pid 2>/dev/null || pgrep -x libvirtd | head -1)
run_one libvirtd "$LVPID" "test+unix:///default"

echo "oxvirtd..." >&2
"$REPO/target/release/oxvirtd" --root "$WORK/ox" --socket "$WORK/ox.sock" 2>"$WORK/oxvirtd.log" &
OXPID=$!
for _ in $(seq 100); do [ -S "$WORK/ox.sock" ] && break; sleep 0.05; done
run_one oxvirtd "$OXPID" "test+unix:///default?socket=$WORK/ox.sock"

"$PY" - "$WORK" "$N" <<'PYEOF'
import sys, re
work, n = sys.argv[1], int(sys.argv[2])
def bench(name):
    out = {}
    for line in open(f"{work}/{name}.out"):
        m = re.match(r"(\S+) (\d+) ops/s", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out
def cpu(name):
    a, b, hz = map(float, open(f"{work}/{name}.cpu").read().split())
    return (b - a) / hz
def kib(name, what):
    return int(open(f"{work}/{name}.{what}").read().strip() or 0)
lv, ox = bench("libvirtd"), bench("oxvirtd")
# calls the workload makes: define, lookup+info (2), lookup+XMLDesc (2),
# undefine (2) per domain, 20 listAllDomains, 50 getCapabilities
calls = n * 7 + 20 + 50
print(f"libvirt_api_bench.py N={n} ({calls} calls per daemon)")
print(f"{'figure':<18}{'libvirtd':>12}{'oxvirtd':>12}{'ratio':>9}")
for k in lv:
    o = ox.get(k, 0)
    print(f"{k:<18}{lv[k]:>10}/s{o:>10}/s{o / lv[k] if lv[k] else 0:>8.2f}x")
cl, co = cpu("libvirtd"), cpu("oxvirtd")
print(f"{'daemon CPU s':<18}{cl:>12.2f}{co:>12.2f}{(co / cl if cl else 0):>8.2f}x")
print(f"{'CPU us/call':<18}{cl / calls * 1e6:>12.1f}{co / calls * 1e6:>12.1f}{(co / cl if cl else 0):>8.2f}x")
il, io = kib("libvirtd", "idle"), kib("oxvirtd", "idle")
pl, po = kib("libvirtd", "peak"), kib("oxvirtd", "peak")
print(f"{'idle RSS KiB':<18}{il:>12}{io:>12}{(io / il if il else 0):>8.2f}x")
print(f"{'peak RSS KiB':<18}{pl:>12}{po:>12}{(po / pl if pl else 0):>8.2f}x")
PYEOF
