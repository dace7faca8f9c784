//! The Memory screen's state: the selected process's cgroups and memory
//! numbers, a bounded history of usage against the limit (the graph), OOM
//! kills as events on it, the limit editor with its confirmation, and a
//! memory hog isolab starts inside an isolab cgroup to show the OOM kill.
//!
//! The kernel work (sampling the cgroup, writing a limit, which may first
//! have the kernel reclaim) runs on the screen's own worker thread, so a
//! slow cgroup never freezes the keys; the event loop hands it the target
//! and picks up its answers in `pump`. Only starting the hog (a fork) runs
//! on the UI thread. Everything `view.rs` draws is plain data here; the
//! keys that change it are in `mod.rs`.

use crate::sys::cgroup::{
    self, CgroupMounts, CgroupReport, CgroupVersion, Limit, LimitOutcome, MemoryStats, OwnedCgroup,
    human_bytes, parse_size,
};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// How often the screen samples the cgroup (cheap: a few small files).
pub const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// The graph's window: the last five minutes.
pub const WINDOW_SECS: f64 = 300.0;
/// Samples kept: the window at SAMPLE_EVERY, and not one more.
pub const HISTORY_CAPACITY: usize = 1200;
/// OOM events kept for the graph.
pub const EVENTS_CAPACITY: usize = 64;
/// The limit of the cgroup isolab creates for a hog when the selected
/// process is not in an isolab cgroup (never touch someone else's).
pub const HOG_LIMIT: u64 = 32 << 20;
pub const HOG_RATE: &str = "16M/s";

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Seconds since the screen started sampling.
    pub at: f64,
    pub usage: u64,
    /// None when unlimited.
    pub limit: Option<u64>,
}

/// A ring buffer: pushing beyond the capacity drops the oldest.
#[derive(Clone, Debug)]
pub struct History<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T> History<T> {
    pub fn new(capacity: usize) -> Self {
        History {
            items: VecDeque::with_capacity(capacity.min(4096)),
            capacity: capacity.max(1),
        }
    }

    pub fn push(&mut self, item: T) {
        if self.items.len() == self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn latest(&self) -> Option<&T> {
        self.items.back()
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// An OOM kill seen between two samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OomEvent {
    pub at: f64,
    /// Usage at the sample before the kill (where the graph marks it).
    pub usage: u64,
    /// The cgroup's OOM kill count after it.
    pub total: u64,
}

/// What the bottom of the screen is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum Dialog {
    None,
    /// Typing a new limit; `error` is the validation message, if any.
    EditLimit {
        text: String,
        error: Option<String>,
    },
    /// A valid limit for a cgroup isolab did not create: ask first.
    Confirm {
        limit: Limit,
        dir: PathBuf,
    },
}

/// A hog started from this screen.
pub struct HogRun {
    child: Child,
    pub pid: i32,
    pub dir: PathBuf,
    /// The cgroup made for it (None when it runs in an existing isolab cgroup).
    cgroup: Option<OwnedCgroup>,
    /// How it ended, once it has.
    pub ended: Option<String>,
}

impl Drop for HogRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // `cgroup` drops after this: members killed, directory removed.
    }
}

pub struct MemoryState {
    proc_root: PathBuf,
    mounts: Option<CgroupMounts>,
    pub pid: Option<i32>,
    pub comm: String,
    pub report: Option<CgroupReport>,
    /// The memory cgroup being graphed (kept when its process is gone).
    pub dir: Option<PathBuf>,
    pub stats: Option<MemoryStats>,
    pub error: Option<String>,
    pub history: History<Sample>,
    pub events: History<OomEvent>,
    last_oom_kills: Option<u64>,
    pub dialog: Dialog,
    /// The kernel's read-back or the refusal explained: (ok, text).
    pub message: Option<(bool, String)>,
    pub hog: Option<HogRun>,
    started: Instant,
    /// The kernel side, started when there is first something to watch.
    worker: Option<Worker>,
    /// What the worker was last told to watch; `None` to tell it again
    /// (and so to sample at once).
    watching: Option<(Option<i32>, Option<PathBuf>)>,
    /// Given to the worker: it wakes the main loop after each answer.
    pub waker: crate::app::events::Waker,
}

/// What the worker read for one target.
#[derive(Debug)]
enum Reading {
    /// The process is alive: its cgroups and memory numbers.
    Report(Result<CgroupReport, String>),
    /// The process is gone: the numbers of the cgroup graphed so far, or
    /// why there are none.
    Graphed(Result<MemoryStats, String>),
    /// The process is gone and no cgroup was graphed: nothing to read.
    Nothing,
}

/// Asked of the worker.
enum Ask {
    /// Sample this process (else this cgroup) now and every SAMPLE_EVERY.
    Watch(Option<i32>, Option<PathBuf>),
    /// Write a memory limit (then sample at once).
    SetLimit(CgroupVersion, PathBuf, Limit),
}

/// Answered by the worker.
enum Answer {
    /// The cgroup mounts, once (`None`: mountinfo could not be read).
    Mounts(Option<CgroupMounts>),
    /// A sample for the process it was taken for.
    Sampled(Option<i32>, Box<Reading>),
    Limit(Result<LimitOutcome, String>),
}

/// The Memory screen's thread: all its reads and writes of cgroup files.
struct Worker {
    ask: Sender<Ask>,
    answers: Receiver<Answer>,
}

impl Worker {
    fn start(proc_root: PathBuf, waker: crate::app::events::Waker) -> Option<Worker> {
        let (ask, asked) = mpsc::channel::<Ask>();
        let (tx, answers) = mpsc::channel::<Answer>();
        std::thread::Builder::new()
            .name("isolab-memory".into())
            .spawn(move || {
                let answer = Answering { tx, waker };
                let mounts = CgroupMounts::of_self().ok();
                if answer.send(Answer::Mounts(mounts.clone())).is_err() {
                    return;
                }
                let mut target = None;
                loop {
                    match asked.recv_timeout(SAMPLE_EVERY) {
                        Ok(Ask::Watch(pid, dir)) => target = Some((pid, dir)),
                        Ok(Ask::SetLimit(version, dir, limit)) => {
                            let outcome = cgroup::set_memory_limit(version, &dir, limit)
                                .map_err(|e| e.to_string());
                            if answer.send(Answer::Limit(outcome)).is_err() {
                                return;
                            }
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        // The screen is gone.
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                    let Some((pid, dir)) = &target else { continue };
                    let reading = read_target(&proc_root, mounts.as_ref(), *pid, dir.as_deref());
                    if answer
                        .send(Answer::Sampled(*pid, Box::new(reading)))
                        .is_err()
                    {
                        return;
                    }
                }
            })
            .ok()
            .map(|_| Worker { ask, answers })
    }
}

/// The worker's side of the answers channel: each answer wakes the main
/// loop, which then polls the screen.
struct Answering {
    tx: Sender<Answer>,
    waker: crate::app::events::Waker,
}

impl Answering {
    fn send(&self, a: Answer) -> Result<(), mpsc::SendError<Answer>> {
        self.tx.send(a)?;
        self.waker.wake();
        Ok(())
    }
}

/// Reads the kernel for a target: the process's cgroup report while it
/// lives, else the numbers of the cgroup graphed so far (a hog's cgroup
/// after the OOM kill).
fn read_target(
    proc_root: &Path,
    mounts: Option<&CgroupMounts>,
    pid: Option<i32>,
    dir: Option<&Path>,
) -> Reading {
    let Some(mounts) = mounts else {
        return Reading::Report(Err("cannot read /proc/self/mountinfo".to_string()));
    };
    if let Some(pid) = pid {
        let report = cgroup::report(proc_root, pid, mounts);
        // Checked after reading: a process gone meanwhile, or exiting (its
        // cgroup file already names the root: a hog the OOM killer is
        // taking), is graphed by its cgroup instead.
        if !crate::sys::procs::is_exiting(proc_root, pid) {
            return Reading::Report(report.map_err(|e| format!("{e:#}")));
        }
    }
    match (dir, mounts.memory_hierarchy()) {
        (Some(dir), Some(h)) => Reading::Graphed(
            cgroup::read_memory(h.version, dir).map_err(|_| format!("{} is gone", dir.display())),
        ),
        _ => Reading::Nothing,
    }
}

impl MemoryState {
    pub fn new(proc_root: impl Into<PathBuf>) -> MemoryState {
        MemoryState {
            proc_root: proc_root.into(),
            // Read on the first sample: the tab may never be opened.
            mounts: None,
            pid: None,
            comm: String::new(),
            report: None,
            dir: None,
            stats: None,
            error: None,
            history: History::new(HISTORY_CAPACITY),
            events: History::new(EVENTS_CAPACITY),
            last_oom_kills: None,
            dialog: Dialog::None,
            message: None,
            hog: None,
            started: Instant::now(),
            worker: None,
            watching: None,
            waker: Default::default(),
        }
    }

    /// Seconds since sampling started (the graph's time axis).
    pub fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Shows `pid` (the process selected on the Processes screen).
    pub fn show(&mut self, pid: i32, comm: &str) {
        if self.pid != Some(pid) {
            self.pid = Some(pid);
            self.comm = comm.to_string();
            self.report = None;
            self.watching = None;
        }
    }

    /// Keeps the worker watching the current target and applies what it
    /// answered. Called on every turn of the event loop; never blocks.
    /// Returns whether anything changed.
    pub fn pump(&mut self) -> bool {
        let mut changed = self.poll_hog();
        if self.pid.is_none() && self.dir.is_none() {
            return changed; // the tab was never entered
        }
        let target = (self.pid, self.dir.clone());
        if self.watching.as_ref() != Some(&target) {
            let Some(w) = self.worker() else {
                return true;
            };
            if w.ask.send(Ask::Watch(target.0, target.1.clone())).is_ok() {
                self.watching = Some(target);
            }
        }
        while let Some(answer) = self.worker.as_ref().and_then(|w| w.answers.try_recv().ok()) {
            changed = true;
            match answer {
                Answer::Mounts(m) => self.mounts = m,
                // A sample of a process no longer shown is dropped.
                Answer::Sampled(pid, reading) if pid == self.pid => self.apply(*reading),
                Answer::Sampled(..) => {}
                Answer::Limit(outcome) => self.limit_written(outcome),
            }
        }
        changed
    }

    /// The worker, started on first use; `None` (and the reason in
    /// `error`) when no thread could be started.
    fn worker(&mut self) -> Option<&Worker> {
        if self.worker.is_none() {
            self.worker = Worker::start(self.proc_root.clone(), self.waker.clone());
            if self.worker.is_none() {
                self.error = Some("cannot start the memory sampling thread".to_string());
            }
        }
        self.worker.as_ref()
    }

    /// Takes one sample into the state.
    fn apply(&mut self, reading: Reading) {
        match reading {
            Reading::Report(Ok(r)) => {
                let dir = r.memory.as_ref().map(|m| m.dir.clone());
                if dir != self.dir {
                    self.set_dir(dir);
                }
                let stats = r.memory.as_ref().and_then(|m| m.stats.clone());
                self.error = r.memory.as_ref().and_then(|m| m.unavailable.clone());
                self.report = Some(r);
                if let Some(s) = stats {
                    let at = self.now();
                    self.record(at, s);
                }
            }
            Reading::Graphed(Ok(s)) => {
                let at = self.now();
                self.record(at, s);
            }
            Reading::Report(Err(e)) | Reading::Graphed(Err(e)) => self.error = Some(e),
            Reading::Nothing => {}
        }
    }

    fn set_dir(&mut self, dir: Option<PathBuf>) {
        self.dir = dir;
        self.history.clear();
        self.events.clear();
        self.last_oom_kills = None;
    }

    /// Adds one sample; an increase of the OOM kill count becomes an event.
    pub fn record(&mut self, at: f64, stats: MemoryStats) {
        let kills = stats.oom_kills.unwrap_or(0);
        if let Some(before) = self.last_oom_kills
            && kills > before
        {
            let usage = self
                .history
                .latest()
                .map(|s| s.usage)
                .unwrap_or(stats.usage);
            self.events.push(OomEvent {
                at,
                usage,
                total: kills,
            });
        }
        self.last_oom_kills = Some(kills);
        self.history.push(Sample {
            at,
            usage: stats.usage,
            limit: stats.limit.bytes(),
        });
        self.stats = Some(stats);
    }

    /// Whether the graphed cgroup is one isolab created.
    pub fn created_by_isolab(&self) -> bool {
        self.report
            .as_ref()
            .and_then(|r| r.memory.as_ref())
            .is_some_and(|m| m.created_by_isolab)
            || self
                .hog
                .as_ref()
                .is_some_and(|h| Some(&h.dir) == self.dir.as_ref())
    }

    pub fn submit_limit(&mut self, text: &str) {
        let limit = match parse_size(text) {
            Ok(l) => l,
            Err(e) => {
                self.dialog = Dialog::EditLimit {
                    text: text.to_string(),
                    error: Some(e.to_string()),
                };
                return;
            }
        };
        let Some(dir) = self.dir.clone() else {
            self.dialog = Dialog::None;
            return;
        };
        if self
            .mounts
            .as_ref()
            .and_then(|m| m.memory_hierarchy())
            .is_some_and(|h| h.mount == dir)
        {
            self.dialog = Dialog::None;
            self.message = Some((
                false,
                "the root cgroup has no limit of its own: select a process in a cgroup below it"
                    .to_string(),
            ));
            return;
        }
        if self.created_by_isolab() {
            self.dialog = Dialog::None;
            self.apply_limit(limit);
        } else {
            self.dialog = Dialog::Confirm { limit, dir };
        }
    }

    /// Has the worker write the limit (the kernel may reclaim first, which
    /// takes a while); `limit_written` shows the read-back or the refusal.
    pub fn apply_limit(&mut self, limit: Limit) {
        let (Some(dir), Some(h)) = (
            self.dir.clone(),
            self.mounts.as_ref().and_then(|m| m.memory_hierarchy()),
        ) else {
            return;
        };
        let sent = self.worker().is_some_and(|w| {
            w.ask
                .send(Ask::SetLimit(h.version, dir.clone(), limit))
                .is_ok()
        });
        self.message = Some(if sent {
            (true, format!("writing the limit of {}…", dir.display()))
        } else {
            (
                false,
                "cannot write the limit: the memory thread is not running".into(),
            )
        });
    }

    /// Shows the kernel's read-back of a limit write, or why it refused.
    fn limit_written(&mut self, outcome: Result<LimitOutcome, String>) {
        self.message = Some(match outcome {
            Ok(out) => {
                let back = match out.read_back {
                    Limit::Bytes(b) => format!("{b} ({})", human_bytes(b)),
                    Limit::Max => "max".to_string(),
                };
                let mut text = format!(
                    "wrote {} to {}; the kernel reads back {back}",
                    out.written,
                    out.file
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default()
                );
                for note in &out.notes {
                    text.push_str(" · ");
                    text.push_str(note);
                }
                (true, text)
            }
            Err(e) => (false, e),
        });
        self.watching = None; // sample the new limit at once
    }

    /// Starts `isolab hog` inside the graphed cgroup if isolab created it,
    /// else inside a fresh isolab cgroup with a 32 MiB limit.
    pub fn start_hog(&mut self) {
        if self.hog.as_ref().is_some_and(|h| h.ended.is_none()) {
            self.message = Some((false, "a hog is already running (K stops it)".into()));
            return;
        }
        self.hog = None;
        match self.spawn_hog() {
            Ok(run) => {
                self.message = Some((
                    true,
                    format!(
                        "hog {} allocating {HOG_RATE} in {}",
                        run.pid,
                        run.dir.display()
                    ),
                ));
                if run.cgroup.is_some() {
                    // Graph the hog's own cgroup.
                    self.pid = Some(run.pid);
                    self.comm = "isolab hog".to_string();
                    self.set_dir(Some(run.dir.clone()));
                }
                self.hog = Some(run);
                self.watching = None;
            }
            Err(e) => self.message = Some((false, format!("cannot start the hog: {e:#}"))),
        }
    }

    fn spawn_hog(&self) -> anyhow::Result<HogRun> {
        let (dir, cgroup) = match &self.dir {
            Some(dir) if self.created_by_isolab() => (dir.clone(), None),
            _ => {
                let cg = OwnedCgroup::create("hog", Some(Limit::Bytes(HOG_LIMIT)))?;
                (cg.path().to_path_buf(), Some(cg))
            }
        };
        let exe = std::env::current_exe()?;
        let child = spawn_in_cgroup(&dir, &exe, &["hog", "--rate", HOG_RATE, "--max", "1G"])?;
        Ok(HogRun {
            pid: child.id() as i32,
            child,
            dir,
            cgroup,
            ended: None,
        })
    }

    /// Notices the hog's end; true when it just ended.
    fn poll_hog(&mut self) -> bool {
        let Some(hog) = &mut self.hog else {
            return false;
        };
        if hog.ended.is_some() {
            return false;
        }
        if let Ok(Some(status)) = hog.child.try_wait() {
            use std::os::unix::process::ExitStatusExt;
            let how = match status.signal() {
                Some(9) => "killed by SIGKILL (the OOM killer)".to_string(),
                Some(sig) => format!("killed by signal {sig}"),
                None => format!("exited with {}", status.code().unwrap_or(-1)),
            };
            hog.ended = Some(how.clone());
            self.message = Some((false, format!("hog {} {how}", hog.pid)));
            return true;
        }
        false
    }
}

/// Starts `exe args` with the child already in the cgroup at `dir`: before
/// exec it writes "0" (meaning "me") to cgroup.procs, so no page is charged
/// elsewhere. Only open/write/close run between fork and exec.
fn spawn_in_cgroup(dir: &Path, exe: &Path, args: &[&str]) -> anyhow::Result<Child> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    let procs = std::ffi::CString::new(dir.join("cgroup.procs").as_os_str().as_bytes())?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the closure only calls async-signal-safe functions (open,
    // write, close through nix, which neither allocates nor locks for a
    // CStr path) on memory prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            use nix::fcntl::{OFlag, open};
            let fd = open(
                procs.as_c_str(),
                OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )?;
            match nix::unistd::write(&fd, b"0")? {
                1 => Ok(()),
                _ => Err(std::io::Error::other("short write to cgroup.procs")),
            }
        });
    }
    Ok(cmd.spawn()?)
}
