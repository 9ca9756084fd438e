//! Self-test of the Postfix harness in `tests/common/postfix.rs`, without
//! pitchfork: it proves the harness reports the MTA's behaviour faithfully
//! before other tests rely on it.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::postfix::{self, Postfix};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/postfix_harness")
        .join(name)
}

/// With no milter listening, Postfix must answer 451 4.7.1 (tempfail), so
/// the client keeps the message: nothing is queued, nothing delivered.
#[test]
fn postfix_without_milter_tempfails_and_keeps_mail() {
    if !postfix::require_postfix() {
        return;
    }
    // Searchable by user postfix, but nothing listens on the socket.
    let socket_dir = postfix::short_tempdir("pfm");
    let milter = format!("unix:{}/nothing.sock", socket_dir.path().display());
    let mta = Postfix::start(&milter);

    let sent = mta.send(
        "sender@example.org",
        "user@pitch.test",
        &fixture("plain.eml"),
    );

    assert!(!sent.success(), "swaks succeeded:\n{}", sent.transcript);
    assert!(
        sent.transcript.contains("451 4.7.1"),
        "no 451 4.7.1 reply:\n{}",
        sent.transcript
    );
    mta.wait_for_log("milter-reject", Duration::from_secs(5));
    mta.assert_queue_empties();
    assert!(mta.delivered().is_empty(), "{}", mta.log());
}
