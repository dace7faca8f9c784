//! The Lab's state: the checklist (namespaces and options), the plan it
//! describes, the spawner and its step reports, the inside-vs-outside
//! table. No key handling here (that is `mod.rs`), no drawing (`view.rs`).

use crate::sys::cgroup::{Limit, parse_size};
use crate::sys::inside::{self, CompareRow};
use crate::sys::ns::NsKind;
use crate::sys::spawn::{self, ChildCommand, ExitOutcome, Plan, RootFs, Spawner, Step, StepReport};

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
    pub spawner: Option<Spawner>,
    pub reports: Vec<StepReport>,
    pub compare: Vec<CompareRow>,
    pub exited: Option<ExitOutcome>,
    /// A line for the user: (is_error, text).
    pub message: Option<(bool, String)>,
    /// Not root: the Lab suggests a user namespace first.
    pub rootless: bool,
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
            spawner: None,
            reports: Vec::new(),
            compare: Vec::new(),
            exited: None,
            message: None,
            // SAFETY: geteuid cannot fail.
            rootless: unsafe { libc::geteuid() } != 0,
        }
    }
}

impl LabState {
    pub fn row(&self) -> Row {
        ROWS[self.cursor.min(ROWS.len() - 1)]
    }

    pub fn spawned(&self) -> bool {
        self.spawner.is_some()
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
        match (&self.spawner, self.plan()) {
            (Some(s), _) => s.steps().to_vec(),
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

    /// Fork the setup process: step 1 done, the child waits for the next.
    pub fn start(&mut self) {
        if self.spawned() {
            return;
        }
        let plan = match self.plan() {
            Ok(p) => p,
            Err(e) => return self.say(true, e),
        };
        match Spawner::start(plan) {
            Ok(s) => {
                self.reports = vec![s.first_report()];
                self.compare.clear();
                self.exited = None;
                self.spawner = Some(s);
                self.say(false, "setup process forked: Space/Enter for the next step");
            }
            Err(e) => self.say(true, format!("{e:#}")),
        }
    }

    pub fn next_step(&mut self) {
        let Some(sp) = &mut self.spawner else {
            return;
        };
        match sp.next_step() {
            Some(report) => {
                let failed = report.outcome.as_ref().err().cloned();
                self.reports.push(report);
                if let Some(e) = failed {
                    self.say(true, format!("step failed: {e}"));
                } else if sp.is_running_command() {
                    self.after_spawn();
                } else if sp.child_pid().is_some() {
                    // Watch the difference grow step by step (e.g. a new PID
                    // namespace whose `ps` still shows the host until /proc).
                    self.refresh_compare();
                }
            }
            None => self.say(false, "all steps done"),
        }
    }

    pub fn run_rest(&mut self) {
        let Some(sp) = &mut self.spawner else {
            return;
        };
        let mut new = Vec::new();
        let result = sp.run_rest(|r| new.push(r.clone()));
        self.reports.extend(new);
        match result {
            Err(e) => self.say(true, format!("step failed: {e}")),
            Ok(()) => self.after_spawn(),
        }
    }

    fn after_spawn(&mut self) {
        self.refresh_compare();
        if let Some(pid) = self.child_pid() {
            self.say(
                false,
                format!("child runs as PID {pid}: e enters it, x stops it and removes everything"),
            );
        }
    }

    pub fn child_pid(&self) -> Option<i32> {
        self.spawner.as_ref().and_then(|s| s.child_pid())
    }

    /// Re-read the inside-vs-outside table (and notice a child that ended).
    pub fn refresh_compare(&mut self) {
        if let Some(sp) = &mut self.spawner
            && let Some(outcome) = sp.try_wait()
        {
            self.exited = Some(outcome);
            self.compare.clear();
            return;
        }
        if let Some(pid) = self.child_pid() {
            self.compare = inside::compare(pid);
        }
    }

    /// Kill the child and remove everything created for it.
    pub fn stop(&mut self) {
        if let Some(mut sp) = self.spawner.take() {
            sp.stop();
            self.say(
                false,
                "child stopped; its namespaces, cgroup and record are gone",
            );
        }
        self.reports.clear();
        self.compare.clear();
        self.exited = None;
    }
}
