//! Helpers shared by the integration tests.
//!
//! Each test binary compiles this module on its own and uses only part of
//! it, so unused-item warnings would be noise.
#![allow(dead_code)]

pub mod client;
pub mod daemon;
pub mod delivered;
pub mod dovecot;
pub mod mta;
pub mod postfix;
pub mod redis;
pub mod sendmail;
