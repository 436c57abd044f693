//! Access control with the real virsh run as two local users against a
//! rules file: allowed calls work, denied ones get libvirt's "access
//! denied" and change nothing, lists and events show only the permitted
//! objects, SIGHUP reloads the rules (a broken file keeps the old ones),
//! the audit log records the calls that change something, and a rules
//! file with errors stops the daemon at start.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const USER1: &str = "oxacl1";
const USER2: &str = "oxacl2";
const GROUP: &str = "oxaclgrp";

/// Creates the test users (USER2 in GROUP) if missing; false when that is
/// not possible (not root).
fn users() -> bool {
    if unsafe { libc::geteuid() } != 0 || !have("/usr/sbin/useradd") {
        eprintln!("skipping: needs root and useradd to make test users");
        return false;
    }
    let ok = |c: &mut Command| c.status().map(|s| s.success()).unwrap_or(false);
    if !ok(Command::new("getent")
        .args(["group", GROUP])
        .stdout(Stdio::null()))
    {
        ok(Command::new("groupadd").arg(GROUP));
    }
    for u in [USER1, USER2] {
        if !ok(Command::new("id").arg(u).stdout(Stdio::null())) {
            ok(Command::new("useradd").args(["-M", "-s", "/usr/sbin/nologin", u]));
        }
    }
    ok(Command::new("usermod").args(["-aG", GROUP, USER2]));
    true
}

const RULES: &str = r#"
# root may do everything
[[rule]]
uid = 0
permissions = ["*"]

[[rule]]
user = "oxacl1"
permissions = ["connect.*"]

[[rule]]
user = "oxacl1"
permissions = ["domain.*"]
objects = ["web*"]

[[rule]]
user = "oxacl1"
permissions = ["storage_pool.getattr", "storage_pool.read", "storage_pool.search_storage_vols", "storage_vol.*"]
objects = ["default-pool", "v*"]

[[rule]]
user = "oxacl1"
permissions = ["network.getattr", "network.read"]
objects = ["default"]

[[rule]]
user = "oxacl1"
permissions = ["secret.getattr", "secret.read_secure"]
objects = ["/var/lib/web*"]

# the group: read-only sight of every domain
[[rule]]
group = "oxaclgrp"
permissions = ["connect.getattr", "connect.read", "connect.search_domains", "domain.getattr", "domain.read"]
"#;

fn virsh_as(user: &str, uri: &str, cmds: &str) -> (String, String, i32) {
    let o = run(Command::new("runuser")
        .args(["-u", user, "--", VIRSH, "-c", uri])
        .arg(cmds));
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

fn ok(user: &str, uri: &str, cmds: &str) -> String {
    let (out, err, rc) = virsh_as(user, uri, cmds);
    assert!(
        rc == 0 && !err.contains("error:"),
        "{} may {}: {}{}",
        user,
        cmds,
        out,
        err
    );
    out
}

const DENIED: &str = "access denied: 'Test' denied access";

fn denied(user: &str, uri: &str, cmds: &str, msg: &str) {
    let (out, err, rc) = virsh_as(user, uri, cmds);
    assert_ne!(rc, 0, "{} may not {}: {}", user, cmds, out);
    assert!(err.contains(msg), "{} {}: {}", user, cmds, err);
}

/// A root virsh shell that keeps test:///default's state alive.
struct Holder(std::process::Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn names(out: &str) -> Vec<String> {
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn rules_allow_deny_filter_and_reload() {
    if !users() {
        return;
    }
    // The daemon's own directory (Daemon::start_prepared's).
    let dir = std::env::temp_dir().join(format!("oxvirtd-t-acl-{}", std::process::id()));
    let rules = dir.join("rules.toml");
    let audit = dir.join("audit.log");
    let conf = format!(
        "unix_sock_rw_perms = \"0777\"\naccess_rules_file = \"{}\"\naccess_audit_file = \"{}\"\n",
        rules.display(),
        audit.display()
    );
    let d = Daemon::start_prepared("acl", &conf, &[], |dir| {
        std::fs::write(dir.join("rules.toml"), RULES).unwrap();
    });
    let u = d.uri();
    let q = format!("qemu+unix:///system?socket={}", d.socket.display());
    let _hold = Holder(
        Command::new(VIRSH)
            .args(["-c", &u])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("virsh"),
    );
    // Root defines the objects.
    for n in ["web1", "web2", "db1"] {
        let x = dir.join(format!("{}.xml", n));
        std::fs::write(
            &x,
            format!("<domain type='test'><name>{n}</name><memory>8192</memory><os><type>hvm</type></os></domain>"),
        )
        .unwrap();
        ok("root", &u, &format!("define {}", x.display()));
    }
    let vol = dir.join("vol.xml");
    std::fs::write(
        &vol,
        "<volume><name>v1</name><capacity>1048576</capacity></volume>",
    )
    .unwrap();
    let sec = dir.join("secret.xml");
    std::fs::write(
        &sec,
        "<secret ephemeral='no' private='no'><uuid>11111111-2222-3333-4444-555555555555</uuid>\
         <usage type='volume'><volume>/var/lib/web1.img</volume></usage></secret>",
    )
    .unwrap();
    let sec2 = dir.join("secret2.xml");
    std::fs::write(
        &sec2,
        "<secret ephemeral='no' private='no'><uuid>11111111-2222-3333-4444-666666666666</uuid>\
         <usage type='volume'><volume>/var/lib/db1.img</volume></usage></secret>",
    )
    .unwrap();
    ok(
        "root",
        &q,
        &format!(
            "secret-define {}; secret-define {}",
            sec.display(),
            sec2.display()
        ),
    );
    let value = dir.join("value");
    std::fs::write(&value, "c2VjcmV0").unwrap();
    ok(
        "root",
        &q,
        &format!(
            "secret-set-value 11111111-2222-3333-4444-555555555555 --file {v}; \
             secret-set-value 11111111-2222-3333-4444-666666666666 --file {v}",
            v = value.display()
        ),
    );

    // ---- domains: the list shows the permitted ones only --------------
    assert_eq!(names(&ok("root", &u, "list --all --name")).len(), 4);
    let mine = names(&ok(USER1, &u, "list --all --name"));
    assert_eq!(mine, ["web1", "web2"]);
    let uuids = names(&ok(USER1, &u, "list --all --uuid"));
    assert_eq!(uuids.len(), 2);
    // Allowed: reads, lifecycle, tuning, metadata, XML, on web*.
    ok(
        USER1,
        &u,
        "dominfo web1; domstate web1; domuuid web1; domid web1; dumpxml web1; \
         start web1; dommemstat web1; suspend web1; resume web1; domstate web1; \
         setmem web1 4096 --live; desc web1 --title hello; desc web1 --title; \
         autostart web1; autostart web1 --disable; schedinfo web1; vcpucount web1; \
         domblklist web1; domiflist web1; reboot web1; shutdown web1; start web1; \
         destroy web1; snapshot-create-as web1 s1; snapshot-list web1; \
         snapshot-delete web1 s1",
    );
    // Denied: any domain not web*, by name, and writes to it.
    for cmd in [
        "dominfo db1",
        "start db1",
        "destroy test",
        "undefine db1",
        "dumpxml test",
        "setmem test 4096",
        "suspend test",
    ] {
        let (out, err, rc) = virsh_as(USER1, &u, cmd);
        assert_ne!(rc, 0, "{}: {}", cmd, out);
        assert!(
            err.contains(DENIED) || err.contains("failed to get domain"),
            "{}: {}",
            cmd,
            err
        );
    }
    // A definition of a name outside web* is refused before it happens.
    let x = dir.join("db2.xml");
    std::fs::write(
        &x,
        "<domain type='test'><name>db2</name><memory>8192</memory><os><type>hvm</type></os></domain>",
    )
    .unwrap();
    denied(USER1, &u, &format!("define {}", x.display()), DENIED);
    denied(USER1, &u, &format!("create {}", x.display()), DENIED);
    // Nothing changed for root.
    let after = ok("root", &u, "list --all --name");
    assert!(!after.contains("db2"), "{}", after);
    assert_eq!(ok("root", &u, "domstate test").trim(), "running");
    assert_eq!(ok("root", &u, "domstate db1").trim(), "shut off");

    // ---- storage, network, secrets --------------------------------------
    assert_eq!(
        names(&ok(USER1, &u, "pool-list --all --name")),
        ["default-pool"]
    );
    ok(
        USER1,
        &u,
        &format!(
            "pool-info default-pool; pool-dumpxml default-pool; vol-create default-pool {}; \
             vol-list default-pool; vol-info v1 --pool default-pool; vol-delete v1 --pool default-pool",
            vol.display()
        ),
    );
    denied(USER1, &u, "pool-refresh default-pool", DENIED);
    denied(USER1, &u, "pool-destroy default-pool", DENIED);
    assert_eq!(names(&ok(USER1, &u, "net-list --all --name")), ["default"]);
    ok(USER1, &u, "net-info default; net-dumpxml default");
    denied(USER1, &u, "net-destroy default", DENIED);
    denied(USER1, &u, "net-autostart default", DENIED);
    let secrets = ok(USER1, &q, "secret-list");
    assert!(secrets.contains("/var/lib/web1.img"), "{}", secrets);
    assert!(!secrets.contains("/var/lib/db1.img"), "{}", secrets);
    ok(
        USER1,
        &q,
        "secret-get-value 11111111-2222-3333-4444-555555555555",
    );
    denied(
        USER1,
        &q,
        "secret-get-value 11111111-2222-3333-4444-666666666666",
        "access denied: 'QEMU' denied access",
    );
    denied(
        USER1,
        &q,
        "secret-undefine 11111111-2222-3333-4444-555555555555",
        "access denied: 'QEMU' denied access",
    );
    ok(
        "root",
        &q,
        "secret-get-value 11111111-2222-3333-4444-555555555555",
    );

    // ---- the group's rule: sight of every domain, no writes -------------
    let seen = names(&ok(USER2, &u, "list --all --name"));
    assert_eq!(seen.len(), 4, "{:?}", seen);
    ok(USER2, &u, "dominfo db1; dumpxml test");
    denied(USER2, &u, "start db1", DENIED);
    denied(USER2, &u, "pool-list", DENIED);

    // ---- events carry the permitted domains only -------------------------
    let mut ev = Command::new("runuser")
        .args(["-u", USER1, "--", VIRSH, "-c", &u])
        .args(["event", "--event", "lifecycle", "--loop", "--timeout", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("virsh event");
    let stdout = ev.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            let _ = tx.send(l);
        }
    });
    // Root starts db1 then web1: the user hears of web1 only.
    std::thread::sleep(Duration::from_millis(500));
    let mut lines = Vec::new();
    let t0 = Instant::now();
    let mut started = false;
    while t0.elapsed() < Duration::from_secs(30) {
        if !started {
            ok(
                "root",
                &u,
                "start db1; start web1; destroy db1; destroy web1",
            );
            started = true;
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) => {
                lines.push(l);
                if lines.iter().filter(|l| l.contains("web1")).count() >= 2 {
                    break;
                }
            }
            Err(_) => continue,
        }
    }
    let _ = ev.kill();
    let _ = ev.wait();
    assert!(lines.iter().any(|l| l.contains("'web1'")), "{:?}", lines);
    assert!(!lines.iter().any(|l| l.contains("db1")), "{:?}", lines);

    // ---- the audit log: every call that changes something ---------------
    let log = std::fs::read_to_string(&audit).expect("audit log");
    let entries: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let find = |api: &str, user: &str, name: &str| {
        entries.iter().find(|e| {
            e["api"] == api && e["identity"]["user"] == user && e["object"]["name"] == name
        })
    };
    let start = find("virDomainCreate", USER1, "web1").expect("start audited");
    assert_eq!(start["result"], "ok");
    assert!(start["identity"]["pid"].is_number());
    let refused = find("virDomainDefineXML", USER1, "db2").expect("refusal audited");
    assert_eq!(refused["result"]["code"], 88);
    assert!(find("virStorageVolCreateXML", USER1, "v1").is_some());
    assert!(find("virDomainSetMemoryFlags", USER1, "web1").is_some());
    // Reads are not audited.
    assert!(entries.iter().all(|e| e["api"] != "virDomainGetXMLDesc"));

    // ---- SIGHUP: a broken file keeps the old rules, a good one applies --
    std::fs::write(&rules, "[[rule]]\nbogus = 1\n").unwrap();
    d.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(names(&ok(USER1, &u, "list --all --name")), ["web1", "web2"]);
    std::fs::write(
        &rules,
        RULES.replace("objects = [\"web*\"]", "objects = [\"web*\", \"db*\"]"),
    )
    .unwrap();
    d.signal(libc::SIGHUP);
    wait_for("db1 visible after SIGHUP", || {
        names(&virsh_as(USER1, &u, "list --all --name").0).contains(&"db1".to_string())
    });
    ok(USER1, &u, "start db1; destroy db1");
}

#[test]
fn a_broken_rules_file_stops_the_daemon() {
    let dir = std::env::temp_dir().join(format!("oxvirtd-t-aclbad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nuser = \"x\"\npermissions = [\"Domain Start\"]\n",
    )
    .unwrap();
    let conf = dir.join("oxvirtd.conf");
    std::fs::write(
        &conf,
        format!("access_rules_file = \"{}\"\n", rules.display()),
    )
    .unwrap();
    let o = run(Command::new(env!("CARGO_BIN_EXE_oxvirtd"))
        .arg("--root")
        .arg(&dir)
        .arg("--socket")
        .arg(dir.join("sock"))
        .arg("-f")
        .arg(&conf));
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("rules.toml:3: 'Domain Start' is not a permission (object.permission)"),
        "{}",
        err
    );
    let _ = std::fs::remove_dir_all(&dir);
}
