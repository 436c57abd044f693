//! External programs run as libvirt's virCommand runs them: the whole
//! output captured, and a failure reported as "Child process (CMDLINE)
//! unexpected exit status N: STDERR".

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Stdio;

use oxvirt_core::{Error, Result};

/// A command line to run.
#[derive(Debug, Clone)]
pub struct Command {
    args: Vec<String>,
    env: Vec<(String, String)>,
    input: Option<String>,
    domain: i32,
}

/// What a finished program returned.
#[derive(Debug, Clone)]
pub struct Output {
    /// The exit status (128 + signal when killed by a signal).
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// libvirt's virBufferEscapeShell: quote only when metacharacters appear.
pub fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    if !s
        .chars()
        .any(|c| "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~".contains(c))
    {
        return s.to_string();
    }
    let mut out = String::from("'");
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\'");
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Finds `prog` in PATH (or takes it as is when it has a slash), as
/// virFindFileInPath does.
pub fn find_in_path(prog: &str) -> Option<PathBuf> {
    if prog.contains('/') {
        let p = PathBuf::from(prog);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    // libvirtd runs as root with the sbin directories; so do we.
    for d in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        if !dirs.iter().any(|x| x == OsStr::new(d)) {
            dirs.push(PathBuf::from(d));
        }
    }
    dirs.into_iter()
        .map(|d| d.join(prog))
        .find(|p| is_executable(p))
}

fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

impl Command {
    /// A command reporting its errors in error domain `domain`.
    pub fn new(prog: impl Into<String>, domain: i32) -> Command {
        Command {
            args: vec![prog.into()],
            env: Vec::new(),
            input: None,
            domain,
        }
    }

    pub fn arg(&mut self, a: impl Into<String>) -> &mut Command {
        self.args.push(a.into());
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// An environment variable, shown before the program in messages.
    pub fn env(&mut self, k: &str, v: &str) -> &mut Command {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Data written to the program's standard input (virCommandSetInputBuffer).
    pub fn input(&mut self, data: impl Into<String>) -> &mut Command {
        self.input = Some(data.into());
        self
    }

    /// The command line as libvirt prints it.
    pub fn to_cmdline(&self) -> String {
        let mut parts: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{}={}", k, shell_quote(v)))
            .collect();
        parts.extend(self.args.iter().map(|a| shell_quote(a)));
        parts.join(" ")
    }

    /// Runs the program to completion; any exit status is returned.
    pub fn output(&self) -> Result<Output> {
        let Some(bin) = find_in_path(&self.args[0]) else {
            let e = std::io::Error::from_raw_os_error(libc::ENOENT);
            return Err(Error::system(
                self.domain,
                format!("Cannot find '{}' in path", self.args[0]),
                &e,
            ));
        };
        let mut c = std::process::Command::new(bin);
        c.args(&self.args[1..])
            .stdin(if self.input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        // As virExec: the child gets stdin, stdout and stderr only (lvm
        // tools, for one, complain about any other inherited descriptor).
        unsafe {
            use std::os::unix::process::CommandExt;
            c.pre_exec(|| {
                if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
                    for fd in 3..1024 {
                        libc::close(fd);
                    }
                }
                Ok(())
            });
        }
        let exec_err = |e: std::io::Error| {
            Error::system(
                self.domain,
                format!("cannot execute binary {}", self.args[0]),
                &e,
            )
        };
        let mut child = c.spawn().map_err(exec_err)?;
        if let (Some(data), Some(mut w)) = (&self.input, child.stdin.take()) {
            use std::io::Write;
            // A program that exits without reading all of it fails below.
            let _ = w.write_all(data.as_bytes());
        }
        let out = child.wait_with_output().map_err(exec_err)?;
        use std::os::unix::process::ExitStatusExt;
        let status = match (out.status.code(), out.status.signal()) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            _ => -1,
        };
        Ok(Output {
            status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs the program; a non-zero exit is libvirt's child-process error.
    pub fn run(&self) -> Result<Output> {
        let out = self.output()?;
        if out.status != 0 {
            return Err(self.failure(&out));
        }
        Ok(out)
    }

    /// The error virCommandRun reports for `out`.
    pub fn failure(&self, out: &Output) -> Error {
        let st = if out.status > 128 {
            format!("fatal signal {}", out.status - 128)
        } else {
            format!("exit status {}", out.status)
        };
        let tail = if out.stderr.is_empty() {
            String::new()
        } else {
            format!(": {}", out.stderr)
        };
        Error::internal(
            self.domain,
            format!(
                "Child process ({}) unexpected {}{}",
                self.to_cmdline(),
                st,
                tail
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_libvirt_and_reports_failures() {
        assert_eq!(shell_quote("/a/b.img"), "/a/b.img");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        let mut c = Command::new("sh", 18);
        c.args(["-c", "echo oops >&2; exit 3"]).env("LC_ALL", "C");
        let e = c.run().unwrap_err();
        assert_eq!(
            e.message,
            "internal error: Child process (LC_ALL=C sh -c 'echo oops >&2; exit 3') unexpected exit status 3: oops\n"
        );
        let e = Command::new("no-such-program-oxvirt", 18)
            .run()
            .unwrap_err();
        assert_eq!(
            e.message,
            "Cannot find 'no-such-program-oxvirt' in path: No such file or directory"
        );
        let out = Command::new("true", 18).run().unwrap();
        assert_eq!(out.status, 0);
        let out = Command::new("cat", 18).input("to stdin\n").run().unwrap();
        assert_eq!(out.stdout, "to stdin\n");
    }
}
