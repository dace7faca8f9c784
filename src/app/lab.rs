//! The namespace Lab: a checklist of the eight namespaces and the options,
//! a child spawned step by step (`sys::spawn::Spawner`), and afterwards the
//! inside-vs-outside table (`sys::inside`). `src/ui/lab.rs` draws it.
//!
//! Keys (before the spawn): ↑/↓ move, Space toggles a namespace or edits an
//! option, Enter starts the spawn (its first step), `r` spawns in one go,
//! `i` shows the longer explanation. After: Space/Enter next step, `r` the
//! rest, `e` enters the child (a shell in all its namespaces), `u` refreshes
//! the table, `x` stops the child and removes everything.

use crate::app::keys::{self, Binding, HelpSection, bind, lookup};
use crate::app::{Screen, Setup, Shared};
use crate::sys::cgroup::{Limit, parse_size};
use crate::sys::inside::{self, CompareRow};
use crate::sys::ns::NsKind;
use crate::sys::spawn::{self, ChildCommand, ExitOutcome, Plan, RootFs, Spawner, Step, StepReport};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabAction {
    Up,
    Down,
    Toggle,
    Start,
    RunRest,
    EnterChild,
    Refresh,
    Stop,
    Explain,
}

use KeyCode::Char as C;

/// The Lab's keys: dispatch and help both read this table.
pub const KEYS: &[Binding<LabAction>] = &[
    bind(
        LabAction::Up,
        &[KeyCode::Up, C('k')],
        "move up the checklist",
    ),
    bind(
        LabAction::Down,
        &[KeyCode::Down, C('j')],
        "move down the checklist",
    ),
    bind(
        LabAction::Toggle,
        &[C(' ')],
        "tick a namespace / edit an option; once spawning: next step",
    ),
    bind(
        LabAction::Start,
        &[KeyCode::Enter],
        "spawn step by step; once spawning: next step",
    ),
    bind(
        LabAction::RunRest,
        &[C('r')],
        "run the rest of the steps (or all)",
    ),
    bind(
        LabAction::EnterChild,
        &[C('e')],
        "enter the child: a shell in all its namespaces",
    ),
    bind(
        LabAction::Refresh,
        &[C('u')],
        "refresh the inside-vs-outside table",
    ),
    bind(
        LabAction::Stop,
        &[C('x')],
        "stop the child, remove everything made for it",
    ),
    bind(
        LabAction::Explain,
        &[C('i')],
        "the longer explanation of a namespace",
    ),
];

/// What the event loop must do for the Lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabCommand {
    None,
    /// Suspend the TUI and run a shell inside PID's namespaces.
    EnterChild(i32),
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

    fn say(&mut self, error: bool, text: impl Into<String>) {
        self.message = Some((error, text.into()));
    }

    /// A key while an option is being edited.
    fn edit_key(&mut self, key: KeyEvent) {
        let Some(text) = &mut self.editing else {
            return;
        };
        match key.code {
            KeyCode::Esc => self.editing = None,
            KeyCode::Enter => {
                let value = std::mem::take(text);
                self.editing = None;
                self.set_option(value);
            }
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) => text.push(c),
            _ => {}
        }
    }

    /// Handle a key; `None` when it is not the Lab's.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<LabCommand> {
        if self.editing.is_some() {
            self.edit_key(key);
            return Some(LabCommand::None);
        }
        let action = lookup(KEYS, key.code)?;
        self.message = None;
        Some(self.act(action))
    }

    pub fn act(&mut self, action: LabAction) -> LabCommand {
        match action {
            LabAction::Up => self.cursor = self.cursor.saturating_sub(1),
            LabAction::Down => self.cursor = (self.cursor + 1).min(ROWS.len() - 1),
            LabAction::Explain => self.show_long = !self.show_long,
            LabAction::Toggle | LabAction::Start if self.spawned() => self.next_step(),
            LabAction::Toggle => self.toggle_or_edit(),
            LabAction::Start => self.start(),
            LabAction::RunRest => {
                if !self.spawned() {
                    self.start();
                }
                self.run_rest();
            }
            LabAction::EnterChild => return self.enter(),
            LabAction::Refresh => self.refresh_compare(),
            LabAction::Stop => self.stop(),
        }
        LabCommand::None
    }

    fn toggle_or_edit(&mut self) {
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

    fn set_option(&mut self, value: String) {
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

    fn enter(&mut self) -> LabCommand {
        match self.child_pid() {
            Some(pid) if self.exited.is_none() => LabCommand::EnterChild(pid),
            _ => {
                self.say(
                    true,
                    "no child yet: spawn one first (Enter, then Space or r)",
                );
                LabCommand::None
            }
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

/// The Lab as a tab of the TUI.
pub struct LabScreen {
    pub state: LabState,
}

impl LabScreen {
    pub fn new(_setup: &Setup) -> LabScreen {
        LabScreen {
            state: LabState::default(),
        }
    }
}

impl Screen for LabScreen {
    fn title(&self) -> &'static str {
        "Lab"
    }

    fn help(&self) -> Vec<HelpSection> {
        vec![keys::help_section("Lab", KEYS)]
    }

    fn on_key(&mut self, key: KeyEvent, shared: &mut Shared) -> bool {
        let Some(command) = self.state.on_key(key) else {
            return false;
        };
        if let LabCommand::EnterChild(pid) = command {
            let mut cmd = std::process::Command::new("/proc/self/exe");
            cmd.args(["exec", &pid.to_string(), "--", "sh"]);
            shared.run_in_foreground(
                format!("a shell inside PID {pid}'s namespaces and root"),
                cmd,
            );
        }
        // The Lab's child is marked in the process tree (c compares it).
        if let Some(child) = self.state.child_pid()
            && self.state.exited.is_none()
        {
            shared.processes.mark = Some(child);
        }
        true
    }

    fn render(&self, f: &mut Frame, body: Rect, shared: &Shared) {
        crate::ui::lab::render(f, body, &self.state, shared);
    }

    fn hints(&self) -> &'static [(&'static str, &'static str)] {
        if self.state.spawned() {
            &[
                ("Space", "Next step "),
                ("r", "Run the rest "),
                ("e", "Enter child "),
                ("x", "Stop & remove "),
                ("F10", "Quit"),
            ]
        } else {
            &[
                ("Space", "Tick/Edit "),
                ("Enter", "Spawn step by step "),
                ("r", "Spawn at once "),
                ("i", "Explain "),
                ("F10", "Quit"),
            ]
        }
    }

    fn wants_text(&self, _shared: &Shared) -> bool {
        self.state.editing.is_some()
    }

    fn prompt(&self, _shared: &Shared) -> Option<(&'static str, String)> {
        let text = self.state.editing.clone()?;
        let label = match self.state.row() {
            Row::Hostname => "hostname: ",
            Row::RootFs => "root fs (host, minimal or a dir): ",
            Row::Memory => "memory limit (e.g. 64M, empty: none): ",
            Row::Command => "command (empty: isolab init): ",
            Row::Ns(_) => "",
        };
        Some((label, text))
    }

    fn on_enter(&mut self, _shared: &mut Shared) {
        if self.state.child_pid().is_some() {
            self.state.refresh_compare();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn checklist_builds_the_plan() {
        let mut lab = LabState::default();
        lab.on_key(key(KeyCode::Char(' '))); // pid
        lab.on_key(key(KeyCode::Down));
        lab.on_key(key(KeyCode::Char(' '))); // mnt
        for _ in 0..3 {
            lab.on_key(key(KeyCode::Down));
        }
        lab.on_key(key(KeyCode::Char(' '))); // uts
        let plan = lab.plan().unwrap();
        assert_eq!(plan.namespaces, vec![NsKind::Pid, NsKind::Mnt, NsKind::Uts]);
        assert_eq!(plan.hostname.as_deref(), Some("lab"));
        assert_eq!(plan.command, ChildCommand::Init);
    }

    #[test]
    fn options_are_edited_and_checked() {
        let mut lab = LabState {
            cursor: 10, // memory
            ..LabState::default()
        };
        lab.on_key(key(KeyCode::Char(' ')));
        for c in "12Q".chars() {
            lab.on_key(key(KeyCode::Char(c)));
        }
        lab.on_key(key(KeyCode::Enter));
        assert!(lab.message.as_ref().unwrap().0, "{:?}", lab.message);
        assert!(lab.plan().is_err());
    }

    #[test]
    fn step_by_step_then_stop_removes_the_child() {
        if !crate::test_needs_root("it spawns a Lab child") {
            return;
        }
        let mut lab = LabState {
            namespaces: vec![NsKind::Pid, NsKind::Mnt, NsKind::Uts],
            ..LabState::default()
        };
        lab.on_key(key(KeyCode::Enter));
        assert!(lab.spawned(), "{:?}", lab.message);
        while !lab.spawner.as_ref().unwrap().is_running_command() {
            let before = lab.reports.len();
            lab.on_key(key(KeyCode::Char(' ')));
            assert_eq!(lab.reports.len(), before + 1, "{:?}", lab.message);
            assert!(
                lab.reports.last().unwrap().outcome.is_ok(),
                "{:?}",
                lab.reports
            );
        }
        let pid = lab.child_pid().unwrap();
        let row = |what: &str| lab.compare.iter().find(|r| r.what == what).unwrap().clone();
        assert_eq!(row("hostname").inside, "lab");
        assert!(
            row("ps").inside.starts_with("1 processes: 1 "),
            "{:?}",
            row("ps")
        );
        assert!(row("interfaces").same());
        let id = crate::sys::process::ProcessId::of(pid).unwrap();
        lab.on_key(key(KeyCode::Char('x')));
        assert!(!lab.spawned());
        assert!(!id.is_alive());
    }
}
