//! The milter wire format, MTA side: every packet is a 4-byte big-endian
//! length (command byte included), a command byte and a payload. Only what
//! the load tool sends and reads is here; the flag values are those of
//! libmilter's `mfdef.h`, which Postfix and Sendmail share.

use std::io;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Milter protocol version Postfix 3.7 speaks.
pub const VERSION: u32 = 6;
/// Actions Postfix 3.7 offers (seen in its OPTNEG packet).
pub const POSTFIX_ACTIONS: u32 = 0x1ff;
/// Protocol flags Postfix 3.7 offers.
pub const POSTFIX_PROTOCOL: u32 = 0x1f_ffff;
/// Postfix sends the body in chunks of at most this many bytes
/// (`MILTER_CHUNK_SIZE`).
pub const CHUNK: usize = 65_535;
/// Replies longer than this are a protocol error here (indymilter refuses
/// packets over 1 MiB too).
const MAX_PACKET: usize = 1 << 20;

/// Commands, MTA to milter.
pub mod cmd {
    pub const OPTNEG: u8 = b'O';
    pub const MACRO: u8 = b'D';
    pub const CONNECT: u8 = b'C';
    pub const HELO: u8 = b'H';
    pub const MAIL: u8 = b'M';
    pub const RCPT: u8 = b'R';
    pub const DATA: u8 = b'T';
    pub const HEADER: u8 = b'L';
    pub const EOH: u8 = b'N';
    pub const BODY: u8 = b'B';
    pub const EOB: u8 = b'E';
    pub const ABORT: u8 = b'A';
    pub const QUIT: u8 = b'Q';
}

/// Protocol flags (`SMFIP_*`): steps not to send (`NO_*`) and steps the
/// MTA must not wait for a reply to (`NR_*`).
pub mod flag {
    pub const NO_CONNECT: u32 = 0x1;
    pub const NO_HELO: u32 = 0x2;
    pub const NO_MAIL: u32 = 0x4;
    pub const NO_RCPT: u32 = 0x8;
    pub const NO_BODY: u32 = 0x10;
    pub const NO_HEADERS: u32 = 0x20;
    pub const NO_EOH: u32 = 0x40;
    pub const NR_HEADER: u32 = 0x80;
    pub const NO_DATA: u32 = 0x200;
    pub const SKIP: u32 = 0x400;
    pub const NR_CONNECT: u32 = 0x1000;
    pub const NR_HELO: u32 = 0x2000;
    pub const NR_MAIL: u32 = 0x4000;
    pub const NR_RCPT: u32 = 0x8000;
    pub const NR_DATA: u32 = 0x10000;
    pub const NR_EOH: u32 = 0x40000;
    pub const NR_BODY: u32 = 0x80000;
    pub const HEADER_LEADING_SPACE: u32 = 0x10_0000;
}

/// One step of an SMTP session as the milter sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Connect,
    Helo,
    Mail,
    Rcpt,
    Data,
    Header,
    Eoh,
    Body,
    /// End of message: always answered, with the verdict.
    Eob,
}

impl Event {
    pub fn command(self) -> u8 {
        match self {
            Self::Connect => cmd::CONNECT,
            Self::Helo => cmd::HELO,
            Self::Mail => cmd::MAIL,
            Self::Rcpt => cmd::RCPT,
            Self::Data => cmd::DATA,
            Self::Header => cmd::HEADER,
            Self::Eoh => cmd::EOH,
            Self::Body => cmd::BODY,
            Self::Eob => cmd::EOB,
        }
    }

    pub fn from_command(command: u8) -> Option<Self> {
        [
            Self::Connect,
            Self::Helo,
            Self::Mail,
            Self::Rcpt,
            Self::Data,
            Self::Header,
            Self::Eoh,
            Self::Body,
            Self::Eob,
        ]
        .into_iter()
        .find(|e| e.command() == command)
    }

    /// The macro list this step sends (`SMFIM_*` index). Postfix sends the
    /// end-of-header list with every header and the end-of-data list with
    /// every body chunk.
    fn macro_stage(self) -> usize {
        match self {
            Self::Connect => 0,
            Self::Helo => 1,
            Self::Mail => 2,
            Self::Rcpt => 3,
            Self::Data => 4,
            Self::Body | Self::Eob => 5,
            Self::Header | Self::Eoh => 6,
        }
    }

    fn not_sent_flag(self) -> u32 {
        match self {
            Self::Connect => flag::NO_CONNECT,
            Self::Helo => flag::NO_HELO,
            Self::Mail => flag::NO_MAIL,
            Self::Rcpt => flag::NO_RCPT,
            Self::Data => flag::NO_DATA,
            Self::Header => flag::NO_HEADERS,
            Self::Eoh => flag::NO_EOH,
            Self::Body => flag::NO_BODY,
            Self::Eob => 0,
        }
    }

    fn no_reply_flag(self) -> u32 {
        match self {
            Self::Connect => flag::NR_CONNECT,
            Self::Helo => flag::NR_HELO,
            Self::Mail => flag::NR_MAIL,
            Self::Rcpt => flag::NR_RCPT,
            Self::Data => flag::NR_DATA,
            Self::Header => flag::NR_HEADER,
            Self::Eoh => flag::NR_EOH,
            Self::Body => flag::NR_BODY,
            Self::Eob => 0,
        }
    }
}

/// Postfix 3.7's default macro lists (`milter_*_macros`), by `SMFIM_*`
/// index: used for every stage unless the milter names its own lists.
const POSTFIX_MACROS: [&str; 7] = [
    "j {daemon_name} {daemon_addr} v _",
    "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}",
    "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}",
    "i {rcpt_addr} {rcpt_host} {rcpt_mailer}",
    "i",
    "i",
    "i",
];

/// What a milter answered to OPTNEG.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub version: u32,
    pub actions: u32,
    pub protocol: u32,
    /// Macro lists the milter asked for, as `(SMFIM_* index, names)`.
    pub macros: Vec<(u32, String)>,
}

impl Negotiated {
    pub fn parse(payload: &[u8]) -> Result<Self, String> {
        let word = |i: usize| {
            payload
                .get(i..i + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| format!("OPTNEG reply of {} bytes is short", payload.len()))
        };
        let mut negotiated = Self {
            version: word(0)?,
            actions: word(4)?,
            protocol: word(8)?,
            macros: Vec::new(),
        };
        let mut at = 12;
        while at < payload.len() {
            let stage = word(at)?;
            let rest = &payload[at + 4..];
            let end = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or("macro list without NUL")?;
            let names = String::from_utf8_lossy(&rest[..end]).into_owned();
            negotiated.macros.push((stage, names));
            at += 4 + end + 1;
        }
        Ok(negotiated)
    }

    /// The OPTNEG reply payload, for a milter that answers the same.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for word in [self.version, self.actions, self.protocol] {
            out.extend_from_slice(&word.to_be_bytes());
        }
        for (stage, names) in &self.macros {
            out.extend_from_slice(&stage.to_be_bytes());
            out.extend_from_slice(names.as_bytes());
            out.push(0);
        }
        out
    }

    pub fn has(&self, flag: u32) -> bool {
        self.protocol & flag != 0
    }

    /// Whether the MTA sends this step at all.
    pub fn sends(&self, event: Event) -> bool {
        !self.has(event.not_sent_flag())
    }

    /// Whether the MTA sends this step and then waits for a reply.
    pub fn awaits_reply(&self, event: Event) -> bool {
        self.sends(event) && !self.has(event.no_reply_flag())
    }

    /// The macro names sent with a step. A milter that names any list
    /// replaces all of Postfix's defaults: the stages it leaves out get
    /// empty lists (Postfix's `milter8_negotiate`).
    pub fn macro_names(&self, event: Event) -> Vec<&str> {
        let stage = event.macro_stage();
        let names = if self.macros.is_empty() {
            POSTFIX_MACROS[stage]
        } else {
            self.macros
                .iter()
                .find(|(s, _)| *s as usize == stage)
                .map_or("", |(_, names)| names.as_str())
        };
        names.split_whitespace().collect()
    }
}

/// Postfix's OPTNEG packet payload.
pub fn postfix_offer() -> Vec<u8> {
    let mut out = Vec::with_capacity(12);
    for word in [VERSION, POSTFIX_ACTIONS, POSTFIX_PROTOCOL] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out
}

/// Appends one packet made of `parts`.
pub fn packet(out: &mut Vec<u8>, command: u8, parts: &[&[u8]]) {
    let len: usize = 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    let len = u32::try_from(len).expect("packet under 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.push(command);
    for part in parts {
        out.extend_from_slice(part);
    }
}

/// Reads one packet into `payload` and returns its command byte.
pub async fn read_packet<R: AsyncRead + Unpin>(
    reader: &mut R,
    payload: &mut Vec<u8>,
) -> io::Result<u8> {
    let len = reader.read_u32().await? as usize;
    if len == 0 || len > MAX_PACKET {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("packet length {len}"),
        ));
    }
    let command = reader.read_u8().await?;
    payload.resize(len - 1, 0);
    reader.read_exact(payload).await?;
    Ok(command)
}

/// The NUL-terminated strings of a payload.
pub fn strings(payload: &[u8]) -> impl Iterator<Item = &[u8]> {
    payload
        .strip_suffix(&[0])
        .unwrap_or(payload)
        .split(|&b| b == 0)
}
