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

mod chars;
mod tokens;
mod words;

use tokens::Fixer;
use unicode_normalization::{IsNormalized, is_nfkc_quick};

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
    normalize_pieces(std::iter::once(text))
}

/// [`normalize_counting`] of lines, each ended by `\n`, without joining
/// them first.
///
/// Text longer than [`CHUNK`] is normalised a paragraph at a time (in
/// pieces of at least `CHUNK` that end at a blank line, or at any line
/// once a piece reaches twice that), so that at no time does it exist
/// twice in full: a message cut at `max_scan_bytes` then needs about twice
/// that at its peak, not three times. Paragraphs normalise alone exactly as
/// in the whole text; only a disguise spread over two lines of a piece cut
/// without a blank line could read differently.
pub fn normalize_lines(lines: &[&str]) -> (String, Repairs) {
    normalize_lines_by(lines, CHUNK)
}

/// The lines, each followed by its line end.
fn pieces<'a>(lines: &'a [&'a str]) -> impl Iterator<Item = &'a str> + Clone {
    lines.iter().flat_map(|line| [*line, "\n"])
}

/// Long text is normalised in pieces of at least this many bytes.
pub const CHUNK: usize = 64 * 1024;

fn normalize_lines_by(lines: &[&str], chunk: usize) -> (String, Repairs) {
    let total: usize = lines.iter().map(|l| l.len() + 1).sum();
    if total <= chunk {
        return normalize_pieces(pieces(lines));
    }
    let mut repairs = Repairs::default();
    let mut out = String::with_capacity(total);
    let mut seen = std::collections::HashSet::new();
    let (mut start, mut size) = (0, 0);
    for (i, line) in lines.iter().enumerate() {
        size += line.len() + 1;
        let last = i + 1 == lines.len();
        if last || (size >= chunk && (line.trim().is_empty() || size >= 2 * chunk)) {
            let (text, odd_case) =
                chars::fold_chars(pieces(&lines[start..=i]), &mut repairs.invisible);
            if odd_case {
                // Rare enough to take the whole-text road for it.
                return normalize_pieces(pieces(lines));
            }
            (out, seen) = Fixer::resume(out, seen, &mut repairs).run_keeping(&text);
            (start, size) = (i + 1, 0);
        }
    }
    (out, repairs)
}

/// [`normalize_counting`] of the text the pieces make when joined.
fn normalize_pieces<'a>(pieces: impl Iterator<Item = &'a str> + Clone) -> (String, Repairs) {
    let mut repairs = Repairs::default();
    let (mut out, mut odd_case) = once(pieces, &mut repairs);
    // Lower-casing NFKC text leaves, for a handful of characters, text that
    // is not NFKC (the reason Unicode defines NFKC_Casefold); going round
    // again settles it.
    for _ in 0..3 {
        if !odd_case || is_nfkc_quick(out.chars()) == IsNormalized::Yes {
            break;
        }
        let again;
        (again, odd_case) = once(std::iter::once(out.as_str()), &mut Repairs::default());
        if again == out {
            break;
        }
        out = again;
    }
    (out, repairs)
}

/// Both passes; also whether the result needs an NFKC check.
fn once<'a>(
    pieces: impl Iterator<Item = &'a str> + Clone,
    repairs: &mut Repairs,
) -> (String, bool) {
    let (folded, odd_case) = chars::fold_chars(pieces, &mut repairs.invisible);
    (Fixer::new(folded.len(), repairs).run(&folded), odd_case)
}

#[cfg(test)]
mod tests;
