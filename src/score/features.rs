//! Hashed word and word-pair features for the learned model. The hash is
//! FNV-1a, fixed by this file: a model trained today must read the same
//! features tomorrow, so changing anything here means a new
//! [`FEATURES_VERSION`].

use crate::message::MessageView;

/// Version of the feature extraction; stored in every model file.
pub const FEATURES_VERSION: u32 = 1;

/// Words of the body considered; the opening of a message carries the
/// pitch, and a cap keeps huge messages cheap.
const MAX_BODY_WORDS: usize = 1500;

/// One feature present in a message, with the words it stands for (for
/// explanations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Feature<'a> {
    pub index: u32,
    pub subject: bool,
    pub first: &'a str,
    pub second: Option<&'a str>,
}

impl Feature<'_> {
    /// A readable name: `team up`, or `subject:partnership`.
    pub fn label(&self) -> String {
        let words = match self.second {
            Some(second) => format!("{} {second}", self.first),
            None => self.first.to_owned(),
        };
        if self.subject {
            format!("subject:{words}")
        } else {
            words
        }
    }
}

/// The value of each word feature present in a message with `count` of
/// them: `1/sqrt(count)`, so that the words' vector has unit length and a
/// long message does not outweigh a short one merely by having more words.
pub fn word_value(count: usize) -> f64 {
    1.0 / (count.max(1) as f64).sqrt()
}

/// The distinct features of a message for a table of `2^bits` weights,
/// sorted by index.
pub fn extract(view: &MessageView, bits: u32) -> Vec<Feature<'_>> {
    let mask = (1u32 << bits) - 1;
    let mut features = Vec::with_capacity(512);
    add_words(&view.subject, true, usize::MAX, mask, &mut features);
    add_words(&view.body, false, MAX_BODY_WORDS, mask, &mut features);
    // Sorting 8-byte keys (index, then position) and gathering is cheaper
    // than moving the 40-byte features around, and one `u64` compares
    // faster than a pair; of features sharing an index the first one stays.
    let mut order: Vec<u64> = (0u32..)
        .zip(&features)
        .map(|(i, f)| u64::from(f.index) << 32 | u64::from(i))
        .collect();
    order.sort_unstable();
    order.dedup_by_key(|key| *key >> 32);
    order
        .iter()
        .map(|&key| features[key as u32 as usize])
        .collect()
}

fn add_words<'a>(
    text: &'a str,
    subject: bool,
    limit: usize,
    mask: u32,
    out: &mut Vec<Feature<'a>>,
) {
    let mut previous: Option<(&str, u32)> = None;
    for word in words(text).take(limit) {
        let single = hash(subject, word, None);
        out.push(Feature {
            index: single & mask,
            subject,
            first: word,
            second: None,
        });
        if let Some((prev, prev_hash)) = previous {
            // The same as `hash(subject, prev, Some(word))`, going on from
            // the hash of `prev` instead of hashing it again.
            let pair = fnv(fnv(prev_hash, b" "), word.as_bytes());
            out.push(Feature {
                index: pair & mask,
                subject,
                first: prev,
                second: Some(word),
            });
        }
        previous = Some((word, single));
    }
}

/// Words: runs of letters, digits and apostrophes inside words.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
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
}
