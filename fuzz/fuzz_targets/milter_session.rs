//! A sequence of milter commands, framed as on the wire (a 4-byte
//! big-endian length, the command letter libmilter uses, the payload),
//! through the per-message logic the daemon runs: MAIL
//! starts a [`Session`] with a byte cap, headers and body chunks feed it,
//! ABORT drops it, end of message judges it and lists the forged
//! `X-Pitchfork-*` headers to delete.
//!
//! Checked on every end of message: judging never fails, and the forged
//! headers come as the milter protocol addresses them — per name (any
//! letter case), indices 1..=n, highest first so deleting one never shifts
//! another.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pitchfork::{action::is_own_header, engine::Engine, session::Session};
use std::{collections::HashMap, sync::LazyLock};

static ENGINE: LazyLock<Engine> =
    LazyLock::new(|| Engine::load(None).expect("the built-in configuration loads"));

/// A message in progress and the forged headers it was sent, as a check.
struct Message {
    session: Session,
    own: Vec<String>,
}

fuzz_target!(|data: &[u8]| {
    // The first two bytes pick the byte cap, small enough to be reached.
    let Some((cap, mut rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let limit = 16 + usize::from(u16::from_be_bytes(*cap));
    let mut message: Option<Message> = None;
    while let Some((command, payload, tail)) = packet(rest) {
        rest = tail;
        match command {
            b'M' => {
                message = Some(Message {
                    session: Session::new(limit),
                    own: Vec::new(),
                })
            }
            b'L' => {
                if let (Some(m), Some((name, value))) = (message.as_mut(), header(payload)) {
                    if is_own_header(&name) {
                        m.own.push(name.clone());
                    }
                    m.session.header(&name, value);
                }
            }
            b'N' => {
                if let Some(m) = message.as_mut() {
                    m.session.end_of_headers();
                }
            }
            b'B' => {
                if let Some(m) = message.as_mut() {
                    let kept_all = m.session.body(payload);
                    assert_eq!(kept_all, !m.session.truncated());
                }
            }
            b'E' => {
                if let Some(m) = message.take() {
                    end_of_message(&m);
                }
            }
            b'A' => message = None,
            _ => {}
        }
    }
});

/// Splits one `length, command, payload` packet off the front.
fn packet(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (length, rest) = data.split_first_chunk::<4>()?;
    let length = u32::from_be_bytes(*length) as usize % 4096;
    let (&command, rest) = rest.split_first()?;
    let length = length.min(rest.len());
    Some((command, &rest[..length], &rest[length..]))
}

/// A header packet: `name NUL value NUL`, as indymilter hands it on.
fn header(payload: &[u8]) -> Option<(String, &[u8])> {
    let mut fields = payload.split(|&b| b == 0);
    let name = String::from_utf8_lossy(fields.next()?).into_owned();
    Some((name, fields.next().unwrap_or_default()))
}

fn end_of_message(m: &Message) {
    let decision = m.session.judge(&ENGINE).expect("scoring does not panic");
    assert!(decision.score.is_finite());
    let forged = m.session.forged_headers();
    assert_eq!(forged.len(), m.own.len());
    let mut expected: HashMap<String, i32> = HashMap::new();
    for name in &m.own {
        *expected.entry(name.to_ascii_lowercase()).or_default() += 1;
    }
    let mut seen: HashMap<String, Vec<i32>> = HashMap::new();
    for window in forged.windows(2) {
        assert!(window[0].1 >= window[1].1, "not highest first: {forged:?}");
    }
    for (name, index) in &forged {
        seen.entry(name.to_ascii_lowercase())
            .or_default()
            .push(*index);
    }
    for (name, mut indices) in seen {
        indices.sort_unstable();
        let count = expected[&name];
        assert_eq!(indices, (1..=count).collect::<Vec<_>>(), "{name}");
    }
}
