//! The kind of pitch, for `X-Pitchfork-Category`: users route recruiters
//! and agencies differently. Each category is a list of phrases in the rule
//! file; the one with the most distinct phrases in the message wins. The
//! phrases are searched by the rules' automaton, in the same pass as the
//! rule phrases (see `RuleSet::score`).

use crate::config::ConfigError;
use serde::Deserialize;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::rules::{each_match, phrase_automaton};

    /// What `RuleSet::score` does with the category phrases of its
    /// automaton.
    fn classify(categories: &Categories, body: &str) -> &'static str {
        let automaton = phrase_automaton(&categories.phrases).unwrap();
        let mut seen = vec![false; categories.phrases.len()];
        each_match(&automaton, body, |m| seen[m.pattern().as_usize()] = true);
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
