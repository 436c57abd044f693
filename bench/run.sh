#!/usr/bin/env bash
# bench/run.sh [N] [ROUNDS]: the libvirt API benchmark (shared/bench/libvirt_api_bench.py,
# unchanged: same client, same workload) against the reference libvirtd's test
# driver (test+unix) and against oxvirtd's, in the same run. Prints each
# figure for both daemons with the ratio oxvirtd/libvirtd, each daemon's CPU
# seconds during its run (/proc/PID/stat, as shared/bench/daemon_cpu.sh) and
# CPU per call, its idle RSS before the run and its peak RSS during it.
# A benchmark, not a test: nothing here passes or fails on speed.
set -euo pipefail
N=${1:-1000}
ROUNDS=${2:-3}
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

# run_one NAME PID URI ROUND: bench output, cpu and rss figures into
# $WORK/NAME.*; the idle RSS is taken before the first round, the peak over
# all rounds, CPU ticks summed over the rounds.
run_one() {
  local name=$1 pid=$2 uri=$3 round=$4
  sleep 0.3
  [ "$round" = 1 ] && rss "$pid" > "$WORK/$name.idle"
  touch "$WORK/$name.running"
  peak_rss "$pid" "$WORK/$name.running" > "$WORK/$name.peak.$round" &
  local sampler=$! a b
  a=$(cpu_ticks "$pid")
  "$PY" "$BENCH" "$uri" "$N" > "$WORK/$name.out.$round"
  b=$(cpu_ticks "$pid")
  rm -f "$WORK/$name.running"; wait "$sampler"
  echo "$((b - a))" >> "$WORK/$name.ticks"
}

echo "building oxvirtd (release)..." >&2
(cd "$REPO" && cargo build --release -q -p oxvirtd)

echo "reference libvirtd..." >&2
"$SHARED/tools/reference-libvirtd.sh" >/dev/null
LVPID=$(cat /var/run/libvirtd.pid 2>/dev/null || pgrep -x libvirtd | head -1)

echo "oxvirtd..." >&2
"$REPO/target/release/oxvirtd" --root "$WORK/ox" --socket "$WORK/ox.sock" 2>"$WORK/oxvirtd.log" &
OXPID=$!
for _ in $(seq 100); do [ -S "$WORK/ox.sock" ] && break; sleep 0.05; done

# Rounds alternate between the daemons so that a burst of load on the
# machine hits both; each figure is the median of its rounds.
for r in $(seq "$ROUNDS"); do
  echo "round $r/$ROUNDS..." >&2
  run_one libvirtd "$LVPID" "test+unix:///default" "$r"
  run_one oxvirtd "$OXPID" "test+unix:///default?socket=$WORK/ox.sock" "$r"
done

# Where the time goes: wall, daemon CPU and client CPU per operation.
for name in libvirtd oxvirtd; do
  if [ $name = libvirtd ]; then pid=$LVPID uri="test+unix:///default"
  else pid=$OXPID uri="test+unix:///default?socket=$WORK/ox.sock"; fi
  "$PY" "$HERE/split.py" "$uri" "$pid" "$N" > "$WORK/$name.split"
done

# The floor of one call: a round trip of a 28-byte message over a unix
# socket between two processes of the same python, each blocking in recv
# (no RPC, no libvirt). No daemon answers a call faster than this.
"$PY" - > "$WORK/floor" <<'PYEOF'
import os, socket, statistics, time
def once(n=5000):
    a, b = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        a.close()
        while True:
            d = b.recv(64)
            if not d:
                os._exit(0)
            b.send(d)
    b.close()
    msg = b"x" * 28
    t0 = time.perf_counter()
    for _ in range(n):
        a.send(msg)
        a.recv(64)
    dt = time.perf_counter() - t0
    a.close()
    os.waitpid(pid, 0)
    return dt / n * 1e6
print(f"{statistics.median(once() for _ in range(3)):.1f}")
PYEOF

"$PY" - "$WORK" "$N" "$ROUNDS" <<'PYEOF'
import sys, re, statistics, glob
work, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def bench(name):
    runs = {}
    for path in sorted(glob.glob(f"{work}/{name}.out.*")):
        for line in open(path):
            m = re.match(r"(\S+) (\d+) ops/s", line)
            if m:
                runs.setdefault(m.group(1), []).append(int(m.group(2)))
    return {k: statistics.median(v) for k, v in runs.items()}
def cpu(name):
    return sum(int(x) for x in open(f"{work}/{name}.ticks").read().split()) / HZ
def kib(path):
    return int(open(path).read().strip() or 0)
import os
HZ = os.sysconf("SC_CLK_TCK")
lv, ox = bench("libvirtd"), bench("oxvirtd")
# RPCs per operation of each figure (libvirt_api_bench.py)
rpcs = {"define": 1, "listAllDomains": 1, "lookup+info": 2,
        "lookup+XMLDesc": 2, "getCapabilities": 1, "undefine": 2}
# calls the workload makes: define, lookup+info (2), lookup+XMLDesc (2),
# undefine (2) per domain, 20 listAllDomains, 50 getCapabilities
calls = (n * 7 + 20 + 50) * rounds
floor = float(open(f"{work}/floor").read())
print(f"libvirt_api_bench.py N={n}, {rounds} rounds per daemon, alternating; medians")
print(f"{'figure':<18}{'libvirtd':>12}{'oxvirtd':>12}{'ratio':>9}"
      f"{'us/call lv':>12}{'us/call ox':>12}")
for k in lv:
    o = ox.get(k, 0)
    per = lambda v: 1e6 / v / rpcs.get(k, 1) if v else 0
    print(f"{k:<18}{lv[k]:>10.0f}/s{o:>10.0f}/s{o / lv[k] if lv[k] else 0:>8.2f}x"
          f"{per(lv[k]):>12.1f}{per(o):>12.1f}")
cl, co = cpu("libvirtd"), cpu("oxvirtd")
print(f"{'daemon CPU s':<18}{cl:>12.2f}{co:>12.2f}{(co / cl if cl else 0):>8.2f}x")
print(f"{'CPU us/call':<18}{cl / calls * 1e6:>12.1f}{co / calls * 1e6:>12.1f}{(co / cl if cl else 0):>8.2f}x")
il, io = kib(f"{work}/libvirtd.idle"), kib(f"{work}/oxvirtd.idle")
pl = max(kib(p) for p in glob.glob(f"{work}/libvirtd.peak.*"))
po = max(kib(p) for p in glob.glob(f"{work}/oxvirtd.peak.*"))
print(f"{'idle RSS KiB':<18}{il:>12}{io:>12}{(io / il if il else 0):>8.2f}x")
print(f"{'peak RSS KiB':<18}{pl:>12}{po:>12}{(po / pl if pl else 0):>8.2f}x")
print(f"floor: one unix-socket round trip between two processes, no RPC: {floor:.1f} us")
print("where the time of one operation goes (us: wall, daemon CPU, client CPU):")
def split(name):
    out = {}
    for line in open(f"{work}/{name}.split"):
        k, *v = line.split()
        out[k] = [float(x) for x in v]
    return out
sl, so = split("libvirtd"), split("oxvirtd")
for k in sl:
    a, b = sl[k], so.get(k, [0, 0, 0])
    print(f"  {k:<16} libvirtd {a[0]:8.1f} {a[1]:8.1f} {a[2]:8.1f}   oxvirtd {b[0]:8.1f} {b[1]:8.1f} {b[2]:8.1f}")
PYEOF
