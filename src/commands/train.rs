//! `pitchfork train`: fits the learned model on labelled folders and writes
//! a model file. The same folders give the same file, byte for byte.

use crate::{
    engine::Engine,
    score::{
        category::NAMES,
        train::{Label, Options, Sample, train},
    },
    session::Session,
};
use anyhow::Context as _;
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

/// Reads every message under the folders of pitches, legitimate mail and
/// cold sales (in that order, each in name order), fits a model and writes
/// it to `out`. With `categories`, a labels file with `path` and
/// `category` columns, the pitches it names also train the category model.
pub fn run(
    engine: &Engine,
    [pitch, legit, cold]: [&[PathBuf]; 3],
    categories: Option<&Path>,
    out: &Path,
) -> anyhow::Result<()> {
    let options = Options {
        flag: engine.config.thresholds.flag,
        ..Options::default()
    };
    let given = categories.is_some();
    let categories = match categories {
        Some(file) => read_categories(file)
            .with_context(|| format!("cannot read categories from {}", file.display()))?,
        None => HashMap::new(),
    };
    let mut samples = Vec::new();
    let mut categorised = 0;
    for (dirs, label) in [
        (pitch, Label::Pitch),
        (legit, Label::Legit),
        (cold, Label::Cold),
    ] {
        for dir in dirs {
            super::for_each_message(dir, &mut |name, raw| {
                let view = Session::from_bytes(raw, engine.config.max_scan_bytes).view();
                let mut sample = Sample::new(&engine.rules, &view, label, &options);
                let category = (label == Label::Pitch && !categories.is_empty())
                    .then(|| std::fs::canonicalize(name).ok())
                    .flatten()
                    .and_then(|path| categories.get(&path));
                if let Some(category) = category {
                    sample = sample
                        .with_category(category)
                        .expect("read_categories keeps only known categories");
                    categorised += 1;
                }
                samples.push(sample);
                Ok(())
            })
            .with_context(|| format!("cannot read {}", dir.display()))?;
        }
    }
    anyhow::ensure!(
        !given || categorised > 0,
        "no pitch under the --pitch folders has a category in the --categories file"
    );
    let model = train(&samples, &engine.rules, &options);
    let legit = model.trained.legit + model.trained.cold;
    anyhow::ensure!(
        model.trained.pitch > 0 && legit > 0,
        "need at least one pitch and one legitimate message (got {} and {legit})",
        model.trained.pitch,
    );
    std::fs::write(out, model.to_json())
        .with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "trained on {} pitches, {} legitimate messages and {} cold sales: {} named tests, {} word features; wrote {}",
        model.trained.pitch,
        model.trained.legit,
        model.trained.cold,
        model.rules.len(),
        model.words.len(),
        out.display()
    );
    if let Some(c) = &model.categories {
        eprintln!(
            "categories from {categorised} pitches: {} ({} word features)",
            c.names.join(", "),
            c.words.len()
        );
    }
    Ok(())
}

/// The category of each pitch a labels file names (by its canonical path;
/// paths are relative to the file). The first line names the columns,
/// `path` and `category` among them; `-` or an empty field is no category.
fn read_categories(file: &Path) -> anyhow::Result<HashMap<PathBuf, String>> {
    let text = std::fs::read_to_string(file)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, line)| line.split('\t').collect())
        .unwrap_or_default();
    let column = |name: &str| header.iter().position(|c| *c == name);
    let (Some(path_at), Some(category_at)) = (column("path"), column("category")) else {
        anyhow::bail!("line 1: expected a header with `path` and `category` columns");
    };
    let mut categories = HashMap::new();
    for (i, line) in lines.filter(|(_, line)| !line.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (Some(path), Some(category)) = (fields.get(path_at), fields.get(category_at)) else {
            anyhow::bail!("line {}: fewer columns than the header", i + 1);
        };
        if matches!(*category, "" | "-") {
            continue;
        }
        anyhow::ensure!(
            NAMES.contains(category),
            "line {}: `{category}` is not one of {}",
            i + 1,
            NAMES.join(", ")
        );
        // A path that does not exist names no message read here.
        if let Ok(path) = std::fs::canonicalize(base.join(path)) {
            categories.insert(path, (*category).to_owned());
        }
    }
    Ok(categories)
}
