//! Reloading on SIGHUP: the startup loader builds a whole new [`Engine`]
//! (configuration, rules, model) and it replaces the running one only when
//! all of it is valid. Messages in flight finish on the snapshot they
//! started with. Keys that shape the process itself (sockets, user,
//! limits handed to the milter library at start) cannot change while it
//! runs: a change to them is reported as "restart needed".

use crate::{
    config::{Config, ConfigErrors},
    engine::Engine,
    logging::LogControl,
    milter::Snapshots,
};
use std::path::{Path, PathBuf};
use tracing::{info, warn};

/// What a reload did.
#[derive(Debug)]
pub enum Outcome {
    /// The new snapshot serves; these changed keys wait for a restart.
    Applied { restart_needed: Vec<&'static str> },
    /// The running snapshot stays; the new one had these errors.
    Refused(ConfigErrors),
}

/// Loads `path` (the built-in configuration when `None`) and, when valid,
/// makes it the snapshot for the messages that start from now on.
pub fn reload(snapshots: &Snapshots, path: Option<&Path>) -> Outcome {
    match Engine::load(path) {
        Ok(engine) => {
            let running = snapshots.current();
            let restart_needed = restart_needed(&running.config, &engine.config);
            snapshots.replace(engine);
            snapshots.metrics().reload(true);
            Outcome::Applied { restart_needed }
        }
        Err(errors) => {
            snapshots.metrics().reload(false);
            Outcome::Refused(errors)
        }
    }
}

/// Reloads on every SIGHUP until the signal stream ends. Loading reads
/// files and compiles rules, so it runs off the runtime's worker threads.
pub async fn on_hangup(
    mut hangups: tokio::signal::unix::Signal,
    snapshots: std::sync::Arc<Snapshots>,
    path: Option<PathBuf>,
    log: LogControl,
) {
    while hangups.recv().await.is_some() {
        info!("SIGHUP received, reloading the configuration");
        let task = {
            let (snapshots, path) = (snapshots.clone(), path.clone());
            tokio::task::spawn_blocking(move || reload(&snapshots, path.as_deref()))
        };
        match task.await {
            Ok(outcome) => report(&outcome, &snapshots, &log),
            Err(e) => warn!("reload failed, the running configuration stays: {e}"),
        }
    }
}

/// Logs an outcome: warn for each refused key or key needing a restart.
fn report(outcome: &Outcome, snapshots: &Snapshots, log: &LogControl) {
    match outcome {
        Outcome::Applied { restart_needed } => {
            log.apply(&snapshots.current().config);
            for key in restart_needed {
                warn!(
                    key = %key,
                    "restart needed: `{key}` changed, the running value stays until pitchfork restarts"
                );
            }
            info!("configuration reloaded");
        }
        Outcome::Refused(errors) => {
            for error in &errors.errors {
                // Rule file errors may quote several lines; a log line is one.
                let text = error.to_string().replace('\n', " ");
                warn!(source = %errors.source, key = %error.path, "reload refused: {text}");
            }
            warn!(
                source = %errors.source,
                "reload refused with {} error(s), the running configuration stays",
                errors.errors.len()
            );
        }
    }
}

/// The keys that differ between the running and the new configuration but
/// only take effect at start.
pub fn restart_needed(running: &Config, new: &Config) -> Vec<&'static str> {
    let (a, b) = (&running.service, &new.service);
    let changed = [
        ("socket", running.socket != new.socket),
        ("socket_mode", running.socket_mode != new.socket_mode),
        ("socket_owner", a.socket_owner != b.socket_owner),
        ("socket_group", a.socket_group != b.socket_group),
        ("user", a.user != b.user),
        ("group", a.group != b.group),
        ("allow_root", a.allow_root != b.allow_root),
        ("metrics_listen", a.metrics_listen != b.metrics_listen),
        (
            "max_connections",
            running.max_connections != new.max_connections,
        ),
        (
            "connection_timeout",
            running.connection_timeout != new.connection_timeout,
        ),
        ("log_format", running.logging.format != new.logging.format),
        ("state", running.state.backend != new.state.backend),
        (
            "state_timeout_ms",
            running.state.timeout != new.state.timeout,
        ),
    ];
    changed
        .into_iter()
        .filter_map(|(key, differs)| differs.then_some(key))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(text: &str) -> Engine {
        Engine::with_config(Config::parse(text).unwrap()).unwrap()
    }

    #[test]
    fn names_the_keys_that_need_a_restart() {
        let cases: [(&str, &[&str]); 6] = [
            ("", &[]),
            ("[thresholds]\nflag = 9.0\nreject = 12.0", &[]),
            ("mode = \"observe\"\nlog_level = \"debug\"", &[]),
            ("shutdown_timeout = 1\nlog_addresses = true", &[]),
            (
                "socket = \"unix:/run/p.sock\"\nuser = \"root\"\nmax_connections = 5",
                &["socket", "user", "max_connections"],
            ),
            (
                "metrics_listen = \"127.0.0.1:9895\"\nlog_format = \"json\"\nsocket_mode = \"0600\"",
                &["socket_mode", "metrics_listen", "log_format"],
            ),
        ];
        let running = Config::parse("").unwrap();
        for (text, keys) in cases {
            let new = Config::parse(text).unwrap();
            assert_eq!(restart_needed(&running, &new), keys, "{text}");
        }
    }

    #[test]
    fn applies_a_valid_file_and_keeps_the_old_snapshot_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pitchfork.toml");
        let snapshots = Snapshots::new(engine(""));
        let before = snapshots.current();

        std::fs::write(&path, "max_connections = 7\n[thresholds]\nflag = 9.5").unwrap();
        let Outcome::Applied { restart_needed } = reload(&snapshots, Some(&path)) else {
            panic!("valid file refused");
        };
        assert_eq!(restart_needed, ["max_connections"]);
        assert_eq!(snapshots.current().config.thresholds.flag, 9.5);
        // a message that started before keeps its snapshot
        assert_eq!(before.config.thresholds.flag, 5.0);

        std::fs::write(&path, "[thresholds]\nflag = \"x\"\n[skip]\nsenders = [1]").unwrap();
        let Outcome::Refused(errors) = reload(&snapshots, Some(&path)) else {
            panic!("invalid file applied");
        };
        let mut keys: Vec<&str> = errors.errors.iter().map(|e| e.path.as_str()).collect();
        keys.sort();
        assert_eq!(keys, ["skip.senders[0]", "thresholds.flag"]);
        assert_eq!(snapshots.current().config.thresholds.flag, 9.5);
        let text = snapshots.metrics().render();
        assert!(text.contains("pitchfork_reloads_total{result=\"applied\"} 1"));
        assert!(text.contains("pitchfork_reloads_total{result=\"refused\"} 1"));
    }
}
