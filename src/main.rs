//! The `pitchfork` binary: parse the command line, load the configuration,
//! set up logging and hand over to a command.

use clap::{Parser, Subcommand};
use pitchfork::{
    commands::{self, EXIT_ERROR, EXIT_OK, check::Format},
    config::SocketSpec,
    engine::Engine,
};
use std::{path::PathBuf, process::ExitCode};
use tracing_subscriber::EnvFilter;

/// A milter that flags sales pitches dressed up as partnership offers.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the milter daemon.
    Serve {
        /// Configuration file; without it the built-in defaults serve.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Socket to listen on, overriding the configuration
        /// (inet:PORT@HOST, inet6:PORT@HOST, unix:/path).
        #[arg(long)]
        socket: Option<SocketSpec>,
    },
    /// Score .eml files the way the daemon would and explain the verdicts.
    ///
    /// Exit status: 0 when no message was flagged, 1 when at least one was,
    /// 2 on an error (unreadable file, invalid configuration).
    Check {
        /// Configuration file; without it the built-in defaults apply.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Messages: files, directories (searched for *.eml), or - for stdin.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Validate a configuration and its rule file.
    ///
    /// Exit status: 0 when valid, 2 when not, with every error listed.
    CheckConfig {
        /// Configuration file; without it the built-in defaults are checked.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config_path = match &cli.command {
        Command::Serve { config, .. }
        | Command::Check { config, .. }
        | Command::CheckConfig { config } => config.clone(),
    };
    let engine = match Engine::load(config_path.as_deref()) {
        Ok(engine) => engine,
        Err(errors) => {
            eprintln!("pitchfork: {errors}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match cli.command {
        Command::Serve { socket, .. } => serve(engine, socket),
        Command::Check { format, paths, .. } => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            ExitCode::from(commands::check::run(&engine, &paths, format, &mut out))
        }
        Command::CheckConfig { .. } => {
            println!("configuration is valid");
            ExitCode::from(EXIT_OK)
        }
    }
}

fn serve(engine: Engine, socket: Option<SocketSpec>) -> ExitCode {
    // RUST_LOG, when set, overrides the configured level.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,pitchfork={}", engine.config.log_level)));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pitchfork: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match runtime.block_on(commands::serve::run(engine, socket)) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
