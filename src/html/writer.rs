//! The text an HTML part becomes: HTML whitespace collapsed, a line per
//! block, `> ` before quoted lines, character references decoded.

use super::entity;

/// Builds the text: collapses HTML whitespace, starts lines for blocks,
/// prefixes quoted lines, decodes entities.
#[derive(Default)]
pub(super) struct Writer {
    pub(super) text: String,
    pub(super) space: bool,
    pub(super) quote_depth: usize,
    pub(super) pre_depth: usize,
}

impl Writer {
    pub(super) fn at_line_start(&self) -> bool {
        self.text.is_empty() || self.text.ends_with('\n')
    }

    pub(super) fn newline(&mut self) {
        if !self.at_line_start() {
            self.text.push('\n');
        }
        self.space = false;
    }

    pub(super) fn space(&mut self) {
        self.space = !self.at_line_start();
    }

    pub(super) fn text(&mut self, text: &str) {
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            // Runs without references or whitespace are written whole.
            let run = rest
                .bytes()
                .position(|b| matches!(b, b'&' | b' ' | b'\t' | b'\n' | b'\r' | 0x0c))
                .unwrap_or(rest.len());
            if run > 0 {
                self.word(&rest[..run]);
                rest = &rest[run..];
                continue;
            }
            let (c, len) = if c == '&' {
                entity::decode(rest).unwrap_or(('&', 1))
            } else {
                (c, c.len_utf8())
            };
            rest = &rest[len..];
            self.char(c);
        }
    }

    /// Text without whitespace, as [`Writer::char`] would write it.
    fn word(&mut self, word: &str) {
        if self.at_line_start() && self.quote_depth > 0 {
            self.text.push_str("> ");
        }
        if std::mem::take(&mut self.space) {
            self.text.push(' ');
        }
        self.text.push_str(word);
    }

    fn char(&mut self, c: char) {
        if self.pre_depth > 0 && c == '\n' {
            self.text.push('\n');
            self.space = false;
            return;
        }
        if matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}') {
            self.space = !self.at_line_start();
            return;
        }
        if self.at_line_start() && self.quote_depth > 0 {
            self.text.push_str("> ");
        }
        if std::mem::take(&mut self.space) {
            self.text.push(' ');
        }
        self.text.push(c);
    }
}
