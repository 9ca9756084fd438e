//! The daemon's way to its store: opened lazily (and again after a
//! failure, at most every [`RETRY`]), every call off the async runtime and
//! bounded by `state_timeout_ms`. Past the bound or on an error the
//! message goes on without the stateful tests: a warning is logged (at
//! most once per [`RETRY`]) and the call counted.

use super::{Known, Query, Sent, Store, StoreError, redis::RedisStore, sqlite::SqliteStore};
use crate::{
    config::{Backend, StateConfig},
    metrics::{Metrics, StateOperation, StateResult},
};
use std::{
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use tracing::warn;

/// How long after a failure to open the store it is tried again, and how
/// often a failing store is reported.
pub const RETRY: Duration = Duration::from_secs(10);

/// Opens a store for a backend. `create` makes a missing state file (the
/// daemon and `learn` do; `check` only reads an existing one).
pub fn open(
    backend: &Backend,
    timeout: Duration,
    create: bool,
) -> Result<Option<Arc<dyn Store>>, StoreError> {
    Ok(match backend {
        Backend::Off => None,
        Backend::File(path) => Some(Arc::new(SqliteStore::open(path, timeout, create)?)),
        Backend::Redis(url) => Some(Arc::new(RedisStore::open(url, timeout)?)),
    })
}

/// Milliseconds since the first call: a monotonic clock that fits an
/// atomic.
fn clock() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// The daemon's store, opened on first use.
#[derive(Debug)]
pub struct State {
    backend: Backend,
    timeout: Duration,
    slot: Mutex<Slot>,
    /// Outbound records waiting for the store.
    pending: AtomicUsize,
    /// Whether the last answer had enough learns for `LEARNED`: only then
    /// are a message's word features worth computing and sending. Every
    /// answer carries the counts, so this follows the store a message late.
    learning: AtomicBool,
    /// When the store was last asked (answering or not), in milliseconds
    /// of [`clock`]; 0 before the first question.
    asked_at: AtomicU64,
}

/// Outbound records allowed to wait for a slow store; beyond this they are
/// dropped (and counted) rather than pile up.
const MAX_PENDING_RECORDS: usize = 256;

#[derive(Debug, Default)]
struct Slot {
    store: Option<Arc<dyn Store>>,
    /// No new attempt to open before this.
    retry_at: Option<Instant>,
    /// No new warning before this.
    quiet_until: Option<Instant>,
}

impl State {
    pub fn new(config: &StateConfig) -> Self {
        Self {
            backend: config.backend.clone(),
            timeout: config.timeout,
            slot: Mutex::default(),
            pending: AtomicUsize::new(0),
            learning: AtomicBool::new(true),
            asked_at: AtomicU64::new(0),
        }
    }

    /// Whether the store has not been asked for [`RETRY`] (or ever): a
    /// message is then worth asking about whatever its score, so that
    /// [`State::learning`] follows the store even while little mail needs
    /// its answer. A store that is down is asked no more often for it.
    pub fn stale(&self) -> bool {
        let at = self.asked_at.load(Ordering::Relaxed);
        at == 0 || clock().saturating_sub(at) >= RETRY.as_millis() as u64
    }

    /// Whether there is a store to ask at all.
    pub fn enabled(&self) -> bool {
        self.backend != Backend::Off
    }

    /// Whether to ask for learned word counts (see [`Query::features`]):
    /// until a store has answered, yes.
    pub fn learning(&self) -> bool {
        self.learning.load(Ordering::Relaxed)
    }

    /// The store, opening it if due. Blocking.
    fn store(&self) -> Result<Arc<dyn Store>, StoreError> {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(store) = &slot.store {
            return Ok(Arc::clone(store));
        }
        if slot.retry_at.is_some_and(|at| Instant::now() < at) {
            return Err(StoreError(format!(
                "state store {} is unavailable",
                self.backend
            )));
        }
        match open(&self.backend, self.timeout, true) {
            Ok(Some(store)) => {
                slot.store = Some(Arc::clone(&store));
                Ok(store)
            }
            Ok(None) => Err(StoreError("no state store configured".into())),
            Err(e) => {
                slot.retry_at = Some(Instant::now() + RETRY);
                Err(e)
            }
        }
    }

    /// Logs a failure unless one was logged within [`RETRY`].
    fn report(&self, what: &str, error: &dyn std::fmt::Display) {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if slot.quiet_until.is_some_and(|until| now < until) {
            return;
        }
        slot.quiet_until = Some(now + RETRY);
        warn!(
            "state store: {what}: {error}; scoring without REPLY_TO_OURS, KNOWN_CORRESPONDENT, FAKE_THREAD and LEARNED"
        );
    }

    /// Asks the store about an inbound message within the timeout; `None`
    /// when it did not answer in time or failed.
    pub async fn lookup(
        self: &Arc<Self>,
        query: Query,
        now: u64,
        retention: u64,
        metrics: &Metrics,
    ) -> Option<Known> {
        if !self.enabled() {
            return None;
        }
        let state = Arc::clone(self);
        let min_learns = query.min_learns;
        let task =
            tokio::task::spawn_blocking(move || state.store()?.lookup(&query, now, retention));
        let (result, answer) = match tokio::time::timeout(self.timeout, task).await {
            Ok(Ok(Ok(known))) => {
                let active = known.learned.each_at_least(min_learns);
                self.learning.store(active, Ordering::Relaxed);
                (StateResult::Ok, Some(known))
            }
            Ok(Ok(Err(e))) => {
                self.report("lookup failed", &e);
                (StateResult::Error, None)
            }
            Ok(Err(panicked)) => {
                self.report("lookup failed", &panicked);
                (StateResult::Error, None)
            }
            Err(_) => {
                let bound = format!("no answer within {} ms", self.timeout.as_millis());
                self.report("lookup timed out", &bound);
                (StateResult::Timeout, None)
            }
        };
        self.asked_at.store(clock().max(1), Ordering::Relaxed);
        metrics.state(StateOperation::Lookup, result);
        answer
    }

    /// Records an outbound message in the background: the message itself
    /// never waits for it.
    pub fn record(self: &Arc<Self>, sent: Sent, now: u64, retention: u64, metrics: Arc<Metrics>) {
        if !self.enabled() {
            return;
        }
        if self.pending.fetch_add(1, Ordering::AcqRel) >= MAX_PENDING_RECORDS {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            self.report("cannot record outbound mail", &"too many records waiting");
            metrics.state(StateOperation::Record, StateResult::Timeout);
            return;
        }
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let result = state
                .store()
                .and_then(|store| store.record(&sent, now, retention));
            state.pending.fetch_sub(1, Ordering::AcqRel);
            let counted = match result {
                Ok(()) => StateResult::Ok,
                Err(e) => {
                    state.report("cannot record outbound mail", &e);
                    StateResult::Error
                }
            };
            metrics.state(StateOperation::Record, counted);
        });
    }
}
