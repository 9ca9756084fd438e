//! `pitchfork check`: judges .eml files through the daemon's own path
//! (session, parse, normalise, score, decide) and explains each verdict.

use super::{EXIT_ERROR, EXIT_FLAGGED, EXIT_OK};
use crate::{
    action::{Decision, Verdict},
    engine::{Ask, Engine},
    session::{Session, isolate},
    state::{self, Query, Store},
};
use serde::Serialize;
use std::{
    io::{self, Write},
    path::PathBuf,
    sync::Arc,
};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An explanation for a person.
    Text,
    /// One JSON object per message per line.
    Json,
}

#[derive(Serialize)]
struct JsonVerdict<'a> {
    path: &'a str,
    score: f64,
    verdict: &'static str,
    action: &'static str,
    tests: Vec<JsonTest<'a>>,
    headers: &'a [(String, String)],
}

#[derive(Serialize)]
struct JsonTest<'a> {
    name: &'a str,
    score: f64,
}

/// Judges every message under `paths` and writes the verdicts to `out`,
/// asking `store` (if any) what the daemon would ask it. Returns the exit
/// status: 0 none flagged, 1 some flagged, 2 an error.
pub fn run(
    engine: &Engine,
    store: Option<&Arc<dyn Store>>,
    paths: &[PathBuf],
    format: Format,
    out: &mut impl Write,
) -> u8 {
    let mut flagged = false;
    let mut failed = false;
    let mut store = store.cloned();
    let now = state::now();
    let retention = engine.config.state.retention.as_secs();
    // Whether the store has learned enough for `LEARNED`: the daemon knows
    // it from the store's last answer, this from a first question.
    let counts = Query {
        min_learns: engine.config.state.min_learns,
        ..Query::default()
    };
    let learning = match store.as_ref().map(|s| s.lookup(&counts, now, retention)) {
        Some(Ok(known)) => known.learned.each_at_least(counts.min_learns),
        Some(Err(e)) => {
            eprintln!("pitchfork: {e}; scoring without the stateful tests");
            store = None;
            false
        }
        None => false,
    };
    // A failed write to `out` ends the run: the output is gone (a reader
    // such as `head` closed it), so judging more messages is pointless.
    let mut lost_output = None;
    for path in paths {
        let result = super::for_each_message(path, &mut |name, raw| {
            if lost_output.is_some() {
                return Ok(());
            }
            let session = Session::from_bytes(raw, engine.config.max_scan_bytes);
            let ask = store.is_some().then_some(Ask {
                sender: None,
                learned: learning,
                regardless: false,
            });
            let mut prepared = session.prepare(engine, ask).map_err(io::Error::other)?;
            // Asked, as the daemon asks, only when the answer could change
            // the verdict.
            let known = match (&store, prepared.query.take()) {
                (Some(s), Some(query)) => match s.lookup(&query, now, retention) {
                    Ok(known) => Some(known),
                    Err(e) => {
                        // One failure is reported; the rest go without
                        // the store.
                        eprintln!("pitchfork: {e}; scoring without the stateful tests");
                        store = None;
                        None
                    }
                },
                _ => None,
            };
            let decision = isolate(|| engine.decide(prepared, known.as_ref(), now))
                .map_err(io::Error::other)?;
            flagged |= decision.verdict == Verdict::Pitch;
            if let Err(e) = write_verdict(out, engine, name, &decision, format) {
                lost_output = Some(e);
            }
            Ok(())
        });
        if let Some(e) = lost_output {
            report_lost(&e);
            return EXIT_ERROR;
        }
        if let Err(e) = result {
            failed = true;
            eprintln!("pitchfork: {}: {e}", path.display());
        }
    }
    // Whatever is still buffered must reach the reader too: a verdict
    // lost at the last flush is an error, not a success.
    if let Err(e) = out.flush() {
        report_lost(&e);
        return EXIT_ERROR;
    }
    match (failed, flagged) {
        (true, _) => EXIT_ERROR,
        (false, true) => EXIT_FLAGGED,
        (false, false) => EXIT_OK,
    }
}

/// Reports verdicts that could not be written, unless the reader closed
/// the pipe (its own choice, as `head` does).
fn report_lost(e: &io::Error) {
    if e.kind() != io::ErrorKind::BrokenPipe {
        eprintln!("pitchfork: cannot write the verdicts: {e}");
    }
}

fn write_verdict(
    out: &mut impl Write,
    engine: &Engine,
    path: &str,
    decision: &Decision,
    format: Format,
) -> io::Result<()> {
    match format {
        Format::Json => {
            let json = JsonVerdict {
                path,
                score: decision.score,
                verdict: decision.verdict.as_str(),
                action: decision.action.as_str(),
                tests: decision
                    .hits
                    .iter()
                    .map(|h| JsonTest {
                        name: &h.name,
                        score: h.score,
                    })
                    .collect(),
                headers: &decision.headers,
            };
            serde_json::to_writer(&mut *out, &json)?;
            writeln!(out)
        }
        Format::Text => write_text(out, engine, path, decision),
    }
}

fn write_text(
    out: &mut impl Write,
    engine: &Engine,
    path: &str,
    decision: &Decision,
) -> io::Result<()> {
    let thresholds = engine.config.thresholds;
    let verdict = match decision.verdict {
        Verdict::Pitch => "PITCH",
        Verdict::Clean => "clean",
    };
    writeln!(
        out,
        "{path}: {verdict}, score {:.2} (flagged at {:.2}), action {}",
        decision.score,
        thresholds.flag,
        decision.action.as_str()
    )?;
    for hit in &decision.hits {
        let description = engine.rules.test(&hit.name).map_or("", |t| &t.description);
        write!(out, "  {:>6.2}  {:<20} {description}", hit.score, hit.name)?;
        match &hit.evidence {
            Some(evidence) => writeln!(out, " (\"{evidence}\")")?,
            None => writeln!(out)?,
        }
    }
    if decision.hits.is_empty() {
        writeln!(out, "  no test hit")?;
    }
    Ok(())
}
