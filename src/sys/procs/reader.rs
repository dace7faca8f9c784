//! The /proc walker. Everything is opened relative to a directory fd of the
//! proc root (and of each /proc/PID), so one snapshot of 10k processes costs
//! a few openat/read pairs per process and no path building.

use super::{CgroupLine, Pid, ProcError, Process, Snapshot, Unreadable};
use crate::sys::container;
use crate::sys::ns::{NsKind, NsSet};
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, fstatat};
use std::collections::HashMap;
use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The fields of /proc/PID/stat that isolab uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatFields {
    pub comm: String,
    pub state: char,
    pub ppid: Pid,
    pub pgid: Pid,
    pub sid: Pid,
    pub tty_nr: i32,
    pub tpgid: Pid,
    pub cpu_ticks: u64,
    pub nice: i32,
    pub threads: u32,
    pub start_ticks: u64,
    pub rss_pages: u64,
}

/// Parses /proc/PID/stat. The comm sits between the first '(' and the
/// LAST ')': a process may name itself `x) R 1 2`, and splitting on the
/// first ')' would read its fields from inside the name.
pub fn parse_stat(text: &[u8]) -> Option<StatFields> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let comm = String::from_utf8_lossy(&text[open + 1..close]).into_owned();
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    let mut f = rest.split_ascii_whitespace();
    // Field numbers follow proc(5): 3 is state.
    let state = f.next()?.chars().next()?;
    let mut num = |skip: usize| -> Option<i64> {
        for _ in 0..skip {
            f.next()?;
        }
        f.next()?.parse::<i64>().ok()
    };
    let ppid = num(0)? as Pid; // 4
    let pgid = num(0)? as Pid; // 5
    let sid = num(0)? as Pid; // 6
    let tty_nr = num(0)? as i32; // 7
    let tpgid = num(0)? as Pid; // 8
    let utime = num(5)?; // 14 (skips flags, minflt, cminflt, majflt, cmajflt)
    let stime = num(0)?; // 15
    let nice = num(3)? as i32; // 19 (skips cutime, cstime, priority)
    let threads = num(0)?; // 20
    let start_ticks = num(1)?; // 22 (skips itrealvalue)
    let rss_pages = num(1)?; // 24 (skips vsize)
    Some(StatFields {
        comm,
        state,
        ppid,
        pgid,
        sid,
        tty_nr,
        tpgid,
        cpu_ticks: (utime.max(0) + stime.max(0)) as u64,
        nice,
        threads: threads.max(0) as u32,
        start_ticks: start_ticks.max(0) as u64,
        rss_pages: rss_pages.max(0) as u64,
    })
}

/// The name of a terminal from stat's tty_nr, as `ps` prints it.
pub fn tty_name(tty_nr: i32) -> String {
    if tty_nr == 0 {
        return "?".to_string();
    }
    let n = tty_nr as u32;
    let major = (n >> 8) & 0xfff;
    let minor = (n & 0xff) | ((n >> 12) & 0xfff00);
    match major {
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        5 if minor == 0 => "tty".to_string(),
        5 if minor == 1 => "console".to_string(),
        229 => format!("hvc{minor}"),
        _ => format!("{major}:{minor}"),
    }
}

/// What is read once per process (keyed by pid and start time) and then
/// refreshed only now and then: it rarely changes after exec.
#[derive(Clone, Debug)]
struct StaticInfo {
    comm: String,
    uid: Option<u32>,
    cmdline: Option<Vec<String>>,
    ns: NsSet,
    nspid: Vec<Pid>,
    cgroups: Vec<CgroupLine>,
    container: Option<crate::sys::container::Container>,
    unreadable: Vec<Unreadable>,
}

struct Cached {
    start_ticks: u64,
    cpu_ticks: u64,
    info: StaticInfo,
    /// The snapshot generation in which `info` was read.
    read_in: u64,
}

/// Static facts of a process older than this many snapshots are re-read
/// (a process may setns, unshare without exec, or be moved to another cgroup
/// while keeping its PID and comm). Spread over generations by PID so the
/// cost is even.
const REFRESH_EVERY: u64 = 8;

/// Reads snapshots of a procfs mounted at `root`, caching what does not change.
pub struct ProcReader {
    root: PathBuf,
    root_fd: OwnedFd,
    cache: HashMap<Pid, Cached>,
    generation: u64,
    last_at: Option<Instant>,
    ticks_per_sec: u64,
    page_size: u64,
    buf: Vec<u8>,
}

impl ProcReader {
    pub fn new(root: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let root = root.into();
        let root_fd = nix::fcntl::open(
            &root,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| anyhow::anyhow!("cannot open the proc root {}: {e}", root.display()))?;
        Ok(ProcReader {
            root,
            root_fd,
            cache: HashMap::new(),
            generation: 0,
            last_at: None,
            ticks_per_sec: ticks_per_sec(),
            page_size: page_size(),
            buf: Vec::with_capacity(4096),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// One snapshot of every process. Processes that exit while being read
    /// are skipped: that is the normal life of /proc, not an error.
    pub fn snapshot(&mut self) -> anyhow::Result<Snapshot> {
        self.generation += 1;
        let now = Instant::now();
        let elapsed_ticks = self
            .last_at
            .map(|t| now.duration_since(t).as_secs_f64() * self.ticks_per_sec as f64);
        self.last_at = Some(now);

        let pids = list_pids(&self.root_fd)
            .map_err(|e| anyhow::anyhow!("cannot list {}: {e}", self.root.display()))?;
        let mut procs = Vec::with_capacity(pids.len());
        let mut seen = HashMap::with_capacity(pids.len());
        for pid in pids {
            if let Some(p) = self.read_one(pid, elapsed_ticks) {
                seen.insert(pid, ());
                procs.push(p);
            }
        }
        self.cache.retain(|pid, _| seen.contains_key(pid));
        procs.sort_unstable_by_key(|p| p.pid);
        Ok(Snapshot {
            procs,
            ticks_per_sec: self.ticks_per_sec,
            boot_time: boot_time(&self.root_fd).unwrap_or(0),
        })
    }

    fn read_one(&mut self, pid: Pid, elapsed_ticks: Option<f64>) -> Option<Process> {
        let dir = open_pid_dir(&self.root_fd, pid).ok()?;
        read_file(&dir, c"stat", &mut self.buf).ok()?;
        let stat = parse_stat(&self.buf)?;
        let generation = self.generation;
        let cached = self.cache.get(&pid);
        let stale = match cached {
            None => true,
            Some(c) => {
                c.start_ticks != stat.start_ticks
                    || c.info.comm != stat.comm
                    || (generation + pid as u64).is_multiple_of(REFRESH_EVERY)
                    || generation - c.read_in < 3
            }
        };
        let prev_cpu = cached
            .filter(|c| c.start_ticks == stat.start_ticks)
            .map(|c| c.cpu_ticks);
        let info = match cached {
            Some(c) if !stale => c.info.clone(),
            _ => read_static(&dir, &stat.comm, &mut self.buf),
        };
        let cpu_percent = match (prev_cpu, elapsed_ticks) {
            (Some(prev), Some(el)) if el > 0.0 => {
                (stat.cpu_ticks.saturating_sub(prev) as f64 / el * 100.0) as f32
            }
            _ => 0.0,
        };
        let read_in = if stale {
            generation
        } else {
            cached.map(|c| c.read_in).unwrap_or(generation)
        };
        let process = assemble(pid, &stat, &info, cpu_percent, self.page_size);
        self.cache.insert(
            pid,
            Cached {
                start_ticks: stat.start_ticks,
                cpu_ticks: stat.cpu_ticks,
                info,
                read_in,
            },
        );
        Some(process)
    }
}

fn assemble(pid: Pid, stat: &StatFields, info: &StaticInfo, cpu: f32, page: u64) -> Process {
    Process {
        pid,
        ppid: stat.ppid,
        pgid: stat.pgid,
        sid: stat.sid,
        tpgid: stat.tpgid,
        nice: stat.nice,
        tty: tty_name(stat.tty_nr),
        state: stat.state,
        uid: info.uid,
        comm: stat.comm.clone(),
        cmdline: info.cmdline.clone(),
        threads: stat.threads,
        rss_bytes: stat.rss_pages * page,
        cpu_ticks: stat.cpu_ticks,
        cpu_percent: cpu,
        start_ticks: stat.start_ticks,
        ns: info.ns,
        nspid: info.nspid.clone(),
        cgroups: info.cgroups.clone(),
        container: info.container.clone(),
        unreadable: info.unreadable.clone(),
    }
}

/// Reads one process without a reader's cache (for `isolab ns PID` and the
/// like). A missing or exited PID is `ProcError::Gone`.
pub fn read_process(root: &Path, pid: Pid) -> Result<Process, ProcError> {
    let root_fd = nix::fcntl::open(
        root,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ProcError::Io {
        path: root.to_path_buf(),
        source: e.into(),
    })?;
    let gone = |e: Errno| match e {
        Errno::ENOENT | Errno::ESRCH => ProcError::Gone(pid),
        e => ProcError::Io {
            path: root.join(pid.to_string()),
            source: e.into(),
        },
    };
    if pid <= 0 {
        return Err(ProcError::Gone(pid));
    }
    let dir = open_pid_dir(&root_fd, pid).map_err(gone)?;
    let mut buf = Vec::with_capacity(4096);
    read_file(&dir, c"stat", &mut buf).map_err(gone)?;
    let stat = parse_stat(&buf).ok_or(ProcError::Gone(pid))?;
    let info = read_static(&dir, &stat.comm, &mut buf);
    Ok(assemble(pid, &stat, &info, 0.0, page_size()))
}

fn list_pids(root: &OwnedFd) -> nix::Result<Vec<Pid>> {
    let mut dir = Dir::openat(
        root,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut pids = Vec::with_capacity(1024);
    for entry in dir.iter() {
        let entry = entry?;
        if let Some(pid) = parse_pid(entry.file_name()) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

fn parse_pid(name: &CStr) -> Option<Pid> {
    let bytes = name.to_bytes();
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

fn open_pid_dir(root: &OwnedFd, pid: Pid) -> nix::Result<OwnedFd> {
    let name = pid.to_string();
    openat(
        root,
        name.as_str(),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Reads a whole (small) file relative to `dir` into `buf`.
fn read_file<Fd: AsFd>(dir: Fd, name: &CStr, buf: &mut Vec<u8>) -> nix::Result<()> {
    let fd = openat(dir, name, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        match nix::unistd::read(&fd, &mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

fn reason(e: Errno) -> String {
    match e {
        Errno::EACCES | Errno::EPERM => {
            "permission denied: run isolab as root (or as this process's user) to read it".into()
        }
        Errno::ENOENT | Errno::ESRCH => "the process exited while being read".into(),
        e => e.desc().to_string(),
    }
}

fn read_static(dir: &OwnedFd, comm: &str, buf: &mut Vec<u8>) -> StaticInfo {
    let mut unreadable = Vec::new();
    let cmdline = match read_file(dir, c"cmdline", buf) {
        Ok(()) => Some(split_cmdline(buf)),
        Err(e) => {
            unreadable.push(Unreadable {
                what: "cmdline",
                reason: reason(e),
            });
            None
        }
    };
    let (uid, nspid) = match read_file(dir, c"status", buf) {
        Ok(()) => parse_status(buf),
        Err(e) => {
            unreadable.push(Unreadable {
                what: "status",
                reason: reason(e),
            });
            (None, Vec::new())
        }
    };
    let mut ns = NsSet::default();
    let mut ns_error = None;
    for kind in NsKind::ALL {
        let path = format!("ns/{}", kind.proc_name());
        // stat follows the magic link to the namespace itself: its inode is
        // the namespace id, as `lsns` and `readlink` (`pid:[4026531836]`) show.
        match fstatat(dir, path.as_str(), nix::fcntl::AtFlags::empty()) {
            Ok(st) => ns.set(kind, Some(st.st_ino)),
            Err(Errno::ENOENT) => {} // this kernel lacks that kind
            Err(e) => ns_error = Some(e),
        }
    }
    if let Some(e) = ns_error {
        unreadable.push(Unreadable {
            what: "ns",
            reason: reason(e),
        });
    }
    let cgroups = match read_file(dir, c"cgroup", buf) {
        Ok(()) => parse_cgroup(&String::from_utf8_lossy(buf)),
        Err(e) => {
            unreadable.push(Unreadable {
                what: "cgroup",
                reason: reason(e),
            });
            Vec::new()
        }
    };
    let container = container::recognise(&cgroups);
    StaticInfo {
        comm: comm.to_string(),
        uid,
        cmdline,
        ns,
        nspid,
        cgroups,
        container,
        unreadable,
    }
}

fn split_cmdline(buf: &[u8]) -> Vec<String> {
    let trimmed = buf.strip_suffix(&[0]).unwrap_or(buf);
    if trimmed.is_empty() {
        return Vec::new();
    }
    trimmed
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The real uid and the NSpid list from /proc/PID/status.
pub fn parse_status(buf: &[u8]) -> (Option<u32>, Vec<Pid>) {
    let text = String::from_utf8_lossy(buf);
    let mut uid = None;
    let mut nspid = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Uid:") {
            uid = rest
                .split_ascii_whitespace()
                .next()
                .and_then(|u| u.parse().ok());
        } else if let Some(rest) = line.strip_prefix("NSpid:") {
            nspid = rest
                .split_ascii_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
        }
    }
    (uid, nspid)
}

/// Parses /proc/PID/cgroup: `hierarchy-id:controller,list:path` per line.
pub fn parse_cgroup(text: &str) -> Vec<CgroupLine> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let hierarchy = parts.next()?.parse().ok()?;
            let controllers = parts.next()?;
            let path = parts.next()?.to_string();
            Some(CgroupLine {
                hierarchy,
                controllers: controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                path,
            })
        })
        .collect()
}

fn boot_time(root: &OwnedFd) -> Option<u64> {
    let mut buf = Vec::new();
    read_file(root, c"stat", &mut buf).ok()?;
    String::from_utf8_lossy(&buf)
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
}

fn ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &[u8] = b"4242 (x) R 1 2 evil) S 17 4242 4242 34816 4242 4194560 100 0 0 0 250 50 0 0 20 -5 3 0 987654 1000000 321 18446744073709551615";

    #[test]
    fn stat_parses_from_the_last_paren() {
        let s = parse_stat(HOSTILE).expect("parses");
        assert_eq!(s.comm, "x) R 1 2 evil");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 17);
        assert_eq!(s.pgid, 4242);
        assert_eq!(s.sid, 4242);
        assert_eq!(s.tty_nr, 34816);
        assert_eq!(s.tpgid, 4242);
        assert_eq!(s.cpu_ticks, 300);
        assert_eq!(s.nice, -5);
        assert_eq!(s.threads, 3);
        assert_eq!(s.start_ticks, 987654);
        assert_eq!(s.rss_pages, 321);
    }

    #[test]
    fn stat_rejects_truncated_text() {
        assert!(parse_stat(b"12 (sh) S 1 12").is_none());
        assert!(parse_stat(b"garbage").is_none());
        assert!(parse_stat(b"").is_none());
    }

    #[test]
    fn tty_names_match_ps() {
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name(34816), "pts/0");
        assert_eq!(tty_name((136 << 8) | 5), "pts/5");
        assert_eq!(tty_name((4 << 8) | 1), "tty1");
        assert_eq!(tty_name((4 << 8) | 64), "ttyS0");
        // minor 256 on pts major 136 is encoded in the high minor bits.
        assert_eq!(tty_name((136 << 8) | (1 << 20)), "pts/256");
    }

    #[test]
    fn cgroup_lines_tell_v1_from_v2() {
        let lines =
            parse_cgroup("12:memory:/isolab/a\n1:name=systemd:/init.scope\n0::/user.slice\n");
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].controllers, vec!["memory"]);
        assert!(!lines[0].is_v2());
        assert_eq!(lines[1].controllers, vec!["name=systemd"]);
        assert!(lines[2].is_v2());
        assert_eq!(lines[2].path, "/user.slice");
    }

    #[test]
    fn status_gives_uid_and_nspid() {
        let (uid, nspid) =
            parse_status(b"Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nNSpid:\t4123\t1\n");
        assert_eq!(uid, Some(1000));
        assert_eq!(nspid, vec![4123, 1]);
    }

    #[test]
    fn cmdline_splits_on_nul() {
        assert_eq!(split_cmdline(b"sleep\x0010\x00"), vec!["sleep", "10"]);
        assert!(split_cmdline(b"").is_empty());
    }
}
