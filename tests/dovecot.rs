//! End to end into a user's folders: Postfix with pitchfork as its milter
//! delivers over LMTP to Dovecot, which runs the shipped
//! `deploy/pitches.sieve` for every user; the folders are read back over
//! IMAP, the way the user's mail client sees them.

mod common;

use common::{
    daemon::Daemon,
    dovecot::{self, Dovecot},
    postfix::{self, Postfix, short_tempdir},
};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

const FROM: &str = "sender@example.org";
const USER: &str = "user@pitch.test";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/dovecot")
        .join(name)
}

fn shipped_sieve() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/pitches.sieve")
}

/// Message-IDs found in fetched header sections.
fn ids(headers: &[String]) -> Vec<&str> {
    headers
        .iter()
        .filter_map(|h| {
            let start = h.find("Message-ID: <")? + "Message-ID: <".len();
            let end = start + h[start..].find('>')?;
            Some(&h[start..end])
        })
        .collect()
}

#[test]
fn sieve_files_flagged_pitches_into_pitches_and_the_rest_into_inbox() {
    if !postfix::require_postfix() || !dovecot::require_dovecot() {
        return;
    }
    let dir = short_tempdir("dve");
    let daemon = Daemon::start(dir.path(), "");
    let store = Dovecot::start(&shipped_sieve());
    let transport = format!("virtual_transport = {}\n", store.lmtp_transport());
    let mta = Postfix::start_with(&daemon.milter_spec(), &transport);

    for name in ["pitch.eml", "clean.eml", "forged.eml"] {
        let sent = mta.send(FROM, USER, &fixture(name));
        assert!(sent.success(), "{name}:\n{}", sent.transcript);
    }
    store.wait_for_messages(USER, &["INBOX", "Pitches"], 3, Duration::from_secs(20));

    let mut imap = store.imap(USER);
    let pitches = imap.headers("Pitches");
    assert_eq!(
        ids(&pitches),
        ["dv-pitch-1@offshore-dev.example"],
        "{pitches:#?}"
    );
    assert!(pitches[0].contains("X-Pitchfork-Flag: YES"), "{pitches:#?}");

    // The clean message, and one whose sender forged the flag: pitchfork
    // deleted the forged header, so Sieve leaves it in the inbox.
    let inbox = imap.headers("INBOX");
    let mut inbox_ids = ids(&inbox);
    inbox_ids.sort_unstable();
    assert_eq!(
        inbox_ids,
        [
            "dv-bookclub-1@friends.example",
            "dv-forged-1@friends.example"
        ],
        "{inbox:#?}"
    );
    assert!(
        !inbox.iter().any(|h| h.contains("X-Pitchfork-Flag")),
        "{inbox:#?}"
    );
    assert!(
        inbox.iter().all(|h| h.contains("X-Pitchfork-Status: No")),
        "{inbox:#?}"
    );
}
