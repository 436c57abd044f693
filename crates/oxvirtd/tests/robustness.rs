//! Bad and demanding clients never take oxvirtd down nor disturb other
//! clients: random bytes, truncated frames, lying lengths, an oversized
//! frame, a list one element over its maximum, clients vanishing
//! mid-call, 200 concurrent clients pipelining, a client that never
//! reads its replies, and one that stops answering keepalive PINGs.
//! (Bad frame length and type, garbage payloads for every procedure:
//! real_clients.rs.)

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::*;

/// A fresh client gets an answer to CONNECT_GET_TYPE.
fn assert_healthy(d: &mut Daemon) {
    assert!(
        d.child.try_wait().ok().flatten().is_none(),
        "oxvirtd is still running"
    );
    let mut s = d.raw_client();
    s.write_all(&frame(REMOTE, 3, 0, 2, &[])).expect("write");
    let r = read_reply(&mut s, 2);
    assert_eq!(&r[20..24], &[0, 0, 0, 0], "GET_TYPE succeeds");
    assert!(String::from_utf8_lossy(&r[24..]).contains("TEST"));
}

/// Reads until the daemon hangs up (true) or `limit` bytes arrive.
fn hung_up(s: &mut UnixStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut buf = [0u8; 4096];
    let mut total = 0usize;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => {
                total += n;
                if total > 1 << 20 {
                    return false;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

struct Rng(u32);
impl Rng {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 17;
                self.0 ^= self.0 << 5;
                self.0 as u8
            })
            .collect()
    }
}

#[test]
fn random_bytes_and_truncated_frames() {
    let mut d = Daemon::start("rob-random");
    let mut watcher = d.raw_client();
    let mut rng = Rng(0x9e37_79b9);
    for i in 0..40 {
        let mut s = UnixStream::connect(&d.socket).expect("connect");
        let junk = rng.bytes(64 + i * 97);
        let _ = s.write_all(&junk);
        if i % 2 == 0 {
            // Leave with the junk half-read by the daemon.
            continue;
        }
        let _ = s.shutdown(std::net::Shutdown::Write);
        let _ = hung_up(&mut s);
    }
    // Truncated: half a length word; a frame cut short; a header only
    // partly sent. The clients vanish in the middle.
    for cut in [2usize, 20, 30] {
        let mut s = UnixStream::connect(&d.socket).expect("connect");
        let f = frame(REMOTE, 23, 0, 1, &xdr_string("test"));
        let _ = s.write_all(&f[..cut.min(f.len())]);
    }
    // A truncated payload inside a complete frame: an error reply.
    let mut s = d.raw_client();
    let mut bad = 100u32.to_be_bytes().to_vec();
    bad.extend_from_slice(b"tes");
    s.write_all(&frame(REMOTE, 23, 0, 2, &bad)).expect("write");
    let r = read_reply(&mut s, 2);
    assert_eq!(&r[20..24], &[0, 0, 0, 1], "status ERROR");
    assert!(String::from_utf8_lossy(&r).contains("Unable to decode message payload"));

    watcher
        .write_all(&frame(REMOTE, 3, 0, 9, &[]))
        .expect("write");
    assert_eq!(&read_reply(&mut watcher, 9)[20..24], &[0, 0, 0, 0]);
    assert_healthy(&mut d);
}

#[test]
fn lying_lengths_and_oversized_frames() {
    let mut d = Daemon::start("rob-lying");
    let mut watcher = d.raw_client();
    // A length word shorter than a header: hang up.
    let mut s = UnixStream::connect(&d.socket).expect("connect");
    // (one write: the daemon may hang up as soon as it sees the length)
    let mut short = 10u32.to_be_bytes().to_vec();
    short.extend_from_slice(&[0u8; 24]);
    s.write_all(&short).expect("write");
    assert!(hung_up(&mut s));
    // One byte over VIR_NET_MESSAGE_MAX: hang up without reading it.
    let mut s = UnixStream::connect(&d.socket).expect("connect");
    s.write_all(&((32 << 20) + 4 + 1u32).to_be_bytes())
        .expect("write");
    assert!(hung_up(&mut s));
    // A length announcing 32 MiB, then silence and a vanishing client:
    // nothing is allocated up front.
    let mut s = UnixStream::connect(&d.socket).expect("connect");
    s.write_all(&((32 << 20) + 4u32).to_be_bytes())
        .expect("write");
    s.write_all(&[0u8; 1000]).expect("write");
    drop(s);
    // A frame that is exactly the maximum, with a garbage payload: an
    // error reply, and the client goes on.
    let mut s = d.raw_client();
    let payload = vec![0xffu8; (32 << 20) - 24];
    s.write_all(&frame(REMOTE, 23, 0, 5, &payload))
        .expect("write");
    let r = read_reply(&mut s, 5);
    assert_eq!(&r[20..24], &[0, 0, 0, 1]);
    // A string length bigger than the frame (and than STRING_MAX).
    s.write_all(&frame(REMOTE, 23, 0, 6, &0xffff_fff0u32.to_be_bytes()))
        .expect("write");
    let r = read_reply(&mut s, 6);
    assert_eq!(&r[20..24], &[0, 0, 0, 1]);
    // A length word claiming fewer bytes than sent: the rest is read as
    // the next frame, whose garbage header ends the session.
    let mut f = frame(REMOTE, 3, 0, 7, &[]);
    f.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
    let mut s2 = d.raw_client();
    s2.write_all(&f).expect("write");
    assert!(hung_up(&mut s2));

    watcher
        .write_all(&frame(REMOTE, 3, 0, 9, &[]))
        .expect("write");
    assert_eq!(&read_reply(&mut watcher, 9)[20..24], &[0, 0, 0, 0]);
    assert_healthy(&mut d);
}

/// DOMAIN_GET_ALL_DOMAIN_STATS args: {domain<16384> doms, stats, flags}.
fn stats_args(n: u32) -> Vec<u8> {
    let mut v = n.to_be_bytes().to_vec();
    for i in 0..n {
        v.extend_from_slice(&xdr_string("x"));
        let mut uuid = [0u8; 16];
        uuid[..4].copy_from_slice(&i.to_be_bytes());
        v.extend_from_slice(&uuid);
        v.extend_from_slice(&(-1i32).to_be_bytes());
    }
    v.extend_from_slice(&[0; 8]);
    v
}

#[test]
fn list_one_over_its_maximum_is_refused() {
    let mut d = Daemon::start("rob-list");
    let mut s = d.raw_client();
    s.write_all(&frame(REMOTE, 344, 0, 2, &stats_args(16385)))
        .expect("write");
    let r = read_reply(&mut s, 2);
    assert_eq!(&r[20..24], &[0, 0, 0, 1], "status ERROR");
    assert!(String::from_utf8_lossy(&r).contains("Unable to decode message payload"));
    // At the maximum, the list is decoded (and the unknown domains are
    // the driver's business).
    s.write_all(&frame(REMOTE, 344, 0, 3, &stats_args(16384)))
        .expect("write");
    let r = read_reply(&mut s, 3);
    assert!(!String::from_utf8_lossy(&r).contains("Unable to decode"));
    // A count of 16385 with no elements behind it.
    s.write_all(&frame(REMOTE, 344, 0, 4, &16385u32.to_be_bytes()))
        .expect("write");
    assert_eq!(&read_reply(&mut s, 4)[20..24], &[0, 0, 0, 1]);
    assert_healthy(&mut d);
}

#[test]
fn clients_vanishing_mid_call() {
    let mut d = Daemon::start("rob-vanish");
    let mut watcher = d.raw_client();
    let png = have("/usr/share/libvirt/test-screenshot.png");
    for i in 0..60u32 {
        let mut s = d.raw_client();
        // Pipelined calls, then gone before any reply is read.
        for serial in 2..8 {
            let _ = s.write_all(&frame(REMOTE, 23, 0, serial, &xdr_string("test")));
        }
        if png && i % 3 == 0 {
            // A screenshot stream left open mid-transfer.
            let mut w = [0u8; 4];
            let _ = s.write_all(&frame(REMOTE, 23, 0, 100, &xdr_string("test")));
            let r = read_reply(&mut s, 100);
            let mut args = r[24..].to_vec();
            args.extend_from_slice(&[0; 8]);
            let _ = s.write_all(&frame(REMOTE, 211, 0, 101, &args));
            let _ = s.read(&mut w);
        }
        drop(s);
    }
    watcher
        .write_all(&frame(REMOTE, 3, 0, 9, &[]))
        .expect("write");
    assert_eq!(&read_reply(&mut watcher, 9)[20..24], &[0, 0, 0, 0]);
    assert_healthy(&mut d);
}

#[test]
fn two_hundred_clients_pipelining() {
    let mut d = Daemon::start("rob-200");
    let socket = d.socket.clone();
    let threads: Vec<_> = (0..200u32)
        .map(|t| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let mut s = UnixStream::connect(&socket).expect("connect");
                s.set_read_timeout(Some(Duration::from_secs(60))).ok();
                // Open first, as every libvirt client does, then pipeline.
                s.write_all(&frame(REMOTE, 1, 0, 1, &open_args()))
                    .expect("write");
                assert_eq!(&read_reply(&mut s, 1)[20..24], &[0, 0, 0, 0]);
                let mut calls = Vec::new();
                for serial in 2..22u32 {
                    calls.extend(if serial % 2 == 0 {
                        frame(REMOTE, 23, 0, serial, &xdr_string("test"))
                    } else {
                        frame(REMOTE, 3, 0, serial, &[])
                    });
                }
                s.write_all(&calls).expect("write");
                let mut seen = std::collections::BTreeSet::new();
                while seen.len() < 20 {
                    let r = read_frame(&mut s).expect("reply");
                    if r[12..16] != [0, 0, 0, 1] {
                        continue;
                    }
                    assert_eq!(&r[20..24], &[0, 0, 0, 0], "client {t}: call failed");
                    let serial = u32::from_be_bytes([r[16], r[17], r[18], r[19]]);
                    assert!(seen.insert(serial), "client {t}: serial {serial} twice");
                }
                assert_eq!(
                    seen.into_iter().collect::<Vec<_>>(),
                    (2..22).collect::<Vec<_>>()
                );
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    assert_healthy(&mut d);
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_client_that_never_reads_is_bounded() {
    let mut d = Daemon::start("rob-noread");
    let mut lazy = d.raw_client();
    let before = rss_kib(d.child.id());
    // GET_CAPABILITIES replies are a few KiB each; the lazy client asks
    // for far more than any queue should hold and reads nothing.
    lazy.set_write_timeout(Some(Duration::from_secs(3))).ok();
    let call = |serial| frame(REMOTE, 7, 0, serial, &[]);
    let mut written = 0usize;
    let mut blocked = false;
    for serial in 2..400_000u32 {
        match lazy.write_all(&call(serial)) {
            Ok(()) => written += 1,
            Err(_) => {
                blocked = true;
                break;
            }
        }
    }
    assert!(blocked, "the daemon kept reading a client that never reads");
    // Meanwhile other clients are served.
    assert_healthy(&mut d);
    let mut other = d.raw_client();
    for serial in 2..50 {
        other
            .write_all(&frame(REMOTE, 7, 0, serial, &[]))
            .expect("write");
        assert_eq!(&read_reply(&mut other, serial)[20..24], &[0, 0, 0, 0]);
    }
    let after = rss_kib(d.child.id());
    assert!(
        after < before + 256 * 1024,
        "daemon memory grew from {before} KiB to {after} KiB ({written} calls queued)"
    );
    drop(lazy);
    assert_healthy(&mut d);
}

const KEEPALIVE: u32 = 0x6b65_6570;

/// Opens a client and tells the daemon it speaks keepalive (feature 10),
/// as libvirt's client does before it starts pinging.
fn keepalive_client(d: &Daemon) -> UnixStream {
    let mut s = d.raw_client();
    s.write_all(&frame(REMOTE, 60, 0, 2, &[0, 0, 0, 10]))
        .expect("write");
    let r = read_reply(&mut s, 2);
    assert_eq!(
        &r[20..28],
        &[0, 0, 0, 0, 0, 0, 0, 1],
        "feature 10 supported"
    );
    s
}

#[test]
fn keepalive_drops_the_silent_and_keeps_the_answering() {
    let mut d = Daemon::start_with(
        "rob-keepalive",
        "keepalive_interval = 1\nkeepalive_count = 2\n",
        &[],
    );
    let mut silent = keepalive_client(&d);
    let answering = keepalive_client(&d);
    // The answering client replies PONG to every PING, from a thread.
    let mut r = answering.try_clone().expect("clone");
    let mut w = answering.try_clone().expect("clone");
    let pongs = std::thread::spawn(move || {
        let mut pings = 0;
        while let Ok(f) = read_frame(&mut r) {
            let prog = u32::from_be_bytes([f[0], f[1], f[2], f[3]]);
            let proc_ = u32::from_be_bytes([f[8], f[9], f[10], f[11]]);
            if prog == KEEPALIVE && proc_ == 1 {
                pings += 1;
                if w.write_all(&frame(KEEPALIVE, 2, 2, 0, &[])).is_err() {
                    break;
                }
            }
            if prog == REMOTE {
                break;
            }
        }
        pings
    });
    // The silent one sees PINGs, then the daemon hangs up on it: after
    // keepalive_count unanswered intervals, a few seconds.
    let t0 = std::time::Instant::now();
    let mut pings = 0;
    let gone = loop {
        match read_frame(&mut silent) {
            Ok(f) if f[0..4] == KEEPALIVE.to_be_bytes() => pings += 1,
            Ok(_) => {}
            Err(_) => break true,
        }
        if t0.elapsed() > Duration::from_secs(20) {
            break false;
        }
    };
    assert!(gone, "the silent client was dropped");
    assert!(pings >= 2, "pinged before being dropped ({pings})");
    // The answering client is still served, and was pinged meanwhile.
    let mut a = answering;
    a.write_all(&frame(REMOTE, 3, 0, 9, &[])).expect("write");
    let pinged = pongs.join().expect("pong thread");
    assert!(pinged >= 1, "the answering client was pinged");
    assert_healthy(&mut d);
}
