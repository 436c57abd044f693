//! One CALL in, one REPLY out: decodes the arguments of a REMOTE
//! procedure, calls the client's driver connection and encodes the reply
//! or the error.

use std::sync::Arc;

use oxvirt_core::error::{code, from};
use oxvirt_core::types::*;
use oxvirt_core::{Connection, Error, Result};
use oxvirt_proto::packet::{self, Header, MsgType, Status};
use oxvirt_proto::procs as p;
use oxvirt_proto::remote::{self as r, feature, max};
use oxvirt_proto::xdr::{self, FixedChars, Opaque, Xdr};

use crate::convert::*;
use crate::events;
use crate::server::{Callback, CallbackFamily, Server, Session};
use crate::streams;

/// Handles one CALL frame and returns the REPLY frame, with the stream
/// the call opened if it is one of the stream procedures.
pub fn call(
    server: &Server,
    session: &Session,
    hdr: &Header,
    body: &[u8],
) -> (Vec<u8>, Option<streams::Opened>) {
    if session.auth_refused && !(hdr.prog == packet::REMOTE_PROGRAM && hdr.proc_ == p::AUTH_LIST) {
        // libvirtd's answer to a client that has not authenticated.
        let e = Error::raw(code::RPC, from::RPC, "authentication required");
        return (error_frame(hdr, &e), None);
    }
    if hdr.prog == packet::REMOTE_PROGRAM
        && hdr.vers == packet::PROTOCOL_VERSION
        && is_stream_proc(hdr.proc_)
    {
        return match open_stream(session, hdr.proc_, body) {
            Ok((payload, opened)) => (reply_frame(hdr, Ok(payload)), Some(opened)),
            Err(e) => (error_frame(hdr, &e), None),
        };
    }
    let result = if hdr.vers == packet::PROTOCOL_VERSION
        && (hdr.prog == packet::QEMU_PROGRAM || hdr.prog == packet::LXC_PROGRAM)
    {
        // Hypervisor-specific programs: the test driver has none of their
        // APIs, which libvirt reports as unsupported.
        match session.connection() {
            None => Err(not_open()),
            Some(_) => Err(match (hdr.prog == packet::QEMU_PROGRAM, hdr.proc_) {
                (true, 1) => Error::no_support("virDomainQemuMonitorCommand"),
                (true, 2) => Error::no_support("virDomainQemuAttach"),
                (true, 3) => Error::no_support("virDomainQemuAgentCommand"),
                (true, 4) => Error::no_support("virConnectDomainQemuMonitorEventRegister"),
                (true, 5) => Error::no_support("virConnectDomainQemuMonitorEventDeregister"),
                (true, 7) => Error::no_support("virDomainQemuMonitorCommandWithFiles"),
                (false, 1) => Error::no_support("virDomainLxcOpenNamespace"),
                (_, n) => unknown_proc(n),
            }),
        }
    } else if hdr.prog != packet::REMOTE_PROGRAM || hdr.vers != packet::PROTOCOL_VERSION {
        Err(Error::raw(
            code::RPC,
            from::RPC,
            format!(
                "Cannot find program {} version {}",
                hdr.prog as i32, hdr.vers
            ),
        ))
    } else {
        dispatch(server, session, hdr.proc_, body)
    };
    (reply_frame(hdr, result), None)
}

fn is_stream_proc(proc_: i32) -> bool {
    matches!(
        proc_,
        p::DOMAIN_SCREENSHOT
            | p::STORAGE_VOL_UPLOAD
            | p::STORAGE_VOL_DOWNLOAD
            | p::DOMAIN_OPEN_CONSOLE
            | p::DOMAIN_OPEN_CHANNEL
    )
}

/// The procedures that open a stream: the reply payload and the stream.
fn open_stream(session: &Session, proc_: i32, body: &[u8]) -> Result<(Vec<u8>, streams::Opened)> {
    use streams::{Direction, Opened};
    let c = session.connection().ok_or_else(not_open)?;
    let opened = |stream, dir| Opened {
        stream,
        dir,
        sparse: false,
    };
    match proc_ {
        p::DOMAIN_SCREENSHOT => {
            // {dom, unsigned screen, flags} -> {optional string mime}
            let a: r::DomainScreenshotArgs = decode(body)?;
            let (mime, st) = c.domain_screenshot(&dom_in(a.dom), a.screen, a.flags)?;
            let ret = enc(&r::DomainScreenshotRet { mime: Some(mime) })?;
            Ok((ret, opened(st, Direction::Source)))
        }
        p::STORAGE_VOL_DOWNLOAD => {
            let a: r::VolTransferArgs = decode(body)?;
            let st = c.vol_download(&vol_in(a.vol), a.offset, a.length, a.flags)?;
            let sparse = a.flags & oxvirt_core::types::flags::vol_stream::SPARSE_STREAM != 0;
            Ok((
                enc(&())?,
                Opened {
                    sparse,
                    ..opened(st, Direction::Source)
                },
            ))
        }
        p::STORAGE_VOL_UPLOAD => {
            let a: r::VolTransferArgs = decode(body)?;
            let st = c.vol_upload(&vol_in(a.vol), a.offset, a.length, a.flags)?;
            let sparse = a.flags & oxvirt_core::types::flags::vol_stream::SPARSE_STREAM != 0;
            Ok((
                enc(&())?,
                Opened {
                    sparse,
                    ..opened(st, Direction::Sink)
                },
            ))
        }
        p::DOMAIN_OPEN_CONSOLE => {
            // {dom, optional string dev_name, flags}
            let a: r::DomainOpenConsoleArgs = decode(body)?;
            let st = c.domain_open_console(&dom_in(a.dom), a.dev_name.as_deref(), a.flags)?;
            Ok((enc(&())?, opened(st, Direction::Duplex)))
        }
        _ => Err(Error::no_support("virDomainOpenChannel")),
    }
}

/// The REPLY frame for a call's outcome.
pub fn reply_frame(hdr: &Header, result: Result<Vec<u8>>) -> Vec<u8> {
    let result = result.and_then(|payload| {
        packet::frame_raw(&hdr.reply(Status::Ok), &payload).map_err(|_| {
            Error::raw(
                code::RPC,
                from::RPC,
                "Unable to encode message payload: reply too large",
            )
        })
    });
    match result {
        Ok(frame) => frame,
        Err(e) => error_frame(hdr, &e),
    }
}

/// A REPLY carrying `remote_error`.
pub fn error_frame(hdr: &Header, e: &Error) -> Vec<u8> {
    let mut h = hdr.reply(Status::Error);
    h.mtype = MsgType::Reply;
    let mut err = error_out(e);
    // The message is bounded by STRING_MAX on the wire.
    if let Some(m) = err.message.as_mut() {
        truncate(m, 4096);
    }
    packet::frame(&h, &err).unwrap_or_else(|_| packet::keepalive(0))
}

fn truncate(s: &mut String, n: usize) {
    if s.len() > n {
        let mut i = n;
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        s.truncate(i);
    }
}

fn decode<T: Xdr>(body: &[u8]) -> Result<T> {
    xdr::from_bytes(body).map_err(|e| {
        tracing::debug!("bad payload: {}", e);
        Error::raw(code::RPC, from::RPC, "Unable to decode message payload")
    })
}

fn enc<T: Xdr>(v: &T) -> Result<Vec<u8>> {
    Ok(xdr::to_bytes(v))
}

fn not_open() -> Error {
    Error::new(
        code::INTERNAL_ERROR,
        from::RPC,
        "hypervisor connection not open",
    )
}

fn unknown_proc(proc_: i32) -> Error {
    Error::raw(
        code::RPC,
        from::RPC,
        format!("unknown procedure: {}", proc_),
    )
}

/// Decodes `$A`, binds it to `$a`, evaluates `$e` (a reply value) and
/// encodes it.
macro_rules! h {
    ($body:expr, |$a:ident : $A:ty| $e:expr) => {{
        #[allow(unused_variables)]
        let $a: $A = decode($body)?;
        enc(&$e)
    }};
}

fn int(b: bool) -> r::IntRet {
    r::IntRet { value: b as i32 }
}

fn string(s: String) -> r::StringRet {
    r::StringRet { value: s }
}

fn dom(d: DomainRef) -> r::DomainRet {
    r::DomainRet { dom: dom_out(d) }
}

fn dispatch(server: &Server, session: &Session, proc_: i32, body: &[u8]) -> Result<Vec<u8>> {
    // Procedures that work without an open connection.
    match proc_ {
        p::AUTH_LIST => {
            return enc(&r::AuthListRet {
                types: vec![0], // REMOTE_AUTH_NONE
            });
        }
        p::CONNECT_SUPPORTS_FEATURE => {
            let a: r::IntArgs = decode(body)?;
            if a.value == feature::PROGRAM_KEEPALIVE {
                session.enable_keepalive();
                return enc(&r::IntRet { value: 1 });
            }
            if session.connection().is_none() {
                return Err(not_open());
            }
            let yes = matches!(
                a.value,
                feature::REMOTE_EVENT_CALLBACK
                    | feature::REMOTE_CLOSE_CALLBACK
                    | feature::TYPED_PARAM_STRING
                    | feature::NETWORK_UPDATE_HAS_CORRECT_ORDER
            );
            return enc(&int(yes));
        }
        p::CONNECT_OPEN => {
            let a: r::ConnectOpenArgs = decode(body)?;
            let mut slot = session.conn_slot();
            if slot.is_some() {
                return Err(Error::new(
                    code::INTERNAL_ERROR,
                    from::RPC,
                    "connection already open",
                ));
            }
            let mut flags = a.flags;
            if session.readonly {
                flags |= flags::connect::RO;
            }
            let name = a.name.unwrap_or_default();
            let conn = server.router.open(&name, flags)?;
            *slot = Some(conn);
            return enc(&());
        }
        p::CONNECT_CLOSE => {
            // Drop the driver connection before replying, so that a client
            // that connects right after sees the state reset.
            session.close_connection();
            return enc(&());
        }
        _ => {}
    }
    let c = session.connection().ok_or_else(not_open)?;
    let c: &Connection = &c;
    match proc_ {
        // ---- connection ---------------------------------------------------
        p::CONNECT_GET_TYPE => enc(&string(c.get_type()?)),
        p::CONNECT_GET_VERSION => enc(&r::UHyperRet {
            value: c.get_version()?,
        }),
        p::CONNECT_GET_LIB_VERSION => enc(&r::UHyperRet {
            value: c.get_lib_version()?,
        }),
        p::CONNECT_GET_HOSTNAME => enc(&string(c.hostname()?)),
        p::CONNECT_GET_URI => enc(&string(c.uri()?)),
        p::CONNECT_GET_CAPABILITIES => enc(&string(c.capabilities()?)),
        p::CONNECT_GET_SYSINFO => h!(body, |a: r::FlagsArgs| string(c.sysinfo(a.flags)?)),
        p::CONNECT_DOMAIN_XML_TO_NATIVE => h!(body, |a: r::ConnectDomainXmlNativeArgs| string(
            c.domain_xml_to_native(&a.format, &a.data, a.flags)?
        )),
        p::CONNECT_DOMAIN_XML_FROM_NATIVE => h!(body, |a: r::ConnectDomainXmlNativeArgs| string(
            c.domain_xml_from_native(&a.format, &a.data, a.flags)?
        )),
        p::CONNECT_GET_DOMAIN_CAPABILITIES => {
            h!(body, |a: r::ConnectGetDomainCapabilitiesArgs| string(
                c.domain_capabilities(
                    a.emulatorbin.as_deref(),
                    a.arch.as_deref(),
                    a.machine.as_deref(),
                    a.virttype.as_deref(),
                    a.flags
                )?
            ))
        }
        p::CONNECT_GET_MAX_VCPUS => h!(body, |a: r::OptStringArgs| r::IntRet {
            value: c.max_vcpus(a.value.as_deref())?
        }),
        p::CONNECT_IS_SECURE => enc(&int(c.is_secure()?)),
        p::CONNECT_REGISTER_CLOSE_CALLBACK => {
            session.set_close_callback(true);
            enc(&())
        }
        p::CONNECT_UNREGISTER_CLOSE_CALLBACK => {
            session.set_close_callback(false);
            enc(&())
        }
        p::NODE_GET_INFO => {
            let n = c.node_info()?;
            enc(&r::NodeGetInfoRet {
                model: FixedChars::from_str_truncated(&n.model),
                memory: n.memory,
                cpus: n.cpus as i32,
                mhz: n.mhz as i32,
                nodes: n.nodes as i32,
                sockets: n.sockets as i32,
                cores: n.cores as i32,
                threads: n.threads as i32,
            })
        }
        p::NODE_GET_FREE_MEMORY => enc(&r::UHyperRet {
            value: c.free_memory()?,
        }),
        p::NODE_GET_CELLS_FREE_MEMORY => {
            let a: r::NodeGetCellsFreeMemoryArgs = decode(body)?;
            if a.maxcells < 0 || a.maxcells as usize > max::CELLS {
                return Err(Error::raw(
                    code::RPC,
                    from::RPC,
                    "maxCells > REMOTE_NODE_MAX_CELLS",
                ));
            }
            enc(&r::NodeGetCellsFreeMemoryRet {
                cells: c.cells_free_memory(a.start_cell, a.maxcells)?,
            })
        }
        p::NODE_GET_CPU_MAP => {
            let a: r::NodeGetCpuMapArgs = decode(body)?;
            let (map, online, ret) = c.node_cpu_map(a.flags)?;
            enc(&r::NodeGetCpuMapRet {
                cpumap: Opaque(if a.need_map != 0 { map } else { Vec::new() }),
                online: if a.need_online != 0 { online } else { 0 },
                ret,
            })
        }
        p::NODE_GET_SECURITY_MODEL => {
            let m = c.security_model()?;
            enc(&r::NodeGetSecurityModelRet {
                model: c_string(&m.model),
                doi: c_string(&m.doi),
            })
        }

        // ---- domain listing and lookup ---------------------------------
        // The calls before virConnectListAll* (virConnectNumOfDomains,
        // virConnectListNetworks, ...), as libvirt's drivers answer them:
        // the active (or inactive, "defined") objects, names or ids.
        p::CONNECT_NUM_OF_DOMAINS => enc(&r::IntRet {
            value: c.list_all_domains(flags::list_domains::ACTIVE)?.len() as i32,
        }),
        p::CONNECT_NUM_OF_DEFINED_DOMAINS => enc(&r::IntRet {
            value: c.list_all_domains(flags::list_domains::INACTIVE)?.len() as i32,
        }),
        p::CONNECT_LIST_DOMAINS => {
            let a: r::ListMaxArgs = decode(body)?;
            let n = legacy_max(a.max, max::DOMAIN_LIST, "maxids > REMOTE_DOMAIN_LIST_MAX")?;
            let mut ids: Vec<i32> = c
                .list_all_domains(flags::list_domains::ACTIVE)?
                .iter()
                .map(|d| d.id)
                .collect();
            ids.truncate(n);
            enc(&r::ListIdsRet { ids })
        }
        p::CONNECT_LIST_DEFINED_DOMAINS => {
            let a: r::ListMaxArgs = decode(body)?;
            let n = legacy_max(a.max, max::DOMAIN_LIST, "maxnames > REMOTE_DOMAIN_LIST_MAX")?;
            legacy_names(
                c.list_all_domains(flags::list_domains::INACTIVE)?
                    .into_iter()
                    .map(|d| d.name),
                n,
            )
        }
        p::CONNECT_NUM_OF_NETWORKS => enc(&r::IntRet {
            value: c.list_all_networks(ACTIVE)?.len() as i32,
        }),
        p::CONNECT_NUM_OF_DEFINED_NETWORKS => enc(&r::IntRet {
            value: c.list_all_networks(INACTIVE)?.len() as i32,
        }),
        p::CONNECT_LIST_NETWORKS | p::CONNECT_LIST_DEFINED_NETWORKS => {
            let a: r::ListMaxArgs = decode(body)?;
            let n = legacy_max(
                a.max,
                max::NETWORK_LIST,
                "maxnames > REMOTE_NETWORK_LIST_MAX",
            )?;
            let f = if proc_ == p::CONNECT_LIST_NETWORKS {
                ACTIVE
            } else {
                INACTIVE
            };
            legacy_names(c.list_all_networks(f)?.into_iter().map(|x| x.name), n)
        }
        p::CONNECT_NUM_OF_INTERFACES => enc(&r::IntRet {
            value: c.list_all_interfaces(ACTIVE)?.len() as i32,
        }),
        p::CONNECT_NUM_OF_DEFINED_INTERFACES => enc(&r::IntRet {
            value: c.list_all_interfaces(INACTIVE)?.len() as i32,
        }),
        p::CONNECT_LIST_INTERFACES | p::CONNECT_LIST_DEFINED_INTERFACES => {
            let a: r::ListMaxArgs = decode(body)?;
            let n = legacy_max(
                a.max,
                max::INTERFACE_LIST,
                "maxnames > REMOTE_INTERFACE_LIST_MAX",
            )?;
            let f = if proc_ == p::CONNECT_LIST_INTERFACES {
                ACTIVE
            } else {
                INACTIVE
            };
            legacy_names(c.list_all_interfaces(f)?.into_iter().map(|x| x.name), n)
        }
        p::CONNECT_LIST_ALL_DOMAINS => {
            let a: r::ListAllArgs = decode(body)?;
            let doms = c.list_all_domains(a.flags)?;
            check_len(doms.len(), max::DOMAIN_LIST, "domains")?;
            let n = doms.len() as u32;
            enc(&r::ListAllDomainsRet {
                domains: if a.need_results != 0 {
                    doms.into_iter().map(dom_out).collect()
                } else {
                    Vec::new()
                },
                ret: n,
            })
        }
        p::DOMAIN_LOOKUP_BY_ID => h!(body, |a: r::IntArgs| dom(c.lookup_domain_by_id(a.value)?)),
        p::DOMAIN_LOOKUP_BY_NAME => h!(body, |a: r::StringArgs| dom(
            c.lookup_domain_by_name(&a.value)?
        )),
        p::DOMAIN_LOOKUP_BY_UUID => h!(body, |a: r::UuidArgs| dom(
            c.lookup_domain_by_uuid(&Uuid(a.uuid))?
        )),

        // ---- domain lifecycle -------------------------------------------
        p::DOMAIN_DEFINE_XML => h!(body, |a: r::StringArgs| dom(
            c.domain_define_xml(&a.value, 0)?
        )),
        p::DOMAIN_DEFINE_XML_FLAGS => h!(body, |a: r::StringFlagsArgs| dom(
            c.domain_define_xml(&a.value, a.flags)?
        )),
        p::DOMAIN_CREATE_XML => h!(body, |a: r::StringFlagsArgs| dom(
            c.domain_create_xml(&a.value, a.flags)?
        )),
        p::DOMAIN_UNDEFINE => h!(body, |a: r::DomainArgs| c
            .domain_undefine(&dom_in(a.dom), 0)?),
        p::DOMAIN_UNDEFINE_FLAGS => h!(body, |a: r::DomainFlagsArgs| c
            .domain_undefine(&dom_in(a.dom), a.flags)?),
        p::DOMAIN_CREATE => h!(body, |a: r::DomainArgs| {
            c.domain_create(&dom_in(a.dom), 0)?;
        }),
        p::DOMAIN_CREATE_WITH_FLAGS => h!(body, |a: r::DomainFlagsArgs| dom(
            c.domain_create(&dom_in(a.dom), a.flags)?
        )),
        p::DOMAIN_DESTROY => h!(body, |a: r::DomainArgs| c
            .domain_destroy(&dom_in(a.dom), 0)?),
        p::DOMAIN_DESTROY_FLAGS => h!(body, |a: r::DomainFlagsArgs| c
            .domain_destroy(&dom_in(a.dom), a.flags)?),
        p::DOMAIN_SHUTDOWN => h!(body, |a: r::DomainArgs| c
            .domain_shutdown(&dom_in(a.dom), 0)?),
        p::DOMAIN_SHUTDOWN_FLAGS => h!(body, |a: r::DomainFlagsArgs| c
            .domain_shutdown(&dom_in(a.dom), a.flags)?),
        p::DOMAIN_REBOOT => h!(body, |a: r::DomainFlagsArgs| c
            .domain_reboot(&dom_in(a.dom), a.flags)?),
        p::DOMAIN_RESET => h!(body, |a: r::DomainFlagsArgs| c
            .domain_reset(&dom_in(a.dom), a.flags)?),
        p::DOMAIN_SUSPEND => h!(body, |a: r::DomainArgs| c.domain_suspend(&dom_in(a.dom))?),
        p::DOMAIN_RESUME => h!(body, |a: r::DomainArgs| c.domain_resume(&dom_in(a.dom))?),
        p::DOMAIN_INJECT_NMI => h!(body, |a: r::DomainFlagsArgs| c
            .domain_inject_nmi(&dom_in(a.dom), a.flags)?),
        p::DOMAIN_PM_WAKEUP => h!(body, |a: r::DomainFlagsArgs| c
            .domain_pm_wakeup(&dom_in(a.dom), a.flags)?),
        p::DOMAIN_SAVE => h!(body, |a: r::DomainStringArgs| c.domain_save(
            &dom_in(a.dom),
            &a.value,
            None,
            0
        )?),
        p::DOMAIN_SAVE_FLAGS => h!(body, |a: r::DomainSaveFlagsArgs| c.domain_save(
            &dom_in(a.dom),
            &a.to,
            a.dxml.as_deref(),
            a.flags
        )?),
        p::DOMAIN_RESTORE => h!(body, |a: r::StringArgs| c
            .domain_restore(&a.value, None, 0)?),
        p::DOMAIN_RESTORE_FLAGS => h!(body, |a: r::DomainRestoreFlagsArgs| c.domain_restore(
            &a.from,
            a.dxml.as_deref(),
            a.flags
        )?),
        p::DOMAIN_SAVE_IMAGE_GET_XML_DESC => h!(body, |a: r::StringFlagsArgs| string(
            c.domain_save_image_get_xml_desc(&a.value, a.flags)?
        )),
        p::DOMAIN_MANAGED_SAVE => h!(body, |a: r::DomainFlagsArgs| c
            .domain_managed_save(&dom_in(a.dom), a.flags)?),
        p::DOMAIN_HAS_MANAGED_SAVE_IMAGE => h!(body, |a: r::DomainFlagsArgs| int(
            c.domain_has_managed_save(&dom_in(a.dom), a.flags)?
        )),
        p::DOMAIN_MANAGED_SAVE_REMOVE => h!(body, |a: r::DomainFlagsArgs| c
            .domain_managed_save_remove(&dom_in(a.dom), a.flags)?),
        p::DOMAIN_MANAGED_SAVE_GET_XML_DESC => h!(body, |a: r::DomainFlagsArgs| string(
            c.domain_managed_save_get_xml_desc(&dom_in(a.dom), a.flags)?
        )),
        p::DOMAIN_RENAME => {
            let a: r::DomainRenameArgs = decode(body)?;
            let new_name = a.new_name.unwrap_or_default();
            c.domain_rename(&dom_in(a.dom), &new_name, a.flags)?;
            enc(&r::IntRet { value: 0 })
        }

        // ---- domain state and description ---------------------------------
        p::DOMAIN_GET_INFO => {
            let a: r::DomainArgs = decode(body)?;
            let i = c.domain_get_info(&dom_in(a.dom))?;
            enc(&r::DomainGetInfoRet {
                state: i.state as u32,
                max_mem: i.max_mem,
                memory: i.memory,
                nr_virt_cpu: i.nr_virt_cpu as u32,
                cpu_time: i.cpu_time,
            })
        }
        p::DOMAIN_GET_STATE => {
            let a: r::DomainFlagsArgs = decode(body)?;
            let (state, reason) = c.domain_get_state(&dom_in(a.dom), a.flags)?;
            enc(&r::DomainGetStateRet { state, reason })
        }
        p::DOMAIN_GET_CONTROL_INFO => {
            let a: r::DomainFlagsArgs = decode(body)?;
            let i = c.domain_get_control_info(&dom_in(a.dom), a.flags)?;
            enc(&r::DomainGetControlInfoRet {
                state: i.state,
                details: i.details,
                state_time: i.state_time,
            })
        }
        p::DOMAIN_GET_XML_DESC => h!(body, |a: r::DomainFlagsArgs| string(
            c.domain_get_xml_desc(&dom_in(a.dom), a.flags)?
        )),
        p::DOMAIN_GET_OS_TYPE => h!(body, |a: r::DomainArgs| string(
            c.domain_get_os_type(&dom_in(a.dom))?
        )),
        p::DOMAIN_GET_MAX_MEMORY => h!(body, |a: r::DomainArgs| r::UHyperRet {
            value: c.domain_get_max_memory(&dom_in(a.dom))?
        }),
        p::DOMAIN_GET_AUTOSTART => h!(body, |a: r::DomainArgs| int(
            c.domain_get_autostart(&dom_in(a.dom))?
        )),
        p::DOMAIN_SET_AUTOSTART => h!(body, |a: r::DomainIntArgs| c
            .domain_set_autostart(&dom_in(a.dom), a.value != 0)?),
        p::DOMAIN_IS_ACTIVE => h!(body, |a: r::DomainArgs| int(
            c.domain_is_active(&dom_in(a.dom))?
        )),
        p::DOMAIN_IS_PERSISTENT => h!(body, |a: r::DomainArgs| int(
            c.domain_is_persistent(&dom_in(a.dom))?
        )),
        p::DOMAIN_IS_UPDATED => h!(body, |a: r::DomainArgs| int(
            c.domain_is_updated(&dom_in(a.dom))?
        )),
        p::DOMAIN_GET_SECURITY_LABEL => {
            let a: r::DomainArgs = decode(body)?;
            let l = c.domain_get_security_label(&dom_in(a.dom))?;
            enc(&r::DomainGetSecurityLabelRet {
                label: if l.label.is_empty() {
                    // libvirtd sends an empty label as a lone NUL.
                    c_string("")
                } else {
                    c_string(&l.label)
                },
                enforcing: l.enforcing as i32,
            })
        }
        p::DOMAIN_GET_MESSAGES => {
            let a: r::DomainFlagsArgs = decode(body)?;
            let msgs = c.domain_get_messages(&dom_in(a.dom), a.flags)?;
            check_len(msgs.len(), max::DOMAIN_MESSAGES, "messages")?;
            enc(&r::DomainGetMessagesRet { msgs })
        }
        p::DOMAIN_GET_METADATA => h!(body, |a: r::DomainGetMetadataArgs| string(
            c.domain_get_metadata(&dom_in(a.dom), a.kind, a.uri.as_deref(), a.flags)?
        )),
        p::DOMAIN_SET_METADATA => h!(body, |a: r::DomainSetMetadataArgs| c.domain_set_metadata(
            &dom_in(a.dom),
            a.kind,
            a.metadata.as_deref(),
            a.key.as_deref(),
            a.uri.as_deref(),
            a.flags
        )?),
        p::DOMAIN_GET_HOSTNAME => h!(body, |a: r::DomainFlagsArgs| string(
            c.domain_get_hostname(&dom_in(a.dom), a.flags)?
        )),
        p::DOMAIN_GET_TIME => {
            let a: r::DomainFlagsArgs = decode(body)?;
            let (seconds, nseconds) = c.domain_get_time(&dom_in(a.dom), a.flags)?;
            enc(&r::DomainGetTimeRet { seconds, nseconds })
        }
        p::DOMAIN_SET_TIME => h!(body, |a: r::DomainSetTimeArgs| c.domain_set_time(
            &dom_in(a.dom),
            a.seconds,
            a.nseconds,
            a.flags
        )?),
        p::DOMAIN_SEND_PROCESS_SIGNAL => {
            let a: r::DomainSendProcessSignalArgs = decode(body)?;
            c.domain_send_process_signal(&dom_in(a.dom), a.pid_value, a.signum, a.flags)?;
            enc(&())
        }
        p::DOMAIN_SET_USER_PASSWORD => {
            let a: r::DomainSetUserPasswordArgs = decode(body)?;
            // virDomainSetUserPassword's argument checks.
            let non_null = |v: Option<String>, name: &str| {
                v.ok_or_else(|| {
                    Error::raw(
                        code::INVALID_ARG,
                        from::DOMAIN,
                        format!("{} in virDomainSetUserPassword must not be NULL", name),
                    )
                })
            };
            let user = non_null(a.user, "user")?;
            let password = non_null(a.password, "password")?;
            c.domain_set_user_password(&dom_in(a.dom), &user, &password, a.flags)?;
            enc(&())
        }
        p::DOMAIN_FSFREEZE | p::DOMAIN_FSTHAW => {
            let a: r::DomainFsFreezeArgs = decode(body)?;
            let d = dom_in(a.dom);
            let n = if proc_ == p::DOMAIN_FSFREEZE {
                c.domain_fs_freeze(&d, &a.mountpoints, a.flags)?
            } else {
                c.domain_fs_thaw(&d, &a.mountpoints, a.flags)?
            };
            enc(&r::IntRet { value: n })
        }
        p::DOMAIN_FSTRIM => h!(body, |a: r::DomainFsTrimArgs| c.domain_fs_trim(
            &dom_in(a.dom),
            a.mount_point.as_deref(),
            a.minimum,
            a.flags
        )?),
        p::DOMAIN_GET_FSINFO => {
            let a: r::DomainFlagsArgs = decode(body)?;
            let v = c.domain_get_fs_info(&dom_in(a.dom), a.flags)?;
            if v.len() > max::DOMAIN_FSINFO {
                return Err(Error::raw(
                    code::RPC,
                    from::RPC,
                    format!(
                        "Too many mountpoints in fsinfo: {} for limit {}",
                        v.len(),
                        max::DOMAIN_FSINFO
                    ),
                ));
            }
            if let Some(fs) = v
                .iter()
                .find(|fs| fs.dev_aliases.len() > max::DOMAIN_FSINFO_DISKS)
            {
                return Err(Error::raw(
                    code::RPC,
                    from::RPC,
                    format!(
                        "Too many disks in fsinfo: {} for limit {}",
                        fs.dev_aliases.len(),
                        max::DOMAIN_FSINFO_DISKS
                    ),
                ));
            }
            let n = v.len() as u32;
            enc(&r::DomainGetFsInfoRet {
                info: v
                    .into_iter()
                    .map(|fs| r::DomainFsInfoWire {
                        mountpoint: fs.mountpoint,
                        name: fs.name,
                        fstype: fs.fstype,
                        dev_aliases: fs.dev_aliases,
                    })
                    .collect(),
                ret: n,
            })
        }
        p::DOMAIN_GET_DISK_ERRORS => {
            let a: r::DomainGetDiskErrorsArgs = decode(body)?;
            if a.maxerrors as usize > max::DOMAIN_DISK_ERRORS {
                return Err(Error::new(
                    code::INTERNAL_ERROR,
                    from::RPC,
                    "maxerrors too large",
                ));
            }
            let v = c.domain_get_disk_errors(&dom_in(a.dom), a.flags)?;
            // Without room for errors the API answers how many there are;
            // otherwise it fills at most maxerrors of them.
            if a.maxerrors == 0 {
                return enc(&r::DomainGetDiskErrorsRet {
                    errors: Vec::new(),
                    nerrors: v.len().min(i32::MAX as usize) as i32,
                });
            }
            let errors: Vec<r::DomainDiskErrorWire> = v
                .into_iter()
                .take(a.maxerrors as usize)
                .map(|(disk, error)| r::DomainDiskErrorWire { disk, error })
                .collect();
            let nerrors = errors.len() as i32;
            enc(&r::DomainGetDiskErrorsRet { errors, nerrors })
        }
        p::DOMAIN_GET_LAUNCH_SECURITY_INFO => {
            let a: r::DomainFlagsArgs = decode(body)?;
            let ps = c.domain_get_launch_security_info(&dom_in(a.dom), a.flags)?;
            let params = params_out(ps, a.flags);
            check_len(
                params.len(),
                max::DOMAIN_LAUNCH_SECURITY_INFO_PARAMS,
                "launch security parameters",
            )?;
            enc(&r::DomainGetLaunchSecurityInfoRet { params })
        }
        p::DOMAIN_GET_JOB_INFO => {
            let a: r::DomainArgs = decode(body)?;
            let j = c.domain_get_job_info(&dom_in(a.dom))?;
            enc(&r::DomainGetJobInfoRet {
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
        p::DOMAIN_ABORT_JOB => h!(body, |a: r::DomainArgs| c
            .domain_abort_job(&dom_in(a.dom))?),

        // ---- domain resources -------------------------------------------
        p::DOMAIN_SET_MEMORY => h!(body, |a: r::DomainUHyperArgs| c.domain_set_memory(
            &dom_in(a.dom),
            a.value,
            flags::affect::LIVE
        )?),
        // virDomainSetMaxMemory is MEM_MAXIMUM with AFFECT_CURRENT in both
        // of libvirt's drivers (qemuDomainSetMaxMemory, testDomainSetMaxMemory).
        p::DOMAIN_SET_MAX_MEMORY => h!(body, |a: r::DomainUHyperArgs| c.domain_set_memory(
            &dom_in(a.dom),
            a.value,
            flags::mem::MAXIMUM
        )?),
        p::DOMAIN_SET_MEMORY_FLAGS => h!(body, |a: r::DomainUHyperFlagsArgs| c.domain_set_memory(
            &dom_in(a.dom),
            a.value,
            a.flags
        )?),
        p::DOMAIN_SET_VCPUS => h!(body, |a: r::DomainUIntArgs| c.domain_set_vcpus(
            &dom_in(a.dom),
            a.value,
            0
        )?),
        p::DOMAIN_SET_VCPUS_FLAGS => h!(body, |a: r::DomainUIntFlagsArgs| c.domain_set_vcpus(
            &dom_in(a.dom),
            a.value,
            a.flags
        )?),
        p::DOMAIN_GET_VCPUS_FLAGS => h!(body, |a: r::DomainFlagsArgs| r::IntRet {
            value: c.domain_get_vcpus_flags(&dom_in(a.dom), a.flags)?
        }),
        p::DOMAIN_GET_MAX_VCPUS => h!(body, |a: r::DomainArgs| r::IntRet {
            value: c.domain_get_max_vcpus(&dom_in(a.dom))?
        }),
        p::DOMAIN_GET_VCPUS => {
            let a: r::DomainGetVcpusArgs = decode(body)?;
            if a.maxinfo < 0 || a.maxinfo as usize > max::VCPUINFO {
                return Err(Error::raw(
                    code::RPC,
                    from::RPC,
                    "maxinfo > REMOTE_VCPUINFO_MAX",
                ));
            }
            if a.maplen < 0 || (a.maxinfo as usize).saturating_mul(a.maplen as usize) > max::CPUMAPS
            {
                return Err(Error::raw(
                    code::RPC,
                    from::RPC,
                    "maxinfo * maplen > REMOTE_CPUMAPS_MAX",
                ));
            }
            let (info, maps) = c.domain_get_vcpus(&dom_in(a.dom), a.maxinfo, a.maplen)?;
            enc(&r::DomainGetVcpusRet {
                info: info
                    .into_iter()
                    .map(|v| r::VcpuInfoWire {
                        number: v.number,
                        state: v.state,
                        cpu_time: v.cpu_time,
                        cpu: v.cpu,
                    })
                    .collect(),
                cpumaps: Opaque(maps),
            })
        }
        p::DOMAIN_GET_SCHEDULER_TYPE => {
            let a: r::DomainArgs = decode(body)?;
            let (kind, nparams) = c.domain_get_scheduler_type(&dom_in(a.dom))?;
            enc(&r::DomainGetSchedulerTypeRet { kind, nparams })
        }
        p::DOMAIN_GET_SCHEDULER_PARAMETERS => {
            let a: r::DomainIntArgs = decode(body)?;
            let ps = c.domain_get_scheduler_parameters(&dom_in(a.dom), a.value, 0)?;
            enc(&r::TypedParamsRet {
                params: params_out(ps, 0),
            })
        }
        p::DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS => {
            let a: r::DomainGetParamsArgs = decode(body)?;
            let ps = c.domain_get_scheduler_parameters(&dom_in(a.dom), a.nparams, a.flags)?;
            enc(&r::TypedParamsRet {
                params: params_out(ps, a.flags),
            })
        }
        p::DOMAIN_SET_SCHEDULER_PARAMETERS => {
            let a: r::DomainParamsArgs = decode(body)?;
            let ps: Vec<TypedParam> = a.params.into_iter().map(param_in).collect();
            c.domain_set_scheduler_parameters(&dom_in(a.dom), &ps, 0)?;
            enc(&())
        }
        p::DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS => {
            let a: r::DomainSetParamsArgs = decode(body)?;
            let ps: Vec<TypedParam> = a.params.into_iter().map(param_in).collect();
            c.domain_set_scheduler_parameters(&dom_in(a.dom), &ps, a.flags)?;
            enc(&())
        }
        p::DOMAIN_BLOCK_STATS => {
            let a: r::DomainStringArgs = decode(body)?;
            let s = c.domain_block_stats(&dom_in(a.dom), &a.value)?;
            enc(&r::DomainBlockStatsRet {
                rd_req: s.rd_req,
                rd_bytes: s.rd_bytes,
                wr_req: s.wr_req,
                wr_bytes: s.wr_bytes,
                errs: s.errs,
            })
        }
        p::DOMAIN_INTERFACE_STATS => {
            let a: r::DomainStringArgs = decode(body)?;
            let s = c.domain_interface_stats(&dom_in(a.dom), &a.value)?;
            enc(&r::DomainInterfaceStatsRet {
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
        p::DOMAIN_MEMORY_STATS => {
            let a: r::DomainMemoryStatsArgs = decode(body)?;
            if a.max_stats as usize > max::MEMORY_STATS {
                return Err(Error::raw(
                    code::RPC,
                    from::RPC,
                    "maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX",
                ));
            }
            let s = c.domain_memory_stats(&dom_in(a.dom), a.max_stats, a.flags)?;
            enc(&r::DomainMemoryStatsRet {
                stats: s
                    .into_iter()
                    .map(|m| r::MemoryStatWire {
                        tag: m.tag,
                        val: m.val,
                    })
                    .collect(),
            })
        }
        p::DOMAIN_GET_BLOCK_INFO => {
            let a: r::DomainStringFlagsArgs = decode(body)?;
            let i = c.domain_get_block_info(&dom_in(a.dom), &a.value, a.flags)?;
            enc(&r::DomainGetBlockInfoRet {
                allocation: i.allocation,
                capacity: i.capacity,
                physical: i.physical,
            })
        }
        p::DOMAIN_BLOCK_PEEK => {
            let a: r::DomainBlockPeekArgs = decode(body)?;
            if a.size as usize > max::DOMAIN_BLOCK_PEEK_BUFFER {
                return Err(Error::raw(
                    code::RPC,
                    from::RPC,
                    "size > maximum buffer size",
                ));
            }
            let buf = c.domain_block_peek(
                &dom_in(a.dom),
                &a.path,
                a.offset,
                u64::from(a.size),
                a.flags,
            )?;
            enc(&r::DomainBlockPeekRet {
                buffer: Opaque(buf),
            })
        }
        p::DOMAIN_BLOCK_RESIZE => h!(body, |a: r::DomainBlockResizeArgs| c.domain_block_resize(
            &dom_in(a.dom),
            &a.disk,
            a.size,
            a.flags
        )?),
        p::DOMAIN_MIGRATE_SET_MAX_SPEED => h!(body, |a: r::DomainUHyperFlagsArgs| c
            .domain_migrate_set_max_speed(&dom_in(a.dom), a.value, a.flags)?),
        p::DOMAIN_MIGRATE_GET_MAX_SPEED => {
            let a: r::DomainFlagsArgs = decode(body)?;
            enc(&r::UHyperRet {
                value: c.domain_migrate_get_max_speed(&dom_in(a.dom), a.flags)?,
            })
        }
        p::CONNECT_GET_ALL_DOMAIN_STATS => {
            let a: r::ConnectGetAllDomainStatsArgs = decode(body)?;
            let doms: Vec<DomainRef> = a.doms.into_iter().map(dom_in).collect();
            let list = if doms.is_empty() {
                None
            } else {
                Some(&doms[..])
            };
            let recs = c.get_all_domain_stats(list, a.stats, a.flags)?;
            enc(&r::ConnectGetAllDomainStatsRet {
                ret_stats: recs
                    .into_iter()
                    .map(|(d, ps)| r::DomainStatsRecord {
                        dom: dom_out(d),
                        params: params_out(ps, flags::typed_param::STRING_OKAY),
                    })
                    .collect(),
            })
        }
        p::DOMAIN_INTERFACE_ADDRESSES => {
            let a: r::DomainInterfaceAddressesArgs = decode(body)?;
            let ifs = c.domain_interface_addresses(&dom_in(a.dom), a.source, a.flags)?;
            enc(&r::DomainInterfaceAddressesRet {
                ifaces: ifs
                    .into_iter()
                    .map(|i| r::DomainInterfaceWire {
                        name: i.name,
                        hwaddr: i.hwaddr,
                        addrs: i
                            .addrs
                            .into_iter()
                            .map(|a| r::DomainIpAddrWire {
                                kind: a.kind,
                                addr: a.addr,
                                prefix: a.prefix,
                            })
                            .collect(),
                    })
                    .collect(),
            })
        }

        // ---- typed parameters ---------------------------------------------
        p::DOMAIN_GET_BLKIO_PARAMETERS
        | p::DOMAIN_GET_MEMORY_PARAMETERS
        | p::DOMAIN_GET_NUMA_PARAMETERS => {
            let a: r::DomainGetParamsArgs = decode(body)?;
            let d = dom_in(a.dom);
            let ps = match proc_ {
                p::DOMAIN_GET_BLKIO_PARAMETERS => {
                    c.domain_get_blkio_parameters(&d, a.nparams, a.flags)?
                }
                p::DOMAIN_GET_MEMORY_PARAMETERS => {
                    c.domain_get_memory_parameters(&d, a.nparams, a.flags)?
                }
                _ => c.domain_get_numa_parameters(&d, a.nparams, a.flags)?,
            };
            params_count_ret(ps, a.nparams, a.flags)
        }
        p::DOMAIN_SET_BLKIO_PARAMETERS
        | p::DOMAIN_SET_MEMORY_PARAMETERS
        | p::DOMAIN_SET_NUMA_PARAMETERS => {
            let a: r::DomainSetParamsArgs = decode(body)?;
            let d = dom_in(a.dom);
            let ps: Vec<TypedParam> = a.params.into_iter().map(param_in).collect();
            match proc_ {
                p::DOMAIN_SET_BLKIO_PARAMETERS => {
                    c.domain_set_blkio_parameters(&d, &ps, a.flags)?
                }
                p::DOMAIN_SET_MEMORY_PARAMETERS => {
                    c.domain_set_memory_parameters(&d, &ps, a.flags)?
                }
                _ => c.domain_set_numa_parameters(&d, &ps, a.flags)?,
            }
            enc(&())
        }
        p::DOMAIN_GET_PERF_EVENTS => {
            let a: r::DomainFlagsArgs = decode(body)?;
            let ps = c.domain_get_perf_events(&dom_in(a.dom), a.flags)?;
            enc(&r::TypedParamsRet {
                params: params_out(ps, a.flags),
            })
        }
        p::DOMAIN_SET_PERF_EVENTS => {
            let a: r::DomainSetParamsArgs = decode(body)?;
            let ps: Vec<TypedParam> = a.params.into_iter().map(param_in).collect();
            c.domain_set_perf_events(&dom_in(a.dom), &ps, a.flags)?;
            enc(&())
        }
        p::DOMAIN_SET_LIFECYCLE_ACTION => {
            let a: r::DomainSetLifecycleActionArgs = decode(body)?;
            c.domain_set_lifecycle_action(&dom_in(a.dom), a.kind, a.action, a.flags)?;
            enc(&())
        }
        p::DOMAIN_GET_BLOCK_IO_TUNE => {
            let a: r::DomainGetBlockIoTuneArgs = decode(body)?;
            let ps =
                c.domain_get_block_io_tune(&dom_in(a.dom), a.disk.as_deref(), a.nparams, a.flags)?;
            params_count_ret(ps, a.nparams, a.flags)
        }
        p::DOMAIN_SET_BLOCK_IO_TUNE => {
            let a: r::DomainDeviceSetParamsArgs = decode(body)?;
            let ps: Vec<TypedParam> = a.params.into_iter().map(param_in).collect();
            c.domain_set_block_io_tune(&dom_in(a.dom), &a.device, &ps, a.flags)?;
            enc(&())
        }
        p::DOMAIN_GET_INTERFACE_PARAMETERS => {
            let a: r::DomainDeviceGetParamsArgs = decode(body)?;
            let ps =
                c.domain_get_interface_parameters(&dom_in(a.dom), &a.device, a.nparams, a.flags)?;
            params_count_ret(ps, a.nparams, a.flags)
        }
        p::DOMAIN_SET_INTERFACE_PARAMETERS => {
            let a: r::DomainDeviceSetParamsArgs = decode(body)?;
            let ps: Vec<TypedParam> = a.params.into_iter().map(param_in).collect();
            c.domain_set_interface_parameters(&dom_in(a.dom), &a.device, &ps, a.flags)?;
            enc(&())
        }
        p::DOMAIN_BLOCK_STATS_FLAGS => {
            let a: r::DomainDeviceGetParamsArgs = decode(body)?;
            let ps = c.domain_block_stats_flags(&dom_in(a.dom), &a.device, a.nparams, a.flags)?;
            params_count_ret(ps, a.nparams, a.flags)
        }
        p::DOMAIN_GET_JOB_STATS => {
            let a: r::DomainFlagsArgs = decode(body)?;
            let (job_type, ps) = c.domain_get_job_stats(&dom_in(a.dom), a.flags)?;
            enc(&r::DomainGetJobStatsRet {
                job_type,
                params: params_out(ps, flags::typed_param::STRING_OKAY),
            })
        }
        p::DOMAIN_GET_CPU_STATS => {
            let a: r::DomainGetCpuStatsArgs = decode(body)?;
            cpu_stats(c, a)
        }
        p::NODE_GET_CPU_STATS | p::NODE_GET_MEMORY_STATS => {
            let (nparams, stats) = if proc_ == p::NODE_GET_CPU_STATS {
                let a: r::NodeGetCpuStatsArgs = decode(body)?;
                (a.nparams, c.node_cpu_stats(a.cpu_num, a.flags)?)
            } else {
                let a: r::NodeGetMemoryStatsArgs = decode(body)?;
                (a.nparams, c.node_memory_stats(a.cell_num, a.flags)?)
            };
            let n = stats.len() as i32;
            enc(&r::NodeStatsRet {
                params: if nparams == 0 {
                    Vec::new()
                } else {
                    stats
                        .into_iter()
                        .take(nparams.max(0) as usize)
                        .map(|(field, value)| r::NodeStatWire { field, value })
                        .collect()
                },
                nparams: n,
            })
        }

        // ---- iothreads and pinning ------------------------------------------
        p::DOMAIN_GET_IOTHREAD_INFO => {
            let a: r::DomainFlagsArgs = decode(body)?;
            let v = c.domain_get_iothread_info(&dom_in(a.dom), a.flags)?;
            check_len(v.len(), max::IOTHREAD_INFO, "iothreads")?;
            let n = v.len() as u32;
            enc(&r::DomainGetIothreadInfoRet {
                info: v
                    .into_iter()
                    .map(|i| r::IothreadInfoWire {
                        iothread_id: i.iothread_id,
                        cpumap: Opaque(i.cpumap),
                    })
                    .collect(),
                ret: n,
            })
        }
        p::DOMAIN_ADD_IOTHREAD => h!(body, |a: r::DomainUIntFlagsArgs| c.domain_add_iothread(
            &dom_in(a.dom),
            a.value,
            a.flags
        )?),
        p::DOMAIN_DEL_IOTHREAD => h!(body, |a: r::DomainUIntFlagsArgs| c.domain_del_iothread(
            &dom_in(a.dom),
            a.value,
            a.flags
        )?),
        p::DOMAIN_PIN_IOTHREAD => h!(body, |a: r::DomainPinArgs| c.domain_pin_iothread(
            &dom_in(a.dom),
            a.which,
            &a.cpumap.0,
            a.flags
        )?),
        p::DOMAIN_SET_IOTHREAD_PARAMS => {
            let a: r::DomainSetIothreadParamsArgs = decode(body)?;
            let ps: Vec<TypedParam> = a.params.into_iter().map(param_in).collect();
            c.domain_set_iothread_params(&dom_in(a.dom), a.iothread_id, &ps, a.flags)?;
            enc(&())
        }
        p::DOMAIN_PIN_VCPU_FLAGS => h!(body, |a: r::DomainPinArgs| c.domain_pin_vcpu(
            &dom_in(a.dom),
            a.which,
            &a.cpumap.0,
            a.flags
        )?),
        p::DOMAIN_PIN_VCPU => h!(body, |a: r::DomainPinVcpuArgs| c.domain_pin_vcpu(
            &dom_in(a.dom),
            a.vcpu,
            &a.cpumap.0,
            // virDomainPinVcpu has no flags: drivers treat it as "current".
            flags::affect::CURRENT
        )?),
        p::DOMAIN_PIN_EMULATOR => h!(body, |a: r::DomainPinEmulatorArgs| c.domain_pin_emulator(
            &dom_in(a.dom),
            &a.cpumap.0,
            a.flags
        )?),
        p::DOMAIN_GET_VCPU_PIN_INFO => {
            let a: r::DomainGetVcpuPinInfoArgs = decode(body)?;
            if a.ncpumaps < 0
                || a.maplen < 0
                || (a.ncpumaps as usize).saturating_mul(a.maplen as usize) > max::CPUMAPS
            {
                return Err(Error::raw(
                    code::RPC,
                    from::RPC,
                    "maxinfo * maplen > REMOTE_CPUMAPS_MAX",
                ));
            }
            let (maps, num) =
                c.domain_get_vcpu_pin_info(&dom_in(a.dom), a.ncpumaps, a.maplen, a.flags)?;
            enc(&r::CpumapsRet {
                cpumaps: Opaque(maps),
                num,
            })
        }
        p::DOMAIN_GET_EMULATOR_PIN_INFO => {
            let a: r::DomainIntFlagsArgs = decode(body)?;
            if a.value < 0 || a.value as usize > max::CPUMAP {
                return Err(Error::raw(
                    code::RPC,
                    from::RPC,
                    "maplen > REMOTE_CPUMAPS_MAX",
                ));
            }
            let (maps, num) = c.domain_get_emulator_pin_info(&dom_in(a.dom), a.value, a.flags)?;
            enc(&r::CpumapsRet {
                cpumaps: Opaque(maps),
                num,
            })
        }
        p::DOMAIN_SET_MEMORY_STATS_PERIOD => h!(body, |a: r::DomainIntFlagsArgs| c
            .domain_set_memory_stats_period(&dom_in(a.dom), a.value, a.flags)?),
        p::DOMAIN_PM_SUSPEND_FOR_DURATION => h!(body, |a: r::DomainPmSuspendArgs| c
            .domain_pm_suspend(&dom_in(a.dom), a.target, a.duration, a.flags)?),
        p::DOMAIN_SEND_KEY => h!(body, |a: r::DomainSendKeyArgs| c.domain_send_key(
            &dom_in(a.dom),
            a.codeset,
            a.holdtime,
            &a.keycodes,
            a.flags
        )?),
        p::DOMAIN_CORE_DUMP => h!(body, |a: r::DomainCoreDumpArgs| c.domain_core_dump(
            &dom_in(a.dom),
            &a.to,
            0,
            a.flags
        )?),
        p::DOMAIN_CORE_DUMP_WITH_FORMAT => h!(body, |a: r::DomainCoreDumpWithFormatArgs| c
            .domain_core_dump(&dom_in(a.dom), &a.to, a.dumpformat, a.flags)?),
        p::DOMAIN_SAVE_IMAGE_DEFINE_XML => h!(body, |a: r::SaveImageDefineXmlArgs| c
            .domain_save_image_define_xml(&a.file, &a.dxml, a.flags)?),
        p::DOMAIN_MANAGED_SAVE_DEFINE_XML => {
            let a: r::ManagedSaveDefineXmlArgs = decode(body)?;
            let dxml = a.dxml.unwrap_or_default();
            c.domain_managed_save_define_xml(&dom_in(a.dom), &dxml, a.flags)?;
            enc(&())
        }

        // ---- checkpoints ------------------------------------------------------
        p::DOMAIN_CHECKPOINT_CREATE_XML => {
            let a: r::DomainStringFlagsArgs = decode(body)?;
            let cp = c.checkpoint_create_xml(&dom_in(a.dom), &a.value, a.flags)?;
            enc(&r::CheckpointRet {
                checkpoint: cp_out(cp),
            })
        }
        p::DOMAIN_CHECKPOINT_GET_XML_DESC => h!(body, |a: r::CheckpointFlagsArgs| string(
            c.checkpoint_get_xml_desc(&cp_in(a.checkpoint), a.flags)?
        )),
        p::DOMAIN_LIST_ALL_CHECKPOINTS => {
            let a: r::DomainListAllArgs = decode(body)?;
            let v = c.list_all_checkpoints(&dom_in(a.dom), a.flags)?;
            checkpoints_ret(v, a.need_results)
        }
        p::DOMAIN_CHECKPOINT_LIST_ALL_CHILDREN => {
            let a: r::CheckpointListAllArgs = decode(body)?;
            let v = c.checkpoint_list_all_children(&cp_in(a.checkpoint), a.flags)?;
            checkpoints_ret(v, a.need_results)
        }
        p::DOMAIN_CHECKPOINT_LOOKUP_BY_NAME => {
            let a: r::DomainStringFlagsArgs = decode(body)?;
            let cp = c.checkpoint_lookup_by_name(&dom_in(a.dom), &a.value, a.flags)?;
            enc(&r::CheckpointRet {
                checkpoint: cp_out(cp),
            })
        }
        p::DOMAIN_CHECKPOINT_GET_PARENT => {
            let a: r::CheckpointFlagsArgs = decode(body)?;
            let cp = c.checkpoint_get_parent(&cp_in(a.checkpoint), a.flags)?;
            enc(&r::CheckpointRet {
                checkpoint: cp_out(cp),
            })
        }
        p::DOMAIN_CHECKPOINT_DELETE => h!(body, |a: r::CheckpointFlagsArgs| c
            .checkpoint_delete(&cp_in(a.checkpoint), a.flags)?),

        // ---- devices ------------------------------------------------------
        p::DOMAIN_ATTACH_DEVICE => h!(body, |a: r::DomainStringArgs| c
            .domain_attach_device_plain(&dom_in(a.dom), &a.value)?),
        p::DOMAIN_ATTACH_DEVICE_FLAGS => h!(body, |a: r::DomainStringFlagsArgs| c
            .domain_attach_device(&dom_in(a.dom), &a.value, a.flags)?),
        p::DOMAIN_DETACH_DEVICE => h!(body, |a: r::DomainStringArgs| c
            .domain_detach_device_plain(&dom_in(a.dom), &a.value)?),
        p::DOMAIN_DETACH_DEVICE_FLAGS => h!(body, |a: r::DomainStringFlagsArgs| c
            .domain_detach_device(&dom_in(a.dom), &a.value, a.flags)?),
        p::DOMAIN_DETACH_DEVICE_ALIAS => h!(body, |a: r::DomainStringFlagsArgs| c
            .domain_detach_device_alias(&dom_in(a.dom), &a.value, a.flags)?),
        p::DOMAIN_UPDATE_DEVICE_FLAGS => h!(body, |a: r::DomainStringFlagsArgs| c
            .domain_update_device(&dom_in(a.dom), &a.value, a.flags)?),

        // ---- events ---------------------------------------------------------
        p::CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY => {
            let a: r::ConnectDomainEventCallbackRegisterAnyArgs = decode(body)?;
            let wire_id = server.next_callback_id();
            let cb = events::domain_callback(session.sender(), wire_id);
            let d = a.dom.map(dom_in);
            let driver_id = c.domain_event_register(d.as_ref(), a.event_id, cb)?;
            session.add_callback(Callback {
                wire_id,
                driver_id,
                family: CallbackFamily::Domain,
            });
            enc(&r::IntRet { value: wire_id })
        }
        p::CONNECT_NETWORK_EVENT_REGISTER_ANY => {
            let a: r::ConnectNetworkEventRegisterAnyArgs = decode(body)?;
            let wire_id = server.next_callback_id();
            let cb = events::network_callback(session.sender(), wire_id);
            let n = a.net.map(net_in);
            let driver_id = c.network_event_register(n.as_ref(), a.event_id, cb)?;
            session.add_callback(Callback {
                wire_id,
                driver_id,
                family: CallbackFamily::Network,
            });
            enc(&r::IntRet { value: wire_id })
        }
        p::CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY => {
            let a: r::ConnectStoragePoolEventRegisterAnyArgs = decode(body)?;
            // libvirtd checks the id itself, before the driver sees it.
            if !(0..events::POOL_EVENT_ID_LAST).contains(&a.event_id) {
                return Err(Error::new(
                    code::INTERNAL_ERROR,
                    from::RPC,
                    format!("unsupported storage pool event ID {}", a.event_id),
                ));
            }
            let wire_id = server.next_callback_id();
            let cb = events::pool_callback(session.sender(), wire_id);
            let pl = a.pool.map(pool_in);
            let driver_id = c.pool_event_register(pl.as_ref(), a.event_id, cb)?;
            session.add_callback(Callback {
                wire_id,
                driver_id,
                family: CallbackFamily::Pool,
            });
            enc(&r::IntRet { value: wire_id })
        }
        p::CONNECT_SECRET_EVENT_REGISTER_ANY => {
            let a: r::ConnectSecretEventRegisterAnyArgs = decode(body)?;
            if !(0..events::SECRET_EVENT_ID_LAST).contains(&a.event_id) {
                return Err(Error::new(
                    code::INTERNAL_ERROR,
                    from::RPC,
                    format!("unsupported secret event ID {}", a.event_id),
                ));
            }
            let wire_id = server.next_callback_id();
            let cb = events::secret_callback(session.sender(), wire_id);
            let s = a.secret.map(secret_in);
            let driver_id = c.secret_event_register(s.as_ref(), a.event_id, cb)?;
            session.add_callback(Callback {
                wire_id,
                driver_id,
                family: CallbackFamily::Secret,
            });
            enc(&r::IntRet { value: wire_id })
        }
        p::CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY => {
            let a: r::ConnectNodeDeviceEventRegisterAnyArgs = decode(body)?;
            // libvirtd checks the id itself, before the driver sees it.
            if !(0..events::NODE_DEVICE_EVENT_ID_LAST).contains(&a.event_id) {
                return Err(Error::new(
                    code::INTERNAL_ERROR,
                    from::RPC,
                    format!("unsupported node device event ID {}", a.event_id),
                ));
            }
            let wire_id = server.next_callback_id();
            let cb = events::node_device_callback(session.sender(), wire_id, a.event_id);
            let d = a.dev.map(|d| NodeDevRef { name: d.name });
            let driver_id = c.node_device_event_register(d.as_ref(), a.event_id, cb)?;
            session.add_callback(Callback {
                wire_id,
                driver_id,
                family: CallbackFamily::NodeDevice,
            });
            enc(&r::IntRet { value: wire_id })
        }
        p::CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY
        | p::CONNECT_NETWORK_EVENT_DEREGISTER_ANY
        | p::CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY
        | p::CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY
        | p::CONNECT_SECRET_EVENT_DEREGISTER_ANY => {
            let a: r::IntArgs = decode(body)?;
            let family = match proc_ {
                p::CONNECT_NETWORK_EVENT_DEREGISTER_ANY => CallbackFamily::Network,
                p::CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY => CallbackFamily::Pool,
                p::CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY => CallbackFamily::NodeDevice,
                p::CONNECT_SECRET_EVENT_DEREGISTER_ANY => CallbackFamily::Secret,
                _ => CallbackFamily::Domain,
            };
            let Some(cb) = session.take_callback(a.value, family) else {
                let what = match family {
                    CallbackFamily::Domain => "domain",
                    CallbackFamily::Network => "network",
                    CallbackFamily::Pool => "storage pool",
                    CallbackFamily::NodeDevice => "node device",
                    // libvirtd 9.0 says so for secrets too.
                    CallbackFamily::Secret => "node device",
                };
                return Err(Error::new(
                    code::INTERNAL_ERROR,
                    from::RPC,
                    format!("{} event callback {} not registered", what, a.value),
                ));
            };
            events::deregister(c, &cb)?;
            enc(&())
        }

        // ---- snapshots ------------------------------------------------------
        p::DOMAIN_SNAPSHOT_CREATE_XML => {
            let a: r::DomainStringFlagsArgs = decode(body)?;
            let s = c.snapshot_create_xml(&dom_in(a.dom), &a.value, a.flags)?;
            enc(&r::SnapshotRet { snap: snap_out(s) })
        }
        p::DOMAIN_SNAPSHOT_GET_XML_DESC => h!(body, |a: r::SnapshotFlagsArgs| string(
            c.snapshot_get_xml_desc(&snap_in(a.snap), a.flags)?
        )),
        p::DOMAIN_SNAPSHOT_NUM => h!(body, |a: r::DomainFlagsArgs| r::IntRet {
            value: c.snapshot_num(&dom_in(a.dom), a.flags)?
        }),
        p::DOMAIN_SNAPSHOT_LOOKUP_BY_NAME => {
            let a: r::DomainStringFlagsArgs = decode(body)?;
            let s = c.snapshot_lookup_by_name(&dom_in(a.dom), &a.value, a.flags)?;
            enc(&r::SnapshotRet { snap: snap_out(s) })
        }
        p::DOMAIN_HAS_CURRENT_SNAPSHOT => h!(body, |a: r::DomainFlagsArgs| int(
            c.has_current_snapshot(&dom_in(a.dom), a.flags)?
        )),
        p::DOMAIN_SNAPSHOT_CURRENT => {
            let a: r::DomainFlagsArgs = decode(body)?;
            let s = c.snapshot_current(&dom_in(a.dom), a.flags)?;
            enc(&r::SnapshotRet { snap: snap_out(s) })
        }
        p::DOMAIN_SNAPSHOT_GET_PARENT => {
            let a: r::SnapshotFlagsArgs = decode(body)?;
            let s = c.snapshot_get_parent(&snap_in(a.snap), a.flags)?;
            enc(&r::SnapshotRet { snap: snap_out(s) })
        }
        p::DOMAIN_SNAPSHOT_NUM_CHILDREN => h!(body, |a: r::SnapshotFlagsArgs| r::IntRet {
            value: c.snapshot_num_children(&snap_in(a.snap), a.flags)?
        }),
        p::DOMAIN_SNAPSHOT_IS_CURRENT => h!(body, |a: r::SnapshotFlagsArgs| int(
            c.snapshot_is_current(&snap_in(a.snap), a.flags)?
        )),
        p::DOMAIN_SNAPSHOT_HAS_METADATA => h!(body, |a: r::SnapshotFlagsArgs| int(
            c.snapshot_has_metadata(&snap_in(a.snap), a.flags)?
        )),
        p::DOMAIN_REVERT_TO_SNAPSHOT => h!(body, |a: r::SnapshotFlagsArgs| c
            .snapshot_revert(&snap_in(a.snap), a.flags)?),
        p::DOMAIN_SNAPSHOT_DELETE => h!(body, |a: r::SnapshotFlagsArgs| c
            .snapshot_delete(&snap_in(a.snap), a.flags)?),
        p::DOMAIN_LIST_ALL_SNAPSHOTS => {
            let a: r::DomainListAllArgs = decode(body)?;
            let v = c.list_all_snapshots(&dom_in(a.dom), a.flags)?;
            snapshots_ret(v, a.need_results)
        }
        p::DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN => {
            let a: r::SnapshotListAllArgs = decode(body)?;
            let v = c.snapshot_list_all_children(&snap_in(a.snap), a.flags)?;
            snapshots_ret(v, a.need_results)
        }

        // ---- networks -------------------------------------------------------
        p::CONNECT_LIST_ALL_NETWORKS => {
            let a: r::ListAllArgs = decode(body)?;
            let v = c.list_all_networks(a.flags)?;
            check_len(v.len(), max::NETWORK_LIST, "networks")?;
            let n = v.len() as u32;
            enc(&r::ListAllNetworksRet {
                nets: results(v, a.need_results, net_out),
                ret: n,
            })
        }
        p::NETWORK_LOOKUP_BY_NAME => h!(body, |a: r::StringArgs| r::NetworkRet {
            net: net_out(c.lookup_network_by_name(&a.value)?)
        }),
        p::NETWORK_LOOKUP_BY_UUID => h!(body, |a: r::UuidArgs| r::NetworkRet {
            net: net_out(c.lookup_network_by_uuid(&Uuid(a.uuid))?)
        }),
        p::NETWORK_DEFINE_XML => h!(body, |a: r::StringArgs| r::NetworkRet {
            net: net_out(c.network_define_xml(&a.value, 0)?)
        }),
        p::NETWORK_DEFINE_XML_FLAGS => h!(body, |a: r::StringFlagsArgs| r::NetworkRet {
            net: net_out(c.network_define_xml(&a.value, a.flags)?)
        }),
        p::NETWORK_CREATE_XML => h!(body, |a: r::StringArgs| r::NetworkRet {
            net: net_out(c.network_create_xml(&a.value, 0)?)
        }),
        p::NETWORK_CREATE_XML_FLAGS => h!(body, |a: r::StringFlagsArgs| r::NetworkRet {
            net: net_out(c.network_create_xml(&a.value, a.flags)?)
        }),
        p::NETWORK_UNDEFINE => h!(body, |a: r::NetworkArgs| c
            .network_undefine(&net_in(a.net))?),
        p::NETWORK_CREATE => h!(body, |a: r::NetworkArgs| c
            .network_create(&net_in(a.net))?),
        p::NETWORK_DESTROY => h!(body, |a: r::NetworkArgs| c
            .network_destroy(&net_in(a.net))?),
        p::NETWORK_GET_XML_DESC => h!(body, |a: r::NetworkFlagsArgs| string(
            c.network_get_xml_desc(&net_in(a.net), a.flags)?
        )),
        p::NETWORK_GET_BRIDGE_NAME => h!(body, |a: r::NetworkArgs| string(
            c.network_get_bridge_name(&net_in(a.net))?
        )),
        p::NETWORK_GET_AUTOSTART => h!(body, |a: r::NetworkArgs| int(
            c.network_get_autostart(&net_in(a.net))?
        )),
        p::NETWORK_SET_AUTOSTART => h!(body, |a: r::NetworkIntArgs| c
            .network_set_autostart(&net_in(a.net), a.value != 0)?),
        p::NETWORK_IS_ACTIVE => h!(body, |a: r::NetworkArgs| int(
            c.network_is_active(&net_in(a.net))?
        )),
        p::NETWORK_IS_PERSISTENT => h!(body, |a: r::NetworkArgs| int(
            c.network_is_persistent(&net_in(a.net))?
        )),
        p::NETWORK_UPDATE => h!(body, |a: r::NetworkUpdateArgs| c.network_update(
            &net_in(a.net),
            a.command,
            a.section,
            a.parent_index,
            &a.xml,
            a.flags
        )?),
        p::NETWORK_GET_DHCP_LEASES => {
            let a: r::NetworkGetDhcpLeasesArgs = decode(body)?;
            let v = c.network_get_dhcp_leases(&net_in(a.net), a.mac.as_deref(), a.flags)?;
            check_len(v.len(), max::NETWORK_DHCP_LEASES, "leases")?;
            let n = v.len() as u32;
            enc(&r::NetworkGetDhcpLeasesRet {
                leases: results(v, a.need_results, |l| r::NetworkDhcpLeaseWire {
                    iface: l.iface,
                    expirytime: l.expirytime,
                    kind: l.kind,
                    mac: l.mac,
                    iaid: l.iaid,
                    ipaddr: l.ipaddr,
                    prefix: l.prefix,
                    hostname: l.hostname,
                    clientid: l.clientid,
                }),
                ret: n,
            })
        }
        p::NETWORK_LIST_ALL_PORTS => {
            let a: r::NetworkListAllPortsArgs = decode(body)?;
            let net = a.net.clone();
            let v = c.list_all_network_ports(&net_in(a.net), a.flags)?;
            check_len(v.len(), max::NETWORK_PORT_LIST, "network ports")?;
            let n = v.len() as u32;
            enc(&r::NetworkListAllPortsRet {
                ports: results(v, a.need_results, |p| port_out(p, &net)),
                ret: n,
            })
        }
        p::NETWORK_PORT_LOOKUP_BY_UUID => {
            let a: r::NetworkPortLookupByUuidArgs = decode(body)?;
            let net = a.net.clone();
            let p = c.lookup_network_port_by_uuid(&net_in(a.net), &Uuid(a.uuid))?;
            enc(&r::NetworkPortRet {
                port: port_out(p, &net),
            })
        }
        p::NETWORK_PORT_CREATE_XML => {
            let a: r::NetworkPortCreateXmlArgs = decode(body)?;
            let net = a.net.clone();
            let p = c.network_port_create_xml(&net_in(a.net), &a.xml, a.flags)?;
            enc(&r::NetworkPortRet {
                port: port_out(p, &net),
            })
        }
        p::NETWORK_PORT_GET_XML_DESC => h!(body, |a: r::NetworkPortFlagsArgs| string(
            c.network_port_get_xml_desc(&port_in(a.port), a.flags)?
        )),
        p::NETWORK_PORT_DELETE => h!(body, |a: r::NetworkPortFlagsArgs| c
            .network_port_delete(&port_in(a.port), a.flags)?),

        // ---- storage pools ----------------------------------------------------
        p::CONNECT_LIST_ALL_STORAGE_POOLS => {
            let a: r::ListAllArgs = decode(body)?;
            let v = c.list_all_storage_pools(a.flags)?;
            check_len(v.len(), max::STORAGE_POOL_LIST, "storage pools")?;
            let n = v.len() as u32;
            enc(&r::ListAllStoragePoolsRet {
                pools: results(v, a.need_results, pool_out),
                ret: n,
            })
        }
        p::STORAGE_POOL_LOOKUP_BY_NAME => h!(body, |a: r::StringArgs| r::PoolRet {
            pool: pool_out(c.lookup_pool_by_name(&a.value)?)
        }),
        p::STORAGE_POOL_LOOKUP_BY_UUID => h!(body, |a: r::UuidArgs| r::PoolRet {
            pool: pool_out(c.lookup_pool_by_uuid(&Uuid(a.uuid))?)
        }),
        p::STORAGE_POOL_LOOKUP_BY_VOLUME => h!(body, |a: r::VolArgs| r::PoolRet {
            pool: pool_out(c.lookup_pool_by_volume(&vol_in(a.vol))?)
        }),
        p::CONNECT_FIND_STORAGE_POOL_SOURCES => {
            h!(body, |a: r::FindStoragePoolSourcesArgs| string(
                c.find_storage_pool_sources(&a.kind, a.src_spec.as_deref(), a.flags)?
            ))
        }
        p::STORAGE_POOL_DEFINE_XML => h!(body, |a: r::StringFlagsArgs| r::PoolRet {
            pool: pool_out(c.pool_define_xml(&a.value, a.flags)?)
        }),
        p::STORAGE_POOL_CREATE_XML => h!(body, |a: r::StringFlagsArgs| r::PoolRet {
            pool: pool_out(c.pool_create_xml(&a.value, a.flags)?)
        }),
        p::STORAGE_POOL_BUILD => h!(body, |a: r::PoolFlagsArgs| c
            .pool_build(&pool_in(a.pool), a.flags)?),
        p::STORAGE_POOL_CREATE => h!(body, |a: r::PoolFlagsArgs| c
            .pool_create(&pool_in(a.pool), a.flags)?),
        p::STORAGE_POOL_DESTROY => h!(body, |a: r::PoolArgs| c.pool_destroy(&pool_in(a.pool))?),
        p::STORAGE_POOL_DELETE => h!(body, |a: r::PoolFlagsArgs| c
            .pool_delete(&pool_in(a.pool), a.flags)?),
        p::STORAGE_POOL_UNDEFINE => h!(body, |a: r::PoolArgs| c.pool_undefine(&pool_in(a.pool))?),
        p::STORAGE_POOL_REFRESH => h!(body, |a: r::PoolFlagsArgs| c
            .pool_refresh(&pool_in(a.pool), a.flags)?),
        p::STORAGE_POOL_GET_INFO => {
            let a: r::PoolArgs = decode(body)?;
            let i = c.pool_get_info(&pool_in(a.pool))?;
            enc(&r::PoolGetInfoRet {
                state: i.state as u32,
                capacity: i.capacity,
                allocation: i.allocation,
                available: i.available,
            })
        }
        p::STORAGE_POOL_GET_XML_DESC => h!(body, |a: r::PoolFlagsArgs| string(
            c.pool_get_xml_desc(&pool_in(a.pool), a.flags)?
        )),
        p::STORAGE_POOL_GET_AUTOSTART => h!(body, |a: r::PoolArgs| int(
            c.pool_get_autostart(&pool_in(a.pool))?
        )),
        p::STORAGE_POOL_SET_AUTOSTART => h!(body, |a: r::PoolIntArgs| c
            .pool_set_autostart(&pool_in(a.pool), a.value != 0)?),
        p::STORAGE_POOL_IS_ACTIVE => h!(body, |a: r::PoolArgs| int(
            c.pool_is_active(&pool_in(a.pool))?
        )),
        p::STORAGE_POOL_IS_PERSISTENT => h!(body, |a: r::PoolArgs| int(
            c.pool_is_persistent(&pool_in(a.pool))?
        )),
        p::CONNECT_NUM_OF_STORAGE_POOLS | p::CONNECT_NUM_OF_DEFINED_STORAGE_POOLS => {
            let state = if proc_ == p::CONNECT_NUM_OF_STORAGE_POOLS {
                flags::list_objects::ACTIVE
            } else {
                flags::list_objects::INACTIVE
            };
            enc(&r::IntRet {
                value: c.list_all_storage_pools(state)?.len() as i32,
            })
        }
        p::CONNECT_LIST_STORAGE_POOLS | p::CONNECT_LIST_DEFINED_STORAGE_POOLS => {
            let a: r::MaxNamesArgs = decode(body)?;
            let max = legacy_list_max(
                a.maxnames,
                max::STORAGE_POOL_LIST,
                "maxnames",
                "STORAGE_POOL",
                if proc_ == p::CONNECT_LIST_STORAGE_POOLS {
                    "virConnectListStoragePools"
                } else {
                    "virConnectListDefinedStoragePools"
                },
            )?;
            let state = if proc_ == p::CONNECT_LIST_STORAGE_POOLS {
                flags::list_objects::ACTIVE
            } else {
                flags::list_objects::INACTIVE
            };
            let mut names: Vec<String> = c
                .list_all_storage_pools(state)?
                .into_iter()
                .map(|p| p.name)
                .collect();
            names.truncate(max);
            enc(&r::PoolNamesRet { names })
        }
        p::STORAGE_POOL_LIST_VOLUMES => {
            let a: r::PoolListVolumesArgs = decode(body)?;
            let max = legacy_list_max(
                a.maxnames,
                max::STORAGE_VOL_LIST,
                "maxnames",
                "STORAGE_VOL",
                "virStoragePoolListVolumes",
            )?;
            let mut names: Vec<String> = c
                .pool_list_all_volumes(&pool_in(a.pool), 0)?
                .into_iter()
                .map(|v| v.name)
                .collect();
            names.truncate(max);
            enc(&r::VolNamesRet { names })
        }
        p::STORAGE_POOL_NUM_OF_VOLUMES => h!(body, |a: r::PoolArgs| r::IntRet {
            value: c.pool_num_of_volumes(&pool_in(a.pool))?
        }),
        p::STORAGE_POOL_LIST_ALL_VOLUMES => {
            let a: r::PoolListAllArgs = decode(body)?;
            let v = c.pool_list_all_volumes(&pool_in(a.pool), a.flags)?;
            check_len(v.len(), max::STORAGE_VOL_LIST, "storage volumes")?;
            let n = v.len() as u32;
            enc(&r::PoolListAllVolumesRet {
                vols: results(v, a.need_results, vol_out),
                ret: n,
            })
        }

        // ---- storage volumes --------------------------------------------------
        p::STORAGE_VOL_CREATE_XML => h!(body, |a: r::PoolStringFlagsArgs| r::VolRet {
            vol: vol_out(c.vol_create_xml(&pool_in(a.pool), &a.value, a.flags)?)
        }),
        p::STORAGE_VOL_CREATE_XML_FROM => h!(body, |a: r::VolCreateXmlFromArgs| r::VolRet {
            vol: vol_out(c.vol_create_xml_from(
                &pool_in(a.pool),
                &a.xml,
                &vol_in(a.clonevol),
                a.flags
            )?)
        }),
        p::STORAGE_VOL_LOOKUP_BY_NAME => h!(body, |a: r::PoolStringArgs| r::VolRet {
            vol: vol_out(c.lookup_vol_by_name(&pool_in(a.pool), &a.value)?)
        }),
        p::STORAGE_VOL_LOOKUP_BY_KEY => h!(body, |a: r::StringArgs| r::VolRet {
            vol: vol_out(c.lookup_vol_by_key(&a.value)?)
        }),
        p::STORAGE_VOL_LOOKUP_BY_PATH => h!(body, |a: r::StringArgs| r::VolRet {
            vol: vol_out(c.lookup_vol_by_path(&a.value)?)
        }),
        p::STORAGE_VOL_DELETE => h!(body, |a: r::VolFlagsArgs| c
            .vol_delete(&vol_in(a.vol), a.flags)?),
        p::STORAGE_VOL_WIPE => h!(body, |a: r::VolFlagsArgs| c.vol_wipe(
            &vol_in(a.vol),
            0,
            a.flags
        )?),
        p::STORAGE_VOL_WIPE_PATTERN => h!(body, |a: r::VolWipePatternArgs| c.vol_wipe(
            &vol_in(a.vol),
            a.algorithm,
            a.flags
        )?),
        p::STORAGE_VOL_GET_INFO | p::STORAGE_VOL_GET_INFO_FLAGS => {
            let (v, f) = if proc_ == p::STORAGE_VOL_GET_INFO {
                let a: r::VolArgs = decode(body)?;
                (a.vol, 0)
            } else {
                let a: r::VolFlagsArgs = decode(body)?;
                (a.vol, a.flags)
            };
            let i = c.vol_get_info(&vol_in(v), f)?;
            enc(&r::VolGetInfoRet {
                kind: i.kind,
                capacity: i.capacity,
                allocation: i.allocation,
            })
        }
        p::STORAGE_VOL_GET_XML_DESC => h!(body, |a: r::VolFlagsArgs| string(
            c.vol_get_xml_desc(&vol_in(a.vol), a.flags)?
        )),
        p::STORAGE_VOL_GET_PATH => h!(body, |a: r::VolArgs| string(
            c.vol_get_path(&vol_in(a.vol))?
        )),
        p::STORAGE_VOL_RESIZE => h!(body, |a: r::VolResizeArgs| c.vol_resize(
            &vol_in(a.vol),
            a.capacity,
            a.flags
        )?),

        // ---- host interfaces ----------------------------------------------------
        p::CONNECT_LIST_ALL_INTERFACES => {
            let a: r::ListAllArgs = decode(body)?;
            let v = c.list_all_interfaces(a.flags)?;
            check_len(v.len(), max::INTERFACE_LIST, "interfaces")?;
            let n = v.len() as u32;
            enc(&r::ListAllInterfacesRet {
                ifaces: results(v, a.need_results, iface_out),
                ret: n,
            })
        }
        p::INTERFACE_LOOKUP_BY_NAME => h!(body, |a: r::StringArgs| r::InterfaceRet {
            iface: iface_out(c.lookup_interface_by_name(&a.value)?)
        }),
        p::INTERFACE_LOOKUP_BY_MAC_STRING => h!(body, |a: r::StringArgs| r::InterfaceRet {
            iface: iface_out(c.lookup_interface_by_mac(&a.value)?)
        }),
        p::INTERFACE_GET_XML_DESC => h!(body, |a: r::InterfaceFlagsArgs| string(
            c.interface_get_xml_desc(&iface_in(a.iface), a.flags)?
        )),
        p::INTERFACE_DEFINE_XML => h!(body, |a: r::StringFlagsArgs| r::InterfaceRet {
            iface: iface_out(c.interface_define_xml(&a.value, a.flags)?)
        }),
        p::INTERFACE_UNDEFINE => h!(body, |a: r::InterfaceArgs| c
            .interface_undefine(&iface_in(a.iface))?),
        p::INTERFACE_CREATE => h!(body, |a: r::InterfaceFlagsArgs| c
            .interface_create(&iface_in(a.iface), a.flags)?),
        p::INTERFACE_CHANGE_BEGIN => {
            h!(body, |a: r::FlagsArgs| c.interface_change_begin(a.flags)?)
        }
        p::INTERFACE_CHANGE_COMMIT => {
            h!(body, |a: r::FlagsArgs| c
                .interface_change_commit(a.flags)?)
        }
        p::INTERFACE_CHANGE_ROLLBACK => {
            h!(body, |a: r::FlagsArgs| c
                .interface_change_rollback(a.flags)?)
        }
        p::NODE_GET_FREE_PAGES => h!(body, |a: r::NodeGetFreePagesArgs| {
            r::NodeGetFreePagesRet {
                counts: c.node_free_pages(&a.pages, a.start_cell, a.cell_count, a.flags)?,
            }
        }),
        p::CONNECT_GET_CPU_MODEL_NAMES => h!(body, |a: r::ConnectGetCpuModelNamesArgs| {
            let models = c.cpu_model_names(&a.arch, a.flags)?;
            let n = models.len() as i32;
            r::ConnectGetCpuModelNamesRet {
                models: if a.need_results != 0 {
                    models
                } else {
                    Vec::new()
                },
                ret: n,
            }
        }),
        p::CONNECT_BASELINE_CPU => h!(body, |a: r::ConnectBaselineCpuArgs| string(
            c.baseline_cpu(&a.xml_cpus, a.flags)?
        )),
        p::INTERFACE_DESTROY => h!(body, |a: r::InterfaceFlagsArgs| c
            .interface_destroy(&iface_in(a.iface), a.flags)?),
        p::INTERFACE_IS_ACTIVE => h!(body, |a: r::InterfaceArgs| int(
            c.interface_is_active(&iface_in(a.iface))?
        )),

        // ---- node devices -------------------------------------------------------
        p::CONNECT_LIST_ALL_NODE_DEVICES => {
            let a: r::ListAllArgs = decode(body)?;
            let v = c.list_all_node_devices(a.flags)?;
            check_len(v.len(), max::NODE_DEVICE_LIST, "node devices")?;
            let n = v.len() as u32;
            enc(&r::ListAllNodeDevicesRet {
                devices: results(v, a.need_results, |d| r::NonnullNodeDevice { name: d.name }),
                ret: n,
            })
        }
        p::NODE_DEVICE_LOOKUP_BY_NAME => h!(body, |a: r::NodeDeviceArgs| r::NodeDeviceRet {
            dev: r::NonnullNodeDevice {
                name: c.lookup_node_device_by_name(&a.name)?.name
            }
        }),
        p::NODE_DEVICE_GET_XML_DESC => h!(body, |a: r::NodeDeviceFlagsArgs| string(
            c.node_device_get_xml_desc(&NodeDevRef { name: a.name }, a.flags)?
        )),
        p::NODE_DEVICE_GET_PARENT => h!(body, |a: r::NodeDeviceArgs| r::NodeDeviceGetParentRet {
            parent: c.node_device_get_parent(&NodeDevRef { name: a.name })?
        }),
        p::NODE_DEVICE_NUM_OF_CAPS => h!(body, |a: r::NodeDeviceArgs| r::IntRet {
            value: c.node_device_list_caps(&NodeDevRef { name: a.name })?.len() as i32
        }),
        p::NODE_DEVICE_LIST_CAPS => {
            let a: r::NodeDeviceListCapsArgs = decode(body)?;
            let mut names = c.node_device_list_caps(&NodeDevRef { name: a.name })?;
            names.truncate(a.maxnames.max(0) as usize);
            check_len(names.len(), max::NODE_DEVICE_CAPS_LIST, "capabilities")?;
            enc(&r::NodeDeviceListCapsRet { names })
        }
        p::NODE_DEVICE_CREATE_XML => h!(body, |a: r::StringFlagsArgs| r::NodeDeviceRet {
            dev: r::NonnullNodeDevice {
                name: c.node_device_create_xml(&a.value, a.flags)?.name
            }
        }),
        p::NODE_DEVICE_DESTROY => h!(body, |a: r::NodeDeviceArgs| c
            .node_device_destroy(&NodeDevRef { name: a.name })?),

        // ---- secrets ----------------------------------------------------------------
        p::CONNECT_NUM_OF_SECRETS => enc(&r::IntRet {
            value: c.list_all_secrets(0)?.len() as i32,
        }),
        p::CONNECT_LIST_SECRETS => {
            let a: r::MaxNamesArgs = decode(body)?;
            let max = legacy_list_max(
                a.maxnames,
                max::SECRET_LIST,
                "maxuuids",
                "SECRET",
                "virConnectListSecrets",
            )?;
            let mut uuids: Vec<String> = c
                .list_all_secrets(0)?
                .into_iter()
                .map(|s| s.uuid.to_string())
                .collect();
            uuids.truncate(max);
            enc(&r::SecretUuidsRet { uuids })
        }
        p::CONNECT_LIST_ALL_SECRETS => {
            let a: r::ListAllArgs = decode(body)?;
            let v = c.list_all_secrets(a.flags)?;
            check_len(v.len(), max::SECRET_LIST, "secrets")?;
            let n = v.len() as u32;
            enc(&r::ListAllSecretsRet {
                secrets: results(v, a.need_results, secret_out),
                ret: n,
            })
        }
        p::SECRET_LOOKUP_BY_UUID => h!(body, |a: r::UuidArgs| r::SecretRet {
            secret: secret_out(c.lookup_secret_by_uuid(&Uuid(a.uuid))?)
        }),
        p::SECRET_LOOKUP_BY_USAGE => h!(body, |a: r::SecretLookupByUsageArgs| r::SecretRet {
            secret: secret_out(c.lookup_secret_by_usage(a.usage_type, &a.usage_id)?)
        }),
        p::SECRET_DEFINE_XML => h!(body, |a: r::StringFlagsArgs| r::SecretRet {
            secret: secret_out(c.secret_define_xml(&a.value, a.flags)?)
        }),
        p::SECRET_GET_XML_DESC => h!(body, |a: r::SecretFlagsArgs| string(
            c.secret_get_xml_desc(&secret_in(a.secret), a.flags)?
        )),
        p::SECRET_SET_VALUE => h!(body, |a: r::SecretSetValueArgs| c.secret_set_value(
            &secret_in(a.secret),
            &a.value.0,
            a.flags
        )?),
        p::SECRET_GET_VALUE => {
            let a: r::SecretFlagsArgs = decode(body)?;
            let v = c.secret_get_value(&secret_in(a.secret), a.flags)?;
            check_len(v.len(), max::SECRET_VALUE, "secret bytes")?;
            enc(&r::SecretGetValueRet { value: Opaque(v) })
        }
        p::SECRET_UNDEFINE => h!(body, |a: r::SecretArgs| c
            .secret_undefine(&secret_in(a.secret))?),

        _ => match oxvirt_proto::api_name(proc_) {
            // A procedure of libvirt's protocol this daemon does not serve.
            Some(api) => Err(Error::no_support(&api)),
            None => Err(unknown_proc(proc_)),
        },
    }
}

/// VIR_CONNECT_LIST_{NETWORKS,INTERFACES}_ACTIVE / _INACTIVE (domains have
/// the two bits the other way round: `flags::list_domains`).
const ACTIVE: u32 = 2;
const INACTIVE: u32 = 1;

/// The `maxnames`/`maxids` argument of a pre-ListAll call, refused as
/// libvirt's server refuses it above the protocol's maximum.
fn legacy_max(n: i32, limit: usize, msg: &str) -> Result<usize> {
    if n < 0 || n as usize > limit {
        return Err(Error::raw(code::RPC, from::RPC, msg));
    }
    Ok(n as usize)
}

fn legacy_names(names: impl Iterator<Item = String>, n: usize) -> Result<Vec<u8>> {
    enc(&r::ListNamesRet {
        names: names.take(n).collect(),
    })
}

fn results<T, W>(v: Vec<T>, need: i32, f: impl Fn(T) -> W) -> Vec<W> {
    if need != 0 {
        v.into_iter().map(f).collect()
    } else {
        Vec::new()
    }
}

/// DOMAIN_GET_CPU_STATS, with virDomainGetCPUStats' argument checks and
/// libvirtd's encoding: with nparams = 0 only the count (CPUs when
/// ncpus = 0, else stats per CPU); otherwise the stats of each CPU that
/// has some, back to back, and the number of stats per CPU.
fn cpu_stats(c: &Connection, a: r::DomainGetCpuStatsArgs) -> Result<Vec<u8>> {
    if a.nparams as usize > max::NODE_CPU_STATS {
        return Err(Error::new(
            code::INTERNAL_ERROR,
            from::RPC,
            "nparams too large",
        ));
    }
    if a.ncpus as usize > max::DOMAIN_GET_CPU_STATS_NCPUS {
        return Err(Error::new(
            code::INTERNAL_ERROR,
            from::RPC,
            "ncpus too large",
        ));
    }
    if a.start_cpu == -1 {
        if a.ncpus != 1 {
            return Err(Error::raw(
                code::INVALID_ARG,
                from::DOMAIN,
                "ncpus must be 1 when start_cpu is -1",
            ));
        }
    } else if a.start_cpu < 0 {
        return Err(Error::raw(
            code::INVALID_ARG,
            from::DOMAIN,
            "start_cpu in virDomainGetCPUStats must be zero or greater",
        ));
    }
    if a.nparams > 0 && a.ncpus == 0 {
        // libvirtd hands the API no array for zero CPUs.
        return Err(Error::raw(
            code::INVALID_ARG,
            from::DOMAIN,
            "params in virDomainGetCPUStats must not be NULL",
        ));
    }
    let stats = c.domain_get_cpu_stats(
        &dom_in(a.dom),
        a.start_cpu,
        a.ncpus,
        a.nparams as i32,
        a.flags,
    )?;
    if a.nparams == 0 {
        let n = if a.ncpus == 0 {
            stats.len()
        } else {
            stats.iter().map(Vec::len).max().unwrap_or(0)
        };
        return enc(&r::DomainGetCpuStatsRet {
            params: Vec::new(),
            nparams: n.min(i32::MAX as usize) as i32,
        });
    }
    let mut params = Vec::new();
    let mut per_cpu = 0;
    for cpu in stats.into_iter().take(a.ncpus as usize) {
        let cpu: Vec<TypedParam> = cpu.into_iter().take(a.nparams as usize).collect();
        let cpu = params_out(cpu, a.flags);
        per_cpu = per_cpu.max(cpu.len());
        params.extend(cpu);
    }
    enc(&r::DomainGetCpuStatsRet {
        params,
        nparams: per_cpu as i32,
    })
}

/// A typed-parameter getter's reply: only the count when the client
/// asked with nparams = 0, as libvirt's two-step getters do.
fn params_count_ret(ps: Vec<TypedParam>, nparams: i32, flags: u32) -> Result<Vec<u8>> {
    let ps = params_out(ps, flags);
    let n = ps.len() as i32;
    enc(&r::ParamsCountRet {
        params: if nparams == 0 { Vec::new() } else { ps },
        nparams: n,
    })
}

fn checkpoints_ret(v: Vec<CheckpointRef>, need: i32) -> Result<Vec<u8>> {
    check_len(v.len(), max::DOMAIN_CHECKPOINT_LIST, "domain checkpoints")?;
    let n = v.len() as i32;
    enc(&r::ListAllCheckpointsRet {
        checkpoints: results(v, need, cp_out),
        ret: n,
    })
}

fn snapshots_ret(v: Vec<SnapshotRef>, need: i32) -> Result<Vec<u8>> {
    check_len(v.len(), max::DOMAIN_SNAPSHOT_LIST, "domain snapshots")?;
    let n = v.len() as i32;
    enc(&r::ListAllSnapshotsRet {
        snapshots: results(v, need, snap_out),
        ret: n,
    })
}

/// Drops a client's driver connection and everything registered on it.
pub fn release(conn: Arc<Connection>, callbacks: Vec<Callback>) {
    for cb in &callbacks {
        let _ = events::deregister(&conn, cb);
    }
    let _ = conn.close();
    drop(conn);
}

/// The limit of a legacy name-list call: libvirtd refuses more than the
/// wire carries ("maxnames > REMOTE_STORAGE_POOL_LIST_MAX"), libvirt's
/// API a negative count.
fn legacy_list_max(n: i32, wire_max: usize, arg: &str, what: &str, api: &str) -> Result<usize> {
    if n < 0 {
        let from = if what == "SECRET" {
            from::SECRET
        } else {
            from::STORAGE
        };
        return Err(Error::raw(
            code::INVALID_ARG,
            from,
            format!("{} in {} must be zero or greater", arg, api),
        ));
    }
    if n as usize > wire_max {
        return Err(Error::raw(
            code::RPC,
            from::RPC,
            format!("{} > REMOTE_{}_LIST_MAX", arg, what),
        ));
    }
    Ok(n as usize)
}
