//! The client side of libvirt's stream protocol (screenshot, volume
//! upload and download, console).
//!
//! A stream is opened by a CALL; after its REPLY, data goes both ways as
//! STREAM packets with the call's procedure and serial and status
//! CONTINUE (an empty one is the sender's end of data). The client ends
//! the stream with STREAM OK (finish) or STREAM ERROR (abort) and waits
//! for the daemon's answer: an empty STREAM OK, or an error (STREAM
//! ERROR, or a REPLY error as libvirtd sends for a failed write or
//! finish).
//!
//! Incoming packets wait in a bounded queue (`client::STREAM_QUEUE`):
//! when it is full the connection's reader waits for this stream's
//! reader, so a stream that is being received must be read to its end,
//! finished, aborted or dropped.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use oxvirt_core::error::{code, from};
use oxvirt_core::{Error, Result, Stream, StreamChunk};
use oxvirt_proto::packet::{self, Status};

use crate::client::{Client, StreamMsg};

/// How long a duplex stream's `recv` waits before answering "nothing yet".
const DUPLEX_POLL: Duration = Duration::from_millis(50);
/// How long an abort waits for the daemon's confirmation.
const ABORT_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// The daemon sent its end of data.
    Eof,
    /// Finished, aborted or failed.
    Closed,
}

/// A stream attached to a call on a daemon.
pub struct RemoteStream {
    client: Arc<Client>,
    proc_: i32,
    serial: u32,
    rx: Receiver<StreamMsg>,
    /// Packets taken off the queue by `send`'s error check, not yet read.
    stash: VecDeque<StreamMsg>,
    /// Console-like: `recv` answers an empty chunk when nothing came.
    duplex: bool,
    state: State,
}

fn not_open() -> Error {
    Error::new(code::INTERNAL_ERROR, from::STREAMS, "stream is not open")
}

impl RemoteStream {
    pub(crate) fn new(
        client: Arc<Client>,
        proc_: i32,
        serial: u32,
        rx: Receiver<StreamMsg>,
        duplex: bool,
    ) -> RemoteStream {
        RemoteStream {
            client,
            proc_,
            serial,
            rx,
            stash: VecDeque::new(),
            duplex,
            state: State::Open,
        }
    }

    fn close(&mut self) {
        self.state = State::Closed;
        self.client.end_stream(self.serial);
    }

    /// The next packet, waiting at most `wait` (None: for ever); `Ok(None)`
    /// when the wait ran out.
    fn next(&mut self, wait: Option<Duration>) -> Result<Option<StreamMsg>> {
        if let Some(m) = self.stash.pop_front() {
            return Ok(Some(m));
        }
        match wait {
            None => self
                .rx
                .recv()
                .map(Some)
                .map_err(|_| self.client.dead_error()),
            Some(t) => match self.rx.recv_timeout(t) {
                Ok(m) => Ok(Some(m)),
                Err(RecvTimeoutError::Timeout) => Ok(None),
                Err(RecvTimeoutError::Disconnected) => Err(self.client.dead_error()),
            },
        }
    }

    /// An error the daemon already reported for this stream, if any;
    /// data read meanwhile is kept for `recv`.
    fn pending_error(&mut self) -> Result<()> {
        loop {
            match self.rx.try_recv() {
                Ok(StreamMsg::Failed(e)) => {
                    self.close();
                    return Err(e);
                }
                Ok(m) => self.stash.push_back(m),
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) => {
                    self.close();
                    return Err(self.client.dead_error());
                }
            }
        }
    }

    /// Sends the finishing packet (`Status::Ok`) or the abort
    /// (`Status::Error`) and waits for the daemon's answer.
    fn end(&mut self, status: Status, wait: Option<Duration>) -> Result<()> {
        let sent = self
            .client
            .send_stream(self.proc_, self.serial, status, &[]);
        if let Err(e) = sent {
            self.close();
            return Err(e);
        }
        let r = loop {
            match self.next(wait) {
                // Data still in flight is of no use any more.
                Ok(Some(StreamMsg::Data(_))) | Ok(Some(StreamMsg::Hole(_))) => continue,
                Ok(Some(StreamMsg::Done)) => break Ok(()),
                Ok(Some(StreamMsg::Failed(e))) => break Err(e),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.close();
        r
    }
}

impl Stream for RemoteStream {
    fn recv_sparse(&mut self) -> Result<Option<StreamChunk>> {
        match self.state {
            State::Closed => return Err(not_open()),
            State::Eof => return Ok(None),
            State::Open => {}
        }
        match self.next(None) {
            Ok(Some(StreamMsg::Hole(n))) => Ok(Some(StreamChunk::Hole(n))),
            Ok(Some(StreamMsg::Data(d))) if d.is_empty() => {
                self.state = State::Eof;
                Ok(None)
            }
            Ok(Some(StreamMsg::Data(d))) => Ok(Some(StreamChunk::Data(d))),
            Ok(Some(StreamMsg::Done)) | Ok(None) => {
                self.state = State::Eof;
                Ok(None)
            }
            Ok(Some(StreamMsg::Failed(e))) | Err(e) => {
                self.close();
                Err(e)
            }
        }
    }

    fn send_hole(&mut self, len: u64) -> Result<()> {
        if self.state == State::Closed {
            return Err(not_open());
        }
        self.pending_error()?;
        if let Err(e) = self.client.send_stream_hole(self.proc_, self.serial, len) {
            self.close();
            return Err(e);
        }
        Ok(())
    }

    fn recv(&mut self) -> Result<Option<Vec<u8>>> {
        match self.state {
            State::Closed => return Err(not_open()),
            State::Eof => return Ok(None),
            State::Open => {}
        }
        let wait = self.duplex.then_some(DUPLEX_POLL);
        match self.next(wait) {
            Ok(None) => Ok(Some(Vec::new())),
            Ok(Some(StreamMsg::Data(d))) if d.is_empty() => {
                self.state = State::Eof;
                Ok(None)
            }
            Ok(Some(StreamMsg::Data(d))) => Ok(Some(d)),
            Ok(Some(StreamMsg::Hole(_))) => {
                self.close();
                Err(Error::new(
                    code::INTERNAL_ERROR,
                    from::STREAMS,
                    "Holes are not supported with this stream",
                ))
            }
            Ok(Some(StreamMsg::Done)) => {
                self.state = State::Eof;
                Ok(None)
            }
            Ok(Some(StreamMsg::Failed(e))) | Err(e) => {
                self.close();
                Err(e)
            }
        }
    }

    fn send(&mut self, data: &[u8]) -> Result<()> {
        if self.state == State::Closed {
            return Err(not_open());
        }
        self.pending_error()?;
        for chunk in data.chunks(packet::STREAM_CHUNK) {
            if let Err(e) =
                self.client
                    .send_stream(self.proc_, self.serial, Status::Continue, chunk)
            {
                self.close();
                return Err(e);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if self.state == State::Closed {
            return Err(not_open());
        }
        self.pending_error()?;
        self.end(Status::Ok, None)
    }

    fn abort(&mut self) -> Result<()> {
        if self.state == State::Closed {
            return Ok(());
        }
        // libvirtd answers an abort with an error ("stream aborted at
        // client request"); either answer ends the stream.
        let _ = self.end(Status::Error, Some(ABORT_WAIT));
        Ok(())
    }
}

impl Drop for RemoteStream {
    fn drop(&mut self) {
        if self.state != State::Closed {
            let _ = self
                .client
                .send_stream(self.proc_, self.serial, Status::Error, &[]);
            self.close();
        }
    }
}
