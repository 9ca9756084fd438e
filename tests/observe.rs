//! `mode = "observe"`: a message over the reject threshold is scored,
//! logged, counted and given the headers, but accepted; switching the
//! running daemon to enforce (SIGHUP) makes the same message rejected.

mod common;

use common::{client, daemon::Daemon};
use indymilter_test::Status;
use std::path::Path;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new("tests/observe").join(name)).unwrap()
}

const THRESHOLDS: &str = "[thresholds]\nflag = 5.0\nreject = 6.0";

#[tokio::test]
async fn observe_mode_never_rejects_even_over_the_reject_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_inet(dir.path(), &format!("mode = \"observe\"\n{THRESHOLDS}"));
    let mut conn = client::connect(daemon.addr().unwrap()).await;

    let (actions, status) = client::send(&mut conn, &fixture("pitch.eml"), "O1").await;
    assert_eq!(status, Status::Accept);
    assert_eq!(
        client::header(&actions, "X-Pitchfork-Flag").as_deref(),
        Some("YES")
    );
    let verdict = client::header(&actions, "X-Pitchfork-Status").unwrap();
    assert!(verdict.starts_with("Yes, score="), "{verdict}");
    // the log says what enforcing would have done
    let log = daemon.log();
    let line = log
        .lines()
        .find(|l| l.contains("queue_id=O1") && l.contains(" INFO "));
    let line = line.unwrap_or_else(|| panic!("no verdict line:\n{log}"));
    assert!(
        line.contains("action=reject") && line.contains("mode=observe"),
        "{line}"
    );

    // the same message, the same thresholds, enforced: rejected
    daemon.rewrite_config(&format!("mode = \"enforce\"\n{THRESHOLDS}"));
    daemon.signal("HUP");
    daemon.wait_for_log("configuration reloaded", 1);
    let (actions, status) = client::send(&mut conn, &fixture("pitch.eml"), "O2").await;
    assert!(matches!(status, Status::Reject { .. }), "{status:?}");
    assert!(client::added(&actions).is_empty());
    conn.close().await.unwrap();
}
