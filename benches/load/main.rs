//! pitchfork's load tool. It drives milters the way Postfix 3.7 does
//! (protocol 6, actions 0x1ff and protocol flags 0x1fffff offered; the
//! steps, no-reply flags, macros and `skip` the milter negotiates are
//! honoured) and measures:
//!
//! * `throughput`: msgs/s and latency of `pitchfork serve` at several
//!   concurrency levels, alternating with a do-nothing milter that
//!   negotiates the same, so each figure comes with its ceiling;
//! * `memory`: pitchfork's RSS with many connections held mid-message, and
//!   its growth over one very large message;
//! * `postfix`: messages/s through a real, private Postfix with pitchfork
//!   on a unix and an inet socket (needs root, postfix).
//!
//! Every run is bounded in messages and time, starts its milters itself
//! and stops them by PID. Run it with `cargo bench --bench load -- COMMAND`
//! (`--help` lists the options). Nothing here asserts a time: CI only
//! compiles it.

mod client;
mod corpus;
mod daemon;
mod drive;
mod e2e;
mod memory;
mod noop;
mod proto;
mod smtp;
mod stats;
mod throughput;

// The private Postfix of the end-to-end tests; this binary uses part of it.
#[allow(dead_code)]
#[path = "../../tests/common/postfix.rs"]
mod postfix;
// What the MTA harnesses share, which postfix.rs uses.
#[allow(dead_code)]
#[path = "../../tests/common/mta.rs"]
mod mta;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Load, memory and end-to-end measurements of pitchfork")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true, global = true)]
    bench: bool,
}

/// `throughput` with its defaults, for a bare `cargo bench`.
#[derive(Parser)]
struct Defaults {
    #[command(flatten)]
    options: throughput::Options,
}

#[derive(Subcommand)]
enum Command {
    /// msgs/s and latency against the do-nothing ceiling (the default).
    Throughput(throughput::Options),
    /// RSS with many connections mid-message and over one huge message.
    Memory(memory::Options),
    /// msgs/s through a private Postfix, unix and inet milter sockets.
    Postfix(e2e::Options),
    /// The do-nothing milter (started by the other commands).
    #[command(hide = true)]
    Noop(NoopArgs),
}

#[derive(clap::Args)]
struct NoopArgs {
    #[arg(long)]
    socket: pitchfork::config::SocketSpec,
    /// The OPTNEG reply payload to send, in hex.
    #[arg(long)]
    optneg: String,
    #[arg(long, value_enum)]
    flavor: noop::Flavor,
    #[arg(long)]
    plain_tcp: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => throughput::run(&Defaults::parse_from(["load"]).options),
        Some(Command::Throughput(options)) => throughput::run(&options),
        Some(Command::Memory(options)) => memory::run(&options),
        Some(Command::Postfix(options)) => e2e::run(&options),
        Some(Command::Noop(args)) => noop_main(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::FAILURE
        }
    }
}

fn noop_main(args: NoopArgs) -> Result<(), String> {
    let payload = daemon::unhex(&args.optneg)?;
    let negotiated = proto::Negotiated::parse(&payload)?;
    noop::serve(noop::Settings {
        socket: args.socket,
        negotiated,
        flavor: args.flavor,
        plain_tcp: args.plain_tcp,
    })
}
