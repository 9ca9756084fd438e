use super::*;

const RULES: &str = r#"
format = 1

[[test]]
name = "FRAMING"
score = 2.0
description = "d"
phrases = ["partner with you", "synerg*"]

[[test]]
name = "OFFER"
score = 1.5
description = "d"
scope = "body"
phrases = ["our services"]
patterns = ['\$\d+ per hour']

[[test]]
name = "SUBJECT_ONLY"
score = 0.5
description = "d"
scope = "subject"
phrases = ["partnership"]

[[test]]
name = "FAKE"
score = 1.0
description = "d"
detector = "fake_reply"

[[test]]
name = "BOTH"
score = 1.25
description = "d"
all = ["FRAMING", "OFFER"]

[[test]]
name = "COUNTER"
score = -3.0
description = "d"
phrases = ["revenue share"]
"#;

fn view(subject: &str, body: &str) -> MessageView {
    MessageView {
        subject: crate::message::normalize(subject),
        body: crate::message::normalize(body),
        ..MessageView::default()
    }
}

fn names(evaluation: &Evaluation) -> Vec<&str> {
    evaluation.hits.iter().map(|h| h.name.as_str()).collect()
}

/// A rule file of tests given as (name, score, the lines that say what it
/// matches).
fn rule_file(tests: &[(&str, f64, &str)]) -> String {
    let mut text = String::from("format = 1\n");
    for (name, score, body) in tests {
        text.push_str(&format!(
            "\n[[test]]\nname = \"{name}\"\nscore = {score:?}\ndescription = \"d\"\n{body}\n"
        ));
    }
    text
}

#[test]
fn table_of_hits_and_scores() {
    let rules = RuleSet::parse(RULES).unwrap();
    let cases: [(&str, &str, &[&str], f64); 8] = [
        ("hello", "nothing to see", &[], 0.0),
        ("", "we'd like to partner with you", &["FRAMING"], 2.0),
        // whole words only, unless the phrase ends in *
        ("", "partner with yours", &[], 0.0),
        ("", "great synergies", &["FRAMING"], 2.0),
        (
            "",
            "partner with you. our services: $90 per hour",
            &["FRAMING", "OFFER", "BOTH"],
            4.75,
        ),
        // scope: body-only phrase in the subject does not count
        ("our services", "", &[], 0.0),
        ("Partnership", "partnership", &["SUBJECT_ONLY"], 0.5),
        (
            "",
            "partner with you on a revenue share",
            &["FRAMING", "COUNTER"],
            -1.0,
        ),
    ];
    for (subject, body, expected, score) in cases {
        let evaluation = rules.score(&view(subject, body));
        assert_eq!(names(&evaluation), expected, "{subject} / {body}");
        assert_eq!(evaluation.score, score, "{subject} / {body}");
    }
}

#[test]
fn a_test_counts_once_and_keeps_its_evidence() {
    let rules = RuleSet::parse(RULES).unwrap();
    let evaluation = rules.score(&view("", "partner with you, partner with you"));
    assert_eq!(evaluation.hits.len(), 1);
    assert_eq!(
        evaluation.hits[0].evidence.as_deref(),
        Some("partner with you")
    );
}

#[test]
fn one_phrase_in_two_tests_hits_both() {
    // The automaton holds each distinct phrase once; both tests must
    // still hear of it.
    let rules = RuleSet::parse(&rule_file(&[
        ("ONE", 1.0, "phrases = [\"team up\"]"),
        ("TWO", 2.0, "phrases = [\"let's team up\", \"team up\"]"),
    ]))
    .unwrap();
    let evaluation = rules.score(&view("", "shall we team up?"));
    assert_eq!(names(&evaluation), ["TWO", "ONE"]);
    assert_eq!(evaluation.score, 3.0);
}

#[test]
fn phrases_match_overlapping_in_order_of_their_end() {
    let phrases: Vec<String> = ["partner", "to partner", "partner with", "partner"]
        .map(String::from)
        .into();
    let automaton = rules::phrase_automaton(&phrases).unwrap();
    let mut found = Vec::new();
    rules::each_match(&automaton, "we want to partner with you", |m| {
        found.push((m.id, m.start, m.end));
    });
    // Longer first at one end; a phrase listed twice, once per id.
    assert_eq!(found, [(1, 8, 18), (0, 11, 18), (3, 11, 18), (2, 11, 23)]);
}

#[test]
fn detectors_read_message_facts() {
    let rules = RuleSet::parse(RULES).unwrap();
    let mut fake = view("Re: our call", "");
    fake.facts.reply_subject = true;
    assert_eq!(names(&rules.score(&fake)), ["FAKE"]);
    fake.facts.references = true;
    assert!(rules.score(&fake).hits.is_empty());
}

#[test]
fn rule_file_errors_name_their_path() {
    let cases = [
        ("format = 2", "format", "is not 1"),
        (
            "format = 1\n[[test]]\nname = \"lower\"\nscore = 1.0\ndescription = \"\"\nphrases = [\"a\"]",
            "test[0].name",
            "UPPER_SNAKE_CASE",
        ),
        (
            "format = 1\n[[test]]\nname = \"A\"\nscore = 1.0\ndescription = \"\"\nphrases = [\"Not Normal\"]",
            "test[0].phrases[0]",
            "not normalised",
        ),
        (
            "format = 1\n[[test]]\nname = \"A\"\nscore = 1.0\ndescription = \"\"\npatterns = [\"(\"]",
            "test[0].patterns[0]",
            "regex",
        ),
        (
            "format = 1\n[[test]]\nname = \"A\"\nscore = 1.0\ndescription = \"\"\nall = [\"B\"]",
            "test[0].all[0]",
            "not a test defined above",
        ),
        (
            "format = 1\n[[test]]\nname = \"A\"\nscore = 1.0\ndescription = \"\"",
            "test[0]",
            "exactly one",
        ),
        (
            "format = 1\n[[test]]\nname = \"A\"\nscore = 1.0\ndescription = \"\"\ndetector = \"psychic\"",
            "",
            "unknown variant",
        ),
    ];
    for (text, path, reason) in cases {
        let errors = RuleSet::parse(text).unwrap_err();
        assert_eq!(errors[0].path, path, "{text}");
        assert!(errors[0].reason.contains(reason), "{text}: {}", errors[0]);
    }
}

#[test]
fn shipped_rules_compile_and_separate_the_halves() {
    let rules = RuleSet::builtin();
    let framing_only = rules.score(&view(
        "Partnership",
        "We would like to partner with you on a joint grant application, with a revenue share.",
    ));
    assert!(framing_only.score < 5.0, "{framing_only:?}");
    let pitch = rules.score(&view(
        "Partnership opportunity",
        "I came across your site. We'd love to partner with you: our developers offer \
         competitive rates. Do you have 15 minutes of your time for a quick call?",
    ));
    assert!(pitch.score >= 5.0, "{pitch:?}");
}

#[test]
fn any_meta_test_hits_on_one_of_its_parts() {
    let text = rule_file(&[
        ("A", 1.0, r#"phrases = ["alpha"]"#),
        ("B", 1.0, r#"phrases = ["beta"]"#),
        ("EITHER", 0.5, r#"any = ["A", "B"]"#),
    ]);
    let rules = RuleSet::parse(&text).expect("rules parse");
    assert!(names(&rules.score(&view("", "only beta here"))).contains(&"EITHER"));
    assert!(!names(&rules.score(&view("", "neither word"))).contains(&"EITHER"));
    let missing = RuleSet::parse(&text.replace("any = [\"A\", \"B\"]", "any = [\"C\"]"))
        .expect_err("an unknown name is refused");
    assert_eq!(missing[0].path, "test[2].any[0]");
}

#[test]
fn none_meta_test_hits_when_no_part_does() {
    let text = rule_file(&[
        ("A", 1.0, r#"phrases = ["alpha"]"#),
        ("NEITHER", -0.5, r#"none = ["A"]"#),
    ]);
    let rules = RuleSet::parse(&text).expect("rules parse");
    assert_eq!(names(&rules.score(&view("", "beta only"))), ["NEITHER"]);
    assert_eq!(names(&rules.score(&view("", "alpha here"))), ["A"]);
    let both = text.replace("none = [\"A\"]", "none = [\"A\"]\nany = [\"A\"]");
    let refused = RuleSet::parse(&both).expect_err("two kinds are refused");
    assert_eq!(refused[0].path, "test[1]");
}

#[test]
fn implied_framing_needs_a_sale_to_combine() {
    let rules = RuleSet::builtin();
    let framing_only = rules.score(&view(
        "Next steps",
        "Think of us as your back office while the new site settles in; we are glad to help.",
    ));
    assert!(
        !names(&framing_only).contains(&"IMPLIED_FRAMED_SALE"),
        "{framing_only:?}"
    );
    let sale = rules.score(&view(
        "Quick question",
        "Think of us as your remote design team. Our rates start at $40 per hour.",
    ));
    assert!(names(&sale).contains(&"IMPLIED_FRAMED_SALE"), "{sale:?}");
}

#[test]
fn signature_and_postscript_scopes_read_only_their_part() {
    let text = rule_file(&[
        (
            "TAGLINE",
            1.0,
            "scope = \"signature\"\nphrases = [\"your growth partner\"]",
        ),
        (
            "PS",
            1.0,
            "scope = \"postscript\"\nphrases = [\"free audit\"]",
        ),
    ]);
    let rules = RuleSet::parse(&text).expect("rules parse");
    let mut signed = view("", "Hello.\nAnn\nyour growth partner\np.s. free audit");
    assert!(
        names(&rules.score(&signed)).is_empty(),
        "only the body was set"
    );
    signed.signature = "ann\nyour growth partner".into();
    signed.postscript = "p.s. free audit".into();
    assert_eq!(names(&rules.score(&signed)), ["PS", "TAGLINE"]);
    let quoted = MessageView {
        quoted: "your growth partner".into(),
        ..view("", "thanks")
    };
    assert!(names(&rules.score(&quoted)).is_empty());
}

#[test]
fn shipped_framing_reads_roles_offered_and_partnerships_sold() {
    let rules = RuleSet::builtin();
    let cases: [(&str, &str, bool); 10] = [
        (
            "PARTNER_FRAMING",
            "We'd love to become Coastline's long-term IT procurement partner.",
            true,
        ),
        (
            "PARTNER_FRAMING",
            "As your PEO partner, we handle payroll.",
            true,
        ),
        (
            "PARTNER_FRAMING",
            "Als Ihr Finanzierungspartner finanzieren wir Ihre Forderungen vor.",
            true,
        ),
        // a contact person, not a partnership
        ("PARTNER_FRAMING", "Ihr Ansprechpartner: Frau Berg", false),
        (
            "PAID_PARTNERSHIP",
            "Our Partner Package is just $297 for the next 72 hours.",
            true,
        ),
        (
            "PAID_PARTNERSHIP",
            "To cover costs there is an editorial partnership fee of $1,950.",
            true,
        ),
        // news about a partner paying for something is not a fee asked of the reader
        (
            "PAID_PARTNERSHIP",
            "Kinder and a partner bought it for $40 million.",
            false,
        ),
        (
            "IMPLIED_FRAMING",
            "WireBoost partners with growing brands to distribute press releases.",
            true,
        ),
        (
            "NEWS_REPORT",
            "The two companies announced today that the project is under way.",
            true,
        ),
        (
            "MET_BEFORE",
            "Thank you for taking the time to meet with us last week.",
            true,
        ),
    ];
    for (test, body, hits) in cases {
        let evaluation = rules.score(&view("", body));
        assert_eq!(names(&evaluation).contains(&test), hits, "{test}: {body}");
    }
}

#[test]
fn a_sender_who_would_pay_the_reader_is_counter_evidence() {
    let rules = RuleSet::builtin();
    // The sender pays: an investor, a recruiter with a role for the
    // reader, a distributor buying stock, a buyer for the company.
    let paying = [
        "We'd love to partner with you on your Series A; our first cheque is $5M.",
        "I'd love to partner with you on your next career move. OTE is $420k.",
        "Nos gustaría ser su distribuidor en México, con un pedido inicial de 6.000 botellas.",
        "Wir würden Ihren Betrieb gern übernehmen; die Unternehmensnachfolge regeln wir fair.",
        "Gostaríamos de patrocinar a sua newsletter semanal durante três meses.",
        "Graag willen wij uw nieuwsbrief sponsoren, drie edities lang.",
        "Chcemy sponsorować wasz podcast przez cały sezon.",
    ];
    for body in paying {
        let evaluation = rules.score(&view("", body));
        assert!(names(&evaluation).contains(&"PAYS_THE_READER"), "{body}");
    }
    // The reader pays: a staffing firm's fee, a pitch to become the
    // seller's distributor.
    let selling = [
        "We partner with you on hiring: our fee is 18% of first-year salary.",
        "Become our distributor: the starter kit is $2,400.",
        "Let us sponsor your growth: a newsletter slot costs €900.",
    ];
    for body in selling {
        let evaluation = rules.score(&view("", body));
        assert!(!names(&evaluation).contains(&"PAYS_THE_READER"), "{body}");
    }
}

#[test]
fn patterns_are_anchored_on_literals_every_match_contains() {
    let anchors = |p: &str| rules::anchors_of_pattern(p);
    assert_eq!(
        anchors("(?:as|be) your (?:[a-z-]+ ){0,3}partner"),
        ["partner"]
    );
    assert_eq!(
        anchors("(?:teams|crews|squads) (?:now|soon)"),
        ["teams", "crews", "squads"]
    );
    assert_eq!(anchors("(?:team|crew) leads"), [" leads"]);
    // A branch without a literal, or literals too short to save a search:
    // the pattern always runs.
    assert!(anchors("(?:team|[a-z]+ing)").is_empty());
    assert!(anchors("\\d ?(?:€|usd)").is_empty());
    // Anchored or not, a pattern hits exactly where it matches.
    let text = rule_file(&[(
        "ROLE",
        1.0,
        r"patterns = ['(?-u:\b)be your (?:[a-z-]+ ){0,3}partner(?:\W|$)']",
    )]);
    let rules = RuleSet::parse(&text).expect("rules parse");
    let hit = |body: &str| names(&rules.score(&view("", body))) == ["ROLE"];
    assert!(hit("we would love to be your long-term it partner."));
    assert!(!hit("we would love to be your long-term it supplier."));
    assert!(!hit("partner programme: be your own boss"));
}

#[test]
fn category_phrases_count_where_a_word_begins() {
    let rules = RuleSet::parse(&format!(
        "{RULES}\n[[category]]\nname = \"recruiting\"\nphrases = [\"rpo\", \"hire\"]\n\
         [[category]]\nname = \"seo-links\"\nphrases = [\"seo\"]\n"
    ))
    .unwrap();
    let category = |body| rules.score(&view("hello", body)).category;
    // `rpo` inside `corporate` is no phrase of recruiting; `seo` starts
    // a word.
    assert_eq!(category("our corporate seo package"), "seo-links");
    // A phrase may begin a longer word: `hire` in `hires`.
    assert_eq!(category("we source hires, rpo and seo"), "recruiting");
    assert_eq!(category("a corporate leasehire plan"), "other");
}
