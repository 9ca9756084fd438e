//! `pitchfork learn`: count messages a user filed as pitches or as
//! legitimate into the site's learned statistics (the `LEARNED` test),
//! and `--stats` to show what the state store holds.
//!
//! A message is known by its Message-ID (else by its words), so learning
//! it again changes nothing and learning it with the other label moves it
//! over: a message moved out of the Pitches folder unlearns the pitch.

use super::{EXIT_ERROR, EXIT_OK};
use crate::{
    engine::{Engine, learned_features},
    session::{Session, isolate},
    state::{Label, Learned, Stats, Store, envelope::Envelope},
};
use std::{
    io::{self, Write},
    path::PathBuf,
};

/// What one run learned.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub new: u64,
    pub relabelled: u64,
    pub already: u64,
}

/// Learns every message under `paths` with `label`; prints a summary.
/// Returns the exit status: 0, or 2 when a message could not be read or
/// the store failed (what was learned before stays learned).
pub fn run(
    engine: &Engine,
    store: &dyn Store,
    label: Label,
    paths: &[PathBuf],
    out: &mut impl Write,
) -> u8 {
    let mut summary = Summary::default();
    let mut failed = false;
    for path in paths {
        let result = super::for_each_message(path, &mut |_, raw| {
            let outcome = learn_one(engine, store, label, raw)?;
            match outcome {
                Learned::New => summary.new += 1,
                Learned::Relabelled => summary.relabelled += 1,
                Learned::Already => summary.already += 1,
            }
            Ok(())
        });
        if let Err(e) = result {
            failed = true;
            eprintln!("pitchfork: {}: {e}", path.display());
        }
    }
    let written = writeln!(
        out,
        "learned as {}: {} new, {} moved from the other label, {} already learned",
        label.as_str(),
        summary.new,
        summary.relabelled,
        summary.already
    );
    if failed || written.is_err() {
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}

/// Learns one raw message.
pub fn learn_one(
    engine: &Engine,
    store: &dyn Store,
    label: Label,
    raw: &[u8],
) -> io::Result<Learned> {
    let session = Session::from_bytes(raw, engine.config.max_scan_bytes);
    let features = isolate(|| learned_features(&session.view())).map_err(io::Error::other)?;
    let id = match Envelope::scan(raw).message_id {
        Some(id) => format!("id:{id}"),
        // FNV-1a over the features: stable across builds and runs.
        None => {
            let hash = features
                .iter()
                .flat_map(|f| f.to_le_bytes())
                .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                    (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
                });
            format!("words:{hash:016x}")
        }
    };
    store.learn(&id, label, &features).map_err(io::Error::other)
}

/// Prints what the store holds.
pub fn stats(engine: &Engine, store: &dyn Store, out: &mut impl Write) -> u8 {
    let stats = match store.stats() {
        Ok(stats) => stats,
        Err(e) => {
            eprintln!("pitchfork: {e}");
            return EXIT_ERROR;
        }
    };
    match write_stats(engine, &stats, out) {
        Ok(()) => EXIT_OK,
        Err(_) => EXIT_ERROR,
    }
}

fn write_stats(engine: &Engine, stats: &Stats, out: &mut impl Write) -> io::Result<()> {
    let config = &engine.config.state;
    let min = config.min_learns;
    writeln!(out, "state store:          {}", config.backend)?;
    writeln!(out, "learned pitches:      {}", stats.learned.pitch)?;
    writeln!(out, "learned legitimate:   {}", stats.learned.legit)?;
    let active = stats.learned.pitch >= min && stats.learned.legit >= min;
    let status = if active {
        "active".to_owned()
    } else {
        format!("inactive until {min} of each are learned (learning.min_learns)")
    };
    writeln!(out, "LEARNED test:         {status}")?;
    writeln!(out, "word statistics:      {}", stats.features)?;
    writeln!(out, "sent messages known:  {}", stats.sent_messages)?;
    writeln!(out, "correspondents known: {}", stats.correspondents)?;
    match stats.history_since {
        Some(since) => {
            let days = crate::state::now().saturating_sub(since) / 86_400;
            writeln!(out, "outbound recorded:    for {days} days")?;
        }
        None => writeln!(out, "outbound recorded:    never")?,
    }
    Ok(())
}
