//! The indymilter glue: callbacks only hand over to a [`Session`] and act on
//! its [`Decision`]. A callback never panics outward and never rejects
//! because of our own failure: errors end in the configured `on_error`.
//!
//! In observe mode (`mode = "observe"`) everything happens except acting:
//! a message over the reject threshold gets the headers and is accepted.
//!
//! Logging policy: error = cannot serve; warn = our failure on one message
//! or a misbehaving MTA; info = one line per message; debug = each hit.
//! Message content never appears above debug; addresses only as the
//! `log_addresses` setting allows.

use crate::{
    action::{Action, Decision},
    config::{Config, Mode, OnError},
    engine::{Ask, Engine},
    listener::{Limited, MilterListener},
    logging::personal,
    metrics::{ConnectionGuard, ErrorKind, MessageGuard, Metrics, Outcome},
    session::{Session, isolate},
    skip::{SkipReason, envelope_address},
    state::{self, Sent, State, envelope::Envelope},
};
use indymilter::{
    Actions, Callbacks, Context, ContextActions, EomContext, Listener, MacroStage,
    NegotiateContext, ProtoOpts, SetErrorReply, SocketInfo, Status,
};
use std::{
    ffi::{CStr, CString},
    future::Future,
    io,
    net::IpAddr,
    sync::{Arc, Mutex, RwLock},
    task::{self, Poll},
    time::Instant,
};
use tracing::{debug, info, warn};

/// The current runtime snapshot, replaced whole on reload (a message keeps
/// the snapshot it started with); the metrics and the state store, which
/// outlive reloads.
#[derive(Debug)]
pub struct Snapshots {
    current: RwLock<Arc<Engine>>,
    metrics: Arc<Metrics>,
    state: Arc<State>,
}

impl Snapshots {
    pub fn new(engine: Engine) -> Self {
        Self {
            state: Arc::new(State::new(&engine.config.state)),
            current: RwLock::new(Arc::new(engine)),
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// The state store (opened on first use).
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// The snapshot new messages use.
    pub fn current(&self) -> Arc<Engine> {
        match self.current.read() {
            Ok(engine) => Arc::clone(&engine),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Installs a new snapshot for the messages that start from now on.
    pub fn replace(&self, engine: Engine) {
        let mut slot = match self.current.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Arc::new(engine);
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

/// Per-connection state.
#[derive(Debug, Default)]
pub struct Connection {
    /// Steps negotiated as "no reply".
    noreply: ProtoOpts,
    /// Whether the MTA accepts `Skip` for the rest of the body.
    can_skip: bool,
    client: Option<IpAddr>,
    message: Option<Message>,
    /// Counts this connection as open while it lasts.
    _open: Option<ConnectionGuard>,
}

/// Per-message state.
#[derive(Debug)]
struct Message {
    engine: Arc<Engine>,
    session: Session,
    sender: String,
    /// Envelope recipients, kept for outbound mail only.
    recipients: Vec<String>,
    skip: Option<SkipReason>,
    /// Counts this message as in flight until it is decided or dropped.
    _in_flight: MessageGuard,
}

impl Connection {
    fn reply(&self, step: ProtoOpts) -> Status {
        if self.noreply.contains(step) {
            Status::Noreply
        } else {
            Status::Continue
        }
    }
}

/// Steps where pitchfork never has anything to say: the MTA need not wait
/// for a reply (milter protocol 6).
const NOREPLY: ProtoOpts = ProtoOpts::NOREPLY_CONNECT
    .union(ProtoOpts::NOREPLY_MAIL)
    .union(ProtoOpts::NOREPLY_RCPT)
    .union(ProtoOpts::NOREPLY_HEADER)
    .union(ProtoOpts::NOREPLY_EOH);

/// Runs the milter on a bound listener until `shutdown` completes, then
/// drains: the listening socket is closed at once (an MTA connecting now
/// is refused and applies its milter_default_action), messages in flight
/// get up to `shutdown_timeout` to finish, then every connection closes.
pub async fn run(
    listener: MilterListener,
    snapshots: Arc<Snapshots>,
    shutdown: impl Future,
) -> io::Result<()> {
    let engine = snapshots.current();
    let limit = engine.config.max_connections;
    let config = indymilter::Config {
        // One more than the limit, so that indymilter always accepts and
        // `Limited` refuses the excess at once instead of leaving it queued.
        max_connections: limit + 1,
        actions: Actions::empty(),
        connection_timeout: engine.config.connection_timeout,
    };
    let gate = Gate(Arc::new(Mutex::new(Some(listener))));
    let drained = drain(gate.clone(), Arc::clone(&snapshots), shutdown);
    let limited = Limited::new(gate, limit);
    indymilter::run(limited, callbacks(snapshots), config, drained).await
}

/// Completes once `shutdown` has and the messages in flight are done (or
/// `shutdown_timeout` has passed); indymilter then ends every session.
async fn drain(gate: Gate, snapshots: Arc<Snapshots>, shutdown: impl Future) {
    shutdown.await;
    gate.close();
    let metrics = snapshots.metrics();
    let timeout = snapshots.current().config.service.shutdown_timeout;
    let pending = metrics.in_flight();
    if pending > 0 {
        info!(
            messages = pending,
            "no longer accepting connections, waiting up to {}s for messages in flight",
            timeout.as_secs()
        );
    }
    if tokio::time::timeout(timeout, metrics.idle()).await.is_err() {
        warn!(
            messages = metrics.in_flight(),
            "shutdown_timeout reached, closing connections with messages in flight"
        );
    }
}

/// The listening socket, shared so that shutdown can close it while
/// indymilter still holds the listener.
#[derive(Clone, Debug)]
struct Gate(Arc<Mutex<Option<MilterListener>>>);

impl Gate {
    fn close(&self) {
        let mut listener = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *listener = None;
    }
}

impl Listener for Gate {
    type Io = <MilterListener as Listener>::Io;

    fn poll_accept(&mut self, cx: &mut task::Context<'_>) -> Poll<io::Result<Self::Io>> {
        let mut listener = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match listener.as_mut() {
            Some(listener) => listener.poll_accept(cx),
            // Closed for shutdown: no connection comes any more.
            None => Poll::Pending,
        }
    }
}

fn callbacks(snapshots: Arc<Snapshots>) -> Callbacks<Connection> {
    let for_negotiate = Arc::clone(&snapshots);
    let for_mail = Arc::clone(&snapshots);
    // Recipients matter only to correspondent memory: without a state
    // store the MTA is spared the RCPT step.
    let remembers = snapshots.state().enabled();
    let callbacks = Callbacks::new()
        .on_negotiate(move |cx, actions, opts| {
            let open = for_negotiate.metrics().connection_opened();
            Box::pin(async move { negotiate(cx, actions, opts, open) })
        })
        .on_connect(|cx, _, socket| Box::pin(async move { connect(cx, socket) }))
        .on_mail(move |cx, args| {
            let status = mail(cx, &for_mail, &args);
            Box::pin(async move { status })
        })
        .on_header(|cx, name, value| Box::pin(async move { header(cx, &name, &value) }))
        .on_eoh(|cx| Box::pin(async move { eoh(cx) }))
        .on_body(|cx, chunk| Box::pin(async move { body(cx, &chunk) }))
        .on_eom(move |cx| Box::pin(eom(cx, Arc::clone(&snapshots))))
        .on_abort(|cx| Box::pin(async move { abort(cx) }));
    if remembers {
        callbacks.on_rcpt(|cx, args| Box::pin(async move { rcpt(cx, &args) }))
    } else {
        callbacks
    }
}

fn negotiate(
    cx: &mut NegotiateContext<Connection>,
    actions: Actions,
    opts: ProtoOpts,
    open: ConnectionGuard,
) -> Status {
    // Only what we use: add our headers, delete forged copies.
    cx.requested_actions = (Actions::ADD_HEADER | Actions::CHANGE_HEADER) & actions;
    let noreply = NOREPLY & opts;
    cx.requested_opts |= noreply;
    let macros = [
        (MacroStage::Mail, "{auth_authen} {auth_type} i"),
        (MacroStage::Eom, "i"),
    ];
    for (stage, names) in macros {
        cx.requested_macros
            .insert(stage, CString::new(names).expect("no NUL"));
    }
    cx.data = Some(Connection {
        noreply,
        can_skip: cx.requested_opts.contains(ProtoOpts::SKIP),
        _open: Some(open),
        ..Connection::default()
    });
    Status::Continue
}

fn connect(cx: &mut Context<Connection>, socket: SocketInfo) -> Status {
    let conn = cx.data.get_or_insert_with(Connection::default);
    conn.client = match socket {
        SocketInfo::Inet(addr) => Some(addr.ip()),
        _ => None,
    };
    conn.reply(ProtoOpts::NOREPLY_CONNECT)
}

fn mail(cx: &mut Context<Connection>, snapshots: &Snapshots, args: &[CString]) -> Status {
    let auth = macro_value(&cx.macros, c"{auth_authen}")
        .or_else(|| macro_value(&cx.macros, c"{auth_type}"));
    let conn = cx.data.get_or_insert_with(Connection::default);
    let sender = args
        .first()
        .map(|a| envelope_address(&a.to_string_lossy()).to_owned())
        .unwrap_or_default();
    let engine = snapshots.current();
    let skip = engine
        .config
        .skip
        .reason(conn.client, auth.as_deref(), &sender);
    conn.message = Some(Message {
        session: Session::new(engine.config.max_scan_bytes),
        engine,
        sender,
        recipients: Vec::new(),
        skip,
        _in_flight: snapshots.metrics().message_started(),
    });
    conn.reply(ProtoOpts::NOREPLY_MAIL)
}

/// Outbound mail's recipients are remembered; at most this many a message.
const MAX_RECIPIENTS: usize = 1000;

fn rcpt(cx: &mut Context<Connection>, args: &[CString]) -> Status {
    let Some(conn) = cx.data.as_mut() else {
        return Status::Continue;
    };
    if let Some(message) = conn.message.as_mut()
        && message.skip.as_ref().is_some_and(SkipReason::is_outbound)
        && message.recipients.len() < MAX_RECIPIENTS
        && let Some(arg) = args.first()
    {
        let address = envelope_address(&arg.to_string_lossy()).to_owned();
        if !address.is_empty() {
            message.recipients.push(address);
        }
    }
    conn.reply(ProtoOpts::NOREPLY_RCPT)
}

fn header(cx: &mut Context<Connection>, name: &CStr, value: &CStr) -> Status {
    let Some(conn) = cx.data.as_mut() else {
        return Status::Continue;
    };
    if let Some(message) = conn.message.as_mut() {
        message
            .session
            .header(&name.to_string_lossy(), value.to_bytes());
    }
    conn.reply(ProtoOpts::NOREPLY_HEADER)
}

fn eoh(cx: &mut Context<Connection>) -> Status {
    let Some(conn) = cx.data.as_mut() else {
        return Status::Continue;
    };
    if let Some(message) = conn.message.as_mut() {
        message.session.end_of_headers();
    }
    conn.reply(ProtoOpts::NOREPLY_EOH)
}

fn body(cx: &mut Context<Connection>, chunk: &[u8]) -> Status {
    let Some(conn) = cx.data.as_mut() else {
        return Status::Continue;
    };
    let wants_more = match conn.message.as_mut() {
        Some(message) if message.skip.is_none() => message.session.body(chunk),
        _ => false,
    };
    // Past the scan limit (or not scanning at all) the rest of the body is
    // of no use: ask the MTA to stop sending it, where it can.
    if !wants_more && conn.can_skip {
        Status::Skip
    } else {
        Status::Continue
    }
}

fn abort(cx: &mut Context<Connection>) -> Status {
    if let Some(conn) = cx.data.as_mut() {
        conn.message = None;
    }
    Status::Continue
}

async fn eom(cx: &mut EomContext<Connection>, snapshots: Arc<Snapshots>) -> Status {
    let queue_id = macro_value(&cx.macros, c"i").unwrap_or_else(|| "NOQUEUE".into());
    let metrics = snapshots.metrics();
    let Some(conn) = cx.data.as_mut() else {
        return Status::Accept;
    };
    let client = conn.client;
    let Some(message) = conn.message.take() else {
        warn!(%queue_id, "end of message without a message in progress");
        metrics.error(ErrorKind::Protocol);
        return Status::Accept;
    };
    let config = &message.engine.config;
    let (mode, on_error) = (config.mode, config.on_error);
    match finish(cx, &message, &queue_id, client, &snapshots).await {
        Ok((status, outcome)) => {
            metrics.message(outcome, mode);
            status
        }
        Err(failure) => {
            metrics.error(failure.kind);
            metrics.message(Outcome::Error, mode);
            // Observe mode never acts, not even with a temporary failure.
            let status = match (mode, on_error) {
                (Mode::Enforce, OnError::Tempfail) => Status::Tempfail,
                _ => Status::Accept,
            };
            warn!(%queue_id, "cannot judge message, {}: {}", on_error_label(&status), failure.reason);
            status
        }
    }
}

/// Why a message could not be finished, for the log and the error metric.
struct Failure {
    kind: ErrorKind,
    reason: String,
}

impl Failure {
    fn mta(reason: String) -> Self {
        Self {
            kind: ErrorKind::MtaAction,
            reason,
        }
    }
}

/// Judges (unless skipped) and acts; returns the reply and what was done.
async fn finish(
    cx: &mut EomContext<Connection>,
    message: &Message,
    queue_id: &str,
    client: Option<IpAddr>,
    snapshots: &Snapshots,
) -> Result<(Status, Outcome), Failure> {
    let config = &message.engine.config;
    let decision = match &message.skip {
        Some(reason) => {
            log_skip(reason, queue_id, client, &message.sender, config);
            if reason.is_outbound() {
                remember(message, snapshots);
            }
            None
        }
        None => Some(judge(message, snapshots).await?),
    };
    // Forged verdicts go first, whether or not we add our own.
    for (name, index) in message.session.forged_headers() {
        cx.actions
            .change_header(name, index, None::<CString>)
            .await
            .map_err(|e| Failure::mta(format!("cannot delete forged header: {e}")))?;
    }
    let Some(decision) = decision else {
        return Ok((Status::Accept, Outcome::Skip));
    };
    log_decision(&decision, queue_id, client, &message.sender, config);
    if let (Action::Reject, Some(reply), Mode::Enforce) =
        (decision.action, &decision.reply, config.mode)
    {
        cx.reply
            .set_error_reply(&reply.code, Some(&reply.enhanced), [reply.text.as_str()])
            .map_err(|e| Failure::mta(format!("invalid reject reply: {e}")))?;
        return Ok((Status::Reject, Outcome::Reject));
    }
    for (name, value) in &decision.headers {
        cx.actions
            .add_header(name.as_str(), value.as_str())
            .await
            .map_err(|e| Failure::mta(format!("cannot add header {name}: {e}")))?;
    }
    Ok((Status::Accept, decision.action.into()))
}

/// Scores a message with its snapshot and what the state store knows
/// (asked within `state_timeout_ms`), timing it for the metrics.
async fn judge(message: &Message, snapshots: &Snapshots) -> Result<Decision, Failure> {
    let started = Instant::now();
    let metrics = snapshots.metrics();
    let engine = &message.engine;
    let scan_failure = |panicked: crate::session::Panicked| {
        // The panic's text may quote the message: debug only.
        debug!(payload = %panicked.payload, "scoring panic");
        Failure {
            kind: ErrorKind::Scan,
            reason: panicked.to_string(),
        }
    };
    let state = snapshots.state();
    let now = state::now();
    let retention = engine.config.state.retention.as_secs();
    let session = &message.session;
    let sender = Some(message.sender.as_str());
    // Score, then ask the store, if its answer could change the verdict
    // (or it has not been asked for a while: whether it has learned
    // enough is known only from an answer).
    let ask = async |learned, regardless| {
        let ask = Ask {
            sender,
            learned,
            regardless,
        };
        let mut prepared = session.prepare(engine, Some(ask)).map_err(scan_failure)?;
        let known = match prepared.query.take() {
            Some(query) => state.lookup(query, now, retention, metrics).await,
            None => None,
        };
        Ok::<_, Failure>((prepared, known))
    };
    let (prepared, known) = if !state.enabled() {
        (session.prepare(engine, None).map_err(scan_failure)?, None)
    } else {
        let learning = state.learning();
        let (prepared, known) = ask(learning, state.stale()).await?;
        if known.is_some() && !learning && state.learning() {
            // The store has just learned enough: this message asks again,
            // with its words, so no message goes without `LEARNED` once it
            // counts.
            ask(true, true).await?
        } else {
            (prepared, known)
        }
    };
    let decision =
        isolate(|| engine.decide(prepared, known.as_ref(), now)).map_err(scan_failure)?;
    let tests = decision.hits.iter().map(|hit| hit.name.as_str());
    metrics.scanned(decision.score, started.elapsed(), tests);
    Ok(decision)
}

/// Records an outbound message (in the background: it never waits).
fn remember(message: &Message, snapshots: &Snapshots) {
    let envelope = Envelope::scan(message.session.raw());
    let sent = Sent {
        message_id: envelope.message_id,
        recipients: message.recipients.clone(),
    };
    let retention = message.engine.config.state.retention.as_secs();
    let metrics = Arc::clone(snapshots.metrics());
    snapshots
        .state()
        .record(sent, state::now(), retention, metrics);
}

fn log_decision(
    decision: &Decision,
    queue_id: &str,
    client: Option<IpAddr>,
    sender: &str,
    config: &Config,
) {
    let reveal = config.logging.addresses;
    info!(
        %queue_id,
        client = %client_shown(client, reveal),
        from = %personal(sender, reveal),
        score = format_args!("{:.2}", decision.score),
        action = %decision.action.as_str(),
        mode = %config.mode.as_str(),
        tests = %decision.top_tests(5),
    );
    for hit in &decision.hits {
        debug!(%queue_id, test = %hit.name, score = hit.score, evidence = ?hit.evidence);
    }
}

fn log_skip(
    reason: &SkipReason,
    queue_id: &str,
    client: Option<IpAddr>,
    sender: &str,
    config: &Config,
) {
    let reveal = config.logging.addresses;
    // The reason names a user, address or sender: personal data too.
    let why = match (reveal, reason) {
        (true, _) => reason.to_string(),
        (false, SkipReason::Authenticated(_)) => "authenticated sender".into(),
        (false, SkipReason::TrustedNetwork(_)) => "trusted network client".into(),
        (false, SkipReason::AllowedSender(_)) => "allowlisted sender".into(),
    };
    info!(
        %queue_id,
        client = %client_shown(client, reveal),
        from = %personal(sender, reveal),
        action = %Outcome::Skip.as_str(),
        mode = %config.mode.as_str(),
        "not scored: {why}"
    );
}

fn on_error_label(status: &Status) -> &'static str {
    match status {
        Status::Tempfail => "tempfailing it",
        _ => "accepting it unmodified",
    }
}

/// The SMTP client's address as logged; "unix" when the MTA reported a
/// local (unix socket) client.
fn client_shown(client: Option<IpAddr>, reveal: bool) -> String {
    client.map_or_else(
        || "unix".to_owned(),
        |ip| personal(&ip.to_string(), reveal).to_string(),
    )
}

fn macro_value(macros: &indymilter::Macros, name: &CStr) -> Option<String> {
    macros
        .get(name)
        .map(|v| v.to_string_lossy().into_owned())
        .filter(|v| !v.is_empty())
}
