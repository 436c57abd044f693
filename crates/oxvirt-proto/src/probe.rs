//! Any procedure's arguments or reply decoded from arbitrary bytes, the
//! way oxvirtd and the remote driver decode them: XDR by the row's kinds
//! (`crate::table`), then each kind's conversion to its core value with
//! libvirtd's argument checks (`crate::convert::Wire::into_core`).
//!
//! For the fuzz targets and tests: whatever the bytes, the answer is a
//! value or an error, never a panic, and never an allocation the input
//! does not justify.

use crate::convert::Wire;
use crate::xdr::{self, Xdr};

/// Which half of a procedure the bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    /// A CALL's payload (the daemon decodes it).
    Args,
    /// A REPLY's payload (the remote driver decodes it).
    Reply,
}

/// What decoding gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// The XDR was refused.
    Xdr(xdr::XdrError),
    /// The XDR decoded (`wire` is the value re-encoded) and the
    /// conversion to core values refused it with this libvirt error.
    Refused {
        wire: Vec<u8>,
        error: oxvirt_core::Error,
    },
    /// Decoded and converted; `wire` is the value re-encoded.
    Value { wire: Vec<u8> },
}

impl Decoded {
    /// The re-encoded wire value, when the XDR decoded.
    pub fn wire(&self) -> Option<&[u8]> {
        match self {
            Decoded::Xdr(_) => None,
            Decoded::Refused { wire, .. } | Decoded::Value { wire } => Some(wire),
        }
    }
}

/// Decodes one value of kind `T` (a tuple for arguments) and converts
/// it, element by element, with `conv`.
fn run<T: Xdr + Clone>(body: &[u8], conv: impl FnOnce(T) -> oxvirt_core::Result<()>) -> Decoded {
    match xdr::from_bytes::<T>(body) {
        Err(e) => Decoded::Xdr(e),
        Ok(v) => {
            let wire = xdr::to_bytes(&v);
            match conv(v) {
                Ok(()) => Decoded::Value { wire },
                Err(error) => Decoded::Refused { wire, error },
            }
        }
    }
}

/// The callback that turns a family's rows into one `match` arm each.
macro_rules! probe_rows {
    (
        { $proc_:ident $half:ident $body:ident $out:ident }
        $family:ident;
        $( $(#[$flag:ident])? $name:ident = $num:literal $api:literal $rw:ident $m:tt
            ( $($n:ident : $k:tt),* ) -> $ret:tt ; )*
    ) => {
        $(
            if $proc_ == $num {
                $out = Some(match $half {
                    Half::Args => run::<($($crate::kind!($k),)*)>($body, |v| {
                        #[allow(unused_variables)]
                        let ($($n,)*) = v;
                        $( <$crate::kind!($k) as Wire>::into_core($n)?; )*
                        Ok(())
                    }),
                    Half::Reply => run::<$crate::kind!($ret)>($body, |v| {
                        <$crate::kind!($ret) as Wire>::into_core(v).map(|_| ())
                    }),
                });
            }
        )*
    };
}

/// Decodes `body` as the arguments or the reply of procedure `proc_`
/// of the REMOTE program; None when no row of the table has that
/// number.
pub fn decode(proc_: i32, half: Half, body: &[u8]) -> Option<Decoded> {
    let mut out = None;
    crate::hypervisor_procedures!(probe_rows { proc_ half body out });
    crate::storage_procedures!(probe_rows { proc_ half body out });
    crate::network_procedures!(probe_rows { proc_ half body out });
    crate::secret_procedures!(probe_rows { proc_ half body out });
    crate::nodedev_procedures!(probe_rows { proc_ half body out });
    crate::interface_procedures!(probe_rows { proc_ half body out });
    crate::nwfilter_procedures!(probe_rows { proc_ half body out });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_decodes_its_own_encoding_and_refuses_truncation() {
        for row in crate::table::rows() {
            for half in [Half::Args, Half::Reply] {
                // Zero bytes: a row without arguments decodes, the others
                // are truncated; nothing panics.
                let d = decode(row.num, half, &[]).expect("row is in the table");
                if let Some(w) = d.wire() {
                    let again = decode(row.num, half, w).expect("row");
                    assert_eq!(again.wire(), Some(w), "{} {:?}", row.name, half);
                }
                // A huge count where a list or string would start.
                let _ = decode(row.num, half, &[0xff; 64]);
            }
        }
        assert!(decode(-1, Half::Args, &[]).is_none());
    }
}
