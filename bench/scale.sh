#!/usr/bin/env bash
# bench/scale.sh [N] [CLIENTS] [SECONDS]: oxvirtd against libvirtd 9.0 at scale,
# in one run, with the same client (go-libvirt, bench/scale/client.go):
#   - N domains on the test driver: define all, listAllDomains, undefine all,
#     and the daemon's RSS after undefining them against its idle RSS;
#   - daemon start with N persistent QEMU-driver definitions on disk: time
#     until the first call is answered and until listAllDomains returns all
#     N (median of 3 starts);
#   - CLIENTS concurrent clients, each with DEPTH (OXVIRT_SCALE_DEPTH, 4)
#     calls in flight, for SECONDS: aggregate calls per second, the slowest
#     call any client saw and the fewest calls a client completed.
# libvirtd is a private one (Debian's binary, ours to restart and fill), in
# a mount and network namespace of its own with private /etc, /run, /var/lib,
# /var/cache and /var/log libvirt directories; its socket is in the work
# directory. The shared reference libvirtd is not touched. Needs root.
# A benchmark, not a test: it prints ratios and fails on nothing but errors.
# Client: Debian's golang-go and golang-github-digitalocean-go-libvirt-dev.
set -euo pipefail
N=${1:-10000}
CLIENTS=${2:-1000}
SECS=${3:-10}
DEPTH=${OXVIRT_SCALE_DEPTH:-4}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
QEMU=${OXVIRT_QEMU:-/usr/bin/qemu-system-x86_64}
WORK=$(mktemp -d /tmp/oxscale.XXXXXX)
LVPID= OXPID=
stop_daemons() {
  for p in $OXPID $LVPID; do kill "$p" 2>/dev/null || true; done
  for p in $OXPID $LVPID; do
    for _ in $(seq 600); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null || true
  done
  OXPID= LVPID=
}
cleanup() {
  stop_daemons
  rm -rf "$WORK"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "bench/scale.sh needs root (a private libvirtd)" >&2; exit 1; }
command -v libvirtd >/dev/null || { echo "libvirtd is not installed (../shared/tools/reference-libvirtd.sh installs it)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

# OXVIRTD=PATH runs that binary instead of building a release one.
if [ -z "${OXVIRTD:-}" ]; then
  echo "building oxvirtd (release)..." >&2
  (cd "$REPO" && cargo build --release -q -p oxvirtd)
  OXVIRTD=$REPO/target/release/oxvirtd
fi
mkdir -p "$REPO/target/tmp/scale-go"
CLIENT=$WORK/client
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$REPO/target/tmp/scale-go" GOFLAGS= \
  GOPROXY=off GOENV=off CGO_ENABLED=0 go build -o "$CLIENT" "$HERE/scale/client.go"

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
now_ns() { date +%s%N; }

# ---- the daemons -------------------------------------------------------------
LV=$WORK/lv
mkdir -p "$LV"/{etc,run,lib,cache,log,sock}
cat > "$LV/etc/libvirtd.conf" <<CONF
unix_sock_dir = "$LV/sock"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
max_clients = 5000
max_anonymous_clients = 5000
max_queued_clients = 1000
log_outputs = "3:file:$LV/libvirtd.log"
CONF
cat > "$LV/etc/qemu.conf" <<CONF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
stdio_handler = "file"
CONF
LVSOCK=$LV/sock/libvirt-sock
mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt
start_libvirtd() {
  rm -f "$LVSOCK"
  unshare -m -n --propagation private bash -c "
    mount --bind '$LV/etc' /etc/libvirt
    mount --bind '$LV/run' /run/libvirt
    mount --bind '$LV/lib' /var/lib/libvirt
    mount --bind '$LV/cache' /var/cache/libvirt
    mount --bind '$LV/log' /var/log/libvirt
    exec libvirtd -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid
  " >/dev/null 2>>"$LV/stderr" &
  LVPID=$!
}
OXSOCK=$WORK/ox.sock
start_oxvirtd() {
  rm -f "$OXSOCK"
  "$OXVIRTD" --root "$WORK/ox" --socket "$OXSOCK" >/dev/null 2>>"$WORK/oxvirtd.log" &
  OXPID=$!
}
# The daemon's pid (libvirtd is exec'd by the unshare child: same pid).
pid_of() { if [ "$1" = libvirtd ]; then echo "$LVPID"; else echo "$OXPID"; fi; }
sock_of() { if [ "$1" = libvirtd ]; then echo "$LVSOCK"; else echo "$OXSOCK"; fi; }
start_daemon() { if [ "$1" = libvirtd ]; then start_libvirtd; else start_oxvirtd; fi; }
# Starts a daemon and waits until it answers; prints the client's line.
# Never in a subshell: the daemon's pid must reach stop_daemons.
start_wait() {
  local d=$1 n=$2 uri=$3 t0
  t0=$(now_ns)
  start_daemon "$d"
  "$CLIENT" start "$(sock_of "$d")" "$uri" "$n" "$t0"
}
fig() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p"; }
declare -A R

# ---- 1. N domains on the test driver ----------------------------------------
for d in libvirtd oxvirtd; do
  echo "$d: $N test-driver domains..." >&2
  start_wait "$d" 0 test:///default >/dev/null
  sleep 1
  idle=$(rss "$(pid_of "$d")")
  out=$("$CLIENT" tenk "$(sock_of "$d")" test:///default "$N")
  sleep 1
  after=$(rss "$(pid_of "$d")")
  R[$d.define]=$(echo "$out" | fig define)
  R[$d.list]=$(echo "$out" | fig list)
  R[$d.undefine]=$(echo "$out" | fig undefine)
  R[$d.idle]=$idle R[$d.after]=$after
  echo "  $out idle_rss=${idle}KiB after_rss=${after}KiB" >&2
  stop_daemons
done

# ---- 2. daemon start with N persistent QEMU definitions ----------------------
KIND=qemu
for d in libvirtd oxvirtd; do
  echo "$d: defining $N QEMU domains..." >&2
  start_wait "$d" 0 qemu:///system >/dev/null
  "$CLIENT" define "$(sock_of "$d")" qemu:///system "$N" scale- "$KIND" "$QEMU" >&2
  stop_daemons
done
for d in libvirtd oxvirtd; do
  firsts=() alls=()
  for r in 1 2 3; do
    start_wait "$d" "$N" qemu:///system > "$WORK/start.out"
    out=$(cat "$WORK/start.out")
    echo "  $d start $r: $out" >&2
    firsts+=("$(echo "$out" | fig first_answer)")
    alls+=("$(echo "$out" | fig all_listed)")
    stop_daemons
  done
  R[$d.first]=$(printf '%s\n' "${firsts[@]}" | sort -g | sed -n 2p)
  R[$d.all]=$(printf '%s\n' "${alls[@]}" | sort -g | sed -n 2p)
done

# ---- 3. CLIENTS concurrent clients -------------------------------------------
for d in libvirtd oxvirtd; do
  echo "$d: $CLIENTS clients x $DEPTH calls in flight, ${SECS}s..." >&2
  start_wait "$d" 0 test:///default >/dev/null
  out=$("$CLIENT" clients "$(sock_of "$d")" test:///default "$CLIENTS" "$DEPTH" "$SECS")
  echo "  $out" >&2
  R[$d.tput]=$(echo "$out" | fig calls_per_s)
  R[$d.worst]=$(echo "$out" | fig worst_latency)
  R[$d.minc]=$(echo "$out" | fig min_client_calls)
  R[$d.errs]=$(echo "$out" | fig errors)
  stop_daemons
done

# ---- the table ----------------------------------------------------------------
row() { # label libvirtd oxvirtd ratio target
  printf '%-44s %12s %12s %8s   %s\n' "$@"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
echo
row "figure" "libvirtd" "oxvirtd" "ratio" "target"
for k in define:"$N domains: define all (s)" list:"$N domains: listAllDomains (s)" \
         undefine:"$N domains: undefine all (s)"; do
  f=${k%%:*}; label=${k#*:}
  row "$label" "${R[libvirtd.$f]}" "${R[oxvirtd.$f]}" "$(ratio "${R[libvirtd.$f]}" "${R[oxvirtd.$f]}")" ">= 4x"
done
for d in libvirtd oxvirtd; do
  R[$d.grow]=$(awk -v a="${R[$d.after]}" -v i="${R[$d.idle]}" 'BEGIN { printf "%+.0f%%", (a - i) * 100 / i }')
done
row "RSS idle (KiB)" "${R[libvirtd.idle]}" "${R[oxvirtd.idle]}" "" ""
row "RSS after undefining all (KiB)" "${R[libvirtd.after]}" "${R[oxvirtd.after]}" "" ""
row "RSS after undefining, against idle" "${R[libvirtd.grow]}" "${R[oxvirtd.grow]}" "" "oxvirtd within 20%"
row "start, $N definitions: first answer (s)" "${R[libvirtd.first]}" "${R[oxvirtd.first]}" "$(ratio "${R[libvirtd.first]}" "${R[oxvirtd.first]}")" ">= 4x"
row "start, $N definitions: all listed (s)" "${R[libvirtd.all]}" "${R[oxvirtd.all]}" "$(ratio "${R[libvirtd.all]}" "${R[oxvirtd.all]}")" ">= 4x"
row "$CLIENTS clients: calls/s" "${R[libvirtd.tput]}" "${R[oxvirtd.tput]}" "$(ratio "${R[oxvirtd.tput]}" "${R[libvirtd.tput]}")" ">= 2x"
row "$CLIENTS clients: slowest call (s)" "${R[libvirtd.worst]}" "${R[oxvirtd.worst]}" "$(ratio "${R[libvirtd.worst]}" "${R[oxvirtd.worst]}")" ""
row "$CLIENTS clients: fewest calls of a client" "${R[libvirtd.minc]}" "${R[oxvirtd.minc]}" "" "> 0 (none starved)"
row "$CLIENTS clients: failed calls" "${R[libvirtd.errs]}" "${R[oxvirtd.errs]}" "" "0"
echo "(ratios: libvirtd/oxvirtd for times, oxvirtd/libvirtd for throughput)"
