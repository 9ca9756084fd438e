//! Forged verdicts through a real Postfix: a sender's own `X-Pitchfork-*`
//! headers, in any letter case, folded, repeated, with and without a
//! value, are gone from the delivered copy, which carries exactly the
//! headers pitchfork added.

mod common;

use common::{
    daemon::Daemon,
    delivered::pitchfork_headers,
    postfix::{self, Postfix},
};
use std::{path::Path, time::Duration};

#[test]
fn forged_verdicts_in_every_form_are_removed() {
    if !postfix::require_postfix() {
        return;
    }
    let dir = postfix::short_tempdir("pfg");
    let daemon = Daemon::start(dir.path(), "");
    let mta = Postfix::start(&daemon.milter_spec());
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/forgery");
    for name in ["forged-clean.eml", "forged-pitch.eml"] {
        let sent = mta.send(
            "sender@example.org",
            "user@pitch.test",
            &fixtures.join(name),
        );
        assert!(sent.success(), "{name}:\n{}", sent.transcript);
    }
    let copies = mta.wait_for_delivery(2, Duration::from_secs(20));
    let copy = |id: &str| {
        copies
            .iter()
            .find(|m| m.contains(id))
            .unwrap_or_else(|| panic!("{id} not delivered:\n{}", mta.log()))
            .clone()
    };

    let clean = pitchfork_headers(&copy("forgery-1@friends.example"));
    assert_eq!(clean.len(), 2, "{clean:#?}\n{}", daemon.log());
    assert!(clean[0].starts_with("X-Pitchfork-Score: "), "{clean:?}");
    assert!(
        clean[1].starts_with("X-Pitchfork-Status: No, score="),
        "{clean:?}"
    );
    assert!(
        !clean
            .iter()
            .any(|h| h.contains("99.00") || h.contains("FORGED"))
    );

    let pitch = pitchfork_headers(&copy("forgery-2@devshop.example"));
    let names: Vec<&str> = pitch.iter().map(|h| h.split(':').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "X-Pitchfork-Flag",
            "X-Pitchfork-Category",
            "X-Pitchfork-Score",
            "X-Pitchfork-Status"
        ],
        "{pitch:#?}"
    );
    assert_eq!(pitch[0], "X-Pitchfork-Flag: YES");
    assert!(
        pitch[3].starts_with("X-Pitchfork-Status: Yes, score="),
        "{pitch:?}"
    );
    assert!(!pitch.iter().any(|h| h.contains("-99")));
}
