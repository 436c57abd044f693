//! Listeners, client sessions, keepalive and the worker pool.
//!
//! Each client has a reader task (frames in), a writer task (frames out,
//! from a bounded queue) and runs its calls on the blocking worker pool,
//! at most `max_client_requests` at a time per client and `max_workers`
//! in all. Keepalive PINGs are answered by the reader itself, so a busy
//! pool never starves them. Replies go out in completion order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oxvirt_core::Connection;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Notify, Semaphore};

use crate::config::Config;
use crate::dispatch;
use crate::router::Router;
use crate::wire::{self, Header, MsgType, Status};

/// Frames waiting to be written to one client before it counts as stuck.
const OUT_QUEUE: usize = 4096;

/// Daemon-wide state shared by every client.
pub struct Server {
    pub cfg: Config,
    pub router: Router,
    workers: Arc<Semaphore>,
    clients: AtomicUsize,
    next_client: AtomicU64,
    /// Callback ids handed to clients: unique per daemon.
    next_callback: AtomicI32,
    /// Set when the daemon is stopping.
    pub stopping: Notify,
    /// When the last client left (for --timeout).
    pub idle_since: Mutex<Option<Instant>>,
}

/// A registered event callback of one client.
#[derive(Debug, Clone, Copy)]
pub struct Callback {
    /// The id the client knows.
    pub wire_id: i32,
    /// The id the driver gave.
    pub driver_id: i32,
    pub family: CallbackFamily,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackFamily {
    Domain,
    Network,
    Pool,
}

/// One client connection.
pub struct Session {
    pub id: u64,
    pub readonly: bool,
    pub conn: Mutex<Option<Arc<dyn Connection>>>,
    pub callbacks: Mutex<Vec<Callback>>,
    pub close_callback: AtomicBool,
    /// The client asked about keepalive (feature 10) and was told yes.
    pub keepalive: AtomicBool,
    out: mpsc::Sender<Vec<u8>>,
    closed: AtomicBool,
    kill: Notify,
    pub streams: Mutex<HashMap<(i32, u32), dispatch::StreamSlot>>,
}

impl Session {
    /// Queues a frame; a client whose queue is full is disconnected (it
    /// does not read what it is sent).
    pub fn send(&self, frame: Vec<u8>) {
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        if self.out.try_send(frame).is_err() {
            tracing::warn!(client = self.id, "client not reading; disconnecting");
            self.close();
        }
    }

    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.kill.notify_waiters();
        self.kill.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    pub fn connection(&self) -> Option<Arc<dyn Connection>> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Server {
    pub fn new(cfg: Config, router: Router) -> Arc<Server> {
        let workers = cfg.max_workers.max(1);
        Arc::new(Server {
            cfg,
            router,
            workers: Arc::new(Semaphore::new(workers)),
            clients: AtomicUsize::new(0),
            next_client: AtomicU64::new(1),
            next_callback: AtomicI32::new(1),
            stopping: Notify::new(),
            idle_since: Mutex::new(Some(Instant::now())),
        })
    }

    pub fn next_callback_id(&self) -> i32 {
        self.next_callback.fetch_add(1, Ordering::Relaxed)
    }

    pub fn client_count(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// Serves one accepted connection until it closes.
    pub async fn serve_client<S>(self: Arc<Self>, stream: S, readonly: bool)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        if self.clients.fetch_add(1, Ordering::Relaxed) >= self.cfg.max_clients {
            self.clients.fetch_sub(1, Ordering::Relaxed);
            tracing::warn!("too many clients; refusing");
            return;
        }
        *self.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let (rd, wr) = tokio::io::split(stream);
        let (tx, rx) = mpsc::channel::<Vec<u8>>(OUT_QUEUE);
        let session = Arc::new(Session {
            id: self.next_client.fetch_add(1, Ordering::Relaxed),
            readonly,
            conn: Mutex::new(None),
            callbacks: Mutex::new(Vec::new()),
            close_callback: AtomicBool::new(false),
            keepalive: AtomicBool::new(false),
            out: tx,
            closed: AtomicBool::new(false),
            kill: Notify::new(),
            streams: Mutex::new(HashMap::new()),
        });
        tracing::debug!(client = session.id, readonly, "client connected");
        let writer = tokio::spawn(write_loop(wr, rx, session.clone()));
        let last_rx = Arc::new(Mutex::new(Instant::now()));
        let ka = tokio::spawn(keepalive_loop(self.clone(), session.clone(), last_rx.clone()));
        let reader = self.clone().read_loop(rd, session.clone(), last_rx);
        tokio::select! {
            _ = reader => {}
            _ = session.kill.notified() => {}
        }
        session.close();
        ka.abort();
        // Let queued replies drain briefly, then drop the socket.
        let _ = tokio::time::timeout(Duration::from_millis(200), writer).await;
        dispatch::cleanup(&self, &session).await;
        let left = self.clients.fetch_sub(1, Ordering::Relaxed) - 1;
        if left == 0 {
            *self.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        }
        tracing::debug!(client = session.id, "client gone");
    }

    async fn read_loop<R: AsyncRead + Unpin>(
        self: Arc<Self>,
        mut rd: R,
        session: Arc<Session>,
        last_rx: Arc<Mutex<Instant>>,
    ) {
        let inflight = Arc::new(Semaphore::new(self.cfg.max_client_requests.max(1)));
        // Calls admitted but not finished; beyond this the socket is not read.
        let admitted = Arc::new(Semaphore::new(self.cfg.max_client_requests.max(1) * 8));
        loop {
            let mut len = [0u8; 4];
            if rd.read_exact(&mut len).await.is_err() {
                return;
            }
            let total = u32::from_be_bytes(len) as usize;
            if !(wire::HEADER_LEN + 4..=wire::MAX_FRAME).contains(&total) {
                tracing::warn!(client = session.id, total, "bad frame length; disconnecting");
                return;
            }
            let mut buf = vec![0u8; total - 4];
            if rd.read_exact(&mut buf).await.is_err() {
                return;
            }
            *last_rx.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
            let Some(hdr) = Header::decode(&buf) else {
                return;
            };
            let body = buf.split_off(wire::HEADER_LEN);
            if hdr.prog == wire::KEEPALIVE_PROGRAM {
                if hdr.proc_ == wire::KEEPALIVE_PING {
                    session.send(wire::keepalive(wire::KEEPALIVE_PONG));
                }
                continue;
            }
            match hdr.mtype {
                MsgType::Call | MsgType::CallWithFds => {
                    let Ok(admit) = admitted.clone().acquire_owned().await else {
                        return;
                    };
                    let server = self.clone();
                    let sess = session.clone();
                    let inflight = inflight.clone();
                    tokio::spawn(async move {
                        let _admit = admit;
                        let Ok(_slot) = inflight.acquire_owned().await else {
                            return;
                        };
                        let Ok(_worker) = server.workers.clone().acquire_owned().await else {
                            return;
                        };
                        let s2 = server.clone();
                        let sess2 = sess.clone();
                        let reply = tokio::task::spawn_blocking(move || {
                            dispatch::call(&s2, &sess2, &hdr, &body)
                        })
                        .await;
                        match reply {
                            Ok(frame) => sess.send(frame),
                            Err(e) => {
                                tracing::error!("call handler failed: {}", e);
                                sess.send(wire::error_reply(
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
                MsgType::Stream | MsgType::StreamHole => {
                    dispatch::stream_packet(&self, &session, &hdr, body);
                }
                _ => {
                    tracing::debug!(client = session.id, "ignoring message type {:?}", hdr.mtype);
                }
            }
            if session.is_closed() {
                return;
            }
            let _ = Status::Ok;
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(mut wr: W, mut rx: mpsc::Receiver<Vec<u8>>, session: Arc<Session>) {
    while let Some(frame) = rx.recv().await {
        if wr.write_all(&frame).await.is_err() {
            session.close();
            break;
        }
        // Coalesce what is already queued before flushing.
        while let Ok(more) = rx.try_recv() {
            if wr.write_all(&more).await.is_err() {
                session.close();
                return;
            }
        }
        if wr.flush().await.is_err() {
            session.close();
            break;
        }
    }
}

/// Server-side keepalive: after `keepalive_interval` seconds without
/// traffic, PING; after `keepalive_count` unanswered PINGs, disconnect.
async fn keepalive_loop(server: Arc<Server>, session: Arc<Session>, last_rx: Arc<Mutex<Instant>>) {
    let interval = server.cfg.keepalive_interval;
    if interval <= 0 {
        return;
    }
    let interval = Duration::from_secs(interval as u64);
    let mut unanswered = 0u32;
    loop {
        tokio::time::sleep(interval).await;
        if session.is_closed() {
            return;
        }
        if !session.keepalive.load(Ordering::Relaxed) {
            continue;
        }
        let idle = last_rx.lock().unwrap_or_else(|p| p.into_inner()).elapsed();
        if idle < interval {
            unanswered = 0;
            continue;
        }
        if server.cfg.keepalive_count > 0 && unanswered >= server.cfg.keepalive_count {
            tracing::info!(client = session.id, "keepalive timeout; disconnecting");
            session.close();
            return;
        }
        unanswered += 1;
        session.send(wire::keepalive(wire::KEEPALIVE_PING));
    }
}

/// Binds a unix socket with the given permissions, replacing a stale one.
pub fn bind_unix(path: &Path, mode: u32) -> std::io::Result<tokio::net::UnixListener> {
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
    let l = tokio::net::UnixListener::bind(path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(l)
}

/// Accepts clients on a unix socket until the daemon stops.
pub async fn accept_unix(server: Arc<Server>, listener: tokio::net::UnixListener, readonly: bool, path: PathBuf) {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    tokio::spawn(server.clone().serve_client(stream, readonly));
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

/// Accepts clients on TCP until the daemon stops.
pub async fn accept_tcp(server: Arc<Server>, listener: tokio::net::TcpListener) {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    tracing::debug!(%peer, "tcp client");
                    tokio::spawn(server.clone().serve_client(stream, false));
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
