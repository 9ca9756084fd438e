//! The subcommands of the `pitchfork` binary.

pub mod check;
pub mod eval;
pub mod learn;
pub mod serve;
pub mod train;

use std::{
    io::{self, Read},
    path::{Path, PathBuf},
};

/// Exit status: success, nothing flagged.
pub const EXIT_OK: u8 = 0;
/// Exit status of `check`: at least one message was flagged.
pub const EXIT_FLAGGED: u8 = 1;
/// Exit status: an error (unreadable file, invalid configuration).
pub const EXIT_ERROR: u8 = 2;

/// Calls `f` with each message at `path`: a file, `-` for standard input,
/// or a directory searched recursively for `*.eml` in name order. An
/// unreadable file inside a directory is reported and skipped.
pub fn for_each_message(
    path: &Path,
    f: &mut dyn FnMut(&str, &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    if path == Path::new("-") {
        let mut raw = Vec::new();
        io::stdin().read_to_end(&mut raw)?;
        return f("-", &raw);
    }
    if !path.is_dir() {
        return f(&path.display().to_string(), &std::fs::read(path)?);
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    entries.sort();
    let mut result = Ok(());
    for entry in entries {
        let is_eml = entry.extension().is_some_and(|e| e == "eml");
        if !(entry.is_dir() || is_eml) {
            continue;
        }
        if let Err(e) = for_each_message(&entry, f) {
            eprintln!("pitchfork: {}: {e}", entry.display());
            result = Err(io::Error::other("some files could not be read"));
        }
    }
    result
}
