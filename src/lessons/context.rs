//! What a lesson check can ask of the system. The evaluator sees only this
//! trait: [`LiveContext`] answers from the real kernel (one snapshot per
//! evaluation), [`FixtureContext`] from plain values in tests.

use crate::sys::cgroup::{self, MemoryHierarchy};
use crate::sys::ns::{NsKind, NsSet};
use crate::sys::procs::{self, Pid, ProcReader, Process};
use crate::sys::rootfs::ProcRoot;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One process, reduced to what checks look at.
#[derive(Clone, Debug, Default)]
pub struct ProcessView {
    pub pid: Pid,
    pub ppid: Pid,
    pub uid: Option<u32>,
    pub comm: String,
    pub cmdline: Option<Vec<String>>,
    pub state: char,
    pub ns: NsSet,
    pub nspid: Vec<Pid>,
    /// The path column of each /proc/PID/cgroup line.
    pub cgroup_paths: Vec<String>,
    /// `runtime:short-id` when the process belongs to a recognised container.
    pub container: Option<String>,
}

impl From<&Process> for ProcessView {
    fn from(p: &Process) -> Self {
        ProcessView {
            pid: p.pid,
            ppid: p.ppid,
            uid: p.facts.uid,
            comm: p.facts.comm.clone(),
            cmdline: p.facts.cmdline.clone(),
            state: p.state,
            ns: p.facts.ns,
            nspid: p.facts.nspid.clone(),
            cgroup_paths: p.facts.cgroups.iter().map(|c| c.path.clone()).collect(),
            container: p
                .facts
                .container
                .as_ref()
                .map(|c| format!("{:?}:{}", c.runtime, c.short_id()).to_lowercase()),
        }
    }
}

/// The memory cgroup of a process, as far as checks need it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryFacts {
    /// `None`: no limit.
    pub limit: Option<u64>,
    pub usage: u64,
    pub oom_kills: u64,
}

pub trait Context {
    fn processes(&self) -> &[ProcessView];
    /// The process standing for the host (PID 1, or isolab itself).
    fn host(&self) -> Option<&ProcessView>;
    /// The hostname in PID's UTS namespace.
    fn hostname(&self, pid: Pid) -> Option<String>;
    /// Whether `path` (as PID sees it) exists inside PID's root.
    fn file_exists(&self, pid: Pid, path: &str) -> bool;
    /// The text of `path` inside PID's root (first 64 KiB).
    fn read_file(&self, pid: Pid, path: &str) -> Option<String>;
    fn memory(&self, pid: Pid) -> Option<MemoryFacts>;
}

/// The real kernel, read once when built.
pub struct LiveContext {
    proc_root: PathBuf,
    procs: Vec<ProcessView>,
    host_index: Option<usize>,
    /// Hostnames by UTS namespace id: one setns per namespace per snapshot.
    hostnames: RefCell<HashMap<u64, Option<String>>>,
    /// Process roots opened so far in this snapshot (`None`: cannot open).
    roots: RefCell<HashMap<Pid, Option<ProcRoot>>>,
    memory: Option<MemoryHierarchy>,
}

/// How much of a file a check reads (`read_file`).
const READ_LIMIT: usize = 64 * 1024;

impl LiveContext {
    pub fn read(proc_root: &Path) -> anyhow::Result<Self> {
        let mut reader = ProcReader::new(proc_root)?;
        Self::from_reader(&mut reader)
    }

    /// Reuses a reader (and its caches) across evaluations.
    pub fn from_reader(reader: &mut ProcReader) -> anyhow::Result<Self> {
        let proc_root = reader.root().to_path_buf();
        let snapshot = reader.snapshot()?;
        let mut procs: Vec<ProcessView> = snapshot.procs.iter().map(ProcessView::from).collect();
        let host_index = match procs::host_reference(&proc_root) {
            Some((host, _)) => match procs.iter().position(|p| p.pid == host.pid) {
                Some(i) => Some(i),
                None => {
                    procs.push(ProcessView::from(&host));
                    Some(procs.len() - 1)
                }
            },
            None => None,
        };
        Ok(LiveContext {
            proc_root,
            procs,
            host_index,
            hostnames: RefCell::new(HashMap::new()),
            roots: RefCell::new(HashMap::new()),
            memory: MemoryHierarchy::detect().ok(),
        })
    }

    /// PID's root, opened once per snapshot (see [`ProcRoot`]: every path
    /// is resolved inside it with openat2, RESOLVE_IN_ROOT).
    fn with_root<T>(&self, pid: Pid, f: impl FnOnce(&ProcRoot) -> Option<T>) -> Option<T> {
        let mut roots = self.roots.borrow_mut();
        let root = roots
            .entry(pid)
            .or_insert_with(|| ProcRoot::open(&self.proc_root, pid).ok());
        f(root.as_ref()?)
    }
}

impl Context for LiveContext {
    fn processes(&self) -> &[ProcessView] {
        &self.procs
    }
    fn host(&self) -> Option<&ProcessView> {
        self.host_index.map(|i| &self.procs[i])
    }
    fn hostname(&self, pid: Pid) -> Option<String> {
        let proc_view = self.procs.iter().find(|p| p.pid == pid)?;
        let uts = proc_view.ns.get(NsKind::Uts)?;
        if let Some(known) = self.hostnames.borrow().get(&uts) {
            return known.clone();
        }
        let ns_dir = self.proc_root.join(pid.to_string()).join("ns");
        let name = crate::sys::ns::hostname_in(ns_dir);
        self.hostnames.borrow_mut().insert(uts, name.clone());
        name
    }
    fn file_exists(&self, pid: Pid, path: &str) -> bool {
        self.with_root(pid, |root| root.stat(path).ok()).is_some()
    }
    fn read_file(&self, pid: Pid, path: &str) -> Option<String> {
        // ProcRoot::read_file reads only a regular file (a FIFO would wait
        // for a writer forever, a device can have effects), O_NONBLOCK, at
        // most the limit. Text that is not UTF-8 is no answer, as before.
        let content = self.with_root(pid, |root| root.read_file(path, READ_LIMIT).ok())?;
        String::from_utf8(content.bytes).ok()
    }
    fn memory(&self, pid: Pid) -> Option<MemoryFacts> {
        let hierarchy = self.memory.as_ref()?;
        let dir = cgroup::memory_dir_of(&self.proc_root, pid, hierarchy).ok()?;
        let stats = cgroup::read_memory(hierarchy.version, &dir).ok()?;
        Some(MemoryFacts {
            limit: match stats.limit {
                cgroup::Limit::Bytes(b) => Some(b),
                cgroup::Limit::Max => None,
            },
            usage: stats.usage,
            oom_kills: stats.oom_kills.unwrap_or(0),
        })
    }
}

/// Plain values for tests: processes, hostnames, files and memory by PID.
#[derive(Clone, Debug, Default)]
pub struct FixtureContext {
    pub procs: Vec<ProcessView>,
    pub host_pid: Pid,
    pub hostnames: HashMap<Pid, String>,
    pub files: HashMap<(Pid, String), String>,
    pub memory: HashMap<Pid, MemoryFacts>,
}

impl Context for FixtureContext {
    fn processes(&self) -> &[ProcessView] {
        &self.procs
    }
    fn host(&self) -> Option<&ProcessView> {
        self.procs.iter().find(|p| p.pid == self.host_pid)
    }
    fn hostname(&self, pid: Pid) -> Option<String> {
        self.hostnames.get(&pid).cloned()
    }
    fn file_exists(&self, pid: Pid, path: &str) -> bool {
        self.files.contains_key(&(pid, path.to_string()))
    }
    fn read_file(&self, pid: Pid, path: &str) -> Option<String> {
        self.files.get(&(pid, path.to_string())).cloned()
    }
    fn memory(&self, pid: Pid) -> Option<MemoryFacts> {
        self.memory.get(&pid).copied()
    }
}
