# Sourced by the one-command benches: builds oxvirtd (release), makes
# sure the reference libvirtd runs, starts oxvirtd under a fresh root
# ($ROOT, socket $ROOT/sock) and removes both when the script exits.
# Expects $HERE (the bench directory) and the bench's tag in $1.
REPO=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$(cd "$REPO/../shared" 2>/dev/null && pwd || echo /work/shared)}
cargo build --release -q -p oxvirtd --manifest-path "$REPO/Cargo.toml"
"$SHARED/tools/reference-libvirtd.sh" >/dev/null
ROOT=$(mktemp -d "/tmp/$1-bench.XXXXXX")
nohup "$REPO/target/release/oxvirtd" --root "$ROOT/ox" --socket "$ROOT/sock" >"$ROOT/daemon.log" 2>&1 &
OXPID=$!
cleanup() { kill "$OXPID" 2>/dev/null || true; wait "$OXPID" 2>/dev/null || true; rm -rf "$ROOT"; }
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$ROOT/sock" ] && break; sleep 0.05; done
