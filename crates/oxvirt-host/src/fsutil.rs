//! Files written atomically and removed idempotently.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use oxvirt_core::{Error, Result};

/// A per-process sequence, so concurrent writers of one file never share
/// a temporary name.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// Writes `data` to `path` atomically with file mode `mode`: a temporary
/// file in the same directory is written, fsynced (with `durable`),
/// renamed over `path`, and the directory fsynced (with `durable`). A
/// reader sees the old content or the new one, never a mix, and a crash
/// at any point leaves one of the two (plus, at worst, a stray temporary
/// file whose name starts with `.`).
pub fn write_atomic_mode(
    path: &Path,
    data: &[u8],
    mode: u32,
    durable: bool,
    domain: i32,
) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}.{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    // Each step fails with libvirt's message for it (virFileRewrite and
    // its writer), e.g. "cannot write data to file 'T': No space left on
    // device", VIR_ERR_SYSTEM_ERROR.
    let shown = tmp.display();
    let step = |what: String| move |e: std::io::Error| (what, e);
    let res = (|| -> std::result::Result<(), (String, std::io::Error)> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(step(format!("Failed to create file '{}'", shown)))?;
        f.write_all(data)
            .map_err(step(format!("cannot write data to file '{}'", shown)))?;
        if durable {
            f.sync_all()
                .map_err(step(format!("cannot sync file '{}'", shown)))?;
        }
        drop(f);
        std::fs::rename(&tmp, path).map_err(step(format!(
            "cannot rename file '{}' as '{}'",
            shown,
            path.display()
        )))?;
        if durable {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(step(format!("cannot sync directory '{}'", dir.display())))?;
        }
        Ok(())
    })();
    res.map_err(|(what, e)| {
        let _ = std::fs::remove_file(&tmp);
        Error::system(domain, what, &e)
    })
}

/// Whether `name` is one of the temporaries [`write_atomic_mode`] writes
/// (`.NAME.tmpPID.SEQ`), or an older version's (`.NAME.tmpPID`).
pub fn is_temporary(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.') else {
        return false;
    };
    let Some(i) = rest.rfind(".tmp") else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let tail = &rest[i + 4..];
    i > 0
        && match tail.split_once('.') {
            Some((pid, seq)) => digits(pid) && digits(seq),
            None => digits(tail),
        }
}

/// [`write_atomic_mode`] with mode 0644.
pub fn write_atomic(path: &Path, data: &[u8], durable: bool, domain: i32) -> Result<()> {
    write_atomic_mode(path, data, 0o644, durable, domain)
}

/// Removes a file, ignoring "not found".
pub fn remove_file(path: &Path, domain: i32) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::system(
            domain,
            format!("cannot remove {}", path.display()),
            &e,
        )),
    }
}

/// Removes stray temporary files [`write_atomic_mode`] left in `dir` when
/// the process died between writing and renaming.
pub fn remove_stray_temporaries(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        if is_temporary(&name.to_string_lossy()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn atomic_writes_replace_whole_files_from_many_threads() {
        let dir = std::env::temp_dir().join(format!("oxvirt-host-fs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.xml");
        std::thread::scope(|s| {
            for i in 0..8 {
                let p = p.clone();
                s.spawn(move || {
                    for _ in 0..20 {
                        write_atomic_mode(&p, format!("v{}", i).as_bytes(), 0o600, false, 0)
                            .unwrap();
                    }
                });
            }
        });
        let v = std::fs::read_to_string(&p).unwrap();
        assert!(v.starts_with('v') && v.len() == 2);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        remove_file(&p, 0).unwrap();
        remove_file(&p, 0).unwrap();
        for (name, temp) in [
            (".a.xml.tmp12.3", true),
            (".a.xml.tmp12", true),
            ("a.xml", false),
            (".a.tmp", false),
            (".tmp1.2", false),
            (".a.tmp1.x", false),
        ] {
            assert_eq!(is_temporary(name), temp, "{}", name);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
