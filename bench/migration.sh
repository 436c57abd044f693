#!/usr/bin/env bash
# One command: live migration between two oxvirtd hosts against its floor,
# in one run. Two network namespaces joined by a veth pair (10.78.0.1 ⇄
# 10.78.0.2), an oxvirtd in each (own root, host UUID, TCP listener), and
# a TCG guest of MEMORY_MIB whose firmware loaded a TOUCHED_MIB initrd of
# random bytes (the tiny guest's kernel then finds no root and idles), so
# that much memory is really copied.
#
#   bench/migration.sh [RUNS] [MEMORY_MIB] [TOUCHED_MIB]    (10, 512, 256)
#
# oxvirtd: python3-libvirt's migrateToURI3 with LIVE|PEER2PEER|PERSIST_DEST,
# back and forth; total = the call's wall time, downtime = the source's
# completed job statistics (from the stop at the switch-over).
# Floor: the same two QEMU command lines driven over QMP by this script:
# start the destination (-incoming defer), migrate-incoming, migrate,
# wait for completed, cont; total = from the destination's start to the
# cont, downtime = QEMU's own figure. Prints medians and the ratios
# (targets: total <= 1.2x, downtime <= 1.5x the floor's).
#
# OXVIRTD=path picks the daemon binary (default: a release build).
set -euo pipefail
RUNS=${1:-10}
MEM=${2:-512}
TOUCH=${3:-256}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
if [ -z "${OXVIRTD:-}" ]; then
  cargo build --release -q -p oxvirtd --manifest-path "$REPO/Cargo.toml"
  OXVIRTD=$REPO/target/release/oxvirtd
fi
bash "$REPO/guest/build.sh" >/dev/null
ROOT=$(mktemp -d /tmp/migration-bench.XXXXXX)
NA=migbench-a-$$ NB=migbench-b-$$
cleanup() {
  for ns in $NA $NB; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$ROOT"
}
trap cleanup EXIT
ip netns add $NA; ip netns add $NB
ip -n $NA link set lo up; ip -n $NB link set lo up
ip -n $NA link add mb0 type veth peer name mb1 netns $NB
ip -n $NA addr add 10.78.0.1/24 dev mb0; ip -n $NA link set mb0 up
ip -n $NB addr add 10.78.0.2/24 dev mb1; ip -n $NB link set mb1 up
for n in 1 2; do
  d=$ROOT/host$n; mkdir -p "$d"
  cat >"$d/oxvirtd.conf" <<EOF
listen_tcp = 1
listen_tls = 0
listen_addr = "10.78.0.$n"
auth_tcp = "none"
tcp_remote_unauthenticated = 1
host_uuid = "0b6f3c9e-5d2a-4e71-9c1b-7a3d2e4f5a6$n"
migration_host = "10.78.0.$n"
EOF
  ns=$NA; [ $n = 2 ] && ns=$NB
  ip netns exec $ns "$OXVIRTD" --listen --root "$d" --socket "$d/sock" -f "$d/oxvirtd.conf" >"$d/daemon.log" 2>&1 &
  disown
done
for n in 1 2; do
  for _ in $(seq 200); do [ -S "$ROOT/host$n/sock" ] && break; sleep 0.05; done
done
head -c $((TOUCH * 1024 * 1024)) /dev/urandom >"$ROOT/touched.img"
/usr/bin/python3 - "$ROOT" "$RUNS" "$MEM" "$REPO/guest/out/vmlinuz" "$NA" "$NB" <<'PYEOF'
import json, os, socket, statistics, subprocess, sys, time
import libvirt

root, runs, mem, kernel, na, nb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
initrd = f"{root}/touched.img"
QEMU = "/usr/bin/qemu-system-x86_64"
libvirt.registerErrorHandler(lambda *_: None, None)


def wait_text(path, text, timeout=300):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            with open(path, errors="replace") as f:
                if text in f.read():
                    return
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{text!r} never appeared in {path}")


# ---- oxvirtd ---------------------------------------------------------------
uris = [f"qemu+unix:///system?socket={root}/host{n}/sock" for n in (1, 2)]
peers = ["qemu+tcp://10.78.0.1/system", "qemu+tcp://10.78.0.2/system"]
conns = [libvirt.open(u) for u in uris]
serial = f"{root}/ox-serial.log"
xml = f"""<domain type='qemu'><name>migbench</name><memory unit='MiB'>{mem}</memory>
<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type><kernel>{kernel}</kernel>
<initrd>{initrd}</initrd><cmdline>console=ttyS0 panic=0</cmdline></os><devices>
<emulator>{QEMU}</emulator><serial type='file'><source path='{serial}'/></serial>
</devices></domain>"""
dom = conns[0].defineXML(xml)
dom.create()
wait_text(serial, "Linux version")
flags = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST
ox_total, ox_down = [], []
for i in range(runs):
    src, dst = i % 2, (i + 1) % 2
    d = conns[src].lookupByName("migbench")
    t0 = time.perf_counter()
    d.migrateToURI3(peers[dst], {}, flags)
    ox_total.append((time.perf_counter() - t0) * 1000)
    stats = d.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    ox_down.append(stats.get("downtime", 0))
    assert conns[dst].lookupByName("migbench").state()[0] == libvirt.VIR_DOMAIN_RUNNING
conns[runs % 2].lookupByName("migbench").destroy()

# ---- floor: the same QEMUs over QMP ------------------------------------------------
class Qmp:
    def __init__(self, path):
        t0 = time.time()
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                if time.time() - t0 > 60:
                    raise
                time.sleep(0.005)
        self.f = self.s.makefile("rw")
        self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise RuntimeError(f"{name}: {r['error']}")


def qemu(ns, tag, incoming):
    qmp = f"{root}/floor-{tag}.qmp"
    if os.path.exists(qmp):
        os.unlink(qmp)
    argv = ["ip", "netns", "exec", ns, QEMU, "-name", "floor", "-machine", "pc,accel=tcg",
            "-m", str(mem), "-smp", "1", "-kernel", kernel, "-initrd", initrd,
            "-append", "console=ttyS0 panic=0", "-display", "none", "-nodefaults",
            "-serial", f"file:{root}/floor-{tag}.log", "-qmp", f"unix:{qmp},server=on,wait=off"]
    if incoming:
        argv += ["-incoming", "defer"]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    return p, Qmp(qmp)


procs = {}
src_p, src_q = qemu(na, "0", False)
wait_text(f"{root}/floor-0.log", "Linux version")
fl_total, fl_down = [], []
addrs = ["10.78.0.1", "10.78.0.2"]
for i in range(runs):
    src, dst = i % 2, (i + 1) % 2
    t0 = time.perf_counter()
    dst_p, dst_q = qemu([na, nb][dst], str(i + 1), True)
    dst_q.cmd("migrate-set-capabilities", capabilities=[{"capability": "events", "state": True}])
    dst_q.cmd("migrate-incoming", uri=f"tcp:0.0.0.0:4444")
    src_q.cmd("migrate-set-parameters", **{"max-bandwidth": 2**62})
    src_q.cmd("migrate", uri=f"tcp:{addrs[dst]}:4444")
    while True:
        r = src_q.cmd("query-migrate")
        if r.get("status") == "completed":
            break
        if r.get("status") in ("failed", "cancelled"):
            raise SystemExit(f"floor migration failed: {r}")
        time.sleep(0.0005)
    while dst_q.cmd("query-migrate").get("status") != "completed":
        time.sleep(0.0005)
    dst_q.cmd("cont")
    fl_total.append((time.perf_counter() - t0) * 1000)
    fl_down.append(r.get("downtime", 0))
    src_p.kill(); src_p.wait()
    src_p, src_q = dst_p, dst_q
src_p.kill(); src_p.wait()

med = statistics.median
print(f"live migration, {mem} MiB guest with {os.path.getsize(initrd) >> 20} MiB touched, TCG, "
      f"veth between two namespaces; medians of {runs} (ms)")
print(f"{'':10} {'total':>9} {'downtime':>9}")
print(f"{'floor':10} {med(fl_total):9.1f} {med(fl_down):9.1f}")
print(f"{'oxvirtd':10} {med(ox_total):9.1f} {med(ox_down):9.1f}")
print(f"{'ratio':10} {med(ox_total) / med(fl_total):9.2f} {med(ox_down) / max(med(fl_down), 1):9.2f}"
      "   (targets: total <= 1.2, downtime <= 1.5)")
PYEOF
