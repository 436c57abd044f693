//! oxvirtd: serves libvirt's RPC protocol to virsh, libvirt-python and
//! every other libvirt client.

mod acl;
mod admin;
mod adopt;
mod clients;
mod config;
mod dispatch;
mod events;
mod logging;
mod metrics;
mod router;
mod server;
mod streams;
mod tls;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(
    name = "oxvirtd",
    version,
    about = "oxvirt daemon: libvirt's RPC protocol over unix, TCP and TLS sockets"
)]
struct Args {
    /// Keep all state and sockets under DIR (run/, etc/, log/, lib/).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// The read-write unix socket (the read-only one is PATH-ro).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// The admin socket for virt-admin (default: libvirt-admin-sock beside
    /// the default socket, else PATH-admin beside --socket PATH).
    #[arg(long, value_name = "PATH")]
    admin_socket: Option<PathBuf>,
    /// Configuration file in libvirtd.conf syntax.
    #[arg(short = 'f', long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Also listen on TCP (loopback unless listen_addr says otherwise) and,
    /// with its certificates, on TLS (listen_tls, tls_port).
    #[arg(short = 'l', long)]
    listen: bool,
    /// Serve libvirt's own socket paths (/var/run/libvirt/libvirt-sock and -sock-ro).
    #[arg(long)]
    libvirt_paths: bool,
    /// Take over a host from a stopped libvirtd 9.0 before serving: its
    /// QEMU definitions, autostart links and running guests (no guest
    /// restarted). Refused while a libvirtd or virqemud holds the host.
    /// Objects that cannot be adopted are reported and left to libvirt.
    /// Idempotent.
    #[arg(long)]
    adopt_libvirt: bool,
    /// Hand the host back to libvirtd 9.0 and exit, with oxvirtd
    /// stopped: definitions, autostart links and the status files of the
    /// guests adopted from libvirt are written in libvirt's format (the
    /// next libvirtd start re-attaches them); every guest keeps running.
    #[arg(long, conflicts_with = "adopt_libvirt")]
    release_to_libvirt: bool,
    /// Where libvirt's directories are for --adopt-libvirt: DIR/etc/libvirt,
    /// DIR/run/libvirt, DIR/var/lib/libvirt (default /).
    #[arg(long, value_name = "DIR", default_value = "/")]
    libvirt_root: PathBuf,
    /// Exit after this many idle seconds with no clients (0 = never).
    #[arg(short = 't', long, default_value_t = 0)]
    timeout: u64,
    /// Write the daemon's pid to FILE.
    #[arg(short = 'p', long, value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// Serve Prometheus metrics on http://ADDR/metrics (HOST:PORT; `:PORT`
    /// or PORT alone means loopback). Off unless given.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Seconds between two samplings of the guests, pools and networks
    /// for --metrics (each guest also has this long, at most 5 s, to
    /// answer).
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    metrics_interval: u64,
    /// More logging (repeat for more).
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// Where the sockets and state go.
struct Layout {
    rw_socket: PathBuf,
    ro_socket: PathBuf,
    admin_socket: PathBuf,
    state: PathBuf,
    /// libvirtd's default TLS credentials (relocated by --root).
    tls_defaults: tls::TlsFiles,
}

fn layout(args: &Args, cfg: &config::Config) -> Layout {
    let is_root = unsafe { libc::geteuid() } == 0;
    let (run_dir, state) = if let Some(root) = &args.root {
        // --root keeps the state below DIR; with --libvirt-paths the
        // sockets are still libvirt's own (an adopted host's clients look
        // there), else they go below DIR too.
        let run = if args.libvirt_paths {
            PathBuf::from("/var/run/libvirt")
        } else {
            root.join("run/libvirt")
        };
        (run, root.join("lib/oxvirt"))
    } else if let Some(dir) = &cfg.unix_sock_dir {
        (PathBuf::from(dir), PathBuf::from("/var/lib/oxvirt"))
    } else if is_root && args.libvirt_paths {
        (
            PathBuf::from("/var/run/libvirt"),
            PathBuf::from("/var/lib/oxvirt"),
        )
    } else if is_root {
        (
            PathBuf::from("/run/oxvirt"),
            PathBuf::from("/var/lib/oxvirt"),
        )
    } else {
        // A session daemon, where libvirt's clients look for one.
        let runtime = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::temp_dir().join(format!("oxvirt-{}", unsafe { libc::geteuid() }))
            });
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(std::env::temp_dir);
        (runtime.join("libvirt"), data.join("oxvirt"))
    };
    let rw_socket = args
        .socket
        .clone()
        .unwrap_or_else(|| run_dir.join("libvirt-sock"));
    let mut ro = rw_socket.clone().into_os_string();
    ro.push("-ro");
    let admin_socket = args.admin_socket.clone().unwrap_or_else(|| {
        if rw_socket.file_name() == Some(std::ffi::OsStr::new("libvirt-sock")) {
            rw_socket.with_file_name("libvirt-admin-sock")
        } else {
            let mut a = rw_socket.clone().into_os_string();
            a.push("-admin");
            PathBuf::from(a)
        }
    });
    let home = std::env::var_os("HOME").map(PathBuf::from);
    Layout {
        rw_socket,
        ro_socket: PathBuf::from(ro),
        admin_socket,
        state,
        tls_defaults: tls::default_files(args.root.as_deref(), is_root, home.as_deref()),
    }
}

/// The TLS credential files: key_file, cert_file and ca_file together
/// (libvirtd refuses one without the others), else the defaults.
fn tls_files(cfg: &config::Config, defaults: &tls::TlsFiles) -> Result<tls::TlsFiles, String> {
    if cfg.ca_file.is_none() && cfg.cert_file.is_none() && cfg.key_file.is_none() {
        let mut f = defaults.clone();
        if cfg.crl_file.is_some() {
            f.crl = cfg.crl_file.as_ref().map(PathBuf::from);
        }
        return Ok(f);
    }
    let need = |v: &Option<String>, msg: &str| v.clone().map(PathBuf::from).ok_or(msg.to_string());
    Ok(tls::TlsFiles {
        ca: need(
            &cfg.ca_file,
            "No CA certificate path set to match server key/cert",
        )?,
        cert: need(
            &cfg.cert_file,
            "No server certificate path set to match server key",
        )?,
        key: need(&cfg.key_file, "No server key path set to match server cert")?,
        crl: cfg.crl_file.as_ref().map(PathBuf::from),
    })
}

/// Loads the TLS context a configuration asks for.
fn tls_context(cfg: &config::Config, defaults: &tls::TlsFiles) -> anyhow::Result<tls::TlsContext> {
    let files = tls_files(cfg, defaults).map_err(anyhow::Error::msg)?;
    Ok(tls::TlsContext::load(
        &files,
        cfg.tls_no_verify_certificate,
        cfg.tls_allowed_dn_list.as_deref(),
    )?)
}

/// "host:port" for a listen address (IPv6 literals bracketed).
fn sock_addr(addr: &str, port: u16) -> String {
    if addr.contains(':') && !addr.starts_with('[') {
        format!("[{}]:{}", addr, port)
    } else {
        format!("{}:{}", addr, port)
    }
}

/// Writes the pid file atomically (temp file, fsync, rename).
fn write_pid_file(path: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    writeln!(f, "{}", std::process::id())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The log settings: the environment (LIBVIRT_DEBUG,
/// LIBVIRT_LOG_FILTERS, LIBVIRT_LOG_OUTPUTS) wins, then -v for the level,
/// then the configuration; outputs default to stderr at the log level.
fn log_settings(
    verbose: u8,
    cfg: &config::Config,
) -> Result<(u8, Vec<logging::Filter>, Vec<logging::Output>), oxvirt_core::Error> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let level = match env("LIBVIRT_DEBUG").as_deref() {
        Some("1" | "debug") => 1,
        Some("2" | "info") => 2,
        Some("3" | "warning") => 3,
        Some("4" | "error") => 4,
        _ => match verbose {
            0 => cfg.log_level.unwrap_or(3).clamp(1, 4) as u8,
            1 => 2,
            _ => 1,
        },
    };
    let filters = env("LIBVIRT_LOG_FILTERS").or_else(|| cfg.log_filters.clone());
    let filters = logging::parse_filters(filters.as_deref().unwrap_or(""))?;
    let outputs = env("LIBVIRT_LOG_OUTPUTS").or_else(|| cfg.log_outputs.clone());
    let outputs = logging::parse_outputs(outputs.as_deref().unwrap_or(""))?;
    Ok((level, filters, outputs))
}

fn main() -> anyhow::Result<()> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let args = Args::parse();
    let cfg = match &args.config {
        Some(p) => config::Config::load(p)?,
        None => config::Config::default(),
    };
    let (level, filters, outputs) =
        log_settings(args.verbose, &cfg).map_err(|e| anyhow::anyhow!("{}", e))?;
    let log = logging::LogControl::new(level, filters, outputs, default_outputs(level));
    tracing_subscriber::registry().with(log.clone()).init();
    let lay = layout(&args, &cfg);
    if args.release_to_libvirt {
        return release_to_libvirt(&args, &lay);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Calls are bounded by max_workers; streams and closing
        // connections use the blocking pool too.
        .max_blocking_threads(cfg.max_workers.max(1) + 64)
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(run(args, cfg, lay, log))
}

/// Where the log goes when nothing says: stderr, at the log level.
fn default_outputs(level: u8) -> Vec<logging::Output> {
    vec![logging::Output {
        priority: level,
        dest: logging::Dest::Stderr,
    }]
}

async fn run(
    args: Args,
    cfg: config::Config,
    lay: Layout,
    log: logging::LogControl,
) -> anyhow::Result<()> {
    let rw_perms = cfg.unix_sock_rw_perms;
    let ro_perms = cfg.unix_sock_ro_perms;
    let admin_perms = cfg.unix_sock_admin_perms;
    let gid = match &cfg.unix_sock_group {
        Some(g) => Some(server::group_id(g)?),
        None => None,
    };
    // As with libvirtd, TCP needs --listen; listen_tcp = 0 keeps it off.
    let listen_tcp = args.listen && cfg.listen_tcp.unwrap_or(true);
    let tcp_addr = sock_addr(&cfg.listen_addr, cfg.tcp_port);
    // TLS also needs --listen. listen_tls = 1, or any of key_file,
    // cert_file, ca_file set, asks for it outright: a credential that does
    // not load stops the daemon, as with libvirtd. Left unset (libvirtd's
    // default is on), TLS starts when its credentials load and is skipped
    // with a warning when they do not, so `--listen` alone keeps serving
    // plain TCP on a host without certificates.
    let tls_asked = cfg.listen_tls == Some(true)
        || cfg.key_file.is_some()
        || cfg.cert_file.is_some()
        || cfg.ca_file.is_some();
    let tls_addr = sock_addr(&cfg.listen_addr, cfg.tls_port);
    let tls_state = if args.listen && cfg.listen_tls != Some(false) {
        match tls_context(&cfg, &lay.tls_defaults) {
            Ok(ctx) => Some(Arc::new(tls::TlsState::new(ctx))),
            Err(e) if tls_asked => return Err(e.context("cannot set up TLS")),
            Err(e) => {
                tracing::warn!("not listening on TLS: {:#}", e);
                None
            }
        }
    } else {
        None
    };
    let mut router = router::Router::new(lay.state.clone());
    router.migration = cfg.migration.clone();
    let server = server::Server::new(cfg, router, args.timeout, log.clone());
    if let Some(state) = &tls_state {
        let (state, defaults) = (state.clone(), lay.tls_defaults.clone());
        let reload: server::TlsReload = Arc::new(move |cfg: &config::Config| {
            let ctx = tls_context(cfg, &defaults).map_err(|e| {
                oxvirt_core::Error::new(
                    oxvirt_core::error::code::SYSTEM_ERROR,
                    oxvirt_core::error::from::RPC,
                    format!("{:#}", e),
                )
            })?;
            state.replace(ctx);
            tracing::info!("TLS credentials reloaded");
            Ok(())
        });
        *server::lock(&server.tls) = Some(reload);
    }
    if let Some(rules) = &server.cfg().access_rules_file {
        // Rules that do not load stop the daemon: nothing would be allowed.
        let r = acl::Rules::load(Path::new(rules)).map_err(anyhow::Error::msg)?;
        let audit = server.cfg().access_audit_file.clone();
        let p = acl::Policy::new(r, audit.as_deref().map(Path::new))
            .with_context(|| format!("cannot open {}", audit.unwrap_or_default()))?;
        *server::lock(&server.policy) = Some(Arc::new(p));
        tracing::info!("access rules from {}", rules);
    }
    if args.adopt_libvirt {
        adopt_libvirt(&server, &args.libvirt_root).await?;
    }
    server.router.start_drivers();

    let rw = server::bind_unix(&lay.rw_socket, rw_perms, gid)
        .with_context(|| format!("cannot listen on {}", lay.rw_socket.display()))?;
    let ro = server::bind_unix(&lay.ro_socket, ro_perms, gid)
        .with_context(|| format!("cannot listen on {}", lay.ro_socket.display()))?;
    // The admin socket is the daemon user's alone (no group), as libvirtd's.
    let adm = server::bind_unix(&lay.admin_socket, admin_perms, None)
        .with_context(|| format!("cannot listen on {}", lay.admin_socket.display()))?;
    tracing::info!(
        "listening on {}; state under {}",
        lay.rw_socket.display(),
        server.router.root.display()
    );
    let mut tasks = vec![
        tokio::spawn(server::accept_unix(
            server.clone(),
            rw,
            false,
            false,
            lay.rw_socket.clone(),
        )),
        tokio::spawn(server::accept_unix(
            server.clone(),
            ro,
            true,
            false,
            lay.ro_socket.clone(),
        )),
        tokio::spawn(server::accept_unix(
            server.clone(),
            adm,
            false,
            true,
            lay.admin_socket.clone(),
        )),
    ];
    if listen_tcp {
        let l = tokio::net::TcpListener::bind(&tcp_addr)
            .await
            .with_context(|| format!("cannot listen on {}", tcp_addr))?;
        match l.local_addr() {
            Ok(a) if !a.ip().is_loopback() && server.cfg().tcp_remote_unauthenticated => {
                tracing::warn!(
                    "listening on {} with auth \"none\": clients from other hosts are served unauthenticated",
                    a
                )
            }
            Ok(a) if !a.ip().is_loopback() => tracing::warn!(
                "listening on {} with auth \"none\": clients from other hosts are refused",
                a
            ),
            Ok(a) => tracing::info!("listening on tcp {}", a),
            Err(_) => {}
        }
        tasks.push(tokio::spawn(server::accept_tcp(server.clone(), l)));
    }
    if let Some(state) = &tls_state {
        match tokio::net::TcpListener::bind(&tls_addr).await {
            Ok(l) => {
                if let Ok(a) = l.local_addr() {
                    tracing::info!("listening on tls {}", a);
                }
                tasks.push(tokio::spawn(server::accept_tls(
                    server.clone(),
                    l,
                    state.clone(),
                )));
            }
            Err(e) if tls_asked => {
                return Err(anyhow::Error::new(e).context(format!("cannot listen on {}", tls_addr)))
            }
            Err(e) => tracing::warn!("not listening on TLS: cannot listen on {}: {}", tls_addr, e),
        }
    }
    if let Some(addr) = &args.metrics {
        tasks.push(start_metrics(&server, addr, args.metrics_interval).await?);
    }
    if let Some(p) = &args.pid_file {
        write_pid_file(p).with_context(|| format!("cannot write {}", p.display()))?;
    }

    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let idle = wait_idle(server.clone());
    tokio::pin!(idle);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => { tracing::info!("SIGTERM; stopping"); break }
            _ = &mut idle => { tracing::info!("idle timeout; exiting"); break }
            _ = hup.recv() => reload(&args, &server, tls_state.as_deref(), &lay.tls_defaults),
        }
    }
    server.stopping.notify_waiters();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
    }
    let _ = std::fs::remove_file(&lay.rw_socket);
    let _ = std::fs::remove_file(&lay.ro_socket);
    let _ = std::fs::remove_file(&lay.admin_socket);
    if let Some(p) = &args.pid_file {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

/// Prints an adoption or release report, object by object.
fn print_report(report: &oxvirt_qemu_driver::adopt::Report, done: &str, left: &str) {
    for a in &report.adopted {
        eprintln!("oxvirtd: {} {}", done, a);
    }
    for a in &report.already {
        eprintln!("oxvirtd: already {} {}", done, a);
    }
    for a in &report.skipped {
        eprintln!("oxvirtd: {}: {}", left, a);
    }
}

/// `--release-to-libvirt`: refused while a daemon serves (this oxvirtd
/// or a libvirtd), then libvirt's files are written back.
fn release_to_libvirt(args: &Args, lay: &Layout) -> anyhow::Result<()> {
    use oxvirt_qemu_driver::adopt;
    for s in [&lay.rw_socket] {
        if std::os::unix::net::UnixStream::connect(s).is_ok() {
            anyhow::bail!(
                "cannot hand back: a daemon still answers on {}; stop oxvirtd first",
                s.display()
            );
        }
    }
    let dirs = adopt::LibvirtDirs::under(&args.libvirt_root);
    adopt::check_host_free(&dirs)
        .map_err(|e| anyhow::anyhow!("cannot hand back: {}", e.message))?;
    let mut report = adopt::release(&lay.state.join("qemu"), &dirs)
        .map_err(|e| anyhow::anyhow!("cannot hand back: {}", e.message))?;
    crate::adopt::release_pools(&lay.state, &dirs, &mut report);
    crate::adopt::release_secrets(&lay.state, &dirs, &mut report);
    print_report(&report, "handed back", "kept by oxvirtd");
    eprintln!(
        "oxvirtd: hand-back done: {} handed back to libvirt, {} kept by oxvirtd",
        report.adopted.len(),
        report.skipped.len()
    );
    if report.skipped.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("some domains stay with oxvirtd")
    }
}

/// `--adopt-libvirt`: refuses while libvirt holds the host, then takes
/// over what libvirt left (before any listener is up, so no client sees
/// a half-adopted host), printing every object adopted or left.
async fn adopt_libvirt(server: &Arc<server::Server>, libvirt_root: &Path) -> anyhow::Result<()> {
    let dirs = oxvirt_qemu_driver::adopt::LibvirtDirs::under(libvirt_root);
    oxvirt_qemu_driver::adopt::check_host_free(&dirs)
        .map_err(|e| anyhow::anyhow!("cannot adopt: {}", e.message))?;
    let s = server.clone();
    let report = tokio::task::spawn_blocking(move || s.router.adopt_libvirt(&dirs))
        .await
        .context("adoption")?
        .map_err(|e| anyhow::anyhow!("cannot adopt: {}", e.message))?;
    print_report(&report, "adopted", "left to libvirt");
    eprintln!(
        "oxvirtd: adoption done: {} adopted, {} already here, {} left to libvirt",
        report.adopted.len(),
        report.already.len(),
        report.skipped.len()
    );
    Ok(())
}

/// `--metrics ADDR`: binds the endpoint (a failure stops the daemon, as
/// for its other listeners) and starts the sampler over the daemon's own
/// `qemu:///system` connection.
async fn start_metrics(
    server: &Arc<server::Server>,
    addr: &str,
    interval: u64,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let addr = metrics::parse_addr(addr).map_err(anyhow::Error::msg)?;
    let listener = metrics::http::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {} for metrics", addr))?;
    let bound = listener.local_addr().unwrap_or(addr);
    if bound.ip().is_loopback() {
        tracing::info!("metrics on http://{}/metrics", bound);
    } else {
        tracing::warn!(
            "metrics on http://{}/metrics, reachable from other hosts without authentication",
            bound
        );
    }
    let latest = Arc::new(metrics::sample::Latest::default());
    let daemon = server.metrics.clone();
    let s2 = server.clone();
    let source = metrics::sample::ConnSource::new(move || s2.router.open("qemu:///system", 0));
    let interval = Duration::from_secs(interval);
    let sampler = metrics::sample::Sampler::new(
        Arc::new(source),
        latest.clone(),
        daemon.clone(),
        interval.min(Duration::from_secs(5)),
    );
    tokio::spawn(sampler.run(interval));
    let s3 = server.clone();
    let ep = metrics::http::Endpoint {
        latest,
        daemon,
        refresh: Box::new(move |m| {
            let (busy, max) = s3.workers_in_use();
            m.clients.set(s3.client_count() as i64);
            m.workers_busy.set(busy as i64);
            m.workers_max.set(max as i64);
        }),
    };
    Ok(tokio::spawn(metrics::http::serve(listener, Arc::new(ep))))
}

/// SIGHUP: re-reads the configuration file and applies what can change
/// while running; a file that does not parse leaves everything as it was.
/// A running TLS listener re-reads its certificates, key, CRL and client
/// rules (for connections accepted from then on; libvirtd itself needs
/// virt-admin's server-update-tls for that); if they do not load, the old
/// ones stay in force.
fn reload(
    args: &Args,
    server: &server::Server,
    tls: Option<&tls::TlsState>,
    tls_defaults: &tls::TlsFiles,
) {
    let Some(path) = &args.config else {
        tracing::info!("SIGHUP without a configuration file: nothing to reload");
        return;
    };
    match config::Config::load(path) {
        Ok(cfg) => {
            match log_settings(args.verbose, &cfg) {
                Ok((level, filters, outputs)) => {
                    server.log.set_level(level);
                    server.log.set_filters(filters);
                    server.log.set_outputs(outputs);
                }
                Err(e) => tracing::error!("keeping the old log settings: {}", e),
            }
            if let Some(state) = tls {
                match tls_context(&cfg, tls_defaults) {
                    Ok(ctx) => {
                        state.replace(ctx);
                        tracing::info!("TLS credentials reloaded");
                    }
                    Err(e) => {
                        tracing::error!("TLS reload failed, keeping the old credentials: {:#}", e)
                    }
                }
            }
            if let (Some(policy), Some(file)) = (server.policy(), &cfg.access_rules_file) {
                match acl::Rules::load(Path::new(file)) {
                    Ok(r) => {
                        policy.replace(r);
                        tracing::info!("access rules reloaded from {}", file);
                    }
                    Err(e) => tracing::error!("keeping the old access rules: {}", e),
                }
            }
            server.reload(cfg);
        }
        Err(e) => tracing::error!("reload failed, keeping the old configuration: {}", e),
    }
}

/// Resolves when the daemon has had no clients for its idle timeout
/// (--timeout, or virt-admin's daemon-timeout; never while it is 0). A
/// virt-admin client counts as a client, as with libvirtd.
async fn wait_idle(server: Arc<server::Server>) {
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let secs = server
            .idle_timeout
            .load(std::sync::atomic::Ordering::Relaxed);
        if secs == 0 {
            continue;
        }
        let since = *server::lock(&server.idle_since);
        if server.client_count() == 0
            && server.admin.client_count() == 0
            && since.is_some_and(|t| t.elapsed() >= Duration::from_secs(secs))
        {
            return;
        }
    }
}
