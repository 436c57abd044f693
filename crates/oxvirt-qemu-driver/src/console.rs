//! `virDomainOpenConsole`: a serial or console on a pty, carried over the
//! daemon's stream. The stream opens the pty's slave side (the path the
//! live XML shows) and never blocks for long: `recv` waits at most
//! [`POLL_MS`] and returns an empty chunk when the guest is quiet, as the
//! daemon's stream layer requires.
//!
//! One console session per pty at a time, as libvirt: a second open fails
//! with "Active console session exists for this domain" unless it is
//! forced, in which case the older session ends (its stream reaches EOF).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use oxvirt_core::error::{code, from};
use oxvirt_core::types::DomainRef;
use oxvirt_core::{Error, Result, Stream};

use crate::driver::{check_flags, lock, Driver};
use crate::FROM;

/// VIR_DOMAIN_CONSOLE_FORCE
pub const CONSOLE_FORCE: u32 = 1;
/// VIR_DOMAIN_CONSOLE_SAFE
pub const CONSOLE_SAFE: u32 = 2;

/// How long `recv` waits for guest output before returning empty.
const POLL_MS: i32 = 50;

/// Open console sessions by pty path: their "closed" flags.
static SESSIONS: Mutex<Vec<(String, Arc<AtomicBool>)>> = Mutex::new(Vec::new());

/// A character device as the console lookup sees it.
struct Chr {
    kind: String,
    alias: String,
    stype: String,
    path: Option<String>,
}

fn chardevs(def: &oxvirt_xml::domain::Domain) -> Vec<Chr> {
    let c = &def.devices.chardevs;
    let mut out = Vec::new();
    for list in [&c.consoles, &c.serials, &c.parallels, &c.channels] {
        for (i, d) in list.iter().enumerate() {
            let alias =
                d.el.child("alias")
                    .and_then(|a| a.attr("name"))
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{}{}", d.kind, i));
            out.push(Chr {
                kind: d.kind.clone(),
                alias,
                stype: d.source.stype.clone(),
                path: d.source.path.clone(),
            });
        }
    }
    out
}

/// The pty path of the character device `dev_name` names (or of the
/// first console, else the first serial port), as libvirt picks it.
fn find_pty(devs: &[Chr], dev_name: Option<&str>) -> Result<String> {
    let chosen = match dev_name {
        Some(d) => devs.iter().find(|c| c.alias == d),
        None => devs
            .iter()
            .find(|c| c.kind == "console")
            .or_else(|| devs.iter().find(|c| c.kind == "serial")),
    };
    let Some(c) = chosen else {
        return Err(Error::new(
            code::INTERNAL_ERROR,
            FROM,
            format!(
                "cannot find character device {}",
                dev_name.unwrap_or("<null>")
            ),
        ));
    };
    let name = dev_name.unwrap_or(c.alias.as_str());
    if c.stype != "pty" {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            FROM,
            format!("character device {} is not using a PTY", name),
        ));
    }
    c.path.clone().ok_or_else(|| {
        Error::new(
            code::OPERATION_FAILED,
            FROM,
            format!("character device {} is not using a PTY", name),
        )
    })
}

impl Driver {
    pub fn open_console(
        &self,
        dom: &DomainRef,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<Box<dyn Stream>> {
        check_flags(flags, CONSOLE_FORCE | CONSOLE_SAFE, "qemuDomainOpenConsole")?;
        let path = {
            let st = self.read(dom)?;
            let obj = st.dom(dom)?;
            obj.check_active()?;
            find_pty(&chardevs(&obj.def), dev_name)?
        };
        let closed = Arc::new(AtomicBool::new(false));
        {
            let mut s = lock(&SESSIONS);
            s.retain(|(_, c)| !c.load(Ordering::SeqCst));
            if let Some(i) = s.iter().position(|(p, _)| *p == path) {
                if flags & CONSOLE_FORCE == 0 {
                    return Err(Error::new(
                        code::OPERATION_FAILED,
                        FROM,
                        "Active console session exists for this domain",
                    ));
                }
                s[i].1.store(true, Ordering::SeqCst);
                s.remove(i);
            }
            s.push((path.clone(), closed.clone()));
        }
        match PtyStream::open(&path, closed.clone()) {
            Ok(p) => Ok(Box::new(p)),
            Err(e) => {
                closed.store(true, Ordering::SeqCst);
                Err(e)
            }
        }
    }
}

/// A console session on a pty.
pub struct PtyStream {
    fd: OwnedFd,
    closed: Arc<AtomicBool>,
}

impl PtyStream {
    fn open(path: &str, closed: Arc<AtomicBool>) -> Result<PtyStream> {
        let c = std::ffi::CString::new(path)
            .map_err(|_| Error::internal(FROM, "pty path contains NUL"))?;
        // SAFETY: c is a valid C string; the fd is owned below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(Error::system(
                from::STREAMS,
                format!("Unable to open tty {}", path),
                &std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: fd was just opened and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // Raw mode, as libvirt's console streams set it.
        // SAFETY: termios is plain data, filled by tcgetattr.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd.as_raw_fd(), &mut t) == 0 {
                libc::cfmakeraw(&mut t);
                libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &t);
            }
        }
        Ok(PtyStream { fd, closed })
    }

    fn poll(&self, events: libc::c_short, ms: i32) -> libc::c_short {
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events,
            revents: 0,
        };
        // SAFETY: p is a valid pollfd for the call.
        let rc = unsafe { libc::poll(&mut p, 1, ms) };
        if rc <= 0 {
            0
        } else {
            p.revents
        }
    }
}

impl Drop for PtyStream {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
    }
}

impl Stream for PtyStream {
    fn recv(&mut self) -> Result<Option<Vec<u8>>> {
        if self.closed.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let rev = self.poll(libc::POLLIN, POLL_MS);
        if rev == 0 {
            return Ok(Some(Vec::new()));
        }
        let mut buf = vec![0u8; 64 * 1024];
        // SAFETY: buf is writable for its length.
        let n = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
            )
        };
        if n > 0 {
            buf.truncate(n as usize);
            return Ok(Some(buf));
        }
        if n < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => return Ok(Some(Vec::new())),
                // The other side (QEMU) went away.
                Some(libc::EIO) => {}
                _ => return Err(Error::system(from::STREAMS, "cannot read from console", &e)),
            }
        }
        self.closed.store(true, Ordering::SeqCst);
        Ok(None)
    }

    fn send(&mut self, data: &[u8]) -> Result<()> {
        let mut off = 0;
        while off < data.len() {
            if self.closed.load(Ordering::SeqCst) {
                return Err(Error::new(code::RPC, from::STREAMS, "stream is closed"));
            }
            // SAFETY: the slice is readable for its length.
            let n = unsafe {
                libc::write(
                    self.fd.as_raw_fd(),
                    data[off..].as_ptr() as *const libc::c_void,
                    data.len() - off,
                )
            };
            if n > 0 {
                off += n as usize;
                continue;
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => {
                    self.poll(libc::POLLOUT, POLL_MS);
                }
                _ => return Err(Error::system(from::STREAMS, "cannot write to console", &e)),
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.closed.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn abort(&mut self) -> Result<()> {
        self.closed.store(true, Ordering::SeqCst);
        Ok(())
    }
}
