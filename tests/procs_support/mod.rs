//! Helpers for the process-explorer tests: spawn known processes and make
//! sure they die with the test.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};

/// Kills the whole process group of a spawned child when dropped.
pub struct Spawned(pub Child);

impl Spawned {
    /// Starts `sh -c script` in a process group of its own.
    pub fn sh(script: &str) -> Spawned {
        use std::os::unix::process::CommandExt;
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn sh");
        Spawned(child)
    }

    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own process group.
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// Polls `f` until it returns Some, or panics after `secs`.
pub use crate::common::wait_for_secs as wait_for;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_isolab")
}

/// True when the test must not go on: not root, and ISOLAB_TEST_ALLOW_SKIP=1
/// (without it, not being root fails the test). These tests need to see
/// and create namespaces.
pub fn skip_unless_root() -> bool {
    !crate::common::need_root("to create namespaces and read every process")
}
