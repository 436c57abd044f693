#!/usr/bin/env bash
# Soak (not CI): start/destroy cycles of a KVM guest with no OS through
# oxvirtd, as a client would drive them (python3-libvirt over the unix
# socket). Prints the daemon's RSS, fd and thread counts as it goes, and at
# the end the QEMU processes and run/ files left, with a verdict: RSS flat
# (within 10% after warm-up), fds flat, no QEMU left behind.
#
#   bench/qemu_soak.sh [CYCLES]          (default 10000)
#   SAMPLES=N: how many progress lines (default 20)
set -euo pipefail
CYCLES=${1:-10000}
SAMPLES=${SAMPLES:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
QEMU=/usr/bin/qemu-system-x86_64

[ -x "$QEMU" ] || { echo "qemu-system-x86_64 is not installed"; exit 1; }
$PY -c 'import libvirt' 2>/dev/null || { echo "python3-libvirt is not installed"; exit 1; }
KIND=kvm
[ -w /dev/kvm ] || { echo "warning: /dev/kvm is not usable; running under TCG" >&2; KIND=qemu; }

cargo build --release -q -p oxvirtd --manifest-path "$REPO/Cargo.toml"
ROOT=$(mktemp -d /tmp/oxsoak.XXXXXX)
"$REPO/target/release/oxvirtd" --root "$ROOT" --socket "$ROOT/sock" >"$ROOT/daemon.log" 2>&1 &
OXPID=$!
cleanup() {
  kill "$OXPID" 2>/dev/null || true
  wait "$OXPID" 2>/dev/null || true
  for s in "$ROOT"/lib/oxvirt/qemu/run/*.json; do
    [ -f "$s" ] && kill -9 "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$s")" 2>/dev/null || true
  done
  rm -rf "$ROOT"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$ROOT/sock" ] && break; sleep 0.05; done

$PY - "$ROOT" "$OXPID" "$CYCLES" "$SAMPLES" "$KIND" "$QEMU" <<'EOF'
import os, sys, time, libvirt
root, pid, cycles, samples, kind, qemu = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
libvirt.registerErrorHandler(lambda *a: None, None)
name = "soak%d" % os.getpid()

def proc(pid):
    rss = 0
    threads = 0
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS:"):
            rss = int(l.split()[1])
        if l.startswith("Threads:"):
            threads = int(l.split()[1])
    return rss, len(os.listdir("/proc/%d/fd" % pid)), threads

def qemus():
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
            st = open("/proc/%s/stat" % p).read()
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"qemu-system-x86_64") and \
           any(a.startswith(("guest=%s," % name).encode()) for a in cmd) and \
           st[st.rfind(")") + 2] != "Z":
            out.append(int(p))
    return out

conn = libvirt.open("qemu+unix:///system?socket=%s/sock" % root)
dom = conn.defineXML(
    "<domain type='%s'><name>%s</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>"
    "<os><type arch='x86_64'>hvm</type></os><devices><emulator>%s</emulator></devices></domain>"
    % (kind, name, qemu))
every = max(1, cycles // samples)
print("%8s %9s %9s %5s %8s %9s" % ("cycles", "seconds", "RSS KiB", "fds", "threads", "cycles/s"))
rows = []
t0 = last = time.time()
rss, fds, thr = proc(pid)
print("%8d %9.1f %9d %5d %8d %9s" % (0, 0, rss, fds, thr, "-"))
rows.append((0, rss, fds))
errors = 0
for i in range(1, cycles + 1):
    try:
        dom.create()
        dom.destroy()
    except libvirt.libvirtError as e:
        errors += 1
        print("cycle %d: %s" % (i, e))
        if errors > 10:
            break
    if i % every == 0 or i == cycles:
        now = time.time()
        rss, fds, thr = proc(pid)
        print("%8d %9.1f %9d %5d %8d %9.1f" % (i, now - t0, rss, fds, thr, every / (now - last)), flush=True)
        rows.append((i, rss, fds))
        last = now
dom.undefine()
conn.close()
time.sleep(0.5)
left = qemus()
run = os.listdir(os.path.join(root, "lib/oxvirt/qemu/run"))
warm = [r for r in rows if r[0] >= cycles // 10] or rows
rmin, rmax = min(r[1] for r in warm), max(r[1] for r in warm)
fd_set = sorted(set(r[2] for r in warm))
print()
print("QEMU processes left: %d %s; run/ files left: %s; errors: %d" % (len(left), left, run or "none", errors))
print("RSS after warm-up: %d..%d KiB (spread %.1f%%); fds after warm-up: %s" % (
    rmin, rmax, 100.0 * (rmax - rmin) / rmin, fd_set))
ok = not left and not run and errors == 0 and (rmax - rmin) <= 0.10 * rmin and len(fd_set) == 1
print("verdict:", "flat, nothing left behind" if ok else "NOT FLAT or something left")
sys.exit(0 if ok else 1)
EOF
