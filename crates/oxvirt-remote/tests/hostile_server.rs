//! A server that sends garbage never panics or hangs the client: the
//! handshake fails with an error.

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::time::Duration;

use oxvirt_core::uri::Uri;

fn against(reply: Vec<u8>) -> oxvirt_core::Error {
    let dir = std::env::temp_dir().join(format!(
        "oxvirt-remote-hostile-{}-{}",
        std::process::id(),
        reply.len()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sock = dir.join("sock");
    let listener = UnixListener::bind(&sock).expect("binds");
    let server = std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 28];
            let _ = s.read_exact(&mut buf); // AUTH_LIST
            let _ = s.write_all(&reply);
            // then hang up
        }
    });
    let name = format!("test+unix:///default?socket={}", sock.display());
    let uri = Uri::parse(&name).expect("uri");
    let e = oxvirt_remote::open(&name, &uri, 0).err().expect("fails");
    let _ = server.join();
    let _ = std::fs::remove_dir_all(&dir);
    e
}

fn frame(prog: u32, proc_: i32, mtype: i32, serial: u32, status: i32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((28 + payload.len()) as u32).to_be_bytes());
    for w in [prog, 1, proc_ as u32, mtype as u32, serial, status as u32] {
        v.extend_from_slice(&w.to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

#[test]
fn garbage_never_panics() {
    // random bytes, a lying length word, an oversized frame
    let mut x: u32 = 0x1234_5678;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    assert!(!against(random).message.is_empty());
    assert!(!against(vec![0xff, 0xff, 0xff, 0xff]).message.is_empty());
    assert!(!against(vec![0, 0, 0, 3]).message.is_empty());
    // the right reply, truncated payload (count says 1000 auth types)
    let e = against(frame(0x2000_8086, 66, 1, 0, 0, &1000u32.to_be_bytes()));
    assert_eq!(e.message, "Unable to decode message payload");
    // an error reply with a truncated remote_error
    let e = against(frame(0x2000_8086, 66, 1, 0, 1, &[0, 0, 0, 42]));
    assert_eq!(e.message, "Unable to decode message payload");
    // a reply for another serial, an unknown program, a stray stream packet
    let mut v = frame(0x2000_8086, 66, 1, 99, 0, &[]);
    v.extend(frame(0x1111_1111, 1, 2, 0, 0, &[1, 2, 3]));
    v.extend(frame(0x2000_8086, 211, 3, 0, 2, &[9; 10]));
    v.extend(frame(0x2000_8086, 318, 2, 1, 0, &[0; 3]));
    assert!(!against(v).message.is_empty());
    // nothing at all
    assert!(against(Vec::new()).message.contains("End of file"));
}
