//! Lifecycle APIs: start, create, destroy, shutdown, reboot, reset,
//! suspend, resume, save, restore and managed save.

use std::sync::Arc;
use std::time::Duration;

use oxvirt_core::error::code;
use oxvirt_core::event::{lifecycle as lc, DomainEvent, DomainEventKind};
use oxvirt_core::types::flags;
use oxvirt_core::types::{reason, DomainRef, DomainState, TypedParam, TypedValue};
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::FormatFlags;
use serde_json::json;

use crate::driver::{check_flags, Driver, Running};
use crate::jobdata::{operation, JobData};
use crate::monitor::qmp_err;
use crate::process::{Incoming, StartOpts};
use crate::saveimage;
use crate::store::{self, JobKind, JobRecord};
use crate::FROM;

impl Driver {
    /// The running process of an active domain (after the job is held).
    pub(crate) fn running(&self, dom: &DomainRef) -> Result<Arc<Running>> {
        let st = self.lock();
        let obj = st.dom(dom)?;
        obj.check_active()?;
        obj.run
            .clone()
            .ok_or_else(|| Error::operation_invalid(FROM, "domain is not running"))
    }

    pub fn create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        use flags::create::{AUTODESTROY, PAUSED, VALIDATE};
        check_flags(
            flags,
            PAUSED | AUTODESTROY | VALIDATE,
            "qemuDomainCreateXML",
        )?;
        let def = self.parse_def(xml)?;
        let (h, job) = self.add_live(&def)?;
        let _g = job.begin(crate::driver::JOB_WAIT, crate::FROM)?;
        let res = self.start_vm(
            &h,
            StartOpts {
                paused: flags & PAUSED != 0,
                autodestroy: flags & AUTODESTROY != 0,
                live_def: Some(def),
                incoming: None,
                job: None,
                from_snapshot: false,
                migrate_in: false,
            },
        );
        if res.is_err() {
            // A transient domain that never ran is forgotten.
            self.lock().doms.remove_if_transient_inactive(&h.uuid);
        }
        res
    }

    pub fn create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        use flags::create::{AUTODESTROY, BYPASS_CACHE, FORCE_BOOT, PAUSED, RESET_NVRAM};
        check_flags(
            flags,
            PAUSED | AUTODESTROY | BYPASS_CACHE | FORCE_BOOT | RESET_NVRAM,
            "qemuDomainCreateWithFlags",
        )?;
        let _g = self.begin_job(dom)?;
        let name = {
            let st = self.lock();
            let obj = st.dom(dom)?;
            if obj.is_active() {
                return Err(Error::operation_invalid(FROM, "domain is already running"));
            }
            obj.def.name.clone()
        };
        let ms = self.layout.managed_save(&name);
        if ms.exists() {
            if flags & FORCE_BOOT != 0 {
                let _ = std::fs::remove_file(&ms);
            } else {
                let paused = flags & PAUSED != 0;
                let r = self.restore_from(
                    &ms.to_string_lossy(),
                    None,
                    if paused { flags::save::PAUSED } else { 0 },
                    Some(dom),
                );
                if r.is_ok() {
                    // The image is consumed; until it is gone the status
                    // file records the restore, so a daemon that dies
                    // here still removes it (`recover_job`).
                    self.pause_point("restore:started", &name);
                    let _ = store::remove(&ms);
                    self.end_async_job(&dom.uuid);
                }
                return r.map(|_| self.lock().dom(dom).map(|o| o.handle()))?;
            }
        }
        self.start_vm(
            dom,
            StartOpts {
                paused: flags & PAUSED != 0,
                autodestroy: flags & AUTODESTROY != 0,
                live_def: None,
                incoming: None,
                job: None,
                from_snapshot: false,
                migrate_in: false,
            },
        )
    }

    pub fn destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        use flags::destroy::{GRACEFUL, REMOVE_LOGS};
        check_flags(flags, GRACEFUL | REMOVE_LOGS, "qemuDomainDestroyFlags")?;
        let _g = self.begin_job(dom)?;
        let run = self.running(dom)?;
        self.kill_process(&run, flags & GRACEFUL != 0, false)?;
        // Let the monitor deliver what QEMU said on its way out
        // (SHUTDOWN from the signal), as libvirt does.
        run.wait_eof(Duration::from_secs(5));
        self.reap(&run);
        let name = dom.name.clone();
        let h = {
            let mut st = self.lock();
            self.stop_locked(&mut st, &dom.uuid, run.gen, reason::shutoff::DESTROYED)
        };
        if flags & REMOVE_LOGS != 0 {
            let _ = std::fs::remove_file(self.layout.log(&name));
        }
        if let Some(h) = h {
            self.emit(vec![DomainEvent::lifecycle(
                h,
                lc::STOPPED,
                lc::stopped::DESTROYED,
            )]);
        }
        Ok(())
    }

    pub fn shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        use crate::agent::{MODE_ACPI, MODE_AGENT};
        check_flags(flags, MODE_ACPI | MODE_AGENT, "qemuDomainShutdownFlags")?;
        // The agent first when asked for (or when connected and no mode
        // was given), ACPI after it unless only the agent was asked for.
        if (flags & MODE_AGENT != 0 || (flags == 0 && self.agent_connected(dom)))
            && self.shutdown_agent(dom, false, flags)?
        {
            return Ok(());
        }
        let _g = self.begin_job(dom)?;
        let run = self.running(dom)?;
        {
            let mut st = self.lock();
            let mut obj = st.dom_mut(dom)?;
            if obj.state != DomainState::Running {
                return Err(Error::operation_invalid(FROM, "domain is not running"));
            }
            obj.fake_reboot = false;
            self.save_status(&obj);
        }
        run.qmp
            .execute_value("system_powerdown", None)
            .map_err(qmp_err)?;
        Ok(())
    }

    pub fn reboot(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        use crate::agent::{MODE_ACPI, MODE_AGENT};
        check_flags(flags, MODE_ACPI | MODE_AGENT, "qemuDomainReboot")?;
        if (flags & MODE_AGENT != 0 || (flags == 0 && self.agent_connected(dom)))
            && self.shutdown_agent(dom, true, flags)?
        {
            return Ok(());
        }
        let _g = self.begin_job(dom)?;
        let run = self.running(dom)?;
        {
            let mut st = self.lock();
            let mut obj = st.dom_mut(dom)?;
            obj.fake_reboot = true;
            self.save_status(&obj);
        }
        if let Err(e) = run.qmp.execute_value("system_powerdown", None) {
            let mut st = self.lock();
            if let Ok(mut obj) = st.dom_mut(dom) {
                obj.fake_reboot = false;
            }
            return Err(qmp_err(e));
        }
        Ok(())
    }

    pub fn reset(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "qemuDomainReset")?;
        let _g = self.begin_job(dom)?;
        let run = self.running(dom)?;
        run.qmp
            .execute_value("system_reset", None)
            .map_err(qmp_err)?;
        run.sync_events();
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        obj.paused_shutdown = false;
        if obj.state == DomainState::Crashed {
            obj.set_state(DomainState::Paused, reason::paused::CRASHED);
        }
        self.save_status(&obj);
        Ok(())
    }

    pub fn suspend(&self, dom: &DomainRef) -> Result<()> {
        let _g = self.begin_job(dom)?;
        let run = self.running(dom)?;
        let state = self.lock().dom(dom)?.state;
        if state == DomainState::PmSuspended {
            return Err(Error::operation_invalid(FROM, "domain is pmsuspended"));
        }
        if state != DomainState::Paused {
            self.stop_cpus(dom, &run, reason::paused::USER)?;
        }
        Ok(())
    }

    pub fn resume(&self, dom: &DomainRef) -> Result<()> {
        let _g = self.begin_job(dom)?;
        let run = self.running(dom)?;
        let (state, why) = {
            let st = self.lock();
            let o = st.dom(dom)?;
            (o.state, o.reason)
        };
        match state {
            DomainState::PmSuspended => {
                return Err(Error::operation_invalid(FROM, "domain is pmsuspended"))
            }
            DomainState::Running => {
                return Err(Error::operation_invalid(FROM, "domain is already running"))
            }
            _ => {}
        }
        if state == DomainState::Paused
            || (state == DomainState::Crashed && why == reason::crashed::PANICKED)
        {
            self.start_cpus(dom, &run, reason::running::UNPAUSED)?;
        }
        Ok(())
    }

    // ---- save and restore ------------------------------------------------

    pub fn save(&self, dom: &DomainRef, to: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        use flags::save::{BYPASS_CACHE, PAUSED, RUNNING};
        check_flags(
            flags,
            BYPASS_CACHE | RUNNING | PAUSED,
            "qemuDomainSaveFlags",
        )?;
        let _g = self.begin_job(dom)?;
        self.save_internal(dom, to, dxml, flags, false)
    }

    pub fn managed_save(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        use flags::save::{BYPASS_CACHE, PAUSED, RUNNING};
        check_flags(
            flags,
            BYPASS_CACHE | RUNNING | PAUSED,
            "qemuDomainManagedSave",
        )?;
        let _g = self.begin_job(dom)?;
        let name = {
            let st = self.lock();
            let obj = st.dom(dom)?;
            obj.check_active()?;
            if !obj.persistent {
                return Err(Error::operation_invalid(
                    FROM,
                    "cannot do managed save for transient domain",
                ));
            }
            obj.def.name.clone()
        };
        let path = self.layout.managed_save(&name);
        self.save_internal(dom, &path.to_string_lossy(), None, flags, true)
    }

    /// Runs a save as the domain's async job: its statistics are visible
    /// to domjobinfo while it runs and kept as the completed job's after
    /// it succeeded (see `jobs`).
    ///
    /// The job is recorded in the status file before the guest is paused
    /// and until the domain is stopped, so a daemon that dies during it
    /// is followed by one that cancels it, resumes the guest and removes
    /// the image (`recover_job`).
    fn save_internal(
        &self,
        dom: &DomainRef,
        to: &str,
        dxml: Option<&str>,
        flags: u32,
        managed: bool,
    ) -> Result<()> {
        let run = self.running(dom)?;
        self.set_job(&dom.uuid, Some(JobData::new(operation::SAVE)));
        self.begin_async_job(
            &dom.uuid,
            JobRecord {
                kind: JobKind::Save,
                path: to.into(),
                managed,
            },
        );
        let r = self.save_job(dom, &run, to, dxml, flags);
        if r.is_err() {
            self.set_job(&dom.uuid, None);
            self.end_async_job(&dom.uuid);
        }
        r
    }

    /// Records the asynchronous job in the domain's status file.
    fn begin_async_job(&self, uuid: &oxvirt_core::types::Uuid, job: JobRecord) {
        let mut st = self.lock();
        if let Some(mut obj) = st.by_uuid_mut(uuid) {
            obj.async_job = Some(job);
            self.save_status(&obj);
        };
    }

    /// Forgets the asynchronous job of an active domain.
    pub(crate) fn end_async_job(&self, uuid: &oxvirt_core::types::Uuid) {
        let mut st = self.lock();
        if let Some(mut obj) = st.by_uuid_mut(uuid) {
            if obj.async_job.take().is_some() {
                self.save_status(&obj);
            }
        };
    }

    /// Pauses, writes header + XML, migrates QEMU's state into the file,
    /// then stops the domain with reason saved (qemuDomainSaveInternal).
    fn save_job(
        &self,
        dom: &DomainRef,
        run: &Arc<Running>,
        to: &str,
        dxml: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        let run = run.clone();
        let (was_running, xml) = {
            let st = self.lock();
            let obj = st.dom(dom)?;
            let xml = match dxml {
                Some(x) => {
                    let d = self.parse_def_existing(x)?;
                    if d.uuid != obj.def.uuid || d.name != obj.def.name {
                        return Err(Error::new(
                            code::OPERATION_FAILED,
                            FROM,
                            "target domain name/uuid doesn't match source",
                        ));
                    }
                    d.format(FormatFlags {
                        inactive: true,
                        ..Default::default()
                    })
                }
                None => obj.def.format(FormatFlags {
                    inactive: true,
                    migratable: true,
                    ..Default::default()
                }),
            };
            (obj.state == DomainState::Running, xml)
        };
        let was_running = if flags & flags::save::RUNNING != 0 {
            true
        } else if flags & flags::save::PAUSED != 0 {
            false
        } else {
            was_running
        };
        let running_now = self.lock().dom(dom)?.state == DomainState::Running;
        if running_now {
            self.with_job(&dom.uuid, |j| j.stopped = Some(std::time::Instant::now()));
            self.stop_cpus(dom, &run, reason::paused::SAVE)?;
        }
        self.pause_point("save:paused", &dom.name);
        let resume_on_error = |me: &Driver| {
            if running_now {
                let _ = me.start_cpus(dom, &run, reason::running::SAVE_CANCELED);
            }
        };
        let mut file = match std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(to)
        {
            Ok(f) => f,
            Err(e) => {
                resume_on_error(self);
                return Err(Error::system(
                    FROM,
                    format!("Failed to create file '{}'", to),
                    &e,
                ));
            }
        };
        let migrated = (|| -> Result<()> {
            saveimage::write_header(&mut file, &xml, was_running).map_err(|e| {
                Error::system(
                    FROM,
                    format!("failed to write header to domain save file '{}'", to),
                    &e,
                )
            })?;
            let _ = run.qmp.execute_value(
                "migrate-set-parameters",
                Some(crate::monitor::unlimited_bandwidth()),
            );
            // QEMU then reports each pass over memory (MIGRATION_PASS),
            // which becomes libvirt's migration-iteration event.
            let _ = run.qmp.execute_value(
                "migrate-set-capabilities",
                Some(json!({"capabilities": [{"capability": "events", "state": true}]})),
            );
            use std::os::unix::io::AsRawFd;
            run.qmp
                .execute_value_with_fd(
                    "getfd",
                    Some(json!({"fdname": "migrate"})),
                    file.as_raw_fd(),
                )
                .map_err(qmp_err)?;
            // An abort that came before the migration started.
            if self.with_job(&dom.uuid, |j| j.abort).unwrap_or(false) {
                return Err(Error::new(
                    code::OPERATION_ABORTED,
                    FROM,
                    "save: canceled by client",
                ));
            }
            run.qmp
                .execute_value("migrate", Some(json!({"uri": "fd:migrate"})))
                .map_err(qmp_err)?;
            self.pause_point("save:migrating", &dom.name);
            // An abort that came between the check above and `migrate`
            // found no migration to cancel: cancel it now.
            if self.with_job(&dom.uuid, |j| j.abort).unwrap_or(false) {
                let _ = run.qmp.execute_value("migrate_cancel", None);
            }
            let done = self.wait_migration(&dom.uuid, &run, operation::SAVE)?;
            self.with_job(&dom.uuid, |j| j.complete(done));
            self.pause_point("save:migrated", &dom.name);
            saveimage::mark_complete(&mut file)
                .map_err(|e| Error::system(FROM, format!("unable to write '{}'", to), &e))
        })();
        if let Err(e) = migrated {
            drop(file);
            let _ = std::fs::remove_file(to);
            resume_on_error(self);
            return Err(e);
        }
        drop(file);
        self.pause_point("save:complete", &dom.name);
        // Close the monitor to events, then kill: libvirt reports no
        // shutdown for a saved domain.
        self.kill_process(&run, false, true)?;
        run.wait_eof(Duration::from_secs(5));
        self.reap(&run);
        self.pause_point("save:killed", &dom.name);
        let (h, done) = {
            let mut st = self.lock();
            // The finished job becomes the completed one (a transient
            // domain goes away below, and its statistics with it).
            let done = st.by_uuid_mut(&dom.uuid).and_then(|mut o| {
                let j = o.job_current.take();
                o.job_completed = j.clone();
                j
            });
            let h = self.stop_locked(&mut st, &dom.uuid, run.gen, reason::shutoff::SAVED);
            (h, done)
        };
        let mut events = Vec::new();
        if let Some(j) = done {
            events.push(DomainEvent {
                dom: h.clone().unwrap_or_else(|| dom.clone()),
                kind: DomainEventKind::JobCompleted { params: j.params() },
            });
        }
        if let Some(h) = h {
            events.push(DomainEvent::lifecycle(h, lc::STOPPED, lc::stopped::SAVED));
        }
        self.emit(events);
        Ok(())
    }

    pub fn restore(&self, from: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        use flags::save::{BYPASS_CACHE, PAUSED, RESET_NVRAM, RUNNING};
        check_flags(
            flags,
            BYPASS_CACHE | RUNNING | PAUSED | RESET_NVRAM,
            "qemuDomainRestoreFlags",
        )?;
        self.restore_from(from, dxml, flags, None)
    }

    /// Restores an image; `existing` is the domain when starting from a
    /// managed save (its job is already held).
    pub(crate) fn restore_from(
        &self,
        from: &str,
        dxml: Option<&str>,
        flags: u32,
        existing: Option<&DomainRef>,
    ) -> Result<()> {
        let mut file = std::fs::File::open(from).map_err(|e| {
            Error::system(
                FROM,
                format!("Failed to open domain image file '{}'", from),
                &e,
            )
        })?;
        let header = saveimage::read(&mut file, from)?;
        let xml = dxml.unwrap_or(&header.xml);
        let def = self.parse_def_existing(xml)?;
        let paused = if flags & flags::save::RUNNING != 0 {
            false
        } else if flags & flags::save::PAUSED != 0 {
            true
        } else {
            !header.was_running
        };
        let (h, job) = self.add_live(&def)?;
        let _g = match existing {
            Some(e) if e.uuid == h.uuid => None,
            _ => Some(job.begin(crate::driver::JOB_WAIT, crate::FROM)?),
        };
        let res = self.start_vm(
            &h,
            StartOpts {
                paused,
                autodestroy: false,
                live_def: Some(def),
                incoming: Some(Incoming { file }),
                job: existing.map(|_| JobRecord {
                    kind: JobKind::Restore,
                    path: from.into(),
                    managed: true,
                }),
                from_snapshot: false,
                migrate_in: false,
            },
        );
        if res.is_err() {
            self.lock().doms.remove_if_transient_inactive(&h.uuid);
        }
        res.map(|_| ())
    }

    pub fn save_image_xml(&self, file: &str, flags: u32) -> Result<String> {
        check_flags(flags, 1, "qemuDomainSaveImageGetXMLDesc")?;
        let mut f = std::fs::File::open(file).map_err(|e| {
            Error::system(
                FROM,
                format!("Failed to open domain image file '{}'", file),
                &e,
            )
        })?;
        let h = saveimage::read(&mut f, file)?;
        let def = self.parse_def_existing(&h.xml)?;
        Ok(def.format(FormatFlags {
            inactive: true,
            secure: flags & 1 != 0,
            ..Default::default()
        }))
    }

    /// virDomainSaveImageDefineXML (qemuDomainSaveImageDefineXML): the
    /// image's XML replaced by `dxml` when it describes the same guest
    /// (virDomainDefCheckABIStability's first checks), formatted
    /// inactive; RUNNING/PAUSED change the state the restore resumes in.
    pub fn save_image_define_xml(&self, file: &str, dxml: &str, flags: u32) -> Result<()> {
        check_flags(
            flags,
            flags::save::RUNNING | flags::save::PAUSED,
            "qemuDomainSaveImageDefineXML",
        )?;
        let state = if flags & flags::save::RUNNING != 0 {
            Some(true)
        } else if flags & flags::save::PAUSED != 0 {
            Some(false)
        } else {
            None
        };
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(file)
            .map_err(|e| {
                Error::system(
                    FROM,
                    format!("Failed to open domain image file '{}'", file),
                    &e,
                )
            })?;
        let h = saveimage::read(&mut f, file)?;
        if h.xml == dxml && state.is_none_or(|s| s == h.was_running) {
            return Ok(());
        }
        let old = self.parse_def_existing(&h.xml)?;
        let new = self.parse_def_existing(dxml)?;
        check_abi(&old, &new)?;
        let xml = new.format(FormatFlags {
            inactive: true,
            secure: true,
            ..Default::default()
        });
        saveimage::rewrite_xml(&mut f, file, &xml, state.unwrap_or(h.was_running))
    }

    pub fn managed_save_xml(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        let name = self.lock().dom(dom)?.def.name.clone();
        let p = self.layout.managed_save(&name);
        if !p.exists() {
            return Err(Error::operation_invalid(
                FROM,
                "domain does not have managed save image",
            ));
        }
        self.save_image_xml(&p.to_string_lossy(), flags)
    }

    // ---- memory ------------------------------------------------------------

    /// virDomainSetMemoryFlags, as qemuDomainSetMemoryFlags: the balloon
    /// target of the running guest (QMP `balloon`; the live current
    /// memory follows QEMU's BALLOON_CHANGE event) and/or the persistent
    /// definition's current memory; with MEM_MAXIMUM the persistent
    /// definition's `<memory>` (never the live one). AFFECT_CURRENT means
    /// live for a running domain, config otherwise.
    pub fn set_memory(&self, dom: &DomainRef, kib: u64, flags: u32) -> Result<()> {
        use flags::affect::{CONFIG, LIVE};
        use flags::mem::MAXIMUM;
        check_flags(flags, LIVE | CONFIG | MAXIMUM, "qemuDomainSetMemoryFlags")?;
        let _g = self.begin_job(dom)?;
        // virDomainObjGetDefs: which definitions the call changes.
        let (live, config, run) = {
            let st = self.lock();
            let obj = st.dom(dom)?;
            let active = obj.is_active();
            let (live, config) = obj.modification_impact(flags & (LIVE | CONFIG))?;
            // An inactive domain's only definition is the persistent one.
            (live && active, config || !active, obj.run.clone())
        };
        if flags & MAXIMUM != 0 {
            if live {
                return Err(Error::operation_invalid(
                    FROM,
                    "cannot resize the maximum memory on an active domain",
                ));
            }
            let def = {
                let mut st = self.lock();
                let obj = st.dom_mut(dom)?;
                let mut def = obj.persistent_def().clone();
                if numa_cells(&def) > 0 {
                    return Err(Error::operation_invalid(
                        FROM,
                        "initial memory size of a domain with NUMA nodes cannot be modified with this API",
                    ));
                }
                if let Some(m) = &def.max_memory {
                    if m.size > 0 && m.size < kib {
                        return Err(Error::operation_invalid(
                            FROM,
                            "cannot set initial memory size greater than the maximum memory size",
                        ));
                    }
                }
                def.memory = kib;
                def.current_memory = def.current_memory.min(kib);
                def
            };
            return self.store_persistent_def(dom, def);
        }
        // The current memory: at most the smaller maximum of the
        // definitions changed (virtio-mem memory is not the balloon's).
        let (live_max, pers_max) = {
            let st = self.lock();
            let obj = st.dom(dom)?;
            let max = |d: &oxvirt_xml::domain::Domain| d.memory.saturating_sub(virtio_mem(d));
            (
                live.then(|| max(&obj.def)),
                config.then(|| max(obj.persistent_def())),
            )
        };
        let oldmax = match (live_max, pers_max) {
            (Some(l), Some(p)) => l.min(p),
            (Some(l), None) => l,
            (None, Some(p)) => p,
            (None, None) => 0,
        };
        if kib > oldmax {
            return Err(Error::invalid_arg(
                FROM,
                "cannot set memory higher than max memory",
            ));
        }
        if live {
            let run = run.ok_or_else(|| Error::operation_invalid(FROM, "domain is not running"))?;
            match run
                .qmp
                .execute_value("balloon", Some(json!({"value": kib.saturating_mul(1024)})))
            {
                Ok(_) => {}
                Err(oxvirt_qmp::QmpError::Qemu { class, .. })
                    if class == "DeviceNotActive" || class == "KVMMissingCap" =>
                {
                    return Err(Error::operation_invalid(
                        FROM,
                        "Unable to change memory of active domain without the balloon device and guest OS balloon driver",
                    ));
                }
                Err(e) => return Err(qmp_err(e)),
            }
        }
        if config {
            let def = {
                let st = self.lock();
                let mut def = st.dom(dom)?.persistent_def().clone();
                def.current_memory = kib;
                def
            };
            self.store_persistent_def(dom, def)?;
        }
        Ok(())
    }

    /// Writes `def` as the domain's persistent definition, then installs
    /// it (the object changes only once the file is written).
    pub(crate) fn store_persistent_def(
        &self,
        dom: &DomainRef,
        def: oxvirt_xml::domain::Domain,
    ) -> Result<()> {
        self.save_config(&def)?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        if obj.is_active() {
            obj.new_def = Some(def);
            self.save_status(&obj);
        } else {
            obj.def = def;
        }
        Ok(())
    }

    // ---- statistics --------------------------------------------------------

    /// Bulk stats: state, cpu-total, balloon, vcpu, interface, block.
    pub fn all_stats(
        &self,
        doms: Option<&[DomainRef]>,
        stats: u32,
        flags: u32,
    ) -> Result<Vec<(DomainRef, Vec<TypedParam>)>> {
        use flags::stats as s;
        let stats = if stats == 0 {
            s::STATE | s::CPU_TOTAL | s::BALLOON | s::VCPU | s::INTERFACE | s::BLOCK
        } else {
            stats
        };
        let mut out = Vec::new();
        for h in self.stats_targets(doms, flags)? {
            let (state, why, def, run) = {
                let st = self.lock();
                let Ok(o) = st.dom(&h) else { continue };
                (o.state, o.reason, o.def.clone(), o.run.clone())
            };
            let mut p = Vec::new();
            let ull = |k: &str, v: u64| TypedParam::new(k, TypedValue::ULLong(v));
            if stats & s::STATE != 0 {
                p.push(TypedParam::new(
                    "state.state",
                    TypedValue::Int(state as i32),
                ));
                p.push(TypedParam::new("state.reason", TypedValue::Int(why)));
            }
            if stats & s::CPU_TOTAL != 0 {
                if let Some(r) = &run {
                    let (u, sy) = crate::hostproc::cpu_user_system(r.pid);
                    p.push(ull("cpu.time", u + sy));
                    p.push(ull("cpu.user", u));
                    p.push(ull("cpu.system", sy));
                }
            }
            if stats & s::BALLOON != 0 {
                p.push(ull("balloon.current", def.current_memory));
                p.push(ull("balloon.maximum", def.memory));
            }
            if stats & s::VCPU != 0 {
                p.push(TypedParam::new(
                    "vcpu.current",
                    TypedValue::UInt(def.vcpu.current),
                ));
                p.push(TypedParam::new(
                    "vcpu.maximum",
                    TypedValue::UInt(def.vcpu.max),
                ));
            }
            if stats & s::INTERFACE != 0 {
                p.push(TypedParam::new(
                    "net.count",
                    TypedValue::UInt(if run.is_some() {
                        def.devices.interfaces.len() as u32
                    } else {
                        0
                    }),
                ));
            }
            if stats & s::BLOCK != 0 {
                let disks: Vec<_> = if run.is_some() {
                    def.devices.disks.iter().collect()
                } else {
                    Vec::new()
                };
                p.push(TypedParam::new(
                    "block.count",
                    TypedValue::UInt(disks.len() as u32),
                ));
                for (i, d) in disks.iter().enumerate() {
                    if let Some(t) = &d.target_dev {
                        p.push(TypedParam::new(
                            format!("block.{}.name", i),
                            TypedValue::String(t.clone()),
                        ));
                    }
                    if let Some(src) = &d.source {
                        p.push(TypedParam::new(
                            format!("block.{}.path", i),
                            TypedValue::String(src.clone()),
                        ));
                    }
                }
            }
            out.push((h, p));
        }
        Ok(out)
    }
}

/// The guest NUMA cells a definition declares.
fn numa_cells(def: &oxvirt_xml::domain::Domain) -> usize {
    def.sections
        .raw("cpu")
        .and_then(|c| c.child("numa"))
        .map(|n| n.children_named("cell").count())
        .unwrap_or(0)
}

/// KiB of virtio-mem devices, which the balloon does not cover.
fn virtio_mem(def: &oxvirt_xml::domain::Domain) -> u64 {
    def.devices
        .raw
        .iter()
        .filter(|r| r.0.name == "memory" && r.0.attr("model") == Some("virtio-mem"))
        .filter_map(|r| r.0.child("target").and_then(|t| t.child("size")))
        .filter_map(|s| oxvirt_xml::props::memory_kib(&s.text(), s.attr("unit"), "./size").ok())
        .sum()
}

/// The first checks of virDomainDefCheckABIStability: a replacement
/// definition must describe the same guest.
fn check_abi(src: &oxvirt_xml::domain::Domain, dst: &oxvirt_xml::domain::Domain) -> Result<()> {
    let bad = |m: String| {
        Err(Error::new(
            code::CONFIG_UNSUPPORTED,
            oxvirt_core::error::from::DOMAIN,
            m,
        ))
    };
    if src.virt_type != dst.virt_type {
        return bad(format!(
            "Target domain virt type {} does not match source {}",
            dst.virt_type, src.virt_type
        ));
    }
    if src.uuid != dst.uuid {
        return bad(format!(
            "Target domain uuid {} does not match source {}",
            dst.uuid, src.uuid
        ));
    }
    if src.name != dst.name {
        return bad(format!(
            "Target domain name '{}' does not match source '{}'",
            dst.name, src.name
        ));
    }
    if src.os.os_type != dst.os.os_type {
        return bad(format!(
            "Target domain OS type {} does not match source {}",
            dst.os.os_type, src.os.os_type
        ));
    }
    if src.memory != dst.memory {
        return bad(format!(
            "Target domain max memory {} does not match source {}",
            dst.memory, src.memory
        ));
    }
    Ok(())
}
