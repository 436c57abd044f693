//! Tunables and device commands through oxvirtd: the real virsh on
//! `test+unix:///default?socket=…` must print what it prints on its own
//! embedded `test:///default` (stdout, stderr, exit status). Each line is
//! one virsh process, so both sides start from a fresh test driver.
//! Not here: dom-fd-associate, as oxvirtd does not serve file descriptor
//! passing (it answers CONNECT_SUPPORTS_FEATURE FD_PASSING with 0).

mod common;

use std::process::Command;

use common::*;

const LINES: &[&str] = &[
    "memtune test --hard-limit 1G --config; memtune test; memtune test --config; dumpxml test --inactive",
    "memtune test --live --config",
    "numatune test --mode interleave --nodeset 0 --config; numatune test --config",
    "numatune test --mode strict",
    "domiftune test testnet0 --inbound 100,200,300,400 --outbound 50,60,70; domiftune test testnet0; dumpxml test",
    "domiftune test nosuch",
    "blkdeviotune test vda --total-bytes-sec-max 2000 --total-bytes-sec 1K --group-name g; blkdeviotune test vda; dumpxml test",
    "blkdeviotune test nosuch",
    "blkdeviotune test vda --live --config",
    "perf test --enable cmt,mbmt --disable mbml; perf test",
    "perf test --enable bogus",
    "set-lifecycle-action test reboot destroy --config; dumpxml test --inactive",
    "set-lifecycle-action test poweroff coredump-destroy",
    "blkiotune test --live --config",
    "detach-disk test vda",
    "detach-disk test vda --current",
    "detach-interface test network --config",
    "change-media test hda --eject",
    "update-memory-device test",
    "domsetlaunchsecstate test --secrethdr /dev/null --secret /dev/null",
];

/// virsh in a neutral environment, from a scratch directory.
fn virsh(uri: &str, line: &str, cwd: &std::path::Path) -> (String, String, i32) {
    let o = run(Command::new(VIRSH)
        .env_clear()
        .env("LC_ALL", "C")
        .current_dir(cwd)
        .arg("-c")
        .arg(uri)
        .arg(line));
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn virsh_tunes_through_the_daemon_as_on_test_default() {
    if !have(VIRSH) {
        println!("skipping: {} is not installed", VIRSH);
        return;
    }
    let d = Daemon::start("tunables");
    let mut differ = Vec::new();
    for line in LINES {
        let local = virsh("test:///default", line, &d.dir);
        let remote = virsh(&d.uri(), line, &d.dir);
        if local != remote {
            differ.push(format!(
                "{}\n  test:///default: {:?}\n  oxvirtd:         {:?}",
                line, local, remote
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
