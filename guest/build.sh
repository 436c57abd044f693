#!/usr/bin/env bash
# Builds oxvirt's tiny test guest: Debian's cloud kernel plus a busybox
# initramfs whose /init prints a ready marker on the serial console and
# powers off when the ACPI power button is pressed (what `virsh shutdown`
# does through QEMU's system_powerdown).
#
#   guest/build.sh [OUTDIR]      default OUTDIR: guest/out
# Produces OUTDIR/vmlinuz and OUTDIR/initrd.img. Needs: apt-get (the kernel
# package is downloaded, not installed), busybox-static, cpio, gzip.
#
# With `oxvirt.net` on the kernel command line the guest also brings up
# its virtio NIC: a DHCP lease (busybox udhcpc, hostname oxguest), the
# marker "OXVIRT-GUEST-LEASE IP ROUTER", three pings of the router
# ("OXVIRT-GUEST-PING ok|failed"), then one ping a second for ever, so
# the interface's counters keep rising.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] && [ "$OUT/initrd.img" -nt "$HERE/build.sh" ]; then
  echo "guest already built in $OUT"; exit 0
fi
[ -x /bin/busybox ] || { echo "busybox-static is needed (apt-get install busybox-static)" >&2; exit 1; }
command -v cpio >/dev/null || { echo "cpio is needed (apt-get install cpio)" >&2; exit 1; }

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
[ -n "$pkg" ] || { echo "cannot find the versioned cloud kernel package (apt-get update first?)" >&2; exit 1; }
apt-get download "$pkg" >/dev/null
dpkg -x ./*.deb kernel
cp kernel/boot/vmlinuz-* "$OUT/vmlinuz"
kver=$(basename kernel/lib/modules/*)

root=initramfs
mkdir -p $root/bin $root/dev $root/proc $root/sys $root/lib/modules
cp /bin/busybox $root/bin/busybox
for m in drivers/acpi/button.ko drivers/input/evdev.ko \
         drivers/virtio/virtio.ko drivers/virtio/virtio_ring.ko \
         drivers/virtio/virtio_pci_legacy_dev.ko drivers/virtio/virtio_pci_modern_dev.ko \
         drivers/virtio/virtio_pci.ko net/core/failover.ko drivers/net/net_failover.ko \
         drivers/net/virtio_net.ko; do
  src=kernel/lib/modules/$kver/kernel/$m
  [ -f "$src" ] || src=$(ls "$src".* 2>/dev/null | head -1)
  [ -f "$src" ] || { echo "kernel module $m not found" >&2; exit 1; }
  case $src in
    *.xz) xz -dc "$src" > $root/lib/modules/$(basename "$m") ;;
    *.zst) zstd -dcq "$src" > $root/lib/modules/$(basename "$m") ;;
    *) cp "$src" $root/lib/modules/ ;;
  esac
done
cat > $root/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
insmod /lib/modules/evdev.ko 2>/dev/null
insmod /lib/modules/button.ko 2>/dev/null
echo "OXVIRT-GUEST-READY"
if grep -q oxvirt.net /proc/cmdline; then
  for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
           failover net_failover virtio_net; do
    insmod /lib/modules/$m.ko 2>/dev/null
  done
  mkdir -p /tmp
  ip link set lo up
  ip link set eth0 up
  if udhcpc -i eth0 -n -q -t 10 -T 2 -s /bin/dhcp-script -x hostname:oxguest; then
    router=$(cat /tmp/router)
    echo "OXVIRT-GUEST-LEASE $(cat /tmp/ip) $router"
    if ping -c 3 -W 2 "$router" >/dev/null; then
      echo "OXVIRT-GUEST-PING ok"
    else
      echo "OXVIRT-GUEST-PING failed"
    fi
    (while :; do ping -c 1 -W 1 "$router" >/dev/null 2>&1; sleep 1; done) &
  else
    echo "OXVIRT-GUEST-LEASE none"
  fi
fi
# Find the power button's event device and wait for a press.
while :; do
  for d in /sys/class/input/event*; do
    [ -e "$d/device/name" ] || continue
    if grep -q "Power Button" "$d/device/name"; then
      node=/dev/input/$(basename "$d")
      if [ ! -c "$node" ]; then
        mkdir -p /dev/input
        mknod "$node" c $(cut -d: -f1 "$d/dev") $(cut -d: -f2 "$d/dev")
      fi
      # One input event is 24 bytes; a press delivers several.
      n=$(dd if="$node" bs=24 count=1 2>/dev/null | wc -c)
      if [ "$n" -gt 0 ]; then
        echo "OXVIRT-GUEST-POWEROFF"
        poweroff -f
      fi
    fi
  done
  sleep 1
done
INIT
chmod +x $root/init
cat > $root/bin/dhcp-script <<'SCRIPT'
#!/bin/busybox sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    r=${router%% *}
    [ -n "$r" ] && ip route add default via "$r" dev "$interface"
    echo "$ip" > /tmp/ip
    echo "$r" > /tmp/router ;;
esac
SCRIPT
chmod +x $root/bin/dhcp-script
(cd $root && find . | cpio -o -H newc 2>/dev/null | gzip -9) > "$OUT/initrd.img"
echo "guest built: $OUT/vmlinuz $OUT/initrd.img (kernel $kver)"
