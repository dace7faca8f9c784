//! A fast /proc reader: one snapshot of every process, with namespace ids,
//! NSpid, cgroup lines and container labels.
//!
//! What a process is ([`Facts`]: comm, cmdline, uid, ns ids, cgroups) is
//! read once per (pid, start time), so a reused PID is never confused with
//! the process that had it before, and shared by every snapshot that holds
//! it; what it is doing (stat) is re-read from a kept-open file on every
//! refresh. Which PIDs exist is `pids`' job: it lists /proc only when it
//! must.

use crate::sys::container::Container;
use crate::sys::ns::{NsKind, NsSet};
use anyhow::Context;
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use nix::unistd::{SysconfVar, sysconf};
use serde::Serialize;
use std::collections::HashMap;
use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

mod pids;

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

    fn share_count(&self) -> usize {
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

/// What the reader remembers about a PID between refreshes.
#[derive(Clone, Debug)]
struct Known {
    start_ticks: u64,
    cpu_ticks: u64,
    /// The refresh that last saw it (older entries are dropped).
    seen: u64,
    /// Its facts as last read: every snapshot refreshed takes these, so
    /// the two snapshots in turn never disagree about a process.
    facts: Arc<Facts>,
}

/// Every process's static facts are re-read once per this many refreshes
/// (staggered by PID), to notice unshare/setns/cgroup moves without exec.
/// Re-reading costs as much as ten stat reads, so this is slow; the process
/// the user is looking at (`set_focus`) is re-read on every refresh.
const ROTATION: u64 = 120;

/// Time since boot in clock ticks, the unit of a process's start time.
fn boot_clock_ticks(ticks_per_sec: u64) -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the pointer it is given.
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut t) } != 0 {
        return 0;
    }
    t.tv_sec as u64 * ticks_per_sec + t.tv_nsec as u64 * ticks_per_sec / 1_000_000_000
}

/// One parsed cgroup file text, shared, with the container it names.
type CgroupSet = (CgroupLines, Option<Arc<Container>>);

/// Reads snapshots of a procfs mounted at `root`. Static facts (cmdline,
/// status, ns links, cgroup) are read once per process, keyed by PID and
/// start time; later snapshots re-read only stat.
pub struct ProcReader {
    pub root: PathBuf,
    /// The open root directory: every read is relative to it.
    dir: Dir,
    /// What the last refresh saw of each PID: its start time, CPU ticks
    /// (for CPU%) and facts (shared by the snapshots).
    known: HashMap<Pid, Known>,
    generation: u64,
    last_refresh: Option<Instant>,
    ticks_per_sec: u64,
    boot_time: u64,
    page_size: u64,
    /// Reused for every file read, so a snapshot allocates little.
    buf: Vec<u8>,
    /// Which PIDs exist (listing the root only when it must).
    pids: pids::PidList,
    /// Identical /proc/PID/cgroup texts share one parsed list and one
    /// container recognition.
    cgroup_sets: HashMap<Vec<u8>, CgroupSet>,
    /// What `snapshot()` refreshes in place and hands out copies of.
    current: Snapshot,
    /// A snapshot handed back by the caller, refreshed by the next `snapshot()`.
    spare: Option<Snapshot>,
    /// Open /proc/PID/stat files, re-read each refresh (see `read_stat`).
    stat_fds: HashMap<Pid, KeptStat>,
    /// Whether to keep stat files open at all (not for a one-shot read).
    keep_stat_fds: bool,
    /// A process whose static facts are re-read on every refresh.
    focus: Option<Pid>,
    plan: FactsPlan,
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

/// The fields of /proc/PID/stat that isolab uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    pub pid: Pid,
    pub comm: String,
    pub state: char,
    /// The kernel's task flags (PF_*), e.g. PF_EXITING.
    pub flags: u32,
    pub ppid: Pid,
    pub pgid: Pid,
    pub sid: Pid,
    pub tty_nr: i32,
    pub tpgid: Pid,
    pub utime: u64,
    pub stime: u64,
    pub nice: i32,
    pub threads: u32,
    pub start_ticks: u64,
    /// Resident set size, in pages.
    pub rss_pages: u64,
}

/// The numeric fields of a stat line (everything but the comm).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StatNumbers {
    pid: Pid,
    state: char,
    flags: u32,
    ppid: Pid,
    pgid: Pid,
    sid: Pid,
    tty_nr: i32,
    tpgid: Pid,
    utime: u64,
    stime: u64,
    nice: i32,
    threads: u32,
    start_ticks: u64,
    rss_pages: u64,
}

impl StatNumbers {
    fn into_stat(self, comm: &[u8]) -> Stat {
        Stat {
            pid: self.pid,
            comm: String::from_utf8_lossy(comm).into_owned(),
            state: self.state,
            flags: self.flags,
            ppid: self.ppid,
            pgid: self.pgid,
            sid: self.sid,
            tty_nr: self.tty_nr,
            tpgid: self.tpgid,
            utime: self.utime,
            stime: self.stime,
            nice: self.nice,
            threads: self.threads,
            start_ticks: self.start_ticks,
            rss_pages: self.rss_pages,
        }
    }
}

/// PF_EXITING in a task's flags: it has begun to exit.
const PF_EXITING: u32 = 0x4;

impl Stat {
    /// Whether the process has begun to exit (or is a zombie).
    pub fn is_exiting(&self) -> bool {
        self.flags & PF_EXITING != 0 || matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Whether `pid` under the proc root `root` is exiting, a zombie, or gone.
/// Its other files then no longer describe it: v1 moves an exiting task
/// into the root cgroups, for one.
pub fn is_exiting(root: &Path, pid: Pid) -> bool {
    let text = std::fs::read(root.join(pid.to_string()).join("stat")).unwrap_or_default();
    parse_stat(&text).is_none_or(|s| s.is_exiting())
}

/// Parses the text of /proc/PID/stat. The comm sits between the first '('
/// and the LAST ')', because a comm may itself contain `) R 1 2`.
/// Returns `None` for text that is not a stat line.
pub fn parse_stat(text: &[u8]) -> Option<Stat> {
    let (comm, numbers) = parse_stat_parts(text)?;
    Some(numbers.into_stat(comm))
}

/// The comm (as bytes, not allocated) and the numbers of a stat line.
fn parse_stat_parts(text: &[u8]) -> Option<(&[u8], StatNumbers)> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid: Pid = std::str::from_utf8(&text[..open])
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let comm = &text[open + 1..close];
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    // The first field after the comm is field 3 of proc(5) (state).
    let mut fields = rest.split_ascii_whitespace();
    let mut next = || fields.next();
    let state = next()?.chars().next()?;
    let ppid = next()?.parse().ok()?;
    let pgid = next()?.parse().ok()?;
    let sid = next()?.parse().ok()?;
    let tty_nr = next()?.parse().ok()?;
    let tpgid = next()?.parse().ok()?;
    let flags = next()?.parse().ok()?;
    for _ in 10..=13 {
        next()?; // minflt, cminflt, majflt, cmajflt
    }
    let utime = next()?.parse().ok()?;
    let stime = next()?.parse().ok()?;
    next()?; // cutime
    next()?; // cstime
    next()?; // priority
    let nice = next()?.parse().ok()?;
    let threads = next()?.parse().ok()?;
    next()?; // itrealvalue
    let start_ticks = next()?.parse().ok()?;
    next()?; // vsize
    let rss_pages: i64 = next()?.parse().ok()?;
    Some((
        comm,
        StatNumbers {
            pid,
            state,
            flags,
            ppid,
            pgid,
            sid,
            tty_nr,
            tpgid,
            utime,
            stime,
            nice,
            threads,
            start_ticks,
            rss_pages: rss_pages.max(0) as u64,
        },
    ))
}

/// The name of a controlling terminal from stat's tty_nr, as `ps` prints it:
/// `pts/N` (Unix98 ptys, majors 136-143), `ttyN` (virtual consoles, major 4
/// minor < 64), `ttySN` (serial, major 4 minor >= 64), else `?`.
/// `tty_name` as stored in a `Process`: no allocation for "no terminal".
fn tty_cow(tty_nr: i32) -> std::borrow::Cow<'static, str> {
    if tty_nr == 0 {
        "?".into()
    } else {
        tty_name(tty_nr).into()
    }
}

pub fn tty_name(tty_nr: i32) -> String {
    let nr = tty_nr as u32;
    let major = (nr >> 8) & 0xfff;
    let minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
    match major {
        0 => "?".to_string(),
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        5 if minor == 1 => "console".to_string(),
        _ => "?".to_string(),
    }
}

/// What /proc/PID/status tells isolab: effective uid and NSpid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusFields {
    pub tgid: Option<Pid>,
    pub uid: Option<u32>,
    pub nspid: Vec<Pid>,
    pub threads: Option<u32>,
}

pub fn parse_status(text: &[u8]) -> StatusFields {
    let mut out = StatusFields::default();
    for line in text.split(|&b| b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        if let Some(v) = line.strip_prefix("Tgid:") {
            out.tgid = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("Uid:") {
            // Real, effective, saved, fs: ps and htop show the effective one.
            out.uid = v
                .split_ascii_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok());
        } else if let Some(v) = line.strip_prefix("NSpid:") {
            out.nspid = v
                .split_ascii_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect();
        } else if let Some(v) = line.strip_prefix("Threads:") {
            out.threads = v.trim().parse().ok();
        }
    }
    out
}

/// Parses /proc/PID/cgroup: one `hierarchy-id:controllers:path` per line.
pub fn parse_cgroups(text: &[u8]) -> Vec<CgroupLine> {
    let text = String::from_utf8_lossy(text);
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let hierarchy = parts.next()?.parse().ok()?;
            let controllers = parts.next()?;
            let path = parts.next()?.to_string();
            let controllers = controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            Some(CgroupLine {
                hierarchy,
                controllers,
                path,
            })
        })
        .collect()
}

/// Splits /proc/PID/cmdline (NUL-separated argv) into its arguments.
pub fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The inode number in a namespace link target such as `pid:[4026531836]`.
pub fn parse_ns_link(target: &[u8]) -> Option<u64> {
    let open = target.iter().position(|&b| b == b'[')?;
    let close = target.iter().rposition(|&b| b == b']')?;
    std::str::from_utf8(target.get(open + 1..close)?)
        .ok()?
        .parse()
        .ok()
}

/// How reading one file of a process went.
enum Read {
    Ok,
    /// The process is gone (ENOENT/ESRCH): skip it silently.
    Gone,
    /// Readable in principle but refused or failed; the reason is kept.
    Failed(Errno),
}

/// Reads the whole file `path` (relative to `dir`) into `buf`. A read that
/// returns less than asked for is the end: procfs files are generated whole
/// (and regular files only come up short at their end), which saves the
/// extra read(2) that would return 0.
fn read_at(dir: BorrowedFd<'_>, path: &CStr, buf: &mut Vec<u8>) -> Read {
    buf.clear();
    let fd = match openat(dir, path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => return classify(e),
    };
    pread_whole(fd.as_fd(), buf)
}

fn classify(e: Errno) -> Read {
    match e {
        Errno::ENOENT | Errno::ESRCH => Read::Gone,
        other => Read::Failed(other),
    }
}

fn reason(e: Errno) -> String {
    match e {
        Errno::EACCES | Errno::EPERM => denied_hint().to_string(),
        other => other.desc().to_string(),
    }
}

/// What to say when the kernel refuses to show another process: as root,
/// that process holds capabilities we lack; otherwise, root would see it.
pub fn denied_hint() -> &'static str {
    if nix::unistd::geteuid().is_root() {
        "permission denied even to root (the process holds capabilities this one lacks)"
    } else {
        "permission denied (run as root to see it)"
    }
}

/// Reads a whole procfs file from offset 0 of an open fd into `buf` (a
/// seq_file regenerates its text for a read at offset 0).
fn pread_whole(fd: BorrowedFd<'_>, buf: &mut Vec<u8>) -> Read {
    buf.clear();
    loop {
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(buf.capacity().max(4096));
        }
        let len = buf.len();
        let spare = buf.capacity() - len;
        buf.resize(len + spare, 0);
        match nix::sys::uio::pread(fd, &mut buf[len..], len as libc::off_t) {
            Ok(n) if n < spare => {
                buf.truncate(len + n);
                return Read::Ok;
            }
            Ok(n) => buf.truncate(len + n),
            Err(Errno::EINTR) => buf.truncate(len),
            Err(e) => {
                buf.truncate(len);
                return classify(e);
            }
        }
    }
}

/// Returns free heap pages to the kernel (glibc keeps freed memory
/// resident otherwise; a dropped 10,000-process snapshot is several MiB).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only gives free heap pages back to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A /proc/PID/stat file a reader keeps open between refreshes. The
/// budget for them is shared by every reader in this process (the TUI's
/// collector, a lesson's checks, `isolab ns`), so together they never run
/// the process out of file descriptors: an open that fails for lack of fds
/// would look like an exited process.
struct KeptStat(OwnedFd);

static KEPT_STATS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl KeptStat {
    /// Keeps `fd` if the shared budget allows; otherwise it is closed.
    fn keep(fd: OwnedFd) -> Option<KeptStat> {
        use std::sync::atomic::Ordering;
        let budget = *KEPT_STAT_BUDGET.get_or_init(stat_fd_budget);
        KEPT_STATS
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < budget).then_some(n + 1)
            })
            .ok()
            .map(|_| KeptStat(fd))
    }
}

impl Drop for KeptStat {
    fn drop(&mut self) {
        KEPT_STATS.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

static KEPT_STAT_BUDGET: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// How many stat files all readers together may keep open: raises this
/// process's soft open-files limit towards the hard one (at most 65,536;
/// the fds are close-on-exec, so children never see them) and leaves a
/// sixteenth of it, and at least 1,024, for everything else.
fn stat_fd_budget() -> usize {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    let wanted = hard.min(65_536).max(soft);
    let soft = if wanted > soft && setrlimit(Resource::RLIMIT_NOFILE, wanted, hard).is_ok() {
        wanted
    } else {
        soft
    };
    let soft = soft as usize;
    soft.saturating_sub((soft / 16).max(1024))
}

/// Reads the target of the symlink `name` under `dir` into `out` (no
/// allocation: namespace links are short, like `pid:[4026531836]`).
fn readlink_at(dir: BorrowedFd<'_>, name: &CStr, out: &mut [u8; 64]) -> Result<usize, Errno> {
    use std::os::fd::AsRawFd;
    // SAFETY: `name` is NUL-terminated and `out` is a writable buffer of the
    // length passed; readlinkat writes at most that many bytes.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            out.as_mut_ptr().cast(),
            out.len(),
        )
    };
    if n < 0 {
        Err(Errno::last())
    } else {
        Ok(n as usize)
    }
}

/// The facts read once per process (per pid and start time): they change
/// only on exec (which also changes comm, so a comm change re-reads them).
#[derive(Debug, Default)]
struct RawFacts {
    uid: Option<u32>,
    cmdline: Option<Vec<String>>,
    ns: NsSet,
    nspid: Vec<Pid>,
    /// The text of /proc/PID/cgroup, parsed and shared later.
    cgroup: Option<Vec<u8>>,
    unreadable: Vec<Unreadable>,
}

impl RawFacts {
    fn into_facts(
        self,
        comm: String,
        cgroups: CgroupLines,
        container: Option<Arc<Container>>,
    ) -> Facts {
        Facts {
            comm,
            uid: self.uid,
            cmdline: self.cmdline,
            ns: self.ns,
            nspid: self.nspid,
            cgroups,
            container,
            unreadable: self.unreadable,
        }
    }
}

/// How to read facts under one proc root, decided once per reader.
#[derive(Clone, Copy, Debug)]
struct FactsPlan {
    /// The root is a real procfs: the owner of /proc/PID is the process's
    /// effective uid (what ps and htop show), one fstat instead of status.
    uid_from_owner: bool,
    /// The PID namespace of the procfs (when isolab lives in it): a process
    /// in it has NSpid = [pid], so its status need not be read.
    own_pid_ns: Option<u64>,
    /// The namespace links to read (each costs as much as a stat file).
    ns_kinds: &'static [NsKind],
}

impl FactsPlan {
    fn for_root(root: BorrowedFd<'_>) -> FactsPlan {
        let uid_from_owner = nix::sys::statfs::fstatfs(root)
            .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC);
        // /proc/self is isolab as this procfs numbers it; NSpid of length
        // one means the procfs belongs to isolab's own PID namespace.
        let mut buf = Vec::new();
        let own_level = matches!(read_at(root, c"self/status", &mut buf), Read::Ok)
            && parse_status(&buf).nspid.len() == 1;
        let mut target = [0u8; 64];
        let own_pid_ns = own_level
            .then(|| readlink_at(root, c"self/ns/pid", &mut target).ok())
            .flatten()
            .and_then(|n| parse_ns_link(&target[..n]));
        FactsPlan {
            uid_from_owner,
            own_pid_ns,
            ns_kinds: &NsKind::ALL,
        }
    }
}

/// Opens /proc/PID; `None` when there is no such process (any more).
fn open_pid_dir(root: BorrowedFd<'_>, pid: Pid) -> Option<OwnedFd> {
    let mut name = [0u8; 16];
    openat(
        root,
        pid_name(pid, &mut name),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()
}

/// Opens and reads the stat file of the process whose /proc/PID is `dir`.
fn read_stat_in(dir: BorrowedFd<'_>, pid: Pid, buf: &mut Vec<u8>) -> Option<(Stat, OwnedFd)> {
    let fd = openat(
        dir,
        c"stat",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    if !matches!(pread_whole(fd.as_fd(), buf), Read::Ok) {
        return None;
    }
    let mut stat = parse_stat(buf)?;
    stat.pid = pid;
    Some((stat, fd))
}

/// Reads cmdline, ns links, cgroup and (where needed, see [`FactsPlan`])
/// status of the process `pid` whose /proc/PID is `dir`. `None` when the
/// process vanished while being read.
fn read_facts(
    dir: BorrowedFd<'_>,
    pid: Pid,
    plan: FactsPlan,
    buf: &mut Vec<u8>,
) -> Option<RawFacts> {
    let mut facts = RawFacts::default();
    if plan.uid_from_owner {
        facts.uid = Some(nix::sys::stat::fstat(dir).ok()?.st_uid);
    }
    match read_at(dir, c"cmdline", buf) {
        Read::Ok => facts.cmdline = Some(parse_cmdline(buf)),
        Read::Gone => return None,
        Read::Failed(e) => facts.unreadable.push(Unreadable {
            what: "cmdline",
            reason: reason(e),
        }),
    }
    // One lookup of ns/, then one short lookup per link.
    let ns_dir = openat(
        dir,
        c"ns",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    );
    let mut ns_error = None;
    match ns_dir {
        Ok(ns_dir) => {
            let mut target = [0u8; 64];
            for &kind in plan.ns_kinds {
                match readlink_at(ns_dir.as_fd(), ns_link_name(kind), &mut target) {
                    Ok(n) => facts.ns.set(kind, parse_ns_link(&target[..n])),
                    // A kernel without this kind has no link.
                    Err(Errno::ENOENT) => {}
                    Err(Errno::ESRCH) => return None,
                    Err(e) => ns_error = Some(e),
                }
            }
        }
        // A zombie has no ns links at all; a vanished process neither.
        Err(Errno::ENOENT | Errno::ESRCH) => {}
        Err(e) => ns_error = Some(e),
    }
    if let Some(e) = ns_error {
        facts.unreadable.push(Unreadable {
            what: "ns",
            reason: reason(e),
        });
    }
    let in_own_pid_ns = plan.own_pid_ns.is_some() && facts.ns.get(NsKind::Pid) == plan.own_pid_ns;
    if plan.uid_from_owner && in_own_pid_ns {
        facts.nspid = vec![pid];
    } else {
        match read_at(dir, c"status", buf) {
            Read::Ok => {
                let status = parse_status(buf);
                if !plan.uid_from_owner {
                    facts.uid = status.uid;
                }
                facts.nspid = status.nspid;
            }
            Read::Gone => return None,
            Read::Failed(e) => facts.unreadable.push(Unreadable {
                what: "status",
                reason: reason(e),
            }),
        }
    }
    match read_at(dir, c"cgroup", buf) {
        Read::Ok => facts.cgroup = Some(buf.clone()),
        Read::Gone => return None,
        Read::Failed(e) => facts.unreadable.push(Unreadable {
            what: "cgroup",
            reason: reason(e),
        }),
    }
    Some(facts)
}

fn ns_link_name(kind: NsKind) -> &'static CStr {
    match kind {
        NsKind::Pid => c"pid",
        NsKind::Mnt => c"mnt",
        NsKind::Net => c"net",
        NsKind::Ipc => c"ipc",
        NsKind::Uts => c"uts",
        NsKind::User => c"user",
        NsKind::Cgroup => c"cgroup",
        NsKind::Time => c"time",
        NsKind::PidForChildren => c"pid_for_children",
        NsKind::TimeForChildren => c"time_for_children",
    }
}

/// `"<pid>"` or `"<pid>/<file>"` as a C string in `out`, without allocating.
fn pid_path<'a>(pid: Pid, file: &[u8], out: &'a mut [u8; 32]) -> &'a CStr {
    use std::io::Write;
    let mut cursor = std::io::Cursor::new(&mut out[..]);
    // A PID has at most 10 digits; file names here are short: this fits.
    let _ = write!(cursor, "{pid}");
    if !file.is_empty() {
        let _ = cursor.write_all(b"/");
        let _ = cursor.write_all(file);
    }
    let _ = cursor.write_all(b"\0");
    let end = cursor.position() as usize;
    CStr::from_bytes_with_nul(&out[..end]).unwrap_or(c"")
}

fn pid_name(pid: Pid, out: &mut [u8; 16]) -> &CStr {
    let mut wide = [0u8; 32];
    let len = pid_path(pid, b"", &mut wide).to_bytes_with_nul().len();
    out[..len].copy_from_slice(&wide[..len]);
    CStr::from_bytes_with_nul(&out[..len]).unwrap_or(c"")
}

/// A process from its stat line and its facts.
fn assemble(stat: Stat, facts: Arc<Facts>, page_size: u64) -> Process {
    Process {
        pid: stat.pid,
        ppid: stat.ppid,
        pgid: stat.pgid,
        sid: stat.sid,
        tty: tty_cow(stat.tty_nr),
        tpgid: stat.tpgid,
        state: stat.state,
        nice: stat.nice,
        threads: stat.threads,
        rss_bytes: stat.rss_pages * page_size,
        cpu_ticks: stat.utime + stat.stime,
        cpu_percent: 0.0,
        start_ticks: stat.start_ticks,
        facts,
    }
}

/// Updates the stat-derived fields of a process already known, without
/// allocating unless its terminal changed.
fn update_from_stat(p: &mut Process, n: &StatNumbers, page_size: u64) {
    p.state = n.state;
    p.ppid = n.ppid;
    p.pgid = n.pgid;
    p.sid = n.sid;
    p.tpgid = n.tpgid;
    p.nice = n.nice;
    p.threads = n.threads;
    p.rss_bytes = n.rss_pages * page_size;
    p.cpu_ticks = n.utime + n.stime;
    if n.tty_nr == 0 {
        if p.tty != "?" {
            p.tty = "?".into();
        }
    } else {
        let name = tty_name(n.tty_nr);
        if p.tty != name {
            p.tty = name.into();
        }
    }
}

fn page_size() -> u64 {
    match sysconf(SysconfVar::PAGE_SIZE) {
        Ok(Some(n)) if n > 0 => n as u64,
        _ => 4096,
    }
}

/// Clock ticks per second (`getconf CLK_TCK`), 100 if unknown.
pub fn ticks_per_sec() -> u64 {
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(n)) if n > 0 => n as u64,
        _ => 100,
    }
}

/// btime from `<root>/stat`: the boot time in seconds since the epoch.
pub fn boot_time(root: &Path) -> anyhow::Result<u64> {
    let path = root.join("stat");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (is procfs mounted there?)", path.display()))?;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no btime line in {}", path.display()))
}

/// Reads one process completely (for `isolab ns PID` and the detail pane).
pub fn read_process(root: &Path, pid: Pid) -> Result<Process, ProcError> {
    if pid <= 0 {
        return Err(ProcError::Gone(pid));
    }
    let io_err = |e: Errno, path: PathBuf| ProcError::Io {
        path,
        source: std::io::Error::from(e),
    };
    let root_fd = match nix::fcntl::open(
        root,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => return Err(io_err(e, root.to_path_buf())),
    };
    let mut buf = Vec::with_capacity(4096);
    let mut path = [0u8; 32];
    let mut stat = match read_at(root_fd.as_fd(), pid_path(pid, b"stat", &mut path), &mut buf) {
        Read::Ok => parse_stat(&buf).ok_or_else(|| ProcError::Io {
            path: root.join(pid.to_string()).join("stat"),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not a stat line"),
        })?,
        Read::Gone => return Err(ProcError::Gone(pid)),
        Read::Failed(e) => return Err(io_err(e, root.join(pid.to_string()).join("stat"))),
    };
    let plan = FactsPlan::for_root(root_fd.as_fd());
    let dir = open_pid_dir(root_fd.as_fd(), pid).ok_or(ProcError::Gone(pid))?;
    let mut facts = read_facts(dir.as_fd(), pid, plan, &mut buf).ok_or(ProcError::Gone(pid))?;
    let lines = facts
        .cgroup
        .take()
        .map(|t| parse_cgroups(&t))
        .unwrap_or_default();
    let container = crate::sys::container::recognise(&lines).map(Arc::new);
    let comm = std::mem::take(&mut stat.comm);
    let facts = facts.into_facts(comm, lines.into(), container);
    Ok(assemble(stat, Arc::new(facts), page_size()))
}

/// A process whose facts are to be read: new, exec'd, young, or due.
struct Fresh {
    pid: Pid,
    cpu_percent: f32,
    /// `None` on the first read of a big host: the worker reads it too, so
    /// that nothing per process is left to one thread.
    stat: Option<Stat>,
}

/// What a worker read of one [`Fresh`] process.
struct FreshRead {
    facts: RawFacts,
    /// The stat the worker read itself, and its file if kept open (within
    /// the shared budget: a worker never holds more fds than it may keep).
    stat: Option<(Stat, Option<KeptStat>)>,
}

/// Reads what `fresh` lacks; `None` when the process has vanished.
fn read_fresh_one(
    root: BorrowedFd<'_>,
    fresh: &Fresh,
    plan: FactsPlan,
    keep_stat_fd: bool,
    buf: &mut Vec<u8>,
) -> Option<FreshRead> {
    let dir = open_pid_dir(root, fresh.pid)?;
    let stat = match fresh.stat {
        Some(_) => None,
        None => {
            let (stat, fd) = read_stat_in(dir.as_fd(), fresh.pid, buf)?;
            Some((stat, keep_stat_fd.then(|| KeptStat::keep(fd)).flatten()))
        }
    };
    let facts = read_facts(dir.as_fd(), fresh.pid, plan, buf)?;
    Some(FreshRead { facts, stat })
}

/// Below this many new processes, reading them on one thread is cheaper
/// than starting helpers.
const PARALLEL_MIN: usize = 512;

impl ProcReader {
    /// Where this reader's procfs is mounted.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Opens the procfs mounted at `root` (normally `/proc`).
    pub fn new(root: impl Into<PathBuf>) -> anyhow::Result<ProcReader> {
        let root = root.into();
        let dir = Dir::open(
            &root,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("opening {} (is procfs mounted there?)", root.display()))?;
        let boot_time = boot_time(&root)?;
        let ticks_per_sec = ticks_per_sec();
        let plan = FactsPlan::for_root(dir.as_fd());
        Ok(ProcReader {
            root,
            dir,
            known: HashMap::new(),
            generation: 0,
            last_refresh: None,
            ticks_per_sec,
            boot_time,
            page_size: page_size(),
            buf: Vec::with_capacity(4096),
            pids: pids::PidList::default(),
            cgroup_sets: HashMap::new(),
            current: Snapshot {
                procs: Vec::new(),
                ticks_per_sec,
                boot_time,
            },
            spare: None,
            stat_fds: HashMap::new(),
            keep_stat_fds: true,
            focus: None,
            plan,
        })
    }

    /// Reads every process once and returns a copy of the result. The
    /// reader keeps its own copy to refresh next time; for the lowest cost
    /// per refresh, own the snapshot and use [`ProcReader::refresh`].
    pub fn snapshot(&mut self) -> anyhow::Result<Snapshot> {
        if let Some(mut spare) = self.spare.take() {
            // A snapshot handed back with `recycle`: refresh it and give it
            // away whole — no copy, and the reader keeps none either.
            if !self.current.procs.is_empty() {
                // The reader's own copy is no longer needed: free it and
                // hand its pages back (otherwise they stay resident).
                self.current = Snapshot::default();
                release_free_memory();
            }
            self.refresh(&mut spare)?;
            return Ok(spare);
        }
        let mut current = std::mem::take(&mut self.current);
        let result = self.refresh(&mut current);
        self.current = current;
        result.map(|()| self.current.clone())
    }

    /// Re-reads the static facts of `pid` (cmdline, ns, cgroups...) on
    /// every refresh instead of once per rotation: the process whose
    /// details are on screen shows an unshare or a cgroup move at once.
    pub fn set_focus(&mut self, pid: Option<Pid>) {
        self.focus = pid;
    }

    /// Reads only the namespace links of `kinds`, for a one-shot listing
    /// that shows fewer; the other kinds stay unknown. Keep `Pid` among
    /// them: without it, status is read to learn NSpid.
    pub fn read_namespaces(&mut self, kinds: &'static [NsKind]) {
        self.plan.ns_kinds = kinds;
    }

    /// Hands a snapshot the caller no longer needs back to the reader: the
    /// next `snapshot()` refreshes it in place and returns it instead of a
    /// copy. A UI that returns each replaced snapshot keeps two in
    /// circulation and allocates next to nothing per refresh; one that
    /// never does still works (the reader then keeps its own copy).
    pub fn recycle(&mut self, old: Snapshot) {
        self.spare = Some(old);
    }

    /// Like [`ProcReader::snapshot`], but gives the reader's copy away: for a
    /// one-shot reader (`isolab tree`) that will not refresh again.
    pub fn into_snapshot(mut self) -> anyhow::Result<Snapshot> {
        // Nothing is re-read: keeping stat files open would only cost.
        self.keep_stat_fds = false;
        let mut current = std::mem::take(&mut self.current);
        self.refresh(&mut current)?;
        Ok(current)
    }

    /// Brings `snap` up to date in place: processes still alive (same PID,
    /// start time and comm) keep their static facts and only their stat
    /// fields change — no allocation; exited processes are dropped; new
    /// ones are read in full (on two threads when there are many). `snap`
    /// may be any snapshot, even an empty one or one refreshed by another reader.
    pub fn refresh(&mut self, snap: &mut Snapshot) -> anyhow::Result<()> {
        self.generation += 1;
        let generation = self.generation;
        let now = Instant::now();
        let elapsed = self
            .last_refresh
            .map(|t| now.duration_since(t).as_secs_f64())
            .unwrap_or(0.0);
        self.last_refresh = Some(now);
        snap.ticks_per_sec = self.ticks_per_sec;
        snap.boot_time = self.boot_time;

        let shortcuts = pids::Shortcuts {
            exits_show: !self.known.is_empty() && self.stat_fds.len() == self.known.len(),
            own_pid_ns: self.plan.own_pid_ns.is_some(),
        };
        self.pids.update(&mut self.dir, &self.root, shortcuts)?;

        // Updated in place: entries still alive are compacted to the front
        // (`kept`), the rest dropped; no second vector per refresh.
        let mut procs = std::mem::take(&mut snap.procs);
        let (mut next_old, mut kept) = (0, 0);
        // Alive but not in `snap` yet: known to the reader (facts cached)
        // or new (facts to read).
        let mut appended: Vec<Process> = Vec::new();
        let mut fresh: Vec<Fresh> = Vec::new();
        let mut path = [0u8; 32];
        let now_ticks = boot_clock_ticks(self.ticks_per_sec);
        let pids = std::mem::take(&mut self.pids.pids);
        // Knowing nothing yet about many processes: every one of them is
        // fresh, and the workers read their stat files along with the rest.
        let first_read = self.known.is_empty() && pids.len() >= PARALLEL_MIN;
        for &pid in &pids {
            if first_read {
                fresh.push(Fresh {
                    pid,
                    cpu_percent: 0.0,
                    stat: None,
                });
                continue;
            }
            while next_old < procs.len() && procs[next_old].pid < pid {
                next_old += 1; // exited: left behind, truncated below
            }
            let has_previous = next_old < procs.len() && procs[next_old].pid == pid;
            if has_previous {
                next_old += 1;
            }
            if !self.read_stat(pid, &mut path) {
                continue; // gone mid-scan
            }
            let Some((comm, numbers)) = parse_stat_parts(&self.buf) else {
                continue;
            };
            let cpu_ticks = numbers.utime + numbers.stime;
            let known = self
                .known
                .get_mut(&pid)
                .filter(|k| k.start_ticks == numbers.start_ticks);
            let cpu_percent = match &known {
                Some(k) if elapsed > 0.0 => {
                    let used =
                        cpu_ticks.saturating_sub(k.cpu_ticks) as f64 / self.ticks_per_sec as f64;
                    (used / elapsed * 100.0) as f32
                }
                _ => 0.0,
            };
            // Static facts can change without an exec: a young process may
            // still unshare, setns or move cgroup before it settles, and any
            // process may do so later. Re-read the young each refresh and
            // everyone else on a slow rotation (1/ROTATION per refresh).
            let young = now_ticks.saturating_sub(numbers.start_ticks) < 2 * self.ticks_per_sec;
            let reread = young
                || (generation + pid as u64).is_multiple_of(ROTATION)
                || self.focus == Some(pid);
            // An exec (or a rename) changes comm: the facts are stale then.
            let cached = known.filter(|k| !reread && k.facts.comm.as_bytes() == comm);
            let Some(k) = cached else {
                let mut stat = numbers.into_stat(comm);
                stat.pid = pid;
                fresh.push(Fresh {
                    pid,
                    cpu_percent,
                    stat: Some(stat),
                });
                continue;
            };
            k.cpu_ticks = cpu_ticks;
            k.seen = generation;
            if has_previous {
                let p = &mut procs[next_old - 1];
                update_from_stat(p, &numbers, self.page_size);
                p.cpu_percent = cpu_percent;
                // Re-read into the other snapshot since this one was made?
                if !Arc::ptr_eq(&p.facts, &k.facts) {
                    p.facts = k.facts.clone();
                }
                // Everything in kept..next_old-1 is dead: swap it back.
                procs.swap(kept, next_old - 1);
                kept += 1;
            } else {
                let mut stat = numbers.into_stat(comm);
                stat.pid = pid;
                let mut p = assemble(stat, k.facts.clone(), self.page_size);
                p.cpu_percent = cpu_percent;
                appended.push(p);
            }
        }
        procs.truncate(kept);
        self.pids.pids = pids;

        let reads = self.read_fresh(&fresh);
        let fresh_count = fresh.len();
        for (f, read) in fresh.into_iter().zip(reads) {
            let Some(FreshRead {
                mut facts,
                stat: read_stat,
            }) = read
            else {
                continue; // vanished while being read
            };
            let mut stat = match (f.stat, read_stat) {
                (Some(stat), _) => stat,
                (None, Some((stat, kept))) => {
                    if let Some(kept) = kept {
                        self.stat_fds.insert(f.pid, kept);
                    }
                    stat
                }
                (None, None) => continue,
            };
            let cpu_percent = f.cpu_percent;
            let (cgroups, container) = match facts.cgroup.take() {
                Some(text) => self.cgroup_set(text),
                None => (CgroupLines::default(), None),
            };
            let comm = std::mem::take(&mut stat.comm);
            let facts = Arc::new(facts.into_facts(comm, cgroups, container));
            self.known.insert(
                stat.pid,
                Known {
                    start_ticks: stat.start_ticks,
                    cpu_ticks: stat.utime + stat.stime,
                    seen: generation,
                    facts: facts.clone(),
                },
            );
            let mut p = assemble(stat, facts, self.page_size);
            p.cpu_percent = cpu_percent;
            appended.push(p);
        }
        self.known.retain(|_, k| k.seen == generation);
        let known = &self.known;
        // The next refresh may reuse this list (see `pids`).
        self.pids.pids.retain(|pid| known.contains_key(pid));
        self.stat_fds.retain(|pid, _| known.contains_key(pid));
        if !appended.is_empty() {
            procs.append(&mut appended);
            procs.sort_unstable_by_key(|p| p.pid);
        }
        if fresh_count >= PARALLEL_MIN {
            // A big first read leaves raw texts freed on worker threads.
            release_free_memory();
        }
        snap.procs = procs;
        self.cgroup_sets
            .retain(|_, (lines, _)| lines.share_count() > 1);
        Ok(())
    }

    /// Reads /proc/PID/stat into `self.buf`. The file is kept open between
    /// refreshes and re-read with pread at offset 0: that skips the path
    /// walk, open and close that otherwise cost more than the read itself.
    /// The open fd also pins the process: once it exits the read fails
    /// (ESRCH) even if its PID is reused, and the new process is opened anew.
    fn read_stat(&mut self, pid: Pid, path: &mut [u8; 32]) -> bool {
        if let Some(kept) = self.stat_fds.get(&pid) {
            if matches!(pread_whole(kept.0.as_fd(), &mut self.buf), Read::Ok) {
                return true;
            }
            self.stat_fds.remove(&pid);
        }
        let fd = match openat(
            self.dir.as_fd(),
            pid_path(pid, b"stat", path),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(_) => return false,
        };
        if !matches!(pread_whole(fd.as_fd(), &mut self.buf), Read::Ok) {
            return false;
        }
        if self.keep_stat_fds
            && let Some(kept) = KeptStat::keep(fd)
        {
            self.stat_fds.insert(pid, kept);
        }
        true
    }

    /// The parsed, shared cgroup list (and container) for a cgroup file text.
    fn cgroup_set(&mut self, text: Vec<u8>) -> CgroupSet {
        if let Some((lines, container)) = self.cgroup_sets.get(&text) {
            return (lines.clone(), container.clone());
        }
        let lines: CgroupLines = parse_cgroups(&text).into();
        let container = crate::sys::container::recognise(&lines).map(Arc::new);
        self.cgroup_sets
            .insert(text, (lines.clone(), container.clone()));
        (lines, container)
    }

    /// Reads the static facts of new processes; on two threads when there
    /// are many (the first snapshot of a busy host).
    fn read_fresh(&mut self, fresh: &[Fresh]) -> Vec<Option<FreshRead>> {
        let root = self.dir.as_fd();
        let (plan, keep) = (self.plan, self.keep_stat_fds);
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(4);
        if fresh.len() < PARALLEL_MIN || threads < 2 {
            let buf = &mut self.buf;
            return fresh
                .iter()
                .map(|f| read_fresh_one(root, f, plan, keep, buf))
                .collect();
        }
        let chunk = fresh.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = fresh
                .chunks(chunk)
                .map(|part| {
                    let worker = scope.spawn(move || {
                        let mut buf = Vec::with_capacity(4096);
                        part.iter()
                            .map(|f| read_fresh_one(root, f, plan, keep, &mut buf))
                            .collect::<Vec<_>>()
                    });
                    (worker, part.len())
                })
                .collect();
            let mut all = Vec::with_capacity(fresh.len());
            for (worker, len) in workers {
                // A worker only reads files; should it panic anyway, its
                // processes count as vanished for this snapshot.
                match worker.join() {
                    Ok(part) => all.extend(part),
                    Err(_) => all.extend((0..len).map(|_| None)),
                }
            }
            all
        })
    }
}

fn parse_pid_name(name: &[u8]) -> Option<Pid> {
    if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

/// The process to compare namespaces against when none is named: PID 1, or
/// — when PID 1's namespace links cannot be read (a PID 1 with capabilities
/// we lack refuses them even to root) — the reading process itself, which
/// normally lives in the host's namespaces too. The note says which and why.
pub fn reference_process(root: &Path) -> Result<(Process, Option<String>), ProcError> {
    let init = read_process(root, 1)?;
    let Some(refused) = init.facts.unreadable.iter().find(|u| u.what == "ns") else {
        return Ok((init, None));
    };
    let own_pid = std::process::id() as Pid;
    let own = read_process(root, own_pid)?;
    let note = format!(
        "PID 1's namespaces cannot be read ({}); comparing with isolab's own process (PID {own_pid}) instead",
        refused.reason
    );
    Ok((own, Some(note)))
}

/// The process that stands for "the host" when marking namespace
/// differences: PID 1 when its namespaces can be read, else isolab itself
/// (PID 1 may hold capabilities we lack, which closes its ns links even to
/// root). Returns the process and a label saying which one it is.
pub fn host_reference(root: &Path) -> Option<(Process, String)> {
    match reference_process(root) {
        Ok((p, None)) => {
            let label = format!("PID {}", p.pid);
            Some((p, label))
        }
        Ok((p, Some(_))) => {
            let label = format!(
                "isolab itself (PID {}; PID 1's namespaces are unreadable)",
                p.pid
            );
            Some((p, label))
        }
        Err(_) => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // A real line from this kernel (a `sleep`), fields 1..52.
    const SLEEP_STAT: &str = "4123 (sleep) S 4100 4100 3568 34816 4100 4194304 99 0 0 0 7 3 0 0 20 0 1 0 123456 2342912 132 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn an_exiting_or_zombie_process_is_exiting() {
        let s = parse_stat(SLEEP_STAT.as_bytes()).unwrap();
        assert_eq!(s.flags, 4194304);
        assert!(!s.is_exiting());
        // PF_EXITING (0x4) set: the task has begun to exit.
        let exiting = SLEEP_STAT.replace(" 4194304 ", " 4194308 ");
        assert!(parse_stat(exiting.as_bytes()).unwrap().is_exiting());
        let zombie = SLEEP_STAT.replace("(sleep) S ", "(sleep) Z ");
        assert!(parse_stat(zombie.as_bytes()).unwrap().is_exiting());
    }

    #[test]
    fn parses_a_plain_stat_line() {
        let s = parse_stat(SLEEP_STAT.as_bytes()).unwrap();
        assert_eq!(s.pid, 4123);
        assert_eq!(s.comm, "sleep");
        assert_eq!(s.state, 'S');
        assert_eq!((s.ppid, s.pgid, s.sid), (4100, 4100, 3568));
        assert_eq!(s.tty_nr, 34816);
        assert_eq!(s.tpgid, 4100);
        assert_eq!((s.utime, s.stime), (7, 3));
        assert_eq!(s.nice, 0);
        assert_eq!(s.threads, 1);
        assert_eq!(s.start_ticks, 123456);
        assert_eq!(s.rss_pages, 132);
    }

    #[test]
    fn parses_a_hostile_comm_from_the_last_paren() {
        let line = SLEEP_STAT.replace("(sleep)", "(x) R 1 2 (y))");
        let s = parse_stat(line.as_bytes()).unwrap();
        assert_eq!(s.comm, "x) R 1 2 (y)");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 4100);
        assert_eq!(s.start_ticks, 123456);
        let spaces = SLEEP_STAT.replace("(sleep)", "( a b  c )");
        assert_eq!(parse_stat(spaces.as_bytes()).unwrap().comm, " a b  c ");
        let empty = SLEEP_STAT.replace("(sleep)", "()");
        assert_eq!(parse_stat(empty.as_bytes()).unwrap().comm, "");
    }

    #[test]
    fn rejects_what_is_not_a_stat_line() {
        assert!(parse_stat(b"").is_none());
        assert!(parse_stat(b"4123 (sleep) S 1 2").is_none());
        assert!(parse_stat(b"4123 sleep) S (").is_none());
        assert!(parse_stat(b"abc (sleep) S 1 1 1 0 1 0 0 0 0 0 0 0 0 0 0 0 0 1 0 5 0 0").is_none());
    }

    #[test]
    fn names_terminals_like_ps() {
        let dev = |major: u32, minor: u32| -> i32 {
            ((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)) as i32
        };
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name(34816), "pts/0");
        assert_eq!(tty_name(dev(136, 5)), "pts/5");
        assert_eq!(tty_name(dev(136, 300)), "pts/300");
        assert_eq!(tty_name(dev(137, 2)), "pts/258");
        assert_eq!(tty_name(dev(4, 1)), "tty1");
        assert_eq!(tty_name(dev(4, 63)), "tty63");
        assert_eq!(tty_name(dev(4, 64)), "ttyS0");
        assert_eq!(tty_name(dev(4, 67)), "ttyS3");
        assert_eq!(tty_name(dev(5, 1)), "console");
        assert_eq!(tty_name(dev(188, 0)), "?");
    }

    #[test]
    fn parses_status_cmdline_cgroup_and_ns_links() {
        let status = "Name:\tsleep\nUid:\t0\t1000\t0\t0\nNSpid:\t4123\t57\t1\nThreads:\t3\n";
        let st = parse_status(status.as_bytes());
        assert_eq!(st.uid, Some(1000));
        assert_eq!(st.nspid, vec![4123, 57, 1]);
        assert_eq!(st.threads, Some(3));

        assert_eq!(parse_cmdline(b"sleep\x00100\x00"), vec!["sleep", "100"]);
        assert_eq!(parse_cmdline(b"a b\x00\x00c\x00"), vec!["a b", "", "c"]);
        assert!(parse_cmdline(b"").is_empty());

        let cg = parse_cgroups(b"4:memory:/isolab/lab-1\n1:name=systemd:/a:b\n0::/\n");
        assert_eq!(cg.len(), 3);
        assert_eq!(cg[0].controllers, vec!["memory"]);
        assert_eq!(cg[1].path, "/a:b");
        assert!(cg[2].is_v2() && !cg[0].is_v2());

        assert_eq!(parse_ns_link(b"pid:[4026531836]"), Some(4026531836));
        assert_eq!(parse_ns_link(b"garbage"), None);
    }

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
