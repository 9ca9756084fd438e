//! The state store's cost per message, for both backends: latency of the
//! lookup an inbound message makes (references and senders; once
//! `min_learns` of each label are learned, also its word features), of
//! recording an outbound message and of a learn, then lookup throughput
//! from several threads at once.
//!
//! The embedded store lives in a temporary directory; Redis is a private
//! `redis-server` started on a free loopback port and stopped by PID (its
//! part is skipped, saying so, when `redis-server` is not installed).
//! Bounded: fixed counts and a few seconds of throughput per backend.
//!
//! ```sh
//! cargo bench --bench state
//! ```

use pitchfork::{
    engine::{Ask, Engine},
    state::{Label, Query, Sent, Store, redis::RedisStore, sqlite::SqliteStore},
};
use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
    thread,
    time::{Duration, Instant},
};

const TIMEOUT: Duration = Duration::from_secs(2);
const RECORDS: usize = 20_000;
const LEARNS: usize = 400;
const LOOKUPS: usize = 5_000;
const THROUGHPUT_FOR: Duration = Duration::from_secs(3);
const DAY: u64 = 86_400;

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let queries = queries();
    let dir = tempfile::tempdir().expect("temporary directory");
    let sqlite =
        SqliteStore::open(&dir.path().join("state.db"), TIMEOUT, true).expect("state file");
    println!(
        "| store | record µs p50 / p99 | learn µs p50 / p99 | lookup before learning µs p50 / p99 \
         | lookup, LEARNED active, µs p50 / p90 / p99 | lookups/s (active), 1 / 4 / 16 threads |"
    );
    println!("|---|---|---|---|---|---|");
    run("embedded (SQLite)", Arc::new(sqlite), &queries);
    match RedisServer::start(dir.path()) {
        Some(server) => {
            let store = RedisStore::open(&server.url(), TIMEOUT).expect("redis");
            run("Redis 127.0.0.1", Arc::new(store), &queries);
        }
        None => println!("SKIPPED: Redis (no /usr/bin/redis-server)"),
    }
}

/// One query per message of `tests/corpus`, as the daemon would ask it.
fn queries() -> Vec<Query> {
    let engine = Engine::load(None).expect("built-in configuration");
    let mut paths = Vec::new();
    collect(Path::new("tests/corpus"), &mut paths);
    paths.sort();
    let queries: Vec<Query> = paths
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .map(|raw| {
            let ask = Ask {
                sender: Some("sender@example.org"),
                learned: true,
                regardless: true,
            };
            engine.prepare(&raw, false, Some(ask)).query
        })
        .map(Option::unwrap_or_default)
        .collect();
    let features: usize = queries.iter().map(|q| q.features.len()).sum();
    eprintln!(
        "{} queries from tests/corpus, {} word features each on average",
        queries.len(),
        features / queries.len().max(1)
    );
    queries
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "eml") {
            out.push(path);
        }
    }
}

fn run(name: &str, store: Arc<dyn Store>, queries: &[Query]) {
    let now = 1_000 * DAY;
    let retention = 180 * DAY;
    let record = timed(RECORDS, |i| {
        let sent = Sent {
            message_id: Some(format!("m{i}@ours.example")),
            recipients: vec![
                format!("r{i}@vendor.example"),
                format!("s{i}@client.example"),
            ],
        };
        store.record(&sent, now, retention).expect("record");
    });
    let lookup_unlearned = timed(LOOKUPS, |i| {
        let mut query = queries[i % queries.len()].clone();
        query.references = vec![format!("m{}@ours.example", i * 7 % (2 * RECORDS))];
        store.lookup(&query, now, retention).expect("lookup");
    });
    let learn = timed(LEARNS, |i| {
        let query = &queries[i % queries.len()];
        let label = if i % 2 == 0 {
            Label::Pitch
        } else {
            Label::Legit
        };
        store
            .learn(&format!("learn-{i}"), label, &query.features)
            .expect("learn");
    });
    let lookup = timed(LOOKUPS, |i| {
        let mut query = queries[i % queries.len()].clone();
        query.references = vec![format!("m{}@ours.example", i * 7 % (2 * RECORDS))];
        store.lookup(&query, now, retention).expect("lookup");
    });
    let rates: Vec<String> = [1, 4, 16]
        .iter()
        .map(|&threads| format!("{:.0}", throughput(&store, queries, threads)))
        .collect();
    println!(
        "| {name} | {:.0} / {:.0} | {:.0} / {:.0} | {:.0} / {:.0} | {:.0} / {:.0} / {:.0} | {} |",
        record.at(0.5),
        record.at(0.99),
        learn.at(0.5),
        learn.at(0.99),
        lookup_unlearned.at(0.5),
        lookup_unlearned.at(0.99),
        lookup.at(0.5),
        lookup.at(0.9),
        lookup.at(0.99),
        rates.join(" / ")
    );
}

/// Microseconds of each of `count` calls, sorted.
struct Latencies(Vec<f64>);

impl Latencies {
    fn at(&self, quantile: f64) -> f64 {
        let index = ((self.0.len() as f64 * quantile) as usize).min(self.0.len() - 1);
        self.0[index]
    }
}

fn timed(count: usize, mut f: impl FnMut(usize)) -> Latencies {
    let mut times: Vec<f64> = (0..count)
        .map(|i| {
            let started = Instant::now();
            f(i);
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    Latencies(times)
}

fn throughput(store: &Arc<dyn Store>, queries: &[Query], threads: usize) -> f64 {
    let deadline = Instant::now() + THROUGHPUT_FOR;
    let started = Instant::now();
    let done: usize = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut n = 0;
                    while Instant::now() < deadline {
                        let query = &queries[(t * 131 + n) % queries.len()];
                        store.lookup(query, 1_000 * DAY, 180 * DAY).expect("lookup");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    done as f64 / started.elapsed().as_secs_f64()
}

/// A private `redis-server`, stopped by PID when dropped.
struct RedisServer {
    child: std::process::Child,
    port: u16,
}

impl RedisServer {
    fn start(dir: &Path) -> Option<Self> {
        if !Path::new("/usr/bin/redis-server").exists() {
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("/usr/bin/redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while RedisStore::open(&server.url(), TIMEOUT).is_err() {
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
