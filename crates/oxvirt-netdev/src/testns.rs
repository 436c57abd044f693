//! Network namespaces for tests: every test that touches networking runs
//! in a namespace of its own, made here and removed (with whatever still
//! runs in it) when the guard drops, also when the test fails.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static N: AtomicU32 = AtomicU32::new(0);

/// A network namespace made with `ip netns add`, deleted on drop.
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// A new namespace named `PREFIX-PID-N` with its loopback up.
    pub fn new(prefix: &str) -> std::io::Result<NetNs> {
        let name = format!(
            "{}-{}-{}",
            prefix,
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let st = Command::new("ip").args(["netns", "add", &name]).status()?;
        if !st.success() {
            return Err(std::io::Error::other(format!(
                "ip netns add {} failed",
                name
            )));
        }
        let ns = NetNs { name };
        ns.command("ip")
            .args(["link", "set", "lo", "up"])
            .status()?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `prog` run inside the namespace (`ip netns exec NAME prog`).
    pub fn command(&self, prog: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, prog]);
        c
    }

    /// Pids of the processes running in the namespace.
    pub fn pids(&self) -> Vec<i32> {
        Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        for _ in 0..3 {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            for p in pids {
                // SAFETY: kill(2) on a pid of our own namespace.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

const ENV: &str = "OXVIRT_TEST_IN_NETNS";

/// Runs the test `name` (its exact libtest name) of the current test
/// binary again inside a fresh namespace. Returns true in that inner
/// run, where the caller runs its body; in the outer run it waits for
/// the inner one, fails the test if it failed, removes the namespace and
/// returns false.
pub fn rerun_in_netns(name: &str) -> bool {
    if std::env::var(ENV).as_deref() == Ok(name) {
        return true;
    }
    let ns = NetNs::new("oxnet").expect("ip netns add");
    let exe = std::env::current_exe().expect("test binary");
    let out = ns
        .command(&exe.to_string_lossy())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ENV, name)
        .output()
        .expect("run test in namespace");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", text);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "test {} failed in namespace {}",
        name,
        ns.name()
    );
    false
}
