//! What the real binary logs per message: one info line with queue id,
//! client, envelope sender, score, action, mode and top tests, as text or
//! JSON; addresses only as a keyed hash unless `log_addresses = true`, and
//! no message content above debug.

mod common;

use common::{client, daemon::Daemon};
use serde_json::Value;
use std::path::Path;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new("tests/logging").join(name)).unwrap()
}

/// Words of the fixtures (subject, body, header address) and the envelope.
const PERSONAL_OR_CONTENT: [&str; 5] = [
    "sender@example.org",
    "192.0.2.1",
    "dana@devshop.example",
    "Partnership opportunity",
    "partner with you",
];

#[tokio::test]
async fn json_lines_carry_one_verdict_per_message_and_no_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_inet(dir.path(), "log_format = \"json\"");
    let mut conn = client::connect(daemon.addr().unwrap()).await;
    client::send(&mut conn, &fixture("pitch.eml"), "J1").await;
    client::send(&mut conn, &fixture("clean.eml"), "J2").await;
    conn.close().await.unwrap();

    let lines: Vec<Value> = daemon
        .log()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for (queue_id, action) in [("J1", "add_header"), ("J2", "accept")] {
        let verdicts: Vec<&Value> = lines
            .iter()
            .filter(|l| l["level"] == "INFO" && l["queue_id"] == queue_id)
            .collect();
        assert_eq!(verdicts.len(), 1, "{queue_id}: {verdicts:?}");
        let line = verdicts[0];
        assert_eq!(line["action"], action);
        assert_eq!(line["mode"], "enforce");
        for key in ["client", "from", "score", "tests"] {
            assert!(line[key].is_string(), "{key} missing in {line}");
        }
        for key in ["client", "from"] {
            let shown = line[key].as_str().unwrap();
            assert!(shown.starts_with('#') && shown.len() == 9, "{key}: {shown}");
        }
    }
    // the same sender hashes the same way on every line
    let senders: Vec<&Value> = lines.iter().filter_map(|l| l.get("from")).collect();
    assert!(senders.len() >= 2 && senders.windows(2).all(|w| w[0] == w[1]));
    // above debug, neither personal data nor message content
    for line in lines.iter().filter(|l| l["level"] != "DEBUG") {
        let text = line.to_string();
        for secret in PERSONAL_OR_CONTENT {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}

#[tokio::test]
async fn log_addresses_shows_them_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_inet(dir.path(), "log_addresses = true");
    let mut conn = client::connect(daemon.addr().unwrap()).await;
    client::send(&mut conn, &fixture("pitch.eml"), "A1").await;
    conn.close().await.unwrap();
    let log = daemon.log();
    let line = log
        .lines()
        .find(|l| l.contains(" INFO ") && l.contains("queue_id=A1"))
        .unwrap_or_else(|| panic!("no verdict line:\n{log}"));
    assert!(line.contains("client=192.0.2.1"), "{line}");
    assert!(line.contains("from=sender@example.org"), "{line}");
    assert!(line.contains("action=add_header"), "{line}");
    assert!(
        line.contains("tests=") && line.contains("PARTNER_FRAMING="),
        "{line}"
    );
}

#[tokio::test]
async fn log_level_decides_without_rust_log_and_changes_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_inet_without_rust_log(dir.path(), "log_level = \"warn\"");
    let mut conn = client::connect(daemon.addr().unwrap()).await;
    client::send(&mut conn, &fixture("pitch.eml"), "V1").await;

    daemon.rewrite_config("log_level = \"debug\"");
    daemon.signal("HUP");
    // the reload's own info line shows the new level is in effect
    daemon.wait_for_log("configuration reloaded", 1);
    client::send(&mut conn, &fixture("pitch.eml"), "V2").await;
    conn.close().await.unwrap();

    let log = daemon.log();
    assert!(!log.contains("queue_id=V1"), "{log}");
    let info = log
        .lines()
        .filter(|l| l.contains("queue_id=V2") && l.contains(" INFO "));
    assert_eq!(info.count(), 1, "{log}");
    let debug = log
        .lines()
        .filter(|l| l.contains("queue_id=V2") && l.contains(" DEBUG "));
    assert!(debug.count() > 0, "no hit lines at debug:\n{log}");
}
