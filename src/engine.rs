//! The runtime snapshot: a validated configuration with its compiled rules.
//! One snapshot judges a message from start to end, so a reload never
//! changes the rules under a message in flight.

use crate::{
    action::Decision,
    config::{Config, ConfigError, ConfigErrors},
    message::MessageView,
    score::{Model, RuleSet},
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

    /// Parses, normalises and scores one message and decides what to do.
    /// The daemon and `pitchfork check` both come through here.
    pub fn judge(&self, raw: &[u8], truncated: bool) -> Decision {
        let view = MessageView::parse(raw, truncated);
        let evaluation = self.rules.score(&view);
        let evaluation = match &self.model {
            Some(model) => model.rescore(evaluation, &view),
            None => evaluation,
        };
        Decision::new(evaluation, &self.config)
    }
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
