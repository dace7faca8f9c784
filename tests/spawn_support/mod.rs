//! Shared helpers for the spawn tests: run the built isolab, wait for
//! conditions with a generous deadline (never fixed sleeps), clean up.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const ISOLAB: &str = env!("CARGO_BIN_EXE_isolab");

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn from_output(out: Output) -> Run {
    use std::os::unix::process::ExitStatusExt;
    let code = out
        .status
        .code()
        .unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0));
    Run {
        code,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `isolab ARGS...` to completion, stdin closed.
pub fn isolab(args: &[&str]) -> Run {
    from_output(
        Command::new(ISOLAB)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run isolab"),
    )
}

pub use crate::common::wait_for;

pub fn registry_dir() -> PathBuf {
    isolab::sys::registry::registry_dir()
}

/// The namespace inode of `kind` for a process.
pub fn ns_inode(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

pub fn mountinfo_of(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default()
}

/// Kills a background isolab (and so its children) if a test fails midway.
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = isolab::sys::registry::remove_leftovers();
    }
}

pub fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}
// The one tmux driver of the test suite, shared with the TUI journeys.
#[path = "../tui_support/mod.rs"]
pub mod tmux;
