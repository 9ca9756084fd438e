//! Hostile messages: every one gets a verdict, through `pitchfork check`
//! and through the daemon, and the daemon keeps serving afterwards. Small
//! ones are fixtures in `tests/hostile/`; the big ones (deep nesting, many
//! parts, a 1 MB header line, a 50 MB body line, encoded-word and HTML
//! bombs) are generated here rather than committed.
//!
//! The bound on "a verdict" is the client's read timeout (30 s): the daemon
//! answers each step or the test fails.

mod common;

use common::{client, daemon::Daemon};
use indymilter_test::{MacroStage, Status, TestConnection};
use serde_json::Value;
use std::{
    ffi::CString,
    path::{Path, PathBuf},
    process::Command,
};

const BIN: &str = env!("CARGO_BIN_EXE_pitchfork");

/// A hostile case: its name and its bytes.
struct Case {
    name: String,
    raw: Vec<u8>,
}

const HEAD: &str = "From: Sales <sales@vendor.example>\r\nTo: cto@target.example\r\n\
                    Date: Mon, 2 Jun 2025 10:00:00 +0000\r\nMIME-Version: 1.0\r\n";

/// `multipart/mixed` nested `depth` deep, each level its own boundary.
fn nested(depth: usize) -> Vec<u8> {
    let mut out = format!("{HEAD}Subject: nested {depth} deep\r\n");
    for level in 0..depth {
        out.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n--b{level}\r\n"
        ));
    }
    out.push_str("Content-Type: text/plain\r\n\r\nWe'd love to partner with you.\r\n");
    for level in (0..depth).rev() {
        out.push_str(&format!("--b{level}--\r\n"));
    }
    out.into_bytes()
}

/// One multipart with `count` small parts.
fn many_parts(count: usize) -> Vec<u8> {
    let mut out = format!(
        "{HEAD}Subject: {count} parts\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n"
    );
    for i in 0..count {
        out.push_str(&format!(
            "--p\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"
        ));
    }
    out.push_str("--p--\r\n");
    out.into_bytes()
}

/// A header whose one line is `len` bytes long (under indymilter's 1 MiB
/// packet limit: Postfix itself cuts headers at `header_size_limit`).
fn long_header_line(len: usize) -> Vec<u8> {
    let value = "partner ".repeat(len / 8);
    format!("{HEAD}Subject: long header\r\nX-Long: {value}\r\n\r\nShort body.\r\n").into_bytes()
}

/// A body that is one line of `len` bytes, no line break at all.
fn long_body_line(len: usize) -> Vec<u8> {
    let mut out = format!("{HEAD}Subject: long body line\r\n\r\n").into_bytes();
    let word = b"synergy partner ";
    out.extend(word.iter().cycle().take(len));
    out
}

/// A subject of `count` RFC 2047 encoded words, some of them encoding
/// further encoded-word syntax.
fn encoded_word_bomb(count: usize) -> Vec<u8> {
    let words = [
        "=?utf-8?B?cGFydG5lcg==?=",
        "=?utf-8?Q?=3D=3Futf-8=3FQ=3Fpartner=3F=3D?=",
        "=?iso-8859-1?q?caf=E9?=",
        "=?x-unknown?b?////?=",
        "=?utf-8?B?=?=",
    ];
    let subject: Vec<&str> = words.iter().copied().cycle().take(count).collect();
    format!(
        "{HEAD}Subject: {}\r\nContent-Type: text/plain\r\n\r\nBody.\r\n",
        subject.join("\r\n ")
    )
    .into_bytes()
}

/// HTML with `depth` unclosed elements, a megabyte attribute and broken
/// comments and entities.
fn html_bomb(depth: usize) -> Vec<u8> {
    let mut html = String::from("<html><body>");
    for i in 0..depth {
        html.push_str(
            [
                "<div>",
                "<b>",
                "<span style=\"display:none\">",
                "<table><tr><td>",
            ][i % 4],
        );
    }
    html.push_str(&format!("<a title=\"{}\">", "x".repeat(1 << 20)));
    html.push_str("<!-- <!-- --> &#99999999; &#x110000; &amp &notanentity; <p>partner");
    format!("{HEAD}Subject: html bomb\r\nContent-Type: text/html\r\n\r\n{html}\r\n").into_bytes()
}

fn cases() -> Vec<Case> {
    let generated = [
        ("nested-1000-deep", nested(1000)),
        ("10000-parts", many_parts(10_000)),
        ("1mb-header-line", long_header_line(1_000_000)),
        ("50mb-body-line", long_body_line(50_000_000)),
        ("encoded-word-bomb", encoded_word_bomb(20_000)),
        ("html-bomb", html_bomb(100_000)),
    ];
    let mut cases: Vec<Case> = generated
        .into_iter()
        .map(|(name, raw)| Case {
            name: name.into(),
            raw,
        })
        .collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        cases.push(Case {
            name: path.file_name().unwrap().to_string_lossy().into_owned(),
            raw: std::fs::read(&path).unwrap(),
        });
    }
    assert!(cases.len() >= 15, "fixtures missing: {}", cases.len());
    cases
}

/// Writes the cases to `dir` as files `check` can read.
fn write_cases(dir: &Path, cases: &[Case]) -> Vec<PathBuf> {
    cases
        .iter()
        .map(|case| {
            let path = dir.join(&case.name);
            std::fs::write(&path, &case.raw).unwrap();
            path
        })
        .collect()
}

#[test]
fn check_gives_each_hostile_message_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let cases = cases();
    for path in write_cases(dir.path(), &cases) {
        let output = Command::new(BIN)
            .args(["check", "--format", "json"])
            .arg(&path)
            .output()
            .unwrap();
        let name = path.display();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{name}: {:?}\n{stderr}",
            output.status
        );
        let lines: Vec<Value> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{name}: one verdict");
        assert!(lines[0]["score"].as_f64().unwrap().is_finite(), "{name}");
        assert!(["pitch", "clean"].contains(&lines[0]["verdict"].as_str().unwrap()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn daemon_gives_each_hostile_message_a_verdict_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_inet(dir.path(), "");
    let addr = daemon.addr().unwrap();
    let cases = cases();
    for (i, case) in cases.iter().enumerate() {
        let mut conn = client::connect(addr).await;
        let (actions, status) = send_bytes(&mut conn, &case.raw, &format!("HOSTILE{i}")).await;
        assert_eq!(status, Status::Accept, "{}", case.name);
        let score = client::header(&actions, "X-Pitchfork-Score");
        let score: f64 = score
            .unwrap_or_else(|| panic!("{} was not judged:\n{}", case.name, daemon.log()))
            .parse()
            .unwrap();
        assert!(score.is_finite(), "{}", case.name);
        conn.close().await.unwrap();
    }
    // Still serving, and nothing was judged twice or lost.
    let mut conn = client::connect(addr).await;
    let (actions, _) = client::send(&mut conn, b"Subject: hello\n\nLunch?\n", "AFTER").await;
    assert!(client::header(&actions, "X-Pitchfork-Score").is_some());
    let verdicts = daemon
        .log()
        .lines()
        .filter(|l| l.contains(" action=") && l.contains(" mode="))
        .count();
    assert_eq!(verdicts, cases.len() + 1, "{}", daemon.log());
}

/// Sends a message of arbitrary bytes as an MTA would: unfolded headers
/// (NUL, which a milter header cannot carry, as a space) and the body in
/// 64 KiB chunks until the milter answers `skip`.
async fn send_bytes(
    conn: &mut TestConnection,
    raw: &[u8],
    queue_id: &str,
) -> (Vec<indymilter_test::EomAction>, Status) {
    common::client::envelope(conn, "<sales@vendor.example>").await;
    let (headers, body) = split(raw);
    for (name, value) in headers {
        conn.header(c_string(name), c_string(&value)).await.unwrap();
    }
    conn.eoh().await.unwrap();
    conn.body(body.to_vec()).await.unwrap();
    conn.macros(MacroStage::Eom, [("i", queue_id)])
        .await
        .unwrap();
    let (actions, status) = conn.eom().await.unwrap();
    (actions.actions, status)
}

fn c_string(bytes: &[u8]) -> CString {
    let clean: Vec<u8> = bytes
        .iter()
        .map(|&b| if b == 0 { b' ' } else { b })
        .collect();
    CString::new(clean).unwrap()
}

/// A header name and its unfolded value.
type Header<'a> = (&'a [u8], Vec<u8>);

/// Headers (unfolded with CRLF kept, as Postfix sends them) and body; a
/// line that is not a header ends the headers.
fn split(raw: &[u8]) -> (Vec<Header<'_>>, &[u8]) {
    let mut headers: Vec<Header<'_>> = Vec::new();
    let mut rest = raw;
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
        let next = &rest[end + 1..];
        match (line.first(), headers.last_mut()) {
            (None, _) => return (headers, next),
            (Some(b' ' | b'\t'), Some((_, value))) => {
                value.extend_from_slice(b"\r\n");
                value.extend_from_slice(line);
            }
            _ => match line.iter().position(|&b| b == b':') {
                Some(colon) if line[..colon].iter().all(u8::is_ascii_graphic) && colon > 0 => {
                    headers.push((
                        &line[..colon],
                        line[colon + 1..].trim_ascii_start().to_vec(),
                    ))
                }
                _ => return (headers, rest),
            },
        }
        rest = next;
    }
    (headers, rest)
}
