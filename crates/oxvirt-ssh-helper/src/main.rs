//! `virt-ssh-helper [-r] URI`: see the library's documentation.

use std::process::ExitCode;

use oxvirt_ssh_helper::{connect, parse_args, proxy, socket_for, usage, Args, Env, Refusal};

fn main() -> ExitCode {
    let mut argv = std::env::args();
    let prog = argv.next().unwrap_or_else(|| "virt-ssh-helper".into());
    let args: Vec<String> = argv.collect();
    let fail = |r: Refusal| {
        match r {
            Refusal::Options(m) => eprintln!("option parsing failed: {}", m),
            Refusal::Usage => eprint!("{}", usage(&prog)),
            Refusal::Message(m) => eprintln!("{}: {}", prog, m),
        }
        ExitCode::FAILURE
    };
    let (readonly, uri) = match parse_args(&args) {
        Ok(Args::Run { readonly, uri }) => (readonly, uri),
        Ok(Args::Version) => {
            println!("{} (oxvirt) {}", prog, env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(Args::Help) => {
            print!("{}", usage(&prog));
            return ExitCode::SUCCESS;
        }
        Err(r) => return fail(r),
    };
    let path = match socket_for(&uri, readonly, &Env::current(), &|p| p.exists()) {
        Ok(p) => p,
        Err(r) => return fail(r),
    };
    let sock = match connect(&path) {
        Ok(s) => s,
        Err(r) => return fail(r),
    };
    match proxy(sock) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(Refusal::Message(format!("could not proxy traffic: {}", e))),
    }
}
