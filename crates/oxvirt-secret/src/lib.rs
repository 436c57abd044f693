//! The secret driver of a real host (libvirt's `secret_driver.c`): one
//! instance per daemon root, shared by every connection.
//!
//! ```text
//! ROOT/UUID.xml     a persistent secret's definition (0600, atomic)
//! ROOT/UUID.base64  its value, base64 (0600, atomic)
//! ```
//!
//! Ephemeral secrets never touch the disk. Private secrets never leave
//! the daemon: [`SecretDriver::secret_get_value`] refuses them, as
//! libvirtd refuses every client; drivers inside the daemon read values
//! with [`SecretDriver::secret_value_internal`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use base64::Engine as _;
use zeroize::Zeroizing;

use oxvirt_core::error::{code, from};
use oxvirt_core::event::{
    secret_lifecycle, EventHub, SecretEvent, SecretEventCallback, SecretEventKind,
};
use oxvirt_core::types::flags::list_secrets as ls;
use oxvirt_core::types::{SecretRef, Uuid};
use oxvirt_core::{Error, Result};
use oxvirt_xml::secret::{usage_name, usage_type, Secret};

const FROM: i32 = from::SECRET;

/// The largest value a secret holds (the wire's REMOTE_SECRET_VALUE_MAX).
pub const VALUE_MAX: usize = 65536;
/// The largest definition file read at start (libvirt's limit).
const XML_FILE_MAX: u64 = 10 * 1024 * 1024;

/// How an internal caller names the secret it needs (a disk's or a
/// volume's `<secret uuid=.../>` or `<secret usage=.../>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Uuid(Uuid),
    Usage(String),
}

struct SecretObj {
    def: Secret,
    value: Option<Zeroizing<Vec<u8>>>,
}

impl SecretObj {
    fn handle(&self) -> SecretRef {
        handle(&self.def)
    }
}

fn handle(def: &Secret) -> SecretRef {
    SecretRef {
        uuid: def.uuid,
        usage_type: def.usage_type,
        usage_id: def.usage_id.clone().unwrap_or_default(),
    }
}

/// The secret driver of one daemon root.
pub struct SecretDriver {
    dir: PathBuf,
    secrets: Mutex<BTreeMap<Uuid, SecretObj>>,
    events: EventHub,
}

fn no_secret_uuid(uuid: &Uuid) -> Error {
    Error::new(
        code::NO_SECRET,
        FROM,
        format!("no secret with matching uuid '{}'", uuid),
    )
}

fn check_flags(flags: u32, allowed: u32, func: &str) -> Result<()> {
    oxvirt_core::error::check_flags(flags, allowed, func, FROM)
}

impl SecretDriver {
    /// Opens the driver over `dir` (created 0700), loading every secret
    /// defined there. A definition that does not parse, or whose UUID
    /// does not match its file name, is skipped with a warning.
    pub fn open(dir: &Path) -> Result<SecretDriver> {
        create_private_dir(dir)?;
        oxvirt_host::fsutil::remove_stray_temporaries(dir);
        let mut secrets = BTreeMap::new();
        let rd = std::fs::read_dir(dir).map_err(|e| {
            Error::system(
                FROM,
                format!("cannot open directory '{}'", dir.display()),
                &e,
            )
        })?;
        let mut names: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".xml") && !n.starts_with('.'))
            .collect();
        names.sort();
        for name in names {
            match load(dir, &name) {
                Ok(obj) => {
                    if secrets.values().any(|o: &SecretObj| {
                        usage_matches(o, obj.def.usage_type, obj.def.usage_id.as_deref())
                    }) {
                        tracing::error!("Error reading secret {}: usage already defined", name);
                        continue;
                    }
                    secrets.insert(obj.def.uuid, obj);
                }
                Err(e) => tracing::error!("Error reading secret: {}", e),
            }
        }
        Ok(SecretDriver {
            dir: dir.to_path_buf(),
            secrets: Mutex::new(secrets),
            events: EventHub::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Uuid, SecretObj>> {
        self.secrets.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn config_file(&self, uuid: &Uuid) -> PathBuf {
        self.dir.join(format!("{}.xml", uuid))
    }

    fn value_file(&self, uuid: &Uuid) -> PathBuf {
        self.dir.join(format!("{}.base64", uuid))
    }

    fn emit(&self, secret: SecretRef, kind: SecretEventKind) {
        self.events.emit_secret(&SecretEvent { secret, kind });
    }

    fn save_config(&self, def: &Secret) -> Result<()> {
        oxvirt_host::fsutil::write_atomic_mode(
            &self.config_file(&def.uuid),
            def.format().as_bytes(),
            0o600,
            true,
            FROM,
        )
    }

    fn save_value(&self, uuid: &Uuid, value: &[u8]) -> Result<()> {
        let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(value));
        oxvirt_host::fsutil::write_atomic_mode(
            &self.value_file(uuid),
            b64.as_bytes(),
            0o600,
            true,
            FROM,
        )
    }

    fn delete_config(&self, uuid: &Uuid) -> Result<()> {
        let p = self.config_file(uuid);
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::system(
                FROM,
                format!("cannot unlink '{}'", p.display()),
                &e,
            )),
        }
    }

    fn delete_value(&self, uuid: &Uuid) {
        let _ = std::fs::remove_file(self.value_file(uuid));
    }

    /// The value of a secret for a driver inside the daemon (a LUKS key
    /// for qemu-img or QEMU): private secrets are readable, and the
    /// secret must be of `want` usage type (libvirt's
    /// virSecretGetSecretString).
    pub fn secret_value_internal(&self, lookup: &Lookup, want: i32) -> Result<Zeroizing<Vec<u8>>> {
        let st = self.lock();
        let o = match lookup {
            Lookup::Uuid(u) => st.get(u).ok_or_else(|| no_secret_uuid(u))?,
            Lookup::Usage(id) => st
                .values()
                .find(|o| usage_matches(o, want, Some(id)))
                .ok_or_else(|| {
                    Error::new(
                        code::NO_SECRET,
                        FROM,
                        format!("no secret with matching usage '{}'", id),
                    )
                })?,
        };
        if o.def.usage_type != usage_type::NONE && o.def.usage_type != want {
            return Err(Error::invalid_arg(
                FROM,
                format!(
                    "secret with uuid {} is of type '{}' not expected '{}' type",
                    o.def.uuid,
                    usage_name(o.def.usage_type).unwrap_or(""),
                    usage_name(want).unwrap_or("")
                ),
            ));
        }
        value_of(o).map(Zeroizing::new)
    }
}

/// The hypervisor drivers' view (libvirt's virSecretGetSecretString).
impl oxvirt_core::host::SecretValues for SecretDriver {
    fn secret_value(
        &self,
        secret: &oxvirt_core::host::SecretLookup,
        usage_type: i32,
    ) -> Result<Vec<u8>> {
        let lookup = match secret {
            oxvirt_core::host::SecretLookup::Uuid(u) => Lookup::Uuid(*u),
            oxvirt_core::host::SecretLookup::Usage { usage_id, .. } => {
                Lookup::Usage(usage_id.clone())
            }
        };
        let v = self.secret_value_internal(&lookup, usage_type)?;
        Ok(v.to_vec())
    }
}

impl oxvirt_core::SecretDriver for SecretDriver {
    fn list_all_secrets(&self, flags: u32) -> Result<Vec<SecretRef>> {
        check_flags(flags, 0xf, "virConnectListAllSecrets")?;
        let matches = |want: u32, no: u32, v: bool| {
            flags & (want | no) == 0 || (flags & want != 0 && v) || (flags & no != 0 && !v)
        };
        Ok(self
            .lock()
            .values()
            .filter(|o| matches(ls::EPHEMERAL, ls::NO_EPHEMERAL, o.def.ephemeral))
            .filter(|o| matches(ls::PRIVATE, ls::NO_PRIVATE, o.def.private))
            .map(SecretObj::handle)
            .collect())
    }

    fn lookup_secret_by_uuid(&self, uuid: &Uuid) -> Result<SecretRef> {
        self.lock()
            .get(uuid)
            .map(SecretObj::handle)
            .ok_or_else(|| no_secret_uuid(uuid))
    }

    fn lookup_secret_by_usage(&self, usage_type: i32, usage_id: &str) -> Result<SecretRef> {
        self.lock()
            .values()
            .find(|o| usage_matches(o, usage_type, Some(usage_id)))
            .map(SecretObj::handle)
            .ok_or_else(|| {
                Error::new(
                    code::NO_SECRET,
                    FROM,
                    format!("no secret with matching usage '{}'", usage_id),
                )
            })
    }

    fn secret_define_xml(&self, xml: &str, flags: u32) -> Result<SecretRef> {
        check_flags(flags, 1, "secretDefineXML")?;
        if flags & 1 != 0 {
            oxvirt_schema::check(xml, "secret")?;
        }
        let mut def = Secret::parse(xml).map_err(|e| Error::from_xml(e, FROM))?;
        if !def.uuid_specified {
            def.uuid = Uuid(*uuid::Uuid::new_v4().as_bytes());
        }
        let h = {
            let mut st = self.lock();
            if let Some(obj) = st.get(&def.uuid) {
                if obj.def.usage_id != def.usage_id {
                    return Err(Error::internal(
                        FROM,
                        format!(
                            "a secret with UUID {} is already defined for use with {}",
                            def.uuid,
                            obj.def.usage_id.as_deref().unwrap_or("(null)")
                        ),
                    ));
                }
                if obj.def.private && !def.private {
                    return Err(Error::internal(
                        FROM,
                        "cannot change private flag on existing secret",
                    ));
                }
            } else if let Some(o) = st
                .values()
                .find(|o| usage_matches(o, def.usage_type, def.usage_id.as_deref()))
            {
                return Err(Error::internal(
                    FROM,
                    format!(
                        "a secret with UUID {} already defined for use with {}",
                        o.def.uuid,
                        def.usage_id.as_deref().unwrap_or("(null)")
                    ),
                ));
            }
            let old = st.get(&def.uuid).map(|o| o.def.clone());
            let value = st.get(&def.uuid).and_then(|o| o.value.clone());
            if !def.ephemeral {
                // An ephemeral secret made persistent keeps its value on disk.
                if let (Some(old), Some(v)) = (&old, &value) {
                    if old.ephemeral {
                        self.save_value(&def.uuid, v)?;
                    }
                }
                if let Err(e) = self.save_config(&def) {
                    if old.as_ref().is_some_and(|o| o.ephemeral) {
                        self.delete_value(&def.uuid);
                    }
                    return Err(e);
                }
            } else if old.as_ref().is_some_and(|o| !o.ephemeral) {
                self.delete_config(&def.uuid)?;
                self.delete_value(&def.uuid);
            }
            let h = handle(&def);
            match st.get_mut(&def.uuid) {
                Some(o) => o.def = def,
                None => {
                    st.insert(def.uuid, SecretObj { def, value: None });
                }
            }
            h
        };
        self.emit(
            h.clone(),
            SecretEventKind::Lifecycle {
                event: secret_lifecycle::DEFINED,
                detail: 0,
            },
        );
        Ok(h)
    }

    fn secret_get_xml_desc(&self, secret: &SecretRef, flags: u32) -> Result<String> {
        check_flags(flags, 0, "secretGetXMLDesc")?;
        let st = self.lock();
        let o = st
            .get(&secret.uuid)
            .ok_or_else(|| no_secret_uuid(&secret.uuid))?;
        Ok(o.def.format())
    }

    fn secret_set_value(&self, secret: &SecretRef, value: &[u8], flags: u32) -> Result<()> {
        check_flags(flags, 0, "secretSetValue")?;
        if value.len() > VALUE_MAX {
            return Err(Error::invalid_arg(
                FROM,
                format!("secret value larger than {} bytes", VALUE_MAX),
            ));
        }
        let h = {
            let mut st = self.lock();
            let o = st
                .get(&secret.uuid)
                .ok_or_else(|| no_secret_uuid(&secret.uuid))?;
            if !o.def.ephemeral {
                self.save_value(&secret.uuid, value)?;
            }
            let o = st
                .get_mut(&secret.uuid)
                .ok_or_else(|| no_secret_uuid(&secret.uuid))?;
            o.value = Some(Zeroizing::new(value.to_vec()));
            o.handle()
        };
        self.emit(h, SecretEventKind::ValueChanged);
        Ok(())
    }

    /// virSecretGetValue as a client calls it: private secrets are refused.
    fn secret_get_value(&self, secret: &SecretRef, flags: u32) -> Result<Vec<u8>> {
        check_flags(flags, 0, "secretGetValue")?;
        let st = self.lock();
        let o = st
            .get(&secret.uuid)
            .ok_or_else(|| no_secret_uuid(&secret.uuid))?;
        if o.def.private {
            return Err(Error::new(code::INVALID_SECRET, FROM, "secret is private"));
        }
        value_of(o)
    }

    fn secret_undefine(&self, secret: &SecretRef) -> Result<()> {
        let h = {
            let mut st = self.lock();
            let o = st
                .get(&secret.uuid)
                .ok_or_else(|| no_secret_uuid(&secret.uuid))?;
            if !o.def.ephemeral {
                self.delete_config(&secret.uuid)?;
            }
            let h = o.handle();
            self.delete_value(&secret.uuid);
            st.remove(&secret.uuid);
            h
        };
        self.emit(
            h,
            SecretEventKind::Lifecycle {
                event: secret_lifecycle::UNDEFINED,
                detail: 0,
            },
        );
        Ok(())
    }

    fn secret_event_register(
        &self,
        secret: Option<&SecretRef>,
        event_id: i32,
        cb: SecretEventCallback,
    ) -> Result<i32> {
        if !(0..2).contains(&event_id) {
            return Err(Error::invalid_arg(
                FROM,
                format!("unsupported event ID {}", event_id),
            ));
        }
        Ok(self.events.register_secret(secret, event_id, cb))
    }

    fn secret_event_deregister(&self, callback_id: i32) -> Result<()> {
        if self.events.deregister(callback_id) {
            Ok(())
        } else {
            Err(Error::invalid_arg(
                FROM,
                format!("could not find event callback {} for deletion", callback_id),
            ))
        }
    }
}

/// virSecretObjSearchName: secrets without a usage never match.
fn usage_matches(o: &SecretObj, kind: i32, id: Option<&str>) -> bool {
    kind != usage_type::NONE && o.def.usage_type == kind && o.def.usage_id.as_deref() == id
}

fn value_of(o: &SecretObj) -> Result<Vec<u8>> {
    match &o.value {
        Some(v) => Ok(v.to_vec()),
        None => Err(Error::new(
            code::NO_SECRET,
            FROM,
            format!("secret '{}' does not have a value", o.def.uuid),
        )),
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            Error::system(
                FROM,
                format!("cannot create config directory '{}'", dir.display()),
                &e,
            )
        })
}

/// Reads one `UUID.xml` (and its `UUID.base64`, if any).
fn load(dir: &Path, name: &str) -> Result<SecretObj> {
    let path = dir.join(name);
    let meta = std::fs::metadata(&path)
        .map_err(|e| Error::system(FROM, format!("cannot stat '{}'", path.display()), &e))?;
    if meta.len() > XML_FILE_MAX {
        return Err(Error::internal(
            FROM,
            format!("'{}' is too large", path.display()),
        ));
    }
    let xml = std::fs::read_to_string(&path)
        .map_err(|e| Error::system(FROM, format!("cannot read '{}'", path.display()), &e))?;
    let def = Secret::parse(&xml).map_err(|e| Error::from_xml(e, FROM))?;
    if name != format!("{}.xml", def.uuid) {
        return Err(Error::internal(
            FROM,
            format!("<uuid> does not match secret file name '{}'", name),
        ));
    }
    let vpath = dir.join(format!("{}.base64", def.uuid));
    let value = match std::fs::read(&vpath) {
        Ok(b) if b.len() as u64 <= XML_FILE_MAX => {
            let b = Zeroizing::new(b);
            let text: Vec<u8> = b
                .iter()
                .copied()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            let text = Zeroizing::new(text);
            Some(Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(&*text)
                    .map_err(|_| {
                        Error::internal(FROM, format!("cannot decode '{}'", vpath.display()))
                    })?,
            ))
        }
        Ok(_) => {
            return Err(Error::internal(
                FROM,
                format!("'{}' file does not fit in memory", vpath.display()),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Error::system(
                FROM,
                format!("cannot open '{}'", vpath.display()),
                &e,
            ))
        }
    };
    Ok(SecretObj { def, value })
}
