//! The ADMIN program on the admin socket: virt-admin's view of the daemon
//! (libvirt's admin_server.c and admin_server_dispatch.c): the servers
//! ("admin" and "libvirtd"), their worker pools and client limits, the
//! connected clients with their identities, disconnecting one, the log
//! filters and outputs, and the idle timeout.

use std::sync::atomic::Ordering;

use oxvirt_core::error::{check_flags, code, from};
use oxvirt_core::{Error, Result};
use oxvirt_proto::admin::{self as a, procs as p};
use oxvirt_proto::remote::{TypedParam, TypedParamValue};
use oxvirt_proto::xdr::{self, Encoder, Xdr};

use crate::clients::{ClientEntry, NetServer};
use crate::logging;
use crate::server::{lock, Server, Session};

/// LIBVIR_VERSION_NUMBER of the libvirt whose protocol oxvirtd speaks.
const LIB_VERSION: u64 = 9_000_000;

fn decode<T: Xdr>(body: &[u8]) -> Result<T> {
    xdr::from_bytes(body)
        .map_err(|_| Error::raw(code::RPC, from::RPC, "Unable to decode message payload"))
}

fn flags0(flags: u32, func: &str) -> Result<()> {
    check_flags(flags, 0, func, from::ADMIN)
}

fn no_server(name: &str) -> Error {
    Error::new(
        code::NO_SERVER,
        from::RPC,
        format!("No server named '{}'", name),
    )
}

fn find_server<'s>(s: &'s Server, name: &str) -> Result<&'s NetServer> {
    [&s.admin, &s.main]
        .into_iter()
        .find(|n| n.name == name)
        .ok_or_else(|| no_server(name))
}

fn client(srv: &NetServer, id: u64) -> Result<std::sync::Arc<ClientEntry>> {
    srv.client(id).ok_or_else(|| {
        Error::new(
            code::NO_CLIENT,
            from::RPC,
            format!("No client with matching ID '{}'", id),
        )
    })
}

fn wire_client(srv: &NetServer, c: &ClientEntry) -> a::Client {
    a::Client {
        srv: a::Server {
            name: srv.name.into(),
        },
        id: c.id,
        timestamp: c.timestamp,
        transport: c.transport.wire(),
    }
}

fn uint(field: &str, v: usize) -> TypedParam {
    TypedParam {
        field: field.into(),
        value: TypedParamValue::UInt(u32::try_from(v).unwrap_or(u32::MAX)),
    }
}

/// virTypedParamsValidate over the fields a setter takes, all UINT; the
/// values by name (the last one given wins, as virTypedParamsGet's first
/// match on a list libvirt has already checked for duplicates).
fn uints(ps: &[TypedParam], allowed: &[&str]) -> Result<Vec<(String, u32)>> {
    let mut out: Vec<(String, u32)> = Vec::new();
    for p in ps {
        if !allowed.contains(&p.field.as_str()) {
            return Err(Error::new(
                code::ARGUMENT_UNSUPPORTED,
                from::NONE,
                format!("parameter '{}' not supported", p.field),
            ));
        }
        let TypedParamValue::UInt(v) = p.value else {
            return Err(Error::new(
                code::INVALID_ARG,
                from::NONE,
                format!(
                    "invalid type '{}' for parameter '{}', expected 'uint'",
                    type_name(&p.value),
                    p.field
                ),
            ));
        };
        if out.iter().any(|(f, _)| *f == p.field) {
            return Err(Error::new(
                code::INVALID_ARG,
                from::NONE,
                format!("parameter '{}' occurs multiple times", p.field),
            ));
        }
        out.push((p.field.clone(), v));
    }
    Ok(out)
}

fn type_name(v: &TypedParamValue) -> &'static str {
    match v {
        TypedParamValue::Int(_) => "int",
        TypedParamValue::UInt(_) => "uint",
        TypedParamValue::LLong(_) => "llong",
        TypedParamValue::ULLong(_) => "ullong",
        TypedParamValue::Double(_) => "double",
        TypedParamValue::Boolean(_) => "boolean",
        TypedParamValue::String(_) => "string",
    }
}

fn get(v: &[(String, u32)], name: &str) -> Option<usize> {
    v.iter().find(|(f, _)| f == name).map(|(_, x)| *x as usize)
}

/// adminClientGetInfo: readonly, then the SASL user, then for a network
/// client its address and certificate DN, for a local one its unix
/// credentials.
fn client_info(c: &ClientEntry) -> Vec<TypedParam> {
    let id = &c.identity;
    let mut v = vec![TypedParam {
        field: "readonly".into(),
        value: TypedParamValue::Boolean(c.readonly as i32),
    }];
    let s = |f: &str, x: &str| TypedParam {
        field: f.into(),
        value: TypedParamValue::String(x.into()),
    };
    let i = |f: &str, x: i64| TypedParam {
        field: f.into(),
        value: TypedParamValue::Int(x as i32),
    };
    if let Some(u) = &id.sasl_user {
        v.push(s("sasl_user_name", u));
    }
    if c.transport != crate::clients::Transport::Unix {
        if let Some(a) = &id.sock_addr {
            v.push(s("sock_addr", a));
        }
        if let Some(dn) = &id.x509_dname {
            v.push(s("tls_x509_dname", dn));
        }
    } else {
        if let Some(u) = id.uid {
            v.push(i("unix_user_id", u as i64));
        }
        if let Some(n) = &id.user_name {
            v.push(s("unix_user_name", n));
        }
        if let Some(g) = id.gid {
            v.push(i("unix_group_id", g as i64));
        }
        if let Some(n) = &id.group_name {
            v.push(s("unix_group_name", n));
        }
        if let Some(p) = id.pid {
            v.push(i("unix_process_id", p as i64));
        }
    }
    v
}

/// Handles one ADMIN call; the reply's payload goes to `out`.
pub fn call(
    server: &Server,
    session: &Session,
    proc_: i32,
    body: &[u8],
    out: &mut Encoder,
) -> Result<()> {
    match proc_ {
        p::CONNECT_OPEN => {
            let a: a::FlagsArgs = decode(body)?;
            flags0(a.flags, "adminDispatchConnectOpen")?;
            return Ok(());
        }
        p::CONNECT_CLOSE => {
            // virNetServerClientDelayedClose: the reply goes out, then
            // the connection closes.
            session.close_after_reply();
            return Ok(());
        }
        _ => {}
    }
    match proc_ {
        p::CONNECT_GET_LIB_VERSION => {
            a::LibVersionRet {
                lib_ver: LIB_VERSION,
            }
            .encode(out);
        }
        p::CONNECT_LIST_SERVERS => {
            let a: a::ListServersArgs = decode(body)?;
            flags0(a.flags, "adminConnectListServers")?;
            let all = [&server.admin, &server.main];
            a::ListServersRet {
                servers: if a.need_results != 0 {
                    all.iter()
                        .map(|s| a::Server {
                            name: s.name.into(),
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                ret: all.len() as u32,
            }
            .encode(out);
        }
        p::CONNECT_LOOKUP_SERVER => {
            let a: a::LookupServerArgs = decode(body)?;
            let s = find_server(server, &a.name)?;
            flags0(a.flags, "adminConnectLookupServer")?;
            a::LookupServerRet {
                srv: a::Server {
                    name: s.name.into(),
                },
            }
            .encode(out);
        }
        p::SERVER_GET_THREADPOOL_PARAMETERS => {
            let a: a::ServerFlagsArgs = decode(body)?;
            let s = find_server(server, &a.srv.name)?;
            flags0(a.flags, "adminServerGetThreadPoolParameters")?;
            a::ThreadpoolParamsRet {
                params: s
                    .pool
                    .figures()
                    .iter()
                    .map(|(f, v)| uint(f, *v as usize))
                    .collect(),
            }
            .encode(out);
        }
        p::SERVER_SET_THREADPOOL_PARAMETERS => {
            let a: a::SetThreadpoolParamsArgs = decode(body)?;
            let s = find_server(server, &a.srv.name)?;
            flags0(a.flags, "adminServerSetThreadPoolParameters")?;
            let v = uints(&a.params, &["minWorkers", "maxWorkers", "prioWorkers"])?;
            if get(&v, "prioWorkers").is_some_and(|n| n > 0) {
                return Err(Error::new(
                    code::ARGUMENT_UNSUPPORTED,
                    from::ADMIN,
                    "oxvirtd has no priority worker pool: prioWorkers must be 0",
                ));
            }
            s.pool
                .set(get(&v, "minWorkers"), get(&v, "maxWorkers"))
                .map_err(|m| Error::new(code::INVALID_ARG, from::NONE, m))?;
        }
        p::SERVER_LIST_CLIENTS => {
            let a: a::ListClientsArgs = decode(body)?;
            let s = find_server(server, &a.srv.name)?;
            flags0(a.flags, "adminServerListClients")?;
            let cs = s.clients();
            a::ListClientsRet {
                clients: if a.need_results != 0 {
                    cs.iter().map(|c| wire_client(s, c)).collect()
                } else {
                    Vec::new()
                },
                ret: cs.len() as u32,
            }
            .encode(out);
        }
        p::SERVER_LOOKUP_CLIENT => {
            let a: a::LookupClientArgs = decode(body)?;
            let s = find_server(server, &a.srv.name)?;
            flags0(a.flags, "adminServerLookupClient")?;
            let c = client(s, a.id)?;
            a::LookupClientRet {
                clnt: wire_client(s, &c),
            }
            .encode(out);
        }
        p::CLIENT_GET_INFO => {
            let a: a::ClientFlagsArgs = decode(body)?;
            let s = find_server(server, &a.clnt.srv.name)?;
            let c = client(s, a.clnt.id)?;
            flags0(a.flags, "adminClientGetInfo")?;
            a::ClientInfoRet {
                params: client_info(&c),
            }
            .encode(out);
        }
        p::CLIENT_CLOSE => {
            let a: a::ClientFlagsArgs = decode(body)?;
            let s = find_server(server, &a.clnt.srv.name)?;
            let c = client(s, a.clnt.id)?;
            flags0(a.flags, "adminClientClose")?;
            tracing::info!(
                server = s.name,
                client = c.id,
                "client disconnected by an admin"
            );
            c.close();
        }
        p::SERVER_GET_CLIENT_LIMITS => {
            let a: a::ServerFlagsArgs = decode(body)?;
            let s = find_server(server, &a.srv.name)?;
            flags0(a.flags, "adminServerGetClientLimits")?;
            a::ClientLimitsRet {
                params: vec![
                    uint("nclients_max", s.max_clients.load(Ordering::Relaxed)),
                    uint("nclients", s.client_count()),
                    uint("nclients_unauth_max", s.max_unauth.load(Ordering::Relaxed)),
                    uint("nclients_unauth", s.unauth.load(Ordering::Relaxed)),
                ],
            }
            .encode(out);
        }
        p::SERVER_SET_CLIENT_LIMITS => {
            let a: a::SetClientLimitsArgs = decode(body)?;
            let s = find_server(server, &a.srv.name)?;
            flags0(a.flags, "adminServerSetClientLimits")?;
            let v = uints(&a.params, &["nclients_max", "nclients_unauth_max"])?;
            s.set_client_limits(get(&v, "nclients_max"), get(&v, "nclients_unauth_max"))
                .map_err(|m| Error::new(code::INVALID_ARG, from::RPC, m))?;
        }
        p::CONNECT_GET_LOGGING_OUTPUTS => {
            let a: a::FlagsArgs = decode(body)?;
            flags0(a.flags, "adminConnectGetLoggingOutputs")?;
            let o = server.log.outputs();
            a::LoggingOutputsRet {
                outputs: logging::format_outputs(&o),
                noutputs: o.len() as u32,
            }
            .encode(out);
        }
        p::CONNECT_GET_LOGGING_FILTERS => {
            let a: a::FlagsArgs = decode(body)?;
            flags0(a.flags, "adminConnectGetLoggingFilters")?;
            let f = server.log.filters();
            a::LoggingFiltersRet {
                filters: (!f.is_empty()).then(|| logging::format_filters(&f)),
                nfilters: f.len() as u32,
            }
            .encode(out);
        }
        p::CONNECT_SET_LOGGING_OUTPUTS => {
            let a: a::SetLoggingArgs = decode(body)?;
            flags0(a.flags, "adminConnectSetLoggingOutputs")?;
            let o = logging::parse_outputs(a.value.as_deref().unwrap_or(""))?;
            server.log.set_outputs(o);
        }
        p::CONNECT_SET_LOGGING_FILTERS => {
            let a: a::SetLoggingArgs = decode(body)?;
            flags0(a.flags, "adminConnectSetLoggingFilters")?;
            let f = logging::parse_filters(a.value.as_deref().unwrap_or(""))?;
            server.log.set_filters(f);
        }
        p::SERVER_UPDATE_TLS_FILES => {
            let a: a::ServerFlagsArgs = decode(body)?;
            let s = find_server(server, &a.srv.name)?;
            flags0(a.flags, "adminServerUpdateTlsFiles")?;
            let tls = lock(&server.tls).clone();
            match (tls, s.name) {
                (Some(reload), "libvirtd") => reload(&server.cfg())?,
                _ => {
                    return Err(Error::new(
                        code::INTERNAL_ERROR,
                        from::RPC,
                        "no tls service found, unable to update tls files",
                    ))
                }
            }
        }
        p::CONNECT_SET_DAEMON_TIMEOUT => {
            let a: a::SetDaemonTimeoutArgs = decode(body)?;
            flags0(a.flags, "adminConnectSetDaemonTimeout")?;
            server.set_idle_timeout(a.timeout as u64);
        }
        n => {
            return Err(Error::raw(
                code::RPC,
                from::RPC,
                format!("unknown procedure: {}", n),
            ))
        }
    }
    Ok(())
}
