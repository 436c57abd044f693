//! `RemoteConnection`: every driver method oxvirtd serves, as the REMOTE
//! procedure libvirt's own remote driver uses for it. It fills every
//! family slot of its `Connection`.
//!
//! The methods of oxvirt-proto's regular rows are generated (`client!`:
//! arguments to wire values, the call, the reply to core values); the
//! irregular ones are written here, typed by their rows' `Proc`
//! constants.

use std::sync::Arc;
use std::time::Duration;

use oxvirt_core::driver::NodeDevEventCallback;
use oxvirt_core::error::{code, from};
use oxvirt_core::event::{
    DomainEventCallback, NetworkEventCallback, PoolEventCallback, SecretEventCallback,
};
use oxvirt_core::types::flags::typed_param::STRING_OKAY;
use oxvirt_core::types::*;
use oxvirt_core::{
    Error, HypervisorDriver, InterfaceDriver, NetworkDriver, NodeDeviceDriver, NwFilterDriver,
    Result, SecretDriver, StorageDriver, Stream,
};
use oxvirt_proto::convert::{w, Wire};
use oxvirt_proto::remote::{feature, max};
use oxvirt_proto::table::{self as t, Proc};
use oxvirt_proto::xdr::Xdr;

use crate::client::{Client, EventCallback, Sock};
use crate::stream::RemoteStream;

/// The client's end of a family's rows: one trait method per row whose
/// client side is generated.
macro_rules! client {
    (
        {} $family:ident;
        $( $(#[$flag:ident])? $name:ident = $num:literal $api:literal $rw:ident $m:tt
            ( $($n:ident : $k:tt),* ) -> $ret:tt ; )*
    ) => {
        $( client_row! { [$($flag)?] $num $api $m ($($n: $k),*) -> $ret } )*
    };
}

macro_rules! client_row {
    ([server] $($rest:tt)*) => {};
    ([$($f:ident)?] $num:literal $api:literal _ $($rest:tt)*) => {};
    ([$($f:ident)?] $num:literal $api:literal $m:ident ($($n:ident : $k:tt),*) -> $ret:tt) => {
        fn $m(
            &self,
            $($n: <oxvirt_proto::kind!($k) as Wire>::Param<'_>),*
        ) -> Result<<oxvirt_proto::kind!($ret) as Wire>::Core> {
            let args = ($(<oxvirt_proto::kind!($k) as Wire>::from_param($n, $api)?,)*);
            let ret: oxvirt_proto::kind!($ret) = self.client.call($num, &args)?;
            ret.into_core()
        }
    };
}

/// The most CPUs a host may report to DOMAIN_GET_CPU_STATS' count query.
const MAX_HOST_CPUS: i32 = 1 << 16;

/// A connection to a daemon.
pub struct RemoteConnection {
    client: Arc<Client>,
    secure: bool,
    /// The transport is TLS.
    encrypted: bool,
    event_callbacks: bool,
}

impl RemoteConnection {
    /// virsh's handshake: AUTH_LIST, the keepalive probe, CONNECT_OPEN,
    /// then the event-callback feature probe.
    pub(crate) fn handshake(
        sock: Sock,
        open_name: &str,
        flags: u32,
        secure: bool,
    ) -> Result<RemoteConnection> {
        let encrypted = matches!(sock, Sock::Tls(_));
        let client = Client::start(sock)?;
        let mut conn = RemoteConnection {
            client,
            secure,
            encrypted,
            event_callbacks: false,
        };
        let auth = conn.rpc(t::AUTH_LIST, ())?;
        if !auth.is_empty() && !auth.contains(&0) {
            return Err(Error::new(
                code::AUTH_FAILED,
                from::REMOTE,
                format!(
                    "unsupported authentication type {}",
                    auth.first().copied().unwrap_or_default()
                ),
            ));
        }
        // The daemon pings us once we say we can answer; the reader
        // thread always answers PINGs.
        if conn.supports(feature::PROGRAM_KEEPALIVE) {
            // virsh's defaults: 5 s interval, 6 missed answers.
            conn.client.start_keepalive(Duration::from_secs(5), 6);
        }
        conn.rpc(t::CONNECT_OPEN, (Some(open_name.to_string()), flags))?;
        conn.event_callbacks = conn.supports(feature::REMOTE_EVENT_CALLBACK);
        Ok(conn)
    }

    fn supports(&self, f: i32) -> bool {
        self.rpc(t::CONNECT_SUPPORTS_FEATURE, (f,)).unwrap_or(false)
    }

    /// One call of procedure `p`: its arguments as its row types them,
    /// its reply as core values.
    fn rpc<A: Xdr, R: Wire>(&self, p: Proc<A, R>, args: A) -> Result<R::Core> {
        self.client.call::<A, R>(p.num, &args)?.into_core()
    }

    /// A ListAll: every object (the daemon is asked for them).
    fn list_all<A: Xdr, T: Wire>(&self, p: Proc<A, (T, u32)>, args: A) -> Result<T::Core>
    where
        T::Core: 'static,
    {
        self.rpc(p, args).map(|(v, _)| v)
    }

    /// A typed-parameter getter: nparams 0 is the count alone, a negative
    /// one the count then the values, as libvirt's API layer does. Strings
    /// are allowed, as the API layer adds VIR_TYPED_PARAM_STRING_OKAY.
    fn params_two_step(
        &self,
        nparams: i32,
        f: impl Fn(i32) -> Result<(Vec<TypedParam>, i32)>,
    ) -> Result<Vec<TypedParam>> {
        if nparams == 0 {
            // The count alone, as the trait asks.
            let n = f(0)?.1.max(0) as usize;
            return Ok(vec![TypedParam::new("", TypedValue::Int(0)); n]);
        }
        let n = if nparams > 0 { nparams } else { f(0)?.1 };
        if n <= 0 {
            return Ok(Vec::new());
        }
        Ok(f(n)?.0)
    }

    /// A getter of `{dom, nparams, flags}` in two steps.
    fn get_params(
        &self,
        p: Proc<(t_k::Dom, i32, u32), t_k::ParamsCount>,
        d: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.params_two_step(nparams, |n| self.rpc(p, (w(d)?, n, flags | STRING_OKAY)))
    }

    /// A node stats getter: how many, then that many.
    fn node_stats<A: Xdr>(
        &self,
        p: Proc<A, t_k::NodeStats>,
        args: impl Fn(i32) -> A,
    ) -> Result<Vec<(String, u64)>> {
        let n = self.rpc(p, args(0))?.1;
        if n <= 0 {
            return Ok(Vec::new());
        }
        Ok(self.rpc(p, args(n))?.0)
    }

    /// DOMAIN_GET_CPU_STATS. `ncpus = 0` asks how many CPUs there are
    /// (that many empty lists); `nparams <= 0` fetches every stat, after
    /// asking how many there are, as libvirt's two-step API does.
    fn cpu_stats(
        &self,
        d: &DomainRef,
        start_cpu: i32,
        ncpus: u32,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<Vec<TypedParam>>> {
        let exceeds = || {
            Error::raw(
                code::RPC,
                from::REMOTE,
                "remoteDomainGetCPUStats: returned number of stats exceeds limit",
            )
        };
        let ask = |nparams: u32, ncpus: u32| -> Result<(Vec<TypedParam>, i32)> {
            if nparams as usize > max::NODE_CPU_STATS {
                return Err(Error::raw(
                    code::RPC,
                    from::REMOTE,
                    format!(
                        "nparams count exceeds maximum: {} > {}",
                        nparams,
                        max::NODE_CPU_STATS
                    ),
                ));
            }
            if ncpus as usize > max::DOMAIN_GET_CPU_STATS_NCPUS {
                return Err(Error::raw(
                    code::RPC,
                    from::REMOTE,
                    format!(
                        "ncpus count exceeds maximum: {} > {}",
                        ncpus,
                        max::DOMAIN_GET_CPU_STATS_NCPUS
                    ),
                ));
            }
            let args = (w(d)?, nparams, start_cpu, ncpus, flags);
            let (params, n) = self.rpc(t::DOMAIN_GET_CPU_STATS, args)?;
            let len = params.len();
            if len > (nparams as usize) * (ncpus as usize)
                || (len > 0 && (n <= 0 || n as u32 > nparams || !len.is_multiple_of(n as usize)))
            {
                return Err(exceeds());
            }
            Ok((params, n))
        };
        if ncpus == 0 {
            let n = ask(0, 0)?.1;
            // One (empty) list per CPU of the host; bounded so that a
            // hostile count cannot exhaust memory.
            if !(0..=MAX_HOST_CPUS).contains(&n) {
                return Err(exceeds());
            }
            return Ok(vec![Vec::new(); n as usize]);
        }
        let nparams = if nparams > 0 {
            nparams as u32
        } else {
            let n = ask(0, ncpus)?.1;
            if n <= 0 {
                return Ok(Vec::new());
            }
            (n as u32).min(max::NODE_CPU_STATS as u32)
        };
        let (params, stride) = ask(nparams, ncpus)?;
        if params.is_empty() {
            return Ok(Vec::new());
        }
        Ok(params.chunks(stride as usize).map(<[_]>::to_vec).collect())
    }

    /// A call that opens a stream: its reply and the stream.
    fn open_stream<A: Xdr, R: Wire>(
        &self,
        p: Proc<A, R>,
        args: A,
        duplex: bool,
    ) -> Result<(R::Core, Box<dyn Stream>)> {
        let (r, serial, rx) = self.client.call_stream::<A, R>(p.num, &args)?;
        let st = RemoteStream::new(Arc::clone(&self.client), p.num, serial, rx, duplex);
        Ok((r.into_core()?, Box::new(st)))
    }

    fn register<A: Xdr>(
        &self,
        p: Proc<A, i32>,
        args: A,
        cb: EventCallback,
        api: &str,
    ) -> Result<i32> {
        if !self.event_callbacks {
            return Err(Error::no_support(api));
        }
        let id = self.rpc(p, args)?;
        self.client.add_callback(id, cb);
        Ok(id)
    }

    fn deregister(&self, p: Proc<(i32,), ()>, id: i32, what: &str) -> Result<()> {
        if !self.client.has_callback(id) {
            return Err(Error::invalid_arg(
                from::NONE,
                format!("{} event callback {} not registered", what, id),
            ));
        }
        self.rpc(p, (id,))?;
        self.client.remove_callback(id);
        Ok(())
    }

    /// A port handle on the wire names its network by name and UUID; the
    /// handle keeps the name, so the network is looked up (libvirt's
    /// virNetworkPortPtr holds its virNetworkPtr).
    fn port(&self, port: &NetworkPortRef) -> Result<t_k::Port> {
        let n = self.lookup_network_by_name(&port.network)?;
        Ok(t_k::NetPort::from_core((n, port.uuid))?.0)
    }
}

/// The table's kinds, for the hand-written signatures above.
use oxvirt_proto::kinds as t_k;

impl Drop for RemoteConnection {
    fn drop(&mut self) {
        let _ = self.close();
        self.client.shutdown();
    }
}

impl HypervisorDriver for RemoteConnection {
    oxvirt_proto::hypervisor_procedures!(client {});

    fn is_secure(&self) -> Result<bool> {
        Ok(self.rpc(t::CONNECT_IS_SECURE, ())? && self.secure)
    }
    /// As libvirt's client: an encrypted transport to a connection the
    /// daemon calls secure.
    fn is_encrypted(&self) -> Result<bool> {
        Ok(self.rpc(t::CONNECT_IS_SECURE, ())? && self.encrypted)
    }
    fn close(&self) -> Result<()> {
        if self.client.is_dead() {
            return Ok(());
        }
        let r = self
            .client
            .call_timeout(t::CONNECT_CLOSE.num, &(), Duration::from_secs(5));
        self.client.shutdown();
        r
    }
    fn connect_supports_feature(&self, feature: i32) -> Result<bool> {
        self.rpc(t::CONNECT_SUPPORTS_FEATURE, (feature,))
    }
    fn node_cpu_map(&self, flags: u32) -> Result<(Vec<u8>, u32, i32)> {
        self.rpc(t::NODE_GET_CPU_MAP, (1, 1, flags))
    }
    fn cpu_model_names(&self, arch: &str, flags: u32) -> Result<Vec<String>> {
        let args = (arch.to_string(), 1, flags);
        self.rpc(t::CONNECT_GET_CPU_MODEL_NAMES, args)
            .map(|(v, _)| v)
    }
    fn node_cpu_stats(&self, cpu: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        self.node_stats(t::NODE_GET_CPU_STATS, |n| (cpu, n, flags))
    }
    fn node_memory_stats(&self, cell: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        self.node_stats(t::NODE_GET_MEMORY_STATS, |n| (n, cell, flags))
    }
    fn list_all_domains(&self, flags: u32) -> Result<Vec<DomainRef>> {
        self.list_all(t::CONNECT_LIST_ALL_DOMAINS, (1, flags))
    }

    // ---- the procedure each API's variant has --------------------------
    fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        match flags {
            0 => self.rpc(t::DOMAIN_DEFINE_XML, (xml.into(),)),
            _ => self.rpc(t::DOMAIN_DEFINE_XML_FLAGS, (xml.into(), flags)),
        }
    }
    fn domain_destroy(&self, d: &DomainRef, flags: u32) -> Result<()> {
        match flags {
            0 => self.rpc(t::DOMAIN_DESTROY, (w(d)?,)),
            _ => self.rpc(t::DOMAIN_DESTROY_FLAGS, (w(d)?, flags)),
        }
    }
    fn domain_shutdown(&self, d: &DomainRef, flags: u32) -> Result<()> {
        match flags {
            0 => self.rpc(t::DOMAIN_SHUTDOWN, (w(d)?,)),
            _ => self.rpc(t::DOMAIN_SHUTDOWN_FLAGS, (w(d)?, flags)),
        }
    }
    fn domain_save(&self, d: &DomainRef, to: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        match (dxml, flags) {
            (None, 0) => self.rpc(t::DOMAIN_SAVE, (w(d)?, to.into())),
            _ => self.rpc(t::DOMAIN_SAVE_FLAGS, (w(d)?, to.into(), w(dxml)?, flags)),
        }
    }
    fn domain_restore(&self, from_: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        match (dxml, flags) {
            (None, 0) => self.rpc(t::DOMAIN_RESTORE, (from_.into(),)),
            _ => self.rpc(t::DOMAIN_RESTORE_FLAGS, (from_.into(), w(dxml)?, flags)),
        }
    }
    fn domain_core_dump(&self, d: &DomainRef, to: &str, format: u32, flags: u32) -> Result<()> {
        match format {
            0 => self.rpc(t::DOMAIN_CORE_DUMP, (w(d)?, to.into(), flags)),
            _ => self.rpc(
                t::DOMAIN_CORE_DUMP_WITH_FORMAT,
                (w(d)?, to.into(), format, flags),
            ),
        }
    }
    fn domain_set_user_password(
        &self,
        d: &DomainRef,
        user: &str,
        password: &str,
        flags: u32,
    ) -> Result<()> {
        let args = (w(d)?, Some(user.into()), Some(password.into()), flags);
        self.rpc(t::DOMAIN_SET_USER_PASSWORD, args)
    }
    /// virsh's choice: the flag-less procedure when no flags are given.
    /// Scheduler parameters are never strings (no STRING_OKAY).
    fn domain_get_scheduler_parameters(
        &self,
        d: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        match flags {
            0 => self.rpc(t::DOMAIN_GET_SCHEDULER_PARAMETERS, (w(d)?, nparams)),
            _ => self.rpc(
                t::DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS,
                (w(d)?, nparams, flags),
            ),
        }
    }
    fn domain_set_scheduler_parameters(
        &self,
        d: &DomainRef,
        ps: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        match flags {
            0 => self.rpc(t::DOMAIN_SET_SCHEDULER_PARAMETERS, (w(d)?, w(ps)?)),
            _ => self.rpc(
                t::DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS,
                (w(d)?, w(ps)?, flags),
            ),
        }
    }

    // ---- two-step and shaped replies -------------------------------------
    fn domain_block_peek(
        &self,
        d: &DomainRef,
        disk: &str,
        offset: u64,
        size: u64,
        flags: u32,
    ) -> Result<Vec<u8>> {
        let rpc = |m: &str| Error::raw(code::RPC, from::RPC, m);
        if size > max::DOMAIN_BLOCK_PEEK_BUFFER as u64 {
            return Err(rpc("size > maximum buffer size"));
        }
        let args = (w(d)?, disk.into(), offset, size as u32, flags);
        let buf = self.rpc(t::DOMAIN_BLOCK_PEEK, args)?;
        if buf.len() as u64 != size {
            return Err(rpc("returned buffer is not same size as requested"));
        }
        Ok(buf)
    }
    fn domain_get_disk_errors(&self, d: &DomainRef, flags: u32) -> Result<Vec<(String, i32)>> {
        // As virsh: how many first, then that many.
        let ask = |maxerrors: u32| self.rpc(t::DOMAIN_GET_DISK_ERRORS, (w(d)?, maxerrors, flags));
        let n = ask(0)?.1;
        if n <= 0 {
            return Ok(Vec::new());
        }
        let maxerrors = (n as usize).min(max::DOMAIN_DISK_ERRORS) as u32;
        let (errors, _) = ask(maxerrors)?;
        if errors.len() > maxerrors as usize {
            return Err(Error::raw(
                code::RPC,
                from::REMOTE,
                "returned number of disk errors exceeds limit",
            ));
        }
        Ok(errors)
    }
    fn domain_get_launch_security_info(
        &self,
        d: &DomainRef,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        // The API layer allows strings when the daemon can send them.
        self.rpc(
            t::DOMAIN_GET_LAUNCH_SECURITY_INFO,
            (w(d)?, flags | STRING_OKAY),
        )
    }
    fn domain_get_cpu_stats(
        &self,
        d: &DomainRef,
        start_cpu: i32,
        ncpus: u32,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<Vec<TypedParam>>> {
        self.cpu_stats(d, start_cpu, ncpus, nparams, flags | STRING_OKAY)
    }
    fn domain_get_blkio_parameters(
        &self,
        d: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.get_params(t::DOMAIN_GET_BLKIO_PARAMETERS, d, nparams, flags)
    }
    fn domain_get_memory_parameters(
        &self,
        d: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.get_params(t::DOMAIN_GET_MEMORY_PARAMETERS, d, nparams, flags)
    }
    fn domain_get_numa_parameters(
        &self,
        d: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.get_params(t::DOMAIN_GET_NUMA_PARAMETERS, d, nparams, flags)
    }
    fn domain_get_block_io_tune(
        &self,
        d: &DomainRef,
        disk: Option<&str>,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.params_two_step(nparams, |n| {
            let args = (w(d)?, w(disk)?, n, flags | STRING_OKAY);
            self.rpc(t::DOMAIN_GET_BLOCK_IO_TUNE, args)
        })
    }
    fn domain_get_interface_parameters(
        &self,
        d: &DomainRef,
        device: &str,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.params_two_step(nparams, |n| {
            let args = (w(d)?, device.into(), n, flags | STRING_OKAY);
            self.rpc(t::DOMAIN_GET_INTERFACE_PARAMETERS, args)
        })
    }
    fn domain_block_stats_flags(
        &self,
        d: &DomainRef,
        path: &str,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.params_two_step(nparams, |n| {
            let args = (w(d)?, path.into(), n, flags | STRING_OKAY);
            self.rpc(t::DOMAIN_BLOCK_STATS_FLAGS, args)
        })
    }

    // ---- streams ----------------------------------------------------------
    fn domain_screenshot(
        &self,
        d: &DomainRef,
        screen: u32,
        flags: u32,
    ) -> Result<(String, Box<dyn Stream>)> {
        let args = (w(d)?, screen, flags);
        let (mime, st) = self.open_stream(t::DOMAIN_SCREENSHOT, args, false)?;
        Ok((mime.unwrap_or_default(), st))
    }
    fn domain_open_console(
        &self,
        d: &DomainRef,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<Box<dyn Stream>> {
        let args = (w(d)?, w(dev_name)?, flags);
        self.open_stream(t::DOMAIN_OPEN_CONSOLE, args, true)
            .map(|(_, st)| st)
    }

    // ---- snapshots and checkpoints ---------------------------------------------
    fn list_all_snapshots(&self, d: &DomainRef, flags: u32) -> Result<Vec<SnapshotRef>> {
        let (v, _) = self.rpc(t::DOMAIN_LIST_ALL_SNAPSHOTS, (w(d)?, 1, flags))?;
        Ok(v)
    }
    fn snapshot_list_all_children(&self, s: &SnapshotRef, flags: u32) -> Result<Vec<SnapshotRef>> {
        let (v, _) = self.rpc(t::DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN, (w(s)?, 1, flags))?;
        Ok(v)
    }
    fn list_all_checkpoints(&self, d: &DomainRef, flags: u32) -> Result<Vec<CheckpointRef>> {
        let (v, _) = self.rpc(t::DOMAIN_LIST_ALL_CHECKPOINTS, (w(d)?, 1, flags))?;
        Ok(v)
    }
    fn checkpoint_list_all_children(
        &self,
        c: &CheckpointRef,
        flags: u32,
    ) -> Result<Vec<CheckpointRef>> {
        let (v, _) = self.rpc(t::DOMAIN_CHECKPOINT_LIST_ALL_CHILDREN, (w(c)?, 1, flags))?;
        Ok(v)
    }

    // ---- events -------------------------------------------------------
    fn domain_event_register(
        &self,
        d: Option<&DomainRef>,
        event_id: i32,
        cb: DomainEventCallback,
    ) -> Result<i32> {
        self.register(
            t::CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY,
            (event_id, w(d)?),
            EventCallback::Domain(cb),
            "virConnectDomainEventRegisterAny",
        )
    }
    fn domain_event_deregister(&self, id: i32) -> Result<()> {
        self.deregister(
            t::CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY,
            id,
            "domain",
        )
    }
}

impl NetworkDriver for RemoteConnection {
    oxvirt_proto::network_procedures!(client {});

    fn list_all_networks(&self, flags: u32) -> Result<Vec<NetworkRef>> {
        self.list_all(t::CONNECT_LIST_ALL_NETWORKS, (1, flags))
    }
    fn network_define_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        match flags {
            0 => self.rpc(t::NETWORK_DEFINE_XML, (xml.into(),)),
            _ => self.rpc(t::NETWORK_DEFINE_XML_FLAGS, (xml.into(), flags)),
        }
    }
    fn network_create_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        match flags {
            0 => self.rpc(t::NETWORK_CREATE_XML, (xml.into(),)),
            _ => self.rpc(t::NETWORK_CREATE_XML_FLAGS, (xml.into(), flags)),
        }
    }
    fn network_get_dhcp_leases(
        &self,
        n: &NetworkRef,
        mac: Option<&str>,
        flags: u32,
    ) -> Result<Vec<NetworkDhcpLease>> {
        let args = (w(n)?, w(mac)?, 1, flags);
        self.list_all(t::NETWORK_GET_DHCP_LEASES, args)
    }
    fn list_all_network_ports(&self, n: &NetworkRef, flags: u32) -> Result<Vec<NetworkPortRef>> {
        let ports = self.list_all(t::NETWORK_LIST_ALL_PORTS, (w(n)?, 1, flags))?;
        Ok(ports.into_iter().map(port_ref).collect())
    }
    fn lookup_network_port_by_uuid(&self, n: &NetworkRef, uuid: &Uuid) -> Result<NetworkPortRef> {
        let p = self.rpc(t::NETWORK_PORT_LOOKUP_BY_UUID, (w(n)?, uuid.0))?;
        Ok(port_ref(p))
    }
    fn network_port_create_xml(
        &self,
        n: &NetworkRef,
        xml: &str,
        flags: u32,
    ) -> Result<NetworkPortRef> {
        let p = self.rpc(t::NETWORK_PORT_CREATE_XML, (w(n)?, xml.into(), flags))?;
        Ok(port_ref(p))
    }
    fn network_port_get_xml_desc(&self, port: &NetworkPortRef, flags: u32) -> Result<String> {
        self.rpc(t::NETWORK_PORT_GET_XML_DESC, (self.port(port)?, flags))
    }
    fn network_port_delete(&self, port: &NetworkPortRef, flags: u32) -> Result<()> {
        self.rpc(t::NETWORK_PORT_DELETE, (self.port(port)?, flags))
    }
    fn network_event_register(
        &self,
        n: Option<&NetworkRef>,
        event_id: i32,
        cb: NetworkEventCallback,
    ) -> Result<i32> {
        self.register(
            t::CONNECT_NETWORK_EVENT_REGISTER_ANY,
            (event_id, w(n)?),
            EventCallback::Network(cb),
            "virConnectNetworkEventRegisterAny",
        )
    }
    fn network_event_deregister(&self, id: i32) -> Result<()> {
        self.deregister(t::CONNECT_NETWORK_EVENT_DEREGISTER_ANY, id, "network")
    }
}

/// A port handle from the network and port UUID a reply names.
fn port_ref((net, uuid): (NetworkRef, Uuid)) -> NetworkPortRef {
    NetworkPortRef {
        network: net.name,
        uuid,
    }
}

impl NodeDeviceDriver for RemoteConnection {
    oxvirt_proto::nodedev_procedures!(client {});

    fn list_all_node_devices(&self, flags: u32) -> Result<Vec<NodeDevRef>> {
        self.list_all(t::CONNECT_LIST_ALL_NODE_DEVICES, (1, flags))
    }
    fn node_device_list_caps(&self, dev: &NodeDevRef) -> Result<Vec<String>> {
        let n = self.node_device_num_of_caps(dev)?;
        if n <= 0 {
            return Ok(Vec::new());
        }
        self.rpc(t::NODE_DEVICE_LIST_CAPS, (w(dev)?, n))
    }
    fn node_device_event_register(
        &self,
        dev: Option<&NodeDevRef>,
        event_id: i32,
        cb: NodeDevEventCallback,
    ) -> Result<i32> {
        self.register(
            t::CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY,
            (event_id, w(dev)?),
            EventCallback::NodeDevice(cb),
            "virConnectNodeDeviceEventRegisterAny",
        )
    }
    fn node_device_event_deregister(&self, id: i32) -> Result<()> {
        self.deregister(
            t::CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY,
            id,
            "node device",
        )
    }
}

impl StorageDriver for RemoteConnection {
    oxvirt_proto::storage_procedures!(client {});

    fn list_all_storage_pools(&self, flags: u32) -> Result<Vec<PoolRef>> {
        self.list_all(t::CONNECT_LIST_ALL_STORAGE_POOLS, (1, flags))
    }
    fn pool_list_all_volumes(&self, pl: &PoolRef, flags: u32) -> Result<Vec<VolRef>> {
        self.list_all(t::STORAGE_POOL_LIST_ALL_VOLUMES, (w(pl)?, 1, flags))
    }
    fn vol_get_info(&self, v: &VolRef, flags: u32) -> Result<VolInfo> {
        match flags {
            0 => self.rpc(t::STORAGE_VOL_GET_INFO, (w(v)?,)),
            _ => self.rpc(t::STORAGE_VOL_GET_INFO_FLAGS, (w(v)?, flags)),
        }
    }
    fn vol_upload(
        &self,
        v: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<Box<dyn Stream>> {
        let args = (w(v)?, offset, length, flags);
        self.open_stream(t::STORAGE_VOL_UPLOAD, args, false)
            .map(|(_, st)| st)
    }
    fn vol_download(
        &self,
        v: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<Box<dyn Stream>> {
        let args = (w(v)?, offset, length, flags);
        self.open_stream(t::STORAGE_VOL_DOWNLOAD, args, false)
            .map(|(_, st)| st)
    }
    fn pool_event_register(
        &self,
        pl: Option<&PoolRef>,
        event_id: i32,
        cb: PoolEventCallback,
    ) -> Result<i32> {
        self.register(
            t::CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY,
            (event_id, w(pl)?),
            EventCallback::Pool(cb),
            "virConnectStoragePoolEventRegisterAny",
        )
    }
    fn pool_event_deregister(&self, id: i32) -> Result<()> {
        self.deregister(
            t::CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY,
            id,
            "storage pool",
        )
    }
}

impl InterfaceDriver for RemoteConnection {
    oxvirt_proto::interface_procedures!(client {});

    fn list_all_interfaces(&self, flags: u32) -> Result<Vec<InterfaceRef>> {
        self.list_all(t::CONNECT_LIST_ALL_INTERFACES, (1, flags))
    }
}

impl SecretDriver for RemoteConnection {
    oxvirt_proto::secret_procedures!(client {});

    fn list_all_secrets(&self, flags: u32) -> Result<Vec<SecretRef>> {
        self.list_all(t::CONNECT_LIST_ALL_SECRETS, (1, flags))
    }
    fn secret_event_register(
        &self,
        s: Option<&SecretRef>,
        event_id: i32,
        cb: SecretEventCallback,
    ) -> Result<i32> {
        self.register(
            t::CONNECT_SECRET_EVENT_REGISTER_ANY,
            (event_id, w(s)?),
            EventCallback::Secret(cb),
            "virConnectSecretEventRegisterAny",
        )
    }
    fn secret_event_deregister(&self, id: i32) -> Result<()> {
        self.deregister(t::CONNECT_SECRET_EVENT_DEREGISTER_ANY, id, "secret")
    }
}

impl NwFilterDriver for RemoteConnection {
    oxvirt_proto::nwfilter_procedures!(client {});
}
