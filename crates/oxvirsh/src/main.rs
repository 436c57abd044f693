//! oxvirsh: a virsh-compatible shell. With no `-c`, it talks to an
//! embedded `test:///default` driver, so it works with no daemon; remote
//! URIs (`test+unix://`, `qemu:///system`, ...) go to oxvirtd.

use std::process::ExitCode;
use std::sync::Arc;

use oxvirsh::ctl::Ctl;
use oxvirsh::{parse, run};

use oxvirt_core::error::{code, from};
use oxvirt_core::uri::Uri;
use oxvirt_core::{Connection, Error};

const VERSION: &str = "9.0.0";

/// Opens a driver connection by URI.
fn open(name: &str, readonly: bool) -> oxvirt_core::Result<Arc<Connection>> {
    let uri = Uri::parse(name)?;
    let flags = if readonly { 1 } else { 0 };
    match uri.driver.as_str() {
        "test" if !uri.is_remote() => oxvirt_test_driver::open(&uri, flags),
        // A transport, a host, `?socket=` or a daemon-only URI
        // (qemu:///system): the same CLI over libvirt's RPC protocol.
        _ if oxvirt_remote::handles(&uri) => oxvirt_remote::open(name, &uri, flags),
        _ => Err(Error::new(code::NO_CONNECT, from::NONE, name.to_string())),
    }
}

fn usage(prog: &str) {
    print!(
        "\n{prog} [options]... [<command_string>]\
\n{prog} [options]... <command> [args...]\n\
\n  options:\
\n    -c | --connect=URI      hypervisor connection URI\
\n    -d | --debug=NUM        debug level [0-4]\
\n    -e | --escape <char>    set escape sequence for console\
\n    -h | --help             this help\
\n    -k | --keepalive-interval=NUM\
\n                            keepalive interval in seconds, 0 for disable\
\n    -K | --keepalive-count=NUM\
\n                            number of possible missed keepalive messages\
\n    -l | --log=FILE         output logging to file\
\n    -q | --quiet            quiet mode\
\n    -r | --readonly         connect readonly\
\n    -t | --timing           print timing information\
\n    -v                      short version\
\n    -V                      long version\
\n         --version[=TYPE]   version, TYPE is short or long (default short)\
\n  commands (non interactive mode):\n\n"
    );
    for g in oxvirsh::defs::GROUPS {
        println!(" {} (help keyword '{}')", g.name, g.keyword);
        for c in g.cmds.iter().filter(|c| !c.is_hidden()) {
            println!("    {:<30} {}", c.name, c.help);
        }
        println!();
    }
    println!("\n  (specify help <command> for details about the command)\n");
}

/// getopt_long with "+:c:d:e:hk:K:l:qrtvV": stops at the first non-option.
fn parse_global(ctl: &mut Ctl, args: &[String]) -> Result<usize, u8> {
    const LONG: &[(&str, char, bool)] = &[
        ("connect", 'c', true),
        ("debug", 'd', true),
        ("escape", 'e', true),
        ("help", 'h', false),
        ("json", 'j', false),
        ("keepalive-interval", 'k', true),
        ("keepalive-count", 'K', true),
        ("log", 'l', true),
        ("output", 'o', true),
        ("quiet", 'q', false),
        ("readonly", 'r', false),
        ("timing", 't', false),
        ("version", 'v', false),
    ];
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            return Ok(i + 1);
        }
        if !a.starts_with('-') || a == "-" {
            return Ok(i);
        }
        i += 1;
        // (option char, its value, whether given as a long option)
        let mut items: Vec<(char, Option<String>, bool)> = Vec::new();
        if let Some(long) = a.strip_prefix("--") {
            let (name, val) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let matches: Vec<_> = LONG
                .iter()
                .filter(|(n, _, _)| n.starts_with(name))
                .collect();
            let exact = LONG.iter().find(|(n, _, _)| *n == name);
            let Some(&(lname, c, has_arg)) = exact.or(if matches.len() == 1 {
                matches.first().copied()
            } else {
                None
            }) else {
                ctl.error(&format!("unsupported option '{}'. See --help.", a));
                return Err(1);
            };
            let val = if has_arg {
                match val {
                    Some(v) => Some(v),
                    None if i < args.len() => {
                        i += 1;
                        Some(args[i - 1].clone())
                    }
                    None => {
                        ctl.error(&format!(
                            "option '-{}'/'--{}' requires an argument",
                            c, lname
                        ));
                        return Err(1);
                    }
                }
            } else if lname == "version" {
                val
            } else {
                None
            };
            items.push((c, val, true));
        } else {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                match c {
                    'c' | 'd' | 'e' | 'k' | 'K' | 'l' | 'o' => {
                        let v = if j < chars.len() {
                            let v: String = chars[j..].iter().collect();
                            j = chars.len();
                            v
                        } else if i < args.len() {
                            i += 1;
                            args[i - 1].clone()
                        } else {
                            let long = LONG
                                .iter()
                                .find(|(_, lc, _)| *lc == c)
                                .map(|l| l.0)
                                .unwrap_or("");
                            ctl.error(&format!(
                                "option '-{}'/'--{}' requires an argument",
                                c, long
                            ));
                            return Err(1);
                        };
                        items.push((c, Some(v), false));
                    }
                    'h' | 'q' | 'r' | 't' | 'v' | 'V' => items.push((c, None, false)),
                    _ => {
                        ctl.error(&format!("unsupported option '-{}'. See --help.", c));
                        return Err(1);
                    }
                }
            }
        }
        for (c, val, long) in items {
            let v = val.clone().unwrap_or_default();
            match c {
                'c' => ctl.connname = Some(v),
                'd' => match oxvirsh::cmd::strtol(&v).and_then(|n| i32::try_from(n).ok()) {
                    Some(n) if (0..=4).contains(&n) => ctl.debug = n,
                    Some(n) => ctl.error(&format!("ignoring debug level {} out of range [0-4]", n)),
                    None => {
                        ctl.error(&format!(
                            "option {} takes a numeric argument",
                            if long { "--debug" } else { "-d" }
                        ));
                        return Err(1);
                    }
                },
                'e' => {
                    let b = v.as_bytes();
                    let ok = (b.len() == 2
                        && b[0] == b'^'
                        && (b[1].is_ascii_alphabetic() || b"@[\\]^_".contains(&b[1])))
                        || (b.len() == 1 && b[0] != b'^');
                    if !ok {
                        ctl.error(&format!("Invalid string '{}' for escape sequence", v));
                        return Err(1);
                    }
                    ctl.escape = v.clone();
                }
                'k' | 'K' => {
                    let name = match (c, long) {
                        ('k', false) => "-k",
                        ('k', true) => "--keepalive-interval",
                        (_, false) => "-K",
                        _ => "--keepalive-count",
                    };
                    match oxvirsh::cmd::parse_c_int(&v) {
                        None => {
                            ctl.error(&format!("Invalid value for option {}", name));
                            return Err(1);
                        }
                        Some(n) if n < 0 => {
                            ctl.error(&format!(
                                "option {} requires a positive integer argument",
                                name
                            ));
                            return Err(1);
                        }
                        Some(n) => {
                            if c == 'k' {
                                ctl.keepalive_interval = n
                            } else {
                                ctl.keepalive_count = n
                            }
                        }
                    }
                }
                'l' => {}
                // oxvirt's own: structured output for listing and info
                // commands (not in virsh).
                'j' => ctl.json = true,
                'o' => match v.as_str() {
                    "json" => ctl.json = true,
                    "text" | "virsh" => ctl.json = false,
                    _ => {
                        ctl.error(&format!("unsupported output format '{}' (json, text)", v));
                        return Err(1);
                    }
                },
                'q' => ctl.quiet = true,
                't' => ctl.timing = true,
                'r' => ctl.readonly = true,
                'h' => {
                    usage("virsh");
                    return Err(0);
                }
                'v' if val.as_deref() != Some("long") => {
                    println!("{}", VERSION);
                    return Err(0);
                }
                _ => {
                    show_version();
                    return Err(0);
                }
            }
        }
    }
    Ok(i)
}

fn show_version() {
    println!(
        "Virsh command line tool of libvirt {VERSION}\n\
See web site at https://libvirt.org/\n\n\
Compiled with support for:\n \
Hypervisors: QEMU Test\n \
Networking: Remote Network\n \
Storage: Dir\n \
Miscellaneous: Daemon Secrets Debug Readline\n"
    );
}

/// Line-editing helper: virsh's completion of commands and options.
struct Shell;

impl rustyline::completion::Completer for Shell {
    type Candidate = String;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(oxvirsh::complete::complete(line, pos))
    }
}
impl rustyline::hint::Hinter for Shell {
    type Hint = String;
}
impl rustyline::highlight::Highlighter for Shell {}
impl rustyline::validate::Validator for Shell {}
impl rustyline::Helper for Shell {}

/// Parses and runs one line of the interactive shell.
fn run_line(ctl: &mut Ctl, line: &str) -> bool {
    match parse::parse_string(line) {
        Ok(cmds) => run(ctl, &cmds),
        Err(msgs) => {
            for m in msgs {
                ctl.error(&m);
            }
            false
        }
    }
}

/// The shell reading a pipe or file: like readline without a terminal, it
/// shows each prompt followed by the line it read.
fn interactive_plain(ctl: &mut Ctl) -> bool {
    use std::io::BufRead;
    let mut ok = true;
    let mut lines = std::io::stdin().lock().lines();
    loop {
        ctl.print(if ctl.readonly { "virsh > " } else { "virsh # " });
        let Some(Ok(line)) = lines.next() else {
            ctl.print("\n");
            break;
        };
        ctl.print(&format!("{}\n", line));
        ok = run_line(ctl, &line);
        if ctl.quit {
            ctl.print("\n");
            break;
        }
    }
    ok
}

fn interactive(ctl: &mut Ctl) -> bool {
    if !ctl.quiet {
        ctl.print("Welcome to virsh, the virtualization interactive terminal.\n\n");
        ctl.print("Type:  'help' for help with commands\n       'quit' to quit\n\n");
    }
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(0) } == 0 {
        return interactive_plain(ctl);
    }
    let mut rl = match rustyline::Editor::<Shell, rustyline::history::DefaultHistory>::new() {
        Ok(r) => r,
        Err(e) => {
            ctl.error(&format!("cannot start line editing: {}", e));
            return false;
        }
    };
    rl.set_helper(Some(Shell));
    let hist = std::env::var("HOME")
        .ok()
        .map(|h| std::path::PathBuf::from(h).join(".cache/virsh/history"));
    if let Some(h) = &hist {
        let _ = rl.load_history(h);
    }
    let mut ok = true;
    loop {
        let prompt = if ctl.readonly { "virsh > " } else { "virsh # " };
        match rl.readline(prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = rl.add_history_entry(line.as_str());
                }
                ok = run_line(ctl, &line);
                if ctl.quit {
                    break;
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(_) => {
                ctl.print("\n");
                break;
            }
        }
    }
    if let Some(h) = &hist {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = rl.save_history(h);
    }
    ok
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let mut ctl = Ctl::new(open);
    let first = match parse_global(&mut ctl, &args) {
        Ok(i) => i,
        Err(code) => return ExitCode::from(code),
    };
    let rest = &args[first..];
    let cmds = if rest.is_empty() {
        ctl.imode = true;
        Vec::new()
    } else {
        let parsed = if rest.len() == 1 {
            ctl.debug(1, &format!("commands: \"{}\"\n", rest[0]));
            parse::parse_string(&rest[0])
        } else {
            parse::parse_argv(rest)
        };
        match parsed {
            Ok(c) => {
                ctl.debug(1, &parse::debug_lines(&c));
                c
            }
            Err(msgs) => {
                for m in msgs {
                    ctl.error(&m);
                }
                return ExitCode::FAILURE;
            }
        }
    };
    if ctl.connname.is_some() {
        let ro = ctl.readonly;
        if let Err(f) = ctl.connect(None, ro) {
            ctl.fail(f);
            return ExitCode::FAILURE;
        }
    }
    // The interactive shell exits successfully whatever its last command
    // did, as virsh's does.
    let ok = if ctl.imode {
        interactive(&mut ctl);
        true
    } else {
        run(&mut ctl, &cmds)
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
