#!/usr/bin/env bash
# libvirt-tck (libvirt's own conformance kit, unmodified, run by
# ../shared/tools/tck/run.sh) against oxvirtd's qemu:///system.
#
#   scripts/tck.sh [GROUP | GROUP/SCRIPT.t ...]     (default: run.sh's default set)
#
# oxvirtd runs from target/release under its own --root and socket in a
# temporary directory, inside a network namespace of its own (so nothing
# it or its QEMUs do reaches the host's networking, and whatever is left
# in the namespace is killed with it). The TCK runs in a private mount
# namespace in which oxvirtd's QEMU run directory (ROOT/lib/oxvirt/qemu/run, where
# the driver keeps NAME.pid as libvirt does) is bound over
# /run/libvirt/qemu: qemu/200-210 read /var/run/libvirt/qemu/tck.pid
# directly. The shared reference libvirtd is not touched.
#
# Prints run.sh's per-script table and its two summary lines, and fails
# when fewer scripts pass than tests/tck-floor says (the floor only goes
# up). Results are copied to target/tck/ (summary.txt, rpc.txt, logs/).
#
# Environment: TCK_DEADLINE (default 200 s for the whole run: scripts not
# started by then count as failed), TCK_TIMEOUT (default 60 s per script),
# TCK_LOCK_WAIT (default 900 s: run.sh serialises TCK runs on this host).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SHARED=${OXVIRT_SHARED:-$REPO/../shared}
RUN=$SHARED/tools/tck/run.sh
[ -x "$RUN" ] || { echo "tck: no $RUN (set OXVIRT_SHARED to the shared/ folder)"; exit 2; }
BIN=$REPO/target/release/oxvirtd
[ -x "$BIN" ] || { echo "tck: build target/release/oxvirtd first"; exit 2; }
floor=$(grep -om1 "^[0-9][0-9]*" tests/tck-floor 2>/dev/null || echo 0)
export TCK_DEADLINE=${TCK_DEADLINE:-200} TCK_TIMEOUT=${TCK_TIMEOUT:-60}

TAG=oxtck-$$
T=$(mktemp -d "/tmp/$TAG.XXXXXX")
NS=$TAG
DPID=
cleanup() {
  if [ -n "$DPID" ]; then
    kill "$DPID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
  fi
  # Guests outlive the daemon by design: whatever still runs in the
  # namespace (QEMUs a failed script left) goes with it.
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
mkdir -p "$T/root/lib/oxvirt/qemu/run"
ip netns exec "$NS" "$BIN" --root "$T/root" --socket "$T/sock" >"$T/daemon.log" 2>&1 &
DPID=$!
for _ in $(seq 300); do [ -S "$T/sock" ] && break; sleep 0.1; done
[ -S "$T/sock" ] || { echo "tck: oxvirtd did not start"; cat "$T/daemon.log"; exit 2; }
URI="qemu+unix:///system?socket=$T/sock"

# run.sh refuses to start while another TCK run holds its lock: wait.
waited=0
while ! flock -n /tmp/tck-run.lock true; do
  [ "$waited" -lt "${TCK_LOCK_WAIT:-900}" ] || { echo "tck: /tmp/tck-run.lock still held after ${waited}s"; exit 2; }
  [ "$waited" = 0 ] && echo "tck: waiting for another TCK run to finish"
  sleep 5; waited=$((waited + 5))
done

OUT=$T/out
rc=0
unshare -m sh -c '
  set -e
  mount --make-rprivate /
  if [ ! -d /run/libvirt/qemu ]; then
    if [ -d /run/libvirt ]; then mount -t tmpfs tmpfs /run/libvirt; else mount -t tmpfs tmpfs /run; fi
    mkdir -p /run/libvirt/qemu
  fi
  mount --bind "$1/root/lib/oxvirt/qemu/run" /run/libvirt/qemu
  shift
  exec "$@"' tck "$T" env TCK_OUT="$OUT" "$RUN" "$URI" "$@" >"$T/run.out" 2>&1 || rc=$?

rm -rf target/tck
mkdir -p target/tck
cp "$T/run.out" target/tck/run.out
[ -d "$OUT" ] && cp -r "$OUT/summary.txt" "$OUT/rpc.txt" "$OUT/run.info" "$OUT/logs" target/tck/ 2>/dev/null || true
cp "$T/daemon.log" target/tck/daemon.log
if [ "$rc" -ge 2 ] || ! [ -f "$OUT/summary.txt" ]; then
  tail -20 "$T/run.out"; echo "tck: run.sh could not run (exit $rc)"; exit 2
fi
sed -n '/^script /,/^baseline /p' "$OUT/summary.txt" | sed '$d'
sed -n '/^baseline /,$p' "$OUT/summary.txt" | sed '/^not run:/d' | head -n -2
tail -2 "$OUT/summary.txt"
passed=$(tail -1 "$OUT/summary.txt" | sed -n 's/^\([0-9]*\) passed, .*/\1/p')
echo "tck: ${passed:-0} scripts pass (floor $floor); details in target/tck/"
[ "${passed:-0}" -ge "$floor" ] || { echo "tck: fewer scripts pass than the floor (tests/tck-floor)"; exit 1; }
