//! The namespace Lab: a checklist of the eight namespaces and the options,
//! a child spawned step by step (`sys::spawn::Spawner`), and afterwards the
//! inside-vs-outside table (`sys::inside`). `state.rs` holds it, `view.rs`
//! draws it; here are its keys and how they change it.
//!
//! Keys (before the spawn): ↑/↓ move, Space toggles a namespace or edits an
//! option, Enter starts the spawn (its first step), `r` spawns in one go,
//! `i` shows the longer explanation. After: Space/Enter next step, `r` the
//! rest, `e` enters the child (a shell in all its namespaces), `u` refreshes
//! the table, `x` stops the child and removes everything.

pub mod state;
pub mod view;
pub mod worker;

use crate::app::keys::{self, Binding, HelpSection, PromptAction, bind, lookup};
use crate::app::{Screen, Setup, Shared};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
pub use state::{LabState, ROWS, Row};
pub use worker::ChildView;
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

/// Keys while an option is being edited (any other character is typed).
pub const EDIT_KEYS: &[Binding<PromptAction>] = &[
    bind(PromptAction::Accept, &[KeyCode::Enter], "set the option"),
    bind(PromptAction::Cancel, &[KeyCode::Esc], "cancel editing"),
    bind(
        PromptAction::DeleteChar,
        &[KeyCode::Backspace],
        "delete a character",
    ),
];

/// What the event loop must do for the Lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabCommand {
    None,
    /// Suspend the TUI and run a shell inside PID's namespaces.
    EnterChild(i32),
}

impl LabState {
    /// A key while an option is being edited.
    fn edit_key(&mut self, key: KeyEvent) {
        let Some(text) = &mut self.editing else {
            return;
        };
        match lookup(EDIT_KEYS, key.code) {
            Some(PromptAction::Cancel) => self.editing = None,
            Some(PromptAction::Accept) => {
                let value = std::mem::take(text);
                self.editing = None;
                self.set_option(value);
            }
            Some(PromptAction::DeleteChar) => {
                text.pop();
            }
            None => keys::type_into(text, key),
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

    /// The Lab's child is marked in the process tree (c compares it).
    fn mark_child(&self, shared: &mut Shared) {
        if let Some(child) = self.state.child_pid()
            && self.state.exited.is_none()
        {
            shared.processes.mark = Some(child);
        }
    }
}

impl Screen for LabScreen {
    fn title(&self) -> &'static str {
        "Lab"
    }

    fn help(&self) -> Vec<HelpSection> {
        vec![
            keys::help_section("Lab", KEYS),
            keys::prompt_help_section("While editing an option", EDIT_KEYS),
        ]
    }

    fn on_key(&mut self, key: KeyEvent, shared: &mut Shared) -> bool {
        self.state.jobs.waker = shared.waker();
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
        self.mark_child(shared);
        true
    }

    /// The worker's answers (a forked child, a step done, the table).
    fn poll(&mut self, shared: &mut Shared) -> bool {
        let changed = self.state.pump();
        if changed {
            self.mark_child(shared);
        }
        changed
    }

    fn render(&self, f: &mut Frame, body: Rect, _shared: &Shared) {
        view::render(f, body, &self.state);
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

    fn on_enter(&mut self, shared: &mut Shared) {
        self.state.jobs.waker = shared.waker();
        if self.state.child_pid().is_some() {
            self.state.refresh_compare();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sys::ns::NsKind;
    use crate::sys::spawn::ChildCommand;
    use crossterm::event::KeyModifiers;
    use std::time::Duration;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn key_table_binds_each_key_once() {
        keys::assert_no_clashes(KEYS);
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
        let settle = |lab: &mut LabState| assert!(lab.wait_idle(Duration::from_secs(30)));
        lab.on_key(key(KeyCode::Enter));
        settle(&mut lab);
        assert!(lab.spawned(), "{:?}", lab.message);
        while !lab.child.as_ref().unwrap().running {
            let before = lab.reports.len();
            lab.on_key(key(KeyCode::Char(' ')));
            settle(&mut lab);
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
        settle(&mut lab);
        assert!(!lab.spawned());
        assert!(!id.is_alive());
    }
}
