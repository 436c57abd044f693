#!/usr/bin/env bash
# The README's first Quick-start command: builds oxvirt and runs the main
# job. Today that is an oxvirsh session against the embedded
# test:///default driver (no daemon, no root needed): list, define, start,
# suspend, snapshot, destroy.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace 2>&1 | tail -1
OX=target/release/oxvirsh
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cat > "$work/demo.xml" <<'XML'
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
# One oxvirsh process: the embedded driver's state carries from command to command.
"$OX" -c test:///default "
  echo '== the default node'; list --all;
  echo '== define and start a domain'; define $work/demo.xml; start demo; list --all;
  dominfo demo;
  echo '== suspend and resume'; suspend demo; domstate demo --reason; resume demo;
  echo '== snapshot'; snapshot-create-as demo first --description 'demo snapshot'; snapshot-list demo;
  echo '== destroy'; destroy demo; domstate demo --reason;
  list --all"
