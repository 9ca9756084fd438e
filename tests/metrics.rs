//! The Prometheus endpoint of the real binary, scraped over HTTP after
//! sending messages through the milter protocol: the counters match what
//! was just sent, test by test.

mod common;

use common::{client, daemon::Daemon};
use indymilter_test::{EomAction, MacroStage};
use std::{
    collections::BTreeMap,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    time::{Duration, Instant},
};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new("tests/metrics").join(name)).unwrap()
}

/// One HTTP/1.1 request; returns the response head and body.
fn request(addr: SocketAddr, line: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "{line} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

/// `name{labels}` → value of every sample of a scrape.
fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let (head, body) = request(addr, "GET /metrics");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap();
            (name.to_owned(), value.parse().unwrap())
        })
        .collect()
}

fn messages(action: &str) -> String {
    format!("pitchfork_messages_total{{action=\"{action}\",mode=\"enforce\"}}")
}

/// Each test named in the status header, as `NAME=score` pairs.
fn tests_hit(actions: &[EomAction]) -> Vec<String> {
    let status = client::header(actions, "X-Pitchfork-Status").unwrap();
    let list = status.split("tests=").nth(1).unwrap();
    list.split(',')
        .filter(|t| *t != "none")
        .map(|t| t.split('=').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn scraped_counters_match_the_messages_just_sent() {
    let metrics = common::mta::free_addr();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_inet(dir.path(), &format!("metrics_listen = \"{metrics}\""));
    let before = scrape(metrics);
    assert_eq!(before[&messages("add_header")], 0.0);
    assert_eq!(before["pitchfork_open_connections"], 0.0);

    let mut conn = client::connect(daemon.addr().unwrap()).await;
    let mut expected_hits: BTreeMap<String, f64> = BTreeMap::new();
    for (fixture_name, queue_id) in [
        ("pitch.eml", "M1"),
        ("pitch.eml", "M2"),
        ("clean.eml", "M3"),
    ] {
        let (actions, _) = client::send(&mut conn, &fixture(fixture_name), queue_id).await;
        for test in tests_hit(&actions) {
            *expected_hits.entry(test).or_default() += 1.0;
        }
    }
    // an authenticated sender is not scored: counted as skipped
    conn.macros(MacroStage::Mail, [("{auth_authen}", "alice")])
        .await
        .unwrap();
    client::send(&mut conn, &fixture("pitch.eml"), "M4").await;

    let after = scrape(metrics);
    let counts = [
        (messages("add_header"), 2.0),
        (messages("accept"), 1.0),
        (messages("skip"), 1.0),
        (messages("reject"), 0.0),
        (messages("error"), 0.0),
        ("pitchfork_score_count".into(), 3.0),
        ("pitchfork_score_bucket{le=\"+Inf\"}".into(), 3.0),
        // flagged means 5 or more: the clean one alone is below
        ("pitchfork_score_bucket{le=\"5.0\"}".into(), 1.0),
        ("pitchfork_scan_seconds_count".into(), 3.0),
        ("pitchfork_errors_total{kind=\"scan\"}".into(), 0.0),
        ("pitchfork_open_connections".into(), 1.0),
        ("pitchfork_messages_in_flight".into(), 0.0),
        (
            format!(
                "pitchfork_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            ),
            1.0,
        ),
    ];
    for (sample, value) in counts {
        assert_eq!(after.get(&sample), Some(&value), "{sample}");
    }
    assert!(
        expected_hits.contains_key("PARTNER_FRAMING"),
        "{expected_hits:?}"
    );
    let hits: BTreeMap<String, f64> = after
        .iter()
        .filter_map(|(name, value)| {
            let test = name.strip_prefix("pitchfork_test_hits_total{test=\"")?;
            Some((test.trim_end_matches("\"}").to_owned(), *value))
        })
        .collect();
    assert_eq!(hits, expected_hits);

    conn.close().await.unwrap();
    daemon.signal("HUP");
    daemon.wait_for_log("configuration reloaded", 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = scrape(metrics);
        let settled = now["pitchfork_open_connections"] == 0.0
            && now["pitchfork_reloads_total{result=\"applied\"}"] == 1.0;
        if settled {
            break;
        }
        assert!(Instant::now() < deadline, "{now:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn only_metrics_is_served() {
    let metrics = common::mta::free_addr();
    let dir = tempfile::tempdir().unwrap();
    let _daemon = Daemon::start_inet(dir.path(), &format!("metrics_listen = \"{metrics}\""));
    let (head, _) = request(metrics, "GET /");
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    let (head, _) = request(metrics, "POST /metrics");
    assert!(head.starts_with("HTTP/1.1 405 "), "{head}");
    let (head, body) = request(metrics, "HEAD /metrics");
    assert!(
        head.starts_with("HTTP/1.1 200 ") && body.is_empty(),
        "{head}"
    );
}
