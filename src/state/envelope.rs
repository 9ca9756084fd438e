//! The few headers correspondent memory reads, found in the raw header
//! section without a full MIME parse: `Message-ID`, `In-Reply-To`,
//! `References` and the `From:` address.

/// Identity headers of one message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    pub message_id: Option<String>,
    /// Message-IDs from `In-Reply-To` and `References`, at most
    /// [`MAX_REFERENCES`].
    pub references: Vec<String>,
    /// The address in `From:`.
    pub from: Option<String>,
}

/// A long thread's `References` is capped: the newest ids matter most and
/// each costs a lookup.
pub const MAX_REFERENCES: usize = 50;

impl Envelope {
    /// Reads the header section of a raw message (up to the first empty
    /// line). Never fails; what cannot be read is left out.
    pub fn scan(raw: &[u8]) -> Self {
        let mut envelope = Self::default();
        let mut references = Vec::new();
        for (name, value) in headers(raw) {
            if name.eq_ignore_ascii_case("message-id") && envelope.message_id.is_none() {
                envelope.message_id = ids(&value).next().map(str::to_owned);
            } else if name.eq_ignore_ascii_case("in-reply-to")
                || name.eq_ignore_ascii_case("references")
            {
                references.extend(ids(&value).map(str::to_owned));
            } else if name.eq_ignore_ascii_case("from") && envelope.from.is_none() {
                envelope.from = address(&value);
            }
        }
        // The newest references come last in `References`.
        let skip = references.len().saturating_sub(MAX_REFERENCES);
        references.drain(..skip);
        references.sort();
        references.dedup();
        envelope.references = references;
        envelope
    }
}

/// Unfolded `(name, value)` pairs of the header section.
fn headers(raw: &[u8]) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(line);
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(text.trim());
            }
            continue;
        }
        match text.split_once(':') {
            Some((name, value)) => headers.push((name.trim().to_owned(), value.trim().to_owned())),
            None => break,
        }
    }
    headers
}

/// The `<…>` tokens of a Message-ID list.
fn ids(value: &str) -> impl Iterator<Item = &str> {
    value
        .split('<')
        .skip(1)
        .filter_map(|rest| rest.split_once('>').map(|(id, _)| id.trim()))
        .filter(|id| !id.is_empty() && id.contains('@'))
}

/// The address of a `From:` value: the `<…>` part, else a bare address.
fn address(value: &str) -> Option<String> {
    let candidate = match value.rsplit_once('<') {
        Some((_, rest)) => rest.split('>').next().unwrap_or_default(),
        None => value
            .split_whitespace()
            .find(|word| word.contains('@'))
            .unwrap_or_default(),
    };
    let candidate = candidate.trim().trim_matches(|c| c == '"' || c == ',');
    candidate.contains('@').then(|| candidate.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ids_and_from_across_folded_lines() {
        let raw = b"From: \"Ann B\" <Ann@Example.com>\r\nMessage-ID: <m1@ex>\r\n\
            References: <a@x>\r\n <b@x>\r\nIn-Reply-To: <b@x>\r\nSubject: Re: hi\r\n\r\n\
            References: <body@x>\r\n";
        let envelope = Envelope::scan(raw);
        assert_eq!(envelope.message_id.as_deref(), Some("m1@ex"));
        assert_eq!(envelope.references, ["a@x", "b@x"]);
        assert_eq!(envelope.from.as_deref(), Some("Ann@Example.com"));
    }

    #[test]
    fn bare_from_and_missing_headers() {
        let envelope = Envelope::scan(b"From: bob@example.org (Bob)\n\nbody");
        assert_eq!(envelope.from.as_deref(), Some("bob@example.org"));
        assert_eq!(envelope.message_id, None);
        assert!(envelope.references.is_empty());
        assert_eq!(
            Envelope::scan(b"garbage without colon\n"),
            Envelope::default()
        );
    }

    #[test]
    fn keeps_the_newest_references() {
        let ids: String = (0..80).map(|i| format!("<{i:03}@x> ")).collect();
        let envelope = Envelope::scan(format!("References: {ids}\n\n").as_bytes());
        assert_eq!(envelope.references.len(), MAX_REFERENCES);
        assert_eq!(envelope.references[0], "030@x");
    }
}
