//! How the daemon process runs: who owns its socket, whom it runs as, how
//! long it drains on shutdown, where it serves metrics and how it logs.

use super::{
    ConfigError,
    account::{self, Group, User},
    error,
    raw::{LogFormat, RawConfig},
};
use std::{net::SocketAddr, time::Duration};

/// Process settings of the daemon.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// Owner given to a unix socket; `None` leaves the user that binds it.
    pub socket_owner: Option<User>,
    /// Group given to a unix socket; `None` leaves the binding user's group.
    pub socket_group: Option<Group>,
    /// User to switch to after binding, when started as root.
    pub user: Option<User>,
    /// Group to switch to; `None` is the primary group of `user`.
    pub group: Option<Group>,
    /// Whether serving as root is allowed.
    pub allow_root: bool,
    /// How long messages in flight may take to finish after SIGTERM.
    pub shutdown_timeout: Duration,
    /// Address of the Prometheus endpoint; `None` serves no metrics.
    pub metrics_listen: Option<SocketAddr>,
}

/// Log line settings besides the level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logging {
    pub format: LogFormat,
    /// Whether envelope addresses and client IPs appear in clear.
    pub addresses: bool,
}

impl Logging {
    pub fn from_raw(raw: &RawConfig) -> Self {
        Self {
            format: raw.log_format,
            addresses: raw.log_addresses,
        }
    }
}

/// Validates the process keys, adding an error per bad key.
pub(super) fn validate(raw: &RawConfig, errors: &mut Vec<ConfigError>) -> Option<Service> {
    let before = errors.len();
    let socket_owner = keep(errors, "socket_owner", account::user(&raw.socket_owner));
    let user = keep(errors, "user", account::user(&raw.user));
    let socket_group = keep(errors, "socket_group", account::group(&raw.socket_group));
    let group = keep(errors, "group", account::group(&raw.group));
    if !raw.group.is_empty() && raw.user.is_empty() {
        errors.push(error(
            "group",
            "needs `user`: the group is switched to together with the user",
        ));
    }
    let metrics_listen = metrics_address(&raw.metrics_listen)
        .map_err(|reason| errors.push(error("metrics_listen", reason)))
        .ok()?;
    (errors.len() == before).then(|| Service {
        socket_owner: socket_owner.flatten(),
        socket_group: socket_group.flatten(),
        user: user.flatten(),
        group: group.flatten(),
        allow_root: raw.allow_root,
        shutdown_timeout: Duration::from_secs(raw.shutdown_timeout),
        metrics_listen,
    })
}

fn keep<T>(errors: &mut Vec<ConfigError>, key: &str, result: Result<T, String>) -> Option<T> {
    result
        .map_err(|reason| errors.push(error(key, reason)))
        .ok()
}

fn metrics_address(text: &str) -> Result<Option<SocketAddr>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("`{text}` is not ADDRESS:PORT like 127.0.0.1:9895 or [::1]:9895"))
}
