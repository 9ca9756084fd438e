//! The state store: one contract for both backends (the embedded file and
//! a real `redis-server`), and the daemon using it end to end: outbound
//! mail through one instance makes the reply through another trusted, a
//! learn through one changes the other's verdicts, a stranger's "Re:" is
//! called out, and a store that is down or hangs costs no message.

mod common;

use common::{client, daemon::Daemon, redis::Redis};
use indymilter_test::{MacroStage, Status, TestConnection};
use pitchfork::state::{
    Counts, Label, Learned, Query, Sent, Store, redis::RedisStore, sqlite::SqliteStore,
};
use std::{
    net::TcpListener,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

const DAY: u64 = 86_400;
const TIMEOUT: Duration = Duration::from_secs(2);

/// What every store must do.
fn contract(store: &dyn Store) {
    let now = 1_000 * DAY;
    let retention = 180 * DAY;
    let query = |references: &[&str], senders: &[&str]| Query {
        references: references.iter().map(|s| s.to_string()).collect(),
        senders: senders.iter().map(|s| s.to_string()).collect(),
        features: vec![1, 2, 3],
        min_learns: 1,
    };
    // Empty: nothing known.
    let known = store
        .lookup(&query(&["x@y"], &["a@b"]), now, retention)
        .unwrap();
    assert!(!known.reply_to_ours && !known.known_correspondent);
    assert_eq!(known.history_since, None);

    let sent = Sent {
        message_id: Some("<out-1@ours.example>".into()),
        recipients: vec!["Bob@Vendor.example".into(), "carol@client.example".into()],
    };
    store.record(&sent, now, retention).unwrap();
    let known = store
        .lookup(
            &query(&["other@x", "out-1@ours.example"], &["bob@vendor.example"]),
            now,
            retention,
        )
        .unwrap();
    assert!(known.reply_to_ours, "the reply references our Message-ID");
    assert!(known.known_correspondent, "addresses compare without case");
    assert_eq!(known.history_since, Some(now));
    let stranger = store
        .lookup(&query(&["nope@x"], &["eve@x.example"]), now, retention)
        .unwrap();
    assert!(!stranger.reply_to_ours && !stranger.known_correspondent);

    // Learning: counted once, moved on relabel, counts per feature.
    assert_eq!(
        store.learn("m1", Label::Pitch, &[1, 2]).unwrap(),
        Learned::New
    );
    assert_eq!(
        store.learn("m1", Label::Pitch, &[1, 2]).unwrap(),
        Learned::Already
    );
    assert_eq!(
        store.learn("m2", Label::Legit, &[2, 3]).unwrap(),
        Learned::New
    );
    assert_eq!(store.learn("m3", Label::Pitch, &[3]).unwrap(), Learned::New);
    assert_eq!(
        store.learn("m3", Label::Legit, &[3]).unwrap(),
        Learned::Relabelled
    );
    let known = store.lookup(&query(&[], &[]), now, retention).unwrap();
    assert_eq!(known.learned, Counts { pitch: 1, legit: 2 });
    assert_eq!(
        known.features,
        [
            Counts { pitch: 1, legit: 0 },
            Counts { pitch: 1, legit: 1 },
            Counts { pitch: 0, legit: 2 },
        ]
    );
    // Until enough of each label are learned, word counts are not fetched.
    let early = Query {
        min_learns: 3,
        ..query(&[], &[])
    };
    let known = store.lookup(&early, now, retention).unwrap();
    assert_eq!(known.learned, Counts { pitch: 1, legit: 2 });
    assert!(known.features.is_empty());
    let stats = store.stats().unwrap();
    assert_eq!(stats.learned, Counts { pitch: 1, legit: 2 });
    assert_eq!((stats.sent_messages, stats.correspondents), (1, 2));
}

#[test]
fn the_embedded_store_keeps_the_contract_and_hashes_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path, TIMEOUT, true).unwrap();
    contract(&store);
    // A second process (here: a second handle) shares what was recorded.
    let again = SqliteStore::open(&path, TIMEOUT, false).unwrap();
    let query = Query {
        senders: vec!["bob@vendor.example".into()],
        ..Query::default()
    };
    assert!(
        again
            .lookup(&query, 1_000 * DAY, 180 * DAY)
            .unwrap()
            .known_correspondent
    );
    // Retention: a year later the correspondent is forgotten.
    assert!(
        !again
            .lookup(&query, 1_400 * DAY, 180 * DAY)
            .unwrap()
            .known_correspondent
    );
    drop((store, again));
    let bytes = std::fs::read(&path).unwrap();
    for clear in [
        "vendor.example",
        "Vendor.example",
        "ours.example",
        "client.example",
    ] {
        assert!(
            !bytes.windows(clear.len()).any(|w| w == clear.as_bytes()),
            "{clear} is in the state file in clear"
        );
    }
}

#[test]
fn a_missing_state_file_is_not_created_by_readers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.db");
    assert!(SqliteStore::open(&path, TIMEOUT, false).is_err());
    assert!(!path.exists());
}

#[test]
fn redis_keeps_the_contract() {
    if !common::redis::require_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start(dir.path());
    let store = RedisStore::open(&redis.url(), TIMEOUT).unwrap();
    contract(&store);
    // A second instance reads the same hash key, hence the same answers.
    let other = RedisStore::open(&redis.url(), TIMEOUT).unwrap();
    let query = Query {
        references: vec!["out-1@ours.example".into()],
        ..Query::default()
    };
    assert!(
        other
            .lookup(&query, 1_000 * DAY, 180 * DAY)
            .unwrap()
            .reply_to_ours
    );
}

// --- the daemon -------------------------------------------------------------

/// Two instances' shared settings: no warm-up, learning after two of each,
/// every message asked about (these tests read the stateful tests of
/// replies far below the flag threshold).
fn settings(state: &str) -> String {
    format!(
        "state = \"{state}\"\nstate_timeout_ms = 300\nstate_ask_all = true\n\
         [correspondents]\nwarmup_days = 0\n[learning]\nmin_learns = 2\n"
    )
}

fn message(from: &str, subject: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\nTo: alice@ours.example\nSubject: {subject}\n{headers}\
         Date: Thu, 26 Nov 2026 10:00:00 +0000\n\n{body}\n"
    )
    .into_bytes()
}

/// Sends a message from `sender`, authenticated as `auth` if given, to
/// `rcpt`; returns the unfolded `X-Pitchfork-Status`, if one was added.
async fn send(
    conn: &mut TestConnection,
    auth: Option<&str>,
    sender: &str,
    rcpt: &str,
    raw: &[u8],
) -> Option<String> {
    if let Some(user) = auth {
        conn.macros(MacroStage::Mail, [("{auth_authen}", user)])
            .await
            .unwrap();
    }
    conn.mail([format!("<{sender}>")]).await.unwrap();
    conn.rcpt([format!("<{rcpt}>")]).await.unwrap();
    let (headers, body) = client::split(raw);
    for (name, value) in headers {
        conn.header(name, value).await.unwrap();
    }
    conn.eoh().await.unwrap();
    conn.body(body).await.unwrap();
    let (actions, status) = client::end(conn, "Q1").await;
    assert_eq!(status, Status::Accept);
    client::header(&actions, "X-Pitchfork-Status")
}

/// [`send`] of inbound mail: unauthenticated, to Alice.
async fn inbound(conn: &mut TestConnection, sender: &str, raw: &[u8]) -> Option<String> {
    send(conn, None, sender, "alice@ours.example", raw).await
}

/// `a@ours.example`, authenticated, writes "Hello" to Bob under
/// `message_id`: outbound mail, recorded; returns its status, if any.
async fn hello_to_bob(submission: &mut TestConnection, message_id: &str) -> Option<String> {
    let out = message(
        "a@ours.example",
        "Hello",
        &format!("Message-ID: <{message_id}>\n"),
        "Hi there",
    );
    send(
        submission,
        Some("a"),
        "a@ours.example",
        "bob@vendor.example",
        &out,
    )
    .await
}

fn tests_of(status: &str) -> String {
    status.split("tests=").nth(1).unwrap_or_default().to_owned()
}

const REPLY: &str = "Thanks Alice, the revised quote is attached as agreed.\n\nBob";

fn learn(config: &Path, label: &str, raw: &[u8], name: &str) {
    let file = config.with_file_name(name);
    std::fs::write(&file, raw).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pitchfork"))
        .args(["learn", "-c"])
        .arg(config)
        .arg(format!("--{label}"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_correspondents_and_learning_through_redis() {
    if !common::redis::require_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start(dir.path());
    let (dir_a, dir_b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&dir_a).unwrap();
    std::fs::create_dir_all(&dir_b).unwrap();
    let a = Daemon::start_inet(&dir_a, &settings(&redis.url()));
    let b = Daemon::start_inet(&dir_b, &settings(&redis.url()));
    let mut to_a = client::connect(a.addr().unwrap()).await;
    let mut to_b = client::connect(b.addr().unwrap()).await;

    // Alice writes to Bob through A: not scored, remembered.
    let out = message(
        "Alice <alice@ours.example>",
        "Quote for the spring order",
        "Message-ID: <q-42@ours.example>\n",
        "Hi Bob, could you send a quote for 40 units?",
    );
    let status = send(
        &mut to_a,
        Some("alice"),
        "alice@ours.example",
        "bob@vendor.example",
        &out,
    )
    .await;
    assert_eq!(status, None, "outbound mail is not scored");

    // Bob's reply arrives through B. Recording is in the background: wait.
    let reply = message(
        "Bob <bob@vendor.example>",
        "Re: Quote for the spring order",
        "In-Reply-To: <q-42@ours.example>\nReferences: <q-42@ours.example>\n",
        REPLY,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let tests = loop {
        let status = inbound(&mut to_b, "bob@vendor.example", &reply)
            .await
            .expect("inbound mail is scored");
        let tests = tests_of(&status);
        if tests.contains("REPLY_TO_OURS") || Instant::now() > deadline {
            break tests;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(tests.contains("REPLY_TO_OURS=-6"), "{tests}");
    assert!(tests.contains("KNOWN_CORRESPONDENT=-3"), "{tests}");
    assert!(!tests.contains("FAKE_THREAD"), "{tests}");

    // Bob writes again later without a reference: still a known sender.
    let later = message("Bob <bob@vendor.example>", "Delivery dates", "", REPLY);
    let status = inbound(&mut to_b, "bob@vendor.example", &later).await;
    assert!(tests_of(&status.unwrap()).contains("KNOWN_CORRESPONDENT"));

    // A stranger claims a conversation that never happened.
    let fake = message(
        "Dana <dana@growthagency.example>",
        "Re: our call",
        "",
        "Hi Alice, as per our call, here is our proposal to grow together.",
    );
    let status = inbound(&mut to_b, "dana@growthagency.example", &fake).await;
    let tests = tests_of(&status.unwrap());
    assert!(tests.contains("FAKE_THREAD=2.5"), "{tests}");
    assert!(!tests.contains("KNOWN_CORRESPONDENT"), "{tests}");

    // Learning through A's configuration changes B's verdicts.
    let probe = message(
        "Eli <eli@leadgen.example>",
        "Qualified meetings",
        "",
        "We book qualified meetings with buyers for your sales team every week.",
    );
    let before = inbound(&mut to_b, "eli@leadgen.example", &probe).await;
    assert!(!tests_of(&before.unwrap()).contains("LEARNED"));
    let config_a = dir_a.join("pitchfork.toml");
    let pitches = [
        "We book qualified meetings with buyers for your sales team.",
        "Our team books qualified sales meetings with buyers every week.",
    ];
    let legits = [
        "The board meeting minutes are attached; please review before Friday.",
        "Your library books are due back next week, renew them online.",
    ];
    for (i, body) in pitches.iter().enumerate() {
        let raw = message(
            "x@y.example",
            "Meetings",
            &format!("Message-ID: <p{i}@y>\n"),
            body,
        );
        learn(&config_a, "pitch", &raw, &format!("p{i}.eml"));
    }
    for (i, body) in legits.iter().enumerate() {
        let raw = message(
            "x@z.example",
            "Notes",
            &format!("Message-ID: <l{i}@z>\n"),
            body,
        );
        learn(&config_a, "legit", &raw, &format!("l{i}.eml"));
    }
    // B's last answer had too few learns, so B stopped sending word
    // features; the first message after the learns must still get LEARNED.
    let after = inbound(&mut to_b, "eli@leadgen.example", &probe).await;
    let tests = tests_of(&after.unwrap());
    let learned: f64 = tests
        .split(',')
        .find_map(|t| t.strip_prefix("LEARNED="))
        .unwrap_or_else(|| panic!("no LEARNED in {tests}"))
        .parse()
        .unwrap();
    assert!(learned > 0.0, "{tests}");
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_or_missing_store_costs_no_message() {
    // A "server" that accepts connections and never answers: the worst
    // case, a store that hangs rather than refuses.
    let hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hole.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_inet(
        dir.path(),
        &settings(&format!("redis://127.0.0.1:{port}/0")),
    );
    let mut conn = client::connect(daemon.addr().unwrap()).await;
    let fake = message(
        "Dana <dana@x.example>",
        "Re: our call",
        "",
        "As per our call: our offer.",
    );
    for _ in 0..3 {
        let started = Instant::now();
        let status = inbound(&mut conn, "dana@x.example", &fake).await;
        let status = status.expect("scored without the store");
        assert!(!status.contains("FAKE_THREAD"), "{status}");
        // Bounded by state_timeout_ms (300 ms), not by a hung connection;
        // the margin is generous on purpose.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    // Outbound mail is accepted at once as well.
    let out = message(
        "a@ours.example",
        "Hello",
        "Message-ID: <o@ours.example>\n",
        "Hi",
    );
    assert_eq!(
        send(&mut conn, Some("a"), "a@ours.example", "b@x.example", &out).await,
        None
    );
    daemon.wait_for_log("state store", 1);
    drop(hole);

    // Nothing listening at all: refused at once, same outcome.
    let closed = common::postfix::free_port();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_inet(
        dir.path(),
        &settings(&format!("redis://127.0.0.1:{closed}/0")),
    );
    let mut conn = client::connect(daemon.addr().unwrap()).await;
    let status = inbound(&mut conn, "dana@x.example", &fake).await;
    assert!(status.is_some());
    daemon.wait_for_log("state store", 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_only_mail_the_store_could_change_is_asked_about() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("var/state.db");
    let daemon = Daemon::start_inet(
        dir.path(),
        &format!(
            "state = \"{}\"\n[correspondents]\nwarmup_days = 0\n",
            state.display()
        ),
    );
    let mut submission = client::connect(daemon.addr().unwrap()).await;
    let mut conn = client::connect(daemon.addr().unwrap()).await;
    hello_to_bob(&mut submission, "e2@ours.example").await;
    // A pitch from Bob is flagged without the store: asked about, it is
    // a known correspondent (once the record has landed).
    let pitch = message(
        "Bob <bob@vendor.example>",
        "Partnership opportunity",
        "",
        "We would love to partner with you. Our offshore development team \
         becomes an extension of your team from $25 per hour. Do you have \
         15 minutes for a call next week?",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = inbound(&mut conn, "bob@vendor.example", &pitch).await;
        if tests_of(&status.unwrap()).contains("KNOWN_CORRESPONDENT") {
            break;
        }
        assert!(Instant::now() < deadline, "the pitch was never asked about");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // His ordinary reply scores far below the threshold: whatever the
    // store says, it stays unflagged, so it is not asked about.
    let reply = message(
        "Bob <bob@vendor.example>",
        "Re: Hello",
        "In-Reply-To: <e2@ours.example>\n",
        REPLY,
    );
    let status = inbound(&mut conn, "bob@vendor.example", &reply)
        .await
        .unwrap();
    assert!(status.starts_with("No,"), "{status}");
    let tests = tests_of(&status);
    assert!(!tests.contains("REPLY_TO_OURS"), "{tests}");
    assert!(!tests.contains("KNOWN_CORRESPONDENT"), "{tests}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_store_works_through_the_daemon_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("var/state.db");
    let daemon = Daemon::start_inet(dir.path(), &settings(&state.display().to_string()));
    // AUTH holds for a whole SMTP session: outbound and inbound mail come
    // on connections of their own.
    let mut submission = client::connect(daemon.addr().unwrap()).await;
    let mut conn = client::connect(daemon.addr().unwrap()).await;
    assert_eq!(hello_to_bob(&mut submission, "e1@ours.example").await, None);
    let reply = message(
        "Bob <bob@vendor.example>",
        "Re: Hello",
        "In-Reply-To: <e1@ours.example>\n",
        REPLY,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = send(
            &mut conn,
            None,
            "bob@vendor.example",
            "a@ours.example",
            &reply,
        )
        .await;
        if tests_of(&status.unwrap()).contains("REPLY_TO_OURS") {
            break;
        }
        assert!(Instant::now() < deadline, "the reply was never trusted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // `check` asks the same file (the daemon created its directory).
    let file = dir.path().join("reply.eml");
    std::fs::write(&file, &reply).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pitchfork"))
        .args(["check", "--format", "json", "-c"])
        .arg(dir.path().join("pitchfork.toml"))
        .arg(&file)
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(json.contains("\"REPLY_TO_OURS\""), "{json}");
}
