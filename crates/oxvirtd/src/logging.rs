//! The daemon's log as libvirt configures its own: a default priority
//! (`log_level`, 1 debug .. 4 error), filters (`log_filters`: "LEVEL:MATCH"
//! raising or lowering the priority of the sources whose name contains
//! MATCH) and outputs (`log_outputs`: "LEVEL:stderr", "LEVEL:file:PATH",
//! "LEVEL:syslog:IDENT", "LEVEL:journald"), with libvirt's syntax, errors
//! and printed forms, changeable while running (virt-admin's
//! daemon-log-filters and daemon-log-outputs, SIGHUP). The environment's
//! LIBVIRT_DEBUG, LIBVIRT_LOG_FILTERS and LIBVIRT_LOG_OUTPUTS win over the
//! configuration, as with libvirtd.
//!
//! A tracing event's source is its target, the module path written as
//! libvirt writes its module names (`oxvirt_qemu_driver.process` for
//! `oxvirt_qemu_driver::process`, as libvirt has `util.file`); its
//! priority is 1 for TRACE and DEBUG, 2 INFO, 3 WARN, 4 ERROR.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use oxvirt_core::error::{code, from};
use oxvirt_core::Error;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub priority: u8,
    pub matches: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    Stderr,
    File(String),
    Syslog(String),
    Journald,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub priority: u8,
    pub dest: Dest,
}

fn bad(msg: String) -> Error {
    Error::new(code::INVALID_ARG, from::NONE, msg)
}

fn priority(s: &str) -> Option<u8> {
    s.parse::<u8>().ok().filter(|p| (1..=4).contains(p))
}

/// virLogParseFilters: space-separated "LEVEL:MATCH" (a leading '+' on
/// MATCH, once a stack-trace flag, is dropped).
pub fn parse_filters(src: &str) -> Result<Vec<Filter>, Error> {
    let mut out = Vec::new();
    for f in src.split(' ').filter(|s| !s.is_empty()) {
        let toks: Vec<&str> = f.split(':').collect();
        if toks.len() < 2 {
            return Err(bad(format!("Malformed format for filter '{}'", f)));
        }
        let p = priority(toks[0])
            .ok_or_else(|| bad(format!("Invalid priority '{}' for filter '{}'", toks[0], f)))?;
        let m = toks[1].strip_prefix('+').unwrap_or(toks[1]);
        if m.is_empty() {
            return Err(bad(format!("Invalid match string '{}'", toks[1])));
        }
        out.push(Filter {
            priority: p,
            matches: m.to_string(),
        });
    }
    Ok(out)
}

/// virLogParseOutputs: space-separated outputs; a later output to the
/// same destination replaces an earlier one.
pub fn parse_outputs(src: &str) -> Result<Vec<Output>, Error> {
    let mut out: Vec<Output> = Vec::new();
    for o in src.split(' ').filter(|s| !s.is_empty()) {
        let toks: Vec<&str> = o.split(':').collect();
        if toks.len() < 2 {
            return Err(bad(format!("Malformed format for log output '{}'", o)));
        }
        let p = priority(toks[0]).ok_or_else(|| {
            bad(format!(
                "Invalid log priority '{}' for log output '{}'",
                toks[0], o
            ))
        })?;
        let want = match toks[1] {
            "stderr" | "journald" => 2,
            "file" | "syslog" => 3,
            d => {
                return Err(bad(format!(
                    "Invalid log destination '{}' for log output '{}'",
                    d, o
                )))
            }
        };
        if toks.len() != want {
            return Err(bad(format!(
                "Log output '{}' does not meet the format requirements for destination type '{}'",
                o, toks[1]
            )));
        }
        let dest = match toks[1] {
            "stderr" => Dest::Stderr,
            "journald" => Dest::Journald,
            "syslog" => Dest::Syslog(toks[2].to_string()),
            _ => Dest::File(absolute(toks[2])),
        };
        out.retain(|x| x.dest != dest);
        out.push(Output { priority: p, dest });
    }
    Ok(out)
}

/// g_canonicalize_filename: relative paths are taken from the working
/// directory; "." and ".." are folded.
fn absolute(p: &str) -> String {
    let base = if p.starts_with('/') {
        std::path::PathBuf::from("/")
    } else {
        std::env::current_dir().unwrap_or_else(|_| "/".into())
    };
    let mut parts: Vec<String> = Vec::new();
    for c in base.join(p).components() {
        use std::path::Component::*;
        match c {
            Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

/// virLogGetFilters: each filter followed by a space.
pub fn format_filters(f: &[Filter]) -> String {
    f.iter().fold(String::new(), |mut s, f| {
        let _ = write!(s, "{}:{} ", f.priority, f.matches);
        s
    })
}

/// virLogGetOutputs: outputs separated by spaces.
pub fn format_outputs(o: &[Output]) -> String {
    o.iter()
        .map(|o| match &o.dest {
            Dest::Stderr => format!("{}:stderr", o.priority),
            Dest::Journald => format!("{}:journald", o.priority),
            Dest::File(p) => format!("{}:file:{}", o.priority, p),
            Dest::Syslog(id) => format!("{}:syslog:{}", o.priority, id),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// An output with its open file or socket.
enum Sink {
    Stderr,
    File(std::fs::File),
    Syslog(std::ffi::CString),
    Journald(std::os::unix::net::UnixDatagram),
    /// A destination that could not be opened: dropped.
    None,
}

struct State {
    level: u8,
    filters: Vec<Filter>,
    outputs: Vec<Output>,
    sinks: Vec<(u8, Mutex<Sink>)>,
}

/// The log settings in force, shared by the tracing layer and the admin
/// interface.
#[derive(Clone)]
pub struct LogControl {
    state: Arc<RwLock<State>>,
    /// The most verbose priority any filter or the default lets through:
    /// events below it are dropped without taking the lock.
    floor: Arc<AtomicU8>,
    /// The outputs an empty definition resets to.
    default_outputs: Arc<Vec<Output>>,
}

fn open(o: &Output) -> Sink {
    match &o.dest {
        Dest::Stderr => Sink::Stderr,
        Dest::File(p) => match std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(p)
        {
            Ok(f) => Sink::File(f),
            Err(e) => {
                eprintln!("failed to open {}: {}", p, e);
                Sink::None
            }
        },
        Dest::Syslog(id) => match std::ffi::CString::new(id.as_str()) {
            Ok(c) => Sink::Syslog(c),
            Err(_) => Sink::None,
        },
        Dest::Journald => match std::os::unix::net::UnixDatagram::unbound() {
            Ok(s) => Sink::Journald(s),
            Err(_) => Sink::None,
        },
    }
}

impl LogControl {
    /// `level`: libvirt's log_level (1..4); `outputs`: the outputs
    /// defined (none: `default`, which an empty definition also restores).
    pub fn new(
        level: u8,
        filters: Vec<Filter>,
        outputs: Vec<Output>,
        default: Vec<Output>,
    ) -> LogControl {
        let c = LogControl {
            state: Arc::new(RwLock::new(State {
                level,
                filters: Vec::new(),
                outputs: Vec::new(),
                sinks: Vec::new(),
            })),
            floor: Arc::new(AtomicU8::new(level)),
            default_outputs: Arc::new(default),
        };
        c.set_filters(filters);
        c.set_outputs(outputs);
        c
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn refloor(&self, st: &State) {
        let f = st
            .filters
            .iter()
            .map(|f| f.priority)
            .chain([st.level])
            .min()
            .unwrap_or(st.level);
        self.floor.store(f, Ordering::Relaxed);
    }

    pub fn set_level(&self, level: u8) {
        let mut st = self.write();
        st.level = level;
        self.refloor(&st);
    }

    pub fn set_filters(&self, filters: Vec<Filter>) {
        let mut st = self.write();
        st.filters = filters;
        self.refloor(&st);
    }

    /// Replaces the outputs (none: the default ones).
    pub fn set_outputs(&self, outputs: Vec<Output>) {
        let outputs = if outputs.is_empty() {
            (*self.default_outputs).clone()
        } else {
            outputs
        };
        let sinks = outputs
            .iter()
            .map(|o| (o.priority, Mutex::new(open(o))))
            .collect();
        let mut st = self.write();
        st.outputs = outputs;
        st.sinks = sinks;
    }

    pub fn filters(&self) -> Vec<Filter> {
        self.read().filters.clone()
    }

    pub fn outputs(&self) -> Vec<Output> {
        self.read().outputs.clone()
    }

    /// The priority a source's messages need.
    fn threshold(st: &State, target: &str) -> u8 {
        st.filters
            .iter()
            .find(|f| target.contains(&f.matches))
            .map(|f| f.priority)
            .unwrap_or(st.level)
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        let p = prio(meta.level());
        if p < self.floor.load(Ordering::Relaxed) {
            return false;
        }
        p >= Self::threshold(&self.read(), &source(meta.target()))
    }

    fn emit(&self, meta: &Metadata<'_>, msg: &str) {
        let p = prio(meta.level());
        let st = self.read();
        let source = source(meta.target());
        if p < Self::threshold(&st, &source) {
            return;
        }
        let name = match p {
            1 => "debug",
            2 => "info",
            3 => "warning",
            _ => "error",
        };
        let line = format!(
            "{}: {}: {} : {} : {}\n",
            timestamp(),
            unsafe { libc::gettid() },
            name,
            source,
            msg
        );
        for (min, sink) in &st.sinks {
            if p < *min {
                continue;
            }
            let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
            match &mut *sink {
                Sink::Stderr => {
                    let _ = std::io::stderr().write_all(line.as_bytes());
                }
                Sink::File(f) => {
                    let _ = f.write_all(line.as_bytes());
                }
                Sink::Syslog(id) => {
                    let level = match p {
                        1 => libc::LOG_DEBUG,
                        2 => libc::LOG_INFO,
                        3 => libc::LOG_WARNING,
                        _ => libc::LOG_ERR,
                    };
                    if let Ok(m) = std::ffi::CString::new(msg.replace('\0', " ")) {
                        // SAFETY: both strings are NUL-terminated and live
                        // across the calls; "%s" takes the one argument.
                        unsafe {
                            libc::openlog(id.as_ptr(), 0, libc::LOG_DAEMON);
                            libc::syslog(level, c"%s".as_ptr(), m.as_ptr());
                        }
                    }
                }
                Sink::Journald(sock) => {
                    let level = match p {
                        1 => 7,
                        2 => 6,
                        3 => 4,
                        _ => 3,
                    };
                    let mut d = format!(
                        "PRIORITY={}\nSYSLOG_IDENTIFIER=oxvirtd\nLIBVIRT_SOURCE={}\n",
                        level,
                        source.replace('\n', " ")
                    )
                    .into_bytes();
                    // MESSAGE in the binary form, so newlines are kept.
                    d.extend_from_slice(b"MESSAGE\n");
                    d.extend_from_slice(&(msg.len() as u64).to_le_bytes());
                    d.extend_from_slice(msg.as_bytes());
                    d.push(b'\n');
                    let _ = sock.send_to(&d, "/run/systemd/journal/socket");
                }
                Sink::None => {}
            }
        }
    }
}

/// A target as a libvirt module name.
fn source(target: &str) -> String {
    target.replace("::", ".")
}

fn prio(l: &Level) -> u8 {
    match *l {
        Level::TRACE | Level::DEBUG => 1,
        Level::INFO => 2,
        Level::WARN => 3,
        _ => 4,
    }
}

/// "2026-12-07 23:16:28.123+0000", as libvirt stamps its log lines.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: gmtime_r writes into the local `tm`.
    unsafe { libc::gmtime_r(&secs, &mut tm) };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}+0000",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_millis()
    )
}

/// Collects an event's message and fields into one line.
#[derive(Default)]
struct Line(String);

impl tracing::field::Visit for Line {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{:?}", value);
            return;
        }
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        let _ = write!(self.0, "{}={:?}", field.name(), value);
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }
}

impl<S: Subscriber> Layer<S> for LogControl {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        // Filters change at run time: ask each time.
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        self.enabled(meta)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut line = Line::default();
        event.record(&mut line);
        self.emit(event.metadata(), &line.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_as_libvirt_parses_and_prints_them() {
        let f = parse_filters("1:qemu  3:+remote").unwrap();
        assert_eq!(format_filters(&f), "1:qemu 3:remote ");
        assert_eq!(parse_filters("").unwrap(), vec![]);
        let e = |s: &str| parse_filters(s).unwrap_err().message;
        assert_eq!(
            e("qemu"),
            "invalid argument: Malformed format for filter 'qemu'"
        );
        assert_eq!(
            e("5:qemu"),
            "invalid argument: Invalid priority '5' for filter '5:qemu'"
        );
        assert_eq!(e("1:+"), "invalid argument: Invalid match string '+'");
    }

    #[test]
    fn outputs_as_libvirt_parses_and_prints_them() {
        let o = parse_outputs("3:stderr 1:file:/tmp/a/../x.log 2:stderr").unwrap();
        assert_eq!(format_outputs(&o), "1:file:/tmp/x.log 2:stderr");
        let e = |s: &str| parse_outputs(s).unwrap_err().message;
        assert_eq!(
            e("3:file"),
            "invalid argument: Log output '3:file' does not meet the format requirements for destination type 'file'"
        );
        assert_eq!(
            e("3:tty"),
            "invalid argument: Invalid log destination 'tty' for log output '3:tty'"
        );
        assert_eq!(
            e("0:stderr"),
            "invalid argument: Invalid log priority '0' for log output '0:stderr'"
        );
        assert_eq!(
            e("stderr"),
            "invalid argument: Malformed format for log output 'stderr'"
        );
    }

    #[test]
    fn first_matching_filter_decides() {
        let c = LogControl::new(
            3,
            parse_filters("1:qemu 4:oxvirt").unwrap(),
            vec![],
            vec![Output {
                priority: 1,
                dest: Dest::Stderr,
            }],
        );
        let st = c.read();
        assert_eq!(
            LogControl::threshold(&st, &source("oxvirt_qemu_driver::process")),
            1
        );
        assert_eq!(LogControl::threshold(&st, &source("oxvirtd::server")), 4);
        assert_eq!(LogControl::threshold(&st, "tokio"), 3);
        drop(st);
        assert_eq!(c.floor.load(Ordering::Relaxed), 1);
        c.set_outputs(vec![]);
        assert_eq!(format_outputs(&c.outputs()), "1:stderr");
    }
}
