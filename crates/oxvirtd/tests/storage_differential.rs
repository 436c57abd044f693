//! The real virsh against oxvirtd's qemu:///system, compared with the
//! reference libvirtd 9.0 on the same command lines
//! (`data/storage_differential.cmds`): pools of every type that works on
//! this host (dir, fs and disk on loop devices, logical as far as the
//! kernel allows, netfs as far as it allows), every volume operation
//! (a 64 MiB upload and download with holes, compared by checksum and by
//! allocated blocks), wipes with each algorithm, and secrets.
//!
//! The expected transcript (`data/storage_differential.expected`) was
//! recorded from the reference with `OXVIRT_STORAGE_DIFF_RECORD=1` (the
//! reference libvirtd must run: `shared/tools/reference-libvirtd.sh`).
//! Normalised: the run's directory and loop devices (to their
//! placeholders), UUIDs other than the table's own, file timestamps, and
//! trailing blanks. Lines marked `# differs:` are printed, not compared.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

const CMDS: &str = include_str!("data/storage_differential.cmds");
const EXPECTED: &str = "tests/data/storage_differential.expected";

/// Everything the run set up, undone on drop (also when a test fails).
struct Env {
    dir: PathBuf,
    fs_loop: Option<String>,
    loops: Vec<(String, String)>,
    vg: String,
    uri: String,
}

fn run(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {}", cmd, e))
}

fn losetup(file: &Path, size: u64) -> String {
    let f = std::fs::File::create(file).unwrap();
    f.set_len(size).unwrap();
    drop(f);
    let out = run("losetup", &["-f", "--show", "-P", &file.to_string_lossy()]);
    assert!(out.status.success(), "losetup: {:?}", out);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Env {
    fn new(uri: &str) -> Env {
        // A fixed-width name: virsh sizes its tables to the paths.
        let dir = std::env::temp_dir().join(format!("storagediff-{:08}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut env = Env {
            dir: dir.clone(),
            fs_loop: None,
            loops: Vec::new(),
            vg: format!("storagediffvg{:08}", std::process::id()),
            uri: uri.to_string(),
        };
        // The dir pools live on a file system of their own, so their
        // sizes are the same on every host and run.
        let img = dir.join("poolfs.img");
        let dev = losetup(&img, 256 << 20);
        env.fs_loop = Some(dev.clone());
        assert!(run(
            "mkfs.ext4",
            &[
                "-q",
                "-F",
                "-E",
                "lazy_itable_init=0,lazy_journal_init=0",
                &dev
            ]
        )
        .status
        .success());
        std::fs::create_dir_all(dir.join("dirpool")).unwrap();
        assert!(
            run("mount", &[&dev, &dir.join("dirpool").to_string_lossy()])
                .status
                .success()
        );
        for (name, size) in [
            ("LOOPD", 100u64 << 20),
            ("LOOPF", 64 << 20),
            ("LOOPL", 64 << 20),
        ] {
            let d = losetup(&dir.join(format!("{}.img", name)), size);
            env.loops.push((name.to_string(), d));
        }
        env
    }

    fn subst(&self, s: &str) -> String {
        let mut s = s.replace("@DIR@", &self.dir.to_string_lossy());
        for (name, dev) in &self.loops {
            s = s.replace(
                &format!("@{}NAME@", name),
                dev.rsplit('/').next().unwrap_or(""),
            );
            s = s.replace(&format!("@{}@", name), dev);
        }
        s.replace("@VG@", &self.vg)
    }

    /// The run's own names back to placeholders, UUIDs and times out.
    fn normalise(&self, s: &str) -> String {
        let mut s = s.replace(&self.dir.to_string_lossy().into_owned(), "@DIR@");
        for (name, dev) in &self.loops {
            s = s.replace(dev.as_str(), &format!("@{}@", name));
            let base = dev.rsplit('/').next().unwrap_or("");
            s = s.replace(base, &format!("@{}NAME@", name));
        }
        if let Some(d) = &self.fs_loop {
            s = s.replace(d.as_str(), "@POOLFS@");
        }
        s = s.replace(&self.vg, "@VG@");
        let mut out = String::new();
        for line in s.lines() {
            let mut l = line.trim_end().to_string();
            for tag in ["atime", "mtime", "ctime"] {
                let open = format!("<{}>", tag);
                let close = format!("</{}>", tag);
                if let (Some(a), Some(b)) = (l.find(&open), l.find(&close)) {
                    l = format!("{}{}<time>{}", &l[..a], open, &l[b..]);
                }
            }
            out.push_str(&mask_uuids(&l));
            out.push('\n');
        }
        out
    }

    fn virsh(&self, line: &str) -> (i32, String, String) {
        let args: Vec<&str> = line.split_whitespace().collect();
        let out = Command::new(common::VIRSH)
            .arg("-c")
            .arg(&self.uri)
            .args(&args)
            .env("LC_ALL", "C")
            .output()
            .expect("virsh runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn builtin(&self, line: &str) -> String {
        let mut w = line.split_whitespace();
        let (cmd, path) = (w.next().unwrap_or(""), w.next().unwrap_or(""));
        use std::os::unix::fs::MetadataExt;
        match cmd {
            "!md5" => {
                let out = run("md5sum", &[path]);
                let s = String::from_utf8_lossy(&out.stdout);
                format!("md5 {}\n", s.split_whitespace().next().unwrap_or("(none)"))
            }
            "!size" => format!(
                "size {}\n",
                std::fs::metadata(path)
                    .map(|m| m.len() as i64)
                    .unwrap_or(-1)
            ),
            "!blocks" => format!(
                "blocks {}\n",
                std::fs::metadata(path)
                    .map(|m| m.blocks() as i64)
                    .unwrap_or(-1)
            ),
            "!sparsefile" => {
                let mut f = std::fs::File::create(path).unwrap();
                let mut x: u32 = 0x1234_5678;
                let mut data = |n: usize| -> Vec<u8> {
                    (0..n)
                        .map(|_| {
                            x ^= x << 13;
                            x ^= x >> 17;
                            x ^= x << 5;
                            x as u8
                        })
                        .collect()
                };
                f.write_all(&data(1 << 20)).unwrap();
                use std::io::{Seek, SeekFrom};
                f.seek(SeekFrom::Start(31 << 20)).unwrap();
                f.write_all(&data(2 << 20)).unwrap();
                f.set_len(64 << 20).unwrap();
                "sparse file written\n".into()
            }
            "!loopchain" => {
                // a.qcow2 backed by b.qcow2, backed by a.qcow2 again.
                let a = format!("{}/a.qcow2", path);
                let b = format!("{}/b.qcow2", path);
                for args in [
                    vec!["create", "-q", "-f", "qcow2", &a, "1M"],
                    vec!["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", &a, &b],
                    vec!["rebase", "-q", "-u", "-F", "qcow2", "-b", &b, &a],
                ] {
                    assert!(
                        run("qemu-img", &args).status.success(),
                        "qemu-img {:?}",
                        args
                    );
                }
                "looping chain written\n".into()
            }
            "!lyingqcow2" => {
                // A 1 MiB qcow2 whose header claims 2^64-1 bytes.
                assert!(
                    run("qemu-img", &["create", "-q", "-f", "qcow2", path, "1M"])
                        .status
                        .success()
                );
                use std::io::{Seek, SeekFrom};
                let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
                f.seek(SeekFrom::Start(24)).unwrap();
                f.write_all(&u64::MAX.to_be_bytes()).unwrap();
                "lying header written\n".into()
            }
            "!upload-disconnect" => {
                // A client that starts an upload, sends 1 MiB and goes away.
                let vol = w.next().unwrap_or("");
                let out = Command::new(common::PYTHON)
                    .arg("-c")
                    .arg(UPLOAD_AND_VANISH)
                    .args([self.uri.as_str(), path, vol])
                    .output()
                    .expect("python runs");
                format!(
                    "client: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
            }
            _ => format!("unknown builtin {}\n", cmd),
        }
    }

    /// Runs the table; the transcript, and the known differences.
    fn transcript(&self) -> String {
        let mut out = String::new();
        let mut lines = CMDS.lines();
        while let Some(raw) = lines.next() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix("@file ") {
                let mut body = String::new();
                for l in lines.by_ref() {
                    if l.trim() == "@end" {
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                std::fs::write(self.dir.join(name.trim()), self.subst(&body)).unwrap();
                continue;
            }
            let (cmd, differs) = match line.split_once(" # differs:") {
                Some((c, why)) => (c.trim(), Some(why.trim())),
                None => (line, None),
            };
            let cmd_s = self.subst(cmd);
            out.push_str(&format!("$ {}\n", cmd));
            if cmd.starts_with('!') {
                out.push_str(&self.normalise(&self.builtin(&cmd_s)));
                continue;
            }
            let (rc, so, se) = self.virsh(&cmd_s);
            let body = format!("[rc {}]\n{}[stderr]\n{}", rc, so, se);
            let body = self.normalise(&body);
            match differs {
                Some(why) => out.push_str(&format!("[differs: {}]\n", why)),
                None => out.push_str(&body),
            }
            if differs.is_some() {
                eprintln!("known difference ({}):\n{}", cmd, body);
            }
        }
        out
    }
}

/// Opens an upload to volume argv[3] of pool argv[2], sends 1 MiB and
/// exits without finishing or aborting the stream.
const UPLOAD_AND_VANISH: &str = r#"
import os, sys, libvirt
c = libvirt.open(sys.argv[1])
v = c.storagePoolLookupByName(sys.argv[2]).storageVolLookupByName(sys.argv[3])
st = c.newStream(0)
v.upload(st, 0, 0, 0)
for i in range(16):
    st.send(b"\xab" * 65536)
print("sent 1 MiB, leaving", flush=True)
os._exit(0)
"#;

/// UUIDs become `<uuid>`, except the table's own (57071d2e-...).
fn mask_uuids(l: &str) -> String {
    let b = l.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let is_hex = |c: u8| c.is_ascii_hexdigit();
    while i < b.len() {
        if i + 36 <= b.len() {
            let cand = &b[i..i + 36];
            let ok = cand.iter().enumerate().all(|(k, c)| {
                if [8, 13, 18, 23].contains(&k) {
                    *c == b'-'
                } else {
                    is_hex(*c)
                }
            });
            if ok && !l[i..].starts_with("57071d2e-") {
                out.push_str("<uuid>");
                i += 36;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

impl Drop for Env {
    fn drop(&mut self) {
        // Whatever the table left on the daemon, then the host.
        for p in [
            "storagediff-dir",
            "storagediff-dir2",
            "storagediff-tr",
            "storagediff-img",
            "storagediff-fs",
            "storagediff-disk",
            "storagediff-nfs",
            "storagediff-bad",
            self.vg.as_str(),
        ] {
            let _ = self.virsh(&format!("pool-destroy {}", p));
            let _ = self.virsh(&format!("pool-undefine {}", p));
        }
        for n in 1..=5 {
            let _ = self.virsh(&format!(
                "secret-undefine 57071d2e-0001-4000-8000-00000000000{}",
                n
            ));
        }
        for m in ["fsmnt", "nfsmnt", "dirpool"] {
            let _ = run("umount", &[&self.dir.join(m).to_string_lossy()]);
        }
        let _ = run("vgremove", &["-f", &self.vg]);
        for (_, d) in &self.loops {
            let _ = run("pvremove", &["-ff", "-y", d]);
            let _ = run("losetup", &["-d", d]);
        }
        if let Some(d) = &self.fs_loop {
            let _ = run("losetup", &["-d", d]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn storage_commands_match_the_reference_libvirtd() {
    if std::env::var_os("OXVIRT_STORAGE_DIFF_RECORD").is_some() {
        assert!(
            Path::new("/var/run/libvirt/libvirt-sock").exists(),
            "the reference libvirtd is not running (shared/tools/reference-libvirtd.sh)"
        );
        let env = Env::new("qemu:///system");
        let t = env.transcript();
        drop(env);
        std::fs::write(Path::new(env!("CARGO_MANIFEST_DIR")).join(EXPECTED), t).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(EXPECTED))
        .expect("recorded transcript");
    let d = common::Daemon::start("storagediff");
    let env = Env::new(&format!(
        "qemu+unix:///system?socket={}",
        d.socket.display()
    ));
    let got = env.transcript();
    drop(env);
    if got != expected {
        let diff = Command::new("diff")
            .arg("-u")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(EXPECTED))
            .arg("-")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().unwrap().write_all(got.as_bytes())?;
                c.wait_with_output()
            })
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        panic!("oxvirtd differs from libvirtd:\n{}", diff);
    }
}
