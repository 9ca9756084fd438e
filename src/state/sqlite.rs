//! The embedded store: one SQLite file, no setup. Several processes (the
//! daemon, `pitchfork learn` run by the mail server) may use it at once:
//! WAL journal, a busy timeout as the bound, a few connections per process.

use super::{Counts, Key, Keyer, Known, Label, Learned, Query, Sent, Stats, Store, StoreError};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sent (key BLOB PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS correspondents (key BLOB PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (
    feature INTEGER PRIMARY KEY, pitch INTEGER NOT NULL, legit INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS learned (key BLOB PRIMARY KEY, label TEXT NOT NULL) WITHOUT ROWID;
";

/// How often (in recorded messages) expired entries are deleted.
const EXPIRE_EVERY: u64 = 1000;

/// A state file.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    timeout: Duration,
    keyer: Keyer,
    /// Idle connections; one is taken per call and put back.
    idle: Mutex<Vec<Connection>>,
    recorded: std::sync::atomic::AtomicU64,
}

impl SqliteStore {
    /// Opens the file, creating it (and its tables and hash key) when
    /// `create` is set.
    pub fn open(path: &Path, timeout: Duration, create: bool) -> Result<Self, StoreError> {
        let context = format!("state file {}", path.display());
        let connection =
            connect(path, timeout, create).map_err(|e| StoreError::new(&context, e))?;
        let key = init(&connection, create).map_err(|e| StoreError::new(&context, e))?;
        Ok(Self {
            path: path.to_owned(),
            timeout,
            keyer: Keyer::new(key),
            idle: Mutex::new(vec![connection]),
            recorded: 0.into(),
        })
    }

    fn with<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let context = format!("state file {}: {what}", self.path.display());
        let taken = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut connection = match taken {
            Some(connection) => connection,
            None => connect(&self.path, self.timeout, false)
                .map_err(|e| StoreError::new(&context, e))?,
        };
        let result = f(&mut connection).map_err(|e| StoreError::new(&context, e));
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < 8 {
            idle.push(connection);
        }
        result
    }
}

fn connect(path: &Path, timeout: Duration, create: bool) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(timeout)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(connection)
}

/// Creates the tables and the hash key if missing; returns the key.
fn init(connection: &Connection, create: bool) -> Result<[u8; 16], String> {
    let sql = |e: rusqlite::Error| e.to_string();
    if create {
        connection.execute_batch(SCHEMA).map_err(sql)?;
    }
    let read = || -> rusqlite::Result<Option<Vec<u8>>> {
        connection
            .query_row("SELECT value FROM meta WHERE name = 'key'", [], |row| {
                row.get(0)
            })
            .optional()
    };
    let key = match read().map_err(sql)? {
        Some(key) => key,
        None => {
            let fresh = Keyer::random_key().map_err(|e| e.0)?;
            connection
                .execute(
                    "INSERT OR IGNORE INTO meta (name, value) VALUES ('key', ?1)",
                    params![fresh.to_vec()],
                )
                .map_err(sql)?;
            // Another process may have won the race: read back.
            read().map_err(sql)?.unwrap_or_default()
        }
    };
    key.try_into()
        .map_err(|_| "the stored hash key is not 16 bytes".to_owned())
}

fn counter(tx: &Connection, name: &str) -> rusqlite::Result<u64> {
    Ok(meta(tx, name)?.map_or(0, |v| v.max(0) as u64))
}

const RECENT_SENT: &str = "SELECT 1 FROM sent WHERE key = ?1 AND at >= ?2";
const RECENT_CORRESPONDENT: &str = "SELECT 1 FROM correspondents WHERE key = ?1 AND at >= ?2";

/// Whether `recent` (one of the two queries above) finds any of `keys`.
fn any_recent(tx: &Connection, recent: &str, keys: &[Key], since: i64) -> rusqlite::Result<bool> {
    let mut recent = tx.prepare_cached(recent)?;
    for key in keys {
        if recent.exists(params![key.as_slice(), since])? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A value of the `meta` table. Cached: asked on every lookup, and parsing
/// the statement cost more than running it.
fn meta(tx: &Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached("SELECT value FROM meta WHERE name = ?1")?
        .query_row(params![name], |row| row.get(0))
        .optional()
}

fn add_counter(tx: &Connection, name: &str, delta: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO meta (name, value) VALUES (?1, max(?2, 0))
         ON CONFLICT(name) DO UPDATE SET value = max(value + ?2, 0)",
        params![name, delta],
    )?;
    Ok(())
}

fn label_counter(label: Label) -> &'static str {
    match label {
        Label::Pitch => "learned_pitch",
        Label::Legit => "learned_legit",
    }
}

fn add_tokens(tx: &Connection, label: Label, features: &[u32], delta: i64) -> rusqlite::Result<()> {
    let (pitch, legit) = match label {
        Label::Pitch => (delta, 0),
        Label::Legit => (0, delta),
    };
    let mut statement = tx.prepare_cached(
        "INSERT INTO tokens (feature, pitch, legit) VALUES (?1, max(?2, 0), max(?3, 0))
         ON CONFLICT(feature) DO UPDATE SET pitch = max(pitch + ?2, 0), legit = max(legit + ?3, 0)",
    )?;
    for feature in features {
        statement.execute(params![feature, pitch, legit])?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn record(&self, sent: &Sent, now: u64, retention: u64) -> Result<(), StoreError> {
        let expire = self
            .recorded
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .is_multiple_of(EXPIRE_EVERY);
        let message = sent
            .message_id
            .as_deref()
            .map(|id| self.keyer.message_id(id));
        let recipients: Vec<_> = sent
            .recipients
            .iter()
            .map(|r| self.keyer.address(r))
            .collect();
        self.with("cannot record sent mail", |connection| {
            let tx = connection.transaction()?;
            tx.execute(
                "INSERT OR IGNORE INTO meta (name, value) VALUES ('history_since', ?1)",
                params![now as i64],
            )?;
            if let Some(key) = message {
                tx.execute(
                    "INSERT OR REPLACE INTO sent (key, at) VALUES (?1, ?2)",
                    params![key.as_slice(), now as i64],
                )?;
            }
            for key in &recipients {
                tx.execute(
                    "INSERT OR REPLACE INTO correspondents (key, at) VALUES (?1, ?2)",
                    params![key.as_slice(), now as i64],
                )?;
            }
            if expire {
                let before = now.saturating_sub(retention) as i64;
                tx.execute("DELETE FROM sent WHERE at < ?1", params![before])?;
                tx.execute("DELETE FROM correspondents WHERE at < ?1", params![before])?;
            }
            tx.commit()
        })
    }

    fn lookup(&self, query: &Query, now: u64, retention: u64) -> Result<Known, StoreError> {
        let since = now.saturating_sub(retention) as i64;
        let references: Vec<_> = query
            .references
            .iter()
            .map(|r| self.keyer.message_id(r))
            .collect();
        let senders: Vec<_> = query
            .senders
            .iter()
            .map(|s| self.keyer.address(s))
            .collect();
        self.with("cannot look up", |connection| {
            let tx = connection.transaction()?;
            let mut known = Known {
                reply_to_ours: any_recent(&tx, RECENT_SENT, &references, since)?,
                known_correspondent: any_recent(&tx, RECENT_CORRESPONDENT, &senders, since)?,
                history_since: meta(&tx, "history_since")?.map(|h| h.max(0) as u64),
                learned: Counts {
                    pitch: counter(&tx, label_counter(Label::Pitch))?,
                    legit: counter(&tx, label_counter(Label::Legit))?,
                },
                features: Vec::new(),
            };
            if known.learned.each_at_least(query.min_learns) {
                let mut token =
                    tx.prepare_cached("SELECT pitch, legit FROM tokens WHERE feature = ?1")?;
                for feature in &query.features {
                    let counts = token
                        .query_row(params![feature], |row| {
                            Ok(Counts {
                                pitch: row.get::<_, i64>(0)?.max(0) as u64,
                                legit: row.get::<_, i64>(1)?.max(0) as u64,
                            })
                        })
                        .optional()?;
                    known.features.push(counts.unwrap_or_default());
                }
            }
            tx.finish()?;
            Ok(known)
        })
    }

    fn learn(&self, id: &str, label: Label, features: &[u32]) -> Result<Learned, StoreError> {
        let key = self.keyer.hash("learned", id);
        self.with("cannot learn", |connection| {
            let tx =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let before: Option<String> = tx
                .query_row(
                    "SELECT label FROM learned WHERE key = ?1",
                    params![key.as_slice()],
                    |r| r.get(0),
                )
                .optional()?;
            let outcome = match before.as_deref() {
                Some(old) if old == label.as_str() => return Ok(Learned::Already),
                Some(_) => {
                    let old = match label {
                        Label::Pitch => Label::Legit,
                        Label::Legit => Label::Pitch,
                    };
                    add_tokens(&tx, old, features, -1)?;
                    add_counter(&tx, label_counter(old), -1)?;
                    Learned::Relabelled
                }
                None => Learned::New,
            };
            add_tokens(&tx, label, features, 1)?;
            add_counter(&tx, label_counter(label), 1)?;
            tx.execute(
                "INSERT OR REPLACE INTO learned (key, label) VALUES (?1, ?2)",
                params![key.as_slice(), label.as_str()],
            )?;
            tx.commit()?;
            Ok(outcome)
        })
    }

    fn stats(&self) -> Result<Stats, StoreError> {
        self.with("cannot read statistics", |connection| {
            let count = |table: &str| -> rusqlite::Result<u64> {
                connection
                    .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                        r.get::<_, i64>(0)
                    })
                    .map(|n| n.max(0) as u64)
            };
            let history = meta(connection, "history_since")?;
            Ok(Stats {
                sent_messages: count("sent")?,
                correspondents: count("correspondents")?,
                history_since: history.map(|h| h.max(0) as u64),
                learned: Counts {
                    pitch: counter(connection, label_counter(Label::Pitch))?,
                    legit: counter(connection, label_counter(Label::Legit))?,
                },
                features: count("tokens")?,
            })
        })
    }
}
