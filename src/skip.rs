//! Who is accepted without scoring: authenticated senders, trusted client
//! networks and allowlisted envelope senders.

use crate::config::SkipPolicy;
use std::{fmt, net::IpAddr};

/// Why a message was not scored; shown in the log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// SMTP AUTH succeeded (`{auth_authen}`, or `{auth_type}` alone).
    Authenticated(String),
    /// The client address is in `skip.trusted_networks`.
    TrustedNetwork(IpAddr),
    /// The envelope sender or its domain is in `skip.senders`.
    AllowedSender(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Authenticated(user) => write!(f, "authenticated sender {user}"),
            Self::TrustedNetwork(ip) => write!(f, "trusted network client {ip}"),
            Self::AllowedSender(sender) => write!(f, "allowlisted sender {sender}"),
        }
    }
}

impl SkipReason {
    /// Mail from the site's own users (authenticated, or from a trusted
    /// network): its recipients become known correspondents.
    pub fn is_outbound(&self) -> bool {
        matches!(self, Self::Authenticated(_) | Self::TrustedNetwork(_))
    }
}

impl SkipPolicy {
    /// The reason to skip scoring this message, if there is one.
    /// `auth` is the authenticated identity; `sender` the MAIL FROM address.
    pub fn reason(
        &self,
        client: Option<IpAddr>,
        auth: Option<&str>,
        sender: &str,
    ) -> Option<SkipReason> {
        if let Some(user) = auth.filter(|_| self.authenticated) {
            return Some(SkipReason::Authenticated(user.to_owned()));
        }
        if let Some(ip) = client.filter(|ip| self.trusted(*ip)) {
            return Some(SkipReason::TrustedNetwork(ip));
        }
        let sender = sender.to_ascii_lowercase();
        let domain = sender.rsplit_once('@').map(|(_, d)| d);
        self.senders
            .iter()
            .any(|s| *s == sender || Some(s.as_str()) == domain)
            .then_some(SkipReason::AllowedSender(sender))
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        // An IPv4 client may arrive as ::ffff:a.b.c.d on a dual-stack socket.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.trusted_networks.iter().any(|net| net.contains(&ip))
    }
}

/// The address inside a MAIL FROM argument: `<a@b>` → `a@b`.
pub fn envelope_address(arg: &str) -> &str {
    arg.trim().trim_start_matches('<').trim_end_matches('>')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn policy() -> SkipPolicy {
        let text = "[skip]\ntrusted_networks = [\"192.0.2.0/24\"]\n\
                    senders = [\"Boss@Example.com\", \"partner.example\"]";
        Config::parse(text).unwrap().skip
    }

    #[test]
    fn each_reason_in_turn() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let policy = policy();
        let cases = [
            (
                None,
                Some("alice"),
                "x@y.z",
                Some("authenticated sender alice"),
            ),
            (
                ip("192.0.2.7"),
                None,
                "x@y.z",
                Some("trusted network client 192.0.2.7"),
            ),
            (
                ip("::ffff:192.0.2.7"),
                None,
                "x@y.z",
                Some("trusted network client ::ffff:192.0.2.7"),
            ),
            (
                ip("198.51.100.1"),
                None,
                "boss@example.com",
                Some("allowlisted sender boss@example.com"),
            ),
            (
                None,
                None,
                "Someone@Partner.Example",
                Some("allowlisted sender someone@partner.example"),
            ),
            (None, None, "someone@notpartner.example", None),
            (ip("198.51.100.1"), None, "x@y.z", None),
        ];
        for (client, auth, sender, expected) in cases {
            let reason = policy.reason(client, auth, sender).map(|r| r.to_string());
            assert_eq!(reason.as_deref(), expected, "{client:?} {auth:?} {sender}");
        }
    }

    #[test]
    fn authentication_can_be_scored_anyway() {
        let mut policy = policy();
        policy.authenticated = false;
        assert_eq!(policy.reason(None, Some("alice"), "a@b.c"), None);
    }

    #[test]
    fn envelope_brackets_are_removed() {
        assert_eq!(envelope_address("<a@b.c>"), "a@b.c");
        assert_eq!(envelope_address("<>"), "");
    }
}
