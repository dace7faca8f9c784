//! Shared helpers for the cgroup tests: the hierarchy under test (this
//! host's v1 memory mount, or the v2 tree when run under qemu), the isolab
//! binary, and processes started inside a cgroup.
#![allow(dead_code)]

use isolab::sys::cgroup::{CgroupVersion, MemoryHierarchy};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The memory hierarchy to test, or None (and a SKIPPED line) if the host
/// has none. ISOLAB_EXPECT_CGROUP=v1|v2 (set by the qemu harness) makes a
/// mismatch a failure instead, so a v2 run cannot silently test v1.
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
            println!("SKIPPED: {test}: {e:#}");
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
    let deadline = Instant::now() + Duration::from_secs(120);
    while !condition() {
        assert!(Instant::now() < deadline, "gave up waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn is_v1(h: &MemoryHierarchy) -> bool {
    h.version == CgroupVersion::V1
}

/// A private tmux server running one shell, for driving the real TUI.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// None (after SKIPPED) when tmux is missing; scripts/test.sh installs it.
    pub fn start(width: u16, height: u16, tag: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            println!("SKIPPED: tmux is not installed");
            return None;
        }
        let t = Tmux {
            socket: format!("isolab-cgroup-{}-{tag}", std::process::id()),
        };
        t.cmd(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "j",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "env",
            "PS1=$ ",
            "TERM=xterm-256color",
            "bash",
            "--norc",
            "--noprofile",
        ]);
        t.cmd(&["set-option", "-g", "window-size", "manual"]);
        t.wait_for("$", 20);
        Some(t)
    }

    pub fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types text literally (no Enter).
    pub fn type_text(&self, text: &str) {
        self.cmd(&["send-keys", "-t", "j", "-l", text]);
    }

    /// Sends tmux key names (`Enter`, `q`, `C-c`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "j"];
        args.extend_from_slice(keys);
        self.cmd(&args);
    }

    pub fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-t", "j", "-p"])
    }

    /// Waits until `text` is on screen; panics with the screen if it never is.
    pub fn wait_for(&self, text: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {text:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.cmd(&["kill-server"]);
    }
}
