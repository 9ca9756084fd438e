use super::*;
use std::collections::BTreeSet;

/// The sample lines (not comments) of a rendering.
fn samples(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

#[test]
fn catalogue_names_are_unique_and_well_formed() {
    let mut names = BTreeSet::new();
    for metric in &CATALOGUE {
        assert!(names.insert(metric.name), "{} twice", metric.name);
        assert!(metric.name.starts_with("pitchfork_"), "{}", metric.name);
        let valid = metric
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        assert!(valid, "{}", metric.name);
        assert_eq!(
            metric.name.ends_with("_total"),
            metric.kind == Kind::Counter,
            "{}: counters and only counters end in _total",
            metric.name
        );
        assert!(!metric.help.contains('\n'), "{}", metric.name);
    }
}

#[test]
fn every_sample_belongs_to_a_catalogued_metric() {
    let metrics = Metrics::new();
    metrics.scanned(7.0, Duration::from_millis(1), ["PARTNER_FRAMING"]);
    let text = metrics.render();
    for metric in &CATALOGUE {
        let help = format!("# HELP {} ", metric.name);
        assert_eq!(text.matches(&help).count(), 1, "{}", metric.name);
    }
    for line in samples(&text) {
        let name = line.split(['{', ' ']).next().unwrap();
        let owner = CATALOGUE.iter().find(|m| {
            name == m.name
                || (m.kind == Kind::Histogram
                    && ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|s| name == format!("{}{s}", m.name)))
        });
        assert!(owner.is_some(), "{line}");
    }
}

#[test]
fn renders_counts_by_label() {
    let metrics = Arc::new(Metrics::new());
    metrics.message(Outcome::AddHeader, Mode::Enforce);
    metrics.message(Outcome::AddHeader, Mode::Enforce);
    metrics.message(Outcome::Reject, Mode::Observe);
    metrics.scanned(7.5, Duration::from_millis(2), ["B_TEST", "A_TEST"]);
    metrics.scanned(1.0, Duration::from_millis(1), ["B_TEST"]);
    metrics.error(ErrorKind::MtaAction);
    metrics.reload(true);
    metrics.reload(false);
    metrics.reload(false);
    let connection = metrics.connection_opened();
    let message = metrics.message_started();
    let text = metrics.render();
    let lines = samples(&text);
    let expected = [
        r#"pitchfork_messages_total{action="add_header",mode="enforce"} 2"#,
        r#"pitchfork_messages_total{action="reject",mode="observe"} 1"#,
        r#"pitchfork_messages_total{action="reject",mode="enforce"} 0"#,
        r#"pitchfork_test_hits_total{test="A_TEST"} 1"#,
        r#"pitchfork_test_hits_total{test="B_TEST"} 2"#,
        r#"pitchfork_errors_total{kind="mta_action"} 1"#,
        r#"pitchfork_errors_total{kind="scan"} 0"#,
        r#"pitchfork_reloads_total{result="applied"} 1"#,
        r#"pitchfork_reloads_total{result="refused"} 2"#,
        "pitchfork_open_connections 1",
        "pitchfork_messages_in_flight 1",
        concat!(
            r#"pitchfork_build_info{version=""#,
            env!("CARGO_PKG_VERSION"),
            r#""} 1"#
        ),
    ];
    for line in expected {
        assert!(lines.contains(&line), "{line} missing in\n{text}");
    }
    // tests are listed sorted by name
    let a = text.find("A_TEST").unwrap();
    assert!(a < text.find("B_TEST").unwrap());
    drop((connection, message));
    let text = metrics.render();
    assert!(samples(&text).contains(&"pitchfork_open_connections 0"));
    assert!(samples(&text).contains(&"pitchfork_messages_in_flight 0"));
}

#[test]
fn histograms_are_cumulative_with_sum_and_count() {
    let metrics = Metrics::new();
    for score in [-7.0, 0.0, 4.5, 5.0, 100.0] {
        metrics.scanned(score, Duration::ZERO, []);
    }
    let text = metrics.render();
    let lines = samples(&text);
    let cases = [
        r#"pitchfork_score_bucket{le="-5.0"} 1"#,
        r#"pitchfork_score_bucket{le="0.0"} 2"#,
        r#"pitchfork_score_bucket{le="4.0"} 2"#,
        r#"pitchfork_score_bucket{le="5.0"} 4"#,
        r#"pitchfork_score_bucket{le="30.0"} 4"#,
        r#"pitchfork_score_bucket{le="+Inf"} 5"#,
        "pitchfork_score_sum 102.5",
        "pitchfork_score_count 5",
        r#"pitchfork_scan_seconds_bucket{le="0.0001"} 5"#,
        "pitchfork_scan_seconds_count 5",
    ];
    for line in cases {
        assert!(lines.contains(&line), "{line} missing in\n{text}");
    }
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
    assert_eq!(escape("a\nb"), r"a\nb");
}

#[tokio::test]
async fn idle_waits_for_the_last_message() {
    let metrics = Arc::new(Metrics::new());
    metrics.idle().await;
    let message = metrics.message_started();
    let waiting = tokio::spawn({
        let metrics = Arc::clone(&metrics);
        async move { metrics.idle().await }
    });
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished());
    drop(message);
    waiting.await.unwrap();
    assert_eq!(metrics.in_flight(), 0);
}
