//! Judges every `.eml` under a directory once (default `tests/corpus`) and
//! prints how many were flagged: a fixed amount of work for instruction
//! counts under `valgrind --tool=callgrind`, which the timed benchmarks on a
//! shared machine cannot give.
//!
//! ```sh
//! cargo build --release --example judge_corpus
//! valgrind --tool=callgrind target/release/examples/judge_corpus tests/corpus
//! ```

use pitchfork::engine::Engine;
use std::path::{Path, PathBuf};

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("tests/corpus"), PathBuf::from);
    let mut paths = Vec::new();
    collect(&dir, &mut paths);
    paths.sort();
    let messages: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    let engine = Engine::load(None).expect("built-in configuration");
    let total: f64 = messages.iter().map(|m| engine.judge(m, false).score).sum();
    println!("{} messages, scores summing to {total:.2}", messages.len());
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
