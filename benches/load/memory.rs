//! Memory bounds: RSS with many connections each held mid-message (all of
//! the message sent but the end of body), and RSS growth over one message
//! far larger than `max_scan_bytes`.

use crate::{
    client::{self, Conversation, Endpoint, Outcome, Stream},
    corpus::{self, Encoded, Encoder, Mail},
    daemon::{self, Daemon, Memory, Transport},
    drive::{self, Limits, Plan},
    noop::Flavor,
};
use std::{path::PathBuf, sync::Arc, time::Duration};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::Barrier,
};

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    #[arg(long, default_value = "tests/corpus")]
    pub corpus: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub min_size: usize,
    #[arg(long, default_value_t = 1 << 20)]
    pub max_size: usize,
    /// Connections held open mid-message at once.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Size of the large message, in MiB.
    #[arg(long, default_value_t = 50)]
    pub big_mib: usize,
    /// pitchfork's `max_scan_bytes` (its default is 1 MiB).
    #[arg(long, default_value_t = 1 << 20)]
    pub max_scan_bytes: usize,
    #[arg(long, value_enum, default_value = "unix")]
    pub transport: Transport,
}

pub fn run(options: &Options) -> Result<(), String> {
    let mails = corpus::load(&options.corpus, options.min_size, options.max_size)?;
    let dir = daemon::temp_dir("pfmem")?;
    let config = format!(
        "max_connections = {}\nmax_scan_bytes = {}\nlog_level = \"warn\"",
        options.connections + 16,
        options.max_scan_bytes
    );
    let pitchfork = daemon::pitchfork(dir.path(), options.transport, &config)?;
    let runtime = client::runtime()?;
    let negotiated = runtime
        .block_on(client::probe(&pitchfork.endpoint))
        .map_err(|e| format!("cannot negotiate: {e}"))?;
    let noop = daemon::noop(
        dir.path(),
        options.transport,
        &negotiated,
        Flavor::Raw,
        false,
    )?;
    let plan = Arc::new(Plan::new(negotiated, &mails, 1));
    println!(
        "corpus: {} messages from {}; {} connections; max_scan_bytes = {}\n",
        mails.len(),
        options.corpus.display(),
        options.connections,
        options.max_scan_bytes
    );
    // The large message first: freed memory a process keeps would hide
    // its growth after the many-connection run.
    warm_up(&runtime, &plan, &pitchfork)?;
    big_message(&runtime, &plan, &pitchfork, options)?;
    println!(
        "\n| milter | RSS idle MiB | RSS, {} connections mid-message MiB | KiB per connection | RSS after they ended MiB |",
        options.connections
    );
    println!("|---|---:|---:|---:|---:|");
    for milter in [&noop, &pitchfork] {
        warm_up(&runtime, &plan, milter)?;
        held_connections(&runtime, &plan, milter, options.connections)?;
    }
    Ok(())
}

/// A thousand ordinary messages, so that idle RSS includes the working set.
fn warm_up(
    runtime: &tokio::runtime::Runtime,
    plan: &Arc<Plan>,
    milter: &Daemon,
) -> Result<(), String> {
    let limits = Limits {
        concurrency: 4,
        messages: 1000,
        time: Duration::from_secs(10),
    };
    let (tally, _) = runtime.block_on(drive::run(plan, &milter.endpoint, limits));
    if tally.failures() > 0 {
        return Err(format!("warm-up failed: {:?}", tally.error_samples));
    }
    Ok(())
}

/// Holds `count` connections before their end of message and reads the
/// RSS.
fn held_connections(
    runtime: &tokio::runtime::Runtime,
    plan: &Arc<Plan>,
    milter: &Daemon,
    count: usize,
) -> Result<(), String> {
    let idle = milter.memory();
    let (held, after) = runtime.block_on(hold(plan, &milter.endpoint, count, milter))?;
    println!(
        "| {} | {:.1} | {:.1} | {:.1} | {:.1} |",
        milter.name,
        mib(idle.rss),
        mib(held.rss),
        held.rss.saturating_sub(idle.rss) as f64 / count as f64,
        mib(after.rss)
    );
    Ok(())
}

async fn hold(
    plan: &Arc<Plan>,
    endpoint: &Endpoint,
    count: usize,
    milter: &Daemon,
) -> Result<(Memory, Memory), String> {
    let ready = Arc::new(Barrier::new(count + 1));
    let go = Arc::new(Barrier::new(count + 1));
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let (plan, endpoint) = (Arc::clone(plan), endpoint.clone());
            let (ready, go) = (Arc::clone(&ready), Arc::clone(&go));
            tokio::spawn(async move {
                let message = &plan.messages[i % plan.messages.len()];
                let result = match client::connect(&endpoint).await {
                    Ok(Stream::Unix(s)) => held(s, &plan, message, &ready, &go).await,
                    Ok(Stream::Inet(s)) => held(s, &plan, message, &ready, &go).await,
                    Err(e) => Err(e),
                };
                result.map_err(|e| e.to_string())
            })
        })
        .collect();
    ready.wait().await;
    // Give the milter a moment to finish reading what is in flight.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let held_memory = milter.memory();
    go.wait().await;
    for task in tasks {
        let outcome = task.await.map_err(|e| e.to_string())??;
        if outcome.verdict != client::Verdict::Accept {
            return Err(format!("unexpected verdict {:?}", outcome.verdict));
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok((held_memory, milter.memory()))
}

/// One connection that stops before its end of message until released.
/// A connection that fails still passes the barriers, so the others are
/// not left waiting.
async fn held<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    plan: &Plan,
    message: &Encoded,
    ready: &Barrier,
    go: &Barrier,
) -> std::io::Result<Outcome> {
    let (head, tail) = message.split_before_end();
    let started = async {
        let (mut conversation, _) = Conversation::open(stream).await?;
        conversation.steps(&plan.connection).await?;
        conversation.steps(&head).await?;
        Ok::<_, std::io::Error>(conversation)
    }
    .await;
    ready.wait().await;
    go.wait().await;
    let mut conversation = started?;
    let outcome = conversation.steps(&tail).await?;
    conversation.quit().await?;
    Ok(outcome)
}

/// Sends one message of `big_mib` MiB and reports the peak RSS growth.
fn big_message(
    runtime: &tokio::runtime::Runtime,
    plan: &Plan,
    pitchfork: &Daemon,
    options: &Options,
) -> Result<(), String> {
    let mail = Mail::synthetic(options.big_mib << 20);
    let encoded = Encoder::new(&plan.negotiated, "4QBIG".into()).message(&mail);
    let before = pitchfork.memory();
    pitchfork.reset_peak()?;
    let (outcome, written) = runtime
        .block_on(async {
            match client::connect(&pitchfork.endpoint).await? {
                Stream::Unix(s) => one_message(s, plan, &encoded).await,
                Stream::Inet(s) => one_message(s, plan, &encoded).await,
            }
        })
        .map_err(|e| format!("large message failed: {e}"))?;
    let after = pitchfork.memory();
    let growth = after.peak.saturating_sub(before.rss);
    println!("\n| large message | value |\n|---|---:|");
    println!(
        "| message size | {:.1} MiB |",
        mail.size as f64 / 1_048_576.0
    );
    println!(
        "| bytes sent before `skip` was honoured | {:.2} MiB |",
        written as f64 / 1_048_576.0
    );
    println!(
        "| skip received / SCAN_TRUNCATED in verdict | {} / {} |",
        outcome.skipped, outcome.truncated
    );
    println!("| RSS before | {:.1} MiB |", mib(before.rss));
    println!(
        "| peak RSS during the message | {:.1} MiB |",
        mib(after.peak)
    );
    println!(
        "| peak growth | {:.2} MiB = {:.2} × max_scan_bytes |",
        mib(growth),
        (growth * 1024) as f64 / options.max_scan_bytes as f64
    );
    Ok(())
}

async fn one_message<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    plan: &Plan,
    encoded: &Encoded,
) -> std::io::Result<(Outcome, u64)> {
    let (mut conversation, _) = Conversation::open(stream).await?;
    conversation.steps(&plan.connection).await?;
    let outcome = conversation.steps(encoded).await?;
    let written = conversation.written;
    conversation.quit().await?;
    Ok((outcome, written))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
