//! The metrics endpoint: a minimal HTTP/1.1 responder on tokio answering
//! `GET /metrics` (and `HEAD`) with the text exposition, one request per
//! connection. Nothing else is served.

use super::Metrics;
use std::{future::Future, io, sync::Arc, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
};
use tracing::{debug, warn};

/// Scrapes answered at once; more wait in the kernel's accept queue.
const MAX_SCRAPES: usize = 4;
/// Longest request head accepted; a scraper sends a few hundred bytes.
const MAX_REQUEST: usize = 8 * 1024;
/// Time a scraper has to send its request and read the answer.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers `GET /metrics` on `listener` until `shutdown` completes.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>, shutdown: impl Future) {
    let permits = Arc::new(Semaphore::new(MAX_SCRAPES));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            accepted = accept(&listener, &permits) => accepted,
        };
        match accepted {
            Ok((stream, permit)) => {
                let metrics = Arc::clone(&metrics);
                tokio::spawn(async move {
                    let answered = tokio::time::timeout(SCRAPE_TIMEOUT, answer(stream, &metrics));
                    if let Ok(Err(e)) = answered.await {
                        debug!("metrics request failed: {e}");
                    }
                    drop(permit);
                });
            }
            Err(e) => {
                warn!("metrics endpoint cannot accept connections: {e}");
                // Out of file descriptors, most likely: give others a moment.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn accept(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
) -> io::Result<(TcpStream, OwnedSemaphorePermit)> {
    let permit = Arc::clone(permits)
        .acquire_owned()
        .await
        .map_err(io::Error::other)?;
    let (stream, _) = listener.accept().await?;
    Ok((stream, permit))
}

async fn answer(mut stream: TcpStream, metrics: &Metrics) -> io::Result<()> {
    let head = read_head(&mut stream).await?;
    let response = respond(&head, metrics);
    stream.write_all(&response).await?;
    stream.shutdown().await
}

/// Reads up to the blank line ending the request head.
async fn read_head(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0; 1024];
    while !head_complete(&head) && head.len() < MAX_REQUEST {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..read]);
    }
    Ok(head)
}

fn head_complete(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n")
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// `GET /metrics`; `HEAD` leaves out the body.
    Metrics {
        body: bool,
    },
    NotFound,
    MethodNotAllowed,
    BadRequest,
}

fn route(head: &[u8]) -> Route {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (words.next(), words.next(), words.next())
    else {
        return Route::BadRequest;
    };
    if !version.starts_with("HTTP/1.") {
        return Route::BadRequest;
    }
    let path = target.split('?').next().unwrap_or_default();
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => Route::Metrics {
            body: method == "GET",
        },
        ("GET" | "HEAD", _) => Route::NotFound,
        _ => Route::MethodNotAllowed,
    }
}

/// The whole HTTP response to a request head.
fn respond(head: &[u8], metrics: &Metrics) -> Vec<u8> {
    let (status, content_type, body, send_body) = match route(head) {
        Route::Metrics { body } => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(),
            body,
        ),
        Route::NotFound => (
            "404 Not Found",
            "text/plain",
            "pitchfork serves /metrics\n".into(),
            true,
        ),
        Route::MethodNotAllowed => ("405 Method Not Allowed", "text/plain", String::new(), true),
        Route::BadRequest => ("400 Bad Request", "text/plain", String::new(), true),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Allow: GET, HEAD\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if send_body {
        response.extend_from_slice(body.as_bytes());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_requests() {
        let cases: [(&[u8], Route); 7] = [
            (
                b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                Route::Metrics { body: true },
            ),
            (
                b"GET /metrics?x=1 HTTP/1.0\r\n\r\n",
                Route::Metrics { body: true },
            ),
            (
                b"HEAD /metrics HTTP/1.1\r\n\r\n",
                Route::Metrics { body: false },
            ),
            (b"GET / HTTP/1.1\r\n\r\n", Route::NotFound),
            (b"POST /metrics HTTP/1.1\r\n\r\n", Route::MethodNotAllowed),
            (b"GET /metrics\r\n\r\n", Route::BadRequest),
            (b"\x16\x03\x01 binary", Route::BadRequest),
        ];
        for (head, expected) in cases {
            assert_eq!(route(head), expected, "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn responses_carry_length_and_type() {
        let metrics = Metrics::new();
        let response = respond(b"GET /metrics HTTP/1.1\r\n\r\n", &metrics);
        let text = String::from_utf8(response).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("Content-Type: text/plain; version=0.0.4"));
        assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())));
        assert!(body.contains("# TYPE pitchfork_score histogram"));

        let head_only = respond(b"HEAD /metrics HTTP/1.1\r\n\r\n", &metrics);
        assert!(String::from_utf8(head_only).unwrap().ends_with("\r\n\r\n"));
        let refused = respond(b"DELETE /metrics HTTP/1.1\r\n\r\n", &metrics);
        assert!(refused.starts_with(b"HTTP/1.1 405 "));
    }
}
