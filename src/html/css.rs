//! The little of CSS that decides whether text is visible: inline
//! declarations, colours and lengths. Anything not understood counts as
//! visible, so that an odd style never hides honest text.

/// A colour as far as visibility goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    /// Not set, transparent or inherited: what the parent has.
    Unset,
    Rgb([u8; 3]),
    /// A colour or image not understood.
    Unknown,
}

impl Colour {
    /// Parses a CSS colour or an HTML colour attribute (`#fff`, `ffffff`,
    /// `rgb(255, 255, 255)`, `white`).
    pub fn parse(value: &str) -> Colour {
        let value = strip_important(value);
        let lower = value.to_ascii_lowercase();
        if let Some(hex) = lower.strip_prefix('#') {
            return hex_colour(hex).unwrap_or(Colour::Unknown);
        }
        if let Some(args) = lower
            .strip_prefix("rgba(")
            .or_else(|| lower.strip_prefix("rgb("))
        {
            return rgb_function(args).unwrap_or(Colour::Unknown);
        }
        named(&lower)
            .or_else(|| (lower.len() == 6).then(|| hex_colour(&lower)).flatten())
            .unwrap_or(Colour::Unknown)
    }

    /// The colour a `background` shorthand paints, if any: an image or
    /// gradient is an unknown colour; positions and repeats are ignored.
    fn background(value: &str) -> Colour {
        let lower = value.to_ascii_lowercase();
        if lower.contains("url(") || lower.contains("gradient") {
            return Colour::Unknown;
        }
        let mut found = Colour::Unset;
        for token in lower.split_ascii_whitespace() {
            let keyword = BACKGROUND_KEYWORDS.contains(&token)
                || token.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.');
            if !keyword && token != "!important" {
                found = Colour::parse(token);
            }
        }
        found
    }
}

const BACKGROUND_KEYWORDS: &[&str] = &[
    "none",
    "repeat",
    "no-repeat",
    "repeat-x",
    "repeat-y",
    "space",
    "round",
    "center",
    "top",
    "bottom",
    "left",
    "right",
    "fixed",
    "scroll",
    "local",
    "cover",
    "contain",
    "auto",
    "border-box",
    "padding-box",
    "content-box",
    "/",
];

fn named(name: &str) -> Option<Colour> {
    Some(match name {
        "white" => Colour::Rgb([255, 255, 255]),
        "snow" | "ivory" | "ghostwhite" | "whitesmoke" => Colour::Rgb([250, 250, 250]),
        "black" => Colour::Rgb([0, 0, 0]),
        "transparent" | "inherit" | "initial" | "unset" | "currentcolor" | "none" => Colour::Unset,
        _ => return None,
    })
}

fn hex_colour(hex: &str) -> Option<Colour> {
    let digit = |i: usize| u8::from_str_radix(hex.get(i..=i)?, 16).ok();
    let pair = |i: usize| Some(digit(i)? * 16 + digit(i + 1)?);
    match hex.len() {
        3 | 4 if hex.len() == 4 && digit(3)? == 0 => Some(Colour::Unset),
        3 | 4 => Some(Colour::Rgb([
            digit(0)? * 17,
            digit(1)? * 17,
            digit(2)? * 17,
        ])),
        8 if pair(6)? == 0 => Some(Colour::Unset),
        6 | 8 => Some(Colour::Rgb([pair(0)?, pair(2)?, pair(4)?])),
        _ => None,
    }
}

/// The arguments of `rgb(…)` or `rgba(…)`, commas or spaces, numbers or
/// percentages, an alpha of zero meaning transparent.
fn rgb_function(args: &str) -> Option<Colour> {
    let args = args.strip_suffix(')')?;
    let mut parts = args
        .split(|c: char| c == ',' || c == '/' || c.is_ascii_whitespace())
        .filter(|p| !p.is_empty());
    let mut channel = || -> Option<u8> {
        let part = parts.next()?;
        let value = match part.strip_suffix('%') {
            Some(percent) => percent.parse::<f32>().ok()? * 2.55,
            None => part.parse::<f32>().ok()?,
        };
        Some(value.clamp(0.0, 255.0) as u8)
    };
    let rgb = [channel()?, channel()?, channel()?];
    let alpha = parts.next().map(|a| match a.strip_suffix('%') {
        Some(percent) => percent.parse::<f32>().map(|p| p / 100.0),
        None => a.parse::<f32>(),
    });
    match alpha {
        Some(Ok(a)) if a <= 0.05 => Some(Colour::Unset),
        _ => Some(Colour::Rgb(rgb)),
    }
}

fn strip_important(value: &str) -> &str {
    let value = value.trim();
    let lower_end = value.len().saturating_sub("!important".len());
    match value.get(lower_end..) {
        Some(tail) if tail.eq_ignore_ascii_case("!important") => value[..lower_end].trim_end(),
        _ => value,
    }
}

/// A CSS length in pixels (`0`, `1px`, `0.5em`, `1pt`); `None` for `auto`
/// and anything not understood.
pub fn length(value: &str) -> Option<f32> {
    let value = strip_important(value);
    let number_len = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(value.len());
    let number: f32 = value[..number_len].parse().ok()?;
    let unit = value[number_len..].trim();
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "px" => 1.0,
        "pt" => 4.0 / 3.0,
        "em" | "rem" => 16.0,
        "%" => 0.16,
        _ => return None,
    };
    Some(number * factor)
}

/// The declarations of an inline `style` that matter here.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Style {
    /// `display:none`, zero opacity, or a zero size with overflow hidden:
    /// nothing inside can show again.
    pub hidden: bool,
    /// `font-size` a pixel or less (`Some(true)`) or readable; a child may
    /// set it back, as layouts do after `font-size:0` on table cells.
    pub tiny_font: Option<bool>,
    /// `visibility: hidden` (`Some(true)`) or `visible`; inherited and
    /// overridable like the font size.
    pub invisible: Option<bool>,
    pub colour: Option<Colour>,
    pub background: Option<Colour>,
    pub width: Option<f32>,
    pub height: Option<f32>,
    zero_size: bool,
    overflow_hidden: bool,
}

impl Style {
    pub fn parse(style: &str) -> Style {
        let mut parsed = Style::default();
        for declaration in style.split(';') {
            if let Some((property, value)) = declaration.split_once(':') {
                parsed.declaration(property.trim(), value);
            }
        }
        // Without `overflow: hidden` content spills out of a zero-size box
        // and shows.
        parsed.hidden |= parsed.zero_size && parsed.overflow_hidden;
        parsed
    }

    fn declaration(&mut self, property: &str, value: &str) {
        let is = |name: &str| property.eq_ignore_ascii_case(name);
        let keyword = |word: &str| strip_important(value).eq_ignore_ascii_case(word);
        let zero = || length(value).is_some_and(|v| v <= 0.0);
        if is("display") {
            self.hidden |= keyword("none");
        } else if is("visibility") {
            self.invisible = Some(keyword("hidden") || keyword("collapse"));
        } else if is("font-size") {
            self.tiny_font = length(value).map(|px| px <= 1.0);
        } else if is("overflow") || is("overflow-x") || is("overflow-y") {
            self.overflow_hidden |= keyword("hidden");
        } else if is("max-height") || is("max-width") {
            self.zero_size |= zero();
        } else if is("width") || is("height") {
            self.zero_size |= zero();
            let px = length(value);
            if is("width") {
                self.width = px;
            } else {
                self.height = px;
            }
        } else if is("opacity") {
            self.hidden |= opacity(value).is_some_and(|o| o <= 0.05);
        } else if is("color") {
            self.colour = Some(Colour::parse(value));
        } else if is("background-color") {
            self.background = Some(Colour::parse(value));
        } else if is("background") || is("background-image") {
            self.background = Some(Colour::background(value));
        }
    }
}

fn opacity(value: &str) -> Option<f32> {
    let value = strip_important(value);
    match value.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f32>().ok().map(|p| p / 100.0),
        None => value.parse().ok(),
    }
}

/// Text in `colour` on `background` that nobody can read: the same colour
/// (near enough), or white on a background left white.
pub fn invisible_ink(colour: Colour, background: Colour) -> bool {
    match (colour, background) {
        (Colour::Rgb(ink), Colour::Rgb(paper)) => {
            ink.iter().zip(paper).all(|(&a, b)| a.abs_diff(b) <= 16)
        }
        (Colour::Rgb(ink), Colour::Unset) => ink.iter().all(|&c| c >= 0xf0),
        _ => false,
    }
}
