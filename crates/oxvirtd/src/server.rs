//! Listeners, client sessions, keepalive and the worker pool.
//!
//! Each client has a reader (frames in), a writer task (frames out, from
//! a bounded queue) and runs its calls on tokio's blocking pool, at most
//! `max_client_requests` at a time per client and `max_workers` in all.
//! Keepalive PINGs are answered by the reader itself, so a busy pool
//! never starves them. Replies go out in completion order, matched by
//! serial as libvirt's clients expect.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use oxvirt_core::Connection;
use oxvirt_proto::packet::{self, MsgType};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};

use crate::clients::{ClientEntry, Identity, NetServer, Peer, Transport};
use crate::config::Config;
use crate::dispatch;
use crate::router::Router;
use crate::streams::{self, Streams};

/// Frames waiting to be written to one client before it counts as stuck.
const OUT_QUEUE: usize = 4096;
/// Bytes waiting to be written to one client before it counts as stuck
/// (one frame of any size is always accepted into an empty queue).
const OUT_BYTES: usize = 48 * 1024 * 1024;
/// Read buffer of a client: large enough for most calls in one read.
const READ_BUF: usize = 16 * 1024;

/// A frame on its way out, with what it holds until written: the
/// client's request slot for a reply (so a client that does not read its
/// replies stops being read, as with libvirtd), a stream's window slot
/// for stream data.
struct OutFrame {
    bytes: Vec<u8>,
    _hold: Option<OwnedSemaphorePermit>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Daemon-wide state shared by every client.
pub struct Server {
    /// The configuration in force (replaced on SIGHUP).
    cfg: Mutex<Arc<Config>>,
    pub router: Router,
    /// The API sockets' server ("libvirtd", as virt-admin names it).
    pub main: NetServer,
    /// The admin socket's server.
    pub admin: NetServer,
    /// The --timeout in force (seconds; 0: never), virt-admin's
    /// daemon-timeout.
    pub idle_timeout: AtomicU64,
    /// The libvirt log filters and outputs (virt-admin's daemon-log-*).
    pub log: crate::logging::LogControl,
    /// Re-reads the TLS credentials (virt-admin's server-update-tls);
    /// None without a TLS listener.
    pub tls: Mutex<Option<TlsReload>>,
    /// The access rules and audit log (None: access control is off).
    pub policy: Mutex<Option<Arc<crate::acl::Policy>>>,
    /// Callback ids handed to clients: unique per daemon.
    next_callback: AtomicI32,
    /// Set when the daemon is stopping.
    pub stopping: Notify,
    /// When the last client left (for --timeout).
    pub idle_since: Mutex<Option<Instant>>,
    /// Calls per procedure and their latency, for `--metrics`.
    pub metrics: Arc<crate::metrics::DaemonMetrics>,
}

/// Re-reads the TLS listener's credentials as the configuration names them.
pub type TlsReload = Arc<dyn Fn(&Config) -> oxvirt_core::Result<()> + Send + Sync>;

/// A registered event callback of one client.
#[derive(Debug, Clone)]
pub struct Callback {
    /// The id the client knows.
    pub wire_id: i32,
    /// The id the driver gave.
    pub driver_id: i32,
    pub family: CallbackFamily,
    pub event_id: i32,
    /// The object it is limited to (UUID or name), if any.
    pub key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackFamily {
    Domain,
    Network,
    Pool,
    NodeDevice,
    Secret,
}

struct OutboxInner {
    tx: mpsc::Sender<OutFrame>,
    queued: AtomicUsize,
    closed: AtomicBool,
    kill: Notify,
}

/// A client's outgoing frame queue. Event callbacks hold a clone of it
/// and nothing else of the session.
#[derive(Clone)]
pub struct Outbox(Arc<OutboxInner>);

impl Outbox {
    /// Queues a frame; a client whose queue is full is disconnected (it
    /// does not read what it is sent).
    pub fn send(&self, frame: Vec<u8>) {
        self.send_holding(frame, None)
    }

    /// Queues a frame that keeps `hold` until it has been written.
    pub fn send_holding(&self, frame: Vec<u8>, hold: Option<OwnedSemaphorePermit>) {
        if self.is_closed() {
            return;
        }
        let n = frame.len();
        let before = self.0.queued.fetch_add(n, Ordering::Relaxed);
        if before > 0 && before + n > OUT_BYTES {
            self.0.queued.fetch_sub(n, Ordering::Relaxed);
            tracing::warn!("client not reading; disconnecting");
            self.close();
            return;
        }
        let f = OutFrame {
            bytes: frame,
            _hold: hold,
        };
        if self.0.tx.try_send(f).is_err() {
            self.0.queued.fetch_sub(n, Ordering::Relaxed);
            tracing::warn!("client not reading; disconnecting");
            self.close();
        }
    }

    /// Queues a flow-controlled frame (stream data), waiting for room
    /// rather than dropping the client. False when the client is gone.
    pub async fn send_flow(&self, frame: Vec<u8>, hold: OwnedSemaphorePermit) -> bool {
        if self.is_closed() {
            return false;
        }
        let n = frame.len();
        self.0.queued.fetch_add(n, Ordering::Relaxed);
        let f = OutFrame {
            bytes: frame,
            _hold: Some(hold),
        };
        if self.0.tx.send(f).await.is_err() {
            self.0.queued.fetch_sub(n, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn written(&self, n: usize) {
        self.0.queued.fetch_sub(n, Ordering::Relaxed);
    }

    pub fn close(&self) {
        self.0.closed.store(true, Ordering::Relaxed);
        self.0.kill.notify_waiters();
        self.0.kill.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::Relaxed)
    }
}

/// One client connection.
pub struct Session {
    pub id: u64,
    pub readonly: bool,
    /// The client came in on the admin socket.
    pub admin: bool,
    pub identity: Identity,
    conn: Mutex<Option<Arc<Connection>>>,
    callbacks: Mutex<Vec<Callback>>,
    close_callback: AtomicBool,
    /// The client asked about keepalive (feature 10) and was told yes.
    keepalive: AtomicBool,
    /// Calls other than AUTH_LIST are refused (unauthenticated TCP).
    pub auth_refused: bool,
    /// Close once the reply in hand is queued (the admin program's
    /// CONNECT_CLOSE).
    close_after: AtomicBool,
    out: Outbox,
    /// Open streams, by the (procedure, serial) of the call that opened them.
    pub streams: Streams,
}

impl Session {
    pub fn send(&self, frame: Vec<u8>) {
        self.out.send(frame)
    }

    pub fn sender(&self) -> Outbox {
        self.out.clone()
    }

    pub fn is_closed(&self) -> bool {
        self.out.is_closed()
    }

    pub fn connection(&self) -> Option<Arc<Connection>> {
        lock(&self.conn).clone()
    }

    pub fn conn_slot(&self) -> MutexGuard<'_, Option<Arc<Connection>>> {
        lock(&self.conn)
    }

    pub fn enable_keepalive(&self) {
        self.keepalive.store(true, Ordering::Relaxed);
    }

    /// Closes the connection once the current call's reply is queued.
    pub fn close_after_reply(&self) {
        self.close_after.store(true, Ordering::Relaxed);
    }

    /// Queues a call's reply, closing the connection after it if the
    /// call asked for that.
    fn send_reply(&self, frame: Vec<u8>, slot: OwnedSemaphorePermit) {
        self.out.send_holding(frame, Some(slot));
        if self.close_after.load(Ordering::Relaxed) {
            self.out.close();
        }
    }

    pub fn set_close_callback(&self, on: bool) {
        self.close_callback.store(on, Ordering::Relaxed);
    }

    /// Registers a callback: `register` gets the wire id and returns the
    /// driver's. One client may hold one callback per family, event and
    /// object, as libvirtd (whose relay function is the same for all of
    /// them) refuses a second with "event callback already tracked".
    pub fn add_callback(
        &self,
        cb: Callback,
        register: impl FnOnce(i32) -> oxvirt_core::Result<i32>,
    ) -> oxvirt_core::Result<i32> {
        let mut v = lock(&self.callbacks);
        let dup = v
            .iter()
            .any(|c| c.family == cb.family && c.event_id == cb.event_id && c.key == cb.key);
        if dup {
            return Err(oxvirt_core::Error::invalid_arg(
                oxvirt_core::error::from::NONE,
                "event callback already tracked",
            ));
        }
        let driver_id = register(cb.wire_id)?;
        let wire_id = cb.wire_id;
        v.push(Callback { driver_id, ..cb });
        Ok(wire_id)
    }

    /// Takes the callback the client names: by its id, or (`by_event`)
    /// the first domain callback of an event, as the old deregister
    /// procedures find it.
    pub fn take_callback(
        &self,
        id: i32,
        family: CallbackFamily,
        by_event: bool,
    ) -> Option<Callback> {
        let mut v = lock(&self.callbacks);
        let i = v.iter().position(|c| {
            c.family == family
                && if by_event {
                    c.event_id == id
                } else {
                    c.wire_id == id
                }
        })?;
        Some(v.remove(i))
    }

    /// Drops the driver connection and the callbacks registered on it.
    /// Runs driver code: call it from a blocking context.
    pub fn close_connection(&self) {
        let conn = lock(&self.conn).take();
        let cbs = std::mem::take(&mut *lock(&self.callbacks));
        if let Some(conn) = conn {
            dispatch::release(conn, cbs);
        }
    }
}

impl Server {
    pub fn new(
        cfg: Config,
        router: Router,
        timeout: u64,
        log: crate::logging::LogControl,
    ) -> Arc<Server> {
        let main = NetServer::new(
            "libvirtd",
            cfg.min_workers,
            cfg.max_workers,
            cfg.max_clients,
            cfg.max_anonymous_clients,
        );
        let admin = NetServer::new(
            "admin",
            cfg.admin_min_workers,
            cfg.admin_max_workers,
            cfg.admin_max_clients,
            0,
        );
        Arc::new(Server {
            cfg: Mutex::new(Arc::new(cfg)),
            router,
            main,
            admin,
            idle_timeout: AtomicU64::new(timeout),
            log,
            tls: Mutex::new(None),
            policy: Mutex::new(None),
            next_callback: AtomicI32::new(1),
            stopping: Notify::new(),
            idle_since: Mutex::new(Some(Instant::now())),
            metrics: Arc::default(),
        })
    }

    /// The configuration in force.
    pub fn cfg(&self) -> Arc<Config> {
        lock(&self.cfg).clone()
    }

    /// Applies a re-read configuration (SIGHUP). max_clients and
    /// max_workers take effect at once; max_client_requests and the
    /// keepalive settings for clients that connect from now on. Sockets,
    /// permissions and listen addresses stay as they were bound.
    pub fn reload(&self, new: Config) {
        self.main.pool.resize(new.max_workers);
        self.main
            .max_clients
            .store(new.max_clients, Ordering::Relaxed);
        let old = std::mem::replace(&mut *lock(&self.cfg), Arc::new(new));
        let new = self.cfg();
        for (what, a, b) in [
            (
                "unix_sock_rw_perms",
                old.unix_sock_rw_perms,
                new.unix_sock_rw_perms,
            ),
            (
                "unix_sock_ro_perms",
                old.unix_sock_ro_perms,
                new.unix_sock_ro_perms,
            ),
        ] {
            if a != b {
                tracing::warn!("{} changes only on restart", what);
            }
        }
        if old.listen_addr != new.listen_addr
            || old.tcp_port != new.tcp_port
            || old.listen_tcp != new.listen_tcp
            || old.listen_tls != new.listen_tls
            || old.tls_port != new.tls_port
            || old.unix_sock_group != new.unix_sock_group
        {
            tracing::warn!("listen settings change only on restart");
        }
        tracing::info!(
            max_clients = new.max_clients,
            max_workers = new.max_workers,
            max_client_requests = new.max_client_requests,
            keepalive_interval = new.keepalive_interval,
            keepalive_count = new.keepalive_count,
            "configuration reloaded"
        );
    }

    pub fn next_callback_id(&self) -> i32 {
        self.next_callback.fetch_add(1, Ordering::Relaxed)
    }

    /// virNetDaemonAutoShutdown: the idle timeout (0: never), counted
    /// from now when the daemon is idle.
    pub fn set_idle_timeout(&self, secs: u64) {
        self.idle_timeout.store(secs, Ordering::Relaxed);
        let mut idle = lock(&self.idle_since);
        if idle.is_some() {
            *idle = Some(Instant::now());
        }
    }

    /// The access policy in force, if any.
    pub fn policy(&self) -> Option<Arc<crate::acl::Policy>> {
        lock(&self.policy).clone()
    }

    /// Clients of the API sockets.
    pub fn client_count(&self) -> usize {
        self.main.client_count()
    }

    /// Worker threads running a call, and how many may.
    pub fn workers_in_use(&self) -> (usize, usize) {
        self.main.pool.in_use()
    }

    /// The server a session belongs to.
    pub fn net(&self, admin: bool) -> &NetServer {
        if admin {
            &self.admin
        } else {
            &self.main
        }
    }

    /// Serves one accepted connection until it closes. A client whose
    /// `peer.auth_refused` is set (TCP from a non-loopback address while
    /// auth_tcp is "none") has every call but AUTH_LIST refused with
    /// libvirtd's "authentication required".
    pub async fn serve_client<S>(self: Arc<Self>, stream: S, peer: Peer)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (rd, wr) = tokio::io::split(stream);
        let (tx, rx) = mpsc::channel::<OutFrame>(OUT_QUEUE);
        let out = Outbox(Arc::new(OutboxInner {
            tx,
            queued: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            kill: Notify::new(),
        }));
        let net = self.net(peer.admin);
        let Some(entry) = net.add_client(&peer, out.clone()) else {
            tracing::warn!(server = net.name, "too many clients; refusing");
            return;
        };
        if !peer.admin {
            *lock(&self.idle_since) = None;
        }
        let (readonly, auth_refused) = (peer.readonly, peer.auth_refused);
        let session = Arc::new(Session {
            id: entry.id,
            readonly,
            admin: peer.admin,
            identity: peer.identity,
            conn: Mutex::new(None),
            callbacks: Mutex::new(Vec::new()),
            close_callback: AtomicBool::new(false),
            keepalive: AtomicBool::new(false),
            auth_refused,
            close_after: AtomicBool::new(false),
            out: out.clone(),
            streams: Streams::default(),
        });
        tracing::debug!(
            server = net.name,
            client = session.id,
            readonly,
            uid = ?session.identity.uid,
            addr = ?session.identity.sock_addr,
            "client connected"
        );
        let writer = tokio::spawn(write_loop(wr, rx, out.clone()));
        let last_rx = Arc::new(Mutex::new(Instant::now()));
        let ka = tokio::spawn(keepalive_loop(
            self.clone(),
            session.clone(),
            last_rx.clone(),
        ));
        // One read syscall brings in a whole small call (length and body)
        // rather than one for each.
        let rd = tokio::io::BufReader::with_capacity(READ_BUF, rd);
        let reader = self.clone().read_loop(rd, session.clone(), last_rx);
        tokio::select! {
            _ = reader => {}
            _ = out.0.kill.notified() => {}
        }
        out.close();
        ka.abort();
        // Stream tasks see their inbox close and abort their transfers.
        session.streams.clear();
        // Free the driver connection (and with it the event callbacks, which
        // hold the outgoing queue).
        let s2 = session.clone();
        let _ = tokio::task::spawn_blocking(move || s2.close_connection()).await;
        // Let queued replies drain briefly, then drop the socket.
        let mut writer = writer;
        if tokio::time::timeout(Duration::from_millis(200), &mut writer)
            .await
            .is_err()
        {
            writer.abort();
        }
        let left = self.net(session.admin).remove_client(entry.id);
        if left == 0 && !session.admin {
            *lock(&self.idle_since) = Some(Instant::now());
        }
        drop::<Arc<ClientEntry>>(entry);
        tracing::debug!(
            server = self.net(session.admin).name,
            client = session.id,
            "client gone"
        );
    }

    async fn read_loop<R: AsyncRead + Unpin>(
        self: Arc<Self>,
        mut rd: R,
        session: Arc<Session>,
        last_rx: Arc<Mutex<Instant>>,
    ) {
        let cfg = self.cfg();
        let max_requests = if session.admin {
            cfg.admin_max_client_requests
        } else {
            cfg.max_client_requests
        };
        let inflight = Arc::new(Semaphore::new(max_requests.max(1)));
        loop {
            let mut len = [0u8; 4];
            if rd.read_exact(&mut len).await.is_err() {
                return;
            }
            let n = match packet::body_len(len) {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(client = session.id, "{}; disconnecting", e);
                    return;
                }
            };
            // Read in pieces so a client announcing 32 MiB but sending
            // nothing costs no memory.
            let mut buf = Vec::with_capacity(n.min(64 * 1024));
            if (&mut rd)
                .take(n as u64)
                .read_to_end(&mut buf)
                .await
                .is_err()
                || buf.len() != n
            {
                return;
            }
            *lock(&last_rx) = Instant::now();
            let (hdr, _) = match packet::split(&buf) {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(client = session.id, "bad header: {}; disconnecting", e);
                    return;
                }
            };
            if hdr.prog == packet::KEEPALIVE_PROGRAM {
                if hdr.proc_ == packet::KEEPALIVE_PING && hdr.mtype == MsgType::Message {
                    session.send(packet::keepalive(packet::KEEPALIVE_PONG));
                }
                continue;
            }
            match hdr.mtype {
                MsgType::Call => {
                    // Admission: at most max_client_requests calls of this
                    // client at once; beyond that the socket is not read.
                    let Ok(slot) = inflight.clone().acquire_owned().await else {
                        return;
                    };
                    // An in-memory driver answers in microseconds: run the
                    // call here, which saves two thread hand-offs per call.
                    // Opening a connection may reach any driver, so it
                    // always goes through the pool.
                    let quick = hdr.prog == packet::REMOTE_PROGRAM
                        && hdr.proc_ != oxvirt_proto::procs::CONNECT_OPEN
                        && session.connection().is_some_and(|c| c.calls_are_quick());
                    if quick {
                        let body = &buf[packet::HEADER_LEN..];
                        match timed_call(&self, &session, &hdr, body) {
                            (frame, None) => session.out.send_holding(frame, Some(slot)),
                            (frame, Some(opened)) => {
                                tokio::spawn(open_stream(
                                    session.clone(),
                                    hdr,
                                    frame,
                                    opened,
                                    slot,
                                ));
                            }
                        }
                        continue;
                    }
                    let server = self.clone();
                    let sess = session.clone();
                    tokio::spawn(async move {
                        let Some(_worker) = server.net(sess.admin).pool.acquire().await else {
                            return;
                        };
                        let s2 = server.clone();
                        let sess2 = sess.clone();
                        // The reply is queued from the blocking thread
                        // itself: one wake-up less per call.
                        let reply = tokio::task::spawn_blocking(move || {
                            let body = &buf[packet::HEADER_LEN..];
                            match timed_call(&s2, &sess2, &hdr, body) {
                                (frame, None) => {
                                    sess2.send_reply(frame, slot);
                                    None
                                }
                                (frame, Some(opened)) => Some((frame, opened, slot)),
                            }
                        })
                        .await;
                        drop(_worker);
                        match reply {
                            Ok(None) => {}
                            Ok(Some((frame, opened, slot))) => {
                                open_stream(sess, hdr, frame, opened, slot).await
                            }
                            Err(e) => {
                                tracing::error!("call handler failed: {}", e);
                                sess.send(dispatch::error_frame(
                                    &hdr,
                                    &oxvirt_core::Error::internal(
                                        oxvirt_core::error::from::RPC,
                                        "call handler failed",
                                    ),
                                ));
                            }
                        }
                    });
                }
                MsgType::CallWithFds => {
                    // File descriptors are not accepted on this socket.
                    session.send(dispatch::error_frame(
                        &hdr,
                        &oxvirt_core::Error::raw(
                            oxvirt_core::error::code::RPC,
                            oxvirt_core::error::from::RPC,
                            "file descriptor passing is not supported",
                        ),
                    ));
                }
                MsgType::Stream | MsgType::StreamHole => match session.streams.route(&hdr) {
                    Some(inbox) => {
                        let data = buf.split_off(packet::HEADER_LEN);
                        // Waits while the stream is busy: its client is not
                        // read meanwhile.
                        let _ = inbox.send(streams::Packet { hdr, data }).await;
                    }
                    None => {
                        // Data may still arrive after a stream ended;
                        // libvirtd drops it too.
                        tracing::debug!(client = session.id, "stray stream packet");
                    }
                },
                _ => {
                    tracing::debug!(client = session.id, "ignoring message type {:?}", hdr.mtype);
                }
            }
            if session.is_closed() {
                return;
            }
        }
    }
}

/// [`dispatch::call`], counted and timed for the metrics endpoint.
fn timed_call(
    server: &Server,
    session: &Session,
    hdr: &packet::Header,
    body: &[u8],
) -> (Vec<u8>, Option<streams::Opened>) {
    let t0 = Instant::now();
    let r = dispatch::call(server, session, hdr, body);
    // The reply's status word follows the length and five header words.
    let failed = r.0.get(24..28) == Some(&[0, 0, 0, 1]);
    server
        .metrics
        .call_done(hdr.prog, hdr.proc_, t0.elapsed(), failed);
    r
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::Receiver<OutFrame>,
    out: Outbox,
) {
    loop {
        let frame = tokio::select! {
            f = rx.recv() => f,
            _ = out.0.kill.notified() => None,
        };
        let Some(frame) = frame else {
            // Closing: flush what is already queued, then stop.
            while let Ok(more) = rx.try_recv() {
                if wr.write_all(&more.bytes).await.is_err() {
                    break;
                }
            }
            let _ = wr.flush().await;
            let _ = wr.shutdown().await;
            return;
        };
        if wr.write_all(&frame.bytes).await.is_err() {
            out.close();
            return;
        }
        out.written(frame.bytes.len());
        drop(frame);
        // Coalesce what is already queued before flushing.
        while let Ok(more) = rx.try_recv() {
            if wr.write_all(&more.bytes).await.is_err() {
                out.close();
                return;
            }
            out.written(more.bytes.len());
        }
        if wr.flush().await.is_err() {
            out.close();
            return;
        }
    }
}

/// Queues the REPLY of a call that opened a stream, then runs the stream.
async fn open_stream(
    sess: Arc<Session>,
    hdr: packet::Header,
    frame: Vec<u8>,
    opened: streams::Opened,
    slot: OwnedSemaphorePermit,
) {
    let Some(inbox) = streams::register(&sess, &hdr) else {
        let mut st = opened.stream;
        let _ = tokio::task::spawn_blocking(move || st.abort()).await;
        sess.out.send_holding(
            dispatch::error_frame(
                &hdr,
                &oxvirt_core::Error::raw(
                    oxvirt_core::error::code::RPC,
                    oxvirt_core::error::from::STREAMS,
                    "too many open streams",
                ),
            ),
            Some(slot),
        );
        return;
    };
    sess.out.send_holding(frame, Some(slot));
    streams::run(sess, hdr, opened, inbox).await;
}

/// Server-side keepalive: after `keepalive_interval` seconds without
/// traffic, PING; after `keepalive_count` unanswered PINGs, disconnect.
async fn keepalive_loop(server: Arc<Server>, session: Arc<Session>, last_rx: Arc<Mutex<Instant>>) {
    let cfg = server.cfg();
    let interval = cfg.keepalive_interval;
    if interval <= 0 {
        return;
    }
    let interval = Duration::from_secs(interval as u64);
    // PINGs sent since the client last sent anything (libvirt's
    // countToDeath, counted up): any packet from the client, a PONG or a
    // call, proves it alive.
    let mut unanswered = 0u32;
    let mut last_ping: Option<Instant> = None;
    loop {
        tokio::time::sleep(interval).await;
        if session.is_closed() {
            return;
        }
        if !session.keepalive.load(Ordering::Relaxed) {
            continue;
        }
        let rx = *lock(&last_rx);
        if last_ping.is_none_or(|p| rx >= p) {
            unanswered = 0;
        }
        if rx.elapsed() < interval {
            continue;
        }
        if cfg.keepalive_count > 0 && unanswered >= cfg.keepalive_count {
            tracing::info!(client = session.id, "keepalive timeout; disconnecting");
            session.out.close();
            return;
        }
        unanswered += 1;
        last_ping = Some(Instant::now());
        session.send(packet::keepalive(packet::KEEPALIVE_PING));
    }
}

/// The gid of a group name (or a numeric gid), as unix_sock_group takes it.
pub fn group_id(name: &str) -> std::io::Result<u32> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    let cname = std::ffi::CString::new(name)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad group name"))?;
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut res: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer refers to a live local buffer of the given size.
    let rc = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut grp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut res,
        )
    };
    if rc != 0 || res.is_null() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("Failed to lookup group '{}'", name),
        ));
    }
    Ok(grp.gr_gid)
}

/// Binds a unix socket with the given permissions (and group), replacing
/// a stale one.
pub fn bind_unix(
    path: &Path,
    mode: u32,
    gid: Option<u32>,
) -> std::io::Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        // A live daemon answers; a stale socket is removed.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is in use by another daemon", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    // Bound under a temporary name and renamed into place once its mode
    // and group are set, so no client ever finds it with the umask's.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let l = tokio::net::UnixListener::bind(&tmp)?;
    use std::os::unix::fs::PermissionsExt;
    let placed = (|| {
        if let Some(gid) = gid {
            std::os::unix::fs::chown(&tmp, None, Some(gid))?;
        }
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(l)
}

/// Accepts clients on a unix socket until the daemon stops.
/// `admin`: the admin socket, where only the daemon's own user is
/// served, as libvirtd serves it.
pub async fn accept_unix(
    server: Arc<Server>,
    listener: tokio::net::UnixListener,
    readonly: bool,
    admin: bool,
    path: PathBuf,
) {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    let identity = match stream.peer_cred() {
                        Ok(c) => Identity::unix(c.uid(), c.gid(), c.pid()),
                        Err(e) => {
                            tracing::warn!("cannot read the credentials of a client on {}: {}", path.display(), e);
                            continue;
                        }
                    };
                    if admin && identity.uid != Some(unsafe { libc::geteuid() }) {
                        // remoteAdmClientNew refuses the client outright.
                        tracing::warn!(
                            "Disallowing client {} with uid {}",
                            identity.pid.unwrap_or(-1),
                            identity.uid.unwrap_or(u32::MAX)
                        );
                        continue;
                    }
                    let peer = Peer {
                        transport: Transport::Unix,
                        readonly,
                        auth_refused: false,
                        identity,
                        admin,
                    };
                    tokio::spawn(server.clone().serve_client(stream, peer));
                }
                Err(e) => {
                    tracing::warn!("accept on {} failed: {}", path.display(), e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = server.stopping.notified() => break,
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// Whether auth "none" may serve a TCP peer: only on loopback.
pub fn loopback_peer(peer: &std::net::SocketAddr) -> bool {
    peer.ip().to_canonical().is_loopback()
}

/// Accepts clients on TCP until the daemon stops. With auth_tcp "none"
/// (the only scheme oxvirtd offers) a client from outside the host is
/// refused at CONNECT_OPEN.
pub async fn accept_tcp(server: Arc<Server>, listener: tokio::net::TcpListener) {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let refused =
                        !loopback_peer(&peer) && !server.cfg().tcp_remote_unauthenticated;
                    if refused {
                        tracing::warn!(%peer, "tcp client from outside the host: auth \"none\" is for loopback only");
                    } else {
                        tracing::debug!(%peer, "tcp client");
                    }
                    let peer = Peer {
                        transport: Transport::Tcp,
                        readonly: false,
                        auth_refused: refused,
                        identity: Identity::network(&peer),
                        admin: false,
                    };
                    tokio::spawn(server.clone().serve_client(stream, peer));
                }
                Err(e) => {
                    tracing::warn!("tcp accept failed: {}", e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = server.stopping.notified() => break,
        }
    }
}

/// How long a TLS client may take over its handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts clients on the TLS port until the daemon stops. Each is served
/// on its own task, so a slow or broken handshake holds up no one else.
/// As with libvirtd, at most `max_anonymous_clients` (0: no limit; virt-
/// admin's srv-clients-set changes it) may be between accept and the end
/// of their check; further ones wait in the listen queue.
pub async fn accept_tls(
    server: Arc<Server>,
    listener: tokio::net::TcpListener,
    tls: Arc<crate::tls::TlsState>,
) {
    loop {
        let max = server.main.max_unauth.load(Ordering::Relaxed);
        if max > 0 && server.main.unauth.load(Ordering::Relaxed) >= max {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)) => continue,
                _ = server.stopping.notified() => break,
            }
        }
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    server.main.unauth.fetch_add(1, Ordering::Relaxed);
                    let pending = Unauth(server.clone());
                    tokio::spawn(serve_tls(server.clone(), stream, peer, tls.current(), pending));
                }
                Err(e) => {
                    tracing::warn!("tls accept failed: {}", e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = server.stopping.notified() => break,
        }
    }
}

/// A TLS client counted among those not yet authenticated, until dropped.
struct Unauth(Arc<Server>);

impl Drop for Unauth {
    fn drop(&mut self) {
        self.0.main.unauth.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One TLS client: the handshake, libvirtd's check of its certificate,
/// the confirmation byte libvirt's client waits for, then the same
/// session as any other socket. A client that fails is dropped (and
/// logged) without a close_notify, as libvirtd drops it.
async fn serve_tls(
    server: Arc<Server>,
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    ctx: Arc<crate::tls::TlsContext>,
    pending: Unauth,
) {
    let accepted = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, ctx.acceptor().accept(stream)).await;
    let mut tls = match accepted {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::warn!(%peer, "TLS handshake failed: {}", e);
            return;
        }
        Err(_) => {
            tracing::warn!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let dn = match ctx.check_client(tls.get_ref().1) {
        Ok(dn) => dn,
        Err(why) => {
            tracing::warn!(%peer, "refusing TLS client: {}", why);
            return;
        }
    };
    if tls.write_all(&[1]).await.is_err() || tls.flush().await.is_err() {
        return;
    }
    drop(pending);
    tracing::debug!(%peer, "tls client");
    let mut identity = Identity::network(&peer);
    identity.x509_dname = dn;
    let peer = Peer {
        transport: Transport::Tls,
        readonly: false,
        auth_refused: false,
        identity,
        admin: false,
    };
    server.serve_client(tls, peer).await
}
