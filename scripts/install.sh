#!/usr/bin/env bash
# Installs oxvirt's programs from target/release (build first with
# `cargo build --release --workspace`):
#   PREFIX/sbin/oxvirtd, PREFIX/bin/oxvirsh, PREFIX/bin/virt-ssh-helper.
# virt-ssh-helper keeps the name libvirt's clients run on the far end of
# qemu+ssh:// (`virt-ssh-helper URI` through the ssh session's PATH), so an
# unmodified virsh reaches oxvirtd over ssh. The default PREFIX, /usr/local,
# comes before /usr on Debian's PATH (also sshd's default PATH), so it wins
# over libvirt's /usr/bin/virt-ssh-helper without replacing it; a
# virt-ssh-helper at the destination that is not oxvirt's (a libvirt
# package's) is never overwritten.
#
#   scripts/install.sh [--prefix DIR] [--destdir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=/usr/local
DESTDIR=
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) PREFIX=$2; shift 2 ;;
    --destdir) DESTDIR=$2; shift 2 ;;
    *) echo "usage: $0 [--prefix DIR] [--destdir DIR]" >&2; exit 2 ;;
  esac
done
for b in oxvirtd oxvirsh virt-ssh-helper; do
  [ -x "target/release/$b" ] || { echo "target/release/$b missing: cargo build --release --workspace" >&2; exit 1; }
done
helper="$DESTDIR$PREFIX/bin/virt-ssh-helper"
if [ -e "$helper" ] && ! "$helper" --version 2>/dev/null | grep -q '(oxvirt)'; then
  echo "$helper exists and is not oxvirt's (libvirt's?): not replacing it;" >&2
  echo "install under another --prefix that comes first on the ssh session's PATH" >&2
  exit 1
fi
install -d "$DESTDIR$PREFIX/sbin" "$DESTDIR$PREFIX/bin"
install -m 0755 target/release/oxvirtd "$DESTDIR$PREFIX/sbin/oxvirtd"
install -m 0755 target/release/oxvirsh "$DESTDIR$PREFIX/bin/oxvirsh"
install -m 0755 target/release/virt-ssh-helper "$helper"
echo "installed oxvirtd, oxvirsh and virt-ssh-helper under $DESTDIR$PREFIX"
