//! The storage driver of a real host (libvirt's storage_driver.c): one
//! instance per daemon root, shared by every connection.
//!
//! ```text
//! ROOT/config/NAME.xml             a persistent pool's definition (atomic)
//! ROOT/config/autostart/NAME.xml   symlink to it: the pool autostarts
//! ROOT/run/NAME.xml                state of an active pool (<poolstate>)
//! ROOT/run/POOL.VOL.secret.XXXXXX  a LUKS key handed to qemu-img (0600,
//!                                  removed as soon as qemu-img is done)
//! ```
//!
//! Pools of type dir, fs, netfs, disk and logical have backends
//! (`backend/`). Image headers are read in-process (`probe.rs`): a pool
//! refresh runs no process per volume. qemu-img creates, converts and
//! resizes non-raw images as libvirt has it do; keys reach it through a
//! file, never a command line.
//!
//! Methods have the names and signatures of the `Connection` trait's
//! storage methods.

pub mod backend;
pub mod objects;
pub mod probe;
pub mod probefs;
pub mod qcow2;
pub mod qemuimg;
pub mod sources;
pub mod stream;
pub mod volume;
pub mod wipe;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use oxvirt_core::error::code;
use oxvirt_core::error::from;
use oxvirt_core::event::{
    pool_lifecycle as pl, EventHub, PoolEvent, PoolEventCallback, PoolEventKind,
};
use oxvirt_core::host::{ResolvedVolume, VolumeKind};
use oxvirt_core::types::flags::{
    list_objects as lo, pool_create, storage_xml, vol_create, vol_info, vol_resize, vol_stream,
};
use oxvirt_core::types::{
    pool_state, vol_type, wipe_alg, PoolInfo, PoolRef, Uuid, VolInfo, VolRef,
};
use oxvirt_core::SecretDriver as _;
use oxvirt_core::{Error, Result, Stream};
use oxvirt_secret::SecretDriver;
use oxvirt_xml::props::XmlEnum as _;
use oxvirt_xml::storage::{Pool, PoolType, SecretLookup, VolParseFlags, VolType, Volume};

use backend::Backend;
use objects::{no_vol_name, Entry, PoolList, PoolObj, VolObj, FROM};

/// What backends need from the driver: where to put temporary key files,
/// and the secret driver to read keys from.
pub struct Ctx {
    pub state_dir: PathBuf,
    pub secrets: Option<Arc<SecretDriver>>,
}

impl Ctx {
    /// storageBackendLoadDefaultSecrets: an encrypted volume found by a
    /// refresh gets the secret whose usage is its path.
    pub fn load_default_secret(&self, vol: &mut Volume) {
        let Some(enc) = vol.target.encryption.as_mut() else {
            return;
        };
        if !enc.secrets.is_empty() {
            return;
        }
        let (Some(s), Some(path)) = (&self.secrets, vol.target.path.as_deref()) else {
            return;
        };
        if let Ok(r) = s.lookup_secret_by_usage(oxvirt_xml::secret::usage_type::VOLUME, path) {
            enc.secrets.push(SecretLookup::Uuid(r.uuid));
        }
    }
}

/// qemu-img, if installed.
pub fn qemuimg_path() -> Option<PathBuf> {
    oxvirt_host::command::find_in_path("qemu-img")
}

/// The program libvirt runs for a tool: the path its Debian build was
/// configured with (so messages name the same command line), when that
/// exists here; otherwise whatever PATH has.
pub fn tool(name: &str) -> String {
    let configured = match name {
        "mount" | "umount" => format!("/bin/{}", name),
        "mkfs" | "showmount" | "pvcreate" | "pvremove" | "pvs" | "vgcreate" | "vgchange"
        | "vgremove" | "vgscan" | "vgs" | "lvcreate" | "lvremove" | "lvchange" | "lvs" => {
            format!("/sbin/{}", name)
        }
        "scrub" => "/usr/bin/scrub".into(),
        "qemu-img" => {
            return qemuimg_path()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|| name.to_string())
        }
        // libvirt runs parted by name.
        _ => return name.to_string(),
    };
    if Path::new(&configured).exists() {
        configured
    } else {
        oxvirt_host::command::find_in_path(name)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_string())
    }
}

fn check_flags(flags: u32, allowed: u32, func: &str) -> Result<()> {
    oxvirt_core::error::check_flags(flags, allowed, func, FROM)
}

fn xml_err(e: oxvirt_xml::Error) -> Error {
    Error::from_xml(e, FROM)
}

fn pool_type_flag(t: PoolType) -> u32 {
    1 << (6 + backend::type_number(t))
}

/// The files of one driver instance.
struct Layout {
    config: PathBuf,
    autostart: PathBuf,
    run: PathBuf,
}

impl Layout {
    fn config(&self, name: &str) -> PathBuf {
        self.config.join(format!("{}.xml", name))
    }
    fn autostart(&self, name: &str) -> PathBuf {
        self.autostart.join(format!("{}.xml", name))
    }
    fn state(&self, name: &str) -> PathBuf {
        self.run.join(format!("{}.xml", name))
    }
}

/// The storage driver of one daemon root.
pub struct StorageDriver {
    layout: Layout,
    pools: PoolList,
    events: EventHub,
    ctx: Ctx,
    /// Upload streams refresh their pool when they end.
    me: Weak<StorageDriver>,
}

fn sys(msg: String, e: &std::io::Error) -> Error {
    Error::system(FROM, msg, e)
}

impl StorageDriver {
    /// Opens the driver over `root`: loads the state of active pools and
    /// every persistent definition, checks which pools are up (refreshing
    /// them) and starts the autostart ones, as libvirtd does at start.
    pub fn open(root: &Path, secrets: Option<Arc<SecretDriver>>) -> Result<Arc<StorageDriver>> {
        let layout = Layout {
            config: root.join("config"),
            autostart: root.join("config/autostart"),
            run: root.join("run"),
        };
        for d in [&layout.config, &layout.autostart, &layout.run] {
            std::fs::create_dir_all(d)
                .map_err(|e| sys(format!("cannot create directory {}", d.display()), &e))?;
            oxvirt_host::fsutil::remove_stray_temporaries(d);
        }
        // Keys a killed daemon left for qemu-img.
        if let Ok(rd) = std::fs::read_dir(&layout.run) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().contains(".secret.") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let drv = Arc::new_cyclic(|me| StorageDriver {
            ctx: Ctx {
                state_dir: layout.run.clone(),
                secrets,
            },
            layout,
            pools: PoolList::default(),
            events: EventHub::new(),
            me: me.clone(),
        });
        drv.load_states();
        drv.load_configs();
        drv.update_all_state();
        drv.autostart_all();
        Ok(drv)
    }

    fn load_states(&self) {
        for (name, path) in xml_files(&self.layout.run) {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let def = oxvirt_xml::dom::parse(&text, &path.to_string_lossy())
                .map_err(|e| e.to_string())
                .and_then(|root| {
                    let el = if root.name == "pool" {
                        Some(root.clone())
                    } else {
                        root.child("pool").cloned()
                    };
                    let mut el = el.ok_or_else(|| {
                        "Could not find any 'pool' element in state file".to_string()
                    })?;
                    el.strip_blanks();
                    Pool::from_element(&el).map_err(|e| e.to_string())
                });
            match def {
                Ok(def) if def.name == name => match self.pools.add(def, false, true) {
                    Ok((e, _)) => e.lock().active = true,
                    Err(e) => tracing::error!("storage pool state {}: {}", name, e),
                },
                Ok(def) => tracing::error!(
                    "Storage pool state file '{}' does not match pool name '{}'",
                    path.display(),
                    def.name
                ),
                Err(e) => tracing::error!("storage pool state {}: {}", path.display(), e),
            }
        }
    }

    fn load_configs(&self) {
        for (name, path) in xml_files(&self.layout.config) {
            let def = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| Pool::parse(&t).map_err(|e| e.to_string()));
            let def = match def {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!("storage pool config {}: {}", path.display(), e);
                    continue;
                }
            };
            if def.name != name {
                tracing::error!(
                    "Storage pool config filename '{}' does not match pool name '{}'",
                    path.display(),
                    def.name
                );
                continue;
            }
            match self.pools.add(def, false, false) {
                Ok((e, _)) => {
                    let mut o = e.lock();
                    o.config_file = Some(path.clone());
                    let link = self.layout.autostart(&name);
                    o.autostart = std::fs::read_link(&link).is_ok_and(|t| t == path)
                        || std::fs::canonicalize(&link).ok() == std::fs::canonicalize(&path).ok()
                            && link.exists();
                }
                Err(e) => tracing::error!("storage pool config {}: {}", path.display(), e),
            }
        }
    }

    /// storagePoolUpdateStateCallback for every pool.
    fn update_all_state(&self) {
        for e in self.pools.all() {
            let mut o = e.lock();
            let Ok(be) = backend::for_type(o.def.kind) else {
                continue;
            };
            let state = self.layout.state(&o.def.name);
            let mut active = match be.check_pool(&mut o.def) {
                Ok(a) => a,
                Err(err) => {
                    tracing::error!(
                        "Failed to initialize storage pool '{}': {}",
                        o.def.name,
                        err
                    );
                    let _ = std::fs::remove_file(&state);
                    false
                }
            };
            if active {
                if is_dir_like(o.def.kind) {
                    backend::fs::remove_partials(&o.def);
                }
                if let Err(err) = self.refresh_impl(be, &mut o, Some(&state)) {
                    tracing::error!("Failed to restart storage pool '{}': {}", o.def.name, err);
                    active = false;
                }
            }
            o.active = active;
            if !active {
                let name = o.def.name.clone();
                let uuid = o.def.uuid;
                if self.update_inactive(&mut o) {
                    drop(o);
                    self.pools.remove(&uuid);
                    let _ = name;
                }
            }
        }
    }

    fn autostart_all(&self) {
        for e in self.pools.all() {
            let mut o = e.lock();
            if !o.autostart || o.active {
                continue;
            }
            let Ok(be) = backend::for_type(o.def.kind) else {
                continue;
            };
            o.starting = true;
            let state = self.layout.state(&o.def.name);
            let res = be
                .start_pool(&mut o.def)
                .and_then(|_| self.save_state(&o.def))
                .and_then(|_| self.refresh_impl(be, &mut o, Some(&state)));
            match res {
                Ok(()) => o.active = true,
                Err(err) => {
                    tracing::error!("Failed to autostart storage pool '{}': {}", o.def.name, err)
                }
            }
            o.starting = false;
            if !o.active && self.update_inactive(&mut o) {
                let uuid = o.def.uuid;
                drop(o);
                self.pools.remove(&uuid);
            }
        }
    }

    fn emit(&self, pool: PoolRef, event: i32) {
        self.events.emit_pool(&PoolEvent {
            pool,
            kind: PoolEventKind::Lifecycle { event, detail: 0 },
        });
    }

    fn emit_refresh(&self, pool: PoolRef) {
        self.events.emit_pool(&PoolEvent {
            pool,
            kind: PoolEventKind::Refresh,
        });
    }

    fn save_state(&self, def: &Pool) -> Result<()> {
        let mut xml = String::from("<poolstate>\n");
        for line in def.format().lines() {
            xml.push_str("  ");
            xml.push_str(line);
            xml.push('\n');
        }
        xml.push_str("</poolstate>\n");
        oxvirt_host::fsutil::write_atomic(&self.layout.state(&def.name), xml.as_bytes(), true, FROM)
    }

    fn save_config(&self, o: &mut PoolObj, use_new: bool) -> Result<()> {
        let def = if use_new {
            o.new_def.as_ref().unwrap_or(&o.def)
        } else {
            &o.def
        };
        let path = self.layout.config(&def.name);
        oxvirt_host::fsutil::write_atomic(&path, def.format().as_bytes(), true, FROM)?;
        o.config_file = Some(path);
        Ok(())
    }

    /// storagePoolRefreshImpl: replaces the volume list; on failure the
    /// pool is stopped and its state file removed.
    fn refresh_impl(&self, be: &dyn Backend, o: &mut PoolObj, state: Option<&Path>) -> Result<()> {
        o.vols.clear();
        match be.refresh_pool(&self.ctx, &mut o.def) {
            Ok(vols) => {
                o.vols = vols
                    .into_iter()
                    .map(|mut def| {
                        self.ctx.load_default_secret(&mut def);
                        VolObj {
                            def,
                            building: false,
                            in_use: 0,
                        }
                    })
                    .collect();
                Ok(())
            }
            Err(e) => {
                o.vols.clear();
                if let Some(s) = state {
                    let _ = std::fs::remove_file(s);
                }
                let _ = be.stop_pool(&o.def);
                Err(e)
            }
        }
    }

    /// virStoragePoolUpdateInactive: true when the (transient) pool must
    /// leave the list.
    fn update_inactive(&self, o: &mut PoolObj) -> bool {
        if o.config_file.is_none() {
            return true;
        }
        if let Some(d) = o.new_def.take() {
            o.def = d;
        }
        false
    }

    fn parse_pool(&self, xml: &str, validate: bool) -> Result<Pool> {
        if validate {
            oxvirt_schema::check(xml, "storagepool")?;
        }
        let mut def = Pool::parse(xml).map_err(xml_err)?;
        // libvirtd takes a relative target and resolves it against its
        // working directory ("/"), so a build creates directories there;
        // refused here, in the words libvirt's build uses.
        if let Some(t) = def.target_path.as_deref() {
            if !t.starts_with('/') {
                return Err(Error::invalid_arg(
                    FROM,
                    format!("path '{}' is not absolute", t),
                ));
            }
        }
        if !def.uuid_specified {
            def.uuid = Uuid(*uuid::Uuid::new_v4().as_bytes());
        }
        Ok(def)
    }

    fn start_locked(&self, be: &dyn Backend, o: &mut PoolObj, flags: u32) -> Result<()> {
        if be.has_build_pool() {
            let mut bflags = 0;
            if flags & pool_create::WITH_BUILD_OVERWRITE != 0 {
                bflags |= oxvirt_core::types::flags::pool_build::OVERWRITE;
            } else if flags & pool_create::WITH_BUILD_NO_OVERWRITE != 0 {
                bflags |= oxvirt_core::types::flags::pool_build::NO_OVERWRITE;
            }
            if bflags != 0 || flags & pool_create::WITH_BUILD != 0 {
                be.build_pool(&mut o.def, bflags)?;
            }
        }
        be.start_pool(&mut o.def)?;
        self.save_state(&o.def)?;
        let state = self.layout.state(&o.def.name);
        self.refresh_impl(be, o, Some(&state))
    }

    fn active_pool(&self, pool: &PoolRef) -> Result<Entry> {
        let e = self.pools.by_ref(pool)?;
        {
            let o = e.lock();
            o.check_active()?;
        }
        Ok(e)
    }

    /// virStorageVolDefFromVol: the active pool holding `vol`, locked.
    fn vol_entry(&self, vol: &VolRef) -> Result<Entry> {
        let e = self.pools.by_name(&vol.pool)?;
        {
            let o = e.lock();
            o.check_active()?;
            o.find_vol(&vol.name)?;
        }
        Ok(e)
    }

    fn parse_vol(
        &self,
        xml: &str,
        kind: PoolType,
        flags: VolParseFlags,
        validate: bool,
    ) -> Result<Volume> {
        if validate {
            oxvirt_schema::check(xml, "storagevol")?;
        }
        Volume::parse(xml, kind, flags).map_err(xml_err)
    }

    /// Removes a volume whose creation failed after the backend made it
    /// (storageVolDeleteInternal without the pool size update).
    fn discard_vol(&self, be: &dyn Backend, o: &mut PoolObj, name: &str) {
        if let Some(i) = o.vol_index(name) {
            let v = o.vols[i].def.clone();
            if let Ok(Some(vols)) = be.delete_vol(&self.ctx, &mut o.def, &v, 0) {
                o.vols = wrap_vols(vols);
                return;
            }
            if let Some(i) = o.vol_index(name) {
                o.vols.remove(i);
            }
        }
    }

    /// Refreshes volume `i` of a locked pool (building volumes are read
    /// where they are being built).
    fn refresh_vol_locked(&self, be: &dyn Backend, o: &mut PoolObj, i: usize) -> Result<()> {
        if !be.has_refresh_vol() {
            return Ok(());
        }
        let mut d = o.vols[i].def.clone();
        let pdef = o.def.clone();
        if o.vols[i].building && is_dir_like(o.def.kind) {
            let fin = d.target.path.clone().unwrap_or_default();
            d.target.path = Some(backend::fs::build_path(&fin));
            let r = be.refresh_vol(&self.ctx, &pdef, &mut d);
            d.target.path = Some(fin);
            if r.is_err() {
                return Ok(());
            }
        } else {
            be.refresh_vol(&self.ctx, &pdef, &mut d)?;
        }
        o.vols[i].def = d;
        Ok(())
    }

    fn open_stream(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
        upload: bool,
    ) -> Result<Box<dyn Stream>> {
        check_flags(
            flags,
            vol_stream::SPARSE_STREAM,
            if upload {
                "storageVolUpload"
            } else {
                "storageVolDownload"
            },
        )?;
        let e = self.vol_entry(vol)?;
        let o = e.lock();
        let be = backend::for_type(o.def.kind)?;
        let i = o.find_vol(&vol.name)?;
        if upload {
            objects::vol_in_use(&o.vols[i])?;
        } else {
            objects::vol_building(&o.vols[i])?;
        }
        if !be.can_transfer() {
            return Err(Error::new(
                code::NO_SUPPORT,
                FROM,
                if upload {
                    "storage pool doesn't support volume upload"
                } else {
                    "storage pool doesn't support volume download"
                },
            ));
        }
        let v = &o.vols[i].def;
        let mut path = v.target.path.clone().unwrap_or_default();
        if v.target.format.as_deref() == Some("ploop") {
            path = format!("{}/root.hds", path);
        }
        let on_close: Option<stream::OnClose> = if upload {
            let me = self.me.clone();
            let pool = o.handle();
            Some(Box::new(move || {
                if let Some(d) = me.upgrade() {
                    d.refresh_after_upload(&pool);
                }
            }))
        } else {
            None
        };
        drop(o);
        let s = stream::VolStream::open(
            &path,
            offset,
            length,
            flags & vol_stream::SPARSE_STREAM != 0,
            upload,
            on_close,
        )?;
        Ok(Box::new(s))
    }

    /// virStorageVolPoolRefreshThread: the pool is refreshed when an
    /// upload ends, unless a job runs in it.
    fn refresh_after_upload(&self, pool: &PoolRef) {
        let Ok(e) = self.pools.by_name(&pool.name) else {
            return;
        };
        let mut o = e.lock();
        if o.asyncjobs > 0 || !o.active {
            return;
        }
        let Ok(be) = backend::for_type(o.def.kind) else {
            return;
        };
        let _ = self.refresh_impl(be, &mut o, None);
        let h = o.handle();
        drop(o);
        self.emit_refresh(h);
    }
}

/// `<disk type='volume'>` for the hypervisor drivers (libvirt's
/// virDomainStorageSourceTranslateSourcePool).
impl oxvirt_core::host::VolumeResolver for StorageDriver {
    fn resolve_volume(&self, pool: &str, volume: &str) -> Result<ResolvedVolume> {
        let e = self.pools.by_name(pool)?;
        let o = e.lock();
        if !o.active {
            return Err(Error::new(
                code::CONFIG_UNSUPPORTED,
                from::DOMAIN,
                format!(
                    "storage pool '{}' containing volume '{}' is not active",
                    pool, volume
                ),
            ));
        }
        let def = &o.vols[o.find_vol(volume)?].def;
        let kind = match def.kind {
            VolType::Block => VolumeKind::Block,
            VolType::Dir => VolumeKind::Dir,
            VolType::File | VolType::Ploop => VolumeKind::File,
            VolType::Network | VolType::Netdir => {
                return Err(Error::new(
                    code::INTERNAL_ERROR,
                    from::DOMAIN,
                    format!(
                        "unexpected storage volume type '{}' for storage pool type '{}'",
                        def.kind.to_xml(),
                        o.def.kind.to_xml()
                    ),
                ))
            }
        };
        Ok(ResolvedVolume {
            kind,
            path: def.target.path.clone().unwrap_or_default(),
            format: def.target.format.clone(),
            pool_type: o.def.kind.to_xml().to_string(),
        })
    }
}

impl oxvirt_core::StorageDriver for StorageDriver {
    fn list_all_storage_pools(&self, flags: u32) -> Result<Vec<PoolRef>> {
        check_flags(flags, 0xfffff, "virConnectListAllStoragePools")?;
        let types = flags & !0x3f;
        let m = |want: u32, no: u32, v: bool| {
            flags & (want | no) == 0 || (flags & want != 0 && v) || (flags & no != 0 && !v)
        };
        let mut out = Vec::new();
        for e in self.pools.all() {
            let o = e.lock();
            if m(lo::ACTIVE, lo::INACTIVE, o.active)
                && m(lo::PERSISTENT, lo::TRANSIENT, o.is_persistent())
                && m(lo::AUTOSTART, lo::NO_AUTOSTART, o.autostart)
                && (types == 0 || types & pool_type_flag(o.def.kind) != 0)
            {
                out.push(o.handle());
            }
        }
        Ok(out)
    }

    fn lookup_pool_by_name(&self, name: &str) -> Result<PoolRef> {
        Ok(self.pools.by_name(name)?.lock().handle())
    }

    fn lookup_pool_by_uuid(&self, uuid: &Uuid) -> Result<PoolRef> {
        self.pools
            .by_uuid(uuid)
            .map(|e| e.lock().handle())
            .ok_or_else(|| {
                Error::new(
                    code::NO_STORAGE_POOL,
                    FROM,
                    format!("no storage pool with matching uuid '{}'", uuid),
                )
            })
    }

    fn lookup_pool_by_volume(&self, vol: &VolRef) -> Result<PoolRef> {
        self.lookup_pool_by_name(&vol.pool)
    }

    fn find_storage_pool_sources(
        &self,
        kind: &str,
        src_spec: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        let Some(t) = <PoolType as oxvirt_xml::props::XmlEnum>::from_xml(kind) else {
            return Err(Error::internal(
                FROM,
                format!("unknown storage pool type {}", kind),
            ));
        };
        let be = backend::for_type(t)?;
        if !be.has_find_sources() {
            return Err(Error::new(
                code::NO_SUPPORT,
                FROM,
                format!("pool type '{}' does not support source discovery", kind),
            ));
        }
        be.find_sources(src_spec, flags)
    }

    fn storage_pool_capabilities(&self, flags: u32) -> Result<String> {
        check_flags(flags, 0, "storageConnectGetStoragePoolCapabilities")?;
        Ok(oxvirt_xml::storage::pool_capabilities(|t| {
            backend::for_type(t).is_ok()
        }))
    }

    fn pool_define_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        check_flags(flags, 1, "storagePoolDefineXML")?;
        let def = self.parse_pool(xml, flags & 1 != 0)?;
        if let Some(c) = def.name.chars().find(|c| *c == '\n') {
            return Err(Error::raw(
                code::XML_DETAIL,
                FROM,
                format!("invalid char in name: {}", c),
            ));
        }
        backend::for_type(def.kind)?;
        let (e, _) = self.pools.add(def, false, false)?;
        let mut o = e.lock();
        if let Err(err) = self.save_config(&mut o, true) {
            drop(o);
            self.pools.remove(&e.uuid);
            return Err(err);
        }
        let h = o.handle();
        drop(o);
        self.emit(h.clone(), pl::DEFINED);
        Ok(h)
    }

    fn pool_create_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        check_flags(flags, 7, "storagePoolCreateXML")?;
        let def = self.parse_pool(xml, false)?;
        let be = backend::for_type(def.kind)?;
        let (e, _) = self.pools.add(def, true, true)?;
        let mut o = e.lock();
        o.starting = true;
        let res = self.start_locked(be, &mut o, flags);
        o.starting = false;
        match res {
            Ok(()) => {
                o.active = true;
                let h = o.handle();
                drop(o);
                self.emit(h.clone(), pl::STARTED);
                Ok(h)
            }
            Err(err) => {
                if self.update_inactive(&mut o) {
                    drop(o);
                    self.pools.remove(&e.uuid);
                }
                Err(err)
            }
        }
    }

    fn pool_create(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        check_flags(flags, 7, "storagePoolCreate")?;
        let e = self.pools.by_ref(pool)?;
        let mut o = e.lock();
        let be = backend::for_type(o.def.kind)?;
        if o.active {
            return Err(Error::operation_invalid(
                FROM,
                format!("storage pool '{}' is already active", o.def.name),
            ));
        }
        o.check_not_starting()?;
        o.starting = true;
        let res = self.start_locked(be, &mut o, flags);
        o.starting = false;
        match res {
            Ok(()) => {
                o.active = true;
                let h = o.handle();
                drop(o);
                self.emit(h, pl::STARTED);
                Ok(())
            }
            Err(err) => {
                if self.update_inactive(&mut o) {
                    drop(o);
                    self.pools.remove(&e.uuid);
                }
                Err(err)
            }
        }
    }

    fn pool_build(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        let e = self.pools.by_ref(pool)?;
        let mut o = e.lock();
        let be = backend::for_type(o.def.kind)?;
        if o.active {
            return Err(Error::operation_invalid(
                FROM,
                format!("storage pool '{}' is already active", o.def.name),
            ));
        }
        o.check_not_starting()?;
        o.starting = true;
        let res = if be.has_build_pool() {
            be.build_pool(&mut o.def, flags)
        } else {
            Ok(())
        };
        o.starting = false;
        if self.update_inactive(&mut o) {
            drop(o);
            self.pools.remove(&e.uuid);
            res?;
            self.emit(pool.clone(), pl::CREATED);
            return Ok(());
        }
        res?;
        let h = o.handle();
        drop(o);
        self.emit(h, pl::CREATED);
        Ok(())
    }

    fn pool_destroy(&self, pool: &PoolRef) -> Result<()> {
        let e = self.pools.by_ref(pool)?;
        let mut o = e.lock();
        let be = backend::for_type(o.def.kind)?;
        o.check_active()?;
        o.check_not_starting()?;
        o.check_no_jobs()?;
        let _ = std::fs::remove_file(self.layout.state(&o.def.name));
        be.stop_pool(&o.def)?;
        o.vols.clear();
        o.active = false;
        let h = o.handle();
        if self.update_inactive(&mut o) {
            drop(o);
            self.pools.remove(&e.uuid);
        } else {
            drop(o);
        }
        self.emit(h, pl::STOPPED);
        Ok(())
    }

    fn pool_delete(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        let e = self.pools.by_ref(pool)?;
        let o = e.lock();
        let be = backend::for_type(o.def.kind)?;
        if o.active {
            return Err(Error::operation_invalid(
                FROM,
                format!("storage pool '{}' is still active", o.def.name),
            ));
        }
        o.check_not_starting()?;
        o.check_no_jobs()?;
        let _ = std::fs::remove_file(self.layout.state(&o.def.name));
        be.delete_pool(&o.def, flags)?;
        let h = o.handle();
        drop(o);
        self.emit(h, pl::DELETED);
        Ok(())
    }

    fn pool_undefine(&self, pool: &PoolRef) -> Result<()> {
        let e = self.pools.by_ref(pool)?;
        let o = e.lock();
        if o.active {
            return Err(Error::operation_invalid(
                FROM,
                format!("storage pool '{}' is still active", o.def.name),
            ));
        }
        o.check_not_starting()?;
        o.check_no_jobs()?;
        let Some(cfg) = o.config_file.clone() else {
            return Err(Error::internal(
                FROM,
                format!("no config file for {}", o.def.name),
            ));
        };
        if std::fs::remove_file(&cfg).is_err() {
            return Err(Error::internal(
                FROM,
                format!("cannot remove config for {}", o.def.name),
            ));
        }
        let link = self.layout.autostart(&o.def.name);
        if let Err(err) = std::fs::remove_file(&link) {
            if err.kind() != std::io::ErrorKind::NotFound {
                tracing::error!(
                    "Failed to delete autostart link '{}': {}",
                    link.display(),
                    err
                );
            }
        }
        let h = o.handle();
        drop(o);
        self.pools.remove(&e.uuid);
        self.emit(h, pl::UNDEFINED);
        Ok(())
    }

    fn pool_refresh(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "storagePoolRefresh")?;
        let e = self.pools.by_ref(pool)?;
        let mut o = e.lock();
        let be = backend::for_type(o.def.kind)?;
        o.check_active()?;
        o.check_not_starting()?;
        o.check_no_jobs()?;
        let state = self.layout.state(&o.def.name);
        if let Err(err) = self.refresh_impl(be, &mut o, Some(&state)) {
            o.active = false;
            let h = o.handle();
            if self.update_inactive(&mut o) {
                drop(o);
                self.pools.remove(&e.uuid);
            } else {
                drop(o);
            }
            self.emit(h, pl::STOPPED);
            return Err(err);
        }
        let h = o.handle();
        drop(o);
        self.emit_refresh(h);
        Ok(())
    }

    fn pool_get_info(&self, pool: &PoolRef) -> Result<PoolInfo> {
        let e = self.pools.by_ref(pool)?;
        let o = e.lock();
        backend::for_type(o.def.kind)?;
        Ok(PoolInfo {
            state: if o.active {
                pool_state::RUNNING
            } else {
                pool_state::INACTIVE
            },
            capacity: o.def.capacity,
            allocation: o.def.allocation,
            available: o.def.available,
        })
    }

    fn pool_get_xml_desc(&self, pool: &PoolRef, flags: u32) -> Result<String> {
        check_flags(flags, storage_xml::INACTIVE, "storagePoolGetXMLDesc")?;
        let e = self.pools.by_ref(pool)?;
        let o = e.lock();
        let def = match (&o.new_def, flags & storage_xml::INACTIVE != 0) {
            (Some(n), true) => n,
            _ => &o.def,
        };
        Ok(def.format())
    }

    fn pool_get_autostart(&self, pool: &PoolRef) -> Result<bool> {
        let e = self.pools.by_ref(pool)?;
        let o = e.lock();
        Ok(o.autostart)
    }

    fn pool_set_autostart(&self, pool: &PoolRef, autostart: bool) -> Result<()> {
        let e = self.pools.by_ref(pool)?;
        let mut o = e.lock();
        let Some(cfg) = o.config_file.clone() else {
            return Err(Error::internal(FROM, "pool has no config file"));
        };
        if o.autostart != autostart {
            let link = self.layout.autostart(&o.def.name);
            if autostart {
                std::fs::create_dir_all(&self.layout.autostart).map_err(|e| {
                    sys(
                        format!(
                            "cannot create autostart directory {}",
                            self.layout.autostart.display()
                        ),
                        &e,
                    )
                })?;
                std::os::unix::fs::symlink(&cfg, &link).map_err(|e| {
                    sys(
                        format!(
                            "Failed to create symlink '{}' to '{}'",
                            link.display(),
                            cfg.display()
                        ),
                        &e,
                    )
                })?;
            } else if let Err(e) = std::fs::remove_file(&link) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(sys(
                        format!("Failed to delete symlink '{}'", link.display()),
                        &e,
                    ));
                }
            }
            o.autostart = autostart;
        }
        Ok(())
    }

    fn pool_is_active(&self, pool: &PoolRef) -> Result<bool> {
        Ok(self.pools.by_ref(pool)?.lock().active)
    }

    fn pool_is_persistent(&self, pool: &PoolRef) -> Result<bool> {
        Ok(self.pools.by_ref(pool)?.lock().is_persistent())
    }

    fn pool_list_all_volumes(&self, pool: &PoolRef, flags: u32) -> Result<Vec<VolRef>> {
        check_flags(flags, 0, "storagePoolListAllVolumes")?;
        let e = self.active_pool(pool)?;
        let o = e.lock();
        Ok(o.vols.iter().map(|v| o.vol_ref(&v.def)).collect())
    }

    fn pool_num_of_volumes(&self, pool: &PoolRef) -> Result<i32> {
        let e = self.active_pool(pool)?;
        let n = e.lock().vols.len();
        Ok(n as i32)
    }

    fn pool_event_register(
        &self,
        pool: Option<&PoolRef>,
        event_id: i32,
        cb: PoolEventCallback,
    ) -> Result<i32> {
        if !(0..2).contains(&event_id) {
            return Err(Error::invalid_arg(
                FROM,
                format!("unsupported event ID {}", event_id),
            ));
        }
        Ok(self.events.register_pool(pool, event_id, cb))
    }

    fn pool_event_deregister(&self, callback_id: i32) -> Result<()> {
        if self.events.deregister(callback_id) {
            Ok(())
        } else {
            Err(Error::invalid_arg(
                FROM,
                format!("could not find event callback {} for deletion", callback_id),
            ))
        }
    }

    fn vol_create_xml(&self, pool: &PoolRef, xml: &str, flags: u32) -> Result<VolRef> {
        check_flags(
            flags,
            vol_create::PREALLOC_METADATA | vol_create::VALIDATE,
            "storageVolCreateXML",
        )?;
        let e = self.pools.by_ref(pool)?;
        let mut o = e.lock();
        o.check_active()?;
        let be = backend::for_type(o.def.kind)?;
        let mut vol = self.parse_vol(
            xml,
            o.def.kind,
            VolParseFlags {
                opt_capacity: true,
                ..Default::default()
            },
            flags & vol_create::VALIDATE != 0,
        )?;
        if vol.capacity == 0 && !be.has_build_vol() {
            return Err(Error::new(
                code::NO_SUPPORT,
                FROM,
                "volume capacity required for this storage pool",
            ));
        }
        if o.vol_index(&vol.name).is_some() {
            return Err(Error::new(
                code::STORAGE_VOL_EXIST,
                FROM,
                format!("'{}'", vol.name),
            ));
        }
        vol.key = None;
        let existing: Vec<Volume> = o.vols.iter().map(|v| v.def.clone()).collect();
        be.create_vol(&self.ctx, &mut o.def, &mut vol, &existing)?;
        let name = vol.name.clone();
        let r = o.vol_ref(&vol);
        let build = be.has_build_vol();
        o.vols.push(VolObj {
            def: vol.clone(),
            building: build,
            in_use: 0,
        });
        if build {
            o.asyncjobs += 1;
            let def = o.def.clone();
            drop(o);
            let res = be.build_vol(&self.ctx, &def, &vol, flags & !vol_create::VALIDATE);
            o = e.lock();
            o.asyncjobs -= 1;
            if let Some(i) = o.vol_index(&name) {
                o.vols[i].building = false;
            }
            if let Err(err) = res {
                if let Some(i) = o.vol_index(&name) {
                    o.vols.remove(i);
                }
                return Err(err);
            }
        }
        if be.has_refresh_vol() {
            if let Some(i) = o.vol_index(&name) {
                let mut d = o.vols[i].def.clone();
                let pdef = o.def.clone();
                if let Err(err) = be.refresh_vol(&self.ctx, &pdef, &mut d) {
                    self.discard_vol(be, &mut o, &name);
                    return Err(err);
                }
                o.vols[i].def = d;
            }
        }
        if o.def.kind != PoolType::Disk {
            if let Some(i) = o.vol_index(&name) {
                let a = o.vols[i].def.allocation;
                o.def.allocation = o.def.allocation.wrapping_add(a);
                o.def.available = o.def.available.wrapping_sub(a);
            }
        }
        Ok(r)
    }

    fn vol_create_xml_from(
        &self,
        pool: &PoolRef,
        xml: &str,
        clone: &VolRef,
        flags: u32,
    ) -> Result<VolRef> {
        check_flags(
            flags,
            vol_create::PREALLOC_METADATA | vol_create::REFLINK | vol_create::VALIDATE,
            "storageVolCreateXMLFrom",
        )?;
        let e = self.pools.by_uuid(&pool.uuid).ok_or_else(|| {
            Error::new(
                code::NO_STORAGE_POOL,
                FROM,
                format!(
                    "no storage pool with matching uuid '{}' ({})",
                    pool.uuid, pool.name
                ),
            )
        })?;
        let src_entry = if pool.name != clone.pool {
            Some(self.pools.by_name(&clone.pool).map_err(|_| {
                Error::new(
                    code::NO_STORAGE_POOL,
                    FROM,
                    format!("no storage pool with matching name '{}'", clone.pool),
                )
            })?)
        } else {
            None
        };
        {
            e.lock().check_active()?;
        }
        if let Some(s) = &src_entry {
            s.lock().check_active()?;
        }
        let (be, kind) = {
            let o = e.lock();
            (backend::for_type(o.def.kind)?, o.def.kind)
        };
        let src = src_entry.as_ref().unwrap_or(&e);
        let src_capacity = {
            let so = src.lock();
            let i = so.find_vol(&clone.name)?;
            so.vols[i].def.capacity
        };
        let mut vol = self.parse_vol(
            xml,
            kind,
            VolParseFlags {
                no_capacity: true,
                ..Default::default()
            },
            flags & vol_create::VALIDATE != 0,
        )?;
        if e.lock().vol_index(&vol.name).is_some() {
            return Err(Error::internal(
                FROM,
                format!("storage volume name '{}' already in use.", vol.name),
            ));
        }
        if vol.capacity < src_capacity {
            vol.capacity = src_capacity;
        }
        if !vol.has_allocation {
            vol.allocation = vol.capacity;
        }
        // The source volume, refreshed and marked in use.
        let src_def = {
            let mut so = src.lock();
            let Some(i) = so.vol_index(&clone.name) else {
                return Err(no_vol_name(&clone.name));
            };
            objects::vol_building(&so.vols[i])?;
            let sbe = backend::for_type(so.def.kind)?;
            if sbe.has_refresh_vol() {
                let mut d = so.vols[i].def.clone();
                let pdef = so.def.clone();
                sbe.refresh_vol(&self.ctx, &pdef, &mut d)?;
                so.vols[i].def = d;
            }
            so.vols[i].in_use += 1;
            so.asyncjobs += 1;
            so.vols[i].def.clone()
        };
        let release_src = |_: &StorageDriver| {
            let mut so = src.lock();
            if let Some(i) = so.vol_index(&clone.name) {
                so.vols[i].in_use = so.vols[i].in_use.saturating_sub(1);
            }
            so.asyncjobs = so.asyncjobs.saturating_sub(1);
        };
        let mut o = e.lock();
        if o.vol_index(&vol.name).is_some() {
            drop(o);
            release_src(self);
            return Err(Error::internal(
                FROM,
                format!("storage volume name '{}' already in use.", vol.name),
            ));
        }
        vol.key = None;
        let existing: Vec<Volume> = o.vols.iter().map(|v| v.def.clone()).collect();
        if let Err(err) = be.create_vol(&self.ctx, &mut o.def, &mut vol, &existing) {
            drop(o);
            release_src(self);
            return Err(err);
        }
        let name = vol.name.clone();
        let r = o.vol_ref(&vol);
        o.vols.push(VolObj {
            def: vol.clone(),
            building: true,
            in_use: 0,
        });
        o.asyncjobs += 1;
        let pdef = o.def.clone();
        drop(o);
        let res = be.build_vol_from(
            &self.ctx,
            &pdef,
            &vol,
            &src_def,
            flags & !vol_create::VALIDATE,
        );
        release_src(self);
        let mut o = e.lock();
        o.asyncjobs -= 1;
        if let Some(i) = o.vol_index(&name) {
            o.vols[i].building = false;
        }
        let res = res.and_then(|_| {
            if !be.has_refresh_vol() {
                return Ok(());
            }
            let Some(i) = o.vol_index(&name) else {
                return Ok(());
            };
            let mut d = o.vols[i].def.clone();
            let pdef = o.def.clone();
            be.refresh_vol(&self.ctx, &pdef, &mut d)?;
            o.vols[i].def = d;
            Ok(())
        });
        if let Err(err) = res {
            self.discard_vol(be, &mut o, &name);
            return Err(err);
        }
        if o.def.kind != PoolType::Disk {
            if let Some(i) = o.vol_index(&name) {
                let a = o.vols[i].def.allocation;
                o.def.allocation = o.def.allocation.wrapping_add(a);
                o.def.available = o.def.available.wrapping_sub(a);
            }
        }
        Ok(r)
    }

    fn lookup_vol_by_name(&self, pool: &PoolRef, name: &str) -> Result<VolRef> {
        let e = self.pools.by_ref(pool)?;
        let o = e.lock();
        o.check_active()?;
        let i = o.find_vol(name)?;
        Ok(o.vol_ref(&o.vols[i].def))
    }

    fn lookup_vol_by_key(&self, key: &str) -> Result<VolRef> {
        for e in self.pools.all() {
            let o = e.lock();
            if !o.active {
                continue;
            }
            if let Some(v) = o.vols.iter().find(|v| v.def.key.as_deref() == Some(key)) {
                return Ok(o.vol_ref(&v.def));
            }
        }
        Err(Error::new(
            code::NO_STORAGE_VOL,
            FROM,
            format!("no storage vol with matching key {}", key),
        ))
    }

    fn lookup_vol_by_path(&self, path: &str) -> Result<VolRef> {
        let clean = oxvirt_xml::storage::sanitize_path(path);
        for e in self.pools.all() {
            let o = e.lock();
            if !o.active {
                continue;
            }
            let stable = stable_path(&o.def, &clean);
            if let Some(v) = o
                .vols
                .iter()
                .find(|v| v.def.target.path.as_deref() == Some(stable.as_str()))
            {
                return Ok(o.vol_ref(&v.def));
            }
        }
        Err(Error::new(
            code::NO_STORAGE_VOL,
            FROM,
            if path == clean {
                format!("no storage vol with matching path '{}'", path)
            } else {
                format!("no storage vol with matching path '{}' ({})", path, clean)
            },
        ))
    }

    fn vol_delete(&self, vol: &VolRef, flags: u32) -> Result<()> {
        let e = self.vol_entry(vol)?;
        let mut o = e.lock();
        o.check_active()?;
        let be = backend::for_type(o.def.kind)?;
        let i = o.find_vol(&vol.name)?;
        objects::vol_in_use(&o.vols[i])?;
        let v = o.vols[i].def.clone();
        match be.delete_vol(&self.ctx, &mut o.def, &v, flags)? {
            Some(vols) => o.vols = wrap_vols(vols),
            None => {
                o.def.allocation = o.def.allocation.wrapping_sub(v.allocation);
                o.def.available = o.def.available.wrapping_add(v.allocation);
                if let Some(i) = o.vol_index(&vol.name) {
                    o.vols.remove(i);
                }
            }
        }
        Ok(())
    }

    fn vol_get_info(&self, vol: &VolRef, flags: u32) -> Result<VolInfo> {
        check_flags(flags, vol_info::GET_PHYSICAL, "storageVolGetInfoFlags")?;
        let e = self.vol_entry(vol)?;
        let mut o = e.lock();
        o.check_active()?;
        let be = backend::for_type(o.def.kind)?;
        let i = o.find_vol(&vol.name)?;
        self.refresh_vol_locked(be, &mut o, i)?;
        let v = &o.vols[i].def;
        Ok(VolInfo {
            kind: vol_type_number(v.kind),
            capacity: v.capacity,
            allocation: if flags & vol_info::GET_PHYSICAL != 0 {
                v.physical
            } else {
                v.allocation
            },
        })
    }

    fn vol_get_xml_desc(&self, vol: &VolRef, flags: u32) -> Result<String> {
        check_flags(flags, 0, "storageVolGetXMLDesc")?;
        let e = self.vol_entry(vol)?;
        let mut o = e.lock();
        o.check_active()?;
        let be = backend::for_type(o.def.kind)?;
        let i = o.find_vol(&vol.name)?;
        self.refresh_vol_locked(be, &mut o, i)?;
        Ok(o.vols[i].def.format())
    }

    fn vol_get_path(&self, vol: &VolRef) -> Result<String> {
        let e = self.vol_entry(vol)?;
        let o = e.lock();
        let i = o.find_vol(&vol.name)?;
        Ok(o.vols[i].def.target.path.clone().unwrap_or_default())
    }

    fn vol_resize(&self, vol: &VolRef, capacity: u64, flags: u32) -> Result<()> {
        check_flags(
            flags,
            vol_resize::ALLOCATE | vol_resize::DELTA | vol_resize::SHRINK,
            "storageVolResize",
        )?;
        let e = self.vol_entry(vol)?;
        let mut o = e.lock();
        o.check_active()?;
        let be = backend::for_type(o.def.kind)?;
        let i = o.find_vol(&vol.name)?;
        objects::vol_in_use(&o.vols[i])?;
        let cur = o.vols[i].def.capacity;
        let mut flags = flags;
        let abs = if flags & vol_resize::DELTA != 0 {
            flags &= !vol_resize::DELTA;
            if flags & vol_resize::SHRINK != 0 {
                cur - capacity.min(cur)
            } else {
                cur.wrapping_add(capacity)
            }
        } else {
            capacity
        };
        let alloc = o.vols[i].def.allocation;
        if abs < alloc {
            return Err(Error::invalid_arg(
                FROM,
                "can't shrink capacity below existing allocation",
            ));
        }
        if abs < cur && flags & vol_resize::SHRINK == 0 {
            return Err(Error::invalid_arg(
                FROM,
                "Can't shrink capacity below current capacity unless shrink flag explicitly specified",
            ));
        }
        let delta = if flags & vol_resize::ALLOCATE != 0 {
            abs - alloc
        } else {
            0
        };
        if delta > o.def.available {
            return Err(Error::operation_failed(
                FROM,
                "Not enough space left in storage pool",
            ));
        }
        let v = o.vols[i].def.clone();
        let pdef = o.def.clone();
        be.resize_vol(&self.ctx, &pdef, &v, abs, flags)?;
        o.vols[i].def.capacity = abs;
        if flags & vol_resize::ALLOCATE != 0 {
            o.vols[i].def.allocation = abs;
            o.def.allocation = o.def.allocation.wrapping_add(delta);
            o.def.available = o.def.available.wrapping_sub(delta);
        }
        Ok(())
    }

    fn vol_wipe(&self, vol: &VolRef, algorithm: u32, flags: u32) -> Result<()> {
        check_flags(flags, 0, "storageVolWipePattern")?;
        if algorithm >= wipe_alg::LAST {
            return Err(Error::invalid_arg(
                FROM,
                format!("wiping algorithm {} not supported", algorithm),
            ));
        }
        let e = self.vol_entry(vol)?;
        let mut o = e.lock();
        o.check_active()?;
        let be = backend::for_type(o.def.kind)?;
        let i = o.find_vol(&vol.name)?;
        objects::vol_in_use(&o.vols[i])?;
        let v = o.vols[i].def.clone();
        let pdef = o.def.clone();
        o.vols[i].in_use += 1;
        o.asyncjobs += 1;
        drop(o);
        let res = be.wipe_vol(&pdef, &v, algorithm, flags);
        let mut o = e.lock();
        o.asyncjobs -= 1;
        let Some(i) = o.vol_index(&vol.name) else {
            return res;
        };
        o.vols[i].in_use -= 1;
        res?;
        if is_dir_like(o.def.kind) {
            volume::refresh_target(&mut o.vols[i].def)?;
        }
        Ok(())
    }

    fn vol_wipe_zero(&self, vol: &VolRef, flags: u32) -> Result<()> {
        self.vol_wipe(vol, wipe_alg::ZERO, flags)
    }

    fn vol_upload(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<Box<dyn Stream>> {
        self.open_stream(vol, offset, length, flags, true)
    }

    fn vol_download(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<Box<dyn Stream>> {
        self.open_stream(vol, offset, length, flags, false)
    }
}

fn wrap_vols(vols: Vec<Volume>) -> Vec<VolObj> {
    vols.into_iter()
        .map(|def| VolObj {
            def,
            building: false,
            in_use: 0,
        })
        .collect()
}

fn is_dir_like(t: PoolType) -> bool {
    matches!(
        t,
        PoolType::Dir | PoolType::Fs | PoolType::Netfs | PoolType::Vstorage
    )
}

fn vol_type_number(t: VolType) -> i32 {
    match t {
        VolType::File => vol_type::FILE,
        VolType::Block => vol_type::BLOCK,
        VolType::Dir => vol_type::DIR,
        VolType::Network => vol_type::NETWORK,
        VolType::Netdir => vol_type::NETDIR,
        VolType::Ploop => vol_type::PLOOP,
    }
}

/// virStorageBackendStablePath without waiting: a /dev/disk/by-* pool
/// names its volumes by the links in its target directory.
fn stable_path(def: &Pool, devpath: &str) -> String {
    let target = def.target_path.as_deref().unwrap_or("");
    if def.kind == PoolType::Logical
        || !target.starts_with("/dev/")
        || target == "/dev/"
        || !matches!(
            def.kind,
            PoolType::Disk | PoolType::Iscsi | PoolType::Scsi | PoolType::Mpath
        ) && !is_dir_like(def.kind)
    {
        return devpath.to_string();
    }
    if let Ok(rd) = std::fs::read_dir(target) {
        for e in rd.flatten() {
            let p = e.path();
            if std::fs::canonicalize(&p).ok() == std::fs::canonicalize(devpath).ok()
                && std::fs::canonicalize(devpath).is_ok()
            {
                return p.to_string_lossy().into_owned();
            }
        }
    }
    devpath.to_string()
}

/// `NAME.xml` files of a directory, sorted.
fn xml_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<(String, PathBuf)> = rd
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with('.') || !e.path().is_file() {
                return None;
            }
            n.strip_suffix(".xml").map(|s| (s.to_string(), e.path()))
        })
        .collect();
    v.sort();
    v
}
