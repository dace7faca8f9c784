//! Shared helpers for the procs tests: spawning a known process tree (some
//! of it in new namespaces) that is always killed, and waiting for it to
//! show up in /proc.
#![allow(dead_code)]

use isolab::sys::procs::{Pid, ProcReader, Snapshot};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid as NixPid;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// A process group this test started; SIGKILLed as a whole on drop, so
/// nothing outlives the test even when an assertion fails.
pub struct Spawned {
    pub child: Child,
}

impl Spawned {
    pub fn pid(&self) -> Pid {
        self.child.id() as Pid
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // The group id is the leader's pid (process_group(0) below).
        let _ = killpg(NixPid::from_raw(self.pid()), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Starts `argv` as the leader of a new process group.
pub fn spawn_group(argv: &[&str]) -> Spawned {
    let child = Command::new(argv[0])
        .args(&argv[1..])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {argv:?}: {e}"));
    Spawned { child }
}

/// A shell with two sleeping children: `sh -> {sleep, sleep}`.
/// The sleep durations are unique to this test process so we can find them.
pub fn spawn_shell_with_two_sleeps() -> Spawned {
    let marker = 100_000 + std::process::id() % 100_000;
    let script = format!("sleep {marker} & sleep {} & wait", marker + 1);
    spawn_group(&["sh", "-c", &script])
}

/// `unshare --fork --pid --uts --net --kill-child sleep N`: the unshare
/// process stays in the host namespaces, its child is PID 1 of a new PID
/// namespace with its own UTS and network namespaces.
pub fn spawn_namespaced_sleep() -> Spawned {
    let secs = (200_000 + std::process::id() % 100_000).to_string();
    spawn_group(&[
        "unshare",
        "--fork",
        "--pid",
        "--uts",
        "--net",
        "--kill-child",
        "sleep",
        &secs,
    ])
}

/// Takes snapshots until `done` finds what it waits for, up to a generous
/// deadline (the machine is shared and may be slow); panics naming `what`.
pub fn wait_for<T>(
    reader: &mut ProcReader,
    what: &str,
    mut done: impl FnMut(&Snapshot) -> Option<T>,
) -> (Snapshot, T) {
    crate::common::wait_for(what, || {
        let snap = reader.snapshot().expect("snapshot of /proc");
        done(&snap).map(|found| (snap, found))
    })
}

/// The children of `pid` in a snapshot, by PID.
pub fn children(snap: &Snapshot, pid: Pid) -> Vec<Pid> {
    snap.procs
        .iter()
        .filter(|p| p.ppid == pid)
        .map(|p| p.pid)
        .collect()
}

/// A PID that cannot exist: one above the kernel's pid_max.
pub fn impossible_pid() -> Pid {
    let max: Pid = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .expect("reading pid_max")
        .trim()
        .parse()
        .expect("pid_max is a number");
    max + 1
}
