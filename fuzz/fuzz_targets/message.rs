//! Raw message bytes, as a file or an MTA would hand them over, through
//! everything `pitchfork check` does: header splitting, the byte cap, MIME
//! parsing, normalisation, the rules, the model and the decision.
//!
//! A panic anywhere is a crash here (libFuzzer aborts on it), even though
//! the daemon would isolate it to the one message. The decision is also
//! checked for what reaches the MTA: header values that cannot inject.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pitchfork::{engine::Engine, session::Session};
use std::sync::LazyLock;

static ENGINE: LazyLock<Engine> =
    LazyLock::new(|| Engine::load(None).expect("the built-in configuration loads"));

fuzz_target!(|raw: &[u8]| {
    let engine = &*ENGINE;
    let session = Session::from_bytes(raw, engine.config.max_scan_bytes);
    let decision = session.judge(engine).expect("scoring does not panic");
    assert!(decision.score.is_finite(), "score {}", decision.score);
    for (name, value) in &decision.headers {
        assert!(name.starts_with("X-Pitchfork-"), "{name}");
        assert!(!value.contains(['\r', '\0']), "{name}: {value:?}");
        // Folded lines only: every line break starts a continuation.
        assert!(
            value.split('\n').skip(1).all(|line| line.starts_with('\t')),
            "{name}: {value:?}"
        );
    }
});
