//! The RPC client: one socket, a reader thread that matches REPLY frames
//! to calls by serial, answers keepalive PINGs and hands event MESSAGEs to
//! an event thread, which runs the registered callbacks.
//!
//! Nothing the server sends can panic this code: frames are bounded by
//! `packet::body_len`, payloads decoded with the bounded XDR decoder.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use oxvirt_core::driver::NodeDevEventCallback;
use oxvirt_core::error::{code, from};
use oxvirt_core::event::{
    DomainEventCallback, NetworkEventCallback, PoolEventCallback, SecretEventCallback,
};
use oxvirt_core::{Error, Result};
use oxvirt_proto::packet::{self, Header, MsgType, Status};
use oxvirt_proto::remote as r;
use oxvirt_proto::xdr::{self, Xdr};

use crate::events;
use oxvirt_proto::convert::error_in;

/// The socket under the client: unix, TCP, TLS over TCP, or the pipes
/// of a command (ssh).
pub enum Sock {
    Unix(UnixStream),
    Tcp(TcpStream),
    Tls(crate::tls::TlsSock),
    Command(crate::ssh::CommandSock),
}

impl Sock {
    fn try_clone(&self) -> std::io::Result<Sock> {
        Ok(match self {
            Sock::Unix(s) => Sock::Unix(s.try_clone()?),
            Sock::Tcp(s) => Sock::Tcp(s.try_clone()?),
            Sock::Tls(s) => Sock::Tls(s.clone()),
            Sock::Command(s) => Sock::Command(s.try_clone()?),
        })
    }

    fn shutdown(&self) {
        let _ = match self {
            Sock::Unix(s) => s.shutdown(Shutdown::Both),
            Sock::Tcp(s) => s.shutdown(Shutdown::Both),
            Sock::Tls(s) => {
                s.shutdown();
                Ok(())
            }
            Sock::Command(s) => {
                s.shutdown();
                Ok(())
            }
        };
    }

    /// What the command behind the socket said on its standard error,
    /// once the connection failed (libvirt's `errout`).
    fn error_output(&self) -> Option<String> {
        match self {
            Sock::Command(s) => s.error_output(),
            _ => None,
        }
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Sock::Unix(s) => s.read(buf),
            Sock::Tcp(s) => s.read(buf),
            Sock::Tls(s) => s.read(buf),
            Sock::Command(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sock::Unix(s) => s.write(buf),
            Sock::Tcp(s) => s.write(buf),
            Sock::Tls(s) => s.write(buf),
            Sock::Command(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sock::Unix(s) => s.flush(),
            Sock::Tcp(s) => s.flush(),
            Sock::Tls(s) => s.flush(),
            Sock::Command(s) => s.flush(),
        }
    }
}

/// A registered event callback, keyed by the daemon's callback id.
#[derive(Clone)]
pub enum EventCallback {
    Domain(DomainEventCallback),
    Network(NetworkEventCallback),
    Pool(PoolEventCallback),
    NodeDevice(NodeDevEventCallback),
    Secret(SecretEventCallback),
}

type Reply = Result<Vec<u8>>;

/// What the server sent on a stream.
pub enum StreamMsg {
    /// A STREAM CONTINUE payload; empty is the server's end of data.
    Data(Vec<u8>),
    /// STREAM OK: the server confirmed the client's finish or abort.
    Done,
    /// STREAM ERROR, or a REPLY error for the stream's serial.
    Failed(Error),
    /// STREAM_HOLE: so many bytes of zeros (a sparse stream).
    Hole(u64),
}

/// Frames of one stream queued for its reader before the socket reader
/// waits (the daemon's side is flow-controlled the same way).
pub const STREAM_QUEUE: usize = 16;

struct Pending {
    /// Set once the reader has stopped: every later call fails with it.
    dead: Option<Error>,
    calls: HashMap<u32, Sender<Reply>>,
}

pub struct Client {
    writer: Mutex<Sock>,
    pending: Mutex<Pending>,
    serial: AtomicU32,
    callbacks: Mutex<HashMap<i32, EventCallback>>,
    /// Open streams by the serial of the call that opened them.
    streams: Mutex<HashMap<u32, SyncSender<StreamMsg>>>,
    closing: AtomicBool,
    /// Set by the keepalive thread when the server stopped answering.
    timed_out: AtomicBool,
    /// When the last frame arrived, in milliseconds since `epoch`.
    last_rx: AtomicU64,
    epoch: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// libvirt's message when the server goes away; `errout` is what the
/// command behind the socket (ssh) wrote on its standard error.
fn eof_error(errout: Option<String>) -> Error {
    let what = match errout {
        Some(e) => format!("End of file while reading data: {}", e),
        None => "End of file while reading data".into(),
    };
    Error::system(
        from::RPC,
        what,
        &std::io::Error::from_raw_os_error(libc::EIO),
    )
}

fn closed_error() -> Error {
    Error::new(code::INTERNAL_ERROR, from::RPC, "client socket is closed")
}

fn decode_error() -> Error {
    Error::raw(code::RPC, from::RPC, "Unable to decode message payload")
}

impl Client {
    /// Starts the reader and event threads on a connected socket.
    pub fn start(sock: Sock) -> Result<Arc<Client>> {
        let reader = sock
            .try_clone()
            .map_err(|e| Error::system(from::RPC, "Unable to clone socket", &e))?;
        let client = Arc::new(Client {
            writer: Mutex::new(sock),
            pending: Mutex::new(Pending {
                dead: None,
                calls: HashMap::new(),
            }),
            serial: AtomicU32::new(0),
            callbacks: Mutex::new(HashMap::new()),
            streams: Mutex::new(HashMap::new()),
            closing: AtomicBool::new(false),
            timed_out: AtomicBool::new(false),
            last_rx: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let (etx, erx) = mpsc::channel::<(i32, Vec<u8>)>();
        let c = Arc::clone(&client);
        std::thread::Builder::new()
            .name("oxvirt-remote-reader".into())
            .spawn(move || c.read_loop(reader, etx))
            .map_err(|e| Error::system(from::RPC, "Unable to start the reader thread", &e))?;
        // The event thread holds only a weak reference: it ends when the
        // reader drops the channel's sender.
        let weak = Arc::downgrade(&client);
        std::thread::Builder::new()
            .name("oxvirt-remote-events".into())
            .spawn(move || event_loop(weak, erx))
            .map_err(|e| Error::system(from::RPC, "Unable to start the event thread", &e))?;
        Ok(client)
    }

    /// Sends a CALL of the REMOTE program and waits for its REPLY.
    pub fn call<A: Xdr, R: Xdr>(&self, proc_: i32, args: &A) -> Result<R> {
        let payload = self.call_raw(packet::REMOTE_PROGRAM, proc_, &xdr::to_bytes(args), None)?;
        xdr::from_bytes(&payload).map_err(|_| decode_error())
    }

    /// A CALL that opens a stream: the reply and the stream's serial and
    /// inbox. The inbox is registered before the call goes out, so no
    /// stream packet can arrive before it.
    pub fn call_stream<A: Xdr, R: Xdr>(
        &self,
        proc_: i32,
        args: &A,
    ) -> Result<(R, u32, Receiver<StreamMsg>)> {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::sync_channel(STREAM_QUEUE);
        lock(&self.streams).insert(serial, tx);
        let reply = self
            .call_with_serial(
                packet::REMOTE_PROGRAM,
                proc_,
                serial,
                &xdr::to_bytes(args),
                None,
            )
            .and_then(|payload| xdr::from_bytes(&payload).map_err(|_| decode_error()));
        match reply {
            Ok(r) => Ok((r, serial, rx)),
            Err(e) => {
                self.end_stream(serial);
                Err(e)
            }
        }
    }

    /// Sends a STREAM packet of the stream opened by `serial`.
    pub fn send_stream(&self, proc_: i32, serial: u32, status: Status, data: &[u8]) -> Result<()> {
        self.send_stream_packet(proc_, serial, MsgType::Stream, status, data)
    }

    /// Sends a STREAM_HOLE packet: `len` bytes of the sparse stream
    /// `serial` are a hole.
    pub fn send_stream_hole(&self, proc_: i32, serial: u32, len: u64) -> Result<()> {
        self.send_stream_packet(
            proc_,
            serial,
            MsgType::StreamHole,
            Status::Continue,
            &packet::encode_hole(len as i64, 0),
        )
    }

    fn send_stream_packet(
        &self,
        proc_: i32,
        serial: u32,
        mtype: MsgType,
        status: Status,
        data: &[u8],
    ) -> Result<()> {
        let h = Header {
            prog: packet::REMOTE_PROGRAM,
            vers: packet::PROTOCOL_VERSION,
            proc_,
            mtype,
            serial,
            status,
        };
        let frame = packet::frame_raw(&h, data).map_err(|_| {
            Error::raw(
                code::RPC,
                from::RPC,
                "Unable to encode message payload: message too large",
            )
        })?;
        if let Some(e) = &lock(&self.pending).dead {
            return Err(e.clone());
        }
        lock(&self.writer)
            .write_all(&frame)
            .map_err(|e| Error::system(from::RPC, "Cannot write data", &e))
    }

    /// Forgets a stream: later packets for it are dropped.
    pub fn end_stream(&self, serial: u32) {
        lock(&self.streams).remove(&serial);
    }

    /// The error calls fail with once the connection is gone.
    pub fn dead_error(&self) -> Error {
        lock(&self.pending)
            .dead
            .clone()
            .unwrap_or_else(closed_error)
    }

    /// As `call`, giving up after `timeout` (used when closing).
    pub fn call_timeout<A: Xdr>(&self, proc_: i32, args: &A, timeout: Duration) -> Result<()> {
        self.call_raw(
            packet::REMOTE_PROGRAM,
            proc_,
            &xdr::to_bytes(args),
            Some(timeout),
        )
        .map(|_| ())
    }

    fn call_raw(
        &self,
        prog: u32,
        proc_: i32,
        payload: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Vec<u8>> {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        self.call_with_serial(prog, proc_, serial, payload, timeout)
    }

    fn call_with_serial(
        &self,
        prog: u32,
        proc_: i32,
        serial: u32,
        payload: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Vec<u8>> {
        let h = Header {
            prog,
            vers: packet::PROTOCOL_VERSION,
            proc_,
            mtype: MsgType::Call,
            serial,
            status: Status::Ok,
        };
        let frame = packet::frame_raw(&h, payload).map_err(|_| {
            Error::raw(
                code::RPC,
                from::RPC,
                "Unable to encode message payload: message too large",
            )
        })?;
        let (tx, rx) = mpsc::channel();
        {
            let mut p = lock(&self.pending);
            if let Some(e) = &p.dead {
                return Err(e.clone());
            }
            p.calls.insert(serial, tx);
        }
        let (written, command) = {
            let mut w = lock(&self.writer);
            (w.write_all(&frame), matches!(*w, Sock::Command(_)))
        };
        if let Err(e) = written {
            // A command (ssh) that exited before reading anything: the
            // reader's error says why (ssh's stderr), not the broken pipe.
            if command {
                if let Ok(Err(dead)) = rx.recv_timeout(Duration::from_secs(2)) {
                    return Err(dead);
                }
            }
            lock(&self.pending).calls.remove(&serial);
            return Err(Error::system(from::RPC, "Cannot write data", &e));
        }
        let reply = match timeout {
            None => rx.recv().ok(),
            Some(t) => rx.recv_timeout(t).ok(),
        };
        match reply {
            Some(r) => r,
            None => {
                let mut p = lock(&self.pending);
                p.calls.remove(&serial);
                Err(p.dead.clone().unwrap_or_else(closed_error))
            }
        }
    }

    fn send_frame(&self, frame: &[u8]) {
        let _ = lock(&self.writer).write_all(frame);
    }

    pub fn add_callback(&self, id: i32, cb: EventCallback) {
        lock(&self.callbacks).insert(id, cb);
    }

    pub fn remove_callback(&self, id: i32) -> Option<EventCallback> {
        lock(&self.callbacks).remove(&id)
    }

    pub fn has_callback(&self, id: i32) -> bool {
        lock(&self.callbacks).contains_key(&id)
    }

    fn callback(&self, id: i32) -> Option<EventCallback> {
        lock(&self.callbacks).get(&id).cloned()
    }

    /// True once the server connection is gone.
    pub fn is_dead(&self) -> bool {
        lock(&self.pending).dead.is_some()
    }

    /// Client keepalive, as virsh does it: a PING after `interval` of
    /// silence; `count` intervals without any frame close the connection.
    pub fn start_keepalive(self: &Arc<Self>, interval: Duration, count: u32) {
        if interval.is_zero() || count == 0 {
            return;
        }
        let weak = Arc::downgrade(self);
        let _ = std::thread::Builder::new()
            .name("oxvirt-remote-keepalive".into())
            .spawn(move || loop {
                std::thread::sleep(interval);
                let Some(c) = weak.upgrade() else { return };
                if c.is_dead() {
                    return;
                }
                let now = c.epoch.elapsed().as_millis() as u64;
                let idle =
                    Duration::from_millis(now.saturating_sub(c.last_rx.load(Ordering::Relaxed)));
                if idle >= interval * count {
                    c.timed_out.store(true, Ordering::Relaxed);
                    lock(&c.writer).shutdown();
                    return;
                }
                if idle >= interval {
                    c.send_frame(&packet::keepalive(packet::KEEPALIVE_PING));
                }
            });
    }

    /// Closes the socket; the reader thread then ends.
    pub fn shutdown(&self) {
        self.closing.store(true, Ordering::Relaxed);
        lock(&self.writer).shutdown();
    }

    fn read_loop(self: Arc<Self>, mut sock: Sock, events: Sender<(i32, Vec<u8>)>) {
        let err = loop {
            match read_frame(&mut sock) {
                Ok(body) => {
                    self.last_rx
                        .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
                    self.handle_frame(&body, &events)
                }
                Err(e) => break e,
            }
        };
        let err = if self.timed_out.load(Ordering::Relaxed) {
            Error::raw(
                code::SYSTEM_ERROR,
                from::RPC,
                "connection closed due to keepalive timeout",
            )
        } else if self.closing.load(Ordering::Relaxed) {
            closed_error()
        } else {
            err
        };
        let calls = {
            let mut p = lock(&self.pending);
            p.dead = Some(err.clone());
            std::mem::take(&mut p.calls)
        };
        for (_, tx) in calls {
            let _ = tx.send(Err(err.clone()));
        }
        lock(&self.callbacks).clear();
        // Dropping the senders tells each stream's reader; it then
        // reports `dead_error`.
        lock(&self.streams).clear();
    }

    fn handle_frame(&self, body: &[u8], events: &Sender<(i32, Vec<u8>)>) {
        let Ok((h, payload)) = packet::split(body) else {
            return;
        };
        match (h.prog, h.mtype) {
            (packet::KEEPALIVE_PROGRAM, MsgType::Message) if h.proc_ == packet::KEEPALIVE_PING => {
                self.send_frame(&packet::keepalive(packet::KEEPALIVE_PONG));
            }
            (packet::REMOTE_PROGRAM, MsgType::Reply) => {
                let reply = match h.status {
                    Status::Ok => Ok(payload.to_vec()),
                    _ => Err(remote_error(payload)),
                };
                let tx = lock(&self.pending).calls.remove(&h.serial);
                match tx {
                    Some(tx) => {
                        let _ = tx.send(reply);
                    }
                    // A REPLY for a stream after its opening call: the
                    // daemon's answer to a failed write or finish.
                    None => self.to_stream(
                        h.serial,
                        match reply {
                            Ok(_) => StreamMsg::Done,
                            Err(e) => StreamMsg::Failed(e),
                        },
                    ),
                }
            }
            (packet::REMOTE_PROGRAM, MsgType::Message) => {
                let _ = events.send((h.proc_, payload.to_vec()));
            }
            (packet::REMOTE_PROGRAM, MsgType::Stream) => {
                let msg = match h.status {
                    Status::Continue => StreamMsg::Data(payload.to_vec()),
                    Status::Ok => StreamMsg::Done,
                    Status::Error => StreamMsg::Failed(remote_error(payload)),
                };
                self.to_stream(h.serial, msg);
            }
            (packet::REMOTE_PROGRAM, MsgType::StreamHole) => {
                let msg = match packet::decode_hole(payload) {
                    Some((len, _)) if len >= 0 => StreamMsg::Hole(len as u64),
                    _ => StreamMsg::Failed(decode_error()),
                };
                self.to_stream(h.serial, msg);
            }
            // Other programs are ignored.
            _ => {}
        }
    }
}

impl Client {
    /// Queues a stream packet for its reader, waiting while its queue is
    /// full; a stream whose reader is gone is forgotten.
    fn to_stream(&self, serial: u32, msg: StreamMsg) {
        let tx = lock(&self.streams).get(&serial).cloned();
        if let Some(tx) = tx {
            if tx.send(msg).is_err() {
                self.end_stream(serial);
            }
        }
    }
}

fn remote_error(payload: &[u8]) -> Error {
    match xdr::from_bytes::<r::RemoteError>(payload) {
        Ok(e) => error_in(e),
        Err(_) => decode_error(),
    }
}

/// Reads one frame body (after the length word), bounded by MESSAGE_MAX.
fn read_frame(sock: &mut Sock) -> Result<Vec<u8>> {
    let mut len = [0u8; 4];
    read_full(sock, &mut len)?;
    let n = packet::body_len(len).map_err(|_| {
        Error::raw(
            code::RPC,
            from::RPC,
            format!(
                "packet {} bytes received from server too large, want {}",
                u32::from_be_bytes(len),
                packet::MESSAGE_MAX + packet::LEN_WORD
            ),
        )
    })?;
    let mut body = vec![0u8; n];
    read_full(sock, &mut body)?;
    Ok(body)
}

fn read_full(sock: &mut Sock, buf: &mut [u8]) -> Result<()> {
    let mut off = 0;
    while off < buf.len() {
        match sock.read(&mut buf[off..]) {
            Ok(0) => return Err(eof_error(sock.error_output())),
            Ok(n) => off += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let what = match sock.error_output() {
                    Some(out) => format!("Cannot recv data: {}", out),
                    None => "Cannot recv data".into(),
                };
                return Err(Error::system(from::RPC, what, &e));
            }
        }
    }
    Ok(())
}

fn event_loop(client: std::sync::Weak<Client>, rx: Receiver<(i32, Vec<u8>)>) {
    while let Ok((proc_, payload)) = rx.recv() {
        let Some(c) = client.upgrade() else { return };
        let Some(cbid) = payload
            .get(..4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        else {
            continue;
        };
        let Some(cb) = c.callback(cbid) else { continue };
        drop(c);
        events::deliver(proc_, &payload, &cb);
    }
}
