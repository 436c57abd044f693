#!/bin/sh
# Regenerates src/procs.rs (procedure names and numbers only) from
# libvirt's remote_protocol.x: gen-procs.sh PATH/TO/remote_protocol.x
set -eu
x=${1:?usage: gen-procs.sh remote_protocol.x}
out=$(dirname "$0")/src/procs.rs
list() { grep -oE "REMOTE_PROC_[A-Z0-9_]+ = [0-9]+" "$x"; }
{
echo '//! Procedure numbers of the REMOTE program (libvirt 9.0.0, 1..=443).'
echo '//!'
echo '//! Generated from the procedure enum of remote_protocol.x (names and'
echo '//! numbers only) by gen-procs.sh (in this crate).'
echo
list | sed -E 's/REMOTE_PROC_([A-Z0-9_]+) = ([0-9]+)/pub const \1: i32 = \2;/'
echo
echo '/// Every procedure by number, with its name (without the REMOTE_PROC_ prefix).'
echo 'pub const NAMES: &[(i32, &str)] = &['
list | sed -E 's/REMOTE_PROC_([A-Z0-9_]+) = ([0-9]+)/    (\2, "\1"),/'
echo '];'
} > "$out"
