//! Domain lifecycle, state and configuration APIs.

use oxvirt_core::domobj::{AddFlags, Key};
use oxvirt_core::error::{code, from};
use oxvirt_core::event::{lifecycle as lc, DomainEvent};
use oxvirt_core::types::flags;
use oxvirt_core::types::{reason, DomainInfo, DomainRef, DomainState, Uuid};
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::{FormatFlags, LifecycleAction};

use crate::state::{DomainObj, Driver, FROM};

pub(crate) use crate::base::check_flags;

fn no_domain() -> Error {
    Error::new(code::NO_DOMAIN, FROM, "")
}

pub(crate) fn matches_list_flags(obj: &DomainObj, f: u32) -> bool {
    obj.list_facts(
        obj.has_managed_save,
        !obj.snapshots.is_empty(),
        !obj.checkpoints.is_empty(),
    )
    .matches(f)
}

/// All list filter flags virConnectListAllDomains accepts.
const LIST_ALL_FLAGS: u32 = 0xffff;

impl Driver {
    pub fn list_all_domains(&self, flags: u32) -> Result<Vec<DomainRef>> {
        check_flags(flags, LIST_ALL_FLAGS, "virConnectListAllDomains")?;
        let st = self.lock();
        Ok(st
            .domains
            .iter()
            .filter(|d| matches_list_flags(d, flags))
            .map(DomainObj::handle)
            .collect())
    }

    pub fn lookup_by_id(&self, id: i32) -> Result<DomainRef> {
        let st = self.lock();
        st.domains
            .by_id(id)
            .map(DomainObj::handle)
            .ok_or_else(no_domain)
    }

    pub fn lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        let st = self.lock();
        st.domains
            .by_name(name)
            .map(DomainObj::handle)
            .ok_or_else(no_domain)
    }

    pub fn lookup_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        let st = self.lock();
        st.domains
            .by_uuid(uuid)
            .map(DomainObj::handle)
            .ok_or_else(no_domain)
    }

    /// virDomainObjListAdd (libvirt's name and UUID clash rules): the
    /// object's key and whether an existing object was updated.
    fn add_domain(
        st: &mut crate::state::State,
        def: oxvirt_xml::domain::Domain,
        live: bool,
    ) -> Result<(Key, bool)> {
        let add = AddFlags {
            live,
            check_live: live,
            keep_existing: false,
        };
        st.domains.add(def, add, crate::state::TestDomain::new)
    }

    pub fn define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        check_flags(flags, flags::define::VALIDATE, "testDomainDefineXMLFlags")?;
        let def = self.parse_domain(xml, flags & flags::define::VALIDATE != 0)?;
        if def.name.contains('\n') {
            return Err(Error::new(
                code::XML_ERROR,
                from::DOMAIN,
                format!("name {} cannot contain '\\n'", def.name),
            ));
        }
        let mut st = self.lock();
        let (key, updated) = Self::add_domain(&mut st, def, false)?;
        let h = match st.domains.get_mut(key) {
            Some(mut obj) => {
                obj.persistent = true;
                obj.handle()
            }
            None => return Err(no_domain()),
        };
        drop(st);
        let detail = if updated {
            lc::defined::UPDATED
        } else {
            lc::defined::ADDED
        };
        self.emit(vec![DomainEvent::lifecycle(h.clone(), lc::DEFINED, detail)]);
        Ok(h)
    }

    pub fn create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        check_flags(flags, flags::create::VALIDATE, "testDomainCreateXML")?;
        let def = self.parse_domain(xml, flags & flags::create::VALIDATE != 0)?;
        let mut st = self.lock();
        let (key, _) = Self::add_domain(&mut st, def, true)?;
        st.start_state(key, reason::running::BOOTED);
        let h = st
            .domains
            .get(key)
            .map(DomainObj::handle)
            .ok_or_else(no_domain)?;
        drop(st);
        self.emit(vec![DomainEvent::lifecycle(
            h.clone(),
            lc::STARTED,
            lc::started::BOOTED,
        )]);
        Ok(h)
    }

    pub fn create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        check_flags(flags, 0, "testDomainCreateWithFlags")?;
        let mut st = self.lock();
        let key = st
            .domains
            .find_uuid(&dom.uuid)
            .ok_or_else(|| crate::state::no_domain_uuid(dom))?;
        if st.dom(dom)?.state != DomainState::Shutoff {
            return Err(Error::internal(
                FROM,
                format!("Domain '{}' is already running", dom.name),
            ));
        }
        st.start_state(key, reason::running::BOOTED);
        let h = st.dom(dom)?.handle();
        drop(st);
        self.emit(vec![DomainEvent::lifecycle(
            h.clone(),
            lc::STARTED,
            lc::started::BOOTED,
        )]);
        Ok(h)
    }

    /// Stops a domain: state, reason, transient definition dropped, and a
    /// transient domain removed (testDomainShutdownState and friends).
    fn stop(st: &mut crate::state::State, uuid: &Uuid, why: i32) -> Option<DomainRef> {
        let key = st.domains.find_uuid(uuid)?;
        let mut obj = st.domains.get_mut(key)?;
        obj.remove_transient_def();
        obj.set_state(DomainState::Shutoff, why);
        let h = obj.handle();
        let transient = !obj.persistent;
        drop(obj);
        if transient {
            st.domains.remove(key);
        }
        Some(h)
    }

    pub fn destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, flags::destroy::GRACEFUL, "testDomainDestroyFlags")?;
        let mut st = self.lock();
        st.dom(dom)?.check_active()?;
        let h = Self::stop(&mut st, &dom.uuid, reason::shutoff::DESTROYED);
        drop(st);
        if let Some(h) = h {
            self.emit(vec![DomainEvent::lifecycle(
                h,
                lc::STOPPED,
                lc::stopped::DESTROYED,
            )]);
        }
        Ok(())
    }

    pub fn suspend(&self, dom: &DomainRef) -> Result<()> {
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        if matches!(obj.state, DomainState::Shutoff | DomainState::Paused) {
            return Err(Error::internal(
                FROM,
                format!("domain '{}' not running", dom.name),
            ));
        }
        obj.set_state(DomainState::Paused, reason::paused::USER);
        let h = obj.handle();
        drop(obj);
        drop(st);
        self.emit(vec![DomainEvent::lifecycle(
            h,
            lc::SUSPENDED,
            lc::suspended::PAUSED,
        )]);
        Ok(())
    }

    pub fn resume(&self, dom: &DomainRef) -> Result<()> {
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        if obj.state != DomainState::Paused {
            return Err(Error::internal(
                FROM,
                format!("domain '{}' not paused", dom.name),
            ));
        }
        obj.set_state(DomainState::Running, reason::running::UNPAUSED);
        let h = obj.handle();
        drop(obj);
        drop(st);
        self.emit(vec![DomainEvent::lifecycle(
            h,
            lc::RESUMED,
            lc::resumed::UNPAUSED,
        )]);
        Ok(())
    }

    /// Applies an on_poweroff/on_reboot action (testDomainActionSetState)
    /// and stops the domain when the action ends it.
    fn lifecycle_action(&self, dom: &DomainRef, action: LifecycleAction) -> Result<()> {
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        match action {
            LifecycleAction::Restart | LifecycleAction::RenameRestart => {
                obj.set_state(DomainState::Running, reason::running::BOOTED);
                return Ok(());
            }
            _ => obj.set_state(DomainState::Shutoff, reason::shutoff::SHUTDOWN),
        }
        drop(obj);
        let h = Self::stop(&mut st, &dom.uuid, reason::shutoff::SHUTDOWN);
        drop(st);
        if let Some(h) = h {
            self.emit(vec![DomainEvent::lifecycle(
                h,
                lc::STOPPED,
                lc::stopped::SHUTDOWN,
            )]);
        }
        Ok(())
    }

    pub fn shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testDomainShutdownFlags")?;
        let action = {
            let st = self.lock();
            let obj = st.dom(dom)?;
            if obj.state == DomainState::Shutoff {
                return Err(Error::internal(
                    FROM,
                    format!("domain '{}' not running", dom.name),
                ));
            }
            obj.def.on_poweroff
        };
        self.lifecycle_action(dom, action)
    }

    pub fn reboot(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0x3f, "testDomainReboot")?;
        let action = {
            let st = self.lock();
            let obj = st.dom(dom)?;
            obj.check_active()?;
            obj.def.on_reboot
        };
        self.lifecycle_action(dom, action)
    }

    pub fn reset(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testDomainReset")?;
        self.lock().dom(dom)?.check_active()
    }

    pub fn undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        use flags::undefine::{MANAGED_SAVE, SNAPSHOTS_METADATA};
        check_flags(
            flags,
            MANAGED_SAVE | SNAPSHOTS_METADATA,
            "testDomainUndefineFlags",
        )?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        if obj.has_managed_save && flags & MANAGED_SAVE == 0 {
            return Err(Error::operation_invalid(
                FROM,
                "Refusing to undefine while domain managed save image exists",
            ));
        }
        if !obj.is_active() {
            let n = obj.snapshots.len();
            if n > 0 && flags & SNAPSHOTS_METADATA == 0 {
                return Err(Error::operation_invalid(
                    FROM,
                    format!("cannot delete inactive domain with {} snapshots", n),
                ));
            }
        }
        let h = obj.handle();
        obj.has_managed_save = false;
        let key = obj.key();
        if obj.is_active() {
            obj.persistent = false;
            drop(obj);
        } else {
            drop(obj);
            st.domains.remove(key);
        }
        drop(st);
        self.emit(vec![DomainEvent::lifecycle(
            h,
            lc::UNDEFINED,
            lc::undefined::REMOVED,
        )]);
        Ok(())
    }

    pub fn get_xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        use flags::domain_xml::{INACTIVE, MIGRATABLE, SECURE, UPDATE_CPU};
        check_flags(
            flags,
            SECURE | INACTIVE | UPDATE_CPU | MIGRATABLE,
            "testDomainGetXMLDesc",
        )?;
        let st = self.lock();
        let obj = st.dom(dom)?;
        let def = if flags & INACTIVE != 0 {
            obj.persistent_def()
        } else {
            &obj.def
        };
        let inactive = flags & INACTIVE != 0 || !obj.is_active();
        Ok(def.format(FormatFlags {
            inactive,
            secure: flags & SECURE != 0,
            migratable: flags & MIGRATABLE != 0,
        }))
    }

    pub fn get_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        let st = self.lock();
        let obj = st.dom(dom)?;
        Ok(DomainInfo {
            state: obj.state,
            max_mem: obj.def.memory,
            memory: obj.def.current_memory,
            nr_virt_cpu: obj.def.vcpu.current as u16,
            cpu_time: now_micros() * 1000,
        })
    }

    pub fn get_state(&self, dom: &DomainRef, flags: u32) -> Result<(i32, i32)> {
        check_flags(flags, 0, "testDomainGetState")?;
        let st = self.lock();
        let obj = st.dom(dom)?;
        Ok((obj.state as i32, obj.reason))
    }

    pub fn get_max_memory(&self, dom: &DomainRef) -> Result<u64> {
        Ok(self.lock().dom(dom)?.def.memory)
    }

    pub fn get_autostart(&self, dom: &DomainRef) -> Result<bool> {
        Ok(self.lock().dom(dom)?.autostart)
    }

    pub fn set_autostart(&self, dom: &DomainRef, on: bool) -> Result<()> {
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        if !obj.persistent {
            return Err(Error::operation_invalid(
                FROM,
                "cannot set autostart for transient domain",
            ));
        }
        obj.autostart = on;
        Ok(())
    }

    pub fn is_active(&self, dom: &DomainRef) -> Result<bool> {
        Ok(self.lock().dom(dom)?.is_active())
    }

    pub fn is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        Ok(self.lock().dom(dom)?.persistent)
    }

    pub fn managed_save(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        use flags::save::{BYPASS_CACHE, PAUSED, RUNNING};
        check_flags(
            flags,
            BYPASS_CACHE | RUNNING | PAUSED,
            "testDomainManagedSave",
        )?;
        let mut st = self.lock();
        let obj = st.dom(dom)?;
        obj.check_active()?;
        if !obj.persistent {
            return Err(Error::operation_invalid(
                FROM,
                "cannot do managed save for transient domain",
            ));
        }
        let h = Self::stop(&mut st, &dom.uuid, reason::shutoff::SAVED);
        if let Ok(mut obj) = st.dom_mut(dom) {
            obj.has_managed_save = true;
        }
        drop(st);
        if let Some(h) = h {
            self.emit(vec![DomainEvent::lifecycle(
                h,
                lc::STOPPED,
                lc::stopped::SAVED,
            )]);
        }
        Ok(())
    }

    pub fn has_managed_save(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "testDomainHasManagedSaveImage")?;
        Ok(self.lock().dom(dom)?.has_managed_save)
    }

    pub fn managed_save_remove(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testDomainManagedSaveRemove")?;
        self.lock().dom_mut(dom)?.has_managed_save = false;
        Ok(())
    }

    pub fn save(&self, dom: &DomainRef, path: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testDomainSaveFlags")?;
        if dxml.is_some() {
            return Err(Error::argument_unsupported(
                FROM,
                "xml modification unsupported",
            ));
        }
        let mut st = self.lock();
        let obj = st.dom(dom)?;
        obj.check_active()?;
        let xml = obj.def.format(FormatFlags {
            secure: true,
            ..Default::default()
        });
        crate::saveimage::write(path, &obj.def.name, &xml)?;
        let h = Self::stop(&mut st, &dom.uuid, reason::shutoff::SAVED);
        drop(st);
        if let Some(h) = h {
            self.emit(vec![DomainEvent::lifecycle(
                h,
                lc::STOPPED,
                lc::stopped::SAVED,
            )]);
        }
        Ok(())
    }

    /// Reads a save image's definition (testDomainSaveImageOpen).
    fn read_save_image(&self, path: &str) -> Result<oxvirt_xml::domain::Domain> {
        let xml = crate::saveimage::read(path)?;
        let flags = oxvirt_xml::domain::ParseFlags {
            inactive: true,
            ..Default::default()
        };
        oxvirt_xml::domain::Domain::parse(&xml, flags, &crate::state::parse_options())
            .map_err(|e| Error::from_xml(e, from::DOMAIN))
    }

    pub fn restore(&self, path: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testDomainRestoreFlags")?;
        if dxml.is_some() {
            return Err(Error::argument_unsupported(
                FROM,
                "xml modification unsupported",
            ));
        }
        let mut def = self.read_save_image(path)?;
        crate::state::prepare_def(&mut def);
        let mut st = self.lock();
        let (key, _) = Self::add_domain(&mut st, def, true)?;
        st.start_state(key, reason::running::RESTORED);
        let h = st
            .domains
            .get(key)
            .map(DomainObj::handle)
            .ok_or_else(no_domain)?;
        drop(st);
        self.emit(vec![DomainEvent::lifecycle(
            h,
            lc::STARTED,
            lc::started::RESTORED,
        )]);
        Ok(())
    }

    pub fn save_image_get_xml_desc(&self, path: &str, flags: u32) -> Result<String> {
        check_flags(flags, 1, "testDomainSaveImageGetXMLDesc")?;
        let def = self.read_save_image(path)?;
        Ok(def.format(FormatFlags {
            secure: true,
            ..Default::default()
        }))
    }

    pub fn save_image_define_xml(&self, path: &str, dxml: &str, flags: u32) -> Result<()> {
        use flags::save::{PAUSED, RUNNING};
        check_flags(flags, RUNNING | PAUSED, "testDomainSaveImageDefineXML")?;
        self.read_save_image(path)?;
        let def = self.parse_domain(dxml, false)?;
        let xml = def.format(FormatFlags {
            secure: true,
            ..Default::default()
        });
        crate::saveimage::write(path, &def.name, &xml)
    }

    pub fn core_dump(&self, dom: &DomainRef, to: &str, format: u32, flags: u32) -> Result<()> {
        const CRASH: u32 = 1;
        check_flags(flags, CRASH, "testDomainCoreDumpWithFormat")?;
        let mut st = self.lock();
        st.dom(dom)?.check_active()?;
        crate::saveimage::write_core_header(to, &dom.name)?;
        if format != 0 {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                "kdump-compressed format is not supported here",
            ));
        }
        if flags & CRASH != 0 {
            let h = Self::stop(&mut st, &dom.uuid, reason::shutoff::CRASHED);
            drop(st);
            if let Some(h) = h {
                self.emit(vec![DomainEvent::lifecycle(
                    h,
                    lc::STOPPED,
                    lc::stopped::CRASHED,
                )]);
            }
        }
        Ok(())
    }

    pub fn rename(&self, dom: &DomainRef, new_name: &str, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testDomainRename")?;
        let mut st = self.lock();
        let obj = st.dom(dom)?;
        if obj.is_active() {
            return Err(Error::operation_invalid(
                FROM,
                "cannot rename active domain",
            ));
        }
        if !obj.persistent {
            return Err(Error::operation_invalid(
                FROM,
                "cannot rename a transient domain",
            ));
        }
        if obj.state != DomainState::Shutoff {
            return Err(Error::operation_invalid(
                FROM,
                "domain has to be shutoff before renaming",
            ));
        }
        if let Some(other) = st.domains.by_name(new_name) {
            return Err(Error::operation_invalid(
                FROM,
                format!("domain with name '{}' already exists", other.def.name),
            ));
        }
        if obj.def.name == new_name {
            return Err(Error::operation_invalid(
                FROM,
                "Can't rename domain to itself",
            ));
        }
        if new_name.contains('/') {
            return Err(Error::new(
                code::XML_ERROR,
                FROM,
                format!("name {} cannot contain '/'", new_name),
            ));
        }
        let old = obj.handle();
        let mut obj = st.dom_mut(dom)?;
        obj.def.name = new_name.to_string();
        let new = obj.handle();
        drop(obj);
        drop(st);
        self.emit(vec![
            DomainEvent::lifecycle(old, lc::UNDEFINED, lc::undefined::RENAMED),
            DomainEvent::lifecycle(new, lc::DEFINED, lc::defined::RENAMED),
        ]);
        Ok(())
    }

    pub fn set_memory(&self, dom: &DomainRef, kib: u64, flags: u32) -> Result<()> {
        use flags::affect::{CONFIG, LIVE};
        use flags::mem::MAXIMUM;
        check_flags(flags, LIVE | CONFIG | MAXIMUM, "testDomainSetMemoryFlags")?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        let live = obj.modification_impact(flags & (LIVE | CONFIG))?.0 && flags & CONFIG == 0;
        let def = obj.one_def_mut(flags & (LIVE | CONFIG))?;
        if flags & MAXIMUM != 0 {
            if live {
                return Err(Error::operation_invalid(
                    FROM,
                    "cannot resize the maximum memory on an active domain",
                ));
            }
            if let Some(m) = def.max_memory {
                if m.size > 0 && m.size < kib {
                    return Err(Error::operation_invalid(
                        FROM,
                        "cannot set initial memory size greater than the maximum memory size",
                    ));
                }
            }
            def.memory = kib;
            if def.current_memory > kib {
                def.current_memory = kib;
            }
        } else {
            if kib > def.memory {
                return Err(Error::invalid_arg(
                    FROM,
                    "cannot set memory higher than max memory",
                ));
            }
            def.current_memory = kib;
        }
        Ok(())
    }

    pub fn get_vcpus_flags(&self, dom: &DomainRef, flags: u32) -> Result<i32> {
        use flags::affect::{CONFIG, LIVE};
        use flags::vcpu::MAXIMUM;
        check_flags(flags, LIVE | CONFIG | MAXIMUM, "testDomainGetVcpusFlags")?;
        let st = self.lock();
        let def = st.dom(dom)?.one_def(flags & (LIVE | CONFIG))?;
        Ok(if flags & MAXIMUM != 0 {
            def.vcpu.max as i32
        } else {
            def.vcpu.current as i32
        })
    }

    pub fn set_vcpus(&self, dom: &DomainRef, n: u32, flags: u32) -> Result<()> {
        use flags::affect::{CONFIG, LIVE};
        use flags::vcpu::MAXIMUM;
        check_flags(flags, LIVE | CONFIG | MAXIMUM, "testDomainSetVcpusFlags")?;
        let max_supported = 32;
        if n > max_supported {
            return Err(Error::invalid_arg(
                FROM,
                format!(
                    "requested cpu amount exceeds maximum supported amount ({} > {})",
                    n, max_supported
                ),
            ));
        }
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        let (live, pers) = obj.defs_mut(flags & (LIVE | CONFIG))?;
        if let Some(d) = &live {
            if d.vcpu.max < n {
                return Err(Error::invalid_arg(
                    FROM,
                    format!(
                        "requested cpu amount exceeds maximum ({} > {})",
                        n, d.vcpu.max
                    ),
                ));
            }
        }
        if let Some(p) = &pers {
            if flags & MAXIMUM == 0 && p.vcpu.max < n {
                return Err(Error::invalid_arg(
                    FROM,
                    format!(
                        "requested cpu amount exceeds maximum ({} > {})",
                        n, p.vcpu.max
                    ),
                ));
            }
        }
        if let Some(d) = live {
            d.vcpu.current = n;
        }
        if let Some(p) = pers {
            if flags & MAXIMUM != 0 {
                p.vcpu.max = n;
                if p.vcpu.current > n {
                    p.vcpu.current = n;
                }
            } else {
                p.vcpu.current = n;
            }
        }
        Ok(())
    }

    pub fn get_security_label(&self, dom: &DomainRef) -> Result<oxvirt_core::types::SecurityLabel> {
        let st = self.lock();
        let obj = st.dom(dom)?;
        Ok(if obj.is_active() {
            oxvirt_core::types::SecurityLabel {
                label: "libvirt-test".into(),
                enforcing: true,
            }
        } else {
            Default::default()
        })
    }

    pub fn get_messages(&self, dom: &DomainRef, flags: u32) -> Result<Vec<String>> {
        const DEPRECATION: u32 = 1;
        const TAINTING: u32 = 2;
        check_flags(flags, DEPRECATION | TAINTING, "testDomainGetMessages")?;
        let st = self.lock();
        let obj = st.dom(dom)?;
        let mut out = Vec::new();
        if flags == 0 || flags & TAINTING != 0 {
            for (i, msg) in TAINT_MESSAGES.iter().enumerate() {
                if obj.taint & (1 << i) != 0 {
                    out.push(format!("tainted: {}", msg));
                }
            }
        }
        if flags == 0 || flags & DEPRECATION != 0 {
            for d in &obj.deprecations {
                out.push(format!("deprecated configuration: {}", d));
            }
        }
        Ok(out)
    }

    pub fn get_time(&self, dom: &DomainRef, flags: u32) -> Result<(i64, u32)> {
        check_flags(flags, 0, "testDomainGetTime")?;
        let st = self.lock();
        let obj = st.dom(dom)?;
        if obj.state != DomainState::Running {
            return Err(Error::operation_invalid(FROM, "domain is not running"));
        }
        Ok(obj.time)
    }

    pub fn get_hostname(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        check_flags(flags, 0, "testDomainGetHostname")?;
        self.lock().dom(dom)?.check_active()?;
        Ok(format!("{}host", dom.name))
    }

    /// A check shared by APIs that only need an active domain.
    pub fn require_active(&self, dom: &DomainRef) -> Result<()> {
        self.lock().dom(dom)?.check_active()
    }
}

/// Microseconds since the epoch (g_get_real_time), for the fake counters.
pub(crate) fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// libvirt's taint messages, indexed by virDomainTaintFlags.
const TAINT_MESSAGES: &[&str] = &[
    "custom configuration parameters specified",
    "custom monitor control commands issued",
    "running with undesirable elevated privileges",
    "network configuration using opaque shell scripts",
    "potentially unsafe disk format probing",
    "managing externally launched configuration",
    "potentially unsafe use of host CPU passthrough",
    "configuration potentially modified by hook script",
    "use of host cdrom passthrough",
    "custom device tree blob used",
    "custom guest agent control commands issued",
    "hypervisor feature autodetection override",
    "use of deprecated configuration settings",
    "custom device configuration",
];

const TAINT_HIGH_PRIVILEGES: u32 = 2;
const TAINT_SHELL_SCRIPTS: u32 = 3;
const TAINT_CDROM_PASSTHROUGH: u32 = 8;
const TAINT_CUSTOM_DTB: u32 = 9;
const TAINT_DEPRECATED_CONFIG: u32 = 12;

/// Taints a domain loaded from a node file (testDomainObjCheckTaint).
pub(crate) fn check_taint(obj: &mut DomainObj) {
    let def = &obj.def;
    let mut taint = 0u32;
    let mut deprecations = Vec::new();
    for d in &def.devices.disks {
        if d.extra
            .attrs
            .iter()
            .any(|a| a.name == "rawio" && a.value == "yes")
        {
            taint |= 1 << TAINT_HIGH_PRIVILEGES;
        }
        if d.device.as_deref() == Some("cdrom")
            && d.disk_type.as_deref() == Some("block")
            && d.source.is_some()
        {
            taint |= 1 << TAINT_CDROM_PASSTHROUGH;
        }
    }
    for h in def.devices.raw.iter().filter(|r| r.0.name == "hostdev") {
        if h.0.attr("type") == Some("scsi") && h.0.attr("rawio") == Some("yes") {
            taint |= 1 << TAINT_HIGH_PRIVILEGES;
        }
    }
    for n in &def.devices.interfaces {
        if n.extra.children.iter().any(|c| c.name == "script") {
            taint |= 1 << TAINT_SHELL_SCRIPTS;
        }
    }
    if let Some(cpu) = def.sections.raw("cpu") {
        let custom = matches!(cpu.attr("mode"), None | Some("custom"));
        if custom && cpu.child_text("model").as_deref() == Some("Deprecated-Test") {
            taint |= 1 << TAINT_DEPRECATED_CONFIG;
            deprecations.push("CPU model Deprecated-Test".to_string());
        }
    }
    if def.os.dtb.is_some() {
        taint |= 1 << TAINT_CUSTOM_DTB;
    }
    obj.taint |= taint;
    obj.deprecations.extend(deprecations);
}

/// The iothreads a definition declares, with the test driver's defaults
/// (testDomainGenerateIOThreadInfos).
pub(crate) fn iothreads_of(def: &oxvirt_xml::domain::Domain) -> Vec<crate::state::IoThreadState> {
    let ids: Vec<u32> = match def.sections.raw("iothreadids") {
        Some(el) => el
            .children_named("iothread")
            .filter_map(|t| t.attr("id").and_then(|v| v.parse().ok()))
            .collect(),
        None => {
            let n: u32 = def
                .sections
                .raw("iothreads")
                .and_then(|e| e.text().trim().parse().ok())
                .unwrap_or(0);
            (1..=n).collect()
        }
    };
    ids.into_iter()
        .map(|id| crate::state::IoThreadState {
            id,
            poll_max_ns: 32768,
            poll_grow: 0,
            poll_shrink: 0,
        })
        .collect()
}
