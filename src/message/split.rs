//! Splits the text of a message into what the sender wrote now and what it
//! carries along: quoted replies and forwarded messages (left out of the
//! body, since a reply quoting a pitch is not a pitch), the signature and
//! the postscript (kept in the body, and also found on their own). Works on
//! lines of decoded text, before normalisation, in the languages of the
//! rules.

/// Text parts taken apart: each field but `author` is lines borrowed from
/// the text (a copy would cost time and, for a message as long as
/// `max_scan_bytes`, as much memory again).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parts<'a> {
    /// Everything but the quoted history: the body as rules see it.
    pub new: Vec<&'a str>,
    pub quoted: Vec<&'a str>,
    pub signature: Vec<&'a str>,
    pub postscript: Vec<&'a str>,
    /// The first line of the history that names its author (`From: …`,
    /// `On … Ann <a@b.c> wrote:`), to tell a sender quoting their own
    /// earlier message.
    pub author: String,
}

/// Splits one text part and appends its pieces to `parts`.
pub fn split<'a>(text: &'a str, parts: &mut Parts<'a>) {
    let lines = bounded_lines(text);
    let history = history_start(&lines).unwrap_or(lines.len());
    let first_new = parts.new.len();
    let mut i = 0;
    while i < history {
        let line = lines[i];
        if line.trim_start().starts_with('>') {
            parts.quoted.push(line);
        } else if let Some(len) = quoting_attribution(&lines[i..history]) {
            parts.quoted.extend_from_slice(&lines[i..i + len]);
            if parts.author.is_empty() {
                parts.author = lines[i..i + len].join(" ");
            }
            i += len;
            continue;
        } else {
            parts.new.push(line);
        }
        i += 1;
    }
    parts.quoted.extend_from_slice(&lines[history..]);
    if parts.author.is_empty()
        && let Some(author) = lines[history..].iter().find(|l| names_author(l))
    {
        parts.author = (*author).to_owned();
    }
    let new = &parts.new[first_new..];
    let postscript = postscript_lines(new);
    let in_postscript = new.iter().zip(&postscript).filter(|(_, ps)| **ps);
    parts
        .postscript
        .extend(in_postscript.map(|(line, _)| *line));
    if let Some(start) = signature_start(new, &postscript) {
        let lines = new.iter().zip(&postscript).skip(start);
        let signature = lines.filter(|(_, ps)| !**ps).map(|(line, _)| *line);
        parts.signature.extend(signature);
    }
}

/// Text parts are taken apart line by line up to this many lines, then in
/// groups of lines (see [`bounded_lines`]). Each entry costs 16 bytes in
/// each list it is in, so a part of `max_scan_bytes` made of one-letter
/// lines would otherwise need eight times its size in each list.
const MAX_LINES: usize = 8192;

/// Past [`MAX_LINES`], lines go together up to the first line end this
/// many bytes on.
const GROUP: usize = 4096;

/// A line longer than this is cut at the first space past it (within as
/// many bytes again, else twice this far on), so that normalisation, which
/// works a paragraph at a time, can work a piece at a time on a message
/// that is one long line.
const LONG_LINE: usize = 64 * 1024;

/// The lines of `text` as [`str::lines`] reads them, within bounds: past
/// [`MAX_LINES`] lines each entry is a group of lines (line ends inside),
/// and a line longer than [`LONG_LINE`] is cut in pieces.
fn bounded_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let from = if lines.len() < MAX_LINES {
            0
        } else {
            // Not past the text's last byte, which may end its last line.
            rest.ceil_char_boundary(GROUP.min(rest.len() - 1))
        };
        let (mut end, mut next, mut line_end) = match rest[from..].find('\n') {
            Some(i) => (from + i, from + i + 1, true),
            None => (rest.len(), rest.len(), false),
        };
        if end > LONG_LINE {
            let window = &rest.as_bytes()[LONG_LINE..end.min(2 * LONG_LINE)];
            if let Some(i) = window.iter().position(|&b| b == b' ') {
                (end, next, line_end) = (LONG_LINE + i, LONG_LINE + i + 1, false);
            } else if end > 2 * LONG_LINE {
                // No space to cut at: a word as long as that is not one.
                let at = rest.ceil_char_boundary(2 * LONG_LINE);
                (end, next, line_end) = (at, at, false);
            }
        }
        let line = &rest[..end];
        let line = match line.strip_suffix('\r') {
            Some(stripped) if line_end => stripped,
            _ => line,
        };
        lines.push(line);
        rest = &rest[next..];
    }
    lines
}

/// Lower-cased and trimmed, with the `*` that plain-text renderings of
/// bold HTML put around header names (`*From:* …`) taken off.
fn plain(line: &str) -> String {
    line.trim()
        .trim_start_matches(['*', '>', ' '])
        .to_lowercase()
        .replace('*', "")
}

/// Where quoted history without `>` marks starts: a forwarded or original
/// message separator, an Outlook header block, or an attribution line
/// (`On … wrote:`) not followed by `>` lines. Everything from there on is
/// history.
fn history_start(lines: &[&str]) -> Option<usize> {
    let mut written = false;
    (0..lines.len()).find(|&i| {
        let line = lines[i].trim_start();
        if is_groupwise_header(line) {
            return true;
        }
        // A separator inside `>` quoting belongs to that quote.
        if line.starts_with('>') {
            return false;
        }
        let found = is_separator(line)
            || is_header_block(&lines[i..])
            || (written && unmarked_attribution(&lines[i..]));
        written |= !line.is_empty();
        found
    })
}

/// An attribution in the usual form (`On …`, `Am …`) with no `>` lines
/// after it: Outlook's way of quoting below a top-posted answer. Only after
/// some new text; at the top it introduces a bottom-posted answer.
fn unmarked_attribution(lines: &[&str]) -> bool {
    attribution(lines).is_some_and(|len| {
        let next = lines[len..].iter().find(|l| !l.trim().is_empty());
        starts_with_any(&plain(lines[0]), ATTRIBUTION_STARTS)
            && next.is_some_and(|l| !l.trim_start().starts_with('>'))
    })
}

/// GroupWise's line above the message it quotes, unquoted below it:
/// `>>> "Ann Lee" <ann@example.com> 02/10/06 4:48 PM >>>`.
fn is_groupwise_header(line: &str) -> bool {
    let line = line.trim_end();
    line.len() > 8 && line.starts_with(">>> ") && line.ends_with(" >>>")
}

/// Separator lines of forwarded and original messages in the languages of
/// the rules (`-----Original Message-----`, `---------- Forwarded message
/// ---------`, Apple Mail's `Begin forwarded message:`).
const SEPARATORS: &[&str] = &[
    "original message",
    "forwarded message",
    // Lotus Notes: `----- Forwarded by Ann Lee/HOU/ECT on 05/14/2001 -----`
    "forwarded by",
    "ursprüngliche nachricht",
    "weitergeleitete nachricht",
    "message d'origine",
    "message transféré",
    "message réexpédié",
    "mensaje original",
    "mensaje reenviado",
    "mensagem original",
    "mensagem encaminhada",
    "mensagem reencaminhada",
    "oorspronkelijk bericht",
    "doorgestuurd bericht",
    "messaggio originale",
    "messaggio inoltrato",
    "wiadomość oryginalna",
    "oryginalna wiadomość",
    "przekazana wiadomość",
    "wiadomość przekazana",
];

fn is_separator(line: &str) -> bool {
    let trimmed = line.trim();
    if trimmed.len() > 160 || !(trimmed.starts_with(['-', '_', '=']) || trimmed.ends_with(':')) {
        return false;
    }
    let lower = plain(trimmed).replace('\u{2019}', "'");
    let framed = trimmed.starts_with(['-', '_', '=']) || lower.ends_with(':');
    framed && SEPARATORS.iter().any(|s| lower.contains(s))
}

/// Header names of a quoted message in Outlook's style, per language.
const FROM: &[&str] = &[
    "from:", "von:", "de:", "de :", "van:", "da:", "od:", "från:", "fra:",
];
const DATE: &[&str] = &[
    "sent:",
    "date:",
    "gesendet:",
    "datum:",
    "envoyé:",
    "envoyé :",
    "date :",
    "enviado:",
    "enviado el:",
    "fecha:",
    "enviada em:",
    "verzonden:",
    "inviato:",
    "data:",
    "wysłano:",
    "wysłane:",
    "skickat:",
    "sendt:",
];
const TO: &[&str] = &[
    "to:",
    "an:",
    "à:",
    "à :",
    "para:",
    "aan:",
    "a:",
    "do:",
    "subject:",
    "betreff:",
    "objet:",
    "objet :",
    "asunto:",
    "assunto:",
    "onderwerp:",
    "oggetto:",
    "temat:",
    "cc:",
];

/// `From:` followed within a few lines by a date and a recipient or
/// subject: the header block Outlook writes above a quoted message.
fn is_header_block(lines: &[&str]) -> bool {
    if !names_sender(lines[0]) {
        return false;
    }
    let next: Vec<String> = lines.iter().skip(1).take(5).map(|l| plain(l)).collect();
    next.iter().any(|l| starts_with_any(l, DATE)) && next.iter().any(|l| starts_with_any(l, TO))
}

/// A `From:` header line or an attribution line.
fn names_author(line: &str) -> bool {
    names_sender(line) || attribution(&[line]).is_some()
}

/// A `From:` header line (`*From:*` in plain renderings of HTML).
fn names_sender(line: &str) -> bool {
    let start = line.trim_start_matches(['*', '>', ' ', '\t']);
    // Cheap before exact: most lines start with no header name at all,
    // and most not even with a letter one starts with.
    let first = start.bytes().next().map(|b| b.to_ascii_lowercase());
    if !FROM.iter().any(|name| name.bytes().next() == first) {
        return false;
    }
    let maybe = FROM.iter().any(|name| {
        let bare = name.trim_end_matches([':', ' ']);
        start
            .get(..bare.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(bare))
            && start[bare.len()..].starts_with([':', '*', ' '])
    });
    maybe && starts_with_any(&plain(line), FROM)
}

fn starts_with_any(text: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| text.starts_with(p))
}

/// How attribution lines begin (`On`, `Am`, `Le`, …): only these make the
/// rest of the text history when no `>` marks follow.
const ATTRIBUTION_STARTS: &[&str] = &[
    "on ", "am ", "le ", "el ", "em ", "op ", "il ", "w dniu ", "dnia ",
];

/// How attribution lines end, per language.
const ATTRIBUTION_ENDS: &[&str] = &[
    "wrote:",
    "schrieb:",
    "a écrit:",
    "a écrit :",
    "escribió:",
    "escreveu:",
    "schreef:",
    "ha scritto:",
    "napisał:",
    "napisała:",
    "napisał(a):",
    "pisze:",
];

/// If an attribution (`On Mon, 1 Jan 2024, Ann <a@b.c> wrote:`, `Am … schrieb
/// …:`, `Le … a écrit :`) starts `lines`, how many lines it takes: mail
/// clients wrap long ones onto a second line.
fn attribution(lines: &[&str]) -> Option<usize> {
    let colon_ends = |i: usize| lines.get(i).is_some_and(|l| l.trim_end().ends_with(':'));
    if !colon_ends(0) && !colon_ends(1) {
        return None;
    }
    // Cheap before exact: an attribution starts or ends in a known way.
    let start = lines[0].trim_start_matches(['*', '>', ' ', '\t']);
    let known_start = ATTRIBUTION_STARTS.iter().any(|p| {
        start
            .get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p))
    });
    let known_end = |line: &str| {
        let line = line.trim_end();
        ATTRIBUTION_ENDS.iter().any(|end| {
            line.len() >= end.len()
                && line
                    .get(line.len() - end.len()..)
                    .is_some_and(|t| t.eq_ignore_ascii_case(end))
        })
    };
    if !known_start && !known_end(lines[0]) {
        return None;
    }
    let first = plain(lines.first()?);
    if first.is_empty() || first.len() > 300 {
        return None;
    }
    if ends_attribution(&first) {
        return Some(1);
    }
    let second = plain(lines.get(1)?);
    (starts_with_any(&first, ATTRIBUTION_STARTS) && second.len() < 200 && ends_attribution(&second))
        .then_some(2)
}

/// An attribution line before `>` lines (`Ann wrote:`), or one in the usual
/// form (`On …`, `Am …`): how many lines it takes. `As our client wrote:`
/// before a testimonial stays.
fn quoting_attribution(lines: &[&str]) -> Option<usize> {
    let len = attribution(lines)?;
    let next = lines[len..].iter().find(|l| !l.trim().is_empty());
    let usual = starts_with_any(&plain(lines[0]), ATTRIBUTION_STARTS);
    (usual || next.is_some_and(|l| l.trim_start().starts_with('>'))).then_some(len)
}

fn ends_attribution(line: &str) -> bool {
    let line = line.trim_end();
    ATTRIBUTION_ENDS.iter().any(|end| line.ends_with(end))
        || (line.starts_with("am ") && line.contains(" schrieb ") && line.ends_with(':'))
        || (line.starts_with("op ") && line.contains(" schreef ") && line.ends_with(':'))
}

/// Marks the lines of P.S. paragraphs: from a `P.S.`, `PS:`, `P.P.S.` line
/// to the next blank line.
fn postscript_lines(lines: &[&str]) -> Vec<bool> {
    let mut marks = Vec::with_capacity(lines.len());
    let mut inside = false;
    for line in lines {
        if line.trim().is_empty() {
            inside = false;
        } else if is_postscript(line) {
            inside = true;
        }
        marks.push(inside);
    }
    marks
}

fn is_postscript(line: &str) -> bool {
    let line = line.trim_start();
    if !line.starts_with(['p', 'P']) {
        return false;
    }
    // The longest prefix and the character after it decide.
    let lower = lower_start(line, 6);
    let rest = lower
        .strip_prefix("p.p.s")
        .or_else(|| lower.strip_prefix("p. s"))
        .or_else(|| lower.strip_prefix("p.s"))
        .or_else(|| lower.strip_prefix("pps"))
        .or_else(|| lower.strip_prefix("ps"));
    rest.is_some_and(|rest| rest.starts_with(['.', ':', '-', ' ', '\u{2013}']) || rest.is_empty())
}

/// Sign-offs before a signature, per language.
const SIGN_OFFS: &[&str] = &[
    "best",
    "best regards",
    "kind regards",
    "warm regards",
    "warmest regards",
    "regards",
    "many thanks",
    "thanks",
    "thank you",
    "thanks again",
    "thanks in advance",
    "cheers",
    "sincerely",
    "yours sincerely",
    "yours truly",
    "yours",
    "all the best",
    "best wishes",
    "talk soon",
    "warmly",
    "respectfully",
    "br",
    "mit freundlichen grüßen",
    "mit freundlichen grüssen",
    "freundliche grüße",
    "viele grüße",
    "beste grüße",
    "liebe grüße",
    "herzliche grüße",
    "grüße",
    "gruß",
    "cordialement",
    "bien cordialement",
    "bien à vous",
    "salutations",
    "meilleures salutations",
    "merci",
    "saludos",
    "un saludo",
    "saludos cordiales",
    "atentamente",
    "gracias",
    "atenciosamente",
    "cumprimentos",
    "abraços",
    "obrigado",
    "obrigada",
    "met vriendelijke groet",
    "vriendelijke groet",
    "groeten",
    "hartelijke groet",
    "cordiali saluti",
    "distinti saluti",
    "saluti",
    "grazie",
    "pozdrawiam",
    "z poważaniem",
    "serdecznie pozdrawiam",
    "dziękuję",
];

/// Mobile clients' one-line signatures.
const SENT_FROM: &[&str] = &[
    "sent from my",
    "von meinem",
    "envoyé de mon",
    "enviado desde mi",
    "enviado do meu",
    "verzonden vanaf mijn",
    "inviato da",
    "wysłane z",
];

/// Sign-offs with a name after them are at most this many characters.
const MAX_SIGN_OFF: usize = 50;

/// The first `chars` characters of `text`, lower-cased: what prefix tests
/// read of a line, without lower-casing all of it. The lower case of a
/// prefix is a prefix of the lower case, up to the last character (a
/// final sigma depends on what follows) and never shorter than `chars`.
fn lower_start(text: &str, chars: usize) -> String {
    let end = text
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i);
    text[..end].to_lowercase()
}

/// Whether a trimmed, lower-cased line (or its first `MAX_SIGN_OFF + 1`
/// characters) is a sign-off, alone or followed by a short name
/// (`Best regards,`, `Thanks, Anna`, `Cheers - Mike`).
fn is_sign_off(lower: &str) -> bool {
    if lower.is_empty() || lower.chars().count() > MAX_SIGN_OFF {
        return false;
    }
    let words = |s: &str| s.split_whitespace().count();
    SIGN_OFFS.iter().any(|s| {
        let Some(rest) = lower.strip_prefix(s) else {
            return false;
        };
        let after = rest.trim_start();
        let name = after.trim_start_matches([',', '.', '!', '-', '\u{2013}', ' ']);
        // `Bestätigung` is a word and `Thanks for your time` a sentence;
        // `Thanks, Anna` and `Cheers - Mike` are sign-offs.
        let punctuated = name.len() < after.len();
        !rest.starts_with(char::is_alphanumeric)
            && (after.is_empty() || (punctuated && words(name) <= 3))
    })
}

/// Where the signature starts, among the new lines: after a `-- ` line, at a
/// `Sent from my …` line, after the last sign-off that is followed by at
/// most eight non-blank lines (P.S. lines not counted), or else at a last
/// paragraph that reads as a name block (see [`name_block_start`]).
fn signature_start(lines: &[&str], postscript: &[bool]) -> Option<usize> {
    if let Some(dash) = lines.iter().position(|l| l.trim_end() == "--") {
        return Some(dash + 1);
    }
    let mut after = 0;
    for i in (0..lines.len()).rev() {
        let line = lines[i];
        if postscript[i] || line.trim().is_empty() {
            continue;
        }
        let lower = lower_start(line.trim(), MAX_SIGN_OFF + 1);
        if starts_with_any(&lower, SENT_FROM) {
            return Some(i);
        }
        if is_sign_off(&lower) {
            return (after > 0).then_some(i + 1);
        }
        after += 1;
        if after > 8 {
            break;
        }
    }
    name_block_start(lines, postscript)
}

/// Lines a signature without a sign-off may have: a name, a role, a
/// company, a tagline, a phone number or two.
const NAME_BLOCK_LINES: std::ops::RangeInclusive<usize> = 2..=6;

/// The start of the last paragraph (P.S. lines left out) when it reads as a
/// signature with no sign-off before it: two to six short lines, none of
/// them ending a sentence, the first a name (one to four capitalised words).
fn name_block_start(lines: &[&str], postscript: &[bool]) -> Option<usize> {
    // From the end, P.S. lines left out: the blank lines after the last
    // paragraph, then the paragraph up to the blank line before it.
    let mut own = (0..lines.len()).rev().filter(|&i| !postscript[i]);
    let mut block = Vec::new();
    for i in own.by_ref() {
        if !lines[i].trim().is_empty() {
            block.push(i);
            break;
        }
    }
    // One line more than a name block may have is enough to rule it out.
    let most = *NAME_BLOCK_LINES.end();
    block.extend(own.take_while(|&i| !lines[i].trim().is_empty()).take(most));
    let start = *block.last()?;
    let short = block.iter().all(|&i| {
        let line = lines[i].trim();
        line.chars().count() <= 60 && !line.ends_with(['.', '?', '!', ':', ','])
    });
    // Likewise one word more than a name may have.
    let words: Vec<&str> = lines[start].split_whitespace().take(5).collect();
    let name = (1..=4).contains(&words.len())
        && words.iter().all(|w| {
            w.chars().next().is_some_and(char::is_uppercase)
                && !w.contains(|c: char| c.is_ascii_digit())
        });
    (NAME_BLOCK_LINES.contains(&block.len()) && short && name).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines_are_the_lines_of_ordinary_text() {
        for text in [
            "",
            "a",
            "a\n",
            "a\r\nb\r\n",
            "a\n\nb",
            "x\r",
            "a\rb\n",
            "\n\n",
        ] {
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(bounded_lines(text), lines, "{text:?}");
        }
    }

    #[test]
    fn many_short_lines_are_read_in_groups() {
        let text = "a\r\n".repeat(100_000);
        let lines = bounded_lines(&text);
        assert!(
            lines.len() <= MAX_LINES + text.len() / GROUP + 1,
            "{}",
            lines.len()
        );
        assert_eq!(lines[..MAX_LINES], vec!["a"; MAX_LINES]);
        // Nothing is lost: the groups hold the rest, line ends and all.
        assert_eq!(
            lines[MAX_LINES..].join("\r\n") + "\r\n",
            text[3 * MAX_LINES..]
        );
    }

    #[test]
    fn a_very_long_line_is_cut_in_pieces() {
        let words = "word ".repeat(50_000);
        let pieces = bounded_lines(&words);
        assert!(pieces.len() > 1);
        assert!(pieces.iter().all(|p| p.len() <= LONG_LINE + 5));
        assert_eq!(pieces.join(" "), words);
        // No space at all: cut at a character boundary.
        let letters = "ż".repeat(200_000);
        let pieces = bounded_lines(&letters);
        assert!(pieces.iter().all(|p| p.len() <= 2 * LONG_LINE + 1));
        assert_eq!(pieces.concat(), letters);
    }
}
