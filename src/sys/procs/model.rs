//! What a process is to isolab: the types every screen and command reads
//! ([`Process`], [`Facts`], [`Snapshot`], [`Pid`]...). No reading here.

use crate::sys::container::Container;
use crate::sys::ns::NsSet;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

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
/// (e.g. `(ProcFile::Ns, "permission denied")`). Shown as "—" plus the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    pub what: ProcFile,
    pub reason: String,
}

/// Which of a process's files could not be read. Shown (and serialized)
/// as its name in /proc/PID: `cmdline`, `ns`, `status`, `cgroup`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcFile {
    Cmdline,
    Ns,
    Status,
    Cgroup,
}

impl ProcFile {
    pub fn name(self) -> &'static str {
        match self {
            ProcFile::Cmdline => "cmdline",
            ProcFile::Ns => "ns",
            ProcFile::Status => "status",
            ProcFile::Cgroup => "cgroup",
        }
    }
}

impl std::fmt::Display for ProcFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `u.what == "ns"`: compares with the file's name.
impl PartialEq<&str> for ProcFile {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// One process as seen in one snapshot: what it is doing now (from
/// /proc/PID/stat, read on every refresh) and what it is (`facts`).
#[derive(Clone, Debug, Serialize)]
pub struct Process {
    pub pid: Pid,
    pub ppid: Pid,
    pub pgid: Pid,
    pub sid: Pid,
    /// The controlling terminal's name (`pts/0`, `tty1`) or `?`.
    /// `?` (no terminal, the common case) is borrowed: no allocation.
    pub tty: std::borrow::Cow<'static, str>,
    /// The foreground process group of the tty (-1 without one).
    pub tpgid: Pid,
    /// The one-letter state from stat (R, S, D, Z, T, I, ...).
    pub state: char,
    /// Nice value (-20..19), for the `<` / `N` marks of STAT.
    pub nice: i32,
    pub threads: u32,
    pub rss_bytes: u64,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    /// CPU use since the previous snapshot, in percent of one core.
    pub cpu_percent: f32,
    /// Start time after boot, in clock ticks (stat field 22).
    pub start_ticks: u64,
    #[serde(flatten)]
    pub facts: Arc<Facts>,
}

/// What a process is, as opposed to what it is doing: read once per (PID,
/// start time), and again after an exec (a new comm), while it is young,
/// on a slow rotation and while the user looks at it. Shared: every
/// snapshot that holds the process holds the same copy.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Facts {
    pub comm: String,
    /// Effective uid (as `ps` shows UID); `None` if unreadable.
    pub uid: Option<u32>,
    /// argv; `None` where unreadable; empty for kernel threads.
    pub cmdline: Option<Vec<String>>,
    pub ns: NsSet,
    /// The PID as seen in each nested PID namespace, outermost first
    /// (`NSpid:` in status). `[4123, 1]`: host PID 4123 is PID 1 inside.
    pub nspid: Vec<Pid>,
    /// The lines of /proc/PID/cgroup. Shared: processes with identical
    /// cgroup files hold one list (10,000 processes, a handful of lists).
    pub cgroups: CgroupLines,
    /// Shared: every process of one cgroup points at the same recognition.
    pub container: Option<Arc<Container>>,
    pub unreadable: Vec<Unreadable>,
}

/// The lines of one /proc/PID/cgroup file, shared between the processes
/// whose files are identical. Reads like a slice (`for l in &p.cgroups`,
/// `p.cgroups.len()`, `p.cgroups[0]`); build one with `vec![...].into()`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupLines(Arc<[CgroupLine]>);

impl std::ops::Deref for CgroupLines {
    type Target = [CgroupLine];
    fn deref(&self) -> &[CgroupLine] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a CgroupLines {
    type Item = &'a CgroupLine;
    type IntoIter = std::slice::Iter<'a, CgroupLine>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl From<Vec<CgroupLine>> for CgroupLines {
    fn from(lines: Vec<CgroupLine>) -> Self {
        CgroupLines(lines.into())
    }
}

impl CgroupLines {
    /// Whether two processes hold the very same shared list.
    pub fn same_list(&self, other: &CgroupLines) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub(super) fn share_count(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

impl Serialize for CgroupLines {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(s)
    }
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
    /// The facts to change by hand (tests, screens that annotate a
    /// process): copied first if another snapshot shares them.
    pub fn facts_mut(&mut self) -> &mut Facts {
        Arc::make_mut(&mut self.facts)
    }

    /// The STAT column as `ps` prints it (see [`Process::stat_letters`]).
    pub fn stat_column(&self) -> String {
        self.stat_letters()
    }

    /// The command line joined with spaces, or `[comm]` (see [`Process::command_line`]).
    pub fn command(&self) -> String {
        self.command_line()
    }

    /// True for kernel threads (kthreadd and its children, no command line).
    pub fn is_kernel_thread(&self) -> bool {
        (self.pid == 2 || self.ppid == 2) && matches!(&self.facts.cmdline, Some(a) if a.is_empty())
    }

    /// The command as `ps` shows it: argv joined by spaces, or `[comm]` for a
    /// kernel thread (or a zombie) whose argv is empty.
    pub fn command_line(&self) -> String {
        match &self.facts.cmdline {
            Some(argv) if !argv.is_empty() => argv.join(" "),
            _ => format!("[{}]", self.facts.comm),
        }
    }

    /// The STAT column of `ps axjf`: the state letter followed by `<` (high
    /// priority), `N` (low priority), `s` (session leader), `l`
    /// (multi-threaded) and `+` (in the foreground process group of its tty).
    pub fn stat_letters(&self) -> String {
        let mut s = String::with_capacity(6);
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
        if self.tpgid == self.pgid && self.tpgid > 0 {
            s.push('+');
        }
        s
    }

    /// The cumulative CPU time as `ps` shows TIME: `M:SS`, or `H:MM:SS` past an hour.
    pub fn cpu_time(&self, ticks_per_sec: u64) -> String {
        format_cpu_time(self.cpu_ticks, ticks_per_sec)
    }
}

/// CPU time as `ps` shows it in TIME: `M:SS`, or `H:MM:SS` past an hour.
pub fn format_cpu_time(ticks: u64, ticks_per_sec: u64) -> String {
    let secs = ticks / ticks_per_sec.max(1);
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(pid: Pid) -> Process {
        // The shared test process, as a kernel-thread-like one here.
        let mut p = crate::sys::tree::tests::proc(pid, 1, "k");
        p.facts_mut().cmdline = Some(vec![]);
        p.start_ticks = 0;
        p
    }

    #[test]
    fn stat_letters_and_time_like_ps() {
        let mut p = process(10);
        assert_eq!(p.stat_letters(), "Ss");
        p.nice = -20;
        p.threads = 4;
        p.sid = 1;
        p.tpgid = 10;
        assert_eq!(p.stat_letters(), "S<l+");
        p.nice = 5;
        assert_eq!(p.stat_letters(), "SNl+");
        p.cpu_ticks = 100 * 3725;
        assert_eq!(p.cpu_time(100), "1:02:05");
        p.cpu_ticks = 100 * 65;
        assert_eq!(p.cpu_time(100), "1:05");
        assert_eq!(p.command_line(), "[k]");
        p.facts_mut().cmdline = Some(vec!["sleep".into(), "9".into()]);
        assert_eq!(p.command_line(), "sleep 9");
    }
}
