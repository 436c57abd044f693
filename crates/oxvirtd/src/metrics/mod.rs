//! The Prometheus endpoint (`oxvirtd --metrics ADDR`).
//!
//! Three parts, so that a scrape never waits for a domain job, a monitor
//! or a driver lock:
//! - [`DaemonMetrics`]: the daemon's own figures (clients, calls per
//!   procedure, call latency, workers, RSS), atomics updated on the call
//!   path and read at scrape time;
//! - [`sample`]: a background task that asks a [`sample::Source`] (the
//!   `qemu:///system` connection, through its public API) for per-domain,
//!   per-pool and per-network figures every few seconds, each guest under
//!   a deadline, and publishes the result as one immutable [`sample::Sample`];
//! - [`http`]: a small hyper server that encodes the last sample and the
//!   daemon figures with prometheus-client.

pub mod http;
pub mod sample;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

/// The metrics port oxvirtd uses when ADDR names none.
pub const DEFAULT_PORT: u16 = 9177;

/// The address `--metrics ADDR` means: `HOST:PORT`, `[V6]:PORT`, `:PORT`
/// or `PORT` (loopback), or `HOST` alone (port 9177). A host name is
/// resolved once, at start.
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let loopback = |port: &str| {
        port.parse::<u16>()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .map_err(|_| format!("invalid metrics port '{}'", port))
    };
    if let Some(port) = s.strip_prefix(':') {
        return loopback(port);
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return loopback(s);
    }
    if let Ok(ip) = s.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    let with_port = if s.contains(':') {
        s.to_string()
    } else {
        format!("{}:{}", s, DEFAULT_PORT)
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve metrics address '{}': {}", s, e))?
        .next()
        .ok_or_else(|| format!("cannot resolve metrics address '{}'", s))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProcLabel {
    procedure: String,
}

/// The daemon's own figures, shared by the call path and the endpoint.
#[derive(Debug)]
pub struct DaemonMetrics {
    registry: Registry,
    calls: Family<ProcLabel, Counter>,
    errors: Family<ProcLabel, Counter>,
    latency: Family<ProcLabel, Histogram, fn() -> Histogram>,
    /// Set at scrape time from the server's counters.
    pub clients: Gauge,
    pub workers_busy: Gauge,
    pub workers_max: Gauge,
    rss: Gauge,
    fds: Gauge,
    /// The sampler's own figures.
    pub sample_duration: Gauge<f64, AtomicU64>,
    pub sample_timeouts: Counter,
}

fn latency_histogram() -> Histogram {
    // 25 µs … ~105 s: a quick in-memory call up to a long save.
    Histogram::new(exponential_buckets(25e-6, 4.0, 12))
}

impl Default for DaemonMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl DaemonMetrics {
    pub fn new() -> DaemonMetrics {
        let mut r = Registry::default();
        let calls = Family::<ProcLabel, Counter>::default();
        let errors = Family::<ProcLabel, Counter>::default();
        let latency = Family::<ProcLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let clients = Gauge::default();
        let workers_busy = Gauge::default();
        let workers_max = Gauge::default();
        let rss = Gauge::default();
        let fds = Gauge::default();
        let sample_duration = Gauge::<f64, AtomicU64>::default();
        let sample_timeouts = Counter::default();
        r.register(
            "oxvirtd_calls",
            "RPC calls answered, by procedure",
            calls.clone(),
        );
        r.register(
            "oxvirtd_call_errors",
            "RPC calls answered with an error, by procedure",
            errors.clone(),
        );
        r.register_with_unit(
            "oxvirtd_call_duration",
            "Time the call's handler took, by procedure",
            Unit::Seconds,
            latency.clone(),
        );
        r.register("oxvirtd_clients", "Connected clients", clients.clone());
        r.register(
            "oxvirtd_workers_busy",
            "Worker threads running a call",
            workers_busy.clone(),
        );
        r.register(
            "oxvirtd_workers_max",
            "Worker threads allowed (max_workers)",
            workers_max.clone(),
        );
        r.register_with_unit(
            "process_resident_memory",
            "Resident memory of the daemon",
            Unit::Bytes,
            rss.clone(),
        );
        r.register(
            "process_open_fds",
            "Open file descriptors of the daemon",
            fds.clone(),
        );
        r.register_with_unit(
            "oxvirtd_metrics_sample_duration",
            "How long the last sampling round took",
            Unit::Seconds,
            sample_duration.clone(),
        );
        r.register(
            "oxvirtd_metrics_sample_timeouts",
            "Guests, pools or network lists whose sampling missed its deadline",
            sample_timeouts.clone(),
        );
        DaemonMetrics {
            registry: r,
            calls,
            errors,
            latency,
            clients,
            workers_busy,
            workers_max,
            rss,
            fds,
            sample_duration,
            sample_timeouts,
        }
    }

    /// Counts one answered call of program `prog`, procedure `proc_`.
    /// Unknown numbers share one label, so a client cannot grow the set.
    pub fn call_done(&self, prog: u32, proc_: i32, took: Duration, failed: bool) {
        let name = if prog == oxvirt_proto::packet::REMOTE_PROGRAM {
            oxvirt_proto::proc_name(proc_).unwrap_or("unknown")
        } else {
            "other_program"
        };
        let l = ProcLabel {
            procedure: name.to_string(),
        };
        self.calls.get_or_create(&l).inc();
        if failed {
            self.errors.get_or_create(&l).inc();
        }
        self.latency.get_or_create(&l).observe(took.as_secs_f64());
    }

    /// Refreshes the process figures (from /proc/self: no lock taken).
    fn refresh_process(&self) {
        if let Ok(s) = std::fs::read_to_string("/proc/self/statm") {
            if let Some(pages) = s
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<i64>().ok())
            {
                // SAFETY: sysconf has no preconditions.
                let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1);
                self.rss.set(pages.saturating_mul(page));
            }
        }
        if let Ok(rd) = std::fs::read_dir("/proc/self/fd") {
            self.fds.set(rd.count() as i64);
        }
    }

    pub fn registry(&self) -> &Registry {
        self.refresh_process();
        &self.registry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_addresses() {
        let lo = |p| SocketAddr::from(([127, 0, 0, 1], p));
        assert_eq!(parse_addr(":9177"), Ok(lo(9177)));
        assert_eq!(parse_addr("9178"), Ok(lo(9178)));
        assert_eq!(parse_addr("127.0.0.1:1"), Ok(lo(1)));
        assert_eq!(parse_addr("[::1]:9000"), Ok("[::1]:9000".parse().unwrap()));
        assert_eq!(parse_addr("0.0.0.0"), Ok("0.0.0.0:9177".parse().unwrap()));
        assert!(parse_addr(":99999").is_err());
        assert!(parse_addr(":x").is_err());
        assert!(parse_addr("localhost:9177").is_ok_and(|a| a.ip().is_loopback()));
    }

    #[test]
    fn calls_are_counted_by_procedure() {
        let m = DaemonMetrics::new();
        let p = oxvirt_proto::packet::REMOTE_PROGRAM;
        m.call_done(
            p,
            oxvirt_proto::procs::DOMAIN_GET_INFO,
            Duration::from_micros(40),
            false,
        );
        m.call_done(
            p,
            oxvirt_proto::procs::DOMAIN_GET_INFO,
            Duration::from_millis(3),
            true,
        );
        m.call_done(p, 99999, Duration::from_millis(1), false);
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, m.registry()).unwrap();
        assert!(
            s.contains("oxvirtd_calls_total{procedure=\"DOMAIN_GET_INFO\"} 2"),
            "{}",
            s
        );
        assert!(
            s.contains("oxvirtd_call_errors_total{procedure=\"DOMAIN_GET_INFO\"} 1"),
            "{}",
            s
        );
        assert!(
            s.contains("oxvirtd_calls_total{procedure=\"unknown\"} 1"),
            "{}",
            s
        );
        assert!(
            s.contains("oxvirtd_call_duration_seconds_count{procedure=\"DOMAIN_GET_INFO\"} 2"),
            "{}",
            s
        );
    }
}
