//! isolab: a live lab for Linux process isolation.
//!
//! `sys` is the kernel side and never imports the screen; `app` holds state
//! and the collector thread; `ui` renders state; `commands` are the headless
//! subcommands; `lessons` is the guided-lesson engine. See ARCHITECTURE.md.
#![deny(clippy::unwrap_used)]

pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod lessons;
pub mod sys;
pub mod text;
pub mod ui;

/// A usage error: bad input from the user. `main` maps it to exit code 2;
/// every other error exits 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Shorthand to fail with a usage error (exit 2).
pub fn usage<T>(msg: impl Into<String>) -> anyhow::Result<T> {
    Err(UsageError(msg.into()).into())
}
