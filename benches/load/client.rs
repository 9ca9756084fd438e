//! The MTA side of one milter connection: OPTNEG with Postfix's offer, then
//! encoded steps, reading exactly the replies the negotiation calls for and
//! stopping the body at `skip`.

use crate::{
    corpus::{Encoded, Wait},
    proto::{self, Negotiated, cmd},
};
use std::{
    io,
    net::SocketAddr,
    path::PathBuf,
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    net::{TcpStream, UnixStream},
    time::timeout,
};

/// Where a milter listens.
#[derive(Clone, Debug)]
pub enum Endpoint {
    Unix(PathBuf),
    Inet(SocketAddr),
}

/// No reply may take longer than Postfix's `milter_content_timeout`
/// default, so a stuck milter ends the run instead of hanging it.
const REPLY_TIMEOUT: Duration = Duration::from_secs(300);

/// The milter's decision on a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verdict {
    #[default]
    Accept,
    Reject,
    Tempfail,
    Discard,
}

/// What came back for one message.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    pub verdict: Verdict,
    /// An `X-Pitchfork-Score` header was added: the message was scored.
    pub scored: bool,
    /// The added status header names `SCAN_TRUNCATED`.
    pub truncated: bool,
    /// The milter answered `skip` to a body chunk.
    pub skipped: bool,
    /// Header and other changes requested at end of message.
    pub changes: u32,
}

/// Connects to a milter.
pub async fn connect(endpoint: &Endpoint) -> io::Result<Stream> {
    Ok(match endpoint {
        Endpoint::Unix(path) => Stream::Unix(UnixStream::connect(path).await?),
        Endpoint::Inet(addr) => {
            let stream = TcpStream::connect(addr).await?;
            // The MTA's own Nagle is not what is measured here.
            stream.set_nodelay(true)?;
            Stream::Inet(stream)
        }
    })
}

/// A connected stream, either kind.
pub enum Stream {
    Unix(UnixStream),
    Inet(TcpStream),
}

/// One milter connection in progress.
pub struct Conversation<S> {
    io: BufReader<S>,
    out: Vec<u8>,
    payload: Vec<u8>,
    /// Bytes written so far.
    pub written: u64,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conversation<S> {
    /// Sends Postfix's OPTNEG and returns what the milter negotiated.
    pub async fn open(stream: S) -> io::Result<(Self, Negotiated)> {
        let mut conversation = Self {
            io: BufReader::with_capacity(16 * 1024, stream),
            out: Vec::with_capacity(64 * 1024),
            payload: Vec::new(),
            written: 0,
        };
        proto::packet(
            &mut conversation.out,
            cmd::OPTNEG,
            &[&proto::postfix_offer()],
        );
        conversation.flush().await?;
        if conversation.read().await? != cmd::OPTNEG {
            return Err(protocol("OPTNEG not answered with OPTNEG"));
        }
        let negotiated = Negotiated::parse(&conversation.payload).map_err(|e| protocol(&e))?;
        Ok((conversation, negotiated))
    }

    /// Runs encoded steps.
    pub async fn steps(&mut self, encoded: &Encoded) -> io::Result<Outcome> {
        let mut outcome = Outcome::default();
        let mut start = 0;
        for segment in &encoded.segments {
            let bytes = &encoded.bytes[start..segment.end];
            start = segment.end;
            if outcome.skipped && segment.wait == Wait::Body {
                continue;
            }
            self.out.extend_from_slice(bytes);
            self.flush().await?;
            let done = match segment.wait {
                Wait::Reply | Wait::Body => self.step_reply(segment.wait, &mut outcome).await?,
                Wait::Final => self.final_reply(&mut outcome).await?,
            };
            if done {
                return Ok(outcome);
            }
        }
        self.out.extend_from_slice(&encoded.bytes[start..]);
        Ok(outcome)
    }

    /// ABORT, as between two messages of one SMTP session.
    pub fn abort(&mut self) {
        proto::packet(&mut self.out, cmd::ABORT, &[]);
    }

    /// QUIT and close.
    pub async fn quit(mut self) -> io::Result<()> {
        proto::packet(&mut self.out, cmd::QUIT, &[]);
        self.flush().await?;
        self.io.get_mut().shutdown().await
    }

    /// Reads the reply to a step; `true` when it ended the message.
    async fn step_reply(&mut self, wait: Wait, outcome: &mut Outcome) -> io::Result<bool> {
        loop {
            match self.read().await? {
                b'c' => return Ok(false),
                b's' if wait == Wait::Body => {
                    outcome.skipped = true;
                    return Ok(false);
                }
                b'p' => {}
                command => {
                    outcome.verdict = self.verdict(command)?;
                    return Ok(true);
                }
            }
        }
    }

    /// Reads changes until the final verdict.
    async fn final_reply(&mut self, outcome: &mut Outcome) -> io::Result<bool> {
        loop {
            match self.read().await? {
                b'h' => {
                    let mut fields = proto::strings(&self.payload);
                    let name = fields.next().unwrap_or_default();
                    let value = fields.next().unwrap_or_default();
                    outcome.scored |= name.eq_ignore_ascii_case(b"X-Pitchfork-Score");
                    outcome.truncated |= value.windows(14).any(|w| w == b"SCAN_TRUNCATED");
                    outcome.changes += 1;
                }
                b'm' | b'i' | b'q' | b'+' | b'-' | b'2' | b'b' | b'e' => outcome.changes += 1,
                b'p' => {}
                command => {
                    outcome.verdict = self.verdict(command)?;
                    return Ok(true);
                }
            }
        }
    }

    fn verdict(&self, command: u8) -> io::Result<Verdict> {
        Ok(match command {
            b'a' | b'c' => Verdict::Accept,
            b'r' => Verdict::Reject,
            b't' => Verdict::Tempfail,
            b'd' => Verdict::Discard,
            b'y' if self.payload.first() == Some(&b'5') => Verdict::Reject,
            b'y' => Verdict::Tempfail,
            other => {
                return Err(protocol(&format!(
                    "unexpected reply {:?}",
                    char::from(other)
                )));
            }
        })
    }

    async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.io.get_mut().write_all(&self.out).await?;
            self.written += self.out.len() as u64;
            self.out.clear();
        }
        Ok(())
    }

    async fn read(&mut self) -> io::Result<u8> {
        timeout(
            REPLY_TIMEOUT,
            proto::read_packet(&mut self.io, &mut self.payload),
        )
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no reply from the milter"))?
    }
}

fn protocol(reason: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason.to_owned())
}

/// Connects once and returns the milter's negotiation.
pub async fn probe(endpoint: &Endpoint) -> io::Result<Negotiated> {
    let negotiated = match connect(endpoint).await? {
        Stream::Unix(s) => close_after_optneg(s).await?,
        Stream::Inet(s) => close_after_optneg(s).await?,
    };
    Ok(negotiated)
}

async fn close_after_optneg<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
) -> io::Result<Negotiated> {
    let (conversation, negotiated) = Conversation::open(stream).await?;
    conversation.quit().await?;
    Ok(negotiated)
}

/// The load client's runtime: one thread, so that it takes at most one of
/// the machine's cores from the milter it measures.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))
}

/// Time since `start` in nanoseconds, saturating.
pub fn nanos_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}
