//! The indymilter glue: callbacks only hand over to a [`Session`] and act on
//! its [`Decision`]. A callback never panics outward and never rejects
//! because of our own failure: errors end in the configured `on_error`.
//!
//! Logging policy: error = cannot serve; warn = our failure on one message
//! or a misbehaving MTA; info = one line per message; debug = each hit.
//! Message content never appears above debug.

use crate::{
    action::{Action, Decision},
    config::OnError,
    engine::Engine,
    listener::MilterListener,
    session::Session,
    skip::{SkipReason, envelope_address},
};
use indymilter::{
    Actions, Callbacks, Context, ContextActions, EomContext, MacroStage, NegotiateContext,
    ProtoOpts, SetErrorReply, SocketInfo, Status,
};
use std::{
    ffi::{CStr, CString},
    future::Future,
    io,
    net::IpAddr,
    sync::{Arc, RwLock},
};
use tracing::{debug, info, warn};

/// The current runtime snapshot, replaced whole on reload. A message keeps
/// the snapshot it started with.
#[derive(Debug)]
pub struct Snapshots(RwLock<Arc<Engine>>);

impl Snapshots {
    pub fn new(engine: Engine) -> Self {
        Self(RwLock::new(Arc::new(engine)))
    }

    /// The snapshot new messages use.
    pub fn current(&self) -> Arc<Engine> {
        match self.0.read() {
            Ok(engine) => Arc::clone(&engine),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Installs a new snapshot for the messages that start from now on.
    pub fn replace(&self, engine: Engine) {
        let mut slot = match self.0.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Arc::new(engine);
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
}

/// Per-message state.
#[derive(Debug)]
struct Message {
    engine: Arc<Engine>,
    session: Session,
    sender: String,
    skip: Option<SkipReason>,
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
    .union(ProtoOpts::NOREPLY_HEADER)
    .union(ProtoOpts::NOREPLY_EOH);

/// Runs the milter on a bound listener until `shutdown` completes.
pub async fn run(
    listener: MilterListener,
    snapshots: Arc<Snapshots>,
    shutdown: impl Future,
) -> io::Result<()> {
    let engine = snapshots.current();
    let config = indymilter::Config {
        max_connections: engine.config.max_connections,
        actions: Actions::empty(),
        connection_timeout: engine.config.connection_timeout,
    };
    indymilter::run(listener, callbacks(snapshots), config, shutdown).await
}

fn callbacks(snapshots: Arc<Snapshots>) -> Callbacks<Connection> {
    Callbacks::new()
        .on_negotiate(|cx, actions, opts| Box::pin(async move { negotiate(cx, actions, opts) }))
        .on_connect(|cx, _, socket| Box::pin(async move { connect(cx, socket) }))
        .on_mail(move |cx, args| {
            let status = mail(cx, &snapshots, &args);
            Box::pin(async move { status })
        })
        .on_header(|cx, name, value| Box::pin(async move { header(cx, &name, &value) }))
        .on_eoh(|cx| Box::pin(async move { eoh(cx) }))
        .on_body(|cx, chunk| Box::pin(async move { body(cx, &chunk) }))
        .on_eom(|cx| Box::pin(eom(cx)))
        .on_abort(|cx| Box::pin(async move { abort(cx) }))
}

fn negotiate(cx: &mut NegotiateContext<Connection>, actions: Actions, opts: ProtoOpts) -> Status {
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
        skip,
    });
    conn.reply(ProtoOpts::NOREPLY_MAIL)
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

async fn eom(cx: &mut EomContext<Connection>) -> Status {
    let queue_id = macro_value(&cx.macros, c"i").unwrap_or_else(|| "NOQUEUE".into());
    let Some(conn) = cx.data.as_mut() else {
        return Status::Accept;
    };
    let client = conn.client;
    let Some(message) = conn.message.take() else {
        warn!(%queue_id, "end of message without a message in progress");
        return Status::Accept;
    };
    let on_error = message.engine.config.on_error;
    match finish(cx, &message, &queue_id, client).await {
        Ok(status) => status,
        Err(reason) => {
            warn!(%queue_id, "cannot judge message, {}: {reason}", on_error_label(on_error));
            match on_error {
                OnError::Accept => Status::Accept,
                OnError::Tempfail => Status::Tempfail,
            }
        }
    }
}

async fn finish(
    cx: &mut EomContext<Connection>,
    message: &Message,
    queue_id: &str,
    client: Option<IpAddr>,
) -> Result<Status, String> {
    let decision = match &message.skip {
        Some(reason) => {
            info!(%queue_id, client = %show(client), from = %message.sender, "not scored: {reason}");
            None
        }
        None => Some(message.session.judge(&message.engine)?),
    };
    // Forged verdicts go first, whether or not we add our own.
    for (name, index) in message.session.forged_headers() {
        cx.actions
            .change_header(name, index, None::<CString>)
            .await
            .map_err(|e| format!("cannot delete forged header: {e}"))?;
    }
    let Some(decision) = decision else {
        return Ok(Status::Accept);
    };
    log_decision(&decision, queue_id, client, &message.sender);
    if let (Action::Reject, Some(reply)) = (decision.action, &decision.reply) {
        cx.reply
            .set_error_reply(&reply.code, Some(&reply.enhanced), [reply.text.as_str()])
            .map_err(|e| format!("invalid reject reply: {e}"))?;
        return Ok(Status::Reject);
    }
    for (name, value) in &decision.headers {
        cx.actions
            .add_header(name.as_str(), value.as_str())
            .await
            .map_err(|e| format!("cannot add header {name}: {e}"))?;
    }
    Ok(Status::Accept)
}

fn log_decision(decision: &Decision, queue_id: &str, client: Option<IpAddr>, sender: &str) {
    info!(
        %queue_id,
        client = %show(client),
        from = %sender,
        score = format_args!("{:.2}", decision.score),
        action = %decision.action.as_str(),
        tests = %decision.top_tests(5),
    );
    for hit in &decision.hits {
        debug!(%queue_id, test = %hit.name, score = hit.score, evidence = ?hit.evidence);
    }
}

fn on_error_label(on_error: OnError) -> &'static str {
    match on_error {
        OnError::Accept => "accepting it unmodified",
        OnError::Tempfail => "tempfailing it",
    }
}

fn show(client: Option<IpAddr>) -> String {
    client.map_or_else(|| "unix".to_owned(), |ip| ip.to_string())
}

fn macro_value(macros: &indymilter::Macros, name: &CStr) -> Option<String> {
    macros
        .get(name)
        .map(|v| v.to_string_lossy().into_owned())
        .filter(|v| !v.is_empty())
}
