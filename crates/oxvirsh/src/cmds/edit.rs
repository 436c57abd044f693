//! virsh's editing round (virsh-edit.c and vshEdit*): the document is
//! written to `$TMPDIR/virshXXXXXX.xml`, `$VISUAL`/`$EDITOR` (or
//! sensible-editor) runs on it, and the result is read back.

use std::io::Write;

use oxvirt_core::error::{code, from};
use oxvirt_core::Error;

use crate::ctl::{Ctl, Fail};

/// Characters virsh lets through to an editor without a shell.
const ACCEPTED: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_.:@";

fn accepted(s: &str) -> bool {
    s.chars().all(|c| ACCEPTED.contains(c))
}

/// A temporary file removed when dropped.
struct TempFile(String);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// vshEditWriteToTempFile.
fn write_temp(doc: &str) -> Result<TempFile, Fail> {
    let dir = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".to_string());
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ ((std::process::id() as u64) << 32);
    for _ in 0..100 {
        let mut suffix = String::new();
        for _ in 0..6 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            suffix.push(CHARS[((seed >> 33) % CHARS.len() as u64) as usize] as char);
        }
        let path = format!("{}/virsh{}.xml", dir, suffix);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(&path) {
            Ok(mut f) => {
                let tmp = TempFile(path);
                if let Err(e) = f.write_all(doc.as_bytes()) {
                    return Err(Fail::Msg(format!(
                        "write: {}: failed to write to temporary file: {}",
                        tmp.0,
                        oxvirt_core::error::strerror(&e)
                    )));
                }
                return Ok(tmp);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Fail::Msg(format!(
                    "g_mkstemp_full: failed to create temporary file: {}",
                    oxvirt_core::error::strerror(&e)
                )))
            }
        }
    }
    Err(Fail::Msg(
        "g_mkstemp_full: failed to create temporary file: File exists".into(),
    ))
}

/// vshEditFile.
fn run_editor(file: &str) -> Result<(), Fail> {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "sensible-editor".to_string());
    let mut cmd = if accepted(&editor) {
        let mut c = std::process::Command::new(&editor);
        c.arg(file);
        c
    } else {
        if !accepted(file) {
            return Err(Fail::Msg(format!(
                "{}: temporary filename contains shell meta or other unacceptable characters (is $TMPDIR wrong?)",
                file
            )));
        }
        let mut c = std::process::Command::new("sh");
        c.arg("-c").arg(format!("{} {}", editor, file));
        c
    };
    let shown = if accepted(&editor) {
        format!("{} {}", editor, file)
    } else {
        format!("sh -c {} {}", editor, file)
    };
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(Fail::lib(Error::new(
            code::INTERNAL_ERROR,
            from::NONE,
            format!(
                "Child process ({}) unexpected exit status {}",
                shown,
                s.code().unwrap_or(-1)
            ),
        ))),
        Err(e) => Err(Fail::lib(Error::new(
            code::SYSTEM_ERROR,
            from::NONE,
            format!(
                "Cannot run program '{}': {}",
                editor,
                oxvirt_core::error::strerror(&e)
            ),
        ))),
    }
}

/// One editing round: `Ok(None)` when the document came back unchanged.
pub fn edit(_ctl: &Ctl, doc: &str) -> Result<Option<String>, Fail> {
    let tmp = write_temp(doc)?;
    run_editor(&tmp.0)?;
    let edited = std::fs::read_to_string(&tmp.0).map_err(|e| {
        Fail::Msg(format!(
            "{}: failed to read temporary file: {}",
            tmp.0,
            oxvirt_core::error::strerror(&e)
        ))
    })?;
    Ok((edited != doc).then_some(edited))
}

/// virsh-edit.c's round for objects redefined from their XML (`get`
/// reads it, `define` writes the edited one): `Ok(false)` when the
/// document came back unchanged. Without a terminal to ask on, as virsh
/// does, a document changed meanwhile or a failed redefinition prints its
/// message and ends the round as done, the libvirt error kept as the last
/// one.
pub fn edit_define(
    ctl: &mut Ctl,
    get: impl Fn() -> oxvirt_core::Result<String>,
    define: impl FnOnce(&str) -> oxvirt_core::Result<()>,
) -> Result<bool, Fail> {
    let doc = get()?;
    let Some(edited) = edit(ctl, &doc)? else {
        return Ok(false);
    };
    if get()? != doc {
        ctl.error("The XML configuration was changed by another user.");
    } else if let Err(e) = define(&edited) {
        ctl.error("Failed.");
        ctl.last_error = Some(e);
    }
    Ok(true)
}
