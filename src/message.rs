//! The message as the scorer sees it: mail-parser decodes MIME, charsets,
//! transfer encodings and RFC 2047 words; HTML becomes the text a reader
//! sees ([`crate::html`]); quoted history, signature and postscript are
//! told apart (module `split`); then each text is normalised once
//! ([`crate::normalize`]) so that every test matches the same string.

mod split;

pub use crate::normalize::normalize;
use crate::{
    html,
    normalize::{Repairs, normalize_counting, normalize_lines},
};
use mail_parser::{HeaderName, Message, MessageParser, PartType};
use split::Parts;
use std::{borrow::Cow, sync::LazyLock};

/// Letters of hidden HTML text that make it a fact: a stray hidden word
/// or two is layout, a hidden sentence is meant for filters.
const HIDDEN_LETTERS: usize = 20;

/// Bytes of quoted history kept in [`MessageView::quoted`].
const MAX_QUOTED: usize = 32 * 1024;

/// The longest quotation in the new text that is read as someone else's
/// words (see [`set_aside_reported`]), in bytes of normalised text: about
/// a sentence (100 and 400 measured no better in cross-validation and on
/// real mail).
const MAX_REPORTED: usize = 200;

/// The largest char boundary of `text` at or below `max`.
fn floor_char_boundary(text: &str, max: usize) -> usize {
    (0..=max.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

/// The first `max` bytes of lines joined by `\n`, cut at a character
/// boundary, as lines again: the last one may be cut short. (Where the cut
/// drops a final `\n` the normalised text is the same: trailing space is
/// never kept.)
fn first_bytes<'a>(lines: &[&'a str], max: usize) -> Vec<&'a str> {
    let mut kept = Vec::new();
    let mut room = max;
    for line in lines {
        if line.len() >= room {
            kept.push(&line[..floor_char_boundary(line, room)]);
            break;
        }
        kept.push(*line);
        room -= line.len() + 1;
    }
    kept
}

/// Disguises normalisation must undo before the text counts as
/// obfuscated: one can be a typo or a pasted symbol, two are a habit.
const OBFUSCATIONS: u32 = 2;

/// mail-parser, reading only the headers the view needs with the parser
/// its default gives each (MIME headers, subject, sender, thread and list
/// headers); the others are kept raw. Parsing every `Received:`, `Date:`
/// and address header of a message cost a fifth of mail-parser's time for
/// nothing.
static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .header_text(HeaderName::Subject)
        .header_address(HeaderName::From)
        .header_id(HeaderName::InReplyTo)
        .header_id(HeaderName::References)
        .header_address(HeaderName::ListUnsubscribe)
        .header_address(HeaderName::ListId)
});

/// Facts about the message the detectors read.
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
    /// A 1×1, zero-sized or hidden remote image in the HTML.
    pub tracking_pixel: bool,
    /// The HTML hides text from the reader (display, size, colour).
    pub hidden_text: bool,
    /// Disguises normalisation undid in the subject and new text:
    /// look-alike letters, spaced-out letters, leetspeak, invisible
    /// characters inside words.
    pub obfuscations: u32,
    /// `obfuscations` reached two.
    pub obfuscated: bool,
    /// The quoted history is the sender's own earlier message: a
    /// follow-up, whose quoted text then counts as part of the body.
    pub quotes_self: bool,
    /// A forward with a note: the subject starts with a forward prefix
    /// (`Fwd:`, `WG:`, `TR:`, …) and a forwarded or quoted message follows
    /// the sender's own text; the sender's own earlier message counts only
    /// when forwarded within their domain.
    pub forwarded: bool,
}

/// A normalised message: lower-case text, single spaces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageView {
    pub subject: String,
    /// What the sender wrote now, as the reader sees it (the HTML
    /// alternative where there is one): signature and postscript included,
    /// quoted replies and forwarded messages left out, unless the sender
    /// quotes their own earlier message (see [`Facts::quotes_self`]), and
    /// so is what the sender quotes others as saying (between quotation
    /// marks; see `set_aside_reported`).
    pub body: String,
    /// Quoted replies (`> …`, `On … wrote:`) and forwarded or original
    /// messages: the first 32 KiB, one line per line, as written. No rule
    /// reads it, so it is not normalised (that cost 4 % of scoring on real
    /// mail, where replies carry long histories).
    pub quoted: String,
    /// The signature block (after `-- ` or a sign-off); also in `body`.
    pub signature: String,
    /// `P.S.` paragraphs; also in `body`.
    pub postscript: String,
    pub facts: Facts,
}

impl MessageView {
    /// Parses raw message bytes (headers, blank line, body). Never fails:
    /// a message mail-parser cannot read is scanned as raw text.
    pub fn parse(raw: &[u8], truncated: bool) -> Self {
        let mut view = match PARSER.parse(raw) {
            Some(message) if !message.parts.is_empty() => Self::from_message(&message),
            _ => Self::from_raw(raw),
        };
        view.facts.truncated = truncated;
        view
    }

    fn from_message(message: &Message<'_>) -> Self {
        let subject = message.subject().unwrap_or_default();
        let mut html = HtmlFacts::default();
        let texts = read_body(message, &mut html);
        let mut parts = Parts::default();
        texts.iter().for_each(|text| split::split(text, &mut parts));
        let precedence = message
            .header_raw(HeaderName::Other("Precedence".into()))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let quotes_self = quotes_sender(&parts.author, message);
        let facts = Facts {
            reply_subject: is_reply_subject(subject),
            // Forwarding one's own earlier message outside one's own
            // domain is a follow-up; within it, a note to colleagues.
            forwarded: is_forward_subject(subject)
                && !parts.quoted.is_empty()
                && (!quotes_self || to_own_domain(message)),
            references: !message.in_reply_to().is_empty() || !message.references().is_empty(),
            bulk: !message.list_unsubscribe().is_empty()
                || !message.list_id().is_empty()
                || precedence.contains("bulk")
                || precedence.contains("list"),
            tracking_pixel: html.tracking_pixel,
            hidden_text: html.hidden_letters >= HIDDEN_LETTERS,
            quotes_self,
            ..Facts::default()
        };
        Self::assemble(subject, &parts, facts)
    }

    fn from_raw(raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw);
        let body = text
            .split_once("\n\n")
            .or_else(|| text.split_once("\r\n\r\n"))
            .map_or(&*text, |(_, body)| body);
        let mut parts = Parts::default();
        split::split(body, &mut parts);
        let facts = Facts {
            unparseable: true,
            ..Facts::default()
        };
        Self::assemble("", &parts, facts)
    }

    /// Normalises the pieces and counts the disguises undone in what the
    /// sender wrote now (not in what they quoted).
    fn assemble(subject: &str, parts: &Parts, mut facts: Facts) -> Self {
        // The latest messages of a long thread are enough to read, and the
        // whole history would cost time on every reply.
        let mut quoted = first_bytes(&parts.quoted, MAX_QUOTED);
        // In a reply within a thread the subject is the thread's, written
        // by whoever started it, and in a forward with a note it is the
        // forwarded message's: it is read with the quoted history.
        let thread_subject = (facts.reply_subject && facts.references || facts.forwarded)
            && !facts.quotes_self
            && !parts.quoted.is_empty();
        let (subject, in_subject) = if thread_subject {
            quoted.insert(0, subject);
            (String::new(), Repairs::default())
        } else {
            normalize_counting(subject)
        };
        let (body, in_body) = if facts.quotes_self {
            // The new text, a blank line, the history.
            let lines = [&parts.new[..], &[""], &quoted].concat();
            normalize_lines(&lines)
        } else {
            normalize_lines(&parts.new)
        };
        let body = set_aside_reported(body);
        facts.obfuscations = in_subject.total() + in_body.total();
        facts.obfuscated = facts.obfuscations >= OBFUSCATIONS;
        Self {
            subject,
            body,
            quoted: quoted.join("\n"),
            signature: normalize_lines(&parts.signature).0,
            postscript: normalize_lines(&parts.postscript).0,
            facts,
        }
    }
}

/// Sets aside what the sender reports others as saying: the text between
/// two quotation marks at most [`MAX_REPORTED`] bytes apart. Normalisation
/// makes every double mark `"` and every single one `'`; a single mark
/// opens only where no letter or digit is before it and something is
/// after it, and closes only the other way round, so the apostrophes of
/// `we're`, `foto's` and `the firms' offers` open nothing. A buyer comparing
/// offers quotes one vendor's "strategic partnership for growth"; those
/// words are the vendor's, as a quoted reply's are, and read as the
/// sender's they made the comparison a pitch. The marks stay, with nothing
/// between. A mark with no partner near enough (inches, a typo) is passed
/// over.
fn set_aside_reported(body: String) -> String {
    let bytes = body.as_bytes();
    let before = |i: usize| body[..i].chars().next_back();
    let after = |i: usize| body[i + 1..].chars().next();
    let letter = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let space = |c: Option<char>| c.is_none_or(char::is_whitespace);
    let opens = |i: usize| !letter(before(i)) && !space(after(i));
    let closes = |i: usize| !space(before(i)) && !letter(after(i));
    // Built only once something is set aside: most mail quotes no one.
    let mut kept: Option<String> = None;
    let (mut copied, mut at) = (0, 0);
    while let Some(found) = memchr::memchr2(b'"', b'\'', &bytes[at..]) {
        let open = at + found;
        let mut window = open + 1..bytes.len().min(open + 2 + MAX_REPORTED);
        let close = match bytes[open] {
            b'"' => window.find(|&i| bytes[i] == b'"'),
            _ if opens(open) => window.find(|&i| bytes[i] == b'\'' && closes(i)),
            _ => None,
        };
        at = open + 1;
        if let Some(close) = close {
            kept.get_or_insert_with(|| String::with_capacity(body.len()))
                .push_str(&body[copied..=open]);
            (copied, at) = (close, close + 1);
        }
    }
    match kept {
        Some(mut kept) => {
            kept.push_str(&body[copied..]);
            kept
        }
        None => body,
    }
}

/// The text parts a reader sees: the HTML alternative where there is one
/// (a pitch may hide behind a harmless plain-text part), else the plain
/// text. mail-parser lists plain parts without an HTML alternative among
/// the HTML body parts too.
fn read_body<'m>(message: &'m Message<'_>, html: &mut HtmlFacts) -> Vec<Cow<'m, str>> {
    let part = |id: &u32| message.parts.get(*id as usize).map(|p| &p.body);
    let shown: Vec<Cow<'_, str>> = message
        .html_body
        .iter()
        .filter_map(|id| match part(id)? {
            PartType::Text(text) => Some(Cow::Borrowed(text.as_ref())),
            PartType::Html(source) => Some(Cow::Owned(html.read(source))),
            _ => None,
        })
        .collect();
    let plain: Vec<&str> = message
        .text_body
        .iter()
        .filter_map(|id| match part(id)? {
            PartType::Text(text) => Some(text.as_ref()),
            _ => None,
        })
        .collect();
    // An HTML part of images says little; its plain alternative says more.
    let html_len: usize = shown.iter().map(|t| t.len()).sum();
    let plain_len: usize = plain.iter().map(|t| t.len()).sum();
    if !shown.is_empty() && html_len * 4 >= plain_len {
        shown
    } else if !message.text_body.is_empty() {
        plain.into_iter().map(Cow::Borrowed).collect()
    } else if message.parts.len() == 1
        && let Some(PartType::Text(text)) = part(&0)
    {
        // A single text part with a content type mail-parser could not
        // read (`TEXT/PLAIN charset=US-ASCII`, no `;`) is filed as an
        // attachment; it is still the whole message.
        vec![Cow::Borrowed(text.as_ref())]
    } else {
        Vec::new()
    }
}

/// Whether the history's author line names the sender (address, or a
/// display name long enough to be one): a cold sender chasing their own
/// unanswered pitch quotes it below the nudge.
fn quotes_sender(author: &str, message: &Message<'_>) -> bool {
    let Some(sender) = message.from().and_then(|from| from.first()) else {
        return false;
    };
    let author = author.to_lowercase();
    let address = sender.address().unwrap_or_default().to_lowercase();
    let name = sender.name().unwrap_or_default().trim().to_lowercase();
    !author.is_empty()
        && ((address.contains('@') && author.contains(&address))
            || (name.len() >= 5 && author.contains(&name)))
}

/// Whether a recipient (`To`, `Cc`) shares the sender's domain. Asked only
/// of a forward of one's own message, so the two headers, which the parser
/// leaves raw, are searched as text.
fn to_own_domain(message: &Message<'_>) -> bool {
    let Some(own) = message
        .from()
        .and_then(|from| from.first())
        .and_then(|sender| sender.address())
        .and_then(|address| address.rsplit_once('@'))
        .map(|(_, domain)| format!("@{}", domain.to_ascii_lowercase()))
    else {
        return false;
    };
    [HeaderName::To, HeaderName::Cc]
        .into_iter()
        .filter_map(|name| message.header_raw(name))
        .any(|raw| {
            let raw = raw.to_ascii_lowercase();
            raw.match_indices(&own).any(|(at, _)| {
                raw[at + own.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '.' || c == '-'))
            })
        })
}

/// What the HTML parts of a message hid.
#[derive(Default)]
struct HtmlFacts {
    hidden_letters: usize,
    tracking_pixel: bool,
}

impl HtmlFacts {
    /// Converts one HTML part to visible text, noting what it hid.
    fn read(&mut self, source: &str) -> String {
        let html = html::to_text(source);
        self.hidden_letters += html.hidden_letters;
        self.tracking_pixel |= html.tracking_pixel;
        html.text
    }
}

/// `Re:` and its kin in the languages of the rules: `AW:` (German), `SV:`,
/// `Antw:` (Dutch), `RIF:` (Italian), `Odp:` (Polish), `RES:` and `REF:`
/// (Portuguese).
const REPLY_PREFIXES: [&str; 8] = ["re", "aw", "sv", "antw", "rif", "odp", "res", "ref"];

/// `Fwd:` and its kin: `WG:` (German), `TR:` (French), `RV:` (Spanish),
/// `ENC:` (Portuguese), `Doorst:` (Dutch), `I:` (Italian Outlook), `PD:`
/// (Polish).
const FORWARD_PREFIXES: [&str; 9] = ["fwd", "fw", "wg", "tr", "rv", "enc", "doorst", "i", "pd"];

fn is_forward_subject(subject: &str) -> bool {
    leading_prefix(subject).is_some_and(|(word, _)| is_one_of(word, &FORWARD_PREFIXES))
}

fn is_reply_subject(subject: &str) -> bool {
    leading_prefix(subject).is_some_and(|(word, _)| is_one_of(word, &REPLY_PREFIXES))
}

/// The subject without its leading reply and forward prefixes (`Re: Fwd:`),
/// for reading its words.
pub fn without_prefixes(subject: &str) -> &str {
    let mut rest = subject.trim_start();
    while let Some((word, after)) = leading_prefix(rest) {
        if !is_one_of(word, &REPLY_PREFIXES) && !is_one_of(word, &FORWARD_PREFIXES) {
            break;
        }
        rest = after;
    }
    rest
}

/// The text before the subject's first colon and the text after it, each
/// without the blanks around it.
fn leading_prefix(subject: &str) -> Option<(&str, &str)> {
    let subject = subject.trim_start();
    let colon = subject.find(':')?;
    Some((
        subject[..colon].trim_end(),
        subject[colon + 1..].trim_start(),
    ))
}

/// Whether `word` is one of `prefixes` (ASCII, lower case), in any case.
fn is_one_of(word: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| word.eq_ignore_ascii_case(p))
}

#[cfg(test)]
mod tests;
