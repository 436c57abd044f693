//! The definition APIs: listing and lookup, define and undefine, XML,
//! state and info, autostart, managed-save images, control info, and the
//! domains a statistics call covers.

use oxvirt_core::error::code;
use oxvirt_core::event::{lifecycle as lc, DomainEvent};
use oxvirt_core::types::flags::{self, list_domains as lf};
use oxvirt_core::types::{DomainInfo, DomainRef, Uuid};
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::FormatFlags;

use crate::driver::{check_flags, def_handle, no_domain_uuid, DomainObj, Driver};
use crate::store;
use crate::FROM;

impl Driver {
    // ---- listing and lookup --------------------------------------------

    pub fn list_all_domains(&self, flags: u32) -> Result<Vec<DomainRef>> {
        check_flags(flags, 0xffff, "virConnectListAllDomains")?;
        let st = self.lock_all_ready();
        Ok(st
            .doms
            .iter()
            .filter(|d| self.matches_list_flags(d, flags))
            .map(DomainObj::handle)
            .collect())
    }

    fn matches_list_flags(&self, obj: &DomainObj, f: u32) -> bool {
        let managed_save = f & (lf::MANAGEDSAVE | lf::NO_MANAGEDSAVE) != 0
            && self.has_managed_save_file(&obj.def.name);
        // This driver keeps no snapshots or checkpoints yet.
        obj.list_facts(managed_save, false, false).matches(f)
    }

    pub fn lookup_by_id(&self, id: i32) -> Result<DomainRef> {
        let st = self.lock_all_ready();
        st.doms.by_id(id).map(DomainObj::handle).ok_or_else(|| {
            Error::new(
                code::NO_DOMAIN,
                FROM,
                format!("no domain with matching id {}", id),
            )
        })
    }

    pub fn lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        let missing = || {
            Error::new(
                code::NO_DOMAIN,
                FROM,
                format!("no domain with matching name '{}'", name),
            )
        };
        let uuid = {
            let st = self.lock();
            st.doms.by_name(name).map(|o| o.def.uuid)
        };
        self.ready_handle(uuid.ok_or_else(missing)?)
            .ok_or_else(missing)?
    }

    pub fn lookup_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.ready_handle(*uuid).ok_or_else(|| {
            Error::new(
                code::NO_DOMAIN,
                FROM,
                format!("no domain with matching uuid '{}'", uuid),
            )
        })?
    }

    /// The handle of `uuid` once it is re-attached (`None`: unknown).
    fn ready_handle(&self, uuid: Uuid) -> Option<Result<DomainRef>> {
        let probe = DomainRef {
            name: String::new(),
            uuid,
            id: -1,
        };
        match self.read(&probe) {
            Ok(st) => st.dom(&probe).ok().map(|o| Ok(o.handle())),
            Err(e) if e.code == code::NO_DOMAIN => None,
            Err(e) => Some(Err(e)),
        }
    }

    // ---- definitions ---------------------------------------------------

    pub fn define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        check_flags(flags, flags::define::VALIDATE, "qemuDomainDefineXMLFlags")?;
        let def = self.parse_def(xml)?;
        let mut st = self.lock_all_ready();
        let (i, updated) = Self::add_domain(&mut st, def.clone(), false)?;
        if let Err(e) = self.save_config(&def) {
            if !updated {
                st.doms.remove(i);
            }
            return Err(e);
        }
        let Some(mut obj) = st.doms.get_mut(i) else {
            return Err(no_domain_uuid(&def_handle(&def)));
        };
        obj.persistent = true;
        let h = obj.handle();
        if obj.is_active() {
            self.save_status(&obj);
        }
        drop(obj);
        drop(st);
        let detail = if updated {
            lc::defined::UPDATED
        } else {
            lc::defined::ADDED
        };
        self.emit(vec![DomainEvent::lifecycle(h.clone(), lc::DEFINED, detail)]);
        Ok(h)
    }

    pub fn undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        use flags::undefine::{
            CHECKPOINTS_METADATA, KEEP_NVRAM, KEEP_TPM, MANAGED_SAVE, NVRAM, SNAPSHOTS_METADATA,
            TPM,
        };
        check_flags(
            flags,
            MANAGED_SAVE
                | SNAPSHOTS_METADATA
                | NVRAM
                | KEEP_NVRAM
                | CHECKPOINTS_METADATA
                | TPM
                | KEEP_TPM,
            "qemuDomainUndefineFlags",
        )?;
        if flags & NVRAM != 0 && flags & KEEP_NVRAM != 0 {
            return Err(Error::new(
                code::OPERATION_INVALID,
                FROM,
                "cannot both keep and delete nvram",
            ));
        }
        // This driver runs no TPM emulator (swtpm), so there is no TPM
        // state to keep or delete: the flags only need to be accepted.
        if flags & TPM != 0 && flags & KEEP_TPM != 0 {
            return Err(Error::new(
                code::OPERATION_INVALID,
                FROM,
                "cannot both keep and delete TPM",
            ));
        }
        let _job = self.begin_job(dom)?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        let i = obj.key();
        if !obj.persistent {
            return Err(Error::operation_invalid(
                FROM,
                "cannot undefine transient domain",
            ));
        }
        let name = obj.def.name.clone();
        let nsnapshots = obj.snapshots.len();
        if !obj.is_active() && nsnapshots > 0 {
            if flags & SNAPSHOTS_METADATA == 0 {
                return Err(Error::operation_invalid(
                    FROM,
                    format!(
                        "cannot delete inactive domain with {} snapshots",
                        nsnapshots
                    ),
                ));
            }
            obj.snapshots = Default::default();
            crate::snapmeta::remove_all(&self.layout, &name);
        }
        let ms = self.layout.managed_save(&name);
        if !obj.is_active() && ms.exists() {
            if flags & MANAGED_SAVE == 0 {
                return Err(Error::operation_invalid(
                    FROM,
                    "Refusing to undefine while domain managed save image exists",
                ));
            }
            store::remove(&ms).map_err(|_| {
                Error::new(
                    code::SYSTEM_ERROR,
                    FROM,
                    format!(
                        "Failed to remove domain managed save image {}",
                        ms.display()
                    ),
                )
            })?;
        }
        if let Some(nv) =
            crate::firmware::nvram_path(obj.persistent_def(), &self.layout.nvram_dir())
                .filter(|p| p.exists())
        {
            if flags & NVRAM != 0 {
                std::fs::remove_file(&nv).map_err(|e| {
                    Error::system(
                        FROM,
                        format!("failed to remove nvram: {}", nv.display()),
                        &e,
                    )
                })?;
            } else if flags & KEEP_NVRAM == 0 {
                return Err(Error::operation_invalid(
                    FROM,
                    "cannot undefine domain with nvram",
                ));
            }
        }
        store::remove(&self.layout.config(&name))?;
        store::remove(&self.layout.autostart(&name))?;
        let h = obj.handle();
        obj.autostart = false;
        if obj.is_active() {
            obj.persistent = false;
            obj.new_def = None;
            drop(obj);
        } else {
            drop(obj);
            st.doms.remove(i);
        }
        drop(st);
        self.emit(vec![DomainEvent::lifecycle(
            h,
            lc::UNDEFINED,
            lc::undefined::REMOVED,
        )]);
        Ok(())
    }

    // ---- state and description -----------------------------------------

    pub fn get_xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        use flags::domain_xml::{INACTIVE, MIGRATABLE, SECURE, UPDATE_CPU};
        check_flags(
            flags,
            SECURE | INACTIVE | UPDATE_CPU | MIGRATABLE,
            "qemuDomainGetXMLDesc",
        )?;
        let st = self.read(dom)?;
        let obj = st.dom(dom)?;
        let inactive = flags & INACTIVE != 0;
        let def = if inactive {
            obj.persistent_def()
        } else {
            &obj.def
        };
        let mut def = def.clone();
        if !obj.is_active() || inactive {
            def.id = None;
        }
        Ok(def.format(FormatFlags {
            inactive: inactive || !obj.is_active(),
            secure: flags & SECURE != 0,
            migratable: flags & MIGRATABLE != 0,
        }))
    }

    pub fn get_state(&self, dom: &DomainRef, flags: u32) -> Result<(i32, i32)> {
        check_flags(flags, 0, "qemuDomainGetState")?;
        let st = self.read(dom)?;
        let obj = st.dom(dom)?;
        Ok((obj.state as i32, obj.reason))
    }

    pub fn get_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        let (state, def, run) = {
            let st = self.read(dom)?;
            let obj = st.dom(dom)?;
            (obj.state, obj.def.clone(), obj.run.clone())
        };
        let cpu_time = match &run {
            Some(r) => crate::hostproc::cpu_time(r.pid),
            None => 0,
        };
        Ok(DomainInfo {
            state,
            max_mem: def.memory,
            memory: def.current_memory,
            nr_virt_cpu: def.vcpu.current as u16,
            cpu_time,
        })
    }

    pub fn is_active(&self, dom: &DomainRef) -> Result<bool> {
        Ok(self.read(dom)?.dom(dom)?.is_active())
    }

    pub fn is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        Ok(self.read(dom)?.dom(dom)?.persistent)
    }

    pub fn get_autostart(&self, dom: &DomainRef) -> Result<bool> {
        Ok(self.read(dom)?.dom(dom)?.autostart)
    }

    pub fn set_autostart(&self, dom: &DomainRef, on: bool) -> Result<()> {
        let mut st = self.read(dom)?;
        let mut obj = st.dom_mut(dom)?;
        if !obj.persistent {
            return Err(Error::operation_invalid(
                FROM,
                "cannot set autostart for transient domain",
            ));
        }
        let p = self.layout.autostart(&obj.def.name);
        if on {
            store::create_marker(&p)?;
        } else {
            store::remove(&p)?;
        }
        obj.autostart = on;
        Ok(())
    }

    pub fn has_managed_save(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "qemuDomainHasManagedSaveImage")?;
        let name = self.read(dom)?.dom(dom)?.def.name.clone();
        Ok(self.has_managed_save_file(&name))
    }

    pub fn managed_save_remove(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "qemuDomainManagedSaveRemove")?;
        let _job = self.begin_job(dom)?;
        let name = self.lock().dom(dom)?.def.name.clone();
        let p = self.layout.managed_save(&name);
        std::fs::remove_file(&p).map_err(|e| {
            Error::system(
                FROM,
                format!("Failed to remove managed save file '{}'", p.display()),
                &e,
            )
        })
    }

    pub fn control_info(
        &self,
        dom: &DomainRef,
        flags: u32,
    ) -> Result<oxvirt_core::types::ControlInfo> {
        check_flags(flags, 0, "qemuDomainGetControlInfo")?;
        let st = self.read(dom)?;
        let obj = st.dom(dom)?;
        obj.check_active()?;
        let busy = obj.job.is_busy();
        Ok(oxvirt_core::types::ControlInfo {
            state: if busy { 2 } else { 0 },
            details: 0,
            state_time: if busy {
                obj.state_time.elapsed().as_millis() as u64
            } else {
                0
            },
        })
    }

    /// Handles for stats requests.
    pub(crate) fn stats_targets(
        &self,
        doms: Option<&[DomainRef]>,
        flags: u32,
    ) -> Result<Vec<DomainRef>> {
        match doms {
            Some(d) => d
                .iter()
                .map(|h| self.read(h)?.dom(h).map(DomainObj::handle))
                .collect(),
            None => {
                let f = flags & 0xff;
                let st = self.lock_all_ready();
                Ok(st
                    .doms
                    .iter()
                    .filter(|d| self.matches_list_flags(d, f))
                    .map(DomainObj::handle)
                    .collect())
            }
        }
    }
}
