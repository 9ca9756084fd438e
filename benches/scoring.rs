//! The scoring core on a corpus, stage by stage: MIME decoding alone
//! (mail-parser), the normalised view (decoding, text extraction,
//! normalisation), normalisation alone, the rules, the learned model, and
//! the whole judgement as the daemon makes it (session buffer included).
//!
//! One iteration judges every message of the corpus once; throughput is in
//! bytes of message, so criterion reports MiB/s. For µs per message divide
//! the time by the message count printed first. Time is the thread's CPU
//! time, not wall time: on a shared machine other processes then do not
//! count, and the figures are per core. The corpus is
//! `tests/corpus` unless `PITCHFORK_BENCH_CORPUS` names another directory
//! (searched recursively for `*.eml`); `PITCHFORK_BENCH_MAX_SIZE` drops
//! larger files.
//!
//! ```sh
//! cargo bench --bench scoring
//! PITCHFORK_BENCH_CORPUS=../shared/corpus/real cargo bench --bench scoring
//! ```

use criterion::{
    Criterion, Throughput, criterion_group, criterion_main,
    measurement::{Measurement, ValueFormatter},
};
use mail_parser::MessageParser;
use pitchfork::{
    engine::Engine,
    message::{MessageView, normalize},
    session::Session,
};
use std::{
    hint::black_box,
    path::{Path, PathBuf},
    time::Duration,
};

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::env::var_os("PITCHFORK_BENCH_CORPUS")
        .map_or_else(|| PathBuf::from("tests/corpus"), PathBuf::from);
    let max_size = std::env::var("PITCHFORK_BENCH_MAX_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let mut paths = Vec::new();
    collect(&dir, &mut paths);
    paths.sort();
    let messages: Vec<Vec<u8>> = paths
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|m| m.len() <= max_size)
        .collect();
    assert!(!messages.is_empty(), "no .eml under {}", dir.display());
    let bytes: usize = messages.iter().map(Vec::len).sum();
    eprintln!(
        "corpus {}: {} messages, {bytes} bytes (mean {} B)",
        dir.display(),
        messages.len(),
        bytes / messages.len()
    );
    messages
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "eml") {
            out.push(path);
        }
    }
}

/// The text `normalize` receives: subject and body parts as decoded.
fn decoded_text(raw: &[u8]) -> String {
    let Some(message) = MessageParser::default().parse(raw) else {
        return String::new();
    };
    let mut text = message.subject().unwrap_or_default().to_owned();
    for i in 0..message.text_body_count() {
        if let Some(body) = message.body_text(i) {
            text.push('\n');
            text.push_str(&body);
        }
    }
    text
}

fn scoring(c: &mut Criterion<CpuTime>) {
    let messages = corpus();
    let engine = Engine::load(None).expect("built-in configuration");
    let limit = engine.config.max_scan_bytes;
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let views: Vec<MessageView> = messages
        .iter()
        .map(|m| MessageView::parse(m, false))
        .collect();
    let texts: Vec<String> = messages.iter().map(|m| decoded_text(m)).collect();

    let mut group = c.benchmark_group("corpus");
    group
        .throughput(Throughput::Bytes(bytes as u64))
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("mime", |b| {
        b.iter(|| {
            for m in &messages {
                black_box(MessageParser::default().parse(black_box(m)));
            }
        })
    });
    group.bench_function("normalize", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(normalize(black_box(t)));
            }
        })
    });
    group.bench_function("view", |b| {
        b.iter(|| {
            for m in &messages {
                black_box(MessageView::parse(black_box(m), false));
            }
        })
    });
    group.bench_function("rules", |b| {
        b.iter(|| {
            for v in &views {
                black_box(engine.rules.score(black_box(v)));
            }
        })
    });
    if let Some(model) = &engine.model {
        let evaluations: Vec<_> = views.iter().map(|v| engine.rules.score(v)).collect();
        group.bench_function("model", |b| {
            b.iter(|| {
                for (v, e) in views.iter().zip(&evaluations) {
                    black_box(model.rescore(e.clone(), black_box(v)));
                }
            })
        });
    }
    group.bench_function("judge", |b| {
        b.iter(|| {
            for m in &messages {
                black_box(engine.judge(black_box(m), false));
            }
        })
    });
    group.bench_function("session", |b| {
        b.iter(|| {
            for m in &messages {
                let _ = black_box(Session::from_bytes(black_box(m), limit).judge(&engine));
            }
        })
    });
    group.finish();
}

/// CPU time of the benchmarking thread (`CLOCK_THREAD_CPUTIME_ID`).
struct CpuTime;

fn thread_cpu_nanos() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill in.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_nanos()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_nanos().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuTimeFormatter
    }
}

/// Nanoseconds shown as ns/µs/ms/s; throughput as MiB/s or messages/s.
struct CpuTimeFormatter;

impl ValueFormatter for CpuTimeFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = match typical {
            t if t < 1e3 => (1.0, "ns"),
            t if t < 1e6 => (1e-3, "µs"),
            t if t < 1e9 => (1e-6, "ms"),
            _ => (1e-9, "s"),
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let (amount, unit) = match *throughput {
            Throughput::Bytes(b) | Throughput::BytesDecimal(b) => (b as f64 / 1_048_576.0, "MiB/s"),
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => {
                (n as f64, "msg/s")
            }
            Throughput::Bits(b) => (b as f64 / 8.0 / 1_048_576.0, "MiB/s"),
        };
        values.iter_mut().for_each(|v| *v = amount * 1e9 / *v);
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn cpu_time() -> Criterion<CpuTime> {
    Criterion::default().with_measurement(CpuTime)
}

criterion_group! {
    name = benches;
    config = cpu_time();
    targets = scoring
}
criterion_main!(benches);
