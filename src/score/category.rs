//! The kind of pitch, for `X-Pitchfork-Category`: users route recruiters
//! and agencies differently.
//!
//! A model file trained with categories decides it from the message's word
//! features ([`Learned`]). Without one, each category is a list of phrases
//! in the rule file and the one with the most distinct phrases in the
//! message wins; the phrases are searched by the rules' automaton, in the
//! same pass as the rule phrases (see `RuleSet::score`).

use super::sparse::SparseIndex;
use crate::config::ConfigError;
use serde::{Deserialize, Serialize};

/// The categories a rule file may name; anything else is `other`.
pub const NAMES: [&str; 9] = [
    "recruiting",
    "software-outsourcing",
    "seo-links",
    "lead-generation",
    "marketing-agency",
    "data-lists",
    "financing",
    "media-placement",
    "other",
];

/// A `[[category]]` table of the rule file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCategory {
    name: String,
    phrases: Vec<String>,
}

/// Checked category phrases, for the rules' automaton.
#[derive(Clone, Debug)]
pub struct Categories {
    names: Vec<&'static str>,
    /// Every category's phrases, in order.
    pub(super) phrases: Vec<String>,
    /// Category index of each phrase.
    owner: Vec<usize>,
}

impl Categories {
    pub(super) fn compile(raw: Vec<RawCategory>, errors: &mut Vec<ConfigError>) -> Self {
        let mut names = Vec::new();
        let mut phrases = Vec::new();
        let mut owner = Vec::new();
        for (i, category) in raw.into_iter().enumerate() {
            let Some(name) = NAMES.iter().find(|n| **n == category.name) else {
                errors.push(ConfigError {
                    path: format!("category[{i}].name"),
                    reason: format!("`{}` is not one of {}", category.name, NAMES.join(", ")),
                });
                continue;
            };
            for (j, phrase) in category.phrases.into_iter().enumerate() {
                if crate::message::normalize(&phrase) != phrase || phrase.is_empty() {
                    errors.push(ConfigError {
                        path: format!("category[{i}].phrases[{j}]"),
                        reason: format!("`{phrase}` is not normalised"),
                    });
                }
                phrases.push(phrase);
                owner.push(names.len());
            }
            names.push(*name);
        }
        Self {
            names,
            phrases,
            owner,
        }
    }

    /// The category with the most distinct phrases among those `seen` (one
    /// flag per phrase, found in the subject or body); `other` when none
    /// is. Ties go to the earlier category.
    pub(super) fn pick(&self, seen: &[bool]) -> &'static str {
        let mut counts = vec![0usize; self.names.len()];
        for (phrase, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
            counts[self.owner[phrase]] += 1;
        }
        let best = counts
            .iter()
            .enumerate()
            .fold(None, |best, (i, &n)| match best {
                Some((_, m)) if m >= n => best,
                _ if n > 0 => Some((i, n)),
                _ => best,
            });
        best.map_or("other", |(i, _)| self.names[i])
    }
}

/// The category part of a model file: a softmax regression over the word
/// features of the pitch model, fitted on pitches labelled with their
/// category (see `pitchfork train --categories`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryWeights {
    /// The categories it tells apart, each one of [`NAMES`].
    pub names: Vec<String>,
    /// The bias of each category.
    pub bias: Vec<f64>,
    /// Word features with a weight, as `[index, [weight of each category]]`,
    /// by index.
    pub words: Vec<(u32, Vec<f64>)>,
}

/// Learned category weights, ready to use.
#[derive(Clone, Debug)]
pub struct Learned {
    names: Vec<&'static str>,
    bias: Vec<f32>,
    /// The weighted features; the rank of each is its row in `weights`.
    rows: SparseIndex,
    /// One weight for each category, row after row.
    weights: Vec<f32>,
}

impl Learned {
    /// Checks the category part of a model file whose word table has
    /// `2^hash_bits` indices; `max_weight` bounds every number.
    pub fn new(
        file: &CategoryWeights,
        hash_bits: u32,
        max_weight: f64,
    ) -> Result<Self, Vec<ConfigError>> {
        let error = |path: String, reason: String| ConfigError {
            path: format!("categories.{path}"),
            reason,
        };
        let mut errors = Vec::new();
        let mut names = Vec::new();
        for (i, name) in file.names.iter().enumerate() {
            match NAMES.iter().find(|n| **n == name) {
                Some(n) if !names.contains(n) => names.push(*n),
                Some(_) => errors.push(error(format!("names[{i}]"), format!("`{name}` twice"))),
                None => errors.push(error(
                    format!("names[{i}]"),
                    format!("`{name}` is not one of {}", NAMES.join(", ")),
                )),
            }
        }
        if names.len() < 2 {
            errors.push(error(
                "names".into(),
                "needs at least two categories".into(),
            ));
        }
        let bounded = |w: &f64| w.is_finite() && w.abs() <= max_weight;
        if file.bias.len() != file.names.len() || !file.bias.iter().all(bounded) {
            errors.push(error(
                "bias".into(),
                "needs one weight for each name".into(),
            ));
        }
        let mut seen = vec![0u64; (1usize << hash_bits).div_ceil(64)];
        for (i, (index, row)) in file.words.iter().enumerate() {
            if *index >> hash_bits != 0 {
                errors.push(error(
                    format!("words[{i}]"),
                    format!("index {index} out of range"),
                ));
            } else if row.len() != file.names.len() || !row.iter().all(bounded) {
                errors.push(error(
                    format!("words[{i}]"),
                    "needs one weight for each name".into(),
                ));
            } else {
                let (word, bit) = (*index as usize / 64, 1 << (index % 64));
                if seen[word] & bit != 0 {
                    errors.push(error(format!("words[{i}]"), format!("index {index} twice")));
                }
                seen[word] |= bit;
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let rows = SparseIndex::new(hash_bits, file.words.iter().map(|(index, _)| *index));
        let k = file.names.len();
        let mut weights = vec![0.0f32; rows.len() * k];
        for (index, row) in &file.words {
            let at = rows.rank(*index).expect("every listed index is a member") * k;
            weights[at..at + k]
                .iter_mut()
                .zip(row)
                .for_each(|(slot, &w)| *slot = w as f32);
        }
        Ok(Self {
            names,
            bias: file.bias.iter().map(|&b| b as f32).collect(),
            rows,
            weights,
        })
    }

    /// The feature indices with a weight.
    pub fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        self.rows.members()
    }

    /// The most likely category of a message with these word features,
    /// each of `value` (see `features::word_value`). Ties go to the earlier
    /// name.
    pub fn pick(&self, features: impl Iterator<Item = u32>, value: f64) -> &'static str {
        let k = self.names.len();
        let mut sums = vec![0.0f64; k];
        for row in features.filter_map(|f| self.rows.rank(f)) {
            let weights = &self.weights[row * k..(row + 1) * k];
            sums.iter_mut()
                .zip(weights)
                .for_each(|(sum, &w)| *sum += f64::from(w));
        }
        let logit = |i: usize| f64::from(self.bias[i]) + sums[i] * value;
        let best = (1..k).fold(0, |best, i| if logit(i) > logit(best) { i } else { best });
        self.names[best]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::rules::{each_match, phrase_automaton};

    /// What `RuleSet::score` does with the category phrases of its
    /// automaton.
    fn classify(categories: &Categories, body: &str) -> &'static str {
        let automaton = phrase_automaton(&categories.phrases).unwrap();
        let mut seen = vec![false; categories.phrases.len()];
        each_match(&automaton, body, |m| seen[m.id] = true);
        categories.pick(&seen)
    }

    fn categories(spec: &[(&str, &[&str])]) -> Categories {
        let raw = spec
            .iter()
            .map(|(name, phrases)| RawCategory {
                name: (*name).into(),
                phrases: phrases.iter().map(|p| (*p).to_owned()).collect(),
            })
            .collect();
        let mut errors = Vec::new();
        let compiled = Categories::compile(raw, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        compiled
    }

    #[test]
    fn most_distinct_phrases_win() {
        let c = categories(&[
            ("recruiting", &["candidates", "recruit"]),
            (
                "seo-links",
                &["backlinks", "guest post", "domain authority"],
            ),
        ]);
        assert_eq!(
            classify(&c, "we recruit candidates; guest post"),
            "recruiting"
        );
        assert_eq!(
            classify(&c, "guest post backlinks for candidates"),
            "seo-links"
        );
        assert_eq!(classify(&c, "nothing here"), "other");
    }

    fn weights() -> CategoryWeights {
        CategoryWeights {
            names: vec!["recruiting".into(), "seo-links".into(), "other".into()],
            bias: vec![0.0, 0.0, 0.5],
            words: vec![(3, vec![2.0, -1.0, 0.0]), (9, vec![-1.0, 3.0, 0.0])],
        }
    }

    #[test]
    fn learned_categories_follow_the_weighted_features() {
        let learned = Learned::new(&weights(), 4, 1e6).unwrap();
        let mut indices: Vec<u32> = learned.indices().collect();
        indices.sort_unstable();
        assert_eq!(indices, [3, 9]);
        assert_eq!(learned.pick([3, 5].into_iter(), 1.0), "recruiting");
        assert_eq!(learned.pick([9].into_iter(), 1.0), "seo-links");
        // Features without a weight leave the bias to decide; a small
        // value (a long message) weakens each word.
        assert_eq!(learned.pick([5].into_iter(), 1.0), "other");
        assert_eq!(learned.pick([3].into_iter(), 0.1), "other");
    }

    #[test]
    fn learned_categories_are_checked_with_their_paths() {
        let mut bad = weights();
        bad.names[1] = "spam".into();
        bad.names[2] = "recruiting".into();
        bad.bias.pop();
        bad.words[0].1.pop();
        bad.words[1].0 = 16;
        let errors = Learned::new(&bad, 4, 1e6).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "categories.names[1]",
                "categories.names[2]",
                "categories.names",
                "categories.bias",
                "categories.words[0]",
                "categories.words[1]"
            ]
        );
        let mut overflowing = weights();
        overflowing.words[1].1[0] = f64::INFINITY;
        let errors = Learned::new(&overflowing, 4, 1e6).unwrap_err();
        assert_eq!(errors[0].path, "categories.words[1]");
    }

    #[test]
    fn unknown_names_and_unnormalised_phrases_are_errors() {
        let raw = vec![
            RawCategory {
                name: "spam".into(),
                phrases: vec!["x".into()],
            },
            RawCategory {
                name: "financing".into(),
                phrases: vec!["Working Capital".into()],
            },
        ];
        let mut errors = Vec::new();
        Categories::compile(raw, &mut errors);
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["category[0].name", "category[1].phrases[0]"]);
    }
}
