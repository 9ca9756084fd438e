//! Scoring: named tests from the rule file run over a normalised message;
//! each hit contributes its weight, and the sum is the score. Pure and
//! synchronous: the daemon and `pitchfork check` call the same code.

pub mod category;
pub mod features;
pub mod model;
mod rules;
mod sparse;
pub mod train;

pub use model::Model;
pub use rules::{Condition, DEFAULT_RULES, RuleSet, Scope, Test};

use crate::message::MessageView;
use serde::Deserialize;

/// Facts about a message that code, not phrases, decides. Their weights and
/// names still come from the rule file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    /// Only the first `max_scan_bytes` of the message were scanned.
    ScanTruncated,
    /// The MIME structure could not be parsed; raw text was scanned.
    Unparseable,
    /// A `Re:` subject without `In-Reply-To` or `References`: a cold
    /// message posing as a reply.
    FakeReply,
    /// A forward with a note (see `Facts::forwarded`): the pitch, if any,
    /// is someone else's.
    Forwarded,
    /// A reply that references an earlier message.
    InThread,
    /// Bulk or list mail (`List-Unsubscribe`, `Precedence: bulk`).
    BulkMail,
    /// Normalisation undid disguises: look-alike letters, spaced-out
    /// letters, leetspeak, invisible characters inside words.
    Obfuscated,
    /// The HTML hides text from the reader.
    HiddenText,
    /// A 1×1, zero-sized or hidden remote image.
    TrackingPixel,
    /// A reply to a message sent from here (the state store decides).
    ReplyToOurs,
    /// From someone a local user has written to (the state store decides).
    KnownCorrespondent,
    /// Claims an earlier exchange that the state store knows nothing of.
    FakeThread,
    /// What the words say by the counts of `pitchfork learn`; the weight
    /// is the most it adds or takes away.
    Learned,
}

impl Detector {
    fn fires(self, view: &MessageView) -> bool {
        let facts = &view.facts;
        match self {
            Self::ScanTruncated => facts.truncated,
            Self::Unparseable => facts.unparseable,
            Self::FakeReply => facts.reply_subject && !facts.references,
            Self::Forwarded => facts.forwarded,
            Self::InThread => facts.reply_subject && facts.references,
            Self::BulkMail => facts.bulk,
            Self::Obfuscated => facts.obfuscated,
            Self::HiddenText => facts.hidden_text,
            Self::TrackingPixel => facts.tracking_pixel,
            // Decided with the state store, after the rules (see
            // `crate::state::signals`).
            Self::ReplyToOurs | Self::KnownCorrespondent | Self::FakeThread | Self::Learned => {
                false
            }
        }
    }
}

/// One test that hit, with its contribution to the score.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub name: String,
    pub score: f64,
    /// What matched (a phrase, a pattern), for debug logs and `check`.
    pub evidence: Option<String>,
}

/// The score of one message and the tests that made it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// Sum of the hits, rounded to two decimals so that the threshold
    /// comparison agrees with the score shown in headers.
    pub score: f64,
    /// Sorted by contribution, largest first.
    pub hits: Vec<Hit>,
    /// The kind of pitch, should this be one (see [`category`]): the rule
    /// file's choice until a category model has made its own.
    pub category: &'static str,
    /// What a category model reads, kept for when the verdict needs a
    /// category (see [`Model::categorize`]).
    pub words: Option<CategoryWords>,
}

/// The word features of a message a category model weighs, and the value
/// of each: most mail is not flagged and needs no category, so the
/// choice waits for the verdict.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CategoryWords {
    /// Feature indices, in the order the model reads them.
    pub indices: Vec<u32>,
    pub value: f64,
}

impl RuleSet {
    /// The test a detector feeds, if the rule file has one.
    pub fn detector_test(&self, detector: Detector) -> Option<&Test> {
        self.tests
            .iter()
            .find(|test| test.condition == Condition::Detector(detector))
    }

    /// Whether a hit test says the message continues an earlier exchange
    /// (`claims_exchange = true` in the rule file).
    pub fn claims_exchange(&self, hits: &[Hit]) -> bool {
        self.tests
            .iter()
            .filter(|test| test.claims_exchange)
            .any(|test| hits.iter().any(|hit| hit.name == test.name))
    }

    /// Scores a normalised message.
    pub fn score(&self, view: &MessageView) -> Evaluation {
        let mut evidence: Vec<Option<Option<String>>> = vec![None; self.tests.len()];
        let mut categories = vec![false; self.categories.phrases.len()];
        self.match_text(view, &mut evidence, &mut categories);
        for (i, test) in self.tests.iter().enumerate() {
            let fired = match &test.condition {
                Condition::Text(_) => continue,
                Condition::Detector(detector) => detector.fires(view),
                Condition::All(parts) => parts.iter().all(|&p| evidence[p].is_some()),
                Condition::Any(parts) => parts.iter().any(|&p| evidence[p].is_some()),
                Condition::None(parts) => parts.iter().all(|&p| evidence[p].is_none()),
            };
            if fired {
                evidence[i] = Some(None);
            }
        }
        Evaluation {
            category: self.categories.pick(&categories),
            ..self.evaluation(evidence)
        }
    }

    /// The parts of a message that tests read, each with its scope: the
    /// signature and postscript (also in the body) only when a test reads
    /// them alone.
    fn parts<'a>(&self, view: &'a MessageView) -> impl Iterator<Item = (Scope, &'a str)> {
        let own = [
            (Scope::Signature, view.signature.as_str()),
            (Scope::Postscript, view.postscript.as_str()),
        ]
        .into_iter()
        .zip(self.reads_parts)
        .filter_map(|(part, read)| read.then_some(part));
        [
            (Scope::Subject, view.subject.as_str()),
            (Scope::Body, view.body.as_str()),
        ]
        .into_iter()
        .chain(own)
        .filter(|(_, text)| !text.is_empty())
    }

    /// Searches each part once for the rule phrases, the category phrases
    /// (flagged in `categories`, whatever their scope) and the patterns'
    /// anchors, then runs the patterns whose anchor occurred.
    fn match_text(
        &self,
        view: &MessageView,
        evidence: &mut [Option<Option<String>>],
        categories: &mut [bool],
    ) {
        let first_anchor = self.phrase_info.len() + self.categories.phrases.len();
        let mut anchors = vec![false; self.anchors];
        for (scope, text) in self.parts(view) {
            anchors.fill(false);
            rules::each_match(&self.phrases, text, |m| {
                let id = m.id;
                if id >= first_anchor {
                    anchors[id - first_anchor] = true;
                    return;
                }
                let Some(&info) = self.phrase_info.get(id) else {
                    // Where a word begins: `rpo` is not in `corporate`.
                    if at_word_boundaries(text, m.start, m.end, true) {
                        categories[id - self.phrase_info.len()] = true;
                    }
                    return;
                };
                if evidence[info.test].is_some() || !in_scope(&self.tests[info.test], scope) {
                    return;
                }
                if at_word_boundaries(text, m.start, m.end, info.prefix) {
                    let end = word_end(text, m.end);
                    evidence[info.test] = Some(Some(text[m.start..end].to_owned()));
                }
            });
            self.match_patterns(scope, text, &anchors, evidence);
        }
    }

    /// Runs the patterns that read `scope` over its `text`.
    fn match_patterns(
        &self,
        scope: Scope,
        text: &str,
        anchors: &[bool],
        evidence: &mut [Option<Option<String>>],
    ) {
        // The parts in `Scope` order: subject, body, signature, postscript.
        for &p in &self.patterns_for[scope as usize] {
            let (pattern, test) = (&self.patterns[p], self.pattern_test[p]);
            let anchor = &self.pattern_anchor[p];
            let anchored = anchor.is_empty() || anchor.iter().any(|&k| anchors[k]);
            // A test that hit already needs no second pattern. Matched
            // first: a test is only looked up for what the text contains,
            // as for phrases.
            if anchored && evidence.get(test).is_none_or(Option::is_none) && pattern.is_match(text)
            {
                evidence[test] = Some(Some(pattern.as_str().to_owned()));
            }
        }
    }

    fn evaluation(&self, evidence: Vec<Option<Option<String>>>) -> Evaluation {
        let hits: Vec<Hit> = self
            .tests
            .iter()
            .zip(evidence)
            .filter_map(|(test, found)| {
                found.map(|evidence| Hit {
                    name: test.name.clone(),
                    score: test.score,
                    evidence,
                })
            })
            .filter(|hit| hit.score != 0.0)
            .collect();
        sorted_evaluation(hits)
    }
}

/// Sorts hits by contribution and sums them into a score.
pub fn sorted_evaluation(mut hits: Vec<Hit>) -> Evaluation {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.name.cmp(&b.name))
    });
    let total: f64 = hits.iter().map(|h| h.score).sum();
    Evaluation {
        // `+ 0.0` turns the -0.0 of an empty sum into 0.0.
        score: (total * 100.0).round() / 100.0 + 0.0,
        hits,
        category: "other",
        words: None,
    }
}

/// Whether a test reads the part of the message with this scope: tests of
/// the whole text read the subject and body (the signature and postscript
/// are in the body already); the others read their own part.
fn in_scope(test: &Test, scope: Scope) -> bool {
    let Condition::Text(own) = test.condition else {
        return false;
    };
    own == scope || (own == Scope::Text && matches!(scope, Scope::Subject | Scope::Body))
}

/// A phrase counts only as whole words: `partner` must not hit inside
/// `partnership` unless the rule asks for a prefix (`partner*`).
fn at_word_boundaries(text: &str, start: usize, end: usize, prefix: bool) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(is_word_char) && (prefix || !after.is_some_and(is_word_char))
}

/// Where the word that continues at `from` ends (for prefix phrases, so the
/// evidence shows `partnership`, not `partnersh`).
fn word_end(text: &str, from: usize) -> usize {
    text[from..]
        .find(|c| !is_word_char(c))
        .map_or(text.len(), |i| from + i)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests;
