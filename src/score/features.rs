//! Hashed word and word-pair features for the learned model. The hash is
//! FNV-1a, fixed by this file: a model trained today must read the same
//! features tomorrow, so changing anything here means a new
//! [`FEATURES_VERSION`].

use crate::message::MessageView;

/// Version of the feature extraction; stored in every model file. Version
/// 1 had no stems, version 2 read a subject's `Re:` and `Fwd:` prefixes as
/// words, version 3 read numbers by their value (see `number_shape`),
/// version 4 read the words that introduce contact details (`Fax:`, `Tel.`,
/// see `is_contact_word`), version 6 weighs each word `count^-0.47`
/// instead of `1/sqrt(count)` (see [`word_value`]); their model files are
/// still read (see [`extract_kept`]).
pub const FEATURES_VERSION: u32 = 6;

/// Words of the body considered; the opening of a message carries the
/// pitch, and a cap keeps huge messages cheap.
const MAX_BODY_WORDS: usize = 1500;

/// Characters kept of a long word as its stem, and how long a word must be
/// to have one (see [`stem`]).
const STEM_CHARS: usize = 6;
const STEM_MIN_CHARS: usize = STEM_CHARS + 2;

/// One feature present in a message, with the words it stands for (for
/// explanations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Feature<'a> {
    pub index: u32,
    pub subject: bool,
    pub first: &'a str,
    pub second: Option<&'a str>,
    /// `first` is the stem of a longer word, not a word.
    pub stem: bool,
}

impl Feature<'_> {
    /// A readable name: `team up`, `subject:partnership`, or `zusamm*` for
    /// a stem (written as the rule file writes a prefix).
    pub fn label(&self) -> String {
        let words = match self.second {
            Some(second) => format!("{} {second}", self.first),
            None if self.stem => format!("{}*", self.first),
            None => self.first.to_owned(),
        };
        if self.subject {
            format!("subject:{words}")
        } else {
            words
        }
    }
}

/// How fast a word's value falls with the message's count of word
/// features, from version 6 (see [`word_value`]).
const WORD_POWER: f64 = 0.47;

/// The value of each word feature present in a message with `count` of
/// them, for features of `version`: `count^-0.47` (`1/sqrt(count)` before
/// version 6, which gave the words' vector unit length), so that a long
/// message does not outweigh a short one merely by having more words.
/// The power sets how much the words weigh against the named tests, a
/// trade like the L2 penalty's: at 28,027 messages, in cross-validation
/// by batch, 0.47 flagged 9,437 of 11,154 pitches against 9,252 at 0.5,
/// 34 of 9,672 legitimate messages against 35, and 114 of 1,589 cold
/// sales against 98; of the 4,351 real legitimate messages beside the
/// repository it flagged 3 against 1, where 0.45 flagged 5 and 0.4 39.
pub fn word_value(count: usize, version: u32) -> f64 {
    let count = count.max(1) as f64;
    if version >= 6 {
        count.powf(-WORD_POWER)
    } else {
        1.0 / count.sqrt()
    }
}

/// The distinct features of a message for a table of `2^bits` weights,
/// sorted by index; of features sharing an index the first one stays.
pub fn extract(view: &MessageView, bits: u32) -> Vec<Feature<'_>> {
    extract_kept(view, bits, FEATURES_VERSION, |_| true).1
}

/// How many distinct features of `version` a message has for a table of
/// `2^bits` weights, and those of them whose index `keep` accepts, sorted
/// by index.
/// The model reads only features with a weight, a few of all: the others
/// need counting, not keeping and sorting.
pub fn extract_kept<'a>(
    view: &'a MessageView,
    bits: u32,
    version: u32,
    keep: impl Fn(u32) -> bool,
) -> (usize, Vec<Feature<'a>>) {
    // A reply or forward prefix says nothing a word could: whether the
    // reply is real is for the `fake_reply` and `in_thread` detectors.
    let subject = if version >= 3 {
        crate::message::without_prefixes(&view.subject)
    } else {
        &view.subject
    };
    let mask = (1u32 << bits) - 1;
    // One bit per index: clearing 64 KiB (19 bits) costs less than hashing
    // a message's few hundred indices into a set.
    let mut seen = vec![0u64; (1usize << bits).div_ceil(64)];
    let mut count = 0;
    let mut kept = Vec::with_capacity(256);
    let mut found = |feature: Feature<'a>| {
        let (word, bit) = (feature.index as usize / 64, 1u64 << (feature.index % 64));
        let new = seen[word] & bit == 0;
        seen[word] |= bit;
        count += usize::from(new);
        if new && keep(feature.index) {
            kept.push(feature);
        }
    };
    add_words(subject, true, usize::MAX, version, mask, &mut found);
    add_words(&view.body, false, MAX_BODY_WORDS, version, mask, &mut found);
    (count, by_index(&kept))
}

/// Features of distinct indices sorted by index. Sorting 8-byte keys
/// (index, then position) and gathering is cheaper than moving the 40-byte
/// features around, and one `u64` compares faster than a pair.
fn by_index<'a>(features: &[Feature<'a>]) -> Vec<Feature<'a>> {
    let mut order: Vec<u64> = (0u32..)
        .zip(features)
        .map(|(i, f)| u64::from(f.index) << 32 | u64::from(i))
        .collect();
    order.sort_unstable();
    order
        .iter()
        .map(|&key| features[key as u32 as usize])
        .collect()
}

/// Calls `found` with the feature of each word of `text` (up to `limit`
/// words), of each long word's stem (from version 2) and of each pair of
/// neighbouring words, in order, as features of `version` read them.
fn add_words<'a>(
    text: &'a str,
    subject: bool,
    limit: usize,
    version: u32,
    mask: u32,
    found: &mut impl FnMut(Feature<'a>),
) {
    let (stems, numbers, contacts) = (version >= 2, version >= 4, version >= 5);
    let start = fnv(FNV_OFFSET, if subject { b"s:" } else { b"b:" });
    let mut previous: Option<(&str, u32)> = None;
    for word in words(text).take(limit) {
        if contacts && is_contact_word(word) {
            previous = None;
            continue;
        }
        let word = if numbers { number_shape(word) } else { word };
        // The word's own hash and, going on from the hash of the word
        // before, the pair's (`hash(subject, prev, Some(word))`), in one
        // pass over its bytes.
        let pair_start = previous.map_or(start, |(_, h)| fnv(h, b" "));
        let (single, pair) = fnv2(start, pair_start, word.as_bytes());
        found(Feature {
            index: single & mask,
            subject,
            first: word,
            second: None,
            stem: false,
        });
        if stems && let Some(stem) = stem(word) {
            found(Feature {
                index: fnv(fnv(start, b"*"), stem.as_bytes()) & mask,
                subject,
                first: stem,
                second: None,
                stem: true,
            });
        }
        if let Some((prev, _)) = previous {
            found(Feature {
                index: pair & mask,
                subject,
                first: prev,
                second: Some(word),
                stem: false,
            });
        }
        previous = Some((word, single));
    }
}

/// Whether a word names a way to reach someone (`Fax:`, `Tel.`,
/// `www`): every business signature has them, in the style of its era and
/// country, and they say nothing about what the sender wants.
fn is_contact_word(word: &str) -> bool {
    matches!(
        word,
        "fax"
            | "tel"
            | "tél"
            | "phone"
            | "telephone"
            | "téléphone"
            | "mobile"
            | "mob"
            | "cell"
            | "email"
            | "e"
            | "mail"
            | "www"
            | "http"
            | "https"
            | "telefon"
            | "teléfono"
            | "telefone"
            | "telefoon"
            | "telefono"
            | "tfno"
            | "tlf"
            | "faks"
            | "kom"
    )
}

/// A number as its count of digits (`0`, `00`, `000`, `0000` for four or
/// more): a price, a phone number or a date says little by its value, and
/// a model that learned `320` from one message reads noise in the next.
fn number_shape(word: &str) -> &str {
    const SHAPES: [&str; 4] = ["0", "00", "000", "0000"];
    if word.bytes().all(|b| b.is_ascii_digit()) {
        SHAPES[word.len().clamp(1, SHAPES.len()) - 1]
    } else {
        word
    }
}

/// The first [`STEM_CHARS`] characters of a word of at least
/// [`STEM_MIN_CHARS`]: a crude stem that lets `Zusammenarbeit` and
/// `zusammenarbeiten`, `współpraca` and `współpracy`, `partnering` and
/// `partnership` share a feature, so inflections the corpus lacks are read
/// like the ones it has. Short words are left alone: their stems would
/// join unrelated words.
fn stem(word: &str) -> Option<&str> {
    // Fewer bytes than characters needed: too short, without a walk.
    if word.len() < STEM_MIN_CHARS {
        return None;
    }
    word.char_indices().nth(STEM_MIN_CHARS - 1)?;
    let (cut, _) = word.char_indices().nth(STEM_CHARS)?;
    Some(&word[..cut])
}

/// Words: runs of letters, digits and apostrophes inside words.
fn words(text: &str) -> impl Iterator<Item = &str> {
    Words { rest: text }
        .map(trim_apostrophes)
        .filter(|w| !w.is_empty())
}

/// `word.trim_matches('\'')`, a byte at a time.
fn trim_apostrophes(word: &str) -> &str {
    let bytes = word.as_bytes();
    let start = bytes
        .iter()
        .position(|&b| b != b'\'')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b'\'')
        .map_or(start, |i| i + 1);
    // Apostrophes are ASCII, so both ends are character boundaries.
    &word[start..end]
}

/// Runs of letters, digits and apostrophes: `str::split` on the other
/// characters without its empty pieces, ASCII read a byte at a time.
struct Words<'a> {
    rest: &'a str,
}

/// Which ASCII bytes are part of a word: letters, digits, apostrophes.
const ASCII_WORD: [bool; 128] = {
    let mut table = [false; 128];
    let mut b = 0;
    while b < 128 {
        table[b] = (b as u8).is_ascii_alphanumeric() || b == b'\'' as usize;
        b += 1;
    }
    table
};

impl Words<'_> {
    /// The length of the character at `i` and whether it is part of a word.
    #[inline]
    fn at(&self, i: usize) -> (usize, bool) {
        match self.rest.as_bytes()[i] {
            b @ 0..128 => (1, ASCII_WORD[usize::from(b)]),
            _ => self.rest[i..]
                .chars()
                .next()
                .map_or((1, false), |c| (c.len_utf8(), c.is_alphanumeric())),
        }
    }

    /// Where the run of characters from `i` that are (`word`) or are not
    /// part of a word ends.
    fn run_end(&self, mut i: usize, word: bool) -> usize {
        while i < self.rest.len() {
            let (len, is_word) = self.at(i);
            if is_word != word {
                break;
            }
            i += len;
        }
        i
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let start = self.run_end(0, false);
        let end = self.run_end(start, true);
        let rest = self.rest;
        self.rest = &rest[end..];
        (end > start).then(|| &rest[start..end])
    }
}

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

fn fnv(mut hash: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// [`fnv`] of the same bytes from two starting points, in one pass.
fn fnv2(mut a: u32, mut b: u32, bytes: &[u8]) -> (u32, u32) {
    for &byte in bytes {
        a = (a ^ u32::from(byte)).wrapping_mul(FNV_PRIME);
        b = (b ^ u32::from(byte)).wrapping_mul(FNV_PRIME);
    }
    (a, b)
}

#[cfg(test)]
fn hash(subject: bool, first: &str, second: Option<&str>) -> u32 {
    let prefix: &[u8] = if subject { b"s:" } else { b"b:" };
    let mut h = fnv(fnv(FNV_OFFSET, prefix), first.as_bytes());
    if let Some(second) = second {
        h = fnv(fnv(h, b" "), second.as_bytes());
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(subject: &str, body: &str) -> MessageView {
        MessageView {
            subject: subject.into(),
            body: body.into(),
            ..MessageView::default()
        }
    }

    #[test]
    fn a_words_worth_follows_the_model_files_version() {
        // Version 5 files were fitted with 1/sqrt(n); they must score so.
        assert_eq!(word_value(100, 5), 0.1);
        assert_eq!(word_value(100, 6), 100f64.powf(-WORD_POWER));
        assert!(word_value(100, 6) > word_value(100, 5));
        // No words at all is worth what one is, not a division by zero.
        assert_eq!(word_value(0, 6), 1.0);
    }

    #[test]
    fn words_pairs_and_subject_are_distinct_features() {
        let v = view("team up", "team up");
        let labels: Vec<String> = extract(&v, 18).iter().map(Feature::label).collect();
        let mut sorted = labels.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [
                "subject:team",
                "subject:team up",
                "subject:up",
                "team",
                "team up",
                "up"
            ]
        );
    }

    #[test]
    fn words_split_as_str_split_does() {
        let reference = |text: &str| -> Vec<String> {
            text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
                .map(|w| w.trim_matches('\''))
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect()
        };
        for text in [
            "",
            "  ",
            "'",
            "we'd 'partner' -- o'neil''s",
            "współpraca, дружба; naïve café",
            "a\u{2019}b x\u{00a0}y 12\u{0663}4",
        ] {
            assert_eq!(words(text).collect::<Vec<_>>(), reference(text), "{text:?}");
        }
    }

    #[test]
    fn distinct_features_are_counted_past_the_first_table() {
        let body: String = (0..2000).map(|i| format!("w{i} ")).collect();
        let v = view("", &body);
        let all = extract(&v, 24);
        let (count, kept) = extract_kept(&v, 24, FEATURES_VERSION, |i| i % 2 == 0);
        assert_eq!(count, all.len());
        assert!(all.windows(2).all(|w| w[0].index < w[1].index));
        let even: Vec<_> = all.into_iter().filter(|f| f.index % 2 == 0).collect();
        assert_eq!(kept, even);
    }

    #[test]
    fn long_words_share_their_stem() {
        assert_eq!(stem("zusammenarbeit"), Some("zusamm"));
        assert_eq!(stem("współpracy"), Some("współp"));
        assert_eq!(stem("partners"), Some("partne"));
        // Seven characters, whatever their bytes, are too short.
        assert_eq!(stem("partner"), None);
        assert_eq!(stem("żółćąęś"), None);
        assert_eq!(stem("żółćąęśń"), Some("żółćąę"));
        let v = view("", "partnering partnership");
        let stems: Vec<Feature> = extract(&v, 18).into_iter().filter(|f| f.stem).collect();
        assert_eq!(stems.len(), 1, "{stems:?}");
        assert_eq!(stems[0].label(), "partne*");
        // A stem is not the word it spells: `partne` alone differs.
        let short = view("", "partne");
        let word = extract(&short, 18);
        assert_ne!(word[0].index, stems[0].index);
        // Version 1 had no stems.
        let (count, old) = extract_kept(&v, 18, 1, |_| true);
        assert_eq!(count, 3);
        assert!(old.iter().all(|f| !f.stem));
    }

    /// The labels of a body's features as features of `version` read them.
    fn labels(body: &str, version: u32) -> Vec<String> {
        let view = view("", body);
        let (_, found) = extract_kept(&view, 18, version, |_| true);
        found.iter().map(Feature::label).collect()
    }

    #[test]
    fn numbers_are_read_by_their_count_of_digits() {
        let now = labels("call 555 0100, 7 days b2b", FEATURES_VERSION);
        for shape in ["000", "0000", "0", "000 0000", "call 000", "0 days"] {
            assert!(now.contains(&shape.to_owned()), "{shape} in {now:?}");
        }
        assert!(
            !now.iter().any(|l| l.contains('5') || l.contains('7')),
            "{now:?}"
        );
        // A word with letters keeps its digits.
        assert!(now.contains(&"b2b".to_owned()), "{now:?}");
        // The same shape for any number of that many digits.
        assert_eq!(
            labels("1234567", FEATURES_VERSION),
            labels("2026", FEATURES_VERSION)
        );
        // Version 3 models read the digits.
        assert!(labels("call 555", 3).contains(&"call 555".to_owned()));
    }

    #[test]
    fn contact_words_are_not_features() {
        // Words arrive case-folded, as normalisation leaves them.
        let now = labels(
            "sales office. fax: 555 0100, e-mail sales",
            FEATURES_VERSION,
        );
        for gone in ["fax", "office fax", "fax 000", "e", "mail", "mail sales"] {
            assert!(!now.contains(&gone.to_owned()), "{gone} in {now:?}");
        }
        // The words around them stay, unpaired across the gap.
        for kept in ["sales office", "000 0000", "sales"] {
            assert!(now.contains(&kept.to_owned()), "{kept} in {now:?}");
        }
        // Version 4 models read them.
        assert!(labels("fax 555", 4).contains(&"fax".to_owned()));
    }

    #[test]
    fn hashing_is_stable_across_builds() {
        // A model file depends on these exact values.
        assert_eq!(hash(false, "partner", None), 0x2aae_94e1);
        assert_eq!(hash(true, "team", Some("up")), 0x5661_6996);
    }

    #[test]
    fn punctuation_splits_words_and_duplicates_collapse() {
        let v = view("", "we'd partner, partner. 'partner'");
        let labels: Vec<String> = extract(&v, 18).iter().map(Feature::label).collect();
        assert!(labels.contains(&"we'd".to_owned()), "{labels:?}");
        assert_eq!(labels.iter().filter(|l| *l == "partner").count(), 1);
    }

    #[test]
    fn reply_and_forward_prefixes_are_not_words() {
        let labels = |subject: &str, version: u32| -> Vec<String> {
            let view = view(subject, "");
            let (_, found) = extract_kept(&view, 18, version, |_| true);
            found.iter().map(Feature::label).collect()
        };
        let mut now = labels("re: aw : fwd: our offer", FEATURES_VERSION);
        now.sort();
        assert_eq!(now, ["subject:offer", "subject:our", "subject:our offer"]);
        // Italian Outlook's forward prefix, `I:`, is one too.
        assert!(!labels("i: free audit", FEATURES_VERSION).contains(&"subject:i".to_owned()));
        // A prefix not followed by a colon stays a word, and so does a
        // word before a colon that is not a prefix.
        assert!(labels("re offer", FEATURES_VERSION).contains(&"subject:re".to_owned()));
        assert!(labels("rex: offer", FEATURES_VERSION).contains(&"subject:rex".to_owned()));
        // Version 2 models read them as words.
        assert!(labels("re: our offer", 2).contains(&"subject:re".to_owned()));
    }
}
