//! Arbitrary bytes as a stream of libvirt RPC frames, read as oxvirtd
//! and the remote driver read them: the length word, the header, then
//! the payload by message type (a CALL's arguments and a REPLY's value
//! or error through the procedure table, a stream hole, an event
//! MESSAGE through the remote driver's event decoder). No panic; what
//! decodes re-encodes to bytes that decode to the same bytes.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use oxvirt_proto::convert::error_in;
use oxvirt_proto::packet::{self, MsgType, Status};
use oxvirt_proto::probe::{self, Half};
use oxvirt_proto::remote::RemoteError;
use oxvirt_proto::xdr;
use oxvirt_remote::client::EventCallback;

fn callbacks() -> &'static [EventCallback] {
    static CBS: OnceLock<Vec<EventCallback>> = OnceLock::new();
    CBS.get_or_init(|| {
        vec![
            EventCallback::Domain(Arc::new(|_| {})),
            EventCallback::Network(Arc::new(|_| {})),
            EventCallback::Pool(Arc::new(|_| {})),
            EventCallback::NodeDevice(Arc::new(|_, _, _| {})),
            EventCallback::Secret(Arc::new(|_| {})),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while rest.len() >= packet::LEN_WORD {
        let word = [rest[0], rest[1], rest[2], rest[3]];
        let Ok(len) = packet::body_len(word) else {
            return;
        };
        let Some(body) = rest.get(packet::LEN_WORD..packet::LEN_WORD + len) else {
            return;
        };
        rest = &rest[packet::LEN_WORD + len..];
        let Ok((h, payload)) = packet::split(body) else {
            continue;
        };
        let half = match h.mtype {
            MsgType::Call | MsgType::CallWithFds => Half::Args,
            MsgType::Reply | MsgType::ReplyWithFds if h.status == Status::Error => {
                if let Ok(e) = xdr::from_bytes::<RemoteError>(payload) {
                    let _ = error_in(e);
                }
                continue;
            }
            MsgType::Reply | MsgType::ReplyWithFds => Half::Reply,
            MsgType::StreamHole => {
                let _ = packet::decode_hole(payload);
                continue;
            }
            MsgType::Message => {
                for cb in callbacks() {
                    oxvirt_remote::events::deliver(h.proc_, payload, cb);
                }
                continue;
            }
            MsgType::Stream => continue,
        };
        if h.prog != packet::REMOTE_PROGRAM {
            continue;
        }
        if let Some(d) = probe::decode(h.proc_, half, payload) {
            if let Some(w) = d.wire() {
                let again = probe::decode(h.proc_, half, w).expect("same row");
                assert_eq!(again.wire(), Some(w), "re-encoding is not stable");
            }
        }
    }
});
