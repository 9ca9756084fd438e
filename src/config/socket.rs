//! Milter socket specifications in the form mail admins know from OpenDKIM
//! and rspamd: `inet:PORT@HOST`, `inet6:PORT@HOST`, `unix:/path`.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    str::FromStr,
};

/// Where the daemon listens for MTA connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketSpec {
    /// A TCP socket on an IPv4 or IPv6 address.
    Inet(SocketAddr),
    /// A unix-domain socket at an absolute path.
    Unix(PathBuf),
}

/// Unix socket paths are limited to `sun_path`, 108 bytes including the NUL.
const MAX_UNIX_PATH: usize = 107;

impl FromStr for SocketSpec {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (kind, rest) = spec
            .split_once(':')
            .ok_or_else(|| format!("`{spec}` has no `inet:`, `inet6:` or `unix:` prefix"))?;
        match kind {
            "inet" | "inet6" => parse_inet(kind, rest).map(Self::Inet),
            "unix" | "local" => parse_unix(rest).map(Self::Unix),
            _ => Err(format!(
                "unknown socket type `{kind}` (expected inet, inet6 or unix)"
            )),
        }
    }
}

fn parse_inet(kind: &str, rest: &str) -> Result<SocketAddr, String> {
    let (port, host) = rest
        .split_once('@')
        .ok_or_else(|| format!("`{kind}:{rest}` must be `{kind}:PORT@HOST`"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("`{port}` is not a port number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match host {
        "localhost" if kind == "inet6" => IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
        "localhost" => IpAddr::from([127, 0, 0, 1]),
        _ => host
            .parse()
            .map_err(|_| format!("`{host}` is not an IP address"))?,
    };
    match (kind, ip) {
        ("inet", IpAddr::V6(_)) => Err(format!("`{host}` is IPv6: use `inet6:`")),
        ("inet6", IpAddr::V4(_)) => Err(format!("`{host}` is IPv4: use `inet:`")),
        _ => Ok(SocketAddr::new(ip, port)),
    }
}

fn parse_unix(path: &str) -> Result<PathBuf, String> {
    if !path.starts_with('/') {
        return Err(format!("unix socket path `{path}` must be absolute"));
    }
    if path.len() > MAX_UNIX_PATH {
        return Err(format!(
            "unix socket path is {} bytes, the limit is {MAX_UNIX_PATH}",
            path.len()
        ));
    }
    Ok(PathBuf::from(path))
}

impl fmt::Display for SocketSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inet(SocketAddr::V4(a)) => write!(f, "inet:{}@{}", a.port(), a.ip()),
            Self::Inet(SocketAddr::V6(a)) => write!(f, "inet6:{}@{}", a.port(), a.ip()),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_forms_admins_write() {
        let cases = [
            ("inet:8895@127.0.0.1", "inet:8895@127.0.0.1"),
            ("inet:25@localhost", "inet:25@127.0.0.1"),
            ("inet6:8895@::1", "inet6:8895@::1"),
            ("inet6:8895@[::1]", "inet6:8895@::1"),
            (
                "unix:/run/pitchfork/milter.sock",
                "unix:/run/pitchfork/milter.sock",
            ),
            ("local:/run/p.sock", "unix:/run/p.sock"),
        ];
        for (input, shown) in cases {
            let spec: SocketSpec = input.parse().unwrap();
            assert_eq!(spec.to_string(), shown, "{input}");
        }
    }

    #[test]
    fn refuses_malformed_specs_with_a_reason() {
        let cases = [
            ("8895", "prefix"),
            ("tcp:8895@127.0.0.1", "unknown socket type"),
            ("inet:127.0.0.1:8895", "PORT@HOST"),
            ("inet:99999@127.0.0.1", "not a port"),
            ("inet:8895@mail.example", "not an IP"),
            ("inet:8895@::1", "use `inet6:`"),
            ("inet6:8895@127.0.0.1", "use `inet:`"),
            ("unix:relative.sock", "absolute"),
        ];
        for (input, reason) in cases {
            let err = input.parse::<SocketSpec>().unwrap_err();
            assert!(err.contains(reason), "{input}: {err}");
        }
        let long = format!("unix:/{}", "a".repeat(120));
        assert!(long.parse::<SocketSpec>().unwrap_err().contains("limit"));
    }
}
