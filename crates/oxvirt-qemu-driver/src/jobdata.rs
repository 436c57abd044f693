//! The statistics of a long (asynchronous) job as libvirt reports them
//! (virDomainGetJobStats' typed parameters, virDomainGetJobInfo), read
//! from QEMU's `query-migrate`; kept on the domain object. The job APIs
//! are in `jobs.rs`.

use std::time::Instant;

use oxvirt_core::types::{TypedParam, TypedValue};
use serde_json::Value;

/// `virDomainJobOperation`.
pub mod operation {
    pub const SAVE: i32 = 2;
    pub const RESTORE: i32 = 3;
    pub const MIGRATION_IN: i32 = 4;
    pub const MIGRATION_OUT: i32 = 5;
}

/// `virDomainJobType`.
pub mod job_type {
    pub const NONE: i32 = 0;
    pub const UNBOUNDED: i32 = 2;
    pub const COMPLETED: i32 = 3;
}

/// `virDomainGetJobStatsFlags`.
pub mod stats_flags {
    pub const COMPLETED: u32 = 1;
    pub const KEEP_COMPLETED: u32 = 2;
}

/// What QEMU's `query-migrate` reports, as libvirt reads it
/// (qemuMonitorMigrationStats): optional fields stay `None` when QEMU
/// left them out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MigStats {
    /// `downtime` once completed, `expected-downtime` before.
    pub downtime: Option<u64>,
    pub setup_time: Option<u64>,
    pub ram_total: u64,
    pub ram_transferred: u64,
    pub ram_remaining: u64,
    /// Bytes per second (QEMU's `mbps` is 10^6 bits per second).
    pub ram_bps: u64,
    pub ram_duplicate: Option<u64>,
    pub ram_normal: u64,
    pub ram_normal_bytes: u64,
    pub ram_dirty_rate: u64,
    pub ram_iteration: u64,
    pub ram_postcopy_reqs: u64,
    pub ram_page_size: u64,
}

impl MigStats {
    /// Reads a `query-migrate` reply (its `return` object).
    pub fn from_qmp(v: &Value) -> MigStats {
        let u = |o: &Value, k: &str| o.get(k).and_then(Value::as_u64);
        let completed = v.get("status").and_then(Value::as_str) == Some("completed");
        let mut s = MigStats {
            downtime: u(
                v,
                if completed {
                    "downtime"
                } else {
                    "expected-downtime"
                },
            ),
            setup_time: u(v, "setup-time"),
            ..Default::default()
        };
        if let Some(ram) = v.get("ram") {
            let n = |k: &str| u(ram, k).unwrap_or(0);
            s.ram_total = n("total");
            s.ram_transferred = n("transferred");
            s.ram_remaining = n("remaining");
            if let Some(mbps) = ram.get("mbps").and_then(Value::as_f64) {
                if mbps > 0.0 {
                    s.ram_bps = (mbps * (1000.0 * 1000.0 / 8.0)) as u64;
                }
            }
            s.ram_duplicate = u(ram, "duplicate");
            s.ram_normal = n("normal");
            s.ram_normal_bytes = n("normal-bytes");
            s.ram_dirty_rate = n("dirty-pages-rate");
            s.ram_page_size = n("page-size");
            s.ram_iteration = n("dirty-sync-count");
            s.ram_postcopy_reqs = n("postcopy-requests");
        }
        s
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Active,
    /// QEMU finished; the driver is still finishing the job (libvirt
    /// already answers type Completed then).
    Completed,
}

/// The statistics of a job (virDomainJobData).
#[derive(Debug, Clone)]
pub struct JobData {
    pub operation: i32,
    pub started: Instant,
    pub status: JobStatus,
    /// Milliseconds from start to completion, once completed.
    pub elapsed: Option<u64>,
    pub mig: MigStats,
    /// When the job paused the guest (libvirt's downtime runs from
    /// there, not from QEMU's switch-over).
    pub stopped: Option<Instant>,
    /// virDomainAbortJob was called for it.
    pub abort: bool,
}

impl JobData {
    pub fn new(operation: i32) -> JobData {
        JobData {
            operation,
            started: Instant::now(),
            status: JobStatus::Active,
            elapsed: None,
            mig: MigStats::default(),
            stopped: None,
            abort: false,
        }
    }

    pub fn time_elapsed(&self) -> u64 {
        self.elapsed
            .unwrap_or_else(|| self.started.elapsed().as_millis() as u64)
    }

    /// Marks QEMU's part done, freezing the elapsed time and, when the
    /// job paused the guest, computing the downtime from then
    /// (qemuDomainJobDataUpdateDowntime).
    pub fn complete(&mut self, mut mig: MigStats) {
        if let Some(t) = self.stopped {
            mig.downtime = Some(t.elapsed().as_millis() as u64);
        }
        self.mig = mig;
        self.status = JobStatus::Completed;
        self.elapsed = Some(self.started.elapsed().as_millis() as u64);
    }

    pub fn job_type(&self) -> i32 {
        match self.status {
            JobStatus::Active => job_type::UNBOUNDED,
            JobStatus::Completed => job_type::COMPLETED,
        }
    }

    /// The typed parameters of a save's statistics, in libvirt's order
    /// (qemuDomainMigrationJobDataToParams for a save or dump job: the
    /// disk, compression and throttling fields are left out).
    pub fn params(&self) -> Vec<TypedParam> {
        let s = &self.mig;
        let mut p = Vec::with_capacity(18);
        let mut ull = |k: &str, v: u64| p.push(TypedParam::new(k, TypedValue::ULLong(v)));
        ull("time_elapsed", self.time_elapsed());
        if let Some(d) = s.downtime {
            ull("downtime", d);
        }
        if let Some(t) = s.setup_time {
            ull("setup_time", t);
        }
        ull("data_total", s.ram_total);
        ull("data_processed", s.ram_transferred);
        ull("data_remaining", s.ram_remaining);
        ull("memory_total", s.ram_total);
        ull("memory_processed", s.ram_transferred);
        ull("memory_remaining", s.ram_remaining);
        if s.ram_bps != 0 {
            ull("memory_bps", s.ram_bps);
        }
        if let Some(d) = s.ram_duplicate {
            ull("memory_constant", d);
            ull("memory_normal", s.ram_normal);
            ull("memory_normal_bytes", s.ram_normal_bytes);
        }
        ull("memory_dirty_rate", s.ram_dirty_rate);
        ull("memory_iteration", s.ram_iteration);
        ull("memory_postcopy_requests", s.ram_postcopy_reqs);
        if s.ram_page_size > 0 {
            ull("memory_page_size", s.ram_page_size);
        }
        p.insert(
            0,
            TypedParam::new("operation", TypedValue::Int(self.operation)),
        );
        p
    }
}

/// libvirt's name of a job in its error messages (qemuMigrationJobName).
pub(crate) fn job_name(operation: i32) -> &'static str {
    match operation {
        operation::SAVE => "domain save",
        // A restore runs as libvirt's "start" async job.
        operation::RESTORE => "start",
        operation::MIGRATION_OUT => "migration out",
        operation::MIGRATION_IN => "migration in",
        _ => "undefined",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_migrate_maps_as_libvirt_reads_it() {
        let v = json!({"status": "active", "expected-downtime": 300, "setup-time": 6,
            "ram": {"total": 100, "transferred": 40, "remaining": 60, "mbps": 8.0,
                    "duplicate": 3, "normal": 2, "normal-bytes": 8192,
                    "dirty-pages-rate": 0, "page-size": 4096, "dirty-sync-count": 1,
                    "postcopy-requests": 0}});
        let s = MigStats::from_qmp(&v);
        assert_eq!(s.downtime, Some(300));
        assert_eq!(s.ram_bps, 1_000_000);
        let mut j = JobData::new(operation::SAVE);
        j.mig = s;
        let names: Vec<String> = j.params().into_iter().map(|p| p.field).collect();
        assert_eq!(
            names,
            [
                "operation",
                "time_elapsed",
                "downtime",
                "setup_time",
                "data_total",
                "data_processed",
                "data_remaining",
                "memory_total",
                "memory_processed",
                "memory_remaining",
                "memory_bps",
                "memory_constant",
                "memory_normal",
                "memory_normal_bytes",
                "memory_dirty_rate",
                "memory_iteration",
                "memory_postcopy_requests",
                "memory_page_size"
            ]
        );
        // Before QEMU reports anything: zeros, no optional fields.
        let names: Vec<String> = JobData::new(operation::SAVE)
            .params()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(names.len(), 11);
        let done = MigStats::from_qmp(&json!({"status": "completed", "downtime": 33,
            "expected-downtime": 1}));
        assert_eq!(done.downtime, Some(33));
    }
}
