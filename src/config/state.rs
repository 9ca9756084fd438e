//! `state`, `state_timeout_ms`, `[correspondents]` and `[learning]`: where
//! correspondent memory and learned statistics live, and how they count.

use super::{ConfigError, RawConfig, error};
use std::{fmt, path::PathBuf, time::Duration};

/// Where the state is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// No state: the stateful tests never fire and nothing is recorded.
    Off,
    /// The embedded single-file store (SQLite) at this path.
    File(PathBuf),
    /// A Redis or Valkey server, shared by several pitchfork instances.
    Redis(String),
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Redis(url) => f.write_str(url),
        }
    }
}

/// The validated state settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateConfig {
    pub backend: Backend,
    /// The most a message waits for the store; past it the message is
    /// scored without the stateful tests.
    pub timeout: Duration,
    /// How long a sent message or a correspondent is remembered.
    pub retention: Duration,
    /// How long outbound mail must have been recorded before
    /// `FAKE_THREAD` may fire: on a new store every real reply would
    /// otherwise look like a conversation that never happened.
    pub warmup: Duration,
    /// Messages of each label learned before the learned statistics count.
    pub min_learns: u64,
    /// Ask the store about every message, not only those its answer could
    /// change the verdict of (their `X-Pitchfork-Status` then lists the
    /// stateful tests too, at a lookup per message).
    pub ask_all: bool,
}

const DAY: u64 = 24 * 60 * 60;

/// Validates the state keys, pushing an error per bad key.
pub(super) fn validate(raw: &RawConfig, errors: &mut Vec<ConfigError>) -> Option<StateConfig> {
    let mut ok = true;
    let mut fail = |path: &str, reason: String| {
        errors.push(error(path, reason));
        ok = false;
    };
    let backend = match backend(&raw.state) {
        Ok(backend) => backend,
        Err(reason) => {
            fail("state", reason);
            Backend::Off
        }
    };
    if raw.state_timeout_ms == 0 {
        fail("state_timeout_ms", "must be greater than 0".into());
    }
    if raw.correspondents.retention_days == 0 {
        fail(
            "correspondents.retention_days",
            "must be greater than 0".into(),
        );
    }
    if raw.learning.min_learns == 0 {
        fail("learning.min_learns", "must be greater than 0".into());
    }
    ok.then(|| StateConfig {
        backend,
        timeout: Duration::from_millis(raw.state_timeout_ms),
        retention: Duration::from_secs(raw.correspondents.retention_days.saturating_mul(DAY)),
        warmup: Duration::from_secs(raw.correspondents.warmup_days.saturating_mul(DAY)),
        min_learns: raw.learning.min_learns,
        ask_all: raw.state_ask_all,
    })
}

fn backend(value: &str) -> Result<Backend, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(Backend::Off);
    }
    if value.starts_with("redis://") {
        return redis::Client::open(value)
            .map(|_| Backend::Redis(value.to_owned()))
            .map_err(|e| format!("`{value}` is not a usable Redis URL: {e}"));
    }
    if value.contains("://") {
        return Err(format!(
            "`{value}`: only redis:// URLs are supported (TLS is not built in)"
        ));
    }
    let path = PathBuf::from(value);
    if path.is_absolute() {
        Ok(Backend::File(path))
    } else {
        Err(format!(
            "`{value}` must be an absolute path, a redis://HOST:PORT/DB URL, or empty for none"
        ))
    }
}
