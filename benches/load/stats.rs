//! Counting what came back and summarising latencies.

use crate::client::{Outcome, Verdict};
use std::time::Duration;

/// Everything one worker (or a whole run) saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Per message, first byte written to final reply, in nanoseconds.
    pub latencies: Vec<u64>,
    pub accepted: u64,
    pub rejected: u64,
    pub tempfailed: u64,
    pub discarded: u64,
    /// Messages that got an `X-Pitchfork-Score` header.
    pub scored: u64,
    /// Broken connections, timeouts and protocol errors.
    pub errors: u64,
    /// The first few error texts, to print.
    pub error_samples: Vec<String>,
}

impl Tally {
    pub fn record(&mut self, nanos: u64, outcome: &Outcome) {
        self.latencies.push(nanos);
        match outcome.verdict {
            Verdict::Accept => self.accepted += 1,
            Verdict::Reject => self.rejected += 1,
            Verdict::Tempfail => self.tempfailed += 1,
            Verdict::Discard => self.discarded += 1,
        }
        self.scored += u64::from(outcome.scored);
    }

    pub fn error(&mut self, error: impl ToString) {
        self.errors += 1;
        if self.error_samples.len() < 3 {
            self.error_samples.push(error.to_string());
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.tempfailed += other.tempfailed;
        self.discarded += other.discarded;
        self.scored += other.scored;
        self.errors += other.errors;
        for sample in other.error_samples {
            if self.error_samples.len() < 3 {
                self.error_samples.push(sample);
            }
        }
    }

    pub fn messages(&self) -> u64 {
        self.latencies.len() as u64
    }

    /// Tempfails count as errors: pitchfork only tempfails on its own
    /// failure (`on_error = "tempfail"`), and a milter that is not there
    /// gets a tempfail from Postfix.
    pub fn failures(&self) -> u64 {
        self.errors + self.tempfailed
    }

    pub fn percentiles(&mut self) -> Percentiles {
        self.latencies.sort_unstable();
        let at = |q: f64| {
            let n = self.latencies.len();
            if n == 0 {
                return 0.0;
            }
            let i = ((n as f64 * q).ceil() as usize).clamp(1, n) - 1;
            self.latencies[i] as f64 / 1e6
        };
        Percentiles {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// Messages per second.
pub fn rate(messages: u64, elapsed: Duration) -> f64 {
    messages as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// The median of some numbers (the lower middle for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0.0)
}
