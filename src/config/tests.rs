use super::*;
use std::collections::BTreeSet;

/// The sample with every `# key = value` and `# [section]` line uncommented.
fn uncommented_sample() -> String {
    DEFAULT_CONFIG
        .lines()
        .map(|line| {
            let rest = line.strip_prefix("# ").unwrap_or(line);
            let is_key = rest
                .split_once(" = ")
                .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            let is_section = rest.starts_with('[') && rest.ends_with(']');
            if is_key || is_section { rest } else { line }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn key_paths(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (key, value) in table {
        let path = format!("{prefix}{key}");
        match value {
            toml::Value::Table(inner) => key_paths(inner, &format!("{path}."), out),
            _ => {
                out.insert(path);
            }
        }
    }
}

#[test]
fn embedded_default_is_the_built_in_default() {
    assert_eq!(parse_raw(DEFAULT_CONFIG).unwrap(), RawConfig::default());
    let config = Config::load(None).unwrap();
    assert_eq!(config.socket.to_string(), "inet:8895@127.0.0.1");
    assert_eq!(config.max_scan_bytes, 1024 * 1024);
    assert_eq!(config.thresholds.reject, None);
}

#[test]
fn sample_lists_every_key_at_its_default() {
    let sample = uncommented_sample();
    let mut raw = parse_raw(&sample).expect("uncommented sample parses");
    Config::validate(&raw).expect("uncommented sample is valid");
    // `thresholds.reject` is absent by default; the sample shows an example.
    assert!(raw.thresholds.reject.is_some());
    raw.thresholds.reject = None;
    assert_eq!(
        raw,
        RawConfig::default(),
        "sample values differ from defaults"
    );

    let mut listed = BTreeSet::new();
    key_paths(&toml::from_str(&sample).unwrap(), "", &mut listed);
    let mut known = BTreeSet::new();
    let defaults = toml::Table::try_from(RawConfig::default()).unwrap();
    key_paths(&defaults, "", &mut known);
    known.insert("thresholds.reject".into());
    assert_eq!(listed, known);
}

#[test]
fn errors_name_the_key_path() {
    let cases = [
        ("sockett = \"x\"", "sockett", "unknown field `sockett`"),
        (
            "[thresholds]\nflag = \"high\"",
            "thresholds.flag",
            "invalid type",
        ),
        ("[skip]\nsenders = [1]", "skip.senders[0]", "invalid type"),
        (
            "[reject]\nreplyy = \"x\"",
            "reject.replyy",
            "unknown field `replyy`",
        ),
        ("socket = \"tcp:1@2\"", "socket", "unknown socket type"),
        ("socket_mode = \"999\"", "socket_mode", "octal"),
        ("max_scan_bytes = 0", "max_scan_bytes", "greater than 0"),
        ("log_level = \"loud\"", "log_level", "not one of"),
        (
            "[thresholds]\nflag = 5.0\nreject = 2.0",
            "thresholds.reject",
            "below",
        ),
        ("[thresholds]\nflag = nan", "thresholds.flag", "finite"),
        (
            "[skip]\ntrusted_networks = [\"10.0.0.0/33\"]",
            "skip.trusted_networks[0]",
            "CIDR",
        ),
        (
            "[skip]\nsenders = [\"a b@c\"]",
            "skip.senders[0]",
            "not an address",
        ),
        ("this is not toml", "", "not valid TOML"),
        ("mode = \"loud\"", "mode", "unknown variant"),
        ("log_format = \"xml\"", "log_format", "unknown variant"),
        (
            "metrics_listen = \"9895\"",
            "metrics_listen",
            "ADDRESS:PORT",
        ),
        ("user = \"no-such-user-pf\"", "user", "no user"),
        (
            "socket_owner = \"no-such-user-pf\"",
            "socket_owner",
            "no user",
        ),
        (
            "socket_group = \"no-such-group-pf\"",
            "socket_group",
            "no group",
        ),
        ("group = \"root\"", "group", "needs `user`"),
        ("shutdown_timeout = -1", "shutdown_timeout", "invalid value"),
    ];
    for (text, path, reason) in cases {
        let errors = Config::parse(text).unwrap_err();
        assert_eq!(errors[0].path, path, "{text}");
        assert!(errors[0].reason.contains(reason), "{text}: {}", errors[0]);
    }
}

#[test]
fn daemon_keys_become_settings() {
    let text = "mode = \"observe\"\nlog_format = \"json\"\nlog_addresses = true\n\
                user = \"root\"\ngroup = \"root\"\nsocket_owner = \"root\"\n\
                allow_root = true\nshutdown_timeout = 3\n\
                metrics_listen = \"[::1]:9895\"";
    let config = Config::parse(text).unwrap();
    assert_eq!(config.mode, Mode::Observe);
    assert_eq!(
        config.logging,
        Logging {
            format: LogFormat::Json,
            addresses: true
        }
    );
    let service = &config.service;
    assert_eq!(service.user.as_ref().map(|u| (u.uid, u.gid)), Some((0, 0)));
    assert_eq!(service.group.as_ref().map(|g| g.gid), Some(0));
    assert_eq!(service.socket_owner.as_ref().map(|u| u.uid), Some(0));
    assert_eq!(service.socket_group, None);
    assert!(service.allow_root);
    assert_eq!(service.shutdown_timeout, Duration::from_secs(3));
    assert_eq!(service.metrics_listen, Some("[::1]:9895".parse().unwrap()));

    let defaults = Config::parse("").unwrap();
    assert_eq!(defaults.mode, Mode::Enforce);
    assert_eq!(defaults.service.user, None);
    assert_eq!(defaults.service.metrics_listen, None);
    assert_eq!(defaults.service.shutdown_timeout, Duration::from_secs(10));
    assert!(!defaults.service.allow_root && !defaults.logging.addresses);
}

#[test]
fn reports_every_structural_error_at_once() {
    let text = "sockett = 1\n[thresholds]\nflag = \"x\"\n[skip]\nsenders = [2]\nextra = true";
    let mut paths: Vec<String> = parse_raw(text)
        .unwrap_err()
        .into_iter()
        .map(|e| e.path)
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "skip.extra",
            "skip.senders[0]",
            "sockett",
            "thresholds.flag"
        ]
    );
}

#[test]
fn reports_every_validation_error_at_once() {
    let text = "socket = \"nope\"\nmax_connections = 0\n[reject]\nreply = \"250 ok\"";
    let paths: Vec<String> = Config::parse(text)
        .unwrap_err()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(paths, ["socket", "max_connections", "reject.reply"]);
}

#[test]
fn reject_replies_cannot_inject() {
    let good: Reply = "451 4.7.1 Try later".parse().unwrap();
    assert_eq!(
        (good.code.as_str(), good.enhanced.as_str()),
        ("451", "4.7.1")
    );
    let bad = [
        ("250 2.0.0 ok", "4xx or 5xx"),
        ("550 4.7.1 class mismatch", "matching"),
        ("550 5.7 short", "matching"),
        ("550 5.7.1", "text"),
        ("550 5.7.1 two\r\n250 lines", "CR, LF"),
        ("5500 5.7.1 x", "4xx or 5xx"),
    ];
    for (reply, reason) in bad {
        let err = reply.parse::<Reply>().unwrap_err();
        assert!(err.contains(reason), "{reply}: {err}");
    }
}

#[test]
fn trusted_networks_accept_cidrs_and_hosts() {
    let text = "[skip]\ntrusted_networks = [\"192.0.2.0/24\", \"2001:db8::/32\", \"127.0.0.1\"]";
    let config = Config::parse(text).unwrap();
    let nets: Vec<String> = config
        .skip
        .trusted_networks
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(nets, ["192.0.2.0/24", "2001:db8::/32", "127.0.0.1/32"]);
}

#[test]
fn load_reports_the_file_and_unreadable_files() {
    let err = Config::load(Some(Path::new("/nonexistent/pitchfork.toml"))).unwrap_err();
    assert_eq!(err.source, "/nonexistent/pitchfork.toml");
    assert!(err.to_string().contains("cannot read file"));
}
