//! oxvirsh: virsh's grammar, commands and output over oxvirt's drivers.
//!
//! The parser ([`parse`]) and the command table ([`defs`]) are pure; the
//! commands ([`cmds`]) talk to a [`oxvirt_core::Connection`] only.

pub mod cmd;
pub mod cmds;
pub mod complete;
pub mod ctl;
pub mod defs;
pub mod out;
pub mod parse;
pub mod table;

use cmd::{cflag, Cmd};
use ctl::{Ctl, Fail};

/// Runs parsed commands in order (vshCommandRun); returns whether the
/// last one succeeded.
pub fn run(ctl: &mut Ctl, cmds: &[Cmd]) -> bool {
    let mut ok = true;
    for c in cmds {
        let start = std::time::Instant::now();
        let res = if c.def.flags & cflag::NOCONNECT == 0 && ctl.conn.is_none() {
            let ro = ctl.readonly;
            ctl.connect(None, ro)
        } else {
            Ok(())
        };
        let res = res.and_then(|_| {
            if ctl.json && !out::JSON_COMMANDS.contains(&c.def.name) {
                return Err(Fail::Msg(format!(
                    "command '{}' has no JSON output",
                    c.def.name
                )));
            }
            cmds::dispatch(ctl, c)
        });
        ok = res.is_ok();
        if let Err(f) = res {
            ctl.fail(f);
        }
        if c.def.name == "quit" || c.def.name == "exit" {
            ctl.quit = true;
            return ok;
        }
        if ctl.timing {
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            ctl.print(&format!("\n(Time: {:.3} ms)\n\n", ms));
        } else if !ctl.json {
            ctl.extra("\n");
        }
    }
    ok
}

/// A failure with no further message (the handler printed it).
pub fn silent() -> Fail {
    Fail::Silent
}
