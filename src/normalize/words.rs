//! Letters and words: which characters pass for Latin letters, and the
//! repairs made inside one token (dotted-out letters joined, look-alikes
//! and leetspeak digits folded).

use super::Repairs;
use unicode_normalization::char::is_combining_mark;

/// Greek capitals that look like one Latin letter while their lower case
/// looks like another (`Ν` N, `ν` v). The first pass keeps them in upper
/// case so that the second can fold them by their capital shape; it
/// lower-cases them when it does not fold.
pub(super) fn is_two_faced(c: char) -> bool {
    matches!(c, 'Η' | 'Ν' | 'Μ' | 'Υ')
}

/// The Latin letter a Cyrillic or Greek letter passes for (lower case, or
/// one of the capitals of [`is_two_faced`]).
pub(super) fn confusable(c: char) -> Option<char> {
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

pub(super) fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (matches!(c, '\u{00c0}'..='\u{024f}' | '\u{1e00}'..='\u{1eff}') && c.is_alphabetic())
}

/// A letter that may be part of a spaced or dotted-out word.
pub(super) fn is_run_letter(c: char) -> bool {
    is_latin_letter(c) || confusable(c).is_some()
}

pub(super) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || (!c.is_ascii() && is_combining_mark(c))
}

/// The letter a leetspeak digit stands for.
pub(super) fn leet(c: char) -> Option<char> {
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
pub(super) fn is_letter_separator(c: char) -> bool {
    matches!(c, '.' | '-' | '_' | '*' | '·' | '•' | '~' | '+' | '|')
}

/// A token whose digits are no disguise: a path, address, parameter,
/// domain, version, part number (`/api/v1beta1`, `user_01@`,
/// `qmail-pop3d`, `mytop5s.com`), or one too long to be a word (keys,
/// armour).
pub(super) fn is_technical_token(chars: &[char]) -> bool {
    let inner = chars
        .get(1..chars.len().saturating_sub(1))
        .unwrap_or_default();
    chars.len() > 40
        || chars.iter().any(|&c| c.is_ascii() && is_technical(c as u8))
        || inner.iter().any(|&c| c == '.' || c == '-')
}

/// Characters of paths, addresses, parameters and prices.
pub(super) fn is_technical(b: u8) -> bool {
    matches!(
        b,
        b'/' | b'@' | b'=' | b'\\' | b'_' | b'#' | b'$' | b'%' | b'&'
    )
}

/// Joins dotted-out letters inside a token in place (`p.a.r.t.n.e.r.` →
/// `partner.`), when they spell at least four letters, one of them ASCII,
/// each alone between separators. Returns how many it joined that are not
/// acronyms (`s.t.a.r.`, `p.l.l.c.`: short, dotted, with a final dot).
pub(super) fn join_dotted(chars: &mut Vec<char>) -> u32 {
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
pub(super) fn dotted_units(chars: &[char]) -> usize {
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
pub(super) fn fix_word(word: &mut [char], technical: bool, repairs: &mut Repairs) {
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
pub(super) fn is_unit(rest: &[char]) -> bool {
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
pub(super) fn unleet(word: &mut [char]) -> bool {
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
