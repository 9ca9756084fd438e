//! Log output of the daemon: text or JSON lines on standard error, the
//! level from `log_level` (changed live on reload) unless `RUST_LOG` is
//! set, and personal data (envelope addresses, client IPs, user names)
//! shown only as a keyed hash unless `log_addresses = true`.

use crate::config::{Config, LogFormat};
use std::{
    fmt,
    hash::{BuildHasher, RandomState},
    sync::OnceLock,
};
use tracing::warn;
use tracing_subscriber::{
    EnvFilter, Registry, layer::SubscriberExt as _, reload, util::SubscriberInitExt as _,
};

/// Changes the log level of the running daemon.
#[derive(Debug)]
pub struct LogControl {
    /// `None` when `RUST_LOG` decides the level.
    handle: Option<reload::Handle<EnvFilter, Registry>>,
}

impl LogControl {
    /// A control that changes nothing (for tests and other commands).
    pub fn fixed() -> Self {
        Self { handle: None }
    }

    /// Applies a (reloaded) configuration's `log_level`.
    pub fn apply(&self, config: &Config) {
        let Some(handle) = &self.handle else {
            return;
        };
        if let Err(e) = handle.reload(filter(&config.log_level)) {
            warn!("cannot change the log level: {e}");
        }
    }
}

/// Installs the global subscriber for the daemon.
pub fn init(config: &Config) -> LogControl {
    // RUST_LOG, when set and valid, overrides the configured level.
    let (filter, from_env) = match EnvFilter::try_from_default_env() {
        Ok(filter) => (filter, true),
        Err(_) => (filter(&config.log_level), false),
    };
    let (filter, handle) = reload::Layer::new(filter);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let registry = tracing_subscriber::registry().with(filter);
    match config.logging.format {
        LogFormat::Text => registry.with(lines).init(),
        LogFormat::Json => registry
            .with(lines.json().flatten_event(true).with_current_span(false))
            .init(),
    }
    LogControl {
        handle: (!from_env).then_some(handle),
    }
}

/// Only pitchfork's own lines at the configured level; the libraries'
/// warnings and errors still show.
fn filter(level: &str) -> EnvFilter {
    EnvFilter::new(format!("warn,pitchfork={level}"))
}

/// An envelope address, client IP or user name as it may be logged.
pub struct Personal<'a> {
    value: &'a str,
    reveal: bool,
}

/// Shows `value` in clear when `reveal`, else as `#` and 8 hex digits of
/// a keyed hash. The key is random per process: lines of one sender match
/// up, but the hash cannot be looked up in a table of known addresses.
pub fn personal(value: &str, reveal: bool) -> Personal<'_> {
    Personal { value, reveal }
}

impl fmt::Display for Personal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The null sender `<>` of bounces and an absent value are no one's.
        if self.reveal || self.value.is_empty() || self.value == "<>" {
            return f.write_str(if self.value.is_empty() {
                "-"
            } else {
                self.value
            });
        }
        static KEY: OnceLock<RandomState> = OnceLock::new();
        let hash = KEY
            .get_or_init(RandomState::new)
            .hash_one(self.value.to_ascii_lowercase());
        write!(f, "#{:08x}", hash >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_is_hashed_unless_revealed() {
        let shown = |value, reveal| personal(value, reveal).to_string();
        assert_eq!(shown("a@example.org", true), "a@example.org");
        assert_eq!(shown("", false), "-");
        assert_eq!(shown("", true), "-");
        assert_eq!(shown("<>", false), "<>");
        let hashed = shown("a@example.org", false);
        assert!(hashed.starts_with('#') && hashed.len() == 9, "{hashed}");
        assert!(hashed[1..].bytes().all(|b| b.is_ascii_hexdigit()));
        // the same address, in any case, gives the same hash; another does not
        assert_eq!(hashed, shown("A@Example.ORG", false));
        assert_ne!(hashed, shown("b@example.org", false));
    }
}
