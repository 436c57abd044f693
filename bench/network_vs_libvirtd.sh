#!/usr/bin/env bash
# One command: virtual network latency of the reference libvirtd 9.0 and of
# oxvirtd in one run, each daemon inside a network namespace of its own
# (the reference in private mount + network namespaces, with its own
# virtlogd, so the shared reference instance is not touched).
#
#   bench/network_vs_libvirtd.sh [RUNS] [GUESTS]     (defaults 20, 50)
#
# Measures, through python3-libvirt (one connection, the API call timed):
#   - net-start and net-destroy of a NAT network with DHCP (RUNS each);
#   - starting GUESTS guests (64 MiB, KVM, no guest OS) with one
#     <interface type='network'> each on one network, then destroying them.
# Prints medians and the ratios oxvirtd/libvirtd.
set -euo pipefail
RUNS=${1:-20}
GUESTS=${2:-50}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
for p in dnsmasq nft iptables libvirtd virtlogd qemu-system-x86_64; do
  command -v "$p" >/dev/null || { echo "$p is not installed"; exit 1; }
done
[ -w /dev/kvm ] || echo "warning: /dev/kvm is not usable; the guest part needs KVM" >&2

cargo build --release -q -p oxvirtd --manifest-path "$REPO/Cargo.toml"

. "$REPO/scripts/netns-daemons.sh"
TAG=oxnetbench-$$
T=$(mktemp -d /tmp/$TAG.XXXXXX)
trap 'netns_daemons_down $TAG-ref $TAG-ox -- $T/ref $T/ox; rm -rf "$T"' EXIT
netns_up $TAG-ref
netns_up $TAG-ox
ref_libvirtd_up $TAG-ref "$T/ref"
oxvirtd_up $TAG-ox "$T/ox" "$REPO/target/release/oxvirtd"

bench() {
$PY - "$1" "$RUNS" "$GUESTS" <<'PYEOF'
import sys, time, statistics, libvirt
uri, runs, guests = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = libvirt.open(uri)
net = c.networkDefineXML("""<network><name>benchnet</name><forward mode='nat'/>
<bridge name='oxbench0'/><ip address='10.123.0.1' netmask='255.255.255.0'>
<dhcp><range start='10.123.0.2' end='10.123.0.254'/></dhcp></ip></network>""")
st, de = [], []
for _ in range(runs):
    t = time.perf_counter(); net.create(); st.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter(); net.destroy(); de.append((time.perf_counter() - t) * 1000)
print("net-start median %.2f ms" % statistics.median(st))
print("net-destroy median %.2f ms" % statistics.median(de))
net.create()
doms = []
for i in range(guests):
    doms.append(c.defineXML("""<domain type='kvm'><name>bench%d</name><memory unit='MiB'>64</memory>
<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices>
<emulator>/usr/bin/qemu-system-x86_64</emulator>
<interface type='network'><source network='benchnet'/><model type='virtio'/></interface>
</devices></domain>""" % i))
t = time.perf_counter()
for d in doms:
    d.create()
print("start %d guests total %.1f ms" % (guests, (time.perf_counter() - t) * 1000))
ports = len(net.listAllPorts())
t = time.perf_counter()
for d in doms:
    d.destroy()
print("destroy %d guests total %.1f ms" % (guests, (time.perf_counter() - t) * 1000))
print("ports while running: %d" % ports)
for d in doms:
    d.undefine()
net.destroy(); net.undefine()
PYEOF
}

echo "== reference libvirtd ($RUNS runs, $GUESTS guests)"
bench "$REFURI" | tee "$T/ref.txt"
echo "== oxvirtd ($RUNS runs, $GUESTS guests)"
bench "$OXURI" | tee "$T/ox.txt"
echo "== ratios (oxvirtd / libvirtd)"
$PY - "$T/ref.txt" "$T/ox.txt" <<'PYEOF'
import sys, re
def read(p):
    out = {}
    for l in open(p):
        m = re.match(r"(.+?) (?:median|total) ([\d.]+) ms", l)
        if m: out[m.group(1)] = float(m.group(2))
    return out
a, b = read(sys.argv[1]), read(sys.argv[2])
for k in a:
    if k in b:
        print("%-22s %10.2f ms %10.2f ms %8.3f" % (k, a[k], b[k], b[k] / a[k]))
PYEOF
