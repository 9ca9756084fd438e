//! `pitchfork train`: fits the learned model on labelled folders and writes
//! a model file. The same folders give the same file, byte for byte.

use crate::{
    engine::Engine,
    score::train::{Options, Sample, train},
    session::Session,
};
use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// Reads every message under `pitch` and `legit` (in that order, each in
/// name order), fits a model and writes it to `out`.
pub fn run(
    engine: &Engine,
    pitch: &[PathBuf],
    legit: &[PathBuf],
    out: &Path,
) -> anyhow::Result<()> {
    let options = Options {
        flag: engine.config.thresholds.flag,
        ..Options::default()
    };
    let mut samples = Vec::new();
    for (dirs, is_pitch) in [(pitch, true), (legit, false)] {
        for dir in dirs {
            super::for_each_message(dir, &mut |_, raw| {
                let view = Session::from_bytes(raw, engine.config.max_scan_bytes).view();
                samples.push(Sample::new(&engine.rules, &view, is_pitch, &options));
                Ok(())
            })
            .with_context(|| format!("cannot read {}", dir.display()))?;
        }
    }
    let model = train(&samples, &engine.rules, &options);
    anyhow::ensure!(
        model.trained.pitch > 0 && model.trained.legit > 0,
        "need at least one pitch and one legitimate message (got {} and {})",
        model.trained.pitch,
        model.trained.legit
    );
    std::fs::write(out, model.to_json())
        .with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "trained on {} pitches and {} legitimate messages: {} named tests, {} word features; wrote {}",
        model.trained.pitch,
        model.trained.legit,
        model.rules.len(),
        model.words.len(),
        out.display()
    );
    Ok(())
}
