//! `pitchfork check`: JSON fields, exit codes, directories, stdin, mbox
//! lines and unreadable input, run as the real binary.

use serde_json::Value;
use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

const BIN: &str = env!("CARGO_BIN_EXE_pitchfork");

fn check(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("check")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn json_has_the_documented_fields() {
    let output = check(&["--format", "json", "tests/check/dir/pitch.eml"]);
    assert_eq!(output.status.code(), Some(1), "a pitch was flagged");
    let verdicts = json_lines(&output);
    assert_eq!(verdicts.len(), 1);
    let v = &verdicts[0];
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["action", "headers", "path", "score", "tests", "verdict"]
    );
    assert_eq!(v["path"], "tests/check/dir/pitch.eml");
    assert_eq!(v["verdict"], "pitch");
    assert_eq!(v["action"], "add_header");
    let score = v["score"].as_f64().unwrap();
    let tests = v["tests"].as_array().unwrap();
    let sum: f64 = tests.iter().map(|t| t["score"].as_f64().unwrap()).sum();
    assert!((sum - score).abs() < 0.01, "{sum} vs {score}");
    assert!(tests.iter().any(|t| t["name"] == "PARTNER_FRAMING"));
    let headers = v["headers"].as_array().unwrap();
    let header = |name: &str| headers.iter().find(|h| h[0] == name).map(|h| h[1].clone());
    assert_eq!(headers[0], serde_json::json!(["X-Pitchfork-Flag", "YES"]));
    assert_eq!(header("X-Pitchfork-Score").unwrap(), format!("{score:.2}"));
    assert!(header("X-Pitchfork-Category").is_some(), "{headers:?}");
}

#[test]
fn walks_directories_for_eml_files_in_order() {
    let output = check(&["--format", "json", "tests/check/dir"]);
    let paths: Vec<String> = json_lines(&output)
        .iter()
        .map(|v| v["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        paths,
        [
            "tests/check/dir/nested/clean.eml",
            "tests/check/dir/pitch.eml"
        ]
    );
}

#[test]
fn exit_zero_when_nothing_is_flagged() {
    let output = check(&["tests/check/dir/nested/clean.eml"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains(": clean, score"), "{text}");
}

#[test]
fn text_output_explains_each_test() {
    let output = check(&["tests/check/dir/pitch.eml"]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("PITCH, score"), "{text}");
    assert!(text.contains("PARTNER_FRAMING"), "{text}");
    assert!(
        text.contains("asks to partner or proposes a partnership"),
        "{text}"
    );
}

#[test]
fn reads_stdin_and_tolerates_an_mbox_from_line() {
    let raw = std::fs::read("tests/check/mbox-pitch.eml").unwrap();
    let mut child = Command::new(BIN)
        .args(["check", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&raw).unwrap();
    let output = child.wait_with_output().unwrap();
    let v = &json_lines(&output)[0];
    assert_eq!(v["path"], "-");
    assert_eq!(v["verdict"], "pitch");
    let direct = &json_lines(&check(&["--format", "json", "tests/check/dir/pitch.eml"]))[0];
    assert_eq!(
        v["score"], direct["score"],
        "the From line changed the verdict"
    );
}

#[test]
fn garbage_still_gets_a_verdict() {
    let output = check(&["--format", "json", "tests/check/garbage.eml"]);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{output:?}");
    let v = &json_lines(&output)[0];
    assert!(v["score"].is_number());
}

#[test]
fn missing_files_are_errors_but_the_rest_is_judged() {
    let output = check(&[
        "--format",
        "json",
        "tests/check/does-not-exist.eml",
        "tests/check/dir/pitch.eml",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(json_lines(&output).len(), 1);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("does-not-exist.eml"), "{stderr}");
}

#[test]
fn verdicts_that_cannot_be_written_are_an_error() {
    // A verdict short of a buffer is lost only at the last flush.
    let output = Command::new(BIN)
        .args(["check", "tests/check/dir/pitch.eml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("cannot write the verdicts"),
        "stderr: {stderr}"
    );
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let mut child = Command::new(BIN)
        .args(["check", "--format", "json", "tests/corpus/train/legit"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then hang up, as `head -1` does.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    assert!(first.starts_with("{\"path\""), "first line: {first}");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(String::from_utf8(output.stderr).unwrap(), "");
}

#[test]
fn invalid_config_names_the_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[thresholds]\nflag = \"high\"\nbogus = 1\n").unwrap();
    let output = check(&["--config", config.to_str().unwrap(), "tests/check/dir"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    // every error, each with its key path
    assert!(stderr.contains("thresholds.flag: invalid type"), "{stderr}");
    assert!(
        stderr.contains("thresholds.bogus: unknown field"),
        "{stderr}"
    );
}

#[test]
fn check_config_accepts_the_default_and_refuses_bad_rules() {
    let output = Command::new(BIN).arg("check-config").output().unwrap();
    assert_eq!(output.status.code(), Some(0));

    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, "format = 1\n[[test]]\nname = \"bad name\"\nscore = 1.0\ndescription = \"\"\nphrases = [\"x\"]\n").unwrap();
    let config = dir.path().join("pitchfork.toml");
    std::fs::write(&config, format!("rules_file = \"{}\"\n", rules.display())).unwrap();
    let output = Command::new(BIN)
        .args(["check-config", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("test[0].name"), "{stderr}");
}
