//! `RemoteConnection`: every driver method oxvirtd serves, as the REMOTE
//! procedure libvirt's own remote driver uses for it. It fills every
//! family slot of its `Connection`.

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
use oxvirt_proto::procs as p;
use oxvirt_proto::remote::{self as r, feature, max};
use oxvirt_proto::xdr::{Opaque, Xdr};

use crate::client::{Client, EventCallback, Sock};
use crate::convert::*;
use crate::stream::RemoteStream;

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
        let auth: r::AuthListRet = conn.client.call(p::AUTH_LIST, &())?;
        if !auth.types.is_empty() && !auth.types.contains(&0) {
            return Err(Error::new(
                code::AUTH_FAILED,
                from::REMOTE,
                format!(
                    "unsupported authentication type {}",
                    auth.types.first().copied().unwrap_or_default()
                ),
            ));
        }
        // The daemon pings us once we say we can answer; the reader
        // thread always answers PINGs.
        if conn.supports(feature::PROGRAM_KEEPALIVE) {
            // virsh's defaults: 5 s interval, 6 missed answers.
            conn.client.start_keepalive(Duration::from_secs(5), 6);
        }
        conn.client.call::<_, ()>(
            p::CONNECT_OPEN,
            &r::ConnectOpenArgs {
                name: Some(open_name.to_string()),
                flags,
            },
        )?;
        conn.event_callbacks = conn.supports(feature::REMOTE_EVENT_CALLBACK);
        Ok(conn)
    }

    fn supports(&self, f: i32) -> bool {
        self.client
            .call::<_, r::IntRet>(p::CONNECT_SUPPORTS_FEATURE, &r::IntArgs { value: f })
            .map(|r| r.value != 0)
            .unwrap_or(false)
    }

    fn call<A: Xdr, R: Xdr>(&self, proc_: i32, a: &A) -> Result<R> {
        self.client.call(proc_, a)
    }

    fn unit<A: Xdr>(&self, proc_: i32, a: &A) -> Result<()> {
        self.client.call(proc_, a)
    }

    fn string<A: Xdr>(&self, proc_: i32, a: &A) -> Result<String> {
        self.client
            .call::<_, r::StringRet>(proc_, a)
            .map(|r| r.value)
    }

    fn int<A: Xdr>(&self, proc_: i32, a: &A) -> Result<i32> {
        self.client.call::<_, r::IntRet>(proc_, a).map(|r| r.value)
    }

    fn boolean<A: Xdr>(&self, proc_: i32, a: &A) -> Result<bool> {
        self.int(proc_, a).map(|v| v != 0)
    }

    fn uhyper<A: Xdr>(&self, proc_: i32, a: &A) -> Result<u64> {
        self.client
            .call::<_, r::UHyperRet>(proc_, a)
            .map(|r| r.value)
    }

    fn domain<A: Xdr>(&self, proc_: i32, a: &A) -> Result<DomainRef> {
        self.client
            .call::<_, r::DomainRet>(proc_, a)
            .map(|r| dom_in(r.dom))
    }

    fn df(d: &DomainRef, flags: u32) -> r::DomainFlagsArgs {
        r::DomainFlagsArgs { dom: dom(d), flags }
    }

    fn da(d: &DomainRef) -> r::DomainArgs {
        r::DomainArgs { dom: dom(d) }
    }

    /// A typed-parameter getter: nparams 0 is the count alone, a negative
    /// one the count then the values, as libvirt's API layer does. Strings
    /// are allowed, as the API layer adds VIR_TYPED_PARAM_STRING_OKAY.
    fn params_two_step(
        &self,
        nparams: i32,
        f: impl Fn(i32) -> Result<r::ParamsCountRet>,
    ) -> Result<Vec<TypedParam>> {
        if nparams == 0 {
            // The count alone, as the trait asks.
            let n = f(0)?.nparams.max(0) as usize;
            return Ok(vec![TypedParam::new("", TypedValue::Int(0)); n]);
        }
        let n = if nparams > 0 { nparams } else { f(0)?.nparams };
        if n <= 0 {
            return Ok(Vec::new());
        }
        Ok(params_in(f(n)?.params))
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
        let ask = |nparams: u32, ncpus: u32| -> Result<r::DomainGetCpuStatsRet> {
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
            let r: r::DomainGetCpuStatsRet = self.call(
                p::DOMAIN_GET_CPU_STATS,
                &r::DomainGetCpuStatsArgs {
                    dom: dom(d),
                    nparams,
                    start_cpu,
                    ncpus,
                    flags,
                },
            )?;
            let len = r.params.len();
            if len > (nparams as usize) * (ncpus as usize)
                || (len > 0
                    && (r.nparams <= 0
                        || r.nparams as u32 > nparams
                        || !len.is_multiple_of(r.nparams as usize)))
            {
                return Err(exceeds());
            }
            Ok(r)
        };
        if ncpus == 0 {
            let n = ask(0, 0)?.nparams;
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
            let n = ask(0, ncpus)?.nparams;
            if n <= 0 {
                return Ok(Vec::new());
            }
            (n as u32).min(max::NODE_CPU_STATS as u32)
        };
        let r = ask(nparams, ncpus)?;
        if r.params.is_empty() {
            return Ok(Vec::new());
        }
        let stride = r.nparams as usize;
        let mut params = params_in(r.params).into_iter();
        let mut out = Vec::new();
        loop {
            let cpu: Vec<TypedParam> = params.by_ref().take(stride).collect();
            if cpu.is_empty() {
                break;
            }
            out.push(cpu);
        }
        Ok(out)
    }

    /// A call that opens a stream: its reply and the stream.
    fn open_stream<A: Xdr, R: Xdr>(
        &self,
        proc_: i32,
        args: &A,
        duplex: bool,
    ) -> Result<(R, Box<dyn Stream>)> {
        let (r, serial, rx) = self.client.call_stream(proc_, args)?;
        let st = RemoteStream::new(Arc::clone(&self.client), proc_, serial, rx, duplex);
        Ok((r, Box::new(st)))
    }

    fn vol_stream(
        &self,
        proc_: i32,
        v: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<Box<dyn Stream>> {
        self.open_stream::<_, ()>(
            proc_,
            &r::VolTransferArgs {
                vol: vol(v),
                offset,
                length,
                flags,
            },
            false,
        )
        .map(|(_, st)| st)
    }

    fn register(&self, proc_: i32, args: &impl Xdr, cb: EventCallback, api: &str) -> Result<i32> {
        if !self.event_callbacks {
            return Err(Error::no_support(api));
        }
        let id = self.int(proc_, args)?;
        self.client.add_callback(id, cb);
        Ok(id)
    }

    fn deregister(&self, proc_: i32, id: i32, what: &str) -> Result<()> {
        if !self.client.has_callback(id) {
            return Err(Error::invalid_arg(
                from::NONE,
                format!("{} event callback {} not registered", what, id),
            ));
        }
        self.unit(proc_, &r::IntArgs { value: id })?;
        self.client.remove_callback(id);
        Ok(())
    }
}

impl Drop for RemoteConnection {
    fn drop(&mut self) {
        let _ = self.close();
        self.client.shutdown();
    }
}

impl HypervisorDriver for RemoteConnection {
    fn get_type(&self) -> Result<String> {
        self.string(p::CONNECT_GET_TYPE, &())
    }
    fn get_version(&self) -> Result<u64> {
        self.uhyper(p::CONNECT_GET_VERSION, &())
    }
    fn get_lib_version(&self) -> Result<u64> {
        self.uhyper(p::CONNECT_GET_LIB_VERSION, &())
    }
    fn hostname(&self) -> Result<String> {
        self.string(p::CONNECT_GET_HOSTNAME, &())
    }
    fn sysinfo(&self, flags: u32) -> Result<String> {
        self.string(p::CONNECT_GET_SYSINFO, &r::FlagsArgs { flags })
    }
    fn capabilities(&self) -> Result<String> {
        self.string(p::CONNECT_GET_CAPABILITIES, &())
    }
    fn domain_xml_to_native(&self, format: &str, xml: &str, flags: u32) -> Result<String> {
        self.string(
            p::CONNECT_DOMAIN_XML_TO_NATIVE,
            &r::ConnectDomainXmlNativeArgs {
                format: format.into(),
                data: xml.into(),
                flags,
            },
        )
    }
    fn domain_xml_from_native(&self, format: &str, config: &str, flags: u32) -> Result<String> {
        self.string(
            p::CONNECT_DOMAIN_XML_FROM_NATIVE,
            &r::ConnectDomainXmlNativeArgs {
                format: format.into(),
                data: config.into(),
                flags,
            },
        )
    }
    fn domain_capabilities(
        &self,
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        self.string(
            p::CONNECT_GET_DOMAIN_CAPABILITIES,
            &r::ConnectGetDomainCapabilitiesArgs {
                emulatorbin: emulator.map(str::to_string),
                arch: arch.map(str::to_string),
                machine: machine.map(str::to_string),
                virttype: virttype.map(str::to_string),
                flags,
            },
        )
    }
    fn node_info(&self) -> Result<NodeInfo> {
        let n: r::NodeGetInfoRet = self.call(p::NODE_GET_INFO, &())?;
        Ok(NodeInfo {
            model: n.model.to_text(),
            memory: n.memory,
            cpus: n.cpus as u32,
            mhz: n.mhz as u32,
            nodes: n.nodes as u32,
            sockets: n.sockets as u32,
            cores: n.cores as u32,
            threads: n.threads as u32,
        })
    }
    fn max_vcpus(&self, kind: Option<&str>) -> Result<i32> {
        self.int(
            p::CONNECT_GET_MAX_VCPUS,
            &r::OptStringArgs {
                value: kind.map(str::to_string),
            },
        )
    }
    fn cells_free_memory(&self, start: i32, max: i32) -> Result<Vec<u64>> {
        let r: r::NodeGetCellsFreeMemoryRet = self.call(
            p::NODE_GET_CELLS_FREE_MEMORY,
            &r::NodeGetCellsFreeMemoryArgs {
                start_cell: start,
                maxcells: max,
            },
        )?;
        Ok(r.cells)
    }
    fn free_memory(&self) -> Result<u64> {
        self.uhyper(p::NODE_GET_FREE_MEMORY, &())
    }
    fn node_cpu_map(&self, flags: u32) -> Result<(Vec<u8>, u32, i32)> {
        let r: r::NodeGetCpuMapRet = self.call(
            p::NODE_GET_CPU_MAP,
            &r::NodeGetCpuMapArgs {
                need_map: 1,
                need_online: 1,
                flags,
            },
        )?;
        Ok((r.cpumap.0, r.online, r.ret))
    }
    fn node_free_pages(
        &self,
        pages: &[u32],
        start_cell: i32,
        cell_count: u32,
        flags: u32,
    ) -> Result<Vec<u64>> {
        let ret: r::NodeGetFreePagesRet = self.call(
            p::NODE_GET_FREE_PAGES,
            &r::NodeGetFreePagesArgs {
                pages: pages.to_vec(),
                start_cell,
                cell_count,
                flags,
            },
        )?;
        Ok(ret.counts)
    }
    fn cpu_model_names(&self, arch: &str, flags: u32) -> Result<Vec<String>> {
        let ret: r::ConnectGetCpuModelNamesRet = self.call(
            p::CONNECT_GET_CPU_MODEL_NAMES,
            &r::ConnectGetCpuModelNamesArgs {
                arch: arch.to_string(),
                need_results: 1,
                flags,
            },
        )?;
        Ok(ret.models)
    }
    fn baseline_cpu(&self, cpus: &[String], flags: u32) -> Result<String> {
        let ret: r::StringRet = self.call(
            p::CONNECT_BASELINE_CPU,
            &r::ConnectBaselineCpuArgs {
                xml_cpus: cpus.to_vec(),
                flags,
            },
        )?;
        Ok(ret.value)
    }
    fn node_cpu_stats(&self, cpu: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        let q = |nparams| -> Result<r::NodeStatsRet> {
            self.call(
                p::NODE_GET_CPU_STATS,
                &r::NodeGetCpuStatsArgs {
                    cpu_num: cpu,
                    nparams,
                    flags,
                },
            )
        };
        let n = q(0)?.nparams;
        if n <= 0 {
            return Ok(Vec::new());
        }
        Ok(q(n)?
            .params
            .into_iter()
            .map(|s| (s.field, s.value))
            .collect())
    }
    fn node_memory_stats(&self, cell: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        let q = |nparams| -> Result<r::NodeStatsRet> {
            self.call(
                p::NODE_GET_MEMORY_STATS,
                &r::NodeGetMemoryStatsArgs {
                    nparams,
                    cell_num: cell,
                    flags,
                },
            )
        };
        let n = q(0)?.nparams;
        if n <= 0 {
            return Ok(Vec::new());
        }
        Ok(q(n)?
            .params
            .into_iter()
            .map(|s| (s.field, s.value))
            .collect())
    }
    fn security_model(&self) -> Result<SecurityModel> {
        let m: r::NodeGetSecurityModelRet = self.call(p::NODE_GET_SECURITY_MODEL, &())?;
        Ok(SecurityModel {
            model: m.model.to_text(),
            doi: m.doi.to_text(),
        })
    }
    fn is_secure(&self) -> Result<bool> {
        Ok(self.boolean(p::CONNECT_IS_SECURE, &())? && self.secure)
    }
    /// As libvirt's client: an encrypted transport to a connection the
    /// daemon calls secure.
    fn is_encrypted(&self) -> Result<bool> {
        Ok(self.boolean(p::CONNECT_IS_SECURE, &())? && self.encrypted)
    }
    fn close(&self) -> Result<()> {
        if self.client.is_dead() {
            return Ok(());
        }
        let r = self
            .client
            .call_timeout(p::CONNECT_CLOSE, &(), Duration::from_secs(5));
        self.client.shutdown();
        r
    }

    // ---- domains: listing and lookup --------------------------------
    fn list_all_domains(&self, flags: u32) -> Result<Vec<DomainRef>> {
        let r: r::ListAllDomainsRet = self.call(
            p::CONNECT_LIST_ALL_DOMAINS,
            &r::ListAllArgs {
                need_results: 1,
                flags,
            },
        )?;
        Ok(r.domains.into_iter().map(dom_in).collect())
    }
    fn lookup_domain_by_id(&self, id: i32) -> Result<DomainRef> {
        self.domain(p::DOMAIN_LOOKUP_BY_ID, &r::IntArgs { value: id })
    }
    fn lookup_domain_by_name(&self, name: &str) -> Result<DomainRef> {
        self.domain(
            p::DOMAIN_LOOKUP_BY_NAME,
            &r::StringArgs {
                value: name.to_string(),
            },
        )
    }
    fn lookup_domain_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.domain(p::DOMAIN_LOOKUP_BY_UUID, &r::UuidArgs { uuid: uuid.0 })
    }

    // ---- domains: lifecycle -----------------------------------------
    fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        if flags == 0 {
            self.domain(
                p::DOMAIN_DEFINE_XML,
                &r::StringArgs {
                    value: xml.to_string(),
                },
            )
        } else {
            self.domain(
                p::DOMAIN_DEFINE_XML_FLAGS,
                &r::StringFlagsArgs {
                    value: xml.to_string(),
                    flags,
                },
            )
        }
    }
    fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        self.domain(
            p::DOMAIN_CREATE_XML,
            &r::StringFlagsArgs {
                value: xml.to_string(),
                flags,
            },
        )
    }
    fn domain_undefine(&self, d: &DomainRef, flags: u32) -> Result<()> {
        self.unit(p::DOMAIN_UNDEFINE_FLAGS, &Self::df(d, flags))
    }
    fn domain_create(&self, d: &DomainRef, flags: u32) -> Result<DomainRef> {
        self.domain(p::DOMAIN_CREATE_WITH_FLAGS, &Self::df(d, flags))
    }
    fn domain_destroy(&self, d: &DomainRef, flags: u32) -> Result<()> {
        if flags == 0 {
            self.unit(p::DOMAIN_DESTROY, &Self::da(d))
        } else {
            self.unit(p::DOMAIN_DESTROY_FLAGS, &Self::df(d, flags))
        }
    }
    fn domain_shutdown(&self, d: &DomainRef, flags: u32) -> Result<()> {
        if flags == 0 {
            self.unit(p::DOMAIN_SHUTDOWN, &Self::da(d))
        } else {
            self.unit(p::DOMAIN_SHUTDOWN_FLAGS, &Self::df(d, flags))
        }
    }
    fn domain_reboot(&self, d: &DomainRef, flags: u32) -> Result<()> {
        self.unit(p::DOMAIN_REBOOT, &Self::df(d, flags))
    }
    fn domain_reset(&self, d: &DomainRef, flags: u32) -> Result<()> {
        self.unit(p::DOMAIN_RESET, &Self::df(d, flags))
    }
    fn domain_suspend(&self, d: &DomainRef) -> Result<()> {
        self.unit(p::DOMAIN_SUSPEND, &Self::da(d))
    }
    fn domain_resume(&self, d: &DomainRef) -> Result<()> {
        self.unit(p::DOMAIN_RESUME, &Self::da(d))
    }
    fn domain_pm_suspend(
        &self,
        d: &DomainRef,
        target: u32,
        duration: u64,
        flags: u32,
    ) -> Result<()> {
        self.unit(
            p::DOMAIN_PM_SUSPEND_FOR_DURATION,
            &r::DomainPmSuspendArgs {
                dom: dom(d),
                target,
                duration,
                flags,
            },
        )
    }
    fn domain_pm_wakeup(&self, d: &DomainRef, flags: u32) -> Result<()> {
        self.unit(p::DOMAIN_PM_WAKEUP, &Self::df(d, flags))
    }
    fn domain_screenshot(
        &self,
        d: &DomainRef,
        screen: u32,
        flags: u32,
    ) -> Result<(String, Box<dyn Stream>)> {
        let (r, st) = self.open_stream::<_, r::DomainScreenshotRet>(
            p::DOMAIN_SCREENSHOT,
            &r::DomainScreenshotArgs {
                dom: dom(d),
                screen,
                flags,
            },
            false,
        )?;
        Ok((r.mime.unwrap_or_default(), st))
    }
    fn domain_open_console(
        &self,
        d: &DomainRef,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<Box<dyn Stream>> {
        self.open_stream::<_, ()>(
            p::DOMAIN_OPEN_CONSOLE,
            &r::DomainOpenConsoleArgs {
                dom: dom(d),
                dev_name: dev_name.map(str::to_string),
                flags,
            },
            true,
        )
        .map(|(_, st)| st)
    }
    fn domain_inject_nmi(&self, d: &DomainRef, flags: u32) -> Result<()> {
        self.unit(p::DOMAIN_INJECT_NMI, &Self::df(d, flags))
    }
    fn domain_send_key(
        &self,
        d: &DomainRef,
        codeset: u32,
        holdtime: u32,
        keys: &[u32],
        flags: u32,
    ) -> Result<()> {
        self.unit(
            p::DOMAIN_SEND_KEY,
            &r::DomainSendKeyArgs {
                dom: dom(d),
                codeset,
                holdtime,
                keycodes: keys.to_vec(),
                flags,
            },
        )
    }
    fn domain_save(&self, d: &DomainRef, to: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        if dxml.is_none() && flags == 0 {
            self.unit(
                p::DOMAIN_SAVE,
                &r::DomainStringArgs {
                    dom: dom(d),
                    value: to.to_string(),
                },
            )
        } else {
            self.unit(
                p::DOMAIN_SAVE_FLAGS,
                &r::DomainSaveFlagsArgs {
                    dom: dom(d),
                    to: to.to_string(),
                    dxml: dxml.map(str::to_string),
                    flags,
                },
            )
        }
    }
    fn domain_restore(&self, from_: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        if dxml.is_none() && flags == 0 {
            self.unit(
                p::DOMAIN_RESTORE,
                &r::StringArgs {
                    value: from_.to_string(),
                },
            )
        } else {
            self.unit(
                p::DOMAIN_RESTORE_FLAGS,
                &r::DomainRestoreFlagsArgs {
                    from: from_.to_string(),
                    dxml: dxml.map(str::to_string),
                    flags,
                },
            )
        }
    }
    fn domain_save_image_get_xml_desc(&self, file: &str, flags: u32) -> Result<String> {
        self.string(
            p::DOMAIN_SAVE_IMAGE_GET_XML_DESC,
            &r::StringFlagsArgs {
                value: file.to_string(),
                flags,
            },
        )
    }
    fn domain_save_image_define_xml(&self, file: &str, dxml: &str, flags: u32) -> Result<()> {
        self.unit(
            p::DOMAIN_SAVE_IMAGE_DEFINE_XML,
            &r::SaveImageDefineXmlArgs {
                file: file.to_string(),
                dxml: dxml.to_string(),
                flags,
            },
        )
    }
    fn domain_core_dump(&self, d: &DomainRef, to: &str, format: u32, flags: u32) -> Result<()> {
        if format == 0 {
            self.unit(
                p::DOMAIN_CORE_DUMP,
                &r::DomainCoreDumpArgs {
                    dom: dom(d),
                    to: to.to_string(),
                    flags,
                },
            )
        } else {
            self.unit(
                p::DOMAIN_CORE_DUMP_WITH_FORMAT,
                &r::DomainCoreDumpWithFormatArgs {
                    dom: dom(d),
                    to: to.to_string(),
                    dumpformat: format,
                    flags,
                },
            )
        }
    }
    fn domain_managed_save(&self, d: &DomainRef, flags: u32) -> Result<()> {
        self.unit(p::DOMAIN_MANAGED_SAVE, &Self::df(d, flags))
    }
    fn domain_has_managed_save(&self, d: &DomainRef, flags: u32) -> Result<bool> {
        self.boolean(p::DOMAIN_HAS_MANAGED_SAVE_IMAGE, &Self::df(d, flags))
    }
    fn domain_managed_save_remove(&self, d: &DomainRef, flags: u32) -> Result<()> {
        self.unit(p::DOMAIN_MANAGED_SAVE_REMOVE, &Self::df(d, flags))
    }
    fn domain_managed_save_get_xml_desc(&self, d: &DomainRef, flags: u32) -> Result<String> {
        self.string(p::DOMAIN_MANAGED_SAVE_GET_XML_DESC, &Self::df(d, flags))
    }
    fn domain_managed_save_define_xml(&self, d: &DomainRef, dxml: &str, flags: u32) -> Result<()> {
        self.unit(
            p::DOMAIN_MANAGED_SAVE_DEFINE_XML,
            &r::ManagedSaveDefineXmlArgs {
                dom: dom(d),
                dxml: Some(dxml.to_string()),
                flags,
            },
        )
    }
    fn domain_rename(&self, d: &DomainRef, new_name: &str, flags: u32) -> Result<()> {
        self.int(
            p::DOMAIN_RENAME,
            &r::DomainRenameArgs {
                dom: dom(d),
                new_name: Some(new_name.to_string()),
                flags,
            },
        )
        .map(|_| ())
    }

    // ---- domains: state and description -----------------------------
    fn domain_get_xml_desc(&self, d: &DomainRef, flags: u32) -> Result<String> {
        self.string(p::DOMAIN_GET_XML_DESC, &Self::df(d, flags))
    }
    fn domain_get_info(&self, d: &DomainRef) -> Result<DomainInfo> {
        let i: r::DomainGetInfoRet = self.call(p::DOMAIN_GET_INFO, &Self::da(d))?;
        Ok(DomainInfo {
            state: DomainState::from_i32(i.state as i32).unwrap_or_default(),
            max_mem: i.max_mem,
            memory: i.memory,
            nr_virt_cpu: i.nr_virt_cpu as u16,
            cpu_time: i.cpu_time,
        })
    }
    fn domain_get_state(&self, d: &DomainRef, flags: u32) -> Result<(i32, i32)> {
        let s: r::DomainGetStateRet = self.call(p::DOMAIN_GET_STATE, &Self::df(d, flags))?;
        Ok((s.state, s.reason))
    }
    fn domain_get_control_info(&self, d: &DomainRef, flags: u32) -> Result<ControlInfo> {
        let i: r::DomainGetControlInfoRet =
            self.call(p::DOMAIN_GET_CONTROL_INFO, &Self::df(d, flags))?;
        Ok(ControlInfo {
            state: i.state,
            details: i.details,
            state_time: i.state_time,
        })
    }
    fn domain_get_os_type(&self, d: &DomainRef) -> Result<String> {
        self.string(p::DOMAIN_GET_OS_TYPE, &Self::da(d))
    }
    fn domain_get_max_memory(&self, d: &DomainRef) -> Result<u64> {
        self.uhyper(p::DOMAIN_GET_MAX_MEMORY, &Self::da(d))
    }
    fn domain_get_autostart(&self, d: &DomainRef) -> Result<bool> {
        self.boolean(p::DOMAIN_GET_AUTOSTART, &Self::da(d))
    }
    fn domain_set_autostart(&self, d: &DomainRef, autostart: bool) -> Result<()> {
        self.unit(
            p::DOMAIN_SET_AUTOSTART,
            &r::DomainIntArgs {
                dom: dom(d),
                value: autostart as i32,
            },
        )
    }
    fn domain_is_active(&self, d: &DomainRef) -> Result<bool> {
        self.boolean(p::DOMAIN_IS_ACTIVE, &Self::da(d))
    }
    fn domain_is_persistent(&self, d: &DomainRef) -> Result<bool> {
        self.boolean(p::DOMAIN_IS_PERSISTENT, &Self::da(d))
    }
    fn domain_is_updated(&self, d: &DomainRef) -> Result<bool> {
        self.boolean(p::DOMAIN_IS_UPDATED, &Self::da(d))
    }
    fn domain_get_security_label(&self, d: &DomainRef) -> Result<SecurityLabel> {
        let l: r::DomainGetSecurityLabelRet =
            self.call(p::DOMAIN_GET_SECURITY_LABEL, &Self::da(d))?;
        Ok(SecurityLabel {
            label: l.label.to_text(),
            enforcing: l.enforcing != 0,
        })
    }
    fn domain_get_messages(&self, d: &DomainRef, flags: u32) -> Result<Vec<String>> {
        let m: r::DomainGetMessagesRet = self.call(p::DOMAIN_GET_MESSAGES, &Self::df(d, flags))?;
        Ok(m.msgs)
    }
    fn domain_get_metadata(
        &self,
        d: &DomainRef,
        kind: i32,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        self.string(
            p::DOMAIN_GET_METADATA,
            &r::DomainGetMetadataArgs {
                dom: dom(d),
                kind,
                uri: uri.map(str::to_string),
                flags,
            },
        )
    }
    fn domain_set_metadata(
        &self,
        d: &DomainRef,
        kind: i32,
        metadata: Option<&str>,
        key: Option<&str>,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        self.unit(
            p::DOMAIN_SET_METADATA,
            &r::DomainSetMetadataArgs {
                dom: dom(d),
                kind,
                metadata: metadata.map(str::to_string),
                key: key.map(str::to_string),
                uri: uri.map(str::to_string),
                flags,
            },
        )
    }
    fn domain_get_hostname(&self, d: &DomainRef, flags: u32) -> Result<String> {
        self.string(p::DOMAIN_GET_HOSTNAME, &Self::df(d, flags))
    }
    fn domain_get_time(&self, d: &DomainRef, flags: u32) -> Result<(i64, u32)> {
        let t: r::DomainGetTimeRet = self.call(p::DOMAIN_GET_TIME, &Self::df(d, flags))?;
        Ok((t.seconds, t.nseconds))
    }
    fn domain_set_time(
        &self,
        d: &DomainRef,
        seconds: i64,
        nseconds: u32,
        flags: u32,
    ) -> Result<()> {
        self.unit(
            p::DOMAIN_SET_TIME,
            &r::DomainSetTimeArgs {
                dom: dom(d),
                seconds,
                nseconds,
                flags,
            },
        )
    }
    fn domain_send_process_signal(
        &self,
        d: &DomainRef,
        pid: i64,
        signum: u32,
        flags: u32,
    ) -> Result<()> {
        self.unit(
            p::DOMAIN_SEND_PROCESS_SIGNAL,
            &r::DomainSendProcessSignalArgs {
                dom: dom(d),
                pid_value: pid,
                signum,
                flags,
            },
        )
    }
    fn domain_set_user_password(
        &self,
        d: &DomainRef,
        user: &str,
        password: &str,
        flags: u32,
    ) -> Result<()> {
        self.unit(
            p::DOMAIN_SET_USER_PASSWORD,
            &r::DomainSetUserPasswordArgs {
                dom: dom(d),
                user: Some(user.to_string()),
                password: Some(password.to_string()),
                flags,
            },
        )
    }
    fn domain_fs_freeze(&self, d: &DomainRef, mountpoints: &[String], flags: u32) -> Result<i32> {
        self.int(
            p::DOMAIN_FSFREEZE,
            &r::DomainFsFreezeArgs {
                dom: dom(d),
                mountpoints: mountpoints.to_vec(),
                flags,
            },
        )
    }
    fn domain_fs_thaw(&self, d: &DomainRef, mountpoints: &[String], flags: u32) -> Result<i32> {
        self.int(
            p::DOMAIN_FSTHAW,
            &r::DomainFsFreezeArgs {
                dom: dom(d),
                mountpoints: mountpoints.to_vec(),
                flags,
            },
        )
    }
    fn domain_fs_trim(
        &self,
        d: &DomainRef,
        mountpoint: Option<&str>,
        minimum: u64,
        flags: u32,
    ) -> Result<()> {
        self.unit(
            p::DOMAIN_FSTRIM,
            &r::DomainFsTrimArgs {
                dom: dom(d),
                mount_point: mountpoint.map(str::to_string),
                minimum,
                flags,
            },
        )
    }
    fn domain_get_fs_info(&self, d: &DomainRef, flags: u32) -> Result<Vec<FsInfo>> {
        let r: r::DomainGetFsInfoRet = self.call(p::DOMAIN_GET_FSINFO, &Self::df(d, flags))?;
        Ok(r.info
            .into_iter()
            .map(|fs| FsInfo {
                mountpoint: fs.mountpoint,
                name: fs.name,
                fstype: fs.fstype,
                dev_aliases: fs.dev_aliases,
            })
            .collect())
    }
    fn domain_get_disk_errors(&self, d: &DomainRef, flags: u32) -> Result<Vec<(String, i32)>> {
        // As virsh: how many first, then that many.
        let ask = |maxerrors: u32| -> Result<r::DomainGetDiskErrorsRet> {
            self.call(
                p::DOMAIN_GET_DISK_ERRORS,
                &r::DomainGetDiskErrorsArgs {
                    dom: dom(d),
                    maxerrors,
                    flags,
                },
            )
        };
        let n = ask(0)?.nerrors;
        if n <= 0 {
            return Ok(Vec::new());
        }
        let maxerrors = (n as usize).min(max::DOMAIN_DISK_ERRORS) as u32;
        let r = ask(maxerrors)?;
        if r.errors.len() > maxerrors as usize {
            return Err(Error::raw(
                code::RPC,
                from::REMOTE,
                "returned number of disk errors exceeds limit",
            ));
        }
        Ok(r.errors.into_iter().map(|e| (e.disk, e.error)).collect())
    }
    fn domain_get_launch_security_info(
        &self,
        d: &DomainRef,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        // The API layer allows strings when the daemon can send them.
        let r: r::DomainGetLaunchSecurityInfoRet = self.call(
            p::DOMAIN_GET_LAUNCH_SECURITY_INFO,
            &Self::df(d, flags | STRING_OKAY),
        )?;
        Ok(params_in(r.params))
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

    // ---- domains: resources -----------------------------------------
    fn domain_set_memory(&self, d: &DomainRef, kib: u64, flags: u32) -> Result<()> {
        self.unit(
            p::DOMAIN_SET_MEMORY_FLAGS,
            &r::DomainUHyperFlagsArgs {
                dom: dom(d),
                value: kib,
                flags,
            },
        )
    }
    fn domain_set_memory_stats_period(&self, d: &DomainRef, period: i32, flags: u32) -> Result<()> {
        self.unit(
            p::DOMAIN_SET_MEMORY_STATS_PERIOD,
            &r::DomainIntFlagsArgs {
                dom: dom(d),
                value: period,
                flags,
            },
        )
    }
    fn domain_set_vcpus(&self, d: &DomainRef, n: u32, flags: u32) -> Result<()> {
        self.unit(
            p::DOMAIN_SET_VCPUS_FLAGS,
            &r::DomainUIntFlagsArgs {
                dom: dom(d),
                value: n,
                flags,
            },
        )
    }
    fn domain_get_vcpus_flags(&self, d: &DomainRef, flags: u32) -> Result<i32> {
        self.int(p::DOMAIN_GET_VCPUS_FLAGS, &Self::df(d, flags))
    }
    fn domain_get_max_vcpus(&self, d: &DomainRef) -> Result<i32> {
        self.int(p::DOMAIN_GET_MAX_VCPUS, &Self::da(d))
    }
    fn domain_get_vcpus(
        &self,
        d: &DomainRef,
        maxinfo: i32,
        maplen: i32,
    ) -> Result<(Vec<VcpuInfo>, Vec<u8>)> {
        let v: r::DomainGetVcpusRet = self.call(
            p::DOMAIN_GET_VCPUS,
            &r::DomainGetVcpusArgs {
                dom: dom(d),
                maxinfo,
                maplen,
            },
        )?;
        Ok((
            v.info
                .into_iter()
                .map(|i| VcpuInfo {
                    number: i.number,
                    state: i.state,
                    cpu_time: i.cpu_time,
                    cpu: i.cpu,
                })
                .collect(),
            v.cpumaps.0,
        ))
    }
    fn domain_pin_vcpu(&self, d: &DomainRef, vcpu: u32, cpumap: &[u8], flags: u32) -> Result<()> {
        self.unit(
            p::DOMAIN_PIN_VCPU_FLAGS,
            &r::DomainPinArgs {
                dom: dom(d),
                which: vcpu,
                cpumap: Opaque(cpumap.to_vec()),
                flags,
            },
        )
    }
    fn domain_get_vcpu_pin_info(
        &self,
        d: &DomainRef,
        ncpumaps: i32,
        maplen: i32,
        flags: u32,
    ) -> Result<(Vec<u8>, i32)> {
        let c: r::CpumapsRet = self.call(
            p::DOMAIN_GET_VCPU_PIN_INFO,
            &r::DomainGetVcpuPinInfoArgs {
                dom: dom(d),
                ncpumaps,
                maplen,
                flags,
            },
        )?;
        Ok((c.cpumaps.0, c.num))
    }
    fn domain_pin_emulator(&self, d: &DomainRef, cpumap: &[u8], flags: u32) -> Result<()> {
        self.unit(
            p::DOMAIN_PIN_EMULATOR,
            &r::DomainPinEmulatorArgs {
                dom: dom(d),
                cpumap: Opaque(cpumap.to_vec()),
                flags,
            },
        )
    }
    fn domain_get_emulator_pin_info(
        &self,
        d: &DomainRef,
        maplen: i32,
        flags: u32,
    ) -> Result<(Vec<u8>, i32)> {
        let c: r::CpumapsRet = self.call(
            p::DOMAIN_GET_EMULATOR_PIN_INFO,
            &r::DomainIntFlagsArgs {
                dom: dom(d),
                value: maplen,
                flags,
            },
        )?;
        Ok((c.cpumaps.0, c.num))
    }
    fn domain_get_scheduler_type(&self, d: &DomainRef) -> Result<(String, i32)> {
        let t: r::DomainGetSchedulerTypeRet =
            self.call(p::DOMAIN_GET_SCHEDULER_TYPE, &Self::da(d))?;
        Ok((t.kind, t.nparams))
    }
    fn domain_get_scheduler_parameters(
        &self,
        d: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        // virsh's choice: the flag-less procedure when no flags are given.
        // Scheduler parameters are never strings (no STRING_OKAY).
        let r: r::TypedParamsRet = if flags == 0 {
            self.call(
                p::DOMAIN_GET_SCHEDULER_PARAMETERS,
                &r::DomainIntArgs {
                    dom: dom(d),
                    value: nparams,
                },
            )?
        } else {
            self.call(
                p::DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS,
                &r::DomainGetParamsArgs {
                    dom: dom(d),
                    nparams,
                    flags,
                },
            )?
        };
        Ok(params_in(r.params))
    }
    fn domain_set_scheduler_parameters(
        &self,
        d: &DomainRef,
        ps: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        if flags == 0 {
            self.unit(
                p::DOMAIN_SET_SCHEDULER_PARAMETERS,
                &r::DomainParamsArgs {
                    dom: dom(d),
                    params: params(ps),
                },
            )
        } else {
            self.unit(
                p::DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS,
                &r::DomainSetParamsArgs {
                    dom: dom(d),
                    params: params(ps),
                    flags,
                },
            )
        }
    }
    fn domain_get_blkio_parameters(
        &self,
        d: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.get_params(p::DOMAIN_GET_BLKIO_PARAMETERS, d, nparams, flags)
    }
    fn domain_set_blkio_parameters(
        &self,
        d: &DomainRef,
        ps: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.set_params(p::DOMAIN_SET_BLKIO_PARAMETERS, d, ps, flags)
    }
    fn domain_get_memory_parameters(
        &self,
        d: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.get_params(p::DOMAIN_GET_MEMORY_PARAMETERS, d, nparams, flags)
    }
    fn domain_set_memory_parameters(
        &self,
        d: &DomainRef,
        ps: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.set_params(p::DOMAIN_SET_MEMORY_PARAMETERS, d, ps, flags)
    }
    fn domain_get_numa_parameters(
        &self,
        d: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.get_params(p::DOMAIN_GET_NUMA_PARAMETERS, d, nparams, flags)
    }
    fn domain_set_numa_parameters(
        &self,
        d: &DomainRef,
        ps: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.set_params(p::DOMAIN_SET_NUMA_PARAMETERS, d, ps, flags)
    }
    fn domain_get_perf_events(&self, d: &DomainRef, flags: u32) -> Result<Vec<TypedParam>> {
        let r: r::TypedParamsRet = self.call(p::DOMAIN_GET_PERF_EVENTS, &Self::df(d, flags))?;
        Ok(params_in(r.params))
    }
    fn domain_set_perf_events(&self, d: &DomainRef, ps: &[TypedParam], flags: u32) -> Result<()> {
        self.set_params(p::DOMAIN_SET_PERF_EVENTS, d, ps, flags)
    }
    fn domain_set_lifecycle_action(
        &self,
        d: &DomainRef,
        kind: u32,
        action: u32,
        flags: u32,
    ) -> Result<()> {
        self.unit(
            p::DOMAIN_SET_LIFECYCLE_ACTION,
            &r::DomainSetLifecycleActionArgs {
                dom: dom(d),
                kind,
                action,
                flags,
            },
        )
    }
    fn domain_get_block_io_tune(
        &self,
        d: &DomainRef,
        disk: Option<&str>,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.params_two_step(nparams, |n| {
            self.call(
                p::DOMAIN_GET_BLOCK_IO_TUNE,
                &r::DomainGetBlockIoTuneArgs {
                    dom: dom(d),
                    disk: disk.map(str::to_string),
                    nparams: n,
                    flags: flags | STRING_OKAY,
                },
            )
        })
    }
    fn domain_set_block_io_tune(
        &self,
        d: &DomainRef,
        disk: &str,
        ps: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.unit(
            p::DOMAIN_SET_BLOCK_IO_TUNE,
            &r::DomainDeviceSetParamsArgs {
                dom: dom(d),
                device: disk.to_string(),
                params: params(ps),
                flags,
            },
        )
    }
    fn domain_get_interface_parameters(
        &self,
        d: &DomainRef,
        device: &str,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.params_two_step(nparams, |n| {
            self.call(
                p::DOMAIN_GET_INTERFACE_PARAMETERS,
                &r::DomainDeviceGetParamsArgs {
                    dom: dom(d),
                    device: device.to_string(),
                    nparams: n,
                    flags: flags | STRING_OKAY,
                },
            )
        })
    }
    fn domain_set_interface_parameters(
        &self,
        d: &DomainRef,
        device: &str,
        ps: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.unit(
            p::DOMAIN_SET_INTERFACE_PARAMETERS,
            &r::DomainDeviceSetParamsArgs {
                dom: dom(d),
                device: device.to_string(),
                params: params(ps),
                flags,
            },
        )
    }
    fn domain_get_iothread_info(&self, d: &DomainRef, flags: u32) -> Result<Vec<IoThreadInfo>> {
        let r: r::DomainGetIothreadInfoRet =
            self.call(p::DOMAIN_GET_IOTHREAD_INFO, &Self::df(d, flags))?;
        Ok(r.info
            .into_iter()
            .map(|i| IoThreadInfo {
                iothread_id: i.iothread_id,
                cpumap: i.cpumap.0,
            })
            .collect())
    }
    fn domain_add_iothread(&self, d: &DomainRef, id: u32, flags: u32) -> Result<()> {
        self.unit(
            p::DOMAIN_ADD_IOTHREAD,
            &r::DomainUIntFlagsArgs {
                dom: dom(d),
                value: id,
                flags,
            },
        )
    }
    fn domain_del_iothread(&self, d: &DomainRef, id: u32, flags: u32) -> Result<()> {
        self.unit(
            p::DOMAIN_DEL_IOTHREAD,
            &r::DomainUIntFlagsArgs {
                dom: dom(d),
                value: id,
                flags,
            },
        )
    }
    fn domain_pin_iothread(&self, d: &DomainRef, id: u32, cpumap: &[u8], flags: u32) -> Result<()> {
        self.unit(
            p::DOMAIN_PIN_IOTHREAD,
            &r::DomainPinArgs {
                dom: dom(d),
                which: id,
                cpumap: Opaque(cpumap.to_vec()),
                flags,
            },
        )
    }
    fn domain_set_iothread_params(
        &self,
        d: &DomainRef,
        id: u32,
        ps: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.unit(
            p::DOMAIN_SET_IOTHREAD_PARAMS,
            &r::DomainSetIothreadParamsArgs {
                dom: dom(d),
                iothread_id: id,
                params: params(ps),
                flags,
            },
        )
    }

    // ---- domains: statistics ----------------------------------------
    fn domain_block_stats(&self, d: &DomainRef, path: &str) -> Result<BlockStats> {
        let s: r::DomainBlockStatsRet = self.call(
            p::DOMAIN_BLOCK_STATS,
            &r::DomainStringArgs {
                dom: dom(d),
                value: path.to_string(),
            },
        )?;
        Ok(BlockStats {
            rd_req: s.rd_req,
            rd_bytes: s.rd_bytes,
            wr_req: s.wr_req,
            wr_bytes: s.wr_bytes,
            errs: s.errs,
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
            self.call(
                p::DOMAIN_BLOCK_STATS_FLAGS,
                &r::DomainDeviceGetParamsArgs {
                    dom: dom(d),
                    device: path.to_string(),
                    nparams: n,
                    flags: flags | STRING_OKAY,
                },
            )
        })
    }
    fn domain_interface_stats(&self, d: &DomainRef, device: &str) -> Result<InterfaceStats> {
        let s: r::DomainInterfaceStatsRet = self.call(
            p::DOMAIN_INTERFACE_STATS,
            &r::DomainStringArgs {
                dom: dom(d),
                value: device.to_string(),
            },
        )?;
        Ok(InterfaceStats {
            rx_bytes: s.rx_bytes,
            rx_packets: s.rx_packets,
            rx_errs: s.rx_errs,
            rx_drop: s.rx_drop,
            tx_bytes: s.tx_bytes,
            tx_packets: s.tx_packets,
            tx_errs: s.tx_errs,
            tx_drop: s.tx_drop,
        })
    }
    fn domain_memory_stats(
        &self,
        d: &DomainRef,
        nr_stats: u32,
        flags: u32,
    ) -> Result<Vec<MemoryStat>> {
        let s: r::DomainMemoryStatsRet = self.call(
            p::DOMAIN_MEMORY_STATS,
            &r::DomainMemoryStatsArgs {
                dom: dom(d),
                max_stats: nr_stats,
                flags,
            },
        )?;
        Ok(s.stats
            .into_iter()
            .map(|m| MemoryStat {
                tag: m.tag,
                val: m.val,
            })
            .collect())
    }
    fn domain_get_block_info(&self, d: &DomainRef, path: &str, flags: u32) -> Result<BlockInfo> {
        let i: r::DomainGetBlockInfoRet = self.call(
            p::DOMAIN_GET_BLOCK_INFO,
            &r::DomainStringFlagsArgs {
                dom: dom(d),
                value: path.to_string(),
                flags,
            },
        )?;
        Ok(BlockInfo {
            capacity: i.capacity,
            allocation: i.allocation,
            physical: i.physical,
        })
    }
    fn domain_block_peek(
        &self,
        d: &DomainRef,
        disk: &str,
        offset: u64,
        size: u64,
        flags: u32,
    ) -> Result<Vec<u8>> {
        if size > r::max::DOMAIN_BLOCK_PEEK_BUFFER as u64 {
            return Err(Error::raw(
                code::RPC,
                from::RPC,
                "size > maximum buffer size",
            ));
        }
        let ret: r::DomainBlockPeekRet = self.call(
            p::DOMAIN_BLOCK_PEEK,
            &r::DomainBlockPeekArgs {
                dom: dom(d),
                path: disk.to_string(),
                offset,
                size: size as u32,
                flags,
            },
        )?;
        if ret.buffer.0.len() as u64 != size {
            return Err(Error::raw(
                code::RPC,
                from::RPC,
                "returned buffer is not same size as requested",
            ));
        }
        Ok(ret.buffer.0)
    }
    fn domain_block_resize(&self, d: &DomainRef, disk: &str, size: u64, flags: u32) -> Result<()> {
        self.unit(
            p::DOMAIN_BLOCK_RESIZE,
            &r::DomainBlockResizeArgs {
                dom: dom(d),
                disk: disk.to_string(),
                size,
                flags,
            },
        )
    }
    fn domain_migrate_set_max_speed(
        &self,
        d: &DomainRef,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        self.unit(
            p::DOMAIN_MIGRATE_SET_MAX_SPEED,
            &r::DomainUHyperFlagsArgs {
                dom: dom(d),
                value: bandwidth,
                flags,
            },
        )
    }
    fn domain_migrate_get_max_speed(&self, d: &DomainRef, flags: u32) -> Result<u64> {
        let ret: r::UHyperRet = self.call(p::DOMAIN_MIGRATE_GET_MAX_SPEED, &Self::df(d, flags))?;
        Ok(ret.value)
    }
    fn domain_get_job_info(&self, d: &DomainRef) -> Result<JobInfo> {
        let j: r::DomainGetJobInfoRet = self.call(p::DOMAIN_GET_JOB_INFO, &Self::da(d))?;
        Ok(JobInfo {
            job_type: j.job_type,
            time_elapsed: j.time_elapsed,
            time_remaining: j.time_remaining,
            data_total: j.data_total,
            data_processed: j.data_processed,
            data_remaining: j.data_remaining,
            mem_total: j.mem_total,
            mem_processed: j.mem_processed,
            mem_remaining: j.mem_remaining,
            file_total: j.file_total,
            file_processed: j.file_processed,
            file_remaining: j.file_remaining,
        })
    }
    fn domain_get_job_stats(&self, d: &DomainRef, flags: u32) -> Result<(i32, Vec<TypedParam>)> {
        let j: r::DomainGetJobStatsRet = self.call(p::DOMAIN_GET_JOB_STATS, &Self::df(d, flags))?;
        Ok((j.job_type, params_in(j.params)))
    }
    fn domain_abort_job(&self, d: &DomainRef) -> Result<()> {
        self.unit(p::DOMAIN_ABORT_JOB, &Self::da(d))
    }
    fn domain_interface_addresses(
        &self,
        d: &DomainRef,
        source: u32,
        flags: u32,
    ) -> Result<Vec<GuestInterface>> {
        let r: r::DomainInterfaceAddressesRet = self.call(
            p::DOMAIN_INTERFACE_ADDRESSES,
            &r::DomainInterfaceAddressesArgs {
                dom: dom(d),
                source,
                flags,
            },
        )?;
        Ok(r.ifaces
            .into_iter()
            .map(|i| GuestInterface {
                name: i.name,
                hwaddr: i.hwaddr,
                addrs: i
                    .addrs
                    .into_iter()
                    .map(|a| IpAddress {
                        kind: a.kind,
                        addr: a.addr,
                        prefix: a.prefix,
                    })
                    .collect(),
            })
            .collect())
    }
    fn get_all_domain_stats(
        &self,
        doms: Option<&[DomainRef]>,
        stats: u32,
        flags: u32,
    ) -> Result<Vec<(DomainRef, Vec<TypedParam>)>> {
        let r: r::ConnectGetAllDomainStatsRet = self.call(
            p::CONNECT_GET_ALL_DOMAIN_STATS,
            &r::ConnectGetAllDomainStatsArgs {
                doms: doms.unwrap_or_default().iter().map(dom).collect(),
                stats,
                flags,
            },
        )?;
        Ok(r.ret_stats
            .into_iter()
            .map(|s| (dom_in(s.dom), params_in(s.params)))
            .collect())
    }

    // ---- domains: devices -------------------------------------------
    fn domain_attach_device(&self, d: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        self.dsf(p::DOMAIN_ATTACH_DEVICE_FLAGS, d, xml, flags)
    }
    fn domain_detach_device(&self, d: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        self.dsf(p::DOMAIN_DETACH_DEVICE_FLAGS, d, xml, flags)
    }
    fn domain_attach_device_plain(&self, d: &DomainRef, xml: &str) -> Result<()> {
        self.unit(
            p::DOMAIN_ATTACH_DEVICE,
            &r::DomainStringArgs {
                dom: dom(d),
                value: xml.to_string(),
            },
        )
    }
    fn domain_detach_device_plain(&self, d: &DomainRef, xml: &str) -> Result<()> {
        self.unit(
            p::DOMAIN_DETACH_DEVICE,
            &r::DomainStringArgs {
                dom: dom(d),
                value: xml.to_string(),
            },
        )
    }
    fn domain_detach_device_alias(&self, d: &DomainRef, alias: &str, flags: u32) -> Result<()> {
        self.dsf(p::DOMAIN_DETACH_DEVICE_ALIAS, d, alias, flags)
    }
    fn domain_update_device(&self, d: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        self.dsf(p::DOMAIN_UPDATE_DEVICE_FLAGS, d, xml, flags)
    }

    // ---- snapshots ----------------------------------------------------
    fn snapshot_create_xml(&self, d: &DomainRef, xml: &str, flags: u32) -> Result<SnapshotRef> {
        self.snapshot(
            p::DOMAIN_SNAPSHOT_CREATE_XML,
            &r::DomainStringFlagsArgs {
                dom: dom(d),
                value: xml.to_string(),
                flags,
            },
        )
    }
    fn snapshot_get_xml_desc(&self, s: &SnapshotRef, flags: u32) -> Result<String> {
        self.string(p::DOMAIN_SNAPSHOT_GET_XML_DESC, &Self::sf(s, flags))
    }
    fn snapshot_num(&self, d: &DomainRef, flags: u32) -> Result<i32> {
        self.int(p::DOMAIN_SNAPSHOT_NUM, &Self::df(d, flags))
    }
    fn list_all_snapshots(&self, d: &DomainRef, flags: u32) -> Result<Vec<SnapshotRef>> {
        let r: r::ListAllSnapshotsRet = self.call(
            p::DOMAIN_LIST_ALL_SNAPSHOTS,
            &r::DomainListAllArgs {
                dom: dom(d),
                need_results: 1,
                flags,
            },
        )?;
        Ok(r.snapshots.into_iter().map(snap_in).collect())
    }
    fn snapshot_list_all_children(&self, s: &SnapshotRef, flags: u32) -> Result<Vec<SnapshotRef>> {
        let r: r::ListAllSnapshotsRet = self.call(
            p::DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN,
            &r::SnapshotListAllArgs {
                snap: snap(s),
                need_results: 1,
                flags,
            },
        )?;
        Ok(r.snapshots.into_iter().map(snap_in).collect())
    }
    fn snapshot_num_children(&self, s: &SnapshotRef, flags: u32) -> Result<i32> {
        self.int(p::DOMAIN_SNAPSHOT_NUM_CHILDREN, &Self::sf(s, flags))
    }
    fn snapshot_lookup_by_name(
        &self,
        d: &DomainRef,
        name: &str,
        flags: u32,
    ) -> Result<SnapshotRef> {
        self.snapshot(
            p::DOMAIN_SNAPSHOT_LOOKUP_BY_NAME,
            &r::DomainStringFlagsArgs {
                dom: dom(d),
                value: name.to_string(),
                flags,
            },
        )
    }
    fn has_current_snapshot(&self, d: &DomainRef, flags: u32) -> Result<bool> {
        self.boolean(p::DOMAIN_HAS_CURRENT_SNAPSHOT, &Self::df(d, flags))
    }
    fn snapshot_current(&self, d: &DomainRef, flags: u32) -> Result<SnapshotRef> {
        self.snapshot(p::DOMAIN_SNAPSHOT_CURRENT, &Self::df(d, flags))
    }
    fn snapshot_get_parent(&self, s: &SnapshotRef, flags: u32) -> Result<SnapshotRef> {
        self.snapshot(p::DOMAIN_SNAPSHOT_GET_PARENT, &Self::sf(s, flags))
    }
    fn snapshot_is_current(&self, s: &SnapshotRef, flags: u32) -> Result<bool> {
        self.boolean(p::DOMAIN_SNAPSHOT_IS_CURRENT, &Self::sf(s, flags))
    }
    fn snapshot_has_metadata(&self, s: &SnapshotRef, flags: u32) -> Result<bool> {
        self.boolean(p::DOMAIN_SNAPSHOT_HAS_METADATA, &Self::sf(s, flags))
    }
    fn snapshot_revert(&self, s: &SnapshotRef, flags: u32) -> Result<()> {
        self.unit(p::DOMAIN_REVERT_TO_SNAPSHOT, &Self::sf(s, flags))
    }
    fn snapshot_delete(&self, s: &SnapshotRef, flags: u32) -> Result<()> {
        self.unit(p::DOMAIN_SNAPSHOT_DELETE, &Self::sf(s, flags))
    }

    // ---- checkpoints --------------------------------------------------
    fn checkpoint_create_xml(&self, d: &DomainRef, xml: &str, flags: u32) -> Result<CheckpointRef> {
        self.checkpoint(
            p::DOMAIN_CHECKPOINT_CREATE_XML,
            &r::DomainStringFlagsArgs {
                dom: dom(d),
                value: xml.to_string(),
                flags,
            },
        )
    }
    fn checkpoint_get_xml_desc(&self, c: &CheckpointRef, flags: u32) -> Result<String> {
        self.string(p::DOMAIN_CHECKPOINT_GET_XML_DESC, &Self::cf(c, flags))
    }
    fn list_all_checkpoints(&self, d: &DomainRef, flags: u32) -> Result<Vec<CheckpointRef>> {
        let r: r::ListAllCheckpointsRet = self.call(
            p::DOMAIN_LIST_ALL_CHECKPOINTS,
            &r::DomainListAllArgs {
                dom: dom(d),
                need_results: 1,
                flags,
            },
        )?;
        Ok(r.checkpoints.into_iter().map(cp_in).collect())
    }
    fn checkpoint_list_all_children(
        &self,
        c: &CheckpointRef,
        flags: u32,
    ) -> Result<Vec<CheckpointRef>> {
        let r: r::ListAllCheckpointsRet = self.call(
            p::DOMAIN_CHECKPOINT_LIST_ALL_CHILDREN,
            &r::CheckpointListAllArgs {
                checkpoint: cp(c),
                need_results: 1,
                flags,
            },
        )?;
        Ok(r.checkpoints.into_iter().map(cp_in).collect())
    }
    fn checkpoint_lookup_by_name(
        &self,
        d: &DomainRef,
        name: &str,
        flags: u32,
    ) -> Result<CheckpointRef> {
        self.checkpoint(
            p::DOMAIN_CHECKPOINT_LOOKUP_BY_NAME,
            &r::DomainStringFlagsArgs {
                dom: dom(d),
                value: name.to_string(),
                flags,
            },
        )
    }
    fn checkpoint_get_parent(&self, c: &CheckpointRef, flags: u32) -> Result<CheckpointRef> {
        self.checkpoint(p::DOMAIN_CHECKPOINT_GET_PARENT, &Self::cf(c, flags))
    }
    fn checkpoint_delete(&self, c: &CheckpointRef, flags: u32) -> Result<()> {
        self.unit(p::DOMAIN_CHECKPOINT_DELETE, &Self::cf(c, flags))
    }

    // ---- events -------------------------------------------------------
    fn domain_event_register(
        &self,
        d: Option<&DomainRef>,
        event_id: i32,
        cb: DomainEventCallback,
    ) -> Result<i32> {
        self.register(
            p::CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY,
            &r::ConnectDomainEventCallbackRegisterAnyArgs {
                event_id,
                dom: d.map(dom),
            },
            EventCallback::Domain(cb),
            "virConnectDomainEventRegisterAny",
        )
    }
    fn domain_event_deregister(&self, id: i32) -> Result<()> {
        self.deregister(
            p::CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY,
            id,
            "domain",
        )
    }
}

impl NetworkDriver for RemoteConnection {
    fn network_event_register(
        &self,
        n: Option<&NetworkRef>,
        event_id: i32,
        cb: NetworkEventCallback,
    ) -> Result<i32> {
        self.register(
            p::CONNECT_NETWORK_EVENT_REGISTER_ANY,
            &r::ConnectNetworkEventRegisterAnyArgs {
                event_id,
                net: n.map(net),
            },
            EventCallback::Network(cb),
            "virConnectNetworkEventRegisterAny",
        )
    }
    fn network_event_deregister(&self, id: i32) -> Result<()> {
        self.deregister(p::CONNECT_NETWORK_EVENT_DEREGISTER_ANY, id, "network")
    }

    // ---- networks -----------------------------------------------------
    fn list_all_networks(&self, flags: u32) -> Result<Vec<NetworkRef>> {
        let r: r::ListAllNetworksRet = self.call(
            p::CONNECT_LIST_ALL_NETWORKS,
            &r::ListAllArgs {
                need_results: 1,
                flags,
            },
        )?;
        Ok(r.nets.into_iter().map(net_in).collect())
    }
    fn lookup_network_by_name(&self, name: &str) -> Result<NetworkRef> {
        self.network(
            p::NETWORK_LOOKUP_BY_NAME,
            &r::StringArgs {
                value: name.to_string(),
            },
        )
    }
    fn lookup_network_by_uuid(&self, uuid: &Uuid) -> Result<NetworkRef> {
        self.network(p::NETWORK_LOOKUP_BY_UUID, &r::UuidArgs { uuid: uuid.0 })
    }
    fn network_define_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        if flags == 0 {
            self.network(
                p::NETWORK_DEFINE_XML,
                &r::StringArgs {
                    value: xml.to_string(),
                },
            )
        } else {
            self.network(
                p::NETWORK_DEFINE_XML_FLAGS,
                &r::StringFlagsArgs {
                    value: xml.to_string(),
                    flags,
                },
            )
        }
    }
    fn network_create_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        if flags == 0 {
            self.network(
                p::NETWORK_CREATE_XML,
                &r::StringArgs {
                    value: xml.to_string(),
                },
            )
        } else {
            self.network(
                p::NETWORK_CREATE_XML_FLAGS,
                &r::StringFlagsArgs {
                    value: xml.to_string(),
                    flags,
                },
            )
        }
    }
    fn network_undefine(&self, n: &NetworkRef) -> Result<()> {
        self.unit(p::NETWORK_UNDEFINE, &r::NetworkArgs { net: net(n) })
    }
    fn network_create(&self, n: &NetworkRef) -> Result<()> {
        self.unit(p::NETWORK_CREATE, &r::NetworkArgs { net: net(n) })
    }
    fn network_destroy(&self, n: &NetworkRef) -> Result<()> {
        self.unit(p::NETWORK_DESTROY, &r::NetworkArgs { net: net(n) })
    }
    fn network_get_xml_desc(&self, n: &NetworkRef, flags: u32) -> Result<String> {
        self.string(
            p::NETWORK_GET_XML_DESC,
            &r::NetworkFlagsArgs { net: net(n), flags },
        )
    }
    fn network_get_bridge_name(&self, n: &NetworkRef) -> Result<String> {
        self.string(p::NETWORK_GET_BRIDGE_NAME, &r::NetworkArgs { net: net(n) })
    }
    fn network_get_autostart(&self, n: &NetworkRef) -> Result<bool> {
        self.boolean(p::NETWORK_GET_AUTOSTART, &r::NetworkArgs { net: net(n) })
    }
    fn network_set_autostart(&self, n: &NetworkRef, autostart: bool) -> Result<()> {
        self.unit(
            p::NETWORK_SET_AUTOSTART,
            &r::NetworkIntArgs {
                net: net(n),
                value: autostart as i32,
            },
        )
    }
    fn network_is_active(&self, n: &NetworkRef) -> Result<bool> {
        self.boolean(p::NETWORK_IS_ACTIVE, &r::NetworkArgs { net: net(n) })
    }
    fn network_is_persistent(&self, n: &NetworkRef) -> Result<bool> {
        self.boolean(p::NETWORK_IS_PERSISTENT, &r::NetworkArgs { net: net(n) })
    }
    fn network_update(
        &self,
        n: &NetworkRef,
        command: u32,
        section: u32,
        parent_index: i32,
        xml: &str,
        flags: u32,
    ) -> Result<()> {
        self.unit(
            p::NETWORK_UPDATE,
            &r::NetworkUpdateArgs {
                net: net(n),
                command,
                section,
                parent_index,
                xml: xml.to_string(),
                flags,
            },
        )
    }
    fn network_get_dhcp_leases(
        &self,
        n: &NetworkRef,
        mac: Option<&str>,
        flags: u32,
    ) -> Result<Vec<NetworkDhcpLease>> {
        let r: r::NetworkGetDhcpLeasesRet = self.call(
            p::NETWORK_GET_DHCP_LEASES,
            &r::NetworkGetDhcpLeasesArgs {
                net: net(n),
                mac: mac.map(str::to_string),
                need_results: 1,
                flags,
            },
        )?;
        Ok(r.leases
            .into_iter()
            .map(|l| NetworkDhcpLease {
                iface: l.iface,
                expirytime: l.expirytime,
                kind: l.kind,
                mac: l.mac,
                iaid: l.iaid,
                ipaddr: l.ipaddr,
                prefix: l.prefix,
                hostname: l.hostname,
                clientid: l.clientid,
            })
            .collect())
    }
    fn list_all_network_ports(&self, n: &NetworkRef, flags: u32) -> Result<Vec<NetworkPortRef>> {
        let r: r::NetworkListAllPortsRet = self.call(
            p::NETWORK_LIST_ALL_PORTS,
            &r::NetworkListAllPortsArgs {
                net: net(n),
                need_results: 1,
                flags,
            },
        )?;
        Ok(r.ports.into_iter().map(port_in).collect())
    }
    fn lookup_network_port_by_uuid(&self, n: &NetworkRef, uuid: &Uuid) -> Result<NetworkPortRef> {
        self.call::<_, r::NetworkPortRet>(
            p::NETWORK_PORT_LOOKUP_BY_UUID,
            &r::NetworkPortLookupByUuidArgs {
                net: net(n),
                uuid: uuid.0,
            },
        )
        .map(|r| port_in(r.port))
    }
    fn network_port_create_xml(
        &self,
        n: &NetworkRef,
        xml: &str,
        flags: u32,
    ) -> Result<NetworkPortRef> {
        self.call::<_, r::NetworkPortRet>(
            p::NETWORK_PORT_CREATE_XML,
            &r::NetworkPortCreateXmlArgs {
                net: net(n),
                xml: xml.to_string(),
                flags,
            },
        )
        .map(|r| port_in(r.port))
    }
    fn network_port_get_xml_desc(&self, port: &NetworkPortRef, flags: u32) -> Result<String> {
        let port = self.port_out(port)?;
        self.string(
            p::NETWORK_PORT_GET_XML_DESC,
            &r::NetworkPortFlagsArgs { port, flags },
        )
    }
    fn network_port_delete(&self, port: &NetworkPortRef, flags: u32) -> Result<()> {
        let port = self.port_out(port)?;
        self.unit(
            p::NETWORK_PORT_DELETE,
            &r::NetworkPortFlagsArgs { port, flags },
        )
    }
}

impl NodeDeviceDriver for RemoteConnection {
    fn node_device_event_register(
        &self,
        dev: Option<&NodeDevRef>,
        event_id: i32,
        cb: NodeDevEventCallback,
    ) -> Result<i32> {
        self.register(
            p::CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY,
            &r::ConnectNodeDeviceEventRegisterAnyArgs {
                event_id,
                dev: dev.map(|d| r::NonnullNodeDevice {
                    name: d.name.clone(),
                }),
            },
            EventCallback::NodeDevice(cb),
            "virConnectNodeDeviceEventRegisterAny",
        )
    }
    fn node_device_event_deregister(&self, id: i32) -> Result<()> {
        self.deregister(
            p::CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY,
            id,
            "node device",
        )
    }

    // ---- node devices -------------------------------------------------
    fn list_all_node_devices(&self, flags: u32) -> Result<Vec<NodeDevRef>> {
        let r: r::ListAllNodeDevicesRet = self.call(
            p::CONNECT_LIST_ALL_NODE_DEVICES,
            &r::ListAllArgs {
                need_results: 1,
                flags,
            },
        )?;
        Ok(r.devices
            .into_iter()
            .map(|d| NodeDevRef { name: d.name })
            .collect())
    }
    fn lookup_node_device_by_name(&self, name: &str) -> Result<NodeDevRef> {
        let r: r::NodeDeviceRet = self.call(
            p::NODE_DEVICE_LOOKUP_BY_NAME,
            &r::NodeDeviceArgs {
                name: name.to_string(),
            },
        )?;
        Ok(NodeDevRef { name: r.dev.name })
    }
    fn node_device_get_xml_desc(&self, dev: &NodeDevRef, flags: u32) -> Result<String> {
        self.string(
            p::NODE_DEVICE_GET_XML_DESC,
            &r::NodeDeviceFlagsArgs {
                name: dev.name.clone(),
                flags,
            },
        )
    }
    fn node_device_get_parent(&self, dev: &NodeDevRef) -> Result<Option<String>> {
        let r: r::NodeDeviceGetParentRet = self.call(
            p::NODE_DEVICE_GET_PARENT,
            &r::NodeDeviceArgs {
                name: dev.name.clone(),
            },
        )?;
        Ok(r.parent)
    }
    fn node_device_list_caps(&self, dev: &NodeDevRef) -> Result<Vec<String>> {
        let n = self.int(
            p::NODE_DEVICE_NUM_OF_CAPS,
            &r::NodeDeviceArgs {
                name: dev.name.clone(),
            },
        )?;
        if n <= 0 {
            return Ok(Vec::new());
        }
        let r: r::NodeDeviceListCapsRet = self.call(
            p::NODE_DEVICE_LIST_CAPS,
            &r::NodeDeviceListCapsArgs {
                name: dev.name.clone(),
                maxnames: n,
            },
        )?;
        Ok(r.names)
    }
    fn node_device_create_xml(&self, xml: &str, flags: u32) -> Result<NodeDevRef> {
        let r: r::NodeDeviceRet = self.call(
            p::NODE_DEVICE_CREATE_XML,
            &r::StringFlagsArgs {
                value: xml.to_string(),
                flags,
            },
        )?;
        Ok(NodeDevRef { name: r.dev.name })
    }
    fn node_device_destroy(&self, dev: &NodeDevRef) -> Result<()> {
        self.unit(
            p::NODE_DEVICE_DESTROY,
            &r::NodeDeviceArgs {
                name: dev.name.clone(),
            },
        )
    }
}

impl StorageDriver for RemoteConnection {
    fn pool_event_register(
        &self,
        pl: Option<&PoolRef>,
        event_id: i32,
        cb: PoolEventCallback,
    ) -> Result<i32> {
        self.register(
            p::CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY,
            &r::ConnectStoragePoolEventRegisterAnyArgs {
                event_id,
                pool: pl.map(pool),
            },
            EventCallback::Pool(cb),
            "virConnectStoragePoolEventRegisterAny",
        )
    }
    fn pool_event_deregister(&self, id: i32) -> Result<()> {
        self.deregister(
            p::CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY,
            id,
            "storage pool",
        )
    }

    // ---- storage pools --------------------------------------------------
    fn list_all_storage_pools(&self, flags: u32) -> Result<Vec<PoolRef>> {
        let r: r::ListAllStoragePoolsRet = self.call(
            p::CONNECT_LIST_ALL_STORAGE_POOLS,
            &r::ListAllArgs {
                need_results: 1,
                flags,
            },
        )?;
        Ok(r.pools.into_iter().map(pool_in).collect())
    }
    fn lookup_pool_by_name(&self, name: &str) -> Result<PoolRef> {
        self.pool_ret(
            p::STORAGE_POOL_LOOKUP_BY_NAME,
            &r::StringArgs {
                value: name.to_string(),
            },
        )
    }
    fn lookup_pool_by_uuid(&self, uuid: &Uuid) -> Result<PoolRef> {
        self.pool_ret(
            p::STORAGE_POOL_LOOKUP_BY_UUID,
            &r::UuidArgs { uuid: uuid.0 },
        )
    }
    fn lookup_pool_by_volume(&self, v: &VolRef) -> Result<PoolRef> {
        self.pool_ret(
            p::STORAGE_POOL_LOOKUP_BY_VOLUME,
            &r::VolArgs { vol: vol(v) },
        )
    }
    fn find_storage_pool_sources(
        &self,
        kind: &str,
        src_spec: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        self.string(
            p::CONNECT_FIND_STORAGE_POOL_SOURCES,
            &r::FindStoragePoolSourcesArgs {
                kind: kind.to_string(),
                src_spec: src_spec.map(str::to_string),
                flags,
            },
        )
    }
    fn pool_define_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        self.pool_ret(
            p::STORAGE_POOL_DEFINE_XML,
            &r::StringFlagsArgs {
                value: xml.to_string(),
                flags,
            },
        )
    }
    fn pool_create_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        self.pool_ret(
            p::STORAGE_POOL_CREATE_XML,
            &r::StringFlagsArgs {
                value: xml.to_string(),
                flags,
            },
        )
    }
    fn pool_build(&self, pl: &PoolRef, flags: u32) -> Result<()> {
        self.unit(p::STORAGE_POOL_BUILD, &Self::pf(pl, flags))
    }
    fn pool_create(&self, pl: &PoolRef, flags: u32) -> Result<()> {
        self.unit(p::STORAGE_POOL_CREATE, &Self::pf(pl, flags))
    }
    fn pool_destroy(&self, pl: &PoolRef) -> Result<()> {
        self.unit(p::STORAGE_POOL_DESTROY, &r::PoolArgs { pool: pool(pl) })
    }
    fn pool_delete(&self, pl: &PoolRef, flags: u32) -> Result<()> {
        self.unit(p::STORAGE_POOL_DELETE, &Self::pf(pl, flags))
    }
    fn pool_undefine(&self, pl: &PoolRef) -> Result<()> {
        self.unit(p::STORAGE_POOL_UNDEFINE, &r::PoolArgs { pool: pool(pl) })
    }
    fn pool_refresh(&self, pl: &PoolRef, flags: u32) -> Result<()> {
        self.unit(p::STORAGE_POOL_REFRESH, &Self::pf(pl, flags))
    }
    fn pool_get_info(&self, pl: &PoolRef) -> Result<PoolInfo> {
        let i: r::PoolGetInfoRet =
            self.call(p::STORAGE_POOL_GET_INFO, &r::PoolArgs { pool: pool(pl) })?;
        Ok(PoolInfo {
            state: i.state as i32,
            capacity: i.capacity,
            allocation: i.allocation,
            available: i.available,
        })
    }
    fn pool_get_xml_desc(&self, pl: &PoolRef, flags: u32) -> Result<String> {
        self.string(p::STORAGE_POOL_GET_XML_DESC, &Self::pf(pl, flags))
    }
    fn pool_get_autostart(&self, pl: &PoolRef) -> Result<bool> {
        self.boolean(
            p::STORAGE_POOL_GET_AUTOSTART,
            &r::PoolArgs { pool: pool(pl) },
        )
    }
    fn pool_set_autostart(&self, pl: &PoolRef, autostart: bool) -> Result<()> {
        self.unit(
            p::STORAGE_POOL_SET_AUTOSTART,
            &r::PoolIntArgs {
                pool: pool(pl),
                value: autostart as i32,
            },
        )
    }
    fn pool_is_active(&self, pl: &PoolRef) -> Result<bool> {
        self.boolean(p::STORAGE_POOL_IS_ACTIVE, &r::PoolArgs { pool: pool(pl) })
    }
    fn pool_is_persistent(&self, pl: &PoolRef) -> Result<bool> {
        self.boolean(
            p::STORAGE_POOL_IS_PERSISTENT,
            &r::PoolArgs { pool: pool(pl) },
        )
    }
    fn pool_list_all_volumes(&self, pl: &PoolRef, flags: u32) -> Result<Vec<VolRef>> {
        let r: r::PoolListAllVolumesRet = self.call(
            p::STORAGE_POOL_LIST_ALL_VOLUMES,
            &r::PoolListAllArgs {
                pool: pool(pl),
                need_results: 1,
                flags,
            },
        )?;
        Ok(r.vols.into_iter().map(vol_in).collect())
    }
    fn pool_num_of_volumes(&self, pl: &PoolRef) -> Result<i32> {
        self.int(
            p::STORAGE_POOL_NUM_OF_VOLUMES,
            &r::PoolArgs { pool: pool(pl) },
        )
    }

    // ---- storage volumes ----------------------------------------------
    fn vol_create_xml(&self, pl: &PoolRef, xml: &str, flags: u32) -> Result<VolRef> {
        self.vol_ret(
            p::STORAGE_VOL_CREATE_XML,
            &r::PoolStringFlagsArgs {
                pool: pool(pl),
                value: xml.to_string(),
                flags,
            },
        )
    }
    fn vol_create_xml_from(
        &self,
        pl: &PoolRef,
        xml: &str,
        clone: &VolRef,
        flags: u32,
    ) -> Result<VolRef> {
        self.vol_ret(
            p::STORAGE_VOL_CREATE_XML_FROM,
            &r::VolCreateXmlFromArgs {
                pool: pool(pl),
                xml: xml.to_string(),
                clonevol: vol(clone),
                flags,
            },
        )
    }
    fn lookup_vol_by_name(&self, pl: &PoolRef, name: &str) -> Result<VolRef> {
        self.vol_ret(
            p::STORAGE_VOL_LOOKUP_BY_NAME,
            &r::PoolStringArgs {
                pool: pool(pl),
                value: name.to_string(),
            },
        )
    }
    fn lookup_vol_by_key(&self, key: &str) -> Result<VolRef> {
        self.vol_ret(
            p::STORAGE_VOL_LOOKUP_BY_KEY,
            &r::StringArgs {
                value: key.to_string(),
            },
        )
    }
    fn lookup_vol_by_path(&self, path: &str) -> Result<VolRef> {
        self.vol_ret(
            p::STORAGE_VOL_LOOKUP_BY_PATH,
            &r::StringArgs {
                value: path.to_string(),
            },
        )
    }
    fn vol_upload(
        &self,
        v: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<Box<dyn Stream>> {
        self.vol_stream(p::STORAGE_VOL_UPLOAD, v, offset, length, flags)
    }
    fn vol_download(
        &self,
        v: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<Box<dyn Stream>> {
        self.vol_stream(p::STORAGE_VOL_DOWNLOAD, v, offset, length, flags)
    }
    fn vol_delete(&self, v: &VolRef, flags: u32) -> Result<()> {
        self.unit(p::STORAGE_VOL_DELETE, &Self::vf(v, flags))
    }
    fn vol_wipe(&self, v: &VolRef, algorithm: u32, flags: u32) -> Result<()> {
        if algorithm == 0 {
            self.unit(p::STORAGE_VOL_WIPE, &Self::vf(v, flags))
        } else {
            self.unit(
                p::STORAGE_VOL_WIPE_PATTERN,
                &r::VolWipePatternArgs {
                    vol: vol(v),
                    algorithm,
                    flags,
                },
            )
        }
    }
    fn vol_get_info(&self, v: &VolRef, flags: u32) -> Result<VolInfo> {
        let i: r::VolGetInfoRet = if flags == 0 {
            self.call(p::STORAGE_VOL_GET_INFO, &r::VolArgs { vol: vol(v) })?
        } else {
            self.call(p::STORAGE_VOL_GET_INFO_FLAGS, &Self::vf(v, flags))?
        };
        Ok(VolInfo {
            kind: i.kind,
            capacity: i.capacity,
            allocation: i.allocation,
        })
    }
    fn vol_get_xml_desc(&self, v: &VolRef, flags: u32) -> Result<String> {
        self.string(p::STORAGE_VOL_GET_XML_DESC, &Self::vf(v, flags))
    }
    fn vol_get_path(&self, v: &VolRef) -> Result<String> {
        self.string(p::STORAGE_VOL_GET_PATH, &r::VolArgs { vol: vol(v) })
    }
    fn vol_resize(&self, v: &VolRef, capacity: u64, flags: u32) -> Result<()> {
        self.unit(
            p::STORAGE_VOL_RESIZE,
            &r::VolResizeArgs {
                vol: vol(v),
                capacity,
                flags,
            },
        )
    }
}

impl InterfaceDriver for RemoteConnection {
    // ---- host interfaces ----------------------------------------------
    fn list_all_interfaces(&self, flags: u32) -> Result<Vec<InterfaceRef>> {
        let r: r::ListAllInterfacesRet = self.call(
            p::CONNECT_LIST_ALL_INTERFACES,
            &r::ListAllArgs {
                need_results: 1,
                flags,
            },
        )?;
        Ok(r.ifaces.into_iter().map(iface_in).collect())
    }
    fn lookup_interface_by_name(&self, name: &str) -> Result<InterfaceRef> {
        self.iface_ret(
            p::INTERFACE_LOOKUP_BY_NAME,
            &r::StringArgs {
                value: name.to_string(),
            },
        )
    }
    fn lookup_interface_by_mac(&self, mac: &str) -> Result<InterfaceRef> {
        self.iface_ret(
            p::INTERFACE_LOOKUP_BY_MAC_STRING,
            &r::StringArgs {
                value: mac.to_string(),
            },
        )
    }
    fn interface_get_xml_desc(&self, i: &InterfaceRef, flags: u32) -> Result<String> {
        self.string(
            p::INTERFACE_GET_XML_DESC,
            &r::InterfaceFlagsArgs {
                iface: iface(i),
                flags,
            },
        )
    }
    fn interface_define_xml(&self, xml: &str, flags: u32) -> Result<InterfaceRef> {
        self.iface_ret(
            p::INTERFACE_DEFINE_XML,
            &r::StringFlagsArgs {
                value: xml.to_string(),
                flags,
            },
        )
    }
    fn interface_undefine(&self, i: &InterfaceRef) -> Result<()> {
        self.unit(p::INTERFACE_UNDEFINE, &r::InterfaceArgs { iface: iface(i) })
    }
    fn interface_create(&self, i: &InterfaceRef, flags: u32) -> Result<()> {
        self.unit(
            p::INTERFACE_CREATE,
            &r::InterfaceFlagsArgs {
                iface: iface(i),
                flags,
            },
        )
    }
    fn interface_change_begin(&self, flags: u32) -> Result<()> {
        self.unit(p::INTERFACE_CHANGE_BEGIN, &r::FlagsArgs { flags })
    }
    fn interface_change_commit(&self, flags: u32) -> Result<()> {
        self.unit(p::INTERFACE_CHANGE_COMMIT, &r::FlagsArgs { flags })
    }
    fn interface_change_rollback(&self, flags: u32) -> Result<()> {
        self.unit(p::INTERFACE_CHANGE_ROLLBACK, &r::FlagsArgs { flags })
    }
    fn interface_destroy(&self, i: &InterfaceRef, flags: u32) -> Result<()> {
        self.unit(
            p::INTERFACE_DESTROY,
            &r::InterfaceFlagsArgs {
                iface: iface(i),
                flags,
            },
        )
    }
    fn interface_is_active(&self, i: &InterfaceRef) -> Result<bool> {
        self.boolean(
            p::INTERFACE_IS_ACTIVE,
            &r::InterfaceArgs { iface: iface(i) },
        )
    }
}

impl NwFilterDriver for RemoteConnection {}

impl SecretDriver for RemoteConnection {
    fn secret_event_register(
        &self,
        s: Option<&SecretRef>,
        event_id: i32,
        cb: SecretEventCallback,
    ) -> Result<i32> {
        self.register(
            p::CONNECT_SECRET_EVENT_REGISTER_ANY,
            &r::ConnectSecretEventRegisterAnyArgs {
                event_id,
                secret: s.map(secret),
            },
            EventCallback::Secret(cb),
            "virConnectSecretEventRegisterAny",
        )
    }
    fn secret_event_deregister(&self, id: i32) -> Result<()> {
        self.deregister(p::CONNECT_SECRET_EVENT_DEREGISTER_ANY, id, "secret")
    }

    // ---- secrets --------------------------------------------------------
    fn list_all_secrets(&self, flags: u32) -> Result<Vec<SecretRef>> {
        let r: r::ListAllSecretsRet = self.call(
            p::CONNECT_LIST_ALL_SECRETS,
            &r::ListAllArgs {
                need_results: 1,
                flags,
            },
        )?;
        Ok(r.secrets.into_iter().map(secret_in).collect())
    }
    fn lookup_secret_by_uuid(&self, uuid: &Uuid) -> Result<SecretRef> {
        self.secret_ret(p::SECRET_LOOKUP_BY_UUID, &r::UuidArgs { uuid: uuid.0 })
    }
    fn lookup_secret_by_usage(&self, usage_type: i32, usage_id: &str) -> Result<SecretRef> {
        self.secret_ret(
            p::SECRET_LOOKUP_BY_USAGE,
            &r::SecretLookupByUsageArgs {
                usage_type,
                usage_id: usage_id.to_string(),
            },
        )
    }
    fn secret_define_xml(&self, xml: &str, flags: u32) -> Result<SecretRef> {
        self.secret_ret(
            p::SECRET_DEFINE_XML,
            &r::StringFlagsArgs {
                value: xml.to_string(),
                flags,
            },
        )
    }
    fn secret_get_xml_desc(&self, s: &SecretRef, flags: u32) -> Result<String> {
        self.string(
            p::SECRET_GET_XML_DESC,
            &r::SecretFlagsArgs {
                secret: secret(s),
                flags,
            },
        )
    }
    fn secret_set_value(&self, s: &SecretRef, value: &[u8], flags: u32) -> Result<()> {
        self.unit(
            p::SECRET_SET_VALUE,
            &r::SecretSetValueArgs {
                secret: secret(s),
                value: Opaque(value.to_vec()),
                flags,
            },
        )
    }
    fn secret_get_value(&self, s: &SecretRef, flags: u32) -> Result<Vec<u8>> {
        let r: r::SecretGetValueRet = self.call(
            p::SECRET_GET_VALUE,
            &r::SecretFlagsArgs {
                secret: secret(s),
                flags,
            },
        )?;
        Ok(r.value.0)
    }
    fn secret_undefine(&self, s: &SecretRef) -> Result<()> {
        self.unit(p::SECRET_UNDEFINE, &r::SecretArgs { secret: secret(s) })
    }
}

/// Small argument builders and typed reply helpers.
impl RemoteConnection {
    fn sf(s: &SnapshotRef, flags: u32) -> r::SnapshotFlagsArgs {
        r::SnapshotFlagsArgs {
            snap: snap(s),
            flags,
        }
    }
    fn cf(c: &CheckpointRef, flags: u32) -> r::CheckpointFlagsArgs {
        r::CheckpointFlagsArgs {
            checkpoint: cp(c),
            flags,
        }
    }
    fn pf(pl: &PoolRef, flags: u32) -> r::PoolFlagsArgs {
        r::PoolFlagsArgs {
            pool: pool(pl),
            flags,
        }
    }
    fn vf(v: &VolRef, flags: u32) -> r::VolFlagsArgs {
        r::VolFlagsArgs { vol: vol(v), flags }
    }
    fn dsf(&self, proc_: i32, d: &DomainRef, value: &str, flags: u32) -> Result<()> {
        self.unit(
            proc_,
            &r::DomainStringFlagsArgs {
                dom: dom(d),
                value: value.to_string(),
                flags,
            },
        )
    }
    fn get_params(
        &self,
        proc_: i32,
        d: &DomainRef,
        nparams: i32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.params_two_step(nparams, |n| {
            self.call(
                proc_,
                &r::DomainGetParamsArgs {
                    dom: dom(d),
                    nparams: n,
                    flags: flags | STRING_OKAY,
                },
            )
        })
    }
    fn set_params(&self, proc_: i32, d: &DomainRef, ps: &[TypedParam], flags: u32) -> Result<()> {
        self.unit(
            proc_,
            &r::DomainSetParamsArgs {
                dom: dom(d),
                params: params(ps),
                flags,
            },
        )
    }
    fn snapshot<A: Xdr>(&self, proc_: i32, a: &A) -> Result<SnapshotRef> {
        self.call::<_, r::SnapshotRet>(proc_, a)
            .map(|r| snap_in(r.snap))
    }
    fn checkpoint<A: Xdr>(&self, proc_: i32, a: &A) -> Result<CheckpointRef> {
        self.call::<_, r::CheckpointRet>(proc_, a)
            .map(|r| cp_in(r.checkpoint))
    }
    /// A port handle on the wire names its network by name and UUID; the
    /// handle keeps the name, so the network is looked up (libvirt's
    /// virNetworkPortPtr holds its virNetworkPtr).
    fn port_out(&self, port: &NetworkPortRef) -> Result<r::NonnullNetworkPort> {
        let n = self.network(
            p::NETWORK_LOOKUP_BY_NAME,
            &r::StringArgs {
                value: port.network.clone(),
            },
        )?;
        Ok(r::NonnullNetworkPort {
            net: net(&n),
            uuid: port.uuid.0,
        })
    }
    fn network<A: Xdr>(&self, proc_: i32, a: &A) -> Result<NetworkRef> {
        self.call::<_, r::NetworkRet>(proc_, a)
            .map(|r| net_in(r.net))
    }
    fn pool_ret<A: Xdr>(&self, proc_: i32, a: &A) -> Result<PoolRef> {
        self.call::<_, r::PoolRet>(proc_, a)
            .map(|r| pool_in(r.pool))
    }
    fn vol_ret<A: Xdr>(&self, proc_: i32, a: &A) -> Result<VolRef> {
        self.call::<_, r::VolRet>(proc_, a).map(|r| vol_in(r.vol))
    }
    fn iface_ret<A: Xdr>(&self, proc_: i32, a: &A) -> Result<InterfaceRef> {
        self.call::<_, r::InterfaceRet>(proc_, a)
            .map(|r| iface_in(r.iface))
    }
    fn secret_ret<A: Xdr>(&self, proc_: i32, a: &A) -> Result<SecretRef> {
        self.call::<_, r::SecretRet>(proc_, a)
            .map(|r| secret_in(r.secret))
    }
}
