//! The second pass: tokens. Runs of spaced-out letters are joined, and
//! each token that may hide a disguise is repaired (see [`super::words`]);
//! the rest is copied as it is.

use super::Repairs;
use super::words::{
    confusable, fix_word, is_letter_separator, is_run_letter, is_technical, is_technical_token,
    is_two_faced, is_word_char, join_dotted, leet,
};
use std::collections::HashSet;

/// A token as the first pass left it: the text and whether a wide gap
/// (more than one space, a line break) follows it.
#[derive(Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    wide_after: bool,
}

/// The tokens of first-pass text, which has no empty ones.
#[derive(Clone, Copy)]
struct Tokens<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let rest = self.text.get(self.pos..).filter(|r| !r.is_empty())?;
        let len = rest
            .bytes()
            .position(|b| b == b' ' || b == b'\n')
            .unwrap_or(rest.len());
        self.pos += len + 1;
        Some(Token {
            text: &rest[..len],
            wide_after: rest.as_bytes().get(len) == Some(&b'\n'),
        })
    }
}

/// One letter alone, perhaps after opening and before closing punctuation
/// (`(p`, `r,`): the parts before, of and after the letter, in bytes.
fn lone_letter(text: &str) -> Option<(usize, char, usize)> {
    // Most tokens are words: two letters or digits in a row.
    if let [a, b, ..] = text.as_bytes()
        && a.is_ascii_alphanumeric()
        && b.is_ascii_alphanumeric()
    {
        return None;
    }
    let start = text.find(|c: char| is_word_char(c))?;
    let c = text[start..].chars().next()?;
    let end = start + c.len_utf8();
    let single = !text[end..].chars().any(is_word_char);
    (single && is_run_letter(c)).then_some((start, c, end))
}

/// A leetspeak digit alone, as in `p 4 r t`.
fn lone_digit(text: &str) -> bool {
    text.len() == 1 && leet(char::from(text.as_bytes()[0])).is_some()
}

/// The longest run of lone letters read as one: a spaced-out paragraph is
/// a few hundred, and a longer run (a column of one-letter lines, say) is
/// read in runs of this many, so that the run kept in memory stays small.
pub(super) const MAX_RUN: usize = 1024;

pub(super) struct Fixer<'r> {
    out: String,
    repairs: &'r mut Repairs,
    /// The tokens of a candidate spaced-out run.
    run: Vec<Token<'r>>,
    /// Scratch space for the token being repaired.
    chars: Vec<char>,
    joined: String,
    /// Hashes of the repaired words counted so far: a set, as a message
    /// can hold a hundred thousand different ones.
    seen: HashSet<u64>,
}

impl<'r> Fixer<'r> {
    pub(super) fn new(len: usize, repairs: &'r mut Repairs) -> Self {
        Fixer {
            out: String::with_capacity(len),
            repairs,
            run: Vec::new(),
            chars: Vec::new(),
            joined: String::new(),
            seen: HashSet::new(),
        }
    }

    /// Goes on from what an earlier `Fixer` wrote (`out`) and counted
    /// (`seen`), for text normalised in pieces.
    pub(super) fn resume(out: String, seen: HashSet<u64>, repairs: &'r mut Repairs) -> Self {
        Fixer {
            out,
            seen,
            ..Fixer::new(0, repairs)
        }
    }

    pub(super) fn run(self, folded: &'r str) -> String {
        self.run_keeping(folded).0
    }

    /// [`Fixer::run`], also returning the repaired words counted, for
    /// [`Fixer::resume`].
    pub(super) fn run_keeping(mut self, folded: &'r str) -> (String, HashSet<u64>) {
        let mut pos = 0;
        while pos < folded.len() {
            let plain_end = plain_prefix(folded, pos);
            if plain_end > pos {
                self.plain_tokens(folded[pos..plain_end].trim_end_matches([' ', '\n']));
            }
            pos = self.tokens_from(folded, plain_end);
        }
        (self.out, self.seen)
    }

    /// Copies tokens that need no repair, turning wide gaps into spaces.
    fn plain_tokens(&mut self, text: &str) {
        for (i, piece) in text.split('\n').enumerate() {
            if i > 0 || !self.out.is_empty() {
                self.out.push(' ');
            }
            self.out.push_str(piece);
        }
    }

    /// Repairs the token at `pos`, or the run of lone letters starting
    /// there; returns where the next token starts.
    fn tokens_from(&mut self, folded: &'r str, pos: usize) -> usize {
        let mut tokens = Tokens { text: folded, pos };
        let Some(token) = tokens.next() else {
            return folded.len();
        };
        let Some((_, _, end)) = lone_letter(token.text) else {
            self.token(token.text);
            return tokens.pos;
        };
        self.run.clear();
        self.run.push(token);
        let mut open = end == token.text.len();
        while open && self.run.len() < MAX_RUN {
            let mut ahead = Tokens { ..tokens };
            let Some(next) = ahead.next() else {
                break;
            };
            let last_is_digit = lone_digit(self.run[self.run.len() - 1].text);
            match lone_letter(next.text) {
                Some((0, _, end)) => open = end == next.text.len(),
                _ if lone_digit(next.text) && !last_is_digit => {}
                _ => break,
            }
            self.run.push(next);
            tokens = ahead;
        }
        if self.run.len() == 1 && self.lone_look_alike(folded, pos, tokens.pos) {
            return tokens.pos;
        }
        // Letter-spaced headings on a line of their own are typography; a
        // spaced-out word in a sentence is a disguise.
        let last_wide = self.run.last().is_some_and(|t| t.wide_after);
        let embedded = word_before(folded, pos) || (!last_wide && word_after(folded, tokens.pos));
        self.spaced_run(embedded);
        tokens.pos
    }

    /// A look-alike letter standing alone between Latin words (`not а
    /// bank`, with a Cyrillic `а`) passes for the Latin word: writes it
    /// folded. Real Cyrillic or Greek text around it leaves it alone.
    fn lone_look_alike(&mut self, folded: &str, pos: usize, next: usize) -> bool {
        let token = self.run[0].text;
        let mut chars = token.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return false;
        };
        let Some(latin) = confusable(c).filter(|_| !c.is_ascii()) else {
            return false;
        };
        let before = folded[..pos.saturating_sub(1)]
            .rsplit([' ', '\n'])
            .next()
            .filter(|_| pos > 0);
        let after = Tokens {
            text: folded,
            pos: next,
        }
        .next()
        .map(|t| t.text);
        if !before.is_some_and(is_latinish) || !after.is_some_and(is_latinish) {
            return false;
        }
        if !self.out.is_empty() {
            self.out.push(' ');
        }
        let start = self.out.len();
        self.out.push(latin);
        let found = Repairs {
            confusable: 1,
            ..Repairs::default()
        };
        self.count(found, start);
        true
    }

    /// Writes a run of lone letters: joined when it spells at least four
    /// letters, one of them ASCII (so that a Polish `a w z o` is left
    /// alone), else token by token.
    fn spaced_run(&mut self, embedded: bool) {
        let trailing_digit = self
            .run
            .last()
            .filter(|t| self.run.len() > 1 && lone_digit(t.text))
            .copied();
        if trailing_digit.is_some() {
            self.run.pop();
        }
        let letters = || self.run.iter().filter(|t| !lone_digit(t.text));
        let enough = letters().count() >= 4
            && letters().any(|t| lone_letter(t.text).is_some_and(|(_, c, _)| c.is_ascii()));
        if enough {
            self.join_run(embedded);
        } else {
            for i in 0..self.run.len() {
                self.token(self.run[i].text);
            }
        }
        if let Some(digit) = trailing_digit {
            self.token(digit.text);
        }
    }

    /// Joins the run, into several words where wider gaps separate them
    /// (`p a r t n e r  w i t h  u s`). Split only if the words it gives
    /// cannot form a run again, or the result would not be a fixed point.
    /// A run counts as one repair, however many words it spells.
    fn join_run(&mut self, counts: bool) {
        let start = self.out.len() + usize::from(!self.out.is_empty());
        let gaps = &self.run[..self.run.len() - 1];
        let mixed = gaps.iter().any(|t| t.wide_after) && gaps.iter().any(|t| !t.wide_after);
        let split = mixed && !has_lone_segments(&self.run);
        let mut joined = std::mem::take(&mut self.joined);
        joined.clear();
        for i in 0..self.run.len() {
            joined.push_str(self.run[i].text);
            if split && self.run[i].wide_after && i + 1 < self.run.len() {
                self.token(&joined);
                joined.clear();
            }
        }
        self.token(&joined);
        self.joined = joined;
        if counts {
            let found = Repairs {
                spaced: 1,
                ..Repairs::default()
            };
            self.count(found, start);
        }
    }

    /// Writes one token, repaired: dotted letters joined, look-alikes and
    /// leetspeak digits folded.
    fn token(&mut self, text: &str) {
        if !self.out.is_empty() {
            self.out.push(' ');
        }
        let start = self.out.len();
        let mut found = Repairs::default();
        if text.is_ascii() && !ascii_needs_repair(text.as_bytes()) {
            self.out.push_str(text);
        } else {
            self.repair(text, &mut found);
        }
        if found.total() > 0 {
            self.count(found, start);
        }
    }

    /// Adds the repairs of the word written from `start`, unless the same
    /// word was repaired before.
    fn count(&mut self, found: Repairs, start: usize) {
        let word = self.out[start..].trim_matches(|c| !is_word_char(c));
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&(word, found), &mut hasher);
        let hash = std::hash::Hasher::finish(&hasher);
        if self.seen.insert(hash) {
            self.repairs.confusable += found.confusable;
            self.repairs.spaced += found.spaced;
            self.repairs.leet += found.leet;
        }
    }

    fn repair(&mut self, text: &str, found: &mut Repairs) {
        self.chars.clear();
        self.chars.extend(text.chars());
        let joined = join_dotted(&mut self.chars);
        let technical = is_technical_token(&self.chars);
        if !technical {
            found.spaced += joined;
        }
        let mut i = 0;
        while i < self.chars.len() {
            let len = self.chars[i..]
                .iter()
                .position(|&c| !is_word_char(c))
                .unwrap_or(self.chars.len() - i);
            if len > 0 {
                fix_word(&mut self.chars[i..i + len], technical, found);
            }
            i += len.max(1);
        }
        for &c in &self.chars {
            if is_two_faced(c) {
                self.out.extend(c.to_lowercase());
            } else {
                self.out.push(c);
            }
        }
    }
}

/// Whether a word (two letters or digits) comes before `pos` on the same
/// line, past punctuation only.
fn word_before(folded: &str, pos: usize) -> bool {
    let before = &folded.as_bytes()[..pos];
    let mut end = before.len();
    while end > 0 && before[end - 1] == b' ' {
        let start = before[..end - 1]
            .iter()
            .rposition(|&b| b == b' ' || b == b'\n')
            .map_or(0, |i| i + 1);
        let token = &folded[start..end - 1];
        if is_word(token) {
            return true;
        }
        if token.chars().any(is_word_char) {
            return false;
        }
        end = start;
    }
    false
}

/// Whether a word comes at `pos` on the same line, past punctuation only.
fn word_after(folded: &str, pos: usize) -> bool {
    for token in (Tokens { text: folded, pos }) {
        if is_word(token.text) {
            return true;
        }
        if token.wide_after || token.text.chars().any(is_word_char) {
            return false;
        }
    }
    false
}

/// A token with a Latin letter whose other letters are Latin or look-alikes:
/// folding does not change whether a token is one.
fn is_latinish(token: &str) -> bool {
    token.chars().any(|c| c.is_ascii_alphabetic())
        && token
            .chars()
            .filter(|c| c.is_alphabetic())
            .all(|c| c.is_ascii_alphabetic() || confusable(c).is_some())
}

fn is_word(token: &str) -> bool {
    token.chars().filter(|&c| is_word_char(c)).nth(1).is_some()
}

/// Whether splitting a run at its wide gaps leaves four single-letter
/// words in a row.
fn has_lone_segments(run: &[Token<'_>]) -> bool {
    let mut segment = 0;
    let mut lone_in_a_row = 0;
    for token in run {
        segment += 1;
        if token.wide_after {
            lone_in_a_row = if segment == 1 { lone_in_a_row + 1 } else { 0 };
            if lone_in_a_row >= 4 {
                return true;
            }
            segment = 0;
        }
    }
    segment == 1 && lone_in_a_row + 1 >= 4
}

/// Where, from `pos`, the first token that may need repair starts: one with
/// a leetspeak digit beside a letter, a single letter before a separator
/// (`p.a…`), a look-alike letter, or the first of four tokens in a row of
/// one letter or digit each (`p a r t`). Everything before it the second
/// pass copies as it is: a tight loop, because most tokens of most mail
/// need nothing.
fn plain_prefix(text: &str, pos: usize) -> usize {
    let bytes = text.as_bytes();
    let (mut start, mut lone_start, mut lone) = (pos, pos, 0);
    while start < bytes.len() {
        let (mut end, mut kinds, mut alnum) = (start, 0, 0);
        while let Some(&b) = bytes.get(end) {
            let kind = BYTE_KIND[usize::from(b)];
            if kind == GAP {
                break;
            }
            kinds |= kind;
            alnum += usize::from(kind & (LETTER | DIGIT) != 0);
            end += 1;
        }
        let token = &text[start..end];
        let suspect = match kinds {
            k if k & OTHER_SCRIPT != 0 => {
                let (suspect, count) = suspect(token);
                alnum = count;
                suspect
            }
            k if k & (DIGIT | SEPARATOR) != 0 => ascii_suspect(token.as_bytes()),
            _ => false,
        };
        if alnum == 1 {
            if lone == 0 {
                lone_start = start;
            }
            lone += 1;
        } else {
            lone = 0;
        }
        if suspect || lone >= 4 {
            return if lone > 0 { lone_start } else { start };
        }
        start = end + 1;
    }
    bytes.len()
}

/// What a byte of first-pass text is, for [`plain_prefix`]; bits.
const GAP: u8 = 1;

const LETTER: u8 = 2;

const DIGIT: u8 = 4;

const SEPARATOR: u8 = 8;

/// Part of a character that is not ASCII.
const OTHER_SCRIPT: u8 = 16;

const BYTE_KIND: [u8; 256] = {
    let mut kinds = [OTHER_SCRIPT; 256];
    let mut b = 0;
    while b < 128 {
        kinds[b] = match b as u8 {
            b' ' | b'\n' => GAP,
            b'a'..=b'z' | b'A'..=b'Z' => LETTER,
            b'0'..=b'9' => DIGIT,
            b'.' | b'-' | b'_' | b'*' | b'~' | b'+' | b'|' => SEPARATOR,
            _ => 0,
        };
        b += 1;
    }
    kinds
};

/// For [`plain_prefix`]: whether an ASCII token with a digit or separator
/// may need repair.
fn ascii_suspect(token: &[u8]) -> bool {
    let letter = |i: usize| token.get(i).is_some_and(u8::is_ascii_alphabetic);
    token.iter().enumerate().any(|(i, &b)| {
        let leet_digit =
            leet(char::from(b)).is_some() && ((i > 0 && letter(i - 1)) || letter(i + 1));
        let dotted = i > 0
            && letter(i - 1)
            && (i == 1 || !token[i - 2].is_ascii_alphanumeric())
            && is_letter_separator(char::from(b));
        leet_digit || dotted
    })
}

/// [`ascii_suspect`] for a token with other characters: any look-alike,
/// separator or leetspeak digit makes it suspect. Also counts the letters
/// and digits (up to two).
fn suspect(token: &str) -> (bool, usize) {
    let mut alnum = 0;
    for c in token.chars() {
        alnum += usize::from(c.is_alphanumeric());
        if confusable(c).is_some() || is_letter_separator(c) || leet(c).is_some() {
            return (true, alnum);
        }
    }
    (false, alnum.min(2))
}

/// Whether an ASCII token may need a repair: a letter starting a word
/// before a separator (`p.a…`), or a leetspeak digit beside a letter in a
/// token that is not technical. Never false when a repair is due; cheaper
/// than trying.
fn ascii_needs_repair(bytes: &[u8]) -> bool {
    let letter = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_alphabetic);
    let (mut leet_digit, mut technical) = (false, false);
    for (i, &b) in bytes.iter().enumerate() {
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if b.is_ascii_alphabetic()
            && starts_word
            && bytes
                .get(i + 1)
                .is_some_and(|&s| is_letter_separator(char::from(s)))
        {
            return true;
        }
        let inner = i > 0 && i + 1 < bytes.len();
        technical |= is_technical(b) || (inner && (b == b'.' || b == b'-'));
        leet_digit |= leet(char::from(b)).is_some() && ((i > 0 && letter(i - 1)) || letter(i + 1));
    }
    leet_digit && !technical && bytes.len() <= 40
}
