//! A fast /proc reader: one snapshot of every process, with namespace ids,
//! NSpid, cgroup lines and container labels. Static facts (cmdline, ns ids,
//! cgroups) are cached per (pid, start time) so a reused PID is never
//! confused with the process that had it before.

use crate::sys::container::Container;
use crate::sys::ns::{NsKind, NsSet};
use anyhow::Context;
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat, readlinkat};
use nix::sys::stat::Mode;
use nix::unistd::{SysconfVar, sysconf};
use serde::Serialize;
use std::collections::HashMap;
use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
    /// The controlling terminal's name (`pts/0`, `tty1`) or `?`.
    pub tty: String,
    /// The foreground process group of the tty (-1 without one).
    pub tpgid: Pid,
    /// The one-letter state from stat (R, S, D, Z, T, I, ...).
    pub state: char,
    /// Nice value (-20..19), for the `<` / `N` marks of STAT.
    pub nice: i32,
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

/// Reads snapshots of a procfs mounted at `root`, caching what does not change.
pub struct ProcReader {
    pub root: PathBuf,
    /// The open root directory: every read is relative to it.
    dir: Dir,
    cache: HashMap<Pid, Cached>,
    generation: u64,
    last_snapshot: Option<Instant>,
    ticks_per_sec: u64,
    boot_time: u64,
    page_size: u64,
    /// Reused for every file read, so a snapshot allocates little.
    buf: Vec<u8>,
    pids: Vec<Pid>,
}

impl Process {
    /// The command as `ps` shows it: argv joined by spaces, or `[comm]` for a
    /// kernel thread (or a zombie) whose argv is empty.
    pub fn command_line(&self) -> String {
        match &self.cmdline {
            Some(argv) if !argv.is_empty() => argv.join(" "),
            _ => format!("[{}]", self.comm),
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
        let secs = self.cpu_ticks / ticks_per_sec.max(1);
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        if h > 0 {
            format!("{h}:{m:02}:{s:02}")
        } else {
            format!("{m}:{s:02}")
        }
    }
}

/// The fields of /proc/PID/stat that isolab uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    pub pid: Pid,
    pub comm: String,
    pub state: char,
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

/// Parses the text of /proc/PID/stat. The comm sits between the first '('
/// and the LAST ')', because a comm may itself contain `) R 1 2`.
/// Returns `None` for text that is not a stat line.
pub fn parse_stat(text: &[u8]) -> Option<Stat> {
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
    let comm = String::from_utf8_lossy(&text[open + 1..close]).into_owned();
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    // fields[0] is field 3 of proc(5) (state); field N is fields[N - 3].
    let mut fields = rest.split_ascii_whitespace();
    let mut next = || fields.next();
    let state = next()?.chars().next()?;
    let ppid = next()?.parse().ok()?;
    let pgid = next()?.parse().ok()?;
    let sid = next()?.parse().ok()?;
    let tty_nr = next()?.parse().ok()?;
    let tpgid = next()?.parse().ok()?;
    for _ in 9..=13 {
        next()?; // flags, minflt, cminflt, majflt, cmajflt
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
    Some(Stat {
        pid,
        comm,
        state,
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
    })
}

/// The name of a controlling terminal from stat's tty_nr, as `ps` prints it:
/// `pts/N` (Unix98 ptys, majors 136-143), `ttyN` (virtual consoles, major 4
/// minor < 64), `ttySN` (serial, major 4 minor >= 64), else `?`.
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

/// What /proc/PID/status tells isolab: real uid and NSpid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusFields {
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
        if let Some(v) = line.strip_prefix("Uid:") {
            out.uid = v
                .split_ascii_whitespace()
                .next()
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

/// Reads the whole file `path` (relative to `dir`) into `buf`.
fn read_at(dir: BorrowedFd<'_>, path: &CStr, buf: &mut Vec<u8>) -> Read {
    buf.clear();
    let fd = match openat(dir, path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => return classify(e),
    };
    loop {
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(4096);
        }
        let len = buf.len();
        let spare = buf.capacity() - len;
        buf.resize(len + spare, 0);
        match nix::unistd::read(&fd, &mut buf[len..]) {
            Ok(0) => {
                buf.truncate(len);
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

fn classify(e: Errno) -> Read {
    match e {
        Errno::ENOENT | Errno::ESRCH => Read::Gone,
        other => Read::Failed(other),
    }
}

fn reason(e: Errno) -> String {
    match e {
        Errno::EACCES | Errno::EPERM if nix::unistd::geteuid().is_root() => {
            "permission denied even to root (the process holds capabilities this one lacks)"
                .to_string()
        }
        Errno::EACCES | Errno::EPERM => "permission denied (run as root to see it)".to_string(),
        other => other.desc().to_string(),
    }
}

/// The facts read once per process (per pid and start time): they change
/// only on exec (which also changes comm, so a comm change re-reads them).
#[derive(Clone, Debug, Default)]
struct StaticFacts {
    uid: Option<u32>,
    cmdline: Option<Vec<String>>,
    ns: NsSet,
    nspid: Vec<Pid>,
    cgroups: Vec<CgroupLine>,
    container: Option<Container>,
    unreadable: Vec<Unreadable>,
}

/// Reads cmdline, status, ns links and cgroup of the process directory `dir`.
/// `None` when the process vanished while being read.
fn read_static(dir: BorrowedFd<'_>, buf: &mut Vec<u8>) -> Option<StaticFacts> {
    let mut facts = StaticFacts::default();
    match read_at(dir, c"cmdline", buf) {
        Read::Ok => facts.cmdline = Some(parse_cmdline(buf)),
        Read::Gone => return None,
        Read::Failed(e) => facts.unreadable.push(Unreadable {
            what: "cmdline",
            reason: reason(e),
        }),
    }
    match read_at(dir, c"status", buf) {
        Read::Ok => {
            let status = parse_status(buf);
            facts.uid = status.uid;
            facts.nspid = status.nspid;
        }
        Read::Gone => return None,
        Read::Failed(e) => facts.unreadable.push(Unreadable {
            what: "status",
            reason: reason(e),
        }),
    }
    let mut ns_error = None;
    for kind in NsKind::ALL {
        match readlinkat(dir, ns_link_path(kind)) {
            Ok(target) => facts.ns.set(kind, parse_ns_link(target.as_bytes())),
            // A kernel without this kind has no link; a zombie has none at all.
            Err(Errno::ENOENT) => {}
            Err(Errno::ESRCH) => return None,
            Err(e) => ns_error = Some(e),
        }
    }
    if let Some(e) = ns_error {
        facts.unreadable.push(Unreadable {
            what: "ns",
            reason: reason(e),
        });
    }
    match read_at(dir, c"cgroup", buf) {
        Read::Ok => {
            facts.cgroups = parse_cgroups(buf);
            facts.container = crate::sys::container::recognise(&facts.cgroups);
        }
        Read::Gone => return None,
        Read::Failed(e) => facts.unreadable.push(Unreadable {
            what: "cgroup",
            reason: reason(e),
        }),
    }
    Some(facts)
}

fn ns_link_path(kind: NsKind) -> &'static CStr {
    match kind {
        NsKind::Pid => c"ns/pid",
        NsKind::Mnt => c"ns/mnt",
        NsKind::Net => c"ns/net",
        NsKind::Ipc => c"ns/ipc",
        NsKind::Uts => c"ns/uts",
        NsKind::User => c"ns/user",
        NsKind::Cgroup => c"ns/cgroup",
        NsKind::Time => c"ns/time",
        NsKind::PidForChildren => c"ns/pid_for_children",
        NsKind::TimeForChildren => c"ns/time_for_children",
    }
}

fn assemble(stat: Stat, facts: StaticFacts, page_size: u64) -> Process {
    Process {
        pid: stat.pid,
        ppid: stat.ppid,
        pgid: stat.pgid,
        sid: stat.sid,
        tty: tty_name(stat.tty_nr),
        tpgid: stat.tpgid,
        state: stat.state,
        nice: stat.nice,
        uid: facts.uid,
        comm: stat.comm,
        cmdline: facts.cmdline,
        threads: stat.threads,
        rss_bytes: stat.rss_pages * page_size,
        cpu_ticks: stat.utime + stat.stime,
        cpu_percent: 0.0,
        start_ticks: stat.start_ticks,
        ns: facts.ns,
        nspid: facts.nspid,
        cgroups: facts.cgroups,
        container: facts.container,
        unreadable: facts.unreadable,
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
    let dir_path = root.join(pid.to_string());
    let io_err = |e: Errno| ProcError::Io {
        path: dir_path.clone(),
        source: std::io::Error::from(e),
    };
    let dir = match nix::fcntl::open(
        &dir_path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ESRCH) => return Err(ProcError::Gone(pid)),
        Err(e) => return Err(io_err(e)),
    };
    let mut buf = Vec::with_capacity(4096);
    let stat = match read_at(dir.as_fd(), c"stat", &mut buf) {
        Read::Ok => parse_stat(&buf).ok_or_else(|| ProcError::Io {
            path: dir_path.join("stat"),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not a stat line"),
        })?,
        Read::Gone => return Err(ProcError::Gone(pid)),
        Read::Failed(e) => return Err(io_err(e)),
    };
    let facts = read_static(dir.as_fd(), &mut buf).ok_or(ProcError::Gone(pid))?;
    Ok(assemble(stat, facts, page_size()))
}

/// What the reader remembers about one process between snapshots.
struct Cached {
    start_ticks: u64,
    comm: String,
    cpu_ticks: u64,
    facts: StaticFacts,
    /// The snapshot generation that last saw this process (to drop the dead).
    seen: u64,
}

impl ProcReader {
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
        Ok(ProcReader {
            root,
            dir,
            cache: HashMap::new(),
            generation: 0,
            last_snapshot: None,
            ticks_per_sec: ticks_per_sec(),
            boot_time,
            page_size: page_size(),
            buf: Vec::with_capacity(4096),
            pids: Vec::new(),
        })
    }

    /// Reads every process once. Static facts come from the cache when the
    /// (pid, start time) pair was seen before; stat is read every time.
    pub fn snapshot(&mut self) -> anyhow::Result<Snapshot> {
        self.generation += 1;
        let now = Instant::now();
        let elapsed = self
            .last_snapshot
            .map(|t: Instant| now.duration_since(t).as_secs_f64())
            .unwrap_or(0.0);
        self.last_snapshot = Some(now);

        self.pids.clear();
        for entry in self.dir.iter() {
            let entry = entry.with_context(|| format!("listing {}", self.root.display()))?;
            if let Some(pid) = parse_pid_name(entry.file_name().to_bytes()) {
                self.pids.push(pid);
            }
        }
        self.pids.sort_unstable();

        let mut procs = Vec::with_capacity(self.pids.len());
        let mut path = Vec::with_capacity(32);
        for i in 0..self.pids.len() {
            let pid = self.pids[i];
            if let Some(p) = self.read_one(pid, elapsed, &mut path) {
                procs.push(p);
            }
        }
        let generation = self.generation;
        self.cache.retain(|_, c| c.seen == generation);
        Ok(Snapshot {
            procs,
            ticks_per_sec: self.ticks_per_sec,
            boot_time: self.boot_time,
        })
    }

    fn read_one(&mut self, pid: Pid, elapsed: f64, path: &mut Vec<u8>) -> Option<Process> {
        use std::io::Write;
        path.clear();
        // Writing into a Vec cannot fail.
        let _ = write!(path, "{pid}/stat\0");
        let stat_path = CStr::from_bytes_with_nul(path).ok()?;
        let stat = match read_at(self.dir.as_fd(), stat_path, &mut self.buf) {
            Read::Ok => parse_stat(&self.buf)?,
            // Gone, or stat refused (never happens on procfs): skip it.
            _ => return None,
        };
        let cpu_ticks = stat.utime + stat.stime;
        let cached = self
            .cache
            .get_mut(&pid)
            .filter(|c| c.start_ticks == stat.start_ticks && c.comm == stat.comm);
        let (facts, previous_ticks) = match cached {
            Some(c) => {
                let previous = c.cpu_ticks;
                c.cpu_ticks = cpu_ticks;
                c.seen = self.generation;
                (c.facts.clone(), Some(previous))
            }
            None => {
                // Same pid and start time but a new comm means an exec: keep
                // the CPU baseline, re-read the static facts.
                let previous = self
                    .cache
                    .get(&pid)
                    .filter(|c| c.start_ticks == stat.start_ticks)
                    .map(|c| c.cpu_ticks);
                let dir = openat(
                    self.dir.as_fd(),
                    &path[..path.len() - "/stat\0".len()],
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .ok()?;
                let facts = read_static(dir.as_fd(), &mut self.buf)?;
                self.cache.insert(
                    pid,
                    Cached {
                        start_ticks: stat.start_ticks,
                        comm: stat.comm.clone(),
                        cpu_ticks,
                        facts: facts.clone(),
                        seen: self.generation,
                    },
                );
                (facts, previous)
            }
        };
        let mut p = assemble(stat, facts, self.page_size);
        if let Some(prev) = previous_ticks
            && elapsed > 0.0
        {
            let used = cpu_ticks.saturating_sub(prev) as f64 / self.ticks_per_sec as f64;
            p.cpu_percent = (used / elapsed * 100.0) as f32;
        }
        Some(p)
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
    let Some(refused) = init.unreadable.iter().find(|u| u.what == "ns") else {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // A real line from this kernel (a `sleep`), fields 1..52.
    const SLEEP_STAT: &str = "4123 (sleep) S 4100 4100 3568 34816 4100 4194304 99 0 0 0 7 3 0 0 20 0 1 0 123456 2342912 132 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

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
        let status = "Name:\tsleep\nUid:\t1000\t0\t0\t0\nNSpid:\t4123\t57\t1\nThreads:\t3\n";
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
        Process {
            pid,
            ppid: 1,
            pgid: pid,
            sid: pid,
            tty: "?".into(),
            tpgid: -1,
            state: 'S',
            nice: 0,
            uid: Some(0),
            comm: "k".into(),
            cmdline: Some(vec![]),
            threads: 1,
            rss_bytes: 0,
            cpu_ticks: 0,
            cpu_percent: 0.0,
            start_ticks: 0,
            ns: NsSet::default(),
            nspid: vec![pid],
            cgroups: vec![],
            container: None,
            unreadable: vec![],
        }
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
        p.cmdline = Some(vec!["sleep".into(), "9".into()]);
        assert_eq!(p.command_line(), "sleep 9");
    }
}
