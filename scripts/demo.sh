#!/usr/bin/env bash
# The README's first Quick-start command: builds oxvirt and runs the main
# job. It starts oxvirtd with its own state directory, boots the project's
# tiny Linux guest under QEMU (TCG), and manages it with oxvirsh over
# libvirt's wire protocol: a storage pool with a qcow2 volume for the
# guest's disk, a NAT network with DHCP for its NIC (the guest takes a
# lease), then define, start, suspend/resume, save/restore, shutdown by
# ACPI, undefine, and everything removed again. It ends with an oxvirsh
# session against the embedded test:///default driver (no daemon),
# including snapshots.
# The daemon runs in a network namespace of its own (ip netns), so the
# network's bridge, dnsmasq and firewall table never touch the host's.
# Needs Debian 12 with Rust and root (or sudo); installs qemu-system-x86,
# qemu-utils, busybox-static, cpio, dnsmasq, nftables and iproute2 if
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

need=()
for p in qemu-system-x86 qemu-utils busybox-static cpio dnsmasq-base nftables iproute2; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  $SUDO apt-get update -qq
  qv=$(apt-cache policy qemu-system-x86 | sed -n 's/ *Candidate: //p')
  # qemu-utils is pinned to QEMU's own version (a newer one may conflict).
  pkgs=()
  for p in "${need[@]}"; do [ "$p" = qemu-utils ] || pkgs+=("$p"); done
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    --allow-downgrades "${pkgs[@]}" ${qv:+"qemu-utils=$qv"} >/dev/null
fi

echo "== build"
cargo build --release --workspace 2>&1 | tail -1
guest/build.sh >/dev/null
OX=$ROOT/target/release/oxvirsh

work=$(mktemp -d)
NS=oxdemo-$$
daemon=
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  pkill -f "qemu-system-x86_64.*$work" 2>/dev/null || true
  pkill -f "dnsmasq.*$work" 2>/dev/null || true
  $SUDO ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== start oxvirtd in network namespace $NS (state in $work)"
$SUDO ip netns add "$NS"
$SUDO ip -n "$NS" link set lo up
$SUDO ip netns exec "$NS" "$ROOT/target/release/oxvirtd" --root "$work" --socket "$work/sock" \
  2>"$work/oxvirtd.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$work/sock" ] && break; sleep 0.1; done
URI="qemu+unix:///system?socket=$work/sock"

cat > "$work/demo.xml" <<XML
<domain type='qemu'>
  <name>demo</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>$ROOT/guest/out/vmlinuz</kernel>
    <initrd>$ROOT/guest/out/initrd.img</initrd>
    <cmdline>console=ttyS0 oxvirt.net no_timer_check quiet</cmdline>
  </os>
  <features><acpi/></features>
  <devices>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source pool='demo' volume='demo.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <source network='demo-net'/>
      <mac address='52:54:00:de:00:01'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'><source path='$work/serial.log'/></serial>
  </devices>
</domain>
XML

wait_for() { # wait_for PATTERN: the guest's serial console shows it
  for _ in $(seq 300); do grep -q "$1" "$work/serial.log" 2>/dev/null && return 0; sleep 0.1; done
  echo "guest did not print '$1'" >&2; return 1
}
# Presses the ACPI button until the guest powers off (a guest busy right
# after a restore may miss the first press), up to a minute.
shutdown_guest() {
  for _ in $(seq 12); do
    "$OX" -q -c "$URI" shutdown demo >/dev/null
    for _ in $(seq 50); do
      [ "$("$OX" -q -c "$URI" domstate demo)" = "shut off" ] && return 0
      sleep 0.1
    done
  done
  echo "the guest did not power off within a minute" >&2; return 1
}

cat > "$work/net.xml" <<XML
<network>
  <name>demo-net</name>
  <forward mode='nat'/>
  <bridge name='oxdemo0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.122.10' end='192.168.122.100'/></dhcp>
  </ip>
</network>
XML

echo "== a storage pool and a volume"
"$OX" -c "$URI" "pool-define-as demo dir --target $work/pool; pool-build demo; pool-start demo;
  vol-create-as demo demo.qcow2 64M --format qcow2; vol-list demo --details; pool-list --all --details"

echo "== a NAT network with DHCP (bridge, dnsmasq and nftables inside $NS)"
"$OX" -c "$URI" "net-define $work/net.xml; net-start demo-net; net-list --all; net-info demo-net"

echo "== a real VM through oxvirtd (QEMU, TCG): disk from the pool, NIC on the network"
"$OX" -c "$URI" "define $work/demo.xml; start demo; list --all; dominfo demo; domblklist demo; domiflist demo"
wait_for OXVIRT-GUEST-READY && echo "(guest booted: its console says OXVIRT-GUEST-READY)"
wait_for OXVIRT-GUEST-LEASE && grep -a -m1 OXVIRT-GUEST-LEASE "$work/serial.log" | tr -d '\r'
"$OX" -c "$URI" "net-dhcp-leases demo-net; domifaddr demo --source lease"
"$OX" -c "$URI" "suspend demo; domstate demo --reason; resume demo; domstate demo --reason"
"$OX" -c "$URI" "save demo $work/demo.save; domstate demo --reason; restore $work/demo.save; domstate demo --reason"
echo "Domain 'demo' is being shutdown (ACPI power button)"
shutdown_guest
"$OX" -c "$URI" "domstate demo --reason; undefine demo; list --all"
"$OX" -c "$URI" "net-destroy demo-net; net-undefine demo-net; net-list --all;
  vol-delete demo.qcow2 --pool demo; pool-destroy demo; pool-delete demo; pool-undefine demo; pool-list --all"

echo "== the embedded test:///default driver (no daemon)"
cat > "$work/test.xml" <<'XML'
<domain type='test'>
  <name>demo</name>
  <memory unit='MiB'>256</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/var/lib/oxvirt/images/demo.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'><source network='default'/></interface>
  </devices>
</domain>
XML
"$OX" -c test:///default "
  list --all;
  define $work/test.xml; start demo; list --all;
  suspend demo; domstate demo --reason; resume demo;
  snapshot-create-as demo first --description 'demo snapshot'; snapshot-list demo;
  destroy demo; domstate demo --reason"
