//! Per-message state: the headers and body as the MTA hands them over,
//! kept only up to `max_scan_bytes`, and the forged `X-Pitchfork-*` headers
//! to remove. `pitchfork check` feeds files through the same steps.

use crate::{
    action::Decision,
    action::is_own_header,
    engine::{Ask, Engine, Prepared},
};
use std::{
    collections::HashMap,
    panic::{AssertUnwindSafe, catch_unwind},
};

/// Scoring panicked on a message. The panic's own text may quote the
/// message, so it is kept apart from the displayed error and belongs in
/// debug logs only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Panicked {
    pub payload: String,
}

impl std::fmt::Display for Panicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scoring panicked")
    }
}

impl std::error::Error for Panicked {}

/// Bytes reserved for a message when its session starts: most mail fits
/// (the median of real mail is about 4 KB), and a longer message grows the
/// buffer as it arrives. Every open connection holds this much, so it is
/// what 1,000 connections mid-message cost first.
const INITIAL_BUFFER: usize = 8 * 1024;

/// One message being received.
#[derive(Debug)]
pub struct Session {
    /// The message rebuilt as `Name: value` lines, a blank line and the
    /// body; never longer than `limit`.
    buffer: Vec<u8>,
    limit: usize,
    truncated: bool,
    in_body: bool,
    /// Our own header names seen so far, lower-cased, with their counts:
    /// the milter protocol addresses the n-th occurrence of a name.
    own_counts: HashMap<String, i32>,
    /// `(name, index)` of each arrived `X-Pitchfork-*` header.
    own_headers: Vec<(String, i32)>,
}

impl Session {
    /// A session that keeps at most `limit` bytes of the message.
    pub fn new(limit: usize) -> Self {
        Self {
            buffer: Vec::with_capacity(limit.min(INITIAL_BUFFER)),
            limit,
            truncated: false,
            in_body: false,
            own_counts: HashMap::new(),
            own_headers: Vec::new(),
        }
    }

    /// Feeds a whole message from a file: an mbox `From ` line is skipped,
    /// headers are split and unfolded as an MTA does, the rest is body.
    pub fn from_bytes(raw: &[u8], limit: usize) -> Self {
        let mut session = Self::new(limit);
        let raw = skip_mbox_line(raw);
        let (headers, body) = split_headers(raw);
        for (name, value) in headers {
            session.header(&name, &value);
        }
        session.end_of_headers();
        session.body(body);
        session
    }

    /// Records one header.
    pub fn header(&mut self, name: &str, value: &[u8]) {
        if is_own_header(name) {
            let count = self
                .own_counts
                .entry(name.to_ascii_lowercase())
                .or_insert(0);
            *count += 1;
            self.own_headers.push((name.to_owned(), *count));
            // A forged verdict is removed, so it is not scanned either.
            return;
        }
        self.keep(name.as_bytes());
        self.keep(b": ");
        self.keep(value);
        self.keep(b"\r\n");
    }

    /// Marks the end of the headers.
    pub fn end_of_headers(&mut self) {
        if !self.in_body {
            self.keep(b"\r\n");
            self.in_body = true;
        }
    }

    /// Records a body chunk. Returns `false` once the limit is reached and
    /// further chunks would be thrown away.
    pub fn body(&mut self, chunk: &[u8]) -> bool {
        self.end_of_headers();
        self.keep(chunk);
        !self.truncated
    }

    /// The arrived `X-Pitchfork-*` headers as `(name, index)`, highest index
    /// first, so that deleting one never shifts the index of another.
    pub fn forged_headers(&self) -> Vec<(String, i32)> {
        let mut headers = self.own_headers.clone();
        headers.sort_by_key(|h| std::cmp::Reverse(h.1));
        headers
    }

    /// Whether part of the message was not kept.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The message as the scorer sees it.
    pub fn view(&self) -> crate::message::MessageView {
        crate::message::MessageView::parse(&self.buffer, self.truncated)
    }

    /// Judges the message with a snapshot, without the state store. A
    /// panic in the scoring core (or in the MIME parser below it) becomes
    /// an error for this message alone.
    pub fn judge(&self, engine: &Engine) -> Result<Decision, Panicked> {
        isolate(|| engine.judge(&self.buffer, self.truncated))
    }

    /// The first half of [`Engine::judge`], panics isolated as in
    /// [`Session::judge`].
    pub fn prepare(&self, engine: &Engine, ask: Option<Ask>) -> Result<Prepared, Panicked> {
        isolate(|| engine.prepare(&self.buffer, self.truncated, ask))
    }

    /// The raw message as kept (for the identity headers of outbound mail).
    pub fn raw(&self) -> &[u8] {
        &self.buffer
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.buffer.len());
        if bytes.len() > room {
            self.truncated = true;
        }
        self.buffer
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

/// Runs part of the scoring core; a panic becomes an error.
pub fn isolate<T>(f: impl FnOnce() -> T) -> Result<T, Panicked> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| Panicked {
        payload: panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default(),
    })
}

fn skip_mbox_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        let end = raw
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| i + 1);
        &raw[end..]
    } else {
        raw
    }
}

/// Splits a message into unfolded `(name, value)` headers and the body. A
/// line that is not a header ends the header section, as in Postfix.
fn split_headers(raw: &[u8]) -> (Vec<(String, Vec<u8>)>, &[u8]) {
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = trim_eol(&rest[..end]);
        if line.is_empty() {
            return (headers, &rest[end..]);
        }
        match (line[0], headers.last_mut()) {
            (b' ' | b'\t', Some((_, value))) => {
                value.extend_from_slice(b"\r\n");
                value.extend_from_slice(line);
            }
            _ => match header_line(line) {
                Some(header) => headers.push(header),
                None => return (headers, rest),
            },
        }
        rest = &rest[end..];
    }
    (headers, rest)
}

fn header_line(line: &[u8]) -> Option<(String, Vec<u8>)> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = std::str::from_utf8(&line[..colon]).ok()?.trim_end();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let value = line[colon + 1..].trim_ascii_start();
    Some((name.to_owned(), value.to_vec()))
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_unfolds_and_skips_mbox_line() {
        let raw = b"From someone Mon Jan 1\nSubject: one\n two\r\nX-A: b\n\nbody\n";
        let session = Session::from_bytes(raw, 1000);
        assert_eq!(
            session.buffer,
            b"Subject: one\r\n two\r\nX-A: b\r\n\r\nbody\n"
        );
        assert!(!session.truncated());
    }

    #[test]
    fn a_non_header_line_starts_the_body() {
        let (headers, body) = split_headers(b"Subject: x\nthis is body\n");
        assert_eq!(headers.len(), 1);
        assert_eq!(body, b"this is body\n");
    }

    #[test]
    fn keeps_no_more_than_the_limit() {
        let mut session = Session::new(40);
        session.header("Subject", b"hello");
        assert!(session.body(&[b'a'; 20]));
        assert!(!session.body(&[b'b'; 20]));
        assert_eq!(session.buffer.len(), 40);
        assert!(session.truncated());
    }

    #[test]
    fn forged_headers_are_indexed_per_name_and_not_scanned() {
        let mut session = Session::new(1000);
        session.header("X-Pitchfork-Flag", b"YES");
        session.header("Subject", b"hi");
        session.header("x-pitchfork-flag", b"YES");
        session.header("X-PITCHFORK-Status", b"");
        let forged = session.forged_headers();
        assert_eq!(
            forged,
            [
                ("x-pitchfork-flag".to_owned(), 2),
                ("X-Pitchfork-Flag".to_owned(), 1),
                ("X-PITCHFORK-Status".to_owned(), 1),
            ]
        );
        assert!(!String::from_utf8_lossy(&session.buffer).contains("YES"));
    }
}
