use super::*;

#[test]
fn decodes_encoded_subject_and_html_body() {
    let raw = b"Subject: =?UTF-8?B?UGFydG5lcnNoaXAgb3Bwb3J0dW5pdHk=?=\r\n\
        Content-Type: text/html; charset=utf-8\r\n\r\n\
        <p>We would <b>like</b> to partner</p>";
    let view = MessageView::parse(raw, false);
    assert_eq!(view.subject, "partnership opportunity");
    assert!(
        view.body.contains("we would like to partner"),
        "{}",
        view.body
    );
}

#[test]
fn decodes_quoted_printable_and_latin1() {
    let raw = b"Subject: x\nContent-Type: text/plain; charset=iso-8859-1\n\
        Content-Transfer-Encoding: quoted-printable\n\n\
        Gr=FC=DFe, wir m=F6chten kooperieren=\n n";
    let view = MessageView::parse(raw, false);
    assert_eq!(view.body, "grüße, wir möchten kooperieren n");
}

#[test]
fn leaves_out_quoted_reply_lines() {
    let raw = b"Subject: Re: hi\nIn-Reply-To: <a@b>\n\nThanks, no.\n> We would like to partner\n";
    let view = MessageView::parse(raw, false);
    assert_eq!(view.body, "thanks, no.");
    assert!(view.facts.reply_subject && view.facts.references);
}

#[test]
fn a_reply_in_a_thread_reads_the_subject_with_the_history() {
    let raw = b"Subject: Re: Partnership opportunity\nIn-Reply-To: <a@b>\n\n\
        No thanks.\n> We would like to partner\n";
    let view = MessageView::parse(raw, false);
    assert_eq!(view.subject, "");
    assert!(
        view.quoted.starts_with("Re: Partnership opportunity\n"),
        "{}",
        view.quoted
    );
    // No thread, or nothing quoted: the subject is the sender's own.
    for raw in [
        &b"Subject: Re: Partnership opportunity\n\nNo thanks.\n> We would like to partner\n"[..],
        &b"Subject: Re: Partnership opportunity\nIn-Reply-To: <a@b>\n\nLet's partner.\n"[..],
    ] {
        let view = MessageView::parse(raw, false);
        assert_eq!(view.subject, "re: partnership opportunity");
    }
}

#[test]
fn sets_aside_what_others_are_quoted_as_saying() {
    let raw = "Subject: Offers\n\nVendor A calls itself \u{201c}your strategic partner \
        for growth\u{201d}, vendor B \u{ab}partenaire\u{bb}. B is cheaper.\n"
        .as_bytes();
    let view = MessageView::parse(raw, false);
    assert_eq!(
        view.body,
        r#"vendor a calls itself "", vendor b "". b is cheaper."#
    );
}

#[test]
fn single_quotation_marks_are_not_apostrophes() {
    let raw = "Subject: x\n\nThey say \u{2018}we\u{2019}re your partner\u{2019}, \
        we don't; the firms' offers, 'growth ally' and foto's.\n"
        .as_bytes();
    assert_eq!(
        MessageView::parse(raw, false).body,
        "they say '', we don't; the firms' offers, '' and foto's."
    );
}

#[test]
fn keeps_text_after_a_lone_or_distant_quotation_mark() {
    let long = "partner ".repeat(30);
    for (body, kept) in [
        (
            "A 27\" screen; we partner with you.",
            r#"a 27" screen; we partner with you."#,
        ),
        (
            &format!("\"{long}\" end") as &str,
            &format!("\"{long}\" end"),
        ),
    ] {
        let raw = format!("Subject: x\n\n{body}\n");
        assert_eq!(MessageView::parse(raw.as_bytes(), false).body, kept);
    }
}

#[test]
fn detects_bulk_and_fake_reply_facts() {
    let raw = b"Subject: RE: our call\nList-Unsubscribe: <mailto:u@example.com>\n\nHello";
    let facts = MessageView::parse(raw, true).facts;
    assert!(facts.reply_subject && !facts.references && facts.bulk && facts.truncated);
}

#[test]
fn a_forward_needs_its_prefix_and_a_forwarded_message() {
    let forward = |subject: &str, body: &str| {
        let raw = format!("Subject: {subject}\n\n{body}");
        MessageView::parse(raw.as_bytes(), false).facts.forwarded
    };
    let below = "FYI, another one.\n\n---------- Forwarded message ---------\n\
                 From: a@example.com\nSubject: Partnership\n\nWe would like to partner.\n";
    assert!(forward("Fwd: Partnership", below));
    assert!(forward("WG: Partnerschaft", below));
    assert!(forward("I: Proposta di collaborazione", below));
    // The prefix alone, or a forwarded message without it, is no forward.
    assert!(!forward(
        "Fwd: Partnership",
        "We would like to partner with you.\n"
    ));
    assert!(!forward("Partnership", below));
}

#[test]
fn a_forward_reads_the_subject_with_the_forwarded_message() {
    let raw = "Subject: TR: Proposition : devenir votre partenaire TI\n\n\
               Pour info, encore une firme.\n\n________________________________\n\
               De : Patrick <p@vendor.example>\nEnvoyé : 4 novembre 2025\n\
               À : Geneviève <g@coop.example>\nObjet : Proposition\n\n\
               Nous aimerions devenir votre partenaire TI.\n";
    let view = MessageView::parse(raw.as_bytes(), false);
    assert!(view.facts.forwarded);
    assert_eq!(view.subject, "");
    assert!(
        view.quoted.starts_with("TR: Proposition"),
        "{}",
        view.quoted
    );
    // Forwarding one's own earlier message keeps the subject one's own.
    let own = "From: Patrick <p@vendor.example>\nSubject: Fwd: Proposition\n\n\
               Following up.\n\n---------- Forwarded message ---------\n\
               From: Patrick <p@vendor.example>\nDate: Mon\nSubject: Proposition\n\n\
               We would like to partner.\n";
    let view = MessageView::parse(own.as_bytes(), false);
    assert_eq!(view.subject, "fwd: proposition");
}

#[test]
fn garbage_still_gives_a_view() {
    let view = MessageView::parse(b"", false);
    assert!(view.facts.unparseable);
    let view = MessageView::parse(&[0xff, 0xfe, b'\n', b'\n', b'o', b'k'], false);
    assert!(view.body.ends_with("ok"), "{:?}", view.body);
}

/// Splits plain text and returns the normalised pieces: new, quoted,
/// signature, postscript.
fn pieces(text: &str) -> [String; 4] {
    let mut parts = Parts::default();
    split::split(text, &mut parts);
    [
        normalize_lines(&parts.new).0,
        normalize_lines(&parts.quoted).0,
        normalize_lines(&parts.signature).0,
        normalize_lines(&parts.postscript).0,
    ]
}

#[test]
fn splits_quoted_and_forwarded_history() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "Thanks, no.\n\nOn Mon, 3 Jun 2024 at 10:00, Ann <ann@x.com> wrote:\n> We would like to partner\n> with you.\n",
            "thanks, no.",
            "on mon, 3 jun 2024 at 10:00, ann <ann@x.com> wrote: > we would like to partner > with you.",
        ),
        (
            // Gmail wraps long attributions onto a second line.
            "See below.\nOn Mon, Jun 3, 2024 at 10:00 AM Ann Example <\nann@example.com> wrote:\n> hi\n",
            "see below.",
            "on mon, jun 3, 2024 at 10:00 am ann example < ann@example.com> wrote: > hi",
        ),
        (
            // Interleaved answers stay new text.
            "Ann wrote:\n> Price?\nTen euros.\n> Date?\nMonday.\n",
            "ten euros. monday.",
            "ann wrote: > price? > date?",
        ),
        (
            "FYI\n\n-----Original Message-----\nFrom: Bob\nSent: Monday\nWe offer SEO services.\n",
            "fyi",
            "-----original message----- from: bob sent: monday we offer seo services.",
        ),
        (
            "fwd\n---------- Forwarded message ---------\nFrom: Vendor <v@x.com>\nDate: Mon\nSubject: Partnership\n\nLet's partner.\n",
            "fwd",
            "---------- forwarded message --------- from: vendor <v@x.com> date: mon subject: partnership let's partner.",
        ),
        (
            "Agreed.\n\n________________________________\n*From:* Vendor <v@x.com>\n*Sent:* Monday, June 3, 2024\n*To:* me\n*Subject:* Collab\n\nWe'd love to collaborate.\n",
            "agreed. ________________________________",
            "*from:* vendor <v@x.com> *sent:* monday, june 3, 2024 *to:* me *subject:* collab we'd love to collaborate.",
        ),
        (
            // Lotus Notes: a separator longer than most lines.
            "FYI\n\n---------------------- Forwarded by Steve Yoon/HOU/WBE on 02/07/2001 02:14 PM ---------------------------\n\nWe offer SEO services.\n",
            "fyi",
            "---------------------- forwarded by steve yoon/hou/wbe on 02/07/2001 02:14 pm --------------------------- we offer seo services.",
        ),
        (
            // GroupWise: one quoted header line, the message unquoted below.
            "Ignore.\n\n>>> \"Ann\" <ann@x.com> 02/10/06 4:48 PM >>>\nWe'd love to partner.\n",
            "ignore.",
            ">>> \"ann\" <ann@x.com> 02/10/06 4:48 pm >>> we'd love to partner.",
        ),
        (
            // An Outlook attribution without `>` marks: the rest is history.
            "Yes please.\nOn Monday, Ann wrote:\nWe would like to partner.\n",
            "yes please.",
            "on monday, ann wrote: we would like to partner.",
        ),
        (
            // At the top, an attribution introduces a bottom-posted answer
            // (here with an unusual quote mark).
            "On Thu, Joe wrote:\n--]Why wait?\n\nBecause.\n",
            "--]why wait? because.",
            "on thu, joe wrote:",
        ),
        (
            // A separator inside `>` quoting is part of the quote.
            "> -----Original Message-----\n> From: Joe\n> Sent: Sunday\n> To: Jiri\n> patch\n\nAcked.\n",
            "acked.",
            "> -----original message----- > from: joe > sent: sunday > to: jiri > patch",
        ),
        // German
        (
            "Danke, kein Interesse.\n\nAm 03.06.2024 um 10:00 schrieb Max Muster <max@x.de>:\n> Wir möchten mit Ihnen zusammenarbeiten.\n",
            "danke, kein interesse.",
            "am 03.06.2024 um 10:00 schrieb max muster <max@x.de>: > wir möchten mit ihnen zusammenarbeiten.",
        ),
        (
            "Siehe unten.\n\n-----Ursprüngliche Nachricht-----\nVon: Max\nGesendet: Montag\nAn: Eva\nBetreff: Kooperation\n\nUnsere Dienstleistungen\n",
            "siehe unten.",
            "-----ursprüngliche nachricht----- von: max gesendet: montag an: eva betreff: kooperation unsere dienstleistungen",
        ),
        (
            "Zur Info\nVon: Max <m@x.de>\nGesendet: Montag, 3. Juni 2024 10:00\nAn: Eva\nBetreff: Angebot\nWir bieten Ihnen\n",
            "zur info",
            "von: max <m@x.de> gesendet: montag, 3. juni 2024 10:00 an: eva betreff: angebot wir bieten ihnen",
        ),
        // French
        (
            "Merci, non.\n\nLe lun. 3 juin 2024 à 10:00, Jean <jean@x.fr> a écrit :\n> Nous aimerions devenir votre partenaire.\n",
            "merci, non.",
            "le lun. 3 juin 2024 à 10:00, jean <jean@x.fr> a écrit : > nous aimerions devenir votre partenaire.",
        ),
        (
            "Pour info\n\n-------- Message transféré --------\nDe : Jean\nDate : lundi\nÀ : moi\nObjet : Partenariat\n\nNos services\n",
            "pour info",
            "-------- message transféré -------- de : jean date : lundi à : moi objet : partenariat nos services",
        ),
        // Spanish
        (
            "No, gracias.\nEl lun, 3 jun 2024 a las 10:00, Ana <ana@x.es> escribió:\n> Ofrecemos servicios\n",
            "no, gracias.",
            "el lun, 3 jun 2024 a las 10:00, ana <ana@x.es> escribió: > ofrecemos servicios",
        ),
    ];
    for &(text, new, quoted) in cases {
        let [got_new, got_quoted, _, _] = pieces(text);
        assert_eq!(
            (got_new.as_str(), got_quoted.as_str()),
            (new, quoted),
            "{text:?}"
        );
    }
}

#[test]
fn keeps_text_that_only_looks_like_history() {
    let cases = [
        "From: the desk of our CEO\nWe offer SEO.\n",
        "--- Our services ---\nWeb design\n",
        "As our client wrote:\nGreat work.\n",
        "On Monday we launched.\nIt went well.\n",
        "Le produit est prêt.\nMerci\n",
    ];
    for text in cases {
        let [new, quoted, _, _] = pieces(text);
        assert_eq!(new, normalize(text), "{text:?}");
        assert_eq!(quoted, "", "{text:?}");
    }
}

#[test]
fn finds_signature_and_postscript() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "We build apps.\n\nBest regards,\nJohn Smith\nBusiness Development Manager\nAcme Ltd\n",
            "john smith business development manager acme ltd",
            "",
        ),
        (
            "Hi,\nlong text\n-- \nJane Doe | Head of Sales\n+1 555 0100\n",
            "jane doe | head of sales +1 555 0100",
            "",
        ),
        (
            "Let's talk.\n\nCheers - Mike\nGrowth Lead\n\nP.S. We'd love to partner with you.\n",
            "growth lead",
            "p.s. we'd love to partner with you.",
        ),
        (
            "Body.\n\nThanks,\nAnna\n\nPS: our rates start at $20/h\nand include QA\n\nunsubscribe\n",
            "anna unsubscribe",
            "ps: our rates start at $20/h and include qa",
        ),
        (
            "Short note.\n\nSent from my iPhone\n",
            "sent from my iphone",
            "",
        ),
        // German, French, Polish, Dutch, Spanish sign-offs.
        (
            "Wir bieten Entwicklung.\n\nMit freundlichen Grüßen\nMax Muster\nVertrieb\n",
            "max muster vertrieb",
            "",
        ),
        (
            "Nous proposons nos services.\n\nCordialement,\nJean Dupont\nResponsable commercial\n",
            "jean dupont responsable commercial",
            "",
        ),
        (
            "Oferujemy usługi.\n\nPozdrawiam,\nJan Kowalski\n",
            "jan kowalski",
            "",
        ),
        (
            "Wij bieden diensten.\n\nMet vriendelijke groet,\nPiet\n",
            "piet",
            "",
        ),
        ("Ofrecemos servicios.\n\nSaludos,\nAna\n", "ana", ""),
    ];
    for &(text, signature, postscript) in cases {
        let [new, _, got_signature, got_postscript] = pieces(text);
        assert_eq!(new, normalize(text), "body keeps everything: {text:?}");
        assert_eq!(got_signature, signature, "{text:?}");
        assert_eq!(got_postscript, postscript, "{text:?}");
    }
}

#[test]
fn finds_no_signature_where_there_is_none() {
    let cases = [
        "Thanks for your time yesterday.\nThe report is attached.\n",
        "Bestätigung\nIhre Bestellung ist unterwegs.\n",
        "Best practices:\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n",
        "Regards,\n",
        "Pspice files attached.\nPsychology notes too.\n",
    ];
    for text in cases {
        let [_, _, signature, postscript] = pieces(text);
        assert_eq!(
            (signature.as_str(), postscript.as_str()),
            ("", ""),
            "{text:?}"
        );
    }
}

#[test]
fn view_carries_quoted_signature_and_postscript() {
    let raw = b"Subject: Re: intro\nIn-Reply-To: <a@b>\n\n\
        Happy to help.\n\nBest,\nAnn\nPartnerships Manager\n\nP.S. See you Monday.\n\n\
        On Mon, Bob <b@x.com> wrote:\n> Can we partner?\n";
    let view = MessageView::parse(raw, false);
    assert_eq!(
        view.body,
        "happy to help. best, ann partnerships manager p.s. see you monday."
    );
    assert_eq!(
        view.quoted,
        "Re: intro\nOn Mon, Bob <b@x.com> wrote:\n> Can we partner?"
    );
    assert_eq!(view.signature, "ann partnerships manager");
    assert_eq!(view.postscript, "p.s. see you monday.");
}

#[test]
fn reads_the_html_alternative_not_a_decoy_plain_part() {
    let raw = b"Subject: hi\nContent-Type: multipart/alternative; boundary=b\n\n--b\n\
        Content-Type: text/plain\n\nYour statement is ready.\n--b\nContent-Type: text/html\n\n\
        <p>We would love to partner with you.</p>\n--b--\n";
    let view = MessageView::parse(raw, false);
    assert_eq!(view.body, "we would love to partner with you.");
}

#[test]
fn html_body_is_split_like_plain_text() {
    let raw = b"Subject: Re: x\nContent-Type: text/html\n\n\
        <div>No thanks.</div><div class=\"gmail_quote\"><div>On Mon, Bob wrote:</div>\
        <blockquote class=\"gmail_quote\">We would like to partner</blockquote></div>";
    let view = MessageView::parse(raw, false);
    assert_eq!(view.body, "no thanks.");
    assert_eq!(
        view.quoted,
        "> On Mon, Bob wrote:\n> We would like to partner"
    );
}

#[test]
fn reports_obfuscation_hidden_text_and_tracking_pixels() {
    let cases: &[(&[u8], Facts)] = &[
        (
            b"Subject: our p a r t n e r s h i p offer\n\nOur s\xe2\x80\x8be\xe2\x80\x8brvices",
            Facts {
                obfuscations: 3,
                obfuscated: true,
                ..Facts::default()
            },
        ),
        (
            "Subject: hi\n\nWe'd love to раrtnеr. Our serv1ces are cheap.".as_bytes(),
            Facts {
                obfuscations: 2,
                obfuscated: true,
                ..Facts::default()
            },
        ),
        (
            b"Subject: hi\n\nOne partn3r only.",
            Facts {
                obfuscations: 1,
                ..Facts::default()
            },
        ),
        (
            b"Subject: hi\nContent-Type: text/html\n\n<p>Hello</p>\
              <div style=\"display:none\">partner agency outsourcing offshore</div>\
              <img src=\"https://t.example/p.gif\" width=\"1\" height=\"1\">",
            Facts {
                hidden_text: true,
                tracking_pixel: true,
                ..Facts::default()
            },
        ),
        (
            // A hidden word or two is layout, not a disguise.
            b"Subject: hi\nContent-Type: text/html\n\n<p>Hello</p><span style=\"display:none\">Preview</span>",
            Facts::default(),
        ),
        (
            // The HTML alternative of a plain-text body is what is read.
            b"Subject: hi\nContent-Type: multipart/alternative; boundary=b\n\n--b\n\
              Content-Type: text/plain\n\nHello\n--b\nContent-Type: text/html\n\n\
              <p>Hello</p><span style=\"font-size:0\">we are your outsourcing partner</span>\n--b--\n",
            Facts {
                hidden_text: true,
                ..Facts::default()
            },
        ),
    ];
    for (raw, expected) in cases {
        let facts = MessageView::parse(raw, false).facts;
        assert_eq!(&facts, expected, "{}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn a_follow_up_quoting_the_senders_own_pitch_keeps_it_in_the_body() {
    let follow_up = b"From: Bianca Ferri <bianca@crm.example>\nSubject: following up\n\n\
        Bumping this.\n\n-----Original Message-----\n\
        From: Bianca Ferri <bianca@crm.example>\nSent: Tuesday\nTo: Lucas\n\
        Subject: CRM\n\nWe'd love to partner with you.\n";
    let view = MessageView::parse(follow_up, false);
    assert!(view.facts.quotes_self);
    assert!(
        view.body
            .starts_with("bumping this. -----original message-----")
    );
    assert!(view.body.ends_with("we'd love to partner with you."));
    let reply = b"From: Lucas <lucas@print.example>\nSubject: Re: CRM\n\n\
        No thanks.\n\nOn Tue, Bianca Ferri <bianca@crm.example> wrote:\n\
        > We'd love to partner with you.\n";
    let view = MessageView::parse(reply, false);
    assert!(!view.facts.quotes_self);
    assert_eq!(view.body, "no thanks.");
}

#[test]
fn forwarding_ones_own_message_is_a_note_only_within_ones_domain() {
    let forward = |to: &str| {
        let raw = format!(
            "From: Bianca Ferri <bianca@crm.example>\nTo: {to}\nSubject: Fwd: CRM\n\n\
             Did this get buried?\n\n-----Original Message-----\n\
             From: Bianca Ferri <bianca@crm.example>\nSent: Tuesday\n\
             Subject: CRM\n\nWe'd love to partner with you.\n"
        );
        MessageView::parse(raw.as_bytes(), false).facts
    };
    // To the prospect: a follow-up, its pitch the sender's own.
    let facts = forward("Lucas <lucas@print.example>");
    assert!(facts.quotes_self && !facts.forwarded);
    // To colleagues, in `To` or `Cc`: a note about it.
    assert!(forward("Sales <sales@CRM.example>").forwarded);
    assert!(forward("lucas@print.example\nCc: team@crm.example").forwarded);
    // A domain that only begins with the sender's is another.
    assert!(!forward("x@crm.example.net").forwarded);
}

#[test]
fn a_single_part_with_a_broken_content_type_is_still_the_body() {
    let raw = b"Subject: offer\nContent-Type: TEXT/PLAIN charset=US-ASCII\n\nWe offer software.\n";
    assert_eq!(MessageView::parse(raw, false).body, "we offer software.");
}

#[test]
fn quoted_history_is_cut_as_the_joined_text_would_be() {
    let lines = ["ab", "çd", "", "éé x"];
    let joined = "ab\nçd\n\néé x\n";
    for max in 0..=joined.len() + 1 {
        let cut = &joined[..floor_char_boundary(joined, max)];
        let kept = first_bytes(&lines, max);
        let text: String = kept.iter().map(|line| format!("{line}\n")).collect();
        // The same text, at most a line break longer.
        let rest = text.strip_prefix(cut);
        assert!(
            rest.is_some_and(|r| r.is_empty() || r == "\n"),
            "{max}: {text:?}"
        );
        assert_eq!(normalize_lines(&kept), normalize_counting(cut), "{max}");
    }
}

#[test]
fn a_name_block_is_a_signature_without_a_sign_off() {
    let [_, _, signature, _] = pieces(
        "I can send three examples.\n\nKwame Asante\nProducer, ReelRoot Films\n\
         Your video partner from script to screen\n0161 496 0023\n",
    );
    assert_eq!(
        signature,
        "kwame asante producer, reelroot films your video partner from script to screen 0161 496 0023"
    );
    for text in [
        // A last paragraph of sentences, a list, a single line: no signature.
        "Hello.\n\nWe met at the fair.\nIt was good to talk.\n",
        "Hello.\n\n- onboarding\n- pricing\n",
        "Hello.\n\nKwame Asante\n",
    ] {
        assert_eq!(pieces(text)[2], "", "{text:?}");
    }
}
