//! The migration bandwidth limit (virDomainMigrateSetMaxSpeed and
//! virDomainMigrateGetMaxSpeed) as libvirt's QEMU driver keeps it: on the
//! domain object, in MiB/s, applied to a running QEMU through
//! `migrate-set-parameters`; the post-copy limit lives only in QEMU.

use oxvirt_core::error::{code, from};
use oxvirt_core::types::DomainRef;
use oxvirt_core::{Error, Result};
use serde_json::{json, Value};

use crate::driver::{check_flags, Driver, MIG_BANDWIDTH_MAX};
use crate::monitor::qmp_err;
use crate::FROM;

/// VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY
const POSTCOPY: u32 = 1;
const MIB: u64 = 1024 * 1024;

impl Driver {
    /// qemuDomainMigrateSetMaxSpeed.
    pub(crate) fn migrate_set_max_speed(
        &self,
        dom: &DomainRef,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, POSTCOPY, "qemuDomainMigrateSetMaxSpeed")?;
        let postcopy = flags & POSTCOPY != 0;
        let max = if postcopy {
            u64::MAX / MIB
        } else {
            MIG_BANDWIDTH_MAX
        };
        if bandwidth > max {
            return Err(Error::new(
                code::OVERFLOW,
                FROM,
                format!("bandwidth must be less than {}", max as u128 + 1),
            ));
        }
        if !postcopy {
            let mut st = self.read(dom)?;
            let mut o = st.dom_mut(dom)?;
            if !o.is_active() {
                o.mig_max_bandwidth = bandwidth;
                return Ok(());
            }
        }
        let _job = self.begin_job(dom)?;
        let run = {
            let st = self.read(dom)?;
            let o = st.dom(dom)?;
            o.check_active()?;
            o.run.clone()
        };
        let run =
            run.ok_or_else(|| Error::operation_invalid(from::DOMAIN, "domain is not running"))?;
        let param = if postcopy {
            "max-postcopy-bandwidth"
        } else {
            "max-bandwidth"
        };
        run.qmp
            .execute_value(
                "migrate-set-parameters",
                Some(json!({ param: bandwidth.saturating_mul(MIB) })),
            )
            .map_err(qmp_err)?;
        if !postcopy {
            let mut st = self.lock();
            st.dom_mut(dom)?.mig_max_bandwidth = bandwidth;
        }
        Ok(())
    }

    /// qemuDomainMigrateGetMaxSpeed.
    pub(crate) fn migrate_get_max_speed(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        check_flags(flags, POSTCOPY, "qemuDomainMigrateGetMaxSpeed")?;
        if flags & POSTCOPY == 0 {
            let st = self.read(dom)?;
            return Ok(st.dom(dom)?.mig_max_bandwidth);
        }
        // qemuDomainMigrationGetPostcopyBandwidth
        let _job = self.begin_job(dom)?;
        let run = {
            let st = self.read(dom)?;
            let o = st.dom(dom)?;
            o.check_active()?;
            o.run.clone()
        };
        let run =
            run.ok_or_else(|| Error::operation_invalid(from::DOMAIN, "domain is not running"))?;
        let params = run
            .qmp
            .execute_value("query-migrate-parameters", None)
            .map_err(qmp_err)?;
        let Some(bw) = params.get("max-postcopy-bandwidth").and_then(Value::as_u64) else {
            return Err(Error::new(
                code::OPERATION_INVALID,
                FROM,
                "querying maximum post-copy migration speed is not supported by QEMU binary",
            ));
        };
        // QEMU's 0 means unlimited.
        let mib = if bw == 0 {
            u64::MAX / MIB
        } else {
            bw.div_ceil(MIB)
        };
        Ok(mib)
    }
}
