//! `console`, and `start --console` / `create --console`: the terminal
//! joined to a domain's console stream, as virsh does it. The terminal is
//! raw while the session runs; the escape character (`-e`, `^]` by
//! default) at the start of a read ends it, as does the end of the stream.

use std::io::Write;

use oxvirt_core::error::from;
use oxvirt_core::types::DomainRef;
use oxvirt_core::{Error, Stream};

use crate::cmd::Cmd;
use crate::ctl::{Ctl, Fail, R};

/// virsh's VIR_DOMAIN_CONSOLE_FORCE and _SAFE.
const FORCE: u32 = 1;
const SAFE: u32 = 2;
/// The domain state that has no console.
const SHUTOFF: i32 = 5;

pub fn console(ctl: &mut Ctl, c: &Cmd) -> R {
    let dom = ctl.domain(c)?;
    let devname = c.string("devname")?.map(str::to_string);
    let mut flags = 0;
    if c.has("force") {
        flags |= FORCE;
    }
    if c.has("safe") {
        flags |= SAFE;
    }
    run(ctl, &dom, devname.as_deref(), flags)
}

/// cmdRunConsole: checks, the banner, then the session.
pub fn run(ctl: &mut Ctl, dom: &DomainRef, devname: Option<&str>, flags: u32) -> R {
    let state = match super::monitor::dom_state(ctl, dom) {
        Ok((s, _)) => s,
        Err(_) => return Err(Fail::Msg("Unable to get domain status".into())),
    };
    if state == SHUTOFF {
        return Err(Fail::Msg("The domain is not running".into()));
    }
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(0) } == 0 {
        return Err(Fail::Msg(
            "Cannot run interactive console without a controlling TTY".into(),
        ));
    }
    ctl.extra(&format!("Connected to domain '{}'\n", dom.name));
    let esc = ctl.escape.clone();
    let mut banner = format!("Escape character is {}", esc);
    if let Some(k) = esc.strip_prefix('^') {
        banner.push_str(&format!(" (Ctrl + {})", k));
    }
    banner.push('\n');
    ctl.extra(&banner);
    let escape = escape_byte(&esc);
    let conn = ctl.conn()?;
    let _tty = RawTerminal::enter()?;
    let _signals = IgnoredSignals::install(&[
        libc::SIGQUIT,
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGPIPE,
    ]);
    let stream = conn.domain_open_console(dom, devname, flags)?;
    session(stream, escape).map_err(Fail::lib)
}

/// virshGetEscapeChar: `^X` is the control character of X.
fn escape_byte(s: &str) -> u8 {
    let b = s.as_bytes();
    match b {
        [b'^', k, ..] => k.to_ascii_uppercase() ^ 0x40,
        [k, ..] => *k,
        [] => 0x1d,
    }
}

/// Copies the console to stdout and stdin to the console until the
/// escape character, the end of either side, or an error. A clean end
/// finishes the stream; anything else aborts it.
fn session(mut st: Box<dyn Stream>, escape: u8) -> Result<(), Error> {
    let mut out = std::io::stdout();
    let mut buf = [0u8; 1024];
    let result = loop {
        // What the user typed, without waiting.
        match read_stdin(&mut buf) {
            Ok(None) => {}
            Ok(Some(0)) => break Err(internal("EOF on stdin")),
            Ok(Some(_)) if buf[0] == escape => break Ok(()),
            Ok(Some(n)) => {
                if let Err(e) = st.send(&buf[..n]) {
                    break Err(e);
                }
            }
            Err(e) => break Err(Error::system(from::NONE, "cannot read from stdin", &e)),
        }
        // What the guest wrote; a duplex stream answers an empty chunk
        // when nothing came within its short wait.
        match st.recv() {
            Ok(Some(d)) if d.is_empty() => {}
            Ok(Some(d)) => {
                if out.write_all(&d).and_then(|_| out.flush()).is_err() {
                    break Err(internal("cannot write to stdout"));
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let end = if result.is_ok() {
        st.finish()
    } else {
        st.abort()
    };
    match (result, end) {
        (Err(e), _) => Err(e),
        (Ok(()), Err(_)) => Err(internal("cannot terminate console stream")),
        (Ok(()), Ok(())) => Ok(()),
    }
}

fn internal(msg: &str) -> Error {
    Error::internal(from::NONE, msg)
}

/// Reads stdin if it has something now: `None` when it has not.
pub(super) fn read_stdin(buf: &mut [u8]) -> std::io::Result<Option<usize>> {
    let mut p = libc::pollfd {
        fd: 0,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        return if e.kind() == std::io::ErrorKind::Interrupted {
            Ok(None)
        } else {
            Err(e)
        };
    }
    if r == 0 {
        return Ok(None);
    }
    // SAFETY: reads into a buffer we own, at most its length.
    let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        return match e.kind() {
            std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock => Ok(None),
            _ => Err(e),
        };
    }
    Ok(Some(n as usize))
}

/// The terminal in raw mode (cfmakeraw) until dropped.
struct RawTerminal(libc::termios);

impl RawTerminal {
    fn enter() -> Result<RawTerminal, Fail> {
        // SAFETY: termios is plain data; tcgetattr fills it.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 and a valid termios pointer.
        if unsafe { libc::tcgetattr(0, &mut saved) } < 0 {
            return Err(Fail::Msg(
                "unable to make terminal raw: console isn't a tty".into(),
            ));
        }
        let mut raw = saved;
        // SAFETY: a valid termios pointer.
        unsafe { libc::cfmakeraw(&mut raw) };
        // SAFETY: fd 0 and a valid termios pointer.
        if unsafe { libc::tcsetattr(0, libc::TCSAFLUSH, &raw) } < 0 {
            return Err(Fail::Msg(format!(
                "unable to set tty attributes: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(RawTerminal(saved))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: fd 0 and the attributes saved on entry.
        unsafe { libc::tcsetattr(0, libc::TCSAFLUSH, &self.0) };
    }
}

/// Signals that do nothing while a session or a job runs (virsh catches
/// them), so that the terminal is always restored; the previous handlers
/// come back when dropped.
pub(super) struct IgnoredSignals(Vec<(libc::c_int, libc::sigaction)>);

extern "C" fn nothing(_: libc::c_int) {}

impl IgnoredSignals {
    pub(super) fn install(signals: &[libc::c_int]) -> IgnoredSignals {
        let mut saved = Vec::new();
        for &sig in signals {
            // SAFETY: sigaction is plain data; the handler is async-signal
            // safe (it does nothing).
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = nothing as *const () as libc::sighandler_t;
                libc::sigemptyset(&mut sa.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &sa, &mut old) == 0 {
                    saved.push((sig, old));
                }
            }
        }
        IgnoredSignals(saved)
    }
}

impl Drop for IgnoredSignals {
    fn drop(&mut self) {
        for (sig, old) in &self.0 {
            // SAFETY: restores a handler sigaction gave us.
            unsafe { libc::sigaction(*sig, old, std::ptr::null_mut()) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::escape_byte;

    #[test]
    fn escape_characters_as_virsh_reads_them() {
        assert_eq!(escape_byte("^]"), 0x1d);
        assert_eq!(escape_byte("^a"), 0x01);
        assert_eq!(escape_byte("^["), 0x1b);
        assert_eq!(escape_byte("~"), b'~');
    }
}
