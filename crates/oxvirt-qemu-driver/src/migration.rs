//! Live migration between hosts: libvirt's migration protocol version 3
//! with typed parameters (qemu_migration.c), phase by phase.
//!
//! - **Begin** (source): the domain XML and cookie for the destination.
//! - **Prepare** (destination): QEMU started paused with `-incoming
//!   defer`, listening (`migrate-incoming`) on a port of
//!   `migration_port_min..max`; the reply says where.
//! - **Perform** (source): QEMU's own TCP connection to that port
//!   (`migrate`, with pause-before-switchover so the downtime is
//!   measured from the stop); statistics for domjobinfo all along,
//!   virDomainAbortJob cancels it. Peer-to-peer, the source opens the
//!   destination itself ([`oxvirt_core::host::PeerConnector`]) and runs
//!   Prepare and Finish there, Begin and Confirm here.
//! - **Finish** (destination): waits for the stream, keeps the
//!   definition (PERSIST_DEST) and resumes the guest; or, cancelled,
//!   kills the incoming QEMU.
//! - **Confirm** (source): stops the migrated QEMU (UNDEFINE_SOURCE
//!   drops the definition); or, cancelled, resumes the guest.
//!
//! A failure at any phase leaves the guest running on exactly one side:
//! the source resumes it unless the destination's Finish succeeded, and
//! a destination whose Prepare connection goes away before Finish kills
//! its incoming QEMU.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use oxvirt_core::error::code;
use oxvirt_core::event::{lifecycle as lc, DomainEvent, DomainEventKind};
use oxvirt_core::types::flags::migrate as mf;
use oxvirt_core::types::{
    reason, validate_params, DomainRef, DomainState, TypedParam, TypedValue, Uuid,
};
use oxvirt_core::{Connection, Error, Result};
use oxvirt_xml::domain::FormatFlags;
use serde_json::{json, Value};

use crate::driver::{check_flags, Driver, Running};
use crate::jobdata::{operation, JobData, JobStatus};
use crate::migcookie::Cookie;
use crate::monitor::qmp_err;
use crate::process::StartOpts;
use crate::FROM;

const MIB: u64 = 1024 * 1024;
/// VIR_DRV_FEATURE_MIGRATION_P2P and _PARAMS, asked of a destination.
const FEATURE_P2P: i32 = 4;
const FEATURE_PARAMS: i32 = 13;

/// The typed parameters of a migration (QEMU_MIGRATION_PARAMETERS) with
/// their types; `compression` and `migrate_disks` may repeat.
const PARAMS: &[(&str, i32)] = &[
    ("migrate_uri", 7),
    ("destination_name", 7),
    ("destination_xml", 7),
    ("bandwidth", 4),
    ("graphics_uri", 7),
    ("listen_address", 7),
    ("migrate_disks", 7),
    ("disks_port", 1),
    ("compression", 7),
    ("compression.mt.level", 1),
    ("compression.mt.threads", 1),
    ("compression.mt.dthreads", 1),
    ("compression.xbzrle.cache", 4),
    ("persistent_xml", 7),
    ("auto_converge.initial", 1),
    ("auto_converge.increment", 1),
    ("bandwidth.postcopy", 4),
    ("parallel.connections", 1),
    ("tls.destination", 7),
    ("disks_uri", 7),
];
const MULTIPLE: &[&str] = &["compression", "migrate_disks"];

/// The flags this driver does not carry out yet, with libvirt's names.
const NOT_YET: &[(u32, &str)] = &[
    (mf::TUNNELLED, "VIR_MIGRATE_TUNNELLED"),
    (mf::NON_SHARED_DISK, "VIR_MIGRATE_NON_SHARED_DISK"),
    (mf::NON_SHARED_INC, "VIR_MIGRATE_NON_SHARED_INC"),
    (mf::COMPRESSED, "VIR_MIGRATE_COMPRESSED"),
    (mf::AUTO_CONVERGE, "VIR_MIGRATE_AUTO_CONVERGE"),
    (mf::RDMA_PIN_ALL, "VIR_MIGRATE_RDMA_PIN_ALL"),
    (mf::POSTCOPY, "VIR_MIGRATE_POSTCOPY"),
    (mf::TLS, "VIR_MIGRATE_TLS"),
    (mf::PARALLEL, "VIR_MIGRATE_PARALLEL"),
    (mf::POSTCOPY_RESUME, "VIR_MIGRATE_POSTCOPY_RESUME"),
    (mf::ZEROCOPY, "VIR_MIGRATE_ZEROCOPY"),
];

/// Definitions of offline migrations between Prepare and Finish.
static OFFLINE: Mutex<Option<std::collections::HashMap<Uuid, oxvirt_xml::domain::Domain>>> =
    Mutex::new(None);

fn offline_defs() -> std::sync::MutexGuard<
    'static,
    Option<std::collections::HashMap<Uuid, oxvirt_xml::domain::Domain>>,
> {
    OFFLINE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Ports handed to incoming migrations not yet finished.
static PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

fn ports() -> std::sync::MutexGuard<'static, Option<HashSet<u16>>> {
    PORTS.lock().unwrap_or_else(|p| p.into_inner())
}

/// libvirt's virCheckFlags for a phase, then the flags not carried out
/// yet (NO_SUPPORT, never a pretended migration).
fn check_migrate_flags(flags: u32, func: &str) -> Result<()> {
    check_flags(flags, mf::ALL, func)?;
    for (f, name) in NOT_YET {
        if flags & f != 0 {
            return Err(Error::new(
                code::NO_SUPPORT,
                FROM,
                format!("migration with {}", name),
            ));
        }
    }
    Ok(())
}

/// What an offline migration cannot be (qemuMigrationSrcBeginPhase,
/// qemuMigrationDstPrepareAny).
fn check_offline(flags: u32) -> Result<()> {
    if flags & mf::OFFLINE == 0 {
        return Ok(());
    }
    let why = if flags & (mf::NON_SHARED_DISK | mf::NON_SHARED_INC) != 0 {
        "offline migration cannot handle non-shared storage"
    } else if flags & mf::PERSIST_DEST == 0 {
        "offline migration must be specified with the persistent flag set"
    } else if flags & mf::TUNNELLED != 0 {
        "tunnelled offline migration does not make sense"
    } else {
        return Ok(());
    };
    Err(Error::operation_invalid(FROM, why))
}

/// virTypedParamsValidate over QEMU_MIGRATION_PARAMETERS.
fn check_params(params: &[TypedParam]) -> Result<()> {
    let single: Vec<TypedParam> = params
        .iter()
        .filter(|p| !MULTIPLE.contains(&p.field.as_str()))
        .cloned()
        .collect();
    validate_params(&single, PARAMS, FROM)?;
    for p in params
        .iter()
        .filter(|p| MULTIPLE.contains(&p.field.as_str()))
    {
        if p.value.type_code() != 7 {
            return Err(Error::invalid_arg(
                FROM,
                format!(
                    "invalid type '{}' for parameter '{}', expected 'string'",
                    oxvirt_core::types::typed_param_type_name(p.value.type_code()),
                    p.field
                ),
            ));
        }
    }
    Ok(())
}

fn param_str<'a>(params: &'a [TypedParam], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find_map(|p| match (&p.value, p.field == name) {
            (TypedValue::String(s), true) => Some(s.as_str()),
            _ => None,
        })
}

fn param_u64(params: &[TypedParam], name: &str) -> Option<u64> {
    params
        .iter()
        .find(|p| p.field == name)
        .and_then(|p| p.value.as_u64())
}

/// `params` with `name` set to `value` (replacing any).
fn with_param(params: &[TypedParam], name: &str, value: &str) -> Vec<TypedParam> {
    let mut v: Vec<TypedParam> = params.iter().filter(|p| p.field != name).cloned().collect();
    v.push(TypedParam::new(name, TypedValue::String(value.into())));
    v
}

/// The host UUID cookies carry: libvirtd.conf's host_uuid, else the
/// SMBIOS UUID, else one made up for the life of the daemon.
fn host_uuid(drv: &Driver) -> Uuid {
    static FALLBACK: OnceLock<Uuid> = OnceLock::new();
    if let Some(u) = drv.services.migration.host_uuid {
        return u;
    }
    std::fs::read_to_string("/sys/class/dmi/id/product_uuid")
        .ok()
        .and_then(|s| Uuid::parse(s.trim()))
        .filter(|u| !u.is_nil())
        .unwrap_or_else(|| *FALLBACK.get_or_init(|| Uuid(*uuid::Uuid::new_v4().as_bytes())))
}

/// Where the source sends the stream: `tcp:HOST:PORT`,
/// `tcp://HOST[:PORT]` or `tcp:HOST` (libvirt turns the first into the
/// second before parsing).
#[derive(Debug, Clone, PartialEq, Eq)]
struct MigUri {
    /// Written as `tcp://...` (a well-formed URI is answered in kind).
    well_formed: bool,
    host: String,
    port: Option<u16>,
    /// `unix:///PATH` (or `unix:PATH`): a socket the destination's QEMU
    /// listens on and the source's connects to.
    unix: Option<String>,
}

impl MigUri {
    fn parse(s: &str) -> Result<MigUri> {
        let bad = || Error::invalid_arg(FROM, format!("unable to parse URI {}", s));
        if let Some(r) = s.strip_prefix("unix:") {
            let path = r.strip_prefix("//").unwrap_or(r);
            if !path.starts_with('/') {
                return Err(bad());
            }
            return Ok(MigUri {
                well_formed: true,
                host: String::new(),
                port: None,
                unix: Some(path.to_string()),
            });
        }
        let (well_formed, rest) = if let Some(r) = s.strip_prefix("tcp://") {
            (true, r.trim_end_matches('/'))
        } else if let Some(r) = s.strip_prefix("tcp:") {
            (false, r)
        } else {
            let scheme = s.split(':').next().unwrap_or(s);
            return Err(Error::argument_unsupported(
                FROM,
                format!("unsupported scheme {} in migration URI {}", scheme, s),
            ));
        };
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, after) = r.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p.parse().map_err(|_| bad())?),
                None if after.is_empty() => None,
                None => return Err(bad()),
            };
            (h.to_string(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.parse().map_err(|_| bad())?)),
                None => (rest.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(MigUri {
            well_formed,
            host,
            port: port.filter(|p| *p != 0),
            unix: None,
        })
    }

    fn host_part(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    fn format(&self) -> String {
        if let Some(p) = &self.unix {
            return format!("unix://{}", p);
        }
        let port = self.port.map(|p| format!(":{}", p)).unwrap_or_default();
        if self.well_formed {
            format!("tcp://{}{}", self.host_part(), port)
        } else {
            format!("tcp:{}{}", self.host_part(), port)
        }
    }

    /// QEMU's form.
    fn qemu(&self) -> String {
        if let Some(p) = &self.unix {
            return format!("unix:{}", p);
        }
        format!("tcp:{}:{}", self.host_part(), self.port.unwrap_or(0))
    }
}

/// A free port of the configured range, reserved until released.
fn allocate_port(min: u16, max: u16, listen: &str) -> Result<u16> {
    let mut g = ports();
    let used = g.get_or_insert_with(HashSet::new);
    for p in min..=max {
        if used.contains(&p) {
            continue;
        }
        let addr = if listen.contains(':') {
            format!("[{}]:{}", listen, p)
        } else {
            format!("{}:{}", listen, p)
        };
        if std::net::TcpListener::bind(&addr).is_ok() {
            used.insert(p);
            return Ok(p);
        }
    }
    Err(Error::internal(
        FROM,
        format!(
            "Unable to find an unused port in range 'migration' ({}-{})",
            min, max
        ),
    ))
}

fn release_port(p: u16) {
    if let Some(s) = ports().as_mut() {
        s.remove(&p);
    }
}

impl Driver {
    fn cookie_for(&self, name: &str, uuid: Uuid) -> Cookie {
        Cookie {
            name: name.to_string(),
            uuid,
            hostname: crate::hostproc::hostname(),
            hostuuid: host_uuid(self),
            ..Default::default()
        }
    }

    /// Reads a peer's cookie: `allowed` mandatory features, the identity
    /// of the domain it is about, and never this host's own.
    fn eat_cookie(
        &self,
        bytes: &[u8],
        allowed: &[&str],
        name: &str,
        uuid: &Uuid,
    ) -> Result<Option<Cookie>> {
        let Some(c) = Cookie::parse(bytes, allowed)? else {
            return Ok(None);
        };
        if c.name != name {
            return Err(Error::internal(
                FROM,
                format!(
                    "Incoming cookie data had unexpected name {} vs {}",
                    c.name, name
                ),
            ));
        }
        if c.uuid != *uuid {
            return Err(Error::internal(
                FROM,
                format!(
                    "Incoming cookie data had unexpected UUID {} vs {}",
                    c.uuid, uuid
                ),
            ));
        }
        if c.hostuuid == host_uuid(self) {
            return Err(Error::internal(
                FROM,
                format!("Attempt to migrate guest to the same host {}", c.hostuuid),
            ));
        }
        Ok(Some(c))
    }

    // ---- source ------------------------------------------------------------

    /// qemuDomainMigrateBegin3Params.
    pub(crate) fn migrate_begin(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(Vec<u8>, String)> {
        check_migrate_flags(flags, "qemuDomainMigrateBegin3Params")?;
        check_params(params)?;
        let _job = self.begin_job(dom)?;
        self.begin_phase(dom, params, flags)
    }

    fn begin_phase(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(Vec<u8>, String)> {
        check_offline(flags)?;
        let st = self.lock();
        let obj = st.dom(dom)?;
        let offline = flags & mf::OFFLINE != 0;
        if !offline {
            obj.check_active()?;
        }
        if obj.job_current.is_some() && !offline {
            return Err(Error::new(
                code::OPERATION_INVALID,
                FROM,
                "another migration job is already running for domain",
            ));
        }
        let def = match param_str(params, "destination_xml") {
            Some(x) => {
                let d = self.parse_def_existing(x)?;
                if d.uuid != obj.def.uuid {
                    return Err(Error::new(
                        code::INVALID_ARG,
                        FROM,
                        format!(
                            "Target domain uuid {} does not match source {}",
                            d.uuid, obj.def.uuid
                        ),
                    ));
                }
                d
            }
            // Offline, what the destination defines.
            None if offline => obj.persistent_def().clone(),
            None => obj.def.clone(),
        };
        let xml = def.format(FormatFlags {
            secure: true,
            migratable: true,
            inactive: offline,
        });
        let mut c = self.cookie_for(&obj.def.name, obj.def.uuid);
        // libvirt's Begin always announces the (nop) lock state.
        c.features.push("lockstate".into());
        Ok((c.to_bytes(), xml))
    }

    /// qemuDomainMigratePerform3Params: peer-to-peer (`dconnuri`, the
    /// whole migration from here) or the Perform phase of a migration the
    /// client drives.
    pub(crate) fn migrate_perform(
        &self,
        dom: &DomainRef,
        dconnuri: Option<&str>,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
    ) -> Result<Vec<u8>> {
        check_migrate_flags(flags, "qemuDomainMigratePerform3Params")?;
        check_params(params)?;
        if flags & mf::PEER2PEER != 0 {
            if !cookie.is_empty() {
                return Err(Error::internal(
                    FROM,
                    "received unexpected cookie with P2P migration",
                ));
            }
            let dconnuri = dconnuri.ok_or_else(|| {
                Error::invalid_arg(
                    FROM,
                    "destination URI is required for peer-to-peer migration",
                )
            })?;
            self.perform_p2p(dom, dconnuri, params, flags)?;
            return Ok(Vec::new());
        }
        if flags & mf::OFFLINE != 0 {
            // The client's offline migration has no Perform.
            return Err(Error::operation_invalid(
                FROM,
                "offline migration has no perform phase",
            ));
        }
        let name = self.lock().dom(dom)?.def.name.clone();
        self.eat_cookie(
            cookie,
            &["graphics", "capabilities", "block-dirty-bitmaps"],
            &name,
            &dom.uuid,
        )?;
        let uri = param_str(params, "migrate_uri").ok_or_else(|| {
            Error::invalid_arg(FROM, "migration URI is required for a managed migration")
        })?;
        let uri = MigUri::parse(uri)?;
        let _job = self.begin_job(dom)?;
        self.perform_native(dom, &uri, params, flags)?;
        self.perform_cookie(dom, params, flags)
    }

    /// The Perform cookie: what Finish needs (the persistent definition
    /// with PERSIST_DEST).
    fn perform_cookie(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<Vec<u8>> {
        let st = self.lock();
        let obj = st.dom(dom)?;
        let mut c = self.cookie_for(&obj.def.name, obj.def.uuid);
        if flags & mf::PERSIST_DEST != 0 {
            let def = match param_str(params, "persistent_xml") {
                Some(x) => self.parse_def_existing(x)?,
                None => obj.persistent_def().clone(),
            };
            c.features.push("persistent".into());
            c.persistent = Some(def.format(FormatFlags {
                inactive: true,
                secure: true,
                migratable: true,
            }));
        }
        Ok(c.to_bytes())
    }

    /// qemuMigrationSrcRun: QEMU migrates to `uri`, pausing before the
    /// switch-over; statistics are kept for domjobinfo. On failure the
    /// guest runs on here as before.
    fn perform_native(
        &self,
        dom: &DomainRef,
        uri: &MigUri,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        let run = self.running(dom)?;
        if uri.port.is_none() && uri.unix.is_none() {
            return Err(Error::invalid_arg(
                FROM,
                format!("migration URI {} has no port", uri.format()),
            ));
        }
        let (was_running, bandwidth) = {
            let mut st = self.lock();
            let mut obj = st.dom_mut(dom)?;
            if obj.job_current.is_some() {
                return Err(Error::new(
                    code::OPERATION_INVALID,
                    FROM,
                    "another migration job is already running for domain",
                ));
            }
            obj.job_current = Some(JobData::new(operation::MIGRATION_OUT));
            obj.job_completed = None;
            // The stop at the switch-over and a resume after a failure.
            obj.paused_reason = reason::paused::MIGRATION;
            obj.running_reason = reason::running::MIGRATION_CANCELED;
            let bw = match param_u64(params, "bandwidth") {
                Some(b) if b > 0 => b,
                _ => obj.mig_max_bandwidth,
            };
            (obj.state == DomainState::Running, bw)
        };
        let _ = flags;
        let r = (|| -> Result<crate::jobdata::MigStats> {
            let q = &run.qmp;
            q.execute_value(
                "migrate-set-capabilities",
                Some(json!({"capabilities": [
                    {"capability": "events", "state": true},
                    {"capability": "pause-before-switchover", "state": true},
                    {"capability": "return-path", "state": true},
                ]})),
            )
            .map_err(qmp_err)?;
            let bytes = bandwidth.saturating_mul(MIB).min(i64::MAX as u64);
            q.execute_value(
                "migrate-set-parameters",
                Some(json!({"max-bandwidth": bytes})),
            )
            .map_err(qmp_err)?;
            if self.with_job(&dom.uuid, |j| j.abort).unwrap_or(false) {
                return Err(Error::new(
                    code::OPERATION_ABORTED,
                    FROM,
                    "migration out: canceled by client",
                ));
            }
            q.execute_value("migrate", Some(json!({"uri": uri.qemu()})))
                .map_err(qmp_err)?;
            self.pause_point("migrate:started", &dom.name);
            // An abort between the check above and `migrate`.
            if self.with_job(&dom.uuid, |j| j.abort).unwrap_or(false) {
                let _ = q.execute_value("migrate_cancel", None);
            }
            self.wait_migration(&dom.uuid, &run, operation::MIGRATION_OUT)
        })();
        match r {
            Ok(stats) => {
                run.sync_events();
                self.with_job(&dom.uuid, |j| j.complete(stats));
                self.pause_point("migrate:completed", &dom.name);
                Ok(())
            }
            Err(e) => {
                let _ = run.qmp.execute_value("migrate_cancel", None);
                self.restore_source(dom, &run, was_running);
                Err(e)
            }
        }
    }

    /// After a failed or cancelled migration: the guest runs on here
    /// (reason migration-canceled) if it ran before, and the job is over.
    fn restore_source(&self, dom: &DomainRef, run: &Arc<Running>, was_running: bool) {
        // QEMU may still be finishing the cancel.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match run.qmp.execute_value("query-migrate", None) {
                Ok(v) => match v.get("status").and_then(Value::as_str) {
                    Some("cancelling")
                    | Some("active")
                    | Some("pre-switchover")
                    | Some("device")
                    | Some("setup") => std::thread::sleep(Duration::from_millis(10)),
                    _ => break,
                },
                Err(_) => break,
            }
        }
        run.sync_events();
        let paused = self
            .lock()
            .dom(dom)
            .map(|o| o.state == DomainState::Paused)
            .unwrap_or(false);
        if was_running && paused {
            if let Err(e) = self.start_cpus(dom, run, reason::running::MIGRATION_CANCELED) {
                tracing::warn!("cannot resume {} after a failed migration: {}", dom.name, e);
            }
        }
        let mut st = self.lock();
        if let Some(mut o) = st.by_uuid_mut(&dom.uuid) {
            o.job_current = None;
            o.paused_reason = reason::paused::UNKNOWN;
            o.running_reason = reason::running::UNKNOWN;
        };
    }

    /// qemuMigrationSrcPerformPeer2Peer3: Begin here, Prepare there,
    /// Perform here, Finish there, Confirm here.
    fn perform_p2p(
        &self,
        dom: &DomainRef,
        dconnuri: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        let _job = self.begin_job(dom)?;
        let dconn: Arc<Connection> = self.services.peers.open(dconnuri)?;
        use oxvirt_core::types::flags::migrate as m;
        if !dconn.connect_supports_feature(FEATURE_P2P).unwrap_or(false) {
            return Err(Error::new(
                code::OPERATION_FAILED,
                FROM,
                "Destination libvirt does not support peer-to-peer migration protocol",
            ));
        }
        if !dconn
            .connect_supports_feature(FEATURE_PARAMS)
            .unwrap_or(false)
        {
            return Err(Error::new(
                code::ARGUMENT_UNSUPPORTED,
                FROM,
                "Destination libvirt does not support migration with extensible parameters",
            ));
        }
        let (cookie, xml) = self.begin_phase(dom, params, flags)?;
        let (src_name, paused) = {
            let st = self.lock();
            let o = st.dom(dom)?;
            (o.def.name.clone(), o.state == DomainState::Paused)
        };
        let mut dflags = flags & !(m::CHANGE_PROTECTION | m::ABORT_ON_ERROR | m::AUTO_CONVERGE);
        if paused {
            dflags |= m::PAUSED;
        }
        // persistent_xml travels in the Perform cookie only.
        let mut dparams: Vec<TypedParam> = params
            .iter()
            .filter(|p| p.field != "persistent_xml")
            .cloned()
            .collect();
        dparams = with_param(&dparams, "destination_xml", &xml);
        let (pcookie, uri_out) = dconn.domain_migrate_prepare3_params(&dparams, &cookie, dflags)?;
        let name = self.lock().dom(dom)?.def.name.clone();
        let finish_params = if param_str(&dparams, "destination_name").is_some() {
            dparams.clone()
        } else {
            with_param(&dparams, "destination_name", &src_name)
        };
        let performed = (|| -> Result<Vec<u8>> {
            self.eat_cookie(
                &pcookie,
                &["graphics", "capabilities", "block-dirty-bitmaps"],
                &name,
                &dom.uuid,
            )?;
            let uri = match uri_out.as_deref().or(param_str(params, "migrate_uri")) {
                Some(u) => MigUri::parse(u)?,
                None if flags & mf::OFFLINE != 0 => MigUri::parse("tcp:offline:1")?,
                None => {
                    return Err(Error::internal(
                        FROM,
                        "domainMigratePrepare3 did not set uri",
                    ))
                }
            };
            if flags & mf::OFFLINE == 0 {
                self.perform_native(dom, &uri, params, flags)?;
            }
            self.perform_cookie(dom, params, flags)
        })();
        let (cancelled, fcookie) = match &performed {
            Ok(c) => (0, c.clone()),
            Err(_) => (1, Vec::new()),
        };
        let finished =
            dconn.domain_migrate_finish3_params(&finish_params, &fcookie, dflags, cancelled);
        drop(dconn);
        match (performed, finished) {
            (Ok(_), Ok((_, c))) => self.confirm_phase(dom, &c, flags, false),
            (Ok(_), Err(e)) => {
                // The destination did not take the guest: it runs on here.
                let _ = self.confirm_phase(dom, &[], flags, true);
                Err(e)
            }
            (Err(e), _) => Err(e),
        }
    }

    /// qemuDomainMigrateConfirm3Params.
    pub(crate) fn migrate_confirm(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
        cancelled: i32,
    ) -> Result<()> {
        check_migrate_flags(flags, "qemuDomainMigrateConfirm3Params")?;
        check_params(params)?;
        let _job = self.begin_job(dom)?;
        self.confirm_phase(dom, cookie, flags, cancelled != 0)
    }

    /// qemuMigrationSrcConfirmPhase: the migrated guest is stopped here
    /// (STOPPED migrated, then JOB_COMPLETED); cancelled, it runs on.
    fn confirm_phase(
        &self,
        dom: &DomainRef,
        cookie: &[u8],
        flags: u32,
        cancelled: bool,
    ) -> Result<()> {
        if flags & mf::OFFLINE != 0 {
            return self.confirm_offline(dom, flags, cancelled);
        }
        let run = self.running(dom)?;
        let name = self.lock().dom(dom)?.def.name.clone();
        if !cancelled {
            if let Err(e) = self.eat_cookie(cookie, &["statistics"], &name, &dom.uuid) {
                let _ = self.finish_failed_source(dom, &run);
                return Err(e);
            }
            let completed = self
                .lock()
                .dom(dom)?
                .job_current
                .as_ref()
                .is_some_and(|j| j.status == JobStatus::Completed);
            if !completed {
                return Err(Error::operation_invalid(
                    FROM,
                    "domain is not being migrated out",
                ));
            }
        }
        if cancelled {
            return self.finish_failed_source(dom, &run);
        }
        self.kill_process(&run, false, true)?;
        run.wait_eof(Duration::from_secs(5));
        self.reap(&run);
        let (h, done) = {
            let mut st = self.lock();
            let done = st.by_uuid_mut(&dom.uuid).and_then(|mut o| {
                let j = o.job_current.take();
                o.job_completed = j.clone();
                if flags & mf::UNDEFINE_SOURCE != 0 && o.persistent {
                    let _ = crate::store::remove(&self.layout.config(&o.def.name));
                    let _ = crate::store::remove(&self.layout.autostart(&o.def.name));
                    o.persistent = false;
                    o.autostart = false;
                    o.new_def = None;
                }
                j
            });
            let h = self.stop_locked(&mut st, &dom.uuid, run.gen, reason::shutoff::MIGRATED);
            (h, done)
        };
        let h = h.unwrap_or_else(|| dom.clone());
        let mut events = vec![DomainEvent::lifecycle(
            h.clone(),
            lc::STOPPED,
            lc::stopped::MIGRATED,
        )];
        if let Some(j) = done {
            events.push(DomainEvent {
                dom: h,
                kind: DomainEventKind::JobCompleted { params: j.params() },
            });
        }
        self.emit(events);
        Ok(())
    }

    /// Confirm of an offline migration: with UNDEFINE_SOURCE the
    /// definition goes (no UNDEFINED event, as libvirt).
    fn confirm_offline(&self, dom: &DomainRef, flags: u32, cancelled: bool) -> Result<()> {
        if cancelled || flags & mf::UNDEFINE_SOURCE == 0 {
            return Ok(());
        }
        let mut st = self.lock();
        let mut o = st.dom_mut(dom)?;
        let (key, name) = (o.key(), o.def.name.clone());
        if !o.persistent {
            return Ok(());
        }
        crate::store::remove(&self.layout.config(&name))?;
        let _ = crate::store::remove(&self.layout.autostart(&name));
        o.autostart = false;
        if o.is_active() {
            o.persistent = false;
            o.new_def = None;
            drop(o);
        } else {
            drop(o);
            st.doms.remove(key);
        }
        Ok(())
    }

    /// Confirm after a failure: the guest resumes here.
    fn finish_failed_source(&self, dom: &DomainRef, run: &Arc<Running>) -> Result<()> {
        let was_running = self
            .lock()
            .dom(dom)
            .map(|o| o.reason == reason::paused::MIGRATION || o.state == DomainState::Running)
            .unwrap_or(false);
        self.restore_source(dom, run, was_running);
        Ok(())
    }

    // ---- destination -----------------------------------------------------------

    /// qemuDomainMigratePrepare3Params: the incoming QEMU, listening.
    pub(crate) fn migrate_prepare(
        &self,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
    ) -> Result<(Vec<u8>, Option<String>, DomainRef)> {
        check_migrate_flags(flags, "qemuDomainMigratePrepare3Params")?;
        check_params(params)?;
        check_offline(flags)?;
        let xml = param_str(params, "destination_xml")
            .ok_or_else(|| Error::invalid_arg(FROM, "no domain XML passed"))?;
        let mut def = self.parse_def_existing(xml)?;
        let origname = def.name.clone();
        self.eat_cookie(
            cookie,
            &[
                "lockstate",
                "nbd",
                "memory-hotplug",
                "cpu-hotplug",
                "cpu",
                "capabilities",
                "block-dirty-bitmaps",
            ],
            &origname,
            &def.uuid,
        )?;
        if let Some(n) = param_str(params, "destination_name") {
            def.name = n.to_string();
        }
        // Where QEMU listens and what the source is told.
        let settings = &self.services.migration;
        let given = param_str(params, "migrate_uri")
            .map(MigUri::parse)
            .transpose()?;
        let listen = param_str(params, "listen_address")
            .map(str::to_string)
            .or_else(|| settings.address.clone())
            .unwrap_or_else(|| "0.0.0.0".to_string());
        let (port, uri_out, allocated) = match &given {
            Some(MigUri { unix: Some(_), .. }) => (0, None, false),
            Some(MigUri { port: Some(p), .. }) => (*p, None, false),
            Some(u) => {
                let p = allocate_port(settings.port_min, settings.port_max, &listen)?;
                let out = MigUri {
                    port: Some(p),
                    ..u.clone()
                };
                (p, Some(out.format()), true)
            }
            None => {
                let host = settings
                    .host
                    .clone()
                    .unwrap_or_else(crate::hostproc::hostname);
                if host.starts_with("localhost") {
                    return Err(Error::internal(
                        FROM,
                        "hostname on destination resolved to localhost, but migration requires an FQDN",
                    ));
                }
                let p = allocate_port(settings.port_min, settings.port_max, &listen)?;
                let out = MigUri {
                    well_formed: false,
                    host,
                    port: Some(p),
                    unix: None,
                };
                (p, Some(out.format()), true)
            }
        };
        let listen_uri = match given {
            Some(u @ MigUri { unix: Some(_), .. }) => u,
            _ => MigUri {
                well_formed: false,
                host: listen,
                port: Some(port),
                unix: None,
            },
        };
        let r = if flags & mf::OFFLINE != 0 {
            self.prepare_offline(def, &origname)
        } else {
            self.prepare_incoming(def, &origname, &listen_uri)
        };
        // QEMU holds the port now (or never will).
        if allocated {
            release_port(port);
        }
        let (h, cookie) = r?;
        Ok((cookie, uri_out, h))
    }

    fn prepare_incoming(
        &self,
        def: oxvirt_xml::domain::Domain,
        origname: &str,
        listen_uri: &MigUri,
    ) -> Result<(DomainRef, Vec<u8>)> {
        let (h, job) = self.add_live(&def)?;
        let _g = job.begin(crate::driver::JOB_WAIT, FROM)?;
        let started = self.start_vm(
            &h,
            StartOpts {
                paused: true,
                autodestroy: false,
                live_def: Some(def),
                incoming: None,
                // In the status file until Finish: a daemon restarted in
                // between kills this QEMU.
                job: Some(crate::store::JobRecord {
                    kind: crate::store::JobKind::MigrationIn,
                    path: Default::default(),
                    managed: false,
                }),
                from_snapshot: false,
                migrate_in: true,
            },
        );
        let h = match started {
            Ok(h) => h,
            Err(e) => {
                self.lock().doms.remove_if_transient_inactive(&h.uuid);
                return Err(e);
            }
        };
        let run = self.running(&h)?;
        let r = (|| -> Result<()> {
            run.qmp
                .execute_value(
                    "migrate-set-capabilities",
                    Some(json!({"capabilities": [
                        {"capability": "events", "state": true},
                        {"capability": "late-block-activate", "state": true},
                        {"capability": "return-path", "state": true},
                    ]})),
                )
                .map_err(qmp_err)?;
            run.qmp
                .execute_value("migrate-incoming", Some(json!({"uri": listen_uri.qemu()})))
                .map_err(qmp_err)?;
            Ok(())
        })();
        if let Err(e) = r {
            self.kill_incoming(&h, &run, false);
            return Err(e);
        }
        {
            let mut st = self.lock();
            let mut o = st.dom_mut(&h)?;
            o.job_current = Some(JobData::new(operation::MIGRATION_IN));
        }
        self.emit(vec![DomainEvent::lifecycle(
            h.clone(),
            lc::STARTED,
            lc::started::MIGRATED,
        )]);
        let c = self.cookie_for(origname, h.uuid);
        Ok((h, c.to_bytes()))
    }

    /// Prepare of an offline migration: nothing runs; the definition
    /// waits for Finish, which keeps it.
    fn prepare_offline(
        &self,
        def: oxvirt_xml::domain::Domain,
        origname: &str,
    ) -> Result<(DomainRef, Vec<u8>)> {
        let (h, _) = self.add_live(&def)?;
        if let Some(mut o) = self.lock().by_uuid_mut(&h.uuid) {
            o.job_current = Some(JobData::new(operation::MIGRATION_IN));
        }
        offline_defs()
            .get_or_insert_with(Default::default)
            .insert(h.uuid, def);
        let c = self.cookie_for(origname, h.uuid);
        Ok((h, c.to_bytes()))
    }

    /// Finish of an offline migration: the definition (the cookie's, or
    /// the one Prepare received) is kept, DEFINED added or updated.
    fn finish_offline(
        &self,
        h: &DomainRef,
        cookie: &[u8],
        cancelled: bool,
    ) -> Result<(DomainRef, Vec<u8>)> {
        let pending = offline_defs().as_mut().and_then(|m| m.remove(&h.uuid));
        let Some(prepared) = pending else {
            return Err(Error::operation_invalid(
                FROM,
                format!("domain '{}' is not processing incoming migration", h.name),
            ));
        };
        let forget = |me: &Driver| {
            let mut st = me.lock();
            if let Some(mut o) = st.by_uuid_mut(&h.uuid) {
                o.job_current = None;
            }
            st.doms.remove_if_transient_inactive(&h.uuid);
        };
        if cancelled {
            forget(self);
            return Err(Error::new(code::MIGRATE_FINISH_OK, FROM, ""));
        }
        let parsed = Cookie::parse(cookie, &["persistent", "network", "statistics", "nbd"]);
        let mut def = match parsed {
            Ok(Some(Cookie {
                persistent: Some(x),
                ..
            })) => match self.parse_def_existing(&x) {
                Ok(d) => d,
                Err(e) => {
                    forget(self);
                    return Err(e);
                }
            },
            Ok(_) => prepared,
            Err(e) => {
                forget(self);
                return Err(e);
            }
        };
        def.name = h.name.clone();
        def.id = None;
        if let Err(e) = self.save_config(&def) {
            forget(self);
            return Err(e);
        }
        let (hh, updated) = {
            let mut st = self.lock();
            let mut o = st.dom_mut(h)?;
            o.job_current = None;
            let updated = o.persistent;
            o.persistent = true;
            if o.is_active() {
                o.new_def = Some(def);
                self.save_status(&o);
            } else {
                o.def = def;
            }
            (o.handle(), updated)
        };
        self.emit(vec![DomainEvent::lifecycle(
            hh.clone(),
            lc::DEFINED,
            if updated {
                lc::defined::UPDATED
            } else {
                lc::defined::ADDED
            },
        )]);
        let out = self.cookie_for(&hh.name, hh.uuid);
        Ok((hh, out.to_bytes()))
    }

    /// Kills an incoming QEMU (a cancelled or failed migration, or its
    /// Prepare connection gone): shut off with reason failed, the
    /// transient domain forgotten; STOPPED failed once it had started.
    fn kill_incoming(&self, h: &DomainRef, run: &Arc<Running>, event: bool) {
        let _ = self.kill_process(run, false, true);
        run.wait_eof(Duration::from_secs(5));
        self.reap(run);
        let mut st = self.lock();
        if let Some(mut o) = st.by_uuid_mut(&h.uuid) {
            o.job_current = None;
        }
        let stopped = self.stop_locked(&mut st, &h.uuid, run.gen, reason::shutoff::FAILED);
        drop(st);
        if let (true, Some(s)) = (event, stopped) {
            self.emit(vec![DomainEvent::lifecycle(
                s,
                lc::STOPPED,
                lc::stopped::FAILED,
            )]);
        }
    }

    /// The domain of an incoming migration (Finish, abandoned Prepare).
    fn incoming(&self, h: &DomainRef) -> Result<Arc<Running>> {
        let st = self.lock();
        let o = st.dom(h)?;
        let incoming = o
            .job_current
            .as_ref()
            .is_some_and(|j| j.operation == operation::MIGRATION_IN);
        if !incoming || !o.is_active() {
            return Err(Error::operation_invalid(
                FROM,
                format!(
                    "domain '{}' is not processing incoming migration",
                    o.def.name
                ),
            ));
        }
        o.run
            .clone()
            .ok_or_else(|| Error::operation_invalid(FROM, "domain is not running"))
    }

    /// The connection that prepared `h` went away before Finish: the
    /// incoming QEMU is killed (libvirt's autodestroy of Prepare).
    pub(crate) fn migrate_prepare_abandoned(&self, h: &DomainRef) {
        // Most are finished already; the others are killed off the
        // caller's thread (a connection going away must not wait).
        if self.incoming(h).is_err() {
            return;
        }
        let (Some(me), h) = (self.arc(), h.clone()) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("migration-cleanup".into())
            .spawn(move || {
                let Ok(_g) = me.begin_job(&h) else {
                    return;
                };
                if let Ok(run) = me.incoming(&h) {
                    tracing::warn!("{}: incoming migration abandoned", h.name);
                    me.kill_incoming(&h, &run, true);
                }
            });
    }

    /// qemuDomainMigrateFinish3Params.
    pub(crate) fn migrate_finish(
        &self,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
        cancelled: i32,
    ) -> Result<(DomainRef, Vec<u8>)> {
        check_migrate_flags(flags, "qemuDomainMigrateFinish3Params")?;
        check_params(params)?;
        let name = param_str(params, "destination_name")
            .ok_or_else(|| Error::new(code::NO_DOMAIN, FROM, "missing domain name"))?;
        let h = {
            let st = self.lock();
            let i = st.find_name(name).ok_or_else(|| {
                Error::new(
                    code::NO_DOMAIN,
                    FROM,
                    format!("no domain with matching name '{}'", name),
                )
            })?;
            st.doms
                .get(i)
                .map(|o| o.handle())
                .ok_or_else(|| Error::new(code::NO_DOMAIN, FROM, name.to_string()))?
        };
        let _g = self.begin_job(&h)?;
        if flags & mf::OFFLINE != 0 {
            return self.finish_offline(&h, cookie, cancelled != 0);
        }
        let run = self.incoming(&h)?;
        if cancelled != 0 {
            self.kill_incoming(&h, &run, true);
            return Err(Error::new(code::MIGRATE_FINISH_OK, FROM, ""));
        }
        let r = self.finish_incoming(&h, &run, cookie, flags);
        if let Err(e) = &r {
            tracing::warn!("{}: incoming migration failed: {}", h.name, e);
            self.kill_incoming(&h, &run, true);
        }
        r
    }

    fn finish_incoming(
        &self,
        h: &DomainRef,
        run: &Arc<Running>,
        cookie: &[u8],
        flags: u32,
    ) -> Result<(DomainRef, Vec<u8>)> {
        // The cookie names the domain by its name on the source.
        let srcname = Cookie::parse(cookie, &["persistent", "network", "statistics", "nbd"])?
            .map(|c| c.name)
            .unwrap_or_else(|| h.name.clone());
        let c = self.eat_cookie(
            cookie,
            &["persistent", "network", "statistics", "nbd"],
            &srcname,
            &h.uuid,
        )?;
        self.wait_incoming(run)?;
        let mut events = Vec::new();
        if flags & mf::PERSIST_DEST != 0 {
            let mut def = match c.as_ref().and_then(|c| c.persistent.as_deref()) {
                Some(x) => self.parse_def_existing(x)?,
                None => self.lock().dom(h)?.def.clone(),
            };
            def.name = h.name.clone();
            def.id = None;
            self.save_config(&def)?;
            let mut st = self.lock();
            let mut o = st.dom_mut(h)?;
            let updated = o.persistent;
            o.persistent = true;
            o.new_def = Some(def);
            self.save_status(&o);
            events.push(DomainEvent::lifecycle(
                o.handle(),
                lc::DEFINED,
                if updated {
                    lc::defined::UPDATED
                } else {
                    lc::defined::ADDED
                },
            ));
        }
        self.emit(events);
        if flags & mf::PAUSED != 0 {
            let hh = {
                let mut st = self.lock();
                let mut o = st.dom_mut(h)?;
                o.set_state(DomainState::Paused, reason::paused::USER);
                self.save_status(&o);
                o.handle()
            };
            self.emit(vec![DomainEvent::lifecycle(
                hh,
                lc::SUSPENDED,
                lc::suspended::PAUSED,
            )]);
        } else {
            self.start_cpus(h, run, reason::running::MIGRATED)?;
        }
        if let Some(mut o) = self.lock().by_uuid_mut(&h.uuid) {
            o.job_current = None;
        }
        self.end_async_job(&h.uuid);
        let st = self.lock();
        let o = st.dom(h)?;
        let out = self.cookie_for(&srcname, o.def.uuid);
        Ok((o.handle(), out.to_bytes()))
    }

    /// Waits until the incoming stream is loaded (QEMU's `completed`).
    fn wait_incoming(&self, run: &Running) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut delay = Duration::from_micros(500);
        loop {
            let v = run
                .qmp
                .execute_value("query-migrate", None)
                .map_err(qmp_err)?;
            match v.get("status").and_then(Value::as_str).unwrap_or("none") {
                "completed" => return Ok(()),
                "failed" | "cancelled" => {
                    return Err(Error::operation_failed(
                        FROM,
                        match v.get("error-desc").and_then(Value::as_str) {
                            Some(why) => format!("job 'migration in' failed: {}", why),
                            None => "job 'migration in' unexpectedly failed".to_string(),
                        },
                    ))
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(Error::operation_failed(
                    FROM,
                    "job 'migration in' unexpectedly failed",
                ));
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(10));
        }
    }
}

/// qemuConnectSupportsFeature: the migration features libvirt's QEMU
/// driver has.
pub(crate) fn supports_feature(f: i32) -> bool {
    // V2 3, P2P 4, V3 6, CHANGE_PROTECTION 7, XML_MIGRATABLE 11,
    // OFFLINE 12, PARAMS 13.
    matches!(f, 3 | 4 | 6 | 7 | 11 | 12 | 13)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_uris() {
        let u = MigUri::parse("tcp:vm:49320").expect("uri");
        assert_eq!(
            (u.host.as_str(), u.port, u.well_formed),
            ("vm", Some(49320), false)
        );
        assert_eq!(u.qemu(), "tcp:vm:49320");
        let u = MigUri::parse("tcp://10.0.0.2").expect("uri");
        assert_eq!((u.port, u.well_formed), (None, true));
        let u = MigUri {
            port: Some(49300),
            ..u
        };
        assert_eq!(u.format(), "tcp://10.0.0.2:49300");
        let u = MigUri::parse("tcp://[fd00::2]:5000").expect("v6");
        assert_eq!(u.qemu(), "tcp:[fd00::2]:5000");
        assert!(MigUri::parse("tcp:").is_err());
        let e = MigUri::parse("rdma://x").expect_err("scheme");
        assert_eq!(e.code, code::ARGUMENT_UNSUPPORTED);
    }

    #[test]
    fn params_validated_as_libvirt_does() {
        let ok = vec![
            TypedParam::new("migrate_disks", TypedValue::String("vda".into())),
            TypedParam::new("migrate_disks", TypedValue::String("vdb".into())),
            TypedParam::new("bandwidth", TypedValue::ULLong(0)),
        ];
        check_params(&ok).expect("valid");
        let bad = vec![TypedParam::new("bogus", TypedValue::Int(1))];
        let e = check_params(&bad).expect_err("unknown");
        assert_eq!(
            e.message,
            "argument unsupported: parameter 'bogus' not supported"
        );
        let e = check_migrate_flags(mf::LIVE | mf::TUNNELLED, "f").expect_err("tunnel");
        assert_eq!(e.code, code::NO_SUPPORT);
        let e = check_migrate_flags(1 << 30, "qemuDomainMigrateBegin3Params").expect_err("bit");
        assert_eq!(e.code, code::INVALID_ARG);
    }
}
