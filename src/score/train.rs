//! Fitting the learned model: logistic regression by AdaGrad over the named
//! tests and hashed word features, with L2 regularisation; and, for pitches
//! labelled with their category, a softmax regression over the same word
//! features. Deterministic: the same messages in the same order give the
//! same model file, byte for byte, so the shipped model is reproducible
//! from the repository.

use super::{
    RuleSet,
    category::{CategoryWeights, NAMES},
    features,
    model::{FORMAT_VERSION, ModelFile, Trained},
};
use crate::message::MessageView;
use std::collections::BTreeMap;

/// Knobs of the fit; the defaults made the shipped model.
#[derive(Clone, Debug)]
pub struct Options {
    /// Word features are hashed to `2^hash_bits` indices. 19 since
    /// 25,947 messages: with 18, a quarter of the indices had a weight,
    /// so a word never learned took some other word's one time in four.
    pub hash_bits: u32,
    /// Passes over the training set. The fit must converge: at 30 passes
    /// on the project's corpus it had not (its own pitches were flagged
    /// at 88 %). At 18,763 messages 100 still had not: 300 took the real
    /// legitimate mail scoring 3 or more from 56 to 33 of 4,351 and, in
    /// cross-validation by batch, flagged 1 % more pitches.
    pub epochs: usize,
    /// AdaGrad's step size. 0.5 since 26,267 messages: in
    /// cross-validation by batch it flagged 8,916 of 10,785 pitches
    /// against 8,783 at 0.3, and 38 of 8,738 legitimate messages against
    /// 36, the real legitimate mail unchanged at 4 of 4,351 flagged.
    pub learning_rate: f64,
    /// L2 penalty on word weights (pulled towards 0). Raised as the
    /// corpus grew, each time to keep the 4,351 real legitimate messages
    /// beside the repository at 4 flagged or fewer: 1.25e-3 at 23,387
    /// messages (1e-3 flagged 5, the fifth at 5.06), 1.5e-3 at 24,187
    /// (1.25e-3 flagged 5, the fifth at 5.20; 1.5e-3 4, the fifth at
    /// 4.87, for 117 fewer of 9,980 pitches in cross-validation by batch
    /// and the same 49 of 8,073 legitimate messages). At 25,307 messages
    /// 1.5e-3 flagged 5 (the fifth at 5.05) until [`Options::l2_rules`]
    /// went to 10; with it, 1.5e-3 flags 4 (the fifth at 4.89).
    pub l2: f64,
    /// L2 penalty on named-test weights, pulled towards the rule file's
    /// weights: with little data the model stays the hand-tuned rules.
    /// The hand-tuned weights carry over to new writers better than
    /// learned ones: at 25,307 messages, in cross-validation by batch
    /// (word L2 1.65e-3), 0.3, 1, 3, 10 and 30 flag 7,992, 8,000, 8,026,
    /// 8,045 and 8,043 of 10,412 pitches and 46, 41, 38, 38 and 37 of
    /// 8,439 legitimate messages.
    pub l2_rules: f64,
    /// How far a learned named-test weight may move from the rule file's:
    /// the corpus may adjust the hand-tuned balance, not overturn it.
    pub max_drift: f64,
    /// A word feature must occur in this many training messages: rarer
    /// words fit the corpus's writers, not the way pitches are written.
    /// 12 since 25,947 messages, where it flagged 8,489 of 10,655 pitches
    /// in cross-validation by batch against 8,360 at 20, and 34 of 8,642
    /// legitimate messages against 37.
    pub min_documents: usize,
    /// A named test must hit this many training messages to be learned.
    pub min_rule_hits: usize,
    /// Most points the words may add or take away.
    pub text_cap: f64,
    /// Groups of named tests; a test of every group must hit for the words
    /// to add points (they may always take points away). Empty: the words
    /// always may, so a sale framed in words no rule names is still read.
    pub text_gate: Vec<Vec<String>>,
    /// How much more a legitimate message's error counts than a pitch's
    /// when the word weights are fitted (the named tests' fit is balanced).
    /// Ordinary mail is far more varied than any corpus of it, so a word
    /// may lean towards "pitch" only where legitimate mail never needs it
    /// to be otherwise. 230 since word dropout came in: at 180 the fit on
    /// 21,547 messages flagged 5 of the 4,351 real legitimate messages
    /// beside the repository; 230 flags 4, and in cross-validation by
    /// batch 56 fewer of 8,850 pitches and 4 fewer of 7,256 legitimate
    /// messages.
    pub legit_words: f64,
    /// The same for honest cold sales (`pitchfork train --cold`): not the
    /// target, but one narrow kind of mail, written to sell as pitches are.
    /// At `legit_words` their sales words outweighed the framing a pitch
    /// adds to them; at 5, on the project's corpus, 23 more of 1,000
    /// held-out pitches were flagged and no more held-out cold sales
    /// (4 of 139) or legitimate mail (3 of 882; real mail 5 → 4 of 4,351).
    /// At 3 and below the cold sales flagged pass 5 %.
    pub cold_words: f64,
    /// The share of a message's word features left out, afresh for every
    /// message on every pass, while the word weights are fitted (dropout;
    /// the rest count for as much more, so a message's words weigh the
    /// same on average). No writer's few telling words can carry a
    /// message alone, so the weights spread over the many ways a pitch is
    /// worded. In cross-validation by batch on 16,008 training messages,
    /// 0.4 flagged 6,341 of 8,179 pitches instead of 6,135, and 47 of
    /// 6,819 legitimate messages instead of 54; 0.2 and 0.3 flagged
    /// fewer pitches and more legitimate mail, 0.5 fewer pitches, 0.7
    /// 5,468. At 25,947 messages (a word needing 12 of them) 0.5 flagged
    /// 8,593 of 10,655 pitches against 8,489 at 0.4, with the same 34
    /// of 8,642 legitimate messages.
    pub word_dropout: f64,
    /// The flag threshold: the fixed bias is minus this.
    pub flag: f64,
    /// A word feature must occur in this many categorised pitches to count
    /// for their categories. Fewer, and the category model grows fivefold
    /// for a few more right answers (held-out: 6,500 features agree on 89 %
    /// of categories; 33,000 on 90 %).
    pub category_min_documents: usize,
    /// A word feature is kept in the category model if its weight for some
    /// category is at least this large: smaller ones barely move a choice,
    /// and every one kept is a line of the model file.
    pub min_category_weight: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            hash_bits: 19,
            epochs: 300,
            learning_rate: 0.5,
            l2: 1.5e-3,
            l2_rules: 10.0,
            max_drift: 0.25,
            min_documents: 12,
            min_rule_hits: 3,
            text_cap: 6.0,
            text_gate: Vec::new(),
            legit_words: 230.0,
            cold_words: 5.0,
            word_dropout: 0.5,
            flag: 5.0,
            category_min_documents: 10,
            min_category_weight: 0.3,
        }
    }
}

/// What a training message is labelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    Pitch,
    Legit,
    /// Legitimate, an honest cold sale (see [`Options::cold_words`]).
    Cold,
}

/// One training message reduced to its features.
#[derive(Clone, Debug)]
pub struct Sample {
    words: Vec<u32>,
    /// The value of each present word feature (see [`features::word_value`]).
    word_value: f64,
    /// Whether a test of the text gate hit: the words may add points.
    open: bool,
    rules: Vec<usize>,
    label: Label,
    /// Of a pitch, its category (an index of [`NAMES`]), if known.
    category: Option<usize>,
}

impl Sample {
    /// Features of a message: the tests it hits and its word features.
    pub fn new(rules: &RuleSet, view: &MessageView, label: Label, options: &Options) -> Self {
        let hit_names = rules.score(view).hits;
        let tests = hit_names
            .iter()
            .filter_map(|hit| rules.tests.iter().position(|t| t.name == hit.name))
            .collect();
        let words: Vec<u32> = features::extract(view, options.hash_bits)
            .iter()
            .map(|f| f.index)
            .collect();
        Self {
            word_value: features::word_value(words.len(), features::FEATURES_VERSION),
            open: super::model::gate_open(&options.text_gate, &hit_names),
            words,
            rules: tests,
            label,
            category: None,
        }
    }

    fn is_pitch(&self) -> bool {
        self.label == Label::Pitch
    }

    /// The same sample labelled with its category, one of [`NAMES`]; `None`
    /// for a name that is not one.
    pub fn with_category(self, name: &str) -> Option<Self> {
        let category = NAMES.iter().position(|n| *n == name)?;
        Some(Self {
            category: Some(category),
            ..self
        })
    }
}

impl Sample {
    /// The most the words may add: the cap, or nothing with the gate shut.
    fn word_ceiling(&self, cap: f64) -> f64 {
        if self.open { cap } else { 0.0 }
    }
}

/// Weights over the rules and the word table.
#[derive(Clone, Debug)]
struct Weights {
    bias: f64,
    rules: Vec<f64>,
    words: Vec<f64>,
}

impl Weights {
    /// The named tests' and the words' log-odds for a sample whose word
    /// features, for this step, are `words`, each worth `word_value`.
    fn parts(
        &self,
        sample: &Sample,
        words: &[u32],
        word_value: f64,
        usable: &Usable,
    ) -> (f64, f64) {
        // Tests not learned keep their rule-file weight, as when scoring.
        let rules: f64 = sample.rules.iter().map(|&r| self.rules[r]).sum();
        let words: f64 = words
            .iter()
            .filter(|&&w| usable.words[w as usize])
            .map(|&w| self.words[w as usize])
            .sum();
        (rules, words * word_value)
    }
}

/// Which word features a step keeps: each with probability `1 - rate`,
/// drawn by xorshift64 from a fixed seed, so a fit is reproducible.
struct Dropout {
    rate: f64,
    state: u64,
}

impl Dropout {
    fn new(rate: f64) -> Self {
        Self {
            rate,
            state: 0x2545_f491_4f6c_dd1d,
        }
    }

    /// The features of `words` this step keeps, into `kept`, and what each
    /// is then worth, `value` scaled up for those left out.
    fn apply(&mut self, words: &[u32], value: f64, kept: &mut Vec<u32>) -> f64 {
        kept.clear();
        if self.rate <= 0.0 {
            kept.extend_from_slice(words);
            return value;
        }
        for &word in words {
            // The top 53 bits as a fraction in [0, 1).
            if (xorshift(&mut self.state) >> 11) as f64 / (1u64 << 53) as f64 >= self.rate {
                kept.push(word);
            }
        }
        value / (1.0 - self.rate)
    }
}

/// Which features are frequent enough to learn.
struct Usable {
    rules: Vec<bool>,
    words: Vec<bool>,
}

impl Usable {
    fn new(samples: &[Sample], rules: &RuleSet, options: &Options) -> Self {
        let rule_count = rules.tests.len();
        let mut rule_hits = vec![0usize; rule_count];
        let mut documents = vec![0usize; 1 << options.hash_bits];
        for sample in samples {
            sample.rules.iter().for_each(|&r| rule_hits[r] += 1);
            sample
                .words
                .iter()
                .for_each(|&w| documents[w as usize] += 1);
        }
        Self {
            rules: rule_hits
                .iter()
                .zip(&rules.tests)
                .map(|(&n, test)| test.learn && n >= options.min_rule_hits)
                .collect(),
            words: documents
                .iter()
                .map(|&n| n >= options.min_documents)
                .collect(),
        }
    }
}

/// Fits a model on `samples` (kept in the given order) for `rules`.
///
/// One point of score is one unit of log-odds and the bias is fixed at
/// minus the flag threshold, so the score stays the sum of the named
/// contributions and the threshold keeps its meaning. Named-test weights
/// start at, and are pulled towards, the rule file's points: with little
/// data the model is the hand-tuned rules, and the words add at most
/// `text_cap` points either way.
pub fn train(samples: &[Sample], rules: &RuleSet, options: &Options) -> ModelFile {
    let usable = Usable::new(samples, rules, options);
    let priors: Vec<f64> = rules.tests.iter().map(|t| t.score).collect();
    let weights = fit(samples, &priors, &usable, options);
    let count = |label| samples.iter().filter(|s| s.label == label).count();
    let learned_rules = rules
        .tests
        .iter()
        .zip(&weights.rules)
        .zip(&usable.rules)
        .filter(|(_, usable)| **usable)
        .map(|((test, &w), _)| (test.name.clone(), round4(w)))
        .collect::<BTreeMap<_, _>>();
    let words = weights
        .words
        .iter()
        .enumerate()
        .map(|(i, &w)| (i as u32, round4(w)))
        .filter(|&(_, w)| w.abs() >= 0.005)
        .collect();
    ModelFile {
        format: FORMAT_VERSION,
        features: features::FEATURES_VERSION,
        hash_bits: options.hash_bits,
        trained: Trained {
            pitch: count(Label::Pitch),
            legit: count(Label::Legit),
            cold: count(Label::Cold),
        },
        text_cap: options.text_cap,
        text_gate: options.text_gate.clone(),
        rules: learned_rules,
        categories: fit_categories(samples, options),
        words,
    }
}

/// The category model, when pitches of two categories or more are
/// labelled: a softmax regression by AdaGrad over the word features common
/// enough among them, with the word features' L2 penalty, the categories
/// weighted to count equally.
fn fit_categories(samples: &[Sample], options: &Options) -> Option<CategoryWeights> {
    let labelled: Vec<(&Sample, usize)> = samples
        .iter()
        .filter_map(|s| Some((s, s.category?)))
        .collect();
    let mut classes: Vec<usize> = labelled.iter().map(|&(_, c)| c).collect();
    classes.sort_unstable();
    classes.dedup();
    if classes.len() < 2 {
        return None;
    }
    let k = classes.len();
    let mut documents = vec![0usize; 1 << options.hash_bits];
    for (sample, _) in &labelled {
        sample
            .words
            .iter()
            .for_each(|&w| documents[w as usize] += 1);
    }
    let usable: Vec<bool> = documents
        .iter()
        .map(|&n| n >= options.category_min_documents)
        .collect();
    let mut bias = vec![0.0; k];
    let mut bias_squares = vec![1e-8; k];
    let mut weights = vec![0.0; k << options.hash_bits];
    let mut squares = vec![1e-8; k << options.hash_bits];
    // Each category counts as much as any other, however many pitches it
    // has: unweighted, `other` (the largest) took the pitches whose words
    // were not plain about their category.
    let targets: Vec<usize> = labelled
        .iter()
        .map(|&(_, c)| classes.binary_search(&c).unwrap_or_default())
        .collect();
    let mut per_class = vec![0usize; k];
    targets.iter().for_each(|&t| per_class[t] += 1);
    let class_weight: Vec<f64> = per_class
        .iter()
        .map(|&n| labelled.len() as f64 / (k * n) as f64)
        .collect();
    let mut order: Vec<usize> = (0..labelled.len()).collect();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut logits = vec![0.0; k];
    for _ in 0..options.epochs {
        shuffle(&mut order, &mut rng);
        for &i in &order {
            let (sample, target) = (labelled[i].0, targets[i]);
            let words: Vec<usize> = sample
                .words
                .iter()
                .map(|&w| w as usize)
                .filter(|&w| usable[w])
                .collect();
            for (c, logit) in logits.iter_mut().enumerate() {
                let sum: f64 = words.iter().map(|&w| weights[w * k + c]).sum();
                *logit = bias[c] + sum * sample.word_value;
            }
            let top = logits.iter().copied().fold(f64::MIN, f64::max);
            let total: f64 = logits.iter().map(|l| (l - top).exp()).sum();
            for c in 0..k {
                let p = (logits[c] - top).exp() / total;
                let g = (p - f64::from(u8::from(c == target))) * class_weight[target];
                step(&mut bias[c], &mut bias_squares[c], g, options.learning_rate);
                for &w in &words {
                    let at = w * k + c;
                    let gw = g * sample.word_value + options.l2 * weights[at];
                    step(
                        &mut weights[at],
                        &mut squares[at],
                        gw,
                        options.learning_rate,
                    );
                }
            }
        }
    }
    let words = weights
        .chunks(k)
        .enumerate()
        .map(|(i, row)| (i as u32, row.iter().map(|&w| round4(w)).collect::<Vec<_>>()))
        .filter(|(_, row)| row.iter().any(|w| w.abs() >= options.min_category_weight))
        .collect();
    Some(CategoryWeights {
        names: classes.iter().map(|&c| NAMES[c].to_owned()).collect(),
        bias: bias.into_iter().map(round4).collect(),
        words,
    })
}

/// AdaGrad on the logistic loss, classes weighted to count equally (for
/// the words, legitimate mail `legit_words` times more).
fn fit(samples: &[Sample], priors: &[f64], usable: &Usable, options: &Options) -> Weights {
    let mut weights = Weights {
        bias: -options.flag,
        rules: priors.to_vec(),
        words: vec![0.0; 1 << options.hash_bits],
    };
    let mut squares = Weights {
        bias: 1e-8,
        rules: vec![1e-8; priors.len()],
        words: vec![1e-8; 1 << options.hash_bits],
    };
    let pitches = samples.iter().filter(|s| s.is_pitch()).count().max(1) as f64;
    let legit = (samples.len() as f64 - pitches).max(1.0);
    let mut order: Vec<usize> = (0..samples.len()).collect();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut dropout = Dropout::new(options.word_dropout);
    let mut kept = Vec::new();
    for _ in 0..options.epochs {
        shuffle(&mut order, &mut rng);
        for &i in &order {
            let sample = &samples[i];
            let word_value = dropout.apply(&sample.words, sample.word_value, &mut kept);
            let (rules, words) = weights.parts(sample, &kept, word_value, usable);
            let ceiling = sample.word_ceiling(options.text_cap);
            let p = sigmoid(weights.bias + rules + words.clamp(-options.text_cap, ceiling));
            // Past the cap the words no longer move the score: no gradient.
            let words_free = -options.text_cap < words && words < ceiling;
            let (target, class_weight) = if sample.is_pitch() {
                (1.0, samples.len() as f64 / (2.0 * pitches))
            } else {
                (0.0, samples.len() as f64 / (2.0 * legit))
            };
            let g = (p - target) * class_weight;
            let g_words = match sample.label {
                Label::Pitch => g,
                Label::Legit => g * options.legit_words,
                Label::Cold => g * options.cold_words,
            };
            for &r in sample.rules.iter().filter(|&&r| usable.rules[r]) {
                let gr = g + options.l2_rules * (weights.rules[r] - priors[r]);
                step(
                    &mut weights.rules[r],
                    &mut squares.rules[r],
                    gr,
                    options.learning_rate,
                );
                let (low, high) = (priors[r] - options.max_drift, priors[r] + options.max_drift);
                weights.rules[r] = weights.rules[r].clamp(low, high);
            }
            let words = kept.iter().filter(|_| words_free);
            for &w in words.filter(|&&w| usable.words[w as usize]) {
                let w = w as usize;
                let gw = g_words * word_value + options.l2 * weights.words[w];
                step(
                    &mut weights.words[w],
                    &mut squares.words[w],
                    gw,
                    options.learning_rate,
                );
            }
        }
    }
    weights
}

fn step(weight: &mut f64, square: &mut f64, gradient: f64, rate: f64) {
    *square += gradient * gradient;
    *weight -= rate * gradient / square.sqrt();
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Fisher–Yates with xorshift64: a fixed, portable sequence.
fn shuffle(order: &mut [usize], state: &mut u64) {
    for i in (1..order.len()).rev() {
        let j = (xorshift(state) % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
}

/// The next state of xorshift64, which is also its output.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0 + 0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::normalize;
    use crate::score::model::Model;

    fn view(body: &str) -> MessageView {
        MessageView {
            body: normalize(body),
            ..MessageView::default()
        }
    }

    #[test]
    fn learns_to_separate_and_is_deterministic() {
        let rules = RuleSet::builtin();
        let options = Options {
            hash_bits: 12,
            ..Options::default()
        };
        let pitch =
            "our agency would team up with your marketing team, monthly retainer, book a call";
        let legit = "the quarterly report is attached, see you at the board meeting on friday";
        let samples: Vec<Sample> = (0..20)
            .map(|i| {
                let (text, label) = if i % 2 == 0 {
                    (pitch, Label::Pitch)
                } else {
                    (legit, Label::Legit)
                };
                Sample::new(&rules, &view(&format!("{text} number{i}")), label, &options)
            })
            .collect();
        let a = train(&samples, &rules, &options);
        let b = train(&samples, &rules, &options);
        assert_eq!(a, b);
        assert_eq!(
            a.trained,
            Trained {
                pitch: 10,
                legit: 10,
                cold: 0
            }
        );
        let model = Model::from_file(a).unwrap();
        let score = |text: &str| {
            let v = view(text);
            model.rescore(rules.score(&v), &v).score
        };
        assert!(score(pitch) >= 5.0, "{}", score(pitch));
        assert!(score(legit) < 5.0, "{}", score(legit));
    }

    #[test]
    fn cold_sales_words_weigh_less_than_other_legitimate_mail() {
        let rules = RuleSet::builtin();
        let options = Options {
            hash_bits: 12,
            min_documents: 2,
            ..Options::default()
        };
        let pitch =
            "our agency would team up with your marketing team, monthly retainer, book a call";
        let sale = "our agency offers a monthly retainer for your marketing, book a call";
        let fit = |cold: bool| {
            let samples: Vec<Sample> = (0..20)
                .map(|i| {
                    let text = format!("{} number{i}", if i % 2 == 0 { pitch } else { sale });
                    let label = match (i % 2 == 0, cold) {
                        (true, _) => Label::Pitch,
                        (false, false) => Label::Legit,
                        (false, true) => Label::Cold,
                    };
                    Sample::new(&rules, &view(&text), label, &options)
                })
                .collect();
            train(&samples, &rules, &options)
        };
        let (as_legit, as_cold) = (fit(false), fit(true));
        assert_eq!((as_cold.trained.legit, as_cold.trained.cold), (0, 10));
        assert_eq!((as_legit.trained.legit, as_legit.trained.cold), (10, 0));
        // A pitch is never a cold sale.
        assert_eq!(as_cold.trained.pitch, 10);
        let model = |file: &ModelFile| Model::from_file(file.clone()).unwrap();
        let (as_legit, as_cold) = (model(&as_legit), model(&as_cold));
        // The weights of the sale's words, before the cap on what words
        // may add: in so small a fit both may reach the cap.
        let v = view(sale);
        let words = crate::score::features::extract(&v, options.hash_bits);
        let sale_words =
            |model: &Model| -> f64 { words.iter().map(|f| model.word_weight(f.index)).sum() };
        // The sale's words were pushed down less, though it stays a sale.
        let (legit_words, cold_words) = (sale_words(&as_legit), sale_words(&as_cold));
        assert!(legit_words < cold_words, "{legit_words} vs {cold_words}");
        let cold_score = as_cold.rescore(rules.score(&v), &v).score;
        assert!(cold_score < 5.0, "{cold_score}");
    }

    #[test]
    fn learns_categories_from_labelled_pitches() {
        let rules = RuleSet::builtin();
        let options = Options {
            hash_bits: 12,
            category_min_documents: 2,
            ..Options::default()
        };
        let texts = [
            (
                "recruiting",
                "our recruiters will shortlist candidates for your open roles",
            ),
            (
                "seo-links",
                "our guest posts and backlinks lift your rankings on google",
            ),
        ];
        let sample = |text: &str, i: usize| {
            let v = view(&format!("{text} number{i}"));
            Sample::new(&rules, &v, Label::Pitch, &options)
        };
        let mut samples: Vec<Sample> = (0..20)
            .map(|i| {
                let (category, text) = texts[i % 2];
                sample(text, i).with_category(category).unwrap()
            })
            .collect();
        assert!(sample("x", 0).with_category("spam").is_none());
        // Without two categories there is no category model.
        assert_eq!(train(&samples[..1], &rules, &options).categories, None);
        samples.push(sample("the board meets on friday", 99));
        let file = train(&samples, &rules, &options);
        assert_eq!(file, train(&samples, &rules, &options));
        let categories = file.categories.clone().unwrap();
        assert_eq!(categories.names, ["recruiting", "seo-links"]);
        let model = Model::from_file(file).unwrap();
        for (category, text) in texts {
            let v = view(&format!("{text}, we would love to talk about it this week"));
            assert_eq!(
                model.categorize(&model.rescore(rules.score(&v), &v)),
                category
            );
        }
    }

    #[test]
    fn categories_count_equally_however_many_pitches_each_has() {
        let rules = RuleSet::builtin();
        let options = Options {
            hash_bits: 12,
            category_min_documents: 2,
            ..Options::default()
        };
        // Nine pitches of one category to one of the other, all worded
        // alike: the words cannot tell them apart, and neither may the
        // number of pitches behind each category.
        let v = view("we help companies like yours grow with our team");
        let samples: Vec<Sample> = (0..40)
            .map(|i| {
                let category = if i % 10 == 0 { "recruiting" } else { "other" };
                Sample::new(&rules, &v, Label::Pitch, &options)
                    .with_category(category)
                    .unwrap()
            })
            .collect();
        let categories = train(&samples, &rules, &options).categories.unwrap();
        assert_eq!(categories.names, ["recruiting", "other"]);
        let logit = |c: usize| {
            let sample = &samples[0];
            let words: f64 = categories
                .words
                .iter()
                .filter(|(index, _)| sample.words.contains(index))
                .map(|(_, row)| row[c])
                .sum();
            categories.bias[c] + words * sample.word_value
        };
        assert!(
            (logit(0) - logit(1)).abs() < 0.2,
            "recruiting {} against other {}",
            logit(0),
            logit(1)
        );
    }

    #[test]
    fn dropout_keeps_the_share_asked_for_and_weighs_it_up() {
        let words: Vec<u32> = (0..10_000).collect();
        let mut kept = Vec::new();
        let value = Dropout::new(0.4).apply(&words, 1.0, &mut kept);
        assert!((5_700..6_300).contains(&kept.len()), "{} kept", kept.len());
        assert!((value - 1.0 / 0.6).abs() < 1e-12);
        let mut again = Vec::new();
        Dropout::new(0.4).apply(&words, 1.0, &mut again);
        assert_eq!(kept, again);
        let value = Dropout::new(0.0).apply(&words, 0.5, &mut kept);
        assert_eq!((kept, value), (words, 0.5));
    }

    #[test]
    fn shuffle_is_a_fixed_permutation() {
        let mut order: Vec<usize> = (0..5).collect();
        let mut state = 1;
        shuffle(&mut order, &mut state);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3, 4]);
        assert_ne!(order, [0, 1, 2, 3, 4]);
    }
}
