#!/usr/bin/env bash
# libvirt-tck's networks scripts that can run inside a network namespace,
# against the reference libvirtd 9.0 and against oxvirtd, each daemon in a
# namespace of its own; prints both summaries and each script's status.
#
#   scripts/tck-networks.sh            (needs ../shared/tools/tck)
#
# The group's scripts 050-110 run by default; 300-330 (a guest on an
# isolated, NAT, routed and open network) are named explicitly. 100 needs
# the TCK's own process in the daemon's namespace, 340-380 host devices,
# 400 a full-OS image: not run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SHARED=${OXVIRT_SHARED:-$(cd "$REPO/../shared" 2>/dev/null && pwd || echo /work/shared)}
RUN=$SHARED/tools/tck/run.sh
[ -x "$RUN" ] || { echo "no $RUN"; exit 2; }
. "$HERE/netns-daemons.sh"
cargo build --release -q -p oxvirtd --manifest-path "$REPO/Cargo.toml"
TAG=oxtcknet-$$
T=$(mktemp -d /tmp/$TAG.XXXXXX)
trap 'netns_daemons_down $TAG-ref $TAG-ox -- $T/ref $T/ox; rm -rf "$T"' EXIT
netns_up $TAG-ref
netns_up $TAG-ox
ref_libvirtd_up $TAG-ref "$T/ref"
oxvirtd_up $TAG-ox "$T/ox" "$REPO/target/release/oxvirtd"
SCRIPTS="networks networks/300-guest-network-isolated.t networks/310-guest-network-nat.t
         networks/320-guest-network-route.t networks/330-guest-network-open.t"
for who in ref ox; do
  uri=$REFURI; [ $who = ox ] && uri=$OXURI
  echo "== $who: $uri"
  TCK_OUT=/tmp/tck-results/$TAG-$who TCK_DEADLINE=900 "$RUN" "$uri" $SCRIPTS \
    >"$T/$who.out" 2>&1 || true
  tail -2 "$T/$who.out"
done
# oxvirtd must pass at least as many scripts as the reference libvirtd.
passed() { tail -1 "$T/$1.out" | sed -n 's/^\([0-9]*\) passed.*/\1/p'; }
REFPASS=$(passed ref); OXPASS=$(passed ox)
echo "== per script: reference libvirtd / oxvirtd"
# Scripts that ran (a script excluded from the group and then named runs
# once, but has a row for each).
ran() { awk -F'\t' 'NR > 1 && $2 != "-" { print $1 "\t" $2 }' "$1" | sort -u; }
join -t $'\t' <(ran /tmp/tck-results/$TAG-ref/results.tsv) \
              <(ran /tmp/tck-results/$TAG-ox/results.tsv) | column -t
if [ -z "$OXPASS" ] || [ "${OXPASS:-0}" -lt "${REFPASS:-0}" ]; then
  echo "tck networks: oxvirtd passed ${OXPASS:-no} scripts, the reference libvirtd ${REFPASS:-?}"
  exit 1
fi
