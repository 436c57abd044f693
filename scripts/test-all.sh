#!/usr/bin/env bash
# Installs what the tests need (Debian 12, as root or with sudo) and runs
# every test: unit and integration tests, lints, the conformance corpus
# against oxvirsh, and short fuzz runs. This is the README's second
# Quick-start command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${OXVIRT_SHARED:-$ROOT/../shared}
export OXVIRT_SHARED=$SHARED

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

need_pkgs=()
for p in libxml2-dev libxml2-utils libvirt-clients python3-libvirt python3-prometheus-client libvirt-daemon libvirt-daemon-driver-qemu \
         qemu-system-x86 qemu-utils busybox-static cpio \
         golang-go golang-github-digitalocean-go-libvirt-dev \
         dnsmasq-base nftables iptables iproute2 \
         parted lvm2 scrub nfs-common openssh-server openssh-client netcat-openbsd ovmf \
         libsys-virt-perl libyaml-perl libxml-twig-perl libxml-writer-perl libxml-xpath-perl \
         libtest-exception-perl libaccessors-perl libfile-slurp-perl libio-string-perl \
         libtap-formatter-junit-perl libtap-formatter-html-perl libtap-harness-archive-perl \
         libnetaddr-ip-perl libio-interface-perl libnet-openssh-perl libsub-uplevel-perl \
         libwww-perl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "== installing: ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  # Some machines carry qemu-utils from backports, which conflicts with
  # bookworm's qemu-system; pin both to the version qemu-system-x86 has.
  qv=$(apt-cache policy qemu-system-x86 | sed -n 's/ *Candidate: //p')
  pkgs=()
  for p in "${need_pkgs[@]}"; do
    case $p in qemu-utils|qemu-system-x86) ;; *) pkgs+=("$p") ;; esac
  done
  if printf '%s\n' "${need_pkgs[@]}" | grep -qE '^qemu-(utils|system-x86)$'; then
    pkgs+=(qemu-system-x86 "qemu-utils${qv:+=$qv}")
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    --allow-downgrades "${pkgs[@]}" >/dev/null
fi

echo "== build (release)"
cargo build --release --workspace --locked 2>&1 | tail -3

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings 2>&1 | tail -3

echo "== unit and integration tests"
cargo test --workspace --locked 2>&1 | tee target/test.log | grep -E '^(test result|running|error|failures|---- )|panicked' || true
if grep -qE '^test result: FAILED|error: test failed|error\[' target/test.log; then
  echo "cargo test failed"; exit 1
fi

echo "== QEMU driver against libvirt 9.0 (x86_64-latest inputs: define, command lines)"
cargo test -p oxvirt-qemu-driver --locked --test qemuxml2xml --test argv_reference -- --nocapture 2>/dev/null \
  | grep -E '^(qemuxml2xml|argv)' || true

if [ ! -d "$SHARED/conformance" ]; then
  echo "== virsh conformance: skipped, no $SHARED/conformance (set OXVIRT_SHARED to the shared/ folder)"
fi
if [ -x target/release/oxvirsh ] && [ -d "$SHARED/conformance" ]; then
  echo "== virsh conformance: oxvirsh (embedded test:///default)"
  "$SHARED/conformance/run.sh" embedded "$ROOT/target/release/oxvirsh" | tee target/conformance-embedded.log | tail -60 || true
  passed=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' target/conformance-embedded.log | tail -1)
  floor=$(cat tests/conformance-floor 2>/dev/null || echo 0)
  echo "conformance: ${passed:-0} of 193 pass (floor $floor)"
  [ "${passed:-0}" -ge "$floor" ] || { echo "conformance fell below its floor"; exit 1; }
fi
if [ -x target/release/oxvirtd ] && [ -x /usr/bin/virsh ] && [ -d "$SHARED/conformance" ]; then
  echo "== virsh conformance: real virsh through oxvirtd (test+unix://)"
  dtmp=$(mktemp -d)
  target/release/oxvirtd --root "$dtmp" --socket "$dtmp/sock" 2>"$dtmp/log" &
  dpid=$!
  for _ in $(seq 100); do [ -S "$dtmp/sock" ] && break; sleep 0.1; done
  "$SHARED/conformance/run.sh" daemon "$dtmp/sock" | tee target/conformance-daemon.log | tail -40 || true
  kill "$dpid" 2>/dev/null || true
  wait "$dpid" 2>/dev/null || true
  rm -rf "$dtmp"
  passed=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' target/conformance-daemon.log | tail -1)
  floor=$(cat tests/conformance-daemon-floor 2>/dev/null || echo 0)
  echo "daemon conformance: ${passed:-0} of 193 pass (floor $floor)"
  [ "${passed:-0}" -ge "$floor" ] || { echo "daemon conformance fell below its floor"; exit 1; }
fi
if [ -x target/release/oxvirtd ] && [ -x target/release/oxvirsh ] && [ -d "$SHARED/conformance" ]; then
  echo "== virsh conformance: oxvirsh through oxvirtd (test+unix://)"
  rtmp=$(mktemp -d)
  target/release/oxvirtd --root "$rtmp" --socket "$rtmp/sock" 2>"$rtmp/log" &
  rpid=$!
  for _ in $(seq 100); do [ -S "$rtmp/sock" ] && break; sleep 0.1; done
  # record.sh runs its client under env -i: bake the paths into a wrapper.
  printf '#!/bin/sh\nOXVIRT_SOCKET=%s OXVIRSH=%s exec %s "$@"\n' "$rtmp/sock" \
    "$ROOT/target/release/oxvirsh" "$ROOT/scripts/oxvirsh-via-daemon.sh" > "$rtmp/oxvirsh"
  chmod +x "$rtmp/oxvirsh"
  "$SHARED/conformance/run.sh" embedded "$rtmp/oxvirsh" | tee target/conformance-remote.log | tail -40 || true
  kill "$rpid" 2>/dev/null || true
  wait "$rpid" 2>/dev/null || true
  rm -rf "$rtmp"
  passed=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' target/conformance-remote.log | tail -1)
  floor=$(cat tests/conformance-remote-floor 2>/dev/null || echo 0)
  echo "remote conformance: ${passed:-0} of 193 pass (floor $floor)"
  [ "${passed:-0}" -ge "$floor" ] || { echo "remote conformance fell below its floor"; exit 1; }
fi
echo "== install layout (scripts/install.sh into a scratch DESTDIR)"
itmp=$(mktemp -d)
mkdir -p "$itmp/usr/bin" && printf '#!/bin/sh\necho "virt-ssh-helper (libvirt) 9.0.0"\n' > "$itmp/usr/bin/virt-ssh-helper"
chmod +x "$itmp/usr/bin/virt-ssh-helper"
scripts/install.sh --destdir "$itmp" >/dev/null
"$itmp/usr/local/bin/virt-ssh-helper" --version | grep -q '(oxvirt)'
if scripts/install.sh --destdir "$itmp" --prefix /usr 2>/dev/null; then echo "install.sh replaced libvirt's helper"; exit 1; fi
grep -q libvirt "$itmp/usr/bin/virt-ssh-helper"
rm -rf "$itmp"
echo "== libvirt-tck networks group (reference libvirtd and oxvirtd, each in a network namespace)"
scripts/tck-networks.sh 2>&1 | grep -E '^(==|assertions|[0-9]+ passed|tck networks)' | grep -v 'per script'
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "tck networks: oxvirtd below the reference"; exit 1; }
if [ -x "$SHARED/tools/tck/run.sh" ]; then
  echo "== libvirt-tck against oxvirtd's qemu:///system (floor in tests/tck-floor)"
  scripts/tck.sh
else
  echo "== libvirt-tck: skipped, no $SHARED/tools/tck/run.sh"
fi
echo "== fuzzing (short runs; any crash fails)"
if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked >/dev/null 2>&1 || echo "cargo-fuzz could not be installed"
fi
if command -v cargo-fuzz >/dev/null; then
  # cargo-fuzz has no --locked: refuse a stale fuzz/Cargo.lock up front,
  # so a run never rewrites a tracked file.
  if ! cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null 2>&1; then
    echo "fuzz/Cargo.lock is out of date: run 'cargo metadata --manifest-path fuzz/Cargo.toml' and commit it"
    exit 1
  fi
  # Every target in fuzz/Cargo.toml, OXVIRT_FUZZ_SECONDS each (16 targets:
  # under 3 minutes of fuzzing at the default). New inputs go to a scratch
  # corpus under target/, seeded from the committed fuzz/corpus/<target>
  # (read only), so a run leaves the tree clean; a crash's input is kept
  # in fuzz/artifacts/<target>/ (ignored by git).
  fuzz_before="$(git status --porcelain -- fuzz)"
  for t in $(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^oxvirt-fuzz$'); do
    mkdir -p "target/fuzz-corpus/$t" "fuzz/corpus/$t"
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "$PWD/target/fuzz-corpus/$t" "$PWD/fuzz/corpus/$t" -- \
      -max_total_time="${OXVIRT_FUZZ_SECONDS:-10}" -rss_limit_mb=1024 -malloc_limit_mb=256 \
      >"target/fuzz-$t.log" 2>&1 || { tail -30 "target/fuzz-$t.log"; echo "fuzz target $t failed"; exit 1; }
    grep -E '^Done|#[0-9]+.*DONE' "target/fuzz-$t.log" | tail -1 | sed "s/^/$t: /"
  done
  if [ "$(git status --porcelain -- fuzz)" != "$fuzz_before" ]; then
    git status --porcelain -- fuzz
    echo "the fuzz step changed files under fuzz/"
    exit 1
  fi
fi
echo "== all tests done"
