//! A fast /proc reader: one snapshot of every process, with namespace ids,
//! NSpid, cgroup lines and container labels. Static facts (cmdline, ns ids,
//! cgroups) are cached per (pid, start time) so a reused PID is never
//! confused with the process that had it before.

use crate::sys::container::Container;
use crate::sys::ns::NsSet;
use serde::Serialize;
use std::path::PathBuf;

pub type Pid = i32;

/// One line of /proc/PID/cgroup: `hierarchy-id:controllers:path`.
/// Hierarchy 0 with no controllers is the v2 unified tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CgroupLine {
    pub hierarchy: u32,
    pub controllers: Vec<String>,
    pub path: String,
}

impl CgroupLine {
    pub fn is_v2(&self) -> bool {
        self.hierarchy == 0 && self.controllers.is_empty()
    }
}

/// Something about a process that could not be read, and why
/// (e.g. `("ns", "permission denied")`). Shown as "—" plus the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    pub what: &'static str,
    pub reason: String,
}

/// One process as seen in one snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct Process {
    pub pid: Pid,
    pub ppid: Pid,
    pub pgid: Pid,
    pub sid: Pid,
    /// The foreground process group of the controlling terminal (for `+`).
    pub tpgid: Pid,
    pub nice: i32,
    /// The controlling terminal's name (`pts/0`, `tty1`) or `?`.
    pub tty: String,
    /// The one-letter state from stat (R, S, D, Z, T, I, ...).
    pub state: char,
    /// Real uid from status; `None` if unreadable.
    pub uid: Option<u32>,
    pub comm: String,
    /// argv; `None` where unreadable; empty for kernel threads.
    pub cmdline: Option<Vec<String>>,
    pub threads: u32,
    pub rss_bytes: u64,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    /// CPU use since the previous snapshot, in percent of one core.
    pub cpu_percent: f32,
    /// Start time after boot, in clock ticks (stat field 22).
    pub start_ticks: u64,
    pub ns: NsSet,
    /// The PID as seen in each nested PID namespace, outermost first
    /// (`NSpid:` in status). `[4123, 1]`: host PID 4123 is PID 1 inside.
    pub nspid: Vec<Pid>,
    pub cgroups: Vec<CgroupLine>,
    pub container: Option<Container>,
    pub unreadable: Vec<Unreadable>,
}

/// Every process at one moment, sorted by PID.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub procs: Vec<Process>,
    /// Clock ticks per second (for TIME and start time).
    pub ticks_per_sec: u64,
    /// Boot time, seconds since the epoch (btime in /proc/stat).
    pub boot_time: u64,
}

impl Snapshot {
    pub fn get(&self, pid: Pid) -> Option<&Process> {
        self.procs
            .binary_search_by_key(&pid, |p| p.pid)
            .ok()
            .map(|i| &self.procs[i])
    }
}

/// Why a single process could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("no process with PID {0} (it does not exist or has exited)")]
    Gone(Pid),
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Process {
    /// The STAT column as `ps` prints it: the state letter, then `<`/`N`
    /// for priority, `s` for a session leader, `l` when multi-threaded and
    /// `+` when in the terminal's foreground process group.
    pub fn stat_column(&self) -> String {
        let mut s = String::with_capacity(5);
        s.push(self.state);
        if self.nice < 0 {
            s.push('<');
        } else if self.nice > 0 {
            s.push('N');
        }
        if self.pid == self.sid {
            s.push('s');
        }
        if self.threads > 1 {
            s.push('l');
        }
        if self.tpgid > 0 && self.tpgid == self.pgid {
            s.push('+');
        }
        s
    }

    /// The command line joined with spaces, or `[comm]` for kernel threads
    /// and processes whose cmdline cannot be read (as `ps` does).
    pub fn command(&self) -> String {
        match &self.cmdline {
            Some(argv) if !argv.is_empty() => argv.join(" "),
            _ => format!("[{}]", self.comm),
        }
    }

    /// True for kernel threads (children of kthreadd, no command line).
    pub fn is_kernel_thread(&self) -> bool {
        (self.pid == 2 || self.ppid == 2) && matches!(&self.cmdline, Some(a) if a.is_empty())
    }
}

/// CPU time as `ps` shows it in TIME for `axjf`: `M:SS`.
pub fn format_cpu_time(ticks: u64, ticks_per_sec: u64) -> String {
    let secs = ticks / ticks_per_sec.max(1);
    format!("{}:{:02}", secs / 60, secs % 60)
}

pub use reader::{ProcReader, parse_stat, read_process, tty_name};

mod reader;

/// The process that stands for "the host" when marking namespace
/// differences: PID 1 when its namespaces can be read, else isolab itself
/// (PID 1 may hold capabilities we lack, which closes its ns links even to
/// root). Returns the process and a label saying which one it is.
pub fn host_reference(root: &std::path::Path) -> Option<(Process, String)> {
    if let Ok(init) = read_process(root, 1)
        && init.ns.get(crate::sys::ns::NsKind::Pid).is_some()
    {
        return Some((init, "PID 1".to_string()));
    }
    let me = read_process(root, std::process::id() as Pid).ok()?;
    let label = format!(
        "isolab itself (PID {}; PID 1's namespaces are unreadable)",
        me.pid
    );
    Some((me, label))
}
