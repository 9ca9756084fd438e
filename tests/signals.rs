//! SIGTERM and SIGINT stop the real binary cleanly: no new connections,
//! the message in flight still gets its verdict (within
//! `shutdown_timeout`), the unix socket is removed, exit status 0.

mod common;

use common::{client, daemon::Daemon};
use indymilter_test::Status;
use std::{os::unix::net::UnixStream, path::Path};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new("tests/signals").join(name)).unwrap()
}

#[tokio::test]
async fn sigterm_lets_the_message_in_flight_finish_then_exits_0_without_its_socket() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(dir.path(), "");
    let socket = daemon.socket().unwrap().to_owned();
    let mut conn = client::connect_unix(&socket).await;
    // Everything up to the end of the message: the body's reply means the
    // daemon has seen MAIL, so the message is in flight.
    client::begin(&mut conn, &fixture("pitch.eml")).await;

    daemon.signal("TERM");
    daemon.wait_for_log("waiting up to 10s for messages in flight", 1);
    assert!(
        UnixStream::connect(&socket).is_err(),
        "still accepting connections while shutting down"
    );
    let (actions, status) = client::end(&mut conn, "T1").await;
    assert_eq!(status, Status::Accept);
    assert_eq!(
        client::header(&actions, "X-Pitchfork-Flag").as_deref(),
        Some("YES")
    );

    let exit = daemon.stop().unwrap();
    assert!(exit.success(), "{exit:?}\n{}", daemon.log());
    assert!(!socket.exists(), "socket left behind");
    let log = daemon.log();
    assert!(log.contains("queue_id=T1"), "{log}");
    assert!(log.contains("pitchfork stopped"), "{log}");
    assert!(!log.contains("shutdown_timeout reached"), "{log}");
}

#[tokio::test]
async fn shutdown_timeout_bounds_a_message_that_never_ends() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(dir.path(), "shutdown_timeout = 1");
    let socket = daemon.socket().unwrap().to_owned();
    let mut conn = client::connect_unix(&socket).await;
    client::begin(&mut conn, &fixture("pitch.eml")).await;

    // `stop` sends SIGTERM and waits; the message never ends, so only the
    // timeout lets the daemon exit (else `stop` kills it: not a success).
    let exit = daemon.stop().unwrap();
    assert!(exit.success(), "{exit:?}\n{}", daemon.log());
    assert!(!socket.exists());
    assert!(daemon.log().contains("shutdown_timeout reached"));
    drop(conn);
}

#[test]
fn sigint_stops_it_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(dir.path(), "");
    let socket = daemon.socket().unwrap().to_owned();
    daemon.signal("INT");
    daemon.wait_for_log("pitchfork stopped", 1);
    let exit = daemon.stop().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(daemon.log().contains("SIGINT received"));
    assert!(!socket.exists());
}
