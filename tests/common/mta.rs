//! What the private MTA harnesses (Postfix, Sendmail, Dovecot) share: the
//! policy for missing software, waiting (for a banner, a delivery, a log
//! line, an empty queue), and free ports.

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::Mutex,
    thread::sleep,
    time::{Duration, Instant},
};

/// How often the waiting helpers look again.
const POLL: Duration = Duration::from_millis(50);

/// Setting this to `1` skips the end-to-end MTA tests explicitly.
pub const SKIP_VAR: &str = "PITCHFORK_SKIP_MTA_TESTS";

/// Decides whether an end-to-end test of `software` can run: `problem` is
/// the first missing prerequisite, if any. A missing prerequisite panics, so
/// a CI machine without the MTA fails loudly instead of passing silently;
/// `PITCHFORK_SKIP_MTA_TESTS=1` skips the test instead (returns `false`)
/// with a `SKIPPED:` line on stderr, whether or not the software is there.
pub fn require(software: &str, problem: Option<String>) -> bool {
    if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
        let why = problem.unwrap_or_else(|| format!("{software} would be available"));
        eprintln!("\nSKIPPED: END-TO-END MTA TEST NOT RUN, {SKIP_VAR}=1 is set ({why})\n");
        return false;
    }
    if let Some(problem) = problem {
        panic!("{problem}; set {SKIP_VAR}=1 to skip explicitly");
    }
    true
}

/// Waits until an SMTP server on 127.0.0.1:`port` greets with `220`;
/// panics after `timeout` with what `log` returns.
pub fn wait_for_banner(software: &str, port: u16, timeout: Duration, log: impl Fn() -> String) {
    wait_until(
        timeout,
        || banner(port).filter(|b| b.starts_with("220")),
        || {
            format!(
                "{software} did not answer on 127.0.0.1:{port} within {timeout:?}\n{}",
                log()
            )
        },
    );
}

/// Asks `probe` every [`POLL`] until it returns a value, and returns that
/// value; after `timeout` panics with what `failure` says. MTAs work in the
/// background, so what a test waits for appears a moment after the SMTP
/// reply.
pub fn wait_until<T>(
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
    failure: impl FnOnce() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() > deadline {
            panic!("{}", failure());
        }
        sleep(POLL);
    }
}

/// How long a delivered message may take to leave an MTA's queue.
const SETTLE: Duration = Duration::from_secs(5);

/// Panics with what `log` returns unless `queued` reaches zero within
/// [`SETTLE`]. An MTA removes a delivered message from its queue a moment
/// after the Maildir file appears; a message kept in the queue never leaves.
pub fn assert_queue_empties(software: &str, queued: impl Fn() -> usize, log: impl Fn() -> String) {
    wait_until(
        SETTLE,
        || (queued() == 0).then_some(()),
        || {
            format!(
                "{software}: {} still queued after {SETTLE:?}\n{}",
                queued(),
                log()
            )
        },
    );
}

/// Waits until what `log` returns contains `needle` and returns it; panics
/// with it after `timeout`. MTAs log through a daemon or a socket, so a line
/// appears a moment after the event it reports.
pub fn wait_for_log(
    software: &str,
    needle: &str,
    timeout: Duration,
    log: impl Fn() -> String,
) -> String {
    wait_until(
        timeout,
        || Some(log()).filter(|text| text.contains(needle)),
        || {
            format!(
                "{needle:?} not in the {software} log after {timeout:?}\n{}",
                log()
            )
        },
    )
}

fn banner(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).ok()?;
    let _ = stream.write_all(b"QUIT\r\n");
    Some(line)
}

/// Picks a free loopback port that no earlier call in this test binary has
/// handed out. The kernel may give a just-released port to the next
/// `bind(0)`, so two ports picked back to back (a milter socket and a
/// metrics endpoint) could otherwise be the same. Another process could
/// still take the port before the test binds it; on a test machine that is
/// rare enough.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().expect("local address").port();
        if given.insert(port) {
            return port;
        }
    }
}

/// [`free_port`] on 127.0.0.1, as an address.
pub fn free_addr() -> SocketAddr {
    ([127, 0, 0, 1], free_port()).into()
}
