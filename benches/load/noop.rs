//! The do-nothing milter: negotiates exactly what pitchfork negotiated (the
//! OPTNEG reply is handed over on the command line), answers `continue`
//! where a reply is due and `accept` at end of message, and does nothing
//! else. It runs as its own process on a tokio runtime built like
//! pitchfork's, so the two are measured the same way.
//!
//! Two flavors: `raw` speaks the protocol directly and writes replies only
//! when no more input is buffered (the protocol's ceiling); `indymilter`
//! uses the milter library pitchfork runs on (the library's ceiling).

use crate::proto::{self, Event, Negotiated, cmd};
use indymilter::{Actions, Callbacks, Listener, MacroStage, ProtoOpts, Status};
use pitchfork::{config::SocketSpec, listener};
use std::{ffi::CString, io, sync::Arc};
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    net::TcpListener,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Flavor {
    Raw,
    Indymilter,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Indymilter => "indymilter",
        }
    }
}

/// How the noop milter listens and behaves.
pub struct Settings {
    pub socket: SocketSpec,
    pub negotiated: Negotiated,
    pub flavor: Flavor,
    /// TCP without `TCP_NODELAY`/`TCP_QUICKACK`, as libmilter does: shows
    /// the stalls pitchfork's listener avoids.
    pub plain_tcp: bool,
}

/// As many connections as pitchfork's load configuration allows.
pub const MAX_CONNECTIONS: usize = 2048;

/// Serves until killed.
pub fn serve(settings: Settings) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let result = match (&settings.socket, settings.plain_tcp) {
            (SocketSpec::Inet(addr), true) => {
                let listener = TcpListener::bind(addr).await.map_err(|e| e.to_string())?;
                accept_loop(listener, &settings).await
            }
            _ => {
                let mut bound = listener::bind(&settings.socket, 0o666)
                    .await
                    .map_err(|e| format!("cannot listen on {}: {e}", settings.socket))?;
                accept_loop(bound.take(), &settings).await
            }
        };
        result.map_err(|e| e.to_string())
    })
}

async fn accept_loop<L>(mut listener: L, settings: &Settings) -> io::Result<()>
where
    L: Listener + Send + 'static,
{
    let negotiated = Arc::new(settings.negotiated.clone());
    if settings.flavor == Flavor::Indymilter {
        let config = indymilter::Config {
            max_connections: MAX_CONNECTIONS,
            ..Default::default()
        };
        return indymilter::run(
            listener,
            callbacks(negotiated),
            config,
            std::future::pending::<()>(),
        )
        .await;
    }
    loop {
        let stream = listener.accept().await?;
        let negotiated = Arc::clone(&negotiated);
        tokio::spawn(async move {
            let _ = conversation(stream, &negotiated).await;
        });
    }
}

/// One connection of the raw flavor.
async fn conversation<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    negotiated: &Negotiated,
) -> io::Result<()> {
    let optneg = negotiated.encode();
    let mut io = BufReader::with_capacity(64 * 1024, stream);
    let mut out = Vec::new();
    let mut payload = Vec::new();
    loop {
        // Replies wait until the MTA has nothing more queued for us.
        if io.buffer().is_empty() && !out.is_empty() {
            io.get_mut().write_all(&out).await?;
            out.clear();
        }
        let command = match proto::read_packet(&mut io, &mut payload).await {
            Ok(command) => command,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        match (command, Event::from_command(command)) {
            (cmd::OPTNEG, _) => proto::packet(&mut out, cmd::OPTNEG, &[&optneg]),
            (cmd::QUIT, _) => return Ok(()),
            (_, Some(Event::Eob)) => proto::packet(&mut out, b'a', &[]),
            (_, Some(event)) if negotiated.awaits_reply(event) => {
                proto::packet(&mut out, b'c', &[]);
            }
            _ => {}
        }
    }
}

/// The indymilter flavor: the callbacks pitchfork registers, doing nothing.
fn callbacks(negotiated: Arc<Negotiated>) -> Callbacks<()> {
    let (n0, n1, n2, n3, n4) = (
        Arc::clone(&negotiated),
        Arc::clone(&negotiated),
        Arc::clone(&negotiated),
        Arc::clone(&negotiated),
        negotiated,
    );
    Callbacks::new()
        .on_negotiate(move |cx, _, _| {
            negotiate(cx, &n0);
            Box::pin(async { Status::Continue })
        })
        .on_connect(move |_, _, _| ready(reply(&n1, Event::Connect)))
        .on_mail(move |_, _| ready(reply(&n2, Event::Mail)))
        .on_header(move |_, _, _| ready(reply(&n3, Event::Header)))
        .on_eoh(move |_| ready(reply(&n4, Event::Eoh)))
        .on_body(|_, _| ready(Status::Continue))
        .on_eom(|_| ready(Status::Accept))
        .on_abort(|_| ready(Status::Continue))
}

fn ready<'a>(status: Status) -> indymilter::CallbackFuture<'a> {
    Box::pin(async move { status })
}

fn reply(negotiated: &Negotiated, event: Event) -> Status {
    if negotiated.awaits_reply(event) {
        Status::Continue
    } else {
        Status::Noreply
    }
}

/// Requests exactly what pitchfork requested.
fn negotiate(cx: &mut indymilter::NegotiateContext<()>, negotiated: &Negotiated) {
    cx.requested_actions = Actions::from_bits_truncate(negotiated.actions);
    cx.requested_opts = ProtoOpts::from_bits_truncate(negotiated.protocol);
    for (stage, names) in &negotiated.macros {
        let stage = i32::try_from(*stage)
            .ok()
            .and_then(|s| MacroStage::try_from(s).ok());
        if let (Some(stage), Ok(names)) = (stage, CString::new(names.as_str())) {
            cx.requested_macros.insert(stage, names);
        }
    }
}
