//! From a score to what happens: the verdict, the action and the headers,
//! in SpamAssassin's familiar shape.

use crate::{
    config::{Config, Reply},
    score::{Evaluation, Hit},
};
use std::fmt::Write;

/// Prefix of every header pitchfork writes; copies that arrive with a
/// message are removed before ours are added.
pub const HEADER_PREFIX: &str = "X-Pitchfork-";
pub const FLAG_HEADER: &str = "X-Pitchfork-Flag";
pub const SCORE_HEADER: &str = "X-Pitchfork-Score";
pub const STATUS_HEADER: &str = "X-Pitchfork-Status";
pub const CATEGORY_HEADER: &str = "X-Pitchfork-Category";

/// Header lines are folded before this many characters (RFC 5322 2.1.1).
const FOLD_AT: usize = 78;

/// Is this message a pitch?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pitch,
    Clean,
}

/// What the milter does with the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Deliver; status headers may still be added.
    Accept,
    /// Deliver with `X-Pitchfork-Flag: YES`.
    AddHeader,
    /// Refuse at end of DATA with the configured reply.
    Reject,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pitch => "pitch",
            Self::Clean => "clean",
        }
    }
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::AddHeader => "add_header",
            Self::Reject => "reject",
        }
    }
}

/// Everything decided about one message.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub score: f64,
    pub verdict: Verdict,
    pub action: Action,
    pub hits: Vec<Hit>,
    /// Headers to add, in order; values are folded with `\n\t` as the
    /// milter protocol expects (the MTA adds the CR).
    pub headers: Vec<(String, String)>,
    /// The reply when the action is [`Action::Reject`].
    pub reply: Option<Reply>,
}

impl Decision {
    /// The `X-Pitchfork-Category` given, if the message was flagged.
    pub fn category(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(name, _)| name == CATEGORY_HEADER)
            .map(|(_, value)| value.as_str())
    }

    /// Applies the thresholds and header settings to an evaluation.
    pub fn new(evaluation: Evaluation, config: &Config) -> Self {
        let thresholds = config.thresholds;
        let flagged = evaluation.score >= thresholds.flag;
        let rejected = thresholds.reject.is_some_and(|r| evaluation.score >= r);
        let action = match (rejected, flagged) {
            (true, _) => Action::Reject,
            (false, true) => Action::AddHeader,
            (false, false) => Action::Accept,
        };
        let mut headers = Vec::new();
        if flagged {
            headers.push((FLAG_HEADER.to_owned(), "YES".to_owned()));
            headers.push((CATEGORY_HEADER.to_owned(), evaluation.category.to_owned()));
        }
        if config.status_headers {
            headers.push((SCORE_HEADER.to_owned(), format!("{:.2}", evaluation.score)));
            let status = status_value(&evaluation, thresholds.flag);
            headers.push((STATUS_HEADER.to_owned(), fold(STATUS_HEADER, &status)));
        }
        Self {
            score: evaluation.score,
            verdict: if flagged {
                Verdict::Pitch
            } else {
                Verdict::Clean
            },
            action,
            hits: evaluation.hits,
            headers,
            reply: rejected.then(|| config.reject_reply.clone()),
        }
    }

    /// The largest contributions as `NAME=2.00,…`, for log lines.
    pub fn top_tests(&self, count: usize) -> String {
        tests_list(&self.hits[..self.hits.len().min(count)])
    }
}

/// `Yes, score=7.30 required=5.00 tests=NAME=2.10,NAME=1.50`
pub fn status_value(evaluation: &Evaluation, required: f64) -> String {
    let answer = if evaluation.score >= required {
        "Yes"
    } else {
        "No"
    };
    format!(
        "{answer}, score={:.2} required={required:.2} tests={}",
        evaluation.score,
        tests_list(&evaluation.hits)
    )
}

fn tests_list(hits: &[Hit]) -> String {
    let mut list = String::new();
    for (i, hit) in hits.iter().enumerate() {
        let comma = if i == 0 { "" } else { "," };
        let _ = write!(list, "{comma}{}={:.2}", hit.name, hit.score);
    }
    if list.is_empty() {
        list.push_str("none");
    }
    list
}

/// Folds a header value at spaces and after commas so that no line of
/// `Name: value` exceeds 78 characters where a break is possible.
/// Continuation lines start with a tab, like SpamAssassin's; unfolding
/// (removing the line breaks, RFC 5322 3.2.2) gives back the value.
pub fn fold(name: &str, value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 16);
    let mut column = name.len() + 2;
    for token in split_keeping_breaks(value) {
        let width = token.trim_end().len();
        // A token of only white space never starts a line: RFC 5322 3.2.2
        // forbids a folded line of only white space.
        if width > 0 && column + width > FOLD_AT && !out.is_empty() {
            out.push_str("\n\t");
            column = 8;
        }
        out.push_str(token);
        column += token.len();
    }
    out
}

/// Splits after every space and comma, keeping them with the piece before.
fn split_keeping_breaks(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = value;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest.find([' ', ',']).map_or(rest.len(), |i| i + 1);
        let (token, tail) = rest.split_at(end);
        rest = tail;
        Some(token)
    })
}

/// Whether a header name is one of ours (any letter case).
pub fn is_own_header(name: &str) -> bool {
    name.get(..HEADER_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(HEADER_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(name: &str, score: f64) -> Hit {
        Hit {
            name: name.into(),
            score,
            evidence: None,
        }
    }

    fn config(text: &str) -> Config {
        Config::parse(text).unwrap()
    }

    fn evaluation(score: f64) -> Evaluation {
        Evaluation {
            score,
            hits: vec![
                hit("PARTNER_FRAMING", 2.1),
                hit("MEETING_ASK", 1.5),
                hit("SHARED", -0.5),
            ],
            category: "recruiting",
            words: None,
        }
    }

    #[test]
    fn status_header_has_spamassassin_shape() {
        let value = status_value(&evaluation(7.3), 5.0);
        assert_eq!(
            value,
            "Yes, score=7.30 required=5.00 tests=PARTNER_FRAMING=2.10,MEETING_ASK=1.50,SHARED=-0.50"
        );
        let empty = status_value(&Evaluation::default(), 5.0);
        assert_eq!(empty, "No, score=0.00 required=5.00 tests=none");
    }

    #[test]
    fn thresholds_choose_verdict_and_action() {
        let with_reject = "[thresholds]\nflag = 5.0\nreject = 8.0";
        let cases = [
            ("", 4.99, Verdict::Clean, Action::Accept),
            ("", 5.0, Verdict::Pitch, Action::AddHeader),
            ("", 100.0, Verdict::Pitch, Action::AddHeader),
            (with_reject, 7.99, Verdict::Pitch, Action::AddHeader),
            (with_reject, 8.0, Verdict::Pitch, Action::Reject),
        ];
        for (text, score, verdict, action) in cases {
            let decision = Decision::new(evaluation(score), &config(text));
            assert_eq!(
                (decision.verdict, decision.action),
                (verdict, action),
                "{score}"
            );
            assert_eq!(decision.reply.is_some(), action == Action::Reject);
        }
    }

    #[test]
    fn headers_follow_the_verdict_and_settings() {
        let flagged = Decision::new(evaluation(7.3), &config(""));
        let names: Vec<&str> = flagged.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [FLAG_HEADER, CATEGORY_HEADER, SCORE_HEADER, STATUS_HEADER]
        );
        assert_eq!(flagged.headers[1].1, "recruiting");
        assert_eq!(flagged.headers[2].1, "7.30");

        let clean = Decision::new(evaluation(1.0), &config(""));
        assert_eq!(clean.headers[0].0, SCORE_HEADER);
        assert!(clean.headers[1].1.starts_with("No, score=1.00"));

        let quiet = Decision::new(
            evaluation(1.0),
            &config("[headers]\nscore_and_status = false"),
        );
        assert!(quiet.headers.is_empty());
    }

    #[test]
    fn fold_breaks_long_values_after_commas() {
        let hits: Vec<Hit> = (0..12)
            .map(|i| hit(&format!("SOME_LONG_TEST_{i}"), 1.0))
            .collect();
        let value = status_value(
            &Evaluation {
                score: 12.0,
                hits,
                ..Evaluation::default()
            },
            5.0,
        );
        let folded = fold(STATUS_HEADER, &value);
        let lines: Vec<&str> = folded.split('\n').collect();
        assert!(lines.len() > 2, "{folded}");
        assert!(
            lines[0].len() + STATUS_HEADER.len() + 2 <= FOLD_AT,
            "{}",
            lines[0]
        );
        for line in &lines[1..] {
            assert!(
                line.starts_with('\t') && line.len() + 7 <= FOLD_AT,
                "{line:?}"
            );
        }
        // unfolding (RFC 5322 3.2.2) gives back the original value
        assert_eq!(folded.replace("\n\t", ""), value);
    }

    #[test]
    fn fold_leaves_short_values_alone() {
        assert_eq!(fold("X", "No, score=0.00"), "No, score=0.00");
    }

    #[test]
    fn own_headers_in_any_case() {
        for name in [
            "X-Pitchfork-Flag",
            "x-pitchfork-flag",
            "X-PITCHFORK-Status",
            "X-Pitchfork-",
        ] {
            assert!(is_own_header(name), "{name}");
        }
        for name in ["X-Pitchfor", "X-Spam-Flag", "Subject"] {
            assert!(!is_own_header(name), "{name}");
        }
    }
}
