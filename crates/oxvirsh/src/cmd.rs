//! Command definitions and parsed commands, with virsh's option accessors.

/// What an option takes (virsh's vshCmdOptType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    /// A flag with no value.
    Bool,
    /// A string value, given as `--opt VAL` or, unless REQ_OPT, positionally.
    String,
    /// A number.
    Int,
    /// A positional value that may also be named.
    Data,
    /// Everything left on the line.
    Argv,
    /// Another name for an option (`help` holds the target, maybe `name=value`).
    Alias,
}

/// Option flags (vshCmdOptFlag).
pub mod oflag {
    pub const NONE: u32 = 0;
    pub const REQ: u32 = 1 << 0;
    pub const EMPTY_OK: u32 = 1 << 1;
    pub const REQ_OPT: u32 = 1 << 2;
}

/// Command flags (vshCmdFlag).
pub mod cflag {
    pub const NOCONNECT: u32 = 1 << 0;
    pub const ALIAS: u32 = 1 << 1;
    pub const HIDDEN: u32 = 1 << 2;
}

/// One option of a command.
#[derive(Debug)]
pub struct OptDef {
    pub name: &'static str,
    pub kind: OptKind,
    pub flags: u32,
    pub help: &'static str,
    /// What completes its value in the interactive shell ("" = nothing).
    pub completer: &'static str,
}

/// One command.
#[derive(Debug)]
pub struct CmdDef {
    pub name: &'static str,
    pub help: &'static str,
    pub desc: &'static str,
    pub flags: u32,
    /// For alias commands, the command they stand for.
    pub alias: &'static str,
    pub opts: &'static [OptDef],
}

/// A group of commands as `help` lists them.
#[derive(Debug)]
pub struct Group {
    pub name: &'static str,
    pub keyword: &'static str,
    pub cmds: &'static [CmdDef],
}

impl CmdDef {
    pub fn is_hidden(&self) -> bool {
        self.flags & (cflag::HIDDEN | cflag::ALIAS) != 0
    }
}

/// Finds a command by name.
pub fn search(name: &str) -> Option<&'static CmdDef> {
    crate::defs::GROUPS
        .iter()
        .flat_map(|g| g.cmds.iter())
        .find(|c| c.name == name)
}

/// Finds a group by name or keyword.
pub fn search_group(name: &str) -> Option<&'static Group> {
    crate::defs::GROUPS
        .iter()
        .find(|g| g.name == name || g.keyword == name)
}

/// The help option every command accepts.
pub static HELP_OPT: OptDef = OptDef {
    name: "help",
    kind: OptKind::Bool,
    flags: 0,
    help: "print help for this function",
    completer: "",
};

/// A parsed command: its definition and the options given, in order.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub def: &'static CmdDef,
    pub opts: Vec<(&'static OptDef, Option<String>)>,
}

/// Why an option could not be read; the message is virsh's, ready to print,
/// with the libvirt error behind it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptError(pub String, pub Option<Box<oxvirt_core::Error>>);

impl OptError {
    pub fn new(msg: String) -> OptError {
        OptError(msg, None)
    }

    pub fn with_lib(msg: String, e: Option<oxvirt_core::Error>) -> OptError {
        OptError(msg, e.map(Box::new))
    }
}

impl Cmd {
    fn get(&self, name: &str) -> Option<&(&'static OptDef, Option<String>)> {
        self.opts.iter().find(|(d, _)| d.name == name)
    }

    /// Whether a flag (or any option) was given.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The raw value of an option, empty or not.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|(_, v)| v.as_deref())
    }

    /// vshCommandOptStringReq: `Ok(None)` when absent; empty values are an
    /// error unless the option allows them.
    pub fn string(&self, name: &str) -> Result<Option<&str>, OptError> {
        match self.get(name) {
            None => Ok(None),
            Some((def, v)) => {
                let v = v.as_deref().unwrap_or("");
                if v.is_empty() && def.flags & oflag::EMPTY_OK == 0 {
                    return Err(OptError::new(format!(
                        "Failed to get option '{}': Option argument is empty",
                        name
                    )));
                }
                Ok(Some(v))
            }
        }
    }

    /// vshCommandOptStringQuiet: absent or empty (when not allowed) gives None.
    pub fn string_quiet(&self, name: &str) -> Option<&str> {
        self.string(name).ok().flatten()
    }

    /// A required string option.
    pub fn req(&self, name: &str) -> Result<&str, OptError> {
        match self.string(name)? {
            Some(v) => Ok(v),
            None => Err(OptError::new(format!(
                "Failed to get option '{}': Mandatory option not present",
                name
            ))),
        }
    }

    fn num<T>(&self, name: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Option<T>, OptError> {
        match self.get(name) {
            None => Ok(None),
            Some((_, v)) => {
                let v = v.as_deref().unwrap_or("");
                parse(v).map(Some).ok_or_else(|| {
                    OptError::new(format!(
                        "Numeric value '{}' for <{}> option is malformed or out of range",
                        v, name
                    ))
                })
            }
        }
    }

    /// vshCommandOptInt.
    pub fn int(&self, name: &str) -> Result<Option<i32>, OptError> {
        self.num(name, |s| strtol(s).and_then(|v| i32::try_from(v).ok()))
    }

    /// vshCommandOptUInt (no wrapping of negative numbers).
    pub fn uint(&self, name: &str) -> Result<Option<u32>, OptError> {
        self.num(name, |s| strtoul_p(s).and_then(|v| u32::try_from(v).ok()))
    }

    /// vshCommandOptUIntWrap: negative numbers wrap as in C.
    pub fn uint_wrap(&self, name: &str) -> Result<Option<u32>, OptError> {
        self.num(name, |s| {
            strtol(s).and_then(|v| {
                if (i32::MIN as i64..=u32::MAX as i64).contains(&v) {
                    Some(v as u32)
                } else {
                    None
                }
            })
        })
    }

    /// vshCommandOptULongLong.
    pub fn ull(&self, name: &str) -> Result<Option<u64>, OptError> {
        self.num(name, strtoul_p)
    }

    /// vshCommandOptULongLongWrap.
    pub fn ull_wrap(&self, name: &str) -> Result<Option<u64>, OptError> {
        self.num(name, |s| {
            let t = s.trim_start();
            if let Some(rest) = t.strip_prefix('-') {
                strtoul_p(rest).map(|v| v.wrapping_neg())
            } else {
                strtoul_p(t)
            }
        })
    }

    /// vshCommandOptLongLong.
    pub fn ll(&self, name: &str) -> Result<Option<i64>, OptError> {
        self.num(name, strtol)
    }

    /// vshCommandOptScaledInt: a number with an optional unit suffix,
    /// `scale` being the unit of a bare number.
    pub fn scaled(&self, name: &str, scale: u64, max: u64) -> Result<Option<u64>, OptError> {
        match self.get(name) {
            None => Ok(None),
            Some((_, v)) => {
                let v = v.as_deref().unwrap_or("");
                scaled_int(v, scale, max).map(Some).map_err(|e| {
                    OptError::with_lib(
                        format!(
                            "Scaled numeric value '{}' for <{}> option is malformed or out of range",
                            v, name
                        ),
                        e,
                    )
                })
            }
        }
    }

    /// The values of the ARGV option, in order.
    pub fn argv(&self) -> Vec<&str> {
        self.opts
            .iter()
            .filter(|(d, _)| d.kind == OptKind::Argv)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }
}

/// C's strtol in base 10 over the whole string (virStrToLong_ll).
pub fn strtol(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if t.is_empty() {
        return None;
    }
    let (neg, digits) = match t.as_bytes()[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mag: i128 = digits.parse::<i128>().ok()?;
    let v = if neg { -mag } else { mag };
    i64::try_from(v).ok()
}

/// virStrToLong_i with base 0 (decimal, 0x hex, 0 octal).
pub fn parse_c_int(s: &str) -> Option<i32> {
    let t = s.trim_start();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if t.len() > 1 && t.starts_with('0') {
        i64::from_str_radix(&t[1..], 8).ok()?
    } else {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse::<i64>().ok()?
    };
    i32::try_from(if neg { -v } else { v }).ok()
}

/// virStrToLong_ullp: unsigned, and a leading minus is rejected.
pub fn strtoul_p(s: &str) -> Option<u64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let digits = t.strip_prefix('+').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()
}

/// Why a scaled number was refused: `None` when the number itself is
/// malformed, or libvirt's own error (unknown suffix, overflow).
pub type ScaleError = Option<oxvirt_core::Error>;

/// virStrToLong_ullp then virScaleInteger: a number with an optional unit
/// suffix, `scale` being the unit of a bare number.
pub fn scaled_int(s: &str, scale: u64, max: u64) -> Result<u64, ScaleError> {
    use oxvirt_core::error::{code, from};
    use oxvirt_core::Error;
    let t = s.trim_start();
    let body = t.strip_prefix('+').unwrap_or(t);
    let end = body
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map(|(i, _)| i)
        .unwrap_or(body.len());
    if end == 0 {
        return Err(None);
    }
    let n: u64 = body[..end].parse().map_err(|_| None)?;
    let suffix = &body[end..];
    let lower = suffix.to_ascii_lowercase();
    let mult: u64 = if suffix.is_empty() {
        scale
    } else if matches!(lower.as_str(), "b" | "byte" | "bytes") {
        1
    } else {
        let unknown = || {
            Some(Error::new(
                code::INVALID_ARG,
                from::NONE,
                format!("unknown suffix '{}'", suffix),
            ))
        };
        let rest = &lower[1..];
        let base: u64 = if rest.is_empty() || rest == "ib" {
            1024
        } else if rest == "b" {
            1000
        } else {
            return Err(unknown());
        };
        let exp = match lower.as_bytes()[0] {
            b'k' => 1,
            b'm' => 2,
            b'g' => 3,
            b't' => 4,
            b'p' => 5,
            b'e' => 6,
            _ => return Err(unknown()),
        };
        base.pow(exp)
    };
    if mult != 0 && n > max / mult {
        return Err(Some(Error::new(
            code::OVERFLOW,
            from::NONE,
            format!("value too large: {}{}", n, suffix),
        )));
    }
    Ok(n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_like_c() {
        assert_eq!(strtol(" -12"), Some(-12));
        assert_eq!(strtol("12x"), None);
        assert_eq!(strtoul_p("-1"), None);
        assert_eq!(scaled_int("1G", 1024, u64::MAX), Ok(1 << 30));
        assert_eq!(scaled_int("1000", 1024, u64::MAX), Ok(1024000));
        assert_eq!(scaled_int("2KB", 1, u64::MAX), Ok(2000));
        assert!(matches!(scaled_int("5x", 1, u64::MAX), Err(Some(_))));
        assert_eq!(scaled_int("-1", 1, u64::MAX), Err(None));
    }
}
