//! End to end through a real, private Postfix (tests/common/postfix.rs):
//! SMTP sessions in, pitchfork as `smtpd_milters` on a unix or an inet
//! socket, mail delivered to a Maildir. Two references run alongside:
//! Postfix without a milter, and the do-nothing milter on plain TCP (no
//! `TCP_NODELAY`, no `TCP_QUICKACK`, like libmilter), which shows the ~40 ms
//! stalls pitchfork's listener avoids.

use crate::{
    client, corpus,
    daemon::{self, Daemon, Transport},
    noop::Flavor,
    postfix::{self, Postfix},
    smtp,
    stats::{self, Tally},
};
use std::{
    fs,
    path::{Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    thread::sleep,
    time::{Duration, Instant},
};

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    #[arg(long, default_value = "tests/corpus")]
    pub corpus: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub min_size: usize,
    #[arg(long, default_value_t = 1 << 20)]
    pub max_size: usize,
    /// Messages per row (one SMTP session each).
    #[arg(long, default_value_t = 400)]
    pub messages: usize,
    /// Upper bound of one row, in seconds.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Concurrent SMTP sessions, one row per value.
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    pub sessions: Vec<usize>,
    /// Leave out the two reference setups (no milter, plain-TCP noop).
    #[arg(long)]
    pub no_references: bool,
}

/// A milter setup in front of which Postfix runs.
#[derive(Clone, Copy)]
enum Setup {
    Pitchfork(Transport),
    PlainTcpNoop,
    NoMilter,
}

impl Setup {
    fn label(self) -> &'static str {
        match self {
            Self::Pitchfork(Transport::Unix) => "pitchfork | unix",
            Self::Pitchfork(Transport::Inet) => "pitchfork | inet",
            Self::PlainTcpNoop => "noop, plain TCP (libmilter-like) | inet",
            Self::NoMilter => "none | -",
        }
    }
}

pub fn run(options: &Options) -> Result<(), String> {
    if !postfix::require_postfix() {
        return Ok(());
    }
    let mails = corpus::load(&options.corpus, options.min_size, options.max_size)?;
    let messages: Vec<Vec<u8>> = mails.iter().map(smtp::data).collect();
    println!(
        "corpus: {} messages from {}; {} messages per row (at most {} s), one SMTP session per message\n",
        messages.len(),
        options.corpus.display(),
        options.messages,
        options.seconds
    );
    println!("| milter | socket | SMTP sessions | msgs/s | p50 ms | p99 ms | delivered | errors |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let mut setups = vec![
        Setup::Pitchfork(Transport::Unix),
        Setup::Pitchfork(Transport::Inet),
    ];
    if !options.no_references {
        setups.extend([Setup::PlainTcpNoop, Setup::NoMilter]);
    }
    let mut rates = Vec::new();
    for setup in setups {
        for (sessions, rate) in measure_setup(setup, options, &messages)? {
            rates.push((setup.label(), sessions, rate));
        }
    }
    for &sessions in &options.sessions {
        let find = |label: &str| {
            rates
                .iter()
                .find(|r| r.0 == label && r.1 == sessions)
                .map_or(0.0, |r| r.2)
        };
        let (unix, inet) = (find("pitchfork | unix"), find("pitchfork | inet"));
        println!(
            "\n{sessions} session(s): pitchfork inet / unix = {:.0} %",
            100.0 * inet / unix.max(1e-9)
        );
    }
    Ok(())
}

/// Starts the milter and Postfix, then one row per session count.
fn measure_setup(
    setup: Setup,
    options: &Options,
    messages: &[Vec<u8>],
) -> Result<Vec<(usize, f64)>, String> {
    // user postfix must reach a unix socket: a 0755 directory under /tmp.
    let dir = postfix::short_tempdir("pfb");
    let milter = start_milter(setup, dir.path())?;
    let spec = milter
        .as_ref()
        .map_or(String::new(), |m| postfix_spec(&m.endpoint));
    let mta = Postfix::start(&spec);
    let mut rows = Vec::new();
    let mut accepted = 0;
    for &sessions in &options.sessions {
        // Postfix forks smtpd and cleanup processes on first use; its mail
        // is delivered before the row starts.
        let (warm, _) = send_all(
            mta.smtp_port(),
            messages,
            sessions,
            8,
            Duration::from_secs(30),
        );
        accepted += warm.messages() as usize;
        let before = wait_for_delivery(mta.dir(), accepted);
        let limit = Duration::from_secs(options.seconds);
        let (mut tally, elapsed) =
            send_all(mta.smtp_port(), messages, sessions, options.messages, limit);
        let rate = stats::rate(tally.messages(), elapsed);
        accepted += tally.messages() as usize;
        let arrived = wait_for_delivery(mta.dir(), accepted);
        let percentiles = tally.percentiles();
        println!(
            "| {} | {sessions} | {rate:.0} | {:.1} | {:.1} | {}/{} | {} |",
            setup.label(),
            percentiles.p50,
            percentiles.p99,
            arrived - before,
            tally.messages(),
            tally.errors
        );
        for sample in &tally.error_samples {
            println!("    error: {sample}");
        }
        rows.push((sessions, rate));
    }
    if let (Setup::Pitchfork(_), Some(copy)) = (setup, last_delivered(mta.dir()))
        && !copy.contains("X-Pitchfork-Score:")
    {
        return Err(format!(
            "{}: delivered mail has no verdict:\n{copy}",
            setup.label()
        ));
    }
    drop(mta);
    drop(milter);
    Ok(rows)
}

fn start_milter(setup: Setup, dir: &Path) -> Result<Option<Daemon>, String> {
    let config = "log_level = \"info\"";
    Ok(match setup {
        Setup::Pitchfork(transport) => Some(daemon::pitchfork(dir, transport, config)?),
        Setup::PlainTcpNoop => {
            // The noop answers with pitchfork's own negotiation.
            let probe_dir = postfix::short_tempdir("pfp");
            let pitchfork = daemon::pitchfork(probe_dir.path(), Transport::Unix, config)?;
            let negotiated = client::runtime()?
                .block_on(client::probe(&pitchfork.endpoint))
                .map_err(|e| format!("cannot negotiate with pitchfork: {e}"))?;
            Some(daemon::noop(
                dir,
                Transport::Inet,
                &negotiated,
                Flavor::Raw,
                true,
            )?)
        }
        Setup::NoMilter => None,
    })
}

/// Postfix writes inet milters as `inet:HOST:PORT`.
fn postfix_spec(endpoint: &client::Endpoint) -> String {
    match endpoint {
        client::Endpoint::Unix(path) => format!("unix:{}", path.display()),
        client::Endpoint::Inet(addr) => format!("inet:{}:{}", addr.ip(), addr.port()),
    }
}

/// Sends up to `count` messages over `sessions` parallel SMTP clients.
fn send_all(
    port: u16,
    messages: &[Vec<u8>],
    sessions: usize,
    count: usize,
    limit: Duration,
) -> (Tally, Duration) {
    let next = AtomicUsize::new(0);
    let deadline = Instant::now() + limit;
    let tally = Mutex::new(Tally::default());
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..sessions {
            scope.spawn(|| {
                let mut own = Tally::default();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count || Instant::now() >= deadline {
                        break;
                    }
                    let started = Instant::now();
                    match smtp::send(port, &messages[n % messages.len()]) {
                        Ok(()) => own.record(client::nanos_since(started), &Default::default()),
                        Err(e) => own.error(e),
                    }
                }
                tally.lock().expect("tally lock").merge(own);
            });
        }
    });
    let elapsed = start.elapsed();
    (tally.into_inner().expect("tally lock"), elapsed)
}

fn maildir(instance: &Path) -> PathBuf {
    instance.join("maildir").join(postfix::MAIL_DOMAIN)
}

fn delivered(instance: &Path) -> usize {
    ["new", "cur"]
        .iter()
        .filter_map(|sub| fs::read_dir(maildir(instance).join(sub)).ok())
        .map(Iterator::count)
        .sum()
}

/// Waits (at most a minute) until `count` messages are in the Maildir.
fn wait_for_delivery(instance: &Path, count: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = delivered(instance);
        if now >= count || Instant::now() > deadline {
            return now;
        }
        sleep(Duration::from_millis(50));
    }
}

fn last_delivered(instance: &Path) -> Option<String> {
    let entry = fs::read_dir(maildir(instance).join("new"))
        .ok()?
        .flatten()
        .next()?;
    fs::read_to_string(entry.path()).ok()
}
