//! The ADMIN program (libvirt's `admin_protocol.x`): virt-admin's calls
//! to a daemon's admin socket. Same frames and XDR as the REMOTE program;
//! typed parameters have the REMOTE program's layout.

use crate::remote::TypedParam;
use crate::xdr_struct;

/// `ADMIN_PROGRAM`.
pub const PROGRAM: u32 = 0x0690_0690;
pub const PROTOCOL_VERSION: u32 = 1;

/// List and parameter maxima.
pub mod max {
    pub const SERVER_LIST: usize = 16384;
    pub const SERVER_THREADPOOL_PARAMETERS: usize = 32;
    pub const CLIENT_LIST: usize = 16384;
    pub const CLIENT_INFO_PARAMETERS: usize = 64;
    pub const SERVER_CLIENT_LIMITS: usize = 32;
}

/// `admin_procedure`.
pub mod procs {
    pub const CONNECT_OPEN: i32 = 1;
    pub const CONNECT_CLOSE: i32 = 2;
    pub const CONNECT_GET_LIB_VERSION: i32 = 3;
    pub const CONNECT_LIST_SERVERS: i32 = 4;
    pub const CONNECT_LOOKUP_SERVER: i32 = 5;
    pub const SERVER_GET_THREADPOOL_PARAMETERS: i32 = 6;
    pub const SERVER_SET_THREADPOOL_PARAMETERS: i32 = 7;
    pub const SERVER_LIST_CLIENTS: i32 = 8;
    pub const SERVER_LOOKUP_CLIENT: i32 = 9;
    pub const CLIENT_GET_INFO: i32 = 10;
    pub const CLIENT_CLOSE: i32 = 11;
    pub const SERVER_GET_CLIENT_LIMITS: i32 = 12;
    pub const SERVER_SET_CLIENT_LIMITS: i32 = 13;
    pub const CONNECT_GET_LOGGING_OUTPUTS: i32 = 14;
    pub const CONNECT_GET_LOGGING_FILTERS: i32 = 15;
    pub const CONNECT_SET_LOGGING_OUTPUTS: i32 = 16;
    pub const CONNECT_SET_LOGGING_FILTERS: i32 = 17;
    pub const SERVER_UPDATE_TLS_FILES: i32 = 18;
    pub const CONNECT_SET_DAEMON_TIMEOUT: i32 = 19;
}

/// `virClientTransport`.
pub mod transport {
    pub const UNIX: u32 = 0;
    pub const TCP: u32 = 1;
    pub const TLS: u32 = 2;
}

xdr_struct! {
    /// `admin_nonnull_server`.
    pub struct Server { pub name: String }
    /// `admin_nonnull_client`.
    pub struct Client { pub srv: Server, pub id: u64, pub timestamp: i64, pub transport: u32 }

    pub struct FlagsArgs { pub flags: u32 }
    pub struct LibVersionRet { pub lib_ver: u64 }
    pub struct ListServersArgs { pub need_results: u32, pub flags: u32 }
    pub struct ListServersRet { pub servers: Vec<Server> [max::SERVER_LIST], pub ret: u32 }
    pub struct LookupServerArgs { pub name: String, pub flags: u32 }
    pub struct LookupServerRet { pub srv: Server }
    /// get_threadpool_parameters, get_client_limits, update_tls_files.
    pub struct ServerFlagsArgs { pub srv: Server, pub flags: u32 }
    pub struct ThreadpoolParamsRet { pub params: Vec<TypedParam> [max::SERVER_THREADPOOL_PARAMETERS] }
    pub struct SetThreadpoolParamsArgs {
        pub srv: Server,
        pub params: Vec<TypedParam> [max::SERVER_THREADPOOL_PARAMETERS],
        pub flags: u32,
    }
    pub struct ListClientsArgs { pub srv: Server, pub need_results: u32, pub flags: u32 }
    pub struct ListClientsRet { pub clients: Vec<Client> [max::CLIENT_LIST], pub ret: u32 }
    pub struct LookupClientArgs { pub srv: Server, pub id: u64, pub flags: u32 }
    pub struct LookupClientRet { pub clnt: Client }
    /// client_get_info, client_close.
    pub struct ClientFlagsArgs { pub clnt: Client, pub flags: u32 }
    pub struct ClientInfoRet { pub params: Vec<TypedParam> [max::CLIENT_INFO_PARAMETERS] }
    pub struct ClientLimitsRet { pub params: Vec<TypedParam> [max::SERVER_CLIENT_LIMITS] }
    pub struct SetClientLimitsArgs {
        pub srv: Server,
        pub params: Vec<TypedParam> [max::SERVER_CLIENT_LIMITS],
        pub flags: u32,
    }
    pub struct LoggingOutputsRet { pub outputs: String, pub noutputs: u32 }
    pub struct LoggingFiltersRet { pub filters: Option<String>, pub nfilters: u32 }
    /// set_logging_outputs, set_logging_filters.
    pub struct SetLoggingArgs { pub value: Option<String>, pub flags: u32 }
    pub struct SetDaemonTimeoutArgs { pub timeout: u32, pub flags: u32 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::TypedParamValue;
    use crate::xdr;

    #[test]
    fn client_round_trip() {
        let c = Client {
            srv: Server {
                name: "libvirtd".into(),
            },
            id: 7,
            timestamp: 1_700_000_000,
            transport: transport::TLS,
        };
        let r = ListClientsRet {
            clients: vec![c.clone()],
            ret: 1,
        };
        let b = xdr::to_bytes(&r);
        assert_eq!(xdr::from_bytes::<ListClientsRet>(&b).unwrap(), r);
        let p = SetThreadpoolParamsArgs {
            srv: c.srv,
            params: vec![TypedParam {
                field: "maxWorkers".into(),
                value: TypedParamValue::UInt(9),
            }],
            flags: 0,
        };
        let b = xdr::to_bytes(&p);
        assert_eq!(xdr::from_bytes::<SetThreadpoolParamsArgs>(&b).unwrap(), p);
    }

    #[test]
    fn bounded() {
        // A client list claiming more than ADMIN_CLIENT_LIST_MAX entries.
        let mut e = crate::xdr::Encoder::new();
        e.put_u32(max::CLIENT_LIST as u32 + 1);
        assert!(xdr::from_bytes::<ListClientsRet>(&e.into_bytes()).is_err());
    }
}
