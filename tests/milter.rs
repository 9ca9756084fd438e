//! The daemon on 127.0.0.1:0 driven through the milter protocol by a test
//! MTA (indymilter-test), asserting the exact actions it answers with.

mod common;

use common::client::{added, split};
use indymilter_test::{Actions, EomAction, MacroStage, ProtoOpts, Status, TestConnection};
use pitchfork::{
    config::{Config, SocketSpec},
    engine::Engine,
    listener,
    milter::{self, Snapshots},
};
use std::{ffi::CString, net::SocketAddr, path::Path, sync::Arc, time::Duration};
use tokio::{sync::oneshot, task::JoinHandle};

struct Daemon {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Daemon {
    /// An in-process milter on `config`, without a state store unless the
    /// test names one (the built-in default is a system path).
    async fn start(config: &str) -> Self {
        let config = if config.contains("state =") {
            config.to_owned()
        } else {
            format!("state = \"\"\n{config}")
        };
        let engine = Engine::with_config(Config::parse(&config).unwrap()).unwrap();
        let spec = SocketSpec::Inet("127.0.0.1:0".parse().unwrap());
        let mut bound = listener::bind(&spec, 0o660).await.unwrap();
        let SocketSpec::Inet(addr) = bound.spec else {
            unreachable!("bound an inet socket")
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let snapshots = Arc::new(Snapshots::new(engine));
        let task = tokio::spawn(milter::run(bound.take(), snapshots, stopped));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Opens a connection offering what Postfix 3.7 offers: every action and
    /// every protocol option of milter protocol 6.
    async fn connect(&self) -> TestConnection {
        let mut conn = TestConnection::configure()
            .read_timeout(Duration::from_secs(10))
            .write_timeout(Duration::from_secs(10))
            .available_actions(Actions::all())
            .available_opts(ProtoOpts::all())
            .open_tcp(self.addr)
            .await
            .unwrap();
        let status = conn
            .connect("client.example.org", [192, 0, 2, 1])
            .await
            .unwrap();
        assert_eq!(status, Status::Noreply);
        conn
    }

    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new("tests/milter").join(name)).unwrap()
}

/// Sends one message from MAIL to EOM and returns what the milter answered.
async fn send(conn: &mut TestConnection, raw: &[u8]) -> (Vec<EomAction>, Status) {
    let status = conn.mail(["<sender@example.org>"]).await.unwrap();
    assert_eq!(status, Status::Noreply);
    // RCPT is not negotiated: pitchfork does not look at recipients.
    let (headers, body) = split(raw);
    for (name, value) in headers {
        assert_eq!(conn.header(name, value).await.unwrap(), Status::Noreply);
    }
    conn.eoh().await.unwrap();
    conn.body(body).await.unwrap();
    conn.macros(MacroStage::Eom, [("i", "4XyZ123")])
        .await
        .unwrap();
    let (actions, status) = conn.eom().await.unwrap();
    (actions.actions, status)
}

fn header<'a>(added: &'a [(String, String)], name: &str) -> Option<&'a str> {
    added
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn negotiates_only_what_it_uses() {
    let daemon = Daemon::start("").await;
    let conn = daemon.connect().await;
    assert_eq!(
        conn.negotiated_actions(),
        Actions::ADD_HEADER | Actions::CHANGE_HEADER
    );
    let opts = conn.negotiated_opts();
    for opt in [
        ProtoOpts::NOREPLY_HEADER,
        ProtoOpts::NOREPLY_MAIL,
        ProtoOpts::SKIP,
    ] {
        assert!(opts.contains(opt), "{opt:?} not negotiated in {opts:?}");
    }
    let macros = &conn.requested_macros()[&MacroStage::Mail];
    assert!(macros.to_str().unwrap().contains("{auth_authen}"));
    conn.close().await.unwrap();
    daemon.stop().await;
}

#[tokio::test]
async fn flags_a_pitch_with_explained_headers() {
    let daemon = Daemon::start("").await;
    let mut conn = daemon.connect().await;
    let (actions, status) = send(&mut conn, &fixture("pitch.eml")).await;
    assert_eq!(status, Status::Accept);
    let added = added(&actions);
    assert_eq!(header(&added, "X-Pitchfork-Flag"), Some("YES"));
    let score: f64 = header(&added, "X-Pitchfork-Score")
        .unwrap()
        .parse()
        .unwrap();
    assert!(score >= 5.0, "{score}");
    let status = header(&added, "X-Pitchfork-Status")
        .unwrap()
        .replace("\n\t", "");
    assert!(status.starts_with(&format!("Yes, score={score:.2} required=5.00 tests=")));
    assert!(
        status.contains(",PARTNER_FRAMING=") || status.contains("tests=PARTNER_FRAMING="),
        "{status}"
    );
    conn.close().await.unwrap();
    daemon.stop().await;
}

#[tokio::test]
async fn leaves_clean_mail_unflagged() {
    let daemon = Daemon::start("").await;
    let mut conn = daemon.connect().await;
    let (actions, status) = send(&mut conn, &fixture("clean.eml")).await;
    assert_eq!(status, Status::Accept);
    let added = added(&actions);
    assert_eq!(header(&added, "X-Pitchfork-Flag"), None);
    assert!(
        header(&added, "X-Pitchfork-Status")
            .unwrap()
            .starts_with("No, ")
    );
    conn.close().await.unwrap();
    daemon.stop().await;
}

#[tokio::test]
async fn removes_every_forged_verdict_before_adding_its_own() {
    let daemon = Daemon::start("").await;
    let mut conn = daemon.connect().await;
    let (actions, _) = send(&mut conn, &fixture("forged.eml")).await;
    let deleted: Vec<(String, i32)> = actions
        .iter()
        .filter_map(|a| match a {
            EomAction::DeleteHeader { name, index } => {
                Some((name.to_string_lossy().to_ascii_lowercase(), *index))
            }
            _ => None,
        })
        .collect();
    let mut expected = vec![
        ("x-pitchfork-flag".to_owned(), 2),
        ("x-pitchfork-flag".to_owned(), 1),
        ("x-pitchfork-status".to_owned(), 1),
        ("x-pitchfork-score".to_owned(), 1),
    ];
    let mut sorted = deleted.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);
    // the deletions come first, and the message is not flagged
    let first_add = actions
        .iter()
        .position(|a| matches!(a, EomAction::AddHeader { .. }));
    assert_eq!(first_add, Some(deleted.len()));
    assert_eq!(header(&added(&actions), "X-Pitchfork-Flag"), None);
    conn.close().await.unwrap();
    daemon.stop().await;
}

#[tokio::test]
async fn rejects_over_the_reject_threshold_with_the_configured_reply() {
    let config = "[thresholds]\nflag = 5.0\nreject = 6.0\n\
                  [reject]\nreply = \"550 5.7.1 No pitches here\"";
    let daemon = Daemon::start(config).await;
    let mut conn = daemon.connect().await;
    let (actions, status) = send(&mut conn, &fixture("pitch.eml")).await;
    let reply = CString::new("550 5.7.1 No pitches here").unwrap();
    assert_eq!(
        status,
        Status::Reject {
            message: Some(reply)
        }
    );
    assert!(added(&actions).is_empty());
    conn.close().await.unwrap();
    daemon.stop().await;
}

#[tokio::test]
async fn skips_authenticated_senders_but_still_removes_forgeries() {
    let daemon = Daemon::start("").await;
    let mut conn = daemon.connect().await;
    conn.macros(MacroStage::Mail, [("{auth_authen}", "alice")])
        .await
        .unwrap();
    let (actions, status) = send(&mut conn, &fixture("pitch.eml")).await;
    assert_eq!(status, Status::Accept);
    assert!(added(&actions).is_empty(), "{actions:?}");

    conn.macros(MacroStage::Mail, [("{auth_authen}", "alice")])
        .await
        .unwrap();
    let (actions, _) = send(&mut conn, &fixture("forged.eml")).await;
    assert!(added(&actions).is_empty());
    let deletions = actions
        .iter()
        .filter(|a| matches!(a, EomAction::DeleteHeader { .. }));
    assert_eq!(deletions.count(), 4);
    conn.close().await.unwrap();
    daemon.stop().await;
}

#[tokio::test]
async fn skips_trusted_networks() {
    let daemon = Daemon::start("[skip]\ntrusted_networks = [\"192.0.2.0/24\"]").await;
    let mut conn = daemon.connect().await;
    let (actions, status) = send(&mut conn, &fixture("pitch.eml")).await;
    assert_eq!(status, Status::Accept);
    assert!(added(&actions).is_empty());
    conn.close().await.unwrap();
    daemon.stop().await;
}

#[tokio::test]
async fn judges_each_message_on_one_connection_and_survives_abort() {
    let daemon = Daemon::start("").await;
    let mut conn = daemon.connect().await;
    for round in 0..3 {
        let (actions, _) = send(&mut conn, &fixture("pitch.eml")).await;
        assert_eq!(
            header(&added(&actions), "X-Pitchfork-Flag"),
            Some("YES"),
            "{round}"
        );

        // abort halfway through a pitch: nothing of it may leak into the next
        conn.mail(["<sender@example.org>"]).await.unwrap();
        let (headers, body) = split(&fixture("pitch.eml"));
        for (name, value) in headers {
            conn.header(name, value).await.unwrap();
        }
        conn.eoh().await.unwrap();
        conn.body(body).await.unwrap();
        conn.abort().await.unwrap();

        let (actions, _) = send(&mut conn, &fixture("clean.eml")).await;
        assert_eq!(
            header(&added(&actions), "X-Pitchfork-Flag"),
            None,
            "{round}"
        );
    }
    conn.close().await.unwrap();
    daemon.stop().await;
}

#[tokio::test]
async fn stops_reading_the_body_past_the_scan_limit() {
    let daemon = Daemon::start("max_scan_bytes = 600").await;
    let mut conn = daemon.connect().await;
    conn.mail(["<sender@example.org>"]).await.unwrap();
    conn.header("Subject", "long").await.unwrap();
    conn.eoh().await.unwrap();
    assert_eq!(conn.body(vec![b'a'; 400]).await.unwrap(), Status::Continue);
    assert_eq!(conn.body(vec![b'b'; 400]).await.unwrap(), Status::Skip);
    let (actions, status) = conn.eom().await.unwrap();
    assert_eq!(status, Status::Accept);
    let added = added(&actions.actions);
    assert!(
        header(&added, "X-Pitchfork-Status")
            .unwrap()
            .contains("SCAN_TRUNCATED")
    );
    conn.close().await.unwrap();
    daemon.stop().await;
}
