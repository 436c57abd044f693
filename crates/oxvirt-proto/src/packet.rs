//! Frames: a 4-byte length (counting itself), a 24-byte header, a payload.

use crate::xdr::{Decoder, Encoder, Xdr, XdrError};

/// The REMOTE program.
pub const REMOTE_PROGRAM: u32 = 0x2000_8086;
pub const QEMU_PROGRAM: u32 = 0x2000_8087;
pub const LXC_PROGRAM: u32 = 0x0006_8000;
/// "keep": keepalive PING/PONG.
pub const KEEPALIVE_PROGRAM: u32 = 0x6b65_6570;
pub const KEEPALIVE_PING: i32 = 1;
pub const KEEPALIVE_PONG: i32 = 2;
pub const PROTOCOL_VERSION: u32 = 1;

pub const HEADER_LEN: usize = 24;
/// The length word itself.
pub const LEN_WORD: usize = 4;
/// VIR_NET_MESSAGE_MAX: header plus payload (the length word excluded).
pub const MESSAGE_MAX: usize = 32 * 1024 * 1024;
/// The largest payload after a header.
pub const PAYLOAD_MAX: usize = MESSAGE_MAX - HEADER_LEN;
/// Stream chunk size clients and libvirtd use.
pub const STREAM_CHUNK: usize = 262_120;

/// Frame errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame length {0} is out of range")]
    BadLength(usize),
    #[error("invalid message type {0}")]
    BadType(i32),
    #[error("invalid message status {0}")]
    BadStatus(i32),
    #[error("payload too large: {0} bytes")]
    TooLarge(usize),
    #[error(transparent)]
    Xdr(#[from] XdrError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgType {
    Call = 0,
    Reply = 1,
    Message = 2,
    Stream = 3,
    CallWithFds = 4,
    ReplyWithFds = 5,
    StreamHole = 6,
}

impl MsgType {
    pub fn from_i32(v: i32) -> Option<MsgType> {
        use MsgType::*;
        Some(match v {
            0 => Call,
            1 => Reply,
            2 => Message,
            3 => Stream,
            4 => CallWithFds,
            5 => ReplyWithFds,
            6 => StreamHole,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    Error = 1,
    Continue = 2,
}

impl Status {
    pub fn from_i32(v: i32) -> Option<Status> {
        Some(match v {
            0 => Status::Ok,
            1 => Status::Error,
            2 => Status::Continue,
            _ => return None,
        })
    }
}

/// The 24-byte message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub prog: u32,
    pub vers: u32,
    pub proc_: i32,
    pub mtype: MsgType,
    pub serial: u32,
    pub status: Status,
}

impl Header {
    pub fn encode(&self, e: &mut Encoder) {
        e.put_u32(self.prog);
        e.put_u32(self.vers);
        e.put_i32(self.proc_);
        e.put_i32(self.mtype as i32);
        e.put_u32(self.serial);
        e.put_i32(self.status as i32);
    }

    pub fn decode(d: &mut Decoder<'_>) -> Result<Header, FrameError> {
        let prog = d.get_u32()?;
        let vers = d.get_u32()?;
        let proc_ = d.get_i32()?;
        let t = d.get_i32()?;
        let serial = d.get_u32()?;
        let s = d.get_i32()?;
        Ok(Header {
            prog,
            vers,
            proc_,
            mtype: MsgType::from_i32(t).ok_or(FrameError::BadType(t))?,
            serial,
            status: Status::from_i32(s).ok_or(FrameError::BadStatus(s))?,
        })
    }

    /// The reply header for a call.
    pub fn reply(&self, status: Status) -> Header {
        Header {
            mtype: MsgType::Reply,
            status,
            ..*self
        }
    }
}

/// Checks the length word of a frame; returns how many bytes follow it.
pub fn body_len(len_word: [u8; 4]) -> Result<usize, FrameError> {
    let total = u32::from_be_bytes(len_word) as usize;
    if !(LEN_WORD + HEADER_LEN..=LEN_WORD + MESSAGE_MAX).contains(&total) {
        return Err(FrameError::BadLength(total));
    }
    Ok(total - LEN_WORD)
}

/// Splits a frame body (after the length word) into header and payload.
pub fn split(body: &[u8]) -> Result<(Header, &[u8]), FrameError> {
    if body.len() < HEADER_LEN {
        return Err(FrameError::BadLength(body.len() + LEN_WORD));
    }
    let mut d = Decoder::new(&body[..HEADER_LEN]);
    let h = Header::decode(&mut d)?;
    Ok((h, &body[HEADER_LEN..]))
}

/// A complete frame (length word included) from a header and raw payload.
pub fn frame_raw(h: &Header, payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    if payload.len() > PAYLOAD_MAX {
        return Err(FrameError::TooLarge(payload.len()));
    }
    let mut e = Encoder::with_buffer(Vec::with_capacity(LEN_WORD + HEADER_LEN + payload.len()));
    e.put_u32(0);
    h.encode(&mut e);
    e.put_raw(payload);
    let mut v = e.into_bytes();
    let n = (v.len() as u32).to_be_bytes();
    v[..4].copy_from_slice(&n);
    Ok(v)
}

/// An encoder for a frame's payload, with room for the length word and
/// the header in front ([`finish`] fills them in), so a reply is encoded
/// once, in place.
pub fn begin() -> Encoder {
    let mut buf = Vec::with_capacity(256);
    buf.resize(LEN_WORD + HEADER_LEN, 0);
    Encoder::with_buffer(buf)
}

/// The frame [`begin`] started, with header `h`.
pub fn finish(e: Encoder, h: &Header) -> Result<Vec<u8>, FrameError> {
    let mut v = e.into_bytes();
    let payload = v.len().saturating_sub(LEN_WORD + HEADER_LEN);
    if payload > PAYLOAD_MAX {
        return Err(FrameError::TooLarge(payload));
    }
    let words = [
        v.len() as u32,
        h.prog,
        h.vers,
        h.proc_ as u32,
        h.mtype as u32,
        h.serial,
        h.status as u32,
    ];
    for (i, w) in words.iter().enumerate() {
        v[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
    }
    Ok(v)
}

/// A complete frame with an XDR payload.
pub fn frame<T: Xdr>(h: &Header, payload: &T) -> Result<Vec<u8>, FrameError> {
    frame_raw(h, &crate::xdr::to_bytes(payload))
}

/// A keepalive PING or PONG (a MESSAGE with serial 0 and no payload).
pub fn keepalive(proc_: i32) -> Vec<u8> {
    let h = Header {
        prog: KEEPALIVE_PROGRAM,
        vers: PROTOCOL_VERSION,
        proc_,
        mtype: MsgType::Message,
        serial: 0,
        status: Status::Ok,
    };
    let mut e = Encoder::new();
    e.put_u32((LEN_WORD + HEADER_LEN) as u32);
    h.encode(&mut e);
    e.into_bytes()
}

/// The payload of a STREAM_HOLE packet (`virNetStreamHole`): a hole of
/// `length` bytes; `flags` must be 0.
pub fn encode_hole(length: i64, flags: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(12);
    v.extend_from_slice(&length.to_be_bytes());
    v.extend_from_slice(&flags.to_be_bytes());
    v
}

/// Decodes a STREAM_HOLE payload: `(length, flags)`.
pub fn decode_hole(payload: &[u8]) -> Option<(i64, u32)> {
    if payload.len() < 12 {
        return None;
    }
    let mut l = [0u8; 8];
    l.copy_from_slice(&payload[..8]);
    let mut f = [0u8; 4];
    f.copy_from_slice(&payload[8..12]);
    Some((i64::from_be_bytes(l), u32::from_be_bytes(f)))
}
