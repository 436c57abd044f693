//! The daemon's servers as libvirt's virNetServer sees them: the API
//! server ("libvirtd": the unix, TCP and TLS sockets) and the "admin"
//! server (the admin socket), each with its worker pool, its client
//! limits and the registry of its connected clients with their
//! identities. virt-admin reads and tunes these; access control reads the
//! identities.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::server::{lock, Outbox};

/// How a client reached the daemon (`virClientTransport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Unix,
    Tcp,
    Tls,
}

impl Transport {
    pub fn wire(self) -> u32 {
        use oxvirt_proto::admin::transport;
        match self {
            Transport::Unix => transport::UNIX,
            Transport::Tcp => transport::TCP,
            Transport::Tls => transport::TLS,
        }
    }
}

/// Who a client is, as libvirt's virIdentity records it: the unix
/// credentials of the socket's peer (SO_PEERCRED), the address of a
/// network peer, the DN of its certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub pid: Option<i32>,
    pub user_name: Option<String>,
    pub group_name: Option<String>,
    /// A network peer's address as libvirt prints it: "IP;PORT".
    pub sock_addr: Option<String>,
    pub x509_dname: Option<String>,
    pub sasl_user: Option<String>,
}

impl Identity {
    /// The identity of a unix socket's peer.
    pub fn unix(uid: u32, gid: u32, pid: Option<i32>) -> Identity {
        Identity {
            uid: Some(uid),
            gid: Some(gid),
            pid,
            user_name: user_name(uid),
            group_name: group_name(gid),
            ..Default::default()
        }
    }

    /// The identity of a TCP peer (libvirt's virSocketAddrFormatFull with
    /// ";" between address and port).
    pub fn network(peer: &std::net::SocketAddr) -> Identity {
        Identity {
            sock_addr: Some(format!("{};{}", peer.ip().to_canonical(), peer.port())),
            ..Default::default()
        }
    }
}

/// What the listener knows of a client when it hands it over.
#[derive(Debug, Clone)]
pub struct Peer {
    pub transport: Transport,
    pub readonly: bool,
    /// Every call but AUTH_LIST is refused (a TCP client from outside
    /// the host while auth_tcp is "none").
    pub auth_refused: bool,
    pub identity: Identity,
    /// The client came in on the admin socket.
    pub admin: bool,
}

fn user_name(uid: u32) -> Option<String> {
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut res: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to a live local buffer of the given size.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut res) };
    if rc != 0 || res.is_null() || pw.pw_name.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r succeeded, so pw_name is a C string in `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

fn group_name(gid: u32) -> Option<String> {
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut res: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer refers to a live local buffer of the given size.
    let rc = unsafe { libc::getgrgid_r(gid, &mut gr, buf.as_mut_ptr(), buf.len(), &mut res) };
    if rc != 0 || res.is_null() || gr.gr_name.is_null() {
        return None;
    }
    // SAFETY: getgrgid_r succeeded, so gr_name is a C string in `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(gr.gr_name) };
    Some(name.to_string_lossy().into_owned())
}

/// The groups of a user (its primary group and the supplementary ones),
/// with their names, for rules naming a group.
pub fn user_groups(name: &str, gid: u32) -> Vec<(u32, Option<String>)> {
    let Ok(cname) = std::ffi::CString::new(name) else {
        return vec![(gid, group_name(gid))];
    };
    let mut n: libc::c_int = 64;
    for _ in 0..4 {
        let mut v = vec![0 as libc::gid_t; n as usize];
        let mut want = n;
        // SAFETY: `v` holds `n` entries; getgrouplist writes at most that
        // many and says how many it needs in `want`.
        let rc = unsafe { libc::getgrouplist(cname.as_ptr(), gid, v.as_mut_ptr(), &mut want) };
        if rc >= 0 {
            v.truncate(want.max(0) as usize);
            return v.into_iter().map(|g| (g, group_name(g))).collect();
        }
        n = want.clamp(n + 1, 65536);
    }
    vec![(gid, group_name(gid))]
}

/// A connected client, as virt-admin lists it.
pub struct ClientEntry {
    pub id: u64,
    /// Seconds since the epoch when it connected.
    pub timestamp: i64,
    pub transport: Transport,
    pub readonly: bool,
    pub identity: Identity,
    out: Outbox,
}

impl ClientEntry {
    /// Disconnects the client (virt-admin's client-disconnect).
    pub fn close(&self) {
        self.out.close()
    }
}

/// A worker pool: at most `max` calls run at once (on tokio's blocking
/// pool); `min` is the floor libvirt keeps alive and reports.
pub struct Pool {
    sem: Arc<Semaphore>,
    max: AtomicUsize,
    min: AtomicUsize,
    /// Calls waiting for a worker.
    queued: AtomicUsize,
}

impl Pool {
    fn new(min: usize, max: usize) -> Pool {
        let max = max.max(1);
        Pool {
            sem: Arc::new(Semaphore::new(max)),
            max: AtomicUsize::new(max),
            min: AtomicUsize::new(min.min(max)),
            queued: AtomicUsize::new(0),
        }
    }

    /// Waits for a worker.
    pub async fn acquire(&self) -> Option<OwnedSemaphorePermit> {
        self.queued.fetch_add(1, Ordering::Relaxed);
        let p = self.sem.clone().acquire_owned().await.ok();
        self.queued.fetch_sub(1, Ordering::Relaxed);
        p
    }

    /// Workers running a call, and how many may.
    pub fn in_use(&self) -> (usize, usize) {
        let max = self.max.load(Ordering::Relaxed);
        (max.saturating_sub(self.sem.available_permits()), max)
    }

    /// libvirt's six threadpool figures: minWorkers, maxWorkers,
    /// nWorkers (the workers alive: the floor, or more while busy),
    /// freeWorkers, prioWorkers (oxvirtd has no priority pool: 0) and
    /// jobQueueDepth (calls waiting for a worker).
    pub fn figures(&self) -> [(&'static str, u32); 6] {
        let (busy, max) = self.in_use();
        let min = self.min.load(Ordering::Relaxed);
        let n = min.max(busy).min(max.max(busy));
        let c = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        [
            ("minWorkers", c(min)),
            ("maxWorkers", c(max)),
            ("nWorkers", c(n)),
            ("freeWorkers", c(n - busy.min(n))),
            ("prioWorkers", 0),
            ("jobQueueDepth", c(self.queued.load(Ordering::Relaxed))),
        ]
    }

    /// Changes the limits (None keeps one), with libvirt's
    /// virThreadPoolSetParameters checks.
    pub fn set(&self, min: Option<usize>, max: Option<usize>) -> Result<(), &'static str> {
        let have = self.max.load(Ordering::Relaxed);
        let new_max = max.unwrap_or(have);
        let new_min = min.unwrap_or(self.min.load(Ordering::Relaxed));
        if new_min > new_max {
            return Err("minWorkers cannot be larger than maxWorkers");
        }
        if max == Some(0) {
            return Err("maxWorkers must not be switched from zero to non-zero and vice versa");
        }
        if let Some(m) = min {
            self.min.store(m, Ordering::Relaxed);
        }
        if max.is_some() {
            self.resize(new_max);
        }
        Ok(())
    }

    /// Sets the number of workers: at once when growing; when shrinking,
    /// the surplus is taken back as running calls return it.
    pub fn resize(&self, want: usize) {
        let want = want.max(1);
        let have = self.max.swap(want, Ordering::Relaxed);
        if want > have {
            self.sem.add_permits(want - have);
        } else if want < have {
            let sem = self.sem.clone();
            let n = u32::try_from(have - want).unwrap_or(u32::MAX);
            tokio::spawn(async move {
                if let Ok(p) = sem.acquire_many_owned(n).await {
                    p.forget();
                }
            });
        }
    }
}

/// One server of the daemon (libvirt's virNetServer).
pub struct NetServer {
    pub name: &'static str,
    pub pool: Pool,
    clients: Mutex<Vec<Arc<ClientEntry>>>,
    next_id: std::sync::atomic::AtomicU64,
    pub max_clients: AtomicUsize,
    /// max_anonymous_clients: clients between accept and the end of
    /// their authentication.
    pub max_unauth: AtomicUsize,
    pub unauth: AtomicUsize,
}

impl NetServer {
    pub fn new(
        name: &'static str,
        min_workers: usize,
        max_workers: usize,
        max_clients: usize,
        max_unauth: usize,
    ) -> NetServer {
        NetServer {
            name,
            pool: Pool::new(min_workers, max_workers),
            clients: Mutex::new(Vec::new()),
            next_id: std::sync::atomic::AtomicU64::new(1),
            max_clients: AtomicUsize::new(max_clients),
            max_unauth: AtomicUsize::new(max_unauth),
            unauth: AtomicUsize::new(0),
        }
    }

    pub fn client_count(&self) -> usize {
        lock(&self.clients).len()
    }

    /// Registers a new client, or None when the server is full.
    pub fn add_client(&self, peer: &Peer, out: Outbox) -> Option<Arc<ClientEntry>> {
        let mut v = lock(&self.clients);
        if v.len() >= self.max_clients.load(Ordering::Relaxed) {
            return None;
        }
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let e = Arc::new(ClientEntry {
            id: self
                .next_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            timestamp,
            transport: peer.transport,
            readonly: peer.readonly,
            identity: peer.identity.clone(),
            out,
        });
        v.push(e.clone());
        Some(e)
    }

    /// Unregisters a client; the number left.
    pub fn remove_client(&self, id: u64) -> usize {
        let mut v = lock(&self.clients);
        v.retain(|c| c.id != id);
        v.len()
    }

    pub fn clients(&self) -> Vec<Arc<ClientEntry>> {
        lock(&self.clients).clone()
    }

    pub fn client(&self, id: u64) -> Option<Arc<ClientEntry>> {
        lock(&self.clients).iter().find(|c| c.id == id).cloned()
    }

    /// libvirt's virNetServerSetClientLimits.
    pub fn set_client_limits(
        &self,
        max: Option<usize>,
        max_unauth: Option<usize>,
    ) -> Result<(), &'static str> {
        let m = max.unwrap_or(self.max_clients.load(Ordering::Relaxed));
        let u = max_unauth.unwrap_or(self.max_unauth.load(Ordering::Relaxed));
        if m < u {
            return Err(
                "The overall maximum number of clients waiting for authentication \
                        must not be less than the overall maximum number of clients",
            );
        }
        if let Some(m) = max {
            self.max_clients.store(m, Ordering::Relaxed);
        }
        if let Some(u) = max_unauth {
            self.max_unauth.store(u, Ordering::Relaxed);
        }
        Ok(())
    }
}
