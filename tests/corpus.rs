//! The golden corpus (`tests/corpus`, see its README): every message judged
//! with LF and with CRLF line endings through the daemon's own path, and
//! floors under detection and ceilings over false positives on the
//! held-out split, which training never sees. Where the real-mail corpus
//! beside the repository is present (`../shared/corpus/real`), its false
//! positives are held under a ceiling too.
//!
//! The floors and ceilings are the measured figures of the shipped rules
//! and model, rounded against us: a change may improve on them, not fall
//! behind without this test saying so.

use pitchfork::{action::Verdict, engine::Engine, session::Session};
use std::path::{Path, PathBuf};

/// Held-out pitches flagged, at least: a guard against regressions, far
/// below the 97 % target. It follows the split, which grows with each
/// wave of harder mail: b156–b161 (images instead of any partner word, in
/// eight languages) took the shipped detector from 79.0 % to 77.9 %, and
/// b172–b189 (more of them, and short notes from trades) to 76.7 %;
/// `legit_words` 180 instead of 120 (b196–b201) gave 1.5 % of the
/// pitches for 30 % fewer false positives, at 76.7 %.
const HELDOUT_RECALL_FLOOR: f64 = 0.76;
/// Held-out legitimate messages flagged, at most: 0.44–0.49 % since
/// `legit_words` 180, under the 0.5 % target, with room for the one or
/// two messages near the threshold a retrain moves either way.
const HELDOUT_FALSE_POSITIVE_CEILING: f64 = 0.006;
/// Held-out honest cold sales flagged, at most: they are not the target,
/// but a sale with every mark of a pitch except the framing is the
/// closest thing to one. 5 % until 28,027 messages, where 800 more
/// ordinary legitimate messages (b328–b337) left 20 of 391 flagged
/// (5.1 %) whatever the words' worth; a retrain moves one or two.
const HELDOUT_COLD_CEILING: f64 = 0.06;
/// Real legitimate mail flagged, at most: 4 or 5 of 4,351 since
/// `legit_words` 180 (the 0.1 % target is 4); five still pass, six fail.
const REAL_FALSE_POSITIVE_CEILING: f64 = 0.0012;
/// Flagged held-out pitches whose category agrees with their label, at
/// least: 90.9 % since the categories count equally in training (88.4 %
/// before, at 30,107 messages).
const HELDOUT_CATEGORY_FLOOR: f64 = 0.89;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
}

fn judge(engine: &Engine, raw: &[u8]) -> (Verdict, f64) {
    let session = Session::from_bytes(raw, engine.config.max_scan_bytes);
    let decision = session.judge(engine).expect("judged without panic");
    (decision.verdict, decision.score)
}

fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 20);
    for &b in raw {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Judges a folder with both line endings, asserting they agree; returns
/// the flagged files and the number judged.
fn flagged_in(engine: &Engine, dir: &Path) -> (Vec<String>, usize) {
    let files = eml_files(dir);
    let mut flagged = Vec::new();
    for path in &files {
        let raw = std::fs::read(path).unwrap();
        let lf = judge(engine, &raw);
        let crlf = judge(engine, &crlf(&raw));
        assert_eq!(lf, crlf, "{}: LF and CRLF disagree", path.display());
        if lf.0 == Verdict::Pitch {
            flagged.push(format!("{} ({:.2})", path.display(), lf.1));
        }
    }
    (flagged, files.len())
}

/// The rows of the corpus's labels: each a map from column to value.
fn label_rows() -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(corpus().join("labels.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .map(|line| {
            header
                .iter()
                .zip(line.split('\t'))
                .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

#[test]
fn the_corpus_varies_as_a_real_inbox_does() {
    let rows = label_rows();
    let n = rows.len() as f64;
    let share = |keep: &dyn Fn(&std::collections::HashMap<String, String>) -> bool| {
        rows.iter().filter(|r| keep(r)).count() as f64 / n
    };
    let tagged = |tag: &'static str| {
        move |r: &std::collections::HashMap<String, String>| r["tags"].split(',').any(|t| t == tag)
    };
    let non_english = share(&|r| r["language"] != "en");
    assert!(non_english >= 0.10, "non-English {non_english:.3}");
    let obfuscated = share(&tagged("obfuscated"));
    assert!(obfuscated >= 0.05, "obfuscated {obfuscated:.3}");
    let hard = rows
        .iter()
        .filter(|r| r["label"] == "legit" && tagged("hard-negative")(r))
        .count();
    assert!(hard >= 120, "{hard} hard negatives");
    for tag in [
        "html-only",
        "multipart",
        "base64",
        "quoted-printable",
        "iso-8859-1",
        "iso-8859-2",
        "windows-1252",
        "follow-up",
        "non-native",
    ] {
        assert!(share(&tagged(tag)) > 0.0, "no message tagged {tag}");
    }
}

#[test]
fn the_corpus_is_as_large_as_documented() {
    let count = |split: &str, label: &str| eml_files(&corpus().join(split).join(label)).len();
    let pitches = count("train", "pitch") + count("heldout", "pitch");
    let legit = count("train", "legit") + count("heldout", "legit");
    let cold = count("train", "cold") + count("heldout", "cold");
    assert!(
        pitches >= 300 && legit >= 300 && cold >= 40,
        "{pitches} {legit} {cold}"
    );
}

#[test]
fn held_out_pitches_are_flagged() {
    let engine = Engine::load(None).unwrap();
    let (flagged, total) = flagged_in(&engine, &corpus().join("heldout/pitch"));
    let recall = flagged.len() as f64 / total as f64;
    assert!(
        recall >= HELDOUT_RECALL_FLOOR,
        "recall {recall:.3} ({}/{total}) under {HELDOUT_RECALL_FLOOR}",
        flagged.len()
    );
}

/// Asserts that at most `ceiling` of the held-out messages in `split`
/// (`legit`, `cold`) are flagged, naming them if more are.
fn assert_flagged_at_most(split: &str, ceiling: f64) {
    let engine = Engine::load(None).unwrap();
    let (flagged, total) = flagged_in(&engine, &corpus().join("heldout").join(split));
    let rate = flagged.len() as f64 / total as f64;
    assert!(
        rate <= ceiling,
        "{}/{total} flagged:\n{}",
        flagged.len(),
        flagged.join("\n")
    );
}

#[test]
fn held_out_legitimate_mail_is_rarely_flagged() {
    assert_flagged_at_most("legit", HELDOUT_FALSE_POSITIVE_CEILING);
}

#[test]
fn held_out_cold_sales_are_mostly_let_through() {
    assert_flagged_at_most("cold", HELDOUT_COLD_CEILING);
}

/// The category of each message in the corpus's labels, by path.
fn labelled_categories() -> std::collections::HashMap<PathBuf, String> {
    label_rows()
        .into_iter()
        .map(|r| (corpus().join(&r["path"]), r["category"].clone()))
        .collect()
}

#[test]
fn heldout_pitches_are_put_in_their_category() {
    let engine = Engine::load(None).unwrap();
    let labels = labelled_categories();
    let (mut flagged, mut agree) = (0, Vec::new());
    for path in eml_files(&corpus().join("heldout/pitch")) {
        let raw = std::fs::read(&path).unwrap();
        let session = Session::from_bytes(&raw, engine.config.max_scan_bytes);
        let decision = session.judge(&engine).expect("judged without panic");
        if decision.verdict == Verdict::Pitch {
            flagged += 1;
            let label = labels.get(&path).map(String::as_str);
            assert!(label.is_some(), "{} has no label", path.display());
            if label == decision.category() {
                agree.push(path);
            }
        }
    }
    let rate = agree.len() as f64 / flagged as f64;
    assert!(
        rate >= HELDOUT_CATEGORY_FLOOR,
        "categories agree on {rate:.3} ({}/{flagged}), under {HELDOUT_CATEGORY_FLOOR}",
        agree.len()
    );
}

#[test]
fn training_split_agrees_on_lf_and_crlf() {
    let engine = Engine::load(None).unwrap();
    for label in ["pitch", "legit", "cold"] {
        let (_, total) = flagged_in(&engine, &corpus().join("train").join(label));
        assert!(total > 0, "train/{label} is empty");
    }
}

/// Real mail written by others, kept outside the repository. A clone
/// without it says so loudly; CI has it, and there the test must pass.
#[test]
fn real_legitimate_mail_is_rarely_flagged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/real");
    let labels = root.join("labels.tsv");
    if !labels.exists() {
        eprintln!(
            "SKIPPED: {} is absent; false positives on real mail not measured",
            root.display()
        );
        return;
    }
    let engine = Engine::load(None).unwrap();
    let text = std::fs::read_to_string(&labels).unwrap();
    let (mut legit, mut false_positives) = (0, Vec::new());
    for line in text.lines().skip(1) {
        let mut fields = line.split('\t');
        let (Some(path), Some("legit")) = (fields.next(), fields.next()) else {
            continue;
        };
        legit += 1;
        let raw = std::fs::read(root.join(path)).unwrap();
        if judge(&engine, &raw).0 == Verdict::Pitch {
            false_positives.push(path.to_owned());
        }
    }
    assert!(legit > 1000, "only {legit} legitimate messages listed");
    let rate = false_positives.len() as f64 / legit as f64;
    assert!(
        rate <= REAL_FALSE_POSITIVE_CEILING,
        "{} of {legit} flagged:\n{}",
        false_positives.len(),
        false_positives.join("\n")
    );
}
