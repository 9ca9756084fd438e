use super::*;

fn check(cases: &[(&str, &str)]) {
    for &(input, expected) in cases {
        assert_eq!(normalize(input), expected, "normalize({input:?})");
    }
}

#[test]
fn folds_case_space_and_typography() {
    check(&[
        ("  We’d LOVE\tto\r\n partner ", "we'd love to partner"),
        (
            "“quoted” — dash – en ‒ figure",
            "\"quoted\" - dash - en - figure",
        ),
        (
            "«guillemets» „unten“ ‚single‘",
            "\"guillemets\" \"unten\" 'single'",
        ),
        ("we´d `tick`", "we'd 'tick'"),
        ("ÉQUIPE Straße ŁÓDŹ", "équipe straße łódź"),
        ("a\u{00a0}b\u{3000}c", "a b c"),
        ("", ""),
        (" \t\r\n ", ""),
    ]);
}

#[test]
fn applies_nfkc() {
    check(&[
        ("ＰＡＲＴＮＥＲ", "partner"),
        ("ﬁnancial ﬂow", "financial flow"),
        ("e\u{0301}quipe", "équipe"),
        ("Ⓟartner", "partner"),
        ("𝐩𝐚𝐫𝐭𝐧𝐞𝐫", "partner"),
        ("10 m²", "10 m2"),
        ("wait…", "wait..."),
    ]);
}

#[test]
fn removes_invisible_characters() {
    check(&[
        ("part\u{200b}ner\u{00ad}ship", "partnership"),
        ("p\u{200c}a\u{200d}r\u{2060}t\u{feff}ner", "partner"),
        ("col\u{200e}lab", "collab"),
        ("e\u{200b}\u{0301}", "é"),
    ]);
}

#[test]
fn folds_look_alikes_only_inside_latin_words() {
    check(&[
        // Cyrillic а, е, о, р, с in English words.
        ("раrtnеr", "partner"),
        ("сollаborаtion", "collaboration"),
        ("PАRTNЕR", "partner"),
        // Greek capitals fold by their capital shape: Ν is N, not v.
        ("ΡΑRTΝΕR ΗΕLLO", "partner hello"),
        ("ΝΗΜΥ νημυ", "νημυ νημυ"),
        // Greek ο and ρ.
        ("ρartnershiρ οffer", "partnership offer"),
        // Real Russian and Greek text is left alone.
        ("Привет, партнер", "привет, партнер"),
        ("сор", "сор"),
        ("Καλημέρα φίλε", "καλημέρα φίλε"),
        // A Cyrillic word with a letter that has no Latin twin.
        ("дaтa", "дaтa"),
        // A look-alike alone between Latin words passes for one.
        ("we are not а bank", "we are not a bank"),
        ("это а также", "это а также"),
    ]);
}

#[test]
fn joins_spaced_and_dotted_letters() {
    check(&[
        ("p a r t n e r", "partner"),
        ("P A R T N E R S H I P offer", "partnership offer"),
        ("let's p.a.r.t.n.e.r. now", "let's partner. now"),
        ("c-o-l-l-a-b", "collab"),
        ("p_a_r_t_n_e_r", "partner"),
        ("(p a r t n e r)", "(partner)"),
        ("p a r t n e r  w i t h  y o u", "partner with you"),
        ("p 4 r t n 3 r", "partner"),
        ("p.4.r.t.n.3.r", "partner"),
    ]);
}

#[test]
fn leaves_short_letter_runs_and_abbreviations_alone() {
    check(&[
        ("e.g. this", "e.g. this"),
        ("the U.S. market", "the u.s. market"),
        ("a b", "a b"),
        ("plan a b c", "plan a b c"),
        ("i.e. a.k.a.", "i.e. a.k.a."),
        ("co-op co-marketing win-win", "co-op co-marketing win-win"),
        ("1.2.3.4", "1.2.3.4"),
        ("x-1-2-3", "x-1-2-3"),
        // Cyrillic one-letter words are words, not a spaced-out one.
        ("а и в о", "а и в о"),
    ]);
}

#[test]
fn undoes_leetspeak_inside_words() {
    check(&[
        ("partn3r", "partner"),
        ("c0llab0rati0n", "collaboration"),
        ("0ur serv1ces", "our services"),
        ("s3cr3t", "secret"),
        ("p4rtn3rship!", "partnership!"),
    ]);
}

#[test]
fn leaves_numbers_versions_and_names_alone() {
    check(&[
        ("b2b", "b2b"),
        ("mp3", "mp3"),
        ("2024", "2024"),
        ("15-minute call", "15-minute call"),
        ("o365", "o365"),
        ("covid19", "covid19"),
        ("w3c", "w3c"),
        ("1st 3rd 4th", "1st 3rd 4th"),
        ("4you 5min", "4you 5min"),
        ("0x1f", "0x1f"),
        ("python3 win10", "python3 win10"),
        ("https://k8s.io/api/v1beta1", "https://k8s.io/api/v1beta1"),
        ("user_1a@example.com", "user_1a@example.com"),
        ("computers4sure tools4ever", "computers4sure tools4ever"),
        ("the commission1s rule", "the commission1s rule"),
        ("mp3s ps4s s3rvic3s", "mp3s ps4s services"),
        ("qmail-pop3d mytop5s.com", "qmail-pop3d mytop5s.com"),
        ("gr0ße wallace\u{b9}s", "gr0ße wallace1s"),
        ("margin: 0px 0pt 0em; 0ms", "margin: 0px 0pt 0em; 0ms"),
        ("$b0kelmm 50%off", "$b0kelmm 50%off"),
        (
            "iqevawubpw5amahbxyzzsab3aqh1vnujjuwgda1ycrqd3vzanhkcf0kdbba",
            "iqevawubpw5amahbxyzzsab3aqh1vnujjuwgda1ycrqd3vzanhkcf0kdbba",
        ),
    ]);
}

#[test]
fn counts_repairs() {
    let cases: &[(&str, Repairs)] = &[
        ("plain words only", Repairs::default()),
        (
            "p\u{200b}a\u{200b}rtner",
            Repairs {
                invisible: 2,
                ..Repairs::default()
            },
        ),
        (
            // A soft hyphen is hyphenation, not a disguise.
            "Zusammen\u{00ad}arbeit",
            Repairs::default(),
        ),
        (
            "раrtnеr and сollab",
            Repairs {
                confusable: 2,
                ..Repairs::default()
            },
        ),
        (
            "let's p a r t n e r and c.o.l.l.a.b now",
            Repairs {
                spaced: 2,
                ..Repairs::default()
            },
        ),
        (
            "partn3r 0ur c0llab",
            Repairs {
                leet: 3,
                ..Repairs::default()
            },
        ),
        (
            // Line-wrapped text: the neighbouring word may be on the next
            // line or past punctuation.
            "We'd love to\nt e a m   u p : we pitch, so let's j o i n   f o r c e s - ok?\n\
             an e.x.t.e.n.s.i.o.n of y.o.u.r t.e.a.m",
            Repairs {
                // One per run: team up, join forces, extension, your, team.
                spaced: 5,
                ..Repairs::default()
            },
        ),
        (
            // Acronyms and letter-spaced headings are typography.
            "P.L.L.C. and S.T.A.R.\nN E W S   S E R V I C E\n",
            Repairs::default(),
        ),
        ("T H E   M O U T H P I E C E\nNews", Repairs::default()),
        (
            // A heading: one run, one repair, however many words.
            "M O N D A Y   E X T R E M E   M A R K E T S\nA service from us",
            Repairs {
                spaced: 1,
                ..Repairs::default()
            },
        ),
        ("Daily\nB r o k e n D r e a m s\nblog", Repairs::default()),
        ("see rina.h-y-p-h-e-n-s.net", Repairs::default()),
        (
            // Mis-decoded Chinese is not a disguise.
            "\u{ce}\u{e5}\u{ca}\u{ae}\u{c1}\u{b5} \u{d2}\u{b5}\u{b5}\u{c4}",
            Repairs::default(),
        ),
        (
            // The same disguise twice counts once.
            "p a r t n e r, p a r t n e r, раrtnеr, раrtnеr",
            Repairs {
                spaced: 1,
                confusable: 1,
                ..Repairs::default()
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(normalize_counting(input).1, *expected, "{input:?}");
    }
}

#[test]
fn results_are_fixed_points() {
    let inputs = [
        "p a r t n e r  a  d e a l",
        "a  b  c  d e f",
        "a b c d  e  f g h i",
        "x, a b c d  e 4 !",
        "ре0р pе0p",
        "a.b.c.d.ef ab.c.d.e.f",
        "İstanbul ΣΑΣ ǅ",
        "ᄀ ᅡ ᄂ ᅡ",
        "0a0b 1x1x",
        // Found by the property tests: the digit inside decides whether a
        // leading zero is a unit.
        "0р0x",
        // A capital that takes no mark, lower-cased, may compose with it.
        "\u{1fbc}\u{301}",
        "T\u{308}",
    ];
    for input in inputs {
        let once = normalize(input);
        assert_eq!(normalize(&once), once, "{input:?}");
    }
}

#[test]
fn a_column_of_lone_letters_is_read_in_bounded_runs() {
    // One-letter lines would otherwise make one run, and one word, of the
    // whole message.
    let text = "a\n".repeat(5 * tokens::MAX_RUN);
    let out = normalize(&text);
    assert!(
        out.split(' ').all(|w| w.len() <= tokens::MAX_RUN),
        "{}",
        out.len()
    );
    assert_eq!(out.replace(' ', ""), "a".repeat(5 * tokens::MAX_RUN));
    assert_eq!(normalize(&out), out);
}

#[test]
fn every_different_disguised_word_counts_once() {
    // A set, not a list searched for each word: many different disguised
    // words cost time in proportion to their number.
    let letter = |i: usize| char::from(b'a' + (i % 26) as u8);
    let words: Vec<String> = (0..3000)
        .map(|i| format!("w0rd{}{}{}", letter(i), letter(i / 26), letter(i / 676)))
        .collect();
    let text = format!("{} {}", words.join(" "), words.join(" "));
    assert_eq!(normalize_counting(&text).1.leet, 3000);
}

#[test]
fn lines_normalise_as_the_text_they_make() {
    let texts = [
        "We’d LOVE\nto p a r t n e r\n\nwith you",
        "раrtnеr\nand\u{200b}\nc.o.l.l.a.b\nnow",
        "e\u{0301}\nquipe ＰＡＲＴ\nNER 𝐩𝐚𝐫𝐭",
        "",
        "\n\n",
    ];
    for text in texts {
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            normalize_lines(&lines),
            normalize_counting(&format!("{text}\n")),
            "{text:?}"
        );
    }
}

/// Long text normalised a paragraph at a time reads exactly as when it is
/// normalised whole: every message of the project's corpus, cut into
/// pieces of a few hundred bytes instead of 64 KiB.
#[test]
fn paragraphs_normalise_alone_as_in_the_whole_text() {
    let mut files = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/corpus"
    ))];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "eml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 900, "{} corpus files", files.len());
    let mut chunked = 0;
    for path in files {
        let raw = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let lines: Vec<&str> = raw.lines().collect();
        let whole = normalize_lines_by(&lines, usize::MAX);
        let pieces = normalize_lines_by(&lines, 200);
        assert_eq!(pieces, whole, "{}", path.display());
        chunked += usize::from(raw.len() > 200);
    }
    assert!(chunked > 500, "only {chunked} messages were cut");
}
