//! The subcommands of the `pitchfork` binary.

pub mod check;
pub mod serve;

/// Exit status: success, nothing flagged.
pub const EXIT_OK: u8 = 0;
/// Exit status of `check`: at least one message was flagged.
pub const EXIT_FLAGGED: u8 = 1;
/// Exit status: an error (unreadable file, invalid configuration).
pub const EXIT_ERROR: u8 = 2;
