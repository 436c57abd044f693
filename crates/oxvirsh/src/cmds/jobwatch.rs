//! virshWatchJob for `save`, `managedsave` and `dump --verbose`: the API
//! call runs on a worker thread while this one asks for the job's progress
//! every 500 ms (virDomainGetJobInfo, as virsh) and prints virsh's
//! `\rLabel: [ NN %]` to stderr, then `[100 %]` once the call succeeded.
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

/// Runs `work` (the job's API call) and, with `verbose`, reports its
/// progress as virsh does; returns what `work` returned.
pub fn watch<T: Send>(
    conn: &Arc<dyn Connection>,
    dom: &DomainRef,
    verbose: bool,
    label: &str,
    work: impl FnOnce() -> oxvirt_core::Result<T> + Send,
) -> oxvirt_core::Result<T> {
    if !verbose {
        return work();
    }
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        s.spawn(move || {
            let _ = tx.send(work());
        });
        let r = loop {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(r) => break r,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    // Errors of the progress query are ignored, as virsh's.
                    if let Ok(j) = conn.domain_get_job_info(dom) {
                        if j.data_total > 0 {
                            print_progress(label, j.data_remaining, j.data_total);
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break Err(oxvirt_core::Error::internal(
                        oxvirt_core::error::from::NONE,
                        "job worker vanished",
                    ));
                }
            }
        };
        if r.is_ok() {
            print_progress(label, 0, 1);
        }
        r
    })
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
