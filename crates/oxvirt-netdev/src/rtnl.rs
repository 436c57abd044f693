//! A synchronous rtnetlink client: one request, its acknowledgement or
//! its dump. The message types are netlink-packet-route's; this module
//! only frames, sends, matches sequence numbers and turns a kernel NACK
//! into an `std::io::Error` carrying the errno.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

static SEQ: AtomicU32 = AtomicU32::new(1);

/// Largest reply buffer accepted from the kernel for one datagram.
const RECV_MAX: usize = 1 << 20;

/// An rtnetlink socket in the caller's network namespace.
pub struct Rtnl {
    sock: Socket,
}

fn decode_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("netlink: {}", e))
}

impl Rtnl {
    pub fn open() -> io::Result<Rtnl> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        // Ask for extended acks and strict dumps where the kernel has them.
        let _ = sock.set_ext_ack(true);
        Ok(Rtnl { sock })
    }

    fn send(&self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<u32> {
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let mut packet = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(msg));
        packet.header.flags = flags;
        packet.header.sequence_number = seq;
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf[..]);
        self.sock.send(&buf, 0)?;
        Ok(seq)
    }

    /// Reads replies to `seq`, handing each inner message to `f`, until
    /// the ack, the end of a dump, or (`first`) the first message. A NACK
    /// is returned as its errno.
    fn collect(
        &self,
        seq: u32,
        first: bool,
        mut f: impl FnMut(RouteNetlinkMessage),
    ) -> io::Result<()> {
        loop {
            let (data, _) = self.sock.recv_from_full()?;
            if data.len() > RECV_MAX {
                return Err(decode_err("reply too large"));
            }
            let mut off = 0;
            while off < data.len() {
                let msg: NetlinkMessage<RouteNetlinkMessage> =
                    NetlinkMessage::deserialize(&data[off..]).map_err(decode_err)?;
                let len = msg.header.length as usize;
                if len == 0 {
                    break;
                }
                off += len;
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(()),
                            Some(c) => Err(io::Error::from_raw_os_error(-c.get())),
                        };
                    }
                    NetlinkPayload::InnerMessage(m) => {
                        f(m);
                        if first {
                            return Ok(());
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Sends a request and waits for its acknowledgement.
    pub fn request(&self, msg: RouteNetlinkMessage) -> io::Result<()> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK)?;
        self.collect(seq, false, |_| {})
    }

    /// Sends a creating request (`NLM_F_CREATE | NLM_F_EXCL`): EEXIST when
    /// the object is there already.
    pub fn create(&self, msg: RouteNetlinkMessage) -> io::Result<()> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)?;
        self.collect(seq, false, |_| {})
    }

    /// Sends a get request for one object and returns the reply.
    pub fn get(&self, msg: RouteNetlinkMessage) -> io::Result<Option<RouteNetlinkMessage>> {
        let seq = self.send(msg, NLM_F_REQUEST)?;
        let mut out = None;
        self.collect(seq, true, |m| out = Some(m))?;
        Ok(out)
    }

    /// Dumps every object a get request with NLM_F_DUMP returns.
    pub fn dump(&self, msg: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_DUMP)?;
        let mut v = Vec::new();
        self.collect(seq, false, |m| v.push(m))?;
        Ok(v)
    }
}
