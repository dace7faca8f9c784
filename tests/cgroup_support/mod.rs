//! Shared helpers for the cgroup tests: the hierarchy under test (this
//! host's v1 memory mount, or the v2 tree when run under qemu), the isolab
//! binary, and processes started inside a cgroup.
#![allow(dead_code)]

use isolab::sys::cgroup::{CgroupVersion, MemoryHierarchy};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The memory hierarchy to test. A host without one fails the test, unless
/// ISOLAB_TEST_ALLOW_SKIP=1 (then None, and a "not run" line).
/// ISOLAB_EXPECT_CGROUP=v1|v2 (set by the qemu harness) makes a mismatch a
/// failure even then, so a v2 run cannot silently test v1.
pub fn hierarchy(test: &str) -> Option<MemoryHierarchy> {
    let found = MemoryHierarchy::detect();
    let expected = std::env::var("ISOLAB_EXPECT_CGROUP").ok();
    match (found, expected.as_deref()) {
        (Ok(h), Some(want)) => {
            assert_eq!(h.version.to_string(), want, "{test}: wrong cgroup version");
            Some(h)
        }
        (Ok(h), None) => Some(h),
        (Err(e), Some(want)) => panic!("{test}: expected cgroup {want}, found none: {e:#}"),
        (Err(e), None) => {
            crate::common::require(false, &format!("{test}: no memory cgroup hierarchy: {e:#}"));
            None
        }
    }
}

/// The isolab binary (ISOLAB_BIN overrides, for the qemu initramfs).
pub fn isolab_bin() -> PathBuf {
    std::env::var_os("ISOLAB_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_isolab")))
}

/// A unique label for this test in this test process.
pub fn label(test: &str) -> String {
    format!("test-{}-{test}", std::process::id())
}

/// A child that is killed and reaped on drop, even when an assert fails.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `argv` already inside the cgroup at `dir`: a shell writes its own
/// pid into cgroup.procs and then execs, so not one page is charged outside.
pub fn spawn_in(dir: &Path, argv: &[&str]) -> Reaped {
    let mut script = String::from("echo $$ > \"$1\"/cgroup.procs || exit 99; shift; exec \"$@\"");
    script.push('\n');
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(dir)
        .args(argv)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn /bin/sh");
    Reaped(child)
}

/// Polls `condition` until it holds, failing after a generous deadline
/// (software-emulated qemu is slow). Not a timing assertion: only a guard
/// against hanging forever.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    crate::common::wait_for_secs(120, what, || condition().then_some(()));
}

pub fn is_v1(h: &MemoryHierarchy) -> bool {
    h.version == CgroupVersion::V1
}

// The one tmux driver of the test suite, shared with the TUI journeys.
#[path = "../tui_support/mod.rs"]
pub mod tmux;
#[allow(unused_imports)] // not every test binary drives the TUI
pub use tmux::Tmux;
