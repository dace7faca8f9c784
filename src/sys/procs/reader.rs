//! [`ProcReader`]: snapshots of every process, refreshed in place. The hot
//! path (one pread of a kept-open stat file per known process) lives here;
//! it is benchmarked against the kernel's floor (BENCHMARKS.md).

use super::facts::{FactsPlan, RawFacts, read_facts, read_stat_in};
use super::io::{
    KeptStat, Read, boot_clock_ticks, boot_time, open_pid_dir, page_size, pid_path, pread_whole,
    read_at, release_free_memory, ticks_per_sec,
};
use super::model::{CgroupLines, Facts, Pid, ProcError, ProcFile, Process, Snapshot};
use super::parse::{
    Stat, StatNumbers, parse_cgroups, parse_stat, parse_stat_parts, tty_cow, tty_name,
};
use super::pids;
use crate::sys::container::Container;
use crate::sys::ns::NsKind;
use anyhow::Context;
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

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
    /// Its facts are being re-read: they are kept if it began to exit
    /// meanwhile (see `FreshRead::exiting`).
    was_known: bool,
}

/// What a worker read of one [`Fresh`] process.
struct FreshRead {
    facts: RawFacts,
    /// The stat the worker read itself, and its file if kept open (within
    /// the shared budget: a worker never holds more fds than it may keep).
    stat: Option<(Stat, Option<KeptStat>)>,
    /// A re-read process had begun to exit by the end of the read. The
    /// kernel then shows a dying task in the root of every v1 hierarchy
    /// (and drops its namespaces), so what was read is not what it was:
    /// the facts known before are kept (the OOM killer's victim must still
    /// name the cgroup it died in).
    exiting: bool,
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
    // One more stat read, only for re-reads (a few per refresh, never the
    // first read of a big host).
    let exiting = fresh.was_known
        && read_stat_in(dir.as_fd(), fresh.pid, buf).is_none_or(|(s, _)| s.is_exiting());
    Some(FreshRead {
        facts,
        stat,
        exiting,
    })
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
                    was_known: false,
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
            // Never once it is exiting: the kernel has already moved a dying
            // task to the root cgroups and dropped its namespaces, and the
            // facts it had (which cgroup the OOM killer emptied) are the news.
            let reread = (young
                || (generation + pid as u64).is_multiple_of(ROTATION)
                || self.focus == Some(pid))
                && !numbers.is_exiting();
            // An exec (or a rename) changes comm: the facts are stale then.
            let was_known = known.is_some();
            let cached = known.filter(|k| !reread && k.facts.comm.as_bytes() == comm);
            let Some(k) = cached else {
                let mut stat = numbers.into_stat(comm);
                stat.pid = pid;
                fresh.push(Fresh {
                    pid,
                    cpu_percent,
                    stat: Some(stat),
                    was_known,
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
                exiting,
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
            let before = self
                .known
                .get(&f.pid)
                .filter(|k| exiting && k.start_ticks == stat.start_ticks)
                .map(|k| k.facts.clone());
            let facts = match before {
                Some(facts) => facts,
                None => {
                    let (cgroups, container) = match facts.cgroup.take() {
                        Some(text) => self.cgroup_set(text),
                        None => (CgroupLines::default(), None),
                    };
                    let comm = std::mem::take(&mut stat.comm);
                    Arc::new(facts.into_facts(comm, cgroups, container))
                }
            };
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

/// The process to compare namespaces against when none is named: PID 1, or
/// — when PID 1's namespace links cannot be read (a PID 1 with capabilities
/// we lack refuses them even to root) — the reading process itself, which
/// normally lives in the host's namespaces too. The note says which and why.
pub fn reference_process(root: &Path) -> Result<(Process, Option<String>), ProcError> {
    let init = read_process(root, 1)?;
    let Some(refused) = init
        .facts
        .unreadable
        .iter()
        .find(|u| u.what == ProcFile::Ns)
    else {
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
