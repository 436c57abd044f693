//! Facts about the host's QEMU: emulator, machine aliases, KVM.

use std::path::Path;

/// The emulator used when a definition names none.
pub const DEFAULT_EMULATOR: &str = "/usr/bin/qemu-system-x86_64";

/// The machine aliases the installed QEMU resolves (`pc` →
/// `pc-i440fx-7.2`), probed once and cached on disk by binary mtime.
#[derive(Debug, Clone, Default)]
pub struct Caps {
    pub emulator: String,
    /// `(alias, machine)`
    pub aliases: Vec<(String, String)>,
    pub machines: Vec<String>,
}

impl Caps {
    /// Probes (or reads from `cache_dir`) the default emulator's machines.
    pub fn probe(cache_dir: &Path) -> Caps {
        let emulator = DEFAULT_EMULATOR.to_string();
        let mtime = std::fs::metadata(&emulator)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let cache = cache_dir.join("machines.txt");
        let stamp = format!("{} {}\n", emulator, mtime);
        let text = match std::fs::read_to_string(&cache) {
            Ok(t) if t.starts_with(&stamp) => t[stamp.len()..].to_string(),
            _ => {
                let out = std::process::Command::new(&emulator)
                    .args(["-machine", "help"])
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                if !out.is_empty() {
                    let _ = std::fs::create_dir_all(cache_dir);
                    let _ = crate::store::write_atomic(
                        &cache,
                        format!("{}{}", stamp, out).as_bytes(),
                        false,
                    );
                }
                out
            }
        };
        let mut caps = Caps {
            emulator,
            ..Default::default()
        };
        for line in text.lines().skip(1) {
            let mut it = line.split_whitespace();
            let Some(name) = it.next() else { continue };
            caps.machines.push(name.to_string());
            if let Some(i) = line.find("(alias of ") {
                let rest = &line[i + 10..];
                if let Some(j) = rest.find(')') {
                    caps.aliases.push((name.to_string(), rest[..j].to_string()));
                }
            }
        }
        caps
    }

    /// The canonical machine for `m` (aliases resolved).
    pub fn canonical_machine(&self, m: &str) -> String {
        self.aliases
            .iter()
            .find(|(a, _)| a == m)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| m.to_string())
    }
}

/// True when /dev/kvm can be opened for use.
pub fn kvm_usable() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}
