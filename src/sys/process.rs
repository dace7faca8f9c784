//! The one identity of a process in isolab: PID plus kernel start time
//! (field 22 of /proc/PID/stat, clock ticks since boot). A PID alone is
//! reused by the kernel; the pair never repeats, so a record, a cgroup name
//! or a marker that carries it can never be mistaken for a newcomer that
//! got the same PID. To act on the process, take [`ProcessId::pidfd`]: a
//! pidfd checked against the start time pins that very process.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::os::fd::OwnedFd;
use std::path::Path;

/// A process as isolab knows it: PID plus kernel start time, which
/// together never repeat. Serialized as `{"pid": .., "start_time": ..}`
/// (the registry's record format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    /// Start time after boot, in clock ticks (stat field 22).
    pub start_time: u64,
}

impl ProcessId {
    /// The identity of a live process, read from `/proc/PID/stat`; `None`
    /// when it has gone.
    pub fn of(pid: i32) -> Option<ProcessId> {
        ProcessId::of_in(Path::new("/proc"), pid)
    }

    /// [`ProcessId::of`] under another procfs (a fixture in tests).
    pub fn of_in(proc_root: &Path, pid: i32) -> Option<ProcessId> {
        start_time(proc_root, pid).map(|start_time| ProcessId { pid, start_time })
    }

    /// The calling process.
    pub fn current() -> anyhow::Result<ProcessId> {
        let pid = std::process::id() as i32;
        ProcessId::of(pid).context("reading /proc/self/stat: no start time")
    }

    /// Whether this very process (not just some process with the same PID)
    /// is still alive.
    pub fn is_alive(&self) -> bool {
        self.is_alive_in(Path::new("/proc"))
    }

    /// [`ProcessId::is_alive`] under another procfs. A zombie (Z) or dead
    /// (X) process has ended: it only waits to be reaped.
    pub fn is_alive_in(&self, proc_root: &Path) -> bool {
        let Some(stat) = read_stat(proc_root, self.pid) else {
            return false;
        };
        !matches!(stat.state, 'Z' | 'X') && stat.start_ticks == self.start_time
    }

    /// A pidfd on this very process: opened first, then the start time is
    /// checked, so the fd cannot belong to a process that reused the PID.
    /// `None` when the process has gone (or the kernel has no pidfds).
    pub fn pidfd(&self) -> Option<OwnedFd> {
        let fd = crate::sys::pidfd::open(self.pid).ok()?;
        self.is_alive().then_some(fd)
    }
}

impl ProcessId {
    /// How the names of what this process made begin, `<pid>-<start>-`:
    /// its owner lock (`<pid>-<start>-<random>.lock`) and its cgroups
    /// (`<pid>-<start>-<label>`).
    pub fn name_prefix(&self) -> String {
        format!("{}-{}-", self.pid, self.start_time)
    }

    /// The process a name `<pid>-<start>-<rest>` was made for; `None` for
    /// a name of any other shape.
    pub fn from_name(name: &str) -> Option<ProcessId> {
        let mut parts = name.splitn(3, '-');
        let pid = parts.next()?.parse().ok()?;
        let start_time = parts.next()?.parse().ok()?;
        parts.next()?;
        Some(ProcessId { pid, start_time })
    }
}

/// Field 22 of `<proc_root>/PID/stat` (start time), parsed after the last ')'
/// so a comm like `x) R 1` cannot shift the fields.
pub fn start_time(proc_root: &Path, pid: i32) -> Option<u64> {
    read_stat(proc_root, pid).map(|s| s.start_ticks)
}

/// `<proc_root>/PID/stat`, parsed by the one stat parser (`sys::procs`).
pub fn read_stat(proc_root: &Path, pid: i32) -> Option<crate::sys::procs::Stat> {
    let text = std::fs::read(proc_root.join(pid.to_string()).join("stat")).ok()?;
    crate::sys::procs::parse_stat(&text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn start_time_parses_after_last_paren() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("42");
        std::fs::create_dir(&p).unwrap();
        let mut fields = vec!["S".to_string()];
        for i in 4..=52 {
            fields.push(i.to_string());
        }
        std::fs::write(
            p.join("stat"),
            format!("42 (x) R 1 2) {}", fields.join(" ")),
        )
        .unwrap();
        assert_eq!(start_time(dir.path(), 42), Some(22));
    }

    #[test]
    fn the_current_process_is_alive_and_a_reused_pid_is_not() {
        let me = ProcessId::current().expect("own identity");
        assert!(me.is_alive());
        assert!(me.is_alive_in(Path::new("/proc")));
        assert!(me.pidfd().is_some());
        let reused = ProcessId {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!reused.is_alive());
        assert!(reused.pidfd().is_none());
    }

    #[test]
    fn names_carry_the_process() {
        let id = ProcessId {
            pid: 123,
            start_time: 456,
        };
        assert_eq!(id.name_prefix(), "123-456-");
        assert_eq!(ProcessId::from_name("123-456-lab"), Some(id));
        assert_eq!(
            ProcessId::from_name("123-456-my-lab.2").map(|c| c.pid),
            Some(123)
        );
        assert_eq!(ProcessId::from_name("foo"), None);
        assert_eq!(ProcessId::from_name("1-2"), None);
    }
}
