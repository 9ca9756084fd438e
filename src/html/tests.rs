use super::*;

#[test]
fn visible_text_with_lines_for_blocks() {
    let cases = [
        (
            "<p>Hello <b>world</b></p><p>Second</p>",
            "Hello world\nSecond",
        ),
        ("a<br>b<br/>c", "a\nb\nc"),
        ("<div>one\n  two</div>three", "one two\nthree"),
        ("<ul><li>x<li>y</ul>", "x\ny"),
        ("<table><tr><td>a<td>b<tr><td>c</table>", "a b\nc"),
        ("<pre>keep\nlines</pre>", "keep\nlines"),
        ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
        ("<P CLASS=x>Upper</P>", "Upper"),
        (
            "<a href=\"https://cal.example/x?a=1&amp;b=2\">Book a call</a>, <a href=\"mailto:x@y\">mail</a>",
            "Book a call (https://cal.example/x?a=1&b=2), mail",
        ),
    ];
    for (html, expected) in cases {
        assert_eq!(to_text(html).text, expected, "{html:?}");
    }
}

#[test]
fn drops_what_is_not_content() {
    let cases = [
        "<head><title>T</title><meta charset=utf-8></head><body>shown</body>",
        "<script>var x = '<p>no</p>';</script>shown",
        "<style>p { color: red }</style>shown<STYLE>x</STYLE >",
        "<!-- hidden comment -->shown<!---->",
        "<!DOCTYPE html><?xml version='1.0'?>shown",
        "<!--[if mso]>outlook only<![endif]-->shown",
        "<template>t</template>shown",
    ];
    for html in cases {
        let result = to_text(html);
        assert_eq!(result.text, "shown", "{html:?}");
        assert_eq!(result.hidden_letters, 0, "{html:?}");
    }
}

#[test]
fn decodes_entities() {
    let cases = [
        ("caf&eacute; &amp; bar", "café & bar"),
        ("&#112;&#x61;&#X72;tner", "partner"),
        ("&lt;b&gt; &quot;x&quot; &rsquo;", "<b> \"x\" \u{2019}"),
        ("a&nbsp;b &nbspc", "a\u{a0}b \u{a0}c"),
        (
            "AT&T &unknown; &#0; &#99999999;",
            "AT&T &unknown; \u{fffd} \u{fffd}",
        ),
        ("Wsp&oacute;&lstrok;praca", "Współpraca"),
    ];
    for (html, expected) in cases {
        assert_eq!(to_text(html).text, expected, "{html:?}");
    }
}

#[test]
fn leaves_out_hidden_content_and_counts_it() {
    let hidden = "we partner with agencies like yours";
    let letters = hidden.chars().filter(|c| c.is_alphabetic()).count();
    let wrappers = [
        "<div style=\"display:none\">{}</div>",
        "<span style='DISPLAY: none !important'>{}</span>",
        "<p style=\"visibility:hidden\">{}</p>",
        "<span style=\"font-size:0\">{}</span>",
        "<span style=\"font-size: 1px\">{}</span>",
        "<span style=\"font-size:0px;line-height:0\">{}</span>",
        "<div style=\"max-height:0;overflow:hidden\">{}</div>",
        "<div style=\"opacity:0\">{}</div>",
        "<div style=\"width:0;height:0;overflow:hidden\">{}</div>",
        "<div hidden>{}</div>",
        "<span style=\"color:#fff\">{}</span>",
        "<span style=\"color:#FFFFFF\">{}</span>",
        "<font color=\"white\">{}</font>",
        "<div style=\"background:#fff\"><span style=\"color:rgb(255,255,255)\">{}</span></div>",
        "<td bgcolor=\"#336699\"><font color=\"#336699\">{}</font></td>",
        "<div style=\"background-color:#000\"><span style=\"color:#0a0a0a\">{}</span></div>",
        "<div style=\"display:none\"><p><b>{}</b></p></div>",
    ];
    for wrapper in wrappers {
        let html = format!("<p>Hello</p>{}<p>Bye</p>", wrapper.replace("{}", hidden));
        let result = to_text(&html);
        assert_eq!(result.text, "Hello\nBye", "{html}");
        assert_eq!(result.hidden_letters, letters, "{html}");
    }
}

#[test]
fn a_hidden_preview_line_before_the_text_is_not_counted() {
    let html = "<body><div style=\"display:none;max-height:0;overflow:hidden\">\
        Our biggest sale of the year starts today</div><img alt=\"Logo\"><p>Hello</p>\
        <span style=\"font-size:0\">partner agency outsourcing</span></body>";
    let result = to_text(html);
    assert_eq!(result.text, "Logo\nHello");
    assert_eq!(result.hidden_letters, "partneragencyoutsourcing".len());
}

#[test]
fn a_child_may_undo_a_tiny_font_or_hidden_visibility() {
    let html = "<p>Hi</p><td style=\"font-size:0\"><div style=\"font-size:14px\">Shown</div>x</td>\
        <div style=\"visibility:hidden\"><span style=\"visibility:visible\">Also</span>y</div>";
    let result = to_text(html);
    assert_eq!(result.text, "Hi\nShown\nAlso");
    assert_eq!(result.hidden_letters, 2);
}

#[test]
fn keeps_text_that_only_looks_hidden() {
    let cases = [
        // White text on a dark button is visible.
        "<td bgcolor=\"#1a73e8\"><a style=\"color:#ffffff\">Shown</a></td>",
        "<div style=\"background:url(bg.png) #000\"><span style=\"color:#fff\">Shown</span></div>",
        "<div style=\"background: navy\"><span style=\"color:white\">Shown</span></div>",
        // A child sets a readable colour again.
        "<div style=\"color:#fff\"><span style=\"color:#333\">Shown</span></div>",
        "<span style=\"font-size:12px;color:#fefefe;background:#333\">Shown</span>",
        "<span style=\"display:block\">Shown</span>",
        "<div style=\"height:auto;width:100%\">Shown</div>",
        // A zero-size box without `overflow: hidden` lets its content show.
        "<div style=\"height:0\">Shown</div>",
        "<div style=\"color: inherit\">Shown</div>",
        // A hidden element that closed does not hide what follows.
        "<span style=\"display:none\">x</span>Shown",
        "<p style=\"display:none\">x<p>Shown",
    ];
    for html in cases {
        let result = to_text(html);
        assert!(result.text.ends_with("Shown"), "{html}: {:?}", result.text);
    }
}

#[test]
fn keeps_image_alt_text_and_finds_tracking_pixels() {
    let cases = [
        (
            "<img src=\"logo.png\" alt=\"Acme Partners\">",
            "Acme Partners",
            false,
        ),
        (
            "<img src=\"https://t.example/o.gif\" width=\"1\" height=\"1\">",
            "",
            true,
        ),
        (
            "<img src='http://t.example/o' style='width:1px;height:1px' alt=''>",
            "",
            true,
        ),
        ("<img src=\"//t.example/o\" width=0 height=0>", "", true),
        (
            "<img src=\"https://t.example/o\" style=\"display:none\" alt=\"x\">",
            "",
            true,
        ),
        (
            "<div style=\"display:none\"><img src=\"https://t.example/o\"></div>",
            "",
            true,
        ),
        ("<img src=\"cid:logo\" width=\"1\" height=\"1\">", "", false),
        (
            "<img src=\"https://cdn.example/hero.jpg\" width=\"600\" height=\"1\">",
            "",
            false,
        ),
        (
            "<img src=\"https://cdn.example/hero.jpg\" width=\"600\" alt=\"Hero\">",
            "Hero",
            false,
        ),
    ];
    for (html, text, pixel) in cases {
        let result = to_text(html);
        assert_eq!(result.text, text, "{html}");
        assert_eq!(result.tracking_pixel, pixel, "{html}");
    }
}

#[test]
fn marks_quoted_replies() {
    let html = "<div>Thanks, no.</div><div class=\"gmail_quote\"><div>On Mon, A wrote:</div>\
        <blockquote class=\"gmail_quote\"><p>We would like to partner</p><p>Call?</p></blockquote></div>\
        <blockquote type=\"cite\">Older</blockquote><blockquote>A testimonial</blockquote>";
    assert_eq!(
        to_text(html).text,
        "Thanks, no.\n> On Mon, A wrote:\n> We would like to partner\n> Call?\n> Older\nA testimonial"
    );
}

#[test]
fn a_plain_blockquote_is_quoted_unless_it_is_all_the_sender_wrote() {
    let digest = "<h3>Hot thread this week</h3><p>A member shared an offer she received:</p>\
        <blockquote>We'd love to partner with you, fee $349</blockquote><p>Replies: skip it.</p>";
    assert_eq!(
        to_text(digest).text,
        "Hot thread this week\nA member shared an offer she received:\n\
         > We'd love to partner with you, fee $349\nReplies: skip it."
    );
    let wrapped = "<p>Hi,</p><blockquote>We'd love to partner with you, fee $349</blockquote>";
    assert_eq!(
        to_text(wrapped).text,
        "Hi,\nWe'd love to partner with you, fee $349"
    );
}

#[test]
fn survives_hostile_markup_in_linear_time() {
    let deep = "<div>".repeat(200_000) + "deep" + &"</span>".repeat(200_000);
    assert_eq!(to_text(&deep).text, "deep");
    let unclosed = "seen".to_owned() + &"<div style=\"display:none\">".repeat(50_000) + "x";
    assert_eq!(to_text(&unclosed).hidden_letters, 1);
    let attribute = format!("<p title=\"{}\">after</p>", "a".repeat(1 << 20));
    assert_eq!(to_text(&attribute).text, "after");
    let open_quote = format!("<p title=\"{}", "b".repeat(1 << 20));
    assert_eq!(to_text(&open_quote).text, "");
    let lt = "<".repeat(100_000) + "</" + &"<!".repeat(50_000);
    assert!(to_text(&lt).text.starts_with("<<<"));
    let raw = "<script>".repeat(100_000);
    assert_eq!(to_text(&raw).text, "");
    for junk in [
        "<", "</", "<a", "<a b", "<a b=", "<a b='", "&", "&#", "&#x", "<!--", "<é=é>",
    ] {
        to_text(junk);
    }
}
