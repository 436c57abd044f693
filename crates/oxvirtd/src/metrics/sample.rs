//! The background sampler: per-domain, per-pool and per-network figures,
//! refreshed every few seconds and published as one immutable [`Sample`]
//! that scrapes read.
//!
//! The sampler sees the drivers only through [`Source`]; the HTTP side
//! sees only [`Latest`]. Each guest is sampled on a blocking thread under
//! a deadline: what a guest gave before its deadline (state, CPU, memory
//! and job progress come first, then the monitor's block statistics and
//! the tap counters) is published, the rest keeps its last value, and a
//! guest still busy from an earlier round is not asked again until it
//! answers. A stuck monitor therefore costs one thread and never delays a
//! scrape or the other guests.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oxvirt_core::types::{BlockStats, DomainInfo, DomainRef, InterfaceStats, JobInfo};
use oxvirt_core::{Connection, Result};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use tokio::sync::Semaphore;

use super::DaemonMetrics;
use crate::server::lock;

/// Guests sampled at once.
const CONCURRENCY: usize = 8;

/// One disk's counters.
#[derive(Debug, Clone)]
pub struct BlockSample {
    pub target: String,
    pub source: String,
    pub stats: BlockStats,
}

/// One interface's counters.
#[derive(Debug, Clone)]
pub struct IfaceSample {
    pub target: String,
    pub bridge: String,
    pub stats: InterfaceStats,
}

/// What one guest gave in one round.
#[derive(Debug, Clone, Default)]
pub struct DomainSample {
    pub name: String,
    pub uuid: String,
    pub info: Option<DomainInfo>,
    pub job: Option<JobInfo>,
    pub blocks: Vec<BlockSample>,
    pub ifaces: Vec<IfaceSample>,
    /// Unix time of the sample.
    pub at: f64,
    /// Every figure came before the deadline.
    pub complete: bool,
}

#[derive(Debug, Clone)]
pub struct PoolSample {
    pub name: String,
    pub uuid: String,
    pub info: oxvirt_core::types::PoolInfo,
}

#[derive(Debug, Clone)]
pub struct NetSample {
    pub name: String,
    pub uuid: String,
    pub active: bool,
}

/// Where figures come from: the narrow interface between the sampler and
/// the drivers. Every method may block (it runs on a blocking thread).
pub trait Source: Send + Sync + 'static {
    /// The guests to sample.
    fn domains(&self) -> Result<Vec<DomainRef>>;
    /// Fills `out` with `dom`'s figures, cheap ones first; the sampler may
    /// stop waiting at any point and publish what is there.
    fn domain(&self, dom: &DomainRef, out: &Mutex<DomainSample>);
    fn pools(&self) -> Result<Vec<PoolSample>>;
    fn networks(&self) -> Result<Vec<NetSample>>;
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// [`Source`] over a connection the daemon opens to itself
/// (`qemu:///system`), using the public API as any client would.
pub struct ConnSource {
    open: Box<dyn Fn() -> Result<Arc<Connection>> + Send + Sync>,
    conn: Mutex<Option<Arc<Connection>>>,
}

impl ConnSource {
    pub fn new(open: impl Fn() -> Result<Arc<Connection>> + Send + Sync + 'static) -> ConnSource {
        ConnSource {
            open: Box::new(open),
            conn: Mutex::new(None),
        }
    }

    fn conn(&self) -> Result<Arc<Connection>> {
        if let Some(c) = lock(&self.conn).as_ref() {
            return Ok(c.clone());
        }
        let c = (self.open)()?;
        *lock(&self.conn) = Some(c.clone());
        Ok(c)
    }
}

/// (target device, source) pairs.
type Targets = Vec<(String, String)>;

/// Disks (target, source) and interfaces (target, bridge or network) of
/// a live definition.
fn devices(xml: &str) -> (Targets, Targets) {
    let (mut disks, mut ifaces) = (Vec::new(), Vec::new());
    let Ok(root) = oxvirt_xml::dom::parse(xml, "domain") else {
        return (disks, ifaces);
    };
    let Some(devs) = root.child("devices") else {
        return (disks, ifaces);
    };
    for d in devs.children_named("disk") {
        let Some(t) = d.child("target").and_then(|t| t.attr("dev")) else {
            continue;
        };
        let src = d
            .child("source")
            .and_then(|s| {
                ["file", "dev", "name", "volume", "dir"]
                    .iter()
                    .find_map(|a| s.attr(a))
            })
            .unwrap_or("");
        disks.push((t.to_string(), src.to_string()));
    }
    for i in devs.children_named("interface") {
        let Some(t) = i.child("target").and_then(|t| t.attr("dev")) else {
            continue;
        };
        let br = i
            .child("source")
            .and_then(|s| s.attr("bridge").or_else(|| s.attr("network")))
            .unwrap_or("");
        ifaces.push((t.to_string(), br.to_string()));
    }
    (disks, ifaces)
}

impl Source for ConnSource {
    fn domains(&self) -> Result<Vec<DomainRef>> {
        self.conn()?.list_all_domains(0)
    }

    fn domain(&self, dom: &DomainRef, out: &Mutex<DomainSample>) {
        let Ok(c) = self.conn() else { return };
        let Ok(info) = c.domain_get_info(dom) else {
            return;
        };
        let active = matches!(
            info.state as i32,
            1..=4 | 6 | 7 // running, blocked, paused, shutdown, crashed, pmsuspended
        );
        {
            let mut o = lock(out);
            o.info = Some(info);
            o.at = now_unix();
        }
        if !active {
            return;
        }
        // Job progress is kept on the domain object: no monitor involved.
        if let Ok(j) = c.domain_get_job_info(dom) {
            lock(out).job = Some(j);
        }
        let Ok(xml) = c.domain_get_xml_desc(dom, 0) else {
            return;
        };
        let (disks, ifaces) = devices(&xml);
        for (target, source) in disks {
            if let Ok(stats) = c.domain_block_stats(dom, &target) {
                lock(out).blocks.push(BlockSample {
                    target,
                    source,
                    stats,
                });
            }
        }
        for (target, bridge) in ifaces {
            if let Ok(stats) = c.domain_interface_stats(dom, &target) {
                lock(out).ifaces.push(IfaceSample {
                    target,
                    bridge,
                    stats,
                });
            }
        }
    }

    fn pools(&self) -> Result<Vec<PoolSample>> {
        let c = self.conn()?;
        let mut out = Vec::new();
        for p in c.list_all_storage_pools(0)? {
            if let Ok(info) = c.pool_get_info(&p) {
                out.push(PoolSample {
                    name: p.name.clone(),
                    uuid: p.uuid.to_string(),
                    info,
                });
            }
        }
        Ok(out)
    }

    fn networks(&self) -> Result<Vec<NetSample>> {
        let c = self.conn()?;
        let mut out = Vec::new();
        for n in c.list_all_networks(0)? {
            if let Ok(active) = c.network_is_active(&n) {
                out.push(NetSample {
                    name: n.name.clone(),
                    uuid: n.uuid.to_string(),
                    active,
                });
            }
        }
        Ok(out)
    }
}

/// One published round: a registry of the host's figures.
pub struct Sample {
    pub registry: Registry,
}

/// The last published sample. Scrapes clone the `Arc` under a mutex held
/// for that alone.
pub struct Latest(Mutex<Arc<Sample>>);

impl Default for Latest {
    fn default() -> Self {
        Latest(Mutex::new(Arc::new(Sample {
            registry: Registry::default(),
        })))
    }
}

impl Latest {
    pub fn get(&self) -> Arc<Sample> {
        lock(&self.0).clone()
    }
    fn set(&self, s: Sample) {
        *lock(&self.0) = Arc::new(s);
    }
}

/// The sampling task's state between rounds.
pub struct Sampler {
    source: Arc<dyn Source>,
    latest: Arc<Latest>,
    daemon: Arc<DaemonMetrics>,
    /// Deadline per guest (and for each listing).
    deadline: Duration,
    /// Guests whose sampling thread has not returned yet.
    busy: Arc<Mutex<HashSet<String>>>,
    domains: HashMap<String, DomainSample>,
    pools: Vec<PoolSample>,
    nets: Vec<NetSample>,
    up: bool,
}

/// Runs `f` on a blocking thread; `None` past `deadline` (the thread
/// finishes on its own).
async fn bounded<T: Send + 'static>(
    deadline: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    match tokio::time::timeout(deadline, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(v)) => Some(v),
        _ => None,
    }
}

impl Sampler {
    pub fn new(
        source: Arc<dyn Source>,
        latest: Arc<Latest>,
        daemon: Arc<DaemonMetrics>,
        deadline: Duration,
    ) -> Sampler {
        Sampler {
            source,
            latest,
            daemon,
            deadline,
            busy: Arc::default(),
            domains: HashMap::new(),
            pools: Vec::new(),
            nets: Vec::new(),
            up: false,
        }
    }

    /// Samples every `interval` until the runtime stops.
    pub async fn run(mut self, interval: Duration) {
        loop {
            self.round().await;
            tokio::time::sleep(interval).await;
        }
    }

    /// One round: list, sample each guest under its deadline, publish.
    pub async fn round(&mut self) {
        let t0 = Instant::now();
        let src = self.source.clone();
        let list = bounded(self.deadline, move || src.domains()).await;
        self.up = matches!(list, Some(Ok(_)));
        if let Some(Ok(doms)) = list {
            let keep: HashSet<String> = doms.iter().map(|d| d.uuid.to_string()).collect();
            self.domains.retain(|u, _| keep.contains(u));
            self.sample_domains(doms).await;
        } else {
            self.daemon.sample_timeouts.inc();
        }
        let src = self.source.clone();
        match bounded(self.deadline, move || src.pools()).await {
            Some(Ok(p)) => self.pools = p,
            Some(Err(_)) => self.pools.clear(),
            None => {
                self.daemon.sample_timeouts.inc();
            }
        }
        let src = self.source.clone();
        match bounded(self.deadline, move || src.networks()).await {
            Some(Ok(n)) => self.nets = n,
            Some(Err(_)) => self.nets.clear(),
            None => {
                self.daemon.sample_timeouts.inc();
            }
        }
        self.latest.set(self.render());
        self.daemon.sample_duration.set(t0.elapsed().as_secs_f64());
    }

    async fn sample_domains(&mut self, doms: Vec<DomainRef>) {
        let sem = Arc::new(Semaphore::new(CONCURRENCY));
        let mut set = tokio::task::JoinSet::new();
        for d in doms {
            let uuid = d.uuid.to_string();
            if !lock(&self.busy).insert(uuid.clone()) {
                // Still answering an earlier round: keep its last figures.
                self.daemon.sample_timeouts.inc();
                continue;
            }
            let slot = Arc::new(Mutex::new(DomainSample {
                name: d.name.clone(),
                uuid: uuid.clone(),
                ..Default::default()
            }));
            let (sem, src, busy, deadline) = (
                sem.clone(),
                self.source.clone(),
                self.busy.clone(),
                self.deadline,
            );
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let s2 = slot.clone();
                let _ = bounded(deadline, move || {
                    src.domain(&d, &s2);
                    lock(&s2).complete = true;
                    lock(&busy).remove(&uuid);
                })
                .await;
                let got = lock(&slot).clone();
                got
            });
        }
        while let Some(r) = set.join_next().await {
            let Ok(mut got) = r else { continue };
            if !got.complete {
                self.daemon.sample_timeouts.inc();
            }
            let old = self.domains.remove(&got.uuid);
            if got.info.is_none() {
                // Nothing before the deadline (or the guest went away
                // meanwhile): its last figures stand.
                if let Some(o) = old {
                    self.domains.insert(o.uuid.clone(), o);
                }
                continue;
            }
            if !got.complete {
                if let Some(o) = old {
                    if got.job.is_none() {
                        got.job = o.job;
                    }
                    if got.blocks.is_empty() {
                        got.blocks = o.blocks;
                    }
                    if got.ifaces.is_empty() {
                        got.ifaces = o.ifaces;
                    }
                }
            }
            self.domains.insert(got.uuid.clone(), got);
        }
    }

    /// The registry of the current figures, named as the libvirt
    /// exporters' dashboards know them.
    fn render(&self) -> Sample {
        let mut r = Registry::default();
        let up = Gauge::<i64>::default();
        up.set(self.up as i64);
        r.register(
            "libvirt_up",
            "Whether the hypervisor connection answered the last sampling round",
            up,
        );
        let at = Gauge::<f64, AtomicU64>::default();
        at.set(now_unix());
        r.register_with_unit(
            "oxvirtd_metrics_sample_timestamp",
            "Unix time the published sample was taken",
            Unit::Seconds,
            at,
        );

        let state = Family::<DomLabels, Gauge>::default();
        let maxmem = Family::<DomLabels, Gauge>::default();
        let mem = Family::<DomLabels, Gauge>::default();
        let vcpus = Family::<DomLabels, Gauge>::default();
        let cpu = Family::<DomLabels, Counter<f64, AtomicU64>>::default();
        let sampled = Family::<DomLabels, Gauge<f64, AtomicU64>>::default();
        let complete = Family::<DomLabels, Gauge>::default();
        let job_type = Family::<DomLabels, Gauge>::default();
        let job_time = Family::<DomLabels, Gauge<f64, AtomicU64>>::default();
        let job_total = Family::<DomLabels, Gauge>::default();
        let job_done = Family::<DomLabels, Gauge>::default();
        let job_left = Family::<DomLabels, Gauge>::default();
        let blk: [Family<BlockLabels, Counter>; 4] = Default::default();
        let net: [Family<IfaceLabels, Counter>; 8] = Default::default();
        let mut doms: Vec<&DomainSample> = self.domains.values().collect();
        doms.sort_by(|a, b| a.name.cmp(&b.name));
        for d in doms {
            let Some(info) = &d.info else { continue };
            let l = DomLabels {
                domain: d.name.clone(),
                uuid: d.uuid.clone(),
            };
            state.get_or_create(&l).set(info.state as i64);
            maxmem.get_or_create(&l).set(kib(info.max_mem));
            mem.get_or_create(&l).set(kib(info.memory));
            vcpus.get_or_create(&l).set(info.nr_virt_cpu as i64);
            cpu.get_or_create(&l).inc_by(info.cpu_time as f64 / 1e9);
            sampled.get_or_create(&l).set(d.at);
            complete.get_or_create(&l).set(d.complete as i64);
            if let Some(j) = &d.job {
                job_type.get_or_create(&l).set(j.job_type as i64);
                job_time
                    .get_or_create(&l)
                    .set(j.time_elapsed as f64 / 1000.0);
                job_total.get_or_create(&l).set(sat(j.data_total));
                job_done.get_or_create(&l).set(sat(j.data_processed));
                job_left.get_or_create(&l).set(sat(j.data_remaining));
            }
            for b in &d.blocks {
                let bl = BlockLabels {
                    domain: d.name.clone(),
                    uuid: d.uuid.clone(),
                    source_file: b.source.clone(),
                    target_device: b.target.clone(),
                };
                let s = &b.stats;
                for (f, v) in blk.iter().zip([s.rd_bytes, s.rd_req, s.wr_bytes, s.wr_req]) {
                    if v >= 0 {
                        f.get_or_create(&bl).inc_by(v as u64);
                    }
                }
            }
            for i in &d.ifaces {
                let il = IfaceLabels {
                    domain: d.name.clone(),
                    uuid: d.uuid.clone(),
                    source_bridge: i.bridge.clone(),
                    target_device: i.target.clone(),
                };
                let s = &i.stats;
                let vals = [
                    s.rx_bytes,
                    s.rx_packets,
                    s.rx_errs,
                    s.rx_drop,
                    s.tx_bytes,
                    s.tx_packets,
                    s.tx_errs,
                    s.tx_drop,
                ];
                for (f, v) in net.iter().zip(vals) {
                    if v >= 0 {
                        f.get_or_create(&il).inc_by(v as u64);
                    }
                }
            }
        }
        r.register(
            "libvirt_domain_info_state",
            "Domain state (virDomainState: 1 running, 3 paused, 5 shut off, ...)",
            state,
        );
        r.register_with_unit(
            "libvirt_domain_info_maximum_memory",
            "Maximum memory of the domain",
            Unit::Bytes,
            maxmem,
        );
        r.register_with_unit(
            "libvirt_domain_info_memory_usage",
            "Memory the domain has",
            Unit::Bytes,
            mem,
        );
        r.register(
            "libvirt_domain_info_virtual_cpus",
            "Virtual CPUs of the domain",
            vcpus,
        );
        r.register_with_unit(
            "libvirt_domain_info_cpu_time",
            "CPU time the domain used",
            Unit::Seconds,
            cpu,
        );
        r.register_with_unit(
            "oxvirt_domain_sample_timestamp",
            "Unix time of the domain's last sample",
            Unit::Seconds,
            sampled,
        );
        r.register(
            "oxvirt_domain_sample_complete",
            "1 when every figure of the domain's last sample came before its deadline",
            complete,
        );
        r.register(
            "libvirt_domain_job_type",
            "Running job (virDomainJobType: 0 none, 1 bounded, 2 unbounded)",
            job_type,
        );
        r.register_with_unit(
            "libvirt_domain_job_time_elapsed",
            "Time the running job has taken",
            Unit::Seconds,
            job_time,
        );
        r.register_with_unit(
            "libvirt_domain_job_data_total",
            "Data the running job has to move",
            Unit::Bytes,
            job_total,
        );
        r.register_with_unit(
            "libvirt_domain_job_data_processed",
            "Data the running job has moved",
            Unit::Bytes,
            job_done,
        );
        r.register_with_unit(
            "libvirt_domain_job_data_remaining",
            "Data the running job has left to move",
            Unit::Bytes,
            job_left,
        );
        let [rb, rr, wb, wr] = blk;
        let bdefs = [
            ("read_bytes", "Bytes read", rb),
            ("read_requests", "Read requests", rr),
            ("write_bytes", "Bytes written", wb),
            ("write_requests", "Write requests", wr),
        ];
        for (n, h, f) in bdefs {
            r.register(
                format!("libvirt_domain_block_stats_{}", n),
                format!("{} by the disk", h),
                f,
            );
        }
        let names = [
            "receive_bytes",
            "receive_packets",
            "receive_errors",
            "receive_drops",
            "transmit_bytes",
            "transmit_packets",
            "transmit_errors",
            "transmit_drops",
        ];
        for (n, f) in names.into_iter().zip(net) {
            r.register(
                format!("libvirt_domain_interface_stats_{}", n),
                format!("Interface counter: {}", n.replace('_', " ")),
                f,
            );
        }

        let pstate = Family::<PoolLabels, Gauge>::default();
        let pcap = Family::<PoolLabels, Gauge>::default();
        let palloc = Family::<PoolLabels, Gauge>::default();
        let pavail = Family::<PoolLabels, Gauge>::default();
        for p in &self.pools {
            let l = PoolLabels {
                pool: p.name.clone(),
                uuid: p.uuid.clone(),
            };
            pstate.get_or_create(&l).set(p.info.state as i64);
            pcap.get_or_create(&l).set(sat(p.info.capacity));
            palloc.get_or_create(&l).set(sat(p.info.allocation));
            pavail.get_or_create(&l).set(sat(p.info.available));
        }
        r.register(
            "libvirt_pool_info_state",
            "Storage pool state (virStoragePoolState: 2 running)",
            pstate,
        );
        r.register_with_unit(
            "libvirt_pool_info_capacity",
            "Storage pool capacity",
            Unit::Bytes,
            pcap,
        );
        r.register_with_unit(
            "libvirt_pool_info_allocation",
            "Storage pool allocation",
            Unit::Bytes,
            palloc,
        );
        r.register_with_unit(
            "libvirt_pool_info_available",
            "Storage pool free space",
            Unit::Bytes,
            pavail,
        );
        let nactive = Family::<NetLabels, Gauge>::default();
        for n in &self.nets {
            let l = NetLabels {
                network: n.name.clone(),
                uuid: n.uuid.clone(),
            };
            nactive.get_or_create(&l).set(n.active as i64);
        }
        r.register(
            "libvirt_network_info_active",
            "Whether the virtual network is active",
            nactive,
        );
        Sample { registry: r }
    }
}

fn kib(v: u64) -> i64 {
    sat(v.saturating_mul(1024))
}

fn sat(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DomLabels {
    domain: String,
    uuid: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BlockLabels {
    domain: String,
    uuid: String,
    source_file: String,
    target_device: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IfaceLabels {
    domain: String,
    uuid: String,
    source_bridge: String,
    target_device: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: String,
    uuid: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NetLabels {
    network: String,
    uuid: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guest "a" answers at once; guest "b" hangs in its monitor part
    /// (after its cheap figures) until released.
    struct Fake {
        release: Mutex<bool>,
        cv: std::sync::Condvar,
        calls: std::sync::atomic::AtomicUsize,
    }

    fn dref(n: &str, b: u8) -> DomainRef {
        DomainRef {
            name: n.into(),
            uuid: oxvirt_core::types::Uuid([b; 16]),
            id: 1,
        }
    }

    impl Source for Fake {
        fn domains(&self) -> Result<Vec<DomainRef>> {
            Ok(vec![dref("a", 1), dref("b", 2)])
        }
        fn domain(&self, dom: &DomainRef, out: &Mutex<DomainSample>) {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            lock(out).info = Some(DomainInfo {
                cpu_time: 1_500_000_000,
                memory: 1024,
                ..Default::default()
            });
            lock(out).at = now_unix();
            if dom.name == "b" {
                let mut r = lock(&self.release);
                while !*r {
                    r = self.cv.wait(r).unwrap_or_else(|p| p.into_inner());
                }
            }
        }
        fn pools(&self) -> Result<Vec<PoolSample>> {
            Ok(Vec::new())
        }
        fn networks(&self) -> Result<Vec<NetSample>> {
            Ok(Vec::new())
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_hung_guest_costs_a_deadline_and_never_blocks_the_rest() {
        let fake = Arc::new(Fake {
            release: Mutex::new(false),
            cv: Default::default(),
            calls: Default::default(),
        });
        let latest = Arc::new(Latest::default());
        let daemon = Arc::new(DaemonMetrics::new());
        let mut s = Sampler::new(
            fake.clone(),
            latest.clone(),
            daemon,
            Duration::from_millis(200),
        );
        let t0 = Instant::now();
        s.round().await;
        assert!(t0.elapsed() < Duration::from_secs(2));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &latest.get().registry).unwrap();
        for d in ["a", "b"] {
            assert!(
                text.contains(&format!(
                    "libvirt_domain_info_memory_usage_bytes{{domain=\"{}\"",
                    d
                )),
                "{}",
                text
            );
        }
        assert!(text.contains("libvirt_domain_info_cpu_time_seconds_total{domain=\"a\""));
        assert!(text.contains("oxvirt_domain_sample_complete{domain=\"b\",uuid=\"02020202-0202-0202-0202-020202020202\"} 0"), "{}", text);
        // Second round: b is still busy and is not asked again.
        s.round().await;
        assert_eq!(fake.calls.load(std::sync::atomic::Ordering::SeqCst), 3);
        *lock(&fake.release) = true;
        fake.cv.notify_all();
    }

    #[test]
    fn devices_of_a_live_definition() {
        let xml =
            "<domain><devices><disk type='file'><source file='/a.img'/><target dev='vda'/></disk>\
<disk type='file'><target dev='hdc'/></disk><interface type='bridge'><source bridge='br0'/>\
<target dev='vnet0'/></interface><interface type='user'/></devices></domain>";
        let (d, i) = devices(xml);
        assert_eq!(
            d,
            vec![
                ("vda".into(), "/a.img".into()),
                ("hdc".into(), String::new())
            ]
        );
        assert_eq!(i, vec![("vnet0".to_string(), "br0".to_string())]);
    }
}
