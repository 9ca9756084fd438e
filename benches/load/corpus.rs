//! The messages a run sends: `.eml` files read once, split into headers and
//! body the way Postfix hands them to a milter, then encoded into milter
//! packets for one negotiation.

use crate::proto::{self, Event, Negotiated, cmd, flag};
use std::{
    fs,
    path::{Path, PathBuf},
};

/// A message as Postfix passes it on: header names, values as after the
/// colon with continuation lines joined by `\n` (Sendmail's form), and a
/// body with CRLF line ends.
pub struct Mail {
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Vec<u8>,
    /// Size of the file it came from.
    pub size: usize,
}

/// Every `*.eml` below `dir` (recursively) whose size is within the bounds,
/// in path order.
pub fn load(dir: &Path, min_size: usize, max_size: usize) -> Result<Vec<Mail>, String> {
    let mut paths = Vec::new();
    collect(dir, &mut paths).map_err(|e| format!("cannot read corpus {}: {e}", dir.display()))?;
    paths.sort();
    let mut mails = Vec::new();
    for path in paths {
        let raw = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if (min_size..=max_size).contains(&raw.len()) {
            mails.push(Mail::parse(&raw));
        }
    }
    if mails.is_empty() {
        return Err(format!(
            "no .eml of {min_size}..={max_size} bytes under {}",
            dir.display()
        ));
    }
    Ok(mails)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "eml") {
            out.push(path);
        }
    }
    Ok(())
}

impl Mail {
    /// Splits a file into headers and body; a line that is not a header
    /// starts the body, as in Postfix. An mbox `From ` line is dropped.
    pub fn parse(raw: &[u8]) -> Self {
        let mut lines = raw.split_inclusive(|&b| b == b'\n').peekable();
        if lines.peek().is_some_and(|l| l.starts_with(b"From ")) {
            lines.next();
        }
        let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut body = Vec::with_capacity(raw.len());
        let mut in_body = false;
        for line in lines {
            let text = line.trim_ascii_end();
            if in_body {
                body.extend_from_slice(text);
                body.extend_from_slice(b"\r\n");
            } else if text.is_empty() {
                in_body = true;
            } else if let (Some(last), true) = (headers.last_mut(), text[0].is_ascii_whitespace()) {
                last.1.push(b'\n');
                last.1.extend_from_slice(text);
            } else if let Some(colon) = text.iter().position(|&b| b == b':') {
                let value = &text[colon + 1..];
                headers.push((text[..colon].trim_ascii().to_vec(), value.to_vec()));
            } else {
                in_body = true;
                body.extend_from_slice(text);
                body.extend_from_slice(b"\r\n");
            }
        }
        Self {
            headers,
            body,
            size: raw.len(),
        }
    }

    /// A message of about `size` bytes of plain text, for the memory run.
    pub fn synthetic(size: usize) -> Self {
        let line = b"We would love to partner with you on a long list of services we sell.\r\n";
        let mut body = Vec::with_capacity(size + line.len());
        while body.len() < size {
            body.extend_from_slice(line);
        }
        let headers = [
            ("From", " Big Sender <big@vendor.example>"),
            ("To", " user@pitch.test"),
            ("Subject", " Partnership opportunity (a very long message)"),
            ("Message-ID", " <big-1@vendor.example>"),
        ];
        Self {
            headers: headers
                .iter()
                .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect(),
            size: body.len(),
            body,
        }
    }
}

/// When a segment of packets has been written, what to read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// One reply (continue, or a final verdict that ends the message).
    Reply,
    /// One reply to a body chunk, which may be `skip`.
    Body,
    /// Modifications, then the verdict.
    Final,
}

/// Packets to write up to (and including) one that waits for a reply.
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    pub end: usize,
    pub wait: Wait,
}

/// Steps encoded for one negotiation: `bytes` cut into segments; bytes
/// after the last segment expect no reply.
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub segments: Vec<Segment>,
}

impl Encoded {
    /// Splits a message before its end-of-message segment, to hold a
    /// connection mid-message.
    pub fn split_before_end(&self) -> (Encoded, Encoded) {
        let last = self.segments.len().saturating_sub(1);
        let cut = last.checked_sub(1).map_or(0, |i| self.segments[i].end);
        let head = Encoded {
            bytes: self.bytes[..cut].to_vec(),
            segments: self.segments[..last].to_vec(),
        };
        let tail = Encoded {
            bytes: self.bytes[cut..].to_vec(),
            segments: self.segments[last..]
                .iter()
                .map(|s| Segment {
                    end: s.end - cut,
                    wait: s.wait,
                })
                .collect(),
        };
        (head, tail)
    }
}

/// Builds packets for one negotiation, closing a segment after every packet
/// the MTA waits for.
pub struct Encoder<'a> {
    negotiated: &'a Negotiated,
    queue_id: String,
    bytes: Vec<u8>,
    segments: Vec<Segment>,
}

impl<'a> Encoder<'a> {
    pub fn new(negotiated: &'a Negotiated, queue_id: String) -> Self {
        Self {
            negotiated,
            queue_id,
            bytes: Vec::new(),
            segments: Vec::new(),
        }
    }

    /// The connection's first steps (CONNECT, HELO).
    pub fn connection(mut self) -> Encoded {
        let mut connect = b"localhost\0".to_vec();
        connect.push(b'4');
        connect.extend_from_slice(&40_000u16.to_be_bytes());
        connect.extend_from_slice(b"127.0.0.1\0");
        self.event(Event::Connect, &[&connect], Wait::Reply);
        self.event(Event::Helo, &[b"client.example.org\0"], Wait::Reply);
        self.finish()
    }

    /// One message, MAIL to end of body.
    pub fn message(mut self, mail: &Mail) -> Encoded {
        let sender = format!("<sender@example.org>\0SIZE={}\0", mail.size);
        self.event(Event::Mail, &[sender.as_bytes()], Wait::Reply);
        self.event(Event::Rcpt, &[b"<user@pitch.test>\0"], Wait::Reply);
        self.event(Event::Data, &[], Wait::Reply);
        for (name, value) in &mail.headers {
            // Postfix eats one space after the colon unless asked not to.
            let value = match value.strip_prefix(b" ") {
                Some(rest) if !self.negotiated.has(flag::HEADER_LEADING_SPACE) => rest,
                _ => value,
            };
            self.event(Event::Header, &[name, b"\0", value, b"\0"], Wait::Reply);
        }
        self.event(Event::Eoh, &[], Wait::Reply);
        for chunk in mail.body.chunks(proto::CHUNK) {
            self.event(Event::Body, &[chunk], Wait::Body);
        }
        self.event(Event::Eob, &[], Wait::Final);
        self.finish()
    }

    /// Packets after the last segment wait for nothing: they go out with
    /// whatever is written next.
    fn finish(self) -> Encoded {
        Encoded {
            bytes: self.bytes,
            segments: self.segments,
        }
    }

    /// Postfix sends the stage's macros before every step, even one the
    /// milter asked not to get, then the step unless it was declined.
    fn event(&mut self, event: Event, parts: &[&[u8]], wait: Wait) {
        self.macros(event);
        if !self.negotiated.sends(event) {
            return;
        }
        proto::packet(&mut self.bytes, event.command(), parts);
        if event == Event::Eob || self.negotiated.awaits_reply(event) {
            self.segments.push(Segment {
                end: self.bytes.len(),
                wait,
            });
        }
    }

    fn macros(&mut self, event: Event) {
        let mut payload = vec![event.command()];
        for name in self.negotiated.macro_names(event) {
            if let Some(value) = self.macro_value(event, name) {
                payload.extend_from_slice(name.as_bytes());
                payload.push(0);
                payload.extend_from_slice(value.as_bytes());
                payload.push(0);
            }
        }
        proto::packet(&mut self.bytes, cmd::MACRO, &[&payload]);
    }

    /// Values as Postfix has them for an unauthenticated client without
    /// TLS: the queue id exists from DATA on.
    fn macro_value(&self, event: Event, name: &str) -> Option<String> {
        let value = match name {
            "j" | "{daemon_name}" => "mta.pitch.test",
            "{daemon_addr}" => "127.0.0.1",
            "v" => "Postfix 3.7.11",
            "_" => "localhost [127.0.0.1]",
            "{mail_addr}" => "sender@example.org",
            "{mail_host}" | "{rcpt_host}" => "pitch.test",
            "{mail_mailer}" => "smtp",
            "{rcpt_addr}" => "user@pitch.test",
            "{rcpt_mailer}" => "virtual",
            "i" if !matches!(event, Event::Mail | Event::Rcpt) => &self.queue_id,
            _ => return None,
        };
        Some(value.to_owned())
    }
}
