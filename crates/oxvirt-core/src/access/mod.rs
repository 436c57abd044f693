//! Access control at the public-API layer: libvirt's access driver model.
//!
//! Every API needs permissions on an object (`table.rs`, generated from
//! libvirt's `@acl:` annotations: `domain:start` on the domain started,
//! `connect:search_domains` on the connection, some only with certain
//! flags). A connection with an [`Access`] checker (the daemon attaches
//! one per client, from its rules and the client's identity) asks it for
//! each permission before the driver runs, with the object resolved
//! through the connection's own lookups, so a client cannot name one
//! object and reach another. A refusal is libvirt's
//! `access denied: 'DRIVER' denied access`. List APIs drop the objects
//! the caller may not see (`@aclfilter:`); lookups of such an object are
//! refused.

mod table;

use crate::api::Connection;
use crate::error::{code, from, Error, Result};
use crate::types::*;

/// When a permission applies, by the call's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    Always,
    /// `(flags & mask) == mask`.
    AllOf(u32),
    /// `(flags & mask) == 0`.
    NoneOf(u32),
}

impl Cond {
    fn holds(self, flags: u32) -> bool {
        match self {
            Cond::Always => true,
            Cond::AllOf(m) => flags & m == m,
            Cond::NoneOf(m) => flags & m == 0,
        }
    }
}

/// One permission: libvirt's object type and permission names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perm {
    pub object: &'static str,
    pub perm: &'static str,
    pub cond: Cond,
}

/// The object a permission is checked on, as libvirt's access drivers
/// see it (polkit's attributes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Object {
    /// "connect", "domain", "storage_pool", "storage_vol", "network",
    /// "network_port", "secret", "node_device", "interface", "nwfilter",
    /// "nwfilter_binding".
    pub kind: &'static str,
    pub name: Option<String>,
    pub uuid: Option<String>,
    /// A volume's pool, a port's network.
    pub parent: Option<String>,
}

/// Who may do what: implemented by the daemon over its rules and the
/// client's identity.
pub trait Access: Send + Sync {
    /// Whether the caller has `perm` (e.g. "domain.start") on `obj`.
    fn allowed(&self, perm: &str, obj: &Object) -> bool;
    /// The driver named in a refusal (`conn->driver->name`: "QEMU",
    /// "Test").
    fn driver_name(&self) -> &str;
    /// A call that changes something ran (or was refused): for the
    /// audit log.
    fn audit(&self, _api: &str, _obj: Option<&Object>, _result: &Result<()>) {}
}

/// The permissions and list filter of a libvirt API; None for one
/// libvirt has no entry for.
pub fn permissions(api: &str) -> Option<(&'static [Perm], Option<Perm>)> {
    table::TABLE
        .binary_search_by(|(n, _, _)| (*n).cmp(api))
        .ok()
        .map(|i| (table::TABLE[i].1, table::TABLE[i].2))
}

/// An object an API argument or result names.
#[derive(Debug, Clone)]
pub enum Target {
    Domain(DomainRef),
    Pool(PoolRef),
    Vol(VolRef),
    Network(NetworkRef),
    Port(NetworkPortRef),
    Secret(SecretRef),
    NodeDev(NodeDevRef),
    Interface(InterfaceRef),
    NwFilter(NwFilterRef),
    Binding(NwFilterBindingRef),
}

/// Finds the object in an argument or a result: [`Probe`]`(&x).target()`
/// is the object for the reference types and None (through
/// [`NoTarget`]) for everything else.
pub struct Probe<'a, T: ?Sized>(pub &'a T);

/// The fallback of [`Probe::target`]: no object.
pub trait NoTarget {
    fn target(&self) -> Option<Target> {
        None
    }
    /// Whether values of the type name an object.
    fn names_object() -> bool {
        false
    }
}

impl<T: ?Sized> NoTarget for Probe<'_, T> {}

macro_rules! probe {
    ($($t:ty => $v:ident $(, $f:ident)?;)*) => {$(
        impl Probe<'_, &$t> {
            pub fn target(&self) -> Option<Target> {
                Some(Target::$v((*self.0)$(.$f)?.clone()))
            }
        }
        impl Probe<'_, $t> {
            pub fn target(&self) -> Option<Target> {
                Some(Target::$v(self.0$(.$f)?.clone()))
            }
            pub fn names_object() -> bool {
                true
            }
        }
    )*};
}

probe! {
    DomainRef => Domain;
    SnapshotRef => Domain, domain;
    CheckpointRef => Domain, domain;
    PoolRef => Pool;
    VolRef => Vol;
    NetworkRef => Network;
    NetworkPortRef => Port;
    SecretRef => Secret;
    NodeDevRef => NodeDev;
    InterfaceRef => Interface;
    NwFilterRef => NwFilter;
    NwFilterBindingRef => Binding;
}

fn obj(kind: &'static str, name: Option<&str>, uuid: Option<&Uuid>) -> Object {
    Object {
        kind,
        name: name.map(str::to_string),
        uuid: uuid.map(|u| u.to_string()),
        parent: None,
    }
}

fn domain_obj(d: &DomainRef) -> Object {
    obj("domain", Some(&d.name), Some(&d.uuid))
}

/// The objects found by each key a client sent (duplicates folded); the
/// client's own reference when no lookup finds it.
fn found<R>(lookups: [Result<R>; 2], given: &R, mk: impl Fn(&R) -> Object) -> Vec<Object> {
    let mut v: Vec<Object> = Vec::new();
    for o in lookups.iter().flatten().map(&mk) {
        if !v.contains(&o) {
            v.push(o);
        }
    }
    if v.is_empty() {
        v.push(mk(given));
    }
    v
}

/// The objects of `kind` a target stands for, resolved through the
/// connection's lookups by each key the client sent (all must pass, so
/// a name and a UUID of different objects gain nothing).
fn resolve(c: &Connection, kind: &'static str, t: &Target) -> Vec<Object> {
    let pool = |p: &PoolRef| obj("storage_pool", Some(&p.name), Some(&p.uuid));
    match (kind, t) {
        ("domain", Target::Domain(d)) => found(
            [
                c.hypervisor.lookup_domain_by_uuid(&d.uuid),
                c.hypervisor.lookup_domain_by_name(&d.name),
            ],
            d,
            domain_obj,
        ),
        ("storage_pool", Target::Pool(p)) => found(
            [
                c.storage.lookup_pool_by_uuid(&p.uuid),
                c.storage.lookup_pool_by_name(&p.name),
            ],
            p,
            pool,
        ),
        // A volume to be created in this pool (its name is in the XML).
        ("storage_vol", Target::Pool(p)) => found(
            [
                c.storage.lookup_pool_by_uuid(&p.uuid),
                c.storage.lookup_pool_by_name(&p.name),
            ],
            p,
            |p| Object {
                kind: "storage_vol",
                name: None,
                uuid: None,
                parent: Some(p.name.clone()),
            },
        ),
        ("storage_pool", Target::Vol(vol)) => vec![c
            .storage
            .lookup_pool_by_volume(vol)
            .map(|p| pool(&p))
            .unwrap_or_else(|_| obj("storage_pool", Some(&vol.pool), None))],
        ("storage_vol", Target::Vol(vol)) => found(
            [
                c.storage.lookup_vol_by_key(&vol.key),
                c.storage
                    .lookup_pool_by_name(&vol.pool)
                    .and_then(|p| c.storage.lookup_vol_by_name(&p, &vol.name)),
            ],
            vol,
            |x| Object {
                kind: "storage_vol",
                name: Some(x.name.clone()),
                uuid: None,
                parent: Some(x.pool.clone()),
            },
        ),
        ("network", Target::Network(n)) => found(
            [
                c.network.lookup_network_by_uuid(&n.uuid),
                c.network.lookup_network_by_name(&n.name),
            ],
            n,
            |n| obj("network", Some(&n.name), Some(&n.uuid)),
        ),
        ("network", Target::Port(p)) => vec![obj("network", Some(&p.network), None)],
        ("network_port", Target::Port(p)) => vec![Object {
            kind: "network_port",
            name: None,
            uuid: Some(p.uuid.to_string()),
            parent: Some(p.network.clone()),
        }],
        ("network_port", Target::Network(n)) => vec![Object {
            kind: "network_port",
            name: None,
            uuid: None,
            parent: Some(n.name.clone()),
        }],
        ("secret", Target::Secret(s)) => {
            let x = c.secret.lookup_secret_by_uuid(&s.uuid);
            let x = x.as_ref().unwrap_or(s);
            vec![Object {
                kind: "secret",
                name: Some(x.usage_id.clone()),
                uuid: Some(x.uuid.to_string()),
                parent: None,
            }]
        }
        ("node_device", Target::NodeDev(d)) => vec![obj("node_device", Some(&d.name), None)],
        ("interface", Target::Interface(i)) => vec![obj("interface", Some(&i.name), None)],
        ("nwfilter", Target::NwFilter(f)) => found(
            [
                c.nwfilter.lookup_nwfilter_by_uuid(&f.uuid),
                c.nwfilter.lookup_nwfilter_by_name(&f.name),
            ],
            f,
            |f| obj("nwfilter", Some(&f.name), Some(&f.uuid)),
        ),
        ("nwfilter_binding", Target::Binding(b)) => {
            vec![obj("nwfilter_binding", Some(&b.portdev), None)]
        }
        _ => Vec::new(),
    }
}

/// The object an XML definition names (root `<name>` and `<uuid>`), for
/// the APIs that create one from XML.
fn from_xml(kind: &'static str, xml: &str, parent: Option<String>) -> Object {
    let root = oxvirt_xml::dom::parse(xml, "").ok();
    let text = |n: &str| root.as_ref().and_then(|r| r.child_text(n));
    let uuid = text("uuid")
        .and_then(|u| Uuid::parse(&u))
        .map(|u| u.to_string());
    Object {
        kind,
        name: match kind {
            // A secret's name is its usage.
            "secret" => root.as_ref().and_then(|r| {
                let u = r.child("usage")?;
                ["volume", "name", "target"]
                    .iter()
                    .find_map(|n| u.child_text(n))
            }),
            _ => text("name"),
        },
        uuid,
        parent,
    }
}

/// Whether `acc` grants `perm` ("domain.getattr") on the object an event
/// names (the driver's own reference: no lookup needed).
pub fn sees(acc: &dyn Access, perm: &str, t: &Target) -> bool {
    let o = match t {
        Target::Domain(d) => domain_obj(d),
        Target::Pool(p) => obj("storage_pool", Some(&p.name), Some(&p.uuid)),
        Target::Network(n) => obj("network", Some(&n.name), Some(&n.uuid)),
        Target::Secret(s) => Object {
            kind: "secret",
            name: Some(s.usage_id.clone()),
            uuid: Some(s.uuid.to_string()),
            parent: None,
        },
        Target::NodeDev(d) => obj("node_device", Some(&d.name), None),
        _ => return false,
    };
    acc.allowed(perm, &o)
}

/// What a call is checked against before its driver runs.
pub struct Pending {
    perms: &'static [Perm],
    /// The objects checked (for the audit log).
    objs: Vec<Object>,
    /// The objects the arguments name are not known yet: check the
    /// result (lookups).
    pub after: bool,
}

fn denied(acc: &dyn Access) -> Error {
    Error::new(
        code::ACCESS_DENIED,
        from::ACCESS,
        format!("'{}' denied access", acc.driver_name()),
    )
}

fn check_all(acc: &dyn Access, perms: &[Perm], flags: u32, objs: &[Object]) -> bool {
    perms.iter().filter(|p| p.cond.holds(flags)).all(|p| {
        let name = format!("{}.{}", p.object, p.perm);
        objs.iter().all(|o| acc.allowed(&name, o))
    })
}

impl Connection {
    /// The access checker of this connection, if any.
    pub fn access(&self) -> Option<&dyn Access> {
        self.access.get().map(|a| a.as_ref())
    }

    /// The access checker, shared (event callbacks keep it).
    pub fn access_arc(&self) -> Option<std::sync::Arc<dyn Access>> {
        self.access.get().cloned()
    }

    /// Attaches an access checker (once; the daemon does it at open).
    pub fn set_access(&self, a: std::sync::Arc<dyn Access>) {
        let _ = self.access.set(a);
    }

    /// The check before an API's driver runs: `targets` are the objects
    /// its arguments name, `xml` its XML argument if any, `lookup`
    /// whether its result names an object (checked then, when the
    /// arguments name none). An object named nowhere (a restore from a
    /// file) is checked as one without name or UUID: only rules for
    /// every object of its kind grant it.
    #[doc(hidden)]
    pub fn acl_before(
        &self,
        api: &str,
        flags: u32,
        targets: &[Option<Target>],
        xml: Option<&str>,
        lookup: bool,
    ) -> Result<Option<Pending>> {
        let Some(acc) = self.access() else {
            return Ok(None);
        };
        // An API libvirt has no entry for is refused: nothing grants it.
        let Some((perms, _)) = permissions(api) else {
            return Err(denied(acc));
        };
        let Some(kind) = perms.first().map(|p| p.object) else {
            return Ok(None);
        };
        let objs: Vec<Object> = if kind == "connect" {
            vec![obj("connect", None, None)]
        } else {
            let mut v = Vec::new();
            for t in targets.iter().flatten() {
                v.extend(resolve(self, kind, t));
            }
            if let Some(x) = xml {
                // A volume created in a pool: its name is in the XML.
                for o in v.iter_mut().filter(|o| o.name.is_none()) {
                    let d = from_xml(kind, x, None);
                    o.name = d.name;
                    o.uuid = d.uuid;
                }
                if v.is_empty() {
                    v.push(from_xml(kind, x, None));
                }
            }
            if lookup && v.iter().all(|o| o.name.is_none() && o.uuid.is_none()) {
                return Ok(Some(Pending {
                    perms,
                    objs: Vec::new(),
                    after: true,
                }));
            }
            if v.is_empty() {
                v.push(obj(kind, None, None));
            }
            v
        };
        if !check_all(acc, perms, flags, &objs) {
            let e = denied(acc);
            acc.audit(api, objs.first(), &Err(e.clone()));
            return Err(e);
        }
        Ok(Some(Pending {
            perms,
            objs,
            after: false,
        }))
    }

    /// The check of a call whose object is its result (lookups): a
    /// refused object is an access denied error.
    #[doc(hidden)]
    pub fn acl_after(&self, p: &Pending, flags: u32, t: Option<Target>) -> Result<()> {
        let (Some(acc), Some(t), true) = (self.access(), t, p.after) else {
            return Ok(());
        };
        let Some(kind) = p.perms.first().map(|p| p.object) else {
            return Ok(());
        };
        let objs = resolve(self, kind, &t);
        if objs.is_empty() || check_all(acc, p.perms, flags, &objs) {
            Ok(())
        } else {
            Err(denied(acc))
        }
    }

    /// Whether a listed object stays in the answer of `api`.
    #[doc(hidden)]
    pub fn acl_visible(&self, api: &str, t: &Target) -> bool {
        let (Some(acc), Some((_, Some(f)))) = (self.access(), permissions(api)) else {
            return true;
        };
        let objs = resolve(self, f.object, t);
        !objs.is_empty() && check_all(acc, &[f], 0, &objs)
    }

    /// Records a finished call that writes, for the audit log.
    #[doc(hidden)]
    pub fn acl_audit<T>(&self, api: &str, p: Option<&Pending>, r: &Result<T>) {
        if let Some(acc) = self.access() {
            let r = match r {
                Ok(_) => Ok(()),
                Err(e) => Err(e.clone()),
            };
            acc.audit(api, p.and_then(|p| p.objs.first()), &r);
        }
    }
}

/// Filters a list result: [`ProbeMut`]`(&mut v).retain(f)` keeps the
/// objects `f` keeps in a list of references, and does nothing to other
/// values (through [`NoList`]).
pub struct ProbeMut<'a, T: ?Sized>(pub &'a mut T);

/// The fallback of [`ProbeMut::retain`]: not a list of objects.
pub trait NoList {
    fn retain(&mut self, _: &dyn Fn(&Target) -> bool) {}
}

impl<T: ?Sized> NoList for ProbeMut<'_, T> {}

macro_rules! probe_list {
    ($($t:ty),*) => {$(
        impl ProbeMut<'_, Vec<$t>> {
            pub fn retain(&mut self, f: &dyn Fn(&Target) -> bool) {
                self.0.retain(|x| Probe(x).target().is_none_or(|t| f(&t)));
            }
        }
    )*};
}

probe_list!(
    DomainRef,
    PoolRef,
    VolRef,
    NetworkRef,
    NetworkPortRef,
    SecretRef,
    NodeDevRef,
    InterfaceRef,
    NwFilterRef,
    NwFilterBindingRef
);

/// An XML argument as text.
pub trait XmlArg {
    fn xml(&self) -> Option<&str>;
}

impl XmlArg for &str {
    fn xml(&self) -> Option<&str> {
        Some(self)
    }
}

impl XmlArg for Option<&str> {
    fn xml(&self) -> Option<&str> {
        *self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_has_permissions() {
        let missing: Vec<&str> = crate::api::all()
            .flat_map(|a| std::iter::once(a.name).chain(a.alias))
            .filter(|n| permissions(n).is_none())
            .collect();
        assert!(missing.is_empty(), "no permissions for {:?}", missing);
    }

    #[test]
    fn conditions_follow_the_flags() {
        let (p, f) = permissions("virDomainSetVcpusFlags").unwrap();
        let on = |flags| {
            p.iter()
                .filter(|p| p.cond.holds(flags))
                .map(|p| p.perm)
                .collect::<Vec<_>>()
        };
        assert_eq!(f, None);
        // Neither LIVE nor CONFIG: the current state, saved.
        assert_eq!(on(0), ["write", "save"]);
        assert_eq!(on(1), ["write"]);
        assert_eq!(on(2), ["write", "save"]);
        let (p, f) = permissions("virConnectListAllDomains").unwrap();
        assert_eq!((p[0].object, p[0].perm), ("connect", "search_domains"));
        assert_eq!(f.map(|f| f.perm), Some("getattr"));
    }
}
