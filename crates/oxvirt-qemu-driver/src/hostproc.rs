//! Host processes: CPU times, liveness checked against the start time,
//! signals through pidfds, and QEMU spawned with held descriptors (the
//! low-level part of process control; `process.rs` runs domains on it).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use oxvirt_core::{Error, Result};

use crate::FROM;

/// CPU time of a process in nanoseconds (utime + stime).
pub(crate) fn cpu_time(pid: i32) -> u64 {
    let (u, s) = cpu_user_system(pid);
    u + s
}

/// `(user, system)` CPU time of a process in nanoseconds.
pub(crate) fn cpu_user_system(pid: i32) -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", pid)) else {
        return (0, 0);
    };
    // Fields after the parenthesised command name.
    let Some(i) = stat.rfind(')') else {
        return (0, 0);
    };
    let f: Vec<&str> = stat[i + 1..].split_whitespace().collect();
    let tick = {
        // SAFETY: sysconf has no preconditions.
        let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if t <= 0 {
            100
        } else {
            t as u64
        }
    };
    let get = |n: usize| f.get(n).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime is field 14 of stat, index 11 after the name; stime next.
    let ns = 1_000_000_000 / tick;
    (get(11) * ns, get(12) * ns)
}

/// True when `pid` is a live QEMU process.
pub(crate) fn qemu_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{}/stat", pid)) {
        Ok(s) => {
            let zombie = s
                .rfind(')')
                .and_then(|i| s[i + 1..].split_whitespace().next())
                .is_some_and(|st| st == "Z");
            !zombie
        }
        Err(_) => false,
    }
}

/// Sends `sig` to `pid` and waits up to `wait` for it to exit. True when
/// it has exited.
pub(crate) fn kill_wait(pid: i32, sig: i32, wait: Duration) -> bool {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    // SAFETY: plain syscall on a pid we own or adopted.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc != 0 {
        if pidfd >= 0 {
            // SAFETY: closing the fd we opened.
            unsafe { libc::close(pidfd) };
        }
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    if pidfd < 0 {
        let deadline = std::time::Instant::now() + wait;
        while std::time::Instant::now() < deadline {
            if !qemu_alive(pid) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        return !qemu_alive(pid);
    }
    let mut pfd = libc::pollfd {
        fd: pidfd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = wait.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: pfd is a valid pollfd for the call's duration.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    // SAFETY: closing the fd we opened.
    unsafe { libc::close(pidfd) };
    n > 0
}

/// The start time of process `pid`: field 22 of /proc/PID/stat, in
/// clock ticks since boot. Together with the pid it names one process
/// for ever (a recycled pid has a later start time).
pub(crate) fn start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid)).ok()?;
    let i = stat.rfind(')')?;
    // Field 3 (state) is the first after the name; field 22 the 20th.
    stat[i + 1..].split_whitespace().nth(19)?.parse().ok()
}

/// True when `pid` is alive (not a zombie) and, when `start` is known
/// (non-zero), still the process that started then.
pub(crate) fn same_process_alive(pid: i32, start: u64) -> bool {
    qemu_alive(pid) && (start == 0 || start_time(pid) == Some(start))
}

/// Sends `sig` to `pid`, but only while it is still the process that
/// started at `start` (0: not checked), and waits up to `wait` for it
/// to go. The pidfd is opened before the start time is compared, so the
/// signal cannot reach a process that took the pid over in between.
/// True when that process is gone.
pub(crate) fn signal_verified(pid: i32, start: u64, sig: i32, wait: Duration) -> bool {
    if pid <= 0 {
        return true;
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    if fd < 0 {
        if std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
            return true;
        }
        // No pidfds: compare, then signal (a narrow window remains).
        if !same_process_alive(pid, start) {
            return true;
        }
        return kill_wait(pid, sig, wait);
    }
    // SAFETY: we own `fd` from here on.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    if !same_process_alive(pid, start) {
        return true;
    }
    // SAFETY: pidfd_send_signal on our pidfd, no siginfo.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc != 0 {
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = wait.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: pfd is a valid pollfd for the call's duration.
    unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
}

/// A child process of ours, reaped by pid.
pub(crate) struct ChildPid(pub i32);

impl ChildPid {
    /// Waits for the child to exit and reaps it.
    pub fn wait(&self) {
        loop {
            let mut status = 0;
            // SAFETY: waitpid on our own child.
            let r = unsafe { libc::waitpid(self.0, &mut status, 0) };
            if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return;
            }
        }
    }
}

/// A QEMU forked and held before exec: it runs QEMU only after
/// `release`, once the status file naming it exists. If the daemon dies
/// (or drops this) first, the child reads EOF and exits without ever
/// running QEMU (libvirt's handshake in virExec).
pub(crate) struct HeldChild {
    pub pid: i32,
    go: Option<OwnedFd>,
    err: Option<OwnedFd>,
}

impl HeldChild {
    /// Lets the child exec QEMU and waits until it has (its exec-error
    /// pipe closes) or has failed to (the child's errno).
    pub fn release(mut self) -> std::io::Result<()> {
        if let Some(go) = self.go.take() {
            let b = [b'g'];
            // SAFETY: writing one byte from a live buffer to our pipe.
            let n = unsafe { libc::write(go.as_raw_fd(), b.as_ptr().cast(), 1) };
            if n != 1 {
                let e = std::io::Error::last_os_error();
                drop(go);
                ChildPid(self.pid).wait();
                return Err(e);
            }
        }
        let Some(err) = self.err.take() else {
            return Ok(());
        };
        let mut buf = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            // SAFETY: reading into the unfilled part of a live buffer.
            let n = unsafe { libc::read(err.as_raw_fd(), buf[got..].as_mut_ptr().cast(), 4 - got) };
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            if n <= 0 {
                break;
            }
            got += n as usize;
        }
        if got == 4 {
            ChildPid(self.pid).wait();
            return Err(std::io::Error::from_raw_os_error(i32::from_ne_bytes(buf)));
        }
        Ok(())
    }
}

impl Drop for HeldChild {
    /// Not released: the child sees EOF and exits; reap it.
    fn drop(&mut self) {
        if self.go.take().is_some() {
            ChildPid(self.pid).wait();
        }
    }
}

/// `pipe2(O_CLOEXEC)`: (read end, write end).
pub(crate) fn pipe_cloexec() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds has room for the two descriptors pipe2 returns.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors are new and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The executable `name` designates (a path, or a name searched in PATH).
pub(crate) fn resolve_exe(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The first descriptor number of `spawn_held`'s extra descriptors.
pub(crate) const EXTRA_FD: RawFd = 7;

/// Forks QEMU's process and holds it before exec (see `HeldChild`).
/// The child gets /dev/null as stdin, `log` as stdout and stderr,
/// `fds[0]` as fd 3 and `fds[1]` (if given) as fd 4, `extra[i]` as fd
/// `EXTRA_FD + i` (NIC taps), a new session, the
/// default signal dispositions and mask, and no other descriptor: every
/// inherited one is closed before it waits, so it never keeps another
/// child's start pipe open (which would keep that child waiting after
/// the daemon died).
pub(crate) fn spawn_held(
    argv: &[String],
    log: &std::fs::File,
    fds: &[RawFd],
    extra: &[RawFd],
) -> Result<HeldChild> {
    let cannot =
        |e: std::io::Error| Error::system(FROM, format!("Cannot run QEMU binary {}", argv[0]), &e);
    let exe = resolve_exe(&argv[0])
        .ok_or_else(|| cannot(std::io::Error::from_raw_os_error(libc::ENOENT)))?;
    let cstr = |b: &[u8]| {
        CString::new(b).map_err(|_| cannot(std::io::Error::from_raw_os_error(libc::EINVAL)))
    };
    let exe = cstr(exe.as_os_str().as_bytes())?;
    let args = argv
        .iter()
        .map(|a| cstr(a.as_bytes()))
        .collect::<Result<Vec<_>>>()?;
    let mut env = Vec::new();
    for (k, v) in std::env::vars_os() {
        if k == "LC_ALL" || k == PAUSE_ENV {
            continue;
        }
        let mut kv = k.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        if let Ok(c) = CString::new(kv) {
            env.push(c);
        }
    }
    env.push(cstr(b"LC_ALL=C")?);
    let mut argp: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argp.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());

    let null = std::fs::File::open("/dev/null").map_err(cannot)?;
    let (go_r, go_w) = pipe_cloexec().map_err(cannot)?;
    let (err_r, err_w) = pipe_cloexec().map_err(cannot)?;
    // What the child's descriptors 0 to 6 become.
    let srcs: [RawFd; 7] = [
        null.as_raw_fd(),
        log.as_raw_fd(),
        log.as_raw_fd(),
        fds.first().copied().unwrap_or(-1),
        fds.get(1).copied().unwrap_or(-1),
        go_r.as_raw_fd(),
        err_w.as_raw_fd(),
    ];
    let max_fd = {
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: rl is a valid rlimit to fill.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } == 0 {
            rl.rlim_cur.min(1 << 20) as RawFd
        } else {
            65536
        }
    };
    let nsig = libc::SIGRTMAX() + 1;
    // SAFETY: sigset_t and sigaction are plain C structs; zeroed is a
    // valid starting value for both.
    let (mut all, mut old, mut empty, mut dfl): (
        libc::sigset_t,
        libc::sigset_t,
        libc::sigset_t,
        libc::sigaction,
    ) = unsafe { std::mem::zeroed() };
    dfl.sa_sigaction = libc::SIG_DFL;
    // SAFETY: initialising the sets we own; blocking every signal in this
    // thread so no inherited handler runs in the child before it resets
    // them (restored right after fork in the parent).
    unsafe {
        libc::sigfillset(&mut all);
        libc::sigemptyset(&mut empty);
        libc::sigemptyset(&mut dfl.sa_mask);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    // SAFETY: fork in a threaded process: the child below only makes
    // async-signal-safe system calls on data prepared above, then execs
    // or _exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: in the child, see above.
        unsafe { held_child(&srcs, extra, max_fd, nsig, &dfl, &empty, &exe, &argp, &envp) }
    }
    let fork_err = std::io::Error::last_os_error();
    // SAFETY: restoring this thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    drop(go_r);
    drop(err_w);
    if pid < 0 {
        return Err(cannot(fork_err));
    }
    Ok(HeldChild {
        pid,
        go: Some(go_w),
        err: Some(err_r),
    })
}

/// The forked child: descriptors in place, everything else closed, then
/// wait for the parent's go (EOF: the parent died or gave up, exit
/// without running QEMU), then exec. Only async-signal-safe calls.
///
/// # Safety
/// Call only in a freshly forked child, with pointers prepared before
/// the fork.
#[allow(clippy::too_many_arguments)]
unsafe fn held_child(
    srcs: &[RawFd; 7],
    extra: &[RawFd],
    max_fd: RawFd,
    nsig: i32,
    dfl: &libc::sigaction,
    empty: &libc::sigset_t,
    exe: &CString,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> ! {
    for sig in 1..nsig {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            libc::sigaction(sig, dfl, std::ptr::null_mut());
        }
    }
    libc::sigprocmask(libc::SIG_SETMASK, empty, std::ptr::null_mut());
    libc::setsid();
    // Copies above the target range first, so no dup2 below can close a
    // source still needed.
    let floor = EXTRA_FD + extra.len() as RawFd + 3;
    let mut tmp = [-1 as RawFd; 7];
    for (t, s) in tmp.iter_mut().zip(srcs) {
        if *s >= 0 {
            *t = libc::fcntl(*s, libc::F_DUPFD, floor);
            if *t < 0 {
                libc::_exit(126);
            }
        }
    }
    // The extra descriptors, copied above the range too, placed after
    // the fixed ones below.
    let mut moved = [-1 as RawFd; 64];
    if extra.len() > moved.len() {
        libc::_exit(126);
    }
    for (m, s) in moved.iter_mut().zip(extra) {
        *m = libc::fcntl(*s, libc::F_DUPFD, floor);
        if *m < 0 {
            libc::_exit(126);
        }
    }
    for (fd, t) in tmp.iter().enumerate() {
        let fd = fd as RawFd;
        if *t >= 0 {
            if libc::dup2(*t, fd) < 0 {
                libc::_exit(126);
            }
        } else {
            libc::close(fd);
        }
    }
    for (i, m) in moved.iter().take(extra.len()).enumerate() {
        if libc::dup2(*m, EXTRA_FD + i as RawFd) < 0 {
            libc::_exit(126);
        }
    }
    // The start pipe and the exec-error pipe close on exec.
    libc::fcntl(5, libc::F_SETFD, libc::FD_CLOEXEC);
    libc::fcntl(6, libc::F_SETFD, libc::FD_CLOEXEC);
    let first_closed = EXTRA_FD + extra.len() as RawFd;
    if libc::syscall(libc::SYS_close_range, first_closed as u32, u32::MAX, 0u32) != 0 {
        for fd in first_closed..max_fd {
            libc::close(fd);
        }
    }
    let mut b = 0u8;
    loop {
        let n = libc::read(5, (&mut b as *mut u8).cast(), 1);
        if n == 1 {
            break;
        }
        if n < 0 && *libc::__errno_location() == libc::EINTR {
            continue;
        }
        libc::_exit(1);
    }
    libc::close(5);
    libc::execve(exe.as_ptr(), argv.as_ptr(), envp.as_ptr());
    let e = (*libc::__errno_location()).to_ne_bytes();
    libc::write(6, e.as_ptr().cast(), 4);
    libc::_exit(127);
}

/// The environment variable of the test hook `Driver::pause_point`.
pub(crate) const PAUSE_ENV: &str = "OXVIRT_PAUSE_AT";

/// The points named in `OXVIRT_PAUSE_AT` (read once).
pub(crate) fn pause_points() -> &'static [String] {
    static POINTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    POINTS.get_or_init(|| {
        std::env::var(PAUSE_ENV)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// Picks a free VNC port from 5900 up.
pub(crate) fn free_vnc_port(listen: &str, taken: &[u16]) -> Option<u16> {
    (5900u16..6900)
        .filter(|p| !taken.contains(p))
        .find(|p| std::net::TcpListener::bind((listen, *p)).is_ok())
}

pub(crate) fn log_tail(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("oxvirt:"))
        .collect();
    let n = lines.len();
    lines[n.saturating_sub(5)..].join("\n")
}

/// The host's name (gethostname(2)), "localhost" when it has none.
pub(crate) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
