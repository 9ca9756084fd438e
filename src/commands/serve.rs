//! `pitchfork serve`: bind the socket, run the milter until SIGTERM/SIGINT.

use crate::{
    config::SocketSpec,
    engine::Engine,
    listener,
    milter::{self, Snapshots},
};
use anyhow::Context as _;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};
use tracing::info;

/// Serves until a termination signal; the unix socket is removed on exit.
pub async fn run(engine: Engine, socket: Option<SocketSpec>) -> anyhow::Result<()> {
    let spec = socket.unwrap_or_else(|| engine.config.socket.clone());
    let mut bound = listener::bind(&spec, engine.config.socket_mode)
        .await
        .with_context(|| format!("cannot listen on {spec}"))?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => info!("SIGTERM received, shutting down"),
            _ = interrupt.recv() => info!("SIGINT received, shutting down"),
        }
    };
    info!(socket = %bound.spec, version = env!("CARGO_PKG_VERSION"), "pitchfork serving");
    let snapshots = Arc::new(Snapshots::new(engine));
    milter::run(bound.take(), snapshots, shutdown).await?;
    info!("pitchfork stopped");
    Ok(())
}
