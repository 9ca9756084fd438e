//! Binding the milter socket. TCP connections get `TCP_NODELAY`, and on
//! Linux `TCP_QUICKACK` is re-armed after every read: MTAs write small
//! milter packets with Nagle's algorithm on, and a delayed ACK from our side
//! would hold each of them back ~40 ms, several times per message.

use crate::config::SocketSpec;
use indymilter::{EitherListener, Listener};
use std::{
    io,
    os::unix::fs::{FileTypeExt, PermissionsExt},
    path::{Path, PathBuf},
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream, UnixListener},
    time::{Instant, Sleep},
};

/// The listener type the daemon runs on.
pub type MilterListener = EitherListener<NoDelayListener, UnixListener>;

/// A TCP listener whose connections do not wait on Nagle or delayed ACKs.
#[derive(Debug)]
pub struct NoDelayListener(pub TcpListener);

impl Listener for NoDelayListener {
    type Io = QuickAckStream;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Self::Io>> {
        self.0.poll_accept(cx).map_ok(|(stream, _)| {
            // Best effort: a socket option failing is no reason to refuse.
            let _ = stream.set_nodelay(true);
            QuickAckStream(stream)
        })
    }
}

/// A TCP stream that re-arms `TCP_QUICKACK` after each read (the kernel
/// clears it again after a while, so setting it once is not enough).
#[derive(Debug)]
pub struct QuickAckStream(TcpStream);

impl AsyncRead for QuickAckStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.0).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            quickack(&self.0);
        }
        result
    }
}

#[cfg(target_os = "linux")]
fn quickack(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
}

#[cfg(not(target_os = "linux"))]
fn quickack(_: &TcpStream) {}

impl AsyncWrite for QuickAckStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// A bound socket, which removes its unix socket file when dropped.
#[derive(Debug)]
pub struct Bound {
    pub listener: Option<MilterListener>,
    /// What was bound, with the real port for `inet:0@…`.
    pub spec: SocketSpec,
    unix_path: Option<PathBuf>,
}

impl Bound {
    /// Takes the listener out to hand it to the milter runner.
    pub fn take(&mut self) -> MilterListener {
        self.listener.take().expect("listener taken once")
    }
}

impl Drop for Bound {
    fn drop(&mut self) {
        if let Some(path) = &self.unix_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Binds the socket of a spec. A stale unix socket left by a crash is
/// replaced; any other file at that path is refused.
pub async fn bind(spec: &SocketSpec, mode: u32) -> io::Result<Bound> {
    match spec {
        SocketSpec::Inet(addr) => {
            let listener = TcpListener::bind(addr).await?;
            let spec = SocketSpec::Inet(listener.local_addr()?);
            Ok(Bound {
                listener: Some(EitherListener::Tcp(NoDelayListener(listener))),
                spec,
                unix_path: None,
            })
        }
        SocketSpec::Unix(path) => {
            remove_stale_socket(path)?;
            let listener = UnixListener::bind(path)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
            Ok(Bound {
                listener: Some(EitherListener::Unix(listener)),
                spec: spec.clone(),
                unix_path: Some(path.clone()),
            })
        }
    }
}

fn remove_stale_socket(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// A listener that refuses connections beyond `limit` open at once: the
/// excess connection is accepted and closed, so the MTA applies its
/// `milter_default_action` (tempfail) straight away instead of waiting in
/// the kernel's backlog until its `milter_connect_timeout`.
///
/// A connection over the limit first waits up to [`GRACE`] for one to
/// close: an MTA that ends a session and opens the next at once would
/// otherwise be refused while the ended session is still being torn down.
/// Once a grace has run out, the excess is refused at once for
/// [`REFUSING`], so a real overload never queues behind graces.
#[derive(Debug)]
pub struct Limited<L: Listener> {
    inner: L,
    open: Arc<AtomicUsize>,
    limit: usize,
    waiting: Option<Waiting<L::Io>>,
    refusing_until: Option<Instant>,
}

/// How long a connection over the limit waits for a slot.
pub const GRACE: Duration = Duration::from_millis(50);
/// How long connections over the limit are refused without a grace once
/// one grace has run out.
pub const REFUSING: Duration = Duration::from_secs(1);
/// How often a waiting connection looks for a free slot.
const RECHECK: Duration = Duration::from_millis(1);

#[derive(Debug)]
struct Waiting<S> {
    stream: S,
    deadline: Instant,
    recheck: Pin<Box<Sleep>>,
}

impl<L: Listener> Limited<L> {
    pub fn new(inner: L, limit: usize) -> Self {
        Self {
            inner,
            open: Arc::new(AtomicUsize::new(0)),
            limit,
            waiting: None,
            refusing_until: None,
        }
    }

    fn full(&self) -> bool {
        self.open.load(Ordering::Acquire) >= self.limit
    }

    fn count(&self, stream: L::Io) -> Counted<L::Io> {
        self.open.fetch_add(1, Ordering::AcqRel);
        Counted {
            stream,
            open: Arc::clone(&self.open),
        }
    }

    fn refuse(&self, stream: L::Io) {
        tracing::warn!(
            limit = self.limit,
            "max_connections reached, connection refused"
        );
        drop(stream);
    }
}

impl<L: Listener> Listener for Limited<L> {
    type Io = Counted<L::Io>;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Self::Io>> {
        loop {
            let full = self.full();
            if let Some(waiting) = &mut self.waiting {
                let now = Instant::now();
                if !full {
                    let waiting = self.waiting.take().expect("waiting");
                    return Poll::Ready(Ok(self.count(waiting.stream)));
                }
                if now >= waiting.deadline {
                    let waiting = self.waiting.take().expect("waiting");
                    self.refusing_until = Some(now + REFUSING);
                    self.refuse(waiting.stream);
                    continue;
                }
                waiting.recheck.as_mut().reset(now + RECHECK);
                std::task::ready!(waiting.recheck.as_mut().poll(cx));
                continue;
            }
            let stream = std::task::ready!(self.inner.poll_accept(cx))?;
            if !self.full() {
                return Poll::Ready(Ok(self.count(stream)));
            }
            let now = Instant::now();
            if self.refusing_until.is_some_and(|until| now < until) {
                self.refuse(stream);
                continue;
            }
            self.waiting = Some(Waiting {
                stream,
                deadline: now + GRACE,
                recheck: Box::pin(tokio::time::sleep(RECHECK)),
            });
        }
    }
}

/// A connection counted as open until it is dropped.
#[derive(Debug)]
pub struct Counted<S> {
    stream: S,
    open: Arc<AtomicUsize>,
}

impl<S> Drop for Counted<S> {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
