//! Site state: what pitchfork learns from the site's own mail.
//!
//! * **Correspondent memory**: mail leaving through pitchfork (an
//!   authenticated sender, or a client in `trusted_networks`) records a
//!   keyed hash of its Message-ID and of each recipient. Inbound mail is
//!   then asked: does it reply to one of ours (`REPLY_TO_OURS`), has
//!   anyone here written to its sender (`KNOWN_CORRESPONDENT`), or does it
//!   claim a conversation that never happened (`FAKE_THREAD`)?
//! * **Learning**: `pitchfork learn` counts, per word feature, how often
//!   it appeared in messages users filed as pitches and as legitimate; the
//!   `LEARNED` test weighs a message's words by those counts.
//!
//! One [`Store`] interface has two implementations: an embedded
//! single-file store ([`sqlite`]) and Redis ([`redis`]) for several
//! instances. Keys are SipHash-2-4 (128-bit) of the value under a random
//! key kept in the store itself, so every instance sharing a store hashes
//! alike and the store holds no address in clear.
//!
//! The store is reached in bounded time (see [`handle`]): when it is slow
//! or down, messages are scored without the stateful tests.

pub mod envelope;
pub mod handle;
pub mod redis;
pub mod signals;
pub mod sqlite;

pub use handle::State;

use siphasher::sip128::{Hasher128, SipHasher24};
use std::{fmt, hash::Hasher};

/// A hashed value as stored.
pub type Key = [u8; 16];

/// Bits of the word-feature hash used for learned statistics.
pub const LEARN_BITS: u32 = 24;

/// A failure to reach or use the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    pub fn new(context: &str, error: impl fmt::Display) -> Self {
        Self(format!("{context}: {error}"))
    }
}

/// A message leaving the site.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub message_id: Option<String>,
    /// Envelope recipients.
    pub recipients: Vec<String>,
}

/// What an inbound message asks of the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Message-IDs in `In-Reply-To` and `References`.
    pub references: Vec<String>,
    /// The envelope sender and the `From:` address.
    pub senders: Vec<String>,
    /// Word features (see [`LEARN_BITS`]) whose learned counts matter.
    pub features: Vec<u32>,
    /// Their counts are fetched only once this many messages of each
    /// label are learned (`learning.min_learns`): until then they would
    /// not count, and they are most of a lookup's cost.
    pub min_learns: u64,
}

/// Learned counts of one feature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub pitch: u64,
    pub legit: u64,
}

impl Counts {
    /// Whether both labels have at least `n` (the learned totals reaching
    /// `learning.min_learns`, after which `LEARNED` counts).
    pub fn each_at_least(self, n: u64) -> bool {
        self.pitch >= n && self.legit >= n
    }
}

/// What the store knows about an inbound message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Known {
    /// A referenced Message-ID is one of ours.
    pub reply_to_ours: bool,
    /// Somebody here wrote to one of the senders.
    pub known_correspondent: bool,
    /// When outbound mail was first recorded (seconds since the epoch).
    pub history_since: Option<u64>,
    /// Messages learned as pitch and as legitimate.
    pub learned: Counts,
    /// Learned counts of the queried features, in query order; empty while
    /// fewer than `min_learns` of a label are learned.
    pub features: Vec<Counts>,
}

/// A label given by `pitchfork learn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    Pitch,
    Legit,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pitch => "pitch",
            Self::Legit => "legit",
        }
    }
}

/// What a learn did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Learned {
    /// Counted for the first time.
    New,
    /// Had been learned with the other label: moved over.
    Relabelled,
    /// Had been learned with this label already: nothing changed.
    Already,
}

/// Totals for `pitchfork learn --stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub sent_messages: u64,
    pub correspondents: u64,
    pub history_since: Option<u64>,
    pub learned: Counts,
    pub features: u64,
}

/// One store of site state. Every call is blocking and bounded by the
/// store's own timeouts; [`State`] runs them off the async runtime.
pub trait Store: Send + Sync + fmt::Debug {
    /// Remembers a message leaving the site, for `retention` seconds.
    fn record(&self, sent: &Sent, now: u64, retention: u64) -> Result<(), StoreError>;
    /// Answers an inbound message's query; entries older than `retention`
    /// seconds do not count.
    fn lookup(&self, query: &Query, now: u64, retention: u64) -> Result<Known, StoreError>;
    /// Counts a message's features under a label. `id` identifies the
    /// message, so learning it twice counts once and learning it with the
    /// other label moves it.
    fn learn(&self, id: &str, label: Label, features: &[u32]) -> Result<Learned, StoreError>;
    fn stats(&self) -> Result<Stats, StoreError>;
}

/// Hashes values under the store's key.
#[derive(Clone, Debug)]
pub struct Keyer {
    key: [u8; 16],
}

impl Keyer {
    pub fn new(key: [u8; 16]) -> Self {
        Self { key }
    }

    /// A new random key for a new store.
    pub fn random_key() -> Result<[u8; 16], StoreError> {
        let mut key = [0u8; 16];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut key))
            .map_err(|e| StoreError::new("cannot read /dev/urandom", e))?;
        Ok(key)
    }

    /// The key of a value of one kind (`kind` keeps an address and a
    /// Message-ID that happen to be equal apart).
    pub fn hash(&self, kind: &str, value: &str) -> Key {
        let mut hasher = SipHasher24::new_with_key(&self.key);
        hasher.write(kind.as_bytes());
        hasher.write_u8(0);
        hasher.write(value.as_bytes());
        hasher.finish128().as_bytes()
    }

    /// An address: case does not matter (in practice), `<>` are dropped.
    pub fn address(&self, address: &str) -> Key {
        self.hash("address", &normal_address(address))
    }

    /// A Message-ID, without its angle brackets.
    pub fn message_id(&self, id: &str) -> Key {
        self.hash(
            "message-id",
            id.trim().trim_start_matches('<').trim_end_matches('>'),
        )
    }
}

/// An address as compared: trimmed, without `<>`, lower case.
pub fn normal_address(address: &str) -> String {
    address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_lowercase()
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_depend_on_key_kind_and_value_but_not_case_of_addresses() {
        let a = Keyer::new([1; 16]);
        let b = Keyer::new([2; 16]);
        assert_eq!(a.address("<Ann@Example.COM>"), a.address("ann@example.com"));
        assert_ne!(a.address("ann@example.com"), b.address("ann@example.com"));
        assert_ne!(a.address("x@y"), a.message_id("x@y"));
        assert_eq!(a.message_id("<id@host>"), a.message_id("id@host"));
        assert_ne!(a.message_id("ID@host"), a.message_id("id@host"));
    }
}
