//! State in Redis (or Valkey), shared by several pitchfork instances.
//!
//! Keys, all under `pitchfork:`: `key` (the hash key, set once by
//! whichever instance comes first), `since` (when outbound mail was first
//! recorded), `sent:HEX` and `corr:HEX` (expiring after the retention),
//! `learned` (a hash of message counts per label), `tokens` (a hash of
//! feature counts, `pN`/`lN`) and `learnt:HEX` (the label each learned
//! message got).

use super::{Counts, Key, Keyer, Known, Label, Learned, Query, Sent, Stats, Store, StoreError};
use redis::{Client, Connection, Value};
use std::{
    fmt,
    sync::Mutex,
    time::{Duration, Instant},
};

/// After a failure the server is left alone this long: every message
/// would otherwise wait out a connect timeout.
const BACKOFF: Duration = Duration::from_secs(5);

/// A Redis server.
pub struct RedisStore {
    url: String,
    client: Client,
    timeout: Duration,
    keyer: Keyer,
    idle: Mutex<Vec<Connection>>,
    down_until: Mutex<Option<Instant>>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn hex(key: &Key) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

impl RedisStore {
    /// Connects (within `timeout`) and reads or sets the hash key.
    pub fn open(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        let context = format!("Redis {url}");
        let client = Client::open(url).map_err(|e| StoreError::new(&context, e))?;
        let mut connection = connect(&client, timeout).map_err(|e| StoreError::new(&context, e))?;
        let fresh = Keyer::random_key()?;
        let (_, key): (Value, Vec<u8>) = redis::pipe()
            .cmd("SET")
            .arg("pitchfork:key")
            .arg(fresh.as_slice())
            .arg("NX")
            .cmd("GET")
            .arg("pitchfork:key")
            .query(&mut connection)
            .map_err(|e| StoreError::new(&context, e))?;
        let key: [u8; 16] = key
            .try_into()
            .map_err(|_| StoreError::new(&context, "pitchfork:key is not 16 bytes"))?;
        Ok(Self {
            url: url.to_owned(),
            client,
            timeout,
            keyer: Keyer::new(key),
            idle: Mutex::new(vec![connection]),
            down_until: Mutex::new(None),
        })
    }

    fn with<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let context = format!("Redis {}: {what}", self.url);
        let down_until = *self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        if down_until.is_some_and(|until| Instant::now() < until) {
            return Err(StoreError::new(
                &context,
                "server failed recently, not retried yet",
            ));
        }
        let taken = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let connection = match taken {
            Some(connection) => Ok(connection),
            None => connect(&self.client, self.timeout),
        };
        let result = connection.and_then(|mut connection| {
            let value = f(&mut connection)?;
            Ok((value, connection))
        });
        match result {
            Ok((value, connection)) => {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < 16 {
                    idle.push(connection);
                }
                Ok(value)
            }
            Err(e) => {
                // A failed connection is dropped; new ones wait a while.
                *self.down_until.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(Instant::now() + BACKOFF);
                Err(StoreError::new(&context, e))
            }
        }
    }
}

fn connect(client: &Client, timeout: Duration) -> redis::RedisResult<Connection> {
    let connection = client.get_connection_with_timeout(timeout)?;
    connection.set_read_timeout(Some(timeout))?;
    connection.set_write_timeout(Some(timeout))?;
    Ok(connection)
}

fn label_field(label: Label) -> &'static str {
    label.as_str()
}

fn token_field(label: Label, feature: u32) -> String {
    match label {
        Label::Pitch => format!("p{feature}"),
        Label::Legit => format!("l{feature}"),
    }
}

fn count(value: Option<i64>) -> u64 {
    value.map_or(0, |v| v.max(0) as u64)
}

impl Store for RedisStore {
    fn record(&self, sent: &Sent, now: u64, retention: u64) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg("pitchfork:since")
            .arg(now)
            .arg("NX")
            .ignore();
        let message = sent
            .message_id
            .iter()
            .map(|id| format!("pitchfork:sent:{}", hex(&self.keyer.message_id(id))));
        let recipients = sent
            .recipients
            .iter()
            .map(|r| format!("pitchfork:corr:{}", hex(&self.keyer.address(r))));
        for key in message.chain(recipients) {
            pipe.cmd("SET")
                .arg(key)
                .arg(now)
                .arg("EX")
                .arg(retention.max(1))
                .ignore();
        }
        self.with("cannot record sent mail", |c| pipe.query::<()>(c))
    }

    fn lookup(&self, query: &Query, _now: u64, _retention: u64) -> Result<Known, StoreError> {
        // Expiry is Redis's: keys were written with the retention as TTL.
        let sent: Vec<String> = query
            .references
            .iter()
            .map(|r| format!("pitchfork:sent:{}", hex(&self.keyer.message_id(r))))
            .collect();
        let senders: Vec<String> = query
            .senders
            .iter()
            .map(|s| format!("pitchfork:corr:{}", hex(&self.keyer.address(s))))
            .collect();
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg("pitchfork:since");
        pipe.cmd("HMGET")
            .arg("pitchfork:learned")
            .arg("pitch")
            .arg("legit");
        pipe.cmd("EXISTS").arg(&sent).arg("pitchfork:none");
        pipe.cmd("EXISTS").arg(&senders).arg("pitchfork:none");
        let (since, (pitch, legit), replies, correspondents): (Option<u64>, _, u64, u64) =
            self.with("cannot look up", |c| pipe.query(c))?;
        let learned = Counts {
            pitch: count(pitch),
            legit: count(legit),
        };
        // A second round trip, only once the counts would count.
        let wanted = learned.each_at_least(query.min_learns);
        let mut features = Vec::new();
        if wanted && !query.features.is_empty() {
            let mut hmget = redis::cmd("HMGET");
            hmget.arg("pitchfork:tokens");
            for &feature in &query.features {
                hmget.arg(token_field(Label::Pitch, feature));
                hmget.arg(token_field(Label::Legit, feature));
            }
            let tokens: Vec<Option<i64>> = self.with("cannot look up", |c| hmget.query(c))?;
            features = tokens
                .chunks(2)
                .map(|pair| Counts {
                    pitch: count(pair[0]),
                    legit: count(pair.get(1).copied().flatten()),
                })
                .collect();
        }
        Ok(Known {
            reply_to_ours: replies > 0,
            known_correspondent: correspondents > 0,
            history_since: since,
            learned,
            features,
        })
    }

    fn learn(&self, id: &str, label: Label, features: &[u32]) -> Result<Learned, StoreError> {
        let key = format!("pitchfork:learnt:{}", hex(&self.keyer.hash("learned", id)));
        let before: Option<String> = self.with("cannot learn", |c| {
            redis::cmd("SET")
                .arg(&key)
                .arg(label.as_str())
                .arg("GET")
                .query(c)
        })?;
        let old = match before.as_deref() {
            Some(old) if old == label.as_str() => return Ok(Learned::Already),
            Some(_) => Some(match label {
                Label::Pitch => Label::Legit,
                Label::Legit => Label::Pitch,
            }),
            None => None,
        };
        let mut pipe = redis::pipe();
        for &feature in features {
            pipe.cmd("HINCRBY")
                .arg("pitchfork:tokens")
                .arg(token_field(label, feature))
                .arg(1)
                .ignore();
            if let Some(old) = old {
                pipe.cmd("HINCRBY")
                    .arg("pitchfork:tokens")
                    .arg(token_field(old, feature))
                    .arg(-1)
                    .ignore();
            }
        }
        pipe.cmd("HINCRBY")
            .arg("pitchfork:learned")
            .arg(label_field(label))
            .arg(1)
            .ignore();
        if let Some(old) = old {
            pipe.cmd("HINCRBY")
                .arg("pitchfork:learned")
                .arg(label_field(old))
                .arg(-1)
                .ignore();
        }
        self.with("cannot learn", |c| pipe.query::<()>(c))?;
        Ok(if old.is_some() {
            Learned::Relabelled
        } else {
            Learned::New
        })
    }

    fn stats(&self) -> Result<Stats, StoreError> {
        let count_keys = |pattern: &str| -> Result<u64, StoreError> {
            self.with("cannot read statistics", |c| {
                let mut total = 0u64;
                let mut cursor = 0u64;
                loop {
                    let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query(c)?;
                    total += keys.len() as u64;
                    if next == 0 {
                        return Ok(total);
                    }
                    cursor = next;
                }
            })
        };
        let (since, (pitch, legit), fields): (Option<u64>, (Option<i64>, Option<i64>), u64) = self
            .with("cannot read statistics", |c| {
                redis::pipe()
                    .cmd("GET")
                    .arg("pitchfork:since")
                    .cmd("HMGET")
                    .arg("pitchfork:learned")
                    .arg("pitch")
                    .arg("legit")
                    .cmd("HLEN")
                    .arg("pitchfork:tokens")
                    .query(c)
            })?;
        Ok(Stats {
            sent_messages: count_keys("pitchfork:sent:*")?,
            correspondents: count_keys("pitchfork:corr:*")?,
            history_since: since,
            learned: Counts {
                pitch: count(pitch),
                legit: count(legit),
            },
            // Each feature has up to two fields, one per label.
            features: fields,
        })
    }
}
