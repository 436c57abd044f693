//! oxvirtd: serves libvirt's RPC protocol to virsh, libvirt-python and
//! every other libvirt client.
// The RPC server is being wired in; until then parts are unused.
#![allow(dead_code)]

mod config;
mod router;

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(
    name = "oxvirtd",
    version,
    about = "oxvirt daemon: libvirt's RPC protocol over unix and TCP sockets"
)]
struct Args {
    /// Keep all state and sockets under DIR (run/, etc/, log/, lib/).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Configuration file in libvirtd.conf syntax.
    #[arg(short = 'f', long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Also listen on TCP (loopback unless listen_addr says otherwise).
    #[arg(short = 'l', long)]
    listen: bool,
    /// Serve libvirt's own socket paths (/var/run/libvirt/libvirt-sock and -sock-ro).
    #[arg(long)]
    libvirt_paths: bool,
    /// Exit after this many idle seconds with no clients (0 = never).
    #[arg(short = 't', long, default_value_t = 0)]
    timeout: u64,
    /// Write the daemon's pid to FILE.
    #[arg(short = 'p', long, value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// More logging (repeat for more).
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cfg = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read configuration file {}", p.display()))?;
            config::Config::from_text(&text, &p.display().to_string())?
        }
        None => config::Config::default(),
    };
    let _ = (
        cfg,
        args.root,
        args.listen,
        args.libvirt_paths,
        args.timeout,
        args.pid_file,
        args.verbose,
    );
    let _ = router::Router::new(PathBuf::from("/var/lib/oxvirt"));
    anyhow::bail!("the RPC server is not built yet")
}
