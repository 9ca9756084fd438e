//! Compresses the shipped model (`config/model.json`) into the build's
//! output directory. The binary carries it gzipped and inflates it once at
//! start: as JSON it was 2.3 MB of the binary, every page of it read while
//! parsing and so resident for the life of the daemon; gzipped it is a
//! third of that.

use flate2::{Compression, write::GzEncoder};
use std::{env, fs, io::Write as _, path::PathBuf};

const MODEL: &str = "config/model.json";

fn main() {
    println!("cargo::rerun-if-changed={MODEL}");
    let json = fs::read(MODEL).unwrap_or_else(|e| panic!("cannot read {MODEL}: {e}"));
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder
        .write_all(&json)
        .and_then(|()| encoder.finish())
        .and_then(|gz| {
            let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
            fs::write(out.join("model.json.gz"), gz)
        })
        .unwrap_or_else(|e| panic!("cannot compress {MODEL}: {e}"));
}
