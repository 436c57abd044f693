//! Guest-agent, statistics, time, password, node-device-event and stream
//! commands through oxvirtd, compared line by line with libvirt itself.
//!
//! Every line of the tables runs three times and must give the same
//! stdout, stderr and exit status:
//! - the real virsh on libvirt's embedded test driver (`test:///default`,
//!   `-r` for the read-only table): the oracle;
//! - the real virsh through oxvirtd (`test+unix:///default?socket=...`);
//! - our oxvirsh through oxvirtd.
//!
//! The read-only table goes through oxvirtd's read-only socket *without*
//! `-r`, so the refusals come from the daemon, not from the client's API
//! layer. A line whose daemon output differs from the oracle for a
//! legitimate reason carries the reason and is reported, not failed.
//! `{dir}` in a line is a scratch directory.

mod common;

use std::path::Path;

use common::*;

struct Line {
    cmd: &'static str,
    /// Why the daemon's answer legitimately differs from the oracle's.
    differs: Option<&'static str>,
}

const fn line(cmd: &'static str) -> Line {
    Line { cmd, differs: None }
}

/// Read-write connections.
const RW: &[Line] = &[
    // virDomainFSFreeze / virDomainFSThaw / virDomainFSTrim
    line("domfsfreeze test"),
    line("domfsfreeze test --mountpoint /"),
    line("domfsfreeze test --mountpoint / --mountpoint /boot"),
    line("domfsfreeze test --mountpoint /nosuch"),
    line("domfsthaw test"),
    line("domfsfreeze test; domfsthaw test --mountpoint /boot; domfsthaw test"),
    line("domfstrim test"),
    line("domfstrim test --mountpoint / --minimum 1048576"),
    // virDomainGetFSInfo
    line("domfsinfo test"),
    line("domfsinfo nosuch"),
    // virDomainGetCPUStats: count queries, per-CPU ranges, totals
    line("cpu-stats test"),
    line("cpu-stats test --total"),
    line("cpu-stats test --start 1"),
    line("cpu-stats test --start 0 --count 1"),
    line("cpu-stats test --start 1 --count 5"),
    line("cpu-stats test --start 9"),
    line("cpu-stats test --count 0"),
    // virDomainGetDiskErrors (count, then the errors)
    line("domblkerror test"),
    // virDomainGetLaunchSecurityInfo
    line("domlaunchsecinfo test"),
    // virDomainSendProcessSignal
    line("send-process-signal test 1 15"),
    line("send-process-signal test 1 sigkill"),
    line("send-process-signal test 2 15"),
    line("send-process-signal test 0 15"),
    line("send-process-signal test 1 99"),
    // virDomainGetTime / virDomainSetTime
    line("domtime test"),
    line("domtime test --pretty"),
    line("domtime test --time 1234567890"),
    line("domtime test --time 1234567890; domtime test"),
    line("domtime test --now"),
    line("domtime test --sync"),
    line("domtime test --time -5"),
    // virDomainSetUserPassword
    line("set-user-password test root secret"),
    line("set-user-password test root secret --encrypted"),
    line("set-user-password --domain test --user admin --password ''"),
    // The same calls on a domain that is not running.
    line(
        "destroy test; domfsfreeze test; domfsthaw test; domfstrim test; domfsinfo test; \
         cpu-stats test; domblkerror test; domtime test; domtime test --now; \
         set-user-password test root x; send-process-signal test 1 15",
    ),
    // virConnectNodeDeviceEventRegisterAny / DeregisterAny
    line("nodedev-event --list"),
    line("nodedev-event --event lifecycle --timeout 1"),
    line("nodedev-event --event update --timeout 1 --loop"),
    line("nodedev-event --event lifecycle --device computer --timeout 1 --timestamp"),
    line("nodedev-event --event bogus --timeout 1"),
    line("nodedev-create {dir}/vhba.xml; nodedev-destroy scsi_host12"),
    // Streams libvirt's test driver does not offer for volumes.
    line("vol-create-as default-pool v1 1M; vol-download --pool default-pool v1 {dir}/dl.bin"),
    line("vol-create-as default-pool v1 1M; vol-upload --pool default-pool v1 {dir}/up.txt"),
    line("vol-create-as default-pool v1 1M; vol-upload v1 {dir}/up.txt --pool default-pool --offset 1 --length 3"),
    line("console test"),
];

/// Read-only connections: `virsh -r` for the oracle, oxvirtd's read-only
/// socket for the daemon.
const RO: &[Line] = &[
    line("domfsfreeze test"),
    line("domfsthaw test"),
    line("domfstrim test"),
    line("domfsinfo test"),
    line("cpu-stats test"),
    line("domblkerror test"),
    line("domlaunchsecinfo test"),
    line("send-process-signal test 1 15"),
    line("send-process-signal test 0 15"),
    line("domtime test"),
    line("domtime test --time 1234567890"),
    line("domtime test --now"),
    line("set-user-password test root secret"),
    line("screenshot test {dir}/ro.png"),
    line("nodedev-event --event lifecycle --timeout 1"),
    line("vol-download --pool default-pool nosuch {dir}/dl.bin"),
];

/// A vHBA libvirt's test driver creates (as scsi_host12) and destroys.
const VHBA: &str = "<device><parent>scsi_host1</parent>\
<capability type='scsi_host'><capability type='fc_host'>\
<wwnn>2000000012341234</wwnn><wwpn>1000000012341234</wwpn>\
</capability></capability></device>";

type Out = (String, String, i32);

fn show(o: &Out) -> String {
    format!("stdout={:?} stderr={:?} rc={}", o.0, o.1, o.2)
}

#[test]
fn commands_match_libvirts_test_driver() {
    if !have(VIRSH) {
        println!("skipping: {} is not installed", VIRSH);
        return;
    }
    let ox = oxvirsh();
    if ox.is_none() {
        println!("oxvirsh is not built: checking virsh only");
    }
    let d = Daemon::start("oracle");
    let dir = d.dir.join("scratch");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    std::fs::write(dir.join("up.txt"), "hello\n").expect("upload source");
    std::fs::write(dir.join("vhba.xml"), VHBA).expect("vHBA definition");
    let rw = d.uri();
    let ro = format!("test+unix:///default?socket={}-ro", d.socket.display());
    let virsh = Path::new(VIRSH);
    let mut failures = Vec::new();
    let mut noted = 0;
    let tables: [(&str, &[Line], &[&str], &str); 2] = [
        ("rw", RW, &["-c", "test:///default"], &rw),
        ("ro", RO, &["-r", "-c", "test:///default"], &ro),
    ];
    for (name, table, oracle_args, uri) in tables {
        for l in table {
            let cmd = l.cmd.replace("{dir}", &dir.display().to_string());
            let want = client(virsh, oracle_args, &cmd);
            let mut got = vec![("virsh", client(virsh, &["-c", uri], &cmd))];
            if let Some(ox) = &ox {
                got.push(("oxvirsh", client(ox, &["-c", uri], &cmd)));
            }
            let mut ok = true;
            for (who, g) in &got {
                if *g == want {
                    continue;
                }
                ok = false;
                let msg = format!(
                    "[{name}] {cmd}\n  {who} via oxvirtd: {}\n  libvirt:           {}",
                    show(g),
                    show(&want)
                );
                match l.differs {
                    Some(why) => println!("known difference ({why}):\n{msg}"),
                    None => failures.push(msg),
                }
            }
            if !ok && l.differs.is_some() {
                noted += 1;
            }
            println!("{:<4}{:<3} {}", if ok { "ok" } else { "DIFF" }, name, cmd);
        }
    }
    println!("{} known differences", noted);
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// `screenshot` through the daemon writes the same bytes as libvirt's
/// test driver (the PNG shipped with libvirt), with the same message.
#[test]
fn screenshot_bytes_match() {
    if !have(VIRSH) {
        println!("skipping: {} is not installed", VIRSH);
        return;
    }
    let d = Daemon::start("shot");
    let dir = d.dir.join("shots");
    std::fs::create_dir_all(&dir).expect("shots dir");
    let virsh = Path::new(VIRSH);
    let rw = d.uri();
    let mut runs: Vec<(&str, &Path, Vec<&str>)> = vec![
        ("libvirt", virsh, vec!["-c", "test:///default"]),
        ("virsh via oxvirtd", virsh, vec!["-c", &rw]),
    ];
    let ox = oxvirsh();
    if let Some(ox) = &ox {
        runs.push(("oxvirsh via oxvirtd", ox, vec!["-c", &rw]));
    }
    let mut results = Vec::new();
    for (i, (who, tool, args)) in runs.iter().enumerate() {
        let file = dir.join(format!("shot{i}.png"));
        let (out, err, rc) = client(tool, args, &format!("screenshot test {}", file.display()));
        let out = out.replace(&file.display().to_string(), "FILE");
        let bytes = std::fs::read(&file).unwrap_or_default();
        println!("{who}: {} bytes, rc {rc}, {out:?} {err:?}", bytes.len());
        results.push((who, out, err, rc, bytes));
    }
    let (_, out0, err0, rc0, bytes0) = &results[0];
    assert_eq!(*rc0, 0, "libvirt's screenshot works");
    assert!(!bytes0.is_empty());
    for (who, out, err, rc, bytes) in &results[1..] {
        assert_eq!((out, err, rc), (out0, err0, rc0), "{who}");
        assert!(bytes == bytes0, "{who}: the screenshot's bytes differ");
    }
}

/// `nodedev-event` listeners on the daemon see what other clients do, in
/// virsh's words; a listener for another device or for update events sees
/// nothing. (libvirt's embedded driver cannot show this: one virsh process
/// cannot create a device while it waits for events.)
#[test]
fn nodedev_events_reach_listeners() {
    if !have(VIRSH) {
        println!("skipping: {} is not installed", VIRSH);
        return;
    }
    let d = Daemon::start("nodedev-ev");
    let xml = d.dir.join("vhba.xml");
    std::fs::write(&xml, VHBA).expect("vHBA definition");
    let uri = d.uri();
    let virsh = std::path::PathBuf::from(VIRSH);
    let mut tools = vec![("virsh", virsh.clone())];
    if let Some(ox) = oxvirsh() {
        tools.push(("oxvirsh", ox));
    }
    let spawn = |tool: &Path, cmd: &str| {
        std::process::Command::new(tool)
            .args(["-c", &uri, cmd])
            .env("LC_ALL", "C")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("listener starts")
    };
    let loop_cmd = "nodedev-event --event lifecycle --loop --timeout 8";
    let mut listeners = Vec::new();
    for (who, tool) in &tools {
        listeners.push((format!("{who} --loop"), spawn(tool, loop_cmd)));
        listeners.push((
            format!("{who} --device scsi_host1"),
            spawn(
                tool,
                "nodedev-event --event lifecycle --device scsi_host1 --loop --timeout 8",
            ),
        ));
        listeners.push((
            format!("{who} update"),
            spawn(tool, "nodedev-event --event update --loop --timeout 8"),
        ));
    }
    // Create and destroy the vHBA until every listener has had time to
    // register (at least two whole cycles after a second), then let them
    // time out.
    let t0 = std::time::Instant::now();
    let mut cycles = 0;
    while cycles < 2 || t0.elapsed() < std::time::Duration::from_millis(2500) {
        let (out, err, rc) = virsh_uri(
            &uri,
            &format!(
                "nodedev-create {}; nodedev-destroy scsi_host12",
                xml.display()
            ),
        );
        assert_eq!(rc, 0, "{out}{err}");
        cycles += 1;
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let created = "event 'lifecycle' for node device scsi_host12: Created";
    let deleted = "event 'lifecycle' for node device scsi_host12: Deleted";
    for (who, child) in listeners {
        let o = child.wait_with_output().expect("listener ends");
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        println!("{who}: {out:?} {err:?}");
        assert_eq!(err, "", "{who}");
        let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
        let (events, tail) = lines.split_at(lines.len().saturating_sub(2));
        let n = events.len();
        assert_eq!(
            tail,
            [
                "event loop timed out".to_string(),
                format!("events received: {n}")
            ],
            "{who}"
        );
        if who.ends_with("--loop") {
            assert!(n >= 2, "{who} saw too few events: {out}");
            // Created and Deleted alternate, whenever the listener began.
            let first = usize::from(events[0] == deleted);
            for (i, e) in events.iter().enumerate() {
                let want = if (i + first) % 2 == 0 {
                    created
                } else {
                    deleted
                };
                assert_eq!(*e, want, "{who}: event {i}");
            }
        } else {
            assert_eq!(n, 0, "{who} should see nothing: {out}");
        }
    }
}
