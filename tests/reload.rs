//! SIGHUP reloads the configuration of the running binary: the next
//! message is judged by the new one, an invalid file changes nothing and
//! is explained key by key, and while messages keep flowing every one of
//! them gets exactly one decision.

mod common;

use common::{client, daemon::Daemon};
use indymilter_test::{EomAction, Status};
use std::{
    collections::BTreeMap,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new("tests/reload").join(name)).unwrap()
}

/// `required=…` of the status header: which threshold judged the message.
fn required(actions: &[EomAction]) -> String {
    let status = client::header(actions, "X-Pitchfork-Status").expect("status header");
    let start = status.find("required=").expect("required=") + "required=".len();
    status[start..].split(' ').next().unwrap().to_owned()
}

fn flagged(actions: &[EomAction]) -> bool {
    client::header(actions, "X-Pitchfork-Flag").as_deref() == Some("YES")
}

/// Reloads `extra` and waits for the daemon to say it applied it.
fn reload(daemon: &Daemon, extra: &str, reloads_so_far: usize) {
    daemon.rewrite_config(extra);
    daemon.signal("HUP");
    daemon.wait_for_log("configuration reloaded", reloads_so_far + 1);
}

#[tokio::test]
async fn a_changed_threshold_applies_to_the_next_message_on_the_same_connection() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_inet(dir.path(), "[thresholds]\nflag = 5.0");
    let mut conn = client::connect(daemon.addr().unwrap()).await;
    let (actions, _) = client::send(&mut conn, &fixture("pitch.eml"), "R1").await;
    assert!(flagged(&actions));
    assert_eq!(required(&actions), "5.00");

    reload(&daemon, "max_connections = 7\n[thresholds]\nflag = 50.0", 0);
    let (actions, status) = client::send(&mut conn, &fixture("pitch.eml"), "R2").await;
    assert_eq!(status, Status::Accept);
    assert!(!flagged(&actions), "{actions:?}");
    assert_eq!(required(&actions), "50.00");
    // a key the running process cannot change is named, not applied silently
    assert!(
        daemon
            .log()
            .contains("restart needed: `max_connections` changed"),
        "{}",
        daemon.log()
    );
    conn.close().await.unwrap();
}

#[tokio::test]
async fn an_invalid_file_is_refused_key_by_key_and_the_old_one_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_inet(dir.path(), "[thresholds]\nflag = 5.0");
    let mut conn = client::connect(daemon.addr().unwrap()).await;

    daemon.rewrite_config("sockett = 1\n[thresholds]\nflag = \"high\"");
    daemon.signal("HUP");
    daemon.wait_for_log("reload refused with 2 error(s)", 1);
    let log = daemon.log();
    for key in ["key=sockett", "key=thresholds.flag"] {
        let line = log.lines().find(|l| l.contains(key));
        assert!(
            line.is_some_and(|l| l.contains("WARN")),
            "no warning for {key}:\n{log}"
        );
    }
    assert!(!log.contains("configuration reloaded"), "{log}");

    let (actions, _) = client::send(&mut conn, &fixture("pitch.eml"), "R3").await;
    assert!(flagged(&actions));
    assert_eq!(required(&actions), "5.00");
    conn.close().await.unwrap();
}

/// What one client saw: queue id, actions, reply.
type Sent = Vec<(String, Vec<EomAction>, Status)>;

/// Sends the pitch over one connection until told to stop.
async fn keep_sending(addr: std::net::SocketAddr, client_no: usize, stop: Arc<AtomicBool>) -> Sent {
    let pitch = fixture("pitch.eml");
    let mut conn = client::connect(addr).await;
    let mut sent = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let queue_id = format!("L{client_no}x{}", sent.len());
        let (actions, status) = client::send(&mut conn, &pitch, &queue_id).await;
        sent.push((queue_id, actions, status));
    }
    conn.close().await.unwrap();
    sent
}

/// Queue ids of the daemon's one-line verdicts, with how often each came.
fn logged_verdicts(log: &str) -> BTreeMap<String, usize> {
    let mut verdicts = BTreeMap::new();
    for line in log.lines().filter(|l| l.contains(" INFO ")) {
        if let Some((_, rest)) = line.split_once("queue_id=") {
            let id = rest.split(' ').next().unwrap().to_owned();
            *verdicts.entry(id).or_insert(0) += 1;
        }
    }
    verdicts
}

/// Waits until the daemon has logged `more` verdicts than now.
fn wait_for_more_verdicts(daemon: &Daemon, more: usize) {
    let target = logged_verdicts(&daemon.log()).len() + more;
    let deadline = Instant::now() + Duration::from_secs(30);
    while logged_verdicts(&daemon.log()).len() < target {
        assert!(
            Instant::now() < deadline,
            "messages stopped flowing:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_decides_every_message_exactly_once() {
    const CLIENTS: usize = 3;
    const RELOADS: usize = 9;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_inet(dir.path(), "[thresholds]\nflag = 5.0");
    let addr = daemon.addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| tokio::spawn(keep_sending(addr, n, Arc::clone(&stop))))
        .collect();

    for i in 0..RELOADS {
        // Once a reload is applied at most CLIENTS messages are still on the
        // old snapshot; waiting for three more verdicts makes sure that each
        // threshold judges some messages while the others are in flight.
        wait_for_more_verdicts(&daemon, CLIENTS + 3);
        let flag = if i % 2 == 0 { "50.0" } else { "5.0" };
        reload(&daemon, &format!("[thresholds]\nflag = {flag}"), i);
    }
    wait_for_more_verdicts(&daemon, CLIENTS + 3);
    stop.store(true, Ordering::Relaxed);
    let mut sent = Vec::new();
    for client in clients {
        sent.extend(client.await.unwrap());
    }

    // every message was answered once, consistently with one threshold
    let mut thresholds = BTreeMap::new();
    for (queue_id, actions, status) in &sent {
        assert_eq!(*status, Status::Accept, "{queue_id}");
        let required = required(actions);
        assert_eq!(
            flagged(actions),
            required == "5.00",
            "{queue_id}: {actions:?}"
        );
        *thresholds.entry(required).or_insert(0) += 1;
    }
    let keys: Vec<&str> = thresholds.keys().map(String::as_str).collect();
    assert_eq!(keys, ["5.00", "50.00"], "{thresholds:?}");
    // and the daemon logged exactly one verdict for each, and no other
    let logged = logged_verdicts(&daemon.log());
    let ids: BTreeMap<String, usize> = sent.iter().map(|(id, _, _)| (id.clone(), 1)).collect();
    assert_eq!(logged, ids);

    // after the last reload (flag = 50) the new threshold is in effect
    let mut conn = client::connect(addr).await;
    let (actions, _) = client::send(&mut conn, &fixture("pitch.eml"), "AFTER").await;
    assert_eq!(required(&actions), "50.00");
    assert!(!flagged(&actions));
    conn.close().await.unwrap();
}
