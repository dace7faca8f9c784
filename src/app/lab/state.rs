//! The Lab's state: the checklist (namespaces and options), the plan it
//! describes, what the worker reported of the spawn (step reports, the
//! child, the inside-vs-outside table). The spawner itself lives on the
//! worker thread (`worker.rs`): starting, stepping, comparing and stopping
//! are jobs sent to it, and `pump` applies its answers. No key handling
//! here (that is `mod.rs`), no drawing (`view.rs`).

use super::worker::{ChildView, Job, LabWorker, News, Seen};
use crate::sys::cgroup::{Limit, parse_size};
use crate::sys::inside::CompareRow;
use crate::sys::ns::NsKind;
use crate::sys::spawn::{self, ChildCommand, ExitOutcome, Plan, RootFs, Step, StepReport};
use std::time::{Duration, Instant};

/// One line of the checklist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    Ns(NsKind),
    Hostname,
    RootFs,
    Memory,
    Command,
}

pub const ROWS: [Row; 12] = [
    Row::Ns(NsKind::Pid),
    Row::Ns(NsKind::Mnt),
    Row::Ns(NsKind::Net),
    Row::Ns(NsKind::Ipc),
    Row::Ns(NsKind::Uts),
    Row::Ns(NsKind::User),
    Row::Ns(NsKind::Cgroup),
    Row::Ns(NsKind::Time),
    Row::Hostname,
    Row::RootFs,
    Row::Memory,
    Row::Command,
];

impl Row {
    pub fn label(self) -> &'static str {
        match self {
            Row::Ns(k) => k.proc_name(),
            Row::Hostname => "hostname",
            Row::RootFs => "root fs",
            Row::Memory => "memory",
            Row::Command => "command",
        }
    }
}

pub struct LabState {
    pub namespaces: Vec<NsKind>,
    pub hostname: String,
    pub rootfs: String,
    pub memory: String,
    /// Empty: isolab's own init (reaps, waits until stopped).
    pub command: String,
    pub cursor: usize,
    /// The option being edited and its text so far.
    pub editing: Option<String>,
    pub show_long: bool,
    /// The spawned child as the worker last reported it.
    pub child: Option<ChildView>,
    /// A start was asked and not answered yet.
    pub starting: bool,
    pub reports: Vec<StepReport>,
    pub compare: Vec<CompareRow>,
    pub exited: Option<ExitOutcome>,
    /// A line for the user: (is_error, text).
    pub message: Option<(bool, String)>,
    /// Not root: the Lab suggests a user namespace first.
    pub rootless: bool,
    /// The link to the worker thread that owns the spawner.
    pub jobs: Jobs,
}

/// The Lab's link to its worker: the thread (started with the first job:
/// none for a Lab never used), the jobs not answered yet, and the
/// generation (bumped by a stop: answers about a stopped child are
/// dropped).
#[derive(Debug, Default)]
pub struct Jobs {
    /// Given to the worker: it wakes the main loop with every answer
    /// (the screen sets it from `Shared` when it is entered or used).
    pub waker: crate::app::events::Waker,
    worker: Option<LabWorker>,
    pending: usize,
    generation: u64,
}

impl Default for LabState {
    fn default() -> Self {
        LabState {
            namespaces: Vec::new(),
            hostname: "lab".into(),
            rootfs: "host".into(),
            memory: String::new(),
            command: String::new(),
            cursor: 0,
            editing: None,
            show_long: false,
            child: None,
            starting: false,
            reports: Vec::new(),
            compare: Vec::new(),
            exited: None,
            message: None,
            rootless: !nix::unistd::geteuid().is_root(),
            jobs: Jobs::default(),
        }
    }
}

impl LabState {
    pub fn row(&self) -> Row {
        ROWS[self.cursor.min(ROWS.len() - 1)]
    }

    /// A child was spawned (or its start asked for).
    pub fn spawned(&self) -> bool {
        self.child.is_some() || self.starting
    }

    /// Whether a job is still being worked on.
    pub fn is_busy(&self) -> bool {
        self.jobs.pending > 0
    }

    /// The plan the checklist describes (an error names the bad option).
    pub fn plan(&self) -> Result<Plan, String> {
        let mut plan = Plan {
            // The terminal belongs to the TUI; `e` gives a shell inside.
            null_stdio: true,
            rootfs: RootFs::parse(self.rootfs.trim()),
            command: if self.command.trim().is_empty() {
                ChildCommand::Init
            } else {
                ChildCommand::Exec(self.command.split_whitespace().map(String::from).collect())
            },
            ..Plan::default()
        };
        for &k in &self.namespaces {
            plan.set(k, true);
        }
        if plan.has(NsKind::Uts) && !self.hostname.trim().is_empty() {
            plan.hostname = Some(self.hostname.trim().to_string());
        }
        if !self.memory.trim().is_empty() {
            match parse_size(self.memory.trim()) {
                Ok(Limit::Bytes(b)) => plan.memory_bytes = Some(b),
                Ok(Limit::Max) => {}
                Err(e) => return Err(format!("memory: {e}")),
            }
        }
        plan.normalize();
        Ok(plan)
    }

    /// The steps to show: done ones from the reports, the rest as planned.
    pub fn steps(&self) -> Vec<Step> {
        match (&self.child, self.plan()) {
            (Some(c), _) => c.steps.clone(),
            (None, Ok(plan)) => spawn::steps(&plan),
            (None, Err(_)) => Vec::new(),
        }
    }

    pub(super) fn say(&mut self, error: bool, text: impl Into<String>) {
        self.message = Some((error, text.into()));
    }

    pub(super) fn toggle_or_edit(&mut self) {
        match self.row() {
            Row::Ns(k) => {
                if let Some(pos) = self.namespaces.iter().position(|&n| n == k) {
                    self.namespaces.remove(pos);
                } else {
                    self.namespaces.push(k);
                }
            }
            Row::Hostname => self.editing = Some(self.hostname.clone()),
            Row::RootFs => self.editing = Some(self.rootfs.clone()),
            Row::Memory => self.editing = Some(self.memory.clone()),
            Row::Command => self.editing = Some(self.command.clone()),
        }
    }

    pub(super) fn set_option(&mut self, value: String) {
        match self.row() {
            Row::Hostname => self.hostname = value,
            Row::RootFs => {
                self.rootfs = if value.trim().is_empty() {
                    "host".into()
                } else {
                    value
                }
            }
            Row::Memory => self.memory = value,
            Row::Command => self.command = value,
            Row::Ns(_) => {}
        }
        if let Err(e) = self.plan().and_then(|p| p.validate()) {
            self.say(true, e);
        }
    }

    /// Hands `job` to the worker (started on first use).
    fn send(&mut self, job: Job) {
        if self.jobs.worker.is_none() {
            match LabWorker::start(self.jobs.waker.clone()) {
                Ok(w) => self.jobs.worker = Some(w),
                Err(e) => return self.say(true, format!("cannot start the Lab's thread: {e}")),
            }
        }
        if let Some(w) = &self.jobs.worker {
            w.send(self.jobs.generation, job);
            self.jobs.pending += 1;
        }
    }

    /// Fork the setup process: step 1 done, the child waits for the next.
    /// The fork runs on the worker; its report comes through `pump`.
    pub fn start(&mut self) {
        if self.spawned() {
            return;
        }
        let plan = match self.plan() {
            Ok(p) => p,
            Err(e) => return self.say(true, e),
        };
        self.starting = true;
        self.send(Job::Start(Box::new(plan)));
    }

    pub fn next_step(&mut self) {
        if self.spawned() {
            self.send(Job::NextStep);
        }
    }

    pub fn run_rest(&mut self) {
        if self.spawned() {
            self.send(Job::RunRest);
        }
    }

    fn after_spawn(&mut self) {
        if let Some(pid) = self.child_pid() {
            self.say(
                false,
                format!("child runs as PID {pid}: e enters it, x stops it and removes everything"),
            );
        }
    }

    pub fn child_pid(&self) -> Option<i32> {
        self.child.as_ref().and_then(|c| c.pid)
    }

    /// Re-read the inside-vs-outside table (and notice a child that ended).
    pub fn refresh_compare(&mut self) {
        if self.spawned() {
            self.send(Job::Compare);
        }
    }

    /// Kill the child and remove everything created for it (on the
    /// worker; it says so when done).
    pub fn stop(&mut self) {
        if self.spawned() {
            self.send(Job::Stop);
        }
        self.jobs.generation += 1;
        self.child = None;
        self.starting = false;
        self.reports.clear();
        self.compare.clear();
        self.exited = None;
    }

    /// Applies what the worker has answered; true when anything changed.
    /// Never blocks.
    pub fn pump(&mut self) -> bool {
        let mut changed = false;
        while let Some((generation, news)) = self.jobs.worker.as_ref().and_then(|w| w.try_news()) {
            self.apply(generation, news);
            changed = true;
        }
        changed
    }

    /// Waits (bounded) until every job sent has been answered, applying
    /// the answers; for tests. False if the worker did not finish in time.
    pub fn wait_idle(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.jobs.pending > 0 {
            let Some((generation, news)) = self
                .jobs
                .worker
                .as_ref()
                .and_then(|w| w.news_until(deadline))
            else {
                return false;
            };
            self.apply(generation, news);
        }
        true
    }

    fn apply(&mut self, generation: u64, news: News) {
        self.jobs.pending = self.jobs.pending.saturating_sub(1);
        if let News::Stopped(had_child) = news {
            if had_child {
                self.say(
                    false,
                    "child stopped; its namespaces, cgroup and record are gone",
                );
            }
            return;
        }
        if generation != self.jobs.generation {
            return; // about a child stopped since
        }
        match news {
            News::Started(Ok((first, view))) => {
                self.starting = false;
                self.reports = vec![first];
                self.compare.clear();
                self.exited = None;
                self.child = Some(view);
                self.say(false, "setup process forked: Space/Enter for the next step");
            }
            News::Started(Err(e)) => {
                self.starting = false;
                self.say(true, e);
            }
            News::Step(Some((report, view, seen))) => {
                let failed = report.outcome.as_ref().err().cloned();
                self.reports.push(report);
                let running = view.running;
                self.child = Some(view);
                self.see(seen);
                if let Some(e) = failed {
                    self.say(true, format!("step failed: {e}"));
                } else if running {
                    self.after_spawn();
                }
            }
            News::Step(None) => self.say(false, "all steps done"),
            News::Rest(new, result, view, seen) => {
                self.reports.extend(new);
                self.child = Some(view);
                match result {
                    Err(e) => self.say(true, format!("step failed: {e}")),
                    Ok(()) => {
                        self.see(seen);
                        self.after_spawn();
                    }
                }
            }
            News::Compared(seen) => self.see(seen),
            News::Stopped(_) | News::Idle => {}
        }
    }

    /// What a refresh of the comparison found.
    fn see(&mut self, seen: Seen) {
        match seen {
            Seen::Nothing => {}
            Seen::Rows(rows) => self.compare = rows,
            Seen::Exited(outcome) => {
                self.exited = Some(outcome);
                self.compare.clear();
            }
        }
    }
}
