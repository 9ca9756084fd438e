//! pitchfork: a milter that flags sales pitches dressed up as partnership
//! offers.
//!
//! The scoring core ([`message`], [`score`], [`action`], [`engine`]) is pure
//! and synchronous; the daemon ([`milter`], [`listener`], [`reload`],
//! [`metrics`], [`logging`]) and the `pitchfork check` command both judge
//! messages through [`session::Session`] and [`engine::Engine::judge`].

pub mod action;
pub mod commands;
pub mod config;
pub mod engine;
pub mod html;
pub mod listener;
pub mod logging;
pub mod message;
pub mod metrics;
pub mod milter;
pub mod normalize;
pub mod reload;
pub mod score;
pub mod session;
pub mod skip;
pub mod state;
