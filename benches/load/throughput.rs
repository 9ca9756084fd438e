//! Throughput and latency of pitchfork against the do-nothing milter with
//! the same negotiation, alternating the two at every concurrency level.

use crate::{
    client, corpus,
    daemon::{self, Daemon, Transport},
    drive::{self, Limits, Plan},
    noop::Flavor,
    proto::{Negotiated, flag},
    stats::{self, Percentiles, Tally},
};
use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

/// What the `throughput` command runs.
#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    /// Directory searched recursively for *.eml.
    #[arg(long, default_value = "tests/corpus")]
    pub corpus: PathBuf,
    /// Smallest message file used, in bytes.
    #[arg(long, default_value_t = 0)]
    pub min_size: usize,
    /// Largest message file used, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_size: usize,
    /// Concurrent milter connections, one run per value.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64,256")]
    pub concurrency: Vec<usize>,
    /// Messages per run.
    #[arg(long, default_value_t = 10_000)]
    pub messages: usize,
    /// Upper bound of one run, in seconds.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Runs of each milter per concurrency level (alternating).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Messages per milter connection (CONNECT/HELO once, ABORT between).
    #[arg(long, default_value_t = 10)]
    pub per_connection: usize,
    /// Socket both milters listen on.
    #[arg(long, value_enum, default_value = "unix")]
    pub transport: Transport,
    /// Do-nothing milters to compare with: `raw` (the protocol's ceiling)
    /// and `indymilter` (the ceiling of the library pitchfork runs on).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "raw,indymilter"
    )]
    pub noop: Vec<Flavor>,
    /// Another pitchfork binary (an earlier build) to run alongside, as
    /// `baseline`, for before/after figures from the same run.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// pitchfork's `log_level` (`info` logs one line per message).
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// Lines added to pitchfork's configuration (and the baseline's), e.g.
    /// `state = ""` to measure without the state store.
    #[arg(long, default_value = "")]
    pub config: String,
}

/// One milter's figures at one concurrency level.
struct Measured {
    rates: Vec<f64>,
    tally: Tally,
    peak_kib: u64,
    /// CPU the milter process used over its runs, in clock ticks.
    cpu_ticks: u64,
}

impl Measured {
    fn new() -> Self {
        Self {
            rates: Vec::new(),
            tally: Tally::default(),
            peak_kib: 0,
            cpu_ticks: 0,
        }
    }

    /// CPU µs the milter process spent per message (user and system).
    fn cpu_per_message(&self) -> f64 {
        let seconds = self.cpu_ticks as f64 / TICKS_PER_SECOND;
        1e6 * seconds / self.tally.messages().max(1) as f64
    }
}

/// Clock ticks of `/proc/PID/stat` per second (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

pub fn run(options: &Options) -> Result<(), String> {
    let mails = corpus::load(&options.corpus, options.min_size, options.max_size)?;
    describe_corpus(options, &mails);
    let dir = daemon::temp_dir("pfload")?;
    let runtime = client::runtime()?;
    let (negotiated, milters) = start_milters(options, dir.path(), &runtime)?;
    let plan = Arc::new(Plan::new(negotiated, &mails, options.per_connection));
    let warm_up = Limits {
        concurrency: 4,
        messages: 2000,
        time: Duration::from_secs(10),
    };
    for milter in &milters {
        runtime.block_on(drive::run(&plan, &milter.endpoint, warm_up));
    }
    print_header(options);
    let daemons: Vec<&Daemon> = milters.iter().collect();
    for &concurrency in &options.concurrency {
        let limits = Limits {
            concurrency,
            messages: options.messages,
            time: Duration::from_secs(options.seconds),
        };
        print_row(
            concurrency,
            level(&runtime, &plan, &daemons, limits, options.rounds),
        );
    }
    // The level is the second field of a log line (after the time): test
    // names such as `W_ERROR_PLEASE` in an INFO line are not trouble.
    let trouble = |l: &&str| {
        let level = l.split_whitespace().nth(1).unwrap_or("");
        matches!(level, "WARN" | "ERROR") && !l.contains("allow_root")
    };
    let log = milters.last().map(Daemon::log_text).unwrap_or_default();
    if let Some(line) = log.lines().find(trouble) {
        println!("\npitchfork logged a problem, e.g.: {line}");
    }
    Ok(())
}

/// Starts pitchfork, then the milters compared with it: the noop milters
/// answer with pitchfork's own negotiation. pitchfork comes last.
fn start_milters(
    options: &Options,
    dir: &Path,
    runtime: &tokio::runtime::Runtime,
) -> Result<(Negotiated, Vec<Daemon>), String> {
    let max = options.concurrency.iter().max().copied().unwrap_or(1);
    let config = format!(
        "max_connections = {}\nlog_level = \"{}\"\n{}",
        max.max(100) + 16,
        options.log_level,
        options.config
    );
    let pitchfork = daemon::pitchfork(dir, options.transport, &config)?;
    let negotiated = negotiate(runtime, &pitchfork)?;
    println!("negotiated: {}", describe(&negotiated));
    let mut milters = Vec::new();
    for &flavor in &options.noop {
        let noop = daemon::noop(dir, options.transport, &negotiated, flavor, false)?;
        let theirs = negotiate(runtime, &noop)?;
        if theirs != negotiated {
            return Err(format!(
                "{} negotiated differently: {theirs:?}",
                flavor.name()
            ));
        }
        milters.push(noop);
    }
    if let Some(binary) = &options.baseline {
        let name = "baseline";
        milters.push(daemon::pitchfork_binary(
            dir,
            options.transport,
            &config,
            binary,
            name,
        )?);
    }
    milters.push(pitchfork);
    Ok((negotiated, milters))
}

fn negotiate(runtime: &tokio::runtime::Runtime, milter: &Daemon) -> Result<Negotiated, String> {
    runtime
        .block_on(client::probe(&milter.endpoint))
        .map_err(|e| format!("cannot negotiate with {}: {e}", milter.name))
}

/// Runs every milter `rounds` times, rotating which goes first.
fn level(
    runtime: &tokio::runtime::Runtime,
    plan: &Arc<Plan>,
    milters: &[&Daemon],
    limits: Limits,
    rounds: usize,
) -> Vec<Measured> {
    let mut figures: Vec<Measured> = milters.iter().map(|_| Measured::new()).collect();
    for round in 0..rounds.max(1) {
        for k in 0..milters.len() {
            let i = (round + k) % milters.len();
            let before = milters[i].cpu_ticks();
            let (tally, elapsed) = runtime.block_on(drive::run(plan, &milters[i].endpoint, limits));
            figures[i].cpu_ticks += milters[i].cpu_ticks().saturating_sub(before);
            figures[i]
                .rates
                .push(stats::rate(tally.messages(), elapsed));
            figures[i].tally.merge(tally);
            figures[i].peak_kib = figures[i].peak_kib.max(milters[i].memory().rss);
        }
    }
    figures
}

fn describe_corpus(options: &Options, mails: &[corpus::Mail]) {
    let mut sizes: Vec<usize> = mails.iter().map(|m| m.size).collect();
    sizes.sort_unstable();
    let total: usize = sizes.iter().sum();
    println!(
        "corpus: {} messages from {} ({}..={} bytes): min {} B, median {} B, max {} B, mean {} B",
        mails.len(),
        options.corpus.display(),
        options.min_size,
        options.max_size,
        sizes[0],
        sizes[(sizes.len() - 1) / 2],
        sizes[sizes.len() - 1],
        total / sizes.len()
    );
}

/// Which steps reach the milter and which wait for its reply.
fn describe(negotiated: &Negotiated) -> String {
    use crate::proto::Event::*;
    let steps: Vec<String> = [Connect, Helo, Mail, Rcpt, Data, Header, Eoh, Body, Eob]
        .into_iter()
        .map(|event| {
            let mark = match (
                negotiated.sends(event),
                negotiated.awaits_reply(event) || event == Eob,
            ) {
                (false, _) => "not sent",
                (true, false) => "no reply",
                (true, true) => "reply",
            };
            format!("{event:?} {mark}")
        })
        .collect();
    format!(
        "version {}, actions {:#x}, protocol {:#x} (skip {}), macros {:?}; {}",
        negotiated.version,
        negotiated.actions,
        negotiated.protocol,
        if negotiated.has(flag::SKIP) {
            "yes"
        } else {
            "no"
        },
        negotiated.macros,
        steps.join(", ")
    )
}

fn print_header(options: &Options) {
    let noops: Vec<&str> = options.noop.iter().map(|f| f.name()).collect();
    println!(
        "\n{} socket, {} messages per run (at most {} s), {} rounds, {} messages per connection, log_level = {}\n",
        match options.transport {
            Transport::Unix => "unix",
            Transport::Inet => "inet",
        },
        options.messages,
        options.seconds,
        options.rounds,
        options.per_connection,
        options.log_level
    );
    let mut references: Vec<String> = noops.iter().map(|n| format!("noop {n}")).collect();
    if options.baseline.is_some() {
        references.push("baseline".into());
    }
    let mut head = String::from("| conc. |");
    let mut rule = String::from("|---:|");
    for name in &references {
        head.push_str(&format!(" {name} msg/s |"));
        rule.push_str("---:|");
    }
    head.push_str(" pitchfork msg/s |");
    rule.push_str("---:|");
    for name in &references {
        head.push_str(&format!(" of {name} |"));
        rule.push_str("---:|");
    }
    head.push_str(" p50 ms | p90 ms | p99 ms | max ms | errors | scored | RSS MiB |");
    rule.push_str("---:|---:|---:|---:|---:|---:|---:|");
    for name in references.iter().map(String::as_str).chain(["pitchfork"]) {
        head.push_str(&format!(" {name} CPU µs/msg |"));
        rule.push_str("---:|");
    }
    println!("{head}\n{rule}");
}

/// The last figures are pitchfork's, the others those of the references
/// (noop milters, then the baseline build).
fn print_row(concurrency: usize, mut figures: Vec<Measured>) {
    let Some(mut pitchfork) = figures.pop() else {
        return;
    };
    let rate = stats::median(&pitchfork.rates);
    let Percentiles { p50, p90, p99, max } = pitchfork.tally.percentiles();
    let mut row = format!("| {concurrency} |");
    for noop in &figures {
        row.push_str(&format!(" {:.0} |", stats::median(&noop.rates)));
    }
    row.push_str(&format!(" {rate:.0} |"));
    for noop in &figures {
        let ceiling = stats::median(&noop.rates).max(1e-9);
        row.push_str(&format!(" {:.0} % |", 100.0 * rate / ceiling));
    }
    let failures: u64 =
        figures.iter().map(|f| f.tally.failures()).sum::<u64>() + pitchfork.tally.failures();
    row.push_str(&format!(
        " {p50:.2} | {p90:.2} | {p99:.2} | {max:.1} | {failures} | {}/{} | {:.1} |",
        pitchfork.tally.scored,
        pitchfork.tally.messages(),
        pitchfork.peak_kib as f64 / 1024.0
    ));
    for figure in figures.iter().chain([&pitchfork]) {
        row.push_str(&format!(" {:.0} |", figure.cpu_per_message()));
    }
    println!("{row}");
    for figure in figures.iter().chain([&pitchfork]) {
        for sample in &figure.tally.error_samples {
            println!("    error: {sample}");
        }
    }
}
