//! The Memory screen: the selected process's cgroups and memory numbers, a
//! graph of usage against the limit with OOM kills on it, the limit editor
//! and a memory hog. `state.rs` holds it (and its worker thread), `view.rs`
//! draws it; here are its key tables and how keys change it.

pub mod state;
pub mod view;

use crate::app::keys::{self, Binding, HelpSection, PromptAction, bind, lookup};
use crate::app::{Screen, Setup, Shared};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
pub use state::*;

/// What a key does on the Memory screen (no dialog open).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryAction {
    EditLimit,
    StartHog,
    StopHog,
}

use KeyCode::{Char as C, *};

/// The Memory screen's keys: dispatch and help both read this table.
pub const KEYS: &[Binding<MemoryAction>] = &[
    bind(
        MemoryAction::EditLimit,
        &[C('L'), C('l')],
        "edit the memory limit (64M, 1G, 1.5G, max, ...)",
    ),
    bind(
        MemoryAction::StartHog,
        &[C('H')],
        "start a memory hog in this cgroup (or a fresh 32M one)",
    ),
    bind(
        MemoryAction::StopHog,
        &[C('K')],
        "stop the hog and remove its cgroup",
    ),
];

/// Keys while the limit is being typed (any other character is typed).
pub const EDIT_KEYS: &[Binding<PromptAction>] = &[
    bind(PromptAction::Accept, &[Enter], "set the typed limit"),
    bind(PromptAction::Cancel, &[Esc], "cancel editing"),
    bind(PromptAction::DeleteChar, &[Backspace], "delete a character"),
];

/// Answers to "change a cgroup isolab did not create?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfirmAction {
    Yes,
    No,
}

pub const CONFIRM_KEYS: &[Binding<ConfirmAction>] = &[
    bind(
        ConfirmAction::Yes,
        &[C('y'), C('Y')],
        "confirm changing a cgroup isolab did not create",
    ),
    bind(
        ConfirmAction::No,
        &[C('n'), C('N'), Esc],
        "refuse: the limit stays as it is",
    ),
];

impl MemoryState {
    /// Handles a key on this screen; false when the key is not ours.
    pub fn on_key(&mut self, code: KeyCode) -> bool {
        match &mut self.dialog {
            Dialog::EditLimit { text, error } => {
                match lookup(EDIT_KEYS, code) {
                    Some(PromptAction::Cancel) => self.dialog = Dialog::None,
                    Some(PromptAction::DeleteChar) => {
                        text.pop();
                        *error = None;
                    }
                    Some(PromptAction::Accept) => {
                        let text = text.clone();
                        self.submit_limit(&text);
                    }
                    None => {
                        if let KeyCode::Char(c) = code {
                            text.push(c);
                            *error = None;
                        }
                    }
                }
                true
            }
            Dialog::Confirm { limit, .. } => {
                let limit = *limit;
                match lookup(CONFIRM_KEYS, code) {
                    Some(ConfirmAction::Yes) => {
                        self.dialog = Dialog::None;
                        self.apply_limit(limit);
                    }
                    Some(ConfirmAction::No) => {
                        self.dialog = Dialog::None;
                        self.message = Some((true, "limit unchanged".to_string()));
                    }
                    None => {}
                }
                true
            }
            Dialog::None => {
                let Some(action) = lookup(KEYS, code) else {
                    return false;
                };
                match action {
                    MemoryAction::EditLimit => {
                        if self.dir.is_none() {
                            self.message =
                                Some((false, "no memory cgroup to limit here".to_string()));
                        } else {
                            self.dialog = Dialog::EditLimit {
                                text: String::new(),
                                error: None,
                            };
                        }
                    }
                    MemoryAction::StartHog => self.start_hog(),
                    MemoryAction::StopHog => {
                        if self.hog.take().is_some() {
                            self.message = Some((true, "hog stopped, its cgroup removed".into()));
                        }
                    }
                }
                true
            }
        }
    }
}

/// The Memory tab: follows the process selected on the Processes screen and
/// has its worker sample that process's memory cgroup every `SAMPLE_EVERY`
/// once the tab has been entered (the graph goes on while other tabs show).
pub struct MemoryScreen {
    pub state: MemoryState,
}

impl MemoryScreen {
    pub fn new(setup: &Setup) -> MemoryScreen {
        MemoryScreen {
            state: MemoryState::new(setup.proc_root.clone()),
        }
    }

    fn follow_selection(&mut self, shared: &Shared) {
        if let Some(p) = shared.processes.selected_process() {
            self.state.show(p.pid, &p.facts.comm);
        }
    }
}

impl Screen for MemoryScreen {
    fn title(&self) -> &'static str {
        "Memory"
    }

    fn help(&self) -> Vec<HelpSection> {
        vec![
            keys::help_section("Memory", KEYS),
            keys::help_section("While typing a limit", EDIT_KEYS),
            keys::help_section("Changing a cgroup isolab did not create", CONFIRM_KEYS),
        ]
    }

    fn hints(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("L", "Limit "),
            ("H", "Hog "),
            ("K", "Kill hog "),
            ("?", "Help"),
        ]
    }

    fn wants_text(&self, _shared: &Shared) -> bool {
        !matches!(self.state.dialog, Dialog::None)
    }

    // The selection is taken when the tab is entered, not on every
    // snapshot: once a hog starts, the graph stays on the hog's cgroup.
    fn on_enter(&mut self, shared: &mut Shared) {
        self.state.waker = shared.waker();
        self.follow_selection(shared);
    }

    fn poll(&mut self, _shared: &mut Shared) -> bool {
        self.state.pump()
    }

    fn on_key(&mut self, key: KeyEvent, shared: &mut Shared) -> bool {
        let used = self.state.on_key(key.code);
        if used {
            shared.status = None;
        }
        used
    }

    fn render(&self, f: &mut Frame, body: Rect, _shared: &Shared) {
        view::render(f, body, &self.state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::cgroup::{CgroupVersion, Limit, MemoryStats};
    use std::path::PathBuf;

    #[test]
    fn key_table_binds_each_key_once() {
        keys::assert_no_clashes(KEYS);
    }

    pub(crate) fn stats(usage: u64, limit: Limit, oom_kills: u64) -> MemoryStats {
        MemoryStats {
            version: CgroupVersion::V1,
            dir: PathBuf::from("/sys/fs/cgroup/memory/isolab/1-2-lab"),
            usage,
            limit,
            peak: Some(usage),
            failcnt: Some(0),
            events: None,
            oom_kills: Some(oom_kills),
            swap_usage: None,
            swap_limit: None,
            high: None,
            low: None,
            min: None,
        }
    }

    #[test]
    fn history_stays_bounded() {
        let mut h = History::new(HISTORY_CAPACITY);
        for i in 0..(HISTORY_CAPACITY * 3) {
            h.push(i);
        }
        assert_eq!(h.len(), HISTORY_CAPACITY);
        assert_eq!(h.iter().next(), Some(&(HISTORY_CAPACITY * 2)));
        assert_eq!(h.latest(), Some(&(HISTORY_CAPACITY * 3 - 1)));
    }

    #[test]
    fn a_screen_sampling_for_hours_keeps_its_bounds() {
        let mut m = MemoryState::new("/proc");
        for i in 0..20_000u64 {
            // An OOM kill every 100 samples.
            m.record(i as f64 * 0.25, stats(i << 10, Limit::Max, i / 100));
        }
        assert_eq!(m.history.len(), HISTORY_CAPACITY);
        assert_eq!(m.events.len(), EVENTS_CAPACITY);
    }

    #[test]
    fn an_oom_kill_between_samples_is_an_event() {
        let mut m = MemoryState::new("/proc");
        m.record(0.0, stats(10 << 20, Limit::Bytes(32 << 20), 0));
        m.record(1.0, stats(31 << 20, Limit::Bytes(32 << 20), 0));
        assert!(m.events.is_empty());
        m.record(2.0, stats(1 << 20, Limit::Bytes(32 << 20), 1));
        let e = *m.events.latest().expect("event");
        assert_eq!((e.at, e.usage, e.total), (2.0, 31 << 20, 1));
    }

    #[test]
    fn bad_limits_stay_in_the_editor_with_the_reason() {
        let mut m = MemoryState::new("/proc");
        m.dir = Some(PathBuf::from("/nonexistent/isolab/x"));
        assert!(m.on_key(KeyCode::Char('L')));
        for c in "1.5.5M".chars() {
            m.on_key(KeyCode::Char(c));
        }
        m.on_key(KeyCode::Enter);
        match &m.dialog {
            Dialog::EditLimit { text, error } => {
                assert_eq!(text, "1.5.5M");
                assert!(error.as_deref().unwrap_or("").contains("decimal point"));
            }
            other => panic!("{other:?}"),
        }
        m.on_key(KeyCode::Esc);
        assert_eq!(m.dialog, Dialog::None);
    }

    #[test]
    fn a_cgroup_isolab_did_not_create_asks_first() {
        let mut m = MemoryState::new("/proc");
        m.dir = Some(PathBuf::from("/sys/fs/cgroup/memory/system.slice"));
        m.submit_limit("64M");
        assert_eq!(
            m.dialog,
            Dialog::Confirm {
                limit: Limit::Bytes(64 << 20),
                dir: PathBuf::from("/sys/fs/cgroup/memory/system.slice")
            }
        );
        // "n" leaves it alone: nothing is written.
        m.on_key(KeyCode::Char('n'));
        assert_eq!(m.dialog, Dialog::None);
        assert_eq!(m.message, Some((true, "limit unchanged".to_string())));
    }
}
