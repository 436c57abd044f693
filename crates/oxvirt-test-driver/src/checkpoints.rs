//! Domain checkpoints: metadata kept per domain as a tree with a current
//! checkpoint, and the checkpoint APIs of libvirt's test driver.

use oxvirt_core::error::{code, from};
use oxvirt_core::types::flags::{checkpoint_create as cf, checkpoint_delete as df};
use oxvirt_core::types::flags::{checkpoint_list as lf, checkpoint_xml as xf};
use oxvirt_core::types::{CheckpointRef, DomainRef};
use oxvirt_core::{Error, Result};
use oxvirt_xml::checkpoint::{Checkpoint, FormatFlags, ParseFlags};

use crate::moments::{check_flags, delete_moment};
use crate::snapshots::now_secs;
use crate::state::{parse_options, DomainObj, Driver, FROM};

const FILTERS_ALL: u32 = lf::LEAVES | lf::NO_LEAVES;

fn no_checkpoint(name: &str) -> Error {
    Error::new(
        code::NO_DOMAIN_CHECKPOINT,
        FROM,
        format!("no domain checkpoint with matching name '{}'", name),
    )
}

fn cp_ref(dom: &DomainObj, name: &str) -> CheckpointRef {
    CheckpointRef {
        name: name.to_string(),
        domain: dom.handle(),
    }
}

fn xml_err(e: oxvirt_xml::Error) -> Error {
    Error::from_xml(e, from::DOMAIN_CHECKPOINT)
}

fn find<'a>(obj: &'a DomainObj, name: &str) -> Result<&'a Checkpoint> {
    obj.checkpoints
        .find(name)
        .map(|m| &m.def)
        .ok_or_else(|| no_checkpoint(name))
}

impl Driver {
    pub fn checkpoint_create_xml(
        &self,
        dom: &DomainRef,
        xml: &str,
        flags: u32,
    ) -> Result<CheckpointRef> {
        check_flags(
            flags,
            cf::REDEFINE | cf::QUIESCE,
            "testDomainCheckpointCreateXML",
        )?;
        let redefine = flags & cf::REDEFINE != 0;
        let mut update_current = !redefine;
        let mut st = self.lock();
        let mut obj = st.dom_mut(dom)?;
        if !obj.snapshots.is_empty() {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                "cannot create checkpoint while snapshot exists",
            ));
        }
        if !obj.is_active() {
            return Err(Error::new(
                code::OPERATION_UNSUPPORTED,
                FROM,
                "cannot create checkpoint for inactive domain",
            ));
        }
        crate::schema::validate(xml, "domaincheckpoint")?;
        let mut def = Checkpoint::parse(
            xml,
            ParseFlags {
                redefine,
                now: Some(now_secs()),
            },
            &parse_options(),
        )
        .map_err(xml_err)?;
        let name = def.name.clone().unwrap_or_default();
        if redefine {
            obj.checkpoints
                .check_cycles(&name, def.parent.as_deref(), &obj.def.name)?;
            if let Some(d) = &def.domain {
                if d.uuid != obj.def.uuid {
                    return Err(Error::invalid_arg(
                        from::DOMAIN_CHECKPOINT,
                        format!(
                            "definition for checkpoint {} must use uuid {}",
                            name, obj.def.uuid
                        ),
                    ));
                }
                def.align_disks().map_err(xml_err)?;
            } else {
                def.assign_bitmap_names();
            }
            let current = obj.checkpoints.current().map(str::to_string);
            if let Some(p) = &def.parent {
                if obj.checkpoints.find(p).is_some() && current.as_deref() == Some(p.as_str()) {
                    update_current = true;
                }
            }
            if current.is_none() {
                update_current = true;
            }
            if obj.checkpoints.find(&name).is_some() {
                obj.checkpoints.drop_parent(&name);
                if let Some(m) = obj.checkpoints.find_mut(&name) {
                    m.def = def;
                }
            } else {
                obj.checkpoints.assign(def)?;
            }
        } else {
            let mut d = obj.def.clone();
            d.id = None;
            def.domain = Some(Box::new(d));
            def.align_disks().map_err(xml_err)?;
            obj.checkpoints.assign(def)?;
        }
        if let Some(cur) = obj.checkpoints.current().map(str::to_string) {
            if !redefine {
                if let Some(m) = obj.checkpoints.find_mut(&name) {
                    m.def.parent = Some(cur);
                }
            }
            if update_current {
                obj.checkpoints.set_current(None);
            }
        }
        if update_current {
            obj.checkpoints.set_current(Some(&name));
        }
        obj.checkpoints.link_parent(&name);
        Ok(cp_ref(&obj, &name))
    }

    pub fn checkpoint_get_xml_desc(&self, cp: &CheckpointRef, flags: u32) -> Result<String> {
        check_flags(
            flags,
            xf::SECURE | xf::NO_DOMAIN | xf::SIZE,
            "testDomainCheckpointGetXMLDesc",
        )?;
        let st = self.lock();
        let obj = st.dom(&cp.domain)?;
        let def = find(obj, &cp.name)?;
        if flags & xf::SIZE != 0 {
            obj.check_active()?;
        }
        Ok(def.format(FormatFlags {
            secure: flags & xf::SECURE != 0,
            no_domain: flags & xf::NO_DOMAIN != 0,
            // libvirt's test driver never marks the sizes valid.
            size: false,
        }))
    }

    pub fn list_all_checkpoints(&self, dom: &DomainRef, flags: u32) -> Result<Vec<CheckpointRef>> {
        check_flags(
            flags,
            lf::ROOTS | lf::TOPOLOGICAL | FILTERS_ALL,
            "testDomainListAllCheckpoints",
        )?;
        let st = self.lock();
        let obj = st.dom(dom)?;
        Ok(obj
            .checkpoints
            .names(None, flags, &|_| true, false)
            .iter()
            .map(|n| cp_ref(obj, n))
            .collect())
    }

    pub fn checkpoint_list_all_children(
        &self,
        cp: &CheckpointRef,
        flags: u32,
    ) -> Result<Vec<CheckpointRef>> {
        check_flags(
            flags,
            lf::DESCENDANTS | lf::TOPOLOGICAL | FILTERS_ALL,
            "testDomainCheckpointListAllChildren",
        )?;
        let st = self.lock();
        let obj = st.dom(&cp.domain)?;
        find(obj, &cp.name)?;
        Ok(obj
            .checkpoints
            .names(Some(&cp.name), flags, &|_| true, false)
            .iter()
            .map(|n| cp_ref(obj, n))
            .collect())
    }

    pub fn checkpoint_lookup_by_name(
        &self,
        dom: &DomainRef,
        name: &str,
        flags: u32,
    ) -> Result<CheckpointRef> {
        check_flags(flags, 0, "testDomainCheckpointLookupByName")?;
        let st = self.lock();
        let obj = st.dom(dom)?;
        find(obj, name)?;
        Ok(cp_ref(obj, name))
    }

    pub fn checkpoint_get_parent(&self, cp: &CheckpointRef, flags: u32) -> Result<CheckpointRef> {
        check_flags(flags, 0, "testDomainCheckpointGetParent")?;
        let st = self.lock();
        let obj = st.dom(&cp.domain)?;
        match &find(obj, &cp.name)?.parent {
            Some(p) => Ok(cp_ref(obj, p)),
            None => Err(Error::new(
                code::NO_DOMAIN_CHECKPOINT,
                FROM,
                format!("checkpoint '{}' does not have a parent", cp.name),
            )),
        }
    }

    pub fn checkpoint_delete(&self, cp: &CheckpointRef, flags: u32) -> Result<()> {
        check_flags(
            flags,
            df::CHILDREN | df::METADATA_ONLY | df::CHILDREN_ONLY,
            "testDomainCheckpointDelete",
        )?;
        let mut st = self.lock();
        let mut obj = st.dom_mut(&cp.domain)?;
        if obj.checkpoints.find(&cp.name).is_none() {
            return Err(no_checkpoint(&cp.name));
        }
        delete_moment(
            &mut obj.checkpoints,
            &cp.name,
            flags & (df::CHILDREN | df::CHILDREN_ONLY) != 0,
            flags & df::CHILDREN_ONLY != 0,
        );
        Ok(())
    }
}
