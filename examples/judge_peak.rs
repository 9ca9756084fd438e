//! How much heap judging one large message takes above the message itself:
//! a counting allocator records the live bytes around `Engine::judge` of a
//! synthetic message of `max_scan_bytes` (default 1 MiB) with no blank
//! lines, the worst case for the paragraph-at-a-time normalisation. The
//! daemon's RSS for a message cut at `max_scan_bytes` is about this plus
//! the message buffer (`cargo bench --bench load -- memory`).
//!
//! The body repeats one line, by default a sentence; a second argument
//! gives another (`\n` in it stands for a line end), to measure hostile
//! shapes: `'a\n'` (one-letter lines), `'\n'`, `'w0rd '`.
//!
//! ```sh
//! cargo run --release --example judge_peak [BYTES [LINE]]
//! ```

use pitchfork::engine::Engine;
use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicUsize, Ordering::Relaxed},
};

/// The system allocator, counting the live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every call is passed on to `System` unchanged; the counters do
// not touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            grew(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Relaxed);
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    let size = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1 << 20);
    let engine = Engine::load(None).expect("built-in configuration");
    let line = std::env::args().nth(2).map_or_else(
        || "We would love to partner with you on a long list of services we sell.\r\n".to_owned(),
        |line| line.replace("\\n", "\r\n"),
    );
    assert!(!line.is_empty(), "an empty line makes no message");
    let mut raw = b"From: Big <big@vendor.example>\r\nTo: user@pitch.test\r\n\
        Subject: Partnership opportunity\r\nMessage-ID: <big@vendor.example>\r\n\r\n"
        .to_vec();
    while raw.len() < size {
        raw.extend_from_slice(line.as_bytes());
    }
    raw.truncate(size);
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let decision = engine.judge(&raw, true);
    let peak = PEAK.load(Relaxed) - before;
    let mib = |bytes: usize| bytes as f64 / 1_048_576.0;
    println!(
        "message {:.2} MiB, score {:.2}: judging peaked {:.2} MiB above it ({:.2} × its size)",
        mib(raw.len()),
        decision.score,
        mib(peak),
        peak as f64 / raw.len() as f64
    );
}
