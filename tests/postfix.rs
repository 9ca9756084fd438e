//! End to end through a real, private Postfix: SMTP in, pitchfork as
//! `smtpd_milters`, delivered mail read back from the Maildir.

mod common;

use common::{
    daemon::Daemon,
    delivered::pitchfork_headers,
    postfix::{self, Postfix},
};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

const FROM: &str = "sender@example.org";
const TO: &str = "user@pitch.test";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/postfix")
        .join(name)
}

/// The delivered copy whose Message-ID is `id`.
fn delivered_copy(mta: &Postfix, count: usize, id: &str) -> String {
    let copies = mta.wait_for_delivery(count, Duration::from_secs(20));
    copies
        .into_iter()
        .find(|m| m.contains(id))
        .unwrap_or_else(|| panic!("{id} not delivered:\n{}", mta.log()))
}

#[test]
fn flags_pitches_and_leaves_clean_mail_alone() {
    if !postfix::require_postfix() {
        return;
    }
    let dir = postfix::short_tempdir("pfe");
    let daemon = Daemon::start(dir.path(), "");
    let mta = Postfix::start(&daemon.milter_spec());

    for name in ["pitch.eml", "clean.eml", "forged.eml"] {
        let sent = mta.send(FROM, TO, &fixture(name));
        assert!(sent.success(), "{name}:\n{}", sent.transcript);
    }

    let pitch = delivered_copy(&mta, 3, "e2e-pitch-1@devshop.example");
    let headers = pitchfork_headers(&pitch);
    assert!(
        headers.contains(&"X-Pitchfork-Flag: YES".to_owned()),
        "{headers:?}"
    );
    assert!(
        headers
            .iter()
            .any(|h| h.starts_with("X-Pitchfork-Status: Yes, score="))
    );

    let clean = delivered_copy(&mta, 3, "e2e-dinner-1@friends.example");
    let headers = pitchfork_headers(&clean);
    assert_eq!(headers.len(), 2, "{headers:?}");
    assert!(
        headers
            .iter()
            .any(|h| h.starts_with("X-Pitchfork-Status: No, score="))
    );

    // The sender's forged verdict is gone in every spelling; ours remains.
    let forged = delivered_copy(&mta, 3, "e2e-lunch-1@friends.example");
    let headers = pitchfork_headers(&forged);
    assert_eq!(headers.len(), 2, "{headers:?}\n{forged}");
    assert!(!forged.contains("FORGED"), "{forged}");
    assert!(!headers.iter().any(|h| h.contains("Flag")), "{headers:?}");
    assert!(
        daemon.log().contains("action=add_header"),
        "{}",
        daemon.log()
    );
}

#[test]
fn rejects_pitches_at_smtp_time_over_the_reject_threshold() {
    if !postfix::require_postfix() {
        return;
    }
    let dir = postfix::short_tempdir("pfr");
    let daemon = Daemon::start(dir.path(), "[thresholds]\nflag = 5.0\nreject = 6.0");
    let mta = Postfix::start(&daemon.milter_spec());

    let sent = mta.send(FROM, TO, &fixture("pitch.eml"));
    assert!(!sent.success(), "{}", sent.transcript);
    assert!(
        sent.transcript
            .contains("550 5.7.1 Sales pitch, not a partnership"),
        "{}",
        sent.transcript
    );
    // The clean message still goes through, and the pitch never arrives.
    let sent = mta.send(FROM, TO, &fixture("clean.eml"));
    assert!(sent.success(), "{}", sent.transcript);
    let delivered = mta.wait_for_delivery(1, Duration::from_secs(20));
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].contains("e2e-dinner-1@friends.example"));
    mta.assert_queue_empties();
}

#[test]
fn a_stopped_pitchfork_means_tempfail_not_lost_mail() {
    if !postfix::require_postfix() {
        return;
    }
    let dir = postfix::short_tempdir("pfs");
    let mut daemon = Daemon::start(dir.path(), "");
    let mta = Postfix::start(&daemon.milter_spec());
    assert!(mta.send(FROM, TO, &fixture("clean.eml")).success());

    let status = daemon.stop().unwrap();
    assert!(status.success(), "exit {status:?}:\n{}", daemon.log());
    assert!(!daemon.socket().unwrap().exists(), "socket left behind");

    let sent = mta.send(FROM, TO, &fixture("pitch.eml"));
    assert!(!sent.success(), "{}", sent.transcript);
    assert!(sent.transcript.contains("451 4.7.1"), "{}", sent.transcript);
    // Only the first message was delivered; the second stayed with the
    // client (4xx), so nothing was accepted unfiltered or lost in a queue.
    let delivered = mta.wait_for_delivery(1, Duration::from_secs(20));
    assert_eq!(delivered.len(), 1);
    mta.assert_queue_empties();
}

#[test]
fn works_over_an_inet_socket_too() {
    if !postfix::require_postfix() {
        return;
    }
    let dir = postfix::short_tempdir("pfi");
    let daemon = Daemon::start_inet(dir.path(), "");
    let mta = Postfix::start(&daemon.milter_spec());
    assert!(mta.send(FROM, TO, &fixture("pitch.eml")).success());
    let pitch = delivered_copy(&mta, 1, "e2e-pitch-1@devshop.example");
    let headers = pitchfork_headers(&pitch);
    assert!(
        headers.contains(&"X-Pitchfork-Flag: YES".to_owned()),
        "{headers:?}"
    );
}
