//! The first pass: characters. Invisible characters out, NFKC,
//! typographic quotes and dashes unified, lower case, whitespace collapsed.

use super::words::{is_run_letter, is_two_faced};
use unicode_normalization::{
    IsNormalized, UnicodeNormalization, char::canonical_combining_class, is_nfkc_quick,
};

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
/// Writes UTF-8 bytes, so that ASCII (most of most mail) goes a byte at a
/// time.
#[derive(Default)]
struct Folder {
    out: Vec<u8>,
    gap: u32,
    wide: bool,
    /// A character was lower-cased that might leave text not in NFKC.
    odd_case: bool,
    /// There is a combining mark, which a lower-case letter may compose
    /// with where its capital did not (`T` and U+0308, `ẗ`).
    marks: bool,
}

/// Letters whose lower case is a single precomposed letter that is NFKC
/// too: Latin, Greek and Cyrillic capitals (not `İ`, which becomes `i` and
/// a combining dot).
fn lowers_plainly(c: char) -> bool {
    matches!(c, '\u{00c0}'..='\u{024f}' | '\u{0370}'..='\u{03ff}' | '\u{0400}'..='\u{052f}' | '\u{1e00}'..='\u{1eff}')
        && c != '\u{0130}'
}

/// ASCII lower-cased, the backtick made an apostrophe.
const ASCII_FOLD: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            b'`' => b'\'',
            c => c.to_ascii_lowercase(),
        };
        b += 1;
    }
    table
};

/// The characters of a text that are not ASCII.
struct NonAscii<'a> {
    rest: &'a str,
}

impl Iterator for NonAscii<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let start = self.rest.bytes().position(|b| !b.is_ascii())?;
        let c = self.rest[start..].chars().next()?;
        self.rest = &self.rest[start + c.len_utf8()..];
        Some(c)
    }
}

impl Folder {
    fn push(&mut self, c: char) {
        if c.is_ascii() {
            self.byte(c as u8);
            return;
        }
        if c.is_whitespace() || c.is_control() {
            self.space(false);
            return;
        }
        self.marks |= canonical_combining_class(c) != 0;
        self.flush_gap();
        let c = typographic(c);
        let mut buf = [0; 4];
        if c.is_ascii() {
            self.out.push(c.to_ascii_lowercase() as u8);
        } else if c == '…' {
            self.out.extend_from_slice(b"...");
        } else if is_two_faced(c) {
            self.out
                .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        } else {
            for lower in c.to_lowercase() {
                self.out
                    .extend_from_slice(lower.encode_utf8(&mut buf).as_bytes());
                self.odd_case |= lower != c && !lowers_plainly(c);
            }
        }
    }

    /// One ASCII character.
    fn byte(&mut self, b: u8) {
        // ASCII whitespace and control characters.
        if b <= b' ' || b == 0x7f {
            self.space(b == b' ');
            return;
        }
        self.flush_gap();
        self.out.push(ASCII_FOLD[usize::from(b)]);
    }

    /// [`Folder::byte`] for a run of ASCII, in one tight loop: the output
    /// is at most one byte longer than the run (a gap pending from before).
    fn ascii(&mut self, bytes: &[u8]) {
        let mut w = self.out.len();
        let (mut gap, mut wide) = (self.gap, self.wide);
        self.out.resize(w + bytes.len() + 1, 0);
        let out = &mut self.out[..];
        for &b in bytes {
            if b <= b' ' || b == 0x7f {
                gap += u32::from(w > 0);
                wide |= w > 0 && b != b' ';
                continue;
            }
            if gap > 0 {
                out[w] = if wide || gap > 1 { b'\n' } else { b' ' };
                w += 1;
                (gap, wide) = (0, false);
            }
            out[w] = ASCII_FOLD[usize::from(b)];
            w += 1;
        }
        self.out.truncate(w);
        (self.gap, self.wide) = (gap, wide);
    }

    fn space(&mut self, plain: bool) {
        if !self.out.is_empty() {
            self.gap += 1;
            self.wide |= !plain;
        }
    }

    fn flush_gap(&mut self) {
        if self.gap > 0 {
            self.out.push(if self.wide || self.gap > 1 {
                b'\n'
            } else {
                b' '
            });
            self.gap = 0;
            self.wide = false;
        }
    }

    fn finish(self) -> String {
        // Whole characters in, whole characters out.
        String::from_utf8(self.out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// The first pass over the text the pieces make when joined; also says
/// whether the result needs an NFKC check (see [`Folder::odd_case`]).
/// Pieces spare the caller a copy of text it holds as lines.
pub(super) fn fold_chars<'a>(
    pieces: impl Iterator<Item = &'a str> + Clone,
    invisible: &mut u32,
) -> (String, bool) {
    let len: usize = pieces.clone().map(str::len).sum();
    // A run of ASCII reserves one byte more than it can fill (a pending
    // gap), so the output never outgrows `len + 1`: no doubling.
    let mut folder = Folder {
        out: Vec::with_capacity(len + 1),
        ..Folder::default()
    };
    let mut seen = Invisible::default();
    // Most mail is NFKC already, and ASCII always is: the quick check
    // looks at the other characters only (ASCII is never a mark that
    // composes or reorders, so leaving it out can only answer "maybe").
    // Spaces and ellipses, the common characters NFKC changes, the
    // folder handles itself.
    let quick = pieces.clone().all(str::is_ascii)
        || is_nfkc_quick(
            pieces
                .clone()
                .flat_map(|rest| NonAscii { rest })
                .filter(|&c| !is_invisible(c) && !c.is_whitespace() && c != '…')
                .map(typographic),
        ) == IsNormalized::Yes;
    if quick {
        pieces.for_each(|piece| fold_quick(piece, &mut seen, &mut folder));
    } else {
        pieces
            .flat_map(str::chars)
            .filter(|&c| seen.visible(c))
            .map(typographic)
            .nfkc()
            .for_each(|c| folder.push(c));
    }
    *invisible += seen.count;
    let odd_case = folder.odd_case || folder.marks;
    (folder.finish(), odd_case)
}

/// Folds text that needs no NFKC: runs of ASCII in one tight loop, the
/// other characters one by one.
fn fold_quick(mut rest: &str, seen: &mut Invisible, folder: &mut Folder) {
    while !rest.is_empty() {
        // Most lines are ASCII throughout, which `is_ascii` tells a word at
        // a time; looking for the first other byte goes a byte at a time.
        let ascii = if rest.is_ascii() {
            rest.len()
        } else {
            rest.bytes()
                .position(|b| !b.is_ascii())
                .unwrap_or(rest.len())
        };
        if ascii > 0 {
            let bytes = &rest.as_bytes()[..ascii];
            seen.seen(bytes[0].is_ascii_alphabetic());
            seen.after_letter = bytes[ascii - 1].is_ascii_alphabetic();
            folder.ascii(bytes);
        }
        rest = &rest[ascii..];
        if let Some(c) = rest.chars().next() {
            rest = &rest[c.len_utf8()..];
            if seen.visible(c) {
                folder.push(c);
            }
        }
    }
}
