//! virshWatchJob for `save`, `managedsave` and `dump`: the API call runs
//! on a worker thread while this one asks for the job's progress every
//! 500 ms (virDomainGetJobInfo, as virsh) and, with `--verbose`, prints
//! virsh's `\rLabel: [ NN %]` to stderr, then `[100 %]` once the call
//! succeeded; on a terminal, Ctrl-C aborts the job.
//!
//! Not drawn with `indicatif`: virsh repeats its exact bytes (a carriage
//! return, no escape sequences, no newline) at every poll whether or not
//! stderr is a terminal, while indicatif hides its bar when stderr is not
//! a terminal and redraws with ANSI line clears, so neither the bytes a
//! script or test reads nor the poll-driven repetition would match.

use std::io::Write;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use oxvirt_core::types::DomainRef;
use oxvirt_core::Connection;

/// virshPrintJobProgress.
pub fn progress_line(label: &str, remaining: u64, total: u64) -> String {
    let progress = if remaining == 0 {
        100
    } else {
        let p = (100.0 - remaining as f64 * 100.0 / total as f64) as i32;
        p.min(99)
    };
    format!("\r{}: [{:3} %]", label, progress)
}

fn print_progress(label: &str, remaining: u64, total: u64) {
    // As vshError: stdout first, so the streams interleave.
    let _ = std::io::stdout().flush();
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(progress_line(label, remaining, total).as_bytes());
    let _ = err.flush();
}

/// How often the job's progress is asked for (virsh: 500 ms).
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// How often the terminal is looked at for the interrupt character.
const TTY_EVERY: Duration = Duration::from_millis(50);

/// Runs `work` (the job's API call) and, as virshWatchJob: with
/// `verbose`, reports its progress; on a terminal, once the job has
/// started, the interrupt character (Ctrl-C) typed on stdin aborts the
/// job (virDomainAbortJob) instead of killing the shell, and SIGINT is
/// caught meanwhile. Returns what `work` returned.
pub fn watch<T: Send>(
    conn: &Arc<Connection>,
    dom: &DomainRef,
    verbose: bool,
    label: &str,
    work: impl FnOnce() -> oxvirt_core::Result<T> + Send,
) -> oxvirt_core::Result<T> {
    let tty = Terminal::stdin();
    if !verbose && tty.is_none() {
        return work();
    }
    let _sigint = super::console::IgnoredSignals::install(&[libc::SIGINT]);
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        s.spawn(move || {
            let _ = tx.send(work());
        });
        let mut started = false;
        let mut interrupt: Option<(u8, NoInterrupt)> = None;
        let mut last_progress = std::time::Instant::now();
        let tick = if tty.is_some() {
            TTY_EVERY
        } else {
            PROGRESS_EVERY
        };
        let r = loop {
            match rx.recv_timeout(tick) {
                Ok(r) => break r,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break Err(oxvirt_core::Error::internal(
                        oxvirt_core::error::from::NONE,
                        "job worker vanished",
                    ));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if let Some((vintr, _)) = &interrupt {
                if stdin_interrupt(*vintr) {
                    let _ = conn.domain_abort_job(dom);
                    interrupt = None;
                }
            }
            if last_progress.elapsed() < PROGRESS_EVERY || (started && !verbose) {
                continue;
            }
            last_progress = std::time::Instant::now();
            // Errors of the progress query are ignored, as virsh's.
            let Ok(j) = conn.domain_get_job_info(dom) else {
                continue;
            };
            if verbose && j.data_total > 0 {
                print_progress(label, j.data_remaining, j.data_total);
            }
            // BOUNDED or UNBOUNDED: from now on Ctrl-C aborts the job.
            if !started && (j.job_type == 1 || j.job_type == 2) {
                started = true;
                if let Some(t) = &tty {
                    interrupt = t.without_interrupt();
                }
            }
        };
        drop(interrupt);
        if r.is_ok() && verbose {
            print_progress(label, 0, 1);
        }
        r
    })
}

/// stdin's terminal settings, when stdin is a terminal.
struct Terminal(libc::termios);

impl Terminal {
    fn stdin() -> Option<Terminal> {
        // SAFETY: termios is plain data; tcgetattr fills it.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 and a valid termios pointer.
        if unsafe { libc::isatty(0) } == 1 && unsafe { libc::tcgetattr(0, &mut t) } == 0 {
            Some(Terminal(t))
        } else {
            None
        }
    }

    /// vshTTYDisableInterrupt: the interrupt character no longer raises
    /// SIGINT and arrives on stdin at once; `(that character, the guard
    /// that restores the settings)`.
    fn without_interrupt(&self) -> Option<(u8, NoInterrupt)> {
        let vintr = self.0.c_cc[libc::VINTR];
        if vintr == 0 {
            return None;
        }
        let mut t = self.0;
        t.c_cc[libc::VINTR] = 0;
        t.c_lflag &= !libc::ICANON;
        // SAFETY: fd 0 and a valid termios pointer.
        if unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) } < 0 {
            return None;
        }
        Some((vintr, NoInterrupt(self.0)))
    }
}

/// Restores the terminal settings it holds when dropped.
struct NoInterrupt(libc::termios);

impl Drop for NoInterrupt {
    fn drop(&mut self) {
        // SAFETY: fd 0 and the settings saved before the change.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.0) };
    }
}

/// Reads what is waiting on stdin (without blocking): true when it holds
/// the interrupt character, or stdin hung up or failed.
fn stdin_interrupt(vintr: u8) -> bool {
    let mut c = [0u8; 1];
    match super::console::read_stdin(&mut c) {
        Ok(None) => false,
        Ok(Some(n)) => n == 0 || c[0] == vintr,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::progress_line;

    #[test]
    fn lines_as_virsh_prints_them() {
        assert_eq!(progress_line("Save", 0, 1), "\rSave: [100 %]");
        assert_eq!(progress_line("Save", 75, 100), "\rSave: [ 25 %]");
        assert_eq!(progress_line("Dump", 1, 1_000_000), "\rDump: [ 99 %]");
        assert_eq!(
            progress_line("Managedsave", 100, 100),
            "\rManagedsave: [  0 %]"
        );
    }
}
