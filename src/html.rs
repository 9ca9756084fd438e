//! HTML to the text a reader sees. Scripts, styles, the head, comments and
//! content hidden by inline CSS or the `hidden` attribute are left out;
//! image alt text is kept; block elements end lines; quoted replies
//! (`<blockquote type="cite">`, Gmail's and Yahoo's quote classes) come out
//! as `> ` lines, as in plain text. A plain `<blockquote>` is someone else's
//! words too (a digest quoting a post, a reply quoting a line), unless the
//! sender wrote next to nothing outside it: a message that is one big
//! blockquote is the sender's own text. How much text was hidden and whether a
//! tracking pixel was found are reported as facts.
//!
//! One forward pass with an explicit element stack, no recursion: deep
//! nesting, unclosed tags and megabyte attributes cost time in proportion
//! to their length and nothing more.

mod css;
mod entity;
mod writer;

use css::{Colour, Style};
use std::collections::HashMap;
use writer::Writer;

/// The visible text of an HTML part and what the markup hid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Html {
    /// Visible text: one line per block, `> ` before quoted lines.
    pub text: String,
    /// Letters of text that the markup hides from the reader, after the
    /// first visible text.
    pub hidden_letters: usize,
    /// A 1×1, zero-sized or hidden remote image: a read receipt.
    pub tracking_pixel: bool,
}

/// Letters the sender must write outside plain `<blockquote>`s for those to
/// count as quoted: about a sentence.
const OWN_TEXT_LETTERS: usize = 40;

/// Converts HTML to the text a reader sees.
pub fn to_text(html: &str) -> Html {
    let parser = parse(html, true);
    if parser.plain_quoted && own_letters(&parser.out.text) < OWN_TEXT_LETTERS {
        return finish(parse(html, false));
    }
    finish(parser)
}

/// One pass over `html`; `plain_quotes` reads a plain `<blockquote>` as
/// quoted.
fn parse(html: &str, plain_quotes: bool) -> Parser<'_> {
    let mut parser = Parser {
        html,
        pos: 0,
        stack: Vec::new(),
        open: HashMap::new(),
        out: Writer::default(),
        result: Html::default(),
        seen_text: false,
        plain_quotes,
        plain_quoted: false,
    };
    parser.run();
    parser
}

/// Letters on the lines that are not quoted.
fn own_letters(text: &str) -> usize {
    text.lines()
        .filter(|line| !line.starts_with('>'))
        .map(|line| line.chars().filter(|c| c.is_alphabetic()).count())
        .sum()
}

fn finish(mut parser: Parser<'_>) -> Html {
    let mut text = parser.out.text;
    text.truncate(text.trim_end_matches('\n').len());
    parser.result.text = text;
    parser.result
}

/// Elements whose content is not text at all: skipped to their end tag.
const RAW_TEXT: &[&str] = &[
    "script", "style", "title", "textarea", "xmp", "iframe", "noembed", "noframes",
];

/// Elements without content or end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Elements that start and end a line.
const BLOCK: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "html",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "tr",
    "ul",
];

/// Elements whose content a reader never sees, without it being a
/// disguise: the head, templates, Office's XML islands.
const SILENT: &[&str] = &["head", "template", "xml"];

/// Opening one of these closes an open element of the listed names on top
/// of the stack (a new `<li>` ends the last one): HTML's implied end tags.
fn implied_ends(name: &str) -> &'static [&'static str] {
    match name {
        "p" => &["p"],
        "li" => &["li", "p"],
        "dt" | "dd" => &["dt", "dd", "p"],
        "tr" => &["td", "th", "tr"],
        "td" | "th" => &["td", "th"],
        "option" => &["option"],
        _ => &[],
    }
}

/// Whether the reader sees an element's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Visibility {
    Visible,
    /// Hidden by style, attribute or colour: a possible disguise.
    Hidden,
    /// Not content (the head): left out without counting.
    Silent,
}

/// An open element.
struct Element {
    name: u64,
    block: bool,
    quote: bool,
    pre: bool,
    /// Hidden by display, size or the `hidden` attribute, inherited.
    hidden: Visibility,
    /// In a font too small to read, or `visibility: hidden`: inherited,
    /// but a descendant may undo it.
    tiny_font: bool,
    invisible: bool,
    /// The text colour and the background behind it, inherited.
    colour: Colour,
    background: Colour,
    /// Where a link's web address lies in the source, to write after its
    /// text as plain-text mail does (`Book a call (https://…)`): rules
    /// read calendar and tracking links.
    href: Option<(usize, usize)>,
}

impl Element {
    /// What happens to text directly inside this element.
    fn text_visibility(&self) -> Visibility {
        let unreadable =
            self.tiny_font || self.invisible || css::invisible_ink(self.colour, self.background);
        match self.hidden {
            Visibility::Visible if unreadable => Visibility::Hidden,
            v => v,
        }
    }
}

/// The attributes the converter reads.
#[derive(Default)]
struct Attributes<'a> {
    style: Option<&'a str>,
    hidden: bool,
    alt: Option<&'a str>,
    src: Option<&'a str>,
    href: Option<&'a str>,
    width: Option<&'a str>,
    height: Option<&'a str>,
    colour: Option<&'a str>,
    bgcolor: Option<&'a str>,
    class: Option<&'a str>,
    cite: bool,
}

struct Parser<'a> {
    html: &'a str,
    pos: usize,
    stack: Vec<Element>,
    /// How many elements of each name are open, so that a stray end tag is
    /// ignored at once instead of searching the whole stack.
    open: HashMap<u64, u32>,
    out: Writer,
    result: Html,
    /// Visible text with a letter has been written.
    seen_text: bool,
    /// A `<blockquote>` without `type="cite"` is read as quoted.
    plain_quotes: bool,
    /// One was.
    plain_quoted: bool,
}

impl<'a> Parser<'a> {
    fn run(&mut self) {
        while self.pos < self.html.len() {
            let rest = &self.html[self.pos..];
            let Some(lt) = rest.find('<') else {
                self.text(rest);
                break;
            };
            self.text(&rest[..lt]);
            self.pos += lt;
            self.markup();
        }
    }

    fn visibility(&self) -> Visibility {
        self.stack
            .last()
            .map_or(Visibility::Visible, Element::text_visibility)
    }

    fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        match self.visibility() {
            Visibility::Visible => {
                self.out.text(text);
                self.seen_text |= text.chars().any(char::is_alphabetic);
            }
            // A hidden line before any visible text is the preview line
            // newsletters write for the inbox list (a "preheader"), not a
            // disguise.
            Visibility::Hidden if self.seen_text => self.result.hidden_letters += letters(text),
            Visibility::Hidden | Visibility::Silent => {}
        }
    }

    /// At a `<`: a comment, a declaration, an end tag, a start tag, or a
    /// plain `<` in text.
    fn markup(&mut self) {
        let rest = &self.html[self.pos..];
        let next = rest.as_bytes().get(1).copied().unwrap_or(0);
        if rest.starts_with("<!-->") || rest.starts_with("<!--->") {
            self.skip_past(2, ">");
        } else if rest.starts_with("<!--") {
            self.skip_past(4, "-->");
        } else if next == b'!' || next == b'?' {
            self.skip_past(1, ">");
        } else if next == b'/' && rest.as_bytes().get(2).is_some_and(u8::is_ascii_alphabetic) {
            self.end_tag();
        } else if next.is_ascii_alphabetic() {
            self.start_tag();
        } else {
            self.text("<");
            self.pos += 1;
        }
    }

    /// Moves past the next `end` found after `from` bytes, or to the end.
    fn skip_past(&mut self, from: usize, end: &str) {
        let start = (self.pos + from).min(self.html.len());
        self.pos = self.html[start..]
            .find(end)
            .map_or(self.html.len(), |i| start + i + end.len());
    }

    fn tag_name(&mut self) -> &'a str {
        let html = self.html;
        let rest = &html[self.pos..];
        let len = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    fn end_tag(&mut self) {
        self.pos += 2;
        let name = self.tag_name();
        self.skip_past(0, ">");
        let id = name_id(name);
        if self.open.get(&id).copied().unwrap_or(0) > 0 {
            while let Some(element) = self.pop() {
                if element.name == id {
                    break;
                }
            }
        } else if name.eq_ignore_ascii_case("p") || name.eq_ignore_ascii_case("br") {
            self.out.newline();
        }
    }

    fn pop(&mut self) -> Option<Element> {
        let element = self.stack.pop()?;
        if let Some(n) = self.open.get_mut(&element.name) {
            *n -= 1;
        }
        self.out.quote_depth -= usize::from(element.quote);
        self.out.pre_depth -= usize::from(element.pre);
        if let Some((start, end)) = element.href
            && element.text_visibility() == Visibility::Visible
        {
            self.out.text(" (");
            self.out.text(&self.html[start..end]);
            self.out.text(")");
        }
        if element.block {
            self.out.newline();
        }
        Some(element)
    }

    fn start_tag(&mut self) {
        self.pos += 1;
        let raw_name = self.tag_name();
        let (attributes, self_closing) = self.attributes();
        let mut buf = [0u8; 16];
        let name = lower(raw_name, &mut buf);
        if RAW_TEXT.contains(&name) {
            self.skip_raw_text(name);
            return;
        }
        for _ in 0..2 {
            let top = self.stack.last().map(|e| e.name);
            if top.is_some_and(|t| implied_ends(name).iter().any(|&n| name_id(n) == t)) {
                self.pop();
            }
        }
        match name {
            "br" => self.out.newline(),
            "img" => self.image(&attributes),
            "td" | "th" => self.out.space(),
            _ => {}
        }
        let block = BLOCK.contains(&name);
        if block {
            self.out.newline();
        }
        if VOID.contains(&name) || self_closing {
            return;
        }
        self.push(name, raw_name, block, &attributes);
    }

    fn push(&mut self, name: &str, raw_name: &str, block: bool, attributes: &Attributes<'_>) {
        let parent = self.stack.last();
        let style = attributes.style.map(Style::parse).unwrap_or_default();
        let inherited = parent.map_or(Visibility::Visible, |p| p.hidden);
        let hidden = if SILENT.contains(&name) || inherited == Visibility::Silent {
            Visibility::Silent
        } else if inherited == Visibility::Hidden || attributes.hidden || style.hidden {
            Visibility::Hidden
        } else {
            Visibility::Visible
        };
        let colour = style
            .colour
            .or(attributes.colour.map(Colour::parse))
            .filter(|&c| c != Colour::Unset)
            .unwrap_or(parent.map_or(Colour::Unset, |p| p.colour));
        let background = style
            .background
            .or(attributes.bgcolor.map(Colour::parse))
            .filter(|&c| c != Colour::Unset)
            .unwrap_or(parent.map_or(Colour::Unset, |p| p.background));
        let plain_quote = name == "blockquote" && !attributes.cite && self.plain_quotes;
        self.plain_quoted |= plain_quote;
        let quote = (name == "blockquote" && attributes.cite)
            || plain_quote
            || attributes.class.is_some_and(is_quote_class);
        let pre = name == "pre";
        let element = Element {
            name: name_id(raw_name),
            block,
            quote,
            pre,
            hidden,
            tiny_font: style
                .tiny_font
                .unwrap_or(parent.is_some_and(|p| p.tiny_font)),
            invisible: style
                .invisible
                .unwrap_or(parent.is_some_and(|p| p.invisible)),
            colour,
            background,
            href: attributes.href.filter(|_| name == "a").and_then(|href| {
                let lower = href.trim_start().get(..8)?.to_ascii_lowercase();
                let web = lower.starts_with("http://") || lower.starts_with("https://");
                let start = href.as_ptr() as usize - self.html.as_ptr() as usize;
                web.then_some((start, start + href.len()))
            }),
        };
        *self.open.entry(element.name).or_default() += 1;
        self.out.quote_depth += usize::from(quote);
        self.out.pre_depth += usize::from(pre);
        self.stack.push(element);
    }

    /// Keeps the alt text of a visible image; notes a tracking pixel.
    fn image(&mut self, attributes: &Attributes<'_>) {
        let style = attributes.style.map(Style::parse).unwrap_or_default();
        // Text colour and font size do not hide an image; display, size
        // and visibility do.
        let parent = self.stack.last();
        let inherited = parent.map_or(Visibility::Visible, |e| e.hidden);
        let invisible = style
            .invisible
            .unwrap_or(parent.is_some_and(|p| p.invisible));
        let hidden =
            style.hidden || attributes.hidden || invisible || inherited != Visibility::Visible;
        let tiny = |attr: Option<&str>, css: Option<f32>| {
            css.or_else(|| attr.and_then(css::length))
                .is_some_and(|px| px <= 1.0)
        };
        let width = tiny(attributes.width, style.width);
        let height = tiny(attributes.height, style.height);
        let remote = attributes.src.is_some_and(|src| {
            let src = src.trim_start().to_ascii_lowercase();
            src.starts_with("http://") || src.starts_with("https://") || src.starts_with("//")
        });
        if remote && (hidden || (width && height)) {
            self.result.tracking_pixel = true;
        }
        if let Some(alt) = attributes.alt.filter(|_| !hidden) {
            self.out.space();
            self.out.text(alt);
            self.out.space();
        }
    }

    /// Skips the content of a raw-text element to its end tag.
    fn skip_raw_text(&mut self, name: &str) {
        let html = self.html.as_bytes();
        let mut at = self.pos;
        while let Some(i) = self.html[at..].find("</") {
            let start = at + i + 2;
            let end = start + name.len();
            if html.len() >= end && html[start..end].eq_ignore_ascii_case(name.as_bytes()) {
                self.pos = start;
                self.skip_past(0, ">");
                return;
            }
            at = start;
        }
        self.pos = self.html.len();
    }

    /// Reads the attributes of a start tag up to its `>`; returns them and
    /// whether the tag closed itself (`/>`).
    fn attributes(&mut self) -> (Attributes<'a>, bool) {
        let html = self.html;
        let bytes = html.as_bytes();
        let mut attributes = Attributes::default();
        loop {
            while self.pos < bytes.len() && bytes[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            match bytes.get(self.pos) {
                None => return (attributes, false),
                Some(b'>') => {
                    self.pos += 1;
                    return (attributes, false);
                }
                Some(b'/') if bytes.get(self.pos + 1) == Some(&b'>') => {
                    self.pos += 2;
                    return (attributes, true);
                }
                Some(b'/') => self.pos += 1,
                Some(_) => {
                    let (name, value) = self.attribute();
                    attributes.set(name, value);
                }
            }
        }
    }

    /// One `name`, `name=value`, `name="value"` or `name='value'`.
    fn attribute(&mut self) -> (&'a str, &'a str) {
        let html = self.html;
        let rest = &html[self.pos..];
        // The first character belongs to the name even if it is `=`.
        let first = rest.chars().next().map_or(0, char::len_utf8);
        let name_len = rest[first..]
            .find(|c: char| c.is_ascii_whitespace() || matches!(c, '=' | '>' | '/'))
            .map_or(rest.len(), |i| i + first);
        let name = &rest[..name_len];
        self.pos += name_len;
        let after = &html[self.pos..];
        let trimmed = after.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let Some(value) = trimmed.strip_prefix('=') else {
            return (name, "");
        };
        let value = value.trim_start_matches(|c: char| c.is_ascii_whitespace());
        self.pos = html.len() - value.len();
        let (text, consumed) = match value.as_bytes().first() {
            Some(&q @ (b'"' | b'\'')) => match value[1..].find(char::from(q)) {
                Some(end) => (&value[1..=end], end + 2),
                None => (&value[1..], value.len()),
            },
            _ => {
                let end = value
                    .find(|c: char| c.is_ascii_whitespace() || c == '>')
                    .unwrap_or(value.len());
                (&value[..end], end)
            }
        };
        self.pos += consumed;
        (name, text)
    }
}

impl<'a> Attributes<'a> {
    fn set(&mut self, name: &str, value: &'a str) {
        let mut buf = [0u8; 16];
        match lower(name, &mut buf) {
            "style" => self.style = Some(value),
            "hidden" => self.hidden = true,
            "alt" => self.alt = Some(value),
            "src" => self.src = Some(value),
            "href" => self.href = Some(value),
            "width" => self.width = Some(value),
            "height" => self.height = Some(value),
            "color" => self.colour = Some(value),
            "bgcolor" => self.bgcolor = Some(value),
            "class" | "id" => self.class = Some(value),
            "type" => self.cite = value.eq_ignore_ascii_case("cite"),
            _ => {}
        }
    }
}

/// The letters of text with its character references decoded (hidden
/// preheaders pad with `&zwnj;&nbsp;`, which must not count).
fn letters(text: &str) -> usize {
    let mut count = 0;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let (c, len) = match c {
            '&' => entity::decode(rest).unwrap_or(('&', 1)),
            c => (c, c.len_utf8()),
        };
        count += usize::from(c.is_alphabetic());
        rest = &rest[len..];
    }
    count
}

/// Classes and ids mail clients put on quoted replies.
fn is_quote_class(class: &str) -> bool {
    let class = class.to_ascii_lowercase();
    [
        "gmail_quote",
        "yahoo_quoted",
        "protonmail_quote",
        "moz-cite-prefix",
    ]
    .iter()
    .any(|c| class.contains(c))
}

/// Lower-cases a short ASCII name into `buf`; longer or odd names become
/// `""`, which matches no known element.
fn lower<'b>(name: &str, buf: &'b mut [u8; 16]) -> &'b str {
    if name.len() > buf.len() || !name.is_ascii() {
        return "";
    }
    let buf = &mut buf[..name.len()];
    buf.copy_from_slice(name.as_bytes());
    buf.make_ascii_lowercase();
    std::str::from_utf8(buf).unwrap_or("")
}

/// A case-insensitive hash of an element name (FNV-1a), so that names of
/// any length are compared without allocating.
fn name_id(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
