//! libvirt's stream protocol: data attached to a call (screenshot, volume
//! upload and download, console).
//!
//! A stream is opened by a normal CALL (the driver hands back an
//! `oxvirt_core::Stream`) and keyed by that call's (procedure, serial).
//! After the REPLY, data goes both ways as STREAM packets with status
//! CONTINUE and a raw payload; an empty CONTINUE is the sender's EOF. The
//! client ends a stream with STREAM OK (finish) or STREAM ERROR (abort),
//! each confirmed by an empty STREAM OK; a failing finish, abort or data
//! write is answered with a STREAM ERROR carrying `remote_error` (the
//! client keeps it against the stream: its next call on the stream fails
//! with it), a failing hole with a REPLY error. A driver error while
//! sending data to the client becomes a STREAM ERROR too.
//!
//! One task per stream owns the driver stream; the driver's blocking
//! `recv`/`send` run on the blocking pool. Outgoing data is flow
//! controlled: at most [`WINDOW`] data frames of a stream sit in the
//! client's queue, so a slow reader holds the stream back instead of
//! filling memory. A driver whose stream has nothing to say for a while
//! (a console) returns `Ok(Some(vec![]))` from `recv` rather than block
//! indefinitely.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxvirt_core::error::from;
use oxvirt_core::{Error, Stream, StreamChunk};
use oxvirt_proto::packet::{self, Header, MsgType, Status};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

use crate::server::{lock, Outbox, Session};
use oxvirt_proto::convert::error_out;

/// Data frames of one stream queued for the client at once.
pub const WINDOW: usize = 4;
/// Client packets waiting for one stream before the reader stops reading.
const INBOX: usize = 4;
/// Streams one client may hold open.
pub const MAX_PER_CLIENT: usize = 64;

/// Which way data flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Daemon to client (screenshot, volume download).
    Source,
    /// Client to daemon (volume upload).
    Sink,
    /// Both ways (console, channel).
    Duplex,
}

/// A stream a call has just opened.
pub struct Opened {
    pub stream: Box<dyn Stream>,
    pub dir: Direction,
    /// The call asked for a sparse stream (libvirt's allowSkip): holes
    /// travel as STREAM_HOLE packets both ways.
    pub sparse: bool,
}

/// A STREAM or STREAM_HOLE packet from the client.
pub struct Packet {
    pub hdr: Header,
    pub data: Vec<u8>,
}

/// The open streams of one session.
#[derive(Default)]
pub struct Streams {
    map: Mutex<HashMap<(i32, u32), mpsc::Sender<Packet>>>,
}

impl Streams {
    /// The inbox of the stream a packet belongs to.
    pub fn route(&self, hdr: &Header) -> Option<mpsc::Sender<Packet>> {
        lock(&self.map).get(&(hdr.proc_, hdr.serial)).cloned()
    }

    fn insert(&self, key: (i32, u32)) -> Option<mpsc::Receiver<Packet>> {
        let mut m = lock(&self.map);
        if m.len() >= MAX_PER_CLIENT || m.contains_key(&key) {
            return None;
        }
        let (tx, rx) = mpsc::channel(INBOX);
        m.insert(key, tx);
        Some(rx)
    }

    fn remove(&self, key: (i32, u32)) {
        lock(&self.map).remove(&key);
    }

    /// Drops every inbox: each stream task then aborts its driver stream.
    pub fn clear(&self) {
        lock(&self.map).clear();
    }
}

fn stream_header(call: &Header, status: Status) -> Header {
    Header {
        mtype: MsgType::Stream,
        status,
        ..*call
    }
}

fn data_frame(call: &Header, data: &[u8]) -> Vec<u8> {
    // Chunks are at most STREAM_CHUNK bytes, far below the frame limit.
    packet::frame_raw(&stream_header(call, Status::Continue), data).unwrap_or_default()
}

fn hole_frame(call: &Header, len: u64) -> Vec<u8> {
    let h = Header {
        mtype: MsgType::StreamHole,
        status: Status::Continue,
        ..*call
    };
    packet::frame_raw(&h, &packet::encode_hole(len as i64, 0)).unwrap_or_default()
}

fn confirm_frame(call: &Header) -> Vec<u8> {
    packet::frame_raw(&stream_header(call, Status::Ok), &[]).unwrap_or_default()
}

fn stream_error_frame(call: &Header, e: &Error) -> Vec<u8> {
    packet::frame(&stream_header(call, Status::Error), &error_out(e)).unwrap_or_default()
}

/// The error answering the client packet `req`: a STREAM ERROR for a
/// STREAM packet (the client's stream keeps it, so its next send, finish
/// or abort fails without waiting), a REPLY error otherwise (libvirt's
/// virNetServerProgramSendReplyError).
fn reply_error_frame(req: &Header, e: &Error) -> Vec<u8> {
    if req.mtype == MsgType::Stream {
        return stream_error_frame(req, e);
    }
    crate::dispatch::error_frame(&req.reply(Status::Error), e)
}

fn join_error() -> Error {
    Error::internal(from::STREAMS, "stream handler failed")
}

type ReadJob = JoinHandle<oxvirt_core::Result<Option<StreamChunk>>>;

/// Awaits a pending driver read, or never when there is none.
async fn pending_read(job: &mut Option<ReadJob>) -> oxvirt_core::Result<Option<StreamChunk>> {
    match job {
        Some(h) => h.await.unwrap_or_else(|_| Err(join_error())),
        None => std::future::pending().await,
    }
}

type Shared = Arc<Mutex<Box<dyn Stream>>>;

/// Runs `f` on the driver stream in the blocking pool.
async fn on_stream<T: Send + 'static>(
    s: &Shared,
    f: impl FnOnce(&mut dyn Stream) -> oxvirt_core::Result<T> + Send + 'static,
) -> oxvirt_core::Result<T> {
    let s = s.clone();
    tokio::task::spawn_blocking(move || f(&mut **lock(&s)))
        .await
        .unwrap_or_else(|_| Err(join_error()))
}

/// Registers a stream opened by the call `call`; returns its inbox, or
/// `None` when the client already holds too many streams.
pub fn register(session: &Session, call: &Header) -> Option<mpsc::Receiver<Packet>> {
    session.streams.insert((call.proc_, call.serial))
}

/// Drives one stream until it is finished, aborted, failed or its client
/// is gone. Call after the REPLY that opened it has been queued.
pub async fn run(
    session: Arc<Session>,
    call: Header,
    opened: Opened,
    mut inbox: mpsc::Receiver<Packet>,
) {
    let out = session.sender();
    let dir = opened.dir;
    let sparse = opened.sparse;
    let stream: Shared = Arc::new(Mutex::new(opened.stream));
    let window = Arc::new(Semaphore::new(WINDOW));
    let mut reading = dir != Direction::Sink;
    let mut job: Option<ReadJob> = None;
    loop {
        if reading && job.is_none() {
            let s = stream.clone();
            job = Some(tokio::task::spawn_blocking(move || {
                let mut s = lock(&s);
                if sparse {
                    s.recv_sparse()
                } else {
                    s.recv().map(|d| d.map(StreamChunk::Data))
                }
            }));
        }
        tokio::select! {
            r = pending_read(&mut job) => {
                job = None;
                match r {
                    Ok(Some(StreamChunk::Data(data))) if data.is_empty() => {
                        // Nothing for now (a quiet console).
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Ok(Some(StreamChunk::Data(data))) => {
                        if !send_data(&out, &window, &call, &data).await {
                            break;
                        }
                    }
                    Ok(Some(StreamChunk::Hole(len))) => {
                        let Ok(permit) = window.clone().acquire_owned().await else {
                            break;
                        };
                        if !out.send_flow(hole_frame(&call, len), permit).await {
                            break;
                        }
                    }
                    Ok(None) => {
                        reading = false;
                        if !send_data(&out, &window, &call, &[]).await {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::debug!(client = session.id, "stream read failed: {}", e.message);
                        let _ = on_stream(&stream, |s| s.abort()).await;
                        out.send(stream_error_frame(&call, &e));
                        session.streams.remove((call.proc_, call.serial));
                        return;
                    }
                }
            }
            p = inbox.recv() => {
                let Some(p) = p else { break };
                if let Some(done) = client_packet(&session, &out, &stream, &call, sparse, &mut job, p).await {
                    if !done {
                        out.close();
                    }
                    session.streams.remove((call.proc_, call.serial));
                    return;
                }
            }
        }
    }
    // The client is gone or stopped reading: give up on the transfer.
    if let Some(j) = job.take() {
        let _ = j.await;
    }
    let _ = on_stream(&stream, |s| s.abort()).await;
    session.streams.remove((call.proc_, call.serial));
}

/// Queues `data` in chunks, waiting for room in the stream's window.
/// False when the client is gone.
async fn send_data(out: &Outbox, window: &Arc<Semaphore>, call: &Header, data: &[u8]) -> bool {
    let mut chunks: Vec<&[u8]> = data.chunks(packet::STREAM_CHUNK).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    for c in chunks {
        let Ok(permit) = window.clone().acquire_owned().await else {
            return false;
        };
        if !out.send_flow(data_frame(call, c), permit).await {
            return false;
        }
    }
    true
}

/// Handles one client packet. `None`: the stream goes on; `Some(true)`:
/// it ended; `Some(false)`: it ended and the client must be dropped.
async fn client_packet(
    session: &Session,
    out: &Outbox,
    stream: &Shared,
    call: &Header,
    sparse: bool,
    job: &mut Option<ReadJob>,
    p: Packet,
) -> Option<bool> {
    let settle = |job: &mut Option<JoinHandle<_>>| job.take();
    match (p.hdr.mtype, p.hdr.status) {
        (MsgType::Stream, Status::Continue) => {
            if p.data.is_empty() {
                // The client's EOF; it finishes with STREAM OK next.
                return None;
            }
            let data = p.data;
            match on_stream(stream, move |s| s.send(&data)).await {
                Ok(()) => None,
                Err(e) => {
                    if let Some(j) = settle(job) {
                        let _ = j.await;
                    }
                    let _ = on_stream(stream, |s| s.abort()).await;
                    out.send(reply_error_frame(&p.hdr, &e));
                    Some(true)
                }
            }
        }
        (MsgType::Stream, Status::Ok) => {
            if let Some(j) = settle(job) {
                let _ = j.await;
            }
            match on_stream(stream, |s| s.finish()).await {
                Ok(()) => out.send(confirm_frame(call)),
                Err(e) => out.send(reply_error_frame(&p.hdr, &e)),
            }
            tracing::debug!(client = session.id, proc_ = call.proc_, "stream finished");
            Some(true)
        }
        (MsgType::Stream, Status::Error) => {
            if let Some(j) = settle(job) {
                let _ = j.await;
            }
            match on_stream(stream, |s| s.abort()).await {
                Ok(()) => out.send(confirm_frame(call)),
                Err(e) => out.send(reply_error_frame(&p.hdr, &e)),
            }
            tracing::debug!(
                client = session.id,
                proc_ = call.proc_,
                "stream aborted by the client"
            );
            Some(true)
        }
        (MsgType::StreamHole, Status::Continue) if sparse => {
            let hole = packet::decode_hole(&p.data).filter(|(len, _)| *len > 0);
            let res = match hole {
                Some((len, _)) => on_stream(stream, move |s| s.send_hole(len as u64)).await,
                None => Err(Error::raw(
                    oxvirt_core::error::code::RPC,
                    from::RPC,
                    "Unable to decode message payload",
                )),
            };
            match res {
                Ok(()) => None,
                Err(e) => {
                    if let Some(j) = settle(job) {
                        let _ = j.await;
                    }
                    let _ = on_stream(stream, |s| s.abort()).await;
                    out.send(reply_error_frame(&p.hdr, &e));
                    Some(true)
                }
            }
        }
        _ => {
            // A hole on a stream that was not opened sparse: libvirtd
            // drops such a client ("Unexpected stream hole").
            tracing::warn!(client = session.id, "unexpected stream hole; disconnecting");
            if let Some(j) = settle(job) {
                let _ = j.await;
            }
            let _ = on_stream(stream, |s| s.abort()).await;
            Some(false)
        }
    }
}
