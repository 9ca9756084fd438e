//! Normalisation end to end: disguised messages in `tests/normalize/` read
//! like plain ones (each `NAME.eml` with the view it must give in
//! `NAME.expected`), and properties that must hold for any text: the
//! normal form is a fixed point, normalising never panics, and leaves no
//! upper-case ASCII, invisible characters, line breaks or double spaces.

use pitchfork::{message::MessageView, normalize::normalize};
use proptest::prelude::*;
use std::path::Path;

/// The fields of a view an `.expected` file lists, in its order.
fn described(view: &MessageView) -> String {
    let facts = &view.facts;
    format!(
        "body: {}\nquoted: {}\nsignature: {}\npostscript: {}\n\
         obfuscated: {}\nhidden_text: {}\ntracking_pixel: {}\n",
        view.body,
        // Kept as written in the view (nothing scores it); shown
        // normalised, as the other parts are.
        normalize(&view.quoted),
        view.signature,
        view.postscript,
        facts.obfuscated,
        facts.hidden_text,
        facts.tracking_pixel,
    )
}

#[test]
fn disguised_messages_read_like_plain_ones() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/normalize");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let raw = std::fs::read(&path).unwrap();
        let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap();
        let view = MessageView::parse(&raw, false);
        assert_eq!(described(&view), expected, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} fixtures in {}", dir.display());
}

/// Pieces that exercise every rule: letters alone and in words, the
/// separators of dotted-out words, leetspeak digits, look-alikes,
/// invisible characters, combining marks, Hangul jamo that compose,
/// characters whose lower case or NFKC form is unusual.
const PIECES: &[&str] = &[
    "a", "b", "p", "r", "t", "n", "e", "x", "s", "ab", "partner", "Word", " ", "  ", "\n", "\t",
    ".", "-", "_", "*", ",", "(", ")", "'", "0", "1", "2", "3", "4", "5", "7", "9", "0x", "а", "е",
    "о", "р", "с", "и", "д", "α", "ο", "ρ", "η", "Η", "Ν", "ν", "Σ", "ς", "\u{200b}", "\u{00ad}",
    "\u{200e}", "\u{feff}", "\u{0301}", "\u{0308}", "\u{1100}", "\u{1161}", "\u{11a8}", "İ", "ß",
    "ẞ", "ǅ", "´", "`", "’", "“", "—", "…", "ﬁ", "Ｐ", "①", "²", "¹", "\u{3000}", "\u{a0}",
    "\u{0}", "\u{85}", "\u{2028}", "ᾼ", "\u{0345}", "Ω", "K", "/", "@", "=", "$",
];

fn pieces() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..48).prop_map(|p| p.concat())
}

fn check(input: &str) -> Result<(), TestCaseError> {
    let once = normalize(input);
    prop_assert_eq!(
        &normalize(&once),
        &once,
        "not a fixed point for {:?}",
        input
    );
    prop_assert!(!once.bytes().any(|b| b.is_ascii_uppercase()), "{:?}", once);
    prop_assert!(
        !once.contains([
            '\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}', '\u{ad}'
        ]),
        "{:?}",
        once
    );
    prop_assert!(!once.contains("  ") && !once.contains('\n'), "{:?}", once);
    prop_assert!(!once.starts_with(' ') && !once.ends_with(' '), "{:?}", once);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn any_text(input in any::<String>()) {
        check(&input)?;
    }

    #[test]
    fn text_built_to_trip_the_rules(input in pieces()) {
        check(&input)?;
    }
}
