//! virsh's command grammar: one string (`;` and newlines separate
//! commands, quoting and escapes as in a shell) or an argv list. The whole
//! input is parsed before anything runs.

use crate::cmd::{self, cflag, oflag, Cmd, CmdDef, OptDef, OptKind, HELP_OPT};

enum Token {
    Arg(String),
    /// `;`, a newline or a comment ended the command.
    SubEnd,
    End,
}

/// Where tokens come from.
trait Source {
    fn next(&mut self) -> Result<Token, String>;
}

struct StrSource<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Source for StrSource<'_> {
    fn next(&mut self) -> Result<Token, String> {
        let s = self.s;
        let mut p = self.pos;
        while p < s.len()
            && (s[p] == b' ' || s[p] == b'\t' || (s[p] == b'\\' && s.get(p + 1) == Some(&b'\n')))
        {
            p += if s[p] == b'\\' { 2 } else { 1 };
        }
        if p >= s.len() {
            self.pos = p;
            return Ok(Token::End);
        }
        if s[p] == b';' || s[p] == b'\n' {
            self.pos = p + 1;
            return Ok(Token::SubEnd);
        }
        if s[p] == b'#' {
            while p < s.len() && s[p] != b'\n' {
                p += 1;
            }
            self.pos = if p < s.len() { p + 1 } else { p };
            return Ok(Token::SubEnd);
        }
        let mut out = Vec::new();
        let (mut sq, mut dq) = (false, false);
        while p < s.len() {
            let c = s[p];
            if !dq && !sq && (c == b' ' || c == b'\t' || c == b';' || c == b'\n') {
                break;
            }
            if !dq && c == b'\'' {
                sq = !sq;
                p += 1;
                continue;
            } else if !sq && c == b'\\' {
                p += 1;
                if p >= s.len() {
                    return Err("dangling \\".into());
                }
                if s[p] == b'\n' {
                    p += 1;
                    continue;
                }
            } else if !sq && c == b'"' {
                dq = !dq;
                p += 1;
                continue;
            }
            out.push(s[p]);
            p += 1;
        }
        if dq {
            return Err("missing \"".into());
        }
        self.pos = p;
        Ok(Token::Arg(String::from_utf8_lossy(&out).into_owned()))
    }
}

struct ArgvSource<'a> {
    args: &'a [String],
    pos: usize,
}

impl Source for ArgvSource<'_> {
    fn next(&mut self) -> Result<Token, String> {
        match self.args.get(self.pos) {
            Some(a) => {
                self.pos += 1;
                Ok(Token::Arg(a.clone()))
            }
            None => Ok(Token::End),
        }
    }
}

/// virsh's `-d` trace of what the parser saw (printed at level INFO).
pub fn debug_lines(cmds: &[Cmd]) -> String {
    let mut s = String::new();
    for c in cmds {
        for (o, v) in &c.opts {
            let (kind, val) = if o.kind == OptKind::Bool {
                ("bool", "(none)")
            } else {
                ("optdata", v.as_deref().unwrap_or(""))
            };
            s.push_str(&format!("{}: {}({}): {}\n", c.def.name, o.name, kind, val));
        }
    }
    s
}

/// Parses a command string; on failure returns the messages virsh prints
/// (each becomes an `error: ` line).
pub fn parse_string(s: &str) -> Result<Vec<Cmd>, Vec<String>> {
    parse(&mut StrSource {
        s: s.as_bytes(),
        pos: 0,
    })
}

/// Parses argv words given after the global options.
pub fn parse_argv(args: &[String]) -> Result<Vec<Cmd>, Vec<String>> {
    if args.is_empty() {
        return Ok(Vec::new());
    }
    parse(&mut ArgvSource { args, pos: 0 })
}

fn bit(i: usize) -> u64 {
    1u64 << i
}

fn lookup_option(
    def: &'static CmdDef,
    name: &str,
    seen: &mut u64,
    optstr: &mut Option<String>,
) -> Result<(usize, &'static OptDef), Option<String>> {
    if name == "help" {
        return Ok((usize::MAX, &HELP_OPT));
    }
    let mut name = name.to_string();
    // An alias may lead to another alias's target; follow it through the table once.
    let mut i = 0;
    while i < def.opts.len() {
        let o = &def.opts[i];
        if o.name == name {
            if o.kind == OptKind::Alias {
                let (target, value) = match o.help.split_once('=') {
                    Some((t, v)) => (t, Some(v)),
                    None => (o.help, None),
                };
                if let Some(v) = value {
                    if optstr.is_some() {
                        return Err(Some(format!("invalid '=' after option --{}", o.name)));
                    }
                    *optstr = Some(v.to_string());
                }
                name = target.to_string();
                i += 1;
                continue;
            }
            if *seen & bit(i) != 0 && o.kind != OptKind::Argv {
                return Err(Some(format!("option --{} already seen", name)));
            }
            *seen |= bit(i);
            return Ok((i, o));
        }
        i += 1;
    }
    if def.name != "help" {
        return Err(Some(format!(
            "command '{}' doesn't support option --{}",
            def.name, name
        )));
    }
    Err(None)
}

fn next_data(def: &'static CmdDef, need_arg: &mut u64, seen: &mut u64) -> Option<&'static OptDef> {
    if *need_arg == 0 {
        return None;
    }
    let i = need_arg.trailing_zeros() as usize;
    let o = &def.opts[i];
    if o.kind != OptKind::Argv {
        *need_arg &= !bit(i);
    }
    *seen |= bit(i);
    Some(o)
}

fn parse(src: &mut dyn Source) -> Result<Vec<Cmd>, Vec<String>> {
    let mut cmds = Vec::new();
    loop {
        let mut def: Option<&'static CmdDef> = None;
        let mut opts: Vec<(&'static OptDef, Option<String>)> = Vec::new();
        let mut data_only = false;
        let (mut need_arg, mut required, mut seen) = (0u64, 0u64, 0u64);
        let last_tok;
        loop {
            let tok = src.next().map_err(|e| vec![e])?;
            let arg = match tok {
                Token::Arg(a) => a,
                other => {
                    last_tok = other;
                    break;
                }
            };
            let Some(d) = def else {
                if arg.starts_with('#') {
                    // A comment to the end of the line.
                    while let Token::Arg(_) = src.next().map_err(|e| vec![e])? {}
                    last_tok = Token::SubEnd;
                    break;
                }
                let mut found =
                    cmd::search(&arg).ok_or_else(|| vec![format!("unknown command: '{}'", arg)])?;
                if found.flags & cflag::ALIAS != 0 {
                    if let Some(real) = cmd::search(found.alias) {
                        found = real;
                    }
                }
                for (i, o) in found.opts.iter().enumerate() {
                    if o.kind == OptKind::Bool || o.kind == OptKind::Alias {
                        continue;
                    }
                    if o.flags & oflag::REQ_OPT == 0 {
                        need_arg |= bit(i);
                    }
                    if o.flags & oflag::REQ != 0 {
                        required |= bit(i);
                    }
                }
                def = Some(found);
                continue;
            };
            let b = arg.as_bytes();
            let opt: Option<&'static OptDef>;
            let mut value: Option<String> = None;
            if !data_only
                && b.len() > 2
                && b[0] == b'-'
                && b[1] == b'-'
                && b[2].is_ascii_alphanumeric()
            {
                let body = &arg[2..];
                let (name, mut optstr) = match body.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (body, None),
                };
                match lookup_option(d, name, &mut seen, &mut optstr) {
                    Ok((idx, o)) => {
                        if o.kind != OptKind::Bool {
                            let v = match optstr {
                                Some(v) => v,
                                None => match src.next().map_err(|e| vec![e])? {
                                    Token::Arg(v) => v,
                                    _ => {
                                        return Err(vec![format!(
                                            "expected syntax: --{} <{}>",
                                            o.name,
                                            if o.kind == OptKind::Int {
                                                "number"
                                            } else {
                                                "string"
                                            }
                                        )])
                                    }
                                },
                            };
                            if o.kind != OptKind::Argv && idx != usize::MAX {
                                need_arg &= !bit(idx);
                            }
                            value = Some(v);
                        } else if optstr.is_some() {
                            return Err(vec![format!("invalid '=' after option --{}", o.name)]);
                        }
                        opt = Some(o);
                    }
                    Err(Some(msg)) => return Err(vec![msg]),
                    Err(None) => continue, // 'help' ignores unknown options
                }
            } else if !data_only && arg == "--" {
                data_only = true;
                continue;
            } else {
                match next_data(d, &mut need_arg, &mut seen) {
                    Some(o) => {
                        opt = Some(o);
                        value = Some(arg);
                    }
                    None if d.name == "help" => continue,
                    None => return Err(vec![format!("unexpected data '{}'", arg)]),
                }
            }
            if let Some(o) = opt {
                opts.push((o, value));
            }
        }
        if let Some(mut d) = def {
            if opts
                .iter()
                .any(|(o, _)| o.name == "help" && std::ptr::eq(*o, &HELP_OPT))
            {
                let name = d.name;
                d = cmd::search("help")
                    .ok_or_else(|| vec!["unknown command: 'help'".to_string()])?;
                opts = vec![(&d.opts[0], Some(name.to_string()))];
                required = 0;
                seen = 0;
            }
            let missing = required & !seen;
            if missing != 0 {
                let msgs = d
                    .opts
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| missing & bit(*i) != 0)
                    .map(|(_, o)| {
                        if matches!(o.kind, OptKind::Data | OptKind::Argv) {
                            format!("command '{}' requires <{}> option", d.name, o.name)
                        } else {
                            format!("command '{}' requires --{} option", d.name, o.name)
                        }
                    })
                    .collect();
                return Err(msgs);
            }
            cmds.push(Cmd { def: d, opts });
        }
        if matches!(last_tok, Token::End) {
            break;
        }
    }
    Ok(cmds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[Cmd]) -> Vec<&str> {
        v.iter().map(|c| c.def.name).collect()
    }

    #[test]
    fn separators_quotes_and_comments() {
        let c =
            parse_string("list --all; dominfo 'te'st\n# c\necho \"a b\" c\\ d").expect("parses");
        assert_eq!(names(&c), ["list", "dominfo", "echo"]);
        assert_eq!(c[1].raw("domain"), Some("test"));
        assert_eq!(c[2].argv(), ["a b", "c d"]);
    }

    #[test]
    fn errors_read_like_virsh() {
        assert_eq!(
            parse_string("nosuch").unwrap_err(),
            ["unknown command: 'nosuch'"]
        );
        assert_eq!(
            parse_string("dominfo").unwrap_err(),
            ["command 'dominfo' requires <domain> option"]
        );
        assert_eq!(
            parse_string("list --bogus").unwrap_err(),
            ["command 'list' doesn't support option --bogus"]
        );
        assert_eq!(parse_string("echo \"a").unwrap_err(), ["missing \""]);
        assert_eq!(parse_string("echo a\\").unwrap_err(), ["dangling \\"]);
    }

    #[test]
    fn help_option_becomes_help_command() {
        let c = parse_string("list --help").expect("parses");
        assert_eq!(c[0].def.name, "help");
        assert_eq!(c[0].raw("command"), Some("list"));
    }
}
