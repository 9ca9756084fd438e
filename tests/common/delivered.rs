//! Reading delivered messages back: unfolded header lines and pitchfork's
//! own headers among them.

/// Header lines of a message (before the first blank line), unfolded.
pub fn header_lines(message: &str) -> Vec<String> {
    let head = message.split("\n\n").next().unwrap_or_default();
    let mut lines: Vec<String> = Vec::new();
    for line in head.lines() {
        match lines.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
            _ => lines.push(line.to_owned()),
        }
    }
    lines
}

/// The `X-Pitchfork-*` header lines, in any letter case.
pub fn pitchfork_headers(message: &str) -> Vec<String> {
    header_lines(message)
        .into_iter()
        .filter(|l| l.to_ascii_lowercase().starts_with("x-pitchfork-"))
        .collect()
}
