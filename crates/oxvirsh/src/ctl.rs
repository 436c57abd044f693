//! The shell's state: connection, global options, output and virsh's
//! error reporting.

use std::io::Write;
use std::sync::Arc;

use oxvirt_core::types::{DomainRef, Uuid};
use oxvirt_core::{Connection, Error};

use crate::cmd::{Cmd, OptError};

/// Lookup methods for virshLookupDomainBy.
pub const BY_ID: u32 = 1;
pub const BY_UUID: u32 = 2;
pub const BY_NAME: u32 = 4;

/// Why a command failed. Messages print as `error: MSG`; a libvirt error
/// is printed last, as virsh's vshReportError does.
#[derive(Debug)]
pub enum Fail {
    /// A message of the shell's own.
    Msg(String),
    /// A libvirt error.
    Lib(Box<Error>),
    /// The shell's message, then the libvirt error.
    MsgLib(String, Box<Error>),
    /// Everything was already printed.
    Silent,
}

impl Fail {
    /// A libvirt error on its own.
    pub fn lib(e: Error) -> Fail {
        Fail::Lib(Box::new(e))
    }

    /// The shell's message, then a libvirt error.
    pub fn msg_lib(msg: impl Into<String>, e: Error) -> Fail {
        Fail::MsgLib(msg.into(), Box::new(e))
    }
}

impl From<OptError> for Fail {
    fn from(e: OptError) -> Fail {
        match e.1 {
            Some(lib) => Fail::MsgLib(e.0, lib),
            None => Fail::Msg(e.0),
        }
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::lib(e)
    }
}

/// What a command handler returns.
pub type R = Result<(), Fail>;

/// Attaches a shell message in front of a libvirt error.
pub trait Context<T> {
    fn ctx(self, msg: impl FnOnce() -> String) -> Result<T, Fail>;
}

impl<T> Context<T> for oxvirt_core::Result<T> {
    fn ctx(self, msg: impl FnOnce() -> String) -> Result<T, Fail> {
        self.map_err(|e| Fail::msg_lib(msg(), e))
    }
}

/// Opens a connection by URI.
pub type Opener = fn(&str, bool) -> oxvirt_core::Result<Arc<Connection>>;

/// The shell's state (virsh's vshControl plus virshControl).
pub struct Ctl {
    pub conn: Option<Arc<Connection>>,
    pub connname: Option<String>,
    pub readonly: bool,
    pub quiet: bool,
    pub timing: bool,
    pub debug: i32,
    pub keepalive_interval: i32,
    pub keepalive_count: i32,
    pub imode: bool,
    /// The libvirt error waiting to be reported (virsh's last_error).
    pub last_error: Option<Error>,
    pub opener: Opener,
    /// Set by `quit`/`exit`.
    pub quit: bool,
    /// The console's escape sequence (`-e`), as given: `^]` or one character.
    pub escape: String,
    /// `--json` / `-o json`: listing and info commands print one JSON
    /// document instead of virsh's text.
    pub json: bool,
    /// When set, stdout goes here instead (tests drive one shell state
    /// through many commands and read what each printed).
    pub capture: Option<std::sync::Mutex<String>>,
}

impl Ctl {
    pub fn new(opener: Opener) -> Ctl {
        Ctl {
            conn: None,
            connname: None,
            readonly: false,
            quiet: false,
            timing: false,
            debug: 4,
            keepalive_interval: -1,
            keepalive_count: -1,
            imode: false,
            last_error: None,
            opener,
            escape: "^]".into(),
            quit: false,
            json: false,
            capture: None,
        }
    }

    /// Prints a table as virsh does (its header unless `-q`), or as JSON.
    pub fn emit_table(&self, t: &crate::table::Table) {
        self.emit_table_with(t, !self.quiet)
    }

    /// [`Ctl::emit_table`] with the header shown or not.
    pub fn emit_table_with(&self, t: &crate::table::Table, header: bool) {
        if self.json {
            self.print(&t.to_json().pretty());
        } else {
            self.print(&t.render(header));
        }
    }

    /// Prints a key/value block as virsh does, or as JSON.
    pub fn emit_block(&self, b: &crate::out::Block) {
        if self.json {
            self.print(&b.to_json().pretty());
        } else {
            self.print(b.render());
        }
    }

    /// Prints virsh's text, or the same facts as JSON.
    pub fn emit(&self, text: &str, json: crate::out::J) {
        if self.json {
            self.print(&json.pretty());
        } else {
            self.print(text);
        }
    }

    /// vshPrint: stdout, flushed so that it interleaves with stderr.
    pub fn print(&self, s: &str) {
        if let Some(c) = &self.capture {
            if let Ok(mut c) = c.lock() {
                c.push_str(s);
            }
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(s.as_bytes());
        let _ = out.flush();
    }

    /// vshPrintExtra: suppressed by `-q`.
    pub fn extra(&self, s: &str) {
        if !self.quiet {
            self.print(s);
        }
    }

    /// vshError.
    pub fn error(&self, msg: &str) {
        let _ = std::io::stdout().flush();
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "error: {}", msg);
        let _ = err.flush();
    }

    /// vshReportError: prints the pending libvirt error, if any.
    pub fn report_error(&mut self) {
        if let Some(e) = self.last_error.take() {
            self.error(&e.message);
        }
    }

    /// Prints a command's failure the way virsh does.
    pub fn fail(&mut self, f: Fail) {
        match f {
            Fail::Msg(m) => self.error(&m),
            Fail::Lib(e) => self.last_error = Some(*e),
            Fail::MsgLib(m, e) => {
                self.error(&m);
                self.last_error = Some(*e);
            }
            Fail::Silent => {}
        }
        self.report_error();
    }

    /// Opens (or reopens) the connection.
    pub fn connect(&mut self, name: Option<&str>, readonly: bool) -> Result<(), Fail> {
        self.conn = None;
        let uri = name
            .map(str::to_string)
            .or_else(|| self.connname.clone())
            .or_else(|| std::env::var("VIRSH_DEFAULT_CONNECT_URI").ok())
            .or_else(|| std::env::var("LIBVIRT_DEFAULT_URI").ok())
            .unwrap_or_else(|| "test:///default".to_string());
        match (self.opener)(&uri, readonly) {
            Ok(c) => {
                self.conn = Some(c);
                if let Some(n) = name {
                    self.connname = Some(n.to_string());
                }
                self.readonly = readonly;
                Ok(())
            }
            Err(e) => Err(Fail::msg_lib("failed to connect to the hypervisor", e)),
        }
    }

    /// The open connection (the run loop connects before handlers run).
    pub fn conn(&self) -> Result<Arc<Connection>, Fail> {
        self.conn
            .clone()
            .ok_or_else(|| Fail::Msg("no valid connection".into()))
    }

    /// vshDebug: printed to stdout when `level` reaches the `-d` level.
    pub fn debug(&self, level: i32, msg: &str) {
        if level >= self.debug {
            self.print(msg);
        }
    }

    /// virshLookupDomainBy: by id, then UUID, then name, as `by` allows.
    pub fn lookup_domain_by(
        &mut self,
        cmdname: &str,
        name: &str,
        by: u32,
    ) -> Result<DomainRef, Fail> {
        let conn = self.conn()?;
        let mut found = None;
        if by & BY_ID != 0 {
            if let Some(id) = crate::cmd::strtol(name) {
                if (0..=i32::MAX as i64).contains(&id) {
                    self.debug(0, &format!("{}: <domain> looks like ID\n", cmdname));
                    found = conn.lookup_domain_by_id(id as i32).ok();
                }
            }
        }
        if found.is_none() && by & BY_UUID != 0 && name.len() == 36 {
            self.debug(0, &format!("{}: <domain> trying as domain UUID\n", cmdname));
            if let Some(u) = Uuid::parse(name) {
                found = conn.lookup_domain_by_uuid(&u).ok();
            }
        }
        if found.is_none() && by & BY_NAME != 0 {
            self.debug(0, &format!("{}: <domain> trying as domain NAME\n", cmdname));
            found = conn.lookup_domain_by_name(name).ok();
        }
        self.last_error = None;
        found.ok_or_else(|| Fail::Msg(format!("failed to get domain '{}'", name)))
    }

    /// A domain by id, UUID or name.
    pub fn lookup_domain(&mut self, name: &str) -> Result<DomainRef, Fail> {
        self.lookup_domain_by("unknown", name, BY_ID | BY_UUID | BY_NAME)
    }

    /// virshCommandOptDomain: the domain the `domain` option names.
    pub fn domain(&mut self, cmd: &Cmd) -> Result<DomainRef, Fail> {
        self.domain_opt_by(cmd, "domain", BY_ID | BY_UUID | BY_NAME)
    }

    pub fn domain_opt(&mut self, cmd: &Cmd, opt: &str) -> Result<DomainRef, Fail> {
        self.domain_opt_by(cmd, opt, BY_ID | BY_UUID | BY_NAME)
    }

    /// virshCommandOptDomainBy.
    pub fn domain_opt_by(&mut self, cmd: &Cmd, opt: &str, by: u32) -> Result<DomainRef, Fail> {
        let name = cmd.req(opt)?.to_string();
        self.debug(
            1,
            &format!("{}: found option <{}>: {}\n", cmd.def.name, opt, name),
        );
        self.lookup_domain_by(cmd.def.name, &name, by)
    }
}
