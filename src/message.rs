//! The message as the scorer sees it: mail-parser decodes MIME, charsets,
//! transfer encodings, RFC 2047 words and HTML; the text is then normalised
//! once (case, whitespace, typography) so that every test matches the same
//! string.

use mail_parser::{HeaderName, Message, MessageParser};

/// Header-derived facts the detectors read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The scan stopped at `max_scan_bytes`.
    pub truncated: bool,
    /// MIME parsing failed; the body is the raw text after the headers.
    pub unparseable: bool,
    /// The subject starts with a reply prefix (`Re:`, `AW:`, `SV:`, …).
    pub reply_subject: bool,
    /// `In-Reply-To` or `References` is present.
    pub references: bool,
    /// `List-Unsubscribe`, `List-Id` or `Precedence: bulk/list`.
    pub bulk: bool,
}

/// A normalised message: lower-case text, single spaces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageView {
    pub subject: String,
    /// Every text part, HTML turned into text, quoted reply lines left out.
    pub body: String,
    pub facts: Facts,
}

impl MessageView {
    /// Parses raw message bytes (headers, blank line, body). Never fails:
    /// a message mail-parser cannot read is scanned as raw text.
    pub fn parse(raw: &[u8], truncated: bool) -> Self {
        let mut view = match MessageParser::default().parse(raw) {
            Some(message) if !message.parts.is_empty() => Self::from_message(&message),
            _ => Self::from_raw(raw),
        };
        view.facts.truncated = truncated;
        view
    }

    fn from_message(message: &Message<'_>) -> Self {
        let subject = message.subject().unwrap_or_default();
        let mut body = String::new();
        for i in 0..message.text_body_count() {
            if let Some(text) = message.body_text(i) {
                push_unquoted(&mut body, &text);
            }
        }
        let precedence = message
            .header_raw(HeaderName::Other("Precedence".into()))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let facts = Facts {
            reply_subject: is_reply_subject(subject),
            references: !message.in_reply_to().is_empty() || !message.references().is_empty(),
            bulk: !message.list_unsubscribe().is_empty()
                || !message.list_id().is_empty()
                || precedence.contains("bulk")
                || precedence.contains("list"),
            ..Facts::default()
        };
        Self {
            subject: normalize(subject),
            body: normalize(&body),
            facts,
        }
    }

    fn from_raw(raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw);
        let body = text
            .split_once("\n\n")
            .or_else(|| text.split_once("\r\n\r\n"))
            .map_or(&*text, |(_, body)| body);
        let mut unquoted = String::new();
        push_unquoted(&mut unquoted, body);
        Self {
            subject: String::new(),
            body: normalize(&unquoted),
            facts: Facts {
                unparseable: true,
                ..Facts::default()
            },
        }
    }
}

/// Appends text without the lines quoted from earlier messages (`> …`): a
/// reply that quotes a pitch is not itself a pitch.
fn push_unquoted(out: &mut String, text: &str) {
    for line in text.lines() {
        if !line.trim_start().starts_with('>') {
            out.push_str(line);
            out.push('\n');
        }
    }
}

fn is_reply_subject(subject: &str) -> bool {
    let lower = subject.trim_start().to_lowercase();
    [
        "re:", "re :", "aw:", "sv:", "antw:", "rif:", "odp:", "res:", "ref:",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
}

/// Lower-cases, unifies typographic quotes and dashes, drops invisible
/// characters and collapses whitespace to single spaces. Rule phrases are
/// written in this form, and the rule loader checks that they are.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for c in text.chars() {
        let c = match c {
            '\u{2018}' | '\u{2019}' | '\u{02bc}' | '`' | '\u{00b4}' => '\'',
            '\u{201c}' | '\u{201d}' | '\u{00ab}' | '\u{00bb}' | '\u{201e}' => '"',
            '\u{2010}'..='\u{2015}' => '-',
            // Zero-width characters and soft hyphens hide inside words.
            '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{00ad}' => continue,
            c => c,
        };
        if c.is_whitespace() || c.is_control() {
            if !space {
                out.push(' ');
                space = true;
            }
            continue;
        }
        out.extend(c.to_lowercase());
        space = false;
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_case_space_and_typography() {
        let cases = [
            ("  We’d LOVE\tto\r\n partner ", "we'd love to partner"),
            ("part\u{200b}ner\u{00ad}ship", "partnership"),
            ("“quoted” — dash", "\"quoted\" - dash"),
            ("ÉQUIPE Straße", "équipe straße"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input), expected, "{input:?}");
        }
    }

    #[test]
    fn decodes_encoded_subject_and_html_body() {
        let raw = b"Subject: =?UTF-8?B?UGFydG5lcnNoaXAgb3Bwb3J0dW5pdHk=?=\r\n\
            Content-Type: text/html; charset=utf-8\r\n\r\n\
            <p>We would <b>like</b> to partner</p>";
        let view = MessageView::parse(raw, false);
        assert_eq!(view.subject, "partnership opportunity");
        assert!(
            view.body.contains("we would like to partner"),
            "{}",
            view.body
        );
    }

    #[test]
    fn decodes_quoted_printable_and_latin1() {
        let raw = b"Subject: x\nContent-Type: text/plain; charset=iso-8859-1\n\
            Content-Transfer-Encoding: quoted-printable\n\n\
            Gr=FC=DFe, wir m=F6chten kooperieren=\n n";
        let view = MessageView::parse(raw, false);
        assert_eq!(view.body, "grüße, wir möchten kooperieren n");
    }

    #[test]
    fn leaves_out_quoted_reply_lines() {
        let raw =
            b"Subject: Re: hi\nIn-Reply-To: <a@b>\n\nThanks, no.\n> We would like to partner\n";
        let view = MessageView::parse(raw, false);
        assert_eq!(view.body, "thanks, no.");
        assert!(view.facts.reply_subject && view.facts.references);
    }

    #[test]
    fn detects_bulk_and_fake_reply_facts() {
        let raw = b"Subject: RE: our call\nList-Unsubscribe: <mailto:u@example.com>\n\nHello";
        let facts = MessageView::parse(raw, true).facts;
        assert!(facts.reply_subject && !facts.references && facts.bulk && facts.truncated);
    }

    #[test]
    fn garbage_still_gives_a_view() {
        let view = MessageView::parse(b"", false);
        assert!(view.facts.unparseable);
        let view = MessageView::parse(&[0xff, 0xfe, b'\n', b'\n', b'o', b'k'], false);
        assert!(view.body.ends_with("ok"), "{:?}", view.body);
    }
}
