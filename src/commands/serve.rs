//! `pitchfork serve`: bind the sockets, give up root, serve the milter (and
//! the metrics endpoint) until SIGTERM/SIGINT, reload on SIGHUP.
//!
//! Order matters: signal handlers come first (SIGHUP's default action
//! would end the process), then the sockets are bound and handed to their
//! owner while still root, then privileges are dropped, and only then is
//! any mail read.

use crate::{
    config::{Backend, Config, Service, SocketSpec, account},
    engine::Engine,
    listener,
    logging::LogControl,
    metrics,
    milter::{self, Snapshots},
    reload,
};
use anyhow::{Context as _, bail};
use nix::unistd::{self, Gid, Uid};
use std::{ffi::CString, os::unix::fs::DirBuilderExt, path::PathBuf, sync::Arc};
use tokio::{
    net::TcpListener,
    signal::unix::{SignalKind, signal},
    sync::oneshot,
};
use tracing::{info, warn};

/// How `serve` was started.
#[derive(Debug)]
pub struct Options {
    /// The configuration file, reread on SIGHUP; `None` is the built-in one.
    pub config_path: Option<PathBuf>,
    /// `--socket`, overriding the configuration.
    pub socket: Option<SocketSpec>,
    /// Applies a reloaded `log_level`.
    pub log: LogControl,
}

/// Serves until SIGTERM or SIGINT; the unix socket is removed on exit.
pub async fn run(engine: Engine, options: Options) -> anyhow::Result<()> {
    let hangup = signal(SignalKind::hangup())?;
    let shutdown = shutdown_signal()?;
    let mut config = engine.config.clone();
    refuse_root(&mut config.service)?;
    // Metrics first: once the milter socket answers, everything does.
    let metrics_listener = bind_metrics(&config).await?;
    let spec = options.socket.unwrap_or_else(|| config.socket.clone());
    let mut bound = listener::bind(&spec, config.socket_mode)
        .await
        .with_context(|| format!("cannot listen on {spec}"))?;
    give_socket(&bound.spec, &config.service)?;
    make_state_dir(&config);
    drop_privileges(&config.service)?;
    announce(&bound.spec, &config);

    let snapshots = Arc::new(Snapshots::new(engine));
    let (stop_metrics, metrics_stopped) = oneshot::channel::<()>();
    if let Some(listener) = metrics_listener {
        let metrics = Arc::clone(snapshots.metrics());
        tokio::spawn(metrics::serve(listener, metrics, metrics_stopped));
    }
    let reloads = reload::on_hangup(
        hangup,
        Arc::clone(&snapshots),
        options.config_path,
        options.log,
    );
    tokio::spawn(reloads);
    milter::run(bound.take(), snapshots, shutdown).await?;
    let _ = stop_metrics.send(());
    info!("pitchfork stopped");
    Ok(())
}

/// Completes on the first SIGTERM or SIGINT.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => info!("SIGTERM received, shutting down"),
            _ = interrupt.recv() => info!("SIGINT received, shutting down"),
        }
    })
}

/// Never serves as root unless root is explicitly allowed: a parser bug
/// should not be a root exploit. Started as root with no `user` set, it
/// switches to `nobody` after binding (as `pitchfork serve` does on the
/// built-in configuration); `user = "root"` without `allow_root` is refused.
fn refuse_root(service: &mut Service) -> anyhow::Result<()> {
    if !unistd::geteuid().is_root() || service.allow_root {
        return Ok(());
    }
    if service.user.is_none() {
        let nobody = account::user(FALLBACK_USER)
            .map_err(|e| anyhow::anyhow!("refusing to serve as root: no `user` set and {e}"))?;
        warn!("started as root with no `user` set: switching to `{FALLBACK_USER}` after binding");
        service.user = nobody;
    }
    if service.user.as_ref().is_some_and(|user| user.uid == 0) {
        bail!("refusing to serve as root: set `user` to another user, or `allow_root = true`");
    }
    Ok(())
}

/// The unprivileged user taken when started as root with no `user` set.
const FALLBACK_USER: &str = "nobody";

/// Gives a unix socket the configured owner and group.
fn give_socket(spec: &SocketSpec, service: &Service) -> anyhow::Result<()> {
    let SocketSpec::Unix(path) = spec else {
        return Ok(());
    };
    let uid = service.socket_owner.as_ref().map(|user| user.uid);
    let gid = service.socket_group.as_ref().map(|group| group.gid);
    if uid.is_none() && gid.is_none() {
        return Ok(());
    }
    std::os::unix::fs::chown(path, uid, gid).with_context(|| {
        format!(
            "cannot set the owner of {} (socket_owner, socket_group)",
            path.display()
        )
    })
}

/// Creates the directory of the state file, owned by `user`, when it is
/// missing (as the package's systemd unit does with `StateDirectory=`). A
/// failure is logged, not fatal: mail is then scored without the state.
fn make_state_dir(config: &Config) {
    let Backend::File(path) = &config.state.backend else {
        return;
    };
    let Some(dir) = path.parent().filter(|dir| !dir.exists()) else {
        return;
    };
    let created = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .and_then(|()| match &config.service.user {
            Some(user) if unistd::geteuid().is_root() => {
                let gid = config.service.group.as_ref().map_or(user.gid, |g| g.gid);
                std::os::unix::fs::chown(dir, Some(user.uid), Some(gid))
            }
            _ => Ok(()),
        });
    if let Err(e) = created {
        warn!("cannot create the state directory {}: {e}", dir.display());
    }
}

async fn bind_metrics(config: &Config) -> anyhow::Result<Option<TcpListener>> {
    let Some(addr) = config.service.metrics_listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot serve metrics on {addr} (metrics_listen)"))?;
    Ok(Some(listener))
}

/// Switches to `user` and `group` for good. Run as root, `setuid` sets the
/// real, effective and saved user ids, so root cannot be regained. Started
/// as that user already (systemd's `User=`), there is nothing to do.
fn drop_privileges(service: &Service) -> anyhow::Result<()> {
    let Some(user) = &service.user else {
        return Ok(());
    };
    let uid = Uid::from_raw(user.uid);
    let gid = Gid::from_raw(service.group.as_ref().map_or(user.gid, |group| group.gid));
    let euid = unistd::geteuid();
    if euid == uid {
        return Ok(());
    }
    if !euid.is_root() {
        bail!(
            "cannot switch to user `{}` (user): not started as root",
            user.name
        );
    }
    let name = CString::new(user.name.as_str())?;
    // Groups before the user: only root may change them.
    unistd::initgroups(&name, gid).context("cannot set supplementary groups")?;
    unistd::setgid(gid).context("cannot switch group")?;
    unistd::setuid(uid).with_context(|| format!("cannot switch to user `{}`", user.name))?;
    if unistd::setuid(Uid::from_raw(0)).is_ok() {
        bail!("could regain root after switching to `{}`", user.name);
    }
    Ok(())
}

fn announce(spec: &SocketSpec, config: &Config) {
    let metrics = config
        .service
        .metrics_listen
        .map_or_else(|| "-".to_owned(), |addr| addr.to_string());
    let uid = unistd::geteuid();
    if uid.is_root() {
        warn!("serving as root (allow_root = true)");
    }
    info!(
        socket = %spec,
        metrics = %metrics,
        uid = uid.as_raw(),
        mode = %config.mode.as_str(),
        version = %env!("CARGO_PKG_VERSION"),
        "pitchfork serving"
    );
}
