//! virsh's commands, by group.

mod checkpoint;
mod console;
mod devices;
mod domain;
mod edit;
mod event;
mod guest;
mod host;
mod hostobj;
mod jobwatch;
mod monitor;
mod network;
mod objevent;
mod pool;
mod secret;
mod shell;
mod snapshot;
mod stats;
mod tunables;
pub mod tune;
mod volume;
pub mod xpath;

use oxvirt_core::error::{code, from};
use oxvirt_core::Error;

use crate::cmd::Cmd;
use crate::ctl::{Ctl, Fail, R};

/// A command handler.
pub type Handler = fn(&mut Ctl, &Cmd) -> R;

/// Runs one parsed command.
pub fn dispatch(ctl: &mut Ctl, cmd: &Cmd) -> R {
    let name = cmd.def.name;
    let h = shell::handler(name)
        .or_else(|| domain::handler(name))
        .or_else(|| monitor::handler(name))
        .or_else(|| host::handler(name))
        .or_else(|| event::handler(name))
        .or_else(|| tune::handler(name))
        .or_else(|| tunables::handler(name))
        .or_else(|| stats::handler(name))
        .or_else(|| hostobj::handler(name))
        .or_else(|| devices::handler(name))
        .or_else(|| network::handler(name))
        .or_else(|| pool::handler(name))
        .or_else(|| volume::handler(name))
        .or_else(|| snapshot::handler(name))
        .or_else(|| checkpoint::handler(name))
        .or_else(|| objevent::handler(name))
        .or_else(|| secret::handler(name))
        .or_else(|| guest::handler(name));
    match h {
        Some(h) => h(ctl, cmd),
        None => Err(Fail::lib(Error::new(
            code::NO_SUPPORT,
            from::NONE,
            format!("virsh command '{}'", name),
        ))),
    }
}

/// VSH_EXCLUSIVE_OPTIONS: fails when both options are given.
pub fn exclusive(cmd: &Cmd, a: &str, b: &str) -> R {
    if cmd.has(a) && cmd.has(b) {
        return Err(Fail::Msg(format!(
            "Options --{} and --{} are mutually exclusive",
            a, b
        )));
    }
    Ok(())
}

/// VSH_REQUIRE_OPTION: `a` needs `b`.
pub fn requires(cmd: &Cmd, a: &str, b: &str) -> R {
    if cmd.has(a) && !cmd.has(b) {
        return Err(Fail::Msg(format!(
            "Option --{} is required by option --{}",
            b, a
        )));
    }
    Ok(())
}

/// Reads a file named on the command line (virFileReadAll with virsh's
/// limit for XML), as the C string virsh hands on: up to its first NUL.
pub fn read_file(path: &str) -> Result<String, Fail> {
    read_file_max(path, 10 * 1024 * 1024)
}

/// [`read_file`] with another limit.
pub fn read_file_max(path: &str, max: u64) -> Result<String, Fail> {
    let bytes = read_bytes(path, max)?;
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    Ok(String::from_utf8_lossy(&bytes[..end]).into_owned())
}

/// virFileReadAll's bytes, all of them.
pub fn read_bytes(path: &str, max: u64) -> Result<Vec<u8>, Fail> {
    let err = |what: &str, e: &std::io::Error| {
        Fail::lib(Error::new(
            code::SYSTEM_ERROR,
            from::NONE,
            format!(
                "Failed to {} file '{}': {}",
                what,
                path,
                oxvirt_core::error::strerror(e)
            ),
        ))
    };
    let f = std::fs::File::open(path).map_err(|e| err("open", &e))?;
    let mut s = Vec::new();
    use std::io::Read;
    f.take(max + 1)
        .read_to_end(&mut s)
        .map_err(|e| err("read", &e))?;
    if s.len() as u64 > max {
        return Err(Fail::lib(Error::new(
            code::INTERNAL_ERROR,
            from::NONE,
            format!("File '{}' is too large", path),
        )));
    }
    Ok(s)
}

/// virsh's state names (virshDomainStateToString).
pub fn state_str(state: i32) -> &'static str {
    match state {
        1 => "running",
        2 => "idle",
        3 => "paused",
        4 => "in shutdown",
        5 => "shut off",
        6 => "crashed",
        7 => "pmsuspended",
        _ => "no state",
    }
}
