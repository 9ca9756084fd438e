//! The runtime snapshot: a validated configuration with its compiled rules.
//! One snapshot judges a message from start to end, so a reload never
//! changes the rules under a message in flight.

use crate::{
    action::Decision,
    config::{Config, ConfigError, ConfigErrors},
    message::MessageView,
    score::RuleSet,
};
use std::path::Path;

/// Configuration and compiled rules, built once and shared.
#[derive(Clone, Debug)]
pub struct Engine {
    pub config: Config,
    pub rules: RuleSet,
}

impl Engine {
    /// Loads the configuration (the built-in one when `path` is `None`) and
    /// the rule file it names.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigErrors> {
        Self::with_config(Config::load(path)?)
    }

    /// Loads the rules a validated configuration names.
    pub fn with_config(config: Config) -> Result<Self, ConfigErrors> {
        let rules = match &config.rules_file {
            None => RuleSet::builtin(),
            Some(path) => {
                let source = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
                    source: source.clone(),
                    errors: vec![ConfigError {
                        path: "rules_file".into(),
                        reason: format!("cannot read rule file: {e}"),
                    }],
                })?;
                RuleSet::parse(&text).map_err(|errors| ConfigErrors { source, errors })?
            }
        };
        Ok(Self { config, rules })
    }

    /// Parses, normalises and scores one message and decides what to do.
    /// The daemon and `pitchfork check` both come through here.
    pub fn judge(&self, raw: &[u8], truncated: bool) -> Decision {
        let view = MessageView::parse(raw, truncated);
        Decision::new(self.rules.score(&view), &self.config)
    }
}
