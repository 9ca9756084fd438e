//! The `pitchfork` binary: parse the command line, load the configuration,
//! set up logging and hand over to a command.

use clap::{Parser, Subcommand};
use pitchfork::{
    commands::{self, EXIT_ERROR, EXIT_OK, check::Format},
    config::{Backend, SocketSpec},
    engine::Engine,
    logging,
    state::{self, Label, Store},
};
use std::{path::PathBuf, process::ExitCode, sync::Arc};

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
        /// Folders of honest cold sales, sales with no partnership framing
        /// (repeatable): legitimate to the model, but their words weigh
        /// less than other legitimate mail's (see README, "The learned
        /// model").
        #[arg(long)]
        cold: Vec<PathBuf>,
        /// A labels file with `path` and `category` columns (tab-separated,
        /// paths relative to it): its pitches also train the category
        /// model.
        #[arg(long)]
        categories: Option<PathBuf>,
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
    /// Teach the site's learned statistics (the LEARNED test) what users
    /// filed as pitches or as legitimate mail, or show the state store.
    ///
    /// Exit status: 0 on success, 2 on an error (unreadable message, state
    /// store unavailable).
    #[command(group(clap::ArgGroup::new("what").required(true).args(["pitch", "legit", "stats"])))]
    Learn {
        /// Configuration file (its `state` is the store written to).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The messages are pitches.
        #[arg(long)]
        pitch: bool,
        /// The messages are legitimate mail.
        #[arg(long)]
        legit: bool,
        /// Show what the state store holds instead.
        #[arg(long, conflicts_with_all = ["pitch", "legit", "paths"])]
        stats: bool,
        /// Messages: files, directories (searched for *.eml), or - for stdin.
        #[arg(required_unless_present = "stats")]
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
        | Command::Train { config, .. }
        | Command::Eval { config, .. }
        | Command::Learn { config, .. }
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
            let store = check_store(&engine);
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            ExitCode::from(commands::check::run(
                &engine,
                store.as_ref(),
                &paths,
                format,
                &mut out,
            ))
        }
        Command::Learn {
            pitch,
            stats,
            paths,
            ..
        } => {
            let config = &engine.config.state;
            let store = match state::handle::open(&config.backend, config.timeout, true) {
                Ok(Some(store)) => store,
                Ok(None) => {
                    eprintln!("pitchfork: no state store configured (state is empty)");
                    return ExitCode::from(EXIT_ERROR);
                }
                Err(e) => {
                    eprintln!("pitchfork: {e}");
                    return ExitCode::from(EXIT_ERROR);
                }
            };
            let mut out = std::io::stdout().lock();
            let status = if stats {
                commands::learn::stats(&engine, store.as_ref(), &mut out)
            } else {
                let label = if pitch { Label::Pitch } else { Label::Legit };
                commands::learn::run(&engine, store.as_ref(), label, &paths, &mut out)
            };
            ExitCode::from(status)
        }
        Command::Train {
            pitch,
            legit,
            cold,
            categories,
            out,
            ..
        } => match commands::train::run(
            &engine,
            [&pitch, &legit, &cold],
            categories.as_deref(),
            &out,
        ) {
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

/// The state store `check` reads, if one is configured and there: a state
/// file is never created by `check`, and one that does not exist yet means
/// nothing is known. A store that fails is reported and left out.
fn check_store(engine: &Engine) -> Option<Arc<dyn Store>> {
    let config = &engine.config.state;
    if let Backend::File(path) = &config.backend
        && !path.exists()
    {
        return None;
    }
    state::handle::open(&config.backend, config.timeout, false)
        .map_err(|e| eprintln!("pitchfork: {e}; scoring without the stateful tests"))
        .ok()
        .flatten()
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
