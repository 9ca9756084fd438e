//! End to end through a real, private Sendmail 8.17: SMTP in, pitchfork as
//! the `INPUT_MAIL_FILTER` shipped in `deploy/sendmail.mc` (only its socket
//! changed), delivered mail read back from the Maildir.

mod common;

use common::{
    daemon::Daemon,
    postfix::short_tempdir,
    sendmail::{self, Sendmail},
};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

const FROM: &str = "sender@example.org";
const TO: &str = "founder@pitch.test";
const PITCH_ID: &str = "sm-pitch-1@growthagency.example";
const CLEAN_ID: &str = "sm-photos-1@family.example";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sendmail")
        .join(name)
}

/// pitchfork on a unix socket and a Sendmail using it; `extra` is appended
/// to pitchfork's configuration.
fn start(extra: &str) -> (tempfile::TempDir, Daemon, Sendmail) {
    let dir = short_tempdir("sme");
    let daemon = Daemon::start(dir.path(), extra);
    // Sendmail and pitchfork both write unix sockets as unix:/path.
    let mta = Sendmail::start(&daemon.milter_spec());
    (dir, daemon, mta)
}

/// The `X-Pitchfork-*` header lines (unfolded) of the copy with Message-ID `id`.
fn pitchfork_headers(delivered: &[String], id: &str) -> Vec<String> {
    let message = delivered
        .iter()
        .find(|m| m.contains(id))
        .unwrap_or_else(|| panic!("{id} not delivered: {delivered:#?}"));
    let head = message.split("\n\n").next().unwrap_or_default();
    let mut lines: Vec<String> = Vec::new();
    for line in head.lines() {
        match lines.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
            _ => lines.push(line.to_owned()),
        }
    }
    lines.retain(|l| l.to_ascii_lowercase().starts_with("x-pitchfork-"));
    lines
}

#[test]
fn flags_pitches_and_leaves_clean_mail_unflagged() {
    if !sendmail::require_sendmail() {
        return;
    }
    let (_dir, daemon, mta) = start("");

    for name in ["pitch.eml", "clean.eml"] {
        let sent = mta.send(FROM, TO, &fixture(name));
        assert!(sent.success(), "{name}:\n{}", sent.transcript);
    }
    let delivered = mta.wait_for_delivery(2, Duration::from_secs(20));

    let pitch = pitchfork_headers(&delivered, PITCH_ID);
    assert!(
        pitch.contains(&"X-Pitchfork-Flag: YES".to_owned()),
        "{pitch:?}"
    );
    assert!(
        pitch
            .iter()
            .any(|h| h.starts_with("X-Pitchfork-Status: Yes, score=")),
        "{pitch:?}"
    );
    let clean = pitchfork_headers(&delivered, CLEAN_ID);
    assert!(!clean.iter().any(|h| h.contains("Flag")), "{clean:?}");
    assert!(
        clean
            .iter()
            .any(|h| h.starts_with("X-Pitchfork-Status: No, score=")),
        "{clean:?}"
    );
    // Sendmail's log names the queue id it gave pitchfork; the daemon's
    // verdict line carries the same id.
    let added = "Milter (pitchfork) add: header: X-Pitchfork-Flag: YES";
    let log = mta.wait_for_log(added, Duration::from_secs(10));
    let flagged = log
        .lines()
        .find(|l| l.contains(added))
        .expect("wait_for_log returned a log with the line");
    let queue_id = flagged
        .split(": ")
        .nth(1)
        .expect("syslog line: TAG[PID]: QUEUE_ID: text");
    assert!(
        daemon.log().contains(queue_id),
        "{queue_id}:\n{}",
        daemon.log()
    );
}

#[test]
fn rejects_with_550_at_end_of_data_and_delivers_the_rest() {
    if !sendmail::require_sendmail() {
        return;
    }
    let (_dir, _daemon, mta) = start("[thresholds]\nflag = 5.0\nreject = 6.0");

    let sent = mta.send(FROM, TO, &fixture("pitch.eml"));
    assert!(!sent.success(), "{}", sent.transcript);
    assert!(
        sent.transcript
            .contains("550 5.7.1 Sales pitch, not a partnership"),
        "{}",
        sent.transcript
    );
    let sent = mta.send(FROM, TO, &fixture("clean.eml"));
    assert!(sent.success(), "{}", sent.transcript);

    let delivered = mta.wait_for_delivery(1, Duration::from_secs(20));
    assert_eq!(delivered.len(), 1, "{delivered:#?}");
    assert!(delivered[0].contains(CLEAN_ID));
    // The delivery script's file appears a moment before Sendmail removes
    // the queue file.
    mta.assert_queue_empties();
}

/// `F=T` in the shipped line: with pitchfork stopped Sendmail answers 4xx
/// instead of accepting mail unfiltered (its default without the flag).
#[test]
fn a_stopped_pitchfork_means_tempfail_not_unfiltered_mail() {
    if !sendmail::require_sendmail() {
        return;
    }
    let (_dir, mut daemon, mta) = start("");
    let status = daemon.stop().unwrap();
    assert!(status.success(), "exit {status:?}:\n{}", daemon.log());

    let sent = mta.send(FROM, TO, &fixture("pitch.eml"));
    assert!(!sent.success(), "{}", sent.transcript);
    assert!(sent.transcript.contains("451 4.3.2"), "{}", sent.transcript);
    assert!(mta.delivered().is_empty());
    assert_eq!(mta.queue_count(), 0, "{}", mta.log());
}
