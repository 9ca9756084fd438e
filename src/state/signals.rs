//! The stateful tests, decided from what the store knows. Pure: the same
//! answer always gives the same hits.
//!
//! * `REPLY_TO_OURS`: the message references one we sent.
//! * `KNOWN_CORRESPONDENT`: somebody here wrote to its sender.
//! * `FAKE_THREAD`: it claims an earlier exchange (a reply subject, or a
//!   test marked `claims_exchange` in the rule file) but references
//!   nothing of ours and comes from someone nobody here wrote to. Not for
//!   list mail, and only once outbound mail has been recorded for
//!   `warmup_days`.
//! * `LEARNED`: the words' learned counts, combined as SpamAssassin's and
//!   Bogofilter's Bayes do (Robinson's per-word estimate, Fisher's
//!   chi-square combination), scaled to ±the test's weight; silent until
//!   `min_learns` messages of each label have been learned.

use super::{Counts, Known};
use crate::{
    config::StateConfig,
    score::{Detector, Hit, RuleSet},
};

/// Facts about the message the stateful tests need besides the store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Claims {
    /// It says it continues an earlier exchange.
    pub exchange: bool,
    /// List or bulk mail: replies among strangers are normal there.
    pub bulk: bool,
}

/// Words whose estimate is this close to 0.5 say nothing and are left
/// out (SpamAssassin's and Bogofilter's minimum deviation).
const MIN_DEVIATION: f64 = 0.1;
/// At most this many of the most telling words are combined.
const MAX_WORDS: usize = 150;
/// Robinson's strength of the prior belief (0.5) for rarely seen words.
const PRIOR_STRENGTH: f64 = 1.0;

/// The stateful hits for a message.
pub fn hits(
    rules: &RuleSet,
    config: &StateConfig,
    claims: Claims,
    known: &Known,
    now: u64,
) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut add = |detector: Detector, scale: f64, evidence: Option<String>| {
        if let Some(test) = rules.detector_test(detector) {
            let score = (test.score * scale * 100.0).round() / 100.0;
            if score != 0.0 {
                hits.push(Hit {
                    name: test.name.clone(),
                    score,
                    evidence,
                });
            }
        }
    };
    if known.reply_to_ours {
        add(Detector::ReplyToOurs, 1.0, None);
    }
    if known.known_correspondent {
        add(Detector::KnownCorrespondent, 1.0, None);
    }
    let warm = known
        .history_since
        .is_some_and(|since| now.saturating_sub(since) >= config.warmup.as_secs());
    if claims.exchange && !claims.bulk && warm && !known.reply_to_ours && !known.known_correspondent
    {
        add(Detector::FakeThread, 1.0, None);
    }
    let enough = known.learned.each_at_least(config.min_learns);
    if enough && let Some((probability, words)) = combine(known.learned, &known.features) {
        add(
            Detector::Learned,
            2.0 * probability - 1.0,
            Some(format!("{words} learned words, p={probability:.2}")),
        );
    }
    hits
}

/// The probability that a message is a pitch from its words' counts, and
/// how many words counted; `None` when no word says anything.
pub fn combine(learned: Counts, features: &[Counts]) -> Option<(f64, usize)> {
    let (pitches, legits) = (learned.pitch.max(1) as f64, learned.legit.max(1) as f64);
    let mut estimates: Vec<f64> = features
        .iter()
        .filter(|c| c.pitch + c.legit > 0)
        .map(|c| {
            let pitch = (c.pitch as f64 / pitches).min(1.0);
            let legit = (c.legit as f64 / legits).min(1.0);
            let p = pitch / (pitch + legit);
            let n = (c.pitch + c.legit) as f64;
            (PRIOR_STRENGTH * 0.5 + n * p) / (PRIOR_STRENGTH + n)
        })
        .filter(|p| (p - 0.5).abs() >= MIN_DEVIATION)
        .collect();
    if estimates.is_empty() {
        return None;
    }
    estimates.sort_by(|a, b| (b - 0.5).abs().total_cmp(&(a - 0.5).abs()));
    estimates.truncate(MAX_WORDS);
    let n = estimates.len();
    let clamp = |p: f64| p.clamp(1e-6, 1.0 - 1e-6);
    let pitchy: f64 = -2.0
        * estimates
            .iter()
            .map(|&p| (1.0 - clamp(p)).ln())
            .sum::<f64>();
    let legity: f64 = -2.0 * estimates.iter().map(|&p| clamp(p).ln()).sum::<f64>();
    // Fisher: how unlikely such extreme estimates are by chance, each way.
    let s = 1.0 - chi2q(pitchy, 2 * n);
    let h = 1.0 - chi2q(legity, 2 * n);
    Some(((1.0 + s - h) / 2.0, n))
}

/// The upper tail of the chi-square distribution with an even number of
/// degrees of freedom.
fn chi2q(x: f64, degrees: usize) -> f64 {
    let m = x / 2.0;
    let mut term = (-m).exp();
    let mut sum = term;
    for i in 1..degrees / 2 {
        term *= m / i as f64;
        sum += term;
    }
    sum.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn counts(pitch: u64, legit: u64) -> Counts {
        Counts { pitch, legit }
    }

    #[test]
    fn combination_follows_the_words() {
        let learned = counts(100, 100);
        let pitchy = vec![counts(40, 0); 10];
        let legit = vec![counts(0, 40); 10];
        let (p, n) = combine(learned, &pitchy).unwrap();
        assert!(p > 0.95 && n == 10, "{p}");
        assert!(combine(learned, &legit).unwrap().0 < 0.05);
        let mixed: Vec<Counts> = pitchy.iter().chain(&legit).copied().collect();
        let (p, _) = combine(learned, &mixed).unwrap();
        assert!((p - 0.5).abs() < 0.05, "{p}");
        // Evenly spread words say nothing.
        assert_eq!(combine(learned, &[counts(10, 10), counts(0, 0)]), None);
    }

    #[test]
    fn chi2q_matches_known_values() {
        // P(chi2 with 2 df > 2) = e^-1.
        assert!((chi2q(2.0, 2) - (-1.0f64).exp()).abs() < 1e-12);
        assert!((chi2q(0.0, 10) - 1.0).abs() < 1e-12);
    }

    fn known(reply: bool, correspondent: bool, since: Option<u64>) -> Known {
        Known {
            reply_to_ours: reply,
            known_correspondent: correspondent,
            history_since: since,
            ..Known::default()
        }
    }

    fn names(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|h| h.name.as_str()).collect()
    }

    #[test]
    fn thread_tests_follow_the_store() {
        let rules = RuleSet::builtin();
        let config = Config::parse("").unwrap().state;
        let claims = Claims {
            exchange: true,
            bulk: false,
        };
        let now = 100 * 86_400;
        let old = Some(0);
        let run = |k: &Known, c: Claims| names(&hits(&rules, &config, c, k, now)).join(",");
        assert_eq!(
            run(&known(true, true, old), claims),
            "REPLY_TO_OURS,KNOWN_CORRESPONDENT"
        );
        assert_eq!(run(&known(false, false, old), claims), "FAKE_THREAD");
        // Not before the warm-up, not for lists, not without a claim.
        assert_eq!(run(&known(false, false, Some(now - 86_400)), claims), "");
        assert_eq!(run(&known(false, false, None), claims), "");
        let list = Claims {
            bulk: true,
            ..claims
        };
        assert_eq!(run(&known(false, false, old), list), "");
        assert_eq!(run(&known(false, false, old), Claims::default()), "");
    }

    #[test]
    fn learned_waits_for_min_learns() {
        let rules = RuleSet::builtin();
        let config = Config::parse("[learning]\nmin_learns = 5").unwrap().state;
        let mut k = Known {
            learned: counts(5, 4),
            features: vec![counts(5, 0); 8],
            ..Known::default()
        };
        assert!(hits(&rules, &config, Claims::default(), &k, 0).is_empty());
        k.learned.legit = 5;
        let found = hits(&rules, &config, Claims::default(), &k, 0);
        assert_eq!(names(&found), ["LEARNED"]);
        assert!(found[0].score > 0.0);
    }
}
