//! `pitchfork eval`: how the configured rules, model and thresholds do on
//! labelled mail — confusion matrix, precision, recall, false-positive rate,
//! per-test counts and the score distributions, optionally as one HTML page.

use super::{EXIT_ERROR, EXIT_OK};
use crate::{action::Verdict, engine::Engine, session::Session};
use std::{
    collections::BTreeMap,
    fmt::Write as _,
    io::{self, Write},
    path::{Path, PathBuf},
};

/// Where the labelled messages come from.
#[derive(Clone, Debug)]
pub enum Sources {
    /// Folders of pitches and of legitimate mail.
    Folders {
        pitch: Vec<PathBuf>,
        legit: Vec<PathBuf>,
    },
    /// A tab-separated file of `path<TAB>label` (header line allowed);
    /// paths are relative to the file. `pitch` is the positive label; every
    /// other label counts as not a pitch and is also reported on its own.
    /// A header naming a `category` column adds how often flagged pitches
    /// get their labelled category.
    Labels(PathBuf),
}

/// One judged message.
#[derive(Clone, Debug)]
struct Scored {
    label: String,
    score: f64,
    flagged: bool,
    tests: Vec<String>,
    /// The labelled category and, if flagged, the one given.
    category: Option<(String, Option<String>)>,
}

/// Judges every labelled message and writes the report to `out` (and the
/// HTML page to `html`). Returns the exit status.
pub fn run(engine: &Engine, sources: &Sources, html: Option<&Path>, out: &mut impl Write) -> u8 {
    let scored = match score_all(engine, sources) {
        Ok(scored) => scored,
        Err(e) => {
            eprintln!("pitchfork: {e}");
            return EXIT_ERROR;
        }
    };
    let report = Report::new(&scored);
    let result = out
        .write_all(report.text(engine).as_bytes())
        .and_then(|()| match html {
            Some(path) => std::fs::write(path, report.html(engine)),
            None => Ok(()),
        });
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("pitchfork: {e}");
            EXIT_ERROR
        }
    }
}

fn score_all(engine: &Engine, sources: &Sources) -> io::Result<Vec<Scored>> {
    let mut scored = Vec::new();
    let mut judge = |label: &str, category: Option<&str>, raw: &[u8]| -> io::Result<()> {
        let session = Session::from_bytes(raw, engine.config.max_scan_bytes);
        let decision = session.judge(engine).map_err(io::Error::other)?;
        scored.push(Scored {
            label: label.to_owned(),
            category: category.map(|c| (c.to_owned(), decision.category().map(str::to_owned))),
            score: decision.score,
            flagged: decision.verdict == Verdict::Pitch,
            tests: decision.hits.into_iter().map(|h| h.name).collect(),
        });
        Ok(())
    };
    match sources {
        Sources::Folders { pitch, legit } => {
            for (dirs, label) in [(pitch, "pitch"), (legit, "legit")] {
                for dir in dirs {
                    super::for_each_message(dir, &mut |_, raw| judge(label, None, raw))?;
                }
            }
        }
        Sources::Labels(file) => {
            let base = file.parent().unwrap_or(Path::new("."));
            for row in read_labels(file)? {
                let raw = std::fs::read(base.join(&row.path))
                    .map_err(|e| io::Error::other(format!("{}: {e}", row.path)))?;
                judge(&row.label, row.category.as_deref(), &raw)?;
            }
        }
    }
    Ok(scored)
}

/// A row of a labels file.
#[derive(Debug, PartialEq)]
struct Labelled {
    path: String,
    label: String,
    /// Of a pitch, when the file has a `category` column and the row one.
    category: Option<String>,
}

fn read_labels(file: &Path) -> io::Result<Vec<Labelled>> {
    let text = std::fs::read_to_string(file)?;
    let mut rows = Vec::new();
    let mut category_at = None;
    for (i, line) in text.lines().enumerate() {
        let mut fields = line.split('\t');
        match (fields.next(), fields.next()) {
            (Some("path"), Some("label")) if i == 0 => {
                category_at = line.split('\t').position(|c| c == "category");
            }
            (Some(path), Some(label)) if !path.is_empty() => rows.push(Labelled {
                path: path.into(),
                label: label.into(),
                category: category_at
                    .and_then(|at| line.split('\t').nth(at))
                    .filter(|c| !matches!(*c, "" | "-") && label == "pitch")
                    .map(str::to_owned),
            }),
            _ if line.trim().is_empty() => continue,
            _ => {
                return Err(io::Error::other(format!(
                    "{}:{}: expected `path<TAB>label`",
                    file.display(),
                    i + 1
                )));
            }
        }
    }
    Ok(rows)
}

/// Counts derived from the judged messages.
struct Report<'a> {
    scored: &'a [Scored],
    /// label → (messages, flagged)
    by_label: BTreeMap<&'a str, (usize, usize)>,
    /// test → (hits on pitches, hits on the rest)
    by_test: BTreeMap<&'a str, (usize, usize)>,
}

impl<'a> Report<'a> {
    fn new(scored: &'a [Scored]) -> Self {
        let mut by_label: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        let mut by_test: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for s in scored {
            let entry = by_label.entry(&s.label).or_default();
            entry.0 += 1;
            entry.1 += usize::from(s.flagged);
            for test in &s.tests {
                let counts = by_test.entry(test).or_default();
                if s.label == "pitch" {
                    counts.0 += 1;
                } else {
                    counts.1 += 1;
                }
            }
        }
        Self {
            scored,
            by_label,
            by_test,
        }
    }

    /// (true positives, false negatives, false positives, true negatives)
    fn confusion(&self) -> (usize, usize, usize, usize) {
        let (pitches, caught) = self.by_label.get("pitch").copied().unwrap_or_default();
        let (others, flagged): (usize, usize) = self
            .by_label
            .iter()
            .filter(|(label, _)| **label != "pitch")
            .fold((0, 0), |acc, (_, (n, f))| (acc.0 + n, acc.1 + f));
        (caught, pitches - caught, flagged, others - flagged)
    }

    fn text(&self, engine: &Engine) -> String {
        let (tp, fn_, fp, tn) = self.confusion();
        let mut out = String::new();
        let flag = engine.config.thresholds.flag;
        let _ = writeln!(
            out,
            "{} messages, flag threshold {flag:.2}",
            self.scored.len()
        );
        let _ = writeln!(out, "\n               flagged  not flagged");
        let _ = writeln!(out, "  pitch      {tp:>8}  {fn_:>11}");
        let _ = writeln!(out, "  not pitch  {fp:>8}  {tn:>11}");
        let _ = writeln!(out, "\nprecision           {}", percent(tp, tp + fp));
        let _ = writeln!(out, "recall              {}", percent(tp, tp + fn_));
        let _ = writeln!(out, "false-positive rate {}", percent(fp, fp + tn));
        let _ = writeln!(out, "\nflagged by label:");
        for (label, (n, f)) in &self.by_label {
            let _ = writeln!(out, "  {label:<14} {f:>6}/{n:<6} {}", percent(*f, *n));
        }
        if let Some((agree, flagged)) = self.categories() {
            let _ = writeln!(
                out,
                "\ncategory of flagged pitches agrees with the label: {agree}/{flagged} {}",
                percent(agree, flagged)
            );
        }
        let _ = writeln!(out, "\nhits per test (pitch / not pitch, precision):");
        for (test, (p, o)) in &self.by_test {
            let _ = writeln!(out, "  {test:<24} {p:>6} {o:>6}  {}", percent(*p, p + o));
        }
        let _ = writeln!(out, "\nscore distribution (pitch | not pitch):");
        for (bucket, (p, o)) in self.histogram() {
            let _ = writeln!(out, "  {:>6.0} {:>6} | {:<6}", bucket, p, o);
        }
        out
    }

    /// Of the flagged pitches with a labelled category, how many were given
    /// it, and how many there are; `None` without any.
    fn categories(&self) -> Option<(usize, usize)> {
        let given: Vec<bool> = self
            .scored
            .iter()
            .filter_map(|s| match &s.category {
                Some((label, Some(given))) => Some(label == given),
                _ => None,
            })
            .collect();
        (!given.is_empty()).then(|| (given.iter().filter(|g| **g).count(), given.len()))
    }

    /// Messages per 1-point score bucket, for pitches and the rest.
    fn histogram(&self) -> BTreeMap<i64, (usize, usize)> {
        let mut buckets: BTreeMap<i64, (usize, usize)> = BTreeMap::new();
        for s in self.scored {
            let bucket = buckets.entry(s.score.floor() as i64).or_default();
            if s.label == "pitch" {
                bucket.0 += 1;
            } else {
                bucket.1 += 1;
            }
        }
        buckets
    }

    fn html(&self, engine: &Engine) -> String {
        let histogram = self.histogram();
        let svg = histogram_svg(&histogram, engine);
        let text = escape(&self.text(engine));
        format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>pitchfork eval</title>\
             <style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f6f6f6;padding:1em}}</style>\
             </head><body><h1>pitchfork eval</h1>\
             <p>Messages per score (1-point buckets): <span style=\"color:#c0392b\">■ pitch</span> \
             <span style=\"color:#2c7fb8\">■ not pitch</span>; dashed lines are the thresholds.</p>\
             {svg}<pre>{text}</pre></body></html>\n"
        )
    }
}

fn histogram_svg(histogram: &BTreeMap<i64, (usize, usize)>, engine: &Engine) -> String {
    let (Some(&low), Some(&high)) = (histogram.keys().next(), histogram.keys().next_back()) else {
        return String::new();
    };
    let thresholds = engine.config.thresholds;
    let low = low.min(thresholds.flag.floor() as i64) - 1;
    let high = high.max(thresholds.reject.unwrap_or(thresholds.flag).ceil() as i64) + 1;
    let tallest = histogram
        .values()
        .map(|(p, o)| (*p).max(*o))
        .max()
        .unwrap_or(1)
        .max(1);
    let (width, height, bar) = (((high - low + 1) * 24) as f64, 300.0, 10.0);
    let x = |score: f64| (score - low as f64) * 24.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\">",
        height + 20.0
    );
    for (&bucket, &(p, o)) in histogram {
        for (count, offset, colour) in [(p, 1.0, "#c0392b"), (o, 12.0, "#2c7fb8")] {
            let h = count as f64 / tallest as f64 * height;
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar}\" height=\"{h:.1}\" fill=\"{colour}\"><title>{bucket}: {count}</title></rect>",
                x(bucket as f64) + offset,
                height - h
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"9\">{bucket}</text>",
            x(bucket as f64),
            height + 14.0
        );
    }
    for threshold in std::iter::once(thresholds.flag).chain(thresholds.reject) {
        let _ = write!(
            svg,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"0\" y2=\"{height}\" stroke=\"#333\" stroke-dasharray=\"4\"/>",
            x(threshold)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.2}%", 100.0 * part as f64 / whole as f64)
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(label: &str, score: f64, flagged: bool, tests: &[&str]) -> Scored {
        Scored {
            label: label.into(),
            score,
            flagged,
            tests: tests.iter().map(|t| (*t).to_owned()).collect(),
            category: None,
        }
    }

    #[test]
    fn confusion_and_rates() {
        let all = [
            scored("pitch", 7.0, true, &["A"]),
            scored("pitch", 2.0, false, &["A"]),
            scored("legit", 6.0, true, &["A", "B"]),
            scored("legit", 0.0, false, &[]),
            scored("spam-other", 0.0, false, &["B"]),
        ];
        let report = Report::new(&all);
        assert_eq!(report.confusion(), (1, 1, 1, 2));
        assert_eq!(report.by_test["A"], (2, 1));
        assert_eq!(report.by_test["B"], (0, 2));
        let engine = Engine::load(None).unwrap();
        let text = report.text(&engine);
        assert!(text.contains("precision           50.00%"), "{text}");
        assert!(text.contains("false-positive rate 33.33%"), "{text}");
        let html = report.html(&engine);
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"));
    }

    #[test]
    fn labels_file_needs_two_columns() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("labels.tsv");
        std::fs::write(&file, "path\tlabel\na.eml\tpitch\n\nb.eml\n").unwrap();
        let err = read_labels(&file).unwrap_err();
        assert!(err.to_string().contains(":4: expected"), "{err}");
        std::fs::write(&file, "path\tlabel\ttags\na.eml\tpitch\tx\n").unwrap();
        assert_eq!(
            read_labels(&file).unwrap(),
            [Labelled {
                path: "a.eml".into(),
                label: "pitch".into(),
                category: None
            }]
        );
    }

    #[test]
    fn a_category_column_labels_pitches_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("labels.tsv");
        let text = "path\tlabel\tcategory\na.eml\tpitch\tseo-links\n\
                    b.eml\tpitch\t-\nc.eml\tlegit\tseo-links\n";
        std::fs::write(&file, text).unwrap();
        let categories: Vec<Option<String>> = read_labels(&file)
            .unwrap()
            .into_iter()
            .map(|row| row.category)
            .collect();
        assert_eq!(categories, [Some("seo-links".into()), None, None]);
    }
}
