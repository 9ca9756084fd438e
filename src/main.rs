//! The `pitchfork` binary: parse the command line, load the configuration,
//! set up logging and hand over to a command.

use clap::{Parser, Subcommand};
use pitchfork::{
    commands::{self, EXIT_ERROR, EXIT_OK, check::Format},
    config::SocketSpec,
    engine::Engine,
    logging,
};
use std::{path::PathBuf, process::ExitCode};

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
    /// Fit the learned model on labelled folders and write a model file.
    Train {
        /// Configuration file (its rules are the model's named tests).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Folders of pitches (repeatable).
        #[arg(long, required = true)]
        pitch: Vec<PathBuf>,
        /// Folders of legitimate mail (repeatable).
        #[arg(long, required = true)]
        legit: Vec<PathBuf>,
        /// Where to write the model.
        #[arg(long, default_value = "model.json")]
        out: PathBuf,
    },
    /// Measure detection on labelled mail: confusion matrix, precision,
    /// recall, false-positive rate, per-test counts, score distributions.
    Eval {
        /// Configuration file; without it the built-in defaults apply.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Folders of pitches (repeatable).
        #[arg(long, required_unless_present = "labels")]
        pitch: Vec<PathBuf>,
        /// Folders of legitimate mail (repeatable).
        #[arg(long, required_unless_present = "labels")]
        legit: Vec<PathBuf>,
        /// A labels file (`path<TAB>label`, paths relative to it) instead
        /// of folders.
        #[arg(long, conflicts_with_all = ["pitch", "legit"])]
        labels: Option<PathBuf>,
        /// Also write a self-contained HTML page with the histograms.
        #[arg(long)]
        html: Option<PathBuf>,
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
        | Command::Train { config, .. }
        | Command::Eval { config, .. }
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
        Command::Serve { socket, .. } => serve(engine, socket, config_path),
        Command::Check { format, paths, .. } => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            ExitCode::from(commands::check::run(&engine, &paths, format, &mut out))
        }
        Command::Train {
            pitch, legit, out, ..
        } => match commands::train::run(&engine, &pitch, &legit, &out) {
            Ok(()) => ExitCode::from(EXIT_OK),
            Err(e) => {
                eprintln!("pitchfork: {e:#}");
                ExitCode::from(EXIT_ERROR)
            }
        },
        Command::Eval {
            pitch,
            legit,
            labels,
            html,
            ..
        } => {
            let sources = match labels {
                Some(file) => commands::eval::Sources::Labels(file),
                None => commands::eval::Sources::Folders { pitch, legit },
            };
            let mut out = std::io::stdout().lock();
            ExitCode::from(commands::eval::run(
                &engine,
                &sources,
                html.as_deref(),
                &mut out,
            ))
        }
        Command::CheckConfig { .. } => {
            println!("configuration is valid");
            ExitCode::from(EXIT_OK)
        }
    }
}

fn serve(engine: Engine, socket: Option<SocketSpec>, config_path: Option<PathBuf>) -> ExitCode {
    let log = logging::init(&engine.config);
    // A panic's text may quote message content (a string slice of it, say):
    // log where it happened, and the text at debug only.
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(ToString::to_string).unwrap_or_default();
        tracing::error!(%location, "internal error (panic)");
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::debug!(%payload, "panic text");
    }));
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pitchfork: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let options = commands::serve::Options {
        config_path,
        socket,
        log,
    };
    match runtime.block_on(commands::serve::run(engine, options)) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
