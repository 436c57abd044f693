//! A QMP client for one QEMU process.
//!
//! One reader thread owns the socket's read side: it matches replies to
//! the commands that wait for them (by `id`) and forwards events to a
//! channel, so an event that arrives while no command runs (the guest
//! powering off) is never lost. Command and event types come from the
//! `qapi` crate; this crate knows nothing of libvirt.
//!
//! Invariant: a malformed line from QEMU is an error for the caller, never
//! a panic.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use qapi::qmp;
use serde_json::Value;

/// The longest line accepted from QEMU (a query-qmp-schema reply is large).
pub const MAX_LINE: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("cannot connect to QMP socket {path}: {source}")]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("QMP I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("QMP protocol error: {0}")]
    Protocol(String),
    /// QEMU answered with an error.
    #[error("{desc}")]
    Qemu { class: String, desc: String },
    /// The monitor connection closed (QEMU exited).
    #[error("QMP connection closed")]
    Closed,
    #[error("timed out waiting for QMP reply to {0}")]
    Timeout(String),
}

/// An asynchronous event from QEMU.
#[derive(Debug, Clone, PartialEq)]
pub struct QmpEvent {
    pub name: String,
    pub data: Value,
    /// Seconds and microseconds since the epoch, as QEMU stamped it.
    pub seconds: i64,
    pub microseconds: i64,
}

/// What the reader thread delivers on the event channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Event(QmpEvent),
    /// The socket closed; no more events will come.
    Closed,
}

type Pending = Arc<Mutex<HashMap<u64, Sender<Result<Value, QmpError>>>>>;

/// A connected, negotiated QMP monitor.
pub struct Qmp {
    writer: Mutex<UnixStream>,
    pending: Pending,
    next_id: AtomicU64,
    /// Events the reader thread has put on the event channel so far.
    events_sent: Arc<AtomicU64>,
    /// The QEMU version from the greeting: (major, minor, micro).
    pub version: (u64, u64, u64),
    timeout: Duration,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Classifies one line from QEMU.
#[derive(Debug, PartialEq)]
pub enum Message {
    Greeting(Value),
    Reply {
        id: Option<u64>,
        result: Result<Value, (String, String)>,
    },
    Event(QmpEvent),
}

/// Parses one line of QMP output.
pub fn parse_line(line: &str) -> Result<Message, QmpError> {
    let v: Value = serde_json::from_str(line).map_err(|e| QmpError::Protocol(e.to_string()))?;
    let obj = v
        .as_object()
        .ok_or_else(|| QmpError::Protocol("message is not an object".into()))?;
    if let Some(g) = obj.get("QMP") {
        return Ok(Message::Greeting(g.clone()));
    }
    if let Some(name) = obj.get("event").and_then(Value::as_str) {
        let ts = obj.get("timestamp");
        let field = |k: &str| {
            ts.and_then(|t| t.get(k))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        return Ok(Message::Event(QmpEvent {
            name: name.to_string(),
            data: obj.get("data").cloned().unwrap_or(Value::Null),
            seconds: field("seconds"),
            microseconds: field("microseconds"),
        }));
    }
    let id = obj.get("id").and_then(Value::as_u64);
    if let Some(r) = obj.get("return") {
        return Ok(Message::Reply {
            id,
            result: Ok(r.clone()),
        });
    }
    if let Some(e) = obj.get("error") {
        let class = e
            .get("class")
            .and_then(Value::as_str)
            .unwrap_or("GenericError");
        let desc = e
            .get("desc")
            .and_then(Value::as_str)
            .unwrap_or("unknown error");
        return Ok(Message::Reply {
            id,
            result: Err((class.to_string(), desc.to_string())),
        });
    }
    Err(QmpError::Protocol("unexpected message".into()))
}

fn read_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>) -> Result<bool, QmpError> {
    buf.clear();
    let n = std::io::Read::take(&mut *r, MAX_LINE as u64).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(false);
    }
    if buf.last() != Some(&b'\n') && n >= MAX_LINE {
        return Err(QmpError::Protocol("line too long".into()));
    }
    Ok(true)
}

impl Qmp {
    /// Connects to a QMP socket, reads the greeting and leaves
    /// negotiation mode. Returns the monitor and its event channel.
    pub fn connect(path: &Path, timeout: Duration) -> Result<(Qmp, Receiver<Notice>), QmpError> {
        let stream = UnixStream::connect(path).map_err(|source| QmpError::Connect {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_stream(stream, timeout)
    }

    /// Sets up a monitor over an already connected socket.
    pub fn from_stream(
        stream: UnixStream,
        timeout: Duration,
    ) -> Result<(Qmp, Receiver<Notice>), QmpError> {
        stream.set_read_timeout(Some(timeout))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut buf = Vec::new();
        if !read_line(&mut reader, &mut buf)? {
            return Err(QmpError::Closed);
        }
        let greeting = match parse_line(&String::from_utf8_lossy(&buf))? {
            Message::Greeting(g) => g,
            other => {
                return Err(QmpError::Protocol(format!(
                    "expected greeting, got {:?}",
                    other
                )))
            }
        };
        let ver = greeting.get("version").and_then(|v| v.get("qemu"));
        let num = |k: &str| {
            ver.and_then(|v| v.get(k))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        let version = (num("major"), num("minor"), num("micro"));
        // Negotiate before the reader thread takes over.
        let mut w = stream.try_clone()?;
        w.write_all(b"{\"execute\":\"qmp_capabilities\"}\n")?;
        loop {
            if !read_line(&mut reader, &mut buf)? {
                return Err(QmpError::Closed);
            }
            match parse_line(&String::from_utf8_lossy(&buf))? {
                Message::Reply { result: Ok(_), .. } => break,
                Message::Reply {
                    result: Err((class, desc)),
                    ..
                } => return Err(QmpError::Qemu { class, desc }),
                _ => continue,
            }
        }
        stream.set_read_timeout(None)?;
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let (tx, rx) = channel();
        let p2 = pending.clone();
        let events_sent = Arc::new(AtomicU64::new(0));
        let sent2 = events_sent.clone();
        std::thread::Builder::new()
            .name("qmp-reader".into())
            .spawn(move || reader_loop(reader, p2, tx, sent2))?;
        Ok((
            Qmp {
                writer: Mutex::new(w),
                pending,
                next_id: AtomicU64::new(1),
                events_sent,
                version,
                timeout,
            },
            rx,
        ))
    }

    /// Runs a command given by name and JSON arguments.
    pub fn execute_value(&self, name: &str, args: Option<Value>) -> Result<Value, QmpError> {
        self.execute_value_timeout(name, args, self.timeout)
    }

    /// Like [`Qmp::execute_value`] with a specific timeout (migrations
    /// and saves take longer than ordinary commands).
    pub fn execute_value_timeout(
        &self,
        name: &str,
        args: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, QmpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = serde_json::Map::new();
        msg.insert("execute".into(), Value::String(name.into()));
        if let Some(a) = args {
            msg.insert("arguments".into(), a);
        }
        msg.insert("id".into(), Value::from(id));
        let mut line = serde_json::to_vec(&Value::Object(msg))
            .map_err(|e| QmpError::Protocol(e.to_string()))?;
        line.push(b'\n');
        let (tx, rx) = channel();
        lock(&self.pending).insert(id, tx);
        let sent = lock(&self.writer).write_all(&line);
        if let Err(e) = sent {
            lock(&self.pending).remove(&id);
            return Err(if e.kind() == std::io::ErrorKind::BrokenPipe {
                QmpError::Closed
            } else {
                QmpError::Io(e)
            });
        }
        match rx.recv_timeout(timeout) {
            Ok(r) => r,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                lock(&self.pending).remove(&id);
                Err(QmpError::Timeout(name.to_string()))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(QmpError::Closed),
        }
    }

    /// How many events the monitor has put on the event channel. An event
    /// QEMU sent before a command's reply is counted by the time that
    /// command returns, so a caller can wait until its event consumer has
    /// caught up with this number.
    pub fn events_received(&self) -> u64 {
        self.events_sent.load(Ordering::SeqCst)
    }

    /// Runs a command, passing `fd` to QEMU with it (SCM_RIGHTS), as
    /// `getfd` and `add-fd` expect.
    pub fn execute_value_with_fd(
        &self,
        name: &str,
        args: Option<Value>,
        fd: std::os::unix::io::RawFd,
    ) -> Result<Value, QmpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = serde_json::Map::new();
        msg.insert("execute".into(), Value::String(name.into()));
        if let Some(a) = args {
            msg.insert("arguments".into(), a);
        }
        msg.insert("id".into(), Value::from(id));
        let mut line = serde_json::to_vec(&Value::Object(msg))
            .map_err(|e| QmpError::Protocol(e.to_string()))?;
        line.push(b'\n');
        let (tx, rx) = channel();
        lock(&self.pending).insert(id, tx);
        let sent = {
            let w = lock(&self.writer);
            send_with_fd(&w, &line, fd)
        };
        if let Err(e) = sent {
            lock(&self.pending).remove(&id);
            return Err(QmpError::Io(e));
        }
        match rx.recv_timeout(self.timeout) {
            Ok(r) => r,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                lock(&self.pending).remove(&id);
                Err(QmpError::Timeout(name.to_string()))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(QmpError::Closed),
        }
    }

    /// Runs a typed command from the `qapi` crate.
    pub fn execute<C: qapi::Command>(&self, cmd: C) -> Result<C::Ok, QmpError> {
        let args = serde_json::to_value(&cmd).map_err(|e| QmpError::Protocol(e.to_string()))?;
        let args = match args {
            Value::Object(ref m) if m.is_empty() => None,
            Value::Null => None,
            other => Some(other),
        };
        let v = self.execute_value(C::NAME, args)?;
        serde_json::from_value(v).map_err(|e| QmpError::Protocol(format!("{}: {}", C::NAME, e)))
    }
}

/// Writes all of `data` on `sock`, the first chunk carrying `fd`.
fn send_with_fd(
    sock: &UnixStream,
    data: &[u8],
    fd: std::os::unix::io::RawFd,
) -> std::io::Result<()> {
    use std::os::unix::io::AsRawFd;
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    let mut cbuf = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; every pointer in it refers to a live
    // local buffer of the stated length for the duration of sendmsg.
    let n = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            return Err(std::io::Error::other("no room for SCM_RIGHTS"));
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
        std::ptr::copy_nonoverlapping(
            &fd as *const libc::c_int as *const u8,
            libc::CMSG_DATA(cmsg),
            std::mem::size_of::<libc::c_int>(),
        );
        libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let n = n as usize;
    if n < data.len() {
        let mut w = sock;
        w.write_all(&data[n..])?;
    }
    Ok(())
}

fn reader_loop(
    mut reader: BufReader<UnixStream>,
    pending: Pending,
    events: Sender<Notice>,
    sent: Arc<AtomicU64>,
) {
    let mut buf = Vec::new();
    while let Ok(true) = read_line(&mut reader, &mut buf) {
        match parse_line(&String::from_utf8_lossy(&buf)) {
            Ok(Message::Event(e)) => {
                tracing::debug!(event = %e.name, "qmp event");
                sent.fetch_add(1, Ordering::SeqCst);
                let _ = events.send(Notice::Event(e));
            }
            Ok(Message::Reply {
                id: Some(id),
                result,
            }) => {
                if let Some(tx) = lock(&pending).remove(&id) {
                    let _ = tx.send(result.map_err(|(class, desc)| QmpError::Qemu { class, desc }));
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("ignoring bad QMP line: {}", e),
        }
    }
    for (_, tx) in lock(&pending).drain() {
        let _ = tx.send(Err(QmpError::Closed));
    }
    let _ = events.send(Notice::Closed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qmp_messages() {
        assert!(matches!(
            parse_line(r#"{"QMP": {"version": {"qemu": {"major": 10}}, "capabilities": []}}"#)
                .unwrap(),
            Message::Greeting(_)
        ));
        let m = parse_line(r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}"#)
            .unwrap();
        assert_eq!(
            m,
            Message::Event(QmpEvent {
                name: "STOP".into(),
                data: Value::Null,
                seconds: 1,
                microseconds: 2
            })
        );
        let m =
            parse_line(r#"{"error": {"class": "GenericError", "desc": "no"}, "id": 3}"#).unwrap();
        assert_eq!(
            m,
            Message::Reply {
                id: Some(3),
                result: Err(("GenericError".into(), "no".into()))
            }
        );
        for bad in ["", "[]", "{", "{\"foo\":1}", "\u{0}"] {
            assert!(parse_line(bad).is_err(), "{:?}", bad);
        }
    }

    #[test]
    fn talks_to_a_real_qemu() {
        let qemu = "qemu-system-x86_64";
        let dir = std::env::temp_dir().join(format!("oxvirt-qmp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("qmp.sock");
        let child = std::process::Command::new(qemu)
            .args([
                "-machine",
                "none",
                "-nodefaults",
                "-display",
                "none",
                "-S",
                "-qmp",
            ])
            .arg(format!("unix:{},server=on,wait=off", sock.display()))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("{} not installed; skipped", qemu);
            return;
        };
        let mut tries = 0;
        while !sock.exists() && tries < 100 {
            std::thread::sleep(Duration::from_millis(20));
            tries += 1;
        }
        let (qmp, events) = Qmp::connect(&sock, Duration::from_secs(10)).unwrap();
        assert!(qmp.version.0 >= 7);
        let st = qmp.execute(qmp::query_status {}).unwrap();
        assert!(!st.running);
        let err = qmp.execute_value("no-such-command", None).unwrap_err();
        assert!(matches!(err, QmpError::Qemu { .. }), "{:?}", err);
        qmp.execute(qmp::quit {}).unwrap();
        // The SHUTDOWN event and then the close notice arrive.
        let mut saw_close = false;
        while let Ok(n) = events.recv_timeout(Duration::from_secs(10)) {
            if n == Notice::Closed {
                saw_close = true;
                break;
            }
        }
        assert!(saw_close);
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
