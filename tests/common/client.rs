//! A test MTA speaking the milter protocol (indymilter-test) to a running
//! daemon, offering what Postfix 3.7 offers.

use indymilter_test::{Actions, EomAction, MacroStage, ProtoOpts, Status, TestConnection};
use std::{net::SocketAddr, path::Path, time::Duration};

/// Opens a milter connection over TCP and sends the SMTP client's address.
pub async fn connect(addr: SocketAddr) -> TestConnection {
    let conn = configure().open_tcp(addr).await.unwrap();
    greet(conn).await
}

/// Tries to open a milter connection; `None` when the milter closes it
/// during negotiation (refused past `max_connections`).
pub async fn try_connect(addr: SocketAddr) -> Option<TestConnection> {
    let conn = configure().open_tcp(addr).await.ok()?;
    Some(greet(conn).await)
}

/// Opens a milter connection over a unix socket, retrying while the
/// daemon refuses it (a slot is freed only once a closed session ends).
pub async fn connect_unix_when_free(path: &Path) -> TestConnection {
    for _ in 0..250 {
        if let Ok(conn) = configure().open_unix(path).await {
            return greet(conn).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} refused every connection for 5 s", path.display());
}

/// Opens a milter connection over a unix socket.
pub async fn connect_unix(path: &Path) -> TestConnection {
    let conn = configure().open_unix(path).await.unwrap();
    greet(conn).await
}

fn configure() -> indymilter_test::TestConnectionBuilder {
    TestConnection::configure()
        .read_timeout(Duration::from_secs(30))
        .write_timeout(Duration::from_secs(30))
        .available_actions(Actions::all())
        .available_opts(ProtoOpts::all())
}

async fn greet(mut conn: TestConnection) -> TestConnection {
    let status = conn
        .connect("client.example.org", [192, 0, 2, 1])
        .await
        .unwrap();
    assert_eq!(status, Status::Noreply);
    conn
}

/// Splits a fixture into unfolded headers and body, as an MTA hands them on.
pub fn split(raw: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
    let text = String::from_utf8_lossy(raw).replace('\n', "\r\n");
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().unwrap();
            last.1.push_str("\r\n");
            last.1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_owned(), value.trim_start().to_owned()));
        }
    }
    (headers, body.as_bytes().to_vec())
}

/// Sends MAIL FROM `sender`, then one RCPT if the milter asked for the
/// step, as an MTA does (the protocol forbids headers straight after MAIL
/// when RCPT was negotiated).
pub async fn envelope(conn: &mut TestConnection, sender: &str) {
    conn.mail([sender]).await.unwrap();
    if !conn.negotiated_opts().contains(ProtoOpts::NO_RCPT) {
        conn.rcpt(["<rcpt@example.net>"]).await.unwrap();
    }
}

/// Sends MAIL, the headers and the body of `raw`: everything but the end
/// of message.
pub async fn begin(conn: &mut TestConnection, raw: &[u8]) {
    envelope(conn, "<sender@example.org>").await;
    let (headers, body) = split(raw);
    for (name, value) in headers {
        conn.header(name, value).await.unwrap();
    }
    conn.eoh().await.unwrap();
    conn.body(body).await.unwrap();
}

/// Ends the message begun with [`begin`] under `queue_id`.
pub async fn end(conn: &mut TestConnection, queue_id: &str) -> (Vec<EomAction>, Status) {
    conn.macros(MacroStage::Eom, [("i", queue_id)])
        .await
        .unwrap();
    let (actions, status) = conn.eom().await.unwrap();
    (actions.actions, status)
}

/// Sends one whole message and returns what the milter answered.
pub async fn send(
    conn: &mut TestConnection,
    raw: &[u8],
    queue_id: &str,
) -> (Vec<EomAction>, Status) {
    begin(conn, raw).await;
    end(conn, queue_id).await
}

/// The headers added, as `(name, value)`.
pub fn added(actions: &[EomAction]) -> Vec<(String, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            EomAction::AddHeader { name, value } => Some((
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )),
            _ => None,
        })
        .collect()
}

/// The value of the first added header called `name`, unfolded.
pub fn header(actions: &[EomAction], name: &str) -> Option<String> {
    added(actions)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.replace("\n\t", ""))
}
