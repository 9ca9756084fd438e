//! The rule file: named tests with weights, read from TOML and compiled once
//! into one Aho-Corasick automaton and a list of regexes.

use super::{
    Detector,
    category::{Categories, RawCategory},
};
use crate::config::ConfigError;
use daachorse::{DoubleArrayAhoCorasick, DoubleArrayAhoCorasickBuilder, errors::DaachorseError};
use regex::Regex;
use regex_syntax::hir::{Hir, HirKind};
use serde::Deserialize;
use std::collections::HashMap;

/// The rules shipped with pitchfork, built into the binary.
pub const DEFAULT_RULES: &str = include_str!("../../config/rules.toml");

/// The rule-file format this build reads.
const FORMAT: u32 = 1;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    format: u32,
    #[serde(rename = "test", default)]
    tests: Vec<RawTest>,
    #[serde(rename = "category", default)]
    categories: Vec<RawCategory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    name: String,
    score: f64,
    description: String,
    #[serde(default)]
    scope: Scope,
    #[serde(default)]
    phrases: Vec<String>,
    #[serde(default)]
    patterns: Vec<String>,
    detector: Option<Detector>,
    #[serde(default)]
    all: Vec<String>,
    #[serde(default)]
    any: Vec<String>,
    #[serde(default)]
    none: Vec<String>,
    #[serde(default = "yes")]
    learn: bool,
    #[serde(default)]
    claims_exchange: bool,
}

fn yes() -> bool {
    true
}

/// Which part of the message a phrase or pattern test reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Subject,
    /// The new text, signature and postscript included (never quoted
    /// history).
    Body,
    /// The signature block only (taglines, job titles).
    Signature,
    /// `P.S.` paragraphs only.
    Postscript,
    /// Subject and body.
    #[default]
    Text,
}

/// How a test decides whether it hits.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// Any of its phrases or patterns occurs (compiled into the shared
    /// automaton and regex set).
    Text(Scope),
    /// A fact computed in code about the message.
    Detector(Detector),
    /// Every one of the named earlier tests hit (SpamAssassin's meta rules).
    All(Vec<usize>),
    /// At least one of the named earlier tests hit.
    Any(Vec<usize>),
    /// None of the named earlier tests hit.
    None(Vec<usize>),
}

/// A named test with its weight.
#[derive(Clone, Debug)]
pub struct Test {
    pub name: String,
    pub score: f64,
    pub description: String,
    pub condition: Condition,
    /// Whether training may change the weight (`learn = false` in the rule
    /// file keeps it as written, for signals the corpus misrepresents).
    pub learn: bool,
    /// A hit means the message claims an earlier exchange with the reader
    /// (for `FAKE_THREAD`).
    pub claims_exchange: bool,
}

/// A phrase in the automaton: the test it belongs to and whether it may be
/// followed by more word characters (`partner*` matches `partners`).
#[derive(Clone, Copy, Debug)]
pub(super) struct PhraseInfo {
    pub test: usize,
    pub prefix: bool,
}

/// Compiled rules, built once at load and shared by every message.
#[derive(Clone, Debug)]
pub struct RuleSet {
    pub tests: Vec<Test>,
    /// The pitch categories for `X-Pitchfork-Category`.
    pub categories: Categories,
    /// The rule phrases, then the category phrases: one automaton, so a
    /// message is searched once for both.
    pub(super) phrases: Phrases,
    /// Of each rule phrase; the category phrases come after these.
    pub(super) phrase_info: Vec<PhraseInfo>,
    /// Each searched on its own: a handful of patterns, each with a
    /// literal the regex crate can look for first (`{{`, `[`, `%`, a
    /// currency), is several times cheaper than one `RegexSet` walking
    /// every byte of the text for all of them.
    pub(super) patterns: Vec<Regex>,
    pub(super) pattern_test: Vec<usize>,
    /// For each part of a message (subject, body, signature, postscript),
    /// the patterns whose test reads it: the signature and postscript are
    /// also in the body, so most patterns never need their passes.
    pub(super) patterns_for: [Vec<usize>; 4],
    /// Of each pattern, literals one of which every match contains (their
    /// indices in the automaton after the category phrases), if it has
    /// such a set of at least [`MIN_ANCHOR`] bytes each: the phrase pass
    /// sees whether they occur, and a pattern none of whose literals does
    /// is never run. Empty: always run.
    pub(super) pattern_anchor: Vec<Vec<usize>>,
    /// How many anchors follow the category phrases in the automaton.
    pub(super) anchors: usize,
    /// Whether a test reads the signature, and the postscript, on its
    /// own: only then does the part need a pass of its own.
    pub(super) reads_parts: [bool; 2],
}

impl RuleSet {
    /// The rules built into the binary.
    pub fn builtin() -> Self {
        Self::parse(DEFAULT_RULES).expect("built-in rules are valid")
    }

    /// Parses and compiles a rule file, reporting every error with its path
    /// (`test[3].phrases[0]`).
    pub fn parse(text: &str) -> Result<Self, Vec<ConfigError>> {
        let raw: RawRules = toml::from_str(text).map_err(|e| {
            vec![ConfigError {
                path: String::new(),
                reason: format!("not a valid rule file: {}", e.message()),
            }]
        })?;
        let mut builder = Builder::default();
        if raw.format != FORMAT {
            builder.error("format", format!("format {} is not {FORMAT}", raw.format));
        }
        for (i, test) in raw.tests.into_iter().enumerate() {
            builder.add(i, test);
        }
        let categories = Categories::compile(raw.categories, &mut builder.errors);
        builder.finish(categories)
    }

    /// The test with this name, if any.
    pub fn test(&self, name: &str) -> Option<&Test> {
        self.tests.iter().find(|t| t.name == name)
    }
}

#[derive(Default)]
struct Builder {
    tests: Vec<Test>,
    names: HashMap<String, usize>,
    phrases: Vec<String>,
    phrase_info: Vec<PhraseInfo>,
    patterns: Vec<Regex>,
    pattern_test: Vec<usize>,
    pattern_anchor: Vec<Vec<usize>>,
    anchors: Vec<String>,
    errors: Vec<ConfigError>,
}

impl Builder {
    fn error(&mut self, path: &str, reason: String) {
        self.errors.push(ConfigError {
            path: path.to_owned(),
            reason,
        });
    }

    fn add(&mut self, i: usize, raw: RawTest) {
        let at = format!("test[{i}]");
        let valid_name = !raw.name.is_empty()
            && raw
                .name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !valid_name {
            self.error(
                &format!("{at}.name"),
                format!("`{}` is not UPPER_SNAKE_CASE", raw.name),
            );
        }
        if self.names.contains_key(&raw.name) {
            self.error(
                &format!("{at}.name"),
                format!("`{}` is defined twice", raw.name),
            );
        }
        if !raw.score.is_finite() {
            self.error(&format!("{at}.score"), "is not a finite number".into());
        }
        let index = self.tests.len();
        let Some(condition) = self.condition(&at, index, &raw) else {
            return;
        };
        self.names.insert(raw.name.clone(), index);
        self.tests.push(Test {
            name: raw.name,
            score: raw.score,
            description: raw.description,
            condition,
            learn: raw.learn,
            claims_exchange: raw.claims_exchange,
        });
    }

    fn condition(&mut self, at: &str, index: usize, raw: &RawTest) -> Option<Condition> {
        let text = !raw.phrases.is_empty() || !raw.patterns.is_empty();
        let kinds = usize::from(text)
            + usize::from(raw.detector.is_some())
            + usize::from(!raw.all.is_empty())
            + usize::from(!raw.any.is_empty())
            + usize::from(!raw.none.is_empty());
        if kinds != 1 {
            self.error(
                at,
                "needs exactly one of phrases/patterns, detector, all, any or none".into(),
            );
            return None;
        }
        if let Some(detector) = raw.detector {
            return Some(Condition::Detector(detector));
        }
        if !raw.all.is_empty() {
            return self
                .meta(&format!("{at}.all"), &raw.all)
                .map(Condition::All);
        }
        if !raw.any.is_empty() {
            return self
                .meta(&format!("{at}.any"), &raw.any)
                .map(Condition::Any);
        }
        if !raw.none.is_empty() {
            return self
                .meta(&format!("{at}.none"), &raw.none)
                .map(Condition::None);
        }
        for (j, phrase) in raw.phrases.iter().enumerate() {
            self.phrase(&format!("{at}.phrases[{j}]"), index, phrase);
        }
        for (j, pattern) in raw.patterns.iter().enumerate() {
            match Regex::new(pattern) {
                Ok(regex) => {
                    let anchor = anchors_of_pattern(pattern)
                        .into_iter()
                        .map(
                            |literal| match self.anchors.iter().position(|a| *a == literal) {
                                Some(k) => k,
                                None => {
                                    self.anchors.push(literal);
                                    self.anchors.len() - 1
                                }
                            },
                        )
                        .collect();
                    self.patterns.push(regex);
                    self.pattern_test.push(index);
                    self.pattern_anchor.push(anchor);
                }
                Err(e) => self.error(&format!("{at}.patterns[{j}]"), e.to_string()),
            }
        }
        Some(Condition::Text(raw.scope))
    }

    fn phrase(&mut self, at: &str, test: usize, phrase: &str) {
        let (body, prefix) = match phrase.strip_suffix('*') {
            Some(body) => (body, true),
            None => (phrase, false),
        };
        // Phrases are matched against normalised text, so they must be in
        // normalised form themselves or they could never match.
        let normal = crate::message::normalize(body);
        if body.is_empty() || normal != body {
            self.error(
                at,
                format!("`{phrase}` is not normalised (expected `{normal}`)"),
            );
            return;
        }
        self.phrases.push(body.to_owned());
        self.phrase_info.push(PhraseInfo { test, prefix });
    }

    fn meta(&mut self, at: &str, names: &[String]) -> Option<Vec<usize>> {
        let mut indices = Vec::new();
        for (j, name) in names.iter().enumerate() {
            match self.names.get(name) {
                Some(&i) => indices.push(i),
                None => self.error(
                    &format!("{at}[{j}]"),
                    format!("`{name}` is not a test defined above"),
                ),
            }
        }
        (indices.len() == names.len()).then_some(indices)
    }

    fn finish(mut self, categories: Categories) -> Result<RuleSet, Vec<ConfigError>> {
        self.phrases.extend(categories.phrases.iter().cloned());
        self.phrases.extend(self.anchors.iter().cloned());
        let phrases = phrase_automaton(&self.phrases);
        match phrases {
            Ok(phrases) if self.errors.is_empty() => Ok(RuleSet {
                reads_parts: [Scope::Signature, Scope::Postscript].map(|scope| {
                    self.tests
                        .iter()
                        .any(|t| matches!(t.condition, Condition::Text(s) if s == scope))
                }),
                patterns_for: [
                    Scope::Subject,
                    Scope::Body,
                    Scope::Signature,
                    Scope::Postscript,
                ]
                .map(|scope| {
                    (0..self.patterns.len())
                        .filter(|&p| super::in_scope(&self.tests[self.pattern_test[p]], scope))
                        .collect()
                }),
                tests: self.tests,
                categories,
                phrases,
                phrase_info: self.phrase_info,
                patterns: self.patterns,
                pattern_test: self.pattern_test,
                pattern_anchor: self.pattern_anchor,
                anchors: self.anchors.len(),
            }),
            phrases => {
                if let Err(e) = phrases {
                    self.error("test", format!("phrases do not compile: {e}"));
                }
                Err(self.errors)
            }
        }
    }
}

/// Shortest literal worth a place in the phrase automaton as an anchor:
/// shorter ones occur in nearly every message and save no search.
const MIN_ANCHOR: usize = 4;

/// Literals one of which every match of `pattern` contains, each at
/// least [`MIN_ANCHOR`] bytes long (`partner` in `be your (?:\w+ )?partner`,
/// `team` or `crew` in `your (?:team|crew)`); none when it has no such set.
pub(super) fn anchors_of_pattern(pattern: &str) -> Vec<String> {
    regex_syntax::Parser::new()
        .parse(pattern)
        .ok()
        .and_then(|hir| anchors(&hir))
        .filter(|set| set.iter().all(|a| a.len() >= MIN_ANCHOR))
        .unwrap_or_default()
}

/// The literals one of which every match of `hir` contains: a literal
/// itself, the best set of any item of a sequence (the one whose shortest
/// literal is longest), or the union of every branch's set.
fn anchors(hir: &Hir) -> Option<Vec<String>> {
    match hir.kind() {
        HirKind::Literal(literal) => Some(vec![std::str::from_utf8(&literal.0).ok()?.to_owned()]),
        HirKind::Capture(capture) => anchors(&capture.sub),
        HirKind::Concat(items) => items
            .iter()
            .filter_map(anchors)
            .max_by_key(|set| set.iter().map(String::len).min().unwrap_or(0)),
        HirKind::Alternation(branches) => {
            branches
                .iter()
                .map(anchors)
                .try_fold(Vec::new(), |mut all, set| {
                    all.extend(set?);
                    Some(all)
                })
        }
        _ => None,
    }
}

/// The automaton for a list of phrases: a double-array Aho-Corasick
/// automaton, 12 bytes a state (33,528 states, about 0.4 MB, for the
/// 3,199 phrases of the shipped rules).
/// Overlapping search over every part of every message is the hottest loop
/// of scoring; this one costs about a quarter less than the contiguous NFA
/// it replaced, where a full DFA would take 8 MB. Its 2-gram prefilter is
/// left out: nearly every position of text can start some phrase, and
/// with it scoring measured no faster. Built once per load.
#[derive(Clone)]
pub struct Phrases {
    automaton: DoubleArrayAhoCorasick<u32>,
    /// The ids of the phrases the `i`th distinct one stands for are
    /// `ids[first[i]..first[i + 1]]`: the same phrase may serve two tests
    /// or a test and a category, and the automaton holds each once.
    first: Vec<u32>,
    ids: Vec<u32>,
}

impl std::fmt::Debug for Phrases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phrases")
            .field("phrases", &self.ids.len())
            .field("states", &self.automaton.num_states())
            .finish()
    }
}

/// A phrase found: its id (its index in the list given to
/// [`phrase_automaton`]) and where it is in the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhraseMatch {
    pub id: usize,
    pub start: usize,
    pub end: usize,
}

/// Builds the automaton for `phrases`.
pub(super) fn phrase_automaton(phrases: &[String]) -> Result<Phrases, DaachorseError> {
    let mut distinct: HashMap<&str, Vec<u32>> = HashMap::new();
    let mut order = Vec::new();
    for (id, phrase) in phrases.iter().enumerate() {
        let ids = distinct.entry(phrase).or_insert_with(|| {
            order.push(phrase.as_str());
            Vec::new()
        });
        ids.push(id as u32);
    }
    let (mut first, mut ids) = (vec![0], Vec::with_capacity(phrases.len()));
    for phrase in &order {
        ids.extend(&distinct[phrase]);
        first.push(ids.len() as u32);
    }
    Ok(Phrases {
        automaton: DoubleArrayAhoCorasickBuilder::new()
            .use_prefilter(false)
            .build(&order)?,
        first,
        ids,
    })
}

/// Calls `found` with every match of the phrases in `text`, overlapping
/// ones included, in order of their end; at one end, longer phrases first,
/// and one phrase listed twice in order of its ids.
pub(super) fn each_match(phrases: &Phrases, text: &str, mut found: impl FnMut(PhraseMatch)) {
    for m in phrases.automaton.find_overlapping_iter(text) {
        let distinct = m.value() as usize;
        let (from, to) = (phrases.first[distinct], phrases.first[distinct + 1]);
        for &id in &phrases.ids[from as usize..to as usize] {
            found(PhraseMatch {
                id: id as usize,
                start: m.start(),
                end: m.end(),
            });
        }
    }
}
