//! libvirt's RPC protocol as a pure codec: XDR, frames, procedure
//! numbers and the argument, reply and event structs of the REMOTE and
//! KEEPALIVE programs.
//!
//! Invariants:
//! - no sockets, no driver: bytes in, values out;
//! - decoding never panics and never allocates beyond what the input
//!   (and libvirt's limits) justify.

pub mod admin;
pub mod convert;
pub mod kinds;
pub mod packet;
pub mod probe;
pub mod procs;
pub mod remote;
#[macro_use]
pub mod table;
pub mod xdr;

/// The core types the wire carries (re-exported for the table's macros).
pub use oxvirt_core;

pub use packet::{FrameError, Header, MsgType, Status};
pub use xdr::{Decoder, Encoder, Xdr, XdrError};

/// The procedure's name (`DOMAIN_GET_XML_DESC`), if it exists.
pub fn proc_name(proc_: i32) -> Option<&'static str> {
    procs::NAMES
        .binary_search_by_key(&proc_, |&(n, _)| n)
        .ok()
        .map(|i| procs::NAMES[i].1)
}

/// Words libvirt's public API spells in capitals.
const ACRONYMS: &[&str] = &[
    "XML", "UUID", "ID", "CPU", "OS", "PM", "NMI", "FS", "IO", "SEV", "TPM", "MAC", "DHCP", "URI",
    "SSH", "NUMA", "SGX", "FD",
];

/// Words spelled in mixed case in libvirt's public API.
const SPECIAL: &[(&str, &str)] = &[
    ("IOTHREAD", "IOThread"),
    ("IOTHREADS", "IOThreads"),
    ("NWFILTER", "NWFilter"),
    ("NWFILTERS", "NWFilters"),
    ("FSFREEZE", "FSFreeze"),
    ("FSTHAW", "FSThaw"),
    ("FSTRIM", "FSTrim"),
    ("FSINFO", "FSInfo"),
    ("SCSI", "SCSI"),
    ("WWN", "WWN"),
];

/// The public API behind a procedure, by libvirt's naming convention:
/// `DOMAIN_GET_XML_DESC` -> `virDomainGetXMLDesc`. Used in "not
/// supported" errors for procedures oxvirtd does not dispatch.
pub fn api_name(proc_: i32) -> Option<String> {
    let name = proc_name(proc_)?;
    let mut out = String::from("vir");
    for word in name.split('_') {
        if let Some(&(_, spelled)) = SPECIAL.iter().find(|(w, _)| *w == word) {
            out.push_str(spelled);
        } else if ACRONYMS.contains(&word) {
            out.push_str(word);
        } else {
            let mut cs = word.chars();
            if let Some(c) = cs.next() {
                out.push(c);
                out.extend(cs.map(|c| c.to_ascii_lowercase()));
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
