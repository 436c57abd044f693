#!/usr/bin/env bash
# oxvirsh through oxvirtd: a stand-in for `oxvirsh -c test:///...` that the
# conformance harness (record.sh) can run. It rewrites the harness's
# `-c test:///PATH` into `-c test+unix:///PATH?socket=$OXVIRT_SOCKET`.
#   OXVIRT_SOCKET=/path/to/sock OXVIRSH=/path/to/oxvirsh oxvirsh-via-daemon.sh -c test:///default CMD...
# record.sh runs under `env -i`, so the socket and binary paths are baked
# in by scripts/test-all.sh when it writes a copy of this script (see there).
set -u
sock=${OXVIRT_SOCKET:?OXVIRT_SOCKET is not set}
bin=${OXVIRSH:?OXVIRSH is not set}
args=()
while [ $# -gt 0 ]; do
  case $1 in
    -c)
      if [ $# -ge 2 ] && [[ $2 == test://* ]]; then
        args+=(-c "test+unix://${2#test://}?socket=$sock"); shift 2; continue
      fi ;;
  esac
  args+=("$1"); shift
done
exec "$bin" "${args[@]}"
