//! N concurrent milter connections working through a shared message
//! counter, each connection carrying a few messages as one SMTP session
//! would (CONNECT and HELO once, ABORT between messages, QUIT at the end).

use crate::{
    client::{self, Conversation, Endpoint, Stream, nanos_since},
    corpus::{Encoded, Encoder, Mail},
    proto::Negotiated,
    stats::Tally,
};
use std::{
    io,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::io::{AsyncRead, AsyncWrite};

/// Messages encoded once for one negotiation.
pub struct Plan {
    pub negotiated: Negotiated,
    pub connection: Encoded,
    pub messages: Vec<Encoded>,
    /// Messages per milter connection.
    pub per_connection: usize,
}

impl Plan {
    pub fn new(negotiated: Negotiated, mails: &[Mail], per_connection: usize) -> Self {
        let connection = Encoder::new(&negotiated, String::new()).connection();
        let messages = mails
            .iter()
            .enumerate()
            .map(|(i, mail)| Encoder::new(&negotiated, format!("4Q{i:08X}")).message(mail))
            .collect();
        Self {
            negotiated,
            connection,
            messages,
            per_connection: per_connection.max(1),
        }
    }
}

/// The limits of one run.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub concurrency: usize,
    pub messages: usize,
    pub time: Duration,
}

/// Runs `limits.concurrency` connections until `limits.messages` messages
/// were started or the time is up; returns the tally and the wall time.
pub async fn run(plan: &Arc<Plan>, endpoint: &Endpoint, limits: Limits) -> (Tally, Duration) {
    let counter = Arc::new(Counter {
        next: AtomicUsize::new(0),
        total: limits.messages,
        deadline: Instant::now() + limits.time,
    });
    let start = Instant::now();
    let workers: Vec<_> = (0..limits.concurrency)
        .map(|_| {
            let (plan, endpoint, counter) =
                (Arc::clone(plan), endpoint.clone(), Arc::clone(&counter));
            tokio::spawn(async move { worker(&plan, &endpoint, &counter).await })
        })
        .collect();
    let mut tally = Tally::default();
    for worker in workers {
        match worker.await {
            Ok(t) => tally.merge(t),
            Err(e) => tally.error(format!("worker died: {e}")),
        }
    }
    (tally, start.elapsed())
}

/// Hands out message numbers until the run is over.
struct Counter {
    next: AtomicUsize,
    total: usize,
    deadline: Instant,
}

impl Counter {
    fn take(&self) -> Option<usize> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (n < self.total && Instant::now() < self.deadline).then_some(n)
    }

    fn over(&self) -> bool {
        self.next.load(Ordering::Relaxed) >= self.total || Instant::now() >= self.deadline
    }
}

async fn worker(plan: &Plan, endpoint: &Endpoint, counter: &Counter) -> Tally {
    let mut tally = Tally::default();
    while !counter.over() {
        let started = Instant::now();
        let result = match client::connect(endpoint).await {
            Ok(Stream::Unix(s)) => session(s, plan, counter, started, &mut tally).await,
            Ok(Stream::Inet(s)) => session(s, plan, counter, started, &mut tally).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tally.error(e);
            // A milter that is gone must not make this spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    tally
}

/// One milter connection: the first message's latency includes connecting
/// and negotiating, as it does for Postfix.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    plan: &Plan,
    counter: &Counter,
    started: Instant,
    tally: &mut Tally,
) -> io::Result<()> {
    let (mut conversation, negotiated) = Conversation::open(stream).await?;
    if negotiated != plan.negotiated {
        return Err(io::Error::other(format!(
            "negotiated {negotiated:?}, expected {:?}",
            plan.negotiated
        )));
    }
    conversation.steps(&plan.connection).await?;
    for k in 0..plan.per_connection {
        let Some(n) = counter.take() else { break };
        let start = if k == 0 {
            started
        } else {
            conversation.abort();
            Instant::now()
        };
        let message = &plan.messages[n % plan.messages.len()];
        let outcome = conversation.steps(message).await?;
        tally.record(nanos_since(start), &outcome);
    }
    conversation.quit().await
}
