#!/usr/bin/env bash
# The README's first Quick-start command: builds oxvirt and runs the main
# job. It starts oxvirtd with its own state directory, boots the project's
# tiny Linux guest under QEMU (TCG), and manages it with oxvirsh over
# libvirt's wire protocol: define, start, suspend/resume, save/restore,
# shutdown by ACPI, undefine. It ends with an oxvirsh session against the
# embedded test:///default driver (no daemon), including snapshots.
# Needs Debian 12 with Rust; installs qemu-system-x86, busybox-static and
# cpio if missing (root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

need=()
for p in qemu-system-x86 busybox-static cpio; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  $SUDO apt-get update -qq
  qv=$(apt-cache policy qemu-system-x86 | sed -n 's/ *Candidate: //p')
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    --allow-downgrades "${need[@]}" ${qv:+"qemu-utils=$qv"} >/dev/null
fi

echo "== build"
cargo build --release --workspace 2>&1 | tail -1
guest/build.sh >/dev/null
OX=$ROOT/target/release/oxvirsh

work=$(mktemp -d)
daemon=
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  pkill -f "qemu-system-x86_64.*$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== start oxvirtd (state in $work)"
"$ROOT/target/release/oxvirtd" --root "$work" --socket "$work/sock" 2>"$work/oxvirtd.log" &
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
    <cmdline>console=ttyS0 quiet</cmdline>
  </os>
  <features><acpi/></features>
  <devices>
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

echo "== a real VM through oxvirtd (QEMU, TCG)"
"$OX" -c "$URI" "define $work/demo.xml; start demo; list --all; dominfo demo"
wait_for OXVIRT-GUEST-READY && echo "(guest booted: its console says OXVIRT-GUEST-READY)"
"$OX" -c "$URI" "suspend demo; domstate demo --reason; resume demo; domstate demo --reason"
"$OX" -c "$URI" "save demo $work/demo.save; domstate demo --reason; restore $work/demo.save; domstate demo --reason"
echo "Domain 'demo' is being shutdown (ACPI power button)"
shutdown_guest
"$OX" -c "$URI" "domstate demo --reason; undefine demo; list --all"

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
