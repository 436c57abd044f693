//! Long (asynchronous) jobs as libvirt reports them: the statistics of the
//! running job and of the last completed one (virDomainGetJobStats,
//! virDomainGetJobInfo), aborting a save (virDomainAbortJob) and the
//! typed parameters of the job-completed event.
//!
//! Only save and managed save run as such jobs here. Their statistics are
//! QEMU's `query-migrate` answer, read by the thread waiting for the
//! migration and kept on the domain object, so a query never waits for
//! the job and never talks to QEMU itself.

use oxvirt_core::types::{DomainRef, TypedParam};
use oxvirt_core::{Error, Result};

use crate::driver::{check_flags, Driver};
use crate::jobdata::{job_type, stats_flags, JobData};
use crate::FROM;

/// The destination of a migration has no statistics to give.
fn incoming_has_no_stats(job: Option<&JobData>) -> Result<()> {
    if job.is_some_and(|j| j.operation == crate::jobdata::operation::MIGRATION_IN) {
        return Err(Error::new(
            oxvirt_core::error::code::OPERATION_UNSUPPORTED,
            FROM,
            "migration statistics are available only on the source host",
        ));
    }
    Ok(())
}

impl Driver {
    /// virDomainGetJobStats: the running job, or with COMPLETED the last
    /// completed one (forgotten after this call unless KEEP_COMPLETED).
    pub fn job_stats(&self, dom: &DomainRef, flags: u32) -> Result<(i32, Vec<TypedParam>)> {
        use stats_flags::{COMPLETED, KEEP_COMPLETED};
        check_flags(flags, COMPLETED | KEEP_COMPLETED, "qemuDomainGetJobStats")?;
        let mut st = self.read(dom)?;
        let mut obj = st.dom_mut(dom)?;
        if flags & COMPLETED != 0 {
            if obj.job_current.is_some() {
                return Ok((job_type::NONE, Vec::new()));
            }
            let Some(done) = &obj.job_completed else {
                return Ok((job_type::NONE, Vec::new()));
            };
            let r = (job_type::COMPLETED, done.params());
            if flags & KEEP_COMPLETED == 0 {
                obj.job_completed = None;
            }
            return Ok(r);
        }
        obj.check_active()?;
        incoming_has_no_stats(obj.job_current.as_ref())?;
        Ok(match &obj.job_current {
            Some(j) => (j.job_type(), j.params()),
            None => (job_type::NONE, Vec::new()),
        })
    }

    /// virDomainGetJobInfo: the running job in the old fixed structure.
    pub fn job_info(&self, dom: &DomainRef) -> Result<oxvirt_core::types::JobInfo> {
        let st = self.read(dom)?;
        let obj = st.dom(dom)?;
        obj.check_active()?;
        incoming_has_no_stats(obj.job_current.as_ref())?;
        let Some(j) = &obj.job_current else {
            return Ok(Default::default());
        };
        let s = &j.mig;
        Ok(oxvirt_core::types::JobInfo {
            job_type: j.job_type(),
            time_elapsed: j.time_elapsed(),
            data_total: s.ram_total,
            data_processed: s.ram_transferred,
            data_remaining: s.ram_remaining,
            mem_total: s.ram_total,
            mem_processed: s.ram_transferred,
            mem_remaining: s.ram_remaining,
            ..Default::default()
        })
    }

    /// virDomainAbortJob: cancels a running save (QMP `migrate_cancel`);
    /// the save then fails with "operation aborted" and the domain runs
    /// on.
    pub fn abort_job(&self, dom: &DomainRef) -> Result<()> {
        let run = {
            let mut st = self.read(dom)?;
            let mut obj = st.dom_mut(dom)?;
            obj.check_active()?;
            let Some(j) = obj.job_current.as_mut() else {
                return Err(Error::operation_invalid(
                    FROM,
                    "no job is active on the domain",
                ));
            };
            j.abort = true;
            obj.run.clone()
        };
        if let Some(run) = run {
            run.qmp
                .execute_value("migrate_cancel", None)
                .map_err(crate::monitor::qmp_err)?;
        }
        Ok(())
    }

    /// Sets or clears the running job of the domain `uuid`.
    pub(crate) fn set_job(&self, uuid: &oxvirt_core::types::Uuid, job: Option<JobData>) {
        if let Some(mut o) = self.lock().by_uuid_mut(uuid) {
            if job.is_some() {
                // A new job replaces the last completed one's statistics.
                o.job_completed = None;
            }
            o.job_current = job;
        }
    }

    /// Applies `f` to the running job of `uuid`, if any.
    pub(crate) fn with_job<T>(
        &self,
        uuid: &oxvirt_core::types::Uuid,
        f: impl FnOnce(&mut JobData) -> T,
    ) -> Option<T> {
        let mut st = self.lock();
        let mut o = st.by_uuid_mut(uuid)?;
        o.job_current.as_mut().map(f)
    }
}
