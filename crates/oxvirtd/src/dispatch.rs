//! One CALL in, one REPLY out: decodes the arguments of a REMOTE
//! procedure, calls the client's driver connection and encodes the reply
//! or the error.
//!
//! Regular procedures are served by code generated from oxvirt-proto's
//! table (`serve!`: one function per row, picked by number); the
//! irregular ones are written here, typed by their rows' `Proc`
//! constants.

use std::sync::Arc;

use oxvirt_core::error::{code, from};
use oxvirt_core::types::*;
use oxvirt_core::{Connection, Error, Result};
use oxvirt_proto::convert::{strings_if_okay, Wire};
use oxvirt_proto::packet::{self, Header, MsgType, Status};
use oxvirt_proto::procs as p;
use oxvirt_proto::remote::{feature, max};
use oxvirt_proto::table::{self as t, Proc};
use oxvirt_proto::xdr::{self, Encoder, Xdr};

use crate::events;
use crate::server::{Callback, CallbackFamily, Server, Session};
use crate::streams;

/// The daemon's end of a family's rows: one function per row that
/// decodes the arguments, calls the row's `Connection` method and
/// encodes its result, and `call`, which picks the row by number.
macro_rules! serve {
    (
        { $module:ident } $family:ident;
        $( $(#[$flag:ident])? $name:ident = $num:literal $api:literal $rw:ident $m:tt
            ( $($n:ident : $k:tt),* ) -> $ret:tt ; )*
    ) => {
        mod $module {
            use super::*;
            $( serve_row! { [$($flag)?] $name $m ($($n: $k),*) -> $ret } )*

            /// The family's generated procedures; None for the others.
            pub fn call(c: &Connection, proc_: i32, body: &[u8], out: &mut Encoder)
                -> Option<Result<()>>
            {
                match proc_ {
                    $( $num => $name(c, body, out), )*
                    _ => None,
                }
            }
        }
    };
}

macro_rules! serve_row {
    ([client] $name:ident $($rest:tt)*) => { serve_row!(@hand $name); };
    ([$($f:ident)?] $name:ident _ $($rest:tt)*) => { serve_row!(@hand $name); };
    (@hand $name:ident) => {
        #[allow(non_snake_case)]
        fn $name(_: &Connection, _: &[u8], _: &mut Encoder) -> Option<Result<()>> {
            None
        }
    };
    ([$($f:ident)?] $name:ident $m:ident ($($n:ident : $k:tt),*) -> $ret:tt) => {
        #[allow(non_snake_case)]
        fn $name(c: &Connection, body: &[u8], out: &mut Encoder) -> Option<Result<()>> {
            fn run(c: &Connection, body: &[u8], out: &mut Encoder) -> Result<()> {
                let ($($n,)*): ($(oxvirt_proto::kind!($k),)*) = decode(body)?;
                $( let $n = <oxvirt_proto::kind!($k) as Wire>::into_core($n)?; )*
                let ret = c.$m($(<oxvirt_proto::kind!($k) as Wire>::param(&$n)),*)?;
                <oxvirt_proto::kind!($ret) as Wire>::from_core(ret)?.encode(out);
                Ok(())
            }
            Some(run(c, body, out))
        }
    };
}

oxvirt_proto::hypervisor_procedures!(serve { hypervisor });
oxvirt_proto::storage_procedures!(serve { storage });
oxvirt_proto::network_procedures!(serve { network });
oxvirt_proto::secret_procedures!(serve { secret });
oxvirt_proto::nodedev_procedures!(serve { nodedev });
oxvirt_proto::interface_procedures!(serve { interface });
oxvirt_proto::nwfilter_procedures!(serve { nwfilter });

type Family = fn(&Connection, i32, &[u8], &mut Encoder) -> Option<Result<()>>;

/// The generated procedures, family by family.
const FAMILIES: [Family; 7] = [
    hypervisor::call,
    storage::call,
    network::call,
    secret::call,
    nodedev::call,
    interface::call,
    nwfilter::call,
];

/// Handles one CALL frame and returns the REPLY frame, with the stream
/// the call opened if it is one of the stream procedures.
pub fn call(
    server: &Server,
    session: &Session,
    hdr: &Header,
    body: &[u8],
) -> (Vec<u8>, Option<streams::Opened>) {
    if session.admin {
        // The admin socket serves the ADMIN program only.
        let mut out = packet::begin();
        let r = if hdr.prog == oxvirt_proto::admin::PROGRAM
            && hdr.vers == oxvirt_proto::admin::PROTOCOL_VERSION
        {
            crate::admin::call(server, session, hdr.proc_, body, &mut out)
        } else {
            Err(no_program(hdr))
        };
        return match r {
            Ok(()) => (reply_frame(hdr, out), None),
            Err(e) => (error_frame(hdr, &e), None),
        };
    }
    if session.auth_refused && !(hdr.prog == packet::REMOTE_PROGRAM && hdr.proc_ == p::AUTH_LIST) {
        // libvirtd's answer to a client that has not authenticated.
        let e = Error::raw(code::RPC, from::RPC, "authentication required");
        return (error_frame(hdr, &e), None);
    }
    let mut out = packet::begin();
    if hdr.prog == packet::REMOTE_PROGRAM
        && hdr.vers == packet::PROTOCOL_VERSION
        && is_stream_proc(hdr.proc_)
    {
        return match open_stream(session, hdr.proc_, body, &mut out) {
            Ok(opened) => (reply_frame(hdr, out), Some(opened)),
            Err(e) => (error_frame(hdr, &e), None),
        };
    }
    let result = if hdr.vers == packet::PROTOCOL_VERSION
        && (hdr.prog == packet::QEMU_PROGRAM || hdr.prog == packet::LXC_PROGRAM)
    {
        // Hypervisor-specific programs: the agent command is served, the
        // rest is unsupported as libvirt reports it for the test driver.
        match session.connection() {
            None => Err(not_open()),
            Some(c) if hdr.prog == packet::QEMU_PROGRAM && hdr.proc_ == 3 => serve(
                QEMU_AGENT_COMMAND,
                body,
                &mut out,
                |(d, cmd, timeout, flags)| {
                    c.domain_qemu_agent_command(&d, &cmd, timeout, flags)
                        .map(Some)
                },
            ),
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
        Err(no_program(hdr))
    } else {
        dispatch(server, session, hdr.proc_, body, &mut out)
    };
    match result {
        Ok(()) => (reply_frame(hdr, out), None),
        Err(e) => (error_frame(hdr, &e), None),
    }
}

fn no_program(hdr: &Header) -> Error {
    Error::raw(
        code::RPC,
        from::RPC,
        format!(
            "Cannot find program {} version {}",
            hdr.prog as i32, hdr.vers
        ),
    )
}

/// QEMU_PROC_DOMAIN_AGENT_COMMAND of libvirt-qemu's program:
/// `{dom, cmd, timeout, flags}` → `{result}` (a nullable string).
const QEMU_AGENT_COMMAND: Proc<
    (oxvirt_proto::kinds::Dom, oxvirt_proto::kinds::Str, i32, u32),
    oxvirt_proto::kinds::OptStr,
> = Proc::new(3, "DOMAIN_AGENT_COMMAND", "virDomainQemuAgentCommand", true);

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

/// The procedures that open a stream: the reply goes to `out`.
fn open_stream(
    session: &Session,
    proc_: i32,
    body: &[u8],
    out: &mut Encoder,
) -> Result<streams::Opened> {
    use streams::{Direction, Opened};
    let c = session.connection().ok_or_else(not_open)?;
    let mut st = None;
    let mut sparse = false;
    let dir = match proc_ {
        p::DOMAIN_SCREENSHOT => {
            serve(t::DOMAIN_SCREENSHOT, body, out, |(d, screen, flags)| {
                let (mime, s) = c.domain_screenshot(&d, screen, flags)?;
                st = Some(s);
                Ok(Some(mime))
            })?;
            Direction::Source
        }
        p::STORAGE_VOL_DOWNLOAD => {
            serve(t::STORAGE_VOL_DOWNLOAD, body, out, |(v, off, len, f)| {
                sparse = f & flags::vol_stream::SPARSE_STREAM != 0;
                st = Some(c.vol_download(&v, off, len, f)?);
                Ok(())
            })?;
            Direction::Source
        }
        p::STORAGE_VOL_UPLOAD => {
            serve(t::STORAGE_VOL_UPLOAD, body, out, |(v, off, len, f)| {
                sparse = f & flags::vol_stream::SPARSE_STREAM != 0;
                st = Some(c.vol_upload(&v, off, len, f)?);
                Ok(())
            })?;
            Direction::Sink
        }
        p::DOMAIN_OPEN_CONSOLE => {
            serve(t::DOMAIN_OPEN_CONSOLE, body, out, |(d, dev, f)| {
                st = Some(c.domain_open_console(&d, dev.as_deref(), f)?);
                Ok(())
            })?;
            Direction::Duplex
        }
        _ => return Err(Error::no_support("virDomainOpenChannel")),
    };
    let stream = st.ok_or_else(|| Error::internal(from::RPC, "no stream"))?;
    Ok(Opened {
        stream,
        dir,
        sparse,
    })
}

/// The REPLY frame for a payload encoded after [`packet::begin`].
pub fn reply_frame(hdr: &Header, out: Encoder) -> Vec<u8> {
    packet::finish(out, &hdr.reply(Status::Ok)).unwrap_or_else(|_| {
        let e = Error::raw(
            code::RPC,
            from::RPC,
            "Unable to encode message payload: reply too large",
        );
        error_frame(hdr, &e)
    })
}

/// A REPLY carrying `remote_error`.
pub fn error_frame(hdr: &Header, e: &Error) -> Vec<u8> {
    let mut h = hdr.reply(Status::Error);
    h.mtype = MsgType::Reply;
    let mut err = oxvirt_proto::convert::error_out(e);
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

/// A hand-written procedure: its arguments decoded and converted by its
/// row's types, `f`'s result converted and encoded the same way.
fn serve<A: Wire, R: Wire>(
    _: Proc<A, R>,
    body: &[u8],
    out: &mut Encoder,
    f: impl FnOnce(A::Core) -> Result<R::Core>,
) -> Result<()> {
    let a: A = decode(body)?;
    R::from_core(f(a.into_core()?)?)?.encode(out);
    Ok(())
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

/// A ListAll's reply: the objects when the client asked for them, and
/// how many there are.
fn listed<T, N: TryFrom<usize> + Default>(v: Vec<T>, need: i32) -> (Vec<T>, N) {
    let n = N::try_from(v.len()).unwrap_or_default();
    (if need != 0 { v } else { Vec::new() }, n)
}

/// A two-step typed-parameter getter's reply: only the count when the
/// client asked with nparams = 0; strings only if the client takes them.
fn counted(ps: Vec<TypedParam>, nparams: i32, flags: u32) -> (Vec<TypedParam>, i32) {
    let ps = strings_if_okay(ps, flags);
    let n = ps.len() as i32;
    (if nparams == 0 { Vec::new() } else { ps }, n)
}

/// An INTERNAL_ERROR of libvirtd's dispatcher.
fn internal(msg: String) -> Error {
    Error::new(code::INTERNAL_ERROR, from::RPC, msg)
}

fn rpc_error(msg: &str) -> Error {
    Error::raw(code::RPC, from::RPC, msg)
}

fn dispatch(
    server: &Server,
    session: &Session,
    proc_: i32,
    body: &[u8],
    out: &mut Encoder,
) -> Result<()> {
    // Procedures that work without an open connection.
    match proc_ {
        // REMOTE_AUTH_NONE
        p::AUTH_LIST => return serve(t::AUTH_LIST, body, out, |()| Ok(vec![0])),
        p::CONNECT_SUPPORTS_FEATURE => {
            return serve(t::CONNECT_SUPPORTS_FEATURE, body, out, |(f,)| {
                if f == feature::PROGRAM_KEEPALIVE {
                    session.enable_keepalive();
                    return Ok(true);
                }
                let c = session.connection().ok_or_else(not_open)?;
                Ok(match f {
                    feature::REMOTE_EVENT_CALLBACK
                    | feature::REMOTE_CLOSE_CALLBACK
                    | feature::TYPED_PARAM_STRING
                    | feature::NETWORK_UPDATE_HAS_CORRECT_ORDER => true,
                    // The driver's own: its migration protocols.
                    feature::MIGRATION_V1
                    | feature::MIGRATION_V2
                    | feature::MIGRATION_P2P
                    | feature::MIGRATION_DIRECT
                    | feature::MIGRATION_V3
                    | feature::MIGRATE_CHANGE_PROTECTION
                    | feature::XML_MIGRATABLE
                    | feature::MIGRATION_OFFLINE
                    | feature::MIGRATION_PARAMS => c.connect_supports_feature(f)?,
                    _ => false,
                })
            });
        }
        p::CONNECT_OPEN => {
            return serve(t::CONNECT_OPEN, body, out, |(name, flags)| {
                let mut slot = session.conn_slot();
                if slot.is_some() {
                    return Err(internal("connection already open".into()));
                }
                let ro = if session.readonly {
                    flags::connect::RO
                } else {
                    0
                };
                let conn = server.router.open(&name.unwrap_or_default(), flags | ro)?;
                if let Some(policy) = server.policy() {
                    // The client's rules, and connect.getattr to open at all.
                    let uri = conn.uri().unwrap_or_default();
                    conn.set_access(Arc::new(crate::acl::ClientAccess {
                        policy,
                        who: crate::acl::Who::new(session.identity.clone()),
                        client: session.id,
                        driver: crate::acl::driver_name(&uri),
                    }));
                    conn.acl_before("virConnectOpen", flags, &[], None, false)?;
                }
                *slot = Some(conn);
                Ok(())
            });
        }
        p::CONNECT_CLOSE => {
            // Drop the driver connection before replying, so that a client
            // that connects right after sees the state reset.
            session.close_connection();
            return Ok(());
        }
        _ => {}
    }
    let c = session.connection().ok_or_else(not_open)?;
    let c: &Connection = &c;
    macro_rules! hand {
        ($($name:ident => $f:expr,)*) => {
            match proc_ {
                $( p::$name => serve(t::$name, body, out, $f), )*
                _ => generated(c, proc_, body, out),
            }
        };
    }
    use oxvirt_core::types::flags::{affect, mem};
    hand! {
        // ---- connection and node ------------------------------------------
        CONNECT_REGISTER_CLOSE_CALLBACK => |()| {
            session.set_close_callback(true);
            Ok(())
        },
        CONNECT_UNREGISTER_CLOSE_CALLBACK => |()| {
            session.set_close_callback(false);
            Ok(())
        },
        CONNECT_GET_CPU_MODEL_NAMES => |(arch, need, flags)| {
            Ok(listed(c.cpu_model_names(&arch, flags)?, need))
        },
        NODE_GET_CPU_MAP => |(need_map, need_online, flags)| {
            let (map, online, ret) = c.node_cpu_map(flags)?;
            let map = if need_map != 0 { map } else { Vec::new() };
            Ok((map, if need_online != 0 { online } else { 0 }, ret))
        },
        NODE_GET_CPU_STATS => |(cpu, nparams, flags)| {
            Ok(node_stats(c.node_cpu_stats(cpu, flags)?, nparams))
        },
        NODE_GET_MEMORY_STATS => |(nparams, cell, flags)| {
            Ok(node_stats(c.node_memory_stats(cell, flags)?, nparams))
        },
        CONNECT_LIST_ALL_DOMAINS => |(need, flags)| Ok(listed(c.list_all_domains(flags)?, need)),

        // ---- legacy variants: the older procedure of the same API -----------
        DOMAIN_DEFINE_XML => |(xml,)| c.domain_define_xml(&xml, 0),
        DOMAIN_DEFINE_XML_FLAGS => |(xml, flags)| c.domain_define_xml(&xml, flags),
        DOMAIN_UNDEFINE => |(d,)| c.domain_undefine(&d, 0),
        DOMAIN_CREATE => |(d,)| c.domain_create(&d, 0).map(drop),
        DOMAIN_DESTROY => |(d,)| c.domain_destroy(&d, 0),
        DOMAIN_DESTROY_FLAGS => |(d, flags)| c.domain_destroy(&d, flags),
        DOMAIN_SHUTDOWN => |(d,)| c.domain_shutdown(&d, 0),
        DOMAIN_SHUTDOWN_FLAGS => |(d, flags)| c.domain_shutdown(&d, flags),
        DOMAIN_SAVE => |(d, to)| c.domain_save(&d, &to, None, 0),
        DOMAIN_SAVE_FLAGS => |(d, to, dxml, f)| c.domain_save(&d, &to, dxml.as_deref(), f),
        DOMAIN_RESTORE => |(from,)| c.domain_restore(&from, None, 0),
        DOMAIN_RESTORE_FLAGS => |(from, dxml, f)| c.domain_restore(&from, dxml.as_deref(), f),
        DOMAIN_CORE_DUMP => |(d, to, flags)| c.domain_core_dump(&d, &to, 0, flags),
        DOMAIN_CORE_DUMP_WITH_FORMAT => |(d, to, fmt, f)| c.domain_core_dump(&d, &to, fmt, f),
        DOMAIN_SET_MEMORY => |(d, kib)| c.domain_set_memory(&d, kib, affect::LIVE),
        // virDomainSetMaxMemory is MEM_MAXIMUM with AFFECT_CURRENT in both
        // of libvirt's drivers (qemuDomainSetMaxMemory, testDomainSetMaxMemory).
        DOMAIN_SET_MAX_MEMORY => |(d, kib)| c.domain_set_memory(&d, kib, mem::MAXIMUM),
        DOMAIN_SET_VCPUS => |(d, n)| c.domain_set_vcpus(&d, n, 0),
        // virDomainPinVcpu has no flags: drivers treat it as "current".
        DOMAIN_PIN_VCPU => |(d, vcpu, map)| c.domain_pin_vcpu(&d, vcpu, &map, affect::CURRENT),
        // Scheduler parameters are never strings unless the client says so.
        DOMAIN_GET_SCHEDULER_PARAMETERS => |(d, n)| {
            Ok(strings_if_okay(c.domain_get_scheduler_parameters(&d, n, 0)?, 0))
        },
        DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS => |(d, n, f)| {
            Ok(strings_if_okay(c.domain_get_scheduler_parameters(&d, n, f)?, f))
        },
        DOMAIN_SET_SCHEDULER_PARAMETERS => |(d, ps)| c.domain_set_scheduler_parameters(&d, &ps, 0),
        DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS => |(d, ps, f)| {
            c.domain_set_scheduler_parameters(&d, &ps, f)
        },

        // ---- domains: checks libvirtd makes, replies it shapes -------------------
        DOMAIN_SET_USER_PASSWORD => |(d, user, password, flags)| {
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
            let user = non_null(user, "user")?;
            let password = non_null(password, "password")?;
            c.domain_set_user_password(&d, &user, &password, flags)
        },
        DOMAIN_GET_DISK_ERRORS => |(d, maxerrors, flags)| {
            if maxerrors as usize > max::DOMAIN_DISK_ERRORS {
                return Err(internal("maxerrors too large".into()));
            }
            let v = c.domain_get_disk_errors(&d, flags)?;
            // Without room for errors the API answers how many there are;
            // otherwise it fills at most maxerrors of them.
            if maxerrors == 0 {
                return Ok((Vec::new(), v.len().min(i32::MAX as usize) as i32));
            }
            let v: Vec<_> = v.into_iter().take(maxerrors as usize).collect();
            let n = v.len() as i32;
            Ok((v, n))
        },
        DOMAIN_GET_LAUNCH_SECURITY_INFO => |(d, flags)| {
            Ok(strings_if_okay(c.domain_get_launch_security_info(&d, flags)?, flags))
        },
        DOMAIN_GET_VCPUS => |(d, maxinfo, maplen)| {
            if maxinfo < 0 || maxinfo as usize > max::VCPUINFO {
                return Err(rpc_error("maxinfo > REMOTE_VCPUINFO_MAX"));
            }
            if maplen < 0 || (maxinfo as usize).saturating_mul(maplen as usize) > max::CPUMAPS {
                return Err(rpc_error("maxinfo * maplen > REMOTE_CPUMAPS_MAX"));
            }
            c.domain_get_vcpus(&d, maxinfo, maplen)
        },
        DOMAIN_GET_VCPU_PIN_INFO => |(d, ncpumaps, maplen, flags)| {
            let n = (ncpumaps as usize).saturating_mul(maplen as usize);
            if ncpumaps < 0 || maplen < 0 || n > max::CPUMAPS {
                return Err(rpc_error("maxinfo * maplen > REMOTE_CPUMAPS_MAX"));
            }
            c.domain_get_vcpu_pin_info(&d, ncpumaps, maplen, flags)
        },
        DOMAIN_GET_PERF_EVENTS => |(d, flags)| {
            Ok(strings_if_okay(c.domain_get_perf_events(&d, flags)?, flags))
        },
        DOMAIN_GET_BLKIO_PARAMETERS => |(d, n, f)| {
            Ok(counted(c.domain_get_blkio_parameters(&d, n, f)?, n, f))
        },
        DOMAIN_GET_MEMORY_PARAMETERS => |(d, n, f)| {
            Ok(counted(c.domain_get_memory_parameters(&d, n, f)?, n, f))
        },
        DOMAIN_GET_NUMA_PARAMETERS => |(d, n, f)| {
            Ok(counted(c.domain_get_numa_parameters(&d, n, f)?, n, f))
        },
        DOMAIN_GET_BLOCK_IO_TUNE => |(d, disk, n, f)| {
            Ok(counted(c.domain_get_block_io_tune(&d, disk.as_deref(), n, f)?, n, f))
        },
        DOMAIN_GET_INTERFACE_PARAMETERS => |(d, dev, n, f)| {
            Ok(counted(c.domain_get_interface_parameters(&d, &dev, n, f)?, n, f))
        },
        DOMAIN_BLOCK_STATS_FLAGS => |(d, path, n, f)| {
            Ok(counted(c.domain_block_stats_flags(&d, &path, n, f)?, n, f))
        },
        DOMAIN_BLOCK_PEEK => |(d, path, offset, size, flags)| {
            if size as usize > max::DOMAIN_BLOCK_PEEK_BUFFER {
                return Err(rpc_error("size > maximum buffer size"));
            }
            c.domain_block_peek(&d, &path, offset, u64::from(size), flags)
        },
        DOMAIN_GET_CPU_STATS => |(d, nparams, start, ncpus, flags)| {
            cpu_stats(c, &d, nparams, start, ncpus, flags)
        },

        // ---- snapshots and checkpoints ------------------------------------------
        DOMAIN_LIST_ALL_SNAPSHOTS => |(d, need, f)| Ok(listed(c.list_all_snapshots(&d, f)?, need)),
        DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN => |(s, need, f)| {
            Ok(listed(c.snapshot_list_all_children(&s, f)?, need))
        },
        DOMAIN_LIST_ALL_CHECKPOINTS => |(d, need, f)| {
            Ok(listed(c.list_all_checkpoints(&d, f)?, need))
        },
        DOMAIN_CHECKPOINT_LIST_ALL_CHILDREN => |(cp, need, f)| {
            Ok(listed(c.checkpoint_list_all_children(&cp, f)?, need))
        },

        // ---- events ---------------------------------------------------------------
        CONNECT_DOMAIN_EVENT_REGISTER => |()| {
            domain_event(server, session, c, 0, None, true).map(|_| false)
        },
        CONNECT_DOMAIN_EVENT_DEREGISTER => |()| {
            deregister(session, c, CallbackFamily::Domain, 0, true).map(|_| false)
        },
        CONNECT_DOMAIN_EVENT_REGISTER_ANY => |(id,)| {
            legacy_event_id(id)?;
            domain_event(server, session, c, id, None, true).map(drop)
        },
        CONNECT_DOMAIN_EVENT_DEREGISTER_ANY => |(id,)| {
            legacy_event_id(id)?;
            deregister(session, c, CallbackFamily::Domain, id, true)
        },
        CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY => |(id, d)| {
            if !(0..oxvirt_core::event::DOMAIN_EVENT_ID_LAST).contains(&id) {
                return Err(internal(format!("unsupported event ID {}", id)));
            }
            domain_event(server, session, c, id, d, false)
        },
        CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY => |(id,)| {
            deregister(session, c, CallbackFamily::Domain, id, false)
        },
        CONNECT_NETWORK_EVENT_REGISTER_ANY => |(id, net)| {
            if !(0..2).contains(&id) {
                return Err(internal(format!("unsupported network event ID {}", id)));
            }
            let key = net.as_ref().map(|n| n.uuid.to_string());
            let cb = callback(server, CallbackFamily::Network, id, key);
            session.add_callback(cb, |wire| {
                let f = events::network_callback(session.sender(), wire, c.access_arc());
                c.network_event_register(net.as_ref(), id, f)
            })
        },
        CONNECT_NETWORK_EVENT_DEREGISTER_ANY => |(id,)| {
            deregister(session, c, CallbackFamily::Network, id, false)
        },
        CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY => |(id, pool)| {
            // libvirtd checks the id itself, before the driver sees it.
            if !(0..events::POOL_EVENT_ID_LAST).contains(&id) {
                return Err(internal(format!("unsupported storage pool event ID {}", id)));
            }
            let key = pool.as_ref().map(|p| p.uuid.to_string());
            let cb = callback(server, CallbackFamily::Pool, id, key);
            session.add_callback(cb, |wire| {
                let f = events::pool_callback(session.sender(), wire, c.access_arc());
                c.pool_event_register(pool.as_ref(), id, f)
            })
        },
        CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY => |(id,)| {
            deregister(session, c, CallbackFamily::Pool, id, false)
        },
        CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY => |(id, dev)| {
            if !(0..events::NODE_DEVICE_EVENT_ID_LAST).contains(&id) {
                return Err(internal(format!("unsupported node device event ID {}", id)));
            }
            let key = dev.as_ref().map(|d| d.name.clone());
            let cb = callback(server, CallbackFamily::NodeDevice, id, key);
            session.add_callback(cb, |wire| {
                let f = events::node_device_callback(session.sender(), wire, id, c.access_arc());
                c.node_device_event_register(dev.as_ref(), id, f)
            })
        },
        CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY => |(id,)| {
            deregister(session, c, CallbackFamily::NodeDevice, id, false)
        },
        CONNECT_SECRET_EVENT_REGISTER_ANY => |(id, secret)| {
            if !(0..events::SECRET_EVENT_ID_LAST).contains(&id) {
                return Err(internal(format!("unsupported secret event ID {}", id)));
            }
            let key = secret.as_ref().map(|s| s.uuid.to_string());
            let cb = callback(server, CallbackFamily::Secret, id, key);
            session.add_callback(cb, |wire| {
                let f = events::secret_callback(session.sender(), wire, c.access_arc());
                c.secret_event_register(secret.as_ref(), id, f)
            })
        },
        CONNECT_SECRET_EVENT_DEREGISTER_ANY => |(id,)| {
            deregister(session, c, CallbackFamily::Secret, id, false)
        },

        // ---- networks ---------------------------------------------------------------
        CONNECT_LIST_ALL_NETWORKS => |(need, flags)| Ok(listed(c.list_all_networks(flags)?, need)),
        NETWORK_DEFINE_XML => |(xml,)| c.network_define_xml(&xml, 0),
        NETWORK_DEFINE_XML_FLAGS => |(xml, flags)| c.network_define_xml(&xml, flags),
        NETWORK_CREATE_XML => |(xml,)| c.network_create_xml(&xml, 0),
        NETWORK_CREATE_XML_FLAGS => |(xml, flags)| c.network_create_xml(&xml, flags),
        NETWORK_GET_DHCP_LEASES => |(net, mac, need, flags)| {
            Ok(listed(c.network_get_dhcp_leases(&net, mac.as_deref(), flags)?, need))
        },
        // A port's handle names its network by name and UUID: the request's.
        NETWORK_LIST_ALL_PORTS => |(net, need, flags)| {
            let v = c.list_all_network_ports(&net, flags)?;
            let (v, n) = listed(v, need);
            Ok((v.into_iter().map(|p| (net.clone(), p.uuid)).collect(), n))
        },
        NETWORK_PORT_LOOKUP_BY_UUID => |(net, uuid)| {
            let p = c.lookup_network_port_by_uuid(&net, &uuid)?;
            Ok((net, p.uuid))
        },
        NETWORK_PORT_CREATE_XML => |(net, xml, flags)| {
            let p = c.network_port_create_xml(&net, &xml, flags)?;
            Ok((net, p.uuid))
        },

        // ---- storage, interfaces, node devices, secrets -----------------------------
        CONNECT_LIST_ALL_STORAGE_POOLS => |(need, flags)| {
            Ok(listed(c.list_all_storage_pools(flags)?, need))
        },
        STORAGE_POOL_LIST_ALL_VOLUMES => |(pool, need, flags)| {
            Ok(listed(c.pool_list_all_volumes(&pool, flags)?, need))
        },
        STORAGE_VOL_GET_INFO => |(v,)| c.vol_get_info(&v, 0),
        STORAGE_VOL_GET_INFO_FLAGS => |(v, flags)| c.vol_get_info(&v, flags),
        CONNECT_LIST_ALL_INTERFACES => |(need, flags)| {
            Ok(listed(c.list_all_interfaces(flags)?, need))
        },
        CONNECT_LIST_ALL_NODE_DEVICES => |(need, flags)| {
            Ok(listed(c.list_all_node_devices(flags)?, need))
        },
        NODE_DEVICE_LIST_CAPS => |(dev, maxnames)| {
            let mut v = c.node_device_list_caps(&dev)?;
            v.truncate(maxnames.max(0) as usize);
            Ok(v)
        },
        CONNECT_LIST_ALL_SECRETS => |(need, flags)| Ok(listed(c.list_all_secrets(flags)?, need)),
    }
}

/// The generated procedures; NO_SUPPORT with the API's name for the rest
/// of libvirt's protocol, libvirtd's RPC error beyond it.
fn generated(c: &Connection, proc_: i32, body: &[u8], out: &mut Encoder) -> Result<()> {
    for family in FAMILIES {
        if let Some(r) = family(c, proc_, body, out) {
            return r;
        }
    }
    match oxvirt_proto::api_name(proc_) {
        Some(api) => Err(Error::no_support(&api)),
        None => Err(unknown_proc(proc_)),
    }
}

/// A new callback of this client: its daemon-wide id, event and object.
fn callback(
    server: &Server,
    family: CallbackFamily,
    event_id: i32,
    key: Option<String>,
) -> Callback {
    Callback {
        wire_id: server.next_callback_id(),
        driver_id: 0,
        family,
        event_id,
        key,
    }
}

/// Registers a domain callback; `legacy` ones (the procedures before
/// callback ids) get the old event messages.
fn domain_event(
    server: &Server,
    session: &Session,
    c: &Connection,
    id: i32,
    dom: Option<DomainRef>,
    legacy: bool,
) -> Result<i32> {
    let key = dom.as_ref().map(|d| d.uuid.to_string());
    let cb = callback(server, CallbackFamily::Domain, id, key);
    session.add_callback(cb, |wire| {
        let f =
            events::domain_callback(session.sender(), (!legacy).then_some(wire), c.access_arc());
        c.domain_event_register(dom.as_ref(), id, f)
    })
}

/// The old RegisterAny procedures take events up to DEVICE_REMOVED.
fn legacy_event_id(id: i32) -> Result<()> {
    if !(0..=events::LEGACY_EVENT_ID_MAX).contains(&id) {
        return Err(internal(format!("unsupported event ID {}", id)));
    }
    Ok(())
}

/// Drops the callback the client names (by id, or `by_event` for the old
/// domain procedures), with libvirtd's errors.
fn deregister(
    session: &Session,
    c: &Connection,
    family: CallbackFamily,
    id: i32,
    by_event: bool,
) -> Result<()> {
    let Some(cb) = session.take_callback(id, family, by_event) else {
        if by_event {
            return Err(internal(format!("domain event {} not registered", id)));
        }
        let what = match family {
            CallbackFamily::Domain => "domain",
            CallbackFamily::Network => "network",
            CallbackFamily::Pool => "storage pool",
            CallbackFamily::NodeDevice => "node device",
            // libvirtd 9.0 says so for secrets too.
            CallbackFamily::Secret => "node device",
        };
        return Err(internal(format!(
            "{} event callback {} not registered",
            what, id
        )));
    };
    events::deregister(c, &cb)
}

/// NODE_GET_CPU_STATS / NODE_GET_MEMORY_STATS: with nparams = 0 only the
/// count, otherwise at most nparams of the stats.
fn node_stats(stats: Vec<(String, u64)>, nparams: i32) -> (Vec<(String, u64)>, i32) {
    let n = stats.len() as i32;
    let v = stats.into_iter().take(nparams.max(0) as usize).collect();
    (v, n)
}

/// DOMAIN_GET_CPU_STATS, with virDomainGetCPUStats' argument checks and
/// libvirtd's encoding: with nparams = 0 only the count (CPUs when
/// ncpus = 0, else stats per CPU); otherwise the stats of each CPU that
/// has some, back to back, and the number of stats per CPU.
fn cpu_stats(
    c: &Connection,
    d: &DomainRef,
    nparams: u32,
    start_cpu: i32,
    ncpus: u32,
    flags: u32,
) -> Result<(Vec<TypedParam>, i32)> {
    if nparams as usize > max::NODE_CPU_STATS {
        return Err(internal("nparams too large".into()));
    }
    if ncpus as usize > max::DOMAIN_GET_CPU_STATS_NCPUS {
        return Err(internal("ncpus too large".into()));
    }
    let invalid = |m: &str| Error::raw(code::INVALID_ARG, from::DOMAIN, m);
    if start_cpu == -1 {
        if ncpus != 1 {
            return Err(invalid("ncpus must be 1 when start_cpu is -1"));
        }
    } else if start_cpu < 0 {
        return Err(invalid(
            "start_cpu in virDomainGetCPUStats must be zero or greater",
        ));
    }
    if nparams > 0 && ncpus == 0 {
        // libvirtd hands the API no array for zero CPUs.
        return Err(invalid("params in virDomainGetCPUStats must not be NULL"));
    }
    let stats = c.domain_get_cpu_stats(d, start_cpu, ncpus, nparams as i32, flags)?;
    if nparams == 0 {
        let n = if ncpus == 0 {
            stats.len()
        } else {
            stats.iter().map(Vec::len).max().unwrap_or(0)
        };
        return Ok((Vec::new(), n.min(i32::MAX as usize) as i32));
    }
    let mut params = Vec::new();
    let mut per_cpu = 0;
    for cpu in stats.into_iter().take(ncpus as usize) {
        let cpu: Vec<TypedParam> = cpu.into_iter().take(nparams as usize).collect();
        let cpu = strings_if_okay(cpu, flags);
        per_cpu = per_cpu.max(cpu.len());
        params.extend(cpu);
    }
    Ok((params, per_cpu as i32))
}

/// Drops a client's driver connection and everything registered on it.
pub fn release(conn: Arc<Connection>, callbacks: Vec<Callback>) {
    for cb in &callbacks {
        let _ = events::deregister(&conn, cb);
    }
    let _ = conn.close();
    drop(conn);
}
