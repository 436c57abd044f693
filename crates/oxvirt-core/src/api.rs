//! The public-API layer: libvirt's `libvirt-*.c` entry points.
//!
//! A [`Connection`] holds one driver per family (libvirt's hypervisor,
//! storage, network, secret, node-device, interface and nwfilter drivers)
//! and one method per libvirt API. Each method makes the checks libvirt's
//! entry point makes (read-only refusal, flag exclusivity, argument
//! checks, each with the error domain of the API's family), then calls the
//! family's driver. Drivers only check what their own libvirt driver
//! checks (`virCheckFlags`).
//!
//! The families' traits, their NO_SUPPORT defaults, the checked methods and
//! the [`Api`] rows are produced from one table per family (see
//! `family/*.rs`) by the [`family!`](crate::family) macro, so an API is one
//! row: its signature, its libvirt name, whether it writes, and any extra
//! check of its entry point.

use std::sync::{Arc, Mutex};

use crate::error::{code, Error, Result};
use crate::family::{
    HypervisorDriver, InterfaceDriver, NetworkDriver, NodeDeviceDriver, NwFilterDriver,
    SecretDriver, StorageDriver,
};
use crate::types::flags;

/// libvirt's driver families, one per driver table of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Domains, snapshots, checkpoints, node facts, domain events.
    Hypervisor,
    /// Storage pools, volumes, pool events.
    Storage,
    /// Virtual networks, ports, network events.
    Network,
    Secret,
    NodeDevice,
    /// Host interfaces.
    Interface,
    NwFilter,
}

/// One public API: the data of its row in the family tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Api {
    /// The method of [`Connection`] (and of the family's trait).
    pub method: &'static str,
    /// libvirt's name for it (the name NO_SUPPORT reports).
    pub name: &'static str,
    /// The other entry point the same method serves (e.g.
    /// virDomainDefineXML for virDomainDefineXMLFlags), chosen by the
    /// row's condition on its arguments.
    pub alias: Option<&'static str>,
    pub family: Family,
    /// Refused on read-only connections (`virCheckReadOnlyGoto`). A few
    /// reads refuse only with some flags; their rows check that
    /// themselves and say `read` here.
    pub writes: bool,
    /// The error domain of its entry point (`VIR_FROM_THIS` of its
    /// `libvirt-*.c` file).
    pub from: i32,
}

/// Every API of every family.
pub fn all() -> impl Iterator<Item = &'static Api> {
    use crate::family::*;
    hypervisor::ROWS
        .iter()
        .chain(storage::ROWS)
        .chain(network::ROWS)
        .chain(secret::ROWS)
        .chain(nodedev::ROWS)
        .chain(interface::ROWS)
        .chain(nwfilter::ROWS)
}

/// The row of a libvirt API (by its main name or its alias).
pub fn lookup(name: &str) -> Option<&'static Api> {
    all().find(|a| a.name == name || a.alias == Some(name))
}

/// The kinds of event callbacks a connection registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Domain,
    QemuMonitor,
    Network,
    Pool,
    NodeDevice,
    Secret,
}

/// What one entry point checks before its driver runs: the API being
/// called (its name as the client called it) and the connection.
pub struct Check<'a> {
    conn: &'a Connection,
    /// The entry point's name (`__FUNCTION__`).
    pub api: &'static str,
    /// Its error domain.
    pub from: i32,
}

impl Check<'_> {
    /// `virCheckReadOnlyGoto`.
    pub fn ro(&self) -> Result<()> {
        if self.conn.readonly {
            return Err(Error::new(
                code::OPERATION_DENIED,
                self.from,
                format!("read only access prevents {}", self.api),
            ));
        }
        Ok(())
    }

    /// An OPERATION_DENIED with `msg` on a read-only connection when
    /// `cond` (the secure-flag checks of the XML getters).
    pub fn deny_if(&self, cond: bool, msg: &str) -> Result<()> {
        if cond && self.conn.readonly {
            return Err(Error::new(code::OPERATION_DENIED, self.from, msg));
        }
        Ok(())
    }

    /// `virReportInvalidArg`: the message as is.
    pub fn invalid_raw(&self, msg: impl Into<String>) -> Error {
        Error::raw(code::INVALID_ARG, self.from, msg)
    }

    /// `virReportError(code, ...)`: the message after the code's prefix.
    pub fn error(&self, code: i32, detail: impl Into<String>) -> Error {
        Error::new(code, self.from, detail)
    }

    fn arg(&self, ok: bool, arg: &str, what: &str) -> Result<()> {
        if ok {
            return Ok(());
        }
        Err(self.invalid_raw(format!("{} in {} {}", arg, self.api, what)))
    }

    /// `virCheckNonZeroArgGoto`.
    pub fn nonzero(&self, v: impl TryInto<i128>, arg: &str) -> Result<()> {
        self.arg(
            v.try_into().map_or(true, |v| v != 0),
            arg,
            "must not be zero",
        )
    }

    /// `virCheckPositiveArgGoto`.
    pub fn positive(&self, v: impl TryInto<i128>, arg: &str) -> Result<()> {
        let ok = v.try_into().map_or(true, |v| v > 0);
        self.arg(ok, arg, "must be greater than zero")
    }

    /// `virCheckNonNegativeArgGoto`.
    pub fn nonneg(&self, v: impl TryInto<i128>, arg: &str) -> Result<()> {
        let ok = v.try_into().map_or(true, |v| v >= 0);
        self.arg(ok, arg, "must be zero or greater")
    }

    /// `virCheckNullArgGoto`.
    pub fn null<T>(&self, v: Option<T>, arg: &str) -> Result<()> {
        self.arg(v.is_none(), arg, "must be NULL")
    }

    /// `virCheckNonNullArgGoto`.
    pub fn non_null<T>(&self, v: Option<T>, arg: &str) -> Result<()> {
        self.arg(v.is_some(), arg, "must not be NULL")
    }

    /// `virCheckNonEmptyStringArgGoto`.
    pub fn nonempty(&self, v: &str, arg: &str) -> Result<()> {
        if v.is_empty() {
            return Err(
                self.invalid_raw(format!("string {} in {} must not be empty", arg, self.api))
            );
        }
        Ok(())
    }

    /// `VIR_EXCLUSIVE_FLAGS_GOTO`.
    pub fn exclusive(&self, flags: u32, a: (u32, &str), b: (u32, &str)) -> Result<()> {
        if flags & a.0 != 0 && flags & b.0 != 0 {
            return Err(self.invalid_raw(format!(
                "Flags '{}' and '{}' are mutually exclusive",
                a.1, b.1
            )));
        }
        Ok(())
    }

    /// The exclusivity of `VIR_DOMAIN_AFFECT_LIVE` and `_CONFIG` most
    /// getters of one definition check.
    pub fn live_xor_config(&self, flags: u32) -> Result<()> {
        use flags::affect::{CONFIG, LIVE};
        let live = (LIVE, "VIR_DOMAIN_AFFECT_LIVE");
        self.exclusive(flags, live, (CONFIG, "VIR_DOMAIN_AFFECT_CONFIG"))
    }

    /// The exclusivity of `VIR_DOMAIN_SAVE_RUNNING` and `_PAUSED` the save
    /// and restore APIs check.
    pub fn running_xor_paused(&self, flags: u32) -> Result<()> {
        use flags::save::{PAUSED, RUNNING};
        let running = (RUNNING, "VIR_DOMAIN_SAVE_RUNNING");
        self.exclusive(flags, running, (PAUSED, "VIR_DOMAIN_SAVE_PAUSED"))
    }

    /// `VIR_REQUIRE_FLAG_GOTO`: `a` needs `b`.
    pub fn require(&self, flags: u32, a: (u32, &str), b: (u32, &str)) -> Result<()> {
        if flags & a.0 != 0 && flags & b.0 == 0 {
            return Err(self.invalid_raw(format!("Flag '{}' is required by flag '{}'", b.1, a.1)));
        }
        Ok(())
    }
}

/// An open connection: a driver per family behind libvirt's public API.
///
/// All methods take `&self`; a connection is shared by the threads
/// serving it. The drivers of a connection may be one object (the test
/// and remote drivers fill every slot with themselves) or several (the
/// QEMU hypervisor driver beside the host-wide storage, network, ...
/// drivers of the daemon).
pub struct Connection {
    uri: String,
    readonly: bool,
    quick: bool,
    pub(crate) hypervisor: Arc<dyn HypervisorDriver>,
    pub(crate) storage: Arc<dyn StorageDriver>,
    pub(crate) network: Arc<dyn NetworkDriver>,
    pub(crate) secret: Arc<dyn SecretDriver>,
    pub(crate) nodedev: Arc<dyn NodeDeviceDriver>,
    pub(crate) interface: Arc<dyn InterfaceDriver>,
    pub(crate) nwfilter: Arc<dyn NwFilterDriver>,
    /// Event callbacks registered through this connection and not yet
    /// deregistered; with `release_callbacks` they are deregistered when
    /// the connection goes (drivers shared by all connections cannot
    /// tell whose a callback is).
    callbacks: Mutex<Vec<(EventKind, i32)>>,
    release_callbacks: bool,
    /// Access control (the daemon's rules for its client), if any.
    pub(crate) access: std::sync::OnceLock<Arc<dyn crate::access::Access>>,
}

/// Builds a [`Connection`]: every slot starts as [`Unsupported`].
pub struct ConnectionBuilder {
    conn: Connection,
}

impl ConnectionBuilder {
    pub fn hypervisor(mut self, d: Arc<dyn HypervisorDriver>) -> Self {
        self.conn.hypervisor = d;
        self
    }
    pub fn storage(mut self, d: Arc<dyn StorageDriver>) -> Self {
        self.conn.storage = d;
        self
    }
    pub fn network(mut self, d: Arc<dyn NetworkDriver>) -> Self {
        self.conn.network = d;
        self
    }
    pub fn secret(mut self, d: Arc<dyn SecretDriver>) -> Self {
        self.conn.secret = d;
        self
    }
    pub fn node_device(mut self, d: Arc<dyn NodeDeviceDriver>) -> Self {
        self.conn.nodedev = d;
        self
    }
    pub fn interface(mut self, d: Arc<dyn InterfaceDriver>) -> Self {
        self.conn.interface = d;
        self
    }
    pub fn nwfilter(mut self, d: Arc<dyn NwFilterDriver>) -> Self {
        self.conn.nwfilter = d;
        self
    }
    /// Every slot filled by one object (the test and remote drivers).
    pub fn all<D>(self, d: Arc<D>) -> Self
    where
        D: HypervisorDriver
            + StorageDriver
            + NetworkDriver
            + SecretDriver
            + NodeDeviceDriver
            + InterfaceDriver
            + NwFilterDriver
            + 'static,
    {
        self.hypervisor(d.clone())
            .storage(d.clone())
            .network(d.clone())
            .secret(d.clone())
            .node_device(d.clone())
            .interface(d.clone())
            .nwfilter(d)
    }
    /// Calls never block (an in-memory driver): the daemon may run them
    /// inline instead of on its blocking pool.
    pub fn quick(mut self, quick: bool) -> Self {
        self.conn.quick = quick;
        self
    }
    /// Deregisters the callbacks still registered when the connection
    /// is dropped (for drivers shared by every connection).
    pub fn release_callbacks(mut self) -> Self {
        self.conn.release_callbacks = true;
        self
    }
    pub fn build(self) -> Arc<Connection> {
        Arc::new(self.conn)
    }
}

impl Connection {
    /// A connection to `uri` opened with virConnectFlags `flags`
    /// (`VIR_CONNECT_RO` = 1); fill its slots, then `build()`.
    pub fn builder(uri: impl Into<String>, flags: u32) -> ConnectionBuilder {
        let none = Arc::new(Unsupported);
        ConnectionBuilder {
            conn: Connection {
                uri: uri.into(),
                readonly: flags & flags::connect::RO != 0,
                quick: false,
                hypervisor: none.clone(),
                storage: none.clone(),
                network: none.clone(),
                secret: none.clone(),
                nodedev: none.clone(),
                interface: none.clone(),
                nwfilter: none,
                callbacks: Mutex::new(Vec::new()),
                release_callbacks: false,
                access: std::sync::OnceLock::new(),
            },
        }
    }

    /// virConnectGetURI: the URI as the connection was opened.
    pub fn uri(&self) -> Result<String> {
        Ok(self.uri.clone())
    }

    /// Opened with `VIR_CONNECT_RO`.
    pub fn is_read_only(&self) -> bool {
        self.readonly
    }

    /// Whether every call returns promptly without I/O to guests or disks
    /// worth a thread (an in-memory driver). The daemon then runs calls
    /// inline instead of handing them to its blocking pool.
    pub fn calls_are_quick(&self) -> bool {
        self.quick
    }

    /// virConnectClose's driver part (the remote driver says goodbye).
    pub fn close(&self) -> Result<()> {
        self.hypervisor.close()
    }

    /// The checks' context for one entry point.
    pub(crate) fn check(&self, api: &'static str, from: i32) -> Check<'_> {
        Check {
            conn: self,
            api,
            from,
        }
    }

    pub(crate) fn remember_callback(&self, kind: EventKind, id: i32) {
        lock(&self.callbacks).push((kind, id));
    }

    pub(crate) fn forget_callback(&self, kind: EventKind, id: i32) {
        lock(&self.callbacks).retain(|&(k, i)| (k, i) != (kind, id));
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if !self.release_callbacks {
            return;
        }
        let cbs = std::mem::take(&mut *lock(&self.callbacks));
        for (kind, id) in cbs {
            let _ = match kind {
                EventKind::Domain => self.hypervisor.domain_event_deregister(id),
                EventKind::QemuMonitor => self.hypervisor.domain_qemu_monitor_event_deregister(id),
                EventKind::Network => self.network.network_event_deregister(id),
                EventKind::Pool => self.storage.pool_event_deregister(id),
                EventKind::NodeDevice => self.nodedev.node_device_event_deregister(id),
                EventKind::Secret => self.secret.secret_event_deregister(id),
            };
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A slot nobody fills: every API answers NO_SUPPORT.
pub struct Unsupported;

impl HypervisorDriver for Unsupported {}
impl StorageDriver for Unsupported {}
impl NetworkDriver for Unsupported {}
impl SecretDriver for Unsupported {}
impl NodeDeviceDriver for Unsupported {}
impl InterfaceDriver for Unsupported {}
impl NwFilterDriver for Unsupported {}

/// Sample arguments for every parameter type of the tables, so that a
/// test can call every API (each family's `exercise`). Numbers are 1,
/// strings "x", slices one element long, options `None`.
#[cfg(any(test, feature = "testing"))]
pub mod sample {
    use std::sync::Arc;

    use crate::types::*;

    pub trait Sample {
        fn sample() -> Self;
    }

    macro_rules! leaked_default {
        ($($t:ty),*) => {$(
            impl Sample for &'static $t {
                fn sample() -> Self {
                    Box::leak(Box::default())
                }
            }
        )*};
    }
    leaked_default!(
        DomainRef,
        NetworkRef,
        PoolRef,
        VolRef,
        SnapshotRef,
        CheckpointRef,
        InterfaceRef,
        NodeDevRef,
        SecretRef,
        NwFilterRef,
        NetworkPortRef,
        NwFilterBindingRef,
        Uuid
    );

    macro_rules! one {
        ($($t:ty),*) => {$(
            impl Sample for $t {
                fn sample() -> Self {
                    1
                }
            }
            impl Sample for &'static [$t] {
                fn sample() -> Self {
                    &[1]
                }
            }
        )*};
    }
    one!(u8, u32, i32, u64, i64);

    impl Sample for bool {
        fn sample() -> Self {
            false
        }
    }
    impl Sample for &'static str {
        fn sample() -> Self {
            "x"
        }
    }
    impl<T> Sample for Option<T> {
        fn sample() -> Self {
            None
        }
    }
    impl Sample for &'static [String] {
        fn sample() -> Self {
            Box::leak(vec!["x".to_string()].into_boxed_slice())
        }
    }
    impl Sample for &'static [TypedParam] {
        fn sample() -> Self {
            Box::leak(vec![TypedParam::new("x", TypedValue::Int(1))].into_boxed_slice())
        }
    }
    macro_rules! callback {
        ($($t:ty),*) => {$(
            impl Sample for $t {
                fn sample() -> Self {
                    Arc::new(|_| {})
                }
            }
        )*};
    }
    callback!(
        crate::event::DomainEventCallback,
        crate::event::QemuMonitorEventCallback,
        crate::event::NetworkEventCallback,
        crate::event::PoolEventCallback,
        crate::event::SecretEventCallback
    );
    impl Sample for crate::driver::NodeDevEventCallback {
        fn sample() -> Self {
            Arc::new(|_, _, _| {})
        }
    }
}

/// The error domain a row names (`from NAME`), or its family's.
#[doc(hidden)]
pub const fn row_from(named: Option<i32>, family: i32) -> i32 {
    match named {
        Some(f) => f,
        None => family,
    }
}

#[doc(hidden)]
pub use crate::error::from as error_from;

/// Declares one driver family from its table: the trait (each method
/// answering NO_SUPPORT with the name of the entry point called unless
/// the row gives a default), the checked methods of [`Connection`] that call the
/// family's slot, and the family's [`Api`] rows (`ROWS`).
///
/// A row:
///
/// ```text
/// /// docs
/// fn method(arg: Type, ...) -> Ret
///     = "virApiName", read|write
///     [, alias(condition) "virOtherName"]   // the entry point when condition holds
///     [, from ERROR_DOMAIN]                 // when not the family's
///     [, registers(Kind)]                   // an event registration
///     [, deregisters(Kind, callback_id)]
///     [, pre(c) { checks before the read-only check }]
///     [, check(c) { checks after it }]
///     [, default(s) { the trait's default body, s = &self }];
/// ```
#[macro_export]
macro_rules! family {
    (
        $(#[$tmeta:meta])*
        trait $trait:ident, slot $slot:ident, family $family:ident, from $ffrom:ident;
        extra { $($extra:tt)* }
        $(
            $(#[$meta:meta])*
            fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty
                = $api:literal, $acc:ident
                $(, alias($alias_if:expr) $alias:literal)?
                $(, from $rfrom:ident)?
                $(, registers($rkind:ident))?
                $(, deregisters($dkind:ident, $did:ident))?
                $(, pre($pc:ident) $pre:block)?
                $(, check($cc:ident) $chk:block)?
                $(, default($ds:ident) $def:block)?
            ;
        )*
    ) => {
        $(#[$tmeta])*
        #[allow(unused_variables)]
        pub trait $trait: Send + Sync {
            $($extra)*
            $(
                $(#[$meta])*
                fn $name(&self, $($arg: $ty),*) -> $crate::Result<$ret> {
                    $( let $ds = self; return $def; )?
                    #[allow(unreachable_code)]
                    {
                        let api: &'static str = $api;
                        $( let api = if $alias_if { $alias } else { api }; )?
                        Err($crate::Error::no_support(api))
                    }
                }
            )*
        }

        /// This family's APIs.
        pub static ROWS: &[$crate::api::Api] = &[
            $(
                $crate::api::Api {
                    method: stringify!($name),
                    name: $api,
                    alias: $crate::family!(@opt $($alias)?),
                    family: $crate::api::Family::$family,
                    writes: $crate::family!(@writes $acc),
                    from: $crate::api::row_from(
                        $crate::family!(@opt $($crate::api::error_from::$rfrom)?),
                        $crate::api::error_from::$ffrom,
                    ),
                },
            )*
        ];

        /// Calls every API of this family on `conn` with sample
        /// arguments ([`crate::api::sample`]).
        #[cfg(any(test, feature = "testing"))]
        pub fn exercise(
            conn: &$crate::api::Connection,
        ) -> Vec<(&'static $crate::api::Api, $crate::Result<()>)> {
            #[allow(unused_imports)]
            use $crate::api::sample::Sample;
            let results: Vec<$crate::Result<()>> = vec![
                $( conn.$name($(<$ty as Sample>::sample()),*).map(|_| ()), )*
            ];
            ROWS.iter().zip(results).collect()
        }

        impl $crate::api::Connection {
            $(
                $(#[$meta])*
                #[allow(unused_variables, clippy::needless_question_mark)]
                pub fn $name(&self, $($arg: $ty),*) -> $crate::Result<$ret> {
                    let api: &'static str = $api;
                    $( let api = if $alias_if { $alias } else { api }; )?
                    let from = $crate::api::row_from(
                        $crate::family!(@opt $($crate::api::error_from::$rfrom)?),
                        $crate::api::error_from::$ffrom,
                    );
                    let chk = self.check(api, from);
                    $( let $pc = &chk; $pre )?
                    if $crate::family!(@writes $acc) {
                        chk.ro()?;
                    }
                    $( let $cc = &chk; $chk )?
                    // Access control (only with a checker: no cost without).
                    let acl_on = self.access.get().is_some();
                    let acl_targets: [Option<$crate::access::Target>; 0 $(+ $crate::family!(@one $arg))*] =
                        if acl_on {
                            #[allow(unused_imports)]
                            use $crate::access::NoTarget as _;
                            [$( $crate::access::Probe(&$arg).target() ),*]
                        } else {
                            [$( $crate::family!(@none $arg) ),*]
                        };
                    let acl_flags: u32 = $crate::family!(@flags $($arg)*);
                    let acl_xml: Option<&str> = $crate::family!(@xml $($arg)*);
                    let acl_lookup = acl_on && {
                        #[allow(unused_imports)]
                        use $crate::access::NoTarget as _;
                        $crate::access::Probe::<$ret>::names_object()
                    };
                    let acl = self.acl_before(api, acl_flags, &acl_targets, acl_xml, acl_lookup)?;
                    let r = self.$slot.$name($($arg),*);
                    let r = match (&acl, r) {
                        (Some(p), Ok(mut v)) => {
                            #[allow(unused_imports)]
                            use $crate::access::{NoTarget as _, NoList as _};
                            self.acl_after(p, acl_flags, $crate::access::Probe(&v).target())?;
                            $crate::access::ProbeMut(&mut v).retain(&|t| self.acl_visible(api, t));
                            Ok(v)
                        }
                        (_, r) => r,
                    };
                    if $crate::family!(@writes $acc) {
                        self.acl_audit(api, acl.as_ref(), &r);
                    }
                    $( let r = r.map(|id| {
                        self.remember_callback($crate::api::EventKind::$rkind, id);
                        id
                    }); )?
                    $( if r.is_ok() {
                        self.forget_callback($crate::api::EventKind::$dkind, $did);
                    } )?
                    r
                }
            )*
        }
    };
    // The argument named `flags` (0 without one) and the one named `xml`:
    // the name is matched on one copy of the token, the other is used.
    (@one $a:ident) => { 1 };
    (@none $a:ident) => { None };
    (@flags) => { 0 };
    (@flags $a:ident $($rest:ident)*) => { $crate::family!(@flags1 $a $a $($rest)*) };
    (@flags1 flags $a:ident $($rest:ident)*) => {{ let f: u32 = $a; f }};
    (@flags1 $x:ident $a:ident $($rest:ident)*) => { $crate::family!(@flags $($rest)*) };
    (@xml) => { None };
    (@xml $a:ident $($rest:ident)*) => { $crate::family!(@xml1 $a $a $($rest)*) };
    (@xml1 xml $a:ident $($rest:ident)*) => { $crate::access::XmlArg::xml(&$a) };
    (@xml1 $x:ident $a:ident $($rest:ident)*) => { $crate::family!(@xml $($rest)*) };
    (@opt $v:expr) => { Some($v) };
    (@opt) => { None };
    (@writes write) => { true };
    (@writes read) => { false };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::*;

    fn exercise_all(conn: &Connection) -> Vec<(&'static Api, Result<()>)> {
        let mut v = hypervisor::exercise(conn);
        v.extend(storage::exercise(conn));
        v.extend(network::exercise(conn));
        v.extend(secret::exercise(conn));
        v.extend(nodedev::exercise(conn));
        v.extend(interface::exercise(conn));
        v.extend(nwfilter::exercise(conn));
        v
    }

    /// The entry point a sample call reaches (aliases chosen by the
    /// sample arguments: flags 1, numbers 1, options None).
    fn called(api: &Api) -> &'static str {
        match api.method {
            "network_define_xml"
            | "network_create_xml"
            | "nwfilter_define_xml"
            | "node_device_detach" => api.alias.unwrap_or(api.name),
            _ => api.name,
        }
    }

    #[test]
    fn rows_are_unique() {
        let mut names = std::collections::HashSet::new();
        let mut methods = std::collections::HashSet::new();
        for a in all() {
            assert!(methods.insert(a.method), "{} twice", a.method);
            assert!(names.insert(a.name), "{} twice", a.name);
            if let Some(x) = a.alias {
                assert!(names.insert(x), "{} twice", x);
            }
        }
        assert!(all().count() > 300);
        assert_eq!(
            lookup("virDomainDefineXML").map(|a| a.method),
            Some("domain_define_xml")
        );
    }

    #[test]
    fn read_only_connections_refuse_every_writing_api() {
        let conn = Connection::builder("test:///x", 1).build();
        for (api, r) in exercise_all(&conn) {
            let Err(e) = r else {
                // Rows whose default answers without a driver.
                assert!([
                    "get_lib_version",
                    "is_secure",
                    "is_encrypted",
                    "connect_supports_feature"
                ]
                .contains(&api.method));
                continue;
            };
            // Reads that refuse only with some arguments (the agent).
            let refuses = api.writes || api.method == "domain_interface_addresses";
            if refuses {
                assert_eq!(e.code, code::OPERATION_DENIED, "{}: {}", api.name, e);
                assert_eq!(
                    e.message,
                    format!(
                        "operation forbidden: read only access prevents {}",
                        called(api)
                    )
                );
                assert_eq!(e.domain, api.from, "{}", api.name);
            } else if e.code == code::OPERATION_DENIED {
                // Sample flags 1 ask the XML getters for secrets.
                assert!(e.message.ends_with("with secure flag"), "{}", e);
                assert!(api.method.ends_with("get_xml_desc"), "{}", api.method);
            } else {
                assert_eq!(e.code, code::NO_SUPPORT, "{}: {}", api.name, e);
            }
        }
    }

    #[test]
    fn unsupported_apis_name_themselves() {
        let conn = Connection::builder("test:///x", 0).build();
        for (api, r) in exercise_all(&conn) {
            match api.method {
                "get_lib_version" | "is_secure" | "is_encrypted" | "connect_supports_feature" => {
                    assert!(r.is_ok())
                }
                _ => {
                    let e = r.expect_err(api.name);
                    if api.method == "domain_block_rebase" {
                        // Flag 1 (shallow) without a copy job.
                        assert_eq!(e.message, "use of flags requires a copy job");
                        continue;
                    }
                    let name = match api.method {
                        "domain_attach_device_plain" => "virDomainAttachDeviceFlags",
                        "domain_detach_device_plain" => "virDomainDetachDeviceFlags",
                        _ => called(api),
                    };
                    assert_eq!(
                        e.message,
                        format!(
                            "this function is not supported by the connection driver: {}",
                            name
                        ),
                        "{}",
                        api.method
                    );
                }
            }
        }
    }

    #[test]
    fn entry_point_checks() {
        use crate::types::{flags, DomainRef};
        let rw = Connection::builder("test:///x", 0).build();
        let ro = Connection::builder("test:///x", 1).build();
        let d = DomainRef::default();
        let e = rw.domain_send_process_signal(&d, 0, 1, 0).unwrap_err();
        assert_eq!(
            e.message,
            "pid_value in virDomainSendProcessSignal must not be zero"
        );
        // The argument check comes before the read-only one here.
        let e = ro.domain_send_process_signal(&d, 0, 1, 0).unwrap_err();
        assert_eq!(e.code, code::INVALID_ARG);
        let e = ro.domain_define_xml("", 0).unwrap_err();
        assert_eq!(
            e.message,
            "operation forbidden: read only access prevents virDomainDefineXML"
        );
        let e = ro.domain_define_xml("", 1).unwrap_err();
        assert!(e.message.ends_with("virDomainDefineXMLFlags"));
        let e = ro.pool_define_xml("", 0).unwrap_err();
        assert_eq!(e.domain, crate::error::from::STORAGE);
        let f = flags::save::RUNNING | flags::save::PAUSED;
        let e = rw.domain_save(&d, "/x", None, f).unwrap_err();
        assert_eq!(
            e.message,
            "Flags 'VIR_DOMAIN_SAVE_RUNNING' and 'VIR_DOMAIN_SAVE_PAUSED' are mutually exclusive"
        );
        let e = ro
            .domain_get_xml_desc(&d, flags::domain_xml::SECURE)
            .unwrap_err();
        assert_eq!(
            e.message,
            "operation forbidden: virDomainGetXMLDesc with secure flag"
        );
        assert_eq!(
            ro.domain_get_xml_desc(&d, 0).unwrap_err().code,
            code::NO_SUPPORT
        );
        let cb: crate::event::DomainEventCallback = Arc::new(|_| {});
        let e = rw.domain_event_register(None, 27, cb).unwrap_err();
        assert_eq!(e.message, "eventID must be less than 27");
        let e = rw.domain_memory_stats(&d, 0, 0);
        assert_eq!(e, Ok(Vec::new()));
        let e = rw.vol_resize(&Default::default(), 0, 0).unwrap_err();
        assert_eq!(
            e.message,
            "capacity in virStorageVolResize cannot be zero without 'delta' or 'shrink' flags set"
        );
    }
}
