//! Configuration: `pitchfork.toml` read into [`RawConfig`], validated into
//! [`Config`]. Every error names the key it concerns; all validation errors
//! are reported at once.

pub mod account;
mod raw;
mod service;
mod socket;
mod state;

pub use account::{Group, User};
pub use raw::{LogFormat, Mode, OnError, RawConfig};
pub use service::{Logging, Service};
pub use socket::SocketSpec;
pub use state::{Backend, StateConfig};

use ipnet::IpNet;
use std::{fmt, path::Path, str::FromStr, time::Duration};

/// The commented sample configuration; every key is listed at its default,
/// so parsing it yields the built-in defaults.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/pitchfork.toml");

/// A validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub socket: SocketSpec,
    /// Permission bits of a unix socket.
    pub socket_mode: u32,
    pub max_connections: usize,
    pub connection_timeout: Duration,
    pub max_scan_bytes: usize,
    pub on_error: OnError,
    /// Rule file to load; `None` means the rules built into the binary.
    pub rules_file: Option<std::path::PathBuf>,
    /// Whether the learned model re-weighs the tests (else rule weights).
    pub model: bool,
    /// Model file to load; `None` means the model built into the binary.
    pub model_file: Option<std::path::PathBuf>,
    pub log_level: String,
    pub logging: Logging,
    /// Enforce verdicts, or only observe them.
    pub mode: Mode,
    /// Process settings: socket ownership, user, shutdown, metrics.
    pub service: Service,
    pub thresholds: Thresholds,
    pub status_headers: bool,
    pub reject_reply: Reply,
    pub skip: SkipPolicy,
    /// Correspondent memory and learned statistics.
    pub state: StateConfig,
}

/// Score thresholds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// At or above: `X-Pitchfork-Flag: YES`.
    pub flag: f64,
    /// At or above: reject at end of message; `None` never rejects.
    pub reject: Option<f64>,
}

/// An SMTP reply checked to be safe to hand to the MTA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: String,
    pub enhanced: String,
    pub text: String,
}

/// Who is accepted without scoring.
#[derive(Clone, Debug, Default)]
pub struct SkipPolicy {
    pub authenticated: bool,
    pub trusted_networks: Vec<IpNet>,
    /// Lower-case addresses (`user@example.com`) or domains (`example.com`).
    pub senders: Vec<String>,
}

/// One problem in a configuration, with the key it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path, e.g. `thresholds.flag`; empty for the whole file.
    pub path: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

/// Every problem found in one configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors {
    /// The file, or `<built-in>` for the embedded default.
    pub source: String,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration in {}", self.source)?;
        for error in &self.errors {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Reads and validates a file, or the built-in default when `path` is
    /// `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigErrors> {
        let (source, text) = match path {
            None => ("<built-in>".to_owned(), DEFAULT_CONFIG.to_owned()),
            Some(path) => {
                let source = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
                    source: source.clone(),
                    errors: vec![error("", format!("cannot read file: {e}"))],
                })?;
                (source, text)
            }
        };
        Self::parse(&text).map_err(|errors| ConfigErrors { source, errors })
    }

    /// Parses and validates configuration text.
    pub fn parse(text: &str) -> Result<Self, Vec<ConfigError>> {
        let raw = parse_raw(text)?;
        Self::validate(&raw)
    }

    /// Turns a raw configuration into a valid one, collecting every error.
    pub fn validate(raw: &RawConfig) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut check = |path: &str, result: Result<(), String>| {
            if let Err(reason) = result {
                errors.push(error(path, reason));
            }
        };
        let socket = raw.socket.parse::<SocketSpec>();
        check("socket", socket.as_ref().map(drop).map_err(Clone::clone));
        let socket_mode = u32::from_str_radix(&raw.socket_mode, 8)
            .ok()
            .filter(|mode| *mode <= 0o777);
        check(
            "socket_mode",
            socket_mode
                .map(drop)
                .ok_or_else(|| format!("`{}` is not an octal mode like 0660", raw.socket_mode)),
        );
        check("max_connections", positive(raw.max_connections as u64));
        check("connection_timeout", positive(raw.connection_timeout));
        check("max_scan_bytes", positive(raw.max_scan_bytes));
        check("log_level", log_level(&raw.log_level));
        check("thresholds.flag", finite(raw.thresholds.flag));
        if let Some(reject) = raw.thresholds.reject {
            check("thresholds.reject", finite(reject));
            if reject < raw.thresholds.flag {
                check(
                    "thresholds.reject",
                    Err(format!(
                        "{reject} is below thresholds.flag ({}): a rejected message would not be a flagged one",
                        raw.thresholds.flag
                    )),
                );
            }
        }
        let reply = raw.reject.reply.parse::<Reply>();
        check(
            "reject.reply",
            reply.as_ref().map(drop).map_err(Clone::clone),
        );
        let networks = parse_networks(&raw.skip.trusted_networks, &mut errors);
        let senders = parse_senders(&raw.skip.senders, &mut errors);
        let state = state::validate(raw, &mut errors);
        // All other keys are checked by now: no error is hidden by this.
        let Some(service) = service::validate(raw, &mut errors) else {
            return Err(errors);
        };
        match (socket, socket_mode, reply, state) {
            (Ok(socket), Some(socket_mode), Ok(reject_reply), Some(state)) if errors.is_empty() => {
                Ok(Self {
                    socket,
                    socket_mode,
                    max_connections: raw.max_connections,
                    connection_timeout: Duration::from_secs(raw.connection_timeout),
                    max_scan_bytes: usize::try_from(raw.max_scan_bytes).unwrap_or(usize::MAX),
                    on_error: raw.on_error,
                    rules_file: (!raw.rules_file.is_empty()).then(|| raw.rules_file.clone().into()),
                    model: raw.model,
                    model_file: (!raw.model_file.is_empty()).then(|| raw.model_file.clone().into()),
                    log_level: raw.log_level.clone(),
                    logging: Logging::from_raw(raw),
                    mode: raw.mode,
                    service,
                    thresholds: Thresholds {
                        flag: raw.thresholds.flag,
                        reject: raw.thresholds.reject,
                    },
                    status_headers: raw.headers.score_and_status,
                    reject_reply,
                    skip: SkipPolicy {
                        authenticated: raw.skip.authenticated,
                        trusted_networks: networks,
                        senders,
                    },
                    state,
                })
            }
            _ => Err(errors),
        }
    }
}

/// Deserialises TOML, naming the key path of every structural error
/// (unknown key, wrong type): each failing key is reported, taken out and
/// the rest tried again, so one typo does not hide the next.
pub fn parse_raw(text: &str) -> Result<RawConfig, Vec<ConfigError>> {
    let mut table: toml::Table = toml::from_str(text)
        .map_err(|e| vec![error("", format!("not valid TOML: {}", e.message()))])?;
    let mut errors = Vec::new();
    loop {
        let value = toml::Value::Table(table.clone());
        match serde_path_to_error::deserialize::<_, RawConfig>(value) {
            Ok(raw) if errors.is_empty() => return Ok(raw),
            Ok(_) => return Err(errors),
            Err(e) => {
                let path = e.path().to_string();
                let path = if path == "." { String::new() } else { path };
                // The deserialiser appends "in `path`" on a line of its
                // own; the path is already the key, and a log line is one.
                let reason = e.into_inner().to_string();
                let reason = reason.lines().next().unwrap_or_default().trim_end();
                errors.push(error(&path, reason));
                if !remove_key(&mut table, &path) {
                    return Err(errors);
                }
            }
        }
    }
}

/// Removes the key at a serde path like `skip.senders[0]` (the whole
/// `senders` array). Returns whether something was removed.
fn remove_key(table: &mut toml::Table, path: &str) -> bool {
    let keys: Vec<&str> = path
        .split('.')
        .map(|k| k.split('[').next().unwrap_or(k))
        .collect();
    let Some((last, parents)) = keys.split_last() else {
        return false;
    };
    let mut current = table;
    for key in parents {
        match current.get_mut(*key) {
            Some(toml::Value::Table(inner)) => current = inner,
            _ => return false,
        }
    }
    current.remove(*last).is_some()
}

fn error(path: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn positive(value: u64) -> Result<(), String> {
    if value == 0 {
        Err("must be greater than 0".into())
    } else {
        Ok(())
    }
}

fn finite(value: f64) -> Result<(), String> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(format!("{value} is not a finite number"))
    }
}

fn log_level(level: &str) -> Result<(), String> {
    match level {
        "error" | "warn" | "info" | "debug" | "trace" => Ok(()),
        _ => Err(format!(
            "`{level}` is not one of error, warn, info, debug, trace"
        )),
    }
}

fn parse_networks(entries: &[String], errors: &mut Vec<ConfigError>) -> Vec<IpNet> {
    let mut networks = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        // A bare address is a single host, as in Postfix's mynetworks.
        let parsed =
            IpNet::from_str(entry).or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from));
        match parsed {
            Ok(net) => networks.push(net),
            Err(_) => errors.push(error(
                &format!("skip.trusted_networks[{i}]"),
                format!("`{entry}` is not an address or CIDR network"),
            )),
        }
    }
    networks
}

fn parse_senders(entries: &[String], errors: &mut Vec<ConfigError>) -> Vec<String> {
    let mut senders = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let entry = entry.trim().to_ascii_lowercase();
        let domain = entry.rsplit('@').next().unwrap_or_default();
        if domain.is_empty() || entry.chars().any(|c| c.is_whitespace() || c == '<') {
            errors.push(error(
                &format!("skip.senders[{i}]"),
                format!("`{entry}` is not an address or domain"),
            ));
        } else {
            senders.push(entry);
        }
    }
    senders
}

impl FromStr for Reply {
    type Err = String;

    /// Parses `CODE ENHANCED TEXT`, e.g. `550 5.7.1 Sales pitch`: a 4xx or
    /// 5xx code, an RFC 3463 enhanced code of the same class, and text with
    /// no line breaks (they would let the text inject SMTP replies).
    fn from_str(reply: &str) -> Result<Self, Self::Err> {
        if reply.contains(['\r', '\n', '\0']) {
            return Err("must not contain CR, LF or NUL".into());
        }
        let mut words = reply.splitn(3, ' ');
        let code = words.next().unwrap_or_default();
        let enhanced = words.next().unwrap_or_default();
        let text = words.next().unwrap_or_default().trim();
        let class = match code.as_bytes() {
            [c @ (b'4' | b'5'), b'0'..=b'9', b'0'..=b'9'] => *c as char,
            _ => return Err(format!("`{code}` is not a 4xx or 5xx reply code")),
        };
        let parts: Vec<&str> = enhanced.split('.').collect();
        let numeric =
            |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
        if parts.len() != 3 || !parts.iter().all(|p| numeric(p)) || parts[0] != class.to_string() {
            return Err(format!(
                "`{enhanced}` is not an enhanced status code {class}.X.Y matching {code}"
            ));
        }
        if text.is_empty() {
            return Err("the reply needs a text after the codes".into());
        }
        Ok(Self {
            code: code.into(),
            enhanced: enhanced.into(),
            text: text.into(),
        })
    }
}

#[cfg(test)]
mod tests;
