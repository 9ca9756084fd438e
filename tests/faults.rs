//! Faults through the milter protocol, against the real binary: clients
//! that vanish, abort, stall or send too much; more connections than
//! `max_connections`; many messages on one connection. Through all of it
//! every message sent to the end gets exactly one decision, none is lost,
//! and the daemon keeps serving.

mod common;

use common::{
    client,
    daemon::Daemon,
    postfix::{self, Postfix},
};
use indymilter_test::Status;
use pitchfork::{
    config::{Config, SocketSpec},
    engine::Engine,
    listener,
    milter::{self, Snapshots},
    session::Session,
};
use std::{
    collections::BTreeMap,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    sync::Arc,
    thread::sleep,
    time::{Duration, Instant},
};
use tokio::{sync::oneshot, task::JoinHandle};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/faults")
            .join(name),
    )
    .unwrap()
}

/// A daemon on a free port with its metrics endpoint on another.
fn start(dir: &Path, extra: &str) -> (Daemon, SocketAddr) {
    let metrics = common::mta::free_addr();
    let config = format!("metrics_listen = \"{metrics}\"\n{extra}");
    (Daemon::start_inet(dir, &config), metrics)
}

/// `name{labels}` → value of every sample.
fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(name, value)| (name.to_owned(), value.parse().unwrap()))
        .collect()
}

/// Messages decided so far, whatever the action, and errors.
fn decided(metrics: SocketAddr) -> (f64, f64) {
    let samples = scrape(metrics);
    let sum = |prefix: &str| -> f64 {
        samples
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    };
    (
        sum("pitchfork_messages_total{"),
        sum("pitchfork_errors_total{"),
    )
}

/// Waits until no connection is open and no message is in flight: what a
/// vanished or closed client must leave behind.
fn wait_until_idle(metrics: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let samples = scrape(metrics);
        let open = samples["pitchfork_open_connections"];
        let in_flight = samples["pitchfork_messages_in_flight"];
        if open == 0.0 && in_flight == 0.0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {open} connections, {in_flight} messages in flight"
        );
        sleep(Duration::from_millis(50));
    }
}

/// How many verdict log lines name `queue_id`.
fn verdicts_for(daemon: &Daemon, queue_id: &str) -> usize {
    let needle = format!("queue_id={queue_id} ");
    daemon
        .log()
        .lines()
        .filter(|l| l.contains(&needle) && l.contains(" action="))
        .count()
}

fn judged(actions: &[indymilter_test::EomAction]) -> f64 {
    client::header(actions, "X-Pitchfork-Score")
        .expect("a score header")
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_gone_mid_body_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, metrics) = start(dir.path(), "");
    let addr = daemon.addr().unwrap();
    let mut gone = client::connect(addr).await;
    client::begin(&mut gone, &fixture("pitch.eml")).await;
    drop(gone);

    let mut conn = client::connect(addr).await;
    let (actions, status) = client::send(&mut conn, &fixture("clean.eml"), "AFTER").await;
    assert_eq!(status, Status::Accept);
    assert!(judged(&actions) < 5.0);
    conn.close().await.unwrap();
    wait_until_idle(metrics);
    assert_eq!(decided(metrics), (1.0, 0.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn abort_then_a_new_message_on_the_same_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, metrics) = start(dir.path(), "");
    let mut conn = client::connect(daemon.addr().unwrap()).await;
    client::begin(&mut conn, &fixture("pitch.eml")).await;
    conn.abort().await.unwrap();
    // Nothing of the aborted pitch may carry over into the next message.
    let (actions, status) = client::send(&mut conn, &fixture("clean.eml"), "NEXT").await;
    assert_eq!(status, Status::Accept);
    assert!(judged(&actions) < 5.0, "{actions:?}");
    assert_eq!(client::header(&actions, "X-Pitchfork-Flag"), None);
    conn.close().await.unwrap();
    wait_until_idle(metrics);
    assert_eq!(decided(metrics), (1.0, 0.0));
    assert_eq!(verdicts_for(&daemon, "NEXT"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_messages_on_one_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, metrics) = start(dir.path(), "");
    let mut conn = client::connect(daemon.addr().unwrap()).await;
    let (pitch, clean) = (fixture("pitch.eml"), fixture("clean.eml"));
    for i in 0..100 {
        let raw = if i % 2 == 0 { &pitch } else { &clean };
        let (actions, status) = client::send(&mut conn, raw, &format!("Q{i}")).await;
        assert_eq!(status, Status::Accept);
        assert_eq!(judged(&actions) >= 5.0, i % 2 == 0, "message {i}");
    }
    conn.close().await.unwrap();
    wait_until_idle(metrics);
    assert_eq!(decided(metrics), (100.0, 0.0));
    for i in 0..100 {
        assert_eq!(verdicts_for(&daemon, &format!("Q{i}")), 1, "Q{i}");
    }
}

/// Eight connections at once, 25 messages each, against a daemon that
/// serves four connections at a time: a fifth is refused at once (closed
/// before negotiation) and retries, the daemon keeps serving, and every
/// message sent gets exactly one decision.
#[tokio::test(flavor = "multi_thread")]
async fn every_message_gets_exactly_one_decision_past_max_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, metrics) = start(dir.path(), "max_connections = 4");
    let addr = daemon.addr().unwrap();
    // Hold the four slots, so that the next connection must be refused.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(client::connect(addr).await);
    }
    assert!(
        client::try_connect(addr).await.is_none(),
        "a fifth connection was served"
    );
    daemon.wait_for_log("max_connections reached", 1);
    drop(held);

    let mut tasks = Vec::new();
    for c in 0..8 {
        tasks.push(tokio::spawn(async move {
            let mut conn = loop {
                match client::try_connect(addr).await {
                    Some(conn) => break conn,
                    None => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            };
            let (pitch, clean) = (fixture("pitch.eml"), fixture("clean.eml"));
            for m in 0..25 {
                let raw = if (c + m) % 3 == 0 { &pitch } else { &clean };
                let (actions, status) = client::send(&mut conn, raw, &format!("C{c}M{m}")).await;
                assert_eq!(status, Status::Accept);
                judged(&actions);
            }
            conn.close().await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    wait_until_idle(metrics);
    assert_eq!(decided(metrics), (200.0, 0.0));
    for c in 0..8 {
        for m in 0..25 {
            assert_eq!(verdicts_for(&daemon, &format!("C{c}M{m}")), 1, "C{c}M{m}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_stalled_clients_are_closed_after_connection_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, metrics) = start(dir.path(), "connection_timeout = 1");
    let addr = daemon.addr().unwrap();
    let idle = client::connect(addr).await;
    let mut stalled = client::connect(addr).await;
    client::envelope(&mut stalled, "<slow@example.org>").await;
    stalled.header("Subject", "half a message").await.unwrap();
    // Both closed by the daemon once a second passes without a command.
    wait_until_idle(metrics);
    assert!(
        stalled.eom().await.is_err(),
        "the stalled client was closed"
    );
    drop(idle);

    let mut conn = client::connect(addr).await;
    let (actions, _) = client::send(&mut conn, &fixture("clean.eml"), "LATER").await;
    judged(&actions);
    assert_eq!(decided(metrics), (1.0, 0.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_over_every_size_cap() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, metrics) = start(dir.path(), "max_scan_bytes = 4096");
    let addr = daemon.addr().unwrap();

    // Over max_scan_bytes in the body: the daemon asks to skip the rest
    // and still decides.
    let mut big = fixture("pitch.eml");
    big.extend(b"We'd love to partner with you. ".repeat(40_000));
    let mut conn = client::connect(addr).await;
    client::envelope(&mut conn, "<sender@example.org>").await;
    let (headers, body) = client::split(&big);
    for (name, value) in headers {
        conn.header(name, value).await.unwrap();
    }
    conn.eoh().await.unwrap();
    assert_eq!(conn.body(body).await.unwrap(), Status::Skip);
    let (actions, status) = client::end(&mut conn, "BIGBODY").await;
    assert_eq!(status, Status::Accept);
    assert!(judged(&actions) >= 5.0, "the kept part is still a pitch");

    // Over max_scan_bytes in the headers alone.
    let mut many = String::new();
    for i in 0..200 {
        many.push_str(&format!("X-Filler-{i}: {}\n", "f".repeat(40)));
    }
    many.push_str("Subject: hello\n\nLunch?\n");
    let (actions, _) = client::send(&mut conn, many.as_bytes(), "BIGHEAD").await;
    judged(&actions);
    conn.close().await.unwrap();

    // One header packet over indymilter's 1 MiB limit, written by hand (the
    // test client refuses to encode one; Postfix never sends one, its
    // header_size_limit being 100 KiB): the daemon drops that connection
    // as a protocol error and makes no decision for it.
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // OPTNEG as Postfix 3.7 sends it: protocol 6, actions 0x1ff, protocol
    // options 0x1fffff.
    let optneg = [0, 0, 0, 6, 0, 0, 0x01, 0xff, 0, 0x1f, 0xff, 0xff];
    raw.write_all(&packet(b'O', &optneg)).unwrap();
    let mut length = [0u8; 4];
    raw.read_exact(&mut length).unwrap();
    let mut reply = vec![0u8; u32::from_be_bytes(length) as usize];
    raw.read_exact(&mut reply).unwrap();
    assert_eq!(reply[0], b'O', "negotiated");
    let mut header = b"X-Huge\0".to_vec();
    header.extend(std::iter::repeat_n(b'x', 2 << 20));
    header.push(0);
    // The daemon may close while this is still being written.
    let _ = raw.write_all(&packet(b'L', &header));
    let mut rest = Vec::new();
    // Closed (end of file or reset), not left hanging until the timeout.
    if let Err(e) = raw.read_to_end(&mut rest) {
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    }
    drop(raw);

    let mut conn = client::connect(addr).await;
    let (actions, _) = client::send(&mut conn, &fixture("clean.eml"), "AFTER").await;
    judged(&actions);
    conn.close().await.unwrap();
    wait_until_idle(metrics);
    assert_eq!(decided(metrics), (3.0, 0.0));
}

/// A milter packet: length, command letter, payload.
fn packet(command: u8, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len() + 1).unwrap();
    let mut out = length.to_be_bytes().to_vec();
    out.push(command);
    out.extend_from_slice(payload);
    out
}

/// An MTA that ends one session and opens the next at once is not refused
/// while the ended session is still being torn down: a connection over the
/// limit waits briefly for a slot before it is refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_slot_freed_just_after_the_next_connect_is_given_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, _) = start(dir.path(), "max_connections = 1");
    let addr = daemon.addr().unwrap();
    let mut held = client::connect(addr).await;
    let (_, status) = client::send(&mut held, PLAIN, "FIRST").await;
    assert_eq!(status, Status::Accept);
    let next = tokio::spawn(client::try_connect(addr));
    tokio::time::sleep(Duration::from_millis(5)).await;
    held.close().await.unwrap();
    let mut next = next
        .await
        .unwrap()
        .expect("the next connection was refused");
    let (actions, _) = client::send(&mut next, PLAIN, "NEXT").await;
    judged(&actions);
    next.close().await.unwrap();
    assert!(
        !daemon.log().contains("max_connections reached"),
        "{}",
        daemon.log()
    );
}

/// The daemon holds one connection; a message through Postfix finds it
/// full, is refused at once and, per `milter_default_action = tempfail`,
/// the client gets 4xx, never 5xx.
/// Once the slot is free the next message goes through.
#[tokio::test(flavor = "multi_thread")]
async fn postfix_answers_4xx_while_the_daemon_is_full() {
    if !postfix::require_postfix() {
        return;
    }
    let dir = postfix::short_tempdir("pff");
    let daemon = Daemon::start(dir.path(), "max_connections = 1");
    // The daemon's own start-up probe may still hold the one slot.
    let held = client::connect_unix_when_free(daemon.socket().unwrap()).await;
    let mta = Postfix::start_with(
        &daemon.milter_spec(),
        "milter_connect_timeout = 2s\nmilter_command_timeout = 2s\n",
    );
    let message = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/faults/clean.eml");
    let (from, to) = ("sender@example.org", "user@pitch.test");

    let refused = tokio::task::block_in_place(|| mta.send(from, to, &message));
    assert!(!refused.success(), "{}", refused.transcript);
    let replies: Vec<&str> = refused
        .transcript
        .lines()
        .filter(|l| l.starts_with("<-") || l.starts_with("<**"))
        .collect();
    assert!(
        replies.iter().any(|l| l.contains(" 4")),
        "{}",
        refused.transcript
    );
    assert!(
        !replies.iter().any(|l| l
            .split_whitespace()
            .nth(1)
            .is_some_and(|c| c.starts_with('5'))),
        "{}",
        refused.transcript
    );

    drop(held);
    let sent = tokio::task::block_in_place(|| mta.send(from, to, &message));
    assert!(sent.success(), "{}\n{}", sent.transcript, daemon.log());
    tokio::task::block_in_place(|| mta.wait_for_delivery(1, Duration::from_secs(20)));
}

/// A daemon run in-process on 127.0.0.1:0 with an engine the test built.
async fn in_process(engine: Engine) -> (SocketAddr, oneshot::Sender<()>, JoinHandle<()>) {
    let spec = SocketSpec::Inet("127.0.0.1:0".parse().unwrap());
    let mut bound = listener::bind(&spec, 0o660).await.unwrap();
    let SocketSpec::Inet(addr) = bound.spec else {
        unreachable!("bound an inet socket")
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let snapshots = Arc::new(Snapshots::new(engine));
    let task = tokio::spawn(async move {
        milter::run(bound.take(), snapshots, stopped).await.unwrap();
    });
    (addr, stop, task)
}

/// An engine whose scoring panics on any message a phrase matches: its
/// public test list is emptied after the rules were compiled, so the
/// compiled phrase automaton names tests past the end of the list and
/// `RuleSet::score` indexes out of bounds — a genuine panic inside the
/// scoring core, reachable only through the library API, never through a
/// configuration file (the loader builds both from the same rules).
fn panicking_engine(on_error: &str) -> Engine {
    let config = Config::parse(&format!("on_error = \"{on_error}\"")).unwrap();
    let mut engine = Engine::with_config(config).unwrap();
    engine.rules.tests.clear();
    engine
}

/// Text no phrase of the built-in rules matches: scored without a panic.
const PLAIN: &[u8] = b"Subject: zzz\n\nqqq\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_in_scoring_is_isolated_to_its_message() {
    for (on_error, tempfail) in [("accept", false), ("tempfail", true)] {
        let engine = panicking_engine(on_error);
        let session = Session::from_bytes(&fixture("pitch.eml"), 1 << 20);
        assert!(session.judge(&engine).is_err(), "the engine panics");

        let (addr, stop, task) = in_process(engine).await;
        let mut conn = client::connect(addr).await;
        let (actions, status) = client::send(&mut conn, &fixture("pitch.eml"), "PANIC").await;
        let answered = matches!(status, Status::Tempfail { .. });
        assert_eq!(answered, tempfail, "on_error = {on_error}: {status:?}");
        assert!(answered || status == Status::Accept, "{status:?}");
        // Unmodified: no header added, none deleted.
        assert!(actions.is_empty(), "{actions:?}");
        // The same connection and the daemon keep serving.
        let (actions, status) = client::send(&mut conn, PLAIN, "NEXT").await;
        assert_eq!(status, Status::Accept);
        judged(&actions);
        conn.close().await.unwrap();
        let mut other = client::connect(addr).await;
        let (actions, _) = client::send(&mut other, PLAIN, "OTHER").await;
        judged(&actions);
        other.close().await.unwrap();
        stop.send(()).unwrap();
        task.await.unwrap();
    }
}
