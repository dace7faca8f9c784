//! Which PIDs exist: the list a refresh walks. Listing /proc costs about
//! as much as reading one stat file per process, so a long-lived reader
//! lists only when it must:
//!
//! - No task was created since the last look (the kernel's fork counter,
//!   `processes` in /proc/stat, is unchanged): the known PIDs are all there
//!   is; the only change can be exits, and those show as failed reads.
//! - A few were (the last PID handed out, in /proc/loadavg, moved by a
//!   little): PIDs are handed out in increasing order, so the new processes
//!   are among the PIDs in between; look those up one by one.
//! - Otherwise (many new tasks, PIDs wrapped around, no counters, a procfs
//!   of another PID namespace), and once a minute anyway: list it all.
//!
//! Both counters are read before the PIDs are looked at, so a task created
//! meanwhile still counts as new next time.

use super::io::{Read, pid_path, pread_whole, read_at};
use super::model::Pid;
use super::parse::{parse_pid_name, parse_status};
use anyhow::Context;
use nix::dir::Dir;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Up to this many new PIDs are looked up one by one instead of listing.
const PROBE_MAX: i32 = 256;

/// A full listing at least once per this many updates, as a safety net.
const FULL_LISTING_EVERY: u64 = 60;

/// The kernel's counters that tell whether new tasks may exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counters {
    /// Tasks forked since boot (`processes` in /proc/stat).
    forks: u64,
    /// The last PID handed out in the reader's PID namespace (the last
    /// field of /proc/loadavg), when known.
    last_pid: Option<Pid>,
}

#[derive(Default)]
pub(super) struct PidList {
    /// Every PID believed alive, sorted.
    pub pids: Vec<Pid>,
    proc_stat: Option<OwnedFd>,
    loadavg: Option<OwnedFd>,
    /// The counters read just before the PIDs were last brought up to date.
    seen: Option<Counters>,
    updates: u64,
    buf: Vec<u8>,
}

/// How a refresh may bring the list up to date.
pub(super) struct Shortcuts {
    /// Every known process has a kept stat fd, so an exit shows as a failed
    /// read (otherwise only a listing drops the dead).
    pub exits_show: bool,
    /// The procfs numbers PIDs in the reader's own PID namespace, the one
    /// /proc/loadavg reports the last PID of.
    pub own_pid_ns: bool,
}

impl PidList {
    /// Brings `pids` up to date, listing `dir` (the procfs at `root`) only
    /// when no shortcut applies.
    pub fn update(&mut self, dir: &mut Dir, root: &Path, can: Shortcuts) -> anyhow::Result<()> {
        self.updates += 1;
        let now = self.counters(dir);
        let before = self.seen;
        self.seen = now;
        let routine = !self.updates.is_multiple_of(FULL_LISTING_EVERY);
        if let (Some(before), Some(now)) = (before, now)
            && routine
            && can.exits_show
        {
            if now.forks == before.forks {
                return Ok(());
            }
            if let (Some(from), Some(to)) = (before.last_pid, now.last_pid)
                && can.own_pid_ns
                && to >= from
                && to - from <= PROBE_MAX
            {
                self.probe(dir, from + 1..=to);
                return Ok(());
            }
        }
        self.pids.clear();
        for entry in dir.iter() {
            let entry = entry.with_context(|| format!("listing {}", root.display()))?;
            if let Some(pid) = parse_pid_name(entry.file_name().to_bytes()) {
                self.pids.push(pid);
            }
        }
        self.pids.sort_unstable();
        Ok(())
    }

    /// Adds the processes among `candidates` (new PIDs, in order). A PID
    /// may also be a thread of some process (its /proc/TID can be opened,
    /// though a listing never shows it): only a thread-group leader counts.
    fn probe(&mut self, dir: &Dir, candidates: std::ops::RangeInclusive<Pid>) {
        let mut path = [0u8; 32];
        for pid in candidates {
            let leader = matches!(
                read_at(
                    dir.as_fd(),
                    pid_path(pid, b"status", &mut path),
                    &mut self.buf
                ),
                Read::Ok
            ) && parse_status(&self.buf).tgid == Some(pid);
            if leader && let Err(at) = self.pids.binary_search(&pid) {
                self.pids.insert(at, pid);
            }
        }
    }

    /// Reads the fork counter and the last PID, keeping both files open.
    fn counters(&mut self, dir: &Dir) -> Option<Counters> {
        let forks = read_kept(dir, &mut self.proc_stat, c"stat", &mut self.buf)
            .then(|| fork_counter(&self.buf))
            .flatten()?;
        let last_pid = read_kept(dir, &mut self.loadavg, c"loadavg", &mut self.buf)
            .then(|| last_pid(&self.buf))
            .flatten();
        Some(Counters { forks, last_pid })
    }
}

/// Reads the procfs file `name`, opening it on first use.
fn read_kept(
    dir: &Dir,
    fd: &mut Option<OwnedFd>,
    name: &std::ffi::CStr,
    buf: &mut Vec<u8>,
) -> bool {
    if fd.is_none() {
        *fd = openat(
            dir.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok();
    }
    fd.as_ref()
        .is_some_and(|fd| matches!(pread_whole(fd.as_fd(), buf), Read::Ok))
}

/// The number of tasks forked since boot (`processes N` in /proc/stat).
fn fork_counter(proc_stat: &[u8]) -> Option<u64> {
    proc_stat
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"processes "))
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok())
}

/// The last PID handed out: the last field of /proc/loadavg
/// (`0.00 0.01 0.05 1/123 4567`).
fn last_pid(loadavg: &[u8]) -> Option<Pid> {
    std::str::from_utf8(loadavg)
        .ok()?
        .split_ascii_whitespace()
        .nth(4)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fork_counter_and_the_last_pid() {
        let stat = b"cpu  1 2 3\nintr 5 0 0\nctxt 99\nbtime 1700000000\nprocesses 123456\nprocs_running 2\n";
        assert_eq!(fork_counter(stat), Some(123456));
        assert_eq!(fork_counter(b"cpu  1 2 3\nbtime 1\n"), None);
        assert_eq!(last_pid(b"0.00 0.01 0.05 1/123 4567\n"), Some(4567));
        assert_eq!(last_pid(b"0.00 0.01\n"), None);
    }
}
