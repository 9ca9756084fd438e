//! pitchfork: a milter that flags sales pitches dressed up as partnership
//! offers.
//!
//! The scoring core ([`message`], [`score`], [`action`], [`engine`]) is pure
//! and synchronous; the daemon ([`milter`], [`listener`]) and the
//! `pitchfork check` command both judge messages through
//! [`session::Session`] and [`engine::Engine::judge`].

pub mod action;
pub mod commands;
pub mod config;
pub mod engine;
pub mod listener;
pub mod message;
pub mod milter;
pub mod score;
pub mod session;
pub mod skip;
