//! The Root screen: a file browser over one process's root filesystem.
//! `state.rs` holds it, `worker.rs` reads directories off the UI thread,
//! `view.rs` draws it; here are its key tables and how keys and the mouse
//! change it.
//!
//! `RootScreen` is the tab: it opens the process selected on the Processes
//! screen when entered and hands its messages to the status line.

pub mod state;
pub mod view;
pub mod worker;

use crate::app::keys::{self, Binding, HelpSection, PromptAction, bind};
use crate::app::{Screen, Shared};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::Rect;
pub use state::*;
pub use worker::Listed;

/// What a key does while browsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootAction {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Open,
    Back,
    Search,
    NextMatch,
    PrevMatch,
    NewFile,
    NewDir,
    Mounts,
    MountsDown,
    MountsUp,
    HostPath,
    Refresh,
    Dismiss,
}

use KeyCode::{Char as C, *};

pub const KEYS: &[Binding<RootAction>] = &[
    bind(RootAction::Up, &[Up, C('k')], "move up"),
    bind(RootAction::Down, &[Down, C('j')], "move down"),
    bind(RootAction::PageUp, &[PageUp], "page up"),
    bind(RootAction::PageDown, &[PageDown], "page down"),
    bind(RootAction::Home, &[Home, C('g')], "first entry"),
    bind(RootAction::End, &[End, C('G')], "last entry"),
    bind(
        RootAction::Open,
        &[Enter, Right, C('l')],
        "open directory / preview file (text, or hex if binary)",
    ),
    bind(
        RootAction::Back,
        &[Backspace, Left, C('h')],
        "up one directory (never above the process's /)",
    ),
    bind(RootAction::Search, &[C('/'), F(3)], "search names here"),
    bind(RootAction::NextMatch, &[C('>')], "next match"),
    bind(RootAction::PrevMatch, &[C('<')], "previous match"),
    bind(
        RootAction::NewFile,
        &[C('n')],
        "new empty file here, made from the host",
    ),
    bind(
        RootAction::NewDir,
        &[C('N'), C('d')],
        "new directory here, made from the host",
    ),
    bind(
        RootAction::Mounts,
        &[C('M')],
        "mount table beside the host's (= ~ + - marks)",
    ),
    bind(
        RootAction::MountsDown,
        &[C('J')],
        "scroll the mount table down",
    ),
    bind(RootAction::MountsUp, &[C('K')], "scroll the mount table up"),
    bind(
        RootAction::HostPath,
        &[C('H')],
        "show the host path (/proc/PID/root/...)",
    ),
    bind(
        RootAction::Refresh,
        &[C('r'), F(5)],
        "re-read now (also when the directory's mtime changes)",
    ),
    bind(
        RootAction::Dismiss,
        &[Esc],
        "hide the mount table and the message",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreviewAction {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Close,
}

pub const PREVIEW_KEYS: &[Binding<PreviewAction>] = &[
    bind(PreviewAction::Up, &[Up, C('k')], "scroll up"),
    bind(PreviewAction::Down, &[Down, C('j')], "scroll down"),
    bind(PreviewAction::PageUp, &[PageUp], "page up"),
    bind(PreviewAction::PageDown, &[PageDown, C(' ')], "page down"),
    bind(PreviewAction::Top, &[Home, C('g')], "top"),
    bind(PreviewAction::Bottom, &[End, C('G')], "bottom"),
    bind(
        PreviewAction::Close,
        &[Esc, Backspace, Left, C('h'), Enter],
        "close the preview",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogAction {
    Create,
    Cancel,
    DeleteChar,
}

pub const DIALOG_KEYS: &[Binding<DialogAction>] = &[
    bind(DialogAction::Create, &[Enter], "create it"),
    bind(DialogAction::Cancel, &[Esc], "cancel"),
    bind(DialogAction::DeleteChar, &[Backspace], "delete a character"),
];

impl RootState {
    /// Handle a key; false if the screen has no use for it (the app may then
    /// treat it as a global key, like switching screens or quitting).
    pub fn on_key(&mut self, key: KeyEvent) -> bool {
        if key.kind == KeyEventKind::Release {
            return false;
        }
        if let Some(d) = &mut self.dialog {
            match keys::lookup(DIALOG_KEYS, key.code) {
                Some(DialogAction::Cancel) => self.dialog = None,
                Some(DialogAction::Create) => self.create(),
                Some(DialogAction::DeleteChar) => {
                    d.name.pop();
                    d.error = None;
                }
                None => {
                    keys::type_into(&mut d.name, key);
                    d.error = None;
                }
            }
            return true;
        }
        if let RootPrompt::Search(q) = &mut self.prompt {
            match keys::lookup(keys::PROMPT_KEYS, key.code) {
                Some(PromptAction::Cancel) => self.prompt = RootPrompt::None,
                Some(PromptAction::Accept) => {
                    let q = std::mem::take(q);
                    self.prompt = RootPrompt::None;
                    if !q.is_empty() {
                        self.last_search = Some(q.clone());
                        if !self.find(true) {
                            self.error(format!("no name in {} matches \"{q}\"", self.cwd));
                        }
                    }
                }
                Some(PromptAction::DeleteChar) => {
                    q.pop();
                }
                None => keys::type_into(q, key),
            }
            return true;
        }
        if let Some(p) = &mut self.preview {
            let page = self.page.get().max(1);
            let max = p.lines.len().saturating_sub(1);
            match keys::lookup(PREVIEW_KEYS, key.code) {
                Some(PreviewAction::Up) => p.scroll = p.scroll.saturating_sub(1),
                Some(PreviewAction::Down) => p.scroll = (p.scroll + 1).min(max),
                Some(PreviewAction::PageUp) => p.scroll = p.scroll.saturating_sub(page),
                Some(PreviewAction::PageDown) => p.scroll = (p.scroll + page).min(max),
                Some(PreviewAction::Top) => p.scroll = 0,
                Some(PreviewAction::Bottom) => p.scroll = max,
                Some(PreviewAction::Close) => self.preview = None,
                None => return false,
            }
            return true;
        }
        if self.exited {
            // Nothing to browse any more; only the app's global keys apply.
            return false;
        }
        let Some(action) = keys::lookup(KEYS, key.code) else {
            return false;
        };
        self.act(action);
        true
    }

    fn act(&mut self, action: RootAction) {
        let page = self.page.get() as isize;
        match action {
            RootAction::Up => self.move_by(-1),
            RootAction::Down => self.move_by(1),
            RootAction::PageUp => self.move_by(-page),
            RootAction::PageDown => self.move_by(page),
            RootAction::Home => self.move_by(isize::MIN / 2),
            RootAction::End => self.move_by(isize::MAX / 2),
            RootAction::Open => self.enter(),
            RootAction::Back => self.go_up(),
            RootAction::Search => self.prompt = RootPrompt::Search(String::new()),
            RootAction::NextMatch | RootAction::PrevMatch => {
                if self.last_search.is_none() {
                    self.info("no search yet: press / to search");
                } else if !self.find(action == RootAction::NextMatch) {
                    self.error("no name matches the search here");
                }
            }
            RootAction::NewFile | RootAction::NewDir => {
                self.dialog = Some(NewDialog {
                    is_dir: action == RootAction::NewDir,
                    name: String::new(),
                    error: None,
                })
            }
            RootAction::Mounts => {
                self.show_mounts = !self.show_mounts;
                self.mounts_scroll = 0;
                if self.show_mounts {
                    self.load_mounts();
                }
            }
            RootAction::MountsDown => {
                self.mounts_scroll =
                    (self.mounts_scroll + 1).min(self.mounts.len().saturating_sub(1))
            }
            RootAction::MountsUp => self.mounts_scroll = self.mounts_scroll.saturating_sub(1),
            RootAction::HostPath => self.show_host_path = !self.show_host_path,
            // "re-read DIR" is said when the listing comes.
            RootAction::Refresh => self.refresh(),
            RootAction::Dismiss => {
                self.message = None;
                self.show_mounts = false;
            }
        }
    }

    /// Scroll the listing (mouse wheel) or select a row (click), where the
    /// view last drew the list.
    pub fn on_mouse(&mut self, m: MouseEvent) {
        let list = self.list_area.get();
        match m.kind {
            MouseEventKind::ScrollDown if self.preview.is_none() => self.move_by(3),
            MouseEventKind::ScrollUp if self.preview.is_none() => self.move_by(-3),
            MouseEventKind::Down(MouseButton::Left)
                if list.contains(ratatui::layout::Position::new(m.column, m.row)) =>
            {
                let row = self.scroll.get() + (m.row - list.y) as usize;
                if row < self.len() {
                    self.selected = row;
                    self.clamp();
                }
            }
            _ => {}
        }
    }
}

/// The Root tab.
pub struct RootScreen {
    pub state: RootState,
}

impl RootScreen {
    /// No IO here: the process is opened when the tab is entered.
    pub fn new(setup: &crate::app::Setup) -> RootScreen {
        RootScreen {
            state: RootState::new(&setup.proc_root),
        }
    }

    /// Hand the screen's message to the status line.
    fn pass_message(&mut self, shared: &mut Shared) {
        match self.state.message.take() {
            Some((Tone::Info, m)) => shared.info(m),
            Some((Tone::Error, m)) => shared.error(m),
            None => {}
        }
    }
}

impl Screen for RootScreen {
    fn title(&self) -> &'static str {
        "Root"
    }

    fn help(&self) -> Vec<HelpSection> {
        vec![
            keys::help_section("Root filesystem", KEYS),
            keys::help_section("In a preview", PREVIEW_KEYS),
            keys::prompt_help_section("In the new-name dialog", DIALOG_KEYS),
            keys::prompt_help_section("While typing a search", keys::PROMPT_KEYS),
            HelpSection {
                title: "Marks",
                lines: vec![
                    ("NEW".into(), "appeared since this directory was first read"),
                    (
                        "0:0 (inside 0:0)".into(),
                        "owner on disk, and as the process's user namespace sees it",
                    ),
                    (
                        "-> target".into(),
                        "a symlink, resolved inside the process's root (openat2)",
                    ),
                ],
            },
        ]
    }

    fn hints(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("Enter", "Open "),
            ("h", "Up "),
            ("/", "Search "),
            ("n", "New file "),
            ("N", "New dir "),
            ("M", "Mounts "),
            ("H", "Host path "),
            ("?", "Help"),
        ]
    }

    fn wants_text(&self, _shared: &Shared) -> bool {
        self.state.dialog.is_some() || matches!(self.state.prompt, RootPrompt::Search(_))
    }

    fn prompt(&self, _shared: &Shared) -> Option<(&'static str, String)> {
        match &self.state.prompt {
            RootPrompt::Search(q) => Some(("Search: ", q.clone())),
            RootPrompt::None => None,
        }
    }

    fn on_key(&mut self, key: KeyEvent, shared: &mut Shared) -> bool {
        let used = self.state.on_key(key);
        if used {
            shared.status = None;
        }
        self.pass_message(shared);
        used
    }

    fn on_mouse(&mut self, m: MouseEvent, _shared: &mut Shared) {
        self.state.on_mouse(m);
    }

    fn on_enter(&mut self, shared: &mut Shared) {
        self.state.waker = shared.waker();
        match shared.selected_pid() {
            Some(pid) if self.state.pid != Some(pid) => self.state.open(pid),
            // Back on the tab: re-read only if the directory changed.
            Some(_) => self.state.check(),
            None => shared.info("select a process on the Processes screen first"),
        }
        self.pass_message(shared);
    }

    fn on_snapshot(&mut self, shared: &mut Shared) {
        // One fstat per snapshot, on the worker: how a file made inside the
        // process shows up (marked NEW: the directory's mtime moved) and
        // how an exit is seen. The entries are read only when it changed.
        if self.state.is_open() {
            self.state.check();
            self.pass_message(shared);
        }
    }

    fn poll(&mut self, shared: &mut Shared) -> bool {
        let changed = self.state.pump();
        self.pass_message(shared);
        changed
    }

    fn render(&self, f: &mut Frame, body: Rect, _shared: &Shared) {
        view::render(f, body, &self.state);
    }
}

#[cfg(test)]
mod tests {
    use super::state::contains_ignoring_case;
    use super::worker::new_marks;
    use super::*;
    use crate::sys::rootfs::{DirList, Entry};
    use crossterm::event::KeyModifiers;
    use std::path::Path;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn type_str(s: &mut RootState, text: &str) {
        for c in text.chars() {
            s.on_key(key(KeyCode::Char(c)));
        }
    }

    fn loaded(s: &mut RootState) {
        assert!(
            s.wait_loaded(std::time::Duration::from_secs(60)),
            "the listing of {} never came",
            s.cwd
        );
    }

    fn selected_name(s: &RootState) -> Option<String> {
        s.selected_entry().map(|e| e.name)
    }

    #[test]
    fn browsing_our_own_root() {
        let mut s = RootState::new(Path::new("/proc"));
        s.open(std::process::id() as i32);
        assert!(s.is_open(), "{:?}", s.message);
        assert_eq!(s.cwd, "/");
        loaded(&mut s);
        let etc = s.list().and_then(|l| l.position("etc")).expect("etc");
        s.selected = etc;
        s.on_key(key(KeyCode::Enter));
        assert_eq!(s.cwd, "/etc");
        loaded(&mut s);
        s.on_key(key(KeyCode::Char('/')));
        type_str(&mut s, "hostname");
        s.on_key(key(KeyCode::Enter));
        assert_eq!(selected_name(&s).as_deref(), Some("hostname"));
        s.on_key(key(KeyCode::Enter));
        assert!(s.preview.is_some());
        s.on_key(key(KeyCode::Esc));
        assert!(s.preview.is_none());
        s.on_key(key(KeyCode::Backspace));
        assert_eq!(s.cwd, "/");
        loaded(&mut s);
        assert_eq!(selected_name(&s).as_deref(), Some("etc"));
        s.on_key(key(KeyCode::Backspace));
        assert_eq!(s.cwd, "/");
        s.on_key(key(KeyCode::Char('M')));
        assert!(s.show_mounts && !s.mounts.is_empty());
    }

    #[test]
    fn dialog_refuses_bad_names_without_touching_anything() {
        let mut s = RootState::new(Path::new("/proc"));
        s.open(std::process::id() as i32);
        s.on_key(key(KeyCode::Char('n')));
        s.on_key(key(KeyCode::Enter));
        let err = s.dialog.as_ref().and_then(|d| d.error.clone());
        assert!(err.is_some_and(|e| e.contains("empty")));
        type_str(&mut s, "a/b");
        s.on_key(key(KeyCode::Enter));
        let err = s.dialog.as_ref().and_then(|d| d.error.clone());
        assert!(err.is_some_and(|e| e.contains("'/'")));
        s.on_key(key(KeyCode::Esc));
        assert!(s.dialog.is_none());
    }

    fn dir(names: &[&str]) -> DirList {
        let entries: Vec<Entry> = names
            .iter()
            .map(|n| Entry::fixture(n, libc::S_IFREG | 0o644, 0, None))
            .collect();
        DirList::from_entries("/d", "/proc/1/root/d".into(), &entries, None)
    }

    #[test]
    fn new_marks_are_names_not_there_before_and_stay() {
        let first = dir(&["b", "d"]);
        assert_eq!(new_marks(&first, None), vec![false, false]);
        let first = Listed {
            new: new_marks(&first, None),
            list: first,
        };
        let second = dir(&["a", "b", "c", "d", "e"]);
        let marks = new_marks(&second, Some(&first));
        assert_eq!(marks, vec![true, false, true, false, true]);
        let second = Listed {
            new: marks,
            list: second,
        };
        // "a" stays marked; "b" went away; "f" is new.
        let third = dir(&["a", "c", "d", "f"]);
        assert_eq!(
            new_marks(&third, Some(&second)),
            vec![true, true, false, true]
        );
    }

    #[test]
    fn search_ignores_case_without_allocating_for_ascii() {
        assert!(contains_ignoring_case("Entry-0123", "entry-01"));
        assert!(contains_ignoring_case("abc", ""));
        assert!(!contains_ignoring_case("abc", "abcd"));
        assert!(contains_ignoring_case("ÉCOLE", "école"));
    }

    /// The Root tab inside the whole frame: tabs, body, the status line's
    /// hints from `RootScreen::hints`, and the search prompt.
    #[test]
    fn root_tab_in_the_app_frame_100x16() {
        use crate::app::model::HostRef;
        use crate::app::processes::ProcessesScreen;
        use crate::app::{App, Setup, Shared};
        use crate::sys::users::Users;
        let setup = Setup::new("/proc", std::time::Duration::from_secs(1));
        let mut screen = RootScreen::new(&setup);
        screen.state = super::view::tests::state();
        let shared = Shared::new(Users::default(), HostRef::default(), setup.interval);
        let mut app = App::with_screens(
            shared,
            vec![Box::new(ProcessesScreen::default()), Box::new(screen)],
        );
        app.active = 1;
        let frame = |app: &App| {
            let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 16))
                .expect("terminal");
            t.draw(|f| crate::app::frame::render(f, app)).expect("draw");
            let buf = t.backend().buffer().clone();
            (0..buf.area.height)
                .map(|y| {
                    let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
                    line.trim_end().to_string() + "\n"
                })
                .collect::<String>()
        };
        insta::assert_snapshot!("root_tab_in_frame", frame(&app));
        let key = |app: &mut App, c: char| {
            app.on_key(crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Char(c),
                crossterm::event::KeyModifiers::NONE,
            ))
        };
        key(&mut app, '/');
        key(&mut app, 'r');
        key(&mut app, 'u');
        // While searching, q is text, not quit.
        key(&mut app, 'q');
        assert!(!app.shared.quit);
        let shown = frame(&app);
        assert!(shown.contains("Search:  ruq█"), "{shown}");
        let help = app.help_sections();
        assert!(help.iter().any(|s| s.title == "Root filesystem"));
    }
}
