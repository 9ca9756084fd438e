//! Properties that must hold for any input, checked with proptest: header
//! folding gives back the value and never breaks a header; the header
//! splitter keeps every forged verdict out of what is scanned; the HTML
//! reader never shows script text; the whole judging path takes any bytes.
//! Normalisation has its own properties in `tests/normalize.rs`.

use pitchfork::{
    action::{STATUS_HEADER, fold},
    engine::Engine,
    html,
    session::Session,
};
use proptest::prelude::*;
use std::sync::LazyLock;

static ENGINE: LazyLock<Engine> = LazyLock::new(|| Engine::load(None).unwrap());

/// The longest line `fold` aims for (RFC 5322 2.1.1, "SHOULD be no more
/// than 78 characters").
const FOLD_AT: usize = 78;

/// Pieces a status header value is made of, and a few it never is.
const VALUE_PIECES: &[&str] = &[
    "Yes",
    "No",
    ", ",
    "score=",
    "7.30",
    " ",
    "required=5.00",
    "tests=",
    "PARTNER_FRAMING=2.10",
    ",",
    "W_S_TEAM_UP=-1.25",
    "TEXT_MODEL=0.40",
    "A",
    "  ",
    "x",
    "é",
    "NAME_THAT_IS_VERY_LONG",
];

fn status_like() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VALUE_PIECES), 0..64).prop_map(|p| p.concat())
}

/// A long word of letters that no fold point splits.
fn long_token() -> impl Strategy<Value = String> {
    "[A-Z_]{60,200}"
}

fn check_fold(value: &str) -> Result<(), TestCaseError> {
    let folded = fold(STATUS_HEADER, value);
    prop_assert_eq!(folded.replace("\n\t", ""), value, "unfolding loses text");
    prop_assert!(!folded.contains('\r'), "{:?}", folded);
    let lines: Vec<&str> = folded.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        prop_assert!(i == 0 || line.starts_with('\t'), "{:?}", folded);
        // Unfolding must not leave a line of only white space (RFC 5322
        // 3.2.2 forbids it) and a break only helps where it can.
        prop_assert!(i == 0 || !line.trim().is_empty(), "{:?}", folded);
        // Trailing white space before a break is not counted, as `fold`
        // intends: it is kept so that unfolding gives back the value.
        let text = line.trim_end();
        let width = if i == 0 {
            STATUS_HEADER.len() + 2 + text.len()
        } else {
            8 + text.len() - 1
        };
        // Too long is allowed only where no break point precedes the end.
        let breakable = text
            .char_indices()
            .any(|(at, c)| matches!(c, ' ' | ',') && at > 0 && at + 1 < text.len());
        prop_assert!(
            width <= FOLD_AT || !breakable,
            "line {} too long: {:?}",
            i,
            folded
        );
    }
    Ok(())
}

/// Headers of a message, some of them forged verdicts in any letter case,
/// folded or not, with or without a value.
fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        3 => "(Subject|From|To|Received|X-Mailer)",
        2 => "[xX]-[pP][iI][tT][cC][hH][fF][oO][rR][kK]-(Flag|Score|Status|Category|[A-Za-z]{0,8})",
    ];
    let value = prop_oneof![
        Just(String::new()),
        "[a-z ]{1,20}",
        "[a-z]{1,10}\r\n\t[a-z ]{1,20}",
    ];
    prop::collection::vec((name, value), 0..12)
}

/// Starts the value of every forged header; it must never be scanned.
const MARK: &str = "zqxforged ";

/// Closed tags of any name and attributes, entities and words.
const TAG_SOUP: &str = "(<[a-z/!]{1,6}[^<>]{0,12}>|&[a-z#0-9]{0,6};?|[a-z ]{0,8}){0,48}";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn folding_status_values(value in status_like()) {
        check_fold(&value)?;
    }

    #[test]
    fn folding_values_with_unbreakable_words(
        head in status_like(),
        word in long_token(),
        tail in status_like(),
    ) {
        check_fold(&format!("{head}{word}{tail}"))?;
    }

    #[test]
    fn forged_verdicts_are_listed_and_never_scanned(headers in headers()) {
        let mut raw = String::new();
        for (name, value) in &headers {
            let own = name.to_ascii_lowercase().starts_with("x-pitchfork-");
            let mark = if own && !value.is_empty() { MARK } else { "" };
            raw.push_str(&format!("{name}: {mark}{value}\r\n"));
        }
        raw.push_str("\r\nA plain body.\r\n");
        let session = Session::from_bytes(raw.as_bytes(), 1 << 20);
        let forged = headers
            .iter()
            .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-pitchfork-"))
            .count();
        prop_assert_eq!(session.forged_headers().len(), forged);
        let view = session.view();
        prop_assert!(!view.subject.contains(MARK), "{:?}", view.subject);
        prop_assert!(!view.body.contains(MARK), "{:?}", view.body);
    }

    #[test]
    fn script_text_stays_hidden_in_any_markup(
        before in TAG_SOUP,
        after in TAG_SOUP,
    ) {
        let read = html::to_text(&format!("{before}<script>hidden secret</script>{after}"));
        prop_assert!(!read.text.contains("secret"), "{:?}", read.text);
    }

    #[test]
    fn any_bytes_get_one_decision(raw in prop::collection::vec(any::<u8>(), 0..4096)) {
        let session = Session::from_bytes(&raw, ENGINE.config.max_scan_bytes);
        let decision = session.judge(&ENGINE);
        prop_assert!(decision.is_ok(), "{:?}", decision.err());
        prop_assert!(decision.unwrap().score.is_finite());
    }
}

/// Regression: a space after a comma that fell on the fold limit became a
/// continuation line of its own, a line of only white space (RFC 5322
/// 3.2.2 forbids generating one). Found by `folding_status_values`.
#[test]
fn fold_never_leaves_a_line_of_only_white_space() {
    let value = "NAME_THAT_IS_VERY_LONGPARTNER_FRAMING=2.10PARTNER_FRAMING=2.10, \
                 score=required=5.00PARTNER_FRAMING=2.10required=5.00PARTNER_FRAMING=2.10";
    let folded = fold(STATUS_HEADER, value);
    assert!(!folded.contains("\n\t \n"), "{folded:?}");
    assert_eq!(folded.replace("\n\t", ""), value);
}
