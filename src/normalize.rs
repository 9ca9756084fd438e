//! Text normalisation: one canonical form for every string a rule reads, so
//! that a phrase written once matches however the sender dressed it up.
//!
//! Two passes. The first works on characters: invisible characters out,
//! Unicode NFKC (fullwidth letters, ligatures), typographic quotes and
//! dashes unified, lower case, whitespace collapsed. The second works on
//! the resulting tokens: letters spaced or dotted apart are joined again,
//! Cyrillic and Greek look-alikes inside otherwise Latin words are folded
//! to Latin, and leetspeak digits inside words become letters. These
//! repairs are counted, because honest mail seldom needs them.
//!
//! The result is a fixed point, `normalize(normalize(x)) == normalize(x)`:
//! the rule loader relies on it to check that phrases are written in this
//! form. Every rule below decides from the text it produces, never from
//! what was there before, for that reason.

use unicode_normalization::{
    IsNormalized, UnicodeNormalization, char::is_combining_mark, is_nfkc_quick,
};

/// What normalisation had to undo that only a disguise explains. A word
/// repaired the same way twice counts once: headings and names repeat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Repairs {
    /// Zero-width or direction characters between two letters.
    pub invisible: u32,
    /// Words with Cyrillic or Greek look-alikes folded to Latin.
    pub confusable: u32,
    /// Words of five letters or more spelt out in single letters (spaced,
    /// dotted, hyphenated); acronyms (`s.t.a.r.`) are shorter, and
    /// letter-spaced headings of several words are typography.
    pub spaced: u32,
    /// Words with leetspeak digits.
    pub leet: u32,
}

impl Repairs {
    /// All repairs together.
    pub fn total(self) -> u32 {
        self.invisible + self.confusable + self.spaced + self.leet
    }
}

/// Normalises text: see the module documentation. Rule phrases are written
/// in this form, and the rule loader checks that they are.
pub fn normalize(text: &str) -> String {
    normalize_counting(text).0
}

/// [`normalize`], also counting the disguises it undid.
pub fn normalize_counting(text: &str) -> (String, Repairs) {
    let mut repairs = Repairs::default();
    let mut out = once(text, &mut repairs);
    // Lower-casing NFKC text leaves, for a handful of characters, text that
    // is not NFKC (the reason Unicode defines NFKC_Casefold); going round
    // again settles it.
    for _ in 0..3 {
        if out.is_ascii() || is_nfkc_quick(out.chars()) == IsNormalized::Yes {
            break;
        }
        let again = once(&out, &mut Repairs::default());
        if again == out {
            break;
        }
        out = again;
    }
    (out, repairs)
}

fn once(text: &str, repairs: &mut Repairs) -> String {
    let folded = fold_chars(text, &mut repairs.invisible);
    Fixer::new(folded.len(), repairs).run(&folded)
}

// --- first pass: characters ----------------------------------------------

/// Characters that render as nothing: zero-width space, joiners, word
/// joiner, byte-order mark, direction marks and embeddings, soft hyphen.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00ad}' | '\u{034f}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}'
        | '\u{17b5}' | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}'
        | '\u{feff}' | '\u{ffa0}')
}

/// Curly quotes become straight ones, dashes a hyphen-minus.
fn typographic(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' | '\u{02bc}' | '`' | '\u{00b4}' => '\'',
        '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' | '\u{00ab}' | '\u{00bb}' => '"',
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{2e3a}' | '\u{2e3b}' => '-',
        c => c,
    }
}

/// Drops invisible characters before NFKC (so that what they separated can
/// compose) and counts those standing between two letters. A soft hyphen
/// is legitimate hyphenation in much German mail, so it is not counted.
#[derive(Default)]
struct Invisible {
    after_letter: bool,
    pending: bool,
    count: u32,
}

impl Invisible {
    /// Takes note of `c`; whether it is visible.
    fn visible(&mut self, c: char) -> bool {
        if is_invisible(c) {
            self.pending |= self.after_letter && c != '\u{00ad}';
            return false;
        }
        self.seen(is_run_letter(c));
        true
    }

    fn seen(&mut self, letter: bool) {
        if self.pending && letter {
            self.count += 1;
        }
        self.pending = false;
        self.after_letter = letter;
    }
}

/// Lower-cases and collapses whitespace. A gap of one plain space becomes
/// `' '`, any wider gap `'\n'`: the second pass tells words apart inside
/// spaced-out text (`p a r t n e r  w i t h`) by it, then writes a space.
#[derive(Default)]
struct Folder {
    out: String,
    gap: u32,
    wide: bool,
}

/// ASCII whitespace and control characters.
fn is_ascii_gap(b: u8) -> bool {
    b <= b' ' || b == 0x7f
}

impl Folder {
    fn push(&mut self, c: char) {
        if c.is_whitespace() || c.is_control() {
            if !self.out.is_empty() {
                self.gap += 1;
                self.wide |= c != ' ';
            }
            return;
        }
        self.flush_gap();
        let c = typographic(c);
        if c.is_ascii() {
            self.out.push(c.to_ascii_lowercase());
        } else if is_two_faced(c) {
            self.out.push(c);
        } else {
            self.out.extend(c.to_lowercase());
        }
    }

    fn flush_gap(&mut self) {
        if self.gap > 0 {
            self.out
                .push(if self.wide || self.gap > 1 { '\n' } else { ' ' });
            self.gap = 0;
            self.wide = false;
        }
    }

    /// [`Folder::push`] for a run of ASCII (most of most mail): words are
    /// copied and lower-cased whole.
    fn ascii(&mut self, run: &str) {
        if run.contains('`') {
            run.chars().for_each(|c| self.push(c));
            return;
        }
        let bytes = run.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let gap = bytes[i..]
                .iter()
                .position(|&b| !is_ascii_gap(b))
                .unwrap_or(bytes.len() - i);
            if gap > 0 {
                if !self.out.is_empty() {
                    self.gap += gap as u32;
                    self.wide |= bytes[i..i + gap].iter().any(|&b| b != b' ');
                }
                i += gap;
                continue;
            }
            let word = bytes[i..]
                .iter()
                .position(|&b| is_ascii_gap(b))
                .unwrap_or(bytes.len() - i);
            self.flush_gap();
            let from = self.out.len();
            self.out.push_str(&run[i..i + word]);
            self.out[from..].make_ascii_lowercase();
            i += word;
        }
    }
}

fn fold_chars(text: &str, invisible: &mut u32) -> String {
    let mut folder = Folder {
        out: String::with_capacity(text.len()),
        ..Folder::default()
    };
    let mut seen = Invisible::default();
    // Most mail is NFKC already, and ASCII always is: the quick check
    // looks at the other characters only (ASCII is never a mark that
    // composes or reorders, so leaving it out can only answer "maybe").
    let quick = is_nfkc_quick(
        text.chars()
            .filter(|&c| !c.is_ascii() && !is_invisible(c))
            .map(typographic),
    );
    if quick == IsNormalized::Yes {
        let mut rest = text;
        while !rest.is_empty() {
            let ascii = rest.bytes().position(|b| !b.is_ascii()).unwrap_or(rest.len());
            if ascii > 0 {
                let bytes = rest.as_bytes();
                seen.seen(bytes[0].is_ascii_alphabetic());
                seen.after_letter = bytes[ascii - 1].is_ascii_alphabetic();
                folder.ascii(&rest[..ascii]);
            }
            rest = &rest[ascii..];
            if let Some(c) = rest.chars().next() {
                rest = &rest[c.len_utf8()..];
                if seen.visible(c) {
                    folder.push(c);
                }
            }
        }
    } else {
        text.chars()
            .filter(|&c| seen.visible(c))
            .map(typographic)
            .nfkc()
            .for_each(|c| folder.push(c));
    }
    *invisible += seen.count;
    folder.out
}

// --- second pass: tokens -------------------------------------------------

/// Greek capitals that look like one Latin letter while their lower case
/// looks like another (`Ν` N, `ν` v). The first pass keeps them in upper
/// case so that the second can fold them by their capital shape; it
/// lower-cases them when it does not fold.
fn is_two_faced(c: char) -> bool {
    matches!(c, 'Η' | 'Ν' | 'Μ' | 'Υ')
}

/// The Latin letter a Cyrillic or Greek letter passes for (lower case, or
/// one of the capitals of [`is_two_faced`]).
fn confusable(c: char) -> Option<char> {
    Some(match c {
        'Η' => 'h',
        'Ν' => 'n',
        'Μ' => 'm',
        'Υ' => 'y',
        'а' | 'α' => 'a',
        'в' | 'ь' | 'β' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'є' | 'ε' | 'ϵ' => 'e',
        'г' => 'r',
        'һ' | 'н' => 'h',
        'і' | 'ι' => 'i',
        'ј' | 'ϳ' => 'j',
        'к' | 'κ' => 'k',
        'ӏ' => 'l',
        'м' => 'm',
        'п' | 'η' => 'n',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' | 'ς' => 's',
        'т' | 'τ' => 't',
        'υ' => 'u',
        'ν' => 'v',
        'ԝ' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        'ζ' => 'z',
        _ => return None,
    })
}

fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (matches!(c, '\u{00c0}'..='\u{024f}' | '\u{1e00}'..='\u{1eff}') && c.is_alphabetic())
}

/// A letter that may be part of a spaced or dotted-out word.
fn is_run_letter(c: char) -> bool {
    is_latin_letter(c) || confusable(c).is_some()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || (!c.is_ascii() && is_combining_mark(c))
}

/// The letter a leetspeak digit stands for.
fn leet(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '7' => 't',
        _ => return None,
    })
}

/// Separators between the letters of a dotted-out word: `p.a.r.t`,
/// `c-o-l-l-a-b`, `p_a_r_t`.
fn is_letter_separator(c: char) -> bool {
    matches!(c, '.' | '-' | '_' | '*' | '·' | '•' | '~' | '+' | '|')
}

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

struct Fixer<'r> {
    out: String,
    repairs: &'r mut Repairs,
    /// The tokens of a candidate spaced-out run.
    run: Vec<Token<'r>>,
    /// Scratch space for the token being repaired.
    chars: Vec<char>,
    joined: String,
    /// Hashes of the repaired words counted so far.
    seen: Vec<u64>,
}

impl<'r> Fixer<'r> {
    fn new(len: usize, repairs: &'r mut Repairs) -> Self {
        Fixer {
            out: String::with_capacity(len),
            repairs,
            run: Vec::new(),
            chars: Vec::new(),
            joined: String::new(),
            seen: Vec::new(),
        }
    }

    fn run(mut self, folded: &'r str) -> String {
        let mut pos = 0;
        while pos < folded.len() {
            let plain_end = plain_prefix(folded, pos);
            if plain_end > pos {
                self.plain_tokens(folded[pos..plain_end].trim_end_matches([' ', '\n']));
            }
            pos = self.tokens_from(folded, plain_end);
        }
        self.out
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
        while open {
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
        if !self.seen.contains(&hash) {
            self.seen.push(hash);
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

/// Where, from `pos`, the first token that may need repair starts: a
/// token that is not ASCII, has a digit or a separator inside, or does not
/// start with two letters or digits (a lone letter, `(p`). A tight loop
/// over bytes, because most tokens of most mail need nothing.
fn plain_prefix(text: &str, pos: usize) -> usize {
    let bytes = text.as_bytes();
    let class = |i: usize| bytes.get(i).map_or(GAP, |&b| BYTE_CLASS[usize::from(b)]);
    let mut start = pos;
    while start < bytes.len() {
        if class(start) != WORD || class(start + 1) != WORD {
            return start;
        }
        let mut i = start + 2;
        loop {
            match class(i) {
                GAP => break,
                SUSPECT => return start,
                SEPARATOR if class(i + 1) != GAP => return start,
                _ => i += 1,
            }
        }
        start = i + 1;
    }
    bytes.len()
}

/// Byte classes for [`plain_prefix`].
const OTHER: u8 = 0;
const WORD: u8 = 1;
const GAP: u8 = 2;
const SUSPECT: u8 = 3;
const SEPARATOR: u8 = 4;

const BYTE_CLASS: [u8; 256] = {
    let mut classes = [SUSPECT; 256];
    let mut b = 0;
    while b < 128 {
        classes[b] = match b as u8 {
            b' ' | b'\n' => GAP,
            b'0'..=b'9' => SUSPECT,
            b'a'..=b'z' | b'A'..=b'Z' => WORD,
            b'.' | b'-' | b'_' | b'*' | b'~' | b'+' | b'|' => SEPARATOR,
            _ => OTHER,
        };
        b += 1;
    }
    classes
};

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

/// A token whose digits are no disguise: a path, address, parameter,
/// domain, version, part number (`/api/v1beta1`, `user_01@`,
/// `qmail-pop3d`, `mytop5s.com`), or one too long to be a word (keys,
/// armour).
fn is_technical_token(chars: &[char]) -> bool {
    let inner = chars
        .get(1..chars.len().saturating_sub(1))
        .unwrap_or_default();
    chars.len() > 40
        || chars.iter().any(|&c| c.is_ascii() && is_technical(c as u8))
        || inner.iter().any(|&c| c == '.' || c == '-')
}

/// Characters of paths, addresses, parameters and prices.
fn is_technical(b: u8) -> bool {
    matches!(
        b,
        b'/' | b'@' | b'=' | b'\\' | b'_' | b'#' | b'$' | b'%' | b'&'
    )
}

/// Joins dotted-out letters inside a token in place (`p.a.r.t.n.e.r.` →
/// `partner.`), when they spell at least four letters, one of them ASCII,
/// each alone between separators. Returns how many it joined that are not
/// acronyms (`s.t.a.r.`, `p.l.l.c.`: short, dotted, with a final dot).
fn join_dotted(chars: &mut Vec<char>) -> u32 {
    let mut joined = 0;
    let (mut read, mut write) = (0, 0);
    while read < chars.len() {
        let starts_word = read == 0 || !is_word_char(chars[read - 1]);
        let units = if starts_word {
            dotted_units(&chars[read..])
        } else {
            0
        };
        if units == 0 {
            chars[write] = chars[read];
            write += 1;
            read += 1;
            continue;
        }
        let after = chars.get(read + 2 * units - 1).copied();
        let acronym = units <= 6 && after == Some('.') && chars.get(read + 1) == Some(&'.');
        for k in 0..units {
            chars[write] = chars[read + 2 * k];
            write += 1;
        }
        read += 2 * units - 1;
        joined += u32::from(!acronym);
    }
    chars.truncate(write);
    joined
}

/// How many single letters (and leetspeak digits between them) separated
/// by one repeated separator start `chars`, if they make a dotted-out
/// word; else 0.
fn dotted_units(chars: &[char]) -> usize {
    let Some(&sep) = chars.get(1).filter(|&&c| is_letter_separator(c)) else {
        return 0;
    };
    let single = |i: usize| {
        chars
            .get(i + 1)
            .is_none_or(|&n| n == sep || !is_word_char(n))
    };
    let (mut units, mut letters, mut ascii) = (0, 0, false);
    let mut i = 0;
    while i < chars.len() && single(i) {
        let c = chars[i];
        let digit_ok = leet(c).is_some() && units > 0 && is_run_letter(chars[i - 2]);
        if is_run_letter(c) {
            letters += 1;
            ascii |= c.is_ascii();
        } else if !digit_ok {
            break;
        }
        units += 1;
        if chars.get(i + 1) != Some(&sep) {
            break;
        }
        i += 2;
    }
    if units > 0 && !is_run_letter(chars[2 * (units - 1)]) {
        units -= 1;
    }
    if letters >= 4 && ascii { units } else { 0 }
}

/// Folds look-alikes and leetspeak digits in one word (a run of letters,
/// digits and combining marks).
fn fix_word(word: &mut [char], technical: bool, repairs: &mut Repairs) {
    if word.iter().all(char::is_ascii_alphabetic) {
        return;
    }
    // Disguises go into plain ASCII words; accented letters among
    // look-alikes or digits are mis-decoded text (`îåê®áå`, `wallace¹s`).
    let (mut latin, mut looks, mut other) = (0, 0, false);
    for &c in word.iter() {
        if c.is_ascii_alphabetic() {
            latin += 1;
        } else if confusable(c).is_some() {
            looks += 1;
        } else if !c.is_ascii_digit() {
            // Another script, a non-ASCII digit or a combining mark (which
            // could compose with a folded letter).
            other = true;
        }
    }
    if other || (looks > 0 && latin == 0) {
        return;
    }
    if looks > 0 {
        for c in word.iter_mut() {
            *c = confusable(*c).unwrap_or(*c);
        }
        // Two letters are too few to tell a disguise from mis-decoded text.
        repairs.confusable += u32::from(latin + looks >= 3);
    }
    if !technical && unleet(word) {
        repairs.leet += 1;
    }
}

/// Whether the letters after a leading zero are a unit (`0px`, `0pt`,
/// `0em`) rather than the rest of a word (`0ur`, `0ffer`): units have no
/// vowel, or are one of a few that do.
fn is_unit(rest: &[char]) -> bool {
    let vowel = rest
        .iter()
        .any(|c| matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y'));
    let text: String = rest.iter().collect();
    !vowel || ["em", "rem", "ex", "in", "deg", "rad", "day", "days", "am"].contains(&text.as_str())
}

/// Replaces leetspeak digits in a Latin word: a digit between two letters
/// (`partn3r`, in words of four characters or more so that `w3c` stays),
/// and a leading zero before letters (`0ur`). Words with any other digit or
/// two digits together are numbers, versions or names (`b2b`, `o365`,
/// `covid19`, `2024`) and stay as they are; so do trailing digits (`mp3`),
/// a 4 that means "for" between two words (`computers4sure`) and words
/// too long to be words.
fn unleet(word: &mut [char]) -> bool {
    let n = word.len();
    if !(3..=24).contains(&n) || word.starts_with(&['0', 'x']) {
        return false;
    }
    let mut digits = word.iter().enumerate().filter(|(_, c)| c.is_ascii_digit());
    if !digits
        .all(|(i, &c)| leet(c).is_some() && !word.get(i + 1).is_some_and(char::is_ascii_digit))
    {
        return false;
    }
    let mut changed = false;
    let letters =
        |side: &mut dyn Iterator<Item = &char>| side.take_while(|c| c.is_alphabetic()).count();
    for i in 1..n.saturating_sub(1) {
        let Some(letter) = leet(word[i]) else {
            continue;
        };
        let between_letters = word[i - 1].is_alphabetic() && word[i + 1].is_alphabetic();
        let between_words = word[i] == '4'
            && letters(&mut word[..i].iter().rev()) >= 3
            && letters(&mut word[i + 1..].iter()) >= 3;
        // `commission1s`: an apostrophe lost to a charset, not a disguise;
        // `mp3s`: the plural of a short code.
        let final_s = i + 2 == n && word[i + 1] == 's';
        let possessive = final_s && (word[i] == '1' || i <= 3);
        if between_letters && n >= 4 && !between_words && !possessive {
            word[i] = letter;
            changed = true;
        }
    }
    // After the digits inside, so that the rest is read as it will stay.
    if word[0] == '0' && word[1].is_alphabetic() && !is_unit(&word[1..]) {
        word[0] = 'o';
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests;
