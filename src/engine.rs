//! The runtime snapshot: a validated configuration with its compiled rules.
//! One snapshot judges a message from start to end, so a reload never
//! changes the rules under a message in flight.

use crate::{
    action::Decision,
    config::{Config, ConfigError, ConfigErrors},
    message::MessageView,
    score::{Detector, Evaluation, Model, RuleSet, features},
    state::{
        Known, LEARN_BITS, Query,
        envelope::Envelope,
        signals::{self, Claims},
    },
};
use std::path::Path;

/// Configuration and compiled rules, built once and shared.
#[derive(Clone, Debug)]
pub struct Engine {
    pub config: Config,
    pub rules: RuleSet,
    /// The learned model, unless `model = false`.
    pub model: Option<Model>,
}

impl Engine {
    /// Loads the configuration (the built-in one when `path` is `None`) and
    /// the rule file it names.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigErrors> {
        Self::with_config(Config::load(path)?)
    }

    /// Loads the rules and model a validated configuration names.
    pub fn with_config(config: Config) -> Result<Self, ConfigErrors> {
        let rules = match &config.rules_file {
            None => RuleSet::builtin(),
            Some(path) => load_file(path, "rules_file", RuleSet::parse)?,
        };
        let model = match (&config.model_file, config.model) {
            (_, false) => None,
            (None, true) => Some(Model::builtin()),
            (Some(path), true) => Some(load_file(path, "model_file", Model::parse)?),
        };
        Ok(Self {
            config,
            rules,
            model,
        })
    }

    /// Parses, normalises and scores one message and decides what to do,
    /// without the state store.
    pub fn judge(&self, raw: &[u8], truncated: bool) -> Decision {
        self.decide(self.prepare(raw, truncated, None), None, 0)
    }

    /// The first half of judging: parse, normalise, score by the rules and
    /// the model, and, when there is a store to `ask`, say what to ask it:
    /// nothing (no query) when its answer could not change the verdict
    /// (see [`Engine::store_could_change`]) unless `ask.regardless` or
    /// `state_ask_all`.
    pub fn prepare(&self, raw: &[u8], truncated: bool, ask: Option<Ask>) -> Prepared {
        let view = MessageView::parse(raw, truncated);
        let evaluation = self.rules.score(&view);
        let evaluation = match &self.model {
            Some(model) => model.rescore(evaluation, &view),
            None => evaluation,
        };
        let claims = Claims {
            exchange: view.facts.reply_subject || self.rules.claims_exchange(&evaluation.hits),
            bulk: view.facts.bulk,
        };
        let query = match ask {
            Some(ask)
                if ask.regardless
                    || self.config.state.ask_all
                    || self.store_could_change(&evaluation, claims, ask.learned) =>
            {
                let features = if ask.learned {
                    learned_features(&view)
                } else {
                    Vec::new()
                };
                Some(self.query(raw, ask.sender, features))
            }
            _ => None,
        };
        Prepared {
            evaluation,
            claims,
            query,
        }
    }

    /// Whether what a store knows could change the verdict of a message
    /// scored `evaluation`: only if the stateful tests that add points,
    /// all hitting at once, would lift it to the flag threshold. The tests
    /// that take points away (a reply to our mail, a known correspondent)
    /// matter only to mail flagged without them, which is asked about.
    /// `learned`: whether `LEARNED` counts (the store has learned enough).
    /// Most mail scores far below the threshold: it then costs the store
    /// nothing, and its score and tests go without the stateful ones.
    pub fn store_could_change(
        &self,
        evaluation: &Evaluation,
        claims: Claims,
        learned: bool,
    ) -> bool {
        let lift = |detector| {
            self.rules
                .detector_test(detector)
                .map_or(0.0, |test| test.score.max(0.0))
        };
        let mut most = lift(Detector::ReplyToOurs) + lift(Detector::KnownCorrespondent);
        if claims.exchange && !claims.bulk {
            most += lift(Detector::FakeThread);
        }
        if learned {
            most += lift(Detector::Learned);
        }
        evaluation.score + most >= self.config.thresholds.flag
    }

    /// What to ask the store about a message, from its header alone (no
    /// scoring needed), with the word `features` whose counts matter.
    pub fn query(&self, raw: &[u8], sender: Option<&str>, features: Vec<u32>) -> Query {
        let envelope = Envelope::scan(raw);
        let senders = sender
            .into_iter()
            .map(str::to_owned)
            .chain(envelope.from)
            .filter(|s| !s.is_empty())
            .collect();
        Query {
            references: envelope.references,
            senders,
            features,
            min_learns: self.config.state.min_learns,
        }
    }

    /// The second half: adds what the store knows (`None` when there is no
    /// store, or it did not answer in time) and decides. `now` is seconds
    /// since the epoch.
    pub fn decide(&self, prepared: Prepared, known: Option<&Known>, now: u64) -> Decision {
        let mut evaluation = prepared.evaluation;
        if let Some(known) = known {
            let state = &self.config.state;
            let extra = signals::hits(&self.rules, state, prepared.claims, known, now);
            if !extra.is_empty() {
                let (category, words) = (evaluation.category, evaluation.words);
                let mut hits = evaluation.hits;
                hits.extend(extra);
                evaluation = Evaluation {
                    category,
                    words,
                    ..crate::score::sorted_evaluation(hits)
                };
            }
        }
        // Only flagged mail is given a category: the rest skips the
        // category model.
        if evaluation.score >= self.config.thresholds.flag
            && let Some(model) = &self.model
        {
            evaluation.category = model.categorize(&evaluation);
        }
        Decision::new(evaluation, &self.config)
    }
}

/// What [`Engine::prepare`] asks of a store.
#[derive(Clone, Copy, Debug)]
pub struct Ask<'a> {
    /// The envelope sender, when known.
    pub sender: Option<&'a str>,
    /// Whether to ask for learned word counts: a second pass over the
    /// words, worth it only once the store has learned enough.
    pub learned: bool,
    /// Ask even when the answer could not change the verdict (to learn
    /// whether the store has learned enough, say).
    pub regardless: bool,
}

/// A message scored by its content, waiting for the state store.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub evaluation: Evaluation,
    pub claims: Claims,
    /// What to ask the store; `None`: nothing (no store, or nothing it
    /// could say would change the verdict).
    pub query: Option<Query>,
}

/// The word features whose learned counts `LEARNED` weighs.
pub fn learned_features(view: &MessageView) -> Vec<u32> {
    features::extract(view, LEARN_BITS)
        .iter()
        .map(|f| f.index)
        .collect()
}

/// Reads and parses a file a configuration key names; errors carry the
/// file as their source and the key when the file cannot be read.
fn load_file<T>(
    path: &Path,
    key: &str,
    parse: impl Fn(&str) -> Result<T, Vec<ConfigError>>,
) -> Result<T, ConfigErrors> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
        source: source.clone(),
        errors: vec![ConfigError {
            path: key.into(),
            reason: format!("cannot read file: {e}"),
        }],
    })?;
    parse(&text).map_err(|errors| ConfigErrors { source, errors })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &[u8] = b"From: Ana <ana@vendor.example>\r\n\
        In-Reply-To: <first@ours.example>\r\n\
        Subject: Re: partnership\r\n\r\n\
        Following up on my previous email about our development team.\r\n";

    fn engine() -> Engine {
        Engine::with_config(Config::parse("state = \"\"").unwrap()).unwrap()
    }

    #[test]
    fn the_store_is_asked_only_when_its_answer_could_change_the_verdict() {
        // Flagged at 5; FAKE_THREAD and LEARNED add up to 2.5 each.
        let engine = engine();
        let scored = |score| Evaluation {
            score,
            ..Evaluation::default()
        };
        let claims = |exchange, bulk| Claims { exchange, bulk };
        let could =
            |score, claims, learned| engine.store_could_change(&scored(score), claims, learned);
        assert!(could(5.0, claims(false, false), false));
        assert!(!could(4.99, claims(false, false), false));
        // A claimed exchange may turn out fake.
        assert!(could(2.5, claims(true, false), false));
        assert!(!could(2.49, claims(true, false), false));
        // Not in list mail.
        assert!(!could(2.5, claims(true, true), false));
        // Learned counts may add their weight too.
        assert!(could(0.0, claims(true, false), true));
        assert!(!could(-0.01, claims(true, false), true));
        let ask = |regardless| Ask {
            sender: None,
            learned: false,
            regardless,
        };
        let lunch =
            b"From: Ana <ana@example.org>\r\nSubject: lunch\r\n\r\nNoon at the usual place?\r\n";
        assert_eq!(engine.prepare(lunch, false, Some(ask(false))).query, None);
        assert!(
            engine
                .prepare(lunch, false, Some(ask(true)))
                .query
                .is_some()
        );
    }

    #[test]
    fn without_a_store_nothing_is_asked() {
        let prepared = engine().prepare(REPLY, false, None);
        assert_eq!(prepared.query, None);
    }

    #[test]
    fn word_features_are_asked_for_only_while_learning_counts() {
        let engine = engine();
        let ask = |learned| Ask {
            sender: Some("bounce@vendor.example"),
            learned,
            regardless: true,
        };
        let quiet = engine
            .prepare(REPLY, false, Some(ask(false)))
            .query
            .unwrap();
        assert_eq!(quiet.references, ["first@ours.example"]);
        assert_eq!(
            quiet.senders,
            ["bounce@vendor.example", "ana@vendor.example"]
        );
        assert!(quiet.features.is_empty());
        let learning = engine.prepare(REPLY, false, Some(ask(true))).query.unwrap();
        assert!(!learning.features.is_empty());
        assert_eq!(
            learning.features,
            learned_features(&MessageView::parse(REPLY, false))
        );
        assert_eq!(
            Query {
                features: Vec::new(),
                ..learning
            },
            quiet
        );
    }
}
