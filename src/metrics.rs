//! Prometheus metrics. Every metric is defined once, in [`CATALOGUE`]: its
//! name, help, type and how its samples are written. [`Metrics`] holds the
//! values (atomics; the per-test map is the only lock on the message path)
//! and renders the text exposition format 0.0.4; [`serve`] answers
//! `GET /metrics` on `metrics_listen` over plain HTTP/1.1.

use crate::{action::Action, config::Mode};
use std::{
    collections::BTreeMap,
    fmt::{Display, Write as _},
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};
use tokio::sync::watch;

/// What a metric is, in Prometheus' terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// One exported metric.
#[derive(Debug)]
pub struct Metric {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    samples: fn(&Metrics, &mut Family<'_>),
}

/// Every metric pitchfork exports, in the order they are rendered.
pub static CATALOGUE: [Metric; 10] = [
    Metric {
        name: "pitchfork_messages_total",
        help: "Messages by what was done with them; in observe mode, what enforce would have done.",
        kind: Kind::Counter,
        samples: Metrics::message_samples,
    },
    Metric {
        name: "pitchfork_score",
        help: "Scores of the messages judged.",
        kind: Kind::Histogram,
        samples: |m, family| m.score.samples(family),
    },
    Metric {
        name: "pitchfork_scan_seconds",
        help: "Time to parse, normalise and score one message.",
        kind: Kind::Histogram,
        samples: |m, family| m.scan_seconds.samples(family),
    },
    Metric {
        name: "pitchfork_test_hits_total",
        help: "Messages each named test hit.",
        kind: Kind::Counter,
        samples: Metrics::hit_samples,
    },
    Metric {
        name: "pitchfork_errors_total",
        help: "Failures by kind: scan (scoring failed), mta_action (a header change was refused), protocol (the MTA misbehaved).",
        kind: Kind::Counter,
        samples: Metrics::error_samples,
    },
    Metric {
        name: "pitchfork_state_operations_total",
        help: "State store calls by operation (lookup for inbound mail, record for outbound) and result: ok, timeout or error (the message went on without the stateful tests).",
        kind: Kind::Counter,
        samples: Metrics::state_samples,
    },
    Metric {
        name: "pitchfork_open_connections",
        help: "MTA connections open now.",
        kind: Kind::Gauge,
        samples: |m, family| family.sample("", &[], m.open_connections.load(Relaxed)),
    },
    Metric {
        name: "pitchfork_messages_in_flight",
        help: "Messages between MAIL FROM and end of message now.",
        kind: Kind::Gauge,
        samples: |m, family| family.sample("", &[], *m.in_flight.borrow()),
    },
    Metric {
        name: "pitchfork_reloads_total",
        help: "Configuration reloads (SIGHUP) by result.",
        kind: Kind::Counter,
        samples: Metrics::reload_samples,
    },
    Metric {
        name: "pitchfork_build_info",
        help: "Always 1; the version as a label.",
        kind: Kind::Gauge,
        samples: |_, family| {
            family.sample("", &[("version", env!("CARGO_PKG_VERSION"))], 1);
        },
    },
];

/// Score buckets: around the default flag threshold (5) finely, and far
/// enough up to see where a reject threshold would cut.
const SCORE_BUCKETS: [f64; 14] = [
    -5.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 30.0,
];

/// Scan time buckets in seconds: a message takes about a millisecond; the
/// top buckets show pathological input.
const SCAN_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// What happened to a message, the `action` label of
/// `pitchfork_messages_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Accept,
    AddHeader,
    Reject,
    /// Not scored (authenticated, trusted network, allowlisted sender).
    Skip,
    /// Pitchfork failed on it; `on_error` was applied.
    Error,
}

impl Outcome {
    const ALL: [Self; 5] = [
        Self::Accept,
        Self::AddHeader,
        Self::Reject,
        Self::Skip,
        Self::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::AddHeader => "add_header",
            Self::Reject => "reject",
            Self::Skip => "skip",
            Self::Error => "error",
        }
    }
}

impl From<Action> for Outcome {
    fn from(action: Action) -> Self {
        match action {
            Action::Accept => Self::Accept,
            Action::AddHeader => Self::AddHeader,
            Action::Reject => Self::Reject,
        }
    }
}

/// The `operation` label of `pitchfork_state_operations_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateOperation {
    Lookup,
    Record,
}

/// The `result` label of `pitchfork_state_operations_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateResult {
    Ok,
    Timeout,
    Error,
}

const STATE_OPERATIONS: [(StateOperation, &str); 2] = [
    (StateOperation::Lookup, "lookup"),
    (StateOperation::Record, "record"),
];
const STATE_RESULTS: [(StateResult, &str); 3] = [
    (StateResult::Ok, "ok"),
    (StateResult::Timeout, "timeout"),
    (StateResult::Error, "error"),
];

/// The `kind` label of `pitchfork_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Scoring failed (a panic in the parser or a detector).
    Scan,
    /// The MTA refused or lost a header change.
    MtaAction,
    /// The MTA broke the protocol (end of message without a message).
    Protocol,
}

impl ErrorKind {
    const ALL: [Self; 3] = [Self::Scan, Self::MtaAction, Self::Protocol];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scan => "scan",
            Self::MtaAction => "mta_action",
            Self::Protocol => "protocol",
        }
    }
}

const MODES: [Mode; 2] = [Mode::Enforce, Mode::Observe];

/// The values of every metric. Outlives configuration reloads.
#[derive(Debug)]
pub struct Metrics {
    messages: [[AtomicU64; Outcome::ALL.len()]; MODES.len()],
    score: Histogram,
    scan_seconds: Histogram,
    /// Sorted by name, as rendered.
    test_hits: Mutex<BTreeMap<String, u64>>,
    errors: [AtomicU64; ErrorKind::ALL.len()],
    open_connections: AtomicI64,
    /// A watch channel so shutdown can wait for it to reach 0.
    in_flight: watch::Sender<u64>,
    /// Applied, refused.
    reloads: [AtomicU64; 2],
    state: [[AtomicU64; STATE_RESULTS.len()]; STATE_OPERATIONS.len()],
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            messages: Default::default(),
            score: Histogram::new(&SCORE_BUCKETS),
            scan_seconds: Histogram::new(&SCAN_BUCKETS),
            test_hits: Mutex::new(BTreeMap::new()),
            errors: Default::default(),
            open_connections: AtomicI64::new(0),
            in_flight: watch::Sender::new(0),
            reloads: Default::default(),
            state: Default::default(),
        }
    }

    /// Counts one call to the state store.
    pub fn state(&self, operation: StateOperation, result: StateResult) {
        let op = STATE_OPERATIONS.iter().position(|(o, _)| *o == operation);
        let res = STATE_RESULTS.iter().position(|(r, _)| *r == result);
        self.state[op.unwrap_or_default()][res.unwrap_or_default()].fetch_add(1, Relaxed);
    }

    /// Counts one message's outcome; call once per message.
    pub fn message(&self, outcome: Outcome, mode: Mode) {
        self.messages[mode_index(mode)][outcome_index(outcome)].fetch_add(1, Relaxed);
    }

    /// Records one judged message: its score, scan time and tests hit.
    pub fn scanned<'a>(
        &self,
        score: f64,
        elapsed: Duration,
        tests: impl IntoIterator<Item = &'a str>,
    ) {
        self.score.observe(score);
        self.scan_seconds.observe(elapsed.as_secs_f64());
        let mut hits = lock(&self.test_hits);
        for test in tests {
            match hits.get_mut(test) {
                Some(count) => *count += 1,
                None => {
                    hits.insert(test.to_owned(), 1);
                }
            }
        }
    }

    pub fn error(&self, kind: ErrorKind) {
        let index = ErrorKind::ALL.iter().position(|k| *k == kind);
        self.errors[index.unwrap_or_default()].fetch_add(1, Relaxed);
    }

    /// Counts a reload, `applied` or refused.
    pub fn reload(&self, applied: bool) {
        self.reloads[usize::from(!applied)].fetch_add(1, Relaxed);
    }

    /// Counts an open connection until the guard is dropped.
    pub fn connection_opened(self: &Arc<Self>) -> ConnectionGuard {
        self.open_connections.fetch_add(1, Relaxed);
        ConnectionGuard(Arc::clone(self))
    }

    /// Counts a message in flight until the guard is dropped.
    pub fn message_started(self: &Arc<Self>) -> MessageGuard {
        self.in_flight.send_modify(|n| *n += 1);
        MessageGuard(Arc::clone(self))
    }

    /// Messages in flight now.
    pub fn in_flight(&self) -> u64 {
        *self.in_flight.borrow()
    }

    /// Completes when no message is in flight.
    pub async fn idle(&self) {
        let mut count = self.in_flight.subscribe();
        // The sender lives in `self`, so the channel cannot close here.
        let _ = count.wait_for(|n| *n == 0).await;
    }

    /// The text exposition of every metric in [`CATALOGUE`].
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        for metric in &CATALOGUE {
            let _ = writeln!(out, "# HELP {} {}", metric.name, metric.help);
            let _ = writeln!(out, "# TYPE {} {}", metric.name, metric.kind.as_str());
            let mut family = Family {
                name: metric.name,
                out: &mut out,
            };
            (metric.samples)(self, &mut family);
        }
        out
    }

    fn message_samples(&self, family: &mut Family<'_>) {
        for (mode, counts) in MODES.iter().zip(&self.messages) {
            for (outcome, count) in Outcome::ALL.iter().zip(counts) {
                let labels = [("action", outcome.as_str()), ("mode", mode.as_str())];
                family.sample("", &labels, count.load(Relaxed));
            }
        }
    }

    fn hit_samples(&self, family: &mut Family<'_>) {
        for (test, count) in lock(&self.test_hits).iter() {
            family.sample("", &[("test", test)], count);
        }
    }

    fn error_samples(&self, family: &mut Family<'_>) {
        for (kind, count) in ErrorKind::ALL.iter().zip(&self.errors) {
            family.sample("", &[("kind", kind.as_str())], count.load(Relaxed));
        }
    }

    fn state_samples(&self, family: &mut Family<'_>) {
        for ((_, operation), counts) in STATE_OPERATIONS.iter().zip(&self.state) {
            for ((_, result), count) in STATE_RESULTS.iter().zip(counts) {
                let labels = [("operation", *operation), ("result", *result)];
                family.sample("", &labels, count.load(Relaxed));
            }
        }
    }

    fn reload_samples(&self, family: &mut Family<'_>) {
        for (result, count) in ["applied", "refused"].iter().zip(&self.reloads) {
            family.sample("", &[("result", result)], count.load(Relaxed));
        }
    }
}

fn mode_index(mode: Mode) -> usize {
    MODES.iter().position(|m| *m == mode).unwrap_or_default()
}

fn outcome_index(outcome: Outcome) -> usize {
    Outcome::ALL
        .iter()
        .position(|o| *o == outcome)
        .unwrap_or_default()
}

/// A poisoned lock only means a panic elsewhere; the counts are still good.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keeps `pitchfork_open_connections` up while alive.
#[derive(Debug)]
pub struct ConnectionGuard(Arc<Metrics>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Relaxed);
    }
}

/// Keeps `pitchfork_messages_in_flight` up while alive.
#[derive(Debug)]
pub struct MessageGuard(Arc<Metrics>);

impl Drop for MessageGuard {
    fn drop(&mut self) {
        self.0.in_flight.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A histogram with fixed buckets: counts per bucket (the last one above
/// every bound) and the sum as `f64` bits.
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    fn observe(&self, value: f64) {
        // Prometheus buckets are "less than or equal": the first bound at
        // or above the value.
        let bucket = self.bounds.partition_point(|bound| *bound < value);
        self.counts[bucket].fetch_add(1, Relaxed);
        let add = |bits| Some((f64::from_bits(bits) + value).to_bits());
        let _ = self.sum.fetch_update(Relaxed, Relaxed, add);
    }

    fn samples(&self, family: &mut Family<'_>) {
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Relaxed);
            family.sample("_bucket", &[("le", &format!("{bound:?}"))], cumulative);
        }
        cumulative += self.counts[self.bounds.len()].load(Relaxed);
        family.sample("_bucket", &[("le", "+Inf")], cumulative);
        family.sample("_sum", &[], f64::from_bits(self.sum.load(Relaxed)));
        family.sample("_count", &[], cumulative);
    }
}

/// Writes the sample lines of one metric.
pub struct Family<'a> {
    name: &'static str,
    out: &'a mut String,
}

impl Family<'_> {
    fn sample(&mut self, suffix: &str, labels: &[(&str, &str)], value: impl Display) {
        let _ = write!(self.out, "{}{suffix}", self.name);
        for (i, (name, value)) in labels.iter().enumerate() {
            let open = if i == 0 { "{" } else { "," };
            let _ = write!(self.out, "{open}{name}=\"{}\"", escape(value));
        }
        let close = if labels.is_empty() { "" } else { "}" };
        let _ = writeln!(self.out, "{close} {value}");
    }
}

/// Label values escape backslash, double quote and line feed.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

mod http;

pub use http::serve;

#[cfg(test)]
mod tests;
