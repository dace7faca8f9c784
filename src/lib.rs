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

/// For unit tests that need root: true when running as root; otherwise the
/// test fails with `why`, unless `ISOLAB_TEST_ALLOW_SKIP=1` is set (README),
/// in which case it says it did not run and returns false.
#[cfg(test)]
pub(crate) fn test_needs_root(why: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var("ISOLAB_TEST_ALLOW_SKIP").as_deref() == Ok("1"),
        "this test needs root ({why}): run it as root, or set ISOLAB_TEST_ALLOW_SKIP=1"
    );
    eprintln!("not run (ISOLAB_TEST_ALLOW_SKIP=1): needs root ({why})");
    false
}
