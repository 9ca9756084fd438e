//! The runtime snapshot: a validated configuration with its compiled rules.
//! One snapshot judges a message from start to end, so a reload never
//! changes the rules under a message in flight.

use crate::{
    action::Decision,
    config::{Config, ConfigError, ConfigErrors},
    message::MessageView,
    score::{Evaluation, Model, RuleSet, features},
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
    /// the model, and, when there is a store to `ask`, say what to ask it
    /// (without a store, the query stays empty and costs nothing).
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
            Some(ask) if ask.learned => self.query(raw, ask.sender, learned_features(&view)),
            Some(ask) => self.query(raw, ask.sender, Vec::new()),
            None => Query::default(),
        };
        Prepared {
            evaluation,
            claims,
            query,
        }
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
}

/// A message scored by its content, waiting for the state store.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub evaluation: Evaluation,
    pub claims: Claims,
    /// What to ask the store.
    pub query: Query,
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
    fn without_a_store_nothing_is_asked() {
        let prepared = engine().prepare(REPLY, false, None);
        assert_eq!(prepared.query, Query::default());
    }

    #[test]
    fn word_features_are_asked_for_only_while_learning_counts() {
        let engine = engine();
        let ask = |learned| Ask {
            sender: Some("bounce@vendor.example"),
            learned,
        };
        let quiet = engine.prepare(REPLY, false, Some(ask(false))).query;
        assert_eq!(quiet.references, ["first@ours.example"]);
        assert_eq!(
            quiet.senders,
            ["bounce@vendor.example", "ana@vendor.example"]
        );
        assert!(quiet.features.is_empty());
        let learning = engine.prepare(REPLY, false, Some(ask(true))).query;
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
