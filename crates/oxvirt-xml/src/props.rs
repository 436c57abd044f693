//! Typed reads of attributes and element text, with libvirt's error wording.
//!
//! These mirror the behaviour (not the code) of libvirt's `virXMLProp*`
//! helpers: a missing required attribute, a value that is not in an
//! enumeration and a number that does not parse each give the message a
//! libvirt user knows.

use crate::dom::Element;
use crate::error::{Error, Result};

/// An enumeration that libvirt writes as a string.
pub trait XmlEnum: Sized + Copy + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    fn from_xml(s: &str) -> Option<Self>;
    fn to_xml(self) -> &'static str;
}

/// Declares a fieldless enum with its XML spellings.
#[macro_export]
macro_rules! xml_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $($(#[$vm])* $var),+ }
        impl $crate::props::XmlEnum for $name {
            const ALL: &'static [Self] = &[$($name::$var),+];
            fn from_xml(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$var),)+ _ => None }
            }
            fn to_xml(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::props::XmlEnum::to_xml(*self))
            }
        }
    };
}

pub fn missing_attr(el: &Element, attr: &str) -> Error {
    Error::xml(format!(
        "Missing required attribute '{}' in element '{}'",
        attr, el.name
    ))
}

fn invalid_attr(el: &Element, attr: &str, value: &str) -> Error {
    Error::xml(format!(
        "Invalid value for attribute '{}' in element '{}': '{}'.",
        attr, el.name, value
    ))
}

/// Required string attribute.
pub fn req<'a>(el: &'a Element, attr: &str) -> Result<&'a str> {
    el.attr(attr).ok_or_else(|| missing_attr(el, attr))
}

/// Optional string attribute, owned.
pub fn opt(el: &Element, attr: &str) -> Option<String> {
    el.attr(attr).map(str::to_string)
}

/// Optional enumerated attribute (`virXMLPropEnum`).
pub fn opt_enum<T: XmlEnum>(el: &Element, attr: &str) -> Result<Option<T>> {
    match el.attr(attr) {
        None => Ok(None),
        Some(v) => T::from_xml(v)
            .map(Some)
            .ok_or_else(|| invalid_attr(el, attr, v)),
    }
}

/// Required enumerated attribute.
pub fn req_enum<T: XmlEnum>(el: &Element, attr: &str) -> Result<T> {
    opt_enum(el, attr)?.ok_or_else(|| missing_attr(el, attr))
}

/// A libvirt tristate (`yes`/`no`) attribute.
pub fn opt_yes_no(el: &Element, attr: &str) -> Result<Option<bool>> {
    match el.attr(attr) {
        None => Ok(None),
        Some("yes") => Ok(Some(true)),
        Some("no") => Ok(Some(false)),
        Some(v) => Err(invalid_attr(el, attr, v)),
    }
}

/// A libvirt on/off switch attribute.
pub fn opt_on_off(el: &Element, attr: &str) -> Result<Option<bool>> {
    match el.attr(attr) {
        None => Ok(None),
        Some("on") => Ok(Some(true)),
        Some("off") => Ok(Some(false)),
        Some(v) => Err(invalid_attr(el, attr, v)),
    }
}

/// Parses an unsigned integer the way `virStrToLong_ui*` does: decimal,
/// or hex with a `0x` prefix, or octal with a leading `0` (base 0).
pub fn parse_u64_any_base(s: &str) -> Option<u64> {
    let t = s.trim_start();
    if t.starts_with('-') {
        return None;
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if t.len() > 1 && t.starts_with('0') {
        u64::from_str_radix(&t[1..], 8).ok()
    } else {
        t.parse().ok()
    }
}

/// Optional non-negative integer attribute (`virXMLPropUInt`, base 10).
pub fn opt_uint<T: TryFrom<u64>>(el: &Element, attr: &str) -> Result<Option<T>> {
    match el.attr(attr) {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .and_then(|n| T::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                Error::xml(format!(
                    "Invalid value for attribute '{}' in element '{}': '{}'. Expected non-negative integer value",
                    attr, el.name, v
                ))
            }),
    }
}

/// Optional unsigned integer attribute accepting any base (`0x..`).
pub fn opt_uint_any<T: TryFrom<u64>>(el: &Element, attr: &str) -> Result<Option<T>> {
    match el.attr(attr) {
        None => Ok(None),
        Some(v) => parse_u64_any_base(v)
            .and_then(|n| T::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                Error::xml(format!(
                    "Invalid value for attribute '{}' in element '{}': '{}'. Expected non-negative integer value",
                    attr, el.name, v
                ))
            }),
    }
}

/// Optional signed integer attribute (`virXMLPropInt`).
pub fn opt_int<T: TryFrom<i64>>(el: &Element, attr: &str) -> Result<Option<T>> {
    match el.attr(attr) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .and_then(|n| T::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                Error::xml(format!(
                    "Invalid value for attribute '{}' in element '{}': '{}'. Expected integer value",
                    attr, el.name, v
                ))
            }),
    }
}

/// Scales `value` by a unit suffix as `virScaleInteger` does; `default`
/// is the scale when there is no suffix.
pub fn scale(value: u64, unit: Option<&str>, default: u64, limit: u64) -> Result<u64> {
    let (scale, suffix) = match unit {
        None | Some("") => (default, ""),
        Some(u) => {
            let l = u.to_ascii_lowercase();
            if l == "b" || l == "byte" || l == "bytes" {
                (1, u)
            } else {
                let bytes = l.as_bytes();
                // Bytes, not chars: a unit may start with any character.
                let base: u64 = if bytes.len() == 1 || &bytes[1..] == b"ib" {
                    1024
                } else if bytes.len() == 2 && bytes[1] == b'b' {
                    1000
                } else {
                    return Err(Error::invalid_arg(format!("unknown suffix '{}'", u)));
                };
                let pow = match bytes[0] {
                    b'k' => 1,
                    b'm' => 2,
                    b'g' => 3,
                    b't' => 4,
                    b'p' => 5,
                    b'e' => 6,
                    _ => return Err(Error::invalid_arg(format!("unknown suffix '{}'", u))),
                };
                (base.pow(pow), u)
            }
        }
    };
    if value != 0 && value > limit / scale {
        return Err(Error::Overflow(format!(
            "value too large: {}{}",
            value, suffix
        )));
    }
    Ok(value * scale)
}

/// The largest memory size libvirt accepts, in bytes (`virMemoryMaxValue`
/// on a 64-bit host: LLONG_MAX rounded down to KiB... kept as libvirt has it).
pub const MEMORY_MAX_BYTES: u64 = i64::MAX as u64;

/// Parses a memory size in element text with a `unit` attribute into KiB
/// (`virDomainParseMemory`). `what` is the XPath libvirt would name.
pub fn memory_kib(value: &str, unit: Option<&str>, what: &str) -> Result<u64> {
    let bytes: u64 = value.trim().parse().map_err(|_| {
        Error::xml(format!(
            "Invalid value '{}' for element or attribute '{}'",
            value, what
        ))
    })?;
    let bytes = scale(bytes, unit, 1024, MEMORY_MAX_BYTES)?;
    let kib = bytes.div_ceil(1024);
    if kib >= MEMORY_MAX_BYTES.div_ceil(1024) {
        return Err(Error::Overflow("size value too large".into()));
    }
    Ok(kib)
}

/// A UUID as 16 raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// Parses libvirt's accepted UUID spellings: 32 hex digits, optionally
    /// separated by `-` anywhere, surrounding blanks ignored.
    pub fn parse(s: &str) -> Option<Uuid> {
        let mut out = [0u8; 16];
        let mut n = 0;
        let mut hi: Option<u8> = None;
        let t = s.trim();
        for c in t.chars() {
            if c == '-' {
                continue;
            }
            let d = c.to_digit(16)? as u8;
            match hi.take() {
                None => hi = Some(d),
                Some(h) => {
                    if n >= 16 {
                        return None;
                    }
                    out[n] = (h << 4) | d;
                    n += 1;
                }
            }
        }
        if n != 16 || hi.is_some() {
            return None;
        }
        Some(Uuid(out))
    }

    /// True for all-zero or all-equal bytes, which libvirt refuses in
    /// host UUIDs; kept for callers that need the check.
    pub fn is_nil(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }
}

impl std::fmt::Display for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
        )
    }
}

/// A MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// Parses `aa:bb:cc:dd:ee:ff` (one or two hex digits per part, `:` or `-`).
    pub fn parse(s: &str) -> Option<Mac> {
        let mut out = [0u8; 6];
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return None;
        }
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || p.len() > 2 {
                return None;
            }
            out[i] = u8::from_str_radix(p, 16).ok()?;
        }
        Some(Mac(out))
    }

    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_starting_with_a_multibyte_character_is_refused() {
        // Found by xml_volume: "\u{feff}G" used to panic on a char boundary.
        for u in ["\u{feff}G", "éib", "ü", "€b"] {
            assert!(scale(6, Some(u), 1024, u64::MAX).is_err(), "{}", u);
        }
        assert_eq!(scale(6, Some("GiB"), 1024, u64::MAX).ok(), Some(6 << 30));
    }

    #[test]
    fn scales_units() {
        assert_eq!(
            memory_kib("256", Some("MiB"), "./memory[1]").unwrap(),
            262144
        );
        assert_eq!(memory_kib("1", Some("G"), "./memory[1]").unwrap(), 1048576);
        assert_eq!(memory_kib("1000", Some("b"), "./memory[1]").unwrap(), 1);
        assert_eq!(memory_kib("1", Some("KB"), "./memory[1]").unwrap(), 1);
        assert!(memory_kib("x", None, "./memory[1]").is_err());
        assert!(memory_kib("1", Some("zz"), "./memory[1]").is_err());
    }

    #[test]
    fn uuid_and_mac_round_trip() {
        let u = Uuid::parse("6695eb01-f6a4-8304-79aa-97f2502e193f").unwrap();
        assert_eq!(u.to_string(), "6695eb01-f6a4-8304-79aa-97f2502e193f");
        assert!(Uuid::parse("6695eb01f6a4830479aa97f2502e193f").is_some());
        assert!(Uuid::parse("6695eb01-f6a4-8304-79aa-97f2502e193").is_none());
        let m = Mac::parse("AA:bb:cc:dd:ee:1").unwrap();
        assert_eq!(m.to_string(), "aa:bb:cc:dd:ee:01");
    }
}
