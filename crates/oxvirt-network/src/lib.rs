//! The network driver of a real host (libvirt's bridge driver): virtual
//! networks with their bridge, dnsmasq and nftables rules, network ports,
//! and the host's interfaces (`iface`).
//!
//! One `Driver` per state root for the life of the process (`driver`):
//! networks are host-wide, shared by every connection of the daemon.
//! Opening it re-attaches the networks that were running (their bridge,
//! firewall table and dnsmasq outlive the daemon), cleans up after those
//! that vanished, and starts the autostart networks. Stopping the daemon
//! stops no network, as with libvirtd: guests keep their connectivity.
//!
//! Methods carry the names and signatures of the `Connection` trait's
//! network methods. The driver mutex is held across a network's start or
//! stop (tens of milliseconds: netlink, one `nft` run, dnsmasq's start),
//! never across a guest; events are emitted after it is released.

pub mod dnsmasq;
pub mod firewall;
pub mod iface;
mod ports;
mod start;
pub mod store;
mod validate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use oxvirt_core::error::{code, from};
use oxvirt_core::event::{
    network_lifecycle as nl, EventHub, NetworkEvent, NetworkEventCallback, NetworkEventKind,
};
use oxvirt_core::netconf::{NetworkList, NetworkObj};
use oxvirt_core::types::{NetworkDhcpLease, NetworkPortRef, NetworkRef, Uuid};
use oxvirt_core::{Error, NetworkDriver, Result};
use oxvirt_xml::netport::NetworkPort;
use oxvirt_xml::network::Network;

pub use iface::HostInterfaces;
use store::Layout;

/// Errors of the network driver (VIR_FROM_NETWORK).
pub const FROM: i32 = from::NETWORK;

/// `VIR_NETWORK_UPDATE_AFFECT_LIVE` / `_CONFIG`.
const UPDATE_LIVE: u32 = 1;
const UPDATE_CONFIG: u32 = 2;

/// virCheckFlags.
fn check_flags(flags: u32, supported: u32, func: &str) -> Result<()> {
    oxvirt_core::error::check_flags(flags, supported, func, FROM)
}

fn schema_validate(xml: &str, schema: &str) -> Result<()> {
    if oxvirt_xml::dom::parse(xml, "").is_err() {
        return Ok(());
    }
    oxvirt_schema::validate(xml, schema).map_err(|e| match e {
        oxvirt_schema::SchemaError::Invalid { .. } => {
            Error::new(code::XML_INVALID_SCHEMA, from::XML, e.to_string())
        }
        oxvirt_schema::SchemaError::Unavailable { .. } => {
            Error::new(code::INTERNAL_ERROR, from::XML, e.to_string())
        }
    })
}

/// The driver's state under its mutex.
struct State {
    nets: NetworkList,
    /// The ports of each active network, by network UUID.
    ports: HashMap<Uuid, Vec<NetworkPort>>,
}

/// The network driver of one state root.
pub struct Driver {
    layout: Layout,
    st: Mutex<State>,
    events: EventHub,
    dnsmasq: String,
}

static DRIVERS: OnceLock<Mutex<HashMap<PathBuf, Arc<Driver>>>> = OnceLock::new();

/// The driver of `root`, opened (and its networks re-attached) on first
/// use; the same instance for the life of the process.
pub fn driver(root: &Path) -> Result<Arc<Driver>> {
    let map = DRIVERS.get_or_init(Default::default);
    let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(d) = m.get(root) {
        return Ok(d.clone());
    }
    let d = Arc::new(Driver::open(root)?);
    m.insert(root.to_path_buf(), d.clone());
    Ok(d)
}

fn net_event(net: NetworkRef, event: i32) -> NetworkEvent {
    NetworkEvent {
        net,
        kind: NetworkEventKind::Lifecycle { event, detail: 0 },
    }
}

/// libvirt's masquerading rules fill in the live definition's NAT port
/// range (1024-65535) when it has none; `net-dumpxml` shows it.
fn fill_nat_ports(def: &mut Network) {
    let masq = def
        .ips
        .iter()
        .any(|ip| ip.is_ipv4() || def.forward.as_ref().and_then(|f| f.nat_ipv6) == Some(true));
    if let Some(f) = def.forward.as_mut() {
        if f.mode == oxvirt_xml::network::ForwardMode::Nat
            && masq
            && f.nat_port.is_none_or(|(s, e)| s == 0 && e == 0)
        {
            f.nat_port = Some((1024, 65535));
        }
    }
}

fn status_xml(def: &Network) -> String {
    let mut s = String::from("<networkstatus>\n");
    for line in def.format(false).lines() {
        s.push_str("  ");
        s.push_str(line);
        s.push('\n');
    }
    s.push_str("</networkstatus>\n");
    s
}

fn parse_status(text: &str) -> Option<Network> {
    let mut root = oxvirt_xml::dom::parse(text, "status").ok()?;
    root.strip_blanks();
    if root.name != "networkstatus" {
        return None;
    }
    Network::from_element(root.child("network")?).ok()
}

impl Driver {
    /// Opens the driver on `root` without registering it (tests; the
    /// daemon goes through `driver`).
    pub fn open(root: &Path) -> Result<Driver> {
        let layout = Layout {
            root: root.to_path_buf(),
        };
        layout.create()?;
        for dir in [layout.config_dir(), layout.run_dir(), layout.dnsmasq_dir()] {
            oxvirt_host::fsutil::remove_stray_temporaries(&dir);
        }
        let d = Driver {
            layout,
            st: Mutex::new(State {
                nets: NetworkList::new(FROM),
                ports: HashMap::new(),
            }),
            events: EventHub::new(),
            dnsmasq: std::env::var("OXVIRT_DNSMASQ").unwrap_or_else(|_| "dnsmasq".into()),
        };
        d.load();
        d.autostart();
        Ok(d)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads persistent definitions, then the status of running networks
    /// (networkStateInitialize + networkUpdateState).
    fn load(&self) {
        let mut st = self.lock();
        for p in store::xml_files(&self.layout.config_dir()) {
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            match Network::parse(&text) {
                Ok(def) => {
                    let name = def.name.clone();
                    match st.nets.assign(def, false, false) {
                        Ok(i) => {
                            st.nets.objs[i].autostart = self.layout.autostart(&name).exists();
                        }
                        Err(e) => tracing::warn!("{}: {}", p.display(), e.message),
                    }
                }
                Err(e) => tracing::warn!("{}: {}", p.display(), e),
            }
        }
        for p in store::xml_files(&self.layout.run_dir()) {
            let Some(def) = std::fs::read_to_string(&p)
                .ok()
                .and_then(|t| parse_status(&t))
            else {
                tracing::warn!("{}: unreadable network status, removed", p.display());
                store::remove(&p);
                continue;
            };
            if !start::still_running(&def) {
                // Gone while the daemon was away: clean up what is left.
                tracing::info!("network {} is no longer running", def.name);
                start::stop(&self.layout, &def);
                store::remove(&p);
                let _ = std::fs::remove_dir_all(self.layout.ports_dir(&def.name));
                continue;
            }
            let uuid = def.uuid;
            let i = match st.nets.assign(def.clone(), true, false) {
                Ok(i) => i,
                Err(e) => {
                    tracing::warn!("{}: {}", p.display(), e.message);
                    continue;
                }
            };
            st.nets.objs[i].active = true;
            let mut ports = Vec::new();
            for pp in store::xml_files(&self.layout.ports_dir(&def.name)) {
                match std::fs::read_to_string(&pp)
                    .ok()
                    .map(|t| NetworkPort::parse(&t))
                {
                    Some(Ok(port)) => ports.push(port),
                    _ => store::remove(&pp),
                }
            }
            st.ports.insert(uuid, ports);
            // Re-attach: the firewall table and dnsmasq are left running;
            // only what is missing is put back.
            if firewall::wanted(&def) && !firewall::present(&def) {
                if let Err(e) = firewall::add(&def) {
                    tracing::warn!("network {}: {}", def.name, e.message);
                }
            }
            if start::is_virtual(&def) && !def.ips.is_empty() {
                let paths = dnsmasq::Paths::new(&self.layout.dnsmasq_dir(), &def.name);
                if dnsmasq::needed(&def) && dnsmasq::running_pid(&paths).is_none() {
                    if let Err(e) = start::start_dnsmasq(&self.layout, &def, &self.dnsmasq) {
                        tracing::warn!("network {}: {}", def.name, e.message);
                    }
                }
            }
        }
        // Transient definitions left without a status are gone.
    }

    fn autostart(&self) {
        let names: Vec<NetworkRef> = {
            let st = self.lock();
            st.nets
                .objs
                .iter()
                .filter(|o| o.autostart && !o.active)
                .map(NetworkObj::handle)
                .collect()
        };
        for n in names {
            if let Err(e) = self.network_create(&n) {
                tracing::warn!("autostart of network {} failed: {}", n.name, e.message);
            }
        }
    }

    fn emit(&self, h: NetworkRef, event: i32) {
        self.events.emit_network(&net_event(h, event));
    }

    fn save_config(&self, def: &Network) -> Result<()> {
        store::write_atomic(&self.layout.config(&def.name), def.format(true).as_bytes())
    }

    fn save_status(&self, def: &Network) -> Result<()> {
        store::write_atomic(&self.layout.status(&def.name), status_xml(def).as_bytes())
    }

    /// networkRemoveInactive: the files of a network that is going away.
    fn remove_files(&self, def: &Network) {
        let paths = dnsmasq::Paths::new(&self.layout.dnsmasq_dir(), &def.name);
        for p in paths.all() {
            store::remove(p);
        }
        store::remove(&self.layout.status(&def.name));
        let _ = std::fs::remove_dir_all(self.layout.ports_dir(&def.name));
    }

    fn parse(xml: &str, flags: u32) -> Result<Network> {
        if flags & 1 != 0 {
            schema_validate(xml, "network")?;
        }
        let mut def = Network::parse(xml).map_err(|e| Error::from_xml(e, FROM))?;
        if !def.uuid_specified {
            def.uuid = Uuid(*uuid::Uuid::new_v4().as_bytes());
        }
        Ok(def)
    }

    /// networkStartNetwork on object `i` (locked).
    fn start_locked(&self, st: &mut State, i: usize) -> Result<()> {
        if st.nets.objs[i].active {
            return Err(Error::operation_invalid(FROM, "network is already active"));
        }
        let name = st.nets.objs[i].def.name.clone();
        let _ = std::fs::remove_dir_all(self.layout.ports_dir(&name));
        st.ports.remove(&st.nets.objs[i].def.uuid);
        st.nets.objs[i].set_transient();
        fill_nat_ports(&mut st.nets.objs[i].def);
        let def = st.nets.objs[i].def.clone();
        let r =
            start::start(&self.layout, &def, &self.dnsmasq).and_then(|()| self.save_status(&def));
        match r {
            Ok(()) => {
                st.nets.objs[i].active = true;
                st.ports.insert(def.uuid, Vec::new());
                Ok(())
            }
            Err(e) => {
                start::stop(&self.layout, &def);
                store::remove(&self.layout.status(&name));
                st.nets.objs[i].unset_transient();
                Err(e)
            }
        }
    }

    /// networkShutdownNetwork on object `i` (locked).
    fn stop_locked(&self, st: &mut State, i: usize) {
        let def = st.nets.objs[i].def.clone();
        store::remove(&self.layout.status(&def.name));
        start::stop(&self.layout, &def);
        let _ = std::fs::remove_dir_all(self.layout.ports_dir(&def.name));
        st.ports.remove(&def.uuid);
        let obj = &mut st.nets.objs[i];
        obj.active = false;
        obj.unset_transient();
    }

    /// The object a client handle names (networkObjFromNetwork: by UUID,
    /// with libvirt's "no network with matching uuid" error).
    fn obj(&self, st: &State, net: &NetworkRef) -> Result<usize> {
        st.nets.by_uuid(&net.uuid).map_err(|_| {
            Error::new(
                code::NO_NETWORK,
                FROM,
                format!(
                    "no network with matching uuid '{}' ({})",
                    net.uuid, net.name
                ),
            )
        })
    }

    fn active_obj(&self, st: &State, net: &NetworkRef) -> Result<usize> {
        let i = self.obj(st, net)?;
        if !st.nets.objs[i].active {
            return Err(Error::operation_invalid(
                FROM,
                format!("network '{}' is not active", st.nets.objs[i].def.name),
            ));
        }
        Ok(i)
    }

    fn no_port(uuid: &Uuid) -> Error {
        Error::new(
            code::NO_NETWORK_PORT,
            FROM,
            format!("Network port with UUID {} does not exist", uuid),
        )
    }

    fn port_ref(net: &Network, p: &NetworkPort) -> NetworkPortRef {
        NetworkPortRef {
            network: net.name.clone(),
            uuid: p.uuid,
        }
    }

    /// Stops every running network (tests and teardown; the daemon never
    /// calls it on exit).
    pub fn destroy_all(&self) {
        let mut st = self.lock();
        for i in 0..st.nets.objs.len() {
            if st.nets.objs[i].active {
                self.stop_locked(&mut st, i);
            }
        }
    }
}

/// libvirt's network driver API (virNetworkDriver).
impl NetworkDriver for Driver {
    fn network_event_register(
        &self,
        net: Option<&NetworkRef>,
        event_id: i32,
        cb: NetworkEventCallback,
    ) -> Result<i32> {
        if !(0..2).contains(&event_id) {
            return Err(Error::invalid_arg(
                FROM,
                "eventID in virConnectNetworkEventRegisterAny must be less than 2",
            ));
        }
        Ok(self.events.register_network(net, event_id, cb))
    }

    fn network_event_deregister(&self, callback_id: i32) -> Result<()> {
        if self.events.deregister(callback_id) {
            Ok(())
        } else {
            Err(Error::invalid_arg(
                FROM,
                format!("could not find event callback {} for deletion", callback_id),
            ))
        }
    }

    fn list_all_networks(&self, flags: u32) -> Result<Vec<NetworkRef>> {
        check_flags(flags, 0x3f, "networkConnectListAllNetworks")?;
        Ok(self.lock().nets.list(flags))
    }

    fn lookup_network_by_name(&self, name: &str) -> Result<NetworkRef> {
        let st = self.lock();
        let i = st.nets.by_name(name)?;
        Ok(st.nets.objs[i].handle())
    }

    fn lookup_network_by_uuid(&self, uuid: &Uuid) -> Result<NetworkRef> {
        let st = self.lock();
        let i = st.nets.by_uuid(uuid)?;
        Ok(st.nets.objs[i].handle())
    }

    fn network_define_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        check_flags(flags, 1, "networkDefineXMLFlags")?;
        let mut def = Self::parse(xml, flags)?;
        let h = {
            let mut st = self.lock();
            validate::validate(&st.nets, &mut def)?;
            let saved = def.clone();
            let existed = st.nets.by_uuid(&def.uuid).is_ok();
            let prev =
                existed.then(|| st.nets.objs[st.nets.by_uuid(&def.uuid).unwrap_or(0)].clone());
            let i = st.nets.assign(def, false, false)?;
            if let Err(e) = self.save_config(&saved) {
                match prev {
                    Some(p) => st.nets.objs[i] = p,
                    None => {
                        st.nets.objs.remove(i);
                    }
                }
                return Err(e);
            }
            st.nets.objs[i].handle()
        };
        self.emit(h.clone(), nl::DEFINED);
        Ok(h)
    }

    fn network_create_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        check_flags(flags, 1, "networkCreateXMLFlags")?;
        let mut def = Self::parse(xml, flags)?;
        let h = {
            let mut st = self.lock();
            validate::validate(&st.nets, &mut def)?;
            let existed = st.nets.by_uuid(&def.uuid).is_ok();
            let i = st.nets.assign(def, true, true)?;
            if let Err(e) = self.start_locked(&mut st, i) {
                if !existed || !st.nets.objs[i].persistent {
                    st.nets.objs.remove(i);
                }
                return Err(e);
            }
            st.nets.objs[i].handle()
        };
        self.emit(h.clone(), nl::STARTED);
        Ok(h)
    }

    fn network_undefine(&self, net: &NetworkRef) -> Result<()> {
        let h = {
            let mut st = self.lock();
            let i = self.obj(&st, net)?;
            let obj = &st.nets.objs[i];
            if !obj.persistent {
                return Err(Error::operation_invalid(
                    FROM,
                    "can't undefine transient network",
                ));
            }
            let name = obj.def.name.clone();
            let h = obj.handle();
            store::remove(&self.layout.autostart(&name));
            if let Err(e) = std::fs::remove_file(self.layout.config(&name)) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(Error::system(
                        FROM,
                        format!(
                            "cannot remove config file '{}'",
                            self.layout.config(&name).display()
                        ),
                        &e,
                    ));
                }
            }
            if st.nets.objs[i].active {
                let obj = &mut st.nets.objs[i];
                obj.persistent = false;
                obj.new_def = None;
                obj.autostart = false;
            } else {
                let obj = st.nets.objs.remove(i);
                self.remove_files(&obj.def);
            }
            h
        };
        self.emit(h, nl::UNDEFINED);
        Ok(())
    }

    fn network_create(&self, net: &NetworkRef) -> Result<()> {
        let h = {
            let mut st = self.lock();
            let i = self.obj(&st, net)?;
            self.start_locked(&mut st, i)?;
            st.nets.objs[i].handle()
        };
        self.emit(h, nl::STARTED);
        Ok(())
    }

    fn network_destroy(&self, net: &NetworkRef) -> Result<()> {
        let h = {
            let mut st = self.lock();
            let i = self.obj(&st, net)?;
            if !st.nets.objs[i].active {
                return Err(Error::operation_invalid(
                    FROM,
                    format!("network '{}' is not active", st.nets.objs[i].def.name),
                ));
            }
            self.stop_locked(&mut st, i);
            let h = st.nets.objs[i].handle();
            if !st.nets.objs[i].persistent {
                let obj = st.nets.objs.remove(i);
                self.remove_files(&obj.def);
            }
            h
        };
        self.emit(h, nl::STOPPED);
        Ok(())
    }

    fn network_get_xml_desc(&self, net: &NetworkRef, flags: u32) -> Result<String> {
        check_flags(flags, 1, "networkGetXMLDesc")?;
        let st = self.lock();
        let obj = &st.nets.objs[self.obj(&st, net)?];
        let inactive = flags & 1 != 0;
        let def = match (&obj.new_def, inactive) {
            (Some(d), true) => d,
            _ => &obj.def,
        };
        Ok(def.format(inactive))
    }

    fn network_get_bridge_name(&self, net: &NetworkRef) -> Result<String> {
        let st = self.lock();
        let def = &st.nets.objs[self.obj(&st, net)?].def;
        def.bridge_name().map(str::to_string).ok_or_else(|| {
            Error::internal(
                FROM,
                format!("network '{}' does not have a bridge name.", def.name),
            )
        })
    }

    fn network_get_autostart(&self, net: &NetworkRef) -> Result<bool> {
        let st = self.lock();
        Ok(st.nets.objs[self.obj(&st, net)?].autostart)
    }

    fn network_set_autostart(&self, net: &NetworkRef, autostart: bool) -> Result<()> {
        let mut st = self.lock();
        let i = self.obj(&st, net)?;
        let obj = &mut st.nets.objs[i];
        if !obj.persistent {
            return Err(Error::operation_invalid(
                FROM,
                "cannot set autostart for transient network",
            ));
        }
        if obj.autostart == autostart {
            return Ok(());
        }
        let link = self.layout.autostart(&obj.def.name);
        let target = self.layout.config(&obj.def.name);
        if autostart {
            if let Err(e) = std::os::unix::fs::symlink(&target, &link) {
                return Err(Error::system(
                    FROM,
                    format!(
                        "Failed to create symlink '{}' to '{}'",
                        link.display(),
                        target.display()
                    ),
                    &e,
                ));
            }
        } else if let Err(e) = std::fs::remove_file(&link) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(Error::system(
                    FROM,
                    format!("Failed to delete symlink '{}'", link.display()),
                    &e,
                ));
            }
        }
        obj.autostart = autostart;
        Ok(())
    }

    fn network_is_active(&self, net: &NetworkRef) -> Result<bool> {
        let st = self.lock();
        Ok(st.nets.objs[self.obj(&st, net)?].active)
    }

    fn network_is_persistent(&self, net: &NetworkRef) -> Result<bool> {
        let st = self.lock();
        Ok(st.nets.objs[self.obj(&st, net)?].persistent)
    }

    /// networkUpdate: edit the live and/or persistent definition, then
    /// bring dnsmasq and the firewall in line with the live one.
    fn network_update(
        &self,
        net: &NetworkRef,
        command: u32,
        section: u32,
        parent_index: i32,
        xml: &str,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, UPDATE_LIVE | UPDATE_CONFIG, "networkUpdate")?;
        let mut st = self.lock();
        let i = self.obj(&st, net)?;
        let dhcp_v4 = |d: &Network| {
            d.ips.iter().any(|ip| {
                ip.is_ipv4()
                    && (!ip.ranges.is_empty() || !ip.hosts.is_empty() || ip.tftp_root.is_some())
            })
        };
        let old_dhcp = dhcp_v4(&st.nets.objs[i].def);
        let was_active = st.nets.objs[i].active;
        let flags = st.nets.objs[i].update(command, section, parent_index, xml, flags)?;
        let obj = &st.nets.objs[i];
        if flags & UPDATE_CONFIG != 0 {
            self.save_config(obj.persistent_def())?;
        }
        if was_active && flags & UPDATE_LIVE != 0 {
            let def = obj.def.clone();
            // sections: 1 bridge, 2 domain, 3 ip, 4 dhcp host, 5 dhcp range,
            // 6 forward, 7 forward interface, 10 dns host, 11 txt, 12 srv
            if firewall::wanted(&def) && matches!(section, 3..=7) {
                firewall::add(&def)?;
            }
            if start::is_virtual(&def) {
                match section {
                    1 | 2 | 3 | 5 | 11 | 12 => {
                        start::restart_dnsmasq(&self.layout, &def, &self.dnsmasq)?
                    }
                    4 => {
                        if dhcp_v4(&def) != old_dhcp {
                            start::restart_dnsmasq(&self.layout, &def, &self.dnsmasq)?;
                        }
                        start::refresh_dnsmasq(&self.layout, &def, &self.dnsmasq)?;
                    }
                    10 => start::refresh_dnsmasq(&self.layout, &def, &self.dnsmasq)?,
                    _ => {}
                }
            }
            self.save_status(&def)?;
        }
        Ok(())
    }

    /// networkGetDHCPLeases, from dnsmasq's lease file.
    fn network_get_dhcp_leases(
        &self,
        net: &NetworkRef,
        mac: Option<&str>,
        flags: u32,
    ) -> Result<Vec<NetworkDhcpLease>> {
        check_flags(flags, 0, "networkGetDHCPLeases")?;
        if let Some(m) = mac {
            if oxvirt_xml::props::Mac::parse(m).is_none() {
                return Err(Error::new(code::INVALID_MAC, FROM, m));
            }
        }
        let def = {
            let st = self.lock();
            st.nets.objs[self.obj(&st, net)?].def.clone()
        };
        let paths = dnsmasq::Paths::new(&self.layout.dnsmasq_dir(), &def.name);
        let text = match std::fs::read(&paths.leases) {
            Ok(t) => String::from_utf8_lossy(&t[..t.len().min(32 << 20)]).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::system(
                    FROM,
                    format!("Unable to read leases file: {}", paths.leases.display()),
                    &e,
                ))
            }
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let want = mac.and_then(oxvirt_xml::props::Mac::parse);
        let mut out = Vec::new();
        for l in dnsmasq::parse_leases(&text) {
            let Some(lmac) = l.mac.as_deref() else {
                // libvirt keeps only leases whose MAC is known.
                continue;
            };
            if want.is_some() && oxvirt_xml::props::Mac::parse(lmac) != want {
                continue;
            }
            if l.expiry > 0 && l.expiry < now {
                continue;
            }
            let v6 = l.ip.is_ipv6();
            let prefix = def
                .ips
                .iter()
                .find(|i| i.address.is_ipv6() == v6)
                .map(|i| if v6 { i.prefix } else { i.prefix_len() })
                .unwrap_or(0);
            out.push(NetworkDhcpLease {
                iface: def.bridge_name().unwrap_or("").to_string(),
                expirytime: l.expiry,
                kind: i32::from(v6),
                mac: Some(lmac.to_string()),
                iaid: l.iaid,
                ipaddr: l.ip.to_string(),
                prefix,
                hostname: l.hostname,
                clientid: l.clientid,
            });
        }
        Ok(out)
    }

    // ---- ports (virNetworkPort*) ----------------------------------------
    fn list_all_network_ports(&self, net: &NetworkRef, flags: u32) -> Result<Vec<NetworkPortRef>> {
        check_flags(flags, 0, "networkListAllPorts")?;
        let st = self.lock();
        let i = self.active_obj(&st, net)?;
        let def = &st.nets.objs[i].def;
        Ok(st
            .ports
            .get(&def.uuid)
            .map(|v| v.iter().map(|p| Self::port_ref(def, p)).collect())
            .unwrap_or_default())
    }

    fn lookup_network_port_by_uuid(&self, net: &NetworkRef, uuid: &Uuid) -> Result<NetworkPortRef> {
        let st = self.lock();
        let i = self.obj(&st, net)?;
        let def = &st.nets.objs[i].def;
        let port = st
            .ports
            .get(&def.uuid)
            .and_then(|v| v.iter().find(|p| p.uuid == *uuid))
            .ok_or_else(|| Self::no_port(uuid))?;
        let r = Self::port_ref(def, port);
        self.active_obj(&st, net)?;
        Ok(r)
    }

    /// networkPortCreateXML: allocate (or, with RECLAIM, re-attach) a port.
    fn network_port_create_xml(
        &self,
        net: &NetworkRef,
        xml: &str,
        flags: u32,
    ) -> Result<NetworkPortRef> {
        const RECLAIM: u32 = 1;
        const VALIDATE: u32 = 2;
        check_flags(flags, RECLAIM | VALIDATE, "networkPortCreateXML")?;
        let mut st = self.lock();
        let i = self.obj(&st, net)?;
        if flags & VALIDATE != 0 {
            schema_validate(xml, "networkport")?;
        }
        let mut port = NetworkPort::parse(xml).map_err(|e| Error::from_xml(e, FROM))?;
        let i = {
            let _ = i;
            self.active_obj(&st, net)?
        };
        let reclaim = flags & RECLAIM != 0;
        match (&port.plug, reclaim) {
            (oxvirt_xml::netport::Plug::None, true) => {
                return Err(Error::invalid_arg(
                    FROM,
                    "Port reclaim requested but plug type is none",
                ))
            }
            (oxvirt_xml::netport::Plug::None, false) => {}
            (_, false) => {
                return Err(Error::invalid_arg(
                    FROM,
                    "Port reclaim not requested but plug type is not none",
                ))
            }
            (_, true) => {}
        }
        let def = st.nets.objs[i].def.clone();
        let ports = st.ports.entry(def.uuid).or_default();
        if reclaim {
            ports::notify(&def, &port, ports)?;
        } else {
            ports::allocate(&def, &mut port, ports)?;
        }
        if ports.iter().any(|p| p.uuid == port.uuid) {
            return Err(Error::new(
                code::NETWORK_PORT_EXIST,
                FROM,
                format!("Network port with UUID {} already exists", port.uuid),
            ));
        }
        let dir = self.layout.ports_dir(&def.name);
        let saved = std::fs::create_dir_all(&dir)
            .map_err(|e| {
                Error::system(
                    FROM,
                    format!("cannot create directory {}", dir.display()),
                    &e,
                )
            })
            .and_then(|()| {
                store::write_atomic(
                    &dir.join(format!("{}.xml", port.uuid)),
                    port.format().as_bytes(),
                )
            });
        if let Err(e) = saved {
            ports::release(&def, &port);
            return Err(e);
        }
        let r = Self::port_ref(&def, &port);
        ports.push(port);
        Ok(r)
    }

    fn network_port_get_xml_desc(&self, port: &NetworkPortRef, flags: u32) -> Result<String> {
        check_flags(flags, 0, "networkPortGetXMLDesc")?;
        let st = self.lock();
        let i = st.nets.by_name(&port.network)?;
        let def = &st.nets.objs[i].def;
        let p = st
            .ports
            .get(&def.uuid)
            .and_then(|v| v.iter().find(|p| p.uuid == port.uuid))
            .ok_or_else(|| Self::no_port(&port.uuid))?;
        if !st.nets.objs[i].active {
            return Err(Error::operation_invalid(
                FROM,
                format!("network '{}' is not active", def.name),
            ));
        }
        Ok(p.format())
    }

    fn network_port_delete(&self, port: &NetworkPortRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "networkPortDelete")?;
        let mut st = self.lock();
        let i = st.nets.by_name(&port.network)?;
        let def = st.nets.objs[i].def.clone();
        let active = st.nets.objs[i].active;
        let ports = st.ports.entry(def.uuid).or_default();
        let j = ports
            .iter()
            .position(|p| p.uuid == port.uuid)
            .ok_or_else(|| Self::no_port(&port.uuid))?;
        if !active {
            return Err(Error::operation_invalid(
                FROM,
                format!("network '{}' is not active", def.name),
            ));
        }
        ports::release(&def, &ports[j]);
        let p = ports.remove(j);
        store::remove(
            &self
                .layout
                .ports_dir(&def.name)
                .join(format!("{}.xml", p.uuid)),
        );
        Ok(())
    }
}

/// What the QEMU driver asks of networks: a port for a guest NIC
/// (virDomainNetAllocateActualDevice over virNetworkPortCreateXML), its
/// release, and DHCP leases for `domifaddr --source lease`.
impl oxvirt_core::host::NetworkPorts for Driver {
    fn allocate_port(
        &self,
        req: &oxvirt_core::host::PortRequest,
    ) -> Result<oxvirt_core::host::PortBinding> {
        use oxvirt_core::host::{PortBinding, PortPlug};
        use oxvirt_xml::netport::Plug;
        let net = self.lookup_network_by_name(&req.network)?;
        let mac = oxvirt_xml::props::Mac::parse(&req.mac)
            .ok_or_else(|| Error::new(code::INVALID_MAC, FROM, req.mac.clone()))?;
        let port = NetworkPort {
            uuid: Uuid(*uuid::Uuid::new_v4().as_bytes()),
            owner_name: req.owner_name.clone(),
            owner_uuid: req.owner_uuid,
            group: req.portgroup.clone(),
            mac,
            virtualport: None,
            bandwidth: None,
            class_id: None,
            vlan: None,
            isolated: None,
            trust_guest_rx_filters: None,
            plug: Plug::None,
        };
        let r = self.network_port_create_xml(&net, &port.format(), 0)?;
        let st = self.lock();
        let p = st
            .ports
            .get(&net.uuid)
            .and_then(|v| v.iter().find(|p| p.uuid == r.uuid))
            .ok_or_else(|| Self::no_port(&r.uuid))?;
        let plug = match &p.plug {
            Plug::Bridge {
                bridge,
                mac_table_manager,
                ..
            } => PortPlug::Bridge {
                bridge: bridge.clone(),
                mac_table_manager: mac_table_manager.clone(),
            },
            Plug::Direct { dev, mode } => PortPlug::Direct {
                dev: dev.clone(),
                mode: mode.clone(),
            },
            Plug::HostdevPci { managed, addr, .. } => PortPlug::HostdevPci {
                address: format!("{:04x}:{:02x}:{:02x}.{:x}", addr.0, addr.1, addr.2, addr.3),
                managed: *managed == Some(true),
            },
            Plug::None => {
                return Err(Error::internal(
                    FROM,
                    "Unexpectedly got a network port without a plug",
                ))
            }
        };
        Ok(PortBinding { port: r.uuid, plug })
    }

    fn release_port(&self, network: &str, port: &Uuid) -> Result<()> {
        self.network_port_delete(
            &NetworkPortRef {
                network: network.to_string(),
                uuid: *port,
            },
            0,
        )
    }

    fn dhcp_leases(&self, network: &str, mac: &str) -> Result<Vec<NetworkDhcpLease>> {
        let net = self.lookup_network_by_name(network)?;
        self.network_get_dhcp_leases(&net, Some(mac), 0)
    }
}
