//! The configuration file as written: every key with its default, in one
//! place. Validation into [`Config`](super::Config) happens in `super`.

use serde::{Deserialize, Serialize};

/// What to do when pitchfork itself fails on a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Accept the message unmodified (the default: never lose mail).
    #[default]
    Accept,
    /// Answer 4xx so the client retries later.
    Tempfail,
}

/// Whether verdicts are acted on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Add headers and reject as configured.
    #[default]
    Enforce,
    /// Score, log, count and add headers, but never reject or tempfail.
    Observe,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Observe => "observe",
        }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `key=value` lines for people and syslog.
    #[default]
    Text,
    /// One JSON object per line for log collectors.
    Json,
}

/// Top-level keys of `pitchfork.toml`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub socket: String,
    pub socket_mode: String,
    pub socket_owner: String,
    pub socket_group: String,
    pub user: String,
    pub group: String,
    pub allow_root: bool,
    pub max_connections: usize,
    pub connection_timeout: u64,
    pub shutdown_timeout: u64,
    pub mode: Mode,
    pub max_scan_bytes: u64,
    pub on_error: OnError,
    pub rules_file: String,
    pub model: bool,
    pub model_file: String,
    pub log_level: String,
    pub log_format: LogFormat,
    pub log_addresses: bool,
    pub metrics_listen: String,
    pub state: String,
    pub state_timeout_ms: u64,
    pub state_ask_all: bool,
    pub thresholds: RawThresholds,
    pub headers: RawHeaders,
    pub reject: RawReject,
    pub skip: RawSkip,
    pub correspondents: RawCorrespondents,
    pub learning: RawLearning,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            socket: "inet:8895@127.0.0.1".into(),
            socket_mode: "0660".into(),
            socket_owner: String::new(),
            socket_group: String::new(),
            user: String::new(),
            group: String::new(),
            allow_root: false,
            max_connections: 100,
            // Postfix's milter_content_timeout is 300s; a silent MTA beyond
            // that has given up on us anyway.
            connection_timeout: 300,
            // Judging takes milliseconds; what a message in flight waits
            // for is the MTA sending the rest of it. Past this the MTA
            // applies milter_default_action and the sender retries.
            shutdown_timeout: 10,
            mode: Mode::Enforce,
            max_scan_bytes: 1024 * 1024,
            on_error: OnError::Accept,
            rules_file: String::new(),
            model: true,
            model_file: String::new(),
            log_level: "info".into(),
            log_format: LogFormat::Text,
            log_addresses: false,
            metrics_listen: String::new(),
            state: "/var/lib/pitchfork/state.db".into(),
            // A store on the same host or LAN answers in well under a
            // millisecond; this bounds what a sick one may cost a message.
            state_timeout_ms: 100,
            state_ask_all: false,
            thresholds: RawThresholds::default(),
            headers: RawHeaders::default(),
            reject: RawReject::default(),
            skip: RawSkip::default(),
            correspondents: RawCorrespondents::default(),
            learning: RawLearning::default(),
        }
    }
}

/// `[thresholds]`
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawThresholds {
    pub flag: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject: Option<f64>,
}

impl Default for RawThresholds {
    fn default() -> Self {
        Self {
            flag: 5.0,
            reject: None,
        }
    }
}

/// `[headers]`
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHeaders {
    pub score_and_status: bool,
}

impl Default for RawHeaders {
    fn default() -> Self {
        Self {
            score_and_status: true,
        }
    }
}

/// `[reject]`
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawReject {
    pub reply: String,
}

impl Default for RawReject {
    fn default() -> Self {
        Self {
            reply: "550 5.7.1 Sales pitch, not a partnership".into(),
        }
    }
}

/// `[skip]`
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSkip {
    pub authenticated: bool,
    pub trusted_networks: Vec<String>,
    pub senders: Vec<String>,
}

impl Default for RawSkip {
    fn default() -> Self {
        Self {
            authenticated: true,
            trusted_networks: Vec::new(),
            senders: Vec::new(),
        }
    }
}

/// `[correspondents]`
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawCorrespondents {
    pub retention_days: u64,
    pub warmup_days: u64,
}

impl Default for RawCorrespondents {
    fn default() -> Self {
        Self {
            retention_days: 180,
            warmup_days: 14,
        }
    }
}

/// `[learning]`
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLearning {
    pub min_learns: u64,
}

impl Default for RawLearning {
    fn default() -> Self {
        Self { min_learns: 50 }
    }
}
