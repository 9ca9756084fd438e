//! Judges every `.eml` under a directory once (default `tests/corpus`) and
//! prints how many were flagged: a fixed amount of work for instruction
//! counts under `valgrind --tool=callgrind`, which the timed benchmarks on a
//! shared machine cannot give.
//!
//! ```sh
//! cargo build --release --example judge_corpus
//! valgrind --tool=callgrind target/release/examples/judge_corpus tests/corpus
//! ```

use pitchfork::{commands::for_each_message, engine::Engine};
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("tests/corpus"), PathBuf::from);
    let mut messages = Vec::new();
    for_each_message(&dir, &mut |_, raw| {
        messages.push(raw.to_vec());
        Ok(())
    })?;
    let engine = Engine::load(None).expect("built-in configuration");
    let total: f64 = messages.iter().map(|m| engine.judge(m, false).score).sum();
    println!("{} messages, scores summing to {total:.2}", messages.len());
    Ok(())
}
