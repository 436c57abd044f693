//! Commands of the shell itself: help, echo, quit, connect, cd, pwd.

use crate::cmd::{self, Cmd, CmdDef, OptKind};
use crate::ctl::{Ctl, Fail, R};

use super::{exclusive, Handler};

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "help" => help,
        "echo" => echo,
        "quit" | "exit" => |_, _| Ok(()),
        "cd" => cd,
        "pwd" => pwd,
        "connect" => connect,
        "self-test" => self_test,
        _ => return None,
    })
}

fn help(ctl: &mut Ctl, c: &Cmd) -> R {
    let Some(name) = c.string_quiet("command") else {
        let mut s = String::from("Grouped commands:\n\n");
        for g in crate::defs::GROUPS {
            s.push_str(&group_help(g));
            s.push('\n');
        }
        ctl.print(&s);
        return Ok(());
    };
    if let Some(mut def) = cmd::search(name) {
        if def.flags & cmd::cflag::ALIAS != 0 {
            if let Some(d) = cmd::search(def.alias) {
                def = d;
            }
        }
        ctl.print(&cmd_help(def));
        Ok(())
    } else if let Some(g) = cmd::search_group(name) {
        ctl.print(&group_help(g));
        Ok(())
    } else {
        Err(Fail::Msg(format!(
            "command or command group '{}' doesn't exist",
            name
        )))
    }
}

fn group_help(g: &crate::cmd::Group) -> String {
    let mut s = format!(" {} (help keyword '{}'):\n", g.name, g.keyword);
    for c in g.cmds.iter().filter(|c| !c.is_hidden()) {
        s.push_str(&format!("    {:<30} {}\n", c.name, c.help));
    }
    s
}

/// vshCmddefHelp's layout.
pub fn cmd_help(def: &CmdDef) -> String {
    use crate::cmd::oflag::{REQ, REQ_OPT};
    let mut s = format!(
        "  NAME\n    {} - {}\n\n  SYNOPSIS\n    {}",
        def.name, def.help, def.name
    );
    let mut shortopt = false;
    for o in def.opts {
        let req = o.flags & REQ != 0;
        let text = match o.kind {
            OptKind::Bool => format!("[--{}]", o.name),
            OptKind::Int => {
                if o.flags & REQ_OPT == 0 {
                    shortopt = true;
                }
                if req {
                    format!("<{}>", o.name)
                } else {
                    format!("[--{} <number>]", o.name)
                }
            }
            OptKind::String => {
                if o.flags & REQ_OPT == 0 {
                    shortopt = true;
                }
                format!("[--{} <string>]", o.name)
            }
            OptKind::Data => {
                if o.flags & REQ_OPT == 0 {
                    shortopt = true;
                }
                if req {
                    format!("<{}>", o.name)
                } else {
                    format!("[<{}>]", o.name)
                }
            }
            OptKind::Argv => match (shortopt, req) {
                (true, true) => format!("{{[--{}] <string>}}...", o.name),
                (true, false) => format!("[[--{}] <string>]...", o.name),
                (false, true) => format!("<{}>...", o.name),
                (false, false) => format!("[<{}>]...", o.name),
            },
            OptKind::Alias => continue,
        };
        s.push(' ');
        s.push_str(&text);
    }
    s.push('\n');
    if !def.desc.is_empty() {
        s.push_str(&format!("\n  DESCRIPTION\n    {}\n", def.desc));
    }
    if !def.opts.is_empty() {
        s.push_str("\n  OPTIONS\n");
        for o in def.opts {
            let req = o.flags & REQ != 0;
            let b = match o.kind {
                OptKind::Bool => format!("--{}", o.name),
                OptKind::Int if req => format!("[--{}] <number>", o.name),
                OptKind::Int => format!("--{} <number>", o.name),
                OptKind::String => format!("--{} <string>", o.name),
                OptKind::Data => format!("[--{}] <string>", o.name),
                OptKind::Argv if shortopt => format!("[--{}] <string>", o.name),
                OptKind::Argv => format!("<{}>", o.name),
                OptKind::Alias => continue,
            };
            s.push_str(&format!("    {:<15}  {}\n", b, o.help));
        }
    }
    s.push('\n');
    s
}

/// virBufferEscapeShell.
fn escape_shell(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    if !s
        .chars()
        .any(|c| "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~".contains(c))
    {
        return s.into();
    }
    let mut o = String::from("'");
    for c in s.chars() {
        if c == '\'' {
            o.push_str("'\\'");
        }
        o.push(c);
    }
    o.push('\'');
    o
}

/// virBufferEscapeString for element text.
pub fn escape_xml(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => o.push(c),
        }
    }
    o
}

/// vshStringToArray: splits on ',' with ',,' standing for a comma.
pub fn split_commas(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == ',' {
            if it.peek() == Some(&',') {
                it.next();
                cur.push(',');
            } else {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

fn echo(ctl: &mut Ctl, c: &Cmd) -> R {
    exclusive(c, "shell", "xml")?;
    exclusive(c, "shell", "split")?;
    exclusive(c, "xml", "split")?;
    let mut buf = String::new();
    let args = c.argv();
    for a in &args {
        if c.has("xml") {
            buf.push_str(&escape_xml(a));
        } else if c.has("shell") {
            buf.push_str(&escape_shell(a));
        } else if c.has("split") {
            for p in split_commas(a) {
                buf.push_str(&p);
                buf.push('\n');
            }
        } else {
            buf.push_str(a);
        }
        buf.push(' ');
    }
    if args.is_empty() {
        return Ok(());
    }
    if buf.ends_with(' ') {
        buf.pop();
    }
    if c.has("err") {
        ctl.error(&buf);
    } else {
        ctl.print(&buf);
    }
    Ok(())
}

fn cd(ctl: &mut Ctl, c: &Cmd) -> R {
    if !ctl.imode {
        return Err(Fail::Msg(
            "cd: command valid only in interactive mode".into(),
        ));
    }
    let dir = c
        .string_quiet("dir")
        .map(str::to_string)
        .or_else(|| std::env::var("HOME").ok())
        .unwrap_or_else(|| "/".into());
    std::env::set_current_dir(&dir)
        .map_err(|e| Fail::Msg(format!("cd: {}: {}", oxvirt_core::error::strerror(&e), dir)))
}

fn pwd(ctl: &mut Ctl, _c: &Cmd) -> R {
    let d = std::env::current_dir().map_err(|e| Fail::Msg(e.to_string()))?;
    ctl.print(&format!("{}\n", d.display()));
    Ok(())
}

fn connect(ctl: &mut Ctl, c: &Cmd) -> R {
    let name = c.string("name")?.map(str::to_string);
    let ro = c.has("readonly");
    let ro = if !ro && name.is_none() {
        ctl.readonly
    } else {
        ro
    };
    ctl.connect(name.as_deref(), ro)
}

/// Checks the command table's invariants (virsh's vshCmddefCheckInternals).
fn self_test(_ctl: &mut Ctl, _c: &Cmd) -> R {
    for g in crate::defs::GROUPS {
        for d in g.cmds {
            if d.opts.len() > 64 {
                return Err(Fail::Msg(format!(
                    "command '{}' has too many options",
                    d.name
                )));
            }
            for o in d.opts {
                if o.kind == OptKind::Alias
                    && !d
                        .opts
                        .iter()
                        .any(|t| t.name == o.help.split('=').next().unwrap_or(""))
                {
                    return Err(Fail::Msg(format!(
                        "command '{}' has a broken alias --{}",
                        d.name, o.name
                    )));
                }
            }
        }
    }
    Ok(())
}
