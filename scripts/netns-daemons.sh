# Sourced by the network benchmark and TCK scripts: daemons inside network
# namespaces of their own. The reference libvirtd 9.0 runs in private mount
# + network namespaces with its own virtlogd and temporary run, state,
# cache, log and configuration directories bound over the system ones, so
# the shared reference instance is never touched.
#
#   netns_up NS                       add namespace NS with its loopback up
#   ref_libvirtd_up NS DIR            libvirtd in NS; sets REFURI
#   oxvirtd_up NS DIR BINARY          oxvirtd in NS under --root DIR; sets OXURI, OXPID
#   netns_daemons_down NS... -- DIR...  stops everything, removes NS and DIR

netns_up() {
  ip netns add "$1"
  ip netns exec "$1" ip link set lo up
}

ref_libvirtd_up() {
  local ns=$1 dir=$2
  mkdir -p "$dir/run" "$dir/lib" "$dir/cache" "$dir/log" "$dir/etc"
  cp -a /etc/libvirt/. "$dir/etc/"
  ip netns exec "$ns" unshare -m sh -c "
    mount --make-rprivate / &&
    mount --bind $dir/run /run/libvirt &&
    mount --bind $dir/lib /var/lib/libvirt &&
    mount --bind $dir/cache /var/cache/libvirt &&
    mount --bind $dir/log /var/log/libvirt &&
    mount --bind $dir/etc /etc/libvirt &&
    virtlogd -d -p $dir/virtlogd.pid &&
    exec libvirtd -d -p $dir/libvirtd.pid"
  for _ in $(seq 200); do [ -S "$dir/run/libvirt-sock" ] && break; sleep 0.05; done
  [ -S "$dir/run/libvirt-sock" ] || { echo "libvirtd did not start" >&2; return 1; }
  REFURI="qemu:///system?socket=$dir/run/libvirt-sock"
}

oxvirtd_up() {
  local ns=$1 dir=$2 bin=$3
  mkdir -p "$dir"
  ip netns exec "$ns" "$bin" --root "$dir" --socket "$dir/sock" >"$dir/daemon.log" 2>&1 &
  OXPID=$!
  for _ in $(seq 200); do [ -S "$dir/sock" ] && break; sleep 0.05; done
  [ -S "$dir/sock" ] || { echo "oxvirtd did not start:" >&2; cat "$dir/daemon.log" >&2; return 1; }
  OXURI="qemu:///system?socket=$dir/sock"
}

netns_daemons_down() {
  local ns dirs=() nss=() seen=0
  for a in "$@"; do
    if [ "$a" = -- ]; then seen=1; continue; fi
    if [ $seen = 0 ]; then nss+=("$a"); else dirs+=("$a"); fi
  done
  for d in "${dirs[@]}"; do
    for p in "$d/libvirtd.pid" "$d/virtlogd.pid"; do
      [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
    done
  done
  [ -n "${OXPID:-}" ] && kill "$OXPID" 2>/dev/null || true
  sleep 1
  for ns in "${nss[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  for d in "${dirs[@]}"; do rm -rf "$d"; done
}
