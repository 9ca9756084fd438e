//! `pitchfork eval` and `pitchfork train` as the real binary: folders or a
//! labels file in, a report (and an HTML page, a model file) out.

use std::process::{Command, Output};

fn pitchfork(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pitchfork"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn folders_give_a_confusion_matrix() {
    let output = pitchfork(&[
        "eval",
        "--pitch",
        "tests/eval/pitch.eml",
        "--legit",
        "tests/eval/clean.eml",
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("2 messages, flag threshold 5.00"), "{text}");
    assert!(text.contains("recall              100.00%"), "{text}");
    assert!(text.contains("false-positive rate 0.00%"), "{text}");
    assert!(text.contains("PARTNER_FRAMING"), "{text}");
}

#[test]
fn a_labels_file_and_an_html_page() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("eval.html");
    let output = pitchfork(&[
        "eval",
        "--labels",
        "tests/eval/labels.tsv",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout(&output).contains("  legit               0/1"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>") && page.contains("<svg"),
        "{page}"
    );
    assert!(page.contains("stroke-dasharray"), "threshold line missing");
}

#[test]
fn a_missing_labelled_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.tsv");
    std::fs::write(&labels, "path\tlabel\nnope.eml\tpitch\n").unwrap();
    let output = pitchfork(&["eval", "--labels", labels.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope.eml"));
}

#[test]
fn train_writes_a_loadable_versioned_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.json");
    let output = pitchfork(&[
        "train",
        "--pitch",
        "tests/eval/pitch.eml",
        "--legit",
        "tests/eval/clean.eml",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = std::fs::read_to_string(&model).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["format"], 2);
    assert!(json.get("categories").is_none(), "no --categories: {text}");
    assert_eq!(json["trained"]["pitch"], 1);
    assert_eq!(json["trained"]["legit"], 1);
    let config = dir.path().join("pitchfork.toml");
    std::fs::write(
        &config,
        format!("model_file = \"{}\"\nallow_root = true\n", model.display()),
    )
    .unwrap();
    let check = pitchfork(&["check-config", "--config", config.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{check:?}");
}

#[test]
fn train_refuses_an_empty_class() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = pitchfork(&[
        "train",
        "--pitch",
        empty.to_str().unwrap(),
        "--legit",
        "tests/eval/clean.eml",
        "--out",
        dir.path().join("m.json").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("at least one pitch"));
}

#[test]
fn train_reads_categories_and_names_a_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.tsv");
    let eval = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/eval");
    let train = |labels_text: &str| {
        std::fs::write(&labels, labels_text).unwrap();
        pitchfork(&[
            "train",
            "--pitch",
            "tests/eval/pitch.eml",
            "--legit",
            "tests/eval/clean.eml",
            "--categories",
            labels.to_str().unwrap(),
            "--out",
            dir.path().join("m.json").to_str().unwrap(),
        ])
    };
    let pitch = eval.join("pitch.eml");
    let output = train(&format!("path\tcategory\n{}\tspam\n", pitch.display()));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 2: `spam` is not one of"), "{stderr}");
    let output = train("path\tlabel\n");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("`category` columns"));
    // A file naming none of the pitches trains nothing of categories: an
    // error, not a model that silently lacks them.
    let output = train("path\tcategory\nother.eml\trecruiting\n");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no pitch"));
    // One category alone is no choice to learn: the model has none.
    let output = train(&format!(
        "path\tcategory\n{}\trecruiting\n",
        pitch.display()
    ));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = std::fs::read_to_string(dir.path().join("m.json")).unwrap();
    assert!(!text.contains("categories"));
}

#[test]
fn a_category_column_reports_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.tsv");
    let pitch = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/eval/pitch.eml");
    let given = pitchfork(&["check", "--format", "json", pitch.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_slice(&given.stdout).unwrap();
    let category = json["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "X-Pitchfork-Category")
        .map(|h| h[1].as_str().unwrap().to_owned())
        .unwrap();
    let wrong = if category == "financing" {
        "recruiting"
    } else {
        "financing"
    };
    let p = pitch.display();
    std::fs::write(
        &labels,
        format!("path\tlabel\tcategory\n{p}\tpitch\t{category}\n{p}\tpitch\t{wrong}\n"),
    )
    .unwrap();
    let output = pitchfork(&["eval", "--labels", labels.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout(&output);
    assert!(
        text.contains("category of flagged pitches agrees with the label: 1/2 50.00%"),
        "{text}"
    );
    let plain = pitchfork(&["eval", "--labels", "tests/eval/labels.tsv"]);
    assert!(!stdout(&plain).contains("category of flagged"));
}
