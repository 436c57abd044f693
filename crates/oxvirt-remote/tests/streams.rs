//! The client side of libvirt's stream protocol against a scripted
//! server: what a volume upload, a volume download and a failing
//! screenshot look like on the wire, packet by packet, including the
//! ways libvirtd reports stream errors (STREAM ERROR while sending data,
//! a REPLY error for a failed finish).

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxvirt_core::types::{DomainRef, Uuid, VolRef};
use oxvirt_core::uri::Uri;
use oxvirt_proto::packet::{self, Header, MsgType, Status};
use oxvirt_proto::procs as p;
use oxvirt_proto::remote as r;
use oxvirt_proto::xdr;

/// What the scripted server saw of each stream: (procedure, STREAM
/// packets as (status, payload length), total bytes received).
type Log = Arc<Mutex<Vec<(i32, Vec<(Status, usize)>, Vec<u8>)>>>;

/// How the server ends an upload's finish.
#[derive(Clone, Copy)]
enum Finish {
    Confirm,
    ReplyError,
}

fn read_frame(s: &mut UnixStream) -> Option<(Header, Vec<u8>)> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let n = packet::body_len(len).ok()?;
    let mut body = vec![0u8; n];
    s.read_exact(&mut body).ok()?;
    let (h, payload) = packet::split(&body).ok()?;
    Some((h, payload.to_vec()))
}

fn send(s: &mut UnixStream, h: &Header, payload: &[u8]) {
    let f = packet::frame_raw(h, payload).expect("frame");
    s.write_all(&f).expect("server writes");
}

fn stream_hdr(call: &Header, status: Status) -> Header {
    Header {
        mtype: MsgType::Stream,
        status,
        ..*call
    }
}

fn error(msg: &str) -> Vec<u8> {
    xdr::to_bytes(&r::RemoteError {
        code: 38, // VIR_ERR_SYSTEM_ERROR
        domain: 18,
        message: Some(msg.to_string()),
        level: 2,
        dom: None,
        str1: None,
        str2: None,
        str3: None,
        int1: -1,
        int2: -1,
        net: None,
    })
}

/// Serves one client: the handshake, then the stream calls.
fn serve(mut s: UnixStream, log: Log, finish: Finish) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
    while let Some((h, payload)) = read_frame(&mut s) {
        if h.mtype != MsgType::Call {
            panic!("unexpected packet outside a stream: {:?}", h);
        }
        let ok = h.reply(Status::Ok);
        match h.proc_ {
            p::AUTH_LIST => send(
                &mut s,
                &ok,
                &xdr::to_bytes(&r::AuthListRet { types: vec![0] }),
            ),
            p::CONNECT_SUPPORTS_FEATURE => {
                send(&mut s, &ok, &xdr::to_bytes(&r::IntRet { value: 0 }))
            }
            p::CONNECT_OPEN => send(&mut s, &ok, &[]),
            p::CONNECT_CLOSE => {
                send(&mut s, &ok, &[]);
                return;
            }
            p::STORAGE_VOL_UPLOAD => {
                let a: r::VolTransferArgs = xdr::from_bytes(&payload).expect("upload args");
                assert_eq!((a.offset, a.length), (5, 0));
                send(&mut s, &ok, &[]);
                let mut seen = Vec::new();
                let mut data = Vec::new();
                loop {
                    let (sh, sp) = read_frame(&mut s).expect("stream packet");
                    assert_eq!((sh.proc_, sh.serial), (h.proc_, h.serial));
                    assert_eq!(sh.mtype, MsgType::Stream);
                    seen.push((sh.status, sp.len()));
                    data.extend_from_slice(&sp);
                    if sh.status == Status::Ok {
                        match finish {
                            Finish::Confirm => send(&mut s, &stream_hdr(&h, Status::Ok), &[]),
                            // libvirtd's answer to a failed finish.
                            Finish::ReplyError => send(
                                &mut s,
                                &h.reply(Status::Error),
                                &error("cannot flush the volume"),
                            ),
                        }
                        break;
                    }
                }
                log.lock().unwrap().push((h.proc_, seen, data));
            }
            p::STORAGE_VOL_DOWNLOAD => {
                send(&mut s, &ok, &[]);
                let data: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
                for c in data.chunks(packet::STREAM_CHUNK) {
                    send(&mut s, &stream_hdr(&h, Status::Continue), c);
                }
                send(&mut s, &stream_hdr(&h, Status::Continue), &[]);
                let (sh, sp) = read_frame(&mut s).expect("finish");
                assert_eq!(
                    (sh.mtype, sh.status, sh.serial),
                    (MsgType::Stream, Status::Ok, h.serial)
                );
                send(&mut s, &stream_hdr(&h, Status::Ok), &[]);
                log.lock()
                    .unwrap()
                    .push((h.proc_, vec![(sh.status, sp.len())], Vec::new()));
            }
            p::DOMAIN_SCREENSHOT => {
                let ret = r::DomainScreenshotRet {
                    mime: Some("image/png".into()),
                };
                send(&mut s, &ok, &xdr::to_bytes(&ret));
                send(&mut s, &stream_hdr(&h, Status::Continue), b"\x89PNG");
                send(
                    &mut s,
                    &stream_hdr(&h, Status::Error),
                    &error("screen went away"),
                );
                // As libvirtd, the stream is gone once its error is
                // sent: the client must not send anything more for it
                // (the next packet would fail the CALL check above).
                log.lock().unwrap().push((h.proc_, Vec::new(), Vec::new()));
            }
            other => send(
                &mut s,
                &h.reply(Status::Error),
                &error(&format!("unexpected procedure {}", other)),
            ),
        }
    }
}

fn with_server(tag: &str, finish: Finish, f: impl FnOnce(&oxvirt_core::Connection)) -> Log {
    let dir = std::env::temp_dir().join(format!(
        "oxvirt-remote-streams-{}-{}",
        tag,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sock = dir.join("sock");
    let listener = UnixListener::bind(&sock).expect("binds");
    let log: Log = Arc::default();
    let l2 = log.clone();
    let server = std::thread::spawn(move || {
        let (s, _) = listener.accept().expect("accepts");
        serve(s, l2, finish);
    });
    let name = format!("test+unix:///default?socket={}", sock.display());
    let uri = Uri::parse(&name).expect("uri");
    {
        let conn = oxvirt_remote::open(&name, &uri, 0).expect("opens");
        f(&conn);
    }
    server.join().expect("server thread");
    let _ = std::fs::remove_dir_all(&dir);
    log
}

fn vol() -> VolRef {
    VolRef {
        pool: "default-pool".into(),
        name: "v".into(),
        key: "/default-pool/v".into(),
    }
}

#[test]
fn upload_sends_chunks_then_finish() {
    let data: Vec<u8> = (0..700_000u32).map(|i| (i % 241) as u8).collect();
    let sent = data.clone();
    let log = with_server("up", Finish::Confirm, move |c| {
        let mut st = c.vol_upload(&vol(), 5, 0, 0).expect("upload opens");
        st.send(&sent).expect("sends");
        st.finish().expect("finishes");
    });
    let log = log.lock().unwrap();
    let (proc_, seen, got) = &log[0];
    assert_eq!(*proc_, p::STORAGE_VOL_UPLOAD);
    assert_eq!(got, &data);
    // libvirt's chunk size, then an empty STREAM OK.
    assert_eq!(
        seen,
        &vec![
            (Status::Continue, packet::STREAM_CHUNK),
            (Status::Continue, packet::STREAM_CHUNK),
            (Status::Continue, 700_000 - 2 * packet::STREAM_CHUNK),
            (Status::Ok, 0),
        ]
    );
}

#[test]
fn a_failed_finish_is_the_daemons_error() {
    with_server("upfail", Finish::ReplyError, |c| {
        let mut st = c.vol_upload(&vol(), 5, 0, 0).expect("upload opens");
        st.send(b"abc").expect("sends");
        let e = st.finish().expect_err("finish fails");
        assert_eq!(e.message, "cannot flush the volume");
        // The stream is over.
        assert!(st.send(b"x").is_err());
    });
}

#[test]
fn download_reads_to_eof_then_finishes() {
    let log = with_server("down", Finish::Confirm, |c| {
        let mut st = c.vol_download(&vol(), 0, 0, 0).expect("download opens");
        let mut got = Vec::new();
        while let Some(chunk) = st.recv().expect("receives") {
            got.extend_from_slice(&chunk);
        }
        let want: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(got, want);
        // After EOF, recv keeps answering EOF.
        assert_eq!(st.recv().expect("eof"), None);
        st.finish().expect("finishes");
    });
    assert_eq!(log.lock().unwrap()[0].1, vec![(Status::Ok, 0)]);
}

#[test]
fn a_stream_error_ends_the_transfer() {
    let log = with_server("shot", Finish::Confirm, |c| {
        let d = DomainRef {
            name: "test".into(),
            uuid: Uuid([0; 16]),
            id: 1,
        };
        let (mime, mut st) = c.domain_screenshot(&d, 0, 0).expect("screenshot opens");
        assert_eq!(mime, "image/png");
        assert_eq!(st.recv().expect("data"), Some(b"\x89PNG".to_vec()));
        let e = st.recv().expect_err("the daemon's error");
        assert_eq!(e.message, "screen went away");
        assert!(st.recv().is_err());
        // Aborting or dropping a failed stream sends nothing.
        st.abort().expect("abort after an error");
        drop(st);
    });
    assert_eq!(log.lock().unwrap()[0].0, p::DOMAIN_SCREENSHOT);
}
